/* What the files of the store (lib/store/) share; store.h is the public
 * contract. Everything declared here is hidden: linked into the programs,
 * not exported from vr-cache to the plugin.
 *
 *   open.c      schema and migrations, the db helpers, open and close
 *   lock.c      the per-key write locks (owner, lease, takeover)
 *   writer.c    a writer: chunks, their digests, publishing
 *   reader.c    lookup, stat, list and the ranged read of chunks
 *   maintain.c  remove, purge, touch, gc, verify, totals, source versions
 *   negative.c  remembered failures (the negative cache)
 *   digest.c    SHA-256 through libcrypto, opened on first use */
#ifndef VR_STORE_INT_H
#define VR_STORE_INT_H

#include "store.h"

#include <limits.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define STORE_INTERNAL __attribute__((visibility("hidden")))

#define PIECE (256u << 10) /* incremental blob I/O step */

struct vr_store {
	sqlite3 *db;
	char path[PATH_MAX];
	char err[512];
	char owner[320];  /* host:pid:start#n: this process, this handle */
	char host[256];
	int in_read;
	int damaged;      /* the last read failed on a damaged entry (set by the reader) */
	unsigned char *piece;
	unsigned char *whole; /* one chunk, for the one-pass read (ONE_PASS_MAX) */
	size_t whole_size;
};

/* An entry found damaged while read (a missing chunk, a chunk of the wrong
 * size or checksum, a damaged manifest): the message, and the mark that
 * vr_store_read_damaged() reports. Returns VR_EIO. */
STORE_INTERNAL int store_damaged(struct vr_store *st, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- db helpers (open.c) ---- */

/* Format the handle's error message; returns code. */
STORE_INTERNAL int store_fail(struct vr_store *st, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A SQLite failure as a vr_status: busy past the give-up time is a timeout,
 * everything else a store failure. */
STORE_INTERNAL int store_db_fail(struct vr_store *st, const char *what);
STORE_INTERNAL int store_exec(struct vr_store *st, const char *sql);
STORE_INTERNAL sqlite3_stmt *store_prepare(struct vr_store *st, const char *sql);
STORE_INTERNAL int store_begin_write(struct vr_store *st);
/* The same, without waiting: a store busy with another writer is
 * VR_ETIMEOUT at once (for bookkeeping a request can do without). */
STORE_INTERNAL int store_begin_write_nowait(struct vr_store *st);
STORE_INTERNAL int store_commit(struct vr_store *st);
STORE_INTERNAL void store_rollback(struct vr_store *st);
/* "start" of a process from /proc/PID/stat, 0 when unknown. */
STORE_INTERNAL unsigned long long store_proc_start(pid_t pid);
/* len bytes of zeroed memory whose pages are all present (MAP_POPULATE);
 * NULL when there is none. Free with munmap(p, len). */
STORE_INTERNAL void *store_map_populated(size_t len);

/* ---- locks (lock.c) ---- */

/* Is the holder of a lock still there? */
STORE_INTERNAL int store_owner_alive(struct vr_store *st, const char *owner, int pid,
				     const char *host);
STORE_INTERNAL int store_lock_acquire(struct vr_store *st, const void *key, size_t keylen,
				      double wait);
/* Inside a write transaction: is the lock still ours? */
STORE_INTERNAL int store_lock_is_mine(struct vr_store *st, const void *key, size_t keylen);
STORE_INTERNAL void store_lock_release(struct vr_store *st, const void *key, size_t keylen);

/* ---- entries (writer.c, reader.c) ---- */

/* Delete one generation's chunks, tags and manifest (inside a transaction). */
STORE_INTERNAL int store_drop_entry(struct vr_store *st, int64_t id);

/* The columns store_fill_entry_from_row reads, from entries e. */
#define ENTRY_COLUMNS                                                                          \
	"e.id, e.key, e.state, e.size, e.chunk_size, e.chunk_count, e.content_type, e.sha256,"  \
	" e.created, coalesce(e.expires, 0),"                                                   \
	" (SELECT group_concat(tag, char(0)) FROM tags t WHERE t.entry = e.id)"

STORE_INTERNAL void store_fill_entry_from_row(sqlite3_stmt *s, struct vr_entry *e);
/* Is the manifest self-consistent? */
STORE_INTERNAL int store_manifest_ok(const struct vr_entry *e);
STORE_INTERNAL int store_manifest_fail(struct vr_store *st, const struct vr_entry *e);
/* The ready, unexpired entry of key: 0, VR_ENOTFOUND or VR_EIO. */
STORE_INTERNAL int store_lookup(struct vr_store *st, const void *key, size_t keylen,
				struct vr_entry *e);
/* Open chunk idx of entry e for reading, checking its size. */
STORE_INTERNAL int store_open_chunk(struct vr_store *st, const struct vr_entry *e, uint64_t idx,
				    sqlite3_blob **blob, uint8_t digest[VR_DIGEST_LEN],
				    uint32_t *crc);
/* Read a whole chunk in pieces and check its CRC-32C (and, with d, its
 * SHA-256) against what its row recorded. */
STORE_INTERNAL int store_check_chunk(struct vr_store *st, sqlite3_blob *blob, uint64_t idx,
				     uint32_t want_crc, const uint8_t want[VR_DIGEST_LEN],
				     struct vr_digest *d);

#endif
