/* The eBPF sensor: loads the programs that this kernel supports, attaches
 * them, consumes the ring buffer and exposes counters and filters. */
#ifndef VIGIL_SENSOR_H
#define VIGIL_SENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "../../bpf/records.h"

struct sensor;

typedef int (*sensor_record_fn)(void *ctx, const void *rec, size_t len);

struct sensor_opts {
	size_t ringbuf_bytes;           /* power of two */
	unsigned argv_max, env_max;
	bool hook_off[VG_HOOK_MAX];     /* hooks disabled by configuration */
	bool module_fallback;           /* raw_syscalls fallback for module syscalls */
	sensor_record_fn on_record;
	void *ctx;
	void (*log)(const char *line);  /* one line per degraded capability */
};

/* Per-hook description: name used in config and status, and what it records. */
struct sensor_hook_info {
	const char *name;
	const char *what;
};
extern const struct sensor_hook_info sensor_hooks[VG_HOOK_MAX];
int sensor_hook_by_name(const char *name); /* -1 when unknown */

int sensor_open(struct sensor **out, const struct sensor_opts *opts, char *err, size_t errlen);
/* Attach points in use: links, one per tracepoint a program is attached to. */
int sensor_attached(const struct sensor *s);
/* Hooks with at least one attached program. */
bool sensor_hook_active(const struct sensor *s, int hook);
/* Reads what the ring holds, waiting up to timeout_ms (less during an
 * event storm, when the BPF side stops waking the reader). */
int sensor_poll(struct sensor *s, int timeout_ms);
/* Polls made in storm mode since start (see sensor_poll). */
uint64_t sensor_storm_polls(const struct sensor *s);
void sensor_counters(struct sensor *s, uint64_t out[VG_HOOK_MAX][VG_CNT_MAX]);
void sensor_close(struct sensor *s);

/* In-kernel filters; all return 0 or -errno. */
struct sensor_inode { uint64_t ino; uint32_t dev; };
int sensor_ignore_exe(struct sensor *s, struct sensor_inode ino, bool add);
int sensor_ignore_cgroup(struct sensor *s, uint64_t cgroup_id, bool add);
int sensor_ignore_path(struct sensor *s, const char *prefix, bool add);
int sensor_watch_path(struct sensor *s, const char *prefix, bool add);
/* a file name (no '/', < VG_WATCH_NAME_MAX bytes) reported in any directory */
int sensor_watch_name(struct sensor *s, const char *name, bool add);
int sensor_sensitive(struct sensor *s, struct sensor_inode ino, bool add);
int sensor_clear_sensitive(struct sensor *s);
/* Empties every ignore/watch/sensitive map (before a reload re-fills them). */
void sensor_clear_filters(struct sensor *s);
int sensor_set_rate(struct sensor *s, int hook, uint64_t per_sec);
int sensor_set_filters_on(struct sensor *s, unsigned mask);
uint32_t sensor_kdev(uint64_t st_dev); /* user-space st_dev -> kernel s_dev */

#endif
