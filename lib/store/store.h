/* The SQLite chunk store (schema in vr-store(5)).
 *
 * An entry is a manifest row in `entries` and its chunk rows in `chunks`.
 * A writer streams into a new generation (state 'writing') that no reader
 * can see, one chunk-sized buffer at a time, and publishes it in one
 * transaction that also drops the previous generation. Writers of one key
 * are serialised by a row in `locks` (owner, lease, heartbeat); readers read
 * one snapshot and touch only the chunks a range needs.
 *
 * Contract: a vr_store is one SQLite connection: use it from one thread at
 * a time (warm's workers each open their own, through their vr_cache).
 * Readers and writers use their store's connection: close them first.
 * vr_store_error's text lives in the store, valid until its next call.
 * Keys, tags and messages passed in are only read during the call. */
#ifndef VR_STORE_H
#define VR_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "digest.h"
#include "range.h"

#define VR_STORE_SCHEMA 2
#define VR_STORE_KEY_MAX 4096
#define VR_STORE_TAG_MAX 256
#define VR_STORE_TAGS_MAX 64
#define VR_STORE_CHUNK_MIN (4u << 10)
#define VR_STORE_CHUNK_MAX (64u << 20)
#define VR_STORE_LEASE_S 30   /* a write lock's lease; renewed while writing */

struct vr_store;
struct vr_store_writer;

struct vr_entry {
	int64_t id;
	unsigned char key[VR_STORE_KEY_MAX];
	size_t keylen;
	char state[16];
	uint64_t size;
	uint32_t chunk_size;
	uint64_t chunk_count;
	char content_type[256];
	char sha256[2 * VR_DIGEST_LEN + 1];
	int64_t created;
	int64_t expires;   /* 0: never */
	char tags[1024];   /* comma-separated, for display (a tag may hold a comma) */
	/* the same tags exactly: ntags strings, each ending in '\0' (a tag
	 * never holds one), in the order of tags */
	char tag_list[VR_STORE_TAGS_MAX * (VR_STORE_TAG_MAX + 1)];
	size_t ntags;
};

/* path NULL: $VR_STORE, else $XDG_CACHE_HOME/vr/store.db (~/.cache/vr/...).
 * The file and its folder are created on first use. Returns 0 or a
 * vr_status (VR_EIO for an unusable or foreign file) with err set. */
int vr_store_open(struct vr_store **st, const char *path, char *err, size_t errlen);
/* The same, but a store that does not exist yet is VR_ENOTFOUND instead of
 * being created ("no store at PATH": the caller says what creates one): for
 * commands that only read, tidy or change what is stored, so that a
 * mistyped path is an error rather than a new empty store. */
int vr_store_open_existing(struct vr_store **st, const char *path, char *err, size_t errlen);
void vr_store_close(struct vr_store *st);
/* The last error text of a failed call. */
const char *vr_store_error(const struct vr_store *st);

/* ---- writing ---- */
struct vr_put_opts {
	const char *content_type; /* NULL: application/octet-stream */
	int64_t ttl;              /* seconds; 0: never expires */
	const char *const *tags;
	size_t ntags;
	uint32_t chunk_size;      /* 0: VR_DEFAULT_CHUNK_SIZE (defaults.h) */
	double wait;              /* seconds to wait for another writer's lock */
	int if_absent;            /* store only when no ready entry exists */
};

/* Take the key's lock (waiting up to opts->wait: VR_ETIMEOUT past it) and
 * open a new, invisible generation. With opts->if_absent, a ready entry
 * found once the lock is held (another writer may have published it while
 * we waited) means there is nothing to write: 0 with *w NULL. */
int vr_store_writer_begin(struct vr_store *st, const void *key, size_t keylen,
			  const struct vr_put_opts *opts, struct vr_store_writer **w);
/* Append bytes; full chunks are inserted as they fill. 0 or VR_EIO. */
int vr_store_writer_write(struct vr_store_writer *w, const void *buf, size_t n);
/* Renew the lock's lease when it is due (cheap when it is not: call it
 * after every read, and while waiting for input). VR_ETIMEOUT when the
 * lock was lost to another writer meanwhile. */
int vr_store_writer_tick(struct vr_store_writer *w);
/* Insert the last chunk and publish: 0, VR_EIO, or VR_ETIMEOUT when the
 * lock was lost to another writer meanwhile. Frees w. */
int vr_store_writer_commit(struct vr_store_writer *w, struct vr_entry *published);
/* Drop the generation and the lock. Frees w. */
void vr_store_writer_abort(struct vr_store_writer *w);
uint64_t vr_store_writer_bytes(const struct vr_store_writer *w);
/* The content type to publish with, when it is known only once the
 * source has answered (before commit). */
void vr_store_writer_set_content_type(struct vr_store_writer *w, const char *type);

