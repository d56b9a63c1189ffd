// SPDX-License-Identifier: GPL-2.0
/* File domain: creation, writes in watched paths and sensitive reads (the
 * open family), renames, deletions, mode/owner changes, links, truncation
 * and timestamp changes.
 *
 * Opens are the hottest syscalls on any host, so they have no enter
 * program, and the exit program decides from the opened struct file (plain
 * loads, one hash look-up for the sensitive inode) before any path walk or
 * ring buffer work.
 *
 * Every record is built at sys_exit, whose tracepoint carries only the
 * result: the arguments are read from the user registers saved at syscall
 * entry (regs_args), and user strings from user memory (the kernel has
 * copied them by then, so they are resident). Only fchmod/fchmodat2 have an
 * enter program, for the mode before the change. Relative paths are sent
 * as the user's string plus a base directory (cwd or the dirfd's
 * directory) which user space joins. */
#include "common.bpf.h"

#define O_WRONLY 01
#define O_RDWR 02
#define O_ACCMODE 03
#define O_CREAT 0100
#define O_TRUNC 01000

/* include/linux/fs.h (6.x) */
#define FMODE_READ 0x1
#define FMODE_WRITE 0x2
#define FMODE_CREATED (1u << 20)

#define AT_FDCWD -100
#define AT_SYMLINK_NOFOLLOW 0x100
#define AT_REMOVEDIR 0x200
#define AT_EMPTY_PATH 0x1000

#define UTIME_NOW ((1l << 30) - 1l)
#define UTIME_OMIT ((1l << 30) - 2l)

#define VG_PATH_MAX 4096
#define NSEC 1000000000LL

/* Per-thread state from sys_enter to sys_exit (fchmod's old mode): task
 * storage rather than vg_save_args' shared hash, a pointer chase instead of
 * a hash update/delete pair. Freed with the task; leftovers of a call whose
 * exit did not take them are overwritten by the thread's next call. */
struct file_slot {
	__u32 hook;        /* hook whose arguments are in a; VG_HOOK_MAX = none */
	__u32 pad;
	struct vg_args a;
};
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct file_slot);
} vg_file_task SEC(".maps");

static __always_inline struct file_slot *slot_get(bool create)
{
	return bpf_task_storage_get(&vg_file_task, bpf_get_current_task_btf(), 0,
				    create ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
}

/* Saves the first n arguments (n: the syscall's argument count or fewer;
 * reading past it makes attaching fail) and extra in a.ts. */
static __always_inline void save_args(__u32 hook, struct trace_event_raw_sys_enter *ctx, int n,
				      __u64 extra)
{
	struct file_slot *sl = slot_get(true);
	if (!sl)
		return;
	sl->hook = hook;
	sl->a.a[0] = ctx->args[0];
	if (n > 1)
		sl->a.a[1] = ctx->args[1];
	if (n > 2)
		sl->a.a[2] = ctx->args[2];
	if (n > 3)
		sl->a.a[3] = ctx->args[3];
	if (n > 4)
		sl->a.a[4] = ctx->args[4];
	if (n > 5)
		sl->a.a[5] = ctx->args[5];
	sl->a.ts = extra;
}

static __always_inline bool take_args(__u32 hook, struct vg_args *out)
{
	struct file_slot *sl = slot_get(false);
	if (!sl || sl->hook != hook)
		return false;
	__builtin_memcpy(out, &sl->a, sizeof(*out));
	sl->hook = VG_HOOK_MAX;
	return true;
}

/* Prefix key for a relative path joined with its base directory. The
 * spill area keeps the variable-offset copies provably inside the value. */
struct vg_keybuf {
	struct vg_prefix_key k;
	char spill[2 * VG_PREFIX_MAX + 8];
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vg_keybuf);
} vg_file_key SEC(".maps");

/* user-space layouts (64-bit) */
/* timespec, timeval (usec in the second word) and utimbuf (two time_t) all
 * read as two of these */
struct vg_u_timespec {
	__s64 sec;
	__s64 nsec;
};

static __always_inline bool is_self(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == (__u32)vg_cfg(VG_CFG_SELF_TGID);
}

static __always_inline __u32 vg_mask(__u32 v, __u32 mask)
{
	asm volatile("" : "+r"(v));
	return v & mask;
}

/* True when the path (absolute, or relative joined with its base) starts
 * with an ignored prefix. Relative paths are joined textually: "." and ".."
 * components are not folded here. */
