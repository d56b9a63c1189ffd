/* hooks: the table of BPF programs (src/sensor/hooks.c) names exactly the
 * programs the BPF objects hold. A program without an entry is never
 * loaded; an entry without a program is dead weight that hides renames.
 * Opening a skeleton parses its ELF only: no privileges needed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <cmocka.h>
#include <bpf/libbpf.h>
#include "sensor/hooks.h"
#include "process.skel.h"
#include "file.skel.h"
#include "net.skel.h"
#include "priv.skel.h"

struct objs {
	struct vgskel_process *process;
	struct vgskel_file *file;
	struct vgskel_net *net;
	struct vgskel_priv *priv;
	struct bpf_object *all[4];
};

static int no_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level, (void)fmt, (void)ap;
	return 0;
}

static void open_all(struct objs *o)
{
	libbpf_set_print(no_print);
	o->process = vgskel_process__open();
	o->file = vgskel_file__open();
	o->net = vgskel_net__open();
	o->priv = vgskel_priv__open();
	assert_non_null(o->process);
	assert_non_null(o->file);
	assert_non_null(o->net);
	assert_non_null(o->priv);
	o->all[0] = o->process->obj;
	o->all[1] = o->file->obj;
	o->all[2] = o->net->obj;
	o->all[3] = o->priv->obj;
}

static void close_all(struct objs *o)
{
	vgskel_process__destroy(o->process);
	vgskel_file__destroy(o->file);
	vgskel_net__destroy(o->net);
	vgskel_priv__destroy(o->priv);
}

static void test_every_program_has_an_entry(void **state)
{
	(void)state;
	struct objs o;
	open_all(&o);
	int n = 0;
	for (int i = 0; i < 4; i++) {
		struct bpf_program *p;
		bpf_object__for_each_program(p, o.all[i])
		{
			const char *name = bpf_program__name(p);
			if (!sensor_prog_lookup(name))
				fail_msg("BPF program %s has no entry in sensor_progs", name);
			n++;
		}
	}
	assert_true(n >= 40);
	close_all(&o);
}

static void test_every_entry_has_a_program(void **state)
{
	(void)state;
	struct objs o;
	open_all(&o);
	for (const struct sensor_prog_info *q = sensor_progs; q->name; q++) {
		bool found = false;
		for (int i = 0; i < 4 && !found; i++)
			found = bpf_object__find_program_by_name(o.all[i], q->name) != NULL;
		if (!found)
			fail_msg("sensor_progs entry %s names no BPF program", q->name);
	}
	close_all(&o);
}

/* Each object with exit handlers has its two exit programs, in the right
 * sections: a tp_btf/sys_exit program that is not the raw exit program
 * would be attached to the global sys_exit and run after every syscall of
 * the host (only the dispatcher may). */
static void test_exit_programs(void **state)
{
	(void)state;
	struct objs o;
	open_all(&o);
	for (int i = 0; i < 4; i++) {
		const struct sensor_exit_info *raw_list = NULL, *tp_list = NULL;
		struct bpf_program *p;
		bpf_object__for_each_program(p, o.all[i])
		{
			const struct sensor_prog_info *info = sensor_prog_lookup(bpf_program__name(p));
			assert_non_null(info);
			const char *sec = bpf_program__section_name(p);
			if (strcmp(sec, "tp_btf/sys_exit") == 0 && !info->raw &&
			    strcmp(info->name, "vg_module_fallback") != 0)
				fail_msg("%s is on the global sys_exit but not a raw exit program", info->name);
			if (!info->exits)
				continue;
			if (info->raw && strcmp(sec, "tp_btf/sys_exit") != 0)
				fail_msg("raw exit program %s is in section %s", info->name, sec);
			if (!info->raw && strcmp(sec, "tracepoint") != 0)
				fail_msg("tracepoint exit program %s is in section %s", info->name, sec);
			if (info->raw ? raw_list != NULL : tp_list != NULL)
				fail_msg("object %d has two %s exit programs", i, info->raw ? "raw" : "tracepoint");
			*(info->raw ? &raw_list : &tp_list) = info->exits;
		}
		if (raw_list != tp_list)
			fail_msg("object %d: its raw and tracepoint exit programs run different handlers", i);
	}
	close_all(&o);
}

