#include "store.h"
#include "crc32c.h"
#include "lifecycle.h"
#include "log.h"
#include "status.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define APP_ID 0x76720001 /* "vr" 1: marks a file as a vr store */
#define PIECE (256u << 10) /* incremental blob I/O step */
/* Writers of chunks up to this size keep two chunk buffers (see flush_chunk) */
#define PIPELINE_MAX (4u << 20)
#define BUSY_GIVE_UP_MS (10 * 60 * 1000)

struct vr_store {
	sqlite3 *db;
	char path[PATH_MAX];
	char err[512];
	char owner[320];  /* host:pid:start#n: this process, this handle */
	char host[256];
	int in_read;
	unsigned char *piece;
	unsigned char *whole; /* one chunk, for the one-pass read (ONE_PASS_MAX) */
	size_t whole_size;
};

/* A chunk's SHA-256, computed on a thread of its own: libavutil's SHA-256
 * runs at about 0.4 GB/s, slower than everything else a put does, so it
 * overlaps with reading the next chunk and inserting this one. */
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

static const char *schema_v1[] = {
	"CREATE TABLE entries("
	" id INTEGER PRIMARY KEY,"
	" key BLOB NOT NULL,"
	" state TEXT NOT NULL CHECK (state IN ('writing','ready')),"
	" size INTEGER NOT NULL DEFAULT 0,"
	" chunk_size INTEGER NOT NULL,"
	" chunk_count INTEGER NOT NULL DEFAULT 0,"
	" content_type TEXT NOT NULL DEFAULT 'application/octet-stream',"
	" sha256 TEXT,"
	" created INTEGER NOT NULL,"
	" expires INTEGER,"
	" writer TEXT)",
	"CREATE UNIQUE INDEX entries_ready ON entries(key) WHERE state = 'ready'",
	"CREATE INDEX entries_state ON entries(state, expires)",
	"CREATE TABLE chunks("
	" id INTEGER PRIMARY KEY,"
	" entry INTEGER NOT NULL,"
	" idx INTEGER NOT NULL,"
	" size INTEGER NOT NULL,"
	" crc32c INTEGER NOT NULL,"
	" sha256 BLOB NOT NULL,"
	" data BLOB NOT NULL,"
	" UNIQUE (entry, idx))",
	"CREATE TABLE tags("
	" entry INTEGER NOT NULL,"
	" tag TEXT NOT NULL,"
	" PRIMARY KEY (tag, entry)) WITHOUT ROWID",
	"CREATE INDEX tags_entry ON tags(entry)",
	"CREATE TABLE locks("
	" key BLOB PRIMARY KEY,"
	" owner TEXT NOT NULL,"
	" pid INTEGER NOT NULL,"
	" host TEXT NOT NULL,"
	" acquired INTEGER NOT NULL,"
	" expires INTEGER NOT NULL)",
	NULL,
};

/* Version 2 (vr-cache): the version of each source, bumped by invalidate
 * so that every key built from it changes, and remembered failures. */
static const char *schema_v2[] = {
	"CREATE TABLE sources("
	" source TEXT PRIMARY KEY,"
	" version INTEGER NOT NULL) WITHOUT ROWID",
	"CREATE TABLE negative("
	" key BLOB PRIMARY KEY,"
	" status INTEGER NOT NULL,"
	" message TEXT NOT NULL,"
	" expires INTEGER NOT NULL)",
	NULL,
};

/* Migrations: migrations[v] brings a store from user_version v to v+1. */
static const char **migrations[VR_STORE_SCHEMA] = {schema_v1, schema_v2};

static int fail(struct vr_store *st, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(struct vr_store *st, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(st->err, sizeof st->err, fmt, ap);
	va_end(ap);
	return code;
}

/* A SQLite failure as a vr_status: busy past the give-up time is a timeout,
 * everything else a store failure. */
static int db_fail(struct vr_store *st, const char *what)
{
	int rc = sqlite3_errcode(st->db);
	const char *msg = sqlite3_errmsg(st->db);
	if (rc == SQLITE_NOTADB)
		return fail(st, VR_EIO, "%s: not a vr store (%s)", st->path, msg);
	if (rc == SQLITE_CORRUPT)
		return fail(st, VR_EIO, "%s: store is corrupt (%s)", st->path, msg);
	if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
		return fail(st, VR_ETIMEOUT, "%s: store stayed busy for %d s during %s", st->path,
			    BUSY_GIVE_UP_MS / 1000, what);
	if (rc == SQLITE_FULL)
		return fail(st, VR_EIO, "%s: disk full during %s", st->path, what);
	return fail(st, VR_EIO, "%s: %s: %s", st->path, what, msg);
}

/* Waits out other connections' locks with a growing sleep; gives up only
 * after BUSY_GIVE_UP_MS or when a signal asks us to stop. */
static int on_busy(void *arg, int count)
{
	(void)arg;
	if (vr_stop_requested())
		return 0;
	int ms = count < 10 ? 1 << (count / 2) : 20;
	static __thread long waited;
	if (count == 0)
		waited = 0;
	waited += ms;
	if (waited > BUSY_GIVE_UP_MS)
		return 0;
	struct timespec ts = {0, ms * 1000000L};
	nanosleep(&ts, NULL);
	return 1;
}

static int exec(struct vr_store *st, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		sqlite3_free(msg);
		return db_fail(st, sql);
	}
	return 0;
}

static sqlite3_stmt *prepare(struct vr_store *st, const char *sql)
{
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
		db_fail(st, "prepare");
		return NULL;
	}
	return s;
}

