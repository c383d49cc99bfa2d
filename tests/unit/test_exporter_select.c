/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Exporter choice (user/daemon/exporter_select.c) from flags and the OpenTelemetry
 * environment, the OTLP endpoint helpers (exporters/otlp_endpoint.c) and the
 * TLS settings (exporters/otlp_common.c, exporters/otlp_curl.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <criterion/redirect.h>

#include "daemon/commands.h"
#include "daemon/config.h"
#include "exporters/exporter.h"
#include "fs_fixture.h"
#include "exporters/otlp_common.h"

static struct kt_config cfg;

static const char *const env_vars[] = {
	"OTEL_EXPORTER_OTLP_ENDPOINT",
	"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
	"OTEL_EXPORTER_OTLP_PROTOCOL",
	"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
	"OTEL_EXPORTER_OTLP_INSECURE",
	"OTEL_EXPORTER_OTLP_TRACES_INSECURE",
	"OTEL_EXPORTER_OTLP_LOGS_PROTOCOL",
	"OTEL_EXPORTER_OTLP_CERTIFICATE",
	"OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
	"OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
	"OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE",
	"OTEL_EXPORTER_OTLP_CLIENT_KEY",
	"OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY",
};
#define N_ENV (sizeof(env_vars) / sizeof(env_vars[0]))

static void setup(void)
{
	kt_config_defaults(&cfg);
	for (size_t i = 0; i < N_ENV; i++)
		unsetenv(env_vars[i]);
}

TestSuite(exporter_select, .init = setup);

#define CONSOLE KT_EXPORTER_CONSOLE
#define FILE_ KT_EXPORTER_FILE
#define HTTP KT_EXPORTER_OTLP_HTTP
#define GRPC KT_EXPORTER_OTLP_GRPC
#define P_GRPC KT_OTLP_PROTOCOL_GRPC
#define P_HTTP KT_OTLP_PROTOCOL_HTTP_PROTOBUF
#define P_JSON KT_OTLP_PROTOCOL_HTTP_JSON
#define ERROR (-1)
#define N_RULE_ENV 7 /* the variables a rule sets: env_vars[0..6] */

/* The flags, the environment, and what they must select. */
struct rule {
	const char *what;
	enum kt_exporter_kind exporter;	   /* --exporter */
	enum kt_otlp_protocol protocol;	   /* --otlp-protocol */
	const char *endpoint;		   /* --otlp-endpoint */
	const char *output;		   /* --output */
	const char *default_endpoint;	   /* a profile's default_otlp_endpoint */
	const char *env[N_RULE_ENV];	   /* values of env_vars[] */
	int kind;			   /* expected kind, or ERROR */
	const char *want;		   /* expected endpoint; NULL: none */
	/* OTLP/HTTP: OTLP/JSON expected for spans, for log records (else protobuf) */
	bool json, logs_json;
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
	{ "host:port: TLS", .endpoint = "c:4317", .kind = GRPC, .want = "https://c:4317" },
	{ "[v6]:port", .endpoint = "[::1]:4317", .kind = GRPC, .want = "https://[::1]:4317" },
	{ "host:port, OTEL_EXPORTER_OTLP_INSECURE=true: plain text", .endpoint = "c:4317",
	  .env = { [4] = "true" }, .kind = GRPC, .want = "http://c:4317" },
	{ "... in any case", .endpoint = "c:4317", .env = { [4] = "TRUE" }, .kind = GRPC,
	  .want = "http://c:4317" },
	{ "OTEL_EXPORTER_OTLP_INSECURE=false", .endpoint = "c:4317", .env = { [4] = "false" },
	  .kind = GRPC, .want = "https://c:4317" },
	{ "the traces variable first", .endpoint = "c:4317",
	  .env = { [4] = "true", [5] = "false" }, .kind = GRPC, .want = "https://c:4317" },
	{ "an invalid traces value is skipped", .endpoint = "c:4317",
	  .env = { [4] = "true", [5] = "yes" }, .kind = GRPC, .want = "http://c:4317" },
	{ "insecure leaves https:// alone", .endpoint = "https://c:4317",
	  .env = { [4] = "true" }, .kind = GRPC, .want = "https://c:4317" },
	{ "... and http://", .endpoint = "http://c:4317", .env = { [5] = "false" }, .kind = GRPC,
	  .want = "http://c:4317" },
	{ "--otlp-protocol http/protobuf", .endpoint = "http://c:4318", .protocol = P_HTTP,
	  .kind = HTTP, .want = "http://c:4318/v1/traces" },
	{ "--otlp-protocol grpc drops the path", .endpoint = "http://c:4317/v1/traces",
	  .protocol = P_GRPC, .kind = GRPC, .want = "http://c:4317" },
	{ "OTEL_EXPORTER_OTLP_PROTOCOL", .endpoint = "http://c:4318",
	  .env = { [2] = "http/protobuf" }, .kind = HTTP, .want = "http://c:4318/v1/traces" },
	{ "the traces protocol first", .endpoint = "http://c:4318",
	  .env = { [2] = "http/protobuf", [3] = "grpc" }, .kind = GRPC, .want = "http://c:4318" },
	{ "an unsupported protocol is skipped", .endpoint = "http://c:4318",
	  .env = { [2] = "http/protobuf", [3] = "http/JSON" }, .kind = HTTP,
	  .want = "http://c:4318/v1/traces" },
	{ "--otlp-protocol http/json", .endpoint = "http://c:4318", .protocol = P_JSON,
	  .kind = HTTP, .want = "http://c:4318/v1/traces", .json = true, .logs_json = true },
	{ "http/json keeps the path", .endpoint = "http://c:4318/custom/v1/traces",
	  .protocol = P_JSON, .kind = HTTP, .want = "http://c:4318/custom/v1/traces", .json = true,
	  .logs_json = true },
	{ "OTEL_EXPORTER_OTLP_PROTOCOL=http/json", .endpoint = "http://c:4317",
	  .env = { [2] = "http/json" }, .kind = HTTP, .want = "http://c:4317/v1/traces",
	  .json = true, .logs_json = true },
	{ "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/json: log records as the spans",
	  .env = { [0] = "http://gen:4318", [3] = "http/json" }, .kind = HTTP,
	  .want = "http://gen:4318/v1/traces", .json = true, .logs_json = true },
	{ "... unless the generic variable names an HTTP encoding for them",
	  .env = { [0] = "http://gen:4318", [2] = "http/protobuf", [3] = "http/json" }, .kind = HTTP,
	  .want = "http://gen:4318/v1/traces", .json = true, .logs_json = false },
	{ "... a generic grpc does not", .env = { [0] = "http://gen:4318", [2] = "grpc",
						  [3] = "http/json" },
	  .kind = HTTP, .want = "http://gen:4318/v1/traces", .json = true, .logs_json = true },
	{ "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL=http/json: log records only",
	  .endpoint = "http://c:4318/v1/traces", .env = { [6] = "http/json" }, .kind = HTTP,
	  .want = "http://c:4318/v1/traces", .json = false, .logs_json = true },
	{ "the logs variable over the generic one",
	  .endpoint = "http://c:4318/v1/traces", .env = { [2] = "http/json", [6] = "http/protobuf" },
	  .kind = HTTP, .want = "http://c:4318/v1/traces", .json = true, .logs_json = false },
	{ "the flag over the logs variable", .endpoint = "http://c:4318", .protocol = P_JSON,
	  .env = { [6] = "http/protobuf" }, .kind = HTTP, .want = "http://c:4318/v1/traces",
	  .json = true, .logs_json = true },
	{ "... http/protobuf too", .endpoint = "http://c:4318", .protocol = P_HTTP,
	  .env = { [2] = "http/json", [6] = "http/json" }, .kind = HTTP,
	  .want = "http://c:4318/v1/traces", .json = false, .logs_json = false },
	{ "a logs grpc is ignored", .endpoint = "http://c:4318/v1/traces",
	  .env = { [3] = "http/json", [6] = "grpc" }, .kind = HTTP,
	  .want = "http://c:4318/v1/traces", .json = true, .logs_json = true },
	{ "an invalid logs protocol is ignored", .endpoint = "http://c:4318/v1/traces",
	  .env = { [2] = "http/json", [6] = "json" }, .kind = HTTP,
	  .want = "http://c:4318/v1/traces", .json = true, .logs_json = true },
	{ "the logs protocol does not choose the exporter", .endpoint = "http://c:4317",
	  .env = { [6] = "http/json" }, .kind = GRPC, .want = "http://c:4317" },
	{ "--exporter otlp-http with http/json", .exporter = HTTP, .protocol = P_JSON,
	  .endpoint = "http://c:4318", .kind = HTTP, .want = "http://c:4318/v1/traces",
	  .json = true, .logs_json = true },
	{ "--exporter otlp-http, http/json from the environment", .exporter = HTTP,
	  .endpoint = "http://c:4318", .env = { [3] = "http/json" }, .kind = HTTP,
	  .want = "http://c:4318/v1/traces", .json = true, .logs_json = true },
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
	  .kind = GRPC, .want = "https://gen:4317" },
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
	{ "default endpoint: nor for http/json", .default_endpoint = KT_FORWARDER_OTLP_ENDPOINT,
	  .env = { [2] = "http/json" }, .kind = CONSOLE },
	{ "... nor for a host:port", .protocol = P_JSON, .endpoint = "c:4318", .kind = ERROR },
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
		for (size_t v = 0; v < N_RULE_ENV; v++)
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
			cr_assert_eq(ch.json, r->json, "%s: spans in %s", r->what,
				     ch.json ? "JSON" : "protobuf");
			cr_assert_eq(ch.logs_json, r->logs_json, "%s: log records in %s", r->what,
				     ch.logs_json ? "JSON" : "protobuf");
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
	cr_assert_eq(kt_otlp_protocol_parse("http/json", &p), 0);
	cr_assert_eq(p, KT_OTLP_PROTOCOL_HTTP_JSON);
	cr_assert_eq(kt_otlp_protocol_parse("http/JSON", &p), -1);
	cr_assert_eq(kt_otlp_protocol_parse("json", &p), -1);
	cr_assert_eq(kt_otlp_protocol_parse("http/json ", &p), -1);
	cr_assert_eq(kt_otlp_protocol_parse("GRPC", &p), -1);
	cr_assert_eq(kt_otlp_protocol_parse("", &p), -1);
}