__noinline int path_ignored_slow(struct vg_scratch *s, struct vg_path *p)
{
	if (!s || !p)
		return 0;
	struct vg_blob path = p->path, base = p->base;
	if (path.len < 2)
		return 0;
	if (base.len == 0)
		return vg_path_in(&vg_ignore_path, s, &path);
	__u32 zero = 0;
	struct vg_keybuf *kb = bpf_map_lookup_elem(&vg_file_key, &zero);
	if (!kb)
		return 0;
	__u32 n = base.len - 1; /* without the NUL */
	if (n > VG_PREFIX_MAX)
		n = VG_PREFIX_MAX;
	n = vg_mask(n, 2 * VG_PREFIX_MAX - 1);
	if (n)
		bpf_probe_read_kernel(kb->k.data, n, &s->buf[vg_off(base.off)]);
	__u32 off = n;
	/* base "/" already ends with the separator */
	if (!(n == 1 && kb->k.data[0] == '/') && off < VG_PREFIX_MAX) {
		kb->k.data[vg_mask(off, VG_PREFIX_MAX - 1)] = '/';
		off++;
	}
	if (off < VG_PREFIX_MAX) {
		__u32 m = path.len - 1;
		if (m > VG_PREFIX_MAX - off)
			m = VG_PREFIX_MAX - off;
		m = vg_mask(m, 2 * VG_PREFIX_MAX - 1);
		__u32 o = vg_mask(off, 2 * VG_PREFIX_MAX - 1);
		if (m)
			bpf_probe_read_kernel(&kb->k.data[o], m, &s->buf[vg_off(path.off)]);
		off += m;
	}
	if (off > VG_PREFIX_MAX)
		off = VG_PREFIX_MAX;
	kb->k.prefixlen = off * 8;
	return bpf_map_lookup_elem(&vg_ignore_path, &kb->k) != 0;
}

/* The filter flag is checked here, inline: with no path filter set (the
 * default), a record does not pay the call into path_ignored_slow. */
static __always_inline bool path_ignored(struct vg_scratch *s, struct vg_path *p)
{
	return (vg_cfg(VG_CFG_FILTERS_ON) & VG_FILTER_PATH) && path_ignored_slow(s, p);
}

/* ---------------------------------------------------------------- open */

/* Flags of the open that just returned, from the registers the syscall was
 * entered with (the task's saved user registers: the kernel returns in
 * the return register only). Read at exit, and only for opens that wrote
 * or created, so opens need no enter program: a second tracepoint per
 * open (dispatch plus program) cost about as much as the exit program. */
#define OPEN_SC_OPEN 0
#define OPEN_SC_OPENAT 1
#define OPEN_SC_OPENAT2 2
#define OPEN_SC_CREAT 3

static __always_inline __u32 open_flags(int sc)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	if (sc == OPEN_SC_OPEN)
		return PT_REGS_PARM2_CORE_SYSCALL(regs);
	if (sc == OPEN_SC_OPENAT)
		return PT_REGS_PARM3_CORE_SYSCALL(regs);
	if (sc == OPEN_SC_OPENAT2) {
		__u64 flags = 0;
		bpf_probe_read_user(&flags, sizeof(flags), (void *)PT_REGS_PARM3_CORE_SYSCALL(regs));
		return flags;
	}
	return O_CREAT | O_WRONLY | O_TRUNC;
}

static __always_inline bool name_watched(struct file *f)
{
	struct qstr q = f->f_path.dentry->d_name;
	struct vg_name_key k = {};
	if (q.len >= VG_WATCH_NAME_MAX)
		return false;
	bpf_probe_read_kernel(k.name, q.len & (VG_WATCH_NAME_MAX - 1), q.name);
	return bpf_map_lookup_elem(&vg_watch_name, &k) != 0;
}

/* /proc/PID/mem of another process opened for reading: its memory, as
 * credential dumpers read sshd's or a keyring's (T1003.007); not its own,
 * nor a tracee's (a debugger's). Only proc files named "mem" get past the
 * first test, so other opens pay one load and a compare. */
#define PROC_SUPER_MAGIC 0x9fa0
static __always_inline bool foreign_proc_mem(struct file *f, struct inode *ino)
{
	if (ino->i_sb->s_magic != PROC_SUPER_MAGIC)
		return false;
	struct qstr q = f->f_path.dentry->d_name;
	if (q.len != 3)
		return false;
	char nm[4] = {};
	bpf_probe_read_kernel(nm, 3, q.name);
	if (nm[0] != 'm' || nm[1] != 'e' || nm[2] != 'm')
		return false;
	/* the process the file belongs to (struct proc_inode around the inode) */
	struct proc_inode *pi = (void *)ino - bpf_core_field_offset(struct proc_inode, vfs_inode);
	struct pid *target = BPF_CORE_READ(pi, pid);
	if (!target || target == vg_task()->group_leader->thread_pid)
		return false;
	return !vg_traces(vg_pid_nr(target));
}

