#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
//
// OTLP/gRPC trace receiver for tests: serves
// opentelemetry.proto.collector.trace.v1.TraceService/Export with @grpc/grpc-js
// (h2c, or TLS with --tls-cert/--tls-key), decodes each
// ExportTraceServiceRequest with the upstream OpenTelemetry JS root and
// appends one normalized JSON line per span to --out, exactly as receiver.js
// does for OTLP/HTTP.
//
//   grpc-receiver.js --out spans.jsonl [--port N] [--port-file F]
//                    [--unavailable-first N] [--unavailable-for MS] [--retry-delay MS]
//                    [--status CODE [--message TEXT]] [--partial-success N:TEXT]
//                    [--tls-cert FILE --tls-key FILE [--tls-client-ca FILE]]
//
// --port N listens on 127.0.0.1:N (default 0: a free port); the port is
// written to F once the server listens. --unavailable-first N answers
// UNAVAILABLE to the first N requests, --unavailable-for MS to every request
// during the first MS milliseconds after it started listening; with
// --retry-delay MS those answers carry a google.rpc.RetryInfo of MS
// milliseconds in grpc-status-details-bin. --status CODE
// (a number or a name such as INVALID_ARGUMENT) answers CODE, with TEXT as
// grpc-message, to every other request. --partial-success N:TEXT answers OK
// with partial_success {rejected_spans: N, error_message: TEXT}. Only OK
// answers record spans, and they are on disk before the answer is sent.
// --tls-cert/--tls-key serve TLS (ALPN h2) with that PEM certificate and key;
// --tls-client-ca FILE also requires a client certificate issued by that CA
// (mutual TLS), whose CN is logged with each call. Exits 0 on SIGTERM/SIGINT.
'use strict';

const grpc = require('@grpc/grpc-js');
const { parseArgs } = require('./lib/args');
const { ExportTraceServiceRequest, ExportTraceServiceResponse } = require('./lib/otlp');
const { ExportLogsServiceRequest, ExportLogsServiceResponse } = require('./lib/otlp-logs');
const { normalizeRequest, normalizeLogsRequest } = require('./lib/normalize');
const { statusWithRetryDelay } = require('./lib/rpc-status');
const { writePortFile, openSpanFile, appendSpans, logger } = require('./lib/sink');
const { TLS_SPEC, TLS_USAGE, tlsFiles, tlsDescription, clientText } = require('./lib/tls');

const USAGE = 'usage: grpc-receiver.js --out spans.jsonl [--logs-out logs.jsonl] [--port N] [--port-file F] ' +
	'[--unavailable-first N] [--unavailable-for MS] [--retry-delay MS] [--status CODE [--message TEXT]] ' +
	`[--partial-success N:TEXT] ${TLS_USAGE}`;
const { opts } = parseArgs(process.argv.slice(2), {
	out: true, 'logs-out': false, port: false, 'port-file': false, 'unavailable-first': false,
	'unavailable-for': false, 'retry-delay': false, status: false, message: false, 'partial-success': false,
	...TLS_SPEC,
}, USAGE);
const log = logger('grpc-receiver');
const MAX_MESSAGE = 64 * 1024 * 1024;
const EXPORT_PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';
const EXPORT_LOGS_PATH = '/opentelemetry.proto.collector.logs.v1.LogsService/Export';

function usage(msg) {
	process.stderr.write(`${msg}\n${USAGE}\n`);
	process.exit(2);
}

function number(name, dflt) {
	const v = opts[name];
	if (v === undefined) return dflt;
	if (!/^[0-9]+$/.test(v)) usage(`--${name}: '${v}' is not a number`);
	return Number(v);
}

function statusCode(v) {
	if (v === undefined) return grpc.status.OK;
	if (/^[0-9]+$/.test(v)) return Number(v);
	if (v in grpc.status) return grpc.status[v];
	return usage(`--status: '${v}' is not a gRPC status code or name`);
}

const port = number('port', 0);
let unavailableFirst = number('unavailable-first', 0);
const unavailableForMs = number('unavailable-for', 0);
const retryDelayMs = number('retry-delay', undefined);
const retryText = retryDelayMs === undefined ? '' : `, RetryInfo ${retryDelayMs} ms`;
const status = statusCode(opts.status);
const statusName = Object.keys(grpc.status).find((k) => grpc.status[k] === status) || String(status);
let partial = null;
if (opts['partial-success'] !== undefined) {
	const m = /^([0-9]+):(.*)$/s.exec(opts['partial-success']);
	if (!m) usage("--partial-success: 'N:TEXT' expected");
	partial = { rejectedSpans: Number(m[1]), errorMessage: m[2] };
}
const tls = tlsFiles(opts, usage);

openSpanFile(opts.out);
if (opts['logs-out']) openSpanFile(opts['logs-out']);
const okLogsBody = Buffer.from(ExportLogsServiceResponse.encode({}).finish());
const okBody = Buffer.from(ExportTraceServiceResponse.encode(
	partial ? { partialSuccess: partial } : {}).finish());
