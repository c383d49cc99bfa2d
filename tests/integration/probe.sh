#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# katatrace-bpf probe TARGET, end to end with real BPF: span probes on the C
# test target's work() (pid/ target, a second untargeted copy running the
# same code at the same time), on a Go function whose stack moves
# (stackgrow's main.grow), on a pair of syscall tracepoints, a bpftrace
# program's printf lines as log records (-e and -f), --event records,
# sandbox/ and pod/ targets in a fake
# Kata run root whose "hypervisor" is the C target (spans and records in the
# sandbox's trace, the probe ending with the hypervisor), the same sandbox
# with copies of the C target playing its shim and its (forking) virtiofsd
# ($shim_pid, $virtiofsd_pid in specs and in a bpftrace program) beside
# decoys running the same copies for another sandbox or as a shim's `start`
# invocation, node (no filter: two processes of one binary), exported over
# OTLP/HTTP to tests/receiver/receiver.js and to an OTLP/JSON file read back
# by tests/receiver/otlpjson.js, then checked by tests/receiver/check-probe.js
# against what the targets are documented to do. Then the command's errors,
# each with its exit status and message.
. "$(dirname "$0")/lib.sh"
log "probe: span probes, tracepoints and bpftrace on pid/, sandbox/ and pod/ targets"
PT=$ROOT_DIR/build/targets/c/probe_target
SG=$ROOT_DIR/build/targets/go/stackgrow
[ -x "$PT" ] && [ -x "$SG" ] && [ -x "$SG.stripped" ] ||
	abort_test "setup: make build/targets/c/probe_target build/targets/go/stackgrow build/targets/go/stackgrow.stripped"
CALLS=40
SLEEP_US=3000
CHECK=$RECV/check-probe.js

# ------------------------------------------------------------ helpers

# A C target waiting for its byte: its stdin is OUT/NAME.in, whose writer the
# caller opens afterwards on fd 7 or 8 (closed in every other child, so that
# closing it gives the target its end of input). Sets TPID.
start_target() { # name calls
	rm -f "$OUT/$1.in" "$OUT/$1.out"
	mkfifo "$OUT/$1.in"
	"$PT" "$2" "$SLEEP_US" <"$OUT/$1.in" >"$OUT/$1.out" 7>&- 8>&- &
	TPID=$!
	PIDS+=("$TPID")
}
target_ready() { [ "$(head -n 1 "$OUT/$1.out" 2>/dev/null)" = "$2" ]; }
target_done() { grep -qx done "$OUT/$1.out"; }
# The target's threads but the main one: its two workers.
worker_tids() { ls "/proc/$1/task" | grep -vx "$1" | sort -n | paste -sd, -; }

launch_probe() { # probe args...
	rm -f "$OUT/kt.log"
	"$KT" probe "$@" >"$OUT/kt.out" 2>"$OUT/kt.log" 7>&- 8>&- &
	KT_PID=$!
	PIDS+=("$KT_PID")
	if ! wait_for 30 "katatrace-bpf probe to be ready" grep -q ' ready: ' "$OUT/kt.log"; then
		tail -n 20 "$OUT/kt.log" | sed 's/^/    kt: /'
		return 1
	fi
}

# Waits for the probe to stop by itself; TERM after SECS (a failure then).
wait_probe() { # secs
	local deadline=$((SECONDS + $1))
	while kill -0 "$KT_PID" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
	if kill -0 "$KT_PID" 2>/dev/null; then
		echo "  katatrace-bpf probe still running after $1 s: stopped with SIGTERM"
		kill -TERM "$KT_PID"
	fi
	wait "$KT_PID"
	KT_RC=$?
	SUMMARY=$(grep 'katatrace-bpf probe summary:' "$OUT/kt.log" | tail -n 1)
	echo "  $SUMMARY"
}

# bpftrace, started by the probe, has its N uprobes (default 1) attached
# (bpftool lists the perf events of each process).
bpftrace_attached() { # [N]
	local bt
	bt=$(pgrep -P "$KT_PID" -x bpftrace | head -n 1)
	[ -n "$bt" ] && bpftool -j perf show 2>/dev/null |
		node -e 'const l=JSON.parse(require("fs").readFileSync(0,"utf8"));process.exit(l.filter((e)=>e.pid==process.argv[1]&&e.fd_type==="uprobe").length>=Number(process.argv[2])?0:1)' "$bt" "${1:-1}"
}

