/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A target for tests/unit/test_func_returns.c, built at -O2: functions with
 * several return paths, one the compiler leaves through a tail jump (no
 * RET), a static one (absent from .dynsym), and a data symbol. Every
 * function stays out of line (noinline) so that it has its own symbol.
 */
#include <stdlib.h>

#define OUT_OF_LINE __attribute__((noipa))

int counter; /* a data symbol (STT_OBJECT) */

OUT_OF_LINE int opaque(int x)
{
	__asm__ volatile("" : "+r"(x)); /* hides x from the optimiser */
	return x;
}

/* An early exit before the callee-saved registers are pushed: two RETs. */
OUT_OF_LINE long early_exit(const int *v, int n)
{
	if (!v)
		return -1;
	long s = 0;
	for (int i = 0; i < n; i++)
		s += opaque(v[i]);
	return s;
}

/* Three ways out, two of them before the call. */
OUT_OF_LINE int three_ways(int x)
{
	if (x < 0)
		return 0;
	if (x > 1000)
		return 1000;
	int a = opaque(x), b = opaque(a + 1);
	return a * b;
}

/* The call is the last thing it does: `jmp opaque`, no RET. */
OUT_OF_LINE int tail_out(int x)
{
	return opaque(x + 1);
}

/* A plain body with a single RET. */
OUT_OF_LINE static int one_ret(int x)
{
	counter += x;
	return counter;
}

int main(int argc, char **argv)
{
	(void)argv;
	int v[2] = { argc, 2 };
	return (int)(early_exit(argc > 5 ? NULL : v, 2) + three_ways(argc) + tail_out(argc) +
		     one_ret(argc)) == 12345 ? EXIT_FAILURE : EXIT_SUCCESS;
}
