/* Per-key write locks: a row in `locks` with owner, lease and heartbeat;
 * a dead or expired holder's lock is taken over. */
#include "store_int.h"
#include "lifecycle.h"
#include "log.h"
#include "status.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Is the holder of a lock still there? Only a holder on this host can be
 * checked; others count as alive until their lease expires. */
int store_owner_alive(struct vr_store *st, const char *owner, int pid, const char *host)
{
	if (strcmp(host, st->host))
		return 1;
	if (kill(pid, 0) < 0 && errno == ESRCH)
		return 0;
	unsigned long long start = store_proc_start(pid);
	const char *last = strrchr(owner, ':');
	if (start && last && strtoull(last + 1, NULL, 10) != start)
		return 0; /* the pid was reused */
	return 1;
}

/* One attempt: 1 acquired, 0 held by a live owner, <0 error. */
static int lock_try(struct vr_store *st, const void *key, size_t keylen)
{
	int rc = store_begin_write(st);
	if (rc)
		return -rc;
	time_t now = time(NULL);
	sqlite3_stmt *s = store_prepare(st, "SELECT owner, pid, host, expires FROM locks WHERE key = ?");
	if (!s) {
		store_rollback(st);
		return -VR_EIO;
	}
	sqlite3_bind_blob(s, 1, key, (int)keylen, SQLITE_STATIC);
	int held = 0;
	int step = sqlite3_step(s);
	if (step == SQLITE_ROW) {
		const char *owner = (const char *)sqlite3_column_text(s, 0);
		int pid = sqlite3_column_int(s, 1);
		const char *host = (const char *)sqlite3_column_text(s, 2);
		int64_t expires = sqlite3_column_int64(s, 3);
		held = expires > now && store_owner_alive(st, owner ? owner : "", pid, host ? host : "");
		if (!held)
			vr_info("taking over the stale lock of %s", owner ? owner : "?");
	} else if (step != SQLITE_DONE) {
		sqlite3_finalize(s);
		rc = store_db_fail(st, "reading a lock");
		store_rollback(st);
		return -rc;
	}
	sqlite3_finalize(s);
	if (held) {
		store_rollback(st);
		return 0;
	}
	s = store_prepare(st, "INSERT OR REPLACE INTO locks(key, owner, pid, host, acquired, expires)"
			      " VALUES (?, ?, ?, ?, ?, ?)");
	if (!s) {
		store_rollback(st);
		return -VR_EIO;
	}
	sqlite3_bind_blob(s, 1, key, (int)keylen, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, st->owner, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 3, (int)getpid());
	sqlite3_bind_text(s, 4, st->host, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, now);
	sqlite3_bind_int64(s, 6, now + VR_STORE_LEASE_S);
	step = sqlite3_step(s);
	sqlite3_finalize(s);
	if (step != SQLITE_DONE) {
		rc = store_db_fail(st, "taking a lock");
		store_rollback(st);
		return -rc;
	}
	rc = store_commit(st);
	return rc ? -rc : 1;
}

int store_lock_acquire(struct vr_store *st, const void *key, size_t keylen, double wait)
{
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	long sleep_ms = 10;
	for (;;) {
		int r = lock_try(st, key, keylen);
		if (r < 0)
			return -r;
		if (r == 1)
			return 0;
		clock_gettime(CLOCK_MONOTONIC, &t);
		double waited = (double)(t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9;
		if (waited >= wait)
			return store_fail(st, VR_ETIMEOUT,
					  "another writer holds the key (waited %.1f s; see --wait)", waited);
		if (vr_stop_requested())
			return store_fail(st, VR_EFAIL, "interrupted while waiting for a lock");
		double left_ms = (wait - waited) * 1000;
		long ms = sleep_ms < left_ms ? sleep_ms : (long)left_ms + 1;
		struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
		nanosleep(&ts, NULL);
		if (sleep_ms < 200)
			sleep_ms *= 2;
	}
}

/* Inside a write transaction: is the lock still ours? */
int store_lock_is_mine(struct vr_store *st, const void *key, size_t keylen)
{
	sqlite3_stmt *s = store_prepare(st, "SELECT owner FROM locks WHERE key = ?");
	if (!s)
		return 0;
	sqlite3_bind_blob(s, 1, key, (int)keylen, SQLITE_STATIC);
	int mine = sqlite3_step(s) == SQLITE_ROW &&
		   !strcmp((const char *)sqlite3_column_text(s, 0), st->owner);
	sqlite3_finalize(s);
	return mine;
}

void store_lock_release(struct vr_store *st, const void *key, size_t keylen)
{
	sqlite3_stmt *s = store_prepare(st, "DELETE FROM locks WHERE key = ? AND owner = ?");
	if (!s)
		return;
	sqlite3_bind_blob(s, 1, key, (int)keylen, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, st->owner, -1, SQLITE_STATIC);
	sqlite3_step(s);
	sqlite3_finalize(s);
}
