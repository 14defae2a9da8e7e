/* A writer: a new generation filled chunk by chunk (CRC-32C up front,
 * SHA-256 on a thread of its own), then published in one transaction. */
#include "store_int.h"
#include "num.h"
#include "defaults.h"
#include "crc32c.h"
#include "status.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Writers of chunks up to this size keep two chunk buffers (see flush_chunk) */
#define PIPELINE_MAX (4u << 20)

/* A chunk's SHA-256, computed on a thread of its own, so that it overlaps
 * with reading the next chunk and inserting this one (libcrypto's SHA-256
 * runs at about 1.6 GB/s with the CPU's SHA extensions, still the largest
 * CPU cost of a put after the copies into the store). */
struct hash_job {
	struct vr_digest *d;
	const unsigned char *buf;
	size_t n;
	pthread_t tid;
	int threaded, running;
	uint8_t out[VR_DIGEST_LEN];
};

static void *hash_run(void *arg)
{
	struct hash_job *j = arg;
	vr_digest_update(j->d, j->buf, j->n);
	vr_digest_final(j->d, j->out);
	return NULL;
}

static void hash_start(struct hash_job *j, const unsigned char *buf, size_t n)
{
	j->buf = buf;
	j->n = n;
	j->running = 1;
	j->threaded = pthread_create(&j->tid, NULL, hash_run, j) == 0;
	if (!j->threaded)
		hash_run(j);
}

static void hash_wait(struct hash_job *j)
{
	if (j->running && j->threaded)
		pthread_join(j->tid, NULL);
	j->running = j->threaded = 0;
}

struct vr_store_writer {
	struct vr_store *st;
	unsigned char key[VR_STORE_KEY_MAX];
	size_t keylen;
	int64_t gen;
	uint32_t chunk_size;
	unsigned char *buf; /* the chunk being filled: bufs[cur] */
	unsigned char *bufs[2];
	int cur, pipelined;
	size_t fill;
	uint64_t idx, bytes;
	struct hash_job *jobs[2]; /* the SHA-256 of the chunk in bufs[i] */
	int64_t pending_rowid;     /* the chunk whose digest is still being computed */
	int pending;               /* its buffer + 1, or 0 */
	struct vr_digest *list_digest;
	int64_t ttl;
	char content_type[256];
	char tags[VR_STORE_TAGS_MAX][VR_STORE_TAG_MAX + 1];
	size_t ntags;
	time_t lease_renewed;
};

/* Delete one generation's chunks, tags and manifest (inside a transaction). */
int store_drop_entry(struct vr_store *st, int64_t id)
{
	static const char *sql[] = {
		"DELETE FROM chunks WHERE entry = ?",
		"DELETE FROM tags WHERE entry = ?",
		"DELETE FROM entries WHERE id = ?",
	};
	for (size_t i = 0; i < 3; i++) {
		sqlite3_stmt *s = store_prepare(st, sql[i]);
		if (!s)
			return VR_EIO;
		sqlite3_bind_int64(s, 1, id);
		int step = sqlite3_step(s);
		sqlite3_finalize(s);
		if (step != SQLITE_DONE)
			return store_db_fail(st, "deleting an entry");
	}
	return 0;
}

static void writer_free(struct vr_store_writer *w)
{
	if (!w)
		return;
	for (int i = 0; i < 2; i++) {
		if (w->jobs[i]) {
			hash_wait(w->jobs[i]);
			if (w->jobs[i]->d)
				vr_digest_free(w->jobs[i]->d);
			free(w->jobs[i]);
		}
		free(w->bufs[i]);
	}
	if (w->list_digest)
		vr_digest_free(w->list_digest);
	free(w);
}

