/* The event store: the binary encoding (round trips on real vigild events
 * and on awkward JSON, any bytes decoded safely, repeated members copied
 * from the encoder's cache to the same bytes), blocks and segments,
 * index look-ups against a brute-force answer, the WAL after a crash,
 * torn, truncated and bit-flipped files, and retention. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>
#include "event/flat.h"
#include "store/codec.h"
#include "store/store.h"
#include "store/store_int.h"
#include "store/writer.h"

/* ---- helpers ---------------------------------------------------------- */

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = 0;
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* tests/unit/data/store_events.jsonl: real events from `vigild --events-out` */
static char **fixture(int *n)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s", __FILE__);
	snprintf(path + strlen(dirname(path)), sizeof(path) - strlen(path), "/data/store_events.jsonl");
	size_t len;
	char *buf = read_file(path, &len);
	if (!buf)
		buf = read_file("tests/unit/data/store_events.jsonl", &len);
	assert_non_null(buf);
	char **v = calloc(4096, sizeof(*v));
	*n = 0;
	for (char *l = strtok(buf, "\n"); l && *n < 4096; l = strtok(NULL, "\n"))
		v[(*n)++] = l;
	assert_true(*n > 100);
	return v;
}

static uint64_t ts_of(const char *json)
{
	const char *p = strstr(json, "\"@timestamp\":\"");
	int64_t ns = 0;
	assert_non_null(p);
	assert_true(vgc_ts_parse(p + 14, VGC_TS_LEN, &ns));
	return (uint64_t)ns;
}

static char *tmpdir(void)
{
	char tmpl[] = "/tmp/vigil-store-test-XXXXXX";
	char *d = mkdtemp(tmpl);
	assert_non_null(d);
	return strdup(d);
}

static void rmtree(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' && (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2])))
			continue;
		char p[4096];
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

/* Synthetic events with known attributes. */
struct gev {
	char json[1024];
	uint64_t ts;
	int64_t sid, pid;
	char host[8], ip[32], sha[65], cmd[64];
	int action;
};

static const char *const actions[] = {"exec", "connect", "file_create", "exit"};

static void gen(struct gev *g, int i, uint64_t base)
{
	g->sid = 1000 + i % 37;
	g->pid = 20000 + i % 101;
	snprintf(g->host, sizeof(g->host), "%s", i % 3 ? "hostA" : "hostB");
	snprintf(g->ip, sizeof(g->ip), "10.0.%d.%d", i % 5, i % 7);
	for (int k = 0; k < 64; k++)
		g->sha[k] = "0123456789abcdef"[(k * 7 + i % 11) % 16];
	g->sha[64] = 0;
	snprintf(g->cmd, sizeof(g->cmd), "/usr/bin/tool%d --run %d", i % 13, i);
	g->action = i % 4;
	/* mostly in order, some late arrivals */
	g->ts = base + (uint64_t)i * 1000003ULL - (i % 10 == 9 ? 5000000ULL : 0);
	char tsb[VGC_TS_LEN + 1];
	vgc_ts_format((int64_t)g->ts, tsb);
	tsb[VGC_TS_LEN] = 0;
	snprintf(g->json, sizeof(g->json),
		 "{\"@timestamp\":\"%s\",\"event\":{\"kind\":\"event\",\"action\":\"%s\",\"category\":[\"process\"]},"
		 "\"host\":{\"name\":\"%s\"},\"process\":{\"pid\":%lld,\"start_ns\":%lld,\"executable\":\"/usr/bin/tool%d\","
		 "\"args\":[\"a\",\"b c\"],\"command_line\":\"%s\",\"hash\":{\"sha256\":\"%s\"}},"
		 "\"destination\":{\"ip\":\"%s\",\"port\":443},\"source\":{\"ip\":\"192.168.9.9\",\"port\":%d},"
		 "\"file\":{\"path\":\"/tmp/f%d\"},\"vigil\":{\"sid\":%lld,\"load\":0.25,\"n\":-%d,\"ok\":true,\"x\":null}}",
		 tsb, actions[g->action], g->host, (long long)g->pid, (long long)(5000 + g->pid), i % 13, g->cmd,
		 g->sha, g->ip, 30000 + i % 1000, i, (long long)g->sid, i);
}

struct rows {
	char **v;
	uint64_t *ts;
	size_t n, cap;
};

static int collect(void *ctx, const char *json, size_t len, uint64_t ts)
{
	struct rows *r = ctx;
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 256;
		r->v = realloc(r->v, r->cap * sizeof(*r->v));
		r->ts = realloc(r->ts, r->cap * sizeof(*r->ts));
	}
	r->v[r->n] = strndup(json, len);
	r->ts[r->n++] = ts;
	return 0;
}

static void rows_free(struct rows *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->v[i]);
	free(r->v);
	free(r->ts);
	memset(r, 0, sizeof(*r));
}

static long query(const char *dir, const struct store_query *q, struct rows *r, struct strbuf *warn)
{
	memset(r, 0, sizeof(*r));
	long n = store_query(dir, q, collect, r, warn);
	assert_int_equal(n, (long)r->n);
	for (size_t i = 1; i < r->n; i++)
		assert_true(r->ts[i - 1] <= r->ts[i]);
	return n;
}

static struct store_query q_all(void)
{
	struct store_query q;
	memset(&q, 0, sizeof(q));
	q.sid = -1;
	q.pid = -1;
	return q;
}

static int ts_cmp(const void *a, const void *b)
{
	const struct gev *x = *(struct gev *const *)a, *y = *(struct gev *const *)b;
	return x->ts < y->ts ? -1 : x->ts > y->ts;
}

/* ---- codec ------------------------------------------------------------ */

static void test_codec_real_events(void **state)
{
	int n;
	char **ev = fixture(&n);
	struct vgc_keys k;
	vgc_keys_init(&k);
	struct strbuf bin, back;
	sb_init(&bin);
	sb_init(&back);
	struct vg_flat fl;
	vg_flat_init(&fl);
	size_t jtot = 0, btot = 0;
	for (int i = 0; i < n; i++) {
		size_t len = strlen(ev[i]);
		uint64_t ts = ts_of(ev[i]);
		struct vgc_ext x;
		sb_reset(&bin);
		assert_int_equal(vgc_encode(&k, ev[i], len, ts, &bin, &x), 0); /* binary, not raw */
		sb_reset(&back);
		assert_int_equal(vgc_decode(&k, (uint8_t *)bin.buf, bin.len, ts, &back), 0);
		assert_int_equal(back.len, len);
		assert_memory_equal(back.buf, ev[i], len);
		jtot += len;
		btot += bin.len;
		/* the index fields agree with the flattened event */
		assert_int_equal(vg_flatten_json(&fl, ev[i], len), 0);
		const char *v = vg_flat_get(&fl, vg_field_id("host.name"), NULL);
		assert_non_null(v);
		assert_non_null(x.host);
		assert_int_equal(x.host_len, strlen(v));
		assert_memory_equal(x.host, v, x.host_len);
		v = vg_flat_get(&fl, vg_field_id("vigil.sid"), NULL);
		assert_int_equal(x.has_sid, v != NULL);
		if (v)
			assert_int_equal(x.sid, atoll(v));
		v = vg_flat_get(&fl, vg_field_id("process.pid"), NULL);
		assert_int_equal(x.has_pid, v != NULL);
		if (v)
			assert_int_equal(x.pid, atoll(v));
		v = vg_flat_get(&fl, vg_field_id("process.hash.sha256"), NULL);
		assert_int_equal(x.sha != NULL, v != NULL);
		v = vg_flat_get(&fl, vg_field_id("destination.ip"), NULL);
		assert_int_equal(x.dip != NULL, v != NULL);
		if (v)
			assert_memory_equal(x.dip, v, x.dip_len);
		/* the binary walker finds the same */
		struct vgc_ext y;
		assert_int_equal(vgc_ext_binary(&k, (uint8_t *)bin.buf, bin.len, &y), 0);
		assert_int_equal(y.has_sid, x.has_sid);
		assert_int_equal(y.sid, x.sid);
		assert_int_equal(y.pid, x.pid);
		assert_int_equal(y.start, x.start);
		assert_int_equal(y.host_len, x.host_len);
		assert_int_equal(y.sha_len, x.sha_len);
	}
	/* compact before compression: well under the JSON */
	assert_true(btot * 10 < jtot * 7);
	vg_flat_free(&fl);
	sb_free(&bin);
	sb_free(&back);
	vgc_keys_free(&k);
	free(ev[0]);
	free(ev);
}

