/* SPDX-License-Identifier: Apache-2.0 */
/*
 * containerd -> shim Task API calls (user/rpc/containerd_task.c): the ids of the
 * request payloads, written here byte by byte as containerd's
 * CreateTaskRequest, StartRequest, ... encode (not with our .proto), hostile
 * payloads, and the spans of whole calls through a plain-ttrpc connection:
 * names, attributes, long poll, trace choice, socket prefixes.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/pb_budget.h"
#include "model/ids.h"
#include "stream/pipeline.h"
#include "sandbox/sandbox_registry.h"
#include "bpf/stream_record.h"
#include "rpc/containerd_task.h"
#include "containerd/task.pb-c.h"
#include "ttrpc/ttrpc.pb-c.h"
#include "rpc/ttrpc_rpc.h"
#include "rpc/ttrpc_span.h"

#define SEC 1000000000ull
#define OFF 1700000000000000000ll
#define TASK_V2 "containerd.task.v2.Task"
#define TP "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

/* ------------------------------------------------------------ protobuf bytes by hand */

struct pb {
	uint8_t b[1 << 16];
	size_t n;
};

static void pb_varint(struct pb *p, uint64_t v)
{
	do {
		cr_assert_lt(p->n, sizeof(p->b));
		p->b[p->n++] = (uint8_t)(v & 0x7f) | (v > 0x7f ? 0x80 : 0);
		v >>= 7;
	} while (v);
}

/* A length-delimited field (wire type 2): strings, bytes, messages. */
static void pb_bytes(struct pb *p, unsigned field, const void *s, size_t n)
{
	pb_varint(p, (uint64_t)field << 3 | 2);
	pb_varint(p, n);
	cr_assert_leq(p->n + n, sizeof(p->b));
	memcpy(p->b + p->n, s, n);
	p->n += n;
}

static void pb_str(struct pb *p, unsigned field, const char *s)
{
	pb_bytes(p, field, s, strlen(s));
}

static void pb_uint(struct pb *p, unsigned field, uint64_t v)
{
	pb_varint(p, (uint64_t)field << 3);
	pb_varint(p, v);
}

/* CreateTaskRequest as containerd sends it: id, bundle, a rootfs mount, stdio, options. */
static void create_request(struct pb *p, const char *id)
{
	struct pb mount = { .n = 0 };
	memset(p, 0, sizeof(*p));
	pb_str(p, 1, id);
	pb_str(p, 2, "/run/containerd/io.containerd.runtime.v2.task/default/c1");
	pb_str(&mount, 1, "overlay");
	pb_str(&mount, 2, "overlay");
	pb_str(&mount, 4, "lowerdir=/a,upperdir=/b");
	pb_bytes(p, 3, mount.b, mount.n);
	pb_uint(p, 4, 0);
	pb_str(p, 6, "/run/containerd/fifo/1/c1-stdout");
	pb_str(p, 7, "/run/containerd/fifo/1/c1-stderr");
	pb_bytes(p, 10, "\x0a\x03xyz", 5);
}

static size_t note_of(const char *service, const char *method, const struct pb *p,
		      uint8_t *note, size_t cap, const char **why)
{
	struct kt_ttrpc_request rq = {
		.service = { service, strlen(service) },
		.method = { method, strlen(method) },
		.stream_id = 7,
		.payload = p->b,
		.payload_len = p->n,
	};
	return kt_task_note(&rq, note, cap, why);
}

/* The ids a request leaves in its note: "" for none. */
static void expect_ids(const char *service, const char *method, const struct pb *p,
		       const char *id, const char *exec)
{
	uint8_t note[KT_TTRPC_MAX_NOTE + 1];
	const char *why = "unset";
	size_t n = note_of(service, method, p, note, KT_TTRPC_MAX_NOTE, &why);
	cr_assert_null(why, "%s %s: %s", service, method, why ? why : "");
	note[n] = '\0';
	struct kt_str i, e;
	bool have = kt_task_note_ids((struct kt_str){ (const char *)note, n }, &i, &e);
	if (!*id) {
		cr_assert_eq(n, 0, "%s: no note expected", method);
		cr_assert(!have);
		return;
	}
	cr_assert(have, "%s: ids expected", method);
	cr_assert_eq(i.len, strlen(id));
	cr_assert_str_eq(i.ptr, id);
	cr_assert_eq(e.len, strlen(exec));
	cr_assert_eq(memcmp(e.ptr, exec, e.len), 0);
	cr_assert_eq(e.ptr[e.len], '\0');
}