int vr_store_writer_begin(struct vr_store *st, const void *key, size_t keylen,
			  const struct vr_put_opts *o, struct vr_store_writer **out)
{
	*out = NULL;
	if (keylen > VR_STORE_KEY_MAX)
		return store_fail(st, VR_EUSAGE, "key longer than %d bytes", VR_STORE_KEY_MAX);
	uint64_t dflt = 1u << 20;
	vr_parse_size(VR_DEFAULT_CHUNK_SIZE, &dflt); /* the one default, as vr-chunk shows it */
	uint32_t cs = o->chunk_size ? o->chunk_size : (uint32_t)dflt;
	if (cs < VR_STORE_CHUNK_MIN || cs > VR_STORE_CHUNK_MAX)
		return store_fail(st, VR_EUSAGE, "chunk size must be between %uK and %uM",
				  VR_STORE_CHUNK_MIN >> 10, VR_STORE_CHUNK_MAX >> 20);
	struct vr_store_writer *w = calloc(1, sizeof *w);
	if (!w)
		return store_fail(st, VR_EFAIL, "out of memory");
	w->st = st;
	memcpy(w->key, key, keylen);
	w->keylen = keylen;
	w->chunk_size = cs;
	w->ttl = o->ttl;
	snprintf(w->content_type, sizeof w->content_type, "%s",
		 o->content_type ? o->content_type : "application/octet-stream");
	if (o->ntags > VR_STORE_TAGS_MAX) {
		writer_free(w);
		return store_fail(st, VR_EUSAGE, "at most %d tags", VR_STORE_TAGS_MAX);
	}
	for (size_t i = 0; i < o->ntags; i++) {
		if (strlen(o->tags[i]) > VR_STORE_TAG_MAX || !o->tags[i][0]) {
			writer_free(w);
			return store_fail(st, VR_EUSAGE, "a tag must have 1 to %d bytes", VR_STORE_TAG_MAX);
		}
		strcpy(w->tags[w->ntags++], o->tags[i]);
	}
	/* Two buffers when chunks are small enough (PIPELINE_MAX): one fills
	 * while the other's SHA-256 finishes. Larger chunks use one buffer,
	 * hashed while it is inserted, so memory stays near one chunk. */
	w->pipelined = cs <= PIPELINE_MAX;
	for (int i = 0; i < 1 + w->pipelined; i++) {
		w->bufs[i] = malloc(cs);
		w->jobs[i] = calloc(1, sizeof *w->jobs[i]);
		if (!w->bufs[i] || !w->jobs[i]) {
			writer_free(w);
			return store_fail(st, VR_EFAIL, "out of memory for a %u-byte chunk", cs);
		}
		if (!(w->jobs[i]->d = vr_digest_new())) {
			writer_free(w);
			return store_fail(st, VR_EFAIL, "cannot set up SHA-256 (is libcrypto installed?)");
		}
	}
	w->buf = w->bufs[0];
	w->list_digest = vr_digest_new();
	if (!w->list_digest) {
		writer_free(w);
		return store_fail(st, VR_EFAIL, "cannot set up SHA-256 (is libcrypto installed?)");
	}
	int rc = store_lock_acquire(st, key, keylen, o->wait);
	if (rc) {
		writer_free(w);
		return rc;
	}
	if (o->if_absent) {
		/* the writer we waited for may have published the key */
		struct vr_entry *e = malloc(sizeof *e);
		rc = e ? store_lookup(st, key, keylen, e) : store_fail(st, VR_EFAIL, "out of memory");
		free(e);
		if (rc != VR_ENOTFOUND) {
			store_lock_release(st, key, keylen);
			writer_free(w);
			return rc; /* 0: present, nothing to write */
		}
	}
	w->lease_renewed = time(NULL);
	/* the new generation, invisible until published */
	rc = store_begin_write(st);
	if (!rc) {
		sqlite3_stmt *s = store_prepare(st, "INSERT INTO entries(key, state, chunk_size, content_type,"
						    " created, writer) VALUES (?, 'writing', ?, ?, ?, ?)");
		int step = SQLITE_ERROR;
		if (s) {
			sqlite3_bind_blob(s, 1, key, (int)keylen, SQLITE_STATIC);
			sqlite3_bind_int64(s, 2, cs);
			sqlite3_bind_text(s, 3, w->content_type, -1, SQLITE_STATIC);
			sqlite3_bind_int64(s, 4, time(NULL));
			sqlite3_bind_text(s, 5, st->owner, -1, SQLITE_STATIC);
			step = sqlite3_step(s);
			sqlite3_finalize(s);
		}
		if (step != SQLITE_DONE) {
			rc = store_db_fail(st, "creating an entry");
			store_rollback(st);
		} else {
			w->gen = sqlite3_last_insert_rowid(st->db);
			rc = store_commit(st);
		}
	}
	if (rc) {
		store_lock_release(st, key, keylen);
		writer_free(w);
		return rc;
	}
	*out = w;
	return 0;
}

