/* The store's on-disk formats, shared by the writer (segment.c), the
 * index (index.c) and the reader (query.c). Internal to src/store.
 *
 * Files in the store directory:
 *   seg-<first_ts_ns:020>-<seq:08>.vgs  segment: a header, then blocks
 *   seg-<...>.idx                       index of a sealed segment
 *   wal.vgw                             write-ahead log: blocks of the
 *                                       events not yet in a segment
 *   dict-<id>.zdict                     zstd dictionary (trained here)
 *   .lock                               held by the one writer
 *
 * Block: struct blk_hdr, meta (uncompressed: new keys of the segment's key
 * table, then the block's session table), payload (zstd, with the
 * dictionary dict_id when it is not 0). The payload is a sequence of
 * records sorted by time: varint ts - first_ts, varint session (index in
 * the session table + 1, 0 = none), varint length, binary event (codec.h).
 *
 * The writer groups events into lanes by session, so one session's
 * events sit in few blocks. Lanes are written to the segment together at a
 * checkpoint (when they hold enough, or are old enough); between
 * checkpoints each flush appends the new events to the WAL and fsyncs it.
 * The WAL header names the segment and its size at the last checkpoint:
 * on recovery the segment is cut back to that size and the WAL replayed.
 * All integers are little-endian. */
#ifndef VIGIL_STORE_INT_H
#define VIGIL_STORE_INT_H
#include <stdint.h>
#include "codec.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the store's file formats are written for little-endian hosts"
#endif

#define SEG_MAGIC 0x31534756u /* "VGS1" */
#define BLK_MAGIC 0x31424756u /* "VGB1" */
#define IDX_MAGIC 0x31494756u /* "VGI1" */
#define WAL_MAGIC 0x31574756u /* "VGW1" */
#define STORE_VERSION 1

struct seg_hdr {
	uint32_t magic;
	uint16_t version, hdr_len;
	uint64_t uuid, seq, first_ts, created_ns;
	uint8_t reserved[20];
	uint32_t crc; /* of the bytes before it */
};

#define BLK_F_DICT 1
struct blk_hdr {
	uint32_t magic;
	uint16_t version, flags;
	uint32_t meta_len, comp_len, raw_len, nevents;
	uint32_t dict_id, key_base; /* meta's first new key id */
	uint64_t first_ts, last_ts;
	uint32_t crc;      /* crc32c of the payload */
	uint32_t meta_crc; /* crc32c of the meta */
	uint32_t epoch;    /* WAL blocks: the WAL epoch they belong to */
	uint32_t hdr_crc;  /* of the bytes before it */
};

struct wal_hdr {
	uint32_t magic;
	uint16_t version, hdr_len;
	uint64_t seg_seq, seg_uuid, seg_size; /* the segment and its checkpointed size */
	uint32_t seg_keys;                    /* keys in that segment's blocks */
	uint32_t epoch;                       /* blocks of other epochs are stale */
	uint8_t reserved[20];
	uint32_t crc;
};

/* Index file: struct idx_hdr, keys (vgc_keys_write), the fence (2^fence_bits
 * + 1 uint32 entry positions by the top bits of the hash), blocks
 * (struct idx_blk), entries (struct idx_ent sorted by hash), postings
 * (per entry: varint deltas of block numbers). */
struct idx_hdr {
	uint32_t magic;
	uint16_t version, hdr_len;
	uint64_t seg_uuid, seg_size, seg_seq;
	uint64_t first_ts, last_ts, nevents;
	uint32_t nblocks, nentries, fence_bits, nkeys;
	uint64_t off_keys, off_fence, off_blocks, off_entries, off_postings, file_size;
	uint32_t keys_len;
	uint32_t crc_head;   /* crc32c of keys + fence */
	uint32_t crc_blocks; /* crc32c of the block table */
	uint32_t crc;        /* of the header before it */
};

struct idx_blk {
	uint64_t off;
	uint32_t len; /* header + meta + payload */
	uint32_t nevents;
	uint64_t first_ts, last_ts;
};

struct idx_ent {
	uint64_t hash;
	uint32_t post_off; /* from off_postings */
	uint32_t count;
};

_Static_assert(sizeof(struct seg_hdr) == 64, "seg_hdr");
_Static_assert(sizeof(struct blk_hdr) == 64, "blk_hdr");
_Static_assert(sizeof(struct wal_hdr) == 64, "wal_hdr");
_Static_assert(sizeof(struct idx_blk) == 32, "idx_blk");
_Static_assert(sizeof(struct idx_ent) == 16, "idx_ent");

/* Index keys: a 64-bit hash of (kind, value). */
enum { IK_SESSION = 1, IK_SID, IK_PID, IK_PIDSTART, IK_SHA, IK_IP };
uint64_t ik_hash(int kind, const void *a, size_t alen, uint64_t b);
/* Recent strings and their partial hashes (the writer's: zeroed first). */
#define IK_MEMO_BITS 6
#define IK_MEMO_LEN 64
struct ik_memo {
	struct ik_memo_ent {
		uint64_t fnv;
		uint8_t kind, len;
		char s[IK_MEMO_LEN];
	} e[1 << IK_MEMO_BITS];
};
/* ik_hash, with the string's part from m when it was seen lately (m may be NULL). */
uint64_t ik_hash_memo(struct ik_memo *m, int kind, const void *a, size_t alen, uint64_t b);
/* Keys of one event (up to IK_MAX) from its index fields (m may be NULL). */
#define IK_MAX 7
int ik_event(const struct vgc_ext *x, uint64_t out[IK_MAX], struct ik_memo *m);

