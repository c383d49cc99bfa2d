/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The daemon's disk spool (--spool-dir, --spool-size; exporters/spool.h):
 * opened while the daemon is still root, the directory and what an earlier
 * run left in it handed to --user, who writes it once privileges are
 * dropped. Only the OTLP exporters send from it: with the console or file
 * exporter, --spool-dir is a mistake of the command line.
 */
#ifndef KT_SPOOL_DIR_H
#define KT_SPOOL_DIR_H

#include <stdbool.h>

#include "daemon/config.h"
#include "exporters/spool.h"

/*
 * The spool cfg asks for, in *out (NULL when --spool-dir is not given).
 * false, with the reason logged, when it cannot be had: the daemon does not
 * start then (it would lose what the operator asked it to keep).
 */
bool kt_spool_dir_open(const struct kt_config *cfg, struct kt_spool **out);

#endif
