#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# OTLP over TLS, against the independent receivers (@grpc/grpc-js, Node's
# https), with a throwaway CA made by the openssl CLI: a server certificate
# for localhost and 127.0.0.1 and a client certificate. Sink mode + BPF
# capture; every span compared field by field.
#   1. OTLP/gRPC to https://localhost:PORT (TLS, ALPN h2), the CA from
#      --otlp-ca, which beats an OTEL_EXPORTER_OTLP_CERTIFICATE naming a
#      missing file;
#   2. OTLP/HTTP to https://localhost:PORT/v1/traces, the CA from
#      OTEL_EXPORTER_OTLP_CERTIFICATE;
#   3. OTLP/gRPC with mutual TLS (the receiver requires a client certificate
#      issued by the CA), configured by the environment alone: an endpoint
#      without a scheme (TLS), the CA, the client certificate and key;
#   4. no CA: the server's certificate is not trusted and nothing is sent;
#      the daemon keeps running, logs the TLS error with the endpoint and
#      counts every span as dropped;
#   5. the same with the CA but a server certificate for another host name;
#   6. a file that cannot be read stops the start-up with an error naming
#      the file and the flag or variable.
# The certificate files are readable by root only: the daemon reads them
# before it becomes nobody.
. "$(dirname "$0")/lib.sh"
log "OTLP over TLS: gRPC, HTTP, mutual TLS, untrusted server, unreadable files"
TLS=$OUT/tls

# A leaf certificate signed by the CA: name, subject, extensions.
leaf() {
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "$2" \
		-keyout "$TLS/$1.key" -out "$TLS/$1.csr" &&
		printf 'basicConstraints=CA:FALSE\n%s\n' "$3" >"$TLS/$1.ext" &&
		openssl x509 -req -in "$TLS/$1.csr" -CA "$TLS/ca.pem" -CAkey "$TLS/ca.key" \
			-CAcreateserial -days 1 -extfile "$TLS/$1.ext" -out "$TLS/$1.pem"
}

