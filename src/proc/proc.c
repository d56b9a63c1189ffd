#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <signal.h>
#include <unistd.h>
#include "proc.h"
#include "../sensor/blob.h"

struct proc_image *img_get(struct proc_image *img)
{
	if (img)
		__atomic_add_fetch(&img->refs, 1, __ATOMIC_RELAXED);
	return img;
}

void img_put(struct proc_image *img)
{
	if (!img || __atomic_sub_fetch(&img->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	free(img->exe);
	free(img->argv);
	free(img->cwd);
	free(img->tty);
	free(img->nodename);
	free(img->ld_preload);
	free(img->ssh_connection);
	free(img->enc_cache[0]);
	free(img->enc_cache[1]);
	if (img->exe_fd >= 0)
		close(img->exe_fd);
	free(img);
}

static struct proc_image *img_new(uint32_t pid, uint64_t start_ns)
{
	struct proc_image *img = calloc(1, sizeof(*img));
	if (!img)
		return NULL;
	static uint64_t serials;
	img->refs = 1;
	img->serial = __atomic_add_fetch(&serials, 1, __ATOMIC_RELAXED);
	img->pid = pid;
	img->start_ns = start_ns;
	img->exe_fd = -1;
	return img;
}

static void entry_free(void *p)
{
	struct proc_entry *e = p;
	img_put(e->img);
	free(e);
}

static void cgroup_free(void *p)
{
	struct cgroup_info *c = p;
	free(c->path);
	free(c);
}

uint64_t pc_ns_to_ticks(const struct proc_cache *pc, uint64_t ns)
{
	return ns / (1000000000ULL / (uint64_t)pc->clk_tck);
}

int pc_init(struct proc_cache *pc, const char *proc_root)
{
	memset(pc, 0, sizeof(*pc));
	pc->proc_root = proc_root ? proc_root : "/proc";
	pc->clk_tck = sysconf(_SC_CLK_TCK);
	if (pc->clk_tck <= 0)
		pc->clk_tck = 100;
	struct utsname u;
	if (uname(&u) == 0)
		snprintf(pc->hostname, sizeof(pc->hostname), "%s", u.nodename);
	struct stat st;
	char p[64];
	snprintf(p, sizeof(p), "%s/self/ns/uts", pc->proc_root);
	if (stat(p, &st) == 0)
		pc->utsns = st.st_ino;
	if (htab_init(&pc->procs, 4096) || htab_init(&pc->cgroups, 256))
		return -ENOMEM;
	return 0;
}

void pc_free(struct proc_cache *pc)
{
	htab_free(&pc->procs, entry_free);
	htab_free(&pc->cgroups, cgroup_free);
}

/* Reads a whole small /proc file; returns bytes read or -1. */
static ssize_t read_file(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t n = 0;
	while (n < cap) {
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	return (ssize_t)n;
}

static char *read_link(const char *path)
{
	char buf[PATH_MAX];
	ssize_t n = readlink(path, buf, sizeof(buf) - 1);
	if (n < 0)
		return NULL;
	buf[n] = 0;
	return strdup(buf);
}

/* Parses /proc/PID/stat: ppid, tty_nr and start time (after the comm,
 * which may contain spaces and parentheses). */
static int read_stat(struct proc_cache *pc, uint32_t pid, uint32_t *ppid, uint64_t *start_ticks,
		     int *tty_nr)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "%s/%u/stat", pc->proc_root, pid);
	ssize_t n = read_file(path, buf, sizeof(buf) - 1);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	if (!p)
		return -1;
	p++;
	/* fields after comm: state(3) ppid(4) pgrp(5) session(6) tty_nr(7) ... starttime(22) */
	char *save = NULL;
	int field = 3;
	for (char *tok = strtok_r(p, " ", &save); tok; tok = strtok_r(NULL, " ", &save), field++) {
		if (field == 4)
			*ppid = (uint32_t)strtoul(tok, NULL, 10);
		else if (field == 7)
			*tty_nr = (int)strtol(tok, NULL, 10);
		else if (field == 22) {
			*start_ticks = strtoull(tok, NULL, 10);
			return 0;
		}
	}
	return -1;
}

static char *tty_name(int tty_nr)
{
	unsigned major = ((unsigned)tty_nr >> 8) & 0xfff;
	unsigned minor = ((unsigned)tty_nr & 0xff) | (((unsigned)tty_nr >> 12) & 0xfff00);
	char buf[32];
	if (tty_nr == 0)
		return NULL;
	if (major >= 136 && major <= 143)
		snprintf(buf, sizeof(buf), "pts%u", (major - 136) * 256 + minor);
	else if (major == 4 && minor < 64)
		snprintf(buf, sizeof(buf), "tty%u", minor);
	else if (major == 4)
		snprintf(buf, sizeof(buf), "ttyS%u", minor - 64);
	else if (major == 5 && minor == 1)
		snprintf(buf, sizeof(buf), "console");
	else
		snprintf(buf, sizeof(buf), "tty(%u:%u)", major, minor);
	return strdup(buf);
}

char *env_lookup(const char *env, size_t len, const char *name)
{
	size_t nl = strlen(name);
	size_t i = 0;
	while (i < len) {
		const char *s = env + i;
		size_t rest = len - i;
		const char *end = memchr(s, 0, rest);
		size_t sl = end ? (size_t)(end - s) : rest;
		if (sl > nl && memcmp(s, name, nl) == 0 && s[nl] == '=')
			return strndup(s + nl + 1, sl - nl - 1);
		i += sl + 1;
	}
	return NULL;
}

/* The last NAME=value in the block: in a truncated exec copy the variables
 * found by the kernel's scan follow the cut head, complete. */
static char *env_lookup_last(const char *env, size_t len, const char *name)
{
	char *found = NULL;
	size_t i = 0;
	while (i < len) {
		const char *end = memchr(env + i, 0, len - i);
		size_t sl = end ? (size_t)(end - (env + i)) : len - i;
		char *v = env_lookup(env + i, sl, name);
		if (v) {
			free(found);
			found = v;
		}
		i += sl + 1;
	}
	return found;
}

/* The image of a process that vigild did not see exec: from /proc. */
static struct proc_image *image_from_proc(struct proc_cache *pc, uint32_t pid, uint64_t start_ns,
					  int tty_nr)
{
	char path[96];
	struct proc_image *img = img_new(pid, start_ns);
	if (!img)
		return NULL;
	img->from_procfs = true;
	snprintf(path, sizeof(path), "%s/%u/exe", pc->proc_root, pid);
	img->exe = read_link(path);
	if (img->exe) {
		size_t l = strlen(img->exe);
		if (l > 10 && strcmp(img->exe + l - 10, " (deleted)") == 0) {
			img->exe[l - 10] = 0;
			img->exe_flags |= VG_EXE_DELETED;
		}
		if (strncmp(img->exe, "/memfd:", 7) == 0)
			img->exe_flags |= VG_EXE_MEMFD;
		struct stat st;
		if (stat(path, &st) == 0) {
			img->exe_ino = st.st_ino;
			img->exe_dev = (uint32_t)((major(st.st_dev) << 20) | minor(st.st_dev));
			img->exe_size = (uint64_t)st.st_size;
			img->exe_mtime_ns = (uint64_t)st.st_mtim.tv_sec * 1000000000ULL + (uint64_t)st.st_mtim.tv_nsec;
			img->exe_mode = st.st_mode;
			img->exe_uid = st.st_uid;
		}
	}
	snprintf(path, sizeof(path), "%s/%u/cwd", pc->proc_root, pid);
	img->cwd = read_link(path);
	snprintf(path, sizeof(path), "%s/%u/cmdline", pc->proc_root, pid);
	char *buf = malloc(VG_DATA_MAX);
	if (buf) {
		ssize_t n = read_file(path, buf, VG_DATA_MAX);
		if (n > 0) {
			img->argv = malloc((size_t)n + 1);
			if (img->argv) {
				memcpy(img->argv, buf, (size_t)n);
				img->argv[n] = 0;
				/* as for exec records: no trailing NULs in argv_len */
				while (n > 0 && img->argv[n - 1] == 0)
					n--;
				img->argv_len = (size_t)n;
				img->argc = n ? 1 : 0;
				for (ssize_t i = 0; i < n; i++)
					if (buf[i] == 0)
						img->argc++;
			}
		}
		snprintf(path, sizeof(path), "%s/%u/environ", pc->proc_root, pid);
		n = read_file(path, buf, VG_DATA_MAX);
		if (n > 0) {
			img->ld_preload = env_lookup(buf, (size_t)n, "LD_PRELOAD");
			img->ssh_connection = env_lookup(buf, (size_t)n, "SSH_CONNECTION");
		}
		free(buf);
	}
	img->tty = tty_name(tty_nr);
	struct stat st;
	snprintf(path, sizeof(path), "%s/%u/ns/uts", pc->proc_root, pid);
	if (stat(path, &st) == 0 && st.st_ino == pc->utsns)
		img->nodename = strdup(pc->hostname);
	return img;
}

static struct proc_entry *entry_from_proc(struct proc_cache *pc, uint32_t pid)
{
	uint32_t ppid = 0;
	uint64_t ticks = 0;
	int tty_nr = 0;
	if (read_stat(pc, pid, &ppid, &ticks, &tty_nr))
		return NULL;
	struct proc_entry *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->pid = pid;
	e->ppid = ppid;
	e->start_ticks = ticks;
	e->start_ns = ticks * (1000000000ULL / (uint64_t)pc->clk_tck);
	e->img = image_from_proc(pc, pid, e->start_ns, tty_nr);
	return e;
}

static void put_entry(struct proc_cache *pc, struct proc_entry *e)
{
	int failed = 0;
	struct proc_entry *old = htab_put(&pc->procs, e->pid, e, &failed);
	if (old)
		entry_free(old);
	if (failed)
		entry_free(e);
}

int pc_scan(struct proc_cache *pc)
{
	DIR *d = opendir(pc->proc_root);
	if (!d)
		return -errno;
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		uint32_t pid = (uint32_t)strtoul(de->d_name, NULL, 10);
		struct proc_entry *e = entry_from_proc(pc, pid);
		if (!e)
			continue;
		put_entry(pc, e);
		n++;
	}
	closedir(d);
	return n;
}

