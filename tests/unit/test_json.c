/* vg_event_json: crafted sensor records (and process images) to ECS JSON,
 * checked by a strict JSON parser and by dotted-path lookups of the
 * fields docs/daemon-interface.md promises. */
#define _GNU_SOURCE
#define PCTX_TEST_SLOTS 64 /* json.c PCTX_SLOTS */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netinet/in.h>
#include <resolv.h>
#include <sys/socket.h>
#include <cmocka.h>
#include "event/event.h"
#include "event/flat.h"
#include "jsoncheck.h"
#include "sensor/blob.h"
#include "recbuild.h"

static struct rb r;
static struct strbuf sb;
static const struct vg_host host = {.name = "testhost", .id = "0123456789abcdef0123456789abcdef"};

/* The flat view vg_event_json_flat builds while encoding must be what
 * vg_flatten_json gives for the JSON, field for field and in order, and
 * the JSON must be the same bytes as without a flat. */
static struct vg_flat flat_built, flat_parsed;
static struct strbuf sb_flat;
static unsigned flat_checks;

static void check_flat(const struct vg_event *ev, const char *json, size_t len)
{
	sb_reset(&sb_flat);
	vg_event_json_flat(&sb_flat, ev, &host, &flat_built);
	assert_false(sb_flat.oom);
	if (sb_flat.len != len || memcmp(sb_flat.buf, json, len))
		fail_msg("JSON differs with a flat sink:\n%s\n%s", json, sb_flat.buf);
	int rc = vg_flatten_json(&flat_parsed, json, len);
	if (rc)
		fail_msg("vg_flatten_json failed on %s", json);
	for (int i = 0; i < flat_built.n || i < flat_parsed.n; i++) {
		const struct vg_flat_field *a = i < flat_built.n ? &flat_built.f[i] : NULL;
		const struct vg_flat_field *b = i < flat_parsed.n ? &flat_parsed.f[i] : NULL;
		if (!a || !b || a->name != b->name || a->len != b->len || memcmp(a->val, b->val, a->len) ||
		    a->val[a->len] != 0)
			fail_msg("field %d: built %s=%.*s (%u bytes), parsed %s=%.*s (%u bytes); %d vs %d fields in %s", i,
				 a ? vg_field_name(a->name) : "(none)", a ? (int)a->len : 0, a ? a->val : "",
				 a ? a->len : 0, b ? vg_field_name(b->name) : "(none)", b ? (int)b->len : 0,
				 b ? b->val : "", b ? b->len : 0, flat_built.n, flat_parsed.n, json);
	}
	flat_checks++;
}

/* Encodes ev into sb (reset first), checks that it is one valid JSON
 * object (and that the flat built while encoding matches it), and
 * returns the text. */
static const char *encode(const struct vg_event *ev)
{
	sb_reset(&sb);
	vg_event_json(&sb, ev, &host);
	assert_false(sb.oom);
	check_flat(ev, sb.buf, sb.len);
	assert_int_equal(strlen(sb.buf), sb.len); /* no NUL inside */
	size_t at = 0;
	const char *why = json_check(sb.buf, sb.len, &at);
	if (why)
		fail_msg("invalid JSON (%s) at %zu: ...%.60s\nwhole: %s", why, at, sb.buf + (at > 20 ? at - 20 : 0),
			 sb.buf);
	assert_int_equal(sb.buf[0], '{');
	assert_null(strchr(sb.buf, '\n'));
	return sb.buf;
}

/* The value at a dotted path equals want (raw JSON text). */
#define FIELD(path, want) field_is(path, want, __LINE__)
static void field_is(const char *path, const char *want, int line)
{
	size_t n = 0;
	const char *v = json_get(sb.buf, sb.len, path, &n);
	if (!v)
		fail_msg("line %d: no field %s in %s", line, path, sb.buf);
	if (n != strlen(want) || memcmp(v, want, n) != 0)
		fail_msg("line %d: %s is %.*s, want %s", line, path, (int)n, v, want);
}

static void no_field(const char *path)
{
	size_t n;
	if (json_get(sb.buf, sb.len, path, &n))
		fail_msg("unexpected field %s in %s", path, sb.buf);
}

static void has(const char *needle)
{
	if (!strstr(sb.buf, needle))
		fail_msg("'%s' not in %s", needle, sb.buf);
}

static void fill_task(struct vg_hdr *h, uint32_t pid, const char *comm)
{
	h->ts = 1;
	h->task.pid = pid;
	h->task.tid = pid + 1;
	h->task.ppid = 1000;
	h->task.pgid = pid;
	h->task.sid = 900;
	h->task.ns_pid = 7;
	h->task.uid = 1001;
	h->task.euid = 0;
	h->task.gid = 1002;
	h->task.egid = 0;
	h->task.auid = 1001;
	h->task.start_ns = 5555;
	h->task.cgroup_id = 4321;
	snprintf(h->task.comm, sizeof(h->task.comm), "%s", comm);
}

static struct vg_event *event(void)
{
	struct vg_event *ev = vg_event_new(r.u.buf, r.len);
	assert_non_null(ev);
	ev->wall_ns = 1700000000123456789ULL;
	return ev;
}

/* Builds an image the way vigild does: from an exec record. */
static struct proc_image *image(struct proc_cache *pc, uint32_t pid, const char *exe, const void *argv, size_t argv_n,
				const char *cwd, const char *env, size_t env_n)
{
	static struct rb ir;
	struct vg_exec *x = rb_init(&ir, sizeof(*x), VG_EV_EXEC, VG_HOOK_EXEC);
	x->h.task.pid = pid;
	x->exe = rb_str(&ir, exe);
	x->argv = rb_bytes(&ir, argv, argv_n);
	if (cwd)
		x->cwd = rb_str(&ir, cwd);
	if (env)
		x->env = rb_bytes(&ir, env, env_n);
	x->tty = rb_str(&ir, "pts1");
	x->nodename = rb_str(&ir, "node-a");
	struct proc_image *img = pc_on_exec(pc, x, ir.len);
	assert_non_null(img);
	pc_on_exit(pc, pid); /* the cache's reference goes; ours stays */
	assert_int_equal(img->refs, 1);
	return img;
}
#define LIT(s) s, sizeof(s) - 1

