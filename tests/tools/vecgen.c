/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Makes more test spans from the golden `worked` vector, for both eras,
 * by patching the bytes the real encoders produced (layout: WIRE-FORMATS
 * §2.6): new trace/span/parent ids across the full 128/64-bit ranges and an
 * attribute value of any size. Writes framed payloads and the matching
 * decoder-neutral expected_*.json, and prints one line per span:
 *   ERA FRAMED_FILE EXPECTED_FILE
 *
 * Usage: vecgen VECTORS_DIR OUT_DIR SEED N_RANDOM BIG_KIB[,BIG_KIB...]
 *        vecgen VECTORS_DIR OUT_DIR --ids TRACE SPAN PARENT
 * The second form writes one span per era with these ids (hex), numbered
 * from 900 so its files never share a name with the first form's.
 */
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/tools/u128_text.h"

struct variant {
	u128 trace;
	uint64_t span, parent;
	size_t value_len; /* 0: keep "rpc.rs" */
};

static uint64_t seed_state;

static uint64_t rnd(void)
{
	seed_state ^= seed_state >> 12;
	seed_state ^= seed_state << 25;
	seed_state ^= seed_state >> 27;
	return seed_state * 0x2545F4914F6CDD1Dull;
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		exit(2);
	}
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *b = malloc((size_t)n + 1);
	if (fread(b, 1, (size_t)n, f) != (size_t)n)
		exit(2);
	b[n] = 0;
	fclose(f);
	*len = (size_t)n;
	return b;
}

static void le(uint8_t *p, u128 v, int bytes)
{
	for (int i = 0; i < bytes; i++, v >>= 8)
		p[i] = (uint8_t)v;
}

static void write_framed(const char *path, const uint8_t *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	uint8_t hdr[8];
	for (int i = 0; i < 8; i++)
		hdr[i] = (uint8_t)((uint64_t)n >> (56 - 8 * i));
	if (!f || fwrite(hdr, 1, 8, f) != 8 || fwrite(p, 1, n, f) != n || fclose(f)) {
		perror(path);
		exit(2);
	}
}

/* Replaces the only occurrence of `from` in buf (length *n). */
static uint8_t *replace(uint8_t *buf, size_t *n, const char *from, const char *to)
{
	size_t fl = strlen(from), tl = strlen(to);
	uint8_t *at = memmem(buf, *n, from, fl);
	if (!at) {
		fprintf(stderr, "vecgen: '%s' not found in the golden JSON\n", from);
		exit(2);
	}
	size_t pre = (size_t)(at - buf), post = *n - pre - fl;
	uint8_t *out = malloc(pre + tl + post + 1);
	memcpy(out, buf, pre);
	memcpy(out + pre, to, tl);
	memcpy(out + pre + tl, at + fl, post);
	*n = pre + tl + post;
	free(buf);
	return out;
}

static char *make_value(size_t n)
{
	static const char alnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	char *s = malloc(n + 1);
	for (size_t i = 0; i < n; i++)
		s[i] = alnum[rnd() % (sizeof(alnum) - 1)];
	s[n] = 0;
	return s;
}

static u128 parse_hex(const char *s)
{
	u128 v = 0;
	size_t n = strlen(s);
	if (n == 0 || n > 32) {
		fprintf(stderr, "vecgen: '%s' is not a hex id\n", s);
		exit(2);
	}
	for (size_t i = 0; i < n; i++) {
		const char *d = strchr("0123456789abcdef", s[i]);
		if (!d || !s[i]) {
			fprintf(stderr, "vecgen: '%s' is not a lower-case hex id\n", s);
			exit(2);
		}
		v = v << 4 | (u128)(d - "0123456789abcdef");
	}
	return v;
}

static void hex(u128 v, int digits, char *out)
{
	for (int i = digits - 1; i >= 0; i--, v >>= 4)
		out[i] = "0123456789abcdef"[(int)(v & 0xf)];
	out[digits] = 0;
}

