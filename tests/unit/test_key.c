/* Unit tests of lib/request/key (canonical sources, the split of an http URL's
 * query, the key text) and of the store's schema-2 tables that keys use
 * (source versions, remembered failures, old-version gc). */
#include "config.h"
#include "key.h"
#include "origin.h"
#include "params.h"
#include "status.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

static struct vr_key_source ks;

static void test_sources(void)
{
	char err[512];
	struct vr_config *cfg = NULL;
	const char *conf = "[origin \"v\"]\nmatch = ^/videos/(.*)$\nsource = /srv/$1\n";
	CHECK(vr_config_parse(&cfg, conf, strlen(conf), "t.conf", err, sizeof err) == 0);
	CHECK(vr_key_source(cfg, "/videos/a.mp4?width=640&v=2", &ks, NULL, err, sizeof err) == 0);
	CHECK(!strcmp(ks.canonical, "origin:v:/videos/a.mp4"));
	CHECK(!strcmp(ks.query, "width=640&v=2"));
	CHECK(!strcmp(ks.origin, "v"));
	/* URLs keep their own parameters, lose ours */
	CHECK(vr_key_source(cfg, "http://h/a.mp4?sig=x&w=10&nocache=1&t=2#frag", &ks, NULL, err,
			    sizeof err) == 0);
	CHECK(!strcmp(ks.canonical, "http://h/a.mp4?sig=x&t=2"));
	CHECK(!strcmp(ks.locator, "http://h/a.mp4?sig=x&t=2"));
	CHECK(!strcmp(ks.query, "w=10&nocache=1"));
	CHECK(vr_key_source(cfg, "https://h/a.mp4?width=1", &ks, NULL, err, sizeof err) == 0);
	CHECK(!strcmp(ks.canonical, "https://h/a.mp4"));
	/* credentials fetch, but never reach the key; an '@' in the path stays */
	CHECK(vr_key_source(cfg, "https://u:secret@h:8443/a@b.mp4", &ks, NULL, err, sizeof err) == 0);
	CHECK_EQ_STR(ks.canonical, "https://h:8443/a@b.mp4");
	CHECK_EQ_STR(ks.locator, "https://u:secret@h:8443/a@b.mp4");
	/* local paths by their real path; a missing one as written */
	CHECK(vr_key_source(cfg, "/tmp/../tmp", &ks, NULL, err, sizeof err) == 0);
	CHECK(!strcmp(ks.canonical, "/tmp"));
	CHECK(vr_key_source(cfg, "/no/such/file.mp4?w=1", &ks, NULL, err, sizeof err) == 0);
	CHECK(!strcmp(ks.canonical, "/no/such/file.mp4"));
	CHECK(vr_key_source(cfg, "-", &ks, NULL, err, sizeof err) == VR_EUSAGE);
	CHECK(vr_key_source(cfg, "", &ks, NULL, err, sizeof err) == VR_EUSAGE);

	/* the cache-busting v, decoded and re-encoded; twice only if the same */
	CHECK(vr_key_source(cfg, "/videos/a.mp4?width=640&v=2", &ks, NULL, err, sizeof err) == 0);
	CHECK_EQ_STR(ks.v, "2");
	CHECK(vr_key_source(cfg, "/videos/a.mp4?v=a+b%2Fc&v=a%20b/c", &ks, NULL, err, sizeof err) == 0);
	CHECK_EQ_STR(ks.v, "a%20b%2Fc");
	CHECK(vr_key_source(cfg, "/videos/a.mp4?v=&w=1", &ks, NULL, err, sizeof err) == 0);
	CHECK_EQ_STR(ks.v, "");
	CHECK(vr_key_source(cfg, "/videos/a.mp4?w=1", &ks, NULL, err, sizeof err) == 0);
	CHECK_EQ_STR(ks.v, "");
	CHECK(vr_key_source(cfg, "/videos/a.mp4?v=1&v=2", &ks, NULL, err, sizeof err) == VR_EDATA);
	CHECK(strstr(err, "v: given twice") != NULL);
	CHECK(vr_key_source(cfg, "http://h/a.mp4?v=3&x=1", &ks, NULL, err, sizeof err) == 0);
	CHECK_EQ_STR(ks.v, "3");
	CHECK_EQ_STR(ks.canonical, "http://h/a.mp4?x=1");

	/* a request path of an origin: unreserved escapes decoded, other
	 * escapes in uppercase, repeated slashes as one; fetched that way */
	static const char *const same[] = {
		"/videos/a.mp4", "/videos//a.mp4", "//videos///a.mp4", "/videos/a%2Emp4",
		"/vid%65os/%61.mp4?w=1", "/videos/%61%2e%6D%70%34",
	};
	for (size_t i = 0; i < sizeof same / sizeof *same; i++) {
		CHECK(vr_key_source(cfg, same[i], &ks, NULL, err, sizeof err) == 0);
		CHECK_EQ_STR(ks.canonical, "origin:v:/videos/a.mp4");
		CHECK_EQ_STR(ks.locator, "/videos/a.mp4");
	}
	CHECK(vr_key_source(cfg, "/videos/a%2fb%20c~%7E.mp4", &ks, NULL, err, sizeof err) == 0);
	CHECK_EQ_STR(ks.canonical, "origin:v:/videos/a%2Fb%20c~~.mp4");
	/* reserved characters stay escaped: a different path */
	CHECK(vr_key_source(cfg, "/videos/a%2Fb.mp4", &ks, NULL, err, sizeof err) == 0);
	CHECK(strcmp(ks.canonical, "origin:v:/videos/a/b.mp4") != 0);
	/* a local path (no origin) is not rewritten: its realpath is its name */
	CHECK(vr_key_source(cfg, "/no/such/a%2Emp4", &ks, NULL, err, sizeof err) == 0);
	CHECK_EQ_STR(ks.canonical, "/no/such/a%2Emp4");

	/* names of the ignore list leave a URL and the query, others stay */
	CHECK(vr_key_source(cfg, "http://h/a.mp4?utm_source=x&sig=1&fbclid=y&_=3&w=1", &ks, NULL,
			    err, sizeof err) == 0);
	CHECK_EQ_STR(ks.canonical, "http://h/a.mp4?sig=1");
	CHECK_EQ_STR(ks.query, "utm_source=x&fbclid=y&_=3&w=1");
	vr_config_free(cfg);
	conf = "[request]\nignore = sig\n";
	CHECK(vr_config_parse(&cfg, conf, strlen(conf), "t.conf", err, sizeof err) == 0);
	CHECK(vr_key_source(cfg, "http://h/a.mp4?utm_source=x&sig=1", &ks, NULL, err, sizeof err) == 0);
	CHECK_EQ_STR(ks.canonical, "http://h/a.mp4?utm_source=x");
	vr_config_free(cfg);
	CHECK(vr_key_query_name("obj-fit", 7) && vr_key_query_name("v", 1));
	CHECK(vr_key_query_name("loop", 4) && vr_key_query_name("im-density", 10));
	CHECK(!vr_key_query_name("sig", 3) && !vr_key_query_name("widt", 4));
}

