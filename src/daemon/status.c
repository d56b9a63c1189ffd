/* `vigil status` and the periodic self-metrics event. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "daemon.h"
#include "../util/clock.h"

struct self_usage {
	double cpu_seconds;
	long rss_kib;
};

static void self_usage(struct self_usage *u)
{
	u->cpu_seconds = 0;
	u->rss_kib = 0;
	struct timespec ts;
	if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) == 0)
		u->cpu_seconds = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	FILE *f = fopen("/proc/self/status", "re");
	if (!f)
		return;
	char line[256];
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld", &u->rss_kib) == 1)
			break;
	fclose(f);
}

/* "store": {...} (an object in the JSON forms) */
static void store_json(struct daemon *d, struct jw *w)
{
	struct store_stats st;
	store_stats(d->store, &st);
	jw_obj_open(w, "store");
	jw_bool(w, "enabled", d->store != NULL);
	if (d->store_dir && *d->store_dir)
		jw_str(w, "dir", d->store_dir);
	jw_uint(w, "events_written", st.events_written);
	jw_uint(w, "bytes_written", st.bytes_written);
	jw_uint(w, "segments", st.segments);
	jw_bool(w, "disk_full", st.disk_full);
	jw_uint(w, "dropped_disk_full", st.dropped_disk_full);
	jw_uint(w, "write_errors", st.write_errors);
	struct store_writer_stats ws;
	store_writer_stats(d->store_writer, &ws);
	jw_uint(w, "queued", ws.queued);
	jw_uint(w, "queued_bytes", ws.queued_bytes);
	jw_uint(w, "dropped_backlog", ws.dropped_backlog);
	jw_obj_close(w);
}

/* "response": {...}: the responder's counters */
static void response_json(struct daemon *d, struct jw *w)
{
	struct responder_stats st = {0};
	if (d->responder)
		responder_stats(d->responder, &st);
	jw_obj_open(w, "response");
	jw_bool(w, "enabled", d->responder != NULL);
	jw_str(w, "mode", respond_mode_name(d->cfg.response_mode));
	jw_uint(w, "actions", st.actions);
	jw_uint(w, "dry_run", st.dry_run);
	jw_uint(w, "refused", st.refused);
	jw_uint(w, "rate_limited", st.rate_limited);
	jw_uint(w, "failed", st.failed);
	jw_uint(w, "skipped", st.skipped);
	jw_uint(w, "blocks", st.blocks);
	jw_uint(w, "blocked_execs", st.blocked_execs);
	jw_uint(w, "isolations", st.isolations);
	jw_uint(w, "quarantined", st.quarantined);
	jw_obj_close(w);
}

struct snapshot {
	uint64_t k[VG_HOOK_MAX][VG_CNT_MAX];
	uint64_t user_dropped[VG_HOOK_MAX];
	struct hook_rates rates;
	uint64_t drops_total, emitted_total, filtered_total;
};

static void snap(struct daemon *d, struct snapshot *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_lock(&d->rate_lock);
	if (d->sensor)
		sensor_counters(d->sensor, s->k);
	else
		memcpy(s->k, d->kcount, sizeof(s->k));
	s->rates = d->rates;
	pthread_mutex_unlock(&d->rate_lock);
	for (int h = 0; h < VG_HOOK_MAX; h++) {
		s->user_dropped[h] = __atomic_load_n(&d->user_dropped[h], __ATOMIC_RELAXED);
		s->drops_total += s->k[h][VG_CNT_RB_FULL] + s->k[h][VG_CNT_RATE_LIMITED] + s->user_dropped[h];
		s->emitted_total += s->k[h][VG_CNT_EMITTED];
		s->filtered_total += s->k[h][VG_CNT_FILTERED];
	}
}

static double last_cpu, last_wall;

/* Events waiting for the output thread, and their bytes with the batch it
 * is writing. */
static void queue_usage(struct daemon *d, size_t *len, size_t *bytes)
{
	pthread_mutex_lock(&d->qlock);
	*len = d->qlen;
	*bytes = d->qbytes + d->qbytes_busy;
	pthread_mutex_unlock(&d->qlock);
}

