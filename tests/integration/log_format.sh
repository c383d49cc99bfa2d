#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# --log-format json: everything katatrace-bpf writes on stderr is JSON lines,
# each read back by Node's JSON.parse (tests/receiver/log-lines.js, no
# project code) and by jq where it is installed. The daemon with real BPF, a
# hostile guest and a socket path that is not UTF-8: its lines and its
# broker's (a forked child, its own pid), the ready line, the SIGHUP
# counters, the memory line and the summary with its counters as members,
# which must agree with the workload. The probe, whose summary is printed
# with stdio. decode: a file name that is not UTF-8, a frame that does not
# decode.
. "$(dirname "$0")/lib.sh"
LINES=$RECV/log-lines.js
FFFD=$'\xef\xbf\xbd' # U+FFFD, what a byte that is not UTF-8 becomes
READY='"msg":"ready: '

# Every line of FILE one JSON object (log-lines.js; jq too where installed);
# the lines as log-lines.js prints them in FILE.facts.
json_lines() { # file
	if ! node "$LINES" "$1" >"$1.facts" 2>"$1.problems"; then
		head -n 20 "$1.problems" | sed 's/^/    /'
		return 1
	fi
	[ -s "$1.facts" ] || return 1
	command -v jq >/dev/null || return 0
	jq -R -r 'fromjson | if type == "object" then "object" else "other" end' "$1" >"$1.jq" || return 1
	[ "$(grep -cx object "$1.jq")" = "$(wc -l <"$1")" ]
}

# How many lines of FILE.facts have this level, component and pid ("" for
# any; "!N" for any but N) and a msg containing TEXT (as JSON writes it:
# "\t" for a tab); with MEMBERS, members containing that too.
count() { # file level component pid text [members]
	L=$2 C=$3 P=$4 M=$5 F=${6:-} awk -F'\t' '
		($1 == ENVIRON["L"] || ENVIRON["L"] == "") && ($2 == ENVIRON["C"] || ENVIRON["C"] == "") &&
		(ENVIRON["P"] == "" || $3 == ENVIRON["P"] || (substr(ENVIRON["P"], 1, 1) == "!" && $3 != substr(ENVIRON["P"], 2))) &&
		index($4, ENVIRON["M"]) && index($5, ENVIRON["F"]) { n++ } END { print n + 0 }' "$1.facts"
}
has() { [ "$(count "$@")" -gt 0 ]; }
none() { [ "$(count "$@")" = 0 ]; }
lines() { wc -l <"$1.facts"; }
# The last line: its level, component, pid, msg's start and members.
last_line_is() { # file level component pid msg-start members...
	local f=$1 last
	last=$(tail -n 1 "$f.facts")
	[ "$(cut -f1-3 <<<"$last")" = "$2	$3	$4" ] || return 1
	[[ $(cut -f4 <<<"$last") == "\"$5"* ]] || return 1
	shift 5
	local m
	for m in "$@"; do [[ $(cut -f5 <<<"$last") == *"$m"* ]] || return 1; done
}

# ------------------------------------------------------------ the daemon
log "run --log-format json: the daemon, its broker, a hostile guest, SIGHUP, the summary"
make_workload || abort_test "workload generation"
# A listener path that is not UTF-8 and holds a tab: the sink logs it.
BAD=$RUN_ROOT/bad$'\xff\t'dir
mkdir -p "$BAD"
# The broker cannot bind a control socket in a directory whose parent is
# missing: its warning is a line of the broker's own.
READY_RE=$READY launch_kt "$KT" run --log-format json --log-level debug --no-collate --no-complete-traces \
	--socket-path "$UDS_CLH" --socket-path "$UDS_FC" --socket-path "$BAD/x.sock" \
	--run-root "$RUN_ROOT" --exporter file --output "$OUT/spans.otlp.jsonl" \
	--control-socket "$OUT/missing/dir/control.sock" || abort_test "setup"
check "relay sent every stream" run_relay --max-chunk 65536
kill -HUP "$KT_PID"
check "SIGHUP: the counters line" wait_for 10 "the counters" grep -q '"msg":"katatrace-bpf counters"' "$OUT/kt.log"
sleep 0.5
stop_kt
LOG=$OUT/daemon.log
cp "$OUT/kt.log" "$LOG"
check "exit status 0 after the stop signal" [ "$KT_RC" = 0 ]
check "stderr: every line one JSON object with time, level, msg, pid, component" json_lines "$LOG"
check "only the daemon's and the broker's lines" [ "$(count "$LOG" "" daemon "" "")" -gt 0 -a \
	"$(($(count "$LOG" "" daemon "" "") + $(count "$LOG" "" broker "" "")))" = "$(lines "$LOG")" ]
check "the daemon's lines carry its pid" none "$LOG" "" daemon "!$KT_PID" ""
check "the broker's warning: a line of its own, with its own pid" \
	has "$LOG" warn broker "!$KT_PID" "control socket: cannot make the directory of $OUT/missing/dir/control.sock"
