#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# kubectl katatrace (deploy/kubectl/kubectl-katatrace) run by the real
# kubectl, as a plugin found on the PATH, against a fake API server
# (tests/deploy/fake-apiserver.js) that holds a few pods and nodes: a Kata pod
# on a node with the katatrace-bpf DaemonSet's pod, a Kata pod on a node
# without one, a pod that is not a Kata pod, one not scheduled yet. With
# --dry-run the plugin prints the kubectl command it would run (exec into the
# DaemonSet's pod on the pod's node; logs); each error is checked with its
# message.
# Then status: node-a's DaemonSet pod is a real katatrace-bpf (sink mode,
# BPF capture, --metrics-address) that the relay has sent the workload to,
# its metrics read through the fake API server's pod proxy; node-b is a Kata
# node without the DaemonSet's pod; node-c's pod cannot be reached; node-d's
# is not ready and serves a crafted exposition (label values with braces,
# blanks and escaped quotes, a timestamp, CRLF, a _bucket of a name the
# plugin sums). Each line's columns are compared with what the workload sent.
# Then its krew archive and manifest (make kubectl-plugin).
. "$(dirname "$0")/lib.sh"
log "kubectl_plugin: kubectl katatrace through the real kubectl and a fake API server"
command -v kubectl >/dev/null || abort_test "setup: kubectl is missing (make deps-test installs it)"
DEP=$ROOT_DIR/tests/deploy
[ -d "$DEP/node_modules" ] || abort_test "setup: tools/ensure-npm tests/deploy"

free_port() {
	node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => {
		console.log(s.address().port); s.close(); });'
}
# A sample of the daemon's /metrics, read directly.
metric() { curl -s --max-time 5 "http://$METRICS/metrics" | awk -v n="$1" '$1 == n { print $2 }'; }
metric_is() { [ "$(metric "$1")" = "$2" ]; }

# node-a's daemon, with the workload's two sandboxes, its spans, its garbage
# frame and its oversize header (as metrics_prometheus.sh counts them).
make_workload || abort_test "workload generation"
start_receiver || abort_test "receiver"
start_kt --mode sink --socket-path "$UDS_CLH" --socket-path "$UDS_FC" --run-root "$RUN_ROOT" \
	--otlp-endpoint "$RECV_URL" --batch-timeout 200 --metrics-address 127.0.0.1:0 ||
	abort_test "setup: katatrace-bpf"
METRICS=$(sed -n 's|.* metrics: http://\([0-9.]*:[0-9]*\)/metrics.*|\1|p' "$OUT/kt.log" | head -n 1)
[ -n "$METRICS" ] || abort_test "setup: the log names the metrics address"
check "relay sent every stream" run_relay --max-chunk 65536
write_manifest
check "every span reached the receiver" wait_for 30 "all spans at the receiver" all_spans_arrived
check "the daemon's own /metrics: the $EXPECTED_SPANS spans exported" \
	wait_for 10 "the spans exported in the metrics" metric_is katatrace_spans_exported_total "$EXPECTED_SPANS"
check "the daemon's own /metrics: the two sandboxes" metric_is katatrace_sandboxes 2

# node-c's pod: a port nothing listens on.
CLOSED=$(free_port) || abort_test "setup: a free port"
# node-d's pod: a crafted exposition, CRLF line ends.
{
	echo '# HELP katatrace_sandboxes sandboxes 99'
	echo '# TYPE katatrace_sandboxes gauge'
	echo 'katatrace_sandboxes 3'
	echo 'katatrace_sandboxes_extra 100'
	echo 'katatrace_spans_exported_total 1000 1700000000000'
	echo 'katatrace_spans_dropped_total{reason="a} b",x="q\"}"} 3'
	echo 'katatrace_spans_dropped_total{reason="queue_full"} 4'
	echo 'katatrace_log_records_dropped_total{reason="queue_full"} 5'
	echo 'katatrace_ringbuf_records_lost_total{program="unix_capture"} 6'
	echo 'katatrace_ringbuf_records_lost_total{program="vm_events"} 7'
	echo 'katatrace_stream_gaps_total 8'
	echo 'katatrace_frames_rejected_total{reason="oversize"} 9'
	echo 'katatrace_frames_rejected_total_bucket{le="1"} 500'
	echo '# TYPE katatrace_decode_errors_total counter'
	echo 'katatrace_export_failures_total{exporter="otlp-grpc",status="UNAVAILABLE"} 10'
	echo 'katatrace_export_failures_total{exporter="otlp-http",status="503"} 11'
} | sed 's/$/\r/' >"$OUT/crafted.prom"
node -e 'const fs = require("fs");
	require("http").createServer((q, r) => r.end(q.url.split("?")[0] === "/metrics" ? fs.readFileSync(process.argv[1]) : ""))
		.listen(0, "127.0.0.1", function () { console.log(`listening ${this.address().port}`); });' \
	"$OUT/crafted.prom" >"$OUT/crafted.out" 2>&1 &
