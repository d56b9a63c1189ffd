#include <stdlib.h>
#include <string.h>
#include "event.h"

struct vg_event *vg_event_new(const void *rec, size_t len)
{
	struct vg_event *ev = malloc(offsetof(struct vg_event, rec) + (len < sizeof(struct vg_hdr) ? sizeof(struct vg_hdr) : len));
	if (!ev)
		return NULL;
	memset(ev, 0, offsetof(struct vg_event, rec));
	memcpy(ev->rec.raw, rec, len);
	ev->len = (uint32_t)len;
	return ev;
}

void vg_event_free(struct vg_event *ev)
{
	if (!ev)
		return;
	img_put(ev->img);
	img_put(ev->parent);
	img_put(ev->target);
	for (int i = 0; i < ev->nanc; i++)
		img_put(ev->anc[i]);
	free(ev->extra_json);
	free(ev);
}

static const struct {
	const char *action;
	const char *category;
} kinds[] = {
	[VG_EV_EXEC] = {"exec", "process"},
	[VG_EV_EXEC_FAIL] = {"exec_failed", "process"},
	[VG_EV_FORK] = {"fork", "process"},
	[VG_EV_EXIT] = {"exit", "process"},
	[VG_EV_SETSID] = {"setsid", "process"},
	[VG_EV_COMM] = {"comm_change", "process"},
	[VG_EV_MEMFD] = {"memfd_create", "process"},
	[VG_EV_FILE_CREATE] = {"file_create", "file"},
	[VG_EV_FILE_WRITE] = {"file_open_write", "file"},
	[VG_EV_FILE_READ_SENSITIVE] = {"file_read_sensitive", "file"},
	[VG_EV_FILE_RENAME] = {"file_rename", "file"},
	[VG_EV_FILE_UNLINK] = {"file_delete", "file"},
	[VG_EV_FILE_CHMOD] = {"file_chmod", "file"},
	[VG_EV_FILE_CHOWN] = {"file_chown", "file"},
	[VG_EV_FILE_LINK] = {"file_link", "file"},
	[VG_EV_FILE_SYMLINK] = {"file_symlink", "file"},
	[VG_EV_FILE_TRUNCATE] = {"file_truncate", "file"},
	[VG_EV_FILE_UTIMES] = {"file_utimes", "file"},
	[VG_EV_NET_CONNECT] = {"connect", "network"},
	[VG_EV_NET_ACCEPT] = {"accept", "network"},
	[VG_EV_NET_BIND] = {"bind", "network"},
	[VG_EV_NET_LISTEN] = {"listen", "network"},
	[VG_EV_NET_DNS] = {"dns_query", "network"},
	[VG_EV_NET_SOCKET] = {"socket_raw", "network"},
	[VG_EV_CRED_CHANGE] = {"cred_change", "iam"},
	[VG_EV_PTRACE] = {"ptrace", "process"},
	[VG_EV_MODULE_LOAD] = {"module_load", "driver"},
	[VG_EV_MODULE_UNLOAD] = {"module_unload", "driver"},
	[VG_EV_MOUNT] = {"mount", "configuration"},
	[VG_EV_UMOUNT] = {"umount", "configuration"},
	[VG_EV_BPF_LOAD] = {"bpf_prog_load", "configuration"},
	[VG_EV_SIGNAL] = {"signal", "process"},
};

const char *vg_event_action(unsigned type)
{
	if (type == VG_EV_METRICS)
		return "vigil_metrics";
	if (type < sizeof(kinds) / sizeof(kinds[0]) && kinds[type].action)
		return kinds[type].action;
	return "unknown";
}

const char *vg_event_category(unsigned type)
{
	if (type == VG_EV_METRICS)
		return "host";
	if (type < sizeof(kinds) / sizeof(kinds[0]) && kinds[type].category)
		return kinds[type].category;
	return "unknown";
}