static int begin_write(struct vr_store *st) { return exec(st, "BEGIN IMMEDIATE"); }
static int commit(struct vr_store *st) { return exec(st, "COMMIT"); }
static void rollback(struct vr_store *st)
{
	if (!sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

/* "start" of a process from /proc/PID/stat (field 22), 0 when unknown:
 * with the pid it tells a live lock owner from a reused pid. */
static unsigned long long proc_start(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	if (!p)
		return 0;
	unsigned long long start = 0;
	/* after ") " come fields 3.. ; starttime is field 22 */
	int field = 2;
	for (char *tok = strtok(p + 1, " "); tok; tok = strtok(NULL, " ")) {
		if (++field == 22) {
			start = strtoull(tok, NULL, 10);
			break;
		}
	}
	return start;
}

static int make_parent_dirs(const char *path)
{
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof tmp, "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return 0;
}

/* The schema facts migrate() decides on. */
static int read_schema(struct vr_store *st, int *version, int *objects, int *app)
{
	sqlite3_stmt *s = prepare(st, "SELECT (SELECT user_version FROM pragma_user_version),"
				      " (SELECT count(*) FROM sqlite_master),"
				      " (SELECT application_id FROM pragma_application_id)");
	if (!s)
		return VR_EIO;
	int step = sqlite3_step(s);
	if (step == SQLITE_ROW) {
		*version = sqlite3_column_int(s, 0);
		*objects = sqlite3_column_int(s, 1);
		*app = sqlite3_column_int(s, 2);
	}
	int rc = step == SQLITE_ROW ? 0 : db_fail(st, "reading the schema");
	sqlite3_finalize(s);
	return rc;
}

/* Someone else's database, whatever its user_version, or a newer vr's:
 * refuse it. Every vr store carries APP_ID, set with its first schema. */
static int schema_refused(struct vr_store *st, int version, int objects, int app)
{
	if (objects > 0 && app != APP_ID)
		return fail(st, VR_EIO, "%s: an SQLite database, but not a vr store", st->path);
	if (version > VR_STORE_SCHEMA)
		return fail(st, VR_EIO, "%s: store schema version %d is newer than this vr (%d)",
			    st->path, version, VR_STORE_SCHEMA);
	return 0;
}

static int migrate(struct vr_store *st)
{
	/* A current store needs no write lock: readers then never wait here
	 * for a writer's chunk transaction, and a read-only store can be read. */
	int version = 0, objects = 0, app = 0;
	int rc = read_schema(st, &version, &objects, &app);
	if (!rc)
		rc = schema_refused(st, version, objects, app);
	if (rc || version == VR_STORE_SCHEMA)
		return rc;
	if ((rc = begin_write(st)))
		return rc;
	/* again under the write lock: another process may have just migrated */
	if ((rc = read_schema(st, &version, &objects, &app)) ||
	    (rc = schema_refused(st, version, objects, app))) {
		rollback(st);
		return rc;
	}
	for (int v = version; v < VR_STORE_SCHEMA; v++) {
		for (const char **sql = migrations[v]; *sql; sql++)
			if ((rc = exec(st, *sql))) {
				rollback(st);
				return rc;
			}
	}
	if (version < VR_STORE_SCHEMA) {
		char sql[96];
		snprintf(sql, sizeof sql, "PRAGMA user_version = %d", VR_STORE_SCHEMA);
		if ((rc = exec(st, sql)) || (rc = exec(st, "PRAGMA application_id = 1987182593"))) {
			rollback(st);
			return rc;
		}
	}
	return commit(st);
}

static int store_open(struct vr_store **out, const char *path, int create, char *err,
		      size_t errlen);

int vr_store_open(struct vr_store **out, const char *path, char *err, size_t errlen)
{
	return store_open(out, path, 1, err, errlen);
}

int vr_store_open_existing(struct vr_store **out, const char *path, char *err, size_t errlen)
{
	return store_open(out, path, 0, err, errlen);
}

/* SQLite's page cache in one block whose pages are populated at once
 * (MAP_POPULATE): left to malloc, each 64 KiB cache page is faulted in 4 KiB
 * at a time on first use, and in some VMs a fault costs tens of
 * microseconds, most of the time of a small ranged read. The block holds
 * the cache_size set in store_open (2 MiB) plus room to spill; beyond it
 * SQLite falls back to malloc. Process-wide, set before SQLite starts. */
#define PAGECACHE_SLOTS 40
static pthread_once_t pagecache_once = PTHREAD_ONCE_INIT;

/* len bytes of zeroed memory whose pages are all present (MAP_POPULATE);
 * NULL when there is none. Free with munmap(p, len). */
static void *map_populated(size_t len)
{
	void *b = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
		       -1, 0);
	return b == MAP_FAILED ? NULL : b;
}

static void pagecache_setup(void)
{
	int hdr = 0;
	if (sqlite3_config(SQLITE_CONFIG_PCACHE_HDRSZ, &hdr) != SQLITE_OK || hdr <= 0)
		return;
	size_t slot = (65536 + (size_t)hdr + 15) / 16 * 16;
	size_t len = slot * PAGECACHE_SLOTS;
	void *b = map_populated(len);
	if (!b)
		return;
	/* refused when SQLite is already initialised: then it keeps malloc */
	if (sqlite3_config(SQLITE_CONFIG_PAGECACHE, b, (int)slot, PAGECACHE_SLOTS) != SQLITE_OK)
		munmap(b, len);
}

static int store_open(struct vr_store **out, const char *path, int create, char *err,
		      size_t errlen)
{
	*out = NULL;
	pthread_once(&pagecache_once, pagecache_setup);
	struct vr_store *st = calloc(1, sizeof *st);
	if (!st) {
		snprintf(err, errlen, "out of memory");
		return VR_EFAIL;
	}
	if (!path || !*path) {
		const char *env = getenv("VR_STORE"), *xdg = getenv("XDG_CACHE_HOME"),
			   *home = getenv("HOME");
		if (env && *env)
			snprintf(st->path, sizeof st->path, "%s", env);
		else if (xdg && *xdg)
			snprintf(st->path, sizeof st->path, "%s/vr/store.db", xdg);
		else
			snprintf(st->path, sizeof st->path, "%s/.cache/vr/store.db",
				 home && *home ? home : ".");
	} else {
		snprintf(st->path, sizeof st->path, "%s", path);
	}
	/* an empty file is no store yet either: SQLite would make it one */
	struct stat sb;
	if (!create && (stat(st->path, &sb) < 0 || (S_ISREG(sb.st_mode) && sb.st_size == 0))) {
		snprintf(err, errlen, "no store at %s (the first put creates it)", st->path);
		free(st);
		return VR_ENOTFOUND;
	}
	if (create && make_parent_dirs(st->path) < 0) {
		snprintf(err, errlen, "cannot create the folder of %s: %s", st->path, strerror(errno));
		free(st);
		return VR_EIO;
	}
	gethostname(st->host, sizeof st->host - 1);
	/* host:pid:start names the process (owner_alive() reads the start up
	 * to the '#'); #n tells this process's handles apart, so that two
	 * writers in one process never take each other's lock or generation
	 * for their own */
	static unsigned handles;
	snprintf(st->owner, sizeof st->owner, "%s:%d:%llu#%u", st->host, (int)getpid(),
		 proc_start(getpid()), __atomic_add_fetch(&handles, 1, __ATOMIC_RELAXED));
	st->piece = malloc(PIECE);
	int rc = VR_OK;
	if (!st->piece) {
		rc = fail(st, VR_EFAIL, "out of memory");
		goto out;
	}
	if (sqlite3_open_v2(st->path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
			    NULL) != SQLITE_OK) {
		rc = st->db ? db_fail(st, "open") : fail(st, VR_EFAIL, "out of memory");
		goto out;
	}
	sqlite3_extended_result_codes(st->db, 0);
	sqlite3_busy_handler(st->db, on_busy, st);
	/* Large pages keep a chunk's overflow chain short; they only take
	 * effect on a new file. */
	if ((rc = exec(st, "PRAGMA page_size = 65536")) ||
	    (rc = exec(st, "PRAGMA journal_mode = WAL")) ||
	    (rc = exec(st, "PRAGMA synchronous = NORMAL")) ||
	    (rc = exec(st, "PRAGMA cache_size = -2048")) ||
	    (rc = exec(st, "PRAGMA journal_size_limit = 67108864")) ||
	    /* Debian builds SQLite with secure_delete on, which rewrites every
	     * freed page with zeros: dropping a 1 GiB entry wrote 1 GiB more.
	     * FAST still clears freed cells in pages written anyway. */
	    (rc = exec(st, "PRAGMA secure_delete = FAST")) ||
	    (rc = exec(st, "PRAGMA foreign_keys = OFF")))
		goto out;
	rc = migrate(st);
out:
	if (rc) {
		snprintf(err, errlen, "%s", st->err);
		vr_store_close(st);
		return rc;
	}
	*out = st;
	return VR_OK;
}

void vr_store_close(struct vr_store *st)
{
	if (!st)
		return;
	if (st->db)
		sqlite3_close_v2(st->db);
	free(st->piece);
	if (st->whole)
		munmap(st->whole, st->whole_size);
	free(st);
}

const char *vr_store_path(const struct vr_store *st) { return st->path; }
const char *vr_store_error(const struct vr_store *st) { return st->err; }

/* ---- locks ---- */

/* Is the holder of a lock still there? Only a holder on this host can be
 * checked; others count as alive until their lease expires. */
static int owner_alive(struct vr_store *st, const char *owner, int pid, const char *host)
{
	if (strcmp(host, st->host))
		return 1;
	if (kill(pid, 0) < 0 && errno == ESRCH)
		return 0;
	unsigned long long start = proc_start(pid);
	const char *last = strrchr(owner, ':');
	if (start && last && strtoull(last + 1, NULL, 10) != start)
		return 0; /* the pid was reused */
	return 1;
}

/* One attempt: 1 acquired, 0 held by a live owner, <0 error. */
static int lock_try(struct vr_store *st, const void *key, size_t keylen)
{
	int rc = begin_write(st);
	if (rc)
		return -rc;
	time_t now = time(NULL);
	sqlite3_stmt *s = prepare(st, "SELECT owner, pid, host, expires FROM locks WHERE key = ?");
	if (!s) {
		rollback(st);
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
		held = expires > now && owner_alive(st, owner ? owner : "", pid, host ? host : "");
		if (!held)
			vr_info("taking over the stale lock of %s", owner ? owner : "?");
	} else if (step != SQLITE_DONE) {
		sqlite3_finalize(s);
		rc = db_fail(st, "reading a lock");
		rollback(st);
		return -rc;
	}
	sqlite3_finalize(s);
	if (held) {
		rollback(st);
		return 0;
	}
	s = prepare(st, "INSERT OR REPLACE INTO locks(key, owner, pid, host, acquired, expires)"
			" VALUES (?, ?, ?, ?, ?, ?)");
	if (!s) {
		rollback(st);
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
		rc = db_fail(st, "taking a lock");
		rollback(st);
		return -rc;
	}
	rc = commit(st);
	return rc ? -rc : 1;
}

static int lock_acquire(struct vr_store *st, const void *key, size_t keylen, double wait)
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
			return fail(st, VR_ETIMEOUT,
				    "another writer holds the key (waited %.1f s; see --wait)", waited);
		if (vr_stop_requested())
			return fail(st, VR_EFAIL, "interrupted while waiting for a lock");
		double left_ms = (wait - waited) * 1000;
		long ms = sleep_ms < left_ms ? sleep_ms : (long)left_ms + 1;
		struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
		nanosleep(&ts, NULL);
		if (sleep_ms < 200)
			sleep_ms *= 2;
	}
}

