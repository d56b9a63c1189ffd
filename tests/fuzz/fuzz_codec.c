/* libFuzzer target: the store's binary event encoding and its segment
 * reader. The first byte picks what the rest is:
 *   % 3 == 0  JSON (the whole input): encoding must be lossless for any
 *             bytes, and the binary walker must accept what was encoded;
 *             then each line, again, changed in a byte and cut short,
 *             through one key table: what the encoder keeps of one event
 *             must not change what it writes for the next (checked
 *             against encodings that use nothing kept);
 *   % 3 == 1  a binary event: decoding and walking must fail cleanly or
 *             give JSON that encodes and decodes back to itself;
 *   % 3 == 2  damage to a real segment (byte patches, a cut, a lost
 *             index): store_query must report and skip, never crash, and
 *             never return more events than were written. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "store/codec.h"
#include "store/store.h"
#include "store/store_int.h"

#define NEV 300

static struct vgc_keys keys; /* for mode 1 */
static char dir[64];
static char seg_path[256], idx_path[256];
static uint8_t *seg_base, *idx_base;
static size_t seg_len, idx_len;

static void make_event(char *buf, size_t cap, int i)
{
	char ts[VGC_TS_LEN + 1];
	vgc_ts_format(1795000000000000000LL + (int64_t)i * 1000003LL, ts);
	ts[VGC_TS_LEN] = 0;
	snprintf(buf, cap,
		 "{\"@timestamp\":\"%s\",\"event\":{\"action\":\"%s\"},\"host\":{\"name\":\"h%d\"},"
		 "\"process\":{\"pid\":%d,\"start_ns\":%d,\"command_line\":\"cmd %d\",\"args\":[\"a\",\"\\\"b\\\"\"],"
		 "\"hash\":{\"sha256\":\"%064d\"}},\"destination\":{\"ip\":\"10.0.0.%d\"},"
		 "\"vigil\":{\"sid\":%d,\"f\":0.5,\"t\":true,\"n\":null}}",
		 ts, i % 2 ? "exec" : "connect", i % 3, 100 + i % 17, 9000 + i, i, i % 7, i % 5, 40 + i % 9);
}

static uint8_t *slurp(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st))
		abort();
	uint8_t *b = malloc((size_t)st.st_size + 1);
	if (!b || pread(fd, b, (size_t)st.st_size, 0) != st.st_size)
		abort();
	close(fd);
	*len = (size_t)st.st_size;
	return b;
}

static void cleanup(void)
{
	char p[320];
	const char *names[] = {seg_path, idx_path};
	for (int i = 0; i < 2; i++)
		unlink(names[i]);
	snprintf(p, sizeof(p), "%s/.lock", dir);
	unlink(p);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char ev[1024];
	struct strbuf sb;
	sb_init(&sb);
	vgc_keys_init(&keys);
	for (int i = 0; i < 20; i++) {
		make_event(ev, sizeof(ev), i);
		vgc_encode(&keys, ev, strlen(ev), 0, &sb, NULL);
	}
	sb_free(&sb);
	/* one real sealed segment, written by the store */
	snprintf(dir, sizeof(dir), "/tmp/fuzz-codec-XXXXXX");
	if (!mkdtemp(dir))
		abort();
	struct store *s;
	char err[256];
	struct store_opts o = {.dir = dir, .block_bytes = 4096};
	if (store_open(&s, &o, err, sizeof(err)))
		abort();
	for (int i = 0; i < NEV; i++) {
		make_event(ev, sizeof(ev), i);
		store_append(s, ev, strlen(ev), NULL, 1795000000000000000ULL + (uint64_t)i * 1000003ULL);
	}
	store_close(s);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	size_t n;
	struct seg_ent *v = seg_list(dfd, &n);
	if (n != 1)
		abort();
	snprintf(seg_path, sizeof(seg_path), "%s/%s", dir, v[0].name);
	snprintf(idx_path, sizeof(idx_path), "%s/%.*s.idx", dir, (int)strlen(v[0].name) - 4, v[0].name);
	free(v);
	close(dfd);
	seg_base = slurp(seg_path, &seg_len);
	idx_base = slurp(idx_path, &idx_len);
	atexit(cleanup);
	return 0;
}

static void put(const char *path, const uint8_t *b, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, b, len) != (ssize_t)len)
		abort();
	close(fd);
}

static int count(void *ctx, const char *json, size_t len, uint64_t ts)
{
	(*(long *)ctx)++;
	if (!len)
		abort();
	return 0;
}

/* Encodes json with k (and what it kept) and checks the result against
 * encodings that cannot use it: inside an array (no member of the event is
 * at depth 1 then) and with a copy of the key table. */
