// SPDX-License-Identifier: Apache-2.0
// OTLP/JSON requests (ExportTraceServiceRequest, ExportLogsServiceRequest)
// as the exporters under test must write them: the OTLP/JSON lines of the
// file exporter and the bodies of OTLP/HTTP with http/json. Each document is
// checked against the OTLP/JSON shape (known lowerCamelCase keys only,
// lower-case hex ids of the right size, 64-bit integers as decimal strings,
// 32-bit ones and enums as numbers, doubles as numbers or
// "NaN"/"Infinity"/"-Infinity"), converted to the protobufjs object form,
// built with the upstream root's fromObject (lib/otlp.js; logs: the schema
// of lib/otlp-logs.js), encoded and decoded again. Any deviation throws a
// FormatError naming its path.
'use strict';

const { ExportTraceServiceRequest, Long } = require('./otlp');

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

// Loaded only when logs come: trace-only users need nothing more.
let logsMsg = null;
function logsMessage() {
	if (!logsMsg) logsMsg = require('./otlp-logs').ExportLogsServiceRequest;
	return logsMsg;
}

// A parsed document -> the decoded upstream message (round-tripped through protobuf).
function tracesFromJson(parsed) {
	const msg = ExportTraceServiceRequest.fromObject(request(parsed, '$'));
	return ExportTraceServiceRequest.decode(ExportTraceServiceRequest.encode(msg).finish());
}

function logsFromJson(parsed) {
	const m = logsMessage();
	return m.decode(m.encode(m.fromObject(logsRequest(parsed, '$'))).finish());
}

// A body of bytes: strict UTF-8, one JSON document. Throws FormatError.
function parseBody(buf) {
	let text;
	try {
		text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(buf);
	} catch (e) {
		throw new FormatError('$: not valid UTF-8');
	}
	try {
		return JSON.parse(text);
	} catch (e) {
		throw new FormatError(`$: not JSON: ${e.message}`);
	}
}

module.exports = { FormatError, tracesFromJson, logsFromJson, parseBody };
