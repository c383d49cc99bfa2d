#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Sink mode + BPF capture, exported over OTLP/gRPC (HTTP/2, h2c) to the
# independent gRPC receiver (@grpc/grpc-js, decoding with upstream
# OpenTelemetry code); every span compared field by field. The endpoint has
# no path and no --exporter is given: that alone must select gRPC. The
# receiver answers the first request UNAVAILABLE with a google.rpc.RetryInfo
# of 2.5 s (encoded by protobufjs): the next attempt waits those 2.5 s
# instead of the 100 ms backoff. Then it answers with a partial success,
# which must be logged, and the --otlp-headers must arrive as gRPC metadata.
. "$(dirname "$0")/lib.sh"
log "sink mode + BPF capture + OTLP/gRPC"
make_workload || abort_test "workload generation"
start_grpc_receiver --unavailable-first 1 --retry-delay 2500 --partial-success '2:two spans too old' ||
	abort_test "setup"
start_kt --mode sink --socket-path "$UDS_CLH" --socket-path "$UDS_FC" --run-root "$RUN_ROOT" \
	--otlp-endpoint "$GRPC_URL" --otlp-headers 'X-Tenant=kata%2Cnode1,empty=' \
	--batch-timeout 200 || abort_test "setup"
check "endpoint without a path selects OTLP/gRPC" grep -q "OTLP/gRPC $GRPC_URL" "$OUT/kt.log"
sink_round
check "the collector's RetryInfo: the next attempt in 2500 ms" \
	grep -q "export: otlp-grpc: next attempt for [0-9]* spans in 2500 ms (the collector's RetryInfo)" "$OUT/kt.log"
check "summary: spans dropped = 0" [ "$(summary_value 'spans dropped')" = 0 ]
check "partial success logged with the collector's message" \
	grep -q "collector rejected 2 span(s): two spans too old" "$OUT/kt.log"
check "headers sent as lower-case gRPC metadata" \
	grep -q "metadata x-tenant=kata,node1 empty=" "$OUT/grpc-receiver.log"
check "user-agent katatrace-bpf" grep -q "user-agent katatrace-bpf" "$OUT/grpc-receiver.log"
check_spans "$OUT/spans.jsonl"
finish
