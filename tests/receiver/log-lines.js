#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
//
// log-lines.js FILE: what katatrace-bpf wrote on stderr with --log-format
// json, read back without any of the project's code. The file must be UTF-8
// and every line (each ending in '\n') one JSON object as docs/operations.md
// ("Logs") describes it: "time" (RFC 3339 UTC with milliseconds), "level"
// (error, warn, info, debug or trace), "msg" (a string), "pid" (a positive
// integer), "component" (a string), in that order, then other members whose
// values are integers or strings. Prints one line per log line for the
// test's greps,
//
//   LEVEL <tab> COMPONENT <tab> PID <tab> JSON(msg) <tab> JSON(other members)
//
// and exits 0; or names each line that breaks the rule on stderr and exits 1.
'use strict';
const fs = require('fs');

const file = process.argv[2];
if (!file) {
	console.error('usage: log-lines.js FILE');
	process.exit(2);
}
const bytes = fs.readFileSync(file);
let text;
try {
	text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
} catch (e) {
	console.error(`${file}: not UTF-8: ${e.message}`);
	process.exit(1);
}
const problems = [];
if (text.length && !text.endsWith('\n')) problems.push('the last line has no newline');
const lines = text.split('\n');
lines.pop(); // after the last '\n'
const TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const LEVELS = new Set(['error', 'warn', 'info', 'debug', 'trace']);
const FIRST = ['time', 'level', 'msg', 'pid', 'component'];
const out = [];
lines.forEach((line, i) => {
	const at = `line ${i + 1}`;
	let o;
	try {
		o = JSON.parse(line);
	} catch (e) {
		problems.push(`${at}: not JSON (${e.message}): ${line.slice(0, 200)}`);
		return;
	}
	if (typeof o !== 'object' || o === null || Array.isArray(o)) {
		problems.push(`${at}: not an object: ${line.slice(0, 200)}`);
		return;
	}
	const keys = Object.keys(o);
	if (keys.slice(0, FIRST.length).join() !== FIRST.join())
		problems.push(`${at}: members ${keys.slice(0, FIRST.length).join(',')}, want ${FIRST.join(',')} first`);
	if (typeof o.time !== 'string' || !TIME.test(o.time) || Number.isNaN(Date.parse(o.time)))
		problems.push(`${at}: time ${JSON.stringify(o.time)}`);
	if (!LEVELS.has(o.level)) problems.push(`${at}: level ${JSON.stringify(o.level)}`);
	if (typeof o.msg !== 'string') problems.push(`${at}: msg is not a string`);
	if (!Number.isInteger(o.pid) || o.pid <= 0) problems.push(`${at}: pid ${JSON.stringify(o.pid)}`);
	if (typeof o.component !== 'string' || !o.component)
		problems.push(`${at}: component ${JSON.stringify(o.component)}`);
	const rest = {};
	for (const k of keys.slice(FIRST.length)) {
		const v = o[k];
		if (!Number.isInteger(v) && typeof v !== 'string') problems.push(`${at}: member ${k}: ${JSON.stringify(v)}`);
		rest[k] = v;
	}
	out.push([o.level, o.component, o.pid, JSON.stringify(o.msg), JSON.stringify(rest)].join('\t'));
});
if (problems.length) {
	for (const p of problems) console.error(`${file}: ${p}`);
	process.exit(1);
}
process.stdout.write(out.map((l) => l + '\n').join(''));
