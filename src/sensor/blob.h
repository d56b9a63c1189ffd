/* Bounds-checked access to the strings and blobs inside a sensor record.
 * Records come from the kernel but are still parsed defensively: a bad
 * offset yields NULL, never a read outside the record. */
#ifndef VIGIL_SENSOR_BLOB_H
#define VIGIL_SENSOR_BLOB_H
#include <stddef.h>
#include <string.h>
#include <linux/types.h>
#include "../../bpf/records.h"

static inline const char *vg_blob_bytes(const void *rec, size_t len, struct vg_blob b, size_t *n)
{
	*n = 0;
	if (b.len == 0 || (size_t)b.off + b.len > len)
		return NULL;
	*n = b.len;
	return (const char *)rec + b.off;
}

/* A string blob; *n excludes the terminating NUL (which may be missing). */
static inline const char *vg_blob_str(const void *rec, size_t len, struct vg_blob b, size_t *n)
{
	const char *s = vg_blob_bytes(rec, len, b, n);
	if (!s)
		return NULL;
	const char *nul = memchr(s, 0, *n);
	if (nul)
		*n = (size_t)(nul - s);
	return s;
}

/* Minimum size of each record type; 0 for unknown types. */
size_t vg_record_min_size(unsigned type);
/* 0 when the record is well-formed enough to decode; else a reason. */
const char *vg_record_check(const void *rec, size_t len);

#endif
