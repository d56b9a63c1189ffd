/* engine_bench: the detection engine's throughput on one core.
 *
 *   build/bench/engine_bench [--events N] [--rules N] [--shipped DIR] [--input FILE.jsonl] [--alerts FILE]
 *   build/bench/engine_bench --rules N --write-rules FILE.yml
 *
 * Generates N rules (default 1000) from realistic templates (command-line
 * contains/startswith, image endswith, parent images, paths, IPs and CIDRs,
 * DNS names, a few regexes, filters) and a stream of N events (default 1M)
 * shaped like vigild's (exec, exec_failed, fork, exit, file, network, dns,
 * signal, in the proportions a busy build host shows), or reads recorded
 * JSON lines with --input. Measures on one thread:
 *   - rule load (parse) and compile (Hyperscan) time,
 *   - flattening alone (JSON text -> flat fields), events/s,
 *   - flatten + match with the shipped rules and with the generated ones,
 *   - the full engine (engine_process: matching, correlation, scoring,
 *     alert JSON) with the generated rules, with flattening (engine_eps)
 *     and without it (engine_only_eps: vigild builds the flat view while
 *     it encodes each event, so it never parses JSON back),
 *   - engine_process alone, events flattened beforehand and untimed, with
 *     the shipped rules (correlations included) and with the generated
 *     ones (engine_alone_ns); a recorded stream runs on its own
 *     @timestamp, so correlation windows see its real rates,
 *   - memory: RSS growth of each compiled rule set, peak RSS.
 * --alerts FILE writes every matcher hit and every engine output, one line
 * each, to compare two builds of the engine on the same stream.
 * Prints one JSON line. --write-rules only writes the generated rules (one
 * file, YAML documents) for vigild to load, as bench/alert_latency.sh does
 * with GENERATED_RULES=N. */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "engine/engine.h"
#include "engine/rule.h"
#include "event/flat.h"

/* CPU time of this thread: on a shared machine, time spent waiting for a
 * core is not counted. */
static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long status_kb(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	if (!f)
		return -1;
	char line[256];
	long v = -1;
	size_t kl = strlen(key);
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, kl) == 0 && line[kl] == ':')
			v = atol(line + kl + 1);
	fclose(f);
	return v;
}

/* xorshift: reproducible streams */
static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}
#define PICK(a) (a[rnd() % (sizeof(a) / sizeof(a[0]))])

static const char *const bins[] = {
	"ls", "cat", "grep", "sed", "awk", "find", "ps", "ss", "git", "make", "cc", "cc1", "as", "ld",
	"python3", "perl", "bash", "sh", "dash", "curl", "wget", "ssh", "scp", "tar", "gzip", "cp", "mv",
	"rm", "chmod", "chown", "systemctl", "journalctl", "apt-get", "dpkg", "id", "whoami", "uname",
	"hostname", "crontab", "useradd", "nc", "ncat", "socat", "base64", "openssl", "docker", "nsenter",
	"mount", "insmod", "kill", "top", "head", "tail", "sort", "uniq", "wc", "xargs", "env", "sleep",
};
static const char *const dirs[] = {"/usr/bin", "/bin", "/usr/sbin", "/usr/local/bin", "/tmp", "/dev/shm",
				   "/opt/app/bin", "/home/user/.local/bin"};
static const char *const parents[] = {"/usr/bin/bash", "/usr/bin/make", "/usr/sbin/sshd", "/usr/sbin/cron",
				      "/usr/lib/systemd/systemd", "/usr/sbin/nginx", "/usr/bin/python3",
				      "/usr/bin/dash", "/usr/bin/sudo", "/usr/sbin/apache2"};
static const char *const args[] = {
	"-la", "-rf", "--color=auto", "-c", "-e", "-i", "-o", "/tmp/x", "/etc/passwd", "/etc/shadow",
	"-O2", "-g", "-Wall", "status", "install", "clone", "commit", "-m", "http://10.1.2.3/a.sh",
	"/dev/tcp/10.0.0.5/4444", "--flag", "user@host", "-p", "22", "stratum+tcp://pool.example:3333",
	"~/.ssh/id_rsa", "/var/log/auth.log", "LD_PRELOAD=/tmp/x.so", "*.c", "-name", "README.md",
};
static const char *const fexts[] = {".c", ".o", ".h", ".txt", ".log", ".so", ".sh", ".py", ".json", ".tmp",
				    ".yml", ".conf", ".service", ".pub", ".locked"};
static const char *const fdirs[] = {"/tmp", "/work/main/build", "/home/user/project", "/var/log",
				    "/etc", "/etc/cron.d", "/root/.ssh", "/var/tmp", "/dev/shm",
				    "/etc/systemd/system", "/usr/lib/python3/dist-packages"};
