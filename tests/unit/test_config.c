/* config_parse / config_load: defaults, every key, error messages with
 * file:line: key, and that a failed parse changes nothing. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "daemon/config.h"
#include "sensor/sensor.h"

static char err[512];

static int parse(struct vigil_config *c, const char *text)
{
	err[0] = 0;
	return config_parse(c, text, "t.conf", err, sizeof(err));
}

/* Parses text, expects failure at line with a message starting
 * "t.conf:LINE: KEY" and containing reason. The config stays as it was. */
static void expect_error(const char *text, int line, const char *key, const char *reason)
{
	struct vigil_config c;
	config_defaults(&c);
	assert_int_equal(parse(&c, "events_out = /var/log/keep.json\nargv_max = 300\n"), 0);
	char *keep_out = c.events_out;
	assert_int_equal(parse(&c, text), -1);
	char want[256];
	snprintf(want, sizeof(want), "t.conf:%d: %s", line, key);
	if (strncmp(err, want, strlen(want)) != 0)
		fail_msg("error '%s' does not start with '%s' (input '%s')", err, want, text);
	if (!strstr(err, reason))
		fail_msg("error '%s' lacks '%s'", err, reason);
	/* untouched: same pointer, same values */
	assert_ptr_equal(c.events_out, keep_out);
	assert_string_equal(c.events_out, "/var/log/keep.json");
	assert_int_equal(c.argv_max, 300);
	config_free(&c);
}

static bool list_has(const struct cfg_list *l, const char *v)
{
	for (int i = 0; i < l->n; i++)
		if (strcmp(l->v[i], v) == 0)
			return true;
	return false;
}

static void test_defaults(void **state)
{
	struct vigil_config c;
	config_defaults(&c);
	assert_null(c.events_out);
	assert_int_equal(c.ringbuf_mb, 8);
	assert_int_equal(c.argv_max, 16384);
	assert_int_equal(c.env_max, 4096);
	assert_int_equal(c.queue_max, 262144);
	assert_int_equal(c.queue_max_mb, 64);
	assert_int_equal(c.metrics_interval, 10);
	assert_int_equal(c.hash_max_mb, 256);
	assert_true(c.module_fallback);
	assert_true(c.batch_scheduling);
	/* an empty file gives the defaults plus the default lists */
	assert_int_equal(parse(&c, ""), 0);
	assert_int_equal(c.ringbuf_mb, 8);
	assert_int_equal(c.ignore_exe.n, 0);
	assert_int_equal(c.ignore_cgroup.n, 0);
	assert_int_equal(c.ignore_path.n, 0);
	assert_true(list_has(&c.sensitive, "/etc/shadow"));
	assert_true(list_has(&c.sensitive, "/home/*/.ssh/*"));
	int ns = 0;
	while (config_default_sensitive[ns])
		ns++;
	assert_int_equal(c.sensitive.n, ns);
	assert_true(list_has(&c.watch_path, "/etc/"));
	assert_true(list_has(&c.watch_path, "/usr/bin/"));
	assert_true(list_has(&c.watch_name, "authorized_keys"));
	assert_true(list_has(&c.watch_name, ".bashrc"));
	for (int h = 0; h < VG_HOOK_MAX; h++) {
		assert_false(c.hook_off[h]);
		assert_int_equal(c.rate[h], 0);
	}
	config_free(&c);
	config_free(&c); /* idempotent */
}

