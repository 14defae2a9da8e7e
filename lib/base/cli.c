/* The option layer: tables -> getopt_long, typed values, --help, command
 * dispatch and the main() skeleton. See cli.h. */
#include "cli.h"
#include "lifecycle.h"
#include "log.h"
#include "metrics.h"
#include "mime.h"
#include "num.h"
#include "status.h"

#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef VR_VERSION
#define VR_VERSION "0.0.0"
#endif

#define MAX_ENTS 128
#define HELP_COL 26

/* ------------------------------------------------------- shared options */

static int set_verbose(void *field, const struct vr_opt *o, const char *arg, char *err,
		       size_t errlen)
{
	(void)o, (void)arg, (void)err, (void)errlen;
	(*(int *)field)++;
	return 0;
}

/* Acted on by the layer itself where it meets them (parse_pass): told
 * apart by their fn, never called. */
#define ACTION(name)                                                                      \
	static int name(void *f, const struct vr_opt *o, const char *a, char *e, size_t el)   \
	{                                                                                 \
		(void)f, (void)o, (void)a, (void)e, (void)el;                             \
		return 0;                                                                 \
	}
ACTION(act_help)
ACTION(act_version)
ACTION(act_dump)
#undef ACTION

/* An option every program may take, and the vr_cli_prog.shared bit it
 * needs (0: always). */
struct shared_opt {
	struct vr_opt o;
	unsigned needs;
};

#define C(m) offsetof(struct vr_cli_common, m)
static const struct shared_opt shared_opts[] = {
	{{.name = "store", .kind = VR_OPT_STR, .arg = "FILE", .off = C(store), .flags = VR_OPT_FILE,
	  .help = "the store (default $VR_STORE, else\n$XDG_CACHE_HOME/vr/store.db)"},
	 VR_CLI_STORE},
	{{.name = "config", .kind = VR_OPT_STR, .arg = "FILE", .off = C(config), .flags = VR_OPT_FILE,
	  .help = "config file (default $VR_CONFIG, else\n$XDG_CONFIG_HOME/vr/vr.conf)"},
	 VR_CLI_CONFIG},
	{{.name = "metrics", .kind = VR_OPT_STR, .arg = "FILE", .off = C(metrics),
	  .flags = VR_OPT_FILE, .help = "append a JSON metrics line to FILE (default $VR_METRICS)"},
	 VR_CLI_METRICS},
	{{.name = "progress", .kind = VR_OPT_FLAG, .off = C(progress),
	  .help = "progress on stderr even when it is not a terminal"},
	 VR_CLI_PROGRESS},
	{{.name = "quiet", .letter = 'q', .kind = VR_OPT_FLAG, .off = C(quiet),
	  .help = "only errors on stderr"}},
	{{.name = "verbose", .letter = 'v', .kind = VR_OPT_CALL, .off = C(verbose), .fn = set_verbose,
	  .flags = VR_OPT_NOARG, .help = "say more (twice: debug detail)"}},
	{{.name = "help", .letter = 'h', .kind = VR_OPT_CALL, .fn = act_help, .flags = VR_OPT_NOARG,
	  .help = "this help"}},
	{{.name = "version", .letter = 'V', .kind = VR_OPT_CALL, .fn = act_version,
	  .flags = VR_OPT_NOARG, .help = "print the version"}},
	{{.name = "dump-options", .kind = VR_OPT_CALL, .fn = act_dump,
	  .flags = VR_OPT_NOARG | VR_OPT_HIDDEN}},
	{{0}},
};
#undef C

/* The shared option is one that a program with these shared bits takes. */
static int shared_on(const struct shared_opt *s, unsigned bits)
{
	return !s->needs || (bits & s->needs);
}

/* ------------------------------------------------------------- state */

static const struct vr_cli_cmd *cur_cmd; /* for vr_usage_hint */

static void print_version(void)
{
	printf("%s (vr) %s\n", vr_prog(), VR_VERSION);
}

int vr_usage_hint(void)
{
	if (cur_cmd)
		fprintf(stderr, "Try '%s %s --help'.\n", vr_prog(), cur_cmd->name);
	else
		fprintf(stderr, "Try '%s --help'.\n", vr_prog());
	return VR_EUSAGE;
}

