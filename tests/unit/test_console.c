/* SPDX-License-Identifier: Apache-2.0 */
/* Console exporter: line format, truncation, and escaping of hostile text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "exporters/exporter.h"
#include "exporters/otlp_build.h"
#include "span_fixture.h"

static const struct kt_resource_cfg cfg = { .service_name = "kata-agent" };

static struct kt_span_record *head;
static struct kt_arena arena;
static char *text;
static size_t text_len;

static void setup(void)
{
	head = NULL;
	text = NULL;
	kt_arena_init(&arena, 0);
}

static void teardown(void)
{
	free(text);
	kt_span_record_free_list(head);
	kt_arena_free(&arena);
}

TestSuite(console, .init = setup, .fini = teardown);

/* Exports the records in head through a console exporter into text. */
static const char *run(void)
{
	FILE *mem = open_memstream(&text, &text_len);
	cr_assert_not_null(mem);
	struct kt_exporter *e = kt_exporter_console_new(mem);
	cr_assert_not_null(e);
	kt_otlp_request *req = kt_otlp_build(head, &cfg, &arena);
	cr_assert_not_null(req);
	cr_assert_eq(e->export(e, req, 1), KT_EXPORT_OK);
	e->flush(e);
	e->destroy(e);
	fclose(mem);
	return text;
}

#define ASSERT_TEXT(got, want) cr_assert_str_eq((got), (want), "\n got: %s\nwant: %s", (got), (want))

#define IDS "trace=0af7651916cd43dd8448eb211c80319c span=b7ad6b7169203331 parent=00f067aa0ba902b7"

Test(console, worked_span)
{
	struct kt_span_record *r = fx_record("CreateContainer");
	struct kt_arena *a = &r->arena;
	r->span.attrs = FX_LIST(a, fx_kv_str(a, "mod", "rpc.rs"), fx_kv_i64(a, "busy_ns", 250000));
	struct kt_event *ev = kt_arena_calloc(a, 1, sizeof(*ev));
	ev->name = fx_str(a, "created");
	r->span.events_present = true;
	r->span.n_events = 1;
	r->span.events = ev;
	r->origin = fx_origin("hybrid-vsock", "sb1");
	head = r;
	ASSERT_TEXT(run(), "2023-11-14T22:13:20.000005Z sandbox=sb1 " IDS
			   " \"CreateContainer\" 250.0ms internal unset mod=\"rpc.rs\" busy_ns=250000"
			   " events=1\n");
}

Test(console, one_line_per_span_across_resources)
{
	struct kt_span_record *r1 = fx_record("a");
	r1->span.parent_span_id = 0;
	r1->span.kind = KT_KIND_SERVER;
	r1->span.end_unix_nano = r1->span.start_unix_nano + 999;
	struct kt_span_record *r2 = fx_record("b");
	r2->origin = fx_origin("vsock", "sb2");
	r2->span.kind = KT_KIND_CLIENT;
	r2->span.status_code = KT_STATUS_OK;
	r2->span.end_unix_nano = r2->span.start_unix_nano + 1500;
	struct kt_span_record *r3 = fx_record("c");
	r3->span.status_code = KT_STATUS_ERROR;
	r3->span.status_message = fx_str(&r3->arena, "exec failed");
	r3->span.kind = KT_KIND_PRODUCER;
	r3->span.end_unix_nano = r3->span.start_unix_nano + 2500000000ull;
	struct kt_span_record *r4 = fx_record("d");
	r4->span.kind = KT_KIND_CONSUMER;
	r4->span.end_unix_nano = r4->span.start_unix_nano + 125500000000ull;
	struct kt_span_record *r5 = fx_record("e");
	r5->span.end_unix_nano = r5->span.start_unix_nano - 1;
	fx_append(&head, r1);
	fx_append(&head, r2);
	fx_append(&head, r3);
	fx_append(&head, r4);
	fx_append(&head, r5);
	/* Grouped by resource: r1, r3, r4, r5 (no origin) come before r2. */
	ASSERT_TEXT(run(),
		    "2023-11-14T22:13:20.000005Z sandbox=- trace=0af7651916cd43dd8448eb211c80319c "
		    "span=b7ad6b7169203331 parent=- \"a\" 999ns server unset\n"
		    "2023-11-14T22:13:20.000005Z sandbox=- " IDS
		    " \"c\" 2.500s producer error:\"exec failed\"\n"
		    "2023-11-14T22:13:20.000005Z sandbox=- " IDS " \"d\" 2m5.500s consumer unset\n"
		    "2023-11-14T22:13:20.000005Z sandbox=- " IDS " \"e\" ? internal unset\n"
		    "2023-11-14T22:13:20.000005Z sandbox=sb2 " IDS " \"b\" 1.5µs client ok\n");
}

