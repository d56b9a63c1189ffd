#define _GNU_SOURCE
/* In-kernel filters from the configuration and from `vigil filter`. */
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "daemon.h"

static int inode_of(const char *path, struct sensor_inode *out)
{
	struct stat st;
	if (stat(path, &st))
		return -errno;
	out->ino = st.st_ino;
	out->dev = sensor_kdev(st.st_dev);
	return 0;
}

/* The cgroup v2 mount point, where a cgroup's inode number is its id. */
static const char *cgroup2_root(void)
{
	static char root[256];
	if (root[0])
		return root;
	FILE *f = fopen("/proc/self/mounts", "re");
	if (f) {
		char dev[64], dir[256], type[64];
		while (fscanf(f, "%63s %255s %63s %*s %*d %*d", dev, dir, type) == 3)
			if (strcmp(type, "cgroup2") == 0) {
				snprintf(root, sizeof(root), "%s", dir);
				break;
			}
		fclose(f);
	}
	if (!root[0])
		snprintf(root, sizeof(root), "/sys/fs/cgroup");
	return root;
}

static int cgroup_id_of(const char *spec, uint64_t *id)
{
	char *end;
	unsigned long long v = strtoull(spec, &end, 10);
	if (*spec && !*end) {
		*id = v;
		return 0;
	}
	char path[1024];
	struct stat st;
	snprintf(path, sizeof(path), "%s%s%s", cgroup2_root(), spec[0] == '/' ? "" : "/", spec);
	if (stat(path, &st))
		return -errno;
	*id = st.st_ino;
	return 0;
}

int filters_refresh_sensitive(struct daemon *d)
{
	int n = 0;
	pthread_mutex_lock(&d->filter_lock);
	for (int i = 0; i < d->cfg.sensitive.n; i++) {
		glob_t g;
		if (glob(d->cfg.sensitive.v[i], GLOB_NOSORT, NULL, &g) == 0) {
			for (size_t k = 0; k < g.gl_pathc; k++) {
				struct sensor_inode ino;
				struct stat st;
				if (stat(g.gl_pathv[k], &st) || !S_ISREG(st.st_mode) || inode_of(g.gl_pathv[k], &ino))
					continue;
				if (sensor_sensitive(d->sensor, ino, true) == 0)
					n++;
			}
			globfree(&g);
		}
	}
	pthread_mutex_unlock(&d->filter_lock);
	return n;
}

int filters_apply(struct daemon *d, char *err, size_t errlen)
{
	int bad = 0;
	unsigned mask = 0;
	err[0] = 0;
	pthread_mutex_lock(&d->filter_lock);
	sensor_clear_filters(d->sensor);
	for (int i = 0; i < d->cfg.ignore_exe.n; i++) {
		struct sensor_inode ino;
		int e = inode_of(d->cfg.ignore_exe.v[i], &ino);
		if (!e)
			e = sensor_ignore_exe(d->sensor, ino, true);
		if (e) {
			bad++;
			snprintf(err, errlen, "ignore_exe %s: %s", d->cfg.ignore_exe.v[i], strerror(-e));
		} else {
			mask |= VG_FILTER_EXE;
		}
	}
	for (int i = 0; i < d->cfg.ignore_cgroup.n; i++) {
		uint64_t id;
		int e = cgroup_id_of(d->cfg.ignore_cgroup.v[i], &id);
		if (!e)
			e = sensor_ignore_cgroup(d->sensor, id, true);
		if (e) {
			bad++;
			snprintf(err, errlen, "ignore_cgroup %s: %s", d->cfg.ignore_cgroup.v[i], strerror(-e));
		} else {
			mask |= VG_FILTER_CGROUP;
		}
	}
	for (int i = 0; i < d->cfg.ignore_path.n; i++)
		if (sensor_ignore_path(d->sensor, d->cfg.ignore_path.v[i], true) == 0)
			mask |= VG_FILTER_PATH;
	for (int i = 0; i < d->cfg.watch_path.n; i++)
		sensor_watch_path(d->sensor, d->cfg.watch_path.v[i], true);
	for (int i = 0; i < d->cfg.watch_name.n; i++)
		sensor_watch_name(d->sensor, d->cfg.watch_name.v[i], true);
	for (int h = 0; h < VG_HOOK_MAX; h++)
		sensor_set_rate(d->sensor, h, d->cfg.rate[h]);
	sensor_set_filters_on(d->sensor, mask);
	pthread_mutex_unlock(&d->filter_lock);
	filters_refresh_sensitive(d);
	return bad ? -1 : 0;
}

static int list_add(struct cfg_list *l, const char *v)
{
	for (int i = 0; i < l->n; i++)
		if (strcmp(l->v[i], v) == 0)
			return 0;
	if (l->n >= CFG_LIST_MAX)
		return -ENOSPC;
	l->v[l->n] = strdup(v);
	if (!l->v[l->n])
		return -ENOMEM;
	l->n++;
	return 0;
}

static int list_del(struct cfg_list *l, const char *v)
{
	for (int i = 0; i < l->n; i++)
		if (strcmp(l->v[i], v) == 0) {
			free(l->v[i]);
			l->v[i] = l->v[--l->n];
			return 0;
		}
	return -ENOENT;
}

