/* Writes seed inputs for the fuzz targets into DIR/<target>/: well-formed
 * sensor records of several types (built against bpf/records.h, so they
 * follow its layouts), real DNS queries and a configuration that uses
 * every key. Usage: gen_seeds DIR */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netinet/in.h>
#include <resolv.h>
#include <sys/socket.h>
#include "../unit/recbuild.h"

static const char *dir;
static struct rb r;

static void save(const char *target, const char *name, const void *data, size_t n)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, target);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/%s/%s", dir, target, name);
	FILE *f = fopen(p, "wb");
	if (!f || fwrite(data, 1, n, f) != n) {
		perror(p);
		exit(1);
	}
	fclose(f);
}

static void task(struct vg_hdr *h)
{
	h->ts = 123456789;
	h->task.pid = 4242;
	h->task.tid = 4242;
	h->task.ppid = 1;
	h->task.uid = 1000;
	h->task.start_ns = 99;
	memcpy(h->task.comm, "seed", 5);
}

static void rec(const char *name)
{
	save("fuzz_record", name, r.u.buf, r.len);
}

static int dns_query(uint8_t *buf, size_t cap, const char *name, int type)
{
	return res_mkquery(ns_o_query, name, ns_c_in, type, NULL, 0, NULL, buf, (int)cap);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: gen_seeds DIR\n");
		return 2;
	}
	dir = argv[1];
	mkdir(dir, 0755);

	struct vg_exec *x = rb_init(&r, sizeof(*x), VG_EV_EXEC, VG_HOOK_EXEC);
	task(&x->h);
	x->flags = VG_EXE_MEMFD;
	x->filename = rb_str(&r, "./run.sh");
	x->interp = rb_str(&r, "/bin/sh");
	x->exe = rb_str(&r, "/bin/sh");
	x->argv = rb_bytes(&r, "sh\0./run.sh\0", 12);
	x->env = rb_bytes(&r, "LD_PRELOAD=/x.so\0", 17);
	x->cwd = rb_str(&r, "/tmp");
	x->fd[0].kind = VG_FD_TTY;
	x->fd[0].path = rb_str(&r, "/dev/pts/0");
	x->fd[1].kind = VG_FD_SOCKET;
	x->fd[1].sock.family = AF_INET;
	x->fd[1].sock.local.family = AF_INET;
	rec("exec");

	struct vg_exec_fail *xf = rb_init(&r, sizeof(*xf), VG_EV_EXEC_FAIL, VG_HOOK_EXEC_FAIL);
	task(&xf->h);
	xf->h.ret = -2;
	xf->filename = rb_str(&r, "/nonexistent");
	rec("exec_fail");

	struct vg_file2 *f2 = rb_init(&r, sizeof(*f2), VG_EV_FILE_RENAME, VG_HOOK_RENAME);
	task(&f2->h);
	f2->src.path = rb_str(&r, "a.txt");
	f2->src.base = rb_str(&r, "/home/u");
	f2->dst.path = rb_str(&r, "../b/./c");
	f2->dst.base = rb_str(&r, "/home/u/d");
	rec("rename");
	f2->h.type = VG_EV_FILE_SYMLINK;
	rec("symlink");

	struct vg_file *f = rb_init(&r, sizeof(*f), VG_EV_FILE_CHMOD, VG_HOOK_CHMOD);
	task(&f->h);
	f->mode = 04755;
	f->old_mode = 0644;
	f->target.path = rb_str(&r, "/usr/local/bin/x");
	rec("chmod");
	f->h.type = VG_EV_FILE_UTIMES;
	f->h.hook = VG_HOOK_UTIMES;
	rec("utimes");

	static const uint8_t caps[20] = {0x01, 0, 0, 0x02, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x80, 0, 0, 0};
	struct vg_xattr *xa = rb_init(&r, sizeof(*xa), VG_EV_FILE_XATTR_SET, VG_HOOK_ATTR);
	task(&xa->h);
	xa->size = sizeof(caps);
	xa->target.path = rb_str(&r, "/tmp/python3");
	xa->name = rb_str(&r, "security.capability");
	xa->value = rb_bytes(&r, caps, sizeof(caps));
	rec("xattr_caps");
	static const uint8_t acl[28] = {2, 0, 0, 0, 1, 0, 6, 0, 0xff, 0xff, 0xff, 0xff, 2, 0, 7, 0, 0xe8, 3, 0, 0,
					0x20, 0, 4, 0, 0xff, 0xff, 0xff, 0xff};
	xa = rb_init(&r, sizeof(*xa), VG_EV_FILE_XATTR_SET, VG_HOOK_ATTR);
	task(&xa->h);
	xa->size = sizeof(acl);
	xa->target.path = rb_str(&r, "shadow");
	xa->target.base = rb_str(&r, "/etc");
	xa->name = rb_str(&r, "system.posix_acl_access");
	xa->value = rb_bytes(&r, acl, sizeof(acl));
	rec("xattr_acl");
	struct vg_fsflags *ff = rb_init(&r, sizeof(*ff), VG_EV_FILE_FLAGS, VG_HOOK_ATTR);
	task(&ff->h);
	ff->flags = 0x10;
	ff->target.path = rb_str(&r, "/etc/ld.so.preload");
	rec("fsflags");

	struct vg_net *n = rb_init(&r, sizeof(*n), VG_EV_NET_CONNECT, VG_HOOK_CONNECT);
	task(&n->h);
	n->sock.family = AF_INET6;
	n->sock.type = SOCK_STREAM;
	n->addr.family = AF_INET6;
	n->addr.port = 443;
	inet_pton(AF_INET6, "2001:db8::1", n->addr.addr);
	rec("connect6");
	n->h.type = VG_EV_NET_ACCEPT;
	n->h.hook = VG_HOOK_ACCEPT;
	n->sock.family = AF_INET;
	n->sock.remote.family = AF_INET;
	inet_pton(AF_INET, "127.0.0.1", n->sock.remote.addr);
	rec("accept4");

	struct vg_dns *d = rb_init(&r, sizeof(*d), VG_EV_NET_DNS, VG_HOOK_DNS);
	task(&d->h);
	d->sock.family = AF_INET;
	d->sock.type = SOCK_DGRAM;
	int len = dns_query(d->payload, VG_DNS_PAYLOAD, "www.example.com", ns_t_aaaa);
	d->len = len > 0 ? (uint32_t)len : 0;
	rec("dns");
	save("fuzz_dns", "aaaa", d->payload, d->len);
	uint8_t q[512];
	len = dns_query(q, sizeof(q), "example.com", ns_t_a);
	save("fuzz_dns", "a", q, (size_t)len);
	len = dns_query(q, sizeof(q), "_dmarc.a-b.example.org", ns_t_txt);
	save("fuzz_dns", "txt", q, (size_t)len);

	struct vg_signal *s = rb_init(&r, sizeof(*s), VG_EV_SIGNAL, VG_HOOK_SIGNAL);
	task(&s->h);
	s->sig = 9;
	s->target_pid = 1;
	memcpy(s->target_comm, "victim", 7);
	rec("signal");

	struct vg_exit *e = rb_init(&r, sizeof(*e), VG_EV_EXIT, VG_HOOK_EXIT);
	task(&e->h);
	e->exit_code = 0x80 | 11;
	rec("exit");

	struct vg_module *m = rb_init(&r, sizeof(*m), VG_EV_MODULE_LOAD, VG_HOOK_MODULE);
	task(&m->h);
	m->syscall = 1;
	m->name = rb_str(&r, "/tmp/evil.ko");
	m->args = rb_str(&r, "debug=1");
	rec("module");

	struct vg_mount *mt = rb_init(&r, sizeof(*mt), VG_EV_MOUNT, VG_HOOK_MOUNT);
	task(&mt->h);
	mt->source = rb_str(&r, "/dev/sda1");
	mt->target.path = rb_str(&r, "mnt");
	mt->target.base = rb_str(&r, "/");
	mt->fstype = rb_str(&r, "ext4");
	rec("mount");

	struct vg_memfd *mf = rb_init(&r, sizeof(*mf), VG_EV_MEMFD, VG_HOOK_MEMFD);
	task(&mf->h);
	mf->name = rb_str(&r, "payload");
	rec("memfd");

	struct vg_creds *c = rb_init(&r, sizeof(*c), VG_EV_CRED_CHANGE, VG_HOOK_CREDS);
	task(&c->h);
	c->old_uid = 1000;
	rec("creds");

	static const char conf[] =
		"# every key\nevents_out = /var/log/vigil/events.json\nringbuf_mb = 32\nargv_max = 4096\n"
		"env_max = 1024\nqueue_max = 65536\nmetrics_interval = 30\nhash_max_mb = 64\n"
		"module_fallback = off\nbatch_scheduling = off\nhook.truncate = off\nrate.open = 1000\n"
		"ignore_exe = /usr/sbin/backup-agent\nignore_cgroup = /system.slice/backup.service\n"
		"ignore_path = /var/cache/\nwatch_path = /srv/\nsensitive = /etc/app/*.key\n";
	save("fuzz_config", "all_keys.conf", conf, sizeof(conf) - 1);
	return 0;
}
