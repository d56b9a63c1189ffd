/* vg_dns_parse on DNS query packets built here and by the C library's
 * own query builder (res_mkquery). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/nameser.h>
#include <netinet/in.h>
#include <resolv.h>
#include <cmocka.h>
#include "event/event.h"

struct pkt {
	uint8_t b[1024];
	size_t n;
};

static void put8(struct pkt *p, uint8_t v)
{
	assert_true(p->n < sizeof(p->b));
	p->b[p->n++] = v;
}

static void put16(struct pkt *p, uint16_t v)
{
	put8(p, (uint8_t)(v >> 8));
	put8(p, (uint8_t)v);
}

static void header(struct pkt *p, uint16_t id, uint16_t flags, uint16_t qd)
{
	p->n = 0;
	put16(p, id);
	put16(p, flags);
	put16(p, qd);
	put16(p, 0);
	put16(p, 0);
	put16(p, 0);
}

/* A dotted name as labels (no escapes); "" is the root. */
static void qname(struct pkt *p, const char *name)
{
	while (*name) {
		const char *dot = strchr(name, '.');
		size_t l = dot ? (size_t)(dot - name) : strlen(name);
		put8(p, (uint8_t)l);
		for (size_t i = 0; i < l; i++)
			put8(p, (uint8_t)name[i]);
		name += l + (dot ? 1 : 0);
	}
	put8(p, 0);
}

static void query(struct pkt *p, uint16_t id, const char *name, uint16_t type)
{
	header(p, id, 0x0100 /* RD */, 1);
	qname(p, name);
	put16(p, type);
	put16(p, 1 /* IN */);
}

static void test_a_query(void **state)
{
	struct pkt p;
	struct vg_dns_question q;
	query(&p, 0x1234, "example.com", 1);
	assert_int_equal(vg_dns_parse(p.b, p.n, &q), 0);
	assert_string_equal(q.name, "example.com");
	assert_int_equal(q.qtype, 1);
	assert_int_equal(q.id, 0x1234);
	assert_int_equal(q.qdcount, 1);
	assert_false(q.response);
	assert_string_equal(vg_dns_type_name(q.qtype), "A");
}

static void test_aaaa_multilabel(void **state)
{
	struct pkt p;
	struct vg_dns_question q;
	query(&p, 7, "a.b-c.www.example.co.uk", 28);
	assert_int_equal(vg_dns_parse(p.b, p.n, &q), 0);
	assert_string_equal(q.name, "a.b-c.www.example.co.uk");
	assert_int_equal(q.qtype, 28);
	assert_string_equal(vg_dns_type_name(q.qtype), "AAAA");
}

static void test_txt_and_types(void **state)
{
	struct pkt p;
	struct vg_dns_question q;
	query(&p, 0xffff, "_dmarc.example.org", 16);
	assert_int_equal(vg_dns_parse(p.b, p.n, &q), 0);
	assert_string_equal(q.name, "_dmarc.example.org");
	assert_int_equal(q.id, 0xffff);
	assert_string_equal(vg_dns_type_name(q.qtype), "TXT");
	assert_string_equal(vg_dns_type_name(65), "HTTPS");
	assert_string_equal(vg_dns_type_name(255), "ANY");
	assert_null(vg_dns_type_name(0));
	assert_null(vg_dns_type_name(4242));
	/* the root name */
	query(&p, 1, "", 2);
	assert_int_equal(vg_dns_parse(p.b, p.n, &q), 0);
	assert_string_equal(q.name, "");
	assert_int_equal(q.qtype, 2);
}

/* The real thing: the C library's query builder. */
static void test_libc_query(void **state)
{
	static const struct {
		const char *name;
		int type;
	} cases[] = {{"example.com", ns_t_a}, {"ipv6.example.net", ns_t_aaaa}, {"example.com", ns_t_txt},
		     {"_sip._tcp.example.com", ns_t_srv}, {"4.3.2.1.in-addr.arpa", ns_t_ptr}};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t buf[512];
		struct vg_dns_question q;
		int n = res_mkquery(ns_o_query, cases[i].name, ns_c_in, cases[i].type, NULL, 0, NULL, buf, sizeof(buf));
		assert_true(n > 12);
		assert_int_equal(vg_dns_parse(buf, (size_t)n, &q), 0);
		assert_string_equal(q.name, cases[i].name);
		assert_int_equal(q.qtype, cases[i].type);
		assert_int_equal(q.id, (uint16_t)(buf[0] << 8 | buf[1]));
		assert_false(q.response);
		assert_int_equal(q.qdcount, 1);
	}
}

