#define _GNU_SOURCE
/* `vigil block`: executables denied before they run.
 *
 * fanotify (the default): a FAN_CLASS_CONTENT group with FAN_OPEN_EXEC_PERM
 * marks makes each exec of a marked file wait for our verdict; FAN_DENY
 * fails the execve with EPERM. The group only exists while a block does.
 * Hash blocks mark every real filesystem; path blocks only the directories
 * that hold the blocked paths. The hazard (DESIGN.md, responder): every
 * marked exec on the host waits for one thread of ours. So that thread
 * waits on nothing but the file it hashes, answers FAN_ALLOW on any error,
 * and after allowing a file puts an evictable ignore mark on its inode, so
 * later execs of it never wake us (the kernel drops the ignore mark when
 * the file is modified). A queue overflow is answered FAN_ALLOW by the
 * kernel itself (bounded queue), and when vigild dies the kernel closes the
 * group, which allows every pending exec and removes the marks.
 *
 * A changed block list makes every ignore mark suspect (an allowed file may
 * now be blocked), and marks cannot be enumerated: a fresh group with its
 * own thread and a frozen copy of the list is built and armed, then the old
 * one is stopped and closed. For that moment both groups answer.
 *
 * Not judged: execs from a memfd (fileless; the kernel refuses marks on its
 * internal mount, EINVAL) and filesystems mounted after the group was built
 * or only in other mount namespaces (containers): both run unjudged.
 *
 * eBPF fallback (block_fanotify = off, or no fanotify): bpf/block.bpf.c
 * kills the process at sched_process_exec when the new exe's inode is in a
 * map. User space fills the map from path blocks (stat) and from a scan
 * that hashes the usual executable directories; see that file for what
 * this cannot catch. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <openssl/evp.h>
#include "respond_int.h"
#include "blocklist.h"
#include "../util/htab.h"
#include "block.skel.h"

#ifndef FAN_MARK_IGNORE
#define FAN_MARK_IGNORE 0x00000400
#endif
#ifndef FAN_MARK_EVICTABLE
#define FAN_MARK_EVICTABLE 0x00000200
#endif

#define HASH_MAX_BYTES (512ULL << 20) /* larger files are allowed unjudged */
#define CACHE_MAX 65536
#define SCAN_INTERVAL_S 10
#define SCAN_MAX_FILES 50000
#define SCAN_MAX_BYTES (64ULL << 20)

static void count(uint64_t *c, uint64_t n)
{
	__atomic_add_fetch(c, n, __ATOMIC_RELAXED);
}

static uint64_t load(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

/* ---- sha256 of files, cached by identity --------------------------------
 * Shared by the answering threads (two during a swap) and the scanner; the
 * lock is held for table operations only, never while reading a file. */

struct file_id {
	uint64_t dev, ino, size;
	int64_t mtime_ns, ctime_ns;
};

struct cached_sha {
	struct file_id id;
	uint8_t sha[32];
};

struct sha_cache {
	pthread_mutex_t lock;
	struct htab tab;
};

static void file_id_of(const struct stat *st, struct file_id *id)
{
	memset(id, 0, sizeof(*id));
	id->dev = st->st_dev;
	id->ino = st->st_ino;
	id->size = (uint64_t)st->st_size;
	id->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	id->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
}

static uint64_t file_id_key(const struct file_id *id)
{
	return htab_hash64(id->ino ^ htab_hash64(id->dev ^ htab_hash64(id->size ^ (uint64_t)id->mtime_ns)));
}

static bool cache_get(struct sha_cache *c, const struct file_id *id, uint8_t sha[32])
{
	bool hit = false;
	pthread_mutex_lock(&c->lock);
	struct cached_sha *e = htab_get(&c->tab, file_id_key(id));
	if (e && !memcmp(&e->id, id, sizeof(*id))) {
		memcpy(sha, e->sha, 32);
		hit = true;
	}
	pthread_mutex_unlock(&c->lock);
	return hit;
}

static int drop_all(uint64_t key, void *val, void *arg)
{
	free(val);
	return 1;
}

static void cache_put(struct sha_cache *c, const struct file_id *id, const uint8_t sha[32])
{
	struct cached_sha *e = malloc(sizeof(*e));
	if (!e)
		return;
	e->id = *id;
	memcpy(e->sha, sha, 32);
	pthread_mutex_lock(&c->lock);
	if (c->tab.count >= CACHE_MAX) /* bounded: forget rather than grow */
		htab_sweep(&c->tab, drop_all, NULL);
	int failed = 0;
	free(htab_put(&c->tab, file_id_key(id), e, &failed));
	if (failed)
		free(e);
	pthread_mutex_unlock(&c->lock);
}

/* 0, 1 = too large to judge, -1 = unreadable */
static int sha_of_fd(struct sha_cache *c, int fd, const struct stat *st, uint8_t sha[32], uint64_t *hashed)
{
	struct file_id id;
	file_id_of(st, &id);
	if (cache_get(c, &id, sha))
		return 0;
	if ((uint64_t)st->st_size > HASH_MAX_BYTES)
		return 1;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(ctx);
		return -1;
	}
	unsigned char buf[1 << 16]; /* on the stack: TLS would cost every vigild thread */
	off_t off = 0;
	for (;;) {
		ssize_t n = pread(fd, buf, sizeof(buf), off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			EVP_MD_CTX_free(ctx);
			return -1;
		}
		if (n == 0)
			break;
		EVP_DigestUpdate(ctx, buf, (size_t)n);
		off += n;
	}
	unsigned int len = 0;
	int ok = EVP_DigestFinal_ex(ctx, sha, &len);
	EVP_MD_CTX_free(ctx);
	if (ok != 1 || len != 32)
		return -1;
	cache_put(c, &id, sha);
	if (hashed)
		count(hashed, 1);
	return 0;
}

