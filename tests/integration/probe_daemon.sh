#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Probes through the running daemon, end to end with real BPF: katatrace-bpf
# run (unprivileged after start-up, its broker binding the root-only control
# socket) in a fake Kata run root whose sandbox's "hypervisor" is the C test
# target; two probes on that sandbox hand their records to the daemon (a
# span probe, and a bpftrace program's printf lines), `probe list` shows
# both, `probe stop` ends one, and stopping the daemon ends the other after
# it has sent everything. The daemon's OTLP/JSON file, read back by
# tests/receiver/otlpjson.js and checked by tests/receiver/check-probe.js,
# must hold every span and record in the sandbox's trace with the probe's
# resource and the id the daemon gave it. A daemon taken over (run
# --takeover) hands a probe's connection to the new one, which exports its
# spans under the same id while the probe notices nothing. Then: a probe naming its own
# exporter bypasses the daemon; a daemon killed under a probe ends it with
# an error; someone not root is refused at the socket file and, when the
# file lets them through, by the daemon itself; and the command line's
# mistakes.
. "$(dirname "$0")/lib.sh"
log "probe_daemon: probes exporting through katatrace-bpf run, probe list, probe stop"
PT=$ROOT_DIR/build/targets/c/probe_target
SG=$ROOT_DIR/build/targets/go/stackgrow
[ -x "$PT" ] && [ -x "$SG" ] || abort_test "setup: make build/targets/c/probe_target build/targets/go/stackgrow"
command -v setpriv >/dev/null || abort_test "setup: setpriv (util-linux) is missing"
CALLS=30
SLEEP_US=2000
CHECK=$RECV/check-probe.js

# ------------------------------------------------------------ the fake node

RR=$OUT/r
CTL=$RR/run/katatrace-bpf/control.sock
SB=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
POD_NS=probe-ns
POD_NAME=db-$$
fake_kata_pod "$RR" "$SB" "$POD_NS" "$POD_NAME"

# The sandbox's "hypervisor": the C target, waiting for a byte on fd 7's fifo.
rm -f "$OUT/hv.in" "$OUT/hv.out"
mkfifo "$OUT/hv.in"
"$PT" "$CALLS" "$SLEEP_US" <"$OUT/hv.in" >"$OUT/hv.out" 7>&- &
HV=$!
PIDS+=("$HV")
exec 7>"$OUT/hv.in"
hv_ready() { [ "$(head -n 1 "$OUT/hv.out" 2>/dev/null)" = "$HV" ]; }
hv_done() { grep -qx done "$OUT/hv.out"; }
wait_for 10 "the hypervisor's pid" hv_ready || abort_test "setup: the C target did not start"
fake_hypervisor_pid "$RR" "$SB" "$HV"
HV_TIDS=$(ls "/proc/$HV/task" | grep -vx "$HV" | sort -n | paste -sd, -)

# ------------------------------------------------------------ helpers

start_daemon() { # label run-args...: D_PID, its log OUT/LABEL.log
	local label=$1
	shift
	rm -f "$OUT/$label.log"
	"$KT" run --run-root "$RR" --mode tap --no-complete-traces --batch-timeout 200 "$@" \
		>/dev/null 2>"$OUT/$label.log" 7>&- &
	D_PID=$!
	PIDS+=("$D_PID")
	D_LOG=$OUT/$label.log
	wait_for 30 "the daemon ($label) to be ready" grep -q ' ready: ' "$D_LOG" || {
		tail -n 20 "$D_LOG" | sed 's/^/    daemon: /'
		return 1
	}
}

stop_daemon() { # signal: waits; D_RC
	kill -"$1" "$D_PID" 2>/dev/null
	local n=300
	while kill -0 "$D_PID" 2>/dev/null && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
	kill -0 "$D_PID" 2>/dev/null && { echo "  the daemon ignored SIG$1 for 30 s: killed"; kill -KILL "$D_PID"; }
	wait "$D_PID"
	D_RC=$?
}

