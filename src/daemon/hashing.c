/* Executable hashes for exec events: the file is opened while the process
 * is alive (prepare_hash, enrichment), and hashed by the output thread, or
 * by a thread of its own when it is large (hash_exe). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "daemon.h"
#include "../proc/exehash.h"
#include "../sensor/sensor.h"

/* Executables up to this size are hashed before their exec event goes out
 * (a few ms here); larger ones by the hash thread, so that exec after exec
 * of new large binaries (200 MB: ~135 ms each here) cannot hold up the
 * detection of everything behind them. */
#define HASH_INLINE_MAX (16u << 20)
#define HASH_QUEUE_MAX 64

struct hash_job {
	struct hash_job *next;
	struct exehash_key key;
	int fd;
	uint32_t pid;
	uint64_t start_ns;
	char *exe;
};

static void job_free(struct hash_job *j)
{
	if (j->fd >= 0)
		close(j->fd);
	free(j->exe);
	free(j);
}

static struct exehash_key key_of(const struct proc_image *img)
{
	return (struct exehash_key){.ino = img->exe_ino, .mtime_ns = img->exe_mtime_ns, .size = img->exe_size,
				    .dev = img->exe_dev};
}

static void *hash_main(void *arg)
{
	struct daemon *d = arg;
	pthread_setname_np(pthread_self(), "vigild-hash");
	pthread_mutex_lock(&d->hlock);
	for (;;) {
		while (!d->hhead && !d->hstopping)
			pthread_cond_wait(&d->hcond, &d->hlock);
		/* stopping: a queue of large files is not worth a slow stop */
		if (d->hstopping)
			break;
		struct hash_job *j = d->hhead;
		d->hhead = j->next;
		if (!d->hhead)
			d->htail = &d->hhead;
		d->hlen--;
		pthread_mutex_unlock(&d->hlock);
		char sha[65] = "";
		if (exehash_lookup(&j->key, sha) || exehash_compute(&j->key, j->fd, sha)) {
			/* the exec event went out without it: the hash follows as an
			 * event of its own, and a blocked hash is enforced now */
			struct strbuf sb;
			sb_init(&sb);
			struct jw w;
			jw_init(&w, &sb);
			jw_obj_open(&w, NULL);
			jw_obj_open(&w, "exe_hash");
			jw_uint(&w, "pid", j->pid);
			jw_uint(&w, "start_ns", j->start_ns);
			jw_str(&w, "executable", j->exe);
			jw_str(&w, "sha256", sha);
			jw_obj_close(&w);
			jw_obj_close(&w);
			if (sb.oom)
				sb_free(&sb);
			else
				daemon_emit_json(d, "exe_hash", sb.buf); /* takes the buffer */
			if (d->responder)
				responder_on_exec(d->responder, (pid_t)j->pid, j->start_ns, sha, j->exe);
		}
		job_free(j);
		pthread_mutex_lock(&d->hlock);
	}
	while (d->hhead) {
		struct hash_job *j = d->hhead;
		d->hhead = j->next;
		job_free(j);
	}
	d->htail = &d->hhead;
	d->hlen = 0;
	pthread_mutex_unlock(&d->hlock);
	return NULL;
}

/* Hands a large executable to the hash thread (which takes its fd). */
static void hash_later(struct daemon *d, struct proc_image *img, const struct exehash_key *k)
{
	int fd = img->exe_fd;
	img->exe_fd = -1; /* the job's from here, or closed below */
	struct hash_job *j = calloc(1, sizeof(*j));
	if (j)
		*j = (struct hash_job){.key = *k, .fd = fd, .pid = img->pid, .start_ns = img->start_ns,
				       .exe = strdup(img->exe ? img->exe : "")};
	pthread_mutex_lock(&d->hlock);
	bool ok = j && j->exe && d->hthread_started && d->hlen < HASH_QUEUE_MAX;
	if (ok) {
		*d->htail = j;
		d->htail = &j->next;
		d->hlen++;
		pthread_cond_signal(&d->hcond);
	} else {
		d->hash_skipped++;
	}
	pthread_mutex_unlock(&d->hlock);
	if (ok)
		return;
	if (j)
		job_free(j);
	else
		close(fd);
}

void hash_exe(struct daemon *d, struct proc_image *img)
{
	if (img->sha256[0] || img->exe_fd < 0)
		return;
	struct exehash_key k = key_of(img);
	if (exehash_lookup(&k, img->sha256) || img->exe_size <= HASH_INLINE_MAX) {
		if (!img->sha256[0])
			exehash_compute(&k, img->exe_fd, img->sha256);
		close(img->exe_fd);
		img->exe_fd = -1;
		return;
	}
	hash_later(d, img, &k);
}

void prepare_hash(struct daemon *d, struct proc_image *img)
{
	if (d->cfg.hash_max_mb == 0 || img->exe_size > (uint64_t)d->cfg.hash_max_mb << 20)
		return;
	struct exehash_key k = key_of(img);
	if (exehash_lookup(&k, img->sha256))
		return;
	/* open now, while the process is alive: a memfd or deleted file has
	 * no other name; the output thread reads it */
	char path[64];
	snprintf(path, sizeof(path), "/proc/%u/exe", img->pid);
	img->exe_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (img->exe_fd >= 0 || !img->exe || img->exe[0] != '/' ||
	    (img->exe_flags & (VG_EXE_MEMFD | VG_EXE_DELETED)))
		return;
	/* a short-lived process is often gone already: hash the file by its
	 * name, but only if it is still the very file that was executed */
	int fd = open(img->exe, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	struct stat st;
	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_ino == img->exe_ino &&
	    sensor_kdev(st.st_dev) == img->exe_dev && (uint64_t)st.st_size == img->exe_size &&
	    (!img->exe_mtime_ns ||
	     (uint64_t)st.st_mtim.tv_sec * 1000000000ULL + (uint64_t)st.st_mtim.tv_nsec == img->exe_mtime_ns))
		img->exe_fd = fd;
	else
		close(fd);
}

void hash_start(struct daemon *d)
{
	pthread_mutex_init(&d->hlock, NULL);
	d->htail = &d->hhead;
	pthread_cond_init(&d->hcond, NULL);
	/* without it, large executables are not hashed (counted) */
	d->hthread_started = pthread_create(&d->hash_thread, NULL, hash_main, d) == 0;
}

void hash_stop(struct daemon *d)
{
	if (!d->hthread_started)
		return;
	pthread_mutex_lock(&d->hlock);
	d->hstopping = true;
	pthread_cond_signal(&d->hcond);
	pthread_mutex_unlock(&d->hlock);
	pthread_join(d->hash_thread, NULL);
	d->hthread_started = false;
}

void hash_usage(struct daemon *d, uint64_t *queued, uint64_t *skipped)
{
	pthread_mutex_lock(&d->hlock);
	*queued = d->hlen;
	*skipped = d->hash_skipped;
	pthread_mutex_unlock(&d->hlock);
}
