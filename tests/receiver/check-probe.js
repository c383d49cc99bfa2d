#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
//
// Checks what `katatrace-bpf probe` exported (normalized spans or log
// records, as receiver.js and otlpjson.js write them) against what the
// test targets are documented to do (tests/targets/c/probe_target.c,
// tests/targets/go/stackgrow/main.go) and against the sandbox's ids
// computed again here (lib/sandbox-ids.js). Never from the probe's output.
//
//   check-probe.js MODE --file F [options]
//     work       --calls N --pid P --tids A,B --sleep-us S --exe PATH --target T
//                [--other-pid Q] [--spec S]
//     nanosleep  --calls N --pid P --target T
//     go         --runs R --levels L --depth D --pid P --target T (sandbox options too)
//     logs       --calls N --target T
//     events     --calls N --pid P --target T
//     procs      --sleep-us S --target T [--logs L] [--decoys P,Q] PROC...
//                PROC: role=R,pid=P,calls=N,tids=A/B,exe=PATH[,spec=S]
//                (spec default uprobe:/proc/P/exe:work), one per process the
//                probe followed; spans of work() from each, with --args 2; with
//                --logs, a bpftrace program's lines "R P i 100+i%2", one per
//                call of each; --decoys: processes running the same code
//                whose calls must not appear. Without --sandbox (node): every
//                span a root of one trace.
//   sandbox options (work, logs, procs): --sandbox ID --pod-ns NS --pod-name NAME
//                --hv-pid P --hv-name NAME
//   Records of no sandbox (node, a pid of no sandbox) must carry no sandbox,
//   pod or hypervisor resource attribute.
//   --probe-id N   exported by the daemon for the probe it numbered N
//                  (resource katatrace.probe.id)
//
// Prints one line per check and "N passed, N failed"; exits 1 on a failure.
'use strict';

const fs = require('fs');
const { parseArgs } = require('./lib/args');
const { sandboxIds } = require('./lib/sandbox-ids');

const USAGE = 'usage: check-probe.js work|nanosleep|go|logs|events|procs --file F [options]';
const { opts, positional } = parseArgs(process.argv.slice(2), {
	file: true, calls: false, pid: false, tids: false, 'sleep-us': false, exe: false, target: false,
	'other-pid': false, spec: false, runs: false, levels: false, depth: false, sandbox: false,
	'pod-ns': false, 'pod-name': false, 'hv-pid': false, 'hv-name': false, logs: false, decoys: false,
	'probe-id': false,
}, USAGE);
const mode = positional[0];
if (!['work', 'nanosleep', 'go', 'logs', 'events', 'procs'].includes(mode)) {
	process.stderr.write(`${USAGE}\n`);
	process.exit(2);
}

let passed = 0;
let failed = 0;
function check(what, ok, detail) {
	if (ok) {
		passed++;
		console.log(`  ok: ${what}`);
	} else {
		failed++;
		console.log(`  FAILED: ${what}${detail === undefined ? '' : `: ${detail}`}`);
	}
}

function load(file) {
	return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n')
		.filter((l) => l !== '').map((l) => JSON.parse(l)) : [];
}
const items = load(opts.file);

function attr(list, key) {
	const kv = list.find((a) => a.key === key);
	return kv ? kv.value : undefined;
}
function str(list, key) {
	const v = attr(list, key);
	return v && v.type === 'string' ? v.value : undefined;
}
function int(list, key) {
	const v = attr(list, key);
	return v && v.type === 'i64' ? Number(v.value) : undefined;
}
const fmt = (x) => JSON.stringify(x);

// The resource attributes of a sandbox, its pod and its hypervisor.
const SANDBOX_KEYS = ['katatrace.sandbox.id', 'katatrace.hypervisor.name', 'katatrace.hypervisor.pid',
	'k8s.pod.name', 'k8s.namespace.name', 'k8s.pod.uid', 'katatrace.k8s.container.names'];