static void test_make(void)
{
	char k[64];
	CHECK(vr_key_make("s", 3, NULL, NULL, k, sizeof k) == 11 && !strcmp(k, "vr1|s|3|raw"));
	CHECK(vr_key_make("s", 0, "", "", k, sizeof k) > 0 && !strcmp(k, "vr1|s|0|raw"));
	CHECK(vr_key_make("s", 0, "mode=frame", NULL, k, sizeof k) > 0 &&
	      !strcmp(k, "vr1|s|0|mode=frame"));
	CHECK(vr_key_make("s", 0, "mode=frame", NULL, k, 8) == -1);
	/* the cache-busting v makes its own entry, raw or transformed */
	CHECK_EQ_STR((vr_key_make("s", 0, NULL, "2", k, sizeof k), k), "vr1|s|0|raw&v=2");
	CHECK_EQ_STR((vr_key_make("s", 0, "mode=frame", "a%20b", k, sizeof k), k),
		     "vr1|s|0|mode=frame&v=a%20b");
}

/* The key of a source and a query (and -o FILE, may be NULL), as
 * vr-cache builds it: the query's parameters, the extension, finalize,
 * the canonical form; "ERR" when they fail. */
static const char *key_of(const char *query, const char *output, char *k, size_t len)
{
	struct vr_params p;
	char canon[VR_PARAMS_CANONICAL_MAX], e[512];
	vr_params_init(&p);
	if (vr_params_parse_query(&p, NULL, query, NULL, e, sizeof e) ||
	    vr_params_output_path(&p, output, e, sizeof e) ||
	    vr_params_finalize(&p, NULL, NULL, e, sizeof e)) {
		snprintf(k, len, "ERR %.400s", e);
		return k;
	}
	vr_params_canonical(&p, canon, sizeof canon);
	if (vr_key_make("origin:o:/a.mp4", 0, canon, NULL, k, len) < 0)
		snprintf(k, len, "ERR too long");
	return k;
}

