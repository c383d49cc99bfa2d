/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The configuration's defaults, the parse of a command line with the
 * option table (config_options.c) and what is checked across options
 * once all are read, and the list of commands.
 */
#include "daemon/config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "exporters/export_queue.h"
#include "exporters/exporter.h"
#include "exporters/spool.h"
#include "agent/framer.h"
#include "stream/burst.h"
#include "base/diag.h"
#include "control/control_wire.h"
#include "model/kata_ports.h"
#include "stream/conn_limits.h"
#include "base/mem_budget.h"
#include "exporters/otlp_build.h"
#include "rpc/containerd_task.h"

void kt_usage(const char *cmd, int to_stderr)
{
	FILE *o = to_stderr ? stderr : stdout;

	static const struct {
		const char *name;
		enum kt_cmd cmd;
	} helps[] = {
		{ "run", KT_CMD_RUN },
		{ "decode", KT_CMD_DECODE },
		{ "probe", KT_CMD_PROBE },
		{ "forwarder", KT_CMD_FORWARDER },
	};
	for (size_t i = 0; cmd && i < sizeof(helps) / sizeof(helps[0]); i++) {
		if (strcmp(cmd, helps[i].name) == 0) {
			kt_opts_help(&kt_config_options, helps[i].cmd, o);
			return;
		}
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
	      "  probe    ad-hoc probes on a sandbox's host side, as spans in its trace\n"
	      "  version  print the version\n"
	      "\n"
	      "Run 'katatrace-bpf COMMAND --help' for the options of a command, and\n"
	      "'katatrace-bpf help forwarder' for the kata-trace-forwarder compatible form.\n"
	      "\n"
	      "Examples:\n"
	      "  katatrace-bpf run\n"
	      "  katatrace-bpf run --mode tap --otlp-endpoint http://127.0.0.1:4317\n"
	      "  katatrace-bpf decode capture.bin\n"
	      "  katatrace-bpf probe pod/default/web --event tracepoint:kvm:kvm_exit\n",
	      o);
}

int kt_otlp_protocol_parse(const char *s, enum kt_otlp_protocol *out)
{
	if (strcmp(s, "grpc") == 0)
		*out = KT_OTLP_PROTOCOL_GRPC;
	else if (strcmp(s, "http/protobuf") == 0)
		*out = KT_OTLP_PROTOCOL_HTTP_PROTOBUF;
	else if (strcmp(s, "http/json") == 0)
		*out = KT_OTLP_PROTOCOL_HTTP_JSON;
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
	c->vsock_port = KT_AGENT_TRACE_PORT;
	c->jaeger_port = KT_KATA1_JAEGER_PORT;
	c->journal_port = KT_KATA1_JOURNAL_PORT;
	c->ttrpc = true;
	c->collate = true;
	c->complete_traces = true;
	c->complete_delay_ms = 5000;
	c->clock_skew_ms = 1000;
	c->vm_spans = true;
	c->ttrpc_vsock_port = KT_AGENT_TTRPC_PORT;
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
	c->spool_size = KT_DEFAULT_SPOOL_SIZE;
	c->ringbuf_bytes = KT_RINGBUF_DEFAULT_BYTES;
	c->burst_bytes = KT_DEFAULT_BURST_BUFFER;
	c->run_root = "";
	c->user = KT_DEFAULT_USER;
	c->discovery = true;
}

