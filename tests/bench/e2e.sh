#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# End-to-end figures with the real daemon (root, BPF), each beside its
# baseline in the same run, printed as rows for tests/bench/bench.sh
# (tests/bench/bench_util.h has the format):
#
#  decode  katatrace-bpf decode of SPANS realistic JSON spans (one framed
#          file, tests/bench/spangen.c) to OTLP/JSON, beside the decoder
#          alone on the same frames in process (bench_decode --file)
#  sink    sink mode, BPF capture, file exporter: one connection writes the
#          stream in 4 KiB write(2)s (stream_writer) to <uds>_10240; spans/s
#          and MB/s from the connect to the last span exported (the metrics'
#          katatrace_spans_exported_total), records lost; beside a plain
#          drain (tests/tools/sock-drain) of the same stream, same chunks
#  tap     the daemon in --mode tap beside that plain drain: records lost,
#          spans exported of SPANS, the writer's MB/s beside the plain drain
#          without the daemon
#  pss     PSS (smaps_rollup) of the daemon and its broker with no sandbox,
#          then with SANDBOXES idle sandboxes (Cloud Hypervisor layout, each
#          hybrid-vsock socket bound and its trace connection open and
#          silent: tests/bench/idle_hv.c)
#
# Rounds interleave (drain, sink, tap, drain, sink, tap, ...); throughput is
# the best round, losses the worst round.
#
# Usage: tests/bench/e2e.sh   (env: BENCH_SPANS=100000 BENCH_ROUNDS=3
#                              BENCH_SANDBOXES=100 KEEP_OUT=1)
set -u
ROOT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT_DIR" || exit 2
KT=$ROOT_DIR/katatrace-bpf
BB=$ROOT_DIR/build/bench
DRAIN=$ROOT_DIR/build/tools/sock-drain
SPANS=${BENCH_SPANS:-100000}
ROUNDS=${BENCH_ROUNDS:-3}
SANDBOXES=${BENCH_SANDBOXES:-100}
CHUNK=4096
# Short: <run root>/run/vc/vm/<64 hex>/clh.sock_10240 must fit sun_path (108).
OUT=$(mktemp -d /tmp/kb.XXXXXX)
PIDS=()

cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	if [ -z "${KEEP_OUT:-}" ]; then rm -rf "$OUT"; else echo "e2e: files kept in $OUT"; fi
}
trap cleanup EXIT

say() { echo "  $*"; }
die() {
	echo "e2e: $*" >&2
	[ -f "$OUT/kt.log" ] && tail -n 20 "$OUT/kt.log" | sed 's/^/    kt: /' >&2
	exit 1
}
calc() { awk "BEGIN { printf \"%.6f\", $* }"; }
fmt() { awk -v v="$1" -v f="$2" 'BEGIN { printf f, v }'; }
max() { awk -v a="$1" -v b="$2" 'BEGIN { print (b > a ? b : a) }'; }
row() { # figure measured baseline ratio goal check value target
	printf 'ROW\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@"
}

wait_for() { # seconds command...
	local deadline=$((SECONDS + $1))
	shift
	until "$@" 2>/dev/null; do
		[ $SECONDS -ge $deadline ] && return 1
		sleep 0.05
	done
}

# ------------------------------------------------------------ the workload

"$BB/spangen" "$SPANS" 42 "$OUT/spans.bin" >"$OUT/spangen.log" || die "spangen failed"
BYTES=$(stat -c %s "$OUT/spans.bin")
MB=$(calc "$BYTES / 1e6")
say "$(cat "$OUT/spangen.log")"

RUN_ROOT=$OUT/r
SB=$(printf 'be%062x' 1)
mkdir -p "$RUN_ROOT/run/vc/vm/$SB"
UDS=$RUN_ROOT/run/vc/vm/$SB/clh.sock
LISTEN=${UDS}_10240

# ------------------------------------------------------------ the daemon

