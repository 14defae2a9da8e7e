/* One option layer for every program.
 *
 * Each program describes itself once: a struct vr_cli_prog with its option
 * tables and, for vr-chunk and vr-cache, its commands. From that one
 * description the layer builds getopt_long's tables, checks every value
 * with a typed parser and its bounds, prints --help for the program and
 * for each command, dispatches the command and runs the main() skeleton:
 * logging, lifecycle, the metrics line, the exit status. The options every
 * program shares (-q, -v, -h, -V, --metrics, --config, --store, --progress)
 * are defined once, here; a program says which of them it takes.
 *
 * A hidden --dump-options prints the tables in a line format that the bash
 * completion generator (scripts/completion) and the drift test
 * (tests/cli.bats, which compares tables, --help and man pages) read.
 *
 * Storage: option values land in the program's options struct, whose first
 * member must be struct vr_cli_common; an option's off is an offsetof into
 * that struct (plus its table's base). Strings point into argv: they live as
 * long as the process. Everything here runs on the main thread before any
 * other thread starts; nothing is thread-safe or needs to be. */
#ifndef VR_CLI_H
#define VR_CLI_H

#include <stddef.h>
#include <stdint.h>

/* What an option's argument is and how it is checked. */
enum vr_opt_kind {
	VR_OPT_FLAG,    /* no argument: int field := 1 */
	VR_OPT_STR,     /* const char * field := the argument */
	VR_OPT_SIZE,    /* uint64_t field: a byte count (512, 64K, 4M, 1G) in [lo, hi] */
	VR_OPT_SECONDS, /* double field: a duration (30, 1.5s, 250ms, 2m, 1h) in [lo, hi] */
	VR_OPT_COUNT,   /* int64_t field: a decimal integer in [lo, hi] */
	VR_OPT_ENUM,    /* int field: the index of the argument among words */
	VR_OPT_LIST,    /* const char *field[max] and a size_t count at count_off */
	VR_OPT_CALL,    /* fn decides; the argument may be NULL (FLAG-like, optional) */
};

/* flags */
#define VR_OPT_OPTIONAL 0x01u /* the argument is optional: --name[=ARG] */
#define VR_OPT_FILE     0x02u /* the argument names a file (completion) */
#define VR_OPT_HIDDEN   0x04u /* in no --help, man page or completion */
#define VR_OPT_LO_OPEN  0x08u /* the lower bound is excluded: (lo, hi] */
#define VR_OPT_NOARG    0x10u /* CALL: takes no argument */

struct vr_opt {
	const char *name;         /* long name without "--"; NULL ends a table */
	int letter;               /* short option, 0 for none */
	enum vr_opt_kind kind;
	const char *arg;          /* the argument in --help ("SIZE"); NULL: none */
	const char *help;         /* one line; '\n' starts a continuation line */
	size_t off;               /* offsetof the field in the options struct */
	const char *def;          /* default: parsed like an argument before the
				   * command line, and shown in --help */
	double lo, hi;            /* bounds of SIZE, SECONDS, COUNT; hi 0: none */
	const char *const *words; /* ENUM values, NULL-terminated (completion too) */
	/* CALL: 0, or a vr_status with err set (err starts with the value's
	 * problem; the layer adds "--name: " in front) */
	int (*fn)(void *field, const struct vr_opt *o, const char *arg, char *err, size_t errlen);
	size_t count_off;         /* LIST: offsetof its size_t count */
	size_t given_off;         /* nonzero: offsetof an int set to 1 when given */
	unsigned max;             /* LIST: capacity */
	unsigned flags;
};

/* An option table and where in the options struct its offsets start
 * (tables shared between programs, such as the transform parameters of
 * lib/request/params, are placed with base = offsetof(struct opts, member)). */
struct vr_cli_table {
	const struct vr_opt *opts;
	size_t base;
	const char *title;        /* its heading in --help; NULL: "Options" */
	const struct vr_opt *(*get)(void); /* instead of opts: a table built
				   * on first use from another module's own
				   * table (vr_params_options) */
	const char *man;          /* the page that defines these options when it
				   * is not the program's own ("vr-resize") */
};

#define VR_CLI_TABLES 4

struct vr_cli_cmd {
	const char *name;         /* NULL ends the list */
	const char *operands;     /* "KEY [FILE]" for the usage line */
	const char *about;        /* one line: the command list and its --help */
	int min_args, max_args;   /* operand count; max_args < 0: no limit */
	struct vr_cli_table tables[VR_CLI_TABLES];
	int (*run)(void *opts, int argc, char **argv); /* operands only */
	unsigned complete;        /* VR_CLI_COMPLETE_FILES: operands are files */
};

/* The shared options a program takes (vr_cli_prog.shared) */
#define VR_CLI_METRICS  0x01u
#define VR_CLI_CONFIG   0x02u
#define VR_CLI_STORE    0x04u
#define VR_CLI_PROGRESS 0x08u