/* What the start-up line says of an OTLP/HTTP exporter, and the warnings of a logs protocol. */
static void description_setup(void)
{
	cr_redirect_stderr();
	setup();
}

static void expect_description(const char *want)
{
	const char *what = NULL;
	struct kt_exporter *e = kt_exporter_from_config(&cfg, &what);
	cr_assert_not_null(e);
	cr_expect_str_eq(what, want);
	e->destroy(e);
}

Test(exporter_select, http_encodings_described, .init = description_setup)
{
	cfg.otlp_endpoint = "http://c:4318/v1/traces";
	expect_description("OTLP/HTTP http://c:4318/v1/traces, logs http://c:4318/v1/logs");
	cfg.otlp_protocol = P_JSON;
	expect_description("OTLP/HTTP (JSON) http://c:4318/v1/traces, logs http://c:4318/v1/logs");
	cfg.otlp_protocol = KT_OTLP_PROTOCOL_UNSET;
	setenv("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "http/json", 1);
	expect_description("OTLP/HTTP http://c:4318/v1/traces, logs (JSON) http://c:4318/v1/logs");
	setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json", 1);
	setenv("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "http/protobuf", 1);
	expect_description("OTLP/HTTP (JSON) http://c:4318/v1/traces, logs (protobuf) "
			   "http://c:4318/v1/logs");
	cfg.otlp_endpoint = "http://c:4318/x";
	expect_description("OTLP/HTTP (JSON) http://c:4318/x");

	setenv("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "grpc", 1);
	expect_description("OTLP/HTTP (JSON) http://c:4318/x");
	cfg.otlp_endpoint = "http://c:4317";
	unsetenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL");
	setenv("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "http/json", 1);
	expect_description("OTLP/gRPC http://c:4317");
	fflush(stderr);
	char log[4096];
	size_t got = fread(log, 1, sizeof(log) - 1, cr_get_redirected_stderr());
	log[got] = '\0';
	cr_expect(strstr(log, "ignoring OTEL_EXPORTER_OTLP_LOGS_PROTOCOL=grpc: log records go over "
			      "OTLP/HTTP with the spans"),
		  "%s", log);
	cr_expect(strstr(log, "ignoring OTEL_EXPORTER_OTLP_LOGS_PROTOCOL=http/json: log records go "
			      "over OTLP/gRPC with the spans"),
		  "%s", log);
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
	char *t = kt_otlp_grpc_target(ep, true, &dropped);
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
	bool dropped;
	char *t = kt_otlp_grpc_target("c:4317", false, &dropped);
	cr_assert_str_eq(t, "https://c:4317");
	free(t);
	t = kt_otlp_grpc_target("http://c:4317", false, &dropped);
	cr_assert_str_eq(t, "http://c:4317");
	free(t);
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

/* ------------------------------------------------------------------ TLS files */

Test(exporter_select, tls_file_precedence)
{
	static const char *const vars[KT_OTLP_TLS_FILES][3] = {
		{ "--otlp-ca", "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
		  "OTEL_EXPORTER_OTLP_CERTIFICATE" },
		{ "--otlp-client-cert", "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE",
		  "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE" },
		{ "--otlp-client-key", "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY",
		  "OTEL_EXPORTER_OTLP_CLIENT_KEY" },
	};
	setup();
	for (int f = 0; f < KT_OTLP_TLS_FILES; f++) {
		enum kt_otlp_tls_file tf = (enum kt_otlp_tls_file)f;
		const char *src = NULL;
		cr_assert_null(kt_otlp_tls_file(tf, NULL, &src));
		setenv(vars[f][2], "/gen", 1);
		cr_assert_str_eq(kt_otlp_tls_file(tf, NULL, &src), "/gen");
		cr_assert_str_eq(src, vars[f][2]);
		setenv(vars[f][1], "", 1);
		cr_assert_str_eq(kt_otlp_tls_file(tf, NULL, &src), "/gen", "empty values are skipped");
		setenv(vars[f][1], "/traces", 1);
		cr_assert_str_eq(kt_otlp_tls_file(tf, NULL, &src), "/traces");
		cr_assert_str_eq(src, vars[f][1]);
		cr_assert_str_eq(kt_otlp_tls_file(tf, "", &src), "/traces");
		cr_assert_str_eq(kt_otlp_tls_file(tf, "/flag", &src), "/flag");
		cr_assert_str_eq(src, vars[f][0]);
	}
}

#define PEM "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

/*
 * Creates the exporter the configuration asks for and destroys it; returns
 * whether it was created, and what was logged in log.
 */
static bool create(char *log, size_t cap)
{
	const char *what;
	struct kt_exporter *e = kt_exporter_from_config(&cfg, &what);
	if (e)
		e->destroy(e);
	fflush(stderr);
	size_t got = fread(log, 1, cap - 1, cr_get_redirected_stderr());
	log[got] = '\0';
	return e != NULL;
}

static void tls_setup(void)
{
	cr_redirect_stderr();
	setup();
	fx_root_make("tls");
	FX_PUT_STR("ca.pem", PEM);
	FX_PUT_STR("client.pem", PEM);
	FX_PUT_STR("client.key", "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n");
	FX_PUT_STR("empty.pem", "");
	FX_PUT_STR("der.crt", "0\x82\x01\n");
	fx_mkdirs("dir");
}

#define CHECK_LOG(log, text) cr_assert(strstr(log, text), "no '%s' in: %s", text, log)

Test(exporter_select, tls_files_read_at_creation, .init = tls_setup, .fini = fx_root_remove)
{
	char log[4096];
	cfg.otlp_endpoint = "https://c:4317";
	cfg.otlp_ca = fx_at("ca.pem");
	cfg.otlp_client_cert = fx_at("client.pem");
	cfg.otlp_client_key = fx_at("client.key");
	cr_assert(create(log, sizeof(log)), "%s", log);
	char want[512];
	snprintf(want, sizeof(want),
		 "otlp-grpc: https://c:4317: TLS with the CA certificate %s (--otlp-ca), client "
		 "certificate %s (--otlp-client-cert), client key %s (--otlp-client-key)",
		 fx_at("ca.pem"), fx_at("client.pem"), fx_at("client.key"));
	CHECK_LOG(log, want);
}

Test(exporter_select, tls_flag_beats_environment, .init = tls_setup, .fini = fx_root_remove)
{
	char log[4096];
	setenv("OTEL_EXPORTER_OTLP_CERTIFICATE", fx_at("missing.pem"), 1);
	setenv("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", fx_at("missing.pem"), 1);
	cfg.otlp_endpoint = "https://c:4318/v1/traces";
	cfg.otlp_ca = fx_at("ca.pem");
	cr_assert(create(log, sizeof(log)), "%s", log);
	CHECK_LOG(log, "(--otlp-ca)");
}

Test(exporter_select, tls_traces_variable_first, .init = tls_setup, .fini = fx_root_remove)
{
	char log[4096];
	setenv("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", fx_at("missing.pem"), 1);
	setenv("OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE", fx_at("client.pem"), 1);
	cfg.otlp_endpoint = "https://c:4317";
	cr_assert(create(log, sizeof(log)), "%s", log);
	CHECK_LOG(log, "client certificate");
	CHECK_LOG(log, "(OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE)");
}

/* Each bad file, where it came from, and the error that must name both. */
struct bad_file {
	const char *var;  /* NULL: the flag */
	const char *file; /* under fx_root */
	const char *error;
};

static void assert_refused(const struct bad_file *b, const char *endpoint, const char *who)
{
	char log[4096], want[512];
	cfg.otlp_endpoint = endpoint;
	if (b->var)
		setenv(b->var, fx_at(b->file), 1);
	else
		cfg.otlp_ca = fx_at(b->file);
	cr_assert_not(create(log, sizeof(log)), "%s: created", b->file);
	snprintf(want, sizeof(want), "%s: %s %s (%s)", who, b->error, fx_at(b->file),
		 b->var ? b->var : "--otlp-ca");
	CHECK_LOG(log, want);
}

Test(exporter_select, tls_unreadable_files, .init = tls_setup, .fini = fx_root_remove)
{
	static const struct bad_file bad[] = {
		{ NULL, "missing.pem", "cannot read the CA certificate file" },
		{ "OTEL_EXPORTER_OTLP_CERTIFICATE", "dir", "cannot read the CA certificate file" },
		{ "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", "empty.pem", "the CA certificate file" },
		{ NULL, "der.crt", "the CA certificate file" },
		{ "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "missing.pem",
		  "cannot read the client certificate file" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *ep = i % 2 ? "https://c:4318/v1/traces" : "https://c:4317";
		setup();
		assert_refused(&bad[i], ep, i % 2 ? "otlp-http" : "otlp-grpc");
	}
}

Test(exporter_select, tls_key_without_certificate, .init = tls_setup, .fini = fx_root_remove)
{
	char log[4096];
	cfg.otlp_endpoint = "https://c:4317";
	setenv("OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", fx_at("client.key"), 1);
	cr_assert_not(create(log, sizeof(log)));
	CHECK_LOG(log, "(OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY) needs a client certificate");
}

Test(exporter_select, tls_files_of_a_plain_text_endpoint, .init = tls_setup,
     .fini = fx_root_remove)
{
	char log[4096];
	cfg.otlp_endpoint = "http://c:4318/v1/traces";
	setenv("OTEL_EXPORTER_OTLP_CERTIFICATE", fx_at("ca.pem"), 1);
	cr_assert(create(log, sizeof(log)), "%s", log);
	CHECK_LOG(log, "otlp-http: http://c:4318/v1/traces does not use TLS: ignoring the CA "
		       "certificate");
}
