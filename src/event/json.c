/* ECS JSON encoding of events. Field names follow ECS where it has one;
 * the rest lives under "vigil". */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include "event.h"
#include "flat.h"
#include "../sensor/blob.h"
#include "xattr.h"

/* ---- the flat sink ---------------------------------------------------
 * vg_event_json_flat builds the event's flat view (what vg_flatten_json
 * would give for the JSON) while it writes the JSON: every jw_* call below
 * goes through these wrappers (the macros after them), which track the
 * dotted name of the current object per writer and record each value.
 * The "vigil" object has its own writer and comes last in the JSON, so its
 * fields are held back and appended at the end, giving the same order. */
struct fsink_w {
	const struct jw *w;
	int top;
	uint32_t stack[34]; /* dotted name id of each open object/array */
};
/* The encoder writes an event type's fields in almost the same order every
 * time, each under a string literal key: the n-th field of the last event
 * of this type, remembered by (key pointer, parent), gives the field id
 * without hashing the key. Keys in this file are literals or static
 * tables, never buffers whose text could change under the same pointer. */
#define SEQ_TYPES 64
#define SEQ_LEN 256
struct seq_ent {
	const char *key;
	uint32_t parent, id;
};
struct fsink {
	struct vg_flat *fl;
	struct fsink_w ws[2];  /* [0] the top-level writer, [1] the "vigil" one */
	struct seq_ent *seq;   /* this event type's remembered fields, or NULL */
	int pos;               /* fields named so far in this event */
	int npend;             /* [1]'s fields, held back: val = arena offset */
	struct vg_flat_field pend[VG_FLAT_MAX];
};
static __thread struct fsink *fsink;
static __thread struct seq_ent *seq_tab; /* [SEQ_TYPES][SEQ_LEN], per thread */

static uint32_t sink_child(struct fsink *s, uint32_t parent, const char *key)
{
	struct seq_ent *e = s->seq && s->pos < SEQ_LEN ? &s->seq[s->pos] : NULL;
	s->pos++;
	if (e && e->key == key && e->parent == parent)
		return e->id;
	uint32_t id = vg_field_child(parent, key);
	if (e)
		*e = (struct seq_ent){.key = key, .parent = parent, .id = id};
	return id;
}

static struct fsink_w *sink_of(const struct jw *w)
{
	struct fsink *s = fsink;
	if (!s)
		return NULL;
	return s->ws[0].w == w ? &s->ws[0] : s->ws[1].w == w ? &s->ws[1] : NULL;
}

static void sink_put(struct fsink_w *sw, const char *key, const char *val, size_t n)
{
	struct fsink *s = fsink;
	uint32_t id = key ? sink_child(s, sw->stack[sw->top], key) : sw->stack[sw->top];
	if (sw == &s->ws[0]) {
		vg_flat_put(s->fl, id, val, n);
		return;
	}
	if (s->npend >= VG_FLAT_MAX)
		return;
	long off = vg_flat_reserve(s->fl, n);
	if (off < 0)
		return;
	memcpy(s->fl->arena + off, val, n);
	s->pend[s->npend++] = (struct vg_flat_field){.name = id, .len = (uint32_t)n, .val = (const char *)(intptr_t)off};
}

static void sink_open(struct jw *w, const char *key)
{
	struct fsink_w *sw = sink_of(w);
	if (!sw)
		return;
	uint32_t id = key ? sink_child(fsink, sw->stack[sw->top], key) : sw->stack[sw->top];
	if (sw->top < 33)
		sw->top++;
	sw->stack[sw->top] = id;
}

static void sink_close(struct jw *w)
{
	struct fsink_w *sw = sink_of(w);
	if (sw && sw->top > 0)
		sw->top--;
}

static void fj_obj_open(struct jw *w, const char *key)
{
	jw_obj_open(w, key);
	sink_open(w, key);
}

static void fj_obj_close(struct jw *w)
{
	jw_obj_close(w);
	sink_close(w);
}

static void fj_arr_open(struct jw *w, const char *key)
{
	jw_arr_open(w, key);
	sink_open(w, key);
}

static void fj_arr_close(struct jw *w)
{
	jw_arr_close(w);
	sink_close(w);
}

static void fj_strn(struct jw *w, const char *key, const char *val, size_t n)
{
	jw_strn(w, key, val, n);
	struct fsink_w *sw = sink_of(w);
	if (sw)
		sink_put(sw, key, val, n);
}

static void fj_str(struct jw *w, const char *key, const char *val)
{
	fj_strn(w, key, val ? val : "", val ? strlen(val) : 0);
}

/* Integers are formatted here (one pass, no printf) and written raw:
 * the same text as "%lld"/"%llu". */
static size_t fmt_u64(char *out, uint64_t v)
{
	static const char pairs[201] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
				       "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
				       "8081828384858687888990919293949596979899";
	/* two digits per division, written backwards from the end of tmp */
	char tmp[24];
	char *p = tmp + sizeof(tmp);
	while (v >= 100) {
		unsigned r = (unsigned)(v % 100);
		v /= 100;
		p -= 2;
		memcpy(p, pairs + 2 * r, 2);
	}
	if (v >= 10) {
		p -= 2;
		memcpy(p, pairs + 2 * v, 2);
	} else {
		*--p = (char)('0' + v);
	}
	size_t n = (size_t)(tmp + sizeof(tmp) - p);
	memcpy(out, p, n);
	out[n] = 0;
	return n;
}

static void put_num(struct jw *w, const char *key, const char *num, size_t n)
{
	jw_rawn(w, key, num, n);
	struct fsink_w *sw = sink_of(w);
	if (sw)
		sink_put(sw, key, num, n);
}

static void fj_uint(struct jw *w, const char *key, uint64_t v)
{
	char buf[24];
	put_num(w, key, buf, fmt_u64(buf, v));
}

static void fj_int(struct jw *w, const char *key, int64_t v)
{
	char buf[24];
	size_t n;
	if (v < 0) {
		buf[0] = '-';
		n = 1 + fmt_u64(buf + 1, 0 - (uint64_t)v);
	} else {
		n = fmt_u64(buf, (uint64_t)v);
	}
	put_num(w, key, buf, n);
}

static void fj_bool(struct jw *w, const char *key, bool v)
{
	put_num(w, key, v ? "true" : "false", v ? 4 : 5);
}

/* Raw JSON: its fields are flattened under the key. */
static void fj_raw(struct jw *w, const char *key, const char *json)
{
	jw_raw(w, key, json);
	struct fsink_w *sw = sink_of(w);
	if (!sw || sw != &fsink->ws[0] || !json)
		return;
	uint32_t id = key ? vg_field_child(sw->stack[sw->top], key) : sw->stack[sw->top];
	(void)vg_flat_put_json(fsink->fl, id, json, strlen(json));
}

static __thread struct fsink sink_store;

