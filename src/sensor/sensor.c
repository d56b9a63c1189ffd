/* Loading and attaching the BPF objects, ring buffer consumption, counters
 * and filter maps. Each domain object is loaded separately; all share the
 * maps of the process object, so one ring buffer carries everything. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "sensor.h"
#include "hooks.h"
#include "../util/clock.h"
#include "process.skel.h"
#include "file.skel.h"
#include "net.skel.h"
#include "priv.skel.h"

#define MAX_LINKS 256

struct sensor {
	struct vgskel_process *process;
	struct vgskel_file *file;
	struct vgskel_net *net;
	struct vgskel_priv *priv;
	struct bpf_object *objs[4];
	int nobjs;
	struct bpf_link *links[MAX_LINKS];
	int nlinks;
	bool hook_active[VG_HOOK_MAX];
	struct ring_buffer *rb;
	int ncpus;
	int fd_counters, fd_config, fd_rate_cfg, fd_ignore_exe, fd_ignore_cgroup,
	    fd_ignore_path, fd_watch_path, fd_watch_name, fd_sensitive, fd_sensitive_bloom;
	struct btf *vmlinux;
	const char *tracefs;
	struct sensor_opts opts;
	/* raw sys_exit dispatch (see vg_exit_progs in bpf/common.bpf.h): on
	 * when the module fallback's raw sys_exit program runs anyway; the
	 * tracepoint exit programs are not even loaded (the verifier's time
	 * is a blind window at startup). If the dispatcher
	 * does not come up, the sensor is loaded again without it
	 * (sensor_open). */
	bool dispatch;
	bool dispatcher_up;
	int fd_exit_progs;
	bool exit_on[VG_EXIT_PROGS]; /* the exit handler of this number is enabled */
	int ndispatched;
	int nfailed; /* domains that did not load */
	char why_undispatched[300];
	bool storm; /* see sensor_poll */
	uint64_t storm_polls;
	bool hold_said;
	char *said;
	size_t nsaid;
};

static void say_now(const struct sensor_opts *o, const char *line)
{
	if (o->log)
		o->log(line);
	else
		fprintf(stderr, "vigild: %s\n", line);
}

/* While an attempt that may be redone runs, its lines wait in s->said
 * (NUL-separated): only the attempt that is kept speaks. */
static void say(struct sensor *s, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (!s->hold_said) {
		say_now(&s->opts, line);
		return;
	}
	size_t n = strlen(line) + 1;
	char *grown = realloc(s->said, s->nsaid + n);
	if (!grown)
		return;
	memcpy(grown + s->nsaid, line, n);
	s->said = grown;
	s->nsaid += n;
}

static void say_held(struct sensor *s)
{
	for (size_t i = 0; i < s->nsaid; i += strlen(s->said + i) + 1)
		say_now(&s->opts, s->said + i);
	free(s->said);
	s->said = NULL;
	s->nsaid = 0;
	s->hold_said = false;
}

static int quiet_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_WARN && getenv("VIGIL_BPF_DEBUG"))
		return vfprintf(stderr, fmt, ap);
	if (level == LIBBPF_DEBUG && getenv("VIGIL_BPF_DEBUG"))
		return vfprintf(stderr, fmt, ap);
	return 0;
}

static bool exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

/* tracefs may not be mounted (containers, minimal systems): mount it. */
static const char *find_tracefs(void)
{
	if (exists("/sys/kernel/tracing/events"))
		return "/sys/kernel/tracing";
	if (mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, NULL) == 0 &&
	    exists("/sys/kernel/tracing/events"))
		return "/sys/kernel/tracing";
	if (exists("/sys/kernel/debug/tracing/events"))
		return "/sys/kernel/debug/tracing";
	if (mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL) == 0 &&
	    exists("/sys/kernel/debug/tracing/events"))
		return "/sys/kernel/debug/tracing";
	return NULL;
}

