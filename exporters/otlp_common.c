/* SPDX-License-Identifier: Apache-2.0 */
/* Settings, log excerpts and responses shared by the OTLP exporters. */
#include "exporters/otlp_common.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "base/diag.h"
#include "base/json_scan.h"
#include "model/grpc_code.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

/* ------------------------------------------------------------------ excerpts */

void kt_otlp_excerpt(const void *data, size_t len, char out[KT_OTLP_EXCERPT_SIZE])
{
	const unsigned char *p = data;
	size_t o = 0;
	for (size_t i = 0; i < len && o < KT_OTLP_EXCERPT_LEN; i++) {
		unsigned char c = p[i];
		out[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : (c == '\n' || c == '\t') ? ' ' : '.';
	}
	if (len > KT_OTLP_EXCERPT_LEN) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

/* ------------------------------------------------------------------ headers */

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (unsigned char)tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

size_t kt_otlp_percent_decode(const char *in, size_t n, char *out, size_t cap, bool *truncated)
{
	size_t o = 0;
	*truncated = false;
	for (size_t i = 0; i < n; i++) {
		if (o == cap) {
			*truncated = true;
			break;
		}
		int hi, lo;
		if (in[i] == '%' && i + 2 < n && (hi = hexval((unsigned char)in[i + 1])) >= 0 &&
		    (lo = hexval((unsigned char)in[i + 2])) >= 0) {
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			out[o++] = in[i];
		}
	}
	return o;
}

/* Percent-decodes and trims s[0..n) into a new string; NULL on ENOMEM. */
static char *decode_part(const char *s, size_t n)
{
	while (n && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	char *out = malloc(n + 1);
	if (!out)
		return NULL;
	bool truncated;
	size_t o = kt_otlp_percent_decode(s, n, out, n, &truncated);
	out[o] = '\0';
	/* A decoded NUL would cut the header short: make the entry invalid. */
	if (memchr(out, '\0', o))
		out[0] = '\x01';
	return out;
}

/* RFC 9110 token characters. */
static bool is_token(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("!#$%&'*+-.^_`|~", *s))
			return false;
	return true;
}

static bool is_field_value(const char *s)
{
	for (; *s; s++)
		if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
			return false;
	return true;
}

static bool is_refused(const char *key, const char *const *refused)
{
	for (; refused && *refused; refused++) {
		size_t n = strlen(*refused);
		if (n && (*refused)[n - 1] == '*') {
			if (strncasecmp(key, *refused, n - 1) == 0)
				return true;
		} else if (strcasecmp(key, *refused) == 0) {
			return true;
		}
	}
	return false;
}

static bool is_blank(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isspace((unsigned char)p[i]))
			return false;
	return true;
}

int kt_otlp_headers_parse(const char *spec, const char *who, const char *const *refused,
			  kt_otlp_header_fn add, void *ud)
{
	const char *p = spec;
	while (p && *p) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		const char *eq = memchr(p, '=', n);
		if (eq) {
			char *k = decode_part(p, (size_t)(eq - p));
			char *v = decode_part(eq + 1, n - (size_t)(eq - p) - 1);
			int rc = 0;
			if (!k || !v)
				rc = -1;
			else if (!is_token(k) || !is_field_value(v))
				kt_warn("%s: ignoring invalid header entry %.*s", who, (int)n, p);
			else if (is_refused(k, refused))
				kt_warn("%s: ignoring header %s: the exporter sets it", who, k);
			else
				rc = add(ud, k, v) ? -1 : 0;
			free(k);
			free(v);
			if (rc)
				return -1;
		} else if (n && !is_blank(p, n)) {
			kt_warn("%s: ignoring header entry without '=': %.*s", who, (int)n, p);
		}
		p = end ? end + 1 : NULL;
	}
	return 0;
}

/* ------------------------------------------------------------------ settings */

const char *kt_otlp_setting(const char *explicit_value, const char *flag, const char *traces_var,
			    const char *var, const char **source)
{
	const char *const names[] = { flag, traces_var, var };
	const char *v = explicit_value;
	size_t i = 0;
	while (!(v && *v) && ++i < 3)
		v = getenv(names[i]);
	if (!v || !*v)
		return NULL;
	if (source)
		*source = names[i];
	return v;
}

const char *kt_otlp_env_headers(void)
{
	return kt_otlp_setting(NULL, NULL, "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
			       "OTEL_EXPORTER_OTLP_HEADERS", NULL);
}

