/* Reading: lookup, stat and list of entries, and the ranged read of
 * chunks, each checked against its recorded sums. */
#include "store_int.h"
#include "crc32c.h"
#include "status.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

void store_fill_entry_from_row(sqlite3_stmt *s, struct vr_entry *e)
{
	memset(e, 0, sizeof *e);
	e->id = sqlite3_column_int64(s, 0);
	int kl = sqlite3_column_bytes(s, 1);
	if (kl > VR_STORE_KEY_MAX)
		kl = VR_STORE_KEY_MAX;
	if (kl > 0)
		memcpy(e->key, sqlite3_column_blob(s, 1), (size_t)kl);
	e->keylen = (size_t)kl;
	snprintf(e->state, sizeof e->state, "%s", (const char *)sqlite3_column_text(s, 2));
	e->size = (uint64_t)sqlite3_column_int64(s, 3);
	e->chunk_size = (uint32_t)sqlite3_column_int64(s, 4);
	e->chunk_count = (uint64_t)sqlite3_column_int64(s, 5);
	const unsigned char *t = sqlite3_column_text(s, 6);
	snprintf(e->content_type, sizeof e->content_type, "%s", t ? (const char *)t : "");
	t = sqlite3_column_text(s, 7);
	snprintf(e->sha256, sizeof e->sha256, "%s", t ? (const char *)t : "");
	e->created = sqlite3_column_int64(s, 8);
	e->expires = sqlite3_column_int64(s, 9);
	/* the tags joined by '\0' (group_concat with char(0)): kept as they
	 * are in tag_list, joined by commas in tags */
	const char *tl = (const char *)sqlite3_column_blob(s, 10);
	size_t n = tl ? (size_t)sqlite3_column_bytes(s, 10) : 0;
	if (n >= sizeof e->tag_list)
		n = sizeof e->tag_list - 1;
	if (n)
		memcpy(e->tag_list, tl, n);
	e->tag_list[n] = '\0';
	size_t o = 0;
	for (const char *p = e->tag_list; n && p < e->tag_list + n + 1; p += strlen(p) + 1) {
		e->ntags++;
		o += (size_t)snprintf(e->tags + o, o < sizeof e->tags ? sizeof e->tags - o : 0,
				      "%s%s", e->ntags > 1 ? "," : "", p);
		if (o >= sizeof e->tags)
			o = sizeof e->tags;
	}
}

/* Is the manifest self-consistent? Reads divide by the chunk size and
 * index chunks by it, so a damaged one must stop here, not crash later. */
int store_manifest_ok(const struct vr_entry *e)
{
	if (e->chunk_size < VR_STORE_CHUNK_MIN || e->chunk_size > VR_STORE_CHUNK_MAX ||
	    e->size > (UINT64_MAX >> 2))
		return 0;
	return e->chunk_count == (e->size + e->chunk_size - 1) / e->chunk_size;
}

int store_damaged(struct vr_store *st, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(st->err, sizeof st->err, fmt, ap);
	va_end(ap);
	st->damaged = 1;
	return VR_EIO;
}

int vr_store_read_damaged(const struct vr_store *st) { return st->damaged; }

int store_manifest_fail(struct vr_store *st, const struct vr_entry *e)
{
	return store_damaged(st,
			  "%s: the manifest of the entry is damaged (size %lld, chunk size %u, %llu chunks)",
			  st->path, (long long)e->size, e->chunk_size, (unsigned long long)e->chunk_count);
}

/* The ready, unexpired entry of key: 0, VR_ENOTFOUND or VR_EIO. */
int store_lookup(struct vr_store *st, const void *key, size_t keylen, struct vr_entry *e)
{
	sqlite3_stmt *s = store_prepare(st, "SELECT " ENTRY_COLUMNS " FROM entries e WHERE e.key = ?"
					    " AND e.state = 'ready'"
					    " AND (e.expires IS NULL OR e.expires > ?)");
	if (!s)
		return VR_EIO;
	sqlite3_bind_blob(s, 1, key, (int)keylen, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, time(NULL));
	int step = sqlite3_step(s);
	int rc = 0;
	if (step == SQLITE_ROW) {
		store_fill_entry_from_row(s, e);
		if (!store_manifest_ok(e))
			      rc = store_manifest_fail(st, e);
	} else if (step == SQLITE_DONE)
		rc = store_fail(st, VR_ENOTFOUND, "no such key");
	else
		rc = store_db_fail(st, "looking up a key");
	sqlite3_finalize(s);
	return rc;
}

int vr_store_read_begin(struct vr_store *st, const void *key, size_t keylen, struct vr_entry *e)
{
	/* A reader streams each chunk through the page cache once: a few
	 * pages, reused, touch less fresh memory than the writer's 2 MiB,
	 * and first touches are what a small range mostly costs. */
	store_exec(st, "PRAGMA cache_size = -512");
	st->damaged = 0;
	int rc = store_exec(st, "BEGIN");
	if (rc)
		return rc;
	st->in_read = 1;
	rc = store_lookup(st, key, keylen, e);
	if (rc)
		vr_store_read_end(st);
	return rc;
}

