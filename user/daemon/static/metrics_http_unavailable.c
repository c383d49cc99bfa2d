/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Stands in for user/daemon/metrics_http.c in the fully static build (make
 * static), which has no libmicrohttpd: --metrics-address is refused with a
 * clear error at start-up, before anything is bound.
 */
#include <unistd.h>

#include "base/diag.h"
#include "daemon/metrics_http.h"

#define UNAVAILABLE "this static build has no HTTP server; use the regular build"

int kt_metrics_listen(const struct kt_metrics_addr *a, char *bound, size_t boundlen, char *why,
		      size_t whylen)
{
	(void)a;
	(void)bound;
	(void)boundlen;
	return kt_errf(why, whylen, UNAVAILABLE);
}

struct kt_metrics_http *kt_metrics_http_start(int fd)
{
	close(fd);
	kt_err("--metrics-address: " UNAVAILABLE);
	return NULL;
}

void kt_metrics_http_stop(struct kt_metrics_http *m)
{
	(void)m;
}

void kt_metrics_http_let_go(struct kt_metrics_http *m)
{
	(void)m;
}
