/* Internal to src/sensor: which hook each BPF program feeds. */
#ifndef VIGIL_SENSOR_HOOKS_H
#define VIGIL_SENSOR_HOOKS_H
#include "sensor.h"

struct sensor_prog_info {
	const char *name;
	int hook;
	const char *fallback_for; /* "category/event" tracepoint it replaces */
	int exit_nr;              /* a raw sys_exit twin ("<program>_raw"): the x86-64
				   * syscall it handles through vg_exit_progs; 0: not one */
};
extern const struct sensor_prog_info sensor_progs[];
const struct sensor_prog_info *sensor_prog_lookup(const char *name);

#endif