static void expect_bad(const char *method, const struct pb *p, const char *why_part)
{
	uint8_t note[KT_TTRPC_MAX_NOTE];
	const char *why = NULL;
	size_t n = note_of(TASK_V2, method, p, note, sizeof(note), &why);
	cr_assert_eq(n, 0, "%s: no note for a bad payload", method);
	cr_assert_not_null(why, "%s: a reason expected", method);
	cr_assert(strstr(why, why_part), "%s: '%s' lacks '%s'", method, why, why_part);
}

Test(task_ids, create_has_the_id_not_the_bundle)
{
	struct pb p;
	create_request(&p, "c1");
	expect_ids(TASK_V2, "Create", &p, "c1", "");
}

Test(task_ids, process_requests_have_id_and_exec_id)
{
	static const char *const methods[] = { "Start", "Wait", "Delete", "Kill", "State",
					       "Exec", "ResizePty", "CloseIO" };
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		struct pb p = { .n = 0 };
		pb_str(&p, 1, "c1");
		pb_str(&p, 2, "exec-9");
		pb_uint(&p, 3, 15); /* KillRequest.signal, ResizePty.width, ... */
		pb_uint(&p, 4, 1);
		expect_ids(TASK_V2, methods[i], &p, "c1", "exec-9");
		/* the init process: no exec_id on the wire */
		struct pb q = { .n = 0 };
		pb_str(&q, 1, "c1");
		expect_ids(TASK_V2, methods[i], &q, "c1", "");
	}
}

Test(task_ids, other_requests_have_the_id_whatever_field_2_is)
{
	struct pb p = { .n = 0 };
	pb_str(&p, 1, "c1");
	pb_uint(&p, 2, 1); /* ShutdownRequest.now: a varint */
	expect_ids(TASK_V2, "Shutdown", &p, "c1", "");
	struct pb u = { .n = 0 };
	pb_str(&u, 1, "c1");
	pb_bytes(&u, 2, "\x0a\x01x", 3); /* UpdateTaskRequest.resources: an Any */
	expect_ids(TASK_V2, "Update", &u, "c1", "");
	static const char *const methods[] = { "Pids", "Stats", "Connect", "Pause", "Resume",
					       "Checkpoint" };
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		expect_ids(TASK_V2, methods[i], &u, "c1", "");
}

Test(task_ids, services_and_methods_without_ids)
{
	struct pb p;
	create_request(&p, "c1");
	expect_ids("containerd.task.v3.Task", "Create", &p, "c1", "");
	expect_ids("containerd.task.v12.Task", "Create", &p, "c1", "");
	expect_ids("grpc.AgentService", "Create", &p, "", "");
	expect_ids("containerd.task.vX.Task", "Create", &p, "", "");
	expect_ids("containerd.task.v.Task", "Create", &p, "", "");
	expect_ids("containerd.task.v2.Tasks", "Create", &p, "", "");
	expect_ids("containerd.runtime.sandbox.v1.Sandbox", "CreateSandbox", &p, "", "");
	expect_ids(TASK_V2, "NoSuchMethod", &p, "", "");
	expect_ids(TASK_V2, "create", &p, "", "");
	struct pb empty = { .n = 0 };
	expect_ids(TASK_V2, "Connect", &empty, "", ""); /* an empty id keeps nothing */
}

Test(task_ids, service_names)
{
	cr_assert(kt_task_is_service((struct kt_str){ TASK_V2, strlen(TASK_V2) }));
	cr_assert(!kt_task_is_service((struct kt_str){ "containerd.task.Task", 20 }));
	cr_assert(!kt_task_is_service((struct kt_str){ "", 0 }));
}

