#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
//
// Checks the vhost-ttrpc scenarios' spans (normalized lines from
// tests/receiver/otlpjson.js): the runtime stand-in sent two CreateContainer
// calls to the guest's agent over vsock port 1024, stream id 1 with the
// traceparent TRACE/SPAN (answered OK with a 2-byte payload), stream id 3
// without (answered NOT_FOUND); the agent then sent its span of the first
// call. Expected: one ttrpc.CreateContainer CLIENT span per call with the
// answer the guest gave, the first with trace TRACE and span id SPAN, the
// second in the sandbox's trace; both attributed to the guest's CID, port,
// sandbox and QEMU; and the agent's span in trace TRACE with parent SPAN:
// one trace. Prints one line per problem, "ttrpc spans matched N", then
// "N passed, N failed".
//
//   ttrpc-vsock.js SPANS TRACE SPAN CID PORT SANDBOX QEMU_PID QEMU_COMM
'use strict';

const fs = require('fs');

const [file, trace, span, cid, port, sandbox, qemuPid, qemuComm] = process.argv.slice(2);
let passed = 0;
let failed = 0;
const ok = (what, cond) => {
	if (cond) passed++;
	else {
		failed++;
		console.log(`FAILED: ${what}`);
	}
	return cond;
};
const attr = (list, k) => {
	const kv = (list || []).find((a) => a.key === k);
	return kv ? String(kv.value.value) : undefined;
};

const spans = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map(JSON.parse);
const rpc = spans.filter((s) => s.name.startsWith('ttrpc.'));
const agent = spans.filter((s) => !s.name.startsWith('ttrpc.'));
ok(`2 ttrpc spans (got ${rpc.length})`, rpc.length === 2);
ok(`1 agent span (got ${agent.length})`, agent.length === 1);

let matched = 0;
const byStream = new Map(rpc.map((s) => [attr(s.attributes, 'katatrace.rpc.stream_id'), s]));
for (const [sid, want] of [
	['1', { code: '0', status: 0, message: '', responseSize: '2' }],
	['3', { code: '5', status: 2, message: 'container c2 not found', responseSize: '0' }],
]) {
	const s = byStream.get(sid);
	if (!ok(`a ttrpc span for stream id ${sid}`, s !== undefined)) continue;
	const before = failed;
	const id = `stream ${sid}`;
	ok(`${id}: name ttrpc.CreateContainer (${s.name})`, s.name === 'ttrpc.CreateContainer');
	ok(`${id}: kind CLIENT (${s.kind})`, s.kind === 3);
	ok(`${id}: rpc.system ttrpc`, attr(s.attributes, 'rpc.system') === 'ttrpc');
	ok(`${id}: rpc.service`, attr(s.attributes, 'rpc.service') === 'grpc.AgentService');
	ok(`${id}: rpc.method`, attr(s.attributes, 'rpc.method') === 'CreateContainer');
	// the answer is the guest's: its code, message and payload size
	ok(`${id}: ended with its response`, attr(s.attributes, 'katatrace.rpc.end') === 'response');
	ok(`${id}: grpc status ${want.code} (${attr(s.attributes, 'rpc.grpc.status_code')})`,
		attr(s.attributes, 'rpc.grpc.status_code') === want.code);
	ok(`${id}: span status ${want.status}`, s.status.code === want.status && s.status.message === want.message);
	ok(`${id}: request size 8`, attr(s.attributes, 'katatrace.rpc.request.size') === '8');
	ok(`${id}: response size ${want.responseSize} (${attr(s.attributes, 'katatrace.rpc.response.size')})`,
		attr(s.attributes, 'katatrace.rpc.response.size') === want.responseSize);
	ok(`${id}: start <= end`, BigInt(s.start) <= BigInt(s.end) && BigInt(s.start) > 1600000000000000000n);
	if (sid === '1') {
		ok(`${id}: trace id from traceparent (${s.traceId})`, s.traceId === trace);
		ok(`${id}: span id from traceparent (${s.spanId})`, s.spanId === span);
		ok(`${id}: no parent`, s.parentSpanId === '');
	} else {
		ok(`${id}: the sandbox's trace, not the traceparent's`, s.traceId !== trace && s.traceId !== '');
		ok(`${id}: a parent (the sandbox's root)`, s.parentSpanId !== '');
		ok(`${id}: its own span id`, s.spanId !== span && s.spanId !== '');
	}
	const r = s.resource;
	ok(`${id}: service.name kata`, attr(r, 'service.name') === 'kata');
	ok(`${id}: transport vsock`, attr(r, 'katatrace.transport') === 'vsock');
	ok(`${id}: guest CID ${cid} (${attr(r, 'katatrace.vsock.cid')})`, attr(r, 'katatrace.vsock.cid') === cid);
	ok(`${id}: the agent's port ${port} (${attr(r, 'katatrace.vsock.port')})`,
		attr(r, 'katatrace.vsock.port') === port);
	ok(`${id}: sandbox ${sandbox}`, attr(r, 'katatrace.sandbox.id') === sandbox);
	ok(`${id}: hypervisor qemu`, attr(r, 'katatrace.hypervisor.name') === 'qemu');
	ok(`${id}: QEMU's pid ${qemuPid} (${attr(r, 'katatrace.hypervisor.pid')})`,
		attr(r, 'katatrace.hypervisor.pid') === qemuPid);
	ok(`${id}: QEMU's comm`, attr(r, 'katatrace.hypervisor.comm') === qemuComm);
	if (failed === before) matched++;
}

// One trace: the agent's span hangs under the runtime's span of that call.
const call = byStream.get('1');
if (agent.length === 1 && call) {
	ok(`the agent's span is in the call's trace (${agent[0].traceId} vs ${call.traceId})`,
		agent[0].traceId === call.traceId);
	ok(`the agent's span's parent is the call's span (${agent[0].parentSpanId} vs ${call.spanId})`,
		agent[0].parentSpanId === call.spanId);
	ok('the agent span is not a ttrpc span', agent[0].spanId !== call.spanId);
}
console.log(`ttrpc spans matched ${matched}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
