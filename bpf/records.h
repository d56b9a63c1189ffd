/* Record layouts shared by the eBPF programs (bpf/ *.bpf.c files) and the decoder
 * (src/sensor/decode.c). Every record starts with struct vg_hdr; strings and
 * blobs live in a data area after the fixed part and are referenced by
 * struct vg_blob (offset from the start of the record, length in bytes).
 * Keep this file free of kernel or libc headers: it is included from both
 * sides, after the side's own integer types are defined. */
#ifndef VIGIL_BPF_RECORDS_H
#define VIGIL_BPF_RECORDS_H

#define VG_COMM_LEN 16
#define VG_TTY_LEN 16
#define VG_NODENAME_LEN 65
#define VG_MAX_PATH_DEPTH 32
#define VG_SCRATCH_SIZE (1 << 16)       /* per-CPU record buffer */
#define VG_DATA_MAX (VG_SCRATCH_SIZE / 2) /* bound for one blob copy */
#define VG_NAME_MAX 256
#define VG_DNS_PAYLOAD 256
#define VG_PREFIX_MAX 128               /* longest filtered path prefix */
#define VG_WATCH_NAME_MAX 32           /* a watched file name and its NUL */

/* Sensitive inodes are also marked in a bit array (VG_SENS_BLOOM_WORDS
 * 64-bit words, one bit per inode by this hash), so the open of an
 * ordinary file, the hottest syscall there is, costs an array load instead
 * of a hash map look-up. Bits are only ever set while vigild runs: a stale
 * bit costs a look-up, never a missed read. */
#define VG_SENS_BLOOM_WORDS 1024
static inline __u64 vg_sens_hash(__u64 ino, __u32 dev)
{
	return (ino ^ ((__u64)dev << 40)) * 0x9E3779B97F4A7C15ULL;
}
#define VG_SENS_WORD(h) ((__u32)((h) >> 54))       /* top 10 bits: < VG_SENS_BLOOM_WORDS */
#define VG_SENS_BIT(h) (1ULL << (((h) >> 48) & 63))
#define VG_EXIT_PROGS 512               /* vg_exit_progs: x86-64 syscall numbers */

/* One id per hook point: the unit of drop accounting, rate caps and
 * enable/disable. Keep vg_hook_names (src/sensor/hooks.c) in step. */
enum vg_hook {
	VG_HOOK_EXEC = 0,
	VG_HOOK_EXEC_FAIL,
	VG_HOOK_FORK,
	VG_HOOK_EXIT,
	VG_HOOK_SETSID,
	VG_HOOK_RENAME_COMM,
	VG_HOOK_MEMFD,
	VG_HOOK_OPEN,
	VG_HOOK_RENAME,
	VG_HOOK_UNLINK,
	VG_HOOK_CHMOD,
	VG_HOOK_CHOWN,
	VG_HOOK_LINK,
	VG_HOOK_TRUNCATE,
	VG_HOOK_UTIMES,
	VG_HOOK_CONNECT,
	VG_HOOK_ACCEPT,
	VG_HOOK_BIND,
	VG_HOOK_LISTEN,
	VG_HOOK_DNS,
	VG_HOOK_SOCKET,
	VG_HOOK_CREDS,
	VG_HOOK_PTRACE,
	VG_HOOK_MODULE,
	VG_HOOK_MOUNT,
	VG_HOOK_BPF,
	VG_HOOK_SIGNAL,
	VG_HOOK_ATTR,
	VG_HOOK_MAX
};

/* Record types. A hook may produce several types (open: create, write,
 * sensitive read). */