run_check() { # label mode args...: check-probe.js, its lines shown, its counts absorbed
	local label=$1
	shift
	node "$CHECK" "$@" >"$OUT/check-$label.log" 2>&1
	sed 's/^/  /' "$OUT/check-$label.log" | grep -v '^  [0-9]* passed'
	absorb_counts "$OUT/check-$label.log"
}

no_records() { [ ! -s "$1" ]; }

# ------------------------------------------------------------ 1, 2: pid/ target, OTLP/HTTP
log "1. pid/ target, work() with 2 arguments, OTLP/HTTP; an untargeted copy runs the same code"
start_receiver --logs-out "$OUT/logs.jsonl" || abort_test "setup: receiver"
start_target a $CALLS
A=$TPID
exec 7>"$OUT/a.in"
start_target b $CALLS
B=$TPID
exec 8>"$OUT/b.in"
wait_for 10 "the targets' pids" target_ready a "$A" && wait_for 10 "" target_ready b "$B" ||
	abort_test "setup: the C targets did not start"
TIDS=$(worker_tids "$A")
launch_probe "pid/$A" --span 'uprobe:/proc/$pid/exe:work' --args 2 --otlp-endpoint "$RECV_URL" \
	--batch-timeout 200 || abort_test "probe pid/$A did not start"
check "ready line names the process and filters on it" grep -q "ready: probing process $A with 1 probe, filter: pids $A\$" "$OUT/kt.log"
echo x >&7
echo x >&8
check "targeted copy finished its calls" wait_for 20 "target a" target_done a
check "untargeted copy finished its calls" wait_for 20 "target b" target_done b
exec 7>&- 8>&-
wait_probe 15
check_exit "probe exits 0, stopped by the target's end" "$KT_RC" 0 "$OUT/kt.log" "stopped by process $A ended"
check "summary: spans $CALLS, spans exported $CALLS, lost 0" \
	grep -q "hits $CALLS, spans $CALLS, .* lost 0, spans exported $CALLS, log records exported 0" "$OUT/kt.log"
cp "$OUT/spans.jsonl" "$OUT/http-spans.jsonl"
run_check http work --file "$OUT/http-spans.jsonl" --calls $CALLS --pid "$A" --tids "$TIDS" \
	--sleep-us $SLEEP_US --exe "$PT" --target "pid/$A" --other-pid "$B" --spec "uprobe:/proc/$A/exe:work"
check "no log records without a bpftrace program" no_records "$OUT/logs.jsonl"

# ------------------------------------------------------------ 1b: file exporter, --duration
log "1b. the same to an OTLP/JSON file, stopped by --duration"
start_target c $CALLS
C=$TPID
exec 7>"$OUT/c.in"
wait_for 10 "the target's pid" target_ready c "$C" || abort_test "setup: C target"
TIDS=$(worker_tids "$C")
launch_probe "pid/$C" --span 'uprobe:/proc/$pid/exe:work' --args 2 --duration 3 \
	--exporter file --output "$OUT/work.otlp.jsonl" || abort_test "probe pid/$C did not start"
echo x >&7
check "target finished its calls" wait_for 20 "target c" target_done c
wait_probe 10
exec 7>&-
check_exit "probe exits 0, stopped by --duration" "$KT_RC" 0 "$OUT/kt.log" "stopped by --duration;"
check "otlpjson.js reads the file" node "$RECV/otlpjson.js" "$OUT/work.otlp.jsonl" --out "$OUT/file-spans.jsonl"
run_check file work --file "$OUT/file-spans.jsonl" --calls $CALLS --pid "$C" --tids "$TIDS" \
	--sleep-us $SLEEP_US --exe "$PT" --target "pid/$C"