static void enc_same(struct vgc_keys *k, const char *json, size_t len, uint64_t ts)
{
	struct strbuf a, b, c;
	sb_init(&a);
	sb_init(&b);
	sb_init(&c);
	char *j = malloc(len + 2), *w = malloc(len + 2);
	memcpy(j, json, len); /* its own copy: the index fields point into it */
	w[0] = '[';
	memcpy(w + 1, json, len);
	w[len + 1] = ']';
	struct vgc_ext x, y;
	int r = vgc_encode(k, j, len, ts, &a, &x);
	if (r < 0 || vgc_decode(k, (uint8_t *)a.buf, a.len, ts, &c) || c.len != len || memcmp(c.buf, json, len))
		abort();
	struct vgc_keys ref;
	vgc_keys_init(&ref);
	if (vgc_keys_copy(&ref, k))
		abort();
	if (vgc_encode(&ref, w, len + 2, ts, &b, NULL) == 0 && r == 0 &&
	    (b.len != a.len + 2 || memcmp(b.buf + 1, a.buf, a.len)))
		abort();
	if (vgc_keys_copy(&ref, k))
		abort();
	sb_reset(&b);
	if (vgc_encode(&ref, j, len, ts, &b, &y) != r || memcmp(&x, &y, sizeof(x)))
		abort();
	vgc_keys_free(&ref);
	free(j);
	free(w);
	sb_free(&a);
	sb_free(&b);
	sb_free(&c);
}

static void lines(const uint8_t *data, size_t size)
{
	struct vgc_keys k;
	vgc_keys_init(&k);
	uint64_t ts = 1795000000000000000ULL;
	for (size_t at = 0; at < size;) {
		const uint8_t *nl = memchr(data + at, '\n', size - at);
		size_t len = nl ? (size_t)(nl - data) - at : size - at;
		const char *l = (const char *)data + at;
		at += len + 1;
		if (!len)
			continue;
		enc_same(&k, l, len, ts);
		enc_same(&k, l, len, ts + 1000003);
		char *v = malloc(len);
		memcpy(v, l, len);
		size_t pos = (size_t)vg_crc32c(0, l, len) % len;
		v[pos] = v[pos] == '1' ? '2' : '1';
		enc_same(&k, v, len, ts);
		enc_same(&k, l, len, ts);
		enc_same(&k, l, len * 3 / 4, ts);
		free(v);
		ts += 999999937;
	}
	vgc_keys_free(&k);
}

static void damage(const uint8_t *d, size_t n)
{
	if (n < 2)
		return;
	uint8_t flags = d[0];
	uint8_t *seg = malloc(seg_len);
	memcpy(seg, seg_base, seg_len);
	size_t len = seg_len;
	for (size_t i = 2; i + 3 <= n; i += 3) {
		size_t at = ((size_t)d[i] << 8 | d[i + 1]) * (seg_len / 65536 + 1) % seg_len;
		seg[at] = d[i + 2];
	}
	if (flags & 1)
		len = len * d[1] / 255;
	put(seg_path, seg, len);
	if (flags & 2)
		unlink(idx_path);
	else
		put(idx_path, idx_base, idx_len);
	struct strbuf warn;
	sb_init(&warn);
	struct store_query q;
	memset(&q, 0, sizeof(q));
	q.sid = -1;
	q.pid = -1;
	if (flags & 4)
		q.sid = 40 + d[1] % 9, q.host = flags & 8 ? "h1" : NULL;
	if (flags & 16)
		q.pid = 100 + d[1] % 17;
	if (flags & 32)
		q.text = "cmd 1";
	if (flags & 64)
		q.remote_ip = "10.0.0.3";
	long got = 0;
	long r = store_query(dir, &q, count, &got, &warn);
	if (r != got || got > NEV)
		abort();
	sb_free(&warn);
	free(seg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!size)
		return 0;
	struct strbuf a, b, c;
	sb_init(&a);
	sb_init(&b);
	sb_init(&c);
	switch (data[0] % 3) {
	case 0: {
		struct vgc_keys k;
		vgc_keys_init(&k);
		uint64_t ts = 1795000000000000000ULL;
		int r = vgc_encode(&k, (const char *)data, size, ts, &a, NULL);
		if (r < 0)
			abort();
		if (vgc_decode(&k, (uint8_t *)a.buf, a.len, ts, &b) || b.len != size || memcmp(b.buf, data, size))
			abort();
		struct vgc_ext x;
		if (vgc_ext_binary(&k, (uint8_t *)a.buf, a.len, &x))
			abort();
		vgc_keys_free(&k);
		lines(data, size);
		break;
	}
	case 1: {
		struct vgc_ext x;
		vgc_ext_binary(&keys, data + 1, size - 1, &x);
		if (vgc_decode(&keys, data + 1, size - 1, 12345, &a) == 0) {
			/* what decodes is JSON-ish text that round-trips */
			struct vgc_keys k;
			vgc_keys_init(&k);
			if (vgc_encode(&k, a.buf, a.len, 12345, &b, NULL) < 0 ||
			    vgc_decode(&k, (uint8_t *)b.buf, b.len, 12345, &c) || c.len != a.len ||
			    memcmp(c.buf, a.buf, a.len))
				abort();
			vgc_keys_free(&k);
		}
		break;
	}
	default:
		damage(data + 1, size - 1);
		break;
	}
	sb_free(&a);
	sb_free(&b);
	sb_free(&c);
	return 0;
}
