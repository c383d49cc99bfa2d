/* SPDX-License-Identifier: Apache-2.0 */
#include "daemon/config.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exporters/export_queue.h"
#include "exporters/exporter.h"
#include "agent/framer.h"
#include "base/log.h"
#include "stream/conn_limits.h"
#include "sandbox/discovery.h"
#include "base/mem_budget.h"
#include "exporters/otlp_build.h"
#include "rpc/task_api.h"

enum {
	OPT_MODE = 0x100,
	OPT_CAPTURE,
	OPT_ATTACH,
	OPT_SOCKET_PATH,
	OPT_CAPTURE_PATH,
	OPT_VSOCK_PORT,
	OPT_VSOCK_CID,
	OPT_FORMAT,
	OPT_EXPORTER,
	OPT_OTLP_ENDPOINT,
	OPT_OTLP_PROTOCOL,
	OPT_OTLP_HEADERS,
	OPT_OTLP_CA,
	OPT_OTLP_CLIENT_CERT,
	OPT_OTLP_CLIENT_KEY,
	OPT_OUTPUT,
	OPT_SERVICE_NAME,
	OPT_LOG_LEVEL,
	OPT_MAX_FRAME,
	OPT_BATCH_SIZE,
	OPT_BATCH_TIMEOUT,
	OPT_QUEUE_SIZE,
	OPT_RING_BUFFER,
	OPT_RUN_ROOT,
	OPT_STATS_INTERVAL,
	OPT_RAW,
	OPT_USER,
	OPT_NO_DISCOVERY,
	OPT_SANDBOX_PATH,
	OPT_BUNDLE_PATH,
	OPT_DUMP_ONLY,
	OPT_JAEGER_PORT,
	OPT_JOURNAL_PORT,
	OPT_NO_TTRPC,
	OPT_NO_COLLATE,
	OPT_NO_COMPLETE,
	OPT_COLLATE,
	OPT_COMPLETE,
	OPT_COMPLETE_DELAY,
	OPT_CLOCK_SKEW,
	OPT_SHIM_SOCKET_DIR,
	OPT_NO_VM_SPANS,
	OPT_TTRPC_VSOCK_PORT,
	OPT_MEMORY_BUDGET,
	OPT_MAX_CONNECTIONS,
	OPT_MAX_SANDBOX_CONNECTIONS,
};

