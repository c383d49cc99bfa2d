// SPDX-License-Identifier: Apache-2.0
// The kata.vm and vsock.connection spans of a nested-guest scenario
// (normalized by tests/receiver/otlpjson.js, one span per line):
//
//   node check-vm-spans.js SPANS QEMU_PID SANDBOX PORT KVM(yes|no) SERIAL CONNS BYTES...
//
// KVM=yes: the guest ran under KVM, or had to: its KVM exits must be at
// least SERIAL, the bytes it wrote to its serial port (each an "out"
// instruction, which exits to QEMU). KVM=no: it ran under TCG, no KVM exit.
// CONNS: the connections the guest opened (every connect attempt of its
// relay): exactly that many vsock.connection spans.
// BYTES: what the guest sent on each of its connections to host port PORT.
// Prints "ok:"/"FAILED:" lines and "N passed, N failed".
'use strict';
const fs = require('fs');
const path = require('path');
const { sandboxIds } = require(path.join(__dirname, '../receiver/lib/sandbox-ids.js'));

const [file, qemuPid, sandbox, port, kvm, serial, opened, ...bytes] = process.argv.slice(2);
const spans = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map(JSON.parse);
const attr = (list, k) => { const kv = (list || []).find((a) => a.key === k); return kv && kv.value.value; };
let passed = 0, failed = 0;
const ok = (what, cond) => {
	if (cond) passed++; else failed++;
	console.log(`  ${cond ? 'ok' : 'FAILED'}: ${what}`);
};
const ids = sandboxIds(sandbox);

const vms = spans.filter((s) => s.name === 'kata.vm');
const vm = vms.find((s) => String(attr(s.attributes, 'process.pid')) === String(qemuPid));
ok(`one kata.vm span, for the nested QEMU (pid ${qemuPid})`, vms.length === 1 && !!vm);
if (vm) {
	ok('kata.vm: trace id and span id derived from the sandbox id',
		vm.traceId === ids.traceId && vm.spanId === ids.rootSpanId && vm.parentSpanId === '');
	ok('kata.vm: qemu-system-x86_64, hypervisor qemu, exit code 0',
		attr(vm.attributes, 'process.executable.name') === 'qemu-system-x86_64' &&
		attr(vm.attributes, 'katatrace.hypervisor') === 'qemu' &&
		Number(attr(vm.attributes, 'process.exit.code')) === 0);
	ok('kata.vm: start observed, start <= end', attr(vm.attributes, 'katatrace.vm.start_observed') === undefined &&
		BigInt(vm.start) <= BigInt(vm.end));
	const exits = attr(vm.attributes, 'katatrace.kvm.exits');
	if (kvm === 'yes')
		ok(`kata.vm: KVM exits counted (${exits}) > 0 and >= the ${serial} bytes the guest wrote to its serial port`,
			exits !== undefined && Number(exits) > 0 && /^[0-9]+$/.test(serial) && Number(exits) >= Number(serial));
	else
		ok(`kata.vm: KVM exits counted: 0 (${exits}; the guest ran under TCG)`,
			exits !== undefined && Number(exits) === 0);
}

const conns = spans.filter((s) => s.name === 'vsock.connection');
const mine = conns.filter((s) => Number(attr(s.attributes, 'katatrace.vsock.host_port')) === Number(port));
ok(`${bytes.length} vsock.connection spans to host port ${port}, ${opened || '?'} in all as the guest opened (got ${mine.length}, ${conns.length})`,
	/^[0-9]+$/.test(opened) && mine.length === bytes.length && conns.length === Number(opened));
const got = mine.map((s) => Number(attr(s.attributes, 'katatrace.vsock.bytes_to_host'))).sort((a, b) => a - b);
const want = bytes.map(Number).sort((a, b) => a - b);
ok(`bytes_to_host of each connection = what the guest sent (${want.join(',')}; got ${got.join(',')})`,
	JSON.stringify(got) === JSON.stringify(want));
for (const s of mine) {
	const gp = attr(s.attributes, 'katatrace.vsock.guest_port');
	ok(`vsock.connection guest port ${gp}: CID 3, initiator guest, ended (${attr(s.attributes, 'katatrace.vsock.end')})`,
		Number(attr(s.attributes, 'katatrace.vsock.guest_cid')) === 3 &&
		attr(s.attributes, 'katatrace.vsock.initiator') === 'guest' &&
		['shutdown', 'rst'].includes(attr(s.attributes, 'katatrace.vsock.end')));
	ok(`vsock.connection guest port ${gp}: in the sandbox's trace under kata.vm`,
		s.traceId === ids.traceId && s.parentSpanId === ids.rootSpanId &&
		attr(s.resource, 'katatrace.sandbox.id') === sandbox);
	ok(`vsock.connection guest port ${gp}: within the VM's lifetime`, !vm ||
		(BigInt(s.start) >= BigInt(vm.start) && BigInt(s.end) <= BigInt(vm.end)));
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
