/* Maps and helpers shared by every vigil BPF object. Each domain object
 * (process, file, net, priv) declares these maps; the loader creates them
 * once (process object) and makes the others reuse the same fds, so there
 * is one ring buffer, one set of counters and one set of filters. */
#ifndef VIGIL_COMMON_BPF_H
#define VIGIL_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "records.h"
#include "exits.h"

char LICENSE[] SEC("license") = "GPL";

#define S_IFMT 00170000
#define S_IFSOCK 0140000
#define S_IFREG 0100000
#define S_IFCHR 0020000
#define S_IFIFO 0010000
#define S_IFDIR 0040000
#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10
#define AF_PACKET 17
#define TMPFS_MAGIC 0x01021994

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} vg_rb SEC(".maps");

/* Scratch record buffers: one slot per CPU (sized by the loader). Not a
 * PERCPU map because per-CPU values are capped at 32 KiB. */
struct vg_scratch {
	__u8 buf[VG_SCRATCH_SIZE];
};
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vg_scratch);
} vg_scratch_map SEC(".maps");

/* The components of a path on its way up the dentry chain (vg_put_path). */
struct vg_walk {
	__u64 name[VG_MAX_PATH_DEPTH]; /* const unsigned char * */
	__u32 len[VG_MAX_PATH_DEPTH];
	__u32 n;
	__u32 off;
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vg_walk);
} vg_walk_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VG_HOOK_MAX * VG_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} vg_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VG_CFG_MAX);
	__type(key, __u32);
	__type(value, __u64);
} vg_config SEC(".maps");

/* Per-hook token bucket: rate is records per second per CPU, 0 = no cap. */
struct vg_rate_cfg {
	__u64 rate;
	__u64 burst;
};
struct vg_rate_state {
	__u64 tokens_milli;
	__u64 last_ns;
};
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VG_HOOK_MAX);
	__type(key, __u32);
	__type(value, struct vg_rate_cfg);
} vg_rate_cfg SEC(".maps");
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VG_HOOK_MAX);
	__type(key, __u32);
	__type(value, struct vg_rate_state);
} vg_rate_state SEC(".maps");

struct vg_inode_key {
	__u64 ino;
	__u32 dev;
	__u32 pad;
};
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, struct vg_inode_key);
	__type(value, __u8);
} vg_ignore_exe SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u8);
} vg_ignore_cgroup SEC(".maps");

struct vg_prefix_key {
	__u32 prefixlen; /* bits */
	char data[VG_PREFIX_MAX];
};
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vg_prefix_key);
	__type(value, __u8);
} vg_ignore_path SEC(".maps");

/* Exit handlers by x86-64 syscall number, tail-called from the raw sys_exit
 * program (priv.bpf.c) on kernels where that program runs anyway (no
 * module syscall tracepoints): every exit handler (VG_SYS_EXIT) then skips
 * the perf syscall-tracepoint path, and no system call of the host pays the
 * perf exit probe. Filled by the loader; empty elsewhere. */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, VG_EXIT_PROGS);
	__type(key, __u32);
	__type(value, __u32);
} vg_exit_progs SEC(".maps");

/* Paths whose opens for writing are reported (file hook). */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct vg_prefix_key);
	__type(value, __u8);
} vg_watch_path SEC(".maps");

/* File names whose opens for writing are reported wherever they are
 * (authorized_keys, .bashrc: in every home directory, which no prefix
 * names). Key: the name, NUL-padded. */
struct vg_name_key {
	char name[VG_WATCH_NAME_MAX];
};
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct vg_name_key);
	__type(value, __u8);
} vg_watch_name SEC(".maps");

/* Sensitive files, by inode: reads are reported (file hook). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct vg_inode_key);
	__type(value, __u8);
} vg_sensitive SEC(".maps");
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, VG_SENS_BLOOM_WORDS);
	__type(key, __u32);
	__type(value, __u64);
} vg_sensitive_bloom SEC(".maps");

/* Bounds an offset into the data half of the scratch buffer. The empty asm
 * hides the value's known range from clang, which would otherwise drop the
 * mask that the verifier needs to see. */
