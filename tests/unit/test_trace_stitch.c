/* SPDX-License-Identifier: Apache-2.0 */
/* Sandbox traces (user/traces/trace_stitch.c) and the id map under them. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "model/ids.h"
#include "traces/id_map.h"
#include "sandbox/sandbox_path.h"
#include "base/stats.h"
#include "traces/trace_stitch.h"
#include "rpc/ttrpc_span.h"

#define MS 1000000ull
#define T0 1700000000000000000ull

/* What came out, in order. */
static struct kt_span_record *out[64];
static size_t n_out;

static void collect(void *ctx, struct kt_span_record *r)
{
	(void)ctx;
	cr_assert_lt(n_out, 64);
	out[n_out++] = r;
}

static void reset(void)
{
	for (size_t i = 0; i < n_out; i++)
		kt_span_record_free(out[i]);
	n_out = 0;
}

static struct kt_origin *origin(const char *sandbox)
{
	struct kt_kvlist none = { 0 };
	return kt_origin_new(&none, sandbox, "test");
}

static struct kt_trace_id tid(uint64_t hi, uint64_t lo)
{
	return (struct kt_trace_id){ hi, lo };
}

static struct kt_span_record *span(struct kt_origin *o, enum kt_span_source src,
				   struct kt_trace_id t, uint64_t id, uint64_t parent,
				   const char *name, uint64_t start, uint64_t end)
{
	struct kt_span_record *r = kt_span_record_new(0);
	cr_assert_not_null(r);
	r->source = src;
	r->origin = kt_origin_get(o);
	r->span.ctx.trace_id = t;
	r->span.ctx.span_id = id;
	r->span.parent_span_id = parent;
	r->span.name = (struct kt_str){ name, strlen(name) };
	r->span.start_unix_nano = start;
	r->span.end_unix_nano = end;
	return r;
}

static const struct kt_span_record *find(uint64_t id)
{
	for (size_t i = 0; i < n_out; i++)
		if (out[i]->span.ctx.span_id == id)
			return out[i];
	return NULL;
}

static const char *attr_str(const struct kt_span_record *r, const char *key)
{
	const struct kt_kv *kv = kt_kvlist_find(&r->span.attrs, key);
	return kv && kv->value.type == KT_VAL_STRING ? kv->value.s.ptr : NULL;
}

static struct kt_rpc_request request(const char *method, uint64_t start, bool traced,
				    struct kt_trace_id t)
{
	return (struct kt_rpc_request){
		.service = { "grpc.AgentService", 17 },
		.method = { method, strlen(method) },
		.start_unix_ns = start,
		.has_traceparent = traced,
		.trace_id = t,
	};
}

struct fixture {
	struct kt_stitch *s;
	struct kt_origin *o;
	struct kt_trace_id sb_trace;
	uint64_t sb_root;
};

static struct fixture setup(struct kt_stitch_cfg cfg)
{
	struct fixture f = { .s = kt_stitch_new(&cfg, &(struct kt_record_sink){ .span = collect }), .o = origin("sb1") };
	cr_assert_not_null(f.s);
	kt_sandbox_ids("sb1", 3, &f.sb_trace, &f.sb_root);
	return f;
}

static void teardown_fx(struct fixture *f)
{
	kt_stitch_free(f->s);
	kt_origin_put(f->o);
	reset();
}

static bool same(struct kt_trace_id a, struct kt_trace_id b)
{
	return a.hi == b.hi && a.lo == b.lo;
}

