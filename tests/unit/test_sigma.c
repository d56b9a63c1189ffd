/* The Sigma parser: rule metadata, selection shapes, every modifier, every
 * condition form, correlation rules, multi-document files, the field map,
 * and errors reported as "FILE:LINE: reason" with the rule skipped. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "engine/rule.h"

struct parsed {
	struct rule **r;
	int n;
	struct strbuf errs;
};

static void parse(struct parsed *p, const char *yaml)
{
	memset(p, 0, sizeof(*p));
	sb_init(&p->errs);
	int added = sigma_parse(yaml, strlen(yaml), "t.yml", &p->r, &p->n, &p->errs);
	assert_int_equal(added, p->n);
}

static void done(struct parsed *p)
{
	for (int i = 0; i < p->n; i++)
		rule_free(p->r[i]);
	free(p->r);
	sb_free(&p->errs);
}

/* Exactly one rule, no error. */
static struct rule *one(struct parsed *p, const char *yaml)
{
	parse(p, yaml);
	if (p->errs.len)
		fprintf(stderr, "unexpected: %s", p->errs.buf);
	assert_int_equal(p->errs.len, 0);
	assert_int_equal(p->n, 1);
	return p->r[0];
}

/* No rule, exactly one error line equal to want. */
static void bad(const char *yaml, const char *want)
{
	struct parsed p;
	parse(&p, yaml);
	if (!p.errs.buf || strcmp(p.errs.buf, want) != 0)
		fprintf(stderr, "want: %sgot:  %s", want, p.errs.buf ? p.errs.buf : "(nothing)\n");
	assert_non_null(p.errs.buf);
	assert_string_equal(p.errs.buf, want);
	assert_int_equal(p.n, 0);
	done(&p);
}

static void test_metadata(void **state)
{
	struct parsed p;
	struct rule *r = one(&p, "title: Reverse shell\n"
				 "id: 5f1a6c84-0000-4000-8000-000000000001\n"
				 "name: revshell\n"
				 "status: experimental\n"
				 "description: |\n  a shell with\n  socket stdio\n"
				 "author: vigil\n"
				 "date: 2026-01-01\n"
				 "references: [https://example.com]\n"
				 "level: high\n"
				 "tags:\n  - attack.execution\n  - attack.t1059.004\n"
				 "logsource:\n  product: linux\n  category: process_creation\n"
				 "falsepositives:\n  - admins\n  - nobody\n"
				 "detection:\n  sel:\n    Image|endswith: /bash\n  condition: sel\n"
				 "vigil:\n  response: kill\n  score: 25\n");
	assert_string_equal(r->title, "Reverse shell");
	assert_string_equal(r->id, "5f1a6c84-0000-4000-8000-000000000001");
	assert_string_equal(r->name, "revshell");
	assert_string_equal(r->status, "experimental");
	assert_string_equal(r->description, "a shell with\nsocket stdio\n");
	assert_string_equal(r->author, "vigil");
	assert_int_equal(r->level, LEVEL_HIGH);
	assert_int_equal(r->ntags, 2);
	assert_string_equal(r->tags[1], "attack.t1059.004");
	assert_string_equal(r->product, "linux");
	assert_string_equal(r->category, "process_creation");
	assert_null(r->service);
	assert_int_equal(r->nfalsepositives, 2);
	assert_string_equal(r->falsepositives[0], "admins");
	assert_string_equal(r->response, "kill");
	assert_int_equal(r->score, 25);
	assert_false(r->signal_only);
	assert_null(r->corr);
	assert_string_equal(r->file, "t.yml");
	assert_int_equal(r->line, 1);
	assert_int_equal(r->nsels, 1);
	assert_string_equal(r->sels[0].name, "sel");
	assert_int_equal(r->sels[0].line, 22);
	assert_int_equal(r->sels[0].conds[0][0].line, 23);
	assert_string_equal(r->cond_text, "sel");
	done(&p);

	assert_string_equal(level_name(LEVEL_INFORMATIONAL), "informational");
	assert_string_equal(level_name(LEVEL_LOW), "low");
	assert_string_equal(level_name(LEVEL_MEDIUM), "medium");
	assert_string_equal(level_name(LEVEL_CRITICAL), "critical");
}