struct proc_entry *pc_get(struct proc_cache *pc, uint32_t pid, uint64_t start_ns)
{
	pc->lookups++;
	struct proc_entry *e = htab_get(&pc->procs, pid);
	if (e && (start_ns == 0 || e->start_ticks == pc_ns_to_ticks(pc, start_ns)))
		return e;
	pc->misses++;
	/* the cached entry belongs to an earlier owner of this pid: never lend
	 * its context to another process */
	struct proc_entry *fresh = entry_from_proc(pc, pid);
	if (!fresh)
		return NULL;
	bool same = start_ns && fresh->start_ticks == pc_ns_to_ticks(pc, start_ns);
	if (same) {
		/* keep the kernel's exact start time */
		fresh->start_ns = start_ns;
		if (fresh->img)
			fresh->img->start_ns = start_ns;
	}
	put_entry(pc, fresh);
	/* /proc may already show the pid's next owner */
	return (same || start_ns == 0) ? fresh : NULL;
}

void pc_on_fork(struct proc_cache *pc, uint32_t parent, uint64_t parent_start, uint32_t child,
		uint64_t child_start)
{
	struct proc_entry *p = pc_get(pc, parent, parent_start);
	struct proc_entry *e = calloc(1, sizeof(*e));
	if (!e)
		return;
	e->pid = child;
	e->ppid = parent;
	e->start_ns = child_start;
	e->start_ticks = pc_ns_to_ticks(pc, child_start);
	/* a forked child runs its parent's image until it execs */
	e->img = p ? img_get(p->img) : NULL;
	put_entry(pc, e);
}