start_probe() { # name probe-args...: PRB_<name> its pid, OUT/probe-NAME.log
	local name=$1
	shift
	rm -f "$OUT/probe-$name.log"
	"$KT" probe "$@" >/dev/null 2>"$OUT/probe-$name.log" 7>&- &
	printf -v "PRB_$name" '%s' $!
	PIDS+=($!)
	wait_for 30 "probe $name to be ready" grep -q ' ready: ' "$OUT/probe-$name.log" || {
		tail -n 20 "$OUT/probe-$name.log" | sed 's/^/    probe: /'
		return 1
	}
}

wait_exit() { # pid secs: its exit status in RC (TERM after SECS: a failure)
	local n=$(($2 * 10))
	while kill -0 "$1" 2>/dev/null && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
	kill -0 "$1" 2>/dev/null && { echo "  pid $1 still running after $2 s: stopped"; kill -TERM "$1"; }
	wait "$1"
	RC=$?
}

ctl() { # probe args (list, stop ID): its stdout in OUT/ctl.out, stderr OUT/ctl.err, CRC
	timeout 20 "$KT" probe "$@" >"$OUT/ctl.out" 2>"$OUT/ctl.err" 7>&-
	CRC=$?
}

# `probe list` has a row for probe ID: pid PID, target, probes, SPANS spans (any with "-").
list_row() { # id pid target probes spans
	awk -v id="$1" -v pid="$2" -v tgt="$3" -v spans="$5" '
		$1 == id && $2 == pid && $6 == tgt && (spans == "-" || $4 == spans) { ok = 1 }
		END { exit !ok }' "$OUT/ctl.out" && grep -E "^$1 " "$OUT/ctl.out" | grep -qF -- "$4"
}

list_has_spans() { ctl list --run-root "$RR" && list_row 1 "$PRB_span" "sandbox/$SB" "span" "$CALLS"; }

bpftrace_attached() { # the probe's bpftrace has its uprobe (bpftool lists each process's perf events)
	local bt
	bt=$(pgrep -P "$1" -x bpftrace | head -n 1)
	[ -n "$bt" ] && bpftool -j perf show 2>/dev/null |
		node -e 'const l=JSON.parse(require("fs").readFileSync(0,"utf8"));process.exit(l.some((e)=>e.pid==process.argv[1]&&e.fd_type==="uprobe")?0:1)' "$bt"
}

run_check() { # label mode args...
	local label=$1
	shift
	node "$CHECK" "$@" >"$OUT/check-$label.log" 2>&1
	sed 's/^/  /' "$OUT/check-$label.log" | grep -v '^  [0-9]* passed'
	absorb_counts "$OUT/check-$label.log"
}

mode_of() { stat -c %a "$1"; }
owner_of() { stat -c %U "$1"; }
no_probe_line() { ! grep -q "probe $1 (pid" "$D_LOG"; }

# ------------------------------------------------------------ 1: the daemon and its socket
log "1. the daemon binds the control socket, root's alone, and runs unprivileged"
start_daemon d1 --exporter file --output "$OUT/daemon.otlp.jsonl" || abort_test "the daemon did not start"
D1=$D_PID
check "the daemon says where its control socket is" grep -qF "control socket: $CTL" "$D_LOG"
check "the daemon runs as nobody after start-up" grep -q "running as nobody (uid 65534), no capabilities" "$D_LOG"
check "the socket is mode 600" [ "$(mode_of "$CTL")" = 600 ]
check "the socket belongs to root" [ "$(owner_of "$CTL")" = root ]
check "its directory is mode 700" [ "$(mode_of "$(dirname "$CTL")")" = 700 ]
ctl list --run-root "$RR"
list_empty() { [ "$CRC" = 0 ] && [ "$(wc -l <"$OUT/ctl.out")" = 1 ] && grep -q '^ID  *PID  *AGE  *SPANS  *LOGS  *TARGET  *PROBES$' "$OUT/ctl.out"; }
check "probe list with no probe: exit 0, the header alone" list_empty

