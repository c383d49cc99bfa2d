#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Takeover under load (docs/takeover.md): 20 sandboxes' agents stream
# realistic spans through their hypervisors' hybrid-vsock sockets at a steady
# 5,000 spans/s in all while the running daemon is replaced twice by
# `run --takeover`, the first time with the collector down (the spans wait in
# the spool, which the new daemon takes over with everything else). Between
# the two, a new daemon that gives up halfway (tests/tools/takeover-abort.py)
# and one with another --mode are refused or rolled back: the daemon serving
# serves on. The second daemon, as in a pod (--after-handover wait), waits
# for its stop signal once taken over. Every relay writes its whole stream without an error (no EPIPE,
# no ECONNRESET: no connection was closed), and the collector receives every
# span exactly once.
. "$(dirname "$0")/../integration/lib.sh"
SANDBOXES=${SANDBOXES:-20}
SPANS_PER_SECOND=${SPANS_PER_SECOND:-5000}
SECONDS_OF_LOAD=${SECONDS_OF_LOAD:-24}
PER=$((SPANS_PER_SECOND * SECONDS_OF_LOAD / SANDBOXES))
N=$((PER * SANDBOXES))
BB=$ROOT_DIR/build/bench
log "fault: takeovers under load: $SANDBOXES sandboxes, $SPANS_PER_SECOND spans/s, $N spans"

CTL=$OUT/control.sock
opts=(--no-discovery --no-vm-spans --control-socket "$CTL" --batch-timeout 200
	--spool-dir "$OUT/spool" --metrics-address 127.0.0.1:0)
for i in $(seq 1 "$SANDBOXES"); do
	# spangen seeds its generator with SEED | 1: odd seeds, each its own spans
	"$BB/spangen" "$PER" "$((1001 + 2 * i))" "$OUT/spans$i.bin" >/dev/null || abort_test "spangen"
	opts+=(--socket-path "$OUT/hv$i.sock")
done
BYTES=$(stat -c %s "$OUT/spans1.bin")