static struct fsink *sink_begin(struct vg_flat *fl, const struct jw *w, unsigned type)
{
	struct fsink *s = &sink_store;
	s->fl = fl;
	s->npend = 0;
	s->pos = 0;
	if (!seq_tab)
		seq_tab = calloc(SEQ_TYPES * SEQ_LEN, sizeof(*seq_tab)); /* NULL: no memory, no shortcut */
	s->seq = seq_tab && type < SEQ_TYPES ? seq_tab + (size_t)type * SEQ_LEN : NULL;
	s->ws[0] = (struct fsink_w){.w = w, .stack = {VG_FIELD_ROOT}};
	s->ws[1].w = NULL;
	vg_flat_begin(fl);
	fsink = s;
	return s;
}

/* The held-back "vigil" fields go last, as in the JSON. */
static void sink_end(struct fsink *s)
{
	if (!s)
		return;
	struct vg_flat *fl = s->fl;
	for (int i = 0; i < s->npend && fl->n < VG_FLAT_MAX; i++)
		fl->f[fl->n++] = s->pend[i];
	vg_flat_end(fl);
	fsink = NULL;
}

#define jw_obj_open(w, k) fj_obj_open(w, k)
#define jw_obj_close(w) fj_obj_close(w)
#define jw_arr_open(w, k) fj_arr_open(w, k)
#define jw_arr_close(w) fj_arr_close(w)
#define jw_str(w, k, v) fj_str(w, k, v)
#define jw_strn(w, k, v, n) fj_strn(w, k, v, n)
#define jw_int(w, k, v) fj_int(w, k, v)
#define jw_uint(w, k, v) fj_uint(w, k, v)
#define jw_bool(w, k, v) fj_bool(w, k, v)
#define jw_raw(w, k, v) fj_raw(w, k, v)

#define REC(ev, T) ((const T *)(ev)->rec.raw)

/* RFC 3339 UTC with nanoseconds. The date and time of day change once a
 * second, so they are formatted once per second per thread; the
 * nanoseconds are written digit by digit (every event has a timestamp). */
static void put_time(struct jw *w, const char *key, uint64_t wall_ns)
{
	static __thread char prefix[48];
	static __thread size_t prefix_len;
	static __thread uint64_t prefix_secs = UINT64_MAX;
	uint64_t secs = wall_ns / 1000000000ULL;
	if (secs != prefix_secs) {
		time_t t = (time_t)secs;
		struct tm tm;
		prefix_len = gmtime_r(&t, &tm) ? strftime(prefix, sizeof(prefix), "%Y-%m-%dT%H:%M:%S", &tm) : 0;
		prefix_secs = prefix_len ? secs : UINT64_MAX;
	}
	char buf[64];
	memcpy(buf, prefix, prefix_len);
	char *o = buf + prefix_len;
	*o++ = '.';
	uint64_t ns = wall_ns % 1000000000ULL;
	for (int i = 8; i >= 0; i--, ns /= 10)
		o[i] = (char)('0' + ns % 10);
	o += 9;
	*o++ = 'Z';
	jw_strn(w, key, buf, (size_t)(o - buf));
}

static void put_blob_str(struct jw *w, const char *key, const struct vg_event *ev, struct vg_blob b)
{
	size_t n;
	const char *s = vg_blob_str(ev->rec.raw, ev->len, b, &n);
	if (s)
		jw_strn(w, key, s, n);
}

/* Resolved absolute path of a vg_path, or "" */
static size_t resolve(const struct vg_event *ev, const struct vg_path *p, char *out, size_t cap)
{
	size_t n, bn;
	const char *s = vg_blob_str(ev->rec.raw, ev->len, p->path, &n);
	const char *base = vg_blob_str(ev->rec.raw, ev->len, p->base, &bn);
	char path[4096], bpath[4096];
	out[0] = 0;
	if (!s)
		return 0;
	/* NUL-terminated copies, cut at the buffers (as "%.*s" would) */
	n = strnlen(s, n < sizeof(path) - 1 ? n : sizeof(path) - 1);
	memcpy(path, s, n);
	path[n] = 0;
	if (path[0] != '/' && !vg_path_is_cut(path) && !base && ev->img && ev->img->cwd)
		base = ev->img->cwd, bn = strlen(ev->img->cwd);
	bn = base ? strnlen(base, bn < sizeof(bpath) - 1 ? bn : sizeof(bpath) - 1) : 0;
	if (bn)
		memcpy(bpath, base, bn);
	bpath[bn] = 0;
	return vg_path_resolve(bpath, path, out, cap);
}

static void put_errno(struct jw *w, int64_t ret)
{
	if (ret >= 0)
		return;
	uint64_t e = 0 - (uint64_t)ret; /* no overflow for INT64_MIN */
	const char *name = e <= 4095 ? strerrorname_np((int)e) : NULL;
	jw_obj_open(w, "error");
	jw_str(w, "code", name ? name : "unknown");
	jw_uint(w, "errno", e);
	jw_obj_close(w);
}

static void put_args(struct jw *w, const struct proc_image *img, bool with_cmdline)
{
	if (!img->argv)
		return;
	jw_arr_open(w, "args");
	size_t i = 0;
	while (i < img->argv_len) {
		size_t n = strnlen(img->argv + i, img->argv_len - i);
		jw_strn(w, NULL, img->argv + i, n);
		i += n + 1;
	}
	jw_arr_close(w);
	jw_int(w, "args_count", img->argc);
	if (with_cmdline) {
		/* the command line is argv joined by spaces, as ps shows it */
		struct strbuf sb;
		sb_init(&sb);
		sb_put(&sb, img->argv, img->argv_len);
		for (size_t k = 0; k < sb.len; k++)
			if (sb.buf[k] == 0)
				sb.buf[k] = ' ';
		jw_strn(w, "command_line", sb.buf ? sb.buf : "", sb.len);
		sb_free(&sb);
	}
}

static void put_image_basics(struct jw *w, const struct proc_image *img)
{
	if (img->exe)
		jw_str(w, "executable", img->exe);
	put_args(w, img, true);
}

/* An ancestor on an exec event: its command line, capped, without the
 * args array. Every exec under a long command line (a JVM's class path, a
 * CI runner's arguments) repeated it whole, twice, at each of eight levels:
 * three quarters of an exec event's bytes on a host whose chain has one 2
 * KiB command line. Each ancestor's full argv is on its own exec event. */
#define ANCESTOR_CMDLINE_MAX 1024
static void put_ancestor(struct jw *w, const struct proc_image *img)
{
	if (img->exe)
		jw_str(w, "executable", img->exe);
	if (!img->argv)
		return;
	char line[ANCESTOR_CMDLINE_MAX];
	size_t n = img->argv_len < sizeof(line) ? img->argv_len : sizeof(line);
	bool cut = n < img->argv_len;
	/* not in the middle of a UTF-8 sequence */
	if (cut)
		while (n && ((unsigned char)img->argv[n] & 0xc0) == 0x80)
			n--;
	for (size_t i = 0; i < n; i++)
		line[i] = img->argv[i] ? img->argv[i] : ' ';
	jw_strn(w, "command_line", line, n);
	jw_int(w, "args_count", img->argc);
	if (cut || img->argv_truncated)
		jw_bool(w, "command_line_truncated", true);
}