Test(console, attributes_limited_and_truncated)
{
	struct kt_span_record *r = fx_record("n");
	struct kt_arena *a = &r->arena;
	static int64_t ints[] = { 1, 2, 3, 4, 5, 6 };
	char long_val[200];
	memset(long_val, 'x', sizeof(long_val) - 1);
	long_val[sizeof(long_val) - 1] = '\0';
	r->span.attrs = FX_LIST(
		a, fx_kv_str(a, "code.filepath", "src/rpc.rs"), fx_kv_i64(a, "thread.id", 3),
		fx_kv_str(a, "req", long_val), fx_kv_bool(a, "ok", true), fx_kv_f64(a, "ratio", 0.25),
		{ .key = fx_str(a, "ai"), .value = { .type = KT_VAL_ARRAY_I64, .arr = { .n = 6, .i = ints } } },
		fx_kv_str(a, "fifth", "not shown"));
	head = r;
	ASSERT_TEXT(run(), "2023-11-14T22:13:20.000005Z sandbox=- " IDS
			   " \"n\" 250.0ms internal unset req=\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…\""
			   " ok=true ratio=0.25 ai=[1,2,3,4,…] (+3 attrs)\n");
}

Test(console, hostile_text_is_escaped)
{
	struct kt_span_record *r = fx_record("x");
	struct kt_arena *a = &r->arena;
	/* newline + fake line, ANSI escape, CR, NUL, DEL, C1 CSI, RLO, LS, bad UTF-8 */
	r->span.name = FX_LIT(a, "a\n2023-01-01T00:00:00Z fake\x1b[31mred\r\0\x7f"
				 "\xc2\x9b\xe2\x80\xae\xe2\x80\xa8\xff\"\\ \xe4\xba\xba");
	r->span.attrs = FX_LIST(a, fx_kv_str(a, "k\ney", "v\tq\"\x1b]0;title\x07"));
	r->origin = fx_origin("unix", "sb\n\x1b");
	head = r;
	const char *got = run();
	ASSERT_TEXT(got, "2023-11-14T22:13:20.000005Z sandbox=sb\\n\\x1b " IDS
			 " \"a\\n2023-01-01T00:00:00Z fake\\x1b[31mred\\r\\x00\\x7f\\x9b\\u202e\\u2028"
			 "\\xff\\\"\\\\ \xe4\xba\xba\" 250.0ms internal unset k\\ney=\"v\\tq\\\"\\x1b]0;"
			 "title\\x07\"\n");
	/* Exactly one line, and no control bytes at all. */
	size_t lines = 0;
	for (const char *p = got; *p; p++) {
		if (*p == '\n')
			lines++;
		else
			cr_assert((unsigned char)*p >= 0x20 && *p != 0x7f, "control byte 0x%02x", *p);
	}
	cr_assert_eq(lines, 1);
}

Test(console, long_name_truncated_on_character_boundary)
{
	char name[400] = "";
	for (int i = 0; i < 120; i++)
		strcat(name, "\xce\xba"); /* κ, two bytes */
	head = fx_record(name);
	const char *got = run();
	char want[600] = "2023-11-14T22:13:20.000005Z sandbox=- " IDS " \"";
	for (int i = 0; i < 96; i++)
		strcat(want, "\xce\xba");
	strcat(want, "…\" 250.0ms internal unset\n");
	ASSERT_TEXT(got, want);
}