# The throughput runs export the agent's spans as it sent them: no sandbox
# traces (they would hold roots back, waiting for the runtime's calls that
# never come here), no VM spans (no VM); and the last, partial batch leaves
# after 20 ms instead of the default second, which would count as time the
# daemon took.
AS_SENT=(--no-collate --no-complete-traces --no-vm-spans --batch-timeout 20)

start_kt() { # name args...: starts it, waits for ' ready: ', finds its metrics URL
	local name=$1
	shift
	rm -f "$OUT/kt.log"
	"$KT" run --log-level info --run-root "$RUN_ROOT" --metrics-address 127.0.0.1:0 "$@" \
		>"$OUT/kt.out" 2>"$OUT/kt.log" &
	KT_PID=$!
	PIDS+=("$KT_PID")
	wait_for 30 grep -q ' ready: ' "$OUT/kt.log" || die "$name: the daemon did not get ready"
	METRICS=$(grep -oE 'metrics: http://[^ ]+/metrics' "$OUT/kt.log" | head -n 1 | sed 's/^metrics: //')
	[ -n "$METRICS" ] || die "$name: no metrics address in the log"
}

stop_kt() { # waits for the flush; SUMMARY is its last summary line
	kill -TERM "$KT_PID" 2>/dev/null
	local i
	for i in $(seq 1 300); do
		kill -0 "$KT_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$KT_PID" 2>/dev/null
	wait "$KT_PID" 2>/dev/null
	SUMMARY=$(grep 'katatrace-bpf summary:' "$OUT/kt.log" | tail -n 1)
}
summary_value() { echo "$SUMMARY" | grep -oE "$1 [0-9]+" | awk '{print $NF}'; }

# Waits until every span is exported or nothing moved for 5 s (one poller,
# tests/bench/wait_exported.c: a curl a poll would take CPU from the daemon);
# EXPORTED: the last count, EXPORTED_AT: the wall-clock time it was read.
wait_exported() {
	local out rc
	out=$("$BB/wait_exported" "$METRICS" "$SPANS" 5)
	rc=$?
	read -r _ EXPORTED _ EXPORTED_AT <<<"$out" # exported N at SECONDS
	EXPORTED=${EXPORTED:-0}
	[ -n "$EXPORTED_AT" ] || EXPORTED_AT=$EPOCHREALTIME
	return $rc
}

start_drain() {
	rm -f "$OUT/drain.out"
	"$DRAIN" "unix:$LISTEN" >"$OUT/drain.out" 2>&1 &
	DRAIN_PID=$!
	PIDS+=("$DRAIN_PID")
	wait_for 10 grep -q '^listening on' "$OUT/drain.out" || die "sock-drain did not listen"
}
stop_drain() {
	kill -TERM "$DRAIN_PID" 2>/dev/null
	wait "$DRAIN_PID" 2>/dev/null
	DRAINED=$(awk '/^total connections/ {print $NF}' "$OUT/drain.out")
	[ "$DRAINED" = "$BYTES" ] || die "sock-drain read ${DRAINED:-?} of $BYTES bytes"
}

write_stream() { # -> WRITER_S (connect to the listener's close), WRITER_START
	"$BB/stream_writer" "$LISTEN" "$OUT/spans.bin" "$CHUNK" >"$OUT/writer.out" 2>&1 || die "stream_writer: $(cat "$OUT/writer.out")"
	WRITER_S=$(awk '{print $5}' "$OUT/writer.out")
	WRITER_START=$(awk '{print $9}' "$OUT/writer.out")
}

# ------------------------------------------------------------ decode CLI

