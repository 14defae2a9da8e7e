/* Unit tests of lib/store (and lib/crc32c, its chunk checksum): a temporary
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
#include <unistd.h>

static int checks, failures;
#define CHECK(e)                                                                         \
	do {                                                                             \
		checks++;                                                                \
		if (!(e)) {                                                              \
			failures++;                                                      \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #e); \
		}                                                                        \
	} while (0)

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
		vr_store_close(st);
		test_refusals();
	}
	free(data);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	if (failures) {
		printf("test_store: %d of %d checks FAILED\n", failures, checks);
		return 1;
	}
	printf("test_store: %d checks passed\n", checks);
	return 0;
}
