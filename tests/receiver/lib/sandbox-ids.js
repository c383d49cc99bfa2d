// SPDX-License-Identifier: Apache-2.0
// The trace id and root span id katatrace-bpf gives a sandbox, computed from
// the description in docs/hypervisor-spans.md (not from its code): FNV-1a 64
// over the sandbox id's bytes from the offset basis XOR a salt, plus the
// salt, through splitmix64's finaliser; 0 becomes 1. Salts: "kata" and
// "trace" for the two halves of the trace id, "sandbox" for the span id.
'use strict';

const M = (1n << 64n) - 1n;

function mix(x) {
	x ^= x >> 30n;
	x = (x * 0xbf58476d1ce4e5b9n) & M;
	x ^= x >> 27n;
	x = (x * 0x94d049bb133111ebn) & M;
	return x ^ (x >> 31n);
}

function derive(id, salt) {
	let h = 0xcbf29ce484222325n ^ salt;
	for (const b of Buffer.from(id)) {
		h ^= BigInt(b);
		h = (h * 0x100000001b3n) & M;
	}
	const v = mix((h + salt) & M);
	return (v || 1n).toString(16).padStart(16, '0');
}

const salt = (s) => BigInt(`0x${Buffer.from(s).toString('hex')}`);

// { traceId: 32 hex, rootSpanId: 16 hex }
function sandboxIds(id) {
	return {
		traceId: derive(id, salt('kata')) + derive(id, salt('trace')),
		rootSpanId: derive(id, salt('sandbox')),
	};
}

module.exports = { sandboxIds };
