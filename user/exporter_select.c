/* SPDX-License-Identifier: Apache-2.0 */
/* Chooses and creates the exporter from the command line and environment. */
#include <stdio.h>
#include <stdlib.h>

#include "commands.h"
#include "log.h"

struct kt_exporter *kt_exporter_from_config(const struct kt_config *cfg, const char **what)
{
	enum kt_exporter_kind kind = cfg->exporter;
	char *url = NULL;

	if (kind == KT_EXPORTER_DEFAULT || kind == KT_EXPORTER_OTLP_HTTP)
		url = kt_otlp_http_resolve_url(cfg->otlp_endpoint);
	if (kind == KT_EXPORTER_DEFAULT)
		kind = url ? KT_EXPORTER_OTLP_HTTP : cfg->output ? KT_EXPORTER_FILE
								  : KT_EXPORTER_CONSOLE;
	struct kt_exporter *e = NULL;
	switch (kind) {
	case KT_EXPORTER_OTLP_HTTP: {
		if (!url) {
			kt_err("--exporter otlp-http needs --otlp-endpoint or "
			       "OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT");
			return NULL;
		}
		/* NULL headers / 0 timeout: the exporter reads the OTEL_* variables. */
		struct kt_otlp_http_cfg hc = { .url = url, .headers = cfg->otlp_headers };
		e = kt_exporter_otlp_http_new(&hc);
		static char desc[512];
		snprintf(desc, sizeof(desc), "OTLP/HTTP %s", url);
		*what = desc;
		break;
	}
	case KT_EXPORTER_FILE:
		e = kt_exporter_file_new(cfg->output);
		*what = cfg->output;
		break;
	default:
		e = kt_exporter_console_new(stdout);
		*what = "console";
		break;
	}
	free(url);
	if (!e)
		kt_err("cannot create the %s exporter", *what ? *what : "requested");
	return e;
}
