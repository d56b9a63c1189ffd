/* vigild: wiring. The main thread consumes the ring buffer and enriches
 * records into events in order; the output thread hashes executables and
 * writes JSON; the API thread answers `vigil`. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stddef.h>
#include <malloc.h>
#include <signal.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "daemon.h"
#include "api_proto.h"
#include "../proc/exehash.h"
#include "../sensor/blob.h"
#include "../util/clock.h"

static volatile sig_atomic_t got_stop, got_hup;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		got_hup = 1;
	else
		got_stop = 1;
}

static void log_line(const char *line)
{
	fprintf(stderr, "vigild: %s\n", line);
}

/* ---- queue ---------------------------------------------------------- */

static void enqueue(struct daemon *d, struct vg_event *ev, int hook)
{
	pthread_mutex_lock(&d->qlock);
	/* stopping: the output thread has taken its last batch (a response
	 * record from the responder's last jobs would never be freed) */
	size_t cost = offsetof(struct vg_event, rec) + ev->len;
	if (d->qlen >= d->cfg.queue_max || d->qbytes + d->qbytes_busy + cost > (size_t)d->cfg.queue_max_mb << 20 ||
	    d->stopping) {
		pthread_mutex_unlock(&d->qlock);
		if (hook >= 0)
			__atomic_add_fetch(&d->user_dropped[hook], 1, __ATOMIC_RELAXED);
		vg_event_free(ev);
		return;
	}
	ev->next = NULL;
	if (d->qtail)
		d->qtail->next = ev;
	else
		d->qhead = ev;
	d->qtail = ev;
	d->qlen++;
	d->qbytes += cost;
	if (d->qlen == 1)
		pthread_cond_signal(&d->qcond);
	pthread_mutex_unlock(&d->qlock);
}

/* SCHED_BATCH for one thread (Linux scheduling calls act on threads,
 * not processes): same weight, no wakeup preemption. Event processing comes in
 * bursts that wake it while the processes making the events run; with the
 * normal policy it preempted them (a file storm ran x1.28 slower, x1.18
 * with SCHED_BATCH, x1.17 at nice 19 which would starve detection). */
static void sched_batch(const struct daemon *d, pthread_t thread, const char *who)
{
	if (!d->cfg.batch_scheduling)
		return;
	struct sched_param sp = {.sched_priority = 0};
	int e = pthread_setschedparam(thread, SCHED_BATCH, &sp);
	if (e)
		fprintf(stderr, "vigild: %s thread: SCHED_BATCH: %s (keeping the normal policy)\n", who, strerror(e));
}