static bool tracepoint_exists(struct sensor *s, const char *cat_event)
{
	char path[512];
	if (!s->tracefs)
		return false;
	snprintf(path, sizeof(path), "%s/events/%s", s->tracefs, cat_event);
	return exists(path);
}

static bool btf_tracepoint_exists(struct sensor *s, const char *name)
{
	char tname[256];
	if (!s->vmlinux)
		return false;
	snprintf(tname, sizeof(tname), "btf_trace_%s", name);
	return btf__find_by_name_kind(s->vmlinux, tname, BTF_KIND_TYPEDEF) > 0;
}

/* Whether the attach point of a program exists on this kernel; fills
 * `what` with the missing thing for the message. */
static bool attach_point_exists(struct sensor *s, struct bpf_program *p, char *what, size_t n)
{
	const char *sec = bpf_program__section_name(p);
	if (strncmp(sec, "tracepoint/", 11) == 0) {
		snprintf(what, n, "tracepoint %s", sec + 11);
		return tracepoint_exists(s, sec + 11);
	}
	if (strncmp(sec, "tp_btf/", 7) == 0) {
		snprintf(what, n, "BTF tracepoint %s", sec + 7);
		return btf_tracepoint_exists(s, sec + 7);
	}
	snprintf(what, n, "%s", sec);
	return true;
}

static int reuse_shared_maps(struct bpf_object *owner, struct bpf_object *obj)
{
	struct bpf_map *m;
	bpf_object__for_each_map(m, obj)
	{
		const char *name = bpf_map__name(m);
		if (name[0] == '.')
			continue; /* .rodata/.bss are per object */
		struct bpf_map *o = bpf_object__find_map_by_name(owner, name);
		if (!o)
			continue;
		int err = bpf_map__reuse_fd(m, bpf_map__fd(o));
		if (err)
			return err;
	}
	return 0;
}

/* Decides, per program, whether to load it: its hook must be enabled and
 * its attach point present; fallbacks load only when what they replace is
 * missing. Prints one line per degraded hook. */
static void choose_programs(struct sensor *s, struct bpf_object *obj, bool reported[VG_HOOK_MAX])
{
	struct bpf_program *p;
	bpf_object__for_each_program(p, obj)
	{
		const char *name = bpf_program__name(p);
		const struct sensor_prog_info *info = sensor_prog_lookup(name);
		char what[300];
		bool load = true;
		if (!info) {
			say(s, "internal: BPF program %s has no hook; not loaded", name);
			bpf_program__set_autoload(p, false);
			continue;
		}
		if (info->exits)
			continue; /* decided below, with its handlers */
		if (s->opts.hook_off[info->hook])
			load = false;
		else if (info->fallback_for) {
			load = !tracepoint_exists(s, info->fallback_for) && s->opts.module_fallback;
			if (load && !reported[info->hook]) {
				say(s,
				    "kernel lacks tracepoint %s: %s are recorded through the raw_syscalls "
				    "sys_exit program",
				    info->fallback_for, sensor_hooks[info->hook].what);
				reported[info->hook] = true;
			}
		} else if (!attach_point_exists(s, p, what, sizeof(what))) {
			load = false;
			const struct sensor_prog_info *fb = NULL;
			for (const struct sensor_prog_info *q = sensor_progs; q->name; q++)
				if (q->hook == info->hook && q->fallback_for)
					fb = q;
			if (!reported[info->hook] && !(fb && s->opts.module_fallback)) {
				say(s, "kernel lacks %s: %s are not recorded", what,
				    sensor_hooks[info->hook].what);
				reported[info->hook] = true;
			}
		}
		bpf_program__set_autoload(p, load);
	}
	/* Exit handlers: enabled where their hook is on and their syscall's
	 * exit tracepoint exists. Under dispatch the object's raw exit
	 * program runs them, from their slots of vg_exit_progs; otherwise its
	 * tracepoint exit program, attached to each of their tracepoints. An
	 * exit program loads only if it has a handler to run. */
	bool any = false;
	bpf_object__for_each_program(p, obj)
	{
		const struct sensor_prog_info *info = sensor_prog_lookup(bpf_program__name(p));
		if (!info || !info->exits || info->raw)
			continue;
		for (const struct sensor_exit_info *e = info->exits; e->handler; e++) {
			char tp[128];
			snprintf(tp, sizeof(tp), "syscalls/sys_exit_%s", e->syscall);
			if (s->opts.hook_off[e->hook])
				continue;
			if (!tracepoint_exists(s, tp)) {
				/* once per hook: without syscall tracepoints at
				 * all, this would be 52 lines */
				if (!reported[e->hook])
					say(s, "kernel lacks tracepoint %s: %s through %s() are not recorded", tp,
					    sensor_hooks[e->hook].what, e->syscall);
				reported[e->hook] = true;
				continue;
			}
			s->exit_on[e->nr] = true;
			any = true;
		}
	}
	bpf_object__for_each_program(p, obj)
	{
		const struct sensor_prog_info *info = sensor_prog_lookup(bpf_program__name(p));
		if (info && info->exits)
			bpf_program__set_autoload(p, any && info->raw == s->dispatch);
	}
}

