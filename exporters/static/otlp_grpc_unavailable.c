/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Stands in for exporters/otlp_grpc.c in the fully static build (make
 * static), which has no libcurl and so no HTTP/2 client: OTLP/gRPC is
 * refused with a clear error at start-up; the file and console exporters
 * work as usual.
 */
#include "exporters/exporter.h"
#include "base/diag.h"

struct kt_exporter *kt_exporter_otlp_grpc_new(const struct kt_otlp_grpc_cfg *cfg)
{
	kt_err("OTLP/gRPC to %s is not available in the static build (no HTTP/2 client); "
	       "use --output FILE or the regular build",
	       cfg->endpoint);
	return NULL;
}
