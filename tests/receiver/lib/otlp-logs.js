// SPDX-License-Identifier: Apache-2.0
// ExportLogsServiceRequest for the receivers. The pinned upstream package
// generates no protobufjs root for logs (it serializes them with its own
// writer), so the messages are declared here from the OTLP specification,
// independently of exporters/proto, and proven at load against upstream:
// a request made by @opentelemetry/otlp-transformer's own logs serializer
// must decode here to exactly what it was made from.
'use strict';

const protobuf = require('protobufjs');
const { serializeLogsExportRequest } = require(
	'@opentelemetry/otlp-transformer/build/src/logs/protobuf/logs-serializer.js');
const { Long } = require('./otlp');

const SCHEMA = `
syntax = "proto3";
package otlp.logs;
message AnyValue {
  oneof value {
    string string_value = 1; bool bool_value = 2; int64 int_value = 3;
    double double_value = 4; ArrayValue array_value = 5; KeyValueList kvlist_value = 6;
    bytes bytes_value = 7;
  }
}
message ArrayValue { repeated AnyValue values = 1; }
message KeyValueList { repeated KeyValue values = 1; }
message KeyValue { string key = 1; AnyValue value = 2; }
message InstrumentationScope {
  string name = 1; string version = 2; repeated KeyValue attributes = 3;
  uint32 dropped_attributes_count = 4;
}
message Resource { repeated KeyValue attributes = 1; uint32 dropped_attributes_count = 2; }
message LogRecord {
  fixed64 time_unix_nano = 1; fixed64 observed_time_unix_nano = 11;
  int32 severity_number = 2; string severity_text = 3; AnyValue body = 5;
  repeated KeyValue attributes = 6; uint32 dropped_attributes_count = 7;
  fixed32 flags = 8; bytes trace_id = 9; bytes span_id = 10; string event_name = 12;
}
message ScopeLogs { InstrumentationScope scope = 1; repeated LogRecord log_records = 2; string schema_url = 3; }
message ResourceLogs { Resource resource = 1; repeated ScopeLogs scope_logs = 2; string schema_url = 3; }
message ExportLogsServiceRequest { repeated ResourceLogs resource_logs = 1; }
message ExportLogsPartialSuccess { int64 rejected_log_records = 1; string error_message = 2; }
message ExportLogsServiceResponse { ExportLogsPartialSuccess partial_success = 1; }
`;

const root = protobuf.parse(SCHEMA, { keepCase: false }).root;
const ExportLogsServiceRequest = root.lookupType('otlp.logs.ExportLogsServiceRequest');
const ExportLogsServiceResponse = root.lookupType('otlp.logs.ExportLogsServiceResponse');

// Upstream's encoding of a record with every field we use, decoded here.
function selfCheck() {
	const record = {
		hrTime: [1700000000, 123456789],
		hrTimeObserved: [1700000001, 5],
		severityNumber: 18,
		severityText: 'crit',
		body: 'msg \u00e9',
		attributes: { 'syslog.facility': 3, 'syslog.appname': 'a', 'katatrace.log.truncated': true },
		droppedAttributesCount: 0,
		resource: { attributes: { 'service.name': 'kata-agent' } },
		instrumentationScope: { name: 'kata-journal' },
	};
	const req = ExportLogsServiceRequest.decode(serializeLogsExportRequest([record]));
	const rl = req.resourceLogs[0];
	const l = rl.scopeLogs[0].logRecords[0];
	const u64 = (v) => Long.fromValue(v).toUnsigned().toString();
	const attrs = l.attributes.map((kv) => `${kv.key}=${JSON.stringify(kv.value.toJSON())}`).join(' ');
	const ok = u64(l.timeUnixNano) === '1700000000123456789' &&
		u64(l.observedTimeUnixNano) === '1700000001000000005' && l.severityNumber === 18 &&
		l.severityText === 'crit' && l.body.stringValue === 'msg \u00e9' &&
		attrs === 'syslog.facility={"intValue":"3"} syslog.appname={"stringValue":"a"} ' +
			'katatrace.log.truncated={"boolValue":true}' &&
		rl.resource.attributes[0].key === 'service.name' &&
		rl.scopeLogs[0].scope.name === 'kata-journal';
	if (!ok)
		throw new Error(`logs schema disagrees with upstream's serializer: ${JSON.stringify(req.toJSON())}`);
}
selfCheck();

module.exports = { ExportLogsServiceRequest, ExportLogsServiceResponse };
