/* ptrace_attach: attach a debugger-style tracer to another process, the way
 * process-injection and credential-dumping tools do.
 *
 * usage: ptrace_attach [--seize]
 *   Forks a child that sleeps (at most 5 s), then PTRACE_ATTACH (default) or
 *   PTRACE_SEIZE + PTRACE_INTERRUPT (--seize) to it, waits for the stop,
 *   PTRACE_DETACH, then kills and reaps the child.
 * stdout: {"tracer":P,"target":C,"mode":"attach"|"seize","rc":R,"errno":N,
 *   "error":..,"stopped":0|1,"detach_rc":R2,"detach_errno":N2}
 *   (rc/errno are those of the PTRACE_ATTACH/PTRACE_SEIZE request).
 * exit: 0 if attach and detach succeeded, 1 otherwise, 2 usage. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include "helper.h"

int main(int argc, char **argv)
{
	int seize = 0;

	alarm(HELPER_TIMEOUT_S);
	if (argc == 2 && strcmp(argv[1], "--seize") == 0) {
		seize = 1;
	} else if (argc != 1) {
		fprintf(stderr, "usage: ptrace_attach [--seize]\n");
		return 2;
	}

	fflush(stdout);
	pid_t child = fork();
	if (child < 0) {
		perror("fork");
		return 1;
	}
	if (child == 0) {
		/* Bounded even if the parent dies before killing us. */
		alarm(6);
		sleep(5);
		_exit(0);
	}

	long rc;
	int err;
	if (seize) {
		rc = ptrace(PTRACE_SEIZE, child, NULL, NULL);
		err = errno;
		/* A seized tracee is not stopped; detach needs a ptrace-stop. */
		if (rc == 0)
			ptrace(PTRACE_INTERRUPT, child, NULL, NULL);
	} else {
		rc = ptrace(PTRACE_ATTACH, child, NULL, NULL);
		err = errno;
	}

	int status = 0, stopped = 0;
	if (rc == 0 && waitpid(child, &status, 0) == child && WIFSTOPPED(status))
		stopped = 1;
	long drc = -1;
	int derr = ESRCH;
	if (stopped) {
		drc = ptrace(PTRACE_DETACH, child, NULL, NULL);
		derr = errno;
	}
	kill(child, SIGKILL);
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;

	printf("{\"tracer\":%d,\"target\":%d,\"mode\":\"%s\",\"rc\":%ld,\"errno\":%d,"
	       "\"error\":\"%s\",\"stopped\":%d,\"detach_rc\":%ld,\"detach_errno\":%d",
	       getpid(), child, seize ? "seize" : "attach", rc, rc ? err : 0,
	       rc ? errname(err) : "", stopped, drc, drc ? derr : 0);
	json_end();
	return rc == 0 && drc == 0 ? 0 : 1;
}
