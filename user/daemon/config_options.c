/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The options of `katatrace-bpf run`, `katatrace-bpf decode` and the
 * kata-trace-forwarder form, each declared once (daemon/options.h), and
 * the text of each command's --help around them. The table is in the
 * order `run --help` lists the options.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/config.h"
#include "daemon/metrics_addr.h"
#include "daemon/options.h"
#include "agent/framer.h"
#include "base/diag.h"
#include "control/control_wire.h"
#include "exporters/exporter.h"
#include "exporters/otlp_request.h"
#include "sandbox/discovery.h"

/* The sections of the commands' --help (struct kt_opt_doc.section). */
enum {
	S_OPTIONS = 1, /* decode, the forwarder form: one untitled list */
	S_CAPTURE,
	S_LIMITS,
	S_EXPORT,
	S_NODE,
	S_OTHER,
	S_PROBES,
	S_TARGET,
};

/* The forwarder form takes every run option. */
#define RUN (KT_CMD_BIT(KT_CMD_RUN) | KT_CMD_BIT(KT_CMD_FORWARDER))
#define DECODE KT_CMD_BIT(KT_CMD_DECODE)
#define PROBE KT_CMD_BIT(KT_CMD_PROBE)
#define ALL (RUN | DECODE)

#define FIELD(f) .off = offsetof(struct kt_config, f), .size = sizeof(((struct kt_config *)0)->f)
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define LIST_OF(a, count)                                                                         \
	.off = offsetof(struct kt_config, a), .count_off = offsetof(struct kt_config, count),     \
	.max = ARRAY_LEN(((struct kt_config *)0)->a)

/* How each command's --help lists an option. */
#define RUN_DOC(section, text) .doc[KT_CMD_RUN] = { (section), 0, 0, (text) }
#define DECODE_DOC(flags, text) .doc[KT_CMD_DECODE] = { S_OPTIONS, 0, (flags), (text) }
#define PROBE_DOC(section, text) .doc[KT_CMD_PROBE] = { (section), 0, 0, (text) }
/* one description for run and probe, in a section of each */
#define RUN_PROBE_DOC(run_section, probe_section, text)                                        \
	RUN_DOC(run_section, text), PROBE_DOC(probe_section, text)
/* the forwarder lists its flags in kata-trace-forwarder's order: rank */
#define FWD_DOC(rank, text) .doc[KT_CMD_FORWARDER] = { S_OPTIONS, (rank), 0, (text) }

/* ------------------------------------------------------------ the odd ones */

/* What "{default}" in a description shows. */
static void config_defaults(void *cfg)
{
	kt_config_defaults(cfg);
}

static void help(void *cfg, const struct kt_opt_use *u, const char *arg)
{
	(void)cfg;
	(void)arg;
	kt_usage(u->cmd == KT_CMD_FORWARDER ? "forwarder" : u->cmd_name, 0);
	exit(0);
}

static void version(void *cfg, const struct kt_opt_use *u, const char *arg)
{
	(void)cfg;
	(void)u;
	(void)arg;
	printf("katatrace-bpf %s\n", KT_VERSION);
	exit(0);
}

static void vsock_cid(void *cfg, const struct kt_opt_use *u, const char *arg)
{
	struct kt_config *c = cfg;
	if (strcmp(arg, "any") == 0)
		c->vsock_cid = 0xffffffffu; /* VMADDR_CID_ANY */
	else
		c->vsock_cid = (unsigned)kt_opt_number(u, arg, 0, 0xfffffffeu);
	c->vsock_cid_set = true;
}

static void otlp_endpoint(void *cfg, const struct kt_opt_use *u, const char *arg)
{
	struct kt_config *c = cfg;
	if (strncmp(arg, "http://", 7) != 0 && strncmp(arg, "https://", 8) != 0 &&
	    !kt_otlp_is_host_port(arg))
		kt_opt_usage_error(u->cmd_name,
				   "%s: '%s' is not an http:// or https:// URL or host:port", u->opt,
				   arg);
	c->otlp_endpoint = arg;
}

static void metrics_address(void *cfg, const struct kt_opt_use *u, const char *arg)
{
	struct kt_metrics_addr a;
	char why[160];
	if (kt_metrics_addr_parse(arg, &a, why, sizeof(why)))
		kt_opt_usage_error(u->cmd_name, "%s: %s", u->opt, why);
	((struct kt_config *)cfg)->metrics_address = arg;
}

static void shim_socket_dir(void *cfg, const struct kt_opt_use *u, const char *arg)
{
	kt_config_add_shim_dirs(cfg, u->cmd_name, arg);
}

static int attach(void *cfg, const char *arg)
{
	return kt_attach_parse(arg, &((struct kt_config *)cfg)->attach);
}

static int format(void *cfg, const char *arg)
{
	return kt_format_parse(arg, &((struct kt_config *)cfg)->format);
}

