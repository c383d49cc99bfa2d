#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The metrics server (--metrics-address) scraped by a real Prometheus server
# (Debian's prometheus, scraping every second, its own config and storage in
# the test's directory), sink mode, BPF capture, OTLP/HTTP to the receiver:
#   1. /healthz and /readyz answer 200, /metrics passes promtool check
#      metrics, Prometheus scrapes the daemon as up;
#   2. the relay sends every stream: through Prometheus's HTTP API
#      (/api/v1/query), katatrace_spans_exported_total reaches exactly the
#      spans sent, and the workload's one garbage frame and one oversize
#      header show up by cause;
#   3. requests that are not for the server (garbage, another method, another
#      path, a body, oversized headers) are refused and counted, and the daemon
#      and the scrapes go on;
#   4. the collector goes away: failed and retried attempts are counted by
#      exporter and status (connect), and docs/operations.md's Grafana panel
#      queries each have a result; on SIGTERM /readyz and /healthz answer
#      503 while the daemon still drains its queue, /metrics still 200.
. "$(dirname "$0")/lib.sh"
log "metrics: --metrics-address scraped by Prometheus"

free_port() {
	node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => {
		console.log(s.address().port); s.close(); });'
}

# A PromQL query through Prometheus's HTTP API: the value of its first sample, or nothing.
prom_query() { # query
	curl -s --max-time 5 -G "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=$1" |
		node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
			try {
				const r = JSON.parse(s);
				if (r.status === "success" && r.data.result.length) console.log(r.data.result[0].value[1]);
			} catch (e) {}
		});'
}
prom_is() { [ "$(prom_query "$1")" = "$2" ]; }        # query value
prom_above() { local v; v=$(prom_query "$1"); [ -n "$v" ] && [ "$v" -gt "$2" ] 2>/dev/null; }

# The daemon's own answer (status code, then the body in $OUT/http.body).
http_code() { # path [curl args...]
	local path=$1
	shift
	curl -s --max-time 5 -o "$OUT/http.body" -w '%{http_code}' "$@" "http://$METRICS$path"
}
answers() { [ "$(http_code "$1" "${@:3}")" = "$2" ]; } # path code [curl args...]
# A sample of the daemon's /metrics, read directly.
metric() { curl -s --max-time 5 "http://$METRICS/metrics" | awk -v n="$1" '$1 == n { print $2 }'; }
metric_is() { [ "$(metric "$1")" = "$2" ]; }
kt_alive() { kill -0 "$KT_PID" 2>/dev/null; }
port_closed() { ! curl -s --max-time 2 -o /dev/null "http://$METRICS/healthz"; }
promtool_passes() { curl -s --max-time 5 "http://$METRICS/metrics" >"$OUT/metrics.txt" &&
	promtool check metrics <"$OUT/metrics.txt" >"$OUT/promtool.log" 2>&1 && [ ! -s "$OUT/promtool.log" ]; }
# Raw bytes to the metrics port, whatever comes back (the server may close
# first: a subshell that ignores SIGPIPE writes them).
send_raw() { # bytes (printf format)
	(
		trap '' PIPE
		exec 3<>"/dev/tcp/${METRICS%:*}/${METRICS##*:}" || exit 1
		# shellcheck disable=SC2059
		printf "$1" >&3 2>/dev/null
		timeout 5 cat <&3 >/dev/null
		exit 0
	)
}

make_workload || abort_test "workload generation"
start_receiver || abort_test "receiver"
start_kt --mode sink --socket-path "$UDS_CLH" --socket-path "$UDS_FC" --run-root "$RUN_ROOT" \
	--otlp-endpoint "$RECV_URL" --batch-timeout 200 --metrics-address 127.0.0.1:0 ||
	abort_test "setup"
METRICS=$(sed -n 's|.* metrics: http://\([0-9.]*:[0-9]*\)/metrics.*|\1|p' "$OUT/kt.log" | head -n 1)
[ -n "$METRICS" ] || abort_test "the log names the metrics address"
log "metrics at $METRICS"

