// SPDX-License-Identifier: GPL-2.0
/* Privilege domain: credential changes (set*id, capset), ptrace, kernel
 * modules, mounts, BPF program loads and signals sent to other processes. */
#include "common.bpf.h"

#define EPERM 1

/* ---------------------------------------------------------------- creds */

/* Index of each setter, as json.c's cred_syscall() names them. */
enum cred_sc {
	SC_SETUID = 0, SC_SETGID, SC_SETREUID, SC_SETREGID, SC_SETRESUID,
	SC_SETRESGID, SC_SETFSUID, SC_SETFSGID, SC_CAPSET,
};

struct cred_snap {
	__u32 uid, euid, suid, fsuid;
	__u32 gid, egid, sgid, fsgid;
	__u64 cap_eff, cap_prm;
	__u32 syscall;
	__u32 arg0;   /* setfsuid/setfsgid: the requested id */
};

/* Credentials before the call, per thread (LRU: a thread that never
 * returns cannot fill the map). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct cred_snap);
} vg_cred_inflight SEC(".maps");

static __always_inline void read_creds(struct cred_snap *o)
{
	struct task_struct *t = bpf_get_current_task_btf();
	const struct cred *cr = BPF_CORE_READ(t, cred);
	o->uid = BPF_CORE_READ(cr, uid.val);
	o->euid = BPF_CORE_READ(cr, euid.val);
	o->suid = BPF_CORE_READ(cr, suid.val);
	o->fsuid = BPF_CORE_READ(cr, fsuid.val);
	o->gid = BPF_CORE_READ(cr, gid.val);
	o->egid = BPF_CORE_READ(cr, egid.val);
	o->sgid = BPF_CORE_READ(cr, sgid.val);
	o->fsgid = BPF_CORE_READ(cr, fsgid.val);
	/* kernel_cap_t is one u64 since 6.3, two u32 before: 8 bytes either way */
	bpf_core_read(&o->cap_eff, sizeof(o->cap_eff), &cr->cap_effective);
	bpf_core_read(&o->cap_prm, sizeof(o->cap_prm), &cr->cap_permitted);
}

static __always_inline int creds_enter(struct trace_event_raw_sys_enter *ctx, __u32 sc)
{
	struct cred_snap c = {};
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	read_creds(&c);
	c.syscall = sc;
	c.arg0 = ctx->args[0]; /* every setter has at least one argument */
	bpf_map_update_elem(&vg_cred_inflight, &tid, &c, BPF_ANY);
	return 0;
}

static __always_inline int creds_exit(long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct cred_snap *p = bpf_map_lookup_elem(&vg_cred_inflight, &tid);
	if (!p)
		return 0;
	struct cred_snap o = *p;
	bpf_map_delete_elem(&vg_cred_inflight, &tid);
	struct cred_snap n = {};
	read_creds(&n);
	if (o.syscall == SC_SETFSUID || o.syscall == SC_SETFSGID) {
		/* these return the previous fsuid/fsgid, never an error: a
		 * request that did not take effect is reported as EPERM. The
		 * argument is in the caller's user namespace and the creds
		 * hold kernel ids: compare them only in the initial one. */
		__u32 now = o.syscall == SC_SETFSUID ? n.fsuid : n.fsgid;
		struct task_struct *t = bpf_get_current_task_btf();
		__u32 level = BPF_CORE_READ(t, cred, user_ns, level);
		ret = (level == 0 && o.arg0 != (__u32)-1 && now != o.arg0) ? -EPERM : 0;
	}
	bool changed = o.uid != n.uid || o.euid != n.euid || o.suid != n.suid ||
		       o.fsuid != n.fsuid || o.gid != n.gid || o.egid != n.egid ||
		       o.sgid != n.sgid || o.fsgid != n.fsgid || o.cap_eff != n.cap_eff ||
		       o.cap_prm != n.cap_prm;
	/* no-op calls and setfsuid(-1) style queries end here */
	if (!changed && ret >= 0)
		return 0;
	if (vg_skip(VG_HOOK_CREDS))
		return 0;
	struct vg_scratch *s = vg_buf();
	if (!s)
		return 0;
	struct vg_creds *e = VG_REC(s, struct vg_creds, VG_EV_CRED_CHANGE, VG_HOOK_CREDS);
	e->h.ret = ret;
	e->syscall = o.syscall;
	e->old_uid = o.uid;
	e->old_euid = o.euid;
	e->old_suid = o.suid;
	e->old_fsuid = o.fsuid;
	e->old_gid = o.gid;
	e->old_egid = o.egid;
	e->old_sgid = o.sgid;
	e->old_fsgid = o.fsgid;
	e->new_uid = n.uid;
	e->new_euid = n.euid;
	e->new_suid = n.suid;
	e->new_fsuid = n.fsuid;
	e->new_gid = n.gid;
	e->new_egid = n.egid;
	e->new_sgid = n.sgid;
	e->new_fsgid = n.fsgid;
	e->old_cap_eff = o.cap_eff;
	e->new_cap_eff = n.cap_eff;
	e->old_cap_prm = o.cap_prm;
	e->new_cap_prm = n.cap_prm;
	vg_emit(s, sizeof(*e), VG_HOOK_CREDS);
	return 0;
}

