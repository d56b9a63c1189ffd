/* A flat view of one event: (dotted ECS field, value) pairs parsed from the
 * event's JSON. It is what the detection engine matches on, so the engine
 * works the same on live events, replayed JSON lines and stored events.
 * Arrays give repeated fields (process.args appears once per argument);
 * numbers and booleans keep their JSON text ("42", "true"). */
#ifndef VIGIL_FLAT_H
#define VIGIL_FLAT_H
#include <stddef.h>
#include <stdint.h>

#define VG_FLAT_MAX 512

struct vg_flat_field {
	uint32_t name;   /* id from vg_field_id() */
	uint32_t len;
	const char *val; /* NUL-terminated, inside the flat's arena */
};

struct vg_flat {
	int n;
	struct vg_flat_field f[VG_FLAT_MAX];
	char *arena;
	size_t arena_len, arena_cap;
	unsigned dropped; /* fields left out (past VG_FLAT_MAX, or no memory) since vg_flat_begin */
};

void vg_flat_init(struct vg_flat *fl);
void vg_flat_free(struct vg_flat *fl);
/* Parses one JSON object; 0 on success, -1 on malformed input (fields
 * parsed so far are kept). Overwrites the previous contents. */
int vg_flatten_json(struct vg_flat *fl, const char *json, size_t len);

/* Field names are interned process-wide: the same name always has the
 * same id. vg_field_id adds unknown names; vg_field_find does not (-1). */
uint32_t vg_field_id(const char *name);
int64_t vg_field_find(const char *name);
const char *vg_field_name(uint32_t id);

/* Building a flat directly, without JSON text: the event encoder
 * (vg_event_json_flat) does it as it writes each value, so live events are
 * never parsed back. Between vg_flat_begin and vg_flat_end the f[].val of
 * the fields hold arena offsets (the arena may move), not pointers.
 * vg_flat_put copies the value (len bytes, may hold NULs) and drops fields
 * beyond VG_FLAT_MAX, as vg_flatten_json does. */
void vg_flat_begin(struct vg_flat *fl);
void vg_flat_put(struct vg_flat *fl, uint32_t name, const char *val, size_t len);
/* Reserves len bytes (+ NUL) in the arena: the offset, or -1. */
long vg_flat_reserve(struct vg_flat *fl, size_t len);
/* Flattens one JSON value whose dotted name is `parent` (VG_FIELD_ROOT: a
 * top-level object) and appends its fields; 0 or -1 (malformed). */
int vg_flat_put_json(struct vg_flat *fl, uint32_t parent, const char *json, size_t len);
void vg_flat_end(struct vg_flat *fl);

/* The id of "<parent's name>.<key>" (just "key" under VG_FIELD_ROOT),
 * interning it. Cached per thread by (parent, key pointer): cheapest when
 * key is a string literal. */
#define VG_FIELD_ROOT UINT32_MAX
uint32_t vg_field_child(uint32_t parent, const char *key);

/* First value of a field in fl, or NULL. */
const char *vg_flat_get(const struct vg_flat *fl, uint32_t name, uint32_t *len);

#endif
