/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Exporter choice (user/exporter_select.c) from flags and the OpenTelemetry
 * environment, and the OTLP endpoint helpers (exporters/otlp_endpoint.c).
 */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "commands.h"
#include "config.h"
#include "exporter.h"

static struct kt_config cfg;

static const char *const env_vars[] = {
	"OTEL_EXPORTER_OTLP_ENDPOINT",
	"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
	"OTEL_EXPORTER_OTLP_PROTOCOL",
	"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
};

static void setup(void)
{
	kt_config_defaults(&cfg);
	for (size_t i = 0; i < sizeof(env_vars) / sizeof(env_vars[0]); i++)
		unsetenv(env_vars[i]);
}

TestSuite(exporter_select, .init = setup);

#define CONSOLE KT_EXPORTER_CONSOLE
#define FILE_ KT_EXPORTER_FILE
#define HTTP KT_EXPORTER_OTLP_HTTP
#define GRPC KT_EXPORTER_OTLP_GRPC
#define P_GRPC KT_OTLP_PROTOCOL_GRPC
#define P_HTTP KT_OTLP_PROTOCOL_HTTP_PROTOBUF
#define ERROR (-1)

/* The flags, the environment, and what they must select. */
struct rule {
	const char *what;
	enum kt_exporter_kind exporter;	   /* --exporter */
	enum kt_otlp_protocol protocol;	   /* --otlp-protocol */
	const char *endpoint;		   /* --otlp-endpoint */
	const char *output;		   /* --output */
	const char *default_endpoint;	   /* a profile's default_otlp_endpoint */
	const char *env[4];		   /* values of env_vars[] */
	int kind;			   /* expected kind, or ERROR */
	const char *want;		   /* expected endpoint; NULL: none */
};

