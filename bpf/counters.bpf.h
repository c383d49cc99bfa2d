/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The per-CPU counters (indices: enum in stream_record.h) of every program.
 * The loader creates the map once and has each object reuse its fd
 * (user/capture/capture.c, vm_capture.c), so there is one definition of it.
 */
#ifndef KT_COUNTERS_BPF_H
#define KT_COUNTERS_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "stream_record.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KT_CNT__MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

static __always_inline void count(__u32 idx, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);
	if (v)
		*v += n; /* per-CPU slot: no atomics needed */
}

#endif
