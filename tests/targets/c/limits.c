/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A target for tests/unit/test_func_returns.c: functions at the limits of
 * capture/func_returns.h and one past each (never called): exactly
 * KT_FUNC_MAX_RETS RETs and one more, exactly KT_FUNC_MAX_BYTES bytes and
 * one more, and a function symbol without a size.
 */
#include <stdlib.h>

#include "capture/func_returns.h"

#define STR(x) #x
#define XSTR(x) STR(x)
#define FUNC(name, body) \
	"	.globl " name "\n	.type " name ", @function\n" name ":\n" body "	.size " name ", .-" name "\n"

__asm__("	.text\n"
	FUNC("rets_at_max", "	.rept " XSTR(KT_FUNC_MAX_RETS) "\n	ret\n	.endr\n")
	FUNC("rets_over_max", "	.rept " XSTR(KT_FUNC_MAX_RETS) " + 1\n	ret\n	.endr\n")
	/* long NOPs up to the last byte, a RET there */
	FUNC("bytes_at_max", "	.nops " XSTR(KT_FUNC_MAX_BYTES) " - 1\n	ret\n")
	FUNC("bytes_over_max", "	.nops " XSTR(KT_FUNC_MAX_BYTES) "\n	ret\n")
	"	.globl no_size\n	.type no_size, @function\nno_size:\n	ret\n");

int main(void)
{
	return EXIT_SUCCESS;
}
