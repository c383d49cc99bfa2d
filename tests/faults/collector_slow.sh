#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# A slow collector that also pushes back: every answer 2 s late, the first
# two requests refused with 429 and Retry-After: 3. With the disk spool on,
# the daemon goes on capturing and spooling meanwhile, waits as long as the
# collector asks before the next attempt, and every span arrives exactly
# once, none dropped; the retries are counted by status.
. "$(dirname "$0")/../integration/lib.sh"
log "fault: the collector slow (2 s per request) and answering 429 with Retry-After"
make_workload || abort_test "workload generation"
start_receiver --delay-ms 2000 --fail-first 2 --fail-status 429 --retry-after 3 || abort_test "setup"
start_kt --run-root "$RUN_ROOT" --otlp-endpoint "$RECV_URL" --batch-timeout 200 --batch-size 16 \
	--spool-dir "$OUT/spool" --metrics-address 127.0.0.1:0 || abort_test "setup"
METRICS=$(sed -n 's|.* metrics: http://\([0-9.]*:[0-9]*\)/metrics.*|\1|p' "$OUT/kt.log" | head -n 1)
metric() { curl -s --max-time 5 "http://$METRICS/metrics" | awk -v n="$1" '$1 == n { print $2 }'; }
t0=$SECONDS
check "relay sent every stream" run_relay --max-chunk 3000
write_manifest
check "the relay was not held up by the slow collector (under 10 s)" [ $((SECONDS - t0)) -lt 10 ]
check "every span reached the collector" wait_for 90 "all spans at the receiver" all_spans_arrived
check "the collector's Retry-After was honoured: the next attempt in 3000 ms" \
	grep -q "next attempt for [0-9]* spans in 3000 ms (the collector's Retry-After)" "$OUT/kt.log"
check "the refusals were 429s" [ "$(grep -c 'answering 429 (--fail-first)' "$OUT/receiver.log")" = 2 ]
retried() { [ "$(metric 'katatrace_export_retries_total{exporter="otlp-http",status="429"}')" = 2 ]; }
check "two retries counted, status 429" wait_for 5 "the retries in the metrics" retried
stop_kt
check_summary
check "summary: nothing dropped" [ "$(summary_value 'spans dropped')" = 0 ]
check_spans "$OUT/spans.jsonl"
finish
