/* SPDX-License-Identifier: Apache-2.0 */
#include "traces/vm_spans.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/diag.h"
#include "model/attrs.h"
#include "model/ids.h"
#include "sandbox/hypervisors.h"
#include "sandbox/qemu_args.h"
#include "sandbox/sandbox_meta.h"
#include "sandbox/sandbox_registry.h"
#include "base/stats.h"



#define VM_SPAN_ATTRS 12
#define VSOCK_SPAN_ATTRS 10
#define RECORD_ARENA (64u << 10)

/* ------------------------------------------------------------ span building */

/* A string value copied into the span's arena. */
static void add_str(struct kt_attrs *b, const char *key, const char *val)
{
	kt_attrs_copy(b, key, (struct kt_str){ val, strlen(val) });
}

static int begin(struct kt_attrs *b, struct kt_arena *a, size_t cap, struct kt_span *out,
		 const char *name)
{
	memset(out, 0, sizeof(*out));
	if (!kt_attrs_init(b, a, cap))
		return -1;
	out->name = (struct kt_str){ name, strlen(name) }; /* static */
	out->kind = KT_KIND_INTERNAL;
	out->ctx.trace_flags = 1; /* sampled */
	return 0;
}

static int end(struct kt_attrs *b, struct kt_span *out)
{
	out->attrs = (struct kt_kvlist){ b->n, b->kv };
	out->attrs_max_len = (uint32_t)b->cap;
	if (out->end_unix_nano < out->start_unix_nano)
		out->end_unix_nano = out->start_unix_nano;
	if (b->failed) {
		memset(out, 0, sizeof(*out));
		return -1;
	}
	return 0;
}

static void random_trace(struct kt_trace_id *t)
{
	t->hi = kt_random_span_id();
	t->lo = kt_random_span_id();
}

int kt_vm_span_build(const struct kt_vm_info *vm, struct kt_arena *a, struct kt_span *out)
{
	struct kt_attrs b;
	if (begin(&b, a, VM_SPAN_ATTRS, out, "kata.vm"))
		return -1;
	out->start_unix_nano = vm->start_unix_ns;
	out->end_unix_nano = vm->end_unix_ns;
	if (vm->sandbox_id && vm->sandbox_id[0]) {
		kt_sandbox_ids(vm->sandbox_id, strlen(vm->sandbox_id), &out->ctx.trace_id,
				     &out->ctx.span_id);
	} else {
		random_trace(&out->ctx.trace_id);
		out->ctx.span_id = kt_random_span_id();
		kt_attrs_bool(&b, "katatrace.sandbox.unknown", true);
	}
	kt_attrs_int(&b, "process.pid", vm->pid);
	if (vm->exe && vm->exe[0])
		add_str(&b, "process.executable.name", vm->exe);
	/* wait(2) status: exit code in bits 8..15, or the killing signal in 0..6 */
	uint32_t sig = vm->exit_status & 0x7f;
	if (sig) {
		kt_attrs_int(&b, "katatrace.vm.exit_signal", sig);
		/* the shell's convention, so that a dashboard sees a non-zero code */
		kt_attrs_int(&b, "process.exit.code", 128 + sig);
		out->status_code = KT_STATUS_ERROR;
	} else {
		kt_attrs_int(&b, "process.exit.code", (vm->exit_status >> 8) & 0xff);
	}
	if (vm->hypervisor)
		add_str(&b, "katatrace.hypervisor", vm->hypervisor);
	if (vm->kvm_counted)
		kt_attrs_int(&b, "katatrace.kvm.exits", (int64_t)vm->kvm_exits);
	if (!vm->start_observed)
		kt_attrs_bool(&b, "katatrace.vm.start_observed", false);
	kt_attrs_bool(&b, "katatrace.synthesized", true);
	return end(&b, out);
}

static const char *const initiators[] = { [KT_VM_INIT_GUEST] = "guest", [KT_VM_INIT_HOST] = "host" };
static const char *const ends[] = { [KT_VM_END_NONE] = "untracked",
				    [KT_VM_END_SHUTDOWN] = "shutdown",
				    [KT_VM_END_RST] = "rst" };