static const char *fd_kind(uint32_t k)
{
	static const char *names[] = {"none", "tty", "char_device", "pipe", "file", "socket", "other"};
	return k < sizeof(names) / sizeof(names[0]) ? names[k] : "other";
}

static void put_addr(struct jw *w, const char *key, const struct vg_sockaddr *a)
{
	char ip[INET6_ADDRSTRLEN] = "";
	if (a->family == AF_INET)
		inet_ntop(AF_INET, a->addr, ip, sizeof(ip));
	else if (a->family == AF_INET6)
		inet_ntop(AF_INET6, a->addr, ip, sizeof(ip));
	else
		return;
	jw_obj_open(w, key);
	jw_str(w, "ip", ip);
	jw_uint(w, "port", a->port);
	jw_obj_close(w);
}

static const char *transport(uint16_t type, uint16_t proto)
{
	if (proto == 6)
		return "tcp";
	if (proto == 17)
		return "udp";
	if (type == SOCK_STREAM)
		return "tcp";
	if (type == SOCK_DGRAM)
		return "udp";
	if (type == SOCK_RAW)
		return "raw";
	return "other";
}

static void put_network(struct jw *w, const struct vg_sock *s, const char *direction)
{
	jw_obj_open(w, "network");
	jw_str(w, "transport", transport(s->type, s->protocol));
	jw_str(w, "type", s->family == AF_INET6 ? "ipv6" : s->family == AF_INET ? "ipv4" : "other");
	if (direction)
		jw_str(w, "direction", direction);
	jw_obj_close(w);
}

static void put_sock(struct jw *w, const char *key, const struct vg_sock *s)
{
	jw_obj_open(w, key);
	jw_str(w, "transport", transport(s->type, s->protocol));
	jw_uint(w, "family", s->family);
	put_addr(w, "local", &s->local);
	put_addr(w, "remote", &s->remote);
	jw_obj_close(w);
}

/* The fields of process that come from its image (executable, args,
 * command line, working directory, hash, environment): constant for the
 * image, and written for every event of the process. */
static void put_image_fields(struct jw *w, const struct proc_image *img)
{
	put_image_basics(w, img);
	if (img->argv_truncated)
		jw_bool(w, "args_truncated", true);
	if (img->cwd)
		jw_str(w, "working_directory", img->cwd);
	if (img->sha256[0]) {
		jw_obj_open(w, "hash");
		jw_str(w, "sha256", img->sha256);
		jw_obj_close(w);
	}
	if (img->ld_preload || img->ssh_connection) {
		jw_arr_open(w, "env_vars");
		char kv[4200];
		if (img->ld_preload) {
			snprintf(kv, sizeof(kv), "LD_PRELOAD=%s", img->ld_preload);
			jw_str(w, NULL, kv);
		}
		if (img->ssh_connection) {
			snprintf(kv, sizeof(kv), "SSH_CONNECTION=%s", img->ssh_connection);
			jw_str(w, NULL, kv);
		}
		jw_arr_close(w);
	}
}

/* The image's fields are encoded once (JSON bytes and flat fields) and
 * copied for the process's later events: a process that makes a storm of
 * file events had them re-encoded for each, a quarter of vigild's CPU.
 * Two copies per image: as the process (IMG_SELF, put_image_fields) and as
 * a parent (IMG_PARENT, put_image_basics under process.parent). Rebuilt
 * when the hash arrives or when a flat is wanted and the copy has none.
 * Only the output thread encodes, so the cache needs no lock; the image's
 * last reference frees it (one block per copy). */
enum { IMG_SELF, IMG_PARENT };
struct enc_field {
	uint32_t id, len, off;
};
struct img_enc {
	uint32_t jlen, nflat, npos;
	bool hash, flat;
	struct enc_field f[]; /* nflat of them, then the JSON bytes, then the values */
};

/* A kept stretch of an encoding (the image's fields here, a thread's
 * process object below) is enc_field[nflat], then its JSON bytes, then the
 * flat values: copied into a later event by enc_put, made by enc_save from
 * what was written since an enc_mark. */
struct enc_mark {
	size_t j0;
	int n0, p0;
	unsigned d0;
};

static struct enc_mark enc_mark(const struct jw *w, const struct fsink_w *sw)
{
	const struct fsink *s = fsink;
	return (struct enc_mark){.j0 = w->sb->len, .n0 = sw ? s->fl->n : 0, .p0 = sw ? s->pos : 0,
				 .d0 = sw ? s->fl->dropped : 0};
}

static void enc_put(struct jw *w, const struct fsink_w *sw, const struct enc_field *f, uint32_t nflat,
		    uint32_t jlen, uint32_t npos)
{
	const char *json = (const char *)&f[nflat];
	sb_put(w->sb, json, jlen);
	if (!sw)
		return;
	struct fsink *s = fsink;
	const char *vals = json + jlen;
	for (uint32_t i = 0; i < nflat; i++)
		vg_flat_put(s->fl, f[i].id, vals + f[i].off, f[i].len);
	s->pos += (int)npos;
}

/* The size of a copy of what was written since m (nf, jlen, npos set), or
 * 0 when none may be kept: a copy must hold every field, and one made while
 * the flat was full (a child with hundreds of args before its parent's
 * fields) would leave them out of every later event. */
static size_t enc_size(const struct jw *w, const struct fsink_w *sw, const struct enc_mark *m, uint32_t *nf,
		       uint32_t *jlen, uint32_t *npos)
{
	const struct fsink *s = fsink;
	if (w->sb->oom || (sw && s->fl->dropped != m->d0))
		return 0;
	*nf = sw ? (uint32_t)(s->fl->n - m->n0) : 0;
	*jlen = (uint32_t)(w->sb->len - m->j0);
	*npos = sw ? (uint32_t)(s->pos - m->p0) : 0;
	size_t vlen = 0;
	for (uint32_t i = 0; i < *nf; i++)
		vlen += s->fl->f[m->n0 + (int)i].len;
	return *nf * sizeof(struct enc_field) + *jlen + vlen;
}

static void enc_save(const struct jw *w, const struct enc_mark *m, struct enc_field *f, uint32_t nf, uint32_t jlen)
{
	const struct fsink *s = fsink;
	char *json = (char *)&f[nf];
	memcpy(json, w->sb->buf + m->j0, jlen);
	char *vals = json + jlen;
	uint32_t off = 0;
	for (uint32_t i = 0; i < nf; i++) {
		const struct vg_flat_field *ff = &s->fl->f[m->n0 + (int)i];
		/* between vg_flat_begin and vg_flat_end val is an arena offset */
		memcpy(vals + off, s->fl->arena + (intptr_t)ff->val, ff->len);
		f[i] = (struct enc_field){.id = ff->name, .len = ff->len, .off = off};
		off += ff->len;
	}
}

