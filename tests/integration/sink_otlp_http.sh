#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Sink mode: katatrace-bpf itself binds <uds>_10240 for each --socket-path,
# drains every concurrent connection, and the spans come from the BPF
# capture; exported over OTLP/HTTP to the independent receiver, which
# answers the first request 503 with Retry-After: 2: the next attempt waits
# those 2 s instead of the 100 ms backoff.
. "$(dirname "$0")/lib.sh"
log "sink mode + BPF capture + OTLP/HTTP"
make_workload || abort_test "workload generation"
start_receiver --fail-first 1 --retry-after 2 || abort_test "setup"
start_kt --mode sink --socket-path "$UDS_CLH" --socket-path "$UDS_FC" --run-root "$RUN_ROOT" \
	--otlp-endpoint "$RECV_URL" --batch-timeout 200 || abort_test "setup"
sink_round
check "the collector's Retry-After: the next attempt in 2000 ms" \
	grep -q "export: otlp-http: next attempt for [0-9]* spans in 2000 ms (the collector's Retry-After)" "$OUT/kt.log"
check_spans "$OUT/spans.jsonl"
finish
