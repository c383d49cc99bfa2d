/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A takeover through systemd's file descriptor store (docs/takeover.md,
 * "systemd"): with --fd-store, a daemon told to stop puts what it would
 * hand a new daemon into the service's store instead (each descriptor
 * named KT_STORE_FD_PREFIX<index>, then a memfd named KT_STORE_STATE
 * holding the offer and the connections' state), and the service's next
 * start, given them back by systemd, takes over from them. So
 * `systemctl restart` and a restart after a crash close no agent
 * connection. The memfd comes last: without it the rest is not used.
 */
#ifndef KT_TAKEOVER_STORE_H
#define KT_TAKEOVER_STORE_H

#include <stddef.h>

#include "daemon/takeover.h"

#define KT_STORE_FD_PREFIX "katatrace-fd-"
#define KT_STORE_STATE "katatrace-handover"

/* Puts h into the store. 0, or -1 with why in err (part of it may be stored: unused then). */
int kt_handover_to_store(const struct kt_handover *h, char *err, size_t errlen);
/*
 * What the store gave this process at start, into out: 1 taken, 0 nothing
 * of this daemon there, -1 with why in err (what was passed is closed).
 */
int kt_handover_from_store(struct kt_handover *out, char *err, size_t errlen);

#endif
