/* vr-chunk: store streams as fixed-size chunks in SQLite and read any byte
 * range back touching only the chunks it needs. */
#include "cli.h"
#include "defaults.h"
#include "io.h"
#include "json.h"
#include "lifecycle.h"
#include "log.h"
#include "metrics.h"
#include "mime.h"
#include "num.h"
#include "output.h"
#include "range.h"
#include "response.h"
#include "status.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The options of every command in one struct (only one command runs). */
struct opts {
	struct vr_cli_common common;
	int json;                 /* get, stat, ls, gc */
	/* put */
	const char *content_type;
	double ttl;               /* put and touch */
	int ttl_given;
	const char *tags[VR_STORE_TAGS_MAX];
	size_t ntags;
	uint64_t chunk_size;
	int if_absent;
	double wait;
	/* get */
	const char *range_text;
	struct vr_cli_multipart mp;
	int headers, verify;
	const char *output;
	/* purge */
	const char *tag;
	/* gc */
	int vacuum;
};

/* --ttl: a whole number of seconds once stored; a century-scale bound
 * keeps now + ttl far from overflowing */
#define TTL_MAX 1e11

#define O(m) offsetof(struct opts, m)
static const struct vr_opt put_opts[] = {
	VR_OPT_CONTENT_TYPE(O(content_type),
			    "stored with the entry (default: from FILE's name, else "
			    "application/octet-stream)"),
	{.name = "ttl", .kind = VR_OPT_SECONDS, .arg = "SECONDS", .off = O(ttl), .hi = TTL_MAX,
	 .help = "time to live (like 3600, 10m, 1h; 0: never expires, the default)"},
	{.name = "tag", .kind = VR_OPT_LIST, .arg = "TAG", .off = O(tags), .count_off = O(ntags),
	 .max = VR_STORE_TAGS_MAX,
	 .help = "a tag for purge (repeatable: up to 64 tags of 1 to 256 bytes)"},
	{.name = "chunk-size", .kind = VR_OPT_SIZE, .arg = "SIZE", .off = O(chunk_size),
	 .def = VR_DEFAULT_CHUNK_SIZE, .lo = VR_STORE_CHUNK_MIN, .hi = VR_STORE_CHUNK_MAX,
	 .help = "bytes per chunk, from 4K to 64M"},
	{.name = "if-absent", .kind = VR_OPT_FLAG, .off = O(if_absent),
	 .help = "exit 0 without opening or reading the input when KEY is present"},
	{.name = "wait", .kind = VR_OPT_SECONDS, .arg = "SECONDS", .off = O(wait),
	 .def = VR_DEFAULT_PUT_WAIT, .hi = 86400,
	 .help = "wait up to SECONDS (0 to 86400) for another writer of KEY, then exit 7"},
	{0},
};
static const struct vr_opt get_opts[] = {
	VR_OPT_RANGE(O(range_text)),
	VR_OPT_MULTIPART(O(mp)),
	VR_OPT_HEADERS(O(headers)),
	VR_OPT_JSON(O(json), "print the response's facts as one JSON object on stderr"),
	{.name = "verify", .kind = VR_OPT_FLAG, .off = O(verify),
	 .help = "check each chunk's SHA-256 too"},
	VR_OPT_OUTPUT(O(output)),
	{0},
};
static const struct vr_opt stat_opts[] = {
	VR_OPT_JSON(O(json), "one JSON object (tags as an array of strings)"),
	{0},
};
static const struct vr_opt ls_opts[] = {
	VR_OPT_JSON(O(json), "one JSON object a line (tags as an array of strings)"),
	{0},
};
static const struct vr_opt purge_opts[] = {
	{.name = "tag", .kind = VR_OPT_STR, .arg = "TAG", .off = O(tag),
	 .help = "remove every entry with TAG (required)"},
	{0},
};
static const struct vr_opt touch_opts[] = {
	{.name = "ttl", .kind = VR_OPT_SECONDS, .arg = "SECONDS", .off = O(ttl), .hi = TTL_MAX,
	 .given_off = O(ttl_given),
	 .help = "the new time to live from now (0: never expires; required)"},
	{0},
};
static const struct vr_opt gc_opts[] = {
	{.name = "vacuum", .kind = VR_OPT_FLAG, .off = O(vacuum),
	 .help = "then give the free space back to the file system"},
	VR_OPT_JSON(O(json), "the counts as one JSON object on stdout"),
	{0},
};
#undef O