static struct proc_cache pc;

static int setup(void **state)
{
	sb_init(&sb);
	return pc_init(&pc, "/nonexistent-proc");
}

static int teardown(void **state)
{
	sb_free(&sb);
	sb_free(&sb_flat);
	vg_flat_free(&flat_built);
	vg_flat_free(&flat_parsed);
	pc_free(&pc);
	return 0;
}

static void test_exec(void **state)
{
	struct vg_exec *x = rb_init(&r, sizeof(*x), VG_EV_EXEC, VG_HOOK_EXEC);
	fill_task(&x->h, 4242, "curl");
	x->flags = VG_EXE_TMPFS | VG_EXECVEAT;
	x->exe_ino = 777;
	x->exe_dev = 0x800002;
	x->exe_mode = 0104755;
	x->exe_size = 99;
	x->exe_uid = 0;
	x->filename = rb_str(&r, "./run.sh");
	x->interp = rb_str(&r, "/bin/sh");
	x->cwd = rb_str(&r, "/srv/work");
	x->fd[0].kind = VG_FD_TTY;
	x->fd[0].path = rb_str(&r, "/dev/pts/1");
	x->fd[1].kind = VG_FD_PIPE;
	x->fd[1].ino = 4242424;
	x->fd[2].kind = VG_FD_SOCKET;
	x->fd[2].sock.family = AF_INET;
	x->fd[2].sock.type = SOCK_STREAM;
	x->fd[2].sock.protocol = 6;
	x->fd[2].sock.local.family = AF_INET;
	x->fd[2].sock.local.port = 4444;
	inet_pton(AF_INET, "10.0.0.5", x->fd[2].sock.local.addr);
	x->fd[2].sock.remote.family = AF_INET;
	x->fd[2].sock.remote.port = 51000;
	inet_pton(AF_INET, "10.0.0.6", x->fd[2].sock.remote.addr);
	struct vg_event *ev = event();
	ev->img = image(&pc, 4242, "/bin/sh", LIT("sh\0./run.sh\0--opt=\"q\"\0"), "/srv/work",
			LIT("HOME=/root\0LD_PRELOAD=/tmp/x.so\0SSH_CONNECTION=1.2.3.4 5 6.7.8.9 22\0"));
	snprintf(ev->img->sha256, sizeof(ev->img->sha256), "%064d", 0);
	ev->parent = image(&pc, 1000, "/usr/bin/bash", LIT("-bash\0"), "/root", NULL, 0);
	ev->nanc = 2;
	ev->anc_pid[0] = 1000;
	ev->anc[0] = img_get(ev->parent);
	ev->anc_pid[1] = 1;
	ev->anc[1] = image(&pc, 1, "/sbin/init", LIT("/sbin/init\0"), "/", NULL, 0);
	encode(ev);
	FIELD("@timestamp", "\"2023-11-14T22:13:20.123456789Z\"");
	FIELD("event.action", "\"exec\"");
	FIELD("event.category", "[\"process\"]");
	FIELD("event.kind", "\"event\"");
	FIELD("event.outcome", "\"success\"");
	FIELD("host.name", "\"testhost\"");
	FIELD("process.pid", "4242");
	FIELD("process.thread.id", "4243");
	FIELD("process.name", "\"curl\"");
	FIELD("process.executable", "\"/bin/sh\"");
	FIELD("process.args", "[\"sh\",\"./run.sh\",\"--opt=\\\"q\\\"\"]");
	FIELD("process.args_count", "3");
	FIELD("process.command_line", "\"sh ./run.sh --opt=\\\"q\\\"\"");
	FIELD("process.working_directory", "\"/srv/work\"");
	FIELD("process.tty.name", "\"pts1\"");
	FIELD("process.env_vars", "[\"LD_PRELOAD=/tmp/x.so\",\"SSH_CONNECTION=1.2.3.4 5 6.7.8.9 22\"]");
	FIELD("process.hash.sha256", "\"0000000000000000000000000000000000000000000000000000000000000000\"");
	FIELD("process.parent.pid", "1000");
	FIELD("process.parent.executable", "\"/usr/bin/bash\"");
	FIELD("process.parent.args", "[\"-bash\"]");
	FIELD("process.session_leader.pid", "900");
	FIELD("process.user.id", "0");
	FIELD("process.real_user.id", "1001");
	FIELD("user.id", "1001");
	FIELD("user.effective.id", "0");
	FIELD("vigil.exec.filename", "\"./run.sh\"");
	FIELD("vigil.exec.script", "\"/srv/work/run.sh\"");
	FIELD("vigil.exec.interpreter", "\"/bin/sh\"");
	FIELD("vigil.exec.execveat", "true");
	FIELD("vigil.exec.tmpfs", "true");
	FIELD("vigil.exec.memfd", "false");
	FIELD("vigil.exec.fileless", "true");
	FIELD("vigil.exec.setuid", "true");
	FIELD("vigil.exec.setgid", "false");
	FIELD("vigil.exec.inode", "777");
	FIELD("vigil.stdio.stdin.type", "\"tty\"");
	FIELD("vigil.stdio.stdin.path", "\"/dev/pts/1\"");
	FIELD("vigil.stdio.stdout.type", "\"pipe\"");
	FIELD("vigil.stdio.stdout.inode", "4242424");
	no_field("vigil.stdio.stdin.inode"); /* a tty: its path, no pipe inode */
	FIELD("vigil.stdio.stderr.type", "\"socket\"");
	FIELD("vigil.stdio.stderr.socket.local.ip", "\"10.0.0.5\"");
	FIELD("vigil.stdio.stderr.socket.remote.port", "51000");
	FIELD("vigil.ancestors.pid", "1000"); /* the first element: the parent */
	has("{\"pid\":1,\"executable\":\"/sbin/init\"");
	FIELD("vigil.nodename", "\"node-a\"");
	FIELD("vigil.sid", "900");
	FIELD("vigil.auid", "1001");
	FIELD("vigil.cgroup_id", "4321");
	no_field("error");
	vg_event_free(ev); /* drops every image reference: ASan checks */
}

