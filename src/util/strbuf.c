#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "strbuf.h"
#ifdef __SSE2__
#include <emmintrin.h>
#endif

void sb_init(struct strbuf *sb)
{
	memset(sb, 0, sizeof(*sb));
}

void sb_free(struct strbuf *sb)
{
	free(sb->buf);
	sb_init(sb);
}

void sb_reset(struct strbuf *sb)
{
	sb->len = 0;
	sb->oom = false;
	if (sb->buf)
		sb->buf[0] = 0;
}

bool sb_grow_slow(struct strbuf *sb, size_t extra)
{
	if (sb->oom)
		return false;
	if (sb->len + extra + 1 <= sb->cap)
		return true;
	size_t cap = sb->cap ? sb->cap : 256;
	while (cap < sb->len + extra + 1)
		cap *= 2;
	char *nb = realloc(sb->buf, cap);
	if (!nb) {
		sb->oom = true;
		return false;
	}
	sb->buf = nb;
	sb->cap = cap;
	return true;
}

void sb_puts(struct strbuf *sb, const char *s)
{
	sb_put(sb, s, strlen(s));
}

void sb_put_u64(struct strbuf *sb, uint64_t v)
{
	char tmp[24];
	size_t n = sizeof(tmp);
	do {
		tmp[--n] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	sb_put(sb, tmp + n, sizeof(tmp) - n);
}

void sb_put_i64(struct strbuf *sb, int64_t v)
{
	if (v < 0) {
		sb_putc(sb, '-');
		sb_put_u64(sb, 0 - (uint64_t)v);
	} else {
		sb_put_u64(sb, (uint64_t)v);
	}
}

void sb_printf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !sb_room(sb, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sb->len += (size_t)n;
}

/* Length of a valid UTF-8 sequence at s (max n bytes), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	size_t len;
	unsigned c = s[0];
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		len = 2;
	else if (c >= 0xE0 && c <= 0xEF)
		len = 3;
	else if (c >= 0xF0 && c <= 0xF4)
		len = 4;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	if (len == 3 && c == 0xE0 && s[1] < 0xA0)
		return 0;
	if (len == 3 && c == 0xED && s[1] > 0x9F)
		return 0;
	if (len == 4 && c == 0xF0 && s[1] < 0x90)
		return 0;
	if (len == 4 && c == 0xF4 && s[1] > 0x8F)
		return 0;
	return len;
}

/* 1 for the bytes a JSON string cannot hold as they are (controls, quote,
 * backslash) or that need a UTF-8 check (>= 0x80). */
static const unsigned char json_special[256] = {
	[0x00 ... 0x1f] = 1, ['"'] = 1, ['\\'] = 1, [0x80 ... 0xff] = 1,
};

/* The length of the prefix of s[0..n) that needs no escaping: 16 bytes at a
 * time (a signed compare with 0x20 flags controls and bytes >= 0x80 at
 * once). Every string of every event goes through here. */
static inline size_t json_plain_len(const unsigned char *s, size_t n)
{
	size_t i = 0;
#ifdef __SSE2__
	const __m128i sp = _mm_set1_epi8(0x20), dq = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\');
	for (; i + 16 <= n; i += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
		__m128i bad = _mm_or_si128(_mm_cmplt_epi8(v, sp),
					   _mm_or_si128(_mm_cmpeq_epi8(v, dq), _mm_cmpeq_epi8(v, bs)));
		unsigned m = (unsigned)_mm_movemask_epi8(bad);
		if (m)
			return i + (size_t)__builtin_ctz(m);
	}
#endif
	while (i < n && !json_special[s[i]])
		i++;
	return i;
}

void sb_json_str(struct strbuf *sb, const char *str, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	/* most strings need no escape: one scan, one copy with the quotes */
	size_t plain = json_plain_len(s, n);
	if (plain == n) {
		if (!sb_room(sb, n + 2))
			return;
		char *o = sb->buf + sb->len;
		o[0] = '"';
		__builtin_memcpy(o + 1, s, n);
		o[n + 1] = '"';
		sb->len += n + 2;
		sb->buf[sb->len] = 0;
		return;
	}
	sb_putc(sb, '"');
	size_t i = plain;
	if (plain)
		sb_put(sb, s, plain);
	while (i < n) {
		/* copy plain printable ASCII in one go */
		size_t run = i + json_plain_len(s + i, n - i);
		if (run > i) {
			sb_put(sb, s + i, run - i);
			i = run;
			continue;
		}
		unsigned char c = s[i];
		char esc[8];
		switch (c) {
		case '"': sb_puts(sb, "\\\""); i++; continue;
		case '\\': sb_puts(sb, "\\\\"); i++; continue;
		case '\n': sb_puts(sb, "\\n"); i++; continue;
		case '\r': sb_puts(sb, "\\r"); i++; continue;
		case '\t': sb_puts(sb, "\\t"); i++; continue;
		default: break;
		}
		if (c < 0x20) {
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			sb_put(sb, esc, 6);
			i++;
			continue;
		}
		size_t len = utf8_seq(s + i, n - i);
		if (len) {
			sb_put(sb, s + i, len);
			i += len;
		} else {
			/* keep invalid bytes visible rather than dropping them */
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			sb_put(sb, esc, 6);
			i++;
		}
	}
	sb_putc(sb, '"');
}

void sb_json_cstr(struct strbuf *sb, const char *s)
{
	sb_json_str(sb, s ? s : "", s ? strlen(s) : 0);
}

void jw_init(struct jw *w, struct strbuf *sb)
{
	memset(w, 0, sizeof(*w));
	w->sb = sb;
}

/* The separator and `"key":` in one reservation and one copy when the key
 * needs no escaping (every key vigil writes). */
static void jw_key(struct jw *w, const char *key)
{
	bool comma = w->need_comma[w->depth];
	w->need_comma[w->depth] = true;
	if (key) {
		size_t n = strlen(key);
		if (json_plain_len((const unsigned char *)key, n) == n) {
			if (!sb_room(w->sb, n + 4))
				return;
			char *o = w->sb->buf + w->sb->len;
			if (comma)
				*o++ = ',';
			*o++ = '"';
			memcpy(o, key, n);
			o += n;
			*o++ = '"';
			*o++ = ':';
			*o = 0;
			w->sb->len = (size_t)(o - w->sb->buf);
			return;
		}
	}
	if (comma)
		sb_putc(w->sb, ',');
	if (key) {
		sb_json_cstr(w->sb, key);
		sb_putc(w->sb, ':');
	}
}

void jw_obj_open(struct jw *w, const char *key)
{
	if (w->depth > 0 || w->need_comma[0])
		jw_key(w, key);
	sb_putc(w->sb, '{');
	if (w->depth < 31)
		w->depth++;
	w->need_comma[w->depth] = false;
}

void jw_obj_close(struct jw *w)
{
	sb_putc(w->sb, '}');
	if (w->depth > 0)
		w->depth--;
	w->need_comma[w->depth] = true;
}

void jw_arr_open(struct jw *w, const char *key)
{
	jw_key(w, key);
	sb_putc(w->sb, '[');
	if (w->depth < 31)
		w->depth++;
	w->need_comma[w->depth] = false;
}

void jw_arr_close(struct jw *w)
{
	sb_putc(w->sb, ']');
	if (w->depth > 0)
		w->depth--;
	w->need_comma[w->depth] = true;
}

void jw_str(struct jw *w, const char *key, const char *val)
{
	jw_key(w, key);
	sb_json_cstr(w->sb, val);
}

void jw_strn(struct jw *w, const char *key, const char *val, size_t n)
{
	jw_key(w, key);
	sb_json_str(w->sb, val, n);
}

void jw_int(struct jw *w, const char *key, int64_t v)
{
	jw_key(w, key);
	sb_put_i64(w->sb, v);
}

void jw_uint(struct jw *w, const char *key, uint64_t v)
{
	jw_key(w, key);
	sb_put_u64(w->sb, v);
}

void jw_bool(struct jw *w, const char *key, bool v)
{
	jw_key(w, key);
	sb_puts(w->sb, v ? "true" : "false");
}

void jw_raw(struct jw *w, const char *key, const char *json)
{
	jw_key(w, key);
	sb_puts(w->sb, json);
}

void jw_rawn(struct jw *w, const char *key, const char *json, size_t n)
{
	jw_key(w, key);
	sb_put(w->sb, json, n);
}