static void test_codec_edge_cases(void **state)
{
	static const struct {
		const char *json;
		int raw; /* 1: kept as raw bytes */
	} c[] = {
		{"{}", 0},
		{"[]", 0},
		{"{\"a\":[]}", 0},
		{"{\"a\":{}}", 0},
		{"{\"\":1}", 0},
		{"{\"a\":0,\"b\":-1,\"c\":63,\"d\":64,\"e\":-64,\"f\":9223372036854775807,\"g\":-9223372036854775808}", 0},
		{"{\"big\":9223372036854775808,\"neg\":-9223372036854775809,\"huge\":123456789012345678901234}", 0},
		{"{\"f\":0.5,\"e\":1e10,\"E\":-2.5E-3,\"z\":-0,\"z2\":0.0,\"lead\":1.000}", 0},
		{"{\"s\":\"\\\"quoted\\\" \\\\ \\/ \\b\\f\\n\\r\\t \\u00e9 \\ud83d\\ude00\"}", 0},
		{"{\"u\":\"h\xc3\xa9llo \xe2\x9c\x93\",\"bad\":\"\xff\xfe\"}", 0},
		{"{\"t\":true,\"f\":false,\"n\":null,\"arr\":[1,\"x\",[2,[3,{}]],null]}", 0},
		{"{\"ts\":\"2026-02-28T23:59:59.999999999Z\",\"ts2\":\"1970-01-01T00:00:00.000000000Z\"}", 0},
		{"{\"notts\":\"2026-02-30T00:00:00.000000000Z\",\"notts2\":\"2026-13-01T00:00:00.000000000Z\"}", 0},
		{"{\"leap\":\"2024-02-29T12:00:00.000000001Z\",\"noleap\":\"2100-02-29T00:00:00.000000000Z\"}", 0},
		{"\"just a string\"", 0},
		{"42", 0},
		{"{\"a\": 1}", 1},        /* whitespace */
		{" {\"a\":1}", 1},
		{"{\"a\":1}\n", 1},
		{"{\"a\":01}", 1},        /* not JSON */
		{"{\"a\":1,}", 1},
		{"{\"a\"}", 1},
		{"{\"a\":tru}", 1},
		{"{\"a\":\"unterminated}", 1},
		{"", 1},
		{"}", 1},
		{"[1,2", 1},
		{"{\"a\":1}{", 1},
		{"{\"a\":-}", 1},
		{"{\"a\":1.}", 1},
		{"{\"a\":.5}", 1},
	};
	struct vgc_keys k;
	vgc_keys_init(&k);
	struct strbuf bin, back;
	sb_init(&bin);
	sb_init(&back);
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		size_t len = strlen(c[i].json);
		uint64_t ts = 1795584090771189662ULL;
		sb_reset(&bin);
		int r = vgc_encode(&k, c[i].json, len, ts, &bin, NULL);
		if (r != c[i].raw)
			fail_msg("case %zu (%s): encode returned %d", i, c[i].json, r);
		sb_reset(&back);
		assert_int_equal(vgc_decode(&k, (uint8_t *)bin.buf, bin.len, ts, &back), 0);
		if (back.len != len || memcmp(back.buf, c[i].json, len))
			fail_msg("case %zu: got back '%.*s'", i, (int)back.len, back.buf);
	}
	/* deep nesting beyond the limit is kept raw, and still exact */
	char deep[300];
	memset(deep, '[', 150);
	memset(deep + 150, ']', 150);
	sb_reset(&bin);
	assert_int_equal(vgc_encode(&k, deep, 300, 0, &bin, NULL), 1);
	sb_reset(&back);
	assert_int_equal(vgc_decode(&k, (uint8_t *)bin.buf, bin.len, 0, &back), 0);
	assert_memory_equal(back.buf, deep, 300);
	sb_free(&bin);
	sb_free(&back);
	vgc_keys_free(&k);
}

static void test_codec_timestamps(void **state)
{
	char b[VGC_TS_LEN];
	vgc_ts_format(0, b);
	assert_memory_equal(b, "1970-01-01T00:00:00.000000000Z", VGC_TS_LEN);
	vgc_ts_format(1795584090771189662LL, b);
	int64_t ns;
	assert_true(vgc_ts_parse(b, VGC_TS_LEN, &ns));
	assert_int_equal(ns, 1795584090771189662LL);
	/* every day for 290 years, both ways */
	for (int64_t d = 0; d < 290 * 365; d += 1) {
		int64_t t = d * 86400000000000LL + (d * 7919) % 86400000000000LL;
		vgc_ts_format(t, b);
		assert_true(vgc_ts_parse(b, VGC_TS_LEN, &ns));
		assert_int_equal(ns, t);
	}
	assert_false(vgc_ts_parse("2023-02-29T00:00:00.000000000Z", VGC_TS_LEN, &ns));
	assert_false(vgc_ts_parse("2023-04-31T00:00:00.000000000Z", VGC_TS_LEN, &ns));
	assert_false(vgc_ts_parse("2023-01-01T24:00:00.000000000Z", VGC_TS_LEN, &ns));
	assert_false(vgc_ts_parse("2023-01-01T00:00:00.000000000z", VGC_TS_LEN, &ns));
	assert_false(vgc_ts_parse("1969-12-31T23:59:59.999999999Z", VGC_TS_LEN, &ns));
}

/* Any bytes: decode and walk fail or succeed, never read out of bounds
 * (ASan in `make unit`); truncations of valid events always fail. */
static void test_codec_garbage(void **state)
{
	int n;
	char **ev = fixture(&n);
	struct vgc_keys k;
	vgc_keys_init(&k);
	struct strbuf bin, out;
	sb_init(&bin);
	sb_init(&out);
	srand(42);
	for (int i = 0; i < n; i++) {
		sb_reset(&bin);
		uint64_t ts = ts_of(ev[i]);
		assert_int_equal(vgc_encode(&k, ev[i], strlen(ev[i]), ts, &bin, NULL), 0);
		for (size_t cut = 0; cut < bin.len; cut += 1 + bin.len / 50) {
			sb_reset(&out);
			assert_int_equal(vgc_decode(&k, (uint8_t *)bin.buf, cut, ts, &out), -1);
			assert_int_equal(out.len, 0);
		}
		for (int f = 0; f < 20; f++) {
			uint8_t *copy = malloc(bin.len);
			memcpy(copy, bin.buf, bin.len);
			copy[(size_t)rand() % bin.len] ^= (uint8_t)(1u << (rand() % 8));
			sb_reset(&out);
			vgc_decode(&k, copy, bin.len, ts, &out);
			struct vgc_ext x;
			vgc_ext_binary(&k, copy, bin.len, &x);
			free(copy);
		}
	}
	for (int i = 0; i < 20000; i++) {
		uint8_t buf[64];
		size_t len = (size_t)rand() % sizeof(buf);
		for (size_t j = 0; j < len; j++)
			buf[j] = (uint8_t)rand();
		sb_reset(&out);
		vgc_decode(&k, buf, len, (uint64_t)rand(), &out);
	}
	sb_free(&bin);
	sb_free(&out);
	vgc_keys_free(&k);
	free(ev[0]);
	free(ev);
}

/* ---- repeated objects (the encoder's cache) --------------------------- */

/* Encodes json with k, whose cache may hold its members, and checks it
 * against encodings that cannot use that cache: inside an array (members
 * at depth 2 are never kept) for the binary, and with a copy of the key
 * table (same ids, nothing kept) for the index fields, which must point
 * into this event's own copy of the text. Decoding gives json back.
 * Returns what vgc_encode returned; *xo (may be NULL) gets the scalars. */