/* ---- reading ---- */
/* A ready, unexpired entry: 0, VR_ENOTFOUND, or VR_EIO. Starts a read
 * snapshot that lasts until vr_store_read_end(). */
int vr_store_read_begin(struct vr_store *st, const void *key, size_t keylen, struct vr_entry *e);
/* Emit bytes [start, end] of the entry, touching only the chunks that
 * overlap. Before any byte of a chunk is emitted, its presence, size and
 * CRC-32C are checked against the manifest, and with verify its SHA-256
 * too. 0, VR_EIO (corrupt or missing chunk), or emit()'s non-zero result. */
/* Whether the last read of this handle failed because the entry is
 * damaged (a chunk missing, of the wrong size or checksum; the manifest),
 * not because of I/O: such an entry can only fail again. */
int vr_store_read_damaged(const struct vr_store *st);
/* Remove the generation e (from vr_store_read_begin or stat), and only it:
 * a newer one published since under the same key stays. 0 or VR_EIO. */
int vr_store_drop_generation(struct vr_store *st, const struct vr_entry *e);
int vr_store_read_span(struct vr_store *st, const struct vr_entry *e, uint64_t start, uint64_t end,
		       int verify, vr_emit_fn emit, void *ctx);
void vr_store_read_end(struct vr_store *st);

/* ---- management ---- */
int vr_store_stat(struct vr_store *st, const void *key, size_t keylen, struct vr_entry *e);
/* Call fn for every ready entry whose key starts with prefix. */
int vr_store_list(struct vr_store *st, const void *prefix, size_t prefixlen,
		  int (*fn)(void *ctx, const struct vr_entry *e), void *ctx);
/* Remove an entry: 0 or VR_ENOTFOUND. */
int vr_store_remove(struct vr_store *st, const void *key, size_t keylen);
/* Remove every entry carrying tag; *count gets how many. */
int vr_store_purge_tag(struct vr_store *st, const char *tag, uint64_t *count);
/* New expiry only, never the data: 0 or VR_ENOTFOUND. */
int vr_store_touch(struct vr_store *st, const void *key, size_t keylen, int64_t ttl);
/* A hit's sliding TTL: the generation e (from vr_store_read_begin), while
 * still ready and unexpired, expires at now + ttl; its value is never
 * written. Does not wait: a busy store is VR_ETIMEOUT at once. 0 (also
 * when there was nothing to move), VR_ETIMEOUT or VR_EIO. */
int vr_store_refresh(struct vr_store *st, const struct vr_entry *e, int64_t ttl);

struct vr_gc_report {
	uint64_t expired, abandoned, stale_locks, orphan_chunks;
	int vacuumed;
};
int vr_store_gc(struct vr_store *st, int vacuum, struct vr_gc_report *r);

/* Check every chunk (size, SHA-256) and the entry checksum of one key, or
 * of all entries (key NULL), plus SQLite's integrity check. report() is
 * called once per problem. Returns 0 when all is well, VR_EIO otherwise. */
int vr_store_verify(struct vr_store *st, const void *key, size_t keylen,
		    void (*report)(void *ctx, const char *msg), void *ctx, uint64_t *checked);

/* ---- sources and remembered failures (vr-cache) ---- */
/* The current version of a source (0 when it was never invalidated). */
int vr_store_source_version(struct vr_store *st, const char *source, int64_t *version);
/* Raise it by one; *version (may be NULL) gets the new one. */
int vr_store_source_bump(struct vr_store *st, const char *source, int64_t *version);
/* Entries tagged "srcver:SOURCE#N" where N is not SOURCE's current version
 * (old generations after an invalidate) are removed. */
int vr_store_gc_versions(struct vr_store *st, uint64_t *count);
/* A remembered failure for key: 0 (status, message, expires set),
 * VR_ENOTFOUND when none is there or it expired, or VR_EIO. */
int vr_store_negative_get(struct vr_store *st, const void *key, size_t keylen, int *status,
			  char *msg, size_t msglen, int64_t *expires);
int vr_store_negative_put(struct vr_store *st, const void *key, size_t keylen, int status,
			  const char *msg, int64_t ttl);
int vr_store_negative_clear(struct vr_store *st, const void *key, size_t keylen);
/* Forget every remembered failure whose key starts with prefix (the
 * failures of one source: purge --source); *count (may be NULL) gets how
 * many. */
int vr_store_negative_clear_prefix(struct vr_store *st, const void *prefix, size_t len,
				   uint64_t *count);
/* Remove expired remembered failures; *count (may be NULL) gets how many. */
int vr_store_negative_gc(struct vr_store *st, uint64_t *count);
/* Counts and bytes of ready entries. */
int vr_store_totals(struct vr_store *st, uint64_t *entries, uint64_t *bytes);

#endif
