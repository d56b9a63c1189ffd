/* Builds sensor records for unit tests the way the BPF side lays them
 * out: a fixed struct, then a data area that vg_blob offsets point into. */
#ifndef VIGIL_TEST_RECBUILD_H
#define VIGIL_TEST_RECBUILD_H
#include <stdint.h>
#include <string.h>
#include <linux/types.h>
#include "../../bpf/records.h"

struct rb {
	union {
		uint8_t buf[VG_SCRATCH_SIZE];
		struct vg_hdr hdr;
	} u __attribute__((aligned(8)));
	size_t len;
};

/* Starts a record of the given fixed size; returns the record itself. */
static inline void *rb_init(struct rb *r, size_t fixed, unsigned type, unsigned hook)
{
	memset(r->u.buf, 0, fixed);
	r->len = fixed;
	r->u.hdr.type = (__u16)type;
	r->u.hdr.hook = (__u16)hook;
	r->u.hdr.size = (__u32)fixed;
	r->u.hdr.task.auid = (__u32)-1;
	return r->u.buf;
}

/* Appends n bytes to the data area. */
static inline struct vg_blob rb_bytes(struct rb *r, const void *data, size_t n)
{
	struct vg_blob b = {(__u16)r->len, (__u16)n};
	memcpy(r->u.buf + r->len, data, n);
	r->len += n;
	r->u.hdr.size = (__u32)r->len;
	return b;
}

/* Appends a string with its NUL, as vg_put_kstr does. */
static inline struct vg_blob rb_str(struct rb *r, const char *s)
{
	return rb_bytes(r, s, strlen(s) + 1);
}

#endif