# ------------------------------------------------------------ 2: two probes through it
log "2. a span probe and a bpftrace program on sandbox/$SB, both through the daemon"
start_probe span "sandbox/$SB" --run-root "$RR" --span 'uprobe:/proc/$hypervisor_pid/exe:work' --args 2 \
	--batch-timeout 200 || abort_test "the span probe did not start"
check "the span probe exports through the daemon as probe 1" \
	grep -qF "exporting to the daemon (pid $D1) as probe 1" "$OUT/probe-span.log"
start_probe bt "sandbox/$SB" --run-root "$RR" --export-via daemon --batch-timeout 200 \
	-e 'uprobe:/proc/$hypervisor_pid/exe:work { printf("work %d %d\n", arg0, arg1); }' ||
	abort_test "the bpftrace probe did not start"
check "the bpftrace probe is probe 2" grep -qF "exporting to the daemon (pid $D1) as probe 2" "$OUT/probe-bt.log"
check "bpftrace's uprobe attached" wait_for 30 "bpftrace's uprobe" bpftrace_attached "$PRB_bt"
check "the daemon logs both probes" grep -qF "probe 2 (pid $PRB_bt): sandbox/$SB, 1 probe, sandbox $SB" "$D_LOG"
ctl list --run-root "$RR"
sed 's/^/    /' "$OUT/ctl.out"
check "probe list: exit 0" [ "$CRC" = 0 ]
check "probe list: probe 1, its pid, target and span probe, 0 spans yet" \
	list_row 1 "$PRB_span" "sandbox/$SB" "span uprobe:/proc/$HV/exe:work" 0
check "probe list: probe 2, its pid, target and bpftrace program" \
	list_row 2 "$PRB_bt" "sandbox/$SB" "bpftrace -e" 0

# A probe naming its own exporter, on the same calls: it does not go through the daemon.
start_probe own "pid/$HV" --run-root "$RR" --span 'uprobe:/proc/$pid/exe:work' \
	--exporter file --output "$OUT/own.otlp.jsonl" --duration 3 || abort_test "the self-exporting probe did not start"
echo x >&7
check "the hypervisor made its calls" wait_for 20 "the hypervisor's calls" hv_done
check "probe list counts probe 1's $CALLS spans" wait_for 10 "probe 1's spans in probe list" list_has_spans

# ------------------------------------------------------------ 3: probe stop
log "3. probe stop 1 ends the span probe; the bpftrace probe runs on"
ctl stop 1 --run-root "$RR"
check_exit "probe stop 1: exit 0, said" "$CRC" 0 "$OUT/ctl.out" "probe 1: told to stop"
wait_exit "$PRB_span" 15
check_exit "the span probe exits 0, stopped by probe stop" "$RC" 0 "$OUT/probe-span.log" "stopped by probe stop 1 (pid "
check "its summary: $CALLS spans, all exported" \
	grep -q "hits $CALLS, spans $CALLS, .* lost 0, spans exported $CALLS, log records exported 0" "$OUT/probe-span.log"
check "the daemon logs its end with $CALLS spans" grep -qF "probe 1 (pid $PRB_span) ended: $CALLS spans, 0 log records" "$D_LOG"
ctl stop 1 --run-root "$RR"
check_exit "probe stop 1 again: exit 1, no such probe" "$CRC" 1 "$OUT/ctl.err" \
	"no probe 1: katatrace-bpf probe list shows the probes the daemon serves"
ctl list --run-root "$RR"
only_probe_2() { [ "$(wc -l <"$OUT/ctl.out")" = 2 ] && list_row 2 "$PRB_bt" "sandbox/$SB" "bpftrace" -; }
check "probe list: only probe 2 left" only_probe_2

# ------------------------------------------------------------ 4: a probe with its own exporter
log "4. --exporter file on a probe: it exported by itself, the daemon was not asked"
wait_exit "$PRB_own" 15
check_exit "it exits 0 after --duration, its $CALLS spans exported" "$RC" 0 "$OUT/probe-own.log" \
	"spans $CALLS, events 0, bpftrace records 0, lost 0, spans exported $CALLS,"
