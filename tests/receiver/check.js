#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
//
// Compares normalized spans (receiver.js / otlpjson.js output) with what was
// sent, described by a manifest of decoder-neutral expected spans.
//
//   check.js --manifest M.json --got spans.jsonl [--allow-missing MIN]
//
// --allow-missing MIN (lossy capture tests): spans that never arrived are
// counted but not failures; at least MIN spans must match exactly, and a
// mismatching or unexpected span still fails.
//
// Manifest:
//   {"service_name": "kata-agent",
//    "items": [{"expected": "path/expected_<label>.json"   (relative to M)
//               | "expected_inline": {...same schema...},
//               "era": "json" | "bincode", "count": N,
//               "origin": {"katatrace.transport": "hybrid-vsock", ...}}]}
//
// Origin values are the exact extra resource attributes: a JSON string,
// boolean, integer (i64) or non-integer number (f64), or a typed value
// {"type": "...", "value": ...} as in the expected files.
//
// The expected spans are mapped to OTLP here, without reference to the C
// code: ids as hex (root parent and all-zero ids ""), tracestate "k=v,k2=v2",
// flags = trace_flags | 0x100 | 0x200 if remote, kinds Client 3 / Server 2 /
// Producer 4 / Consumer 5 / Internal 1, status Unset 0 / Ok 1 / Error 2;
// resource = the agent's attributes in order (a string service.name equal to
// "unknown_service" or starting with "unknown_service:" replaced in place by
// service_name, keys also set by the origin dropped), service.name appended
// if the agent had none, then the origin's attributes. In the JSON era every
// non-finite double arrives as NaN (serde_json writes null).
//
// Spans are matched by (traceId, spanId, name, resource) as multisets, then
// every field is compared exactly. One check per expected span instance plus
// one for "no unexpected spans"; prints one line per problem, then
// "N passed, N failed"; exits 1 on any failure.
'use strict';

const fs = require('fs');
const path = require('path');
const { parseArgs } = require('./lib/args');
const { parse, Num } = require('./lib/lossless-json');
const { f64, hexId } = require('./lib/normalize');

const USAGE = 'usage: check.js --manifest M.json --got spans.jsonl [--allow-missing MIN]';
const { opts } = parseArgs(process.argv.slice(2), { manifest: true, got: true, 'allow-missing': false }, USAGE);

class ManifestError extends Error {}
const bad = (where, msg) => {
	throw new ManifestError(`${where}: ${msg}`);
};

// ------------------------------------------------------------------ values

function hexToDouble(bits) {
	if (!/^[0-9a-fA-F]{16}$/.test(bits)) bad('f64', `bad bits ${bits}`);
	return Buffer.from(bits, 'hex').readDoubleBE(0);
}

function toDouble(v, where) {
	if (v instanceof Num) return v.double();
	switch (v) {
	case 'NaN': return NaN;
	case '+Inf': case 'Infinity': case '+Infinity': return Infinity;
	case '-Inf': case '-Infinity': return -Infinity;
	default: return bad(where, `f64 expected, got ${JSON.stringify(v)}`);
	}
}

function i64(v, where) {
	if (!(v instanceof Num) || !v.isInteger()) bad(where, 'i64 expected');
	const b = v.bigint();
	if (b < -(2n ** 63n) || b >= 2n ** 63n) bad(where, `i64 out of range: ${v.raw}`);
	return b.toString();
}

function u64(v, where) {
	if (!(v instanceof Num) || !v.isInteger()) bad(where, 'u64 expected');
	const b = v.bigint();
	if (b < 0n || b >= 2n ** 64n) bad(where, `u64 out of range: ${v.raw}`);
	return b.toString();
}

function u32(v, where) {
	if (!(v instanceof Num) || !v.isInteger()) bad(where, 'u32 expected');
	const b = v.bigint();
	if (b < 0n || b > 0xffffffffn) bad(where, `u32 out of range: ${v.raw}`);
	return Number(b);
}

function str(v, where) {
	if (typeof v !== 'string') bad(where, 'string expected');
	return v;
}

