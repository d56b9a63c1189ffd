/* The enriched event: a validated sensor record plus the process context
 * vigild knows for it. Encoders read the record through records.h and the
 * context through the proc_image references. */
#ifndef VIGIL_EVENT_H
#define VIGIL_EVENT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <linux/types.h>
#include "../../bpf/records.h"
#include "../proc/proc.h"
#include "../util/strbuf.h"

#define VG_MAX_ANCESTORS 8

/* Event types made in user space, after the kernel's. */
enum {
	VG_EV_METRICS = 1000,
};

struct vg_event {
	struct vg_event *next;        /* queue link */
	uint64_t wall_ns;             /* @timestamp, ns since the epoch */
	struct proc_image *img;       /* the process's image (ref), may be NULL */
	struct proc_image *parent;    /* the parent's image (ref), may be NULL */
	struct proc_image *target;    /* ptrace/signal/comm target's image (ref), may be NULL */
	const struct cgroup_info *cgroup; /* owned by the proc cache, never freed while running */
	int nanc;                     /* exec only: ancestors, parent first */
	uint32_t anc_pid[VG_MAX_ANCESTORS];
	struct proc_image *anc[VG_MAX_ANCESTORS];
	char *extra_json;             /* user-space events: the "vigil" object's body */
	const char *extra_action;     /* their event.action (static); NULL = vigil_metrics */
	uint32_t len;
	bool pooled;                  /* from the recycled blocks (event.c) */
	union {
		struct vg_hdr hdr;
		uint8_t raw[1];           /* the record, len bytes */
	} rec __attribute__((aligned(8)));
};

struct vg_event *vg_event_new(const void *rec, size_t len);
void vg_event_free(struct vg_event *ev);
/* Hands this thread's batch of freed events back to the shared list (a
 * thread that frees events calls it before it exits). */
void vg_event_pool_flush(void);

const char *vg_event_action(unsigned type);
const char *vg_event_category(unsigned type);

/* Host facts that every event carries. */
struct vg_host {
	char name[65];
	char id[40]; /* /etc/machine-id */
};

/* Encodes ev as one ECS JSON object (no trailing newline) into sb. */
void vg_event_json(struct strbuf *sb, const struct vg_event *ev, const struct vg_host *host);
/* The same, and when fl is not NULL fills it with the event's flat view
 * as it writes: field for field what vg_flatten_json of the JSON gives
 * (arrays as repeated fields, numbers and booleans as their JSON text,
 * same order), without parsing the JSON back. */
struct vg_flat;
void vg_event_json_flat(struct strbuf *sb, const struct vg_event *ev, const struct vg_host *host,
			struct vg_flat *fl);

/* Prefix of a path the sensor cut short: deeper than its walk
 * (VG_MAX_PATH_DEPTH components), it keeps the last ones after this. */
#define VG_PATH_CUT ".../"
#define VG_PATH_CUT_LEN (sizeof(VG_PATH_CUT) - 1)

static inline bool vg_path_is_cut(const char *s)
{
	return s && !strncmp(s, VG_PATH_CUT, VG_PATH_CUT_LEN);
}

/* Joins base and path and normalises "." and ".." without touching the
 * file system; out gets at most cap-1 bytes. Returns the length. A cut
 * path or base (VG_PATH_CUT) gives a result that starts with "...". */
size_t vg_path_resolve(const char *base, const char *path, char *out, size_t cap);

struct vg_dns_question {
	char name[256];
	uint16_t qtype;
	uint16_t id;
	uint16_t qdcount;
	bool response;
};
/* Parses the first question of a DNS message; 0 on success. */
int vg_dns_parse(const uint8_t *msg, size_t len, struct vg_dns_question *q);
const char *vg_dns_type_name(uint16_t t);

#endif
