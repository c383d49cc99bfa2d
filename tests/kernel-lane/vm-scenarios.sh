# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=dash
# The kernel lane's scenarios, run inside the test VM by /init (busybox sh).
# A scenario is named PATH-STRATEGY (e.g. unix-kprobe) and leaves its results
# in /out/SCENARIO.*:
#   .jsonl          spans written by katatrace-bpf (OTLP/JSON lines)
#   .log            katatrace-bpf's log; .summary its last line; .rc its exit status
#   .drain          the listener's report (tests/tools/sock-drain.c)
#   .relay.rc/.pid/.log    the sender (tests/tools/hv-relay.c)
#   .guest.console  .qemu.err  .qemu.pid  .qemu.rc  .l3-accel     the nested guest
#                   (.guest.console: its serial port alone, every byte an "out")
#   .shim.log .shim.rc  the runtime stand-in of the ttrpc scenarios
#   .probe.* .probe-other.*   katatrace-bpf probe on the vhost-vsock path of the
#                   nested guest's sandbox, and on the listener (vhost-echo):
#                   .jsonl, .log, .rc, .summary as above
#   .vhost-workers  "TGID TID" of each vhost worker thread of the nested QEMU
#   .drain.pid      the listener's pid
BIN=/lane/bin

uptime_s() { cut -d' ' -f1 /proc/uptime; }
say() { echo "lane: $*"; }

wait_until() { # SECONDS COMMAND...: true once COMMAND is, polling every 0.1 s
	local n=$(($1 * 10))
	shift
	until "$@" 2>/dev/null; do
		n=$((n - 1))
		[ "$n" -gt 0 ] || return 1
		sleep 0.1
	done
}

alive() { [ -e "/proc/$1/status" ] && ! grep -q '^State:.*zombie' "/proc/$1/status"; }

sandbox_of() { awk -v s="$1" '$1 == s { print $2 }' /lane/sandboxes; }

# ------------------------------------------------------------ listener

start_drain() { # scenario [--echo] address
	local s=$1
	shift
	"$BIN/sock-drain" "$@" >"/out/$s.drain" 2>&1 &
	DRAIN_PID=$!
	wait_until 10 grep -q -e '^listening on' -e '^address in use' "/out/$s.drain"
}

stop_drain() {
	kill -TERM "$DRAIN_PID" 2>/dev/null
	wait "$DRAIN_PID"
}

# The listener saw end of stream on at least N connections.
drained() { [ "$(grep -c '^closed conn' "/out/$1.drain")" -ge "$2" ]; }

# ------------------------------------------------------------ katatrace-bpf

kt_settled() { grep -q ' ready: ' "/out/$1.log" || ! alive "$KT_PID"; }

# The checks compare the agent's spans with what it sent (its own trace ids,
# exactly the spans sent): sandbox traces, which rewrite and add, are off
# unless a scenario sets STITCH (the vhost-ttrpc ones: one trace per sandbox).
STITCH="--no-collate --no-complete-traces"
start_kt() { # scenario run-args...: false if it exited (or hung) instead of getting ready
	local s=$1
	shift
	# shellcheck disable=SC2086
	"$BIN/katatrace-bpf" run $STITCH "$@" --output "/out/$s.jsonl" --batch-timeout 200 \
		--log-level debug 2>"/out/$s.log" &
	KT_PID=$!
	wait_until 120 kt_settled "$s"
	grep -q ' ready: ' "/out/$s.log" && return 0
	stop_kt "$s"
	say "$s: katatrace-bpf did not start: $(cat "/out/$s.summary")"
	return 1
}

stop_kt() { # scenario: SIGTERM, then its exit status and summary line
	local guard
	kill -TERM "$KT_PID" 2>/dev/null
	(sleep 60 && kill -KILL "$KT_PID" 2>/dev/null) &
	guard=$!
	wait "$KT_PID"
	echo $? >"/out/$1.rc"
	kill "$guard" 2>/dev/null
	tail -n 1 "/out/$1.log" >"/out/$1.summary"
}

# ------------------------------------------------------------ katatrace-bpf probe

# The fake Kata run root of the probes: the nested QEMU writes its pid file
# where Kata's Go runtime has it, /run/vc/vm/<id>/pid, the file by which
# discovery knows a QEMU sandbox.
PROBE_ROOT=/run/kata-root
# The vhost-vsock path: the guest's packets in the vhost worker, and every
# packet queued to the guest (by the worker when it answers a connection
# request, by the listener when it writes).
PROBE_SPANS="--span kprobe:vhost_vsock_handle_tx_kick --span kprobe:vhost_transport_send_pkt"

