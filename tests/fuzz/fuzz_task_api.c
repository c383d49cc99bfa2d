/* SPDX-License-Identifier: Apache-2.0 */
/*
 * containerd shim Task API fuzzer (user/rpc/containerd_task.c): the input picks a
 * service and a method and is the request payload. The ids kept for it
 * (kt_task_note) are checked against a protobuf wire scan written here: a
 * kept id is the last length-delimited field 1 of a well-formed message,
 * the exec id (process requests only) the last field 2; both at most 256
 * bytes of UTF-8 without control characters; nothing is kept when a reason
 * is given. Then the same request goes through a plain-ttrpc connection with
 * a response, and its span must be named "<service>/<method>" and carry
 * exactly the kept ids; a sandbox in the registry never breaks that.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "sandbox/sandbox_registry.h"
#include "rpc/containerd_task.h"
#include "ttrpc/ttrpc.pb-c.h"
#include "rpc/ttrpc_rpc.h"
#include "base/utf8.h"
#include "fuzz_check.h"

static const char *const services[] = { "containerd.task.v2.Task", "containerd.task.v3.Task",
					"grpc.AgentService" };
static const char *const methods[] = { "Create", "Start",  "Wait",	 "Delete", "Kill",
				       "State",	 "Exec",   "ResizePty", "CloseIO", "Pids",
				       "Stats",	 "Connect", "Pause",	 "Resume", "Checkpoint",
				       "Update", "Shutdown", "Other" };
#define N_METHODS (sizeof(methods) / sizeof(methods[0]))

static bool is_process_method(size_t m)
{
	return m >= 1 && m <= 8;
}

static bool varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	uint64_t x = 0;
	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (*p == end)
			return false;
		uint8_t b = *(*p)++;
		x |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = x;
			return true;
		}
	}
	return false;
}

/* The last length-delimited fields 1 and 2; false if the message is not well formed. */
static bool scan(const uint8_t *p, size_t n, const uint8_t **f1, size_t *n1, const uint8_t **f2,
		 size_t *n2)
{
	const uint8_t *end = p + n;
	*f1 = *f2 = NULL;
	*n1 = *n2 = 0;
	while (p < end) {
		uint64_t tag, v;
		if (!varint(&p, end, &tag)) /* protobuf-c takes field 0 as unknown */
			return false;
		switch (tag & 7) {
		case 0:
			if (!varint(&p, end, &v))
				return false;
			break;
		case 1:
			if (end - p < 8)
				return false;
			p += 8;
			break;
		case 5:
			if (end - p < 4)
				return false;
			p += 4;
			break;
		case 2:
			if (!varint(&p, end, &v) || v > (uint64_t)(end - p))
				return false;
			if ((tag >> 3) == 1) {
				*f1 = p;
				*n1 = (size_t)v;
			} else if ((tag >> 3) == 2) {
				*f2 = p;
				*n2 = (size_t)v;
			}
			p += v;
			break;
		default:
			return false;
		}
	}
	return true;
}

static bool clean_id(struct kt_str s)
{
	if (s.len > KT_TASK_MAX_ID || kt_utf8_check((const uint8_t *)s.ptr, s.len) != s.len)
		return false;
	for (size_t i = 0; i < s.len; i++)
		if ((uint8_t)s.ptr[i] < 0x20 || s.ptr[i] == 0x7f)
			return false;
	return true;
}

static struct {
	struct kt_task_conn *task;
	struct kt_sandbox_registry *reg;
	const char *service, *method;
	uint8_t note[KT_TTRPC_MAX_NOTE];
	size_t note_len;
	size_t calls;
} st;

static size_t on_note(void *ctx, const struct kt_ttrpc_request *r, uint8_t *note, size_t cap)
{
	const char *why;
	(void)ctx;
	size_t n = kt_task_note(r, note, cap, &why);
	CHECK(n == st.note_len && (n == 0 || !memcmp(note, st.note, n)));
	return n;
}

