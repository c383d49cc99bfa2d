// SPDX-License-Identifier: Apache-2.0
// Minimal "--name value" / positional argument parser shared by the scripts.
'use strict';

function parseArgs(argv, spec, usage) {
	const opts = {};
	const positional = [];
	for (let i = 0; i < argv.length; i++) {
		const a = argv[i];
		if (!a.startsWith('--')) {
			positional.push(a);
			continue;
		}
		const name = a.slice(2);
		if (!(name in spec) || i + 1 >= argv.length) {
			process.stderr.write(`${usage}\n`);
			process.exit(2);
		}
		opts[name] = argv[++i];
	}
	for (const [name, required] of Object.entries(spec)) {
		if (required && opts[name] === undefined) {
			process.stderr.write(`missing --${name}\n${usage}\n`);
			process.exit(2);
		}
	}
	return { opts, positional };
}

module.exports = { parseArgs };
