#include <stdio.h>
#include <string.h>
#include "xattr.h"

/* include/uapi/linux/capability.h */
#define VFS_CAP_REVISION_MASK 0xFF000000u
#define VFS_CAP_FLAGS_EFFECTIVE 0x000001u
#define VFS_CAP_REVISION_1 0x01000000u
#define VFS_CAP_REVISION_2 0x02000000u
#define VFS_CAP_REVISION_3 0x03000000u

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

int vg_fcaps_parse(const uint8_t *v, size_t n, struct vg_fcaps *out)
{
	memset(out, 0, sizeof(*out));
	if (!v || n < 4)
		return -1;
	uint32_t magic = le32(v);
	uint32_t rev = magic & VFS_CAP_REVISION_MASK;
	/* the kernel takes exactly these sizes (cap_convert_nscap) */
	size_t want = rev == VFS_CAP_REVISION_1 ? 12 : rev == VFS_CAP_REVISION_2 ? 20 : rev == VFS_CAP_REVISION_3 ? 24 : 0;
	if (!want || n != want)
		return -1;
	if (magic & ~(VFS_CAP_REVISION_MASK | VFS_CAP_FLAGS_EFFECTIVE))
		return -1;
	out->version = (int)(rev >> 24);
	out->effective = (magic & VFS_CAP_FLAGS_EFFECTIVE) != 0;
	out->permitted = le32(v + 4);
	out->inheritable = le32(v + 8);
	if (rev != VFS_CAP_REVISION_1) {
		out->permitted |= (uint64_t)le32(v + 12) << 32;
		out->inheritable |= (uint64_t)le32(v + 16) << 32;
	}
	if (rev == VFS_CAP_REVISION_3) {
		out->has_rootid = true;
		out->rootid = le32(v + 20);
	}
	return 0;
}

static const char *const cap_names[] = {
	"cap_chown", "cap_dac_override", "cap_dac_read_search", "cap_fowner", "cap_fsetid",
	"cap_kill", "cap_setgid", "cap_setuid", "cap_setpcap", "cap_linux_immutable",
	"cap_net_bind_service", "cap_net_broadcast", "cap_net_admin", "cap_net_raw", "cap_ipc_lock",
	"cap_ipc_owner", "cap_sys_module", "cap_sys_rawio", "cap_sys_chroot", "cap_sys_ptrace",
	"cap_sys_pacct", "cap_sys_admin", "cap_sys_boot", "cap_sys_nice", "cap_sys_resource",
	"cap_sys_time", "cap_sys_tty_config", "cap_mknod", "cap_lease", "cap_audit_write",
	"cap_audit_control", "cap_setfcap", "cap_mac_override", "cap_mac_admin", "cap_syslog",
	"cap_wake_alarm", "cap_block_suspend", "cap_audit_read", "cap_perfmon", "cap_bpf",
	"cap_checkpoint_restore",
};
#define NCAPS ((int)(sizeof(cap_names) / sizeof(cap_names[0])))

const char *vg_cap_name(int cap)
{
	return cap >= 0 && cap < NCAPS ? cap_names[cap] : NULL;
}

/* Appends to out[*len..n), always NUL-terminated, never past n. */
static void append(char *out, size_t n, size_t *len, const char *s)
{
	size_t k = strlen(s);
	if (*len + 1 >= n)
		return;
	if (k > n - 1 - *len)
		k = n - 1 - *len;
	memcpy(out + *len, s, k);
	*len += k;
	out[*len] = 0;
}

static void cap_list(uint64_t set, char *out, size_t n, size_t *len)
{
	bool first = true;
	for (int i = 0; i < 64; i++) {
		if (!(set & (1ull << i)))
			continue;
		char num[16];
		const char *name = vg_cap_name(i);
		if (!name) {
			snprintf(num, sizeof(num), "cap_%d", i);
			name = num;
		}
		if (!first)
			append(out, n, len, ",");
		append(out, n, len, name);
		first = false;
	}
}

size_t vg_fcaps_text(const struct vg_fcaps *c, char *out, size_t n)
{
	size_t len = 0;
	if (!n)
		return 0;
	out[0] = 0;
	/* getcap's grouping: capabilities with the same flags together */
	uint64_t both = c->permitted & c->inheritable;
	uint64_t p_only = c->permitted & ~c->inheritable;
	uint64_t i_only = c->inheritable & ~c->permitted;
	struct {
		uint64_t set;
		const char *flags;
	} groups[] = {
		{both, c->effective ? "=eip" : "=ip"},
		{p_only, c->effective ? "=ep" : "=p"},
		{i_only, c->effective ? "=ei" : "=i"},
	};
	for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
		if (!groups[g].set)
			continue;
		if (len)
			append(out, n, &len, " ");
		cap_list(groups[g].set, out, n, &len);
		append(out, n, &len, groups[g].flags);
	}
	return len;
}

/* include/uapi/linux/posix_acl_xattr.h and posix_acl.h */
#define ACL_XATTR_VERSION 0x0002
#define ACL_USER_OBJ 0x01
#define ACL_USER 0x02
#define ACL_GROUP_OBJ 0x04
#define ACL_GROUP 0x08
#define ACL_MASK 0x10
#define ACL_OTHER 0x20

int vg_acl_text(const uint8_t *v, size_t n, char *out, size_t outlen)
{
	size_t len = 0;
	if (!outlen)
		return -1;
	out[0] = 0;
	if (!v || n < 4 || (n - 4) % 8 || le32(v) != ACL_XATTR_VERSION)
		return -1;
	for (size_t off = 4; off < n; off += 8) {
		uint16_t tag = le16(v + off), perm = le16(v + off + 2);
		uint32_t id = le32(v + off + 4);
		char ent[48];
		const char *t;
		bool with_id = false;
		switch (tag) {
		case ACL_USER_OBJ: t = "u"; break;
		case ACL_USER: t = "u"; with_id = true; break;
		case ACL_GROUP_OBJ: t = "g"; break;
		case ACL_GROUP: t = "g"; with_id = true; break;
		case ACL_MASK: t = "m"; break;
		case ACL_OTHER: t = "o"; break;
		default: return -1;
		}
		if (perm & ~7u)
			return -1;
		char ids[16] = "";
		if (with_id)
			snprintf(ids, sizeof(ids), "%u", id);
		snprintf(ent, sizeof(ent), "%s%s:%s:%c%c%c", len ? "," : "", t, ids, perm & 4 ? 'r' : '-',
			 perm & 2 ? 'w' : '-', perm & 1 ? 'x' : '-');
		append(out, outlen, &len, ent);
	}
	return 0;
}