check "it exported to its file" grep -q "exporting to $OUT/own.otlp.jsonl" "$OUT/probe-own.log"
check "the daemon never heard of it (no probe 3)" no_probe_line 3

# ------------------------------------------------------------ 4b: the pod's Go shim
log "4b. the pod's shim, a Go program whose stack moves, probed by pod name through the daemon"
# A copy of stackgrow named as Kata's shim, with the serving shim's command
# line (its own parameters in STACKGROW_ARGS), held right after its exec
# (PTRACE_TRACEME) so that no main.grow runs before the probe is attached.
mkdir -p "$OUT/bin"
cp "$SG" "$OUT/bin/containerd-shim-kata-v2"
GO_CALLS=5
GO_WORKERS=1
rm -f "$OUT/go.in" && mkfifo "$OUT/go.in"
STACKGROW_ARGS="$GO_CALLS $GO_WORKERS" python3 "$ROOT_DIR/tests/tools/held.py" "$OUT/bin/containerd-shim-kata-v2" \
	-namespace k8s.io -address /run/containerd/containerd.sock -publish-binary /usr/bin/containerd -id "$SB" \
	<"$OUT/go.in" >"$OUT/go.out" 2>&1 7>&- 8>&- &
PIDS+=($!)
exec 8>"$OUT/go.in"
wait_for 10 "the Go shim held" grep -qE '^[0-9]+$' "$OUT/go.out" || abort_test "setup: the Go shim"
GS=$(head -n 1 "$OUT/go.out")
start_probe go "pod/$POD_NS/$POD_NAME" --run-root "$RR" --span 'uprobe:/proc/$shim_pid/exe:main.grow' --args 1 \
	--batch-timeout 200 8>&- || abort_test "the probe of the Go shim did not start"
check "the Go shim's probe is probe 3, through the daemon" grep -qF "exporting to the daemon (pid $D1) as probe 3" "$OUT/probe-go.log"
check "its filter has the Go shim" grep -qE "filter: pids ([0-9]+,)*$GS(,|$)" "$OUT/probe-go.log"
echo go >&8
exec 8>&-
check "the Go shim exited 0" wait_for 20 "the Go shim's end" grep -qx 'exit=0' "$OUT/go.out"
check "its goroutines' stacks moved during probed calls (moved > 0)" \
	grep -qE "^calls=$((GO_CALLS * (GO_WORKERS + 1))) grow=[0-9]+ moved=[1-9][0-9]*$" "$OUT/go.out"
go_spans_listed() {
	ctl list --run-root "$RR" &&
		list_row 3 "$PRB_go" "pod/$POD_NS/$POD_NAME" "span uprobe:/proc/$GS/exe:main.grow" $((GO_CALLS * (GO_WORKERS + 1) * 4))
}
check "probe list counts its spans" wait_for 10 "probe 3's spans in probe list" go_spans_listed
ctl stop 3 --run-root "$RR"
wait_exit "$PRB_go" 15
check_exit "the Go shim's probe exits 0 after probe stop 3" "$RC" 0 "$OUT/probe-go.log" "stopped by probe stop 3 (pid "

# ------------------------------------------------------------ 5: the daemon stops under a probe
log "5. SIGTERM to the daemon: the bpftrace probe is told to stop and sends what it has"
stop_daemon TERM
check "the daemon exits 0" [ "$D_RC" = 0 ]
wait_exit "$PRB_bt" 15
check_exit "the bpftrace probe exits 0, stopped by the daemon" "$RC" 0 "$OUT/probe-bt.log" \
	"stopped by the daemon is stopping;"
check "the bpftrace probe made $CALLS records and exported them" \
	grep -q "bpftrace records $CALLS, lost 0, spans exported 0, log records exported $CALLS" "$OUT/probe-bt.log"
check "the daemon logs probe 2's end with its $CALLS records" \
	grep -qF "probe 2 (pid $PRB_bt) ended: 0 spans, $CALLS log records" "$D_LOG"
