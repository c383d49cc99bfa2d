#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Checks what one kernel's test VM left on its disk, scenario by scenario:
# the sender and the listener moved every byte, katatrace-bpf attached with
# the strategy asked for, exited cleanly and accounted for every span, and
# its OTLP/JSON output matches the spans sent, field by field (parsed by
# tests/receiver/otlpjson.js, compared by tests/receiver/check.js against a
# manifest written here). Appends one row per scenario to TABLE:
#   KERNEL STRATEGY PATH MATCHED/EXPECTED PASS|FAIL|n/a (refused: ...)
# and ends with "N passed, N failed".
#
#   check-results.sh LABEL WORK RUN_DIR TABLE
#
# RUN_DIR holds out/ (the VM's /out), console.log and vm.rc; manifests,
# normalized spans and checker logs are written there.
set -u
label=$1 WORK=$2 run=$3 table=$4
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
VEC=$ROOT/tests/vectors
RECV=$ROOT/tests/receiver
. "$ROOT/tests/kernel-lane/manifest.sh"
. "$WORK/lane/lane.conf" # SEED PORT SCENARIOS
out=$run/out
PASSED=0
FAILED=0
SC_FAILED=0

check() { # description command...
	local what=$1
	shift
	if "$@"; then
		PASSED=$((PASSED + 1))
		echo "  ok: $what"
	else
		FAILED=$((FAILED + 1))
		SC_FAILED=$((SC_FAILED + 1))
		echo "  FAILED: $what"
	fi
}

row() { # strategy path spans result
	printf '%-6s %-10s %-15s %-7s %s\n' "$label" "$1" "$2" "$3" "$4" >>"$table"
}

value() { cat "$out/$1" 2>/dev/null; }

sandbox_of() { awk -v s="$1" '$1 == s { print $2 }' "$WORK/lane/sandboxes"; }

# A number from the scenario's summary line, e.g. "spans exported".
summary_value() { value "$1.summary" | grep -oE "$2 [0-9]+" | awk '{print $NF}'; }

# Major and minor version of the VM's kernel as one number (6.12 -> 612).
kernel_version() { value kernel | awk -F'[.-]' '{ printf "%d", $1 * 100 + $2 }'; }

# ------------------------------------------------------------ pieces

# The spans synthesised from kernel events (kata.vm, vsock.connection) go to
# FILE.vm: check.js compares the agent's spans with what was sent.
split_vm_spans() { # normalized-spans-file
	grep -E '"name":"(kata\.vm|vsock\.connection)"' "$1" >"$1.vm"
	grep -vE '"name":"(kata\.vm|vsock\.connection)"' "$1" >"$1.agent"
	mv "$1.agent" "$1"
}