function typedValue(tv, era, where) {
	if (typeof tv !== 'object' || tv === null) bad(where, 'typed value expected');
	const dbl = (x, w) => {
		const d = toDouble(x, w);
		return era === 'json' && !Number.isFinite(d) ? NaN : d;
	};
	const v = tv.value;
	switch (tv.type) {
	case 'bool':
		if (typeof v !== 'boolean') bad(where, 'bool expected');
		return { type: 'bool', value: v };
	case 'i64': return { type: 'i64', value: i64(v, where) };
	case 'f64': {
		let d = tv.bits !== undefined ? hexToDouble(tv.bits) : toDouble(v, where);
		if (tv.bits !== undefined && !Object.is(d, toDouble(v, where)) &&
		    !(Number.isNaN(d) && v === 'NaN'))
			bad(where, `value ${v instanceof Num ? v.raw : v} disagrees with bits ${tv.bits}`);
		if (era === 'json' && !Number.isFinite(d)) d = NaN;
		return { type: 'f64', value: f64(d) };
	}
	case 'string': return { type: 'string', value: str(v, where) };
	case 'array_bool': case 'array_i64': case 'array_f64': case 'array_string': {
		if (!Array.isArray(v)) bad(where, 'array expected');
		if (v.length === 0) return { type: 'array_empty', value: [] };
		const conv = {
			array_bool: (x, w) => (typeof x === 'boolean' ? x : bad(w, 'bool expected')),
			array_i64: i64,
			array_f64: (x, w) => f64(dbl(x, w)),
			array_string: str,
		}[tv.type];
		return { type: tv.type, value: v.map((x, i) => conv(x, `${where}[${i}]`)) };
	}
	default: return bad(where, `unknown value type ${JSON.stringify(tv.type)}`);
	}
}

function attrList(list, era, where) {
	if (list === null || list === undefined) return [];
	if (!Array.isArray(list)) bad(where, 'attribute list expected');
	return list.map((kv, i) => ({
		key: str(kv.key, `${where}[${i}].key`),
		value: typedValue(kv.value, era, `${where}[${i}].value`),
	}));
}

// Origin values: bare JSON scalars or typed values.
function originAttrs(origin, where) {
	if (origin === undefined || origin === null) return [];
	if (typeof origin !== 'object' || Array.isArray(origin)) bad(where, 'object expected');
	return Object.entries(origin).map(([key, v]) => {
		const w = `${where}.${key}`;
		let value;
		if (typeof v === 'string') value = { type: 'string', value: v };
		else if (typeof v === 'boolean') value = { type: 'bool', value: v };
		else if (v instanceof Num) value = v.isInteger() ? { type: 'i64', value: i64(v, w) } : { type: 'f64', value: f64(v.double()) };
		else value = typedValue(v, 'bincode', w);
		return { key, value };
	});
}

// ------------------------------------------------------------------ spans

const KINDS = { Client: 3, Server: 2, Producer: 4, Consumer: 5, Internal: 1 };
const STATUS = { Unset: 0, Ok: 1, Error: 2 };

function hex(v, bytes, where) {
	if (typeof v !== 'string' || !new RegExp(`^[0-9a-fA-F]{${bytes * 2}}$`).test(v))
		bad(where, `${bytes}-byte hex id expected`);
	return hexId(Buffer.from(v, 'hex'));
}

function traceState(ts, where) {
	if (ts === null || ts === undefined) return '';
	if (!Array.isArray(ts)) bad(where, 'trace_state: null or list expected');
	return ts.map((kv, i) => {
		if (!Array.isArray(kv) || kv.length !== 2) bad(`${where}[${i}]`, '[key, value] expected');
		return `${str(kv[0], where)}=${str(kv[1], where)}`;
	}).join(',');
}

function flags(ctx, where) {
	const tf = u32(ctx.trace_flags, `${where}.trace_flags`);
	if (tf > 0xff) bad(where, 'trace_flags is a u8');
	if (typeof ctx.is_remote !== 'boolean') bad(where, 'is_remote: bool expected');
	return tf | 0x100 | (ctx.is_remote ? 0x200 : 0);
}

function resource(agent, era, origin, serviceName, where) {
	const originKeys = new Set(origin.map((kv) => kv.key));
	const out = [];
	let haveService = false;
	for (const kv of attrList(agent, era, where)) {
		if (originKeys.has(kv.key)) continue;
		if (kv.key === 'service.name') {
			haveService = true;
			const v = kv.value;
			if (v.type === 'string' && (v.value === 'unknown_service' || v.value.startsWith('unknown_service:')))
				kv.value = { type: 'string', value: serviceName };
		}
		out.push(kv);
	}
	if (!haveService && !originKeys.has('service.name'))
		out.push({ key: 'service.name', value: { type: 'string', value: serviceName } });
	return out.concat(origin);
}

