/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "log.h"

#ifndef KT_VERSION
#define KT_VERSION "0.1.0"
#endif

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;
	struct kt_config cfg;

	if (!cmd || strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 ||
	    strcmp(cmd, "-h") == 0) {
		kt_usage(argc > 2 ? argv[2] : NULL, !cmd);
		return cmd ? 0 : 2;
	}
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("katatrace-bpf %s\n", KT_VERSION);
		return 0;
	}
	if (strcmp(cmd, "run") != 0 && strcmp(cmd, "decode") != 0) {
		fprintf(stderr, "katatrace-bpf: unknown command '%s'\n", cmd);
		kt_usage(NULL, 1);
		return 2;
	}
	kt_config_defaults(&cfg);
	kt_config_parse(&cfg, cmd, argc - 1, argv + 1);
	return strcmp(cmd, "run") == 0 ? kt_cmd_run(&cfg) : kt_cmd_decode(&cfg);
}