make_certs() {
	mkdir -p "$TLS" && chmod 700 "$TLS" || return 1
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
		-subj "/CN=katatrace test CA" -keyout "$TLS/ca.key" -out "$TLS/ca.pem" \
		-addext basicConstraints=critical,CA:TRUE \
		-addext keyUsage=critical,keyCertSign,cRLSign &&
		leaf server /CN=localhost \
			"$(printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth')" &&
		leaf client /CN=katatrace-client extendedKeyUsage=clientAuth &&
		leaf other /CN=collector.invalid \
			"$(printf 'subjectAltName=DNS:collector.invalid\nextendedKeyUsage=serverAuth')" &&
		chmod 600 "$TLS"/*.key
}

# Batches of 16 spans: several calls on one TLS connection.
start_sink() { # endpoint (empty: from the environment) [extra args]
	local ep=$1
	shift
	start_kt --mode sink --socket-path "$UDS_CLH" --socket-path "$UDS_FC" --run-root "$RUN_ROOT" \
		${ep:+--otlp-endpoint "$ep"} --batch-timeout 200 --batch-size 16 "$@"
}

keep_logs() { # round
	cp "$OUT/kt.log" "$OUT/kt-$1.log"
	cp "$OUT/spans.jsonl" "$OUT/spans-$1.jsonl"
}

kt_alive() { kill -0 "$KT_PID" 2>/dev/null; }
not() { ! "$@"; }
receiver_ended_with() { tail -n 1 "$1" | grep -q "$2"; }
# The gRPC receiver's log since it last started (each start appends to it).
this_receiver() { awk '/: listening on / { n = 0 } { line[n++] = $0 } END { for (i = 0; i < n; i++) print line[i] }' "$OUT/grpc-receiver.log"; }

make_workload || abort_test "workload generation"
make_certs 2>"$OUT/openssl.log" || abort_test "certificates (see $OUT/openssl.log)"
SERVER_TLS=(--tls-cert "$TLS/server.pem" --tls-key "$TLS/server.key")

log "1. OTLP/gRPC over TLS, CA from --otlp-ca"
start_grpc_receiver "${SERVER_TLS[@]}" || abort_test "setup"
EP="https://localhost:$GRPC_PORT"
OTEL_EXPORTER_OTLP_CERTIFICATE=$OUT/missing.pem start_sink "$EP" --otlp-ca "$TLS/ca.pem" ||
	abort_test "setup"
check "https endpoint without a path selects OTLP/gRPC" grep -q "exporting to OTLP/gRPC $EP" "$OUT/kt.log"
check "the CA of --otlp-ca, not of the environment" \
	grep -q "otlp-grpc: $EP: TLS with the CA certificate $TLS/ca.pem (--otlp-ca)" "$OUT/kt.log"
sink_round
check "summary: spans dropped = 0" [ "$(summary_value 'spans dropped')" = 0 ]
check "the receiver served TLS" grep -q "listening on 127.0.0.1:$GRPC_PORT (TLS)" "$OUT/grpc-receiver.log"
check_spans "$OUT/spans.jsonl"
stop_receiver
keep_logs grpc

log "2. OTLP/HTTP over TLS, CA from OTEL_EXPORTER_OTLP_CERTIFICATE"
start_receiver "${SERVER_TLS[@]}" || abort_test "setup"
URL="https://localhost:$(cat "$OUT/port")/v1/traces"
OTEL_EXPORTER_OTLP_CERTIFICATE=$TLS/ca.pem start_sink "$URL" || abort_test "setup"
check "endpoint with a path selects OTLP/HTTP" grep -q "exporting to OTLP/HTTP $URL" "$OUT/kt.log"
check "the CA of OTEL_EXPORTER_OTLP_CERTIFICATE" \
	grep -q "otlp-http: $URL: TLS with the CA certificate $TLS/ca.pem (OTEL_EXPORTER_OTLP_CERTIFICATE)" \
	"$OUT/kt.log"
sink_round
check "summary: spans dropped = 0" [ "$(summary_value 'spans dropped')" = 0 ]
check "no failed TLS handshake at the receiver" not grep -q "TLS handshake failed" "$OUT/receiver.log"
check_spans "$OUT/spans.jsonl"
stop_receiver
keep_logs http

log "3. OTLP/gRPC with mutual TLS, everything from the environment"
start_grpc_receiver "${SERVER_TLS[@]}" --tls-client-ca "$TLS/ca.pem" || abort_test "setup"
OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=localhost:$GRPC_PORT \
	OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE=$TLS/ca.pem \
	OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE=$TLS/client.pem \
	OTEL_EXPORTER_OTLP_CLIENT_KEY=$TLS/client.key \
	start_sink "" || abort_test "setup"
EP="https://localhost:$GRPC_PORT"
check "an endpoint without a scheme is TLS" grep -q "exporting to OTLP/gRPC $EP" "$OUT/kt.log"
check "CA, client certificate and key of the environment" grep -qF \
	"TLS with the CA certificate $TLS/ca.pem (OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE), client certificate $TLS/client.pem (OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE), client key $TLS/client.key (OTEL_EXPORTER_OTLP_CLIENT_KEY)" \
	"$OUT/kt.log"
sink_round
check "summary: spans dropped = 0" [ "$(summary_value 'spans dropped')" = 0 ]
check "the receiver required client certificates" \
	grep -q "listening on 127.0.0.1:$GRPC_PORT (TLS, client certificate required)" "$OUT/grpc-receiver.log"
calls=$(this_receiver | grep -c "^grpc-receiver: request [0-9]* (")
with_cert=$(this_receiver | grep -c "^grpc-receiver: request [0-9]* (.*client CN=katatrace-client)")
check "every call came with the client certificate ($with_cert of $calls)" [ "$calls" -gt 0 -a "$with_cert" = "$calls" ]
check_spans "$OUT/spans.jsonl"
stop_receiver
keep_logs mtls

# The collector's certificate is refused: nothing is sent, the daemon keeps
# running, and every span is counted as dropped.
refused_round() { # what the log must say after the endpoint [extra args]
	local why=$1
	shift
	EP="https://localhost:$GRPC_PORT"
	start_sink "$EP" "$@" || abort_test "setup"
	check "relay sent every stream" run_relay --max-chunk 65536
	check "certificate error logged with the endpoint" \
		wait_for 10 "the TLS error" grep -q "error: otlp-grpc: $EP: .*$why" "$OUT/kt.log"
	sleep 2
	check "daemon still running" kt_alive
	kill -HUP "$KT_PID" # every counter on its log
	check "export errors counted" wait_for 5 "the counters" grep -qE "^export_errors +[1-9]" "$OUT/kt.log"
	stop_kt
	check "exit status 0 after the stop signal" [ "$KT_RC" = 0 ]
	check "summary: spans exported = 0" [ "$(summary_value 'spans exported')" = 0 ]
	check "summary: spans dropped = $EXPECTED_SPANS" [ "$(summary_value 'spans dropped')" = "$EXPECTED_SPANS" ]
	check "summary: exactly one decode error (the garbage frame)" [ "$(summary_value 'decode errors')" = 1 ]
	check "nothing reached the receiver" [ "$(count_lines "$OUT/spans.jsonl")" = 0 ]
	stop_receiver
	check "the receiver handled no call" receiver_ended_with "$OUT/grpc-receiver.log" "0 request(s) handled"
}

log "4. OTLP/gRPC without the CA: the server is not trusted"
start_grpc_receiver "${SERVER_TLS[@]}" || abort_test "setup"
refused_round "certificate problem"
cp "$OUT/kt.log" "$OUT/kt-untrusted.log"

log "5. OTLP/gRPC, trusted CA, a certificate for another host name"
start_grpc_receiver --tls-cert "$TLS/other.pem" --tls-key "$TLS/other.key" || abort_test "setup"
refused_round "host name" --otlp-ca "$TLS/ca.pem"
cp "$OUT/kt.log" "$OUT/kt-wrong-name.log"

log "6. unreadable files stop the start-up"
timeout 10 "$KT" run --capture socket --otlp-endpoint "https://localhost:1" \
	--otlp-ca "$OUT/missing.pem" >/dev/null 2>"$OUT/kt-missing.log"
check "missing --otlp-ca: exit status 1" [ $? = 1 ]
check "... the error names the file and the flag" \
	grep -q "cannot read the CA certificate file $OUT/missing.pem (--otlp-ca)" "$OUT/kt-missing.log"
OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE=$TLS/client.pem OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY=$TLS \
	timeout 10 "$KT" run --capture socket --otlp-endpoint "https://localhost:1/v1/traces" \
	>/dev/null 2>"$OUT/kt-dir.log"
check "a directory as the client key: exit status 1" [ $? = 1 ]
check "... the error names the file and the variable" \
	grep -q "otlp-http: cannot read the client key file $TLS (OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY)" "$OUT/kt-dir.log"
finish