# ------------------------------------------------------------ 3: Go
# Held stopped right after its exec (PTRACE_TRACEME), so that /proc/PID/exe
# is stackgrow and no main.grow has run before the probe is attached.
GO_CALLS=5
GO_WORKERS=1
go_round() { # executable label
	local bin=$1 label=$2
	rm -f "$OUT/go.in" && mkfifo "$OUT/go.in"
	python3 "$ROOT_DIR/tests/tools/held.py" "$bin" $GO_CALLS $GO_WORKERS <"$OUT/go.in" >"$OUT/go.out" 2>&1 7>&- 8>&- &
	PIDS+=($!)
	exec 7>"$OUT/go.in"
	wait_for 10 "stackgrow held" grep -qE '^[0-9]+$' "$OUT/go.out" || abort_test "setup: $label"
	G=$(head -n 1 "$OUT/go.out")
	launch_probe "pid/$G" --span 'uprobe:/proc/$pid/exe:main.grow' --args 1 --otlp-endpoint "$RECV_URL" \
		--batch-timeout 200 || abort_test "probe pid/$G ($label) did not start"
	rm -f "$OUT/spans.jsonl"
	echo go >&7
	exec 7>&-
	check "$label exited 0" wait_for 20 "$label's end" grep -qx 'exit=0' "$OUT/go.out"
	check "$label's stack moved during probed calls (moved > 0)" \
		grep -qE "^calls=$((GO_CALLS * (GO_WORKERS + 1))) grow=[0-9]+ moved=[1-9][0-9]*$" "$OUT/go.out"
	wait_probe 10
	check_exit "probe of $label exits 0, stopped by the target's end" "$KT_RC" 0 "$OUT/kt.log" \
		"stopped by process $G ended"
	# main.grow(0) runs CALLS x (WORKERS + 1) times, each 33 levels deep; the
	# probe keeps the outermost KT_PROBE_DEPTH (4, bpf/probe_span.h) of a thread.
	run_check "go-$label" go --file "$OUT/spans.jsonl" --runs $((GO_CALLS * (GO_WORKERS + 1))) --levels 33 \
		--depth 4 --pid "$G" --target "pid/$G"
}
log "3. stackgrow's main.grow, whose stack moves during the probed calls"
go_round "$SG" stackgrow
# stripped: no symbol table, main.grow found in the Go function table (.gopclntab)
log "3b. the same in a stripped copy of stackgrow"
go_round "$SG.stripped" stackgrow.stripped
check "the stripped copy has no symbol table" bash -c "! readelf -SW '$SG.stripped' | grep -q ' .symtab '"

# ------------------------------------------------------------ 4: tracepoints
log "4. tracepoint pair sys_enter/sys_exit_clock_nanosleep (glibc's usleep)"
rm -f "$OUT/spans.jsonl"
start_target d $CALLS
D=$TPID
exec 7>"$OUT/d.in"
wait_for 10 "the target's pid" target_ready d "$D" || abort_test "setup: C target"
launch_probe "pid/$D" --span 'tracepoint:syscalls:sys_enter_clock_nanosleep/sys_exit_clock_nanosleep' \
	--otlp-endpoint "$RECV_URL" --batch-timeout 200 || abort_test "probe pid/$D did not start"
echo x >&7
check "target finished its calls" wait_for 20 "target d" target_done d
exec 7>&-
wait_probe 10
check_exit "probe exits 0, stopped by the target's end" "$KT_RC" 0 "$OUT/kt.log" "stopped by process $D ended"
run_check tp nanosleep --file "$OUT/spans.jsonl" --calls $CALLS --pid "$D" --target "pid/$D"