static void test_response_bit(void **state)
{
	struct pkt p;
	struct vg_dns_question q;
	query(&p, 9, "example.com", 1);
	p.b[2] |= 0x80; /* QR */
	p.b[3] = 0x80;  /* RA */
	assert_int_equal(vg_dns_parse(p.b, p.n, &q), 0);
	assert_true(q.response);
	assert_string_equal(q.name, "example.com");
	/* no question at all */
	header(&p, 9, 0x8180, 0);
	qname(&p, "example.com");
	put16(&p, 1);
	put16(&p, 1);
	assert_int_equal(vg_dns_parse(p.b, p.n, &q), -1);
}

static void test_truncated(void **state)
{
	struct pkt p;
	struct vg_dns_question q;
	query(&p, 1, "example.com", 1);
	size_t full = p.n;
	/* every prefix shorter than name + qtype + qclass is refused */
	for (size_t n = 0; n < full; n++) {
		int r = vg_dns_parse(p.b, n, &q);
		assert_int_equal(r, -1);
		assert_int_equal(q.name[sizeof(q.name) - 1], 0);
	}
	assert_int_equal(vg_dns_parse(p.b, full, &q), 0);
	/* trailing bytes (answers, EDNS) are fine */
	put16(&p, 0xdead);
	assert_int_equal(vg_dns_parse(p.b, p.n, &q), 0);
	assert_string_equal(q.name, "example.com");
	assert_int_equal(vg_dns_parse(p.b, 0, &q), -1);
	assert_int_equal(vg_dns_parse(NULL, 0, &q), -1);
}

static void test_label_overrun(void **state)
{
	struct pkt p;
	struct vg_dns_question q;
	header(&p, 1, 0x0100, 1);
	put8(&p, 20); /* label claims 20 bytes, 5 follow */
	for (int i = 0; i < 5; i++)
		put8(&p, 'a');
	assert_int_equal(vg_dns_parse(p.b, p.n, &q), -1);
	/* label reaching exactly the end, no terminator */
	header(&p, 1, 0x0100, 1);
	put8(&p, 3);
	put8(&p, 'a');
	put8(&p, 'b');
	put8(&p, 'c');
	assert_int_equal(vg_dns_parse(p.b, p.n, &q), -1);
	/* a name longer than the output buffer: five 63-byte labels */
	header(&p, 1, 0x0100, 1);
	for (int l = 0; l < 5; l++) {
		put8(&p, 63);
		for (int i = 0; i < 63; i++)
			put8(&p, 'x');
	}
	put8(&p, 0);
	put16(&p, 1);
	put16(&p, 1);
	assert_int_equal(vg_dns_parse(p.b, p.n, &q), -1);
	/* four fit (255 bytes with the dots) */
	header(&p, 1, 0x0100, 1);
	for (int l = 0; l < 4; l++) {
		put8(&p, 63);
		for (int i = 0; i < 63; i++)
			put8(&p, 'x');
	}
	put8(&p, 0);
	put16(&p, 1);
	put16(&p, 1);
	assert_int_equal(vg_dns_parse(p.b, p.n, &q), 0);
	assert_int_equal(strlen(q.name), 255);
	/* 200 one-byte labels: too many for the name */
	header(&p, 1, 0x0100, 1);
	for (int l = 0; l < 200; l++) {
		put8(&p, 1);
		put8(&p, 'z');
	}
	put8(&p, 0);
	put16(&p, 1);
	put16(&p, 1);
	assert_int_equal(vg_dns_parse(p.b, p.n, &q), -1);
}

static void test_compression(void **state)
{
	struct pkt p;
	struct vg_dns_question q;
	header(&p, 1, 0x0100, 1);
	put8(&p, 0xC0);
	put8(&p, 12); /* pointer to itself */
	put16(&p, 1);
	put16(&p, 1);
	assert_int_equal(vg_dns_parse(p.b, p.n, &q), -1);
	/* a pointer after a first label */
	header(&p, 1, 0x0100, 1);
	put8(&p, 3);
	put8(&p, 'w');
	put8(&p, 'w');
	put8(&p, 'w');
	put8(&p, 0xC0);
	put8(&p, 12);
	put16(&p, 1);
	put16(&p, 1);
	assert_int_equal(vg_dns_parse(p.b, p.n, &q), -1);
	/* the reserved label types 0x40 and 0x80 too */
	for (int t = 0x40; t <= 0x80; t += 0x40) {
		header(&p, 1, 0x0100, 1);
		put8(&p, (uint8_t)(t | 1));
		put8(&p, 'a');
		put8(&p, 0);
		put16(&p, 1);
		put16(&p, 1);
		assert_int_equal(vg_dns_parse(p.b, p.n, &q), -1);
	}
}