static void test_each_key(void **state)
{
	struct vigil_config c;
	config_defaults(&c);
	const char *text =
		"events_out = /var/log/vigil/events.json\n"
		"ringbuf_mb = 64\n"
		"argv_max = 256\n"
		"env_max = 0\n"
		"queue_max = 16777216\n"
		"queue_max_mb = 4096\n"
		"metrics_interval = 0\n"
		"hash_max_mb = 4096\n"
		"module_fallback = off\n"
		"batch_scheduling = off\n"
		"hook.exec = off\n"
		"hook.dns = on\n"
		"hook.signal = false\n"
		"rate.open = 5000\n"
		"rate.connect = 0\n"
		"rate.exec = 100000000\n";
	assert_int_equal(parse(&c, text), 0);
	assert_string_equal(c.events_out, "/var/log/vigil/events.json");
	assert_int_equal(c.ringbuf_mb, 64);
	assert_int_equal(c.argv_max, 256);
	assert_int_equal(c.env_max, 0);
	assert_int_equal(c.queue_max, 16777216);
	assert_int_equal(c.queue_max_mb, 4096);
	assert_int_equal(c.metrics_interval, 0);
	assert_int_equal(c.hash_max_mb, 4096);
	assert_false(c.module_fallback);
	assert_false(c.batch_scheduling);
	assert_true(c.hook_off[VG_HOOK_EXEC]);
	assert_false(c.hook_off[VG_HOOK_DNS]);
	assert_true(c.hook_off[VG_HOOK_SIGNAL]);
	assert_false(c.hook_off[VG_HOOK_OPEN]);
	assert_int_equal(c.rate[VG_HOOK_OPEN], 5000);
	assert_int_equal(c.rate[VG_HOOK_CONNECT], 0);
	assert_int_equal(c.rate[VG_HOOK_EXEC], 100000000);
	/* every spelling of a boolean */
	static const char *yes[] = {"on", "true", "yes", "1"}, *no[] = {"off", "false", "no", "0"};
	char buf[64];
	for (int i = 0; i < 4; i++) {
		snprintf(buf, sizeof(buf), "module_fallback = %s\n", no[i]);
		assert_int_equal(parse(&c, buf), 0);
		assert_false(c.module_fallback);
		snprintf(buf, sizeof(buf), "module_fallback=%s", yes[i]);
		assert_int_equal(parse(&c, buf), 0);
		assert_true(c.module_fallback);
	}
	/* the last of a repeated scalar wins; whitespace and CRLF are trimmed */
	assert_int_equal(parse(&c, "ringbuf_mb = 2\r\n\t ringbuf_mb\t=\t1 \r\nevents_out=a\nevents_out=-\n"), 0);
	assert_int_equal(c.ringbuf_mb, 1);
	assert_string_equal(c.events_out, "-");
	/* a parse resets to defaults: keys absent from the new text revert */
	assert_int_equal(parse(&c, "env_max = 1"), 0);
	assert_int_equal(c.ringbuf_mb, 8);
	assert_null(c.events_out);
	config_free(&c);
}

static void test_every_hook_name(void **state)
{
	/* every hook in the sensor's table is configurable by its name */
	struct vigil_config c;
	config_defaults(&c);
	for (int h = 0; h < VG_HOOK_MAX; h++) {
		const char *name = sensor_hooks[h].name;
		assert_non_null(name);
		char buf[128];
		snprintf(buf, sizeof(buf), "hook.%s = off\nrate.%s = %d\n", name, name, h + 1);
		assert_int_equal(parse(&c, buf), 0);
		for (int k = 0; k < VG_HOOK_MAX; k++) {
			assert_int_equal(c.hook_off[k], k == h);
			assert_int_equal(c.rate[k], k == h ? (uint64_t)h + 1 : 0);
		}
	}
	assert_string_equal(sensor_hooks[VG_HOOK_EXEC].name, "exec");
	assert_string_equal(sensor_hooks[VG_HOOK_DNS].name, "dns");
	config_free(&c);
}

