#define _GNU_SOURCE
/* quarantine: move a file into a root-only store, remember everything
 * needed to put it back exactly, and put it back on request.
 *
 * Layout: <dir>/quarantine/<id>/meta.json and <id>/file, directories 0700,
 * the stored file 0400 and owned by vigild's user, so it can neither run
 * nor be reached by anyone else. meta.json is written (and synced) before
 * the file moves: a crash between the two leaves an entry that still says
 * where its file came from. Everything is done relative to directory fds
 * so that a path swapped under us acts on the wrong file as rarely as the
 * kernel allows; the inode moved is checked to be the one hashed. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>
#include <openssl/evp.h>
#include "respond_int.h"
#include "../util/jsonv.h"

#define META_MAX (1 << 20)
/* Hashing (and across file systems copying) happens under the command
 * lock, and a sparse file costs its owner nothing: past this size a file
 * is refused rather than hold every response for minutes or fill the
 * store's file system. */
#define QUARANTINE_MAX ((off_t)1 << 30)
#define XATTR_LIST_MAX_ 65536

static uint64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t ts_ns(struct timespec t)
{
	return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

/* Hashes the first size bytes of fd. -1 with errno on a read error; -2
 * when the file is not size bytes long (it changed under us): a file that
 * keeps growing must not keep the responder reading forever. */
static int sha256_fd(int fd, off_t size, char hex[65])
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	if (!c || !EVP_DigestInit_ex(c, EVP_sha256(), NULL)) {
		EVP_MD_CTX_free(c);
		errno = ENOMEM;
		return -1;
	}
	enum { CHUNK = 65536 };
	char *buf = malloc(CHUNK);
	off_t off = 0;
	for (;;) {
		size_t want = size - off < CHUNK ? (size_t)(size - off) : CHUNK;
		/* one byte past size too: tells a file that grew */
		ssize_t n = buf ? pread(fd, buf, want ? want : 1, off) : -1;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = buf ? errno : ENOMEM;
			free(buf);
			EVP_MD_CTX_free(c);
			errno = e;
			return -1;
		}
		if (n == 0 || !want) {
			if (off == size && n == 0)
				break;
			free(buf);
			EVP_MD_CTX_free(c);
			return -2;
		}
		EVP_DigestUpdate(c, buf, (size_t)n);
		off += n;
	}
	free(buf);
	unsigned char md[32];
	unsigned len = 0;
	EVP_DigestFinal_ex(c, md, &len);
	EVP_MD_CTX_free(c);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return 0;
}

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Copies the first size bytes of in to out and syncs out (what was hashed,
 * however the file changes meanwhile: the copy is hashed again after). */
static int copy_fd(int in, int out, off_t size)
{
	enum { CHUNK = 65536 };
	char *buf = malloc(CHUNK);
	if (!buf) {
		errno = ENOMEM;
		return -1;
	}
	off_t off = 0;
	for (;;) {
		size_t want = size - off < CHUNK ? (size_t)(size - off) : CHUNK;
		ssize_t n = want ? pread(in, buf, want, off) : 0;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || (n > 0 && write_all(out, buf, (size_t)n))) {
			int e = errno;
			free(buf);
			errno = e;
			return -1;
		}
		if (n == 0)
			break;
		off += n;
	}
	free(buf);
	return fsync(out);
}

