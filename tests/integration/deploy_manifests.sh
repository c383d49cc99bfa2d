#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# deploy/kubernetes as `kubectl apply -k` would send it: built by the real
# kubectl (kustomize, no cluster needed), every object checked against the
# Kubernetes schemas and what the node agent needs by
# tests/deploy/check-manifests.js (kubernetes-models). Then the checker is
# shown to catch a schema error and a broken promise in planted copies.
. "$(dirname "$0")/lib.sh"
log "deploy_manifests: deploy/kubernetes built by kubectl kustomize, checked against the schemas"
command -v kubectl >/dev/null || abort_test "setup: kubectl is missing (make deps-test installs it)"
CHECKER=$ROOT_DIR/tests/deploy/check-manifests.js
[ -d "$ROOT_DIR/tests/deploy/node_modules" ] || abort_test "setup: tools/ensure-npm tests/deploy"

build() { kubectl kustomize "$ROOT_DIR/deploy/kubernetes" >"$OUT/built.yaml" && [ -s "$OUT/built.yaml" ]; }
check "kubectl kustomize builds deploy/kubernetes" build
node "$CHECKER" "$OUT/built.yaml" >"$OUT/check.log" 2>&1
sed 's/^/  /' "$OUT/check.log" | grep -v '^  [0-9]* passed'
absorb_counts "$OUT/check.log"

# The checker fails where it should: a field of the wrong type, and a promise broken.
planted() { # name sed-expression: the checker must fail on the built manifests so changed
	sed -e "$2" "$OUT/built.yaml" >"$OUT/planted-$1.yaml"
	! cmp -s "$OUT/built.yaml" "$OUT/planted-$1.yaml" &&
		! node "$CHECKER" "$OUT/planted-$1.yaml" >"$OUT/planted-$1.log" 2>&1 &&
		grep -q "FAILED: $3" "$OUT/planted-$1.log"
}
check "planted: hostPID a string is a schema error" \
	planted schema 's/hostPID: true/hostPID: "yes"/' "DaemonSet katatrace-bpf: valid against the Kubernetes schema"
check "planted: no node selector is caught" \
	planted selector 's/katacontainers.io\/kata-runtime: "true"/katacontainers.io\/kata-runtime: "false"/' \
	"DaemonSet: only on Kata nodes"
check "planted: /run/vc not mounted is caught" \
	planted mount 's|mountPath: /run/vc$|mountPath: /run/vc-elsewhere|' "DaemonSet: host /run/vc mounted at /run/vc"
check "planted: the spool off is caught" \
	planted spool '/--spool-dir=/d' "DaemonSet: the disk spool is on (--spool-dir) in a host directory"
check "planted: an upgrade that stops the old pod first is caught" \
	planted surge 's/maxUnavailable: 0/maxUnavailable: 1/' "DaemonSet: rolling updates start the new pod beside the old one"
check "planted: no takeover is caught" \
	planted takeover '/- --takeover$/d' "DaemonSet: the new daemon takes over from the old one"
check "planted: a declared container port (a hostPort) is caught" \
	planted hostport 's|^\( *\)readinessProbe:|\1ports: [{containerPort: 2112}]\n\1readinessProbe:|' \
	"DaemonSet: no container port declared"
finish
