/* SPDX-License-Identifier: Apache-2.0 */
/* gRPC framing and response parsing; see grpc_frame.h. */
#include "exporters/grpc_frame.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/base64.h"
#include "base/byte_order.h"
#include "google/rpc/error_details.pb-c.h"
#include "google/rpc/status.pb-c.h"
#include "exporters/otlp_common.h"
#include "exporters/otlp_pack.h"

enum kt_export_result kt_grpc_status_result(int code)
{
	switch (code) {
	case KT_GRPC_OK:
		return KT_EXPORT_OK;
	case KT_GRPC_CANCELLED:
	case KT_GRPC_DEADLINE_EXCEEDED:
	case KT_GRPC_RESOURCE_EXHAUSTED:
	case KT_GRPC_ABORTED:
	case KT_GRPC_OUT_OF_RANGE:
	case KT_GRPC_UNAVAILABLE:
	case KT_GRPC_DATA_LOSS:
		return KT_EXPORT_RETRY;
	default:
		return KT_EXPORT_FAIL;
	}
}

/* ------------------------------------------------------------------ requests */

void kt_grpc_frame_prefix(uint8_t out[KT_GRPC_PREFIX_LEN], uint32_t len)
{
	out[0] = 0; /* not compressed */
	kt_put_be32(out + 1, len);
}

/* m packed behind its 5-byte prefix, in buf; false on ENOMEM or over 4 GiB. */
static bool frame_message(const ProtobufCMessage *m, struct kt_text *buf)
{
	if (!kt_otlp_pack(m, KT_GRPC_PREFIX_LEN, UINT32_MAX, buf))
		return false;
	kt_grpc_frame_prefix((uint8_t *)buf->p, (uint32_t)(buf->len - KT_GRPC_PREFIX_LEN));
	return true;
}

bool kt_grpc_frame_request(const kt_otlp_request *req, struct kt_text *buf)
{
	return frame_message(&req->base, buf);
}

bool kt_grpc_frame_logs_request(const kt_otlp_logs_request *req, struct kt_text *buf)
{
	return frame_message(&req->base, buf);
}

/* ------------------------------------------------------------------ responses */

/* Forgets what a response head said. */
static void reset_head(struct kt_grpc_response *r)
{
	r->have_status = false;
	r->status_invalid = false;
	r->status = KT_GRPC_UNKNOWN;
	r->have_message = false;
	r->message_truncated = false;
	r->message_len = 0;
	r->message[0] = '\0';
	r->content_type[0] = '\0';
	r->have_retry_delay = false;
	r->details_unusable = false;
	r->retry_delay_ms = 0;
}

void kt_grpc_response_reset(struct kt_grpc_response *r)
{
	reset_head(r);
	r->http_status = 0;
	r->body_len = 0;
	r->body_total = 0;
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* "HTTP/2 200" or "HTTP/1.1 200 OK": the 3-digit code after the first space. */
static long status_line_code(const char *s, size_t n)
{
	const char *sp = memchr(s, ' ', n);
	if (!sp)
		return 0;
	size_t i = (size_t)(sp - s) + 1;
	while (i < n && s[i] == ' ')
		i++;
	if (n - i < 3 || !isdigit((unsigned char)s[i]) || !isdigit((unsigned char)s[i + 1]) ||
	    !isdigit((unsigned char)s[i + 2]) || (n - i > 3 && s[i + 3] != ' '))
		return 0;
	return (s[i] - '0') * 100 + (s[i + 1] - '0') * 10 + (s[i + 2] - '0');
}

/* grpc-status: 1*DIGIT; at most 9 digits, so it fits an int. */
static void set_status(struct kt_grpc_response *r, const char *v, size_t n)
{
	int code = 0;
	bool ok = n > 0 && n <= 9;
	for (size_t i = 0; ok && i < n; i++) {
		if (!isdigit((unsigned char)v[i]))
			ok = false;
		else
			code = code * 10 + (v[i] - '0');
	}
	r->have_status = true;
	r->status_invalid = !ok;
	r->status = ok ? code : KT_GRPC_UNKNOWN;
}

static bool name_is(const char *name, size_t n, const char *want)
{
	return strlen(want) == n && strncasecmp(name, want, n) == 0;
}

void kt_grpc_response_header(struct kt_grpc_response *r, const char *line, size_t len)
{
	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (!len)
		return;
	if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) {
		/* A new response head: what an informational one said is void. */
		reset_head(r);
		r->http_status = status_line_code(line, len);
		return;
	}
	const char *colon = memchr(line, ':', len);
	if (!colon || colon == line || is_ows(line[0]))
		return; /* not a field line (or an obsolete continuation) */
	size_t nlen = (size_t)(colon - line);
	const char *v = colon + 1;
	size_t vlen = len - nlen - 1;
	while (vlen && is_ows(*v)) {
		v++;
		vlen--;
	}
	while (vlen && is_ows(v[vlen - 1]))
		vlen--;
	if (name_is(line, nlen, "grpc-status")) {
		set_status(r, v, vlen);
	} else if (name_is(line, nlen, "grpc-message")) {
		r->have_message = true;
		r->message_len = kt_otlp_percent_decode(v, vlen, r->message, KT_GRPC_MAX_MESSAGE,
							&r->message_truncated);
		r->message[r->message_len] = '\0';
	} else if (name_is(line, nlen, "grpc-status-details-bin")) {
		kt_grpc_response_details(r, v, vlen);
	} else if (name_is(line, nlen, "content-type")) {
		size_t n = vlen < sizeof(r->content_type) - 1 ? vlen : sizeof(r->content_type) - 1;
		memcpy(r->content_type, v, n);
		r->content_type[n] = '\0';
	}
}

