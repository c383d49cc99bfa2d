/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A Go function table (capture/go_functab.c) built here byte by byte, the
 * layout Go 1.18+ writes (runtime/symtab.go): functions found with their
 * entries and ends, and every kind of broken table refused with its reason.
 * Real tables are checked against Go's debug/gosym in test_func_returns.c.
 */
#include <string.h>

#include <criterion/criterion.h>

#include "capture/go_functab.h"

#define TEXT 0x401000ull

/* A table of three functions: a at 0x0, bb at 0x40, c at 0x100, text ending at 0x180. */
static uint8_t tab[512];
static size_t tab_len;
enum { NAMES = 72, FUNCTAB = 96 };

static void put32(size_t at, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		tab[at + (size_t)i] = (uint8_t)(v >> (8 * i));
}

static void put64(size_t at, uint64_t v)
{
	put32(at, (uint32_t)v);
	put32(at + 4, (uint32_t)(v >> 32));
}

static void build(uint32_t magic)
{
	static const char names[] = "a\0bb\0c"; /* offsets 0, 2, 5 */
	static const uint32_t entries[] = { 0x0, 0x40, 0x100, 0x180 };
	static const uint32_t name_offs[] = { 0, 2, 5 };
	memset(tab, 0, sizeof(tab));
	put32(0, magic);
	tab[6] = 1; /* x86's instruction size quantum */
	tab[7] = 8;
	put64(8 + 8 * 0, 3);       /* functions */
	put64(8 + 8 * 1, 0);       /* files */
	put64(8 + 8 * 2, TEXT);    /* text start */
	put64(8 + 8 * 3, NAMES);   /* function names */
	put64(8 + 8 * 7, FUNCTAB); /* function table (and the records after it) */
	memcpy(tab + NAMES, names, sizeof(names));
	/* 3 pairs and an end: 28 bytes; the records follow at FUNCTAB + 32, 8 bytes each */
	for (uint32_t i = 0; i < 3; i++) {
		uint32_t rec = 32 + 8 * i;
		put32(FUNCTAB + 8 * i, entries[i]);
		put32(FUNCTAB + 8 * i + 4, rec);
		put32(FUNCTAB + rec, entries[i]);
		put32(FUNCTAB + rec + 4, name_offs[i]);
	}
	put32(FUNCTAB + 24, entries[3]);
	tab_len = FUNCTAB + 32 + 24;
}

static enum kt_go_functab_result find(const char *name, uint64_t *entry, uint64_t *end,
				      const char **why)
{
	return kt_go_functab_find(tab, tab_len, name, entry, end, why);
}

Test(go_functab, functions_of_both_magics)
{
	const uint32_t magics[] = { KT_GO_PCLNTAB_GO118, KT_GO_PCLNTAB_GO120 };
	for (size_t m = 0; m < 2; m++) {
		build(magics[m]);
		uint64_t entry, end;
		const char *why;
		cr_assert_eq(find("a", &entry, &end, &why), KT_GO_FUNC_FOUND);
		cr_expect_eq(entry, TEXT);
		cr_expect_eq(end, TEXT + 0x40);
		cr_assert_eq(find("bb", &entry, &end, &why), KT_GO_FUNC_FOUND);
		cr_expect_eq(entry, TEXT + 0x40);
		cr_expect_eq(end, TEXT + 0x100);
		/* the last one ends where the table's final entry says */
		cr_assert_eq(find("c", &entry, &end, &why), KT_GO_FUNC_FOUND);
		cr_expect_eq(entry, TEXT + 0x100);
		cr_expect_eq(end, TEXT + 0x180);
		/* whole names only */
		cr_expect_eq(find("b", &entry, &end, &why), KT_GO_FUNC_NOT_FOUND);
		cr_expect_eq(find("bbb", &entry, &end, &why), KT_GO_FUNC_NOT_FOUND);
		cr_expect_eq(find("", &entry, &end, &why), KT_GO_FUNC_NOT_FOUND);
		cr_expect_eq(entry, 0);
	}
}

static void refused(const char *want)
{
	uint64_t entry = 1, end = 1;
	const char *why = NULL;
	cr_assert_eq(find("c", &entry, &end, &why), KT_GO_FUNC_BAD_TABLE, "%s", want);
	cr_assert_not_null(why);
	cr_expect_str_eq(why, want);
	cr_expect_eq(entry, 0);
	cr_expect_eq(end, 0);
}

Test(go_functab, broken_tables_are_refused)
{
	build(0xfffffffb); /* Go 1.2 to 1.15 */
	refused("not the function table of Go 1.18 or later (another magic number)");
	build(KT_GO_PCLNTAB_GO120);
	tab[7] = 4;
	refused("a header that is not a 64-bit Go executable's");
	build(KT_GO_PCLNTAB_GO120);
	tab_len = 8 + 8 * 8 - 1;
	refused("shorter than its header");
	build(KT_GO_PCLNTAB_GO120);
	put64(8, 1000); /* more functions than fit */
	refused("a function table or name table outside it");
	build(KT_GO_PCLNTAB_GO120);
	put64(8 + 8 * 3, 4096); /* names past the end */
	refused("a function table or name table outside it");
	build(KT_GO_PCLNTAB_GO120);
	put32(FUNCTAB + 8, 0x200); /* bb after c */
	refused("function entries out of order");
	build(KT_GO_PCLNTAB_GO120);
	put32(FUNCTAB + 4, 4000); /* a's record */
	refused("a function record outside it, or not the function it is listed for");
	build(KT_GO_PCLNTAB_GO120);
	put32(FUNCTAB + 32, 0x8); /* a's record names another entry */
	refused("a function record outside it, or not the function it is listed for");
	build(KT_GO_PCLNTAB_GO120);
	put32(FUNCTAB + 32 + 4, 0x80000000u); /* a negative name offset */
	refused("a function name outside it");
	build(KT_GO_PCLNTAB_GO120);
	tab_len = NAMES + 6; /* c's name without its NUL: the table cut there */
	put64(8 + 8 * 7, 8 + 64); /* and the function table moved inside, to reach the name check */
	refused("a function table or name table outside it");
}

Test(go_functab, unterminated_name)
{
	build(KT_GO_PCLNTAB_GO120);
	/* c's name in one more byte at the very end of the table, without a NUL */
	tab[tab_len++] = 'c';
	put32(FUNCTAB + 48 + 4, (uint32_t)(tab_len - NAMES - 1));
	uint64_t entry, end;
	const char *why;
	cr_assert_eq(find("c", &entry, &end, &why), KT_GO_FUNC_BAD_TABLE);
	cr_expect_str_eq(why, "a function name that runs past its end");
}
