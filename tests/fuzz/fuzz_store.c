/* libFuzzer target: arbitrary key bytes through a real SQLite chunk store
 * (lib/store), created once per process in a temporary folder under
 * $TMPDIR and removed at exit. Each input is a key: it is written with the
 * streaming writer (a payload derived from the key, several small chunks),
 * stat'ed, read back whole and in a sub-range and compared, listed by
 * prefix (every listed key must start with the prefix, and the fixed keys
 * that do must be listed), remembered as a failure and cleared, then
 * removed; the store holds only the fixed keys between inputs. The key's
 * text also goes through lib/request/key (vr_key_make, vr_key_query_name, and
 * vr_key_source without a config). */
#include "key.h"
#include "log.h"
#include "origin.h"
#include "status.h"
#include "store.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FAIL(...)                                           \
	do {                                                \
		fprintf(stderr, "fuzz_store: " __VA_ARGS__); \
		fputc('\n', stderr);                        \
		abort();                                    \
	} while (0)

#define PAYLOAD_MAX 20000
#define CHUNK VR_STORE_CHUNK_MIN

static struct vr_store *store;
static char store_dir[512], store_path[600];

static const struct {
	const char *k;
	size_t n;
} store_fixed[] = {
	{"a", 1}, {"ab%", 3}, {"a_b", 3}, {"\xff\xfe", 2}, {"a\0b", 3}, {"vr1|/v/a.mp4|0|raw", 18},
};
#define NFIXED (sizeof store_fixed / sizeof *store_fixed)

static void store_cleanup(void)
{
	if (store)
		vr_store_close(store);
	store = NULL;
	static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
	char p[700];
	for (size_t i = 0; i < 4; i++) {
		snprintf(p, sizeof p, "%s%s", store_path, suffix[i]);
		unlink(p);
	}
	rmdir(store_dir);
}

static int store_emit(void *ctx, const void *buf, size_t n);

struct store_sink {
	unsigned char buf[PAYLOAD_MAX];
	size_t len;
	int overflow;
};

static int store_emit(void *ctx, const void *buf, size_t n)
{
	struct store_sink *k = ctx;
	if (n > sizeof k->buf - k->len) {
		k->overflow = 1;
		return 1;
	}
	memcpy(k->buf + k->len, buf, n);
	k->len += n;
	return 0;
}

static void store_put(const void *key, size_t keylen, const unsigned char *payload, size_t len,
		struct vr_entry *e)
{
	struct vr_put_opts o = {.content_type = "video/mp4", .chunk_size = CHUNK};
	struct vr_store_writer *w = NULL;
	int r = vr_store_writer_begin(store, key, keylen, &o, &w);
	if (r || !w)
		FAIL("writer_begin(%zu bytes) = %d: %s", keylen, r, vr_store_error(store));
	/* odd-sized pieces */
	for (size_t off = 0; off < len;) {
		size_t n = 1 + (off * 13 + keylen) % 3001;
		if (n > len - off)
			n = len - off;
		if ((r = vr_store_writer_write(w, payload + off, n)))
			FAIL("writer_write = %d: %s", r, vr_store_error(store));
		off += n;
	}
	if ((r = vr_store_writer_commit(w, e)))
		FAIL("commit = %d: %s", r, vr_store_error(store));
}

