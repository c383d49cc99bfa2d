/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The kernel side of the VM spans (bpf/vm_events.bpf.c): loads it, tells it
 * which executables are hypervisors, attaches sched_process_exec/exit at
 * once and kvm_exit and the vsock transport's tracepoints whenever their
 * modules are there (kt_vm_capture_tick), and finds the hypervisors that
 * run already (kt_vm_scan_running) so that their exits are seen too.
 */
#ifndef KT_VM_CAPTURE_H
#define KT_VM_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpf/vm_events.h"

struct kt_vm_capture;

/*
 * Loads and attaches the exec/exit programs; counters_fd is the capture's
 * counter map (shared). NULL (logged) if they do not load or attach.
 */
struct kt_vm_capture *kt_vm_capture_start(int counters_fd);
int kt_vm_capture_ringbuf_fd(const struct kt_vm_capture *c);
/* Tracks an already running hypervisor from now on (its exit is reported). */
int kt_vm_capture_track(struct kt_vm_capture *c, uint32_t pid);
/* Attaches kvm_exit and the vsock tracepoints once they exist. */
void kt_vm_capture_tick(struct kt_vm_capture *c);
/* "exec/exit, kvm_exit, vsock" with what is attached. */
const char *kt_vm_capture_describe(const struct kt_vm_capture *c, char *buf, size_t n);
void kt_vm_capture_stop(struct kt_vm_capture *c);

/* A hypervisor process found running, as /proc tells. */
struct kt_vm_running {
	uint32_t pid;
	uint64_t start_boot_ns; /* CLOCK_BOOTTIME of its start (/proc/<pid>/stat) */
	char exe[64];           /* basename of its executable */
	size_t args_len;
	char args[KT_VM_ARGS_LEN]; /* command line, NUL-separated, possibly cut */
};

/*
 * Calls fn for every process under proc_root whose executable is a
 * hypervisor; returns how many. Needs to read other users' /proc entries.
 */
size_t kt_vm_scan_running(const char *proc_root,
			  void (*fn)(void *ctx, const struct kt_vm_running *r), void *ctx);

#endif
