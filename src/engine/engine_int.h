/* Internal to src/engine: the interfaces between the engine core
 * (engine.c), correlation state (correlate.c), session scoring and
 * incidents (score.c) and the alert writer (alert.c). */
#ifndef VIGIL_ENGINE_INT_H
#define VIGIL_ENGINE_INT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "engine.h"
#include "rule.h"

/* At most this many contributing events are kept per correlation group and
 * embedded in a correlation alert. */
#define CORR_EVENTS_MAX 20
/* A correlation refers to at most this many rules. */
#define CORR_RULES_MAX 16

/* ---- correlate.c ------------------------------------------------------ */

/* One firing of a correlation rule for one group. The pointers are valid
 * during the callback only. */
struct corr_fire {
	struct rule *r;          /* the correlation rule */
	int ngroup;
	const char *group_names[8];   /* group-by field names as written */
	const char *group_vals[8];
	uint64_t count;          /* events (event_count), distinct values
				    (value_count), rules (temporal) */
	uint64_t first_ns, last_ns;
	int nevents;
	const char *ev_json[CORR_EVENTS_MAX];
	size_t ev_len[CORR_EVENTS_MAX];
};
typedef void (*corr_fire_fn)(void *ctx, const struct corr_fire *f);

struct corr_state;
/* r->corr->resolved must be filled in. Never fails for a valid rule;
 * returns NULL on allocation failure or an unusable rule (reason in errs). */
struct corr_state *corr_new(struct rule *r, size_t max_keys, struct strbuf *errs);
void corr_free(struct corr_state *cs);
/* One event matched the referenced rule at position pos. seq identifies
 * the event (one event never completes two steps of a sequence). */
void corr_feed(struct corr_state *cs, int pos, const struct vg_flat *ev, const char *json, size_t len,
	       uint64_t now_ns, uint64_t seq, corr_fire_fn fire, void *ctx);
/* Closes the windows that ended before now_ns (lt/lte conditions fire when
 * their window closes) and drops expired groups. */
void corr_tick(struct corr_state *cs, uint64_t now_ns, corr_fire_fn fire, void *ctx);
size_t corr_keys(const struct corr_state *cs);
uint64_t corr_evicted(const struct corr_state *cs);

/* ---- alert.c ---------------------------------------------------------- */

enum tactic {
	TACTIC_RECONNAISSANCE, TACTIC_RESOURCE_DEVELOPMENT, TACTIC_INITIAL_ACCESS, TACTIC_EXECUTION,
	TACTIC_PERSISTENCE, TACTIC_PRIVILEGE_ESCALATION, TACTIC_DEFENSE_EVASION, TACTIC_CREDENTIAL_ACCESS,
	TACTIC_DISCOVERY, TACTIC_LATERAL_MOVEMENT, TACTIC_COLLECTION, TACTIC_COMMAND_AND_CONTROL,
	TACTIC_EXFILTRATION, TACTIC_IMPACT, TACTIC_MAX
};
const char *tactic_name(int t);
/* Bit mask of the ATT&CK tactics named by the rule's attack.<tactic> tags. */
uint32_t rule_tactics(const struct rule *r);
/* "T1059.004" from "attack.t1059.004"; 0 when tag is not a technique. */
int tag_technique(const char *tag, char *out, size_t cap);
void put_iso_time(struct jw *w, const char *key, uint64_t ns);
void put_tactics(struct jw *w, const char *key, uint32_t mask);
/* Embeds raw JSON text (an event) as a value. */
void put_raw_json(struct jw *w, const char *key, const char *json, size_t len);

struct alert_in {
	struct rule *r;
	const struct vg_flat *ev;       /* the (last) matching event */
	const char *ev_json;
	size_t ev_len;
	uint64_t now_ns;
	const struct corr_fire *cf;     /* correlation alerts */
};
void alert_json(struct strbuf *sb, const struct alert_in *a);

/* ---- score.c ---------------------------------------------------------- */

struct scorer;
struct scorer *score_new(int threshold);
void score_free(struct scorer *s);
/* Level points (informational 2, low 5, medium 15, high 40, critical 60)
 * or the rule's own vigil.score. */
int rule_points(const struct rule *r);
/* One alert (alert=true) or weak signal of rule r on event ev. Calls emit
 * with an incident JSON when the member makes or updates an incident. */
struct score_emit {
	const char *id;          /* stable incident id */
	bool is_new;             /* first emission of this incident */
	const char *json;
	size_t len;
	int score;
	int level;
	uint32_t pid;
	uint64_t start_ns;
};
void score_add(struct scorer *s, struct rule *r, bool alert, const struct vg_flat *ev, uint64_t now_ns,
	       void (*emit)(void *ctx, const struct score_emit *out), void *ctx);
size_t score_sessions(const struct scorer *s);
size_t score_incidents(const struct scorer *s);

/* Small helpers over flat events. FID("a.b") is the interned id of a
 * field name, looked up once per call site. */
static inline uint32_t fid_cached(uint32_t *cache, const char *name)
{
	uint32_t v = __atomic_load_n(cache, __ATOMIC_RELAXED);
	if (v == UINT32_MAX) {
		v = vg_field_id(name);
		__atomic_store_n(cache, v, __ATOMIC_RELAXED);
	}
	return v;
}
#define FID(name) ({ static uint32_t fid_cache_ = UINT32_MAX; fid_cached(&fid_cache_, name); })
const char *flat_str(const struct vg_flat *ev, uint32_t field); /* "" when absent */
uint64_t flat_u64(const struct vg_flat *ev, uint32_t field);

#endif