static void test_errors(void **state)
{
	expect_error("ringbuf_mb = 3", 1, "ringbuf_mb: ", "power of two");
	expect_error("ringbuf_mb = 0", 1, "ringbuf_mb: ", "'0'");
	expect_error("ringbuf_mb = 2048", 1, "ringbuf_mb: ", "'2048'");
	expect_error("argv_max = 255", 1, "argv_max: ", "256 to 24576");
	expect_error("argv_max = 24577", 1, "argv_max: ", "got '24577'");
	expect_error("env_max = 8193", 1, "env_max: ", "0 to 8192");
	expect_error("env_max = -1", 1, "env_max: ", "got '-1'");
	expect_error("queue_max = 1023", 1, "queue_max: ", "1024");
	expect_error("queue_max_mb = 0", 1, "queue_max_mb: ", "1 to 4096");
	expect_error("metrics_interval = 3601", 1, "metrics_interval: ", "3600");
	expect_error("hash_max_mb = 4097", 1, "hash_max_mb: ", "4096");
	expect_error("module_fallback = maybe", 1, "module_fallback: ", "on or off, got 'maybe'");
	expect_error("batch_scheduling = sometimes", 1, "batch_scheduling: ", "on or off, got 'sometimes'");
	/* not numbers */
	expect_error("env_max = ", 1, "env_max: ", "got ''");
	expect_error("env_max = 12k", 1, "env_max: ", "got '12k'");
	expect_error("env_max = +12", 1, "env_max: ", "got '+12'");
	expect_error("env_max = 0x10", 1, "env_max: ", "got '0x10'");
	expect_error("env_max = 1 2", 1, "env_max: ", "got '1 2'");
	expect_error("rate.exec = 99999999999999999999999", 1, "rate.exec: ", "events per second");
	expect_error("rate.exec = 100000001", 1, "rate.exec: ", "got '100000001'");
	expect_error("hook.exec = maybe", 1, "hook.exec: ", "on or off, got 'maybe'");
	/* unknown hooks */
	expect_error("hook.nosuch = off", 1, "hook.nosuch: ", "unknown hook 'nosuch'");
	expect_error("rate.nosuch = 5", 1, "rate.nosuch: ", "unknown hook 'nosuch'");
	expect_error("hook. = off", 1, "hook.: ", "unknown hook ''");
	expect_error("rate.EXEC = 5", 1, "rate.EXEC: ", "unknown hook 'EXEC'");
	/* unknown keys and lines that are not assignments */
	expect_error("nosuch = 1", 1, "unknown key 'nosuch'", "nosuch");
	expect_error("ringbufmb = 1", 1, "unknown key 'ringbufmb'", "ringbufmb");
	expect_error(" = 1", 1, "unknown key ''", "''");
	expect_error("just words", 1, "expected `key = value`", "got 'just words'");
	/* list keys */
	expect_error("ignore_exe = usr/bin/x", 1, "ignore_exe: ", "absolute path, got 'usr/bin/x'");
	expect_error("ignore_cgroup = ", 1, "ignore_cgroup: ", "absolute path");
	expect_error("sensitive = *.key", 1, "sensitive: ", "absolute path");
	expect_error("watch_path = tmp/", 1, "watch_path: ", "absolute path");
	char buf[512];
	char longp[200];
	memset(longp, 'a', sizeof(longp));
	longp[0] = '/';
	longp[VG_PREFIX_MAX + 1] = 0; /* 129 bytes */
	snprintf(buf, sizeof(buf), "ignore_path = %s", longp);
	expect_error(buf, 1, "ignore_path: ", "prefix longer than 128");
	snprintf(buf, sizeof(buf), "watch_path = %s", longp);
	expect_error(buf, 1, "watch_path: ", "prefix longer than 128");
	expect_error("watch_name = .ssh/authorized_keys", 1, "watch_name: ", "no '/'");
	expect_error("watch_name = ..", 1, "watch_name: ", "got '..'");
	expect_error("watch_name = ", 1, "watch_name: ", "1 to 31 bytes");
	expect_error("watch_name = name-of-exactly-thirty-two-bytes", 1, "watch_name: ", "1 to 31 bytes");
}