static void on_call(void *ctx, const struct kt_ttrpc_call *c)
{
	struct kt_arena a;
	struct kt_span s;
	(void)ctx;
	st.calls++;
	kt_arena_init(&a, 1 << 20);
	CHECK(kt_task_span_build(st.task, c, st.reg, NULL, NULL, &a, &s) == KT_TTRPC_SPAN_BUILT);
	size_t ns = strlen(st.service), nm = strlen(st.method);
	CHECK(s.name.len == ns + 1 + nm && !memcmp(s.name.ptr, st.service, ns) &&
	      s.name.ptr[ns] == '/' && !memcmp(s.name.ptr + ns + 1, st.method, nm));
	CHECK(s.kind == KT_KIND_CLIENT && (s.ctx.trace_id.hi || s.ctx.trace_id.lo));
	struct kt_str id = { "", 0 }, exec = { "", 0 };
	bool have = kt_task_note_ids((struct kt_str){ (const char *)st.note, st.note_len }, &id, &exec);
	size_t found = 0;
	for (size_t i = 0; i < s.attrs.n; i++) {
		const struct kt_kv *kv = &s.attrs.kv[i];
		if (kv->key.len == 22 && !memcmp(kv->key.ptr, "katatrace.container.id", 22)) {
			CHECK(have && kv->value.s.len == id.len && !memcmp(kv->value.s.ptr, id.ptr, id.len));
			found++;
		} else if (kv->key.len == 17 && !memcmp(kv->key.ptr, "katatrace.exec.id", 17)) {
			CHECK(have && exec.len && kv->value.s.len == exec.len &&
			      !memcmp(kv->value.s.ptr, exec.ptr, exec.len));
			found++;
		}
	}
	CHECK(found == (have ? 1u + (exec.len > 0) : 0u));
	kt_arena_free(&a);
}

static void on_error(void *ctx, const char *msg)
{
	(void)ctx;
	CHECK(msg != NULL);
}

static const struct kt_ttrpc_conn_ops ops = { .call = on_call, .error = on_error, .note = on_note };

static void push_message(struct kt_ttrpc_conn *c, enum kt_ttrpc_dir d, uint8_t type,
			 const ProtobufCMessage *m)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t *f = malloc(10 + n);
	CHECK(f != NULL);
	const uint8_t h[10] = { (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8),
				(uint8_t)n, 0, 0, 0, 1, type, 0 };
	memcpy(f, h, 10);
	protobuf_c_message_pack(m, f + 10);
	kt_ttrpc_conn_push(c, d, f, 10 + n, (struct kt_ttrpc_time){ .mono_ns = 1000 });
	free(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	size_t m = data[0] % N_METHODS;
	st.service = services[data[1] % 3];
	st.method = methods[m];
	const uint8_t *payload = data + 2;
	size_t n = size - 2;
	if (!st.reg) {
		st.reg = kt_registry_new(1000);
		struct kt_sandbox_meta meta = { .flags = 0 };
		memcpy(meta.id, "sb", 3);
		CHECK(st.reg && kt_registry_put(st.reg, &meta) == 0);
	}

	struct kt_ttrpc_request rq = {
		.service = { st.service, strlen(st.service) },
		.method = { st.method, strlen(st.method) },
		.payload = payload,
		.payload_len = n,
	};
	const char *why = NULL;
	st.note_len = kt_task_note(&rq, st.note, sizeof(st.note), &why);
	CHECK(!why || st.note_len == 0);
	if (st.note_len) {
		struct kt_str id, exec;
		const uint8_t *f1, *f2;
		size_t n1, n2;
		CHECK(kt_task_note_ids((struct kt_str){ (const char *)st.note, st.note_len }, &id, &exec));
		CHECK(id.len > 0 && clean_id(id) && clean_id(exec));
		CHECK(scan(payload, n, &f1, &n1, &f2, &n2));
		CHECK(f1 && n1 == id.len && !memcmp(f1, id.ptr, n1));
		if (is_process_method(m))
			CHECK(n2 == exec.len && (n2 == 0 || !memcmp(f2, exec.ptr, n2)));
		else
			CHECK(exec.len == 0);
	}

	struct kt_ttrpc_cfg cfg = KT_TTRPC_CFG_DEFAULT;
	cfg.handshake = KT_TTRPC_HS_NONE;
	cfg.long_poll = kt_task_long_poll;
	st.task = kt_task_conn_new();
	struct kt_ttrpc_conn *c = kt_ttrpc_conn_new(&cfg, "fuzz shim conn", &ops, NULL);
	CHECK(st.task && c);
	st.calls = 0;
	Ttrpc__Request r = TTRPC__REQUEST__INIT;
	r.service = (ProtobufCBinaryData){ strlen(st.service), (uint8_t *)st.service };
	r.method = (ProtobufCBinaryData){ strlen(st.method), (uint8_t *)st.method };
	r.payload = (ProtobufCBinaryData){ n, (uint8_t *)payload };
	push_message(c, KT_TTRPC_TO_SERVER, KT_TTRPC_REQUEST, &r.base);
	Ttrpc__Response resp = TTRPC__RESPONSE__INIT;
	push_message(c, KT_TTRPC_TO_CLIENT, KT_TTRPC_RESPONSE, &resp.base);
	CHECK(st.calls == 1);
	kt_ttrpc_conn_free(c);
	kt_task_conn_free(st.task);
	st.task = NULL;
	return 0;
}