static __always_inline __u32 vg_off(__u32 v)
{
	asm volatile("" : "+r"(v));
	return v & (VG_DATA_MAX - 1);
}

static __always_inline __u64 vg_cfg(__u32 key)
{
	__u64 *v = bpf_map_lookup_elem(&vg_config, &key);
	return v ? *v : 0;
}

static __always_inline void vg_count(__u32 hook, __u32 cnt)
{
	__u32 key = hook * VG_CNT_MAX + cnt;
	__u64 *v = bpf_map_lookup_elem(&vg_counters, &key);
	if (v)
		*v += 1;
}

static __always_inline struct vg_scratch *vg_buf(void)
{
	__u32 cpu = bpf_get_smp_processor_id();
	return bpf_map_lookup_elem(&vg_scratch_map, &cpu);
}

static __always_inline bool vg_rate_ok(__u32 hook)
{
	struct vg_rate_cfg *cfg = bpf_map_lookup_elem(&vg_rate_cfg, &hook);
	if (!cfg || cfg->rate == 0)
		return true;
	struct vg_rate_state *st = bpf_map_lookup_elem(&vg_rate_state, &hook);
	if (!st)
		return true;
	__u64 now = bpf_ktime_get_ns();
	__u64 burst_milli = (cfg->burst ? cfg->burst : cfg->rate) * 1000;
	__u64 elapsed = now - st->last_ns;
	st->last_ns = now;
	/* tokens are kept in thousandths so low rates still refill */
	__u64 add = elapsed / 1000 * cfg->rate / 1000;
	if (elapsed > 10ULL * 1000000000ULL)
		add = burst_milli;
	__u64 t = st->tokens_milli + add;
	if (t > burst_milli)
		t = burst_milli;
	if (t < 1000) {
		st->tokens_milli = t;
		return false;
	}
	st->tokens_milli = t - 1000;
	return true;
}

/* True when the current task's records must be dropped (and counted). */
static __always_inline bool vg_skip(__u32 hook)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	if (tgid == (__u32)vg_cfg(VG_CFG_SELF_TGID))
		return true;
	__u64 filters = vg_cfg(VG_CFG_FILTERS_ON);
	if (filters & VG_FILTER_CGROUP) {
		__u64 cg = bpf_get_current_cgroup_id();
		if (bpf_map_lookup_elem(&vg_ignore_cgroup, &cg)) {
			vg_count(hook, VG_CNT_FILTERED);
			return true;
		}
	}
	if (filters & VG_FILTER_EXE) {
		struct task_struct *t = bpf_get_current_task_btf();
		struct inode *ino = BPF_CORE_READ(t, mm, exe_file, f_inode);
		if (ino) {
			struct vg_inode_key k = {
				.ino = BPF_CORE_READ(ino, i_ino),
				.dev = BPF_CORE_READ(ino, i_sb, s_dev),
			};
			if (bpf_map_lookup_elem(&vg_ignore_exe, &k)) {
				vg_count(hook, VG_CNT_FILTERED);
				return true;
			}
		}
	}
	if (!vg_rate_ok(hook)) {
		vg_count(hook, VG_CNT_RATE_LIMITED);
		return true;
	}
	return false;
}

/* Typed view of a kernel address: loads through it are plain loads that
 * the JIT guards with an exception-table entry (a fault reads 0), not
 * helper calls. */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;

/* P as an untrusted pointer of its own type. The verifier checks every
 * pointer loaded through a trusted one (the current task, a tp_btf
 * argument) against the kernel's nested-trust annotations, looked up by
 * name: up to four linear scans of the kernel's BTF per load, 45% of
 * vigild's startup CPU here. Loads through an untrusted pointer are the
 * same exception-guarded loads without that, and the cast costs nothing
 * at run time. Helpers that take a task want the trusted one. */
#define VG_UNTRUSTED(p) ((typeof(p))bpf_rdonly_cast((p), bpf_core_type_id_kernel(typeof(*(p)))))

/* The current task, for loads (see VG_UNTRUSTED). */
static __always_inline struct task_struct *vg_task(void)
{
	return VG_UNTRUSTED(bpf_get_current_task_btf());
}