log "phase 1: the endpoints, promtool, Prometheus scraping"
check "/healthz: 200 while the loop runs" answers /healthz 200
check "/readyz: 200 once capturing and exporting" answers /readyz 200
check "/readyz says ready" grep -qx ready "$OUT/http.body"
check "/metrics passes promtool check metrics" promtool_passes
sed 's/^/    promtool: /' "$OUT/promtool.log"
check "--memory-budget's default, 256 MiB, as a gauge" metric_is katatrace_memory_budget_bytes 268435456
check "--queue-size's default as a gauge" metric_is katatrace_export_queue_capacity_records 100000

PROM_PORT=$(free_port) || abort_test "free port"
mkdir -p "$OUT/prom"
cat >"$OUT/prom/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: katatrace
    static_configs:
      - targets: ["$METRICS"]
YAML
prometheus --config.file="$OUT/prom/prometheus.yml" --storage.tsdb.path="$OUT/prom/data" \
	--web.listen-address="127.0.0.1:$PROM_PORT" >"$OUT/prometheus.log" 2>&1 &
PIDS+=($!)
check "Prometheus scrapes the daemon as up" wait_for 60 "the target up" prom_is 'up{job="katatrace"}' 1
prom_is 'up{job="katatrace"}' 1 || tail -n 20 "$OUT/prometheus.log" | sed 's/^/    prometheus: /'
check "Prometheus sees no span exported yet" prom_is 'katatrace_spans_exported_total{job="katatrace"}' 0
check "Prometheus sees the workload's two sandboxes (a gauge the loop publishes)" \
	wait_for 10 "the sandboxes" prom_is 'katatrace_sandboxes' 2

log "phase 2: the relay sends every stream"
check "relay sent every stream" run_relay --max-chunk 65536
write_manifest
check "every span reached the receiver" wait_for 30 "all spans at the receiver" all_spans_arrived
check "Prometheus sees katatrace_spans_exported_total reach the $EXPECTED_SPANS spans sent" \
	wait_for 30 "the spans exported in Prometheus" prom_is 'katatrace_spans_exported_total' "$EXPECTED_SPANS"
check "Prometheus sees the one garbage frame as a decode error" \
	wait_for 10 "the decode error" prom_is 'sum(katatrace_decode_errors_total)' 1
check "Prometheus sees the one oversize header as a rejected frame" \
	prom_is 'katatrace_frames_rejected_total{reason="oversize"}' 1
check "Prometheus sees no span dropped" prom_is 'sum(katatrace_spans_dropped_total)' 0
check "Prometheus sees no record lost" prom_is 'sum(katatrace_ringbuf_records_lost_total)' 0
check "Prometheus sees the 5 connections of the relay" prom_is 'katatrace_connections_total' 5
check "Prometheus sees export attempts in the latency histogram" \
	prom_above 'katatrace_export_duration_seconds_count{exporter="otlp-http",kind="spans"}' 0

# docs/operations.md's Grafana panel queries, each through Prometheus's API:
# valid PromQL over metrics the daemon has, each with a result.
doc_queries() {
	awk '/^### Grafana panels/ { g = 1 } g && /^```promql/ { q = 1; next } q && /^```/ { exit }
		q && NF && !/^#/ { print }' docs/operations.md
}
query_has_result() {
	curl -s --max-time 5 -G "http://127.0.0.1:$PROM_PORT/api/v1/query" --data-urlencode "query=$1" |
		node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
			const r = JSON.parse(s);
			process.exit(r.status === "success" && r.data.result.length > 0 ? 0 : 1);
		});'
}
log "phase 3: requests that are not for the server"
check "a path it does not serve: 404" answers /nothing 404
check "POST: 405" answers /metrics 405 -X POST -d x=1
check "GET with a body: 400" answers /metrics 400 -X GET -d x=1
check "garbage sent" send_raw '\x16\x03\x01\x00\x05hello\r\n\r\n'
check "a request line of 40 KiB sent" send_raw "GET /$(head -c 40960 /dev/zero | tr '\0' a) HTTP/1.1\r\n\r\n"
check "the daemon still runs" kt_alive
check "/healthz: still 200" answers /healthz 200
check "refusals counted: not_found 1" metric_is 'katatrace_http_bad_requests_total{reason="not_found"}' 1
check "refusals counted: method 1" metric_is 'katatrace_http_bad_requests_total{reason="method"}' 1
check "refusals counted: body 1" metric_is 'katatrace_http_bad_requests_total{reason="body"}' 1
check "refusals counted: unanswered 2 (garbage, oversized)" \
	wait_for 10 "the unanswered connections" metric_is 'katatrace_http_bad_requests_total{reason="unanswered"}' 2
