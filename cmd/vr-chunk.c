/* vr-chunk: store streams as fixed-size chunks in SQLite and read any byte
 * range back touching only the chunks it needs. */
#include "cli.h"
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
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void usage(void)
{
	printf("Usage: %s [--store FILE] COMMAND [ARGS]\n"
	       "Store streams as chunks in an SQLite file and read any byte range back.\n"
	       "\n"
	       "Commands:\n"
	       "  put KEY [FILE]      store FILE or stdin under KEY\n"
	       "      --content-type T  --ttl SECONDS  --tag TAG (repeatable)\n"
	       "      --chunk-size SIZE (default 1M)  --if-absent  --wait SECONDS (default 30)\n"
	       "  get KEY             write the entry to stdout\n"
	       "      --range R  --multipart[=B]  --headers  --json  --verify  -o FILE\n"
	       "  stat KEY [--json]   describe an entry\n"
	       "  ls [PREFIX] [--json]  list entries\n"
	       "  rm KEY...           remove entries\n"
	       "  purge --tag TAG     remove every entry with TAG\n"
	       "  touch KEY --ttl S   change the expiry only (0: never)\n"
	       "  gc [--vacuum]       reclaim expired entries, abandoned writes, stale locks\n"
	       "  verify [KEY]        check every chunk's size and SHA-256\n"
	       "\n"
	       "Options:\n"
	       "      --store FILE    the store (default $VR_STORE, else\n"
	       "                      $XDG_CACHE_HOME/vr/store.db)\n"
	       "      --metrics FILE  append a JSON metrics line (default $VR_METRICS)\n"
	       "  -q, --quiet         only errors\n"
	       "  -v, --verbose       more detail\n"
	       "  -h, --help          this help\n"
	       "  -V, --version       version\n"
	       "\n"
	       "Exit status: 0 ok, 2 usage, 3 malformed range, 4 not satisfiable, 5 no such\n"
	       "key, 6 I/O or store failure, 7 lock wait exceeded. See vr-chunk(1).\n",
	       vr_prog());
}

struct ctx {
	const char *store_path;
	struct vr_store *st;
	char err[512];
};