let nRequests = 0;
let listeningSince = 0;

// Custom metadata as "k=v" pairs for the log (the transport's own headers left out).
function metadataText(md) {
	const skip = new Set(['content-type', 'content-length', 'te', 'user-agent', 'grpc-timeout',
		'grpc-accept-encoding', 'grpc-encoding', 'accept-encoding']);
	return Object.entries(md.getMap())
		.filter(([k]) => !skip.has(k))
		.map(([k, v]) => `${k}=${Buffer.isBuffer(v) ? v.toString('hex') : v}`)
		.join(' ');
}

function fail(callback, code, details) {
	callback({ code, details });
}

// UNAVAILABLE while starting, with the RetryInfo of --retry-delay if given.
function unavailable(callback, details) {
	if (retryDelayMs === undefined) return fail(callback, grpc.status.UNAVAILABLE, details);
	const metadata = new grpc.Metadata();
	metadata.set('grpc-status-details-bin',
		statusWithRetryDelay(grpc.status.UNAVAILABLE, details, retryDelayMs));
	callback({ code: grpc.status.UNAVAILABLE, details, metadata });
}

function exportHandler(call, callback) {
	const n = ++nRequests;
	const body = call.request;
	const md = metadataText(call.metadata);
	const ua = call.metadata.get('user-agent').join(',');
	const auth = call.getAuthContext();
	const client = clientText(auth && auth.sslPeerCertificate);
	const what = `request ${n} (${body.length} bytes, user-agent ${ua}` +
		`${md ? `, metadata ${md}` : ''}${client ? `, ${client}` : ''})`;
	if (unavailableFirst > 0) {
		unavailableFirst--;
		log(`${what}: answering UNAVAILABLE (--unavailable-first)${retryText}`);
		return unavailable(callback, 'collector starting (--unavailable-first)');
	}
	if (unavailableForMs && Date.now() - listeningSince < unavailableForMs) {
		log(`${what}: answering UNAVAILABLE (--unavailable-for)${retryText}`);
		return unavailable(callback, 'collector starting (--unavailable-for)');
	}
	let spans;
	try {
		spans = normalizeRequest(ExportTraceServiceRequest.decode(body));
	} catch (e) {
		log(`${what}: undecodable request: ${e.message}`);
		return fail(callback, grpc.status.INVALID_ARGUMENT, `cannot decode: ${e.message}`);
	}
	if (status !== grpc.status.OK) {
		log(`${what}: ${spans.length} span(s), answering ${statusName} (--status)`);
		return fail(callback, status, opts.message === undefined ? '' : opts.message);
	}
	appendSpans(opts.out, spans);
	log(`${what}: ${spans.length} span(s)`);
	return callback(null, okBody);
}

// LogsService/Export (with --logs-out): log records, one normalized line each.
function exportLogsHandler(call, callback) {
	const n = ++nRequests;
	const what = `request ${n} (${call.request.length} bytes, logs)`;
	let records;
	try {
		records = normalizeLogsRequest(ExportLogsServiceRequest.decode(call.request));
	} catch (e) {
		log(`${what}: undecodable request: ${e.message}`);
		return fail(callback, grpc.status.INVALID_ARGUMENT, `cannot decode: ${e.message}`);
	}
	appendSpans(opts['logs-out'], records);
	log(`${what}: ${records.length} log record(s)`);
	return callback(null, okLogsBody);
}

// Raw buffers in and out: decoding happens in the handler, with upstream code.
const identity = (b) => b;
const service = {
	Export: {
		path: EXPORT_PATH,
		requestStream: false,
		responseStream: false,
		requestSerialize: identity,
		requestDeserialize: identity,
		responseSerialize: identity,
		responseDeserialize: identity,
	},
};

const server = new grpc.Server({
	'grpc.max_receive_message_length': MAX_MESSAGE,
	'grpc.max_send_message_length': MAX_MESSAGE,
});
server.addService(service, { Export: exportHandler });
if (opts['logs-out'])
	server.addService({ Export: { ...service.Export, path: EXPORT_LOGS_PATH } },
		{ Export: exportLogsHandler });
const credentials = tls
	? grpc.ServerCredentials.createSsl(tls.clientCa,
		[{ cert_chain: tls.cert, private_key: tls.key }], tls.clientCa !== null)
	: grpc.ServerCredentials.createInsecure();
server.bindAsync(`127.0.0.1:${port}`, credentials, (err, bound) => {
	if (err) {
		log(`cannot listen on 127.0.0.1:${port}: ${err.message}`);
		process.exit(1);
	}
	listeningSince = Date.now();
	if (opts['port-file']) writePortFile(opts['port-file'], bound);
	log(`listening on 127.0.0.1:${bound} (${tlsDescription(tls)})`);
});

function shutdown(sig) {
	log(`${sig}: ${nRequests} request(s) handled, exiting`);
	server.forceShutdown();
	process.exit(0);
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