static void list_show(struct strbuf *r, const char *name, const struct cfg_list *l)
{
	for (int i = 0; i < l->n; i++)
		sb_printf(r, "%s %s\n", name, l->v[i]);
}

/* `filter list`, `filter add|del exe|cgroup|path|watch|watch-name|sensitive VALUE`,
 * `filter rate HOOK N`. Runtime changes last until the next reload or
 * restart; the configuration file is where permanent filters belong. */
int filter_command(struct daemon *d, int argc, char **argv, struct strbuf *r)
{
	char err[256];
	if (argc >= 1 && strcmp(argv[0], "list") == 0) {
		sb_puts(r, "ok\n");
		pthread_mutex_lock(&d->filter_lock);
		list_show(r, "exe", &d->cfg.ignore_exe);
		list_show(r, "cgroup", &d->cfg.ignore_cgroup);
		list_show(r, "path", &d->cfg.ignore_path);
		list_show(r, "watch", &d->cfg.watch_path);
		list_show(r, "watch-name", &d->cfg.watch_name);
		list_show(r, "sensitive", &d->cfg.sensitive);
		for (int h = 0; h < VG_HOOK_MAX; h++)
			if (d->cfg.rate[h])
				sb_printf(r, "rate %s %llu\n", sensor_hooks[h].name, (unsigned long long)d->cfg.rate[h]);
		pthread_mutex_unlock(&d->filter_lock);
		return 0;
	}
	if (argc == 3 && strcmp(argv[0], "rate") == 0) {
		int h = sensor_hook_by_name(argv[1]);
		char *end;
		unsigned long long n = strtoull(argv[2], &end, 10);
		if (h < 0 || *end || argv[2][0] == '-') {
			sb_printf(r, "error: usage: filter rate HOOK EVENTS_PER_SEC (hook '%s'%s)\n", argv[1],
				  h < 0 ? " is unknown" : "");
			return -1;
		}
		pthread_mutex_lock(&d->filter_lock);
		d->cfg.rate[h] = n;
		pthread_mutex_unlock(&d->filter_lock);
		sensor_set_rate(d->sensor, h, n);
		sb_puts(r, "ok\n");
		return 0;
	}
	if (argc == 3 && (strcmp(argv[0], "add") == 0 || strcmp(argv[0], "del") == 0)) {
		bool add = argv[0][0] == 'a';
		struct cfg_list *l = NULL;
		if (!strcmp(argv[1], "exe"))
			l = &d->cfg.ignore_exe;
		else if (!strcmp(argv[1], "cgroup"))
			l = &d->cfg.ignore_cgroup;
		else if (!strcmp(argv[1], "path"))
			l = &d->cfg.ignore_path;
		else if (!strcmp(argv[1], "watch"))
			l = &d->cfg.watch_path;
		else if (!strcmp(argv[1], "watch-name"))
			l = &d->cfg.watch_name;
		else if (!strcmp(argv[1], "sensitive"))
			l = &d->cfg.sensitive;
		if (!l) {
			sb_printf(r, "error: unknown filter kind '%s' (exe, cgroup, path, watch, watch-name, sensitive)\n",
				  argv[1]);
			return -1;
		}
		if (l == &d->cfg.watch_name) {
			if (!config_watch_name_ok(argv[2])) {
				sb_printf(r, "error: %s: expected a file name (no '/') of 1 to %d bytes\n", argv[2],
					  VG_WATCH_NAME_MAX - 1);
				return -1;
			}
		} else if (argv[2][0] != '/' && l != &d->cfg.ignore_cgroup) {
			sb_printf(r, "error: %s: expected an absolute path\n", argv[2]);
			return -1;
		}
		if (strlen(argv[2]) > VG_PREFIX_MAX && (l == &d->cfg.ignore_path || l == &d->cfg.watch_path)) {
			sb_printf(r, "error: prefix longer than %d bytes\n", VG_PREFIX_MAX);
			return -1;
		}
		/* check the target exists before remembering it */
		if (add && l == &d->cfg.ignore_exe) {
			struct sensor_inode ino;
			int e = inode_of(argv[2], &ino);
			if (e) {
				sb_printf(r, "error: %s: %s\n", argv[2], strerror(-e));
				return -1;
			}
		}
		if (add && l == &d->cfg.ignore_cgroup) {
			uint64_t id;
			int e = cgroup_id_of(argv[2], &id);
			if (e) {
				sb_printf(r, "error: cgroup %s: %s\n", argv[2], strerror(-e));
				return -1;
			}
		}
		pthread_mutex_lock(&d->filter_lock);
		int e = add ? list_add(l, argv[2]) : list_del(l, argv[2]);
		pthread_mutex_unlock(&d->filter_lock);
		if (e) {
			sb_printf(r, "error: %s\n", strerror(-e));
			return -1;
		}
		if (filters_apply(d, err, sizeof(err))) {
			sb_printf(r, "error: %s\n", err);
			return -1;
		}
		sb_puts(r, "ok\n");
		return 0;
	}
	sb_puts(r, "error: usage: filter list | filter add|del exe|cgroup|path|watch|watch-name|sensitive VALUE | "
		   "filter rate HOOK N\n");
	return -1;
}
