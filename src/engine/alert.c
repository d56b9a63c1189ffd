/* Alert JSON: the rule, its ATT&CK tactics and techniques, the matching
 * event(s) embedded as objects, the process chain, session, user,
 * container and host. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "engine_int.h"

static const char *const tactic_names[TACTIC_MAX] = {
	"reconnaissance", "resource_development", "initial_access", "execution", "persistence",
	"privilege_escalation", "defense_evasion", "credential_access", "discovery", "lateral_movement",
	"collection", "command_and_control", "exfiltration", "impact",
};

const char *tactic_name(int t)
{
	return t >= 0 && t < TACTIC_MAX ? tactic_names[t] : "?";
}

/* "attack.privilege-escalation" and "attack.privilege_escalation" alike */
static int tag_tactic(const char *tag)
{
	if (strncasecmp(tag, "attack.", 7) != 0)
		return -1;
	const char *s = tag + 7;
	for (int t = 0; t < TACTIC_MAX; t++) {
		const char *n = tactic_names[t];
		size_t i = 0;
		for (; n[i] && s[i]; i++) {
			char c = s[i] == '-' ? '_' : (char)(s[i] | 0x20);
			if (c != n[i])
				break;
		}
		if (!n[i] && !s[i])
			return t;
	}
	return -1;
}

uint32_t rule_tactics(const struct rule *r)
{
	uint32_t m = 0;
	for (int i = 0; i < r->ntags; i++) {
		int t = r->tags[i] ? tag_tactic(r->tags[i]) : -1;
		if (t >= 0)
			m |= 1u << t;
	}
	return m;
}

int tag_technique(const char *tag, char *out, size_t cap)
{
	if (strncasecmp(tag, "attack.t", 8) != 0)
		return 0;
	const char *s = tag + 8;
	size_t n = 0;
	while (s[n] >= '0' && s[n] <= '9')
		n++;
	if (n != 4)
		return 0;
	if (s[n] == '.') {
		size_t k = 1;
		while (s[n + k] >= '0' && s[n + k] <= '9')
			k++;
		if (k != 4)
			return 0;
		n += k;
	}
	if (s[n])
		return 0;
	snprintf(out, cap, "T%s", s);
	return 1;
}

void put_iso_time(struct jw *w, const char *key, uint64_t ns)
{
	char buf[64];
	time_t secs = (time_t)(ns / 1000000000ULL);
	struct tm tm;
	gmtime_r(&secs, &tm);
	size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, sizeof(buf) - n, ".%09lluZ", (unsigned long long)(ns % 1000000000ULL));
	jw_str(w, key, buf);
}

void put_tactics(struct jw *w, const char *key, uint32_t mask)
{
	jw_arr_open(w, key);
	for (int t = 0; t < TACTIC_MAX; t++)
		if (mask & (1u << t))
			jw_str(w, NULL, tactic_names[t]);
	jw_arr_close(w);
}

static void put_threat(struct jw *w, const struct rule *r)
{
	jw_obj_open(w, "threat");
	put_tactics(w, "tactics", rule_tactics(r));
	jw_arr_open(w, "techniques");
	for (int i = 0; i < r->ntags; i++) {
		char t[32];
		if (r->tags[i] && tag_technique(r->tags[i], t, sizeof(t)))
			jw_str(w, NULL, t);
	}
	jw_arr_close(w);
	jw_obj_close(w);
}

void put_raw_json(struct jw *w, const char *key, const char *json, size_t len)
{
	jw_raw(w, key, "");
	sb_put(w->sb, json, len);
}

const char *flat_str(const struct vg_flat *ev, uint32_t field)
{
	const char *v = ev ? vg_flat_get(ev, field, NULL) : NULL;
	return v ? v : "";
}

uint64_t flat_u64(const struct vg_flat *ev, uint32_t field)
{
	const char *v = flat_str(ev, field);
	uint64_t n = 0;
	for (; *v >= '0' && *v <= '9'; v++)
		n = n * 10 + (uint64_t)(*v - '0');
	return n;
}