void vr_store_read_end(struct vr_store *st)
{
	if (st->in_read && !sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
	st->in_read = 0;
	sqlite3_exec(st->db, "PRAGMA cache_size = -2048", NULL, NULL, NULL);
}

/* Open chunk idx of entry e for reading, checking its size. */
int store_open_chunk(struct vr_store *st, const struct vr_entry *e, uint64_t idx,
		     sqlite3_blob **blob, uint8_t digest[VR_DIGEST_LEN], uint32_t *crc)
{
	uint64_t expect = idx + 1 < e->chunk_count ? e->chunk_size
						     : e->size - (e->chunk_count - 1) * e->chunk_size;
	sqlite3_stmt *s =
		store_prepare(st, "SELECT id, size, sha256, crc32c FROM chunks WHERE entry = ? AND idx = ?");
	if (!s)
		return VR_EIO;
	sqlite3_bind_int64(s, 1, e->id);
	sqlite3_bind_int64(s, 2, (int64_t)idx);
	int step = sqlite3_step(s);
	if (step != SQLITE_ROW) {
		sqlite3_finalize(s);
		if (step == SQLITE_DONE)
			return store_damaged(st, "chunk %llu of the entry is missing",
					  (unsigned long long)idx);
		return store_db_fail(st, "reading a chunk");
	}
	int64_t rowid = sqlite3_column_int64(s, 0);
	uint64_t size = (uint64_t)sqlite3_column_int64(s, 1);
	if (sqlite3_column_bytes(s, 2) == VR_DIGEST_LEN)
		memcpy(digest, sqlite3_column_blob(s, 2), VR_DIGEST_LEN);
	else
		memset(digest, 0, VR_DIGEST_LEN);
	*crc = (uint32_t)sqlite3_column_int64(s, 3);
	sqlite3_finalize(s);
	if (sqlite3_blob_open(st->db, "main", "chunks", "data", rowid, 0, blob) != SQLITE_OK)
		return store_db_fail(st, "opening a chunk");
	uint64_t actual = (uint64_t)sqlite3_blob_bytes(*blob);
	if (size != expect || actual != expect) {
		sqlite3_blob_close(*blob);
		*blob = NULL;
		return store_damaged(st,
				  "chunk %llu has %llu bytes (recorded %llu), the manifest says %llu",
				  (unsigned long long)idx, (unsigned long long)actual,
				  (unsigned long long)size, (unsigned long long)expect);
	}
	return 0;
}

/* Compare a chunk's CRC-32C (and, with d, its SHA-256, finishing d, which
 * is reused for the next chunk) with what its row recorded. */
static int chunk_sums_ok(struct vr_store *st, uint64_t idx, uint32_t crc, uint32_t want_crc,
			 struct vr_digest *d, const uint8_t want[VR_DIGEST_LEN])
{
	uint8_t got[VR_DIGEST_LEN];
	if (d)
		vr_digest_final(d, got);
	if (crc != want_crc)
		return store_damaged(st, "chunk %llu does not match its checksum (CRC-32C)",
				  (unsigned long long)idx);
	if (d && memcmp(got, want, VR_DIGEST_LEN))
		return store_damaged(st, "chunk %llu does not match its checksum (SHA-256)",
				  (unsigned long long)idx);
	return 0;
}

/* Read a whole chunk in pieces and check it (chunk_sums_ok). */
int store_check_chunk(struct vr_store *st, sqlite3_blob *blob, uint64_t idx, uint32_t want_crc,
		      const uint8_t want[VR_DIGEST_LEN], struct vr_digest *d)
{
	int n = sqlite3_blob_bytes(blob);
	uint32_t crc = 0;
	for (int off = 0; off < n;) {
		int step = n - off < (int)PIECE ? n - off : (int)PIECE;
		if (sqlite3_blob_read(blob, st->piece, step, off) != SQLITE_OK) {
			if (d)
				vr_digest_reset(d);
			return store_db_fail(st, "reading a chunk");
		}
		crc = vr_crc32c(crc, st->piece, (size_t)step);
		if (d)
			vr_digest_update(d, st->piece, (size_t)step);
		off += step;
	}
	return chunk_sums_ok(st, idx, crc, want_crc, d, want);
}

/* Chunks up to this size are read once, whole, into a buffer: checked,
 * then emitted from it. Larger ones are read twice in pieces (check, then
 * emit) so that a read costs a few MiB of memory whatever the chunk size. */
#define ONE_PASS_MAX (4u << 20)

/* Read chunk idx whole into st->whole (populated memory: touched page by
 * page it would cost a fault each, in some VMs most of a small range's
 * time) and check it (chunk_sums_ok). */
static int load_chunk(struct vr_store *st, sqlite3_blob *blob, uint64_t idx, uint32_t want_crc,
		      const uint8_t want[VR_DIGEST_LEN], struct vr_digest *d)
{
	size_t n = (size_t)sqlite3_blob_bytes(blob);
	if (st->whole_size < n) {
		size_t len = (n + 4095) / 4096 * 4096;
		void *b = store_map_populated(len);
		if (!b)
			return store_fail(st, VR_EFAIL, "out of memory");
		if (st->whole)
			munmap(st->whole, st->whole_size);
		st->whole = b;
		st->whole_size = len;
	}
	if (n && sqlite3_blob_read(blob, st->whole, (int)n, 0) != SQLITE_OK)
		return store_db_fail(st, "reading a chunk");
	if (d)
		vr_digest_update(d, st->whole, n);
	return chunk_sums_ok(st, idx, vr_crc32c(0, st->whole, n), want_crc, d, want);
}

/* Emit bytes [from, to] of a checked chunk in pieces (the two-pass read). */
static int emit_pieces(struct vr_store *st, sqlite3_blob *blob, uint64_t from, uint64_t to,
		       vr_emit_fn emit, void *ctx)
{
	int rc = 0;
	while (!rc && from <= to) {
		uint64_t left = to - from + 1;
		int step = left < PIECE ? (int)left : (int)PIECE;
		if (sqlite3_blob_read(blob, st->piece, step, (int)from) != SQLITE_OK)
			return store_db_fail(st, "reading a chunk");
		rc = emit(ctx, st->piece, (size_t)step);
		from += (uint64_t)step;
	}
	return rc;
}

int vr_store_read_span(struct vr_store *st, const struct vr_entry *e, uint64_t start, uint64_t end,
		       int verify, vr_emit_fn emit, void *ctx)
{
	if (e->size == 0 || start > end || end >= e->size)
		return 0;
	struct vr_digest *d = verify ? vr_digest_new() : NULL;
	if (verify && !d)
		return store_fail(st, VR_EFAIL, "out of memory");
	int one_pass = e->chunk_size <= ONE_PASS_MAX;
	int rc = 0;
	for (uint64_t idx = start / e->chunk_size; idx <= end / e->chunk_size && !rc; idx++) {
		sqlite3_blob *blob = NULL;
		uint8_t digest[VR_DIGEST_LEN];
		uint32_t crc;
		if ((rc = store_open_chunk(st, e, idx, &blob, digest, &crc)))
			break;
		uint64_t base = idx * e->chunk_size;
		uint64_t from = start > base ? start - base : 0;
		uint64_t to = end - base < e->chunk_size ? end - base : e->chunk_size - 1;
		if (one_pass) {
			rc = load_chunk(st, blob, idx, crc, digest, d);
			if (!rc)
				rc = emit(ctx, st->whole + from, (size_t)(to - from + 1));
		} else {
			rc = store_check_chunk(st, blob, idx, crc, digest, d);
			if (!rc)
				rc = emit_pieces(st, blob, from, to, emit, ctx);
		}
		sqlite3_blob_close(blob);
	}
	if (d)
		vr_digest_free(d);
	return rc;
}

int vr_store_stat(struct vr_store *st, const void *key, size_t keylen, struct vr_entry *e)
{
	return store_lookup(st, key, keylen, e);
}

int vr_store_list(struct vr_store *st, const void *prefix, size_t prefixlen,
		  int (*fn)(void *ctx, const struct vr_entry *e), void *ctx)
{
	/* substr() of an empty blob is NULL, not an empty blob: without the
	 * first test, the empty key would never be listed */
	sqlite3_stmt *s =
		store_prepare(st, "SELECT " ENTRY_COLUMNS " FROM entries e WHERE e.state = 'ready'"
				  " AND (e.expires IS NULL OR e.expires > ?1)"
				  " AND (?2 = 0 OR substr(e.key, 1, ?2) = ?3) ORDER BY e.key");
	if (!s)
		return VR_EIO;
	sqlite3_bind_int64(s, 1, time(NULL));
	sqlite3_bind_int64(s, 2, (int64_t)prefixlen);
	sqlite3_bind_blob(s, 3, prefixlen ? prefix : "", (int)prefixlen, SQLITE_STATIC);
	struct vr_entry *e = malloc(sizeof *e);
	int rc = e ? 0 : VR_EFAIL;
	int step;
	while (!rc && (step = sqlite3_step(s)) == SQLITE_ROW) {
		store_fill_entry_from_row(s, e);
		rc = fn(ctx, e);
	}
	if (!rc && step != SQLITE_DONE)
		rc = store_db_fail(st, "listing entries");
	sqlite3_finalize(s);
	free(e);
	return rc;
}
