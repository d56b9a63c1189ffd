/* Clock readings in nanoseconds. */
#ifndef VIGIL_UTIL_CLOCK_H
#define VIGIL_UTIL_CLOCK_H
#include <stdint.h>
#include <time.h>

/* CLOCK_BOOTTIME is the clock of the BPF side's bpf_ktime_get_boot_ns. */
static inline uint64_t clock_ns(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

#endif
