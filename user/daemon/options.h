/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Option tables: every command-line option declared once, in one entry
 * from which the getopt_long tables, the parsing and the --help text of
 * each command are made.
 *
 * An entry names the option (long name, optional short letter, argument
 * name), says which commands accept it (run, decode, the
 * kata-trace-forwarder form), how its argument is parsed (a kind, the
 * field of the configuration it sets, and the kind's limits), and, per
 * command, whether and how --help lists it (section, description lines).
 *
 * Parsing: kt_opts_parse() runs getopt_long over argv with the options of
 * one command and applies each as its kind says; a bad value or an
 * unknown option is a usage error: "katatrace-bpf CMD: MESSAGE" and "Try
 * 'katatrace-bpf CMD --help'." on stderr, exit status 2. Messages name
 * the option by its long name (an alias by the option it stands for), and
 * quote the value as given.
 *
 * --help: kt_opts_help() prints the command's head text, then each of its
 * sections ("Title:" unless untitled, a blank line between sections) with
 * the options listed there, in table order unless a rank says otherwise,
 * then its tail text. An option's line is "  " + label ("-l, --log-level
 * LEVEL" or "--format auto|json|bincode"), padded to the command's
 * column, then its first description line; a label too wide for the
 * column is followed by two spaces and the first line if that fits in 80
 * characters, else the description starts on the next line. Further
 * description lines are indented to the column. Description lines are
 * written in the table as they are printed: nothing is re-wrapped, but a
 * NUMBER option's "{default}" is replaced by its default value (from the
 * set's defaults function; a multiple of 1 GiB or 1 MiB written with the
 * G or M suffix), so that a default is only stated where it is set.
 */
#ifndef KT_OPTIONS_H
#define KT_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The command lines a table describes. */
enum kt_cmd {
	KT_CMD_RUN,
	KT_CMD_DECODE,
	KT_CMD_FORWARDER, /* no command, or installed as kata-trace-forwarder */
	KT_CMD_PROBE,
	KT_CMD__N,
};
#define KT_CMD_BIT(c) (1u << (c))

/* Most options in one table (the getopt tables are built on the stack). */
#define KT_OPTS_MAX 80

enum kt_opt_kind {
	KT_OPT_FLAG,   /* no argument: stores .flag (a bool field) */
	KT_OPT_NUMBER, /* unsigned, .min...max, K/M/G (binary) suffixes; .pow2 */
	KT_OPT_STRING, /* stored as given; not empty if .empty names what it is */
	KT_OPT_FILE,   /* a file name, not empty; whether it opens is checked later */
	KT_OPT_CHOICE, /* one of the names .arg (or .values) lists, "a|b|c" */
	KT_OPT_LIST,   /* repeatable: appended to an array of at most .max */
	KT_OPT_CUSTOM, /* .custom does it all */
};

/* One value of a choice and what it stores (into an enum field). */
struct kt_opt_choice {
	const char *name;
	int value;
};

struct kt_opt;

/* The command line being parsed, for custom options and usage errors. */
struct kt_opt_use {
	enum kt_cmd cmd;
	const char *cmd_name; /* in usage errors: "run", "decode" */
	const char *opt;      /* "--vsock-cid" */
};

/* How --help of one command lists an option. */
struct kt_opt_doc {
	unsigned char section; /* id of one of the command's sections; 0: not listed */
	unsigned char rank;    /* order within the section; ties in table order */
	unsigned char flags;   /* KT_DOC_* */
	const char *text;      /* description lines, '\n' between them */
};
#define KT_DOC_LONG 1 /* label without the short form */
#define KT_DOC_JOIN 2 /* no line of its own: the label joins the one listed before */

struct kt_opt {
	const char *name;  /* long option, without "--" */
	char short_name;   /* 0: none */
	const char *arg;   /* argument name ("N", "sink|tap"); NULL: none (FLAG) or, for a
			      CHOICE, its .choices names joined by '|' */
	unsigned cmds;     /* KT_CMD_BIT()s of the commands that accept it */
	/* Another option this one is a second name of: parsed as that one. */
	const char *alias;
	enum kt_opt_kind kind;
	size_t off, size;  /* the field it sets (LIST: the array) */
	size_t count_off;  /* LIST: its size_t count */
	bool flag;         /* FLAG: the value stored */
	uint64_t min, max; /* NUMBER: range; LIST: .max values */
	bool pow2;         /* NUMBER: a power of two */
	const char *empty; /* STRING, LIST: "%s: empty <empty>" when "" */
	/* CHOICE: name -> value, or else .parse (0, or -1 for anything else) */
	const struct kt_opt_choice *choices;
	int (*parse)(void *cfg, const char *arg);
	const char *values; /* CHOICE: names for its usage error if .arg is a word */
	/* STRING, LIST: 0, or -1 with why (as "--opt: why") */
	int (*check)(const char *arg, char *why, size_t whylen);
	void (*custom)(void *cfg, const struct kt_opt_use *u, const char *arg);
	struct kt_opt_doc doc[KT_CMD__N];
};

/* A command's --help around its options. */
struct kt_cmd_help {
	const char *name; /* "run": its usage errors; NULL: the table has no such command */
	const char *head; /* literal text before the options */
	struct {
		unsigned char id;  /* what struct kt_opt_doc.section names it by (not 0) */
		const char *title; /* NULL: untitled */
	} sections[8];
	size_t n_sections;
	int column;       /* labels are padded to this width (after two spaces) */
	const char *tail; /* literal text after them: notes, examples */
};

struct kt_optset {
	const struct kt_opt *opts;
	size_t n_opts;
	struct kt_cmd_help help[KT_CMD__N];
	/* The configuration the options set, and how it starts: what "{default}" shows. */
	size_t cfg_size;
	void (*defaults)(void *cfg);
};

bool kt_opt_accepts(const struct kt_opt *o, enum kt_cmd cmd);
/* The option that parses o: o itself, or the one it is an alias of. */
const struct kt_opt *kt_opt_target(const struct kt_optset *set, const struct kt_opt *o);
const struct kt_opt *kt_opt_find(const struct kt_optset *set, const char *name);

/*
 * Parses the options of argv (argv[0] is the command) into cfg; returns
 * the index of the first operand. Exits on a usage error (status 2) and
 * where an option's custom handler does (--help, --version).
 */
int kt_opts_parse(const struct kt_optset *set, enum kt_cmd cmd, void *cfg, int argc, char **argv);

/* The --help text of cmd. */
void kt_opts_help(const struct kt_optset *set, enum kt_cmd cmd, FILE *o);

/*
 * o's description for cmd as --help prints it ("{default}" replaced), in
 * out; defaults: a configuration as the set's defaults function leaves it.
 * -1 if it does not fit.
 */
int kt_opt_doc_text(const struct kt_opt *o, enum kt_cmd cmd, const void *defaults, char *out,
		    size_t size);

/* The label --help shows for o in cmd: "-l, --log-level LEVEL". */
void kt_opt_label(const struct kt_opt *o, enum kt_cmd cmd, char *out, size_t size);

__attribute__((noreturn, format(printf, 2, 3))) void kt_opt_usage_error(const char *cmd_name,
									const char *fmt, ...);

/* An unsigned number (suffixes K, M, G: binary) in min..max; else a usage error. */
uint64_t kt_opt_number(const struct kt_opt_use *u, const char *arg, uint64_t min, uint64_t max);

#endif