SUMMARY=$(grep 'katatrace-bpf summary:' "$D_LOG" | tail -n 1)
echo "  $SUMMARY"
GO_SPANS=$((GO_CALLS * (GO_WORKERS + 1) * 4))
check "the daemon exported probe 1's $CALLS spans and probe 3's $GO_SPANS" \
	[ "$(summary_value 'spans exported')" = "$((CALLS + GO_SPANS))" ]
check "the socket file is gone with the daemon" [ ! -e "$CTL" ]

check "otlpjson.js reads the daemon's file" node "$RECV/otlpjson.js" "$OUT/daemon.otlp.jsonl" \
	--out "$OUT/spans.jsonl" --logs-out "$OUT/logs.jsonl"
SBOPTS=(--sandbox "$SB" --pod-ns "$POD_NS" --pod-name "$POD_NAME" --hv-pid "$HV" --hv-name cloud-hypervisor)
# The spans of each probe, by the id the daemon gave it.
of_probe() { # id in out
	node -e 'const [id, i, o] = process.argv.slice(1); const fs = require("fs");
		const keep = fs.readFileSync(i, "utf8").split("\n").filter(Boolean).filter((l) =>
			JSON.parse(l).resource.some((a) => a.key === "katatrace.probe.id" && String(a.value.value) === id));
		fs.writeFileSync(o, keep.map((l) => l + "\n").join(""));' "$@"
}
of_probe 1 "$OUT/spans.jsonl" "$OUT/spans-1.jsonl"
of_probe 3 "$OUT/spans.jsonl" "$OUT/spans-3.jsonl"
all_of_1_or_3() { [ "$(($(count_lines "$OUT/spans-1.jsonl") + $(count_lines "$OUT/spans-3.jsonl")))" = "$(count_lines "$OUT/spans.jsonl")" ]; }
check "every span is probe 1's or probe 3's" all_of_1_or_3
# main.grow(0) runs CALLS x (WORKERS + 1) times, each 33 levels deep; the
# probe keeps the outermost KT_PROBE_DEPTH (4, bpf/probe_span.h) of a thread.
run_check go go --file "$OUT/spans-3.jsonl" --runs $((GO_CALLS * (GO_WORKERS + 1))) --levels 33 --depth 4 \
	--pid "$GS" --target "pod/$POD_NS/$POD_NAME" --probe-id 3 "${SBOPTS[@]}"
run_check spans work --file "$OUT/spans-1.jsonl" --calls $CALLS --pid "$HV" --tids "$HV_TIDS" \
	--sleep-us $SLEEP_US --exe "$PT" --target "sandbox/$SB" --probe-id 1 "${SBOPTS[@]}"
run_check logs logs --file "$OUT/logs.jsonl" --calls $CALLS --target "sandbox/$SB" --probe-id 2 "${SBOPTS[@]}"
node "$RECV/otlpjson.js" "$OUT/own.otlp.jsonl" --out "$OUT/own-spans.jsonl" >/dev/null 2>&1
check "the self-exporting probe's $CALLS spans carry no probe id (not through a daemon)" \
	node -e 'const l=require("fs").readFileSync(process.argv[1],"utf8").split("\n").filter(Boolean).map(JSON.parse);process.exit(l.length==process.argv[2]&&l.every((s)=>!s.resource.some((a)=>a.key==="katatrace.probe.id"))?0:1)' "$OUT/own-spans.jsonl" "$CALLS"
exec 7>&-

# ------------------------------------------------------------ 5b: a takeover under a probe
log "5b. run --takeover under a probe: it goes on through the new daemon and never notices"
# A second C target, released only after the takeover: every span comes after it.
rm -f "$OUT/hv2.in" "$OUT/hv2.out"
mkfifo "$OUT/hv2.in"
"$PT" "$CALLS" "$SLEEP_US" <"$OUT/hv2.in" >"$OUT/hv2.out" 7>&- 9>&- &
HV2=$!
PIDS+=("$HV2")
exec 9>"$OUT/hv2.in"
wait_for 10 "the second target's pid" bash -c "[ \"\$(head -n 1 '$OUT/hv2.out' 2>/dev/null)\" = $HV2 ]" ||
	abort_test "setup: the second C target did not start"