static void emit(const char *vec, const char *out, int idx, const char *era,
		 const struct variant *v)
{
	char path[4096], dec[64], exp_path[4096], framed[4096];
	const char *value = "rpc.rs";
	char *big = v->value_len ? make_value(v->value_len) : NULL;
	if (big)
		value = big;
	size_t vlen = strlen(value);

	if (strcmp(era, "bincode") == 0) {
		size_t n;
		snprintf(path, sizeof(path), "%s/otel014_bincode_worked.bin", vec);
		uint8_t *g = slurp(path, &n);
		/* offsets from the annotated dump of `worked` */
		size_t out_len = 0x6d + 8 + vlen + (n - 0x7b);
		uint8_t *b = malloc(out_len);
		memcpy(b, g, 0x6d);
		le(b + 0x00, v->trace, 16);
		le(b + 0x10, v->span, 8);
		le(b + 0x1b, v->parent, 8);
		le(b + 0x6d, vlen, 8);
		memcpy(b + 0x75, value, vlen);
		memcpy(b + 0x75 + vlen, g + 0x7b, n - 0x7b);
		snprintf(framed, sizeof(framed), "%s/var%03d_bincode.bin", out, idx);
		write_framed(framed, b, out_len);
		free(g);
		free(b);
	} else {
		size_t n;
		char to[128 + 64];
		snprintf(path, sizeof(path), "%s/otel017_json_worked.json", vec);
		uint8_t *j = slurp(path, &n);
		u128_dec(v->trace, dec);
		snprintf(to, sizeof(to), "\"trace_id\":%s,", dec);
		j = replace(j, &n, "\"trace_id\":14576827793038113322513871894673895836,", to);
		u128_dec(v->span, dec);
		snprintf(to, sizeof(to), "\"span_id\":%s,", dec);
		j = replace(j, &n, "\"span_id\":13235353014750950193,", to);
		u128_dec(v->parent, dec);
		snprintf(to, sizeof(to), "\"parent_span_id\":%s,", dec);
		j = replace(j, &n, "\"parent_span_id\":67667974448284343,", to);
		char *sv = malloc(vlen + 32);
		snprintf(sv, vlen + 32, "{\"String\":\"%s\"}", value);
		j = replace(j, &n, "{\"String\":\"rpc.rs\"}", sv);
		free(sv);
		snprintf(framed, sizeof(framed), "%s/var%03d_json.bin", out, idx);
		write_framed(framed, j, n);
		free(j);
	}

	snprintf(path, sizeof(path), "%s/expected_worked.json", vec);
	json_object *e = json_object_from_file(path);
	json_object *sc = json_object_object_get(e, "span_context");
	char h[40];
	hex(v->trace, 32, h);
	json_object_object_add(sc, "trace_id", json_object_new_string(h));
	hex(v->span, 16, h);
	json_object_object_add(sc, "span_id", json_object_new_string(h));
	hex(v->parent, 16, h);
	json_object_object_add(e, "parent_span_id", json_object_new_string(h));
	json_object *attr0 = json_object_array_get_idx(json_object_object_get(e, "attributes"), 0);
	json_object_object_add(json_object_object_get(attr0, "value"), "value",
			       json_object_new_string(value));
	char label[64];
	snprintf(label, sizeof(label), "var%03d_%s", idx, era);
	json_object_object_add(e, "label", json_object_new_string(label));
	snprintf(exp_path, sizeof(exp_path), "%s/expected_var%03d_%s.json", out, idx, era);
	if (json_object_to_file_ext(exp_path, e, JSON_C_TO_STRING_PLAIN)) {
		perror(exp_path);
		exit(2);
	}
	json_object_put(e);
	free(big);
	printf("%s %s %s\n", era, framed, exp_path);
}

int main(int argc, char **argv)
{
	if (argc == 7 && strcmp(argv[3], "--ids") == 0) {
		struct variant v = { .trace = parse_hex(argv[4]), .span = (uint64_t)parse_hex(argv[5]),
				     .parent = (uint64_t)parse_hex(argv[6]) };
		emit(argv[1], argv[2], 900, "json", &v);
		emit(argv[1], argv[2], 901, "bincode", &v);
		return 0;
	}
	if (argc != 6) {
		fprintf(stderr, "usage: vecgen VECTORS_DIR OUT_DIR SEED N_RANDOM BIG_KIB[,...]\n"
				"       vecgen VECTORS_DIR OUT_DIR --ids TRACE SPAN PARENT\n");
		return 2;
	}
	const char *vec = argv[1], *out = argv[2];
	seed_state = strtoull(argv[3], NULL, 0) | 1;
	int n_random = atoi(argv[4]);
	const u128 max128 = ~(u128)0;
	/* The edges of the id ranges, then random ids. */
	struct variant fixed[] = {
		{ .trace = 1, .span = 1, .parent = 0 },
		{ .trace = max128, .span = UINT64_MAX, .parent = UINT64_MAX },
		{ .trace = (u128)1 << 64, .span = 1ull << 63, .parent = (1ull << 63) - 1 },
		{ .trace = ((u128)1 << 127), .span = UINT64_MAX - 1, .parent = 1 },
		{ .trace = ((u128)1 << 64) - 1, .span = 0xffffffffull, .parent = 1ull << 32 },
	};
	int idx = 0;
	const char *eras[] = { "json", "bincode" };
	for (size_t k = 0; k < sizeof(fixed) / sizeof(fixed[0]); k++)
		for (int e = 0; e < 2; e++) {
			struct variant v = fixed[k];
			v.span ^= (uint64_t)e; /* distinct span per era */
			if (v.span == 0)
				v.span = 2;
			emit(vec, out, idx++, eras[e], &v);
		}
	for (int k = 0; k < n_random; k++)
		for (int e = 0; e < 2; e++) {
			struct variant v = { .trace = ((u128)rnd() << 64) | rnd(), .span = rnd() | 1,
					     .parent = rnd() };
			emit(vec, out, idx++, eras[e], &v);
		}
	char *list = strdup(argv[5]), *save = NULL;
	for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save))
		for (int e = 0; e < 2; e++) {
			struct variant v = { .trace = ((u128)rnd() << 64) | rnd(), .span = rnd() | 1,
					     .parent = rnd(), .value_len = strtoull(t, NULL, 0) * 1024 };
			emit(vec, out, idx++, eras[e], &v);
		}
	free(list);
	return 0;
}