static const char *const tlds[] = {"com", "net", "org", "io", "ru", "cn", "onion", "xyz", "top"};
static const char *const words[] = {"alpha", "bravo", "cloud", "delta", "echo", "fox", "golf", "hotel",
				    "india", "jade", "kilo", "lima", "mike", "nova", "oscar", "papa",
				    "quartz", "romeo", "sierra", "tango", "ultra", "victor", "whisky",
				    "xray", "yankee", "zulu", "pool", "mine", "update", "cdn", "api", "mail"};

/* ---- rules ------------------------------------------------------------- */

/* What some generated rules look for, so that some events match them. */
struct plant {
	int kind;
	const char *b, *a, *w, *tld;
	unsigned n, ip[3], port;
};
static struct plant plants[4096];
static int nplants;

static void gen_rule(struct strbuf *y, int i)
{
	const char *lvl[] = {"low", "medium", "high", "critical", "informational"};
	sb_printf(y, "title: generated rule %d\nid: gen-%05d\nlevel: %s\ntags: [attack.execution, attack.t1059]\n", i,
		  i, lvl[i % 5]);
	const char *b = PICK(bins), *a = PICK(args), *w = PICK(words);
	unsigned n = rnd() % 100000;
	struct plant *pl = nplants < (int)(sizeof(plants) / sizeof(plants[0])) ? &plants[nplants] : NULL;
	switch (i % 12) {
	case 0:
		sb_printf(y, "logsource: {product: linux, category: process_creation}\ndetection:\n"
			     "  sel:\n    Image|endswith: '/%s%u'\n    CommandLine|contains: '%s'\n  condition: sel\n",
			  b, n, a);
		if (pl) {
			*pl = (struct plant){.kind = 0, .b = b, .a = a, .n = n};
			nplants++;
		}
		break;
	case 1:
		sb_printf(y, "logsource: {product: linux, category: process_creation}\ndetection:\n"
			     "  sel:\n    CommandLine|startswith: '%s --%s-%u'\n  condition: sel\n",
			  b, w, n);
		if (pl) {
			*pl = (struct plant){.kind = 1, .b = b, .w = w, .n = n};
			nplants++;
		}
		break;
	case 2:
		sb_printf(y, "logsource: {product: linux, category: process_creation}\ndetection:\n"
			     "  sel:\n    ParentImage|endswith: '/%s%u'\n    Image|endswith: [/bash, /sh, /dash]\n"
			     "  filter:\n    User: 0\n  condition: sel and not filter\n",
			  w, n);
		break;
	case 3:
		sb_printf(y, "logsource: {product: linux, category: process_creation}\ndetection:\n"
			     "  sel:\n    CommandLine|contains|all: ['%s', '%s%u']\n  condition: sel\n",
			  a, w, n);
		break;
	case 4:
		sb_printf(y, "logsource: {product: linux, category: file_event}\ndetection:\n"
			     "  sel:\n    TargetFilename|startswith: '%s/%s%u'\n  condition: sel\n",
			  PICK(fdirs), w, n);
		break;
	case 5:
		sb_printf(y, "logsource: {product: linux, category: file_event}\ndetection:\n"
			     "  sel:\n    TargetFilename|endswith: '/%s%u%s'\n    Image|endswith: '/%s'\n"
			     "  condition: sel\n",
			  w, n, PICK(fexts), b);
		break;
	case 6: {
		unsigned ip0 = rnd() % 223 + 1, ip1 = rnd() % 256, ip2 = rnd() % 256, port = rnd() % 65535 + 1;
		sb_printf(y, "logsource: {product: linux, category: network_connection}\ndetection:\n"
			     "  sel:\n    DestinationIp|cidr: '%u.%u.%u.0/24'\n    DestinationPort: %u\n"
			     "  condition: sel\n",
			  ip0, ip1, ip2, port);
		if (pl) {
			*pl = (struct plant){.kind = 6, .ip = {ip0, ip1, ip2}, .port = port};
			nplants++;
		}
		break;
	}
	case 7: {
		const char *tld = PICK(tlds);
		sb_printf(y, "logsource: {product: linux, category: dns_query}\ndetection:\n"
			     "  sel:\n    QueryName|endswith: '.%s%u.%s'\n  condition: sel\n",
			  w, n, tld);
		if (pl) {
			*pl = (struct plant){.kind = 7, .w = w, .n = n, .tld = tld};
			nplants++;
		}
		break;
	}
	case 8:
		sb_printf(y, "logsource: {product: linux, category: process_creation}\ndetection:\n"
			     "  sel:\n    CommandLine|re: '%s%u\\s+-[a-z]+\\s+[0-9]{2,5}'\n  condition: sel\n",
			  b, n);
		break;
	case 9:
		sb_printf(y, "logsource: {product: linux, category: process_creation}\ndetection:\n"
			     "  sel:\n    Image: '%s/%s-%s%u'\n  condition: sel\n",
			  PICK(dirs), b, w, n);
		break;
	case 10:
		sb_printf(y, "logsource: {product: linux, category: process_creation}\ndetection:\n"
			     "  sel_img:\n    Image|endswith: ['/%s%u', '/%s%u']\n"
			     "  sel_cli:\n    CommandLine|contains: [' -%s%u ', '%s.%s%u.%s']\n"
			     "  filter:\n    ParentImage|endswith: /systemd\n"
			     "  condition: 1 of sel_* and not filter\n",
			  b, n, w, n, w, n, w, PICK(words), n, PICK(tlds));
		break;
	case 11:
		sb_printf(y, "logsource: {product: linux, category: network_connection}\ndetection:\n"
			     "  sel:\n    Image|endswith: '/%s%u'\n    DestinationPort: [%u, %u]\n  condition: sel\n",
			  b, n, rnd() % 65535 + 1, rnd() % 65535 + 1);
		break;
	}
	sb_puts(y, "---\n");
}

