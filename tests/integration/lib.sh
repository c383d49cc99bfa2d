# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# Helpers for the integration tests: real katatrace-bpf, real BPF on this
# kernel, real unix sockets, a relaying "hypervisor" process, and the
# independent OTLP receiver in tests/receiver (upstream OpenTelemetry code).
#
# A test sources this file, builds a workload, runs, and ends with
# `finish`, which prints "N passed, N failed" and exits accordingly.

set -u
ROOT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT_DIR" || exit 2
KT=$ROOT_DIR/katatrace-bpf
TOOLS=$ROOT_DIR/build/tools
VEC=$ROOT_DIR/tests/vectors
RECV=$ROOT_DIR/tests/receiver
# Short: Kata paths with 64-hex sandbox ids must stay under sun_path (108).
OUT=$(mktemp -d /tmp/kt.XXXXXX)
PASSED=0
FAILED=0
PIDS=()

log() { echo "[$(date +%T)] $*"; }

cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	if [ "$FAILED" = 0 ] && [ -z "${KEEP_OUT:-}" ]; then rm -rf "$OUT"; else echo "artifacts kept in $OUT"; fi
}
trap cleanup EXIT

# The condition is the one command after the description: in
# `check d [ ... ] && grep ...` the grep is outside check and its result is
# lost. Conditions of several commands go in a function (or check_exit).
check() { # description command...
	local what=$1
	shift
	if "$@"; then
		PASSED=$((PASSED + 1))
		echo "  ok: $what"
	else
		FAILED=$((FAILED + 1))
		echo "  FAILED: $what"
	fi
}

# An exit status and the message that must come with it, as one check.
check_exit() { # description status expected-status file fixed-string
	check "$1" exited_with "${@:2}"
}
exited_with() { [ "$1" = "$2" ] && grep -qF -- "$4" "$3"; }

# Adds the counts of a "N passed, N failed" line produced by a sub-checker.
absorb_counts() { # file
	local line
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1)
	if [ -z "$line" ]; then
		FAILED=$((FAILED + 1))
		echo "  FAILED: no result line in $1"
		return
	fi
	PASSED=$((PASSED + $(echo "$line" | awk '{print $1}')))
	FAILED=$((FAILED + $(echo "$line" | awk '{print $3}')))
}

finish() {
	echo "$PASSED passed, $FAILED failed"
	[ "$FAILED" = 0 ] && [ "$PASSED" -gt 0 ]
	exit $?
}

# A step the rest of the test depends on failed.
abort_test() { # description
	FAILED=$((FAILED + 1))
	echo "  FAILED: $1"
	[ -f "$OUT/kt.log" ] && tail -n 20 "$OUT/kt.log" | sed 's/^/    kt: /'
	finish
}

wait_for() { # seconds description command...
	local secs=$1 what=$2
	shift 2
	local deadline=$((SECONDS + secs))
	while ! "$@" 2>/dev/null; do
		if [ $SECONDS -ge $deadline ]; then
			echo "  timeout waiting for $what"
			return 1
		fi
		sleep 0.1
	done
}

start_receiver() { # extra receiver args...
	rm -f "$OUT/port" "$OUT/spans.jsonl"
	node "$RECV/receiver.js" --port-file "$OUT/port" --out "$OUT/spans.jsonl" "$@" \
		>"$OUT/receiver.log" 2>&1 &
	RECV_PID=$!
	PIDS+=("$RECV_PID")
	wait_for 20 "the OTLP receiver" test -s "$OUT/port" || return 1
	# With a path: an endpoint without one means OTLP/gRPC.
	RECV_URL="http://127.0.0.1:$(cat "$OUT/port")/v1/traces"
}

# The OTLP/gRPC receiver (tests/receiver/grpc-receiver.js), same output file.
start_grpc_receiver() { # extra receiver args (e.g. --port N)...
	rm -f "$OUT/port" "$OUT/spans.jsonl"
	node "$RECV/grpc-receiver.js" --port-file "$OUT/port" --out "$OUT/spans.jsonl" "$@" \
		>>"$OUT/grpc-receiver.log" 2>&1 &
	RECV_PID=$!
	PIDS+=("$RECV_PID")
	wait_for 20 "the OTLP/gRPC receiver" test -s "$OUT/port" || return 1
	GRPC_PORT=$(cat "$OUT/port")
	GRPC_URL="http://127.0.0.1:$GRPC_PORT"
}

