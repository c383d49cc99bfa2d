/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Base64 (RFC 4648, standard alphabet). Encoding always pads: protobuf's
 * JSON mapping of bytes, Jaeger binary tags. Decoding is for what peers
 * send in text: gRPC's binary metadata ("-bin" headers), which a sender may
 * write with or without its '=' padding. Strict otherwise: no whitespace,
 * no URL alphabet, no bits left over in the last character.
 */
#ifndef KT_BASE64_H
#define KT_BASE64_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Characters that n bytes encode to, padding included. */
#define KT_BASE64_ENCODED_LEN(n) (((n) + 2) / 3 * 4)

/* Encodes p[0..n) into out: KT_BASE64_ENCODED_LEN(n) characters, no NUL. Returns that length. */
size_t kt_base64_encode(const uint8_t *p, size_t n, char *out);

/*
 * Decodes in[0..n) into out (room for cap bytes); *out_len is the number of
 * bytes written. false, with nothing promised in out, when the text is not
 * base64 or decodes to more than cap bytes.
 */
bool kt_base64_decode(const char *in, size_t n, uint8_t *out, size_t cap, size_t *out_len);

#endif
