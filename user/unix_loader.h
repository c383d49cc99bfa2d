/* SPDX-License-Identifier: Apache-2.0 */
/* Loads and attaches bpf/unix_capture.bpf.c with the best attach strategy. */
#ifndef KT_UNIX_LOADER_H
#define KT_UNIX_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "attach.h"
#include "stream_record.h"

struct kt_unix_loader_cfg {
	enum kt_attach attach;
	const unsigned *ports; /* capture "<path>_<port>" for each */
	size_t n_ports;
	const char *const *prefixes; /* and paths starting with these */
	size_t n_prefixes;
	uint32_t ringbuf_bytes; /* power of two */
};

struct kt_unix_loader;

/*
 * Tries the requested strategy (or, for auto, each in KT_ATTACH_ORDER) and
 * keeps the first that loads and attaches. Returns NULL with errors logged.
 */
struct kt_unix_loader *kt_unix_loader_start(const struct kt_unix_loader_cfg *cfg);
enum kt_attach kt_unix_loader_strategy(const struct kt_unix_loader *l);
int kt_unix_loader_ringbuf_fd(const struct kt_unix_loader *l);
/* Sums the per-CPU kernel counters (enum kt_counter). */
int kt_unix_loader_counters(const struct kt_unix_loader *l, uint64_t out[KT_CNT__MAX]);
void kt_unix_loader_stop(struct kt_unix_loader *l);

/* Builds the kernel match config; -1 if a pattern does not fit. */
struct kt_unix_match;
int kt_unix_match_build(const struct kt_unix_loader_cfg *cfg, struct kt_unix_match *m);

#endif
