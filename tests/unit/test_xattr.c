/* Decoding of file capabilities and POSIX ACLs (src/event/xattr.c): the
 * layouts the kernel accepts, and everything else refused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "event/xattr.h"

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void test_fcaps_versions(void **state)
{
	(void)state;
	uint8_t v[24] = {0};
	struct vg_fcaps c;
	char text[256];

	/* v1: one word per set, no effective flag */
	put32(v, 0x01000000);
	put32(v + 4, 1u << 7);
	assert_int_equal(vg_fcaps_parse(v, 12, &c), 0);
	assert_int_equal(c.version, 1);
	assert_false(c.effective);
	assert_int_equal(c.permitted, 1u << 7);
	vg_fcaps_text(&c, text, sizeof(text));
	assert_string_equal(text, "cap_setuid=p");

	/* v2: high words carry capabilities 32 and up (cap_bpf is 39) */
	put32(v, 0x02000001);
	put32(v + 4, (1u << 21) | (1u << 13));
	put32(v + 8, 1u << 13);
	put32(v + 12, 1u << 7);
	put32(v + 16, 0);
	assert_int_equal(vg_fcaps_parse(v, 20, &c), 0);
	assert_int_equal(c.version, 2);
	assert_true(c.effective);
	assert_int_equal(c.permitted, (1ull << 21) | (1ull << 13) | (1ull << 39));
	assert_int_equal(c.inheritable, 1ull << 13);
	vg_fcaps_text(&c, text, sizeof(text));
	assert_string_equal(text, "cap_net_raw=eip cap_sys_admin,cap_bpf=ep");

	/* v3: namespaced, with the namespace's root uid */
	put32(v, 0x03000001);
	put32(v + 20, 100000);
	assert_int_equal(vg_fcaps_parse(v, 24, &c), 0);
	assert_true(c.has_rootid);
	assert_int_equal(c.rootid, 100000);

	/* a capability this build has no name for */
	put32(v, 0x02000000);
	put32(v + 4, 0);
	put32(v + 8, 0);
	put32(v + 12, 1u << 30); /* capability 62 */
	assert_int_equal(vg_fcaps_parse(v, 20, &c), 0);
	vg_fcaps_text(&c, text, sizeof(text));
	assert_string_equal(text, "cap_62=p");
	assert_null(vg_cap_name(62));
	assert_string_equal(vg_cap_name(0), "cap_chown");
	assert_string_equal(vg_cap_name(40), "cap_checkpoint_restore");
}

static void test_fcaps_refused(void **state)
{
	(void)state;
	uint8_t v[32] = {0};
	struct vg_fcaps c;
	put32(v, 0x02000000);
	assert_int_equal(vg_fcaps_parse(v, 12, &c), -1); /* v2 needs 20 bytes */
	assert_int_equal(vg_fcaps_parse(v, 24, &c), -1);
	assert_int_equal(vg_fcaps_parse(v, 3, &c), -1);
	assert_int_equal(vg_fcaps_parse(NULL, 20, &c), -1);
	put32(v, 0x04000000); /* no such revision */
	assert_int_equal(vg_fcaps_parse(v, 24, &c), -1);
	put32(v, 0x02000002); /* an unknown flag */
	assert_int_equal(vg_fcaps_parse(v, 20, &c), -1);
}

static void test_fcaps_text_truncates(void **state)
{
	(void)state;
	struct vg_fcaps c = {.permitted = ~0ull, .inheritable = 0, .effective = true, .version = 2};
	char text[16];
	memset(text, 'x', sizeof(text));
	size_t n = vg_fcaps_text(&c, text, sizeof(text));
	assert_int_equal(n, sizeof(text) - 1);
	assert_int_equal(text[sizeof(text) - 1], 0);
	assert_int_equal(vg_fcaps_text(&c, text, 0), 0);
}

static size_t acl(uint8_t *out, const uint16_t (*e)[2], const uint32_t *ids, int n)
{
	put32(out, 2);
	for (int i = 0; i < n; i++) {
		uint8_t *p = out + 4 + 8 * i;
		p[0] = (uint8_t)e[i][0];
		p[1] = (uint8_t)(e[i][0] >> 8);
		p[2] = (uint8_t)e[i][1];
		p[3] = 0;
		put32(p + 4, ids[i]);
	}
	return 4 + 8 * (size_t)n;
}

static void test_acl(void **state)
{
	(void)state;
	uint8_t v[128];
	char text[256];
	const uint16_t e[][2] = {{1, 6}, {2, 7}, {4, 4}, {8, 5}, {0x10, 7}, {0x20, 0}};
	const uint32_t ids[] = {~0u, 1000, ~0u, 27, ~0u, ~0u};
	size_t n = acl(v, e, ids, 6);
	assert_int_equal(vg_acl_text(v, n, text, sizeof(text)), 0);
	assert_string_equal(text, "u::rw-,u:1000:rwx,g::r--,g:27:r-x,m::rwx,o::---");

	assert_int_equal(vg_acl_text(v, n - 1, text, sizeof(text)), -1); /* not whole entries */
	put32(v, 1);
	assert_int_equal(vg_acl_text(v, n, text, sizeof(text)), -1); /* version */
	const uint16_t bad_tag[][2] = {{0x40, 7}};
	n = acl(v, bad_tag, ids, 1);
	assert_int_equal(vg_acl_text(v, n, text, sizeof(text)), -1);
	const uint16_t bad_perm[][2] = {{1, 8}};
	n = acl(v, bad_perm, ids, 1);
	assert_int_equal(vg_acl_text(v, n, text, sizeof(text)), -1);
	/* an empty ACL is well-formed */
	assert_int_equal(vg_acl_text(v, 4, text, sizeof(text)), 0);
	assert_string_equal(text, "");
	/* a small buffer: cut, still terminated */
	n = acl(v, e, ids, 6);
	char small[10];
	assert_int_equal(vg_acl_text(v, n, small, sizeof(small)), 0);
	assert_int_equal(strlen(small), sizeof(small) - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fcaps_versions),
		cmocka_unit_test(test_fcaps_refused),
		cmocka_unit_test(test_fcaps_text_truncates),
		cmocka_unit_test(test_acl),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