/* ---- a little navigation in raw JSON text (the event as encoded) ----- */

static const char *jws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r'))
		p++;
	return p;
}

static const char *jstr_end(const char *p, const char *end)
{
	for (p++; p < end; p++) {
		if (*p == '\\')
			p++;
		else if (*p == '"')
			return p + 1;
	}
	return NULL;
}

/* Returns the end of the value starting at p, or NULL. */
static const char *jskip(const char *p, const char *end)
{
	p = jws(p, end);
	if (p >= end)
		return NULL;
	if (*p == '"')
		return jstr_end(p, end);
	if (*p == '{' || *p == '[') {
		int depth = 0;
		for (; p < end; p++) {
			if (*p == '"') {
				p = jstr_end(p, end);
				if (!p)
					return NULL;
				p--;
			} else if (*p == '{' || *p == '[') {
				depth++;
			} else if (*p == '}' || *p == ']') {
				if (--depth == 0)
					return p + 1;
			}
		}
		return NULL;
	}
	while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\n')
		p++;
	return p;
}

/* In the object at p, the value of key (its text in *v .. *vend). */
static bool jget(const char *p, const char *end, const char *key, const char **v, const char **vend)
{
	p = jws(p, end);
	if (p >= end || *p != '{')
		return false;
	p++;
	size_t kl = strlen(key);
	for (;;) {
		p = jws(p, end);
		if (p >= end || *p != '"')
			return false;
		const char *ks = p + 1, *ke = jstr_end(p, end);
		if (!ke)
			return false;
		p = jws(ke, end);
		if (p >= end || *p != ':')
			return false;
		p = jws(p + 1, end);
		const char *ve = jskip(p, end);
		if (!ve)
			return false;
		if ((size_t)(ke - 1 - ks) == kl && memcmp(ks, key, kl) == 0) {
			*v = p;
			*vend = ve;
			return true;
		}
		p = jws(ve, end);
		if (p >= end || *p != ',')
			return false;
		p++;
	}
}

static void put_member_raw(struct jw *w, const char *obj, const char *end, const char *key)
{
	const char *v, *ve;
	if (jget(obj, end, key, &v, &ve))
		put_raw_json(w, key, v, (size_t)(ve - v));
}

/* process.chain: the process, then each of vigil.ancestors (exec events),
 * or the parent when the event has no ancestors. */
static void put_chain(struct jw *w, const struct alert_in *a)
{
	jw_arr_open(w, "chain");
	const char *js = a->ev_json, *end = js ? js + a->ev_len : NULL;
	const char *p, *pe;
	bool have_proc = js && jget(js, end, "process", &p, &pe);
	if (have_proc) {
		jw_obj_open(w, NULL);
		put_member_raw(w, p, pe, "pid");
		put_member_raw(w, p, pe, "executable");
		put_member_raw(w, p, pe, "command_line");
		jw_obj_close(w);
	}
	const char *vg, *vge, *an, *ane;
	int nanc = 0;
	if (js && jget(js, end, "vigil", &vg, &vge) && jget(vg, vge, "ancestors", &an, &ane) && *an == '[') {
		const char *q = an + 1;
		for (;;) {
			q = jws(q, ane);
			if (q >= ane || *q != '{')
				break;
			const char *oe = jskip(q, ane);
			if (!oe)
				break;
			jw_obj_open(w, NULL);
			put_member_raw(w, q, oe, "pid");
			put_member_raw(w, q, oe, "executable");
			put_member_raw(w, q, oe, "command_line");
			jw_obj_close(w);
			nanc++;
			q = jws(oe, ane);
			if (q >= ane || *q != ',')
				break;
			q++;
		}
	}
	const char *pp, *ppe;
	if (!nanc && have_proc && jget(p, pe, "parent", &pp, &ppe)) {
		jw_obj_open(w, NULL);
		put_member_raw(w, pp, ppe, "pid");
		put_member_raw(w, pp, ppe, "executable");
		put_member_raw(w, pp, ppe, "command_line");
		jw_obj_close(w);
	}
	jw_arr_close(w);
}