/* Comments and blank lines count as lines: the error names the right one. */
static void test_line_numbers(void **state)
{
	expect_error("# vigild.conf\n\n   \n# ringbuf_mb = 3\nringbuf_mb = 4 # fine\n\t\nargv_max = 1\n", 7,
		     "argv_max: ", "got '1'");
	expect_error("\n\n\n\n\n\n\n\n\n\nhook.bogus = on", 11, "hook.bogus: ", "unknown hook");
	expect_error("a=\r\n", 1, "unknown key 'a'", "'a'");
	expect_error("# x\r\n\r\nenv_max = z\r\n", 3, "env_max: ", "got 'z'");
	/* a comment hides what follows it, even a bad value */
	struct vigil_config c;
	config_defaults(&c);
	assert_int_equal(parse(&c, "env_max = 100 # = 99999\n#argv_max = 1\n"), 0);
	assert_int_equal(c.env_max, 100);
	assert_int_equal(c.argv_max, 16384);
	/* no newline at the end, and a file of only comments */
	assert_int_equal(parse(&c, "# only\n# comments"), 0);
	assert_int_equal(parse(&c, "env_max = 7"), 0);
	assert_int_equal(c.env_max, 7);
	config_free(&c);
}

static void test_lists(void **state)
{
	struct vigil_config c;
	config_defaults(&c);
	const char *text = "ignore_exe = /usr/sbin/cron\n"
			   "ignore_exe = /usr/bin/updatedb\n"
			   "ignore_cgroup = /system.slice/backup.service\n"
			   "ignore_path = /var/cache/\n"
			   "watch_path = /srv/www/\n"
			   "watch_path = /opt/app/bin/\n"
			   "sensitive = /etc/app/secret.key\n"
			   "watch_name = .myshrc\n"
			   "watch_name = name-of-exactly-thirty-one-byte\n";
	assert_int_equal(parse(&c, text), 0);
	assert_int_equal(c.ignore_exe.n, 2);
	assert_string_equal(c.ignore_exe.v[0], "/usr/sbin/cron");
	assert_string_equal(c.ignore_exe.v[1], "/usr/bin/updatedb");
	assert_int_equal(c.ignore_cgroup.n, 1);
	assert_string_equal(c.ignore_cgroup.v[0], "/system.slice/backup.service");
	assert_int_equal(c.ignore_path.n, 1);
	assert_string_equal(c.ignore_path.v[0], "/var/cache/");
	/* a configured watch/sensitive list replaces the defaults */
	assert_int_equal(c.watch_path.n, 2);
	assert_string_equal(c.watch_path.v[1], "/opt/app/bin/");
	assert_false(list_has(&c.watch_path, "/etc/"));
	assert_int_equal(c.sensitive.n, 1);
	assert_false(list_has(&c.sensitive, "/etc/shadow"));
	assert_int_equal(c.watch_name.n, 2);
	assert_true(list_has(&c.watch_name, "name-of-exactly-thirty-one-byte"));
	assert_false(list_has(&c.watch_name, "authorized_keys"));
	/* exactly 128 bytes is allowed */
	char buf[256], longp[VG_PREFIX_MAX + 1];
	memset(longp, 'b', VG_PREFIX_MAX);
	longp[0] = '/';
	longp[VG_PREFIX_MAX] = 0;
	snprintf(buf, sizeof(buf), "ignore_path = %s", longp);
	assert_int_equal(parse(&c, buf), 0);
	assert_string_equal(c.ignore_path.v[0], longp);
	/* CFG_LIST_MAX entries fit, one more fails on its line */
	size_t cap = 64 * (CFG_LIST_MAX + 2);
	char *big = malloc(cap);
	size_t o = 0;
	for (int i = 0; i < CFG_LIST_MAX; i++)
		o += (size_t)snprintf(big + o, cap - o, "ignore_exe = /bin/x%d\n", i);
	assert_int_equal(parse(&c, big), 0);
	assert_int_equal(c.ignore_exe.n, CFG_LIST_MAX);
	assert_string_equal(c.ignore_exe.v[CFG_LIST_MAX - 1], "/bin/x255");
	snprintf(big + o, cap - o, "ignore_exe = /bin/one-too-many\n");
	free(big);
	config_free(&c);
	big = malloc(cap);
	o = 0;
	for (int i = 0; i <= CFG_LIST_MAX; i++)
		o += (size_t)snprintf(big + o, cap - o, "ignore_exe = /bin/x%d\n", i);
	expect_error(big, CFG_LIST_MAX + 1, "ignore_exe: ", "more than 256 entries");
	free(big);
}