/* ---- state ---------------------------------------------------------------- */

struct path_rule {
	char *path, *real; /* as blocked; realpath() of it when it differs */
	struct block_entry *e;
};

/* One fanotify group, its answering thread and the frozen list it judges by. */
struct fan_group {
	struct blocker *b;
	int fd, stop_fd;
	pthread_t thread;
	bool thread_started;
	struct hashset hs;
	struct path_rule *paths;
	size_t npaths;
	unsigned marks, marks_failed;
	char mark_errors[512];
	/* hash blocks mark every filesystem, also those mounted later: the
	 * answering thread watches the mount table (mountinfo polls POLLPRI on
	 * a change) and marks what is new; mark_lock orders it with the first
	 * marking done by the command */
	int mnt_fd;
	pthread_mutex_t mark_lock;
	uint64_t marked[512];
	size_t nmarked;
};

struct fb_inode {
	uint64_t ino;
	uint32_t kdev;
	struct block_entry *e;
	uint64_t seen; /* kills already added to e->denied */
};

struct blocker {
	struct responder *r;
	struct blocklist list;
	char path[PATH_MAX];
	char unavailable[512];     /* blocking cannot work: the reason */
	bool fanotify;             /* mode: fanotify, else the eBPF fallback */
	char fanotify_why[256];    /* why the fallback is in use */
	struct fan_group *group;   /* armed fanotify group, NULL when no blocks */
	struct sha_cache cache;
	uint64_t events, allowed, denied, hashed, errors, overflows, ignore_marks, unjudged;
	int ignore_flag;           /* FAN_MARK_IGNORE, or FAN_MARK_IGNORED_MASK on old kernels */

	/* the hash blocks as sorted digests, for block_sha_blocked(): the
	 * output thread's safety net for execs fanotify never judged */
	pthread_mutex_t digests_lock;
	uint8_t (*digests)[32];
	size_t ndigests;

	/* eBPF fallback; fb_lock guards everything below it */
	pthread_mutex_t fb_lock;
	struct vgskel_block *skel;
	int map_fd;
	struct hashset fb_hs;      /* hash blocks, for the scanner */
	struct htab fb_inodes;     /* inode -> struct fb_inode */
	pthread_t scan_thread;
	bool scan_started, scan_stop, scan_now;
	pthread_cond_t scan_cond;
	uint64_t scans, scan_files;
	char bpf_error[256];
};

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

/* ---- the answering thread ------------------------------------------------ */

static struct block_entry *judge_path(struct fan_group *g, int fd)
{
	char link[64], path[PATH_MAX];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, path, sizeof(path) - 1);
	if (n <= 0)
		return NULL;
	path[n] = 0;
	for (size_t i = 0; i < g->npaths; i++) {
		struct path_rule *p = &g->paths[i];
		if (!strcmp(path, p->path) || (p->real && !strcmp(path, p->real)))
			return p->e;
	}
	return NULL;
}

static bool same_file_state(const struct stat *a, const struct stat *b)
{
	return a->st_size == b->st_size && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec && a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	       a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* Later execs of an allowed file do not wake us. The file may have changed
 * between our read and the mark (a modification after the mark clears it):
 * if its state moved, the mark goes again. */
static void ignore_file(struct fan_group *g, int fd, const struct stat *judged)
{
	struct blocker *b = g->b;
	int flag = __atomic_load_n(&b->ignore_flag, __ATOMIC_RELAXED);
	unsigned base = FAN_MARK_INODE | FAN_MARK_EVICTABLE | (unsigned)flag;
	if (fanotify_mark(g->fd, FAN_MARK_ADD | base, FAN_OPEN_EXEC_PERM, fd, NULL)) {
		if (errno == EINVAL && flag == FAN_MARK_IGNORE) /* before 6.0 */
			__atomic_store_n(&b->ignore_flag, FAN_MARK_IGNORED_MASK, __ATOMIC_RELAXED);
		return;
	}
	struct stat now;
	if (fstat(fd, &now) || !same_file_state(&now, judged))
		fanotify_mark(g->fd, FAN_MARK_REMOVE | FAN_MARK_INODE | (unsigned)flag, FAN_OPEN_EXEC_PERM, fd, NULL);
	else
		count(&b->ignore_marks, 1);
}

static void answer(struct fan_group *g, int fd)
{
	struct blocker *b = g->b;
	struct block_entry *hit = NULL;
	bool judged = false;
	struct stat st;
	count(&b->events, 1);
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		judged = true;
		if (g->npaths)
			hit = judge_path(g, fd);
		if (!hit && g->hs.count) {
			uint8_t sha[32];
			int rc = sha_of_fd(&b->cache, fd, &st, sha, &b->hashed);
			if (rc == 0)
				hit = hashset_find(&g->hs, sha);
			else if (rc > 0)
				count(&b->unjudged, 1); /* too large: allowed, and remembered as such */
			else
				judged = false;
		}
	}
	if (!judged)
		count(&b->errors, 1);
	struct fanotify_response resp = {.fd = fd, .response = hit ? FAN_DENY : FAN_ALLOW};
	/* a failed write leaves nothing to do: closing the group allows it */
	while (write(g->fd, &resp, sizeof(resp)) < 0 && errno == EINTR)
		;
	if (hit) {
		count(&hit->denied, 1);
		count(&b->denied, 1);
		count(&b->r->st.blocked_execs, 1);
	} else {
		count(&b->allowed, 1);
		if (judged)
			ignore_file(g, fd, &st);
	}
	close(fd);
}

