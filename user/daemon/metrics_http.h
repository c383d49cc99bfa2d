/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The metrics server (--metrics-address): GET or HEAD /metrics (the
 * exposition of base/metrics.h), /healthz (200 while the daemon's loop
 * ticks, else 503) and /readyz (200 once the BPF programs are attached, or
 * the socket capture set up, and the exporter runs; 503 before and once
 * shutdown has begun).
 *
 * HTTP is libmicrohttpd's (Debian's libmicrohttpd), in a thread of its
 * own: a scrape never waits for the capture loop, nor the loop for a
 * scraper. That thread reads only atomics (base/stats.h, base/metrics.h).
 * Whatever a peer sends, the server holds at most 32 connections (more are
 * closed at once), 16 KiB of memory for each, and closes one idle for 10
 * s; each request is answered as soon as its headers are in, and its
 * connection closed after the answer; a request with a body, another
 * method or another path is refused, and every refusal (and every
 * connection closed without a request to answer) is counted
 * (katatrace_http_bad_requests_total).
 */
#ifndef KT_METRICS_HTTP_H
#define KT_METRICS_HTTP_H

#include <stddef.h>

#include "daemon/metrics_addr.h"

struct kt_metrics_http;

/*
 * A listening TCP socket (close-on-exec, non-blocking) at the address,
 * bound while the daemon is still root; what it is bound to in bound
 * ("127.0.0.1:2112", "[::]:2112"). Returns the socket, or -1 with why.
 */
int kt_metrics_listen(const struct kt_metrics_addr *a, char *bound, size_t boundlen, char *why,
		      size_t whylen);

/*
 * Serves on fd, a listening socket (daemon/metrics_addr.h), which it takes.
 * Starts a thread: call it once privileges are dropped. NULL (error
 * logged) when it cannot: then the caller's start-up fails.
 */
struct kt_metrics_http *kt_metrics_http_start(int fd);
/* Closes the socket and every connection, and joins the thread. NULL: nothing. */
void kt_metrics_http_stop(struct kt_metrics_http *m);
/* The same for a daemon taken over: the listening socket, handed on, stays open. */
void kt_metrics_http_let_go(struct kt_metrics_http *m);

#endif
