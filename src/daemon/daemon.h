/* vigild's shared state, between the main loop (ring buffer, enrichment),
 * the output thread and the API thread. Internal to src/daemon. */
#ifndef VIGIL_DAEMON_H
#define VIGIL_DAEMON_H
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>
#include "config.h"
#include "../event/event.h"
#include "../proc/proc.h"
#include "../sensor/sensor.h"

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
	bool stopping;
	pthread_t out_thread;

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
};

/* src/daemon/api.c */
int api_start(struct daemon *d);
void api_stop(struct daemon *d);
/* src/daemon/filters.c: applies the configuration's filters to the maps. */
int filters_apply(struct daemon *d, char *err, size_t errlen);
int filters_refresh_sensitive(struct daemon *d);
int filter_command(struct daemon *d, int argc, char **argv, struct strbuf *reply);
/* src/daemon/status.c */
void status_text(struct daemon *d, struct strbuf *out, bool json);
void metrics_json(struct daemon *d, struct strbuf *out);

#endif
