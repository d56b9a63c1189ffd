#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "blocklist.h"
#include "../util/strbuf.h"

int block_parse_sha256(const char *hex, uint8_t out[32], char *why, size_t cap)
{
	size_t n = strlen(hex);
	if (n != 64) {
		snprintf(why, cap, "a sha256 is 64 hex digits, got %zu characters", n);
		return -1;
	}
	for (int i = 0; i < 32; i++) {
		int hi = hex_digit((unsigned char)hex[2 * i]), lo = hex_digit((unsigned char)hex[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			snprintf(why, cap, "a sha256 is 64 hex digits: '%c' at %d is not one",
				 hi < 0 ? hex[2 * i] : hex[2 * i + 1], hi < 0 ? 2 * i + 1 : 2 * i + 2);
			return -1;
		}
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

void block_hex(const uint8_t sha[32], char out[65])
{
	static const char d[] = "0123456789abcdef";
	for (int i = 0; i < 32; i++) {
		out[2 * i] = d[sha[i] >> 4];
		out[2 * i + 1] = d[sha[i] & 15];
	}
	out[64] = 0;
}

int block_check_path(const char *p, char *why, size_t cap)
{
	size_t n = strlen(p);
	if (p[0] != '/') {
		snprintf(why, cap, "the path must be absolute: '%s'", p);
		return -1;
	}
	if (n >= PATH_MAX) {
		snprintf(why, cap, "the path is longer than %d bytes", PATH_MAX - 1);
		return -1;
	}
	if (n == 1) {
		snprintf(why, cap, "'/' is a directory, not an executable");
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f) {
			snprintf(why, cap, "the path has a control character at %zu", i + 1);
			return -1;
		}
	/* the kernel reports the resolved path: a non-normal form would never match */
	if (p[n - 1] == '/' || strstr(p, "//") || strstr(p, "/./") || strstr(p, "/../") ||
	    (n >= 2 && !strcmp(p + n - 2, "/.")) || (n >= 3 && !strcmp(p + n - 3, "/.."))) {
		snprintf(why, cap, "the path is not in normal form (no //, /./, /../ or trailing /): '%s'", p);
		return -1;
	}
	return 0;
}

void blocklist_init(struct blocklist *l)
{
	memset(l, 0, sizeof(*l));
}

void block_entry_free(struct block_entry *e)
{
	if (e) {
		free(e->value);
		free(e);
	}
}

void blocklist_free(struct blocklist *l)
{
	struct block_entry *e = l->head;
	while (e) {
		struct block_entry *next = e->next;
		block_entry_free(e);
		e = next;
	}
	blocklist_init(l);
}

struct block_entry *blocklist_find(const struct blocklist *l, int kind, const char *value)
{
	uint8_t sha[32];
	char why[8];
	if (kind == BLOCK_HASH && block_parse_sha256(value, sha, why, sizeof(why)))
		return NULL;
	for (struct block_entry *e = l->head; e; e = e->next) {
		if (e->kind != kind)
			continue;
		if (kind == BLOCK_HASH ? !memcmp(e->sha, sha, 32) : !strcmp(e->value, value))
			return e;
	}
	return NULL;
}

struct block_entry *blocklist_add(struct blocklist *l, int kind, const char *value, int64_t added, char *why,
				  size_t cap)
{
	uint8_t sha[32];
	if (kind == BLOCK_HASH ? block_parse_sha256(value, sha, why, cap) : block_check_path(value, why, cap))
		return NULL;
	if (blocklist_find(l, kind, value)) {
		snprintf(why, cap, "already blocked");
		return NULL;
	}
	struct block_entry *e = calloc(1, sizeof(*e));
	char hex[65];
	if (kind == BLOCK_HASH)
		block_hex(sha, hex);
	if (e)
		e->value = strdup(kind == BLOCK_HASH ? hex : value);
	if (!e || !e->value) {
		free(e);
		snprintf(why, cap, "out of memory");
		return NULL;
	}
	e->kind = kind;
	if (kind == BLOCK_HASH)
		memcpy(e->sha, sha, 32);
	e->added = added;
	blocklist_link(l, e);
	return e;
}

void blocklist_link(struct blocklist *l, struct block_entry *e)
{
	e->next = NULL;
	if (l->tail)
		l->tail->next = e;
	else
		l->head = e;
	l->tail = e;
	l->n++;
	if (e->kind == BLOCK_HASH)
		l->nhash++;
	else
		l->npath++;
}

void blocklist_unlink(struct blocklist *l, struct block_entry *e)
{
	struct block_entry *prev = NULL;
	for (struct block_entry *c = l->head; c; prev = c, c = c->next) {
		if (c != e)
			continue;
		if (prev)
			prev->next = c->next;
		else
			l->head = c->next;
		if (l->tail == c)
			l->tail = prev;
		c->next = NULL;
		l->n--;
		if (c->kind == BLOCK_HASH)
			l->nhash--;
		else
			l->npath--;
		return;
	}
}

/* The file: a comment header, then one entry a line:
 *   hash ADDED DENIED SHA256
 *   path ADDED DENIED /abs/path   (the rest of the line; paths have no newline) */
int blocklist_load(struct blocklist *l, const char *path, char *err, size_t errlen)
{
	blocklist_init(l);
	FILE *f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int lineno = 0, rc = 0;
	while ((len = getline(&line, &cap, f)) >= 0) {
		lineno++;
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = 0;
		if (len == 0 || line[0] == '#')
			continue;
		char kind[8], why[160];
		long long added;
		unsigned long long denied;
		int off = 0;
		if (sscanf(line, "%7s %lld %llu %n", kind, &added, &denied, &off) != 3 || off == 0 || !line[off]) {
			snprintf(err, errlen, "%s:%d: expected 'hash|path ADDED DENIED VALUE'", path, lineno);
			rc = -1;
			break;
		}
		int k = !strcmp(kind, "hash") ? BLOCK_HASH : !strcmp(kind, "path") ? BLOCK_PATH : -1;
		if (k < 0) {
			snprintf(err, errlen, "%s:%d: unknown kind '%s' (hash or path)", path, lineno, kind);
			rc = -1;
			break;
		}
		struct block_entry *e = blocklist_add(l, k, line + off, added, why, sizeof(why));
		if (!e) {
			snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
			rc = -1;
			break;
		}
		e->denied = denied;
	}
	if (rc == 0 && ferror(f)) {
		snprintf(err, errlen, "%s: read error", path);
		rc = -1;
	}
	free(line);
	fclose(f);
	if (rc)
		blocklist_free(l);
	return rc;
}

int blocklist_save(const struct blocklist *l, const char *path, char *err, size_t errlen)
{
	struct strbuf sb;
	sb_init(&sb);
	sb_puts(&sb, "# vigil blocks: kind added-unix-time denied-execs value (written by vigild)\n");
	for (const struct block_entry *e = l->head; e; e = e->next)
		sb_printf(&sb, "%s %" PRId64 " %" PRIu64 " %s\n", e->kind == BLOCK_HASH ? "hash" : "path", e->added,
			  __atomic_load_n(&e->denied, __ATOMIC_RELAXED), e->value);
	if (sb.oom) {
		sb_free(&sb);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	char tmp[PATH_MAX];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		sb_free(&sb);
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	int rc = -1;
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	fchmod(fd, 0600); /* an old tmp file may have had other bits */
	size_t off = 0;
	while (off < sb.len) {
		ssize_t n = write(fd, sb.buf + off, sb.len - off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
			goto out;
		}
		off += (size_t)n;
	}
	if (fsync(fd)) {
		snprintf(err, errlen, "%s: fsync: %s", tmp, strerror(errno));
		goto out;
	}
	if (close(fd)) {
		fd = -1;
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, path)) {
		snprintf(err, errlen, "rename %s: %s", tmp, strerror(errno));
		goto out;
	}
	/* the rename itself must survive a crash */
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash) {
		if (slash == dir)
			slash[1] = 0;
		else
			*slash = 0;
		int dfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
	}
	rc = 0;
out:
	if (fd >= 0) {
		close(fd);
		unlink(tmp);
	} else if (rc) {
		unlink(tmp);
	}
	sb_free(&sb);
	return rc;
}

static uint64_t sha_key(const uint8_t sha[32])
{
	/* a sha256 is already uniform: its first bytes are a good hash */
	uint64_t k;
	memcpy(&k, sha, sizeof(k));
	return k;
}

int hashset_build(struct hashset *s, const struct blocklist *l)
{
	memset(s, 0, sizeof(*s));
	size_t size = 16;
	while (size < l->nhash * 2 + 2)
		size <<= 1;
	s->slots = calloc(size, sizeof(*s->slots));
	if (!s->slots)
		return -1;
	s->mask = size - 1;
	for (struct block_entry *e = l->head; e; e = e->next) {
		if (e->kind != BLOCK_HASH)
			continue;
		size_t i = sha_key(e->sha) & s->mask;
		while (s->slots[i])
			i = (i + 1) & s->mask;
		s->slots[i] = e;
		s->count++;
	}
	return 0;
}

struct block_entry *hashset_find(const struct hashset *s, const uint8_t sha[32])
{
	if (!s->slots || !s->count)
		return NULL;
	for (size_t i = sha_key(sha) & s->mask;; i = (i + 1) & s->mask) {
		struct block_entry *e = s->slots[i];
		if (!e)
			return NULL;
		if (!memcmp(e->sha, sha, 32))
			return e;
	}
}

void hashset_free(struct hashset *s)
{
	free(s->slots);
	memset(s, 0, sizeof(*s));
}

/* "\040" -> ' ' as the kernel escapes space, tab, newline and backslash */
static void unescape(const char *in, size_t n, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < n && o + 1 < cap; i++) {
		if (in[i] == '\\' && i + 3 < n && in[i + 1] >= '0' && in[i + 1] <= '3' &&
		    in[i + 2] >= '0' && in[i + 2] <= '7' && in[i + 3] >= '0' && in[i + 3] <= '7') {
			out[o++] = (char)((in[i + 1] - '0') << 6 | (in[i + 2] - '0') << 3 | (in[i + 3] - '0'));
			i += 3;
		} else {
			out[o++] = in[i];
		}
	}
	out[o] = 0;
}

/* 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue */
int mountinfo_parse(const char *line, unsigned *major, unsigned *minor, char *mnt, size_t mntcap, char *fstype,
		    size_t typecap)
{
	const char *f[5];
	size_t flen[5];
	const char *p = line;
	for (int i = 0; i < 5; i++) {
		while (*p == ' ')
			p++;
		if (!*p || *p == '\n')
			return -1;
		f[i] = p;
		while (*p && *p != ' ' && *p != '\n')
			p++;
		flen[i] = (size_t)(p - f[i]);
	}
	char devs[32];
	if (flen[2] >= sizeof(devs))
		return -1;
	memcpy(devs, f[2], flen[2]);
	devs[flen[2]] = 0;
	if (sscanf(devs, "%u:%u", major, minor) != 2)
		return -1;
	const char *sep = strstr(p, " - ");
	if (!sep)
		return -1;
	sep += 3;
	const char *t = sep;
	while (*sep && *sep != ' ' && *sep != '\n')
		sep++;
	if (sep == t || (size_t)(sep - t) >= typecap || mntcap < 2)
		return -1;
	memcpy(fstype, t, (size_t)(sep - t));
	fstype[sep - t] = 0;
	unescape(f[4], flen[4], mnt, mntcap);
	return mnt[0] == '/' ? 0 : -1;
}

bool block_fs_skipped(const char *t)
{
	static const char *const skip[] = {"proc",	"sysfs",     "cgroup",	  "cgroup2",   "bpf",
					   "tracefs",	"debugfs",   "securityfs", "devpts",	"mqueue",
					   "pstore",	"configfs",  "fusectl",	  "autofs",    "binfmt_misc",
					   "hugetlbfs", "nsfs",	     "efivarfs",  "selinuxfs", "rpc_pipefs"};
	for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
		if (!strcmp(t, skip[i]))
			return true;
	/* judging a file on fuse reads it through a user-space server, which
	 * may itself be waiting on an exec we hold; on a network file system
	 * through a server that may hang: every exec of the host would wait
	 * behind that read. Execs from these are left to the kill-after-hash
	 * net (responder_on_exec). */
	static const char *const remote[] = {"nfs", "nfs4", "cifs", "smb3", "9p", "ceph", "glusterfs", "afs", "lustre"};
	for (size_t i = 0; i < sizeof(remote) / sizeof(remote[0]); i++)
		if (!strcmp(t, remote[i]))
			return true;
	return !strcmp(t, "fuse") || !strncmp(t, "fuse.", 5) || !strcmp(t, "fuseblk");
}
