/* Network isolation and freezing (vigil isolate/release/freeze/thaw/isolations).
 *
 * Isolation attaches bpf/isolate.bpf.c's six cgroup programs to a cgroup v2:
 * the root for the whole host, a cgroup of its own for one process
 * (<its cgroup>/vigil-pid-PID, the process moved there and back on release) or
 * an existing cgroup (a container's). The links are pinned under
 * <pin_dir>/isolate/<target>/, the allow lists are pinned maps, so an
 * isolation outlives vigild: a crash or restart never reconnects a host.
 * A state file in the responder's directory remembers what the pins cannot
 * (where a process came from, since when); at start the two are reconciled.
 *
 * Freezing uses the cgroup v2 freezer on the same kind of cgroups. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "respond_int.h"
#include "isolate.h"
#include "isolate.skel.h"

#define CG2_FALLBACK "/run/vigil/cgroup2"
/* A process isolated or frozen alone is moved into a child of its own
 * cgroup, named so: it stays under every limit, device program and
 * accounting of its ancestors (a container's process stays confined). */
#define PID_CG_NAME "vigil-pid-"
#define FREEZE_WAIT_MS 5000
#define NPROGS 6

/* pin file names of the links, in the order of progs_of() */
static const char *const link_names[NPROGS] = {"connect4", "connect6", "sendmsg4", "sendmsg6", "egress", "ingress"};
static const char *const map_names[] = {"vgiso_allow4", "vgiso_allow6", "vgiso_denied"};

struct isolator {
	char why[256];            /* non-empty: isolation cannot work here, and why */
	char cg2[PATH_MAX];       /* cgroup2 mount point */
	char pins[PATH_MAX];      /* <pin_dir>/isolate */
	char state[PATH_MAX];     /* <dir>/isolation.state */
	struct vgskel_isolate *skel; /* loaded on the first isolation */
	struct iso_ent *e;
	size_t n, cap;
};

/* snprintf whose truncation is accepted: paths and messages are cut, never
 * overflow (and gcc does not guess about every call). */
static void __attribute__((format(printf, 3, 4))) sfmt(char *out, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out, cap, fmt, ap);
	va_end(ap);
}

/* ---- pure parts (isolate.h) ------------------------------------------ */

static void mask_prefix(uint8_t *a, size_t len, unsigned plen)
{
	for (size_t i = 0; i < len; i++) {
		unsigned bits = plen > i * 8 ? plen - i * 8 : 0;
		if (bits < 8)
			a[i] &= (uint8_t)(0xff00 >> bits);
	}
}

int iso_parse_cidr(const char *s, struct iso_key4 *k4, struct iso_key6 *k6)
{
	char buf[64];
	if (!s || strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	long plen = -1;
	char *slash = strchr(buf, '/');
	if (slash) {
		*slash = 0;
		const char *p = slash + 1;
		if (!*p || strlen(p) > 3)
			return -1;
		for (const char *c = p; *c; c++)
			if (!isdigit((unsigned char)*c))
				return -1;
		plen = strtol(p, NULL, 10);
	}
	uint8_t a[16];
	if (inet_pton(AF_INET, buf, a) == 1) {
		if (plen > 32)
			return -1;
		k4->prefixlen = plen < 0 ? 32 : (uint32_t)plen;
		mask_prefix(a, 4, k4->prefixlen);
		memcpy(k4->addr, a, 4);
		return 4;
	}
	if (inet_pton(AF_INET6, buf, a) == 1) {
		if (plen > 128)
			return -1;
		k6->prefixlen = plen < 0 ? 128 : (uint32_t)plen;
		mask_prefix(a, 16, k6->prefixlen);
		memcpy(k6->addr, a, 16);
		return 6;
	}
	return -1;
}

int iso_proc_cgroup(const char *text, char *out, size_t cap)
{
	for (const char *l = text; l && *l;) {
		const char *nl = strchr(l, '\n');
		size_t len = nl ? (size_t)(nl - l) : strlen(l);
		if (len >= 3 && !strncmp(l, "0::", 3)) {
			if (len - 3 == 0 || len - 3 >= cap)
				return -1;
			memcpy(out, l + 3, len - 3);
			out[len - 3] = 0;
			return 0;
		}
		l = nl ? nl + 1 : NULL;
	}
	return -1;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo */
static void unescape_octal(char *s)
{
	char *w = s;
	for (char *p = s; *p;) {
		if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' && p[3] >= '0' &&
		    p[3] <= '7') {
			*w++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
			p += 4;
		} else {
			*w++ = *p++;
		}
	}
	*w = 0;
}

int iso_cgroup2_mount(const char *mountinfo, char *out, size_t cap)
{
	for (const char *l = mountinfo; l && *l;) {
		const char *nl = strchr(l, '\n');
		size_t len = nl ? (size_t)(nl - l) : strlen(l);
		char line[4096];
		if (len < sizeof(line)) {
			memcpy(line, l, len);
			line[len] = 0;
			/* id parent maj:min root mountpoint opts... - fstype source superopts */
			char *f[5] = {0}, *save = NULL, *tok = strtok_r(line, " ", &save);
			int i = 0;
			for (; tok && i < 5; i++, tok = strtok_r(NULL, " ", &save))
				f[i] = tok;
			char *sep = NULL;
			while (tok && !(sep = (!strcmp(tok, "-") ? tok : NULL)))
				tok = strtok_r(NULL, " ", &save);
			char *fstype = sep ? strtok_r(NULL, " ", &save) : NULL;
			if (i == 5 && fstype && !strcmp(fstype, "cgroup2") && !strcmp(f[3], "/")) {
				unescape_octal(f[4]);
				if (strlen(f[4]) < cap) {
					strcpy(out, f[4]);
					return 0;
				}
			}
		}
		l = nl ? nl + 1 : NULL;
	}
	return -1;
}

int iso_cgroup_rel(const char *mnt, const char *arg, char *out, size_t cap)
{
	if (!arg || !*arg || cap < 2)
		return -1;
	size_t ml = mnt ? strlen(mnt) : 0;
	while (ml > 1 && mnt[ml - 1] == '/')
		ml--;
	if (ml > 1 && !strncmp(arg, mnt, ml) && (arg[ml] == '/' || arg[ml] == 0))
		arg += ml;
	size_t o = 0;
	for (const char *p = arg; *p;) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		const char *end = strchrnul(p, '/');
		size_t len = (size_t)(end - p);
		if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
			return -1;
		for (const char *c = p; c < end; c++)
			if (*c == '\t' || *c == '\n')
				return -1;
		if (o + 1 + len >= cap)
			return -1;
		out[o++] = '/';
		memcpy(out + o, p, len);
		o += len;
		p = end;
	}
	if (o == 0)
		out[o++] = '/';
	out[o] = 0;
	return 0;
}

bool iso_cg_within(const char *path, const char *ancestor)
{
	if (!strcmp(ancestor, "/"))
		return true;
	size_t n = strlen(ancestor);
	return !strncmp(path, ancestor, n) && (path[n] == 0 || path[n] == '/');
}

static const char *kind_word(int k)
{
	return k == ISO_HOST ? "host" : k == ISO_PID ? "pid" : "cgroup";
}

void iso_pin_name(const struct iso_ent *e, char *out, size_t cap)
{
	if (e->kind == ISO_HOST)
		sfmt(out, cap, "host");
	else if (e->kind == ISO_PID)
		sfmt(out, cap, "pid-%d", e->pid);
	else
		sfmt(out, cap, "cg-%" PRIu64, e->cgid);
}

