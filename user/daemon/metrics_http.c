/* SPDX-License-Identifier: Apache-2.0 */
#include "daemon/metrics_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "base/clock.h"
#include "base/diag.h"
#include "base/metrics.h"
#include "base/quiet_thread.h"
#include "base/stats.h"

/*
 * What peers may take (metrics_http.h). No limit per address: with one,
 * libmicrohttpd 0.9.75 was seen to refuse an address for seconds after a
 * burst of connections from it had closed (tests/unit/test_metrics_http.c),
 * which would shut out a scraper sharing that address.
 */
#define MAX_CONNECTIONS 32
#define CONNECTION_MEMORY (16u << 10)
#define IDLE_TIMEOUT_S 10
#define BACKLOG 64

struct kt_metrics_http {
	struct MHD_Daemon *mhd;
};

/* Per connection: how many of its requests were answered. */
struct conn_note {
	unsigned answered;
};

static void bump(uint64_t *counter)
{
	__atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	(void)cls;
	(void)c;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		*socket_context = calloc(1, sizeof(struct conn_note));
		return;
	}
	struct conn_note *n = *socket_context;
	/* Malformed, too large, too slow or empty: nothing of it was answered. */
	if (n && !n->answered)
		bump(&kt_stats.http_bad_requests[KT_HTTP_BAD_UNANSWERED]);
	free(n);
	*socket_context = NULL;
}

static void note_answered(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct conn_note *n = ci ? ci->socket_context : NULL;
	if (n)
		n->answered++;
}

/* Queues a response whose body is a constant or malloc'ed text (then freed). */
static enum MHD_Result answer(struct MHD_Connection *c, unsigned status, const char *type,
			      char *body, size_t len, bool must_free, const char *allow)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
		len, body, must_free ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (!r) {
		if (must_free)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	enum MHD_Result ok = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	note_answered(c);
	return ok;
}

static enum MHD_Result text(struct MHD_Connection *c, unsigned status, const char *body)
{
	return answer(c, status, "text/plain; charset=utf-8", (char *)body, strlen(body), false,
		      NULL);
}

static enum MHD_Result refuse(struct MHD_Connection *c, enum kt_http_bad why, unsigned status,
			      const char *body, const char *allow)
{
	bump(&kt_stats.http_bad_requests[why]);
	return answer(c, status, "text/plain; charset=utf-8", (char *)body, strlen(body), false,
		      allow);
}

/* A request that says a body follows. */
static bool has_body(struct MHD_Connection *c)
{
	const char *len = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						      MHD_HTTP_HEADER_CONTENT_LENGTH);
	return MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING) ||
	       (len && strspn(len, "0") != strlen(len));
}

/*
 * Every request is answered at its first call, once its headers are in: a
 * body is never read (a request with one is refused, and libmicrohttpd
 * closes that connection).
 */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size, void **req_cls)
{
	(void)cls;
	(void)version;
	(void)upload_data;
	(void)req_cls;
	if (*upload_data_size) {
		*upload_data_size = 0; /* not reached: answered before the body */
		return MHD_YES;
	}
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return refuse(c, KT_HTTP_BAD_METHOD, MHD_HTTP_METHOD_NOT_ALLOWED,
			      "only GET and HEAD\n", "GET, HEAD");
	if (has_body(c))
		return refuse(c, KT_HTTP_BAD_BODY, MHD_HTTP_BAD_REQUEST, "no body, please\n", NULL);
	if (strcmp(url, "/metrics") == 0) {
		bump(&kt_stats.http_requests[KT_HTTP_METRICS]);
		size_t len = 0;
		char *body = kt_metrics_exposition(&len);
		if (!body)
			return text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory\n");
		return answer(c, MHD_HTTP_OK, KT_PROM_CONTENT_TYPE, body, len, true, NULL);
	}
	if (strcmp(url, "/healthz") == 0) {
		bump(&kt_stats.http_requests[KT_HTTP_HEALTHZ]);
		return kt_metrics_healthy(kt_mono_ns())
			       ? text(c, MHD_HTTP_OK, "ok\n")
			       : text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "the loop does not run\n");
	}
	if (strcmp(url, "/readyz") == 0) {
		bump(&kt_stats.http_requests[KT_HTTP_READYZ]);
		switch (kt_metrics_state()) {
		case KT_RUN_READY:
			return text(c, MHD_HTTP_OK, "ready\n");
		case KT_RUN_STARTING:
			return text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "starting\n");
		case KT_RUN_FAILING: {
			char *why = NULL;
			if (asprintf(&why, "failing: %s\n", kt_metrics_failing_why()) < 0)
				return text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "failing\n");
			return answer(c, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain; charset=utf-8",
				      why, strlen(why), true, NULL);
		}
		case KT_RUN_STOPPING:
			break;
		}
		return text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "shutting down\n");
	}
	return refuse(c, KT_HTTP_BAD_NOT_FOUND, MHD_HTTP_NOT_FOUND,
		      "not found: /metrics, /healthz, /readyz\n", NULL);
}