# ------------------------------------------------------------ 5: bpftrace
BT_PROG='uprobe:/proc/$pid/exe:work { printf("work %d %d\n", arg0, arg1); }'
BT_ARGS=(-e "$BT_PROG")
bpftrace_round() { # name exporter-args...
	local name=$1
	shift
	start_target "$name" $CALLS
	local T=$TPID
	exec 7>"$OUT/$name.in"
	wait_for 10 "the target's pid" target_ready "$name" "$T" || abort_test "setup: C target"
	launch_probe "pid/$T" "${BT_ARGS[@]}" "$@" || abort_test "probe pid/$T ${BT_ARGS[0]} did not start"
	check "bpftrace's uprobe attached" wait_for 30 "bpftrace's uprobe" bpftrace_attached
	echo x >&7
	check "target finished its calls" wait_for 20 "target $name" target_done "$name"
	exec 7>&-
	wait_probe 15
	check_exit "probe exits 0, stopped by the target's end" "$KT_RC" 0 "$OUT/kt.log" "stopped by process $T ended"
	BT_TARGET="pid/$T"
}
log "5. a bpftrace program's printf lines as log records, OTLP/HTTP"
rm -f "$OUT/logs.jsonl"
stop_receiver
start_receiver --logs-out "$OUT/logs.jsonl" || abort_test "setup: receiver"
bpftrace_round e --otlp-endpoint "$RECV_URL" --batch-timeout 200
run_check bt-http logs --file "$OUT/logs.jsonl" --calls $CALLS --target "$BT_TARGET"
check "no spans without span probes" no_records "$OUT/spans.jsonl"
log "5b. the same to an OTLP/JSON file"
bpftrace_round f --exporter file --output "$OUT/bt.otlp.jsonl"
check "otlpjson.js reads the file's log records" node "$RECV/otlpjson.js" "$OUT/bt.otlp.jsonl" \
	--out "$OUT/bt-file-spans.jsonl" --logs-out "$OUT/bt-file-logs.jsonl"
run_check bt-file logs --file "$OUT/bt-file-logs.jsonl" --calls $CALLS --target "$BT_TARGET"
log "5c. the program from a file (-f), its variables expanded too"
printf '%s\n' "$BT_PROG" >"$OUT/prog.bt"
BT_ARGS=(-f "$OUT/prog.bt")
rm -f "$OUT/logs.jsonl"
bpftrace_round g --otlp-endpoint "$RECV_URL" --batch-timeout 200
run_check bt-file-prog logs --file "$OUT/logs.jsonl" --calls $CALLS --target "$BT_TARGET"
BT_ARGS=(-e "$BT_PROG")

# ------------------------------------------------------------ 5d: --event
log "5d. --event on work(): a log record per call with its arguments"
rm -f "$OUT/logs.jsonl"
start_target h $CALLS
H=$TPID
exec 7>"$OUT/h.in"
wait_for 10 "the target's pid" target_ready h "$H" || abort_test "setup: C target"
launch_probe "pid/$H" --event 'uprobe:/proc/$pid/exe:work' --args 2 --otlp-endpoint "$RECV_URL" \
	--batch-timeout 200 || abort_test "probe pid/$H --event did not start"
echo x >&7
check "target finished its calls" wait_for 20 "target h" target_done h
exec 7>&-
wait_probe 10
check_exit "probe exits 0, stopped by the target's end" "$KT_RC" 0 "$OUT/kt.log" "stopped by process $H ended"
run_check events events --file "$OUT/logs.jsonl" --calls $CALLS --pid "$H" --target "pid/$H"

# ------------------------------------------------------------ 6: sandbox/ and pod/
log "6. sandbox/ and pod/ targets in a fake Kata run root, the C target as hypervisor"
RR=$OUT/r
SB=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
POD_NS=probe-ns
POD_NAME=web-$$
fake_kata_pod "$RR" "$SB" "$POD_NS" "$POD_NAME"
# The C target takes no extra arguments (no -name sandbox-ID): the state
# file's hypervisor pid points at it.
hypervisor() { # name: starts the "hypervisor", fd 7 its stdin's writer; HV its pid
	start_target "$1" $CALLS
	HV=$TPID
	exec 7>"$OUT/$1.in"
	wait_for 10 "the hypervisor's pid" target_ready "$1" "$HV" || abort_test "setup: hypervisor"
	fake_hypervisor_pid "$RR" "$SB" "$HV"
}
rm -f "$OUT/spans.jsonl" "$OUT/logs.jsonl"
hypervisor hv1
HV_TIDS=$(worker_tids "$HV")
launch_probe "pod/$POD_NS/$POD_NAME" --run-root "$RR" --span 'uprobe:/proc/$hypervisor_pid/exe:work' --args 2 \
	--otlp-endpoint "$RECV_URL" --batch-timeout 200 || abort_test "probe pod/$POD_NS/$POD_NAME did not start"
check "ready line names the sandbox and pod" grep -qF "ready: probing sandbox $SB (pod $POD_NS/$POD_NAME)" "$OUT/kt.log"
echo x >&7
check "hypervisor finished its calls" wait_for 20 "hv1" target_done hv1
exec 7>&-
wait_probe 10
check_exit "probe exits 0, stopped by the hypervisor's end" "$KT_RC" 0 "$OUT/kt.log" \
	"stopped by sandbox $SB ended (its hypervisor, process $HV, exited)"
