#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
//
// OTLP/HTTP trace receiver for tests: decodes ExportTraceServiceRequest with
// the upstream OpenTelemetry JS root and appends one normalized JSON line per
// span to --out; with --logs-out, also ExportLogsServiceRequest on /v1/logs,
// one normalized line per log record.
//
//   receiver.js --port-file F --out spans.jsonl [--logs-out logs.jsonl]
//               [--fail-first N] [--status CODE]
//               [--tls-cert FILE --tls-key FILE [--tls-client-ca FILE]]
//
// Listens on 127.0.0.1 on a free port and writes the port number to F once
// ready. --fail-first N answers 503 to the first N requests; --status CODE
// answers CODE to every later request. Only 2xx answers record spans, and
// they are on disk before the answer is sent. --tls-cert/--tls-key serve
// HTTPS with that PEM certificate and key; --tls-client-ca FILE also requires
// a client certificate issued by that CA (mutual TLS), whose CN is logged
// with each request. Exits 0 on SIGTERM/SIGINT.
'use strict';

const http = require('http');
const https = require('https');
const zlib = require('zlib');
const { parseArgs } = require('./lib/args');
const { ExportTraceServiceRequest, ExportTraceServiceResponse } = require('./lib/otlp');
const { ExportLogsServiceRequest, ExportLogsServiceResponse } = require('./lib/otlp-logs');
const { normalizeRequest, normalizeLogsRequest } = require('./lib/normalize');
const { writePortFile, openSpanFile, appendSpans, logger } = require('./lib/sink');
const { TLS_SPEC, TLS_USAGE, tlsFiles, tlsDescription, clientText } = require('./lib/tls');

const USAGE = 'usage: receiver.js --port-file F --out spans.jsonl [--logs-out logs.jsonl] ' +
	'[--fail-first N] [--status CODE] ' +
	TLS_USAGE;
const { opts } = parseArgs(process.argv.slice(2),
	{ 'port-file': true, out: true, 'logs-out': false, 'fail-first': false, status: false, ...TLS_SPEC }, USAGE);
const tls = tlsFiles(opts, (msg) => {
	process.stderr.write(`${msg}\n${USAGE}\n`);
	process.exit(2);
});
let failFirst = Number(opts['fail-first'] || 0);
const status = Number(opts.status || 200);
const MAX_BODY = 64 * 1024 * 1024;

openSpanFile(opts.out);
if (opts['logs-out']) openSpanFile(opts['logs-out']);
const okBody = Buffer.from(ExportTraceServiceResponse.encode({}).finish());
const okLogsBody = Buffer.from(ExportLogsServiceResponse.encode({}).finish());
let nRequests = 0;

const log = logger('receiver');

function reply(res, code, body, type) {
	res.writeHead(code, { 'Content-Type': type || 'text/plain', 'Content-Length': body.length });
	res.end(body);
}

function handle(req, res, body) {
	nRequests++;
	const logs = req.url === '/v1/logs' && opts['logs-out'];
	if (req.url !== '/v1/traces' && !logs) return reply(res, 404, Buffer.from('not found\n'));
	if (req.method !== 'POST') return reply(res, 405, Buffer.from('POST only\n'));
	const type = (req.headers['content-type'] || '').split(';')[0].trim().toLowerCase();
	if (type !== 'application/x-protobuf')
		return reply(res, 415, Buffer.from(`unsupported content type ${type}\n`));
	if (failFirst > 0) {
		failFirst--;
		log(`request ${nRequests}: answering 503 (--fail-first)`);
		return reply(res, 503, Buffer.from('try again\n'));
	}
	let spans;
	try {
		const enc = (req.headers['content-encoding'] || '').toLowerCase();
		const raw = enc === 'gzip' ? zlib.gunzipSync(body) : body;
		spans = logs ? normalizeLogsRequest(ExportLogsServiceRequest.decode(raw))
			: normalizeRequest(ExportTraceServiceRequest.decode(raw));
	} catch (e) {
		log(`request ${nRequests}: undecodable body (${body.length} bytes): ${e.message}`);
		return reply(res, 400, Buffer.from(`cannot decode: ${e.message}\n`));
	}
	if (status < 200 || status > 299) {
		log(`request ${nRequests}: ${spans.length} ${logs ? 'log record' : 'span'}(s), ` +
			`answering ${status} (--status)`);
		return reply(res, status, Buffer.from(`status ${status} requested\n`));
	}
	appendSpans(logs ? opts['logs-out'] : opts.out, spans);
	const client = tls ? clientText(req.socket.getPeerCertificate()) : '';
	log(`request ${nRequests}: ${spans.length} ${logs ? 'log record' : 'span'}(s)` +
		`${client ? ` (${client})` : ''}`);
	reply(res, status, logs ? okLogsBody : okBody, 'application/x-protobuf');
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
		if (size <= MAX_BODY) handle(req, res, Buffer.concat(chunks));
	});
}

const server = tls
	? https.createServer({
		cert: tls.cert, key: tls.key, ca: tls.clientCa || undefined,
		requestCert: tls.clientCa !== null, rejectUnauthorized: tls.clientCa !== null,
	}, onRequest)
	: http.createServer(onRequest);
if (tls) server.on('tlsClientError', (e) => log(`TLS handshake failed: ${e.message}`));

server.listen(0, '127.0.0.1', () => {
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