void metrics_json(struct daemon *d, struct strbuf *out)
{
	struct snapshot s;
	struct self_usage u;
	snap(d, &s);
	self_usage(&u);
	double wall = (double)clock_ns(CLOCK_MONOTONIC) / 1e9;
	double cpu_pct = 0;
	if (last_wall > 0 && wall > last_wall)
		cpu_pct = 100.0 * (u.cpu_seconds - last_cpu) / (wall - last_wall);
	last_cpu = u.cpu_seconds;
	last_wall = wall;
	size_t qlen, qbytes;
	queue_usage(d, &qlen, &qbytes);
	struct jw w;
	jw_init(&w, out);
	jw_obj_open(&w, NULL);
	jw_obj_open(&w, "metrics");
	jw_uint(&w, "events_total", s.emitted_total);
	jw_int(&w, "events_per_sec", (int64_t)(s.rates.total_per_sec + 0.5));
	jw_uint(&w, "drops_total", s.drops_total);
	jw_uint(&w, "filtered_total", s.filtered_total);
	jw_uint(&w, "decode_errors", __atomic_load_n(&d->decode_errors, __ATOMIC_RELAXED));
	jw_uint(&w, "written", __atomic_load_n(&d->written, __ATOMIC_RELAXED));
	jw_uint(&w, "write_errors", __atomic_load_n(&d->write_errors, __ATOMIC_RELAXED));
	jw_uint(&w, "queue_depth", qlen);
	jw_uint(&w, "queue_bytes", qbytes);
	uint64_t hq, hs;
	hash_usage(d, &hq, &hs);
	jw_uint(&w, "hash_queued", hq);
	jw_uint(&w, "hash_skipped", hs);
	jw_int(&w, "rss_kib", u.rss_kib);
	char pct[32];
	snprintf(pct, sizeof(pct), "%.2f", cpu_pct);
	jw_raw(&w, "cpu_percent", pct);
	jw_uint(&w, "proc_cache_entries", d->pc.procs.count);
	jw_uint(&w, "rules_loaded", __atomic_load_n(&d->rules_loaded, __ATOMIC_RELAXED));
	jw_uint(&w, "alerts_total", __atomic_load_n(&d->alerts_total, __ATOMIC_RELAXED));
	jw_uint(&w, "incidents_total", __atomic_load_n(&d->incidents_total, __ATOMIC_RELAXED));
	store_json(d, &w);
	response_json(d, &w);
	jw_obj_open(&w, "drops");
	for (int h = 0; h < VG_HOOK_MAX; h++) {
		uint64_t n = s.k[h][VG_CNT_RB_FULL] + s.k[h][VG_CNT_RATE_LIMITED] + s.user_dropped[h];
		if (n)
			jw_uint(&w, sensor_hooks[h].name, n);
	}
	jw_obj_close(&w);
	jw_obj_close(&w);
	jw_obj_close(&w);
}