/* ---- events ------------------------------------------------------------ */

static unsigned pid_next = 20000;

static void put_proc(struct strbuf *e, const char *exe, const char *cmd, int nargs, const char **av)
{
	unsigned pid = pid_next++;
	sb_printf(e,
		  "\"host\":{\"name\":\"vm\",\"id\":\"3d1219c7c4c5404aaa1f6d2a48adfda4\"},\"process\":{\"pid\":%u,"
		  "\"vpid\":%u,\"thread\":{\"id\":%u},\"name\":\"%s\",\"entity_id\":\"%u-18660%07u\","
		  "\"start_ns\":18660%07u,",
		  pid, pid, pid, strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe, pid, rnd() % 10000000,
		  rnd() % 10000000);
	if (cmd) {
		sb_printf(e, "\"executable\":\"%s\",\"args\":[", exe);
		for (int i = 0; i < nargs; i++)
			sb_printf(e, "%s\"%s\"", i ? "," : "", av[i]);
		sb_printf(e, "],\"args_count\":%d,\"command_line\":\"%s\",\"working_directory\":\"/work/main\","
			     "\"hash\":{\"sha256\":\"41fe4f5a03389ea5cf7c92d6753fa1ecc69b45b12534fd8713c53bba0e2d7e%02x\"},",
			  nargs, cmd, rnd() % 256);
	}
	const char *par = PICK(parents);
	sb_printf(e,
		  "\"tty\":{},\"parent\":{\"pid\":%u,\"executable\":\"%s\",\"args\":[\"%s\",\"-c\",\"x\"],"
		  "\"args_count\":3,\"command_line\":\"%s -c x\"},\"group_leader\":{\"pid\":%u},"
		  "\"session_leader\":{\"pid\":%u},\"user\":{\"id\":%u},\"real_user\":{\"id\":0},\"group\":{\"id\":0},"
		  "\"real_group\":{\"id\":0}},\"user\":{\"id\":%u,\"effective\":{\"id\":0}},\"group\":{\"id\":0},",
		  pid - 3, par, par, par, pid - 5, pid - 100, rnd() % 3 ? 0 : 1000, rnd() % 3 ? 0 : 1000);
}

static void put_vigil_tail(struct strbuf *e, const char *extra)
{
	sb_printf(e,
		  "\"vigil\":{%s%s\"sid\":%u,\"pgid\":%u,\"auid\":4294967295,\"pidns\":4026531836,"
		  "\"mntns\":4026531832,\"cgroup_id\":1,\"cgroup\":\"/\",\"nodename\":\"vm\",\"ret\":0}}",
		  extra ? extra : "", extra ? "," : "", pid_next - 100, pid_next - 5);
}

