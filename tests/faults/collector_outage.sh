#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The collector down for OUTAGE_SECONDS (default 60) while a sandbox's agent
# streams SPANS_PER_SECOND (default 5,000) realistic spans (808 bytes,
# tests/bench/spangen.c) at a steady pace: 300,000 spans, three times
# --queue-size. With the disk spool they wait on disk, not in memory; when
# the collector comes back on its port every one of them arrives exactly
# once, none dropped, and the daemon's memory stayed low throughout.
. "$(dirname "$0")/../integration/lib.sh"
OUTAGE_SECONDS=${OUTAGE_SECONDS:-60}
SPANS_PER_SECOND=${SPANS_PER_SECOND:-5000}
N=$((OUTAGE_SECONDS * SPANS_PER_SECOND))
BB=$ROOT_DIR/build/bench
log "fault: the collector down for $OUTAGE_SECONDS s, $SPANS_PER_SECOND spans/s ($N spans), the spool on"
"$BB/spangen" "$N" 42 "$OUT/spans.bin" >"$OUT/spangen.log" || abort_test "spangen"
BYTES=$(stat -c %s "$OUT/spans.bin")
# A port where the collector will be: taken once, then left closed.
start_receiver || abort_test "setup"
PORT=$(cat "$OUT/port")
kill "$RECV_PID"
wait "$RECV_PID" 2>/dev/null
UDS=$OUT/hv.sock
start_kt --socket-path "$UDS" --no-discovery --no-vm-spans --otlp-endpoint "$RECV_URL" \
	--spool-dir "$OUT/spool" --metrics-address 127.0.0.1:0 || abort_test "setup"
METRICS=$(sed -n 's|.* metrics: http://\([0-9.]*:[0-9]*\)/metrics.*|\1|p' "$OUT/kt.log" | head -n 1)
metric() { curl -s --max-time 5 "http://$METRICS/metrics" | awk -v n="$1" '$1 == n { print $2 }'; }
rss_kib() { awk '/^VmRSS:/ { print $2 }' /proc/"$KT_PID"/status; }
"$BB/stream_writer" "${UDS}_10240" "$OUT/spans.bin" 4096 "$((BYTES / OUTAGE_SECONDS))" \
	>"$OUT/writer.out" 2>&1 &
WRITER=$!
max_rss=0
while kill -0 "$WRITER" 2>/dev/null; do
	r=$(rss_kib)
	[ "${r:-0}" -gt "$max_rss" ] && max_rss=$r
	sleep 1
done
wait "$WRITER"
check "the writer streamed every span (in $(awk '{printf "%.1f", $5}' "$OUT/writer.out") s)" [ $? = 0 ]
spooled() { [ "$(metric katatrace_spans_decoded_total)" = "$N" ] &&
	[ "$(metric 'katatrace_export_queue_records{kind="spans"}')" = 0 ]; }
check "every span decoded and out of memory, into the spool" wait_for 30 "the spans in the spool" spooled
check "nothing exported yet (the collector is down)" [ "$(metric katatrace_spans_exported_total)" = 0 ]
echo "  the spool holds $(metric katatrace_spool_bytes) bytes in $(metric katatrace_spool_requests) requests"
echo "  the daemon's resident memory peaked at $((max_rss / 1024)) MiB during the outage"
check "memory stayed low: under 200 MiB resident (the spans alone are $((BYTES / 1048576)) MiB as sent)" \
	[ "$max_rss" -lt $((200 * 1024)) ]

start_receiver --port "$PORT" || abort_test "the collector back on port $PORT"
arrived() { [ "$(count_lines "$OUT/spans.jsonl")" -ge "$N" ]; }
check "every span reached the collector once it was back" wait_for 300 "$N spans at the receiver" arrived
stop_kt
check "exit status 0" [ "$KT_RC" = 0 ]
check "summary: spans exported = $N" [ "$(summary_value 'spans exported')" = "$N" ]
check "summary: nothing dropped" [ "$(summary_value 'spans dropped')" = 0 ]
check "the collector got exactly $N spans" [ "$(count_lines "$OUT/spans.jsonl")" = "$N" ]
unique=$(grep -o '"traceId":"[0-9a-f]*","spanId":"[0-9a-f]*"' "$OUT/spans.jsonl" | sort -u | wc -l)
check "each one once: $unique distinct trace and span ids" [ "$unique" = "$N" ]
finish
