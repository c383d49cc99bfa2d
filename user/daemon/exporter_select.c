/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Chooses and creates the exporter from the command line and environment.
 * The rules (docs/operations.md, "Exporter choice"):
 *
 *   endpoint = --otlp-endpoint > OTEL_EXPORTER_OTLP_TRACES_ENDPOINT >
 *              OTEL_EXPORTER_OTLP_ENDPOINT
 *   protocol = --otlp-protocol > OTEL_EXPORTER_OTLP_TRACES_PROTOCOL >
 *              OTEL_EXPORTER_OTLP_PROTOCOL
 *   --exporter given: that exporter. Otherwise, with an endpoint: OTLP over
 *   the protocol, or without one over HTTP when the endpoint URL has a path
 *   (".../v1/traces") and over gRPC when it has none. Without an endpoint:
 *   the file exporter with --output; else OTLP/gRPC to the configuration's
 *   default_otlp_endpoint if it has one (unless the protocol is
 *   http/protobuf or http/json); else the console.
 *
 *   OTLP/HTTP sends OTLP/JSON when the protocol is http/json, else binary
 *   protobuf. Log records: --otlp-protocol > OTEL_EXPORTER_OTLP_LOGS_PROTOCOL
 *   > OTEL_EXPORTER_OTLP_PROTOCOL (http/protobuf or http/json; log records
 *   travel with the spans, so grpc is not for them) > as the spans.
 *
 *   An OTLP/gRPC host:port without a scheme is TLS, plain text when
 *   OTEL_EXPORTER_OTLP_[TRACES_]INSECURE is true. TLS files:
 *   --otlp-ca / --otlp-client-cert / --otlp-client-key >
 *   OTEL_EXPORTER_OTLP_TRACES_<X> > OTEL_EXPORTER_OTLP_<X>
 *   (exporters/otlp_common.c), read by the exporter when it is created.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/commands.h"
#include "base/diag.h"
#include "exporters/otlp_common.h"

/* The protocol a variable names; UNSET when it is unset, empty or invalid (with a warning). */
static enum kt_otlp_protocol protocol_var(const char *var)
{
	const char *v = getenv(var);
	enum kt_otlp_protocol p;
	if (!v || !*v)
		return KT_OTLP_PROTOCOL_UNSET;
	if (kt_otlp_protocol_parse(v, &p) == 0)
		return p;
	kt_warn("ignoring %s=%s: grpc, http/protobuf and http/json are supported", var, v);
	return KT_OTLP_PROTOCOL_UNSET;
}

/* The protocol from the environment; UNSET when none (invalid values are skipped). */
static enum kt_otlp_protocol env_protocol(void)
{
	enum kt_otlp_protocol p = protocol_var("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL");
	return p ? p : protocol_var("OTEL_EXPORTER_OTLP_PROTOCOL");
}

static bool is_http_protocol(enum kt_otlp_protocol p)
{
	return p == KT_OTLP_PROTOCOL_HTTP_PROTOBUF || p == KT_OTLP_PROTOCOL_HTTP_JSON;
}

/*
 * OTLP/HTTP: whether log records go as OTLP/JSON. The flag names the
 * transport of both; else OTEL_EXPORTER_OTLP_LOGS_PROTOCOL, else the generic
 * variable, when they name an HTTP encoding; else as the spans (json).
 */
static bool http_logs_json(const struct kt_config *cfg, bool json)
{
	if (cfg->otlp_protocol)
		return json;
	enum kt_otlp_protocol p = protocol_var("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL");
	if (p == KT_OTLP_PROTOCOL_GRPC)
		kt_warn("ignoring OTEL_EXPORTER_OTLP_LOGS_PROTOCOL=grpc: log records go over "
			"OTLP/HTTP with the spans");
	if (!is_http_protocol(p)) {
		/* Invalid values of this one were reported with the spans' protocol. */
		const char *v = getenv("OTEL_EXPORTER_OTLP_PROTOCOL");
		if (!v || kt_otlp_protocol_parse(v, &p) != 0)
			p = KT_OTLP_PROTOCOL_UNSET;
	}
	return is_http_protocol(p) ? p == KT_OTLP_PROTOCOL_HTTP_JSON : json;
}

static bool is_http_url(const char *s)
{
	return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0;
}

