#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
//
// The spans of `katatrace-bpf probe` on the vhost-vsock path of the
// vhost-echo scenario (normalized by tests/receiver/otlpjson.js), both runs
// with --span kprobe:vhost_vsock_handle_tx_kick --span
// kprobe:vhost_transport_send_pkt:
//
//   SANDBOX_SPANS  target sandbox/SANDBOX: the nested QEMU (QEMU_PID) and its
//                  vhost workers. Every span in the sandbox's trace under its
//                  kata.vm span (ids computed here by lib/sandbox-ids.js),
//                  the sandbox in the resource, made by a vhost worker
//                  (WORKERS: "TGID:TID,...", read from /proc in the VM: a
//                  kernel thread of its own before Linux 6.4, a thread of
//                  QEMU from 6.4 on); the guest's packets handled
//                  (vhost_vsock_handle_tx_kick) and at least one packet
//                  queued back per connection request of the guest
//                  (REQUESTS: each answered by the worker with a RESPONSE or
//                  a RST, inside a vhost_vsock_handle_tx_kick call).
//   OTHER_SPANS    target pid/DRAIN_PID, the listener that wrote ECHOED bytes
//                  back: no vhost_vsock_handle_tx_kick span (the filter in the
//                  kernel drops the worker), its own vhost_transport_send_pkt
//                  calls, at least one per 64 KiB it wrote, no sandbox.
//
//   probe-vhost.js SANDBOX_SPANS OTHER_SPANS SANDBOX QEMU_PID WORKERS DRAIN_PID REQUESTS ECHOED
//
// Prints "ok:"/"FAILED:" lines and "N passed, N failed".
'use strict';

const path = require('path');
const { sandboxIds } = require(path.join(__dirname, '../receiver/lib/sandbox-ids.js'));
const { readRecords, str, int } = require(path.join(__dirname, '../receiver/lib/records.js'));

const [aFile, bFile, sandbox, qemuPid, workersArg, drainPid, requests, echoed] = process.argv.slice(2);
const a = readRecords(aFile);
const b = readRecords(bFile);
let passed = 0;
let failed = 0;
const ok = (what, cond, detail) => {
	if (cond) passed++;
	else failed++;
	console.log(`  ${cond ? 'ok' : 'FAILED'}: ${what}${!cond && detail ? `: ${detail}` : ''}`);
};
const KICK = 'vhost_vsock_handle_tx_kick';
const SEND = 'vhost_transport_send_pkt';
const fmt = (x) => JSON.stringify(x);
const isNum = (v) => /^[0-9]+$/.test(v || '');
// The first span that fails pred, said, or undefined when none does.
const firstBad = (spans, pred, show) => { const s = spans.find((x) => !pred(x)); return s && show(s); };

// ------------------------------------------------------------ the sandbox's probe

const ids = sandboxIds(sandbox);
const workers = (workersArg || '').split(',').filter(Boolean).map((w) => w.split(':').map(Number));
const qemu = Number(qemuPid);
ok(`the nested QEMU ${qemuPid} has a vhost worker thread (${workersArg || 'none'})`,
	isNum(qemuPid) && workers.length > 0 && workers.every(([g, t]) => g > 0 && t > 0));

const kicks = a.filter((s) => s.name === KICK);
const sends = a.filter((s) => s.name === SEND);
ok(`sandbox/${sandbox.slice(0, 12)}…: ${KICK} spans, the guest's packets (got ${kicks.length})`, kicks.length > 0);
ok(`… ${SEND} spans, at least one per connection request of the guest (${requests}) (got ${sends.length})`,
	isNum(requests) && Number(requests) > 0 && sends.length >= Number(requests));
ok('… no span of another name', a.length === kicks.length + sends.length,
	firstBad(a, (s) => s.name === KICK || s.name === SEND, (s) => s.name));
ok(`… every span in the sandbox's trace ${ids.traceId} under its kata.vm span ${ids.rootSpanId}`,
	a.length > 0 && a.every((s) => s.traceId === ids.traceId && s.parentSpanId === ids.rootSpanId),
	firstBad(a, (s) => s.traceId === ids.traceId && s.parentSpanId === ids.rootSpanId,
		(s) => `${s.traceId}/${s.parentSpanId}`));
const resourceOk = (r) => str(r, 'service.name') === 'katatrace-probe' && str(r, 'katatrace.transport') === 'probe' &&
	str(r, 'katatrace.probe.target') === `sandbox/${sandbox}` && str(r, 'katatrace.sandbox.id') === sandbox &&
	str(r, 'katatrace.hypervisor.name') === 'qemu' && int(r, 'katatrace.hypervisor.pid') === qemu;