// The resource every record of the probe carries, and its scope.
function checkResource(what, list = items) {
	const bad = list.filter((it) => {
		const r = it.resource;
		if (str(r, 'service.name') !== 'katatrace-probe' || str(r, 'katatrace.transport') !== 'probe' ||
		    str(r, 'katatrace.probe.target') !== opts.target)
			return true;
		if (new Set(r.map((a) => a.key)).size !== r.length)
			return true; /* a key twice */
		if ((opts['probe-id'] === undefined) !== (attr(r, 'katatrace.probe.id') === undefined) ||
		    (opts['probe-id'] !== undefined && int(r, 'katatrace.probe.id') !== Number(opts['probe-id'])))
			return true;
		if (!opts.sandbox) return r.some((a) => SANDBOX_KEYS.includes(a.key));
		return str(r, 'katatrace.sandbox.id') !== opts.sandbox ||
			str(r, 'k8s.pod.name') !== opts['pod-name'] ||
			str(r, 'k8s.namespace.name') !== opts['pod-ns'] ||
			int(r, 'katatrace.hypervisor.pid') !== Number(opts['hv-pid']) ||
			(opts['hv-name'] !== undefined && str(r, 'katatrace.hypervisor.name') !== opts['hv-name']);
	});
	check(`${what}: resource service.name=katatrace-probe, katatrace.transport=probe, ` +
		`katatrace.probe.target=${opts.target}, each key once` +
		(opts['probe-id'] !== undefined ? `, katatrace.probe.id=${opts['probe-id']}` : ', no probe id') +
		(opts.sandbox ? `, sandbox ${opts.sandbox}, pod ${opts['pod-ns']}/${opts['pod-name']}, ` +
			`hypervisor pid ${opts['hv-pid']}` : ', no sandbox attributes'),
	list.length > 0 && bad.length === 0, bad.length ? fmt(bad[0].resource) : 'no records');
	const badScope = list.filter((it) => it.scope !== 'katatrace-bpf/probe');
	check(`${what}: scope katatrace-bpf/probe`, list.length > 0 && badScope.length === 0,
		badScope.length ? fmt(badScope[0].scope) : 'no records');
}

// Spans and log records of a sandbox target are in the sandbox's trace.
function checkSandboxTrace(what, spanIdKey, list = items) {
	if (!opts.sandbox) return;
	const ids = sandboxIds(opts.sandbox);
	const bad = list.filter((it) => it.traceId !== ids.traceId || it[spanIdKey] !== ids.rootSpanId);
	check(`${what}: traceId ${ids.traceId} and ${spanIdKey} ${ids.rootSpanId} (the sandbox's)`,
		list.length > 0 && bad.length === 0,
		bad.length ? `${bad.length} differ, e.g. ${bad[0].traceId}/${bad[0][spanIdKey]}` : 'no records');
}

function spanBasics(what, name, n, pid) {
	check(`${what}: exactly ${n} spans`, items.length === n, `got ${items.length}`);
	const wrongName = items.filter((s) => s.name !== name || s.kind !== 1);
	check(`${what}: every span INTERNAL named ${name}`, wrongName.length === 0,
		wrongName.length ? `${fmt(wrongName[0].name)} kind ${wrongName[0].kind}` : undefined);
	const wrongPid = items.filter((s) => int(s.attributes, 'process.pid') !== pid);
	check(`${what}: every span has process.pid ${pid}`, wrongPid.length === 0,
		wrongPid.length ? `${wrongPid.length} others, e.g. ${int(wrongPid[0].attributes, 'process.pid')}` : undefined);
	const ids = new Set(items.map((s) => s.spanId));
	check(`${what}: span ids distinct and non-zero`, ids.size === items.length && !ids.has(''));
	const badTime = items.filter((s) => !(BigInt(s.end) >= BigInt(s.start) && BigInt(s.start) > 0n));
	check(`${what}: start > 0 and end >= start`, badTime.length === 0);
	if (!opts.sandbox) {
		const badTrace = items.filter((s) => s.traceId === '' || s.parentSpanId !== '');
		check(`${what}: spans of a process of no sandbox are roots with a trace id`, badTrace.length === 0,
			badTrace.length ? fmt([badTrace[0].traceId, badTrace[0].parentSpanId]) : undefined);
	}
}