function expectedSpan(e, era, origin, serviceName, where) {
	const ctx = e.span_context;
	if (!ctx) bad(where, 'span_context missing');
	if (!(e.span_kind in KINDS)) bad(where, `unknown span_kind ${e.span_kind}`);
	if (!(e.status_code in STATUS)) bad(where, `unknown status_code ${e.status_code}`);
	const list = (v, w) => (v === null || v === undefined ? [] : Array.isArray(v) ? v : bad(w, 'list or null expected'));
	return {
		resource: resource(e.resource, era, origin, serviceName, `${where}.resource`),
		scope: 'kata-agent',
		traceId: hex(ctx.trace_id, 16, `${where}.trace_id`),
		spanId: hex(ctx.span_id, 8, `${where}.span_id`),
		parentSpanId: hex(e.parent_span_id, 8, `${where}.parent_span_id`),
		traceState: traceState(ctx.trace_state, `${where}.trace_state`),
		flags: flags(ctx, `${where}.span_context`),
		name: str(e.name, `${where}.name`),
		kind: KINDS[e.span_kind],
		start: u64(e.start_time_unix_nano, `${where}.start_time_unix_nano`),
		end: u64(e.end_time_unix_nano, `${where}.end_time_unix_nano`),
		attributes: attrList(e.attributes, era, `${where}.attributes`),
		droppedAttributesCount: u32(e.attributes_dropped_count, `${where}.attributes_dropped_count`),
		events: list(e.events, `${where}.events`).map((ev, i) => ({
			time: u64(ev.time_unix_nano, `${where}.events[${i}].time_unix_nano`),
			name: str(ev.name, `${where}.events[${i}].name`),
			attributes: attrList(ev.attributes, era, `${where}.events[${i}].attributes`),
			droppedAttributesCount: u32(ev.dropped_attributes_count, `${where}.events[${i}].dropped_attributes_count`),
		})),
		droppedEventsCount: u32(e.events_dropped_count, `${where}.events_dropped_count`),
		links: list(e.links, `${where}.links`).map((l, i) => {
			const w = `${where}.links[${i}]`;
			return {
				traceId: hex(l.span_context.trace_id, 16, `${w}.trace_id`),
				spanId: hex(l.span_context.span_id, 8, `${w}.span_id`),
				traceState: traceState(l.span_context.trace_state, `${w}.trace_state`),
				flags: flags(l.span_context, `${w}.span_context`),
				attributes: attrList(l.attributes, era, `${w}.attributes`),
				droppedAttributesCount: u32(l.dropped_attributes_count, `${w}.dropped_attributes_count`),
			};
		}),
		droppedLinksCount: u32(e.links_dropped_count, `${where}.links_dropped_count`),
		status: { code: STATUS[e.status_code], message: str(e.status_message, `${where}.status_message`) },
	};
}

// ------------------------------------------------------------------ compare

function diff(exp, got, at, out) {
	if (out.length >= 6) return;
	const show = (v) => {
		const s = JSON.stringify(v);
		return s === undefined ? 'nothing' : s.length > 120 ? `${s.slice(0, 117)}...` : s;
	};
	if (Array.isArray(exp) && Array.isArray(got)) {
		if (exp.length !== got.length) out.push(`${at}: expected ${exp.length} item(s), got ${got.length}`);
		for (let i = 0; i < Math.min(exp.length, got.length); i++) diff(exp[i], got[i], `${at}[${i}]`, out);
		return;
	}
	if (exp && got && typeof exp === 'object' && typeof got === 'object' && !Array.isArray(exp) && !Array.isArray(got)) {
		for (const k of new Set([...Object.keys(exp), ...Object.keys(got)]))
			diff(exp[k], got[k], at ? `${at}.${k}` : k, out);
		return;
	}
	if (JSON.stringify(exp) !== JSON.stringify(got)) out.push(`${at}: expected ${show(exp)}, got ${show(got)}`);
}

const keyOf = (s) => JSON.stringify([s.traceId, s.spanId, s.name, s.resource]);
const canon = (s) => JSON.stringify(s);
const ident = (s) => `${s.traceId || '-'}/${s.spanId || '-'} ${JSON.stringify(s.name)}`;

