/* Decoding of the extended attributes the sensor records (struct vg_xattr):
 * file capabilities (security.capability, struct vfs_cap_data) and POSIX
 * ACLs (system.posix_acl_access/default). The value bytes come from the
 * user buffer of the setxattr call, so anything may be in them: every
 * function here checks lengths and versions and fails rather than guess. */
#ifndef VIGIL_XATTR_H
#define VIGIL_XATTR_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vg_fcaps {
	uint64_t permitted;
	uint64_t inheritable;
	bool effective;     /* VFS_CAP_FLAGS_EFFECTIVE: raised at exec */
	int version;        /* 1, 2 or 3 */
	bool has_rootid;    /* v3: namespaced capabilities */
	uint32_t rootid;
};

/* 0 on success, -1 when v[0..n) is not a vfs_cap_data the kernel accepts. */
int vg_fcaps_parse(const uint8_t *v, size_t n, struct vg_fcaps *out);

/* "cap_setuid" for 7; NULL past the last capability this build knows. */
const char *vg_cap_name(int cap);

/* The capability set as getcap prints it ("cap_net_raw,cap_setuid=ep"),
 * truncated to fit out. Returns the length written. */
size_t vg_fcaps_text(const struct vg_fcaps *c, char *out, size_t n);

/* A POSIX ACL value as short text ("u::rw-,u:1000:rwx,g::r--,m::rwx,o::r--"),
 * truncated to fit out. 0 on success, -1 when the value is malformed. */
int vg_acl_text(const uint8_t *v, size_t n, char *out, size_t outlen);

#endif