Test(stitch, agent_root_joins_the_call_it_served)
{
	struct fixture f = setup((struct kt_stitch_cfg)KT_STITCH_DEFAULTS);
	struct kt_trace_id x = tid(1, 2);
	struct kt_rpc_request rq = request("CreateContainer", T0, false, tid(0, 0));
	uint64_t call_id = kt_stitch_rpc_request(f.s, "sb1", &rq, 1);
	cr_assert_neq(call_id, 0);
	/* The agent's child first, then its root; the call's span last. */
	kt_stitch_span(f.s, span(f.o, KT_SPAN_FROM_AGENT, x, 11, 10, "do_create_container", T0 + 2 * MS, T0 + 3 * MS), 1);
	kt_stitch_span(f.s, span(f.o, KT_SPAN_FROM_AGENT, x, 10, 0, "create_container", T0 + MS, T0 + 4 * MS), 1);
	kt_stitch_span(f.s, span(f.o, KT_SPAN_FROM_RPC, f.sb_trace, call_id, f.sb_root, "ttrpc.CreateContainer", T0, T0 + 5 * MS), 1);
	cr_assert_eq(n_out, 3, "nothing waits: the request was known");
	const struct kt_span_record *root = find(10), *child = find(11);
	cr_expect(same(root->span.ctx.trace_id, f.sb_trace));
	cr_expect(same(child->span.ctx.trace_id, f.sb_trace));
	cr_expect_eq(root->span.parent_span_id, call_id);
	cr_expect_eq(child->span.parent_span_id, 10, "inner parents are left alone");
	cr_expect_str_eq(attr_str(root, "katatrace.collated"), "rpc");
	cr_expect_str_eq(attr_str(root, "katatrace.agent.trace_id"), "00000000000000010000000000000002");
	cr_expect_null(attr_str(child, "katatrace.collated"));
	cr_expect_not_null(attr_str(child, "katatrace.agent.trace_id"));
	teardown_fx(&f);
}

Test(stitch, runtime_traces_are_left_alone)
{
	struct fixture f = setup((struct kt_stitch_cfg)KT_STITCH_DEFAULTS);
	struct kt_trace_id rt = tid(7, 7);
	struct kt_rpc_request rq = request("StartContainer", T0, true, rt);
	cr_expect_eq(kt_stitch_rpc_request(f.s, "sb1", &rq, 1), 0, "the traceparent gives the id");
	kt_stitch_span(f.s, span(f.o, KT_SPAN_FROM_AGENT, rt, 20, 0x99, "start_container", T0, T0 + MS), 1);
	cr_assert_eq(n_out, 1);
	cr_expect(same(out[0]->span.ctx.trace_id, rt));
	cr_expect_eq(out[0]->span.parent_span_id, 0x99);
	cr_expect_null(attr_str(out[0], "katatrace.agent.trace_id"));
	teardown_fx(&f);
}

Test(stitch, a_root_waits_for_its_request_then_gives_up)
{
	struct kt_stitch_cfg cfg = KT_STITCH_DEFAULTS;
	cfg.hold_ns = 100;
	struct fixture f = setup(cfg);
	/* No call yet: it waits. */
	kt_stitch_span(f.s, span(f.o, KT_SPAN_FROM_AGENT, tid(1, 1), 30, 0, "remove_container", T0, T0 + MS), 1000);
	kt_stitch_span(f.s, span(f.o, KT_SPAN_FROM_AGENT, tid(1, 2), 31, 0, "exec_process", T0, T0 + MS), 1000);
	cr_expect_eq(n_out, 0);
	/* The request for the first arrives late; the second times out. */
	struct kt_rpc_request rq = request("RemoveContainer", T0, false, tid(0, 0));
	uint64_t id = kt_stitch_rpc_request(f.s, "sb1", &rq, 1050);
	cr_assert_eq(n_out, 1);
	cr_expect_eq(out[0]->span.parent_span_id, id);
	kt_stitch_tick(f.s, 1099);
	cr_expect_eq(n_out, 1);
	kt_stitch_tick(f.s, 1100);
	cr_assert_eq(n_out, 2);
	cr_expect_eq(out[1]->span.parent_span_id, f.sb_root);
	cr_expect_str_eq(attr_str(out[1], "katatrace.collated"), "sandbox");
	cr_expect(same(out[1]->span.ctx.trace_id, f.sb_trace));
	teardown_fx(&f);
}

