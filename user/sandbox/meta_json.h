/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The JSON reading shared by the sandbox metadata parsers (persist.json,
 * state.json: sandbox_meta.c; config.json: oci_bundle.c).
 *
 * Takes: the text of a file, up to KT_META_CONFIG_MAX bytes. Gives: a json-c
 * object only when the text is one RFC 8259 JSON object (checked by
 * json_scan.c first: json-c alone lets NaN, single quotes and lone
 * surrogates through) nested at most KT_META_JSON_DEPTH deep, or the reason
 * it is not; and typed lookups that give a value only when it has the right
 * type and, for strings, fits and is clean text (kt_meta_str_set: dropped,
 * never cut).
 */
#ifndef KT_META_JSON_H
#define KT_META_JSON_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One JSON object from buf[0..len), or NULL with the reason in *why. The caller puts it. */
json_object *kt_meta_json_parse(const char *buf, size_t len, const char **why);

/* The object at key of o (o may be NULL); NULL if absent or not an object. */
json_object *kt_meta_json_obj(json_object *o, const char *key);

/* The string at key of o (o may be NULL), copied into out[cap] when it is clean and fits. */
bool kt_meta_json_str(json_object *o, const char *key, char *out, size_t cap);

/* The process id at key of o (1..INT32_MAX), or 0. */
uint32_t kt_meta_json_pid(json_object *o, const char *key);

#endif
