/* Maintenance: remove, purge by tag, touch, gc, verify, totals, and the
 * source versions that invalidate every key of a source. */
#include "store_int.h"
#include "status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Drop every entry the query selects (bound with one blob or text
 * parameter), in one transaction. */
static int drop_where(struct vr_store *st, const char *sql, const void *arg, size_t arglen,
		      int is_text, uint64_t *count)
{
	int rc = store_begin_write(st);
	if (rc)
		return rc;
	sqlite3_stmt *s = store_prepare(st, sql);
	if (!s) {
		store_rollback(st);
		return VR_EIO;
	}
	if (is_text)
		sqlite3_bind_text(s, 1, arg, (int)arglen, SQLITE_STATIC);
	else
		sqlite3_bind_blob(s, 1, arglen ? arg : "", (int)arglen, SQLITE_STATIC);
	uint64_t n = 0;
	int step;
	/* collect ids first: deleting while stepping the same table is unsafe */
	int64_t *ids = NULL;
	size_t cap = 0;
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			int64_t *grown = realloc(ids, cap * sizeof *ids);
			if (!grown) {
				free(ids);
				sqlite3_finalize(s);
				store_rollback(st);
				return store_fail(st, VR_EFAIL, "out of memory");
			}
			ids = grown;
		}
		ids[n++] = sqlite3_column_int64(s, 0);
	}
	sqlite3_finalize(s);
	if (step != SQLITE_DONE) {
		free(ids);
		rc = store_db_fail(st, "selecting entries");
		store_rollback(st);
		return rc;
	}
	for (uint64_t i = 0; i < n && !rc; i++)
		rc = store_drop_entry(st, ids[i]);
	free(ids);
	if (rc || (rc = store_commit(st))) {
		store_rollback(st);
		return rc;
	}
	if (count)
		*count = n;
	return 0;
}

int vr_store_remove(struct vr_store *st, const void *key, size_t keylen)
{
	uint64_t n = 0;
	int rc = drop_where(st, "SELECT id FROM entries WHERE key = ? AND state = 'ready'", key,
			    keylen, 0, &n);
	if (!rc && n == 0)
		return store_fail(st, VR_ENOTFOUND, "no such key");
	return rc;
}

int vr_store_purge_tag(struct vr_store *st, const char *tag, uint64_t *count)
{
	return drop_where(st,
			  "SELECT e.id FROM entries e JOIN tags t ON t.entry = e.id"
			  " WHERE t.tag = ? AND e.state = 'ready'",
			  tag, strlen(tag), 1, count);
}

int vr_store_touch(struct vr_store *st, const void *key, size_t keylen, int64_t ttl)
{
	int rc = store_begin_write(st);
	if (rc)
		return rc;
	sqlite3_stmt *s =
		store_prepare(st, "UPDATE entries SET expires = ? WHERE key = ? AND state = 'ready'"
				  " AND (expires IS NULL OR expires > ?)");
	if (!s) {
		store_rollback(st);
		return VR_EIO;
	}
	time_t now = time(NULL);
	if (ttl > 0)
		sqlite3_bind_int64(s, 1, now + ttl);
	else
		sqlite3_bind_null(s, 1);
	sqlite3_bind_blob(s, 2, keylen ? key : "", (int)keylen, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, now);
	int step = sqlite3_step(s);
	sqlite3_finalize(s);
	if (step != SQLITE_DONE) {
		rc = store_db_fail(st, "changing an expiry");
		store_rollback(st);
		return rc;
	}
	int changed = sqlite3_changes(st->db);
	if ((rc = store_commit(st)))
		return rc;
	return changed ? 0 : store_fail(st, VR_ENOTFOUND, "no such key");
}

