/* Validation of raw sensor records before anything reads their fields. */
#include "blob.h"

size_t vg_record_min_size(unsigned type)
{
	switch (type) {
	case VG_EV_EXEC: return sizeof(struct vg_exec);
	case VG_EV_EXEC_FAIL: return sizeof(struct vg_exec_fail);
	case VG_EV_FORK: return sizeof(struct vg_fork);
	case VG_EV_EXIT: return sizeof(struct vg_exit);
	case VG_EV_SETSID: return sizeof(struct vg_hdr);
	case VG_EV_COMM: return sizeof(struct vg_comm);
	case VG_EV_MEMFD: return sizeof(struct vg_memfd);
	case VG_EV_FILE_CREATE:
	case VG_EV_FILE_WRITE:
	case VG_EV_FILE_READ_SENSITIVE:
	case VG_EV_FILE_UNLINK:
	case VG_EV_FILE_CHMOD:
	case VG_EV_FILE_CHOWN:
	case VG_EV_FILE_TRUNCATE:
	case VG_EV_FILE_UTIMES: return sizeof(struct vg_file);
	case VG_EV_FILE_RENAME:
	case VG_EV_FILE_LINK:
	case VG_EV_FILE_SYMLINK: return sizeof(struct vg_file2);
	case VG_EV_NET_CONNECT:
	case VG_EV_NET_ACCEPT:
	case VG_EV_NET_BIND:
	case VG_EV_NET_LISTEN: return sizeof(struct vg_net);
	case VG_EV_NET_DNS: return sizeof(struct vg_dns);
	case VG_EV_NET_SOCKET: return sizeof(struct vg_socket);
	case VG_EV_CRED_CHANGE: return sizeof(struct vg_creds);
	case VG_EV_PTRACE: return sizeof(struct vg_ptrace);
	case VG_EV_MODULE_LOAD:
	case VG_EV_MODULE_UNLOAD: return sizeof(struct vg_module);
	case VG_EV_MOUNT:
	case VG_EV_UMOUNT: return sizeof(struct vg_mount);
	case VG_EV_BPF_LOAD: return sizeof(struct vg_bpf);
	case VG_EV_SIGNAL: return sizeof(struct vg_signal);
	case VG_EV_FILE_XATTR_SET:
	case VG_EV_FILE_XATTR_REMOVE: return sizeof(struct vg_xattr);
	case VG_EV_FILE_FLAGS: return sizeof(struct vg_fsflags);
	default: return 0;
	}
}

const char *vg_record_check(const void *rec, size_t len)
{
	const struct vg_hdr *h = rec;
	if (len < sizeof(*h))
		return "shorter than a header";
	if (h->size != len)
		return "size field disagrees with the record length";
	if (h->hook >= VG_HOOK_MAX)
		return "unknown hook";
	size_t min = vg_record_min_size(h->type);
	if (min == 0)
		return "unknown record type";
	if (len < min)
		return "shorter than its type";
	return NULL;
}
