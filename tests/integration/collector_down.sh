#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# No span lost while the collector is down (OTLP/gRPC, sink mode, BPF
# capture):
#   1. the daemon starts while nothing listens on the collector's port; every
#      stream is sent; DOWN_SECONDS (default 30) after the start the receiver
#      starts on that port: every span must arrive, exactly, and none be
#      dropped;
#   2. the collector answers UNAVAILABLE (the first requests, then for a
#      while): retried until accepted, nothing dropped;
#   3. the collector answers INVALID_ARGUMENT: the batch is dropped, counted
#      and logged with the status message, and the daemon keeps running and
#      exports the next spans once the collector accepts them again.
. "$(dirname "$0")/lib.sh"
DOWN_SECONDS=${DOWN_SECONDS:-30}

free_port() {
	node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => {
		console.log(s.address().port); s.close(); });'
}

kt_alive() { kill -0 "$KT_PID" 2>/dev/null; }
not_logged() { ! grep -q "$1" "$OUT/kt.log"; }

start_sink() { # endpoint [extra args]
	local ep=$1
	shift
	start_kt --mode sink --socket-path "$UDS_CLH" --socket-path "$UDS_FC" --run-root "$RUN_ROOT" \
		--otlp-endpoint "$ep" --batch-timeout 200 "$@"
}

keep_logs() { # phase
	cp "$OUT/kt.log" "$OUT/kt-$1.log"
	[ -f "$OUT/spans.jsonl" ] && cp "$OUT/spans.jsonl" "$OUT/spans-$1.jsonl"
}

make_workload || abort_test "workload generation"

log "phase 1: collector down for ${DOWN_SECONDS}s after the daemon starts"
PORT=$(free_port) || abort_test "free port"
rm -f "$OUT/spans.jsonl"
t0=$SECONDS
# host:port without a scheme: OTLP/gRPC, in plain text as OTEL_EXPORTER_OTLP_INSECURE says.
OTEL_EXPORTER_OTLP_INSECURE=true start_sink "127.0.0.1:$PORT" || abort_test "setup"
check "host:port endpoint selects OTLP/gRPC, plain text with OTEL_EXPORTER_OTLP_INSECURE=true" \
	grep -q "OTLP/gRPC http://127.0.0.1:$PORT" "$OUT/kt.log"
check "relay sent every stream" run_relay --max-chunk 65536
write_manifest
left=$((DOWN_SECONDS - (SECONDS - t0)))
[ "$left" -gt 0 ] && sleep "$left"
check "daemon still running while the collector is down" kt_alive
check "connection failures logged as retried" grep -q "otlp-grpc: http://127.0.0.1:$PORT: .*(will retry)" "$OUT/kt.log"
check "nothing dropped while the collector is down" not_logged "export: .*dropping"
start_grpc_receiver --port "$PORT" || abort_test "receiver start"
check "receiver listens on the daemon's port" [ "$GRPC_PORT" = "$PORT" ]
check "every span arrived once the collector is up" wait_for 30 "all spans at the receiver" all_spans_arrived
stop_kt
check_summary
check "summary: spans dropped = 0" [ "$(summary_value 'spans dropped')" = 0 ]
check "recovery logged" grep -q "export succeeded after [0-9]* failed attempt(s)" "$OUT/kt.log"
check_spans "$OUT/spans.jsonl"
keep_logs phase1
stop_receiver

log "phase 2: collector answers UNAVAILABLE, then accepts"
start_grpc_receiver --unavailable-first 2 --unavailable-for 2500 || abort_test "receiver start"
start_sink "$GRPC_URL" --exporter otlp-grpc || abort_test "setup"
check "relay sent every stream" run_relay --max-chunk 65536
write_manifest
check "every span arrived after the UNAVAILABLE answers" wait_for 30 "all spans at the receiver" all_spans_arrived
stop_kt
check_summary
check "summary: spans dropped = 0" [ "$(summary_value 'spans dropped')" = 0 ]
check "receiver answered UNAVAILABLE" grep -q "answering UNAVAILABLE" "$OUT/grpc-receiver.log"
check "UNAVAILABLE logged with its message as retried" \
	grep -q "UNAVAILABLE (14): collector starting (--unavailable-first) (will retry)" "$OUT/kt.log"
check_spans "$OUT/spans.jsonl"
keep_logs phase2
stop_receiver

log "phase 3: collector answers INVALID_ARGUMENT"
start_grpc_receiver --status INVALID_ARGUMENT --message 'span limit: 100% over, ünïcode' ||
	abort_test "receiver start"
PORT=$GRPC_PORT
# One batch for the whole first round, however slowly the relay's streams are
# decoded: the test counts exactly that batch as dropped.
start_sink "$GRPC_URL" --batch-timeout 3000 || abort_test "setup"
check "relay sent every stream" run_relay --max-chunk 65536
check "the batch is dropped as a permanent failure" \
	wait_for 30 "the drop" grep -q "export: otlp-grpc: permanent failure: dropping" "$OUT/kt.log"
check "status and decoded message logged with the endpoint" \
	grep -q "error: otlp-grpc: $GRPC_URL: INVALID_ARGUMENT (3): span limit: 100% over, ..n..code" "$OUT/kt.log"
check "daemon keeps running after the failure" kt_alive
stop_receiver
start_grpc_receiver --port "$PORT" || abort_test "receiver restart"
check "relay sent every stream again" run_relay --max-chunk 65536
write_manifest
check "the next spans arrive once the collector accepts them" \
	wait_for 30 "all spans at the receiver" all_spans_arrived
stop_kt
check "exit status 0" [ "$KT_RC" = 0 ]
check "summary: spans dropped = $EXPECTED_SPANS" [ "$(summary_value 'spans dropped')" = "$EXPECTED_SPANS" ]
check "summary: spans exported = $EXPECTED_SPANS" [ "$(summary_value 'spans exported')" = "$EXPECTED_SPANS" ]
check_spans "$OUT/spans.jsonl"
keep_logs phase3
log "total $((SECONDS - t0))s"
finish
