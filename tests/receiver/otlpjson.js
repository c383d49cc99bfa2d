#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
//
// Reads OTLP/JSON lines (one ExportTraceServiceRequest per line, as the file
// exporter writes them) and writes the same normalized span lines as
// receiver.js. Lines holding an ExportLogsServiceRequest (resourceLogs: the
// file exporter's log records) are written as receiver.js's --logs-out
// lines to --logs-out; without --logs-out such a line is an error.
//
//   otlpjson.js FILE --out spans.jsonl [--logs-out logs.jsonl]
//
// Each line is checked against the OTLP/JSON shape (known lowerCamelCase
// keys only, lower-case hex ids, 64-bit integers as decimal strings, doubles
// as numbers or "NaN"/"Infinity"/"-Infinity"), converted to the protobufjs
// object form, built with the upstream root's fromObject, encoded and decoded
// again, then normalized. Any deviation is reported with its line and path
// and makes the script exit 1.
'use strict';

const fs = require('fs');
const { parseArgs } = require('./lib/args');
const { ExportTraceServiceRequest, Long } = require('./lib/otlp');
const { normalizeRequest, normalizeLogsRequest } = require('./lib/normalize');

const USAGE = 'usage: otlpjson.js FILE --out spans.jsonl [--logs-out logs.jsonl]';
const { opts, positional } = parseArgs(process.argv.slice(2), { out: true, 'logs-out': false }, USAGE);
if (positional.length !== 1) {
	process.stderr.write(`${USAGE}\n`);
	process.exit(2);
}

class FormatError extends Error {}

function fail(path, msg) {
	throw new FormatError(`${path}: ${msg}`);
}

function object(v, path, keys) {
	if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(path, 'object expected');
	for (const k of Object.keys(v))
		if (!keys.includes(k)) fail(path, `unknown key "${k}"`);
	return v;
}

function list(v, path, each) {
	if (!Array.isArray(v)) fail(path, 'array expected');
	return v.map((x, i) => each(x, `${path}[${i}]`));
}

function id(v, path, bytes) {
	if (typeof v !== 'string' || !new RegExp(`^[0-9a-f]{${bytes * 2}}$`).test(v))
		fail(path, `${bytes}-byte lower-case hex id expected, got ${JSON.stringify(v)}`);
	return Buffer.from(v, 'hex');
}

function uint64(v, path) {
	if (typeof v !== 'string' || !/^(0|[1-9][0-9]*)$/.test(v) || BigInt(v) >= 2n ** 64n)
		fail(path, `uint64 as decimal string expected, got ${JSON.stringify(v)}`);
	return Long.fromString(v, true);
}

function int64(v, path) {
	if (typeof v !== 'string' || !/^(0|-?[1-9][0-9]*)$/.test(v) ||
	    BigInt(v) < -(2n ** 63n) || BigInt(v) >= 2n ** 63n)
		fail(path, `int64 as decimal string expected, got ${JSON.stringify(v)}`);
	return Long.fromString(v, false);
}

function uint32(v, path) {
	if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) fail(path, 'uint32 number expected');
	return v;
}

function string(v, path) {
	if (typeof v !== 'string') fail(path, 'string expected');
	return v;
}

function double(v, path) {
	if (typeof v === 'number') return v;
	if (v === 'NaN' || v === 'Infinity' || v === '-Infinity') return v; // fromObject: Number(v)
	return fail(path, `double expected, got ${JSON.stringify(v)}`);
}

const ANY_KEYS = ['stringValue', 'boolValue', 'intValue', 'doubleValue', 'arrayValue',
	'kvlistValue', 'bytesValue'];

function anyValue(v, path) {
	object(v, path, ANY_KEYS);
	const set = Object.keys(v);
	if (set.length > 1) fail(path, `more than one value: ${set.join(', ')}`);
	const o = {};
	for (const k of set) {
		const p = `${path}.${k}`;
		switch (k) {
		case 'stringValue': o[k] = string(v[k], p); break;
		case 'boolValue':
			if (typeof v[k] !== 'boolean') fail(p, 'boolean expected');
			o[k] = v[k];
			break;
		case 'intValue': o[k] = int64(v[k], p); break;
		case 'doubleValue': o[k] = double(v[k], p); break;
		case 'arrayValue':
			object(v[k], p, ['values']);
			o[k] = { values: v[k].values === undefined ? [] : list(v[k].values, `${p}.values`, anyValue) };
			break;
		case 'kvlistValue':
			object(v[k], p, ['values']);
			o[k] = { values: v[k].values === undefined ? [] : list(v[k].values, `${p}.values`, keyValue) };
			break;
		case 'bytesValue': o[k] = string(v[k], p); break; // base64, decoded by fromObject
		}
	}
	return o;
}