static void *output_main(void *arg)
{
	struct daemon *d = arg;
	/* threads are named so that top -H and perf tell which part of
	 * vigild a CPU cost belongs to */
	pthread_setname_np(pthread_self(), "vigild-output");
	struct strbuf sb;
	sb_init(&sb);
	/* the event's flat view, built while its JSON is written: the engine
	 * and the store never parse the JSON back */
	struct vg_flat *fl = malloc(sizeof(*fl));
	if (fl)
		vg_flat_init(fl);
	for (;;) {
		pthread_mutex_lock(&d->qlock);
		while (!d->qhead && !d->stopping)
			pthread_cond_wait(&d->qcond, &d->qlock);
		struct vg_event *batch = d->qhead;
		d->qhead = d->qtail = NULL;
		d->qlen = 0;
		d->qbytes_busy = d->qbytes;
		d->qbytes = 0;
		bool stop = d->stopping;
		pthread_mutex_unlock(&d->qlock);
		while (batch) {
			struct vg_event *ev = batch;
			batch = ev->next;
			if (ev->img && ev->len >= sizeof(struct vg_hdr) && ev->rec.hdr.type == VG_EV_EXEC) {
				hash_exe(d, ev->img);
				/* a blocked binary that ran anyway (memfd, ...) dies now */
				if (d->responder && ev->img->sha256[0])
					responder_on_exec(d->responder, (pid_t)ev->img->pid, ev->rec.hdr.task.start_ns,
							  ev->img->sha256, ev->img->exe);
			}
			bool detect = !ev->extra_json && detect_active(d);
			if (d->out || detect || d->store_writer) {
				sb_reset(&sb);
				struct vg_flat *efl = detect ? fl : NULL;
				vg_event_json_flat(&sb, ev, &d->host, efl);
				size_t jlen = sb.len;
				sb_putc(&sb, '\n');
				if (d->out && fwrite(sb.buf, 1, sb.len, d->out) != sb.len)
					__atomic_add_fetch(&d->write_errors, 1, __ATOMIC_RELAXED);
				else if (d->out)
					__atomic_add_fetch(&d->written, 1, __ATOMIC_RELAXED);
				/* detection after the event is written: the sensor's
				 * path is untouched */
				if (detect && !sb.oom)
					detect_event(d, ev->wall_ns, sb.buf, jlen, efl);
				/* a copy for the store's thread (handed over once per
				 * batch): its writes and fsyncs never hold up detection */
				if (d->store_writer && !sb.oom)
					store_writer_append(d->store_writer, sb.buf, jlen, ev->wall_ns);
			}
			vg_event_free(ev);
		}
		pthread_mutex_lock(&d->qlock);
		d->qbytes_busy = 0;
		pthread_mutex_unlock(&d->qlock);
		store_writer_commit(d->store_writer);
		if (d->out)
			fflush(d->out);
		if (stop)
			break;
	}
	vg_event_pool_flush();
	sb_free(&sb);
	if (fl)
		vg_flat_free(fl);
	free(fl);
	return NULL;
}

/* ---- enrichment ----------------------------------------------------- */

static struct proc_image *image_of(struct daemon *d, uint32_t pid, uint64_t start_ns)
{
	struct proc_entry *e = pc_get(&d->pc, pid, start_ns);
	return e ? img_get(e->img) : NULL;
}

static int on_record(void *ctx, const void *rec, size_t len)
{
	struct daemon *d = ctx;
	if (vg_record_check(rec, len)) {
		__atomic_add_fetch(&d->decode_errors, 1, __ATOMIC_RELAXED);
		return 0;
	}
	const struct vg_hdr *h = rec;
	__atomic_add_fetch(&d->received[h->hook], 1, __ATOMIC_RELAXED);
	struct vg_event *ev = vg_event_new(rec, len);
	if (!ev) {
		__atomic_add_fetch(&d->user_dropped[h->hook], 1, __ATOMIC_RELAXED);
		return 0;
	}
	const struct vg_task_ctx *t = &h->task;
	ev->wall_ns = h->ts + (uint64_t)d->boot_to_wall_ns;
	uint32_t target = 0;
	switch (h->type) {
	case VG_EV_EXEC: {
		ev->img = pc_on_exec(&d->pc, rec, len);
		if (ev->img)
			prepare_hash(d, ev->img);
		ev->nanc = pc_ancestors(&d->pc, t->pid, t->start_ns, ev->anc, ev->anc_pid, VG_MAX_ANCESTORS);
		break;
	}
	case VG_EV_FORK: {
		const struct vg_fork *f = rec;
		pc_on_fork(&d->pc, t->pid, t->start_ns, f->child_pid, f->child_start_ns);
		ev->img = image_of(d, t->pid, t->start_ns);
		break;
	}
	case VG_EV_COMM:
		target = ((const struct vg_comm *)rec)->target_pid;
		ev->img = image_of(d, t->pid, t->start_ns);
		break;
	case VG_EV_PTRACE:
		target = ((const struct vg_ptrace *)rec)->target_pid;
		ev->img = image_of(d, t->pid, t->start_ns);
		break;
	case VG_EV_SIGNAL:
		target = ((const struct vg_signal *)rec)->target_pid;
		ev->img = image_of(d, t->pid, t->start_ns);
		break;
	default:
		ev->img = image_of(d, t->pid, t->start_ns);
		break;
	}
	if (target && target != t->pid) {
		struct proc_entry *te = htab_get(&d->pc.procs, target);
		if (!te)
			te = pc_get(&d->pc, target, 0);
		ev->target = te ? img_get(te->img) : NULL;
	}
	if (t->ppid) {
		struct proc_entry *pe = htab_get(&d->pc.procs, t->ppid);
		if (!pe)
			pe = pc_get(&d->pc, t->ppid, 0);
		ev->parent = pe ? img_get(pe->img) : NULL;
	}
	ev->cgroup = pc_cgroup(&d->pc, t->cgroup_id, t->pid);
	if (h->type == VG_EV_EXIT)
		pc_on_exit(&d->pc, t->pid);
	enqueue(d, ev, h->hook);
	return 0;
}

