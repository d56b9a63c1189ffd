#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include "config.h"
#include "../sensor/sensor.h"

const char *const config_default_sensitive[] = {
	"/etc/shadow", "/etc/gshadow", "/etc/shadow-", "/etc/gshadow-", "/etc/sudoers",
	"/etc/sudoers.d/*", "/root/.ssh/*", "/home/*/.ssh/*", "/etc/ssh/ssh_host_*_key", NULL,
};

static const char *const default_watch[] = {
	"/etc/", "/bin/", "/sbin/", "/usr/bin/", "/usr/sbin/", "/usr/local/bin/", "/usr/local/sbin/",
	"/lib/", "/lib64/", "/usr/lib/", "/boot/", "/root/.ssh/", "/var/spool/cron/", "/var/log/",
	"/dev/shm/", NULL,
};

/* Writes to these are reported in any directory: the persistence that
 * lives in every user's home, where no prefix reaches, and "mem": another
 * process's memory through /proc/PID/mem, or /dev/mem. */
static const char *const default_watch_name[] = {
	"authorized_keys", "authorized_keys2", ".bashrc", ".bash_profile", ".bash_login", ".bash_logout",
	".profile", ".zshrc", ".zprofile", ".zshenv", ".zlogin", ".zlogout", ".cshrc", ".tcshrc", ".login",
	".rhosts", ".shosts", ".xinitrc", ".xsession", ".xprofile", "mem", NULL,
};

bool config_watch_name_ok(const char *name)
{
	size_t n = strlen(name);
	return n && n < VG_WATCH_NAME_MAX && !strchr(name, '/') && strcmp(name, ".") && strcmp(name, "..");
}

void config_defaults(struct vigil_config *c)
{
	memset(c, 0, sizeof(*c));
	c->ringbuf_mb = 8;
	c->argv_max = 16384;
	c->env_max = 4096;
	c->queue_max = 262144;
	c->queue_max_mb = 64;
	c->metrics_interval = 10;
	c->hash_max_mb = 256;
	c->module_fallback = true;
	c->batch_scheduling = true;
	c->store_flush_ms = 1000;
	c->store_segment_mb = 64;
	c->store_retention_mb = 1024;
	c->store_retention_days = 0;
	c->response_mode = 1; /* dry-run: record what rules would do */
	c->response_max_per_min = 30;
	c->block_fanotify = true;
}

static void list_free(struct cfg_list *l)
{
	for (int i = 0; i < l->n; i++)
		free(l->v[i]);
	l->n = 0;
}

void config_free(struct vigil_config *c)
{
	free(c->events_out);
	c->events_out = NULL;
	free(c->store_dir);
	c->store_dir = NULL;
	list_free(&c->ignore_exe);
	list_free(&c->ignore_cgroup);
	list_free(&c->ignore_path);
	list_free(&c->watch_path);
	list_free(&c->watch_name);
	list_free(&c->sensitive);
	free(c->response_dir);
	c->response_dir = NULL;
	free(c->bpf_pin_dir);
	c->bpf_pin_dir = NULL;
	list_free(&c->response_protect);
	list_free(&c->isolate_allow);
}

static int parse_uint(const char *v, unsigned long long lo, unsigned long long hi, unsigned long long *out)
{
	char *end;
	if (!isdigit((unsigned char)v[0]))
		return -1;
	errno = 0;
	unsigned long long x = strtoull(v, &end, 10);
	if (errno || *end || x < lo || x > hi)
		return -1;
	*out = x;
	return 0;
}

static int parse_bool(const char *v, bool *out)
{
	if (!strcmp(v, "on") || !strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "1"))
		*out = true;
	else if (!strcmp(v, "off") || !strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "0"))
		*out = false;
	else
		return -1;
	return 0;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

static int list_add(struct cfg_list *l, const char *v)
{
	if (l->n >= CFG_LIST_MAX)
		return -1;
	l->v[l->n] = strdup(v);
	if (!l->v[l->n])
		return -1;
	l->n++;
	return 0;
}

bool config_valid_cidr(const char *v)
{
	char addr[64];
	const char *slash = strchr(v, '/');
	size_t alen = slash ? (size_t)(slash - v) : strlen(v);
	if (alen == 0 || alen >= sizeof(addr))
		return false;
	memcpy(addr, v, alen);
	addr[alen] = 0;
	unsigned char buf[16];
	int family = strchr(addr, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(family, addr, buf) != 1)
		return false;
	if (!slash)
		return true;
	unsigned long long bits;
	return parse_uint(slash + 1, 0, family == AF_INET ? 32 : 128, &bits) == 0;
}

#define FAIL(...)                                                                                  \
	do {                                                                                       \
		snprintf(err, errlen, __VA_ARGS__);                                                \
		goto fail;                                                                         \
	} while (0)

