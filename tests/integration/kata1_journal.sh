#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Kata 1.x agents: the guest journal relayed as syslog records without any
# separator on port 5140 (here a Firecracker sandbox's hybrid-vsock listener
# <uds>_5140, drained by sock-drain: tap mode, BPF capture). Two concurrent
# connections in random chunks: journald's RFC 3164 records of every
# severity (one over the 16 KiB record limit, one with invalid UTF-8, one
# with control characters), and RFC 5424 records (structured data, an
# offset, no timestamp). A third connection stays open after its record: the
# idle flush must deliver it before the connection ends.
# Round 1: OTLP/HTTP to tests/receiver/receiver.js, decoded as
# ExportLogsServiceRequest by the upstream root and checked field by field by
# check-logs.js against expectations written here. Round 2: the same streams
# over OTLP/gRPC (LogsService/Export), checked the same way. Round 3: the
# console exporter, checked line by line.
. "$(dirname "$0")/lib.sh"
log "Kata 1.x: guest journal over port 5140, tap mode"
RUN_ROOT=$OUT/r
SB=kata1-fc-journal
mkdir -p "$RUN_ROOT/run/vc/firecracker/$SB/root"
L=$RUN_ROOT/run/vc/firecracker/$SB/root/kata.hvsock_5140

# ------------------------------------------------------------ streams
NOW=$(date -u +%s)
TS=$(date -u -d "@$NOW" '+%b %e %H:%M:%S') # RFC 3164, as journald writes it
ISO=$(date -u -d "@$NOW" '+%Y-%m-%dT%H:%M:%S.000000Z')
T3164=${NOW}000000000
BIG=$(head -c 20000 /dev/zero | tr '\0' A)
HDR_BIG="<14>$TS big[9]: "
KEPT=$((16384 - ${#HDR_BIG})) # the record is cut at 16 KiB from its '<'
{
	printf '<30>%s kata-agent[123]: time="2024" level=info msg="started <13>x"' "$TS"
	printf '<27>%s kata-agent[123]: error: container failed' "$TS"
	printf '<12>%s systemd: Started kata-containers.target.' "$TS"
	printf '<13>%s chronyd[77]: notice text\n' "$TS"
	printf '<31>%s kata-agent[123]: debug details\n' "$TS"
	printf '<8>%s kernel: emergency' "$TS"
	printf '%s%s' "$HDR_BIG" "$BIG"
	printf '<11>%s app[5]: bad \xff\xfe bytes \xc3\xa9' "$TS"
	printf '<14>%s app[5]: line1\nline2 \x1b[31m' "$TS"
} >"$OUT/j3164.bin"
{
	printf '<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3"] An application event'
	printf '<10>1 2024-03-05T10:11:12.345678+02:00 guest kata-agent 42 - - crit message'
	printf '<9>1 - - - - - - alert no time'
} >"$OUT/j5424.bin"
printf '<30>%s kata-agent[123]: still connected' "$TS" >"$OUT/jopen.bin"

# ------------------------------------------------------------ expectations
T5424A=$(date -u -d '2003-10-11T22:14:15Z' +%s)003000000
T5424B=$(date -u -d '2024-03-05T10:11:12+02:00' +%s)345678000
{
	rec 'time=\"2024\" level=info msg=\"started <13>x\"' 9 info "$T3164" \
		"$(ai syslog.facility 3)" "$(ai syslog.severity 6)" "$(as syslog.appname kata-agent)" "$(as syslog.procid 123)"
	rec 'error: container failed' 17 err "$T3164" \
		"$(ai syslog.facility 3)" "$(ai syslog.severity 3)" "$(as syslog.appname kata-agent)" "$(as syslog.procid 123)"
	rec 'Started kata-containers.target.' 13 warning "$T3164" \
		"$(ai syslog.facility 1)" "$(ai syslog.severity 4)" "$(as syslog.appname systemd)"
	rec 'notice text' 10 notice "$T3164" \
		"$(ai syslog.facility 1)" "$(ai syslog.severity 5)" "$(as syslog.appname chronyd)" "$(as syslog.procid 77)"
	rec 'debug details' 5 debug "$T3164" \
		"$(ai syslog.facility 3)" "$(ai syslog.severity 7)" "$(as syslog.appname kata-agent)" "$(as syslog.procid 123)"
	rec 'emergency' 21 emerg "$T3164" \
		"$(ai syslog.facility 1)" "$(ai syslog.severity 0)" "$(as syslog.appname kernel)"
	rec "${BIG:0:$KEPT}" 9 info "$T3164" \
		"$(ai syslog.facility 1)" "$(ai syslog.severity 6)" "$(as syslog.appname big)" "$(as syslog.procid 9)" \
		"$(ab katatrace.log.truncated)"
	rec 'bad \ufffd\ufffd bytes \u00e9' 17 err "$T3164" \
		"$(ai syslog.facility 1)" "$(ai syslog.severity 3)" "$(as syslog.appname app)" "$(as syslog.procid 5)" \
		"$(ab katatrace.log.utf8_repaired)"
	rec 'line1\nline2 \u001b[31m' 9 info "$T3164" \
		"$(ai syslog.facility 1)" "$(ai syslog.severity 6)" "$(as syslog.appname app)" "$(as syslog.procid 5)"
	rec 'An application event' 10 notice "$T5424A" \
		"$(ai syslog.facility 20)" "$(ai syslog.severity 5)" "$(ai syslog.version 1)" \
		"$(as host.name mymachine.example.com)" "$(as syslog.appname evntslog)" "$(as syslog.msgid ID47)" \
		"$(as syslog.structured_data '[exampleSDID@32473 iut=\"3\"]')"
	rec 'crit message' 18 crit "$T5424B" \
		"$(ai syslog.facility 1)" "$(ai syslog.severity 2)" "$(ai syslog.version 1)" \
		"$(as host.name guest)" "$(as syslog.appname kata-agent)" "$(as syslog.procid 42)"
	rec 'alert no time' 19 alert 0 \
		"$(ai syslog.facility 1)" "$(ai syslog.severity 1)" "$(ai syslog.version 1)"
} >"$OUT/expected.jsonl"

# Sends a file on one connection and keeps it open until the record is seen.
open_conn() { # file seen-command...
	local f=$1
	shift
	node - "$L" "$f" "$@" <<'JS' &
const fs = require('fs');
const net = require('net');
const { spawnSync } = require('child_process');
fs.writeFileSync(`${process.env.OUT}/open.pid`, String(process.pid));
const [path, file, ...cmd] = process.argv.slice(2);
const s = net.createConnection(path, () => s.write(fs.readFileSync(file), () => {
	const deadline = Date.now() + 20000;
	const poll = () => {
		if (spawnSync(cmd[0], cmd.slice(1)).status === 0) {
			s.destroy();
			process.exit(0);
		}
		if (Date.now() > deadline) process.exit(1);
		setTimeout(poll, 100);
	};
	poll();
}));
JS
	wait $!
}
# check-logs.js on the records of a round: sent between AFTER and BEFORE by
# the relay (its pid in relay.pid) through the sandbox's listener.
check_logs() { # expected got log
	local pid
	pid=$(cat "$OUT/relay.pid")
	node "$RECV/check-logs.js" --expected "$1" --got "$2" --after "$AFTER" --before "$BEFORE" \
		--origin "{\"katatrace.transport\":\"hybrid-vsock\",\"katatrace.socket.path\":\"$L\",\"katatrace.sandbox.id\":\"$SB\",\"katatrace.hypervisor.name\":\"firecracker\",\"katatrace.hypervisor.pid\":$pid,\"katatrace.hypervisor.comm\":\"hv-relay\"}" \
		>"$3" 2>&1
}
logs_arrived() { [ "$(count_lines "$OUT/logs.jsonl")" -ge 13 ]; }
console_lines() { [ "$(grep -c " sandbox=$SB log " "$OUT/kt.out")" -ge 12 ]; }

build/tools/sock-drain "unix:$L" >"$OUT/drain.log" 2>&1 &
PIDS+=($!)
wait_for 10 "the listener" test -S "$L" || abort_test "setup"

# ------------------------------------------------------------ round 1: OTLP/HTTP
start_receiver --logs-out "$OUT/logs.jsonl" || abort_test "setup"
AFTER=$(date +%s%N)
start_kt --mode tap --run-root "$RUN_ROOT" --otlp-endpoint "$RECV_URL" --batch-timeout 200 ||
	abort_test "setup"
check "relay sent both streams" "$TOOLS/hv-relay" --seed 7 --max-chunk 61 --pid-file "$OUT/relay.pid" \
	"$L=$OUT/j3164.bin" "$L=$OUT/j5424.bin"
export OUT
check "the record of a connection left open arrives (idle flush)" \
	open_conn "$OUT/jopen.bin" grep -q 'still connected' "$OUT/logs.jsonl"
# that connection's hypervisor is the node process
rec 'still connected' 9 info "$T3164" \
	"$(ai syslog.facility 3)" "$(ai syslog.severity 6)" "$(as syslog.appname kata-agent)" "$(as syslog.procid 123)" |
	sed "s/}\$/,\"origin\":{\"katatrace.hypervisor.pid\":$(cat "$OUT/open.pid"),\"katatrace.hypervisor.comm\":\"node\"}}/" \
	>>"$OUT/expected.jsonl"
wait_for 20 "every log record" logs_arrived
stop_kt
BEFORE=$(date +%s%N)
check "exit status 0" [ "$KT_RC" = 0 ]
check "summary: 13 log records exported, none dropped" \
	grep -q 'katatrace-bpf logs: decoded 13, logs exported 13, logs dropped 0' "$OUT/kt.log"
check "the cut record is reported" grep -q 'journal: record at offset .* longer than 16384 bytes: cut' "$OUT/kt.log"
check "no spans from the journal" [ "$(grep -c "$SB" "$OUT/spans.jsonl")" = 0 ]
check_logs "$OUT/expected.jsonl" "$OUT/logs.jsonl" "$OUT/check.log"
sed 's/^/    /' "$OUT/check.log" | tail -n 20
absorb_counts "$OUT/check.log"
stop_receiver

# ------------------------------------------------------------ round 2: OTLP/gRPC
start_grpc_receiver --logs-out "$OUT/logs-grpc.jsonl" || abort_test "gRPC setup"
grpc_logs() { [ "$(count_lines "$OUT/logs-grpc.jsonl")" -ge 12 ]; }
AFTER=$(date +%s%N)
start_kt --mode tap --run-root "$RUN_ROOT" --otlp-endpoint "$GRPC_URL" --batch-timeout 200 ||
	abort_test "gRPC setup"
check "gRPC: relay sent both streams" "$TOOLS/hv-relay" --seed 8 --max-chunk 97 \
	--pid-file "$OUT/relay.pid" "$L=$OUT/j3164.bin" "$L=$OUT/j5424.bin"
wait_for 20 "every log record over gRPC" grpc_logs
stop_kt
BEFORE=$(date +%s%N)
check "gRPC: exit status 0" [ "$KT_RC" = 0 ]
check "gRPC: LogsService/Export called, 12 log records exported" \
	grep -q 'katatrace-bpf logs: decoded 12, logs exported 12, logs dropped 0' "$OUT/kt.log"
grep -v 'still connected' "$OUT/expected.jsonl" >"$OUT/expected-grpc.jsonl"
check_logs "$OUT/expected-grpc.jsonl" "$OUT/logs-grpc.jsonl" "$OUT/check-grpc.log"
sed 's/^/    gRPC: /' "$OUT/check-grpc.log" | tail -n 5
absorb_counts "$OUT/check-grpc.log"
stop_receiver

# ------------------------------------------------------------ round 3: console
start_kt --mode tap --run-root "$RUN_ROOT" --batch-timeout 200 || abort_test "console setup"
check "relay sent both streams again" "$TOOLS/hv-relay" --seed 8 --max-chunk 33 \
	"$L=$OUT/j3164.bin" "$L=$OUT/j5424.bin"
wait_for 20 "the console lines" console_lines
stop_kt
check "console: exit status 0" [ "$KT_RC" = 0 ]
check "console: one line per record" [ "$(grep -c " sandbox=$SB log " "$OUT/kt.out")" = 12 ]
line() { # description expected line
	check "console: $1" grep -qxF -- "$2" "$OUT/kt.out"
}
line "info, app[pid], quotes and '<13>' kept" \
	"$ISO sandbox=$SB log info kata-agent[123]: time=\"2024\" level=info msg=\"started <13>x\""
line "warning without a pid" "$ISO sandbox=$SB log warning systemd: Started kata-containers.target."
line "emerg" "$ISO sandbox=$SB log emerg kernel: emergency"
line "invalid UTF-8 shown repaired" "$ISO sandbox=$SB log err app[5]: bad $(printf '\xef\xbf\xbd\xef\xbf\xbd') bytes é"
line "newline and escape sequence escaped" "$ISO sandbox=$SB log info app[5]: line1\\nline2 \\x1b[31m"
line "RFC 5424 time with its offset" "2024-03-05T08:11:12.345678Z sandbox=$SB log crit kata-agent[42]: crit message"
line "RFC 5424 without app" "2003-10-11T22:14:15.003000Z sandbox=$SB log notice evntslog: An application event"
check "console: the cut record is marked" grep -q "log info big\[9\]: A*… (truncated)\$" "$OUT/kt.out"
check "console: a record without time shows when it was seen" \
	grep -qE "^[0-9-]+T[0-9:.]+Z sandbox=$SB log alert -: alert no time\$" "$OUT/kt.out"
finish
