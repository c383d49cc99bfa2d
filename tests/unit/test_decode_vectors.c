/* SPDX-License-Identifier: Apache-2.0 */
/* Golden vectors of both eras, raw and framed, through every entry point. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/decode.h"
#include "expect_span.h"

#define ARENA_LIMIT (4u << 20)

static const char *era_file(enum kt_era era)
{
	return era == KT_ERA_JSON ? "otel017_json_%s.json" : "otel014_bincode_%s.bin";
}

static enum kt_format era_format(enum kt_era era)
{
	return era == KT_ERA_JSON ? KT_FORMAT_JSON : KT_FORMAT_BINCODE;
}

/* Decode p through fmt, compare with expected_<label>.json. */
static void decode_and_expect(const uint8_t *p, size_t n, enum kt_format fmt, const char *label,
			      enum kt_era era)
{
	struct kt_arena a;
	struct kt_span s;
	struct kt_decode_error err = {{0}};
	enum kt_format used = KT_FORMAT_AUTO;
	/* An exact-size copy: ASan catches any read past the payload. */
	uint8_t *exact = malloc(n);
	cr_assert_not_null(exact);
	memcpy(exact, p, n);
	kt_arena_init(&a, ARENA_LIMIT);
	int rc = kt_decode_span(fmt, exact, n, &a, &s, &used, &err);
	free(exact);
	cr_expect_eq(rc, 0, "[%s, %s via %s] decode failed: %s", label,
		     kt_format_name(era_format(era)), kt_format_name(fmt), err.msg);
	cr_expect_eq(used, era_format(era), "[%s] used %s", label, kt_format_name(used));
	if (rc == 0)
		kt_expect_span(&s, label, era);
	kt_arena_free(&a);
}

static void raw_vectors(enum kt_era era)
{
	for (size_t i = 0; i < kt_test_n_labels; i++) {
		const char *label = kt_test_labels[i];
		size_t n;
		uint8_t *p = kt_test_read_vectorf(&n, era_file(era), label);
		cr_expect_eq(kt_sniff_format(p, n), era_format(era), "[%s] sniffed wrong", label);
		decode_and_expect(p, n, era_format(era), label, era);
		decode_and_expect(p, n, KT_FORMAT_AUTO, label, era);

		/* The era-specific entry points directly. */
		struct kt_arena a;
		struct kt_span s;
		struct kt_decode_error err;
		kt_arena_init(&a, ARENA_LIMIT);
		int rc = era == KT_ERA_JSON ? kt_decode_json(p, n, &a, &s, &err)
					    : kt_decode_bincode(p, n, &a, &s, &err);
		cr_expect_eq(rc, 0, "[%s] %s", label, err.msg);
		if (rc == 0)
			kt_expect_span(&s, label, era);
		kt_arena_free(&a);
		free(p);
	}
}

Test(vectors, bincode_raw)
{
	raw_vectors(KT_ERA_BINCODE);
}

Test(vectors, json_raw)
{
	raw_vectors(KT_ERA_JSON);
}

static uint64_t be64(const uint8_t *b)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | b[i];
	return v;
}

static void framed_vectors(enum kt_era era)
{
	for (size_t i = 0; i < kt_test_n_labels; i++) {
		const char *label = kt_test_labels[i];
		size_t n, raw_n;
		uint8_t *f = kt_test_read_vectorf(&n, "framed_otel%s_%s.bin",
						  era == KT_ERA_JSON ? "017_json" : "014_bincode",
						  label);
		uint8_t *raw = kt_test_read_vectorf(&raw_n, era_file(era), label);
		cr_assert_geq(n, 8, "[%s] framed file shorter than a header", label);
		cr_expect_eq(be64(f), n - 8, "[%s] header %llu, payload %zu", label,
			     (unsigned long long)be64(f), n - 8);
		cr_expect(n - 8 == raw_n && memcmp(f + 8, raw, raw_n) == 0,
			  "[%s] framed payload differs from the raw vector", label);
		decode_and_expect(f + 8, n - 8, KT_FORMAT_AUTO, label, era);
		decode_and_expect(f + 8, n - 8, era_format(era), label, era);
		free(f);
		free(raw);
	}
}

Test(vectors, bincode_framed)
{
	framed_vectors(KT_ERA_BINCODE);
}

Test(vectors, json_framed)
{
	framed_vectors(KT_ERA_JSON);
}

/* All frames back to back, in stream_order.txt order. */
static void stream(enum kt_era era)
{
	size_t n, off = 0, k = 0;
	uint8_t *p = kt_test_read_vector(era == KT_ERA_JSON ? "framed_stream_otel017_json.bin"
							    : "framed_stream_otel014_bincode.bin",
					 &n);
	while (off < n) {
		cr_assert_leq(8, n - off, "partial header at %zu", off);
		uint64_t len = be64(p + off);
		cr_assert_leq(len, n - off - 8, "frame %zu overruns the stream", k);
		cr_assert_lt(k, kt_test_n_labels, "more frames than labels");
		decode_and_expect(p + off + 8, (size_t)len, KT_FORMAT_AUTO, kt_test_labels[k], era);
		off += 8 + (size_t)len;
		k++;
	}
	cr_expect_eq(k, kt_test_n_labels, "%zu frames, want %zu", k, kt_test_n_labels);
	free(p);
}