static void put_image_cached(struct jw *w, struct proc_image *img, int which)
{
	struct fsink *s = fsink;
	struct fsink_w *sw = sink_of(w);
	bool hash = img->sha256[0] != 0;
	/* the copy starts with its separator: only after a member */
	bool usable = w->need_comma[w->depth] && (!sw || sw == &s->ws[0]);
	struct img_enc *c = img->enc_cache[which];
	if (usable && c && c->hash == hash && (c->flat || !sw)) {
		enc_put(w, sw, c->f, c->nflat, c->jlen, c->npos);
		return;
	}
	struct enc_mark m = enc_mark(w, sw);
	if (which == IMG_SELF)
		put_image_fields(w, img);
	else
		put_image_basics(w, img);
	uint32_t nf, jlen, npos;
	size_t need = usable ? enc_size(w, sw, &m, &nf, &jlen, &npos) : 0;
	struct img_enc *nc = need ? malloc(sizeof(*nc) + need) : NULL;
	if (!nc)
		return;
	*nc = (struct img_enc){.jlen = jlen, .nflat = nf, .npos = npos, .hash = hash, .flat = sw != NULL};
	enc_save(w, &m, nc->f, nf, jlen);
	free(img->enc_cache[which]);
	img->enc_cache[which] = nc;
}

/* "key":{"id":v}, the ECS shape of users, groups and related processes */
static void put_id(struct jw *w, const char *key, const char *id_key, uint64_t v)
{
	jw_obj_open(w, key);
	jw_uint(w, id_key, v);
	jw_obj_close(w);
}

static void put_process_fields(struct jw *w, const struct vg_event *ev)
{
	const struct vg_task_ctx *t = &ev->rec.hdr.task;
	const struct proc_image *img = ev->img;
	jw_obj_open(w, "process");
	jw_uint(w, "pid", t->pid);
	jw_uint(w, "vpid", t->ns_pid);
	jw_obj_open(w, "thread");
	jw_uint(w, "id", t->tid);
	jw_obj_close(w);
	jw_strn(w, "name", t->comm, strnlen(t->comm, VG_COMM_LEN)); /* may lack its NUL */
	char eid[64];
	size_t en = fmt_u64(eid, t->pid);
	eid[en++] = '-';
	en += fmt_u64(eid + en, t->start_ns);
	jw_strn(w, "entity_id", eid, en);
	jw_uint(w, "start_ns", t->start_ns);
	if (img)
		put_image_cached(w, (struct proc_image *)img, IMG_SELF);
	jw_obj_open(w, "tty");
	if (img && img->tty)
		jw_str(w, "name", img->tty);
	jw_obj_close(w);
	jw_obj_open(w, "parent");
	jw_uint(w, "pid", t->ppid);
	if (ev->parent)
		put_image_cached(w, ev->parent, IMG_PARENT);
	jw_obj_close(w);
	put_id(w, "group_leader", "pid", t->pgid);
	put_id(w, "session_leader", "pid", t->sid);
	put_id(w, "user", "id", t->euid);
	put_id(w, "real_user", "id", t->uid);
	put_id(w, "group", "id", t->egid);
	put_id(w, "real_group", "id", t->gid);
	jw_obj_close(w);
	jw_obj_open(w, "user");
	jw_uint(w, "id", t->uid);
	put_id(w, "effective", "id", t->euid);
	jw_obj_close(w);
	put_id(w, "group", "id", t->gid);
}

/* The process, user and group objects are a function of the task context,
 * the process's image and its parent's: a thread's events in a row (a file
 * storm) repeat them byte for byte, and encoding them was most of an
 * event's JSON. So they are kept per thread slot (JSON bytes and flat
 * fields) and copied while those inputs stay the same. Images are named by
 * serial, not pointer: a freed image's address can come back. */
#define PCTX_SLOTS 64
struct pctx_key {
	struct vg_task_ctx t;
	uint64_t img, parent;   /* serials, 0 = none */
	bool img_hash, parent_hash;
};
struct pctx_ent {
	struct pctx_key k;
	bool valid, flat;
	uint32_t jlen, nflat, npos, cap;
	char *buf;              /* struct enc_field[nflat], the JSON, the values */
};
static __thread struct pctx_ent *pctx; /* [PCTX_SLOTS], per thread */

static bool pctx_key_of(const struct vg_event *ev, struct pctx_key *k)
{
	memset(k, 0, sizeof(*k));
	memcpy(&k->t, &ev->rec.hdr.task, sizeof(k->t));
	if (ev->img) {
		if (!ev->img->serial) /* not from the process cache (tests) */
			return false;
		k->img = ev->img->serial;
		k->img_hash = ev->img->sha256[0] != 0;
	}
	if (ev->parent) {
		if (!ev->parent->serial)
			return false;
		k->parent = ev->parent->serial;
		k->parent_hash = ev->parent->sha256[0] != 0;
	}
	return true;
}

static void put_process(struct jw *w, const struct vg_event *ev)
{
	struct fsink *s = fsink;
	struct fsink_w *sw = sink_of(w);
	struct pctx_key k;
	/* the copy starts with its separator: inside the event, after a member */
	bool usable = w->depth == 1 && w->need_comma[1] && (!sw || sw == &s->ws[0]) && pctx_key_of(ev, &k);
	if (usable && !pctx)
		pctx = calloc(PCTX_SLOTS, sizeof(*pctx));
	struct pctx_ent *e = usable && pctx ? &pctx[ev->rec.hdr.task.tid % PCTX_SLOTS] : NULL;
	if (e && e->valid && (e->flat || !sw) && memcmp(&e->k, &k, sizeof(k)) == 0) {
		enc_put(w, sw, (const struct enc_field *)e->buf, e->nflat, e->jlen, e->npos);
		return;
	}
	struct enc_mark m = enc_mark(w, sw);
	put_process_fields(w, ev);
	if (!e)
		return;
	e->valid = false;
	uint32_t nf, jlen, npos;
	size_t need = enc_size(w, sw, &m, &nf, &jlen, &npos);
	if (!need)
		return;
	if (need > e->cap) {
		char *nb = realloc(e->buf, need);
		if (!nb)
			return;
		e->buf = nb;
		e->cap = (uint32_t)need;
	}
	enc_save(w, &m, (struct enc_field *)e->buf, nf, jlen);
	e->k = k;
	e->jlen = jlen;
	e->nflat = nf;
	e->npos = npos;
	e->flat = sw != NULL;
	e->valid = true;
}

static void put_file(struct jw *w, const struct vg_event *ev, const char *key, const struct vg_path *p);