int vr_cli_progress(const struct vr_cli_common *c)
{
	if (vr_log_verbosity() < VR_NORMAL) /* -q wins, as warm has it */
		return 0;
	if (c->progress)
		return 1;
	return isatty(STDERR_FILENO);
}

/* --------------------------------------------------------------- values */

/* A bound for messages: sizes with their suffix (4K, 64M, 1T). */
static void show_bound(char *buf, size_t len, enum vr_opt_kind k, double v)
{
	if (k == VR_OPT_SIZE) {
		static const char sfx[] = "KMGTP";
		uint64_t u = (uint64_t)v;
		int i = -1;
		while (u >= 1024 && u % 1024 == 0 && i < 4) {
			u /= 1024;
			i++;
		}
		if (i >= 0)
			snprintf(buf, len, "%" PRIu64 "%c", u, sfx[i]);
		else
			snprintf(buf, len, "%" PRIu64, u);
	} else {
		snprintf(buf, len, "%.15g", v);
	}
}

static int in_bounds(const struct vr_opt *o, double v)
{
	if (o->flags & VR_OPT_LO_OPEN ? v <= o->lo : v < o->lo)
		return 0;
	return o->hi == 0 || v <= o->hi;
}

static int bound_error(const struct vr_opt *o, const char *arg, const char *what, char *err,
		       size_t errlen)
{
	char lo[32], hi[32];
	show_bound(lo, sizeof lo, o->kind, o->lo);
	show_bound(hi, sizeof hi, o->kind, o->hi);
	if (o->hi == 0)
		snprintf(err, errlen, "'%s' is not %s of at least %s", arg, what, lo);
	else if (o->flags & VR_OPT_LO_OPEN)
		snprintf(err, errlen, "'%s' is not %s in (%s-%s]", arg, what, lo, hi);
	else
		snprintf(err, errlen, "'%s' is not %s from %s to %s", arg, what, lo, hi);
	return VR_EUSAGE;
}

static int parse_value(const struct vr_opt *o, void *field, const char *arg, char *err,
		       size_t errlen)
{
	uint64_t u;
	double d;
	switch (o->kind) {
	case VR_OPT_FLAG:
		*(int *)field = 1;
		return 0;
	case VR_OPT_STR:
		*(const char **)field = arg;
		return 0;
	case VR_OPT_SIZE:
		if (vr_parse_size(arg, &u) < 0 || !in_bounds(o, (double)u))
			return bound_error(o, arg, "a size (like 512, 64K, 4M, 1G)", err, errlen);
		*(uint64_t *)field = u;
		return 0;
	case VR_OPT_SECONDS:
		if (vr_parse_seconds(arg, &d) < 0 || !isfinite(d) || !in_bounds(o, d))
			return bound_error(o, arg, "a duration in seconds (like 30, 1.5s, 250ms, 2m, 1h)",
					   err, errlen);
		*(double *)field = d;
		return 0;
	case VR_OPT_COUNT:
		if (vr_parse_u64(arg, &u) < 0 || u > INT64_MAX || !in_bounds(o, (double)u))
			return bound_error(o, arg, "a whole number", err, errlen);
		*(int64_t *)field = (int64_t)u;
		return 0;
	case VR_OPT_ENUM:
		for (int i = 0; o->words && o->words[i]; i++)
			if (!strcmp(arg, o->words[i])) {
				*(int *)field = i;
				return 0;
			}
		{
			size_t n = (size_t)snprintf(err, errlen, "'%s' is not one of", arg);
			for (int i = 0; o->words && o->words[i] && n < errlen; i++)
				n += (size_t)snprintf(err + n, errlen - n, "%s %s", i ? "," : "",
						      o->words[i]);
		}
		return VR_EUSAGE;
	case VR_OPT_LIST: {
		size_t *count = (size_t *)((char *)field - o->off + o->count_off);
		if (*count >= o->max) {
			snprintf(err, errlen, "given more than %u times", o->max);
			return VR_EUSAGE;
		}
		((const char **)field)[(*count)++] = arg;
		return 0;
	}
	case VR_OPT_CALL:
		return o->fn(field, o, arg, err, errlen);
	}
	return VR_EFAIL;
}