/* Only put creates the store; the other commands need an existing one. */
static int open_store(struct ctx *c, int create)
{
	int rc = (create ? vr_store_open : vr_store_open_existing)(&c->st, c->store_path, c->err,
								  sizeof c->err);
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

static int parse_ttl(const char *s, int64_t *out)
{
	double v;
	if (vr_parse_seconds(s, &v) < 0 || v > 1e11) {
		vr_error("--ttl: '%s' is not a duration (seconds, or like 10m, 1h)", s);
		return -1;
	}
	*out = (int64_t)v;
	return 0;
}

/* ---- put ---- */

static int cmd_put(struct ctx *c, int argc, char **argv)
{
	struct vr_put_opts o = {.wait = 30};
	const char *tags[VR_STORE_TAGS_MAX];
	int if_absent = 0;
	uint64_t u;
	enum { O_CT = 256, O_TTL, O_TAG, O_CS, O_IFA, O_WAIT };
	static const struct option lo[] = {
		{"content-type", required_argument, NULL, O_CT},
		{"ttl", required_argument, NULL, O_TTL},
		{"tag", required_argument, NULL, O_TAG},
		{"chunk-size", required_argument, NULL, O_CS},
		{"if-absent", no_argument, NULL, O_IFA},
		{"wait", required_argument, NULL, O_WAIT},
		{NULL, 0, NULL, 0},
	};
	int ch;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case O_CT:
			if (!vr_mime_valid(optarg)) {
				vr_error("--content-type: invalid value (1 to %d printable characters)",
					 VR_MIME_MAX);
				return vr_usage_hint();
			}
			o.content_type = optarg;
			break;
		case O_TTL:
			if (parse_ttl(optarg, &o.ttl) < 0)
				return vr_usage_hint();
			break;
		case O_TAG:
			if (o.ntags == VR_STORE_TAGS_MAX) {
				vr_error("at most %d tags", VR_STORE_TAGS_MAX);
				return vr_usage_hint();
			}
			tags[o.ntags++] = optarg;
			break;
		case O_CS:
			if (vr_parse_size(optarg, &u) < 0 || u < VR_STORE_CHUNK_MIN ||
			    u > VR_STORE_CHUNK_MAX) {
				vr_error("--chunk-size: '%s' must be a size from 4K to 64M", optarg);
				return vr_usage_hint();
			}
			o.chunk_size = (uint32_t)u;
			break;
		case O_IFA: if_absent = o.if_absent = 1; break;
		case O_WAIT:
			if (vr_parse_seconds(optarg, &o.wait) < 0) {
				vr_error("--wait: '%s' is not a duration", optarg);
				return vr_usage_hint();
			}
			break;
		default: return vr_usage_hint();
		}
	}
	o.tags = tags;
	if (optind >= argc || argc - optind > 2) {
		vr_error("put needs KEY and at most one FILE");
		return vr_usage_hint();
	}
	const char *key = argv[optind];
	const char *file = optind + 1 < argc ? argv[optind + 1] : NULL;
	size_t keylen = strlen(key);
	if (key_too_long(key))
		return VR_EUSAGE;
	int in = STDIN_FILENO;
	if (file && strcmp(file, "-")) {
		in = open(file, O_RDONLY | O_CLOEXEC);
		if (in < 0) {
			vr_error("%s: %s", file, strerror(errno));
			return errno == ENOENT ? VR_ENOTFOUND : VR_EIO;
		}
		if (!o.content_type)
			o.content_type = vr_mime_from_path(file);
	}
	int rc = open_store(c, 1);
	if (rc)
		goto out;
	struct vr_entry *e = malloc(sizeof *e);
	if (!e) {
		rc = VR_EFAIL;
		goto out;
	}
	if (if_absent && vr_store_stat(c->st, key, keylen, e) == 0) {
		vr_info("%s is present; not read", show_key((const unsigned char *)key, keylen));
		free(e);
		goto out;
	}
	struct vr_store_writer *w;
	rc = vr_store_writer_begin(c->st, key, keylen, &o, &w);
	if (rc || !w) {
		if (rc)
			store_fail(c, rc);
		else /* --if-absent: published by the writer we waited for */
			vr_info("%s is present; not read", show_key((const unsigned char *)key, keylen));
		free(e);
		goto out;
	}
	vr_stream_opened();
	vr_pipe_grow(in);
	unsigned char *buf = vr_io_buffer();
	for (;;) {
		/* wake up now and then to keep the lock's lease while input is slow */
		struct pollfd p = {.fd = in, .events = POLLIN};
		int pr = poll(&p, 1, 5000);
		if (pr == 0) {
			if ((rc = vr_store_writer_tick(w))) {
				vr_error("%s", vr_store_error(c->st));
				break;
			}
			continue;
		}
		if (pr < 0 && errno != EINTR) {
			rc = VR_EIO;
			break;
		}
		if (vr_stop_requested()) {
			rc = VR_EFAIL;
			break;
		}
		ssize_t n = vr_read_some(in, buf, VR_IO_BUFSIZE);
		if (n < 0) {
			if (vr_stop_requested()) {
				rc = VR_EFAIL;
				break;
			}
			vr_error("reading %s: %s", file ? file : "stdin", strerror(errno));
			rc = VR_EIO;
			break;
		}
		if (n == 0)
			break;
		vr_metrics_bytes_in((uint64_t)n);
		/* the lease is renewed here too: input that trickles in never lets
		 * poll() time out, and may fill no chunk for longer than the lease */
		if ((rc = vr_store_writer_write(w, buf, (size_t)n)) ||
		    (rc = vr_store_writer_tick(w))) {
			vr_error("%s", vr_store_error(c->st));
			break;
		}
	}
	if (!rc && vr_stop_requested())
		rc = VR_EFAIL; /* a signal with the input's end: still nothing stored */
	if (rc) {
		vr_store_writer_abort(w);
		if (rc == VR_EFAIL && vr_stop_requested())
			vr_error("interrupted; nothing stored");
	} else {
		rc = vr_store_writer_commit(w, e);
		if (rc)
			vr_error("%s", vr_store_error(c->st));
		else
			vr_info("stored %s: %" PRIu64 " bytes in %" PRIu64 " chunks",
				show_key(e->key, e->keylen), e->size, e->chunk_count);
	}
	vr_stream_closed();
	free(e);