static int otlp_protocol(void *cfg, const char *arg)
{
	return kt_otlp_protocol_parse(arg, &((struct kt_config *)cfg)->otlp_protocol);
}

/* The process's log level, not a field: it applies while parsing already. */
static int log_level(void *cfg, const char *arg)
{
	(void)cfg;
	return kt_log_parse_level(arg, &kt_log_level);
}

/* The same for the format of those lines. */
static int log_format(void *cfg, const char *arg)
{
	(void)cfg;
	return kt_log_parse_format(arg, &kt_log_format);
}

static int sandbox_path(const char *arg, char *why, size_t whylen)
{
	struct kt_disc_template t;
	return kt_disc_template_parse(arg, &t, why, whylen);
}

static int bundle_path(const char *arg, char *why, size_t whylen)
{
	return kt_bundle_pattern_check(arg, why, whylen);
}

static const struct kt_opt_choice modes[] = {
	{ "sink", KT_MODE_SINK },
	{ "tap", KT_MODE_TAP },
	{ NULL, 0 },
};

static const struct kt_opt_choice after_handover[] = {
	{ "exit", KT_AFTER_HANDOVER_EXIT },
	{ "wait", KT_AFTER_HANDOVER_WAIT },
	{ NULL, 0 },
};

static const struct kt_opt_choice captures[] = {
	{ "bpf", KT_CAPTURE_BPF },
	{ "socket", KT_CAPTURE_SOCKET },
	{ NULL, 0 },
};

static const struct kt_opt_choice vias[] = {
	{ "auto", KT_VIA_AUTO },
	{ "daemon", KT_VIA_DAEMON },
	{ "self", KT_VIA_SELF },
	{ NULL, 0 },
};

static const struct kt_opt_choice exporters[] = {
	{ "otlp-grpc", KT_EXPORTER_OTLP_GRPC },
	{ "otlp-http", KT_EXPORTER_OTLP_HTTP },
	{ "file", KT_EXPORTER_FILE },
	{ "console", KT_EXPORTER_CONSOLE },
	{ NULL, 0 },
};

/* ------------------------------------------------------------ the table */