struct ctx {
	const char *store_path;
	struct vr_store *st;
	struct vr_entry *entry; /* put: the entry published or found */
	char err[512];
};

/* Only put creates the store; the other commands need an existing one.
 * The quiet form leaves the message in c->err. */
static int open_store_quiet(struct ctx *c, int create)
{
	int rc = (create ? vr_store_open : vr_store_open_existing)(&c->st, c->store_path, c->err,
								  sizeof c->err);
	if (rc == VR_ENOTFOUND) {
		size_t n = strlen(c->err);
		snprintf(c->err + n, sizeof c->err - n, " (vr-chunk put creates it)");
	}
	return rc;
}

static int open_store(struct ctx *c, int create)
{
	int rc = open_store_quiet(c, create);
	if (rc)
		vr_error("%s", c->err);
	return rc;
}

static int store_fail(struct ctx *c, int rc)
{
	vr_error("%s", vr_store_error(c->st));
	return rc;
}

/* Printable form of a key for messages and listings. */
static const char *show_key(const unsigned char *k, size_t n)
{
	static char buf[4 * 256 + 8];
	size_t o = 0;
	for (size_t i = 0; i < n && o + 5 < sizeof buf - 4; i++) {
		if (k[i] >= 0x20 && k[i] < 0x7f && k[i] != '\\')
			buf[o++] = (char)k[i];
		else
			o += (size_t)snprintf(buf + o, sizeof buf - o, "\\x%02x", k[i]);
	}
	if (n > 256)
		o += (size_t)snprintf(buf + o, sizeof buf - o, "...");
	buf[o] = '\0';
	return buf;
}

/* Keys longer than the store takes can never be present: a usage error,
 * the same for every command. */
static int key_too_long(const char *key)
{
	if (strlen(key) <= VR_STORE_KEY_MAX)
		return 0;
	vr_error("key longer than %d bytes", VR_STORE_KEY_MAX);
	return 1;
}

/* ---- put ---- */

/* Every tag 1 to VR_STORE_TAG_MAX bytes: a usage error before the store
 * is opened (or created) */
static int tags_valid(const struct opts *o)
{
	for (size_t i = 0; i < o->ntags; i++)
		if (!o->tags[i][0] || strlen(o->tags[i]) > VR_STORE_TAG_MAX) {
			vr_error("--tag: a tag has 1 to %d bytes", VR_STORE_TAG_MAX);
			return 0;
		}
	return 1;
}

/* put, in stages: the input, the writer (none when --if-absent finds the
 * key), the stream into it, and its commit or abort. */

/* The input: FILE or stdin; *content_type from FILE's name when unset. */
static int put_open_input(const char *file, int *in, const char **content_type)
{
	*in = STDIN_FILENO;
	if (!file || !strcmp(file, "-"))
		return 0;
	char err[512];
	int rc = vr_open_input(file, in, err, sizeof err);
	if (rc) {
		vr_error("%s", err);
		return rc;
	}
	if (!*content_type)
		*content_type = vr_mime_from_path(file);
	return 0;
}

/* --if-absent: is key present already? Asked before the input is opened,
 * so that a present key costs no open (a missing file, a FIFO without a
 * writer) and no read. A store that does not exist, or cannot be opened,
 * holds nothing: the ordinary path then opens it and says what is wrong. */
static int put_present(struct ctx *c, const char *key)
{
	size_t keylen = strlen(key);
	if (open_store_quiet(c, 0))
		return 0;
	if (vr_store_stat(c->st, key, keylen, c->entry) != 0)
		return 0;
	vr_info("%s is present; not read", show_key((const unsigned char *)key, keylen));
	return 1;
}