/* ---- periodic work -------------------------------------------------- */

static void refresh_rates(struct daemon *d, double secs)
{
	uint64_t now[VG_HOOK_MAX][VG_CNT_MAX];
	sensor_counters(d->sensor, now);
	pthread_mutex_lock(&d->rate_lock);
	double total = 0;
	for (int h = 0; h < VG_HOOK_MAX; h++) {
		double r = secs > 0 ? (double)(now[h][VG_CNT_EMITTED] - d->kcount[h][VG_CNT_EMITTED]) / secs : 0;
		d->rates.events_per_sec[h] = r;
		total += r;
	}
	d->rates.total_per_sec = total;
	memcpy(d->kcount, now, sizeof(now));
	pthread_mutex_unlock(&d->rate_lock);
}

void daemon_emit_json(struct daemon *d, const char *action, char *json)
{
	struct vg_hdr zero = {0};
	struct vg_event *ev = json ? vg_event_new(&zero, sizeof(zero)) : NULL;
	if (!ev) {
		free(json);
		return;
	}
	ev->wall_ns = clock_ns(CLOCK_REALTIME);
	ev->extra_json = json; /* ownership moves to the event */
	ev->extra_action = action;
	enqueue(d, ev, -1);
}

static void emit_metrics(struct daemon *d)
{
	struct strbuf sb;
	sb_init(&sb);
	metrics_json(d, &sb);
	if (sb.oom) {
		sb_free(&sb);
		return;
	}
	daemon_emit_json(d, NULL, sb.buf);
}

static int open_output(struct daemon *d, const char *path)
{
	if (!path || !*path) {
		d->out = NULL;
		return 0;
	}
	if (strcmp(path, "-") == 0) {
		d->out = stdout;
	} else {
		int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (fd < 0) {
			fprintf(stderr, "vigild: cannot open events output %s: %s\n", path, strerror(errno));
			return -1;
		}
		d->out = fdopen(fd, "a");
	}
	if (d->out)
		{
		/* glibc ignores the size without a buffer: give it one */
		static char outbuf[1 << 20];
		setvbuf(d->out, outbuf, _IOFBF, sizeof(outbuf));
	}
	return d->out ? 0 : -1;
}

static int take_lock(const char *run_dir)
{
	char path[512];
	if (mkdir(run_dir, 0700) && errno != EEXIST) {
		fprintf(stderr, "vigild: cannot create %s: %s\n", run_dir, strerror(errno));
		return -1;
	}
	chmod(run_dir, 0700);
	snprintf(path, sizeof(path), "%s/%s", run_dir, VIGIL_LOCK_NAME);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB)) {
		fprintf(stderr, "vigild: another vigild is running (lock %s held)\n", path);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	char pid[32];
	int n = snprintf(pid, sizeof(pid), "%d\n", getpid());
	if (ftruncate(fd, 0) == 0 && write(fd, pid, (size_t)n) != n)
		fprintf(stderr, "vigild: cannot write pid to %s\n", path);
	return fd;
}

static void read_host(struct vg_host *h, const struct proc_cache *pc)
{
	snprintf(h->name, sizeof(h->name), "%s", pc->hostname);
	FILE *f = fopen("/etc/machine-id", "re");
	if (f) {
		if (fgets(h->id, sizeof(h->id), f))
			h->id[strcspn(h->id, "\n")] = 0;
		fclose(f);
	}
}