int vr_cli_set_multipart(void *field, const struct vr_opt *o, const char *arg, char *err,
			 size_t errlen)
{
	(void)o;
	struct vr_cli_multipart *m = field;
	m->on = 1;
	if (!arg)
		return 0;
	if (!vr_mime_boundary_valid(arg)) {
		snprintf(err, errlen,
			 "'%s' is not a valid boundary (1-70 of A-Z a-z 0-9 '()+_,-./:=? and "
			 "space, not ending in space)",
			 arg);
		return VR_EUSAGE;
	}
	snprintf(m->boundary, sizeof m->boundary, "%s", arg);
	return 0;
}

int vr_cli_set_content_type(void *field, const struct vr_opt *o, const char *arg, char *err,
			    size_t errlen)
{
	(void)o;
	/* it goes into each multipart head (a 512-byte buffer) and the JSON
	 * line: short and free of control bytes */
	if (!vr_mime_valid(arg)) {
		snprintf(err, errlen, "invalid value (1 to %d printable characters)", VR_MIME_MAX);
		return VR_EUSAGE;
	}
	*(const char **)field = arg;
	return 0;
}

void vr_cli_multipart_finish(struct vr_cli_multipart *m)
{
	if (m->on && !m->boundary[0])
		vr_mime_boundary(m->boundary, sizeof m->boundary);
}

void vr_cli_multipart_for_headers(struct vr_cli_multipart *m, int headers, size_t nranges)
{
	if (headers && nranges > 1)
		m->on = 1;
	vr_cli_multipart_finish(m);
}

/* ------------------------------------------------------- the flat table */

static const struct vr_opt *topts(const struct vr_cli_table *t)
{
	return t->get ? t->get() : t->opts;
}

struct ent {
	const struct vr_opt *o;
	size_t base;
};

struct flat {
	struct ent e[MAX_ENTS];
	int n;
};

static void flat_add_table(struct flat *f, const struct vr_opt *t, size_t base)
{
	for (; t && t->name; t++) {
		if (f->n == MAX_ENTS) {
			fprintf(stderr, "%s: too many options (raise MAX_ENTS)\n", vr_prog());
			abort();
		}
		f->e[f->n++] = (struct ent){t, base};
	}
}

static void flat_add_tables(struct flat *f, const struct vr_cli_table *t)
{
	for (int i = 0; i < VR_CLI_TABLES; i++)
		flat_add_table(f, topts(&t[i]), t[i].base);
}

static void flat_add_shared(struct flat *f, unsigned bits)
{
	for (const struct shared_opt *s = shared_opts; s->o.name; s++)
		if (shared_on(s, bits))
			f->e[f->n++] = (struct ent){&s->o, 0};
}

/* The options at one level: the program's own (and, in a command, the
 * command's), then the shared ones. */
static void flat_build(struct flat *f, const struct vr_cli_prog *p, const struct vr_cli_cmd *c)
{
	f->n = 0;
	if (c)
		flat_add_tables(f, c->tables);
	flat_add_tables(f, p->tables);
	flat_add_shared(f, p->shared);
}

static int has_arg(const struct vr_opt *o)
{
	if (o->kind == VR_OPT_FLAG || (o->flags & VR_OPT_NOARG))
		return no_argument;
	return o->flags & VR_OPT_OPTIONAL ? optional_argument : required_argument;
}

/* ------------------------------------------------------------------ help */

static void print_opt(const struct vr_opt *o)
{
	char left[96];
	int n;
	if (o->letter)
		n = snprintf(left, sizeof left, "  -%c, --%s", o->letter, o->name);
	else
		n = snprintf(left, sizeof left, "      --%s", o->name);
	if (has_arg(o) == required_argument)
		n += snprintf(left + n, sizeof left - (size_t)n, " %s", o->arg ? o->arg : "ARG");
	else if (has_arg(o) == optional_argument)
		n += snprintf(left + n, sizeof left - (size_t)n, "[=%s]", o->arg ? o->arg : "ARG");
	/* the help text, its words and default, wrapped at 79 columns */
	char text[1024];
	size_t t = (size_t)snprintf(text, sizeof text, "%s", o->help ? o->help : "");
	for (int i = 0; o->words && o->words[i] && t < sizeof text; i++)
		t += (size_t)snprintf(text + t, sizeof text - t, "%s%s", i ? ", " : ": ", o->words[i]);
	if (o->def && t < sizeof text)
		snprintf(text + t, sizeof text - t, " (default %s)", o->def);
	if (n + 2 > HELP_COL)
		printf("%s\n%*s", left, HELP_COL, "");
	else
		printf("%-*s", HELP_COL, left);
	int col = HELP_COL;
	for (const char *w = text; *w;) {
		if (*w == '\n') {
			printf("\n%*s", HELP_COL, "");
			col = HELP_COL;
			w++;
			continue;
		}
		size_t wl = strcspn(w, " \n");
		if (col > HELP_COL && col + (int)wl > 79) {
			printf("\n%*s", HELP_COL, "");
			col = HELP_COL;
		}
		printf("%.*s", (int)wl, w);
		col += (int)wl;
		w += wl;
		if (*w == ' ') {
			/* a space at the end of a line is dropped with the break */
			size_t nl = strcspn(w + 1, " \n");
			if (w[1] && w[1] != '\n' && col + 1 + (int)nl > 79) {
				printf("\n%*s", HELP_COL, "");
				col = HELP_COL;
			} else {
				putchar(' ');
				col++;
			}
			w++;
		}
	}
	putchar('\n');
}

