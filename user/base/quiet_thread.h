/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Helper threads (the export thread, the metrics server's) take no
 * process-directed signal: the daemon and the probe command block SIGINT,
 * SIGTERM and SIGHUP to read them from a signalfd, maybe after starting a
 * thread, and the kernel would otherwise deliver them to a thread that has
 * them unblocked, to their default action (the process killed, nothing
 * exported, no summary). Faults stay unblocked: they belong to the thread
 * that causes them. A new thread inherits its creator's mask, so its
 * creator blocks them around pthread_create (or a library's start).
 */
#ifndef KT_QUIET_THREAD_H
#define KT_QUIET_THREAD_H

#include <signal.h>
#include <stddef.h>

/* Blocks every signal but the synchronous ones in the calling thread; its mask was *old. */
static inline void kt_quiet_signals(sigset_t *old)
{
	/* Signals a thread raises itself by what it executes. */
	static const int sync_signals[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT,
					    SIGSYS };
	sigset_t quiet;
	sigfillset(&quiet);
	for (size_t i = 0; i < sizeof(sync_signals) / sizeof(sync_signals[0]); i++)
		sigdelset(&quiet, sync_signals[i]);
	pthread_sigmask(SIG_SETMASK, &quiet, old);
}

/* The mask kt_quiet_signals replaced. */
static inline void kt_restore_signals(const sigset_t *old)
{
	pthread_sigmask(SIG_SETMASK, old, NULL);
}

#endif
