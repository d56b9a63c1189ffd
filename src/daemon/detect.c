/* vigild's detection: loads the rules into an engine (src/engine), runs it
 * in the output thread on each encoded event, writes alerts and incidents
 * (one JSON line each to --alerts-out, one readable line on stderr), and
 * reloads the rules on SIGHUP without stopping the output thread. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "daemon.h"
#include "../util/clock.h"

#define SHARED_RULES_DIR "/usr/local/share/vigil/rules"

static struct vg_flat ev_flat, out_flat; /* output thread only */

/* The shipped rules: $(dirname /proc/self/exe)/../rules, else the
 * installed ones. */
static char *default_rules_dir(void)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = 0;
		char *dir = dirname(exe);
		char *p = NULL;
		struct stat st;
		if (asprintf(&p, "%s/../rules", dir) >= 0) {
			if (stat(p, &st) == 0 && S_ISDIR(st.st_mode))
				return p;
			free(p);
		}
	}
	return strdup(SHARED_RULES_DIR);
}

static const char *field(const struct vg_flat *fl, const char *name, char *buf, size_t cap)
{
	int64_t id = vg_field_find(name);
	const char *v = id >= 0 ? vg_flat_get(fl, (uint32_t)id, NULL) : NULL;
	snprintf(buf, cap, "%s", v ? v : "");
	return buf;
}

/* All values of a repeated field, joined by sep. */
static const char *fields(const struct vg_flat *fl, const char *name, char *buf, size_t cap, const char *sep)
{
	int64_t id = vg_field_find(name);
	size_t n = 0;
	buf[0] = 0;
	for (int i = 0; id >= 0 && i < fl->n && n + 1 < cap; i++)
		if (fl->f[i].name == (uint32_t)id) {
			int w = snprintf(buf + n, cap - n, "%s%s", n ? sep : "", fl->f[i].val);
			if (w < 0)
				break;
			n += (size_t)w;
			if (n >= cap)
				n = cap - 1;
		}
	return buf;
}

static void print_line(const struct engine_output *o)
{
	char host[256], exe[512], score[64], tactics[256], sid[64], user[64], level[32], members[32];
	if (vg_flatten_json(&out_flat, o->json, o->len) && !out_flat.n)
		return;
	field(&out_flat, "session.id", sid, sizeof(sid));
	if (o->incident) {
		fprintf(stderr, "INCIDENT score=%s session=%s host=%s user=%s id=%s level=%s tactics=[%s] members=%s\n",
			field(&out_flat, "incident.score", score, sizeof(score)), sid,
			field(&out_flat, "host.name", host, sizeof(host)), field(&out_flat, "user.id", user, sizeof(user)),
			o->rule_id, field(&out_flat, "incident.level", level, sizeof(level)),
			fields(&out_flat, "threat.tactics", tactics, sizeof(tactics), ","),
			field(&out_flat, "incident.members_total", members, sizeof(members)));
		return;
	}
	fprintf(stderr, "ALERT %s %s pid=%u %s session=%s [%s]%s%s\n", field(&out_flat, "rule.level", level, sizeof(level)),
		o->title, o->pid, field(&out_flat, "process.executable", exe, sizeof(exe)), sid,
		fields(&out_flat, "threat.techniques", tactics, sizeof(tactics), ","), o->response ? " response=" : "",
		o->response ? o->response : "");
}

static void on_output(void *ctx, const struct engine_output *o)
{
	struct daemon *d = ctx;
	/* an incident is emitted again on updates: count it once */
	if (o->incident && memmem(o->json, o->len < 256 ? o->len : 256, "\"status\":\"new\"", 14))
		__atomic_add_fetch(&d->incidents_total, 1, __ATOMIC_RELAXED);
	else if (!o->incident)
		__atomic_add_fetch(&d->alerts_total, 1, __ATOMIC_RELAXED);
	if (d->alerts && o->len > 1 && o->json[o->len - 1] == '}') {
		/* "vigil": {"latency_ns"}: from the kernel's timestamp of the
		 * event to this write */
		uint64_t now = clock_ns(CLOCK_REALTIME);
		int64_t lat = (int64_t)(now - d->cur_event_ns);
		bool ok = fwrite(o->json, 1, o->len - 1, d->alerts) == o->len - 1;
		ok = fprintf(d->alerts, ",\"vigil\":{\"latency_ns\":%lld}}\n", (long long)lat) > 0 && ok;
		ok = fflush(d->alerts) == 0 && ok;
		if (!ok)
			__atomic_add_fetch(&d->write_errors, 1, __ATOMIC_RELAXED);
	}
	state_record_output(d->state, o); /* state.db (queued to its own thread) */
	print_line(o);
	/* active defense last: the alert is on record before anything acts */
	if (o->response && !o->incident)
		response_on_alert(d, o, d->cur_flat);
}

/* Loads and compiles the rules; NULL when the engine cannot run. */
static struct engine *build(struct daemon *d, const char *why)
{
	struct engine *e = engine_new(NULL);
	if (!e) {
		fprintf(stderr, "vigild: rules: out of memory\n");
		return NULL;
	}
	struct strbuf errs;
	sb_init(&errs);
	int n = engine_load_dir(e, d->rules_dir, &errs);
	int cr = n >= 0 ? engine_compile(e, &errs) : -1;
	size_t nerr = 0;
	if (errs.len) {
		fwrite(errs.buf, 1, errs.len, stderr);
		for (size_t i = 0; i < errs.len; i++)
			nerr += errs.buf[i] == '\n';
	}
	sb_free(&errs);
	if (n < 0 || cr < 0) {
		fprintf(stderr, "vigild: no rules loaded from %s (%zu errors)%s%s\n", d->rules_dir, nerr, *why ? " on " : "",
			why);
		engine_free(e);
		return NULL;
	}
	engine_set_output(e, on_output, d);
	fprintf(stderr, "vigild: %zu rules loaded (%zu errors)%s%s\n", engine_rule_count(e), nerr,
		*why ? " on " : "", why);
	__atomic_store_n(&d->rules_loaded, engine_rule_count(e), __ATOMIC_RELAXED);
	return e;
}

