/* The event store's own thread (writer.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "writer.h"
#include "../util/clock.h"
#include "../util/strbuf.h"

/* Staged events are handed over at the latest at this size, so a large
 * batch of the caller's is not held twice in memory whole. */
#define STAGE_MAX (64u << 10)

/* The events of one hand-over, each as [u64 ts_ns][u32 len][len bytes of
 * JSON], unaligned. */
struct batch {
	struct batch *next;
	uint64_t n, json_bytes;
	size_t len;
	char data[];
};

struct store_writer {
	struct store *store;
	uint64_t flush_ns;
	size_t max_bytes;
	pthread_t thread;
	/* the producer's side, touched by the thread that appends only */
	struct strbuf stage;
	uint64_t stage_n, stage_json;
	/* under lock */
	pthread_mutex_t lock;
	pthread_cond_t cond; /* CLOCK_MONOTONIC */
	struct batch *head, *tail;
	/* queued and in the batch being written: a batch taken off the queue
	 * still holds its memory until it is written. bytes is also read
	 * without the lock (append's bound), so it changes atomically. */
	uint64_t count, bytes;
	uint64_t dropped;
	bool stopping;
};

static void write_batch(struct store_writer *w, const struct batch *b)
{
	for (size_t off = 0; off + 12 <= b->len;) {
		uint64_t ts;
		uint32_t len;
		memcpy(&ts, b->data + off, 8);
		memcpy(&len, b->data + off + 8, 4);
		store_append(w->store, b->data + off + 12, len, NULL, ts);
		off += 12 + (size_t)len;
	}
}

static void *writer_main(void *arg)
{
	struct store_writer *w = arg;
	pthread_setname_np(pthread_self(), "vigild-store");
	uint64_t last_flush = clock_ns(CLOCK_MONOTONIC);
	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (!w->head && !w->stopping) {
			uint64_t due = last_flush + w->flush_ns;
			struct timespec ts = {.tv_sec = (time_t)(due / 1000000000ULL),
					      .tv_nsec = (long)(due % 1000000000ULL)};
			if (pthread_cond_timedwait(&w->cond, &w->lock, &ts) == ETIMEDOUT)
				break;
		}
		struct batch *list = w->head;
		w->head = w->tail = NULL;
		bool stop = w->stopping;
		pthread_mutex_unlock(&w->lock);

		uint64_t n = 0, bytes = 0;
		while (list) {
			struct batch *b = list;
			list = b->next;
			write_batch(w, b);
			n += b->n;
			bytes += b->json_bytes;
			free(b);
		}
		uint64_t now = clock_ns(CLOCK_MONOTONIC);
		if (stop || now - last_flush >= w->flush_ns) {
			store_flush(w->store);
			last_flush = now;
		}

		pthread_mutex_lock(&w->lock);
		w->count -= n;
		__atomic_sub_fetch(&w->bytes, bytes, __ATOMIC_RELAXED);
		/* what was handed over before the stop is written too */
		if (stop && !w->head)
			break;
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int store_writer_start(struct store_writer **out, struct store *s, unsigned flush_ms, size_t max_bytes)
{
	*out = NULL;
	struct store_writer *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->store = s;
	w->flush_ns = (uint64_t)(flush_ms ? flush_ms : 1) * 1000000ULL;
	w->max_bytes = max_bytes;
	sb_init(&w->stage);
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cond, &ca);
	pthread_condattr_destroy(&ca);
	int e = pthread_create(&w->thread, NULL, writer_main, w);
	if (e) {
		pthread_cond_destroy(&w->cond);
		pthread_mutex_destroy(&w->lock);
		sb_free(&w->stage);
		free(w);
		return -e;
	}
	*out = w;
	return 0;
}

int store_writer_append(struct store_writer *w, const char *json, size_t len, uint64_t ts_ns)
{
	uint64_t queued = __atomic_load_n(&w->bytes, __ATOMIC_RELAXED);
	size_t mark = w->stage.len;
	uint32_t len32 = (uint32_t)len;
	if (len > UINT32_MAX || queued + w->stage_json + len > w->max_bytes) {
		__atomic_add_fetch(&w->dropped, 1, __ATOMIC_RELAXED);
		return 1;
	}
	sb_put(&w->stage, &ts_ns, 8);
	sb_put(&w->stage, &len32, 4);
	sb_put(&w->stage, json, len);
	if (w->stage.oom) {
		/* what was staged before stays; this one is dropped */
		w->stage.len = mark;
		w->stage.oom = false;
		__atomic_add_fetch(&w->dropped, 1, __ATOMIC_RELAXED);
		return 1;
	}
	w->stage_n++;
	w->stage_json += len;
	if (w->stage.len >= STAGE_MAX)
		store_writer_commit(w);
	return 0;
}

void store_writer_commit(struct store_writer *w)
{
	if (!w || !w->stage_n)
		return;
	/* one allocation and one lock per hand-over, not per event */
	struct batch *b = malloc(sizeof(*b) + w->stage.len);
	if (!b) {
		__atomic_add_fetch(&w->dropped, w->stage_n, __ATOMIC_RELAXED);
	} else {
		b->next = NULL;
		b->n = w->stage_n;
		b->json_bytes = w->stage_json;
		b->len = w->stage.len;
		memcpy(b->data, w->stage.buf, w->stage.len);
		pthread_mutex_lock(&w->lock);
		bool was_empty = !w->head;
		if (w->tail)
			w->tail->next = b;
		else
			w->head = b;
		w->tail = b;
		w->count += b->n;
		__atomic_add_fetch(&w->bytes, b->json_bytes, __ATOMIC_RELAXED);
		pthread_mutex_unlock(&w->lock);
		/* the writer sleeps only on an empty queue */
		if (was_empty)
			pthread_cond_signal(&w->cond);
	}
	sb_reset(&w->stage);
	w->stage_n = w->stage_json = 0;
}

void store_writer_stats(struct store_writer *w, struct store_writer_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	st->queued = w->count;
	st->queued_bytes = __atomic_load_n(&w->bytes, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&w->lock);
	st->dropped_backlog = __atomic_load_n(&w->dropped, __ATOMIC_RELAXED);
}

pthread_t store_writer_thread(const struct store_writer *w)
{
	return w->thread;
}

void store_writer_stop(struct store_writer *w)
{
	if (!w)
		return;
	store_writer_commit(w);
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	sb_free(&w->stage);
	free(w);
}