static int enc_check(struct vgc_keys *k, const char *json, uint64_t ts, struct vgc_ext *xo)
{
	size_t len = strlen(json);
	char *j = malloc(len + 1), *w = malloc(len + 3);
	memcpy(j, json, len + 1);
	w[0] = '[';
	memcpy(w + 1, json, len);
	w[len + 1] = ']';
	struct strbuf a, b, back;
	sb_init(&a);
	sb_init(&b);
	sb_init(&back);
	struct vgc_ext x, y;
	int r = vgc_encode(k, j, len, ts, &a, &x);
	assert_true(r >= 0);
	struct vgc_keys ref;
	vgc_keys_init(&ref);
	assert_int_equal(vgc_keys_copy(&ref, k), 0);
	assert_int_equal(vgc_encode(&ref, w, len + 2, ts, &b, NULL), r);
	if (r == 0 && (b.len != a.len + 2 || memcmp(b.buf + 1, a.buf, a.len)))
		fail_msg("binary differs from a fresh encoding: %s", json);
	assert_int_equal(vgc_keys_copy(&ref, k), 0);
	sb_reset(&b);
	assert_int_equal(vgc_encode(&ref, j, len, ts, &b, &y), r);
	if (memcmp(&x, &y, sizeof(x)))
		fail_msg("index fields differ from a fresh encoding: %s", json);
	assert_int_equal(vgc_decode(k, (uint8_t *)a.buf, a.len, ts, &back), 0);
	if (back.len != len || memcmp(back.buf, json, len))
		fail_msg("not lossless: %s\n  got %.*s", json, (int)back.len, back.buf);
	if (xo) {
		*xo = x;
		xo->host = xo->sha = xo->dip = xo->sip = NULL; /* j is freed */
	}
	vgc_keys_free(&ref);
	sb_free(&a);
	sb_free(&b);
	sb_free(&back);
	free(j);
	free(w);
	return r;
}

#define SHA_A "00770e0b951e49768c7453107a801034c18cde50a56a93fb60fd345f6de61a52"
#define SHA_B "9a9c5a0c3b5d1d78952252f7bcf4a992ab9ea1081c84861381380a835106b817"

/* One event as vigild writes them, with the process object given. */
static const char *ev_with(char *buf, size_t cap, const char *process, const char *after)
{
	snprintf(buf, cap,
		 "{\"@timestamp\":\"2026-12-02T05:18:38.917841657Z\",\"event\":{\"kind\":\"event\",\"action\":"
		 "\"file_create\",\"category\":[\"file\"],\"outcome\":\"success\"},\"host\":{\"name\":\"vm\",\"id\":"
		 "\"3d1219c7c4c5404aaa1f6d2a48adfda4\"},\"process\":%s,\"user\":{\"id\":0,\"effective\":{\"id\":0}},"
		 "\"destination\":{\"ip\":\"10.1.2.3\",\"port\":443},\"source\":{\"ip\":\"10.9.9.9\",\"port\":5555},"
		 "\"vigil\":{\"sid\":7649,\"pgid\":26822,\"cgroup\":\"/\",\"ret\":3}%s}",
		 process, after);
	return buf;
}

static void test_codec_repeated_objects(void **state)
{
	struct vgc_keys k;
	vgc_keys_init(&k);
	uint64_t ts = 1795584090771189662ULL;
	char ev[8192];
	struct vgc_ext x;
	const char *proc = "{\"pid\":42,\"vpid\":42,\"thread\":{\"id\":42},\"name\":\"bash\",\"start_ns\":1000,"
			   "\"args\":[\"a\",\"b\"],\"hash\":{\"sha256\":\"" SHA_A "\"},"
			   "\"parent\":{\"pid\":1,\"executable\":\"/sbin/init\"}}";

	/* the same event again: every member is copied, the index fields too */
	assert_int_equal(enc_check(&k, ev_with(ev, sizeof(ev), proc, ""), ts, NULL), 0);
	uint64_t hits = k.sub_hits;
	assert_int_equal(enc_check(&k, ev_with(ev, sizeof(ev), proc, ""), ts + 5, &x), 0);
	assert_true(k.sub_hits >= hits + 5); /* event, host, process, user, ... */
	assert_true(x.has_pid && x.pid == 42 && x.has_start && x.start == 1000 && x.has_sid && x.sid == 7649);
	assert_int_equal(x.sha_len, 64);
	assert_int_equal(x.host_len, 2);
	assert_int_equal(x.dip_len, 8);
	assert_int_equal(x.sip_len, 8);

	/* another thread (same length, longer, shorter): the members before
	 * and after it are copied */
	static const char *const variants[] = {
		"{\"pid\":42,\"vpid\":42,\"thread\":{\"id\":43},\"name\":\"bash\",\"start_ns\":1000,"
		"\"args\":[\"a\",\"b\"],\"hash\":{\"sha256\":\"" SHA_A "\"},\"parent\":{\"pid\":1,\"executable\":\"/sbin/init\"}}",
		"{\"pid\":42,\"vpid\":42,\"thread\":{\"id\":4300},\"name\":\"bash\",\"start_ns\":1000,"
		"\"args\":[\"a\",\"b\"],\"hash\":{\"sha256\":\"" SHA_A "\"},\"parent\":{\"pid\":1,\"executable\":\"/sbin/init\"}}",
		"{\"pid\":42,\"vpid\":42,\"thread\":{\"id\":4},\"name\":\"bash\",\"start_ns\":1000,"
		"\"args\":[\"a\",\"b\"],\"hash\":{\"sha256\":\"" SHA_A "\"},\"parent\":{\"pid\":1,\"executable\":\"/sbin/init\"}}",
		/* the first member differs (prefix of the kept one's) */
		"{\"pid\":4,\"vpid\":42,\"thread\":{\"id\":42},\"name\":\"bash\",\"start_ns\":1000,"
		"\"args\":[\"a\",\"b\"],\"hash\":{\"sha256\":\"" SHA_A "\"},\"parent\":{\"pid\":1,\"executable\":\"/sbin/init\"}}",
		/* the kept one's first member is a prefix of this one's */
		"{\"pid\":421,\"vpid\":42,\"thread\":{\"id\":42},\"name\":\"bash\",\"start_ns\":1000,"
		"\"args\":[\"a\",\"b\"],\"hash\":{\"sha256\":\"" SHA_A "\"},\"parent\":{\"pid\":1,\"executable\":\"/sbin/init\"}}",
		/* an index field after the difference, another before */
		"{\"pid\":42,\"vpid\":42,\"thread\":{\"id\":42},\"name\":\"bash\",\"start_ns\":1001,"
		"\"args\":[\"a\",\"b\"],\"hash\":{\"sha256\":\"" SHA_B "\"},\"parent\":{\"pid\":1,\"executable\":\"/sbin/init\"}}",
		"{\"pid\":42,\"vpid\":42,\"thread\":{\"id\":42},\"name\":\"bash\",\"start_ns\":1000,"
		"\"args\":[\"a\",\"b\",\"c\"],\"hash\":{\"sha256\":\"" SHA_A "\"},\"parent\":{\"pid\":1,\"executable\":\"/sbin/init\"}}",
		/* a member more, a member less, the last member changed */
		"{\"pid\":42,\"vpid\":42,\"thread\":{\"id\":42},\"name\":\"bash\",\"start_ns\":1000,"
		"\"args\":[\"a\",\"b\"],\"hash\":{\"sha256\":\"" SHA_A "\"},\"parent\":{\"pid\":1,\"executable\":\"/sbin/init\"},\"x\":1}",
		"{\"pid\":42,\"vpid\":42,\"name\":\"bash\",\"start_ns\":1000,"
		"\"args\":[\"a\",\"b\"],\"hash\":{\"sha256\":\"" SHA_A "\"},\"parent\":{\"pid\":1,\"executable\":\"/sbin/init\"}}",
		"{\"pid\":42,\"vpid\":42,\"thread\":{\"id\":42},\"name\":\"bash\",\"start_ns\":1000,"
		"\"args\":[\"a\",\"b\"],\"hash\":{\"sha256\":\"" SHA_A "\"},\"parent\":{\"pid\":1,\"executable\":\"/sbin/ini\"}}",
		/* strings whose escapes look like the end of the object */
		"{\"pid\":42,\"vpid\":42,\"thread\":{\"id\":42},\"name\":\"b\\\"},\\\\\",\"start_ns\":1000,"
		"\"args\":[\"a\",\"b\"],\"hash\":{\"sha256\":\"" SHA_A "\"},\"parent\":{\"pid\":1,\"executable\":\"/sbin/init\"}}",
		"{\"pid\":42,\"vpid\":42,\"thread\":{\"id\":42},\"name\":\"b\\\"},\\\\x\",\"start_ns\":1000,"
		"\"args\":[\"a\",\"b\"],\"hash\":{\"sha256\":\"" SHA_A "\"},\"parent\":{\"pid\":1,\"executable\":\"/sbin/init\"}}",
		/* the same index field twice: the last one counts */
		"{\"pid\":42,\"vpid\":42,\"thread\":{\"id\":42},\"pid\":43,\"start_ns\":1000,\"start_ns\":-1}",
		/* more index fields than an object keeps, and a timestamp */
		"{\"pid\":1,\"pid\":2,\"pid\":3,\"pid\":4,\"pid\":5,\"pid\":6,\"name\":\"bash\"}",
		"{\"pid\":42,\"vpid\":42,\"thread\":{\"id\":42},\"at\":\"2026-12-02T05:18:38.000000000Z\",\"name\":\"bash\"}",
		"{}",
		"{\"pid\":42}",
	};
	for (int round = 0; round < 3; round++)
		for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
			uint64_t t = ts + (uint64_t)round * 1000000007ULL + i;
			assert_int_equal(enc_check(&k, ev_with(ev, sizeof(ev), variants[i], ""), t, &x), 0);
			assert_int_equal(enc_check(&k, ev_with(ev, sizeof(ev), proc, ""), t, NULL), 0);
		}
	assert_int_equal(enc_check(&k, ev_with(ev, sizeof(ev), variants[12], ""), ts, &x), 0);
	assert_true(x.has_pid && x.pid == 43 && x.has_start && x.start == 1000); /* a negative one is no start */
	assert_int_equal(enc_check(&k, ev_with(ev, sizeof(ev), variants[13], ""), ts, &x), 0);
	assert_true(x.has_pid && x.pid == 6);

	/* an index field in the member that differs: the ones after it, copied
	 * from the kept object, keep their order; and so do those of an object
	 * made that way and kept in turn */