/* Inside a write transaction: is the lock still ours? */
static int lock_is_mine(struct vr_store *st, const void *key, size_t keylen)
{
	sqlite3_stmt *s = prepare(st, "SELECT owner FROM locks WHERE key = ?");
	if (!s)
		return 0;
	sqlite3_bind_blob(s, 1, key, (int)keylen, SQLITE_STATIC);
	int mine = sqlite3_step(s) == SQLITE_ROW &&
		   !strcmp((const char *)sqlite3_column_text(s, 0), st->owner);
	sqlite3_finalize(s);
	return mine;
}

static void lock_release(struct vr_store *st, const void *key, size_t keylen)
{
	sqlite3_stmt *s = prepare(st, "DELETE FROM locks WHERE key = ? AND owner = ?");
	if (!s)
		return;
	sqlite3_bind_blob(s, 1, key, (int)keylen, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, st->owner, -1, SQLITE_STATIC);
	sqlite3_step(s);
	sqlite3_finalize(s);
}

/* ---- writing ---- */

static int lookup(struct vr_store *st, const void *key, size_t keylen, struct vr_entry *e);

/* Delete one generation's chunks, tags and manifest (inside a transaction). */
static int drop_entry(struct vr_store *st, int64_t id)
{
	static const char *sql[] = {
		"DELETE FROM chunks WHERE entry = ?",
		"DELETE FROM tags WHERE entry = ?",
		"DELETE FROM entries WHERE id = ?",
	};
	for (size_t i = 0; i < 3; i++) {
		sqlite3_stmt *s = prepare(st, sql[i]);
		if (!s)
			return VR_EIO;
		sqlite3_bind_int64(s, 1, id);
		int step = sqlite3_step(s);
		sqlite3_finalize(s);
		if (step != SQLITE_DONE)
			return db_fail(st, "deleting an entry");
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
		return fail(st, VR_EUSAGE, "key longer than %d bytes", VR_STORE_KEY_MAX);
	uint32_t cs = o->chunk_size ? o->chunk_size : VR_STORE_CHUNK_DEFAULT;
	if (cs < VR_STORE_CHUNK_MIN || cs > VR_STORE_CHUNK_MAX)
		return fail(st, VR_EUSAGE, "chunk size must be between %uK and %uM",
			    VR_STORE_CHUNK_MIN >> 10, VR_STORE_CHUNK_MAX >> 20);
	struct vr_store_writer *w = calloc(1, sizeof *w);
	if (!w)
		return fail(st, VR_EFAIL, "out of memory");
	w->st = st;
	memcpy(w->key, key, keylen);
	w->keylen = keylen;
	w->chunk_size = cs;
	w->ttl = o->ttl;
	snprintf(w->content_type, sizeof w->content_type, "%s",
		 o->content_type ? o->content_type : "application/octet-stream");
	if (o->ntags > VR_STORE_TAGS_MAX) {
		writer_free(w);
		return fail(st, VR_EUSAGE, "at most %d tags", VR_STORE_TAGS_MAX);
	}
	for (size_t i = 0; i < o->ntags; i++) {
		if (strlen(o->tags[i]) > VR_STORE_TAG_MAX || !o->tags[i][0]) {
			writer_free(w);
			return fail(st, VR_EUSAGE, "a tag must have 1 to %d bytes", VR_STORE_TAG_MAX);
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
			return fail(st, VR_EFAIL, "out of memory for a %u-byte chunk", cs);
		}
		if (!(w->jobs[i]->d = vr_digest_new())) {
			writer_free(w);
			return fail(st, VR_EFAIL, "cannot set up SHA-256 (is libavutil installed?)");
		}
	}
	w->buf = w->bufs[0];
	w->list_digest = vr_digest_new();
	if (!w->list_digest) {
		writer_free(w);
		return fail(st, VR_EFAIL, "cannot set up SHA-256 (is libavutil installed?)");
	}
	int rc = lock_acquire(st, key, keylen, o->wait);
	if (rc) {
		writer_free(w);
		return rc;
	}
	if (o->if_absent) {
		/* the writer we waited for may have published the key */
		struct vr_entry *e = malloc(sizeof *e);
		rc = e ? lookup(st, key, keylen, e) : fail(st, VR_EFAIL, "out of memory");
		free(e);
		if (rc != VR_ENOTFOUND) {
			lock_release(st, key, keylen);
			writer_free(w);
			return rc; /* 0: present, nothing to write */
		}
	}
	w->lease_renewed = time(NULL);
	/* the new generation, invisible until published */
	rc = begin_write(st);
	if (!rc) {
		sqlite3_stmt *s = prepare(st, "INSERT INTO entries(key, state, chunk_size, content_type,"
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
			rc = db_fail(st, "creating an entry");
			rollback(st);
		} else {
			w->gen = sqlite3_last_insert_rowid(st->db);
			rc = commit(st);
		}
	}
	if (rc) {
		lock_release(st, key, keylen);
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
	sqlite3_stmt *s = prepare(st, "UPDATE locks SET expires = ? WHERE key = ? AND owner = ?");
	if (!s)
		return VR_EIO;
	sqlite3_bind_int64(s, 1, now + VR_STORE_LEASE_S);
	sqlite3_bind_blob(s, 2, w->key, (int)w->keylen, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, st->owner, -1, SQLITE_STATIC);
	int step = sqlite3_step(s);
	sqlite3_finalize(s);
	if (step != SQLITE_DONE)
		return db_fail(st, "renewing a lock");
	if (sqlite3_changes(st->db) == 0)
		return fail(st, VR_ETIMEOUT, "lost the key's lock to another writer (lease expired)");
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
	sqlite3_stmt *s = prepare(st, "SELECT 1 FROM entries WHERE id = ? AND state = 'writing'"
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
	db_fail(st, "checking a generation");
	return -1;
}


/* Write n bytes from buf into column col of chunk row rowid, in pieces. */
static int blob_fill(struct vr_store *st, int64_t rowid, const char *col,
		     const unsigned char *buf, size_t n)
{
	sqlite3_blob *b;
	if (sqlite3_blob_open(st->db, "main", "chunks", col, rowid, 1, &b) != SQLITE_OK)
		return db_fail(st, "opening a chunk for writing");
	int rc = 0;
	for (size_t off = 0; off < n && !rc;) {
		size_t step = n - off < PIECE ? n - off : PIECE;
		if (sqlite3_blob_write(b, buf + off, (int)step, (int)off) != SQLITE_OK)
			rc = db_fail(st, "writing a chunk");
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
	int rc = begin_write(st);
	int64_t rowid = 0;
	if (!rc) {
		int mine = generation_is_mine(w);
		if (mine == 0)
			rc = fail(st, VR_ETIMEOUT, "lost the key's lock to another writer (lease "
				  "expired and the unfinished write was reclaimed)");
		else if (mine < 0)
			rc = VR_EIO;
	}
	if (!rc) {
		sqlite3_stmt *s = prepare(st, "INSERT INTO chunks(entry, idx, size, crc32c, sha256, data)"
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
			rc = db_fail(st, "inserting a chunk");
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
		rc = commit(st);
	if (rc) {
		hash_wait(job);
		w->pending = 0;
		rollback(st);
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

static void fill_entry_from_row(sqlite3_stmt *s, struct vr_entry *e);

int vr_store_writer_commit(struct vr_store_writer *w, struct vr_entry *published)
{
	struct vr_store *st = w->st;
	int rc = 0;
	if (w->fill > 0 && (rc = flush_chunk(w))) {
		vr_store_writer_abort(w);
		return rc;
	}
	if ((rc = begin_write(st))) {
		vr_store_writer_abort(w);
		return rc;
	}
	if ((rc = finish_pending(w))) /* the last chunk's digest */
		goto fail;
	uint8_t digest[VR_DIGEST_LEN];
	char hex[2 * VR_DIGEST_LEN + 1];
	vr_digest_final(w->list_digest, digest);
	vr_digest_hex(digest, hex);
	if (!lock_is_mine(st, w->key, w->keylen)) {
		rollback(st);
		rc = fail(st, VR_ETIMEOUT, "lost the key's lock to another writer before publishing");
		vr_store_writer_abort(w);
		return rc;
	}
	/* drop the previous generation, then publish this one */
	sqlite3_stmt *s = prepare(st, "SELECT id FROM entries WHERE key = ? AND state = 'ready'");
	int64_t old = 0;
	if (s) {
		sqlite3_bind_blob(s, 1, w->key, (int)w->keylen, SQLITE_STATIC);
		if (sqlite3_step(s) == SQLITE_ROW)
			old = sqlite3_column_int64(s, 0);
		sqlite3_finalize(s);
	}
	if (old && (rc = drop_entry(st, old)))
		goto fail;
	time_t now = time(NULL);
	s = prepare(st, "UPDATE entries SET state = 'ready', size = ?, chunk_count = ?, sha256 = ?,"
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
		rc = db_fail(st, "publishing an entry");
		goto fail;
	}
	if (sqlite3_changes(st->db) != 1) {
		rc = fail(st, VR_ETIMEOUT, "lost the key's lock to another writer before publishing");
		goto fail;
	}
	for (size_t i = 0; i < w->ntags; i++) {
		s = prepare(st, "INSERT OR IGNORE INTO tags(entry, tag) VALUES (?, ?)");
		if (!s) {
			rc = VR_EIO;
			goto fail;
		}
		sqlite3_bind_int64(s, 1, w->gen);
		sqlite3_bind_text(s, 2, w->tags[i], -1, SQLITE_STATIC);
		step = sqlite3_step(s);
		sqlite3_finalize(s);
		if (step != SQLITE_DONE) {
			rc = db_fail(st, "tagging an entry");
			goto fail;
		}
	}
	lock_release(st, w->key, w->keylen);
	if ((rc = commit(st)))
		goto fail;
	if (published)
		vr_store_stat(st, w->key, w->keylen, published);
	writer_free(w);
	return 0;
fail:
	rollback(st);
	vr_store_writer_abort(w);
	return rc;
}

void vr_store_writer_abort(struct vr_store_writer *w)
{
	if (!w)
		return;
	struct vr_store *st = w->st;
	char saved[sizeof st->err];
	memcpy(saved, st->err, sizeof saved); /* keep the first failure's message */
	rollback(st);
	if (begin_write(st) == 0) {
		int mine = generation_is_mine(w);
		if (mine >= 0 && (mine == 0 || drop_entry(st, w->gen) == 0))
			lock_release(st, w->key, w->keylen);
		if (commit(st))
			rollback(st);
	}
	memcpy(st->err, saved, sizeof saved);
	writer_free(w);
}

/* ---- reading ---- */

#define ENTRY_COLUMNS                                                                          \
	"e.id, e.key, e.state, e.size, e.chunk_size, e.chunk_count, e.content_type, e.sha256,"  \
	" e.created, coalesce(e.expires, 0),"                                                   \
	" (SELECT group_concat(tag, char(0)) FROM tags t WHERE t.entry = e.id)"

static void fill_entry_from_row(sqlite3_stmt *s, struct vr_entry *e)
{
	memset(e, 0, sizeof *e);
	e->id = sqlite3_column_int64(s, 0);
	int kl = sqlite3_column_bytes(s, 1);
	if (kl > VR_STORE_KEY_MAX)
		kl = VR_STORE_KEY_MAX;
	if (kl > 0)
		memcpy(e->key, sqlite3_column_blob(s, 1), (size_t)kl);
	e->keylen = (size_t)kl;
	snprintf(e->state, sizeof e->state, "%s", (const char *)sqlite3_column_text(s, 2));
	e->size = (uint64_t)sqlite3_column_int64(s, 3);
	e->chunk_size = (uint32_t)sqlite3_column_int64(s, 4);
	e->chunk_count = (uint64_t)sqlite3_column_int64(s, 5);
	const unsigned char *t = sqlite3_column_text(s, 6);
	snprintf(e->content_type, sizeof e->content_type, "%s", t ? (const char *)t : "");
	t = sqlite3_column_text(s, 7);
	snprintf(e->sha256, sizeof e->sha256, "%s", t ? (const char *)t : "");
	e->created = sqlite3_column_int64(s, 8);
	e->expires = sqlite3_column_int64(s, 9);
	/* the tags joined by '\0' (group_concat with char(0)): kept as they
	 * are in tag_list, joined by commas in tags */
	const char *tl = (const char *)sqlite3_column_blob(s, 10);
	size_t n = tl ? (size_t)sqlite3_column_bytes(s, 10) : 0;
	if (n >= sizeof e->tag_list)
		n = sizeof e->tag_list - 1;
	if (n)
		memcpy(e->tag_list, tl, n);
	e->tag_list[n] = '\0';
	size_t o = 0;
	for (const char *p = e->tag_list; n && p < e->tag_list + n + 1; p += strlen(p) + 1) {
		e->ntags++;
		o += (size_t)snprintf(e->tags + o, o < sizeof e->tags ? sizeof e->tags - o : 0,
				      "%s%s", e->ntags > 1 ? "," : "", p);
		if (o >= sizeof e->tags)
			o = sizeof e->tags;
	}
}

/* Is the manifest self-consistent? Reads divide by the chunk size and
 * index chunks by it, so a damaged one must stop here, not crash later. */
static int manifest_ok(const struct vr_entry *e)
{
	if (e->chunk_size < VR_STORE_CHUNK_MIN || e->chunk_size > VR_STORE_CHUNK_MAX ||
	    e->size > (UINT64_MAX >> 2))
		return 0;
	return e->chunk_count == (e->size + e->chunk_size - 1) / e->chunk_size;
}

static int manifest_fail(struct vr_store *st, const struct vr_entry *e)
{
	return fail(st, VR_EIO,
		    "%s: the manifest of the entry is damaged (size %lld, chunk size %u, %llu chunks)",
		    st->path, (long long)e->size, e->chunk_size, (unsigned long long)e->chunk_count);
}

/* The ready, unexpired entry of key: 0, VR_ENOTFOUND or VR_EIO. */
static int lookup(struct vr_store *st, const void *key, size_t keylen, struct vr_entry *e)
{
	sqlite3_stmt *s = prepare(st, "SELECT " ENTRY_COLUMNS " FROM entries e WHERE e.key = ?"
				      " AND e.state = 'ready'"
				      " AND (e.expires IS NULL OR e.expires > ?)");
	if (!s)
		return VR_EIO;
	sqlite3_bind_blob(s, 1, key, (int)keylen, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, time(NULL));
	int step = sqlite3_step(s);
	int rc = 0;
	if (step == SQLITE_ROW) {
		fill_entry_from_row(s, e);
		if (!manifest_ok(e))
			rc = manifest_fail(st, e);
	} else if (step == SQLITE_DONE)
		rc = fail(st, VR_ENOTFOUND, "no such key");
	else
		rc = db_fail(st, "looking up a key");
	sqlite3_finalize(s);
	return rc;
}

int vr_store_read_begin(struct vr_store *st, const void *key, size_t keylen, struct vr_entry *e)
{
	/* A reader streams each chunk through the page cache once: a few
	 * pages, reused, touch less fresh memory than the writer's 2 MiB,
	 * and first touches are what a small range mostly costs. */
	exec(st, "PRAGMA cache_size = -512");
	int rc = exec(st, "BEGIN");
	if (rc)
		return rc;
	st->in_read = 1;
	rc = lookup(st, key, keylen, e);
	if (rc)
		vr_store_read_end(st);
	return rc;
}

void vr_store_read_end(struct vr_store *st)
{
	if (st->in_read && !sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
	st->in_read = 0;
	sqlite3_exec(st->db, "PRAGMA cache_size = -2048", NULL, NULL, NULL);
}

/* Open chunk idx of entry e for reading, checking its size. */
static int open_chunk(struct vr_store *st, const struct vr_entry *e, uint64_t idx,
		      sqlite3_blob **blob, uint8_t digest[VR_DIGEST_LEN], uint32_t *crc)
{
	uint64_t expect = idx + 1 < e->chunk_count ? e->chunk_size
						     : e->size - (e->chunk_count - 1) * e->chunk_size;
	sqlite3_stmt *s =
		prepare(st, "SELECT id, size, sha256, crc32c FROM chunks WHERE entry = ? AND idx = ?");
	if (!s)
		return VR_EIO;
	sqlite3_bind_int64(s, 1, e->id);
	sqlite3_bind_int64(s, 2, (int64_t)idx);
	int step = sqlite3_step(s);
	if (step != SQLITE_ROW) {
		sqlite3_finalize(s);
		if (step == SQLITE_DONE)
			return fail(st, VR_EIO, "chunk %llu of the entry is missing",
				    (unsigned long long)idx);
		return db_fail(st, "reading a chunk");
	}
	int64_t rowid = sqlite3_column_int64(s, 0);
	uint64_t size = (uint64_t)sqlite3_column_int64(s, 1);
	if (sqlite3_column_bytes(s, 2) == VR_DIGEST_LEN)
		memcpy(digest, sqlite3_column_blob(s, 2), VR_DIGEST_LEN);
	else
		memset(digest, 0, VR_DIGEST_LEN);
	*crc = (uint32_t)sqlite3_column_int64(s, 3);
	sqlite3_finalize(s);
	if (sqlite3_blob_open(st->db, "main", "chunks", "data", rowid, 0, blob) != SQLITE_OK)
		return db_fail(st, "opening a chunk");
	uint64_t actual = (uint64_t)sqlite3_blob_bytes(*blob);
	if (size != expect || actual != expect) {
		sqlite3_blob_close(*blob);
		*blob = NULL;
		return fail(st, VR_EIO,
			    "chunk %llu has %llu bytes (recorded %llu), the manifest says %llu",
			    (unsigned long long)idx, (unsigned long long)actual,
			    (unsigned long long)size, (unsigned long long)expect);
	}
	return 0;
}

/* Compare a chunk's CRC-32C (and, with d, its SHA-256, finishing d, which
 * is reused for the next chunk) with what its row recorded. */
static int chunk_sums_ok(struct vr_store *st, uint64_t idx, uint32_t crc, uint32_t want_crc,
			 struct vr_digest *d, const uint8_t want[VR_DIGEST_LEN])
{
	uint8_t got[VR_DIGEST_LEN];
	if (d)
		vr_digest_final(d, got);
	if (crc != want_crc)
		return fail(st, VR_EIO, "chunk %llu does not match its checksum (CRC-32C)",
			    (unsigned long long)idx);
	if (d && memcmp(got, want, VR_DIGEST_LEN))
		return fail(st, VR_EIO, "chunk %llu does not match its checksum (SHA-256)",
			    (unsigned long long)idx);
	return 0;
}

/* Read a whole chunk in pieces and check it (chunk_sums_ok). */
static int check_chunk(struct vr_store *st, sqlite3_blob *blob, uint64_t idx, uint32_t want_crc,
		       const uint8_t want[VR_DIGEST_LEN], struct vr_digest *d)
{
	int n = sqlite3_blob_bytes(blob);
	uint32_t crc = 0;
	for (int off = 0; off < n;) {
		int step = n - off < (int)PIECE ? n - off : (int)PIECE;
		if (sqlite3_blob_read(blob, st->piece, step, off) != SQLITE_OK) {
			if (d)
				vr_digest_reset(d);
			return db_fail(st, "reading a chunk");
		}
		crc = vr_crc32c(crc, st->piece, (size_t)step);
		if (d)
			vr_digest_update(d, st->piece, (size_t)step);
		off += step;
	}
	return chunk_sums_ok(st, idx, crc, want_crc, d, want);
}

/* Chunks up to this size are read once, whole, into a buffer: checked,
 * then emitted from it. Larger ones are read twice in pieces (check, then
 * emit) so that a read costs a few MiB of memory whatever the chunk size. */
#define ONE_PASS_MAX (4u << 20)

/* Read chunk idx whole into st->whole (populated memory: touched page by
 * page it would cost a fault each, in some VMs most of a small range's
 * time) and check it (chunk_sums_ok). */
static int load_chunk(struct vr_store *st, sqlite3_blob *blob, uint64_t idx, uint32_t want_crc,
		      const uint8_t want[VR_DIGEST_LEN], struct vr_digest *d)
{
	size_t n = (size_t)sqlite3_blob_bytes(blob);
	if (st->whole_size < n) {
		size_t len = (n + 4095) / 4096 * 4096;
		void *b = map_populated(len);
		if (!b)
			return fail(st, VR_EFAIL, "out of memory");
		if (st->whole)
			munmap(st->whole, st->whole_size);
		st->whole = b;
		st->whole_size = len;
	}
	if (n && sqlite3_blob_read(blob, st->whole, (int)n, 0) != SQLITE_OK)
		return db_fail(st, "reading a chunk");
	if (d)
		vr_digest_update(d, st->whole, n);
	return chunk_sums_ok(st, idx, vr_crc32c(0, st->whole, n), want_crc, d, want);
}

/* Emit bytes [from, to] of a checked chunk in pieces (the two-pass read). */
static int emit_pieces(struct vr_store *st, sqlite3_blob *blob, uint64_t from, uint64_t to,
		       vr_emit_fn emit, void *ctx)
{
	int rc = 0;
	while (!rc && from <= to) {
		uint64_t left = to - from + 1;
		int step = left < PIECE ? (int)left : (int)PIECE;
		if (sqlite3_blob_read(blob, st->piece, step, (int)from) != SQLITE_OK)
			return db_fail(st, "reading a chunk");
		rc = emit(ctx, st->piece, (size_t)step);
		from += (uint64_t)step;
	}
	return rc;
}

int vr_store_read_span(struct vr_store *st, const struct vr_entry *e, uint64_t start, uint64_t end,
		       int verify, vr_emit_fn emit, void *ctx)
{
	if (e->size == 0 || start > end || end >= e->size)
		return 0;
	struct vr_digest *d = verify ? vr_digest_new() : NULL;
	if (verify && !d)
		return fail(st, VR_EFAIL, "out of memory");
	int one_pass = e->chunk_size <= ONE_PASS_MAX;
	int rc = 0;
	for (uint64_t idx = start / e->chunk_size; idx <= end / e->chunk_size && !rc; idx++) {
		sqlite3_blob *blob = NULL;
		uint8_t digest[VR_DIGEST_LEN];
		uint32_t crc;
		if ((rc = open_chunk(st, e, idx, &blob, digest, &crc)))
			break;
		uint64_t base = idx * e->chunk_size;
		uint64_t from = start > base ? start - base : 0;
		uint64_t to = end - base < e->chunk_size ? end - base : e->chunk_size - 1;
		if (one_pass) {
			rc = load_chunk(st, blob, idx, crc, digest, d);
			if (!rc)
				rc = emit(ctx, st->whole + from, (size_t)(to - from + 1));
		} else {
			rc = check_chunk(st, blob, idx, crc, digest, d);
			if (!rc)
				rc = emit_pieces(st, blob, from, to, emit, ctx);
		}
		sqlite3_blob_close(blob);
	}
	if (d)
		vr_digest_free(d);
	return rc;
}

/* ---- management ---- */

int vr_store_stat(struct vr_store *st, const void *key, size_t keylen, struct vr_entry *e)
{
	return lookup(st, key, keylen, e);
}

int vr_store_list(struct vr_store *st, const void *prefix, size_t prefixlen,
		  int (*fn)(void *ctx, const struct vr_entry *e), void *ctx)
{
	/* substr() of an empty blob is NULL, not an empty blob: without the
	 * first test, the empty key would never be listed */
	sqlite3_stmt *s = prepare(st, "SELECT " ENTRY_COLUMNS " FROM entries e WHERE e.state = 'ready'"
				      " AND (e.expires IS NULL OR e.expires > ?1)"
				      " AND (?2 = 0 OR substr(e.key, 1, ?2) = ?3) ORDER BY e.key");
	if (!s)
		return VR_EIO;
	sqlite3_bind_int64(s, 1, time(NULL));
	sqlite3_bind_int64(s, 2, (int64_t)prefixlen);
	sqlite3_bind_blob(s, 3, prefixlen ? prefix : "", (int)prefixlen, SQLITE_STATIC);
	struct vr_entry *e = malloc(sizeof *e);
	int rc = e ? 0 : VR_EFAIL;
	int step;
	while (!rc && (step = sqlite3_step(s)) == SQLITE_ROW) {
		fill_entry_from_row(s, e);
		rc = fn(ctx, e);
	}
	if (!rc && step != SQLITE_DONE)
		rc = db_fail(st, "listing entries");
	sqlite3_finalize(s);
	free(e);
	return rc;
}

/* Drop every entry the query selects (bound with one blob or text
 * parameter), in one transaction. */
static int drop_where(struct vr_store *st, const char *sql, const void *arg, size_t arglen,
		      int is_text, uint64_t *count)
{
	int rc = begin_write(st);
	if (rc)
		return rc;
	sqlite3_stmt *s = prepare(st, sql);
	if (!s) {
		rollback(st);
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
				rollback(st);
				return fail(st, VR_EFAIL, "out of memory");
			}
			ids = grown;
		}
		ids[n++] = sqlite3_column_int64(s, 0);
	}
	sqlite3_finalize(s);
	if (step != SQLITE_DONE) {
		free(ids);
		rc = db_fail(st, "selecting entries");
		rollback(st);
		return rc;
	}
	for (uint64_t i = 0; i < n && !rc; i++)
		rc = drop_entry(st, ids[i]);
	free(ids);
	if (rc || (rc = commit(st))) {
		rollback(st);
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
		return fail(st, VR_ENOTFOUND, "no such key");
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
	int rc = begin_write(st);
	if (rc)
		return rc;
	sqlite3_stmt *s = prepare(st, "UPDATE entries SET expires = ? WHERE key = ? AND state = 'ready'"
				      " AND (expires IS NULL OR expires > ?)");
	if (!s) {
		rollback(st);
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
		rc = db_fail(st, "changing an expiry");
		rollback(st);
		return rc;
	}
	int changed = sqlite3_changes(st->db);
	if ((rc = commit(st)))
		return rc;
	return changed ? 0 : fail(st, VR_ENOTFOUND, "no such key");
}

int vr_store_gc(struct vr_store *st, int vacuum, struct vr_gc_report *r)
{
	memset(r, 0, sizeof *r);
	int rc = begin_write(st);
	if (rc)
		return rc;
	time_t now = time(NULL);
	/* stale locks: lease expired, or the owner on this host is gone */
	sqlite3_stmt *s = prepare(st, "SELECT key, owner, pid, host, expires FROM locks");
	if (!s) {
		rollback(st);
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
		    owner_alive(st, owner ? owner : "", sqlite3_column_int(s, 2), host ? host : ""))
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
		s = prepare(st, "DELETE FROM locks WHERE key = ?");
		if (s) {
			sqlite3_bind_blob(s, 1, stale[i].key, stale[i].keylen, SQLITE_STATIC);
			sqlite3_step(s);
			sqlite3_finalize(s);
		}
	}
	free(stale);
	r->stale_locks = nstale;
	if ((rc = commit(st)))
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
	if ((rc = begin_write(st)))
		return rc;
	if ((rc = exec(st, "DELETE FROM chunks WHERE entry NOT IN (SELECT id FROM entries)"))) {
		rollback(st);
		return rc;
	}
	r->orphan_chunks = (uint64_t)sqlite3_changes(st->db);
	if ((rc = exec(st, "DELETE FROM tags WHERE entry NOT IN (SELECT id FROM entries)")) ||
	    (rc = commit(st))) {
		rollback(st);
		return rc;
	}
	if (vacuum) {
		if ((rc = exec(st, "VACUUM")))
			return rc;
		if ((rc = exec(st, "PRAGMA wal_checkpoint(TRUNCATE)")))
			return rc;
		r->vacuumed = 1;
	}
	return 0;
}

/* How many chunk rows an entry has; -1 on error. */
static int64_t chunk_rows(struct vr_store *st, int64_t id)
{
	sqlite3_stmt *s = prepare(st, "SELECT count(*) FROM chunks WHERE entry = ?");
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
		sqlite3_stmt *s = prepare(st, "PRAGMA integrity_check");
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
			return db_fail(st, "integrity check");
	}
	int rc = exec(st, "BEGIN");
	if (rc)
		return rc;
	sqlite3_stmt *s = prepare(st, key ? "SELECT " ENTRY_COLUMNS " FROM entries e WHERE e.key = ?"
					    " AND e.state = 'ready'"
					  : "SELECT " ENTRY_COLUMNS " FROM entries e WHERE e.state = 'ready'"
					    " AND ?1 IS NOT NULL");
	if (!s) {
		rollback(st);
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
		rollback(st);
		return fail(st, VR_EFAIL, "cannot set up SHA-256 (is libavutil installed?)");
	}
	int step = SQLITE_DONE;
	int found = 0;
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		fill_entry_from_row(s, e);
		found = 1;
		(*checked)++;
		int entry_bad = 0;
		if (!manifest_ok(e)) {
			manifest_fail(st, e);
			snprintf(msg, sizeof msg, "key %.*s: %s", (int)(e->keylen > 200 ? 200 : e->keylen),
				 e->key, st->err);
			report(ctx, msg);
			bad = entry_bad = 1;
		}
		for (uint64_t i = 0; i < e->chunk_count && !entry_bad; i++) {
			sqlite3_blob *blob = NULL;
			uint8_t digest[VR_DIGEST_LEN];
			uint32_t crc;
			int r = open_chunk(st, e, i, &blob, digest, &crc);
			if (!r)
				r = check_chunk(st, blob, i, crc, digest, d);
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
		return db_fail(st, "verifying");
	if (key && !found)
		return fail(st, VR_ENOTFOUND, "no such key");
	return bad ? fail(st, VR_EIO, "verification failed") : 0;
}

/* ---- sources and remembered failures ---- */

void vr_store_writer_set_content_type(struct vr_store_writer *w, const char *type)
{
	if (w && type && *type)
		snprintf(w->content_type, sizeof w->content_type, "%s", type);
}

int vr_store_source_version(struct vr_store *st, const char *source, int64_t *version)
{
	*version = 0;
	sqlite3_stmt *s = prepare(st, "SELECT version FROM sources WHERE source = ?");
	if (!s)
		return VR_EIO;
	sqlite3_bind_text(s, 1, source, -1, SQLITE_STATIC);
	int step = sqlite3_step(s);
	if (step == SQLITE_ROW)
		*version = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	if (step != SQLITE_ROW && step != SQLITE_DONE)
		return db_fail(st, "reading a source version");
	return 0;
}

int vr_store_source_bump(struct vr_store *st, const char *source, int64_t *version)
{
	int rc = begin_write(st);
	if (rc)
		return rc;
	sqlite3_stmt *s = prepare(st, "INSERT INTO sources(source, version) VALUES (?, 1)"
				      " ON CONFLICT(source) DO UPDATE SET version = version + 1");
	if (!s) {
		rollback(st);
		return VR_EIO;
	}
	sqlite3_bind_text(s, 1, source, -1, SQLITE_STATIC);
	int step = sqlite3_step(s);
	sqlite3_finalize(s);
	if (step != SQLITE_DONE) {
		rc = db_fail(st, "raising a source version");
		rollback(st);
		return rc;
	}
	int64_t v = 0;
	if ((rc = vr_store_source_version(st, source, &v)) || (rc = commit(st))) {
		rollback(st);
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

int vr_store_negative_get(struct vr_store *st, const void *key, size_t keylen, int *status,
			  char *msg, size_t msglen, int64_t *expires)
{
	sqlite3_stmt *s =
		prepare(st, "SELECT status, message, expires FROM negative WHERE key = ? AND expires > ?");
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
		rc = db_fail(st, "reading a remembered failure");
	}
	sqlite3_finalize(s);
	return rc;
}

static int exec_key(struct vr_store *st, const char *sql, const void *key, size_t keylen,
		    int status, const char *msg, int64_t expires, const char *what)
{
	int rc = begin_write(st);
	if (rc)
		return rc;
	sqlite3_stmt *s = prepare(st, sql);
	if (!s) {
		rollback(st);
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
		rc = db_fail(st, what);
		rollback(st);
		return rc;
	}
	return commit(st);
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

int vr_store_negative_gc(struct vr_store *st, uint64_t *count)
{
	int rc = begin_write(st);
	if (rc)
		return rc;
	sqlite3_stmt *s = prepare(st, "DELETE FROM negative WHERE expires <= ?");
	if (!s) {
		rollback(st);
		return VR_EIO;
	}
	sqlite3_bind_int64(s, 1, time(NULL));
	int step = sqlite3_step(s);
	sqlite3_finalize(s);
	if (step != SQLITE_DONE) {
		rc = db_fail(st, "removing expired failures");
		rollback(st);
		return rc;
	}
	if (count)
		*count = (uint64_t)sqlite3_changes(st->db);
	return commit(st);
}

int vr_store_totals(struct vr_store *st, uint64_t *entries, uint64_t *bytes)
{
	*entries = *bytes = 0;
	sqlite3_stmt *s =
		prepare(st, "SELECT count(*), coalesce(sum(size), 0) FROM entries WHERE state = 'ready'");
	if (!s)
		return VR_EIO;
	int step = sqlite3_step(s);
	if (step == SQLITE_ROW) {
		*entries = (uint64_t)sqlite3_column_int64(s, 0);
		*bytes = (uint64_t)sqlite3_column_int64(s, 1);
	}
	sqlite3_finalize(s);
	return step == SQLITE_ROW ? 0 : db_fail(st, "counting entries");
}
