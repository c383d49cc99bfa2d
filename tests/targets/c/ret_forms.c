/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A target for tests/unit/test_func_returns.c: the forms of x86-64 return a
 * compiler does not emit for C, written out (never called). ret_forms has
 * RETs with an immediate and with prefixes, C3 bytes inside an immediate,
 * two undecodable bytes, and far returns (not RETs); cut_end ends in the
 * middle of an instruction, with C3 bytes after its end. And function
 * symbols a uprobe cannot use: in data, in .bss, an ifunc.
 */
#include <stdlib.h>

#define FUNC(name, body) \
	"	.globl " name "\n	.type " name ", @function\n" name ":\n" body "	.size " name ", .-" name "\n"

__asm__("	.text\n"
	FUNC("ret_forms",
	     "	test %edi, %edi\n"
	     "	jz 1f\n"
	     "	mov $0xc3c3c3c3, %eax\n" /* C3 bytes in an immediate */
	     "	cmp $1, %edi\n"
	     "	je 2f\n"
	     "	cmp $2, %edi\n"
	     "	je 3f\n"
	     "	ret $8\n"
	     "1:	repz ret\n"
	     "2:	bnd ret\n"
	     "3:	jmp 4f\n"
	     "	.byte 0x06, 0xd6\n" /* push %es and salc: invalid in 64-bit mode */
	     "4:	lretl\n"            /* retf */
	     "	lretq\n"            /* REX.W retf */
	     "	data16 ret\n"       /* 66 C3: a near return all the same */
	     "	ret\n")
	FUNC("cut_end",
	     "	ret\n"
	     "	.byte 0x48, 0xb8, 0xc3, 0xc3\n") /* movabs cut after two of its ten bytes */
	"	.byte 0xc3, 0xc3, 0xc3, 0xc3, 0xc3, 0xc3, 0xc3, 0xc3\n"
	"	.data\n"
	FUNC("in_data", "	ret\n")
	"	.bss\n"
	FUNC("in_bss", "	.zero 4\n"));

static int plain(int x)
{
	return x + 1;
}

/* An ifunc: its symbol is the resolver, which returns the implementation. */
static int (*resolve_chosen(void))(int)
{
	return plain;
}
int chosen(int x) __attribute__((ifunc("resolve_chosen")));

int main(int argc, char **argv)
{
	(void)argv;
	return chosen(argc) == 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