Test(stitch, matching_respects_method_time_and_once)
{
	struct fixture f = setup((struct kt_stitch_cfg)KT_STITCH_DEFAULTS);
	struct kt_rpc_request a = request("GetIPTables", T0, false, tid(0, 0));
	struct kt_rpc_request b = request("GetIPTables", T0 + 10000 * MS, false, tid(0, 0));
	struct kt_rpc_request u = request("UpdateEphemeralMounts", T0, false, tid(0, 0));
	uint64_t ia = kt_stitch_rpc_request(f.s, "sb1", &a, 1);
	uint64_t ib = kt_stitch_rpc_request(f.s, "sb1", &b, 1);
	uint64_t iu = kt_stitch_rpc_request(f.s, "sb1", &u, 1);
	/* Nearest in time wins, each call serves one root. */
	kt_stitch_span(f.s, span(f.o, KT_SPAN_FROM_AGENT, tid(2, 1), 40, 0, "get_iptables", T0 + 10000 * MS + MS, T0 + 10000 * MS + 2 * MS), 1);
	kt_stitch_span(f.s, span(f.o, KT_SPAN_FROM_AGENT, tid(2, 2), 41, 0, "get_iptables", T0 + MS, T0 + 2 * MS), 1);
	kt_stitch_span(f.s, span(f.o, KT_SPAN_FROM_AGENT, tid(2, 3), 42, 0, "update_mounts", T0 + MS, T0 + 2 * MS), 1);
	cr_assert_eq(n_out, 3);
	cr_expect_eq(find(40)->span.parent_span_id, ib);
	cr_expect_eq(find(41)->span.parent_span_id, ia);
	cr_expect_eq(find(42)->span.parent_span_id, iu, "the agent's name for UpdateEphemeralMounts");
	/* Both calls are taken, and a call 10 s away is no match either. */
	kt_stitch_span(f.s, span(f.o, KT_SPAN_FROM_AGENT, tid(2, 4), 43, 0, "get_iptables", T0 + 5000 * MS, T0 + 5001 * MS), 1);
	cr_expect_eq(n_out, 3, "waits for a call");
	kt_stitch_flush(f.s, false);
	cr_assert_eq(n_out, 4);
	cr_expect_eq(find(43)->span.parent_span_id, f.sb_root);
	teardown_fx(&f);
}

/*
 * A guest whose clock is far off (1970, the last nanoseconds u64 holds):
 * its roots serve no call, not even one still open (whose end is not known
 * yet), however near the skew allowance comes to the ends of the range,
 * and leave the call to the root that did serve it; their times are
 * exported as the guest gave them.
 */
Test(stitch, a_guest_clock_far_off_matches_no_call)
{
	struct kt_stitch_cfg cfg = KT_STITCH_DEFAULTS;
	cfg.hold_ns = 100;
	struct fixture f = setup(cfg);
	struct kt_rpc_request rq = request("CreateContainer", T0, false, tid(0, 0));
	uint64_t call = kt_stitch_rpc_request(f.s, "sb1", &rq, 1);
	uint64_t k = cfg.skew_ns;
	struct {
		uint64_t id, start, end;
	} off[] = {
		{ 80, 1, 2 },
		{ 81, UINT64_MAX - k + 1, UINT64_MAX }, /* start + skew would wrap to 0 */
		{ 82, UINT64_MAX - 1, UINT64_MAX },
		{ 83, T0 - k - 1, T0 - k }, /* just outside the allowance before the call */
	};
	for (size_t i = 0; i < sizeof(off) / sizeof(off[0]); i++)
		kt_stitch_span(f.s, span(f.o, KT_SPAN_FROM_AGENT, tid(8, i), off[i].id, 0,
					 "create_container", off[i].start, off[i].end), 10);
	cr_expect_eq(n_out, 0, "none of them served the call: they wait for another");
	/* The root that served it, within the allowance, still gets it. */
	kt_stitch_span(f.s, span(f.o, KT_SPAN_FROM_AGENT, tid(8, 9), 89, 0, "create_container",
				 T0 + MS, T0 + 2 * MS), 10);
	cr_assert_eq(n_out, 1);
	cr_expect_eq(find(89)->span.parent_span_id, call);
	kt_stitch_tick(f.s, 110);
	cr_assert_eq(n_out, 5, "the others go under the sandbox's root when their wait ends");
	for (size_t i = 0; i < sizeof(off) / sizeof(off[0]); i++) {
		const struct kt_span_record *r = find(off[i].id);
		cr_assert_not_null(r);
		cr_expect_eq(r->span.parent_span_id, f.sb_root);
		cr_expect_eq(r->span.start_unix_nano, off[i].start, "times as the guest gave them");
		cr_expect_eq(r->span.end_unix_nano, off[i].end);
	}
	teardown_fx(&f);
}

