/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The protobuf-c allocator's byte budget (user/base/pb_budget.c) at its exact
 * boundary: allocations bringing the total exactly to the budget succeed,
 * one byte more fails (and sets hit), frees give the budget back, and a
 * message unpacks with exactly the bytes it holds as its budget.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "base/pb_budget.h"
#include "ttrpc/ttrpc.pb-c.h"

static void *take(ProtobufCAllocator *al, size_t n)
{
	return al->alloc(al->allocator_data, n);
}

static void give(ProtobufCAllocator *al, void *p)
{
	al->free(al->allocator_data, p);
}

Test(pb_budget, one_allocation_of_exactly_the_budget)
{
	struct kt_pb_budget b = { .limit = 100 };
	ProtobufCAllocator al = kt_pb_budget_allocator(&b);
	void *p = take(&al, 100);
	cr_assert_not_null(p);
	memset(p, 0xa5, 100); /* all of it is usable (ASan) */
	cr_assert_eq(b.used, 100);
	cr_assert_not(b.hit);
	cr_assert_null(take(&al, 1), "one byte over the budget");
	cr_assert(b.hit);
	cr_assert_eq(b.used, 100);
	give(&al, p);
	cr_assert_eq(b.used, 0);

	struct kt_pb_budget b2 = { .limit = 100 };
	ProtobufCAllocator al2 = kt_pb_budget_allocator(&b2);
	cr_assert_null(take(&al2, 101));
	cr_assert(b2.hit);
	cr_assert_eq(b2.used, 0);
	give(&al2, NULL);
	cr_assert_eq(b2.used, 0);
}

Test(pb_budget, allocations_filling_the_budget_exactly)
{
	struct kt_pb_budget b = { .limit = 100 };
	ProtobufCAllocator al = kt_pb_budget_allocator(&b);
	void *p = take(&al, 60), *q = take(&al, 40);
	cr_assert_not_null(p);
	cr_assert_not_null(q);
	cr_assert_eq(b.used, 100);
	cr_assert_not(b.hit);
	cr_assert_null(take(&al, 1));
	cr_assert(b.hit);
	/* A free gives exactly its bytes back. */
	give(&al, q);
	cr_assert_eq(b.used, 60);
	q = take(&al, 40);
	cr_assert_not_null(q);
	cr_assert_null(take(&al, 1));
	give(&al, p);
	give(&al, q);
	cr_assert_eq(b.used, 0);
}

/* A ttrpc Request with metadata, packed. */
static uint8_t *request_bytes(size_t *n)
{
	Ttrpc__Request r = TTRPC__REQUEST__INIT;
	Ttrpc__KeyValue kv[3], *kvp[3];
	static const char *const md[] = { "traceparent", "00-0af7651916cd43dd8448eb211c80319c-"
							 "b7ad6b7169203331-01",
					  "k", "v", "tracestate", "a=1" };
	static uint8_t payload[1000];
	r.service = (ProtobufCBinaryData){ 17, (uint8_t *)"grpc.AgentService" };
	r.method = (ProtobufCBinaryData){ 15, (uint8_t *)"CreateContainer" };
	r.payload = (ProtobufCBinaryData){ sizeof(payload), payload };
	r.timeout_nano = 1;
	for (int i = 0; i < 3; i++) {
		ttrpc__key_value__init(&kv[i]);
		kv[i].key = (ProtobufCBinaryData){ strlen(md[2 * i]), (uint8_t *)md[2 * i] };
		kv[i].value = (ProtobufCBinaryData){ strlen(md[2 * i + 1]), (uint8_t *)md[2 * i + 1] };
		kvp[i] = &kv[i];
	}
	r.n_metadata = 3;
	r.metadata = kvp;
	*n = ttrpc__request__get_packed_size(&r);
	uint8_t *p = malloc(*n);
	cr_assert_not_null(p);
	cr_assert_eq(ttrpc__request__pack(&r, p), *n);
	return p;
}

Test(pb_budget, a_message_unpacks_with_exactly_the_bytes_it_holds)
{
	size_t n;
	uint8_t *p = request_bytes(&n);

	struct kt_pb_budget big = { .limit = 1 << 20 };
	ProtobufCAllocator al = kt_pb_budget_allocator(&big);
	Ttrpc__Request *r = ttrpc__request__unpack(&al, n, p);
	cr_assert_not_null(r);
	size_t held = big.used;
	cr_assert_gt(held, 1000);
	ttrpc__request__free_unpacked(r, &al);
	cr_assert_eq(big.used, 0, "everything given back");

	struct kt_pb_budget exact = { .limit = held };
	al = kt_pb_budget_allocator(&exact);
	r = ttrpc__request__unpack(&al, n, p);
	cr_assert_not_null(r, "a budget of exactly %zu bytes", held);
	cr_assert_not(exact.hit);
	cr_assert_eq(exact.used, held);
	ttrpc__request__free_unpacked(r, &al);

	struct kt_pb_budget short1 = { .limit = held - 1 };
	al = kt_pb_budget_allocator(&short1);
	cr_assert_null(ttrpc__request__unpack(&al, n, p), "a budget of %zu bytes", held - 1);
	cr_assert(short1.hit);
	cr_assert_eq(short1.used, 0, "a failed unpack gives everything back");
	free(p);
}