/* True when the current thread ptrace-traces a thread of process tgid:
 * a tracer reading its tracee (strace, gdb) already had to attach, which
 * is recorded. Walks current->ptraced, at most 16 tracees. */
static __always_inline bool vg_traces(__u32 tgid)
{
	struct task_struct *cur = bpf_get_current_task_btf();
	__u64 head = (__u64)(void *)cur + bpf_core_field_offset(struct task_struct, ptraced);
	__u64 entry_off = bpf_core_field_offset(struct task_struct, ptrace_entry);
	__u64 pos = 0;
	bpf_core_read(&pos, sizeof(pos), &cur->ptraced.next);
	for (int i = 0; i < 16 && pos && pos != head; i++) {
		struct task_struct *t = (struct task_struct *)(pos - entry_off);
		__u32 tg = 0;
		bpf_core_read(&tg, sizeof(tg), &t->tgid);
		if (tg == tgid)
			return true;
		bpf_core_read(&pos, sizeof(pos), &((struct list_head *)pos)->next);
	}
	return false;
}

static __always_inline __u32 vg_pid_nr(struct pid *pid)
{
	return BPF_CORE_READ(pid, numbers[0].nr);
}

/* Fields are read through the BTF-typed task pointer: each hop is a plain
 * load the JIT guards with an exception-table entry, where BPF_CORE_READ
 * would be a bpf_probe_read_kernel call (~25 of them made every record
 * cost ~0.8 us). The pid namespace level indexes a flexible array, which
 * BTF access cannot do with a variable offset: a task in a child pid
 * namespace needs two probe reads; one in the host's (level 0, the common
 * case) needs none. */
static __always_inline void vg_fill_task(struct vg_task_ctx *c)
{
	struct task_struct *t = vg_task();
	c->pid = t->tgid;
	c->tid = t->pid;
	struct task_struct *leader = t->group_leader;
	c->start_ns = leader->start_boottime;
	/* the helper's own walk, as plain loads */
	c->cgroup_id = t->cgroups->dfl_cgrp->kn->id;
	c->ppid = t->real_parent->tgid;
	struct signal_struct *sig = t->signal;
	c->pgid = sig->pids[PIDTYPE_PGID]->numbers[0].nr;
	c->sid = sig->pids[PIDTYPE_SID]->numbers[0].nr;
	struct pid *tp = leader->thread_pid;
	__u32 level = tp->level;
	if (level == 0) {
		c->ns_pid = tp->numbers[0].nr;
		c->pidns = tp->numbers[0].ns->ns.inum;
	} else {
		struct upid up = {};
		bpf_core_read(&up, sizeof(up), &tp->numbers[level & 31]);
		c->ns_pid = up.nr;
		c->pidns = BPF_CORE_READ(up.ns, ns.inum);
	}
	c->mntns = t->nsproxy->mnt_ns->ns.inum;
	const struct cred *cr = t->cred;
	c->uid = cr->uid.val;
	c->euid = cr->euid.val;
	c->gid = cr->gid.val;
	c->egid = cr->egid.val;
	c->auid = t->loginuid.val;
	/* two plain loads instead of a helper call (~25 ns a record); the
	 * kernel keeps comm NUL-padded to its 16 bytes, as the helper copies it */
	__builtin_memcpy(c->comm, t->comm, sizeof(c->comm));
}

static __always_inline void vg_fill_hdr(struct vg_hdr *h, __u16 type, __u16 hook)
{
	h->type = type;
	h->hook = hook;
	h->ts = bpf_ktime_get_boot_ns();
	h->ret = 0;
	vg_fill_task(&h->task);
}

/* Waking the consumer is an IPI (a VM exit under a hypervisor): microseconds,
 * more than building the record; one per record tripled the cost of a file
 * storm. A record wakes it only when this CPU has not woken it for
 * VG_WAKE_NS, so a lone event is delivered at once and a storm costs at most
 * 1/VG_WAKE_NS wakeups per CPU (no byte trigger: a consumer that is behind is
 * awake, and waking it per record is the storm this avoids). The rest of a
 * burst is read at the next wakeup or when the consumer's poll times out
 * (vigild polls with a VG_WAKE_NS timeout, so no record waits much longer);
 * 20 ms of records fit the ring many times. */