/* The encoder keeps a copy of an image's fields for the process's later
 * events: every encoding from the copy (with and without a flat, before
 * and after the hash arrives) is the encoding of a fresh image. */
static void test_image_cache(void **state)
{
	struct vg_file2 *f = rb_init(&r, sizeof(*f), VG_EV_FILE_RENAME, VG_HOOK_RENAME);
	fill_task(&f->h, 4300, "mv");
	f->src.path = rb_str(&r, "/tmp/a");
	f->dst.path = rb_str(&r, "/tmp/b");
	struct proc_image *shared = image(&pc, 4300, "/usr/bin/mv", LIT("mv\0/tmp/a\0/tmp/b\0"), "/tmp",
					  LIT("LD_PRELOAD=/x.so\0"));
	struct proc_image *parent = image(&pc, 1000, "/usr/bin/bash", LIT("bash\0-c\0mv /tmp/a /tmp/b\0"), "/", NULL, 0);
	struct strbuf want;
	sb_init(&want);
	for (int round = 0; round < 6; round++) {
		if (round == 3) /* the hash arrives: the copy is rebuilt */
			snprintf(shared->sha256, sizeof(shared->sha256), "%064d", 7);
		struct vg_event *fresh = event();
		fresh->img = image(&pc, 4300, "/usr/bin/mv", LIT("mv\0/tmp/a\0/tmp/b\0"), "/tmp",
				   LIT("LD_PRELOAD=/x.so\0"));
		memcpy(fresh->img->sha256, shared->sha256, sizeof(shared->sha256));
		fresh->parent = image(&pc, 1000, "/usr/bin/bash", LIT("bash\0-c\0mv /tmp/a /tmp/b\0"), "/", NULL, 0);
		sb_reset(&want);
		vg_event_json(&want, fresh, &host);
		vg_event_free(fresh);
		struct vg_event *ev = event();
		ev->img = img_get(shared);
		ev->parent = img_get(parent);
		encode(ev); /* JSON alone, then with a flat (check_flat): both from the copy after round 0 */
		if (sb.len != want.len || memcmp(sb.buf, want.buf, sb.len))
			fail_msg("round %d: cached encoding differs:\n%s\n%s", round, sb.buf, want.buf);
		assert_non_null(shared->enc_cache[0]);
		assert_non_null(parent->enc_cache[1]);
		vg_event_free(ev);
	}
	FIELD("process.hash.sha256", "\"0000000000000000000000000000000000000000000000000000000000000007\"");
	FIELD("process.env_vars", "[\"LD_PRELOAD=/x.so\"]");
	FIELD("process.parent.command_line", "\"bash -c mv /tmp/a /tmp/b\"");
	sb_free(&want);
	img_put(shared);
	img_put(parent);
}

/* A parent's fields cached while a child with hundreds of args filled the
 * flat must not leave them out of its other children's flats. */
static void test_image_cache_full_flat(void **state)
{
	struct proc_image *parent = image(&pc, 1000, "/usr/bin/bash", LIT("bash\0"), "/", NULL, 0);
	static char many[700 * 3];
	size_t n = 0;
	for (int i = 0; i < 700; i++) {
		many[n++] = 'a';
		many[n++] = (char)('a' + i % 26);
		many[n++] = 0;
	}
	struct vg_file *f = rb_init(&r, sizeof(*f), VG_EV_FILE_CREATE, VG_HOOK_OPEN);
	fill_task(&f->h, 4400, "xargs");
	f->target.path = rb_str(&r, "/tmp/x");
	struct vg_event *big = event();
	big->img = image(&pc, 4400, "/usr/bin/xargs", many, n, "/", NULL, 0);
	big->parent = img_get(parent);
	encode(big); /* the flat is full before the parent's fields */
	vg_event_free(big);
	fill_task(&f->h, 4401, "ls");
	struct vg_event *small = event();
	small->img = image(&pc, 4401, "/usr/bin/ls", LIT("ls\0"), "/", NULL, 0);
	small->parent = img_get(parent);
	encode(small); /* check_flat: the built flat is the parsed one */
	FIELD("process.parent.executable", "\"/usr/bin/bash\"");
	vg_event_free(small);
	img_put(parent);
}

/* The process, user and group objects are copied from a thread's last
 * event while its inputs are the same: every change of an input (a task
 * field, the image, the parent, a hash arriving, an image freed and another
 * allocated where it was) shows in the next event, which encodes as a
 * fresh encoder would. */
static void process_cache_round(struct vg_file *f, struct proc_image *img, struct proc_image *parent,
				const char *what)
{
	/* the reference: copies of the images (other serials, so never a copy) */
	struct vg_event *fresh = event();
	fresh->img = image(&pc, f->h.task.pid, img->exe, img->argv, img->argv_len, img->cwd, NULL, 0);
	memcpy(fresh->img->sha256, img->sha256, sizeof(img->sha256));
	fresh->parent = image(&pc, parent->pid, parent->exe, parent->argv, parent->argv_len, parent->cwd, NULL, 0);
	memcpy(fresh->parent->sha256, parent->sha256, sizeof(parent->sha256));
	struct strbuf want;
	sb_init(&want);
	vg_event_json(&want, fresh, &host);
	vg_event_free(fresh);
	for (int i = 0; i < 3; i++) { /* a miss, then copies (with and without a flat) */
		struct vg_event *ev = event();
		ev->img = img_get(img);
		ev->parent = img_get(parent);
		encode(ev);
		vg_event_free(ev);
		if (sb.len != want.len || memcmp(sb.buf, want.buf, sb.len))
			fail_msg("%s, event %d: differs from a fresh encoding:\n%s\n%s", what, i, sb.buf, want.buf);
	}
	sb_free(&want);
}