/* Points the slots of obj's enabled exit handlers at its raw exit program. */
static int dispatch_fill(struct sensor *s, struct bpf_object *obj)
{
	struct bpf_program *p;
	bpf_object__for_each_program(p, obj)
	{
		const struct sensor_prog_info *info = sensor_prog_lookup(bpf_program__name(p));
		if (!info || !info->raw || !bpf_program__autoload(p))
			continue;
		int fd = bpf_program__fd(p);
		for (const struct sensor_exit_info *e = info->exits; e->handler; e++) {
			if (!s->exit_on[e->nr])
				continue;
			__u32 key = (__u32)e->nr;
			if (bpf_map_update_elem(s->fd_exit_progs, &key, &fd, BPF_ANY)) {
				int err = -errno;
				say(s, "raw sys_exit dispatch of %s failed: %s", e->handler, strerror(errno));
				return err;
			}
			s->ndispatched++;
			s->hook_active[e->hook] = true;
		}
	}
	return 0;
}

static int keep_link(struct sensor *s, struct bpf_link *l)
{
	if (s->nlinks >= MAX_LINKS) {
		bpf_link__destroy(l);
		return -E2BIG;
	}
	s->links[s->nlinks++] = l;
	return 0;
}

/* Attaches a tracepoint exit program to the exit tracepoint of each of
 * its enabled handlers, the handler's number as the cookie it switches on. */
static int attach_exits(struct sensor *s, struct bpf_program *p, const struct sensor_exit_info *exits)
{
	for (const struct sensor_exit_info *e = exits; e->handler; e++) {
		if (!s->exit_on[e->nr])
			continue;
		char event[128];
		snprintf(event, sizeof(event), "sys_exit_%s", e->syscall);
		LIBBPF_OPTS(bpf_tracepoint_opts, o, .bpf_cookie = (__u64)e->nr);
		struct bpf_link *l = bpf_program__attach_tracepoint_opts(p, "syscalls", event, &o);
		if (!l) {
			say(s, "cannot attach %s to syscalls/%s: %s; %s are incomplete", bpf_program__name(p),
			    event, strerror(errno), sensor_hooks[e->hook].what);
			continue;
		}
		int err = keep_link(s, l);
		if (err)
			return err;
		s->hook_active[e->hook] = true;
	}
	return 0;
}

/* Test hook: VIGIL_TEST_NO_DISPATCHER=1 makes the dispatcher's attach
 * fail, so the scenario tests can exercise the reload without it. */
static struct bpf_link *attach_program(struct bpf_program *p, bool dispatcher)
{
	if (dispatcher && getenv("VIGIL_TEST_NO_DISPATCHER")) {
		errno = ENOTSUP;
		return NULL;
	}
	return bpf_program__attach(p);
}