#define VG_WAKE_NS (20 * 1000000ULL)
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2); /* [0] any record's last wakeup, [1] an exec's */
	__type(key, __u32);
	__type(value, __u64);
} vg_wake SEC(".maps");

/* urgent: an exec, which active defense may have to kill within
 * milliseconds, wakes the consumer unless an exec on this CPU did so in the
 * last VG_WAKE_URGENT_NS (whatever other records did: the wakeup a fork
 * just made may have been consumed already). A wakeup per exec cost an
 * exec storm 4% (1.09x vs 1.05x); at most one per 5 ms per CPU keeps
 * exec-to-kill in single milliseconds. */
#define VG_WAKE_URGENT_NS (5 * 1000000ULL)
static __always_inline __u64 vg_wake_flags(bool urgent, __u64 now)
{
	__u32 zero = 0, one = 1;
	/* during a storm the consumer polls on a short timer and says until
	 * when (sensor_poll): a wakeup would only cost this CPU the IPI
	 * (here about 25 us each, a VM exit on both ends) */
	if (now < vg_cfg(VG_CFG_POLLING_UNTIL))
		return BPF_RB_NO_WAKEUP;
	__u64 *last = bpf_map_lookup_elem(&vg_wake, &zero);
	if (urgent) {
		__u64 *last_exec = bpf_map_lookup_elem(&vg_wake, &one);
		if (last_exec && now - *last_exec >= VG_WAKE_URGENT_NS) {
			*last_exec = now;
			if (last)
				*last = now;
			return BPF_RB_FORCE_WAKEUP;
		}
	}
	if (last && now - *last < VG_WAKE_NS)
		return BPF_RB_NO_WAKEUP;
	if (last)
		*last = now;
	return BPF_RB_FORCE_WAKEUP;
}

/* Starts a record of type T at the head of the scratch buffer: zeroed
 * fixed part and a filled header. */
#define VG_REC(s, T, type, hook)                                                                   \
	({                                                                                         \
		T *__r = (T *)(s)->buf;                                                            \
		__builtin_memset(__r, 0, sizeof(*__r));                                            \
		vg_fill_hdr(&__r->h, type, hook);                                                  \
		__r;                                                                               \
	})

static __always_inline void vg_emit(struct vg_scratch *s, __u32 size, __u32 hook)
{
	struct vg_hdr *h = (struct vg_hdr *)s->buf;
	size &= (VG_SCRATCH_SIZE - 1);
	if (size < sizeof(struct vg_hdr))
		return;
	h->size = size;
	/* the record's boot-clock timestamp doubles as the wakeup clock: one
	 * clock read per record */
	if (bpf_ringbuf_output(&vg_rb, s->buf, size, vg_wake_flags(h->type == VG_EV_EXEC, h->ts)))
		vg_count(hook, VG_CNT_RB_FULL);
	else
		vg_count(hook, VG_CNT_EMITTED);
}

/* Appends a kernel string at *cur; records it in *b. */
static __always_inline void vg_put_kstr(struct vg_scratch *s, __u32 *cur,
					struct vg_blob *b, const void *src, __u32 max)
{
	__u32 off = *cur;
	if (!src || off >= VG_DATA_MAX)
		return;
	long n = bpf_probe_read_kernel_str(&s->buf[vg_off(off)],
					   max & (VG_DATA_MAX - 1), src);
	if (n <= 0)
		return;
	b->off = off;
	b->len = n;
	*cur = off + n;
}

static __always_inline void vg_put_ustr(struct vg_scratch *s, __u32 *cur,
					struct vg_blob *b, const void *src, __u32 max)
{
	__u32 off = *cur;
	if (!src || off >= VG_DATA_MAX)
		return;
	long n = bpf_probe_read_user_str(&s->buf[vg_off(off)],
					 max & (VG_DATA_MAX - 1), src);
	if (n <= 0)
		return;
	b->off = off;
	b->len = n;
	*cur = off + n;
}

