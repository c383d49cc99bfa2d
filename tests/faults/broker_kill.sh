#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# kill -9 of the broker, the daemon's privileged child. Without it no
# sandbox can be discovered or given a listener, so the daemon must not run
# on looking healthy: /readyz turns to "failing" at once, everything already
# captured is still exported, and it exits with status 3 (a fault: restart
# me) naming what happened. The collector answers the first export with
# 503 and Retry-After, so that the flush, and the failing readiness, last
# long enough to be seen.
. "$(dirname "$0")/../integration/lib.sh"
log "fault: kill -9 of the broker"
# The daemon's broker: its first child.
find_broker() {
	BROKER_PID=$(pgrep -P "$KT_PID" | head -n 1)
	[ -n "$BROKER_PID" ] || abort_test "no broker process beside the daemon"
}
# The daemon exits on its own, no stop signal sent; KT_RC is its status.
wait_own_exit() {
	for _ in $(seq 1 300); do kill -0 "$KT_PID" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$KT_PID" 2>/dev/null && { echo "  still running after 30 s"; kill -KILL "$KT_PID"; }
	wait "$KT_PID"
	KT_RC=$?
}
# A daemon of the second part: no workload, its broker found.
start_plain() {
	start_kt --run-root "$RUN_ROOT" --otlp-endpoint "$RECV_URL" --batch-timeout 200 || abort_test "setup"
	find_broker
}
no_fault_logged() { ! grep -q 'so that it is restarted' "$OUT/kt.log"; }
make_workload || abort_test "workload generation"
start_receiver --fail-first 1 --retry-after 3 || abort_test "setup"
start_kt --run-root "$RUN_ROOT" --otlp-endpoint "$RECV_URL" --batch-timeout 200 \
	--metrics-address 127.0.0.1:0 || abort_test "setup"
METRICS=$(sed -n 's|.* metrics: http://\([0-9.]*:[0-9]*\)/metrics.*|\1|p' "$OUT/kt.log" | head -n 1)
[ -n "$METRICS" ] || abort_test "the log names the metrics address"
readyz() { curl -s --max-time 2 -o "$OUT/readyz.body" -w '%{http_code}' "http://$METRICS/readyz"; }
find_broker
check "/readyz: 200 before the fault" [ "$(readyz)" = 200 ]

check "relay sent every stream" run_relay --max-chunk 3000
write_manifest
# The first export has been refused by now (its batch leaves after 200 ms):
# its retry waits 3 s.
wait_for 10 "the collector to refuse the first export" grep -q 'answering 503 (--fail-first)' "$OUT/receiver.log"
kill -KILL "$BROKER_PID"
failing() { [ "$(readyz)" = 503 ] && grep -qx 'failing: the broker exited' "$OUT/readyz.body"; }
check "/readyz: 503 'failing: the broker exited' while the daemon still runs" \
	wait_for 5 "readiness to turn" failing
check "the daemon was still running then (flushing)" kill -0 "$KT_PID"

wait_own_exit
check_exit "exit status 3 (a fault), with the reason in the log" "$KT_RC" 3 "$OUT/kt.log" \
	"broker (pid $BROKER_PID) was killed by signal 9 (Killed): no sandbox can be discovered"
check "the log says it exits so that it is restarted" grep -q 'exiting with status 3 so that it is restarted' "$OUT/kt.log"
SUMMARY=$(grep 'katatrace-bpf summary:' "$OUT/kt.log" | tail -n 1)
echo "  $SUMMARY"
check "summary printed, spans exported = $EXPECTED_SPANS" [ "$(summary_value 'spans exported')" = "$EXPECTED_SPANS" ]
check "summary: no spans dropped" [ "$(summary_value 'spans dropped')" = 0 ]
check "every span reached the receiver" all_spans_arrived
check_spans "$OUT/spans.jsonl"

# A stop signal to both at once (pkill, a container runtime signalling the
# group) is a stop, not a fault: exit status 0.
log "SIGTERM to the broker and the daemon together"
start_plain
kill -TERM "$BROKER_PID" "$KT_PID"
stop_kt TERM
check "exit status 0" [ "$KT_RC" = 0 ]
check "no fault logged" no_fault_logged

# The same stop with the daemon's signal behind the broker's exit (a busy
# node, the group's processes signalled in turn): still a stop.
log "SIGTERM to the broker, then 300 ms later to the daemon"
start_plain
kill -TERM "$BROKER_PID"
wait_for 5 "the broker to exit" bash -c "! kill -0 $BROKER_PID 2>/dev/null"
sleep 0.3
stop_kt TERM
check "exit status 0" [ "$KT_RC" = 0 ]
check "the log says the broker stopped with the daemon" \
	grep -q "broker (pid $BROKER_PID) exited with status 0 as the daemon stops" "$OUT/kt.log"
check "no fault logged" no_fault_logged

# A stop signal to the broker alone, the daemon left running: a fault, once
# the daemon's own signal has had its moment and did not come.
log "SIGTERM to the broker alone"
start_plain
kill -TERM "$BROKER_PID"
wait_own_exit
check_exit "exit status 3 (a fault), with the reason in the log" "$KT_RC" 3 "$OUT/kt.log" \
	"broker (pid $BROKER_PID) exited with status 0: no sandbox can be discovered"
finish