enum vg_type {
	VG_EV_EXEC = 1,
	VG_EV_EXEC_FAIL,
	VG_EV_FORK,
	VG_EV_EXIT,
	VG_EV_SETSID,
	VG_EV_COMM,
	VG_EV_MEMFD,
	VG_EV_FILE_CREATE,
	VG_EV_FILE_WRITE,
	VG_EV_FILE_READ_SENSITIVE,
	VG_EV_FILE_RENAME,
	VG_EV_FILE_UNLINK,
	VG_EV_FILE_CHMOD,
	VG_EV_FILE_CHOWN,
	VG_EV_FILE_LINK,
	VG_EV_FILE_SYMLINK,
	VG_EV_FILE_TRUNCATE,
	VG_EV_FILE_UTIMES,
	VG_EV_NET_CONNECT,
	VG_EV_NET_ACCEPT,
	VG_EV_NET_BIND,
	VG_EV_NET_LISTEN,
	VG_EV_NET_DNS,
	VG_EV_NET_SOCKET,
	VG_EV_CRED_CHANGE,
	VG_EV_PTRACE,
	VG_EV_MODULE_LOAD,
	VG_EV_MODULE_UNLOAD,
	VG_EV_MOUNT,
	VG_EV_UMOUNT,
	VG_EV_BPF_LOAD,
	VG_EV_SIGNAL,
	VG_EV_FILE_XATTR_SET,
	VG_EV_FILE_XATTR_REMOVE,
	VG_EV_FILE_FLAGS,
	VG_EV_TYPE_MAX
};

/* Per-hook counters, summed over CPUs by user space. */
enum vg_counter {
	VG_CNT_EMITTED = 0,
	VG_CNT_RB_FULL,      /* ring buffer had no room: the record is lost */
	VG_CNT_RATE_LIMITED, /* over the per-hook rate cap: the record is lost */
	VG_CNT_FILTERED,     /* matched an ignore filter on purpose */
	VG_CNT_MAX
};

/* Keys of the config array map (values are u64). */
enum vg_config {
	VG_CFG_SELF_TGID = 0,   /* vigild's own tgid: never reported */
	VG_CFG_ARGV_MAX,        /* argv bytes copied on exec */
	VG_CFG_ENV_MAX,         /* environment bytes copied on exec */
	VG_CFG_FILTERS_ON,      /* bit 0 exe inode, 1 cgroup, 2 path prefix */
	VG_CFG_POLLING_UNTIL,   /* boot ns: the consumer polls on a timer until then */
	VG_CFG_MAX
};

#define VG_FILTER_EXE    (1u << 0)
#define VG_FILTER_CGROUP (1u << 1)
#define VG_FILTER_PATH   (1u << 2)

struct vg_blob {
	__u16 off;
	__u16 len; /* bytes, including the terminating NUL for strings */
};

struct vg_task_ctx {
	__u64 start_ns;   /* group leader start, boot-based clock */
	__u64 cgroup_id;
	__u32 pid;        /* tgid, as seen from the initial pid namespace */
	__u32 tid;
	__u32 ppid;
	__u32 pgid;
	__u32 sid;
	__u32 ns_pid;     /* pid inside its own pid namespace */
	__u32 uid, euid, gid, egid;
	__u32 auid;       /* loginuid, (u32)-1 when unset */
	__u32 pidns, mntns;
	char comm[VG_COMM_LEN];
};

struct vg_hdr {
	__u16 type;
	__u16 hook;
	__u32 size;       /* whole record, header included */
	__u64 ts;         /* bpf_ktime_get_boot_ns() */
	__s64 ret;        /* syscall result where there is one, else 0 */
	struct vg_task_ctx task;
};

/* A path resolved in the kernel (dentry walk) or copied from user space,
 * plus a base directory (cwd or dirfd) to join it with when relative. */
struct vg_path {
	struct vg_blob path;
	struct vg_blob base;   /* empty when path is absolute or fully resolved */
};

/* What one of fds 0-2 refers to at exec. */
enum vg_fd_kind {
	VG_FD_NONE = 0, VG_FD_TTY, VG_FD_CHR, VG_FD_PIPE, VG_FD_FILE,
	VG_FD_SOCKET, VG_FD_OTHER
};