static void test_odd_bytes(void **state)
{
	struct pkt p;
	struct vg_dns_question q;
	static const uint8_t label[] = {'a', ' ', '.', '\\', 0, 0xff, '"', 0x7f, 'z'};
	header(&p, 1, 0x0100, 1);
	put8(&p, sizeof(label));
	for (size_t i = 0; i < sizeof(label); i++)
		put8(&p, label[i]);
	put8(&p, 3);
	put8(&p, 'c');
	put8(&p, 'o');
	put8(&p, 'm');
	put8(&p, 0);
	put16(&p, 1);
	put16(&p, 1);
	assert_int_equal(vg_dns_parse(p.b, p.n, &q), 0);
	/* '.' inside a label must not look like a label boundary */
	assert_string_equal(q.name, "a\\032\\046\\092\\000\\255\"\\127z.com");
	/* a label of 63 escaped bytes, four times: stays in bounds */
	header(&p, 1, 0x0100, 1);
	for (int l = 0; l < 4; l++) {
		put8(&p, 63);
		for (int i = 0; i < 63; i++)
			put8(&p, 0x01);
	}
	put8(&p, 0);
	put16(&p, 1);
	put16(&p, 1);
	assert_int_equal(vg_dns_parse(p.b, p.n, &q), -1);
	/* one fits: 63 * 4 = 252 bytes */
	header(&p, 1, 0x0100, 1);
	put8(&p, 63);
	for (int i = 0; i < 63; i++)
		put8(&p, 0x01);
	put8(&p, 0);
	put16(&p, 1);
	put16(&p, 1);
	assert_int_equal(vg_dns_parse(p.b, p.n, &q), 0);
	assert_int_equal(strlen(q.name), 252);
	assert_memory_equal(q.name, "\\001\\001", 8);
}

/* Found by fuzz_dns: escapes early in a late label used up the room the
 * label-length check had reserved, and the plain bytes after them were
 * written past the end of the name (a stack overflow in vigild). */
static void test_escape_then_plain_overflow(void **state)
{
	struct pkt p;
	struct vg_dns_question *q = malloc(sizeof(*q)); /* heap: ASan sees any overrun */
	assert_non_null(q);
	header(&p, 1, 0x0100, 1);
	for (int l = 0; l < 3; l++) {
		put8(&p, 63);
		for (int i = 0; i < 63; i++)
			put8(&p, 'x');
	}
	put8(&p, 63); /* starts at 192: passes the 63 + 2 check */
	for (int i = 0; i < 15; i++)
		put8(&p, 0x01); /* 60 bytes of escapes */
	for (int i = 0; i < 48; i++)
		put8(&p, 'y'); /* 48 more: 300 in all */
	put8(&p, 0);
	put16(&p, 1);
	put16(&p, 1);
	assert_int_equal(vg_dns_parse(p.b, p.n, q), -1);
	assert_true(strnlen(q->name, sizeof(q->name)) < sizeof(q->name));
	/* the same with every byte escaped but the very last */
	header(&p, 1, 0x0100, 1);
	for (int l = 0; l < 4; l++) {
		put8(&p, 15);
		for (int i = 0; i < 15; i++)
			put8(&p, i == 14 && l == 3 ? 'z' : 0x7f);
	}
	put8(&p, 0);
	put16(&p, 28);
	put16(&p, 1);
	assert_int_equal(vg_dns_parse(p.b, p.n, q), 0); /* 3 * 60 + 14 * 4 + 1 + 3 dots = 240 */
	assert_int_equal(strlen(q->name), 240);
	assert_int_equal(q->name[239], 'z');
	assert_int_equal(q->qtype, 28);
	free(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a_query),
		cmocka_unit_test(test_aaaa_multilabel),
		cmocka_unit_test(test_txt_and_types),
		cmocka_unit_test(test_libc_query),
		cmocka_unit_test(test_response_bit),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_label_overrun),
		cmocka_unit_test(test_compression),
		cmocka_unit_test(test_odd_bytes),
		cmocka_unit_test(test_escape_then_plain_overflow),
	};
	return cmocka_run_group_tests_name("dns", tests, NULL, NULL);
}