static void put_exec(struct jw *w, const struct vg_event *ev)
{
	const struct vg_exec *r = REC(ev, struct vg_exec);
	jw_obj_open(w, "exec");
	put_blob_str(w, "filename", ev, r->filename);
	if (r->interp.len) {
		/* a script: the kernel ran the interpreter (process.executable) on
		 * the file named in execve, resolved here against the cwd */
		struct vg_path script = {.path = r->filename, .base = r->cwd};
		put_file(w, ev, "script", &script);
		put_blob_str(w, "interpreter", ev, r->interp);
	}
	jw_bool(w, "execveat", (r->flags & VG_EXECVEAT) != 0);
	jw_bool(w, "memfd", (r->flags & VG_EXE_MEMFD) != 0);
	jw_bool(w, "tmpfs", (r->flags & VG_EXE_TMPFS) != 0);
	jw_bool(w, "deleted", (r->flags & VG_EXE_DELETED) != 0);
	jw_bool(w, "fileless", (r->flags & (VG_EXE_MEMFD | VG_EXE_TMPFS | VG_EXE_DELETED)) != 0);
	jw_bool(w, "setuid", (r->exe_mode & 04000) != 0);
	jw_bool(w, "setgid", (r->exe_mode & 02000) != 0);
	jw_uint(w, "inode", r->exe_ino);
	jw_uint(w, "dev", r->exe_dev);
	jw_uint(w, "size", r->exe_size);
	jw_uint(w, "owner_uid", r->exe_uid);
	jw_obj_close(w);
	static const char *stream[3] = {"stdin", "stdout", "stderr"};
	jw_obj_open(w, "stdio");
	for (int i = 0; i < 3; i++) {
		const struct vg_fdinfo *f = &r->fd[i];
		jw_obj_open(w, stream[i]);
		jw_str(w, "type", fd_kind(f->kind));
		if (f->kind == VG_FD_SOCKET)
			put_sock(w, "socket", &f->sock);
		else if (f->kind == VG_FD_PIPE && f->ino)
			jw_uint(w, "inode", f->ino); /* the same number at both ends of one pipe */
		else if (f->path.len)
			put_blob_str(w, "path", ev, f->path);
		jw_obj_close(w);
	}
	jw_obj_close(w);
	jw_arr_open(w, "ancestors");
	for (int i = 0; i < ev->nanc; i++) {
		jw_obj_open(w, NULL);
		jw_uint(w, "pid", ev->anc_pid[i]);
		if (ev->anc[i])
			put_ancestor(w, ev->anc[i]);
		jw_obj_close(w);
	}
	jw_arr_close(w);
}

static void put_file(struct jw *w, const struct vg_event *ev, const char *key, const struct vg_path *p)
{
	char path[4096];
	if (resolve(ev, p, path, sizeof(path)))
		jw_str(w, key, path);
}

static void mode_str(char *out, size_t n, uint32_t mode)
{
	if (n < 5)
		return;
	for (int i = 3; i >= 0; i--, mode >>= 3)
		out[i] = (char)('0' + (mode & 7));
	out[4] = 0;
}

static void put_file1(struct jw *w, struct jw *v, const struct vg_event *ev, unsigned type)
{
	const struct vg_file *r = REC(ev, struct vg_file);
	char m[16];
	jw_obj_open(w, "file");
	put_file(w, ev, "path", &r->target);
	if (r->ino)
		jw_uint(w, "inode", r->ino);
	if (type == VG_EV_FILE_CHMOD || type == VG_EV_FILE_CREATE) {
		mode_str(m, sizeof(m), r->mode);
		jw_str(w, "mode", m);
	}
	if (type == VG_EV_FILE_CHOWN) {
		jw_uint(w, "uid", r->uid);
		jw_uint(w, "gid", r->gid);
	}
	jw_obj_close(w);
	jw_obj_open(v, "file");
	if (type == VG_EV_FILE_CREATE || type == VG_EV_FILE_WRITE || type == VG_EV_FILE_READ_SENSITIVE) {
		jw_uint(v, "open_flags", r->open_flags);
		jw_bool(v, "truncated", (r->flags & VG_OPEN_TRUNC) != 0);
	}
	if (type == VG_EV_FILE_CHMOD) {
		bool known = r->old_mode != (uint32_t)-1;
		if (known) {
			mode_str(m, sizeof(m), r->old_mode);
			jw_str(v, "old_mode", m);
		}
		uint32_t old = known ? r->old_mode : 0;
		jw_bool(v, "exec_added", (r->mode & 0111) && (!known || !(old & 0111)));
		jw_bool(v, "setuid_added", (r->mode & 04000) && !(old & 04000));
		jw_bool(v, "setgid_added", (r->mode & 02000) && !(old & 02000));
	}
	if (type == VG_EV_FILE_UTIMES) {
		jw_int(v, "atime_ns", r->atime_ns);
		jw_int(v, "mtime_ns", r->mtime_ns);
	}
	if (type == VG_EV_FILE_UNLINK)
		jw_bool(v, "directory", (r->flags & 0x200 /* AT_REMOVEDIR */) != 0);
	jw_obj_close(v);
}

static void put_file2(struct jw *w, struct jw *v, const struct vg_event *ev, unsigned type)
{
	const struct vg_file2 *r = REC(ev, struct vg_file2);
	jw_obj_open(w, "file");
	if (type == VG_EV_FILE_RENAME) {
		put_file(w, ev, "path", &r->dst);
	} else if (type == VG_EV_FILE_SYMLINK) {
		put_file(w, ev, "path", &r->dst);
		put_blob_str(w, "target_path", ev, r->src.path); /* verbatim link text */
	} else {
		put_file(w, ev, "path", &r->dst);
		put_file(w, ev, "target_path", &r->src);
	}
	jw_obj_close(w);
	if (type == VG_EV_FILE_RENAME) {
		jw_obj_open(v, "file");
		put_file(v, ev, "old_path", &r->src);
		jw_uint(v, "flags", r->flags);
		jw_obj_close(v);
	}
}

static void put_file_id(struct jw *w, const struct vg_event *ev, const struct vg_path *p, uint64_t ino)
{
	jw_obj_open(w, "file");
	put_file(w, ev, "path", p);
	if (ino)
		jw_uint(w, "inode", ino);
	jw_obj_close(w);
}

/* The value of a security.capability or POSIX ACL attribute, decoded:
 * what a responder needs to judge it without a hex dump. */