struct vg_sockaddr {
	__u16 family;      /* AF_INET, AF_INET6, AF_UNIX, 0 */
	__u16 port;        /* host order */
	__u8 addr[16];     /* IPv4 in the first 4 bytes */
};

struct vg_sock {
	__u16 family;
	__u16 type;        /* SOCK_STREAM, SOCK_DGRAM, ... */
	__u16 protocol;
	__u16 state;
	struct vg_sockaddr local;
	struct vg_sockaddr remote;
};

struct vg_fdinfo {
	__u32 kind;        /* enum vg_fd_kind */
	__u32 ino;         /* pipes and FIFOs: the inode, which names the pipe (pipefs numbers are 32-bit) */
	struct vg_sock sock;   /* when kind == VG_FD_SOCKET */
	struct vg_blob path;   /* tty / file / chr path */
};

#define VG_EXE_MEMFD    (1u << 0)
#define VG_EXE_TMPFS    (1u << 1)
#define VG_EXE_DELETED  (1u << 2)
#define VG_ARGV_TRUNC   (1u << 3)
#define VG_ENV_TRUNC    (1u << 4)
#define VG_EXECVEAT     (1u << 5)

struct vg_exec {
	struct vg_hdr h;
	__u32 flags;
	__u32 exe_nlink;
	__u64 exe_ino;
	__u32 exe_dev;
	__u32 exe_mode;
	__u64 exe_size;
	__u64 exe_mtime_ns;
	__u64 exe_sb_magic;
	__u32 old_pid;       /* pid before exec when a thread exec'd */
	__u32 exe_uid;
	struct vg_blob filename;  /* as passed to execve (bprm->filename) */
	struct vg_blob interp;    /* bprm->interp when it differs (scripts) */
	struct vg_blob exe;       /* absolute path of the executed file */
	struct vg_blob argv;      /* NUL-separated */
	struct vg_blob env;       /* NUL-separated, capped */
	struct vg_blob cwd;
	struct vg_blob tty;
	struct vg_blob nodename;
	struct vg_fdinfo fd[3];
};

struct vg_exec_fail {
	struct vg_hdr h;
	struct vg_blob filename;
};

struct vg_fork {
	struct vg_hdr h;          /* task = parent */
	__u32 child_pid;
	__u32 flags;
	__u64 child_start_ns;
};

struct vg_exit {
	struct vg_hdr h;
	__u32 exit_code;          /* raw wait status: (code << 8) | signal */
	__u32 pad;
};

struct vg_comm {
	struct vg_hdr h;
	char old_comm[VG_COMM_LEN];
	char new_comm[VG_COMM_LEN];
	__u32 target_pid;         /* process renamed (may differ via /proc/PID/comm) */
	__u32 pad;
};

struct vg_memfd {
	struct vg_hdr h;
	__u32 flags;
	__u32 pad;
	struct vg_blob name;
};

#define VG_OPEN_CREATED   (1u << 0)
#define VG_OPEN_TRUNC     (1u << 1)
#define VG_OPEN_WRITE     (1u << 2)
#define VG_OPEN_SENSITIVE (1u << 3)

/* create / write / sensitive read / truncate / utimes / chmod / chown /
 * unlink: one path. */
struct vg_file {
	struct vg_hdr h;
	__u32 flags;         /* VG_OPEN_* for opens; AT_* for others */
	__u32 open_flags;
	__u32 mode;          /* new mode (chmod, create) */
	__u32 old_mode;      /* (u32)-1 when unknown */
	__u32 uid, gid;      /* chown */
	__u64 ino;
	__u32 dev;
	__u32 pad;
	__s64 atime_ns, mtime_ns;   /* utimes: -1 now, -2 omit */
	struct vg_path target;
};

/* rename / link / symlink: two paths. */
struct vg_file2 {
	struct vg_hdr h;
	__u32 flags;
	__u32 pad;
	struct vg_path src;   /* symlink: the link's content, verbatim */
	struct vg_path dst;
};

