/* isolate.c's pure parts: CIDRs into LPM trie keys, the "0::" line of
 * /proc/PID/cgroup, the cgroup2 mount in mountinfo, --cgroup paths and
 * the state file's round trip. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "respond/isolate.h"

static void test_cidr_v4(void **st)
{
	struct iso_key4 k4;
	struct iso_key6 k6;
	assert_int_equal(iso_parse_cidr("192.0.2.10", &k4, &k6), 4);
	assert_int_equal(k4.prefixlen, 32);
	assert_memory_equal(k4.addr, ((uint8_t[]){192, 0, 2, 10}), 4);

	assert_int_equal(iso_parse_cidr("10.0.0.0/8", &k4, &k6), 4);
	assert_int_equal(k4.prefixlen, 8);
	assert_memory_equal(k4.addr, ((uint8_t[]){10, 0, 0, 0}), 4);

	/* host bits past the prefix are cleared: one key per network */
	assert_int_equal(iso_parse_cidr("10.213.2.3/30", &k4, &k6), 4);
	assert_int_equal(k4.prefixlen, 30);
	assert_memory_equal(k4.addr, ((uint8_t[]){10, 213, 2, 0}), 4);
	assert_int_equal(iso_parse_cidr("172.16.255.255/12", &k4, &k6), 4);
	assert_memory_equal(k4.addr, ((uint8_t[]){172, 16, 0, 0}), 4);

	assert_int_equal(iso_parse_cidr("0.0.0.0/0", &k4, &k6), 4);
	assert_int_equal(k4.prefixlen, 0);
	assert_memory_equal(k4.addr, ((uint8_t[]){0, 0, 0, 0}), 4);
}