static void store_init(void)
{
	vr_log_init("fuzz_store");
	vr_log_set_verbosity(VR_QUIET);
	const char *tmp = getenv("TMPDIR");
	snprintf(store_dir, sizeof store_dir, "%s/vr-fuzz-store.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(store_dir))
		FAIL("mkdtemp %s", store_dir);
	snprintf(store_path, sizeof store_path, "%s/store.db", store_dir);
	char err[1024];
	if (vr_store_open(&store, store_path, err, sizeof err))
		FAIL("open %s: %s", store_path, err);
	atexit(store_cleanup);
	static struct vr_entry e;
	for (size_t i = 0; i < NFIXED; i++)
		store_put(store_fixed[i].k, store_fixed[i].n, (const unsigned char *)"store_fixed", 5, &e);
}

struct store_listing {
	const unsigned char *prefix;
	size_t n;
	int fixed_seen[NFIXED];
	int self_seen;
	const unsigned char *self;
	size_t selflen;
};

static int store_list_fn(void *ctx, const struct vr_entry *e)
{
	struct store_listing *l = ctx;
	if (e->keylen < l->n || memcmp(e->key, l->prefix, l->n))
		FAIL("list: a key of %zu bytes without the %zu-byte prefix", e->keylen, l->n);
	for (size_t i = 0; i < NFIXED; i++)
		if (e->keylen == store_fixed[i].n && !memcmp(e->key, store_fixed[i].k, store_fixed[i].n))
			l->fixed_seen[i]++;
	if (e->keylen == l->selflen && !memcmp(e->key, l->self, l->selflen))
		l->self_seen++;
	return 0;
}

static void store_check_entry(const struct vr_entry *e, const void *key, size_t keylen, size_t len,
			const char *what)
{
	if (e->keylen != keylen || memcmp(e->key, key, keylen))
		FAIL("%s: the key differs (%zu bytes, want %zu)", what, e->keylen, keylen);
	if (e->size != len)
		FAIL("%s: size %llu, want %zu", what, (unsigned long long)e->size, len);
	if (e->chunk_count != (len + CHUNK - 1) / CHUNK)
		FAIL("%s: %llu chunks for %zu bytes", what, (unsigned long long)e->chunk_count, len);
}

static void store_fuzz_key(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (!text)
		return;
	memcpy(text, data, size);
	text[size] = '\0';
	(void)vr_key_query_name(text, strlen(text));
	char key[VR_KEY_SOURCE_MAX + 512];
	int n = vr_key_make(text, (int64_t)size * 977 - 5, size & 1 ? text : NULL,
			    size & 2 ? text : NULL, key, sizeof key);
	if (n >= 0 && ((size_t)n >= sizeof key || strlen(key) != (size_t)n))
		FAIL("key_make returned %d", n);
	static struct vr_key_source ks;
	char err[1024] = "";
	if (text[0] && text[0] != '-') {
		struct vr_resolved res;
		memset(&res, 0, sizeof res);
		int r = vr_key_source(NULL, text, &ks, &res, err, sizeof err);
		if (r && !err[0])
			FAIL("key_source returned %d without a message", r);
		if (!r) {
			if (!memchr(ks.canonical, '\0', sizeof ks.canonical) ||
			    !memchr(ks.query, '\0', sizeof ks.query))
				FAIL("key_source: unterminated fields");
			vr_resolved_free(&res);
		}
	}
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!store)
		store_init();
	store_fuzz_key(data, size);

	static unsigned char payload[PAYLOAD_MAX];
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < size; i++)
		h = (h ^ data[i]) * 16777619u;
	size_t len = h % (3 * CHUNK + 100);
	for (size_t i = 0; i < len; i++)
		payload[i] = (unsigned char)((h >> (i % 24)) + i * 31);

	/* a key too long is refused, not truncated */
	if (size > VR_STORE_KEY_MAX) {
		struct vr_put_opts o = {.chunk_size = CHUNK};
		struct vr_store_writer *w = (void *)1;
		int r = vr_store_writer_begin(store, data, size, &o, &w);
		if (r == 0 || w)
			FAIL("writer_begin took a key of %zu bytes", size);
		return 0;
	}
	int is_fixed = 0;
	for (size_t i = 0; i < NFIXED; i++)
		is_fixed |= size == store_fixed[i].n && !memcmp(data, store_fixed[i].k, size);

	static struct vr_entry e, e2;
	store_put(data, size, payload, len, &e);
	store_check_entry(&e, data, size, len, "commit");
	int r = vr_store_stat(store, data, size, &e2);
	if (r)
		FAIL("stat after store_put = %d: %s", r, vr_store_error(store));
	store_check_entry(&e2, data, size, len, "stat");

	/* read back whole and a sub-range */
	static struct store_sink k;
	r = vr_store_read_begin(store, data, size, &e2);
	if (r)
		FAIL("read_begin = %d: %s", r, vr_store_error(store));
	store_check_entry(&e2, data, size, len, "read_begin");
	if (len > 0) {
		k.len = 0;
		k.overflow = 0;
		r = vr_store_read_span(store, &e2, 0, len - 1, size & 1, store_emit, &k);
		if (r || k.len != len || memcmp(k.buf, payload, len))
			FAIL("read_span whole = %d, %zu bytes of %zu", r, k.len, len);
		uint64_t a = h % len, b = a + (h >> 8) % (len - a);
		k.len = 0;
		r = vr_store_read_span(store, &e2, a, b, 0, store_emit, &k);
		if (r || k.len != b - a + 1 || memcmp(k.buf, payload + a, k.len))
			FAIL("read_span %llu-%llu = %d", (unsigned long long)a, (unsigned long long)b, r);
	}
	vr_store_read_end(store);

	/* listing by prefix: the key itself, and its first half */
	for (int half = 0; half < 2; half++) {
		struct store_listing l = {.prefix = data, .n = half ? size / 2 : size, .self = data, .selflen = size};
		if ((r = vr_store_list(store, data, l.n, store_list_fn, &l)))
			FAIL("list = %d: %s", r, vr_store_error(store));
		if (l.self_seen != 1)
			FAIL("list: the key itself seen %d times", l.self_seen);
		for (size_t i = 0; i < NFIXED; i++) {
			int want = store_fixed[i].n >= l.n && !memcmp(store_fixed[i].k, data, l.n);
			if ((l.fixed_seen[i] > 0) != want || l.fixed_seen[i] > 1)
				FAIL("list with a %zu-byte prefix: store_fixed key %zu seen %d times", l.n, i,
				     l.fixed_seen[i]);
		}
	}

	/* a remembered failure under the same key */
	char msg[256];
	int status = 0;
	int64_t expires = 0;
	if ((r = vr_store_negative_put(store, data, size, 5, "fuzz: not found", 60)))
		FAIL("negative_put = %d: %s", r, vr_store_error(store));
	if ((r = vr_store_negative_get(store, data, size, &status, msg, sizeof msg, &expires)) || status != 5)
		FAIL("negative_get = %d, status %d", r, status);
	if ((r = vr_store_negative_clear(store, data, size)))
		FAIL("negative_clear = %d", r);
	if (vr_store_negative_get(store, data, size, &status, msg, sizeof msg, &expires) != VR_ENOTFOUND)
		FAIL("negative_get after clear found it");

	if (is_fixed) {
		store_put(data, size, (const unsigned char *)"store_fixed", 5, &e);
		return 0;
	}
	if ((r = vr_store_remove(store, data, size)))
		FAIL("remove = %d: %s", r, vr_store_error(store));
	if ((r = vr_store_stat(store, data, size, &e2)) != VR_ENOTFOUND)
		FAIL("stat after remove = %d", r);
	if ((r = vr_store_remove(store, data, size)) != VR_ENOTFOUND)
		FAIL("second remove = %d", r);
	return 0;
}