static const struct rule rules[] = {
	{ "nothing configured", .kind = CONSOLE },
	{ "--output", .output = "/tmp/x", .kind = FILE_ },
	{ "endpoint with a path", .endpoint = "http://c:4318/v1/traces", .kind = HTTP,
	  .want = "http://c:4318/v1/traces" },
	{ "an endpoint wins over --output", .endpoint = "http://c:4318/v1/traces", .output = "/tmp/x",
	  .kind = HTTP, .want = "http://c:4318/v1/traces" },
	{ "endpoint without a path", .endpoint = "http://c:4317", .kind = GRPC,
	  .want = "http://c:4317" },
	{ "https, trailing slash", .endpoint = "https://c:4317/", .kind = GRPC,
	  .want = "https://c:4317" },
	{ "host:port", .endpoint = "c:4317", .kind = GRPC, .want = "http://c:4317" },
	{ "[v6]:port", .endpoint = "[::1]:4317", .kind = GRPC, .want = "http://[::1]:4317" },
	{ "--otlp-protocol http/protobuf", .endpoint = "http://c:4318", .protocol = P_HTTP,
	  .kind = HTTP, .want = "http://c:4318/v1/traces" },
	{ "--otlp-protocol grpc drops the path", .endpoint = "http://c:4317/v1/traces",
	  .protocol = P_GRPC, .kind = GRPC, .want = "http://c:4317" },
	{ "OTEL_EXPORTER_OTLP_PROTOCOL", .endpoint = "http://c:4318",
	  .env = { [2] = "http/protobuf" }, .kind = HTTP, .want = "http://c:4318/v1/traces" },
	{ "the traces protocol first", .endpoint = "http://c:4318",
	  .env = { [2] = "http/protobuf", [3] = "grpc" }, .kind = GRPC, .want = "http://c:4318" },
	{ "an unsupported protocol is skipped", .endpoint = "http://c:4318",
	  .env = { [2] = "http/protobuf", [3] = "http/json" }, .kind = HTTP,
	  .want = "http://c:4318/v1/traces" },
	{ "the flag over the environment", .endpoint = "http://c:4318", .protocol = P_GRPC,
	  .env = { [2] = "http/protobuf" }, .kind = GRPC, .want = "http://c:4318" },
	{ "a protocol alone does not enable OTLP", .env = { [2] = "grpc" }, .kind = CONSOLE },
	{ "not even from the flag", .protocol = P_HTTP, .kind = CONSOLE },
	{ "OTEL_EXPORTER_OTLP_ENDPOINT", .env = { [0] = "http://gen:4317" }, .kind = GRPC,
	  .want = "http://gen:4317" },
	{ "... over http/protobuf", .env = { [0] = "http://gen:4317", [2] = "http/protobuf" },
	  .kind = HTTP, .want = "http://gen:4317/v1/traces" },
	{ "the traces endpoint first, as is",
	  .env = { [0] = "http://gen:4317", [1] = "http://tr:4318/v1/traces" }, .kind = HTTP,
	  .want = "http://tr:4318/v1/traces" },
	{ "an empty traces endpoint is skipped", .env = { [0] = "gen:4317", [1] = "" },
	  .kind = GRPC, .want = "http://gen:4317" },
	{ "the flag over both", .endpoint = "http://flag:4317",
	  .env = { [0] = "http://gen:4317", [1] = "tr:4317" }, .kind = GRPC,
	  .want = "http://flag:4317" },
	{ "--exporter otlp-grpc drops the path", .exporter = GRPC,
	  .endpoint = "http://c:4317/v1/traces", .kind = GRPC, .want = "http://c:4317" },
	{ "--exporter otlp-http", .exporter = HTTP, .endpoint = "http://c:4318", .kind = HTTP,
	  .want = "http://c:4318/v1/traces" },
	{ "--exporter console", .exporter = CONSOLE, .endpoint = "http://c:4318", .kind = CONSOLE },
	{ "--exporter over the environment's protocol", .exporter = HTTP,
	  .endpoint = "http://c:4318", .env = { [2] = "grpc" }, .kind = HTTP,
	  .want = "http://c:4318/v1/traces" },
	{ "otlp-grpc without an endpoint", .exporter = GRPC, .kind = ERROR },
	{ "otlp-http without an endpoint", .exporter = HTTP, .kind = ERROR },
	{ "host:port is not for OTLP/HTTP", .exporter = HTTP, .endpoint = "c:4318", .kind = ERROR },
	{ "... nor for http/protobuf", .protocol = P_HTTP, .endpoint = "c:4318", .kind = ERROR },
	{ "not a URL", .env = { [0] = "collector" }, .kind = ERROR },
	{ "not http", .env = { [0] = "ftp://c:21/x" }, .kind = ERROR },
	{ "default endpoint", .default_endpoint = KT_FORWARDER_OTLP_ENDPOINT, .kind = GRPC,
	  .want = "http://localhost:4317" },
	{ "default endpoint: the flag first", .default_endpoint = KT_FORWARDER_OTLP_ENDPOINT,
	  .endpoint = "http://c:4318/v1/traces", .kind = HTTP, .want = "http://c:4318/v1/traces" },
	{ "default endpoint: the environment first", .default_endpoint = KT_FORWARDER_OTLP_ENDPOINT,
	  .env = { [0] = "http://gen:4317" }, .kind = GRPC, .want = "http://gen:4317" },
	{ "default endpoint: --output first", .default_endpoint = KT_FORWARDER_OTLP_ENDPOINT,
	  .output = "/tmp/x", .kind = FILE_ },
	{ "default endpoint: not for http/protobuf", .default_endpoint = KT_FORWARDER_OTLP_ENDPOINT,
	  .protocol = P_HTTP, .kind = CONSOLE },
	{ "default endpoint: --exporter otlp-grpc", .default_endpoint = KT_FORWARDER_OTLP_ENDPOINT,
	  .exporter = GRPC, .kind = GRPC, .want = "http://localhost:4317" },
	{ "default endpoint: never OTLP/HTTP", .default_endpoint = KT_FORWARDER_OTLP_ENDPOINT,
	  .exporter = HTTP, .kind = ERROR },
};

Test(exporter_select, rules)
{
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		const struct rule *r = &rules[i];
		setup();
		for (size_t v = 0; v < 4; v++)
			if (r->env[v])
				setenv(env_vars[v], r->env[v], 1);
		cfg.exporter = r->exporter;
		cfg.otlp_protocol = r->protocol;
		cfg.otlp_endpoint = r->endpoint;
		cfg.output = r->output;
		cfg.default_otlp_endpoint = r->default_endpoint;

		struct kt_exporter_choice ch;
		int rc = kt_exporter_resolve(&cfg, &ch);
		if (r->kind == ERROR) {
			cr_assert_eq(rc, -1, "%s: not refused", r->what);
		} else {
			cr_assert_eq(rc, 0, "%s: refused", r->what);
			cr_assert_eq((int)ch.kind, r->kind, "%s: kind %d", r->what, ch.kind);
			if (r->want)
				cr_assert(ch.endpoint && strcmp(ch.endpoint, r->want) == 0,
					  "%s: endpoint %s", r->what, ch.endpoint);
			else
				cr_assert_null(ch.endpoint, "%s: endpoint %s", r->what, ch.endpoint);
		}
		free(ch.endpoint);
	}
}

