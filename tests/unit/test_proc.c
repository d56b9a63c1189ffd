/* The process cache over a fake /proc built in a temporary directory. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "proc/exehash.h"
#include "proc/proc.h"
#include "recbuild.h"

#define CID "4f5a1c0e9b8d7a6f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7"
#define CID2 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static char root[64];  /* /tmp/vgpXXXXXX */
static char proot[80]; /* root/proc */

static void wfile(const char *rel, const void *data, size_t n)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		fail_msg("open %s: %s", p, strerror(errno));
	assert_int_equal(write(fd, data, n), (ssize_t)n);
	close(fd);
}
#define WSTR(rel, lit) wfile(rel, lit, sizeof(lit) - 1)

static void mkdirs(const char *rel)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	for (char *s = p + strlen(root) + 1; (s = strchr(s, '/')); s++) {
		*s = 0;
		mkdir(p, 0755);
		*s = '/';
	}
	mkdir(p, 0755);
}

static void symlink_rel(const char *target, const char *rel)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	unlink(p);
	assert_int_equal(symlink(target, p), 0);
}

/* /proc/PID/stat with the given comm, ppid, tty and start time (ticks). */
static void write_stat(uint32_t pid, const char *comm, uint32_t ppid, int tty, uint64_t ticks)
{
	char rel[64], buf[512];
	snprintf(rel, sizeof(rel), "proc/%u/stat", pid);
	int n = snprintf(buf, sizeof(buf),
			 "%u (%s) S %u %u %u %d -1 4194560 1234 0 0 0 10 5 0 0 20 0 1 0 %llu 10000000 500 "
			 "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n",
			 pid, comm, ppid, pid, pid, tty, (unsigned long long)ticks);
	wfile(rel, buf, (size_t)n);
}

static void make_proc(uint32_t pid, const char *comm, uint32_t ppid, int tty, uint64_t ticks)
{
	char rel[64];
	snprintf(rel, sizeof(rel), "proc/%u/ns", pid);
	mkdirs(rel);
	write_stat(pid, comm, ppid, tty, ticks);
}

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	return remove(p);
}

static int setup(void **state)
{
	snprintf(root, sizeof(root), "/tmp/vgpXXXXXX");
	if (!mkdtemp(root))
		return -1;
	snprintf(proot, sizeof(proot), "%s/proc", root);
	mkdirs("proc/self/ns");
	mkdirs("bin");
	WSTR("proc/self/ns/uts", "uts");
	WSTR("bin/tool", "#!/bin/sh\nexit 0\n");

	/* 1: init, no tty */
	make_proc(1, "systemd", 0, 0, 1);
	WSTR("proc/1/cmdline", "/sbin/init\0splash\0");
	symlink_rel("/usr/lib/systemd/systemd", "proc/1/exe");
	symlink_rel("/", "proc/1/cwd");
	WSTR("proc/1/cgroup", "0::/init.scope\n");
	/* 50: sshd on tty1, in another uts namespace */
	make_proc(50, "sshd", 1, (4 << 8) | 1, 500);
	WSTR("proc/50/cmdline", "sshd: user [priv]\0");
	symlink_rel("/usr/sbin/sshd", "proc/50/exe");
	WSTR("proc/50/ns/uts", "other-uts");
	/* 100: a shell on pts/0 whose comm tries to spoof the fields after it */
	make_proc(100, "my shell) R 999 (x", 50, 136 << 8, 12345);
	WSTR("proc/100/cmdline", "bash\0-c\0echo hi\0");
	WSTR("proc/100/environ", "HOME=/home/u\0LD_PRELOAD_X=no\0LD_PRELOAD=/tmp/evil.so\0"
				 "SSH_CONNECTION=10.0.0.9 51234 10.0.0.1 22\0");
	char target[160];
	snprintf(target, sizeof(target), "%s/bin/tool", root);
	symlink_rel(target, "proc/100/exe");
	symlink_rel("/home/u", "proc/100/cwd");
	char a[256], b[256];
	snprintf(a, sizeof(a), "%s/proc/self/ns/uts", root);
	snprintf(b, sizeof(b), "%s/proc/100/ns/uts", root);
	if (link(a, b))
		return -1;
	WSTR("proc/100/cgroup", "12:pids:/docker/" CID "\n0::/system.slice/docker-" CID ".scope\n");
	/* 200: a deleted executable; 300: a memfd one */
	make_proc(200, "gone", 1, 0, 2000);
	symlink_rel("/opt/app/gone (deleted)", "proc/200/exe");
	make_proc(300, "payload", 100, 0, 3000);
	symlink_rel("/memfd:payload (deleted)", "proc/300/exe");
	WSTR("proc/300/cmdline", "payload");
	/* not processes: a number without stat, a stat without start time, names */
	mkdirs("proc/77");
	mkdirs("proc/400");
	WSTR("proc/400/stat", "400 (short) S 1 400");
	mkdirs("proc/sys");
	return 0;
}

