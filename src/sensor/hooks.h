/* Internal to src/sensor: which hook each BPF program feeds. */
#ifndef VIGIL_SENSOR_HOOKS_H
#define VIGIL_SENSOR_HOOKS_H
#include "sensor.h"

struct sensor_prog_info {
	const char *name;
	int hook;
	const char *fallback_for; /* "category/event" tracepoint it replaces */
};
extern const struct sensor_prog_info sensor_progs[];
const struct sensor_prog_info *sensor_prog_lookup(const char *name);

#endif
