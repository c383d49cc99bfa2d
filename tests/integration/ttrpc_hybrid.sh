#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Runtime -> agent RPCs from the host's view: a "runtime" (ttrpc-peer shim)
# talks ttrpc to a Cloud Hypervisor sandbox's hybrid-vsock socket after the
# CONNECT 1024 / OK handshake, a "hypervisor" (ttrpc-peer vmm) answers in
# reverse order, some calls with NOT_FOUND. katatrace-bpf (tap mode, BPF on
# both directions) must export one ttrpc.<Method> CLIENT span per call:
# with the request's traceparent its trace and span id, else the sandbox's
# trace under the sandbox's root; status, rpc.* attributes, the stream id,
# request and response sizes, and sandbox.
. "$(dirname "$0")/lib.sh"
log "ttrpc spans from a hybrid-vsock hypervisor socket, tap mode"
RUN_ROOT=$OUT/r
SB=ttrpc-sb-1
mkdir -p "$RUN_ROOT/run/vc/vm/$SB"
UDS=$RUN_ROOT/run/vc/vm/$SB/clh.sock
N=12

# OK answers carry a 2-byte payload: the response size is not 0 by accident.
build/tools/ttrpc-peer vmm "$UDS" ok-payload >"$OUT/vmm.log" 2>&1 &
VMM_PID=$!
PIDS+=($VMM_PID)
wait_for 10 "the hypervisor socket" test -S "$UDS" || abort_test "setup"
start_kt --mode tap --run-root "$RUN_ROOT" --output "$OUT/spans.otlp.jsonl" --batch-timeout 200 ||
	abort_test "setup"
# A runtime's connection; it prints the stream ids it sent and which carried
# a traceparent.
shim() { # requests log
	build/tools/ttrpc-peer shim "$UDS" "$VEC/ttrpc_request_createcontainer.bin" "$1" >"$2"
}
check "the runtime got all $N responses" shim $N "$OUT/shim1.log"
check "a second connection too" shim 2 "$OUT/shim2.log"
sleep 1
stop_kt
check "exit status 0" [ "$KT_RC" = 0 ]
check "summary: spans exported = $((N + 2))" [ "$(summary_value 'spans exported')" = $((N + 2)) ]
node "$RECV/otlpjson.js" "$OUT/spans.otlp.jsonl" --out "$OUT/spans.jsonl" >"$OUT/otlpjson.log" 2>&1
check "OTLP/JSON lines parse with the upstream root" [ $? = 0 ]
# Expected per call, from what the peers sent: the stream ids and traceparents
# the runtime printed, the code and payload size of each answer the hypervisor
# printed, the request's payload size read from the vector here, and the
# sandbox's trace and root derived from its id (tests/receiver/lib/sandbox-ids.js).
SANDBOX_IDS_JS=$RECV/lib/sandbox-ids.js node - "$OUT/spans.jsonl" "$SB" "$VMM_PID" \
	"$VEC/ttrpc_request_createcontainer.bin" "$OUT/vmm.log" "$OUT/shim1.log" "$OUT/shim2.log" \
	>"$OUT/check.log" 2>&1 <<'JS'
const fs = require('fs');
const [file, sb, vmmPid, vector, vmmLog, ...shimLogs] = process.argv.slice(2);
const spans = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map(JSON.parse);
let passed = 0, failed = 0;
const ok = (what, cond) => { if (cond) passed++; else { failed++; console.log(`FAILED: ${what}`); } };
const attr = (list, k) => { const kv = list.find((a) => a.key === k); return kv && kv.value.value; };
const { sandboxIds } = require(process.env.SANDBOX_IDS_JS);
const sbIds = sandboxIds(sb);

/* The ttrpc Request after the 10-byte frame header: the length of field 3 (payload). */
function requestPayloadSize(buf) {
	const varint = (at) => { let v = 0, m = 1; for (;;) { const b = buf[at++]; v += (b & 0x7f) * m; m *= 128; if (!(b & 0x80)) return [v, at]; } };
	const end = 10 + buf.readUInt32BE(0);
	let at = 10, size;
	while (at < end) {
		let tag, len;
		[tag, at] = varint(at);
		if ((tag & 7) === 0) { [, at] = varint(at); continue; }
		[len, at] = varint(at);
		if (tag >> 3 === 3) size = len;
		at += len;
	}
	return size;
}
const reqSize = requestPayloadSize(fs.readFileSync(vector));
ok(`the vector's request payload size is known (${reqSize})`, reqSize > 0);