static const struct {
	const char *flag, *traces_var, *var, *what;
} tls_files[KT_OTLP_TLS_FILES] = {
	[KT_OTLP_TLS_CA] = { "--otlp-ca", "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
			     "OTEL_EXPORTER_OTLP_CERTIFICATE", "CA certificate" },
	[KT_OTLP_TLS_CLIENT_CERT] = { "--otlp-client-cert",
				      "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE",
				      "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "client certificate" },
	[KT_OTLP_TLS_CLIENT_KEY] = { "--otlp-client-key", "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY",
				     "OTEL_EXPORTER_OTLP_CLIENT_KEY", "client key" },
};

const char *kt_otlp_tls_file(enum kt_otlp_tls_file f, const char *explicit_path,
			     const char **source)
{
	return kt_otlp_setting(explicit_path, tls_files[f].flag, tls_files[f].traces_var,
			       tls_files[f].var, source);
}

const char *kt_otlp_tls_file_what(enum kt_otlp_tls_file f)
{
	return tls_files[f].what;
}

/*
 * OTEL_EXPORTER_OTLP_TRACES_<name>, else OTEL_EXPORTER_OTLP_<name>: the first
 * that is set, not empty and accepted by parse (0) is parsed into out; the
 * others are ignored with a warning "who: ignoring VAR=value (expected)".
 * Returns 0, or -1 when neither was usable.
 */
static int env_value(const char *name, const char *who, const char *expected,
		     int (*parse)(const char *v, void *out), void *out)
{
	for (int traces = 1; traces >= 0; traces--) {
		char var[64];
		snprintf(var, sizeof(var), "OTEL_EXPORTER_OTLP_%s%s", traces ? "TRACES_" : "", name);
		const char *v = getenv(var);
		if (!v || !*v)
			continue;
		if (parse(v, out) == 0)
			return 0;
		kt_warn("%s: ignoring %s=%s (%s)", who, var, v, expected);
	}
	return -1;
}

static int parse_bool(const char *v, void *out)
{
	if (strcasecmp(v, "true") != 0 && strcasecmp(v, "false") != 0)
		return -1;
	*(bool *)out = strcasecmp(v, "true") == 0;
	return 0;
}

static int parse_ms(const char *v, void *out)
{
	char *end;
	errno = 0;
	long ms = strtol(v, &end, 10);
	if (errno || *end || ms <= 0)
		return -1;
	*(long *)out = ms;
	return 0;
}

bool kt_otlp_env_insecure(const char *who)
{
	bool insecure = false;
	env_value("INSECURE", who, "true or false expected", parse_bool, &insecure);
	return insecure;
}

long kt_otlp_env_timeout_ms(const char *who)
{
	long ms;
	if (env_value("TIMEOUT", who, "milliseconds expected", parse_ms, &ms))
		return KT_OTLP_DEFAULT_TIMEOUT_MS;
	return ms;
}

/* ------------------------------------------------------------------ responses */

int kt_otlp_partial_success_parse(const uint8_t *buf, size_t len,
				  struct kt_otlp_partial_success *ps)
{
	Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse *r =
		opentelemetry__proto__collector__trace__v1__export_trace_service_response__unpack(
			NULL, len, buf);
	if (!r)
		return -1;
	const Opentelemetry__Proto__Collector__Trace__V1__ExportTracePartialSuccess *p =
		r->partial_success;
	int found = p && (p->rejected_spans || p->error_message.len);
	if (found) {
		ps->rejected_spans = p->rejected_spans;
		kt_otlp_excerpt(p->error_message.data, p->error_message.len, ps->message);
	}
	opentelemetry__proto__collector__trace__v1__export_trace_service_response__free_unpacked(
		r, NULL);
	return found;
}

int kt_otlp_partial_success_log(const uint8_t *buf, size_t len, bool logs, const char *who,
				const char *where)
{
	struct kt_otlp_partial_success ps;
	int rc = kt_otlp_partial_success_parse(buf, len, &ps);
	if (rc < 0)
		kt_debug("%s: %s: the response is not an %s", who, where,
			 logs ? "ExportLogsServiceResponse" : "ExportTraceServiceResponse");
	else if (rc > 0)
		kt_warn("%s: %s: collector rejected %lld %s: %s", who, where, (long long)ps.rejected_spans,
			logs ? "log record(s)" : "span(s)", ps.message[0] ? ps.message : "(no message)");
	return rc;
}

/* ------------------------------------------------------------------ JSON responses */

/* The body as one JSON object, or NULL. The caller puts it. */
static json_object *json_response(const void *buf, size_t len)
{
	if (len > KT_OTLP_JSON_RESPONSE_MAX)
		return NULL;
	/* RFC 8259 first: json-c alone lets NaN, single quotes and lone surrogates through. */
	struct kt_json_scan scan;
	char err[96];
	memset(&scan, 0, sizeof(scan));
	int bad = kt_json_scan(buf, len, KT_OTLP_JSON_RESPONSE_DEPTH, &scan, err, sizeof(err));
	kt_json_scan_free(&scan);
	if (bad)
		return NULL;
	/* json-c counts a scalar inside the innermost container as one more level. */
	struct json_tokener *tok = json_tokener_new_ex(KT_OTLP_JSON_RESPONSE_DEPTH + 1);
	if (!tok)
		return NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	json_object *o = json_tokener_parse_ex(tok, buf, (int)len);
	if (o && (json_tokener_get_error(tok) != json_tokener_success ||
		  !json_object_is_type(o, json_type_object))) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

/* The member named json (lowerCamelCase) or, failing that, proto; NULL if absent or null. */
static json_object *member(json_object *o, const char *json, const char *proto)
{
	json_object *v = NULL;
	json_object_object_get_ex(o, json, &v);
	if (!v && proto)
		json_object_object_get_ex(o, proto, &v);
	return v;
}

/*
 * An integer in [min, max]: a JSON integer, or a decimal string (the
 * protobuf JSON form of 64-bit integers, accepted for any width).
 */
static bool json_integer(json_object *v, int64_t min, int64_t max, int64_t *out)
{
	int64_t x;
	if (json_object_is_type(v, json_type_int)) {
		x = json_object_get_int64(v); /* beyond 64 bits: clamped by json-c */
	} else if (json_object_is_type(v, json_type_string)) {
		const char *s = json_object_get_string(v);
		char *end;
		if (!(*s == '-' || isdigit((unsigned char)*s)))
			return false;
		errno = 0;
		long long ll = strtoll(s, &end, 10);
		/* The whole string: an escaped NUL would end it early for strtoll. */
		if (errno || end == s || (size_t)(end - s) != (size_t)json_object_get_string_len(v))
			return false;
		x = ll;
	} else {
		return false;
	}
	if (x < min || x > max)
		return false;
	*out = x;
	return true;
}

int kt_otlp_json_partial_success_parse(const void *buf, size_t len, bool logs,
				       struct kt_otlp_partial_success *ps)
{
	json_object *o = json_response(buf, len);
	if (!o)
		return -1;
	int rc = -1;
	int64_t rejected = 0;
	const char *msg = NULL;
	size_t msg_len = 0;
	json_object *p = member(o, "partialSuccess", "partial_success");
	if (!p) {
		rc = 0;
		goto out;
	}
	if (!json_object_is_type(p, json_type_object))
		goto out;
	json_object *r = logs ? member(p, "rejectedLogRecords", "rejected_log_records")
			      : member(p, "rejectedSpans", "rejected_spans");
	if (r && !json_integer(r, INT64_MIN, INT64_MAX, &rejected))
		goto out;
	json_object *m = member(p, "errorMessage", "error_message");
	if (m) {
		if (!json_object_is_type(m, json_type_string))
			goto out;
		msg = json_object_get_string(m);
		msg_len = (size_t)json_object_get_string_len(m);
	}
	rc = rejected || msg_len;
	if (rc) {
		ps->rejected_spans = rejected;
		kt_otlp_excerpt(msg, msg_len, ps->message);
	}
out:
	json_object_put(o);
	return rc;
}

int kt_otlp_json_partial_success_log(const void *buf, size_t len, bool logs, const char *who,
				     const char *where)
{
	struct kt_otlp_partial_success ps;
	int rc = kt_otlp_json_partial_success_parse(buf, len, logs, &ps);
	if (rc < 0)
		kt_debug("%s: %s: the response is not an %s in JSON", who, where,
			 logs ? "ExportLogsServiceResponse" : "ExportTraceServiceResponse");
	else if (rc > 0)
		kt_warn("%s: %s: collector rejected %lld %s: %s", who, where,
			(long long)ps.rejected_spans, logs ? "log record(s)" : "span(s)",
			ps.message[0] ? ps.message : "(no message)");
	return rc;
}

bool kt_otlp_json_status(const void *buf, size_t len, char out[KT_OTLP_STATUS_SIZE])
{
	out[0] = '\0';
	json_object *o = json_response(buf, len);
	if (!o)
		return false;
	int64_t code = 0;
	json_object *c = member(o, "code", NULL), *m = member(o, "message", NULL);
	if ((!c && !m) || (c && !json_integer(c, INT32_MIN, INT32_MAX, &code)) ||
	    (m && !json_object_is_type(m, json_type_string))) {
		json_object_put(o);
		return false;
	}
	char msg[KT_OTLP_EXCERPT_SIZE] = "", name[24] = "";
	if (m)
		kt_otlp_excerpt(json_object_get_string(m), (size_t)json_object_get_string_len(m), msg);
	json_object_put(o);
	if (code) {
		const char *n = kt_grpc_code_name((int)code);
		if (strcmp(n, "?") != 0)
			snprintf(name, sizeof(name), "%s", n);
		else
			snprintf(name, sizeof(name), "code %d", (int)code);
	}
	bool both = msg[0] && name[0];
	snprintf(out, KT_OTLP_STATUS_SIZE, "%s%s%s%s", msg, both ? " (" : "", name, both ? ")" : "");
	return out[0] != '\0';
}