static void test_signal_only(void **state)
{
	static const struct {
		const char *extra;
		bool signal;
		int score;
	} cases[] = {
		{"level: informational\n", true, -1},
		{"level: low\n", true, -1},
		{"level: medium\n", false, -1},
		{"", false, -1}, /* no level: medium */
		{"level: critical\n", false, -1},
		{"level: low\nvigil: {signal: false}\n", false, -1},
		{"level: high\nvigil: {signal: true, score: 3}\n", true, 3},
		{"level: low\nvigil: {score: 0}\n", true, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char y[512];
		snprintf(y, sizeof(y), "title: t\n%sdetection:\n  s:\n    a: b\n  condition: s\n", cases[i].extra);
		struct parsed p;
		struct rule *r = one(&p, y);
		assert_int_equal(r->signal_only, cases[i].signal);
		assert_int_equal(r->score, cases[i].score);
		done(&p);
	}
}

static void test_selections(void **state)
{
	struct parsed p;
	struct rule *r = one(&p, "title: t\nid: x\n"
				 "logsource: {category: process_creation}\n"
				 "detection:\n"
				 "  map:\n    Image: /bin/sh\n    CommandLine|contains: [a, b, 42]\n"
				 "  alts:\n    - Image: x\n      User: root\n    - ParentImage: y\n"
				 "  nulls:\n    CommandLine: null\n    process.name: [~, '', 'null']\n"
				 "  kw:\n    - evil\n    - 'bad*'\n"
				 "  kw1: lonely\n"
				 "  kwall:\n    '|all': [one, two]\n"
				 "  condition: all of them\n");
	assert_int_equal(r->nsels, 6);
	struct selection *s = &r->sels[0];
	assert_string_equal(s->name, "map");
	assert_int_equal(s->nalts, 1);
	assert_int_equal(s->nconds[0], 2);
	struct field_cond *fc = &s->conds[0][0];
	assert_string_equal(fc->field, "Image");
	assert_int_equal(fc->field_id, vg_field_id("process.executable"));
	assert_false(fc->keyword);
	assert_int_equal(fc->mods, 0);
	assert_int_equal(fc->nvalues, 1);
	assert_string_equal(fc->values[0], "/bin/sh");
	fc = &s->conds[0][1];
	assert_int_equal(fc->field_id, vg_field_id("process.command_line"));
	assert_int_equal(fc->mods, MOD_CONTAINS);
	assert_int_equal(fc->nvalues, 3);
	assert_string_equal(fc->values[2], "42");

	s = &r->sels[1];
	assert_int_equal(s->nalts, 2);
	assert_int_equal(s->nconds[0], 2);
	assert_int_equal(s->nconds[1], 1);
	assert_int_equal(s->conds[0][1].field_id, vg_field_id("user.id"));
	assert_int_equal(s->conds[1][0].field_id, vg_field_id("process.parent.executable"));

	s = &r->sels[2];
	assert_null(s->conds[0][0].values[0]);
	assert_int_equal(s->conds[0][1].nvalues, 3);
	assert_null(s->conds[0][1].values[0]);
	assert_string_equal(s->conds[0][1].values[1], "");
	assert_string_equal(s->conds[0][1].values[2], "null"); /* quoted: a string */
	assert_int_equal(s->conds[0][1].field_id, vg_field_id("process.name"));

	s = &r->sels[3];
	assert_int_equal(s->nalts, 1);
	assert_int_equal(s->nconds[0], 1);
	assert_true(s->conds[0][0].keyword);
	assert_int_equal(s->conds[0][0].nvalues, 2);
	assert_string_equal(s->conds[0][0].values[1], "bad*");
	assert_true(r->sels[4].conds[0][0].keyword);
	assert_string_equal(r->sels[4].conds[0][0].values[0], "lonely");
	assert_true(r->sels[5].conds[0][0].keyword);
	assert_int_equal(r->sels[5].conds[0][0].mods, MOD_ALL);
	done(&p);
}

static void test_modifiers(void **state)
{
	static const struct {
		const char *key, *value;
		uint32_t mods;
	} cases[] = {
		{"f|contains", "x", MOD_CONTAINS},
		{"f|startswith", "x", MOD_STARTSWITH},
		{"f|endswith", "x", MOD_ENDSWITH},
		{"f|contains|all", "[a, b]", MOD_CONTAINS | MOD_ALL},
		{"f|all", "[a, b]", MOD_ALL},
		{"f|re", "'^a.*b$'", MOD_RE},
		{"f|re|i", "x", MOD_RE | MOD_RE_I},
		{"f|re|m", "x", MOD_RE | MOD_RE_M},
		{"f|re|s", "x", MOD_RE | MOD_RE_S},
		{"f|re|i|m|s", "x", MOD_RE | MOD_RE_I | MOD_RE_M | MOD_RE_S},
		{"f|re|ignorecase|multiline|dotall", "x", MOD_RE | MOD_RE_I | MOD_RE_M | MOD_RE_S},
		{"f|cidr", "10.0.0.0/8", MOD_CIDR},
		{"f|cidr", "'2001:db8::/32'", MOD_CIDR},
		{"f|base64", "x", MOD_BASE64},
		{"f|base64|contains", "x", MOD_BASE64 | MOD_CONTAINS},
		{"f|base64offset|contains", "x", MOD_BASE64OFFSET | MOD_CONTAINS},
		{"f|base64offset", "x", MOD_BASE64OFFSET | MOD_CONTAINS}, /* contains implied */
		{"f|exists", "true", MOD_EXISTS},
		{"f|exists", "false", MOD_EXISTS},
		{"f|fieldref", "g", MOD_FIELDREF},
		{"f|fieldref|startswith", "g", MOD_FIELDREF | MOD_STARTSWITH},
		{"f|gt", "1", MOD_GT},
		{"f|gte", "1.5", MOD_GTE},
		{"f|lt", "-3", MOD_LT},
		{"f|lte", "0x10", MOD_LTE},
		{"f|cased", "X", MOD_CASED},
		{"f|contains|cased", "X", MOD_CONTAINS | MOD_CASED},
		{"f|windash|contains", "' -x'", MOD_WINDASH | MOD_CONTAINS},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char y[512];
		snprintf(y, sizeof(y), "title: t\ndetection:\n  s:\n    %s: %s\n  condition: s\n", cases[i].key,
			 cases[i].value);
		struct parsed p;
		struct rule *r = one(&p, y);
		assert_string_equal(r->sels[0].conds[0][0].field, "f");
		if (r->sels[0].conds[0][0].mods != cases[i].mods)
			fprintf(stderr, "%s: %#x\n", cases[i].key, r->sels[0].conds[0][0].mods);
		assert_int_equal(r->sels[0].conds[0][0].mods, cases[i].mods);
		done(&p);
	}
}

/* Condition trees, printed back in prefix form. */
static void show(const struct rule *r, const struct cond_node *n, char *out, size_t cap)
{
	size_t l = strlen(out);
	switch (n->op) {
	case COND_SEL:
		snprintf(out + l, cap - l, "%s", r->sels[n->sel].name);
		return;
	case COND_NOT:
		snprintf(out + l, cap - l, "not(");
		show(r, n->a, out, cap);
		break;
	case COND_AND:
	case COND_OR:
		snprintf(out + l, cap - l, "%s(", n->op == COND_AND ? "and" : "or");
		show(r, n->a, out, cap);
		l = strlen(out);
		snprintf(out + l, cap - l, ",");
		show(r, n->b, out, cap);
		break;
	case COND_ONE_OF:
	case COND_ALL_OF:
		snprintf(out + l, cap - l, "%s(", n->op == COND_ONE_OF ? "one" : "all");
		for (int i = 0; i < n->nsels; i++) {
			l = strlen(out);
			snprintf(out + l, cap - l, "%s%s", i ? "," : "", r->sels[n->sels[i]].name);
		}
		break;
	}
	l = strlen(out);
	snprintf(out + l, cap - l, ")");
}

static void check_cond(const char *cond, const char *want)
{
	char y[1024];
	snprintf(y, sizeof(y),
		 "title: t\ndetection:\n  sel_a: {a: 1}\n  sel_b: {b: 1}\n  c: {c: 1}\n  _f: {f: 1}\n"
		 "  condition: %s\n",
		 cond);
	struct parsed p;
	struct rule *r = one(&p, y);
	char out[512] = "";
	show(r, r->cond, out, sizeof(out));
	if (strcmp(out, want))
		fprintf(stderr, "%s -> %s\n", cond, out);
	assert_string_equal(out, want);
	done(&p);
}

static void test_conditions(void **state)
{
	check_cond("sel_a", "sel_a");
	check_cond("sel_a and sel_b", "and(sel_a,sel_b)");
	check_cond("sel_a or sel_b", "or(sel_a,sel_b)");
	check_cond("not sel_a", "not(sel_a)");
	/* not > and > or */
	check_cond("sel_a or sel_b and not c", "or(sel_a,and(sel_b,not(c)))");
	check_cond("not sel_a and sel_b or c", "or(and(not(sel_a),sel_b),c)");
	check_cond("sel_a and sel_b and c", "and(and(sel_a,sel_b),c)");
	check_cond("(sel_a or sel_b) and c", "and(or(sel_a,sel_b),c)");
	check_cond("not (sel_a or (sel_b))", "not(or(sel_a,sel_b))");
	check_cond("not not sel_a", "not(not(sel_a))");
	check_cond("1 of sel_*", "one(sel_a,sel_b)");
	check_cond("any of sel_*", "one(sel_a,sel_b)");
	check_cond("all of sel_*", "all(sel_a,sel_b)");
	check_cond("1 of them", "one(sel_a,sel_b,c)");
	check_cond("all of them", "all(sel_a,sel_b,c)");
	check_cond("1 of _*", "one(_f)");
	check_cond("1 of *", "one(sel_a,sel_b,c,_f)");
	check_cond("all of sel_a", "all(sel_a)");
	check_cond("1 of sel_* and not 1 of _*", "and(one(sel_a,sel_b),not(one(_f)))");
	check_cond("c and not _f", "and(c,not(_f))");
}

static void test_condition_list(void **state)
{
	struct parsed p;
	struct rule *r = one(&p, "title: t\ndetection:\n  a: {x: 1}\n  b: {y: 1}\n  condition:\n    - a\n    - b and a\n");
	char out[256] = "";
	show(r, r->cond, out, sizeof(out));
	assert_string_equal(out, "or(a,and(b,a))");
	assert_string_equal(r->cond_text, "(a) or (b and a)");
	done(&p);
}

static void test_errors(void **state)
{
	/* the reason and the line of the offending node */
	bad("title: t\ndetection:\n  sel:\n    Image|endwith: x\n  condition: sel\n",
	    "t.yml:4: unknown modifier 'endwith' in 'Image|endwith'\n");
	bad("title: t\ndetection:\n  sel:\n    Image|utf16le|base64: x\n  condition: sel\n",
	    "t.yml:4: unsupported modifier 'utf16le' in 'Image|utf16le|base64'\n");
	bad("title: t\ndetection:\n  sel:\n    Image|contains|contains: x\n  condition: sel\n",
	    "t.yml:4: modifier 'contains' repeated in 'Image|contains|contains'\n");
	bad("title: t\ndetection:\n  sel:\n    Image: x\n  condition: sel and\n",
	    "t.yml:5: bad condition: expected a selection name, 'not', '(' or '1 of'/'all of' but the condition "
	    "ended\n");
	bad("title: t\ndetection:\n  sel:\n    Image: x\n  condition: sel sel\n",
	    "t.yml:5: bad condition: expected 'and', 'or' or the end of the condition but found 'sel'\n");
	bad("title: t\ndetection:\n  sel:\n    Image: x\n  condition: (sel\n",
	    "t.yml:5: bad condition: expected ')' but the condition ended\n");
	bad("title: t\ndetection:\n  sel:\n    Image: x\n  condition: sel)\n",
	    "t.yml:5: bad condition: expected 'and', 'or' or the end of the condition but found ')'\n");
	bad("title: t\ndetection:\n  sel:\n    Image: x\n  condition: sel or other\n",
	    "t.yml:5: bad condition: unknown selection 'other'\n");
	bad("title: t\ndetection:\n  sel:\n    Image: x\n  condition: 1 of foo*\n",
	    "t.yml:5: bad condition: 'foo*' matches no selection\n");
	bad("title: t\ndetection:\n  sel:\n    Image: x\n  condition: 1 sel\n",
	    "t.yml:5: bad condition: expected 'of' but found 'sel'\n");
	bad("title: t\ndetection:\n  sel:\n    Image: x\n  condition: 2 of sel\n",
	    "t.yml:5: bad condition: only '1 of' and 'all of' are supported, not '2 of'\n");
	bad("title: t\ndetection:\n  sel:\n    Image: x\n  condition: sel*\n",
	    "t.yml:5: bad condition: a pattern like 'sel*' needs '1 of' or 'all of'\n");
	bad("title: t\ndetection:\n  sel:\n    Image: x\n  condition: all of\n",
	    "t.yml:5: bad condition: expected a selection pattern or 'them' after 'of' but the condition ended\n");
	bad("title: t\ndetection:\n  sel:\n    Image: x\n  condition: sel | count() > 5\n",
	    "t.yml:5: bad condition: aggregations ('| count() ...') are not supported; write a correlation rule\n");
	bad("title: t\ndetection:\n  sel:\n    Image: x\n  condition: ''\n", "t.yml:5: bad condition: empty\n");
	bad("title: t\ndetection:\n  _x:\n    Image: x\n  condition: 1 of them\n",
	    "t.yml:5: bad condition: 'them' matches no selection\n");
	bad("title: t\nlevel: high\n", "t.yml:1: missing detection\n");
	bad("level: high\ndetection:\n  sel: {a: b}\n  condition: sel\n", "t.yml:1: missing title\n");
	bad("title: t\ndetection:\n  sel:\n    Image: x\n", "t.yml:2: missing detection condition\n");
	bad("title: t\ndetection:\n  condition: sel\n", "t.yml:2: detection has no selection\n");
	bad("title: t\nlevel: severe\ndetection:\n  sel: {a: b}\n  condition: sel\n",
	    "t.yml:2: bad level 'severe' (expected informational, low, medium, high or critical)\n");
	bad("title: t\ndetection:\n  sel:\n  condition: sel\n", "t.yml:3: selection 'sel' is empty\n");
	bad("title: t\ndetection:\n  sel: {}\n  condition: sel\n", "t.yml:3: selection 'sel' is empty\n");
	bad("title: t\ndetection:\n  sel:\n    - a: 1\n    - b\n  condition: sel\n",
	    "t.yml:4: selection 'sel' mixes maps and plain values\n");
	bad("title: t\ndetection:\n  sel:\n    a: {b: 1}\n  condition: sel\n",
	    "t.yml:4: 'a': expected a value or a list of values, not a map\n");
	bad("title: t\ndetection:\n  sel:\n    a: []\n  condition: sel\n", "t.yml:4: 'a': empty list of values\n");
	bad("title: t\ndetection:\n  sel:\n    a: 1\n  sel:\n    b: 2\n  condition: sel\n",
	    "t.yml:5: duplicate selection 'sel'\n");
	bad("title: t\ndetection:\n  sel:\n    a|i: x\n  condition: sel\n",
	    "t.yml:4: 'a': modifier 'i' is only valid after 're'\n");
	bad("title: t\ndetection:\n  sel:\n    a|contains|endswith: x\n  condition: sel\n",
	    "t.yml:4: 'a': modifiers contains, startswith and endswith exclude each other\n");
	bad("title: t\ndetection:\n  sel:\n    a|re|contains: x\n  condition: sel\n",
	    "t.yml:4: 'a': modifier 're' cannot be combined with 'contains'\n");
	bad("title: t\ndetection:\n  sel:\n    a|re: '(x'\n  condition: sel\n",
	    "t.yml:4: 'a|re': bad regular expression '(x': missing closing parenthesis at offset 2\n");
	bad("title: t\ndetection:\n  sel:\n    a|cidr: 10.0.0.0/33\n  condition: sel\n",
	    "t.yml:4: 'a|cidr': '10.0.0.0/33' is not an IPv4 or IPv6 network\n");
	bad("title: t\ndetection:\n  sel:\n    a|cidr|contains: 10.0.0.0/8\n  condition: sel\n",
	    "t.yml:4: 'a': modifier 'cidr' cannot be combined with 'contains'\n");
	bad("title: t\ndetection:\n  sel:\n    a|gt: ten\n  condition: sel\n", "t.yml:4: 'a|gt': 'ten' is not a number\n");
	bad("title: t\ndetection:\n  sel:\n    a|gt|lt: 1\n  condition: sel\n",
	    "t.yml:4: 'a': a numeric comparison (gt, gte, lt, lte) takes no other modifier\n");
	bad("title: t\ndetection:\n  sel:\n    a|exists: maybe\n  condition: sel\n",
	    "t.yml:4: 'a|exists' must be true or false\n");
	bad("title: t\ndetection:\n  sel:\n    a|exists: [true, false]\n  condition: sel\n",
	    "t.yml:4: 'a|exists' takes one value\n");
	bad("title: t\ndetection:\n  sel:\n    a|exists|contains: true\n  condition: sel\n",
	    "t.yml:4: 'a': modifier 'exists' takes no other modifier\n");
	bad("title: t\ndetection:\n  sel:\n    a|base64|base64offset: x\n  condition: sel\n",
	    "t.yml:4: 'a': modifiers base64 and base64offset exclude each other\n");
	bad("title: t\ndetection:\n  sel:\n    a|contains: null\n  condition: sel\n",
	    "t.yml:4: 'a': null cannot take modifier 'contains'\n");
	bad("title: t\ndetection:\n  sel:\n    '|cidr': [10.0.0.0/8]\n  condition: sel\n",
	    "t.yml:4: keywords cannot take modifier 'cidr'\n");
	bad("title: t\nlogsource: {product: linux, category: proc_creation}\ndetection:\n  sel: {a: 1}\n  condition: sel\n",
	    "t.yml:2: unknown logsource category 'proc_creation' (see docs/sigma-fields.md)\n");
	bad("title: t\nvigil: {response: nuke}\ndetection:\n  sel: {a: 1}\n  condition: sel\n",
	    "t.yml:2: unknown response 'nuke' (expected kill, kill_tree, kill_session, block, block_exec, "
	    "quarantine, isolate, isolate_process, isolate_host or freeze)\n");
	bad("title: t\nvigil: {kill: true}\ndetection:\n  sel: {a: 1}\n  condition: sel\n",
	    "t.yml:2: unknown vigil key 'kill' (expected response, score or signal)\n");
	bad("title: t\nvigil: {score: 5000}\ndetection:\n  sel: {a: 1}\n  condition: sel\n",
	    "t.yml:2: 'score' must be an integer from 0 to 1000\n");
	bad("title: [a]\ndetection:\n  sel: {a: 1}\n  condition: sel\n", "t.yml:1: 'title' must be a string\n");
	bad("title: t\ntitle: u\ndetection:\n  sel: {a: 1}\n  condition: sel\n", "t.yml:2: duplicate key 'title'\n");
	bad("- a\n- b\n", "t.yml:1: a rule must be a YAML map\n");
	bad("title: t\naction: global\ndetection:\n  sel: {a: 1}\n  condition: sel\n",
	    "t.yml:2: rule collections ('action: global') are not supported: write one rule per document\n");
	bad("title: t\ndetection:\n  sel: {a: 1}\n  condition: sel\ncorrelation:\n  type: temporal\n",
	    "t.yml:5: a rule has either 'detection' or 'correlation', not both\n");
	/* YAML syntax errors stop the file at the line where they are found */
	bad("title: t\ndetection:\n  sel: {a: 1\n  condition: sel\n",
	    "t.yml:4: YAML syntax error: did not find expected ',' or '}' while parsing a flow mapping\n");
	bad("title: 'unterminated\n", "t.yml:2: YAML syntax error: found unexpected end of stream while scanning a "
				       "quoted scalar\n");
}

static void test_multidoc(void **state)
{
	struct parsed p;
	parse(&p, "title: one\nid: one\ndetection:\n  s: {a: 1}\n  condition: s\n"
		  "---\n"
		  "title: two\nid: two\ndetection:\n  s: {a|nope: 1}\n  condition: s\n"
		  "---\n"
		  "title: three\nid: three\ndetection:\n  s: {a: 1}\n  condition: s\n"
		  "---\n"
		  "title: dup\nid: one\ndetection:\n  s: {a: 1}\n  condition: s\n"
		  "---\n"
		  "title: four\ndetection:\n  s: {a: 1}\n  condition: s\n"
		  "---\n");
	assert_int_equal(p.n, 3);
	assert_string_equal(p.r[0]->id, "one");
	assert_string_equal(p.r[1]->id, "three");
	assert_int_equal(p.r[1]->line, 13);
	/* no id: the file's name and the document's number */
	assert_string_equal(p.r[2]->id, "t#5");
	assert_string_equal(p.errs.buf, "t.yml:10: unknown modifier 'nope' in 'a|nope'\n"
					"t.yml:19: duplicate id 'one' (also in t.yml:1)\n");
	done(&p);
	/* an empty file and an empty document are not errors */
	parse(&p, "");
	assert_int_equal(p.n, 0);
	assert_int_equal(p.errs.len, 0);
	done(&p);
	parse(&p, "---\n---\n# just a comment\n");
	assert_int_equal(p.n, 0);
	assert_int_equal(p.errs.len, 0);
	done(&p);
}

static void test_correlation(void **state)
{
	struct parsed p;
	struct rule *r = one(&p, "title: many failed\nid: c1\nlevel: high\n"
				 "correlation:\n  type: event_count\n  rules:\n    - failed_login\n"
				 "  group-by:\n    - User\n    - host.name\n  timespan: 10m\n"
				 "  condition:\n    gte: 5\n  generate: true\n");
	struct correlation *c = r->corr;
	assert_non_null(c);
	assert_int_equal(c->type, CORR_EVENT_COUNT);
	assert_int_equal(c->nrules, 1);
	assert_string_equal(c->rules[0], "failed_login");
	assert_int_equal(c->ngroup, 2);
	assert_string_equal(c->group_by[0], "user.id");
	assert_int_equal(c->group_ids[0], vg_field_id("user.id"));
	assert_int_equal(c->group_ids[1], vg_field_id("host.name"));
	assert_int_equal(c->timespan_ns, 600ULL * 1000000000ULL);
	assert_int_equal(c->cmp, CMP_GTE);
	assert_int_equal(c->threshold, 5);
	assert_true(c->generate);
	assert_int_equal(r->nsels, 0);
	assert_null(r->cond);
	done(&p);

	r = one(&p, "title: spray\ncorrelation:\n  type: value_count\n  rules: [conn]\n  group-by: [SourceIp]\n"
		    "  timespan: 1h\n  condition: {gt: 10, field: DestinationPort}\n");
	c = r->corr;
	assert_int_equal(c->type, CORR_VALUE_COUNT);
	assert_string_equal(c->value_field, "destination.port");
	assert_int_equal(c->value_field_id, vg_field_id("destination.port"));
	assert_int_equal(c->cmp, CMP_GT);
	assert_int_equal(c->threshold, 10);
	assert_int_equal(c->timespan_ns, 3600ULL * 1000000000ULL);
	assert_false(c->generate);
	done(&p);

	r = one(&p, "title: chain\ngenerate: true\ncorrelation:\n  type: temporal_ordered\n"
		    "  rules: [download, chmod, run]\n  group-by: [path]\n  timespan: 1d\n"
		    "  aliases:\n    path:\n      download: TargetFilename\n      chmod: file.path\n"
		    "      run: Image\n");
	c = r->corr;
	assert_int_equal(c->type, CORR_TEMPORAL_ORDERED);
	assert_int_equal(c->nrules, 3);
	assert_string_equal(c->rules[2], "run");
	assert_int_equal(c->timespan_ns, 86400ULL * 1000000000ULL);
	/* no condition: every rule */
	assert_int_equal(c->cmp, CMP_GTE);
	assert_int_equal(c->threshold, 3);
	assert_int_equal(c->naliases, 1);
	assert_string_equal(c->alias_names[0], "path");
	assert_string_equal(c->alias_fields[0][0], "file.path");
	assert_string_equal(c->alias_fields[0][1], "file.path");
	assert_string_equal(c->alias_fields[0][2], "process.executable");
	assert_string_equal(c->group_by[0], "path");
	assert_int_equal(c->group_ids[0], UINT32_MAX);
	assert_true(c->generate);
	done(&p);

	r = one(&p, "title: t\ncorrelation:\n  type: temporal\n  rules: [a, b]\n  timespan: 30s\n"
		    "  condition: {eq: 2}\n");
	assert_int_equal(r->corr->type, CORR_TEMPORAL);
	assert_int_equal(r->corr->cmp, CMP_EQ);
	assert_int_equal(r->corr->timespan_ns, 30ULL * 1000000000ULL);
	assert_int_equal(r->corr->ngroup, 0);
	done(&p);

	const char *head = "title: t\ncorrelation:\n";
	char y[512];
#define CBAD(body, want)                                 \
	do {                                             \
		snprintf(y, sizeof(y), "%s%s", head, body); \
		bad(y, want);                            \
	} while (0)
	CBAD("  type: event_count\n  rules: [a]\n  timespan: 5x\n  condition: {gte: 1}\n",
	     "t.yml:5: bad timespan '5x' (expected a number followed by s, m, h or d)\n");
	CBAD("  type: event_count\n  rules: [a]\n  timespan: 0s\n  condition: {gte: 1}\n",
	     "t.yml:5: bad timespan '0s' (expected a number followed by s, m, h or d)\n");
	CBAD("  type: event_count\n  rules: [a]\n  timespan: -5m\n  condition: {gte: 1}\n",
	     "t.yml:5: bad timespan '-5m' (expected a number followed by s, m, h or d)\n");
	CBAD("  type: sequence\n  rules: [a]\n  timespan: 5m\n",
	     "t.yml:3: unknown correlation type 'sequence' (expected event_count, value_count, temporal or "
	     "temporal_ordered)\n");
	CBAD("  rules: [a]\n  timespan: 5m\n  condition: {gte: 1}\n", "t.yml:2: correlation without 'type'\n");
	CBAD("  type: event_count\n  timespan: 5m\n  condition: {gte: 1}\n", "t.yml:2: correlation without 'rules'\n");
	CBAD("  type: event_count\n  rules: [a]\n  condition: {gte: 1}\n", "t.yml:2: correlation without 'timespan'\n");
	CBAD("  type: event_count\n  rules: [a]\n  timespan: 5m\n", "t.yml:2: correlation without 'condition'\n");
	CBAD("  type: value_count\n  rules: [a]\n  timespan: 5m\n  condition: {gte: 2}\n",
	     "t.yml:6: value_count needs 'field' in its condition\n");
	CBAD("  type: event_count\n  rules: [a]\n  timespan: 5m\n  condition: {gte: 2, lt: 9}\n",
	     "t.yml:6: correlation condition needs exactly one of gt, gte, lt, lte, eq\n");
	CBAD("  type: event_count\n  rules: [a]\n  timespan: 5m\n  condition: {above: 2}\n",
	     "t.yml:6: unknown correlation condition key 'above' (expected gt, gte, lt, lte, eq or field)\n");
	CBAD("  type: event_count\n  rules: [a]\n  timespan: 5m\n  condition: {gte: many}\n",
	     "t.yml:6: 'gte' must be an integer from 0 to 1099511627776\n");
	CBAD("  type: temporal\n  rules: [a]\n  timespan: 5m\n",
	     "t.yml:2: a temporal correlation needs at least two rules\n");
	CBAD("  type: temporal\n  rules: [a, b]\n  timespan: 5m\n  aliases:\n    x:\n      c: f\n",
	     "t.yml:8: alias 'x': 'c' is not one of the correlation's rules\n");
	CBAD("  type: temporal\n  rules: [a, b]\n  timespan: 5m\n  window: 3\n",
	     "t.yml:6: unknown correlation key 'window'\n");
}

static void test_field_map(void **state)
{
	static const char *const pairs[][2] = {
		{"Image", "process.executable"},
		{"CommandLine", "process.command_line"},
		{"ParentImage", "process.parent.executable"},
		{"ParentCommandLine", "process.parent.command_line"},
		{"User", "user.id"},
		{"CurrentDirectory", "process.working_directory"},
		{"ProcessId", "process.pid"},
		{"ParentProcessId", "process.parent.pid"},
		{"LogonId", "vigil.sid"},
		{"TargetFilename", "file.path"},
		{"SourceFilename", "vigil.file.old_path"},
		{"DestinationIp", "destination.ip"},
		{"DestinationPort", "destination.port"},
		{"DestinationHostname", "dns.question.name"},
		{"SourceIp", "source.ip"},
		{"SourcePort", "source.port"},
		{"Initiated", "network.direction"},
		{"QueryName", "dns.question.name"},
		{"Hashes", "process.hash.sha256"},
		{"sha256", "process.hash.sha256"},
		{"process.args", "process.args"},       /* ECS names pass through */
		{"vigil.exec.memfd", "vigil.exec.memfd"},
	};
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++)
		assert_string_equal(sigma_field_to_ecs(pairs[i][0], "process_creation"), pairs[i][1]);
	/* values follow the field: Initiated true/false, Hashes' sha256 part */
	struct parsed p;
	struct rule *r = one(&p, "title: t\ndetection:\n  s:\n    Initiated: 'true'\n    i2: x\n"
				 "  t:\n    Initiated: false\n    Hashes: 'MD5=00,SHA256=AbCd,IMPHASH=11'\n"
				 "  condition: s or t\n");
	assert_string_equal(r->sels[0].conds[0][0].values[0], "egress");
	assert_string_equal(r->sels[1].conds[0][0].values[0], "ingress");
	assert_string_equal(r->sels[1].conds[0][1].values[0], "AbCd");
	done(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_metadata),   cmocka_unit_test(test_signal_only),
		cmocka_unit_test(test_selections), cmocka_unit_test(test_modifiers),
		cmocka_unit_test(test_conditions), cmocka_unit_test(test_condition_list),
		cmocka_unit_test(test_errors),	   cmocka_unit_test(test_multidoc),
		cmocka_unit_test(test_correlation), cmocka_unit_test(test_field_map),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
