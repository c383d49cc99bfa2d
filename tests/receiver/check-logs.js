#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
//
// Compares normalized log records (receiver.js --logs-out) with the
// expectations a test wrote from what it sent, field by field:
//
//   check-logs.js --expected expected.jsonl --got logs.jsonl --origin JSON
//                 --after NS --before NS [--service NAME]
//
// expected.jsonl: one object per record sent: body (the string the body must
// be), severityNumber, severityText, time (decimal ns, "0" when the record
// has none), attributes ([{key, value: {type, value}}], any order) and
// optionally origin (values replacing those of --origin for this record). A
// record is found by its body; each must arrive exactly once and nothing
// else may. Every record must also have: the resource service.name NAME
// (default kata-agent) followed by exactly the --origin attributes, the scope
// "kata-journal", an observed time in [after, before], no trace context.
// Prints one line per check and "N passed, N failed"; exits 1 on failure.
'use strict';

const fs = require('fs');
const { parseArgs } = require('./lib/args');

const USAGE = 'usage: check-logs.js --expected E.jsonl --got logs.jsonl --origin JSON ' +
	'--after NS --before NS [--service NAME]';
const { opts } = parseArgs(process.argv.slice(2),
	{ expected: true, got: true, origin: true, after: true, before: true, service: false }, USAGE);

const lines = (f) => fs.readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const expected = lines(opts.expected);
const got = lines(opts.got);
const origin = JSON.parse(opts.origin);
const resourceOf = (e) => [{ key: 'service.name', value: { type: 'string', value: opts.service || 'kata-agent' } }]
	.concat(Object.entries({ ...origin, ...(e.origin || {}) }).map(([key, v]) =>
		typeof v === 'number' ? { key, value: { type: 'i64', value: String(v) } }
			: { key, value: { type: 'string', value: v } }));
const after = BigInt(opts.after), before = BigInt(opts.before);

let passed = 0, failed = 0;
function check(what, ok, detail) {
	if (ok) {
		passed++;
	} else {
		failed++;
		console.log(`  FAILED: ${what}${detail ? `: ${detail}` : ''}`);
	}
}
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
const sorted = (attrs) => [...attrs].sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
const short = (s) => (s.length > 60 ? `${s.slice(0, 60)}... (${s.length} chars)` : s);

check(`${expected.length} log records arrive`, got.length === expected.length, `got ${got.length}`);
const used = new Set();
for (const e of expected) {
	const name = `record "${short(e.body)}"`;
	const i = got.findIndex((g, k) => !used.has(k) && g.body.type === 'string' && g.body.value === e.body);
	check(`${name} arrives`, i >= 0);
	if (i < 0) continue;
	used.add(i);
	const g = got[i];
	check(`${name}: severityNumber`, g.severityNumber === e.severityNumber,
		`${g.severityNumber} != ${e.severityNumber}`);
	check(`${name}: severityText`, g.severityText === e.severityText,
		`"${g.severityText}" != "${e.severityText}"`);
	check(`${name}: time`, g.time === e.time, `${g.time} != ${e.time}`);
	check(`${name}: attributes`, same(sorted(g.attributes), sorted(e.attributes)),
		`${JSON.stringify(g.attributes)} != ${JSON.stringify(e.attributes)}`);
	const obs = BigInt(g.observedTime);
	check(`${name}: observed time while the test ran`, obs >= after && obs <= before, g.observedTime);
	const resource = resourceOf(e);
	check(`${name}: resource`, same(g.resource, resource),
		`${JSON.stringify(g.resource)} != ${JSON.stringify(resource)}`);
	check(`${name}: scope`, g.scope === 'kata-journal', g.scope);
	check(`${name}: no trace context, flags or dropped attributes`,
		g.traceId === '' && g.spanId === '' && g.flags === 0 && g.droppedAttributesCount === 0 &&
		g.eventName === '');
}
got.forEach((g, k) => check(`no unexpected record`, used.has(k), short(JSON.stringify(g.body))));
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