function keyValue(v, path) {
	object(v, path, ['key', 'value']);
	if (!('value' in v)) fail(path, 'missing "value"');
	return { key: v.key === undefined ? '' : string(v.key, `${path}.key`), value: anyValue(v.value, `${path}.value`) };
}

// Copies the listed optional fields of v into o through conv.
function fields(o, v, path, spec) {
	for (const [k, conv] of Object.entries(spec))
		if (v[k] !== undefined) o[k] = conv(v[k], `${path}.${k}`);
	return o;
}

const attrList = (v, p) => list(v, p, keyValue);

function span(v, path) {
	object(v, path, ['traceId', 'spanId', 'traceState', 'parentSpanId', 'flags', 'name', 'kind',
		'startTimeUnixNano', 'endTimeUnixNano', 'attributes', 'droppedAttributesCount', 'events',
		'droppedEventsCount', 'links', 'droppedLinksCount', 'status']);
	return fields({}, v, path, {
		traceId: (x, p) => id(x, p, 16),
		spanId: (x, p) => id(x, p, 8),
		traceState: string,
		parentSpanId: (x, p) => id(x, p, 8),
		flags: uint32,
		name: string,
		kind: (x, p) => (Number.isInteger(x) && x >= 0 && x <= 5 ? x : fail(p, 'span kind 0..5 expected')),
		startTimeUnixNano: uint64,
		endTimeUnixNano: uint64,
		attributes: attrList,
		droppedAttributesCount: uint32,
		events: (x, p) => list(x, p, (e, ep) => {
			object(e, ep, ['timeUnixNano', 'name', 'attributes', 'droppedAttributesCount']);
			return fields({}, e, ep, { timeUnixNano: uint64, name: string, attributes: attrList,
				droppedAttributesCount: uint32 });
		}),
		droppedEventsCount: uint32,
		links: (x, p) => list(x, p, (l, lp) => {
			object(l, lp, ['traceId', 'spanId', 'traceState', 'attributes', 'droppedAttributesCount', 'flags']);
			return fields({}, l, lp, { traceId: (y, q) => id(y, q, 16), spanId: (y, q) => id(y, q, 8),
				traceState: string, attributes: attrList, droppedAttributesCount: uint32, flags: uint32 });
		}),
		droppedLinksCount: uint32,
		status: (x, p) => {
			object(x, p, ['message', 'code']);
			return fields({}, x, p, { message: string,
				code: (c, q) => (Number.isInteger(c) && c >= 0 && c <= 2 ? c : fail(q, 'status code 0..2 expected')) });
		},
	});
}

function request(v, path) {
	object(v, path, ['resourceSpans']);
	return fields({}, v, path, {
		resourceSpans: (x, p) => list(x, p, (rs, rp) => {
			object(rs, rp, ['resource', 'scopeSpans', 'schemaUrl']);
			return fields({}, rs, rp, {
				resource: (r, q) => {
					object(r, q, ['attributes', 'droppedAttributesCount']);
					return fields({}, r, q, { attributes: attrList, droppedAttributesCount: uint32 });
				},
				scopeSpans: (y, q) => list(y, q, (ss, sp) => {
					object(ss, sp, ['scope', 'spans', 'schemaUrl']);
					return fields({}, ss, sp, {
						scope: (sc, scp) => {
							object(sc, scp, ['name', 'version', 'attributes', 'droppedAttributesCount']);
							return fields({}, sc, scp, { name: string, version: string,
								attributes: attrList, droppedAttributesCount: uint32 });
						},
						spans: (z, zp) => list(z, zp, span),
						schemaUrl: string,
					});
				}),
				schemaUrl: string,
			});
		}),
	});
}

