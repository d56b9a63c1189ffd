/* strbuf: growth, printf, JSON string escaping and the object writer. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "util/strbuf.h"
#include "jsoncheck.h"

/* Encodes n bytes of s as a JSON string and compares with want. */
static void check_str(const char *s, size_t n, const char *want)
{
	struct strbuf sb;
	sb_init(&sb);
	sb_json_str(&sb, s, n);
	assert_false(sb.oom);
	assert_string_equal(sb.buf, want);
	assert_int_equal(sb.len, strlen(want));
	assert_null(json_check(sb.buf, sb.len, NULL));
	sb_free(&sb);
}
#define CHECK(lit, want) check_str(lit, sizeof(lit) - 1, want)

static void test_plain(void **state)
{
	CHECK("", "\"\"");
	CHECK("hello world", "\"hello world\"");
	CHECK("/usr/bin/id -u", "\"/usr/bin/id -u\"");
	/* only n bytes are read, NUL or not */
	check_str("abcdef", 3, "\"abc\"");
}

static void test_quotes_backslash(void **state)
{
	CHECK("say \"hi\"", "\"say \\\"hi\\\"\"");
	CHECK("a\\b", "\"a\\\\b\"");
	CHECK("\\\"", "\"\\\\\\\"\"");
	CHECK("/", "\"/\""); /* solidus need not be escaped */
}

static void test_control_chars(void **state)
{
	CHECK("a\nb\rc\td", "\"a\\nb\\rc\\td\"");
	CHECK("\x01\x1f", "\"\\u0001\\u001f\"");
	CHECK("\b\f", "\"\\u0008\\u000c\"");
	/* an embedded NUL is kept (the length says so) */
	check_str("a\0b", 3, "\"a\\u0000b\"");
	/* DEL is printable enough for JSON: passed through */
	CHECK("\x7f", "\"\x7f\"");
}

/* The 16-byte scan agrees with the byte loop: each special sequence at
 * every position of plain strings up to 48 bytes encodes as the sequence
 * alone (short: the byte loop) between the plain parts. */
static void test_special_at_every_position(void **state)
{
	static const char *const specials[] = {"\"", "\\", "\n", "\x01", "\x1f", "\x7f", "\x80", "\xff",
					       "\xc3\xa9", "\xe2\x82\xac", "\xc3", " ", "~"};
	char in[64], want[256];
	for (size_t k = 0; k < sizeof(specials) / sizeof(specials[0]); k++) {
		const char *sp = specials[k];
		size_t sl = strlen(sp);
		struct strbuf one;
		sb_init(&one);
		sb_json_str(&one, sp, sl);
		for (size_t len = 0; len + sl <= 48; len++)
			for (size_t at = 0; at <= len; at++) {
				for (size_t i = 0; i < len; i++)
					in[i] = (char)('a' + (i % 26));
				memmove(in + at + sl, in + at, len - at);
				memcpy(in + at, sp, sl);
				snprintf(want, sizeof(want), "\"%.*s%.*s%.*s\"", (int)at, in, (int)(one.len - 2), one.buf + 1,
					 (int)(len - at), in + at + sl);
				check_str(in, len + sl, want);
			}
		sb_free(&one);
	}
}

static void test_invalid_utf8(void **state)
{
	/* lone continuation byte, lone lead byte, overlong, surrogate, > U+10FFFF */
	CHECK("\x80", "\"\\u0080\"");
	CHECK("a\xc3", "\"a\\u00c3\"");            /* truncated 2-byte */
	CHECK("\xc3(", "\"\\u00c3(\"");            /* bad continuation */
	CHECK("\xc0\xaf", "\"\\u00c0\\u00af\"");    /* overlong '/' */
	CHECK("\xe0\x80\xaf", "\"\\u00e0\\u0080\\u00af\"");
	CHECK("\xed\xa0\x80", "\"\\u00ed\\u00a0\\u0080\""); /* UTF-16 surrogate */
	CHECK("\xf4\x90\x80\x80", "\"\\u00f4\\u0090\\u0080\\u0080\"");
	CHECK("\xf5\x80\x80\x80", "\"\\u00f5\\u0080\\u0080\\u0080\"");
	CHECK("\xff\xfe", "\"\\u00ff\\u00fe\"");
	/* 3-byte lead with only 2 bytes left */
	CHECK("\xe2\x82", "\"\\u00e2\\u0082\"");
}

static void test_valid_utf8(void **state)
{
	CHECK("caf\xc3\xa9", "\"caf\xc3\xa9\"");                 /* é */
	CHECK("\xe2\x82\xac", "\"\xe2\x82\xac\"");               /* € */
	CHECK("\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\"");       /* 😀 */
	CHECK("\xef\xbf\xbf", "\"\xef\xbf\xbf\"");               /* U+FFFF */
	CHECK("\xf4\x8f\xbf\xbf", "\"\xf4\x8f\xbf\xbf\"");       /* U+10FFFF */
	CHECK("\xe0\xa0\x80", "\"\xe0\xa0\x80\"");               /* U+0800, lowest 3-byte */
	/* valid then invalid then valid */
	CHECK("\xc3\xa9\xff\xc3\xa9", "\"\xc3\xa9\\u00ff\xc3\xa9\"");
}

static void test_cstr_null(void **state)
{
	struct strbuf sb;
	sb_init(&sb);
	sb_json_cstr(&sb, NULL);
	assert_string_equal(sb.buf, "\"\"");
	sb_reset(&sb);
	assert_int_equal(sb.len, 0);
	assert_string_equal(sb.buf, "");
	sb_json_cstr(&sb, "x\"y");
	assert_string_equal(sb.buf, "\"x\\\"y\"");
	sb_free(&sb);
	assert_null(sb.buf);
}

