/* Remembered failures (the negative cache): a status and message per
 * key, until they expire. */
#include "store_int.h"
#include "status.h"

#include <stdio.h>
#include <time.h>

int vr_store_negative_get(struct vr_store *st, const void *key, size_t keylen, int *status,
			  char *msg, size_t msglen, int64_t *expires)
{
	sqlite3_stmt *s =
		store_prepare(st, "SELECT status, message, expires FROM negative WHERE key = ? AND expires > ?");
	if (!s)
		return VR_EIO;
	sqlite3_bind_blob(s, 1, keylen ? key : "", (int)keylen, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, time(NULL));
	int step = sqlite3_step(s);
	int rc = VR_ENOTFOUND;
	if (step == SQLITE_ROW) {
		*status = sqlite3_column_int(s, 0);
		const char *m = (const char *)sqlite3_column_text(s, 1);
		snprintf(msg, msglen, "%s", m ? m : "");
		*expires = sqlite3_column_int64(s, 2);
		rc = 0;
	} else if (step != SQLITE_DONE) {
		rc = store_db_fail(st, "reading a remembered failure");
	}
	sqlite3_finalize(s);
	return rc;
}

static int exec_key(struct vr_store *st, const char *sql, const void *key, size_t keylen,
		    int status, const char *msg, int64_t expires, const char *what)
{
	int rc = store_begin_write(st);
	if (rc)
		return rc;
	sqlite3_stmt *s = store_prepare(st, sql);
	if (!s) {
		store_rollback(st);
		return VR_EIO;
	}
	sqlite3_bind_blob(s, 1, keylen ? key : "", (int)keylen, SQLITE_STATIC);
	if (msg) {
		sqlite3_bind_int(s, 2, status);
		sqlite3_bind_text(s, 3, msg, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 4, expires);
	}
	int step = sqlite3_step(s);
	sqlite3_finalize(s);
	if (step != SQLITE_DONE) {
		rc = store_db_fail(st, what);
		store_rollback(st);
		return rc;
	}
	return store_commit(st);
}

int vr_store_negative_put(struct vr_store *st, const void *key, size_t keylen, int status,
			  const char *msg, int64_t ttl)
{
	return exec_key(st,
			"INSERT OR REPLACE INTO negative(key, status, message, expires)"
			" VALUES (?, ?, ?, ?)",
			key, keylen, status, msg ? msg : "", (int64_t)time(NULL) + ttl,
			"remembering a failure");
}

int vr_store_negative_clear(struct vr_store *st, const void *key, size_t keylen)
{
	return exec_key(st, "DELETE FROM negative WHERE key = ?", key, keylen, 0, NULL, 0,
			"forgetting a failure");
}

int vr_store_negative_clear_prefix(struct vr_store *st, const void *prefix, size_t len,
				   uint64_t *count)
{
	int rc = store_begin_write(st);
	if (rc)
		return rc;
	sqlite3_stmt *s =
		store_prepare(st, "DELETE FROM negative WHERE substr(key, 1, ?1) = ?2");
	if (!s) {
		store_rollback(st);
		return VR_EIO;
	}
	sqlite3_bind_int64(s, 1, (int64_t)len);
	sqlite3_bind_blob(s, 2, len ? prefix : "", (int)len, SQLITE_STATIC);
	int step = sqlite3_step(s);
	sqlite3_finalize(s);
	if (step != SQLITE_DONE) {
		rc = store_db_fail(st, "forgetting a source's failures");
		store_rollback(st);
		return rc;
	}
	if (count)
		*count = (uint64_t)sqlite3_changes(st->db);
	return store_commit(st);
}

int vr_store_negative_gc(struct vr_store *st, uint64_t *count)
{
	int rc = store_begin_write(st);
	if (rc)
		return rc;
	sqlite3_stmt *s = store_prepare(st, "DELETE FROM negative WHERE expires <= ?");
	if (!s) {
		store_rollback(st);
		return VR_EIO;
	}
	sqlite3_bind_int64(s, 1, time(NULL));
	int step = sqlite3_step(s);
	sqlite3_finalize(s);
	if (step != SQLITE_DONE) {
		rc = store_db_fail(st, "removing expired failures");
		store_rollback(st);
		return rc;
	}
	if (count)
		*count = (uint64_t)sqlite3_changes(st->db);
	return store_commit(st);
}
