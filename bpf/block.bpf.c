// SPDX-License-Identifier: GPL-2.0
/* The fallback of `vigil block` when fanotify cannot be used: kill at exec.
 * sched_process_exec fires after the new image is loaded and before the
 * task returns to user space, so a SIGKILL sent here lands before the first
 * user instruction of the blocked program runs.
 *
 * What it cannot do: it judges by inode only. A path block covers the inode
 * at that path when user space last looked; a hash block covers only files
 * user space has already hashed (its scan of the usual directories), so the
 * first exec of a file with a blocked hash that was never seen still runs.
 * The fanotify mode has neither gap.
 *
 * Not built on common.bpf.h: that header declares the sensor's shared maps
 * (a 16 MiB ring buffer among them), which this object has no use for. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "GPL";

#define SIGKILL 9

struct vg_block_key {
	__u64 ino;
	__u32 dev; /* kernel s_dev encoding (major << 20 | minor) */
	__u32 pad;
};

/* value: how many execs of this inode were killed */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct vg_block_key);
	__type(value, __u64);
} vg_block_inodes SEC(".maps");

SEC("tp_btf/sched_process_exec")
int BPF_PROG(vg_block_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct inode *ino = BPF_CORE_READ(bprm, file, f_inode);
	struct vg_block_key k = {
		.ino = BPF_CORE_READ(ino, i_ino),
		.dev = BPF_CORE_READ(ino, i_sb, s_dev),
	};
	__u64 *kills = bpf_map_lookup_elem(&vg_block_inodes, &k);
	if (!kills)
		return 0;
	__sync_fetch_and_add(kills, 1);
	bpf_send_signal(SIGKILL);
	return 0;
}