int vr_store_writer_tick(struct vr_store_writer *w)
{
	time_t now = time(NULL);
	if (now - w->lease_renewed < VR_STORE_LEASE_S / 3)
		return 0;
	struct vr_store *st = w->st;
	sqlite3_stmt *s = store_prepare(st, "UPDATE locks SET expires = ? WHERE key = ? AND owner = ?");
	if (!s)
		return VR_EIO;
	sqlite3_bind_int64(s, 1, now + VR_STORE_LEASE_S);
	sqlite3_bind_blob(s, 2, w->key, (int)w->keylen, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, st->owner, -1, SQLITE_STATIC);
	int step = sqlite3_step(s);
	sqlite3_finalize(s);
	if (step != SQLITE_DONE)
		return store_db_fail(st, "renewing a lock");
	if (sqlite3_changes(st->db) == 0)
		return store_fail(st, VR_ETIMEOUT, "lost the key's lock to another writer (lease expired)");
	w->lease_renewed = now;
	return 0;
}

/* Inside a write transaction: is the generation still this writer's own?
 * Not when its lease ran out (the writer was stopped, say) and gc dropped
 * it: its id may then have been reused by another writer's generation,
 * whose rows this writer must never touch. */
static int generation_is_mine(struct vr_store_writer *w)
{
	struct vr_store *st = w->st;
	sqlite3_stmt *s = store_prepare(st, "SELECT 1 FROM entries WHERE id = ? AND state = 'writing'"
					    " AND writer = ?");
	if (!s)
		return -1;
	sqlite3_bind_int64(s, 1, w->gen);
	sqlite3_bind_text(s, 2, st->owner, -1, SQLITE_STATIC);
	int step = sqlite3_step(s);
	sqlite3_finalize(s);
	if (step == SQLITE_ROW)
		return 1;
	if (step == SQLITE_DONE)
		return 0;
	store_db_fail(st, "checking a generation");
	return -1;
}

/* Write n bytes from buf into column col of chunk row rowid, in pieces. */
static int blob_fill(struct vr_store *st, int64_t rowid, const char *col,
		     const unsigned char *buf, size_t n)
{
	sqlite3_blob *b;
	if (sqlite3_blob_open(st->db, "main", "chunks", col, rowid, 1, &b) != SQLITE_OK)
		return store_db_fail(st, "opening a chunk for writing");
	int rc = 0;
	for (size_t off = 0; off < n && !rc;) {
		size_t step = n - off < PIECE ? n - off : PIECE;
		if (sqlite3_blob_write(b, buf + off, (int)step, (int)off) != SQLITE_OK)
			rc = store_db_fail(st, "writing a chunk");
		off += step;
	}
	sqlite3_blob_close(b);
	return rc;
}

/* Inside a write transaction: wait for the pending chunk's SHA-256 and
 * store it in its row. Digests are recorded in chunk order, which is the
 * order the entry's checksum (a SHA-256 of the chunk digests) takes. */
static int finish_pending(struct vr_store_writer *w)
{
	if (!w->pending)
		return 0;
	struct hash_job *j = w->jobs[w->pending - 1];
	hash_wait(j);
	w->pending = 0;
	int rc = blob_fill(w->st, w->pending_rowid, "sha256", j->out, VR_DIGEST_LEN);
	if (!rc)
		vr_digest_update(w->list_digest, j->out, VR_DIGEST_LEN);
	return rc;
}

/* Insert the buffered chunk in its own short transaction. The row is
 * created with zero-filled blobs that are then written in place: binding
 * the buffer instead would make SQLite build a second chunk-sized copy of
 * the record in memory. The chunk's SHA-256 runs meanwhile; with two
 * buffers it goes on after the commit while the next chunk is read, and
 * its row gets it in the next transaction. */