/* Extended attributes that grant or carry security: file capabilities
 * (security.capability), ACLs (system.posix_acl_*), security labels.
 * user.* and trusted.* are not recorded. */
#define VG_XATTR_VALUE_MAX 64   /* value bytes kept: a v3 capability is 24 */
#define VG_XATTR_BY_FD (1u << 30)  /* fsetxattr/fremovexattr: target is an fd */
struct vg_xattr {
	struct vg_hdr h;
	__u32 flags;          /* XATTR_CREATE/REPLACE (set); AT_* (the *at calls) */
	__u32 size;           /* value size as passed */
	__u64 ino;
	__u32 dev;
	__u32 pad;
	struct vg_path target;
	struct vg_blob name;
	struct vg_blob value; /* first VG_XATTR_VALUE_MAX bytes */
};

/* Inode flags set through ioctl: FS_IOC_SETFLAGS (chattr) or
 * FS_IOC_FSSETXATTR (xfs_io chattr). */
#define VG_FLAGS_FSXATTR 1    /* vg_fsflags.how: flags are fsx_xflags */
struct vg_fsflags {
	struct vg_hdr h;
	__u32 how;            /* 0 FS_IOC_SETFLAGS, VG_FLAGS_FSXATTR */
	__u32 flags;          /* as requested */
	__u64 ino;
	__u32 dev;
	__u32 pad;
	struct vg_path target;
};

struct vg_net {
	struct vg_hdr h;
	__u32 fd;
	__u32 backlog;        /* listen */
	struct vg_sock sock;  /* local/remote as known after the call */
	struct vg_sockaddr addr; /* address argument (connect/bind/sendto) */
};

struct vg_dns {
	struct vg_hdr h;
	struct vg_sock sock;
	__u32 len;            /* bytes of payload captured */
	__u32 pad;
	__u8 payload[VG_DNS_PAYLOAD];
};

struct vg_socket {
	struct vg_hdr h;
	__u32 family, type, protocol;
	__u32 pad;
};

struct vg_creds {
	struct vg_hdr h;
	__u32 syscall;        /* which setter: see src/sensor/decode.c */
	__u32 old_uid, old_euid, old_suid, old_fsuid;
	__u32 old_gid, old_egid, old_sgid, old_fsgid;
	__u32 new_uid, new_euid, new_suid, new_fsuid;
	__u32 new_gid, new_egid, new_sgid, new_fsgid;
	__u32 pad;
	__u64 old_cap_eff, new_cap_eff;
	__u64 old_cap_prm, new_cap_prm;
};

/* vg_ptrace.request of process_vm_writev/readv calls: outside ptrace's numbers */
#define VG_PTRACE_VM_WRITEV 0x10000
#define VG_PTRACE_VM_READV 0x10001
struct vg_ptrace {
	struct vg_hdr h;
	__s64 request;
	__u32 target_pid;
	__u32 pad;
	__u64 addr;
};

struct vg_module {
	struct vg_hdr h;
	__u32 syscall;        /* 0 init_module, 1 finit_module, 2 delete_module */
	__u32 flags;
	__u64 len;            /* init_module image length */
	struct vg_blob name;  /* delete_module name / finit_module file path */
	struct vg_blob args;  /* module parameters */
};

struct vg_mount {
	struct vg_hdr h;
	__u64 flags;
	struct vg_blob source;
	struct vg_path target;
	struct vg_blob fstype;
};

struct vg_bpf {
	struct vg_hdr h;
	__u32 cmd;
	__u32 prog_type;
	__u32 insn_cnt;
	__u32 pad;
	char prog_name[16];
};

struct vg_signal {
	struct vg_hdr h;
	__u32 sig;
	__u32 target_pid;
	__s32 code;           /* si_code: SI_USER, SI_TKILL, ... */
	__s32 result;         /* TRACE_SIGNAL_* */
	char target_comm[VG_COMM_LEN];
};

#endif