static int teardown(void **state)
{
	nftw(root, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	return 0;
}

static uint64_t tick_ns(const struct proc_cache *pc, uint64_t ticks)
{
	return ticks * (1000000000ULL / (uint64_t)pc->clk_tck);
}

static void test_scan(void **state)
{
	struct proc_cache pc;
	assert_int_equal(pc_init(&pc, proot), 0);
	assert_string_equal(pc.proc_root, proot);
	assert_int_equal(pc_scan(&pc), 5);
	assert_int_equal(pc.procs.count, 5);

	struct proc_entry *e = htab_get(&pc.procs, 100);
	assert_non_null(e);
	assert_int_equal(e->ppid, 50); /* not 999 from the comm */
	assert_int_equal(e->start_ticks, 12345);
	assert_int_equal(e->start_ns, tick_ns(&pc, 12345));
	struct proc_image *img = e->img;
	assert_non_null(img);
	assert_true(img->from_procfs);
	assert_int_equal(img->pid, 100);
	char target[160];
	snprintf(target, sizeof(target), "%s/bin/tool", root);
	assert_string_equal(img->exe, target);
	struct stat st;
	assert_int_equal(stat(target, &st), 0);
	assert_int_equal(img->exe_ino, st.st_ino);
	assert_int_equal(img->exe_size, st.st_size);
	assert_int_equal(img->exe_flags, 0);
	assert_string_equal(img->cwd, "/home/u");
	assert_int_equal(img->argc, 3);
	assert_memory_equal(img->argv, "bash\0-c\0echo hi", 15);
	assert_int_equal(img->argv_len, 15); /* as from exec: no trailing NUL */
	assert_string_equal(img->ld_preload, "/tmp/evil.so");
	assert_string_equal(img->ssh_connection, "10.0.0.9 51234 10.0.0.1 22");
	assert_string_equal(img->tty, "pts0");
	assert_non_null(img->nodename); /* same uts namespace as "self" */
	assert_string_equal(img->nodename, pc.hostname);

	e = htab_get(&pc.procs, 50);
	assert_non_null(e);
	assert_int_equal(e->ppid, 1);
	assert_string_equal(e->img->tty, "tty1");
	assert_null(e->img->nodename);
	assert_null(e->img->ld_preload);
	assert_int_equal(e->img->argc, 1);
	assert_string_equal(e->img->argv, "sshd: user [priv]");

	e = htab_get(&pc.procs, 1);
	assert_null(e->img->tty);
	assert_int_equal(e->img->argc, 2);
	assert_string_equal(e->img->exe, "/usr/lib/systemd/systemd");

	e = htab_get(&pc.procs, 200);
	assert_string_equal(e->img->exe, "/opt/app/gone");
	assert_int_equal(e->img->exe_flags, VG_EXE_DELETED);
	assert_null(e->img->argv);
	assert_int_equal(e->img->argc, 0);

	e = htab_get(&pc.procs, 300);
	assert_string_equal(e->img->exe, "/memfd:payload");
	assert_int_equal(e->img->exe_flags, VG_EXE_MEMFD | VG_EXE_DELETED);
	/* a cmdline without a final NUL still counts one argument */
	assert_int_equal(e->img->argc, 1);
	assert_int_equal(e->img->argv_len, 7);

	assert_null(htab_get(&pc.procs, 77));
	assert_null(htab_get(&pc.procs, 400));
	/* a second scan replaces every entry without leaking */
	assert_int_equal(pc_scan(&pc), 5);
	assert_int_equal(pc.procs.count, 5);
	pc_free(&pc);

	/* a proc root that does not exist */
	char bad[128];
	snprintf(bad, sizeof(bad), "%s/nope", root);
	assert_int_equal(pc_init(&pc, bad), 0);
	assert_int_equal(pc_scan(&pc), -ENOENT);
	pc_free(&pc);
}

static void test_get_start_time(void **state)
{
	struct proc_cache pc;
	assert_int_equal(pc_init(&pc, proot), 0);
	/* not cached: read from /proc on demand */
	struct proc_entry *e = pc_get(&pc, 100, 0);
	assert_non_null(e);
	assert_int_equal(pc.misses, 1);
	/* start 0 (unknown) and the matching start both hit the cache */
	assert_ptr_equal(pc_get(&pc, 100, 0), e);
	uint64_t start = tick_ns(&pc, 12345) + 1234; /* sub-tick precision is dropped */
	assert_ptr_equal(pc_get(&pc, 100, start), e);
	assert_int_equal(pc.misses, 1);
	assert_int_equal(pc.lookups, 3);

	/* pid reuse: the pid now belongs to a new process; the old image
	 * stays valid for whoever holds a reference */
	struct proc_image *old = img_get(e->img);
	assert_int_equal(old->refs, 2);
	write_stat(100, "python3", 1, 0, 77777);
	WSTR("proc/100/cmdline", "python3\0-m\0http.server\0");
	symlink_rel("/usr/bin/python3.11", "proc/100/exe");
	WSTR("proc/100/environ", "PATH=/bin\0");
	uint64_t nstart = tick_ns(&pc, 77777) + 42;
	struct proc_entry *f = pc_get(&pc, 100, nstart);
	assert_non_null(f);
	assert_int_equal(pc.misses, 2);
	assert_int_equal(f->ppid, 1);
	assert_int_equal(f->start_ticks, 77777);
	assert_int_equal(f->start_ns, nstart); /* the kernel's exact value */
	assert_int_equal(f->img->start_ns, nstart);
	assert_string_equal(f->img->exe, "/usr/bin/python3.11");
	assert_int_equal(f->img->argc, 3);
	assert_null(f->img->ld_preload);
	assert_int_equal(old->refs, 1); /* the cache let go of it */
	assert_string_equal(old->exe + strlen(old->exe) - 9, "/bin/tool");
	assert_string_equal(old->ld_preload, "/tmp/evil.so");
	img_put(old);

	/* asking with the old start again: /proc has the new process, so the
	 * cache re-reads and keeps what is really there, but answers nothing:
	 * the new owner's context must never be lent to the old process */
	assert_null(pc_get(&pc, 100, tick_ns(&pc, 12345)));
	e = pc_get(&pc, 100, 0);
	assert_non_null(e);
	assert_string_equal(e->img->exe, "/usr/bin/python3.11");
	/* ... without stamping the old start time on the new process */
	assert_int_equal(e->start_ticks, 77777);
	assert_int_equal(e->start_ns, tick_ns(&pc, 77777));
	assert_int_equal(e->img->start_ns, tick_ns(&pc, 77777));
	assert_ptr_equal(pc_get(&pc, 100, nstart), e);

	/* a process that is gone from /proc */
	e = pc_get(&pc, 200, 0);
	assert_non_null(e);
	char p[128];
	snprintf(p, sizeof(p), "%s/200/stat", proot);
	unlink(p);
	/* the cached entry still answers for its own start time ... */
	assert_ptr_equal(pc_get(&pc, 200, e->start_ns), e);
	/* ... but not for another process that had the pid */
	assert_null(pc_get(&pc, 200, e->start_ns + 1000000000ULL));
	/* unknown everywhere */
	assert_null(pc_get(&pc, 4242, 0));
	assert_null(pc_get(&pc, 77, 0));
	pc_free(&pc);
}

static void test_fork_shares_image(void **state)
{
	struct proc_cache pc;
	assert_int_equal(pc_init(&pc, proot), 0);
	assert_int_equal(pc_scan(&pc), 5);
	struct proc_entry *p = pc_get(&pc, 100, 0);
	struct proc_image *pimg = p->img;
	assert_int_equal(pimg->refs, 1);
	uint64_t cstart = 987654321000ULL;
	pc_on_fork(&pc, 100, p->start_ns, 101, cstart);
	struct proc_entry *c = pc_get(&pc, 101, cstart);
	assert_non_null(c);
	assert_int_equal(c->pid, 101);
	assert_int_equal(c->ppid, 100);
	assert_int_equal(c->start_ns, cstart);
	assert_int_equal(c->start_ticks, pc_ns_to_ticks(&pc, cstart));
	assert_ptr_equal(c->img, pimg);
	assert_int_equal(pimg->refs, 2);
	/* grandchild */
	pc_on_fork(&pc, 101, cstart, 102, cstart + 1000);
	assert_ptr_equal(pc_get(&pc, 102, 0)->img, pimg);
	assert_int_equal(pimg->refs, 3);
	/* a parent nobody knows: the child has no image yet */
	pc_on_fork(&pc, 5555, 0, 5556, 1);
	c = pc_get(&pc, 5556, 0);
	assert_non_null(c);
	assert_null(c->img);
	assert_int_equal(c->ppid, 5555);
	/* the same child pid forked again (reuse): replaced, refs dropped */
	pc_on_fork(&pc, 1, 0, 102, cstart + 5000);
	c = pc_get(&pc, 102, 0);
	assert_int_equal(c->ppid, 1);
	assert_int_equal(pimg->refs, 2);
	pc_on_exit(&pc, 101);
	assert_int_equal(pimg->refs, 1);
	pc_free(&pc);
}

/* An exec record as the sensor sends it. */
static size_t make_exec(struct rb *r, uint32_t pid, uint32_t ppid, uint64_t start, const char *exe,
			const void *argv, size_t argv_n, const void *env, size_t env_n, uint32_t flags)
{
	struct vg_exec *x = rb_init(r, sizeof(struct vg_exec), VG_EV_EXEC, VG_HOOK_EXEC);
	x->h.task.pid = pid;
	x->h.task.tid = pid;
	x->h.task.ppid = ppid;
	x->h.task.start_ns = start;
	snprintf(x->h.task.comm, sizeof(x->h.task.comm), "%s", strrchr(exe, '/') + 1);
	x->flags = flags;
	x->exe_ino = 4242;
	x->exe_dev = 0x800001;
	x->exe_mode = 0100755;
	x->exe_size = 123456;
	x->exe_mtime_ns = 1700000000000000000ULL;
	x->exe_uid = 0;
	x->filename = rb_str(r, exe);
	x->exe = rb_str(r, exe);
	if (argv)
		x->argv = rb_bytes(r, argv, argv_n);
	if (env)
		x->env = rb_bytes(r, env, env_n);
	x->cwd = rb_str(r, "/srv/work");
	x->tty = rb_str(r, "pts3");
	x->nodename = rb_str(r, "web-1");
	return r->len;
}
#define LIT(s) s, sizeof(s) - 1

static struct rb rec;

static void test_exec(void **state)
{
	struct proc_cache pc;
	assert_int_equal(pc_init(&pc, proot), 0);
	assert_int_equal(pc_scan(&pc), 5);
	struct proc_entry *p = pc_get(&pc, 100, 0);
	pc_on_fork(&pc, 100, p->start_ns, 101, 5000000000ULL);
	struct proc_image *forked = pc_get(&pc, 101, 0)->img;
	assert_int_equal(forked->refs, 2);

	size_t len = make_exec(&rec, 101, 100, 5000000000ULL, "/usr/bin/curl",
			       LIT("curl\0-s\0http://example.com/x\0"),
			       LIT("HOME=/root\0LD_PRELOAD=/lib/hook.so\0SSH_CONNECTION=10.1.1.1 4444 10.1.1.2 22\0"),
			       VG_EXE_TMPFS | VG_ARGV_TRUNC | VG_EXECVEAT);
	struct proc_image *img = pc_on_exec(&pc, (const struct vg_exec *)rec.u.buf, len);
	assert_non_null(img);
	assert_int_equal(img->refs, 2); /* ours and the cache's */
	assert_int_equal(forked->refs, 1);
	assert_false(img->from_procfs);
	assert_int_equal(img->pid, 101);
	assert_int_equal(img->start_ns, 5000000000ULL);
	assert_string_equal(img->exe, "/usr/bin/curl");
	assert_string_equal(img->cwd, "/srv/work");
	assert_string_equal(img->tty, "pts3");
	assert_string_equal(img->nodename, "web-1");
	assert_int_equal(img->argc, 3);
	assert_int_equal(img->argv_len, 28);
	assert_memory_equal(img->argv, "curl\0-s\0http://example.com/x", 28);
	assert_true(img->argv_truncated);
	assert_int_equal(img->exe_flags, VG_EXE_TMPFS); /* only the VG_EXE_* bits */
	assert_int_equal(img->exe_ino, 4242);
	assert_int_equal(img->exe_dev, 0x800001);
	assert_int_equal(img->exe_mode, 0100755);
	assert_int_equal(img->exe_size, 123456);
	assert_string_equal(img->ld_preload, "/lib/hook.so");
	assert_string_equal(img->ssh_connection, "10.1.1.1 4444 10.1.1.2 22");
	assert_int_equal(img->exe_fd, -1);
	struct proc_entry *e = pc_get(&pc, 101, 5000000000ULL);
	assert_ptr_equal(e->img, img);
	assert_int_equal(e->ppid, 100);

	/* the previous image is still readable by an event holding it */
	struct proc_image *held = img_get(img);
	len = make_exec(&rec, 101, 100, 5000000000ULL, "/bin/sh", LIT("sh\0"), NULL, 0, 0);
	struct proc_image *img2 = pc_on_exec(&pc, (const struct vg_exec *)rec.u.buf, len);
	assert_int_equal(img->refs, 2); /* ours twice; the cache moved on */
	assert_string_equal(held->exe, "/usr/bin/curl");
	assert_string_equal(img2->exe, "/bin/sh");
	assert_null(img2->ld_preload);
	assert_int_equal(img2->argc, 1);
	assert_false(img2->argv_truncated);
	img_put(held);
	img_put(img);
	img_put(img2);

	/* exec of a pid the cache never saw: an entry appears */
	len = make_exec(&rec, 6000, 1, 7000000000ULL, "/usr/bin/id", LIT("id\0-u"), NULL, 0, 0);
	img = pc_on_exec(&pc, (const struct vg_exec *)rec.u.buf, len);
	assert_int_equal(img->argc, 2); /* no final NUL */
	assert_int_equal(img->argv_len, 5);
	e = pc_get(&pc, 6000, 7000000000ULL);
	assert_non_null(e);
	assert_ptr_equal(e->img, img);
	assert_int_equal(e->ppid, 1);
	img_put(img);

	/* an empty argv and an all-NUL argv */
	len = make_exec(&rec, 6001, 1, 1, "/x/a", LIT("\0\0\0"), NULL, 0, 0);
	img = pc_on_exec(&pc, (const struct vg_exec *)rec.u.buf, len);
	assert_int_equal(img->argc, 0);
	assert_int_equal(img->argv_len, 0);
	img_put(img);
	pc_free(&pc);
}

/* The env copy was capped: LD_PRELOAD comes from the live environment. */
static void test_exec_env_truncated(void **state)
{
	struct proc_cache pc;
	assert_int_equal(pc_init(&pc, proot), 0);
	size_t len = make_exec(&rec, 100, 50, 1, "/bin/bash", LIT("bash\0"), LIT("HOME=/home/u\0LD_PRE"), VG_ENV_TRUNC);
	struct proc_image *img = pc_on_exec(&pc, (const struct vg_exec *)rec.u.buf, len);
	assert_string_equal(img->ld_preload, "/tmp/evil.so");
	assert_string_equal(img->ssh_connection, "10.0.0.9 51234 10.0.0.1 22");
	img_put(img);
	/* what the record had wins over the live environment */
	len = make_exec(&rec, 100, 50, 1, "/bin/bash", LIT("bash\0"), LIT("LD_PRELOAD=/rec.so\0"), VG_ENV_TRUNC);
	img = pc_on_exec(&pc, (const struct vg_exec *)rec.u.buf, len);
	assert_string_equal(img->ld_preload, "/rec.so");
	assert_string_equal(img->ssh_connection, "10.0.0.9 51234 10.0.0.1 22");
	img_put(img);
	/* no flag: the live environment is not consulted */
	len = make_exec(&rec, 100, 50, 1, "/bin/bash", LIT("bash\0"), LIT("HOME=/\0"), 0);
	img = pc_on_exec(&pc, (const struct vg_exec *)rec.u.buf, len);
	assert_null(img->ld_preload);
	assert_null(img->ssh_connection);
	img_put(img);
	pc_free(&pc);
}

/* Blobs pointing outside the record read as absent. */
static void test_exec_bad_blobs(void **state)
{
	struct proc_cache pc;
	assert_int_equal(pc_init(&pc, proot), 0);
	size_t len = make_exec(&rec, 7000, 1, 1, "/bin/true", LIT("true\0"), LIT("LD_PRELOAD=x\0"), 0);
	struct vg_exec *x = (struct vg_exec *)rec.u.buf;
	x->exe.off = (__u16)(len - 2);
	x->exe.len = 10; /* runs past the end */
	x->argv.off = 0xffff;
	x->env.len = 0;
	x->cwd.off = (__u16)len; /* starts at the end */
	struct proc_image *img = pc_on_exec(&pc, x, len);
	assert_non_null(img);
	assert_null(img->exe);
	assert_null(img->argv);
	assert_int_equal(img->argc, 0);
	assert_null(img->ld_preload);
	assert_null(img->cwd);
	assert_string_equal(img->tty, "pts3");
	/* a string without its NUL ends at the blob's end */
	x->tty.len--;
	rec.u.buf[x->tty.off + x->tty.len] = 'X';
	struct proc_image *img2 = pc_on_exec(&pc, x, len);
	assert_string_equal(img2->tty, "pts3");
	img_put(img);
	img_put(img2);
	pc_free(&pc);
}

static void test_exit(void **state)
{
	struct proc_cache pc;
	assert_int_equal(pc_init(&pc, proot), 0);
	assert_int_equal(pc_scan(&pc), 5);
	struct proc_image *img = img_get(pc_get(&pc, 300, 0)->img);
	pc_on_exit(&pc, 300);
	assert_null(htab_get(&pc.procs, 300));
	assert_int_equal(pc.procs.count, 4);
	assert_int_equal(img->refs, 1);
	assert_string_equal(img->exe, "/memfd:payload");
	img_put(img);
	pc_on_exit(&pc, 300); /* twice: harmless */
	pc_on_exit(&pc, 424242);
	assert_int_equal(pc.procs.count, 4);
	/* a forked, never-seen-in-proc child that exits is gone for good */
	pc_on_fork(&pc, 100, 0, 8000, 1);
	pc_on_exit(&pc, 8000);
	assert_null(pc_get(&pc, 8000, 0));
	pc_free(&pc);
}

static void test_ancestors(void **state)
{
	struct proc_cache pc;
	assert_int_equal(pc_init(&pc, proot), 0);
	/* nothing scanned: the walk reads /proc on the way up */
	pc_on_fork(&pc, 100, 0, 101, 10);
	pc_on_fork(&pc, 101, 10, 102, 20);
	struct proc_image *anc[8];
	uint32_t pids[8];
	int n = pc_ancestors(&pc, 102, 20, anc, pids, 8);
	assert_int_equal(n, 4);
	assert_int_equal(pids[0], 101);
	assert_int_equal(pids[1], 100);
	assert_int_equal(pids[2], 50);
	assert_int_equal(pids[3], 1);
	assert_ptr_equal(anc[0], anc[1]); /* 101 runs 100's image */
	assert_string_equal(anc[2]->exe, "/usr/sbin/sshd");
	assert_string_equal(anc[3]->exe, "/usr/lib/systemd/systemd");
	for (int i = 0; i < n; i++)
		img_put(anc[i]);
	/* capped */
	n = pc_ancestors(&pc, 102, 20, anc, pids, 2);
	assert_int_equal(n, 2);
	assert_int_equal(pids[1], 100);
	for (int i = 0; i < n; i++)
		img_put(anc[i]);
	/* init has none; an unknown pid has none */
	assert_int_equal(pc_ancestors(&pc, 1, 0, anc, pids, 8), 0);
	assert_int_equal(pc_ancestors(&pc, 31337, 0, anc, pids, 8), 0);
	/* a parent link to a pid nobody knows stops the walk */
	pc_on_fork(&pc, 9000, 0, 9001, 1);
	assert_int_equal(pc_ancestors(&pc, 9001, 0, anc, pids, 8), 0);
	/* a cycle (corrupt data) stops at max */
	pc_on_fork(&pc, 9003, 0, 9002, 1);
	pc_on_fork(&pc, 9002, 0, 9003, 1);
	n = pc_ancestors(&pc, 9002, 0, anc, pids, 5);
	assert_int_equal(n, 5);
	assert_int_equal(pids[0], 9003);
	assert_int_equal(pids[1], 9002);
	for (int i = 0; i < n; i++)
		img_put(anc[i]);
	pc_free(&pc);
}

static void check_cid(const char *path, bool want, const char *id, const char *rt)
{
	char got[65], grt[16];
	memset(got, 'Z', sizeof(got));
	bool r = container_id_from_cgroup(path, got, grt);
	if (r != want)
		fail_msg("container_id_from_cgroup(%s) = %d", path, r);
	assert_string_equal(got, want ? id : "");
	assert_string_equal(grt, want ? rt : "");
}

static void test_container_ids(void **state)
{
	check_cid("0::/system.slice/docker-" CID ".scope", true, CID, "docker");
	check_cid("12:pids:/docker/" CID, true, CID, "docker");
	check_cid("0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1a2b3c4d_5e6f.slice/"
		  "cri-containerd-" CID ".scope", true, CID, "containerd");
	check_cid("0::/system.slice/containerd.service/containerd/" CID, true, CID, "containerd");
	check_cid("0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0f1e.slice/crio-" CID2 ".scope",
		  true, CID2, "cri-o");
	check_cid("0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" CID ".scope", true, CID,
		  "podman");
	check_cid("0::/machine.slice/libpod-" CID2 ".scope/container", true, CID2, "podman");
	check_cid("1:name=systemd:/podman/" CID, true, CID, "podman");
	check_cid("0::/kubepods/besteffort/pod5f7c1a2e-0000-1111-2222-333344445555/" CID, true, CID, "kubernetes");
	check_cid("0::/kubepods/burstable/podabc/" CID2, true, CID2, "kubernetes");
	/* not containers */
	check_cid("0::/user.slice/user-1000.slice/session-3.scope", false, NULL, NULL);
	check_cid("0::/system.slice/docker.service", false, NULL, NULL);
	check_cid("0::/init.scope", false, NULL, NULL);
	check_cid("0::/", false, NULL, NULL);
	check_cid("", false, NULL, NULL);
	check_cid("0::/system.slice/docker-abc123.scope", false, NULL, NULL); /* too short */
	check_cid("0::/kubepods.slice/kubepods-burstable.slice", false, NULL, NULL);
	check_cid("0::/docker/", false, NULL, NULL);
	/* a short docker- match first, the real id later on */
	check_cid("0::/docker-1.scope/docker-" CID ".scope", true, CID, "docker");
}

static void test_pc_cgroup(void **state)
{
	struct proc_cache pc;
	assert_int_equal(pc_init(&pc, proot), 0);
	const struct cgroup_info *c = pc_cgroup(&pc, 777, 100);
	assert_non_null(c);
	assert_int_equal(c->id, 777);
	assert_string_equal(c->path, "/system.slice/docker-" CID ".scope");
	assert_string_equal(c->container_id, CID);
	assert_string_equal(c->runtime, "docker");
	/* cached by id: the file is not read again */
	assert_ptr_equal(pc_cgroup(&pc, 777, 1), c);
	c = pc_cgroup(&pc, 1, 1);
	assert_string_equal(c->path, "/init.scope");
	assert_string_equal(c->container_id, "");
	/* no cgroup file: nothing */
	assert_null(pc_cgroup(&pc, 2, 4242));
	pc_free(&pc);
}

static void test_env_lookup(void **state)
{
	static const char env[] = "A=1\0LD_PRELOAD_X=no\0LD_PRELOAD\0LD_PRELOAD=\0LD_PRELOAD=second\0B=x=y\0C=last";
	size_t n = sizeof(env) - 1;
	char *v = env_lookup(env, n, "A");
	assert_string_equal(v, "1");
	free(v);
	v = env_lookup(env, n, "LD_PRELOAD"); /* the first real one, even if empty */
	assert_string_equal(v, "");
	free(v);
	v = env_lookup(env, n, "B");
	assert_string_equal(v, "x=y");
	free(v);
	v = env_lookup(env, n, "C"); /* no final NUL */
	assert_string_equal(v, "last");
	free(v);
	v = env_lookup(env, n - 2, "C"); /* cut short by the length */
	assert_string_equal(v, "la");
	free(v);
	assert_null(env_lookup(env, n, "D"));
	assert_null(env_lookup(env, n, "LD_PRELOAD_"));
	assert_null(env_lookup(env, 0, "A"));
	v = env_lookup(env, 2, "A"); /* "A=" cut before the value: empty */
	assert_string_equal(v, "");
	free(v);
	assert_null(env_lookup(env, 1, "A")); /* "A" alone is no assignment */
	v = env_lookup("\0\0X=1", 5, "X");
	assert_string_equal(v, "1");
	free(v);
}

static void test_refcount(void **state)
{
	assert_null(img_get(NULL));
	img_put(NULL);
	struct proc_cache pc;
	assert_int_equal(pc_init(&pc, proot), 0);
	size_t len = make_exec(&rec, 500, 1, 1, "/bin/a", LIT("a\0"), LIT("LD_PRELOAD=/x\0SSH_CONNECTION=y\0"), 0);
	struct proc_image *img = pc_on_exec(&pc, (const struct vg_exec *)rec.u.buf, len);
	for (int i = 0; i < 100; i++)
		img_get(img);
	assert_int_equal(img->refs, 102);
	for (int i = 0; i < 100; i++)
		img_put(img);
	assert_int_equal(img->refs, 2);
	/* a fork chain shares one image; freeing the cache drops every ref */
	for (uint32_t c = 501; c < 600; c++)
		pc_on_fork(&pc, c - 1, 0, c, c);
	assert_int_equal(img->refs, 101);
	pc_on_exit(&pc, 500);
	assert_int_equal(img->refs, 100);
	/* an image with an open exe_fd is closed on the last put */
	img->exe_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(img->exe_fd >= 0);
	int fd = img->exe_fd;
	pc_free(&pc);
	assert_int_equal(img->refs, 1);
	img_put(img); /* last: ASan reports a leak if anything stayed */
	assert_int_equal(fcntl(fd, F_GETFD), -1);
}

static void test_ticks(void **state)
{
	struct proc_cache pc;
	assert_int_equal(pc_init(&pc, proot), 0);
	assert_true(pc.clk_tck > 0);
	uint64_t per = 1000000000ULL / (uint64_t)pc.clk_tck;
	assert_int_equal(pc_ns_to_ticks(&pc, 0), 0);
	assert_int_equal(pc_ns_to_ticks(&pc, per - 1), 0);
	assert_int_equal(pc_ns_to_ticks(&pc, per), 1);
	assert_int_equal(pc_ns_to_ticks(&pc, 12345 * per + per / 2), 12345);
	/* the fake "self" uts namespace was found */
	struct stat st;
	char p[128];
	snprintf(p, sizeof(p), "%s/self/ns/uts", proot);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(pc.utsns, st.st_ino);
	pc_free(&pc);
}

/* A key whose padding bytes differ still finds its hash: keys are built by
 * value in places (hashing.c), where padding is whatever was there. */
static void test_exehash_key_padding(void **state)
{
	(void)state;
	exehash_init(1 << 20);
	char path[] = "/tmp/vgexehashXXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "abc", 3), 3);
	struct exehash_key a, b;
	memset(&a, 0, sizeof(a));
	memset(&b, 0xa5, sizeof(b));
	a.ino = b.ino = 77;
	a.mtime_ns = b.mtime_ns = 5;
	a.size = b.size = 3;
	a.dev = b.dev = 9;
	char h1[65] = "", h2[65] = "";
	assert_true(exehash_compute(&a, fd, h1));
	/* sha256("abc") */
	assert_string_equal(h1, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_true(exehash_lookup(&b, h2));
	assert_string_equal(h2, h1);
	b.size = 4;
	assert_false(exehash_lookup(&b, h2));
	close(fd);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_scan, setup, teardown),
		cmocka_unit_test_setup_teardown(test_get_start_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fork_shares_image, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_env_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_bad_blobs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ancestors, setup, teardown),
		cmocka_unit_test(test_container_ids),
		cmocka_unit_test_setup_teardown(test_pc_cgroup, setup, teardown),
		cmocka_unit_test(test_env_lookup),
		cmocka_unit_test_setup_teardown(test_refcount, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ticks, setup, teardown),
		cmocka_unit_test(test_exehash_key_padding),
	};
	return cmocka_run_group_tests_name("proc", tests, NULL, NULL);
}
