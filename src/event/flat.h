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
	char keybuf[512];
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

/* First value of a field in fl, or NULL. */
const char *vg_flat_get(const struct vg_flat *fl, uint32_t name, uint32_t *len);

#endif