int iso_state_write(const char *path, const struct iso_ent *e, size_t n)
{
	char tmp[PATH_MAX];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	FILE *f = fdopen(fd, "w");
	if (!f) {
		int e0 = errno;
		close(fd);
		unlink(tmp);
		return -e0;
	}
	fprintf(f, "# vigil isolation state: kind pid start cgid isolated_ns frozen_ns cgroup orig (tab-separated)\n");
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s\t%d\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%s\t%s\n", kind_word(e[i].kind),
			e[i].pid, e[i].start, e[i].cgid, e[i].isolated_ns, e[i].frozen_ns, e[i].cg[0] ? e[i].cg : "-",
			e[i].orig[0] ? e[i].orig : "-");
	int rc = 0;
	if (fflush(f) || fsync(fd))
		rc = -errno;
	if (fclose(f) && !rc)
		rc = -errno;
	if (!rc && rename(tmp, path))
		rc = -errno;
	if (rc)
		unlink(tmp);
	return rc;
}

static bool parse_u64(const char *s, uint64_t *v)
{
	if (!*s)
		return false;
	for (const char *c = s; *c; c++)
		if (!isdigit((unsigned char)*c))
			return false;
	errno = 0;
	*v = strtoull(s, NULL, 10);
	return errno == 0;
}

static bool parse_line(char *line, struct iso_ent *e)
{
	char *f[9];
	int n = 0;
	for (char *p = line; p && n < 9; n++) {
		f[n] = p;
		p = strchr(p, '\t');
		if (p)
			*p++ = 0;
	}
	if (n != 8)
		return false;
	memset(e, 0, sizeof(*e));
	if (!strcmp(f[0], "host"))
		e->kind = ISO_HOST;
	else if (!strcmp(f[0], "pid"))
		e->kind = ISO_PID;
	else if (!strcmp(f[0], "cgroup"))
		e->kind = ISO_CGROUP;
	else
		return false;
	uint64_t pid;
	if (!parse_u64(f[1], &pid) || pid > INT32_MAX || !parse_u64(f[2], &e->start) || !parse_u64(f[3], &e->cgid) ||
	    !parse_u64(f[4], &e->isolated_ns) || !parse_u64(f[5], &e->frozen_ns))
		return false;
	e->pid = (int)pid;
	if (e->kind == ISO_PID && e->pid <= 0)
		return false;
	if (strlen(f[6]) >= sizeof(e->cg) || strlen(f[7]) >= sizeof(e->orig))
		return false;
	if (strcmp(f[6], "-"))
		strcpy(e->cg, f[6]);
	if (strcmp(f[7], "-"))
		strcpy(e->orig, f[7]);
	return true;
}

