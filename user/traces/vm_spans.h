/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Spans about the VMs themselves, synthesised from kernel events
 * (bpf/vm_events.h) with no runtime tracing (docs/hypervisor-spans.md):
 *
 *  kata.vm           INTERNAL, one per hypervisor process, from exec (or its
 *                    start in /proc when it ran before us) to exit; trace id
 *                    and span id are the sandbox's (kt_sandbox_ids), so
 *                    it is the root the ttrpc spans of the sandbox hang under
 *  vsock.connection  INTERNAL, one per vsock connection between a guest and
 *                    the host, child of its sandbox's kata.vm span
 *
 * Everything in the events comes from the kernel, but the command lines in
 * them are what a process chose to pass: parsed with bounds, ids checked.
 */
#ifndef KT_VM_SPANS_H
#define KT_VM_SPANS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "model/record_sink.h"
#include "sandbox/sandbox_path.h"
#include "model/span.h"
#include "bpf/vm_events.h"
#include "sandbox/vsock_owner.h"

/* ------------------------------------------------------------ span building */

struct kt_vm_info {
	uint32_t pid;
	uint64_t start_unix_ns, end_unix_ns;
	bool start_observed;  /* false: started before katatrace-bpf, start from /proc */
	uint32_t exit_status; /* the kernel's exit code: status << 8 | signal */
	bool kvm_counted;     /* kvm_exit was attached */
	uint64_t kvm_exits;
	const char *exe;        /* basename of the executable */
	const char *hypervisor; /* "qemu", "cloud-hypervisor", ...; NULL unknown */
	const char *sandbox_id; /* NULL: unknown (own random trace) */
};

struct kt_vsock_conn_info {
	uint32_t guest_cid, guest_port, host_port;
	uint32_t initiator;   /* enum kt_vm_initiator */
	uint32_t end;         /* enum kt_vm_end; KT_VM_END_NONE: end not seen ("untracked") */
	bool bytes_known;     /* false for untracked ends */
	uint64_t bytes_to_host, bytes_to_guest;
	uint64_t start_unix_ns, end_unix_ns;
	const char *sandbox_id; /* NULL: unknown (own random trace, no parent) */
};

/* Build into *out, everything in a. 0, or -1 when a's limit is reached. */
int kt_vm_span_build(const struct kt_vm_info *vm, struct kt_arena *a, struct kt_span *out);
int kt_vsock_span_build(const struct kt_vsock_conn_info *c, struct kt_arena *a,
			struct kt_span *out);

/*
 * What a hypervisor's command line (NUL-separated, n bytes, maybe cut) says:
 * the sandbox id from QEMU's "-name sandbox-<id>" or from a Kata runtime
 * path (run_root prefixed, user/sandbox/sandbox_path.h) in any argument, and the
 * guest CID of a "guest-cid=N" device property. Unknown: "" and 0.
 */
void kt_vm_cmdline_parse(const char *args, size_t n, const char *run_root,
			 char sandbox[KT_SANDBOX_ID_MAX + 1], uint32_t *guest_cid);

/* ------------------------------------------------------------ the daemon's state */

struct kt_sandbox_registry;

struct kt_vm_spans_cfg {
	const struct kt_sandbox_registry *registry; /* may be NULL */
	const char *run_root;                        /* "" = / */
	/* Guest CID -> hypervisor and sandbox (as the pipeline's); may be NULL. */
	bool (*owner_lookup)(void *ctx, uint32_t cid, const char *writer_comm,
			     struct kt_vsock_owner *out);
	void *owner_ctx;
	/* CLOCK_REALTIME - CLOCK_BOOTTIME, ns (for /proc start times); 0: measured now */
	int64_t boot_to_unix_ns;
};

struct kt_vm_spans;

/* Spans go to sink's span function (copied). */
struct kt_vm_spans *kt_vm_spans_new(const struct kt_vm_spans_cfg *cfg,
				    const struct kt_record_sink *sink);
/* One record of the vm_events ring buffer; malformed ones are counted and dropped. */
void kt_vm_spans_record(struct kt_vm_spans *v, const void *rec, size_t size);
/* A hypervisor that ran before katatrace-bpf (kt_vm_scan_running). */
void kt_vm_spans_running(struct kt_vm_spans *v, uint32_t pid, uint64_t start_boot_ns,
			 const char *exe, const char *args, size_t args_len);
/* Shutdown: connections still open become spans ending now, end "untracked". */
void kt_vm_spans_finish(struct kt_vm_spans *v);
void kt_vm_spans_free(struct kt_vm_spans *v);

#endif
