/* The event store: append-only segments of zstd-compressed blocks (with a
 * dictionary trained on this host's events) holding events in a compact
 * binary form of their JSON (lossless: any stored event prints back as the
 * JSON vigild wrote). Each segment has an index from session (host, sid),
 * time, pid (+ start time), exe sha256 and remote address to its blocks,
 * kept in memory while the segment is open and written beside it when it is
 * sealed. Alerts, incidents and response actions live in SQLite (state.db)
 * in the same directory. One writer (vigild); any number of readers. */
#ifndef VIGIL_STORE_H
#define VIGIL_STORE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../event/flat.h"
#include "../util/strbuf.h"

struct store;

struct store_opts {
	const char *dir;               /* default /var/lib/vigil */
	uint64_t segment_max_bytes;    /* roll after this many compressed bytes (default 64 MiB) */
	uint32_t segment_max_age_s;    /* ... or this age (default 3600) */
	uint32_t flush_interval_ms;    /* at most this much is lost in a crash (default 1000) */
	uint64_t retention_bytes;      /* total size kept (default 1 GiB), oldest segments go first */
	uint32_t retention_age_s;      /* 0 = no age limit */
	uint32_t block_bytes;          /* uncompressed block size (default 256 KiB) */
};

struct store_stats {
	uint64_t events_written, blocks_written, bytes_written, segments;
	uint64_t dropped_disk_full;    /* events not stored because the disk was full */
	uint64_t write_errors;
	bool disk_full;                /* writing is paused until space returns */
};

/* Opens (creating) the store and recovers the tail of the last segment:
 * a torn or corrupt last block is cut off, never kept. */
int store_open(struct store **out, const struct store_opts *opts, char *err, size_t errlen);
/* Appends one event (its JSON and its flat view, for the index keys; fl
 * may be NULL: the store reads the keys while encoding). 0, 1 when it was
 * dropped (writing paused by a full disk and memory spent), -1 on error. */
int store_append(struct store *s, const char *json, size_t len, const struct vg_flat *fl,
		 uint64_t ts_ns);
/* Compresses and writes the pending block if there is one (and fsyncs);
 * the writer calls it at least every flush_interval_ms. */
int store_flush(struct store *s);
void store_stats(const struct store *s, struct store_stats *st);
void store_close(struct store *s);

/* Reading (no daemon needed). */
struct store_query {
	uint64_t from_ns, to_ns;   /* from_ns <= ts <= to_ns; 0 = unbounded */
	const char *host;
	int64_t sid;               /* -1 = any */
	int64_t pid;               /* -1 = any */
	const char *exe;           /* process.executable (exact) */
	const char *sha256;
	const char *remote_ip;     /* destination.ip or source.ip */
	int nconds;
	struct {
		const char *field;     /* ECS dotted name */
		const char *value;     /* exact match of any of the field's values */
	} conds[8];
	const char *text;          /* substring of command line or file path */
	size_t limit;              /* 0 = no limit */
};
/* Calls fn for each matching event in time order; fn returns non-zero to
 * stop. Corrupt or truncated segments are reported in warn (one line each)
 * and skipped. Returns the number of events delivered, or -1. */
typedef int (*store_row_fn)(void *ctx, const char *json, size_t len, uint64_t ts_ns);
long store_query(const char *dir, const struct store_query *q, store_row_fn fn, void *ctx,
		 struct strbuf *warn);

#endif
