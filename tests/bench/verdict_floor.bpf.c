// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The verdict floor of bench_write_cost: the least a capture that decides
 * once per socket must do on a send it does not capture. On
 * sock_send_length it turns away what is not a unix socket (one load, as
 * the capture does) and looks up the socket's own verdict in socket-local
 * storage, creating it on the socket's first send (as the capture stores
 * its decided verdicts); then it returns. What the capture adds to an
 * uncaptured unix send beyond this is its own doing; what this adds beyond
 * an empty program is the price of the lookup.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "unix_capture.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define AF_UNIX 1

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct kt_unix_verdict);
} floor_verdicts SEC(".maps");

SEC("tp_btf/sock_send_length")
int BPF_PROG(kt_verdict_floor, struct sock *sk, int ret, int flags)
{
	if (ret <= 0 || !sk || sk->__sk_common.skc_family != AF_UNIX)
		return 0;
	/* a zeroed verdict: "not captured", as the capture stores it */
	bpf_sk_storage_get(&floor_verdicts, sk, NULL, BPF_LOCAL_STORAGE_GET_F_CREATE);
	return 0;
}

/* The capture's receive program does nothing on a read that returns data. */
SEC("tp_btf/sock_recv_length")
int BPF_PROG(kt_verdict_floor_recv, struct sock *sk, int ret, int flags)
{
	return 0;
}