Test(exporter_select, protocol_names)
{
	enum kt_otlp_protocol p = KT_OTLP_PROTOCOL_UNSET;
	cr_assert_eq(kt_otlp_protocol_parse("grpc", &p), 0);
	cr_assert_eq(p, KT_OTLP_PROTOCOL_GRPC);
	cr_assert_eq(kt_otlp_protocol_parse("http/protobuf", &p), 0);
	cr_assert_eq(p, KT_OTLP_PROTOCOL_HTTP_PROTOBUF);
	cr_assert_eq(kt_otlp_protocol_parse("http/json", &p), -1);
	cr_assert_eq(kt_otlp_protocol_parse("GRPC", &p), -1);
	cr_assert_eq(kt_otlp_protocol_parse("", &p), -1);
}

/* ------------------------------------------------------------------ endpoints */

Test(exporter_select, host_port_syntax)
{
	static const char *good[] = { "localhost:4317", "127.0.0.1:4317", "[::1]:4317",
				      "collector.ns.svc:1", "a_b-c:65535" };
	static const char *bad[] = { "localhost",   ":4317",	   "host:0",	"host:65536",
				     "host:12a",    "host:",	   "[]:1",	"[::1]4317",
				     "http://h:1",  "a b:1",	   "h:1/x",	"h:000001",
				     "[::1]:4317:1", "user@h:1",  "[fe80::1%eth0]:1" };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		cr_assert(kt_otlp_is_host_port(good[i]), "%s", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_not(kt_otlp_is_host_port(bad[i]), "%s", bad[i]);
}

static void assert_target(const char *ep, const char *want, bool want_dropped)
{
	bool dropped = !want_dropped;
	char *t = kt_otlp_grpc_target(ep, &dropped);
	if (!want) {
		cr_assert_null(t, "%s -> %s", ep, t);
		return;
	}
	cr_assert_not_null(t, "%s", ep);
	cr_assert_str_eq(t, want);
	cr_assert_eq(dropped, want_dropped, "%s", ep);
	free(t);
}

Test(exporter_select, grpc_targets)
{
	assert_target("http://c:4317", "http://c:4317", false);
	assert_target("http://c:4317/", "http://c:4317", false);
	assert_target("http://c:4317/v1/traces", "http://c:4317", true);
	assert_target("http://c:4317?x=1", "http://c:4317", true);
	assert_target("HTTPS://c", "https://c", false);
	assert_target("c:4317", "http://c:4317", false);
	assert_target("ftp://c:4317", NULL, false);
	assert_target("http://", NULL, false);
	assert_target("http:///x", NULL, false);
	assert_target("http://user@c:4317", NULL, false);
	assert_target("http://c d:4317", NULL, false);
	assert_target("c", NULL, false);
}

Test(exporter_select, configured_endpoint_precedence)
{
	const char *src = NULL;
	cr_assert_null(kt_otlp_configured_endpoint(NULL, &src));
	cr_assert_null(kt_otlp_configured_endpoint("", &src));
	setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://gen:4317", 1);
	cr_assert_str_eq(kt_otlp_configured_endpoint(NULL, &src), "http://gen:4317");
	cr_assert_str_eq(src, "OTEL_EXPORTER_OTLP_ENDPOINT");
	setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "", 1);
	cr_assert_str_eq(kt_otlp_configured_endpoint(NULL, &src), "http://gen:4317");
	setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://tr:4317", 1);
	cr_assert_str_eq(kt_otlp_configured_endpoint(NULL, &src), "http://tr:4317");
	cr_assert_str_eq(src, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
	cr_assert_str_eq(kt_otlp_configured_endpoint("f:1", &src), "f:1");
	cr_assert_str_eq(src, "--otlp-endpoint");
	cr_assert_str_eq(kt_otlp_configured_endpoint("f:1", NULL), "f:1");
}

Test(exporter_select, url_paths)
{
	cr_assert(kt_otlp_url_has_path("http://c:4318/v1/traces"));
	cr_assert(kt_otlp_url_has_path("http://c/x"));
	cr_assert_not(kt_otlp_url_has_path("http://c:4318"));
	cr_assert_not(kt_otlp_url_has_path("http://c:4318/"));
	cr_assert_not(kt_otlp_url_has_path("http://c:4318/?q"));
	cr_assert_not(kt_otlp_url_has_path("c:4317"));
}
