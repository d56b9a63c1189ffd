/* vg_record_check and the bounds-checked blob accessors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdlib.h>
#include "event/event.h"
#include "sensor/blob.h"
#include "recbuild.h"

static struct rb r;

static const struct {
	unsigned type, hook;
	size_t size;
} kinds[] = {
	{VG_EV_EXEC, VG_HOOK_EXEC, sizeof(struct vg_exec)},
	{VG_EV_EXEC_FAIL, VG_HOOK_EXEC_FAIL, sizeof(struct vg_exec_fail)},
	{VG_EV_FORK, VG_HOOK_FORK, sizeof(struct vg_fork)},
	{VG_EV_EXIT, VG_HOOK_EXIT, sizeof(struct vg_exit)},
	{VG_EV_SETSID, VG_HOOK_SETSID, sizeof(struct vg_hdr)},
	{VG_EV_COMM, VG_HOOK_RENAME_COMM, sizeof(struct vg_comm)},
	{VG_EV_MEMFD, VG_HOOK_MEMFD, sizeof(struct vg_memfd)},
	{VG_EV_FILE_CREATE, VG_HOOK_OPEN, sizeof(struct vg_file)},
	{VG_EV_FILE_WRITE, VG_HOOK_OPEN, sizeof(struct vg_file)},
	{VG_EV_FILE_READ_SENSITIVE, VG_HOOK_OPEN, sizeof(struct vg_file)},
	{VG_EV_FILE_RENAME, VG_HOOK_RENAME, sizeof(struct vg_file2)},
	{VG_EV_FILE_UNLINK, VG_HOOK_UNLINK, sizeof(struct vg_file)},
	{VG_EV_FILE_CHMOD, VG_HOOK_CHMOD, sizeof(struct vg_file)},
	{VG_EV_FILE_CHOWN, VG_HOOK_CHOWN, sizeof(struct vg_file)},
	{VG_EV_FILE_LINK, VG_HOOK_LINK, sizeof(struct vg_file2)},
	{VG_EV_FILE_SYMLINK, VG_HOOK_LINK, sizeof(struct vg_file2)},
	{VG_EV_FILE_TRUNCATE, VG_HOOK_TRUNCATE, sizeof(struct vg_file)},
	{VG_EV_FILE_UTIMES, VG_HOOK_UTIMES, sizeof(struct vg_file)},
	{VG_EV_NET_CONNECT, VG_HOOK_CONNECT, sizeof(struct vg_net)},
	{VG_EV_NET_ACCEPT, VG_HOOK_ACCEPT, sizeof(struct vg_net)},
	{VG_EV_NET_BIND, VG_HOOK_BIND, sizeof(struct vg_net)},
	{VG_EV_NET_LISTEN, VG_HOOK_LISTEN, sizeof(struct vg_net)},
	{VG_EV_NET_DNS, VG_HOOK_DNS, sizeof(struct vg_dns)},
	{VG_EV_NET_SOCKET, VG_HOOK_SOCKET, sizeof(struct vg_socket)},
	{VG_EV_CRED_CHANGE, VG_HOOK_CREDS, sizeof(struct vg_creds)},
	{VG_EV_PTRACE, VG_HOOK_PTRACE, sizeof(struct vg_ptrace)},
	{VG_EV_MODULE_LOAD, VG_HOOK_MODULE, sizeof(struct vg_module)},
	{VG_EV_MODULE_UNLOAD, VG_HOOK_MODULE, sizeof(struct vg_module)},
	{VG_EV_MOUNT, VG_HOOK_MOUNT, sizeof(struct vg_mount)},
	{VG_EV_UMOUNT, VG_HOOK_MOUNT, sizeof(struct vg_mount)},
	{VG_EV_BPF_LOAD, VG_HOOK_BPF, sizeof(struct vg_bpf)},
	{VG_EV_SIGNAL, VG_HOOK_SIGNAL, sizeof(struct vg_signal)},
	{VG_EV_FILE_XATTR_SET, VG_HOOK_ATTR, sizeof(struct vg_xattr)},
	{VG_EV_FILE_XATTR_REMOVE, VG_HOOK_ATTR, sizeof(struct vg_xattr)},
	{VG_EV_FILE_FLAGS, VG_HOOK_ATTR, sizeof(struct vg_fsflags)},
};
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

static void test_every_type_listed(void **state)
{
	/* every record type in records.h is known to the decoder (types
	 * added later than this table still must have a size) */
	assert_true(NKINDS <= VG_EV_TYPE_MAX - 1);
	for (unsigned t = 1; t < VG_EV_TYPE_MAX; t++)
		if (vg_record_min_size(t) < sizeof(struct vg_hdr))
			fail_msg("record type %u has no size in decode.c", t);
	assert_int_equal(vg_record_min_size(0), 0);
	assert_int_equal(vg_record_min_size(VG_EV_TYPE_MAX), 0);
	assert_int_equal(vg_record_min_size(1000), 0);
	assert_int_equal(vg_record_min_size(0xffff), 0);
}