static int flush_chunk(struct vr_store_writer *w)
{
	struct vr_store *st = w->st;
	/* CRC-32C is cheap enough to compute up front; it goes into the row */
	uint32_t crc = vr_crc32c(0, w->buf, w->fill);
	struct hash_job *job = w->jobs[w->cur];
	hash_start(job, w->buf, w->fill);
	int rc = store_begin_write(st);
	int64_t rowid = 0;
	if (!rc) {
		int mine = generation_is_mine(w);
		if (mine == 0)
			rc = store_fail(st, VR_ETIMEOUT, "lost the key's lock to another writer (lease "
					"expired and the unfinished write was reclaimed)");
		else if (mine < 0)
			rc = VR_EIO;
	}
	if (!rc) {
		sqlite3_stmt *s = store_prepare(st, "INSERT INTO chunks(entry, idx, size, crc32c, sha256, data)"
						    " VALUES (?, ?, ?, ?, zeroblob(32), zeroblob(?))");
		int step = SQLITE_ERROR;
		if (s) {
			sqlite3_bind_int64(s, 1, w->gen);
			sqlite3_bind_int64(s, 2, (int64_t)w->idx);
			sqlite3_bind_int64(s, 3, (int64_t)w->fill);
			sqlite3_bind_int64(s, 4, crc);
			sqlite3_bind_int64(s, 5, (int64_t)w->fill);
			step = sqlite3_step(s);
			sqlite3_finalize(s);
		}
		if (step != SQLITE_DONE)
			rc = store_db_fail(st, "inserting a chunk");
		else
			rowid = sqlite3_last_insert_rowid(st->db);
	}
	if (!rc)
		rc = blob_fill(st, rowid, "data", w->buf, w->fill);
	if (!rc)
		rc = finish_pending(w); /* the previous chunk's */
	w->pending = w->cur + 1;
	w->pending_rowid = rowid;
	if (!rc && !w->pipelined)
		rc = finish_pending(w); /* its own: the buffer is refilled next */
	if (!rc)
		rc = store_commit(st);
	if (rc) {
		hash_wait(job);
		w->pending = 0;
		store_rollback(st);
		return rc;
	}
	if (w->pipelined) {
		w->cur ^= 1;
		w->buf = w->bufs[w->cur];
	}
	w->idx++;
	w->fill = 0;
	return vr_store_writer_tick(w);
}

int vr_store_writer_write(struct vr_store_writer *w, const void *buf, size_t n)
{
	const unsigned char *p = buf;
	while (n > 0) {
		size_t room = w->chunk_size - w->fill;
		size_t step = n < room ? n : room;
		memcpy(w->buf + w->fill, p, step);
		w->fill += step;
		w->bytes += step;
		p += step;
		n -= step;
		if (w->fill == w->chunk_size) {
			int rc = flush_chunk(w);
			if (rc)
				return rc;
		}
	}
	return 0;
}

uint64_t vr_store_writer_bytes(const struct vr_store_writer *w) { return w->bytes; }

/* Publish the generation: the last digest, the previous generation
 * dropped, the manifest ready, the tags, the lock released, in one
 * transaction. Frees w, aborting it on failure. */