#define VR_CLI_COMPLETE_FILES 0x01u

struct vr_cli_prog {
	const char *name;         /* "vr-chunk": metrics, help, messages */
	const char *operands;     /* "RANGE [FILE]"; with commands: ignored */
	const char *about;        /* the paragraph under the usage line */
	unsigned shared;          /* VR_CLI_METRICS | ... */
	int min_args, max_args;   /* without commands: operand count */
	struct vr_cli_table tables[VR_CLI_TABLES];
	const struct vr_cli_cmd *cmds; /* NULL: no commands */
	int (*run)(void *opts, int argc, char **argv); /* without commands */
	/* after run, before the metrics line: may change *rc (may be NULL) */
	void (*finish)(void *opts, int *rc);
	const char *exits;        /* the exit-status lines of --help */
	unsigned complete;        /* VR_CLI_COMPLETE_FILES */
};

/* The first member of every program's options struct. */
struct vr_cli_common {
	const char *metrics;      /* --metrics FILE (NULL: $VR_METRICS) */
	const char *config;       /* --config FILE (NULL: $VR_CONFIG, else XDG) */
	const char *store;        /* --store FILE (NULL: $VR_STORE, else XDG) */
	int progress;             /* --progress given */
	int quiet, verbose;       /* -q given, -v count */
};

/* The whole main(): parse, run, finish, exit. opts is the program's
 * options struct (zeroed or preset by the caller; defaults of the tables
 * are applied over it). Never returns. */
__attribute__((noreturn)) void vr_cli_main(const struct vr_cli_prog *p, int argc, char **argv,
					    void *opts);

/* Whether to draw progress, one rule for every program: -q turns it off
 * (also with --progress), --progress forces it, else only when stderr is
 * a terminal. */
int vr_cli_progress(const struct vr_cli_common *c);

/* "Try 'vr-range --help'." (or 'vr-chunk put --help') on stderr; returns
 * VR_EUSAGE. */
int vr_usage_hint(void);

/* Shared spellings of options that mean the same thing in several
 * programs: one name, letter, argument, bounds and help line each, placed
 * at the offset of the caller's field: VR_OPT_RANGE(offsetof(struct o, r)). */
#define VR_OPT_RANGE(o)                                                               \
	{.name = "range", .letter = 'r', .kind = VR_OPT_STR, .arg = "RANGE", .off = (o),   \
	 .help = "only the bytes of the RFC 9110 range set RANGE\n"                         \
		 "(bytes=0-499, 500-, -500, 0-99,200-299; empty: all)"}
#define VR_OPT_OUTPUT(o)                                                              \
	{.name = "output", .letter = 'o', .kind = VR_OPT_STR, .arg = "FILE", .off = (o),   \
	 .flags = VR_OPT_FILE, .help = "write FILE (atomically) instead of stdout"}
#define VR_OPT_JSON(o, what)                                                          \
	{.name = "json", .kind = VR_OPT_FLAG, .off = (o), .help = what}
#define VR_OPT_HEADERS(o)                                                             \
	{.name = "headers", .kind = VR_OPT_FLAG, .off = (o),                               \
	 .help = "print the HTTP response head on stderr"}
#define VR_OPT_MULTIPART(o)                                                           \
	{.name = "multipart", .kind = VR_OPT_CALL, .arg = "BOUNDARY", .off = (o),          \
	 .fn = vr_cli_set_multipart, .flags = VR_OPT_OPTIONAL,                             \
	 .help = "several ranges as one multipart/byteranges body"}

#define VR_OPT_CONTENT_TYPE(o, what)                                                  \
	{.name = "content-type", .kind = VR_OPT_CALL, .arg = "TYPE", .off = (o),           \
	 .fn = vr_cli_set_content_type, .help = what}
/* a const char * field: 1 to VR_MIME_MAX printable characters */
int vr_cli_set_content_type(void *field, const struct vr_opt *o, const char *arg, char *err,
			    size_t errlen);

/* --multipart[=BOUNDARY]: on, and the boundary (empty until
 * vr_cli_multipart_finish makes one). */
struct vr_cli_multipart {
	int on;
	char boundary[80];
};
int vr_cli_set_multipart(void *field, const struct vr_opt *o, const char *arg, char *err,
			 size_t errlen);
/* A fresh boundary when --multipart gave none. */
void vr_cli_multipart_finish(struct vr_cli_multipart *m);
/* --headers prints an HTTP head, and an HTTP answer with several ranges
 * is multipart/byteranges: with headers set and more than one range,
 * --multipart is on (and has its boundary). */
void vr_cli_multipart_for_headers(struct vr_cli_multipart *m, int headers, size_t nranges);

#endif
