// SPDX-License-Identifier: Apache-2.0
// JSON parser that keeps numbers as their source text (class Num), so that
// 64-bit integers, u128 ids and exact doubles survive. Strings, objects and
// arrays come out as usual.
'use strict';

class Num {
	constructor(raw) {
		this.raw = raw;
	}

	isInteger() {
		return /^-?(0|[1-9][0-9]*)$/.test(this.raw);
	}

	bigint() {
		if (!this.isInteger()) throw new Error(`integer expected, got ${this.raw}`);
		return BigInt(this.raw);
	}

	// Nearest double to the decimal text (JS parsing is correctly rounded).
	double() {
		return Number(this.raw);
	}
}

function parse(text, source) {
	let i = 0;
	const err = (msg) => {
		throw new SyntaxError(`${source || 'JSON'}: ${msg} at offset ${i}`);
	};
	const ws = () => {
		while (i < text.length && ' \t\r\n'.includes(text[i])) i++;
	};
	const value = () => {
		ws();
		const c = text[i];
		if (c === '{') {
			i++;
			const o = {};
			ws();
			if (text[i] === '}') {
				i++;
				return o;
			}
			for (;;) {
				ws();
				if (text[i] !== '"') err('key expected');
				const k = string();
				ws();
				if (text[i++] !== ':') err('":" expected');
				o[k] = value();
				ws();
				if (text[i] === ',') {
					i++;
					continue;
				}
				if (text[i++] !== '}') err('"}" expected');
				return o;
			}
		}
		if (c === '[') {
			i++;
			const a = [];
			ws();
			if (text[i] === ']') {
				i++;
				return a;
			}
			for (;;) {
				a.push(value());
				ws();
				if (text[i] === ',') {
					i++;
					continue;
				}
				if (text[i++] !== ']') err('"]" expected');
				return a;
			}
		}
		if (c === '"') return string();
		for (const [lit, v] of [['true', true], ['false', false], ['null', null]]) {
			if (text.startsWith(lit, i)) {
				i += lit.length;
				return v;
			}
		}
		const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(text.slice(i, i + 400));
		if (!m || !m[0]) err('value expected');
		i += m[0].length;
		return new Num(m[0]);
	};
	// Delegates escapes to JSON.parse on the exact string token.
	const string = () => {
		const start = i++;
		while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
		if (i >= text.length) err('unterminated string');
		i++;
		return JSON.parse(text.slice(start, i));
	};
	const v = value();
	ws();
	if (i !== text.length) err('trailing data');
	return v;
}

module.exports = { parse, Num };