start_daemon old --exporter file --output "$OUT/old.otlp.jsonl" 9>&- || abort_test "the daemon to be taken over did not start"
OLD=$D_PID
OLD_LOG=$D_LOG
start_probe moved "pid/$HV2" --run-root "$RR" --span 'uprobe:/proc/$pid/exe:work' --args 2 \
	--batch-timeout 200 9>&- || abort_test "the probe to be handed over did not start"
check "the probe exports through the first daemon as probe 1" \
	grep -qF "exporting to the daemon (pid $OLD) as probe 1" "$OUT/probe-moved.log"
start_daemon new --takeover --exporter file --output "$OUT/new.otlp.jsonl" 9>&- ||
	abort_test "the daemon taking over did not start"
NEW=$D_PID
wait_exit "$OLD" 30
check "the first daemon exits 0 after handing over" [ "$RC" = 0 ]
check "... having handed the probe over, told nothing" \
	grep -qF "probe 1 (pid $PRB_moved) handed over: 0 spans, 0 log records here" "$OLD_LOG"
check "the new daemon serves the probe with its id" \
	grep -qF "probe 1 (pid $PRB_moved): pid/$HV2, taken over with its connection" "$D_LOG"
ctl list --run-root "$RR"
check "probe list, from the new daemon: probe 1, its pid and target" \
	list_row 1 "$PRB_moved" "pid/$HV2" "span uprobe:/proc/$HV2/exe:work" 0
echo x >&9
exec 9>&-
check "the second target made its calls" wait_for 20 "the second target's calls" grep -qx done "$OUT/hv2.out"
# the target ends after its calls, and the probe with it
wait_exit "$PRB_moved" 15
check_exit "the probe exits 0 when its process ends, its $CALLS spans exported" "$RC" 0 \
	"$OUT/probe-moved.log" "stopped by process $HV2 ended; hits $CALLS, spans $CALLS, events 0, bpftrace records 0, lost 0, spans exported $CALLS,"
check "it never heard from either daemon" bash -c "! grep -qiE 'control socket|closed|daemon is stopping' '$OUT/probe-moved.log'"
check "the new daemon got its $CALLS spans" \
	wait_for 10 "the probe's end" grep -qF "probe 1 (pid $PRB_moved) ended: $CALLS spans, 0 log records" "$D_LOG"
stop_daemon TERM
check "the new daemon exits 0" [ "$D_RC" = 0 ]
node "$RECV/otlpjson.js" "$OUT/new.otlp.jsonl" --out "$OUT/moved-spans.jsonl" >/dev/null 2>&1
moved_in_new() {
	node -e 'const l=require("fs").readFileSync(process.argv[1],"utf8").split("\n").filter(Boolean).map(JSON.parse);
		process.exit(l.length==process.argv[2]&&l.every((s)=>s.resource.some((a)=>a.key==="katatrace.probe.id"&&String(a.value.value)==="1"))?0:1)' \
		"$OUT/moved-spans.jsonl" "$CALLS"
}
check "the new daemon exported the $CALLS spans as probe 1's" moved_in_new
check "the first daemon exported none of them" bash -c "! [ -s '$OUT/old.otlp.jsonl' ] || ! grep -q work '$OUT/old.otlp.jsonl'"

# ------------------------------------------------------------ 6: the daemon killed under a probe
log "6. kill -9 of the daemon: the probe through it ends with an error"
start_daemon d2 --exporter file --output "$OUT/daemon2.otlp.jsonl" || abort_test "the second daemon did not start"
sleep 60 7>&- &
S=$!
PIDS+=("$S")
start_probe lost "pid/$S" --run-root "$RR" --span 'tracepoint:syscalls:sys_enter_nanosleep/sys_exit_nanosleep' ||
	abort_test "the probe on sleep did not start"
