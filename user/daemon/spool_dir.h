/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The daemon's disk spool (--spool-dir, --spool-size; exporters/spool.h):
 * opened while the daemon is still root, the directory and what an earlier
 * run left in it handed to --user, who writes it once privileges are
 * dropped. Only the OTLP exporters send from it: with the console or file
 * exporter, which wait for no collector, --spool-dir is not used (a
 * warning), so that a unit that always asks for one runs without a
 * collector too.
 */
#ifndef KT_SPOOL_DIR_H
#define KT_SPOOL_DIR_H

#include <stdbool.h>

#include "daemon/config.h"
#include "exporters/spool.h"

/*
 * The spool cfg asks for, in *out (NULL when --spool-dir is not given).
 * false, with the reason logged, when it cannot be opened at all (not a
 * directory, a symbolic link): the daemon does not start then. One that opens but cannot be given to --user
 * (a read-only disk) is used as it is, with a warning: what it holds is
 * sent, and what cannot be stored goes from memory, counted.
 */
bool kt_spool_dir_open(const struct kt_config *cfg, struct kt_spool **out);

#endif