Test(stitch, the_agent_root_span_goes_under_the_sandbox_root)
{
	struct fixture f = setup((struct kt_stitch_cfg)KT_STITCH_DEFAULTS);
	kt_stitch_span(f.s, span(f.o, KT_SPAN_FROM_AGENT, tid(3, 3), 50, 0, "root-span", T0, T0 + MS), 1);
	cr_assert_eq(n_out, 1, "root-span serves no call: no wait");
	cr_expect_eq(out[0]->span.parent_span_id, f.sb_root);
	teardown_fx(&f);
}

Test(stitch, completion_synthesises_missing_parents_and_the_root)
{
	struct kt_stitch_cfg cfg = KT_STITCH_DEFAULTS;
	cfg.grace_ns = 10;
	struct fixture f = setup(cfg);
	struct kt_trace_id y = tid(4, 4);
	/* Two children of a root-span that never comes; a parent that arrives late. */
	kt_stitch_span(f.s, span(f.o, KT_SPAN_FROM_AGENT, y, 60, 0x77, "announce", T0 + 5 * MS, T0 + 6 * MS), 1);
	kt_stitch_span(f.s, span(f.o, KT_SPAN_FROM_AGENT, y, 61, 0x77, "start_sandbox", T0 + 2 * MS, T0 + 9 * MS), 1);
	kt_stitch_span(f.s, span(f.o, KT_SPAN_FROM_AGENT, y, 62, 63, "mount", T0, T0 + MS), 1);
	kt_stitch_span(f.s, span(f.o, KT_SPAN_FROM_AGENT, y, 63, 61, "add_storages", T0, T0 + 2 * MS), 1);
	cr_assert_eq(n_out, 4);
	kt_stitch_tick(f.s, 100);
	cr_expect_eq(n_out, 4, "nothing while the sandbox lives");
	kt_stitch_sandbox_end(f.s, "sb1", 200);
	kt_stitch_tick(f.s, 209);
	cr_expect_eq(n_out, 4, "the grace period");
	kt_stitch_tick(f.s, 210);
	cr_assert_eq(n_out, 6);
	const struct kt_span_record *rs = find(0x77), *root = find(f.sb_root);
	cr_assert_not_null(rs);
	cr_assert_not_null(root);
	cr_expect_str_eq(rs->span.name.ptr, "missing-parent");
	cr_expect(same(rs->span.ctx.trace_id, f.sb_trace), "moved with its children");
	cr_expect_eq(rs->span.parent_span_id, f.sb_root);
	cr_expect_eq(rs->span.start_unix_nano, T0 + 2 * MS);
	cr_expect_eq(rs->span.end_unix_nano, T0 + 9 * MS);
	const struct kt_kv *kv = kt_kvlist_find(&rs->span.attrs, "katatrace.synthesized");
	cr_expect(kv && kv->value.type == KT_VAL_BOOL && kv->value.b);
	kv = kt_kvlist_find(&rs->span.attrs, "katatrace.synthesized.children");
	cr_expect(kv && kv->value.i == 2);
	cr_expect_str_eq(root->span.name.ptr, "kata.sandbox");
	cr_expect_eq(root->span.parent_span_id, 0);
	cr_expect_eq(root->source, KT_SPAN_FROM_STITCH);
	cr_expect_eq(root->origin, f.o, "the sandbox's resource");
	/* Late spans of an ended sandbox pass through, nothing more is made. */
	kt_stitch_span(f.s, span(f.o, KT_SPAN_FROM_AGENT, y, 64, 0x55, "late", T0, T0 + 1), 300);
	kt_stitch_tick(f.s, 400);
	cr_expect_eq(n_out, 7);
	teardown_fx(&f);
}