check "it exports through the second daemon" grep -qF "exporting to the daemon (pid $D_PID) as probe 1" "$OUT/probe-lost.log"
stop_daemon KILL
wait_exit "$PRB_lost" 15
check_exit "the probe exits 1, saying the daemon went away" "$RC" 1 "$OUT/probe-lost.log" \
	"the daemon (pid $D_PID) closed its control socket: the probe ends"
check "the broker removed the socket file after the daemon's death" wait_for 10 "the socket file to go" test ! -e "$CTL"

# ------------------------------------------------------------ 7: only root
log "7. only root: refused at the socket file, and by the daemon itself"
# In a directory everyone may pass through (the test's own is root's alone).
PUB=$(mktemp -d /tmp/ktctl.XXXXXX)
chmod 755 "$PUB"
PCTL=$PUB/control.sock
start_daemon d3 --control-socket "$PCTL" --exporter file --output "$OUT/daemon3.otlp.jsonl" ||
	abort_test "the third daemon did not start"
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
as_nobody "$KT" probe list --control-socket "$PCTL" >/dev/null 2>"$OUT/ctl.err" 7>&-
CRC=$?
check_exit "probe list as nobody: exit 1, only root may" "$CRC" 1 "$OUT/ctl.err" \
	"$PCTL: only root may use the daemon's control socket"
# The socket file opened to everyone (a mistake): the daemon still refuses.
chmod 666 "$PCTL"
as_nobody "$KT" probe list --control-socket "$PCTL" >/dev/null 2>"$OUT/ctl.err" 7>&-
CRC=$?
check_exit "the same through an open file: exit 1, the daemon hung up" "$CRC" 1 "$OUT/ctl.err" \
	"the daemon closed the connection without an answer"
check "the daemon says whom it refused" grep -q "control socket $PCTL: refused pid [0-9]* (uid 65534): only root may use it" "$D_LOG"
kill -HUP "$D_PID"
check "the daemon counts it (control_refused 1)" wait_for 5 "the counters" grep -qE '^control_refused +1 ' "$D_LOG"
ctl list --control-socket "$PCTL"
check "root is still served" [ "$CRC" = 0 ]
stop_daemon TERM
rm -rf "$PUB"

# ------------------------------------------------------------ 8: mistakes
log "8. errors: exit status and message"
err() { # probe args...: ERC, OUT/err.log
	timeout 20 "$KT" probe "$@" >/dev/null 2>"$OUT/err.log" 7>&-
	ERC=$?
}
err list --run-root "$RR"
check_exit "probe list without a daemon: exit 1, says none listens" "$ERC" 1 "$OUT/err.log" \
	"no daemon listens on $CTL (katatrace-bpf run makes it)"
err "pid/$S" --run-root "$RR" --export-via daemon --span 'tracepoint:syscalls:sys_enter_nanosleep/sys_exit_nanosleep'
check_exit "--export-via daemon without a daemon: exit 1" "$ERC" 1 "$OUT/err.log" "no daemon listens on $CTL"
err "pid/$S" --export-via daemon --exporter file --output "$OUT/x.jsonl" --span 'uprobe:/proc/$pid/exe:main'
check_exit "--export-via daemon with an exporter: exit 2" "$ERC" 2 "$OUT/err.log" \
	"--export-via daemon: the daemon's exporter is used, not --exporter"
err stop
check_exit "probe stop without an ID: exit 2" "$ERC" 2 "$OUT/err.log" "probe stop: which probe? give its ID"
err stop one
check_exit "probe stop of a word: exit 2" "$ERC" 2 "$OUT/err.log" "probe stop: 'one' is not a probe ID"
err list --span 'uprobe:/bin/true:main'
check_exit "probe list with a probe: exit 2" "$ERC" 2 "$OUT/err.log" "probe list asks the daemon about its probes: it takes no probes"
err list --control-socket none
check_exit "probe list with --control-socket none: exit 1" "$ERC" 1 "$OUT/err.log" "--control-socket none: there is no daemon to ask"

finish