static int attach_all(struct sensor *s, struct bpf_object *obj)
{
	struct bpf_program *p;
	bpf_object__for_each_program(p, obj)
	{
		if (!bpf_program__autoload(p))
			continue;
		const struct sensor_prog_info *info = sensor_prog_lookup(bpf_program__name(p));
		if (info && info->raw) /* tail-called through vg_exit_progs, never attached */
			continue;
		if (info && info->exits) {
			int err = attach_exits(s, p, info->exits);
			if (err)
				return err;
			continue;
		}
		/* the module fallback's raw sys_exit program is the dispatcher */
		bool dispatcher = strcmp(bpf_program__name(p), "vg_module_fallback") == 0;
		struct bpf_link *l = attach_program(p, dispatcher);
		if (!l && dispatcher)
			snprintf(s->why_undispatched, sizeof(s->why_undispatched), "cannot attach %s: %s",
				 bpf_program__name(p), strerror(errno));
		if (!l) {
			say(s, "cannot attach %s (%s): %s; %s are incomplete",
			    bpf_program__name(p), bpf_program__section_name(p), strerror(errno),
			    info ? sensor_hooks[info->hook].what : "events");
			continue;
		}
		int err = keep_link(s, l);
		if (err)
			return err;
		if (info)
			s->hook_active[info->hook] = true;
		if (dispatcher)
			s->dispatcher_up = true;
	}
	return 0;
}

#define MAP_FD(obj, name) bpf_map__fd(bpf_object__find_map_by_name(obj, name))

static int on_ring_record(void *ctx, void *data, size_t len)
{
	struct sensor *s = ctx;
	return s->opts.on_record(s->opts.ctx, data, len);
}

static int set_config(struct sensor *s, uint32_t key, uint64_t value)
{
	return bpf_map_update_elem(s->fd_config, &key, &value, BPF_ANY) ? -errno : 0;
}

/* Before a domain object loads: shared maps, sizes, which programs. */
static int prepare_domain(struct sensor *s, struct bpf_object *obj, const char *domain,
			  bool reported[VG_HOOK_MAX], char *err, size_t errlen)
{
	if (s->nobjs > 0) {
		int e = reuse_shared_maps(s->objs[0], obj);
		if (e) {
			snprintf(err, errlen, "%s: cannot share maps: %s", domain, strerror(-e));
			return e;
		}
	} else {
		struct bpf_map *m = bpf_object__find_map_by_name(obj, "vg_scratch_map");
		bpf_map__set_max_entries(m, s->ncpus);
		m = bpf_object__find_map_by_name(obj, "vg_rb");
		bpf_map__set_max_entries(m, s->opts.ringbuf_bytes);
	}
	choose_programs(s, obj, reported);
	return 0;
}

/* After bpf_object__load returned load_err: dispatch table, attach. */
static int finish_domain(struct sensor *s, struct bpf_object *obj, const char *domain, int load_err,
			 char *err, size_t errlen)
{
	if (load_err) {
		snprintf(err, errlen, "%s BPF object failed to load: %s (VIGIL_BPF_DEBUG=1 shows the verifier log)",
			 domain, strerror(-load_err));
		return load_err;
	}
	s->objs[s->nobjs++] = obj;
	/* the first object creates the shared maps: the table's fd is known
	 * only now */
	if (s->nobjs == 1)
		s->fd_exit_progs = MAP_FD(obj, "vg_exit_progs");
	if (s->dispatch) {
		int e = dispatch_fill(s, obj);
		if (e) {
			snprintf(err, errlen, "%s: raw sys_exit dispatch failed: %s", domain, strerror(-e));
			return e;
		}
	}
	return attach_all(s, obj);
}

/* Loads one domain object; a domain that fails to load is reported and
 * skipped so the others still work. */
