/* The event store's own thread. Events are handed over in memory and
 * encoded, written and fsynced there, so a slow disk never holds up the
 * thread that hands them over (in vigild: detection and response). Under
 * write pressure from other processes one fdatasync took ~150 ms here
 * (bench/RESULTS.md); on a busy production disk it can take seconds.
 *
 * The hand-over queue is bounded in bytes: past the bound an event is not
 * stored, and counted. */
#ifndef VIGIL_STORE_WRITER_H
#define VIGIL_STORE_WRITER_H
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include "store.h"

struct store_writer;

struct store_writer_stats {
	uint64_t queued;          /* events waiting, or being written */
	uint64_t queued_bytes;
	uint64_t dropped_backlog; /* not stored: the queue was over its bound */
};

/* Starts the thread that owns s from now on (until store_writer_stop):
 * it appends what is queued and calls store_flush at least every
 * flush_ms. max_bytes bounds the JSON bytes waiting. */
int store_writer_start(struct store_writer **out, struct store *s, unsigned flush_ms, size_t max_bytes);
/* Copies the event into the caller's stage: 0 staged, 1 dropped (over the
 * bound, or out of memory; counted). One thread appends and commits. */
int store_writer_append(struct store_writer *w, const char *json, size_t len, uint64_t ts_ns);
/* Hands what is staged to the thread, in one piece (a stage past 64 KiB is
 * handed over by append itself). */
void store_writer_commit(struct store_writer *w);
void store_writer_stats(struct store_writer *w, struct store_writer_stats *st);
/* The thread, for scheduling policy. */
pthread_t store_writer_thread(const struct store_writer *w);
/* Commits, writes everything queued, flushes and joins the thread; the store stays
 * open (store_close seals it). NULL is a no-op. */
void store_writer_stop(struct store_writer *w);

#endif
