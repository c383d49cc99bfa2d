#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Degraded mode without BPF: the sink's own reads feed the pipeline. Stopped
# with SIGINT (the other tests use SIGTERM): same flush and summary.
. "$(dirname "$0")/lib.sh"
log "sink mode + socket capture (no BPF) + OTLP/HTTP"
make_workload || abort_test "workload generation"
start_receiver || abort_test "setup"
start_kt --capture socket --socket-path "$UDS_CLH" --socket-path "$UDS_FC" --run-root "$RUN_ROOT" \
	--otlp-endpoint "$RECV_URL" --batch-timeout 200 || abort_test "setup"
check "no BPF program loaded" bash -c "! grep -q 'attached with' '$OUT/kt.log'"
check "relay sent every stream" run_relay --max-chunk 9000
write_manifest
check "every span reached the receiver before shutdown" wait_for 30 "all spans at the receiver" all_spans_arrived
stop_kt INT
check_summary
check_spans "$OUT/spans.jsonl"
finish
