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
// Each line is checked against the OTLP/JSON shape and built with the
// upstream root (lib/otlp-json.js, shared with receiver.js's http/json),
// then normalized. Any deviation is reported with its line and path and
// makes the script exit 1.
'use strict';

const fs = require('fs');
const { parseArgs } = require('./lib/args');
const { normalizeRequest, normalizeLogsRequest } = require('./lib/normalize');
const { FormatError, tracesFromJson, logsFromJson } = require('./lib/otlp-json');

const USAGE = 'usage: otlpjson.js FILE --out spans.jsonl [--logs-out logs.jsonl]';
const { opts, positional } = parseArgs(process.argv.slice(2), { out: true, 'logs-out': false }, USAGE);
if (positional.length !== 1) {
	process.stderr.write(`${USAGE}\n`);
	process.exit(2);
}

// A logs line: only with --logs-out.
function logsLine(parsed) {
	if (!opts['logs-out']) throw new FormatError('$: a logs request (resourceLogs) needs --logs-out');
	return normalizeLogsRequest(logsFromJson(parsed));
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
		for (const s of normalizeRequest(tracesFromJson(parsed))) {
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
