#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Node-wide operation: one daemon, no per-sandbox setup. A fake run root
# where 50 sandboxes of three layouts (Go runtime Cloud Hypervisor and
# Firecracker, runtime-rs Dragonball), each with containerd OCI bundles
# carrying CRI annotations, appear and disappear while the daemon runs;
# five exist before it starts. Each sandbox's "hypervisor" (hv-relay) binds
# its own hybrid-vsock socket and relays two spans to <uds>_10240 once
# katatrace-bpf listens there. Checked: every span arrives attributed to its
# sandbox and pod (field by field, check.js), the listeners and the fds of
# both processes return to their baseline, the daemon runs as nobody with no
# capabilities and its broker as root with a small capability set.
. "$(dirname "$0")/lib.sh"
log "node-wide discovery: 50 sandboxes appear and disappear"

N=${SANDBOXES:-50}
PRE=5
GROUP=10
RUN_ROOT=$OUT/r
BUNDLES=$RUN_ROOT/run/containerd/io.containerd.runtime.v2.task/k8s.io
mkdir -p "$RUN_ROOT/run" "$BUNDLES"
mapfile -t LABELS <"$VEC/stream_order.txt"

sb_id() { printf 'sb%02d-%08x' "$1" $((0x5eed0000 + $1 * 7919)); }
sb_layout() { # i -> "hypervisor dir uds"
	local id
	id=$(sb_id "$1")
	case $(($1 % 3)) in
	0) echo "cloud-hypervisor $RUN_ROOT/run/vc/vm/$id $RUN_ROOT/run/vc/vm/$id/clh.sock" ;;
	1) echo "firecracker $RUN_ROOT/run/vc/firecracker/$id $RUN_ROOT/run/vc/firecracker/$id/root/kata.hvsock" ;;
	2) echo "dragonball $RUN_ROOT/run/kata/$id $RUN_ROOT/run/kata/$id/root/kata.hvsock" ;;
	esac
}
bundle() { # dir annotations-json
	mkdir -p "$1"
	printf '{"ociVersion":"1.1.0","process":{"args":["/pause"]},"annotations":%s}\n' "$2" >"$1/config.json"
}