#define LONGNAME "\"name\":\"a name long enough to fill the first bytes\""
	static const char *const shifted[] = {
		"{" LONGNAME ",\"a\":1,\"start_ns\":100,\"z\":\"tail of the object\"}",
		"{" LONGNAME ",\"pid\":9,\"start_ns\":100,\"z\":\"tail of the object\"}",
		"{" LONGNAME ",\"pid\":9,\"start_ns\":100,\"z\":\"another tail\"}",
		"{" LONGNAME ",\"pid\":9,\"start_ns\":101,\"z\":\"tail of the object\"}",
	};
#undef LONGNAME
	for (int i = 0; i < 4; i++) /* found again: changed ones are kept too */
		assert_int_equal(enc_check(&k, ev_with(ev, sizeof(ev), shifted[0], ""), ts, NULL), 0);
	for (int i = 1; i < 4; i++) {
		assert_int_equal(enc_check(&k, ev_with(ev, sizeof(ev), shifted[i], ""), ts, &x), 0);
		assert_true(x.has_pid && x.pid == 9 && x.has_start && x.start == (i == 3 ? 101 : 100));
	}

	/* a timestamp inside: not kept (it is relative to the record's time) */
	const char *tsproc = variants[14];
	for (int i = 0; i < 4; i++)
		assert_int_equal(enc_check(&k, ev_with(ev, sizeof(ev), tsproc, ""), ts + (uint64_t)i * 999999937ULL, NULL), 0);
	assert_int_equal(enc_check(&k, ev_with(ev, sizeof(ev), tsproc, ""), UINT64_MAX, NULL), 0);
	assert_int_equal(enc_check(&k, ev_with(ev, sizeof(ev), tsproc, ""), ts, NULL), 0);

	/* followed by other text: more members, the same member again, the end */
	assert_int_equal(enc_check(&k, ev_with(ev, sizeof(ev), proc, ",\"x\":1"), ts, NULL), 0);
	assert_int_equal(enc_check(&k, ev_with(ev, sizeof(ev), proc, ",\"process\":{\"pid\":42,\"vpid\":42}"), ts, NULL), 0);
	char dup[4096];
	snprintf(dup, sizeof(dup), ",\"process\":%s", proc);
	assert_int_equal(enc_check(&k, ev_with(ev, sizeof(ev), proc, dup), ts, &x), 0);
	assert_true(x.pid == 42);
	/* cut short inside or right after a kept object: raw, still exact */
	ev_with(ev, sizeof(ev), proc, "");
	const char *pp = strstr(ev, "\"process\":");
	for (size_t cut = (size_t)(pp - ev); cut < strlen(ev); cut += 7) {
		char c[8192];
		memcpy(c, ev, cut);
		c[cut] = 0;
		assert_int_equal(enc_check(&k, c, ts, NULL), 1);
	}
	snprintf(ev, sizeof(ev), "{\"process\":%s", proc);
	assert_int_equal(enc_check(&k, ev, ts, NULL), 1);
	snprintf(ev, sizeof(ev), "{\"process\":%s,", proc);
	assert_int_equal(enc_check(&k, ev, ts, NULL), 1);
	snprintf(ev, sizeof(ev), "{\"process\":%s}", proc);
	assert_int_equal(enc_check(&k, ev, ts, NULL), 0);
	snprintf(ev, sizeof(ev), "{\"process\":%s} ", proc);
	assert_int_equal(enc_check(&k, ev, ts, NULL), 1);

	/* elements of a top-level array, objects of many members */
	assert_int_equal(enc_check(&k, "[{\"a\":\"0123456789abcdef\"},{\"a\":\"0123456789abcdef\"},{\"a\":\"0123456789abcdeg\"}]", ts, NULL), 0);
	struct strbuf big;
	sb_init(&big);
	for (int v = 0; v < 6; v++) {
		sb_reset(&big);
		sb_puts(&big, "{\"big\":{");
		for (int i = 0; i < 100; i++) {
			char m[48];
			snprintf(m, sizeof(m), "%s\"m%d\":%d", i ? "," : "", i, i == 3 * v || i == 70 + v ? v : i);
			sb_puts(&big, m);
		}
		sb_puts(&big, "}}");
		sb_putc(&big, 0);
		assert_int_equal(enc_check(&k, big.buf, ts, NULL), 0);
		assert_int_equal(enc_check(&k, big.buf, ts, NULL), 0);
	}
	sb_free(&big);

	/* depth: a kept object as deep as allowed, then one level deeper */
	for (int extra = 0; extra < 2; extra++) {
		char deep[1024];
		int n = 0;
		n += snprintf(deep + n, sizeof(deep) - (size_t)n, "{\"deep\":");
		for (int i = 0; i < VGC_MAX_DEPTH - 2 + extra; i++)
			n += snprintf(deep + n, sizeof(deep) - (size_t)n, "{\"d\":");
		n += snprintf(deep + n, sizeof(deep) - (size_t)n, "{\"x\":\"0123456789abcdef\"}");
		for (int i = 0; i < VGC_MAX_DEPTH - 1 + extra; i++)
			deep[n++] = '}';
		deep[n] = 0;
		struct strbuf bin, back;
		sb_init(&bin);
		sb_init(&back);
		for (int again = 0; again < 2; again++) {
			sb_reset(&bin);
			assert_int_equal(vgc_encode(&k, deep, (size_t)n, ts, &bin, NULL), extra);
			sb_reset(&back);
			assert_int_equal(vgc_decode(&k, (uint8_t *)bin.buf, bin.len, ts, &back), 0);
			assert_int_equal(back.len, n);
			assert_memory_equal(back.buf, deep, (size_t)n);
		}
		sb_free(&bin);
		sb_free(&back);
	}

	/* the key table starts again with other ids: nothing kept is used */
	vgc_keys_reset(&k);
	assert_int_equal(enc_check(&k, "{\"zz\":1,\"args\":[1],\"thread\":{\"id\":1},\"name\":\"n\",\"pid\":2,\"vpid\":3,"
				       "\"sha256\":\"s\",\"hash\":{\"parent\":4},\"executable\":\"e\"}", ts, NULL), 0);
	assert_int_equal(enc_check(&k, ev_with(ev, sizeof(ev), proc, ""), ts, &x), 0);
	assert_true(x.pid == 42 && x.sha_len == 64);
	vgc_keys_free(&k);
	vgc_keys_init(&k);
	assert_int_equal(vgc_key_add(&k, "unrelated", 9), 0);
	assert_int_equal(enc_check(&k, ev_with(ev, sizeof(ev), proc, ""), ts, NULL), 0);
	vgc_keys_free(&k);
}