echo "katatrace-bpf decode of $SPANS spans ($MB MB framed), best of $ROUNDS interleaved rounds:"
best_cli=1e9 best_inproc=1e9
for r in $(seq 1 "$ROUNDS"); do
	t0=$EPOCHREALTIME
	"$KT" decode "$OUT/spans.bin" >"$OUT/decode.jsonl" 2>"$OUT/decode.log" || die "decode failed: $(tail -n 3 "$OUT/decode.log")"
	t=$(calc "$EPOCHREALTIME - $t0")
	best_cli=$(awk -v a="$best_cli" -v b="$t" 'BEGIN { print (b < a ? b : a) }')
	s=$("$BB/bench_decode" --file "$OUT/spans.bin" | awk '{print $NF}')
	best_inproc=$(awk -v a="$best_inproc" -v b="$s" 'BEGIN { print (b < a ? b : a) }')
	say "round $r: decode CLI $(fmt "$t" %.3f) s, decoder in process $(fmt "$s" %.3f) s"
done
out_spans=$(grep -o '"spanId"' "$OUT/decode.jsonl" | wc -l)
[ "$out_spans" = "$SPANS" ] || die "decode wrote $out_spans spans, not $SPANS"
rm -f "$OUT/decode.jsonl"
cli_mbs=$(calc "$MB / $best_cli")
inproc_mbs=$(calc "$MB / $best_inproc")
row "decode CLI, $SPANS spans of 808 B to OTLP/JSON" \
	"$(fmt "$(calc "$SPANS / $best_cli / 1000")" %.0f)k spans/s, $(fmt "$cli_mbs" %.0f) MB/s" \
	"decoder in process $(fmt "$inproc_mbs" %.0f) MB/s" "$(calc "$cli_mbs / $inproc_mbs")" "-" none 0 0

# ------------------------------------------------------------ drain, sink, tap

echo "one connection, $SPANS spans in $CHUNK-byte write(2)s, $ROUNDS interleaved rounds (drain, sink, tap):"
best_drain=0 best_sink_mbs=0 best_sink_sps=0 sink_lost=0 sink_missing=0
best_tap=0 tap_lost=0 tap_min_exported=$SPANS
for r in $(seq 1 "$ROUNDS"); do
	# A plain reader that only drains, no daemon.
	start_drain
	write_stream
	stop_drain
	d=$(calc "$MB / $WRITER_S")
	best_drain=$(max "$best_drain" "$d")

	# Sink mode, BPF capture, file exporter.
	start_kt sink "${AS_SENT[@]}" --socket-path "$UDS" --output "$OUT/sink.jsonl"
	write_stream
	wait_exported || say "sink: only $EXPORTED of $SPANS spans exported"
	e2e_s=$(calc "$EXPORTED_AT - $WRITER_START")
	w_s=$WRITER_S
	stop_kt
	lost=$(summary_value 'lost records')
	exp=$(summary_value 'spans exported')
	sink_lost=$(max "$sink_lost" "${lost:-0}")
	sink_missing=$(max "$sink_missing" $((SPANS - ${exp:-0})))
	sps=$(calc "$EXPORTED / $e2e_s")
	mbs=$(calc "$MB * $EXPORTED / $SPANS / $e2e_s")
	best_sink_sps=$(max "$best_sink_sps" "$sps")
	best_sink_mbs=$(max "$best_sink_mbs" "$mbs")
	rm -f "$OUT/sink.jsonl"

	# Tap mode beside the plain drain.
	start_drain
	start_kt tap "${AS_SENT[@]}" --mode tap --output "$OUT/tap.jsonl"
	write_stream
	wait_exported || true
	stop_kt
	stop_drain
	t=$(calc "$MB / $WRITER_S")
	best_tap=$(max "$best_tap" "$t")
	tlost=$(summary_value 'lost records')
	texp=$(summary_value 'spans exported')
	tap_lost=$(max "$tap_lost" "${tlost:-0}")
	[ "${texp:-0}" -lt "$tap_min_exported" ] && tap_min_exported=${texp:-0}
	rm -f "$OUT/tap.jsonl"

	say "round $r: drain $(fmt "$d" %.0f) MB/s; sink $(fmt "$sps" %.0f) spans/s $(fmt "$mbs" %.0f) MB/s" \
		"(writer done in $(fmt "$w_s" %.3f) s, last span exported at $(fmt "$e2e_s" %.3f) s), lost records $lost, exported $exp;" \
		"tap: writer $(fmt "$t" %.0f) MB/s, lost records $tlost, exported $texp"
