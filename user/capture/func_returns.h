/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Where a function of an ELF executable starts and where it returns, for
 * probes that must not use a uretprobe: a uretprobe replaces the return
 * address on the stack, and a Go function whose goroutine stack is moved
 * (grown or shrunk) while it runs copies that address along, so the program
 * crashes. Instead, each RET instruction of the function gets an ordinary
 * uprobe.
 *
 * Takes an executable's path and a symbol name (from .symtab, else
 * .dynsym). Gives the function's file offset (what a uprobe attaches to),
 * its size, and the file offsets of every x86-64 RET instruction in it,
 * found by disassembling the function's bytes with Capstone.
 */
#ifndef KT_FUNC_RETURNS_H
#define KT_FUNC_RETURNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Most RET instructions kept for one function (a larger count is an error). */
#define KT_FUNC_MAX_RETS 64

struct kt_func_returns {
	uint64_t entry_off;  /* file offset of the function's first byte */
	uint64_t size;       /* st_size */
	size_t n_rets;
	uint64_t ret_off[KT_FUNC_MAX_RETS]; /* file offsets of its RET instructions, ascending */
	bool is_go;          /* the executable has a .go.buildinfo or .gopclntab section */
};

/*
 * 0, or -1 with a message in err naming the file or the symbol: the file
 * cannot be read, is not an x86-64 ELF, has no such function symbol, the
 * function's bytes are not in the file, no RET is found, or more than
 * KT_FUNC_MAX_RETS.
 */
int kt_func_returns(const char *path, const char *symbol, struct kt_func_returns *out, char *err,
		    size_t errlen);

#endif
