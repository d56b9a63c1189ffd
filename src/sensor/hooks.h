/* Internal to src/sensor: which hook each BPF program feeds. */
#ifndef VIGIL_SENSOR_HOOKS_H
#define VIGIL_SENSOR_HOOKS_H
#include "sensor.h"

/* A syscall exit handler (bpf/exits.h). */
struct sensor_exit_info {
	const char *handler;
	const char *syscall; /* its tracepoint: syscalls/sys_exit_<syscall> */
	int nr;              /* x86-64 number: its slot of vg_exit_progs under
			      * dispatch, its BPF cookie on the tracepoint */
	int hook;
};

struct sensor_prog_info {
	const char *name;
	int hook;                 /* -1 for an exit program: its handlers' hooks */
	const char *fallback_for; /* "category/event" tracepoint it replaces */
	/* an exit program (VG_EXIT_PROGRAMS in bpf/common.bpf.h): the
	 * handlers it runs, up to one with no handler name; NULL otherwise */
	const struct sensor_exit_info *exits;
	bool raw; /* the raw one: tail-called through vg_exit_progs, never
		   * attached; else the tracepoint one */
};
extern const struct sensor_prog_info sensor_progs[];
const struct sensor_prog_info *sensor_prog_lookup(const char *name);

#endif
