// SPDX-License-Identifier: Apache-2.0
//
// Reading what tests/receiver/otlpjson.js and receiver.js write: one
// normalized span or log record per line, attributes as {key, value: {type,
// value}}. For the checkers.
'use strict';

const fs = require('fs');

// Every record of a JSON-lines file; none when the file does not exist.
function readRecords(file) {
	return fs.existsSync(file)
		? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l))
		: [];
}

const attr = (list, key) => (list || []).find((a) => a.key === key);
// A string attribute's value, else undefined.
function str(list, key) {
	const a = attr(list, key);
	return a && a.value.type === 'string' ? a.value.value : undefined;
}
// An integer attribute's value as a Number, else undefined.
function int(list, key) {
	const a = attr(list, key);
	return a && a.value.type === 'i64' ? Number(a.value.value) : undefined;
}

module.exports = { readRecords, str, int };
