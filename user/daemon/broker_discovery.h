/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sandbox discovery hosted in the broker: it runs there because Kata's
 * runtime directories, persist.json and the OCI bundles are root's, and
 * because in sink mode a sandbox's listener has to be bound in its
 * root-owned directory before its guest boots.
 *
 * What discovery (sandbox/discovery.h) finds goes to the daemon at once:
 * a sandbox that appears or whose description changes as a SANDBOX
 * message with the description, one that is gone as GONE with its id
 * (daemon/broker_wire.h). In sink mode a listener discovery asks for is
 * bound through the broker's listener set (which announces it), and one
 * it no longer wants is dropped there; a listener that cannot be bound is
 * a warning naming the sandbox, not an error. Without sink mode those
 * requests are ignored.
 *
 * kt_broker_disc_start() reports the sandboxes that exist already before
 * it returns; then poll kt_broker_disc_fd() and call
 * kt_broker_disc_dispatch() when it is readable, kt_broker_disc_tick()
 * every second or so.
 */
#ifndef KT_BROKER_DISCOVERY_H
#define KT_BROKER_DISCOVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/broker_listen.h"
#include "daemon/broker_wire.h"
#include "sandbox/discovery.h"

struct kt_broker_disc;

/*
 * Starts discovery with cfg, reporting on ch; listeners are bound in l
 * when sink. NULL with why in err when discovery cannot start.
 */
struct kt_broker_disc *kt_broker_disc_start(const struct kt_discovery_config *cfg, bool sink,
					    struct kt_listeners *l, struct kt_bchan *ch, char *err,
					    size_t errlen);
int kt_broker_disc_fd(const struct kt_broker_disc *d);
void kt_broker_disc_dispatch(struct kt_broker_disc *d);
void kt_broker_disc_tick(struct kt_broker_disc *d, uint64_t now_ns);
void kt_broker_disc_free(struct kt_broker_disc *d);

#endif