const sent = []; /* { sid, traced } per request, both connections */
for (const f of shimLogs)
	for (const m of fs.readFileSync(f, 'utf8').matchAll(/^stream (\d+): (traceparent|no traceparent)$/gm))
		sent.push({ sid: Number(m[1]), traced: m[2] === 'traceparent' });
const answers = new Map(); /* sid -> { code, payload }; the same for a sid on each connection */
let answered = 0;
for (const m of fs.readFileSync(vmmLog, 'utf8').matchAll(/^answered stream (\d+): code (\d+), payload (\d+) bytes$/gm)) {
	const a = { code: Number(m[2]), payload: Number(m[3]) }, had = answers.get(Number(m[1]));
	ok(`stream ${m[1]}: answered alike on each connection`, !had || (had.code === a.code && had.payload === a.payload));
	answers.set(Number(m[1]), a);
	answered++;
}
ok(`the runtime printed what it sent (${sent.length} requests)`, sent.length > 0);
ok(`every request answered (${answered} answers)`, answered === sent.length);
ok(`some answers NOT_FOUND, some OK with a payload`, [...answers.values()].some((a) => a.code === 5) &&
	[...answers.values()].some((a) => a.code === 0 && a.payload > 0));
ok(`${sent.length} spans (${spans.length})`, spans.length === sent.length);
const sids = (list) => list.map((x) => String(x)).sort().join(',');
ok(`the stream ids sent, each once per connection (${sids(spans.map((s) => attr(s.attributes, 'katatrace.rpc.stream_id')))})`,
	sids(spans.map((s) => attr(s.attributes, 'katatrace.rpc.stream_id'))) === sids(sent.map((r) => r.sid)));
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
	/* A missing or unknown stream id must not pass as an untraced OK call. */
	const sid = Number(attr(s.attributes, 'katatrace.rpc.stream_id'));
	const req = sent.find((r) => r.sid === sid), ans = answers.get(sid);
	ok(`${id}: stream id ${attr(s.attributes, 'katatrace.rpc.stream_id')} was sent and answered`, req && ans);
	if (!req || !ans) continue;
	ok(`${id}: ended by the response`, attr(s.attributes, 'katatrace.rpc.end') === 'response');
	ok(`${id}: request size ${reqSize} (${attr(s.attributes, 'katatrace.rpc.request.size')})`,
		attr(s.attributes, 'katatrace.rpc.request.size') === String(reqSize));
	ok(`${id}: response size ${ans.payload} (${attr(s.attributes, 'katatrace.rpc.response.size')})`,
		attr(s.attributes, 'katatrace.rpc.response.size') === String(ans.payload));
	const code = attr(s.attributes, 'rpc.grpc.status_code');
	if (ans.code === 5) {
		ok(`${id}: NOT_FOUND`, code === '5' && s.status.code === 2 && s.status.message === 'container c2 not found');
	} else {
		ok(`${id}: OK`, code === '0' && s.status.code === 0);
	}
	if (req.traced) { /* the vector's traceparent */
		ok(`${id}: trace id from traceparent`, s.traceId === '0af7651916cd43dd8448eb211c80319c');
		ok(`${id}: span id from traceparent`, s.spanId === 'b7ad6b7169203331');
		ok(`${id}: no parent`, s.parentSpanId === '');
	} else {
		ok(`${id}: the sandbox's trace ${sbIds.traceId} (${s.traceId})`, s.traceId === sbIds.traceId);
		ok(`${id}: under the sandbox's root ${sbIds.rootSpanId} (${s.parentSpanId})`, s.parentSpanId === sbIds.rootSpanId);
		ok(`${id}: own span id`, s.spanId !== 'b7ad6b7169203331' && s.spanId !== '' && s.spanId !== sbIds.rootSpanId);
		sbTrace.add(s.spanId);
	}
}
ok(`calls without traceparent have distinct span ids (${sbTrace.size})`,
	sbTrace.size === sent.filter((r) => !r.traced).length);
console.log(`${passed} passed, ${failed} failed`);
JS
sed 's/^/    /' "$OUT/check.log" | tail -n 12
absorb_counts "$OUT/check.log"
finish
