#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Tap mode beside a foreign listener (socat drains the sockets, as a
# kata-trace-forwarder would): katatrace-bpf binds nothing, captures in the
# kernel what the relaying "hypervisor" writes, and exports OTLP/HTTP to the
# independent receiver, which compares every field.
. "$(dirname "$0")/lib.sh"
log "tap mode + OTLP/HTTP"
make_workload || abort_test "workload generation"
foreign_listeners || abort_test "setup"
start_receiver || abort_test "setup"
start_kt --mode tap --run-root "$RUN_ROOT" --otlp-endpoint "$RECV_URL" --batch-timeout 200 || abort_test "setup"
check "auto attach lands on a working strategy (tracepoint here)" \
	grep -qE 'attached with (fentry|kprobe|tracepoint) strategy \(auto\)' "$OUT/kt.log"
# Where the tracepoint strategy runs on a kernel that can read user memory
# into a ring buffer reservation, the send program's variant does
# (docs/capture.md, "Program variants"); tap_plain_programs.sh runs the plain one.
if grep -q 'attached with tracepoint strategy' "$OUT/kt.log" &&
	grep -qw bpf_probe_read_user_dynptr /proc/kallsyms; then
	check "this kernel has bpf_probe_read_user_dynptr: the direct send program is loaded" \
		grep -q 'unix capture: attached with tracepoint strategy (auto), payloads read straight into the ring buffer' "$OUT/kt.log"
fi
check "relay sent every stream" run_relay --max-chunk 3000
write_manifest
check "every span reached the receiver before shutdown" wait_for 30 "all spans at the receiver" all_spans_arrived
stop_kt
check_summary
check_spans "$OUT/spans.jsonl"
finish
