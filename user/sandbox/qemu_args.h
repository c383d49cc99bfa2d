/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What a Kata QEMU command line says about its sandbox, one argument at a
 * time (a /proc/<pid>/cmdline or an exec event's arguments are NUL-separated
 * lists of them):
 *  - "-name" followed by "sandbox-<id>[,...]": the sandbox id;
 *  - a vhost-vsock device's property "guest-cid=<cid>" (the argument's
 *    first property, or one after a ','): the guest's CID.
 * Takes single arguments; gives the id or the CID, nothing when the
 * argument does not hold one in that exact form.
 */
#ifndef KT_QEMU_ARGS_H
#define KT_QEMU_ARGS_H

#include <stdbool.h>
#include <stdint.h>

#include "sandbox/sandbox_path.h"

/* Is arg the option whose next argument names the VM? */
bool kt_qemu_arg_is_name(const char *arg);

/*
 * The sandbox id of the argument after "-name" ("sandbox-<id>[,...]"),
 * into out; false (out untouched) when it is not a valid sandbox id.
 */
bool kt_qemu_name_sandbox(const char *value, char out[KT_SANDBOX_ID_MAX + 1]);

/* The guest CID an argument configures (3 .. UINT32_MAX-1); 0 for none. */
uint32_t kt_qemu_arg_guest_cid(const char *arg);

#endif
