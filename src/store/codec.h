/* The store's binary form of an event's JSON (internal to src/store).
 *
 * Lossless: vgc_decode(vgc_encode(x)) == x byte for byte, for any input.
 * Canonical compact JSON (what vigild writes: no whitespace) becomes a tree
 * of tagged values; keys become ids from a key table (one per segment,
 * written in the segment); integers are zigzag varints; strings keep their
 * JSON-escaped bytes; an RFC 3339 nanosecond UTC timestamp string is stored
 * as its distance from the record's timestamp. Anything else (whitespace,
 * invalid JSON, too deep) is kept as one raw string.
 *
 * Tags: 0x00 end of object/array (in an object: key 0), 0x01 object
 * (members: varint key id + 1, value), 0x02 array, 0x03 true, 0x04 false,
 * 0x05 null, 0x06 integer (zigzag varint), 0x07 number text (varint length,
 * bytes), 0x08 string (varint length, bytes), 0x09 timestamp string (zigzag
 * varint ns - record ts), 0x0a raw JSON (top level only: varint length,
 * bytes), 0x40-0x7f small integer (zigzag value = tag - 0x40), 0x80-0xff
 * short string (length = tag - 0x80, bytes). */
#ifndef VIGIL_STORE_CODEC_H
#define VIGIL_STORE_CODEC_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "../util/strbuf.h"

#define VGC_MAX_KEYS 65536
#define VGC_MAX_KEY_LEN 1024
#define VGC_MAX_DEPTH 64
#define VGC_PRED 4096 /* 1 << 12 */
#define VGC_MAX_OUT (64u << 20) /* a decoded event larger than this is corrupt */

struct vgc_key {
	char qs[32];    /* "key": when it fits (qlen <= 32), zero-padded */
	char *s;        /* raw (escaped) key bytes */
	char *q;        /* "key": (padded to 32 bytes) */
	uint32_t len, qlen;
	uint8_t role;   /* what the index cares about (codec.c) */
};

struct vgc_keys {
	struct vgc_key *v;
	uint32_t n, cap;
	uint32_t *slots; /* open addressing: id + 1, 0 = empty */
	uint32_t nslots;
	uint32_t pred[VGC_PRED]; /* encoder: (parent key, previous key) -> next key id + 1 */
	struct vgc_sub *sub;     /* encoder: objects it encoded lately (codec.c); NULL until then */
	uint64_t sub_hits;       /* objects copied from it (tests, benchmarks) */
};

void vgc_keys_init(struct vgc_keys *k);
void vgc_keys_free(struct vgc_keys *k);
/* Empties the table (and the encoder's cache of objects, whose binary
 * holds key ids). */
void vgc_keys_reset(struct vgc_keys *k);
/* Id of key s, adding it when absent; -1 when the table is full. */
int64_t vgc_key_add(struct vgc_keys *k, const char *s, size_t len);
int64_t vgc_key_find(const struct vgc_keys *k, const char *s, size_t len);
/* Serialised keys [from, k->n): varint count, then varint length + bytes. */
void vgc_keys_write(const struct vgc_keys *k, uint32_t from, struct strbuf *out);
/* Reads a serialised run and appends it; the run must start at id
 * `base` == k->n. Returns bytes consumed or -1. */
long vgc_keys_read(struct vgc_keys *k, uint32_t base, const uint8_t *p, size_t n);
int vgc_keys_copy(struct vgc_keys *dst, const struct vgc_keys *src);

/* Fields the index and the cheap filters need, found while encoding or by
 * walking a binary event. Strings point into the input (JSON-escaped). */
struct vgc_ext {
	const char *host, *sha, *dip, *sip;
	uint32_t host_len, sha_len, dip_len, sip_len;
	bool has_sid, has_pid, has_start;
	int64_t sid, pid;
	uint64_t start;
};

/* Appends the binary form of json to out. Returns 0, 1 when the event was
 * kept raw, -1 when out of memory. ext (may be NULL) gets the index fields.
 * k also keeps the members of events it encoded lately: one repeated (the
 * "process" of a busy process) is copied rather than parsed, to the same
 * bytes. */
int vgc_encode(struct vgc_keys *k, const char *json, size_t len, uint64_t ts, struct strbuf *out,
	       struct vgc_ext *ext);
/* Appends the JSON of a binary event to out; -1 on malformed input. */
int vgc_decode(const struct vgc_keys *k, const uint8_t *p, size_t n, uint64_t ts, struct strbuf *out);
/* The index fields of a binary event; -1 on malformed input. */
int vgc_ext_binary(const struct vgc_keys *k, const uint8_t *p, size_t n, struct vgc_ext *ext);

/* varints */
static inline size_t vgc_put_varint(uint8_t *p, uint64_t v)
{
	size_t i = 0;
	while (v >= 0x80) {
		p[i++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[i++] = (uint8_t)v;
	return i;
}
/* Returns bytes read, 0 on truncated or overlong input. */
static inline size_t vgc_get_varint(const uint8_t *p, size_t n, uint64_t *v)
{
	uint64_t x = 0;
	for (size_t i = 0; i < n && i < 10; i++) {
		x |= (uint64_t)(p[i] & 0x7f) << (7 * i);
		if (!(p[i] & 0x80)) {
			if (i == 9 && p[i] > 1)
				return 0;
			*v = x;
			return i + 1;
		}
	}
	return 0;
}
static inline uint64_t vgc_zz(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static inline int64_t vgc_unzz(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

/* "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ" (30 bytes) <-> ns since the epoch */
#define VGC_TS_LEN 30
bool vgc_ts_parse(const char *s, size_t n, int64_t *ns);
void vgc_ts_format(int64_t ns, char out[VGC_TS_LEN]);

/* crc32c (Castagnoli) */
uint32_t vg_crc32c(uint32_t crc, const void *data, size_t n);

#endif
