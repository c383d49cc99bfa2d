#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# containerd's calls to its shims, from the host's view: a real containerd
# (Debian's package, private socket, root and state directories, no CRI
# plugin) runs a container from a busybox root file system with runc through
# the default io.containerd.runc.v2 shim, while katatrace-bpf (tap mode, BPF
# on this kernel) captures the shim socket containerd dials. containerd puts
# that socket at /run/containerd/s/<sha256 of "<address>/<namespace>/<id>">
# whatever its --state is, so the real directory is captured here.
#
# Checked by Node on what the independent OTLP/HTTP receiver decoded:
# containerd.task.v2.Task/Create, /Start, /Wait and /Delete CLIENT spans for
# the container, each once, with the container id, rpc.* attributes, status
# OK, one trace; in the order the calls must have happened (Create first,
# Delete last; ctr asks for Wait from a goroutine of its own, so Start and
# Wait may reach the shim in either order); every other call (Connect, State,
# Shutdown, which the shim may leave unanswered as it exits) well formed too;
# Wait answered no earlier than
# the container's sleep after Start began; all within the test's window;
# the resource naming the shim's socket, pid and name.
. "$(dirname "$0")/lib.sh"
log "containerd -> shim Task API spans, real containerd and runc, tap mode"

if ! command -v containerd >/dev/null || ! command -v runc >/dev/null ||
	! command -v containerd-shim-runc-v2 >/dev/null || ! [ -x /bin/busybox ]; then
	make -s deps-test >/dev/null || abort_test "installing containerd, runc and busybox-static"
fi

CTD=$OUT/ctd
ADDR=$CTD/c.sock
NS=katatrace
ID=kt-task-$$-$RANDOM
SLEEP_MS=300
STATE=$CTD/state
CTD_PID=

ctr_() { timeout 60 ctr --address "$ADDR" --namespace "$NS" "$@"; }

# Runs before lib.sh's cleanup, also on failure: no container, shim or
# mount of ours is left behind.
ctd_cleanup() {
	if [ -n "$CTD_PID" ] && kill -0 "$CTD_PID" 2>/dev/null; then
		ctr_ task kill -s KILL "$ID" >/dev/null 2>&1
		ctr_ task delete -f "$ID" >/dev/null 2>&1
		ctr_ container delete "$ID" >/dev/null 2>&1
		kill "$CTD_PID" 2>/dev/null
		wait "$CTD_PID" 2>/dev/null
	fi
	# shims started for this containerd (they name its address)
	local p
	for p in /proc/[0-9]*; do
		if tr '\0' ' ' 2>/dev/null <"$p/cmdline" | grep -qF -- "-address $ADDR "; then
			kill -KILL "${p#/proc/}" 2>/dev/null
		fi
	done
	awk -v d="$CTD/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r |
		while read -r m; do umount -l "$m" 2>/dev/null; done
	rm -rf "$CTD"
}
trap 'ctd_cleanup; cleanup' EXIT

mkdir -p "$CTD/rootfs/bin" "$CTD/rootfs/proc" "$CTD/rootfs/dev" "$CTD/rootfs/sys" "$CTD/rootfs/tmp"
cp /bin/busybox "$CTD/rootfs/bin/busybox" || abort_test "busybox root file system"
cat >"$CTD/config.toml" <<EOF
version = 2
root = "$CTD/root"
state = "$STATE"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$ADDR"
[ttrpc]
  address = "$ADDR.ttrpc"
EOF
containerd --config "$CTD/config.toml" --log-level info >"$OUT/containerd.log" 2>&1 &
CTD_PID=$!
ctd_up() { ctr --address "$ADDR" version >/dev/null; }
wait_for 30 "containerd" ctd_up || abort_test "containerd start-up"

start_receiver || abort_test "setup"
start_kt --mode tap --otlp-endpoint "$RECV_URL" --batch-timeout 200 || abort_test "setup"
check "the shim socket directory is captured" \
	grep -q "containerd shim sockets: /run/containerd/s/" "$OUT/kt.log"

T0=$(date +%s%N)
ctr_ run --rm --rootfs "$CTD/rootfs" "$ID" /bin/busybox sh -c "sleep 0.$SLEEP_MS" \
	>"$OUT/ctr.log" 2>&1
CTR_RC=$?
T1=$(date +%s%N)
check "ctr ran the container (exit $CTR_RC)" [ "$CTR_RC" = 0 ]
[ "$CTR_RC" = 0 ] || sed 's/^/    ctr: /' "$OUT/ctr.log" | tail -n 5

# The shim logs its pid into containerd's log when it starts serving.
SHIM_PID=$(grep -F "path=$STATE/io.containerd.runtime.v2.task/$NS/$ID " "$OUT/containerd.log" |
	grep -F 'starting signal loop' | sed -n 's/.* pid=\([0-9]*\).*/\1/p' | head -n 1)
check "the shim's pid is in containerd's log" [ -n "$SHIM_PID" ]
SOCK=/run/containerd/s/$(printf '%s' "$ADDR/$NS/$ID" | sha256sum | cut -c1-64)

stop_kt
stop_receiver
check "exit status 0" [ "$KT_RC" = 0 ]
check "summary: no decode errors" [ "$(summary_value 'decode errors')" = 0 ]