static void print_table(const struct vr_opt *t)
{
	for (; t && t->name; t++)
		if (!(t->flags & VR_OPT_HIDDEN))
			print_opt(t);
}

static void print_tables(const struct vr_cli_table *t, const char *fallback)
{
	for (int i = 0; i < VR_CLI_TABLES; i++) {
		const struct vr_opt *o = topts(&t[i]);
		if (!o || !o->name)
			continue;
		printf("\n%s:\n", t[i].title ? t[i].title : fallback);
		print_table(o);
	}
}

static void print_shared(unsigned bits)
{
	for (const struct shared_opt *s = shared_opts; s->o.name; s++)
		if (shared_on(s, bits) && !(s->o.flags & VR_OPT_HIDDEN))
			print_opt(&s->o);
}

static void help_program(const struct vr_cli_prog *p)
{
	if (p->cmds) {
		printf("Usage: %s [OPTIONS] COMMAND [ARGS]\n%s\n\nCommands:\n", p->name, p->about);
		for (const struct vr_cli_cmd *c = p->cmds; c->name; c++) {
			char left[96];
			snprintf(left, sizeof left, "  %s%s%s", c->name, c->operands && *c->operands ? " " : "",
				 c->operands ? c->operands : "");
			if (strlen(left) + 2 > HELP_COL)
				printf("%s\n%*s%s\n", left, HELP_COL, "", c->about);
			else
				printf("%-*s%s\n", HELP_COL, left, c->about);
		}
		printf("Run '%s COMMAND --help' for the options of a command.\n", p->name);
	} else {
		const char *ops = p->operands ? p->operands : "";
		printf("Usage: %s [OPTIONS]%s%s\n%s\n", p->name, *ops ? " " : "", ops, p->about);
	}
	print_tables(p->tables, "Options");
	printf("\n%s:\n", p->cmds ? "Global options (before or after the command)" : "Common options");
	print_shared(p->shared);
	printf("\n%s\nSee %s(1).\n", p->exits, p->name);
}

static void help_command(const struct vr_cli_prog *p, const struct vr_cli_cmd *c)
{
	const char *ops = c->operands ? c->operands : "";
	printf("Usage: %s %s [OPTIONS]%s%s\n%s\n", p->name, c->name, *ops ? " " : "", ops, c->about);
	print_tables(c->tables, "Options");
	print_tables(p->tables, "Options");
	printf("\nGlobal options:\n");
	print_shared(p->shared);
	printf("\n%s\nSee %s(1).\n", p->exits, p->name);
}

/* ---------------------------------------------------------- dump-options */

static void dump_opt(const char *cmd, const struct vr_opt *o, const char *man)
{
	if (o->flags & VR_OPT_HIDDEN)
		return;
	int a = has_arg(o);
	printf("opt %s --%s ", cmd, o->name);
	if (o->letter)
		printf("-%c ", o->letter);
	else
		printf("- ");
	printf("%s ", a == no_argument ? "none" : a == required_argument ? "required" : "optional");
	if (o->words) {
		printf("words=");
		for (int w = 0; o->words[w]; w++)
			printf("%s%s", w ? "," : "", o->words[w]);
	} else if (o->flags & VR_OPT_FILE) {
		printf("file");
	} else {
		printf("-");
	}
	printf(" %s\n", man ? man : "-");
}