int vr_store_refresh(struct vr_store *st, const struct vr_entry *e, int64_t ttl)
{
	int rc = store_begin_write_nowait(st);
	if (rc)
		return rc;
	/* by generation: a newer one published meanwhile keeps its own expiry */
	sqlite3_stmt *s = store_prepare(st, "UPDATE entries SET expires = ?1 WHERE id = ?2"
					    " AND state = 'ready' AND expires > ?3 AND expires < ?1");
	if (!s) {
		store_rollback(st);
		return VR_EIO;
	}
	time_t now = time(NULL);
	sqlite3_bind_int64(s, 1, now + ttl);
	sqlite3_bind_int64(s, 2, e->id);
	sqlite3_bind_int64(s, 3, now);
	int step = sqlite3_step(s);
	sqlite3_finalize(s);
	if (step != SQLITE_DONE) {
		rc = store_db_fail(st, "refreshing an expiry");
		store_rollback(st);
		return rc;
	}
	return store_commit(st);
}

int vr_store_gc(struct vr_store *st, int vacuum, struct vr_gc_report *r)
{
	memset(r, 0, sizeof *r);
	int rc = store_begin_write(st);
	if (rc)
		return rc;
	time_t now = time(NULL);
	/* stale locks: lease expired, or the owner on this host is gone */
	sqlite3_stmt *s = store_prepare(st, "SELECT key, owner, pid, host, expires FROM locks");
	if (!s) {
		store_rollback(st);
		return VR_EIO;
	}
	struct stale {
		unsigned char key[VR_STORE_KEY_MAX];
		int keylen;
	} *stale = NULL;
	size_t nstale = 0;
	while (sqlite3_step(s) == SQLITE_ROW) {
		const char *owner = (const char *)sqlite3_column_text(s, 1);
		const char *host = (const char *)sqlite3_column_text(s, 3);
		if (sqlite3_column_int64(s, 4) > now &&
		    store_owner_alive(st, owner ? owner : "", sqlite3_column_int(s, 2), host ? host : ""))
			      continue;
		struct stale *grown = realloc(stale, (nstale + 1) * sizeof *stale);
		if (!grown)
			break;
		stale = grown;
		stale[nstale].keylen = sqlite3_column_bytes(s, 0);
		if (stale[nstale].keylen > VR_STORE_KEY_MAX)
			stale[nstale].keylen = VR_STORE_KEY_MAX;
		memcpy(stale[nstale].key, sqlite3_column_blob(s, 0), (size_t)stale[nstale].keylen);
		nstale++;
	}
	sqlite3_finalize(s);
	for (size_t i = 0; i < nstale; i++) {
		s = store_prepare(st, "DELETE FROM locks WHERE key = ?");
		if (s) {
			sqlite3_bind_blob(s, 1, stale[i].key, stale[i].keylen, SQLITE_STATIC);
			sqlite3_step(s);
			sqlite3_finalize(s);
		}
	}
	free(stale);
	r->stale_locks = nstale;
	if ((rc = store_commit(st)))
		return rc;
	/* expired entries */
	char sql[256];
	snprintf(sql, sizeof sql,
		 "SELECT id FROM entries WHERE state = 'ready' AND expires IS NOT NULL"
		 " AND expires <= %lld AND ?1 IS NOT NULL",
		 (long long)now);
	if ((rc = drop_where(st, sql, "", 0, 0, &r->expired)))
		return rc;
	/* abandoned writes: generations whose writer no longer holds a lock */
	if ((rc = drop_where(st,
			     "SELECT e.id FROM entries e WHERE e.state = 'writing' AND ?1 IS NOT NULL"
			     " AND NOT EXISTS (SELECT 1 FROM locks l WHERE l.key = e.key"
			     " AND l.owner = e.writer)",
			     "", 0, 0, &r->abandoned)))
		return rc;
	if ((rc = store_begin_write(st)))
		return rc;
	if ((rc = store_exec(st, "DELETE FROM chunks WHERE entry NOT IN (SELECT id FROM entries)"))) {
		store_rollback(st);
		return rc;
	}
	r->orphan_chunks = (uint64_t)sqlite3_changes(st->db);
	if ((rc = store_exec(st, "DELETE FROM tags WHERE entry NOT IN (SELECT id FROM entries)")) ||
	    (rc = store_commit(st))) {
		store_rollback(st);
		return rc;
	}
	if (vacuum) {
		if ((rc = store_exec(st, "VACUUM")))
			return rc;
		if ((rc = store_exec(st, "PRAGMA wal_checkpoint(TRUNCATE)")))
			return rc;
		r->vacuumed = 1;
	}
	return 0;
}