/* Appends user memory [src, src+len) (not a string), len already capped. */
static __always_inline long vg_put_ubytes(struct vg_scratch *s, __u32 *cur,
					  struct vg_blob *b, const void *src, __u32 len)
{
	__u32 off = *cur;
	if (!src || off >= VG_DATA_MAX || len == 0)
		return 0;
	len &= (VG_DATA_MAX - 1);
	if (len > VG_DATA_MAX - off)
		len = VG_DATA_MAX - off;
	if (len == 0)
		return 0;
	len &= (VG_DATA_MAX - 1);
	long err = bpf_probe_read_user(&s->buf[vg_off(off)], len, src);
	if (err)
		return err;
	b->off = off;
	b->len = len;
	*cur = off + len;
	return 0;
}

/* Kernels from 6.17 let bpf_rdonly_cast(p, 0) make any address readable as
 * bytes; the names are then copied with plain 8-byte loads. Local flavour of
 * the kernel's enum, so that this builds against an older vmlinux.h. */
enum bpf_features___vg {
	BPF_FEAT_RDONLY_CAST_TO_VOID___vg = 0,
};

/* Writes the absolute path of (dentry, vfsmount) at *cur: up the dentry
 * chain, crossing mounts, then the names from the root down. bpf_d_path is
 * not available from tracepoints. Paths deeper than VG_MAX_PATH_DEPTH keep
 * their last components after "...".
 *
 * Open-coded loops over plain loads: every create, exec and relative path
 * runs this, and on a host with return-thunk mitigations each call and
 * return is dear. The bpf_loop callbacks and the helper call per component
 * that this replaces cost a create record ~0.5 us. A global function, so
 * the verifier checks it once per program, not once per call site.
 * A name read while the dentry is renamed may be torn (as with any
 * lockless walk); its length stays bounded by VG_NAME_MAX. */
__noinline int vg_put_path(struct vg_scratch *s, __u32 *cur, struct vg_blob *b, __u64 dentry_addr,
			   __u64 vfsmnt_addr)
{
	__u32 zero = 0;
	struct vg_walk *w = bpf_map_lookup_elem(&vg_walk_map, &zero);
	if (!w || !s || !cur || !b || !dentry_addr)
		return 0;
	struct dentry *d = bpf_rdonly_cast((void *)dentry_addr, bpf_core_type_id_kernel(struct dentry));
	/* struct mount around the vfsmount: container_of on a number (a
	 * missing vfsmount reads as a mount whose root is never reached) */
	struct mount *mnt = bpf_rdonly_cast(
		(void *)(vfsmnt_addr - bpf_core_field_offset(struct mount, mnt)),
		bpf_core_type_id_kernel(struct mount));
	struct dentry *root = mnt->mnt.mnt_root;
	__u32 n = 0;
	bool whole = false; /* the walk reached a root */
#pragma clang loop unroll(disable)
	for (int i = 0; i < VG_MAX_PATH_DEPTH + 8; i++) {
		if (d == root) {
			struct mount *pm = mnt->mnt_parent;
			if (pm == mnt || !pm) {
				whole = true;
				break;
			}
			d = mnt->mnt_mountpoint;
			mnt = pm;
			root = pm->mnt.mnt_root;
			continue;
		}
		/* n of unknown value, for the same reason as off below */
		w->n = n;
		n = *(volatile __u32 *)&w->n;
		if (n >= VG_MAX_PATH_DEPTH)
			break;
		w->name[n] = (__u64)d->d_name.name;
		w->len[n] = d->d_name.len;
		n++;
		struct dentry *p = d->d_parent;
		if (p == d || !p) {
			whole = true;
			break; /* root of an internal mount (pipe:, socket:, memfd:) */
		}
		d = p;
	}
	/* through memory, so the loop below is checked once for any depth */
	w->n = n;
	n = *(volatile __u32 *)&w->n;

	__u32 start = *cur;
	if (start >= VG_DATA_MAX - 2)
		return 0;
	__u32 off = start;
	/* a path cut short says so (VG_PATH_CUT in src/event/event.h):
	 * ".../a/b", never a shorter absolute path that names another file */
	if (!whole) {
		s->buf[vg_off(off)] = '.';
		s->buf[vg_off(off + 1)] = '.';
		s->buf[vg_off(off + 2)] = '.';
		off += 3;
	}
	bool plain = bpf_core_enum_value_exists(enum bpf_features___vg,
						BPF_FEAT_RDONLY_CAST_TO_VOID___vg);
#pragma clang loop unroll(disable)
	for (int j = 0; j < VG_MAX_PATH_DEPTH; j++) {
		/* an offset of unknown value: each iteration would otherwise
		 * leave a different range, and the verifier would follow the
		 * ranges one by one past its budget */
		w->off = off;
		off = *(volatile __u32 *)&w->off;
		if (j >= n || off >= VG_DATA_MAX - VG_NAME_MAX - 2)
			break;
		__u32 k = (n - 1 - j) & (VG_MAX_PATH_DEPTH - 1);
		__u64 name = w->name[k];
		__u32 len = w->len[k] & (VG_NAME_MAX - 1);
		s->buf[vg_off(off)] = '/';
		off++;
		if (plain) {
			const __u64 *src = bpf_rdonly_cast((void *)name, 0);
			/* whole words: up to 7 bytes past the name land where
			 * the next component or the final NUL goes */
#pragma clang loop unroll(disable)
			for (__u32 q = 0; q < VG_NAME_MAX / 8; q++) {
				if (q * 8 >= len)
					break;
				/* one 8-byte store (x86 and arm64 take it unaligned),
				 * not the eight byte stores clang would make */
				*(__u64 *)__builtin_assume_aligned(&s->buf[vg_off(off + q * 8)], 8) =
					src[q];
			}
			/* read again: the exit test narrowed len differently on
			 * each way out of the loop, and the verifier would follow
			 * every one of them to the end of the path */
			len = *(volatile __u32 *)&w->len[k] & (VG_NAME_MAX - 1);
		} else {
			long r = bpf_probe_read_kernel_str(&s->buf[vg_off(off)], len + 1,
							   (const void *)name);
			if (r < 1)
				r = 1;
			len = (r - 1) & (VG_NAME_MAX - 1);
		}
		/* an internal mount's root is named "/": do not double the slash */
		if (len == 1 && s->buf[vg_off(off)] == '/')
			len = 0;
		off += len;
	}
	if (off == start) {
		s->buf[vg_off(off)] = '/';
		off++;
	}
	s->buf[vg_off(off)] = 0;
	off++;
	b->off = start;
	b->len = off - start;
	*cur = off;
	return 0;
}