static void put_xattr_value(struct jw *v, const struct vg_xattr *r, const char *name, const uint8_t *val,
			    size_t n)
{
	char text[512];
	if (strcmp(name, "security.capability") == 0) {
		struct vg_fcaps c;
		if (vg_fcaps_parse(val, n, &c) != 0) {
			jw_bool(v, "malformed", true);
			return;
		}
		jw_arr_open(v, "capabilities");
		for (int i = 0; i < 64; i++)
			if ((c.permitted | c.inheritable) & (1ull << i)) {
				const char *cn = vg_cap_name(i);
				char num[16];
				if (!cn) {
					snprintf(num, sizeof(num), "cap_%d", i);
					cn = num;
				}
				jw_str(v, NULL, cn);
			}
		jw_arr_close(v);
		jw_bool(v, "cap_effective", c.effective);
		vg_fcaps_text(&c, text, sizeof(text));
		jw_str(v, "cap_text", text);
		if (c.has_rootid)
			jw_uint(v, "cap_rootid", c.rootid);
	} else if (strncmp(name, "system.posix_acl_", 17) == 0) {
		/* the value may be cut at VG_XATTR_VALUE_MAX: decode whole entries */
		bool cut = r->size > n && n >= 4;
		size_t whole = cut ? 4 + (n - 4) / 8 * 8 : n;
		if (vg_acl_text(val, whole, text, sizeof(text)) != 0) {
			jw_bool(v, "malformed", true);
			return;
		}
		jw_str(v, "acl", text);
		if (cut)
			jw_bool(v, "acl_truncated", true);
	} else if (n) {
		static const char hexd[] = "0123456789abcdef";
		size_t k = 0;
		for (size_t i = 0; i < n && k + 2 < sizeof(text); i++) {
			text[k++] = hexd[val[i] >> 4];
			text[k++] = hexd[val[i] & 15];
		}
		text[k] = 0;
		jw_str(v, "value_hex", text);
	}
}

static void put_xattr(struct jw *w, struct jw *v, const struct vg_event *ev, unsigned type)
{
	const struct vg_xattr *r = REC(ev, struct vg_xattr);
	put_file_id(w, ev, &r->target, r->ino);
	size_t nlen, vlen;
	const char *name = vg_blob_str(ev->rec.raw, ev->len, r->name, &nlen);
	const char *val = vg_blob_bytes(ev->rec.raw, ev->len, r->value, &vlen);
	char nm[VG_NAME_MAX + 1];
	snprintf(nm, sizeof(nm), "%.*s", name ? (int)nlen : 0, name ? name : "");
	jw_obj_open(v, "xattr");
	jw_str(v, "name", nm);
	if (type == VG_EV_FILE_XATTR_SET) {
		jw_uint(v, "size", r->size);
		if (r->flags & 1)
			jw_str(v, "mode", "create");
		else if (r->flags & 2)
			jw_str(v, "mode", "replace");
		put_xattr_value(v, r, nm, (const uint8_t *)val, val ? vlen : 0);
	}
	jw_obj_close(v);
}

static void put_fsflags(struct jw *w, struct jw *v, const struct vg_event *ev)
{
	const struct vg_fsflags *r = REC(ev, struct vg_fsflags);
	put_file_id(w, ev, &r->target, r->ino);
	/* FS_IMMUTABLE_FL/FS_APPEND_FL, or FS_XFLAG_IMMUTABLE/FS_XFLAG_APPEND */
	bool fsx = r->how == VG_FLAGS_FSXATTR;
	jw_obj_open(v, "file");
	jw_str(v, "flags_call", fsx ? "FS_IOC_FSSETXATTR" : "FS_IOC_SETFLAGS");
	jw_uint(v, "flags", r->flags);
	jw_bool(v, "immutable", (r->flags & (fsx ? 0x8u : 0x10u)) != 0);
	jw_bool(v, "append_only", (r->flags & (fsx ? 0x10u : 0x20u)) != 0);
	jw_obj_close(v);
}

static void put_net(struct jw *w, struct jw *v, const struct vg_event *ev, unsigned type)
{
	const struct vg_net *r = REC(ev, struct vg_net);
	const char *dir = type == VG_EV_NET_CONNECT ? "egress" : type == VG_EV_NET_ACCEPT ? "ingress" : NULL;
	put_network(w, &r->sock, dir);
	if (type == VG_EV_NET_CONNECT) {
		/* the address argument is the destination even when the connect failed */
		put_addr(w, "destination", r->addr.family ? &r->addr : &r->sock.remote);
		put_addr(w, "source", &r->sock.local);
	} else if (type == VG_EV_NET_ACCEPT) {
		put_addr(w, "source", &r->sock.remote);
		put_addr(w, "destination", &r->sock.local);
	} else if (type == VG_EV_NET_BIND) {
		put_addr(w, "source", r->addr.family ? &r->addr : &r->sock.local);
	} else {
		put_addr(w, "source", &r->sock.local);
	}
	jw_obj_open(v, "net");
	jw_uint(v, "fd", r->fd);
	if (type == VG_EV_NET_LISTEN)
		jw_uint(v, "backlog", r->backlog);
	jw_obj_close(v);
}

static void put_dns(struct jw *w, const struct vg_event *ev)
{
	const struct vg_dns *r = REC(ev, struct vg_dns);
	struct vg_dns_question q;
	put_network(w, &r->sock, "egress");
	put_addr(w, "destination", &r->sock.remote);
	put_addr(w, "source", &r->sock.local);
	uint32_t n = r->len < VG_DNS_PAYLOAD ? r->len : VG_DNS_PAYLOAD;
	jw_obj_open(w, "dns");
	jw_str(w, "type", "query");
	if (vg_dns_parse(r->payload, n, &q) == 0) {
		jw_uint(w, "id", q.id);
		jw_obj_open(w, "question");
		jw_str(w, "name", q.name);
		const char *tn = vg_dns_type_name(q.qtype);
		char num[16];
		if (!tn) {
			snprintf(num, sizeof(num), "TYPE%u", q.qtype);
			tn = num;
		}
		jw_str(w, "type", tn);
		jw_obj_close(w);
	} else {
		jw_bool(w, "malformed", true);
	}
	jw_obj_close(w);
}

static void put_ids(struct jw *w, const char *key, uint32_t r, uint32_t e, uint32_t s, uint32_t fs)
{
	jw_obj_open(w, key);
	jw_uint(w, "real", r);
	jw_uint(w, "effective", e);
	jw_uint(w, "saved", s);
	jw_uint(w, "fs", fs);
	jw_obj_close(w);
}

static const char *cred_syscall(uint32_t s)
{
	static const char *names[] = {"setuid", "setgid", "setreuid", "setregid", "setresuid",
				      "setresgid", "setfsuid", "setfsgid", "capset"};
	return s < sizeof(names) / sizeof(names[0]) ? names[s] : "unknown";
}