static uint32_t rnd_below(uint64_t *seed, uint32_t n)
{
	*seed = *seed * 6364136223846793005ULL + 1442695040888963407ULL;
	return (uint32_t)(*seed >> 33) % n;
}

/* Random events from a few parts that vary the way a host's do (threads,
 * arguments, optional members, escapes, timestamps), encoded in one
 * sequence: each against the encodings that use no cache. */
static void test_codec_repeated_random(void **state)
{
	struct vgc_keys k;
	vgc_keys_init(&k);
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
#define RND(n) rnd_below(&seed, n)
	char ev[8192], proc[4096];
	static const char *const names[] = {"bash", "b\\\"}", "nginx", "\\\\", "a,b", "x}"};
	static const char *const tail[] = {"", ",\"x\":1", ",\"process\":{\"pid\":7}", ",\"t\":\"2026-01-01T00:00:00.000000000Z\""};
	for (int i = 0; i < 3000; i++) {
		int pid = 100 + (int)RND(3);
		int n = snprintf(proc, sizeof(proc), "{\"pid\":%d,\"vpid\":%d", pid, pid);
		if (RND(4))
			n += snprintf(proc + n, sizeof(proc) - (size_t)n, ",\"thread\":{\"id\":%d}", pid + (int)RND(3) * 1000);
		const char *name = names[RND(6)];
		int start = pid * 10 + (RND(8) == 0);
		n += snprintf(proc + n, sizeof(proc) - (size_t)n, ",\"name\":\"%s\",\"start_ns\":%d,\"args\":[", name, start);
		int na = (int)RND(3);
		for (int a = 0; a < na; a++)
			n += snprintf(proc + n, sizeof(proc) - (size_t)n, "%s\"arg%d\"", a ? "," : "", a);
		n += snprintf(proc + n, sizeof(proc) - (size_t)n, "]");
		if (RND(5) == 0)
			n += snprintf(proc + n, sizeof(proc) - (size_t)n, ",\"at\":\"2026-12-02T05:18:38.%09dZ\"", (int)RND(1000));
		n += snprintf(proc + n, sizeof(proc) - (size_t)n, ",\"hash\":{\"sha256\":\"%s\"}", RND(2) ? SHA_A : SHA_B);
		if (RND(3))
			n += snprintf(proc + n, sizeof(proc) - (size_t)n, ",\"parent\":{\"pid\":%d}", (int)RND(2) + 1);
		snprintf(proc + n, sizeof(proc) - (size_t)n, "}");
		ev_with(ev, sizeof(ev), proc, tail[RND(4)]);
		uint64_t ts = 1795584090771189662ULL + (uint64_t)RND(3) * 1000000000ULL;
		size_t len = strlen(ev);
		if (RND(20) == 0)
			ev[1 + RND((uint32_t)len - 1)] = '\0'; /* cut short */
		enc_check(&k, ev, ts, NULL);
		if (RND(500) == 0)
			vgc_keys_reset(&k);
	}
#undef RND
	assert_true(k.sub_hits > 1000);
	vgc_keys_free(&k);
}

/* ---- store ------------------------------------------------------------ */

#define NG 6000

static struct gev *gens(uint64_t base)
{
	struct gev *g = calloc(NG, sizeof(*g));
	for (int i = 0; i < NG; i++)
		gen(&g[i], i, base);
	return g;
}

static void write_all(const char *dir, struct gev *g, int from, int to, const struct store_opts *o, int flush_every)
{
	struct store *s;
	char err[256];
	struct store_opts opts = *o;
	opts.dir = dir;
	if (store_open(&s, &opts, err, sizeof(err)))
		fail_msg("store_open: %s", err);
	for (int i = from; i < to; i++) {
		assert_int_equal(store_append(s, g[i].json, strlen(g[i].json), NULL, g[i].ts), 0);
		if (flush_every && i % flush_every == flush_every - 1)
			assert_int_equal(store_flush(s), 0);
	}
	store_close(s);
}

/* Expected rows for a predicate, in time order. */
static size_t expect(struct gev *g, int n, bool (*pred)(const struct gev *, const void *), const void *arg,
		     struct gev **out)
{
	size_t m = 0;
	for (int i = 0; i < n; i++)
		if (pred(&g[i], arg))
			out[m++] = &g[i];
	qsort(out, m, sizeof(*out), ts_cmp);
	return m;
}

static void check_rows(struct rows *r, struct gev **e, size_t m)
{
	assert_int_equal(r->n, m);
	for (size_t i = 0; i < m; i++) {
		assert_string_equal(r->v[i], e[i]->json);
		assert_int_equal(r->ts[i], e[i]->ts);
	}
}

static bool p_all(const struct gev *g, const void *a) { return true; }
static bool p_sid(const struct gev *g, const void *a) { return g->sid == *(const int64_t *)a; }
static bool p_sess(const struct gev *g, const void *a) { return g->sid == 1005 && !strcmp(g->host, "hostB"); }
static bool p_pid(const struct gev *g, const void *a) { return g->pid == 20042; }
static bool p_ip(const struct gev *g, const void *a) { return !strcmp(g->ip, a); }
static bool p_sha(const struct gev *g, const void *a) { return !strcmp(g->sha, a); }
static bool p_host(const struct gev *g, const void *a) { return !strcmp(g->host, "hostB"); }
static bool p_act(const struct gev *g, const void *a) { return g->action == 1 && g->sid == 1007; }
static bool p_text(const struct gev *g, const void *a) { return strstr(g->cmd, "--run 77") != NULL; }
static bool p_range(const struct gev *g, const void *a)
{
	const uint64_t *r = a;
	return g->ts >= r[0] && g->ts <= r[1];
}
static bool p_multi(const struct gev *g, const void *a)
{
	return g->sid == 1003 && g->pid == 20040 && !strcmp(g->ip, "10.0.0.1");
}

