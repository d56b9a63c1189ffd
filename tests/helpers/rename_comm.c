/* rename_comm: masquerade as a kernel thread by renaming the process (comm),
 * e.g. a miner calling itself "[kworker/0:1]".
 *
 * usage: rename_comm [--proc NAME2] [--sleep SECONDS] [NAME]
 *   prctl(PR_SET_NAME, NAME) (default "[kworker/0:1]"); with --proc also
 *   writes NAME2 to /proc/self/comm afterwards (the other way to rename).
 *   Then sleeps SECONDS (default 1, at most 30) so the new name is visible
 *   in /proc and in later events, and exits.
 * stdout: {"pid":P,"old_comm":..,"name":..,"prctl_rc":R,"prctl_errno":N,
 *   "comm_after_prctl":..,"proc_name":..|null,"proc_rc":R2,"proc_errno":N2,
 *   "comm":FINAL}  (the kernel truncates comm to 15 bytes)
 * exit: 0 if every rename succeeded, 1 otherwise, 2 usage. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include "helper.h"

static void get_comm(char out[17])
{
	memset(out, 0, 17);
	prctl(PR_GET_NAME, out);
}

int main(int argc, char **argv)
{
	const char *name = "[kworker/0:1]", *proc_name = NULL;
	unsigned secs = 1;
	char old[17], mid[17], now[17];

	alarm(HELPER_TIMEOUT_S + 30);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--proc") == 0 && i + 1 < argc) {
			proc_name = argv[++i];
		} else if (strcmp(argv[i], "--sleep") == 0 && i + 1 < argc) {
			secs = (unsigned)strtoul(argv[++i], NULL, 10);
			if (secs > 30)
				secs = 30;
		} else if (argv[i][0] != '-' && i == argc - 1) {
			name = argv[i];
		} else {
			fprintf(stderr, "usage: rename_comm [--proc NAME2] [--sleep SECONDS] [NAME]\n");
			return 2;
		}
	}

	get_comm(old);
	int prc = prctl(PR_SET_NAME, name, 0, 0, 0);
	int perr = prc < 0 ? errno : 0;
	get_comm(mid);

	int wrc = 0, werr = 0;
	if (proc_name) {
		int fd = open("/proc/self/comm", O_WRONLY | O_CLOEXEC);
		size_t len = strlen(proc_name);
		if (fd < 0 || write(fd, proc_name, len) != (ssize_t)len) {
			wrc = -1;
			werr = errno;
		}
		if (fd >= 0)
			close(fd);
	}
	get_comm(now);

	printf("{\"pid\":%d,\"old_comm\":", getpid());
	json_str(old);
	fputs(",\"name\":", stdout);
	json_str(name);
	printf(",\"prctl_rc\":%d,\"prctl_errno\":%d,\"comm_after_prctl\":", prc, perr);
	json_str(mid);
	fputs(",\"proc_name\":", stdout);
	json_str(proc_name);
	printf(",\"proc_rc\":%d,\"proc_errno\":%d,\"comm\":", wrc, werr);
	json_str(now);
	json_end();

	sleep(secs);
	return prc == 0 && wrc == 0 ? 0 : 1;
}
