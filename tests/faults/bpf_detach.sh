#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Detaching the capture's programs under a running daemon. Every link the
# daemon holds (raw tracepoints here: tracing links where fentry works,
# perf links for kprobes) must refuse BPF_LINK_DETACH, so that no other
# root process can silence the capture while the daemon looks healthy; the
# streams relayed after the attempt arrive exactly. Should a kernel start
# accepting it for these links, this test fails: the daemon would then have
# to notice a detached program and exit as it does when its broker dies
# (tests/faults/broker_kill.sh).
. "$(dirname "$0")/../integration/lib.sh"
log "fault: bpftool link detach of the daemon's programs"
command -v bpftool >/dev/null || abort_test "bpftool missing"
make_workload || abort_test "workload generation"
foreign_listeners || abort_test "setup"
start_receiver || abort_test "setup"
start_kt --mode tap --run-root "$RUN_ROOT" --otlp-endpoint "$RECV_URL" --batch-timeout 200 || abort_test "setup"

# The links the daemon and its broker hold: their descriptors' fdinfo names them.
for pid in "$KT_PID" $(pgrep -P "$KT_PID"); do
	grep -h '^link_id:' /proc/"$pid"/fdinfo/* 2>/dev/null | awk '{print $2}'
done | sort -un >"$OUT/link-ids"
n=$(count_lines "$OUT/link-ids")
echo "  the daemon holds $n links"
check "the daemon holds the capture's links (at least the unix capture's two)" [ "$n" -ge 2 ]
refused=0
while read -r id; do
	if bpftool link detach id "$id" 2>>"$OUT/detach.err"; then
		echo "  link $id: detached"
	else
		refused=$((refused + 1))
	fi
done <"$OUT/link-ids"
check "every one of them refuses to be detached ($refused of $n)" [ "$refused" = "$n" ]
check "the kernel said why: not supported" grep -q 'Operation not supported' "$OUT/detach.err"
check "the daemon still runs" kill -0 "$KT_PID"
check "relay sent every stream" run_relay --max-chunk 3000
write_manifest
check "every span reached the receiver" wait_for 30 "all spans at the receiver" all_spans_arrived
stop_kt
check_summary
check_spans "$OUT/spans.jsonl"
finish