Test(stitch, the_vm_span_is_the_root_and_its_exit_ends_the_sandbox)
{
	struct kt_stitch_cfg cfg = KT_STITCH_DEFAULTS;
	cfg.grace_ns = 10;
	struct fixture f = setup(cfg);
	kt_stitch_span(f.s, span(f.o, KT_SPAN_FROM_AGENT, tid(5, 5), 70, 0, "root-span", T0, T0 + 1), 1);
	kt_stitch_span(f.s, span(f.o, KT_SPAN_FROM_AGENT, tid(5, 6), 71, 0x42, "orphan", T0, T0 + 1), 1);
	/* Other host spans do not end it. */
	kt_stitch_span(f.s, span(f.o, KT_SPAN_FROM_HOST, f.sb_trace, 72, f.sb_root, "vsock.connection", T0, T0 + 2), 1);
	kt_stitch_tick(f.s, 100);
	cr_expect_eq(n_out, 3);
	kt_stitch_span(f.s, span(f.o, KT_SPAN_FROM_HOST, f.sb_trace, f.sb_root, 0, "kata.vm", T0, T0 + 2), 200);
	kt_stitch_tick(f.s, 209);
	cr_expect_eq(n_out, 4);
	kt_stitch_tick(f.s, 210);
	cr_assert_eq(n_out, 5, "only the orphan's parent: the root arrived");
	cr_expect_eq(out[4]->span.ctx.span_id, 0x42);
	cr_expect_str_eq(out[4]->span.name.ptr, "missing-parent");
	teardown_fx(&f);
}

Test(stitch, switched_off_and_without_sandbox_it_passes_through)
{
	struct kt_stitch_cfg cfg = KT_STITCH_DEFAULTS;
	cfg.collate = false;
	cfg.complete = false;
	struct fixture f = setup(cfg);
	struct kt_origin *none = origin(NULL);
	kt_stitch_span(f.s, span(f.o, KT_SPAN_FROM_AGENT, tid(6, 6), 80, 0, "create_container", T0, T0 + 1), 1);
	kt_stitch_span(f.s, span(none, KT_SPAN_FROM_AGENT, tid(6, 7), 81, 0, "create_container", T0, T0 + 1), 1);
	kt_stitch_span(f.s, span(f.o, KT_SPAN_FROM_AGENT, tid(6, 6), 82, 0x1234, "child", T0, T0 + 1), 1);
	struct kt_rpc_request rq = request("CreateContainer", T0, false, tid(0, 0));
	cr_expect_eq(kt_stitch_rpc_request(f.s, "sb1", &rq, 1), 0);
	kt_stitch_sandbox_end(f.s, "sb1", 1);
	kt_stitch_tick(f.s, UINT64_MAX / 2);
	kt_stitch_flush(f.s, true);
	cr_assert_eq(n_out, 3);
	cr_expect(same(find(80)->span.ctx.trace_id, tid(6, 6)));
	cr_expect_eq(find(80)->span.parent_span_id, 0);
	kt_origin_put(none);
	teardown_fx(&f);
}

Test(stitch, bounded_in_sandboxes_and_ids)
{
	struct kt_stitch_cfg cfg = KT_STITCH_DEFAULTS;
	cfg.max_sandboxes = 2;
	cfg.max_spans = 8;
	cfg.collate = false;
	struct kt_stitch *s = kt_stitch_new(&cfg, &(struct kt_record_sink){ .span = collect });
	struct kt_origin *o[3] = { origin("a"), origin("b"), origin("c") };
	uint64_t before = KT_STAT_GET(stitch_untracked);
	for (int i = 0; i < 3; i++)
		kt_stitch_span(s, span(o[i], KT_SPAN_FROM_AGENT, tid(1, 1), 100 + i, 0, "x", T0, T0), 1);
	cr_expect_eq(kt_stitch_sandboxes(s), 2, "the least recently used made room");
	cr_expect_eq(n_out, 3);
	cr_expect_eq(KT_STAT_GET(stitch_untracked), before + 1, "a live one lost its completion");
	/* An ended sandbox is the first to go, and goes by itself later. */
	kt_stitch_sandbox_end(s, "c", 2);
	kt_stitch_tick(s, 6000000000ull);
	kt_stitch_span(s, span(o[0], KT_SPAN_FROM_AGENT, tid(1, 1), 200, 0, "x", T0, T0), 6000000000ull);
	cr_expect_eq(kt_stitch_sandboxes(s), 2);
	cr_expect_eq(KT_STAT_GET(stitch_untracked), before + 1);
	kt_stitch_sandbox_end(s, "a", 7000000000ull);
	kt_stitch_tick(s, 13000000000ull);
	kt_stitch_tick(s, 700000000000ull);
	cr_expect_eq(kt_stitch_sandboxes(s), 1, "tombstones expire");
	/* Many ids in a sandbox: memory stays bounded, spans keep flowing. */
	for (int i = 0; i < 40; i++)
		kt_stitch_span(s, span(o[1], KT_SPAN_FROM_AGENT, tid(1, 1), 1000 + i, 5000 + i, "x", T0, T0), 1);
	cr_expect_eq(n_out, 44);
	cr_expect_gt(KT_STAT_GET(stitch_untracked), before + 1, "parents beyond the bound are counted");
	kt_stitch_free(s);
	for (int i = 0; i < 3; i++)
		kt_origin_put(o[i]);
	reset();
}