/* The path of a file (struct file *, read by address). */
static __always_inline void vg_put_file_path(struct vg_scratch *s, __u32 *cur,
					     struct vg_blob *b, struct file *f)
{
	if (!f)
		return;
	/* copied, not loaded: vg_put_path, a global function, takes numbers */
	struct path p = {};
	bpf_core_read(&p, sizeof(p), &f->f_path);
	vg_put_path(s, cur, b, (__u64)p.dentry, (__u64)p.mnt);
}

/* The struct file open on fd in task t (t typed by BTF), as a typed
 * pointer: plain loads where BPF_CORE_READ would make a helper call per
 * field (an exec record reads three fds, and every open one). */
static __always_inline struct file *vg_fd_file(struct task_struct *t, long fd)
{
	if (fd < 0)
		return 0;
	struct fdtable *fdt = t->files->fdt;
	if ((unsigned long)fd >= fdt->max_fds)
		return 0;
	/* fdt->fd is a pointer to pointers: BTF gives it no type to load through */
	struct file *f = 0;
	bpf_probe_read_kernel(&f, sizeof(f), &fdt->fd[fd]);
	if (!f)
		return 0;
	return bpf_rdonly_cast(f, bpf_core_type_id_kernel(struct file));
}

static __always_inline void vg_put_cwd(struct vg_scratch *s, __u32 *cur, struct vg_blob *b)
{
	struct path p = {};
	bpf_core_read(&p, sizeof(p), &vg_task()->fs->pwd);
	vg_put_path(s, cur, b, (__u64)p.dentry, (__u64)p.mnt);
}

/* Base directory for a relative path argument: cwd for AT_FDCWD, else the
 * directory open on dirfd. Nothing when the path is absolute. */
