#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Drop-in for kata-trace-forwarder: the command lines of Kata's tracing
# documentation, verbatim, with katatrace-bpf in the forwarder's place (also
# installed under that name). Default export: OTLP/gRPC to
# http://localhost:4317, where the independent gRPC receiver listens; the
# spans are compared field by field. --dump-only prints them instead.
. "$(dirname "$0")/lib.sh"
log "kata-trace-forwarder command lines, verbatim"

sandbox_id="foo-kt$$"
socket_path_template=/run/vc/vm/{ID}/clh.sock
socket_path=$(echo "$socket_path_template" | sed "s/{ID}/${sandbox_id}/g" | tr -d '"')
mkdir -p "$(dirname "$socket_path")"
cleanup_run() { rm -rf "/run/vc/vm/$sandbox_id"; }
trap 'cleanup_run; cleanup' EXIT
ln -sf "$KT" "$OUT/kata-trace-forwarder"

relay() {
	"$TOOLS/hv-relay" --seed 7 --max-chunk 900 --pid-file "$OUT/relay.pid" \
		"${socket_path}_10240=$VEC/framed_stream_otel017_json.bin" \
		"${socket_path}_10240=$VEC/framed_stream_otel014_bincode.bin"
}
manifest() {
	local origin
	origin=$(printf '{"katatrace.transport":"hybrid-vsock","katatrace.socket.path":"%s_10240","katatrace.sandbox.id":"%s","katatrace.hypervisor.name":"cloud-hypervisor","katatrace.hypervisor.pid":{"type":"i64","value":%s},"katatrace.hypervisor.comm":"hv-relay"}' \
		"$socket_path" "$sandbox_id" "$(cat "$OUT/relay.pid")")
	{
		echo '{"service_name":"kata-agent","items":['
		local sep="" label
		while read -r label; do
			printf '%s{"expected":"%s/expected_%s.json","era":"json","count":1,"origin":%s}\n' "$sep" "$VEC" "$label" "$origin"
			sep=","
			printf '%s{"expected":"%s/expected_%s.json","era":"bincode","count":1,"origin":%s}\n' "$sep" "$VEC" "$label" "$origin"
		done <"$VEC/stream_order.txt"
		echo ']}'
	} >"$OUT/manifest.json"
}
EXPECTED_SPANS=$((2 * $(wc -l <"$VEC/stream_order.txt")))

# 1. "sudo kata-trace-forwarder --trace-name kata-agent --socket-path $socket_path"
start_grpc_receiver --port 4317 || abort_test "an OTLP/gRPC receiver on port 4317"
launch_kt "$OUT/kata-trace-forwarder" --trace-name kata-agent --socket-path "$socket_path" ||
	abort_test "setup"
check "the forwarder-style start exports to OTLP/gRPC http://localhost:4317" \
	grep -q 'exporting to OTLP/gRPC http://localhost:4317' "$OUT/kt.log"
check "it listens on the socket path + _10240" test -S "${socket_path}_10240"
check "relay sent both streams" relay
manifest
check "every span reached the collector" wait_for 30 "all spans at the receiver" all_spans_arrived
stop_kt
check "exit status 0 after SIGTERM" [ "$KT_RC" = 0 ]
check "summary: spans exported = $EXPECTED_SPANS" [ "$(summary_value 'spans exported')" = "$EXPECTED_SPANS" ]
check "the listener socket is removed on exit" test ! -e "${socket_path}_10240"
check_spans "$OUT/spans.jsonl"
stop_receiver

# 2. "kata-trace-forwarder --dump-only --socket-path ...": spans on stdout, nothing sent
launch_kt "$KT" --dump-only --trace-name kata-agent --socket-path "$socket_path" -l debug ||
	abort_test "setup (--dump-only)"
check "relay sent both streams (--dump-only)" relay
check "--dump-only prints every span on stdout" \
	wait_for 20 "$EXPECTED_SPANS console lines" bash -c "[ \$(grep -c ' trace=' '$OUT/kt.out') -ge $EXPECTED_SPANS ]"
stop_kt
check "--dump-only: exit status 0" [ "$KT_RC" = 0 ]

# 3. QEMU: no options at all (vsock listener where the host has vsock); flags' edge cases
launch_kt "$KT" || abort_test "setup (no options)"
check "no options: runs and stops cleanly" stop_kt
check "no options: exit status 0" [ "$KT_RC" = 0 ]
launch_kt "$OUT/kata-trace-forwarder" --vsock-cid any --vsock-port 10240 -l info --dump-only ||
	abort_test "setup (--vsock-cid any)"
stop_kt
check "--vsock-cid any --vsock-port 10240 -l info: exit status 0" [ "$KT_RC" = 0 ]
for level in critical error warning warn info debug trace; do
	check "--log-level $level is accepted" bash -c "\"$OUT/kata-trace-forwarder\" --log-level $level --version >/dev/null"
done
"$OUT/kata-trace-forwarder" --version >"$OUT/version" 2>&1
check "--version" grep -q '^katatrace-bpf ' "$OUT/version"
"$OUT/kata-trace-forwarder" --vsock-port 0 >/dev/null 2>"$OUT/bad.err"
check "a bad flag value: exit 2 naming the flag" bash -c "[ $? = 2 ] && grep -q -- '--vsock-port' '$OUT/bad.err'"
finish
