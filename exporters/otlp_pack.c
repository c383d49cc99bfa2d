/* SPDX-License-Identifier: Apache-2.0 */
#include "exporters/otlp_pack.h"

#include <stdint.h>

bool kt_otlp_pack(const ProtobufCMessage *m, size_t prefix, size_t max, struct kt_text *buf)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	kt_text_clear(buf);
	if (n > max || prefix > SIZE_MAX - 1 - n || !kt_text_reserve(buf, prefix + n))
		return false;
	protobuf_c_message_pack(m, (uint8_t *)buf->p + prefix);
	buf->len = prefix + n;
	return true;
}