static void test_store_queries(void **state)
{
	char *dir = tmpdir();
	uint64_t base = 1795000000000000000ULL;
	struct gev *g = gens(base);
	/* small blocks and segments: many block and segment boundaries; the
	 * first part sealed (closed), the rest flushed through the WAL */
	struct store_opts o = {.block_bytes = 4096, .segment_max_bytes = 48 << 10};
	write_all(dir, g, 0, NG / 2, &o, 97);
	write_all(dir, g, NG / 2, NG, &o, 113);
	struct gev **e = calloc(NG, sizeof(*e));
	struct rows r;
	struct strbuf warn;
	sb_init(&warn);
	struct store_query q = q_all();
	size_t m = expect(g, NG, p_all, NULL, e);
	query(dir, &q, &r, &warn);
	check_rows(&r, e, m);
	rows_free(&r);

	int64_t sid = 1011;
	q = q_all();
	q.sid = sid;
	m = expect(g, NG, p_sid, &sid, e);
	assert_true(m > 100);
	query(dir, &q, &r, &warn);
	check_rows(&r, e, m);
	rows_free(&r);

	q = q_all();
	q.sid = 1005;
	q.host = "hostB";
	m = expect(g, NG, p_sess, NULL, e);
	assert_true(m > 10);
	query(dir, &q, &r, &warn);
	check_rows(&r, e, m);
	rows_free(&r);

	q = q_all();
	q.pid = 20042;
	m = expect(g, NG, p_pid, NULL, e);
	query(dir, &q, &r, &warn);
	check_rows(&r, e, m);
	rows_free(&r);

	q = q_all();
	q.remote_ip = "10.0.3.4";
	m = expect(g, NG, p_ip, "10.0.3.4", e);
	assert_true(m > 10);
	query(dir, &q, &r, &warn);
	check_rows(&r, e, m);
	rows_free(&r);
	/* the source address counts too */
	q.remote_ip = "192.168.9.9";
	query(dir, &q, &r, &warn);
	assert_int_equal(r.n, NG);
	rows_free(&r);

	q = q_all();
	q.sha256 = g[5].sha;
	m = expect(g, NG, p_sha, g[5].sha, e);
	query(dir, &q, &r, &warn);
	check_rows(&r, e, m);
	rows_free(&r);

	q = q_all();
	q.host = "hostB";
	m = expect(g, NG, p_host, NULL, e);
	query(dir, &q, &r, &warn);
	check_rows(&r, e, m);
	rows_free(&r);

	q = q_all();
	q.nconds = 2;
	q.conds[0].field = "event.action";
	q.conds[0].value = "connect";
	q.conds[1].field = "vigil.sid";
	q.conds[1].value = "1007";
	m = expect(g, NG, p_act, NULL, e);
	query(dir, &q, &r, &warn);
	check_rows(&r, e, m);
	rows_free(&r);

	q = q_all();
	q.text = "--run 77";
	m = expect(g, NG, p_text, NULL, e);
	assert_true(m >= 11); /* 77, 770-779, 7700.. */
	query(dir, &q, &r, &warn);
	check_rows(&r, e, m);
	rows_free(&r);

	q = q_all();
	q.from_ns = base + 1000 * 1000003ULL;
	q.to_ns = base + 1500 * 1000003ULL;
	uint64_t range[2] = {q.from_ns, q.to_ns};
	m = expect(g, NG, p_range, range, e);
	query(dir, &q, &r, &warn);
	check_rows(&r, e, m);
	rows_free(&r);

	q = q_all();
	q.sid = 1003;
	q.pid = 20040;
	q.remote_ip = "10.0.0.1";
	m = expect(g, NG, p_multi, NULL, e);
	query(dir, &q, &r, &warn);
	check_rows(&r, e, m);
	rows_free(&r);

	q = q_all();
	q.sid = 1011;
	q.limit = 7;
	m = expect(g, NG, p_sid, &sid, e);
	query(dir, &q, &r, &warn);
	check_rows(&r, e, 7);
	rows_free(&r);

	q = q_all();
	q.sid = 99999;
	query(dir, &q, &r, &warn);
	assert_int_equal(r.n, 0);
	rows_free(&r);

	assert_int_equal(warn.len, 0);
	sb_free(&warn);
	free(e);
	free(g);
	rmtree(dir);
	free(dir);
}

/* The index of a sealed segment names exactly the blocks holding a key. */
static void test_index_lookups(void **state)
{
	char *dir = tmpdir();
	struct gev *g = gens(1795000000000000000ULL);
	struct store_opts o = {.block_bytes = 4096, .segment_max_bytes = 1 << 20};
	write_all(dir, g, 0, NG, &o, 0);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	size_t n;
	struct seg_ent *v = seg_list(dfd, &n);
	assert_int_equal(n, 1);
	char path[4096], idx[128];
	snprintf(path, sizeof(path), "%s/%s", dir, v[0].name);
	snprintf(idx, sizeof(idx), "%.*s.idx", (int)strlen(v[0].name) - 4, v[0].name);
	int fd = open(path, O_RDONLY);
	struct seg_hdr sh;
	struct stat st;
	assert_int_equal(pread(fd, &sh, sizeof(sh), 0), sizeof(sh));
	fstat(fd, &st);
	struct idx_reader ir;
	const char *why = ir_open(&ir, dfd, idx, sh.uuid, (uint64_t)st.st_size);
	if (why)
		fail_msg("ir_open: %s", why);
	assert_true(ir.h.nblocks > 20);
	assert_int_equal(ir.h.nevents, NG);
	/* which blocks really hold session (hostA, 1010) and pid 20007 */
	bool *has_s = calloc(ir.h.nblocks, 1), *has_p = calloc(ir.h.nblocks, 1);
	struct dict_cache *dc = dc_new(dfd);
	void *dctx = ZSTD_createDCtx();
	struct blk_data bd = {0};
	uint64_t total = 0;
	assert_null(ir_load_blocks(&ir));
	for (uint32_t b = 0; b < ir.h.nblocks; b++) {
		const char *e = bd_read(&bd, fd, ir.blocks[b].off, ir.blocks[b].len, dc, dctx, NULL);
		if (e)
			fail_msg("block %u: %s", b, e);
		assert_int_equal(bd.nrecs, ir.blocks[b].nevents);
		assert_true(bd.h.raw_len <= 4096 + 1024); /* cut at the block size */
		total += bd.nrecs;
		for (uint32_t i = 0; i < bd.nrecs; i++) {
			assert_true(bd.recs[i].ts >= ir.blocks[b].first_ts && bd.recs[i].ts <= ir.blocks[b].last_ts);
			struct vgc_ext x;
			assert_int_equal(vgc_ext_binary(&ir.keys, bd.recs[i].body, bd.recs[i].len, &x), 0);
			if (x.sid == 1010 && x.host_len == 5 && !memcmp(x.host, "hostA", 5))
				has_s[b] = true;
			if (x.pid == 20007)
				has_p[b] = true;
		}
	}
	assert_int_equal(total, NG);
	uint32_t *bl, nb;
	assert_int_equal(ir_lookup(&ir, ik_hash(IK_SESSION, "hostA", 5, 1010), &bl, &nb), 0);
	uint32_t want = 0;
	for (uint32_t b = 0; b < ir.h.nblocks; b++)
		want += has_s[b];
	assert_true(want > 0 && want < ir.h.nblocks / 2); /* lanes keep a session together */
	assert_int_equal(nb, want);
	for (uint32_t i = 0; i < nb; i++)
		assert_true(has_s[bl[i]]);
	free(bl);
	assert_int_equal(ir_lookup(&ir, ik_hash(IK_PID, NULL, 0, 20007), &bl, &nb), 0);
	want = 0;
	for (uint32_t b = 0; b < ir.h.nblocks; b++)
		want += has_p[b];
	assert_int_equal(nb, want);
	for (uint32_t i = 0; i < nb; i++)
		assert_true(has_p[bl[i]]);
	free(bl);
	assert_int_equal(ir_lookup(&ir, ik_hash(IK_PID, NULL, 0, 424242), &bl, &nb), 0);
	assert_int_equal(nb, 0);
	bd_free(&bd);
	ZSTD_freeDCtx(dctx);
	dc_free(dc);
	ir_close(&ir);
	free(has_s);
	free(has_p);
	free(v);
	close(fd);
	close(dfd);
	free(g);
	rmtree(dir);
	free(dir);
}

/* The store in dir reads cleanly and holds exactly ev[0..n), in that
 * order (ev is in time order; equal times keep their order). */
static void assert_store_holds(const char *dir, char **ev, int n)
{
	struct rows r;
	struct store_query q = q_all();
	struct strbuf warn;
	sb_init(&warn);
	query(dir, &q, &r, &warn);
	assert_int_equal(r.n, n);
	for (int i = 0; i < n; i++)
		assert_string_equal(r.v[i], ev[i]);
	assert_int_equal(warn.len, 0);
	rows_free(&r);
	sb_free(&warn);
}

/* Real events through the store come back byte for byte. */
static void test_store_real_events(void **state)
{
	int n;
	char **ev = fixture(&n);
	char *dir = tmpdir();
	struct store *s;
	char err[256];
	struct store_opts o = {.dir = dir, .block_bytes = 8192};
	assert_int_equal(store_open(&s, &o, err, sizeof(err)), 0);
	for (int i = 0; i < n; i++)
		assert_int_equal(store_append(s, ev[i], strlen(ev[i]), NULL, ts_of(ev[i])), 0);
	store_close(s);
	assert_store_holds(dir, ev, n);
	rmtree(dir);
	free(dir);
	free(ev[0]);
	free(ev);
}