static void test_cidr_v6(void **st)
{
	struct iso_key4 k4;
	struct iso_key6 k6;
	uint8_t want[16] = {0xfd, 0x00};
	assert_int_equal(iso_parse_cidr("fd00::/64", &k4, &k6), 6);
	assert_int_equal(k6.prefixlen, 64);
	assert_memory_equal(k6.addr, want, 16);

	assert_int_equal(iso_parse_cidr("fd00::1:2:3:4/64", &k4, &k6), 6);
	assert_memory_equal(k6.addr, want, 16);

	uint8_t one[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
	assert_int_equal(iso_parse_cidr("2001:db8::1", &k4, &k6), 6);
	assert_int_equal(k6.prefixlen, 128);
	assert_memory_equal(k6.addr, one, 16);

	/* /57: the second half of byte 7 goes */
	assert_int_equal(iso_parse_cidr("2001:db8:0:ffff::/57", &k4, &k6), 6);
	assert_int_equal(k6.addr[6], 0xff);
	assert_int_equal(k6.addr[7], 0x80);
}

static void test_cidr_invalid(void **st)
{
	struct iso_key4 k4;
	struct iso_key6 k6;
	const char *bad[] = {"", "10.0.0.0/33", "fd00::/129", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/8x",
			     "10.0.0/8", "host.example", "10.0.0.0/08 ", "::/1234", "10.0.0.256", "1.2.3.4/ 8"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(iso_parse_cidr(bad[i], &k4, &k6), -1);
	assert_int_equal(iso_parse_cidr(NULL, &k4, &k6), -1);
}

static void test_proc_cgroup(void **st)
{
	char out[256];
	/* hybrid: v1 hierarchies first, the unified one last */
	const char *hybrid = "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/88\n0::/user.slice/session-3.scope\n";
	assert_int_equal(iso_proc_cgroup(hybrid, out, sizeof(out)), 0);
	assert_string_equal(out, "/user.slice/session-3.scope");

	assert_int_equal(iso_proc_cgroup("0::/\n", out, sizeof(out)), 0);
	assert_string_equal(out, "/");
	assert_int_equal(iso_proc_cgroup("0::/vigil/pid-12", out, sizeof(out)), 0); /* no newline */
	assert_string_equal(out, "/vigil/pid-12");

	/* v1 only: no cgroup v2 */
	assert_int_equal(iso_proc_cgroup("3:cpuset:/\n1:name=systemd:/x\n", out, sizeof(out)), -1);
	/* "10::" is not "0::" */
	assert_int_equal(iso_proc_cgroup("10::/x\n", out, sizeof(out)), -1);
	/* too long for the buffer */
	assert_int_equal(iso_proc_cgroup("0::/a/very/long/path\n", out, 8), -1);
}

static void test_cgroup2_mount(void **st)
{
	char out[256];
	const char *hybrid =
		"23 1 0:21 / /sys rw,nosuid - sysfs sysfs rw\n"
		"31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
		"37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer\n"
		"41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
	assert_int_equal(iso_cgroup2_mount(hybrid, out, sizeof(out)), 0);
	assert_string_equal(out, "/sys/fs/cgroup/unified");

	/* optional fields before the separator; a bind mount of a subtree is
	 * skipped for the full one; octal escapes undone */
	const char *v2 = "50 31 0:38 /sub /mnt/sub rw shared:5 - cgroup2 cgroup2 rw\n"
			 "29 23 0:26 / /sys/fs/cgroup rw,nosuid shared:4 master:1 - cgroup2 cgroup2 rw,nsdelegate\n";
	assert_int_equal(iso_cgroup2_mount(v2, out, sizeof(out)), 0);
	assert_string_equal(out, "/sys/fs/cgroup");
	assert_int_equal(iso_cgroup2_mount("60 1 0:40 / /run/my\\040cg rw - cgroup2 none rw\n", out, sizeof(out)), 0);
	assert_string_equal(out, "/run/my cg");

	/* v1 only, or only a subtree */
	assert_int_equal(iso_cgroup2_mount("37 31 0:34 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n", out, sizeof(out)),
			 -1);
	assert_int_equal(iso_cgroup2_mount("50 31 0:38 /sub /mnt/sub rw - cgroup2 cgroup2 rw\n", out, sizeof(out)), -1);
	assert_int_equal(iso_cgroup2_mount("", out, sizeof(out)), -1);
	assert_int_equal(iso_cgroup2_mount("garbage\n\n1 2\n", out, sizeof(out)), -1);
}

static void test_cgroup_rel(void **st)
{
	char out[256];
	const char *mnt = "/sys/fs/cgroup/unified";
	assert_int_equal(iso_cgroup_rel(mnt, "/system.slice/docker-ab.scope", out, sizeof(out)), 0);
	assert_string_equal(out, "/system.slice/docker-ab.scope");
	assert_int_equal(iso_cgroup_rel(mnt, "/sys/fs/cgroup/unified/system.slice/x/", out, sizeof(out)), 0);
	assert_string_equal(out, "/system.slice/x");
	assert_int_equal(iso_cgroup_rel(mnt, "/sys/fs/cgroup/unified", out, sizeof(out)), 0);
	assert_string_equal(out, "/");
	assert_int_equal(iso_cgroup_rel(mnt, "/", out, sizeof(out)), 0);
	assert_string_equal(out, "/");
	assert_int_equal(iso_cgroup_rel(mnt, "a//b///c", out, sizeof(out)), 0);
	assert_string_equal(out, "/a/b/c");
	/* a sibling of the mount point is not under it */
	assert_int_equal(iso_cgroup_rel(mnt, "/sys/fs/cgroup/unifiedx/y", out, sizeof(out)), 0);
	assert_string_equal(out, "/sys/fs/cgroup/unifiedx/y");
	/* no escaping the hierarchy, nothing the state file cannot hold */
	assert_int_equal(iso_cgroup_rel(mnt, "/a/../b", out, sizeof(out)), -1);
	assert_int_equal(iso_cgroup_rel(mnt, "/a/./b", out, sizeof(out)), -1);
	assert_int_equal(iso_cgroup_rel(mnt, "/a\tb", out, sizeof(out)), -1);
	assert_int_equal(iso_cgroup_rel(mnt, "/a\nb", out, sizeof(out)), -1);
	assert_int_equal(iso_cgroup_rel(mnt, "", out, sizeof(out)), -1);
	assert_int_equal(iso_cgroup_rel(mnt, "/a/bcdefgh", out, 8), -1);
}

static void test_cg_within(void **st)
{
	assert_true(iso_cg_within("/a/b", "/"));
	assert_true(iso_cg_within("/", "/"));
	assert_true(iso_cg_within("/a/b", "/a"));
	assert_true(iso_cg_within("/a", "/a"));
	assert_false(iso_cg_within("/ab", "/a"));
	assert_false(iso_cg_within("/", "/a"));
	assert_false(iso_cg_within("/b/a", "/a"));
}

static void test_pin_name(void **st)
{
	char out[64];
	struct iso_ent e = {.kind = ISO_HOST};
	iso_pin_name(&e, out, sizeof(out));
	assert_string_equal(out, "host");
	e = (struct iso_ent){.kind = ISO_PID, .pid = 4242};
	iso_pin_name(&e, out, sizeof(out));
	assert_string_equal(out, "pid-4242");
	e = (struct iso_ent){.kind = ISO_CGROUP, .cgid = 9876543210ull};
	iso_pin_name(&e, out, sizeof(out));
	assert_string_equal(out, "cg-9876543210");
}

static void test_state_round_trip(void **st)
{
	char dir[] = "/tmp/vigil-test-isolate-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[256];
	snprintf(path, sizeof(path), "%s/isolation.state", dir);

	struct iso_ent *got = NULL;
	size_t n = 99;
	assert_int_equal(iso_state_read(path, &got, &n), 0); /* missing: empty */
	assert_int_equal(n, 0);
	assert_null(got);

	struct iso_ent e[3];
	memset(e, 0, sizeof(e));
	e[0].kind = ISO_HOST;
	e[0].isolated_ns = 1796172142005785663ull;
	strcpy(e[0].cg, "/");
	e[1].kind = ISO_PID;
	e[1].pid = 31337;
	e[1].start = 55994;
	e[1].isolated_ns = 1;
	e[1].frozen_ns = 2;
	strcpy(e[1].cg, "/vigil/pid-31337");
	strcpy(e[1].orig, "/user.slice/user-0.slice/session 4.scope"); /* spaces survive */
	e[2].kind = ISO_CGROUP;
	e[2].cgid = 120;
	e[2].frozen_ns = 7;
	/* e[2].cg empty: an adopted cgroup of unknown path */
	assert_int_equal(iso_state_write(path, e, 3), 0);

	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	char tmp[300];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	assert_int_not_equal(access(tmp, F_OK), 0); /* renamed into place */

	assert_int_equal(iso_state_read(path, &got, &n), 0);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(got[i].kind, e[i].kind);
		assert_int_equal(got[i].pid, e[i].pid);
		assert_int_equal(got[i].start, e[i].start);
		assert_int_equal(got[i].cgid, e[i].cgid);
		assert_int_equal(got[i].isolated_ns, e[i].isolated_ns);
		assert_int_equal(got[i].frozen_ns, e[i].frozen_ns);
		assert_string_equal(got[i].cg, e[i].cg);
		assert_string_equal(got[i].orig, e[i].orig);
	}
	free(got);

	/* damaged lines are skipped, good ones kept */
	FILE *f = fopen(path, "a");
	assert_non_null(f);
	fputs("bogus\t1\t2\n", f);
	fputs("pid\t-5\t0\t0\t1\t0\t/x\t/\n", f);
	fputs("pid\t12\tx\t0\t1\t0\t/x\t/\n", f);
	fputs("cgroup\t0\t0\t77\t5\t0\t/system.slice/a\t-\n", f);
	fputs("host\t0\t0\t0\t1\t0\t/\t-\textra\n", f);
	fclose(f);
	assert_int_equal(iso_state_read(path, &got, &n), 0);
	assert_int_equal(n, 4);
	assert_int_equal(got[3].kind, ISO_CGROUP);
	assert_string_equal(got[3].cg, "/system.slice/a");
	assert_string_equal(got[3].orig, "");
	free(got);

	/* nothing to write is an empty file, read back as nothing */
	assert_int_equal(iso_state_write(path, NULL, 0), 0);
	assert_int_equal(iso_state_read(path, &got, &n), 0);
	assert_int_equal(n, 0);
	free(got);

	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cidr_v4),	      cmocka_unit_test(test_cidr_v6),
		cmocka_unit_test(test_cidr_invalid),  cmocka_unit_test(test_proc_cgroup),
		cmocka_unit_test(test_cgroup2_mount), cmocka_unit_test(test_cgroup_rel),
		cmocka_unit_test(test_cg_within),     cmocka_unit_test(test_pin_name),
		cmocka_unit_test(test_state_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
