/* SPDX-License-Identifier: Apache-2.0 */
/*
 * gRPC over HTTP/2, the parts that need no HTTP client: the length-prefixed
 * message framing, the response's status (grpc-status / grpc-message, in
 * trailers or, for a trailers-only response, in the headers), its single
 * response message, and what a status means for the export queue.
 *
 * Everything here reads what a collector sent: it is untrusted, and every
 * buffer is bounded (tests/fuzz/fuzz_grpc_response.c).
 */
#ifndef KT_GRPC_FRAME_H
#define KT_GRPC_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/text_buf.h"
#include "exporters/exporter.h"
#include "exporters/otlp_build.h"
#include "model/grpc_code.h"

#define KT_GRPC_PREFIX_LEN 5
#define KT_GRPC_MAX_BODY (64 * 1024) /* response body bytes kept; the rest is counted */
#define KT_GRPC_MAX_MESSAGE 1024     /* decoded grpc-message bytes kept */
#define KT_GRPC_MAX_DETAILS 4096     /* decoded grpc-status-details-bin bytes read; larger: ignored */
/* The detail of a google.rpc.Status that says when to try again. */
#define KT_GRPC_RETRY_INFO_TYPE "type.googleapis.com/google.rpc.RetryInfo"

/*
 * What a status means for the batch, as the OTLP specification says for
 * gRPC: OK; RETRY for CANCELLED, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED,
 * ABORTED, OUT_OF_RANGE, UNAVAILABLE and DATA_LOSS; FAIL for every other.
 */
enum kt_export_result kt_grpc_status_result(int code);

/* The 5-byte prefix of an uncompressed message of len bytes. */
void kt_grpc_frame_prefix(uint8_t out[KT_GRPC_PREFIX_LEN], uint32_t len);

/*
 * The request body: prefix + the packed request, written into buf (its
 * memory reused, exporters/otlp_pack.h), buf->len bytes. false when out of
 * memory or over 4 GiB.
 */
bool kt_grpc_frame_request(const kt_otlp_request *req, struct kt_text *buf);
/* The same for an ExportLogsServiceRequest. */
bool kt_grpc_frame_logs_request(const kt_otlp_logs_request *req, struct kt_text *buf);

/* One response, fed from the HTTP client's header and body callbacks. */
struct kt_grpc_response {
	long http_status;     /* from the last status line; 0 before one */
	bool have_status;     /* grpc-status seen, in the headers or the trailers */
	bool status_invalid;  /* ... but its value was not a decimal number */
	int status;           /* grpc-status (KT_GRPC_UNKNOWN if invalid) */
	bool have_message;
	bool message_truncated;
	size_t message_len;
	/* grpc-message, percent-decoded (kt_otlp_percent_decode), NUL-terminated */
	char message[KT_GRPC_MAX_MESSAGE + 1];
	char content_type[64];                 /* truncated; for logs */
	/*
	 * The collector's google.rpc.RetryInfo (in grpc-status-details-bin): how
	 * long it asked to be left alone, in ms (negative delays taken as 0).
	 * details_unusable: the header was there but not base64 of a
	 * google.rpc.Status within KT_GRPC_MAX_DETAILS bytes.
	 */
	bool have_retry_delay;
	bool details_unusable;
	uint64_t retry_delay_ms;
	size_t body_len;                       /* bytes kept in body */
	uint64_t body_total;                   /* bytes received */
	uint8_t body[KT_GRPC_MAX_BODY];
};

void kt_grpc_response_reset(struct kt_grpc_response *r);

/*
 * One header line as the HTTP client delivers it, "name: value" with or
 * without the CRLF, status lines ("HTTP/2 200") and the empty line included.
 * Trailers are header lines too. A status line starts a new response
 * (1xx informational headers are forgotten).
 */
void kt_grpc_response_header(struct kt_grpc_response *r, const char *line, size_t len);

/*
 * A grpc-status-details-bin value (base64, padded or not, of a
 * google.rpc.Status): sets have_retry_delay/retry_delay_ms from its first
 * RetryInfo detail, or details_unusable. Called by kt_grpc_response_header.
 */
void kt_grpc_response_details(struct kt_grpc_response *r, const char *b64, size_t n);

/* Response body bytes: the first KT_GRPC_MAX_BODY are kept. */
void kt_grpc_response_body(struct kt_grpc_response *r, const void *data, size_t len);

/*
 * The call's status: grpc-status when present; otherwise the status gRPC
 * derives from the HTTP status (400 INTERNAL, 401 UNAUTHENTICATED, 403
 * PERMISSION_DENIED, 404 UNIMPLEMENTED, 429/502/503/504 UNAVAILABLE, any
 * other, 200 included, UNKNOWN).
 */
int kt_grpc_response_code(const struct kt_grpc_response *r);

enum kt_grpc_msg {
	KT_GRPC_MSG_OK,         /* exactly one uncompressed message */
	KT_GRPC_MSG_NONE,       /* empty body */
	KT_GRPC_MSG_SHORT,      /* a prefix or message cut short */
	KT_GRPC_MSG_COMPRESSED, /* compressed flag set (none was negotiated) */
	KT_GRPC_MSG_BAD_FLAG,   /* flag byte other than 0 or 1 */
	KT_GRPC_MSG_TOO_LARGE,  /* over KT_GRPC_MAX_BODY */
	KT_GRPC_MSG_TRAILING,   /* bytes after the message */
};

const char *kt_grpc_msg_str(enum kt_grpc_msg m);

/*
 * The response message in the body. On KT_GRPC_MSG_OK, *msg and *len point
 * into r->body; otherwise they are NULL and 0.
 */
enum kt_grpc_msg kt_grpc_response_message(const struct kt_grpc_response *r, const uint8_t **msg,
					  size_t *len);

#endif
