/* SPDX-License-Identifier: Apache-2.0 */
#include "daemon/broker_discovery.h"

#include <stdio.h>
#include <stdlib.h>

#include "base/diag.h"

struct kt_broker_disc {
	struct kt_discovery *disc;
	bool sink;
	struct kt_listeners *listeners;
	struct kt_bchan *ch;
};

static void on_discovery(const struct kt_disc_event *e, void *ctx)
{
	struct kt_broker_disc *d = ctx;
	char err[KT_PATH_MAX + 200];

	switch (e->type) {
	case KT_DISC_SANDBOX_UP:
	case KT_DISC_SANDBOX_UPDATE:
		kt_bmsg_sandbox(&d->ch->m, &e->meta);
		kt_bchan_send(d->ch, -1);
		break;
	case KT_DISC_SANDBOX_DOWN:
		kt_bmsg_text(&d->ch->m, KT_BMSG_GONE, 0, e->meta.id);
		kt_bchan_send(d->ch, -1);
		break;
	case KT_DISC_LISTEN:
		if (d->sink && kt_listeners_bind(d->listeners, e->path, false, e->port, err,
						 sizeof(err)))
			kt_warn("sandbox %s: %s", e->meta.id, err);
		break;
	case KT_DISC_UNLISTEN:
		if (d->sink)
			kt_listeners_unbind(d->listeners, e->path);
		break;
	}
}

struct kt_broker_disc *kt_broker_disc_start(const struct kt_discovery_config *cfg, bool sink,
					    struct kt_listeners *l, struct kt_bchan *ch, char *err,
					    size_t errlen)
{
	struct kt_broker_disc *d = calloc(1, sizeof(*d));
	if (!d) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	d->sink = sink;
	d->listeners = l;
	d->ch = ch;
	d->disc = kt_discovery_new(cfg, on_discovery, d, err, errlen);
	if (!d->disc) {
		free(d);
		return NULL;
	}
	kt_discovery_scan(d->disc);
	return d;
}

int kt_broker_disc_fd(const struct kt_broker_disc *d)
{
	return kt_discovery_fd(d->disc);
}

void kt_broker_disc_dispatch(struct kt_broker_disc *d)
{
	kt_discovery_dispatch(d->disc);
}

void kt_broker_disc_tick(struct kt_broker_disc *d, uint64_t now_ns)
{
	kt_discovery_tick(d->disc, now_ns);
}

void kt_broker_disc_free(struct kt_broker_disc *d)
{
	if (!d)
		return;
	kt_discovery_free(d->disc);
	free(d);
}
