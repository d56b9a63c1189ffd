/* Exec-to-kill latency of active defense: starts N reverse shells (a shell
 * whose stdin and stdout are a TCP socket to a local listener) one after
 * the other and measures, for each, the time from just before its execve
 * to its death by SIGKILL, as seen by waitpid. vigild must be running with
 * response_mode = on and the shipped reverse-shell rule (response: kill).
 *
 *   kill_latency [-n N] [-p PORT] [-t TIMEOUT_MS] [-s SHELL]
 *
 * Prints one line per shell ("ms" or "timeout"), then a summary line:
 * "killed K/N p50 X ms p90 Y ms p99 Z ms max W ms". A shell that is not
 * killed within the timeout is killed by this program and counted as
 * missed. Exits 1 when any was missed. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static double pct(const uint64_t *v, int n, double p)
{
	if (n == 0)
		return 0;
	int i = (int)(p * (n - 1) + 0.5);
	return (double)v[i] / 1e6;
}

int main(int argc, char **argv)
{
	int n = 100, port = 17777, timeout_ms = 2000;
	const char *shell = "/bin/sh";
	int opt;
	while ((opt = getopt(argc, argv, "n:p:t:s:")) != -1) {
		switch (opt) {
		case 'n': n = atoi(optarg); break;
		case 'p': port = atoi(optarg); break;
		case 't': timeout_ms = atoi(optarg); break;
		case 's': shell = optarg; break;
		default:
			fprintf(stderr, "usage: kill_latency [-n N] [-p PORT] [-t TIMEOUT_MS] [-s SHELL]\n");
			return 2;
		}
	}
	if (n <= 0 || n > 100000 || timeout_ms <= 0) {
		fprintf(stderr, "kill_latency: bad -n or -t\n");
		return 2;
	}
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 128)) {
		fprintf(stderr, "kill_latency: listen on 127.0.0.1:%d: %s\n", port, strerror(errno));
		return 2;
	}
	/* the child writes the time of its execve here */
	uint64_t *t_exec = mmap(NULL, sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	uint64_t *lat = calloc((size_t)n, sizeof(*lat));
	if (t_exec == MAP_FAILED || !lat)
		return 2;
	int killed = 0;
	for (int i = 0; i < n; i++) {
		int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa))) {
			fprintf(stderr, "kill_latency: connect: %s\n", strerror(errno));
			return 2;
		}
		int peer = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		*t_exec = 0;
		pid_t pid = fork();
		if (pid == 0) {
			dup2(s, 0);
			dup2(s, 1);
			*t_exec = mono_ns();
			/* reads commands from the socket: blocks until killed */
			execl(shell, "sh", "-c", "read cmd", (char *)NULL);
			_exit(127);
		}
		int status = 0;
		uint64_t deadline = mono_ns() + (uint64_t)timeout_ms * 1000000ULL;
		pid_t w = 0;
		while ((w = waitpid(pid, &status, WNOHANG)) == 0 && mono_ns() < deadline)
			usleep(200);
		uint64_t t_dead = mono_ns();
		if (w == 0) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			printf("%d timeout\n", i);
		} else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && *t_exec) {
			lat[killed++] = t_dead - *t_exec;
			printf("%d %.3f ms\n", i, (double)(t_dead - *t_exec) / 1e6);
		} else {
			printf("%d exited (status %d)\n", i, status);
		}
		close(s);
		if (peer >= 0)
			close(peer);
		/* let the daemon settle between shells: latency, not throughput */
		usleep(20000);
	}
	qsort(lat, (size_t)killed, sizeof(*lat), cmp_u64);
	printf("killed %d/%d p50 %.1f ms p90 %.1f ms p99 %.1f ms max %.1f ms\n", killed, n, pct(lat, killed, 0.5),
	       pct(lat, killed, 0.9), pct(lat, killed, 0.99), killed ? (double)lat[killed - 1] / 1e6 : 0.0);
	return killed == n ? 0 : 1;
}
