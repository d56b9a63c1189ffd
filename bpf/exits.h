/* The syscall exit handlers (VG_SYS_EXIT in common.bpf.h), one list per BPF
 * object: X(handler, syscall, x86-64 syscall number, hook). The one list
 * feeds both sides, so they cannot drift apart:
 *   - BPF (VG_EXIT_PROGRAMS): each object has two programs that run its
 *     handlers, switching on the number: a raw one, which the raw sys_exit
 *     dispatcher tail-calls from the syscall's slot of vg_exit_progs, and a
 *     tracepoint one, attached to each handler's syscalls/sys_exit_<syscall>
 *     with the number as its BPF cookie;
 *   - the loader (src/sensor/hooks.c, sensor.c): which handlers to enable,
 *     where to attach them or which slots to fill.
 * Two programs per object instead of one per syscall: each BPF program is
 * verified with its own copy of the shared path walk (vg_put_path), about
 * 40 ms apiece here, and thirty of them were most of vigild's startup.
 * Plain macros only: included from both sides, after records.h. */
#ifndef VIGIL_BPF_EXITS_H
#define VIGIL_BPF_EXITS_H

#define VG_PROCESS_EXITS(X)                                     \
	X(vg_execve_exit, execve, 59, VG_HOOK_EXEC_FAIL)        \
	X(vg_setsid_exit, setsid, 112, VG_HOOK_SETSID)          \
	X(vg_memfd_exit, memfd_create, 319, VG_HOOK_MEMFD)      \
	X(vg_execveat_exit, execveat, 322, VG_HOOK_EXEC_FAIL)

#define VG_FILE_EXITS(X)                                        \
	X(vg_open_exit, open, 2, VG_HOOK_OPEN)                  \
	X(vg_ioctl_exit, ioctl, 16, VG_HOOK_ATTR)               \
	X(vg_truncate_exit, truncate, 76, VG_HOOK_TRUNCATE)     \
	X(vg_ftruncate_exit, ftruncate, 77, VG_HOOK_TRUNCATE)   \
	X(vg_rename_exit, rename, 82, VG_HOOK_RENAME)           \
	X(vg_rmdir_exit, rmdir, 84, VG_HOOK_UNLINK)             \
	X(vg_creat_exit, creat, 85, VG_HOOK_OPEN)               \
	X(vg_link_exit, link, 86, VG_HOOK_LINK)                 \
	X(vg_unlink_exit, unlink, 87, VG_HOOK_UNLINK)           \
	X(vg_symlink_exit, symlink, 88, VG_HOOK_LINK)           \
	X(vg_chmod_exit, chmod, 90, VG_HOOK_CHMOD)              \
	X(vg_fchmod_exit, fchmod, 91, VG_HOOK_CHMOD)            \
	X(vg_chown_exit, chown, 92, VG_HOOK_CHOWN)              \
	X(vg_fchown_exit, fchown, 93, VG_HOOK_CHOWN)            \
	X(vg_lchown_exit, lchown, 94, VG_HOOK_CHOWN)            \
	X(vg_utime_exit, utime, 132, VG_HOOK_UTIMES)            \
	X(vg_setxattr_exit, setxattr, 188, VG_HOOK_ATTR)        \
	X(vg_lsetxattr_exit, lsetxattr, 189, VG_HOOK_ATTR)      \
	X(vg_fsetxattr_exit, fsetxattr, 190, VG_HOOK_ATTR)      \
	X(vg_removexattr_exit, removexattr, 197, VG_HOOK_ATTR)  \
	X(vg_lremovexattr_exit, lremovexattr, 198, VG_HOOK_ATTR) \
	X(vg_fremovexattr_exit, fremovexattr, 199, VG_HOOK_ATTR) \
	X(vg_utimes_exit, utimes, 235, VG_HOOK_UTIMES)          \
	X(vg_openat_exit, openat, 257, VG_HOOK_OPEN)            \
	X(vg_fchownat_exit, fchownat, 260, VG_HOOK_CHOWN)       \
	X(vg_futimesat_exit, futimesat, 261, VG_HOOK_UTIMES)    \
	X(vg_unlinkat_exit, unlinkat, 263, VG_HOOK_UNLINK)      \
	X(vg_renameat_exit, renameat, 264, VG_HOOK_RENAME)      \
	X(vg_linkat_exit, linkat, 265, VG_HOOK_LINK)            \
	X(vg_symlinkat_exit, symlinkat, 266, VG_HOOK_LINK)      \
	X(vg_fchmodat_exit, fchmodat, 268, VG_HOOK_CHMOD)       \
	X(vg_utimensat_exit, utimensat, 280, VG_HOOK_UTIMES)    \
	X(vg_renameat2_exit, renameat2, 316, VG_HOOK_RENAME)    \
	X(vg_openat2_exit, openat2, 437, VG_HOOK_OPEN)          \
	X(vg_fchmodat2_exit, fchmodat2, 452, VG_HOOK_CHMOD)    \
	X(vg_setxattrat_exit, setxattrat, 463, VG_HOOK_ATTR)    \
	X(vg_removexattrat_exit, removexattrat, 466, VG_HOOK_ATTR)

#define VG_NET_EXITS(X)                                         \
	X(vg_socket_exit, socket, 41, VG_HOOK_SOCKET)           \
	X(vg_connect_exit, connect, 42, VG_HOOK_CONNECT)        \
	X(vg_accept_exit, accept, 43, VG_HOOK_ACCEPT)           \
	X(vg_bind_exit, bind, 49, VG_HOOK_BIND)                 \
	X(vg_listen_exit, listen, 50, VG_HOOK_LISTEN)           \
	X(vg_accept4_exit, accept4, 288, VG_HOOK_ACCEPT)

#define VG_PRIV_EXITS(X)                                        \
	X(vg_ptrace_exit, ptrace, 101, VG_HOOK_PTRACE)          \
	X(vg_setuid_exit, setuid, 105, VG_HOOK_CREDS)           \
	X(vg_setgid_exit, setgid, 106, VG_HOOK_CREDS)           \
	X(vg_setreuid_exit, setreuid, 113, VG_HOOK_CREDS)       \
	X(vg_setregid_exit, setregid, 114, VG_HOOK_CREDS)       \
	X(vg_setresuid_exit, setresuid, 117, VG_HOOK_CREDS)     \
	X(vg_setresgid_exit, setresgid, 119, VG_HOOK_CREDS)     \
	X(vg_setfsuid_exit, setfsuid, 122, VG_HOOK_CREDS)       \
	X(vg_setfsgid_exit, setfsgid, 123, VG_HOOK_CREDS)       \
	X(vg_capset_exit, capset, 126, VG_HOOK_CREDS)           \
	X(vg_mount_exit, mount, 165, VG_HOOK_MOUNT)             \
	X(vg_umount_exit, umount, 166, VG_HOOK_MOUNT)           \
	X(vg_vm_readv_exit, process_vm_readv, 310, VG_HOOK_PTRACE) \
	X(vg_vm_writev_exit, process_vm_writev, 311, VG_HOOK_PTRACE) \
	X(vg_bpf_exit, bpf, 321, VG_HOOK_BPF)                   \
	X(vg_move_mount_exit, move_mount, 429, VG_HOOK_MOUNT)

#endif
