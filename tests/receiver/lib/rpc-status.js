// SPDX-License-Identifier: Apache-2.0
// google.rpc.Status with a google.rpc.RetryInfo detail, as a collector puts
// it in grpc-status-details-bin (the OTLP specification: a server that wants
// the client to wait says how long there). Defined here with protobufjs from
// googleapis' field numbers, sharing nothing with the C decoder under test.
'use strict';

const protobuf = require('protobufjs');

const root = protobuf.Root.fromJSON({
	nested: {
		google: {
			nested: {
				protobuf: {
					nested: {
						Any: { fields: { type_url: { type: 'string', id: 1 }, value: { type: 'bytes', id: 2 } } },
						Duration: { fields: { seconds: { type: 'int64', id: 1 }, nanos: { type: 'int32', id: 2 } } },
					},
				},
				rpc: {
					nested: {
						Status: {
							fields: {
								code: { type: 'int32', id: 1 },
								message: { type: 'string', id: 2 },
								details: { rule: 'repeated', type: 'google.protobuf.Any', id: 3 },
							},
						},
						RetryInfo: { fields: { retry_delay: { type: 'google.protobuf.Duration', id: 1 } } },
					},
				},
			},
		},
	},
});

const Status = root.lookupType('google.rpc.Status');
const RetryInfo = root.lookupType('google.rpc.RetryInfo');

// The bytes of a google.rpc.Status {code, message} whose one detail is a
// RetryInfo of ms milliseconds.
function statusWithRetryDelay(code, message, ms) {
	const delay = { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 };
	const value = RetryInfo.encode(RetryInfo.create({ retry_delay: delay })).finish();
	const status = Status.create({
		code,
		message,
		details: [{ type_url: 'type.googleapis.com/google.rpc.RetryInfo', value }],
	});
	return Buffer.from(Status.encode(status).finish());
}

module.exports = { statusWithRetryDelay };