/* Same output, same key: a derivative and its explicit parameters, the
 * levels an encoder reads alike, -o FILE's extension and the format. */
static void test_same_output_same_key(void)
{
	static const char *const same[][4] = {
		{"derivative=desktop", NULL,
		 "mode=video&width=1920&height=1080&fit=contain&audio=true&duration=5m", NULL},
		{"derivative=desktop&mode=frame", NULL, "mode=frame&width=1920&height=1080", NULL},
		{"derivative=thumbnail&format=mp4", NULL, "w=640&h=360&fit=cover&time=2", NULL},
		{"width=80&quality=medium&compression=medium", NULL, "width=80", NULL},
		{"mode=frame&compression=high", NULL, "mode=frame", NULL},
		{"mode=frame&f=png&q=high", NULL, "mode=frame&f=png", NULL},
		{"width=80", "x.webm", "width=80&format=webm", NULL},
		{"mode=frame", "t.PNG", "mode=frame&format=png", NULL},
	};
	for (size_t i = 0; i < sizeof same / sizeof *same; i++) {
		char a[512], b[512];
		key_of(same[i][0], same[i][1], a, sizeof a);
		key_of(same[i][2], same[i][3], b, sizeof b);
		if (strncmp(a, "vr1|", 4) || strcmp(a, b))
			fprintf(stderr, "  case %zu: '%s' vs '%s'\n", i, a, b);
		CHECK(!strncmp(a, "vr1|", 4) && !strcmp(a, b));
	}
	static const char *const diff[][4] = {
		{"derivative=desktop", NULL, "width=1920&height=1080", NULL}, /* the 5m cap */
		{"width=80", NULL, "width=80&quality=high", NULL},
		{"mode=frame", NULL, "mode=frame&q=low", NULL},
		{"mode=frame&f=png", NULL, "mode=frame&f=png&compression=high", NULL},
		{"width=80", "x.webm", "width=80", NULL},
	};
	for (size_t i = 0; i < sizeof diff / sizeof *diff; i++) {
		char a[512], b[512];
		key_of(diff[i][0], diff[i][1], a, sizeof a);
		key_of(diff[i][2], diff[i][3], b, sizeof b);
		if (strncmp(a, "vr1|", 4) || strncmp(b, "vr1|", 4) || !strcmp(a, b))
			fprintf(stderr, "  case %zu should differ: '%s' vs '%s'\n", i, a, b);
		CHECK(!strncmp(a, "vr1|", 4) && !strncmp(b, "vr1|", 4) && strcmp(a, b));
	}
}