static void put_creds(struct jw *w, const struct vg_event *ev)
{
	const struct vg_creds *r = REC(ev, struct vg_creds);
	char hex[24];
	jw_obj_open(w, "creds");
	jw_str(w, "syscall", cred_syscall(r->syscall));
	put_ids(w, "old_uid", r->old_uid, r->old_euid, r->old_suid, r->old_fsuid);
	put_ids(w, "new_uid", r->new_uid, r->new_euid, r->new_suid, r->new_fsuid);
	put_ids(w, "old_gid", r->old_gid, r->old_egid, r->old_sgid, r->old_fsgid);
	put_ids(w, "new_gid", r->new_gid, r->new_egid, r->new_sgid, r->new_fsgid);
	snprintf(hex, sizeof(hex), "0x%llx", (unsigned long long)r->old_cap_eff);
	jw_str(w, "old_cap_effective", hex);
	snprintf(hex, sizeof(hex), "0x%llx", (unsigned long long)r->new_cap_eff);
	jw_str(w, "new_cap_effective", hex);
	bool to_root = (r->new_uid == 0 || r->new_euid == 0) && r->old_uid != 0;
	jw_bool(w, "gained_root", to_root);
	jw_obj_close(w);
}

static const char *ptrace_req(int64_t r)
{
	switch (r) {
	case 0: return "PTRACE_TRACEME";
	case 1: return "PTRACE_PEEKTEXT";
	case 2: return "PTRACE_PEEKDATA";
	case 4: return "PTRACE_POKETEXT";
	case 5: return "PTRACE_POKEDATA";
	case 6: return "PTRACE_POKEUSER";
	case 7: return "PTRACE_CONT";
	case 8: return "PTRACE_KILL";
	case 12: return "PTRACE_GETREGS";
	case 13: return "PTRACE_SETREGS";
	case 16: return "PTRACE_ATTACH";
	case 17: return "PTRACE_DETACH";
	case 0x4205: return "PTRACE_SETREGSET";
	case 0x4206: return "PTRACE_SEIZE";
	case 0x4207: return "PTRACE_INTERRUPT";
	case VG_PTRACE_VM_WRITEV: return "process_vm_writev";
	case VG_PTRACE_VM_READV: return "process_vm_readv";
	default: return "other";
	}
}

static void put_target(struct jw *w, const struct vg_event *ev, uint32_t pid)
{
	jw_obj_open(w, "target");
	jw_uint(w, "pid", pid);
	if (ev->target)
		put_image_basics(w, ev->target);
	jw_obj_close(w);
}

static const char *sig_name(uint32_t s)
{
	static const char *n[] = {"0", "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT",
				  "SIGBUS", "SIGFPE", "SIGKILL", "SIGUSR1", "SIGSEGV", "SIGUSR2",
				  "SIGPIPE", "SIGALRM", "SIGTERM", "SIGSTKFLT", "SIGCHLD", "SIGCONT",
				  "SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGURG", "SIGXCPU",
				  "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO", "SIGPWR",
				  "SIGSYS"};
	return s < sizeof(n) / sizeof(n[0]) ? n[s] : "SIGRT";
}

static void put_specific(struct jw *w, struct jw *v, const struct vg_event *ev)
{
	unsigned type = ev->rec.hdr.type;
	switch (type) {
	case VG_EV_EXEC: {
		put_exec(v, ev);
		return;
	}
	case VG_EV_EXEC_FAIL: {
		const struct vg_exec_fail *r = REC(ev, struct vg_exec_fail);
		jw_obj_open(w, "file");
		put_blob_str(w, "path", ev, r->filename);
		jw_obj_close(w);
		return;
	}
	case VG_EV_FORK: {
		const struct vg_fork *r = REC(ev, struct vg_fork);
		jw_obj_open(v, "child");
		jw_uint(v, "pid", r->child_pid);
		jw_uint(v, "start_ns", r->child_start_ns);
		jw_obj_close(v);
		return;
	}
	case VG_EV_EXIT: {
		const struct vg_exit *r = REC(ev, struct vg_exit);
		uint32_t sig = r->exit_code & 0x7f;
		jw_int(v, "exit_code", sig ? -1 : (int)((r->exit_code >> 8) & 0xff));
		if (sig) {
			jw_uint(v, "exit_signal", sig);
			jw_str(v, "exit_signal_name", sig_name(sig));
		}
		jw_bool(v, "core_dumped", (r->exit_code & 0x80) != 0);
		return;
	}
	case VG_EV_SETSID:
		return;
	case VG_EV_COMM: {
		const struct vg_comm *r = REC(ev, struct vg_comm);
		jw_obj_open(v, "comm");
		jw_strn(v, "old", r->old_comm, strnlen(r->old_comm, VG_COMM_LEN));
		jw_strn(v, "new", r->new_comm, strnlen(r->new_comm, VG_COMM_LEN));
		jw_bool(v, "kernel_thread_like", r->new_comm[0] == '[');
		jw_obj_close(v);
		put_target(v, ev, r->target_pid);
		return;
	}
	case VG_EV_MEMFD: {
		const struct vg_memfd *r = REC(ev, struct vg_memfd);
		jw_obj_open(w, "file");
		put_blob_str(w, "name", ev, r->name);
		jw_obj_close(w);
		jw_obj_open(v, "memfd");
		jw_uint(v, "flags", r->flags);
		jw_bool(v, "cloexec", (r->flags & 1) != 0);
		jw_bool(v, "allow_sealing", (r->flags & 2) != 0);
		jw_bool(v, "exec", (r->flags & 0x10) != 0);
		jw_int(v, "fd", ev->rec.hdr.ret);
		jw_obj_close(v);
		return;
	}
	case VG_EV_FILE_CREATE:
	case VG_EV_FILE_WRITE:
	case VG_EV_FILE_READ_SENSITIVE:
	case VG_EV_FILE_UNLINK:
	case VG_EV_FILE_CHMOD:
	case VG_EV_FILE_CHOWN:
	case VG_EV_FILE_TRUNCATE:
	case VG_EV_FILE_UTIMES:
		put_file1(w, v, ev, type);
		return;
	case VG_EV_FILE_RENAME:
	case VG_EV_FILE_LINK:
	case VG_EV_FILE_SYMLINK:
		put_file2(w, v, ev, type);
		return;
	case VG_EV_FILE_XATTR_SET:
	case VG_EV_FILE_XATTR_REMOVE:
		put_xattr(w, v, ev, type);
		return;
	case VG_EV_FILE_FLAGS:
		put_fsflags(w, v, ev);
		return;
	case VG_EV_NET_CONNECT:
	case VG_EV_NET_ACCEPT:
	case VG_EV_NET_BIND:
	case VG_EV_NET_LISTEN:
		put_net(w, v, ev, type);
		return;
	case VG_EV_NET_DNS:
		put_dns(w, ev);
		return;
	case VG_EV_NET_SOCKET: {
		const struct vg_socket *r = REC(ev, struct vg_socket);
		jw_obj_open(v, "socket");
		jw_uint(v, "family", r->family);
		jw_str(v, "family_name", r->family == 17 ? "AF_PACKET" : r->family == 2 ? "AF_INET" : r->family == 10 ? "AF_INET6" : "other");
		jw_uint(v, "type", r->type & 0xf);
		jw_bool(v, "raw", (r->type & 0xf) == SOCK_RAW);
		jw_uint(v, "protocol", r->protocol);
		jw_obj_close(v);
		return;
	}
	case VG_EV_CRED_CHANGE:
		put_creds(v, ev);
		return;
	case VG_EV_PTRACE: {
		const struct vg_ptrace *r = REC(ev, struct vg_ptrace);
		jw_obj_open(v, "ptrace");
		jw_int(v, "request", r->request);
		jw_str(v, "request_name", ptrace_req(r->request));
		jw_obj_close(v);
		put_target(v, ev, r->target_pid);
		return;
	}
	case VG_EV_MODULE_LOAD:
	case VG_EV_MODULE_UNLOAD: {
		const struct vg_module *r = REC(ev, struct vg_module);
		static const char *sc[] = {"init_module", "finit_module", "delete_module"};
		jw_obj_open(v, "module");
		jw_str(v, "syscall", r->syscall < 3 ? sc[r->syscall] : "unknown");
		if (r->syscall == 1)
			put_blob_str(v, "path", ev, r->name);
		else if (r->syscall == 2)
			put_blob_str(v, "name", ev, r->name);
		put_blob_str(v, "args", ev, r->args);
		if (r->syscall == 0)
			jw_uint(v, "image_size", r->len);
		jw_uint(v, "flags", r->flags);
		jw_obj_close(v);
		return;
	}
	case VG_EV_MOUNT:
	case VG_EV_UMOUNT: {
		const struct vg_mount *r = REC(ev, struct vg_mount);
		jw_obj_open(v, "mount");
		put_blob_str(v, "source", ev, r->source);
		put_file(v, ev, "target", &r->target);
		put_blob_str(v, "fstype", ev, r->fstype);
		jw_uint(v, "flags", r->flags);
		jw_obj_close(v);
		return;
	}
	case VG_EV_BPF_LOAD: {
		const struct vg_bpf *r = REC(ev, struct vg_bpf);
		jw_obj_open(v, "bpf");
		jw_uint(v, "cmd", r->cmd);
		jw_uint(v, "prog_type", r->prog_type);
		jw_uint(v, "insn_cnt", r->insn_cnt);
		jw_strn(v, "prog_name", r->prog_name, strnlen(r->prog_name, sizeof(r->prog_name)));
		jw_obj_close(v);
		return;
	}
	case VG_EV_SIGNAL: {
		const struct vg_signal *r = REC(ev, struct vg_signal);
		jw_obj_open(v, "signal");
		jw_uint(v, "number", r->sig);
		jw_str(v, "name", sig_name(r->sig));
		jw_int(v, "code", r->code);
		jw_int(v, "result", r->result);
		jw_obj_close(v);
		put_target(v, ev, r->target_pid);
		if (!ev->target)
			jw_strn(v, "target_name", r->target_comm, strnlen(r->target_comm, VG_COMM_LEN));
		return;
	}
	default:
		return;
	}
}

