/* The block list of `vigil block`, without the kernel parts: parsing and
 * validating targets, the persisted file, and the digest set the fanotify
 * thread and the eBPF fallback consult. Pure so unit tests need no root. */
#ifndef VIGIL_BLOCKLIST_H
#define VIGIL_BLOCKLIST_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum block_kind { BLOCK_HASH = 0, BLOCK_PATH = 1 };

struct block_entry {
	int kind;                 /* enum block_kind */
	char *value;              /* lower-case hex digest or absolute path */
	uint8_t sha[32];          /* BLOCK_HASH */
	int64_t added;            /* unix seconds */
	uint64_t denied;          /* execs denied or killed (atomic updates) */
	struct block_entry *next;
};

struct blocklist {
	struct block_entry *head, *tail;
	size_t n, nhash, npath;
};

/* "0123...": 64 hex digits, either case. 0 or -1 with why. */
int block_parse_sha256(const char *hex, uint8_t out[32], char *why, size_t cap);
/* An absolute, normalised path: no "//", "/./", "/../", trailing "/",
 * control characters; shorter than PATH_MAX. 0 or -1 with why. */
int block_check_path(const char *path, char *why, size_t cap);

void blocklist_init(struct blocklist *l);
void blocklist_free(struct blocklist *l);
/* value as given by a person: the hash is normalised to lower case. */
struct block_entry *blocklist_find(const struct blocklist *l, int kind, const char *value);
/* Validates and appends; -1 with why (bad value, duplicate, no memory). */
struct block_entry *blocklist_add(struct blocklist *l, int kind, const char *value, int64_t added, char *why,
				  size_t cap);
/* Unlinks (does not free) the entry; the caller frees it when no reader
 * can hold it any more. */
void blocklist_unlink(struct blocklist *l, struct block_entry *e);
/* Appends an entry (a new one, or one unlinked before). */
void blocklist_link(struct blocklist *l, struct block_entry *e);
void block_entry_free(struct block_entry *e);

/* Reads path (a missing file is an empty list). A malformed line fails
 * the whole load with "path:line: reason" and leaves l empty. */
int blocklist_load(struct blocklist *l, const char *path, char *err, size_t errlen);
/* Writes path atomically: path.tmp, fsync, rename, fsync of the dir; 0600. */
int blocklist_save(const struct blocklist *l, const char *path, char *err, size_t errlen);

/* An immutable set of digests built from a list; lookups are lock free,
 * so the fanotify thread reads a set while a command builds the next. */
struct hashset {
	struct block_entry **slots; /* open addressing, power-of-two size */
	size_t mask;
	size_t count;
};
int hashset_build(struct hashset *s, const struct blocklist *l);
struct block_entry *hashset_find(const struct hashset *s, const uint8_t sha[32]);
void hashset_free(struct hashset *s);

/* One line of /proc/self/mountinfo: the device ("major:minor"), the mount
 * point (octal escapes decoded) and the filesystem type. 0 or -1. */
int mountinfo_parse(const char *line, unsigned *major, unsigned *minor, char *mnt, size_t mntcap, char *fstype,
		    size_t typecap);
/* Filesystems whose files are never executables worth judging, or where
 * judging could wait on a user-space server (fuse): not marked. */
bool block_fs_skipped(const char *fstype);

void block_hex(const uint8_t sha[32], char out[65]);

#endif