int config_parse(struct vigil_config *out, const char *text, const char *name, char *err, size_t errlen)
{
	struct vigil_config c;
	config_defaults(&c);
	char *copy = strdup(text);
	if (!copy) {
		snprintf(err, errlen, "%s: out of memory", name);
		return -1;
	}
	int lineno = 0;
	char *save = NULL;
	bool watch_set = false, watch_name_set = false;
	/* strtok_r would skip empty lines and lose line numbers: split by hand */
	for (char *line = copy; line; line = save) {
		save = strchr(line, '\n');
		if (save)
			*save++ = 0;
		lineno++;
		char *hash = strchr(line, '#');
		if (hash)
			*hash = 0;
		char *l = trim(line);
		if (!*l)
			continue;
		char *eq = strchr(l, '=');
		if (!eq)
			FAIL("%s:%d: expected `key = value`, got '%s'", name, lineno, l);
		*eq = 0;
		char *key = trim(l), *val = trim(eq + 1);
		unsigned long long n;
		if (!strcmp(key, "events_out")) {
			free(c.events_out);
			c.events_out = strdup(val);
		} else if (!strcmp(key, "ringbuf_mb")) {
			if (parse_uint(val, 1, 1024, &n) || (n & (n - 1)))
				FAIL("%s:%d: ringbuf_mb: expected a power of two from 1 to 1024, got '%s'", name, lineno, val);
			c.ringbuf_mb = (unsigned)n;
		} else if (!strcmp(key, "argv_max")) {
			if (parse_uint(val, 256, 24576, &n))
				FAIL("%s:%d: argv_max: expected bytes from 256 to 24576, got '%s'", name, lineno, val);
			c.argv_max = (unsigned)n;
		} else if (!strcmp(key, "env_max")) {
			if (parse_uint(val, 0, 8192, &n))
				FAIL("%s:%d: env_max: expected bytes from 0 to 8192, got '%s'", name, lineno, val);
			c.env_max = (unsigned)n;
		} else if (!strcmp(key, "queue_max")) {
			if (parse_uint(val, 1024, 16777216, &n))
				FAIL("%s:%d: queue_max: expected events from 1024 to 16777216, got '%s'", name, lineno, val);
			c.queue_max = (unsigned)n;
		} else if (!strcmp(key, "queue_max_mb")) {
			if (parse_uint(val, 1, 4096, &n))
				FAIL("%s:%d: queue_max_mb: expected MiB from 1 to 4096, got '%s'", name, lineno, val);
			c.queue_max_mb = (unsigned)n;
		} else if (!strcmp(key, "metrics_interval")) {
			if (parse_uint(val, 0, 3600, &n))
				FAIL("%s:%d: metrics_interval: expected seconds from 0 (off) to 3600, got '%s'", name, lineno, val);
			c.metrics_interval = (unsigned)n;
		} else if (!strcmp(key, "hash_max_mb")) {
			if (parse_uint(val, 0, 4096, &n))
				FAIL("%s:%d: hash_max_mb: expected MiB from 0 (no hashing) to 4096, got '%s'", name, lineno, val);
			c.hash_max_mb = (unsigned)n;
		} else if (!strcmp(key, "store_dir")) {
			if (*val && val[0] != '/')
				FAIL("%s:%d: store_dir: expected an absolute path (empty = no store), got '%s'", name, lineno, val);
			free(c.store_dir);
			c.store_dir = strdup(val);
		} else if (!strcmp(key, "store_flush_ms")) {
			if (parse_uint(val, 10, 60000, &n))
				FAIL("%s:%d: store_flush_ms: expected milliseconds from 10 to 60000, got '%s'", name, lineno, val);
			c.store_flush_ms = (unsigned)n;
		} else if (!strcmp(key, "store_segment_mb")) {
			if (parse_uint(val, 1, 4096, &n))
				FAIL("%s:%d: store_segment_mb: expected MiB from 1 to 4096, got '%s'", name, lineno, val);
			c.store_segment_mb = (unsigned)n;
		} else if (!strcmp(key, "store_retention_mb")) {
			if (parse_uint(val, 1, 16777216, &n))
				FAIL("%s:%d: store_retention_mb: expected MiB from 1 to 16777216, got '%s'", name, lineno, val);
			c.store_retention_mb = (unsigned)n;
		} else if (!strcmp(key, "store_retention_days")) {
			if (parse_uint(val, 0, 36500, &n))
				FAIL("%s:%d: store_retention_days: expected days from 0 (no age limit) to 36500, got '%s'", name, lineno, val);
			c.store_retention_days = (unsigned)n;
		} else if (!strcmp(key, "response_mode")) {
			if (!strcmp(val, "off"))
				c.response_mode = 0;
			else if (!strcmp(val, "dry-run") || !strcmp(val, "dry_run"))
				c.response_mode = 1;
			else if (!strcmp(val, "on"))
				c.response_mode = 2;
			else
				FAIL("%s:%d: response_mode: expected off, dry-run or on, got '%s'", name, lineno, val);
		} else if (!strcmp(key, "response_max_per_min")) {
			if (parse_uint(val, 0, 100000, &n))
				FAIL("%s:%d: response_max_per_min: expected actions per minute from 0 to 100000, got '%s'", name, lineno, val);
			c.response_max_per_min = (unsigned)n;
		} else if (!strcmp(key, "response_dir") || !strcmp(key, "bpf_pin_dir")) {
			if (val[0] != '/')
				FAIL("%s:%d: %s: expected an absolute path, got '%s'", name, lineno, key, val);
			char **dst = key[0] == 'r' ? &c.response_dir : &c.bpf_pin_dir;
			free(*dst);
			*dst = strdup(val);
		} else if (!strcmp(key, "block_fanotify")) {
			if (parse_bool(val, &c.block_fanotify))
				FAIL("%s:%d: block_fanotify: expected on or off, got '%s'", name, lineno, val);
		} else if (!strcmp(key, "response_protect")) {
			if (val[0] != '/')
				FAIL("%s:%d: response_protect: expected an absolute path or glob, got '%s'", name, lineno, val);
			if (list_add(&c.response_protect, val))
				FAIL("%s:%d: %s: more than %d entries", name, lineno, key, CFG_LIST_MAX);
		} else if (!strcmp(key, "isolate_allow")) {
			if (!config_valid_cidr(val))
				FAIL("%s:%d: isolate_allow: expected an IPv4 or IPv6 address or CIDR, got '%s'", name, lineno, val);
			if (list_add(&c.isolate_allow, val))
				FAIL("%s:%d: %s: more than %d entries", name, lineno, key, CFG_LIST_MAX);
		} else if (!strcmp(key, "module_fallback")) {
			if (parse_bool(val, &c.module_fallback))
				FAIL("%s:%d: module_fallback: expected on or off, got '%s'", name, lineno, val);
		} else if (!strcmp(key, "batch_scheduling")) {
			if (parse_bool(val, &c.batch_scheduling))
				FAIL("%s:%d: batch_scheduling: expected on or off, got '%s'", name, lineno, val);
		} else if (!strncmp(key, "hook.", 5) || !strncmp(key, "rate.", 5)) {
			int h = sensor_hook_by_name(key + 5);
			if (h < 0)
				FAIL("%s:%d: %s: unknown hook '%s' (see `vigil status` for names)", name, lineno, key, key + 5);
			if (key[0] == 'h') {
				bool on;
				if (parse_bool(val, &on))
					FAIL("%s:%d: %s: expected on or off, got '%s'", name, lineno, key, val);
				c.hook_off[h] = !on;
			} else {
				if (parse_uint(val, 0, 100000000, &n))
					FAIL("%s:%d: %s: expected events per second (0 = no cap), got '%s'", name, lineno, key, val);
				c.rate[h] = n;
			}
		} else if (!strcmp(key, "watch_name")) {
			if (!config_watch_name_ok(val))
				FAIL("%s:%d: watch_name: expected a file name (no '/') of 1 to %d bytes, got '%s'", name,
				     lineno, VG_WATCH_NAME_MAX - 1, val);
			watch_name_set = true;
			if (list_add(&c.watch_name, val))
				FAIL("%s:%d: %s: more than %d entries", name, lineno, key, CFG_LIST_MAX);
		} else if (!strcmp(key, "ignore_exe") || !strcmp(key, "ignore_cgroup") ||
			   !strcmp(key, "ignore_path") || !strcmp(key, "watch_path") || !strcmp(key, "sensitive")) {
			struct cfg_list *lst = key[0] == 's' ? &c.sensitive : key[0] == 'w' ? &c.watch_path
					   : key[7] == 'e' ? &c.ignore_exe : key[7] == 'c' ? &c.ignore_cgroup
					   : &c.ignore_path;
			if (val[0] != '/')
				FAIL("%s:%d: %s: expected an absolute path, got '%s'", name, lineno, key, val);
			if ((lst == &c.ignore_path || lst == &c.watch_path) && strlen(val) > VG_PREFIX_MAX)
				FAIL("%s:%d: %s: prefix longer than %d bytes", name, lineno, key, VG_PREFIX_MAX);
			if (lst == &c.watch_path)
				watch_set = true;
			if (list_add(lst, val))
				FAIL("%s:%d: %s: more than %d entries", name, lineno, key, CFG_LIST_MAX);
		} else {
			FAIL("%s:%d: unknown key '%s'", name, lineno, key);
		}
	}
	if (!c.sensitive.n)
		for (int i = 0; config_default_sensitive[i]; i++)
			list_add(&c.sensitive, config_default_sensitive[i]);
	if (!watch_set)
		for (int i = 0; default_watch[i]; i++)
			list_add(&c.watch_path, default_watch[i]);
	if (!watch_name_set)
		for (int i = 0; default_watch_name[i]; i++)
			list_add(&c.watch_name, default_watch_name[i]);
	free(copy);
	config_free(out);
	*out = c;
	return 0;
fail:
	free(copy);
	config_free(&c);
	return -1;
}

int config_load(struct vigil_config *c, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT)
			return config_parse(c, "", path, err, errlen);
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	char *text = NULL;
	size_t cap = 0;
	ssize_t n = getdelim(&text, &cap, 0, f);
	if (n < 0 && ferror(f)) {
		/* a read error (EISDIR, EIO) is not an empty file */
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		fclose(f);
		free(text);
		return -1;
	}
	fclose(f);
	int r = config_parse(c, n > 0 ? text : "", path, err, errlen);
	free(text);
	return r;
}
