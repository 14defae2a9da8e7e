/* Unit tests of lib/store (and lib/base/crc32c, its chunk checksum): a temporary
 * store, streaming writes in odd-sized pieces, ranged reads, management,
 * and two handles of one process competing for a key. */
#include "crc32c.h"
#include "log.h"
#include "status.h"
#include "store.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static char dir[64], path[128];

/* Deterministic bytes: a 32-bit LCG per position. */
static void fill(unsigned char *buf, size_t n, unsigned seed)
{
	uint32_t x = seed * 2654435761u + 1;
	for (size_t i = 0; i < n; i++) {
		x = x * 1664525u + 1013904223u;
		buf[i] = (unsigned char)(x >> 24);
	}
}

/* ---- a growable sink for read_span ---- */
struct sink {
	unsigned char *buf;
	size_t len, cap;
	int calls, stop_after; /* stop_after > 0: return 1 on that call */
};

static int sink_emit(void *ctx, const void *buf, size_t n)
{
	struct sink *k = ctx;
	k->calls++;
	if (k->len + n > k->cap) {
		k->cap = (k->len + n) * 2;
		k->buf = realloc(k->buf, k->cap);
		if (!k->buf)
			abort();
	}
	memcpy(k->buf + k->len, buf, n);
	k->len += n;
	return k->stop_after && k->calls >= k->stop_after ? 1 : 0;
}

static int span_is(struct vr_store *st, const struct vr_entry *e, uint64_t s, uint64_t end,
		   const unsigned char *want)
{
	struct sink k = {0};
	int rc = vr_store_read_span(st, e, s, end, 0, sink_emit, &k);
	int ok = rc == 0 && k.len == end - s + 1 && !memcmp(k.buf, want + s, k.len);
	if (!ok)
		fprintf(stderr, "  span %llu-%llu: rc %d, %zu bytes\n", (unsigned long long)s,
			(unsigned long long)end, rc, k.len);
	free(k.buf);
	return ok;
}

static int count_rows(const char *sql)
{
	sqlite3 *db;
	int n = -1;
	if (sqlite3_open(path, &db) == SQLITE_OK) {
		sqlite3_busy_timeout(db, 5000);
		sqlite3_stmt *s;
		if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK) {
			if (sqlite3_step(s) == SQLITE_ROW)
				n = sqlite3_column_int(s, 0);
			sqlite3_finalize(s);
		}
	}
	sqlite3_close(db);
	return n;
}