static char *blob_dup(const void *rec, size_t len, struct vg_blob b)
{
	size_t n;
	const char *s = vg_blob_str(rec, len, b, &n);
	return s ? strndup(s, n) : NULL;
}

struct proc_image *pc_on_exec(struct proc_cache *pc, const struct vg_exec *r, size_t len)
{
	const struct vg_task_ctx *t = &r->h.task;
	struct proc_image *img = img_new(t->pid, t->start_ns);
	if (!img)
		return NULL;
	img->exe = blob_dup(r, len, r->exe);
	img->cwd = blob_dup(r, len, r->cwd);
	img->tty = blob_dup(r, len, r->tty);
	img->nodename = blob_dup(r, len, r->nodename);
	img->exe_flags = r->flags & (VG_EXE_MEMFD | VG_EXE_TMPFS | VG_EXE_DELETED);
	img->argv_truncated = (r->flags & VG_ARGV_TRUNC) != 0;
	img->exe_ino = r->exe_ino;
	img->exe_dev = r->exe_dev;
	img->exe_size = r->exe_size;
	img->exe_mtime_ns = r->exe_mtime_ns;
	img->exe_mode = r->exe_mode;
	img->exe_uid = r->exe_uid;
	size_t n;
	const char *argv = vg_blob_bytes(r, len, r->argv, &n);
	if (argv && n) {
		img->argv = malloc(n + 1);
		if (img->argv) {
			memcpy(img->argv, argv, n);
			img->argv[n] = 0;
			/* drop trailing NULs so the last argument is not followed by empties */
			while (n > 0 && img->argv[n - 1] == 0)
				n--;
			img->argv_len = n;
			img->argc = n ? 1 : 0;
			for (size_t i = 0; i < n; i++)
				if (img->argv[i] == 0)
					img->argc++;
		}
	}
	const char *env = vg_blob_bytes(r, len, r->env, &n);
	if (env && n) {
		char *(*lookup)(const char *, size_t, const char *) =
			(r->flags & VG_ENV_TRUNC) ? env_lookup_last : env_lookup;
		img->ld_preload = lookup(env, n, "LD_PRELOAD");
		img->ssh_connection = lookup(env, n, "SSH_CONNECTION");
	}
	if ((r->flags & VG_ENV_TRUNC) && (!img->ld_preload || !img->ssh_connection)) {
		/* the copy was capped: look in the live environment for the rest */
		char path[64];
		snprintf(path, sizeof(path), "%s/%u/environ", pc->proc_root, t->pid);
		char *buf = malloc(VG_DATA_MAX);
		ssize_t m = buf ? read_file(path, buf, VG_DATA_MAX) : -1;
		if (m > 0) {
			if (!img->ld_preload)
				img->ld_preload = env_lookup(buf, (size_t)m, "LD_PRELOAD");
			if (!img->ssh_connection)
				img->ssh_connection = env_lookup(buf, (size_t)m, "SSH_CONNECTION");
		}
		free(buf);
	}

