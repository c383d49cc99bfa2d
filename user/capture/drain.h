/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The drain (docs/capture.md, "Draining the ring buffer"): a thread that
 * only copies the capture's ring buffer records into a burst buffer
 * (stream/burst.h), so that the ring buffer is emptied at memory speed
 * whatever the decoders' pace, and promptly: a thread that sleeps between
 * batches is scheduled at once when woken, where the busy decoding thread
 * would wait for its turn.
 *
 * It is woken by the capture programs once a batch waits in the ring
 * buffer, and looks on its own every poll_ms. The capture loop takes the
 * records from the burst buffer (kt_burst_peek/pop) when the event fd is
 * readable; records dropped for want of room are counted there
 * (burst_dropped) and the first drop after the burst buffer was last
 * empty is logged.
 */
#ifndef KT_DRAIN_H
#define KT_DRAIN_H

#include <stdbool.h>
#include <stddef.h>

#include "stream/burst.h"

struct kt_drain;

/* The drain of ring buffer fd into b; its thread runs from kt_drain_start_thread(). */
struct kt_drain *kt_drain_new(int ringbuf_fd, struct kt_burst *b, int poll_ms);
/*
 * The VM events' ring buffer too (records of kind KT_BURST_VM_EVENT): read
 * after the capture's at each look, as records of both always were, so a
 * hypervisor's exit comes after the bytes it sent.
 */
int kt_drain_add_vm_events(struct kt_drain *d, int ringbuf_fd);
int kt_drain_start_thread(struct kt_drain *d);
/* Readable (an eventfd) when records were added to an empty burst buffer; kt_drain_ack() reads it. */
int kt_drain_event_fd(const struct kt_drain *d);
void kt_drain_ack(struct kt_drain *d);
/* The burst buffer was found empty by its reader: the next drop is logged again. */
void kt_drain_emptied(struct kt_drain *d);
/*
 * Stops the thread (if running), then empties the ring buffer into the
 * burst buffer once from the calling thread; the records read (< 0: error).
 */
int kt_drain_stop(struct kt_drain *d);
/*
 * The capture loop, between slices of decoding, empties the ring buffer
 * too unless the thread is at it (wait: after it): on a loaded node the
 * thread may wait for a CPU while the loop runs. The records read (0 when
 * the thread was at it and wait is false).
 */
int kt_drain_help(struct kt_drain *d, bool wait);
/* What the thread does once (shutdown's last looks). */
int kt_drain_once(struct kt_drain *d);
void kt_drain_free(struct kt_drain *d);

#endif