static void test_process_cache(void **state)
{
	struct vg_file *f = rb_init(&r, sizeof(*f), VG_EV_FILE_CREATE, VG_HOOK_OPEN);
	fill_task(&f->h, 4500, "storm");
	f->target.path = rb_str(&r, "/tmp/x");
	struct proc_image *img = image(&pc, 4500, "/usr/bin/storm", LIT("storm\0-n\0"), "/tmp", NULL, 0);
	struct proc_image *parent = image(&pc, 1000, "/usr/bin/bash", LIT("bash\0"), "/", NULL, 0);
	process_cache_round(f, img, parent, "first");
	FIELD("process.real_user.id", "1001");
	f->h.task.uid = 0;
	process_cache_round(f, img, parent, "uid");
	FIELD("process.real_user.id", "0");
	FIELD("user.id", "0");
	snprintf(f->h.task.comm, sizeof(f->h.task.comm), "renamed");
	process_cache_round(f, img, parent, "comm");
	FIELD("process.name", "\"renamed\"");
	f->h.task.tid += PCTX_TEST_SLOTS; /* another thread, the same slot */
	process_cache_round(f, img, parent, "tid");
	snprintf(img->sha256, sizeof(img->sha256), "%064d", 5);
	process_cache_round(f, img, parent, "hash");
	FIELD("process.hash.sha256", "\"0000000000000000000000000000000000000000000000000000000000000005\"");
	/* the parent goes and another image may take its memory */
	img_put(parent);
	parent = image(&pc, 1000, "/usr/bin/zsh", LIT("zsh\0-l\0"), "/", NULL, 0);
	process_cache_round(f, img, parent, "new parent");
	FIELD("process.parent.executable", "\"/usr/bin/zsh\"");
	img_put(img);
	img = image(&pc, 4500, "/usr/bin/other", LIT("other\0"), "/tmp", NULL, 0);
	process_cache_round(f, img, parent, "new image");
	FIELD("process.executable", "\"/usr/bin/other\"");
	img_put(img);
	img_put(parent);
}

static void test_exec_no_image(void **state)
{
	/* an exec whose blobs are all absent and no image: still valid */
	struct vg_exec *x = rb_init(&r, sizeof(*x), VG_EV_EXEC, VG_HOOK_EXEC);
	fill_task(&x->h, 10, "a\"b\\c\x01\xff");
	x->fd[0].kind = 99; /* unknown kind */
	struct vg_event *ev = event();
	encode(ev);
	FIELD("process.name", "\"a\\\"b\\\\c\\u0001\\u00ff\"");
	FIELD("vigil.stdio.stdin.type", "\"other\"");
	no_field("process.executable");
	no_field("vigil.exec.filename");
	vg_event_free(ev);
}

static void test_file_rename_relative(void **state)
{
	struct vg_file2 *f = rb_init(&r, sizeof(*f), VG_EV_FILE_RENAME, VG_HOOK_RENAME);
	fill_task(&f->h, 300, "mv");
	f->src.path = rb_str(&r, "a.txt");
	f->src.base = rb_str(&r, "/home/u");
	f->dst.path = rb_str(&r, "../../etc/./cron.d//evil");
	f->dst.base = rb_str(&r, "/home/u/sub");
	struct vg_event *ev = event();
	encode(ev);
	FIELD("event.action", "\"file_rename\"");
	FIELD("event.category", "[\"file\"]");
	FIELD("file.path", "\"/home/etc/cron.d/evil\"");
	FIELD("vigil.file.old_path", "\"/home/u/a.txt\"");
	vg_event_free(ev);

	/* relative, no base: the process's cwd at exec is used */
	f = rb_init(&r, sizeof(*f), VG_EV_FILE_RENAME, VG_HOOK_RENAME);
	fill_task(&f->h, 301, "mv");
	f->src.path = rb_str(&r, "/abs/old");
	f->dst.path = rb_str(&r, "x/../y");
	ev = event();
	ev->img = image(&pc, 301, "/bin/mv", LIT("mv\0"), "/tmp", NULL, 0);
	encode(ev);
	FIELD("file.path", "\"/tmp/y\"");
	FIELD("vigil.file.old_path", "\"/abs/old\"");
	vg_event_free(ev);

	/* a failed rename */
	f = rb_init(&r, sizeof(*f), VG_EV_FILE_RENAME, VG_HOOK_RENAME);
	fill_task(&f->h, 302, "mv");
	f->h.ret = -EXDEV;
	f->src.path = rb_str(&r, "/a");
	f->dst.path = rb_str(&r, "/mnt/b");
	ev = event();
	encode(ev);
	FIELD("event.outcome", "\"failure\"");
	FIELD("error.code", "\"EXDEV\"");
	FIELD("error.errno", "18");
	vg_event_free(ev);
}

static void test_file_one_path(void **state)
{
	struct vg_file *f = rb_init(&r, sizeof(*f), VG_EV_FILE_CHMOD, VG_HOOK_CHMOD);
	fill_task(&f->h, 400, "chmod");
	f->mode = 04755;
	f->old_mode = 0644;
	f->ino = 12;
	f->target.path = rb_str(&r, "tool");
	f->target.base = rb_str(&r, "/usr/local/bin");
	struct vg_event *ev = event();
	encode(ev);
	FIELD("event.action", "\"file_chmod\"");
	FIELD("file.path", "\"/usr/local/bin/tool\"");
	FIELD("file.mode", "\"4755\"");
	FIELD("file.inode", "12");
	FIELD("vigil.file.old_mode", "\"0644\"");
	FIELD("vigil.file.exec_added", "true");
	FIELD("vigil.file.setuid_added", "true");
	FIELD("vigil.file.setgid_added", "false");
	vg_event_free(ev);

	/* a path with bytes that are not UTF-8 and control characters */
	f = rb_init(&r, sizeof(*f), VG_EV_FILE_CREATE, VG_HOOK_OPEN);
	fill_task(&f->h, 401, "touch");
	f->target.path = rb_str(&r, "/tmp/a\nb\xff\"c");
	ev = event();
	encode(ev);
	FIELD("file.path", "\"/tmp/a\\nb\\u00ff\\\"c\"");
	vg_event_free(ev);
}

