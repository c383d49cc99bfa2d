/* SPDX-License-Identifier: Apache-2.0 */
/* The subcommands; each returns the process exit status. */
#ifndef KT_COMMANDS_H
#define KT_COMMANDS_H

#include "daemon/config.h"
#include "exporters/exporter.h"

int kt_cmd_run(const struct kt_config *cfg);
/*
 * run's exit status after a fault it cannot serve through (its broker
 * died): everything captured was flushed; a supervisor should restart it.
 * 1 is a failure to start, 2 a bad command line.
 */
#define KT_EXIT_FAULT 3
int kt_cmd_decode(const struct kt_config *cfg);
int kt_cmd_probe(const struct kt_config *cfg);
/* probe list, probe stop ID: questions to the daemon (cmd_probe_ctl.c). */
int kt_cmd_probe_list(const struct kt_config *cfg);
int kt_cmd_probe_stop(const struct kt_config *cfg);

struct kt_exporter_choice {
	enum kt_exporter_kind kind;  /* never KT_EXPORTER_DEFAULT */
	char *endpoint;              /* OTLP: the HTTP URL or the gRPC target (malloc'ed) */
	const char *endpoint_source; /* "--otlp-endpoint", the variable, "the default endpoint" */
	/* OTLP/HTTP: OTLP/JSON bodies (http/json) for spans, and for log records. */
	bool json;
	bool logs_json;
};

/*
 * Which exporter the configuration and the environment ask for, and its
 * endpoint (rules: user/daemon/exporter_select.c). 0, or -1 with an error logged;
 * the caller frees out->endpoint either way.
 */
int kt_exporter_resolve(const struct kt_config *cfg, struct kt_exporter_choice *out);

/* The exporter the configuration asks for; NULL with an error logged. */
struct kt_exporter *kt_exporter_from_config(const struct kt_config *cfg, const char **what);

#endif
