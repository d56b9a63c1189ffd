// Cost of single system calls in a tight loop, for bench/syscall_cost.sh:
// what the sensor adds to one call is the difference between a run with
// vigild and one without, far below what a storm's wall time can resolve.
//
// usage: syscall_cost MODE [--count N] [--rounds R] [--dir DIR]
//   getppid  one call the sensor records nothing for (the per-syscall floor)
//   open     open + close of an existing file (no record: the hottest path)
//   unlink   unlink of a missing file (one record, one path)
//   rename   rename of a missing file (one record, two paths)
//   create   create + close + unlink (two records, one of them a path walk)
//   ioctl    FIONREAD on a pipe (no record: every ioctl of the host reaches
//            the sensor's exit handler, which keeps only chattr's requests)
// Prints one JSON line with the best of R rounds in nanoseconds per
// operation (the best, because interference only ever adds time).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int usage(void)
{
	fprintf(stderr, "usage: syscall_cost getppid|open|openw|unlink|rename|create|ioctl [--count N] [--rounds R] "
			"[--dir DIR]\n");
	return 2;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	const char *mode = argv[1];
	long count = 200000, rounds = 5;
	const char *dir = "/dev/shm";
	for (int i = 2; i < argc; i++) {
		if (i + 1 >= argc)
			return usage();
		if (!strcmp(argv[i], "--count"))
			count = strtol(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--rounds"))
			rounds = strtol(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--dir"))
			dir = argv[++i];
		else
			return usage();
	}
	if (count < 1 || count > 100000000 || rounds < 1 || rounds > 1000)
		return usage();

	char a[4096], b[4096], existing[4096];
	snprintf(a, sizeof a, "%s/vigil-syscall-cost.%d.a", dir, (int)getpid());
	snprintf(b, sizeof b, "%s/vigil-syscall-cost.%d.b", dir, (int)getpid());
	snprintf(existing, sizeof existing, "%s/vigil-syscall-cost.%d.e", dir, (int)getpid());
	int kind;
	if (!strcmp(mode, "getppid"))
		kind = 0;
	else if (!strcmp(mode, "open"))
		kind = 1;
	else if (!strcmp(mode, "unlink"))
		kind = 2;
	else if (!strcmp(mode, "rename"))
		kind = 3;
	else if (!strcmp(mode, "create"))
		kind = 4;
	else if (!strcmp(mode, "openw"))
		kind = 5;
	else if (!strcmp(mode, "ioctl"))
		kind = 6;
	else
		return usage();
	if (kind == 1 || kind == 5) {
		int fd = open(existing, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0) {
			fprintf(stderr, "syscall_cost: %s: %s\n", existing, strerror(errno));
			return 1;
		}
		close(fd);
	}

	int pfd[2] = {-1, -1};
	if (kind == 6 && pipe2(pfd, O_CLOEXEC)) {
		perror("syscall_cost: pipe");
		return 1;
	}
	int open_flags = (kind == 5 ? O_WRONLY : O_RDONLY) | O_CLOEXEC;
	double best = 0;
	long errors = 0;
	for (long r = 0; r < rounds; r++) {
		double t0 = now_ns();
		for (long i = 0; i < count; i++) {
			int fd;
			switch (kind) {
			case 0:
				syscall(SYS_getppid);
				break;
			case 1:
			case 5:
				fd = open(existing, open_flags);
				if (fd < 0)
					errors++;
				else
					close(fd);
				break;
			case 2:
				if (unlink(a) == 0 || errno != ENOENT)
					errors++;
				break;
			case 3:
				if (rename(a, b) == 0 || errno != ENOENT)
					errors++;
				break;
			case 6: {
				int avail;
				if (ioctl(pfd[0], FIONREAD, &avail))
					errors++;
				break;
			}
			case 4:
				fd = open(a, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
				if (fd < 0) {
					errors++;
					break;
				}
				close(fd);
				if (unlink(a))
					errors++;
				break;
			}
		}
		double per = (now_ns() - t0) / (double)count;
		if (r == 0 || per < best)
			best = per;
	}
	if (kind == 1)
		unlink(existing);
	printf("{\"mode\":\"%s\",\"count\":%ld,\"rounds\":%ld,\"ns_per_op\":%.1f,\"errors\":%ld}\n", mode, count,
	       rounds, best, errors);
	return errors ? 1 : 0;
}