/* <dir>/quarantine, created 0700 and reset to 0700 if someone widened it. */
static int open_store(struct responder *r, char *err, size_t errlen)
{
	if (!r->dir) {
		snprintf(err, errlen, "no state directory configured");
		return -1;
	}
	int d = open(r->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d < 0) {
		snprintf(err, errlen, "%s: %s", r->dir, strerror(errno));
		return -1;
	}
	if (mkdirat(d, "quarantine", 0700) && errno != EEXIST) {
		snprintf(err, errlen, "%s/quarantine: %s", r->dir, strerror(errno));
		close(d);
		return -1;
	}
	int q = openat(d, "quarantine", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	close(d);
	if (q < 0 || fchmod(q, 0700)) {
		snprintf(err, errlen, "%s/quarantine: %s", r->dir, strerror(errno));
		if (q >= 0)
			close(q);
		return -1;
	}
	return q;
}

/* A symlink on the way to a directory is followed only if no unprivileged
 * user can have planted or swapped it: owned by root (or vigild's user),
 * in a directory owned by one of them that nobody else may write. An
 * attacker who owns a directory on the path could otherwise turn it into
 * a link to /etc between the alert and the action. */
static bool trusted_link(int dirfd, int linkfd)
{
	struct stat ls, ds;
	uid_t me = geteuid();
	if (fstat(linkfd, &ls) || fstat(dirfd, &ds))
		return false;
	return (ls.st_uid == 0 || ls.st_uid == me) && (ds.st_uid == 0 || ds.st_uid == me) &&
	       !(ds.st_mode & (S_IWGRP | S_IWOTH));
}

#define MAX_LINKS 40

/* Opens the absolute directory path one component at a time (O_NOFOLLOW,
 * each relative to the last one's fd), so that what is opened is what was
 * checked: no realpath()-then-open() window. Fills real with the path
 * actually walked (trusted symlinks resolved). The fd, or -1 with err set
 * and *refused telling a refusal from a failure. */
static int open_dir_walk(const char *path, char *real, size_t rcap, bool *refused, char *err, size_t errlen)
{
	char rest[2 * PATH_MAX], canon[PATH_MAX] = "/";
	*refused = false;
	if (snprintf(rest, sizeof(rest), "%s", path) >= (int)sizeof(rest)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "/: %s", strerror(errno));
		return -1;
	}
	int links = 0;
	char *p = rest;
	for (;;) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		char *end = strchrnul(p, '/'), name[NAME_MAX + 1];
		size_t len = (size_t)(end - p);
		if (len > NAME_MAX) {
			snprintf(err, errlen, "%s: %s", path, strerror(ENAMETOOLONG));
			goto fail;
		}
		memcpy(name, p, len);
		name[len] = 0;
		p = end;
		if (!strcmp(name, "."))
			continue;
		if (!strcmp(name, "..")) {
			/* only reached through a trusted link's target: the path
			 * given is checked to have no ".." before the walk */
			int up = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (up < 0) {
				snprintf(err, errlen, "%s: %s", path, strerror(errno));
				goto fail;
			}
			close(fd);
			fd = up;
			char *s = strrchr(canon, '/');
			if (s == canon)
				canon[1] = 0;
			else
				*s = 0;
			continue;
		}
		int nfd = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (nfd >= 0) {
			size_t cl = strlen(canon);
			if (cl + 1 + len >= sizeof(canon)) {
				close(nfd);
				snprintf(err, errlen, "%s: path too long", path);
				goto fail;
			}
			snprintf(canon + cl, sizeof(canon) - cl, "%s%s", cl > 1 ? "/" : "", name);
			close(fd);
			fd = nfd;
			continue;
		}
		if (errno != ELOOP && errno != ENOTDIR) {
			snprintf(err, errlen, "%s%s%s: %s", canon, strcmp(canon, "/") ? "/" : "", name, strerror(errno));
			goto fail;
		}
		/* a symlink (or not a directory at all): look at the link itself,
		 * pinned by an O_PATH fd so what is checked is what is read */
		int lfd = openat(fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		struct stat ls;
		if (lfd < 0 || fstat(lfd, &ls) || !S_ISLNK(ls.st_mode)) {
			int e = lfd < 0 ? errno : ENOTDIR;
			if (lfd >= 0)
				close(lfd);
			snprintf(err, errlen, "%s%s%s: %s", canon, strcmp(canon, "/") ? "/" : "", name, strerror(e));
			goto fail;
		}
		if (!trusted_link(fd, lfd) || ++links > MAX_LINKS) {
			close(lfd);
			*refused = links <= MAX_LINKS;
			snprintf(err, errlen, "%s%s%s: %s", canon, strcmp(canon, "/") ? "/" : "", name,
				 links > MAX_LINKS ? strerror(ELOOP)
						   : "a symbolic link another user could have planted is on the path");
			goto fail;
		}
		char target[PATH_MAX], nrest[2 * PATH_MAX];
		ssize_t n = readlinkat(lfd, "", target, sizeof(target) - 1);
		close(lfd);
		if (n <= 0) {
			snprintf(err, errlen, "%s%s%s: %s", canon, strcmp(canon, "/") ? "/" : "", name,
				 strerror(n < 0 ? errno : ENOENT));
			goto fail;
		}
		target[n] = 0;
		if (snprintf(nrest, sizeof(nrest), "%s/%s", target, p) >= (int)sizeof(nrest)) {
			snprintf(err, errlen, "%s: path too long", path);
			goto fail;
		}
		memcpy(rest, nrest, strlen(nrest) + 1);
		p = rest;
		if (target[0] == '/') {
			int root = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (root < 0) {
				snprintf(err, errlen, "/: %s", strerror(errno));
				goto fail;
			}
			close(fd);
			fd = root;
			snprintf(canon, sizeof(canon), "/");
		}
	}
	if (strlen(canon) >= rcap) {
		snprintf(err, errlen, "%s: path too long", path);
		goto fail;
	}
	snprintf(real, rcap, "%s", canon);
	return fd;
fail:
	close(fd);
	return -1;
}