static void run_sql(const char *sql)
{
	sqlite3 *db;
	if (sqlite3_open(path, &db) == SQLITE_OK) {
		sqlite3_busy_timeout(db, 5000);
		CHECK(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
	}
	sqlite3_close(db);
}

static void test_crc32c(void)
{
	CHECK(vr_crc32c(0, "123456789", 9) == 0xe3069283u);
	unsigned char z[32] = {0};
	CHECK(vr_crc32c(0, z, sizeof z) == 0x8a9136aau);
	CHECK(vr_crc32c(0, "", 0) == 0);
	/* any split gives the same checksum, at any alignment */
	unsigned char b[1031];
	fill(b, sizeof b, 7);
	uint32_t whole = vr_crc32c(0, b, sizeof b);
	int splits_ok = 1;
	for (size_t cut = 0; cut <= sizeof b; cut += 13)
		splits_ok &= vr_crc32c(vr_crc32c(0, b, cut), b + cut, sizeof b - cut) == whole;
	CHECK(splits_ok);
	CHECK(vr_crc32c(0, b + 1, 100) == vr_crc32c(vr_crc32c(0, b + 1, 3), b + 4, 97));
}

static const size_t pieces[] = {1, 7, 4095, 4097, 10000, 3, 8192, 65536, 2, 13331};

static void test_write_read(struct vr_store *st, unsigned char *data, size_t n)
{
	const char *tags[] = {"red", "blue"};
	struct vr_put_opts o = {.content_type = "video/mp4", .ttl = 600, .tags = tags, .ntags = 2,
				.chunk_size = 4096, .wait = 1};
	struct vr_store_writer *w = NULL;
	CHECK(vr_store_writer_begin(st, "clip", 4, &o, &w) == 0 && w);
	if (!w)
		return;
	size_t off = 0;
	for (size_t i = 0; off < n; i = (i + 1) % (sizeof pieces / sizeof pieces[0])) {
		size_t step = pieces[i] < n - off ? pieces[i] : n - off;
		CHECK(vr_store_writer_write(w, data + off, step) == 0);
		off += step;
		CHECK(vr_store_writer_tick(w) == 0);
	}
	CHECK(vr_store_writer_bytes(w) == n);
	/* nothing is visible before the commit */
	struct vr_entry *e = malloc(sizeof *e);
	CHECK(vr_store_stat(st, "clip", 4, e) == VR_ENOTFOUND);
	CHECK(vr_store_writer_commit(w, e) == 0);
	CHECK(e->size == n);
	CHECK(e->chunk_size == 4096);
	CHECK(e->chunk_count == (n + 4095) / 4096);
	CHECK(!strcmp(e->content_type, "video/mp4"));
	CHECK(!strcmp(e->state, "ready"));
	CHECK(!strcmp(e->tags, "blue,red") || !strcmp(e->tags, "red,blue"));
	CHECK(e->expires == e->created + 600);
	CHECK(strlen(e->sha256) == 64);
	CHECK(count_rows("SELECT count(*) FROM chunks") == (int)e->chunk_count);

	/* read spans back: inside a chunk, across boundaries, first and last byte */
	CHECK(vr_store_read_begin(st, "clip", 4, e) == 0);
	CHECK(span_is(st, e, 0, 0, data));
	CHECK(span_is(st, e, 4095, 4096, data));
	CHECK(span_is(st, e, 4000, 12300, data));
	CHECK(span_is(st, e, n - 1, n - 1, data));
	CHECK(span_is(st, e, 0, n - 1, data));
	CHECK(span_is(st, e, 8192, 8192 + 4095, data));
	/* out of bounds: nothing emitted */
	struct sink k = {0};
	CHECK(vr_store_read_span(st, e, n, n + 10, 0, sink_emit, &k) == 0 && k.len == 0);
	CHECK(vr_store_read_span(st, e, 10, 5, 0, sink_emit, &k) == 0 && k.len == 0);
	/* with --verify's SHA-256 too */
	CHECK(vr_store_read_span(st, e, 0, n - 1, 1, sink_emit, &k) == 0 && k.len == n &&
	      !memcmp(k.buf, data, n));
	/* an emit that asks to stop ends the span with its result */
	k.len = 0;
	k.calls = 0;
	k.stop_after = 1;
	CHECK(vr_store_read_span(st, e, 0, n - 1, 0, sink_emit, &k) == 1 && k.calls == 1);
	free(k.buf);
	vr_store_read_end(st);
	free(e);
}

static int list_count;
static int on_list(void *ctx, const struct vr_entry *e)
{
	(void)ctx;
	(void)e;
	list_count++;
	return 0;
}

static int listed(struct vr_store *st, const char *prefix, size_t len)
{
	list_count = 0;
	return vr_store_list(st, prefix, len, on_list, NULL) == 0 ? list_count : -1;
}

static int put(struct vr_store *st, const char *key, size_t keylen, const void *buf, size_t n,
	       const char *tag)
{
	const char *tags[] = {tag};
	struct vr_put_opts o = {.tags = tags, .ntags = tag ? 1 : 0, .chunk_size = 4096, .wait = 1};
	struct vr_store_writer *w = NULL;
	int rc = vr_store_writer_begin(st, key, keylen, &o, &w);
	if (rc)
		return rc;
	if ((rc = vr_store_writer_write(w, buf, n))) {
		vr_store_writer_abort(w);
		return rc;
	}
	return vr_store_writer_commit(w, NULL);
}

static int reports;
static void on_report(void *ctx, const char *msg)
{
	(void)ctx;
	(void)msg;
	reports++;
}

static void test_management(struct vr_store *st, const unsigned char *data)
{
	struct vr_entry *e = malloc(sizeof *e);
	CHECK(put(st, "a/1", 3, data, 100, "t") == 0);
	CHECK(put(st, "a/2", 3, data, 5000, "t") == 0);
	CHECK(put(st, "b", 1, data, 1, NULL) == 0);
	CHECK(put(st, "", 0, data, 0, NULL) == 0); /* the empty key, an empty entry */
	CHECK(vr_store_stat(st, "", 0, e) == 0 && e->size == 0 && e->chunk_count == 0);
	CHECK(vr_store_read_begin(st, "", 0, e) == 0);
	struct sink k = {0};
	CHECK(vr_store_read_span(st, e, 0, 0, 0, sink_emit, &k) == 0 && k.calls == 0);
	vr_store_read_end(st);
	CHECK(listed(st, "a/", 2) == 2);
	CHECK(listed(st, "", 0) == 5); /* clip, a/1, a/2, b and "" */
	CHECK(listed(st, "zz", 2) == 0);

	/* touch: the expiry only */
	CHECK(vr_store_stat(st, "a/2", 3, e) == 0);
	char sha[sizeof e->sha256];
	memcpy(sha, e->sha256, sizeof sha);
	int64_t created = e->created;
	CHECK(vr_store_touch(st, "a/2", 3, 3600) == 0);
	CHECK(vr_store_stat(st, "a/2", 3, e) == 0 && e->expires >= created + 3600);
	CHECK(!strcmp(e->sha256, sha) && e->size == 5000 && e->created == created);
	CHECK(vr_store_touch(st, "a/2", 3, 0) == 0);
	CHECK(vr_store_stat(st, "a/2", 3, e) == 0 && e->expires == 0);
	CHECK(vr_store_touch(st, "nope", 4, 10) == VR_ENOTFOUND);

	/* remove, purge */
	CHECK(vr_store_remove(st, "b", 1) == 0);
	CHECK(vr_store_remove(st, "b", 1) == VR_ENOTFOUND);
	uint64_t n = 0;
	CHECK(vr_store_purge_tag(st, "t", &n) == 0 && n == 2);
	CHECK(vr_store_stat(st, "a/1", 3, e) == VR_ENOTFOUND);
	CHECK(listed(st, "", 0) == 2);

	/* expiry, and gc of what expired */
	CHECK(put(st, "old", 3, data, 9000, NULL) == 0);
	run_sql("UPDATE entries SET expires = 1 WHERE key = CAST('old' AS BLOB)");
	CHECK(vr_store_stat(st, "old", 3, e) == VR_ENOTFOUND);
	struct vr_gc_report g;
	CHECK(vr_store_gc(st, 0, &g) == 0);
	CHECK(g.expired == 1 && g.abandoned == 0 && g.stale_locks == 0 && g.orphan_chunks == 0);
	CHECK(count_rows("SELECT count(*) FROM chunks") ==
	      count_rows("SELECT sum(chunk_count) FROM entries"));
	CHECK(vr_store_gc(st, 1, &g) == 0 && g.vacuumed == 1);

	/* verify: clean, then a damaged chunk */
	uint64_t checked = 0;
	CHECK(vr_store_verify(st, NULL, 0, on_report, NULL, &checked) == 0 && checked == 2);
	free(e);
}

static void test_verify_damage(struct vr_store *st, const unsigned char *data)
{
	CHECK(put(st, "bad", 3, data, 20000, NULL) == 0);
	CHECK(put(st, "good", 4, data, 20000, NULL) == 0);
	run_sql("UPDATE chunks SET data = randomblob(length(data)) WHERE idx = 2 AND entry ="
		" (SELECT id FROM entries WHERE key = CAST('bad' AS BLOB))");
	uint64_t checked = 0;
	reports = 0;
	CHECK(vr_store_verify(st, NULL, 0, on_report, NULL, &checked) == VR_EIO);
	CHECK(reports == 1); /* "good" is not blamed for "bad"'s chunk */
	reports = 0;
	CHECK(vr_store_verify(st, "good", 4, on_report, NULL, &checked) == 0 && reports == 0);
	struct vr_entry *e = malloc(sizeof *e);
	CHECK(vr_store_read_begin(st, "bad", 3, e) == 0);
	struct sink k = {0};
	/* chunk 1 reads; chunk 2 fails before any of its bytes */
	CHECK(vr_store_read_span(st, e, 4096, 3 * 4096 - 1, 0, sink_emit, &k) == VR_EIO);
	CHECK(k.len == 4096);
	CHECK(strstr(vr_store_error(st), "chunk 2") != NULL);
	vr_store_read_end(st);
	free(k.buf);
	free(e);
	CHECK(vr_store_remove(st, "bad", 3) == 0);
	CHECK(vr_store_remove(st, "good", 4) == 0);
}

/* Two handles of one process: the lock serialises them like two processes. */
static void test_two_handles(struct vr_store *st, const unsigned char *data)
{
	char err[512];
	struct vr_store *st2 = NULL;
	CHECK(vr_store_open(&st2, path, err, sizeof err) == 0);
	if (!st2)
		return;
	struct vr_put_opts o = {.chunk_size = 4096, .wait = 0};
	struct vr_store_writer *w1 = NULL, *w2 = NULL, *w3 = NULL;
	CHECK(vr_store_writer_begin(st, "k", 1, &o, &w1) == 0);
	CHECK(vr_store_writer_write(w1, data, 10000) == 0);
	/* the same key: refused at once with wait 0 */
	CHECK(vr_store_writer_begin(st2, "k", 1, &o, &w2) == VR_ETIMEOUT && !w2);
	o.wait = 0.3;
	CHECK(vr_store_writer_begin(st2, "k", 1, &o, &w2) == VR_ETIMEOUT && !w2);
	/* another key proceeds in parallel */
	CHECK(vr_store_writer_begin(st2, "other", 5, &o, &w3) == 0);
	CHECK(vr_store_writer_write(w3, data, 5000) == 0);
	CHECK(vr_store_writer_commit(w3, NULL) == 0);
	/* abort leaves nothing: no entry, no chunks, no lock */
	vr_store_writer_abort(w1);
	struct vr_entry *e = malloc(sizeof *e);
	CHECK(vr_store_stat(st, "k", 1, e) == VR_ENOTFOUND);
	CHECK(count_rows("SELECT count(*) FROM entries WHERE state = 'writing'") == 0);
	CHECK(count_rows("SELECT count(*) FROM locks") == 0);
	CHECK(count_rows("SELECT count(*) FROM chunks") ==
	      count_rows("SELECT sum(chunk_count) FROM entries"));
	struct vr_gc_report g;
	CHECK(vr_store_gc(st, 0, &g) == 0 && g.abandoned == 0 && g.orphan_chunks == 0);
	/* the key is free again */
	o.wait = 0;
	CHECK(vr_store_writer_begin(st2, "k", 1, &o, &w2) == 0);
	CHECK(vr_store_writer_commit(w2, NULL) == 0);

	/* --if-absent: present once the lock is held means nothing to write */
	o.if_absent = 1;
	w2 = (struct vr_store_writer *)1;
	CHECK(vr_store_writer_begin(st2, "other", 5, &o, &w2) == 0 && w2 == NULL);
	CHECK(count_rows("SELECT count(*) FROM locks") == 0);
	o.if_absent = 0;

	/* A writer whose lease ran out and whose generation gc reclaimed, while
	 * a writer on the other handle took the key (and maybe its generation's
	 * id): the stale one must fail and never touch the new generation. */
	CHECK(vr_store_writer_begin(st, "z", 1, &o, &w1) == 0);
	CHECK(vr_store_writer_write(w1, data, 5000) == 0); /* one chunk in */
	run_sql("UPDATE locks SET expires = 0");
	CHECK(vr_store_gc(st2, 0, &g) == 0 && g.abandoned == 1 && g.stale_locks == 1);
	CHECK(vr_store_writer_begin(st2, "z", 1, &o, &w2) == 0);
	CHECK(vr_store_writer_write(w2, data + 1, 3000) == 0);
	CHECK(vr_store_writer_write(w1, data + 5000, 8192) == VR_ETIMEOUT);
	vr_store_writer_abort(w1);
	CHECK(vr_store_writer_write(w2, data + 3001, 6000) == 0);
	CHECK(vr_store_writer_commit(w2, e) == 0 && e->size == 9000);
	CHECK(vr_store_read_begin(st, "z", 1, e) == 0);
	CHECK(span_is(st, e, 0, 8999, data + 1));
	vr_store_read_end(st);
	uint64_t checked;
	CHECK(vr_store_verify(st, NULL, 0, on_report, NULL, &checked) == 0);
	free(e);
	vr_store_close(st2);
}

static void test_refusals(void)
{
	char err[512], p[160];
	struct vr_store *st = NULL;
	/* not a database */
	snprintf(p, sizeof p, "%s/junk.db", dir);
	FILE *f = fopen(p, "w");
	for (int i = 0; i < 5000; i++)
		fputc(i * 7 % 251, f);
	fclose(f);
	CHECK(vr_store_open(&st, p, err, sizeof err) == VR_EIO && !st);
	CHECK(strstr(err, "not a vr store") != NULL);
	/* someone else's database */
	snprintf(p, sizeof p, "%s/other.db", dir);
	sqlite3 *db;
	CHECK(sqlite3_open(p, &db) == SQLITE_OK);
	sqlite3_exec(db, "CREATE TABLE t(x); PRAGMA user_version = 1", NULL, NULL, NULL);
	sqlite3_close(db);
	CHECK(vr_store_open(&st, p, err, sizeof err) == VR_EIO && !st);
	CHECK(strstr(err, "not a vr store") != NULL);
	/* a newer vr store */
	run_sql("PRAGMA user_version = 3");
	CHECK(vr_store_open(&st, path, err, sizeof err) == VR_EIO && !st);
	CHECK(strstr(err, "newer") != NULL);
	run_sql("PRAGMA user_version = 2");
	CHECK(vr_store_open(&st, path, err, sizeof err) == 0 && st);
	/* keys and chunk sizes out of bounds */
	struct vr_put_opts o = {.chunk_size = 1024};
	struct vr_store_writer *w = NULL;
	CHECK(vr_store_writer_begin(st, "k", 1, &o, &w) == VR_EUSAGE && !w);
	o.chunk_size = 0;
	static unsigned char longkey[VR_STORE_KEY_MAX + 1];
	memset(longkey, 'k', sizeof longkey);
	CHECK(vr_store_writer_begin(st, longkey, sizeof longkey, &o, &w) == VR_EUSAGE && !w);
	CHECK(vr_store_writer_begin(st, longkey, VR_STORE_KEY_MAX, &o, &w) == 0 && w);
	CHECK(vr_store_writer_commit(w, NULL) == 0);
	vr_store_close(st);
}

/* ---- invariants the mutants of scripts/mutate probe ---- */

/* Change one byte of chunk idx of key's entry, through SQLite's own blob
 * API (not the store's): the damage the checksums are there to catch. */
static void flip_byte(const char *key, int idx, int off)
{
	sqlite3 *db;
	char sql[256];
	snprintf(sql, sizeof sql,
		 "SELECT c.id FROM chunks c JOIN entries e ON c.entry = e.id"
		 " WHERE e.key = CAST('%s' AS BLOB) AND e.state = 'ready' AND c.idx = %d",
		 key, idx);
	CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	sqlite3_stmt *s = NULL;
	sqlite3_int64 rowid = -1;
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
		rowid = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	sqlite3_blob *b = NULL;
	unsigned char c = 0;
	CHECK(rowid > 0 && sqlite3_blob_open(db, "main", "chunks", "data", rowid, 1, &b) == SQLITE_OK);
	CHECK(b && sqlite3_blob_read(b, &c, 1, off) == SQLITE_OK);
	c ^= 0x5a;
	CHECK(b && sqlite3_blob_write(b, &c, 1, off) == SQLITE_OK);
	sqlite3_blob_close(b);
	sqlite3_close(db);
}

/* Chunks over 4 MiB are checked and read in 256 KiB pieces: the CRC-32C
 * runs over all the pieces of a chunk. */
static void test_large_chunks(struct vr_store *st)
{
	size_t n = (8u << 20) + 300001, cs = 8u << 20;
	unsigned char *big = malloc(n);
	fill(big, n, 3);
	struct vr_put_opts o = {.chunk_size = (unsigned)cs, .wait = 1};
	struct vr_store_writer *w = NULL;
	CHECK_EQ_INT(vr_store_writer_begin(st, "big", 3, &o, &w), 0);
	for (size_t off = 0; w && off < n; off += 1000003)
		CHECK_EQ_INT(vr_store_writer_write(w, big + off, n - off < 1000003 ? n - off : 1000003), 0);
	struct vr_entry *e = malloc(sizeof *e);
	CHECK_EQ_INT(w ? vr_store_writer_commit(w, e) : -1, 0);
	CHECK_EQ_INT(count_rows("SELECT count(*) FROM chunks c JOIN entries e ON c.entry = e.id"
				" WHERE e.key = CAST('big' AS BLOB)"), 2);
	CHECK_EQ_INT(vr_store_read_begin(st, "big", 3, e), 0);
	CHECK_EQ_UINT(e->size, n);
	CHECK(span_is(st, e, 0, n - 1, big));
	CHECK(span_is(st, e, 5000000, cs + 10, big));
	CHECK(span_is(st, e, cs - 1, cs - 1, big));
	struct sink k = {0};
	CHECK_EQ_INT(vr_store_read_span(st, e, 0, n - 1, 1, sink_emit, &k), 0);
	CHECK_EQ_UINT(k.len, n);
	CHECK(k.len == n && CHECK_EQ_MEM(k.buf, big, n));
	vr_store_read_end(st);
	/* one byte changed deep in the big chunk (in its 16th piece): a get
	 * of its first bytes stops before emitting any, with or without
	 * --verify, and says which chunk */
	flip_byte("big", 0, 4000001);
	for (int verify = 0; verify < 2; verify++) {
		CHECK_EQ_INT(vr_store_read_begin(st, "big", 3, e), 0);
		k.len = 0;
		CHECK_EQ_INT(vr_store_read_span(st, e, 0, 99, verify, sink_emit, &k), VR_EIO);
		CHECK_EQ_UINT(k.len, 0);
		CHECK(strstr(vr_store_error(st), "chunk 0") != NULL);
		/* the other chunk is intact */
		CHECK(span_is(st, e, cs, n - 1, big));
		vr_store_read_end(st);
	}
	CHECK_EQ_INT(vr_store_remove(st, "big", 3), 0);
	free(k.buf);
	free(e);
	free(big);
}

/* A get reads one version: another handle replacing the key while a read
 * is under way (and dropping the old generation's chunks) changes nothing
 * for that read; the next read sees the new version. */
static void test_one_snapshot(struct vr_store *st, const unsigned char *data)
{
	char err[512];
	struct vr_store *st2 = NULL;
	CHECK_EQ_INT(vr_store_open(&st2, path, err, sizeof err), 0);
	if (!st2)
		return;
	CHECK_EQ_INT(put(st, "snap", 4, data, 20000, NULL), 0);
	struct vr_entry *e = malloc(sizeof *e);
	CHECK_EQ_INT(vr_store_read_begin(st, "snap", 4, e), 0);
	CHECK(span_is(st, e, 0, 4095, data));
	CHECK_EQ_INT(put(st2, "snap", 4, data + 7, 30000, NULL), 0);
	/* the new version is committed: the old one's chunks are gone */
	CHECK_EQ_INT(count_rows("SELECT count(*) FROM chunks c JOIN entries e ON c.entry = e.id"
				" WHERE e.key = CAST('snap' AS BLOB)"), (30000 + 4095) / 4096);
	CHECK_EQ_UINT(e->size, 20000);
	CHECK(span_is(st, e, 0, 19999, data));
	CHECK(span_is(st, e, 4096, 19999, data));
	vr_store_read_end(st);
	CHECK_EQ_INT(vr_store_read_begin(st, "snap", 4, e), 0);
	CHECK_EQ_UINT(e->size, 30000);
	CHECK(span_is(st, e, 0, 29999, data + 7));
	vr_store_read_end(st);
	CHECK_EQ_INT(vr_store_remove(st, "snap", 4), 0);
	free(e);
	vr_store_close(st2);
}

/* A lock row for key "lk", written straight into the table. */
static void lock_row(const char *owner, int pid, const char *host, long long expires)
{
	char sql[512];
	snprintf(sql, sizeof sql,
		 "INSERT OR REPLACE INTO locks(key, owner, pid, host, acquired, expires)"
		 " VALUES (CAST('lk' AS BLOB), '%s', %d, '%s', %lld, %lld)",
		 owner, pid, host, (long long)time(NULL), expires);
	run_sql(sql);
}

static int lock_owner_is(const char *owner)
{
	char sql[256];
	snprintf(sql, sizeof sql, "SELECT count(*) FROM locks WHERE key = CAST('lk' AS BLOB) AND owner = '%s'",
		 owner);
	return count_rows(sql) == 1;
}

/* try_lk: 1 when a writer on "lk" starts at once (then aborted), 0 when
 * the key counts as held */
static int try_lk(struct vr_store *st)
{
	struct vr_put_opts o = {.chunk_size = 4096, .wait = 0};
	struct vr_store_writer *w = NULL;
	int rc = vr_store_writer_begin(st, "lk", 2, &o, &w);
	if (rc == 0 && w) {
		/* the lock is the writer's now: our pid, our host */
		char sql[256];
		snprintf(sql, sizeof sql, "SELECT count(*) FROM locks WHERE key = CAST('lk' AS BLOB)"
			 " AND pid = %d AND owner LIKE host || ':%d:%%'", (int)getpid(), (int)getpid());
		CHECK_EQ_INT(count_rows(sql), 1);
		vr_store_writer_abort(w);
		return 1;
	}
	CHECK_EQ_INT(rc, VR_ETIMEOUT);
	return 0;
}

/* Stale locks are taken over: a holder on this host that is gone (or whose
 * pid now names another process), or any holder whose lease ran out. A
 * live holder within its lease, or one on another host, keeps the key. */
static void test_lock_takeover(struct vr_store *st)
{
	char host[256] = "";
	gethostname(host, sizeof host - 1);
	long long now = (long long)time(NULL);
	int me = (int)getpid();
	pid_t dead = fork();
	if (dead == 0)
		_exit(0);
	CHECK(dead > 0 && waitpid(dead, NULL, 0) == dead);

	/* a live holder here (this process, no start time to compare) */
	lock_row("holder", me, host, now + 3600);
	CHECK_EQ_INT(try_lk(st), 0);
	CHECK(lock_owner_is("holder"));
	/* ... whose lease ran out */
	lock_row("holder", me, host, now - 5);
	CHECK_EQ_INT(try_lk(st), 1);
	/* a dead holder here, well within its lease */
	lock_row("deadone", (int)dead, host, now + 3600);
	CHECK_EQ_INT(try_lk(st), 1);
	CHECK_EQ_INT(count_rows("SELECT count(*) FROM locks"), 0);
	/* a reused pid: ours, but another process start time */
	char owner[400];
	snprintf(owner, sizeof owner, "%s:%d:1#1", host, me);
	lock_row(owner, me, host, now + 3600);
	CHECK_EQ_INT(try_lk(st), 1);
	/* a holder on another host cannot be checked: held until its lease ends */
	lock_row("far", me, "another-host.invalid", now + 3600);
	CHECK_EQ_INT(try_lk(st), 0);
	CHECK(lock_owner_is("far"));
	lock_row("far", me, "another-host.invalid", now - 5);
	CHECK_EQ_INT(try_lk(st), 1);
	CHECK_EQ_INT(count_rows("SELECT count(*) FROM locks"), 0);
}

/* Remembered failures: put, get, replace, expiry, gc, and forgetting one
 * key exactly (the rows checked with SQL). */
static void test_negative(struct vr_store *st)
{
	int status = 0;
	char msg[64] = "";
	int64_t exp = 0;
	int64_t t0 = (int64_t)time(NULL);
#define NEG_ROWS(k) "SELECT count(*) FROM negative WHERE key = CAST('" k "' AS BLOB)"
	CHECK_EQ_INT(vr_store_negative_get(st, "neg/a", 5, &status, msg, sizeof msg, &exp), VR_ENOTFOUND);
	CHECK_EQ_INT(vr_store_negative_put(st, "neg/a", 5, VR_ENOTFOUND, "404 at the origin", 60), 0);
	CHECK_EQ_INT(vr_store_negative_put(st, "neg/b", 5, VR_EIO, "b broke", 60), 0);
	CHECK_EQ_INT(vr_store_negative_put(st, "", 0, VR_EIO, "the empty key", 60), 0);
	CHECK_EQ_INT(count_rows("SELECT count(*) FROM negative"), 3);
	CHECK_EQ_INT(count_rows("SELECT status FROM negative WHERE key = CAST('neg/a' AS BLOB)"), VR_ENOTFOUND);
	CHECK_EQ_INT(vr_store_negative_get(st, "neg/a", 5, &status, msg, sizeof msg, &exp), 0);
	CHECK_EQ_INT(status, VR_ENOTFOUND);
	CHECK_EQ_STR(msg, "404 at the origin");
	CHECK(exp >= t0 + 60 && exp <= (int64_t)time(NULL) + 60);
	/* remembered again: replaced, one row */
	CHECK_EQ_INT(vr_store_negative_put(st, "neg/a", 5, VR_EIO, "503 at the origin", 60), 0);
	CHECK_EQ_INT(count_rows(NEG_ROWS("neg/a")), 1);
	CHECK_EQ_INT(vr_store_negative_get(st, "neg/a", 5, &status, msg, sizeof msg, &exp), 0);
	CHECK_EQ_INT(status, VR_EIO);
	CHECK_EQ_STR(msg, "503 at the origin");

	/* forgetting neg/a forgets it, and nothing else */
	CHECK_EQ_INT(vr_store_negative_clear(st, "neg/a", 5), 0);
	CHECK_EQ_INT(vr_store_negative_get(st, "neg/a", 5, &status, msg, sizeof msg, &exp), VR_ENOTFOUND);
	CHECK_EQ_INT(count_rows(NEG_ROWS("neg/a")), 0);
	CHECK_EQ_INT(count_rows(NEG_ROWS("neg/b")), 1);
	CHECK_EQ_INT(count_rows(NEG_ROWS("")), 1);
	CHECK_EQ_INT(vr_store_negative_get(st, "", 0, &status, msg, sizeof msg, &exp), 0);
	CHECK_EQ_STR(msg, "the empty key");
	CHECK_EQ_INT(vr_store_negative_clear(st, "neg/a", 5), 0); /* nothing there: fine */
	CHECK_EQ_INT(vr_store_negative_clear(st, "", 0), 0);
	CHECK_EQ_INT(count_rows(NEG_ROWS("")), 0);
	CHECK_EQ_INT(count_rows(NEG_ROWS("neg/b")), 1);

	/* an expired failure is not remembered; gc removes the expired only */
	CHECK_EQ_INT(vr_store_negative_put(st, "neg/c", 5, VR_EIO, "c", 60), 0);
	run_sql("UPDATE negative SET expires = 1 WHERE key = CAST('neg/b' AS BLOB)");
	CHECK_EQ_INT(vr_store_negative_get(st, "neg/b", 5, &status, msg, sizeof msg, &exp), VR_ENOTFOUND);
	uint64_t n = 99;
	CHECK_EQ_INT(vr_store_negative_gc(st, &n), 0);
	CHECK_EQ_UINT(n, 1);
	CHECK_EQ_INT(count_rows("SELECT count(*) FROM negative"), 1);
	CHECK_EQ_INT(count_rows(NEG_ROWS("neg/c")), 1);
	CHECK_EQ_INT(vr_store_negative_clear(st, "neg/c", 5), 0);
	CHECK_EQ_INT(count_rows("SELECT count(*) FROM negative"), 0);
#undef NEG_ROWS
}

/* A hit's sliding TTL: the expiry of that generation only, never its
 * bytes, never an expired entry, and never waiting on a busy store. */
static void test_refresh(struct vr_store *st, const unsigned char *data)
{
	struct vr_entry *e = malloc(sizeof *e), *e2 = malloc(sizeof *e2);
	CHECK(put(st, "r", 1, data, 9000, NULL) == 0);
	run_sql("UPDATE entries SET expires = strftime('%s','now') + 100 WHERE key = CAST('r' AS BLOB)");
	CHECK(vr_store_stat(st, "r", 1, e) == 0);
	int64_t before = e->expires;
	CHECK_EQ_INT(vr_store_refresh(st, e, 1000), 0);
	CHECK(vr_store_stat(st, "r", 1, e2) == 0);
	CHECK(e2->expires >= before + 800 && e2->id == e->id);
	CHECK(!strcmp(e2->sha256, e->sha256) && e2->size == 9000 && e2->created == e->created);
	/* never shorter: a refresh with a smaller TTL leaves it */
	CHECK_EQ_INT(vr_store_refresh(st, e2, 10), 0);
	CHECK(vr_store_stat(st, "r", 1, e) == 0 && e->expires == e2->expires);
	/* an expired entry stays expired */
	run_sql("UPDATE entries SET expires = 5 WHERE key = CAST('r' AS BLOB)");
	CHECK_EQ_INT(vr_store_refresh(st, e2, 1000), 0);
	CHECK_EQ_INT(count_rows("SELECT expires FROM entries WHERE key = CAST('r' AS BLOB)"), 5);
	/* a newer generation keeps its own expiry */
	run_sql("UPDATE entries SET expires = strftime('%s','now') + 100 WHERE key = CAST('r' AS BLOB)");
	CHECK(vr_store_stat(st, "r", 1, e) == 0);
	CHECK(put(st, "r", 1, data, 10, NULL) == 0);
	CHECK_EQ_INT(vr_store_refresh(st, e, 1000), 0);
	CHECK(vr_store_stat(st, "r", 1, e2) == 0 && e2->expires == 0 && e2->size == 10);
	/* another connection holds the write lock: busy at once */
	run_sql("UPDATE entries SET expires = strftime('%s','now') + 100 WHERE key = CAST('r' AS BLOB)");
	CHECK(vr_store_stat(st, "r", 1, e) == 0);
	sqlite3 *db;
	CHECK(sqlite3_open(path, &db) == SQLITE_OK);
	CHECK(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	CHECK_EQ_INT(vr_store_refresh(st, e, 1000), VR_ETIMEOUT);
	clock_gettime(CLOCK_MONOTONIC, &b);
	CHECK((b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000 < 500);
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(db);
	/* and the handle still waits as before for what must be done */
	CHECK_EQ_INT(vr_store_refresh(st, e, 1000), 0);
	CHECK(vr_store_remove(st, "r", 1) == 0);
	free(e);
	free(e2);
}

/* purge --source: the remembered failures under a key prefix. */
static void test_negative_prefix(struct vr_store *st)
{
	CHECK_EQ_INT(vr_store_negative_put(st, "vr1|src|0|raw", 13, VR_ENOTFOUND, "a", 60), 0);
	CHECK_EQ_INT(vr_store_negative_put(st, "vr1|src|1|w=64", 14, VR_EDATA, "b", 60), 0);
	CHECK_EQ_INT(vr_store_negative_put(st, "vr1|src2|0|raw", 14, VR_EDATA, "c", 60), 0);
	uint64_t n = 0;
	CHECK_EQ_INT(vr_store_negative_clear_prefix(st, "vr1|src|", 8, &n), 0);
	CHECK_EQ_UINT(n, 2);
	CHECK_EQ_INT(count_rows("SELECT count(*) FROM negative"), 1);
	CHECK_EQ_INT(vr_store_negative_clear_prefix(st, "vr1|src2|", 9, NULL), 0);
	CHECK_EQ_INT(count_rows("SELECT count(*) FROM negative"), 0);
}

int main(void)
{
	vr_log_init("test_store");
	vr_log_set_verbosity(VR_QUIET);
	snprintf(dir, sizeof dir, "/tmp/test_store.XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(path, sizeof path, "%s/sub/store.db", dir);
	size_t n = 200000;
	unsigned char *data = malloc(n);
	fill(data, n, 1);

	test_crc32c();
	char err[512];
	struct vr_store *st = NULL;
	CHECK(vr_store_open(&st, path, err, sizeof err) == 0 && st); /* creates sub/ */
	if (st) {
		test_write_read(st, data, n);
		test_management(st, data);
		test_verify_damage(st, data);
		test_two_handles(st, data);
		test_negative(st);
		test_refresh(st, data);
		test_negative_prefix(st);
		test_lock_takeover(st);
		test_one_snapshot(st, data);
		test_large_chunks(st);
		vr_store_close(st);
		test_refusals();
	}
	free(data);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return check_done();
}