SBOPTS=(--sandbox "$SB" --pod-ns "$POD_NS" --pod-name "$POD_NAME" --hv-pid "$HV" --hv-name cloud-hypervisor)
run_check pod work --file "$OUT/spans.jsonl" --calls $CALLS --pid "$HV" --tids "$HV_TIDS" \
	--sleep-us $SLEEP_US --exe "$PT" --target "pod/$POD_NS/$POD_NAME" "${SBOPTS[@]}"

rm -f "$OUT/spans.jsonl" "$OUT/logs.jsonl"
hypervisor hv2
launch_probe "sandbox/$SB" --run-root "$RR" \
	-e 'uprobe:/proc/$hypervisor_pid/exe:work { printf("work %d %d\n", arg0, arg1); }' \
	--otlp-endpoint "$RECV_URL" --batch-timeout 200 || abort_test "probe sandbox/$SB -e did not start"
check "bpftrace's uprobe attached" wait_for 30 "bpftrace's uprobe" bpftrace_attached
echo x >&7
check "hypervisor finished its calls" wait_for 20 "hv2" target_done hv2
exec 7>&-
wait_probe 15
check_exit "probe exits 0, stopped by the hypervisor's end" "$KT_RC" 0 "$OUT/kt.log" \
	"stopped by sandbox $SB ended (its hypervisor, process $HV, exited)"
SBOPTS[7]=$HV
run_check sandbox-bt logs --file "$OUT/logs.jsonl" --calls $CALLS --target "sandbox/$SB" "${SBOPTS[@]}"
stop_receiver

# ------------------------------------------------------------ 6b: the sandbox's shim and virtiofsd
log "6b. sandbox/: \$shim_pid and \$virtiofsd_pid of real processes, decoys running the same code"
# Copies of the C target named as Kata's shim and virtiofsd, with their
# command lines (sandbox/sandbox_procs.h): the serving shim's flags with
# -id SB; virtiofsd as the Go runtime starts it, with the sandbox's shared
# directory, forking (the child serves, its parent waits). Decoys run the
# same files: a shim of another sandbox, the shim's short-lived `start`
# invocation for this one, a virtiofsd of another sandbox.
BIN=$OUT/bin
mkdir -p "$BIN"
SHIM_EXE=$BIN/containerd-shim-kata-v2
VFS_EXE=$BIN/virtiofsd
cp "$PT" "$SHIM_EXE"
cp "$PT" "$VFS_EXE"
OTHER_SB=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
SHARED=$RR/run/kata-containers/shared/sandboxes
SHIM_FLAGS=(-namespace k8s.io -address /run/containerd/containerd.sock -publish-binary /usr/bin/containerd)
SHIM_CALLS=12
VFS_CALLS=16
DECOY_CALLS=20

# A copy of the C target playing another program: that program's command
# line, its own parameters in PROBE_TARGET_ARGS. Its stdin is OUT/NAME.in,
# opened read-write (no end of input): a byte written to it starts the
# calls, a signal stops it. RPID: the pid started.
start_role() { # name calls [VAR=VALUE...] exe args...
	local name=$1 calls=$2
	shift 2
	rm -f "$OUT/$name.in" "$OUT/$name.out"
	mkfifo "$OUT/$name.in"
	env PROBE_TARGET_ARGS="$calls $SLEEP_US" "$@" <>"$OUT/$name.in" >"$OUT/$name.out" 7>&- 8>&- &
	RPID=$!
	PIDS+=("$RPID")
}
# The pid a role's process printed (a forking one's child); role_ready once printed.
role_pid() { head -n 1 "$OUT/$1.out" 2>/dev/null; }
role_ready() { role_pid "$1" | grep -qxE '[0-9]+'; }
parent_of() { awk '{print $4}' "/proc/$1/stat"; }
all_done() { local r; for r; do target_done "$r" || return 1; done; } # names...

