/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A process for the span probe tests (tests/unit/test_probe_capture.c,
 * tests/integration/probe.sh).
 *
 *   probe_target CALLS [SLEEP_US] [NEST]
 *   PROBE_TARGET_ARGS="CALLS [SLEEP_US] [NEST]" probe_target [ANY ARGUMENTS]
 *
 * Starts two threads, prints its pid on a line, and waits for a byte on
 * stdin. Then the threads call work() CALLS times in all: call i (0..CALLS-1)
 * is made by thread i % 2 as work(i, 100 + i % 2), sleeps SLEEP_US
 * microseconds (default 2000) with usleep and returns i * 31 + 100 + i % 2.
 * Once both threads are done, the main thread calls nest(NEST) (when NEST >
 * 0): NEST nested calls of nest(), the innermost first to return, nest(d)
 * returning d. It prints "done" and exits at the end of stdin.
 *
 * With PROBE_TARGET_ARGS set, the parameters are read from it and the
 * arguments are left alone: a copy named containerd-shim-kata-v2 or
 * virtiofsd plays a Kata sandbox's shim or virtiofsd with their command
 * lines. With PROBE_TARGET_FORK=1 too, it first forks, as virtiofsd does:
 * the parent only waits for the child, which does all of the above, and
 * exits with its status; the child is killed when its parent dies.
 */
#define _DEFAULT_SOURCE /* usleep */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define WORKERS 2
#define B_BASE 100
#define A_FACTOR 31

/* Kept as its own function, never inlined, cloned or specialised: the probes' target. */
#if defined(__clang__)
#define PROBED __attribute__((noinline, used))
#else
#define PROBED __attribute__((noipa, used))
#endif

static unsigned sleep_us = 2000;
static int calls;

PROBED int work(int a, int b)
{
	usleep(sleep_us);
	return a * A_FACTOR + b;
}

PROBED int nest(int d)
{
	if (d <= 1)
		return 1;
	int r = nest(d - 1);
	__asm__ volatile("" : "+r"(r)); /* not a tail call: each level returns on its own */
	return r + 1;
}

static pthread_barrier_t go;

static void *worker(void *arg)
{
	int k = (int)(long)arg;
	volatile int sink = 0;
	pthread_barrier_wait(&go);
	for (int i = k; i < calls; i += WORKERS)
		sink += work(i, B_BASE + k);
	(void)sink;
	return NULL;
}

/* The parent of a PROBE_TARGET_FORK pair: the child's exit status, or 1. */
static int wait_child(pid_t child)
{
	int status;
	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR)
			return 1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

int main(int argc, char **argv)
{
	pthread_t t[WORKERS];
	const char *env = getenv("PROBE_TARGET_ARGS");
	int depth = 0;
	char c;

	if (env) {
		if (sscanf(env, "%d %u %d", &calls, &sleep_us, &depth) < 1) {
			fprintf(stderr, "PROBE_TARGET_ARGS: expected CALLS [SLEEP_US] [NEST]\n");
			return 2;
		}
		const char *f = getenv("PROBE_TARGET_FORK");
		if (f && strcmp(f, "1") == 0) {
			pid_t parent = getpid(), child = fork();
			if (child < 0)
				return 1;
			if (child > 0)
				return wait_child(child);
			/* the child goes with its parent, which is the one a test knows and stops */
			if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
				return 1;
		}
	} else {
		if (argc < 2 || argc > 4) {
			fprintf(stderr, "usage: %s CALLS [SLEEP_US] [NEST]\n", argv[0]);
			return 2;
		}
		calls = atoi(argv[1]);
		if (argc > 2)
			sleep_us = (unsigned)atoi(argv[2]);
		depth = argc > 3 ? atoi(argv[3]) : 0;
	}
	pthread_barrier_init(&go, NULL, WORKERS + 1);
	for (long k = 0; k < WORKERS; k++)
		if (pthread_create(&t[k], NULL, worker, (void *)k))
			return 1;
	printf("%d\n", (int)getpid());
	fflush(stdout);
	if (read(0, &c, 1) != 1)
		return 1;
	pthread_barrier_wait(&go);
	for (int k = 0; k < WORKERS; k++)
		pthread_join(t[k], NULL);
	if (depth > 0 && nest(depth) != depth)
		return 1;
	printf("done\n");
	fflush(stdout);
	while (read(0, &c, 1) > 0)
		;
	return 0;
}