static int load_domain(struct sensor *s, struct bpf_object *obj, const char *domain,
		       bool reported[VG_HOOK_MAX], char *err, size_t errlen)
{
	int e = prepare_domain(s, obj, domain, reported, err, errlen);
	if (e)
		return e;
	return finish_domain(s, obj, domain, bpf_object__load(obj), err, errlen);
}

/* The optional domains (file, net, priv) go through the verifier at the
 * same time, one thread each: verification is most of startup (about a
 * second and a half for 90 programs here), a window in which vigild sees
 * nothing, and it runs on the CPU of the thread that loads. Distinct
 * bpf_objects share no state in libbpf but its feature cache, which the
 * process object has filled by then. Everything else (messages, the
 * dispatch table, attaching) stays on the calling thread, in order. */
struct domain_load {
	struct bpf_object *obj;
	const char *name, *what;
	char err[256];
	int prep_err, load_err;
	bool threaded;
	pthread_t thread;
};

static void *domain_load_main(void *arg)
{
	struct domain_load *d = arg;
	d->load_err = bpf_object__load(d->obj);
	return NULL;
}

static void domain_failed(struct sensor *s, const char *why, const char *what)
{
	say(s, "%s; %s are not recorded", why, what);
	if (!s->nfailed++)
		snprintf(s->why_undispatched, sizeof(s->why_undispatched), "%s", why);
}

/* One attempt at loading the sensor, with the raw sys_exit dispatch if
 * allow_dispatch and this kernel wants it. */
