/* Internal to src/engine: the parsed rule model shared by the Sigma parser
 * (sigma.c), the matcher compiler (match.c), correlations (correlate.c),
 * scoring (score.c) and the engine (engine.c). */
#ifndef VIGIL_ENGINE_RULE_H
#define VIGIL_ENGINE_RULE_H
#include <stdbool.h>
#include <stdint.h>
#include "../util/strbuf.h"
#include "../event/flat.h"

enum level { LEVEL_INFORMATIONAL, LEVEL_LOW, LEVEL_MEDIUM, LEVEL_HIGH, LEVEL_CRITICAL };

enum modifier {
	MOD_CONTAINS = 1 << 0, MOD_STARTSWITH = 1 << 1, MOD_ENDSWITH = 1 << 2, MOD_ALL = 1 << 3,
	MOD_RE = 1 << 4, MOD_RE_I = 1 << 5, MOD_RE_M = 1 << 6, MOD_RE_S = 1 << 7,
	MOD_CIDR = 1 << 8, MOD_BASE64 = 1 << 9, MOD_BASE64OFFSET = 1 << 10, MOD_EXISTS = 1 << 11,
	MOD_FIELDREF = 1 << 12, MOD_GT = 1 << 13, MOD_GTE = 1 << 14, MOD_LT = 1 << 15,
	MOD_LTE = 1 << 16, MOD_CASED = 1 << 17, MOD_WINDASH = 1 << 18,
};

/* One `field|modifiers: values` item of a selection. */
struct field_cond {
	char *field;          /* as written (Sigma or ECS name) */
	uint32_t field_id;    /* ECS field id (vg_field_id) after mapping; keywords: all strings */
	bool keyword;         /* a keyword list: match any string field */
	uint32_t mods;
	int nvalues;
	char **values;        /* NULL entry = YAML null (field absent or empty) */
	int line;
	void *compiled;       /* owned by match.c */
};

/* A selection: a map (all items AND) or a list of maps (any map). */
struct selection {
	char *name;
	int nalts;            /* list of maps: alternatives (OR) */
	int *nconds;          /* per alternative */
	struct field_cond **conds; /* conds[alt][i] */
	int line;
};

enum cond_op { COND_SEL, COND_AND, COND_OR, COND_NOT, COND_ONE_OF, COND_ALL_OF };
struct cond_node {
	enum cond_op op;
	struct cond_node *a, *b;
	int sel;                 /* COND_SEL: index into rule->sels */
	int *sels;               /* ONE_OF / ALL_OF: indices matched by the pattern */
	int nsels;
};

enum corr_type { CORR_NONE, CORR_EVENT_COUNT, CORR_VALUE_COUNT, CORR_TEMPORAL, CORR_TEMPORAL_ORDERED };
enum cmp_op { CMP_GT, CMP_GTE, CMP_LT, CMP_LTE, CMP_EQ };

struct correlation {
	enum corr_type type;
	int nrules;
	char **rules;          /* names or ids of referenced rules, in order */
	struct rule **resolved;
	int ngroup;
	char **group_by;       /* field names (aliases resolved per referenced rule) */
	uint32_t *group_ids;   /* UINT32_MAX for an alias (see alias_fields) */
	uint64_t timespan_ns;
	enum cmp_op cmp;
	int64_t threshold;
	char *value_field;     /* value_count */
	uint32_t value_field_id;
	/* aliases: alias name -> per referenced rule field */
	int naliases;
	char **alias_names;
	char ***alias_fields;  /* [alias][rule index] */
	bool generate;         /* referenced rules also alert on their own */
};

struct rule {
	char *file;
	int line;
	char *id, *name, *title, *description, *status, *author;
	enum level level;
	int ntags;
	char **tags;           /* attack.t1059.004, attack.execution, ... */
	char *product, *category, *service;
	int nfalsepositives;
	char **falsepositives;
	/* detection rules */
	int nsels;
	struct selection *sels;
	struct cond_node *cond;  /* first condition (Sigma allows a list: ORed) */
	char *cond_text;
	/* correlation rules */
	struct correlation *corr;
	/* vigil extensions: `vigil: {response: kill, score: 20}` */
	char *response;
	int score;             /* -1: from level */
	bool signal_only;      /* low/informational: scored, not alerted */
	int index;             /* position in the engine */
};

/* sigma.c: parses one YAML file (may hold several documents); appends
 * rules; each error is one "FILE:LINE: reason" line in errs. Returns the
 * number of rules added. */
int sigma_parse(const char *text, size_t len, const char *name, struct rule ***rules, int *nrules,
		struct strbuf *errs);
void rule_free(struct rule *r);
const char *level_name(enum level l);

/* fieldmap.c: Sigma field name -> ECS field name ("Image" ->
 * "process.executable"); unknown names are taken as ECS names. */
const char *sigma_field_to_ecs(const char *name, const char *category);

/* match.c: compiles all detection rules into per-field matchers. */
struct matcher;
struct matcher *matcher_build(struct rule **rules, int n, struct strbuf *errs);
void matcher_free(struct matcher *m);
/* Calls hit(ctx, rule) for each detection rule whose condition is true. */
void matcher_run(struct matcher *m, const struct vg_flat *ev, void (*hit)(void *ctx, struct rule *r),
		 void *ctx);
/* Which Sigma logsource category an event belongs to ("process_creation",
 * "file_event", ...); used to skip rules of other categories. */
const char *event_category(const struct vg_flat *ev);

#endif