static void test_file_xattr_and_flags(void **state)
{
	/* setcap cap_setuid,cap_net_raw+ep: vfs_cap_data revision 2 */
	static const uint8_t caps[20] = {0x01, 0, 0, 0x02, 0x80, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
	struct vg_xattr *x = rb_init(&r, sizeof(*x), VG_EV_FILE_XATTR_SET, VG_HOOK_ATTR);
	fill_task(&x->h, 500, "setcap");
	x->size = sizeof(caps);
	x->target.path = rb_str(&r, "/tmp/py");
	x->name = rb_str(&r, "security.capability");
	x->value = rb_bytes(&r, caps, sizeof(caps));
	struct vg_event *ev = event();
	encode(ev);
	FIELD("event.action", "\"file_xattr_set\"");
	FIELD("event.category", "[\"file\"]");
	FIELD("file.path", "\"/tmp/py\"");
	FIELD("vigil.xattr.name", "\"security.capability\"");
	FIELD("vigil.xattr.size", "20");
	FIELD("vigil.xattr.capabilities", "[\"cap_setuid\",\"cap_net_raw\"]");
	FIELD("vigil.xattr.cap_effective", "true");
	FIELD("vigil.xattr.cap_text", "\"cap_setuid,cap_net_raw=ep\"");
	no_field("vigil.xattr.cap_rootid");
	vg_event_free(ev);

	/* a value the kernel would refuse (a v2 magic with v1's length) */
	x = rb_init(&r, sizeof(*x), VG_EV_FILE_XATTR_SET, VG_HOOK_ATTR);
	fill_task(&x->h, 501, "python3");
	x->size = 12;
	x->target.path = rb_str(&r, "/tmp/py");
	x->name = rb_str(&r, "security.capability");
	x->value = rb_bytes(&r, caps, 12);
	ev = event();
	encode(ev);
	FIELD("vigil.xattr.malformed", "true");
	no_field("vigil.xattr.capabilities");
	vg_event_free(ev);

	/* an ACL longer than the bytes kept: whole entries only */
	uint8_t acl[4 + 8 * 9] = {2, 0, 0, 0};
	for (int i = 0; i < 9; i++) {
		uint8_t *e = acl + 4 + 8 * i;
		e[0] = i == 0 ? 1 : i == 8 ? 0x20 : 2; /* u::, u:N: x7, o:: */
		e[2] = 6;
		e[4] = (uint8_t)(100 + i);
	}
	x = rb_init(&r, sizeof(*x), VG_EV_FILE_XATTR_SET, VG_HOOK_ATTR);
	fill_task(&x->h, 502, "setfacl");
	x->size = sizeof(acl);
	x->target.path = rb_str(&r, "/etc/shadow");
	x->name = rb_str(&r, "system.posix_acl_access");
	x->value = rb_bytes(&r, acl, VG_XATTR_VALUE_MAX);
	ev = event();
	encode(ev);
	FIELD("vigil.xattr.acl", "\"u::rw-,u:101:rw-,u:102:rw-,u:103:rw-,u:104:rw-,u:105:rw-,u:106:rw-\"");
	FIELD("vigil.xattr.acl_truncated", "true");
	vg_event_free(ev);

	/* any other security.* label: hex; a removal has no value */
	x = rb_init(&r, sizeof(*x), VG_EV_FILE_XATTR_REMOVE, VG_HOOK_ATTR);
	fill_task(&x->h, 503, "attr");
	x->ino = 77;
	x->target.path = rb_str(&r, "/bin/ls");
	x->name = rb_str(&r, "security.ima");
	ev = event();
	encode(ev);
	FIELD("event.action", "\"file_xattr_remove\"");
	FIELD("file.inode", "77");
	FIELD("vigil.xattr.name", "\"security.ima\"");
	no_field("vigil.xattr.size");
	vg_event_free(ev);

	struct vg_fsflags *fl = rb_init(&r, sizeof(*fl), VG_EV_FILE_FLAGS, VG_HOOK_ATTR);
	fill_task(&fl->h, 504, "chattr");
	fl->flags = 0x80010; /* FS_EXTENT_FL | FS_IMMUTABLE_FL */
	fl->target.path = rb_str(&r, "/etc/ld.so.preload");
	ev = event();
	encode(ev);
	FIELD("event.action", "\"file_flags\"");
	FIELD("vigil.file.flags_call", "\"FS_IOC_SETFLAGS\"");
	FIELD("vigil.file.immutable", "true");
	FIELD("vigil.file.append_only", "false");
	vg_event_free(ev);
	fl = rb_init(&r, sizeof(*fl), VG_EV_FILE_FLAGS, VG_HOOK_ATTR);
	fill_task(&fl->h, 505, "xfs_io");
	fl->how = VG_FLAGS_FSXATTR;
	fl->flags = 0x10; /* FS_XFLAG_APPEND */
	fl->target.path = rb_str(&r, "/var/log/auth.log");
	ev = event();
	encode(ev);
	FIELD("vigil.file.flags_call", "\"FS_IOC_FSSETXATTR\"");
	FIELD("vigil.file.immutable", "false");
	FIELD("vigil.file.append_only", "true");
	vg_event_free(ev);
}

static void put_ip(struct vg_sockaddr *a, int family, const char *ip, uint16_t port)
{
	a->family = (uint16_t)family;
	a->port = port;
	assert_int_equal(inet_pton(family, ip, a->addr), 1);
}

static void test_connect_ipv4(void **state)
{
	struct vg_net *n = rb_init(&r, sizeof(*n), VG_EV_NET_CONNECT, VG_HOOK_CONNECT);
	fill_task(&n->h, 500, "curl");
	n->fd = 3;
	n->sock.family = AF_INET;
	n->sock.type = SOCK_STREAM;
	n->sock.protocol = 6;
	put_ip(&n->sock.local, AF_INET, "127.0.0.1", 45678);
	put_ip(&n->sock.remote, AF_INET, "127.0.0.1", 8080);
	put_ip(&n->addr, AF_INET, "127.0.0.1", 8080);
	struct vg_event *ev = event();
	encode(ev);
	FIELD("event.action", "\"connect\"");
	FIELD("event.category", "[\"network\"]");
	FIELD("destination.ip", "\"127.0.0.1\"");
	FIELD("destination.port", "8080");
	FIELD("source.ip", "\"127.0.0.1\"");
	FIELD("source.port", "45678");
	FIELD("network.transport", "\"tcp\"");
	FIELD("network.type", "\"ipv4\"");
	FIELD("network.direction", "\"egress\"");
	FIELD("vigil.net.fd", "3");
	has("\"ip\":\"127.0.0.1\"");
	vg_event_free(ev);

	/* refused: the address argument is still the destination */
	n = rb_init(&r, sizeof(*n), VG_EV_NET_CONNECT, VG_HOOK_CONNECT);
	fill_task(&n->h, 501, "nc");
	n->h.ret = -ECONNREFUSED;
	n->sock.family = AF_INET;
	n->sock.type = SOCK_STREAM;
	put_ip(&n->addr, AF_INET, "192.0.2.1", 1);
	ev = event();
	encode(ev);
	FIELD("event.outcome", "\"failure\"");
	FIELD("error.code", "\"ECONNREFUSED\"");
	FIELD("error.errno", "111");
	FIELD("destination.ip", "\"192.0.2.1\"");
	FIELD("destination.port", "1");
	no_field("source"); /* family 0: no address */
	vg_event_free(ev);
}

static void test_connect_ipv6(void **state)
{
	struct vg_net *n = rb_init(&r, sizeof(*n), VG_EV_NET_CONNECT, VG_HOOK_CONNECT);
	fill_task(&n->h, 600, "ssh");
	n->sock.family = AF_INET6;
	n->sock.type = SOCK_STREAM;
	n->sock.protocol = 6;
	put_ip(&n->sock.local, AF_INET6, "::1", 50000);
	put_ip(&n->addr, AF_INET6, "2001:db8::1", 22);
	struct vg_event *ev = event();
	encode(ev);
	FIELD("destination.ip", "\"2001:db8::1\"");
	FIELD("destination.port", "22");
	FIELD("source.ip", "\"::1\"");
	FIELD("network.type", "\"ipv6\"");
	vg_event_free(ev);

	/* IPv4-mapped, and accept (directions swap) */
	n = rb_init(&r, sizeof(*n), VG_EV_NET_ACCEPT, VG_HOOK_ACCEPT);
	fill_task(&n->h, 601, "sshd");
	n->sock.family = AF_INET6;
	n->sock.type = SOCK_STREAM;
	put_ip(&n->sock.local, AF_INET6, "::ffff:10.1.2.3", 22);
	put_ip(&n->sock.remote, AF_INET6, "fe80::1", 40000);
	ev = event();
	encode(ev);
	FIELD("event.action", "\"accept\"");
	FIELD("network.direction", "\"ingress\"");
	FIELD("source.ip", "\"fe80::1\"");
	FIELD("destination.ip", "\"::ffff:10.1.2.3\"");
	FIELD("destination.port", "22");
	vg_event_free(ev);

	/* listen with a backlog */
	n = rb_init(&r, sizeof(*n), VG_EV_NET_LISTEN, VG_HOOK_LISTEN);
	fill_task(&n->h, 602, "nginx");
	n->backlog = 511;
	n->sock.family = AF_INET;
	n->sock.type = SOCK_STREAM;
	put_ip(&n->sock.local, AF_INET, "0.0.0.0", 80);
	ev = event();
	encode(ev);
	FIELD("source.ip", "\"0.0.0.0\"");
	FIELD("source.port", "80");
	FIELD("vigil.net.backlog", "511");
	vg_event_free(ev);
}

static void test_dns(void **state)
{
	struct vg_dns *d = rb_init(&r, sizeof(*d), VG_EV_NET_DNS, VG_HOOK_DNS);
	fill_task(&d->h, 700, "getent");
	d->sock.family = AF_INET;
	d->sock.type = SOCK_DGRAM;
	d->sock.protocol = 17;
	put_ip(&d->sock.local, AF_INET, "10.0.0.2", 33333);
	put_ip(&d->sock.remote, AF_INET, "127.0.0.53", 53);
	int n = res_mkquery(ns_o_query, "example.com", ns_c_in, ns_t_a, NULL, 0, NULL, d->payload, VG_DNS_PAYLOAD);
	assert_true(n > 12);
	d->len = (uint32_t)n;
	uint16_t id = (uint16_t)(d->payload[0] << 8 | d->payload[1]);
	struct vg_event *ev = event();
	encode(ev);
	FIELD("event.action", "\"dns_query\"");
	FIELD("dns.question.name", "\"example.com\"");
	FIELD("dns.question.type", "\"A\"");
	char idbuf[16];
	snprintf(idbuf, sizeof(idbuf), "%u", id);
	FIELD("dns.id", idbuf);
	FIELD("destination.ip", "\"127.0.0.53\"");
	FIELD("destination.port", "53");
	FIELD("network.transport", "\"udp\"");
	has("\"name\":\"example.com\"");
	vg_event_free(ev);

	/* an unknown type, then a payload cut short, then a length past the buffer */
	d = rb_init(&r, sizeof(*d), VG_EV_NET_DNS, VG_HOOK_DNS);
	fill_task(&d->h, 701, "dig");
	n = res_mkquery(ns_o_query, "weird.example", ns_c_in, 4242, NULL, 0, NULL, d->payload, VG_DNS_PAYLOAD);
	d->len = (uint32_t)n;
	ev = event();
	encode(ev);
	FIELD("dns.question.name", "\"weird.example\"");
	FIELD("dns.question.type", "\"TYPE4242\"");
	vg_event_free(ev);
	d->len = 14;
	ev = event();
	encode(ev);
	no_field("dns.question");
	vg_event_free(ev);
	d->len = 0xffffffff;
	memset(d->payload, 0xff, VG_DNS_PAYLOAD);
	ev = event();
	encode(ev);
	no_field("dns.question");
	vg_event_free(ev);
}

static void test_signal(void **state)
{
	struct vg_signal *s = rb_init(&r, sizeof(*s), VG_EV_SIGNAL, VG_HOOK_SIGNAL);
	fill_task(&s->h, 800, "kill");
	s->sig = 9;
	s->target_pid = 4243;
	s->code = 0;
	snprintf(s->target_comm, sizeof(s->target_comm), "victim");
	struct vg_event *ev = event();
	encode(ev);
	FIELD("event.action", "\"signal\"");
	FIELD("vigil.signal.number", "9");
	FIELD("vigil.signal.name", "\"SIGKILL\"");
	FIELD("vigil.target.pid", "4243");
	has("\"target_name\":\"victim\"");
	vg_event_free(ev);

	/* with the target's image; a real-time signal; a full comm without NUL */
	s = rb_init(&r, sizeof(*s), VG_EV_SIGNAL, VG_HOOK_SIGNAL);
	fill_task(&s->h, 801, "kill");
	s->sig = 40;
	s->target_pid = 4244;
	memset(s->target_comm, 'A', sizeof(s->target_comm));
	ev = event();
	ev->target = image(&pc, 4244, "/usr/sbin/victimd", LIT("victimd\0-f\0"), "/", NULL, 0);
	encode(ev);
	FIELD("vigil.signal.name", "\"SIGRT\"");
	FIELD("vigil.target.executable", "\"/usr/sbin/victimd\"");
	FIELD("vigil.target.args", "[\"victimd\",\"-f\"]");
	vg_event_free(ev);
}

static void test_exit(void **state)
{
	struct vg_exit *e = rb_init(&r, sizeof(*e), VG_EV_EXIT, VG_HOOK_EXIT);
	fill_task(&e->h, 900, "sleep");
	e->exit_code = 9; /* killed by SIGKILL */
	struct vg_event *ev = event();
	encode(ev);
	FIELD("event.action", "\"exit\"");
	FIELD("vigil.exit_code", "-1");
	FIELD("vigil.exit_signal", "9");
	has("\"exit_signal_name\":\"SIGKILL\"");
	has("\"core_dumped\":false");
	vg_event_free(ev);

	e->exit_code = 0x80 | 11; /* SIGSEGV with a core */
	ev = event();
	encode(ev);
	FIELD("vigil.exit_signal", "11");
	has("\"exit_signal_name\":\"SIGSEGV\"");
	has("\"core_dumped\":true");
	vg_event_free(ev);

	e->exit_code = 3 << 8; /* exit(3) */
	ev = event();
	encode(ev);
	FIELD("vigil.exit_code", "3");
	no_field("vigil.exit_signal");
	vg_event_free(ev);
}

static void test_container_and_cgroup(void **state)
{
	struct vg_fork *f = rb_init(&r, sizeof(*f), VG_EV_FORK, VG_HOOK_FORK);
	fill_task(&f->h, 1100, "bash");
	f->child_pid = 1101;
	struct cgroup_info cg = {.id = 4321, .path = "/system.slice/docker-x.scope"};
	snprintf(cg.container_id, sizeof(cg.container_id), "%064d", 7);
	snprintf(cg.runtime, sizeof(cg.runtime), "docker");
	struct vg_event *ev = event();
	ev->cgroup = &cg;
	encode(ev);
	FIELD("event.action", "\"fork\"");
	FIELD("vigil.child.pid", "1101");
	FIELD("container.runtime.name", "\"docker\"");
	FIELD("vigil.cgroup", "\"/system.slice/docker-x.scope\"");
	has("\"id\":\"0000000000000000000000000000000000000000000000000000000000000007\"");
	vg_event_free(ev);
}

static void test_metrics(void **state)
{
	rb_init(&r, sizeof(struct vg_hdr), 0, 0);
	struct vg_event *ev = event();
	ev->extra_json = strdup("{\"events_per_sec\":12,\"drops\":{\"exec\":0}}");
	encode(ev);
	FIELD("event.kind", "\"metric\"");
	FIELD("event.action", "\"vigil_metrics\"");
	FIELD("vigil.events_per_sec", "12");
	FIELD("vigil.drops.exec", "0");
	no_field("process");
	vg_event_free(ev);
}

/* Every record type, zero-filled and with hostile header strings:
 * always one valid JSON object with the right action. */
static void test_every_type(void **state)
{
	for (unsigned t = 1; t < VG_EV_TYPE_MAX; t++) {
		size_t min = 0;
		for (size_t pad = 0; pad <= 64; pad += 64) {
			min = vg_record_min_size(t);
			assert_true(min > 0);
			rb_init(&r, min + pad, t, 0);
			fill_task(&r.u.hdr, 1, "\x1b[31m\"}{");
			r.u.hdr.ret = (t & 1) ? -1 : (int64_t)INT64_MIN; /* EPERM; and the most negative */
			if (pad) {
				/* every byte after the header set, and a comm
				 * without its NUL (found by fuzz_record: it was
				 * read with strlen, past the end of the record) */
				memset(r.u.buf + sizeof(struct vg_hdr), 0xff, r.len - sizeof(struct vg_hdr));
				memset(r.u.hdr.task.comm, 'C', VG_COMM_LEN);
			}
			struct vg_event *ev = event();
			encode(ev);
			char want[64];
			snprintf(want, sizeof(want), "\"%s\"", vg_event_action(t));
			FIELD("event.action", want);
			FIELD("event.outcome", t == VG_EV_NET_CONNECT && r.u.hdr.ret == -EINPROGRESS ? "\"unknown\"" : "\"failure\"");
			FIELD("process.name", pad ? "\"CCCCCCCCCCCCCCCC\"" : "\"\\u001b[31m\\\"}{\"");
			vg_event_free(ev);
		}
	}
}

/* Random records of every type (random fixed fields, blobs pointing at
 * random strings: quotes, backslashes, control bytes, invalid and valid
 * UTF-8, NULs), with and without process images, parents, targets,
 * ancestors, containers, and sometimes more than VG_FLAT_MAX fields: the
 * flat built while encoding equals vg_flatten_json of the JSON. */
static uint64_t rs = 0x243F6A8885A308D3ULL;
static uint32_t rnd(void)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return (uint32_t)(rs >> 11);
}

