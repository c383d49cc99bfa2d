#!/bin/bash
# Runtime -> agent RPCs from the host's view: a "runtime" (ttrpc-peer shim)
# talks ttrpc to a Cloud Hypervisor sandbox's hybrid-vsock socket after the
# CONNECT 1024 / OK handshake, a "hypervisor" (ttrpc-peer vmm) answers in
# reverse order, some calls with NOT_FOUND. katatrace-bpf (tap mode, BPF on
# both directions) must export one ttrpc.<Method> CLIENT span per call:
# with the request's traceparent its trace and span id, else the sandbox's
# trace under the sandbox's root; status, rpc.* attributes and sandbox.
. "$(dirname "$0")/lib.sh"
log "ttrpc spans from a hybrid-vsock hypervisor socket, tap mode"
RUN_ROOT=$OUT/r
SB=ttrpc-sb-1
mkdir -p "$RUN_ROOT/run/vc/vm/$SB"
UDS=$RUN_ROOT/run/vc/vm/$SB/clh.sock
N=12

build/tools/ttrpc-peer vmm "$UDS" >"$OUT/vmm.log" 2>&1 &
VMM_PID=$!
PIDS+=($VMM_PID)
wait_for 10 "the hypervisor socket" test -S "$UDS" || abort_test "setup"
start_kt --mode tap --run-root "$RUN_ROOT" --output "$OUT/spans.otlp.jsonl" --batch-timeout 200 ||
	abort_test "setup"
check "the runtime got all $N responses" build/tools/ttrpc-peer shim "$UDS" "$VEC/ttrpc_request_createcontainer.bin" $N
check "a second connection too" build/tools/ttrpc-peer shim "$UDS" "$VEC/ttrpc_request_createcontainer.bin" 2
sleep 1
stop_kt
check "exit status 0" [ "$KT_RC" = 0 ]
check "summary: spans exported = $((N + 2))" [ "$(summary_value 'spans exported')" = $((N + 2)) ]
node "$RECV/otlpjson.js" "$OUT/spans.otlp.jsonl" --out "$OUT/spans.jsonl" >"$OUT/otlpjson.log" 2>&1
check "OTLP/JSON lines parse with the upstream root" [ $? = 0 ]
node - "$OUT/spans.jsonl" "$SB" "$VMM_PID" "$N" >"$OUT/check.log" 2>&1 <<'JS'
const [file, sb, vmmPid, n] = process.argv.slice(2);
const spans = require('fs').readFileSync(file, 'utf8').split('\n').filter(Boolean).map(JSON.parse);
let passed = 0, failed = 0;
const ok = (what, cond) => { if (cond) passed++; else { failed++; console.log(`FAILED: ${what}`); } };
const attr = (list, k) => { const kv = list.find((a) => a.key === k); return kv && kv.value.value; };
ok(`${Number(n) + 2} spans`, spans.length === Number(n) + 2);
const sbTrace = new Set();
for (const s of spans) {
	const id = `${s.spanId} (${s.name})`;
	ok(`${id}: name`, s.name === 'ttrpc.CreateContainer');
	ok(`${id}: kind CLIENT`, s.kind === 3);
	ok(`${id}: rpc.system`, attr(s.attributes, 'rpc.system') === 'ttrpc');
	ok(`${id}: rpc.service`, attr(s.attributes, 'rpc.service') === 'grpc.AgentService');
	ok(`${id}: rpc.method`, attr(s.attributes, 'rpc.method') === 'CreateContainer');
	ok(`${id}: synthesized`, attr(s.attributes, 'katatrace.synthesized') === true);
	ok(`${id}: start <= end`, BigInt(s.start) <= BigInt(s.end) && BigInt(s.start) > 1600000000000000000n);
	ok(`${id}: sandbox`, attr(s.resource, 'katatrace.sandbox.id') === sb);
	ok(`${id}: service.name kata`, attr(s.resource, 'service.name') === 'kata');
	ok(`${id}: the hypervisor's pid`, attr(s.resource, 'katatrace.hypervisor.pid') === vmmPid);
	const sid = Number(attr(s.attributes, 'katatrace.rpc.stream_id'));
	const code = Number(attr(s.attributes, 'rpc.grpc.status_code'));
	if (sid % 4 === 3) {
		ok(`${id}: NOT_FOUND`, code === 5 && s.status.code === 2 && s.status.message === 'container c2 not found');
	} else {
		ok(`${id}: OK`, code === 0 && s.status.code === 0);
	}
	if (sid % 4 === 1) { /* every second request carries the vector's traceparent */
		ok(`${id}: trace id from traceparent`, s.traceId === '0af7651916cd43dd8448eb211c80319c');
		ok(`${id}: span id from traceparent`, s.spanId === 'b7ad6b7169203331');
		ok(`${id}: no parent`, s.parentSpanId === '');
	} else {
		ok(`${id}: a parent (the sandbox's root)`, s.parentSpanId !== '');
		ok(`${id}: own span id`, s.spanId !== 'b7ad6b7169203331' && s.spanId !== '');
		sbTrace.add(`${s.traceId}/${s.parentSpanId}`);
	}
}
ok('calls without traceparent share the sandbox trace and root', sbTrace.size === 1);
console.log(`${passed} passed, ${failed} failed`);
JS
sed 's/^/    /' "$OUT/check.log" | tail -n 12
absorb_counts "$OUT/check.log"
finish