/* Splits an absolute path into its directory, opened by open_dir_walk (so
 * the recorded path is the real one) and its last component, left as it
 * is: the file itself must not be a symlink that we would follow. The
 * directory's fd, or -1 with err set. */
static int open_parent(const char *path, char *dir, size_t dcap, char *base, size_t bcap, bool *refused, char *err,
		       size_t errlen)
{
	*refused = false;
	if (path[0] != '/') {
		snprintf(err, errlen, "%s: the path must be absolute", path);
		return -1;
	}
	const char *slash = strrchr(path, '/');
	const char *b = slash + 1;
	if (!*b || !strcmp(b, ".") || !strcmp(b, "..") || strlen(b) >= bcap) {
		snprintf(err, errlen, "%s: not a file name", path);
		return -1;
	}
	/* ".." in a path an alert names could climb out of a directory its
	 * owner moves meanwhile (e.g. into /tmp): real paths never need it */
	for (const char *c = path; (c = strstr(c, "..")); c += 2)
		if (c[-1] == '/' && (c[2] == '/' || c[2] == 0)) {
			*refused = true;
			snprintf(err, errlen, "%s: the path must not contain \"..\"", path);
			return -1;
		}
	snprintf(base, bcap, "%s", b);
	char raw[PATH_MAX];
	size_t dl = (size_t)(slash - path);
	if (dl >= sizeof(raw)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	memcpy(raw, path, dl);
	raw[dl] = 0;
	if (!dl)
		snprintf(raw, sizeof(raw), "/");
	return open_dir_walk(raw, dir, dcap, refused, err, errlen);
}

static void join(char *out, size_t cap, const char *dir, const char *base)
{
	snprintf(out, cap, "%s%s%s", dir, strcmp(dir, "/") ? "/" : "", base);
}

/* Extended attributes as a JSON array of {"name","hex"}; ACLs, file
 * capabilities and SELinux labels live there. Best effort: a filesystem
 * without xattrs simply has none. */
static void put_xattrs(struct jw *w, int fd)
{
	jw_arr_open(w, "xattrs");
	char *names = malloc(XATTR_LIST_MAX_);
	unsigned char *val = malloc(XATTR_LIST_MAX_);
	ssize_t n = names && val ? flistxattr(fd, names, XATTR_LIST_MAX_) : -1;
	for (ssize_t off = 0; n > 0 && off < n; off += (ssize_t)strlen(names + off) + 1) {
		ssize_t vl = fgetxattr(fd, names + off, val, XATTR_LIST_MAX_);
		if (vl < 0)
			continue;
		char *hex = malloc((size_t)vl * 2 + 1);
		if (!hex)
			continue;
		for (ssize_t i = 0; i < vl; i++)
			snprintf(hex + 2 * i, 3, "%02x", val[i]);
		hex[vl * 2] = 0;
		jw_obj_open(w, NULL);
		jw_str(w, "name", names + off);
		jw_str(w, "hex", hex);
		jw_obj_close(w);
		free(hex);
	}
	free(names);
	free(val);
	jw_arr_close(w);
}

/* Writes meta.json into the entry directory, synced, via a temporary name. */
static int write_meta(int entry, const struct strbuf *sb)
{
	int fd = openat(entry, "meta.json.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -1;
	if (write_all(fd, sb->buf, sb->len) || fsync(fd)) {
		int e = errno;
		close(fd);
		unlinkat(entry, "meta.json.tmp", 0);
		errno = e;
		return -1;
	}
	close(fd);
	if (renameat(entry, "meta.json.tmp", entry, "meta.json")) {
		int e = errno;
		unlinkat(entry, "meta.json.tmp", 0);
		errno = e;
		return -1;
	}
	return fsync(entry);
}

/* The stored copy: owned by us, read-only, never executable. */
static int lock_down(int fd)
{
	struct stat st;
	if (fstat(fd, &st))
		return -1;
	if ((st.st_uid != geteuid() || st.st_gid != getegid()) && fchown(fd, geteuid(), getegid()))
		return -1;
	return fchmod(fd, 0400);
}

static void drop_entry(int qdir, const char *id)
{
	int e = openat(qdir, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (e >= 0) {
		unlinkat(e, "meta.json", 0);
		unlinkat(e, "meta.json.tmp", 0);
		unlinkat(e, "file", 0);
		close(e);
	}
	unlinkat(qdir, id, AT_REMOVEDIR);
}

static int do_quarantine(struct respond_req *q, const char *arg, char *err, size_t errlen)
{
	struct responder *r = q->r;
	char dir[PATH_MAX], base[NAME_MAX + 1], path[PATH_MAX + NAME_MAX + 2] = "";
	char result[600];
	int parent = -1, fd = -1, qdir = -1, entry = -1, rc = -1;
	bool made = false;
	char id[64] = "";
	const char *kind = "failed";
	struct strbuf meta, detail;
	sb_init(&meta);
	sb_init(&detail);

	bool refused;
	parent = open_parent(arg, dir, sizeof(dir), base, sizeof(base), &refused, err, errlen);
	if (parent < 0) {
		kind = refused ? "refused" : "failed";
		goto out;
	}
	join(path, sizeof(path), dir, base);
	struct stat st;
	if (fstatat(parent, base, &st, AT_SYMLINK_NOFOLLOW)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	kind = "refused";
	if (S_ISLNK(st.st_mode)) {
		char to[PATH_MAX];
		ssize_t n = readlinkat(parent, base, to, sizeof(to) - 1);
		to[n > 0 ? n : 0] = 0;
		snprintf(err, errlen, "%s is a symbolic link (to %s): quarantine the file it points to", path, to);
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s is a directory: quarantine takes one file", path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s is not a regular file (device, fifo or socket)", path);
		goto out;
	}
	if (respond_protected_exe(r, path)) {
		snprintf(err, errlen, "%s is on the protect list", path);
		goto out;
	}
	struct stat self;
	if (stat("/proc/self/exe", &self) == 0 && self.st_dev == st.st_dev && self.st_ino == st.st_ino) {
		snprintf(err, errlen, "%s is vigild's own executable", path);
		goto out;
	}
	size_t dl = strlen(r->dir ? r->dir : "");
	if (dl && !strncmp(path, r->dir, dl) && path[dl] == '/') {
		snprintf(err, errlen, "%s is in vigil's own state directory", path);
		goto out;
	}
	kind = "failed";

	/* O_NOATIME: reading it for the hash must not change what we record */
	int flags = O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC;
	fd = openat(parent, base, flags | O_NOATIME);
	if (fd < 0 && errno == EPERM)
		fd = openat(parent, base, flags);
	struct stat fst;
	if (fd < 0 || fstat(fd, &fst)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (fst.st_dev != st.st_dev || fst.st_ino != st.st_ino || !S_ISREG(fst.st_mode)) {
		snprintf(err, errlen, "%s changed while being quarantined", path);
		goto out;
	}
	if (fst.st_size > QUARANTINE_MAX) {
		kind = "refused";
		snprintf(err, errlen, "%s is too large to quarantine (%lld bytes, at most %lld)", path,
			 (long long)fst.st_size, (long long)QUARANTINE_MAX);
		goto out;
	}
	char sha[65];
	int hr = sha256_fd(fd, fst.st_size, sha);
	if (hr) {
		if (hr == -2)
			snprintf(err, errlen, "%s changed while being quarantined", path);
		else
			snprintf(err, errlen, "%s: reading: %s", path, strerror(errno));
		goto out;
	}

	if (q->dry_run) {
		struct jw w;
		jw_init(&w, &detail);
		jw_obj_open(&w, NULL);
		jw_str(&w, "sha256", sha);
		jw_int(&w, "size", fst.st_size);
		jw_obj_close(&w);
		respond_log(q, "quarantine", path, "dry-run", detail.buf);
		sb_printf(q->out, "dry run: would quarantine %s (sha256 %s, %lld bytes)\n", path, sha,
			  (long long)fst.st_size);
		rc = 0;
		goto out;
	}

	if ((qdir = open_store(r, err, errlen)) < 0)
		goto out;
	/* id: the hash's first 12 hex digits and the time, bumped while taken */
	uint64_t now = wall_ns();
	for (unsigned t = (unsigned)(now / 1000000000ULL), i = 0; i < 1000; i++, t++) {
		snprintf(id, sizeof(id), "%.12s-%08x", sha, t);
		if (mkdirat(qdir, id, 0700) == 0) {
			made = true;
			break;
		}
		if (errno != EEXIST)
			break;
	}
	if (!made || (entry = openat(qdir, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "%s/quarantine: cannot make an entry: %s", r->dir, strerror(errno));
		goto out;
	}

	struct jw w;
	jw_init(&w, &meta);
	jw_obj_open(&w, NULL);
	jw_str(&w, "id", id);
	jw_uint(&w, "ts_ns", now);
	jw_str(&w, "actor", q->actor ? q->actor : "");
	jw_str(&w, "path", path);
	jw_str(&w, "sha256", sha);
	jw_int(&w, "size", fst.st_size);
	jw_uint(&w, "uid", fst.st_uid);
	jw_uint(&w, "gid", fst.st_gid);
	jw_uint(&w, "mode", fst.st_mode & 07777);
	jw_uint(&w, "atime_ns", ts_ns(fst.st_atim));
	jw_uint(&w, "mtime_ns", ts_ns(fst.st_mtim));
	jw_uint(&w, "ctime_ns", ts_ns(fst.st_ctim));
	jw_uint(&w, "nlink", fst.st_nlink);
	jw_uint(&w, "dev", fst.st_dev);
	jw_uint(&w, "ino", fst.st_ino);
	put_xattrs(&w, fd);
	jw_obj_close(&w);
	if (meta.oom || write_meta(entry, &meta)) {
		snprintf(err, errlen, "%s/quarantine/%s/meta.json: %s", r->dir, id, meta.oom ? "out of memory" : strerror(errno));
		goto out;
	}

	const char *how = "rename";
	/* an inode with other names is copied: lock_down() below would make
	 * every other name of it root's and unreadable, not just this one */
	bool shared = fst.st_nlink > 1;
	if (!shared && renameat2(parent, base, entry, "file", RENAME_NOREPLACE) == 0) {
		struct stat moved;
		if (fstatat(entry, "file", &moved, AT_SYMLINK_NOFOLLOW) || moved.st_dev != st.st_dev ||
		    moved.st_ino != st.st_ino) {
			/* someone swapped the name between our open and the rename:
			 * put theirs back, or keep it in the entry if that fails */
			if (renameat2(entry, "file", parent, base, RENAME_NOREPLACE))
				made = false;
			snprintf(err, errlen, "%s changed while being quarantined", path);
			goto out;
		}
	} else if (shared || errno == EXDEV) {
		how = "copy";
		int out = openat(entry, "file", O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0400);
		if (out < 0 || copy_fd(fd, out, fst.st_size)) {
			snprintf(err, errlen, "copying %s into the store: %s", path, strerror(errno));
			if (out >= 0)
				close(out);
			goto out;
		}
		/* its owner may have rewritten it since it was hashed: the copy
		 * must be what the record says */
		char csha[65];
		int hr2 = sha256_fd(out, fst.st_size, csha);
		close(out);
		if (hr2 || strcmp(csha, sha)) {
			snprintf(err, errlen, "%s changed while being quarantined", path);
			goto out;
		}
		struct stat now_st;
		if (fstatat(parent, base, &now_st, AT_SYMLINK_NOFOLLOW) || now_st.st_dev != st.st_dev ||
		    now_st.st_ino != st.st_ino) {
			snprintf(err, errlen, "%s changed while being quarantined", path);
			goto out;
		}
		if (unlinkat(parent, base, 0)) {
			snprintf(err, errlen, "%s: cannot remove it: %s", path, strerror(errno));
			goto out;
		}
		close(fd);
		fd = openat(entry, "file", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			snprintf(err, errlen, "%s/quarantine/%s/file: %s", r->dir, id, strerror(errno));
			made = false; /* the original is gone: keep the entry whatever happens */
			goto out;
		}
	} else {
		snprintf(err, errlen, "%s: cannot move it: %s", path, strerror(errno));
		goto out;
	}
	made = false; /* from here on the entry holds the only copy */
	if (lock_down(fd)) {
		snprintf(err, errlen, "%s/quarantine/%s/file: cannot make it read-only: %s", r->dir, id,
			 strerror(errno));
		goto out;
	}
	fsync(entry);
	fsync(parent);
	__atomic_add_fetch(&r->st.quarantined, 1, __ATOMIC_RELAXED);

	jw_init(&w, &detail);
	jw_obj_open(&w, NULL);
	jw_str(&w, "id", id);
	jw_str(&w, "sha256", sha);
	jw_int(&w, "size", fst.st_size);
	jw_str(&w, "stored", how);
	if (fst.st_nlink > 1)
		jw_uint(&w, "nlink", fst.st_nlink);
	jw_obj_close(&w);
	respond_log(q, "quarantine", path, "ok", detail.oom ? NULL : detail.buf);
	sb_printf(q->out, "quarantined %s as %s (sha256 %s, %lld bytes)\n", path, id, sha, (long long)fst.st_size);
	if (fst.st_nlink > 1)
		sb_printf(q->out, "note: %llu other hard link%s to the same file remain%s\n",
			  (unsigned long long)fst.st_nlink - 1, fst.st_nlink > 2 ? "s" : "", fst.st_nlink > 2 ? "" : "s");
	rc = 0;
out:
	if (rc) {
		if (made)
			drop_entry(qdir, id);
		snprintf(result, sizeof(result), "%s: %s", kind, err);
		respond_log(q, "quarantine", *path ? path : arg, result, NULL);
	}
	if (entry >= 0)
		close(entry);
	if (qdir >= 0)
		close(qdir);
	if (fd >= 0)
		close(fd);
	if (parent >= 0)
		close(parent);
	sb_free(&meta);
	sb_free(&detail);
	return rc;
}

static bool valid_id(const char *id)
{
	size_t n = strlen(id);
	if (!n || n > 40 || id[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)id[i]) && id[i] != '-')
			return false;
	return true;
}

/* Reads and parses <entry>/meta.json; the caller frees *text and the doc. */
static const struct jnode *read_meta(int entry, struct jdoc *doc, char **text)
{
	*text = NULL;
	int fd = openat(entry, "meta.json", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	char *buf = malloc(META_MAX);
	ssize_t n = 0;
	while (buf && n < META_MAX) {
		ssize_t k = read(fd, buf + n, (size_t)(META_MAX - n));
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		n += k;
	}
	close(fd);
	if (!buf || n <= 0 || n >= META_MAX) {
		free(buf);
		errno = EINVAL;
		return NULL;
	}
	*text = buf;
	const struct jnode *root = jdoc_parse(doc, buf, (size_t)n);
	if (!root || root->type != JV_OBJ || !jstr(root, "path", NULL) || !jstr(root, "sha256", NULL)) {
		errno = EINVAL;
		return NULL;
	}
	return root;
}

static int unhex(const char *s, unsigned char *out, size_t cap, size_t *len)
{
	size_t n = strlen(s);
	if (n % 2 || n / 2 > cap)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;
		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (unsigned char)v;
	}
	*len = n / 2;
	return 0;
}

/* Owner, mode (set-id bits included: after chown, which clears them),
 * xattrs (after chown, which drops file capabilities), then timestamps
 * last because every other change may touch them. Returns how many
 * xattrs could not be set (a filesystem without them), -1 on error. */
static int apply_meta(int fd, const struct jnode *m)
{
	uid_t uid = (uid_t)jint(m, "uid", 0);
	gid_t gid = (gid_t)jint(m, "gid", 0);
	struct stat st;
	if (fstat(fd, &st))
		return -1;
	if ((st.st_uid != uid || st.st_gid != gid) && fchown(fd, uid, gid))
		return -1;
	if (fchmod(fd, (mode_t)jint(m, "mode", 0600) & 07777))
		return -1;
	int lost = 0;
	const struct jnode *xa = jget(m, "xattrs");
	unsigned char *val = malloc(XATTR_LIST_MAX_);
	for (size_t i = 0; xa && xa->type == JV_ARR && i < xa->n; i++) {
		const struct jnode *x = jat(xa, i);
		const char *name = jstr(x, "name", NULL), *hex = jstr(x, "hex", "");
		size_t len;
		if (!name || !val || unhex(hex, val, XATTR_LIST_MAX_, &len) || fsetxattr(fd, name, val, len, 0))
			lost++;
	}
	free(val);
	uint64_t a = (uint64_t)jint(m, "atime_ns", 0), mt = (uint64_t)jint(m, "mtime_ns", 0);
	struct timespec ts[2] = {
		{.tv_sec = (time_t)(a / 1000000000ULL), .tv_nsec = (long)(a % 1000000000ULL)},
		{.tv_sec = (time_t)(mt / 1000000000ULL), .tv_nsec = (long)(mt % 1000000000ULL)},
	};
	if (futimens(fd, ts))
		return -1;
	return lost;
}

static int do_restore(struct respond_req *q, const char *id, bool force, char *err, size_t errlen)
{
	struct responder *r = q->r;
	char *text = NULL, result[600];
	const char *kind = "failed", *path = NULL;
	int qdir = -1, entry = -1, parent = -1, sfd = -1, tfd = -1, rc = -1;
	char tmp[NAME_MAX + 1] = "";
	struct jdoc doc;
	jdoc_init(&doc);
	struct strbuf detail;
	sb_init(&detail);

	if (!valid_id(id)) {
		kind = "refused";
		snprintf(err, errlen, "bad quarantine id %s", id);
		goto out;
	}
	if ((qdir = open_store(r, err, errlen)) < 0)
		goto out;
	entry = openat(qdir, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (entry < 0) {
		snprintf(err, errlen, "no quarantined file with id %s", id);
		goto out;
	}
	const struct jnode *m = read_meta(entry, &doc, &text);
	if (!m) {
		snprintf(err, errlen, "%s: unreadable meta.json: %s", id, strerror(errno));
		goto out;
	}
	path = jstr(m, "path", "");
	char dir[PATH_MAX], base[NAME_MAX + 1];
	bool refused;
	parent = open_parent(path, dir, sizeof(dir), base, sizeof(base), &refused, err, errlen);
	if (parent < 0) {
		kind = refused ? "refused" : "failed";
		goto out;
	}
	/* the recorded directory was resolved at quarantine time: if it now
	 * resolves elsewhere, a symlink was planted on the way (parent is the
	 * directory walked, so nothing can change between check and use) */
	size_t pl = strlen(path), bl = strlen(base);
	char want[PATH_MAX];
	snprintf(want, sizeof(want), "%.*s", (int)(pl - bl - (pl - bl > 1 ? 1 : 0)), path);
	if (strcmp(want, dir)) {
		kind = "refused";
		snprintf(err, errlen, "%s now resolves to %s", want, dir);
		goto out;
	}
	struct stat st;
	if (fstatat(parent, base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		kind = "refused";
		if (S_ISDIR(st.st_mode)) {
			snprintf(err, errlen, "%s is now a directory", path);
			goto out;
		}
		if (!force) {
			snprintf(err, errlen, "%s exists (restore --force %s replaces it)", path, id);
			goto out;
		}
		kind = "failed";
	}
	sfd = openat(entry, "file", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	char sha[65] = "";
	off_t size = (off_t)jint(m, "size", 0);
	int hr = sfd < 0 ? -1 : size < 0 ? -2 : sha256_fd(sfd, size, sha);
	if (hr == -1) {
		snprintf(err, errlen, "%s: stored file: %s", id, strerror(errno));
		goto out;
	}
	if (hr == -2) {
		snprintf(err, errlen, "%s: stored file is damaged (not the %lld bytes recorded)", id, (long long)size);
		goto out;
	}
	if (strcmp(sha, jstr(m, "sha256", ""))) {
		snprintf(err, errlen, "%s: stored file is damaged (sha256 %s, recorded %s)", id, sha, jstr(m, "sha256", ""));
		goto out;
	}

	struct jw w;
	jw_init(&w, &detail);
	jw_obj_open(&w, NULL);
	jw_str(&w, "id", id);
	jw_str(&w, "sha256", sha);
	jw_int(&w, "size", jint(m, "size", 0));
	if (force)
		jw_bool(&w, "force", true);
	if (q->dry_run) {
		jw_obj_close(&w);
		respond_log(q, "restore", path, "dry-run", detail.buf);
		sb_printf(q->out, "dry run: would restore %s to %s\n", id, path);
		rc = 0;
		goto out;
	}

	unsigned flags = force ? 0 : RENAME_NOREPLACE;
	int lost = apply_meta(sfd, m);
	const char *how = "rename";
	if (lost >= 0 && renameat2(entry, "file", parent, base, flags) == 0) {
		/* moved back: same inode, attributes already restored */
	} else if (lost >= 0 && errno == EXDEV) {
		how = "copy";
		lock_down(sfd);
		snprintf(tmp, sizeof(tmp), ".vigil-restore-%s", id);
		tfd = openat(parent, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (tfd < 0 || copy_fd(sfd, tfd, size) || (lost = apply_meta(tfd, m)) < 0 ||
		    renameat2(parent, tmp, parent, base, flags)) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			if (errno == EEXIST)
				kind = "refused";
			goto out;
		}
		tmp[0] = 0;
		unlinkat(entry, "file", 0);
	} else {
		snprintf(err, errlen, "%s: %s", path, errno == EEXIST ? "something was created there meanwhile" : strerror(errno));
		lock_down(sfd);
		goto out;
	}
	fsync(parent);
	unlinkat(entry, "meta.json", 0);
	close(entry);
	entry = -1;
	unlinkat(qdir, id, AT_REMOVEDIR);
	fsync(qdir);
	if (__atomic_load_n(&r->st.quarantined, __ATOMIC_RELAXED))
		__atomic_sub_fetch(&r->st.quarantined, 1, __ATOMIC_RELAXED);

	jw_str(&w, "stored", how);
	if (lost)
		jw_int(&w, "xattrs_lost", lost);
	jw_obj_close(&w);
	respond_log(q, "restore", path, "ok", detail.oom ? NULL : detail.buf);
	sb_printf(q->out, "restored %s to %s\n", id, path);
	if (lost)
		sb_printf(q->out, "note: %d extended attribute%s could not be set back\n", lost, lost == 1 ? "" : "s");
	rc = 0;
out:
	if (rc) {
		snprintf(result, sizeof(result), "%s: %s", kind, err);
		respond_log(q, "restore", path && *path ? path : id, result, NULL);
	}
	if (tmp[0])
		unlinkat(parent, tmp, 0);
	if (tfd >= 0)
		close(tfd);
	if (sfd >= 0)
		close(sfd);
	if (parent >= 0)
		close(parent);
	if (entry >= 0)
		close(entry);
	if (qdir >= 0)
		close(qdir);
	jdoc_free(&doc);
	free(text);
	sb_free(&detail);
	return rc;
}

struct qentry {
	uint64_t ts;
	char id[64], sha[65], *path;
	int64_t size;
};

static int by_time(const void *a, const void *b)
{
	const struct qentry *x = a, *y = b;
	return x->ts < y->ts ? -1 : x->ts > y->ts ? 1 : strcmp(x->id, y->id);
}

static int do_list(struct respond_req *q, bool json, char *err, size_t errlen)
{
	int qdir = open_store(q->r, err, errlen);
	if (qdir < 0)
		return -1;
	DIR *d = fdopendir(qdir);
	if (!d) {
		snprintf(err, errlen, "%s/quarantine: %s", q->r->dir, strerror(errno));
		close(qdir);
		return -1;
	}
	struct qentry *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	struct jdoc doc;
	jdoc_init(&doc);
	while ((de = readdir(d))) {
		if (!valid_id(de->d_name))
			continue;
		int e = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (e < 0)
			continue;
		char *text;
		const struct jnode *m = read_meta(e, &doc, &text);
		close(e);
		if (m && n == cap) {
			cap = cap ? cap * 2 : 16;
			struct qentry *nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				free(text);
				break;
			}
			v = nv;
		}
		if (m) {
			struct qentry *x = &v[n++];
			x->ts = (uint64_t)jint(m, "ts_ns", 0);
			snprintf(x->id, sizeof(x->id), "%.40s", de->d_name);
			snprintf(x->sha, sizeof(x->sha), "%s", jstr(m, "sha256", ""));
			x->path = strdup(jstr(m, "path", ""));
			x->size = jint(m, "size", 0);
		}
		free(text);
	}
	jdoc_free(&doc);
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), by_time);
	if (!n && !json)
		sb_puts(q->out, "no quarantined files\n");
	for (size_t i = 0; i < n; i++) {
		char t[64];
		vg_format_rfc3339(v[i].ts, t, sizeof(t));
		if (json) {
			struct jw w;
			jw_init(&w, q->out);
			jw_obj_open(&w, NULL);
			jw_str(&w, "id", v[i].id);
			jw_str(&w, "time", t);
			jw_str(&w, "path", v[i].path ? v[i].path : "");
			jw_str(&w, "sha256", v[i].sha);
			jw_int(&w, "size", v[i].size);
			jw_obj_close(&w);
			sb_putc(q->out, '\n');
		} else {
			/* seconds are enough to read; the id is what restore takes */
			if (strlen(t) > 19)
				snprintf(t + 19, sizeof(t) - 19, "Z");
			sb_printf(q->out, "%s  %s  %10" PRId64 "  %s  %s\n", v[i].id, t, v[i].size, v[i].sha,
				  v[i].path ? v[i].path : "?");
		}
		free(v[i].path);
	}
	free(v);
	return 0;
}

int quarantine_command(struct respond_req *q, int argc, char **argv, char *err, size_t errlen)
{
	const char *verb = argv[0], *arg = NULL;
	bool force = false, json = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--dry-run"))
			q->dry_run = true;
		else if (!strcmp(argv[i], "--force") && !strcmp(verb, "restore"))
			force = true;
		else if (!strcmp(argv[i], "--json") && !strcmp(verb, "quarantined"))
			json = true;
		else if (!strcmp(argv[i], "--") && i + 1 < argc && !arg)
			arg = argv[++i];
		else if (argv[i][0] == '-' || arg)
			goto usage;
		else
			arg = argv[i];
	}
	if (!strcmp(verb, "quarantine") && arg)
		return do_quarantine(q, arg, err, errlen);
	if (!strcmp(verb, "restore") && arg)
		return do_restore(q, arg, force, err, errlen);
	if (!strcmp(verb, "quarantined") && !arg)
		return do_list(q, json, err, errlen);
usage:
	snprintf(err, errlen, "usage: quarantine [--dry-run] PATH | restore [--force] [--dry-run] ID | quarantined [--json]");
	return -1;
}
