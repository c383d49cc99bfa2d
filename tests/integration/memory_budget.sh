#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# One memory budget for what guests make the daemon hold. 200 connections to
# one sandbox's <uds>_10240 each send a header announcing 16 MiB - 1 and
# 15 MiB of payload that never completes it (tests/tools/partial-frames.c),
# and hold on; meanwhile a second sandbox's agent sends the golden span
# stream again and again. Default caps and budget (sink mode, BPF capture):
# the sink serves 64 connections of the sandbox and hangs up on the other
# 136; the 64 would hold 960 MiB, yet the daemon's peak RSS stays under the
# budget (256 MiB) plus the baseline (the ring buffer plus 64 MiB,
# docs/operations.md), and the good sandbox loses no span.
. "$(dirname "$0")/lib.sh"
log "memory budget: 200 connections holding 15 MiB partial frames beside a good sandbox"
RUN_ROOT=$OUT/r
SB_EVIL=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
SB_GOOD=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
mkdir -p "$RUN_ROOT/run/vc/vm/$SB_EVIL" "$RUN_ROOT/run/vc/vm/$SB_GOOD"
UDS_EVIL=$RUN_ROOT/run/vc/vm/$SB_EVIL/clh.sock
UDS_GOOD=$RUN_ROOT/run/vc/vm/$SB_GOOD/clh.sock
BUDGET_MIB=256 RING_MIB=16 BASELINE_MIB=64 AFTER=3
PER_SANDBOX=64 EVIL=200 SEND=$((15 << 20))

start_kt --socket-path "$UDS_EVIL" --socket-path "$UDS_GOOD" --run-root "$RUN_ROOT" \
	--output "$OUT/spans.otlp.jsonl" --batch-timeout 200 --log-level info --stats-interval 2 ||
	abort_test "setup"
rss_kib() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status"; }
echo "  daemon RSS when ready: $(rss_kib "$KT_PID" VmRSS) KiB"

# The good sandbox: the 19 golden spans, round after round, while the
# hostile connections grow; then AFTER more rounds while they hold what the
# budget allows, which only shedding their partial frames makes room for.
good_round() { # n
	"$TOOLS/hv-relay" --seed "$1" --max-chunk 1500 --pid-file "$OUT/good.$1.pid" \
		"${UDS_GOOD}_10240=$VEC/framed_stream_otel017_json.bin" || echo "round $1 failed"
}
(
	i=0
	while [ ! -e "$OUT/evil.ready" ] && [ $i -lt 200 ]; do
		i=$((i + 1))
		good_round $i
		sleep 0.3
	done
	echo "during the attack: $i"
) >"$OUT/good.log" 2>&1 &
GOOD_PID=$!
PIDS+=("$GOOD_PID")

"$TOOLS/partial-frames" --count "$EVIL" --send "$SEND" --ready-file "$OUT/evil.ready" \
	"${UDS_EVIL}_10240" >"$OUT/evil.log" 2>&1 &
EVIL_PID=$!
PIDS+=("$EVIL_PID")
wait_for 300 "the partial frames to be sent" test -e "$OUT/evil.ready" || abort_test "attack"
cat "$OUT/evil.log" | sed 's/^/  attacker: /'
wait "$GOOD_PID"
DURING=$(awk '/^during the attack:/ {print $NF}' "$OUT/good.log")
for i in $(seq $((DURING + 1)) $((DURING + AFTER))); do good_round "$i" >>"$OUT/good.log" 2>&1; done
ROUNDS=$((DURING + AFTER))
check "the good sandbox sent $DURING rounds during the attack, $AFTER after, all whole" \
	bash -c "[ '$DURING' -ge 3 ] && ! grep -q failed '$OUT/good.log'"
sleep 1
HWM=$(rss_kib "$KT_PID" VmHWM)
LIMIT_KIB=$(((BUDGET_MIB + RING_MIB + BASELINE_MIB) << 10))
echo "  daemon peak RSS: $HWM KiB (limit $LIMIT_KIB KiB)"
kill "$EVIL_PID"
wait "$EVIL_PID"
sleep 0.5
stop_kt
check "exit status 0" [ "$KT_RC" = 0 ]
# --stats-interval: running totals while running, one summary at the exit, the budget held.
check "periodic counters say the daemon is still running" \
	grep -q '^katatrace-bpf running totals: bytes captured [0-9]' "$OUT/kt.log"
check "one exit summary, after the last running totals" \
	bash -c "[ \$(grep -c '^katatrace-bpf summary:' '$OUT/kt.log') = 1 ] &&
		grep -E '^katatrace-bpf (summary|running totals):' '$OUT/kt.log' | tail -n 1 | grep -q summary"
