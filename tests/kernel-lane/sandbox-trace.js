#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
//
// One trace per sandbox, without runtime tracing (vhost-ttrpc scenarios):
// every span katatrace-bpf exported (normalized lines from
// tests/receiver/otlpjson.js, the agent's, the ttrpc calls and the spans
// from kernel events). Expected, in the sandbox's trace (its ids computed
// independently by tests/receiver/lib/sandbox-ids.js):
//   kata.vm                      the nested QEMU: the only root
//   ttrpc.CreateContainer        the call without traceparent, under kata.vm
//     create_container           the agent's span of that call, made in a
//                                trace of its own and moved here
//                                (katatrace.collated=rpc, its own trace id kept)
//   vsock.connection             every connection request, under kata.vm
//                                (ANSWERED of them answered by the other side)
// and every parent in the trace present. The traced call and the agent's
// span of it stay in the runtime's trace TRACE. CONNS: the connection
// requests the runtime and the guest reported making, each one a
// vsock.connection span (in the sandbox's trace or not).
//
//   sandbox-trace.js SPANS SANDBOX TRACE CONNS ANSWERED
'use strict';

const fs = require('fs');
const { sandboxIds } = require('../receiver/lib/sandbox-ids');

const [file, sandbox, runtimeTrace, opened, answered] = process.argv.slice(2);
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
const attr = (s, k) => {
	const kv = (s.attributes || []).find((a) => a.key === k);
	return kv ? String(kv.value.value) : undefined;
};

const spans = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map(JSON.parse);
const { traceId: T, rootSpanId: R } = sandboxIds(sandbox);
const inT = spans.filter((s) => s.traceId === T);
const vm = inT.find((s) => s.name === 'kata.vm');
ok('kata.vm is the root of the sandbox trace', vm && vm.spanId === R && vm.parentSpanId === '');
const call = inT.find((s) => s.name === 'ttrpc.CreateContainer');
ok('the call without traceparent hangs under kata.vm', call && call.parentSpanId === R);
const agent = inT.find((s) => s.name === 'create_container');
ok("the agent's span of it was moved into the sandbox trace", agent !== undefined);
if (agent && call) {
	ok(`create_container hangs under the host-side call (collated ${attr(agent, 'katatrace.collated')})`,
		agent.parentSpanId === call.spanId && attr(agent, 'katatrace.collated') === 'rpc');
	ok("the agent's own trace id is kept", /^[0-9a-f]{32}$/.test(attr(agent, 'katatrace.agent.trace_id') || '') &&
		attr(agent, 'katatrace.agent.trace_id') !== T);
	ok('create_container lies within the call, give or take 3 s',
		BigInt(agent.start) + 3000000000n >= BigInt(call.start) &&
		BigInt(agent.end) <= BigInt(call.end) + 3000000000n);
}
const all = spans.filter((s) => s.name === 'vsock.connection');
ok(`${opened} vsock.connection spans, one per connection request (got ${all.length})`,
	/^[0-9]+$/.test(opened || '') && all.length === Number(opened));
const conns = inT.filter((s) => s.name === 'vsock.connection');
// Each connection keeps its CID's sandbox from when it began: those the guest
// never answered, ended only at shutdown after QEMU, are in the trace too.
ok(`all ${opened} vsock.connection spans under kata.vm, the ${answered} answered among them (got ${conns.length})`,
	/^[0-9]+$/.test(answered || '') && conns.length === Number(opened) &&
		conns.length >= Number(answered) && conns.every((s) => s.parentSpanId === R));
ok('one root in the sandbox trace', inT.filter((s) => s.parentSpanId === '').length === 1);
const lost = inT.filter((s) => s.parentSpanId !== '' && !inT.some((p) => p.spanId === s.parentSpanId));
ok(`every parent in the sandbox trace is there${lost.map((s) => ` (${s.name} lacks ${s.parentSpanId})`).join('')}`,
	lost.length === 0);
const rt = spans.filter((s) => s.traceId === runtimeTrace);
ok(`the runtime's trace keeps its call and the agent's span (${rt.length})`, rt.length === 2);
ok('nothing synthesised: every parent arrived', !spans.some((s) => attr(s, 'katatrace.synthesized.reason')));
console.log(`${passed} passed, ${failed} failed`);