/* In-memory index of an open segment: hash -> block numbers. */
struct posting {
	uint32_t n, cap;
	uint32_t *b;
};
struct mem_index {
	uint64_t *hkeys;      /* open addressing: key hash (0 = empty) */
	struct posting *post; /* its blocks */
	uint32_t hcap, hcount;
	uint32_t nblocks, blocks_cap;
	struct idx_blk *blocks;
	uint64_t first_ts, last_ts, nevents;
};
int mi_init(struct mem_index *mi);
void mi_free(struct mem_index *mi);
void mi_reset(struct mem_index *mi);
/* Records a block: its location and its (sorted, unique) key hashes. */
int mi_add_block(struct mem_index *mi, const struct idx_blk *b, const uint64_t *keys, size_t nkeys);
/* Writes the index file of a sealed segment (atomically: tmp + rename). */
int mi_write(const struct mem_index *mi, const struct vgc_keys *keys, int dirfd, const char *name,
	     uint64_t seg_uuid, uint64_t seg_size, uint64_t seg_seq);

const struct posting *mi_lookup(const struct mem_index *mi, uint64_t key);

/* Reading an index file. ir_open returns NULL or why the index cannot be
 * used (then the segment is scanned instead). */
struct idx_reader {
	int fd;
	struct idx_hdr h;
	uint64_t seg_size;
	uint8_t *tables; /* keys, fence */
	const uint32_t *fence;
	struct idx_blk *blocks; /* read on demand, a page at a time */
	uint8_t *loaded;        /* per page of IR_PAGE entries */
	struct vgc_keys keys;
};
#define IR_PAGE 128
const char *ir_open(struct idx_reader *r, int dirfd, const char *name, uint64_t seg_uuid, uint64_t seg_size);
void ir_close(struct idx_reader *r);
/* Block numbers holding key (malloc'd, sorted); 0, or -1 on a corrupt entry. */
int ir_lookup(struct idx_reader *r, uint64_t key, uint32_t **out, uint32_t *nout);
/* One block's entry (read on demand; NULL when unreadable or corrupt). */
const struct idx_blk *ir_block(struct idx_reader *r, uint32_t bn);
/* The whole block table, checksum verified; NULL or why not. */
const char *ir_load_blocks(struct idx_reader *r);

/* Block headers */
void blk_hdr_seal(struct blk_hdr *h);
/* 0 when the header is well-formed (magic, version, header crc, sane
 * lengths); otherwise a static reason. */
const char *blk_hdr_check(const struct blk_hdr *h);

/* Names */
#define SEG_NAME_FMT "seg-%020llu-%08llu.vgs"
int seg_name_parse(const char *name, uint64_t *first_ts, uint64_t *seq);
struct seg_ent {
	char name[64];
	uint64_t seq, first_ts;
};
/* Segment files sorted by sequence number (malloc'd; NULL when none). */
struct seg_ent *seg_list(int dirfd, size_t *n);
/* Next offset in (off, limit) where a well-formed block header starts, or 0. */
uint64_t blk_resync(int fd, uint64_t off, uint64_t limit);

/* Dictionaries: dict-<id>.zdict in the store directory (cached). */
struct dict_cache;
struct dict_cache *dc_new(int dirfd);
void dc_free(struct dict_cache *dc);
/* The decompression dictionary for id (NULL if missing: reason in err). */
const void *dc_ddict(struct dict_cache *dc, uint32_t id);

/* Parsed block payload: records in time order. */
struct blk_rec {
	uint64_t ts;
	uint32_t sess; /* 0 none, else index + 1 */
	uint32_t len;
	const uint8_t *body;
};
struct blk_sess {
	const char *host;
	uint32_t host_len;
	int64_t sid;
};
/* Reads and verifies a whole block at off (hdr+meta+payload, len bytes,
 * or read the header first when len is 0), decompresses it into raw.
 * keys: when not NULL, the meta's key run is appended to it (scanning).
 * Returns NULL on success or a static reason. */
struct blk_data {
	struct blk_hdr h;
	uint8_t *buf; /* hdr + meta + payload as read */
	size_t buf_cap;
	uint8_t *raw; /* decompressed payload */
	size_t raw_cap;
	struct blk_sess *sess;
	uint32_t nsess, sess_cap;
	struct blk_rec *recs;
	uint32_t nrecs, recs_cap;
};
void bd_free(struct blk_data *bd);
const char *bd_read(struct blk_data *bd, int fd, uint64_t off, uint32_t len, struct dict_cache *dc,
		    void *dctx, struct vgc_keys *keys);

#endif