stop_receiver() {
	kill "$RECV_PID" 2>/dev/null
	wait "$RECV_PID" 2>/dev/null
}

# The golden checks compare the agent's spans with what it sent: its own
# trace ids, and exactly the spans sent. Sandbox traces (collation, parents
# synthesised when a sandbox ends: trace_stitch.sh) would change both, so
# they are off unless a test sets STITCH=1.
launch_kt() { # command line...: starts it in the background and waits for its ' ready: ' line (or READY_RE)
	# The shell truncates the log in the background job: a previous run's
	# ' ready: ' must not be found before that (a stop signal would then reach
	# a daemon still starting up).
	rm -f "$OUT/kt.log"
	"$@" >"$OUT/kt.out" 2>"$OUT/kt.log" &
	KT_PID=$!
	PIDS+=("$KT_PID")
	if ! wait_for 30 "katatrace-bpf to be ready" grep -q -- "${READY_RE:- ready: }" "$OUT/kt.log"; then
		tail -n 30 "$OUT/kt.log"
		return 1
	fi
}

start_kt() { # katatrace-bpf run args...
	local stitch=(--no-collate --no-complete-traces)
	[ -n "${STITCH:-}" ] && stitch=()
	launch_kt "$KT" run --log-level debug "${stitch[@]}" "$@"
}

stop_kt() { # [signal, default TERM]; waits for the flush
	kill -"${1:-TERM}" "$KT_PID" 2>/dev/null
	local i
	for i in $(seq 1 300); do
		kill -0 "$KT_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$KT_PID" 2>/dev/null; then
		# still running 30 s after the signal: a failure, not a hang
		echo "  katatrace-bpf (pid $KT_PID) ignored SIG${1:-TERM} for 30 s: killed"
		kill -KILL "$KT_PID" 2>/dev/null
	fi
	wait "$KT_PID"
	KT_RC=$?
	SUMMARY=$(grep 'katatrace-bpf summary:' "$OUT/kt.log" | tail -n 1)
	echo "  $SUMMARY"
}

summary_value() { # "spans exported" -> number
	echo "$SUMMARY" | grep -oE "$1 [0-9]+" | awk '{print $NF}'
}

count_lines() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }

# True once the receiver has written EXPECTED_SPANS spans.
all_spans_arrived() { [ "$(count_lines "$OUT/spans.jsonl")" -ge "$EXPECTED_SPANS" ]; }

