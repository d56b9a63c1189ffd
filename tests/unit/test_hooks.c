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
	assert_true(n > 50);
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
		/* the module fallback handles these 32-bit numbers itself: a
		 * program in their slots would take them by tail call (and
		 * leave them, as compat calls) before the fallback saw them */
		if (q->exit_nr == 128 || q->exit_nr == 129 || q->exit_nr == 350)
			fail_msg("%s takes slot %d, a 32-bit module syscall", q->name, q->exit_nr);
		if (q->exit_nr <= 0 && !q->raw)
			continue;
		if (q->raw && q->exit_nr)
			fail_msg("raw exit program %s has a syscall number", q->name);
		if (q->exit_nr >= VG_EXIT_PROGS)
			fail_msg("%s: syscall %d is past vg_exit_progs", q->name, q->exit_nr);
		/* one handler per slot */
		for (const struct sensor_prog_info *r = sensor_progs; r != q; r++)
			if (q->exit_nr && r->exit_nr == q->exit_nr)
				fail_msg("%s and %s both take slot %d", r->name, q->name, q->exit_nr);
	}
	close_all(&o);
}

/* An object's exit handlers are dispatched to its raw exit program, so an
 * object with handlers has exactly one, and a raw program lives with the
 * handlers it runs. A tp_btf/sys_exit program that is not marked raw
 * would be attached to the global sys_exit and run after every syscall of
 * the host (only the dispatcher may). */
static void test_raw_exit_programs(void **state)
{
	(void)state;
	struct objs o;
	open_all(&o);
	for (int i = 0; i < 4; i++) {
		int handlers = 0, raws = 0;
		struct bpf_program *p;
		bpf_object__for_each_program(p, o.all[i])
		{
			const struct sensor_prog_info *info = sensor_prog_lookup(bpf_program__name(p));
			assert_non_null(info);
			if (info->exit_nr)
				handlers++;
			if (info->raw)
				raws++;
			if (strcmp(bpf_program__section_name(p), "tp_btf/sys_exit") == 0 && !info->raw &&
			    strcmp(info->name, "vg_module_fallback") != 0)
				fail_msg("%s is on the global sys_exit but not a raw exit program", info->name);
			if (info->raw && strcmp(bpf_program__section_name(p), "tp_btf/sys_exit") != 0)
				fail_msg("raw exit program %s is in section %s", info->name,
					 bpf_program__section_name(p));
		}
		if (handlers && raws != 1)
			fail_msg("object %d has %d exit handlers and %d raw exit programs", i, handlers, raws);
		if (!handlers && raws)
			fail_msg("object %d has a raw exit program and no exit handlers", i);
	}
	close_all(&o);
}

#if defined(__x86_64__)
#ifndef __NR_fchmodat2
#define __NR_fchmodat2 452 /* Linux 6.6; older uapi headers lack it */
#endif
/* Every exit handler's slot is the number the system's own headers give
 * the syscall of its tracepoint (sys_exit_<syscall>). */
static void test_exit_numbers_match_tracepoints(void **state)
{
	(void)state;
#define NR(sc) {#sc, __NR_##sc}
	static const struct {
		const char *tp;
		int nr;
	} x86_64[] = {
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
		NR(bpf),       NR(move_mount),
	};
#undef NR
	struct objs o;
	open_all(&o);
	int checked = 0;
	for (int i = 0; i < 4; i++) {
		struct bpf_program *p;
		bpf_object__for_each_program(p, o.all[i])
		{
			const struct sensor_prog_info *info = sensor_prog_lookup(bpf_program__name(p));
			if (!info || !info->exit_nr)
				continue;
			const char *sec = bpf_program__section_name(p);
			const char *pre = "tracepoint/syscalls/sys_exit_";
			if (strncmp(sec, pre, strlen(pre)) != 0)
				fail_msg("exit handler %s is in section %s", info->name, sec);
			const char *tp = sec + strlen(pre);
			int want = -1;
			for (size_t k = 0; k < sizeof(x86_64) / sizeof(x86_64[0]); k++)
				if (strcmp(x86_64[k].tp, tp) == 0)
					want = x86_64[k].nr;
			if (want != info->exit_nr)
				fail_msg("%s (sys_exit_%s) takes slot %d; x86-64 numbers it %d", info->name, tp,
					 info->exit_nr, want);
			checked++;
		}
	}
	assert_int_equal(checked, sizeof(x86_64) / sizeof(x86_64[0]));
	close_all(&o);
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_program_has_an_entry),
		cmocka_unit_test(test_every_entry_has_a_program),
		cmocka_unit_test(test_raw_exit_programs),
#if defined(__x86_64__)
		cmocka_unit_test(test_exit_numbers_match_tracepoints),
#endif
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
