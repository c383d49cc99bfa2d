#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The container image (make image) run as the DaemonSet of deploy/kubernetes
# runs it: podman (Debian's, with runc and the container's rlimits left
# alone through a containers.conf of the test's own, CONTAINERS_CONF) runs
# it with the arguments tests/deploy/daemonset-to-podman.js derives from what
# `kubectl kustomize deploy/kubernetes` builds: its securityContext, host
# namespaces, resources, env, host path mounts (the node's /run under a fake
# root), image and args. Checked:
#   1. both images: their tags, the version, the slim one under 30 MB and
#      without bpftrace, the other with this machine's bpftrace, the CA
#      certificates as the host has them;
#   2. the container is live and ready on the probes' own URLs, logs JSON
#      lines, and its daemon runs as nobody with no capability;
#   3. a relaying hypervisor's agent spans reach the OTLP/gRPC collector that
#      OTEL_EXPORTER_OTLP_ENDPOINT names, each with its sandbox, and the
#      metrics on the manifest's port count them;
#   4. `kubectl katatrace probe pod/default/web` (the real kubectl, a fake
#      API server): the command it would exec in the DaemonSet's pod runs in
#      the container (podman exec), and the probe's spans of the pod's
#      "hypervisor" reach the collector through the container's daemon;
#   5. `podman stop` (the grace period of the manifest): exit 0, the summary,
#      the listeners gone from the host's directories.
. "$(dirname "$0")/lib.sh"
log "container_image: make image, run with the DaemonSet's own settings"
command -v podman >/dev/null || abort_test "setup: podman is missing (make deps-test installs it)"
DEP=$ROOT_DIR/tests/deploy
[ -d "$DEP/node_modules" ] || abort_test "setup: tools/ensure-npm tests/deploy"
PT=$ROOT_DIR/build/targets/c/probe_target
[ -x "$PT" ] || abort_test "setup: make build/targets/c/probe_target"
CALLS=20
SLEEP_US=2000
cat >"$OUT/containers.conf" <<'CONF'
[containers]
default_ulimits = []
[engine]
runtime = "runc"
CONF
export CONTAINERS_CONF=$OUT/containers.conf
IMAGE=localhost/katatrace-bpf
VERSION=$(sed -n 's/^#define KT_VERSION "\(.*\)"/\1/p' user/daemon/config.h)
CTR=katatrace-bpf-test-$$

# ------------------------------------------------------------ the images
log "phase 1: make image"
check "make image" make -s image
for tag in latest slim "$VERSION" "$VERSION-slim"; do
	check "tag $IMAGE:$tag" podman image exists "$IMAGE:$tag"