/* --shim-socket-dir: one directory or a comma list, kept as given until the run root is known. */
void kt_config_add_shim_dirs(struct kt_config *c, const char *cmd, const char *arg)
{
	do {
		const char *comma = strchr(arg, ',');
		size_t n = comma ? (size_t)(comma - arg) : strlen(arg);
		if (n == 0)
			kt_opt_usage_error(cmd, "--shim-socket-dir: empty directory");
		if (c->n_shim_socket_dirs >= KT_MAX_SHIM_SOCKET_DIRS)
			kt_opt_usage_error(cmd, "--shim-socket-dir: at most %d",
					   KT_MAX_SHIM_SOCKET_DIRS);
		if (n > KT_SHIM_PREFIX_MAX)
			kt_opt_usage_error(cmd,
					   "--shim-socket-dir: '%.*s' is too long for a unix socket path",
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
		kt_config_add_shim_dirs(c, cmd, KT_TASK_DEFAULT_SOCKET_DIR);
	for (size_t i = 0; i < c->n_shim_socket_dirs; i++) {
		char dir[KT_SHIM_PREFIX_MAX + 1];
		const char *why;
		memcpy(dir, c->shim_socket_dir_buf[i], sizeof(dir));
		if (kt_task_socket_prefix(c->run_root, dir, c->shim_socket_dir_buf[i],
					  sizeof(c->shim_socket_dir_buf[i]), &why))
			kt_opt_usage_error(cmd, "--shim-socket-dir: '%s' (under --run-root '%s'): %s",
					   dir, c->run_root, why);
		c->shim_socket_dirs[i] = c->ttrpc ? c->shim_socket_dir_buf[i] : NULL;
	}
	if (!c->ttrpc)
		c->n_shim_socket_dirs = 0;
}

/* Does the command line choose where a probe exports (rather than the daemon)? */
static bool export_chosen(const struct kt_config *c)
{
	return c->exporter != KT_EXPORTER_DEFAULT || c->output || c->otlp_endpoint ||
	       c->otlp_protocol != KT_OTLP_PROTOCOL_UNSET;
}

/* probe list, probe stop ID: questions to the daemon, nothing to probe. */
static void probe_question(struct kt_config *c, const char *cmd, int argc, char **argv, int first)
{
	const char *what = argv[first];
	int want = strcmp(what, "stop") == 0 ? 2 : 1;
	if (c->n_span_specs || c->n_event_specs || c->program || c->program_file || c->duration_s)
		kt_opt_usage_error(cmd, "probe %s asks the daemon about its probes: it takes no probes", what);
	if (c->export_via == KT_VIA_SELF)
		kt_opt_usage_error(cmd, "probe %s asks the daemon: --export-via self does not go with it", what);
	if (argc - first < want)
		kt_opt_usage_error(cmd, "probe stop: which probe? give its ID (katatrace-bpf probe list)");
	if (argc - first > want)
		kt_opt_usage_error(cmd, "unexpected argument '%s' after probe %s", argv[first + want], what);
	c->probe_action = want == 2 ? KT_PROBE_STOP : KT_PROBE_LIST;
	if (want == 2) {
		char *end;
		errno = 0;
		unsigned long long id = strtoull(argv[first + 1], &end, 10);
		if (!*argv[first + 1] || *end || errno || id == 0 || argv[first + 1][0] == '-')
			kt_opt_usage_error(cmd, "probe stop: '%s' is not a probe ID (a number from "
						"katatrace-bpf probe list)",
					   argv[first + 1]);
		c->stop_id = id;
	}
}

/* --control-socket: none, as given, or the default under the run root. */
static void control_socket(struct kt_config *c, const char *cmd)
{
	if (c->control_socket && strcmp(c->control_socket, "none") == 0) {
		c->control_socket = NULL;
		return;
	}
	int n = c->control_socket
			? snprintf(c->control_socket_buf, sizeof(c->control_socket_buf), "%s",
				   c->control_socket)
			: snprintf(c->control_socket_buf, sizeof(c->control_socket_buf), "%s%s",
				   c->run_root, KT_CONTROL_SOCKET);
	if (n < 0 || (size_t)n >= sizeof(struct sockaddr_un) - offsetof(struct sockaddr_un, sun_path))
		kt_opt_usage_error(cmd, "--control-socket: '%s' is too long for a unix socket path",
				   c->control_socket_buf);
	c->control_socket = c->control_socket_buf;
}

/* probe: one TARGET, and something to probe it with; or a question to the daemon. */
static void probe_operands(struct kt_config *c, const char *cmd, int argc, char **argv, int first)
{
	if (first >= argc)
		kt_opt_usage_error(cmd, "no TARGET (node, sandbox/ID, pod/NAMESPACE/NAME or pid/PID)");
	if (strcmp(argv[first], "list") == 0 || strcmp(argv[first], "stop") == 0) {
		probe_question(c, cmd, argc, argv, first);
		return;
	}
	if (c->export_via == KT_VIA_DAEMON && export_chosen(c))
		kt_opt_usage_error(cmd, "--export-via daemon: the daemon's exporter is used, not "
					"--exporter, --output, --otlp-endpoint or --otlp-protocol");
	if (c->export_via == KT_VIA_AUTO && export_chosen(c))
		c->export_via = KT_VIA_SELF;
	if (first + 1 < argc)
		kt_opt_usage_error(cmd, "unexpected argument '%s' after the TARGET '%s'", argv[first + 1],
				   argv[first]);
	c->probe_target = argv[first];
	if (c->program && c->program_file)
		kt_opt_usage_error(cmd, "--program-string and --program-file: one bpftrace program at a time");
	if (!c->n_span_specs && !c->n_event_specs && !c->program && !c->program_file)
		kt_opt_usage_error(cmd, "nothing to probe: give --span, --event, -e PROGRAM or -f FILE");
}

int kt_config_parse(struct kt_config *c, const char *cmd, int argc, char **argv)
{
	bool decode = strcmp(cmd, "decode") == 0;
	bool probe = strcmp(cmd, "probe") == 0;
	enum kt_cmd id = decode ? KT_CMD_DECODE
		       : probe	? KT_CMD_PROBE
		       : c->forwarder ? KT_CMD_FORWARDER
				      : KT_CMD_RUN;

	if (decode)
		kt_log_level = KT_LOG_WARN;
	int first = kt_opts_parse(&kt_config_options, id, c, argc, argv);
	if (probe) {
		probe_operands(c, cmd, argc, argv, first);
	} else if (decode) {
		c->files = argv + first;
		c->n_files = (size_t)(argc - first);
		if (c->n_files == 0)
			kt_opt_usage_error(cmd, "no input FILE");
	} else if (first < argc) {
		kt_opt_usage_error(cmd, "unexpected argument '%s'", argv[first]);
	}
	if (!decode && !probe)
		shim_prefixes(c, cmd);
	if (!decode)
		control_socket(c, cmd);
	if (!c->service_name) {
		const char *env = getenv("OTEL_SERVICE_NAME");
		c->service_name = env && *env ? env : KT_DEFAULT_SERVICE_NAME;
	}
	if (!decode) {
		/* kata-trace-forwarder's --dump-only: spans to stdout, nothing forwarded. */
		if (c->dump_only)
			c->exporter = KT_EXPORTER_CONSOLE;
		if (c->exporter == KT_EXPORTER_FILE && !c->output)
			kt_opt_usage_error(cmd, "--exporter file needs --output FILE");
		if ((c->exporter == KT_EXPORTER_OTLP_GRPC &&
		     (c->otlp_protocol == KT_OTLP_PROTOCOL_HTTP_PROTOBUF ||
		      c->otlp_protocol == KT_OTLP_PROTOCOL_HTTP_JSON)) ||
		    (c->exporter == KT_EXPORTER_OTLP_HTTP &&
		     c->otlp_protocol == KT_OTLP_PROTOCOL_GRPC))
			kt_opt_usage_error(cmd, "--exporter and --otlp-protocol disagree");
		if (c->capture == KT_CAPTURE_SOCKET && c->mode == KT_MODE_TAP)
			kt_opt_usage_error(cmd, "--capture socket reads what the sink receives: it "
						"needs --mode sink");
	}
	return 0;
}