out:
	if (in != STDIN_FILENO)
		close(in);
	return rc;
}

/* ---- get ---- */

struct get_out {
	int fd;
};

static int emit_fd(void *ctx, const void *buf, size_t n)
{
	struct get_out *g = ctx;
	int r = vr_write_full(g->fd, buf, n);
	if (r == VR_IO_OK)
		vr_metrics_bytes_out(n);
	return r == VR_IO_OK ? 0 : r == VR_IO_EPIPE ? 1 : -1;
}

static int cmd_get(struct ctx *c, int argc, char **argv)
{
	const char *range_text = NULL, *output = NULL;
	int multipart = 0, headers = 0, json = 0, verify = 0;
	char boundary[80] = "";
	enum { O_RANGE = 256, O_MP, O_HEAD, O_JSON, O_VERIFY };
	static const struct option lo[] = {
		{"range", required_argument, NULL, O_RANGE},
		{"multipart", optional_argument, NULL, O_MP},
		{"headers", no_argument, NULL, O_HEAD},
		{"json", no_argument, NULL, O_JSON},
		{"verify", no_argument, NULL, O_VERIFY},
		{"output", required_argument, NULL, 'o'},
		{NULL, 0, NULL, 0},
	};
	int ch;
	while ((ch = getopt_long(argc, argv, "r:o:", lo, NULL)) != -1) {
		switch (ch) {
		case 'r':
		case O_RANGE: range_text = optarg; break;
		case O_MP:
			multipart = 1;
			if (optarg) {
				if (!vr_boundary_valid(optarg)) {
					vr_error("--multipart: '%s' is not a valid boundary", optarg);
					return vr_usage_hint();
				}
				snprintf(boundary, sizeof boundary, "%s", optarg);
			}
			break;
		case O_HEAD: headers = 1; break;
		case O_JSON: json = 1; break;
		case O_VERIFY: verify = 1; break;
		case 'o': output = optarg; break;
		default: return vr_usage_hint();
		}
	}
	if (argc - optind != 1) {
		vr_error("get needs exactly one KEY");
		return vr_usage_hint();
	}
	if (multipart && !boundary[0])
		vr_response_boundary(boundary, sizeof boundary);
	const char *key = argv[optind];
	size_t keylen = strlen(key);
	if (key_too_long(key))
		return VR_EUSAGE;
	struct vr_range_set *set = NULL;
	struct vr_entry *e = malloc(sizeof *e);
	struct vr_response *r = malloc(sizeof *r);
	char err[512];
	int rc = 0, reading = 0, out_open = 0;
	struct vr_output out;
	if (!e || !r) {
		rc = VR_EFAIL;
		goto done;
	}
	if (range_text && range_text[strspn(range_text, " \t")]) {
		set = malloc(sizeof *set);
		if (!set) {
			rc = VR_EFAIL;
			goto done;
		}
		if (vr_range_parse(range_text, set, err, sizeof err) != VR_RANGE_OK) {
			vr_error("%s", err);
			rc = VR_EDATA;
			goto done;
		}
	}
	if ((rc = open_store(c, 0)))
		goto done;
	rc = vr_store_read_begin(c->st, key, keylen, e);
	if (rc) {
		if (rc == VR_ENOTFOUND)
			vr_error("%s: no such key (or expired)", show_key((const unsigned char *)key, keylen));
		else
			store_fail(c, rc);
		goto done;
	}
	reading = 1;
	if (vr_response_plan(r, set, e->size, multipart, e->content_type, boundary) != VR_RANGE_OK) {
		vr_response_print(r, headers, json);
		vr_error("range %s not satisfiable: the entry has %" PRIu64
			 " bytes (Content-Range: bytes */%" PRIu64 ")",
			 range_text, e->size, e->size);
		rc = VR_ERANGE;
		goto done;
	}
	vr_response_print(r, headers, json);
	if ((rc = vr_output_open(&out, output)))
		goto done;
	out_open = 1;
	vr_pipe_grow(out.fd);
	vr_stream_opened();
	struct get_out g = {out.fd};
	char head[512];
	for (size_t i = 0; i < r->n && !rc; i++) {
		if (r->multipart) {
			int hl = vr_multipart_head(head, sizeof head, boundary, r->content_type,
						   &r->spans[i], r->total);
			int er = emit_fd(&g, head, (size_t)hl);
			if (er < 0) {
				vr_error("writing output: %s", strerror(errno));
				rc = VR_EIO;
			}
			if (er)
				break;
		}
		int s = vr_store_read_span(c->st, e, r->spans[i].start, r->spans[i].end, verify,
					   emit_fd, &g);
		if (s == 1) /* EPIPE: a quiet end */
			break;
		if (s < 0) {
			vr_error("writing output: %s", strerror(errno));
			rc = VR_EIO;
		} else if (s) {
			rc = store_fail(c, s);
		}
	}
	if (!rc && r->multipart) {
		int tl = vr_multipart_tail(head, sizeof head, boundary);
		if (emit_fd(&g, head, (size_t)tl) < 0)
			rc = VR_EIO;
	}
	vr_stream_closed();
done:
	if (out_open) {
		if (rc == VR_OK)
			rc = vr_output_commit(&out);
		else
			vr_output_abort(&out);
	}
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
		vr_json_str(&j, "tags", e->tags);
		vr_json_str(&j, "state", e->state);
		vr_json_end(&j);
		printf("{\"key\":\"%s\",\"key_hex\":\"%s\",%s\n", esc, hex, j.buf + 1);
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

static int parse_json_flag(int argc, char **argv, int *json)
{
	static const struct option lo[] = {{"json", no_argument, NULL, 'j'}, {NULL, 0, NULL, 0}};
	int ch;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (ch != 'j')
			return vr_usage_hint();
		*json = 1;
	}
	return 0;
}