# A daemon of its own: log OUT/kt-NAME.log, pid in the variable DAEMON_NAME.
daemon() { # name args...
	local name=$1
	shift
	"$KT" run --log-level debug --no-collate --no-complete-traces "$@" \
		>"$OUT/kt-$name.out" 2>"$OUT/kt-$name.log" &
	printf -v "DAEMON_$name" '%s' "$!"
	PIDS+=("$!")
}
ready() { grep -q ' ready: ' "$OUT/kt-$1.log"; }
metrics_of() { sed -n 's|.* metrics: http://\([0-9.]*:[0-9]*\)/metrics.*|\1|p' "$OUT/kt-$1.log" | head -n 1; }
metric() { curl -s --max-time 5 "http://$METRICS/metrics" | awk -v n="$1" '$1 == n { print $2 }'; }
# The distinct vsock capture programs (kt_vs_*) among the program ids on
# stdin: their ids, one a line.
vsock_progs() {
	local id
	for id in $(sort -un); do
		bpftool -j prog show id "$id" 2>/dev/null | grep -q '"name":"kt_vs_' && echo "$id"
	done
}
# Those a process's descriptors hold (pid), by link or by the program itself.
vsock_held() {
	local f
	for f in /proc/"$1"/fdinfo/*; do
		awk '$1 == "prog_id:" { print $2 }' "$f" 2>/dev/null
	done | vsock_progs
}
# Those linked anywhere on the node.
vsock_linked() {
	bpftool -j link show 2>/dev/null | node -e \
		'for (const l of JSON.parse(require("fs").readFileSync(0, "utf8"))) console.log(l.prog_id)' |
		vsock_progs
}
# Those in a unix capture's tail slots (bpf/vsock_tail.h) anywhere on the node.
vsock_tailed() {
	local id
	for id in $(bpftool -j map show 2>/dev/null | node -e \
		'for (const m of JSON.parse(require("fs").readFileSync(0, "utf8")))
			if (m.type === "prog_array" && /^vsock_tail_/.test(m.name)) console.log(m.id)'); do
		bpftool -j map dump id "$id" 2>/dev/null | node -e \
			'for (const e of JSON.parse(require("fs").readFileSync(0, "utf8"))) console.log(e.formatted.value)'
	done | vsock_progs
}
# Those the capture runs: linked, or reached by tail call.
vsock_running() { { vsock_linked; vsock_tailed; } | sort -n; }
count() { "$@" | wc -l; }
exit_status() { # pid: waits for it
	local i
	for i in $(seq 1 600); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
	wait "$1"
}

# The collector is down at first: a port taken once, then left closed.
start_receiver || abort_test "setup"
PORT=$(cat "$OUT/port")
kill "$RECV_PID"
wait "$RECV_PID" 2>/dev/null

daemon one --otlp-endpoint "$RECV_URL" "${opts[@]}"
wait_for 30 "the first daemon" ready one || { tail -n 30 "$OUT/kt-one.log"; abort_test "setup"; }
METRICS=$(metrics_of one)

for i in $(seq 1 "$SANDBOXES"); do
	"$BB/stream_writer" "$OUT/hv$i.sock_10240" "$OUT/spans$i.bin" 4096 \
		"$((BYTES / SECONDS_OF_LOAD))" >"$OUT/writer$i.out" 2>&1 &
	WRITERS+=("$!")
done
sleep 4

# vsock capture (tracepoint programs here, with no vsock transport loaded) is the
# broker's: it attaches it anew when a transport appears, so the daemon keeps no copy.
VS_RUNNING=$(vsock_running)
VS_COUNT=$(grep -c . <<<"$VS_RUNNING")
check "vsock capture is attached ($VS_COUNT programs)" [ "$VS_COUNT" -ge 1 ]
check "... held by the broker" [ "$(vsock_held "$(pgrep -P "$DAEMON_one" | head -n 1)")" = "$VS_RUNNING" ]
check "... not by the daemon" [ "$(count vsock_held "$DAEMON_one")" = 0 ]
# Where both captures use the tracepoints, the vsock capture's programs are
# reached by tail call from the unix capture's: one program a tracepoint.
if grep -q 'unix capture: attached with tracepoint' "$OUT/kt-one.log" &&
	grep -q 'vsock capture: attached with tracepoint' "$OUT/kt-one.log"; then
	check "... reached by tail call from the unix capture's programs" \
		grep -q 'vsock capture: attached .*by tail call' "$OUT/kt-one.log"
	check "... in its tail slots" [ "$(vsock_tailed)" = "$VS_RUNNING" ]
	check "... and linked nowhere" [ "$(count vsock_linked)" = 0 ]
fi

# 1. Refused: another mode. The new daemon exits 1, the running one serves on.
daemon tap --mode tap --takeover --otlp-endpoint "$RECV_URL" "${opts[@]}"
exit_status "$DAEMON_tap"
check "a takeover asking for another --mode: the new daemon exits 1" [ $? = 1 ]
check "... and says the running daemon refused" grep -q 'takeover: refused: --mode tap asked' "$OUT/kt-tap.log"
check "... which serves on" kill -0 "$DAEMON_one"
check "... and counts the refusal in its metrics" \
	[ "$(metric 'katatrace_takeovers_total{result="refused"}')" = 1 ]

# 2. The daemon taken over, the collector still down: the spool goes along.
daemon two --takeover --after-handover wait --otlp-endpoint "$RECV_URL" "${opts[@]}"
check "the second daemon took over and is ready" wait_for 30 "the second daemon" ready two
exit_status "$DAEMON_one"
check "the first daemon exits 0 after handing over" [ $? = 0 ]
check "... having handed over every connection" \
	grep -qE "takeover: pid $DAEMON_two committed: $SANDBOXES connections" "$OUT/kt-one.log"
check "the second daemon adopted the BPF programs (nothing detached, nothing attached twice)" \
	grep -q 'BPF maps and links adopted' "$OUT/kt-two.log"
check "... the broker's vsock capture among them: the second daemon holds its programs" \
	[ "$(vsock_held "$DAEMON_two")" = "$VS_RUNNING" ]
check "... and only they run, the first broker gone (nothing attached twice)" \
	[ "$(vsock_running)" = "$VS_RUNNING" ]
check "... the metrics listener" grep -q 'metrics: http://127.0.0.1:[0-9]*/metrics.*(taken over)' "$OUT/kt-two.log"
METRICS=$(metrics_of one)
check "the metrics answer from the second daemon on the same address" \
	wait_for 10 "the metrics" bash -c "curl -s --max-time 5 http://$METRICS/metrics | grep -q '^katatrace_'"
sleep 2

# 3. A new daemon that gives up halfway: the second one takes everything back.
check "a new daemon that goes away before its commit was offered the descriptors" \
	python3 "$ROOT_DIR/tests/tools/takeover-abort.py" "$CTL" sink
check "... the daemon serving says so and serves on" \
	wait_for 10 "the rollback" grep -q 'takeover by pid 4242 failed: .*serves on' "$OUT/kt-two.log"
check "... still running" kill -0 "$DAEMON_two"
check "... and counts the failed takeover in its metrics" \
	[ "$(metric 'katatrace_takeovers_total{result="failed"}')" = 1 ]

# The collector comes back; then the third daemon takes over.
start_receiver --port "$PORT" || abort_test "the collector back on port $PORT"
sleep 2
daemon three --takeover --otlp-endpoint "$RECV_URL" "${opts[@]}"
check "the third daemon took over and is ready" wait_for 30 "the third daemon" ready three
check "the second daemon (--after-handover wait) hands over, then waits" \
	wait_for 30 "the second daemon to wait" grep -q 'handed over; waiting for a stop signal' "$OUT/kt-two.log"
sleep 1
check "... still running" kill -0 "$DAEMON_two"
kill -TERM "$DAEMON_two"
exit_status "$DAEMON_two"
check "... and exits 0 when told to stop" [ $? = 0 ]

fail=0
for i in "${!WRITERS[@]}"; do
	wait "${WRITERS[$i]}" || fail=$((fail + 1))
done
check "every relay wrote its whole stream, and the listener read it to its end: $SANDBOXES of $SANDBOXES" [ "$fail" = 0 ]
check "no relay saw EPIPE or ECONNRESET" bash -c "! grep -l 'Broken pipe\|reset by peer\|write:' '$OUT'/writer*.out"
arrived() { [ "$(count_lines "$OUT/spans.jsonl")" -ge "$N" ]; }
check "every span reached the collector" wait_for 120 "$N spans at the receiver" arrived
kill -TERM "$DAEMON_three"
exit_status "$DAEMON_three"
check "the third daemon exits 0" [ $? = 0 ]
sleep 1
got=$(count_lines "$OUT/spans.jsonl")
unique=$(grep -o '"traceId":"[0-9a-f]*","spanId":"[0-9a-f]*"' "$OUT/spans.jsonl" | sort -u | wc -l)
check "the collector got exactly $N spans ($got)" [ "$got" = "$N" ]
check "each one once: $unique distinct trace and span ids" [ "$unique" = "$N" ]
lost=0
for n in one two three; do
	l=$(grep 'katatrace-bpf summary:' "$OUT/kt-$n.log" | tail -n 1 | grep -oE 'spans dropped [0-9]+' | awk '{print $NF}')
	lost=$((lost + ${l:-0}))
done
check "no daemon dropped a span" [ "$lost" = 0 ]
finish