#if defined(__x86_64__)
#ifndef __NR_fchmodat2
#define __NR_fchmodat2 452 /* Linux 6.6; older uapi headers lack it */
#endif
#ifndef __NR_setxattrat
#define __NR_setxattrat 463 /* Linux 6.13 */
#define __NR_removexattrat 466
#endif
/* The x86-64 number of the syscall whose exit tracepoint is
 * syscalls/sys_exit_<name>, from the system's own headers. */
static int x86_64_nr(const char *name)
{
#define NR(sc) {#sc, __NR_##sc}
	static const struct {
		const char *tp;
		int nr;
	} table[] = {
		NR(execve),    NR(setsid),    NR(memfd_create), NR(execveat),  NR(open),
		NR(truncate),  NR(ftruncate), NR(rename),	NR(rmdir),     NR(creat),
		NR(link),      NR(unlink),    NR(symlink),	NR(chmod),     NR(fchmod),
		NR(chown),     NR(fchown),    NR(lchown),	NR(utime),     NR(utimes),
		NR(openat),    NR(fchownat),  NR(futimesat),	NR(unlinkat),  NR(renameat),
		NR(linkat),    NR(symlinkat), NR(fchmodat),	NR(utimensat), NR(renameat2),
		NR(openat2),   NR(fchmodat2), NR(socket),	NR(connect),   NR(accept),
		NR(bind),      NR(listen),    NR(accept4),	NR(ptrace),    NR(setuid),
		NR(setgid),    NR(setreuid),  NR(setregid),	NR(setresuid), NR(setresgid),
		NR(setfsuid),  NR(setfsgid),  NR(capset),	NR(mount),     {"umount", __NR_umount2},
		NR(process_vm_writev), NR(process_vm_readv), NR(bpf), NR(move_mount), NR(ioctl),  NR(setxattr),
		NR(lsetxattr), NR(fsetxattr), NR(removexattr), NR(lremovexattr), NR(fremovexattr),
		NR(setxattrat), NR(removexattrat),
	};
#undef NR
	for (size_t k = 0; k < sizeof(table) / sizeof(table[0]); k++)
		if (strcmp(table[k].tp, name) == 0)
			return table[k].nr;
	return -1;
}
#endif

/* Every handler's number is its syscall's x86-64 number (the dispatcher
 * indexes vg_exit_progs by the saved syscall number), once. */
static void test_exit_numbers(void **state)
{
	(void)state;
	int seen[VG_EXIT_PROGS] = {0}, handlers = 0;
	for (const struct sensor_prog_info *q = sensor_progs; q->name; q++) {
		if (!q->exits || !q->raw)
			continue;
		for (const struct sensor_exit_info *e = q->exits; e->handler; e++) {
			if (e->nr <= 0 || e->nr >= VG_EXIT_PROGS)
				fail_msg("%s: number %d is outside vg_exit_progs", e->handler, e->nr);
			/* the module fallback handles these 32-bit numbers itself: a
			 * program in their slots would take them by tail call (and
			 * leave them, as compat calls) before the fallback saw them */
			if (e->nr == 128 || e->nr == 129 || e->nr == 350)
				fail_msg("%s takes slot %d, a 32-bit module syscall", e->handler, e->nr);
			if (seen[e->nr]++)
				fail_msg("%s: slot %d is taken twice", e->handler, e->nr);
			if (e->hook < 0 || e->hook >= VG_HOOK_MAX)
				fail_msg("%s: no hook", e->handler);
#if defined(__x86_64__)
			if (x86_64_nr(e->syscall) != e->nr)
				fail_msg("%s (sys_exit_%s) takes slot %d; x86-64 numbers it %d", e->handler,
					 e->syscall, e->nr, x86_64_nr(e->syscall));
#endif
			handlers++;
		}
	}
	assert_true(handlers >= 52);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_program_has_an_entry),
		cmocka_unit_test(test_every_entry_has_a_program),
		cmocka_unit_test(test_exit_programs),
		cmocka_unit_test(test_exit_numbers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
