/* SPDX-License-Identifier: Apache-2.0 */
/*
 * In-memory model of one agent span: a faithful mirror of opentelemetry-rust's
 * SpanData (0.14 and 0.17 share the wire shape), filled by the decoders and
 * mapped to OTLP by otlp_build. All pointers point into the arena the span
 * was decoded into. Strings carry an explicit length (they may contain NUL)
 * and are also NUL-terminated.
 */
#ifndef KT_SPAN_H
#define KT_SPAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kt_str {
	const char *ptr;
	size_t len;
};

/* Variant indices as on the wire (opentelemetry Value / Array). */
enum kt_value_type {
	KT_VAL_BOOL = 0,
	KT_VAL_I64 = 1,
	KT_VAL_F64 = 2,
	KT_VAL_STRING = 3,
	KT_VAL_ARRAY_BOOL = 4,
	KT_VAL_ARRAY_I64 = 5,
	KT_VAL_ARRAY_F64 = 6,
	KT_VAL_ARRAY_STRING = 7,
};

struct kt_value {
	enum kt_value_type type;
	union {
		bool b;
		int64_t i;
		double f; /* JSON era: null (non-finite upstream) decodes to NaN */
		struct kt_str s;
		struct {
			size_t n;
			union {
				bool *b;
				int64_t *i;
				double *f;
				struct kt_str *s;
			};
		} arr;
	};
};

struct kt_kv {
	struct kt_str key;
	struct kt_value value;
};

struct kt_kvlist {
	size_t n;
	struct kt_kv *kv;
};

struct kt_trace_id {
	uint64_t hi; /* most significant 64 bits of the u128 */
	uint64_t lo;
};

struct kt_tracestate_entry {
	struct kt_str key;
	struct kt_str value;
};

struct kt_span_context {
	struct kt_trace_id trace_id;
	uint64_t span_id;
	uint8_t trace_flags;
	bool is_remote;
	bool trace_state_present; /* false: None; true with n == 0: Some([]) */
	size_t trace_state_n;
	struct kt_tracestate_entry *trace_state;
};

/* Variant indices as on the wire (SpanKind, StatusCode). */
enum kt_span_kind {
	KT_KIND_CLIENT = 0,
	KT_KIND_SERVER = 1,
	KT_KIND_PRODUCER = 2,
	KT_KIND_CONSUMER = 3,
	KT_KIND_INTERNAL = 4,
};

enum kt_status_code {
	KT_STATUS_UNSET = 0,
	KT_STATUS_OK = 1,
	KT_STATUS_ERROR = 2,
};

struct kt_event {
	struct kt_str name;
	uint64_t time_unix_nano;
	struct kt_kvlist attrs;
	uint32_t dropped_attributes_count;
};

struct kt_link {
	struct kt_span_context ctx;
	struct kt_kvlist attrs;
	uint32_t dropped_attributes_count;
};

struct kt_span {
	struct kt_span_context ctx;
	uint64_t parent_span_id; /* 0: root */
	enum kt_span_kind kind;
	struct kt_str name;
	uint64_t start_unix_nano;
	uint64_t end_unix_nano;

	struct kt_kvlist attrs; /* insertion order: reverse of evict_list */
	uint32_t attrs_max_len;
	uint32_t attrs_dropped;

	bool events_present; /* EvictedQueue.queue is Some */
	size_t n_events;
	struct kt_event *events;
	uint32_t events_max_len;
	uint32_t events_dropped;

	bool links_present;
	size_t n_links;
	struct kt_link *links;
	uint32_t links_max_len;
	uint32_t links_dropped;

	enum kt_status_code status_code;
	struct kt_str status_message;

	bool resource_present; /* bincode era: None; JSON era: Some */
	struct kt_kvlist resource; /* sorted by key, as BTreeMap */
};

/* Bytes of the ids in OTLP order (big-endian). */
void kt_trace_id_bytes(const struct kt_trace_id *id, uint8_t out[16]);
void kt_span_id_bytes(uint64_t id, uint8_t out[8]);
/* Lower-case hex, NUL-terminated: 33 and 17 bytes. */
void kt_trace_id_hex(const struct kt_trace_id *id, char out[33]);
void kt_span_id_hex(uint64_t id, char out[17]);

/* Find an attribute by key in a list; NULL if absent. */
const struct kt_kv *kt_kvlist_find(const struct kt_kvlist *l, const char *key);
bool kt_str_eq(struct kt_str s, const char *lit);

#endif
