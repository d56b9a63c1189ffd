/* sha256 of executables, cached by (dev, inode, mtime, size) so each
 * binary is read once. Thread safe. */
#ifndef VIGIL_EXEHASH_H
#define VIGIL_EXEHASH_H
#include <stdbool.h>
#include <stdint.h>

struct exehash_key {
	uint64_t ino, mtime_ns, size;
	uint32_t dev;
};

void exehash_init(uint64_t max_bytes);
bool exehash_lookup(const struct exehash_key *k, char out[65]);
/* Hashes the open file fd (read from offset 0) and caches the result;
 * returns false when the file is larger than the limit or unreadable. */
bool exehash_compute(const struct exehash_key *k, int fd, char out[65]);
uint64_t exehash_computed(void);

#endif
