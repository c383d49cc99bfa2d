/* SPDX-License-Identifier: Apache-2.0 */
/* A Go executable's function table; see go_functab.h. */
#include "capture/go_functab.h"

#include <string.h>

#include "base/byte_order.h"

#define HEADER 8
#define WORDS 8 /* the header's pointer-sized words */

enum word { W_NFUNC = 0, W_NFILES, W_TEXT, W_FUNCNAMES, W_CUS, W_FILES, W_PCTAB, W_FUNCTAB };

static uint64_t word(const uint8_t *tab, enum word w)
{
	return kt_le64(tab + HEADER + 8 * (size_t)w);
}

/* Is [off, off + len) inside the n bytes of the table? */
static int fits(uint64_t off, uint64_t len, size_t n)
{
	return off <= n && len <= n - off;
}

enum kt_go_functab_result kt_go_functab_find(const uint8_t *tab, size_t n, const char *name,
					     uint64_t *entry, uint64_t *end, const char **why)
{
	*entry = *end = 0;
	*why = "";
	if (n < HEADER + WORDS * 8) {
		*why = "shorter than its header";
		return KT_GO_FUNC_BAD_TABLE;
	}
	uint32_t magic = kt_le32(tab);
	if (magic != KT_GO_PCLNTAB_GO118 && magic != KT_GO_PCLNTAB_GO120) {
		*why = "not the function table of Go 1.18 or later (another magic number)";
		return KT_GO_FUNC_BAD_TABLE;
	}
	if (tab[4] || tab[5] || tab[7] != 8) {
		*why = "a header that is not a 64-bit Go executable's";
		return KT_GO_FUNC_BAD_TABLE;
	}
	uint64_t nfunc = word(tab, W_NFUNC), text = word(tab, W_TEXT);
	uint64_t names = word(tab, W_FUNCNAMES), ft = word(tab, W_FUNCTAB);
	/* 2 words a function and one more, 4 bytes each */
	if (nfunc > n / 8 || !fits(ft, (2 * nfunc + 1) * 4, n) || names > n) {
		*why = "a function table or name table outside it";
		return KT_GO_FUNC_BAD_TABLE;
	}
	const size_t want = strlen(name);
	uint32_t prev = 0;
	for (uint64_t i = 0; i < nfunc; i++) {
		const uint8_t *e = tab + ft + 8 * i;
		uint32_t entry_off = kt_le32(e), func_off = kt_le32(e + 4);
		uint32_t next_off = kt_le32(e + 8); /* the next entry, or the end of the text */
		if (entry_off < prev || next_off < entry_off) {
			*why = "function entries out of order";
			return KT_GO_FUNC_BAD_TABLE;
		}
		prev = entry_off;
		/* the _func record: entry offset (again) and the name's offset */
		if (!fits(ft + (uint64_t)func_off, 8, n) ||
		    kt_le32(tab + ft + func_off) != entry_off) {
			*why = "a function record outside it, or not the function it is listed for";
			return KT_GO_FUNC_BAD_TABLE;
		}
		int32_t name_off = (int32_t)kt_le32(tab + ft + func_off + 4);
		if (name_off < 0 || !fits(names + (uint64_t)name_off, 1, n)) {
			*why = "a function name outside it";
			return KT_GO_FUNC_BAD_TABLE;
		}
		const char *s = (const char *)tab + names + (uint64_t)name_off;
		size_t room = n - (size_t)(names + (uint64_t)name_off);
		const char *nul = memchr(s, '\0', room);
		if (!nul) {
			*why = "a function name that runs past its end";
			return KT_GO_FUNC_BAD_TABLE;
		}
		if ((size_t)(nul - s) == want && memcmp(s, name, want) == 0) {
			*entry = text + entry_off;
			*end = text + next_off;
			return KT_GO_FUNC_FOUND;
		}
	}
	return KT_GO_FUNC_NOT_FOUND;
}
