/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Running Debian's bpftrace (0.17) for a probe's program, and reading it.
 *
 * Takes a program (-e) or a program file, more options and positional
 * parameters, and the origin its records are attributed to. Runs
 *
 *   bpftrace [args...] -f json -e PROGRAM -- [params...]
 *   bpftrace [args...] -f json -- FILE [params...]
 *
 * found as $KT_BPFTRACE when that is set (tests point it elsewhere), else
 * in $PATH (empty entries, the current directory, are not searched; unset:
 * /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin). bpftrace
 * gets its own process group, default signal dispositions and an empty
 * signal mask (whatever the caller blocks), stdin from /dev/null, no other
 * descriptor of the caller, and SIGTERM when the calling thread dies.
 *
 * Gives one descriptor to poll for input (EPOLLIN; it is an epoll instance
 * over bpftrace's stdout and stderr pipes, both non-blocking);
 * kt_bpftrace_read feeds stdout to a bpftrace/bpftrace_json.h reader,
 * whose records go to the caller's sink, and keeps the first
 * KT_BPFTRACE_STDERR_MAX bytes of stderr for error messages.
 * kt_bpftrace_stop ends it: SIGINT (bpftrace then runs END and prints its
 * maps), the rest of the output read, at most stop_ms to exit, then SIGKILL
 * to its process group. bpftrace 0.17 notices SIGINT only when it
 * interrupts its epoll_wait: one that comes while it attaches, or between
 * two waits, sets its flag and nothing more until the next event, which a
 * quiet program may never have. SIGINT is therefore sent again while
 * nothing comes out for KT_BPFTRACE_RESIGNAL_MS; once it writes (the blank
 * lines before its maps) it is left alone, since a SIGINT while it prints
 * the maps kills it (status 130, the maps lost).
 *
 * Errors are one sentence naming bpftrace; where bpftrace itself failed,
 * followed by the first KT_BPFTRACE_ERR_LINES lines of its stderr, one per
 * line, control characters shown as '?'. bpftrace 0.17 says "ERROR:
 * Unknown error -1: couldn't set RLIMIT_MEMLOCK" wherever it cannot raise
 * that limit (a container), and runs fine: that line is left out.
 *
 * Not thread-safe; one thread owns a run. The caller must not reap it
 * (waitpid(-1) in a SIGCHLD handler): its status would be lost (0).
 */
#ifndef KT_BPFTRACE_RUN_H
#define KT_BPFTRACE_RUN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bpftrace/bpftrace_json.h"
#include "model/record_sink.h"
#include "model/span_record.h"

/* Names the bpftrace to run instead of the one in PATH. */
#define KT_BPFTRACE_ENV "KT_BPFTRACE"
/* After SIGINT: time for END, the maps and the exit (default of stop_ms). */
#define KT_BPFTRACE_STOP_MS 5000
/* SIGINT again after this long without output (see above). */
#define KT_BPFTRACE_RESIGNAL_MS 500
/* After SIGKILL: time for the process to go. */
#define KT_BPFTRACE_KILL_MS 2000
/* Bytes of stderr kept for error messages (the rest is counted, not kept). */
#define KT_BPFTRACE_STDERR_MAX (16u << 10)
/* Lines of stderr in an error message. */
#define KT_BPFTRACE_ERR_LINES 8
/* Bytes read from stdout by one kt_bpftrace_read: the caller's loop stays fair. */
#define KT_BPFTRACE_READ_BUDGET (1u << 20)
/* Size asked for the stdout pipe, so that bursts do not stall bpftrace (and lose events). */
#define KT_BPFTRACE_PIPE_SIZE (1u << 20)

struct kt_bpftrace_spec {
	const char *program;	  /* -e PROGRAM; or */
	const char *file;	  /* a program file: exactly one of the two */
	const char *const *args;  /* options before the program ("-k"); NULL-ended; may be NULL */
	const char *const *params; /* positional parameters ($1, $2, ...); NULL-ended; may be NULL */
	struct kt_origin *origin; /* the records' resource: a reference is taken; may be NULL */
	size_t max_line;	  /* 0: KT_BPFTRACE_MAX_LINE */
	unsigned stop_ms;	  /* 0: KT_BPFTRACE_STOP_MS */
};

struct kt_bpftrace_run;

/*
 * Starts bpftrace. 0 and *out, or -1 with err: bpftrace not found (saying
 * how to install it), not executable, or no resources. A program bpftrace
 * refuses is not an error here: bpftrace exits, kt_bpftrace_read returns
 * 0 and kt_bpftrace_stop gives the status and bpftrace's message.
 */
int kt_bpftrace_start(const struct kt_bpftrace_spec *spec, struct kt_bpftrace_run **out,
		      char *err, size_t errlen);
/* The descriptor to poll (EPOLLIN); kt_bpftrace_read when it is ready. */
int kt_bpftrace_fd(const struct kt_bpftrace_run *run);
pid_t kt_bpftrace_pid(const struct kt_bpftrace_run *run);
/*
 * Reads what is there without blocking (at most KT_BPFTRACE_READ_BUDGET
 * bytes of stdout), records to sink. 1: more may come; 0: stdout and
 * stderr are closed (bpftrace ended: kt_bpftrace_stop collects it); -1: a
 * read failed (errno).
 */
int kt_bpftrace_read(struct kt_bpftrace_run *run, const struct kt_record_sink *sink);
/*
 * Ends the run: SIGINT unless bpftrace has closed its output already, its
 * output read to the end (records to sink, the last line too), at most
 * stop_ms to exit, then SIGKILL to its process group. Returns its exit
 * status as a shell gives it (128 + N for signal N), with err "" for 0 and
 * a message otherwise; -1 with err when it cannot be waited for. Once only.
 */
int kt_bpftrace_stop(struct kt_bpftrace_run *run, const struct kt_record_sink *sink, char *err,
		     size_t errlen);
/* What the output held so far: records, lines, malformed lines, lost events. */
const struct kt_bpftrace_totals *kt_bpftrace_run_totals(const struct kt_bpftrace_run *run);
/* Frees the run; one still running is killed (SIGKILL to its group) and reaped first. */
void kt_bpftrace_free(struct kt_bpftrace_run *run);

#endif