static __always_inline int open_exit(long ret, int sc)
{
	if (ret < 0)
		return 0;
	struct file *f = vg_fd_file(vg_task(), ret);
	if (!f)
		return 0;
	__u32 fmode = f->f_mode;
	struct inode *ino = f->f_inode;
	bool sensitive = false;
	if (fmode & FMODE_READ) {
		struct vg_inode_key k = {.ino = ino->i_ino, .dev = ino->i_sb->s_dev};
		__u64 h = vg_sens_hash(k.ino, k.dev);
		__u32 w = VG_SENS_WORD(h);
		__u64 *bits = bpf_map_lookup_elem(&vg_sensitive_bloom, &w);
		if (bits && (*bits & VG_SENS_BIT(h)))
			sensitive = bpf_map_lookup_elem(&vg_sensitive, &k) != 0;
		else
			sensitive = foreign_proc_mem(f, ino);
	}
	/* the common case ends here: a read of an ordinary file */
	if (!(fmode & (FMODE_WRITE | FMODE_CREATED)) && !sensitive)
		return 0;
	if (is_self())
		return 0;

	/* f_flags has lost O_CREAT/O_TRUNC by now: the flags as passed */
	__u32 oflags = open_flags(sc);

	struct vg_scratch *s = vg_buf();
	if (!s)
		return 0;
	struct vg_file *e = (struct vg_file *)s->buf;
	__builtin_memset(e, 0, sizeof(*e));
	__u32 cur = sizeof(*e);
	vg_put_file_path(s, &cur, &e->target.path, f);

	__u16 type;
	bool also_sensitive = false;
	if (fmode & FMODE_CREATED) {
		type = VG_EV_FILE_CREATE;
		e->flags |= VG_OPEN_CREATED;
	} else if ((fmode & FMODE_WRITE) && (vg_path_in(&vg_watch_path, s, &e->target.path) || name_watched(f))) {
		type = VG_EV_FILE_WRITE;
		also_sensitive = sensitive;
	} else if (sensitive) {
		type = VG_EV_FILE_READ_SENSITIVE;
	} else {
		return 0;
	}
	if (path_ignored(s, &e->target)) {
		vg_count(VG_HOOK_OPEN, VG_CNT_FILTERED);
		return 0;
	}
	if (vg_skip(VG_HOOK_OPEN))
		return 0;
	if (fmode & FMODE_WRITE)
		e->flags |= VG_OPEN_WRITE;
	if (sensitive)
		e->flags |= VG_OPEN_SENSITIVE;
	if (oflags & O_TRUNC)
		e->flags |= VG_OPEN_TRUNC;
	e->open_flags = oflags;
	e->mode = ino->i_mode;
	e->old_mode = (__u32)-1;
	e->ino = ino->i_ino;
	e->dev = ino->i_sb->s_dev;
	vg_fill_hdr(&e->h, type, VG_HOOK_OPEN);
	e->h.ret = ret;
	vg_emit(s, cur, VG_HOOK_OPEN);
	if (also_sensitive) {
		e->h.type = VG_EV_FILE_READ_SENSITIVE;
		vg_emit(s, cur, VG_HOOK_OPEN);
	}
	return 0;
}

VG_SYS_EXIT(vg_open_exit)
{
	return open_exit(ret, OPEN_SC_OPEN);
}

VG_SYS_EXIT(vg_openat_exit)
{
	return open_exit(ret, OPEN_SC_OPENAT);
}

VG_SYS_EXIT(vg_openat2_exit)
{
	return open_exit(ret, OPEN_SC_OPENAT2);
}

VG_SYS_EXIT(vg_creat_exit)
{
	return open_exit(ret, OPEN_SC_CREAT);
}

/* ------------------------------------------------- shared record helpers */

/* The helpers below that walk paths are global functions: the verifier
 * checks each once, on its own, instead of once per call site and per
 * combination of the caller's branches (which blows its budget when a record
 * has two paths that may each be absolute, cwd- or dirfd-relative). */

/* A user path argument and, when it is relative, its base directory. */
__noinline int put_upath(struct vg_scratch *s, __u32 *cur, struct vg_path *p, __u64 upath,
			 int dirfd)
{
	if (!s || !cur || !p)
		return 0;
	vg_put_ustr(s, cur, &p->path, (const char *)upath, VG_PATH_MAX);
	vg_put_base(s, cur, p, dirfd);
	return 0;
}

/* The path of the file open on fd. */
__noinline int put_fdpath(struct vg_scratch *s, __u32 *cur, struct vg_path *p, int fd)
{
	if (!s || !cur || !p)
		return 0;
	struct file *f = vg_fd_file(vg_task(), fd);
	if (f)
		vg_put_file_path(s, cur, &p->path, f);
	return 0;
}

/* The inode of the file open on fd, for records about an fd. */
static __always_inline void fd_inode(struct vg_file *e, int fd)
{
	struct file *f = vg_fd_file(vg_task(), fd);
	if (!f)
		return;
	struct inode *ino = BPF_CORE_READ(f, f_inode);
	e->ino = BPF_CORE_READ(ino, i_ino);
	e->dev = BPF_CORE_READ(ino, i_sb, s_dev);
}

/* A path argument of an *at() call that may be empty (AT_EMPTY_PATH) or
 * NULL (utimensat, futimesat): then the file is the one open on dirfd. */
static __always_inline void put_at_path(struct vg_scratch *s, __u32 *cur, struct vg_path *p,
					int dirfd, __u64 upath, bool empty_ok, struct vg_file *e)
{
	if (upath) {
		char c = 1;
		bpf_probe_read_user(&c, 1, (const void *)upath);
		if (c != 0 || !empty_ok) {
			put_upath(s, cur, p, upath, dirfd);
			return;
		}
	}
	put_fdpath(s, cur, p, dirfd);
	if (e)
		fd_inode(e, dirfd);
}

/* The end of every file record: one copy of this code for all the
 * handlers (a subprogram, not inlined). Inlined in each of them, it made
 * the exit program's JIT image 133 KB instead of 55. */
static __noinline int file_finish(struct vg_scratch *s, __u32 cur, __u32 type, __u32 hook, long ret)
{
	if (!s || vg_skip(hook))
		return 0;
	struct vg_hdr *h = (struct vg_hdr *)s->buf;
	vg_fill_hdr(h, type, hook);
	h->ret = ret;
	vg_emit(s, cur, hook);
	return 0;
}