/* Takes the configuration file anew; false when it was refused. */
static bool reload(struct daemon *d)
{
	struct vigil_config c;
	char err[512];
	config_defaults(&c);
	if (config_load(&c, d->config_path, err, sizeof(err))) {
		fprintf(stderr, "vigild: reload refused, keeping the running configuration: %s\n", err);
		config_free(&c);
		return false;
	}
	/* only what can change without re-attaching is taken */
	c.ringbuf_mb = d->cfg.ringbuf_mb;
	memcpy(c.hook_off, d->cfg.hook_off, sizeof(c.hook_off));
	char *events_out = d->cfg.events_out;
	d->cfg.events_out = NULL;
	free(c.events_out);
	c.events_out = events_out;
	pthread_mutex_lock(&d->filter_lock);
	config_free(&d->cfg);
	d->cfg = c;
	pthread_mutex_unlock(&d->filter_lock);
	if (filters_apply(d, err, sizeof(err))) {
		fprintf(stderr, "vigild: reload: %s\n", err);
		return false;
	}
	return true;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: vigild [--config FILE] [--events-out PATH|-] [--run-dir DIR] [--rules DIR | --no-rules]\n"
		"              [--alerts-out PATH|-] [--store DIR | --no-store] [--foreground] [-v]\n"
		"  Records process, file, network and privilege events with eBPF.\n"
		"  --config FILE      configuration (default /etc/vigil/vigild.conf)\n"
		"  --events-out PATH  write each event as a JSON line ('-' = stdout)\n"
		"  --run-dir DIR      lock file and API socket (default " VIGIL_RUN_DIR ")\n"
		"  --rules DIR        Sigma rules (default: the shipped rules/; SIGHUP reloads them)\n"
		"  --no-rules         record events only, no detection\n"
		"  --alerts-out PATH  write each alert and incident as a JSON line ('-' = stdout)\n"
		"  --store DIR        the store: events, alerts, incidents (default " VIGIL_STORE_DIR ")\n"
		"  --no-store         keep nothing on disk\n");
}