/* ECS fields go at the top level; everything of vigil's own goes in one
 * "vigil" object, written by a second writer and inserted at the end. */
void vg_event_json_flat(struct strbuf *sb, const struct vg_event *ev, const struct vg_host *host, struct vg_flat *fl)
{
	struct jw w;
	jw_init(&w, sb);
	unsigned type = ev->len >= sizeof(struct vg_hdr) ? ev->rec.hdr.type : 0;
	if (ev->extra_json) {
		type = VG_EV_METRICS;
	}
	struct fsink *sink = fl ? sink_begin(fl, &w, type) : NULL;
	jw_obj_open(&w, NULL);
	put_time(&w, "@timestamp", ev->wall_ns);
	/* a user-space event other than metrics (a response action) */
	const char *uaction = ev->extra_json ? ev->extra_action : NULL;
	jw_obj_open(&w, "event");
	jw_str(&w, "kind", type == VG_EV_METRICS && !uaction ? "metric" : "event");
	jw_str(&w, "action", uaction ? uaction : vg_event_action(type));
	jw_arr_open(&w, "category");
	jw_str(&w, NULL, vg_event_category(type));
	jw_arr_close(&w);
	if (type != VG_EV_METRICS) {
		int64_t ret = ev->rec.hdr.ret;
		/* a non-blocking connect that is still under way (-EINPROGRESS) */
		bool pending = type == VG_EV_NET_CONNECT && ret == -EINPROGRESS;
		jw_str(&w, "outcome", pending ? "unknown" : ret < 0 ? "failure" : "success");
	}
	jw_obj_close(&w);
	jw_obj_open(&w, "host");
	jw_str(&w, "name", host->name);
	if (host->id[0])
		jw_str(&w, "id", host->id);
	jw_obj_close(&w);
	if (type == VG_EV_METRICS) {
		jw_raw(&w, "vigil", ev->extra_json);
		jw_obj_close(&w);
		sink_end(sink);
		return;
	}
	const struct vg_task_ctx *t = &ev->rec.hdr.task;
	put_process(&w, ev);
	if (ev->cgroup && ev->cgroup->container_id[0]) {
		jw_obj_open(&w, "container");
		jw_str(&w, "id", ev->cgroup->container_id);
		jw_obj_open(&w, "runtime");
		jw_str(&w, "name", ev->cgroup->runtime);
		jw_obj_close(&w);
		jw_obj_close(&w);
	}
	put_errno(&w, ev->rec.hdr.ret);
	/* the "vigil" object is written aside (put_specific writes to both
	 * writers) into a per-thread buffer kept across events */
	static __thread struct strbuf vsb;
	struct jw v;
	sb_reset(&vsb);
	jw_init(&v, &vsb);
	if (sink)
		sink->ws[1] = (struct fsink_w){.w = &v, .stack = {vg_field_child(VG_FIELD_ROOT, "vigil")}};
	jw_obj_open(&v, NULL);
	put_specific(&w, &v, ev);
	jw_uint(&v, "sid", t->sid);
	jw_uint(&v, "pgid", t->pgid);
	jw_uint(&v, "auid", t->auid);
	jw_uint(&v, "pidns", t->pidns);
	jw_uint(&v, "mntns", t->mntns);
	jw_uint(&v, "cgroup_id", t->cgroup_id);
	if (ev->cgroup)
		jw_str(&v, "cgroup", ev->cgroup->path);
	if (ev->img && ev->img->nodename)
		jw_str(&v, "nodename", ev->img->nodename);
	jw_int(&v, "ret", ev->rec.hdr.ret);
	jw_obj_close(&v);
	if (vsb.buf && !vsb.oom) /* its fields are in the sink already */
		jw_rawn(&w, "vigil", vsb.buf, vsb.len);
	else
		(jw_raw)(&w, "vigil", "{}");
	if (vsb.cap > 1 << 16) /* an outsized event does not keep its buffer */
		sb_free(&vsb);
	jw_obj_close(&w);
	sink_end(sink);
}

void vg_event_json(struct strbuf *sb, const struct vg_event *ev, const struct vg_host *host)
{
	vg_event_json_flat(sb, ev, host, NULL);
}
