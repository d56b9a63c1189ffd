/* vigild's shared state, between the main loop (ring buffer, enrichment),
 * the output thread and the API thread. Internal to src/daemon. */
#ifndef VIGIL_DAEMON_H
#define VIGIL_DAEMON_H
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>
#include "config.h"
#include "../engine/engine.h"
#include "../event/event.h"
#include "../proc/proc.h"
#include "../respond/respond.h"
#include "../sensor/sensor.h"
#include "../store/state.h"
#include "../store/store.h"
#include "../store/writer.h"

#define VIGIL_STORE_DIR "/var/lib/vigil"

struct hook_rates {
	double events_per_sec[VG_HOOK_MAX];
	double total_per_sec;
};

struct daemon {
	struct vigil_config cfg;
	const char *config_path;
	const char *run_dir;
	const char *events_out_arg;
	int verbose;
	struct sensor *sensor;
	struct proc_cache pc;
	struct vg_host host;
	int64_t boot_to_wall_ns;

	/* enrichment -> output queue */
	pthread_mutex_t qlock;
	pthread_cond_t qcond;
	struct vg_event *qhead, *qtail;
	size_t qlen;
	/* record bytes queued, and in the batch the output thread is on: the
	 * count alone would let a flood of large exec records past MemoryMax */
	size_t qbytes, qbytes_busy;
	bool stopping;
	pthread_t out_thread;

	/* executables too large to hash before their exec event goes out,
	 * for the hash thread (hashing.c) */
	pthread_mutex_t hlock;
	pthread_cond_t hcond;
	struct hash_job *hhead, **htail;
	size_t hlen;
	bool hstopping, hthread_started;
	pthread_t hash_thread;
	uint64_t hash_skipped; /* under hlock: the hash queue was full */

	/* counters owned by user space (atomics) */
	uint64_t user_dropped[VG_HOOK_MAX];
	uint64_t received[VG_HOOK_MAX];
	uint64_t decode_errors;
	uint64_t written;
	uint64_t write_errors;

	/* rates, refreshed every second by the main loop */
	pthread_mutex_t rate_lock;
	struct hook_rates rates;
	uint64_t kcount[VG_HOOK_MAX][VG_CNT_MAX];

	FILE *out;
	pthread_t api_thread;
	int api_fd;
	pthread_mutex_t filter_lock; /* serialises filter map changes */
	uint64_t start_mono_ns;

	/* detection (detect.c): the engine runs in the output thread */
	const char *rules_dir;       /* --rules, else the shipped rules */
	char *rules_dir_owned;
	bool no_rules;               /* --no-rules */
	const char *alerts_out_arg;  /* --alerts-out */
	FILE *alerts;
	struct engine *engine;       /* output thread's */
	struct engine *engine_next;  /* a reloaded engine for the output thread (atomic) */
	bool rules_reloading;        /* atomic */
	pthread_t rules_thread;      /* the first build, while the sensor loads */
	bool rules_building;
	uint64_t cur_event_ns;       /* output thread: the event being matched */
	const struct vg_flat *cur_flat; /* output thread: its flat view */
	uint64_t alerts_total, incidents_total, rules_loaded; /* atomics */

	/* the store directory (--store; "" = none): state.db there holds the
	 * alerts and incidents (written by state's own thread) */
	const char *store_dir;
	struct state *state;
	/* the event store (src/store): the output thread hands each event to
	 * the store's own thread (store_writer), which writes and flushes it
	 * every cfg.store_flush_ms; NULL = none */
	struct store *store;
	struct store_writer *store_writer;
	char *store_dir_owned;

	/* the responder (src/respond): manual actions from the API thread,
	 * automatic ones queued by the output thread's alerts */
	struct responder *responder;
	char *response_dir_owned;
};

/* src/daemon/api.c */
int api_start(struct daemon *d);
void api_stop(struct daemon *d);
/* src/daemon/filters.c: applies the configuration's filters to the maps. */
int filters_apply(struct daemon *d, char *err, size_t errlen);
int filters_refresh_sensitive(struct daemon *d);
int filter_command(struct daemon *d, int argc, char **argv, struct strbuf *reply);
/* src/daemon/detect.c: rules, alerts and incidents. detect_init loads
 * the rules (errors are printed, never fatal; -1 only when --alerts-out
 * cannot be opened); detect_event runs in the output thread on each
 * encoded event; detect_reload (SIGHUP) builds a new engine in the
 * background and the output thread swaps it in. detect_init compiles the
 * rules on a thread of their own; detect_wait, before the first event,
 * waits for them. */
int detect_init(struct daemon *d);
void detect_wait(struct daemon *d);
bool detect_active(struct daemon *d);
/* fl: the event's flat view built while encoding (NULL: parsed from json). */
void detect_event(struct daemon *d, uint64_t event_ns, const char *json, size_t len, const struct vg_flat *fl);
bool detect_reload(struct daemon *d); /* true: a rebuild started */
void detect_close(struct daemon *d);
/* src/daemon/hashing.c: prepare_hash (enrichment) opens an exec's file
 * while the process lives; hash_exe (output thread) hashes it, or hands a
 * large one to the hash thread, whose result follows as an exe_hash event.
 * hash_usage: jobs waiting, and those the full queue refused. */
void prepare_hash(struct daemon *d, struct proc_image *img);
void hash_exe(struct daemon *d, struct proc_image *img);
void hash_start(struct daemon *d);
void hash_stop(struct daemon *d);
void hash_usage(struct daemon *d, uint64_t *queued, uint64_t *skipped);
/* src/daemon/response.c: opens the responder (never fatal), records
 * each action in state.db and as a "response" event, and hands alerts of
 * rules marked with a response to it. */
void response_init(struct daemon *d);
void response_close(struct daemon *d);
void response_on_alert(struct daemon *d, const struct engine_output *o, const struct vg_flat *alert);
void response_reload(struct daemon *d);
/* src/daemon/main.c: queues a user-space event whose "vigil" object is
 * json (owned, freed by the queue); action NULL = vigil_metrics. */
void daemon_emit_json(struct daemon *d, const char *action, char *json);
/* src/daemon/status.c */
void status_text(struct daemon *d, struct strbuf *out, bool json);
void metrics_json(struct daemon *d, struct strbuf *out);

#endif
