#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Capture limits with the real BPF programs, tap mode:
#  1. a single write larger than the per-write cap (4 MiB): the kernel
#     reports the rest as a gap; the frame it belongs to is dropped, the
#     frames around it arrive exact;
#  2. a full ring buffer: katatrace-bpf is stopped (SIGSTOP) while the
#     relay sends; records are lost and counted; after SIGCONT the same
#     connection resynchronises and every span that arrives is exact.
. "$(dirname "$0")/lib.sh"
log "per-write cap and ring buffer overflow"
LISTEN=$OUT/vm.sock_10240
socat -u "UNIX-LISTEN:$LISTEN,fork" OPEN:/dev/null &
PIDS+=($!)
wait_for 10 "socat listener" test -S "$LISTEN" || abort_test "listener"
mkdir -p "$OUT/gen"
"$TOOLS/vecgen" "$VEC" "$OUT/gen" 7 0 5120 >"$OUT/gen/list" || abort_test "vecgen"
BIG=$(awk '$1 == "json" && $2 ~ /var010/ {print $2}' "$OUT/gen/list")
check "a frame over 4 MiB was generated" [ "$(stat -c %s "$BIG")" -gt $((4 << 20)) ]

manifest() { # items...
	{ echo '{"service_name":"kata-agent","items":['; local IFS=,; echo "$*"; echo ']}'; } >"$OUT/manifest.json"
}
item() { # label era count
	printf '{"expected":"%s/expected_%s.json","era":"%s","count":%s,"origin":{"katatrace.transport":"hybrid-vsock","katatrace.socket.path":"%s","katatrace.hypervisor.pid":{"type":"i64","value":%s},"katatrace.hypervisor.comm":"hv-relay"}}' \
		"$VEC" "$1" "$2" "$3" "$LISTEN" "$(cat "$OUT/relay.pid")"
}

# ---- 1. over the per-write cap
start_receiver || abort_test "receiver"
start_kt --mode tap --otlp-endpoint "$RECV_URL" --batch-timeout 200 || abort_test "start"
check "relay wrote each file with one write(2)" \
	"$TOOLS/hv-relay" --whole-files --pid-file "$OUT/relay.pid" \
	"$LISTEN=$VEC/framed_otel017_json_worked.bin,$BIG,$VEC/framed_otel014_bincode_root.bin"
manifest "$(item worked json 1)" "$(item root bincode 1)"
EXPECTED_SPANS=2
wait_for 20 "spans" all_spans_arrived
stop_kt
check "the over-cap remainder is counted as a gap" [ "$(summary_value gaps)" -ge 1 ]
check "the log says why" grep -q 'bytes over the per-write cap' "$OUT/kt.log"
check "no decode error: the damaged frame is dropped, not decoded" [ "$(summary_value 'decode errors')" = 0 ]
check_spans "$OUT/spans.jsonl"

# ---- 2. ring buffer overflow
kill "$RECV_PID"
start_receiver || abort_test "receiver"
start_kt --mode tap --otlp-endpoint "$RECV_URL" --batch-timeout 200 --ring-buffer-size 64K ||
	abort_test "start"
files=()
for i in 1 2 3 4 5 6 7 8; do files+=("$VEC/framed_stream_otel017_json.bin"); done
for i in 1 2 3 4 5 6 7 8; do files+=("$VEC/framed_stream_otel014_bincode.bin"); done
kill -STOP "$KT_PID"
"$TOOLS/hv-relay" --max-chunk 16384 --pause-at 100000:4000 --pid-file "$OUT/relay.pid" \
	"$LISTEN=$(IFS=,; echo "${files[*]}")" &
RELAY=$!
sleep 2
kill -CONT "$KT_PID"
check "relay sent everything" wait $RELAY
items=()
while read -r label; do items+=("$(item "$label" json 8)" "$(item "$label" bincode 8)"); done <"$VEC/stream_order.txt"
manifest "${items[@]}"
sleep 2
stop_kt
check "lost records are counted" [ "$(summary_value 'lost records')" -gt 0 ]
check "the loss is a gap in the stream" [ "$(summary_value gaps)" -ge 1 ]
check "the stream resynchronised" grep -q 'resynchronised at a frame boundary' "$OUT/kt.log"
node "$RECV/check.js" --manifest "$OUT/manifest.json" --got "$OUT/spans.jsonl" --allow-missing 150 \
	>"$OUT/check.log" 2>&1
sed 's/^/    /' "$OUT/check.log" | tail -n 5
absorb_counts "$OUT/check.log"
finish