static void gen_event(struct strbuf *e)
{
	static const char *const ts = "\"@timestamp\":\"2026-11-25T04:25:00.227221809Z\",";
	unsigned k = rnd() % 100;
	char exe[256], cmd[1024];
	const char *av[12];
	char abuf[12][128];
	const char *b = PICK(bins);
	snprintf(exe, sizeof(exe), "%s/%s", PICK(dirs), b);
	int nargs = 1 + (int)(rnd() % 8);
	size_t cl = 0;
	for (int i = 0; i < nargs; i++) {
		if (i == 0)
			snprintf(abuf[i], sizeof(abuf[i]), "%s", b);
		else if (rnd() % 4 == 0)
			snprintf(abuf[i], sizeof(abuf[i]), "%s/%s%u%s", PICK(fdirs), PICK(words), rnd() % 1000,
				 PICK(fexts));
		else
			snprintf(abuf[i], sizeof(abuf[i]), "%s", PICK(args));
		av[i] = abuf[i];
		cl += (size_t)snprintf(cmd + cl, sizeof(cmd) - cl, "%s%s", i ? " " : "", abuf[i]);
	}
	/* 1 event in 100 is made to match one of the generated rules */
	const struct plant *pl = nplants && rnd() % 100 == 0 ? &plants[rnd() % (unsigned)nplants] : NULL;
	char dns[160] = "";
	unsigned dip[4] = {rnd() % 223 + 1, rnd() % 256, rnd() % 256, rnd() % 256};
	unsigned dport = rnd() % 3 ? 443 : rnd() % 65535;
	if (pl && (pl->kind == 0 || pl->kind == 1)) {
		k = 0;
		if (pl->kind == 0) {
			snprintf(exe, sizeof(exe), "/tmp/%s%u", pl->b, pl->n);
			snprintf(abuf[1], sizeof(abuf[1]), "%s", pl->a);
			snprintf(cmd, sizeof(cmd), "%s%u %s", pl->b, pl->n, pl->a);
		} else {
			snprintf(abuf[1], sizeof(abuf[1]), "--%s-%u", pl->w, pl->n);
			snprintf(cmd, sizeof(cmd), "%s --%s-%u x", pl->b, pl->w, pl->n);
		}
		nargs = 2;
	} else if (pl && pl->kind == 6) {
		k = 84;
		dip[0] = pl->ip[0];
		dip[1] = pl->ip[1];
		dip[2] = pl->ip[2];
		dport = pl->port;
	} else if (pl && pl->kind == 7) {
		k = 94;
		snprintf(dns, sizeof(dns), "www.%s%u.%s", pl->w, pl->n, pl->tld);
	}
	sb_putc(e, '{');
	sb_puts(e, ts);
	if (k < 18) { /* exec */
		sb_puts(e, "\"event\":{\"kind\":\"event\",\"action\":\"exec\",\"category\":[\"process\"],"
			   "\"outcome\":\"success\"},");
		put_proc(e, exe, cmd, nargs, av);
		char x[600];
		snprintf(x, sizeof(x),
			 "\"exec\":{\"filename\":\"%s\",\"execveat\":false,\"memfd\":false,\"tmpfs\":false,"
			 "\"deleted\":false,\"fileless\":false,\"setuid\":false,\"setgid\":false,\"inode\":%u,"
			 "\"dev\":266338304,\"size\":%u,\"owner_uid\":0},\"stdio\":{\"stdin\":{\"type\":\"pipe\"},"
			 "\"stdout\":{\"type\":\"%s\"},\"stderr\":{\"type\":\"pipe\"}},\"ancestors\":[]",
			 exe, rnd() % 1000000, rnd() % 1000000, rnd() % 20 ? "pipe" : "socket");
		put_vigil_tail(e, x);
	} else if (k < 28) { /* exec_failed: PATH search */
		sb_puts(e, "\"event\":{\"kind\":\"event\",\"action\":\"exec_failed\",\"category\":[\"process\"],"
			   "\"outcome\":\"failure\"},");
		put_proc(e, exe, NULL, 0, NULL);
		sb_printf(e, "\"error\":{\"code\":\"ENOENT\",\"errno\":2},\"file\":{\"path\":\"/root/.cargo/bin/%s\"},", b);
		put_vigil_tail(e, NULL);
	} else if (k < 45) { /* fork */
		sb_puts(e, "\"event\":{\"kind\":\"event\",\"action\":\"fork\",\"category\":[\"process\"],"
			   "\"outcome\":\"success\"},");
		put_proc(e, exe, NULL, 0, NULL);
		char x[100];
		snprintf(x, sizeof(x), "\"child\":{\"pid\":%u,\"start_ns\":1867550898409}", pid_next + 1);
		put_vigil_tail(e, x);
	} else if (k < 62) { /* exit */
		sb_puts(e, "\"event\":{\"kind\":\"event\",\"action\":\"exit\",\"category\":[\"process\"],"
			   "\"outcome\":\"success\"},");
		put_proc(e, exe, NULL, 0, NULL);
		put_vigil_tail(e, "\"exit_code\":0,\"core_dumped\":false");
	} else if (k < 84) { /* file */
		static const char *const acts[] = {"file_create", "file_open_write", "file_delete", "file_rename",
						   "file_chmod", "file_create", "file_delete"};
		const char *act = PICK(acts);
		sb_printf(e, "\"event\":{\"kind\":\"event\",\"action\":\"%s\",\"category\":[\"file\"],"
			     "\"outcome\":\"success\"},",
			  act);
		put_proc(e, exe, cmd, nargs, av);
		sb_printf(e, "\"file\":{\"path\":\"%s/%s%u%s\",\"inode\":%u,\"mode\":\"0644\"},", PICK(fdirs),
			  PICK(words), rnd() % 100000, PICK(fexts), rnd() % 10000000);
		char x[300];
		if (!strcmp(act, "file_rename"))
			snprintf(x, sizeof(x), "\"file\":{\"old_path\":\"/tmp/%s%u.tmp\",\"flags\":0}", PICK(words),
				 rnd() % 1000);
		else if (!strcmp(act, "file_chmod"))
			snprintf(x, sizeof(x), "\"file\":{\"old_mode\":\"0644\",\"exec_added\":%s,\"setuid_added\":false,"
					       "\"setgid_added\":false}",
				 rnd() % 2 ? "true" : "false");
		else
			snprintf(x, sizeof(x), "\"file\":{\"open_flags\":194,\"truncated\":false}");
		put_vigil_tail(e, x);
	} else if (k < 94) { /* network */
		static const char *const acts[] = {"connect", "connect", "connect", "accept", "bind", "listen"};
		const char *act = pl ? "connect" : PICK(acts);
		sb_printf(e, "\"event\":{\"kind\":\"event\",\"action\":\"%s\",\"category\":[\"network\"],"
			     "\"outcome\":\"success\"},",
			  act);
		put_proc(e, exe, cmd, nargs, av);
		sb_printf(e,
			  "\"network\":{\"transport\":\"tcp\",\"type\":\"ipv4\",\"direction\":\"egress\"},"
			  "\"destination\":{\"ip\":\"%u.%u.%u.%u\",\"port\":%u},\"source\":{\"ip\":\"10.0.2.15\","
			  "\"port\":%u},",
			  dip[0], dip[1], dip[2], dip[3], dport, 32768 + rnd() % 28000);
		put_vigil_tail(e, "\"net\":{\"fd\":3}");
	} else if (k < 98) { /* dns */
		if (!*dns)
			snprintf(dns, sizeof(dns), "%s.%s%u.%s", PICK(words), PICK(words), rnd() % 100000, PICK(tlds));
		sb_puts(e, "\"event\":{\"kind\":\"event\",\"action\":\"dns_query\",\"category\":[\"network\"],"
			   "\"outcome\":\"success\"},");
		put_proc(e, exe, cmd, nargs, av);
		sb_printf(e,
			  "\"network\":{\"transport\":\"udp\",\"type\":\"ipv4\",\"direction\":\"egress\"},"
			  "\"destination\":{\"ip\":\"10.0.2.3\",\"port\":53},\"source\":{\"ip\":\"10.0.2.15\",\"port\":%u},"
			  "\"dns\":{\"type\":\"query\",\"id\":%u,\"question\":{\"name\":\"%s\",\"type\":\"A\"}},",
			  32768 + rnd() % 28000, rnd() % 65536, dns);
		put_vigil_tail(e, NULL);
	} else { /* signal */
		sb_puts(e, "\"event\":{\"kind\":\"event\",\"action\":\"signal\",\"category\":[\"process\"],"
			   "\"outcome\":\"success\"},");
		put_proc(e, exe, cmd, nargs, av);
		put_vigil_tail(e, "\"signal\":{\"number\":15,\"name\":\"SIGTERM\",\"code\":0,\"result\":0},"
				  "\"target\":{\"pid\":1234,\"executable\":\"/usr/bin/sleep\"}");
	}
	sb_putc(e, '\n');
}