int kt_vsock_span_build(const struct kt_vsock_conn_info *c, struct kt_arena *a, struct kt_span *out)
{
	struct kt_attrs b;
	if (begin(&b, a, VSOCK_SPAN_ATTRS, out, "vsock.connection"))
		return -1;
	out->start_unix_nano = c->start_unix_ns;
	out->end_unix_nano = c->end_unix_ns;
	if (c->sandbox_id && c->sandbox_id[0]) {
		kt_sandbox_ids(c->sandbox_id, strlen(c->sandbox_id), &out->ctx.trace_id,
				     &out->parent_span_id);
	} else {
		random_trace(&out->ctx.trace_id);
		kt_attrs_bool(&b, "katatrace.sandbox.unknown", true);
	}
	out->ctx.span_id = kt_random_span_id();
	kt_attrs_int(&b, "katatrace.vsock.guest_cid", c->guest_cid);
	kt_attrs_int(&b, "katatrace.vsock.guest_port", c->guest_port);
	kt_attrs_int(&b, "katatrace.vsock.host_port", c->host_port);
	if (c->initiator == KT_VM_INIT_GUEST || c->initiator == KT_VM_INIT_HOST)
		add_str(&b, "katatrace.vsock.initiator", initiators[c->initiator]);
	if (c->bytes_known) {
		kt_attrs_int(&b, "katatrace.vsock.bytes_to_host", (int64_t)c->bytes_to_host);
		kt_attrs_int(&b, "katatrace.vsock.bytes_to_guest", (int64_t)c->bytes_to_guest);
	}
	add_str(&b, "katatrace.vsock.end", c->end <= KT_VM_END_RST ? ends[c->end] : "untracked");
	if (c->initiator == KT_VM_INIT_UNKNOWN)
		kt_attrs_bool(&b, "katatrace.vsock.start_observed", false);
	kt_attrs_bool(&b, "katatrace.synthesized", true);
	return end(&b, out);
}

/* ------------------------------------------------------------ command lines */

static bool id_from_path_arg(const char *arg, const char *run_root, char *sandbox)
{
	/* Any Kata runtime path inside the argument (path=..., --api-socket ...). */
	struct kt_sandbox_ref ref;
	if (!kt_sandbox_from_arg(arg, run_root, &ref))
		return false;
	memcpy(sandbox, ref.id, sizeof(ref.id));
	return true;
}

void kt_vm_cmdline_parse(const char *args, size_t n, const char *run_root,
			 char sandbox[KT_SANDBOX_ID_MAX + 1], uint32_t *guest_cid)
{
	char arg[KT_VM_ARGS_LEN + 1];
	bool after_name = false, by_name = false;

	sandbox[0] = '\0';
	*guest_cid = 0;
	if (!run_root)
		run_root = "";
	for (size_t i = 0; i < n;) {
		size_t len = strnlen(args + i, n - i);
		if (len > KT_VM_ARGS_LEN)
			len = KT_VM_ARGS_LEN;
		memcpy(arg, args + i, len);
		arg[len] = '\0';
		i += len + 1;
		if (after_name && kt_qemu_name_sandbox(arg, sandbox))
			by_name = true;
		after_name = kt_qemu_arg_is_name(arg);
		if (!by_name && !sandbox[0])
			id_from_path_arg(arg, run_root, sandbox);
		uint32_t cid = kt_qemu_arg_guest_cid(arg);
		if (cid)
			*guest_cid = cid;
	}
}

/* ------------------------------------------------------------ state */

struct proc {
	struct proc *next;
	uint32_t pid;
	uint32_t guest_cid;
	bool observed;
	uint64_t start_unix_ns; /* set for running ones */
	char exe[64];
	char sandbox[KT_SANDBOX_ID_MAX + 1];
};

struct conn {
	struct conn *next;
	struct kt_vm_conn_key key;
	uint64_t start_ns; /* CLOCK_MONOTONIC */
	uint32_t initiator;
	/* the CID's sandbox while the connection began: its hypervisor may be gone at the end */
	char sandbox[KT_SANDBOX_ID_MAX + 1];
};

struct kt_vm_spans {
	struct kt_vm_spans_cfg cfg;
	struct kt_record_sink sink;
	int64_t mono_to_unix;
	struct proc *procs;
	size_t n_procs;
	struct conn *conns;
	size_t n_conns;
};

