/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The kernel side as one unit: loads the capture programs
 * (bpf/unix_capture.bpf.c for hybrid vsock, bpf/vsock_capture.bpf.c for
 * standard vsock), each with the best attach strategy the kernel allows, all
 * writing into one ring buffer and one set of counters.
 *
 * vsock capture depends on the vsock transport modules, which a host loads
 * when its first VM starts: until they are there (or while only the
 * tracepoint fallback works), kt_capture_tick() keeps trying.
 */
#ifndef KT_CAPTURE_H
#define KT_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capture/attach.h"
#include "bpf/stream_record.h"

struct kt_capture_cfg {
	enum kt_attach attach;
	/*
	 * The trace ports. unix: listeners "*_<port>", whose records carry no
	 * time (KT_F_UNTIMED: docs/capture.md, "Capture time"); vsock: host ports.
	 */
	const unsigned *ports;
	size_t n_ports;
	const char *const *prefixes; /* unix: also listeners starting with these */
	size_t n_prefixes;
	const char *const *suffixes; /* unix: also listeners ending with these */
	size_t n_suffixes;
	uint32_t ringbuf_bytes; /* power of two */
	/*
	 * Wakeup policy: 0, the reader is woken by each record it has not seen
	 * (the kernel's default); otherwise only once this many bytes wait in
	 * the ring buffer, and the reader must look on its own every few
	 * milliseconds (docs/capture.md, "Draining the ring buffer").
	 */
	uint32_t wakeup_bytes;
	bool vsock;             /* capture standard vsock too */
	bool vm_events;         /* bpf/vm_events.bpf.c too (user/capture/vm_capture.h) */
	/* vsock: guest ports the host connects to (the agent's ttrpc port) */
	const unsigned *guest_ports;
	size_t n_guest_ports;
};

/*
 * The batched wakeup policy the daemon uses: the reader is woken once a
 * sixteenth of the ring buffer waits (at most 256 KiB), well before it is
 * full at any rate a writer reaches and seldom enough that a burst costs
 * few wakeups; it looks on its own every KT_CAPTURE_LOOK_MS, so that no
 * record waits longer.
 */
#define KT_CAPTURE_LOOK_MS 5
static inline uint32_t kt_capture_batched_wakeup(uint32_t ringbuf_bytes)
{
	const uint32_t share = 16, max = 256u << 10;
	return ringbuf_bytes / share < max ? ringbuf_bytes / share : max;
}

struct kt_capture;

/* NULL (errors logged) when the hybrid-vsock capture cannot be attached. */
struct kt_capture *kt_capture_start(const struct kt_capture_cfg *cfg);
int kt_capture_ringbuf_fd(const struct kt_capture *c);
/* Sums the per-CPU kernel counters (enum kt_counter). */
int kt_capture_counters(const struct kt_capture *c, uint64_t out[KT_CNT__MAX]);
/*
 * Periodic (now_ns: CLOCK_MONOTONIC): every few seconds, (re)attaches vsock
 * capture when it becomes possible or better.
 */
void kt_capture_tick(struct kt_capture *c, uint64_t now_ns);
/* The VM events (user/capture/vm_capture.h); NULL when off or not loaded. */
struct kt_vm_capture *kt_capture_vm(const struct kt_capture *c);
/* "unix: tracepoint, vsock: fentry" */
const char *kt_capture_describe(const struct kt_capture *c, char *buf, size_t n);
void kt_capture_stop(struct kt_capture *c);

/*
 * Takeover (docs/takeover.md). The old daemon names every BPF descriptor
 * its capture holds: the shared ring buffer and counters (object "",
 * names below), each object's maps by name and its links as
 * "link:<program>" (programs reached by tail call instead: "tail:<program>"),
 * with the object's attach strategy. The new one adopts
 * them: it consumes the same ring buffer from where the old one stopped,
 * and holds the old links, so the programs never detach and the kernel's
 * stream offsets go on. Its own --capture-path and socket suffixes are
 * written to the adopted match configuration; the VM events are loaded
 * anew.
 *
 * vsock capture is the broker's: it (re)attaches it when a vsock transport
 * appears (kt_capture_tick runs there), so the daemon drops its own copy
 * once the broker runs (kt_capture_give_vsock) and, at a takeover, asks the
 * broker for its descriptors (kt_capture_each_vsock_fd, in the broker).
 */
#define KT_CAPTURE_EVENTS_MAP "kt_events"
#define KT_CAPTURE_COUNTERS_MAP "kt_counters"
#define KT_CAPTURE_LINK_PREFIX "link:"
/* a program reached by tail call from the unix capture's (bpf/vsock_tail.h) */
#define KT_CAPTURE_TAIL_PREFIX "tail:"

typedef void (*kt_capture_fd_fn)(void *ctx, const char *object, const char *name,
				 const char *strategy, int fd);
void kt_capture_each_fd(const struct kt_capture *c, kt_capture_fd_fn fn, void *ctx);
/*
 * In the broker: the descriptors of the vsock capture it holds now (its
 * own object, not what was taken over: the daemon names those).
 */
void kt_capture_each_vsock_fd(const struct kt_capture *c, kt_capture_fd_fn fn, void *ctx);
/*
 * In the daemon, once its broker (a fork, holding the same objects) runs:
 * it lets go of its copy of the vsock capture without detaching anything,
 * so that what the broker detaches later (an upgrade to a better
 * strategy) is detached for good. Its description stays.
 */
void kt_capture_give_vsock(struct kt_capture *c);
/* The daemon hands its capture over: stopping it later leaves the links attached. */
void kt_capture_let_go(struct kt_capture *c);

struct kt_capture_handed {
	char object[32];
	char name[96];
	char strategy[24];
	int fd;
};

/*
 * A capture made of the handed descriptors (taken over: closed at stop);
 * NULL with why in err when they are not a whole capture (the descriptors
 * then stay the caller's).
 */
struct kt_capture *kt_capture_adopt(const struct kt_capture_cfg *cfg,
				    const struct kt_capture_handed *h, size_t n, char *err,
				    size_t errlen);

#endif
