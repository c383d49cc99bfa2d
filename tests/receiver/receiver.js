#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
//
// OTLP/HTTP trace receiver for tests: decodes ExportTraceServiceRequest with
// the upstream OpenTelemetry JS root and appends one normalized JSON line per
// span to --out; with --logs-out, also ExportLogsServiceRequest on /v1/logs,
// one normalized line per log record.
//
//   receiver.js --port-file F --out spans.jsonl [--port N] [--logs-out logs.jsonl]
//               [--fail-first N [--retry-after VALUE]] [--status CODE] [--partial-success N:TEXT]
//               [--tls-cert FILE --tls-key FILE [--tls-client-ca FILE]]
//
// Bodies are binary protobuf (application/x-protobuf, optionally gzip) or
// OTLP/JSON (application/json: http/json), the latter checked against the
// OTLP/JSON shape and built with the upstream root (lib/otlp-json.js);
// answers are in the request's encoding: the Export*ServiceResponse, or for
// a JSON request that fails a google.rpc.Status in JSON.
//
// Listens on 127.0.0.1 on a free port (--port: that one, a collector coming
// back where it was) and writes the port number to F once
// ready. --fail-first N answers 503 (--fail-status: CODE, e.g. 429) to the
// first N requests (with --retry-after, that header with VALUE); --status CODE
// answers CODE to every later request; --delay-ms MS answers every request
// MS late (a slow collector). --partial-success N:TEXT answers 2xx
// with partial_success {rejected_spans (logs: rejected_log_records): N,
// error_message: TEXT}. Only 2xx answers record spans, and they are on disk
// before the answer is sent. --tls-cert/--tls-key serve HTTPS with that PEM
// certificate and key; --tls-client-ca FILE also requires a client
// certificate issued by that CA (mutual TLS), whose CN is logged with each
// request. Each request is logged with its content type. Exits 0 on
// SIGTERM/SIGINT.
'use strict';

const http = require('http');
const https = require('https');
const zlib = require('zlib');
const { parseArgs } = require('./lib/args');
const { ExportTraceServiceRequest, ExportTraceServiceResponse } = require('./lib/otlp');
const { ExportLogsServiceRequest, ExportLogsServiceResponse } = require('./lib/otlp-logs');
const { normalizeRequest, normalizeLogsRequest } = require('./lib/normalize');
const { FormatError, tracesFromJson, logsFromJson, parseBody } = require('./lib/otlp-json');
const { writePortFile, openSpanFile, appendSpans, logger } = require('./lib/sink');
const { TLS_SPEC, TLS_USAGE, tlsFiles, tlsDescription, clientText } = require('./lib/tls');

const USAGE = 'usage: receiver.js --port-file F --out spans.jsonl [--port N] [--logs-out logs.jsonl] ' +
	'[--fail-first N [--fail-status CODE] [--retry-after VALUE]] [--status CODE] [--delay-ms MS] ' +
	'[--partial-success N:TEXT] ' +
	TLS_USAGE;
const { opts } = parseArgs(process.argv.slice(2), {
	'port-file': true, out: true, port: false, 'logs-out': false, 'fail-first': false, status: false,
	'partial-success': false, 'retry-after': false, 'fail-status': false, 'delay-ms': false, ...TLS_SPEC,
}, USAGE);
function usage(msg) {
	process.stderr.write(`${msg}\n${USAGE}\n`);
	process.exit(2);
}
const tls = tlsFiles(opts, usage);
let failFirst = Number(opts['fail-first'] || 0);
const failStatus = Number(opts['fail-status'] || 503);
const delayMs = Number(opts['delay-ms'] || 0);
const status = Number(opts.status || 200);
let partial = null;
if (opts['partial-success'] !== undefined) {
	const m = /^([0-9]+):(.*)$/s.exec(opts['partial-success']);
	if (!m) usage("--partial-success: 'N:TEXT' expected");
	partial = { rejected: m[1], errorMessage: m[2] };
}
const MAX_BODY = 64 * 1024 * 1024;

openSpanFile(opts.out);
if (opts['logs-out']) openSpanFile(opts['logs-out']);
let nRequests = 0;

const log = logger('receiver');

const PROTOBUF = 'application/x-protobuf';
const JSON_TYPE = 'application/json';

// The Export*ServiceResponse, built with the message types that decode the
// requests and written in the request's encoding (JSON: protobufjs's
// toJSON, the protobuf JSON mapping: 64-bit counts as strings).
function okBody(logs, json) {
	const type = logs ? ExportLogsServiceResponse : ExportTraceServiceResponse;
	const fields = partial ? {
		partialSuccess: {
			[logs ? 'rejectedLogRecords' : 'rejectedSpans']: partial.rejected,
			errorMessage: partial.errorMessage,
		},
	} : {};
	const msg = type.fromObject(fields);
	return json ? Buffer.from(JSON.stringify(msg.toJSON())) : Buffer.from(type.encode(msg).finish());
}