/* ---- measurement ------------------------------------------------------- */

struct stream {
	char *buf;
	size_t len;
	size_t *off; /* event i: buf + off[i], length off[i+1] - off[i] - 1 */
	size_t n;
};

static void stream_index(struct stream *s, size_t max)
{
	size_t cap = 1024;
	s->off = malloc(cap * sizeof(size_t));
	s->n = 0;
	size_t p = 0;
	while (p < s->len && s->n < max) {
		char *nl = memchr(s->buf + p, '\n', s->len - p);
		size_t end = nl ? (size_t)(nl - s->buf) : s->len;
		if (end > p) {
			if (s->n + 2 > cap) {
				cap *= 2;
				s->off = realloc(s->off, cap * sizeof(size_t));
			}
			s->off[s->n++] = p;
		}
		p = end + 1;
	}
	s->off[s->n] = p;
}

static const char *ev_at(const struct stream *s, size_t i, size_t *len)
{
	const char *p = s->buf + s->off[i];
	const char *nl = memchr(p, '\n', s->len - s->off[i]);
	*len = nl ? (size_t)(nl - p) : s->len - s->off[i];
	return p;
}

static uint64_t nhits;
/* --alerts: every match and engine output, one line each, for diffing
 * two builds of the engine on the same stream */
static FILE *alerts_out;
static const char *hit_set;
static size_t hit_event;
static void on_hit(void *ctx, struct rule *r)
{
	(void)ctx;
	nhits++;
	if (alerts_out)
		fprintf(alerts_out, "match %s %zu %s\n", hit_set, hit_event, r->id ? r->id : r->title);
}

