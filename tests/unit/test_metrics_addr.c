/* SPDX-License-Identifier: Apache-2.0 */
/*
 * --metrics-address (daemon/metrics_addr.c): the forms accepted and those
 * refused, and the listening socket each form gets (kt_metrics_listen,
 * daemon/metrics_http.c), bound to port 0 so that the kernel picks a free
 * one.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "daemon/metrics_addr.h"
#include "daemon/metrics_http.h"

static void expect_parsed(const char *s, const char *host, const char *port)
{
	struct kt_metrics_addr a;
	char why[160] = "";
	cr_assert_eq(kt_metrics_addr_parse(s, &a, why, sizeof(why)), 0, "%s: %s", s, why);
	cr_expect_str_eq(a.host, host, "%s", s);
	cr_expect_str_eq(a.port, port, "%s", s);
}

static void expect_refused(const char *s, const char *why_part)
{
	struct kt_metrics_addr a;
	char why[160] = "";
	cr_expect_eq(kt_metrics_addr_parse(s, &a, why, sizeof(why)), -1, "%s accepted", s);
	cr_expect_not_null(strstr(why, why_part), "%s: %s", s, why);
}

Test(metrics_addr, the_forms_accepted)
{
	expect_parsed("127.0.0.1:9464", "127.0.0.1", "9464");
	expect_parsed(":9464", "", "9464");
	expect_parsed("[::1]:80", "::1", "80");
	expect_parsed("[::]:0", "::", "0");
	expect_parsed("localhost:65535", "localhost", "65535");
	expect_parsed("0.0.0.0:007", "0.0.0.0", "7");
}

Test(metrics_addr, the_forms_refused)
{
	expect_refused("9464", "is not HOST:PORT");
	expect_refused("127.0.0.1", "is not HOST:PORT");
	expect_refused("127.0.0.1:", "the port is not a number");
	expect_refused("127.0.0.1:65536", "the port is not a number");
	expect_refused("127.0.0.1:99999999999999999999", "the port is not a number");
	expect_refused("127.0.0.1:-1", "the port is not a number");
	expect_refused("127.0.0.1:80x", "the port is not a number");
	expect_refused("::1:9464", "written [ADDRESS]:PORT");
	expect_refused("[::1:9464", "written [ADDRESS]:PORT");
	expect_refused("[]:9464", "written [ADDRESS]:PORT");
	expect_refused("a b:9464", "not a host name or address");
	expect_refused("a/b:9464", "not a host name or address");
}

/* Listens at s; the bound address in bound; the socket. */
static int listen_at(const char *s, char *bound, size_t n)
{
	struct kt_metrics_addr a;
	char why[256] = "";
	cr_assert_eq(kt_metrics_addr_parse(s, &a, why, sizeof(why)), 0, "%s", why);
	int fd = kt_metrics_listen(&a, bound, n, why, sizeof(why));
	cr_assert_geq(fd, 0, "%s: %s", s, why);
	cr_expect(fcntl(fd, F_GETFD) & FD_CLOEXEC, "close-on-exec");
	cr_expect(fcntl(fd, F_GETFL) & O_NONBLOCK, "non-blocking");
	int listening = 0;
	socklen_t len = sizeof(listening);
	cr_expect_eq(getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len), 0);
	cr_expect(listening, "listening");
	return fd;
}

Test(metrics_addr, a_port_the_kernel_picks_is_said)
{
	char bound[128];
	int fd = listen_at("127.0.0.1:0", bound, sizeof(bound));
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	char want[64];
	snprintf(want, sizeof(want), "127.0.0.1:%u", ntohs(sa.sin_port));
	cr_expect_neq(ntohs(sa.sin_port), 0);
	cr_expect_str_eq(bound, want);
	/* The same address again: taken. */
	struct kt_metrics_addr a;
	char why[256] = "";
	cr_assert_eq(kt_metrics_addr_parse(bound, &a, why, sizeof(why)), 0);
	cr_expect_eq(kt_metrics_listen(&a, bound, sizeof(bound), why, sizeof(why)), -1);
	cr_expect_not_null(strstr(why, "Address already in use"), "%s", why);
	close(fd);
}

Test(metrics_addr, every_address_and_a_name)
{
	char bound[128];
	int fd = listen_at(":0", bound, sizeof(bound));
	cr_expect(strncmp(bound, "[::]:", 5) == 0 || strncmp(bound, "0.0.0.0:", 8) == 0, "%s", bound);
	close(fd);
	fd = listen_at("localhost:0", bound, sizeof(bound));
	cr_expect(strncmp(bound, "127.0.0.1:", 10) == 0 || strncmp(bound, "[::1]:", 6) == 0, "%s",
		  bound);
	close(fd);
}

Test(metrics_addr, a_name_that_does_not_resolve)
{
	struct kt_metrics_addr a;
	char why[256] = "", bound[128];
	cr_assert_eq(kt_metrics_addr_parse("no-such-host.invalid:9464", &a, why, sizeof(why)), 0);
	cr_expect_eq(kt_metrics_listen(&a, bound, sizeof(bound), why, sizeof(why)), -1);
	cr_expect_eq(strncmp(why, "no-such-host.invalid: ", 22), 0, "%s", why);
}