	struct proc_entry *e = htab_get(&pc->procs, t->pid);
	if (!e) {
		e = calloc(1, sizeof(*e));
		if (!e) {
			return img;
		}
		e->pid = t->pid;
		put_entry(pc, e);
		e = htab_get(&pc->procs, t->pid);
		if (!e)
			return img;
	}
	e->ppid = t->ppid;
	e->start_ns = t->start_ns;
	e->start_ticks = pc_ns_to_ticks(pc, t->start_ns);
	img_put(e->img);
	e->img = img_get(img);
	return img;
}

void pc_on_exit(struct proc_cache *pc, uint32_t pid)
{
	struct proc_entry *e = htab_del(&pc->procs, pid);
	if (e)
		entry_free(e);
}

static int sweep_dead(uint64_t pid, void *val, void *arg)
{
	(void)arg;
	if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
		return 0;
	entry_free(val);
	return 1;
}

int pc_sweep_dead(struct proc_cache *pc)
{
	size_t before = pc->procs.count;
	htab_sweep(&pc->procs, sweep_dead, NULL);
	return (int)(before - pc->procs.count);
}

int pc_ancestors(struct proc_cache *pc, uint32_t pid, uint64_t start_ns, struct proc_image **out,
		 uint32_t *pids, int max)
{
	struct proc_entry *e = pc_get(pc, pid, start_ns);
	int n = 0;
	while (e && n < max && e->ppid != 0 && e->ppid != e->pid) {
		struct proc_entry *p = pc_get(pc, e->ppid, 0);
		if (!p)
			break;
		pids[n] = p->pid;
		out[n] = img_get(p->img);
		n++;
		e = p;
	}
	return n;
}

bool container_id_from_cgroup(const char *path, char id[65], char runtime[16])
{
	static const struct {
		const char *marker;
		const char *runtime;
	} pats[] = {
		{"docker-", "docker"}, {"/docker/", "docker"}, {"cri-containerd-", "containerd"},
		{"/containerd/", "containerd"}, {"crio-", "cri-o"}, {"libpod-", "podman"},
		{"/podman/", "podman"}, {"/kubepods", "kubernetes"},
	};
	for (size_t i = 0; i < sizeof(pats) / sizeof(pats[0]); i++) {
		const char *p = path;
		while ((p = strstr(p, pats[i].marker))) {
			const char *q = p + strlen(pats[i].marker);
			/* a kubepods path carries the id in its last component */
			if (strcmp(pats[i].runtime, "kubernetes") == 0) {
				const char *last = strrchr(path, '/');
				q = last ? last + 1 : path;
				const char *dash = strrchr(q, '-');
				if (dash)
					q = dash + 1;
			}
			size_t n = 0;
			while (isxdigit((unsigned char)q[n]) && n < 64)
				n++;
			if (n == 64) {
				memcpy(id, q, 64);
				id[64] = 0;
				snprintf(runtime, 16, "%s", pats[i].runtime);
				return true;
			}
			p = q;
			if (strcmp(pats[i].runtime, "kubernetes") == 0)
				break;
		}
	}
	id[0] = 0;
	runtime[0] = 0;
	return false;
}