/* Flattens the stream in batches, then matches each batch: the two costs
 * are timed apart. *flat_s gets the flattening time, the return value the
 * matching time. */
#define BATCH 512
static struct vg_flat batch[BATCH];

static double pass(const struct stream *s, struct matcher *m, double *flat_s)
{
	double tf = 0, tm = 0;
	for (size_t i = 0; i < s->n; i += BATCH) {
		size_t nb = s->n - i < BATCH ? s->n - i : BATCH;
		double t0 = now_s();
		for (size_t k = 0; k < nb; k++) {
			size_t len;
			const char *j = ev_at(s, i + k, &len);
			vg_flatten_json(&batch[k], j, len);
		}
		double t1 = now_s();
		if (m)
			for (size_t k = 0; k < nb; k++) {
				hit_event = i + k;
				matcher_run(m, &batch[k], on_hit, NULL);
			}
		tm += now_s() - t1;
		tf += t1 - t0;
	}
	if (flat_s)
		*flat_s = tf;
	return tm;
}

static uint64_t nout;
static void on_out(void *ctx, const struct engine_output *o)
{
	(void)ctx;
	nout++;
	if (alerts_out && ctx)
		fprintf(alerts_out, "%s %s %.*s\n", (const char *)ctx, o->incident ? "incident" : "alert", (int)o->len,
			o->json);
}

/* The event's own time (@timestamp), as vigild passes it: correlation
 * windows then see the stream's real rates. 0 when absent. */
static uint64_t event_ns(const struct vg_flat *fl)
{
	static uint32_t ts_field = UINT32_MAX;
	if (ts_field == UINT32_MAX)
		ts_field = vg_field_id("@timestamp");
	uint32_t len;
	const char *ts = vg_flat_get(fl, ts_field, &len);
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	const char *rest = ts ? strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
	if (!rest)
		return 0;
	uint64_t ns = (uint64_t)timegm(&tm) * 1000000000ULL;
	if (*rest == '.') {
		uint64_t frac = 0;
		int digits = 0;
		for (rest++; *rest >= '0' && *rest <= '9'; rest++)
			if (digits < 9) {
				frac = frac * 10 + (uint64_t)(*rest - '0');
				digits++;
			}
		while (digits++ < 9)
			frac *= 10;
		ns += frac;
	}
	return ns;
}

/* The full engine without flattening (vigild builds the flat while it
 * encodes): events are flattened in batches, untimed, and only
 * engine_process is timed. Event time is the event's @timestamp when
 * real_time (a recorded stream), else 1 us apart. Returns seconds. */
static double engine_pass(const struct stream *s, struct engine *e, bool real_time)
{
	static uint64_t ts[BATCH];
	static const char *js[BATCH];
	static size_t lens[BATCH];
	double te = 0;
	uint64_t last = 0;
	for (size_t i = 0; i < s->n; i += BATCH) {
		size_t nb = s->n - i < BATCH ? s->n - i : BATCH;
		for (size_t k = 0; k < nb; k++) {
			js[k] = ev_at(s, i + k, &lens[k]);
			vg_flatten_json(&batch[k], js[k], lens[k]);
			ts[k] = real_time ? event_ns(&batch[k]) : 0;
			if (!ts[k])
				ts[k] = real_time && last ? last : 1000000000ULL * 1800000 + (i + k) * 1000;
			last = ts[k];
		}
		double t0 = now_s();
		for (size_t k = 0; k < nb; k++)
			engine_process(e, &batch[k], js[k], lens[k], ts[k]);
		te += now_s() - t0;
	}
	return te;
}

static void load_tree(const char *dir, struct rule ***rules, int *n, int *nerr, int depth)
{
	DIR *d = opendir(dir);
	if (!d || depth > 8) {
		if (d)
			closedir(d);
		return;
	}
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char p[4096];
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		struct stat st;
		if (stat(p, &st))
			continue;
		if (S_ISDIR(st.st_mode)) {
			load_tree(p, rules, n, nerr, depth + 1);
			continue;
		}
		size_t l = strlen(p);
		if (!(l > 4 && !strcmp(p + l - 4, ".yml")) && !(l > 5 && !strcmp(p + l - 5, ".yaml")))
			continue;
		FILE *f = fopen(p, "r");
		if (!f)
			continue;
		char *text = malloc((size_t)st.st_size + 1);
		size_t got = text ? fread(text, 1, (size_t)st.st_size, f) : 0;
		fclose(f);
		if (!text)
			continue;
		text[got] = 0;
		struct strbuf errs;
		sb_init(&errs);
		sigma_parse(text, got, p, rules, n, &errs);
		for (size_t i = 0; i < errs.len; i++)
			*nerr += errs.buf[i] == '\n';
		sb_free(&errs);
		free(text);
	}
	closedir(d);
}