PIDS+=($!)
wait_for 10 "the crafted metrics server" grep -q '^listening ' "$OUT/crafted.out" || abort_test "setup: the crafted metrics server"
CRAFTED=127.0.0.1:$(awk '{print $2}' "$OUT/crafted.out")

AGENT=katatrace-bpf-x7k2p
AGENT_C=katatrace-bpf-q9z4m
AGENT_D=katatrace-bpf-d4d4d
KATA='{"katacontainers.io/kata-runtime": "true"}'
DS='{"app.kubernetes.io/name": "katatrace-bpf"}'
cat >"$OUT/cluster.json" <<EOF
{"pods": [
 {"namespace": "default", "name": "web", "node": "node-a", "runtimeClassName": "kata-qemu"},
 {"namespace": "shop", "name": "db", "node": "node-b", "runtimeClassName": "kata-clh"},
 {"namespace": "default", "name": "plain", "node": "node-a", "runtimeClassName": "runc"},
 {"namespace": "default", "name": "waiting", "runtimeClassName": "kata-qemu"},
 {"namespace": "katatrace-system", "name": "$AGENT", "node": "node-a", "container": "katatrace-bpf",
  "labels": $DS, "ready": true, "metrics": "$METRICS", "proxyDelayMs": 1500},
 {"namespace": "katatrace-system", "name": "not-the-agent", "node": "node-b"},
 {"namespace": "katatrace-system", "name": "$AGENT_C", "node": "node-c", "container": "katatrace-bpf",
  "labels": $DS, "ready": true, "metrics": "127.0.0.1:$CLOSED"},
 {"namespace": "katatrace-system", "name": "$AGENT_D", "node": "node-d", "container": "katatrace-bpf",
  "labels": $DS, "ready": false, "metrics": "$CRAFTED", "proxyDelayMs": 1500}],
 "nodes": [
 {"name": "node-a", "labels": $KATA}, {"name": "node-b", "labels": $KATA},
 {"name": "node-c", "labels": $KATA}, {"name": "node-d", "labels": $KATA},
 {"name": "node-plain", "labels": {"kubernetes.io/os": "linux"}}]}
EOF
node "$DEP/fake-apiserver.js" "$OUT/cluster.json" 0 >"$OUT/api.out" 2>"$OUT/api.log" &
PIDS+=($!)
wait_for 10 "the fake API server" grep -q '^listening ' "$OUT/api.out" || abort_test "setup: the fake API server"
PORT=$(awk '{print $2}' "$OUT/api.out")
cat >"$OUT/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters: [{name: fake, cluster: {server: "http://127.0.0.1:$PORT"}}]
contexts: [{name: fake, context: {cluster: fake, user: nobody}}]
current-context: fake
users: [{name: nobody, user: {}}]
EOF
export KUBECONFIG=$OUT/kubeconfig
export PATH=$ROOT_DIR/deploy/kubectl:$PATH

plugin() { # args...: kubectl katatrace ARGS; stdout OUT/p.out, stderr OUT/p.err, PRC
	kubectl katatrace "$@" >"$OUT/p.out" 2>"$OUT/p.err"
	PRC=$?
}
said() { [ "$PRC" = "$1" ] && [ "$(cat "$OUT/p.out")" = "$2" ]; }

plugin --help
check "kubectl finds the plugin on the PATH: --help, exit 0" grep -q '^Usage: kubectl katatrace' "$OUT/p.out"

plugin --dry-run probe pod/default/web --span 'uprobe:/proc/$shim_pid/exe:main.run' --duration 5
check "probe pod/default/web: exec into the DaemonSet's pod on node-a" said 0 \
	"kubectl exec -n katatrace-system $AGENT -c katatrace-bpf -- katatrace-bpf probe pod/default/web --span uprobe:/proc/\\\$shim_pid/exe:main.run --duration 5"
check "the agent was looked up on the pod's node by the API server (label and field selectors)" \
	grep -q "GET /api/v1/namespaces/katatrace-system/pods?fieldSelector=spec.nodeName%3Dnode-a&labelSelector=app.kubernetes.io%2Fname%3Dkatatrace-bpf" "$OUT/api.log"