/* A failed parse of a whole file keeps every list and scalar of the
 * previous configuration, including the lists' memory. */
static void test_failed_parse_keeps_previous(void **state)
{
	struct vigil_config c;
	config_defaults(&c);
	assert_int_equal(parse(&c, "ignore_exe = /a\nwatch_path = /w/\nhook.exec = off\nrate.dns = 9\n"), 0);
	char *a = c.ignore_exe.v[0];
	assert_int_equal(parse(&c, "ignore_exe = /b\nignore_exe = /c\nhook.dns = off\nrate.dns = 1\n"
				   "watch_path = /x/\nenv_max = 1\nbogus = 1\n"),
			 -1);
	assert_string_equal(err, "t.conf:7: unknown key 'bogus'");
	assert_int_equal(c.ignore_exe.n, 1);
	assert_ptr_equal(c.ignore_exe.v[0], a);
	assert_string_equal(a, "/a");
	assert_int_equal(c.watch_path.n, 1);
	assert_string_equal(c.watch_path.v[0], "/w/");
	assert_true(c.hook_off[VG_HOOK_EXEC]);
	assert_false(c.hook_off[VG_HOOK_DNS]);
	assert_int_equal(c.rate[VG_HOOK_DNS], 9);
	assert_int_equal(c.env_max, 4096);
	config_free(&c);
}

static void test_small_err_buffer(void **state)
{
	struct vigil_config c;
	config_defaults(&c);
	char small[8];
	memset(small, 'X', sizeof(small));
	assert_int_equal(config_parse(&c, "nosuch = 1", "some/long/name.conf", small, sizeof(small)), -1);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_memory_equal(small, "some/lo", 7);
	config_free(&c);
}

static void test_load(void **state)
{
	struct vigil_config c;
	config_defaults(&c);
	char dir[] = "/tmp/vgcfgXXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[128];
	snprintf(path, sizeof(path), "%s/vigild.conf", dir);
	/* missing file: defaults, not an error */
	assert_int_equal(config_load(&c, path, err, sizeof(err)), 0);
	assert_int_equal(c.ringbuf_mb, 8);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("# test\nringbuf_mb = 32\nignore_path = /tmp/cache/\n", f);
	fclose(f);
	assert_int_equal(config_load(&c, path, err, sizeof(err)), 0);
	assert_int_equal(c.ringbuf_mb, 32);
	assert_string_equal(c.ignore_path.v[0], "/tmp/cache/");
	f = fopen(path, "w");
	fputs("ringbuf_mb = 32\n\nrate.nope = 1\n", f);
	fclose(f);
	assert_int_equal(config_load(&c, path, err, sizeof(err)), -1);
	char want[200];
	snprintf(want, sizeof(want), "%s:3: rate.nope: unknown hook 'nope'", path);
	assert_memory_equal(err, want, strlen(want));
	assert_int_equal(c.ringbuf_mb, 32);
	/* an empty file */
	f = fopen(path, "w");
	fclose(f);
	assert_int_equal(config_load(&c, path, err, sizeof(err)), 0);
	assert_int_equal(c.ringbuf_mb, 8);
	/* a directory is not a config file */
	assert_int_equal(config_load(&c, dir, err, sizeof(err)), -1);
	assert_non_null(strstr(err, dir));
	unlink(path);
	rmdir(dir);
	config_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_each_key),
		cmocka_unit_test(test_every_hook_name),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_line_numbers),
		cmocka_unit_test(test_lists),
		cmocka_unit_test(test_failed_parse_keeps_previous),
		cmocka_unit_test(test_small_err_buffer),
		cmocka_unit_test(test_load),
	};
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