/* The cgroup v2 mount point, "" when there is none. */
static const char *cgroup2_mount(void)
{
	static char root[256];
	static bool done;
	if (done)
		return root;
	done = true;
	FILE *f = fopen("/proc/self/mounts", "re");
	if (!f)
		return root;
	char dev[64], dir[256], type[64];
	while (fscanf(f, "%63s %255s %63s %*s %*d %*d", dev, dir, type) == 3)
		if (strcmp(type, "cgroup2") == 0) {
			snprintf(root, sizeof(root), "%s", dir);
			break;
		}
	fclose(f);
	return root;
}

/* Whether the cgroup v2 path (relative to the mount) is the cgroup `id`:
 * a process may have moved since the record was made. */
static bool cgroup_path_is(const char *rel, uint64_t id)
{
	char p[PATH_MAX];
	struct stat st;
	snprintf(p, sizeof(p), "%s%s", cgroup2_mount(), rel);
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode) && st.st_ino == id;
}

/* The path of cgroup `id` relative to the cgroup2 mount, found through a
 * kernfs file handle (the id itself): works after the process that
 * reported it has exited. NULL when it cannot be found. */
static char *cgroup_path_by_id(uint64_t id)
{
	const char *root = cgroup2_mount();
	if (!root[0])
		return NULL;
	int mfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mfd < 0)
		return NULL;
	union {
		struct file_handle fh;
		char raw[sizeof(struct file_handle) + sizeof(uint64_t)];
	} h;
	memset(&h, 0, sizeof(h));
	h.fh.handle_bytes = sizeof(uint64_t);
	h.fh.handle_type = 0xfe; /* FILEID_KERNFS */
	memcpy(h.fh.f_handle, &id, sizeof(id));
	int fd = open_by_handle_at(mfd, &h.fh, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	close(mfd);
	if (fd < 0)
		return NULL;
	char link[64], target[PATH_MAX];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, target, sizeof(target) - 1);
	close(fd);
	size_t rl = strlen(root);
	if (n < (ssize_t)rl)
		return NULL;
	target[n] = 0;
	if (strncmp(target, root, rl) != 0 || (target[rl] != '/' && target[rl] != 0))
		return NULL;
	return strdup(target[rl] ? target + rl : "/");
}

const struct cgroup_info *pc_cgroup(struct proc_cache *pc, uint64_t cgroup_id, uint32_t pid)
{
	struct cgroup_info *c = htab_get(&pc->cgroups, cgroup_id);
	if (c)
		return c;
	char path[64], buf[4096];
	bool live = strcmp(pc->proc_root, "/proc") == 0 && cgroup2_mount()[0];
	snprintf(path, sizeof(path), "%s/%u/cgroup", pc->proc_root, pid);
	ssize_t n = read_file(path, buf, sizeof(buf) - 1);
	if (n <= 0 && !live)
		return NULL;
	buf[n > 0 ? n : 0] = 0;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->id = cgroup_id;
	/* the unified (v2) line "0::/path" names the cgroup whose id BPF reports */
	char *line = buf, *save = NULL, *v2 = NULL;
	for (char *l = strtok_r(line, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		if (strncmp(l, "0::", 3) == 0)
			v2 = l + 3;
		char rt[16];
		if (!c->container_id[0] && container_id_from_cgroup(l, c->container_id, rt))
			snprintf(c->runtime, sizeof(c->runtime), "%s", rt);
	}
	if (live && (!v2 || !cgroup_path_is(v2, cgroup_id))) {
		/* gone or moved since the record: /proc describes another cgroup */
		c->path = cgroup_path_by_id(cgroup_id);
		if (!c->path) {
			cgroup_free(c);
			return NULL;
		}
		container_id_from_cgroup(c->path, c->container_id, c->runtime);
		goto put;
	}
	c->path = strdup(v2 ? v2 : "");
put:;
	int failed = 0;
	htab_put(&pc->cgroups, cgroup_id, c, &failed);
	if (failed) {
		cgroup_free(c);
		return NULL;
	}
	return c;
}
