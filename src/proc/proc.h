/* Process cache: what vigild knows about every live process, keyed by pid
 * and checked against the process start time so a reused pid never gets
 * another process's context. Images (exe, argv, ...) are immutable and
 * reference counted, so queued events keep the context they were seen
 * with even after the process exec'd again or exited. */
#ifndef VIGIL_PROC_H
#define VIGIL_PROC_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include "../../bpf/records.h"
#include "../util/htab.h"

struct proc_image {
	int refs;
	uint32_t pid;
	uint64_t start_ns;
	char *exe;
	char *argv;          /* NUL-separated */
	size_t argv_len;
	int argc;
	bool argv_truncated;
	char *cwd;           /* at exec */
	char *tty;
	char *nodename;
	char *ld_preload;
	char *ssh_connection;
	uint32_t exe_flags;  /* VG_EXE_* */
	uint64_t exe_ino, exe_size, exe_mtime_ns;
	uint32_t exe_dev;
	uint32_t exe_mode, exe_uid;
	bool from_procfs;    /* read from /proc, not seen exec'ing */
	/* Filled by the output stage only (single thread). */
	char sha256[65];
	int exe_fd;          /* open file to hash, -1 when none */
	void *enc_cache[2];  /* the JSON encoder's copies of this image's fields (json.c) */
	uint64_t serial;     /* unique per image for the daemon's life: names it where a pointer could be reused */
};

struct proc_entry {
	uint32_t pid;
	uint32_t ppid;
	uint64_t start_ticks; /* /proc granularity: the key check */
	uint64_t start_ns;
	struct proc_image *img;
};

struct cgroup_info {
	uint64_t id;
	char *path;
	char container_id[65];
	char runtime[16];
};

struct proc_cache {
	struct htab procs;   /* pid -> proc_entry */
	struct htab cgroups; /* cgroup id -> cgroup_info */
	long clk_tck;
	char hostname[65];
	uint64_t utsns;
	const char *proc_root; /* "/proc", changeable for tests */
	uint64_t lookups, misses;
};

int pc_init(struct proc_cache *pc, const char *proc_root);
void pc_free(struct proc_cache *pc);
/* Reads every process from /proc; returns how many were added. */
int pc_scan(struct proc_cache *pc);
/* The entry for (pid, start); reads /proc when the cache has none or a stale one. */
struct proc_entry *pc_get(struct proc_cache *pc, uint32_t pid, uint64_t start_ns);
void pc_on_fork(struct proc_cache *pc, uint32_t parent, uint64_t parent_start,
		uint32_t child, uint64_t child_start);
/* Builds the new image from an exec record (already validated). */
struct proc_image *pc_on_exec(struct proc_cache *pc, const struct vg_exec *rec, size_t len);
void pc_on_exit(struct proc_cache *pc, uint32_t pid);
/* Forgets processes that no longer exist (their exit was not seen, e.g.
 * dropped); returns how many. */
int pc_sweep_dead(struct proc_cache *pc);
const struct cgroup_info *pc_cgroup(struct proc_cache *pc, uint64_t cgroup_id, uint32_t pid);
/* Up to max ancestors of pid (parent first) with references taken. */
int pc_ancestors(struct proc_cache *pc, uint32_t pid, uint64_t start_ns,
		 struct proc_image **out, uint32_t *pids, int max);

struct proc_image *img_get(struct proc_image *img);
void img_put(struct proc_image *img);

/* Helpers exposed for tests. */
uint64_t pc_ns_to_ticks(const struct proc_cache *pc, uint64_t ns);
bool container_id_from_cgroup(const char *path, char id[65], char runtime[16]);
/* Finds NAME=value in a NUL-separated environment block; returns a malloc'd value. */
char *env_lookup(const char *env, size_t len, const char *name);

#endif
