/* SPDX-License-Identifier: Apache-2.0 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "daemon/commands.h"
#include "base/diag.h"

/*
 * kata-trace-forwarder's command lines work unchanged: no command (or the
 * binary installed under that name) means "run" with its defaults.
 */
static bool forwarder_style(int argc, char **argv)
{
	const char *base = strrchr(argv[0], '/');
	base = base ? base + 1 : argv[0];
	if (strcmp(base, "kata-trace-forwarder") == 0)
		return true;
	return argc == 1 || (argv[1][0] == '-' && strcmp(argv[1], "--help") != 0 &&
			     strcmp(argv[1], "-h") != 0 && strcmp(argv[1], "--version") != 0);
}

/*
 * Once the command line is parsed (its usage errors stay text, for whoever
 * typed it): with --log-format json, what is printed on stderr with stdio
 * (summaries) becomes JSON lines as well, so that stderr holds nothing else.
 */
static void json_stderr(void)
{
	if (kt_log_format != KT_LOG_FORMAT_JSON)
		return;
	FILE *f = kt_diag_json_stream();
	if (f)
		stderr = f;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;
	struct kt_config cfg;

	if (forwarder_style(argc, argv)) {
		kt_config_defaults(&cfg);
		cfg.forwarder = true;
		cfg.default_otlp_endpoint = KT_FORWARDER_OTLP_ENDPOINT;
		/* The forwarder relays spans as the agent made them: no sandbox traces. */
		cfg.collate = false;
		cfg.complete_traces = false;
		kt_diag_set_component("daemon");
		kt_config_parse(&cfg, "run", argc, argv);
		json_stderr();
		return kt_cmd_run(&cfg);
	}
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 ||
	    strcmp(cmd, "-h") == 0) {
		kt_usage(argc > 2 ? argv[2] : NULL, 0);
		return 0;
	}
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("katatrace-bpf %s\n", KT_VERSION);
		return 0;
	}
	if (strcmp(cmd, "run") != 0 && strcmp(cmd, "decode") != 0 && strcmp(cmd, "probe") != 0) {
		fprintf(stderr, "katatrace-bpf: unknown command '%s'\n", cmd);
		kt_usage(NULL, 1);
		return 2;
	}
	kt_config_defaults(&cfg);
	kt_diag_set_component(strcmp(cmd, "run") == 0 ? "daemon" : cmd);
	kt_config_parse(&cfg, cmd, argc - 1, argv + 1);
	json_stderr();
	if (strcmp(cmd, "probe") == 0)
		return kt_cmd_probe(&cfg);
	return strcmp(cmd, "run") == 0 ? kt_cmd_run(&cfg) : kt_cmd_decode(&cfg);
}