static __always_inline void vg_put_base(struct vg_scratch *s, __u32 *cur, struct vg_path *p,
					int dirfd)
{
	if (p->path.len == 0)
		return;
	if (s->buf[vg_off(p->path.off)] == '/')
		return;
	if (dirfd == -100 /* AT_FDCWD */) {
		vg_put_cwd(s, cur, &p->base);
		return;
	}
	struct file *f = vg_fd_file(vg_task(), dirfd);
	vg_put_file_path(s, cur, &p->base, f);
}

/* Fills a vg_sock from a struct sock. */
static __always_inline void vg_fill_sock(struct vg_sock *o, struct sock *sk)
{
	if (!sk)
		return;
	o->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	o->type = BPF_CORE_READ(sk, sk_type);
	o->protocol = BPF_CORE_READ(sk, sk_protocol);
	o->state = BPF_CORE_READ(sk, __sk_common.skc_state);
	o->local.family = o->family;
	o->remote.family = o->family;
	o->local.port = BPF_CORE_READ(sk, __sk_common.skc_num);
	o->remote.port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (o->family == AF_INET) {
		__u32 a = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		__builtin_memcpy(o->local.addr, &a, 4);
		a = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		__builtin_memcpy(o->remote.addr, &a, 4);
	} else if (o->family == AF_INET6) {
		BPF_CORE_READ_INTO(&o->local.addr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&o->remote.addr, sk, __sk_common.skc_v6_daddr);
	}
}

static __always_inline struct sock *vg_file_sock(struct file *f)
{
	if (!f)
		return 0;
	umode_t mode = BPF_CORE_READ(f, f_inode, i_mode);
	if ((mode & S_IFMT) != S_IFSOCK)
		return 0;
	struct socket *so = BPF_CORE_READ(f, private_data);
	return BPF_CORE_READ(so, sk);
}

/* Reads a user sockaddr (IPv4/IPv6/unix family only). */
static __always_inline void vg_read_sockaddr(struct vg_sockaddr *o, const void *uaddr, int len)
{
	__u16 fam = 0;
	if (!uaddr || len < 2)
		return;
	bpf_probe_read_user(&fam, sizeof(fam), uaddr);
	o->family = fam;
	if (fam == AF_INET && len >= 8) {
		struct sockaddr_in in = {};
		bpf_probe_read_user(&in, sizeof(in), uaddr);
		o->port = bpf_ntohs(in.sin_port);
		__builtin_memcpy(o->addr, &in.sin_addr.s_addr, 4);
	} else if (fam == AF_INET6 && len >= 24) {
		struct sockaddr_in6 in6 = {};
		bpf_probe_read_user(&in6, sizeof(in6), uaddr);
		o->port = bpf_ntohs(in6.sin6_port);
		__builtin_memcpy(o->addr, &in6.sin6_addr, 16);
	}
}

/* Prefix filter on a path already in the scratch buffer. */
static __always_inline bool vg_path_in(void *trie, struct vg_scratch *s, struct vg_blob *b)
{
	struct vg_prefix_key k = {};
	if (b->len < 2)
		return false;
	__u32 n = b->len - 1;
	if (n > VG_PREFIX_MAX)
		n = VG_PREFIX_MAX;
	bpf_probe_read_kernel(k.data, sizeof(k.data), &s->buf[vg_off(b->off)]);
	k.prefixlen = n * 8;
	return bpf_map_lookup_elem(trie, &k) != 0;
}

/* A 32-bit syscall (a compat task, or int $0x80 from 64-bit code), whose
 * numbers are another table: the raw sys_exit dispatcher indexes its
 * programs by 64-bit number, and the program it reaches checks this
 * (the dispatcher itself runs after every syscall of the host and would
 * pay the task lookup for all of them). */
#if defined(__TARGET_ARCH_x86)
#define VG_TS_COMPAT 0x0002
static __always_inline bool vg_compat_syscall(void)
{
	return bpf_get_current_task_btf()->thread_info.status & VG_TS_COMPAT;
}
#else
static __always_inline bool vg_compat_syscall(void)
{
	return false;
}
#endif

/* The exit handler NAME: a body that sees the syscall's return value as
 * `ret`. It is listed in bpf/exits.h, and its object's exit programs
 * (VG_EXIT_PROGRAMS) run it. One left out of the list is an unused
 * function, which the BPF build (-Wall -Werror, unused functions not
 * exempted) refuses. */