check "Prometheus still scrapes the daemon as up" prom_is 'up{job="katatrace"}' 1

log "phase 4: the collector goes away"
stop_receiver
check "a relay sent two spans more" "$TOOLS/hv-relay" --seed 7 "$C5"
check "Prometheus sees failed attempts by exporter and status" \
	wait_for 30 "failures counted" prom_above 'katatrace_export_failures_total{exporter="otlp-http",status="connect"}' 0
check "Prometheus sees them retried" \
	wait_for 10 "retries counted" prom_above 'katatrace_export_retries_total{exporter="otlp-http",status="connect"}' 0
mapfile -t QUERIES < <(doc_queries)
check "docs/operations.md has Grafana panel queries" [ "${#QUERIES[@]}" -ge 5 ]
for q in "${QUERIES[@]}"; do
	# a rate needs two scrapes of a series: the failures' are new
	check "panel query has a result: $q" wait_for 10 "a result" query_has_result "$q"
done

# Every metric of docs/operations.md's table, each loss counter among them,
# is in Prometheus (a histogram as its _bucket series).
doc_metrics() {
	awk -F'|' '/^## Metrics/ { m = 1 } /^## Logs/ { m = 0 }
		m && $2 ~ /^ `katatrace_/ { n = $2; gsub(/[ `]/, "", n); t = $3; gsub(/ /, "", t);
			print (t == "histogram" ? n "_bucket" : n) }' docs/operations.md | sort -u
}
prom_names() {
	curl -s --max-time 5 -G "http://127.0.0.1:$PROM_PORT/api/v1/query" \
		--data-urlencode 'query=group by (__name__) ({job="katatrace", __name__=~"katatrace_.*"})' |
		node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
			for (const r of JSON.parse(s).data.result) console.log(r.metric.__name__);
		});' | sort -u
}
every_doc_metric_scraped() {
	doc_metrics >"$OUT/doc-metrics.txt"
	prom_names >"$OUT/prom-metrics.txt"
	[ "$(wc -l <"$OUT/doc-metrics.txt")" -ge 40 ] &&
		[ -z "$(comm -23 "$OUT/doc-metrics.txt" "$OUT/prom-metrics.txt")" ]
}
check "Prometheus has every metric of the docs' table, every loss counter among them" every_doc_metric_scraped
comm -23 "$OUT/doc-metrics.txt" "$OUT/prom-metrics.txt" | sed 's/^/    not in Prometheus: /'
kill -TERM "$KT_PID"
check "on SIGTERM /readyz answers 503" wait_for 5 "not ready" answers /readyz 503
check "/readyz says it is shutting down" grep -qx 'shutting down' "$OUT/http.body"
check "/healthz answers 503 once the loop has ended" wait_for 5 "not healthy" answers /healthz 503
check "/metrics still answers while the queue drains" answers /metrics 200
check "the daemon still drains (the collector is down)" kt_alive
stop_kt
check "exit status 0" [ "$KT_RC" = 0 ]
check "summary: spans exported = $EXPECTED_SPANS" [ "$(summary_value 'spans exported')" = "$EXPECTED_SPANS" ]
check "summary: the 2 spans the collector never got dropped at the shutdown timeout" \
	[ "$(summary_value 'spans dropped')" = 2 ]
check "the metrics port is closed after the exit" port_closed
finish
