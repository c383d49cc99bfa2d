#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The disk spool across a crash: the collector is down while the workload
# is relayed, so every span waits in the spool (--spool-dir); the daemon is
# killed with SIGKILL; a new daemon on the same spool, the collector back
# on its port, sends every one of them exactly once (they were never
# acknowledged), and serves again (its listeners, left behind by the
# killed one, made anew).
. "$(dirname "$0")/../integration/lib.sh"
log "fault: kill -9 of the daemon with spans in the spool, then a restart"
make_workload || abort_test "workload generation"
# A port where the collector will be: taken once, then left closed.
start_receiver || abort_test "setup"
PORT=$(cat "$OUT/port")
kill "$RECV_PID"
wait "$RECV_PID" 2>/dev/null
SPOOL=$OUT/spool
start_kt --run-root "$RUN_ROOT" --otlp-endpoint "$RECV_URL" --batch-timeout 200 \
	--spool-dir "$SPOOL" --metrics-address 127.0.0.1:0 || abort_test "setup"
METRICS=$(sed -n 's|.* metrics: http://\([0-9.]*:[0-9]*\)/metrics.*|\1|p' "$OUT/kt.log" | head -n 1)
[ -n "$METRICS" ] || abort_test "the log names the metrics address"
metric() { curl -s --max-time 5 "http://$METRICS/metrics" | awk -v n="$1" '$1 == n { print $2 }'; }
check "the spool directory belongs to the daemon's user (nobody)" [ "$(stat -c %U "$SPOOL")" = nobody ]
check "relay sent every stream" run_relay --max-chunk 3000
write_manifest
# Every span in the spool, none waiting in memory, and synced (every 100 ms).
all_spooled() {
	[ "$(metric 'katatrace_export_queue_records{kind="spans"}')" = 0 ] &&
		[ "$(metric katatrace_spool_requests)" -ge 1 ] 2>/dev/null &&
		[ "$(metric katatrace_spans_decoded_total)" = "$EXPECTED_SPANS" ]
}
check "every span decoded went to the spool" wait_for 20 "the spans in the spool" all_spooled
check "nothing was exported (the collector is down)" [ "$(metric katatrace_spans_exported_total)" = 0 ]
sleep 0.5
kill -KILL "$KT_PID"
wait "$KT_PID" 2>/dev/null
check "the spool holds segment files after the crash" compgen -G "$SPOOL/*.spool" >/dev/null

start_receiver --port "$PORT" || abort_test "the collector back on port $PORT"
check "the collector is back on its port" [ "$(cat "$OUT/port")" = "$PORT" ]
start_kt --run-root "$RUN_ROOT" --otlp-endpoint "$RECV_URL" --batch-timeout 200 \
	--spool-dir "$SPOOL" || abort_test "restart"
check "the new daemon says what it found in the spool" \
	grep -qE "spool: $SPOOL, [0-9]+ of [0-9]+ bytes held, [1-9][0-9]* requests to send first" "$OUT/kt.log"
check "every span reached the collector" wait_for 30 "all spans at the receiver" all_spans_arrived
stop_kt
check "exit status 0" [ "$KT_RC" = 0 ]
check "summary: the new daemon exported them all: $EXPECTED_SPANS" [ "$(summary_value 'spans exported')" = "$EXPECTED_SPANS" ]
check "summary: nothing dropped" [ "$(summary_value 'spans dropped')" = 0 ]
check_spans "$OUT/spans.jsonl"
check "the spool is empty after the stop" bash -c "! compgen -G '$SPOOL/*.spool' >/dev/null || [ \$(cat '$SPOOL'/*.spool | wc -c) = 0 ]"
finish
