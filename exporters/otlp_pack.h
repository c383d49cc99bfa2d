/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A request's protobuf bytes, in the exporter's reusable buffer. protobuf-c
 * packs a message into flat memory of its packed size and allocates nothing
 * doing so; the buffer grows geometrically and is kept between requests, so
 * once it has held the largest request packing allocates nothing
 * (tests/unit/test_alloc_per_span.c).
 */
#ifndef KT_OTLP_PACK_H
#define KT_OTLP_PACK_H

#include <stdbool.h>
#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

#include "base/text_buf.h"

/*
 * buf = prefix bytes left for the caller (a gRPC frame's prefix), then m
 * packed; buf->len is their total, what buf held before is replaced. false
 * when memory runs out or m packs to more than max bytes.
 */
bool kt_otlp_pack(const ProtobufCMessage *m, size_t prefix, size_t max, struct kt_text *buf);

#endif
