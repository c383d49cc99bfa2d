#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The independent checker must itself be able to fail: run the receiver's
# self-test (real exporters -> upstream decoders -> check.js passes; wrong
# expectations and tampered spans are each reported).
. "$(dirname "$0")/lib.sh"
log "OTLP checker self-test"
bash "$RECV/selftest/run.sh" "$TOOLS/export_expected" >"$OUT/selftest.log" 2>&1
rc=$?
grep -E '^(ok|FAIL):' "$OUT/selftest.log" | sed 's/^/    /' | tail -n 40
PASSED=$((PASSED + $(grep -c '^ok:' "$OUT/selftest.log")))
FAILED=$((FAILED + $(grep -c '^FAIL:' "$OUT/selftest.log")))
check "self-test exit status" [ $rc = 0 ]
finish
