/* Growable byte buffer with JSON helpers; the event encoder writes into it. */
#ifndef VIGIL_STRBUF_H
#define VIGIL_STRBUF_H
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

struct strbuf {
	char *buf;
	size_t len, cap;
	bool oom; /* an allocation failed: contents are incomplete */
};

void sb_init(struct strbuf *sb);
void sb_free(struct strbuf *sb);
void sb_reset(struct strbuf *sb);
/* Makes room for extra more bytes (and the NUL); false when out of memory. */
bool sb_grow_slow(struct strbuf *sb, size_t extra);
/* The encoder appends a few bytes at a time, millions of times a second:
 * the common case (room left) is inline. */
static inline bool sb_room(struct strbuf *sb, size_t extra)
{
	return (sb->len + extra + 1 <= sb->cap && !sb->oom) || sb_grow_slow(sb, extra);
}
static inline void sb_put(struct strbuf *sb, const void *data, size_t n)
{
	if (!sb_room(sb, n))
		return;
	__builtin_memcpy(sb->buf + sb->len, data, n);
	sb->len += n;
	sb->buf[sb->len] = 0;
}
static inline void sb_putc(struct strbuf *sb, char c)
{
	if (!sb_room(sb, 1))
		return;
	sb->buf[sb->len++] = c;
	sb->buf[sb->len] = 0;
}
void sb_puts(struct strbuf *sb, const char *s);
/* The value of a hex digit, or -1. */
static inline int hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}
/* Decimal, as "%llu" / "%lld" would write it. */
void sb_put_u64(struct strbuf *sb, uint64_t v);
void sb_put_i64(struct strbuf *sb, int64_t v);
void sb_printf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A JSON string literal (quotes included); invalid UTF-8 bytes become \u00XX. */
void sb_json_str(struct strbuf *sb, const char *s, size_t n);
void sb_json_cstr(struct strbuf *sb, const char *s);

/* JSON object writer: tracks whether a comma is needed. */
struct jw {
	struct strbuf *sb;
	int depth;
	bool need_comma[32];
};
void jw_init(struct jw *w, struct strbuf *sb);
void jw_obj_open(struct jw *w, const char *key);  /* key NULL inside arrays/top */
void jw_obj_close(struct jw *w);
void jw_arr_open(struct jw *w, const char *key);
void jw_arr_close(struct jw *w);
void jw_str(struct jw *w, const char *key, const char *val);
void jw_strn(struct jw *w, const char *key, const char *val, size_t n);
void jw_int(struct jw *w, const char *key, int64_t v);
void jw_uint(struct jw *w, const char *key, uint64_t v);
void jw_bool(struct jw *w, const char *key, bool v);
void jw_raw(struct jw *w, const char *key, const char *json);
void jw_rawn(struct jw *w, const char *key, const char *json, size_t n); /* n bytes of JSON text */

#endif
