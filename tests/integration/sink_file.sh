#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Sink mode with the file exporter (OTLP/JSON lines). The batch timeout is
# far longer than the test, so every span in the file was written by the
# flush on SIGTERM. The receiver's upstream protobufjs root parses the lines.
. "$(dirname "$0")/lib.sh"
log "sink mode + BPF capture + file exporter, flushed on SIGTERM"
make_workload || abort_test "workload generation"
start_kt --socket-path "$UDS_CLH" --socket-path "$UDS_FC" --run-root "$RUN_ROOT" \
	--output "$OUT/spans.otlp.jsonl" --batch-timeout 600000 || abort_test "setup"
check "relay sent every stream" run_relay --max-chunk 1500
write_manifest
sleep 0.5
check "nothing exported before SIGTERM (batch timeout not reached)" \
	[ "$(count_lines "$OUT/spans.otlp.jsonl")" = 0 ]
stop_kt
check_summary
check "one ExportTraceServiceRequest per line" \
	node -e 'for (const l of require("fs").readFileSync(process.argv[1],"utf8").split("\n").filter(Boolean)) { const o = JSON.parse(l); if (!Array.isArray(o.resourceSpans)) process.exit(1); }' "$OUT/spans.otlp.jsonl"
node "$RECV/otlpjson.js" "$OUT/spans.otlp.jsonl" --out "$OUT/spans.jsonl" >"$OUT/otlpjson.log" 2>&1
check "OTLP/JSON lines parse with the upstream root" [ $? = 0 ]
check_spans "$OUT/spans.jsonl"
finish
