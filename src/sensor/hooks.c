/* Hook names and the BPF programs that feed each hook. */
#include <string.h>
#include "hooks.h"
#include "../../bpf/exits.h"

const struct sensor_hook_info sensor_hooks[VG_HOOK_MAX] = {
	[VG_HOOK_EXEC] = {"exec", "process executions"},
	[VG_HOOK_EXEC_FAIL] = {"exec_fail", "failed executions"},
	[VG_HOOK_FORK] = {"fork", "process creation"},
	[VG_HOOK_EXIT] = {"exit", "process exits"},
	[VG_HOOK_SETSID] = {"setsid", "new sessions"},
	[VG_HOOK_RENAME_COMM] = {"comm", "process name changes"},
	[VG_HOOK_MEMFD] = {"memfd", "memfd_create"},
	[VG_HOOK_OPEN] = {"open", "file creation, writes in watched paths, sensitive reads"},
	[VG_HOOK_RENAME] = {"rename", "file renames"},
	[VG_HOOK_UNLINK] = {"unlink", "file deletions"},
	[VG_HOOK_CHMOD] = {"chmod", "file mode changes"},
	[VG_HOOK_CHOWN] = {"chown", "file owner changes"},
	[VG_HOOK_LINK] = {"link", "hard and symbolic links"},
	[VG_HOOK_TRUNCATE] = {"truncate", "file truncation"},
	[VG_HOOK_UTIMES] = {"utimes", "file timestamp changes"},
	[VG_HOOK_CONNECT] = {"connect", "outbound connections"},
	[VG_HOOK_ACCEPT] = {"accept", "inbound connections"},
	[VG_HOOK_BIND] = {"bind", "socket binds"},
	[VG_HOOK_LISTEN] = {"listen", "listening sockets"},
	[VG_HOOK_DNS] = {"dns", "DNS queries"},
	[VG_HOOK_SOCKET] = {"socket", "raw and packet sockets"},
	[VG_HOOK_CREDS] = {"creds", "uid/gid/capability changes"},
	[VG_HOOK_PTRACE] = {"ptrace", "ptrace"},
	[VG_HOOK_MODULE] = {"module", "kernel module loads and unloads"},
	[VG_HOOK_MOUNT] = {"mount", "mounts and unmounts"},
	[VG_HOOK_BPF] = {"bpf", "BPF program loads"},
	[VG_HOOK_SIGNAL] = {"signal", "signals to other processes"},
	[VG_HOOK_ATTR] = {"attr", "file capabilities, ACLs and security labels (xattrs); immutable and append-only flags"},
};

#define EXIT_ROW(handler, syscall, nr, hook) {#handler, #syscall, nr, hook},
static const struct sensor_exit_info process_exits[] = {VG_PROCESS_EXITS(EXIT_ROW){NULL, NULL, 0, 0}};
static const struct sensor_exit_info file_exits[] = {VG_FILE_EXITS(EXIT_ROW){NULL, NULL, 0, 0}};
static const struct sensor_exit_info net_exits[] = {VG_NET_EXITS(EXIT_ROW){NULL, NULL, 0, 0}};
static const struct sensor_exit_info priv_exits[] = {VG_PRIV_EXITS(EXIT_ROW){NULL, NULL, 0, 0}};