int iso_state_read(const char *path, struct iso_ent **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	FILE *f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	char *line = NULL;
	size_t lcap = 0, cap = 0;
	ssize_t len;
	int rc = 0;
	while ((len = getline(&line, &lcap, f)) >= 0) {
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = 0;
		if (!len || line[0] == '#')
			continue;
		if (*n == cap) {
			size_t nc = cap ? cap * 2 : 8;
			struct iso_ent *ne = realloc(*out, nc * sizeof(*ne));
			if (!ne) {
				rc = -ENOMEM;
				break;
			}
			*out = ne;
			cap = nc;
		}
		if (parse_line(line, &(*out)[*n]))
			(*n)++;
	}
	free(line);
	fclose(f);
	if (rc) {
		free(*out);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

/* ---- small file helpers ---------------------------------------------- */

static uint64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void fmt_time(uint64_t ns, char *buf, size_t cap)
{
	time_t t = (time_t)(ns / 1000000000ull);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static ssize_t read_text(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t got = 0;
	while (got + 1 < cap) {
		ssize_t k = read(fd, buf + got, cap - 1 - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	close(fd);
	buf[got] = 0;
	return (ssize_t)got;
}

static int write_text(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t k = write(fd, s, strlen(s));
	int rc = k == (ssize_t)strlen(s) ? 0 : k < 0 ? -errno : -EIO;
	close(fd);
	return rc;
}

static int mkdirs(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (char *p = buf + 1; *p; p++)
		if (*p == '/') {
			*p = 0;
			if (mkdir(buf, mode) && errno != EEXIST)
				return -errno;
			*p = '/';
		}
	if (mkdir(buf, mode) && errno != EEXIST)
		return -errno;
	return 0;
}

static bool is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* /proc/PID/stat field 22: the start time, which tells a reused pid. */
static int pid_start(pid_t pid, uint64_t *start)
{
	char path[64], buf[1024];
	sfmt(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (read_text(path, buf, sizeof(buf)) <= 0)
		return -1;
	char *p = strrchr(buf, ')');
	unsigned long long st;
	if (!p || sscanf(p + 1,
			 " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
			 &st) != 1)
		return -1;
	*start = st;
	return 0;
}

static pid_t tgid_of(pid_t pid)
{
	char path[64], buf[2048];
	sfmt(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (read_text(path, buf, sizeof(buf)) <= 0)
		return -1;
	char *t = strstr(buf, "\nTgid:");
	return t ? (pid_t)atoi(t + 6) : -1;
}

static int pid_cgroup(pid_t pid, char *out, size_t cap)
{
	char path[64], buf[8192];
	if (pid)
		sfmt(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	else
		sfmt(path, sizeof(path), "/proc/self/cgroup");
	if (read_text(path, buf, sizeof(buf)) <= 0)
		return -1;
	return iso_proc_cgroup(buf, out, cap);
}

/* The process pid still is the one recorded (same start time). */
static bool same_process(const struct iso_ent *e)
{
	uint64_t st;
	return pid_start(e->pid, &st) == 0 && st == e->start;
}

/* ---- cgroups ------------------------------------------------------------ */

static void cg_file(struct isolator *iso, const char *rel, const char *file, char *out, size_t cap)
{
	sfmt(out, cap, "%s%s%s%s", iso->cg2, strcmp(rel, "/") ? rel : "", file ? "/" : "", file ? file : "");
}

static bool cg_exists(struct isolator *iso, const char *rel)
{
	char p[PATH_MAX];
	if (!rel[0])
		return false;
	cg_file(iso, rel, NULL, p, sizeof(p));
	return is_dir(p);
}

static int cg_move(struct isolator *iso, pid_t pid, const char *rel)
{
	char p[PATH_MAX], num[24];
	cg_file(iso, rel, "cgroup.procs", p, sizeof(p));
	sfmt(num, sizeof(num), "%d\n", (int)pid);
	return write_text(p, num);
}

/* Back where it came from, or the nearest ancestor that takes it (the
 * original may be gone, or now have controllers that forbid processes). */
static int cg_move_back(struct isolator *iso, pid_t pid, const char *orig)
{
	char p[ISO_PATH_MAX];
	sfmt(p, sizeof(p), "%s", orig[0] ? orig : "/");
	for (;;) {
		if (cg_exists(iso, p) && cg_move(iso, pid, p) == 0)
			return 0;
		if (!strcmp(p, "/"))
			return -1;
		char *slash = strrchr(p, '/');
		if (slash == p)
			p[1] = 0;
		else
			*slash = 0;
	}
}

/* Writes cgroup.freeze and waits (bounded) until cgroup.events agrees. */
static int cg_set_frozen(struct isolator *iso, const char *rel, bool on, char *err, size_t errlen)
{
	char p[PATH_MAX], buf[512];
	cg_file(iso, rel, "cgroup.freeze", p, sizeof(p));
	int rc = write_text(p, on ? "1" : "0");
	if (rc) {
		sfmt(err, errlen, "cannot write %s: %s", p, strerror(-rc));
		return -1;
	}
	cg_file(iso, rel, "cgroup.events", p, sizeof(p));
	const char *want = on ? "frozen 1" : "frozen 0";
	for (int ms = 0; ms <= FREEZE_WAIT_MS; ms += 5) {
		if (read_text(p, buf, sizeof(buf)) > 0 && strstr(buf, want))
			return 0;
		usleep(5000);
	}
	sfmt(err, errlen, "cgroup %s not %s within %d ms", rel, on ? "frozen" : "thawed", FREEZE_WAIT_MS);
	return -1;
}

static bool cg_frozen(struct isolator *iso, const char *rel)
{
	char p[PATH_MAX], buf[16];
	cg_file(iso, rel, "cgroup.freeze", p, sizeof(p));
	return read_text(p, buf, sizeof(buf)) > 0 && buf[0] == '1';
}

/* cgroup2's mount point; mounted by us when the system has none. */
static int find_cgroup2(struct isolator *iso, char *err, size_t errlen)
{
	size_t cap = 1 << 20;
	char *mi = malloc(cap);
	bool found = mi && read_text("/proc/self/mountinfo", mi, cap) > 0 &&
		     iso_cgroup2_mount(mi, iso->cg2, sizeof(iso->cg2)) == 0;
	free(mi);
	if (found)
		return 0;
	int rc = mkdirs(CG2_FALLBACK, 0755);
	if (rc) {
		sfmt(err, errlen, "no cgroup2 mount and cannot create %s: %s", CG2_FALLBACK, strerror(-rc));
		return -1;
	}
	if (mount("cgroup2", CG2_FALLBACK, "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL)) {
		sfmt(err, errlen, "no cgroup2 mount and cannot mount one at %s: %s", CG2_FALLBACK, strerror(errno));
		return -1;
	}
	sfmt(iso->cg2, sizeof(iso->cg2), "%s", CG2_FALLBACK);
	return 0;
}

/* ---- entries -------------------------------------------------------------- */

static struct iso_ent *find_ent(struct isolator *iso, int kind, pid_t pid, const char *cg)
{
	for (size_t i = 0; i < iso->n; i++) {
		struct iso_ent *e = &iso->e[i];
		if (e->kind != kind)
			continue;
		if (kind == ISO_HOST || (kind == ISO_PID && e->pid == pid) || (kind == ISO_CGROUP && !strcmp(e->cg, cg)))
			return e;
	}
	return NULL;
}

static struct iso_ent *add_ent(struct isolator *iso)
{
	if (iso->n == iso->cap) {
		size_t nc = iso->cap ? iso->cap * 2 : 8;
		struct iso_ent *ne = realloc(iso->e, nc * sizeof(*ne));
		if (!ne)
			return NULL;
		iso->e = ne;
		iso->cap = nc;
	}
	struct iso_ent *e = &iso->e[iso->n++];
	memset(e, 0, sizeof(*e));
	return e;
}

static void drop_ent(struct isolator *iso, struct iso_ent *e)
{
	size_t i = (size_t)(e - iso->e);
	memmove(&iso->e[i], &iso->e[i + 1], (iso->n - i - 1) * sizeof(*e));
	iso->n--;
}

static void save(struct responder *r)
{
	struct isolator *iso = r->iso;
	/* nothing left: no file left behind either */
	int rc = iso->n ? iso_state_write(iso->state, iso->e, iso->n) : (unlink(iso->state) && errno != ENOENT ? -errno : 0);
	if (rc)
		fprintf(stderr, "vigild: respond: cannot save %s: %s\n", iso->state, strerror(-rc));
	uint64_t cnt = 0;
	for (size_t i = 0; i < iso->n; i++)
		cnt += iso->e[i].isolated_ns != 0;
	__atomic_store_n(&r->st.isolations, cnt, __ATOMIC_RELAXED);
}

static void describe(const struct iso_ent *e, char *out, size_t cap)
{
	if (e->kind == ISO_HOST)
		sfmt(out, cap, "host");
	else if (e->kind == ISO_PID)
		sfmt(out, cap, "pid %d", e->pid);
	else if (e->cg[0])
		sfmt(out, cap, "cgroup %s", e->cg);
	else
		sfmt(out, cap, "cgroup id %" PRIu64, e->cgid);
}

/* ---- bpf ------------------------------------------------------------------- */

static void progs_of(struct vgskel_isolate *s, struct bpf_program *p[NPROGS])
{
	p[0] = s->progs.vgiso_connect4;
	p[1] = s->progs.vgiso_connect6;
	p[2] = s->progs.vgiso_sendmsg4;
	p[3] = s->progs.vgiso_sendmsg6;
	p[4] = s->progs.vgiso_egress;
	p[5] = s->progs.vgiso_ingress;
}

/* bpffs may not be mounted (minimal systems, containers): mount it where
 * the pin directory expects it. */
static int ensure_bpffs(struct responder *r, char *err, size_t errlen)
{
	struct statfs sf;
	if (!strncmp(r->pin_dir, "/sys/fs/bpf/", 12) && statfs("/sys/fs/bpf", &sf) == 0 &&
	    sf.f_type != BPF_FS_MAGIC && mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700")) {
		sfmt(err, errlen, "cannot mount bpffs at /sys/fs/bpf: %s", strerror(errno));
		return -1;
	}
	int rc = mkdirs(r->iso->pins, 0700);
	if (rc) {
		sfmt(err, errlen, "cannot create %s: %s", r->iso->pins, strerror(-rc));
		return -1;
	}
	if (statfs(r->iso->pins, &sf) || sf.f_type != BPF_FS_MAGIC) {
		sfmt(err, errlen, "%s is not on a bpf file system", r->iso->pins);
		return -1;
	}
	return 0;
}

static bool wanted(struct responder *r, int fam, const void *key)
{
	for (size_t i = 0; i < r->o.nallow; i++) {
		struct iso_key4 k4;
		struct iso_key6 k6;
		int f = iso_parse_cidr(r->allow[i], &k4, &k6);
		if (f == 4 && fam == 4 && !memcmp(&k4, key, sizeof(k4)))
			return true;
		if (f == 6 && fam == 6 && !memcmp(&k6, key, sizeof(k6)))
			return true;
	}
	return false;
}

/* Makes the allow maps hold exactly the configured list: adds first, then
 * removes the stale ones, so a kept management address is never missing. */
static int sync_allow(struct responder *r, int fd4, int fd6)
{
	uint8_t one = 1;
	int rc = 0;
	for (size_t i = 0; i < r->o.nallow; i++) {
		struct iso_key4 k4;
		struct iso_key6 k6;
		int f = iso_parse_cidr(r->allow[i], &k4, &k6);
		if ((f == 4 && bpf_map_update_elem(fd4, &k4, &one, BPF_ANY)) ||
		    (f == 6 && bpf_map_update_elem(fd6, &k6, &one, BPF_ANY)))
			rc = -errno;
	}
	for (int fam = 4; fam <= 6; fam += 2) {
		int fd = fam == 4 ? fd4 : fd6;
		size_t ks = fam == 4 ? sizeof(struct iso_key4) : sizeof(struct iso_key6);
		struct iso_key6 keys[64], cur, next; /* iso_key6 holds either */
		int nk;
		do { /* deleting while walking an LPM trie can skip keys: collect, delete, repeat */
			nk = 0;
			void *prev = NULL;
			while (nk < 64 && bpf_map_get_next_key(fd, prev, &next) == 0) {
				if (!wanted(r, fam, &next))
					memcpy(&keys[nk++], &next, ks);
				memcpy(&cur, &next, ks);
				prev = &cur;
			}
			for (int i = 0; i < nk; i++)
				bpf_map_delete_elem(fd, &keys[i]);
		} while (nk == 64);
	}
	return rc;
}

static int load_skel(struct responder *r, char *err, size_t errlen)
{
	struct isolator *iso = r->iso;
	if (iso->skel)
		return 0;
	if (ensure_bpffs(r, err, errlen))
		return -1;
	/* pinned by name under pins: a second load (after a restart) reuses the
	 * maps the links already in force read */
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = iso->pins);
	struct vgskel_isolate *s = vgskel_isolate__open_opts(&oo);
	if (!s) {
		sfmt(err, errlen, "cannot open the isolation BPF object: %s", strerror(errno));
		return -1;
	}
	int rc = vgskel_isolate__load(s);
	if (rc) {
		sfmt(err, errlen, "cannot load the isolation BPF programs: %s", strerror(-rc));
		vgskel_isolate__destroy(s);
		return -1;
	}
	iso->skel = s;
	if (sync_allow(r, bpf_map__fd(s->maps.vgiso_allow4), bpf_map__fd(s->maps.vgiso_allow6)))
		fprintf(stderr, "vigild: respond: cannot fill the isolation allow list: %s\n", strerror(errno));
	return 0;
}

/* Detaches and removes every link pinned under pins/name. */
static void detach_pins(struct isolator *iso, const char *name)
{
	char dir[PATH_MAX], p[PATH_MAX];
	sfmt(dir, sizeof(dir), "%s/%s", iso->pins, name);
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		sfmt(p, sizeof(p), "%s/%s", dir, de->d_name);
		int fd = bpf_obj_get(p);
		if (fd >= 0) {
			/* a link whose cgroup is gone is detached already: ignore */
			bpf_link_detach(fd);
			close(fd);
		}
		unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

/* How many links are pinned under pins/name (-1: no such directory). */
static int count_pins(struct isolator *iso, const char *name)
{
	char dir[PATH_MAX];
	sfmt(dir, sizeof(dir), "%s/%s", iso->pins, name);
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static int attach_target(struct responder *r, const struct iso_ent *e, char *err, size_t errlen)
{
	struct isolator *iso = r->iso;
	char name[64], dir[PATH_MAX], cgp[PATH_MAX], p[PATH_MAX];
	iso_pin_name(e, name, sizeof(name));
	sfmt(dir, sizeof(dir), "%s/%s", iso->pins, name);
	cg_file(iso, e->cg, NULL, cgp, sizeof(cgp));
	int cfd = open(cgp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cfd < 0) {
		sfmt(err, errlen, "cannot open cgroup %s: %s", cgp, strerror(errno));
		return -1;
	}
	if (mkdir(dir, 0700) && errno != EEXIST) {
		sfmt(err, errlen, "cannot create %s: %s", dir, strerror(errno));
		close(cfd);
		return -1;
	}
	struct bpf_program *progs[NPROGS];
	progs_of(iso->skel, progs);
	for (int i = 0; i < NPROGS; i++) {
		struct bpf_link *l = bpf_program__attach_cgroup(progs[i], cfd);
		if (!l) {
			sfmt(err, errlen, "cannot attach %s to %s: %s", link_names[i], cgp, strerror(errno));
			goto fail;
		}
		sfmt(p, sizeof(p), "%s/%s", dir, link_names[i]);
		int rc = bpf_link__pin(l, p);
		/* closing our fd leaves the pinned link in force (or, unpinned, detaches it) */
		bpf_link__destroy(l);
		if (rc) {
			sfmt(err, errlen, "cannot pin %s: %s", p, strerror(-rc));
			goto fail;
		}
	}
	close(cfd);
	return 0;
fail:
	close(cfd);
	detach_pins(iso, name);
	return -1;
}

/* Nothing isolated any more: programs and maps go, bpftool shows nothing. */
static void cleanup_unused(struct responder *r)
{
	struct isolator *iso = r->iso;
	bool pids = false;
	for (size_t i = 0; i < iso->n; i++) {
		if (iso->e[i].isolated_ns)
			return;
		pids |= iso->e[i].kind == ISO_PID;
	}
	if (iso->skel) {
		vgskel_isolate__destroy(iso->skel);
		iso->skel = NULL;
	}
	char p[PATH_MAX];
	for (size_t i = 0; i < sizeof(map_names) / sizeof(map_names[0]); i++) {
		sfmt(p, sizeof(p), "%s/%s", iso->pins, map_names[i]);
		unlink(p);
	}
	rmdir(iso->pins);
	rmdir(r->pin_dir); /* only if empty: other parts of vigil may pin there */
	(void)pids;
}

/* ---- a process's own cgroup ---------------------------------------------- */

/* Moves pid into <its cgroup>/vigil-pid-PID (creating its entry), or finds
 * it there already. */
static struct iso_ent *pid_cgroup_enter(struct responder *r, pid_t pid, uint64_t start, char *err, size_t errlen)
{
	struct isolator *iso = r->iso;
	struct iso_ent *e = find_ent(iso, ISO_PID, pid, NULL);
	if (e)
		return e;
	char orig[ISO_PATH_MAX], p[PATH_MAX];
	if (pid_cgroup(pid, orig, sizeof(orig))) {
		sfmt(err, errlen, "cannot read the cgroup v2 of pid %d", (int)pid);
		return NULL;
	}
	e = add_ent(iso);
	if (!e) {
		sfmt(err, errlen, "out of memory");
		return NULL;
	}
	e->kind = ISO_PID;
	e->pid = pid;
	e->start = start;
	sfmt(e->cg, sizeof(e->cg), "%s/" PID_CG_NAME "%d", strcmp(orig, "/") ? orig : "", (int)pid);
	sfmt(e->orig, sizeof(e->orig), "%s", orig);
	cg_file(iso, e->cg, NULL, p, sizeof(p));
	int rc = mkdirs(p, 0755);
	if (rc) {
		sfmt(err, errlen, "cannot create cgroup %s: %s", p, strerror(-rc));
		drop_ent(iso, e);
		return NULL;
	}
	save(r); /* before the move: a crash now still knows where it came from */
	rc = cg_move(iso, pid, e->cg);
	if (rc) {
		sfmt(err, errlen, "cannot move pid %d into %s: %s", (int)pid, p, strerror(-rc));
		rmdir(p);
		drop_ent(iso, e);
		save(r);
		return NULL;
	}
	return e;
}

/* Every process of the entry's cgroup (the process and the children it
 * forked there) goes back, the cgroup is removed and the entry dropped. */
static void pid_cgroup_leave(struct responder *r, struct iso_ent *e)
{
	struct isolator *iso = r->iso;
	char p[PATH_MAX], buf[8192];
	cg_file(iso, e->cg, "cgroup.procs", p, sizeof(p));
	for (int round = 0; round < 20; round++) {
		if (read_text(p, buf, sizeof(buf)) <= 0)
			break;
		for (char *s = buf, *end; *s; s = end) {
			long pid = strtol(s, &end, 10);
			if (end == s)
				break;
			if (cg_move_back(iso, (pid_t)pid, e->orig))
				fprintf(stderr, "vigild: respond: cannot move pid %ld out of %s\n", pid, e->cg);
		}
	}
	cg_file(iso, e->cg, NULL, p, sizeof(p));
	for (int i = 0; i < 50 && rmdir(p) && errno == EBUSY; i++)
		usleep(10000);
	drop_ent(iso, e);
}

/* ---- commands ------------------------------------------------------------ */

enum tkind { T_NONE, T_HOST, T_PID, T_CGROUP, T_ALL };
struct target {
	enum tkind kind;
	pid_t pid;
	uint64_t start_ns;        /* --pid PID@START_NS (active defense): 0 = any */
	char cg[ISO_PATH_MAX];
	char text[ISO_PATH_MAX + 16]; /* for the record: "host", "pid 12", "cgroup /x", "all" */
};

static int parse_target(struct isolator *iso, int argc, char **argv, struct target *t, char *err, size_t errlen)
{
	memset(t, 0, sizeof(*t));
	int i = 1;
	if (i < argc && !strcmp(argv[i], "--host"))
		t->kind = T_HOST, i++;
	else if (i < argc && !strcmp(argv[i], "--all"))
		t->kind = T_ALL, i++;
	else if (i + 1 < argc && !strcmp(argv[i], "--pid")) {
		char *end, *end2;
		long v = strtol(argv[i + 1], &end, 10);
		if (*end == '@' && isdigit((unsigned char)end[1])) {
			errno = 0;
			t->start_ns = strtoull(end + 1, &end2, 10);
			end = errno || !t->start_ns ? end : end2;
		}
		if (*end || end == argv[i + 1] || v <= 0 || v > INT32_MAX) {
			sfmt(err, errlen, "bad pid '%s'", argv[i + 1]);
			return -1;
		}
		t->kind = T_PID, t->pid = (pid_t)v, i += 2;
	} else if (i + 1 < argc && !strcmp(argv[i], "--cgroup")) {
		if (iso_cgroup_rel(iso->cg2, argv[i + 1], t->cg, sizeof(t->cg))) {
			sfmt(err, errlen, "bad cgroup path '%s'", argv[i + 1]);
			return -1;
		}
		t->kind = T_CGROUP, i += 2;
	}
	if (t->kind == T_NONE || i != argc) {
		sfmt(err, errlen, "usage: %s --host | --pid PID | --cgroup PATH%s", argv[0],
			 !strcmp(argv[0], "release") || !strcmp(argv[0], "thaw") ? " | --all" : "");
		return -1;
	}
	if (t->kind == T_HOST)
		sfmt(t->text, sizeof(t->text), "host");
	else if (t->kind == T_ALL)
		sfmt(t->text, sizeof(t->text), "all");
	else if (t->kind == T_PID)
		sfmt(t->text, sizeof(t->text), "pid %d", (int)t->pid);
	else
		sfmt(t->text, sizeof(t->text), "cgroup %s", t->cg);
	return 0;
}

/* Logs a refusal or failure and returns -1 with it as the error. */
static int fail(struct respond_req *q, const char *action, const struct target *t, const char *kind,
		const char *why, char *err, size_t errlen)
{
	char res[700];
	sfmt(res, sizeof(res), "%s: %s", kind, why);
	respond_log(q, action, t->text, res, NULL);
	sfmt(err, errlen, "%s", why);
	return -1;
}

/* For a process: the checks, its tgid and its start time. */
static int check_process(struct respond_req *q, const char *action, struct target *t, uint64_t *start, char *err,
			 size_t errlen)
{
	char why[512];
	if (respond_check_pid(q->r, t->pid, why, sizeof(why)))
		return fail(q, action, t, "refused", why, err, errlen);
	pid_t tg = tgid_of(t->pid);
	if (tg > 0 && tg != t->pid) {
		t->pid = tg; /* a thread: its process is what moves */
		sfmt(t->text, sizeof(t->text), "pid %d", (int)tg);
		if (respond_check_pid(q->r, tg, why, sizeof(why)))
			return fail(q, action, t, "refused", why, err, errlen);
	}
	if (pid_start(t->pid, start))
		return fail(q, action, t, "refused", "the process is gone", err, errlen);
	/* the alert's process, not whoever has its pid now */
	if (!respond_start_matches(*start, t->start_ns)) {
		sfmt(why, sizeof(why), "pid %d is now another process (started at %" PRIu64 ", expected %" PRIu64 ")",
		     (int)t->pid, *start * respond_ns_per_tick(), t->start_ns);
		return fail(q, action, t, "refused", why, err, errlen);
	}
	struct iso_ent *e = find_ent(q->r->iso, ISO_PID, t->pid, NULL);
	if (e && e->start != *start) {
		sfmt(why, sizeof(why), "an earlier process with pid %d is still isolated or frozen: release or thaw it first",
			 (int)t->pid);
		return fail(q, action, t, "refused", why, err, errlen);
	}
	return 0;
}

/* A --cgroup target acted on as a whole: not the root (that is --host),
 * not our own per-process cgroups (that is --pid), and it must exist. */
static int check_cgroup(struct respond_req *q, const char *action, const struct target *t, char *err, size_t errlen)
{
	if (!strcmp(t->cg, "/"))
		return fail(q, action, t, "refused",
			    !strcmp(action, "isolate") ? "the root cgroup is the whole host: use --host"
						       : "the root cgroup is never frozen",
			    err, errlen);
	const char *base = strrchr(t->cg, '/');
	if (base && !strncmp(base + 1, PID_CG_NAME, strlen(PID_CG_NAME)))
		return fail(q, action, t, "refused", "vigil's per-process cgroups are handled with --pid", err, errlen);
	if (!cg_exists(q->r->iso, t->cg))
		return fail(q, action, t, "refused", "no such cgroup", err, errlen);
	return 0;
}

static void allow_json(struct responder *r, struct jw *w)
{
	jw_arr_open(w, "allow");
	for (size_t i = 0; i < r->o.nallow; i++)
		jw_str(w, NULL, r->allow[i]);
	jw_arr_close(w);
}

static void ent_json(struct responder *r, const struct iso_ent *e, struct strbuf *sb)
{
	struct jw w;
	jw_init(&w, sb);
	jw_obj_open(&w, NULL);
	if (e->kind != ISO_HOST)
		jw_str(&w, "cgroup", e->cg);
	if (e->kind == ISO_PID)
		jw_str(&w, "from", e->orig);
	if (e->isolated_ns)
		allow_json(r, &w);
	jw_obj_close(&w);
}

/* The entry a command acts on: the process moved into its own cgroup, or
 * an existing entry, or a new one for the host / the cgroup (saved before
 * its pins or freeze exist, so a crash in between is adopted). NULL with
 * why. */
static struct iso_ent *target_ent(struct responder *r, const struct target *t, struct iso_ent *e, uint64_t start,
				  char *why, size_t cap)
{
	struct isolator *iso = r->iso;
	if (t->kind == T_PID)
		return pid_cgroup_enter(r, t->pid, start, why, cap);
	if (e)
		return e;
	e = add_ent(iso);
	if (!e) {
		sfmt(why, cap, "out of memory");
		return NULL;
	}
	e->kind = t->kind == T_HOST ? ISO_HOST : ISO_CGROUP;
	sfmt(e->cg, sizeof(e->cg), "%s", t->kind == T_HOST ? "/" : t->cg);
	char p[PATH_MAX];
	struct stat st;
	cg_file(iso, e->cg, NULL, p, sizeof(p));
	e->cgid = stat(p, &st) == 0 ? (uint64_t)st.st_ino : 0;
	save(r);
	return e;
}

/* A failed isolate or freeze: the entry goes back to what it was, unless
 * the other action (still_held) keeps it. */
static void undo_ent(struct responder *r, struct iso_ent *e, bool fresh, bool still_held)
{
	if (!still_held) {
		if (e->kind == ISO_PID)
			pid_cgroup_leave(r, e);
		else if (fresh)
			drop_ent(r->iso, e);
	}
	save(r);
	cleanup_unused(r);
}

/* The success of an isolate or freeze: state saved, reply, record. */
static int done_ent(struct respond_req *q, const char *action, const char *past, const struct target *t,
		    struct iso_ent *e)
{
	struct responder *r = q->r;
	save(r);
	struct strbuf d;
	sb_init(&d);
	ent_json(r, e, &d);
	sb_printf(q->out, "%s %s", past, t->text);
	if (e->kind == ISO_PID)
		sb_printf(q->out, " (cgroup %s)", e->cg);
	if (!strcmp(action, "isolate")) {
		sb_puts(q->out, "; reachable: loopback");
		for (size_t i = 0; i < r->o.nallow; i++)
			sb_printf(q->out, ", %s", r->allow[i]);
	}
	sb_putc(q->out, '\n');
	respond_log(q, action, t->text, "ok", d.oom ? NULL : d.buf);
	sb_free(&d);
	return 0;
}

static int cmd_isolate(struct respond_req *q, struct target *t, char *err, size_t errlen)
{
	struct responder *r = q->r;
	struct isolator *iso = r->iso;
	uint64_t start = 0;
	struct iso_ent *e = NULL;
	if (t->kind == T_ALL) {
		sfmt(err, errlen, "usage: isolate --host | --pid PID | --cgroup PATH");
		return -1;
	}
	if (t->kind == T_PID) {
		if (check_process(q, "isolate", t, &start, err, errlen))
			return -1;
		e = find_ent(iso, ISO_PID, t->pid, NULL);
	} else if (t->kind == T_CGROUP) {
		if (check_cgroup(q, "isolate", t, err, errlen))
			return -1;
		e = find_ent(iso, ISO_CGROUP, 0, t->cg);
	} else {
		e = find_ent(iso, ISO_HOST, 0, NULL);
	}
	char when[32];
	if (e && e->isolated_ns) {
		fmt_time(e->isolated_ns, when, sizeof(when));
		sb_printf(q->out, "%s is already isolated (since %s)\n", t->text, when);
		respond_log(q, "isolate", t->text, q->dry_run ? "dry-run" : "ok", "{\"already\":true}");
		return 0;
	}
	if (q->dry_run) {
		sb_printf(q->out, "would isolate %s\n", t->text);
		respond_log(q, "isolate", t->text, "dry-run", NULL);
		return 0;
	}
	char why[600];
	if (load_skel(r, why, sizeof(why)))
		return fail(q, "isolate", t, "failed", why, err, errlen);
	bool fresh = !e;
	e = target_ent(r, t, e, start, why, sizeof(why));
	if (!e) {
		cleanup_unused(r);
		return fail(q, "isolate", t, "failed", why, err, errlen);
	}
	if (attach_target(r, e, why, sizeof(why))) {
		undo_ent(r, e, fresh, e->frozen_ns != 0);
		return fail(q, "isolate", t, "failed", why, err, errlen);
	}
	e->isolated_ns = wall_ns();
	return done_ent(q, "isolate", "isolated", t, e);
}

/* Undoes one isolation; the entry may be dropped (e is invalid after).
 * Cannot fail (why: unused, for undo_all). */
static int release_ent(struct responder *r, struct iso_ent *e, char *why, size_t cap)
{
	(void)why;
	(void)cap;
	char name[64];
	iso_pin_name(e, name, sizeof(name));
	detach_pins(r->iso, name);
	e->isolated_ns = 0;
	if (e->frozen_ns)
		return 0;
	if (e->kind == ISO_PID)
		pid_cgroup_leave(r, e);
	else
		drop_ent(r->iso, e);
	return 0;
}

/* "release all" / "thaw all": undoes one state (isolated or frozen) on
 * every entry that has it, listing each in the reply and the record's
 * detail. undo may drop the entry it is given. */
struct undo_kind {
	const char *action, *done, *would, *none;
	bool frozen; /* the state: frozen_ns, else isolated_ns */
	int (*undo)(struct responder *r, struct iso_ent *e, char *why, size_t cap);
};

static int undo_all(struct respond_req *q, const struct target *t, const struct undo_kind *k)
{
	struct responder *r = q->r;
	struct isolator *iso = r->iso;
	char why[600];
	struct strbuf d;
	sb_init(&d);
	struct jw w;
	jw_init(&w, &d);
	jw_obj_open(&w, NULL);
	jw_arr_open(&w, k->done);
	int n = 0, bad = 0;
	for (size_t i = 0; i < iso->n;) {
		struct iso_ent *e = &iso->e[i];
		if (!(k->frozen ? e->frozen_ns : e->isolated_ns)) {
			i++;
			continue;
		}
		char what[ISO_PATH_MAX + 32];
		describe(e, what, sizeof(what));
		jw_str(&w, NULL, what);
		sb_printf(q->out, "%s %s\n", q->dry_run ? k->would : k->done, what);
		n++;
		if (q->dry_run) {
			i++;
			continue;
		}
		size_t before = iso->n;
		bad += k->undo(r, e, why, sizeof(why)) != 0;
		if (iso->n == before)
			i++;
	}
	jw_arr_close(&w);
	jw_obj_close(&w);
	if (!q->dry_run) {
		save(r);
		cleanup_unused(r);
	}
	if (!n)
		sb_printf(q->out, "%s\n", k->none);
	char result[80];
	sfmt(result, sizeof(result), "failed: not every cgroup %s", k->done);
	respond_log(q, k->action, t->text, q->dry_run ? "dry-run" : bad ? result : "ok", d.oom ? NULL : d.buf);
	sb_free(&d);
	return 0;
}

static int cmd_release(struct respond_req *q, struct target *t, char *err, size_t errlen)
{
	struct responder *r = q->r;
	struct isolator *iso = r->iso;
	if (t->kind == T_ALL) {
		static const struct undo_kind all = {"release", "released", "would release", "nothing was isolated",
						     false, release_ent};
		return undo_all(q, t, &all);
	}
	struct iso_ent *e = t->kind == T_HOST ? find_ent(iso, ISO_HOST, 0, NULL)
			    : t->kind == T_PID ? find_ent(iso, ISO_PID, t->pid, NULL)
					       : find_ent(iso, ISO_CGROUP, 0, t->cg);
	if (!e || !e->isolated_ns)
		return fail(q, "release", t, "refused", "not isolated", err, errlen);
	if (q->dry_run) {
		sb_printf(q->out, "would release %s\n", t->text);
		respond_log(q, "release", t->text, "dry-run", NULL);
		return 0;
	}
	release_ent(r, e, NULL, 0);
	save(r);
	cleanup_unused(r);
	sb_printf(q->out, "released %s\n", t->text);
	respond_log(q, "release", t->text, "ok", NULL);
	return 0;
}

/* The cgroup to freeze must not hold vigild or init (freezing a cgroup
 * freezes everything below it). */
static int check_freezable(struct respond_req *q, const struct target *t, char *err, size_t errlen)
{
	char self[ISO_PATH_MAX], init[ISO_PATH_MAX], why[ISO_PATH_MAX + 64];
	if (pid_cgroup(0, self, sizeof(self)) == 0 && iso_cg_within(self, t->cg)) {
		sfmt(why, sizeof(why), "cgroup %s contains vigild itself", t->cg);
		return fail(q, "freeze", t, "refused", why, err, errlen);
	}
	if (pid_cgroup(1, init, sizeof(init)) == 0 && iso_cg_within(init, t->cg)) {
		sfmt(why, sizeof(why), "cgroup %s contains pid 1", t->cg);
		return fail(q, "freeze", t, "refused", why, err, errlen);
	}
	return 0;
}

static int cmd_freeze(struct respond_req *q, struct target *t, char *err, size_t errlen)
{
	struct responder *r = q->r;
	struct isolator *iso = r->iso;
	uint64_t start = 0;
	struct iso_ent *e;
	if (t->kind == T_HOST)
		return fail(q, "freeze", t, "refused", "the host (root cgroup) is never frozen", err, errlen);
	if (t->kind == T_ALL) {
		sfmt(err, errlen, "usage: freeze --pid PID | --cgroup PATH");
		return -1;
	}
	if (t->kind == T_PID) {
		if (check_process(q, "freeze", t, &start, err, errlen))
			return -1;
		e = find_ent(iso, ISO_PID, t->pid, NULL);
	} else {
		if (check_cgroup(q, "freeze", t, err, errlen) || check_freezable(q, t, err, errlen))
			return -1;
		e = find_ent(iso, ISO_CGROUP, 0, t->cg);
	}
	char when[32], why[600];
	if (e && e->frozen_ns) {
		fmt_time(e->frozen_ns, when, sizeof(when));
		sb_printf(q->out, "%s is already frozen (since %s)\n", t->text, when);
		respond_log(q, "freeze", t->text, q->dry_run ? "dry-run" : "ok", "{\"already\":true}");
		return 0;
	}
	if (q->dry_run) {
		sb_printf(q->out, "would freeze %s\n", t->text);
		respond_log(q, "freeze", t->text, "dry-run", NULL);
		return 0;
	}
	bool fresh = !e;
	e = target_ent(r, t, e, start, why, sizeof(why));
	if (!e)
		return fail(q, "freeze", t, "failed", why, err, errlen);
	if (cg_set_frozen(iso, e->cg, true, why, sizeof(why))) {
		char ignore[256];
		cg_set_frozen(iso, e->cg, false, ignore, sizeof(ignore));
		undo_ent(r, e, fresh, e->isolated_ns != 0);
		return fail(q, "freeze", t, "failed", why, err, errlen);
	}
	e->frozen_ns = wall_ns();
	return done_ent(q, "freeze", "froze", t, e);
}

/* Thaws one entry; it may be dropped (e is invalid after). */
static int thaw_ent(struct responder *r, struct iso_ent *e, char *why, size_t cap)
{
	int rc = cg_exists(r->iso, e->cg) ? cg_set_frozen(r->iso, e->cg, false, why, cap) : 0;
	e->frozen_ns = 0;
	if (!e->isolated_ns) {
		if (e->kind == ISO_PID)
			pid_cgroup_leave(r, e); /* moving out thaws in any case */
		else
			drop_ent(r->iso, e);
	}
	return rc;
}

static int cmd_thaw(struct respond_req *q, struct target *t, char *err, size_t errlen)
{
	struct responder *r = q->r;
	struct isolator *iso = r->iso;
	char why[600];
	if (t->kind == T_ALL) {
		static const struct undo_kind all = {"thaw", "thawed", "would thaw", "nothing was frozen", true, thaw_ent};
		return undo_all(q, t, &all);
	}
	if (t->kind == T_HOST)
		return fail(q, "thaw", t, "refused", "the host is never frozen", err, errlen);
	struct iso_ent *e =
		t->kind == T_PID ? find_ent(iso, ISO_PID, t->pid, NULL) : find_ent(iso, ISO_CGROUP, 0, t->cg);
	if (!e || !e->frozen_ns)
		return fail(q, "thaw", t, "refused", "not frozen", err, errlen);
	if (q->dry_run) {
		sb_printf(q->out, "would thaw %s\n", t->text);
		respond_log(q, "thaw", t->text, "dry-run", NULL);
		return 0;
	}
	int rc = thaw_ent(r, e, why, sizeof(why));
	save(r);
	cleanup_unused(r);
	if (rc)
		return fail(q, "thaw", t, "failed", why, err, errlen);
	sb_printf(q->out, "thawed %s\n", t->text);
	respond_log(q, "thaw", t->text, "ok", NULL);
	return 0;
}

/* Denials per program, from our map or its pin (after a restart). */
static bool read_denied(struct isolator *iso, uint64_t out[NPROGS])
{
	int fd = iso->skel ? bpf_map__fd(iso->skel->maps.vgiso_denied) : -1;
	bool own = false;
	if (fd < 0) {
		char p[PATH_MAX];
		sfmt(p, sizeof(p), "%s/vgiso_denied", iso->pins);
		fd = bpf_obj_get(p);
		own = fd >= 0;
	}
	if (fd < 0)
		return false;
	for (uint32_t i = 0; i < NPROGS; i++)
		if (bpf_map_lookup_elem(fd, &i, &out[i]))
			out[i] = 0;
	if (own)
		close(fd);
	return true;
}

static int cmd_list(struct respond_req *q, int argc, char **argv, char *err, size_t errlen)
{
	struct responder *r = q->r;
	struct isolator *iso = r->iso;
	bool json = argc == 2 && !strcmp(argv[1], "--json");
	if (argc > 1 && !json) {
		sfmt(err, errlen, "usage: isolations [--json]");
		return -1;
	}
	if (!iso || iso->why[0]) {
		sfmt(err, errlen, "isolation and freezing unavailable: %s", iso ? iso->why : "not started");
		return -1;
	}
	uint64_t denied[NPROGS] = {0};
	bool have_denied = read_denied(iso, denied);
	char t1[32], t2[32];
	if (json) {
		struct jw w;
		jw_init(&w, q->out);
		jw_obj_open(&w, NULL);
		jw_arr_open(&w, "targets");
		for (size_t i = 0; i < iso->n; i++) {
			const struct iso_ent *e = &iso->e[i];
			jw_obj_open(&w, NULL);
			jw_str(&w, "kind", kind_word(e->kind));
			if (e->kind == ISO_PID) {
				jw_int(&w, "pid", e->pid);
				jw_bool(&w, "running", same_process(e));
				jw_str(&w, "from", e->orig);
			}
			if (e->kind != ISO_HOST)
				jw_str(&w, "cgroup", e->cg);
			if (e->kind == ISO_CGROUP)
				jw_uint(&w, "cgroup_id", e->cgid);
			if (e->isolated_ns) {
				fmt_time(e->isolated_ns, t1, sizeof(t1));
				jw_str(&w, "isolated_since", t1);
			}
			if (e->frozen_ns) {
				fmt_time(e->frozen_ns, t2, sizeof(t2));
				jw_str(&w, "frozen_since", t2);
			}
			jw_obj_close(&w);
		}
		jw_arr_close(&w);
		allow_json(r, &w);
		if (have_denied) {
			jw_obj_open(&w, "denied");
			for (int i = 0; i < NPROGS; i++)
				jw_uint(&w, link_names[i], denied[i]);
			jw_obj_close(&w);
		}
		jw_obj_close(&w);
		sb_putc(q->out, '\n');
		return 0;
	}
	if (!iso->n)
		sb_puts(q->out, "nothing is isolated or frozen\n");
	for (size_t i = 0; i < iso->n; i++) {
		const struct iso_ent *e = &iso->e[i];
		char what[ISO_PATH_MAX + 32];
		describe(e, what, sizeof(what));
		sb_puts(q->out, what);
		if (e->isolated_ns) {
			fmt_time(e->isolated_ns, t1, sizeof(t1));
			sb_printf(q->out, "  isolated since %s", t1);
		}
		if (e->frozen_ns) {
			fmt_time(e->frozen_ns, t2, sizeof(t2));
			sb_printf(q->out, "  frozen since %s", t2);
		}
		if (e->kind == ISO_PID)
			sb_printf(q->out, "  cgroup %s (from %s)%s", e->cg, e->orig, same_process(e) ? "" : " [exited]");
		sb_putc(q->out, '\n');
	}
	sb_puts(q->out, "reachable while isolated: loopback");
	for (size_t i = 0; i < r->o.nallow; i++)
		sb_printf(q->out, ", %s", r->allow[i]);
	sb_putc(q->out, '\n');
	if (have_denied) {
		sb_puts(q->out, "denied:");
		for (int i = 0; i < NPROGS; i++)
			sb_printf(q->out, " %s %" PRIu64, link_names[i], denied[i]);
		sb_putc(q->out, '\n');
	}
	return 0;
}

int isolate_command(struct respond_req *q, int argc, char **argv, char *err, size_t errlen)
{
	struct isolator *iso = q->r->iso;
	const char *verb = argv[0];
	if (!strcmp(verb, "isolations"))
		return cmd_list(q, argc, argv, err, errlen);
	struct target t;
	static struct isolator none; /* parsing only needs its (empty) cgroup2 path */
	if (parse_target(iso ? iso : &none, argc, argv, &t, err, errlen))
		return -1;
	if (!iso || iso->why[0]) {
		char why[400];
		sfmt(why, sizeof(why), "isolation and freezing unavailable: %s", iso ? iso->why : "not started");
		return fail(q, verb, &t, "failed", why, err, errlen);
	}
	if (!strcmp(verb, "isolate"))
		return cmd_isolate(q, &t, err, errlen);
	if (!strcmp(verb, "release"))
		return cmd_release(q, &t, err, errlen);
	if (!strcmp(verb, "freeze"))
		return cmd_freeze(q, &t, err, errlen);
	if (!strcmp(verb, "thaw"))
		return cmd_thaw(q, &t, err, errlen);
	sfmt(err, errlen, "unknown command '%s'", verb);
	return -1;
}

/* ---- start and stop --------------------------------------------------------- */

/* Matches what the state file says with what bpffs and cgroupfs hold: pins
 * decide whether a target is isolated, cgroup.freeze whether frozen; what
 * is neither any more (a reboot emptied bpffs, a container went away) is
 * forgotten, half-done work (a crash mid-isolate) is undone or adopted. */
static void reconcile(struct responder *r)
{
	struct isolator *iso = r->iso;
	uint64_t now = wall_ns();
	for (size_t i = 0; i < iso->n;) {
		struct iso_ent *e = &iso->e[i];
		char name[64];
		iso_pin_name(e, name, sizeof(name));
		int pins = count_pins(iso, name);
		if (pins >= 0 && pins < NPROGS) {
			fprintf(stderr, "vigild: respond: isolation of %s was left half done; undone\n", name);
			detach_pins(iso, name);
			pins = -1;
		}
		/* an adopted cgroup of unknown path is taken to exist */
		bool exists = e->kind == ISO_HOST || (e->kind == ISO_CGROUP && !e->cg[0]) || cg_exists(iso, e->cg);
		if (pins == NPROGS && !exists) {
			detach_pins(iso, name);
			pins = -1;
		}
		e->isolated_ns = pins == NPROGS ? (e->isolated_ns ? e->isolated_ns : now) : 0;
		if (e->kind == ISO_HOST || !exists || !e->cg[0])
			e->frozen_ns = 0;
		else
			e->frozen_ns = cg_frozen(iso, e->cg) ? (e->frozen_ns ? e->frozen_ns : now) : 0;
		if (e->isolated_ns || e->frozen_ns) {
			i++;
			continue;
		}
		if (e->kind == ISO_PID && exists)
			pid_cgroup_leave(r, e);
		else
			drop_ent(iso, e);
	}
	/* pins without an entry: the state file was lost or is older */
	DIR *d = opendir(iso->pins);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.' || de->d_type != DT_DIR)
			continue;
		bool known = false;
		for (size_t i = 0; i < iso->n && !known; i++) {
			char name[64];
			iso_pin_name(&iso->e[i], name, sizeof(name));
			known = !strcmp(name, de->d_name);
		}
		if (known)
			continue;
		struct iso_ent n = {0};
		uint64_t v = 0;
		if (!strcmp(de->d_name, "host")) {
			n.kind = ISO_HOST;
			strcpy(n.cg, "/");
		} else if (!strncmp(de->d_name, "pid-", 4) && parse_u64(de->d_name + 4, &v) && v && v <= INT32_MAX) {
			n.kind = ISO_PID;
			n.pid = (int)v;
			/* the state file is gone: the process, if alive, is in
			 * its vigil cgroup, whose parent is where it came from */
			char cur[ISO_PATH_MAX];
			const char *slash;
			if (!pid_cgroup(n.pid, cur, sizeof(cur)) && (slash = strrchr(cur, '/')) &&
			    !strncmp(slash + 1, PID_CG_NAME, strlen(PID_CG_NAME))) {
				sfmt(n.cg, sizeof(n.cg), "%s", cur);
				sfmt(n.orig, sizeof(n.orig), "%.*s", slash == cur ? 1 : (int)(slash - cur), cur);
			} else {
				sfmt(n.cg, sizeof(n.cg), "/" PID_CG_NAME "%d", n.pid);
				strcpy(n.orig, "/");
			}
			if (pid_start(n.pid, &n.start))
				n.start = 0;
		} else if (!strncmp(de->d_name, "cg-", 3) && parse_u64(de->d_name + 3, &v)) {
			n.kind = ISO_CGROUP;
			n.cgid = v; /* its path is unknown: listed by id, released with --all */
		} else {
			continue;
		}
		if (count_pins(iso, de->d_name) != NPROGS || (n.kind == ISO_PID && !cg_exists(iso, n.cg))) {
			detach_pins(iso, de->d_name);
			continue;
		}
		n.isolated_ns = now;
		struct iso_ent *e = add_ent(iso);
		if (e)
			*e = n;
	}
	if (d)
		closedir(d);
}

int isolate_open(struct responder *r, char *err, size_t errlen)
{
	struct isolator *iso = calloc(1, sizeof(*iso));
	if (!iso) {
		sfmt(err, errlen, "out of memory");
		return -1;
	}
	r->iso = iso;
	sfmt(iso->pins, sizeof(iso->pins), "%s/isolate", r->pin_dir);
	sfmt(iso->state, sizeof(iso->state), "%s/isolation.state", r->dir);
	if (find_cgroup2(iso, iso->why, sizeof(iso->why))) {
		sfmt(err, errlen, "%s", iso->why);
		return -1;
	}
	int rc = iso_state_read(iso->state, &iso->e, &iso->n);
	if (rc)
		fprintf(stderr, "vigild: respond: cannot read %s: %s\n", iso->state, strerror(-rc));
	iso->cap = iso->n;
	reconcile(r);
	bool any = false;
	for (size_t i = 0; i < iso->n; i++) {
		char what[ISO_PATH_MAX + 32], t1[32];
		const struct iso_ent *e = &iso->e[i];
		describe(e, what, sizeof(what));
		if (e->isolated_ns) {
			any = true;
			fmt_time(e->isolated_ns, t1, sizeof(t1));
			fprintf(stderr, "vigild: respond: %s is isolated (since %s)\n", what, t1);
		}
		if (e->frozen_ns) {
			fmt_time(e->frozen_ns, t1, sizeof(t1));
			fprintf(stderr, "vigild: respond: %s is frozen (since %s)\n", what, t1);
		}
	}
	if (any) {
		/* the configuration may have changed the management addresses */
		char p4[PATH_MAX], p6[PATH_MAX];
		sfmt(p4, sizeof(p4), "%s/vgiso_allow4", iso->pins);
		sfmt(p6, sizeof(p6), "%s/vgiso_allow6", iso->pins);
		int fd4 = bpf_obj_get(p4), fd6 = bpf_obj_get(p6);
		if (fd4 < 0 || fd6 < 0 || sync_allow(r, fd4, fd6))
			fprintf(stderr, "vigild: respond: cannot update the isolation allow list in %s\n", iso->pins);
		if (fd4 >= 0)
			close(fd4);
		if (fd6 >= 0)
			close(fd6);
	}
	save(r);
	cleanup_unused(r);
	return 0;
}

void isolate_close(struct responder *r)
{
	struct isolator *iso = r->iso;
	if (!iso)
		return;
	/* the pinned links keep every isolation in force without us */
	if (iso->skel)
		vgskel_isolate__destroy(iso->skel);
	free(iso->e);
	free(iso);
	r->iso = NULL;
}