/* A google.protobuf.Duration in ms: negative is 0, and a huge one saturates. */
static uint64_t duration_ms(const Google__Rpc__Duration *d)
{
	if (!d || d->seconds < 0 || (d->seconds == 0 && d->nanos <= 0))
		return 0;
	if ((uint64_t)d->seconds > UINT64_MAX / 1000 - 1)
		return UINT64_MAX;
	uint64_t ms = (uint64_t)d->seconds * 1000;
	if (d->nanos > 0)
		ms += ((uint64_t)d->nanos + 999999) / 1000000; /* never shorter than asked */
	return ms;
}

void kt_grpc_response_details(struct kt_grpc_response *r, const char *b64, size_t n)
{
	uint8_t buf[KT_GRPC_MAX_DETAILS];
	size_t len;

	r->have_retry_delay = false;
	r->retry_delay_ms = 0;
	if (!kt_base64_decode(b64, n, buf, sizeof(buf), &len)) {
		r->details_unusable = true;
		return;
	}
	/* protobuf-c allocates from the heap: bounded by the input's KT_GRPC_MAX_DETAILS bytes */
	Google__Rpc__Status *st = google__rpc__status__unpack(NULL, len, buf);
	if (!st) {
		r->details_unusable = true;
		return;
	}
	r->details_unusable = false;
	const size_t tlen = sizeof(KT_GRPC_RETRY_INFO_TYPE) - 1;
	for (size_t i = 0; i < st->n_details && !r->have_retry_delay; i++) {
		const Google__Rpc__Any *a = st->details[i];
		if (a->type_url.len != tlen || memcmp(a->type_url.data, KT_GRPC_RETRY_INFO_TYPE, tlen))
			continue;
		Google__Rpc__RetryInfo *ri =
			google__rpc__retry_info__unpack(NULL, a->value.len, a->value.data);
		if (!ri) {
			r->details_unusable = true;
			break;
		}
		r->have_retry_delay = true;
		r->retry_delay_ms = duration_ms(ri->retry_delay);
		google__rpc__retry_info__free_unpacked(ri, NULL);
	}
	google__rpc__status__free_unpacked(st, NULL);
}

void kt_grpc_response_body(struct kt_grpc_response *r, const void *data, size_t len)
{
	size_t room = KT_GRPC_MAX_BODY - r->body_len;
	size_t take = len < room ? len : room;
	if (take) {
		memcpy(r->body + r->body_len, data, take);
		r->body_len += take;
	}
	r->body_total += len;
}

int kt_grpc_response_code(const struct kt_grpc_response *r)
{
	if (r->have_status)
		return r->status;
	switch (r->http_status) {
	case 400:
		return KT_GRPC_INTERNAL;
	case 401:
		return KT_GRPC_UNAUTHENTICATED;
	case 403:
		return KT_GRPC_PERMISSION_DENIED;
	case 404:
		return KT_GRPC_UNIMPLEMENTED;
	case 429:
	case 502:
	case 503:
	case 504:
		return KT_GRPC_UNAVAILABLE;
	default:
		return KT_GRPC_UNKNOWN;
	}
}

const char *kt_grpc_msg_str(enum kt_grpc_msg m)
{
	switch (m) {
	case KT_GRPC_MSG_OK:
		return "one message";
	case KT_GRPC_MSG_NONE:
		return "no message";
	case KT_GRPC_MSG_SHORT:
		return "message cut short";
	case KT_GRPC_MSG_COMPRESSED:
		return "compressed message (no compression was negotiated)";
	case KT_GRPC_MSG_BAD_FLAG:
		return "invalid message flag";
	case KT_GRPC_MSG_TOO_LARGE:
		return "message too large";
	case KT_GRPC_MSG_TRAILING:
		return "bytes after the message";
	}
	return "?";
}

enum kt_grpc_msg kt_grpc_response_message(const struct kt_grpc_response *r, const uint8_t **msg,
					  size_t *len)
{
	*msg = NULL;
	*len = 0;
	if (r->body_total == 0)
		return KT_GRPC_MSG_NONE;
	if (r->body_total < KT_GRPC_PREFIX_LEN)
		return KT_GRPC_MSG_SHORT;
	const uint8_t *b = r->body;
	if (b[0] == 1)
		return KT_GRPC_MSG_COMPRESSED;
	if (b[0] != 0)
		return KT_GRPC_MSG_BAD_FLAG;
	uint64_t n = kt_be32(b + 1);
	if (n > KT_GRPC_MAX_BODY - KT_GRPC_PREFIX_LEN)
		return KT_GRPC_MSG_TOO_LARGE;
	if (r->body_total < KT_GRPC_PREFIX_LEN + n)
		return KT_GRPC_MSG_SHORT;
	if (r->body_total > KT_GRPC_PREFIX_LEN + n)
		return KT_GRPC_MSG_TRAILING;
	*msg = b + KT_GRPC_PREFIX_LEN;
	*len = (size_t)n;
	return KT_GRPC_MSG_OK;
}
