/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A process for the span probe tests (tests/unit/test_probe_capture.c).
 *
 *   probe_target CALLS [SLEEP_US] [NEST]
 *
 * Starts two threads, prints its pid on a line, and waits for a byte on
 * stdin. Then the threads call work() CALLS times in all: call i (0..CALLS-1)
 * is made by thread i % 2 as work(i, 100 + i % 2), sleeps SLEEP_US
 * microseconds (default 2000) with usleep and returns i * 31 + 100 + i % 2.
 * Once both threads are done, the main thread calls nest(NEST) (when NEST >
 * 0): NEST nested calls of nest(), the innermost first to return, nest(d)
 * returning d. It prints "done" and exits at the end of stdin.
 */
#define _DEFAULT_SOURCE /* usleep */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
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

int main(int argc, char **argv)
{
	pthread_t t[WORKERS];
	char c;

	if (argc < 2 || argc > 4) {
		fprintf(stderr, "usage: %s CALLS [SLEEP_US] [NEST]\n", argv[0]);
		return 2;
	}
	calls = atoi(argv[1]);
	if (argc > 2)
		sleep_us = (unsigned)atoi(argv[2]);
	int depth = argc > 3 ? atoi(argv[3]) : 0;
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