function main() {
	const manifestDir = path.dirname(path.resolve(opts.manifest));
	const manifest = parse(fs.readFileSync(opts.manifest, 'utf8'), opts.manifest);
	const serviceName = manifest.service_name === undefined ? 'kata-agent' : str(manifest.service_name, 'service_name');
	if (!Array.isArray(manifest.items)) bad(opts.manifest, '"items" list expected');

	const expected = []; // {label, span}
	manifest.items.forEach((item, n) => {
		const where = `items[${n}]`;
		let e;
		let label;
		if (item.expected_inline !== undefined) {
			e = item.expected_inline;
			label = e.label || `inline#${n}`;
		} else {
			const file = path.resolve(manifestDir, str(item.expected, `${where}.expected`));
			e = parse(fs.readFileSync(file, 'utf8'), file);
			label = e.label || path.basename(file);
		}
		const era = item.era === undefined ? 'bincode' : item.era;
		if (era !== 'json' && era !== 'bincode') bad(where, `era must be "json" or "bincode"`);
		const count = item.count === undefined ? 1 : u32(item.count, `${where}.count`);
		const span = expectedSpan(e, era, originAttrs(item.origin, `${where}.origin`), serviceName, `${where}(${label})`);
		for (let i = 0; i < count; i++) expected.push({ label: `${label}/${era}#${i + 1}`, span });
	});

	const got = [];
	let passed = 0;
	let failed = 0;
	const text = fs.readFileSync(opts.got, 'utf8');
	text.split('\n').forEach((line, i) => {
		if (line === '') return;
		try {
			got.push(JSON.parse(line));
		} catch (err) {
			console.log(`BAD LINE ${opts.got}:${i + 1}: ${err.message}`);
			got.push(null);
		}
	});

	// Multiset match per key; exact twins pair first so that different
	// items sharing a key (e.g. both eras of one vector) find each other.
	// Each key's lines are indexed by their canonical text, and every list
	// is consumed from a cursor (lowest line first): linear in the spans, as
	// a burst test sends 100,000 identical ones.
	const pool = new Map(); // key -> {all: [line], next, byCanon: Map(canon -> {lines, next})}
	got.forEach((s, i) => {
		if (!s) return;
		const k = keyOf(s);
		let p = pool.get(k);
		if (!p) {
			p = { all: [], next: 0, byCanon: new Map() };
			pool.set(k, p);
		}
		p.all.push(i);
		const c = canon(s);
		if (!p.byCanon.has(c)) p.byCanon.set(c, { lines: [], next: 0 });
		p.byCanon.get(c).lines.push(i);
	});
	const used = new Set();
	const canonOf = new Map(); // expected span object -> its canonical text
	const pending = [];
	for (const x of expected) {
		if (!canonOf.has(x.span)) canonOf.set(x.span, canon(x.span));
		const twins = pool.get(keyOf(x.span))?.byCanon.get(canonOf.get(x.span));
		if (!twins || twins.next === twins.lines.length) {
			pending.push(x);
			continue;
		}
		used.add(twins.lines[twins.next++]);
		passed++;
	}
	const allowMissing = opts['allow-missing'] !== undefined;
	const matched = passed;
	let missing = 0;
	// the lowest line of this key not yet paired
	const firstUnused = (p) => {
		while (p.next < p.all.length && used.has(p.all[p.next])) p.next++;
		return p.next < p.all.length ? p.all[p.next] : undefined;
	};
	for (const x of pending) {
		const p = pool.get(keyOf(x.span));
		const j = p ? firstUnused(p) : undefined;
		if (j === undefined && allowMissing) {
			missing++;
			continue;
		}
		failed++;
		if (j === undefined) {
			console.log(`MISSING ${x.label} ${ident(x.span)}`);
			continue;
		}
		used.add(j);
		const d = [];
		diff(x.span, got[j], '', d);
		console.log(`MISMATCH ${x.label} ${ident(x.span)}: ${d.join('; ')}`);
	}
	let unexpected = 0;
	got.forEach((s, i) => {
		if (used.has(i)) return;
		unexpected++;
		if (s) console.log(`UNEXPECTED ${ident(s)} resource=${JSON.stringify(s.resource)}`);
	});
	if (unexpected) {
		failed++;
		console.log(`UNEXPECTED: ${unexpected} span line(s) matched nothing that was sent`);
	} else {
		passed++;
	}
	if (allowMissing) {
		const min = Number(opts['allow-missing']);
		console.log(`${matched} spans matched exactly, ${missing} never arrived (allowed)`);
		if (matched >= min) {
			passed++;
		} else {
			failed++;
			console.log(`TOO FEW: ${matched} matched, at least ${min} required`);
		}
	}
	console.log(`${passed} passed, ${failed} failed`);
	return failed ? 1 : 0;
}

try {
	process.exitCode = main();
} catch (e) {
	console.log(e instanceof ManifestError || e instanceof SyntaxError ? `ERROR ${e.message}` : `ERROR ${e.stack}`);
	console.log('0 passed, 1 failed');
	process.exitCode = 1;
}