/* How many chunk rows an entry has; -1 on error. */
static int64_t chunk_rows(struct vr_store *st, int64_t id)
{
	sqlite3_stmt *s = store_prepare(st, "SELECT count(*) FROM chunks WHERE entry = ?");
	if (!s)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	int64_t n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
	sqlite3_finalize(s);
	return n;
}

int vr_store_verify(struct vr_store *st, const void *key, size_t keylen,
		    void (*report)(void *ctx, const char *msg), void *ctx, uint64_t *checked)
{
	int bad = 0;
	char msg[1024];
	*checked = 0;
	if (!key) {
		sqlite3_stmt *s = store_prepare(st, "PRAGMA integrity_check");
		if (!s)
			return VR_EIO;
		int step;
		while ((step = sqlite3_step(s)) == SQLITE_ROW) {
			const char *line = (const char *)sqlite3_column_text(s, 0);
			if (line && strcmp(line, "ok")) {
				snprintf(msg, sizeof msg, "integrity check: %s", line);
				report(ctx, msg);
				bad = 1;
			}
		}
		sqlite3_finalize(s);
		if (step != SQLITE_DONE)
			return store_db_fail(st, "integrity check");
	}
	int rc = store_exec(st, "BEGIN");
	if (rc)
		return rc;
	sqlite3_stmt *s = store_prepare(st, key ? "SELECT " ENTRY_COLUMNS " FROM entries e WHERE e.key = ?"
						  " AND e.state = 'ready'"
						: "SELECT " ENTRY_COLUMNS " FROM entries e WHERE e.state = 'ready'"
						  " AND ?1 IS NOT NULL");
	if (!s) {
		store_rollback(st);
		return VR_EIO;
	}
	sqlite3_bind_blob(s, 1, key ? key : "", (int)keylen, SQLITE_STATIC);
	struct vr_entry *e = malloc(sizeof *e);
	struct vr_digest *d = vr_digest_new(), *list = vr_digest_new();
	if (!e || !d || !list) {
		free(e);
		if (d)
			vr_digest_free(d);
		if (list)
			vr_digest_free(list);
		sqlite3_finalize(s);
		store_rollback(st);
		return store_fail(st, VR_EFAIL, "cannot set up SHA-256 (is libcrypto installed?)");
	}
	int step = SQLITE_DONE;
	int found = 0;
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		store_fill_entry_from_row(s, e);
		found = 1;
		(*checked)++;
		int entry_bad = 0;
		if (!store_manifest_ok(e)) {
			      store_manifest_fail(st, e);
				    snprintf(msg, sizeof msg, "key %.*s: %s", (int)(e->keylen > 200 ? 200 : e->keylen),
					     e->key, st->err);
				    report(ctx, msg);
				    bad = entry_bad = 1;
		}
		for (uint64_t i = 0; i < e->chunk_count && !entry_bad; i++) {
			sqlite3_blob *blob = NULL;
			uint8_t digest[VR_DIGEST_LEN];
			uint32_t crc;
			int r = store_open_chunk(st, e, i, &blob, digest, &crc);
			if (!r)
				r = store_check_chunk(st, blob, i, crc, digest, d);
			if (blob)
				sqlite3_blob_close(blob);
			if (r) {
				snprintf(msg, sizeof msg, "key %.*s: %s",
					 (int)(e->keylen > 200 ? 200 : e->keylen), e->key, st->err);
				report(ctx, msg);
				bad = entry_bad = 1;
				break;
			}
			vr_digest_update(list, digest, VR_DIGEST_LEN);
		}
		int64_t rows;
		if (!entry_bad && (rows = chunk_rows(st, e->id)) != (int64_t)e->chunk_count) {
			/* a chunk row beyond the manifest is as wrong as a missing one */
			snprintf(msg, sizeof msg, "key %.*s: %lld chunk rows, the manifest says %llu",
				 (int)(e->keylen > 200 ? 200 : e->keylen), e->key, (long long)rows,
				 (unsigned long long)e->chunk_count);
			report(ctx, msg);
			bad = entry_bad = 1;
		}
		if (!entry_bad) {
			uint8_t whole[VR_DIGEST_LEN];
			char hex[2 * VR_DIGEST_LEN + 1];
			vr_digest_final(list, whole);
			vr_digest_hex(whole, hex);
			if (strcmp(hex, e->sha256)) {
				snprintf(msg, sizeof msg, "key %.*s: entry checksum mismatch",
					 (int)(e->keylen > 200 ? 200 : e->keylen), e->key);
				report(ctx, msg);
				bad = 1;
			}
		} else {
			vr_digest_reset(list);
		}
	}
	sqlite3_finalize(s);
	if (d)
		vr_digest_free(d);
	if (list)
		vr_digest_free(list);
	free(e);
	sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
	if (step != SQLITE_DONE && step != SQLITE_ROW)
		return store_db_fail(st, "verifying");
	if (key && !found)
		return store_fail(st, VR_ENOTFOUND, "no such key");
	return bad ? store_fail(st, VR_EIO, "verification failed") : 0;
}

