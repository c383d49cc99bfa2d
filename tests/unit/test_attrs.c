/* SPDX-License-Identifier: Apache-2.0 */
/* The attribute-list builder (model/attrs.h) and google.rpc.Code names (model/grpc_code.h). */
#include <criterion/criterion.h>
#include <string.h>

#include "model/attrs.h"
#include "model/grpc_code.h"

Test(attrs, exactly_cap_attributes_then_failed)
{
	struct kt_arena a;
	kt_arena_init(&a, 0);
	struct kt_attrs b;
	cr_assert(kt_attrs_init(&b, &a, 3));
	kt_attrs_cstr(&b, "k.str", "kept as given");
	kt_attrs_int(&b, "k.int", -7);
	kt_attrs_bool(&b, "k.bool", true);
	cr_expect_not(b.failed, "exactly cap attributes");
	kt_attrs_int(&b, "k.more", 1);
	cr_expect(b.failed, "one more than cap");
	struct kt_kvlist l = kt_attrs_list(&b);
	cr_assert_eq(l.n, 3, "nothing written beyond cap");
	cr_expect_str_eq(l.kv[0].key.ptr, "k.str");
	cr_expect_eq(l.kv[0].value.type, KT_VAL_STRING);
	cr_expect_eq(l.kv[1].value.i, -7);
	cr_expect(l.kv[2].value.b);
	kt_arena_free(&a);
}

Test(attrs, copies_live_in_the_arena_and_fail_without_room)
{
	struct kt_arena a;
	kt_arena_init(&a, 512);
	struct kt_attrs b;
	cr_assert(kt_attrs_init(&b, &a, 4));
	char text[] = "changed after";
	kt_attrs_copy(&b, "k.copy", (struct kt_str){ text, strlen(text) });
	text[0] = 'X';
	cr_expect_str_eq(b.kv[0].value.s.ptr, "changed after", "a copy, NUL-terminated");
	cr_expect_eq(b.kv[0].value.s.len, 13);
	char big[600];
	memset(big, 'b', sizeof(big));
	kt_attrs_copy(&b, "k.big", (struct kt_str){ big, sizeof(big) });
	cr_expect(b.failed, "the arena's limit");
	cr_expect_eq(b.n, 1, "a failed copy adds nothing");
	struct kt_str s = kt_attrs_dup(&b, big, sizeof(big));
	cr_expect_eq(s.len, 0);
	kt_arena_free(&a);

	struct kt_attrs none;
	struct kt_kv kv[2];
	kt_attrs_init_on(&none, kv, 2, NULL);
	kt_attrs_copy(&none, "k", (struct kt_str){ "v", 1 });
	cr_expect(none.failed, "no arena: no copy");
}

Test(attrs, append_to_a_finished_list)
{
	struct kt_arena a;
	kt_arena_init(&a, 0);
	struct kt_kv one = { .key = { "a", 1 }, .value = { .type = KT_VAL_I64, .i = 1 } };
	struct kt_kvlist l = { 1, &one };
	cr_assert(kt_attrs_append(&a, &l, "b", (struct kt_value){ .type = KT_VAL_BOOL, .b = true }));
	cr_expect_eq(l.n, 2);
	cr_expect_neq(l.kv, &one, "copied");
	cr_expect_eq(l.kv[0].value.i, 1);
	cr_expect_str_eq(l.kv[1].key.ptr, "b");
	cr_expect_eq(one.value.i, 1, "the old list untouched");
	kt_arena_free(&a);
}

Test(attrs, data_keys_are_kept_as_given_and_count_against_cap)
{
	struct kt_arena a;
	kt_arena_init(&a, 0);
	struct kt_attrs b;
	cr_assert(kt_attrs_init(&b, &a, 2));
	char key[] = "@[a\0b]"; /* a key that is data may hold a NUL */
	kt_attrs_data_int(&b, (struct kt_str){ key, 6 }, -3);
	kt_attrs_data_str(&b, (struct kt_str){ "@x", 2 }, (struct kt_str){ "v", 1 });
	cr_expect_not(b.failed);
	kt_attrs_data_int(&b, (struct kt_str){ "@y", 2 }, 1);
	cr_expect(b.failed, "one more than cap");
	struct kt_kvlist l = kt_attrs_list(&b);
	cr_assert_eq(l.n, 2);
	cr_expect_eq(l.kv[0].key.ptr, key, "not copied");
	cr_expect_eq(l.kv[0].key.len, 6, "the given length, past the NUL");
	cr_expect_eq(l.kv[0].value.type, KT_VAL_I64);
	cr_expect_eq(l.kv[0].value.i, -3);
	cr_expect_eq(l.kv[1].value.type, KT_VAL_STRING);
	cr_expect_str_eq(l.kv[1].value.s.ptr, "v");
	kt_arena_free(&a);
}

Test(grpc_code, names_of_every_code)
{
	cr_expect_str_eq(kt_grpc_code_name(KT_GRPC_OK), "OK");
	cr_expect_str_eq(kt_grpc_code_name(KT_GRPC_NOT_FOUND), "NOT_FOUND");
	cr_expect_str_eq(kt_grpc_code_name(KT_GRPC_UNAUTHENTICATED), "UNAUTHENTICATED");
	cr_expect_str_eq(kt_grpc_code_name(17), "?", "past the last code");
	cr_expect_str_eq(kt_grpc_code_name(-1), "?");
}
