/* spawn_at_pid: real pid reuse on demand. Creates a child at a chosen pid
 * with clone3(set_tid) (root: CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE in
 * the pid namespace) after the pid's earlier owner has exited and been
 * reaped, so a test can check that an action aimed at the old owner
 * (PID@START_NS) leaves the new one alone.
 *
 * usage: spawn_at_pid PID [SECONDS]
 *   The child sleeps SECONDS (default 30) and exits 0; the parent prints
 *   its line, then waits for the child and exits with its status (so the
 *   test that kills the child gets it reaped, and nothing outlives SECONDS).
 * stdout: {"pid":P,"requested":PID,"clone3":{"rc":R,"errno":N,"error":"E"}}
 * exit: the child's status (128+signal if killed); 1 if clone3 failed
 *   (EEXIST: the pid is in use), 2 usage. */
#define _GNU_SOURCE
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include "helper.h"

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: spawn_at_pid PID [SECONDS]\n");
		return 2;
	}
	pid_t want = (pid_t)atoi(argv[1]);
	int secs = argc == 3 ? atoi(argv[2]) : 30;
	if (want <= 1 || secs <= 0) {
		fprintf(stderr, "usage: spawn_at_pid PID [SECONDS]\n");
		return 2;
	}
	alarm((unsigned)secs + HELPER_TIMEOUT_S);

	pid_t tid[1] = {want};
	struct clone_args ca;
	memset(&ca, 0, sizeof(ca));
	ca.exit_signal = SIGCHLD;
	ca.set_tid = (uint64_t)(uintptr_t)tid;
	ca.set_tid_size = 1;
	long rc = syscall(SYS_clone3, &ca, sizeof(ca));
	int err = errno;
	if (rc == 0) {
		/* the child: a raw clone3 leaves glibc's view of us stale, so
		 * only plain syscalls from here on */
		struct timespec ts = {.tv_sec = secs};
		while (nanosleep(&ts, &ts) && errno == EINTR)
			;
		_exit(0);
	}
	printf("{\"pid\":%ld,\"requested\":%d,", rc, want);
	json_result("clone3", rc, err);
	json_end();
	if (rc < 0)
		return 1;
	int st;
	while (waitpid((pid_t)rc, &st, 0) < 0)
		if (errno != EINTR)
			return 1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
