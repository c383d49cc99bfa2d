/* SPDX-License-Identifier: Apache-2.0 */
#include "sandbox/meta_json.h"

#include <string.h>

#include "base/json_scan.h"
#include "sandbox/sandbox_meta.h"

json_object *kt_meta_json_parse(const char *buf, size_t len, const char **why)
{
	if (len > KT_META_CONFIG_MAX) {
		*why = "too large";
		return NULL;
	}
	/* RFC 8259 first: json-c alone lets NaN, single quotes and surrogates through */
	struct kt_json_scan scan;
	char err[96];
	memset(&scan, 0, sizeof(scan));
	int bad = kt_json_scan((const uint8_t *)buf, len, KT_META_JSON_DEPTH, &scan, err, sizeof(err));
	kt_json_scan_free(&scan);
	if (bad) {
		*why = "not RFC 8259 JSON";
		return NULL;
	}
	struct json_tokener *tok = json_tokener_new_ex(KT_META_JSON_DEPTH);
	if (!tok) {
		*why = "out of memory";
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	json_object *o = json_tokener_parse_ex(tok, buf, (int)len);
	enum json_tokener_error e = json_tokener_get_error(tok);
	if (o && (e != json_tokener_success || json_tokener_get_parse_end(tok) != len)) {
		json_object_put(o);
		o = NULL;
	}
	if (!o)
		*why = e == json_tokener_continue ? "truncated JSON" : json_tokener_error_desc(e);
	else if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		o = NULL;
		*why = "not a JSON object";
	}
	json_tokener_free(tok);
	return o;
}

json_object *kt_meta_json_obj(json_object *o, const char *key)
{
	json_object *v;
	if (o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_object))
		return v;
	return NULL;
}

bool kt_meta_json_str(json_object *o, const char *key, char *out, size_t cap)
{
	json_object *v;
	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return false;
	return kt_meta_str_set(out, cap, json_object_get_string(v), (size_t)json_object_get_string_len(v));
}

uint32_t kt_meta_json_pid(json_object *o, const char *key)
{
	json_object *v;
	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return 0;
	int64_t pid = json_object_get_int64(v);
	return pid > 0 && pid <= INT32_MAX ? (uint32_t)pid : 0;
}
