#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# OTLP/HTTP with JSON bodies (http/json) to the independent receiver, which
# decodes them with the upstream root (tests/receiver/lib/otlp-json.js).
# Tap mode beside socat listeners: the agents' golden streams of two
# sandboxes (spans) and a Kata 1.x guest journal on the Firecracker
# sandbox's <uds>_5140 (log records), relayed by one "hypervisor".
# Round 1: --otlp-protocol http/json; every span checked field by field by
# check.js, every record by check-logs.js, every request application/json.
# Round 2: the environment alone (OTEL_EXPORTER_OTLP_ENDPOINT without a
# path, OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/json,
# OTEL_EXPORTER_OTLP_LOGS_PROTOCOL=http/protobuf): spans as JSON, records as
# protobuf, both checked again; the receiver answers a partial success,
# which the daemon reads from the JSON answer and logs. Round 3: --exporter
# otlp-http --otlp-protocol http/json to a receiver answering 400: the
# google.rpc.Status in JSON is logged, everything is dropped and counted,
# the daemon exits 0.
. "$(dirname "$0")/lib.sh"
log "OTLP/HTTP with JSON bodies (http/json): spans and log records"
make_workload || abort_test "workload generation"
L=${UDS_FC}_5140
foreign_listeners "$LISTEN_CLH" "$LISTEN_FC" "$L" || abort_test "setup"

# ------------------------------------------------------------ the journal
NOW=$(date -u +%s)
TS=$(date -u -d "@$NOW" '+%b %e %H:%M:%S') # RFC 3164, as journald writes it
T3164=${NOW}000000000
T5424=$(date -u -d '2024-03-05T10:11:12+02:00' +%s)345678000
{
	printf '<30>%s kata-agent[123]: started "sandbox" <13>x' "$TS"
	printf '<27>%s kata-agent[123]: error: caf\xc3\xa9 \xff failed' "$TS"
	printf '<10>1 2024-03-05T10:11:12.345678+02:00 guest kata-agent 42 - [sd@1 a="1"] crit message'
} >"$OUT/journal.bin"
N_LOGS=3
{
	rec 'started \"sandbox\" <13>x' 9 info "$T3164" \
		"$(ai syslog.facility 3)" "$(ai syslog.severity 6)" "$(as syslog.appname kata-agent)" "$(as syslog.procid 123)"
	rec 'error: caf\u00e9 \ufffd failed' 17 err "$T3164" \
		"$(ai syslog.facility 3)" "$(ai syslog.severity 3)" "$(as syslog.appname kata-agent)" "$(as syslog.procid 123)" \
		"$(ab katatrace.log.utf8_repaired)"
	rec 'crit message' 18 crit "$T5424" \
		"$(ai syslog.facility 1)" "$(ai syslog.severity 2)" "$(ai syslog.version 1)" \
		"$(as host.name guest)" "$(as syslog.appname kata-agent)" "$(as syslog.procid 42)" \
		"$(as syslog.structured_data '[sd@1 a=\"1\"]')"
} >"$OUT/expected-logs.jsonl"

logs_arrived() { [ "$(count_lines "$OUT/logs.jsonl")" -ge "$N_LOGS" ]; }
check_logs() { # label
	local pid
	pid=$(cat "$OUT/relay.pid")
	node "$RECV/check-logs.js" --expected "$OUT/expected-logs.jsonl" --got "$OUT/logs.jsonl" \
		--after "$AFTER" --before "$BEFORE" \
		--origin "{\"katatrace.transport\":\"hybrid-vsock\",\"katatrace.socket.path\":\"$L\",\"katatrace.sandbox.id\":\"$SB_FC\",\"katatrace.hypervisor.name\":\"firecracker\",\"katatrace.hypervisor.pid\":$pid,\"katatrace.hypervisor.comm\":\"hv-relay\"}" \
		>"$OUT/check-logs-$1.log" 2>&1
	sed "s/^/    $1: /" "$OUT/check-logs-$1.log" | tail -n 4
	absorb_counts "$OUT/check-logs-$1.log"
}
# Requests of one content type to one path, as the receiver logged them.
requests() { # content-type what ("span" or "log record")
	grep -cE "^receiver: request [0-9]+: $1, [0-9]+ $2\(s\)" "$OUT/receiver.log"
}
only_type() { # content-type: some requests, and every one of that type
	local n
	n=$(grep -cE '^receiver: request [0-9]+: ' "$OUT/receiver.log")
	[ "$n" -gt 0 ] && [ "$(grep -cE "^receiver: request [0-9]+: $1, " "$OUT/receiver.log")" = "$n" ]
}
relay_all() { run_relay --max-chunk 3000 "$L=$OUT/journal.bin"; }
receiver() { # receiver args...: a fresh receiver, nothing recorded yet
	rm -f "$OUT/logs.jsonl"
	start_receiver --logs-out "$OUT/logs.jsonl" "$@"
}

# ------------------------------------------------------------ round 1: the flag
receiver || abort_test "setup"
AFTER=$(date +%s%N)
start_kt --mode tap --run-root "$RUN_ROOT" --otlp-endpoint "$RECV_URL" --otlp-protocol http/json \
	--batch-timeout 200 || abort_test "setup"