/* The writer of key, or *w NULL (with 0) when --if-absent finds it present. */
static int put_begin(struct ctx *c, const char *key, const struct vr_put_opts *o,
		     struct vr_store_writer **w)
{
	size_t keylen = strlen(key);
	*w = NULL;
	if (o->if_absent && vr_store_stat(c->st, key, keylen, c->entry) == 0) {
		vr_info("%s is present; not read", show_key((const unsigned char *)key, keylen));
		return 0;
	}
	int rc = vr_store_writer_begin(c->st, key, keylen, o, w);
	if (rc)
		return store_fail(c, rc);
	if (!*w) /* --if-absent: published by the writer we waited for */
		vr_info("%s is present; not read", show_key((const unsigned char *)key, keylen));
	return 0;
}

/* The input to its end into the writer, keeping the lock's lease while
 * input is slow. */
static int put_stream(struct ctx *c, int in, const char *what, struct vr_store_writer *w)
{
	unsigned char *buf = vr_io_buffer();
	vr_pipe_grow(in);
	for (;;) {
		/* wake up now and then to keep the lock's lease while input is slow */
		struct pollfd p = {.fd = in, .events = POLLIN};
		int pr = poll(&p, 1, 5000);
		if (pr == 0) {
			int rc = vr_store_writer_tick(w);
			if (rc)
				return store_fail(c, rc);
			continue;
		}
		if (pr < 0 && errno != EINTR)
			return VR_EIO;
		if (vr_stop_requested())
			return VR_EFAIL;
		ssize_t n = vr_read_some(in, buf, VR_IO_BUFSIZE);
		if (n < 0) {
			if (vr_stop_requested())
				return VR_EFAIL;
			vr_error("reading %s: %s", what, strerror(errno));
			return VR_EIO;
		}
		if (n == 0)
			return vr_stop_requested() ? VR_EFAIL : 0; /* a signal with the end */
		vr_metrics_bytes_in((uint64_t)n);
		/* the lease is renewed here too: input that trickles in never lets
		 * poll() time out, and may fill no chunk for longer than the lease */
		int rc = vr_store_writer_write(w, buf, (size_t)n);
		if (!rc)
			rc = vr_store_writer_tick(w);
		if (rc)
			return store_fail(c, rc);
	}
}

/* Publish the entry, or drop it: nothing is stored from a failed stream. */
static int put_finish(struct ctx *c, struct vr_store_writer *w, int rc)
{
	if (rc) {
		vr_store_writer_abort(w);
		if (rc == VR_EFAIL && vr_stop_requested())
			vr_error("interrupted; nothing stored");
		return rc;
	}
	struct vr_entry *e = c->entry;
	if ((rc = vr_store_writer_commit(w, e)))
		return store_fail(c, rc);
	vr_info("stored %s: %" PRIu64 " bytes in %" PRIu64 " chunks", show_key(e->key, e->keylen),
		e->size, e->chunk_count);
	return 0;
}

static int cmd_put(struct ctx *c, struct opts *opt, int argc, char **argv)
{
	struct vr_put_opts o = {
		.content_type = opt->content_type,
		.ttl = (int64_t)opt->ttl,
		.tags = opt->tags,
		.ntags = opt->ntags,
		.chunk_size = (uint32_t)opt->chunk_size,
		.wait = opt->wait,
		.if_absent = opt->if_absent,
	};
	const char *key = argv[0];
	const char *file = argc > 1 ? argv[1] : NULL;
	if (!tags_valid(opt))
		return vr_usage_hint();
	if (key_too_long(key))
		return VR_EUSAGE;
	if (!(c->entry = malloc(sizeof *c->entry)))
		return VR_EFAIL;
	struct vr_store_writer *w = NULL;
	int in = STDIN_FILENO;
	int rc = 0;
	if (o.if_absent && put_present(c, key))
		goto out;
	rc = put_open_input(file, &in, &o.content_type);
	if (rc)
		goto out;
	if (!c->st)
		rc = open_store(c, 1);
	if (!rc)
		rc = put_begin(c, key, &o, &w);
	if (!rc && w) {
		vr_stream_opened();
		rc = put_finish(c, w, put_stream(c, in, file && strcmp(file, "-") ? file : "stdin", w));
		vr_stream_closed();
	}
out:
	free(c->entry);
	c->entry = NULL;
	if (in != STDIN_FILENO)
		close(in);
	return rc;
}