function work() {
	const calls = Number(opts.calls);
	const pid = Number(opts.pid);
	const tids = opts.tids.split(',').map(Number);
	const sleepNs = BigInt(opts['sleep-us']) * 1000n;
	const W = 'work spans';
	spanBasics(W, 'work', calls, pid);
	if (opts['other-pid'])
		check(`${W}: none from the untargeted copy (pid ${opts['other-pid']})`,
			!items.some((s) => int(s.attributes, 'process.pid') === Number(opts['other-pid'])));
	const seen = new Map();
	let badArgs = 0;
	let badRet = 0;
	let detail;
	for (const s of items) {
		const a0 = int(s.attributes, 'katatrace.probe.arg0');
		const a1 = int(s.attributes, 'katatrace.probe.arg1');
		const ret = int(s.attributes, 'katatrace.probe.return_value');
		seen.set(a0, (seen.get(a0) || 0) + 1);
		if (!(Number.isInteger(a0) && a0 >= 0 && a0 < calls && a1 === 100 + (a0 % 2))) {
			badArgs++;
			detail = detail || `arg0 ${a0} arg1 ${a1}`;
		}
		if (ret !== a0 * 31 + 100 + (a0 % 2)) {
			badRet++;
			detail = detail || `arg0 ${a0} return ${ret}`;
		}
	}
	let missing = [];
	for (let i = 0; i < calls; i++) if (seen.get(i) !== 1) missing.push(`${i}x${seen.get(i) || 0}`);
	check(`${W}: every i in 0..${calls - 1} exactly once as arg0`, missing.length === 0,
		missing.slice(0, 8).join(' '));
	check(`${W}: arg1 = 100 + arg0 % 2`, badArgs === 0, detail);
	check(`${W}: return value = arg0 * 31 + arg1`, badRet === 0, detail);
	const short = items.filter((s) => BigInt(s.end) - BigInt(s.start) < sleepNs);
	const long = items.filter((s) => BigInt(s.end) - BigInt(s.start) >= 2000000000n);
	check(`${W}: every duration >= the target's sleep (${opts['sleep-us']} us)`, short.length === 0,
		short.length ? `${short.length}, e.g. ${BigInt(short[0].end) - BigInt(short[0].start)} ns` : undefined);
	check(`${W}: every duration < 2 s`, long.length === 0);
	const badTid = items.filter((s) => !tids.includes(int(s.attributes, 'thread.id')));
	check(`${W}: thread.id one of the target's worker threads ${tids.join(',')}`, badTid.length === 0,
		badTid.length ? `${int(badTid[0].attributes, 'thread.id')}` : undefined);
	const tidOf = new Map();
	let split = false;
	for (const s of items) {
		const k = int(s.attributes, 'katatrace.probe.arg1');
		const t = int(s.attributes, 'thread.id');
		if (tidOf.has(k) && tidOf.get(k) !== t) split = true;
		tidOf.set(k, t);
	}
	check(`${W}: calls with the same arg1 were made by one thread, two threads in all`,
		!split && new Set(tidOf.values()).size === 2, fmt([...tidOf]));
	const badAttr = items.filter((s) => str(s.attributes, 'code.function.name') !== 'work' ||
		str(s.attributes, 'process.executable.path') !== opts.exe ||
		(opts.spec && str(s.attributes, 'katatrace.probe.spec') !== opts.spec) ||
		typeof str(s.attributes, 'thread.name') !== 'string');
	check(`${W}: code.function.name work, process.executable.path ${opts.exe}, thread.name` +
		(opts.spec ? `, katatrace.probe.spec ${opts.spec}` : ''), badAttr.length === 0,
	badAttr.length ? fmt(badAttr[0].attributes) : undefined);
	checkResource(W);
	checkSandboxTrace(W, 'parentSpanId');
}

