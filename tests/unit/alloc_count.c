/* SPDX-License-Identifier: Apache-2.0 */
#include "alloc_count.h"

#include <stdbool.h>

#include <criterion/criterion.h>

/*
 * ASan's (<sanitizer/allocator_interface.h>, which GCC does not ship).
 * Weak: in a build without ASan it is NULL and no window opens.
 */
extern int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void *,
									 size_t),
						     void (*free_hook)(const volatile void *))
	__attribute__((weak));

static _Thread_local bool counting;
static _Thread_local size_t allocs;
static int hooks_installed; /* what the install returned: hooks in place, 0 if none */

/* Runs inside the allocator: no allocation, no locking, this thread's state only. */
static void on_malloc(const volatile void *p, size_t size)
{
	(void)p;
	(void)size;
	if (counting)
		allocs++;
}

static void on_free(const volatile void *p)
{
	(void)p;
}

/* Installed once, before criterion starts threads (the hooks ask for that). */
__attribute__((constructor)) static void install(void)
{
	if (__sanitizer_install_malloc_and_free_hooks)
		hooks_installed = __sanitizer_install_malloc_and_free_hooks(on_malloc, on_free);
}

void kt_alloc_count_begin(void)
{
	cr_assert(hooks_installed > 0, "ASan's malloc hooks are not installed: nothing would be "
				       "counted (the unit tests must be built with ASan)");
	cr_assert(!counting, "allocation count windows do not nest");
	allocs = 0;
	counting = true;
}

size_t kt_alloc_count_end(void)
{
	counting = false;
	return allocs;
}