void status_text(struct daemon *d, struct strbuf *out, bool json)
{
	struct snapshot s;
	struct self_usage u;
	snap(d, &s);
	self_usage(&u);
	double up = (double)(clock_ns(CLOCK_MONOTONIC) - d->start_mono_ns) / 1e9;
	if (json) {
		struct jw w;
		jw_init(&w, out);
		jw_obj_open(&w, NULL);
		jw_int(&w, "pid", getpid());
		jw_int(&w, "uptime_s", (int64_t)up);
		jw_int(&w, "rss_kib", u.rss_kib);
		jw_int(&w, "events_per_sec", (int64_t)(s.rates.total_per_sec + 0.5));
		jw_uint(&w, "events_total", s.emitted_total);
		jw_uint(&w, "drops_total", s.drops_total);
		jw_uint(&w, "decode_errors", __atomic_load_n(&d->decode_errors, __ATOMIC_RELAXED));
		size_t qlen, qbytes;
		queue_usage(d, &qlen, &qbytes);
		jw_uint(&w, "queue_depth", qlen);
		jw_uint(&w, "queue_bytes", qbytes);
		uint64_t hq, hs;
		hash_usage(d, &hq, &hs);
		jw_uint(&w, "hash_queued", hq);
		jw_uint(&w, "hash_skipped", hs);
		jw_uint(&w, "storm_polls", d->sensor ? sensor_storm_polls(d->sensor) : 0);
		jw_uint(&w, "rules_loaded", __atomic_load_n(&d->rules_loaded, __ATOMIC_RELAXED));
		jw_uint(&w, "alerts_total", __atomic_load_n(&d->alerts_total, __ATOMIC_RELAXED));
		jw_uint(&w, "incidents_total", __atomic_load_n(&d->incidents_total, __ATOMIC_RELAXED));
		store_json(d, &w);
		response_json(d, &w);
		jw_obj_open(&w, "hooks");
		for (int h = 0; h < VG_HOOK_MAX; h++) {
			jw_obj_open(&w, sensor_hooks[h].name);
			jw_bool(&w, "active", d->sensor && sensor_hook_active(d->sensor, h));
			jw_uint(&w, "events", s.k[h][VG_CNT_EMITTED]);
			jw_int(&w, "events_per_sec", (int64_t)(s.rates.events_per_sec[h] + 0.5));
			jw_uint(&w, "dropped_ringbuf_full", s.k[h][VG_CNT_RB_FULL]);
			jw_uint(&w, "dropped_rate_limited", s.k[h][VG_CNT_RATE_LIMITED]);
			jw_uint(&w, "dropped_userspace", s.user_dropped[h]);
			jw_uint(&w, "filtered", s.k[h][VG_CNT_FILTERED]);
			jw_obj_close(&w);
		}
		jw_obj_close(&w);
		jw_obj_close(&w);
		return;
	}
	sb_printf(out, "vigild pid %d, up %.0f s, RSS %ld KiB, %.0f events/s, %llu events, %llu dropped\n",
		  getpid(), up, u.rss_kib, s.rates.total_per_sec, (unsigned long long)s.emitted_total,
		  (unsigned long long)s.drops_total);
	sb_printf(out, "%llu rules, %llu alerts, %llu incidents\n",
		  (unsigned long long)__atomic_load_n(&d->rules_loaded, __ATOMIC_RELAXED),
		  (unsigned long long)__atomic_load_n(&d->alerts_total, __ATOMIC_RELAXED),
		  (unsigned long long)__atomic_load_n(&d->incidents_total, __ATOMIC_RELAXED));
	if (d->store) {
		struct store_stats st;
		store_stats(d->store, &st);
		struct store_writer_stats ws;
		store_writer_stats(d->store_writer, &ws);
		sb_printf(out, "store %s: %llu events written, %llu bytes, %llu segments%s, %llu waiting, "
			  "%llu dropped (disk full), %llu dropped (backlog), %llu write errors\n",
			  d->store_dir, (unsigned long long)st.events_written, (unsigned long long)st.bytes_written,
			  (unsigned long long)st.segments, st.disk_full ? ", DISK FULL: writing paused" : "",
			  (unsigned long long)ws.queued, (unsigned long long)st.dropped_disk_full,
			  (unsigned long long)ws.dropped_backlog, (unsigned long long)st.write_errors);
	} else {
		sb_printf(out, "store: off\n");
	}
	if (d->responder) {
		struct responder_stats rs;
		responder_stats(d->responder, &rs);
		sb_printf(out, "response (automatic: %s): %llu actions, %llu dry-run, %llu refused (%llu rate limited), "
			  "%llu failed, %llu skipped (process gone); %llu blocks (%llu execs denied), %llu isolated, %llu quarantined\n",
			  respond_mode_name(d->cfg.response_mode), (unsigned long long)rs.actions, (unsigned long long)rs.dry_run,
			  (unsigned long long)rs.refused, (unsigned long long)rs.rate_limited,
			  (unsigned long long)rs.failed, (unsigned long long)rs.skipped, (unsigned long long)rs.blocks,
			  (unsigned long long)rs.blocked_execs, (unsigned long long)rs.isolations,
			  (unsigned long long)rs.quarantined);
	} else {
		sb_printf(out, "response: unavailable\n");
	}
	sb_printf(out, "%-10s %-6s %10s %12s %10s %10s %10s %10s\n", "hook", "active", "events/s", "events",
		  "rb_full", "rate_cap", "userspace", "filtered");
	for (int h = 0; h < VG_HOOK_MAX; h++)
		sb_printf(out, "%-10s %-6s %10.0f %12llu %10llu %10llu %10llu %10llu\n", sensor_hooks[h].name,
			  d->sensor && sensor_hook_active(d->sensor, h) ? "yes" : "no",
			  s.rates.events_per_sec[h], (unsigned long long)s.k[h][VG_CNT_EMITTED],
			  (unsigned long long)s.k[h][VG_CNT_RB_FULL],
			  (unsigned long long)s.k[h][VG_CNT_RATE_LIMITED],
			  (unsigned long long)s.user_dropped[h], (unsigned long long)s.k[h][VG_CNT_FILTERED]);
}