hypervisor hv3
start_role shim $SHIM_CALLS "$SHIM_EXE" "${SHIM_FLAGS[@]}" -id "$SB"
SHIM=$RPID
start_role shim-start $DECOY_CALLS "$SHIM_EXE" "${SHIM_FLAGS[@]}" -id "$SB" start
DECOY_START=$RPID
start_role shim-other $DECOY_CALLS "$SHIM_EXE" "${SHIM_FLAGS[@]}" -id "$OTHER_SB"
DECOY_SHIM=$RPID
start_role vfs $VFS_CALLS PROBE_TARGET_FORK=1 "$VFS_EXE" --syslog --cache=auto \
	"--shared-dir=$SHARED/$SB/shared" --fd=3 --thread-pool-size=1 --announce-submounts
VFS_PARENT=$RPID
start_role vfs-other $DECOY_CALLS "$VFS_EXE" "--socket-path=$RR/run/vc/vm/$OTHER_SB/vhost-fs.sock" \
	"--shared-dir=$SHARED/$OTHER_SB/shared"
DECOY_VFS=$RPID
for r in shim shim-start shim-other vfs vfs-other; do
	wait_for 10 "the $r's pid" role_ready "$r" || abort_test "setup: the $r did not start"
done
VFS=$(role_pid vfs)
PIDS+=("$VFS")
DECOYS=$DECOY_START,$DECOY_SHIM,$DECOY_VFS
# Each printed its own pid; virtiofsd's is its child's.
as_started() {
	[ "$(role_pid shim)" = "$SHIM" ] && [ "$(role_pid shim-start)" = "$DECOY_START" ] &&
		[ "$(role_pid shim-other)" = "$DECOY_SHIM" ] && [ "$(role_pid vfs-other)" = "$DECOY_VFS" ] &&
		[ "$(parent_of "$VFS")" = "$VFS_PARENT" ]
}
as_started || abort_test "setup: the pids printed are not the ones started (virtiofsd: child $VFS of $VFS_PARENT)"
same_files() {
	[ "/proc/$DECOY_START/exe" -ef "$SHIM_EXE" ] && [ "/proc/$DECOY_SHIM/exe" -ef "$SHIM_EXE" ] &&
		[ "/proc/$SHIM/exe" -ef "$SHIM_EXE" ] && [ "/proc/$DECOY_VFS/exe" -ef "$VFS_EXE" ] &&
		[ "/proc/$VFS/exe" -ef "$VFS_EXE" ]
}
check "the decoys run the very files the probes are set on" same_files
SHIM_TIDS=$(worker_tids "$SHIM" | tr , /)
VFS_TIDS=$(worker_tids "$VFS" | tr , /)
BT_ROLES='uprobe:/proc/$shim_pid/exe:work /pid == $shim_pid/ { printf("shim %d %d %d\n", pid, arg0, arg1); }
uprobe:/proc/$virtiofsd_pid/exe:work /pid == $virtiofsd_pid/ { printf("virtiofsd %d %d %d\n", pid, arg0, arg1); }'
launch_probe "sandbox/$SB" --run-root "$RR" --span 'uprobe:/proc/$shim_pid/exe:work' \
	--span 'uprobe:/proc/${virtiofsd_pid}/exe:work' --args 2 -e "$BT_ROLES" \
	--exporter file --output "$OUT/procs.otlp.jsonl" || abort_test "probe sandbox/$SB of its shim and virtiofsd did not start"
check "ready line: 2 probes and a program, filter the hypervisor, shim and virtiofsd child started ($HV,$SHIM,$VFS)" \
	grep -qF "ready: probing sandbox $SB (pod $POD_NS/$POD_NAME) with 2 probes and a bpftrace program, filter: pids $HV,$SHIM,$VFS" "$OUT/kt.log"
check "bpftrace's 2 uprobes attached" wait_for 30 "bpftrace's uprobes" bpftrace_attached 2
for r in shim shim-start shim-other vfs vfs-other; do printf x >"$OUT/$r.in"; done
check "shim, virtiofsd and decoys finished their calls" wait_for 20 "the roles' calls" \
	all_done shim shim-start shim-other vfs vfs-other
exec 7>&- # the hypervisor's end of input: it exits, and so the sandbox ends
wait_probe 15
check_exit "probe exits 0, stopped by the hypervisor's end" "$KT_RC" 0 "$OUT/kt.log" \
	"stopped by sandbox $SB ended (its hypervisor, process $HV, exited)"