static void rnd_text(char *out, size_t n)
{
	static const char pool[] = "abcXYZ019 ./-_=:\"\\\t\n\x01\x1f\x7f\xc3\xa9\xe2\x82\xac\xff\xfe\x80{}[],";
	for (size_t i = 0; i < n; i++) {
		uint32_t k = rnd() % 64;
		out[i] = k < 40 ? "abcdefghijklmnopqrstuvwxyz/._-0123456789"[k] : pool[rnd() % (sizeof(pool) - 1)];
		if (rnd() % 97 == 0)
			out[i] = 0;
	}
}

static struct proc_image *rnd_image(uint32_t pid)
{
	char exe[64], cwd[64], argv[6000], env[300];
	rnd_text(exe, 20);
	exe[0] = '/';
	exe[20] = 0;
	rnd_text(cwd, 12);
	cwd[0] = '/';
	cwd[12] = 0;
	size_t an = rnd() % 8 == 0 ? 1200 + rnd() % 4000 : rnd() % 200; /* sometimes > 512 args */
	for (size_t i = 0; i < an; i++)
		argv[i] = rnd() % 3 == 0 ? 0 : (char)("ab\"\\\x01\xc3\xa9z"[rnd() % 9]);
	argv[an] = 0;
	size_t en = 0;
	if (rnd() % 2)
		en += (size_t)snprintf(env + en, sizeof(env) - en, "LD_PRELOAD=/tmp/\"x\".so") + 1;
	if (rnd() % 2)
		en += (size_t)snprintf(env + en, sizeof(env) - en, "SSH_CONNECTION=1.2.3.4 5 6.7.8.9 22") + 1;
	struct proc_image *img = image(&pc, pid, exe, argv, an + 1, rnd() % 4 ? cwd : NULL, en ? env : NULL, en);
	if (rnd() % 2)
		for (int i = 0; i < 64; i++)
			img->sha256[i] = "0123456789abcdef"[rnd() % 16];
	return img;
}