static int count_rows(const char *dir, struct strbuf *warn)
{
	struct rows r;
	struct store_query q = q_all();
	query(dir, &q, &r, warn);
	int n = (int)r.n;
	rows_free(&r);
	return n;
}

/* A writer that dies without closing: what it flushed is there. */
static void test_crash_recovery(void **state)
{
	char *dir = tmpdir();
	struct gev *g = gens(1795000000000000000ULL);
	pid_t p = fork();
	if (p == 0) {
		struct store *s;
		char err[256];
		struct store_opts o = {.dir = dir, .block_bytes = 4096, .segment_max_bytes = 64 << 10};
		if (store_open(&s, &o, err, sizeof(err)))
			_exit(2);
		for (int i = 0; i < 4000; i++) {
			store_append(s, g[i].json, strlen(g[i].json), NULL, g[i].ts);
			if (i % 500 == 499 && store_flush(s))
				_exit(3);
		}
		_exit(0); /* like kill -9: events 4000.. and the unflushed tail are lost */
	}
	int st;
	waitpid(p, &st, 0);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* a reader sees the flushed events while the writer is "down" */
	struct strbuf warn;
	sb_init(&warn);
	assert_int_equal(count_rows(dir, &warn), 4000);
	assert_int_equal(warn.len, 0);
	/* and so does the next writer, which adds more */
	struct store_opts o = {.block_bytes = 4096, .segment_max_bytes = 64 << 10};
	write_all(dir, g, 4000, 5000, &o, 0);
	assert_int_equal(count_rows(dir, &warn), 5000);
	assert_int_equal(warn.len, 0);
	sb_free(&warn);
	free(g);
	rmtree(dir);
	free(dir);
}

static char *last_segment(const char *dir)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	size_t n;
	struct seg_ent *v = seg_list(dfd, &n);
	close(dfd);
	assert_true(n > 0);
	char *p;
	assert_true(asprintf(&p, "%s/%s", dir, v[n - 1].name) > 0);
	free(v);
	return p;
}

/* A torn write at the end of the open segment and of the WAL (a power cut
 * mid-write): on open the tail is cut, nothing corrupt is ever read. */
static void test_torn_tail(void **state)
{
	char *dir = tmpdir();
	struct gev *g = gens(1795000000000000000ULL);
	pid_t p = fork();
	if (p == 0) {
		struct store *s;
		char err[256];
		struct store_opts o = {.dir = dir, .block_bytes = 4096};
		if (store_open(&s, &o, err, sizeof(err)))
			_exit(2);
		for (int i = 0; i < 3000; i++)
			store_append(s, g[i].json, strlen(g[i].json), NULL, g[i].ts);
		store_flush(s);
		_exit(0);
	}
	int st;
	waitpid(p, &st, 0);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* half a block header and some garbage after the last good bytes */
	char *seg = last_segment(dir);
	char wal[4096];
	snprintf(wal, sizeof(wal), "%s/wal.vgw", dir);
	/* the flush wrote the events to the WAL, not to the segment: as
	 * blocks of 4 KiB (the staging is cut as it fills) with the new keys
	 * in the first one only, which is what the reads below go through */
	struct stat wst;
	assert_int_equal(stat(wal, &wst), 0);
	assert_true(wst.st_size > 64 << 10);
	const char *junk[] = {seg, wal};
	for (int i = 0; i < 2; i++) {
		int fd = open(junk[i], O_WRONLY | O_APPEND);
		struct blk_hdr h = {.magic = BLK_MAGIC, .version = STORE_VERSION, .comp_len = 100000};
		blk_hdr_seal(&h);
		assert_int_equal(write(fd, &h, 40), 40);
		close(fd);
	}
	struct strbuf warn;
	sb_init(&warn);
	/* a reader stops quietly at the WAL's torn tail (the writer may be
	 * mid-write); the segment tail is beyond the checkpointed size */
	assert_int_equal(count_rows(dir, &warn), 3000);
	assert_int_equal(warn.len, 0);
	struct store_opts o = {.block_bytes = 4096};
	write_all(dir, g, 3000, 3500, &o, 0);
	assert_int_equal(count_rows(dir, &warn), 3500);
	assert_int_equal(warn.len, 0);
	sb_free(&warn);
	free(seg);
	free(g);
	rmtree(dir);
	free(dir);
}

static void flip_byte(const char *path, off_t off)
{
	int fd = open(path, O_RDWR);
	uint8_t b;
	assert_int_equal(pread(fd, &b, 1, off), 1);
	b ^= 0x10;
	assert_int_equal(pwrite(fd, &b, 1, off), 1);
	close(fd);
}

/* A bit flip in a sealed segment's block: that block is reported and
 * skipped, every other block still reads. A truncated segment: its lost
 * blocks are reported, the others and other segments read. */
static void test_corrupt_segments(void **state)
{
	char *dir = tmpdir();
	struct gev *g = gens(1795000000000000000ULL);
	struct store_opts o = {.block_bytes = 4096};
	write_all(dir, g, 0, 2000, &o, 0); /* segment 1 */
	write_all(dir, g, 2000, 4000, &o, 0); /* segment 2 */
	write_all(dir, g, 4000, 6000, &o, 0); /* segment 3 */
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	size_t n;
	struct seg_ent *v = seg_list(dfd, &n);
	assert_int_equal(n, 3);
	char s1[4096], s2[4096], idx1[4096];
	snprintf(s1, sizeof(s1), "%s/%s", dir, v[0].name);
	snprintf(idx1, sizeof(idx1), "%s/%.*s.idx", dir, (int)strlen(v[0].name) - 4, v[0].name);
	snprintf(s2, sizeof(s2), "%s/%s", dir, v[1].name);
	/* segment 1: flip a payload byte of its third block */
	struct idx_reader ir;
	int fd = open(s1, O_RDONLY);
	struct seg_hdr sh;
	struct stat st;
	assert_int_equal(pread(fd, &sh, sizeof(sh), 0), sizeof(sh));
	fstat(fd, &st);
	close(fd);
	char idxname[128];
	snprintf(idxname, sizeof(idxname), "%.*s.idx", (int)strlen(v[0].name) - 4, v[0].name);
	assert_null(ir_open(&ir, dfd, idxname, sh.uuid, (uint64_t)st.st_size));
	const struct idx_blk *b2 = ir_block(&ir, 2);
	assert_non_null(b2);
	uint32_t lost1 = b2->nevents;
	flip_byte(s1, (off_t)(b2->off + b2->len - 3));
	ir_close(&ir);
	/* segment 2: cut in the middle, losing its last blocks */
	fd = open(s2, O_RDONLY);
	assert_int_equal(pread(fd, &sh, sizeof(sh), 0), sizeof(sh));
	fstat(fd, &st);
	close(fd);
	snprintf(idxname, sizeof(idxname), "%.*s.idx", (int)strlen(v[1].name) - 4, v[1].name);
	assert_null(ir_open(&ir, dfd, idxname, sh.uuid, (uint64_t)st.st_size));
	assert_null(ir_load_blocks(&ir));
	uint32_t cutb = ir.h.nblocks / 2, kept2 = 0;
	for (uint32_t b = 0; b < cutb; b++)
		kept2 += ir.blocks[b].nevents;
	off_t cut_at = (off_t)(ir.blocks[cutb].off + 30);
	ir_close(&ir);
	assert_int_equal(truncate(s2, cut_at), 0);

	struct strbuf warn;
	sb_init(&warn);
	int got = count_rows(dir, &warn);
	assert_int_equal(got, (int)(2000 - lost1 + kept2 + 2000));
	/* one line per damaged place, naming the file and the block */
	char want1[4200], want2[4200];
	snprintf(want1, sizeof(want1), "%s: block 2: payload checksum mismatch\n", s1);
	snprintf(want2, sizeof(want2), "%s: block %u: truncated block", s2, cutb);
	if (!strstr(warn.buf, want1) || !strstr(warn.buf, want2))
		fail_msg("warnings: %s", warn.buf);
	/* a corrupt index is not trusted: the segment is read whole instead */
	flip_byte(idx1, 20);
	sb_reset(&warn);
	assert_int_equal(count_rows(dir, &warn), got);
	assert_non_null(strstr(warn.buf, want1));
	/* session look-ups still work on what is left */
	struct rows r;
	struct store_query q = q_all();
	q.sid = 1020;
	q.host = "hostA";
	query(dir, &q, &r, &warn);
	assert_true(r.n > 0);
	for (size_t i = 0; i < r.n; i++)
		assert_non_null(strstr(r.v[i], "\"sid\":1020,"));
	rows_free(&r);
	sb_free(&warn);
	free(v);
	close(dfd);
	free(g);
	rmtree(dir);
	free(dir);
}

