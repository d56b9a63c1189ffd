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

struct item {
	struct item *next;
	uint64_t ts_ns;
	size_t len;
	char json[];
};

struct store_writer {
	struct store *store;
	uint64_t flush_ns;
	size_t max_bytes;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* CLOCK_MONOTONIC */
	struct item *head, *tail;
	/* queued and in the batch being written: a batch taken off the queue
	 * still holds its memory until it is written */
	uint64_t count, bytes;
	uint64_t dropped;
	bool stopping;
};

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
		struct item *batch = w->head;
		w->head = w->tail = NULL;
		bool stop = w->stopping;
		pthread_mutex_unlock(&w->lock);

		uint64_t n = 0, bytes = 0;
		while (batch) {
			struct item *it = batch;
			batch = it->next;
			store_append(w->store, it->json, it->len, NULL, it->ts_ns);
			n++;
			bytes += it->len;
			free(it);
		}
		uint64_t now = clock_ns(CLOCK_MONOTONIC);
		if (stop || now - last_flush >= w->flush_ns) {
			store_flush(w->store);
			last_flush = now;
		}

		pthread_mutex_lock(&w->lock);
		w->count -= n;
		w->bytes -= bytes;
		/* what was queued before the stop is written too */
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
		free(w);
		return -e;
	}
	*out = w;
	return 0;
}

int store_writer_append(struct store_writer *w, const char *json, size_t len, uint64_t ts_ns)
{
	/* copied before taking the lock: the writer is not held up by it */
	struct item *it = malloc(sizeof(*it) + len);
	if (it) {
		it->next = NULL;
		it->ts_ns = ts_ns;
		it->len = len;
		memcpy(it->json, json, len);
	}
	pthread_mutex_lock(&w->lock);
	if (!it || w->bytes + len > w->max_bytes) {
		w->dropped++;
		pthread_mutex_unlock(&w->lock);
		free(it);
		return 1;
	}
	bool was_empty = !w->head;
	if (w->tail)
		w->tail->next = it;
	else
		w->head = it;
	w->tail = it;
	w->count++;
	w->bytes += len;
	pthread_mutex_unlock(&w->lock);
	/* the writer sleeps only on an empty queue */
	if (was_empty)
		pthread_cond_signal(&w->cond);
	return 0;
}

void store_writer_stats(struct store_writer *w, struct store_writer_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	st->queued = w->count;
	st->queued_bytes = w->bytes;
	st->dropped_backlog = w->dropped;
	pthread_mutex_unlock(&w->lock);
}

pthread_t store_writer_thread(const struct store_writer *w)
{
	return w->thread;
}

void store_writer_stop(struct store_writer *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w);
}
