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
 *
 * Offsets are file offsets, for ET_EXEC and ET_DYN alike: st_value -
 * sh_addr + sh_offset of the section holding the symbol (or p_vaddr and
 * p_offset of the PT_LOAD segment when the symbol names no section). That
 * is what the kernel keys a uprobe by (inode, offset), what libbpf >= 1.0
 * computes itself for a named function, and what
 * bpf_program__attach_uprobe_opts() takes as func_offset, passed as it is
 * to perf_event_open (config2): attach with opts->func_name unset, or libbpf
 * adds the symbol's offset a second time.
 *
 * RET means a near return: C3 and C2 iw (`ret imm16`), with any prefix
 * (`repz ret`, `bnd ret`), at the offset of its first prefix byte. A far
 * return (`retf`, CB/CA) is not one: it also pops CS, and code built for
 * x86-64 Linux user space never leaves a function that way. A function
 * that leaves through a tail jump has no RET on that path: it is not seen.
 */
#ifndef KT_FUNC_RETURNS_H
#define KT_FUNC_RETURNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Most RET instructions kept for one function (a larger count is an error). */
#define KT_FUNC_MAX_RETS 64
/* Largest function read and disassembled (st_size; a larger one is an error). */
#define KT_FUNC_MAX_BYTES (1024 * 1024)

struct kt_func_returns {
	uint64_t entry_off;  /* file offset of the function's first byte */
	uint64_t size;       /* st_size */
	size_t n_rets;
	uint64_t ret_off[KT_FUNC_MAX_RETS]; /* file offsets of its RET instructions, ascending */
	bool is_go;          /* the executable has a .go.buildinfo or .gopclntab section */
};

/*
 * 0, or -1 with a one-line message in err naming the file or the symbol:
 * the file cannot be read, is not an x86-64 ELF executable or shared
 * object, has no such function symbol (a stripped binary, a data symbol
 * and an import are said so), the symbol has no size or more than
 * KT_FUNC_MAX_BYTES, the function's bytes are not in the file, no RET is
 * found, or more than KT_FUNC_MAX_RETS.
 */
int kt_func_returns(const char *path, const char *symbol, struct kt_func_returns *out, char *err,
		    size_t errlen);

#endif