static void test_good_records(void **state)
{
	for (size_t i = 0; i < NKINDS; i++) {
		rb_init(&r, kinds[i].size, kinds[i].type, kinds[i].hook);
		assert_int_equal(vg_record_min_size(kinds[i].type), kinds[i].size);
		const char *why = vg_record_check(r.u.buf, r.len);
		if (why)
			fail_msg("type %u: %s", kinds[i].type, why);
		/* a data area after the fixed part is fine */
		rb_str(&r, "/some/path");
		assert_null(vg_record_check(r.u.buf, r.len));
	}
}

static void test_too_short(void **state)
{
	rb_init(&r, sizeof(struct vg_exec), VG_EV_EXEC, VG_HOOK_EXEC);
	for (size_t n = 0; n < sizeof(struct vg_hdr); n++)
		assert_string_equal(vg_record_check(r.u.buf, n), "shorter than a header");
	/* a header that says it is short, of a type that needs more */
	for (size_t i = 0; i < NKINDS; i++) {
		if (kinds[i].size == sizeof(struct vg_hdr))
			continue;
		rb_init(&r, kinds[i].size - 1, kinds[i].type, kinds[i].hook);
		assert_string_equal(vg_record_check(r.u.buf, r.len), "shorter than its type");
		rb_init(&r, sizeof(struct vg_hdr), kinds[i].type, kinds[i].hook);
		assert_string_equal(vg_record_check(r.u.buf, r.len), "shorter than its type");
	}
}

static void test_size_mismatch(void **state)
{
	rb_init(&r, sizeof(struct vg_fork), VG_EV_FORK, VG_HOOK_FORK);
	assert_null(vg_record_check(r.u.buf, r.len));
	assert_string_equal(vg_record_check(r.u.buf, r.len + 1), "size field disagrees with the record length");
	assert_string_equal(vg_record_check(r.u.buf, r.len - 1), "size field disagrees with the record length");
	r.u.hdr.size = 0;
	assert_string_equal(vg_record_check(r.u.buf, r.len), "size field disagrees with the record length");
	r.u.hdr.size = 0xffffffff;
	assert_string_equal(vg_record_check(r.u.buf, r.len), "size field disagrees with the record length");
}

static void test_unknown_type_and_hook(void **state)
{
	static const unsigned bad_types[] = {0, VG_EV_TYPE_MAX, 999, 1000, 0xffff};
	for (size_t i = 0; i < sizeof(bad_types) / sizeof(bad_types[0]); i++) {
		rb_init(&r, 4096, bad_types[i], VG_HOOK_EXEC);
		assert_string_equal(vg_record_check(r.u.buf, r.len), "unknown record type");
	}
	static const unsigned bad_hooks[] = {VG_HOOK_MAX, VG_HOOK_MAX + 1, 0xffff};
	for (size_t i = 0; i < sizeof(bad_hooks) / sizeof(bad_hooks[0]); i++) {
		rb_init(&r, sizeof(struct vg_exec), VG_EV_EXEC, bad_hooks[i]);
		assert_string_equal(vg_record_check(r.u.buf, r.len), "unknown hook");
	}
	rb_init(&r, sizeof(struct vg_exec), VG_EV_EXEC, VG_HOOK_MAX - 1);
	assert_null(vg_record_check(r.u.buf, r.len));
}

static void test_blob_bytes(void **state)
{
	struct vg_exec_fail *x = rb_init(&r, sizeof(struct vg_exec_fail), VG_EV_EXEC_FAIL, VG_HOOK_EXEC_FAIL);
	x->filename = rb_str(&r, "/bin/nope");
	size_t len = r.len, n = 99;
	const char *s = vg_blob_bytes(r.u.buf, len, x->filename, &n);
	assert_ptr_equal(s, (const char *)r.u.buf + sizeof(*x));
	assert_int_equal(n, 10);
	/* exactly up to the end is in range; one past is not */
	struct vg_blob b = {(__u16)(len - 1), 1};
	assert_non_null(vg_blob_bytes(r.u.buf, len, b, &n));
	assert_int_equal(n, 1);
	b.len = 2;
	assert_null(vg_blob_bytes(r.u.buf, len, b, &n));
	assert_int_equal(n, 0);
	b = (struct vg_blob){(__u16)len, 1};
	assert_null(vg_blob_bytes(r.u.buf, len, b, &n));
	b = (struct vg_blob){0xffff, 0xffff};
	assert_null(vg_blob_bytes(r.u.buf, len, b, &n));
	b = (struct vg_blob){0, 0xffff};
	assert_null(vg_blob_bytes(r.u.buf, len, b, &n));
	b = (struct vg_blob){0xffff, 1};
	assert_null(vg_blob_bytes(r.u.buf, len, b, &n));
	/* an empty blob is absent */
	b = (struct vg_blob){10, 0};
	n = 5;
	assert_null(vg_blob_bytes(r.u.buf, len, b, &n));
	assert_int_equal(n, 0);
	/* a whole-record blob (never made, but in range) */
	b = (struct vg_blob){0, (__u16)len};
	assert_non_null(vg_blob_bytes(r.u.buf, len, b, &n));
	assert_int_equal(n, len);
}