static const struct kt_opt opts[] = {
	/* Probes (only the probe command) */
	{ "span", .arg = "SPEC", .cmds = PROBE, .kind = KT_OPT_LIST,
	  LIST_OF(span_specs, n_span_specs), .empty = "SPEC",
	  PROBE_DOC(S_PROBES, "a span per call: uprobe:BINARY:SYMBOL, kprobe:FUNCTION\n"
			      "or tracepoint:CATEGORY:ENTER/EXIT; repeatable") },
	{ "event", .arg = "SPEC", .cmds = PROBE, .kind = KT_OPT_LIST,
	  LIST_OF(event_specs, n_event_specs), .empty = "SPEC",
	  PROBE_DOC(S_PROBES, "a log record per hit: uprobe:BINARY:SYMBOL,\n"
			      "kprobe:FUNCTION or tracepoint:CATEGORY:NAME; repeatable") },
	{ "args", .arg = "N", .cmds = PROBE, .kind = KT_OPT_NUMBER, FIELD(probe_args), .min = 0,
	  .max = KT_PROBE_MAX_ARGS,
	  PROBE_DOC(S_PROBES, "the first N integer arguments as attributes\n"
			      "(default {default}, at most 6)") },
	{ "program-string", 'e', "PROGRAM", .cmds = PROBE, .kind = KT_OPT_STRING, FIELD(program),
	  .empty = "program",
	  PROBE_DOC(S_PROBES, "run this bpftrace program; its printf lines and maps\n"
			      "become log records") },
	{ "program-file", 'f', "FILE", .cmds = PROBE, .kind = KT_OPT_FILE, FIELD(program_file),
	  PROBE_DOC(S_PROBES, "the same from a file") },
	{ "duration", .arg = "SEC", .cmds = PROBE, .kind = KT_OPT_NUMBER, FIELD(duration_s),
	  .min = 0, .max = 7 * 86400,
	  PROBE_DOC(S_PROBES, "stop after SEC seconds (default {default}: at Ctrl-C or\n"
			      "when the target ends)") },

	/* Capture */
	{ "mode", .cmds = RUN, .kind = KT_OPT_CHOICE, FIELD(mode), .choices = modes,
	  RUN_DOC(S_CAPTURE, "sink (default): listen on vsock port <port> and on\n"
			     "<socket-path>_<port> for each --socket-path; tap: bind\n"
			     "nothing, capture what another listener (e.g.\n"
			     "kata-trace-forwarder) reads") },
	{ "capture", .cmds = RUN, .kind = KT_OPT_CHOICE, FIELD(capture), .choices = captures,
	  RUN_DOC(S_CAPTURE, "bpf (default); socket: no BPF, decode what the sink reads") },
	{ "attach", .arg = "auto|fentry|kprobe|tracepoint", .cmds = RUN, .kind = KT_OPT_CHOICE,
	  .parse = attach,
	  RUN_DOC(S_CAPTURE, "kernel attach strategy (default auto: first that works)") },
	{ "socket-path", .arg = "PATH", .cmds = RUN, .kind = KT_OPT_LIST,
	  LIST_OF(socket_paths, n_socket_paths), .empty = "path",
	  RUN_DOC(S_CAPTURE, "hybrid-vsock socket (uds) of a sandbox; repeatable"),
	  FWD_DOC(1, "hypervisor socket: listen on PATH_<vsock-port>") },
	{ "capture-path", .arg = "PREFIX", .cmds = RUN, .kind = KT_OPT_LIST,
	  LIST_OF(capture_paths, n_capture_paths), .empty = "prefix",
	  RUN_DOC(S_CAPTURE, "also capture listeners whose path starts with PREFIX") },
	{ "vsock-port", .arg = "N", .cmds = RUN, .kind = KT_OPT_NUMBER, FIELD(vsock_port),
	  .min = 1, .max = 0xfffffffeu,
	  RUN_DOC(S_CAPTURE, "agent trace port (default {default}): captures vsock host\n"
			     "port N and *_N unix sockets"),
	  FWD_DOC(3, "agent trace port (default {default})") },
	{ "vsock-cid", .arg = "CID|any", .cmds = RUN, .kind = KT_OPT_CUSTOM, .custom = vsock_cid,
	  RUN_DOC(S_CAPTURE, "sink: vsock address to listen on (default any)"),
	  FWD_DOC(2, "vsock address to listen on (default any)") },
	{ "jaeger-port", .arg = "N", .cmds = RUN, .kind = KT_OPT_NUMBER, FIELD(jaeger_port),
	  .min = 0, .max = 0xfffffffeu,
	  RUN_DOC(S_CAPTURE, "Kata 1.x agents: Jaeger thrift spans on vsock port N\n"
			     "and *_N sockets (default {default}; 0: off)") },
	{ "journal-port", .arg = "N", .cmds = RUN, .kind = KT_OPT_NUMBER, FIELD(journal_port),
	  .min = 0, .max = 0xfffffffeu,
	  RUN_DOC(S_CAPTURE, "Kata 1.x agents: the guest journal (syslog records)\n"
			     "on vsock port N and *_N sockets, exported as OTLP\n"
			     "logs (default {default}; 0: off)") },
	{ "no-ttrpc", .cmds = RUN, .kind = KT_OPT_FLAG, FIELD(ttrpc), .flag = false,
	  RUN_DOC(S_CAPTURE, "no ttrpc.<Method> spans from the runtime's calls to\n"
			     "the agent (hypervisors' sockets, vsock), and no\n"
			     "containerd shim Task API spans") },
	{ "shim-socket-dir", .arg = "DIR", .cmds = RUN, .kind = KT_OPT_CUSTOM,
	  .custom = shim_socket_dir,
	  RUN_DOC(S_CAPTURE, "containerd's shim sockets: its calls to the shims\n"
			     "become <service>/<method> spans, e.g.\n"
			     "containerd.task.v2.Task/Create; repeatable or a comma\n"
			     "list, under --run-root (default /run/containerd/s)") },
	{ "no-collate", .cmds = RUN, .kind = KT_OPT_FLAG, FIELD(collate), .flag = false,
	  RUN_DOC(S_CAPTURE, "leave the agent's spans in the traces it made; by\n"
			     "default a trace of the agent that the runtime did\n"
			     "not start joins its sandbox's trace, under the\n"
			     "ttrpc.<Method> span of the call it served") },
	{ "no-complete-traces", .cmds = RUN, .kind = KT_OPT_FLAG, FIELD(complete_traces),
	  .flag = false,
	  RUN_DOC(S_CAPTURE, "no synthesised parents for spans whose parent never\n"
			     "arrived when their sandbox ended") },
	{ "collate", .cmds = RUN, .kind = KT_OPT_FLAG, FIELD(collate), .flag = true,
	  RUN_DOC(S_CAPTURE, "switch them on (kata-trace-forwarder form)") },
	{ "complete-traces", .cmds = RUN, .kind = KT_OPT_FLAG, FIELD(complete_traces),
	  .flag = true, .doc[KT_CMD_RUN] = { S_CAPTURE, 0, KT_DOC_JOIN, NULL } },
	{ "complete-delay", .arg = "MS", .cmds = RUN, .kind = KT_OPT_NUMBER,
	  FIELD(complete_delay_ms), .min = 0, .max = 3600000,
	  RUN_DOC(S_CAPTURE, "wait for late spans after a sandbox ends (default {default})") },
	{ "clock-skew", .arg = "MS", .cmds = RUN, .kind = KT_OPT_NUMBER, FIELD(clock_skew_ms),
	  .min = 0, .max = 3600000,
	  RUN_DOC(S_CAPTURE, "guest clock error tolerated when an agent span is\n"
			     "matched to the call it served (default {default})") },
	{ "no-vm-spans", .cmds = RUN, .kind = KT_OPT_FLAG, FIELD(vm_spans), .flag = false,
	  RUN_DOC(S_CAPTURE, "no kata.vm / vsock.connection spans from kernel events\n"
			     "(hypervisor exec/exit, KVM exits, vsock connections)") },
	{ "ttrpc-vsock-port", .arg = "N", .cmds = RUN, .kind = KT_OPT_NUMBER,
	  FIELD(ttrpc_vsock_port), .min = 0, .max = 0xfffffffeu,
	  RUN_DOC(S_CAPTURE, "guest port the agent serves ttrpc on (QEMU: the\n"
			     "runtime dials vsock://<cid>:N); default {default}, 0: off") },
	{ "format", .arg = "auto|json|bincode", .cmds = ALL, .kind = KT_OPT_CHOICE,
	  .parse = format, RUN_DOC(S_CAPTURE, "span encoding (default auto, per frame)"),
	  DECODE_DOC(0, "payload encoding (default auto: per frame)") },
	{ "raw", .cmds = DECODE, .kind = KT_OPT_FLAG, FIELD(raw), .flag = true,
	  DECODE_DOC(0, "each FILE is one unframed payload") },
	{ "ring-buffer-size", .arg = "BYTES", .cmds = RUN, .kind = KT_OPT_NUMBER,
	  FIELD(ringbuf_bytes), .min = 1u << 16, .max = 1u << 30, .pow2 = true,
	  RUN_DOC(S_CAPTURE, "kernel ring buffer (default {default}, power of two)") },
	{ "burst-buffer", .arg = "BYTES", .cmds = RUN, .kind = KT_OPT_NUMBER, FIELD(burst_bytes),
	  .min = 1u << 16, .max = 1ull << 40,
	  RUN_DOC(S_CAPTURE, "records read from the ring buffer and waiting to be\n"
			     "decoded, at most (default {default}; drawn from\n"
			     "--memory-budget as it fills): a burst up to it is\n"
			     "not lost") },
	{ "run-root", .arg = "DIR", .cmds = RUN | PROBE, .kind = KT_OPT_STRING, FIELD(run_root),
	  RUN_PROBE_DOC(S_CAPTURE, S_TARGET, "prefix of Kata's /run paths (default: none)") },

	/* Limits */
	{ "memory-budget", .arg = "BYTES", .cmds = RUN, .kind = KT_OPT_NUMBER,
	  FIELD(memory_budget), .min = 1u << 20, .max = 1ull << 40,
	  RUN_DOC(S_LIMITS, "everything held for guests' connections: partial\n"
			    "frames, reassembly, decoder state, spans and logs\n"
			    "waiting for export (default {default}). Over it, the\n"
			    "connection holding the most loses its pending data") },
	{ "max-connections", .arg = "N", .cmds = RUN, .kind = KT_OPT_NUMBER,
	  FIELD(max_connections), .min = 1, .max = 1u << 20,
	  RUN_DOC(S_LIMITS, "connections followed at once (default {default}); newer\n"
			    "ones are refused and counted") },
	{ "max-sandbox-connections", .arg = "N", .cmds = RUN, .kind = KT_OPT_NUMBER,
	  FIELD(max_sandbox_connections), .min = 1, .max = 1u << 20,
	  RUN_DOC(S_LIMITS, "the same per sandbox (default {default})") },
	{ "max-frame", .arg = "BYTES", .cmds = ALL, .kind = KT_OPT_NUMBER, FIELD(max_frame),
	  .min = KT_FRAME_MIN_PAYLOAD, .max = 1ull << 30,
	  RUN_DOC(S_LIMITS, "largest accepted span payload (default {default})"),
	  DECODE_DOC(0, "largest accepted payload (default {default})") },

	/* Export */
	{ "export-via", .cmds = PROBE, .kind = KT_OPT_CHOICE, FIELD(export_via), .choices = vias,
	  PROBE_DOC(S_EXPORT, "auto (default): through the running daemon\n"
			      "(katatrace-bpf run) unless --exporter, --output,\n"
			      "--otlp-endpoint or --otlp-protocol is given;\n"
			      "daemon: through it or fail; self: by itself") },
	{ "exporter", .cmds = RUN | PROBE, .kind = KT_OPT_CHOICE, FIELD(exporter), .choices = exporters,
	  RUN_PROBE_DOC(S_EXPORT, S_EXPORT, "default: OTLP if an endpoint is set (flag or\n"
			    "OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT), file if --output\n"
			    "is set, else console") },
	{ "otlp-endpoint", .arg = "URL", .cmds = RUN | PROBE, .kind = KT_OPT_CUSTOM,
	  .custom = otlp_endpoint,
	  RUN_PROBE_DOC(S_EXPORT, S_EXPORT, "collector: http(s)://host:port (OTLP/gRPC), a URL with\n"
			    "a path (OTLP/HTTP, e.g. http://127.0.0.1:4318/v1/traces)\n"
			    "or host:port (OTLP/gRPC over TLS; plain text with\n"
			    "OTEL_EXPORTER_OTLP_INSECURE=true). Log records go to\n"
			    "LogsService/Export (gRPC) or, over HTTP, to\n"
			    "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT, else the generic\n"
			    "endpoint + /v1/logs, else .../v1/traces -> .../v1/logs"),
	  FWD_DOC(5, "collector (default " KT_FORWARDER_OTLP_ENDPOINT ", gRPC)") },
	{ "otlp-protocol", .arg = "grpc|http/protobuf|http/json", .cmds = RUN | PROBE,
	  .kind = KT_OPT_CHOICE, .parse = otlp_protocol,
	  RUN_PROBE_DOC(S_EXPORT, S_EXPORT, "OTLP transport (env OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL;\n"
			    "default: http/protobuf if the endpoint has a path,\n"
			    "else grpc). --exporter otlp-http sends protobuf, or\n"
			    "OTLP/JSON with http/json") },
	{ "otlp-headers", .arg = "K=V,...", .cmds = RUN | PROBE, .kind = KT_OPT_STRING,
	  FIELD(otlp_headers),
	  RUN_PROBE_DOC(S_EXPORT, S_EXPORT, "extra headers / gRPC metadata (also\n"
			    "OTEL_EXPORTER_OTLP_HEADERS)") },
	{ "otlp-ca", .arg = "FILE", .cmds = RUN | PROBE, .kind = KT_OPT_FILE, FIELD(otlp_ca),
	  RUN_PROBE_DOC(S_EXPORT, S_EXPORT, "PEM CA bundle to trust for https:// instead of the\n"
			    "system's (env OTEL_EXPORTER_OTLP_[TRACES_]CERTIFICATE)") },
	{ "otlp-client-cert", .arg = "FILE", .cmds = RUN | PROBE, .kind = KT_OPT_FILE,
	  FIELD(otlp_client_cert),
	  RUN_PROBE_DOC(S_EXPORT, S_EXPORT, "PEM client certificate for mutual TLS (env\n"
			    "OTEL_EXPORTER_OTLP_[TRACES_]CLIENT_CERTIFICATE)") },
	{ "otlp-client-key", .arg = "FILE", .cmds = RUN | PROBE, .kind = KT_OPT_FILE,
	  FIELD(otlp_client_key),
	  RUN_PROBE_DOC(S_EXPORT, S_EXPORT, "its PEM private key (env\n"
			    "OTEL_EXPORTER_OTLP_[TRACES_]CLIENT_KEY; default: in\n"
			    "the certificate's file)") },
	{ "output", .arg = "FILE", .cmds = RUN | PROBE, .kind = KT_OPT_FILE, FIELD(output),
	  RUN_PROBE_DOC(S_EXPORT, S_EXPORT, "OTLP/JSON lines file for --exporter file (\"-\": stdout)") },
	{ "service-name", .arg = "NAME", .cmds = ALL, .kind = KT_OPT_STRING, FIELD(service_name),
	  .empty = "name",
	  RUN_DOC(S_EXPORT, "service.name where the agent sets none (default\n"
			    KT_DEFAULT_SERVICE_NAME "; alias --trace-name; env OTEL_SERVICE_NAME)"),
	  DECODE_DOC(0, "service.name where the agent sets none") },
	{ "trace-name", .arg = "NAME", .cmds = ALL, .alias = "service-name",
	  FWD_DOC(4, "service.name of the spans (default " KT_DEFAULT_SERVICE_NAME ")") },
	{ "batch-size", .arg = "N", .cmds = RUN | PROBE, .kind = KT_OPT_NUMBER, FIELD(batch_size),
	  .min = 1, .max = 1u << 20,
	  RUN_PROBE_DOC(S_EXPORT, S_EXPORT, "spans or log records per export request (default {default})") },
	{ "batch-timeout", .arg = "MS", .cmds = RUN | PROBE, .kind = KT_OPT_NUMBER,
	  FIELD(batch_timeout_ms), .min = 1, .max = 3600000,
	  RUN_PROBE_DOC(S_EXPORT, S_EXPORT, "longest a record waits for its batch (default {default})") },
	{ "queue-size", .arg = "N", .cmds = RUN | PROBE, .kind = KT_OPT_NUMBER, FIELD(queue_size),
	  .min = 1, .max = 1u << 24,
	  RUN_PROBE_DOC(S_EXPORT, S_EXPORT, "spans queued while the collector is slow, and as many\n"
			    "log records (default {default})") },
	{ "spool-dir", .arg = "DIR", .cmds = RUN, .kind = KT_OPT_STRING, FIELD(spool_dir),
	  .empty = "directory",
	  RUN_DOC(S_EXPORT, "OTLP exporters: keep what waits for the collector on\n"
			    "disk in DIR (created, owned by --user), replayed after a\n"
			    "restart (docs/spool.md)") },
	{ "spool-size", .arg = "BYTES", .cmds = RUN, .kind = KT_OPT_NUMBER, FIELD(spool_size),
	  .min = 1u << 16, .max = 1ull << 40,
	  RUN_DOC(S_EXPORT, "the spool's bound (default {default}); beyond, the\n"
			    "oldest requests are dropped, counted and logged") },

	/* Node-wide operation */
	{ "no-discovery", .cmds = RUN, .kind = KT_OPT_FLAG, FIELD(discovery), .flag = false,
	  RUN_DOC(S_NODE, "do not watch the run root for Kata sandboxes") },
	{ "sandbox-path", .arg = "HV=PATH", .cmds = RUN, .kind = KT_OPT_LIST,
	  LIST_OF(sandbox_paths, n_sandbox_paths), .check = sandbox_path,
	  RUN_DOC(S_NODE, "a sandbox layout to watch, PATH with {ID}; repeatable,\n"
			  "replaces the defaults (docs/discovery.md), e.g.\n"
			  "cloud-hypervisor=/run/vc/vm/{ID}/clh.sock") },
	{ "bundle-path", .arg = "PATTERN", .cmds = RUN | PROBE, .kind = KT_OPT_LIST,
	  LIST_OF(bundle_paths, n_bundle_paths), .check = bundle_path,
	  RUN_PROBE_DOC(S_NODE, S_TARGET, "where OCI bundles with the pods' CRI annotations are,\n"
			  "with * and {ID}; repeatable (default: containerd's\n"
			  "and CRI-O's)") },
	{ "control-socket", .arg = "PATH", .cmds = RUN | PROBE, .kind = KT_OPT_STRING,
	  FIELD(control_socket), .empty = "path",
	  RUN_DOC(S_NODE, "root's socket on which probes reach this daemon\n"
			  "(default " KT_CONTROL_SOCKET " under\n"
			  "--run-root; none: no socket)"),
	  PROBE_DOC(S_EXPORT, "the daemon's control socket (default as run's)") },
	{ "takeover", .cmds = RUN, .kind = KT_OPT_FLAG, FIELD(takeover), .flag = true,
	  RUN_DOC(S_NODE, "take over from the daemon running on --control-socket:\n"
			  "its listeners, connections, BPF programs and spool,\n"
			  "without closing any (docs/takeover.md); none running:\n"
			  "start as usual") },
	{ "fd-store", .cmds = RUN, .kind = KT_OPT_FLAG, FIELD(fd_store), .flag = true,
	  RUN_DOC(S_NODE, "under systemd (FileDescriptorStoreMax=): a stop hands\n"
			  "everything to the service's descriptor store and the\n"
			  "next start takes it over: a restart closes nothing") },
	{ "after-handover", .cmds = RUN, .kind = KT_OPT_CHOICE, FIELD(after_handover),
	  .choices = after_handover,
	  RUN_DOC(S_NODE, "once taken over: exit (default, status 0) or wait for\n"
			  "a stop signal (in a pod, so that the kubelet does not\n"
			  "restart it)") },
	{ "user", .arg = "USER", .cmds = RUN, .kind = KT_OPT_STRING, FIELD(user), .empty = "name",
	  RUN_DOC(S_NODE, "identity after start-up (default " KT_DEFAULT_USER ", no\n"
			  "capabilities; a broker process keeps what binding\n"
			  "sockets needs); --user root keeps every privilege") },
	{ "metrics-address", .arg = "HOST:PORT", .cmds = RUN, .kind = KT_OPT_CUSTOM,
	  .custom = metrics_address,
	  RUN_DOC(S_NODE, "serve Prometheus metrics at http://HOST:PORT/metrics,\n"
			  "and /healthz, /readyz (default: none), e.g.\n"
			  "127.0.0.1:2112, or :2112 for every address") },

	/* Other */
	{ "dump-only", .cmds = RUN, .kind = KT_OPT_FLAG, FIELD(dump_only), .flag = true,
	  RUN_DOC(S_OTHER, "same as --exporter console (kata-trace-forwarder's flag)"),
	  FWD_DOC(6, "print spans on stdout instead of forwarding them") },
	{ "log-level", 'l', "LEVEL", .cmds = ALL | PROBE, .kind = KT_OPT_CHOICE, .parse = log_level,
	  .values = "error|warn|info|debug|trace",
	  RUN_PROBE_DOC(S_OTHER, S_OTHER, "error|warn|info|debug|trace (default info)"),
	  DECODE_DOC(KT_DOC_LONG, "error|warn|info|debug|trace (default warn)"),
	  FWD_DOC(7, "critical|error|warn|info|debug|trace (default info)") },
	/* the forwarder form takes it too; its --help lists only kata-trace-forwarder's flags */
	{ "log-format", .arg = "text|json", .cmds = ALL | PROBE, .kind = KT_OPT_CHOICE,
	  .parse = log_format,
	  RUN_PROBE_DOC(S_OTHER, S_OTHER, "text (default) or json: one JSON object per line on\n"
					  "stderr (time, level, msg, pid, component)"),
	  DECODE_DOC(0, "text (default) or json: JSON lines on stderr") },
	{ "stats-interval", .arg = "SEC", .cmds = RUN, .kind = KT_OPT_NUMBER,
	  FIELD(stats_interval_s), .min = 0, .max = 86400,
	  RUN_DOC(S_OTHER, "log counters every SEC seconds (default {default}: only at exit)") },
	{ "version", 'v', .cmds = RUN, .kind = KT_OPT_CUSTOM, .custom = version,
	  FWD_DOC(8, "print the version") },
	{ "help", 'h', .cmds = ALL | PROBE, .kind = KT_OPT_CUSTOM, .custom = help },
};