N=$((SHIM_CALLS + VFS_CALLS))
check "summary: hits, spans, bpftrace records $N, lost 0, all exported" grep -qF \
	"hits $N, spans $N, events 0, bpftrace records $N, lost 0, spans exported $N, log records exported $N" "$OUT/kt.log"
check "otlpjson.js reads the file's spans and log records" node "$RECV/otlpjson.js" "$OUT/procs.otlp.jsonl" \
	--out "$OUT/procs-spans.jsonl" --logs-out "$OUT/procs-logs.jsonl"
SBOPTS[7]=$HV
run_check procs procs --file "$OUT/procs-spans.jsonl" --logs "$OUT/procs-logs.jsonl" --sleep-us $SLEEP_US \
	--target "sandbox/$SB" "${SBOPTS[@]}" --decoys "$DECOYS" \
	"role=shim,pid=$SHIM,calls=$SHIM_CALLS,tids=$SHIM_TIDS,exe=$SHIM_EXE" \
	"role=virtiofsd,pid=$VFS,calls=$VFS_CALLS,tids=$VFS_TIDS,exe=$VFS_EXE"
# The sandbox keeps no process: the errors below find none.
kill "$SHIM" "$VFS" "$VFS_PARENT" "$DECOY_START" "$DECOY_SHIM" "$DECOY_VFS" 2>/dev/null
wait "$SHIM" "$VFS_PARENT" "$DECOY_START" "$DECOY_SHIM" "$DECOY_VFS" 2>/dev/null

# ------------------------------------------------------------ 6c: node
log "6c. node: a uprobe on one binary, calls from two processes of it, no filter"
NODE_EXE=$BIN/kt-node-target
cp "$PT" "$NODE_EXE"
N1_CALLS=10
N2_CALLS=14
start_role n1 $N1_CALLS "$NODE_EXE"
N1=$RPID
start_role n2 $N2_CALLS "$NODE_EXE"
N2=$RPID
wait_for 10 "the first's pid" target_ready n1 "$N1" && wait_for 10 "the second's pid" target_ready n2 "$N2" ||
	abort_test "setup: the node's processes did not start"
N1_TIDS=$(worker_tids "$N1" | tr , /)
N2_TIDS=$(worker_tids "$N2" | tr , /)
launch_probe node --span "uprobe:$NODE_EXE:work" --args 2 --duration 2 \
	--exporter file --output "$OUT/node.otlp.jsonl" || abort_test "probe node did not start"
check "ready line: the node, no filter" grep -qF "ready: probing the node with 1 probe, filter: none (every process)" "$OUT/kt.log"
printf x >"$OUT/n1.in"
printf x >"$OUT/n2.in"
check "both processes finished their calls" wait_for 20 "the node's processes" all_done n1 n2
wait_probe 10
check_exit "probe exits 0, stopped by --duration" "$KT_RC" 0 "$OUT/kt.log" "stopped by --duration;"
N=$((N1_CALLS + N2_CALLS))
check "summary: hits and spans $N, lost 0" grep -qF "hits $N, spans $N, events 0, bpftrace records 0, lost 0, spans exported $N" "$OUT/kt.log"
check "otlpjson.js reads the file" node "$RECV/otlpjson.js" "$OUT/node.otlp.jsonl" --out "$OUT/node-spans.jsonl"
run_check node procs --file "$OUT/node-spans.jsonl" --sleep-us $SLEEP_US --target node \
	"role=first,pid=$N1,calls=$N1_CALLS,tids=$N1_TIDS,exe=$NODE_EXE,spec=uprobe:$NODE_EXE:work" \
	"role=second,pid=$N2,calls=$N2_CALLS,tids=$N2_TIDS,exe=$NODE_EXE,spec=uprobe:$NODE_EXE:work"
kill "$N1" "$N2" 2>/dev/null
wait "$N1" "$N2" 2>/dev/null