plugin --dry-run --namespace tracing probe pod/default/web --event tracepoint:kvm:kvm_exit
check_exit "--namespace: the DaemonSet looked for there (none: exit 1)" "$PRC" 1 "$OUT/p.err" \
	"no katatrace-bpf pod on node node-a"
plugin --dry-run probe pod/shop/db --event tracepoint:kvm:kvm_exit
check_exit "a Kata pod on a node without the DaemonSet's pod: exit 1, said" "$PRC" 1 "$OUT/p.err" \
	"kubectl katatrace: no katatrace-bpf pod on node node-b: is the DaemonSet deployed"
plugin --dry-run probe pod/default/plain --event tracepoint:kvm:kvm_exit
check_exit "a pod that is not a Kata pod: exit 1, said" "$PRC" 1 "$OUT/p.err" \
	"kubectl katatrace: probe: pod default/plain is not a Kata pod (runtimeClassName 'runc')"
plugin --dry-run probe pod/default/waiting --event tracepoint:kvm:kvm_exit
check_exit "a pod on no node yet: exit 1, said" "$PRC" 1 "$OUT/p.err" "pod default/waiting is not scheduled on a node yet"
plugin --dry-run probe pod/default/nope --event tracepoint:kvm:kvm_exit
check_exit "a pod that does not exist: exit 1, said" "$PRC" 1 "$OUT/p.err" "kubectl katatrace: probe: no pod default/nope"
plugin --dry-run probe sandbox/abc --event tracepoint:kvm:kvm_exit
check_exit "a target that is not pod/NS/NAME: exit 1, said" "$PRC" 1 "$OUT/p.err" "'sandbox/abc' is not pod/NAMESPACE/NAME"
plugin --dry-run probe
check_exit "probe without a pod: exit 1, said" "$PRC" 1 "$OUT/p.err" "probe: which pod? pod/NAMESPACE/NAME"
plugin --dry-run trace
check_exit "an unknown command: exit 1, said" "$PRC" 1 "$OUT/p.err" "unknown command 'trace'"
plugin --frobnicate
check_exit "an unknown option: exit 1, said" "$PRC" 1 "$OUT/p.err" "unknown option --frobnicate"

plugin --dry-run logs --node node-a --since 10m
check "logs --node node-a: the DaemonSet's pod there" said 0 \
	"kubectl logs -n katatrace-system $AGENT -c katatrace-bpf --since 10m"
plugin --dry-run logs
check "logs: every daemon's, prefixed" said 0 \
	"kubectl logs -n katatrace-system -l app.kubernetes.io/name=katatrace-bpf -c katatrace-bpf --prefix"

log "status"
# A column of a node's line of status's table (the header names the
# columns; NOTE, the last, may hold blanks); "absent" without such a line.
col() { # node column [file]
	awk -v n="$1" -v c="$2" '
		NR == 1 { for (i = 1; i <= NF; i++) at[$i] = i; next }
		$1 == n {
			found = 1
			v = $(at[c])
			if (c == "NOTE") for (i = at[c] + 1; i <= NF; i++) v = v " " $i
			print v
		}
		END { if (!found) print "absent" }' "${3:-$OUT/p.out}"
}
is() { [ "$(col "$1" "$2")" = "$3" ]; } # node column value
# Every column of a node's line, in order (NOTE left out).
row_is() { # node values...
	local n=$1 c i=0
	shift
	for c in POD READY SANDBOXES SPANS DROPPED LOST GAPS REJECTED DECODE-ERR EXPORT-FAIL; do
		i=$((i + 1))
		[ "$(col "$n" "$c")" = "${!i}" ] || { echo "    $n $c: $(col "$n" "$c"), not ${!i}"; return 1; }
	done
}
header_is() { [ "$(awk 'NR == 1 { $1 = $1; print }' "$OUT/p.out")" = "$1" ]; }
nodes_are() { [ "$(awk 'NR > 1 { printf "%s ", $1 }' "$OUT/p.out")" = "$1" ]; }
err_names() { grep -qF -- "$1" "$OUT/p.err"; }
err_lacks() { ! grep -qF -- "$1" "$OUT/p.err"; }
no_err() { [ ! -s "$OUT/p.err" ]; }

plugin status
sed 's/^/    /' "$OUT/p.out"
sed 's/^/    stderr: /' "$OUT/p.err"
check "status: the header" header_is \
	"NODE POD READY SANDBOXES SPANS DROPPED LOST GAPS REJECTED DECODE-ERR EXPORT-FAIL NOTE"