/* libmicrohttpd's own complaints (a malformed request, a full table): debug lines. */
static void on_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	if (kt_log_level < KT_LOG_DEBUG)
		return;
	char msg[256];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	kt_debug("metrics server: %s", msg);
}

/* The address the socket got, as HOST:PORT. */
static void describe(int fd, char *out, size_t n)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
			inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
			port = ntohs(a->sin6_port);
			snprintf(out, n, "[%s]:%u", host, port);
			return;
		}
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		port = ntohs(a->sin_port);
	}
	snprintf(out, n, "%s:%u", host, port);
}

/* A socket bound to sa and listening, or -1 (errno set). */
static int listen_on(const struct sockaddr *sa, socklen_t len, int family)
{
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	int one = 1, zero = 0;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* [::] takes IPv4 too */
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, sa, len) || listen(fd, BACKLOG)) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int kt_metrics_listen(const struct kt_metrics_addr *a, char *bound, size_t boundlen, char *why,
		      size_t whylen)
{
	int fd = -1;
	if (!a->host[0]) {
		/* every address: IPv6 and IPv4 on one socket, else IPv4 alone */
		struct sockaddr_in6 any6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_ANY_INIT,
					     .sin6_port = htons((uint16_t)atoi(a->port)) };
		fd = listen_on((struct sockaddr *)&any6, sizeof(any6), AF_INET6);
		if (fd < 0 && (errno == EAFNOSUPPORT || errno == EADDRNOTAVAIL)) {
			struct sockaddr_in any4 = { .sin_family = AF_INET,
						    .sin_addr.s_addr = htonl(INADDR_ANY),
						    .sin_port = htons((uint16_t)atoi(a->port)) };
			fd = listen_on((struct sockaddr *)&any4, sizeof(any4), AF_INET);
		}
		if (fd < 0)
			return kt_errf(why, whylen, ":%s: %s", a->port, strerror(errno));
	} else {
		struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
					  .ai_flags = AI_NUMERICSERV | AI_PASSIVE }, *res = NULL;
		int rc = getaddrinfo(a->host, a->port, &hints, &res);
		if (rc)
			return kt_errf(why, whylen, "%s: %s", a->host, gai_strerror(rc));
		int err = EADDRNOTAVAIL;
		for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
			fd = listen_on(ai->ai_addr, ai->ai_addrlen, ai->ai_family);
			if (fd < 0)
				err = errno;
		}
		freeaddrinfo(res);
		if (fd < 0)
			return kt_errf(why, whylen, "%s:%s: %s", a->host, a->port, strerror(err));
	}
	describe(fd, bound, boundlen);
	return fd;
}

/* ------------------------------------------------------------ the server */

struct kt_metrics_http *kt_metrics_http_start(int fd)
{
	struct kt_metrics_http *m = calloc(1, sizeof(*m));
	if (!m) {
		close(fd);
		return NULL;
	}
	/* Its thread inherits this mask: no process signal for it (base/quiet_thread.h). */
	sigset_t old;
	kt_quiet_signals(&old);
	m->mhd = MHD_start_daemon(
		MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG | MHD_USE_ITC, 0, NULL, NULL, on_request, NULL,
		MHD_OPTION_EXTERNAL_LOGGER, on_log, NULL, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_TIMEOUT_S, MHD_OPTION_NOTIFY_CONNECTION,
		on_connection, NULL, MHD_OPTION_END);
	kt_restore_signals(&old);
	if (!m->mhd) {
		/* fd is left as it is: whether libmicrohttpd closed it is not said */
		kt_err("metrics server: libmicrohttpd would not start");
		free(m);
		return NULL;
	}
	return m;
}

void kt_metrics_http_let_go(struct kt_metrics_http *m)
{
	if (!m)
		return;
	/*
	 * Quiesced first, this process's copy closed by us: a stop alone shuts
	 * the listening socket down, which would end it for the new daemon too.
	 */
	MHD_socket fd = MHD_quiesce_daemon(m->mhd);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
	kt_metrics_http_stop(m);
}

void kt_metrics_http_stop(struct kt_metrics_http *m)
{
	if (!m)
		return;
	/* Closes the listening socket too: it is libmicrohttpd's once given. */
	MHD_stop_daemon(m->mhd);
	free(m);
}
