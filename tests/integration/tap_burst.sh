#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Tap mode under a burst (docs/capture.md, "Draining the ring buffer"):
#  1. BURST spans (100000 by default) written back to back in chunks of up
#     to 4 KiB on one connection beside a foreign reader: the drain empties
#     the ring buffer into the burst buffer as fast as it fills, so no
#     record is lost and every span is exported, each compared field by
#     field by the independent receiver's checker;
#  2. a burst buffer made small on purpose (--burst-buffer 64K): while the
#     daemon is stopped (SIGSTOP) the ring buffer holds what the relay
#     writes; once it runs again, what does not fit in the burst buffer is
#     dropped and counted, a gap in that connection's stream, which
#     resynchronises; the spans the relay writes after that still arrive,
#     and the daemon keeps running.
. "$(dirname "$0")/lib.sh"
BURST=${BURST:-100000}
log "tap mode: a burst of $BURST spans, and a burst buffer too small"
LISTEN=$OUT/vm.sock_10240
socat -u "UNIX-LISTEN:$LISTEN,fork" OPEN:/dev/null &
PIDS+=($!)
wait_for 10 "socat listener" test -S "$LISTEN" || abort_test "listener"

manifest() { # items...
	{ echo '{"service_name":"kata-agent","items":['; local IFS=,; echo "$*"; echo ']}'; } >"$OUT/manifest.json"
}
item() { # label era count
	printf '{"expected":"%s/expected_%s.json","era":"%s","count":%s,"origin":{"katatrace.transport":"hybrid-vsock","katatrace.socket.path":"%s","katatrace.hypervisor.pid":{"type":"i64","value":%s},"katatrace.hypervisor.comm":"hv-relay"}}' \
		"$VEC" "$1" "$2" "$3" "$LISTEN" "$(cat "$OUT/relay.pid")"
}
# The counters of a SIGHUP dump: "name value  # description".
counter() { # name
	kill -HUP "$KT_PID"
	wait_for 5 "the counters" grep -q "^$1 " "$OUT/kt.log" || return 1
	grep "^$1 " "$OUT/kt.log" | tail -n 1 | awk '{print $2}'
}
# n copies of a framed span, one file
repeat() { # file n out
	local f=$1 n=$2 i
	: >"$3"
	# doubling: a few dozen appends for any n
	cp "$f" "$OUT/rep.1"
	local have=1
	while [ $((have * 2)) -le "$n" ]; do
		cat "$OUT/rep.$have" "$OUT/rep.$have" >"$OUT/rep.$((have * 2))"
		have=$((have * 2))
	done
	i=$n
	local k=$have
	while [ "$i" -gt 0 ]; do
		while [ "$k" -gt "$i" ]; do k=$((k / 2)); done
		cat "$OUT/rep.$k" >>"$3"
		i=$((i - k))
	done
	rm -f "$OUT"/rep.*
}

# ---- 1. a burst, nothing lost
repeat "$VEC/framed_otel017_json_error.bin" "$BURST" "$OUT/burst.bin"
check "the burst file holds $BURST framed spans" \
	[ "$(stat -c %s "$OUT/burst.bin")" = $((BURST * $(stat -c %s "$VEC/framed_otel017_json_error.bin"))) ]
start_receiver || abort_test "receiver"
# the spans wait for export in the queue and the budget: room for all of them
start_kt --mode tap --otlp-endpoint "$RECV_URL" --batch-size 4096 --batch-timeout 200 \
	--queue-size $((BURST + 1000)) --memory-budget 2G || abort_test "start"
check "relay wrote the burst in chunks of up to 4 KiB" \
	"$TOOLS/hv-relay" --max-chunk 4096 --pid-file "$OUT/relay.pid" "$LISTEN=$OUT/burst.bin"
manifest "$(item error json "$BURST")"
EXPECTED_SPANS=$BURST
wait_for 300 "$BURST spans at the receiver" all_spans_arrived
check "no capture record dropped by the burst buffer" [ "$(counter burst_dropped)" = 0 ]
stop_kt
check "exit status 0" [ "$KT_RC" = 0 ]
check "summary: no lost records" [ "$(summary_value 'lost records')" = 0 ]
check "summary: no gaps" [ "$(summary_value gaps)" = 0 ]
check "summary: spans exported = $BURST" [ "$(summary_value 'spans exported')" = "$BURST" ]
check_spans "$OUT/spans.jsonl"

# ---- 2. a burst buffer too small: loss counted, the stream resynchronises
stop_receiver
start_receiver || abort_test "receiver"
start_kt --mode tap --otlp-endpoint "$RECV_URL" --batch-timeout 200 --burst-buffer 64K ||
	abort_test "start"
# 4000 spans (3.3 MB: well within the 16 MiB ring buffer), then, after a
# pause, two spans of their own that fit any burst buffer
repeat "$VEC/framed_otel017_json_error.bin" 4000 "$OUT/first.bin"
FIRST=$(stat -c %s "$OUT/first.bin")
kill -STOP "$KT_PID"
"$TOOLS/hv-relay" --max-chunk 4096 --pause-at "$FIRST:5000" --pid-file "$OUT/relay.pid" \
	"$LISTEN=$OUT/first.bin,$VEC/framed_otel017_json_worked.bin,$VEC/framed_otel017_json_root.bin" &
RELAY=$!
# its connection's thread sleeps once the first part is written (in the ring buffer)
relay_paused() { grep -qs nanosleep /proc/"$RELAY"/task/*/wchan; }
check "the relay wrote the first part while the daemon was stopped" \
	wait_for 30 "the relay's pause" relay_paused
kill -CONT "$KT_PID"
check "relay sent everything" wait $RELAY
# the last two spans come after the loss: they must arrive
last_arrived() { [ "$(grep -c '"name":"\(CreateContainer\|root-span\)"' "$OUT/spans.jsonl" 2>/dev/null)" -ge 2 ]; }
check "the spans written after the loss arrived" wait_for 60 "the last spans" last_arrived
DROPPED=$(counter burst_dropped)
check "records dropped by the burst buffer are counted ($DROPPED)" [ "${DROPPED:-0}" -gt 0 ]
# counted, not read from the log: the connection's warnings are rate-limited
# and a burst's gaps can use them all up before the first resync
RESYNCS=$(counter resyncs)
check "the stream resynchronised after the loss ($RESYNCS)" [ "${RESYNCS:-0}" -gt 0 ]
check "the daemon keeps running" kill -0 "$KT_PID"
check "the log says the burst buffer was full" grep -q 'burst buffer full' "$OUT/kt.log"
stop_kt
check "exit status 0" [ "$KT_RC" = 0 ]
check "no record lost in the kernel: the loss is the burst buffer's" [ "$(summary_value 'lost records')" = 0 ]
check "the loss is a gap in the stream" [ "$(summary_value gaps)" -ge 1 ]
check "the connection counts its own loss" \
	grep -qE "\($LISTEN\): ended with [0-9]+ gaps, [0-9]+ bytes not captured" "$OUT/kt.log"
manifest "$(item error json 4000)" "$(item worked json 1)" "$(item root json 1)"
# every span that arrived is exact; the two after the loss among them
node "$RECV/check.js" --manifest "$OUT/manifest.json" --got "$OUT/spans.jsonl" --allow-missing 2 \
	>"$OUT/check.log" 2>&1
sed 's/^/    /' "$OUT/check.log" | tail -n 5
absorb_counts "$OUT/check.log"
finish
