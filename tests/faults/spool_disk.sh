#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The spool's disk fails under a running daemon: first full (an 8 KiB
# tmpfs: the first requests fit, the rest do not), then read-only (the same
# tmpfs remounted). Each request the spool cannot store is sent from memory
# instead: every span reaches the collector exactly once, each failure is
# counted (spool_append_failed, katatrace_spool_write_errors_total) and
# logged, and the daemon runs on to a clean stop.
. "$(dirname "$0")/../integration/lib.sh"
log "fault: the spool's disk full, then read-only"
make_workload || abort_test "workload generation"
SPOOL=$OUT/spool
mkdir -p "$SPOOL"
mount -t tmpfs -o size=8k,mode=0700 tmpfs "$SPOOL" || abort_test "a tmpfs for the spool"
unmount_spool() { umount "$SPOOL" 2>/dev/null; }
trap 'unmount_spool; cleanup' EXIT
start_receiver || abort_test "setup"
start_kt --run-root "$RUN_ROOT" --otlp-endpoint "$RECV_URL" --batch-timeout 200 --batch-size 8 \
	--spool-dir "$SPOOL" --spool-size 64M --metrics-address 127.0.0.1:0 || abort_test "setup"
METRICS=$(sed -n 's|.* metrics: http://\([0-9.]*:[0-9]*\)/metrics.*|\1|p' "$OUT/kt.log" | head -n 1)
metric() { curl -s --max-time 5 "http://$METRICS/metrics" | awk -v n="$1" '$1 == n { print $2 }'; }
check "relay sent every stream (the disk full)" run_relay --max-chunk 3000
write_manifest
check "every span reached the collector" wait_for 30 "all spans at the receiver" all_spans_arrived
# The gauges are published every second.
write_errors() { [ "$(metric katatrace_spool_write_errors_total)" -ge 1 ] 2>/dev/null; }
check "the failed writes are counted (katatrace_spool_write_errors_total)" \
	wait_for 5 "the write errors in the metrics" write_errors
check "and logged, saying the request is sent from memory" \
	grep -q 'spool: cannot store a request of .* sending it from memory' "$OUT/kt.log"

# SIGHUP: every counter, spool_append_failed among them.
kill -HUP "$KT_PID"
appends_failed() { awk '$1 == "spool_append_failed" && $2 > 0 { ok = 1 } END { exit !ok }' "$OUT/kt.log"; }
check "the requests the spool could not store are counted (spool_append_failed)" \
	wait_for 5 "the counters on SIGHUP" appends_failed
stop_kt
cp "$OUT/kt.log" "$OUT/kt.first.log"
check "exit status 0 after the first round" [ "$KT_RC" = 0 ]
check "summary: first round, nothing dropped" [ "$(summary_value 'spans dropped')" = 0 ]
check_spans "$OUT/spans.jsonl"

# Read-only now (a disk remounted so): a new daemon starts on it anyway, and
# the same workload again goes from memory.
mount -o remount,ro "$SPOOL" || abort_test "remount the spool read-only"
mv "$OUT/spans.jsonl" "$OUT/spans.first.jsonl"
kill "$RECV_PID"
wait "$RECV_PID" 2>/dev/null
start_receiver || abort_test "a fresh receiver"
start_kt --run-root "$RUN_ROOT" --otlp-endpoint "$RECV_URL" --batch-timeout 200 --batch-size 8 \
	--spool-dir "$SPOOL" --spool-size 64M || abort_test "start on a read-only spool"
check "relay sent every stream (the disk read-only)" run_relay --max-chunk 3000
write_manifest
check "every span reached the collector" wait_for 30 "all spans at the receiver" all_spans_arrived
stop_kt
check "exit status 0" [ "$KT_RC" = 0 ]
check "summary: nothing dropped" [ "$(summary_value 'spans dropped')" = 0 ]
check "the read-only disk is said, and the daemon started anyway" \
	grep -q 'cannot hand it to nobody (Read-only file system)' "$OUT/kt.log"
check "the requests it could not store are said to go from memory" \
	grep -q 'spool: cannot store a request of .* (Read-only file system): sending it from memory' "$OUT/kt.log"
check_spans "$OUT/spans.jsonl"
finish