static uint64_t ts_ns(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct kt_vm_spans *kt_vm_spans_new(const struct kt_vm_spans_cfg *cfg,
				    const struct kt_record_sink *sink)
{
	struct kt_vm_spans *v = calloc(1, sizeof(*v));
	if (!v)
		return NULL;
	v->cfg = *cfg;
	if (!v->cfg.run_root)
		v->cfg.run_root = "";
	v->sink = *sink;
	v->mono_to_unix = kt_mono_to_unix_offset();
	if (!v->cfg.boot_to_unix_ns)
		v->cfg.boot_to_unix_ns = (int64_t)ts_ns(CLOCK_REALTIME) - (int64_t)ts_ns(CLOCK_BOOTTIME);
	return v;
}

static uint64_t mono_unix(const struct kt_vm_spans *v, uint64_t mono)
{
	return kt_mono_to_unix(mono, v->mono_to_unix);
}

static struct proc **proc_find(struct kt_vm_spans *v, uint32_t pid)
{
	struct proc **pp = &v->procs;
	while (*pp && (*pp)->pid != pid)
		pp = &(*pp)->next;
	return pp;
}

/* The entry for pid, replaced if it exists; NULL over the bound or without memory. */
static struct proc *proc_put(struct kt_vm_spans *v, uint32_t pid)
{
	struct proc **pp = proc_find(v, pid);
	if (*pp) {
		struct proc *next = (*pp)->next;
		memset(*pp, 0, sizeof(**pp));
		(*pp)->next = next;
		(*pp)->pid = pid;
		return *pp;
	}
	struct proc *p = v->n_procs < KT_VM_MAX_PROCS ? calloc(1, sizeof(*p)) : NULL;
	if (!p)
		return NULL;
	p->pid = pid;
	p->next = v->procs;
	v->procs = p;
	v->n_procs++;
	return p;
}

static void fill_proc(struct kt_vm_spans *v, struct proc *p, const char *exe, const char *args,
		      size_t args_len)
{
	snprintf(p->exe, sizeof(p->exe), "%s", exe);
	kt_vm_cmdline_parse(args, args_len, v->cfg.run_root, p->sandbox, &p->guest_cid);
	kt_info("vm: hypervisor %s pid %u%s%s", p->exe, p->pid, p->sandbox[0] ? ", sandbox " : "",
		p->sandbox);
}

void kt_vm_spans_running(struct kt_vm_spans *v, uint32_t pid, uint64_t start_boot_ns,
			 const char *exe, const char *args, size_t args_len)
{
	struct proc *p = proc_put(v, pid);
	if (!p)
		return;
	p->observed = false;
	p->start_unix_ns = start_boot_ns + (uint64_t)v->cfg.boot_to_unix_ns;
	fill_proc(v, p, exe, args, args_len);
}

/*
 * The resource of a sandbox's spans: service.name "kata" (the span's own
 * resource, as for ttrpc spans) and the origin's katatrace.* / k8s.*
 * attributes from the registry, as the pipeline builds them.
 */
static struct kt_origin *sandbox_origin(const struct kt_vm_spans *v, const char *sandbox,
					const char *hypervisor, uint32_t pid, uint32_t cid)
{
	const struct kt_sandbox_entry *e =
		sandbox && sandbox[0] ? kt_registry_by_id(v->cfg.registry, sandbox) : NULL;
	const struct kt_sandbox_meta *m = e ? &e->meta : NULL;
	struct kt_kv kv[10];
	struct kt_attrs l; /* values kept as given: the origin copies them */
	kt_attrs_init_on(&l, kv, sizeof(kv) / sizeof(kv[0]), NULL);
	char label[KT_SANDBOX_ID_MAX + 32];

	kt_attrs_cstr(&l, "katatrace.transport", "kernel");
	kt_sandbox_meta_pod_attrs(&l, m);
	if (sandbox && sandbox[0])
		kt_attrs_cstr(&l, "katatrace.sandbox.id", sandbox);
	if (!hypervisor && m && m->hypervisor[0])
		hypervisor = m->hypervisor;
	if (hypervisor)
		kt_attrs_cstr(&l, "katatrace.hypervisor.name", hypervisor);
	if (!pid && m)
		pid = m->hypervisor_pid;
	if (pid)
		kt_attrs_int(&l, "katatrace.hypervisor.pid", pid);
	if (!cid && m)
		cid = m->guest_cid;
	if (cid)
		kt_attrs_int(&l, "katatrace.vsock.cid", cid);
	struct kt_kvlist list = kt_attrs_list(&l);
	snprintf(label, sizeof(label), "vm %s", sandbox && sandbox[0] ? sandbox : "(no sandbox)");
	return kt_origin_new(&list, sandbox && sandbox[0] ? sandbox : NULL, label);
}

static void emit(struct kt_vm_spans *v, struct kt_span_record *r, struct kt_origin *o)
{
	if (!o || !kt_span_record_set_service(r, "kata")) {
		kt_stat_drop(KT_REC_SPANS, KT_DROP_NO_MEMORY, 1);
		kt_origin_put(o);
		kt_span_record_free(r);
		return;
	}
	r->origin = o;
	r->source = KT_SPAN_FROM_HOST;
	KT_STAT_INC(spans_decoded);
	v->sink.span(v->sink.ctx, r);
}

static void on_exec(struct kt_vm_spans *v, const struct kt_vm_exec *e)
{
	char base[KT_VM_HV_NAME_LEN + 1];
	memcpy(base, e->exe, KT_VM_HV_NAME_LEN);
	base[KT_VM_HV_NAME_LEN] = '\0';
	struct proc *p = proc_put(v, e->hdr.pid);
	if (!p) {
		kt_warn("vm: hypervisor pid %u not followed: %d already", e->hdr.pid, KT_VM_MAX_PROCS);
		return;
	}
	p->observed = true;
	fill_proc(v, p, base, e->args, e->args_len < KT_VM_ARGS_LEN ? e->args_len : KT_VM_ARGS_LEN);
}

static void on_exit_ev(struct kt_vm_spans *v, const struct kt_vm_exit *e)
{
	struct proc **pp = proc_find(v, e->hdr.pid), *p = *pp;
	char comm[17];
	memcpy(comm, e->comm, 16);
	comm[16] = '\0';

	const struct kt_sandbox_entry *reg = kt_registry_by_pid(v->cfg.registry, e->hdr.pid);
	const char *sandbox = reg ? reg->meta.id : p && p->sandbox[0] ? p->sandbox : NULL;
	const char *exe = p ? p->exe : comm;
	struct kt_vm_info vm = {
		.pid = e->hdr.pid,
		.end_unix_ns = mono_unix(v, e->hdr.ts_ns),
		.exit_status = e->exit_code,
		.kvm_counted = (e->flags & KT_VM_F_KVM) != 0,
		.kvm_exits = e->kvm_exits,
		.exe = exe,
		.hypervisor = kt_hv_of_exe(exe),
		.sandbox_id = sandbox,
	};
	if (!vm.hypervisor)
		vm.hypervisor = kt_hv_of_comm(comm);
	if (e->flags & KT_VM_F_EXEC_SEEN) {
		vm.start_observed = true;
		vm.start_unix_ns = mono_unix(v, e->start_ns);
	} else {
		vm.start_unix_ns = p ? p->start_unix_ns : vm.end_unix_ns;
	}
	struct kt_span_record *r = kt_span_record_new(RECORD_ARENA);
	if (!r || kt_vm_span_build(&vm, &r->arena, &r->span)) {
		kt_stat_drop(KT_REC_SPANS, KT_DROP_NO_MEMORY, 1);
		kt_span_record_free(r);
	} else {
		emit(v, r, sandbox_origin(v, sandbox, vm.hypervisor, vm.pid, p ? p->guest_cid : 0));
	}
	if (p) {
		*pp = p->next;
		free(p);
		v->n_procs--;
	}
}

/* The sandbox behind a guest CID: registry, our hypervisors' command lines, the owner lookup. */
/* The sandbox of a guest CID, as the registry or a followed hypervisor knows it. */
static bool cid_sandbox_known(struct kt_vm_spans *v, uint32_t cid, char *out)
{
	out[0] = '\0';
	const struct kt_sandbox_entry *e = kt_registry_by_cid(v->cfg.registry, cid);
	if (e) {
		snprintf(out, KT_SANDBOX_ID_MAX + 1, "%s", e->meta.id);
		return true;
	}
	for (struct proc *p = v->procs; p; p = p->next)
		if (p->guest_cid == cid && p->sandbox[0]) {
			memcpy(out, p->sandbox, KT_SANDBOX_ID_MAX + 1);
			return true;
		}
	return false;
}

/* The same, else asked of whoever owns the CID now; known: what was known before. */
static void cid_sandbox(struct kt_vm_spans *v, uint32_t cid, const char *known, char *out)
{
	if (cid_sandbox_known(v, cid, out))
		return;
	if (known && known[0]) {
		memcpy(out, known, KT_SANDBOX_ID_MAX + 1);
		return;
	}
	struct kt_vsock_owner o;
	if (v->cfg.owner_lookup && v->cfg.owner_lookup(v->cfg.owner_ctx, cid, NULL, &o) &&
	    o.sandbox[0])
		memcpy(out, o.sandbox, KT_SANDBOX_ID_MAX + 1);
}

static void conn_span(struct kt_vm_spans *v, const struct kt_vsock_conn_info *info,
		      const char *known)
{
	char sandbox[KT_SANDBOX_ID_MAX + 1];
	cid_sandbox(v, info->guest_cid, known, sandbox);
	struct kt_vsock_conn_info c = *info;
	c.sandbox_id = sandbox[0] ? sandbox : NULL;
	struct kt_span_record *r = kt_span_record_new(RECORD_ARENA);
	if (!r || kt_vsock_span_build(&c, &r->arena, &r->span)) {
		kt_stat_drop(KT_REC_SPANS, KT_DROP_NO_MEMORY, 1);
		kt_span_record_free(r);
		return;
	}
	emit(v, r, sandbox_origin(v, sandbox, NULL, 0, c.guest_cid));
}

static struct conn **conn_find(struct kt_vm_spans *v, const struct kt_vm_conn_key *k)
{
	struct conn **pp = &v->conns;
	while (*pp && ((*pp)->key.guest_cid != k->guest_cid || (*pp)->key.guest_port != k->guest_port ||
		       (*pp)->key.host_port != k->host_port))
		pp = &(*pp)->next;
	return pp;
}

static void on_vsock(struct kt_vm_spans *v, const struct kt_vm_vsock *e)
{
	struct conn **pp = conn_find(v, &e->key), *c = *pp;

	if (e->hdr.type == KT_VM_VSOCK_OPEN) {
		if (!c && v->n_conns < KT_VM_MAX_CONNS && (c = calloc(1, sizeof(*c)))) {
			c->next = v->conns;
			v->conns = c;
			v->n_conns++;
		}
		if (c) {
			c->key = e->key;
			c->start_ns = e->start_ns;
			c->initiator = e->initiator;
			cid_sandbox_known(v, e->key.guest_cid, c->sandbox);
		}
		return;
	}
	char known[KT_SANDBOX_ID_MAX + 1] = "";
	if (c) {
		memcpy(known, c->sandbox, sizeof(known));
		*pp = c->next;
		free(c);
		v->n_conns--;
	}
	struct kt_vsock_conn_info info = {
		.guest_cid = e->key.guest_cid,
		.guest_port = e->key.guest_port,
		.host_port = e->key.host_port,
		.initiator = e->initiator,
		.end = e->end,
		.bytes_known = true,
		.bytes_to_host = e->bytes[KT_VM_TO_HOST],
		.bytes_to_guest = e->bytes[KT_VM_TO_GUEST],
		.start_unix_ns = mono_unix(v, e->start_ns),
		.end_unix_ns = mono_unix(v, e->hdr.ts_ns),
	};
	conn_span(v, &info, known);
}

void kt_vm_spans_record(struct kt_vm_spans *v, const void *rec, size_t size)
{
	const struct kt_vm_event_hdr *h = rec;
	size_t want = 0;

	if (size >= sizeof(*h)) {
		switch (h->type) {
		case KT_VM_EXEC:
			want = sizeof(struct kt_vm_exec);
			break;
		case KT_VM_EXIT:
			want = sizeof(struct kt_vm_exit);
			break;
		case KT_VM_VSOCK_OPEN:
		case KT_VM_VSOCK_END:
			want = sizeof(struct kt_vm_vsock);
			break;
		}
	}
	if (!want || size < want) {
		KT_STAT_INC(vm_events_bad);
		kt_warn("vm events: malformed record (%zu bytes) ignored", size);
		return;
	}
	KT_STAT_INC(vm_events);
	switch (h->type) {
	case KT_VM_EXEC:
		on_exec(v, rec);
		break;
	case KT_VM_EXIT:
		on_exit_ev(v, rec);
		break;
	default:
		on_vsock(v, rec);
		break;
	}
}

void kt_vm_spans_finish(struct kt_vm_spans *v)
{
	if (!v)
		return;
	uint64_t now = kt_mono_ns();
	while (v->conns) {
		struct conn *c = v->conns;
		v->conns = c->next;
		struct kt_vsock_conn_info info = {
			.guest_cid = c->key.guest_cid,
			.guest_port = c->key.guest_port,
			.host_port = c->key.host_port,
			.initiator = c->initiator,
			.end = KT_VM_END_NONE,
			.start_unix_ns = mono_unix(v, c->start_ns),
			.end_unix_ns = mono_unix(v, now),
		};
		conn_span(v, &info, c->sandbox);
		free(c);
	}
	v->n_conns = 0;
}

void kt_vm_spans_free(struct kt_vm_spans *v)
{
	if (!v)
		return;
	while (v->procs) {
		struct proc *p = v->procs;
		v->procs = p->next;
		free(p);
	}
	while (v->conns) {
		struct conn *c = v->conns;
		v->conns = c->next;
		free(c);
	}
	free(v);
}