Test(task_ids, hostile_payloads)
{
	struct pb p;
	create_request(&p, "c1");
	p.n -= 3; /* cut inside the options Any */
	expect_bad("Create", &p, "does not decode");

	struct pb v = { .n = 0 };
	pb_str(&v, 1, "c1");
	pb_uint(&v, 2, 5); /* exec_id must be length-delimited */
	expect_bad("Start", &v, "does not decode");

	struct pb w = { .n = 0 };
	pb_uint(&w, 1, 5); /* id as a varint */
	expect_bad("Shutdown", &w, "does not decode");

	struct pb big = { .n = 0 };
	char id[400];
	memset(id, 'a', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';
	pb_str(&big, 1, id);
	expect_bad("Create", &big, "id is longer than 256 bytes");

	struct pb exact = { .n = 0 };
	id[KT_TASK_MAX_ID] = '\0';
	pb_str(&exact, 1, id);
	pb_str(&exact, 2, id);
	expect_ids(TASK_V2, "Wait", &exact, id, id); /* 256 bytes each: accepted */

	struct pb utf = { .n = 0 };
	pb_str(&utf, 1, "c\xff");
	expect_bad("Kill", &utf, "id is not valid UTF-8");

	struct pb ctl = { .n = 0 };
	pb_str(&ctl, 1, "c1");
	pb_bytes(&ctl, 2, "e\0x", 3);
	expect_bad("State", &ctl, "exec_id has a control character");

	struct pb esc = { .n = 0 };
	pb_str(&esc, 1, "c1\x1b[2J");
	expect_bad("Delete", &esc, "id has a control character");

	struct pb len = { .n = 0 };
	pb_varint(&len, 1 << 3 | 2);
	pb_varint(&len, UINT64_MAX); /* a length of 2^64-1 */
	expect_bad("Wait", &len, "does not decode");

	/* Unknown fields are kept by protobuf-c: too many exceed the budget. */
	struct pb many = { .n = 0 };
	pb_str(&many, 1, "c1");
	while (many.n + 8 < sizeof(many.b))
		pb_uint(&many, 9, 1);
	expect_bad("Connect", &many, "needs more memory to decode than allowed");
}

/* Create's ids with an unknown field of pad bytes, which protobuf-c keeps. */
static void padded_ids(struct pb *p, size_t pad)
{
	static uint8_t zeros[1 << 16];
	memset(p, 0, sizeof(*p));
	pb_str(p, 1, "c1");
	pb_bytes(p, 15, zeros, pad);
}

/* The bytes protobuf-c holds after unpacking p as CreateTaskIds. */
static size_t ids_held(const struct pb *p)
{
	struct kt_pb_budget b = { .limit = 1 << 20 };
	ProtobufCAllocator al = kt_pb_budget_allocator(&b);
	Containerd__Task__CreateTaskIds *m =
		containerd__task__create_task_ids__unpack(&al, p->n, p->b);
	cr_assert_not_null(m);
	size_t held = b.used;
	containerd__task__create_task_ids__free_unpacked(m, &al);
	return held;
}

Test(task_ids, decoding_budget_of_exactly_64_kib)
{
	static struct pb p;
	/* (its length's varint is as long as the final one's) */
	padded_ids(&p, 20000);
	size_t pad = 20000 + KT_TASK_UNPACK_LIMIT - ids_held(&p);
	padded_ids(&p, pad);
	cr_assert_eq(ids_held(&p), KT_TASK_UNPACK_LIMIT, "pad %zu: %zu held", pad, ids_held(&p));
	expect_ids(TASK_V2, "Create", &p, "c1", "");
	padded_ids(&p, pad + 1);
	cr_assert_eq(ids_held(&p), KT_TASK_UNPACK_LIMIT + 1);
	expect_bad("Create", &p, "needs more memory to decode than allowed");
}

Test(task_ids, ids_at_their_length_limit)
{
	/* 256 bytes are an id, 257 are not; the same for exec_id. */
	char id[KT_TASK_MAX_ID + 2];
	memset(id, 'a', KT_TASK_MAX_ID + 1);
	id[KT_TASK_MAX_ID + 1] = '\0';
	struct pb over = { .n = 0 };
	pb_str(&over, 1, id);
	expect_bad("Create", &over, "id is longer than 256 bytes");
	struct pb exec_over = { .n = 0 };
	pb_str(&exec_over, 1, "c1");
	pb_str(&exec_over, 2, id);
	expect_bad("Wait", &exec_over, "exec_id is longer than 256 bytes");
	id[KT_TASK_MAX_ID] = '\0';
	struct pb exact = { .n = 0 };
	pb_str(&exact, 1, id);
	expect_ids(TASK_V2, "Create", &exact, id, "");
	struct pb exec_exact = { .n = 0 };
	pb_str(&exec_exact, 1, "c1");
	pb_str(&exec_exact, 2, id);
	expect_ids(TASK_V2, "Wait", &exec_exact, "c1", id);
}

Test(task_ids, a_note_that_does_not_fit_is_not_kept)
{
	struct pb p = { .n = 0 };
	pb_str(&p, 1, "c1");
	pb_str(&p, 2, "e1");
	uint8_t note[5];
	const char *why = "unset";
	cr_assert_eq(note_of(TASK_V2, "Start", &p, note, sizeof(note), &why), 5);
	cr_assert_null(why);
	cr_assert_eq(note_of(TASK_V2, "Start", &p, note, 4, &why), 0);
	cr_assert_null(why);
}

Test(task_ids, note_parsing)
{
	struct kt_str i, e;
	cr_assert(!kt_task_note_ids((struct kt_str){ "", 0 }, &i, &e));
	cr_assert(!kt_task_note_ids((struct kt_str){ "abc", 3 }, &i, &e));
	cr_assert(!kt_task_note_ids((struct kt_str){ "\0abc", 4 }, &i, &e));
	cr_assert(kt_task_note_ids((struct kt_str){ "ab\0", 3 }, &i, &e));
	cr_assert(i.len == 2 && e.len == 0);
}

/* ------------------------------------------------------------ whole calls */

struct got {
	struct kt_span spans[32];
	struct kt_arena arenas[32];
	size_t n;
	struct kt_task_conn *task;
	const struct kt_sandbox_registry *reg;
	size_t arena_limit;
	char errors[4][300];
	size_t n_errors;
};

static uint64_t seq_id(void *ctx)
{
	static uint64_t next = 0x100;
	(void)ctx;
	return next++;
}

static void on_call(void *ctx, const struct kt_ttrpc_call *c)
{
	struct got *g = ctx;
	cr_assert_lt(g->n, 32);
	kt_arena_init(&g->arenas[g->n], g->arena_limit ? g->arena_limit : 1 << 20);
	enum kt_ttrpc_span_result r = kt_task_span_build(g->task, c, g->reg, seq_id, NULL,
							 &g->arenas[g->n], &g->spans[g->n]);
	if (g->arena_limit) {
		cr_assert_eq(r, KT_TTRPC_SPAN_FAILED);
		cr_assert_null(g->spans[g->n].name.ptr);
		cr_assert_eq(g->spans[g->n].attrs.n, 0);
	} else {
		cr_assert_eq(r, KT_TTRPC_SPAN_BUILT);
	}
	g->n++;
}

static void on_error(void *ctx, const char *msg)
{
	struct got *g = ctx;
	if (g->n_errors < 4)
		snprintf(g->errors[g->n_errors], sizeof(g->errors[0]), "%s", msg);
	g->n_errors++;
}

static size_t on_note(void *ctx, const struct kt_ttrpc_request *r, uint8_t *note, size_t cap)
{
	const char *why;
	size_t n = kt_task_note(r, note, cap, &why);
	if (why)
		on_error(ctx, why);
	return n;
}

static const struct kt_ttrpc_conn_ops ops = { .call = on_call, .error = on_error, .note = on_note };

static struct kt_ttrpc_conn *shim_conn(struct got *g)
{
	struct kt_ttrpc_cfg cfg = KT_TTRPC_CFG_DEFAULT;
	cfg.handshake = KT_TTRPC_HS_NONE;
	cfg.long_poll = kt_task_long_poll;
	g->task = kt_task_conn_new();
	cr_assert_not_null(g->task);
	struct kt_ttrpc_conn *c = kt_ttrpc_conn_new(&cfg, "shim conn", &ops, g);
	cr_assert_not_null(c);
	return c;
}

static void got_free(struct got *g)
{
	for (size_t i = 0; i < g->n; i++)
		kt_arena_free(&g->arenas[i]);
	kt_task_conn_free(g->task);
}

static void push_frame(struct kt_ttrpc_conn *c, enum kt_ttrpc_dir d, uint32_t id, uint8_t type,
		       const ProtobufCMessage *m, uint64_t mono)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t *f = malloc(10 + n);
	cr_assert_not_null(f);
	uint8_t h[10] = { (uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n,
			  (uint8_t)(id >> 24), (uint8_t)(id >> 16), (uint8_t)(id >> 8), (uint8_t)id,
			  type, 0 };
	memcpy(f, h, 10);
	protobuf_c_message_pack(m, f + 10);
	kt_ttrpc_conn_push(c, d, f, 10 + n,
			   (struct kt_ttrpc_time){ .mono_ns = mono, .realtime_off_ns = OFF });
	free(f);
}

/* One call: request at start, response (code) at end. */
static void call(struct kt_ttrpc_conn *c, uint32_t id, const char *method, const struct pb *p,
		 const char *traceparent, int32_t code, uint64_t start, uint64_t end)
{
	Ttrpc__Request rq = TTRPC__REQUEST__INIT;
	Ttrpc__KeyValue kv = TTRPC__KEY_VALUE__INIT, *kvp = &kv;
	rq.service = (ProtobufCBinaryData){ strlen(TASK_V2), (uint8_t *)TASK_V2 };
	rq.method = (ProtobufCBinaryData){ strlen(method), (uint8_t *)method };
	rq.payload = (ProtobufCBinaryData){ p->n, (uint8_t *)p->b };
	rq.timeout_nano = 0;
	if (traceparent) {
		kv.key = (ProtobufCBinaryData){ 11, (uint8_t *)"traceparent" };
		kv.value = (ProtobufCBinaryData){ strlen(traceparent), (uint8_t *)traceparent };
		rq.metadata = &kvp;
		rq.n_metadata = 1;
	}
	push_frame(c, KT_TTRPC_TO_SERVER, id, KT_TTRPC_REQUEST, &rq.base, start);
	Ttrpc__Response rs = TTRPC__RESPONSE__INIT;
	Google__Rpc__Status st = GOOGLE__RPC__STATUS__INIT;
	st.code = code;
	if (code)
		st.message = (ProtobufCBinaryData){ 9, (uint8_t *)"not found" };
	rs.status = &st;
	push_frame(c, KT_TTRPC_TO_CLIENT, id, KT_TTRPC_RESPONSE, &rs.base, end);
}

static const struct kt_kv *attr(const struct kt_span *s, const char *key)
{
	for (size_t i = 0; i < s->attrs.n; i++)
		if (s->attrs.kv[i].key.len == strlen(key) && !memcmp(s->attrs.kv[i].key.ptr, key, strlen(key)))
			return &s->attrs.kv[i];
	return NULL;
}

static void expect_str(const struct kt_span *s, const char *key, const char *v)
{
	const struct kt_kv *kv = attr(s, key);
	cr_assert_not_null(kv, "%s missing", key);
	cr_assert_eq(kv->value.type, KT_VAL_STRING);
	cr_assert_eq(kv->value.s.len, strlen(v), "%s", key);
	cr_assert_eq(memcmp(kv->value.s.ptr, v, strlen(v)), 0, "%s", key);
}

static struct pb ids(const char *id, const char *exec)
{
	struct pb p = { .n = 0 };
	pb_str(&p, 1, id);
	if (exec)
		pb_str(&p, 2, exec);
	return p;
}

Test(task_span, container_lifecycle)
{
	struct got g = { .n = 0 };
	struct kt_ttrpc_conn *c = shim_conn(&g);
	struct pb create;
	create_request(&create, "c1");
	struct pb plain = ids("c1", NULL), exec = ids("c1", "e7");

	call(c, 1, "Create", &create, NULL, 0, 1 * SEC, 2 * SEC);
	call(c, 3, "Start", &plain, NULL, 0, 3 * SEC, 4 * SEC);
	/* Wait is answered after Kill and a failing State */
	Ttrpc__Request wr = TTRPC__REQUEST__INIT;
	wr.service = (ProtobufCBinaryData){ strlen(TASK_V2), (uint8_t *)TASK_V2 };
	wr.method = (ProtobufCBinaryData){ 4, (uint8_t *)"Wait" };
	wr.payload = (ProtobufCBinaryData){ exec.n, exec.b };
	push_frame(c, KT_TTRPC_TO_SERVER, 5, KT_TTRPC_REQUEST, &wr.base, 5 * SEC);
	call(c, 7, "Kill", &exec, NULL, 0, 6 * SEC, 7 * SEC);
	call(c, 9, "State", &exec, NULL, 5, 8 * SEC, 9 * SEC);
	Ttrpc__Response ok = TTRPC__RESPONSE__INIT;
	push_frame(c, KT_TTRPC_TO_CLIENT, 5, KT_TTRPC_RESPONSE, &ok.base, 10 * SEC);
	call(c, 11, "Delete", &plain, NULL, 0, 11 * SEC, 12 * SEC);
	kt_ttrpc_conn_close(c, (struct kt_ttrpc_time){ .mono_ns = 13 * SEC, .realtime_off_ns = OFF });
	kt_ttrpc_conn_free(c);

	cr_assert_eq(g.n, 6);
	cr_assert_eq(g.n_errors, 0);
	static const char *const names[] = {
		TASK_V2 "/Create", TASK_V2 "/Start", TASK_V2 "/Kill",
		TASK_V2 "/State",  TASK_V2 "/Wait",  TASK_V2 "/Delete",
	};
	struct kt_trace_id tid;
	uint64_t root;
	kt_sandbox_ids("c1", 2, &tid, &root);
	for (size_t i = 0; i < g.n; i++) {
		const struct kt_span *s = &g.spans[i];
		cr_assert_eq(s->name.len, strlen(names[i]));
		cr_assert_str_eq(s->name.ptr, names[i]);
		cr_assert_eq(s->kind, KT_KIND_CLIENT);
		cr_assert(s->end_unix_nano >= s->start_unix_nano);
		expect_str(s, "rpc.system", "ttrpc");
		expect_str(s, "rpc.service", TASK_V2);
		expect_str(s, "katatrace.container.id", "c1");
		cr_assert_not_null(attr(s, "katatrace.synthesized"));
		cr_assert_not_null(attr(s, "rpc.grpc.status_code"));
		cr_assert(s->ctx.trace_id.hi == tid.hi && s->ctx.trace_id.lo == tid.lo,
			  "%s: the container's trace", names[i]);
		cr_assert_eq(s->parent_span_id, root);
		bool has_exec = i == 2 || i == 3 || i == 4;
		if (has_exec)
			expect_str(s, "katatrace.exec.id", "e7");
		else
			cr_assert_null(attr(s, "katatrace.exec.id"), "%s", names[i]);
		bool wait = i == 4;
		cr_assert_eq(attr(s, "katatrace.rpc.long_poll") != NULL, wait, "%s", names[i]);
		cr_assert_eq(s->status_code, i == 3 ? KT_STATUS_ERROR : KT_STATUS_UNSET);
	}
	cr_assert_eq(g.spans[4].start_unix_nano, 5 * SEC + OFF);
	cr_assert_eq(g.spans[4].end_unix_nano, 10 * SEC + OFF);
	cr_assert_eq(g.spans[0].start_unix_nano, 1 * SEC + OFF);
	got_free(&g);
}

Test(task_span, traceparent_wins)
{
	struct got g = { .n = 0 };
	struct kt_ttrpc_conn *c = shim_conn(&g);
	struct pb p = ids("c1", NULL);
	call(c, 1, "Start", &p, TP, 0, SEC, 2 * SEC);
	kt_ttrpc_conn_free(c);
	cr_assert_eq(g.n, 1);
	cr_assert_eq(g.spans[0].ctx.trace_id.hi, 0x0af7651916cd43ddull);
	cr_assert_eq(g.spans[0].ctx.span_id, 0xb7ad6b7169203331ull);
	cr_assert_eq(g.spans[0].parent_span_id, 0);
	expect_str(&g.spans[0], "katatrace.container.id", "c1");
	got_free(&g);
}

/* A registered sandbox names the trace, and the connection keeps it for the pod's containers. */
Test(task_span, sandbox_trace_from_the_registry)
{
	struct kt_sandbox_registry *reg = kt_registry_new(1000);
	cr_assert_not_null(reg);
	struct kt_sandbox_meta m = { .flags = 0 };
	snprintf(m.id, sizeof(m.id), "%s", "sb-1");
	cr_assert_eq(kt_registry_put(reg, &m), 0);
	struct kt_trace_id t_sb, t_c2;
	uint64_t r_sb, r_c2;
	kt_sandbox_ids("sb-1", 4, &t_sb, &r_sb);
	kt_sandbox_ids("c2", 2, &t_c2, &r_c2);

	/* without the registry: each container its own trace */
	struct got g = { .n = 0 };
	struct kt_ttrpc_conn *c = shim_conn(&g);
	struct pb sb = ids("sb-1", NULL), c2 = ids("c2", NULL), none = { .n = 0 };
	call(c, 1, "Create", &c2, NULL, 0, SEC, 2 * SEC);
	call(c, 3, "Shutdown", &none, NULL, 0, 3 * SEC, 4 * SEC);
	kt_ttrpc_conn_free(c);
	cr_assert_eq(g.n, 2);
	cr_assert(g.spans[0].ctx.trace_id.lo == t_c2.lo && g.spans[0].parent_span_id == r_c2);
	cr_assert_null(attr(&g.spans[1], "katatrace.container.id"));
	cr_assert(g.spans[1].ctx.trace_id.hi || g.spans[1].ctx.trace_id.lo, "a trace of its own");
	cr_assert_eq(kt_task_conn_sandbox(g.task)[0], '\0');
	got_free(&g);

	struct got h = { .n = 0, .reg = reg };
	c = shim_conn(&h);
	call(c, 1, "Create", &c2, NULL, 0, SEC, 2 * SEC); /* not known yet: its own */
	call(c, 3, "Create", &sb, NULL, 0, 3 * SEC, 4 * SEC);
	call(c, 5, "Start", &c2, NULL, 0, 5 * SEC, 6 * SEC);
	call(c, 7, "Shutdown", &none, NULL, 0, 7 * SEC, 8 * SEC);
	kt_ttrpc_conn_free(c);
	cr_assert_eq(h.n, 4);
	cr_assert(h.spans[0].ctx.trace_id.lo == t_c2.lo);
	for (size_t i = 1; i < 4; i++)
		cr_assert(h.spans[i].ctx.trace_id.hi == t_sb.hi && h.spans[i].ctx.trace_id.lo == t_sb.lo &&
				  h.spans[i].parent_span_id == r_sb,
			  "call %zu: the sandbox's trace", i);
	expect_str(&h.spans[2], "katatrace.container.id", "c2");
	cr_assert_str_eq(kt_task_conn_sandbox(h.task), "sb-1");
	got_free(&h);
	kt_registry_free(reg);
}

Test(task_span, bad_payload_still_gives_a_span_and_an_error)
{
	struct got g = { .n = 0 };
	struct kt_ttrpc_conn *c = shim_conn(&g);
	struct pb bad = { .n = 0 };
	pb_str(&bad, 1, "c\xc0");
	call(c, 1, "Start", &bad, NULL, 0, SEC, 2 * SEC);
	kt_ttrpc_conn_free(c);
	cr_assert_eq(g.n, 1);
	cr_assert_eq(g.n_errors, 1);
	cr_assert(strstr(g.errors[0], "not valid UTF-8"));
	cr_assert_null(attr(&g.spans[0], "katatrace.container.id"));
	cr_assert_str_eq(g.spans[0].name.ptr, TASK_V2 "/Start");
	got_free(&g);
}

Test(task_span, arena_limit_fails_cleanly)
{
	struct got g = { .n = 0, .arena_limit = 200 };
	struct kt_ttrpc_conn *c = shim_conn(&g);
	struct pb p = ids("c1", "e1");
	call(c, 1, "Start", &p, NULL, 0, SEC, 2 * SEC);
	kt_ttrpc_conn_free(c);
	cr_assert_eq(g.n, 1);
	got_free(&g);
}

/* ------------------------------------------------------------ socket directories */

Test(task_socket, prefixes)
{
	char out[KT_PATH_MAX + 1];
	const char *why = NULL;
	cr_assert_eq(kt_task_socket_prefix("", "/run/containerd/s", out, sizeof(out), &why), 0);
	cr_assert_str_eq(out, "/run/containerd/s/");
	cr_assert_eq(kt_task_socket_prefix("/tmp/r/", "/run/containerd/s/", out, sizeof(out), &why), 0);
	cr_assert_str_eq(out, "/tmp/r/run/containerd/s/");
	cr_assert_eq(kt_task_socket_prefix(NULL, "/s", out, sizeof(out), &why), 0);
	cr_assert_str_eq(out, "/s/");
	cr_assert_eq(kt_task_socket_prefix("", "run/containerd/s", out, sizeof(out), &why), -1);
	cr_assert_str_eq(why, "not an absolute path");
	char longdir[200];
	memset(longdir, 'd', sizeof(longdir) - 1);
	longdir[0] = '/';
	longdir[sizeof(longdir) - 1] = '\0';
	cr_assert_eq(kt_task_socket_prefix("", longdir, out, sizeof(out), &why), -1);
	cr_assert_str_eq(why, "too long for a unix socket path");
	/* exactly filling the buffer */
	longdir[KT_PATH_MAX - 1] = '\0';
	cr_assert_eq(kt_task_socket_prefix("", longdir, out, sizeof(out), &why), 0);
	cr_assert_eq(strlen(out), KT_PATH_MAX);
}

Test(task_socket, matching)
{
	const char *const dirs[] = { "/run/containerd/s/", "/x/y/" };
	cr_assert(kt_task_socket_match("/run/containerd/s/0123abcd", dirs, 2));
	cr_assert(kt_task_socket_match("/x/y/z", dirs, 2));
	cr_assert(!kt_task_socket_match("/run/containerd/sX", dirs, 2));
	cr_assert(!kt_task_socket_match("/run/containerd/containerd.sock.ttrpc", dirs, 2));
	cr_assert(!kt_task_socket_match("/run/containerd/s/abc", dirs, 0));
}

/* ------------------------------------------------------------ through the pipeline */

struct collected {
	struct kt_span_record *r[8];
	size_t n;
};

static void collect(void *ctx, struct kt_span_record *r)
{
	struct collected *g = ctx;
	cr_assert_lt(g->n, 8);
	g->r[g->n++] = r;
}

static uint8_t recbuf[sizeof(struct kt_rec_hdr) + 4096];

static struct kt_rec_hdr *hdr(uint32_t type, uint8_t dir, uint32_t pid, const char *comm)
{
	struct kt_rec_hdr *h = (struct kt_rec_hdr *)recbuf;
	memset(h, 0, sizeof(*h));
	h->type = type;
	h->conn = (struct kt_conn_id){ .endpoint = 4242, .transport = KT_TRANSPORT_UNIX };
	h->dir = dir;
	h->tgid = h->tid = pid;
	h->ts_ns = 5 * SEC;
	snprintf(h->comm, sizeof(h->comm), "%s", comm);
	snprintf(h->pcomm, sizeof(h->pcomm), "%s", comm);
	return h;
}

/* Request and response frames of one Start call, as the two ends write them. */
static void feed_start_call(struct kt_pipeline *p, const char *path)
{
	struct kt_rec_conn rc;
	memset(&rc, 0, sizeof(rc));
	memcpy(&rc.hdr, hdr(KT_REC_CONN, KT_DIR_TO_SERVER, 100, "containerd"), sizeof(rc.hdr));
	rc.path_len = (uint32_t)strlen(path);
	memcpy(rc.path, path, rc.path_len);
	kt_pipeline_record(p, &rc, sizeof(rc), 0);

	struct pb ids_pb = ids("c9", "e9");
	Ttrpc__Request rq = TTRPC__REQUEST__INIT;
	rq.service = (ProtobufCBinaryData){ strlen(TASK_V2), (uint8_t *)TASK_V2 };
	rq.method = (ProtobufCBinaryData){ 5, (uint8_t *)"Start" };
	rq.payload = (ProtobufCBinaryData){ ids_pb.n, ids_pb.b };
	Ttrpc__Response rs = TTRPC__RESPONSE__INIT;
	const ProtobufCMessage *msgs[2] = { &rq.base, &rs.base };
	for (int d = 0; d < 2; d++) {
		struct kt_rec_hdr *h = hdr(KT_REC_DATA, d ? KT_DIR_TO_CLIENT : KT_DIR_TO_SERVER,
					   d ? 200 : 100, d ? "containerd-shim" : "containerd");
		size_t n = protobuf_c_message_get_packed_size(msgs[d]);
		uint8_t *f = (uint8_t *)(h + 1);
		const uint8_t fh[10] = { 0, 0, (uint8_t)(n >> 8), (uint8_t)n, 0, 0, 0, 1,
					 d ? KT_TTRPC_RESPONSE : KT_TTRPC_REQUEST, 0 };
		memcpy(f, fh, 10);
		protobuf_c_message_pack(msgs[d], f + 10);
		h->len = (uint32_t)(10 + n);
		kt_pipeline_record(p, recbuf, sizeof(*h) + h->len, 0);
	}
	for (int d = 0; d < 2; d++) {
		struct kt_rec_hdr *h = hdr(KT_REC_CLOSE, d ? KT_DIR_TO_CLIENT : KT_DIR_TO_SERVER, 0, "");
		kt_pipeline_record(p, recbuf, sizeof(*h), 0);
	}
}

static const struct kt_kv *origin_attr(const struct kt_span_record *r, const char *key)
{
	for (size_t i = 0; i < r->origin->attrs.n; i++)
		if (!strcmp(r->origin->attrs.kv[i].key.ptr, key))
			return &r->origin->attrs.kv[i];
	return NULL;
}

Test(task_pipeline, shim_socket_calls_become_task_spans)
{
	const char *dirs[] = { "/run/containerd/s/" };
	struct kt_pipeline_cfg cfg = KT_PIPELINE_DEFAULTS;
	cfg.protocols.rpc.shim_socket_dirs = dirs;
	cfg.protocols.rpc.n_shim_socket_dirs = 1;
	struct collected g = { .n = 0 };
	struct kt_pipeline *p = kt_pipeline_new(&cfg, &(struct kt_record_sink){ .span = collect, .ctx = &g });
	cr_assert_not_null(p);
	const char *path = "/run/containerd/s/3af8297f3893e993a82b33433b03c298a6e29bc0b2ccc794e0fdee8a2b7558d8";
	feed_start_call(p, path);
	cr_assert_eq(g.n, 1);
	const struct kt_span_record *r = g.r[0];
	cr_assert_str_eq(r->span.name.ptr, TASK_V2 "/Start");
	expect_str(&r->span, "katatrace.container.id", "c9");
	expect_str(&r->span, "katatrace.exec.id", "e9");
	cr_assert(r->span.resource_present);
	cr_assert_str_eq(r->span.resource.kv[0].value.s.ptr, "containerd", "the caller");
	cr_assert_str_eq(origin_attr(r, "katatrace.transport")->value.s.ptr, "containerd-shim");
	cr_assert_str_eq(origin_attr(r, "katatrace.socket.path")->value.s.ptr, path);
	cr_assert_eq(origin_attr(r, "katatrace.shim.pid")->value.i, 200, "the answering shim");
	cr_assert_str_eq(origin_attr(r, "katatrace.shim.comm")->value.s.ptr, "containerd-shim");
	cr_assert_null(origin_attr(r, "katatrace.hypervisor.pid"));
	cr_assert_null(origin_attr(r, "katatrace.sandbox.id"));
	cr_assert_eq(kt_pipeline_conn_count(p), 0, "both ends closed: forgotten");
	kt_span_record_free(g.r[0]);
	kt_pipeline_free(p);

	/* without the directory (--no-ttrpc): not decoded as Task calls */
	cfg.protocols.rpc.n_shim_socket_dirs = 0;
	g.n = 0;
	p = kt_pipeline_new(&cfg, &(struct kt_record_sink){ .span = collect, .ctx = &g });
	feed_start_call(p, path);
	kt_pipeline_finish_all(p);
	for (size_t i = 0; i < g.n; i++) {
		cr_assert(strncmp(g.r[i]->span.name.ptr, "containerd.", 11) != 0);
		kt_span_record_free(g.r[i]);
	}
	kt_pipeline_free(p);
}
