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
void sb_put(struct strbuf *sb, const void *data, size_t n);
void sb_puts(struct strbuf *sb, const char *s);
void sb_putc(struct strbuf *sb, char c);
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

#endif