function nanosleep() {
	const W = 'clock_nanosleep spans';
	spanBasics(W, 'clock_nanosleep', Number(opts.calls), Number(opts.pid));
	const bad = items.filter((s) => int(s.attributes, 'katatrace.probe.return_value') !== 0);
	check(`${W}: return value 0`, bad.length === 0,
		bad.length ? fmt(attr(bad[0].attributes, 'katatrace.probe.return_value')) : undefined);
	checkResource(W);
}

// stackgrow: main.grow(0) runs RUNS times, each recursing to depth LEVELS-1;
// the probe keeps the outermost DEPTH nested calls of a thread (KT_PROBE_DEPTH).
function go() {
	const runs = Number(opts.runs);
	const levels = Number(opts.levels);
	const depth = Number(opts.depth);
	const W = 'main.grow spans';
	spanBasics(W, 'main.grow', runs * depth, Number(opts.pid));
	const per = new Map();
	let badRet = 0;
	for (const s of items) {
		const d = int(s.attributes, 'katatrace.probe.arg0');
		per.set(d, (per.get(d) || 0) + 1);
		if (int(s.attributes, 'katatrace.probe.return_value') !== levels - d) badRet++;
	}
	const wrong = [];
	for (let d = 0; d < depth; d++) if (per.get(d) !== runs) wrong.push(`${d}:${per.get(d) || 0}`);
	check(`${W}: depths 0..${depth - 1} (arg0) ${runs} times each, no other`, wrong.length === 0 &&
		[...per.keys()].every((d) => d >= 0 && d < depth), wrong.join(' ') || fmt([...per]));
	check(`${W}: return value = ${levels} - depth`, badRet === 0, `${badRet} wrong`);
	checkResource(W);
	checkSandboxTrace(W, 'parentSpanId');
}

function logs() {
	const calls = Number(opts.calls);
	const W = 'bpftrace log records';
	const work = items.filter((l) => l.body.type === 'string' && /^work /.test(l.body.value));
	check(`${W}: exactly ${calls} records`, items.length === calls, `got ${items.length}`);
	const bodies = new Set(work.map((l) => l.body.value));
	const missing = [];
	for (let i = 0; i < calls; i++) if (!bodies.has(`work ${i} ${100 + (i % 2)}`)) missing.push(i);
	check(`${W}: bodies "work i 100+i%2" for every i in 0..${calls - 1}, each once`,
		missing.length === 0 && bodies.size === work.length && work.length === calls,
		`missing ${missing.slice(0, 8).join(' ')}; ${work.length} work records, ${bodies.size} distinct`);
	const badAttr = items.filter((l) => str(l.attributes, 'bpftrace.output') !== 'printf');
	check(`${W}: bpftrace.output=printf`, items.length > 0 && badAttr.length === 0,
		badAttr.length ? fmt(badAttr[0].attributes) : undefined);
	checkResource(W);
	checkSandboxTrace(W, 'spanId');
}

// --event uprobe:...:work with --args 2: a record per call, body "work", the call's arguments.
function events() {
	const calls = Number(opts.calls);
	const W = 'work() event records';
	check(`${W}: exactly ${calls} records`, items.length === calls, `got ${items.length}`);
	const seen = new Map();
	let badBody = 0, badArg1 = 0, badPid = 0;
	for (const l of items) {
		if (l.body.type !== 'string' || l.body.value !== 'work') badBody++;
		const a0 = int(l.attributes, 'katatrace.probe.arg0');
		seen.set(a0, (seen.get(a0) || 0) + 1);
		if (int(l.attributes, 'katatrace.probe.arg1') !== 100 + (a0 % 2)) badArg1++;
		if (int(l.attributes, 'process.pid') !== Number(opts.pid)) badPid++;
	}
	const missing = [];
	for (let i = 0; i < calls; i++) if (seen.get(i) !== 1) missing.push(i);
	check(`${W}: body "work"`, items.length > 0 && badBody === 0, `${badBody} wrong`);
	check(`${W}: arg0 = every i in 0..${calls - 1} once, arg1 = 100 + i%2`,
		missing.length === 0 && badArg1 === 0, `missing ${missing.slice(0, 8).join(' ')}; ${badArg1} arg1 wrong`);
	check(`${W}: process.pid = ${opts.pid}`, items.length > 0 && badPid === 0, `${badPid} wrong`);
	checkResource(W);
}