check "status: a line per Kata node, in order (node-plain is none)" nodes_are "node-a node-b node-c node-d "
check "node-a: its pod, ready, 2 sandboxes, the $EXPECTED_SPANS spans sent, no drop or loss, 1 frame rejected (oversize), 1 decode error (garbage), no export failure" \
	row_is node-a "$AGENT" True 2 "$EXPECTED_SPANS" 0 0 0 1 1 0
check "node-a: no note" is node-a NOTE ""
check "node-b: no katatrace-bpf pod, said" is node-b NOTE "no katatrace-bpf pod"
check "node-b: no pod, no numbers" row_is node-b - - - - - - - - - -
check "node-c: its pod, unreachable, said" is node-c NOTE "metrics unreachable"
check "node-c: no numbers" row_is node-c "$AGENT_C" True - - - - - - - -
check "node-d (crafted metrics): sums over labels, exact names only, a metric without samples is 0" \
	row_is node-d "$AGENT_D" False 3 1000 12 13 8 9 0 21
check "node-d: not ready, said" is node-d NOTE "not ready"
check_exit "status: exit 1, stderr names node-c's pod and why" "$PRC" 1 "$OUT/p.err" \
	"kubectl katatrace: status: node node-c: pod $AGENT_C: its metrics cannot be read: Error from server (ServiceUnavailable)"
check "... and node-b without a pod" err_names "kubectl katatrace: status: node node-b: Kata node (katacontainers.io/kata-runtime=true) without a katatrace-bpf pod"
check "... and node-d not ready" err_names "kubectl katatrace: status: node node-d: pod $AGENT_D is not ready (its Ready condition: False)"
check "... and not node-a" err_lacks "node node-a"
check "the metrics were read through the pod proxy, on port 2112" \
	grep -q "^GET /api/v1/namespaces/katatrace-system/pods/$AGENT:2112/proxy/metrics" "$OUT/api.log"
# node-a's and node-d's answers are held 1.5 s each by the API server: read
# one after the other, no proxy request would find another in flight
most_in_flight() { sed -n 's/^proxy .*: \([0-9]*\) in flight$/\1/p' "$OUT/api.log" | sort -n | tail -n 1; }
check "status read the daemons' metrics side by side ($(most_in_flight) in flight at most)" \
	[ "$(most_in_flight)" -ge 2 ]
check "the Kata nodes were listed by their label" \
	grep -q "^GET /api/v1/nodes?labelSelector=katacontainers.io%2Fkata-runtime%3Dtrue" "$OUT/api.log"

plugin status --node node-a
check "status --node node-a: exit 0, nothing on stderr" [ "$PRC" = 0 -a ! -s "$OUT/p.err" ]
check "status --node node-a: only its line" nodes_are "node-a "
check "status --node node-a: the same numbers" row_is node-a "$AGENT" True 2 "$EXPECTED_SPANS" 0 0 0 1 1 0
check "... the agent and the node looked up with field selectors" \
	grep -q "^GET /api/v1/nodes?fieldSelector=metadata.name%3Dnode-a&" "$OUT/api.log"
plugin status --node node-b
check "status --node node-b: its line only" nodes_are "node-b "
check_exit "status --node node-b: exit 1, said" "$PRC" 1 "$OUT/p.err" "node node-b: Kata node"
plugin status --node node-plain
check_exit "status --node of a node that is no Kata node and has no pod: exit 1, said" "$PRC" 1 "$OUT/p.err" \
	"kubectl katatrace: status: node node-plain has no katatrace-bpf pod (namespace katatrace-system) and is no Kata node"
check "... nothing on stdout" [ ! -s "$OUT/p.out" ]

json_rows() { # the rows expected, as node:key=value,... (JSON values)
	node -e '
		const got = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map((l) => JSON.parse(l));
		const want = process.argv.slice(2).map((w) => JSON.parse(w));
		const keys = ["node", "pod", "ready", "sandboxes", "spans_exported", "dropped", "lost", "gaps",
			"frames_rejected", "decode_errors", "export_failures", "note"];
		const same = got.length === want.length && got.every((o, i) =>
			JSON.stringify(Object.keys(o)) === JSON.stringify(keys) &&
			keys.every((k) => want[i][k] === undefined || o[k] === want[i][k]));
		if (!same) console.log("    got", JSON.stringify(got));
		process.exit(same ? 0 : 1);' "$OUT/p.out" "$@"
}
plugin status -o json
check "status -o json: a JSON object per node, its columns as numbers, null where unknown" json_rows \
	"{\"node\":\"node-a\",\"pod\":\"$AGENT\",\"ready\":true,\"sandboxes\":2,\"spans_exported\":$EXPECTED_SPANS,\"dropped\":0,\"lost\":0,\"gaps\":0,\"frames_rejected\":1,\"decode_errors\":1,\"export_failures\":0,\"note\":null}" \
	'{"node":"node-b","pod":null,"ready":null,"spans_exported":null,"note":"no katatrace-bpf pod"}' \
	"{\"node\":\"node-c\",\"pod\":\"$AGENT_C\",\"ready\":true,\"sandboxes\":null,\"note\":\"metrics unreachable\"}" \
	"{\"node\":\"node-d\",\"pod\":\"$AGENT_D\",\"ready\":false,\"dropped\":12,\"export_failures\":21,\"note\":\"not ready\"}"