#define CRED_PROGS(name, sc)                                              \
	SEC("tracepoint/syscalls/sys_enter_" #name)                       \
	int vg_##name##_enter(struct trace_event_raw_sys_enter *ctx)      \
	{                                                                 \
		return creds_enter(ctx, sc);                              \
	}                                                                 \
	VG_SYS_EXIT(vg_##name##_exit)                                     \
	{                                                                 \
		return creds_exit(ret);                                   \
	}

CRED_PROGS(setuid, SC_SETUID)
CRED_PROGS(setgid, SC_SETGID)
CRED_PROGS(setreuid, SC_SETREUID)
CRED_PROGS(setregid, SC_SETREGID)
CRED_PROGS(setresuid, SC_SETRESUID)
CRED_PROGS(setresgid, SC_SETRESGID)
CRED_PROGS(setfsuid, SC_SETFSUID)
CRED_PROGS(setfsgid, SC_SETFSGID)
CRED_PROGS(capset, SC_CAPSET)

/* --------------------------------------------------------------- ptrace */

#define PTRACE_TRACEME 0
#define PTRACE_POKETEXT 4
#define PTRACE_POKEDATA 5
#define PTRACE_POKEUSR 6
#define PTRACE_SETREGS 13
#define PTRACE_ATTACH 16
#define PTRACE_SETREGSET 0x4205
#define PTRACE_SEIZE 0x4206

/* Debuggers and strace issue several requests per traced syscall; only
 * the ones that take hold of a process or write into it are recorded. */
static __always_inline bool ptrace_interesting(long req)
{
	switch (req) {
	case PTRACE_TRACEME:
	case PTRACE_POKETEXT:
	case PTRACE_POKEDATA:
	case PTRACE_POKEUSR:
	case PTRACE_SETREGS:
	case PTRACE_ATTACH:
	case PTRACE_SETREGSET:
	case PTRACE_SEIZE:
		return true;
	}
	return false;
}

SEC("tracepoint/syscalls/sys_enter_ptrace")
int vg_ptrace_enter(struct trace_event_raw_sys_enter *ctx)
{
	if (!ptrace_interesting(ctx->args[0]))
		return 0;
	vg_save_args(VG_HOOK_PTRACE, ctx, 3);
	return 0;
}

VG_SYS_EXIT(vg_ptrace_exit)
{
	struct vg_args a;
	if (!vg_take_args(VG_HOOK_PTRACE, &a) || vg_skip(VG_HOOK_PTRACE))
		return 0;
	struct vg_scratch *s = vg_buf();
	if (!s)
		return 0;
	struct vg_ptrace *e = VG_REC(s, struct vg_ptrace, VG_EV_PTRACE, VG_HOOK_PTRACE);
	e->h.ret = ret;
	e->request = (long)a.a[0];
	e->addr = a.a[2];
	if (e->request != PTRACE_TRACEME) {
		/* the pid argument is in the tracer's pid namespace */
		e->target_pid = (__u32)a.a[1];
		if (ret == 0 &&
		    (e->request == PTRACE_ATTACH || e->request == PTRACE_SEIZE)) {
			/* a new tracee goes to the head of current->ptraced:
			 * that gives its pid as the initial namespace sees it */
			struct task_struct *t = bpf_get_current_task_btf();
			struct list_head *first = BPF_CORE_READ(t, ptraced.next);
			if (first && first != &t->ptraced) {
				struct task_struct *tracee =
					container_of(first, struct task_struct, ptrace_entry);
				__u32 tgid = BPF_CORE_READ(tracee, tgid);
				if (tgid)
					e->target_pid = tgid;
			}
		}
	}
	vg_emit(s, sizeof(*e), VG_HOOK_PTRACE);
	return 0;
}

/* process_vm_writev(pid, ...): another process's memory written directly,
 * under the same permission as a ptrace attach; recorded as a ptrace event
 * (request VG_PTRACE_VM_WRITEV, ret the bytes written). The pid is read at
 * exit from the saved user registers: no enter program. */
VG_SYS_EXIT(vg_vm_writev_exit)
{
	if (vg_skip(VG_HOOK_PTRACE))
		return 0;
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	struct vg_scratch *s = vg_buf();
	if (!s)
		return 0;
	struct vg_ptrace *e = VG_REC(s, struct vg_ptrace, VG_EV_PTRACE, VG_HOOK_PTRACE);
	e->h.ret = ret;
	e->request = VG_PTRACE_VM_WRITEV;
	/* in the caller's pid namespace, as ptrace's pid argument */
	e->target_pid = (__u32)PT_REGS_PARM1_CORE_SYSCALL(regs);
	vg_emit(s, sizeof(*e), VG_HOOK_PTRACE);
	return 0;
}

/* process_vm_readv(pid, ...): another process's memory read directly,
 * as credential dumpers read sshd's (T1003.007); request
 * VG_PTRACE_VM_READV, ret the bytes read. A process reading itself (some
 * runtimes probe their own memory this way) or its tracee (strace reads
 * the strings of the calls it prints) is not recorded. */
VG_SYS_EXIT(vg_vm_readv_exit)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	__u32 target = (__u32)PT_REGS_PARM1_CORE_SYSCALL(regs);
	struct task_struct *t = vg_task();
	/* the pid argument is in the caller's pid namespace */
	if (target == (__u32)t->tgid || target == (__u32)t->group_leader->thread_pid->numbers[0].nr ||
	    vg_traces(target))
		return 0;
	if (vg_skip(VG_HOOK_PTRACE))
		return 0;
	struct vg_scratch *s = vg_buf();
	if (!s)
		return 0;
	struct vg_ptrace *e = VG_REC(s, struct vg_ptrace, VG_EV_PTRACE, VG_HOOK_PTRACE);
	e->h.ret = ret;
	e->request = VG_PTRACE_VM_READV;
	e->target_pid = target;
	vg_emit(s, sizeof(*e), VG_HOOK_PTRACE);
	return 0;
}

/* -------------------------------------------------------------- modules */

enum mod_sc { MOD_INIT = 0, MOD_FINIT = 1, MOD_DELETE = 2 };

static __always_inline int emit_module(__u32 sc, __u64 a0, __u64 a1, __u64 a2, long ret)
{
	if (vg_skip(VG_HOOK_MODULE))
		return 0;
	struct vg_scratch *s = vg_buf();
	if (!s)
		return 0;
	struct vg_module *e = (struct vg_module *)s->buf;
	__builtin_memset(e, 0, sizeof(*e));
	vg_fill_hdr(&e->h, sc == MOD_DELETE ? VG_EV_MODULE_UNLOAD : VG_EV_MODULE_LOAD,
		    VG_HOOK_MODULE);
	e->h.ret = ret;
	e->syscall = sc;
	__u32 cur = sizeof(*e);
	if (sc == MOD_INIT) {
		/* init_module(image, len, params) */
		e->len = a1;
		vg_put_ustr(s, &cur, &e->args, (const char *)a2, 1024);
	} else if (sc == MOD_FINIT) {
		/* finit_module(fd, params, flags) */
		e->flags = a2;
		vg_put_ustr(s, &cur, &e->args, (const char *)a1, 1024);
		struct file *f = vg_fd_file(vg_task(), (int)a0);
		vg_put_file_path(s, &cur, &e->name, f);
	} else {
		/* delete_module(name, flags) */
		e->flags = a1;
		vg_put_ustr(s, &cur, &e->name, (const char *)a0, 64);
	}
	vg_emit(s, cur, VG_HOOK_MODULE);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_init_module")
int vg_init_module_enter(struct trace_event_raw_sys_enter *ctx)
{
	vg_save_args(VG_HOOK_MODULE, ctx, 3);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_init_module")
int vg_init_module_exit(struct trace_event_raw_sys_exit *ctx)
{
	struct vg_args a;
	if (!vg_take_args(VG_HOOK_MODULE, &a))
		return 0;
	return emit_module(MOD_INIT, a.a[0], a.a[1], a.a[2], ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_finit_module")
int vg_finit_module_enter(struct trace_event_raw_sys_enter *ctx)
{
	vg_save_args(VG_HOOK_MODULE, ctx, 3);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_finit_module")
int vg_finit_module_exit(struct trace_event_raw_sys_exit *ctx)
{
	struct vg_args a;
	if (!vg_take_args(VG_HOOK_MODULE, &a))
		return 0;
	return emit_module(MOD_FINIT, a.a[0], a.a[1], a.a[2], ctx->ret);
}

SEC("tracepoint/syscalls/sys_enter_delete_module")
int vg_delete_module_enter(struct trace_event_raw_sys_enter *ctx)
{
	vg_save_args(VG_HOOK_MODULE, ctx, 2);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_delete_module")
int vg_delete_module_exit(struct trace_event_raw_sys_exit *ctx)
{
	struct vg_args a;
	if (!vg_take_args(VG_HOOK_MODULE, &a))
		return 0;
	return emit_module(MOD_DELETE, a.a[0], a.a[1], 0, ctx->ret);
}

/* Kernels built without CONFIG_MODULES (or without syscall tracepoints for
 * these calls) still run the syscalls, failing with ENOSYS: an attempt is
 * still worth recording. This program sits on the global sys_exit, so it
 * runs after EVERY syscall of the host: it reads the syscall number and
 * leaves at once for anything else. The loader attaches it only when
 * syscalls/sys_enter_init_module is missing and module_fallback is on.
 * At sys_exit the saved user registers still hold the arguments.
 * Compat (32-bit) syscalls are numbered differently: on x86 they are
 * recognised as such, on arm64 they are ignored. */
#if defined(__TARGET_ARCH_x86)
#define NR_INIT_MODULE 175
#define NR_DELETE_MODULE 176
#define NR_FINIT_MODULE 313
#define NR32_INIT_MODULE 128
#define NR32_DELETE_MODULE 129
#define NR32_FINIT_MODULE 350

SEC("tp_btf/sys_exit")
int BPF_PROG(vg_module_fallback, struct pt_regs *regs, long ret)
{
	long nr = regs->orig_ax;
	__u32 sc;
	switch (nr) {
	/* the exit handlers, when the loader put them here (see
	 * vg_exit_progs); they leave compat syscalls alone (VG_EXIT_PROGRAMS).
	 * One tail call per number, each with a constant key: the JIT makes
	 * those direct jumps, where a key held in a register is an indirect
	 * jump through a retpoline (about 20 ns a record here). */
#define VG_TAIL_CASE(name, syscall, nr, hook)                                                      \
	case nr:                                                                                   \
		bpf_tail_call(ctx, &vg_exit_progs, nr);                                            \
		return 0;
		VG_PROCESS_EXITS(VG_TAIL_CASE)
		VG_FILE_EXITS(VG_TAIL_CASE)
		VG_NET_EXITS(VG_TAIL_CASE)
		VG_PRIV_EXITS(VG_TAIL_CASE)
#undef VG_TAIL_CASE
	case NR_INIT_MODULE:
	case NR32_INIT_MODULE:
		sc = MOD_INIT;
		break;
	case NR_FINIT_MODULE:
	case NR32_FINIT_MODULE:
		sc = MOD_FINIT;
		break;
	case NR_DELETE_MODULE:
	case NR32_DELETE_MODULE:
		sc = MOD_DELETE;
		break;
	default:
		return 0;
	}
	/* slow path from here: one of six numbers matched. A compat syscall
	 * (32-bit task, or int $0x80 from 64-bit code) is marked TS_COMPAT
	 * until the return to user space. */
	bool compat = vg_compat_syscall();
	if (compat != (nr == NR32_INIT_MODULE || nr == NR32_FINIT_MODULE ||
		       nr == NR32_DELETE_MODULE))
		return 0; /* e.g. a 32-bit rt_sigprocmask (175) */
	if (compat)
		return emit_module(sc, (__u32)regs->bx, (__u32)regs->cx, (__u32)regs->dx, ret);
	return emit_module(sc, regs->di, regs->si, regs->dx, ret);
}
#elif defined(__TARGET_ARCH_arm64)
#define NR_INIT_MODULE 105
#define NR_DELETE_MODULE 106
#define NR_FINIT_MODULE 273
#define PSR_MODE32_BIT 0x10

SEC("tp_btf/sys_exit")
int BPF_PROG(vg_module_fallback, struct pt_regs *regs, long ret)
{
	long nr = regs->syscallno;
	__u32 sc;
	if (nr == NR_INIT_MODULE)
		sc = MOD_INIT;
	else if (nr == NR_FINIT_MODULE)
		sc = MOD_FINIT;
	else if (nr == NR_DELETE_MODULE)
		sc = MOD_DELETE;
	else
		return 0;
	if (regs->pstate & PSR_MODE32_BIT)
		return 0;
	/* x0 holds the return value by now; orig_x0 keeps the first argument */
	return emit_module(sc, regs->orig_x0, regs->regs[1], regs->regs[2], ret);
}
#else
SEC("tp_btf/sys_exit")
int BPF_PROG(vg_module_fallback, struct pt_regs *regs, long ret)
{
	return 0;
}
#endif

/* --------------------------------------------------------------- mounts */

#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004

SEC("tracepoint/syscalls/sys_enter_mount")
int vg_mount_enter(struct trace_event_raw_sys_enter *ctx)
{
	vg_save_args(VG_HOOK_MOUNT, ctx, 4);
	return 0;
}

VG_SYS_EXIT(vg_mount_exit)
{
	struct vg_args a;
	if (!vg_take_args(VG_HOOK_MOUNT, &a) || vg_skip(VG_HOOK_MOUNT))
		return 0;
	struct vg_scratch *s = vg_buf();
	if (!s)
		return 0;
	struct vg_mount *e = VG_REC(s, struct vg_mount, VG_EV_MOUNT, VG_HOOK_MOUNT);
	e->h.ret = ret;
	e->flags = a.a[3];
	__u32 cur = sizeof(*e);
	/* mount(dev_name, dir_name, type, flags, data) */
	vg_put_ustr(s, &cur, &e->source, (const char *)a.a[0], 4096);
	vg_put_ustr(s, &cur, &e->target.path, (const char *)a.a[1], 4096);
	vg_put_base(s, &cur, &e->target, -100 /* AT_FDCWD */);
	vg_put_ustr(s, &cur, &e->fstype, (const char *)a.a[2], 64);
	vg_emit(s, cur, VG_HOOK_MOUNT);
	return 0;
}

/* umount2(name, flags); its tracepoint is named after the kernel's
 * SYSCALL_DEFINE2(umount, ...) */
SEC("tracepoint/syscalls/sys_enter_umount")
int vg_umount_enter(struct trace_event_raw_sys_enter *ctx)
{
	vg_save_args(VG_HOOK_MOUNT, ctx, 2);
	return 0;
}

VG_SYS_EXIT(vg_umount_exit)
{
	struct vg_args a;
	if (!vg_take_args(VG_HOOK_MOUNT, &a) || vg_skip(VG_HOOK_MOUNT))
		return 0;
	struct vg_scratch *s = vg_buf();
	if (!s)
		return 0;
	struct vg_mount *e = VG_REC(s, struct vg_mount, VG_EV_UMOUNT, VG_HOOK_MOUNT);
	e->h.ret = ret;
	e->flags = a.a[1];
	__u32 cur = sizeof(*e);
	vg_put_ustr(s, &cur, &e->target.path, (const char *)a.a[0], 4096);
	vg_put_base(s, &cur, &e->target, -100 /* AT_FDCWD */);
	vg_emit(s, cur, VG_HOOK_MOUNT);
	return 0;
}

/* The new mount API (fsopen, fsconfig, fsmount) attaches nothing until
 * move_mount(from_dfd, from_path, to_dfd, to_path, flags). */
SEC("tracepoint/syscalls/sys_enter_move_mount")
int vg_move_mount_enter(struct trace_event_raw_sys_enter *ctx)
{
	vg_save_args(VG_HOOK_MOUNT, ctx, 5);
	return 0;
}

VG_SYS_EXIT(vg_move_mount_exit)
{
	struct vg_args a;
	if (!vg_take_args(VG_HOOK_MOUNT, &a) || vg_skip(VG_HOOK_MOUNT))
		return 0;
	struct vg_scratch *s = vg_buf();
	if (!s)
		return 0;
	struct vg_mount *e = VG_REC(s, struct vg_mount, VG_EV_MOUNT, VG_HOOK_MOUNT);
	e->h.ret = ret;
	e->flags = a.a[4];
	__u32 cur = sizeof(*e);
	struct task_struct *t = vg_task();
	struct file *from = vg_fd_file(t, (int)a.a[0]);
	if (a.a[4] & MOVE_MOUNT_F_EMPTY_PATH) {
		/* from_dfd is the fsmount() fd: name its filesystem */
		struct vfsmount *mnt = BPF_CORE_READ(from, f_path.mnt);
		vg_put_kstr(s, &cur, &e->fstype, BPF_CORE_READ(mnt, mnt_sb, s_type, name), 64);
		struct mount *m = container_of(mnt, struct mount, mnt);
		vg_put_kstr(s, &cur, &e->source, BPF_CORE_READ(m, mnt_devname), 4096);
	} else {
		vg_put_ustr(s, &cur, &e->source, (const char *)a.a[1], 4096);
	}
	vg_put_ustr(s, &cur, &e->target.path, (const char *)a.a[3], 4096);
	vg_put_base(s, &cur, &e->target, (int)a.a[2]);
	vg_emit(s, cur, VG_HOOK_MOUNT);
	return 0;
}

/* ------------------------------------------------------------------ bpf */

#define BPF_PROG_LOAD_CMD 5

SEC("tracepoint/syscalls/sys_enter_bpf")
int vg_bpf_enter(struct trace_event_raw_sys_enter *ctx)
{
	if (ctx->args[0] != BPF_PROG_LOAD_CMD)
		return 0;
	/* bpf(cmd, attr, size): what was asked for, read before the kernel
	 * acts; packed into the per-thread argument slot */
	const union bpf_attr *attr = (const union bpf_attr *)ctx->args[1];
	__u64 size = ctx->args[2];
	struct vg_args a = {};
	__u32 v[2] = {};
	a.a[0] = BPF_PROG_LOAD_CMD;
	if (size >= 8 && !bpf_probe_read_user(v, sizeof(v), attr)) {
		a.a[1] = v[0]; /* prog_type */
		a.a[2] = v[1]; /* insn_cnt */
	}
	if (size >= __builtin_offsetof(union bpf_attr, prog_name) + 16)
		bpf_probe_read_user(&a.a[3], 16, &attr->prog_name);
	__u64 key = vg_inflight_key(VG_HOOK_BPF);
	bpf_map_update_elem(&vg_inflight, &key, &a, BPF_ANY);
	return 0;
}

VG_SYS_EXIT(vg_bpf_exit)
{
	struct vg_args a;
	if (!vg_take_args(VG_HOOK_BPF, &a) || vg_skip(VG_HOOK_BPF))
		return 0;
	struct vg_scratch *s = vg_buf();
	if (!s)
		return 0;
	struct vg_bpf *e = VG_REC(s, struct vg_bpf, VG_EV_BPF_LOAD, VG_HOOK_BPF);
	e->h.ret = ret;
	e->cmd = a.a[0];
	e->prog_type = a.a[1];
	e->insn_cnt = a.a[2];
	__builtin_memcpy(e->prog_name, &a.a[3], sizeof(e->prog_name));
	e->prog_name[sizeof(e->prog_name) - 1] = 0;
	vg_emit(s, sizeof(*e), VG_HOOK_BPF);
	return 0;
}

/* -------------------------------------------------------------- signals */

#define SIGHUP 1
#define SIGINT 2
#define SIGQUIT 3
#define SIGKILL 9
#define SIGUSR1 10
#define SIGUSR2 12
#define SIGTERM 15
#define SIGCONT 18
#define SIGSTOP 19
#define SIG_WATCHED ((1u << SIGHUP) | (1u << SIGINT) | (1u << SIGQUIT) | (1u << SIGKILL) | \
		     (1u << SIGUSR1) | (1u << SIGUSR2) | (1u << SIGTERM) | (1u << SIGCONT) | \
		     (1u << SIGSTOP))
#define SI_USER 0
#define SI_QUEUE -1
#define SI_TKILL -6

/* Fires for every signal the kernel generates (SIGCHLD at every exit,
 * timers, faults): the signal number filter comes first. Only signals a
 * process sends to another process are kept: kill/tkill/tgkill/
 * rt_sigqueueinfo/pidfd_send_signal, whose si_code is SI_USER, SI_TKILL or
 * SI_QUEUE. SEND_SIG_PRIV (info == 1) and positive codes are the kernel's
 * own; SI_TIMER/SI_SIGIO and the like are raised in whatever context the
 * timer or I/O completes, so current is not the sender. */
SEC("tp_btf/signal_generate")
int BPF_PROG(vg_signal, int sig, struct kernel_siginfo *info, struct task_struct *task,
	     int group, int result)
{
	if (sig <= 0 || sig >= 32 || !((1u << sig) & SIG_WATCHED))
		return 0;
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	__u32 target = BPF_CORE_READ(task, tgid);
	if (tgid == target || tgid == 0)
		return 0;
	int code = SI_USER; /* SEND_SIG_NOINFO: sent on behalf of current */
	if ((unsigned long)info == 1)
		return 0; /* SEND_SIG_PRIV */
	if (info)
		code = BPF_CORE_READ(info, si_code);
	if (code != SI_USER && code != SI_QUEUE && code != SI_TKILL)
		return 0;
	if (vg_skip(VG_HOOK_SIGNAL))
		return 0;
	struct vg_scratch *s = vg_buf();
	if (!s)
		return 0;
	struct vg_signal *e = VG_REC(s, struct vg_signal, VG_EV_SIGNAL, VG_HOOK_SIGNAL);
	e->sig = sig;
	e->target_pid = target;
	e->code = code;
	e->result = result;
	bpf_probe_read_kernel_str(e->target_comm, sizeof(e->target_comm), &task->comm);
	vg_emit(s, sizeof(*e), VG_HOOK_SIGNAL);
	return 0;
}

VG_EXIT_PROGRAMS(vg_priv_exit_raw, vg_priv_exit, VG_PRIV_EXITS)
