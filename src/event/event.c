#include <pthread.h>
#include <sanitizer/asan_interface.h>
#include <stdlib.h>
#include <string.h>
#include "event.h"

/* Events come from one thread (the sensor's) and are freed by another (the
 * output thread), so with plain malloc every event paid a cross-thread
 * free into the other thread's arena (its lock) and an allocation that its
 * own thread cache could never serve: a tenth of vigild's CPU in a file
 * storm. Events whose record fits POOL_REC are recycled instead: a freeing
 * thread gathers them in a local batch and hands full batches to a shared
 * list, from which an allocating thread takes a batch at a time. So the
 * lock is taken once per POOL_BATCH events and every list is bounded. */
#define POOL_REC 1024            /* file, network and most other records */
#define POOL_BATCH 64
#define POOL_MAX 2048            /* shared list bound: ~2.5 MiB */
#define POOL_SIZE (offsetof(struct vg_event, rec) + POOL_REC)
/* under ASan a recycled block is poisoned (all but its link) until it is
 * handed out again, so a use after vg_event_free is still caught */
#define POOL_POISON(ev) ASAN_POISON_MEMORY_REGION((char *)(ev) + sizeof((ev)->next), POOL_SIZE - sizeof((ev)->next))
#define POOL_UNPOISON(ev) ASAN_UNPOISON_MEMORY_REGION((ev), POOL_SIZE)

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static struct vg_event *pool;    /* shared, linked by next */
static unsigned pool_n;
static __thread struct vg_event *mine;   /* this thread's to allocate */
static __thread struct vg_event *freed;  /* this thread's batch to hand back */
static __thread struct vg_event *freed_last; /* its first freed, the end of the list */
static __thread unsigned freed_n;

static struct vg_event *pool_get(void)
{
	if (!mine && __atomic_load_n(&pool, __ATOMIC_RELAXED)) { /* a stale peek costs one malloc */
		/* a batch, not the lot: a thread that makes an event now and
		 * then would hold the whole list */
		pthread_mutex_lock(&pool_lock);
		struct vg_event *last = NULL;
		unsigned n = 0;
		for (struct vg_event *e = pool; e && n < POOL_BATCH; e = e->next, n++)
			last = e;
		if (last) {
			mine = pool;
			__atomic_store_n(&pool, last->next, __ATOMIC_RELAXED);
			last->next = NULL;
			pool_n -= n;
		}
		pthread_mutex_unlock(&pool_lock);
	}
	struct vg_event *ev = mine;
	if (!ev)
		return malloc(POOL_SIZE);
	mine = ev->next;
	POOL_UNPOISON(ev);
	return ev;
}

void vg_event_pool_flush(void)
{
	if (!freed)
		return;
	pthread_mutex_lock(&pool_lock);
	if (pool_n < POOL_MAX) {
		freed_last->next = pool;
		__atomic_store_n(&pool, freed, __ATOMIC_RELAXED);
		pool_n += freed_n;
		freed = NULL;
	}
	pthread_mutex_unlock(&pool_lock);
	while (freed) { /* the shared list is full */
		struct vg_event *ev = freed;
		freed = ev->next;
		POOL_UNPOISON(ev);
		free(ev);
	}
	freed_n = 0;
}

static void pool_put(struct vg_event *ev)
{
	if (!freed)
		freed_last = ev;
	ev->next = freed;
	freed = ev;
	POOL_POISON(ev);
	if (++freed_n >= POOL_BATCH)
		vg_event_pool_flush();
}

struct vg_event *vg_event_new(const void *rec, size_t len)
{
	size_t rl = len < sizeof(struct vg_hdr) ? sizeof(struct vg_hdr) : len;
	bool pooled = rl <= POOL_REC;
	struct vg_event *ev = pooled ? pool_get() : malloc(offsetof(struct vg_event, rec) + rl);
	if (!ev)
		return NULL;
	memset(ev, 0, offsetof(struct vg_event, rec));
	memcpy(ev->rec.raw, rec, len);
	ev->len = (uint32_t)len;
	ev->pooled = pooled;
	return ev;
}

void vg_event_free(struct vg_event *ev)
{
	if (!ev)
		return;
	img_put(ev->img);
	img_put(ev->parent);
	img_put(ev->target);
	for (int i = 0; i < ev->nanc; i++)
		img_put(ev->anc[i]);
	free(ev->extra_json);
	if (ev->pooled)
		pool_put(ev);
	else
		free(ev);
}

static const struct {
	const char *action;
	const char *category;
} kinds[] = {
	[VG_EV_EXEC] = {"exec", "process"},
	[VG_EV_EXEC_FAIL] = {"exec_failed", "process"},
	[VG_EV_FORK] = {"fork", "process"},
	[VG_EV_EXIT] = {"exit", "process"},
	[VG_EV_SETSID] = {"setsid", "process"},
	[VG_EV_COMM] = {"comm_change", "process"},
	[VG_EV_MEMFD] = {"memfd_create", "process"},
	[VG_EV_FILE_CREATE] = {"file_create", "file"},
	[VG_EV_FILE_WRITE] = {"file_open_write", "file"},
	[VG_EV_FILE_READ_SENSITIVE] = {"file_read_sensitive", "file"},
	[VG_EV_FILE_RENAME] = {"file_rename", "file"},
	[VG_EV_FILE_UNLINK] = {"file_delete", "file"},
	[VG_EV_FILE_CHMOD] = {"file_chmod", "file"},
	[VG_EV_FILE_CHOWN] = {"file_chown", "file"},
	[VG_EV_FILE_LINK] = {"file_link", "file"},
	[VG_EV_FILE_SYMLINK] = {"file_symlink", "file"},
	[VG_EV_FILE_TRUNCATE] = {"file_truncate", "file"},
	[VG_EV_FILE_UTIMES] = {"file_utimes", "file"},
	[VG_EV_NET_CONNECT] = {"connect", "network"},
	[VG_EV_NET_ACCEPT] = {"accept", "network"},
	[VG_EV_NET_BIND] = {"bind", "network"},
	[VG_EV_NET_LISTEN] = {"listen", "network"},
	[VG_EV_NET_DNS] = {"dns_query", "network"},
	[VG_EV_NET_SOCKET] = {"socket_raw", "network"},
	[VG_EV_CRED_CHANGE] = {"cred_change", "iam"},
	[VG_EV_PTRACE] = {"ptrace", "process"},
	[VG_EV_MODULE_LOAD] = {"module_load", "driver"},
	[VG_EV_MODULE_UNLOAD] = {"module_unload", "driver"},
	[VG_EV_MOUNT] = {"mount", "configuration"},
	[VG_EV_UMOUNT] = {"umount", "configuration"},
	[VG_EV_BPF_LOAD] = {"bpf_prog_load", "configuration"},
	[VG_EV_SIGNAL] = {"signal", "process"},
	[VG_EV_FILE_XATTR_SET] = {"file_xattr_set", "file"},
	[VG_EV_FILE_XATTR_REMOVE] = {"file_xattr_remove", "file"},
	[VG_EV_FILE_FLAGS] = {"file_flags", "file"},
};

const char *vg_event_action(unsigned type)
{
	if (type == VG_EV_METRICS)
		return "vigil_metrics";
	if (type < sizeof(kinds) / sizeof(kinds[0]) && kinds[type].action)
		return kinds[type].action;
	return "unknown";
}

const char *vg_event_category(unsigned type)
{
	if (type == VG_EV_METRICS)
		return "host";
	if (type < sizeof(kinds) / sizeof(kinds[0]) && kinds[type].category)
		return kinds[type].category;
	return "unknown";
}