static bool is_object(const char *json, size_t len)
{
	const char *p = json ? jws(json, json + len) : NULL;
	return p && p < json + len && *p == '{';
}

static void put_str_if(struct jw *w, const char *key, const char *v)
{
	if (v && *v)
		jw_str(w, key, v);
}

void alert_json(struct strbuf *sb, const struct alert_in *a)
{
	const struct rule *r = a->r;
	const struct vg_flat *ev = a->ev;
	struct jw w;
	jw_init(&w, sb);
	jw_obj_open(&w, NULL);
	put_iso_time(&w, "@timestamp", a->now_ns);
	jw_str(&w, "kind", "alert");
	jw_obj_open(&w, "rule");
	jw_str(&w, "id", r->id ? r->id : "");
	jw_str(&w, "title", r->title ? r->title : "");
	jw_str(&w, "level", level_name(r->level));
	jw_str(&w, "type", r->corr ? "correlation" : "detection");
	jw_arr_open(&w, "tags");
	for (int i = 0; i < r->ntags; i++)
		if (r->tags[i])
			jw_str(&w, NULL, r->tags[i]);
	jw_arr_close(&w);
	jw_str(&w, "file", r->file ? r->file : "");
	jw_obj_close(&w);
	put_threat(&w, r);
	jw_obj_open(&w, "host");
	jw_str(&w, "name", flat_str(ev, FID("host.name")));
	jw_obj_close(&w);
	jw_obj_open(&w, "session");
	jw_str(&w, "id", flat_str(ev, FID("vigil.sid")));
	jw_obj_close(&w);
	jw_obj_open(&w, "user");
	jw_str(&w, "id", flat_str(ev, FID("user.id")));
	jw_obj_close(&w);
	const char *cid = flat_str(ev, FID("container.id"));
	if (*cid) {
		jw_obj_open(&w, "container");
		jw_str(&w, "id", cid);
		jw_obj_close(&w);
	}
	jw_obj_open(&w, "process");
	uint64_t pid = flat_u64(ev, FID("process.pid"));
	if (pid)
		jw_uint(&w, "pid", pid);
	put_str_if(&w, "executable", flat_str(ev, FID("process.executable")));
	put_str_if(&w, "command_line", flat_str(ev, FID("process.command_line")));
	put_chain(&w, a);
	jw_obj_close(&w);
	const struct corr_fire *cf = a->cf;
	if (cf) {
		static const char *const types[] = {"none", "event_count", "value_count", "temporal",
						    "temporal_ordered"};
		jw_obj_open(&w, "correlation");
		jw_str(&w, "type", r->corr && r->corr->type <= CORR_TEMPORAL_ORDERED ? types[r->corr->type] : "?");
		jw_obj_open(&w, "group");
		for (int i = 0; i < cf->ngroup; i++)
			jw_str(&w, cf->group_names[i], cf->group_vals[i]);
		jw_obj_close(&w);
		jw_uint(&w, "count", cf->count);
		put_iso_time(&w, "first", cf->first_ns);
		put_iso_time(&w, "last", cf->last_ns);
		jw_obj_close(&w);
		jw_arr_open(&w, "events");
		for (int i = 0; i < cf->nevents; i++)
			if (is_object(cf->ev_json[i], cf->ev_len[i]))
				put_raw_json(&w, NULL, cf->ev_json[i], cf->ev_len[i]);
		jw_arr_close(&w);
	} else {
		jw_arr_open(&w, "events");
		if (is_object(a->ev_json, a->ev_len))
			put_raw_json(&w, NULL, a->ev_json, a->ev_len);
		jw_arr_close(&w);
	}
	if (r->response && *r->response)
		jw_str(&w, "response", r->response);
	jw_obj_close(&w);
}
