#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
//
// The log records of `katatrace-bpf probe sandbox/SANDBOX --event
// tracepoint:kvm:kvm_exit` beside the vhost-echo scenario (normalized by
// tests/receiver/otlpjson.js --logs-out): one per KVM exit of the nested
// guest's QEMU (QEMU_PID), its vCPU threads being QEMU's. With ACCEL kvm
// there are some, each of QEMU, in the sandbox's trace on its kata.vm span
// (ids computed here by lib/sandbox-ids.js), with the sandbox's resource;
// with ACCEL tcg the guest made no KVM exit and there are none: the filter
// keeps the other guests' exits (the lane's own VM has none) out.
//
//   probe-kvm.js LOGS SANDBOX QEMU_PID ACCEL
//
// Prints "ok:"/"FAILED:" lines and "N passed, N failed".
'use strict';

const path = require('path');
const { sandboxIds } = require(path.join(__dirname, '../receiver/lib/sandbox-ids.js'));
const { readRecords, str, int } = require(path.join(__dirname, '../receiver/lib/records.js'));

const [file, sandbox, qemuPid, accel] = process.argv.slice(2);
const logs = readRecords(file);

let passed = 0;
let failed = 0;
const ok = (what, cond, detail) => {
	if (cond) passed++; else failed++;
	console.log(`${cond ? 'ok' : 'FAILED'}: ${what}${!cond && detail !== undefined ? `: ${detail}` : ''}`);
};
const first = (list) => (list.length ? JSON.stringify(list[0]).slice(0, 240) : undefined);

if (accel !== 'kvm') {
	ok(`the guest ran under ${accel}: no KVM exit, no record`, logs.length === 0, `${logs.length} records`);
} else {
	const ids = sandboxIds(sandbox);
	ok('the guest ran under KVM: its exits are records', logs.length > 0, 'none');
	const notKvm = logs.filter((l) => l.body.type !== 'string' || l.body.value !== 'kvm:kvm_exit' ||
		str(l.attributes, 'katatrace.probe.spec') !== 'tracepoint:kvm:kvm_exit');
	ok('every record is a kvm:kvm_exit of spec tracepoint:kvm:kvm_exit', notKvm.length === 0, first(notKvm));
	const notQemu = logs.filter((l) => int(l.attributes, 'process.pid') !== Number(qemuPid));
	ok(`every record is of QEMU (process.pid ${qemuPid})`, notQemu.length === 0, first(notQemu));
	const notTrace = logs.filter((l) => l.traceId !== ids.traceId || l.spanId !== ids.rootSpanId);
	ok(`every record in the sandbox's trace ${ids.traceId} on its kata.vm span ${ids.rootSpanId}`,
		notTrace.length === 0, first(notTrace));
	const badRes = logs.filter((l) => str(l.resource, 'katatrace.sandbox.id') !== sandbox ||
		str(l.resource, 'katatrace.transport') !== 'probe' || str(l.resource, 'service.name') !== 'katatrace-probe' ||
		int(l.resource, 'katatrace.hypervisor.pid') !== Number(qemuPid) || l.scope !== 'katatrace-bpf/probe');
	ok('every record has the sandbox\'s resource (sandbox, probe, QEMU) and the probes\' scope', badRes.length === 0,
		first(badRes));
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