/* ---- get ---- */

/* The output of get, for the shared span server (lib/request/response). */
struct get_out {
	struct ctx *c;
	const struct vr_entry *e; /* read snapshot open */
	int fd;
	int verify;
	int status; /* why a callback said VR_STOP: VR_OK for a closed reader */
};

static int emit_fd(void *ctx, const void *buf, size_t n)
{
	struct get_out *g = ctx;
	int r = vr_write_full(g->fd, buf, n);
	if (r == VR_IO_OK) {
		vr_metrics_bytes_out(n);
		return 0;
	}
	if (r == VR_IO_EPIPE) {
		g->status = VR_OK; /* the reader went away: a quiet end */
	} else {
		vr_error("writing output: %s", strerror(errno));
		g->status = VR_EIO;
	}
	return VR_STOP;
}

static int span_fd(void *ctx, const struct vr_span *sp)
{
	struct get_out *g = ctx;
	int s = vr_store_read_span(g->c->st, g->e, sp->start, sp->end, g->verify, emit_fd, g);
	if (s && s != VR_STOP) {
		g->status = store_fail(g->c, s);
		return VR_STOP;
	}
	return s;
}

static int cmd_get(struct ctx *c, struct opts *o, int argc, char **argv)
{
	(void)argc;
	vr_cli_multipart_finish(&o->mp);
	const char *key = argv[0];
	size_t keylen = strlen(key);
	if (key_too_long(key))
		return VR_EUSAGE;
	struct vr_range_set *set = NULL;
	struct vr_entry *e = malloc(sizeof *e);
	struct vr_response *r = malloc(sizeof *r);
	char err[1280];
	int rc = 0, reading = 0, out_open = 0;
	struct vr_output out;
	err[0] = '\0';
	if (!e || !r) {
		snprintf(err, sizeof err, "out of memory");
		rc = VR_EFAIL;
		goto failed;
	}
	if ((rc = vr_range_option(o->range_text, &set, err, sizeof err)))
		goto failed;
	vr_cli_multipart_for_headers(&o->mp, o->headers, set ? set->n : 0);
	if ((rc = open_store_quiet(c, 0))) {
		snprintf(err, sizeof err, "%s", c->err);
		goto failed;
	}
	rc = vr_store_read_begin(c->st, key, keylen, e);
	if (rc) {
		if (rc == VR_ENOTFOUND)
			snprintf(err, sizeof err, "%s: no such key (or expired)",
				 show_key((const unsigned char *)key, keylen));
		else
			snprintf(err, sizeof err, "%s", vr_store_error(c->st));
		goto failed;
	}
	reading = 1;
	if (vr_response_plan(r, set, e->size, o->mp.on, e->content_type, o->mp.boundary) !=
	    VR_RANGE_OK) {
		vr_response_print(r, o->headers, o->json);
		vr_error("%s", vr_unsatisfiable_text(err, sizeof err, set, "the entry", (int64_t)e->size,
						     0));
		rc = VR_ERANGE;
		goto done;
	}
	vr_response_print(r, o->headers, o->json);
	if ((rc = vr_output_open(&out, o->output)))
		goto done;
	out_open = 1;
	vr_pipe_grow(out.fd);
	vr_stream_opened();
	struct get_out g = {c, e, out.fd, o->verify, VR_OK};
	struct vr_serve sv = {emit_fd, span_fd, &g};
	rc = vr_response_serve(r, &sv) == VR_STOP ? g.status : VR_OK;
	vr_stream_closed();
	goto done;
failed:
	/* before the answer: --headers/--json still get one (404, 502...),
	 * so that a script needs no exit-status mapping; usage is none */
	if (rc != VR_EUSAGE && (o->headers || o->json))
		vr_response_print_failure(rc, err, NULL, NULL, o->headers, o->json);
	vr_error("%s", err);
done:
	if (out_open)
		rc = vr_output_end(&out, rc);
	if (reading)
		vr_store_read_end(c->st);
	free(set);
	free(e);
	free(r);
	return rc;
}

/* ---- stat, ls ---- */