ok(`… resource: katatrace-probe, transport probe, target sandbox/ID, katatrace.sandbox.id, hypervisor qemu ${qemuPid}`,
	a.length > 0 && a.every((s) => resourceOk(s.resource)), firstBad(a, (s) => resourceOk(s.resource),
		(s) => fmt(s.resource)));
// The worker that ran each call: process.pid its tgid, thread.id its tid.
const byWorker = (s) => workers.some(([g, t]) => int(s.attributes, 'process.pid') === g &&
	int(s.attributes, 'thread.id') === t);
ok(`… every span made by the vhost worker (process.pid/thread.id ${workers.map((w) => w.join('/')).join(' or ')}, ` +
	`thread.name vhost-${qemuPid})`,
	a.length > 0 && a.every((s) => byWorker(s) && str(s.attributes, 'thread.name') === `vhost-${qemuPid}`),
	firstBad(a, (s) => byWorker(s) && str(s.attributes, 'thread.name') === `vhost-${qemuPid}`,
		(s) => `${s.name} ${int(s.attributes, 'process.pid')}/${int(s.attributes, 'thread.id')} ` +
			`${str(s.attributes, 'thread.name')}`));
const shapeOk = (s) => s.kind === 1 && str(s.attributes, 'code.function.name') === s.name &&
	str(s.attributes, 'katatrace.probe.spec') === `kprobe:${s.name}` &&
	int(s.attributes, 'katatrace.probe.depth') === undefined &&
	BigInt(s.start) > 0n && BigInt(s.end) >= BigInt(s.start);
ok('… INTERNAL, code.function.name and katatrace.probe.spec of the function, not nested, end >= start',
	a.every(shapeOk), firstBad(a, shapeOk, (s) => fmt([s.name, s.kind, s.start, s.end, s.attributes])));
ok('… span ids distinct', new Set(a.map((s) => s.spanId)).size === a.length && !a.some((s) => s.spanId === ''));
// Each answer the worker queues is made while it handles the guest's packets.
const inKick = (s) => kicks.some((k) => int(k.attributes, 'thread.id') === int(s.attributes, 'thread.id') &&
	BigInt(k.start) <= BigInt(s.start) && BigInt(s.end) <= BigInt(k.end));
ok(`… every ${SEND} span lies within a ${KICK} span of the same thread`, sends.length > 0 && sends.every(inKick),
	firstBad(sends, inKick, (s) => `${s.start}..${s.end}`));
const kickThreads = new Set(kicks.map((s) => int(s.attributes, 'thread.id')));
ok(`… ${KICK} calls on one thread do not overlap`, [...kickThreads].every((t) => {
	const mine = kicks.filter((s) => int(s.attributes, 'thread.id') === t)
		.sort((x, y) => (BigInt(x.start) < BigInt(y.start) ? -1 : 1));
	return mine.every((s, i) => i === 0 || BigInt(mine[i - 1].end) <= BigInt(s.start));
}));

// ------------------------------------------------------------ the listener's probe

const bKicks = b.filter((s) => s.name === KICK);
const bSends = b.filter((s) => s.name === SEND);
const minSends = isNum(echoed) ? Math.ceil(Number(echoed) / 65536) : NaN;
ok(`pid/${drainPid} (the listener): no ${KICK} span: the worker is filtered out in the kernel (got ${bKicks.length})`,
	bKicks.length === 0);
ok(`… ${SEND} spans, at least one per 64 KiB of the ${echoed} bytes it wrote back (${minSends}) (got ${bSends.length})`,
	minSends > 0 && bSends.length >= minSends && b.length === bSends.length);
ok(`… every span made by the listener (process.pid ${drainPid})`,
	b.length > 0 && b.every((s) => int(s.attributes, 'process.pid') === Number(drainPid)),
	firstBad(b, (s) => int(s.attributes, 'process.pid') === Number(drainPid), (s) => int(s.attributes, 'process.pid')));
const plainOk = (s) => str(s.resource, 'katatrace.probe.target') === `pid/${drainPid}` &&
	str(s.resource, 'katatrace.transport') === 'probe' && str(s.resource, 'katatrace.sandbox.id') === undefined &&
	s.traceId !== '' && s.traceId !== ids.traceId && s.parentSpanId === '';
ok('… no sandbox: target pid/PID, no katatrace.sandbox.id, roots of a trace of their own',
	b.length > 0 && b.every(plainOk), firstBad(b, plainOk, (s) => fmt([s.resource, s.traceId, s.parentSpanId])));
const aPids = new Set(a.map((s) => int(s.attributes, 'process.pid')));
ok("… and none of the listener's calls is in the sandbox's probe", !aPids.has(Number(drainPid)));

console.log(`${passed} passed, ${failed} failed`);
