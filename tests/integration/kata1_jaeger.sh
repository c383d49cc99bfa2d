#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Kata 1.x agents: Jaeger thrift compact emitBatch messages, relayed without
# framing on port 6831 (here a Firecracker sandbox's hybrid-vsock listener
# <uds>_6831, drained by sock-drain: tap mode). Three concurrent connections
# in random chunks: both golden messages back to back, a damaged stream
# (garbage between the messages: one resynchronisation), and one message.
# The spans are parsed by the upstream OTLP root and checked against
# jaeger_expected.json: ids, names, times, kinds, tags, logs, resource and
# the sandbox's attributes.
. "$(dirname "$0")/lib.sh"
log "Kata 1.x: Jaeger thrift over port 6831, tap mode"
RUN_ROOT=$OUT/r
SB=kata1-fc-7
mkdir -p "$RUN_ROOT/run/vc/firecracker/$SB/root"
L=$RUN_ROOT/run/vc/firecracker/$SB/root/kata.hvsock_6831
head -c 300 /dev/urandom >"$OUT/garbage.bin"

build/tools/sock-drain "unix:$L" >"$OUT/drain.log" 2>&1 &
PIDS+=($!)
wait_for 10 "the listener" test -S "$L" || abort_test "setup"
start_kt --mode tap --run-root "$RUN_ROOT" --output "$OUT/spans.otlp.jsonl" --batch-timeout 200 ||
	abort_test "setup"
check "relay sent every stream" "$TOOLS/hv-relay" --seed 5 --max-chunk 97 --pid-file "$OUT/relay.pid" \
	"$L=$VEC/jaeger_vsock_stream.bin" \
	"$L=$VEC/jaeger_emitbatch_compact_1.bin,$OUT/garbage.bin,$VEC/jaeger_emitbatch_compact_2.bin" \
	"$L=$VEC/jaeger_emitbatch_compact_2.bin"
sleep 1
stop_kt
check "exit status 0" [ "$KT_RC" = 0 ]
# 2 + 2 + 1 messages of one span each
check "summary: spans exported = 5" [ "$(summary_value 'spans exported')" = 5 ]
# The damaged stream is message 1, the 300 garbage bytes, message 2: one run
# skipped from the end of message 1 to the start of message 2.
L1=$(stat -c %s "$VEC/jaeger_emitbatch_compact_1.bin")
check "the damaged stream is reported and resynchronised at the next message" grep -qF \
	"$L) sandbox $SB: jaeger: bytes that are not an emitBatch message: skipped 300 bytes from stream offset $L1 before the message at stream offset $((L1 + 300))" \
	"$OUT/kt.log"
check "one report: the other streams are clean" [ "$(grep -c "sandbox $SB: jaeger: " "$OUT/kt.log")" = 1 ]
node "$RECV/otlpjson.js" "$OUT/spans.otlp.jsonl" --out "$OUT/spans.jsonl" >"$OUT/otlpjson.log" 2>&1
check "OTLP/JSON lines parse with the upstream root" [ $? = 0 ]
node "$RECV/check-jaeger.js" --expected "$VEC/jaeger_expected.json" --got "$OUT/spans.jsonl" \
	--counts 2,3 --origin "{\"katatrace.transport\":\"hybrid-vsock\",\"katatrace.socket.path\":\"$L\",\"katatrace.sandbox.id\":\"$SB\",\"katatrace.hypervisor.name\":\"firecracker\",\"katatrace.hypervisor.pid\":$(cat "$OUT/relay.pid"),\"katatrace.hypervisor.comm\":\"hv-relay\"}" \
	>"$OUT/check.log" 2>&1
sed 's/^/    /' "$OUT/check.log" | tail -n 20
absorb_counts "$OUT/check.log"
finish
