/* SPDX-License-Identifier: Apache-2.0 */
/*
 * google.rpc.Code: the status codes of gRPC and of ttrpc (which carries
 * google.rpc.Status), and their names. Used for the status of the RPC spans
 * the host makes and for a collector's answers to OTLP/gRPC.
 */
#ifndef KT_GRPC_CODE_H
#define KT_GRPC_CODE_H

enum kt_grpc_code {
	KT_GRPC_OK = 0,
	KT_GRPC_CANCELLED = 1,
	KT_GRPC_UNKNOWN = 2,
	KT_GRPC_INVALID_ARGUMENT = 3,
	KT_GRPC_DEADLINE_EXCEEDED = 4,
	KT_GRPC_NOT_FOUND = 5,
	KT_GRPC_ALREADY_EXISTS = 6,
	KT_GRPC_PERMISSION_DENIED = 7,
	KT_GRPC_RESOURCE_EXHAUSTED = 8,
	KT_GRPC_FAILED_PRECONDITION = 9,
	KT_GRPC_ABORTED = 10,
	KT_GRPC_OUT_OF_RANGE = 11,
	KT_GRPC_UNIMPLEMENTED = 12,
	KT_GRPC_INTERNAL = 13,
	KT_GRPC_UNAVAILABLE = 14,
	KT_GRPC_DATA_LOSS = 15,
	KT_GRPC_UNAUTHENTICATED = 16,
};

/* "OK", "NOT_FOUND", ...; "?" for a code out of range. */
const char *kt_grpc_code_name(int code);

#endif