int kt_exporter_resolve(const struct kt_config *cfg, struct kt_exporter_choice *out)
{
	memset(out, 0, sizeof(*out));
	enum kt_otlp_protocol proto = cfg->otlp_protocol ? cfg->otlp_protocol : env_protocol();
	const char *src = NULL;
	const char *ep = kt_otlp_configured_endpoint(cfg->otlp_endpoint, &src);
	enum kt_exporter_kind kind = cfg->exporter;

	if (kind == KT_EXPORTER_DEFAULT) {
		if (ep && proto)
			kind = proto == KT_OTLP_PROTOCOL_GRPC ? KT_EXPORTER_OTLP_GRPC
							      : KT_EXPORTER_OTLP_HTTP;
		else if (ep)
			kind = kt_otlp_url_has_path(ep) ? KT_EXPORTER_OTLP_HTTP : KT_EXPORTER_OTLP_GRPC;
		else if (cfg->output)
			kind = KT_EXPORTER_FILE;
		else if (cfg->default_otlp_endpoint && !is_http_protocol(proto))
			kind = KT_EXPORTER_OTLP_GRPC;
		else
			kind = KT_EXPORTER_CONSOLE;
	}
	out->kind = kind;
	if (kind == KT_EXPORTER_OTLP_HTTP) {
		if (!ep) {
			kt_err("OTLP/HTTP needs --otlp-endpoint or OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT");
			return -1;
		}
		if (!is_http_url(ep)) {
			kt_err("OTLP/HTTP: %s '%s' is not an http:// or https:// URL", src, ep);
			return -1;
		}
		out->endpoint = kt_otlp_http_resolve_url(cfg->otlp_endpoint);
		out->endpoint_source = src;
		if (!out->endpoint)
			return -1;
		/* --exporter otlp-http with a grpc protocol from the environment: protobuf. */
		out->json = proto == KT_OTLP_PROTOCOL_HTTP_JSON;
		out->logs_json = http_logs_json(cfg, out->json);
	} else if (kind == KT_EXPORTER_OTLP_GRPC) {
		if (!ep) {
			ep = cfg->default_otlp_endpoint;
			src = "the default endpoint";
		}
		if (!ep) {
			kt_err("OTLP/gRPC needs --otlp-endpoint or OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT");
			return -1;
		}
		/* Without a scheme: TLS unless OTEL_EXPORTER_OTLP_[TRACES_]INSECURE=true. */
		bool bare = kt_otlp_is_host_port(ep);
		bool insecure = bare && kt_otlp_env_insecure("OTLP/gRPC");
		bool dropped_path;
		out->endpoint = kt_otlp_grpc_target(ep, insecure, &dropped_path);
		out->endpoint_source = src;
		if (!out->endpoint) {
			kt_err("OTLP/gRPC: %s '%s' is not an http:// or https:// URL or host:port", src,
			       ep);
			return -1;
		}
		if (dropped_path)
			kt_warn("OTLP/gRPC: ignoring the path of %s '%s': gRPC calls %s", src, ep,
				out->endpoint);
		if (bare)
			kt_info("OTLP/gRPC: %s '%s' has no scheme: %s", src, ep,
				insecure ? "plain text (OTEL_EXPORTER_OTLP_[TRACES_]INSECURE=true)"
					 : "TLS (for plain text: http:// or "
					   "OTEL_EXPORTER_OTLP_INSECURE=true)");
		const char *lp = getenv("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL");
		if (lp && *lp && strcmp(lp, "grpc") != 0)
			kt_warn("ignoring OTEL_EXPORTER_OTLP_LOGS_PROTOCOL=%s: log records go over "
				"OTLP/gRPC with the spans", lp);
	}
	return 0;
}

struct kt_exporter *kt_exporter_from_config(const struct kt_config *cfg, const char **what)
{
	struct kt_exporter_choice ch;
	static char desc[512];
	struct kt_exporter *e = NULL;

	*what = NULL;
	if (kt_exporter_resolve(cfg, &ch)) {
		free(ch.endpoint);
		return NULL;
	}
	/* NULL values / 0 timeout: the exporter reads the OTEL_* variables. */
	const struct kt_otlp_tls_cfg tls = { .ca = cfg->otlp_ca,
					     .client_cert = cfg->otlp_client_cert,
					     .client_key = cfg->otlp_client_key };
	switch (ch.kind) {
	case KT_EXPORTER_OTLP_HTTP: {
		/* Kata 1.x journal records: the logs endpoint, where one can be named. */
		char *logs = kt_otlp_http_resolve_logs_url(ch.endpoint);
		struct kt_otlp_http_cfg hc = { .url = ch.endpoint, .logs_url = logs,
					       .headers = cfg->otlp_headers, .tls = tls,
					       .json = ch.json, .logs_json = ch.logs_json };
		e = kt_exporter_otlp_http_new(&hc);
		/* The logs' encoding is named when it differs from the spans'. */
		const char *logs_enc = "";
		if (ch.logs_json != ch.json)
			logs_enc = ch.logs_json ? " (JSON)" : " (protobuf)";
		int n = snprintf(desc, sizeof(desc), "OTLP/HTTP%s %s", ch.json ? " (JSON)" : "",
				 ch.endpoint);
		if (logs && n > 0 && (size_t)n < sizeof(desc))
			snprintf(desc + n, sizeof(desc) - (size_t)n, ", logs%s %s", logs_enc, logs);
		if (!logs && cfg->journal_port)
			kt_warn("OTLP/HTTP: no logs endpoint (OTEL_EXPORTER_OTLP_LOGS_ENDPOINT, or a "
				"traces URL ending in /v1/traces): journal records are dropped");
		free(logs);
		*what = desc;
		break;
	}
	case KT_EXPORTER_OTLP_GRPC: {
		struct kt_otlp_grpc_cfg gc = { .endpoint = ch.endpoint, .headers = cfg->otlp_headers,
					       .tls = tls };
		e = kt_exporter_otlp_grpc_new(&gc);
		snprintf(desc, sizeof(desc), "OTLP/gRPC %s", ch.endpoint);
		*what = desc;
		break;
	}
	case KT_EXPORTER_FILE:
		e = kt_exporter_file_new(cfg->output);
		*what = cfg->output;
		break;
	default:
		e = kt_exporter_console_new(stdout);
		*what = "console";
		break;
	}
	free(ch.endpoint);
	if (!e)
		kt_err("cannot create the %s exporter", *what ? *what : "requested");
	return e;
}