static const struct option run_opts[] = {
	{ "mode", required_argument, NULL, OPT_MODE },
	{ "capture", required_argument, NULL, OPT_CAPTURE },
	{ "attach", required_argument, NULL, OPT_ATTACH },
	{ "socket-path", required_argument, NULL, OPT_SOCKET_PATH },
	{ "capture-path", required_argument, NULL, OPT_CAPTURE_PATH },
	{ "vsock-port", required_argument, NULL, OPT_VSOCK_PORT },
	{ "vsock-cid", required_argument, NULL, OPT_VSOCK_CID },
	{ "format", required_argument, NULL, OPT_FORMAT },
	{ "exporter", required_argument, NULL, OPT_EXPORTER },
	{ "otlp-endpoint", required_argument, NULL, OPT_OTLP_ENDPOINT },
	{ "otlp-protocol", required_argument, NULL, OPT_OTLP_PROTOCOL },
	{ "otlp-headers", required_argument, NULL, OPT_OTLP_HEADERS },
	{ "otlp-ca", required_argument, NULL, OPT_OTLP_CA },
	{ "otlp-client-cert", required_argument, NULL, OPT_OTLP_CLIENT_CERT },
	{ "otlp-client-key", required_argument, NULL, OPT_OTLP_CLIENT_KEY },
	{ "output", required_argument, NULL, OPT_OUTPUT },
	{ "service-name", required_argument, NULL, OPT_SERVICE_NAME },
	{ "trace-name", required_argument, NULL, OPT_SERVICE_NAME },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "max-frame", required_argument, NULL, OPT_MAX_FRAME },
	{ "batch-size", required_argument, NULL, OPT_BATCH_SIZE },
	{ "batch-timeout", required_argument, NULL, OPT_BATCH_TIMEOUT },
	{ "queue-size", required_argument, NULL, OPT_QUEUE_SIZE },
	{ "ring-buffer-size", required_argument, NULL, OPT_RING_BUFFER },
	{ "run-root", required_argument, NULL, OPT_RUN_ROOT },
	{ "stats-interval", required_argument, NULL, OPT_STATS_INTERVAL },
	{ "user", required_argument, NULL, OPT_USER },
	{ "no-discovery", no_argument, NULL, OPT_NO_DISCOVERY },
	{ "sandbox-path", required_argument, NULL, OPT_SANDBOX_PATH },
	{ "bundle-path", required_argument, NULL, OPT_BUNDLE_PATH },
	{ "dump-only", no_argument, NULL, OPT_DUMP_ONLY },
	{ "jaeger-port", required_argument, NULL, OPT_JAEGER_PORT },
	{ "journal-port", required_argument, NULL, OPT_JOURNAL_PORT },
	{ "no-ttrpc", no_argument, NULL, OPT_NO_TTRPC },
	{ "no-collate", no_argument, NULL, OPT_NO_COLLATE },
	{ "no-complete-traces", no_argument, NULL, OPT_NO_COMPLETE },
	{ "collate", no_argument, NULL, OPT_COLLATE },
	{ "complete-traces", no_argument, NULL, OPT_COMPLETE },
	{ "complete-delay", required_argument, NULL, OPT_COMPLETE_DELAY },
	{ "clock-skew", required_argument, NULL, OPT_CLOCK_SKEW },
	{ "shim-socket-dir", required_argument, NULL, OPT_SHIM_SOCKET_DIR },
	{ "no-vm-spans", no_argument, NULL, OPT_NO_VM_SPANS },
	{ "ttrpc-vsock-port", required_argument, NULL, OPT_TTRPC_VSOCK_PORT },
	{ "memory-budget", required_argument, NULL, OPT_MEMORY_BUDGET },
	{ "max-connections", required_argument, NULL, OPT_MAX_CONNECTIONS },
	{ "max-sandbox-connections", required_argument, NULL, OPT_MAX_SANDBOX_CONNECTIONS },
	{ "version", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static const struct option decode_opts[] = {
	{ "format", required_argument, NULL, OPT_FORMAT },
	{ "raw", no_argument, NULL, OPT_RAW },
	{ "max-frame", required_argument, NULL, OPT_MAX_FRAME },
	{ "service-name", required_argument, NULL, OPT_SERVICE_NAME },
	{ "trace-name", required_argument, NULL, OPT_SERVICE_NAME },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

void kt_usage(const char *cmd, int to_stderr)
{
	FILE *o = to_stderr ? stderr : stdout;

	if (cmd && strcmp(cmd, "decode") == 0) {
		fputs("Usage: katatrace-bpf decode [OPTIONS] FILE...\n"
		      "\n"
		      "Decode Kata agent trace streams captured to files (8-byte big-endian length +\n"
		      "span payload, back to back) and print OTLP/JSON lines on stdout, one\n"
		      "ExportTraceServiceRequest per line. \"-\" reads standard input.\n"
		      "\n"
		      "  --format auto|json|bincode  payload encoding (default auto: per frame)\n"
		      "  --raw                       each FILE is one unframed payload\n"
		      "  --max-frame BYTES           largest accepted payload (default 16M)\n"
		      "  --service-name NAME         service.name where the agent sets none\n"
		      "  --log-level LEVEL           error|warn|info|debug|trace (default warn)\n"
		      "\n"
		      "Exit status: 0 all frames decoded, 1 some frames rejected, 2 usage or I/O error.\n"
		      "\n"
		      "Examples:\n"
		      "  katatrace-bpf decode capture.bin > spans.jsonl\n"
		      "  katatrace-bpf decode --raw --format bincode span.bin\n",
		      o);
		return;
	}
	if (cmd && strcmp(cmd, "forwarder") == 0) {
		fputs("Usage: katatrace-bpf [OPTIONS]   (or installed as kata-trace-forwarder)\n"
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
		      "\n"
		      "  --socket-path PATH       hypervisor socket: listen on PATH_<vsock-port>\n"
		      "  --vsock-cid CID|any      vsock address to listen on (default any)\n"
		      "  --vsock-port N           agent trace port (default 10240)\n"
		      "  --trace-name NAME        service.name of the spans (default kata-agent)\n"
		      "  --otlp-endpoint URL      collector (default http://localhost:4317, gRPC)\n"
		      "  --dump-only              print spans on stdout instead of forwarding them\n"
		      "  -l, --log-level LEVEL    critical|error|warn|info|debug|trace (default info)\n"
		      "  -v, --version            print the version\n"
		      "\n"
		      "Examples (the commands of Kata's tracing documentation):\n"
		      "  # QEMU\n"
		      "  katatrace-bpf --trace-name kata-agent\n"
		      "  # Cloud Hypervisor, sandbox \"foo\"\n"
		      "  sudo katatrace-bpf --trace-name kata-agent --socket-path /run/vc/vm/foo/clh.sock\n"
		      "  # Firecracker, spans on stdout\n"
		      "  sudo katatrace-bpf --dump-only --socket-path /run/vc/firecracker/foo/root/kata.hvsock\n",
		      o);
		return;
	}
	if (cmd && strcmp(cmd, "run") == 0) {
		fputs("Usage: katatrace-bpf run [OPTIONS]\n"
		      "\n"
		      "Capture the Kata agent's trace spans in the kernel and export them as OTLP.\n"
		      "\n"
		      "Capture:\n"
		      "  --mode sink|tap          sink (default): listen on vsock port <port> and on\n"
		      "                           <socket-path>_<port> for each --socket-path; tap: bind\n"
		      "                           nothing, capture what another listener (e.g.\n"
		      "                           kata-trace-forwarder) reads\n"
		      "  --capture bpf|socket     bpf (default); socket: no BPF, decode what the sink reads\n"
		      "  --attach auto|fentry|kprobe|tracepoint\n"
		      "                           kernel attach strategy (default auto: first that works)\n"
		      "  --socket-path PATH       hybrid-vsock socket (uds) of a sandbox; repeatable\n"
		      "  --capture-path PREFIX    also capture listeners whose path starts with PREFIX\n"
		      "  --vsock-port N           agent trace port (default 10240): captures vsock host\n"
		      "                           port N and *_N unix sockets\n"
		      "  --vsock-cid CID|any      sink: vsock address to listen on (default any)\n"
		      "  --jaeger-port N          Kata 1.x agents: Jaeger thrift spans on vsock port N\n"
		      "                           and *_N sockets (default 6831; 0: off)\n"
		      "  --journal-port N         Kata 1.x agents: the guest journal (syslog records)\n"
		      "                           on vsock port N and *_N sockets, exported as OTLP\n"
		      "                           logs (default 5140; 0: off)\n"
		      "  --no-ttrpc               no ttrpc.<Method> spans from the runtime's calls to\n"
		      "                           the agent (hypervisors' sockets, vsock), and no\n"
		      "                           containerd shim Task API spans\n"
		      "  --shim-socket-dir DIR    containerd's shim sockets: its calls to the shims\n"
		      "                           become <service>/<method> spans, e.g.\n"
		      "                           containerd.task.v2.Task/Create; repeatable or a comma\n"
		      "                           list, under --run-root (default /run/containerd/s)\n"
		      "  --no-collate             leave the agent's spans in the traces it made; by\n"
		      "                           default a trace of the agent that the runtime did\n"
		      "                           not start joins its sandbox's trace, under the\n"
		      "                           ttrpc.<Method> span of the call it served\n"
		      "  --no-complete-traces     no synthesised parents for spans whose parent never\n"
		      "                           arrived when their sandbox ended\n"
		      "  --collate, --complete-traces  switch them on (kata-trace-forwarder form)\n"
		      "  --complete-delay MS      wait for late spans after a sandbox ends (default 5000)\n"
		      "  --clock-skew MS          guest clock error tolerated when an agent span is\n"
		      "                           matched to the call it served (default 1000)\n"
		      "  --no-vm-spans            no kata.vm / vsock.connection spans from kernel events\n"
		      "                           (hypervisor exec/exit, KVM exits, vsock connections)\n"
		      "  --ttrpc-vsock-port N     guest port the agent serves ttrpc on (QEMU: the\n"
		      "                           runtime dials vsock://<cid>:N); default 1024, 0: off\n"
		      "  --format auto|json|bincode  span encoding (default auto, per frame)\n"
		      "  --ring-buffer-size BYTES kernel ring buffer (default 16M, power of two)\n"
		      "  --run-root DIR           prefix of Kata's /run paths (default: none)\n"
		      "\n"
		      "Limits (what a guest can make the daemon hold):\n"
		      "  --memory-budget BYTES    everything held for guests' connections: partial\n"
		      "                           frames, reassembly, decoder state, spans and logs\n"
		      "                           waiting for export (default 256M). Over it, the\n"
		      "                           connection holding the most loses its pending data\n"
		      "  --max-connections N      connections followed at once (default 8192); newer\n"
		      "                           ones are refused and counted\n"
		      "  --max-sandbox-connections N  the same per sandbox (default 64)\n"
		      "  --max-frame BYTES        largest accepted span payload (default 16M)\n"
		      "\n"
		      "Export:\n"
		      "  --exporter otlp-grpc|otlp-http|file|console\n"
		      "                           default: OTLP if an endpoint is set (flag or\n"
		      "                           OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT), file if --output\n"
		      "                           is set, else console\n"
		      "  --otlp-endpoint URL      collector: http(s)://host:port (OTLP/gRPC), a URL with\n"
		      "                           a path (OTLP/HTTP, e.g. http://127.0.0.1:4318/v1/traces)\n"
		      "                           or host:port (OTLP/gRPC over TLS; plain text with\n"
		      "                           OTEL_EXPORTER_OTLP_INSECURE=true). Journal logs go to\n"
		      "                           LogsService/Export (gRPC) or, over HTTP, to\n"
		      "                           OTEL_EXPORTER_OTLP_LOGS_ENDPOINT, else the generic\n"
		      "                           endpoint + /v1/logs, else .../v1/traces -> .../v1/logs\n"
		      "  --otlp-protocol grpc|http/protobuf\n"
		      "                           OTLP transport (env OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL;\n"
		      "                           default: http/protobuf if the endpoint has a path,\n"
		      "                           else grpc)\n"
		      "  --otlp-headers K=V,...   extra headers / gRPC metadata (also\n"
		      "                           OTEL_EXPORTER_OTLP_HEADERS)\n"
		      "  --otlp-ca FILE           PEM CA bundle to trust for https:// instead of the\n"
		      "                           system's (env OTEL_EXPORTER_OTLP_[TRACES_]CERTIFICATE)\n"
		      "  --otlp-client-cert FILE  PEM client certificate for mutual TLS (env\n"
		      "                           OTEL_EXPORTER_OTLP_[TRACES_]CLIENT_CERTIFICATE)\n"
		      "  --otlp-client-key FILE   its PEM private key (env\n"
		      "                           OTEL_EXPORTER_OTLP_[TRACES_]CLIENT_KEY; default: in\n"
		      "                           the certificate's file)\n"
		      "  --output FILE            OTLP/JSON lines file for --exporter file (\"-\": stdout)\n"
		      "  --service-name NAME      service.name where the agent sets none (default\n"
		      "                           kata-agent; alias --trace-name; env OTEL_SERVICE_NAME)\n"
		      "  --batch-size N           spans per export request (default 512)\n"
		      "  --batch-timeout MS       longest a span waits for its batch (default 1000)\n"
		      "  --queue-size N           spans queued while the collector is slow (default 100000)\n"
		      "\n"
		      "Node-wide operation:\n"
		      "  --no-discovery           do not watch the run root for Kata sandboxes\n"
		      "  --sandbox-path HV=PATH   a sandbox layout to watch, PATH with {ID}; repeatable,\n"
		      "                           replaces the defaults (docs/discovery.md), e.g.\n"
		      "                           cloud-hypervisor=/run/vc/vm/{ID}/clh.sock\n"
		      "  --bundle-path PATTERN    where OCI bundles with the pods' CRI annotations are,\n"
		      "                           with * and {ID}; repeatable (default: containerd's\n"
		      "                           and CRI-O's)\n"
		      "  --user USER              identity after start-up (default nobody, no\n"
		      "                           capabilities; a broker process keeps what binding\n"
		      "                           sockets needs); --user root keeps every privilege\n"
		      "\n"
		      "Other:\n"
		      "  --dump-only              same as --exporter console (kata-trace-forwarder's flag)\n"
		      "  -l, --log-level LEVEL    error|warn|info|debug|trace (default info)\n"
		      "  --stats-interval SEC     log counters every SEC seconds (default 0: only at exit)\n"
		      "\n"
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
		      "  katatrace-bpf run --memory-budget 64M --max-sandbox-connections 16\n",
		      o);
		return;
	}
	fputs("Usage: katatrace-bpf COMMAND [OPTIONS]\n"
	      "       katatrace-bpf [FORWARDER OPTIONS]   (drop-in for kata-trace-forwarder)\n"
	      "\n"
	      "Host-side tracer for Kata Containers: captures the agent's trace spans from the\n"
	      "hypervisors' sockets in the kernel (eBPF), decodes them and exports OTLP.\n"
	      "\n"
	      "Commands:\n"
	      "  run      capture and export (the daemon)\n"
	      "  decode   decode captured trace streams from files to OTLP/JSON\n"
	      "  version  print the version\n"
	      "\n"
	      "Run 'katatrace-bpf COMMAND --help' for the options of a command, and\n"
	      "'katatrace-bpf help forwarder' for the kata-trace-forwarder compatible form.\n"
	      "\n"
	      "Examples:\n"
	      "  katatrace-bpf run\n"
	      "  katatrace-bpf run --mode tap --otlp-endpoint http://127.0.0.1:4317\n"
	      "  katatrace-bpf decode capture.bin\n",
	      o);
}

int kt_otlp_protocol_parse(const char *s, enum kt_otlp_protocol *out)
{
	if (strcmp(s, "grpc") == 0)
		*out = KT_OTLP_PROTOCOL_GRPC;
	else if (strcmp(s, "http/protobuf") == 0)
		*out = KT_OTLP_PROTOCOL_HTTP_PROTOBUF;
	else
		return -1;
	return 0;
}

void kt_config_defaults(struct kt_config *c)
{
	memset(c, 0, sizeof(*c));
	c->mode = KT_MODE_SINK;
	c->capture = KT_CAPTURE_BPF;
	c->attach = KT_ATTACH_AUTO;
	c->vsock_port = 10240;
	c->jaeger_port = 6831;
	c->journal_port = 5140;
	c->ttrpc = true;
	c->collate = true;
	c->complete_traces = true;
	c->complete_delay_ms = 5000;
	c->clock_skew_ms = 1000;
	c->vm_spans = true;
	c->ttrpc_vsock_port = 1024;
	c->vsock_cid = 0xffffffffu; /* VMADDR_CID_ANY */
	c->format = KT_FORMAT_AUTO;
	c->exporter = KT_EXPORTER_DEFAULT;
	c->service_name = NULL; /* resolved after parsing: flag > env > default */
	c->max_frame = KT_DEFAULT_MAX_FRAME;
	c->memory_budget = KT_DEFAULT_MEMORY_BUDGET;
	c->max_connections = KT_DEFAULT_MAX_CONNECTIONS;
	c->max_sandbox_connections = KT_DEFAULT_MAX_SANDBOX_CONNECTIONS;
	c->batch_size = 512;
	c->batch_timeout_ms = 1000;
	c->queue_size = 100000;
	c->ringbuf_bytes = 16u << 20;
	c->run_root = "";
	c->user = "nobody";
	c->discovery = true;
}

__attribute__((noreturn, format(printf, 2, 3))) static void usage_error(const char *cmd,
									 const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "katatrace-bpf %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'katatrace-bpf %s --help'.\n", cmd);
	exit(2);
}

/* Unsigned number with an optional K/M/G (binary) suffix. */
static int parse_size(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	errno = 0;
	if (*s == '-' || *s == '\0')
		return -1;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	unsigned shift = 0;
	if (*end == 'K' || *end == 'k')
		shift = 10;
	else if (*end == 'M' || *end == 'm')
		shift = 20;
	else if (*end == 'G' || *end == 'g')
		shift = 30;
	if (shift) {
		end++;
		if (*end == 'i')
			end++;
		if (*end == 'B')
			end++;
	}
	if (*end != '\0' || (shift && v > (UINT64_MAX >> shift)))
		return -1;
	v <<= shift;
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

static uint64_t need_number(const char *cmd, const char *opt, const char *arg, uint64_t min,
			    uint64_t max)
{
	uint64_t v;
	if (parse_size(arg, max, &v) || v < min)
		usage_error(cmd, "%s: '%s' is not a number in %llu..%llu", opt, arg,
			    (unsigned long long)min, (unsigned long long)max);
	return v;
}

/* A file name; whether it can be read is the exporter's concern. */
static const char *need_file(const char *cmd, const char *opt, const char *arg)
{
	if (!*arg)
		usage_error(cmd, "%s: empty file name", opt);
	return arg;
}

/* --shim-socket-dir: one directory or a comma list, kept as given until the run root is known. */
static void add_shim_dirs(struct kt_config *c, const char *cmd, const char *arg)
{
	do {
		const char *comma = strchr(arg, ',');
		size_t n = comma ? (size_t)(comma - arg) : strlen(arg);
		if (n == 0)
			usage_error(cmd, "--shim-socket-dir: empty directory");
		if (c->n_shim_socket_dirs >= KT_MAX_SHIM_SOCKET_DIRS)
			usage_error(cmd, "--shim-socket-dir: at most %d", KT_MAX_SHIM_SOCKET_DIRS);
		if (n > KT_SHIM_PREFIX_MAX)
			usage_error(cmd, "--shim-socket-dir: '%.*s' is too long for a unix socket path",
				    (int)n, arg);
		char *d = c->shim_socket_dir_buf[c->n_shim_socket_dirs++];
		memcpy(d, arg, n);
		d[n] = '\0';
		arg = comma ? comma + 1 : NULL;
	} while (arg);
}

/* The shim socket directories as capture prefixes: run root + DIR + '/'. */
static void shim_prefixes(struct kt_config *c, const char *cmd)
{
	if (!c->n_shim_socket_dirs)
		add_shim_dirs(c, cmd, KT_TASK_DEFAULT_SOCKET_DIR);
	for (size_t i = 0; i < c->n_shim_socket_dirs; i++) {
		char dir[KT_SHIM_PREFIX_MAX + 1];
		const char *why;
		memcpy(dir, c->shim_socket_dir_buf[i], sizeof(dir));
		if (kt_task_socket_prefix(c->run_root, dir, c->shim_socket_dir_buf[i],
					  sizeof(c->shim_socket_dir_buf[i]), &why))
			usage_error(cmd, "--shim-socket-dir: '%s' (under --run-root '%s'): %s", dir,
				    c->run_root, why);
		c->shim_socket_dirs[i] = c->ttrpc ? c->shim_socket_dir_buf[i] : NULL;
	}
	if (!c->ttrpc)
		c->n_shim_socket_dirs = 0;
}

int kt_config_parse(struct kt_config *c, const char *cmd, int argc, char **argv)
{
	bool decode = strcmp(cmd, "decode") == 0;
	const struct option *opts = decode ? decode_opts : run_opts;
	int opt;

	if (decode)
		kt_log_level = KT_LOG_WARN;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, decode ? ":hl:" : ":hl:v", opts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			kt_usage(c->forwarder ? "forwarder" : cmd, 0);
			exit(0);
		case 'v':
			printf("katatrace-bpf %s\n", KT_VERSION);
			exit(0);
		case OPT_MODE:
			if (strcmp(optarg, "sink") == 0)
				c->mode = KT_MODE_SINK;
			else if (strcmp(optarg, "tap") == 0)
				c->mode = KT_MODE_TAP;
			else
				usage_error(cmd, "--mode: '%s' is not sink or tap", optarg);
			break;
		case OPT_CAPTURE:
			if (strcmp(optarg, "bpf") == 0)
				c->capture = KT_CAPTURE_BPF;
			else if (strcmp(optarg, "socket") == 0)
				c->capture = KT_CAPTURE_SOCKET;
			else
				usage_error(cmd, "--capture: '%s' is not bpf or socket", optarg);
			break;
		case OPT_ATTACH:
			if (kt_attach_parse(optarg, &c->attach))
				usage_error(cmd, "--attach: '%s' is not auto, fentry, kprobe or tracepoint",
					    optarg);
			break;
		case OPT_SOCKET_PATH:
			if (c->n_socket_paths >= KT_MAX_SOCKET_PATHS)
				usage_error(cmd, "--socket-path: at most %d", KT_MAX_SOCKET_PATHS);
			if (!*optarg)
				usage_error(cmd, "--socket-path: empty path");
			c->socket_paths[c->n_socket_paths++] = optarg;
			break;
		case OPT_CAPTURE_PATH:
			if (c->n_capture_paths >= KT_MAX_CAPTURE_PATHS)
				usage_error(cmd, "--capture-path: at most %d", KT_MAX_CAPTURE_PATHS);
			if (!*optarg)
				usage_error(cmd, "--capture-path: empty prefix");
			c->capture_paths[c->n_capture_paths++] = optarg;
			break;
		case OPT_VSOCK_PORT:
			c->vsock_port = (unsigned)need_number(cmd, "--vsock-port", optarg, 1,
							      0xfffffffeu);
			break;
		case OPT_VSOCK_CID:
			if (strcmp(optarg, "any") == 0)
				c->vsock_cid = 0xffffffffu; /* VMADDR_CID_ANY */
			else
				c->vsock_cid = (unsigned)need_number(cmd, "--vsock-cid", optarg, 0,
								     0xfffffffeu);
			c->vsock_cid_set = true;
			break;
		case OPT_FORMAT:
			if (kt_format_parse(optarg, &c->format))
				usage_error(cmd, "--format: '%s' is not auto, json or bincode", optarg);
			break;
		case OPT_EXPORTER:
			if (strcmp(optarg, "console") == 0)
				c->exporter = KT_EXPORTER_CONSOLE;
			else if (strcmp(optarg, "file") == 0)
				c->exporter = KT_EXPORTER_FILE;
			else if (strcmp(optarg, "otlp-http") == 0)
				c->exporter = KT_EXPORTER_OTLP_HTTP;
			else if (strcmp(optarg, "otlp-grpc") == 0)
				c->exporter = KT_EXPORTER_OTLP_GRPC;
			else
				usage_error(cmd,
					    "--exporter: '%s' is not otlp-grpc, otlp-http, file or console",
					    optarg);
			break;
		case OPT_OTLP_ENDPOINT:
			if (strncmp(optarg, "http://", 7) != 0 && strncmp(optarg, "https://", 8) != 0 &&
			    !kt_otlp_is_host_port(optarg))
				usage_error(cmd,
					    "--otlp-endpoint: '%s' is not an http:// or https:// URL "
					    "or host:port",
					    optarg);
			c->otlp_endpoint = optarg;
			break;
		case OPT_OTLP_PROTOCOL:
			if (kt_otlp_protocol_parse(optarg, &c->otlp_protocol))
				usage_error(cmd, "--otlp-protocol: '%s' is not grpc or http/protobuf",
					    optarg);
			break;
		case OPT_OTLP_HEADERS:
			c->otlp_headers = optarg;
			break;
		case OPT_OTLP_CA:
			c->otlp_ca = need_file(cmd, "--otlp-ca", optarg);
			break;
		case OPT_OTLP_CLIENT_CERT:
			c->otlp_client_cert = need_file(cmd, "--otlp-client-cert", optarg);
			break;
		case OPT_OTLP_CLIENT_KEY:
			c->otlp_client_key = need_file(cmd, "--otlp-client-key", optarg);
			break;
		case OPT_OUTPUT:
			if (!*optarg)
				usage_error(cmd, "--output: empty file name");
			c->output = optarg;
			break;
		case OPT_SERVICE_NAME:
			if (!*optarg)
				usage_error(cmd, "--service-name: empty name");
			c->service_name = optarg;
			break;
		case 'l':
		case OPT_LOG_LEVEL:
			if (kt_log_parse_level(optarg, &kt_log_level))
				usage_error(cmd, "--log-level: '%s' is not error, warn, info, debug or trace",
					    optarg);
			break;
		case OPT_MAX_FRAME:
			c->max_frame = need_number(cmd, "--max-frame", optarg, KT_FRAME_MIN_PAYLOAD,
						   1ull << 30);
			break;
		case OPT_MEMORY_BUDGET:
			c->memory_budget = need_number(cmd, "--memory-budget", optarg, 1u << 20,
						       1ull << 40);
			break;
		case OPT_MAX_CONNECTIONS:
			c->max_connections = need_number(cmd, "--max-connections", optarg, 1,
							 1u << 20);
			break;
		case OPT_MAX_SANDBOX_CONNECTIONS:
			c->max_sandbox_connections = need_number(cmd, "--max-sandbox-connections",
								 optarg, 1, 1u << 20);
			break;
		case OPT_BATCH_SIZE:
			c->batch_size = need_number(cmd, "--batch-size", optarg, 1, 1u << 20);
			break;
		case OPT_BATCH_TIMEOUT:
			c->batch_timeout_ms = need_number(cmd, "--batch-timeout", optarg, 1, 3600000);
			break;
		case OPT_QUEUE_SIZE:
			c->queue_size = need_number(cmd, "--queue-size", optarg, 1, 1u << 24);
			break;
		case OPT_RING_BUFFER: {
			uint64_t v = need_number(cmd, "--ring-buffer-size", optarg, 1u << 16, 1u << 30);
			if (v & (v - 1))
				usage_error(cmd, "--ring-buffer-size: %s is not a power of two", optarg);
			c->ringbuf_bytes = v;
			break;
		}
		case OPT_RUN_ROOT:
			c->run_root = optarg;
			break;
		case OPT_STATS_INTERVAL:
			c->stats_interval_s = (unsigned)need_number(cmd, "--stats-interval", optarg, 0,
								    86400);
			break;
		case OPT_RAW:
			c->raw = true;
			break;
		case OPT_USER:
			if (!*optarg)
				usage_error(cmd, "--user: empty name");
			c->user = optarg;
			break;
		case OPT_NO_DISCOVERY:
			c->discovery = false;
			break;
		case OPT_SANDBOX_PATH: {
			struct kt_disc_template t;
			char why[200];
			if (c->n_sandbox_paths >= KT_MAX_SANDBOX_PATHS)
				usage_error(cmd, "--sandbox-path: at most %d", KT_MAX_SANDBOX_PATHS);
			if (kt_disc_template_parse(optarg, &t, why, sizeof(why)))
				usage_error(cmd, "--sandbox-path: %s", why);
			c->sandbox_paths[c->n_sandbox_paths++] = optarg;
			break;
		}
		case OPT_BUNDLE_PATH: {
			char why[200];
			if (c->n_bundle_paths >= KT_MAX_BUNDLE_PATHS)
				usage_error(cmd, "--bundle-path: at most %d", KT_MAX_BUNDLE_PATHS);
			if (kt_bundle_pattern_check(optarg, why, sizeof(why)))
				usage_error(cmd, "--bundle-path: %s", why);
			c->bundle_paths[c->n_bundle_paths++] = optarg;
			break;
		}
		case OPT_DUMP_ONLY:
			c->dump_only = true;
			break;
		case OPT_NO_TTRPC:
			c->ttrpc = false;
			break;
		case OPT_NO_COLLATE:
			c->collate = false;
			break;
		case OPT_NO_COMPLETE:
			c->complete_traces = false;
			break;
		case OPT_COLLATE:
			c->collate = true;
			break;
		case OPT_COMPLETE:
			c->complete_traces = true;
			break;
		case OPT_COMPLETE_DELAY:
			c->complete_delay_ms = need_number(cmd, "--complete-delay", optarg, 0, 3600000);
			break;
		case OPT_CLOCK_SKEW:
			c->clock_skew_ms = need_number(cmd, "--clock-skew", optarg, 0, 3600000);
			break;
		case OPT_SHIM_SOCKET_DIR:
			add_shim_dirs(c, cmd, optarg);
			break;
		case OPT_NO_VM_SPANS:
			c->vm_spans = false;

			break;
		case OPT_TTRPC_VSOCK_PORT:
			c->ttrpc_vsock_port = (unsigned)need_number(cmd, "--ttrpc-vsock-port", optarg,
								    0, 0xfffffffeu);
			break;
		case OPT_JAEGER_PORT:
			c->jaeger_port = (unsigned)need_number(cmd, "--jaeger-port", optarg, 0,
							       0xfffffffeu);
			break;
		case OPT_JOURNAL_PORT:
			c->journal_port = (unsigned)need_number(cmd, "--journal-port", optarg, 0,
								0xfffffffeu);
			break;
		case ':':
			usage_error(cmd, "%s needs a value", argv[optind - 1]);
		default:
			usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (decode) {
		c->files = argv + optind;
		c->n_files = (size_t)(argc - optind);
		if (c->n_files == 0)
			usage_error(cmd, "no input FILE");
	} else if (optind < argc) {
		usage_error(cmd, "unexpected argument '%s'", argv[optind]);
	}
	if (!decode)
		shim_prefixes(c, cmd);
	if (!c->service_name) {
		const char *env = getenv("OTEL_SERVICE_NAME");
		c->service_name = env && *env ? env : KT_DEFAULT_SERVICE_NAME;
	}
	if (!decode) {
		/* kata-trace-forwarder's --dump-only: spans to stdout, nothing forwarded. */
		if (c->dump_only)
			c->exporter = KT_EXPORTER_CONSOLE;
		if (c->exporter == KT_EXPORTER_FILE && !c->output)
			usage_error(cmd, "--exporter file needs --output FILE");
		if ((c->exporter == KT_EXPORTER_OTLP_GRPC &&
		     c->otlp_protocol == KT_OTLP_PROTOCOL_HTTP_PROTOBUF) ||
		    (c->exporter == KT_EXPORTER_OTLP_HTTP &&
		     c->otlp_protocol == KT_OTLP_PROTOCOL_GRPC))
			usage_error(cmd, "--exporter and --otlp-protocol disagree");
		if (c->capture == KT_CAPTURE_SOCKET && c->mode == KT_MODE_TAP)
			usage_error(cmd, "--capture socket reads what the sink receives: it needs "
					 "--mode sink");
	}
	return 0;
}