static void mark_filesystems(struct fan_group *g);

static void *answer_main(void *arg)
{
	struct fan_group *g = arg;
	pthread_setname_np(pthread_self(), "vigild-block");
	/* fanotify events are 8-byte aligned records */
	uint64_t buf[4096];
	struct pollfd p[3] = {{.fd = g->fd, .events = POLLIN},
			      {.fd = g->stop_fd, .events = POLLIN},
			      {.fd = g->mnt_fd, .events = POLLPRI}};
	for (;;) {
		if (poll(p, 3, -1) < 0) {
			if (errno != EINTR)
				usleep(1000);
			continue;
		}
		if (p[1].revents)
			break;
		if (p[2].revents & (POLLPRI | POLLERR))
			mark_filesystems(g);
		if (!(p[0].revents & POLLIN))
			continue;
		ssize_t len = read(g->fd, buf, sizeof(buf));
		if (len <= 0)
			continue;
		struct fanotify_event_metadata *m = (struct fanotify_event_metadata *)buf;
		for (; FAN_EVENT_OK(m, len); m = FAN_EVENT_NEXT(m, len)) {
			if (m->mask & FAN_Q_OVERFLOW) {
				count(&g->b->overflows, 1);
				continue;
			}
			if (m->fd < 0)
				continue;
			if (m->vers != FANOTIFY_METADATA_VERSION) {
				/* cannot happen with our headers; still answer */
				struct fanotify_response resp = {.fd = m->fd, .response = FAN_ALLOW};
				if (write(g->fd, &resp, sizeof(resp)) < 0)
					count(&g->b->errors, 1);
				close(m->fd);
				continue;
			}
			answer(g, m->fd);
		}
	}
	return NULL;
}

/* ---- building and swapping groups ----------------------------------------- */

static void group_free(struct fan_group *g)
{
	if (!g)
		return;
	if (g->thread_started) {
		uint64_t one = 1;
		if (write(g->stop_fd, &one, sizeof(one)) < 0) {
			/* an eventfd write of 1 cannot fail short of a bug */
		}
		pthread_join(g->thread, NULL);
	}
	/* closing allows every exec still waiting on this group */
	if (g->fd >= 0)
		close(g->fd);
	if (g->stop_fd >= 0)
		close(g->stop_fd);
	if (g->mnt_fd >= 0)
		close(g->mnt_fd);
	pthread_mutex_destroy(&g->mark_lock);
	hashset_free(&g->hs);
	for (size_t i = 0; i < g->npaths; i++) {
		free(g->paths[i].path);
		free(g->paths[i].real);
	}
	free(g->paths);
	free(g);
}

static int group_init_fd(void)
{
	return fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC | FAN_NONBLOCK, O_RDONLY | O_LARGEFILE | O_CLOEXEC);
}

static void mark_error(struct fan_group *g, const char *what, int e)
{
	g->marks_failed++;
	size_t n = strlen(g->mark_errors);
	if (n + 2 < sizeof(g->mark_errors))
		snprintf(g->mark_errors + n, sizeof(g->mark_errors) - n, "%s%s: %s", n ? "; " : "", what,
			 strerror(e));
}

/* Every real filesystem once: each exec anywhere must be judged by hash.
 * Marks every filesystem of the mount table not marked yet (a filesystem
 * mounted at several places is marked once). */
static void mark_filesystems(struct fan_group *g)
{
	pthread_mutex_lock(&g->mark_lock);
	FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f) {
		mark_error(g, "/proc/self/mountinfo", errno);
		pthread_mutex_unlock(&g->mark_lock);
		return;
	}
	char *line = NULL;
	size_t cap = 0;
	while (getline(&line, &cap, f) > 0) {
		unsigned maj, min;
		char mnt[PATH_MAX], type[64];
		if (mountinfo_parse(line, &maj, &min, mnt, sizeof(mnt), type, sizeof(type)) || block_fs_skipped(type))
			continue;
		uint64_t dev = (uint64_t)maj << 32 | min;
		bool dup = false;
		for (size_t i = 0; i < g->nmarked && !dup; i++)
			dup = g->marked[i] == dev;
		if (dup)
			continue;
		if (g->nmarked < sizeof(g->marked) / sizeof(g->marked[0]))
			g->marked[g->nmarked++] = dev;
		if (fanotify_mark(g->fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, FAN_OPEN_EXEC_PERM, AT_FDCWD, mnt)) {
			char what[PATH_MAX + 80];
			snprintf(what, sizeof(what), "%s (%s)", mnt, type);
			mark_error(g, what, errno);
		} else {
			g->marks++;
		}
	}
	free(line);
	fclose(f);
	pthread_mutex_unlock(&g->mark_lock);
}

/* The directory that holds path (a file created there later is judged too);
 * when it does not exist yet, the filesystem of its nearest ancestor. */