function logRecord(v, path) {
	object(v, path, ['timeUnixNano', 'observedTimeUnixNano', 'severityNumber', 'severityText', 'body',
		'attributes', 'droppedAttributesCount', 'flags', 'traceId', 'spanId', 'eventName']);
	return fields({}, v, path, {
		timeUnixNano: uint64,
		observedTimeUnixNano: uint64,
		severityNumber: (x, p) => (Number.isInteger(x) && x >= 0 && x <= 24 ? x : fail(p, 'severity number 0..24 expected')),
		severityText: string,
		body: anyValue,
		attributes: attrList,
		droppedAttributesCount: uint32,
		flags: uint32,
		traceId: (x, p) => id(x, p, 16),
		spanId: (x, p) => id(x, p, 8),
		eventName: string,
	});
}

function logsRequest(v, path) {
	object(v, path, ['resourceLogs']);
	return fields({}, v, path, {
		resourceLogs: (x, p) => list(x, p, (rl, rp) => {
			object(rl, rp, ['resource', 'scopeLogs', 'schemaUrl']);
			return fields({}, rl, rp, {
				resource: (r, q) => {
					object(r, q, ['attributes', 'droppedAttributesCount']);
					return fields({}, r, q, { attributes: attrList, droppedAttributesCount: uint32 });
				},
				scopeLogs: (y, q) => list(y, q, (sl, sp) => {
					object(sl, sp, ['scope', 'logRecords', 'schemaUrl']);
					return fields({}, sl, sp, {
						scope: (sc, scp) => {
							object(sc, scp, ['name', 'version', 'attributes', 'droppedAttributesCount']);
							return fields({}, sc, scp, { name: string, version: string,
								attributes: attrList, droppedAttributesCount: uint32 });
						},
						logRecords: (z, zp) => list(z, zp, logRecord),
						schemaUrl: string,
					});
				}),
				schemaUrl: string,
			});
		}),
	});
}

// Loaded only when a logs line comes: trace-only files need nothing more.
let logsMsg = null;
function logsLine(parsed) {
	if (!opts['logs-out']) throw new FormatError('$: a logs request (resourceLogs) needs --logs-out');
	if (!logsMsg) logsMsg = require('./lib/otlp-logs').ExportLogsServiceRequest;
	const msg = logsMsg.fromObject(logsRequest(parsed, '$'));
	return normalizeLogsRequest(logsMsg.decode(logsMsg.encode(msg).finish()));
}

const text = fs.readFileSync(positional[0], 'utf8');
const lines = text.split('\n');
if (lines[lines.length - 1] === '') lines.pop();
else if (lines.length) process.stderr.write(`${positional[0]}: last line has no newline\n`);

let out = '';
let logsOut = '';
let errors = 0;
let nSpans = 0;
let nLogs = 0;
lines.forEach((line, i) => {
	const where = `${positional[0]}:${i + 1}`;
	try {
		const parsed = JSON.parse(line);
		if (typeof parsed === 'object' && parsed !== null && 'resourceLogs' in parsed) {
			for (const l of logsLine(parsed)) {
				logsOut += `${JSON.stringify(l)}\n`;
				nLogs++;
			}
			return;
		}
		const obj = request(parsed, '$');
		const msg = ExportTraceServiceRequest.fromObject(obj);
		const wire = ExportTraceServiceRequest.encode(msg).finish();
		for (const s of normalizeRequest(ExportTraceServiceRequest.decode(wire))) {
			out += `${JSON.stringify(s)}\n`;
			nSpans++;
		}
	} catch (e) {
		errors++;
		process.stderr.write(`${where}: ${e instanceof FormatError || e instanceof SyntaxError ? e.message : e.stack}\n`);
	}
});
fs.writeFileSync(opts.out, out);
if (opts['logs-out']) fs.writeFileSync(opts['logs-out'], logsOut);
const logsSaid = opts['logs-out'] ? `, ${nLogs} log record(s)` : '';
process.stderr.write(`otlpjson: ${lines.length} line(s), ${nSpans} span(s)${logsSaid}, ${errors} error(s)\n`);
process.exit(errors ? 1 : 0);
