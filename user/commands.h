/* SPDX-License-Identifier: Apache-2.0 */
/* The subcommands; each returns the process exit status. */
#ifndef KT_COMMANDS_H
#define KT_COMMANDS_H

#include "config.h"
#include "exporter.h"

int kt_cmd_run(const struct kt_config *cfg);
int kt_cmd_decode(const struct kt_config *cfg);

/* The exporter the configuration asks for; NULL with an error logged. */
struct kt_exporter *kt_exporter_from_config(const struct kt_config *cfg, const char **what);

#endif
