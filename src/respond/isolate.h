/* The parts of isolate.c that touch neither the kernel nor a daemon: CIDR
 * parsing into LPM trie keys, /proc and mountinfo parsing, cgroup path
 * handling and the state file. Separate so unit tests can reach them. */
#ifndef VIGIL_ISOLATE_H
#define VIGIL_ISOLATE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The keys of bpf/isolate.bpf.c's LPM tries: prefix length in bits, then the
 * address in network order. */
struct iso_key4 {
	uint32_t prefixlen;
	uint8_t addr[4];
};
struct iso_key6 {
	uint32_t prefixlen;
	uint8_t addr[16];
};

/* "10.0.0.0/8", "192.0.2.10", "fd00::/64": 4 or 6 with that key filled
 * (bits past the prefix cleared), -1 if it is not a CIDR. */
int iso_parse_cidr(const char *s, struct iso_key4 *k4, struct iso_key6 *k6);

/* The path of the "0::PATH" line of /proc/PID/cgroup text. 0, or -1 when
 * there is none (no cgroup v2) or it does not fit. */
int iso_proc_cgroup(const char *text, char *out, size_t cap);

/* The mount point of a cgroup2 file system mounted from its root, in
 * /proc/self/mountinfo text (octal escapes undone). 0, or -1 when none. */
int iso_cgroup2_mount(const char *mountinfo, char *out, size_t cap);

/* A --cgroup argument, either relative to the cgroup2 root ("/system.slice/x")
 * or a full path under the mount point, as a normalised path relative to the
 * root: one leading '/', no empty, "." or ".." parts, no trailing '/'.
 * "/" is the root. -1 when invalid (or has characters the state file cannot
 * hold: tab, newline). */
int iso_cgroup_rel(const char *mnt, const char *arg, char *out, size_t cap);

/* path is ancestor or lies below it (both normalised as above). */
bool iso_cg_within(const char *path, const char *ancestor);

enum iso_kind { ISO_HOST = 0, ISO_PID = 1, ISO_CGROUP = 2 };

#define ISO_PATH_MAX 1024

/* One isolated and/or frozen target. */
struct iso_ent {
	int kind;                 /* enum iso_kind */
	int pid;                  /* ISO_PID */
	uint64_t start;           /* ISO_PID: /proc/PID/stat starttime, tells a reused pid */
	uint64_t cgid;            /* ISO_CGROUP: the cgroup's inode, names its pins */
	uint64_t isolated_ns;     /* wall clock since when isolated, 0 = not */
	uint64_t frozen_ns;       /* wall clock since when frozen, 0 = not */
	char cg[ISO_PATH_MAX];    /* the cgroup acted on, relative to the cgroup2 root */
	char orig[ISO_PATH_MAX];  /* ISO_PID: the cgroup the process came from */
};

/* Writes the entries to path atomically (temporary file, fsync, rename),
 * mode 0600. 0 or -errno. */
int iso_state_write(const char *path, const struct iso_ent *e, size_t n);
/* Reads them back (malloc'ed array in *out); a missing file is 0 entries,
 * malformed lines are skipped. 0 or -errno. */
int iso_state_read(const char *path, struct iso_ent **out, size_t *n);

/* The pin directory name of an entry: "host", "pid-1234", "cg-5678". */
void iso_pin_name(const struct iso_ent *e, char *out, size_t cap);

#endif