/* An object's two exit programs (VG_EXIT_PROGRAMS). */
#define EXIT_PROGRAMS(object)                                              \
	{"vg_" #object "_exit_raw", -1, NULL, object##_exits, true},        \
	{"vg_" #object "_exit", -1, NULL, object##_exits, false},

/* Every BPF program, the hook it feeds. A program whose attach point is
 * missing degrades its hook; `fallback_for` names the tracepoint that a
 * fallback program replaces (loaded only when that one is missing). */
const struct sensor_prog_info sensor_progs[] = {
	{"vg_exec", VG_HOOK_EXEC, NULL, NULL, false},
	{"vg_fork", VG_HOOK_FORK, NULL, NULL, false},
	{"vg_exit", VG_HOOK_EXIT, NULL, NULL, false},
	{"vg_comm", VG_HOOK_RENAME_COMM, NULL, NULL, false},
	{"vg_memfd_enter", VG_HOOK_MEMFD, NULL, NULL, false},
	EXIT_PROGRAMS(process)
	/* file.bpf.c */
	{"vg_fchmod_enter", VG_HOOK_CHMOD, NULL, NULL, false},
	{"vg_fchmodat2_enter", VG_HOOK_CHMOD, NULL, NULL, false},
	EXIT_PROGRAMS(file)
	/* net.bpf.c */
	{"vg_connect_enter", VG_HOOK_CONNECT, NULL, NULL, false},
	{"vg_bind_enter", VG_HOOK_BIND, NULL, NULL, false},
	{"vg_listen_enter", VG_HOOK_LISTEN, NULL, NULL, false},
	{"vg_sendto_enter", VG_HOOK_DNS, NULL, NULL, false},
	{"vg_sendmsg_enter", VG_HOOK_DNS, NULL, NULL, false},
	{"vg_sendmmsg_enter", VG_HOOK_DNS, NULL, NULL, false},
	{"vg_socket_enter", VG_HOOK_SOCKET, NULL, NULL, false},
	EXIT_PROGRAMS(net)
	/* priv.bpf.c */
	{"vg_setuid_enter", VG_HOOK_CREDS, NULL, NULL, false},
	{"vg_setgid_enter", VG_HOOK_CREDS, NULL, NULL, false},
	{"vg_setreuid_enter", VG_HOOK_CREDS, NULL, NULL, false},
	{"vg_setregid_enter", VG_HOOK_CREDS, NULL, NULL, false},
	{"vg_setresuid_enter", VG_HOOK_CREDS, NULL, NULL, false},
	{"vg_setresgid_enter", VG_HOOK_CREDS, NULL, NULL, false},
	{"vg_setfsuid_enter", VG_HOOK_CREDS, NULL, NULL, false},
	{"vg_setfsgid_enter", VG_HOOK_CREDS, NULL, NULL, false},
	{"vg_capset_enter", VG_HOOK_CREDS, NULL, NULL, false},
	{"vg_ptrace_enter", VG_HOOK_PTRACE, NULL, NULL, false},
	{"vg_init_module_enter", VG_HOOK_MODULE, NULL, NULL, false},
	{"vg_init_module_exit", VG_HOOK_MODULE, NULL, NULL, false},
	{"vg_finit_module_enter", VG_HOOK_MODULE, NULL, NULL, false},
	{"vg_finit_module_exit", VG_HOOK_MODULE, NULL, NULL, false},
	{"vg_delete_module_enter", VG_HOOK_MODULE, NULL, NULL, false},
	{"vg_delete_module_exit", VG_HOOK_MODULE, NULL, NULL, false},
	{"vg_module_fallback", VG_HOOK_MODULE, "syscalls/sys_enter_init_module", NULL, false},
	{"vg_mount_enter", VG_HOOK_MOUNT, NULL, NULL, false},
	{"vg_umount_enter", VG_HOOK_MOUNT, NULL, NULL, false},
	{"vg_move_mount_enter", VG_HOOK_MOUNT, NULL, NULL, false},
	{"vg_bpf_enter", VG_HOOK_BPF, NULL, NULL, false},
	{"vg_signal", VG_HOOK_SIGNAL, NULL, NULL, false},
	EXIT_PROGRAMS(priv)
	{NULL, 0, NULL, NULL, false},
};

int sensor_hook_by_name(const char *name)
{
	for (int i = 0; i < VG_HOOK_MAX; i++)
		if (sensor_hooks[i].name && strcmp(sensor_hooks[i].name, name) == 0)
			return i;
	return -1;
}

const struct sensor_prog_info *sensor_prog_lookup(const char *name)
{
	for (const struct sensor_prog_info *p = sensor_progs; p->name; p++)
		if (strcmp(p->name, name) == 0)
			return p;
	return NULL;
}