static void dump_tables(const char *cmd, const struct vr_cli_table *t)
{
	for (int i = 0; i < VR_CLI_TABLES; i++)
		for (const struct vr_opt *o = topts(&t[i]); o && o->name; o++)
			dump_opt(cmd, o, t[i].man);
}

static void dump_options(const struct vr_cli_prog *p)
{
	printf("prog %s %s\n", p->name, p->complete & VR_CLI_COMPLETE_FILES ? "files" : "-");
	dump_tables("-", p->tables);
	for (const struct shared_opt *s = shared_opts; s->o.name; s++)
		if (shared_on(s, p->shared))
			dump_opt("-", &s->o, NULL);
	for (const struct vr_cli_cmd *c = p->cmds; c && c->name; c++) {
		printf("cmd %s %s\n", c->name, c->complete & VR_CLI_COMPLETE_FILES ? "files" : "-");
		dump_tables(c->name, c->tables);
	}
}

/* ---------------------------------------------------------------- parse */

/* Apply the defaults of a level's tables. */
static void apply_defaults(const struct vr_cli_table *t, void *opts)
{
	char err[256];
	for (int i = 0; i < VR_CLI_TABLES; i++)
		for (const struct vr_opt *o = topts(&t[i]); o && o->name; o++)
			if (o->def &&
			    parse_value(o, (char *)opts + t[i].base + o->off, o->def, err,
					       sizeof err)) {
				fprintf(stderr, "%s: bad default of --%s: %s\n", vr_prog(), o->name,
					err);
				abort();
			}
}

enum { PARSED = 0, DONE_OK = -1 };

/* One getopt_long pass over argv with the options of f. stop_at_operand:
 * "+" (the command comes next). Returns PARSED, DONE_OK (help, version or
 * dump printed) or VR_EUSAGE (message printed). */
static int parse_pass(const struct vr_cli_prog *p, const struct vr_cli_cmd *c,
		      const struct flat *f, int argc, char **argv, void *opts,
		      int stop_at_operand)
{
	struct option lo[MAX_ENTS + 1];
	char shorts[3 * MAX_ENTS + 4];
	size_t sn = 0;
	if (stop_at_operand)
		shorts[sn++] = '+';
	shorts[sn++] = ':';
	for (int i = 0; i < f->n; i++) {
		const struct vr_opt *o = f->e[i].o;
		int a = has_arg(o);
		lo[i] = (struct option){o->name, a, NULL, 1000 + i};
		if (o->letter) {
			shorts[sn++] = (char)o->letter;
			if (a == required_argument)
				shorts[sn++] = ':';
			else if (a == optional_argument) {
				shorts[sn++] = ':';
				shorts[sn++] = ':';
			}
		}
	}
	shorts[sn] = '\0';
	lo[f->n] = (struct option){NULL, 0, NULL, 0};

	opterr = 0;
	optind = 0; /* glibc: a fresh scan */
	int ch;
	while ((ch = getopt_long(argc, argv, shorts, lo, NULL)) != -1) {
		int idx = -1;
		if (ch >= 1000 && ch < 1000 + f->n) {
			idx = ch - 1000;
		} else if (ch == '?' || ch == ':') {
			const char *text = argv[optind - 1];
			int known = optopt >= 1000 ? optopt - 1000 : -1;
			for (int i = 0; known < 0 && optopt && i < f->n; i++)
				if (f->e[i].o->letter == optopt)
					known = i;
			if (ch == ':' && known >= 0) {
				if (!strncmp(text, "--", 2))
					vr_error("option '--%s' needs an argument", f->e[known].o->name);
				else
					vr_error("option '-%c' needs an argument", f->e[known].o->letter);
			}
			else if (known >= 0 && !strncmp(text, "--", 2) && strchr(text, '='))
				vr_error("option '--%s' takes no argument", f->e[known].o->name);
			else if (optopt && optopt < 1000)
				vr_error("unknown option '-%c'", optopt);
			else
				vr_error("unknown option '%s'", text);
			return vr_usage_hint();
		} else {
			for (int i = 0; i < f->n; i++)
				if (f->e[i].o->letter == ch)
					idx = i;
		}
		if (idx < 0)
			return vr_usage_hint();
		const struct ent *e = &f->e[idx];
		if (e->o->fn == act_help) {
			if (c)
				help_command(p, c);
			else
				help_program(p);
			return DONE_OK;
		}
		if (e->o->fn == act_version) {
			print_version();
			return DONE_OK;
		}
		if (e->o->fn == act_dump) {
			dump_options(p);
			return DONE_OK;
		}
		char err[512];
		void *field = (char *)opts + e->base + e->o->off;
		int r = parse_value(e->o, field, optarg, err, sizeof err);
		if (r) {
			vr_error("--%s: %s", e->o->name, err);
			return r == VR_EUSAGE ? vr_usage_hint() : r;
		}
		if (e->o->given_off)
			*(int *)((char *)opts + e->base + e->o->given_off) = 1;
	}
	return PARSED;
}

