// SPDX-License-Identifier: Apache-2.0
// TLS options the HTTP and gRPC receivers share:
//   --tls-cert FILE --tls-key FILE   serve TLS with this PEM certificate (chain) and key
//   --tls-client-ca FILE             also require a client certificate issued by this CA
'use strict';

const fs = require('fs');

const TLS_SPEC = { 'tls-cert': false, 'tls-key': false, 'tls-client-ca': false };
const TLS_USAGE = '[--tls-cert FILE --tls-key FILE [--tls-client-ca FILE]]';

// null without TLS options, else { cert, key, clientCa } (Buffers; clientCa may be null).
// Calls usage(message) on an incomplete set.
function tlsFiles(opts, usage) {
	const cert = opts['tls-cert'], key = opts['tls-key'], ca = opts['tls-client-ca'];
	if (cert === undefined && key === undefined) {
		if (ca !== undefined) usage('--tls-client-ca needs --tls-cert and --tls-key');
		return null;
	}
	if (cert === undefined || key === undefined) usage('--tls-cert and --tls-key go together');
	const read = (f) => {
		try {
			return fs.readFileSync(f);
		} catch (e) {
			return usage(`cannot read ${f}: ${e.message}`);
		}
	};
	return { cert: read(cert), key: read(key), clientCa: ca === undefined ? null : read(ca) };
}

// How the server listens, for its start-up log line.
function tlsDescription(tls) {
	if (!tls) return 'plain text';
	return tls.clientCa ? 'TLS, client certificate required' : 'TLS';
}

// "client CN=..." for a verified peer certificate, '' otherwise.
function clientText(cert) {
	return cert && cert.subject && cert.subject.CN ? `client CN=${cert.subject.CN}` : '';
}

module.exports = { TLS_SPEC, TLS_USAGE, tlsFiles, tlsDescription, clientText };