static int publish(struct vr_store_writer *w, struct vr_entry *published)
{
	struct vr_store *st = w->st;
	int rc = 0;
	if ((rc = store_begin_write(st))) {
		vr_store_writer_abort(w);
		return rc;
	}
	if ((rc = finish_pending(w))) /* the last chunk's digest */
		goto fail;
	uint8_t digest[VR_DIGEST_LEN];
	char hex[2 * VR_DIGEST_LEN + 1];
	vr_digest_final(w->list_digest, digest);
	vr_digest_hex(digest, hex);
	if (!store_lock_is_mine(st, w->key, w->keylen)) {
		      store_rollback(st);
			    rc = store_fail(st, VR_ETIMEOUT, "lost the key's lock to another writer before publishing");
				  vr_store_writer_abort(w);
				  return rc;
	}
	/* drop the previous generation, then publish this one */
	sqlite3_stmt *s = store_prepare(st, "SELECT id FROM entries WHERE key = ? AND state = 'ready'");
	int64_t old = 0;
	if (s) {
		sqlite3_bind_blob(s, 1, w->key, (int)w->keylen, SQLITE_STATIC);
		if (sqlite3_step(s) == SQLITE_ROW)
			old = sqlite3_column_int64(s, 0);
		sqlite3_finalize(s);
	}
	if (old && (rc = store_drop_entry(st, old)))
		goto fail;
	time_t now = time(NULL);
	s = store_prepare(st, "UPDATE entries SET state = 'ready', size = ?, chunk_count = ?, sha256 = ?,"
			      " created = ?, expires = ?, writer = NULL WHERE id = ? AND state = 'writing'"
			      " AND writer = ?");
	if (!s) {
		rc = VR_EIO;
		goto fail;
	}
	sqlite3_bind_int64(s, 1, (int64_t)w->bytes);
	sqlite3_bind_int64(s, 2, (int64_t)w->idx);
	sqlite3_bind_text(s, 3, hex, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, now);
	if (w->ttl > 0)
		sqlite3_bind_int64(s, 5, now + w->ttl);
	else
		sqlite3_bind_null(s, 5);
	sqlite3_bind_int64(s, 6, w->gen);
	sqlite3_bind_text(s, 7, st->owner, -1, SQLITE_STATIC);
	int step = sqlite3_step(s);
	sqlite3_finalize(s);
	if (step != SQLITE_DONE) {
		rc = store_db_fail(st, "publishing an entry");
		goto fail;
	}
	if (sqlite3_changes(st->db) != 1) {
		rc = store_fail(st, VR_ETIMEOUT, "lost the key's lock to another writer before publishing");
		goto fail;
	}
	for (size_t i = 0; i < w->ntags; i++) {
		s = store_prepare(st, "INSERT OR IGNORE INTO tags(entry, tag) VALUES (?, ?)");
		if (!s) {
			rc = VR_EIO;
			goto fail;
		}
		sqlite3_bind_int64(s, 1, w->gen);
		sqlite3_bind_text(s, 2, w->tags[i], -1, SQLITE_STATIC);
		step = sqlite3_step(s);
		sqlite3_finalize(s);
		if (step != SQLITE_DONE) {
			rc = store_db_fail(st, "tagging an entry");
			goto fail;
		}
	}
	store_lock_release(st, w->key, w->keylen);
	if ((rc = store_commit(st)))
		goto fail;
	if (published)
		vr_store_stat(st, w->key, w->keylen, published);
	writer_free(w);
	return 0;
fail:
	store_rollback(st);
	vr_store_writer_abort(w);
	return rc;
}

/* The store runs synchronous=NORMAL: in WAL mode a commit is not synced,
 * the checkpoint syncs, so a power cut may take back the last commits
 * (never half of one). That is right for chunks, which no reader sees
 * before their publication, but a published entry must stay published:
 * its transaction runs with synchronous=FULL, which syncs the WAL at the
 * commit, and with it every chunk written before: one fdatasync of the
 * WAL per put, which cost nothing measurable (vr-chunk(1), PERFORMANCE). */
int vr_store_writer_commit(struct vr_store_writer *w, struct vr_entry *published)
{
	struct vr_store *st = w->st;
	int rc = 0;
	if (w->fill > 0 && (rc = flush_chunk(w))) {
		vr_store_writer_abort(w);
		return rc;
	}
	if ((rc = store_exec(st, "PRAGMA synchronous = FULL"))) {
		vr_store_writer_abort(w);
		return rc;
	}
	rc = publish(w, published);
	sqlite3_exec(st->db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL);
	return rc;
}

void vr_store_writer_abort(struct vr_store_writer *w)
{
	if (!w)
		return;
	struct vr_store *st = w->st;
	char saved[sizeof st->err];
	memcpy(saved, st->err, sizeof saved); /* keep the first failure's message */
	store_rollback(st);
	if (store_begin_write(st) == 0) {
		      int mine = generation_is_mine(w);
		      if (mine >= 0 && (mine == 0 || store_drop_entry(st, w->gen) == 0))
				    store_lock_release(st, w->key, w->keylen);
				  if (store_commit(st))
						store_rollback(st);
	}
	memcpy(st->err, saved, sizeof saved);
	writer_free(w);
}

void vr_store_writer_set_content_type(struct vr_store_writer *w, const char *type)
{
	if (w && type && *type)
		snprintf(w->content_type, sizeof w->content_type, "%s", type);
}
