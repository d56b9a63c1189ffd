// SPDX-License-Identifier: GPL-2.0
/* Process lifecycle: exec (and failed exec), fork, exit, setsid, comm
 * changes, memfd_create. This object owns the shared maps. */
#include "common.bpf.h"

#define MAJOR(dev) ((unsigned int)((dev) >> 20))

static __always_inline void put_fdinfo(struct vg_scratch *s, __u32 *cur, struct vg_fdinfo *o,
				       struct task_struct *t, int fd)
{
	struct file *f = vg_fd_file(t, fd);
	if (!f) {
		o->kind = VG_FD_NONE;
		return;
	}
	struct inode *ino = f->f_inode;
	umode_t mode = ino->i_mode;
	switch (mode & S_IFMT) {
	case S_IFSOCK:
		o->kind = VG_FD_SOCKET;
		vg_fill_sock(&o->sock, vg_file_sock(f));
		return;
	case S_IFIFO:
		o->kind = VG_FD_PIPE;
		o->ino = (__u32)ino->i_ino;
		return;
	case S_IFCHR: {
		unsigned int major = MAJOR(ino->i_rdev);
		/* 4: tty/console, 5: /dev/tty & ptmx, 136-143: pts */
		o->kind = (major == 4 || major == 5 || (major >= 136 && major <= 143)) ? VG_FD_TTY
										       : VG_FD_CHR;
		break;
	}
	case S_IFREG:
		o->kind = VG_FD_FILE;
		break;
	default:
		o->kind = VG_FD_OTHER;
		return;
	}
	vg_put_file_path(s, cur, &o->path, f);
}

/* Variables that matter for detection are found even beyond env_max:
 * when the environment is longer than the copy, each one is appended whole
 * after the copied head (which ends with an extra NUL), so kilobytes of
 * padding cannot hide LD_PRELOAD from a short-lived process. User space
 * takes the last occurrence of a name in a truncated block. */
#define ENV_VAR_MAX 1024     /* longest variable copied by the scan */
#define ENV_SCAN_ITERS 1024  /* strings (or 1 KiB pieces of long ones) */
#define ENV_SCAN_BYTES (256u << 10)
#define ENV_LD_PRELOAD 1u
#define ENV_SSH_CONN 2u

struct env_scan_ctx {
	struct vg_scratch *s;
	__u64 pos, end;
	__u32 cur;   /* where the next found variable goes */
	__u32 found; /* ENV_* bits: only a name's first occurrence counts, as for getenv */
	__u32 mid;   /* pos is inside a long string, not at the start of one */
};

static long env_scan_cb(__u32 i, struct env_scan_ctx *c)
{
	struct vg_scratch *s = c->s;
	__u32 off = c->cur;
	if (c->pos >= c->end || c->found == (ENV_LD_PRELOAD | ENV_SSH_CONN) ||
	    off >= VG_DATA_MAX - ENV_VAR_MAX)
		return 1;
	long n = bpf_probe_read_user_str(&s->buf[vg_off(off)], ENV_VAR_MAX, (const void *)c->pos);
	if (n <= 0)
		return 1;
	bool at_start = !c->mid;
	bool whole = n < ENV_VAR_MAX;
	if (!whole) {
		char last = 1;
		bpf_probe_read_user(&last, 1, (const void *)(c->pos + n - 1));
		whole = last == 0;
	}
	c->mid = !whole;
	c->pos += whole ? n : n - 1;
	if (!at_start || n < 12)
		return 0;
	const char *v = (const char *)&s->buf[vg_off(off)];
	__u32 bit = 0;
	if (v[0] == 'L' && v[1] == 'D' && v[2] == '_' && v[3] == 'P' && v[4] == 'R' && v[5] == 'E' &&
	    v[6] == 'L' && v[7] == 'O' && v[8] == 'A' && v[9] == 'D' && v[10] == '=')
		bit = ENV_LD_PRELOAD;
	else if (n >= 16 && v[0] == 'S' && v[1] == 'S' && v[2] == 'H' && v[3] == '_' && v[4] == 'C' &&
		 v[5] == 'O' && v[6] == 'N' && v[7] == 'N' && v[8] == 'E' && v[9] == 'C' &&
		 v[10] == 'T' && v[11] == 'I' && v[12] == 'O' && v[13] == 'N' && v[14] == '=')
		bit = ENV_SSH_CONN;
	if (!bit || (c->found & bit))
		return 0;
	c->found |= bit;
	c->cur = off + n; /* keep it (NUL-terminated, cut at ENV_VAR_MAX - 1 bytes) */
	return 0;
}