static void print_entry(const struct vr_entry *e, int json)
{
	char created[32] = "", expires[32] = "never";
	struct tm tm;
	time_t t = (time_t)e->created;
	strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
	if (e->expires) {
		t = (time_t)e->expires;
		strftime(expires, sizeof expires, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
	}
	if (json) {
		/* the key goes in by hand: escaped (up to 6 bytes a byte) and in hex
		 * it can far outgrow vr_json's fixed buffer */
		static struct vr_json j;
		static char esc[6 * VR_STORE_KEY_MAX + 1], hex[2 * VR_STORE_KEY_MAX + 1];
		for (size_t i = 0; i < e->keylen; i++)
			snprintf(hex + 2 * i, 3, "%02x", e->key[i]);
		hex[2 * e->keylen] = '\0';
		vr_json_escape(esc, sizeof esc, (const char *)e->key, e->keylen);
		vr_json_begin(&j);
		vr_json_uint(&j, "size", e->size);
		vr_json_uint(&j, "chunk_size", e->chunk_size);
		vr_json_uint(&j, "chunk_count", e->chunk_count);
		vr_json_str(&j, "content_type", e->content_type);
		vr_json_str(&j, "sha256", e->sha256);
		vr_json_int(&j, "created", e->created);
		if (e->expires)
			vr_json_int(&j, "expires", e->expires);
		else
			vr_json_null(&j, "expires");
		vr_json_end(&j);
		/* the tags by hand as well: up to 64 of up to 256 bytes each */
		printf("{\"key\":\"%s\",\"key_hex\":\"%s\",%.*s,\"tags\":[", esc, hex,
		       (int)j.len - 2, j.buf + 1);
		const char *tag = e->tag_list;
		for (size_t i = 0; i < e->ntags; i++, tag += strlen(tag) + 1) {
			vr_json_escape(esc, sizeof esc, tag, strlen(tag));
			printf("%s\"%s\"", i ? "," : "", esc);
		}
		vr_json_escape(esc, sizeof esc, e->state, strlen(e->state));
		printf("],\"state\":\"%s\"}\n", esc);
		return;
	}
	printf("key:          %s\n"
	       "size:         %" PRIu64 "\n"
	       "chunk size:   %" PRIu32 "\n"
	       "chunks:       %" PRIu64 "\n"
	       "content type: %s\n"
	       "sha256:       %s\n"
	       "created:      %s\n"
	       "expires:      %s\n"
	       "tags:         %s\n"
	       "state:        %s\n",
	       show_key(e->key, e->keylen), e->size, e->chunk_size, e->chunk_count, e->content_type,
	       e->sha256, created, expires, e->tags, e->state);
}

static int cmd_stat(struct ctx *c, struct opts *o, int argc, char **argv)
{
	(void)argc;
	int json = o->json;
	if (key_too_long(argv[0]))
		return VR_EUSAGE;
	int rc = open_store(c, 0);
	if (rc)
		return rc;
	struct vr_entry *e = malloc(sizeof *e);
	if (!e)
		return VR_EFAIL;
	const char *key = argv[0];
	rc = vr_store_stat(c->st, key, strlen(key), e);
	if (rc == VR_ENOTFOUND)
		vr_error("%s: no such key (or expired)", show_key((const unsigned char *)key, strlen(key)));
	else if (rc)
		store_fail(c, rc);
	else
		print_entry(e, json);
	free(e);
	return rc;
}

static int list_errno;

static int list_one(void *ctx, const struct vr_entry *e)
{
	int json = *(int *)ctx;
	if (json) {
		print_entry(e, 1);
	} else {
		char when[32] = "never";
		if (e->expires) {
			struct tm tm;
			time_t t = (time_t)e->expires;
			strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
		}
		printf("%12" PRIu64 "  %-20s  %-24s  %s\n", e->size, when, e->content_type,
		       show_key(e->key, e->keylen));
	}
	if (!ferror(stdout))
		return 0;
	list_errno = errno;
	return -1;
}

static int cmd_ls(struct ctx *c, struct opts *o, int argc, char **argv)
{
	int json = o->json;
	const char *prefix = argc ? argv[0] : "";
	int rc = open_store(c, 0);
	if (rc)
		return rc;
	rc = vr_store_list(c->st, prefix, strlen(prefix), list_one, &json);
	if (rc == -1) { /* stdout failed: a closed pipe is a quiet end */
		if (list_errno == EPIPE)
			return 0;
		vr_error("writing output: %s", strerror(list_errno));
		return VR_EIO;
	}
	if (rc)
		store_fail(c, rc);
	return rc;
}

/* ---- rm, purge, touch, gc, verify ---- */

static int cmd_rm(struct ctx *c, struct opts *o, int argc, char **argv)
{
	(void)o;
	for (int i = 0; i < argc; i++)
		if (key_too_long(argv[i]))
			return VR_EUSAGE;
	int rc = open_store(c, 0), worst = 0;
	if (rc)
		return rc;
	for (int i = 0; i < argc; i++) {
		rc = vr_store_remove(c->st, argv[i], strlen(argv[i]));
		if (rc == VR_ENOTFOUND)
			vr_error("%s: no such key", show_key((const unsigned char *)argv[i], strlen(argv[i])));
		else if (rc)
			store_fail(c, rc);
		if (rc && (!worst || rc != VR_ENOTFOUND))
			worst = rc;
	}
	return worst;
}

static int cmd_purge(struct ctx *c, struct opts *o, int argc, char **argv)
{
	(void)argc, (void)argv;
	const char *tag = o->tag;
	if (!tag) {
		vr_error("missing --tag TAG");
		return vr_usage_hint();
	}
	int rc = open_store(c, 0);
	if (rc)
		return rc;
	uint64_t n = 0;
	if ((rc = vr_store_purge_tag(c->st, tag, &n)))
		return store_fail(c, rc);
	vr_info("purged %" PRIu64 " entries tagged %s", n, tag);
	vr_metrics_int("purged", (int64_t)n);
	return 0;
}

static int cmd_touch(struct ctx *c, struct opts *o, int argc, char **argv)
{
	(void)argc;
	int64_t ttl = (int64_t)o->ttl;
	if (!o->ttl_given) {
		vr_error("missing --ttl SECONDS");
		return vr_usage_hint();
	}
	if (key_too_long(argv[0]))
		return VR_EUSAGE;
	int rc = open_store(c, 0);
	if (rc)
		return rc;
	const char *key = argv[0];
	rc = vr_store_touch(c->st, key, strlen(key), ttl);
	if (rc == VR_ENOTFOUND)
		vr_error("%s: no such key (or expired)", show_key((const unsigned char *)key, strlen(key)));
	else if (rc)
		store_fail(c, rc);
	return rc;
}

static int cmd_gc(struct ctx *c, struct opts *o, int argc, char **argv)
{
	(void)argc, (void)argv;
	int vacuum = o->vacuum, json = o->json;
	int rc = open_store(c, 0);
	if (rc)
		return rc;
	struct vr_gc_report g;
	if ((rc = vr_store_gc(c->st, vacuum, &g)))
		return store_fail(c, rc);
	if (json)
		printf("{\"expired\":%" PRIu64 ",\"abandoned\":%" PRIu64 ",\"stale_locks\":%" PRIu64
		       ",\"orphan_chunks\":%" PRIu64 ",\"vacuumed\":%s}\n",
		       g.expired, g.abandoned, g.stale_locks, g.orphan_chunks,
		       g.vacuumed ? "true" : "false");
	else
		vr_info("gc: %" PRIu64 " expired, %" PRIu64 " abandoned writes, %" PRIu64
			" stale locks, %" PRIu64 " orphan chunks%s",
			g.expired, g.abandoned, g.stale_locks, g.orphan_chunks,
			g.vacuumed ? ", vacuumed" : "");
	return 0;
}

static void report_problem(void *ctx, const char *msg)
{
	(void)ctx;
	vr_error("%s", msg);
}

static int cmd_verify(struct ctx *c, struct opts *o, int argc, char **argv)
{
	(void)o;
	if (argc && key_too_long(argv[0]))
		return VR_EUSAGE;
	int rc = open_store(c, 0);
	if (rc)
		return rc;
	const char *key = argc ? argv[0] : NULL;
	uint64_t checked = 0;
	rc = vr_store_verify(c->st, key, key ? strlen(key) : 0, report_problem, NULL, &checked);
	if (rc == VR_ENOTFOUND)
		vr_error("%s: no such key", show_key((const unsigned char *)key, strlen(key)));
	else if (rc && rc != VR_EIO)
		store_fail(c, rc);
	else if (rc == VR_EIO && !strstr(vr_store_error(c->st), "verification failed"))
		store_fail(c, rc);
	else if (!rc)
		vr_info("%" PRIu64 " entries verified", checked);
	vr_metrics_int("verified", (int64_t)checked);
	return rc;
}

/* ---- the program ---- */

static struct ctx ctx;

/* keyed: the first operand is a KEY, which the metrics line names (also
 * when the command fails) */
#define RUN(name, keyed)                                                                      \
	static int run_##name(void *opts, int argc, char **argv)                              \
	{                                                                                     \
		struct opts *o = opts;                                                        \
		ctx.store_path = o->common.store;                                             \
		if (keyed && argc > 0)                                                        \
			vr_metrics_str("key", show_key((const unsigned char *)argv[0],        \
						       strlen(argv[0])));                     \
		return cmd_##name(&ctx, o, argc, argv);                                       \
	}
RUN(put, 1)
RUN(get, 1)
RUN(stat, 1)
RUN(ls, 0)
RUN(rm, 1)
RUN(purge, 0)
RUN(touch, 1)
RUN(gc, 0)
RUN(verify, 1)
#undef RUN

static void finish(void *opts, int *rc)
{
	(void)opts, (void)rc;
	vr_store_close(ctx.st);
	ctx.st = NULL;
}

static const struct vr_cli_cmd commands[] = {
	{.name = "put", .operands = "KEY [FILE]", .about = "store FILE or stdin under KEY",
	 .min_args = 1, .max_args = 2, .tables = {{put_opts}}, .run = run_put,
	 .complete = VR_CLI_COMPLETE_FILES},
	{.name = "get", .operands = "KEY", .about = "write the entry (or ranges of it) to stdout",
	 .min_args = 1, .max_args = 1, .tables = {{get_opts}}, .run = run_get},
	{.name = "stat", .operands = "KEY", .about = "describe an entry", .min_args = 1,
	 .max_args = 1, .tables = {{stat_opts}}, .run = run_stat},
	{.name = "ls", .operands = "[PREFIX]", .about = "list the entries whose key starts with PREFIX",
	 .min_args = 0, .max_args = 1, .tables = {{ls_opts}}, .run = run_ls},
	{.name = "rm", .operands = "KEY...", .about = "remove entries", .min_args = 1,
	 .max_args = -1, .run = run_rm},
	{.name = "purge", .operands = "--tag TAG", .about = "remove every entry with TAG",
	 .min_args = 0, .max_args = 0, .tables = {{purge_opts}}, .run = run_purge},
	{.name = "touch", .operands = "KEY --ttl SECONDS",
	 .about = "change the expiry only (--ttl 0: never)", .min_args = 1, .max_args = 1,
	 .tables = {{touch_opts}}, .run = run_touch},
	{.name = "gc", .operands = "",
	 .about = "reclaim expired entries, abandoned writes, stale locks", .min_args = 0,
	 .max_args = 0, .tables = {{gc_opts}}, .run = run_gc},
	{.name = "verify", .operands = "[KEY]", .about = "check every chunk's size and SHA-256",
	 .min_args = 0, .max_args = 1, .run = run_verify},
	{0},
};

static const struct vr_cli_prog prog = {
	.name = "vr-chunk",
	.about = "Store streams as chunks in an SQLite file and read any byte range back.",
	.shared = VR_CLI_METRICS | VR_CLI_STORE,
	.cmds = commands,
	.finish = finish,
	.exits = "Exit status: 0 ok, 1 unexpected failure, 2 usage, 3 malformed range, 4 not\n"
		 "satisfiable, 5 no such key, 6 I/O or store failure, 7 lock wait exceeded.",
};

int main(int argc, char **argv)
{
	static struct opts o;
	vr_cli_main(&prog, argc, argv, &o);
}