static void test_store_tables(void)
{
	char dir[] = "/tmp/vr-test-key-XXXXXX", path[256], err[512];
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof path, "%s/s.db", dir);
	struct vr_store *st = NULL;
	CHECK(vr_store_open(&st, path, err, sizeof err) == 0);
	int64_t v = -1;
	CHECK(vr_store_source_version(st, "src", &v) == 0 && v == 0);
	CHECK(vr_store_source_bump(st, "src", &v) == 0 && v == 1);
	CHECK(vr_store_source_bump(st, "src", NULL) == 0);
	CHECK(vr_store_source_version(st, "src", &v) == 0 && v == 2);
	/* entries of versions 0 and 2 of src, and of a source "src#1" (whose
	 * tag must not be mistaken for version 1 of src) */
	const char *t0[] = {"srcver:src#0"}, *t2[] = {"srcver:src#2"}, *tx[] = {"srcver:src#1#0"};
	const char *const *tags[] = {t0, t2, tx};
	const char *keys[] = {"k0", "k2", "kx"};
	for (int i = 0; i < 3; i++) {
		struct vr_put_opts o = {.tags = tags[i], .ntags = 1};
		struct vr_store_writer *w = NULL;
		CHECK(vr_store_writer_begin(st, keys[i], 2, &o, &w) == 0 && w);
		CHECK(vr_store_writer_write(w, "x", 1) == 0);
		CHECK(vr_store_writer_commit(w, NULL) == 0);
	}
	uint64_t n = 0, entries = 0, bytes = 0;
	CHECK(vr_store_gc_versions(st, &n) == 0 && n == 1);
	struct vr_entry *e = malloc(sizeof *e);
	CHECK(vr_store_stat(st, "k0", 2, e) == VR_ENOTFOUND);
	CHECK(vr_store_stat(st, "k2", 2, e) == 0);
	CHECK(vr_store_stat(st, "kx", 2, e) == 0);
	CHECK(vr_store_totals(st, &entries, &bytes) == 0 && entries == 2 && bytes == 2);
	/* remembered failures */
	int status = 0;
	char msg[64];
	int64_t exp = 0;
	CHECK(vr_store_negative_get(st, "n", 1, &status, msg, sizeof msg, &exp) == VR_ENOTFOUND);
	CHECK(vr_store_negative_put(st, "n", 1, 5, "404", 60) == 0);
	CHECK(vr_store_negative_get(st, "n", 1, &status, msg, sizeof msg, &exp) == 0);
	CHECK(status == 5 && !strcmp(msg, "404") && exp > 0);
	CHECK(vr_store_negative_put(st, "old", 3, 7, "slow", -1) == 0);
	CHECK(vr_store_negative_get(st, "old", 3, &status, msg, sizeof msg, &exp) == VR_ENOTFOUND);
	CHECK(vr_store_negative_gc(st, &n) == 0 && n == 1);
	CHECK(vr_store_negative_clear(st, "n", 1) == 0);
	CHECK(vr_store_negative_get(st, "n", 1, &status, msg, sizeof msg, &exp) == VR_ENOTFOUND);
	free(e);
	vr_store_close(st);
	/* a version 1 store is migrated to 2 */
	char cmd[512];
	snprintf(cmd, sizeof cmd,
		 "sqlite3 %s 'DROP TABLE sources; DROP TABLE negative; PRAGMA user_version = 1'", path);
	if (system(cmd) == 0) {
		CHECK(vr_store_open(&st, path, err, sizeof err) == 0);
		CHECK(st && vr_store_source_version(st, "src", &v) == 0 && v == 0);
		CHECK(st && vr_store_stat(st, "k2", 2, &(struct vr_entry){0}) == 0);
		vr_store_close(st);
	}
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
}

int main(void)
{
	test_sources();
	test_make();
	test_same_output_same_key();
	test_store_tables();
	return check_done();
}
