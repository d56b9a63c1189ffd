/* One event as one readable line: its key detail per action. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include "cli.h"

const char *ev_basename(const char *path)
{
	if (!path)
		return "";
	const char *s = strrchr(path, '/');
	return s && s[1] ? s + 1 : path;
}

void ev_info(const struct jnode *ev, struct evinfo *o)
{
	memset(o, 0, sizeof(*o));
	const char *t = jstr(ev, "@timestamp", NULL);
	if (t && vg_parse_rfc3339(t, &o->ts))
		o->ts = 0;
	o->action = jstr(ev, "event.action", "?");
	o->host = jstr(ev, "host.name", "");
	o->pid = jint(ev, "process.pid", -1);
	o->sid = jint(ev, "vigil.sid", -1);
	o->start_ns = (uint64_t)jint(ev, "process.start_ns", 0);
	o->exe = jstr(ev, "process.executable", NULL);
	o->name = jstr(ev, "process.name", "");
	o->cmdline = jstr(ev, "process.command_line", NULL);
}

enum cli_color ev_color(const char *a)
{
	if (!a)
		return CC_RESET;
	if (!strcmp(a, "exec"))
		return CC_GREEN;
	if (!strncmp(a, "exec", 4) || !strcmp(a, "fork") || !strcmp(a, "exit") || !strcmp(a, "setsid"))
		return CC_DIM;
	if (!strncmp(a, "file_", 5) || !strcmp(a, "memfd_create"))
		return CC_YELLOW;
	if (!strcmp(a, "connect") || !strcmp(a, "accept") || !strcmp(a, "bind") || !strcmp(a, "listen") ||
	    !strcmp(a, "dns_query") || !strcmp(a, "socket_raw"))
		return CC_MAGENTA;
	if (!strcmp(a, "cred_change") || !strcmp(a, "ptrace") || !strncmp(a, "module", 6) ||
	    !strcmp(a, "bpf_prog_load") || !strcmp(a, "mount") || !strcmp(a, "umount") || !strcmp(a, "comm_change"))
		return CC_RED;
	return CC_CYAN;
}

static void put_addr(struct strbuf *o, const struct jnode *ev, const char *side)
{
	char k[32];
	snprintf(k, sizeof(k), "%s.ip", side);
	const char *ip = jstr(ev, k, NULL);
	snprintf(k, sizeof(k), "%s.port", side);
	const char *port = jstr(ev, k, NULL);
	if (!ip) {
		sb_puts(o, "?");
		return;
	}
	if (strchr(ip, ':'))
		sb_printf(o, "[%s]", ip);
	else
		sb_puts(o, ip);
	if (port)
		sb_printf(o, ":%s", port);
}

/* args after argv[0], space-joined, as the command line shows them */
static void put_cmd(struct strbuf *o, const struct jnode *proc)
{
	const char *cl = jstr(proc, "command_line", NULL);
	const char *exe = jstr(proc, "executable", NULL);
	if (exe)
		sb_puts(o, exe);
	const struct jnode *args = jget(proc, "args");
	if (args && args->type == JV_ARR && args->n > 1) {
		for (const struct jnode *a = args->child->next; a; a = a->next) {
			sb_putc(o, ' ');
			const char *s = jtext(a, "");
			if (!*s || strpbrk(s, " \t\n'\"")) {
				sb_putc(o, '\'');
				for (; *s; s++) {
					if (*s == '\'')
						sb_puts(o, "'\\''");
					else if (*s == '\n')
						sb_puts(o, "\\n");
					else
						sb_putc(o, *s);
				}
				sb_putc(o, '\'');
			} else {
				sb_puts(o, s);
			}
		}
	} else if (cl && !exe) {
		sb_puts(o, cl);
	}
}

static void put_target(struct strbuf *o, const struct jnode *ev)
{
	const char *tp = jstr(ev, "vigil.target.pid", NULL);
	if (!tp)
		return;
	sb_printf(o, " pid %s", tp);
	const char *te = jstr(ev, "vigil.target.executable", NULL);
	if (!te)
		te = jstr(ev, "vigil.target_name", NULL);
	if (te)
		sb_printf(o, " (%s)", te);
}