# "TGID TID" of each thread named vhost-PID: the vhost workers of QEMU PID,
# kernel threads of their own before Linux 6.4 (TGID = TID), threads of QEMU
# from 6.4 on (TGID = PID).
vhost_workers() { # qemu-pid
	local t c
	for t in /proc/[0-9]*/task/[0-9]*; do
		{ read -r c <"$t/comm"; } 2>/dev/null || continue
		[ "$c" = "vhost-$1" ] || continue
		t=${t#/proc/}
		echo "${t%%/task/*} ${t##*/}"
	done
}
has_vhost_worker() { [ -n "$(vhost_workers "$1")" ]; }

probe_settled() { grep -q ' ready: ' "/out/$1.log" || ! alive "$2"; }
gone() { ! alive "$1"; }

start_probe() { # scenario.name target [probes, default PROBE_SPANS]: sets PROBE_PID
	local name=$1 target=$2
	shift 2
	# shellcheck disable=SC2086
	[ $# -gt 0 ] || set -- $PROBE_SPANS
	"$BIN/katatrace-bpf" probe "$target" --run-root "$PROBE_ROOT" "$@" --exporter file \
		--output "/out/$name.jsonl" --batch-timeout 200 --log-level debug 2>"/out/$name.log" &
	PROBE_PID=$!
}

# With QEMU paused: its vhost workers, then a probe of its sandbox
# (SANDBOX_PROBE), one of the listener (OTHER_PROBE), and one of the
# sandbox's KVM exits, a log record each (KVM_PROBE), all ready.
start_probes() { # scenario sandbox
	local s=$1 q
	q=$(cat "/out/$s.qemu.pid" 2>/dev/null)
	wait_until 30 has_vhost_worker "$q" || say "$s: QEMU ${q:-?} has no vhost worker"
	vhost_workers "$q" >"/out/$s.vhost-workers"
	echo "$DRAIN_PID" >"/out/$s.drain.pid"
	start_probe "$s.probe" "sandbox/$2"
	SANDBOX_PROBE=$PROBE_PID
	start_probe "$s.probe-other" "pid/$DRAIN_PID"
	OTHER_PROBE=$PROBE_PID
	KVM_PROBE=""
	if [ -d /sys/kernel/tracing/events/kvm/kvm_exit ]; then
		start_probe "$s.probe-kvm" "sandbox/$2" --event tracepoint:kvm:kvm_exit
		KVM_PROBE=$PROBE_PID
	else
		echo "no kvm module in this VM: no kvm:kvm_exit tracepoint" >"/out/$s.probe-kvm.skipped"
	fi
	wait_until 120 probe_settled "$s.probe" "$SANDBOX_PROBE" || say "$s: the sandbox probe hangs"
	wait_until 120 probe_settled "$s.probe-other" "$OTHER_PROBE" || say "$s: the listener's probe hangs"
	[ -z "$KVM_PROBE" ] || wait_until 120 probe_settled "$s.probe-kvm" "$KVM_PROBE" ||
		say "$s: the KVM exits' probe hangs"
}

stop_probe() { # scenario.name pid: SIGTERM (if still running), exit status, summary line
	local guard
	kill -TERM "$2" 2>/dev/null
	(sleep 60 && kill -KILL "$2" 2>/dev/null) &
	guard=$!
	wait "$2"
	echo $? >"/out/$1.rc"
	kill "$guard" 2>/dev/null
	grep 'probe summary:' "/out/$1.log" | tail -n 1 >"/out/$1.summary"
}

# ------------------------------------------------------------ sender

run_relay() { # scenario target conns-file: one connection per line of the file
	local s=$1 target=$2 conns=$3 files
	set --
	while read -r files; do set -- "$@" "$target=$files"; done <"$conns"
	timeout 120 "$BIN/hv-relay" --seed "$SEED" --pid-file "/out/$s.relay.pid" "$@" \
		>"/out/$s.relay.log" 2>&1
	echo $? >"/out/$s.relay.rc"
}

# ------------------------------------------------------------ scenarios

# Tap mode beside a foreign listener: the relay's connections go to the
# listener, katatrace-bpf captures them in the kernel.
tap_scenario() { # scenario strategy listen-address relay-target
	local s=$1
	start_drain "$s" "$3" || say "$s: the listener did not start"
	if start_kt "$s" --mode tap --attach "$2"; then
		run_relay "$s" "$4" /lane/conns.tap
		wait_until 30 drained "$s" "$(wc -l </lane/conns.tap)" ||
			say "$s: the listener still has open connections"
		sleep 0.5 # the last records on their way through the ring buffer
		stop_kt "$s"
	fi
	stop_drain
}

# AF_VSOCK over vsock_loopback (CID 1).
scenario_vsock_loopback() { # scenario strategy
	tap_scenario "$1" "$2" "vsock:$PORT" "vsock:1:$PORT"
}

# Sink mode on AF_VSOCK: katatrace-bpf itself listens on port PORT and
# serves the relay's concurrent connections (over vsock_loopback). Strategy
# "socket" is --capture socket: no BPF, the sink's own reads are decoded.
scenario_vsock_sink() { # scenario strategy
	local s=$1 how="--attach $2"
	[ "$2" = socket ] && how="--capture socket"
	# shellcheck disable=SC2086
	start_kt "$s" --mode sink $how || return 0
	run_relay "$s" "vsock:1:$PORT" /lane/conns.tap
	sleep 0.5
	stop_kt "$s"
}

# Hybrid vsock: the listener is a unix socket laid out as Kata's Cloud
# Hypervisor sandboxes have it, under the real /run.
scenario_unix() { # scenario strategy
	local dir
	dir=/run/vc/vm/$(sandbox_of "$1")
	mkdir -p "$dir"
	tap_scenario "$1" "$2" "unix:$dir/clh.sock_$PORT" "$dir/clh.sock_$PORT"
}

# A real guest over vhost-vsock: katatrace-bpf in sink mode listens on
# AF_VSOCK port PORT itself; a nested QEMU guest (CID 3) sends the golden
# streams to CID 2. sock-drain listens too in case the port is still free
# (it reports "address in use" otherwise), so the traffic is always counted.
# Without nested KVM (or with L3_ACCEL=tcg on the kernel command line) the
# guest runs under TCG inside TCG: much slower, and only with -cpu qemu64.
# vhost-guest requires KVM (its KVM exits are checked): there the host
# fails the scenario when its guest ran under TCG.
l3_accel() { # scenario: sets ACCEL, CPU and LIMIT (seconds) for the nested guest
	local why=""
	ACCEL=kvm CPU=host LIMIT=150
	if [ ! -e /dev/kvm ]; then
		why="no nested KVM"
	elif [ "${L3_ACCEL:-}" = tcg ]; then
		why="L3_ACCEL=tcg"
	fi
	if [ -n "$why" ]; then
		ACCEL=tcg CPU=qemu64 LIMIT=400
		say "$1: the nested guest runs under TCG ($why)"
		case $1 in vhost-guest-*) say "$1: this scenario requires KVM: it will fail" ;; esac
	fi
	echo "$ACCEL${why:+: $why}" >"/out/$1.l3-accel"
}

#
# vhost-echo also runs katatrace-bpf probe three times, standalone, beside it:
# on the nested guest's sandbox (sandbox/ID in the fake run root) and on
# the listener (pid/PID), both with kprobe spans on the vhost-vsock path,
# and on the sandbox's KVM exits (--event tracepoint:kvm:kvm_exit).
# The probes resolve their targets at start, and the guest must not send
# before they are ready: QEMU starts paused (-S) with its monitor on a pipe,
# its vhost worker exists once its device is set up, and "cont" starts the
# guest when both probes are ready. The sandbox's probe stops by itself
# when QEMU exits.
scenario_vhost_guest() { # scenario strategy [echo]
	local s=$1 qemu sandbox pidfile=/run/l3.pid paused=""
	sandbox=$(sandbox_of "$s")
	l3_accel "$s"
	if [ -n "${3:-}" ]; then
		# tap beside a listener that answers: bytes also flow host -> guest
		start_drain "$s" --echo "vsock:$PORT"
		start_kt "$s" --mode tap --attach "$2" || { stop_drain; return 0; }
		mkdir -p "$PROBE_ROOT/run/vc/vm/$sandbox"
		pidfile=$PROBE_ROOT/run/vc/vm/$sandbox/pid
		rm -f /run/l3mon.in /run/l3mon.out
		mkfifo /run/l3mon.in /run/l3mon.out
		paused="-S -monitor pipe:/run/l3mon"
	else
		start_kt "$s" --attach "$2" || return 0
		start_drain "$s" "vsock:$PORT"
	fi
	# shellcheck disable=SC2086
	timeout "$LIMIT" qemu-system-x86_64 -accel "$ACCEL" -cpu "$CPU" -m 256M -smp 1 -M pc \
		-bios /usr/share/qemu/qboot.rom -name "sandbox-$sandbox" \
		-device vhost-vsock-pci,guest-cid=3 -kernel /lane/l3/vmlinuz -initrd /lane/l3/initrd.cpio \
		-append "console=ttyS0 panic=-1 quiet SEED=$SEED PORT=$PORT" \
		-nographic -no-reboot -nodefaults -serial stdio -pidfile "$pidfile" $paused \
		</dev/null >"/out/$s.guest.console" 2>"/out/$s.qemu.err" &
	qemu=$!
	# QEMU removes its pid file when it exits: keep a copy.
	wait_until 30 test -s "$pidfile" && cp "$pidfile" "/out/$s.qemu.pid"
	if [ -n "$paused" ]; then
		start_probes "$s" "$sandbox"
		# opened read-write: never blocks, even if QEMU is gone
		echo cont 1<>/run/l3mon.in
	fi
	wait "$qemu"
	echo $? >"/out/$s.qemu.rc"
	if grep -q '^listening on' "/out/$s.drain"; then
		wait_until 10 drained "$s" "$(wc -l </lane/conns.guest)" ||
			say "$s: the listener still has open connections"
	fi
	sleep 0.5
	if [ -n "$paused" ]; then
		wait_until 10 gone "$SANDBOX_PROBE" || say "$s: the sandbox probe did not stop with its QEMU"
		stop_probe "$s.probe" "$SANDBOX_PROBE"
		if [ -n "$KVM_PROBE" ]; then
			wait_until 10 gone "$KVM_PROBE" || say "$s: the KVM exits' probe did not stop with its QEMU"
			stop_probe "$s.probe-kvm" "$KVM_PROBE"
		fi
		stop_probe "$s.probe-other" "$OTHER_PROBE"
		rm -f /run/l3mon.in /run/l3mon.out
	fi
	kill -HUP "$KT_PID" 2>/dev/null # every counter into its log
	sleep 0.3
	stop_kt "$s"
	stop_drain
}

# The runtime's ttrpc to the agent in a real guest (QEMU: the agent listens
# on vsock port 1024): tap mode beside sock-drain on PORT. In the VM a
# runtime stand-in (ttrpc-peer shim) dials CID 3 port 1024 until the guest's
# agent (ttrpc-peer agent) listens, sends two CreateContainer requests (the
# first with the traceparent TTRPC_TRACE/TTRPC_SPAN), half-closes and reads
# both answers; the guest then sends the agent's span of that call to PORT.
# QEMU runs without a wrapper process, whose command line would name the
# guest's CID too: the CID's owner must be QEMU. katatrace-bpf makes one
# trace of the sandbox (defaults): the guest's clock is set from QEMU's RTC
# at a second's granularity, hence a wider --clock-skew.
scenario_vhost_ttrpc() { # scenario strategy
	local s=$1 qemu guard
	l3_accel "$s"
	start_drain "$s" "vsock:$PORT"
	STITCH="--complete-delay 300 --clock-skew 3000"
	start_kt "$s" --mode tap --attach "$2" || { STITCH="--no-collate --no-complete-traces"; stop_drain; return 0; }
	STITCH="--no-collate --no-complete-traces"
	qemu-system-x86_64 -accel "$ACCEL" -cpu "$CPU" -m 256M -smp 1 -M pc \
		-bios /usr/share/qemu/qboot.rom -name "sandbox-$(sandbox_of "$s")" \
		-device vhost-vsock-pci,guest-cid=3 -kernel /lane/l3/vmlinuz -initrd /lane/l3/initrd.cpio \
		-append "console=ttyS0 panic=-1 quiet SEED=$SEED PORT=$PORT MODE=ttrpc" \
		-nographic -no-reboot -nodefaults -serial stdio -pidfile /run/l3.pid \
		</dev/null >"/out/$s.guest.console" 2>"/out/$s.qemu.err" &
	qemu=$!
	(sleep "$LIMIT" && kill -TERM "$qemu") 2>/dev/null &
	guard=$!
	wait_until 30 test -s /run/l3.pid && cp /run/l3.pid "/out/$s.qemu.pid"
	timeout "$LIMIT" "$BIN/ttrpc-peer" shim vsock:3:1024 /lane/ttrpc/request.bin 2 \
		>"/out/$s.shim.log" 2>&1
	echo $? >"/out/$s.shim.rc"
	wait "$qemu"
	echo $? >"/out/$s.qemu.rc"
	kill "$guard" 2>/dev/null
	wait_until 10 drained "$s" "$(wc -l </lane/conns.ttrpc)" ||
		say "$s: the listener still has open connections"
	sleep 0.5
	kill -HUP "$KT_PID" 2>/dev/null
	sleep 0.3
	stop_kt "$s"
	stop_drain
}

run_scenario() { # PATH-STRATEGY
	local strategy=${1##*-} path=${1%-*}
	case $path in
	vsock-loopback) scenario_vsock_loopback "$1" "$strategy" ;;
	vsock-sink) scenario_vsock_sink "$1" "$strategy" ;;
	unix) scenario_unix "$1" "$strategy" ;;
	vhost-guest) scenario_vhost_guest "$1" "$strategy" ;;
	vhost-echo) scenario_vhost_guest "$1" "$strategy" echo ;;
	vhost-ttrpc) scenario_vhost_ttrpc "$1" "$strategy" ;;
	*) say "unknown scenario $1" ;;
	esac
}