Test(vectors, bincode_stream)
{
	stream(KT_ERA_BINCODE);
}

Test(vectors, json_stream)
{
	stream(KT_ERA_JSON);
}

/* The label list above must stay in step with the vectors directory. */
Test(vectors, labels_match_stream_order)
{
	size_t n;
	char *txt = (char *)kt_test_read_vector("stream_order.txt", &n);
	size_t k = 0;
	for (char *line = strtok(txt, "\n"); line; line = strtok(NULL, "\n")) {
		if (!*line)
			continue;
		cr_expect_lt(k, kt_test_n_labels, "extra label %s", line);
		if (k < kt_test_n_labels)
			cr_expect_str_eq(line, kt_test_labels[k], "label %zu", k);
		k++;
	}
	cr_expect_eq(k, kt_test_n_labels);
	free(txt);
}

Test(format, sniff_and_names)
{
	static const uint8_t json[] = KT_JSON_PREFIX "1}";
	cr_expect_eq(kt_sniff_format(json, sizeof(json) - 1), KT_FORMAT_JSON);
	/* One byte short of the prefix, or a lone '{': bincode. */
	cr_expect_eq(kt_sniff_format(json, KT_JSON_PREFIX_LEN - 1), KT_FORMAT_BINCODE);
	cr_expect_eq(kt_sniff_format((const uint8_t *)"{", 1), KT_FORMAT_BINCODE);
	cr_expect_eq(kt_sniff_format(NULL, 0), KT_FORMAT_BINCODE);

	enum kt_format f;
	cr_expect_eq(kt_format_parse("auto", &f), 0);
	cr_expect_eq(f, KT_FORMAT_AUTO);
	cr_expect_eq(kt_format_parse("json", &f), 0);
	cr_expect_eq(f, KT_FORMAT_JSON);
	cr_expect_eq(kt_format_parse("bincode", &f), 0);
	cr_expect_eq(f, KT_FORMAT_BINCODE);
	cr_expect_eq(kt_format_parse("JSON", &f), -1);
	cr_expect_eq(kt_format_parse("", &f), -1);
	cr_expect_eq(kt_format_parse(NULL, &f), -1);
	cr_expect_str_eq(kt_format_name(KT_FORMAT_AUTO), "auto");
	cr_expect_str_eq(kt_format_name(KT_FORMAT_JSON), "json");
	cr_expect_str_eq(kt_format_name(KT_FORMAT_BINCODE), "bincode");
}

/* The comparison helper itself must notice a wrong span. */
static size_t mismatches(const char *file, const char *label, enum kt_era era)
{
	size_t n;
	uint8_t *p = kt_test_read_vector(file, &n);
	struct kt_arena a;
	struct kt_span s;
	struct kt_decode_error err;
	kt_arena_init(&a, ARENA_LIMIT);
	cr_assert_eq(kt_decode_span(KT_FORMAT_AUTO, p, n, &a, &s, NULL, &err), 0, "%s", err.msg);
	size_t k = kt_span_mismatches(&s, label, era);
	kt_arena_free(&a);
	free(p);
	return k;
}

Test(expect_span, notices_differences)
{
	cr_expect_eq(mismatches("otel014_bincode_worked.bin", "worked", KT_ERA_BINCODE), 0);
	cr_expect_gt(mismatches("otel014_bincode_worked.bin", "root", KT_ERA_BINCODE), 0);
	cr_expect_gt(
		mismatches("otel017_json_tracestate_empty.json", "tracestate_none", KT_ERA_JSON),
		0);
	cr_expect_gt(mismatches("otel017_json_kind_client.json", "kind_server", KT_ERA_JSON), 0);
	cr_expect_gt(mismatches("otel014_bincode_bigids.bin", "root", KT_ERA_BINCODE), 0);
	/* Infinities kept by bincode are not what the JSON era can deliver... */
	cr_expect_gt(mismatches("otel014_bincode_f64_nonfinite.bin", "f64_nonfinite", KT_ERA_JSON),
		     0);
	/* ...while the JSON era's NaNs would not pass for bincode's exact bits. */
	cr_expect_gt(mismatches("otel017_json_f64_nonfinite.json", "f64_nonfinite", KT_ERA_BINCODE),
		     0);
	cr_expect_eq(mismatches("otel017_json_f64_nonfinite.json", "f64_nonfinite", KT_ERA_JSON),
		     0);
}