# Bytes each connection of a list sends, one number per connection.
conns_bytes_each() {
	local line f total
	while read -r line; do
		total=0
		for f in ${line//,/ }; do total=$((total + $(stat -c %s "$WORK$f"))); done
		echo "$total"
	done <"$1"
}

# A sub-checker's "N passed, N failed" into the counts, printed after NAME
# (and SUFFIX); false, and a failed check, if it printed none or an ERROR.
absorb() { # scenario name log [suffix]
	local line
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$3" | tail -n 1)
	if [ -z "$line" ] || grep -q '^ERROR' "$3"; then
		check "$1: $2 ran" false
		sed 's/^/    /' "$3" | head -n 5
		return 1
	fi
	PASSED=$((PASSED + $(echo "$line" | awk '{print $1}')))
	FAILED=$((FAILED + $(echo "$line" | awk '{print $3}')))
	SC_FAILED=$((SC_FAILED + $(echo "$line" | awk '{print $3}')))
	echo "  $2: $line${4:+ $4}"
}

# Bytes the nested guest wrote to its serial port (QEMU's stdout alone):
# each one an "out" instruction, so under KVM at least as many VM exits.
serial_bytes() { stat -c %s "$out/$1.guest.console" 2>/dev/null || echo 0; }

# "hv-relay: connected N of M, connect attempts A" of the guest's relay: A.
guest_relay_attempts() {
	tr -d '\r' <"$out/$1.guest.console" 2>/dev/null |
		awk '/^hv-relay: connected [0-9]+ of [0-9]+, connect attempts [0-9]+$/ {print $NF}' | tail -n 1
}

# The nested QEMU's kata.vm span and one vsock.connection span per
# connection the guest's relay opened (every attempt: each one a REQUEST).
# KVM: yes when the guest ran under KVM or the scenario requires it (then
# its KVM exits must be at least the bytes it wrote to its serial port).
check_vm_spans() { # scenario conns-file qemu-pid sandbox kvm(yes|no)
	local s=$1 log=$run/$1.vm-check.log
	# shellcheck disable=SC2046
	node "$ROOT/tests/kernel-lane/check-vm-spans.js" "$run/$s.spans.jsonl.vm" "$3" "$4" "$PORT" "$5" \
		"$(serial_bytes "$s")" "$(guest_relay_attempts "$s")" $(conns_bytes_each "$2") >"$log" 2>&1
	sed "s/^/    $s: /" "$log" | grep -E 'FAILED|kvm|KVM|bytes_to_host' | head -n 8
	absorb "$s" check-vm-spans.js "$log"
}

check_listener() { # scenario conns-file peer-prefix [bytes made in the guest]: every connection, every byte
	local s=$1 n bytes peers
	n=$(grep -c . "$2")
	bytes=$(($(conns_bytes "$2") + ${4:-0}))
	peers=$(grep '^conn ' "$out/$s.drain" 2>/dev/null | grep -vc "peer $3")
	check "$s: the listener got $n connections from $3, $bytes bytes, all closed" \
		[ "$(grep '^total connections' "$out/$s.drain" 2>/dev/null)" = \
		"total connections $n closed $n bytes $bytes" -a "$peers" = 0 ]
}

check_tracer() { # scenario strategy expected-spans expected-bytes expected-decode-errors
	local s=$1 errors=${5:-0}
	if [ "$2" = socket ]; then
		check "$s: no BPF program attached (--capture socket)" \
			bash -c "! grep -sq 'attached with' '$out/$s.log'"
	else
		check "$s: katatrace-bpf attached with the $2 strategy" \
			grep -sqE "attached with $2 strategy$" "$out/$s.log"
	fi
	# both captures on the tracepoints: one program a tracepoint, the vsock
	# capture's reached by tail call (docs/capture.md)
	if [ "$2" = tracepoint ]; then
		check "$s: the vsock capture's programs reached by tail call from the unix capture's" \
			grep -sq "vsock capture: attached with tracepoint strategy, reached from the unix capture's programs by tail call" "$out/$s.log"
	fi
	check "$s: exit status 0 after SIGTERM" [ "$(value "$s.rc")" = 0 ]
	echo "    $(value "$s.summary")"
	check "$s: summary: spans exported $3" [ "$(summary_value "$s" 'spans exported')" = "$3" ]
	check "$s: summary: bytes captured $4" [ "$(summary_value "$s" 'bytes captured')" = "$4" ]
	check "$s: summary: $errors decode errors (one per garbage frame sent), no lost records or gaps" \
		[ "$(summary_value "$s" 'decode errors')/$(summary_value "$s" 'lost records')/$(summary_value "$s" gaps)" = "$errors/0/0" ]
	if [ "$errors" != 0 ]; then
		check "$s: the oversize header's connection is named and dropped" \
			grep -sq 'frame header announces 9223372036854775808 bytes' "$out/$s.log"
	fi
}

# Every span sent, field by field, with the origin's resource attributes.
# Sets MATCHED and EXPECTED.
check_spans() { # scenario conns-file origin-json
	local s=$1 m=$run/$1.manifest.json got=$run/$1.spans.jsonl log=$run/$1.check.log
	MATCHED=0
	EXPECTED=0
	if ! write_manifest "$2" "$3" >"$m"; then
		check "$s: manifest written" false
		return
	fi
	EXPECTED=$(manifest_count "$m")
	: >"$got"
	if [ -s "$out/$s.jsonl" ]; then
		node "$RECV/otlpjson.js" "$out/$s.jsonl" --out "$got" >"$run/$s.otlpjson.log" 2>&1
		check "$s: OTLP/JSON lines parse with the upstream root" [ $? = 0 ]
		split_vm_spans "$got"
	else
		check "$s: spans written to $s.jsonl" false
	fi
	node "$RECV/check.js" --manifest "$m" --got "$got" >"$log" 2>&1
	local matched=$((EXPECTED - $(grep -cE '^(MISSING|MISMATCH) ' "$log")))
	absorb "$s" check.js "$log" "($matched of $EXPECTED spans matched exactly)" || return
	MATCHED=$matched
	grep -vE '^[0-9]+ passed' "$log" | head -n 6 | cut -c1-300 | sed 's/^/    /'
	[ "$(grep -vcE '^[0-9]+ passed' "$log")" -le 6 ] || echo "    ... (all of it in $log)"
}

verdict() { if [ "$SC_FAILED" = 0 ]; then echo PASS; else echo FAIL; fi; }

# ------------------------------------------------------------ scenarios

# Tap mode beside sock-drain; unix (hybrid vsock) or vsock_loopback.
check_tap() { # scenario strategy path
	local s=$1 conns=$WORK/lane/conns.tap origin peer
	check "$s: the relay sent every stream (exit 0)" [ "$(value "$s.relay.rc")" = 0 ]
	if [ "$3" = unix ]; then
		local sandbox
		sandbox=$(sandbox_of "$s")
		origin=$(origin_hybrid "/run/vc/vm/$sandbox/clh.sock_$PORT" "$sandbox" "$(value "$s.relay.pid")")
		peer="pid $(value "$s.relay.pid")"
	else
		origin=$(origin_vsock_loopback "$PORT")
		peer="cid 1 port"
	fi
	check_listener "$s" "$conns" "$peer"
	check_tracer "$s" "$2" "$(manifest_count <(write_manifest "$conns" '{}'))" "$(conns_bytes "$conns")" \
		"$(conns_decode_errors "$conns")"
	check_spans "$s" "$conns" "$origin"
	row "$2" "$3" "$MATCHED/$EXPECTED" "$(verdict)"
}

# katatrace-bpf as the AF_VSOCK listener itself (sink mode).
check_sink() { # scenario strategy path
	local s=$1 conns=$WORK/lane/conns.tap
	check "$s: the relay sent every stream and saw the sink close each (exit 0)" \
		[ "$(value "$s.relay.rc")" = 0 ]
	check "$s: the sink listened on vsock port $PORT" \
		grep -sq "sink: listening on vsock port $PORT" "$out/$s.log"
	check_tracer "$s" "$2" "$(manifest_count <(write_manifest "$conns" '{}'))" "$(conns_bytes "$conns")" \
		"$(conns_decode_errors "$conns")"
	check_spans "$s" "$conns" "$(origin_vsock_loopback "$PORT")"
	row "$2" "$3" "$MATCHED/$EXPECTED" "$(verdict)"
}

# A strategy this kernel lacks: katatrace-bpf must refuse it, clearly.
check_refused() { # scenario strategy path
	local s=$1 msg
	msg=$(grep -oE "no attach strategy works on this kernel \($2 requested\)" "$out/$s.log" 2>/dev/null | head -n 1)
	check "$s: katatrace-bpf refuses the $2 strategy on $(value kernel) (exit 1)" [ "$(value "$s.rc")" = 1 ]
	check "$s: its error says so" [ -n "$msg" ]
	if [ "$SC_FAILED" = 0 ]; then row "$2" "$3" - "n/a (refused: $msg)"; else row "$2" "$3" - FAIL; fi
}

# QEMU exits 0 on SIGTERM too: the timeout must not have stopped it.
guest_qemu_ok() { # scenario qemu-pid
	[ "$(value "$1.qemu.rc")" = 0 ] && [ -n "$2" ] &&
		! grep -sq 'terminating on signal' "$out/$1.qemu.err" "$out/$1.guest.console"
}

# katatrace-bpf (sink mode) held the port the listener could not bind: the
# listener said "address in use", the daemon listened there and accepted
# exactly the guest's N connections, all from CID 3.
sink_holds_port() { # scenario connections
	grep -sqx "address in use: vsock:$PORT" "$out/$1.drain" &&
		grep -sq "sink: listening on vsock port $PORT\$" "$out/$1.log" &&
		[ "$(grep -c "sink vsock port $PORT: connection from cid " "$out/$1.log")" = "$2" ] &&
		[ "$(grep -c "sink vsock port $PORT: connection from cid 3 port " "$out/$1.log")" = "$2" ]
}

# What the listener wrote back, all of it captured towards the guest.
echo_captured() { # echoed-bytes captured-bytes
	[ -n "$1" ] && [ "$1" -gt 0 ] && [ "$2" = "$1" ]
}

# sink mode in the VM, a nested QEMU guest (CID 3) sending over vhost-vsock.
check_guest() { # scenario strategy path
	local s=$1 conns=$WORK/lane/conns.guest sandbox pid accel note="" kvm=no
	sandbox=$(sandbox_of "$s")
	pid=$(value "$s.qemu.pid")
	accel=$(value "$s.l3-accel")
	[[ $accel == tcg* ]] && note=" (L3 guest under TCG${accel#tcg})"
	[[ $accel == kvm* ]] && kvm=yes
	echo "  nested guest: accel ${accel:-?}, qemu pid ${pid:-?}, $(serial_bytes "$s") bytes on its serial port"
	grep -sE '^(guest|hv-relay):' "$out/$s.guest.console" | tr -d '\r' | sed 's/^/    /'
	if [ "$3" = vhost-guest ]; then
		# This one always counts the guest's KVM exits: no TCG fallback.
		check "$s: the nested guest ran under KVM (required here; it ran under ${accel:-?})" [ "$accel" = kvm ]
		kvm=yes
	fi
	check "$s: the nested guest sent every stream (relay exit 0)" \
		grep -sq '^guest: relay rc=0' "$out/$s.guest.console"
	check "$s: its QEMU exited when the guest powered off, pid recorded" guest_qemu_ok "$s" "$pid"
	if grep -q '^address in use' "$out/$s.drain" 2>/dev/null; then
		check "$s: katatrace-bpf (sink) holds vsock port $PORT: it listened there and accepted the guest's $(grep -c . "$conns") connections" \
			sink_holds_port "$s" "$(grep -c . "$conns")"
	else
		check_listener "$s" "$conns" "cid 3 port"
	fi
	local sent
	sent=$(conns_bytes "$conns")
	if [ "$3" = vhost-echo ]; then
		# The listener answered every byte: what went host -> guest was
		# captured too (vhost_transport_send_pkt), counted, not decoded.
		local echoed to_client
		echoed=$(value "$s.drain" | awk '/^echoed bytes/ {print $3}')
		to_client=$(value "$s.log" | awk '$1 == "bytes_to_client" {print $2}' | tail -n 1)
		check "$s: host-to-guest bytes captured ($to_client) = bytes the listener sent back ($echoed)" \
			echo_captured "$echoed" "$to_client"
		sent=$((sent + ${echoed:-0}))
	fi
	# and one kata.vm span, one vsock.connection span per connection
	check_tracer "$s" "$2" "$(($(manifest_count <(write_manifest "$conns" '{}')) + 1 + $(grep -c . "$conns")))" "$sent"
	if [ "$(kernel_version)" -ge 617 ] 2>/dev/null; then
		# vhost_vsock puts large packets in page frags since 6.17
		local frags
		frags=$(grep -oE '[0-9]+ bytes from page frags' "$out/$s.log" | tail -n 1 | awk '{print $1}')
		check "$s: large packets arrived nonlinear and were read from their page frags ($frags bytes)" \
			[ "${frags:-0}" -gt 0 ]
	fi
	check_spans "$s" "$conns" "$(origin_vsock_guest 3 "$PORT" "$sandbox" "$pid")"
	check_vm_spans "$s" "$conns" "$pid" "$sandbox" "$kvm"
	row "$2" "$3" "$MATCHED/$EXPECTED" "$(verdict)$note"
	if [ "$3" = vhost-echo ]; then check_probe "$s"; fi
}

# A number of a probe's summary line, e.g. "hits".
probe_summary_value() { value "$1.summary" | grep -oE "(; |, )$2 [0-9]+" | awk '{print $NF}' | head -n 1; }

# What a probe's summary must say: why it stopped, as many spans as hits
# (every call had returned), all of them exported, nothing lost.
probe_summary_ok() { # scenario.name stopped-by
	local spans
	spans=$(probe_summary_value "$1" spans)
	value "$1.summary" | grep -q "^katatrace-bpf probe summary: stopped by $2; " &&
		[ -n "$spans" ] && [ "$(probe_summary_value "$1" hits)" = "$spans" ] &&
		[ "$(probe_summary_value "$1" 'spans exported')" = "$spans" ] &&
		[ "$(probe_summary_value "$1" lost)" = 0 ] && [ "$(probe_summary_value "$1" events)" = 0 ]
}

probe_stopped_ok() { # scenario.name stopped-by: exit 0, stopped by that (whatever it counted)
	[ "$(value "$1.rc")" = 0 ] && value "$1.summary" | grep -qF "katatrace-bpf probe summary: stopped by $2; "
}

probe_ended_ok() { # scenario.name stopped-by
	[ "$(value "$1.rc")" = 0 ] && probe_summary_ok "$1" "$2"
}

# The probe of the sandbox's KVM exits beside vhost-echo (--event
# tracepoint:kvm:kvm_exit): it ends with QEMU; its records, checked by
# probe-kvm.js, are QEMU's exits in the sandbox's trace, or none when the
# nested guest ran under TCG.
check_probe_kvm() { # scenario sandbox qemu-pid
	local s=$1 sandbox=$2 pid=$3 accel kvm_records
	accel=$(value "$s.l3-accel")
	echo "    $(value "$s.probe-kvm.summary")"
	check "$s: probe sandbox/ID --event kvm_exit exited 0 by itself when QEMU exited" \
		probe_stopped_ok "$s.probe-kvm" "sandbox $sandbox ended (its hypervisor, process ${pid:-?}, exited)"
	: >"$run/$s.probe-kvm.logs.jsonl"
	if [ -s "$out/$s.probe-kvm.jsonl" ]; then
		node "$RECV/otlpjson.js" "$out/$s.probe-kvm.jsonl" --out /dev/null \
			--logs-out "$run/$s.probe-kvm.logs.jsonl" >"$run/$s.probe-kvm.otlpjson.log" 2>&1
		check "$s: probe-kvm: OTLP/JSON lines parse with the upstream root" [ $? = 0 ]
	fi
	kvm_records=$(grep -c . "$run/$s.probe-kvm.logs.jsonl")
	check "$s: probe-kvm: as many log records in its file ($kvm_records) as its summary exported" \
		[ "$kvm_records" = "$(probe_summary_value "$s.probe-kvm" 'log records exported')" ]
	node "$ROOT/tests/kernel-lane/probe-kvm.js" "$run/$s.probe-kvm.logs.jsonl" "$sandbox" "$pid" \
		"${accel%%:*}" >"$run/$s.probe-kvm.log" 2>&1
	grep -E 'FAILED' "$run/$s.probe-kvm.log" | head -n 8 | cut -c1-300 | sed "s/^/    $s: /"
	absorb "$s" probe-kvm.js "$run/$s.probe-kvm.log"
}

# katatrace-bpf probe beside the vhost-echo scenario (vm-scenarios.sh), run
# standalone with kprobe spans on the vhost-vsock path: on the nested
# guest's sandbox in the fake run root (the probe must find QEMU's vhost
# worker threads and filter on them), and on the listener. The spans are
# checked by probe-vhost.js against the sandbox's ids, the pids the VM read
# from /proc and the guest's traffic. A row of its own.
check_probe() { # scenario
	local s=$1 sandbox pid drain workers filter requests echoed n
	SC_FAILED=0
	sandbox=$(sandbox_of "$s")
	pid=$(value "$s.qemu.pid")
	drain=$(value "$s.drain.pid")
	workers=$(value "$s.vhost-workers" | awk '{ printf "%s%s:%s", sep, $1, $2; sep = "," }')
	# the filter: QEMU, then each worker that is a process of its own
	filter=$pid$(value "$s.vhost-workers" | awk -v q="$pid" '$1 != q && !seen[$1]++ { printf ",%s", $1 }')
	requests=$(guest_relay_attempts "$s")
	echoed=$(value "$s.drain" | awk '/^echoed bytes/ {print $3}')
	echo "  probes: QEMU ${pid:-?}, its vhost workers (tgid:tid) ${workers:-none}, listener ${drain:-?}"
	echo "    $(value "$s.probe.summary")"
	echo "    $(value "$s.probe-other.summary")"
	check "$s: probe sandbox/ID got ready, filtering on QEMU and its vhost workers that are processes of their own (pids $filter)" \
		grep -sqE " ready: probing sandbox $sandbox with 2 probes, filter: pids $filter\$" "$out/$s.probe.log"
	check "$s: probe pid/$drain (the listener) got ready, filtering on it" \
		grep -sqE " ready: probing process $drain with 2 probes, filter: pids $drain\$" "$out/$s.probe-other.log"
	check "$s: probe sandbox/ID exited 0 by itself when QEMU exited; hits = spans = spans exported, lost 0" \
		probe_ended_ok "$s.probe" "sandbox $sandbox ended (its hypervisor, process ${pid:-?}, exited)"
	check "$s: probe pid/$drain exited 0 after SIGTERM; hits = spans = spans exported, lost 0" \
		probe_ended_ok "$s.probe-other" Terminated
	for n in probe probe-other; do
		: >"$run/$s.$n.spans.jsonl"
		if [ -s "$out/$s.$n.jsonl" ]; then
			node "$RECV/otlpjson.js" "$out/$s.$n.jsonl" --out "$run/$s.$n.spans.jsonl" >"$run/$s.$n.otlpjson.log" 2>&1
			check "$s: $n: OTLP/JSON lines parse with the upstream root" [ $? = 0 ]
		fi
		check "$s: $n: as many spans in its file as its summary says ($(probe_summary_value "$s.$n" spans))" \
			[ "$(grep -c . "$run/$s.$n.spans.jsonl")" = "$(probe_summary_value "$s.$n" spans)" ]
	done
	# the sandbox's KVM exits, a log record each (none when its guest ran under TCG)
	if [ -e "$out/$s.probe-kvm.skipped" ]; then
		echo "    skipped: the KVM exits' probe: $(value "$s.probe-kvm.skipped")"
	else
		check_probe_kvm "$s" "$sandbox" "$pid"
	fi
	node "$ROOT/tests/kernel-lane/probe-vhost.js" "$run/$s.probe.spans.jsonl" "$run/$s.probe-other.spans.jsonl" \
		"$sandbox" "$pid" "$workers" "$drain" "$requests" "$echoed" >"$run/$s.probe-vhost.log" 2>&1
	grep -E 'FAILED' "$run/$s.probe-vhost.log" | head -n 8 | cut -c1-300 | sed "s/^/    $s: /"
	absorb "$s" probe-vhost.js "$run/$s.probe-vhost.log"
	row probe vhost-echo "$(probe_summary_value "$s.probe" spans)" "$(verdict)"
}

# The runtime's ttrpc to a real guest's agent over vhost-vsock, and the
# agent's span of that call: one trace. The agent's span is checked field
# by field (check.js), the ttrpc.<Method> spans and the link between them
# by ttrpc-vsock.js.
check_ttrpc() { # scenario strategy path
	local s=$1 conns=$WORK/lane/conns.ttrpc sandbox pid accel note="" sent received span_bytes
	sandbox=$(sandbox_of "$s")
	pid=$(value "$s.qemu.pid")
	accel=$(value "$s.l3-accel")
	[[ $accel == tcg* ]] && note=" (L3 guest under TCG${accel#tcg})"
	echo "  nested guest: accel ${accel:-?}, qemu pid ${pid:-?}; runtime: $(value "$s.shim.log" | grep -v '^attempt ' | tr '\n' ' ')"
	grep -sE '^(guest|agent):' "$out/$s.guest.console" | tr -d '\r' | sed 's/^/    /'
	check "$s: the runtime got both answers from the guest's agent (exit 0)" [ "$(value "$s.shim.rc")" = 0 ]
	check "$s: the guest's agent answered, then sent its span (exit 0 both)" \
		bash -c "grep -sq '^guest: agent rc=0' '$out/$s.guest.console' &&
			grep -sq '^guest: relay rc=0' '$out/$s.guest.console'"
	check "$s: its QEMU exited when the guest powered off, pid recorded" guest_qemu_ok "$s" "$pid"
	# the agent's spans of the untraced call, made in the guest
	local made
	made=$(tr -d '\r' <"$out/$s.guest.console" 2>/dev/null | awk '/^guest: agent spans/ {print $4}')
	check "$s: the guest's agent made its span of the untraced call" [ "${made:-0}" -gt 0 ]
	check_listener "$s" "$conns" "cid 3 port" "${made:-0}"
	sent=$(value "$s.shim.log" | awk '/^sent/ {print $2}')
	received=$(value "$s.shim.log" | awk '/^sent/ {print $5}')
	span_bytes=$(($(conns_bytes "$conns") + ${made:-0}))
	# 2 calls, 2 agent spans, kata.vm, and a vsock.connection per connection
	# request: every connect of the runtime (its attempts while the guest
	# booted included) and of the guest's relay, as each reported them. The
	# guest answered the relay's, the one the runtime got, and those it reset.
	local shim_tries resets relay_tries conn_spans="" answered=""
	shim_tries=$(value "$s.shim.log" | awk '/^connected after [0-9]+ attempts$/ {print $3}' | tail -n 1)
	resets=$(value "$s.shim.log" | grep -cE '^attempt [0-9]+: Connection reset by peer$')
	relay_tries=$(guest_relay_attempts "$s")
	if [ -n "$shim_tries" ] && [ -n "$relay_tries" ]; then
		conn_spans=$((shim_tries + relay_tries))
		answered=$((1 + resets + relay_tries))
	fi
	check "$s: connection requests counted: ${shim_tries:-?} by the runtime ($resets reset by the guest), ${relay_tries:-?} by the guest's relay" \
		[ -n "$conn_spans" ]
	check_tracer "$s" "$2" "$((5 + ${conn_spans:-0}))" "$((${sent:-0} + ${received:-0} + span_bytes))"

	local m=$run/$s.manifest.json got=$run/$s.spans.jsonl agent=$run/$s.agent.jsonl log=$run/$s.check.log
	MATCHED=0
	EXPECTED=3
	: >"$got"
	if [ -s "$out/$s.jsonl" ]; then
		node "$RECV/otlpjson.js" "$out/$s.jsonl" --out "$got" >"$run/$s.otlpjson.log" 2>&1
		check "$s: OTLP/JSON lines parse with the upstream root" [ $? = 0 ]
	else
		check "$s: spans written to $s.jsonl" false
	fi
	split_vm_spans "$got"
	cat "$got" "$got.vm" >"$run/$s.all.jsonl"
	# the agent's span the sandbox trace took in (sandbox-trace.js checks it)
	grep -v '"katatrace.collated"' "$got" >"$got.kept"
	mv "$got.kept" "$got"
	grep -v '"name":"ttrpc\.' "$got" >"$agent"
	write_manifest "$conns" "$(origin_vsock_guest 3 "$PORT" "$sandbox" "$pid")" >"$m"
	node "$RECV/check.js" --manifest "$m" --got "$agent" >"$log" 2>&1
	if absorb "$s" "check.js (the agent's span)" "$log"; then
		MATCHED=$(($(manifest_count "$m") - $(grep -cE '^(MISSING|MISMATCH) ' "$log")))
		grep -vE '^[0-9]+ passed' "$log" | head -n 6 | cut -c1-300 | sed 's/^/    /'
	fi
	node "$ROOT/tests/kernel-lane/ttrpc-vsock.js" "$got" "$TTRPC_TRACE" "$TTRPC_SPAN" 3 1024 \
		"$sandbox" "$pid" "$(qemu_comm)" >"$run/$s.ttrpc.log" 2>&1
	if absorb "$s" ttrpc-vsock.js "$run/$s.ttrpc.log"; then
		MATCHED=$((MATCHED + $(awk '/^ttrpc spans matched/ {print $4}' "$run/$s.ttrpc.log")))
		grep -v -e '^[0-9]* passed' -e '^ttrpc spans matched' "$run/$s.ttrpc.log" | head -n 8 |
			cut -c1-300 | sed 's/^/    /'
	fi
	node "$ROOT/tests/kernel-lane/sandbox-trace.js" "$run/$s.all.jsonl" "$sandbox" "$TTRPC_TRACE" \
		"${conn_spans:-unknown}" "${answered:-unknown}" >"$run/$s.sandbox-trace.log" 2>&1
	if absorb "$s" "sandbox-trace.js (one trace per sandbox)" "$run/$s.sandbox-trace.log"; then
		grep -v '^[0-9]* passed' "$run/$s.sandbox-trace.log" | head -n 8 | cut -c1-300 | sed 's/^/    /'
	fi
	row "$2" "$3" "$MATCHED/$EXPECTED" "$(verdict)$note"
}

# ------------------------------------------------------------ main

echo "--- $label: checks"
check "$label: the VM powered off by itself" [ "$(cat "$run/vm.rc" 2>/dev/null)" = 0 ]
check "$label: every scenario ran to its end" [ -f "$out/finished" ]
for s in $SCENARIOS; do
	strategy=${s##*-} path=${s%-*}
	SC_FAILED=0
	t=$(awk -v s="$s" '$1 == s { printf "%.1f s", $3 - $2 }' "$out/timings" 2>/dev/null)
	echo "- $label $s (${t:-did not run})"
	if ! compgen -G "$out/$s.*" >/dev/null; then
		check "$s: ran in the VM and left results" false
		conns=$WORK/lane/conns.tap
		[[ $path == vhost-* ]] && conns=$WORK/lane/conns.guest
		total=$(manifest_count <(write_manifest "$conns" '{}'))
		[ "$path" = vhost-ttrpc ] && total=3
		row "$strategy" "$path" "0/$total" FAIL
	elif [ "$strategy" = tracepoint ] && [ "$(kernel_version)" -lt 605 ] 2>/dev/null; then
		check_refused "$s" "$strategy" "$path"
	elif [ "$path" = vhost-ttrpc ]; then
		check_ttrpc "$s" "$strategy" "$path"
	elif [[ $path == vhost-* ]]; then
		check_guest "$s" "$strategy" "$path"
	elif [ "$path" = vsock-sink ]; then
		check_sink "$s" "$strategy" "$path"
	else
		check_tap "$s" "$strategy" "$path"
	fi
done
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