# ------------------------------------------------------------ 7: errors
log "7. errors: exit status and message"
sleep 60 7>&- 8>&- &
S=$!
PIDS+=("$S")
err_run() { # probe args...: ERC and OUT/err.log
	rm -f "$OUT/err.log"
	timeout 30 "$KT" probe "$@" >/dev/null 2>"$OUT/err.log" 7>&- 8>&-
	ERC=$?
}
err_run foo/1 --span 'uprobe:/bin/true:main'
check_exit "unknown target kind: exit 1" "$ERC" 1 "$OUT/err.log" 'unknown target "foo/1": expected node, sandbox/ID, pod/NAMESPACE/NAME or pid/PID'
err_run sandbox/nope --run-root "$RR" --span 'uprobe:/proc/$hypervisor_pid/exe:work'
check_exit "sandbox not found: exit 1, the sandboxes there listed" "$ERC" 1 "$OUT/err.log" "no sandbox nope under $RR/run/vc or $RR/run/kata; sandboxes there: $SB"
err_run pod/$POD_NS/nope --run-root "$RR" --span 'uprobe:/proc/$hypervisor_pid/exe:work'
check_exit "pod not found: exit 1, the Kata pods listed" "$ERC" 1 "$OUT/err.log" "no pod $POD_NS/nope: no sandbox's CRI annotations name it; Kata pods: $POD_NS/$POD_NAME"
err_run pid/999999 --span 'uprobe:/proc/$pid/exe:work'
check_exit "a process that does not exist: exit 1" "$ERC" 1 "$OUT/err.log" "no process 999999"
err_run "sandbox/$SB" --run-root "$RR" --span 'uprobe:/proc/$container_pid/exe:main'
check_exit "\$container_pid on a sandbox: exit 2, the container runs inside the VM" "$ERC" 2 "$OUT/err.log" "\$container_pid: the containers of sandbox $SB run inside its VM and have no host process id"
err_run "sandbox/$SB" --run-root "$RR" --span 'uprobe:/proc/$shim_pid/exe:work'
check_exit "\$shim_pid of a sandbox with no shim process: exit 2, the variable and the sandbox named" "$ERC" 2 "$OUT/err.log" \
	"\$shim_pid: sandbox $SB has no runtime shim process; this target has \$sandbox_id"
err_run "sandbox/$SB" --run-root "$RR" -e 'uprobe:/proc/$virtiofsd_pid/exe:work { @ = count(); }'
check_exit "\$virtiofsd_pid in a program, no virtiofsd: exit 2, the variable and the sandbox named" "$ERC" 2 "$OUT/err.log" \
	"\$virtiofsd_pid: sandbox $SB has no virtiofsd process; this target has \$sandbox_id (a bpftrace variable of that name is written \$\$virtiofsd_pid)"
err_run "pid/$S" --span 'uprobe:/proc/$no_such_var/exe:main'
check_exit "unknown variable in a spec: exit 2, named" "$ERC" 2 "$OUT/err.log" '$no_such_var: unknown variable; this target has $pid'
err_run "pid/$S" --span 'uprobe:/proc/$pid/exe:kt_no_such_symbol'
check_exit "symbol not in the binary: exit 1, named" "$ERC" 1 "$OUT/err.log" "no function symbol 'kt_no_such_symbol'"
if [ -e /sys/bus/event_source/devices/kprobe ] || [ -e /sys/kernel/tracing/kprobe_events ]; then
	# a kernel with kprobes attaches it: the kernel lane's business, not an error here
	echo "  skipped: this kernel has kprobes (no error to check)"
else
	err_run "pid/$S" --span 'kprobe:do_nanosleep'
	check_exit "kprobe on this kernel: exit 1, no kprobes" "$ERC" 1 "$OUT/err.log" "kprobe:do_nanosleep: this kernel has no kprobes"
fi
KT_BPFTRACE=/nonexistent err_run "pid/$S" -e 'BEGIN { exit(); }'
check_exit "bpftrace missing: exit 1, says how to install it" "$ERC" 1 "$OUT/err.log" "bpftrace not found at /nonexistent (KT_BPFTRACE): install Debian's bpftrace package"
err_run
check_exit "no TARGET: exit 2" "$ERC" 2 "$OUT/err.log" "no TARGET (node, sandbox/ID, pod/NAMESPACE/NAME or pid/PID)"
err_run "pid/$S"
check_exit "nothing to probe: exit 2" "$ERC" 2 "$OUT/err.log" "nothing to probe: give --span, --event, -e PROGRAM or -f FILE"
kill "$S" 2>/dev/null

finish