# ------------------------------------------------------------ workload
#
# Two sandboxes laid out as Kata does under $RUN_ROOT, five concurrent
# connections from one relaying process:
#   c1 -> clh sandbox: every golden span, JSON era, one stream
#   c2 -> clh sandbox: every golden span, bincode era, one stream
#   c3 -> fc sandbox:  generated spans of both eras in one stream: ids at the
#                      edges of the 64/128-bit ranges, random ids, and
#                      attributes of hundreds of KiB
#   c4 -> fc sandbox:  hostile: a good frame, a frame of garbage, a good
#                      frame, then a header announcing 2^63 bytes and one
#                      more good frame that must never be decoded
#   c5 -> clh sandbox: two golden spans (bincode values, JSON unicode)
make_workload() {
	RUN_ROOT=$OUT/r
	SB_CLH=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
	SB_FC=fc-sandbox-42
	mkdir -p "$RUN_ROOT/run/vc/vm/$SB_CLH" "$RUN_ROOT/run/vc/firecracker/$SB_FC/root"
	UDS_CLH=$RUN_ROOT/run/vc/vm/$SB_CLH/clh.sock
	UDS_FC=$RUN_ROOT/run/vc/firecracker/$SB_FC/root/kata.hvsock
	LISTEN_CLH=${UDS_CLH}_10240
	LISTEN_FC=${UDS_FC}_10240

	mkdir -p "$OUT/gen"
	"$TOOLS/vecgen" "$VEC" "$OUT/gen" "${SEED:-42}" 4 300,700 >"$OUT/gen/list" || return 1

	# hostile pieces
	printf '\x00\x00\x00\x00\x00\x00\x00\xc8' >"$OUT/garbage.bin"
	head -c 200 /dev/urandom >>"$OUT/garbage.bin"
	printf '\x80\x00\x00\x00\x00\x00\x00\x00' >"$OUT/oversize.bin"

	local c3files=() e f x
	while read -r e f x; do c3files+=("$f"); done <"$OUT/gen/list"
	C1="$LISTEN_CLH=$VEC/framed_stream_otel017_json.bin"
	C2="$LISTEN_CLH=$VEC/framed_stream_otel014_bincode.bin"
	C3="$LISTEN_FC=$(IFS=,; echo "${c3files[*]}")"
	C4="$LISTEN_FC=$VEC/framed_otel017_json_worked.bin,$OUT/garbage.bin,$VEC/framed_otel014_bincode_root.bin,$OUT/oversize.bin,$VEC/framed_otel017_json_values.bin"
	C5="$LISTEN_CLH=$VEC/framed_otel014_bincode_values.bin,$VEC/framed_otel017_json_unicode.bin"
	EXPECTED_SPANS=$((19 + 19 + ${#c3files[@]} + 2 + 2))
}

# Tap mode's foreign listener (a kata-trace-forwarder, say): socat drains
# each socket (default: the workload's two) and reads nothing into anything.
foreign_listeners() { # [socket...]
	local l socks=("$@")
	[ ${#socks[@]} = 0 ] && socks=("$LISTEN_CLH" "$LISTEN_FC")
	for l in "${socks[@]}"; do
		socat -u "UNIX-LISTEN:$l,fork" OPEN:/dev/null &
		PIDS+=($!)
	done
	for l in "${socks[@]}"; do
		wait_for 10 "socat on $l" test -S "$l" || return 1
	done
}

run_relay() { # extra hv-relay args...
	"$TOOLS/hv-relay" --seed "${SEED:-42}" --pid-file "$OUT/relay.pid" "$@" "$C1" "$C2" "$C3" "$C4" "$C5"
}

# Writes the manifest for check.js; origins use the relay's pid.
write_manifest() { # transport
	local transport=${1:-hybrid-vsock} pid label e f x
	pid=$(cat "$OUT/relay.pid")
	origin() { # listener sandbox hypervisor
		printf '{"katatrace.transport":{"type":"string","value":"%s"},"katatrace.socket.path":{"type":"string","value":"%s"},"katatrace.sandbox.id":{"type":"string","value":"%s"},"katatrace.hypervisor.name":{"type":"string","value":"%s"},"katatrace.hypervisor.pid":{"type":"i64","value":%s},"katatrace.hypervisor.comm":{"type":"string","value":"hv-relay"}}' \
			"$transport" "$1" "$2" "$3" "$pid"
	}
	local o_clh o_fc
	o_clh=$(origin "$LISTEN_CLH" "$SB_CLH" cloud-hypervisor)
	o_fc=$(origin "$LISTEN_FC" "$SB_FC" firecracker)
	{
		echo '{"service_name":"kata-agent","items":['
		local sep=""
		while read -r label; do
			printf '%s{"expected":"%s/expected_%s.json","era":"json","count":1,"origin":%s}\n' "$sep" "$VEC" "$label" "$o_clh"
			sep=","
			printf '%s{"expected":"%s/expected_%s.json","era":"bincode","count":1,"origin":%s}\n' "$sep" "$VEC" "$label" "$o_clh"
		done <"$VEC/stream_order.txt"
		while read -r e f x; do
			printf ',{"expected":"%s","era":"%s","count":1,"origin":%s}\n' "$x" "$e" "$o_fc"
		done <"$OUT/gen/list"
		printf ',{"expected":"%s/expected_worked.json","era":"json","count":1,"origin":%s}\n' "$VEC" "$o_fc"
		printf ',{"expected":"%s/expected_root.json","era":"bincode","count":1,"origin":%s}\n' "$VEC" "$o_fc"
		printf ',{"expected":"%s/expected_values.json","era":"bincode","count":1,"origin":%s}\n' "$VEC" "$o_clh"
		printf ',{"expected":"%s/expected_unicode.json","era":"json","count":1,"origin":%s}\n' "$VEC" "$o_clh"
		echo ']}'
	} >"$OUT/manifest.json"
}

# Compares what arrived with the manifest, field by field.
check_spans() { # normalized spans file
	node "$RECV/check.js" --manifest "$OUT/manifest.json" --got "$1" >"$OUT/check.log" 2>&1
	sed 's/^/    /' "$OUT/check.log" | tail -n 25
	absorb_counts "$OUT/check.log"
}

# Sink mode with katatrace-bpf already started: every stream through the
# listeners, all spans at the receiver, then the stop and the summary.
sink_round() {
	check "listeners bound" test -S "$LISTEN_CLH" -a -S "$LISTEN_FC"
	check "relay sent every stream" run_relay --max-chunk 65536
	write_manifest
	check "every span reached the receiver before shutdown" wait_for 30 "all spans at the receiver" all_spans_arrived
	stop_kt
	check "listener sockets removed on exit" test ! -e "$LISTEN_CLH" -a ! -e "$LISTEN_FC"
	check_summary
}

# The summary must account for the hostile connection exactly.
check_summary() {
	check "exit status 0 after the stop signal" [ "$KT_RC" = 0 ]
	check "summary: spans exported = $EXPECTED_SPANS" [ "$(summary_value 'spans exported')" = "$EXPECTED_SPANS" ]
	check "summary: exactly one decode error (the garbage frame)" [ "$(summary_value 'decode errors')" = 1 ]
	check "summary: no lost records" [ "$(summary_value 'lost records')" = 0 ]
	check "log names the oversize frame's connection and sandbox" \
		grep -q "sandbox $SB_FC: frame header announces 9223372036854775808 bytes" "$OUT/kt.log"
}

# A Kata pod in a fake run root, as discovery and the probe's targets find
# it: the sandbox's directories, and containerd's bundle of its sandbox
# container with the pod's CRI annotations.
fake_kata_pod() { # run-root sandbox-id namespace name
	local ctrd=$1/run/containerd/io.containerd.runtime.v2.task/k8s.io
	mkdir -p "$1/run/vc/vm/$2" "$1/run/vc/sbs/$2" "$ctrd/$2"
	cat >"$ctrd/$2/config.json" <<EOF
{"ociVersion":"1.1.0","annotations":{"io.kubernetes.cri.container-type":"sandbox","io.kubernetes.cri.sandbox-id":"$2","io.kubernetes.cri.sandbox-name":"$4","io.kubernetes.cri.sandbox-namespace":"$3","io.kubernetes.cri.sandbox-uid":"uid-$2"}}
EOF
}

# Its hypervisor, as the Go runtime's state file names it (Cloud Hypervisor).
fake_hypervisor_pid() { # run-root sandbox-id pid
	printf '{"HypervisorState":{"Pid":%s,"Type":"clh"}}\n' "$3" >"$1/run/vc/sbs/$2/persist.json"
}

# Expected log records, as tests/receiver/check-logs.js reads them: a line
# per record, attributes of an integer (ai), a string (as), a true boolean (ab).
ai() { printf '{"key":"%s","value":{"type":"i64","value":"%s"}}' "$1" "$2"; }
as() { printf '{"key":"%s","value":{"type":"string","value":"%s"}}' "$1" "$2"; }
ab() { printf '{"key":"%s","value":{"type":"bool","value":true}}' "$1"; }
rec() { # body(JSON-escaped) severityNumber severityText time attributes...
	local body=$1 num=$2 text=$3 t=$4
	shift 4
	local IFS=,
	printf '{"body":"%s","severityNumber":%s,"severityText":"%s","time":"%s","attributes":[%s]}\n' \
		"$body" "$num" "$text" "$t" "$*"
}
