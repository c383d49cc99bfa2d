/* SPDX-License-Identifier: Apache-2.0 */
#include "daemon/metrics_addr.h"

#include <stdio.h>
#include <string.h>

#include "base/diag.h"

int kt_metrics_addr_parse(const char *s, struct kt_metrics_addr *out, char *why, size_t whylen)
{
	memset(out, 0, sizeof(*out));
	const char *colon = strrchr(s, ':');
	if (!colon)
		return kt_errf(why, whylen, "'%s' is not HOST:PORT", s);
	const char *host = s;
	size_t hlen = (size_t)(colon - s);
	if (hlen && s[0] == '[') {
		if (s[hlen - 1] != ']' || hlen < 3)
			return kt_errf(why, whylen, "'%s': an IPv6 address is written [ADDRESS]:PORT", s);
		host = s + 1;
		hlen -= 2;
	} else if (memchr(s, ':', hlen)) {
		return kt_errf(why, whylen, "'%s': an IPv6 address is written [ADDRESS]:PORT", s);
	}
	if (hlen >= sizeof(out->host))
		return kt_errf(why, whylen, "'%s': the host is too long", s);
	for (size_t i = 0; i < hlen; i++)
		if (host[i] <= ' ' || host[i] == '/' || host[i] == '[' || host[i] == ']' ||
		    (unsigned char)host[i] >= 0x7f)
			return kt_errf(why, whylen, "'%s': not a host name or address", s);
	const char *port = colon + 1;
	size_t plen = strlen(port);
	unsigned long v = 0;
	for (size_t i = 0; i < plen; i++) {
		if (port[i] < '0' || port[i] > '9')
			plen = 0;
		else
			v = v * 10 + (unsigned long)(port[i] - '0');
		if (v > 65535)
			plen = 0;
		if (!plen)
			break;
	}
	if (!plen)
		return kt_errf(why, whylen, "'%s': the port is not a number from 0 to 65535", s);
	memcpy(out->host, host, hlen);
	out->host[hlen] = '\0';
	snprintf(out->port, sizeof(out->port), "%lu", v);
	return 0;
}