Test(id_map, holds_exactly_max_entries)
{
	struct kt_id_map m;
	kt_id_map_init(&m, 5);
	for (uint64_t id = 1; id <= 5; id++)
		cr_assert_eq(kt_id_map_put(&m, id, (uint32_t)id), 0, "entry %llu of 5",
			     (unsigned long long)id);
	cr_expect_eq(m.n, 5);
	cr_expect_eq(kt_id_map_put(&m, 6, 6), -1, "a sixth entry");
	cr_expect_eq(kt_id_map_put(&m, 3, 33), 0, "overwriting in a full map");
	uint32_t v;
	cr_expect(kt_id_map_get(&m, 3, &v) && v == 33);
	cr_expect_not(kt_id_map_get(&m, 6, &v));
	cr_expect(kt_id_map_del(&m, 1));
	cr_expect_eq(kt_id_map_put(&m, 6, 6), 0, "room again after a delete");
	cr_expect_eq(kt_id_map_put(&m, 7, 7), -1);
	kt_id_map_free(&m);
}

Test(stitch, sandbox_ids_up_to_128_characters_are_tracked)
{
	struct kt_stitch_cfg cfg = KT_STITCH_DEFAULTS;
	cfg.collate = false;
	struct kt_stitch *s = kt_stitch_new(&cfg, &(struct kt_record_sink){ .span = collect });
	char id[KT_SANDBOX_ID_MAX + 2];
	memset(id, 's', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';
	struct kt_origin *long_one = origin(id); /* 129 characters */
	id[KT_SANDBOX_ID_MAX] = '\0';
	struct kt_origin *exact = origin(id); /* 128 */
	kt_stitch_span(s, span(long_one, KT_SPAN_FROM_AGENT, tid(1, 1), 100, 0, "x", T0, T0), 1);
	cr_expect_eq(kt_stitch_sandboxes(s), 0, "a 129-character id was tracked");
	kt_stitch_span(s, span(exact, KT_SPAN_FROM_AGENT, tid(1, 1), 101, 0, "x", T0, T0), 1);
	cr_expect_eq(kt_stitch_sandboxes(s), 1, "a 128-character id was not tracked");
	cr_expect_eq(n_out, 2);
	kt_stitch_free(s);
	kt_origin_put(long_one);
	kt_origin_put(exact);
	reset();
}

Test(id_map, agrees_with_a_plain_array)
{
	struct kt_id_map m;
	kt_id_map_init(&m, 3000);
	static uint32_t ref[4096]; /* id k in 1..4095 -> value + 1, 0 = absent */
	memset(ref, 0, sizeof(ref));
	srand(7);
	for (int step = 0; step < 200000; step++) {
		uint64_t k = 1 + (uint64_t)rand() % 4095;
		/* Ids that collide in the low bits exercise the probing. */
		uint64_t id = k << 20;
		switch (rand() % 3) {
		case 0: {
			uint32_t v = (uint32_t)rand();
			size_t n_before = m.n;
			int rc = kt_id_map_put(&m, id, v);
			if (ref[k] || n_before < 3000) {
				cr_assert_eq(rc, 0);
				ref[k] = v + 1;
			} else {
				cr_assert_eq(rc, -1, "full");
			}
			break;
		}
		case 1:
			cr_assert_eq(kt_id_map_del(&m, id), ref[k] != 0);
			ref[k] = 0;
			break;
		default: {
			uint32_t v;
			bool got = kt_id_map_get(&m, id, &v);
			cr_assert_eq(got, ref[k] != 0);
			if (got)
				cr_assert_eq(v, ref[k] - 1);
		}
		}
	}
	cr_expect_eq(kt_id_map_put(&m, 0, 1), -1, "0 is not an id");
	kt_id_map_free(&m);
}
