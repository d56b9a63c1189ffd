/* The syscall exit handlers (VG_SYS_EXIT in common.bpf.h), one list per BPF
 * object: X(program, x86-64 syscall number, hook). The one list feeds both
 * sides, so the numbers cannot drift apart:
 *   - BPF: each object's raw exit program (VG_RAW_EXITS), which the raw
 *     sys_exit dispatcher tail-calls by syscall number, switches on the
 *     number to the handler's body;
 *   - the loader (src/sensor/hooks.c): the table row of each handler's
 *     tracepoint program names the slot of vg_exit_progs it takes under
 *     dispatch.
 * One raw program per object instead of one per syscall: each BPF program
 * is verified with its own copy of the shared path walk (vg_put_path), about
 * 40 ms apiece here, and thirty of them were most of vigild's startup.
 * Plain macros only: included from both sides, after records.h. */
#ifndef VIGIL_BPF_EXITS_H
#define VIGIL_BPF_EXITS_H

#define VG_PROCESS_EXITS(X)                               \
	X(vg_execve_exit, 59, VG_HOOK_EXEC_FAIL)          \
	X(vg_setsid_exit, 112, VG_HOOK_SETSID)            \
	X(vg_memfd_exit, 319, VG_HOOK_MEMFD)              \
	X(vg_execveat_exit, 322, VG_HOOK_EXEC_FAIL)

#define VG_FILE_EXITS(X)                                  \
	X(vg_open_exit, 2, VG_HOOK_OPEN)                  \
	X(vg_truncate_exit, 76, VG_HOOK_TRUNCATE)         \
	X(vg_ftruncate_exit, 77, VG_HOOK_TRUNCATE)        \
	X(vg_rename_exit, 82, VG_HOOK_RENAME)             \
	X(vg_rmdir_exit, 84, VG_HOOK_UNLINK)              \
	X(vg_creat_exit, 85, VG_HOOK_OPEN)                \
	X(vg_link_exit, 86, VG_HOOK_LINK)                 \
	X(vg_unlink_exit, 87, VG_HOOK_UNLINK)             \
	X(vg_symlink_exit, 88, VG_HOOK_LINK)              \
	X(vg_chmod_exit, 90, VG_HOOK_CHMOD)               \
	X(vg_fchmod_exit, 91, VG_HOOK_CHMOD)              \
	X(vg_chown_exit, 92, VG_HOOK_CHOWN)               \
	X(vg_fchown_exit, 93, VG_HOOK_CHOWN)              \
	X(vg_lchown_exit, 94, VG_HOOK_CHOWN)              \
	X(vg_utime_exit, 132, VG_HOOK_UTIMES)             \
	X(vg_utimes_exit, 235, VG_HOOK_UTIMES)            \
	X(vg_openat_exit, 257, VG_HOOK_OPEN)              \
	X(vg_fchownat_exit, 260, VG_HOOK_CHOWN)           \
	X(vg_futimesat_exit, 261, VG_HOOK_UTIMES)         \
	X(vg_unlinkat_exit, 263, VG_HOOK_UNLINK)          \
	X(vg_renameat_exit, 264, VG_HOOK_RENAME)          \
	X(vg_linkat_exit, 265, VG_HOOK_LINK)              \
	X(vg_symlinkat_exit, 266, VG_HOOK_LINK)           \
	X(vg_fchmodat_exit, 268, VG_HOOK_CHMOD)           \
	X(vg_utimensat_exit, 280, VG_HOOK_UTIMES)         \
	X(vg_renameat2_exit, 316, VG_HOOK_RENAME)         \
	X(vg_openat2_exit, 437, VG_HOOK_OPEN)             \
	X(vg_fchmodat2_exit, 452, VG_HOOK_CHMOD)

#define VG_NET_EXITS(X)                                   \
	X(vg_socket_exit, 41, VG_HOOK_SOCKET)             \
	X(vg_connect_exit, 42, VG_HOOK_CONNECT)           \
	X(vg_accept_exit, 43, VG_HOOK_ACCEPT)             \
	X(vg_bind_exit, 49, VG_HOOK_BIND)                 \
	X(vg_listen_exit, 50, VG_HOOK_LISTEN)             \
	X(vg_accept4_exit, 288, VG_HOOK_ACCEPT)

#define VG_PRIV_EXITS(X)                                  \
	X(vg_ptrace_exit, 101, VG_HOOK_PTRACE)            \
	X(vg_setuid_exit, 105, VG_HOOK_CREDS)             \
	X(vg_setgid_exit, 106, VG_HOOK_CREDS)             \
	X(vg_setreuid_exit, 113, VG_HOOK_CREDS)           \
	X(vg_setregid_exit, 114, VG_HOOK_CREDS)           \
	X(vg_setresuid_exit, 117, VG_HOOK_CREDS)          \
	X(vg_setresgid_exit, 119, VG_HOOK_CREDS)          \
	X(vg_setfsuid_exit, 122, VG_HOOK_CREDS)           \
	X(vg_setfsgid_exit, 123, VG_HOOK_CREDS)           \
	X(vg_capset_exit, 126, VG_HOOK_CREDS)             \
	X(vg_mount_exit, 165, VG_HOOK_MOUNT)              \
	X(vg_umount_exit, 166, VG_HOOK_MOUNT)             \
	X(vg_bpf_exit, 321, VG_HOOK_BPF)                  \
	X(vg_move_mount_exit, 429, VG_HOOK_MOUNT)

#endif