struct set {
	struct rule **rules;
	int n, nerr;
	double parse_s, compile_s;
	long rss_kb;
	struct matcher *m;
};

static void set_build(struct set *st)
{
	long before = status_kb("VmRSS");
	double t0 = now_s();
	struct strbuf errs;
	sb_init(&errs);
	st->m = matcher_build(st->rules, st->n, &errs);
	st->compile_s = now_s() - t0;
	for (size_t i = 0; i < errs.len; i++)
		st->nerr += errs.buf[i] == '\n';
	if (errs.len)
		fputs(errs.buf, stderr);
	sb_free(&errs);
	st->rss_kb = status_kb("VmRSS") - before;
}

int main(int argc, char **argv)
{
	size_t nevents = 1000000;
	int nrules = 1000;
	const char *shipped = NULL, *input = NULL, *write_rules = NULL, *alerts = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--events") && i + 1 < argc)
			nevents = strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--rules") && i + 1 < argc)
			nrules = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--shipped") && i + 1 < argc)
			shipped = argv[++i];
		else if (!strcmp(argv[i], "--input") && i + 1 < argc)
			input = argv[++i];
		else if (!strcmp(argv[i], "--write-rules") && i + 1 < argc)
			write_rules = argv[++i];
		else if (!strcmp(argv[i], "--alerts") && i + 1 < argc)
			alerts = argv[++i];
		else {
			fprintf(stderr,
				"usage: %s [--events N] [--rules N] [--shipped DIR] [--input FILE.jsonl] [--alerts FILE]\n"
				"       %s --rules N --write-rules FILE.yml\n",
				argv[0], argv[0]);
			return 2;
		}
	}
	if (!shipped) {
		static char buf[4200];
		char exe[4096];
		ssize_t l = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		shipped = "rules";
		if (l > 0) {
			exe[l] = 0;
			*strrchr(exe, '/') = 0;
			snprintf(buf, sizeof(buf), "%s/../../rules", exe); /* build/bench/ -> repo */
			if (access(buf, R_OK) == 0)
				shipped = buf;
		}
	}

	/* the generated rules first: some events are made to match them */
	struct strbuf y;
	sb_init(&y);
	for (int i = 0; i < nrules; i++)
		gen_rule(&y, i);
	if (write_rules) {
		FILE *wf = fopen(write_rules, "w");
		if (!wf || fwrite(y.buf, 1, y.len, wf) != y.len || fclose(wf)) {
			perror(write_rules);
			return 1;
		}
		sb_free(&y);
		return 0;
	}

	if (alerts && !(alerts_out = fopen(alerts, "w"))) {
		perror(alerts);
		return 1;
	}

	/* the event stream */
	struct stream s = {0};
	double t0 = now_s();
	if (input) {
		FILE *f = fopen(input, "r");
		if (!f) {
			perror(input);
			return 1;
		}
		struct strbuf sb;
		sb_init(&sb);
		char chunk[1 << 16];
		size_t r;
		while ((r = fread(chunk, 1, sizeof(chunk), f)) > 0)
			sb_put(&sb, chunk, r);
		fclose(f);
		s.buf = sb.buf;
		s.len = sb.len;
	} else {
		struct strbuf sb;
		sb_init(&sb);
		for (size_t i = 0; i < nevents; i++)
			gen_event(&sb);
		s.buf = sb.buf;
		s.len = sb.len;
	}
	stream_index(&s, input ? (size_t)-1 : nevents);
	double gen_s = now_s() - t0;
	fprintf(stderr, "engine_bench: %zu events (%.0f MB) in %.1f s\n", s.n, s.len / 1e6, gen_s);

	struct vg_flat fl;
	vg_flat_init(&fl);
	for (int k = 0; k < BATCH; k++)
		vg_flat_init(&batch[k]);
	double flat_s, flat2_s, flat3_s;
	pass(&s, NULL, &flat_s); /* warm up: field names interned, arenas grown */
	pass(&s, NULL, &flat_s);

	/* shipped rules */
	struct set sh = {0};
	t0 = now_s();
	load_tree(shipped, &sh.rules, &sh.n, &sh.nerr, 0);
	sh.parse_s = now_s() - t0;
	set_build(&sh);
	nhits = 0;
	hit_set = "shipped";
	double sh_s = pass(&s, sh.m, &flat2_s);
	uint64_t sh_hits = nhits;

	/* generated rules */
	struct set g = {0};
	struct strbuf errs;
	sb_init(&errs);
	t0 = now_s();
	sigma_parse(y.buf, y.len, "generated.yml", &g.rules, &g.n, &errs);
	g.parse_s = now_s() - t0;
	if (errs.len)
		fprintf(stderr, "%s", errs.buf);
	for (size_t i = 0; i < errs.len; i++)
		g.nerr += errs.buf[i] == '\n';
	set_build(&g);
	nhits = 0;
	hit_set = "generated";
	double g_s = pass(&s, g.m, &flat3_s);
	/* the best of the three flattening passes: the least disturbed */
	if (flat2_s < flat_s)
		flat_s = flat2_s;
	if (flat3_s < flat_s)
		flat_s = flat3_s;
	uint64_t g_hits = nhits;

	/* the full engine with the generated rules */
	struct engine *e = engine_new(NULL);
	sb_reset(&errs);
	engine_load_text(e, y.buf, "generated.yml", &errs);
	engine_compile(e, &errs);
	engine_set_output(e, on_out, NULL);
	t0 = now_s();
	for (size_t i = 0; i < s.n; i++) {
		size_t len;
		const char *j = ev_at(&s, i, &len);
		vg_flatten_json(&fl, j, len);
		engine_process(e, &fl, j, len, 1000000000ULL * 1800000 + i * 1000);
	}
	double e_s = now_s() - t0;
	uint64_t g_out = nout;
	engine_free(e);

	/* the full engine alone (flat given), with each rule set */
	nout = 0;
	e = engine_new(NULL);
	sb_reset(&errs);
	engine_load_text(e, y.buf, "generated.yml", &errs);
	engine_compile(e, &errs);
	engine_set_output(e, on_out, "generated");
	double ge_s = engine_pass(&s, e, input != NULL);
	uint64_t ge_out = nout;
	engine_free(e);
	nout = 0;
	e = engine_new(NULL);
	sb_reset(&errs);
	engine_load_dir(e, shipped, &errs);
	engine_compile(e, &errs);
	engine_set_output(e, on_out, "shipped");
	double se_s = engine_pass(&s, e, input != NULL);
	uint64_t se_out = nout;
	if (alerts_out && fclose(alerts_out)) {
		perror(alerts);
		return 1;
	}

	double n = (double)s.n;
	printf("{\"events\":%zu,\"mb\":%.1f,\"flatten_eps\":%.0f,\"flatten_ns\":%.0f,"
	       "\"shipped\":{\"rules\":%d,\"errors\":%d,\"parse_ms\":%.1f,\"compile_ms\":%.1f,\"rss_mb\":%.1f,"
	       "\"match_ns\":%.0f,\"match_eps\":%.0f,\"eps\":%.0f,\"hits\":%llu,"
	       "\"engine_alone_ns\":%.0f,\"engine_alone_outputs\":%llu},"
	       "\"generated\":{\"rules\":%d,\"errors\":%d,\"parse_ms\":%.1f,\"compile_ms\":%.1f,\"rss_mb\":%.1f,"
	       "\"match_ns\":%.0f,\"match_eps\":%.0f,\"eps\":%.0f,\"hits\":%llu,\"engine_eps\":%.0f,"
	       "\"engine_outputs\":%llu,\"engine_only_eps\":%.0f,\"engine_alone_ns\":%.0f,"
	       "\"engine_alone_outputs\":%llu},\"peak_rss_mb\":%.1f}\n",
	       s.n, s.len / 1e6, n / flat_s, flat_s / n * 1e9, sh.n, sh.nerr, sh.parse_s * 1e3, sh.compile_s * 1e3,
	       sh.rss_kb / 1024.0, sh_s / n * 1e9, n / sh_s, n / (flat_s + sh_s), (unsigned long long)sh_hits,
	       se_s / n * 1e9, (unsigned long long)se_out, g.n,
	       g.nerr, g.parse_s * 1e3, g.compile_s * 1e3, g.rss_kb / 1024.0, g_s / n * 1e9, n / g_s,
	       n / (flat_s + g_s), (unsigned long long)g_hits, n / e_s, (unsigned long long)g_out,
	       /* vigild builds the flat while it encodes the event (no parse):
	        * what the engine costs it is the full engine less flattening */
	       e_s > flat_s ? n / (e_s - flat_s) : 0.0, ge_s / n * 1e9, (unsigned long long)ge_out,
	       status_kb("VmHWM") / 1024.0);

	engine_free(e);
	matcher_free(sh.m);
	matcher_free(g.m);
	for (int i = 0; i < sh.n; i++)
		rule_free(sh.rules[i]);
	for (int i = 0; i < g.n; i++)
		rule_free(g.rules[i]);
	free(sh.rules);
	free(g.rules);
	sb_free(&y);
	sb_free(&errs);
	vg_flat_free(&fl);
	for (int k = 0; k < BATCH; k++)
		vg_flat_free(&batch[k]);
	free(s.buf);
	free(s.off);
	return 0;
}