static __always_inline struct vg_file *file1_begin(struct vg_scratch *s)
{
	struct vg_file *e = (struct vg_file *)s->buf;
	__builtin_memset(e, 0, sizeof(*e));
	e->old_mode = (__u32)-1;
	return e;
}

static __always_inline void file1_end(struct vg_scratch *s, struct vg_file *e, __u32 cur,
				      __u16 type, __u32 hook, long ret)
{
	if (path_ignored(s, &e->target)) {
		vg_count(hook, VG_CNT_FILTERED);
		return;
	}
	file_finish(s, cur, type, hook, ret);
}

static __always_inline struct vg_file2 *file2_begin(struct vg_scratch *s)
{
	struct vg_file2 *e = (struct vg_file2 *)s->buf;
	__builtin_memset(e, 0, sizeof(*e));
	return e;
}

/* Two-path records are dropped by a path filter only when both paths are
 * ignored (a rename out of an ignored directory is still worth seeing);
 * a symlink's first path is link text, not a path. */
static __always_inline void file2_end(struct vg_scratch *s, struct vg_file2 *e, __u32 cur,
				      __u16 type, __u32 hook, long ret)
{
	if (path_ignored(s, &e->dst) &&
	    (type == VG_EV_FILE_SYMLINK || path_ignored(s, &e->src))) {
		vg_count(hook, VG_CNT_FILTERED);
		return;
	}
	file_finish(s, cur, type, hook, ret);
}

/* The syscall's arguments, read at its exit from the user registers saved
 * at its entry (the kernel writes only the return register): no enter
 * program, so each call costs one tracepoint instead of two. */
static __always_inline void regs_args(struct vg_args *a)
{
	struct pt_regs *r = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	a->a[0] = PT_REGS_PARM1_SYSCALL(r);
	a->a[1] = PT_REGS_PARM2_SYSCALL(r);
	a->a[2] = PT_REGS_PARM3_SYSCALL(r);
	a->a[3] = PT_REGS_PARM4_SYSCALL(r);
	a->a[4] = PT_REGS_PARM5_SYSCALL(r);
	a->a[5] = 0;
	a->ts = 0;
}

/* Exit-side prologue: the arguments, the record buffer, or return. */
#define TAKE_ARGS(hook, a)                       \
	struct vg_args a;                        \
	if (is_self())                           \
		return 0;                        \
	regs_args(&a);                           \
	struct vg_scratch *s = vg_buf();         \
	if (!s)                                  \
		return 0

/* -------------------------------------------------------------- rename */

static __always_inline int rename_exit(long ret, int olddfd, __u64 oldp, int newdfd, __u64 newp,
				       __u32 flags, struct vg_scratch *s)
{
	struct vg_file2 *e = file2_begin(s);
	__u32 cur = sizeof(*e);
	e->flags = flags;
	put_upath(s, &cur, &e->src, oldp, olddfd);
	put_upath(s, &cur, &e->dst, newp, newdfd);
	file2_end(s, e, cur, VG_EV_FILE_RENAME, VG_HOOK_RENAME, ret);
	return 0;
}

VG_SYS_EXIT(vg_rename_exit)
{
	TAKE_ARGS(VG_HOOK_RENAME, a);
	return rename_exit(ret, AT_FDCWD, a.a[0], AT_FDCWD, a.a[1], 0, s);
}

VG_SYS_EXIT(vg_renameat_exit)
{
	TAKE_ARGS(VG_HOOK_RENAME, a);
	return rename_exit(ret, (int)a.a[0], a.a[1], (int)a.a[2], a.a[3], 0, s);
}

VG_SYS_EXIT(vg_renameat2_exit)
{
	TAKE_ARGS(VG_HOOK_RENAME, a);
	return rename_exit(ret, (int)a.a[0], a.a[1], (int)a.a[2], a.a[3], a.a[4], s);
}

/* -------------------------------------------------------------- unlink */

static __always_inline int unlink_exit(long ret, int dirfd, __u64 path, __u32 flags,
				       struct vg_scratch *s)
{
	struct vg_file *e = file1_begin(s);
	__u32 cur = sizeof(*e);
	e->flags = flags;
	put_upath(s, &cur, &e->target, path, dirfd);
	file1_end(s, e, cur, VG_EV_FILE_UNLINK, VG_HOOK_UNLINK, ret);
	return 0;
}

VG_SYS_EXIT(vg_unlink_exit)
{
	TAKE_ARGS(VG_HOOK_UNLINK, a);
	return unlink_exit(ret, AT_FDCWD, a.a[0], 0, s);
}

VG_SYS_EXIT(vg_unlinkat_exit)
{
	TAKE_ARGS(VG_HOOK_UNLINK, a);
	return unlink_exit(ret, (int)a.a[0], a.a[1], a.a[2], s);
}

VG_SYS_EXIT(vg_rmdir_exit)
{
	TAKE_ARGS(VG_HOOK_UNLINK, a);
	return unlink_exit(ret, AT_FDCWD, a.a[0], AT_REMOVEDIR, s);
}

/* --------------------------------------------------------------- chmod */

/* The mode before the change, when the file is known at enter (an fd):
 * kept in the ts slot of the saved arguments, with bit 32 set. */