/* "missing KEY": the first operand word not given. */
static void missing_operand(const char *spec, int given)
{
	char word[64] = "an operand";
	const char *s = spec ? spec : "";
	for (int i = 0; *s; i++) {
		s += strspn(s, " ");
		size_t n = strcspn(s, " ");
		if (i == given) {
			size_t k = n < sizeof word - 1 ? n : sizeof word - 1;
			memcpy(word, s, k);
			word[k] = '\0';
			break;
		}
		s += n;
	}
	char *dots = strstr(word, "...");
	if (dots)
		*dots = '\0';
	vr_error("missing %s", word);
}

static int check_operands(const char *spec, int min, int max, int n, char **operands)
{
	if (n < min) {
		missing_operand(spec, n);
		return vr_usage_hint();
	}
	if (max >= 0 && n > max) {
		vr_error("unexpected argument '%s'", operands[max]);
		return vr_usage_hint();
	}
	return 0;
}

static void set_verbosity(const struct vr_cli_common *c)
{
	if (c->quiet)
		vr_log_set_verbosity(VR_QUIET);
	else
		vr_log_set_verbosity(VR_NORMAL + c->verbose);
}

void vr_cli_main(const struct vr_cli_prog *p, int argc, char **argv, void *opts)
{
	vr_log_init(argv[0]);
	vr_lifecycle_init();
	struct vr_cli_common *common = opts;
	static struct flat f; /* MAX_ENTS entries: off the stack */

	apply_defaults(p->tables, opts);
	for (const struct vr_cli_cmd *c = p->cmds; c && c->name; c++)
		apply_defaults(c->tables, opts);

	int rc, first;
	const struct vr_cli_cmd *cmd = NULL;
	if (!p->cmds) {
		flat_build(&f, p, NULL);
		rc = parse_pass(p, NULL, &f, argc, argv, opts, 0);
		first = optind;
	} else {
		flat_build(&f, p, NULL);
		rc = parse_pass(p, NULL, &f, argc, argv, opts, 1);
		if (rc == PARSED && optind >= argc) {
			vr_error("missing COMMAND");
			rc = vr_usage_hint();
		}
		if (rc == PARSED) {
			const char *name = argv[optind];
			for (const struct vr_cli_cmd *c = p->cmds; c->name; c++)
				if (!strcmp(c->name, name))
					cmd = c;
			if (!cmd) {
				vr_error("unknown command '%s'", name);
				rc = vr_usage_hint();
			}
		}
		if (rc == PARSED) {
			/* the command's own scan: its options and the global ones,
			 * before or after its operands */
			cur_cmd = cmd;
			int base = optind;
			flat_build(&f, p, cmd);
			rc = parse_pass(p, cmd, &f, argc - base, argv + base, opts, 0);
			first = base + optind;
		}
	}
	if (rc == DONE_OK)
		exit(fflush(stdout) == 0 ? VR_OK : VR_EIO);
	if (rc)
		exit(rc);
	int n = argc - first;
	char **operands = argv + first;
	if (cmd)
		rc = check_operands(cmd->operands, cmd->min_args, cmd->max_args, n, operands);
	else
		rc = check_operands(p->operands, p->min_args, p->max_args, n, operands);
	if (rc)
		exit(rc);
	set_verbosity(common);

	vr_metrics_start(p->name, common->metrics);
	if (cmd)
		vr_metrics_str("command", cmd->name);
	rc = cmd ? cmd->run(opts, n, operands) : p->run(opts, n, operands);
	if (p->finish)
		p->finish(opts, &rc);
	vr_metrics_finish(rc);
	vr_exit(rc);
}
