#!/bin/bash
# Degraded mode without BPF: the sink's own reads feed the pipeline.
. "$(dirname "$0")/lib.sh"
log "sink mode + socket capture (no BPF) + OTLP/HTTP"
make_workload || exit 1
start_receiver || finish
start_kt --capture socket --socket-path "$UDS_CLH" --socket-path "$UDS_FC" --run-root "$RUN_ROOT" \
	--otlp-endpoint "$RECV_URL" --batch-timeout 200 || finish
check "no BPF program loaded" bash -c "! grep -q 'attached with' '$OUT/kt.log'"
check "relay sent every stream" run_relay --max-chunk 9000
write_manifest
wait_for 30 "all spans at the receiver" [ "$(count_lines "$OUT/spans.jsonl")" -ge "$EXPECTED_SPANS" ]
stop_kt
check_summary
check_spans "$OUT/spans.jsonl"
finish