node - "$OUT/spans.jsonl" "$ID" "$T0" "$T1" "$SLEEP_MS" "$SOCK" "${SHIM_PID:-0}" \
	>"$OUT/check.log" 2>&1 <<'JS'
const [file, id, t0, t1, sleepMs, sock, shimPid] = process.argv.slice(2);
const fs = require('fs');
const lines = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
const attr = (list, k) => { const kv = list.find((a) => a.key === k); return kv && kv.value.value; };
/* the node may carry other traffic: only this container's calls through a shim socket */
const spans = lines.map(JSON.parse).filter((s) =>
	attr(s.resource, 'katatrace.transport') === 'containerd-shim' &&
	attr(s.attributes, 'katatrace.container.id') === id);
let passed = 0, failed = 0;
const ok = (what, cond) => { if (cond) passed++; else { failed++; console.log(`FAILED: ${what}`); } };
const svc = 'containerd.task.v2.Task';
console.log(`calls for ${id}: ${spans.map((s) => s.name.slice(svc.length + 1)).join(' ')}`);
const by = {};
for (const m of ['Create', 'Start', 'Wait', 'Delete']) {
	const found = spans.filter((s) => s.name === `${svc}/${m}`);
	ok(`one ${m} span (got ${found.length})`, found.length === 1);
	by[m] = found[0];
}
for (const s of spans) {
	const n = s.name;
	const m = n.slice(svc.length + 1);
	ok(`${n}: named <service>/<method>`, n.startsWith(`${svc}/`) && m.length > 0);
	ok(`${n}: kind CLIENT`, s.kind === 3);
	ok(`${n}: rpc.system ttrpc`, attr(s.attributes, 'rpc.system') === 'ttrpc');
	ok(`${n}: rpc.service`, attr(s.attributes, 'rpc.service') === svc);
	ok(`${n}: rpc.method`, attr(s.attributes, 'rpc.method') === m);
	/* The shim may exit on Shutdown before its answer is out (containerd expects that). */
	if (m !== 'Shutdown' || attr(s.attributes, 'katatrace.rpc.end') === 'response') {
		ok(`${n}: rpc.grpc.status_code 0`, attr(s.attributes, 'rpc.grpc.status_code') === '0');
		ok(`${n}: status not an error`, s.status.code === 0);
		ok(`${n}: answered`, attr(s.attributes, 'katatrace.rpc.end') === 'response');
	} else {
		ok(`${n}: unanswered: connection closed`,
			attr(s.attributes, 'katatrace.rpc.end') === 'connection_closed' && s.status.code === 2);
	}
	ok(`${n}: synthesized`, attr(s.attributes, 'katatrace.synthesized') === true);
	ok(`${n}: no exec id (the init process)`, attr(s.attributes, 'katatrace.exec.id') === undefined);
	ok(`${n}: long poll exactly for Wait`,
		(attr(s.attributes, 'katatrace.rpc.long_poll') === true) === (m === 'Wait'));
	ok(`${n}: end >= start`, BigInt(s.end) >= BigInt(s.start));
	ok(`${n}: within the test's window`, BigInt(s.start) >= BigInt(t0) && BigInt(s.end) <= BigInt(t1));
	ok(`${n}: service.name containerd (the caller)`, attr(s.resource, 'service.name') === 'containerd');
	ok(`${n}: socket path ${sock}`, attr(s.resource, 'katatrace.socket.path') === sock);
	ok(`${n}: the shim's pid ${shimPid}`, attr(s.resource, 'katatrace.shim.pid') === shimPid);
	ok(`${n}: the shim's name`, attr(s.resource, 'katatrace.shim.comm') === 'containerd-shim');
}
const { Create: c, Start: st, Wait: w, Delete: d } = by;
if (c && st && w && d) {
	const B = BigInt;
	console.log(`start order: ${[c, st, w, d].sort((a, b) => (B(a.start) < B(b.start) ? -1 : 1))
		.map((s) => s.name.slice(svc.length + 1)).join(' < ')}`);
	ok('Create answered before Start and Wait were asked', B(c.end) <= B(st.start) && B(c.end) <= B(w.start));
	ok('Start answered before Delete was asked', B(st.end) <= B(d.start));
	ok('Wait answered before Delete was asked', B(w.end) <= B(d.start));
	ok(`Wait answered at least ${sleepMs} ms after Start began (the container's sleep)`,
		B(w.end) - B(st.start) >= B(sleepMs) * 1000000n);
	console.log(`Wait lasted ${(Number(B(w.end) - B(w.start)) / 1e6).toFixed(1)} ms`);
	ok('all four in one trace', new Set([c, st, w, d].map((s) => s.traceId)).size === 1 && c.traceId !== '');
	ok('under one parent (the container\'s root)',
		new Set([c, st, w, d].map((s) => s.parentSpanId)).size === 1 && c.parentSpanId !== '');
	ok('distinct span ids', new Set([c, st, w, d].map((s) => s.spanId)).size === 4);
}
console.log(`${passed} passed, ${failed} failed`);
JS
grep -vE '^FAILED' "$OUT/check.log" | sed 's/^/    /' | head -n 4
grep '^FAILED' "$OUT/check.log" | sed 's/^/    /' | head -n 20
absorb_counts "$OUT/check.log"
finish