_Static_assert(ARRAY_LEN(opts) <= KT_OPTS_MAX, "KT_OPTS_MAX is too small for the table");

const struct kt_optset kt_config_options = {
	.opts = opts,
	.n_opts = ARRAY_LEN(opts),
	.cfg_size = sizeof(struct kt_config),
	.defaults = config_defaults,
	.help = {
		[KT_CMD_RUN] = {
			.name = "run",
			.head = "Usage: katatrace-bpf run [OPTIONS]\n"
				"\n"
				"Capture the Kata agent's trace spans in the kernel and export them as OTLP.\n"
				"\n",
			.sections = {
				{ S_CAPTURE, "Capture" },
				{ S_LIMITS, "Limits (what a guest can make the daemon hold)" },
				{ S_EXPORT, "Export" },
				{ S_NODE, "Node-wide operation" },
				{ S_OTHER, "Other" },
			},
			.n_sections = 5,
			.column = 25,
			.tail = "\n"
				"SIGINT/SIGTERM flush everything and print a one-line summary.\n"
				"\n"
				"Examples:\n"
				"  # every hybrid-vsock sandbox on this node, spans printed on the console\n"
				"  katatrace-bpf run\n"
				"  # listen for one Cloud Hypervisor sandbox, export to a local collector\n"
				"  katatrace-bpf run --socket-path /run/vc/vm/$ID/clh.sock \\\n"
				"      --otlp-endpoint http://127.0.0.1:4317\n"
				"  # the same over OTLP/HTTP\n"
				"  katatrace-bpf run --socket-path /run/vc/vm/$ID/clh.sock \\\n"
				"      --otlp-endpoint http://127.0.0.1:4318/v1/traces\n"
				"  # beside a running kata-trace-forwarder, OTLP/JSON lines to a file\n"
				"  katatrace-bpf run --mode tap --output /var/log/kata-spans.jsonl\n"
				"  # no BPF available: decode what the listener reads\n"
				"  katatrace-bpf run --capture socket --socket-path /run/vc/vm/$ID/clh.sock\n"
				"  # the agent's spans exactly as it sent them (no sandbox traces), no VM spans\n"
				"  katatrace-bpf run --no-collate --no-complete-traces --no-vm-spans\n"
				"  # containerd with a non-default shim socket directory, OTLP/gRPC collector\n"
				"  katatrace-bpf run --shim-socket-dir /run/containerd-alt/s \\\n"
				"      --otlp-endpoint http://127.0.0.1:4317\n"
				"  # a small node: hold at most 64 MiB for guests, 16 connections per sandbox\n"
				"  katatrace-bpf run --memory-budget 64M --max-sandbox-connections 16\n"
				"  # in a DaemonSet: metrics for Prometheus, /healthz and /readyz for the kubelet,\n"
				"  # what waits for the collector kept on the node's disk across restarts\n"
				"  katatrace-bpf run --metrics-address :2112 \\\n"
				"      --otlp-endpoint http://otel-collector.observability:4317 \\\n"
				"      --spool-dir /var/lib/katatrace-bpf/spool\n"
				"  # upgrade in place: the new binary takes over from the running daemon,\n"
				"  # no agent connection closed, no span lost\n"
				"  katatrace-bpf run --takeover --spool-dir /var/lib/katatrace-bpf/spool\n",
		},
		[KT_CMD_DECODE] = {
			.name = "decode",
			.head = "Usage: katatrace-bpf decode [OPTIONS] FILE...\n"
				"\n"
				"Decode Kata agent trace streams captured to files (8-byte big-endian length +\n"
				"span payload, back to back) and print OTLP/JSON lines on stdout, one\n"
				"ExportTraceServiceRequest per line. \"-\" reads standard input.\n"
				"\n",
			.sections = { { S_OPTIONS, NULL } },
			.n_sections = 1,
			.column = 28,
			.tail = "\n"
				"Exit status: 0 all frames decoded, 1 some frames rejected, 2 usage or I/O error.\n"
				"\n"
				"Examples:\n"
				"  katatrace-bpf decode capture.bin > spans.jsonl\n"
				"  katatrace-bpf decode --raw --format bincode span.bin\n",
		},
		[KT_CMD_PROBE] = {
			.name = "probe",
			.head = "Usage: katatrace-bpf probe TARGET [PROBES] [OPTIONS]\n"
				"       katatrace-bpf probe list     (the probes the daemon serves)\n"
				"       katatrace-bpf probe stop ID  (end one of them)\n"
				"\n"
				"Probe a Kata sandbox's host side (hypervisor, runtime shim, virtiofsd, KVM)\n"
				"and export what the probes see as spans and log records in the sandbox's\n"
				"trace. TARGET is node, sandbox/ID, pod/NAMESPACE/NAME or pid/PID. Specs and\n"
				"programs may use $sandbox_id, $hypervisor_pid, $shim_pid, $virtiofsd_pid\n"
				"and, for pid/ targets, $pid. A container's own processes run inside the\n"
				"VM: they have no host pid, and $container_pid is an error.\n"
				"\n"
				"When katatrace-bpf run is running, the probe hands what it makes to it\n"
				"(its root-only control socket): the daemon exports it with everything\n"
				"else. Without it the probe exports by itself.\n"
				"\n",
			.sections = {
				{ S_PROBES, "Probes" },
				{ S_TARGET, "Finding the target" },
				{ S_EXPORT, "Export (through a running daemon, else console by default)" },
				{ S_OTHER, "Other" },
			},
			.n_sections = 4,
			.column = 25,
			.tail = "\n"
				"Filtering happens in the kernel, by the target's process ids. A Go\n"
				"function's return is probed at each of its RET instructions, never with a\n"
				"uretprobe (docs/probes.md). Ctrl-C stops the probe and prints a summary.\n"
				"\n"
				"Examples:\n"
				"  # where container start time goes in the runtime shim\n"
				"  katatrace-bpf probe pod/default/web --args 1 \\\n"
				"      --span 'uprobe:/proc/$shim_pid/exe:github.com/kata-containers/kata-containers/src/runtime/virtcontainers.(*Sandbox).CreateContainer'\n"
				"  # the KVM exits of one pod's VM, a log record each, for 10 seconds\n"
				"  katatrace-bpf probe pod/default/web --event tracepoint:kvm:kvm_exit --duration 10\n"
				"  # how long virtiofsd's reads take, with their file descriptor (bytes: the return)\n"
				"  katatrace-bpf probe sandbox/$ID --args 1 \\\n"
				"      --span tracepoint:syscalls:sys_enter_preadv2/sys_exit_preadv2\n"
				"  # a bpftrace program on the hypervisor, spans and records to a file\n"
				"  katatrace-bpf probe sandbox/$ID --exporter file --output probe.jsonl \\\n"
				"      -e 'tracepoint:kvm:kvm_exit /pid == $hypervisor_pid/ { @[args->exit_reason] = count(); }'\n"
				"  # one process's function, spans to a collector\n"
				"  katatrace-bpf probe pid/1234 --span 'uprobe:/proc/$pid/exe:main.handle' \\\n"
				"      --otlp-endpoint http://127.0.0.1:4317\n"
				"  # the probes exporting through the daemon, and the end of probe 3\n"
				"  katatrace-bpf probe list\n"
				"  katatrace-bpf probe stop 3\n",
		},
		[KT_CMD_FORWARDER] = {
			.name = "run", /* its usage errors point to run --help */
			.head = "Usage: katatrace-bpf [OPTIONS]   (or installed as kata-trace-forwarder)\n"
				"\n"
				"Without a command katatrace-bpf is a drop-in for kata-trace-forwarder: its\n"
				"flags keep their meanings, and spans go to an OTLP/gRPC collector at\n"
				"http://localhost:4317 unless --otlp-endpoint or OTEL_EXPORTER_OTLP_* say\n"
				"otherwise. Unlike the forwarder it needs no per-sandbox instance (every\n"
				"sandbox on the node is discovered), serves any number of connections, and\n"
				"keeps running while the collector is down (spans are queued and retried).\n"
				"Like the forwarder it relays the agent's spans as they are (--collate and\n"
				"--complete-traces give one trace per sandbox, as 'run' does by default).\n"
				"Every option of 'katatrace-bpf run --help' is accepted too.\n"
				"\n",
			.sections = { { S_OPTIONS, NULL } },
			.n_sections = 1,
			.column = 25,
			.tail = "\n"
				"Examples (the commands of Kata's tracing documentation):\n"
				"  # QEMU\n"
				"  katatrace-bpf --trace-name kata-agent\n"
				"  # Cloud Hypervisor, sandbox \"foo\"\n"
				"  sudo katatrace-bpf --trace-name kata-agent --socket-path /run/vc/vm/foo/clh.sock\n"
				"  # Firecracker, spans on stdout\n"
				"  sudo katatrace-bpf --dump-only --socket-path /run/vc/firecracker/foo/root/kata.hvsock\n",
		},
	},
};
