/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Stands in for exporters/otlp_http.c in the fully static build (make
 * static), which has no libcurl: OTLP/HTTP is refused with a clear error;
 * the file and console exporters work as usual.
 */
#include "exporters/exporter.h"
#include "base/diag.h"

struct kt_exporter *kt_exporter_otlp_http_new(const struct kt_otlp_http_cfg *cfg)
{
	kt_err("OTLP/HTTP to %s: this static build has no HTTP client; "
	       "use --output FILE or the regular build",
	       cfg->url);
	return NULL;
}
