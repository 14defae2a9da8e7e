/* The store file: schema and migrations, the db helpers every part uses,
 * open and close. */
#include "store_int.h"
#include "lifecycle.h"
#include "status.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define APP_ID 0x76720001 /* "vr" 1: marks a file as a vr store */
#define BUSY_GIVE_UP_MS (10 * 60 * 1000)

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

int store_fail(struct vr_store *st, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(st->err, sizeof st->err, fmt, ap);
	va_end(ap);
	return code;
}

/* A SQLite failure as a vr_status: busy past the give-up time is a timeout,
 * everything else a store failure. */
int store_db_fail(struct vr_store *st, const char *what)
{
	int rc = sqlite3_errcode(st->db);
	const char *msg = sqlite3_errmsg(st->db);
	if (rc == SQLITE_NOTADB)
		return store_fail(st, VR_EIO, "%s: not a vr store (%s)", st->path, msg);
	if (rc == SQLITE_CORRUPT)
		return store_fail(st, VR_EIO, "%s: store is corrupt (%s)", st->path, msg);
	if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
		return store_fail(st, VR_ETIMEOUT, "%s: store stayed busy for %d s during %s", st->path,
				  BUSY_GIVE_UP_MS / 1000, what);
	if (rc == SQLITE_FULL)
		return store_fail(st, VR_EIO, "%s: disk full during %s", st->path, what);
	return store_fail(st, VR_EIO, "%s: %s: %s", st->path, what, msg);
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

/* SQLite answers some lock upgrades with SQLITE_BUSY at once, without the
 * busy handler, where waiting could deadlock: switching a new file to WAL
 * while other processes open it too is one (found by running the fault
 * tests in parallel: a put failed with "busy" in no time). Such a
 * statement is tried again, with the handler's back-off and give-up time. */
static int exec_retry_busy(struct vr_store *st, const char *sql)
{
	for (int count = 0;; count++) {
		int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
		if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED)
			return rc == SQLITE_OK ? 0 : store_db_fail(st, sql);
		if (!on_busy(st, count))
			return store_db_fail(st, sql);
	}
}

int store_exec(struct vr_store *st, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		sqlite3_free(msg);
		return store_db_fail(st, sql);
	}
	return 0;
}

sqlite3_stmt *store_prepare(struct vr_store *st, const char *sql)
{
	sqlite3_stmt *s = NULL;
	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
		store_db_fail(st, "prepare");
		return NULL;
	}
	return s;
}

int store_begin_write(struct vr_store *st) { return store_exec(st, "BEGIN IMMEDIATE"); }

int store_begin_write_nowait(struct vr_store *st)
{
	sqlite3_busy_handler(st->db, NULL, NULL);
	int rc = store_exec(st, "BEGIN IMMEDIATE");
	sqlite3_busy_handler(st->db, on_busy, st);
	return rc;
}
int store_commit(struct vr_store *st) { return store_exec(st, "COMMIT"); }
void store_rollback(struct vr_store *st)
{
	if (!sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

/* "start" of a process from /proc/PID/stat (field 22), 0 when unknown:
 * with the pid it tells a live lock owner from a reused pid. */
unsigned long long store_proc_start(pid_t pid)
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
	sqlite3_stmt *s = store_prepare(st, "SELECT (SELECT user_version FROM pragma_user_version),"
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
	int rc = step == SQLITE_ROW ? 0 : store_db_fail(st, "reading the schema");
	sqlite3_finalize(s);
	return rc;
}

/* Someone else's database, whatever its user_version, or a newer vr's:
 * refuse it. Every vr store carries APP_ID, set with its first schema. */
static int schema_refused(struct vr_store *st, int version, int objects, int app)
{
	if (objects > 0 && app != APP_ID)
		return store_fail(st, VR_EIO, "%s: an SQLite database, but not a vr store", st->path);
	if (version > VR_STORE_SCHEMA)
		return store_fail(st, VR_EIO, "%s: store schema version %d is newer than this vr (%d)",
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
	if ((rc = store_begin_write(st)))
		return rc;
	/* again under the write lock: another process may have just migrated */
	if ((rc = read_schema(st, &version, &objects, &app)) ||
	    (rc = schema_refused(st, version, objects, app))) {
		store_rollback(st);
		return rc;
	}
	for (int v = version; v < VR_STORE_SCHEMA; v++) {
		for (const char **sql = migrations[v]; *sql; sql++)
			if ((rc = store_exec(st, *sql))) {
				store_rollback(st);
				return rc;
			}
	}
	if (version < VR_STORE_SCHEMA) {
		char sql[96];
		snprintf(sql, sizeof sql, "PRAGMA user_version = %d", VR_STORE_SCHEMA);
		if ((rc = store_exec(st, sql)) || (rc = store_exec(st, "PRAGMA application_id = 1987182593"))) {
			store_rollback(st);
			return rc;
		}
	}
	return store_commit(st);
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
void *store_map_populated(size_t len)
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
	void *b = store_map_populated(len);
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
		snprintf(err, errlen, "no store at %s", st->path);
		free(st);
		return VR_ENOTFOUND;
	}
	if (create && make_parent_dirs(st->path) < 0) {
		snprintf(err, errlen, "cannot create the folder of %s: %s", st->path, strerror(errno));
		free(st);
		return VR_EIO;
	}
	gethostname(st->host, sizeof st->host - 1);
	/* host:pid:start names the process (store_owner_alive() reads the start up
	 * to the '#'); #n tells this process's handles apart, so that two
	 * writers in one process never take each other's lock or generation
	 * for their own */
	static unsigned handles;
	snprintf(st->owner, sizeof st->owner, "%s:%d:%llu#%u", st->host, (int)getpid(),
		 store_proc_start(getpid()), __atomic_add_fetch(&handles, 1, __ATOMIC_RELAXED));
	st->piece = malloc(PIECE);
	int rc = VR_OK;
	if (!st->piece) {
		rc = store_fail(st, VR_EFAIL, "out of memory");
		goto out;
	}
	if (sqlite3_open_v2(st->path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
			    NULL) != SQLITE_OK) {
		rc = st->db ? store_db_fail(st, "open") : store_fail(st, VR_EFAIL, "out of memory");
		goto out;
	}
	sqlite3_extended_result_codes(st->db, 0);
	sqlite3_busy_handler(st->db, on_busy, st);
	/* Large pages keep a chunk's overflow chain short; they only take
	 * effect on a new file. */
	if ((rc = store_exec(st, "PRAGMA page_size = 65536")) ||
	    (rc = exec_retry_busy(st, "PRAGMA journal_mode = WAL")) ||
	    (rc = store_exec(st, "PRAGMA synchronous = NORMAL")) ||
	    (rc = store_exec(st, "PRAGMA cache_size = -2048")) ||
	    (rc = store_exec(st, "PRAGMA journal_size_limit = 67108864")) ||
	    /* Debian builds SQLite with secure_delete on, which rewrites every
	     * freed page with zeros: dropping a 1 GiB entry wrote 1 GiB more.
	     * FAST still clears freed cells in pages written anyway. */
	    (rc = store_exec(st, "PRAGMA secure_delete = FAST")) ||
	    (rc = store_exec(st, "PRAGMA foreign_keys = OFF")))
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

const char *vr_store_error(const struct vr_store *st) { return st->err; }