void ev_detail(const struct jnode *ev, struct strbuf *o)
{
	const char *a = jstr(ev, "event.action", "");
	const char *path = jstr(ev, "file.path", NULL);
	if (!strcmp(a, "exec")) {
		put_cmd(o, jget(ev, "process"));
		const char *script = jstr(ev, "vigil.exec.script.path", NULL);
		if (!script)
			script = jstr(ev, "vigil.exec.script", NULL);
		if (script)
			sb_printf(o, "  [script %s]", script);
		if (jbool(ev, "vigil.exec.fileless", false))
			sb_puts(o, jbool(ev, "vigil.exec.memfd", false) ? "  [memfd]" :
				   jbool(ev, "vigil.exec.deleted", false) ? "  [deleted file]" : "  [tmpfs]");
		if (jbool(ev, "vigil.exec.setuid", false))
			sb_puts(o, "  [setuid]");
		const struct jnode *env = jget(ev, "process.env_vars");
		for (const struct jnode *e = env && env->type == JV_ARR ? env->child : NULL; e; e = e->next)
			if (!strncmp(jtext(e, ""), "LD_PRELOAD=", 11))
				sb_printf(o, "  [%s]", jtext(e, ""));
	} else if (!strcmp(a, "exec_failed")) {
		sb_puts(o, path ? path : "?");
	} else if (!strcmp(a, "fork")) {
		sb_printf(o, "child %s", jstr(ev, "vigil.child.pid", "?"));
	} else if (!strcmp(a, "exit")) {
		const char *sig = jstr(ev, "vigil.exit_signal_name", NULL);
		if (sig)
			sb_printf(o, "killed by %s%s", sig, jbool(ev, "vigil.core_dumped", false) ? " (core dumped)" : "");
		else
			sb_printf(o, "exit code %s", jstr(ev, "vigil.exit_code", "?"));
	} else if (!strcmp(a, "setsid")) {
		sb_printf(o, "new session %s", jstr(ev, "vigil.sid", "?"));
	} else if (!strcmp(a, "comm_change")) {
		sb_printf(o, "%s -> %s", jstr(ev, "vigil.comm.old", "?"), jstr(ev, "vigil.comm.new", "?"));
		if (jbool(ev, "vigil.comm.kernel_thread_like", false))
			sb_puts(o, "  [kernel thread look-alike]");
	} else if (!strcmp(a, "memfd_create")) {
		sb_printf(o, "memfd:%s", jstr(ev, "file.name", ""));
	} else if (!strcmp(a, "file_rename")) {
		sb_printf(o, "%s -> %s", jstr(ev, "vigil.file.old_path", "?"), path ? path : "?");
	} else if (!strcmp(a, "file_link") || !strcmp(a, "file_symlink")) {
		sb_printf(o, "%s -> %s", path ? path : "?", jstr(ev, "file.target_path", "?"));
	} else if (!strcmp(a, "file_chmod")) {
		sb_printf(o, "%s mode %s", path ? path : "?", jstr(ev, "file.mode", "?"));
		const char *old = jstr(ev, "vigil.file.old_mode", NULL);
		if (old)
			sb_printf(o, " (was %s)", old);
		if (jbool(ev, "vigil.file.exec_added", false))
			sb_puts(o, "  [+x]");
		if (jbool(ev, "vigil.file.setuid_added", false))
			sb_puts(o, "  [+setuid]");
	} else if (!strcmp(a, "file_chown")) {
		sb_printf(o, "%s owner %s:%s", path ? path : "?", jstr(ev, "file.uid", "?"), jstr(ev, "file.gid", "?"));
	} else if (!strncmp(a, "file_", 5)) {
		sb_puts(o, path ? path : "?");
	} else if (!strcmp(a, "connect")) {
		sb_printf(o, "%s ", jstr(ev, "network.transport", "?"));
		if (jget(ev, "source.ip")) {
			put_addr(o, ev, "source");
			sb_puts(o, " -> ");
		}
		put_addr(o, ev, "destination");
	} else if (!strcmp(a, "accept")) {
		sb_printf(o, "%s ", jstr(ev, "network.transport", "?"));
		put_addr(o, ev, "destination");
		sb_puts(o, " <- ");
		put_addr(o, ev, "source");
	} else if (!strcmp(a, "bind") || !strcmp(a, "listen")) {
		sb_printf(o, "%s ", jstr(ev, "network.transport", "?"));
		put_addr(o, ev, "source");
	} else if (!strcmp(a, "dns_query")) {
		sb_printf(o, "%s %s", jstr(ev, "dns.question.name", "?"), jstr(ev, "dns.question.type", ""));
	} else if (!strcmp(a, "socket_raw")) {
		sb_printf(o, "%s raw socket, protocol %s", jstr(ev, "vigil.socket.family_name", "?"),
			  jstr(ev, "vigil.socket.protocol", "?"));
	} else if (!strcmp(a, "cred_change")) {
		sb_printf(o, "%s uid %s -> %s", jstr(ev, "vigil.creds.syscall", "?"),
			  jstr(ev, "vigil.creds.old_uid.effective", jstr(ev, "vigil.creds.old_uid", "?")),
			  jstr(ev, "vigil.creds.new_uid.effective", jstr(ev, "vigil.creds.new_uid", "?")));
		if (jbool(ev, "vigil.creds.gained_root", false))
			sb_puts(o, "  [gained root]");
	} else if (!strcmp(a, "ptrace")) {
		sb_puts(o, jstr(ev, "vigil.ptrace.request_name", "?"));
		put_target(o, ev);
	} else if (!strcmp(a, "signal")) {
		sb_puts(o, jstr(ev, "vigil.signal.name", "?"));
		put_target(o, ev);
	} else if (!strcmp(a, "module_load") || !strcmp(a, "module_unload")) {
		const char *m = jstr(ev, "vigil.module.path", NULL);
		sb_printf(o, "%s %s", jstr(ev, "vigil.module.syscall", "?"), m ? m : jstr(ev, "vigil.module.name", ""));
	} else if (!strcmp(a, "mount") || !strcmp(a, "umount")) {
		const char *tgt = jstr(ev, "vigil.mount.target.path", NULL);
		if (!tgt)
			tgt = jstr(ev, "vigil.mount.target", "?");
		if (!strcmp(a, "mount"))
			sb_printf(o, "%s on %s type %s", jstr(ev, "vigil.mount.source", "?"), tgt,
				  jstr(ev, "vigil.mount.fstype", "?"));
		else
			sb_puts(o, tgt);
	} else if (!strcmp(a, "bpf_prog_load")) {
		sb_printf(o, "prog '%s' type %s, %s insns", jstr(ev, "vigil.bpf.prog_name", ""),
			  jstr(ev, "vigil.bpf.prog_type", "?"), jstr(ev, "vigil.bpf.insn_cnt", "?"));
	} else if (path) {
		sb_puts(o, path);
	}
	const char *err = jstr(ev, "error.code", NULL);
	if (err)
		sb_printf(o, "  [%s]", err);
}