check "periodic stats show the budget held, at most $BUDGET_MIB MiB" bash -c "grep -oE 'memory budget: [0-9]+ of $((BUDGET_MIB << 20)) bytes held' '$OUT/kt.log' |
		awk '\$3 > $((BUDGET_MIB << 20)) {bad = 1} END {exit bad || NR == 0}'"

# What the attacker did: 64 connections kept, 136 hung up on, 15 MiB on each kept one.
kept=$((EVIL - $(grep -oE 'closed by the peer [0-9]+' "$OUT/evil.log" | awk '{print $NF}')))
sent=$(grep -oE 'payload bytes held [0-9]+' "$OUT/evil.log" | awk '{print $NF}')
check "the sink served $PER_SANDBOX of the sandbox's connections ($kept)" [ "$kept" = "$PER_SANDBOX" ]
check "15 MiB of partial frame on each of them ($sent bytes)" [ "${sent:-0}" = $((PER_SANDBOX * SEND)) ]
LIMITS=$(grep 'katatrace-bpf limits:' "$OUT/kt.log" | tail -n 1)
echo "  $LIMITS"
limit_value() { echo "$LIMITS" | grep -oE "$1 [0-9]+" | awk '{print $NF}'; }
check "the sink closed the other $((EVIL - PER_SANDBOX))" \
	[ "$(limit_value 'sink connections closed')" = $((EVIL - PER_SANDBOX)) ]
check "the daemon captured all of it (bytes captured >= $((PER_SANDBOX * SEND)))" \
	[ "$(summary_value 'bytes captured')" -ge $((PER_SANDBOX * SEND)) ]
shed=$(limit_value 'dropped'); refused=$(limit_value 'budget refusals')
check "partial frames were dropped for the budget ($shed shed, $refused refused)" \
	[ $((${shed:-0} + ${refused:-0})) -gt 0 ]
peak=$(grep -oE 'memory: peak [0-9]+' "$OUT/kt.log" | awk '{print $NF}')
in_range() { [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]; } # value lo hi
# The budget was filled (within one frame's growth) and never exceeded.
check "held bytes filled the budget and never went above it (peak $peak)" \
	in_range "${peak:-0}" $(((BUDGET_MIB - 16) << 20)) $((BUDGET_MIB << 20))
check "peak RSS $HWM KiB <= budget + ring buffer + baseline ($LIMIT_KIB KiB)" [ "$HWM" -le "$LIMIT_KIB" ]
check "no capture records lost" [ "$(summary_value 'lost records')" = 0 ]
check "no decode errors" [ "$(summary_value 'decode errors')" = 0 ]

# The good sandbox lost nothing: every span of every round, field by field.
node "$RECV/otlpjson.js" "$OUT/spans.otlp.jsonl" --out "$OUT/spans.jsonl" >"$OUT/otlpjson.log" 2>&1
check "OTLP/JSON lines parse with the upstream root" [ $? = 0 ]
grep -F "\"$SB_GOOD\"" "$OUT/spans.jsonl" >"$OUT/good.jsonl"
check "no span from the hostile sandbox" bash -c "! grep -qF '\"$SB_EVIL\"' '$OUT/spans.jsonl'"
{
	echo '{"service_name":"kata-agent","items":['
	sep=""
	for i in $(seq 1 "$ROUNDS"); do
		origin=$(printf '{"katatrace.transport":{"type":"string","value":"hybrid-vsock"},"katatrace.socket.path":{"type":"string","value":"%s"},"katatrace.sandbox.id":{"type":"string","value":"%s"},"katatrace.hypervisor.name":{"type":"string","value":"cloud-hypervisor"},"katatrace.hypervisor.pid":{"type":"i64","value":%s},"katatrace.hypervisor.comm":{"type":"string","value":"hv-relay"}}' \
			"${UDS_GOOD}_10240" "$SB_GOOD" "$(cat "$OUT/good.$i.pid")")
		while read -r label; do
			printf '%s{"expected":"%s/expected_%s.json","era":"json","count":1,"origin":%s}\n' \
				"$sep" "$VEC" "$label" "$origin"
			sep=","
		done <"$VEC/stream_order.txt"
	done
	echo ']}'
} >"$OUT/manifest.json"
node "$RECV/check.js" --manifest "$OUT/manifest.json" --got "$OUT/good.jsonl" >"$OUT/check.log" 2>&1
sed 's/^/    /' "$OUT/check.log" | tail -n 8
absorb_counts "$OUT/check.log"
finish
