/* vigild configuration: one INI-style file of `key = value` lines. Every
 * key, its default and its range are in the table in config.c and in
 * packaging/vigild.conf. A bad value is refused with file, line and key. */
#ifndef VIGIL_CONFIG_H
#define VIGIL_CONFIG_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "../../bpf/records.h"

#define CFG_LIST_MAX 256

struct cfg_list {
	int n;
	char *v[CFG_LIST_MAX];
};

struct vigil_config {
	char *events_out;
	unsigned ringbuf_mb;
	unsigned argv_max;
	unsigned env_max;
	unsigned queue_max;
	unsigned queue_max_mb; /* bytes bound of the same queue, MiB */
	unsigned metrics_interval;
	unsigned hash_max_mb;
	bool module_fallback;
	bool batch_scheduling; /* event threads under SCHED_BATCH (see main.c) */
	/* the event store (needs a restart to change) */
	char *store_dir; /* NULL = the default, "" = no store */
	unsigned store_flush_ms, store_segment_mb, store_retention_mb, store_retention_days;
	bool hook_off[VG_HOOK_MAX];
	uint64_t rate[VG_HOOK_MAX];
	struct cfg_list ignore_exe, ignore_cgroup, ignore_path, watch_path, watch_name, sensitive;
	/* the responder (src/respond) */
	int response_mode;            /* RESPOND_OFF, RESPOND_DRY_RUN, RESPOND_ON */
	unsigned response_max_per_min; /* automatic actions per minute */
	char *response_dir;           /* NULL = <store dir>/respond, else /var/lib/vigil/respond */
	char *bpf_pin_dir;            /* NULL = /sys/fs/bpf/vigil */
	bool block_fanotify;          /* off: block with the eBPF kill-at-exec only */
	struct cfg_list response_protect; /* executables (globs) never acted on */
	struct cfg_list isolate_allow;    /* CIDRs reachable while isolated */
};

void config_defaults(struct vigil_config *c);
/* Parses text (named `name` in messages). Returns 0, or -1 with a message
 * "name:line: key: reason" in err. Values seen before an error are kept
 * in c only when the whole file is valid: callers parse into a copy. */
int config_parse(struct vigil_config *c, const char *text, const char *name, char *err, size_t errlen);
/* Reads and parses a file; a missing file is not an error (defaults). */
int config_load(struct vigil_config *c, const char *path, char *err, size_t errlen);
void config_free(struct vigil_config *c);
/* "10.0.0.1", "10.0.0.0/8", "fd00::/64" */
bool config_valid_cidr(const char *v);
extern const char *const config_default_sensitive[];
/* a watch_name value: a file name, no '/', shorter than VG_WATCH_NAME_MAX */
bool config_watch_name_ok(const char *name);

#endif