static void test_blob_str(void **state)
{
	struct vg_memfd *m = rb_init(&r, sizeof(struct vg_memfd), VG_EV_MEMFD, VG_HOOK_MEMFD);
	m->name = rb_str(&r, "payload");
	size_t n = 0;
	const char *s = vg_blob_str(r.u.buf, r.len, m->name, &n);
	assert_non_null(s);
	assert_int_equal(n, 7);
	assert_memory_equal(s, "payload", 7);
	/* NUL inside the blob ends the string */
	struct vg_blob b = rb_bytes(&r, "ab\0cd", 5);
	s = vg_blob_str(r.u.buf, r.len, b, &n);
	assert_int_equal(n, 2);
	/* no NUL: the blob length bounds it */
	b = rb_bytes(&r, "xyz", 3);
	s = vg_blob_str(r.u.buf, r.len, b, &n);
	assert_non_null(s);
	assert_int_equal(n, 3);
	assert_memory_equal(s, "xyz", 3);
	/* a lone NUL: present but empty */
	b = rb_bytes(&r, "", 1);
	s = vg_blob_str(r.u.buf, r.len, b, &n);
	assert_non_null(s);
	assert_int_equal(n, 0);
	/* out of range */
	b = (struct vg_blob){(__u16)(r.len - 1), 2};
	n = 77;
	assert_null(vg_blob_str(r.u.buf, r.len, b, &n));
	assert_int_equal(n, 0);
	/* the record length, not the buffer, is the bound */
	assert_null(vg_blob_str(r.u.buf, sizeof(struct vg_memfd), m->name, &n));
	assert_non_null(vg_blob_str(r.u.buf, sizeof(struct vg_memfd) + 8, m->name, &n));
	assert_int_equal(n, 7);
}

/* Events made by one thread and freed by another (the sensor and the
 * output thread) are recycled: every event reads back exactly what it was
 * made from, pooled or not, across many rounds of reuse. */
#define POOL_EVENTS 20000
static struct vg_event *handed[POOL_EVENTS];
static volatile int handed_n;

static size_t pool_len(int i)
{
	return sizeof(struct vg_hdr) + (size_t)(i * 37) % 2000; /* over and under the pooled size */
}

static void pool_fill(uint8_t *buf, int i, size_t len)
{
	memset(buf, 0, sizeof(struct vg_hdr));
	for (size_t k = sizeof(struct vg_hdr); k < len; k++)
		buf[k] = (uint8_t)(i * 7 + k);
}

static void *pool_consumer(void *arg)
{
	static uint8_t want[4096];
	for (int i = 0; i < POOL_EVENTS; i++) {
		while (__atomic_load_n(&handed_n, __ATOMIC_ACQUIRE) <= i)
			;
		struct vg_event *ev = handed[i];
		size_t len = pool_len(i);
		pool_fill(want, i, len);
		if (ev->len != len || memcmp(ev->rec.raw, want, len) || ev->img || ev->next)
			return (void *)1;
		vg_event_free(ev);
	}
	vg_event_pool_flush();
	return arg;
}

static void test_event_pool(void **state)
{
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, pool_consumer, NULL), 0);
	static uint8_t buf[4096];
	int pooled = 0;
	for (int i = 0; i < POOL_EVENTS; i++) {
		size_t len = pool_len(i);
		pool_fill(buf, i, len);
		struct vg_event *ev = vg_event_new(buf, len);
		assert_non_null(ev);
		pooled += ev->pooled;
		handed[i] = ev;
		__atomic_store_n(&handed_n, i + 1, __ATOMIC_RELEASE);
	}
	void *rc;
	assert_int_equal(pthread_join(th, &rc), 0);
	assert_null(rc);
	assert_true(pooled > POOL_EVENTS / 3 && pooled < POOL_EVENTS);
	/* what the consumer handed back is made again, clean */
	struct vg_event *ev = vg_event_new(buf, sizeof(struct vg_hdr));
	assert_true(ev->pooled && !ev->img && !ev->parent && ev->nanc == 0 && !ev->extra_json);
	vg_event_free(ev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_type_listed),
		cmocka_unit_test(test_good_records),
		cmocka_unit_test(test_too_short),
		cmocka_unit_test(test_size_mismatch),
		cmocka_unit_test(test_unknown_type_and_hook),
		cmocka_unit_test(test_blob_bytes),
		cmocka_unit_test(test_blob_str),
		cmocka_unit_test(test_event_pool),
	};
	return cmocka_run_group_tests_name("decode", tests, NULL, NULL);
}