// Processes the probe followed (a sandbox's shim and virtiofsd, or every
// process of a binary on node), each calling work() CALLS times as
// probe_target does; decoys ran the same code at the same time.
function parseProc(text) {
	const p = {};
	for (const field of text.split(',')) {
		const eq = field.indexOf('=');
		if (eq <= 0) throw new Error(`bad PROC field ${fmt(field)} in ${fmt(text)}`);
		p[field.slice(0, eq)] = field.slice(eq + 1);
	}
	for (const k of ['role', 'pid', 'calls', 'tids', 'exe'])
		if (p[k] === undefined) throw new Error(`PROC ${fmt(text)} has no ${k}`);
	return {
		role: p.role, pid: Number(p.pid), calls: Number(p.calls), exe: p.exe,
		tids: p.tids.split('/').map(Number), spec: p.spec || `uprobe:/proc/${p.pid}/exe:work`,
	};
}

function procs() {
	const list = positional.slice(1).map(parseProc);
	const decoys = opts.decoys ? opts.decoys.split(',').map(Number) : [];
	const sleepNs = BigInt(opts['sleep-us']) * 1000n;
	const total = list.reduce((n, p) => n + p.calls, 0);
	const pids = list.map((p) => p.pid);
	const W = 'work spans';
	check(`${W}: exactly ${total} spans (${list.map((p) => `${p.role} ${p.calls}`).join(', ')})`,
		items.length === total, `got ${items.length}`);
	const wrongName = items.filter((s) => s.name !== 'work' || s.kind !== 1);
	check(`${W}: every span INTERNAL named work`, items.length > 0 && wrongName.length === 0,
		wrongName.length ? `${fmt(wrongName[0].name)} kind ${wrongName[0].kind}` : undefined);
	const ids = new Set(items.map((s) => s.spanId));
	check(`${W}: span ids distinct and non-zero`, ids.size === items.length && !ids.has(''));
	const strangers = items.filter((s) => !pids.includes(int(s.attributes, 'process.pid')));
	check(`${W}: process.pid only ${pids.join(', ')}`, strangers.length === 0,
		strangers.length ? `${strangers.length}, e.g. ${int(strangers[0].attributes, 'process.pid')}` : undefined);
	if (decoys.length)
		check(`${W}: none from the decoys running the same code (pids ${decoys.join(', ')})`,
			!items.some((s) => decoys.includes(int(s.attributes, 'process.pid'))));
	for (const p of list) {
		const P = `${W} of the ${p.role} (pid ${p.pid})`;
		const mine = items.filter((s) => int(s.attributes, 'process.pid') === p.pid);
		check(`${P}: exactly ${p.calls}`, mine.length === p.calls, `got ${mine.length}`);
		const seen = new Map();
		let bad = 0;
		let detail;
		for (const s of mine) {
			const a0 = int(s.attributes, 'katatrace.probe.arg0');
			const a1 = int(s.attributes, 'katatrace.probe.arg1');
			const ret = int(s.attributes, 'katatrace.probe.return_value');
			seen.set(a0, (seen.get(a0) || 0) + 1);
			if (!(Number.isInteger(a0) && a0 >= 0 && a0 < p.calls && a1 === 100 + (a0 % 2) &&
			      ret === a0 * 31 + a1)) {
				bad++;
				detail = detail || `arg0 ${a0} arg1 ${a1} return ${ret}`;
			}
		}
		const missing = [];
		for (let i = 0; i < p.calls; i++) if (seen.get(i) !== 1) missing.push(`${i}x${seen.get(i) || 0}`);
		check(`${P}: every i in 0..${p.calls - 1} once as arg0, arg1 = 100 + i%2, return = i*31 + arg1`,
			mine.length > 0 && missing.length === 0 && bad === 0,
			`${missing.slice(0, 8).join(' ')} ${detail || ''}`);
		const badTid = mine.filter((s) => !p.tids.includes(int(s.attributes, 'thread.id')));
		check(`${P}: thread.id one of its worker threads ${p.tids.join(',')}`, mine.length > 0 && badTid.length === 0,
			badTid.length ? `${int(badTid[0].attributes, 'thread.id')}` : undefined);
		const badAttr = mine.filter((s) => str(s.attributes, 'code.function.name') !== 'work' ||
			str(s.attributes, 'process.executable.path') !== p.exe ||
			str(s.attributes, 'katatrace.probe.spec') !== p.spec);
		check(`${P}: code.function.name work, process.executable.path ${p.exe}, katatrace.probe.spec ${p.spec}`,
			mine.length > 0 && badAttr.length === 0, badAttr.length ? fmt(badAttr[0].attributes) : undefined);
		const badTime = mine.filter((s) => !(BigInt(s.start) > 0n && BigInt(s.end) - BigInt(s.start) >= sleepNs &&
			BigInt(s.end) - BigInt(s.start) < 2000000000n));
		check(`${P}: start > 0, duration from the target's sleep (${opts['sleep-us']} us) to 2 s`,
			mine.length > 0 && badTime.length === 0,
			badTime.length ? `${BigInt(badTime[0].end) - BigInt(badTime[0].start)} ns` : undefined);
	}
	checkResource(W);
	if (opts.sandbox) {
		checkSandboxTrace(W, 'parentSpanId');
	} else {
		const traces = new Set(items.map((s) => s.traceId));
		check(`${W}: of no sandbox: roots of one trace, its id non-zero`,
			items.length > 0 && traces.size === 1 && !traces.has('') && items.every((s) => s.parentSpanId === ''),
			fmt([...traces].slice(0, 3)));
	}
	if (opts.logs === undefined) return;

	const logs = load(opts.logs);
	const L = 'bpftrace log records';
	check(`${L}: exactly ${total}`, logs.length === total, `got ${logs.length}`);
	const expected = new Set();
	for (const p of list)
		for (let i = 0; i < p.calls; i++) expected.add(`${p.role} ${p.pid} ${i} ${100 + (i % 2)}`);
	const count = new Map();
	for (const l of logs) {
		const b = l.body.type === 'string' ? l.body.value : fmt(l.body);
		count.set(b, (count.get(b) || 0) + 1);
	}
	const missing = [...expected].filter((b) => count.get(b) !== 1);
	const extra = [...count.keys()].filter((b) => !expected.has(b));
	check(`${L}: bodies "ROLE PID i 100+i%2" for every call of ${list.map((p) => `the ${p.role}`).join(' and ')}, each once`,
		missing.length === 0 && extra.length === 0,
		`missing ${missing.slice(0, 4).map(fmt).join(' ')}; unexpected ${extra.slice(0, 4).map(fmt).join(' ')}`);
	if (decoys.length)
		check(`${L}: none from the decoys (pids ${decoys.join(', ')})`,
			!logs.some((l) => l.body.type === 'string' && decoys.includes(Number(l.body.value.split(' ')[1]))));
	const badAttr = logs.filter((l) => str(l.attributes, 'bpftrace.output') !== 'printf');
	check(`${L}: bpftrace.output=printf`, logs.length > 0 && badAttr.length === 0,
		badAttr.length ? fmt(badAttr[0].attributes) : undefined);
	checkResource(L, logs);
	checkSandboxTrace(L, 'spanId', logs);
}

({ work, nanosleep, go, logs, events, procs })[mode]();
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