done
sink_ratio=$(calc "$best_sink_mbs / $best_drain")
row "sink e2e, BPF capture, file exporter" \
	"$(fmt "$(calc "$best_sink_sps / 1000")" %.0f)k spans/s, $(fmt "$best_sink_mbs" %.0f) MB/s, $sink_lost lost, $sink_missing missing" \
	"plain drain $(fmt "$best_drain" %.0f) MB/s" "$sink_ratio" \
	">= 150k spans/s, 0 lost, >= 0.10x drain" "ge,eq,eq,ge" \
	"$best_sink_sps,$sink_lost,$sink_missing,$sink_ratio" "150000,0,0,0.10"
row "tap burst: records lost, spans exported" \
	"$tap_lost lost, $tap_min_exported of $SPANS exported" "$SPANS spans sent" \
	"$(calc "$tap_min_exported / $SPANS")" "0 lost, every span exported" "eq,ge" \
	"$tap_lost,$tap_min_exported" "0,$SPANS"
row "tap burst: writer beside the daemon" "$(fmt "$best_tap" %.0f) MB/s" \
	"$(fmt "$best_drain" %.0f) MB/s without the daemon" "$(calc "$best_tap / $best_drain")" "-" none 0 0

# ------------------------------------------------------------ PSS

pss_kib() { # pids... -> the sum of their Pss (KiB)
	local p sum=0 v
	for p in "$@"; do
		v=$(awk '$1 == "Pss:" {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null)
		sum=$((sum + ${v:-0}))
	done
	echo "$sum"
}
family() { echo "$KT_PID"; pgrep -P "$KT_PID"; }
listeners() { grep -c 'sink: listening on' "$OUT/kt.log"; }

echo "PSS of the daemon and its broker (smaps_rollup), its defaults (sink mode, BPF capture):"
RUN_ROOT=$OUT/p
mkdir -p "$RUN_ROOT/run/vc/vm"
start_kt pss --output "$OUT/pss.jsonl" --stats-interval 1
sleep 2
# shellcheck disable=SC2046
PSS0=$(pss_kib $(family))
say "no sandbox: $(family | wc -l) processes, PSS $PSS0 KiB"
uds=()
for i in $(seq 1 "$SANDBOXES"); do
	id=$(printf '%064x' $((0xbe0000 + i)))
	mkdir -p "$RUN_ROOT/run/vc/vm/$id"
	uds+=("$RUN_ROOT/run/vc/vm/$id/clh.sock")
done
"$BB/idle_hv" --ready-file "$OUT/idle.ready" --timeout 60 "${uds[@]}" >"$OUT/idle.out" 2>&1 &
PIDS+=($!)
wait_for 70 test -e "$OUT/idle.ready" || die "idle sandboxes: $(cat "$OUT/idle.out")"
sleep 2
# shellcheck disable=SC2046
PSS100=$(pss_kib $(family))
stats=$(grep ' stats: ' "$OUT/kt.log" | tail -n 1)
say "$SANDBOXES idle sandboxes: $(cat "$OUT/idle.out"); PSS $PSS100 KiB; $(listeners) sink listeners logged"
[ -n "$stats" ] && say "daemon: ${stats#*stats: }"
stop_kt
row "PSS daemon + broker, $SANDBOXES idle sandboxes" "$(fmt "$(calc "$PSS100 / 1024")" %.1f) MiB" \
	"$(fmt "$(calc "$PSS0 / 1024")" %.1f) MiB with no sandbox" "$(calc "$PSS100 / $PSS0")" \
	"<= 30 MiB" le "$(calc "$PSS100 / 1024")" 30