static void mark_parent(struct fan_group *g, const char *path)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash)
		return;
	if (slash == dir)
		slash[1] = 0;
	else
		*slash = 0;
	if (!fanotify_mark(g->fd, FAN_MARK_ADD | FAN_MARK_ONLYDIR, FAN_OPEN_EXEC_PERM | FAN_EVENT_ON_CHILD, AT_FDCWD,
			   dir)) {
		g->marks++;
		return;
	}
	for (;;) {
		struct stat st;
		if (stat(dir, &st) == 0) {
			if (fanotify_mark(g->fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, FAN_OPEN_EXEC_PERM, AT_FDCWD, dir))
				mark_error(g, dir, errno);
			else
				g->marks++;
			return;
		}
		slash = strrchr(dir, '/');
		if (!slash)
			return;
		if (slash == dir) {
			if (!dir[1])
				return;
			slash[1] = 0;
		} else {
			*slash = 0;
		}
	}
}

static int group_build(struct blocker *b, struct fan_group **out, char *err, size_t errlen)
{
	struct fan_group *g = calloc(1, sizeof(*g));
	if (!g) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	g->b = b;
	g->fd = g->stop_fd = g->mnt_fd = -1;
	pthread_mutex_init(&g->mark_lock, NULL);
	if (hashset_build(&g->hs, &b->list))
		goto oom;
	g->paths = calloc(b->list.npath ? b->list.npath : 1, sizeof(*g->paths));
	if (!g->paths)
		goto oom;
	for (struct block_entry *e = b->list.head; e; e = e->next) {
		if (e->kind != BLOCK_PATH)
			continue;
		struct path_rule *p = &g->paths[g->npaths++];
		p->e = e;
		p->path = strdup(e->value);
		if (!p->path)
			goto oom;
		char real[PATH_MAX];
		if (realpath(e->value, real) && strcmp(real, e->value) && !(p->real = strdup(real)))
			goto oom;
	}
	g->fd = group_init_fd();
	if (g->fd < 0) {
		snprintf(err, errlen, "fanotify_init: %s", strerror(errno));
		group_free(g);
		return -1;
	}
	g->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (g->stop_fd < 0) {
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		group_free(g);
		return -1;
	}
	if (b->list.nhash) /* its poll state starts now: later mounts wake the thread */
		g->mnt_fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC);
	/* the thread runs before the first mark: no exec ever waits on a
	 * group nobody reads */
	int e = pthread_create(&g->thread, NULL, answer_main, g);
	if (e) {
		snprintf(err, errlen, "pthread_create: %s", strerror(e));
		group_free(g);
		return -1;
	}
	g->thread_started = true;
	if (b->list.nhash) {
		mark_filesystems(g);
	} else {
		for (size_t i = 0; i < g->npaths; i++) {
			mark_parent(g, g->paths[i].path);
			if (g->paths[i].real)
				mark_parent(g, g->paths[i].real);
		}
	}
	if (g->marks == 0) {
		snprintf(err, errlen, "no fanotify mark could be placed: %s",
			 g->mark_errors[0] ? g->mark_errors : "nothing to mark");
		group_free(g);
		return -1;
	}
	if (g->marks_failed)
		fprintf(stderr, "vigild: block: %u marks failed (execs there are not judged): %s\n", g->marks_failed,
			g->mark_errors);
	*out = g;
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
	group_free(g);
	return -1;
}

/* ---- the eBPF fallback ------------------------------------------------------ */

static uint32_t kdev_of(dev_t d)
{
	return (major(d) << 20) | minor(d);
}

struct vg_block_key {
	uint64_t ino;
	uint32_t dev;
	uint32_t pad;
};

static uint64_t inode_key(uint64_t ino, uint32_t kdev)
{
	return htab_hash64(ino ^ htab_hash64(kdev));
}

/* fb_lock held. Adds an inode to the kill map, attributed to e. */
static void fb_add_inode(struct blocker *b, const struct stat *st, struct block_entry *e)
{
	uint32_t kdev = kdev_of(st->st_dev);
	uint64_t key = inode_key(st->st_ino, kdev);
	struct fb_inode *fi = htab_get(&b->fb_inodes, key);
	if (fi && fi->ino == st->st_ino && fi->kdev == kdev)
		return;
	if (fi) /* a hash collision of two inodes: keep the first */
		return;
	fi = calloc(1, sizeof(*fi));
	if (!fi)
		return;
	fi->ino = st->st_ino;
	fi->kdev = kdev;
	fi->e = e;
	struct vg_block_key k = {.ino = st->st_ino, .dev = kdev};
	uint64_t zero = 0;
	int failed = 0;
	if (bpf_map_update_elem(b->map_fd, &k, &zero, BPF_ANY)) {
		free(fi);
		return;
	}
	htab_put(&b->fb_inodes, key, fi, &failed);
	if (failed) {
		bpf_map_delete_elem(b->map_fd, &k);
		free(fi);
	}
}

/* fb_lock held. Moves the kills the kernel counted into the entries. */
static int fold_one(uint64_t key, void *val, void *arg)
{
	struct blocker *b = arg;
	struct fb_inode *fi = val;
	struct vg_block_key k = {.ino = fi->ino, .dev = fi->kdev};
	uint64_t kills = 0;
	if (b->map_fd >= 0 && bpf_map_lookup_elem(b->map_fd, &k, &kills) == 0 && kills > fi->seen) {
		count(&fi->e->denied, kills - fi->seen);
		count(&b->r->st.blocked_execs, kills - fi->seen);
		fi->seen = kills;
	}
	return 0;
}