static int cmd_stat(struct ctx *c, int argc, char **argv)
{
	int json = 0;
	if (parse_json_flag(argc, argv, &json))
		return VR_EUSAGE;
	if (argc - optind != 1) {
		vr_error("stat needs exactly one KEY");
		return vr_usage_hint();
	}
	if (key_too_long(argv[optind]))
		return VR_EUSAGE;
	int rc = open_store(c, 0);
	if (rc)
		return rc;
	struct vr_entry *e = malloc(sizeof *e);
	if (!e)
		return VR_EFAIL;
	const char *key = argv[optind];
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

static int cmd_ls(struct ctx *c, int argc, char **argv)
{
	int json = 0;
	if (parse_json_flag(argc, argv, &json))
		return VR_EUSAGE;
	if (argc - optind > 1) {
		vr_error("ls takes at most one PREFIX");
		return vr_usage_hint();
	}
	const char *prefix = optind < argc ? argv[optind] : "";
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

static int no_options(int argc, char **argv)
{
	static const struct option lo[] = {{NULL, 0, NULL, 0}};
	if (getopt_long(argc, argv, "", lo, NULL) != -1)
		return vr_usage_hint();
	return 0;
}

static int cmd_rm(struct ctx *c, int argc, char **argv)
{
	if (no_options(argc, argv))
		return VR_EUSAGE;
	if (optind >= argc) {
		vr_error("rm needs at least one KEY");
		return vr_usage_hint();
	}
	for (int i = optind; i < argc; i++)
		if (key_too_long(argv[i]))
			return VR_EUSAGE;
	int rc = open_store(c, 0), worst = 0;
	if (rc)
		return rc;
	for (int i = optind; i < argc; i++) {
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

static int cmd_purge(struct ctx *c, int argc, char **argv)
{
	const char *tag = NULL;
	static const struct option lo[] = {{"tag", required_argument, NULL, 't'},
					   {NULL, 0, NULL, 0}};
	int ch;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (ch != 't')
			return vr_usage_hint();
		tag = optarg;
	}
	if (!tag || optind != argc) {
		vr_error("purge needs --tag TAG");
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

static int cmd_touch(struct ctx *c, int argc, char **argv)
{
	int64_t ttl = -1;
	static const struct option lo[] = {{"ttl", required_argument, NULL, 't'},
					   {NULL, 0, NULL, 0}};
	int ch;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (ch != 't' || parse_ttl(optarg, &ttl) < 0)
			return vr_usage_hint();
	}
	if (ttl < 0 || argc - optind != 1) {
		vr_error("touch needs KEY and --ttl SECONDS");
		return vr_usage_hint();
	}
	if (key_too_long(argv[optind]))
		return VR_EUSAGE;
	int rc = open_store(c, 0);
	if (rc)
		return rc;
	const char *key = argv[optind];
	rc = vr_store_touch(c->st, key, strlen(key), ttl);
	if (rc == VR_ENOTFOUND)
		vr_error("%s: no such key (or expired)", show_key((const unsigned char *)key, strlen(key)));
	else if (rc)
		store_fail(c, rc);
	return rc;
}

static int cmd_gc(struct ctx *c, int argc, char **argv)
{
	int vacuum = 0, json = 0;
	static const struct option lo[] = {{"vacuum", no_argument, NULL, 'V'},
					   {"json", no_argument, NULL, 'j'},
					   {NULL, 0, NULL, 0}};
	int ch;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (ch == 'V')
			vacuum = 1;
		else if (ch == 'j')
			json = 1;
		else
			return vr_usage_hint();
	}
	if (optind != argc)
		return vr_usage_hint();
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

static int cmd_verify(struct ctx *c, int argc, char **argv)
{
	if (no_options(argc, argv))
		return VR_EUSAGE;
	if (argc - optind > 1) {
		vr_error("verify takes at most one KEY");
		return vr_usage_hint();
	}
	if (optind < argc && key_too_long(argv[optind]))
		return VR_EUSAGE;
	int rc = open_store(c, 0);
	if (rc)
		return rc;
	const char *key = optind < argc ? argv[optind] : NULL;
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

static const struct {
	const char *name;
	int (*fn)(struct ctx *, int, char **);
} commands[] = {
	{"put", cmd_put},     {"get", cmd_get},     {"stat", cmd_stat},
	{"ls", cmd_ls},       {"rm", cmd_rm},       {"purge", cmd_purge},
	{"touch", cmd_touch}, {"gc", cmd_gc},       {"verify", cmd_verify},
};

int main(int argc, char **argv)
{
	vr_log_init(argv[0]);
	vr_lifecycle_init();
	struct ctx c = {0};
	const char *metrics = NULL;
	enum { O_STORE = 256, O_METRICS };
	static const struct option lo[] = {
		{"store", required_argument, NULL, O_STORE},
		{"metrics", required_argument, NULL, O_METRICS},
		{"quiet", no_argument, NULL, 'q'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int ch;
	/* "+": stop at the command, whose own options follow it */
	while ((ch = getopt_long(argc, argv, "+qvhV", lo, NULL)) != -1) {
		switch (ch) {
		case O_STORE: c.store_path = optarg; break;
		case O_METRICS: metrics = optarg; break;
		case 'q': vr_log_set_verbosity(VR_QUIET); break;
		case 'v': vr_log_set_verbosity(vr_log_verbosity() + 1); break;
		case 'h': usage(); return VR_OK;
		case 'V': vr_print_version(); return VR_OK;
		default: return vr_usage_hint();
		}
	}
	if (optind >= argc) {
		vr_error("missing COMMAND");
		return vr_usage_hint();
	}
	const char *name = argv[optind];
	int (*fn)(struct ctx *, int, char **) = NULL;
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (!strcmp(commands[i].name, name))
			fn = commands[i].fn;
	if (!fn) {
		vr_error("unknown command '%s'", name);
		return vr_usage_hint();
	}
	int sub_argc = argc - optind;
	char **sub_argv = argv + optind;
	optind = 0; /* glibc: 0 re-initialises getopt for the command's options */
	vr_metrics_start("vr-chunk", metrics);
	vr_metrics_str("command", name);
	int rc = fn(&c, sub_argc, sub_argv);
	vr_store_close(c.st);
	vr_metrics_finish(rc);
	vr_exit(rc);
}