done
label_is() { [ "$(podman image inspect --format "{{index .Labels \"$2\"}}" "$1")" = "$3" ]; }
check "the version label is $VERSION" label_is "$IMAGE:latest" org.opencontainers.image.version "$VERSION"
SLIM_SIZE=$(podman image inspect --format '{{.Size}}' "$IMAGE:slim")
log "slim: $SLIM_SIZE bytes; with bpftrace: $(podman image inspect --format '{{.Size}}' "$IMAGE:latest") bytes"
check "the slim image is under 30 MB ($SLIM_SIZE bytes)" [ "$SLIM_SIZE" -lt 30000000 ]
check "the slim image runs: --version" [ "$(podman run --rm "$IMAGE:slim" --version)" = "katatrace-bpf $VERSION" ]
check "the image runs: --version" [ "$(podman run --rm "$IMAGE:latest" --version)" = "katatrace-bpf $VERSION" ]
check "the slim image has no bpftrace" bash -c "! podman run --rm --entrypoint /usr/bin/bpftrace $IMAGE:slim --version >/dev/null 2>&1"
check "the image has this machine's bpftrace" \
	[ "$(podman run --rm --entrypoint /usr/bin/bpftrace "$IMAGE:latest" --version)" = "$(bpftrace --version)" ]
ca_as_host() { # image
	local c
	c=$(podman create "$1") || return 1
	podman cp "$c:/etc/ssl/certs/ca-certificates.crt" "$OUT/ca.crt"
	podman rm "$c" >/dev/null
	cmp -s "$OUT/ca.crt" /etc/ssl/certs/ca-certificates.crt
}
check "the CA certificates, as the host has them (slim)" ca_as_host "$IMAGE:slim"
check "the CA certificates, as the host has them" ca_as_host "$IMAGE:latest"

# ------------------------------------------------------------ the DaemonSet's container
log "phase 2: the DaemonSet's container"
kubectl kustomize deploy/kubernetes >"$OUT/manifests.yaml" || abort_test "setup: kubectl kustomize deploy/kubernetes"
make_workload || abort_test "workload generation"
start_grpc_receiver || abort_test "setup: receiver"
translate() { node "$DEP/daemonset-to-podman.js" "$@" "$OUT/manifests.yaml"; }
# The translator refuses what it cannot say, so nothing of the manifest is left out.
sed 's/^\( *\)\(imagePullPolicy: .*\)$/\1\2\n\1workingDir: \/tmp/' "$OUT/manifests.yaml" >"$OUT/planted.yaml"
node "$DEP/daemonset-to-podman.js" "$OUT/planted.yaml" >/dev/null 2>"$OUT/tr.err"
check_exit "translator: a container field it does not translate is an error" "$?" 1 "$OUT/tr.err" \
	"container field workingDir: not translated"
translate --env NOT_IN_THE_MANIFEST=1 >/dev/null 2>"$OUT/tr.err"
check_exit "translator: --env of a variable the manifest does not set is an error" "$?" 1 "$OUT/tr.err" \
	"--env NOT_IN_THE_MANIFEST: the manifest sets no such variable"
mapfile -t ARGS < <(translate --relocate "/run=$RUN_ROOT" --relocate "/var/lib/katatrace-bpf=$RUN_ROOT" --env "OTEL_EXPORTER_OTLP_ENDPOINT=$GRPC_URL" --name "$CTR")
READY_URL=$(translate --probe readiness)
LIVE_URL=$(translate --probe liveness)
[ ${#ARGS[@]} -gt 5 ] && [ -n "$READY_URL" ] && [ -n "$LIVE_URL" ] || abort_test "setup: the translator"
printf '    podman run'
printf ' %q' "${ARGS[@]}"
echo
METRICS_URL=${READY_URL%/readyz}/metrics
curl -s --max-time 2 -o /dev/null "$READY_URL" &&
	abort_test "setup: ${READY_URL%/readyz} already answers here: another katatrace-bpf runs on the manifest's port"
stop_container() { podman rm -f -t 0 "$CTR" >/dev/null 2>&1; }
trap 'stop_container; cleanup' EXIT
podman run -d "${ARGS[@]}" >"$OUT/ctr.id" 2>"$OUT/ctr.err" || {
	sed 's/^/    podman: /' "$OUT/ctr.err"
	abort_test "podman run with the DaemonSet's settings"
}
answers() { [ "$(curl -s --max-time 2 -o "$OUT/http.body" -w '%{http_code}' "$1")" = "$2" ]; }
ctr_logs() { podman logs "$CTR" >"$OUT/ctr.log" 2>&1; }
if ! check "ready on the readiness probe's URL ($READY_URL)" wait_for 60 "the readiness probe" answers "$READY_URL" 200; then
	ctr_logs
	tail -n 20 "$OUT/ctr.log" | sed 's/^/    ctr: /'
	abort_test "the container never became ready"
fi
check "live on the liveness probe's URL ($LIVE_URL)" answers "$LIVE_URL" 200
CPID=$(podman inspect --format '{{.State.Pid}}' "$CTR")
status_field() { awk -v k="$2:" '$1 == k { $1 = ""; sub(/^ /, ""); print }' "/proc/$1/status"; }
check "the daemon runs as nobody in the host's pid namespace" \
	[ "$(status_field "$CPID" Uid)" = "65534 65534 65534 65534" ]
check "the daemon has no capability" [ "$(status_field "$CPID" CapEff)" = 0000000000000000 ]
check "the sandboxes' listeners, bound in the host's directories" \
	wait_for 20 "the listeners" test -S "$LISTEN_CLH" -a -S "$LISTEN_FC"

log "phase 3: a relaying hypervisor's spans"
check "relay sent every stream" run_relay --max-chunk 65536
check "every span reached the collector of OTEL_EXPORTER_OTLP_ENDPOINT" \
	wait_for 30 "all spans at the receiver" all_spans_arrived
# Each span with its sandbox and its hypervisor: the relay's pid, as the host
# sees it (the container is in the host's pid namespace).
expected_per_sandbox() { # counts from the workload's own files
	local n_fc
	n_fc=$(($(wc -l <"$OUT/gen/list") + 2))
	echo "$SB_CLH $((EXPECTED_SPANS - n_fc))"
	echo "$SB_FC $n_fc"
}
expected_per_sandbox >"$OUT/expected.txt"
node - "$OUT/spans.jsonl" "$(cat "$OUT/relay.pid")" >"$OUT/got.txt" 2>"$OUT/got.err" <<'NODE'
const fs = require('fs');
const [file, relayPid] = process.argv.slice(2);
const count = new Map();
let bad = 0;
for (const line of fs.readFileSync(file, 'utf8').split('\n').filter(Boolean)) {
	const s = JSON.parse(line);
	const attrs = new Map((s.resource || []).map((a) => [a.key, a.value && a.value.value]));
	const sb = attrs.get('katatrace.sandbox.id');
	if (String(attrs.get('katatrace.hypervisor.pid')) !== relayPid || attrs.get('service.name') === undefined) {
		bad++;
		process.stderr.write(`span ${s.name}: resource ${JSON.stringify(s.resource)}\n`);
	}
	count.set(sb, (count.get(sb) || 0) + 1);
}
for (const [sb, n] of [...count].sort()) console.log(`${sb} ${n}`);
if (bad) console.log(`bad ${bad}`);
NODE
head -n 5 "$OUT/got.err" | sed 's/^/    /'
check "the spans of each sandbox, attributed to it and to the relay's pid" \
	diff <(sort "$OUT/expected.txt") "$OUT/got.txt"
# What the manifest's requests and limits are measured against (logged, not checked).
hwm() { awk '$1 == "VmHWM:" { print $2 }' "/proc/$1/status"; }
BROKER=$(pgrep -P "$CPID" | head -n 1)
log "memory after the workload: daemon peak $(hwm "$CPID") kB, broker peak $(hwm "$BROKER") kB"
metric() { curl -s --max-time 5 "$METRICS_URL" | awk -v n="$1" '$1 == n { print $2 }'; }
check "the metrics on the manifest's port count the $EXPECTED_SPANS spans exported" \
	[ "$(metric katatrace_spans_exported_total)" = "$EXPECTED_SPANS" ]
check "... and the two sandboxes" [ "$(metric katatrace_sandboxes)" = 2 ]
metric_sum() { curl -s --max-time 5 "$METRICS_URL" | awk -v n="$1" '$1 == n || index($1, n "{") == 1 { s += $2 } END { print s + 0 }'; }
check "... and the workload's one garbage frame, a decode error" [ "$(metric_sum katatrace_decode_errors_total)" = 1 ]

log "phase 4: kubectl katatrace probe, its command run in the container"
# A Kata pod on the fake node, its "hypervisor" the C target (waiting for a
# byte on its stdin), and the plugin asked for a probe on it. The command it
# would run through `kubectl exec` in the DaemonSet's pod runs in the
# container through `podman exec`, as the kubelet would run it there.
SB=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
fake_kata_pod "$RUN_ROOT" "$SB" default web
rm -f "$OUT/hv.in" "$OUT/hv.out"
mkfifo "$OUT/hv.in"
"$PT" "$CALLS" "$SLEEP_US" <"$OUT/hv.in" >"$OUT/hv.out" 7>&- &
HV=$!
PIDS+=("$HV")
exec 7>"$OUT/hv.in"
wait_for 10 "the hypervisor's pid" [ "$(head -n 1 "$OUT/hv.out" 2>/dev/null)" = "$HV" ] ||
	abort_test "setup: the C target did not start"
fake_hypervisor_pid "$RUN_ROOT" "$SB" "$HV"
HV_TIDS=$(ls "/proc/$HV/task" | grep -vx "$HV" | sort -n | paste -sd, -)
AGENT=katatrace-bpf-q4m7z
cat >"$OUT/pods.json" <<PODS
[{"namespace": "default", "name": "web", "node": "node-a", "runtimeClassName": "kata-clh"},
 {"namespace": "katatrace-system", "name": "$AGENT", "node": "node-a", "container": "katatrace-bpf",
  "labels": {"app.kubernetes.io/name": "katatrace-bpf"}}]
PODS
node "$DEP/fake-apiserver.js" "$OUT/pods.json" 0 >"$OUT/api.out" 2>"$OUT/api.log" &
PIDS+=($!)
wait_for 10 "the fake API server" grep -q '^listening ' "$OUT/api.out" || abort_test "setup: the fake API server"
printf 'apiVersion: v1\nkind: Config\nclusters: [{name: f, cluster: {server: "http://127.0.0.1:%s"}}]\ncontexts: [{name: f, context: {cluster: f, user: u}}]\ncurrent-context: f\nusers: [{name: u, user: {}}]\n' \
	"$(awk '{print $2}' "$OUT/api.out")" >"$OUT/kubeconfig"
KUBECONFIG=$OUT/kubeconfig PATH=$ROOT_DIR/deploy/kubectl:$PATH kubectl katatrace --dry-run probe pod/default/web \
	--span 'uprobe:/proc/$hypervisor_pid/exe:work' --args 2 --duration 6 >"$OUT/plugin.out" 2>"$OUT/plugin.err"
PLUGIN_RC=$?
check "kubectl katatrace --dry-run probe pod/default/web: exit 0" [ "$PLUGIN_RC" = 0 ]
eval "set -- $(cat "$OUT/plugin.out")"
exec_into_agent() { [ "$*" = "kubectl exec -n katatrace-system $AGENT -c katatrace-bpf --" ]; }
check "it would exec into the DaemonSet's pod on the pod's node" exec_into_agent "${@:1:8}"
shift 8
check "... the probe command" [ "$1 $2" = "katatrace-bpf probe" ]
podman exec "$CTR" "$@" >"$OUT/probe.out" 2>"$OUT/probe.log" &
PROBE=$!
check "the probe in the container is ready" wait_for 30 "the probe's ready line" grep -q ' ready: ' "$OUT/probe.log"
check "it exports through the container's daemon" grep -q "exporting to the daemon (pid [0-9]*) as probe 1" "$OUT/probe.log"
echo x >&7
check "the hypervisor made its calls" wait_for 20 "the hypervisor's calls" grep -qx done "$OUT/hv.out"
exec 7>&-
wait "$PROBE"
check_exit "the probe exits 0 after --duration, its $CALLS spans exported" "$?" 0 "$OUT/probe.log" \
	"spans $CALLS, events 0, bpftrace records 0, lost 0, spans exported $CALLS,"
tail -n 3 "$OUT/probe.log" | cut -c1-240 | sed 's/^/    probe: /'
probe_spans_in() { node -e 'const fs = require("fs"); const [i, o] = process.argv.slice(1);
	const keep = fs.readFileSync(i, "utf8").split("\n").filter(Boolean).filter((l) =>
		JSON.parse(l).resource.some((a) => a.key === "katatrace.probe.id"));
	fs.writeFileSync(o, keep.map((l) => l + "\n").join(""));' "$OUT/spans.jsonl" "$OUT/probe-spans.jsonl"
	[ "$(count_lines "$OUT/probe-spans.jsonl")" -ge "$CALLS" ]; }
check "the probe's spans reached the collector through the daemon" \
	wait_for 20 "the probe's spans at the receiver" probe_spans_in
node "$RECV/check-probe.js" work --file "$OUT/probe-spans.jsonl" --calls "$CALLS" --pid "$HV" --tids "$HV_TIDS" \
	--sleep-us "$SLEEP_US" --exe "$PT" --target pod/default/web --probe-id 1 --sandbox "$SB" --pod-ns default \
	--pod-name web --hv-pid "$HV" --hv-name cloud-hypervisor >"$OUT/check-probe.log" 2>&1
sed 's/^/  /' "$OUT/check-probe.log" | grep -v '^  [0-9]* passed'
absorb_counts "$OUT/check-probe.log"

log "phase 5: podman stop"
ctr_stop() { podman stop "$CTR" >/dev/null; }
check "podman stop" ctr_stop
check "exit status 0" [ "$(podman inspect --format '{{.State.ExitCode}}' "$CTR")" = 0 ]
ctr_logs
json_lines() { node -e '
	const lines = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean);
	let ok = lines.length > 0;
	for (const l of lines) {
		try { const o = JSON.parse(l); if (!o.time || !o.level || !o.msg) ok = false; } catch (e) { ok = false; }
	}
	process.exit(ok ? 0 : 1);' "$1"; }
check "its log: JSON lines with time, level and msg (--log-format=json)" json_lines "$OUT/ctr.log"
SUMMARY=$(grep 'katatrace-bpf summary:' "$OUT/ctr.log" | tail -n 1)
echo "    $SUMMARY" | cut -c1-200
check "summary: spans exported = $EXPECTED_SPANS and the probe's $CALLS" \
	[ "$(summary_value 'spans exported')" = "$((EXPECTED_SPANS + CALLS))" ]
check "summary: no lost records" [ "$(summary_value 'lost records')" = 0 ]
check "the listeners removed from the host's directories" test ! -e "$LISTEN_CLH" -a ! -e "$LISTEN_FC"
stop_container
finish
