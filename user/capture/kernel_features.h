/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the running kernel offers BPF programs beyond what every supported
 * kernel has, asked of its BTF. The loader uses the answers to pick between
 * programs that do the same thing in different ways (capture.c, "program
 * variants"); nothing here loads a program. Each question reads vmlinux's
 * BTF afresh and frees it (tens of milliseconds, no memory kept): ask when
 * loading, not per event.
 */
#ifndef KT_KERNEL_FEATURES_H
#define KT_KERNEL_FEATURES_H

#include <stdbool.h>

/* Is `name` a kernel function BPF programs may call (a kfunc in vmlinux's BTF)? */
bool kt_kernel_has_kfunc(const char *name);

#endif