static uint64_t dir_bytes(const char *dir, int *nseg)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	uint64_t t = 0;
	*nseg = 0;
	while ((de = readdir(d))) {
		uint64_t a, b;
		bool seg = seg_name_parse(de->d_name, &a, &b) == 0;
		if (!seg && !strstr(de->d_name, ".idx"))
			continue;
		*nseg += seg;
		char p[4096];
		struct stat st;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		stat(p, &st);
		t += (uint64_t)st.st_size;
	}
	closedir(d);
	return t;
}

static void test_retention(void **state)
{
	char *dir = tmpdir();
	uint64_t now = (uint64_t)time(NULL) * 1000000000ULL;
	/* two days old, then current: age retention drops the old ones */
	struct gev *old = gens(now - 2 * 86400ULL * 1000000000ULL);
	struct gev *cur = gens(now - 10ULL * 1000000000ULL);
	struct store_opts o = {.block_bytes = 4096, .segment_max_bytes = 32 << 10, .retention_age_s = 86400};
	write_all(dir, old, 0, NG, &o, 50);
	write_all(dir, cur, 0, 1000, &o, 50);
	struct rows r;
	struct store_query q = q_all();
	struct strbuf warn;
	sb_init(&warn);
	query(dir, &q, &r, &warn);
	/* all current events; of the old ones at most those sharing a segment
	 * with current events */
	size_t fresh = 0;
	for (size_t i = 0; i < r.n; i++)
		fresh += r.ts[i] >= now - 3600ULL * 1000000000ULL;
	assert_int_equal(fresh, 1000);
	assert_true(r.n - fresh < 400);
	rows_free(&r);
	rmtree(dir);

	/* size: at most the limit plus the open segment remain, the newest */
	mkdir(dir, 0700);
	struct store_opts o2 = {.block_bytes = 4096, .segment_max_bytes = 32 << 10, .retention_bytes = 100 << 10};
	write_all(dir, cur, 0, NG, &o2, 50);
	int nseg;
	uint64_t bytes = dir_bytes(dir, &nseg);
	assert_true(bytes <= (100 << 10) + (48 << 10));
	assert_true(nseg >= 2);
	query(dir, &q, &r, &warn);
	/* tiny segments compress poorly (blocks of few events): a few hundred fit */
	if (!(r.n > 200 && r.n < NG))
		fail_msg("%zu rows", r.n);
	/* the newest survive: the last event written is there */
	bool last = false;
	for (size_t i = 0; i < r.n; i++)
		last |= !strcmp(r.v[i], cur[NG - 1].json);
	assert_true(last);
	rows_free(&r);
	assert_int_equal(warn.len, 0);
	sb_free(&warn);
	free(old);
	free(cur);
	rmtree(dir);
	free(dir);
}

/* Stats and a store that cannot be shared by two writers. */
static void test_stats_and_lock(void **state)
{
	char *dir = tmpdir();
	struct gev *g = gens(1795000000000000000ULL);
	struct store *s, *s2;
	char err[256];
	struct store_opts o = {.dir = dir};
	assert_int_equal(store_open(&s, &o, err, sizeof(err)), 0);
	assert_int_equal(store_open(&s2, &o, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "in use"));
	for (int i = 0; i < 100; i++)
		store_append(s, g[i].json, strlen(g[i].json), NULL, g[i].ts);
	struct store_stats st;
	store_stats(s, &st);
	assert_int_equal(st.events_written, 0);
	assert_int_equal(store_flush(s), 0);
	store_stats(s, &st);
	assert_int_equal(st.events_written, 100);
	assert_false(st.disk_full);
	assert_int_equal(st.dropped_disk_full, 0);
	assert_int_equal(st.segments, 1);
	store_close(s);
	free(g);
	rmtree(dir);
	free(dir);
}

/* The store's thread: what is handed over is stored, in order, by the
 * time it stops; and it flushes on its interval without being asked. */
static void test_writer(void **state)
{
	int n;
	char **ev = fixture(&n);
	char *dir = tmpdir();
	struct store *s;
	char err[256];
	struct store_opts o = {.dir = dir, .block_bytes = 8192};
	assert_int_equal(store_open(&s, &o, err, sizeof(err)), 0);
	struct store_writer *w;
	assert_int_equal(store_writer_start(&w, s, 20, 64 << 20), 0);
	assert_int_equal(store_writer_append(w, ev[0], strlen(ev[0]), ts_of(ev[0])), 0);
	store_writer_commit(w);
	/* one event and no more: the interval flush makes it durable */
	struct store_stats st = {0};
	for (int i = 0; i < 200 && st.events_written == 0; i++) {
		usleep(10000);
		store_stats(s, &st);
	}
	assert_int_equal(st.events_written, 1);
	for (int i = 1; i < n; i++)
		assert_int_equal(store_writer_append(w, ev[i], strlen(ev[i]), ts_of(ev[i])), 0);
	store_writer_stop(w);
	store_stats(s, &st);
	assert_int_equal(st.events_written, n);
	store_close(s);
	assert_store_holds(dir, ev, n);
	rmtree(dir);
	free(dir);
	free(ev[0]);
	free(ev);
}

/* Past its bound in bytes the queue refuses events and counts them. */
static void test_writer_bound(void **state)
{
	int n;
	char **ev = fixture(&n);
	char *dir = tmpdir();
	struct store *s;
	char err[256];
	struct store_opts o = {.dir = dir};
	assert_int_equal(store_open(&s, &o, err, sizeof(err)), 0);
	struct store_writer *w;
	size_t shortest = strlen(ev[0]);
	for (int i = 1; i < n; i++)
		if (strlen(ev[i]) < shortest)
			shortest = strlen(ev[i]);
	assert_int_equal(store_writer_start(&w, s, 20, shortest - 1), 0);
	for (int i = 0; i < n; i++)
		assert_int_equal(store_writer_append(w, ev[i], strlen(ev[i]), ts_of(ev[i])), 1);
	struct store_writer_stats ws;
	store_writer_stats(w, &ws);
	assert_int_equal(ws.dropped_backlog, n);
	assert_int_equal(ws.queued, 0);
	assert_int_equal(ws.queued_bytes, 0);
	store_writer_stop(w);
	struct store_stats st;
	store_stats(s, &st);
	assert_int_equal(st.events_written, 0);
	store_close(s);
	rmtree(dir);
	free(dir);
	free(ev[0]);
	free(ev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_codec_real_events),
		cmocka_unit_test(test_codec_edge_cases),
		cmocka_unit_test(test_codec_timestamps),
		cmocka_unit_test(test_codec_garbage),
		cmocka_unit_test(test_codec_repeated_objects),
		cmocka_unit_test(test_codec_repeated_random),
		cmocka_unit_test(test_store_queries),
		cmocka_unit_test(test_index_lookups),
		cmocka_unit_test(test_store_real_events),
		cmocka_unit_test(test_crash_recovery),
		cmocka_unit_test(test_torn_tail),
		cmocka_unit_test(test_corrupt_segments),
		cmocka_unit_test(test_retention),
		cmocka_unit_test(test_stats_and_lock),
		cmocka_unit_test(test_writer),
		cmocka_unit_test(test_writer_bound),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