static __always_inline __u64 fd_mode(int fd)
{
	struct file *f = vg_fd_file(vg_task(), fd);
	return f ? (1ULL << 32) | BPF_CORE_READ(f, f_inode, i_mode) : 0;
}

SEC("tracepoint/syscalls/sys_enter_fchmod")
int vg_fchmod_enter(struct trace_event_raw_sys_enter *ctx)
{
	save_args(VG_HOOK_CHMOD, ctx, 2, fd_mode((int)ctx->args[0]));
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_fchmodat2")
int vg_fchmodat2_enter(struct trace_event_raw_sys_enter *ctx)
{
	__u64 old = ctx->args[3] & AT_EMPTY_PATH ? fd_mode((int)ctx->args[0]) : 0;
	save_args(VG_HOOK_CHMOD, ctx, 4, old);
	return 0;
}

static __always_inline int chmod_exit(long ret, int dirfd, __u64 path, bool by_fd, __u32 mode,
				      __u32 flags, __u64 old, struct vg_scratch *s)
{
	struct vg_file *e = file1_begin(s);
	__u32 cur = sizeof(*e);
	e->flags = flags;
	e->mode = mode;
	if (by_fd) {
		put_fdpath(s, &cur, &e->target, dirfd);
		fd_inode(e, dirfd);
	} else {
		put_at_path(s, &cur, &e->target, dirfd, path, flags & AT_EMPTY_PATH, e);
	}
	/* the old mode belongs to the fd's file: only when that is the target */
	if ((old >> 32) && (by_fd || e->ino))
		e->old_mode = (__u32)old;
	file1_end(s, e, cur, VG_EV_FILE_CHMOD, VG_HOOK_CHMOD, ret);
	return 0;
}

VG_SYS_EXIT(vg_chmod_exit)
{
	TAKE_ARGS(VG_HOOK_CHMOD, a);
	return chmod_exit(ret, AT_FDCWD, a.a[0], false, a.a[1], 0, 0, s);
}

VG_SYS_EXIT(vg_fchmod_exit)
{
	TAKE_ARGS(VG_HOOK_CHMOD, a);
	struct vg_args saved;
	if (take_args(VG_HOOK_CHMOD, &saved))
		a.ts = saved.ts; /* the mode before the change */
	return chmod_exit(ret, (int)a.a[0], 0, true, a.a[1], 0, a.ts, s);
}

VG_SYS_EXIT(vg_fchmodat_exit)
{
	TAKE_ARGS(VG_HOOK_CHMOD, a);
	return chmod_exit(ret, (int)a.a[0], a.a[1], false, a.a[2], 0, 0, s);
}

VG_SYS_EXIT(vg_fchmodat2_exit)
{
	TAKE_ARGS(VG_HOOK_CHMOD, a);
	struct vg_args saved;
	if (take_args(VG_HOOK_CHMOD, &saved))
		a.ts = saved.ts; /* the mode before the change */
	return chmod_exit(ret, (int)a.a[0], a.a[1], false, a.a[2], a.a[3], a.ts, s);
}

/* --------------------------------------------------------------- chown */

static __always_inline int chown_exit(long ret, int dirfd, __u64 path, bool by_fd, __u32 uid,
				      __u32 gid, __u32 flags, struct vg_scratch *s)
{
	struct vg_file *e = file1_begin(s);
	__u32 cur = sizeof(*e);
	e->flags = flags;
	e->uid = uid;
	e->gid = gid;
	if (by_fd) {
		put_fdpath(s, &cur, &e->target, dirfd);
		fd_inode(e, dirfd);
	} else {
		put_at_path(s, &cur, &e->target, dirfd, path, flags & AT_EMPTY_PATH, e);
	}
	file1_end(s, e, cur, VG_EV_FILE_CHOWN, VG_HOOK_CHOWN, ret);
	return 0;
}

VG_SYS_EXIT(vg_chown_exit)
{
	TAKE_ARGS(VG_HOOK_CHOWN, a);
	return chown_exit(ret, AT_FDCWD, a.a[0], false, a.a[1], a.a[2], 0, s);
}

VG_SYS_EXIT(vg_lchown_exit)
{
	TAKE_ARGS(VG_HOOK_CHOWN, a);
	return chown_exit(ret, AT_FDCWD, a.a[0], false, a.a[1], a.a[2], AT_SYMLINK_NOFOLLOW, s);
}

VG_SYS_EXIT(vg_fchown_exit)
{
	TAKE_ARGS(VG_HOOK_CHOWN, a);
	return chown_exit(ret, (int)a.a[0], 0, true, a.a[1], a.a[2], 0, s);
}

VG_SYS_EXIT(vg_fchownat_exit)
{
	TAKE_ARGS(VG_HOOK_CHOWN, a);
	return chown_exit(ret, (int)a.a[0], a.a[1], false, a.a[2], a.a[3], a.a[4], s);
}

/* ------------------------------------------------------ link / symlink */

static __always_inline int link_exit(long ret, int olddfd, __u64 oldp, int newdfd, __u64 newp,
				     __u32 flags, struct vg_scratch *s)
{
	struct vg_file2 *e = file2_begin(s);
	__u32 cur = sizeof(*e);
	e->flags = flags;
	put_at_path(s, &cur, &e->src, olddfd, oldp, flags & AT_EMPTY_PATH, 0);
	put_upath(s, &cur, &e->dst, newp, newdfd);
	file2_end(s, e, cur, VG_EV_FILE_LINK, VG_HOOK_LINK, ret);
	return 0;
}

static __always_inline int symlink_exit(long ret, __u64 target, int newdfd, __u64 newp,
					struct vg_scratch *s)
{
	struct vg_file2 *e = file2_begin(s);
	__u32 cur = sizeof(*e);
	vg_put_ustr(s, &cur, &e->src.path, (const char *)target, VG_PATH_MAX);
	put_upath(s, &cur, &e->dst, newp, newdfd);
	file2_end(s, e, cur, VG_EV_FILE_SYMLINK, VG_HOOK_LINK, ret);
	return 0;
}

VG_SYS_EXIT(vg_link_exit)
{
	TAKE_ARGS(VG_HOOK_LINK, a);
	return link_exit(ret, AT_FDCWD, a.a[0], AT_FDCWD, a.a[1], 0, s);
}

VG_SYS_EXIT(vg_linkat_exit)
{
	TAKE_ARGS(VG_HOOK_LINK, a);
	return link_exit(ret, (int)a.a[0], a.a[1], (int)a.a[2], a.a[3], a.a[4], s);
}

VG_SYS_EXIT(vg_symlink_exit)
{
	TAKE_ARGS(VG_HOOK_LINK, a);
	return symlink_exit(ret, a.a[0], AT_FDCWD, a.a[1], s);
}

VG_SYS_EXIT(vg_symlinkat_exit)
{
	TAKE_ARGS(VG_HOOK_LINK, a);
	return symlink_exit(ret, a.a[0], (int)a.a[1], a.a[2], s);
}

/* ------------------------------------------------------------ truncate */

VG_SYS_EXIT(vg_truncate_exit)
{
	TAKE_ARGS(VG_HOOK_TRUNCATE, a);
	struct vg_file *e = file1_begin(s);
	__u32 cur = sizeof(*e);
	put_upath(s, &cur, &e->target, a.a[0], AT_FDCWD);
	file1_end(s, e, cur, VG_EV_FILE_TRUNCATE, VG_HOOK_TRUNCATE, ret);
	return 0;
}

VG_SYS_EXIT(vg_ftruncate_exit)
{
	TAKE_ARGS(VG_HOOK_TRUNCATE, a);
	struct vg_file *e = file1_begin(s);
	__u32 cur = sizeof(*e);
	put_fdpath(s, &cur, &e->target, (int)a.a[0]);
	fd_inode(e, (int)a.a[0]);
	file1_end(s, e, cur, VG_EV_FILE_TRUNCATE, VG_HOOK_TRUNCATE, ret);
	return 0;
}

/* -------------------------------------------------------------- utimes */

static __always_inline __s64 ts_ns(__s64 sec, __s64 nsec)
{
	if (nsec == UTIME_NOW)
		return -1;
	if (nsec == UTIME_OMIT)
		return -2;
	return sec * NSEC + nsec;
}

/* kind: 0 timespec[2] (utimensat), 1 timeval[2] (utimes, futimesat),
 * 2 utimbuf (utime). A NULL times pointer means "now" for both. */
static __always_inline int utimes_exit(long ret, int dirfd, __u64 path, __u64 times, int kind,
				       __u32 flags, struct vg_scratch *s)
{
	struct vg_file *e = file1_begin(s);
	__u32 cur = sizeof(*e);
	e->flags = flags;
	e->atime_ns = -1;
	e->mtime_ns = -1;
	if (times) {
		struct vg_u_timespec t[2] = {};
		/* a utimbuf is half as long: do not read past it */
		__u32 len = kind == 2 ? sizeof(t[0]) : sizeof(t);
		if (!bpf_probe_read_user(t, len, (const void *)times)) {
			if (kind == 0) {
				e->atime_ns = ts_ns(t[0].sec, t[0].nsec);
				e->mtime_ns = ts_ns(t[1].sec, t[1].nsec);
			} else if (kind == 1) {
				e->atime_ns = t[0].sec * NSEC + t[0].nsec * 1000;
				e->mtime_ns = t[1].sec * NSEC + t[1].nsec * 1000;
			} else {
				/* struct utimbuf: two time_t, read as the first timespec */
				e->atime_ns = t[0].sec * NSEC;
				e->mtime_ns = t[0].nsec * NSEC;
			}
		}
	}
	put_at_path(s, &cur, &e->target, dirfd, path, kind == 0 && (flags & AT_EMPTY_PATH), e);
	file1_end(s, e, cur, VG_EV_FILE_UTIMES, VG_HOOK_UTIMES, ret);
	return 0;
}

VG_SYS_EXIT(vg_utimensat_exit)
{
	TAKE_ARGS(VG_HOOK_UTIMES, a);
	return utimes_exit(ret, (int)a.a[0], a.a[1], a.a[2], 0, a.a[3], s);
}

VG_SYS_EXIT(vg_utimes_exit)
{
	TAKE_ARGS(VG_HOOK_UTIMES, a);
	return utimes_exit(ret, AT_FDCWD, a.a[0], a.a[1], 1, 0, s);
}

VG_SYS_EXIT(vg_utime_exit)
{
	TAKE_ARGS(VG_HOOK_UTIMES, a);
	return utimes_exit(ret, AT_FDCWD, a.a[0], a.a[1], 2, 0, s);
}

VG_SYS_EXIT(vg_futimesat_exit)
{
	TAKE_ARGS(VG_HOOK_UTIMES, a);
	return utimes_exit(ret, (int)a.a[0], a.a[1], a.a[2], 1, 0, s);
}

/* --------------------------------------------------------------- xattr */

/* Names worth a record: file capabilities and other security.* labels,
 * and POSIX ACLs. user.* (browsers, file managers) and trusted.* (overlayfs
 * and container runtimes) are frequent and grant nothing. */
static __always_inline bool xattr_interesting(__u64 uname)
{
	char nm[17] = {};
	if (bpf_probe_read_user_str(nm, sizeof(nm), (const void *)uname) < 10)
		return false;
	if (nm[0] == 's' && nm[1] == 'e' && nm[2] == 'c' && nm[3] == 'u' && nm[4] == 'r' &&
	    nm[5] == 'i' && nm[6] == 't' && nm[7] == 'y' && nm[8] == '.')
		return true;
	/* "system.posix_acl" */
	return nm[0] == 's' && nm[1] == 'y' && nm[2] == 's' && nm[3] == 't' && nm[4] == 'e' &&
	       nm[5] == 'm' && nm[6] == '.' && nm[7] == 'p' && nm[8] == 'o' && nm[9] == 's' &&
	       nm[10] == 'i' && nm[11] == 'x' && nm[12] == '_' && nm[13] == 'a' && nm[14] == 'c' &&
	       nm[15] == 'l';
}

/* One record for the setxattr and removexattr families. fd >= 0 with no
 * path: the f* calls; otherwise a path relative to dirfd (AT_EMPTY_PATH:
 * the file open on dirfd). value is NULL for removals. */
static __always_inline int xattr_exit(long ret, int dirfd, __u64 upath, bool by_fd, __u32 at_flags,
				      __u64 uname, __u64 value, __u32 size, __u32 xflags, bool remove)
{
	if (!uname || !xattr_interesting(uname) || is_self())
		return 0;
	struct vg_scratch *s = vg_buf();
	if (!s)
		return 0;
	struct vg_xattr *e = (struct vg_xattr *)s->buf;
	__builtin_memset(e, 0, sizeof(*e));
	__u32 cur = sizeof(*e);
	e->flags = xflags | at_flags | (by_fd ? VG_XATTR_BY_FD : 0);
	e->size = size;
	bool fd_target = by_fd;
	if (!by_fd && (at_flags & AT_EMPTY_PATH) && upath) {
		char c = 1;
		bpf_probe_read_user(&c, 1, (const void *)upath);
		fd_target = c == 0;
	}
	if (fd_target) {
		put_fdpath(s, &cur, &e->target, dirfd);
		struct file *f = vg_fd_file(vg_task(), dirfd);
		if (f) {
			struct inode *ino = BPF_CORE_READ(f, f_inode);
			e->ino = BPF_CORE_READ(ino, i_ino);
			e->dev = BPF_CORE_READ(ino, i_sb, s_dev);
		}
	} else {
		put_upath(s, &cur, &e->target, upath, dirfd);
	}
	vg_put_ustr(s, &cur, &e->name, (const char *)uname, VG_NAME_MAX);
	if (!remove && value && size) {
		__u32 n = size < VG_XATTR_VALUE_MAX ? size : VG_XATTR_VALUE_MAX;
		/* the mask keeps the bound in the register the verifier checks */
		vg_put_ubytes(s, &cur, &e->value, (const void *)value, vg_mask(n, 2 * VG_XATTR_VALUE_MAX - 1));
	}
	if (path_ignored(s, &e->target)) {
		vg_count(VG_HOOK_ATTR, VG_CNT_FILTERED);
		return 0;
	}
	return file_finish(s, cur, remove ? VG_EV_FILE_XATTR_REMOVE : VG_EV_FILE_XATTR_SET, VG_HOOK_ATTR,
			   ret);
}

/* The registers, not regs_args: these exits return before any other work
 * unless the attribute's name is one worth recording. */
static __always_inline struct pt_regs *exit_regs(void)
{
	return (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
}

VG_SYS_EXIT(vg_setxattr_exit)
{
	struct pt_regs *r = exit_regs();
	return xattr_exit(ret, AT_FDCWD, PT_REGS_PARM1_SYSCALL(r), false, 0, PT_REGS_PARM2_SYSCALL(r),
			  PT_REGS_PARM3_SYSCALL(r), PT_REGS_PARM4_SYSCALL(r), PT_REGS_PARM5_SYSCALL(r),
			  false);
}

VG_SYS_EXIT(vg_lsetxattr_exit)
{
	struct pt_regs *r = exit_regs();
	return xattr_exit(ret, AT_FDCWD, PT_REGS_PARM1_SYSCALL(r), false, AT_SYMLINK_NOFOLLOW,
			  PT_REGS_PARM2_SYSCALL(r), PT_REGS_PARM3_SYSCALL(r), PT_REGS_PARM4_SYSCALL(r),
			  PT_REGS_PARM5_SYSCALL(r), false);
}

VG_SYS_EXIT(vg_fsetxattr_exit)
{
	struct pt_regs *r = exit_regs();
	return xattr_exit(ret, (int)PT_REGS_PARM1_SYSCALL(r), 0, true, 0, PT_REGS_PARM2_SYSCALL(r),
			  PT_REGS_PARM3_SYSCALL(r), PT_REGS_PARM4_SYSCALL(r), PT_REGS_PARM5_SYSCALL(r),
			  false);
}

VG_SYS_EXIT(vg_removexattr_exit)
{
	struct pt_regs *r = exit_regs();
	return xattr_exit(ret, AT_FDCWD, PT_REGS_PARM1_SYSCALL(r), false, 0, PT_REGS_PARM2_SYSCALL(r), 0,
			  0, 0, true);
}

VG_SYS_EXIT(vg_lremovexattr_exit)
{
	struct pt_regs *r = exit_regs();
	return xattr_exit(ret, AT_FDCWD, PT_REGS_PARM1_SYSCALL(r), false, AT_SYMLINK_NOFOLLOW,
			  PT_REGS_PARM2_SYSCALL(r), 0, 0, 0, true);
}

VG_SYS_EXIT(vg_fremovexattr_exit)
{
	struct pt_regs *r = exit_regs();
	return xattr_exit(ret, (int)PT_REGS_PARM1_SYSCALL(r), 0, true, 0, PT_REGS_PARM2_SYSCALL(r), 0, 0,
			  0, true);
}

/* include/uapi/linux/xattr.h (6.13) */
struct vg_u_xattr_args {
	__u64 value;
	__u32 size;
	__u32 flags;
};

/* setxattrat(dfd, path, at_flags, name, args, usize) */
VG_SYS_EXIT(vg_setxattrat_exit)
{
	struct pt_regs *r = exit_regs();
	struct vg_u_xattr_args xa = {};
	bpf_probe_read_user(&xa, sizeof(xa), (const void *)PT_REGS_PARM5_SYSCALL(r));
	return xattr_exit(ret, (int)PT_REGS_PARM1_SYSCALL(r), PT_REGS_PARM2_SYSCALL(r), false,
			  (__u32)PT_REGS_PARM3_SYSCALL(r), PT_REGS_PARM4_SYSCALL(r), xa.value, xa.size,
			  xa.flags, false);
}

/* removexattrat(dfd, path, at_flags, name) */
VG_SYS_EXIT(vg_removexattrat_exit)
{
	struct pt_regs *r = exit_regs();
	return xattr_exit(ret, (int)PT_REGS_PARM1_SYSCALL(r), PT_REGS_PARM2_SYSCALL(r), false,
			  (__u32)PT_REGS_PARM3_SYSCALL(r), PT_REGS_PARM4_SYSCALL(r), 0, 0, 0, true);
}

/* -------------------------------------------------------- inode flags */

/* include/uapi/linux/fs.h: _IOW('f', 2, long) and its 32-bit twin (the
 * kernel reads an int through either), _IOW('X', 32, struct fsxattr) */
#define FS_IOC_SETFLAGS 0x40086602u
#define FS_IOC32_SETFLAGS 0x40046602u
#define FS_IOC_FSSETXATTR 0x401c5820u

/* chattr +i/+a and the like. Every ioctl on the host comes through here,
 * so anything but these two requests returns at the first compare. */
VG_SYS_EXIT(vg_ioctl_exit)
{
	struct pt_regs *r = exit_regs();
	__u32 cmd = (__u32)PT_REGS_PARM2_SYSCALL(r);
	if (cmd != FS_IOC_SETFLAGS && cmd != FS_IOC32_SETFLAGS && cmd != FS_IOC_FSSETXATTR)
		return 0;
	if (is_self())
		return 0;
	struct vg_scratch *s = vg_buf();
	if (!s)
		return 0;
	int fd = (int)PT_REGS_PARM1_SYSCALL(r);
	struct vg_fsflags *e = (struct vg_fsflags *)s->buf;
	__builtin_memset(e, 0, sizeof(*e));
	__u32 cur = sizeof(*e);
	/* both requests begin with the flags word: an int, or fsx_xflags */
	bpf_probe_read_user(&e->flags, sizeof(e->flags), (const void *)PT_REGS_PARM3_SYSCALL(r));
	e->how = cmd == FS_IOC_FSSETXATTR ? VG_FLAGS_FSXATTR : 0;
	put_fdpath(s, &cur, &e->target, fd);
	struct file *f = vg_fd_file(vg_task(), fd);
	if (f) {
		struct inode *ino = BPF_CORE_READ(f, f_inode);
		e->ino = BPF_CORE_READ(ino, i_ino);
		e->dev = BPF_CORE_READ(ino, i_sb, s_dev);
	}
	if (path_ignored(s, &e->target)) {
		vg_count(VG_HOOK_ATTR, VG_CNT_FILTERED);
		return 0;
	}
	return file_finish(s, cur, VG_EV_FILE_FLAGS, VG_HOOK_ATTR, ret);
}

VG_EXIT_PROGRAMS(vg_file_exit_raw, vg_file_exit, VG_FILE_EXITS)