# The container manager writes the bundles before the runtime starts the VM.
sb_create() { # i
	local i=$1 id hv dir uds
	id=$(sb_id "$i")
	read -r hv dir uds <<<"$(sb_layout "$i")"
	bundle "$BUNDLES/$id" "{\"io.kubernetes.cri.container-type\":\"sandbox\",\"io.kubernetes.cri.sandbox-id\":\"$id\",\"io.kubernetes.cri.sandbox-name\":\"pod-$i\",\"io.kubernetes.cri.sandbox-namespace\":\"ns-$((i % 4))\",\"io.kubernetes.cri.sandbox-uid\":\"0000$i-uid\"}"
	bundle "$BUNDLES/ctr-$id" "{\"io.kubernetes.cri.container-type\":\"container\",\"io.kubernetes.cri.sandbox-id\":\"$id\",\"io.kubernetes.cri.container-name\":\"app-$i\",\"io.kubernetes.cri.sandbox-name\":\"pod-$i\"}"
	mkdir -p "$(dirname "$uds")"
	local a=${LABELS[$((i % ${#LABELS[@]}))]} b=${LABELS[$(((i + 7) % ${#LABELS[@]}))]}
	echo "$i $a $b" >>"$OUT/sent"
	"$TOOLS/hv-relay" --seed "$i" --max-chunk 700 --connect-timeout 30 --uds "$uds" \
		--pid-file "$OUT/relay.$i.pid" \
		"${uds}_10240=$VEC/framed_otel017_json_$a.bin,$VEC/framed_otel014_bincode_$b.bin" \
		>"$OUT/relay.$i.log" 2>&1 &
	RELAY[$i]=$!
}
# Kata removes the whole sandbox directory; containerd the bundles.
sb_remove() { # i
	local i=$1 id hv dir uds
	id=$(sb_id "$i")
	read -r hv dir uds <<<"$(sb_layout "$i")"
	rm -rf "$dir" "$BUNDLES/$id" "$BUNDLES/ctr-$id"
}
sb_wait() { # i: the relay's exit status
	wait "${RELAY[$1]}"
}

fd_count() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
status_field() { awk -v k="$2:" '$1 == k { $1 = ""; sub(/^ /, ""); print }' "/proc/$1/status"; }
last_stats() { grep ' stats: ' "$OUT/kt.log" | tail -n 1; }
stats_say() { last_stats | grep -q "$1"; }

declare -a RELAY
: >"$OUT/sent"
for i in $(seq 0 $((PRE - 1))); do sb_create "$i"; done

start_kt --run-root "$RUN_ROOT" --output "$OUT/spans.otlp.jsonl" --batch-timeout 200 \
	--stats-interval 1 || abort_test "setup"
BROKER_PID=$(pgrep -P "$KT_PID" | head -n 1)
check "a broker process runs beside the daemon" [ -n "$BROKER_PID" ]

# Least privilege, read from the kernel's view of the running processes.
check "daemon: uid and gid nobody (real, effective, saved, fs)" \
	[ "$(status_field "$KT_PID" Uid)" = "65534 65534 65534 65534" -a "$(status_field "$KT_PID" Gid)" = "65534 65534 65534 65534" ]
check "daemon: no supplementary groups" [ -z "$(status_field "$KT_PID" Groups)" ]
for set in CapInh CapPrm CapEff CapBnd CapAmb; do
	check "daemon: $set empty" [ "$(status_field "$KT_PID" $set)" = 0000000000000000 ]
done
check "daemon: no_new_privs" [ "$(status_field "$KT_PID" NoNewPrivs)" = 1 ]
check "daemon: no thread has a capability" \
	bash -c "! grep -h '^CapEff' /proc/$KT_PID/task/*/status | grep -v 0000000000000000"
check "broker: uid 0 with a reduced capability set (no CAP_SETUID, no CAP_NET_ADMIN)" \
	bash -c "eff=\$((16#$(status_field "$BROKER_PID" CapEff))); [ \$eff -ne 0 ] && [ \$((eff >> 7 & 1)) = 0 ] && [ \$((eff >> 12 & 1)) = 0 ]"
check "broker: no_new_privs" [ "$(status_field "$BROKER_PID" NoNewPrivs)" = 1 ]

pre_failed=0
for i in $(seq 0 $((PRE - 1))); do
	sb_wait "$i" || { pre_failed=$((pre_failed + 1)); echo "  relay $i: $(cat "$OUT/relay.$i.log")"; }
done
check "the sandboxes running at start are served" [ "$pre_failed" = 0 ]
for i in $(seq 0 $((PRE - 1))); do sb_remove "$i"; done
# What stays: the listeners not tied to a sandbox (AF_VSOCK where the host has it).
wait_for 20 "no sandbox left" stats_say " 0 sandboxes, [0-9]* listeners, 0 sink connections"
sleep 1.1
BASE_LISTENERS=$(last_stats | grep -oE '[0-9]+ listeners')
BASE_KT=$(fd_count "$KT_PID")
BASE_BROKER=$(fd_count "$BROKER_PID")
log "baseline: $BASE_LISTENERS, daemon $BASE_KT fds, broker $BASE_BROKER fds"
check "no listener left for the removed sandboxes (only AF_VSOCK ones)" \
	[ "$BASE_LISTENERS" = "$(grep -c 'sink: listening on vsock' "$OUT/kt.log") listeners" ]

failed_relays=0
for start in $(seq "$PRE" "$GROUP" $((N - 1))); do
	end=$((start + GROUP - 1))
	[ $end -ge "$N" ] && end=$((N - 1))
	for i in $(seq "$start" "$end"); do sb_create "$i"; done
	for i in $(seq "$start" "$end"); do
		sb_wait "$i" || { failed_relays=$((failed_relays + 1)); echo "  relay $i: $(cat "$OUT/relay.$i.log")"; }
	done
	for i in $(seq "$start" "$end"); do sb_remove "$i"; done
done
check "every sandbox's relay found its listener and sent its spans" [ "$failed_relays" = 0 ]
check "sandboxes back to none, listeners back to baseline ($BASE_LISTENERS)" \
	wait_for 20 "no sandbox left" stats_say " 0 sandboxes, $BASE_LISTENERS, 0 sink connections"
echo "    $(last_stats)"
check "daemon fds back to baseline ($BASE_KT)" wait_for 5 "daemon fds" [ "$(fd_count "$KT_PID")" = "$BASE_KT" ]
check "broker fds back to baseline ($BASE_BROKER)" [ "$(fd_count "$BROKER_PID")" = "$BASE_BROKER" ]
check "no listener socket file left" [ -z "$(find "$RUN_ROOT" -name '*_10240' 2>/dev/null)" ]

EXPECTED_SPANS=$((2 * N))
stop_kt
check "exit status 0" [ "$KT_RC" = 0 ]
check "summary: spans exported = $EXPECTED_SPANS" [ "$(summary_value 'spans exported')" = "$EXPECTED_SPANS" ]
check "summary: no decode errors, no lost records" \
	[ "$(summary_value 'decode errors')" = 0 -a "$(summary_value 'lost records')" = 0 ]
check "the broker exited with the daemon" bash -c "! kill -0 $BROKER_PID 2>/dev/null"

# Every span with its own sandbox's and pod's attributes.
{
	echo '{"service_name":"kata-agent","items":['
	sep=""
	while read -r i a b; do
		id=$(sb_id "$i")
		read -r hv dir uds <<<"$(sb_layout "$i")"
		origin=$(printf '{"katatrace.transport":"hybrid-vsock","katatrace.socket.path":"%s_10240","k8s.pod.name":"pod-%s","k8s.namespace.name":"ns-%s","k8s.pod.uid":"0000%s-uid","katatrace.k8s.container.names":"app-%s","katatrace.sandbox.id":"%s","katatrace.hypervisor.name":"%s","katatrace.hypervisor.pid":{"type":"i64","value":%s},"katatrace.hypervisor.comm":"hv-relay"}' \
			"$uds" "$i" $((i % 4)) "$i" "$i" "$id" "$hv" "$(cat "$OUT/relay.$i.pid")")
		printf '%s{"expected":"%s/expected_%s.json","era":"json","count":1,"origin":%s}\n' "$sep" "$VEC" "$a" "$origin"
		sep=","
		printf '%s{"expected":"%s/expected_%s.json","era":"bincode","count":1,"origin":%s}\n' "$sep" "$VEC" "$b" "$origin"
	done <"$OUT/sent"
	echo ']}'
} >"$OUT/manifest.json"
node "$RECV/otlpjson.js" "$OUT/spans.otlp.jsonl" --out "$OUT/spans.jsonl" >"$OUT/otlpjson.log" 2>&1
check "OTLP/JSON lines parse with the upstream root" [ $? = 0 ]
check_spans "$OUT/spans.jsonl"
finish