static void test_growth_and_printf(void **state)
{
	struct strbuf sb;
	sb_init(&sb);
	for (int i = 0; i < 10000; i++)
		sb_printf(&sb, "%d,", i);
	assert_false(sb.oom);
	assert_int_equal(strlen(sb.buf), sb.len);
	assert_true(sb.cap > sb.len);
	assert_memory_equal(sb.buf, "0,1,2,", 6);
	assert_string_equal(sb.buf + sb.len - 5, "9999,");
	sb_reset(&sb);
	sb_printf(&sb, "%s", "");
	assert_int_equal(sb.len, 0);
	sb_putc(&sb, 'x');
	sb_puts(&sb, "yz");
	assert_string_equal(sb.buf, "xyz");
	/* a long escaped string: each control byte becomes 6 */
	char big[5000];
	memset(big, 1, sizeof(big));
	sb_reset(&sb);
	sb_json_str(&sb, big, sizeof(big));
	assert_int_equal(sb.len, 2 + 6 * sizeof(big));
	assert_null(json_check(sb.buf, sb.len, NULL));
	sb_free(&sb);
}

static void test_writer_object(void **state)
{
	struct strbuf sb;
	struct jw w;
	sb_init(&sb);
	jw_init(&w, &sb);
	jw_obj_open(&w, NULL);
	jw_str(&w, "a", "x");
	jw_int(&w, "b", -5);
	jw_uint(&w, "c", UINT64_MAX);
	jw_bool(&w, "d", true);
	jw_bool(&w, "e", false);
	jw_obj_open(&w, "f");
	jw_obj_close(&w);
	jw_obj_open(&w, "g");
	jw_int(&w, "h", INT64_MIN);
	jw_obj_close(&w);
	jw_raw(&w, "i", "{\"j\":null}");
	jw_strn(&w, "k\"", "l\0m", 3);
	jw_obj_close(&w);
	assert_string_equal(sb.buf, "{\"a\":\"x\",\"b\":-5,\"c\":18446744073709551615,\"d\":true,\"e\":false,"
				    "\"f\":{},\"g\":{\"h\":-9223372036854775808},\"i\":{\"j\":null},"
				    "\"k\\\"\":\"l\\u0000m\"}");
	assert_null(json_check(sb.buf, sb.len, NULL));
	sb_free(&sb);
}

static void test_writer_arrays(void **state)
{
	struct strbuf sb;
	struct jw w;
	sb_init(&sb);
	jw_init(&w, &sb);
	jw_obj_open(&w, NULL);
	jw_arr_open(&w, "empty");
	jw_arr_close(&w);
	jw_arr_open(&w, "s");
	jw_str(&w, NULL, "a");
	jw_str(&w, NULL, "b");
	jw_arr_close(&w);
	jw_arr_open(&w, "o");
	for (int i = 0; i < 3; i++) {
		jw_obj_open(&w, NULL);
		jw_int(&w, "i", i);
		jw_arr_open(&w, "n");
		jw_arr_open(&w, NULL);
		jw_arr_close(&w);
		jw_uint(&w, NULL, 7);
		jw_arr_close(&w);
		jw_obj_close(&w);
	}
	jw_arr_close(&w);
	jw_int(&w, "after", 1);
	jw_obj_close(&w);
	assert_string_equal(sb.buf, "{\"empty\":[],\"s\":[\"a\",\"b\"],\"o\":[{\"i\":0,\"n\":[[],7]},"
				    "{\"i\":1,\"n\":[[],7]},{\"i\":2,\"n\":[[],7]}],\"after\":1}");
	assert_null(json_check(sb.buf, sb.len, NULL));
	sb_free(&sb);
}

static void test_writer_deep(void **state)
{
	/* nesting beyond the writer's 32 levels stays well-formed */
	struct strbuf sb;
	struct jw w;
	sb_init(&sb);
	jw_init(&w, &sb);
	jw_obj_open(&w, NULL);
	for (int i = 0; i < 40; i++)
		jw_obj_open(&w, "x");
	jw_int(&w, "v", 1);
	for (int i = 0; i < 40; i++)
		jw_obj_close(&w);
	jw_obj_close(&w);
	size_t at = 0;
	const char *why = json_check(sb.buf, sb.len, &at);
	assert_null(why);
	assert_int_equal(sb.buf[0], '{');
	assert_int_equal(sb.buf[sb.len - 1], '}');
	sb_free(&sb);
}

/* The validator itself must reject what it is there to reject. */
static void test_jsoncheck_rejects(void **state)
{
	static const char *bad[] = {
		"{", "{\"a\":1,}", "[1,]", "{\"a\" 1}", "\"a\nb\"", "\"\\x\"", "\"\\u12\"", "{}{}",
		"{\"a\":tru}", "01", "{\"a\":\"b}", "", "[\"\x01\"]",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_non_null(json_check(bad[i], strlen(bad[i]), NULL));
	static const char *good[] = {
		"{}", "[]", "{\"a\":[1,-2.5,true,false,null,\"\\u00ff\\n\"]}", " 0 ", "\"\"",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_null(json_check(good[i], strlen(good[i]), NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_quotes_backslash),
		cmocka_unit_test(test_control_chars),
		cmocka_unit_test(test_special_at_every_position),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_valid_utf8),
		cmocka_unit_test(test_cstr_null),
		cmocka_unit_test(test_growth_and_printf),
		cmocka_unit_test(test_writer_object),
		cmocka_unit_test(test_writer_arrays),
		cmocka_unit_test(test_writer_deep),
		cmocka_unit_test(test_jsoncheck_rejects),
	};
	return cmocka_run_group_tests_name("strbuf", tests, NULL, NULL);
}