check "status -o json: exit 1 as well" [ "$PRC" = 1 ]

plugin status --port 9 --node node-a
check "status --port 9: the proxy asked for that port (the pod has none: unreachable, exit 1)" is node-a NOTE "metrics unreachable"
check_exit "... said" "$PRC" 1 "$OUT/p.err" "port 9 of pod"
check "... requested" grep -q "^GET /api/v1/namespaces/katatrace-system/pods/$AGENT:9/proxy/metrics" "$OUT/api.log"
plugin status --port http
check_exit "status --port that is not a number: exit 1, said" "$PRC" 1 "$OUT/p.err" "status: --port 'http' is not a port number"
plugin status -o yaml
check_exit "status -o yaml: exit 1, said" "$PRC" 1 "$OUT/p.err" "the only output format is json"

plugin --dry-run status
check "--dry-run status: the metrics reads it would make, a command per daemon, exit 0" said 0 \
	"kubectl get --raw /api/v1/namespaces/katatrace-system/pods/$AGENT:2112/proxy/metrics --request-timeout 10s
kubectl get --raw /api/v1/namespaces/katatrace-system/pods/$AGENT_C:2112/proxy/metrics --request-timeout 10s
kubectl get --raw /api/v1/namespaces/katatrace-system/pods/$AGENT_D:2112/proxy/metrics --request-timeout 10s"
reads=$(grep -c '/proxy/' "$OUT/api.log")
plugin --dry-run status --node node-c
check "--dry-run status --node node-c: its daemon's read only" said 0 \
	"kubectl get --raw /api/v1/namespaces/katatrace-system/pods/$AGENT_C:2112/proxy/metrics --request-timeout 10s"
check "--dry-run read no metrics" [ "$(grep -c '/proxy/' "$OUT/api.log")" = "$reads" ]
plugin --dry-run --namespace tracing status
check "--namespace tracing status: no pod there, nothing to read" said 0 ""
plugin --namespace tracing status
check "--namespace tracing status: every Kata node without a pod" nodes_are "node-a node-b node-c node-d "
check "... exit 1" [ "$PRC" = 1 ]

# The krew archive and manifest.
check "make kubectl-plugin" make -s -C "$ROOT_DIR" kubectl-plugin
PLUG=$ROOT_DIR/build/kubectl-plugin
mkdir -p "$OUT/unpacked"
check "the archive unpacks" tar -xzf "$PLUG/kubectl-katatrace.tar.gz" -C "$OUT/unpacked"
check "it holds the plugin as it is" cmp "$OUT/unpacked/kubectl-katatrace" "$ROOT_DIR/deploy/kubectl/kubectl-katatrace"
check "... executable" test -x "$OUT/unpacked/kubectl-katatrace"
check "... and the license" cmp "$OUT/unpacked/LICENSE" "$ROOT_DIR/LICENSE"
SUM=$(sha256sum "$PLUG/kubectl-katatrace.tar.gz" | cut -d' ' -f1)
manifest_ok() {
	node -e '
		const YAML = require(process.argv[1] + "/node_modules/yaml");
		const m = YAML.parse(require("fs").readFileSync(process.argv[2], "utf8"));
		const p = m.spec.platforms[0];
		const ok = m.apiVersion === "krew.googlecontainertools.github.com/v1alpha2" && m.kind === "Plugin" &&
			m.metadata.name === "katatrace" && /^v\d+\.\d+\.\d+$/.test(m.spec.version) &&
			m.spec.shortDescription && p.sha256 === process.argv[3] && p.bin === "kubectl-katatrace" &&
			p.uri && p.files.some((f) => f.from === "kubectl-katatrace");
		process.exit(ok ? 0 : 1);' "$DEP" "$PLUG/katatrace.yaml" "$SUM"
}
check "the krew manifest: a Plugin katatrace with the archive's sha256 ($SUM)" manifest_ok
finish
