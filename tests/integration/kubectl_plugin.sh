#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# kubectl katatrace (deploy/kubectl/kubectl-katatrace) run by the real
# kubectl, as a plugin found on the PATH, against a fake API server
# (tests/deploy/fake-apiserver.js) that holds a few pods: a Kata pod on a
# node with the katatrace-bpf DaemonSet's pod, a Kata pod on a node without
# one, a pod that is not a Kata pod, one not scheduled yet. With --dry-run
# the plugin prints the kubectl command it would run (exec into the
# DaemonSet's pod on the pod's node; logs); each error is checked with its
# message. Then its krew archive and manifest (make kubectl-plugin).
. "$(dirname "$0")/lib.sh"
log "kubectl_plugin: kubectl katatrace through the real kubectl and a fake API server"
command -v kubectl >/dev/null || abort_test "setup: kubectl is missing (make deps-test installs it)"
DEP=$ROOT_DIR/tests/deploy
[ -d "$DEP/node_modules" ] || abort_test "setup: tools/ensure-npm tests/deploy"
AGENT=katatrace-bpf-x7k2p
cat >"$OUT/pods.json" <<EOF
[{"namespace": "default", "name": "web", "node": "node-a", "runtimeClassName": "kata-qemu"},
 {"namespace": "shop", "name": "db", "node": "node-b", "runtimeClassName": "kata-clh"},
 {"namespace": "default", "name": "plain", "node": "node-a", "runtimeClassName": "runc"},
 {"namespace": "default", "name": "waiting", "runtimeClassName": "kata-qemu"},
 {"namespace": "katatrace-system", "name": "$AGENT", "node": "node-a", "container": "katatrace-bpf",
  "labels": {"app.kubernetes.io/name": "katatrace-bpf"}},
 {"namespace": "katatrace-system", "name": "not-the-agent", "node": "node-b"}]
EOF
node "$DEP/fake-apiserver.js" "$OUT/pods.json" 0 >"$OUT/api.out" 2>"$OUT/api.log" &
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
