#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The plain capture programs on a kernel that has their variants
# (docs/capture.md, "Program variants"): with KATATRACE_PROGRAM_VARIANTS=off
# the tracepoint send program copies through its per-CPU record, and the
# same tap-mode streams arrive as exactly as through the variant
# (tap_otlp_http.sh). On kernels without the variants' kfuncs the plain
# programs are what every other test runs.
. "$(dirname "$0")/lib.sh"
log "tap mode, plain capture programs (KATATRACE_PROGRAM_VARIANTS=off)"
make_workload || abort_test "workload generation"
foreign_listeners || abort_test "setup"
start_receiver || abort_test "setup"
KATATRACE_PROGRAM_VARIANTS=off start_kt --mode tap --run-root "$RUN_ROOT" \
	--otlp-endpoint "$RECV_URL" --batch-timeout 200 || abort_test "setup"
check "unix capture attached" grep -qE 'unix capture: attached with [a-z]+ strategy' "$OUT/kt.log"
check "no program variant loaded" bash -c "! grep -q 'payloads read straight into the ring buffer' '$OUT/kt.log'"
check "relay sent every stream" run_relay --max-chunk 3000
write_manifest
check "every span reached the receiver before shutdown" wait_for 30 "all spans at the receiver" all_spans_arrived
stop_kt
check_summary
check_spans "$OUT/spans.jsonl"
finish
