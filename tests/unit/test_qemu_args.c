/* SPDX-License-Identifier: Apache-2.0 */
/* A Kata QEMU command line's sandbox id and guest CID, one argument at a time. */
#include <criterion/criterion.h>
#include <string.h>

#include "sandbox/qemu_args.h"

Test(qemu_args, name_flag)
{
	cr_assert(kt_qemu_arg_is_name("-name"));
	cr_assert_not(kt_qemu_arg_is_name("-named"));
	cr_assert_not(kt_qemu_arg_is_name("name"));
}

Test(qemu_args, sandbox_from_the_name)
{
	char out[KT_SANDBOX_ID_MAX + 1] = "untouched";
	cr_assert(kt_qemu_name_sandbox("sandbox-0123abcd,debug-threads=on", out));
	cr_assert_str_eq(out, "0123abcd");
	cr_assert(kt_qemu_name_sandbox("sandbox-a.b_c-d", out));
	cr_assert_str_eq(out, "a.b_c-d");

	strcpy(out, "untouched");
	cr_assert_not(kt_qemu_name_sandbox("guest-0123", out)); /* not Kata's name */
	cr_assert_not(kt_qemu_name_sandbox("sandbox-", out));   /* empty id */
	cr_assert_not(kt_qemu_name_sandbox("sandbox-..", out));
	cr_assert_not(kt_qemu_name_sandbox("sandbox-../x", out));
	cr_assert_not(kt_qemu_name_sandbox("sandbox-,x", out));
	cr_assert_str_eq(out, "untouched");

	char too_long[KT_SANDBOX_ID_MAX + 16] = "sandbox-";
	memset(too_long + 8, 'a', KT_SANDBOX_ID_MAX + 1);
	too_long[8 + KT_SANDBOX_ID_MAX + 1] = '\0';
	cr_assert_not(kt_qemu_name_sandbox(too_long, out));
	too_long[8 + KT_SANDBOX_ID_MAX] = '\0'; /* exactly the longest id */
	cr_assert(kt_qemu_name_sandbox(too_long, out));
	cr_assert_eq(strlen(out), KT_SANDBOX_ID_MAX);
}

Test(qemu_args, guest_cid_as_a_whole_property)
{
	cr_assert_eq(kt_qemu_arg_guest_cid("vhost-vsock-pci,disable-modern=false,vhostfd=3,guest-cid=3"), 3);
	cr_assert_eq(kt_qemu_arg_guest_cid("guest-cid=33,id=vsock-33"), 33);
	cr_assert_eq(kt_qemu_arg_guest_cid("guest-cid=4294967294"), 4294967294u);
	/* a look-alike first, the property after it */
	cr_assert_eq(kt_qemu_arg_guest_cid("x-guest-cid=9,guest-cid=5"), 5);

	cr_assert_eq(kt_qemu_arg_guest_cid("echo guest-cid=3"), 0); /* not after a ',' */
	cr_assert_eq(kt_qemu_arg_guest_cid("nguest-cid=5"), 0);
	cr_assert_eq(kt_qemu_arg_guest_cid("guest-cid=5x"), 0);
	cr_assert_eq(kt_qemu_arg_guest_cid("guest-cid="), 0);
	cr_assert_eq(kt_qemu_arg_guest_cid("guest-cid=+5"), 0);
	cr_assert_eq(kt_qemu_arg_guest_cid("guest-cid=2"), 0); /* the host's CID */
	cr_assert_eq(kt_qemu_arg_guest_cid("guest-cid=4294967295"), 0);
	cr_assert_eq(kt_qemu_arg_guest_cid("guest-cid=99999999999"), 0);
	cr_assert_eq(kt_qemu_arg_guest_cid("-device"), 0);
}