static int drop_inode(uint64_t key, void *val, void *arg)
{
	struct blocker *b = arg;
	struct fb_inode *fi = val;
	struct vg_block_key k = {.ino = fi->ino, .dev = fi->kdev};
	if (b->map_fd >= 0)
		bpf_map_delete_elem(b->map_fd, &k);
	free(fi);
	return 1;
}

static void fb_fold(struct blocker *b)
{
	if (b->fb_inodes.buckets)
		htab_sweep(&b->fb_inodes, fold_one, b);
}

/* Hashes executables where they usually live (and where droppers put
 * them) and puts those with a blocked hash into the kill map. */
static void scan_file(struct blocker *b, int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return;
	struct stat st;
	uint8_t sha[32];
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111) &&
	    (uint64_t)st.st_size <= SCAN_MAX_BYTES && sha_of_fd(&b->cache, fd, &st, sha, &b->hashed) == 0) {
		pthread_mutex_lock(&b->fb_lock);
		struct block_entry *e = b->skel ? hashset_find(&b->fb_hs, sha) : NULL;
		if (e)
			fb_add_inode(b, &st, e);
		pthread_mutex_unlock(&b->fb_lock);
	}
	close(fd);
}

static void scan_dir(struct blocker *b, const char *path, int depth, unsigned *budget)
{
	DIR *d = opendir(path);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d)) && *budget) {
		if (__atomic_load_n(&b->scan_stop, __ATOMIC_RELAXED))
			break;
		if (de->d_name[0] == '.' && (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2])))
			continue;
		if (de->d_type == DT_DIR) {
			if (depth > 0) {
				char sub[PATH_MAX];
				if (snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name) < (int)sizeof(sub))
					scan_dir(b, sub, depth - 1, budget);
			}
			continue;
		}
		if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
			continue;
		(*budget)--;
		count(&b->scan_files, 1);
		scan_file(b, dirfd(d), de->d_name);
	}
	closedir(d);
}

static void *scan_main(void *arg)
{
	struct blocker *b = arg;
	pthread_setname_np(pthread_self(), "vigild-scan");
	static const struct {
		const char *dir;
		int depth;
	} roots[] = {
		{"/usr/local/sbin", 0}, {"/usr/local/bin", 0}, {"/usr/sbin", 0}, {"/usr/bin", 0},
		{"/sbin", 0},		{"/bin", 0},	       {"/tmp", 3},	 {"/var/tmp", 3},
		{"/dev/shm", 3},	{"/root", 2},	       {"/home", 3},	 {"/opt", 3},
	};
	pthread_mutex_lock(&b->fb_lock);
	while (!b->scan_stop) {
		bool work = b->skel && b->fb_hs.count;
		b->scan_now = false;
		pthread_mutex_unlock(&b->fb_lock);
		if (work) {
			unsigned budget = SCAN_MAX_FILES;
			for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++)
				scan_dir(b, roots[i].dir, roots[i].depth, &budget);
			count(&b->scans, 1);
		}
		pthread_mutex_lock(&b->fb_lock);
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += SCAN_INTERVAL_S;
		while (!b->scan_stop && !b->scan_now)
			if (pthread_cond_timedwait(&b->scan_cond, &b->fb_lock, &ts) == ETIMEDOUT)
				break;
	}
	pthread_mutex_unlock(&b->fb_lock);
	return NULL;
}

/* fb_lock held */
static void fb_unload(struct blocker *b)
{
	if (b->fb_inodes.buckets)
		htab_sweep(&b->fb_inodes, drop_inode, b);
	vgskel_block__destroy(b->skel);
	b->skel = NULL;
	b->map_fd = -1;
	hashset_free(&b->fb_hs);
}

/* Loads the kill program when blocks exist and refills its map from the
 * current list; unloads it when none remain. */
static int fb_arm(struct blocker *b, char *err, size_t errlen)
{
	int rc = 0;
	pthread_mutex_lock(&b->fb_lock);
	fb_fold(b);
	if (b->list.n == 0) {
		fb_unload(b);
		goto out;
	}
	if (!b->skel) {
		struct vgskel_block *s = vgskel_block__open_and_load();
		int e = s ? vgskel_block__attach(s) : -errno;
		if (!s || e) {
			snprintf(b->bpf_error, sizeof(b->bpf_error), "loading bpf/block.bpf.c: %s",
				 strerror(s ? -e : errno));
			snprintf(err, errlen, "%s", b->bpf_error);
			vgskel_block__destroy(s);
			rc = -1;
			goto out;
		}
		b->skel = s;
		b->map_fd = bpf_map__fd(s->maps.vg_block_inodes);
		b->bpf_error[0] = 0;
	}
	/* rebuilt from scratch: entries may have gone, paths may now name
	 * other inodes (the scanner re-adds the hash matches) */
	htab_sweep(&b->fb_inodes, drop_inode, b);
	hashset_free(&b->fb_hs);
	if (hashset_build(&b->fb_hs, &b->list)) {
		snprintf(err, errlen, "out of memory");
		rc = -1;
	}
	for (struct block_entry *e = b->list.head; e; e = e->next) {
		struct stat st;
		if (e->kind == BLOCK_PATH && stat(e->value, &st) == 0 && S_ISREG(st.st_mode))
			fb_add_inode(b, &st, e);
	}
	/* files already hashed are known at once; the rest when the scan reaches them */
	if (b->fb_hs.count && !b->scan_started) {
		if (pthread_create(&b->scan_thread, NULL, scan_main, b) == 0)
			b->scan_started = true;
	}
	b->scan_now = true;
	pthread_cond_signal(&b->scan_cond);
out:
	pthread_mutex_unlock(&b->fb_lock);
	return rc;
}