check "debug lines at --log-level debug, no trace lines" \
	[ "$(count "$LOG" debug "" "" "")" -gt 0 -a "$(count "$LOG" trace "" "" "")" = 0 ]
check "the ready line" has "$LOG" info daemon "$KT_PID" '"ready: sink mode'
check "the garbage frame's warning names its sandbox" \
	has "$LOG" warn daemon "$KT_PID" "sandbox $SB_FC: frame 2 (200 bytes"
check "the oversize frame's error names its sandbox" \
	has "$LOG" error daemon "$KT_PID" "sandbox $SB_FC: frame header announces 9223372036854775808 bytes"
check "a socket path that is not UTF-8: U+FFFD for its byte, the tab escaped" \
	has "$LOG" info daemon "$KT_PID" "sink: listening on $RUN_ROOT/bad$FFFD\\tdir/x.sock_10240\""
check "SIGHUP: one line, every counter a member" \
	has "$LOG" info daemon "$KT_PID" '"katatrace-bpf counters"' '"bytes_captured":'
check "SIGHUP: the control socket's counters too (the last ones)" \
	has "$LOG" info daemon "$KT_PID" '"katatrace-bpf counters"' '"control_errors":'
check "memory line: the default --memory-budget (256 MiB) as a member" \
	has "$LOG" info daemon "$KT_PID" '"katatrace-bpf memory: peak ' '"memory_budget":268435456}'
check "the summary is the last line, its counters as members" \
	last_line_is "$LOG" info daemon "$KT_PID" "katatrace-bpf summary: bytes captured " \
	"\"spans_exported\":$EXPECTED_SPANS," '"decode_errors":1,' '"lost_records":0,'
check "summary text: spans exported = $EXPECTED_SPANS" [ "$(summary_value 'spans exported')" = "$EXPECTED_SPANS" ]
check "summary text: exactly one decode error (the garbage frame)" [ "$(summary_value 'decode errors')" = 1 ]

# ------------------------------------------------------------ the probe
log "probe --log-format json: its summary, printed with stdio, is a JSON line too"
sleep 600 &
SLEEPER=$!
PIDS+=("$SLEEPER")
READY_RE=$READY launch_kt "$KT" probe "pid/$SLEEPER" --event tracepoint:sched:sched_process_exit \
	--exporter file --output "$OUT/probe.otlp.jsonl" --log-format json ||
	abort_test "probe pid/$SLEEPER did not start"
kill "$SLEEPER"
wait "$SLEEPER" 2>/dev/null
for _ in $(seq 1 150); do kill -0 "$KT_PID" 2>/dev/null || break; sleep 0.1; done
kill -TERM "$KT_PID" 2>/dev/null # still running: a failure below
wait "$KT_PID"
KT_RC=$?
LOG=$OUT/probe.log
cp "$OUT/kt.log" "$LOG"
check "probe: exit status 0, stopped by the target's end" [ "$KT_RC" = 0 ]
check "probe: every line one JSON object" json_lines "$LOG"
check "probe: every line the probe's, with its pid" none "$LOG" "" "" "!$KT_PID" ""
check "probe: component probe" [ "$(count "$LOG" "" probe "$KT_PID" "")" = "$(lines "$LOG")" ]
check "probe: the ready line names the process" has "$LOG" info probe "$KT_PID" "\"ready: probing process $SLEEPER "
check "probe: the summary, last, says the target's one exit" \
	last_line_is "$LOG" info probe "$KT_PID" "katatrace-bpf probe summary: stopped by process $SLEEPER ended; hits 1, spans 0, events 1,"

# ------------------------------------------------------------ decode
log "decode --log-format json: a file name that is not UTF-8, a frame that does not decode"
decode() { # log args...: runs decode, its pid in DPID, its exit status in DRC
	local log=$1
	shift
	"$KT" decode --log-format json "$@" >"$OUT/decode.out" 2>"$log" &
	DPID=$!
	wait "$DPID"
	DRC=$?
}
decode "$OUT/decode1.log" "$OUT/no"$'\xff\x01'such
check "decode: exit status 2 for a file that is not there" [ "$DRC" = 2 ]
check "decode: one JSON line" [ "$(json_lines "$OUT/decode1.log" && lines "$OUT/decode1.log")" = 1 ]
check "decode: its name with U+FFFD and the control byte escaped" \
	has "$OUT/decode1.log" error decode "$DPID" "\"$OUT/no$FFFD\\u0001such: No such file or directory\""
decode "$OUT/decode2.log" "$OUT/garbage.bin"
check "decode: exit status 1 for a frame rejected" [ "$DRC" = 1 ]
check "decode: every line one JSON object" json_lines "$OUT/decode2.log"
check "decode: the frame's warning" has "$OUT/decode2.log" warn decode "$DPID" "garbage.bin: frame 1 (200 bytes"
check "decode: the summary, last, one frame and its decode error as members" \
	last_line_is "$OUT/decode2.log" info decode "$DPID" "katatrace-bpf summary: " '"frames":1,' '"decode_errors":1,'

finish
