/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: a Go executable's function table
 * (capture/go_functab.c), which comes from a file on the node. The first
 * byte gives the length (0..31) of the name looked up, the next bytes the
 * name, the rest is the table.
 *
 * Always: the answer is one of the three; a refusal says why and leaves
 * entry and end 0; a function found ends no earlier than it starts; the
 * same lookup gives the same answer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "capture/go_functab.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t nl = data[0] % 32;
	if (size < 1 + nl)
		return 0;
	char name[32];
	memcpy(name, data + 1, nl);
	name[nl] = '\0';
	/* an exact-size copy: ASan sees any read past the table */
	size_t n = size - 1 - nl;
	uint8_t *tab = malloc(n ? n : 1);
	if (!tab)
		return 0;
	memcpy(tab, data + 1 + nl, n);

	uint64_t entry, end, e2, n2;
	const char *why, *w2;
	enum kt_go_functab_result r = kt_go_functab_find(tab, n, name, &entry, &end, &why);
	CHECK(r == KT_GO_FUNC_FOUND || r == KT_GO_FUNC_NOT_FOUND || r == KT_GO_FUNC_BAD_TABLE);
	CHECK(why != NULL);
	if (r == KT_GO_FUNC_BAD_TABLE)
		CHECK(why[0] != '\0' && entry == 0 && end == 0);
	if (r == KT_GO_FUNC_FOUND)
		CHECK(end - entry <= UINT32_MAX); /* both from 32-bit offsets of one text start */
	CHECK(kt_go_functab_find(tab, n, name, &e2, &n2, &w2) == r);
	if (r == KT_GO_FUNC_FOUND)
		CHECK(e2 == entry && n2 == end);
	free(tab);
	return 0;
}