/* ---- arming ------------------------------------------------------------------ */

/* Makes the kernel enforce b->list. On failure the previous enforcement
 * stays as it was. */
static int cmp_digest(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

/* A copy, not pointers into the list: entries are freed on unblock while
 * the output thread may be looking. */
static void publish_digests(struct blocker *b)
{
	uint8_t(*d)[32] = NULL;
	size_t n = 0;
	if (b->list.nhash && (d = calloc(b->list.nhash, 32)))
		for (struct block_entry *e = b->list.head; e; e = e->next)
			if (e->kind == BLOCK_HASH && n < b->list.nhash)
				memcpy(d[n++], e->sha, 32);
	if (n)
		qsort(d, n, 32, cmp_digest);
	pthread_mutex_lock(&b->digests_lock);
	uint8_t(*old)[32] = b->digests;
	b->digests = d;
	__atomic_store_n(&b->ndigests, n, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&b->digests_lock);
	free(old);
}

bool block_sha_blocked(struct responder *r, const char *hex)
{
	struct blocker *b = r ? r->block : NULL;
	uint8_t sha[32];
	char why[64];
	/* called on every exec: nothing to parse or lock without hash blocks */
	if (!b || !hex || !__atomic_load_n(&b->ndigests, __ATOMIC_ACQUIRE) ||
	    block_parse_sha256(hex, sha, why, sizeof(why)))
		return false;
	pthread_mutex_lock(&b->digests_lock);
	bool hit = b->ndigests && bsearch(sha, b->digests, b->ndigests, 32, cmp_digest);
	pthread_mutex_unlock(&b->digests_lock);
	return hit;
}

static int arm(struct blocker *b, char *err, size_t errlen)
{
	int rc = 0;
	if (b->fanotify) {
		struct fan_group *g = NULL;
		if (b->list.n && group_build(b, &g, err, errlen))
			return -1;
		struct fan_group *old = b->group;
		b->group = g;
		group_free(old);
	} else {
		rc = fb_arm(b, err, errlen);
	}
	if (rc == 0)
		publish_digests(b);
	__atomic_store_n(&b->r->st.blocks, b->list.n, __ATOMIC_RELAXED);
	return rc;
}

/* fanotify with exec permission events usable here? Probed on our own
 * state directory (nobody execs a directory), never on what others run. */
static bool fanotify_usable(struct blocker *b)
{
	int fd = group_init_fd();
	if (fd < 0) {
		snprintf(b->fanotify_why, sizeof(b->fanotify_why), "fanotify_init: %s", strerror(errno));
		return false;
	}
	bool ok = fanotify_mark(fd, FAN_MARK_ADD | FAN_MARK_ONLYDIR, FAN_OPEN_EXEC_PERM | FAN_EVENT_ON_CHILD, AT_FDCWD,
				b->r->dir) == 0;
	if (!ok)
		snprintf(b->fanotify_why, sizeof(b->fanotify_why), "fanotify FAN_OPEN_EXEC_PERM: %s", strerror(errno));
	close(fd);
	return ok;
}

int block_open(struct responder *r, char *err, size_t errlen)
{
	struct blocker *b = calloc(1, sizeof(*b));
	if (!b) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	b->r = r;
	b->map_fd = -1;
	b->ignore_flag = FAN_MARK_IGNORE;
	pthread_mutex_init(&b->cache.lock, NULL);
	pthread_mutex_init(&b->fb_lock, NULL);
	pthread_mutex_init(&b->digests_lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_cond_init(&b->scan_cond, &ca);
	pthread_condattr_destroy(&ca);
	blocklist_init(&b->list);
	r->block = b;
	if (htab_init(&b->cache.tab, 1024) || htab_init(&b->fb_inodes, 64)) {
		snprintf(err, errlen, "out of memory");
		block_close(r);
		return -1;
	}
	snprintf(b->path, sizeof(b->path), "%s/blocks", r->dir);
	/* a list we cannot read is not overwritten: blocking stays off and
	 * every block command says why, until a person fixes the file */
	if (blocklist_load(&b->list, b->path, b->unavailable, sizeof(b->unavailable))) {
		snprintf(err, errlen, "%s", b->unavailable);
		return -1;
	}
	if (r->o.block_fanotify) {
		b->fanotify = fanotify_usable(b);
		if (!b->fanotify)
			fprintf(stderr, "vigild: block: %s; using the eBPF kill-at-exec fallback\n", b->fanotify_why);
	} else {
		snprintf(b->fanotify_why, sizeof(b->fanotify_why), "block_fanotify = off");
	}
	__atomic_store_n(&r->st.blocks, b->list.n, __ATOMIC_RELAXED);
	if (b->list.n && arm(b, err, errlen)) {
		/* the list is kept: the next block command tries again */
		return -1;
	}
	if (b->list.n)
		fprintf(stderr, "vigild: block: %zu blocks restored (%s)\n", b->list.n,
			b->fanotify ? "fanotify" : "eBPF kill at exec");
	return 0;
}

void block_close(struct responder *r)
{
	struct blocker *b = r->block;
	if (!b)
		return;
	group_free(b->group);
	b->group = NULL;
	pthread_mutex_lock(&b->fb_lock);
	b->scan_stop = true;
	pthread_cond_signal(&b->scan_cond);
	pthread_mutex_unlock(&b->fb_lock);
	if (b->scan_started)
		pthread_join(b->scan_thread, NULL);
	pthread_mutex_lock(&b->fb_lock);
	fb_fold(b);
	fb_unload(b);
	pthread_mutex_unlock(&b->fb_lock);
	/* keep the denied counts; the list itself is already on disk */
	char err[256];
	if (!b->unavailable[0] && b->list.n && blocklist_save(&b->list, b->path, err, sizeof(err)))
		fprintf(stderr, "vigild: block: %s\n", err);
	blocklist_free(&b->list);
	htab_free(&b->cache.tab, free);
	htab_free(&b->fb_inodes, free);
	pthread_mutex_destroy(&b->cache.lock);
	pthread_mutex_destroy(&b->fb_lock);
	pthread_mutex_destroy(&b->digests_lock);
	free(b->digests);
	pthread_cond_destroy(&b->scan_cond);
	free(b);
	r->block = NULL;
}

/* ---- commands ------------------------------------------------------------------ */

struct target {
	int kind;
	const char *value;
};

static int parse_targets(int argc, char **argv, struct target *t, int max, char *err, size_t errlen)
{
	int n = 0;
	for (int i = 1; i < argc; i++) {
		int kind;
		if (!strcmp(argv[i], "--hash") || !strcmp(argv[i], "--sha256"))
			kind = BLOCK_HASH;
		else if (!strcmp(argv[i], "--path"))
			kind = BLOCK_PATH;
		else {
			snprintf(err, errlen, "usage: %s --hash SHA256 | --path /ABSOLUTE/PATH ... (got '%s')", argv[0],
				 argv[i]);
			return -1;
		}
		if (i + 1 >= argc) {
			snprintf(err, errlen, "%s: %s needs a value", argv[0], argv[i]);
			return -1;
		}
		if (n >= max) {
			snprintf(err, errlen, "%s: at most %d targets at once", argv[0], max);
			return -1;
		}
		t[n].kind = kind;
		t[n].value = argv[++i];
		char why[256];
		uint8_t sha[32];
		if (kind == BLOCK_HASH ? block_parse_sha256(t[n].value, sha, why, sizeof(why))
				       : block_check_path(t[n].value, why, sizeof(why))) {
			snprintf(err, errlen, "%s", why);
			return -1;
		}
		n++;
	}
	if (n == 0) {
		snprintf(err, errlen, "usage: %s --hash SHA256 | --path /ABSOLUTE/PATH ...", argv[0]);
		return -1;
	}
	return n;
}

static const char *kind_name(int k)
{
	return k == BLOCK_HASH ? "hash" : "path";
}

static const char *mode_name(const struct blocker *b)
{
	return b->fanotify ? "fanotify" : "ebpf";
}

static void revert(struct blocklist *l, bool add, struct block_entry **touched, int n)
{
	for (int i = n - 1; i >= 0; i--) {
		if (!touched[i])
			continue;
		if (add) {
			blocklist_unlink(l, touched[i]);
			block_entry_free(touched[i]);
		} else {
			blocklist_link(l, touched[i]); /* at the end: order in the file does not matter */
		}
		touched[i] = NULL;
	}
}

/* block and unblock: all targets or none. */
static int change(struct respond_req *q, bool add, int argc, char **argv, char *err, size_t errlen)
{
	struct blocker *b = q->r->block;
	struct target t[32];
	int n = parse_targets(argc, argv, t, 32, err, errlen);
	if (n < 0)
		return -1;
	struct block_entry *touched[32] = {NULL};
	bool changed[32] = {false};
	int nchanged = 0;
	char why[256];
	for (int i = 0; i < n; i++) {
		struct block_entry *e = blocklist_find(&b->list, t[i].kind, t[i].value);
		if (add ? e != NULL : e == NULL)
			continue; /* already so: nothing to do, and not an error for rules */
		changed[i] = true;
		if (q->dry_run)
			continue;
		if (add) {
			e = blocklist_add(&b->list, t[i].kind, t[i].value, now_s(), why, sizeof(why));
			if (!e) {
				snprintf(err, errlen, "%s", why);
				revert(&b->list, add, touched, n);
				goto fail;
			}
		} else {
			blocklist_unlink(&b->list, e);
		}
		touched[i] = e;
		nchanged++;
	}
	if (nchanged && blocklist_save(&b->list, b->path, err, errlen)) {
		revert(&b->list, add, touched, n);
		goto fail;
	}
	if (nchanged && arm(b, err, errlen)) {
		/* the kernel still enforces the old list: so must the file */
		revert(&b->list, add, touched, n);
		char e2[256];
		if (blocklist_save(&b->list, b->path, e2, sizeof(e2)))
			fprintf(stderr, "vigild: block: %s\n", e2);
		goto fail;
	}
	for (int i = 0; i < n; i++) {
		/* the old group and the scanner are gone or rebuilt by now */
		if (!add && touched[i])
			block_entry_free(touched[i]);
		char target[PATH_MAX + 8];
		snprintf(target, sizeof(target), "%s %s", kind_name(t[i].kind), t[i].value);
		char detail[128];
		snprintf(detail, sizeof(detail), "{\"mode\":\"%s\",\"changed\":%s}", mode_name(b),
			 changed[i] ? "true" : "false");
		respond_log(q, argv[0], target, q->dry_run ? "dry-run" : "ok", detail);
		sb_printf(q->out, "%s%s %s %s%s\n", q->dry_run ? "would have " : "", add ? "blocked" : "unblocked",
			  kind_name(t[i].kind), t[i].value,
			  changed[i] ? "" : add ? " (already blocked)" : " (was not blocked)");
	}
	return 0;
fail:
	for (int i = 0; i < n; i++) {
		char target[PATH_MAX + 8], res[600];
		snprintf(target, sizeof(target), "%s %s", kind_name(t[i].kind), t[i].value);
		snprintf(res, sizeof(res), "failed: %s", err);
		respond_log(q, argv[0], target, res, NULL);
	}
	return -1;
}

static void fmt_time(int64_t t, char *out, size_t cap)
{
	struct tm tm;
	time_t tt = (time_t)t;
	if (!gmtime_r(&tt, &tm) || !strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, cap, "%" PRId64, t);
}

/* fb_lock held: inodes in the kill map for e */
struct inode_count {
	const struct block_entry *e;
	unsigned n;
};

static int count_inodes(uint64_t key, void *val, void *arg)
{
	struct inode_count *c = arg;
	if (((struct fb_inode *)val)->e == c->e)
		c->n++;
	return 0;
}

static int list_blocks(struct respond_req *q, int argc, char **argv, char *err, size_t errlen)
{
	struct blocker *b = q->r->block;
	bool json = argc > 1 && !strcmp(argv[1], "--json");
	if (argc > 2 || (argc == 2 && !json)) {
		snprintf(err, errlen, "usage: blocks [--json]");
		return -1;
	}
	pthread_mutex_lock(&b->fb_lock);
	fb_fold(b);
	struct fan_group *g = b->group;
	if (json) {
		struct jw w;
		jw_init(&w, q->out);
		jw_obj_open(&w, NULL);
		jw_str(&w, "mode", mode_name(b));
		if (!b->fanotify)
			jw_str(&w, "fallback_reason", b->fanotify_why);
		jw_bool(&w, "armed", b->fanotify ? g != NULL : b->skel != NULL);
		if (g) {
			jw_uint(&w, "marks", g->marks);
			jw_uint(&w, "marks_failed", g->marks_failed);
			if (g->marks_failed)
				jw_str(&w, "mark_errors", g->mark_errors);
		}
		jw_uint(&w, "events", load(&b->events));
		jw_uint(&w, "allowed", load(&b->allowed));
		jw_uint(&w, "denied", load(&b->denied));
		jw_uint(&w, "hashed", load(&b->hashed));
		jw_uint(&w, "errors", load(&b->errors));
		jw_uint(&w, "overflows", load(&b->overflows));
		jw_uint(&w, "ignore_marks", load(&b->ignore_marks));
		jw_uint(&w, "unjudged_too_large", load(&b->unjudged));
		if (!b->fanotify) {
			jw_uint(&w, "scans", load(&b->scans));
			jw_uint(&w, "scanned_files", load(&b->scan_files));
		}
		jw_arr_open(&w, "blocks");
		for (struct block_entry *e = b->list.head; e; e = e->next) {
			jw_obj_open(&w, NULL);
			jw_str(&w, "kind", kind_name(e->kind));
			jw_str(&w, "value", e->value);
			jw_int(&w, "added", e->added);
			jw_uint(&w, "denied", load(&e->denied));
			if (!b->fanotify) {
				struct inode_count c = {.e = e};
				htab_sweep(&b->fb_inodes, count_inodes, &c);
				jw_uint(&w, "inodes", c.n);
			}
			jw_obj_close(&w);
		}
		jw_arr_close(&w);
		jw_obj_close(&w);
		sb_putc(q->out, '\n');
	} else {
		if (b->fanotify)
			sb_printf(q->out, "# mode fanotify, %s", g ? "armed" : "not armed (no blocks)");
		else
			sb_printf(q->out, "# mode ebpf kill-at-exec (%s), %s", b->fanotify_why,
				  b->skel ? "armed" : "not armed");
		if (g)
			sb_printf(q->out, ", %u marks, %u failed", g->marks, g->marks_failed);
		sb_printf(q->out, "; %zu blocks, %" PRIu64 " execs denied\n", b->list.n, load(&b->r->st.blocked_execs));
		for (struct block_entry *e = b->list.head; e; e = e->next) {
			char t[40];
			fmt_time(e->added, t, sizeof(t));
			sb_printf(q->out, "%s %s denied=%" PRIu64 " added=%s\n", kind_name(e->kind), e->value,
				  load(&e->denied), t);
		}
	}
	pthread_mutex_unlock(&b->fb_lock);
	return 0;
}

int block_command(struct respond_req *q, int argc, char **argv, char *err, size_t errlen)
{
	struct blocker *b = q->r->block;
	if (!b) {
		snprintf(err, errlen, "blocking executables is unavailable (see vigild's start messages)");
		return -1;
	}
	if (b->unavailable[0]) {
		snprintf(err, errlen, "blocking executables is unavailable: %s", b->unavailable);
		if (strcmp(argv[0], "blocks"))
			respond_log(q, argv[0], argc > 2 ? argv[2] : "", "failed: unavailable", NULL);
		return -1;
	}
	if (!strcmp(argv[0], "blocks"))
		return list_blocks(q, argc, argv, err, errlen);
	if (!strcmp(argv[0], "block"))
		return change(q, true, argc, argv, err, errlen);
	if (!strcmp(argv[0], "unblock"))
		return change(q, false, argc, argv, err, errlen);
	snprintf(err, errlen, "unknown block command '%s'", argv[0]);
	return -1;
}
