/* Shared bits of the scenario-test helpers (every .c file in tests/helpers).
 *
 * Every helper prints exactly one JSON line on stdout describing what it did
 * (pids, fds, return values, errno) so a scenario test can match it against
 * the events vigild reports. Every helper arms alarm() first: a stuck helper
 * dies of SIGALRM instead of hanging the test run.
 *
 * Note: the Makefile rule for helpers only depends on the .c file; after
 * editing this header run `make clean` or touch the helpers.
 * Each helper defines _GNU_SOURCE before including anything. */
#ifndef VIGIL_TEST_HELPER_H
#define VIGIL_TEST_HELPER_H

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define HELPER_TIMEOUT_S 10

/* Print s as a JSON string literal (with quotes); NULL prints null. */
static inline void json_str(const char *s)
{
	if (!s) {
		fputs("null", stdout);
		return;
	}
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

/* Symbolic errno ("ENOSYS"), "" for 0, so tests need not know numbers. */
static inline const char *errname(int e)
{
	const char *n = e ? strerrorname_np(e) : NULL;
	return n ? n : "";
}

/* `"key":{"rc":R,"errno":E,"error":"NAME"}` for one syscall result. */
static inline void json_result(const char *key, long rc, int err)
{
	printf("\"%s\":{\"rc\":%ld,\"errno\":%d,\"error\":\"%s\"}", key, rc,
	       rc < 0 ? err : 0, rc < 0 ? errname(err) : "");
}

/* End the JSON line and push it out now: several helpers exec or sleep
 * afterwards and the test reads the line while they are still running. */
static inline void json_end(void)
{
	fputs("}\n", stdout);
	fflush(stdout);
}

/* Copy the whole file src into the open fd dst; returns bytes or -1. */
static inline long copy_file_to_fd(const char *src, int dst)
{
	FILE *in = fopen(src, "rb");
	char buf[65536];
	long total = 0;
	size_t n;

	if (!in)
		return -1;
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0) {
		for (size_t off = 0; off < n;) {
			ssize_t w = write(dst, buf + off, n - off);
			if (w < 0) {
				int e = errno;
				fclose(in);
				errno = e;
				return -1;
			}
			off += (size_t)w;
		}
		total += (long)n;
	}
	if (ferror(in)) {
		fclose(in);
		errno = EIO;
		return -1;
	}
	fclose(in);
	return total;
}

#endif
