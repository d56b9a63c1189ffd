/* The detection engine: Sigma detection and correlation rules, compiled to
 * fast matchers, run over flat events (src/event/flat.h); weak signals
 * scored per login session; alerts and incidents as JSON. One engine is
 * used by one thread. */
#ifndef VIGIL_ENGINE_H
#define VIGIL_ENGINE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../event/flat.h"
#include "../util/strbuf.h"

struct engine;

/* What the engine produces: one JSON object (no newline) per alert or
 * incident, plus the few facts a caller acts on without parsing it. */
struct engine_output {
	const char *json;
	size_t len;
	bool incident;          /* else an alert */
	const char *rule_id;    /* alerts */
	const char *title;
	int level;              /* 0 informational .. 4 critical */
	const char *response;   /* "kill", ... from a rule's vigil.response, or NULL */
	uint32_t pid;           /* the process the alert is about */
	uint64_t start_ns;      /* its start time (process.start_ns) */
};
typedef void (*engine_output_fn)(void *ctx, const struct engine_output *out);

struct engine_opts {
	int incident_threshold;   /* session score that makes an incident (default 60) */
	size_t max_corr_keys;     /* per correlation rule, bounds memory (default 65536) */
};

struct engine *engine_new(const struct engine_opts *opts); /* opts may be NULL */
void engine_free(struct engine *e);
/* Loads every *.yml / *.yaml under dir (recursively). A malformed rule is
 * reported in errs as "FILE:LINE: reason" (one line each) and skipped; the
 * others load. Returns the number of rules loaded, or -1 when dir cannot be
 * read. Call engine_compile once after loading. */
int engine_load_dir(struct engine *e, const char *dir, struct strbuf *errs);
int engine_load_file(struct engine *e, const char *path, struct strbuf *errs);
int engine_load_text(struct engine *e, const char *text, const char *name, struct strbuf *errs);
int engine_compile(struct engine *e, struct strbuf *errs);
void engine_set_output(struct engine *e, engine_output_fn fn, void *ctx);
/* Matches one event. event_json is the event's own JSON (alerts embed it);
 * now_ns orders time windows (the event's time, so replays work). */
void engine_process(struct engine *e, const struct vg_flat *ev, const char *event_json,
		    size_t json_len, uint64_t now_ns);
/* `vigil rules list`: one line per rule (id, level, title, file). */
void engine_list(const struct engine *e, struct strbuf *out);
size_t engine_rule_count(const struct engine *e);

struct engine_stats {
	uint64_t events, alerts, incidents, signals, corr_keys, corr_evicted;
};
void engine_stats(const struct engine *e, struct engine_stats *st);

#endif