// The google.rpc.Status code of an HTTP failure, for JSON answers.
const GRPC_CODE = { 400: 3, 401: 16, 403: 7, 404: 5, 405: 12, 413: 8, 415: 3, 429: 8, 500: 13, 502: 14, 503: 14, 504: 4 };

function reply(res, code, body, type, extra) {
	res.writeHead(code, { 'Content-Type': type || 'text/plain', 'Content-Length': body.length, ...(extra || {}) });
	res.end(body);
}

// A failure: text for protobuf requests, a google.rpc.Status in JSON for JSON ones.
function failure(res, code, text, json, extra) {
	if (!json) return reply(res, code, Buffer.from(`${text}\n`), undefined, extra);
	const st = { code: GRPC_CODE[code] === undefined ? 2 : GRPC_CODE[code], message: text, details: [] };
	return reply(res, code, Buffer.from(JSON.stringify(st)), JSON_TYPE, extra);
}

function decode(logs, json, raw) {
	if (json) {
		const doc = parseBody(raw);
		return logs ? normalizeLogsRequest(logsFromJson(doc)) : normalizeRequest(tracesFromJson(doc));
	}
	return logs ? normalizeLogsRequest(ExportLogsServiceRequest.decode(raw))
		: normalizeRequest(ExportTraceServiceRequest.decode(raw));
}

function handle(req, res, body) {
	nRequests++;
	const type = (req.headers['content-type'] || '').split(';')[0].trim().toLowerCase();
	const json = type === JSON_TYPE;
	const logs = req.url === '/v1/logs' && opts['logs-out'];
	if (req.url !== '/v1/traces' && !logs) return failure(res, 404, 'not found', json);
	if (req.method !== 'POST') return failure(res, 405, 'POST only', json);
	if (type !== PROTOBUF && !json) {
		log(`request ${nRequests}: unsupported content type ${type}`);
		return failure(res, 415, `unsupported content type ${type}`, false);
	}
	if (failFirst > 0) {
		failFirst--;
		log(`request ${nRequests}: ${type}, answering ${failStatus} (--fail-first)`);
		const extra = opts['retry-after'] !== undefined ? { 'Retry-After': opts['retry-after'] } : undefined;
		return failure(res, failStatus, 'try again', json, extra);
	}
	let spans;
	try {
		const enc = (req.headers['content-encoding'] || '').toLowerCase();
		spans = decode(logs, json, enc === 'gzip' ? zlib.gunzipSync(body) : body);
	} catch (e) {
		const why = e instanceof FormatError ? e.message : `${e.message}`;
		log(`request ${nRequests}: ${type}, undecodable body (${body.length} bytes): ${why}`);
		return failure(res, 400, `cannot decode: ${why}`, json);
	}
	const what = `${spans.length} ${logs ? 'log record' : 'span'}(s)`;
	if (status < 200 || status > 299) {
		log(`request ${nRequests}: ${type}, ${what}, answering ${status} (--status)`);
		return failure(res, status, `status ${status} requested`, json);
	}
	appendSpans(logs ? opts['logs-out'] : opts.out, spans);
	const client = tls ? clientText(req.socket.getPeerCertificate()) : '';
	log(`request ${nRequests}: ${type}, ${what}${client ? ` (${client})` : ''}` +
		`${partial ? ', answering a partial success' : ''}`);
	reply(res, status, okBody(logs, json), json ? JSON_TYPE : PROTOBUF);
}

function onRequest(req, res) {
	const chunks = [];
	let size = 0;
	req.on('data', (c) => {
		size += c.length;
		if (size > MAX_BODY) {
			reply(res, 413, Buffer.from('too large\n'));
			req.destroy();
			return;
		}
		chunks.push(c);
	});
	req.on('end', () => {
		if (size > MAX_BODY) return;
		// --delay-ms: a slow collector, each answer that late
		if (delayMs > 0) setTimeout(() => handle(req, res, Buffer.concat(chunks)), delayMs);
		else handle(req, res, Buffer.concat(chunks));
	});
}

const server = tls
	? https.createServer({
		cert: tls.cert, key: tls.key, ca: tls.clientCa || undefined,
		requestCert: tls.clientCa !== null, rejectUnauthorized: tls.clientCa !== null,
	}, onRequest)
	: http.createServer(onRequest);
if (tls) server.on('tlsClientError', (e) => log(`TLS handshake failed: ${e.message}`));

server.listen(Number(opts.port || 0), '127.0.0.1', () => {
	const port = String(server.address().port);
	writePortFile(opts['port-file'], port);
	log(`listening on 127.0.0.1:${port} (${tlsDescription(tls)})`);
});

function shutdown(sig) {
	log(`${sig}: ${nRequests} request(s) handled, exiting`);
	server.close();
	server.closeAllConnections();
	process.exit(0);
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
