/* vigild's side of the responder: opens it from the configuration, keeps
 * the audit trail (state.db, a "response" event in the event stream and
 * the store, one line on stderr) and feeds it the alerts of rules marked
 * with a response. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "daemon.h"

static void on_record(void *ctx, const struct respond_record *rec)
{
	struct daemon *d = ctx;
	state_queue_action(d->state, rec->ts_ns, rec->actor, rec->action, rec->target, rec->result, rec->json);
	fprintf(stderr, "RESPONSE %s %s: %s (%s)\n", rec->action, rec->target, rec->result, rec->actor);
	/* the event's "vigil" object: {"response": <record>} */
	char *json = NULL;
	if (!__atomic_load_n(&d->stopping, __ATOMIC_ACQUIRE) &&
	    asprintf(&json, "{\"response\":%.*s}", (int)rec->len, rec->json) >= 0)
		daemon_emit_json(d, "response", json);
}

void response_init(struct daemon *d)
{
	struct vigil_config *c = &d->cfg;
	const char *dir = c->response_dir;
	if (!dir) {
		const char *base = d->store_dir && *d->store_dir ? d->store_dir : VIGIL_STORE_DIR;
		if (asprintf(&d->response_dir_owned, "%s/respond", base) < 0)
			d->response_dir_owned = NULL;
		dir = d->response_dir_owned;
	}
	struct respond_opts o = {
		.dir = dir,
		.pin_dir = c->bpf_pin_dir,
		.mode = c->response_mode,
		.max_per_min = c->response_max_per_min,
		.protect = (const char *const *)c->response_protect.v,
		.nprotect = (size_t)c->response_protect.n,
		.isolate_allow = (const char *const *)c->isolate_allow.v,
		.nallow = (size_t)c->isolate_allow.n,
		.block_fanotify = c->block_fanotify,
		.host_name = d->host.name,
	};
	char err[512];
	if (responder_open(&d->responder, &o, on_record, d, err, sizeof(err))) {
		fprintf(stderr, "vigild: response actions unavailable: %s\n", err);
		d->responder = NULL;
		return;
	}
	fprintf(stderr, "vigild: responder: automatic actions %s, at most %u per minute; state in %s\n",
		respond_mode_name(c->response_mode), c->response_max_per_min, dir);
}

void response_close(struct daemon *d)
{
	responder_close(d->responder);
	d->responder = NULL;
	free(d->response_dir_owned);
	d->response_dir_owned = NULL;
}

void response_reload(struct daemon *d)
{
	if (d->responder)
		responder_reconfigure(d->responder, d->cfg.response_mode, d->cfg.response_max_per_min,
				      (const char *const *)d->cfg.response_protect.v,
				      (size_t)d->cfg.response_protect.n);
}

static const char *get(const struct vg_flat *fl, const char *name)
{
	if (!fl)
		return NULL;
	int64_t id = vg_field_find(name);
	const char *v = id >= 0 ? vg_flat_get(fl, (uint32_t)id, NULL) : NULL;
	return v && *v ? v : NULL;
}

/* The alert's own event (the one being matched) names the target best:
 * the alert's flat may be cut at VG_FLAT_MAX fields. */
void response_on_alert(struct daemon *d, const struct engine_output *o, const struct vg_flat *ev)
{
	if (!d->responder || !o->response || o->incident)
		return;
	const char *sid = get(ev, "process.session_leader.pid");
	struct respond_alert a = {
		.rule_id = o->rule_id,
		.response = o->response,
		.pid = (pid_t)o->pid,
		.start_ns = o->start_ns,
		.sid = sid ? strtoll(sid, NULL, 10) : -1,
		.exe = get(ev, "process.executable"),
		.sha256 = get(ev, "process.hash.sha256"),
		.file_path = get(ev, "file.path"),
	};
	responder_on_alert(d->responder, &a);
}