#define VG_SYS_EXIT(name) static __always_inline int name##_body(long ret)

/* An object's two exit programs, which run the handlers of LIST
 * (bpf/exits.h) by syscall number; the loader uses one of them.
 *   - RAW_NAME: the raw sys_exit dispatcher (vg_module_fallback) tail-calls
 *     it, through vg_exit_progs, for each syscall whose handler the loader
 *     enabled. A syscall then pays one BPF program at exit and no perf
 *     syscall probe; the probe alone (registered as soon as any sys_exit_*
 *     tracepoint program is attached) cost every syscall on the host about
 *     70 ns here. 32-bit syscalls are numbered differently and left alone
 *     (vg_compat_syscall).
 *   - TP_NAME: attached to each enabled handler's syscalls/sys_exit_*
 *     tracepoint, with the handler's number as the BPF cookie (a name, not
 *     the syscall's number on this architecture). */
#if defined(__TARGET_ARCH_x86)
#define VG_REGS_NR(regs) ((regs)->orig_ax)
#else
#define VG_REGS_NR(regs) (-1L) /* never dispatched: bpf/exits.h has x86-64 numbers */
#endif
#define VG_EXIT_CASE(name, syscall, nr, hook)                                                      \
	case nr:                                                                                   \
		return name##_body(ret);
#define VG_EXIT_PROGRAMS(RAW_NAME, TP_NAME, LIST)                                                  \
	SEC("tp_btf/sys_exit")                                                                     \
	int BPF_PROG(RAW_NAME, struct pt_regs *regs, long ret)                                     \
	{                                                                                          \
		if (vg_compat_syscall())                                                           \
			return 0;                                                                  \
		switch (VG_REGS_NR(regs)) {                                                        \
			LIST(VG_EXIT_CASE)                                                         \
		}                                                                                  \
		return 0;                                                                          \
	}                                                                                          \
	SEC("tracepoint")                                                                          \
	int TP_NAME(struct trace_event_raw_sys_exit *ctx)                                          \
	{                                                                                          \
		long ret = ctx->ret;                                                               \
		switch (bpf_get_attach_cookie(ctx)) {                                              \
			LIST(VG_EXIT_CASE)                                                         \
		}                                                                                  \
		return 0;                                                                          \
	}

/* Per-thread state carried from sys_enter to sys_exit. */
struct vg_args {
	__u64 a[6];
	__u64 ts;
};
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64); /* pid_tgid << 0 | hook in the top bits */
	__type(value, struct vg_args);
} vg_inflight SEC(".maps");

static __always_inline __u64 vg_inflight_key(__u32 hook)
{
	return (bpf_get_current_pid_tgid() & 0xffffffffULL) | ((__u64)hook << 32);
}

/* Saves the first n arguments. Reading past a syscall's own arguments
 * makes attaching fail with EACCES (the context is smaller), so n must be
 * the syscall's argument count or less, and a constant. */
static __always_inline void vg_save_args(__u32 hook, struct trace_event_raw_sys_enter *ctx, int n)
{
	struct vg_args a = {};
	__u64 key = vg_inflight_key(hook);
	/* unrolled: the verifier refuses ctx accesses through a moved pointer */
	a.a[0] = ctx->args[0];
	if (n > 1)
		a.a[1] = ctx->args[1];
	if (n > 2)
		a.a[2] = ctx->args[2];
	if (n > 3)
		a.a[3] = ctx->args[3];
	if (n > 4)
		a.a[4] = ctx->args[4];
	if (n > 5)
		a.a[5] = ctx->args[5];
	bpf_map_update_elem(&vg_inflight, &key, &a, BPF_ANY);
}

/* Returns and removes the saved arguments, or NULL. The copy lives in the
 * caller's buffer because the map element is freed. */
static __always_inline bool vg_take_args(__u32 hook, struct vg_args *out)
{
	__u64 key = vg_inflight_key(hook);
	struct vg_args *a = bpf_map_lookup_elem(&vg_inflight, &key);
	if (!a)
		return false;
	__builtin_memcpy(out, a, sizeof(*out));
	bpf_map_delete_elem(&vg_inflight, &key);
	return true;
}

#endif
