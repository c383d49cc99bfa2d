// SPDX-License-Identifier: Apache-2.0
// Decoded ExportTraceServiceRequest -> one normalized object per span.
// The same form is produced by check.js from the decoder-neutral expected
// files, so both sides compare with a plain deep-equal.
'use strict';

const { Long } = require('./otlp');

// Ids as lower-case hex; absent, empty and all-zero ids (invalid in OTLP)
// are all "".
function hexId(b) {
	if (!b || b.length === 0) return '';
	const hex = Buffer.from(b).toString('hex');
	return /^0+$/.test(hex) ? '' : hex;
}

// Long (either signedness), number or string -> exact decimal string.
function u64(v) {
	if (v === null || v === undefined) return '0';
	if (Long.isLong(v)) return Long.fromBits(v.low, v.high, true).toString();
	return BigInt(v).toString();
}

function i64(v) {
	if (v === null || v === undefined) return '0';
	if (Long.isLong(v)) return Long.fromBits(v.low, v.high, false).toString();
	return BigInt(v).toString();
}

// Doubles: finite numbers as JSON numbers, except -0 (JSON would lose the
// sign), and the non-finite values as strings.
function f64(d) {
	if (Number.isNaN(d)) return 'NaN';
	if (d === Infinity) return '+Inf';
	if (d === -Infinity) return '-Inf';
	if (d === 0 && 1 / d < 0) return '-0';
	return d;
}

function str(s) {
	return s === null || s === undefined ? '' : String(s);
}

function num(n) {
	return n === null || n === undefined ? 0 : Number(n);
}

function scalar(v) {
	switch (v && v.value) {
	case 'stringValue': return { type: 'string', value: v.stringValue };
	case 'boolValue': return { type: 'bool', value: v.boolValue };
	case 'intValue': return { type: 'i64', value: i64(v.intValue) };
	case 'doubleValue': return { type: 'f64', value: f64(v.doubleValue) };
	case 'bytesValue': return { type: 'bytes', value: Buffer.from(v.bytesValue).toString('hex') };
	case 'arrayValue': return array(v.arrayValue);
	case 'kvlistValue': return { type: 'kvlist', value: attrs(v.kvlistValue.values) };
	default: return { type: 'empty', value: null };
	}
}

// Homogeneous arrays become array_<type> with bare values; an empty array
// carries no element type on the wire.
function array(av) {
	const items = ((av && av.values) || []).map(scalar);
	if (items.length === 0) return { type: 'array_empty', value: [] };
	const t = items[0].type;
	if (['string', 'bool', 'i64', 'f64'].includes(t) && items.every((x) => x.type === t))
		return { type: `array_${t}`, value: items.map((x) => x.value) };
	return { type: 'array_mixed', value: items };
}

function attrs(list) {
	return (list || []).map((kv) => ({ key: str(kv.key), value: scalar(kv.value) }));
}

function span(resource, scope, s) {
	const st = s.status || {};
	return {
		resource,
		scope,
		traceId: hexId(s.traceId),
		spanId: hexId(s.spanId),
		parentSpanId: hexId(s.parentSpanId),
		traceState: str(s.traceState),
		flags: num(s.flags),
		name: str(s.name),
		kind: num(s.kind),
		start: u64(s.startTimeUnixNano),
		end: u64(s.endTimeUnixNano),
		attributes: attrs(s.attributes),
		droppedAttributesCount: num(s.droppedAttributesCount),
		events: (s.events || []).map((e) => ({
			time: u64(e.timeUnixNano),
			name: str(e.name),
			attributes: attrs(e.attributes),
			droppedAttributesCount: num(e.droppedAttributesCount),
		})),
		droppedEventsCount: num(s.droppedEventsCount),
		links: (s.links || []).map((l) => ({
			traceId: hexId(l.traceId),
			spanId: hexId(l.spanId),
			traceState: str(l.traceState),
			flags: num(l.flags),
			attributes: attrs(l.attributes),
			droppedAttributesCount: num(l.droppedAttributesCount),
		})),
		droppedLinksCount: num(s.droppedLinksCount),
		status: { code: num(st.code), message: str(st.message) },
	};
}

// Decoded request message -> array of normalized spans, in request order.
function normalizeRequest(req) {
	const out = [];
	for (const rs of req.resourceSpans || []) {
		const resource = attrs(rs.resource && rs.resource.attributes);
		for (const ss of rs.scopeSpans || []) {
			const scope = str(ss.scope && ss.scope.name);
			for (const s of ss.spans || []) out.push(span(resource, scope, s));
		}
	}
	return out;
}

// Decoded ExportLogsServiceRequest -> one normalized object per log record.
function normalizeLogsRequest(req) {
	const out = [];
	for (const rl of req.resourceLogs || []) {
		const resource = attrs(rl.resource && rl.resource.attributes);
		for (const sl of rl.scopeLogs || []) {
			const scope = str(sl.scope && sl.scope.name);
			for (const l of sl.logRecords || []) {
				out.push({
					resource,
					scope,
					time: u64(l.timeUnixNano),
					observedTime: u64(l.observedTimeUnixNano),
					severityNumber: num(l.severityNumber),
					severityText: str(l.severityText),
					body: scalar(l.body),
					attributes: attrs(l.attributes),
					droppedAttributesCount: num(l.droppedAttributesCount),
					flags: num(l.flags),
					traceId: hexId(l.traceId),
					spanId: hexId(l.spanId),
					eventName: str(l.eventName),
				});
			}
		}
	}
	return out;
}

module.exports = { normalizeRequest, normalizeLogsRequest, f64, hexId };