static void *initial_main(void *arg)
{
	struct daemon *d = arg;
	pthread_setname_np(pthread_self(), "vigild-rules");
	d->engine = build(d, "");
	return NULL;
}

int detect_init(struct daemon *d)
{
	if (d->no_rules)
		return 0;
	if (!d->rules_dir)
		d->rules_dir = d->rules_dir_owned = default_rules_dir();
	if (d->alerts_out_arg && *d->alerts_out_arg) {
		if (strcmp(d->alerts_out_arg, "-") == 0) {
			d->alerts = stdout;
		} else {
			int fd = open(d->alerts_out_arg, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
			d->alerts = fd >= 0 ? fdopen(fd, "a") : NULL;
			if (!d->alerts) {
				fprintf(stderr, "vigild: cannot open alerts output %s: %s\n", d->alerts_out_arg,
					strerror(errno));
				if (fd >= 0)
					close(fd);
				return -1;
			}
			/* an alert with 20 embedded events is tens of KiB: one write,
			 * not one per 4 KiB (glibc ignores setvbuf's size without a
			 * buffer) */
			static char abuf[1 << 17];
			setvbuf(d->alerts, abuf, _IOFBF, sizeof(abuf));
		}
	}
	vg_flat_init(&ev_flat);
	vg_flat_init(&out_flat);
	/* rule errors never stop the daemon: without an engine it only
	 * records. The rules compile while the sensor loads (half a second
	 * of CPU that the verifier leaves free on the other CPUs); nothing
	 * reads d->engine before detect_wait. */
	if (pthread_create(&d->rules_thread, NULL, initial_main, d) == 0)
		d->rules_building = true;
	else
		d->engine = build(d, "");
	return 0;
}

/* Before the first event: the rules that detect_init started compiling. */
void detect_wait(struct daemon *d)
{
	if (!d->rules_building)
		return;
	pthread_join(d->rules_thread, NULL);
	d->rules_building = false;
}

/* Output thread: takes a reloaded engine when there is one. */
static void swap_in(struct daemon *d)
{
	if (!__atomic_load_n(&d->engine_next, __ATOMIC_ACQUIRE))
		return;
	struct engine *nx = __atomic_exchange_n(&d->engine_next, NULL, __ATOMIC_ACQ_REL);
	if (!nx)
		return;
	engine_free(d->engine);
	d->engine = nx;
}

void detect_event(struct daemon *d, uint64_t event_ns, const char *json, size_t len, const struct vg_flat *fl)
{
	swap_in(d);
	if (!d->engine)
		return;
	if (!fl) {
		if (vg_flatten_json(&ev_flat, json, len) && !ev_flat.n)
			return;
		fl = &ev_flat;
	}
	d->cur_event_ns = event_ns;
	d->cur_flat = fl;
	engine_process(d->engine, fl, json, len, event_ns);
	d->cur_flat = NULL;
}

bool detect_active(struct daemon *d)
{
	return d->engine || __atomic_load_n(&d->engine_next, __ATOMIC_ACQUIRE);
}

static void *reload_main(void *arg)
{
	struct daemon *d = arg;
	pthread_setname_np(pthread_self(), "vigild-reload");
	struct engine *e = build(d, "reload");
	if (e) {
		struct engine *old = __atomic_exchange_n(&d->engine_next, e, __ATOMIC_ACQ_REL);
		engine_free(old); /* a previous reload the output thread never took */
	} else {
		fprintf(stderr, "vigild: rules reload failed; keeping the rules in use\n");
	}
	__atomic_store_n(&d->rules_reloading, false, __ATOMIC_RELEASE);
	return NULL;
}

bool detect_reload(struct daemon *d)
{
	if (d->no_rules || !d->rules_dir)
		return false;
	if (__atomic_exchange_n(&d->rules_reloading, true, __ATOMIC_ACQ_REL))
		return false; /* one at a time */
	pthread_t t;
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	bool started = pthread_create(&t, &at, reload_main, d) == 0;
	if (!started) {
		fprintf(stderr, "vigild: rules reload: cannot start a thread\n");
		__atomic_store_n(&d->rules_reloading, false, __ATOMIC_RELEASE);
	}
	pthread_attr_destroy(&at);
	return started;
}

/* After the output thread has stopped. */
void detect_close(struct daemon *d)
{
	detect_wait(d);
	while (__atomic_load_n(&d->rules_reloading, __ATOMIC_ACQUIRE))
		usleep(10000);
	engine_free(__atomic_exchange_n(&d->engine_next, NULL, __ATOMIC_ACQ_REL));
	engine_free(d->engine);
	d->engine = NULL;
	if (d->alerts && d->alerts != stdout)
		fclose(d->alerts);
	else if (d->alerts)
		fflush(d->alerts);
	d->alerts = NULL;
	vg_flat_free(&ev_flat);
	vg_flat_free(&out_flat);
	free(d->rules_dir_owned);
	d->rules_dir_owned = NULL;
}