check "ready line: OTLP/HTTP (JSON), spans and logs URLs" grep -qF \
	"exporting to OTLP/HTTP (JSON) $RECV_URL, logs ${RECV_URL%/v1/traces}/v1/logs" "$OUT/kt.log"
check "relay sent every stream and the journal" relay_all
write_manifest
check "every span reached the receiver" wait_for 30 "all spans at the receiver" all_spans_arrived
check "every log record reached the receiver" wait_for 20 "all log records" logs_arrived
stop_kt
BEFORE=$(date +%s%N)
check_summary
check "summary: $N_LOGS log records exported, none dropped" grep -q \
	"katatrace-bpf logs: decoded $N_LOGS, logs exported $N_LOGS, logs dropped 0" "$OUT/kt.log"
check "every request was application/json" only_type application/json
check "span requests and log requests both came" \
	[ "$(requests application/json span)" -gt 0 -a "$(requests application/json 'log record')" -gt 0 ]
check_spans "$OUT/spans.jsonl"
check_logs flag
stop_receiver

# ------------------------------------------------------------ round 2: the environment
receiver --partial-success "1:one too old" || abort_test "environment setup"
BASE=${RECV_URL%/v1/traces}
AFTER=$(date +%s%N)
export OTEL_EXPORTER_OTLP_ENDPOINT=$BASE OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/json \
	OTEL_EXPORTER_OTLP_LOGS_PROTOCOL=http/protobuf
start_kt --mode tap --run-root "$RUN_ROOT" --batch-timeout 200 || abort_test "environment setup"
unset OTEL_EXPORTER_OTLP_ENDPOINT OTEL_EXPORTER_OTLP_TRACES_PROTOCOL OTEL_EXPORTER_OTLP_LOGS_PROTOCOL
check "environment: spans as JSON, records as protobuf, to the generic endpoint" grep -qF \
	"exporting to OTLP/HTTP (JSON) $BASE/v1/traces, logs (protobuf) $BASE/v1/logs" "$OUT/kt.log"
check "environment: relay sent every stream and the journal" relay_all
write_manifest
check "environment: every span reached the receiver" wait_for 30 "all spans at the receiver" all_spans_arrived
check "environment: every log record reached the receiver" wait_for 20 "all log records" logs_arrived
stop_kt
BEFORE=$(date +%s%N)
check_summary
check "environment: span requests were application/json" [ "$(requests application/json span)" -gt 0 ]
check "environment: no span request was protobuf" [ "$(requests application/x-protobuf span)" = 0 ]
check "environment: log requests were application/x-protobuf" \
	[ "$(requests application/x-protobuf 'log record')" -gt 0 -a "$(requests application/json 'log record')" = 0 ]
check "the JSON answer's partial success is logged" grep -qF \
	"otlp-http: $BASE/v1/traces: collector rejected 1 span(s): one too old" "$OUT/kt.log"
check_spans "$OUT/spans.jsonl"
check_logs environment
stop_receiver

# ------------------------------------------------------------ round 3: refused
receiver --status 400 || abort_test "refusal setup"
start_kt --mode tap --run-root "$RUN_ROOT" --exporter otlp-http --otlp-protocol http/json \
	--otlp-endpoint "$RECV_URL" --batch-timeout 200 || abort_test "refusal setup"
check "refused: relay sent every stream and the journal" relay_all
refused() { # "span" or "log record": how many the receiver answered 400 in JSON requests
	sed -nE "s/^receiver: request [0-9]+: application\/json, ([0-9]+) $1\(s\), answering 400 .*/\1/p" \
		"$OUT/receiver.log" | awk '{ n += $1 } END { print n + 0 }'
}
refused_all() { [ "$(refused span)" -ge "$EXPECTED_SPANS" ] && [ "$(refused 'log record')" -ge "$N_LOGS" ]; }
check "refused: every span and log record was answered 400" wait_for 30 "the refusals" refused_all
stop_kt
check "refused: exit status 0" [ "$KT_RC" = 0 ]
check "refused: the google.rpc.Status is shown for spans" grep -qF \
	"otlp-http: POST $RECV_URL: HTTP 400: status 400 requested (INVALID_ARGUMENT)" "$OUT/kt.log"
check "refused: ... and for log records" grep -qF \
	"otlp-http: POST ${RECV_URL%/v1/traces}/v1/logs: HTTP 400: status 400 requested (INVALID_ARGUMENT)" "$OUT/kt.log"
check "refused: every span dropped, none exported" \
	[ "$(summary_value 'spans exported')" = 0 -a "$(summary_value 'spans dropped')" = "$EXPECTED_SPANS" ]
check "refused: every log record dropped" grep -q \
	"katatrace-bpf logs: decoded $N_LOGS, logs exported 0, logs dropped $N_LOGS" "$OUT/kt.log"
check "refused: nothing recorded" [ "$(count_lines "$OUT/spans.jsonl")" = 0 -a "$(count_lines "$OUT/logs.jsonl")" = 0 ]
stop_receiver
finish
