/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reader of what bpftrace 0.17 writes on stdout with `-f json`: one JSON
 * object per line, {"type": T, "data": D}, and blank lines (two before the
 * maps printed at exit). Takes the bytes as they come from the pipe, in
 * chunks of any size; cuts lines, parses each with json-c and gives OTLP
 * log records to a record sink. The shapes are those of the outputs
 * recorded in tests/vectors/bpftrace/ (README.md there says how).
 *
 * Every record carries the origin given at creation (its resource: the
 * sandbox or pod probed), severity INFO, the time its line was read as
 * time and observed time (bpftrace writes each line as it handles the
 * event, and its JSON has no time of its own), bpftrace.output = T, and:
 *
 *   printf      {"data": "hello 42\n"}: one record per line of the text,
 *               body = the line without its newline. bpftrace writes every
 *               printf() call as one object, never merged or split: text
 *               without a newline is a record of its own, "\n" one empty
 *               record, "" none.
 *   time, join, syscall (system()), cat
 *               text, as printf ("join" has no newline).
 *   value       print() of a non-map: body = the string, or the JSON text
 *               of anything else ("[1,\"two\"]" for a tuple).
 *   map         {"@x": 5} or {"@c": {"bash": 3}}: one record per map, body
 *               = bpftrace.map = the map's name, one attribute per entry,
 *               named as bpftrace's text output names it: "@x", "@c[bash]",
 *               "@pc[42,bash]" (keys of several parts as bpftrace joins
 *               them: with a comma); integers as integers, strings as
 *               strings, anything else as its JSON text.
 *   hist        {"@h": [{"min": 2, "max": 3, "count": 5}, ...]} (keyed:
 *               {"@h": {"bash": [...]}}): one record per map, an attribute
 *               per bucket, "@h: [2, 4)" = 5 (keyed "@h[bash]: [2, 4)"),
 *               the bucket written as bpftrace's text output writes it but
 *               with exact numbers: "[0]", "[2, 4)", "(..., 0)" below the
 *               range (no "min"), "[100, ...)" above it (no "max").
 *   stats       stats(): {"@s": {"count": 2, "average": 15, "total": 30}}
 *               -> "@s: count" = 2, "@s: average", "@s: total" (keyed:
 *               "@s[bash]: count", ...); avg() is a stats map too, with a
 *               plain value: {"@a": 15} -> "@a" = 15, {"@a": {"2": 7}} ->
 *               "@a[2]" = 7. A keyed avg() whose keys are exactly count,
 *               average and total reads as a stats() (bpftrace writes both
 *               the same way).
 *   helper_error  {"helper": "map_delete_elem", "retcode": -2, "line": 1,
 *               "col": 40} (-k, no "data"): severity WARN, body "Failed to
 *               map_delete_elem: No such file or directory (-2)", and
 *               bpftrace.helper, bpftrace.retcode, bpftrace.line,
 *               bpftrace.column.
 *   attached_probes  {"probes": N}: no record; N is kept in the totals.
 *               bpftrace writes it before it attaches them, not after.
 *   lost_events {"events": N}: no record; N is added to the totals and the
 *               bpftrace_lost_events counter, and said as a warning.
 *
 * bpftrace 0.17 escapes every byte above 0x7f of a string as "\uffffffXX"
 * (a sign-extended char); such escapes are turned back into the byte XX.
 * Bytes that are then not UTF-8 become U+FFFD, and every record of that
 * line says katatrace.log.utf8_repaired = true.
 *
 * Untrusted input: a line is at most max_line bytes (its newline not
 * counted); a longer one is dropped with a warning and counted, and reading
 * resumes after its newline: at most max_line bytes are held between
 * calls. A line that is not such JSON (not JSON, not an object, no "type",
 * a "data" of the wrong type, an unknown type, a NUL byte, nesting deeper
 * than KT_BPFTRACE_JSON_DEPTH) is dropped and counted, with a warning that
 * says what was wrong and shows its start. Warnings are rate-limited (one
 * per KT_BPFTRACE_WARN_NS, with the count of those held back); the counts
 * are in the totals and base/stats.h. A map of more entries (histogram
 * buckets, stats fields) than KT_BPFTRACE_MAX_ENTRIES keeps the first ones
 * and says how many it dropped in bpftrace.entries_dropped. A record's
 * arena is bounded by what it holds: texts of its line, and entry keys
 * (a map's key is named in each of its buckets).
 *
 * One reader per bpftrace process, fed by one thread.
 */
#ifndef KT_BPFTRACE_JSON_H
#define KT_BPFTRACE_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "model/record_sink.h"
#include "model/span_record.h"

/* The longest line read (its newline not counted): the default max_line. */
#define KT_BPFTRACE_MAX_LINE (1u << 20)
/* max_line is raised to this: every line bpftrace writes about itself fits. */
#define KT_BPFTRACE_MIN_MAX_LINE 64
/* Deepest JSON nesting taken, containers counted (bpftrace's deepest, a keyed hist(), is 5). */
#define KT_BPFTRACE_JSON_DEPTH 16
/* Most entry attributes of one map record (bpftrace's default map holds 4096 keys). */
#define KT_BPFTRACE_MAX_ENTRIES 4096
/* Warnings about the output: at most one per this interval. */
#define KT_BPFTRACE_WARN_NS 1000000000ull

struct kt_bpftrace_totals {
	uint64_t lines;		  /* lines read, blank ones and bad ones included */
	uint64_t records;	  /* log records given to the sink */
	uint64_t malformed;	  /* lines dropped: not JSON, wrong shape, unknown type, too long */
	uint64_t too_long;	  /* of which longer than max_line */
	uint64_t lost_events;	  /* sum of lost_events */
	uint64_t probes;	  /* attached_probes: written before bpftrace attaches them */
	uint64_t entries_dropped; /* map entries beyond KT_BPFTRACE_MAX_ENTRIES */
	uint64_t no_memory;	  /* records not made for want of memory */
};

struct kt_bpftrace_reader;

/*
 * A reader whose records carry origin (a reference is taken; NULL: none).
 * max_line: 0 for KT_BPFTRACE_MAX_LINE; raised to KT_BPFTRACE_MIN_MAX_LINE.
 * label names the source in warnings ("bpftrace[1234]"; copied). NULL on
 * ENOMEM.
 */
struct kt_bpftrace_reader *kt_bpftrace_reader_new(struct kt_origin *origin, size_t max_line,
						  const char *label);
/*
 * n more bytes of the output. Each line they complete becomes its records,
 * stamped now_unix_ns (CLOCK_REALTIME) and given to sink, before the call
 * returns.
 */
void kt_bpftrace_feed(struct kt_bpftrace_reader *r, const void *p, size_t n,
		      uint64_t now_unix_ns, const struct kt_record_sink *sink);
/* The end of the output: a last line without its newline is read too. */
void kt_bpftrace_finish(struct kt_bpftrace_reader *r, uint64_t now_unix_ns,
			const struct kt_record_sink *sink);
const struct kt_bpftrace_totals *kt_bpftrace_reader_totals(const struct kt_bpftrace_reader *r);
/* Bytes held of a line not yet complete: at most max_line. */
size_t kt_bpftrace_reader_held(const struct kt_bpftrace_reader *r);
size_t kt_bpftrace_reader_max_line(const struct kt_bpftrace_reader *r);
void kt_bpftrace_reader_free(struct kt_bpftrace_reader *r);

#endif
