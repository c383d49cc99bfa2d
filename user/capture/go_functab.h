/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The function table of a Go executable (its pclntab: the .gopclntab
 * section, .data.rel.ro.gopclntab in a PIE), read for what a stripped binary no longer has in a symbol
 * table: where a function starts and where the next one does. The Go
 * runtime needs this table to unwind and print stacks, so stripping
 * (`strip`, `-ldflags=-s`) leaves it in place.
 *
 * Layout (Go's runtime/symtab.go, debug/gosym): an 8-byte header (magic
 * 0xfffffff0 for Go 1.18 and 1.19, 0xfffffff1 from 1.20; two zero bytes;
 * the instruction size quantum; the pointer size), then pointer-sized
 * words: number of functions, number of files, the text start address,
 * and the offsets of the function name table, the compilation units, the
 * file table, the PC tables and the function table. The function table
 * holds, per function, two 32-bit words (its entry as an offset from the
 * text start, and the offset of its _func record), then one more entry
 * offset: the end of the last function. A _func record starts with the
 * entry offset again and the offset of the name in the name table
 * (NUL-terminated).
 *
 * Everything here is read from a file: every offset is checked against the
 * table's size (tests/fuzz/fuzz_go_functab.c).
 */
#ifndef KT_GO_FUNCTAB_H
#define KT_GO_FUNCTAB_H

#include <stddef.h>
#include <stdint.h>

#define KT_GO_PCLNTAB_GO118 0xfffffff0u
#define KT_GO_PCLNTAB_GO120 0xfffffff1u

enum kt_go_functab_result {
	KT_GO_FUNC_FOUND = 0,
	KT_GO_FUNC_NOT_FOUND = 1, /* the table is sound and has no such function */
	KT_GO_FUNC_BAD_TABLE = -1, /* not a table this reads: *why says how */
};

/*
 * Looks the function `name` up in the table tab[0..n). FOUND: *entry and
 * *end are its first byte's address and the next function's (the end of
 * the text for the last one), as linked (for a PIE, before relocation).
 * BAD_TABLE: *why (static text) says what is wrong: an older Go (before
 * 1.18) or another magic, a pointer size other than 8, an offset or a
 * name outside the table, entries out of order.
 */
enum kt_go_functab_result kt_go_functab_find(const uint8_t *tab, size_t n, const char *name,
					     uint64_t *entry, uint64_t *end, const char **why);

#endif