static int open_once(struct sensor **out, const struct sensor_opts *opts, bool allow_dispatch, char *err,
		     size_t errlen)
{
	struct sensor *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	*out = s;
	s->opts = *opts;
	s->hold_said = allow_dispatch;
	s->ncpus = libbpf_num_possible_cpus();
	if (s->ncpus <= 0)
		s->ncpus = 1;
	s->tracefs = find_tracefs();
	if (!s->tracefs)
		say(s, "tracefs is not mounted and cannot be: syscall tracepoints unavailable");
	s->vmlinux = btf__load_vmlinux_btf();
	if (!s->vmlinux)
		say(s, "kernel has no BTF (/sys/kernel/btf/vmlinux): BTF tracepoints unavailable");

	bool reported[VG_HOOK_MAX] = {0};
	int e;
#if defined(__x86_64__)
	/* the exit handlers' syscall numbers (bpf/exits.h) are x86-64's */
	s->dispatch = allow_dispatch && s->opts.module_fallback && !s->opts.hook_off[VG_HOOK_MODULE] &&
		      s->vmlinux && s->tracefs && !tracepoint_exists(s, "syscalls/sys_enter_init_module");
#endif
	s->process = vgskel_process__open();
	if (!s->process) {
		snprintf(err, errlen, "cannot open the process BPF object: %s", strerror(errno));
		return -errno;
	}
	e = load_domain(s, s->process->obj, "process", reported, err, errlen);
	if (e)
		return e;

	struct bpf_object *owner = s->objs[0];
	s->fd_counters = MAP_FD(owner, "vg_counters");
	s->fd_config = MAP_FD(owner, "vg_config");
	s->fd_rate_cfg = MAP_FD(owner, "vg_rate_cfg");
	s->fd_ignore_exe = MAP_FD(owner, "vg_ignore_exe");
	s->fd_ignore_cgroup = MAP_FD(owner, "vg_ignore_cgroup");
	s->fd_ignore_path = MAP_FD(owner, "vg_ignore_path");
	s->fd_watch_path = MAP_FD(owner, "vg_watch_path");
	s->fd_watch_name = MAP_FD(owner, "vg_watch_name");
	s->fd_sensitive = MAP_FD(owner, "vg_sensitive");
	s->fd_sensitive_bloom = MAP_FD(owner, "vg_sensitive_bloom");
	set_config(s, VG_CFG_SELF_TGID, getpid());
	set_config(s, VG_CFG_ARGV_MAX, opts->argv_max);
	set_config(s, VG_CFG_ENV_MAX, opts->env_max);

	/* The other domains are optional: one that fails is reported. */
	s->file = vgskel_file__open();
	s->net = vgskel_net__open();
	s->priv = vgskel_priv__open();
	struct domain_load doms[] = {
		{.obj = s->file ? s->file->obj : NULL, .name = "file", .what = "file events"},
		{.obj = s->net ? s->net->obj : NULL, .name = "net", .what = "network events"},
		{.obj = s->priv ? s->priv->obj : NULL, .name = "priv", .what = "privilege events"},
	};
	size_t ndoms = sizeof(doms) / sizeof(doms[0]);
	for (size_t i = 0; i < ndoms; i++) {
		struct domain_load *d = &doms[i];
		if (!d->obj)
			continue;
		d->prep_err = prepare_domain(s, d->obj, d->name, reported, d->err, sizeof(d->err));
		/* one at a time when the verifier logs are asked for: readable */
		if (!d->prep_err && !getenv("VIGIL_BPF_DEBUG"))
			d->threaded = pthread_create(&d->thread, NULL, domain_load_main, d) == 0;
	}
	for (size_t i = 0; i < ndoms; i++) {
		struct domain_load *d = &doms[i];
		if (!d->obj)
			continue;
		if (d->threaded)
			pthread_join(d->thread, NULL);
		else if (!d->prep_err)
			d->load_err = bpf_object__load(d->obj); /* no thread to be had */
		if (d->prep_err ||
		    finish_domain(s, d->obj, d->name, d->load_err, d->err, sizeof(d->err)))
			domain_failed(s, d->err, d->what);
	}
	if (s->dispatch && s->dispatcher_up && s->ndispatched)
		say(s, "%d syscall exits are dispatched from the raw sys_exit program instead of "
		       "their tracepoints", s->ndispatched);
	/* only needed for probing: give its megabytes back */
	btf__free(s->vmlinux);
	s->vmlinux = NULL;
	s->rb = ring_buffer__new(MAP_FD(owner, "vg_rb"), on_ring_record, s, NULL);
	if (!s->rb) {
		snprintf(err, errlen, "cannot open the ring buffer: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

int sensor_open(struct sensor **out, const struct sensor_opts *opts, char *err, size_t errlen)
{
	struct sensor *s = NULL;
	libbpf_set_print(quiet_libbpf);
	int e = open_once(&s, opts, true, err, errlen);
	/* Under dispatch the exit handlers' tracepoint programs are not
	 * loaded, so a dispatcher that did not come up, or a domain that
	 * failed with it, means loading everything again without it. */
	if (s && s->dispatch && (e || !s->dispatcher_up || s->nfailed)) {
		char line[700];
		snprintf(line, sizeof(line), "raw sys_exit dispatch unavailable (%s): loading the sensor again "
					     "with the syscall exit tracepoints",
			 e ? err : s->why_undispatched[0] ? s->why_undispatched : "its program is not attached");
		say_now(opts, line);
		sensor_close(s);
		s = NULL;
		e = open_once(&s, opts, false, err, errlen);
	} else if (s) {
		say_held(s);
	}
	if (e) {
		sensor_close(s);
		return e;
	}
	*out = s;
	return 0;
}

int sensor_attached(const struct sensor *s)
{
	return s->nlinks;
}

bool sensor_hook_active(const struct sensor *s, int hook)
{
	return hook >= 0 && hook < VG_HOOK_MAX && s->hook_active[hook];
}

/* Storm mode. Each wakeup the BPF side sends costs the CPU that made the
 * record an IPI: about 25 us in this VM, a sixth of a wakeup per exec in
 * an exec storm (~4 us an exec). While records keep coming, vigild reads
 * on a SENSOR_STORM_POLL_MS timer instead and tells the BPF side, through
 * VG_CFG_POLLING_UNTIL, not to wake it until a deadline a few polls
 * ahead; an empty poll ends the mode. The deadline makes it safe: a
 * consumer that stops polling (stopped, killed, stuck in a long batch) is
 * woken again a few milliseconds later. An exec waits at most one poll
 * (5 ms) for its reader, as long as an exec may wait without the mode
 * (VG_WAKE_URGENT_NS). At 2 ms vigild used more CPU per storm for the
 * same wall time. */
#define SENSOR_STORM_ENTER 16 /* records in one poll */
#define SENSOR_STORM_POLL_MS 5
#define SENSOR_STORM_GRACE_NS (3 * SENSOR_STORM_POLL_MS * 1000000ULL)

int sensor_poll(struct sensor *s, int timeout_ms)
{
	if (s->storm && timeout_ms > SENSOR_STORM_POLL_MS)
		timeout_ms = SENSOR_STORM_POLL_MS;
	int r = ring_buffer__poll(s->rb, timeout_ms);
	/* records emitted without a wakeup (vg_emit) are read on timeout */
	if (r == 0)
		r = ring_buffer__consume(s->rb);
	if (r < 0)
		return r;
	if (r >= SENSOR_STORM_ENTER || (s->storm && r > 0)) {
		s->storm = true;
		set_config(s, VG_CFG_POLLING_UNTIL, clock_ns(CLOCK_BOOTTIME) + SENSOR_STORM_GRACE_NS);
		__atomic_add_fetch(&s->storm_polls, 1, __ATOMIC_RELAXED); /* read by the API thread */
	} else if (s->storm) {
		s->storm = false;
		set_config(s, VG_CFG_POLLING_UNTIL, 0);
	}
	return r;
}

uint64_t sensor_storm_polls(const struct sensor *s)
{
	return __atomic_load_n(&s->storm_polls, __ATOMIC_RELAXED);
}

void sensor_counters(struct sensor *s, uint64_t out[VG_HOOK_MAX][VG_CNT_MAX])
{
	uint64_t *vals = calloc(s->ncpus, sizeof(uint64_t));
	memset(out, 0, sizeof(uint64_t) * VG_HOOK_MAX * VG_CNT_MAX);
	if (!vals)
		return;
	for (uint32_t h = 0; h < VG_HOOK_MAX; h++)
		for (uint32_t c = 0; c < VG_CNT_MAX; c++) {
			uint32_t key = h * VG_CNT_MAX + c;
			if (bpf_map_lookup_elem(s->fd_counters, &key, vals))
				continue;
			for (int i = 0; i < s->ncpus; i++)
				out[h][c] += vals[i];
		}
	free(vals);
}

void sensor_close(struct sensor *s)
{
	if (!s)
		return;
	for (int i = 0; i < s->nlinks; i++)
		bpf_link__destroy(s->links[i]);
	ring_buffer__free(s->rb);
	vgskel_priv__destroy(s->priv);
	vgskel_net__destroy(s->net);
	vgskel_file__destroy(s->file);
	vgskel_process__destroy(s->process);
	btf__free(s->vmlinux);
	free(s->said);
	free(s);
}

uint32_t sensor_kdev(uint64_t st_dev)
{
	return (major(st_dev) << 20) | minor(st_dev);
}

struct inode_key {
	uint64_t ino;
	uint32_t dev;
	uint32_t pad;
};

static int inode_map(int fd, struct sensor_inode ino, bool add)
{
	struct inode_key k = {.ino = ino.ino, .dev = ino.dev};
	uint8_t one = 1;
	int r = add ? bpf_map_update_elem(fd, &k, &one, BPF_ANY) : bpf_map_delete_elem(fd, &k);
	return r ? -errno : 0;
}

int sensor_ignore_exe(struct sensor *s, struct sensor_inode ino, bool add)
{
	return inode_map(s->fd_ignore_exe, ino, add);
}

int sensor_sensitive(struct sensor *s, struct sensor_inode ino, bool add)
{
	if (add) { /* the bit first: the kernel looks in the map only past it */
		uint64_t h = vg_sens_hash(ino.ino, ino.dev), bits = 0;
		uint32_t w = VG_SENS_WORD(h);
		if (bpf_map_lookup_elem(s->fd_sensitive_bloom, &w, &bits))
			return -errno;
		bits |= VG_SENS_BIT(h);
		if (bpf_map_update_elem(s->fd_sensitive_bloom, &w, &bits, BPF_ANY))
			return -errno;
	}
	return inode_map(s->fd_sensitive, ino, add);
}

/* Empties a hash or LPM map: always delete the first key, since a
 * deleted key cannot be the cursor of the next lookup. */
static void clear_map(int fd)
{
	uint8_t key[sizeof(uint32_t) + VG_PREFIX_MAX];
	for (int guard = 0; guard < 1 << 20; guard++) {
		if (bpf_map_get_next_key(fd, NULL, key) != 0)
			return;
		if (bpf_map_delete_elem(fd, key) != 0)
			return;
	}
}

int sensor_clear_sensitive(struct sensor *s)
{
	clear_map(s->fd_sensitive);
	return 0;
}

void sensor_clear_filters(struct sensor *s)
{
	clear_map(s->fd_ignore_exe);
	clear_map(s->fd_ignore_cgroup);
	clear_map(s->fd_ignore_path);
	clear_map(s->fd_watch_path);
	clear_map(s->fd_watch_name);
	clear_map(s->fd_sensitive);
}

int sensor_ignore_cgroup(struct sensor *s, uint64_t id, bool add)
{
	uint8_t one = 1;
	int r = add ? bpf_map_update_elem(s->fd_ignore_cgroup, &id, &one, BPF_ANY)
		    : bpf_map_delete_elem(s->fd_ignore_cgroup, &id);
	return r ? -errno : 0;
}

struct prefix_key {
	uint32_t prefixlen;
	char data[VG_PREFIX_MAX];
};

static int prefix_map(int fd, const char *prefix, bool add)
{
	struct prefix_key k;
	size_t n = strlen(prefix);
	if (n == 0 || n > VG_PREFIX_MAX)
		return -ENAMETOOLONG;
	memset(&k, 0, sizeof(k));
	memcpy(k.data, prefix, n);
	k.prefixlen = n * 8;
	uint8_t one = 1;
	int r = add ? bpf_map_update_elem(fd, &k, &one, BPF_ANY) : bpf_map_delete_elem(fd, &k);
	return r ? -errno : 0;
}

int sensor_ignore_path(struct sensor *s, const char *prefix, bool add)
{
	return prefix_map(s->fd_ignore_path, prefix, add);
}

int sensor_watch_path(struct sensor *s, const char *prefix, bool add)
{
	return prefix_map(s->fd_watch_path, prefix, add);
}

int sensor_watch_name(struct sensor *s, const char *name, bool add)
{
	char key[VG_WATCH_NAME_MAX] = {0};
	size_t n = strlen(name);
	if (n == 0 || n >= sizeof(key) || strchr(name, '/'))
		return -EINVAL;
	memcpy(key, name, n);
	uint8_t one = 1;
	int r = add ? bpf_map_update_elem(s->fd_watch_name, key, &one, BPF_ANY) : bpf_map_delete_elem(s->fd_watch_name, key);
	return r ? -errno : 0;
}

int sensor_set_rate(struct sensor *s, int hook, uint64_t per_sec)
{
	struct {
		uint64_t rate, burst;
	} v;
	uint32_t key = hook;
	if (hook < 0 || hook >= VG_HOOK_MAX)
		return -EINVAL;
	/* buckets are per CPU: split the host-wide cap */
	v.rate = per_sec ? (per_sec + s->ncpus - 1) / s->ncpus : 0;
	v.burst = v.rate;
	return bpf_map_update_elem(s->fd_rate_cfg, &key, &v, BPF_ANY) ? -errno : 0;
}

int sensor_set_filters_on(struct sensor *s, unsigned mask)
{
	return set_config(s, VG_CFG_FILTERS_ON, mask);
}
