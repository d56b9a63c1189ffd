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
		/* a "_raw" program without a number would be attached to the
		 * global sys_exit and run after every syscall of the host */
		size_t nlen = strlen(q->name);
		if (nlen > 4 && strcmp(q->name + nlen - 4, "_raw") == 0 && !q->exit_nr)
			fail_msg("%s is a raw twin without a syscall number", q->name);
		/* the module fallback handles these 32-bit numbers itself: a
		 * program in their slots would take them by tail call (and
		 * leave them, as compat calls) before the fallback saw them */
		if (q->exit_nr == 128 || q->exit_nr == 129 || q->exit_nr == 350)
			fail_msg("%s takes slot %d, a 32-bit module syscall", q->name, q->exit_nr);
		/* a raw twin's tracepoint program is in the same object */
		if (q->exit_nr) {
			char twin[128];
			size_t len = strlen(q->name);
			assert_true(len > 4 && strcmp(q->name + len - 4, "_raw") == 0);
			snprintf(twin, sizeof(twin), "%.*s", (int)(len - 4), q->name);
			assert_non_null(sensor_prog_lookup(twin));
		}
	}
	close_all(&o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_program_has_an_entry),
		cmocka_unit_test(test_every_entry_has_a_program),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