int main(int argc, char **argv)
{
	static struct daemon dd;
	struct daemon *d = &dd;
	/* A fixed threshold: glibc's own follows the largest block freed
	 * (the store's dictionary samples, a backlog after a disk stall) up to
	 * 32 MiB, and blocks below it then live in the arenas, fragmented
	 * among small ones that malloc_trim cannot return: at 100k events/s
	 * RSS held 11-18 MiB more with it. */
	mallopt(M_MMAP_THRESHOLD, 256 << 10);
	d->config_path = "/etc/vigil/vigild.conf";
	d->run_dir = VIGIL_RUN_DIR;
	static const struct option opts[] = {
		{"config", required_argument, 0, 'c'}, {"events-out", required_argument, 0, 'o'},
		{"run-dir", required_argument, 0, 'r'}, {"foreground", no_argument, 0, 'f'},
		{"help", no_argument, 0, 'h'}, {"rules", required_argument, 0, 1001},
		{"no-rules", no_argument, 0, 1002}, {"alerts-out", required_argument, 0, 1003},
		{"store", required_argument, 0, 1100}, {"no-store", no_argument, 0, 1101},
		{0, 0, 0, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "c:o:r:fhv", opts, NULL)) != -1) {
		switch (c) {
		case 'c': d->config_path = optarg; break;
		case 'o': d->events_out_arg = optarg; break;
		case 'r': d->run_dir = optarg; break;
		case 'f': break;
		case 'v': d->verbose++; break;
		case 'h': usage(); return 0;
		case 1001: d->rules_dir = optarg; break;
		case 1002: d->no_rules = true; break;
		case 1003: d->alerts_out_arg = optarg; break;
		case 1100: d->store_dir = optarg; break;
		case 1101: d->store_dir = ""; break;
		default: usage(); return 2;
		}
	}
	if (optind < argc) {
		usage();
		return 2;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "vigild: must run as root (it loads eBPF programs)\n");
		return 1;
	}
	umask(077);
	char err[512];
	config_defaults(&d->cfg);
	if (config_load(&d->cfg, d->config_path, err, sizeof(err))) {
		fprintf(stderr, "vigild: %s\n", err);
		return 1;
	}
	if (d->events_out_arg) {
		free(d->cfg.events_out);
		d->cfg.events_out = strdup(d->events_out_arg);
	}
	int lock_fd = take_lock(d->run_dir);
	if (lock_fd < 0)
		return 1;

	pthread_mutex_init(&d->qlock, NULL);
	pthread_cond_init(&d->qcond, NULL);
	pthread_mutex_init(&d->rate_lock, NULL);
	pthread_mutex_init(&d->filter_lock, NULL);
	exehash_init((uint64_t)d->cfg.hash_max_mb << 20);
	if (pc_init(&d->pc, "/proc")) {
		fprintf(stderr, "vigild: out of memory\n");
		return 1;
	}
	read_host(&d->host, &d->pc);
	if (open_output(d, d->cfg.events_out))
		return 1;
	if (detect_init(d))
		return 1;
	/* alerts, incidents (and response actions): state.db in the store */
	if (!d->store_dir) /* --store, else the configuration's, else the default */
		d->store_dir = d->store_dir_owned = strdup(d->cfg.store_dir ? d->cfg.store_dir : VIGIL_STORE_DIR);
	if (d->store_dir && *d->store_dir) {
		struct store_opts sto = {
			.dir = d->store_dir,
			.flush_interval_ms = d->cfg.store_flush_ms,
			.segment_max_bytes = (uint64_t)d->cfg.store_segment_mb << 20,
			.retention_bytes = (uint64_t)d->cfg.store_retention_mb << 20,
			.retention_age_s = d->cfg.store_retention_days * 86400u,
		};
		/* not fatal: without a store vigild still detects and writes JSON */
		if (store_open(&d->store, &sto, err, sizeof(err))) {
			fprintf(stderr, "vigild: events will not be stored: %s\n", err);
		} else if (store_writer_start(&d->store_writer, d->store, d->cfg.store_flush_ms,
					      (size_t)d->cfg.queue_max_mb << 20)) {
			fprintf(stderr, "vigild: events will not be stored: cannot start the store's thread\n");
			store_close(d->store);
			d->store = NULL;
		}
	}
	if (*d->store_dir && state_open(&d->state, d->store_dir, false, err, sizeof(err)) == 0)
		state_start_writer(d->state);
	else if (*d->store_dir)
		fprintf(stderr, "vigild: alerts and incidents will not be stored: %s\n", err);
	/* before the sensor: blocks are in force from the first exec it sees */
	response_init(d);

	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct sensor_opts so = {
		.ringbuf_bytes = (size_t)d->cfg.ringbuf_mb << 20,
		.argv_max = d->cfg.argv_max,
		.env_max = d->cfg.env_max,
		.module_fallback = d->cfg.module_fallback,
		.on_record = on_record,
		.ctx = d,
		.log = log_line,
	};
	memcpy(so.hook_off, d->cfg.hook_off, sizeof(so.hook_off));
	int sensor_err = sensor_open(&d->sensor, &so, err, sizeof(err));
	detect_wait(d); /* the rules compiled meanwhile */
	if (sensor_err) {
		fprintf(stderr, "vigild: %s\n", err);
		return 1;
	}
	if (filters_apply(d, err, sizeof(err)))
		fprintf(stderr, "vigild: %s\n", err);
	/* processes that started before vigild get their context from /proc */
	int scanned = pc_scan(&d->pc);
	/* loading parsed the kernel's BTF several times: return that memory */
	malloc_trim(0);
	d->boot_to_wall_ns = (int64_t)(clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_BOOTTIME));
	d->start_mono_ns = clock_ns(CLOCK_MONOTONIC);
	hash_start(d); /* before the output thread, which hands it work */
	if (pthread_create(&d->out_thread, NULL, output_main, d)) {
		fprintf(stderr, "vigild: cannot start the output thread\n");
		return 1;
	}
	if (api_start(d))
		fprintf(stderr, "vigild: API socket unavailable; `vigil` cannot reach this daemon\n");
	/* after the responder's and the API's threads exist: they keep the
	 * normal policy (exec permission answers must not wait). Both event
	 * threads are switched from here, before "ready", so that whoever
	 * waits for "ready" sees the policy in place. */
	sched_batch(d, d->out_thread, "output");
	sched_batch(d, pthread_self(), "sensor");
	if (d->hthread_started)
		sched_batch(d, d->hash_thread, "hash");
	if (d->store_writer)
		sched_batch(d, store_writer_thread(d->store_writer), "store");
	fprintf(stderr, "vigild: ready (%d attach points, %d processes from /proc)\n",
		sensor_attached(d->sensor), scanned);

	uint64_t last_rate = clock_ns(CLOCK_MONOTONIC), last_metrics = last_rate, last_sens = last_rate;
	unsigned trim_tick = 0;
	while (!got_stop) {
		/* the BPF side wakes us at most every 20 ms per CPU (VG_WAKE_NS):
		 * polling as often bounds how long the tail of a burst waits */
		int r = sensor_poll(d->sensor, 20);
		if (r < 0 && r != -EINTR) {
			fprintf(stderr, "vigild: ring buffer poll failed: %s\n", strerror(-r));
			break;
		}
		if (got_hup) {
			got_hup = 0;
			bool ok = reload(d);
			response_reload(d);
			bool rebuilding = detect_reload(d);
			/* said once the sensor and the responder have it; the
			 * rules build on their own thread, and "N rules loaded
			 * ... on reload" says when they are done */
			if (ok)
				fprintf(stderr, "vigild: configuration reloaded from %s%s\n", d->config_path,
					rebuilding ? "; rebuilding the rules" : "");
		}
		uint64_t now = clock_ns(CLOCK_MONOTONIC);
		if (now - last_rate >= 1000000000ULL) {
			refresh_rates(d, (double)(now - last_rate) / 1e9);
			/* events are allocated here and freed by the output thread:
			 * glibc keeps what bursts freed in its arenas; hand it back
			 * every few seconds (a fraction of a millisecond each) */
			if (++trim_tick % 5 == 0)
				malloc_trim(0);
			last_rate = now;
			/* wall clock may be stepped (NTP): keep boot->wall current */
			d->boot_to_wall_ns = (int64_t)(clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_BOOTTIME));
		}
		if (d->cfg.metrics_interval && now - last_metrics >= d->cfg.metrics_interval * 1000000000ULL) {
			emit_metrics(d);
			last_metrics = now;
		}
		if (now - last_sens >= 30000000000ULL) {
			filters_refresh_sensitive(d);
			pc_sweep_dead(&d->pc);
			last_sens = now;
		}
	}
	/* drain what the kernel already produced, then stop everything */
	sensor_poll(d->sensor, 0);
	api_stop(d);
	sensor_close(d->sensor);
	d->sensor = NULL;
	emit_metrics(d);
	pthread_mutex_lock(&d->qlock);
	d->stopping = true;
	pthread_cond_signal(&d->qcond);
	pthread_mutex_unlock(&d->qlock);
	pthread_join(d->out_thread, NULL);
	hash_stop(d); /* before the responder: it may enforce a block */
	response_close(d); /* blocks and isolations stay in force */
	store_writer_stop(d->store_writer); /* writes what the output thread handed over */
	d->store_writer = NULL;
	store_close(d->store); /* the segment is sealed */
	d->store = NULL;
	detect_close(d);
	state_close(d->state); /* after the output thread: drains what it queued */
	d->state = NULL;
	if (d->out && d->out != stdout)
		fclose(d->out);
	else if (d->out)
		fflush(d->out);
	pc_free(&d->pc);
	config_free(&d->cfg);
	free(d->store_dir_owned);
	close(lock_fd);
	fprintf(stderr, "vigild: stopped\n");
	return 0;
}