static __noinline int env_scan(struct vg_scratch *s, __u32 *cur, struct vg_blob *b, __u64 start,
			       __u64 end)
{
	__u32 off = *cur;
	if (!s || off >= VG_DATA_MAX - 1)
		return 0;
	if (b->len == 0)
		b->off = off;
	s->buf[vg_off(off)] = 0; /* ends the head's last (cut) variable */
	off++;
	if (end - start > ENV_SCAN_BYTES)
		end = start + ENV_SCAN_BYTES;
	struct env_scan_ctx c = {.s = s, .pos = start, .end = end, .cur = off};
	bpf_loop(ENV_SCAN_ITERS, env_scan_cb, &c, 0);
	off = c.cur;
	b->len = off - b->off;
	*cur = off;
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(vg_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	p = VG_UNTRUSTED(p); /* loads only: see VG_UNTRUSTED */
	bprm = VG_UNTRUSTED(bprm);
	if (vg_skip(VG_HOOK_EXEC))
		return 0;
	struct vg_scratch *s = vg_buf();
	if (!s)
		return 0;
	struct vg_exec *e = VG_REC(s, struct vg_exec, VG_EV_EXEC, VG_HOOK_EXEC);
	__u32 cur = sizeof(*e);

	/* named through a descriptor (fexecve, execveat with a dirfd): the
	 * kernel made up a "/dev/fd/N/..." name for it. Not from the saved
	 * registers: their syscall number reads execve's for execveat too. */
	if (bpf_core_field_exists(bprm->fdpath) && bprm->fdpath)
		e->flags |= VG_EXECVEAT;

	/* plain loads through the typed arguments: BPF_CORE_READ is a helper
	 * call per field, 60 of them made half of this record's cost */
	e->old_pid = old_pid;
	struct file *file = bprm->file;
	struct inode *ino = file->f_inode;
	struct super_block *sb = ino->i_sb;
	e->exe_ino = ino->i_ino;
	e->exe_dev = sb->s_dev;
	e->exe_mode = ino->i_mode;
	e->exe_uid = ino->i_uid.val;
	e->exe_size = ino->i_size;
	e->exe_nlink = ino->__i_nlink;
	e->exe_sb_magic = sb->s_magic;
	if (bpf_core_field_exists(ino->i_mtime_sec))
		e->exe_mtime_ns = ino->i_mtime_sec * 1000000000ULL + ino->i_mtime_nsec;
	if (e->exe_nlink == 0)
		e->flags |= VG_EXE_DELETED;
	if (e->exe_sb_magic == TMPFS_MAGIC)
		e->flags |= VG_EXE_TMPFS;

	vg_put_kstr(s, &cur, &e->nodename, p->nsproxy->uts_ns->name.nodename, VG_NODENAME_LEN);
	struct tty_struct *tty = p->signal->tty;
	if (tty)
		vg_put_kstr(s, &cur, &e->tty, tty->name, VG_TTY_LEN);
	const char *filename = bprm->filename;
	const char *interp = bprm->interp;
	vg_put_kstr(s, &cur, &e->filename, filename, 4096);
	if (interp && interp != filename)
		vg_put_kstr(s, &cur, &e->interp, interp, 4096);
	vg_put_file_path(s, &cur, &e->exe, file);
	/* memfd files live on an internal tmpfs mount named "memfd:..." */
	if (e->exe.len > 7) {
		char pfx[7] = {};
		bpf_probe_read_kernel(pfx, sizeof(pfx), &s->buf[vg_off(e->exe.off + 1)]);
		if (pfx[0] == 'm' && pfx[1] == 'e' && pfx[2] == 'm' && pfx[3] == 'f' &&
		    pfx[4] == 'd' && pfx[5] == ':')
			e->flags |= VG_EXE_MEMFD;
	}
	vg_put_cwd(s, &cur, &e->cwd);
	for (int i = 0; i < 3; i++)
		put_fdinfo(s, &cur, &e->fd[i], p, i);

	struct mm_struct *mm = p->mm;
	__u64 env_start = mm->env_start, env_end = mm->env_end;
	__u64 env_max = vg_cfg(VG_CFG_ENV_MAX);
	__u64 env_len = env_end - env_start;
	if (env_len > env_max) {
		env_len = env_max;
		e->flags |= VG_ENV_TRUNC;
	}
	if (env_len)
		vg_put_ubytes(s, &cur, &e->env, (void *)env_start, env_len);
	if (e->flags & VG_ENV_TRUNC)
		env_scan(s, &cur, &e->env, env_start, env_end);

	__u64 arg_start = mm->arg_start, arg_end = mm->arg_end;
	__u64 arg_max = vg_cfg(VG_CFG_ARGV_MAX);
	__u64 arg_len = arg_end - arg_start;
	if (arg_len > arg_max) {
		arg_len = arg_max;
		e->flags |= VG_ARGV_TRUNC;
	}
	if (arg_len && arg_len < VG_DATA_MAX) {
		if (cur + arg_len > VG_DATA_MAX) {
			arg_len = VG_DATA_MAX - cur;
			e->flags |= VG_ARGV_TRUNC;
		}
		vg_put_ubytes(s, &cur, &e->argv, (void *)arg_start, arg_len);
	}
	vg_emit(s, cur, VG_HOOK_EXEC);
	return 0;
}

/* A failed exec is recorded at exit alone: the path is still in the
 * argument registers and in the caller's memory, so execve needs no enter
 * program (whose per-thread save cost every exec about 1 us). */
static __always_inline int exec_exit(long ret, bool at)
{
	if (ret >= 0 || vg_skip(VG_HOOK_EXEC_FAIL))
		return 0;
	struct vg_scratch *s = vg_buf();
	if (!s)
		return 0;
	struct vg_exec_fail *e = VG_REC(s, struct vg_exec_fail, VG_EV_EXEC_FAIL, VG_HOOK_EXEC_FAIL);
	e->h.ret = ret;
	__u32 cur = sizeof(*e);
	/* execveat(dirfd, path, ...): the path is the second argument */
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	const char *path = (const char *)(at ? PT_REGS_PARM2_CORE_SYSCALL(regs)
					     : PT_REGS_PARM1_CORE_SYSCALL(regs));
	vg_put_ustr(s, &cur, &e->filename, path, 4096);
	vg_emit(s, cur, VG_HOOK_EXEC_FAIL);
	return 0;
}

VG_SYS_EXIT(vg_execve_exit)
{
	return exec_exit(ret, false);
}

VG_SYS_EXIT(vg_execveat_exit)
{
	return exec_exit(ret, true);
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(vg_fork, struct task_struct *parent, struct task_struct *child)
{
	/* threads share the process: only new thread groups are reported */
	if (child->pid != child->tgid)
		return 0;
	if (vg_skip(VG_HOOK_FORK))
		return 0;
	struct vg_scratch *s = vg_buf();
	if (!s)
		return 0;
	struct vg_fork *e = VG_REC(s, struct vg_fork, VG_EV_FORK, VG_HOOK_FORK);
	e->child_pid = child->tgid;
	e->child_start_ns = child->start_boottime;
	e->flags = child->flags;
	vg_emit(s, sizeof(*e), VG_HOOK_FORK);
	return 0;
}

#define SIGNAL_GROUP_EXIT 0x00000004

SEC("tp_btf/sched_process_exit")
int BPF_PROG(vg_exit, struct task_struct *p)
{
	p = VG_UNTRUSTED(p);
	/* report the process once: when its last thread leaves */
	struct signal_struct *sig = p->signal;
	if (sig->live.counter != 0)
		return 0;
	if (vg_skip(VG_HOOK_EXIT))
		return 0;
	struct vg_scratch *s = vg_buf();
	if (!s)
		return 0;
	struct vg_exit *e = VG_REC(s, struct vg_exit, VG_EV_EXIT, VG_HOOK_EXIT);
	if (sig->flags & SIGNAL_GROUP_EXIT)
		e->exit_code = sig->group_exit_code;
	else
		e->exit_code = p->exit_code;
	vg_emit(s, sizeof(*e), VG_HOOK_EXIT);
	return 0;
}

VG_SYS_EXIT(vg_setsid_exit)
{
	if (ret < 0 || vg_skip(VG_HOOK_SETSID))
		return 0;
	struct vg_scratch *s = vg_buf();
	if (!s)
		return 0;
	struct vg_hdr *e = (struct vg_hdr *)s->buf;
	__builtin_memset(e, 0, sizeof(*e));
	vg_fill_hdr(e, VG_EV_SETSID, VG_HOOK_SETSID);
	e->ret = ret;
	vg_emit(s, sizeof(*e), VG_HOOK_SETSID);
	return 0;
}

/* Fires for prctl(PR_SET_NAME), writes to /proc/PID/comm and exec. */
SEC("tp_btf/task_rename")
int BPF_PROG(vg_comm, struct task_struct *task, const char *comm)
{
	/* exec renames every process: that is not a name change worth a record */
	if (BPF_CORE_READ_BITFIELD(task, in_execve))
		return 0;
	if (vg_skip(VG_HOOK_RENAME_COMM))
		return 0;
	struct vg_scratch *s = vg_buf();
	if (!s)
		return 0;
	struct vg_comm *e = VG_REC(s, struct vg_comm, VG_EV_COMM, VG_HOOK_RENAME_COMM);
	bpf_probe_read_kernel_str(e->old_comm, sizeof(e->old_comm), &task->comm);
	bpf_probe_read_kernel_str(e->new_comm, sizeof(e->new_comm), comm);
	e->target_pid = task->tgid;
	vg_emit(s, sizeof(*e), VG_HOOK_RENAME_COMM);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_memfd_create")
int vg_memfd_enter(struct trace_event_raw_sys_enter *ctx)
{
	vg_save_args(VG_HOOK_MEMFD, ctx, 2);
	return 0;
}

VG_SYS_EXIT(vg_memfd_exit)
{
	struct vg_args a;
	if (!vg_take_args(VG_HOOK_MEMFD, &a) || vg_skip(VG_HOOK_MEMFD))
		return 0;
	struct vg_scratch *s = vg_buf();
	if (!s)
		return 0;
	struct vg_memfd *e = VG_REC(s, struct vg_memfd, VG_EV_MEMFD, VG_HOOK_MEMFD);
	e->h.ret = ret;
	e->flags = a.a[1];
	__u32 cur = sizeof(*e);
	vg_put_ustr(s, &cur, &e->name, (const char *)a.a[0], 250);
	vg_emit(s, cur, VG_HOOK_MEMFD);
	return 0;
}

VG_EXIT_PROGRAMS(vg_process_exit_raw, vg_process_exit, VG_PROCESS_EXITS)