static void test_flat_random(void **state)
{
	static struct cgroup_info cg = {.id = 7, .path = "/system.slice/\"x\".service", .runtime = "docker"};
	memset(cg.container_id, 'a', 64);
	unsigned accepted = 0;
	for (int it = 0; it < 4000; it++) {
		unsigned type = 1 + rnd() % (VG_EV_TYPE_MAX - 1);
		size_t fixed = vg_record_min_size(type);
		assert_true(fixed >= sizeof(struct vg_hdr));
		rb_init(&r, fixed, type, rnd() % VG_HOOK_MAX);
		for (size_t i = offsetof(struct vg_hdr, ts); i < fixed; i++)
			r.u.buf[i] = (uint8_t)rnd();
		if (rnd() % 2)
			r.u.hdr.ret = -(int64_t)(rnd() % 140);
		if (rnd() % 2)
			rnd_text(r.u.hdr.task.comm, VG_COMM_LEN);
		size_t dlen = rnd() % 700;
		char data[700];
		rnd_text(data, dlen);
		size_t base = r.len;
		if (dlen)
			rb_bytes(&r, data, dlen);
		/* blobs: every 4-aligned spot after the header may be one */
		for (size_t o = sizeof(struct vg_hdr); dlen && o + 4 <= fixed; o += 4) {
			if (rnd() % 3)
				continue;
			uint16_t off = (uint16_t)(base + rnd() % dlen);
			uint16_t len = (uint16_t)(1 + rnd() % (base + dlen - off));
			memcpy(r.u.buf + o, &off, 2);
			memcpy(r.u.buf + o + 2, &len, 2);
		}
		r.u.hdr.type = (uint16_t)type;
		r.u.hdr.size = (uint32_t)r.len;
		if (vg_record_check(r.u.buf, r.len))
			continue;
		accepted++;
		struct vg_event *ev = event();
		ev->wall_ns = (uint64_t)rnd() << 30 | rnd();
		if (rnd() % 3)
			ev->img = rnd_image(r.u.hdr.task.pid);
		if (rnd() % 3)
			ev->parent = rnd_image(r.u.hdr.task.ppid);
		if (rnd() % 4 == 0)
			ev->target = rnd_image(77);
		if (rnd() % 3 == 0)
			ev->cgroup = &cg;
		if (type == VG_EV_EXEC) {
			ev->nanc = (int)(rnd() % (VG_MAX_ANCESTORS + 1));
			for (int i = 0; i < ev->nanc; i++) {
				ev->anc_pid[i] = rnd();
				ev->anc[i] = rnd() % 2 ? rnd_image(ev->anc_pid[i]) : NULL;
			}
		}
		encode(ev); /* checks the flat */
		vg_event_free(ev);
	}
	assert_true(accepted > 3000);
	assert_true(flat_checks > 3000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exec),
		cmocka_unit_test(test_exec_no_image),
		cmocka_unit_test(test_image_cache),
		cmocka_unit_test(test_image_cache_full_flat),
		cmocka_unit_test(test_process_cache),
		cmocka_unit_test(test_file_rename_relative),
		cmocka_unit_test(test_file_one_path),
		cmocka_unit_test(test_file_xattr_and_flags),
		cmocka_unit_test(test_connect_ipv4),
		cmocka_unit_test(test_connect_ipv6),
		cmocka_unit_test(test_dns),
		cmocka_unit_test(test_signal),
		cmocka_unit_test(test_exit),
		cmocka_unit_test(test_container_and_cgroup),
		cmocka_unit_test(test_metrics),
		cmocka_unit_test(test_every_type),
		cmocka_unit_test(test_flat_random),
	};
	return cmocka_run_group_tests_name("json", tests, setup, teardown);
}
