# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# Manifests for tests/receiver/check.js, written on the host from what the
# kernel lane's workload sent (make-workload.sh) and what the VM recorded
# (relay and QEMU pids). Sourced by check-results.sh; needs WORK (the
# workload directory) and VEC (tests/vectors).

# ------------------------------------------------------------ origins
#
# The katatrace.* resource attributes katatrace-bpf must add to the spans
# of each path, in the order it writes them. Adjust here.

# attrs KEY TYPE VALUE ...: a JSON object of typed values, in this order.
# An i64 that was not recorded becomes -1, which no span can carry.
attrs() {
	local out="{" sep="" v
	while [ $# -ge 3 ]; do
		case $2 in
		i64) [[ $3 =~ ^-?[0-9]+$ ]] && v=$3 || v=-1 ;;
		*) v="\"$3\"" ;;
		esac
		out+="$sep\"$1\":{\"type\":\"$2\",\"value\":$v}"
		sep=,
		shift 3
	done
	echo "$out}"
}

# Hybrid vsock (a unix socket <uds>_<port>), Kata's Cloud Hypervisor layout.
origin_hybrid() { # socket-path sandbox-id writer-pid
	attrs katatrace.transport string hybrid-vsock \
		katatrace.socket.path string "$1" \
		katatrace.sandbox.id string "$2" \
		katatrace.hypervisor.name string cloud-hypervisor \
		katatrace.hypervisor.pid i64 "$3" \
		katatrace.hypervisor.comm string hv-relay
}

# AF_VSOCK from vsock_loopback: no hypervisor, no sandbox.
origin_vsock_loopback() { # port
	attrs katatrace.transport string vsock \
		katatrace.vsock.cid i64 1 \
		katatrace.vsock.port i64 "$1"
}

# AF_VSOCK from a guest: QEMU started with -name sandbox-<id>.
origin_vsock_guest() { # cid port sandbox-id qemu-pid
	attrs katatrace.transport string vsock \
		katatrace.vsock.cid i64 "$1" \
		katatrace.vsock.port i64 "$2" \
		katatrace.sandbox.id string "$3" \
		katatrace.hypervisor.name string qemu \
		katatrace.hypervisor.pid i64 "$4" \
		katatrace.hypervisor.comm string "$(qemu_comm)"
}

# The kernel keeps the first 15 bytes of the executable's name as comm.
qemu_comm() { echo qemu-system-x86_64 | cut -c1-15; }

# ------------------------------------------------------------ spans sent

# The expected spans of one file a connection carried (its /lane/... path):
# one "expected-file era" line per span.
file_spans() {
	local base=${1##*/} label
	case $base in
	framed_stream_otel017_json.bin | framed_stream_otel014_bincode.bin)
		local era=json
		[[ $base == *bincode* ]] && era=bincode
		while read -r label; do echo "$VEC/expected_$label.json $era"; done <"$VEC/stream_order.txt"
		;;
	framed_otel017_json_*.bin) echo "$VEC/expected_${base#framed_otel017_json_}" | sed 's/\.bin$/.json json/' ;;
	framed_otel014_bincode_*.bin) echo "$VEC/expected_${base#framed_otel014_bincode_}" | sed 's/\.bin$/.json bincode/' ;;
	garbage.bin) ;; # a frame that does not decode: counted, no span
	var*.bin)
		awk -v b="$base" '{ n = split($2, p, "/"); if (p[n] == b) print $3, $1 }' "$WORK/expected/list" |
			grep . || { echo "manifest: $1 is not in $WORK/expected/list" >&2; return 1; }
		;;
	*)
		echo "manifest: no expected spans known for $1" >&2
		return 1
		;;
	esac
}

# Every file of a connection list (one connection per line, files comma separated).
conns_files() { tr ',' '\n' <"$1" | grep .; }

# The files whose spans arrive: on each connection, those before a header
# over the frame cap (oversize.bin), after which the stream is dropped.
conns_decoded_files() {
	awk -F, '{ for (i = 1; i <= NF; i++) { if ($i ~ /oversize\.bin$/) break; print $i } }' "$1" | grep .
}

# Frames that reach the decoder and must fail (garbage.bin before any oversize).
conns_decode_errors() { conns_decoded_files "$1" | grep -c 'garbage\.bin$'; }

# Bytes a connection list sends in all.
conns_bytes() {
	local f total=0
	for f in $(conns_files "$1"); do total=$((total + $(stat -c %s "$WORK$f"))); done
	echo "$total"
}

# write_manifest CONNS_FILE ORIGIN_JSON > manifest.json; fails if a file
# sent has no known expected spans.
write_manifest() {
	local f spans exp era sep=""
	echo '{"service_name":"kata-agent","items":['
	for f in $(conns_decoded_files "$1"); do
		spans=$(file_spans "$f") || return 1
		while read -r exp era; do
			[ -n "$exp" ] || continue # a file with no spans (garbage)
			printf '%s{"expected":"%s","era":"%s","count":1,"origin":%s}\n' "$sep" "$exp" "$era" "$2"
			sep=,
		done <<<"$spans"
	done
	echo ']}'
}

# Number of spans a manifest expects.
manifest_count() { grep -c '"expected"' "$1"; }
