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
//     go         --runs R --levels L --depth D --pid P --target T
//     logs       --calls N --target T
//     events     --calls N --pid P --target T
//   sandbox options (work, logs): --sandbox ID --pod-ns NS --pod-name NAME
//                --hv-pid P --hv-name NAME
//
// Prints one line per check and "N passed, N failed"; exits 1 on a failure.
'use strict';

const fs = require('fs');
const { parseArgs } = require('./lib/args');
const { sandboxIds } = require('./lib/sandbox-ids');

const USAGE = 'usage: check-probe.js work|nanosleep|go|logs|events --file F [options]';
const { opts, positional } = parseArgs(process.argv.slice(2), {
	file: true, calls: false, pid: false, tids: false, 'sleep-us': false, exe: false, target: false,
	'other-pid': false, spec: false, runs: false, levels: false, depth: false, sandbox: false,
	'pod-ns': false, 'pod-name': false, 'hv-pid': false, 'hv-name': false,
}, USAGE);
const mode = positional[0];
if (!['work', 'nanosleep', 'go', 'logs', 'events'].includes(mode)) {
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

const items = fs.existsSync(opts.file) ? fs.readFileSync(opts.file, 'utf8').split('\n')
	.filter((l) => l !== '').map((l) => JSON.parse(l)) : [];

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

// The resource every record of the probe carries.
function checkResource(what) {
	const bad = items.filter((it) => {
		const r = it.resource;
		if (str(r, 'service.name') !== 'katatrace-probe' || str(r, 'katatrace.transport') !== 'probe' ||
		    str(r, 'katatrace.probe.target') !== opts.target)
			return true;
		if (!opts.sandbox) return false;
		return str(r, 'katatrace.sandbox.id') !== opts.sandbox ||
			str(r, 'k8s.pod.name') !== opts['pod-name'] ||
			str(r, 'k8s.namespace.name') !== opts['pod-ns'] ||
			int(r, 'katatrace.hypervisor.pid') !== Number(opts['hv-pid']) ||
			(opts['hv-name'] !== undefined && str(r, 'katatrace.hypervisor.name') !== opts['hv-name']);
	});
	check(`${what}: resource service.name=katatrace-probe, katatrace.transport=probe, ` +
		`katatrace.probe.target=${opts.target}` +
		(opts.sandbox ? `, sandbox ${opts.sandbox}, pod ${opts['pod-ns']}/${opts['pod-name']}, ` +
			`hypervisor pid ${opts['hv-pid']}` : ''),
	items.length > 0 && bad.length === 0, bad.length ? fmt(bad[0].resource) : 'no records');
}

// Spans and log records of a sandbox target are in the sandbox's trace.
function checkSandboxTrace(what, spanIdKey) {
	if (!opts.sandbox) return;
	const ids = sandboxIds(opts.sandbox);
	const bad = items.filter((it) => it.traceId !== ids.traceId || it[spanIdKey] !== ids.rootSpanId);
	check(`${what}: traceId ${ids.traceId} and ${spanIdKey} ${ids.rootSpanId} (the sandbox's)`,
		items.length > 0 && bad.length === 0,
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

({ work, nanosleep, go, logs, events })[mode]();
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
