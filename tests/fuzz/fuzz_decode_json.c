/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the JSON-era decoder, forced and through sniffing. */
#include <stddef.h>
#include <stdint.h>

#include "span_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	decode_and_check(KT_FORMAT_JSON, data, size);
	decode_and_check(KT_FORMAT_AUTO, data, size);
	return 0;
}
