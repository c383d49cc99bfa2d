/* SPDX-License-Identifier: Apache-2.0 */
#include "capture/drain.h"

#include <bpf/libbpf.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/diag.h"
#include "base/quiet_thread.h"
#include "base/stats.h"

struct kt_drain {
	struct ring_buffer *rb;
	struct kt_burst *burst;
	int poll_ms;
	int efd;
	pthread_t th;
	/* libbpf's ring buffer takes one reader at a time: the thread, or the loop helping */
	pthread_mutex_t consume_mu;
	bool running;
	bool stop;     /* atomic */
	bool full;     /* atomic: a drop since the burst buffer was last empty */
	bool signaled; /* atomic: the event fd is readable */
};

static int take(struct kt_drain *d, uint32_t kind, void *data, size_t size)
{
	bool was_empty;
	if (kt_burst_push_ex(d->burst, kind, data, size, &was_empty)) {
		if (was_empty && !__atomic_exchange_n(&d->signaled, true, __ATOMIC_ACQ_REL)) {
			uint64_t one = 1;
			if (write(d->efd, &one, sizeof(one)) < 0)
				(void)0; /* the counter is full: already readable */
		}
		return 0;
	}
	KT_STAT_INC(burst_dropped);
	KT_STAT_ADD(burst_dropped_bytes, size);
	if (!__atomic_exchange_n(&d->full, true, __ATOMIC_ACQ_REL)) {
		struct kt_burst_stats st;
		kt_burst_stats(d->burst, &st);
		kt_warn("burst buffer full (%zu bytes of records held, --burst-buffer or "
			"--memory-budget reached): capture records are dropped, a gap in their "
			"connections' streams",
			st.bytes);
	}
	return 0;
}

static int on_record(void *ctx, void *data, size_t size)
{
	return take(ctx, KT_BURST_CAPTURE, data, size);
}

static int on_vm_event(void *ctx, void *data, size_t size)
{
	return take(ctx, KT_BURST_VM_EVENT, data, size);
}

int kt_drain_add_vm_events(struct kt_drain *d, int ringbuf_fd)
{
	int err = ring_buffer__add(d->rb, ringbuf_fd, on_vm_event, d);
	if (err)
		kt_err("vm events ring buffer: %s", strerror(-err));
	return err;
}

struct kt_drain *kt_drain_new(int ringbuf_fd, struct kt_burst *b, int poll_ms)
{
	struct kt_drain *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->burst = b;
	d->poll_ms = poll_ms;
	pthread_mutex_init(&d->consume_mu, NULL);
	d->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	d->rb = ring_buffer__new(ringbuf_fd, on_record, d, NULL);
	if (d->efd < 0 || !d->rb) {
		kt_err("ring buffer drain: %s", strerror(errno));
		kt_drain_free(d);
		return NULL;
	}
	return d;
}

static int consume(struct kt_drain *d)
{
	pthread_mutex_lock(&d->consume_mu);
	int n = ring_buffer__consume(d->rb);
	pthread_mutex_unlock(&d->consume_mu);
	return n;
}

static void *drain_main(void *arg)
{
	struct kt_drain *d = arg;
	int epfd = ring_buffer__epoll_fd(d->rb);
	struct epoll_event ev[4];
	while (!__atomic_load_n(&d->stop, __ATOMIC_ACQUIRE)) {
		/*
		 * Woken (or not, after poll_ms): then every ring is read, in the
		 * order they were added, since the capture programs write most
		 * records without waking anyone.
		 */
		int n = epoll_wait(epfd, ev, 4, d->poll_ms);
		if (n >= 0 || errno == EINTR)
			n = consume(d);
		else
			n = -errno;
		if (n < 0 && n != -EINTR) {
			kt_warn("ring buffer: %s", strerror(-n));
			usleep((useconds_t)d->poll_ms * 1000);
		}
	}
	return NULL;
}

int kt_drain_start_thread(struct kt_drain *d)
{
	sigset_t old;
	if (d->running)
		return 0;
	/* again after kt_drain_stop(): a takeover that failed resumes the drain */
	__atomic_store_n(&d->stop, false, __ATOMIC_RELEASE);
	kt_quiet_signals(&old);
	int err = pthread_create(&d->th, NULL, drain_main, d);
	kt_restore_signals(&old);
	if (err) {
		kt_err("ring buffer drain: cannot start its thread: %s", strerror(err));
		return -1;
	}
	d->running = true;
	return 0;
}

int kt_drain_event_fd(const struct kt_drain *d)
{
	return d->efd;
}

void kt_drain_ack(struct kt_drain *d)
{
	uint64_t n;
	/*
	 * Read, then clear: a signal written in between is read away with the
	 * flag still set, and the reader, which looks at the burst buffer right
	 * after, finds its records. Cleared first, that signal could be read
	 * away with the flag left set, and no later record would signal again.
	 */
	if (read(d->efd, &n, sizeof(n)) < 0)
		(void)0; /* not readable: nothing to take */
	__atomic_store_n(&d->signaled, false, __ATOMIC_RELEASE);
}

void kt_drain_emptied(struct kt_drain *d)
{
	__atomic_store_n(&d->full, false, __ATOMIC_RELEASE);
}

int kt_drain_help(struct kt_drain *d, bool wait)
{
	if (wait)
		pthread_mutex_lock(&d->consume_mu);
	else if (pthread_mutex_trylock(&d->consume_mu))
		return 0; /* the thread is at it */
	int n = ring_buffer__consume(d->rb);
	pthread_mutex_unlock(&d->consume_mu);
	return n;
}

int kt_drain_once(struct kt_drain *d)
{
	int n = consume(d);
	if (n < 0 && n != -EINTR)
		kt_warn("ring buffer: %s", strerror(-n));
	return n;
}

int kt_drain_stop(struct kt_drain *d)
{
	if (d->running) {
		__atomic_store_n(&d->stop, true, __ATOMIC_RELEASE);
		pthread_join(d->th, NULL);
		d->running = false;
	}
	return kt_drain_once(d);
}

void kt_drain_free(struct kt_drain *d)
{
	if (!d)
		return;
	if (d->running) {
		__atomic_store_n(&d->stop, true, __ATOMIC_RELEASE);
		pthread_join(d->th, NULL);
	}
	ring_buffer__free(d->rb);
	pthread_mutex_destroy(&d->consume_mu);
	if (d->efd >= 0)
		close(d->efd);
	free(d);
}
