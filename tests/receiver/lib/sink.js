// SPDX-License-Identifier: Apache-2.0
// What the HTTP and gRPC receivers share: the port file, the span lines and
// the log.
'use strict';

const fs = require('fs');

// Writes the port atomically: a reader never sees a half-written number.
function writePortFile(file, port) {
	const tmp = `${file}.tmp${process.pid}`;
	fs.writeFileSync(tmp, `${port}\n`);
	fs.renameSync(tmp, file);
}

// Creates the span file (empty) so that readers find it from the start.
function openSpanFile(file) {
	fs.closeSync(fs.openSync(file, 'a'));
}

// Normalized spans -> one JSON line each, on disk before the caller answers.
function appendSpans(file, spans) {
	if (spans.length) fs.appendFileSync(file, spans.map((s) => `${JSON.stringify(s)}\n`).join(''));
}

function logger(name) {
	return (msg) => process.stderr.write(`${name}: ${msg}\n`);
}

module.exports = { writePortFile, openSpanFile, appendSpans, logger };
