/* Internal to src/sensor: which hook each BPF program feeds. */
#ifndef VIGIL_SENSOR_HOOKS_H
#define VIGIL_SENSOR_HOOKS_H
#include "sensor.h"

struct sensor_prog_info {
	const char *name;
	int hook;
	const char *fallback_for; /* "category/event" tracepoint it replaces */
	int exit_nr;              /* a syscall exit handler (bpf/exits.h): its x86-64
				   * syscall number, the slot of vg_exit_progs it takes
				   * under dispatch; 0: not one */
	bool raw;                 /* its object's raw exit program: tail-called
				   * through vg_exit_progs, never attached */
};
extern const struct sensor_prog_info sensor_progs[];
const struct sensor_prog_info *sensor_prog_lookup(const char *name);

#endif
