#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
//
// Compares normalized spans (receiver.js / otlpjson.js output) with Kata 1.x
// Jaeger batches described by tests/vectors/jaeger_expected.json, mapped to
// OTLP here, without reference to the C code, the way OpenTelemetry's Jaeger
// receiver maps them (docs/decoders.md):
//   ids as hex; parent = parentSpanId, else the first CHILD_OF reference,
//   else the first FOLLOWS_FROM one; other references become links with
//   opentracing.ref_type; flags = (flags & 1) | 0x100; times = µs * 1000;
//   span.kind tag -> kind (else INTERNAL, tag kept); error=true -> status
//   ERROR (tag dropped); tags typed (BINARY as base64); logs -> events named
//   by their "event" string field; resource = service.name, then the process
//   tags (hostname -> host.name, jaeger.version -> opencensus.exporterversion
//   "Jaeger-<v>"), then the origin's attributes.
//
//   check-jaeger.js --expected jaeger_expected.json --got spans.jsonl
//                   --counts N1,N2,... --origin JSON
//
// --counts: how many times each batch of the expected file was sent.
// Prints one line per problem and "N passed, N failed"; exits 1 on failure.
'use strict';

const fs = require('fs');
const { parseArgs } = require('./lib/args');

const USAGE = 'usage: check-jaeger.js --expected E.json --got spans.jsonl --counts N,... --origin JSON';
const { opts } = parseArgs(process.argv.slice(2),
	{ expected: true, got: true, counts: true, origin: true }, USAGE);

const batches = JSON.parse(fs.readFileSync(opts.expected, 'utf8'));
const counts = opts.counts.split(',').map(Number);
const origin = Object.entries(JSON.parse(opts.origin)).map(([key, v]) =>
	typeof v === 'number' ? { key, value: { type: 'i64', value: String(v) } }
		: { key, value: { type: 'string', value: v } });
const got = fs.readFileSync(opts.got, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));

const KINDS = { client: 3, server: 2, producer: 4, consumer: 5, internal: 1 };

function value(type, v) {
	switch (type) {
	case 'STRING': return { type: 'string', value: v };
	case 'LONG': return { type: 'i64', value: String(v) };
	case 'DOUBLE': return { type: 'f64', value: v };
	case 'BOOL': return { type: 'bool', value: v };
	case 'BINARY': return { type: 'string', value: Buffer.from(v, 'hex').toString('base64') };
	default: throw new Error(`unknown tag type ${type}`);
	}
}

function kv([key, type, v]) {
	return { key, value: value(type, v) };
}

function resource(p) {
	const out = [{ key: 'service.name', value: { type: 'string', value: p.serviceName } }];
	for (const [key, type, v] of p.tags) {
		if (key === 'hostname') out.push({ key: 'host.name', value: value(type, v) });
		else if (key === 'jaeger.version')
			out.push({ key: 'opencensus.exporterversion', value: { type: 'string', value: `Jaeger-${v}` } });
		else out.push(kv([key, type, v]));
	}
	return out.concat(origin);
}

function expectSpan(p, s) {
	const zero = /^0+$/;
	let parent = zero.test(s.parentSpanId) ? '' : s.parentSpanId;
	const refs = s.references.map(([t, trace, span]) => ({ t, trace, span }));
	let used = -1;
	if (!parent) {
		used = refs.findIndex((r) => r.t === 0 && r.trace === s.traceId);
		if (used < 0) used = refs.findIndex((r) => r.t === 1 && r.trace === s.traceId);
		if (used >= 0) parent = refs[used].span;
	} else {
		used = refs.findIndex((r) => r.t === 0 && r.span === parent);
	}
	let kind = 1;
	let status = 0;
	const attributes = [];
	for (const t of s.tags) {
		if (t[0] === 'span.kind' && KINDS[t[2]] !== undefined) kind = KINDS[t[2]];
		else if (t[0] === 'error' && t[1] === 'BOOL' && t[2] === true) status = 2;
		else attributes.push(kv(t));
	}
	const events = s.logs.map((l) => {
		const name = l.fields.find((f) => f[0] === 'event' && f[1] === 'STRING');
		return {
			time: (BigInt(l.timestamp_us) * 1000n).toString(),
			name: name ? name[2] : '',
			attributes: l.fields.filter((f) => f !== name).map(kv),
			droppedAttributesCount: 0,
		};
	});
	const links = refs.filter((_, i) => i !== used).map((r) => ({
		traceId: r.trace, spanId: r.span, traceState: '', flags: 256,
		attributes: [{ key: 'opentracing.ref_type',
			value: { type: 'string', value: r.t === 0 ? 'child_of' : 'follows_from' } }],
		droppedAttributesCount: 0,
	}));
	const start = BigInt(s.startTime_us) * 1000n;
	return {
		resource: resource(p), scope: 'kata-agent',
		traceId: s.traceId, spanId: s.spanId, parentSpanId: parent, traceState: '',
		flags: 256 | (s.flags & 1), name: s.operationName, kind,
		start: start.toString(), end: (start + BigInt(s.duration_us) * 1000n).toString(),
		attributes, droppedAttributesCount: 0, events, droppedEventsCount: 0,
		links, droppedLinksCount: 0, status: { code: status, message: '' },
	};
}

// Key order does not matter, array order does.
function canon(v) {
	if (Array.isArray(v)) return v.map(canon);
	if (v && typeof v === 'object')
		return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canon(v[k])]));
	return v;
}
const key = (s) => JSON.stringify(canon(s));

let passed = 0;
let failed = 0;
const pool = new Map();
for (const s of got) {
	const k = key(s);
	pool.set(k, (pool.get(k) || 0) + 1);
}
batches.forEach((b, i) => {
	for (const s of b.spans) {
		const want = expectSpan(b.process, s);
		for (let n = 0; n < counts[i]; n++) {
			const k = key(want);
			if (pool.get(k)) {
				pool.set(k, pool.get(k) - 1);
				passed++;
			} else {
				failed++;
				const near = got.find((g) => g.spanId === s.spanId);
				console.log(`MISSING batch ${i} span ${s.spanId} "${s.operationName}" #${n + 1}`);
				if (near) {
					for (const f of Object.keys(want))
						if (key(want[f]) !== key(near[f]))
							console.log(`  ${f}: want ${JSON.stringify(want[f])} got ${JSON.stringify(near[f])}`);
				}
			}
		}
	}
});
const extra = [...pool.values()].reduce((a, b) => a + b, 0);
if (extra) {
	failed++;
	console.log(`UNEXPECTED: ${extra} span(s) matched nothing that was sent`);
} else {
	passed++;
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