int vr_store_source_version(struct vr_store *st, const char *source, int64_t *version)
{
	*version = 0;
	sqlite3_stmt *s = store_prepare(st, "SELECT version FROM sources WHERE source = ?");
	if (!s)
		return VR_EIO;
	sqlite3_bind_text(s, 1, source, -1, SQLITE_STATIC);
	int step = sqlite3_step(s);
	if (step == SQLITE_ROW)
		*version = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		return store_db_fail(st, "reading a source version");
	return 0;
}

int vr_store_source_bump(struct vr_store *st, const char *source, int64_t *version)
{
	int rc = store_begin_write(st);
	if (rc)
		return rc;
	sqlite3_stmt *s = store_prepare(st, "INSERT INTO sources(source, version) VALUES (?, 1)"
					    " ON CONFLICT(source) DO UPDATE SET version = version + 1");
	if (!s) {
		store_rollback(st);
		return VR_EIO;
	}
	sqlite3_bind_text(s, 1, source, -1, SQLITE_STATIC);
	int step = sqlite3_step(s);
	sqlite3_finalize(s);
	if (step != SQLITE_DONE) {
		rc = store_db_fail(st, "raising a source version");
		store_rollback(st);
		return rc;
	}
	int64_t v = 0;
	if ((rc = vr_store_source_version(st, source, &v)) || (rc = store_commit(st))) {
		store_rollback(st);
		return rc;
	}
	if (version)
		*version = v;
	return 0;
}

int vr_store_gc_versions(struct vr_store *st, uint64_t *count)
{
	/* the tag is "srcver:" SOURCE "#" N; a source without a row is at
	 * version 0, which no entry of an older version can have */
	return drop_where(st,
			  "SELECT DISTINCT e.id FROM entries e JOIN tags t ON t.entry = e.id"
			  " JOIN sources s ON substr(t.tag, 1, 8 + length(s.source)) ="
			  "  'srcver:' || s.source || '#'"
			  " WHERE t.tag GLOB 'srcver:*' AND e.state = 'ready'"
			  "  AND substr(t.tag, 9 + length(s.source)) NOT GLOB '*[^0-9]*'"
			  "  AND t.tag <> 'srcver:' || s.source || '#' || s.version"
			  "  AND ? IS NOT NULL",
			  "", 0, 1, count);
}

int vr_store_totals(struct vr_store *st, uint64_t *entries, uint64_t *bytes)
{
	*entries = *bytes = 0;
	sqlite3_stmt *s =
		store_prepare(st, "SELECT count(*), coalesce(sum(size), 0) FROM entries WHERE state = 'ready'");
	if (!s)
		return VR_EIO;
	int step = sqlite3_step(s);
	if (step == SQLITE_ROW) {
		*entries = (uint64_t)sqlite3_column_int64(s, 0);
		*bytes = (uint64_t)sqlite3_column_int64(s, 1);
	}
	sqlite3_finalize(s);
	return step == SQLITE_ROW ? 0 : store_db_fail(st, "counting entries");
}

int vr_store_drop_generation(struct vr_store *st, const struct vr_entry *e)
{
	int rc = store_begin_write(st);
	if (rc)
		return rc;
	if ((rc = store_drop_entry(st, e->id))) {
		store_rollback(st);
		return rc;
	}
	return store_commit(st);
}
