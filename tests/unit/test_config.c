/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The command line (user/daemon/config.c).
 *
 * Limits at their exact boundaries: exactly
 * the most --socket-path, --capture-path, --sandbox-path, --bundle-path and
 * --shim-socket-dir values are taken, one more stops the start-up with a
 * usage error naming the limit; a --shim-socket-dir of KT_SHIM_PREFIX_MAX
 * characters is taken, one more is too long.
 *
 * The --help of every command, byte for byte: the texts below are what
 * the commands printed before their options were generated from one
 * table; wording changes belong there and here together.
 *
 * A usage error (and --help) exits, so each parse runs in a child process
 * whose exit status, stdout and stderr are checked.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/config.h"

/*
 * Parses "run" with the options opt (one string) n times, each value made
 * by value(i). Returns the child's exit status (0: kt_config_parse
 * returned); its stderr goes to err. check(c) runs in the child on success
 * and exits 3 when it fails.
 */
static int parse_n(const char *opt, size_t n, void (*value)(size_t i, char *out, size_t size),
		   size_t want_count, size_t (*count)(const struct kt_config *c), char *err,
		   size_t errlen)
{
	int fds[2];
	cr_assert_eq(pipe(fds), 0);
	fflush(NULL);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		close(fds[0]);
		dup2(fds[1], 2);
		char **argv = calloc(2 * n + 2, sizeof(*argv));
		size_t argc = 0;
		argv[argc++] = "run";
		for (size_t i = 0; i < n; i++) {
			char *v = malloc(1024);
			value(i, v, 1024);
			argv[argc++] = (char *)opt;
			argv[argc++] = v;
		}
		struct kt_config c;
		kt_config_defaults(&c);
		kt_config_parse(&c, "run", (int)argc, argv);
		if (count && count(&c) != want_count) {
			fprintf(stderr, "parsed %zu values, want %zu", count(&c), want_count);
			_exit(3);
		}
		_exit(0);
	}
	close(fds[1]);
	size_t got = 0;
	ssize_t r;
	while (got + 1 < errlen && (r = read(fds[0], err + got, errlen - 1 - got)) > 0)
		got += (size_t)r;
	err[got] = '\0';
	close(fds[0]);
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status), "the parse did not exit: %s", err);
	return WEXITSTATUS(status);
}

static void socket_path(size_t i, char *out, size_t size)
{
	snprintf(out, size, "/run/vc/vm/s%zu/clh.sock_10240", i);
}

static void capture_path(size_t i, char *out, size_t size)
{
	snprintf(out, size, "/run/capture%zu/", i);
}

static void sandbox_path(size_t i, char *out, size_t size)
{
	snprintf(out, size, "cloud-hypervisor=/run/t%zu/{ID}/clh.sock", i);
}

static void bundle_path(size_t i, char *out, size_t size)
{
	snprintf(out, size, "/run/b%zu/{ID}/config.json", i);
}

static void shim_dir(size_t i, char *out, size_t size)
{
	snprintf(out, size, "/run/shim%zu", i);
}

static size_t n_socket(const struct kt_config *c)
{
	return c->n_socket_paths;
}

static size_t n_capture(const struct kt_config *c)
{
	return c->n_capture_paths;
}

static size_t n_sandbox(const struct kt_config *c)
{
	return c->n_sandbox_paths;
}

static size_t n_bundle(const struct kt_config *c)
{
	return c->n_bundle_paths;
}

static size_t n_shim(const struct kt_config *c)
{
	size_t n = 0;
	for (size_t i = 0; i < KT_MAX_SHIM_SOCKET_DIRS; i++)
		n += c->shim_socket_dir_buf[i][0] != '\0';
	return n;
}

static void at_most(const char *opt, size_t max, void (*value)(size_t, char *, size_t),
		    size_t (*count)(const struct kt_config *))
{
	char err[2048];
	int rc = parse_n(opt, max, value, max, count, err, sizeof(err));
	cr_expect_eq(rc, 0, "%zu x %s: exit %d: %s", max, opt, rc, err);
	rc = parse_n(opt, max + 1, value, max + 1, count, err, sizeof(err));
	cr_expect_eq(rc, 2, "%zu x %s: exit %d: %s", max + 1, opt, rc, err);
	char want[64];
	snprintf(want, sizeof(want), "%s: at most %zu", opt, max);
	cr_expect(strstr(err, want), "%zu x %s: '%s' lacks '%s'", max + 1, opt, err, want);
}

Test(config, path_counts_at_their_limits)
{
	at_most("--socket-path", KT_MAX_SOCKET_PATHS, socket_path, n_socket);
	at_most("--capture-path", KT_MAX_CAPTURE_PATHS, capture_path, n_capture);
	at_most("--sandbox-path", KT_MAX_SANDBOX_PATHS, sandbox_path, n_sandbox);
	at_most("--bundle-path", KT_MAX_BUNDLE_PATHS, bundle_path, n_bundle);
	at_most("--shim-socket-dir", KT_MAX_SHIM_SOCKET_DIRS, shim_dir, n_shim);
}

static size_t dir_len;

static void long_dir(size_t i, char *out, size_t size)
{
	(void)i;
	cr_assert_lt(dir_len, size);
	memset(out, 'd', dir_len);
	out[0] = '/';
	out[dir_len - 1] = '/'; /* with its slash, so the prefix needs no more room */
	out[dir_len] = '\0';
}

Test(config, shim_socket_dir_length_at_its_limit)
{
	char err[2048];
	dir_len = KT_SHIM_PREFIX_MAX;
	int rc = parse_n("--shim-socket-dir", 1, long_dir, 1, n_shim, err, sizeof(err));
	cr_expect_eq(rc, 0, "%zu characters: exit %d: %s", dir_len, rc, err);
	dir_len = KT_SHIM_PREFIX_MAX + 1;
	rc = parse_n("--shim-socket-dir", 1, long_dir, 1, n_shim, err, sizeof(err));
	cr_expect_eq(rc, 2, "%zu characters: exit %d: %s", dir_len, rc, err);
	cr_expect(strstr(err, "is too long for a unix socket path"), "%s", err);
}

/* ------------------------------------------------------------ --help */

static const char golden_run[] =
	"Usage: katatrace-bpf run [OPTIONS]\n"
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
	"  --burst-buffer BYTES     records read from the ring buffer and waiting to be\n"
	"                           decoded, at most (default 128M; drawn from\n"
	"                           --memory-budget as it fills): a burst up to it is\n"
	"                           not lost\n"
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
	"                           OTEL_EXPORTER_OTLP_INSECURE=true). Log records go to\n"
	"                           LogsService/Export (gRPC) or, over HTTP, to\n"
	"                           OTEL_EXPORTER_OTLP_LOGS_ENDPOINT, else the generic\n"
	"                           endpoint + /v1/logs, else .../v1/traces -> .../v1/logs\n"
	"  --otlp-protocol grpc|http/protobuf|http/json\n"
	"                           OTLP transport (env OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL;\n"
	"                           default: http/protobuf if the endpoint has a path,\n"
	"                           else grpc). --exporter otlp-http sends protobuf, or\n"
	"                           OTLP/JSON with http/json\n"
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
	"  --batch-size N           spans or log records per export request (default 512)\n"
	"  --batch-timeout MS       longest a record waits for its batch (default 1000)\n"
	"  --queue-size N           spans queued while the collector is slow, and as many\n"
	"                           log records (default 100000)\n"
	"  --spool-dir DIR          OTLP exporters: keep what waits for the collector on\n"
	"                           disk in DIR (created, owned by --user), replayed after a\n"
	"                           restart (docs/spool.md)\n"
	"  --spool-size BYTES       the spool's bound (default 1G); beyond, the\n"
	"                           oldest requests are dropped, counted and logged\n"
	"\n"
	"Node-wide operation:\n"
	"  --no-discovery           do not watch the run root for Kata sandboxes\n"
	"  --sandbox-path HV=PATH   a sandbox layout to watch, PATH with {ID}; repeatable,\n"
	"                           replaces the defaults (docs/discovery.md), e.g.\n"
	"                           cloud-hypervisor=/run/vc/vm/{ID}/clh.sock\n"
	"  --bundle-path PATTERN    where OCI bundles with the pods' CRI annotations are,\n"
	"                           with * and {ID}; repeatable (default: containerd's\n"
	"                           and CRI-O's)\n"
	"  --control-socket PATH    root's socket on which probes reach this daemon\n"
	"                           (default /run/katatrace-bpf/control.sock under\n"
	"                           --run-root; none: no socket)\n"
	"  --takeover               take over from the daemon running on --control-socket:\n"
	"                           its listeners, connections, BPF programs and spool,\n"
	"                           without closing any (docs/takeover.md); none running:\n"
	"                           start as usual\n"
	"  --fd-store               under systemd (FileDescriptorStoreMax=): a stop hands\n"
	"                           everything to the service's descriptor store and the\n"
	"                           next start takes it over: a restart closes nothing\n"
	"  --after-handover exit|wait\n"
	"                           once taken over: exit (default, status 0) or wait for\n"
	"                           a stop signal (in a pod, so that the kubelet does not\n"
	"                           restart it)\n"
	"  --user USER              identity after start-up (default nobody, no\n"
	"                           capabilities; a broker process keeps what binding\n"
	"                           sockets needs); --user root keeps every privilege\n"
	"  --metrics-address HOST:PORT\n"
	"                           serve Prometheus metrics at http://HOST:PORT/metrics,\n"
	"                           and /healthz, /readyz (default: none), e.g.\n"
	"                           127.0.0.1:2112, or :2112 for every address\n"
	"\n"
	"Other:\n"
	"  --dump-only              same as --exporter console (kata-trace-forwarder's flag)\n"
	"  -l, --log-level LEVEL    error|warn|info|debug|trace (default info)\n"
	"  --log-format text|json   text (default) or json: one JSON object per line on\n"
	"                           stderr (time, level, msg, pid, component)\n"
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
	"  katatrace-bpf run --memory-budget 64M --max-sandbox-connections 16\n"
	"  # in a DaemonSet: metrics for Prometheus, /healthz and /readyz for the kubelet,\n"
	"  # what waits for the collector kept on the node's disk across restarts\n"
	"  katatrace-bpf run --metrics-address :2112 \\\n"
	"      --otlp-endpoint http://otel-collector.observability:4317 \\\n"
	"      --spool-dir /var/lib/katatrace-bpf/spool\n"
	"  # upgrade in place: the new binary takes over from the running daemon,\n"
	"  # no agent connection closed, no span lost\n"
	"  katatrace-bpf run --takeover --spool-dir /var/lib/katatrace-bpf/spool\n";

static const char golden_decode[] =
	"Usage: katatrace-bpf decode [OPTIONS] FILE...\n"
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
	"  --log-format text|json      text (default) or json: JSON lines on stderr\n"
	"\n"
	"Exit status: 0 all frames decoded, 1 some frames rejected, 2 usage or I/O error.\n"
	"\n"
	"Examples:\n"
	"  katatrace-bpf decode capture.bin > spans.jsonl\n"
	"  katatrace-bpf decode --raw --format bincode span.bin\n";

static const char golden_forwarder[] =
	"Usage: katatrace-bpf [OPTIONS]   (or installed as kata-trace-forwarder)\n"
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
	"  sudo katatrace-bpf --dump-only --socket-path /run/vc/firecracker/foo/root/kata.hvsock\n";

static const char golden_probe[] =
	"Usage: katatrace-bpf probe TARGET [PROBES] [OPTIONS]\n"
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
	"\n"
	"Probes:\n"
	"  --span SPEC              a span per call: uprobe:BINARY:SYMBOL, kprobe:FUNCTION\n"
	"                           or tracepoint:CATEGORY:ENTER/EXIT; repeatable\n"
	"  --event SPEC             a log record per hit: uprobe:BINARY:SYMBOL,\n"
	"                           kprobe:FUNCTION or tracepoint:CATEGORY:NAME; repeatable\n"
	"  --args N                 the first N integer arguments as attributes\n"
	"                           (default 0, at most 6)\n"
	"  -e, --program-string PROGRAM\n"
	"                           run this bpftrace program; its printf lines and maps\n"
	"                           become log records\n"
	"  -f, --program-file FILE  the same from a file\n"
	"  --duration SEC           stop after SEC seconds (default 0: at Ctrl-C or\n"
	"                           when the target ends)\n"
	"\n"
	"Finding the target:\n"
	"  --run-root DIR           prefix of Kata's /run paths (default: none)\n"
	"  --bundle-path PATTERN    where OCI bundles with the pods' CRI annotations are,\n"
	"                           with * and {ID}; repeatable (default: containerd's\n"
	"                           and CRI-O's)\n"
	"\n"
	"Export (through a running daemon, else console by default):\n"
	"  --export-via auto|daemon|self  auto (default): through the running daemon\n"
	"                           (katatrace-bpf run) unless --exporter, --output,\n"
	"                           --otlp-endpoint or --otlp-protocol is given;\n"
	"                           daemon: through it or fail; self: by itself\n"
	"  --exporter otlp-grpc|otlp-http|file|console\n"
	"                           default: OTLP if an endpoint is set (flag or\n"
	"                           OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT), file if --output\n"
	"                           is set, else console\n"
	"  --otlp-endpoint URL      collector: http(s)://host:port (OTLP/gRPC), a URL with\n"
	"                           a path (OTLP/HTTP, e.g. http://127.0.0.1:4318/v1/traces)\n"
	"                           or host:port (OTLP/gRPC over TLS; plain text with\n"
	"                           OTEL_EXPORTER_OTLP_INSECURE=true). Log records go to\n"
	"                           LogsService/Export (gRPC) or, over HTTP, to\n"
	"                           OTEL_EXPORTER_OTLP_LOGS_ENDPOINT, else the generic\n"
	"                           endpoint + /v1/logs, else .../v1/traces -> .../v1/logs\n"
	"  --otlp-protocol grpc|http/protobuf|http/json\n"
	"                           OTLP transport (env OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL;\n"
	"                           default: http/protobuf if the endpoint has a path,\n"
	"                           else grpc). --exporter otlp-http sends protobuf, or\n"
	"                           OTLP/JSON with http/json\n"
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
	"  --batch-size N           spans or log records per export request (default 512)\n"
	"  --batch-timeout MS       longest a record waits for its batch (default 1000)\n"
	"  --queue-size N           spans queued while the collector is slow, and as many\n"
	"                           log records (default 100000)\n"
	"  --control-socket PATH    the daemon's control socket (default as run's)\n"
	"\n"
	"Other:\n"
	"  -l, --log-level LEVEL    error|warn|info|debug|trace (default info)\n"
	"  --log-format text|json   text (default) or json: one JSON object per line on\n"
	"                           stderr (time, level, msg, pid, component)\n"
	"\n"
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
	"  katatrace-bpf probe stop 3\n";

static const char golden_commands[] =
	"Usage: katatrace-bpf COMMAND [OPTIONS]\n"
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
	"  katatrace-bpf probe pod/default/web --event tracepoint:kvm:kvm_exit\n";

struct outcome {
	int rc;        /* exit status; 0 also when kt_config_parse returned */
	char out[16384];
	char err[16384];
};

static void drain(int fd, char *buf, size_t size)
{
	size_t got = 0;
	ssize_t r;
	while (got + 1 < size && (r = read(fd, buf + got, size - 1 - got)) > 0)
		got += (size_t)r;
	buf[got] = '\0';
	char rest[256];
	while (read(fd, rest, sizeof(rest)) > 0)
		; /* more than fits: the comparison fails on what was kept */
}

/*
 * The child's exit, whoever calls it: without the leak check, whose
 * complaints about the test runner's threads would land in the stderr
 * under test.
 */
static void exit_now(int status, void *arg)
{
	(void)arg;
	fflush(NULL);
	_exit(status);
}

/*
 * Runs fn(arg) in a child with stdout and stderr captured (each into a
 * temporary file, so neither can fill a pipe while the other is read).
 */
static void in_child(void (*fn)(const void *arg), const void *arg, struct outcome *o)
{
	FILE *out = tmpfile(), *err = tmpfile();
	cr_assert(out && err);
	fflush(NULL);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		dup2(fileno(out), 1);
		dup2(fileno(err), 2);
		on_exit(exit_now, NULL);
		fn(arg);
		fflush(NULL);
		_exit(0);
	}
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status));
	o->rc = WEXITSTATUS(status);
	rewind(out);
	rewind(err);
	drain(fileno(out), o->out, sizeof(o->out));
	drain(fileno(err), o->err, sizeof(o->err));
	fclose(out);
	fclose(err);
}

struct usage_call {
	const char *cmd;
	int to_stderr;
};

static void call_usage(const void *arg)
{
	const struct usage_call *u = arg;
	kt_usage(u->cmd, u->to_stderr);
}

/* A command line as main() parses it: "fwd" is the kata-trace-forwarder form. */
struct parse_call {
	const char *mode; /* "run", "decode", "probe" or "fwd" */
	const char *const *args; /* NULL-terminated, after the command */
	const struct kt_opt *show; /* printed on stdout once parsed (show_field) */
};

static void show_field(const struct kt_config *c, const struct kt_opt *o);

static void call_parse(const void *arg)
{
	const struct parse_call *p = arg;
	char *argv[64];
	int argc = 0;
	bool fwd = strcmp(p->mode, "fwd") == 0;
	const char *cmd = fwd ? "run" : p->mode;
	argv[argc++] = fwd ? "katatrace-bpf" : (char *)cmd;
	for (size_t i = 0; p->args[i]; i++)
		argv[argc++] = (char *)p->args[i];
	argv[argc] = NULL;
	struct kt_config c;
	kt_config_defaults(&c);
	if (fwd) {
		c.forwarder = true;
		c.default_otlp_endpoint = KT_FORWARDER_OTLP_ENDPOINT;
		c.collate = false;
		c.complete_traces = false;
	}
	kt_config_parse(&c, cmd, argc, argv);
	if (p->show)
		show_field(&c, p->show);
}

static void expect_text(const char *what, const char *got, const char *want)
{
	if (strcmp(got, want) == 0)
		return;
	size_t i = 0;
	while (got[i] && got[i] == want[i])
		i++;
	size_t line = 1;
	for (size_t j = 0; j < i; j++)
		line += want[j] == '\n';
	cr_expect_fail("%s differs at byte %zu (line %zu):\n got: %.80s\nwant: %.80s", what, i, line,
		       got + i, want + i);
}

Test(config_help, usage_of_each_command_byte_for_byte)
{
	static const struct {
		const char *cmd;
		const char *want;
	} cases[] = {
		{ "run", golden_run },
		{ "decode", golden_decode },
		{ "forwarder", golden_forwarder },
		{ "probe", golden_probe },
		{ NULL, golden_commands },
		{ "help", golden_commands },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (int to_stderr = 0; to_stderr <= 1; to_stderr++) {
			struct usage_call u = { cases[i].cmd, to_stderr };
			struct outcome o;
			char what[64];
			in_child(call_usage, &u, &o);
			snprintf(what, sizeof(what), "kt_usage(%s, %d)", u.cmd ? u.cmd : "NULL",
				 to_stderr);
			cr_expect_eq(o.rc, 0, "%s: exit %d", what, o.rc);
			expect_text(what, to_stderr ? o.err : o.out, cases[i].want);
			expect_text(what, to_stderr ? o.out : o.err, "");
		}
	}
}

Test(config_help, help_option_of_each_command_byte_for_byte)
{
	static const char *const help[] = { "--help", NULL };
	static const char *const h[] = { "-h", NULL };
	static const char *const late[] = { "--log-level", "debug", "--help", "--mode", "bad", NULL };
	static const char *const fwd_l[] = { "-l", "debug", "-h", NULL };
	static const struct {
		struct parse_call p;
		const char *want;
	} cases[] = {
		{ { "run", help, NULL }, golden_run },
		{ { "run", h, NULL }, golden_run },
		{ { "run", late, NULL }, golden_run },
		{ { "decode", help, NULL }, golden_decode },
		{ { "decode", h, NULL }, golden_decode },
		{ { "fwd", help, NULL }, golden_forwarder },
		{ { "fwd", fwd_l, NULL }, golden_forwarder },
		{ { "probe", help, NULL }, golden_probe },
		{ { "probe", h, NULL }, golden_probe },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct outcome o;
		char what[128];
		in_child(call_parse, &cases[i].p, &o);
		snprintf(what, sizeof(what), "%s %s %s", cases[i].p.mode, cases[i].p.args[0],
			 cases[i].p.args[1] ? cases[i].p.args[1] : "");
		cr_expect_eq(o.rc, 0, "%s: exit %d: %s", what, o.rc, o.err);
		expect_text(what, o.out, cases[i].want);
		expect_text(what, o.err, "");
	}
}

/* ------------------------------------------------------------ the option table */

static const char *const mode_of[KT_CMD__N] = {
	[KT_CMD_RUN] = "run",
	[KT_CMD_DECODE] = "decode",
	[KT_CMD_FORWARDER] = "fwd",
	[KT_CMD_PROBE] = "probe",
};

static const struct kt_opt *target(const struct kt_opt *o)
{
	return kt_opt_target(&kt_config_options, o);
}

static uint64_t field_uint(const struct kt_config *c, const struct kt_opt *o)
{
	const char *p = (const char *)c + o->off;
	switch (o->size) {
	case 1:
		return *(const uint8_t *)p;
	case 2:
		return *(const uint16_t *)p;
	case 4:
		return *(const uint32_t *)p;
	default:
		return *(const uint64_t *)p;
	}
}

/* What the option set, as text: a number, a string, "count:last", or "parsed". */
static void show_field(const struct kt_config *c, const struct kt_opt *o)
{
	const char *base = (const char *)c;
	switch (o->kind) {
	case KT_OPT_FLAG:
	case KT_OPT_NUMBER:
		printf("%llu", (unsigned long long)field_uint(c, o));
		break;
	case KT_OPT_CHOICE:
		if (o->choices)
			printf("%llu", (unsigned long long)field_uint(c, o));
		else
			printf("parsed");
		break;
	case KT_OPT_STRING:
	case KT_OPT_FILE:
		printf("%s", *(const char *const *)(base + o->off));
		break;
	case KT_OPT_LIST: {
		size_t n = *(const size_t *)(base + o->count_off);
		printf("%zu:%s", n, n ? ((const char *const *)(base + o->off))[n - 1] : "");
		break;
	}
	case KT_OPT_CUSTOM:
		printf("parsed");
		break;
	}
}

/* A valid value of each option that must pass a check (the rest: by kind). */
static const char *sample_value(const struct kt_opt *t)
{
	static const struct {
		const char *name, *value;
	} samples[] = {
		{ "vsock-cid", "3" },
		{ "otlp-endpoint", "http://127.0.0.1:4317" },
		{ "shim-socket-dir", "/run/containerd-alt/s" },
		{ "sandbox-path", "cloud-hypervisor=/run/t/{ID}/clh.sock" },
		{ "bundle-path", "/run/b/{ID}/config.json" },
		{ "metrics-address", "127.0.0.1:2112" },
	};
	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++)
		if (strcmp(samples[i].name, t->name) == 0)
			return samples[i].value;
	return "/some/value";
}

/* What a value needs besides to pass the checks across options. */
static const char *companion(const struct kt_opt *t, const char *value)
{
	if (strcmp(t->name, "exporter") == 0 && value && strcmp(value, "file") == 0)
		return "--output=/some/file";
	return NULL;
}

/* Runs "<mode> --<name> [value]" (or "-<short>") and returns its outcome. */
static void run_opt(enum kt_cmd cmd, const struct kt_opt *o, bool use_short, const char *value,
		    struct outcome *out)
{
	char flag[64];
	if (use_short)
		snprintf(flag, sizeof(flag), "-%c", o->short_name);
	else
		snprintf(flag, sizeof(flag), "--%s", o->name);
	const char *args[6] = { flag, value, NULL, NULL, NULL, NULL };
	size_t n = value ? 2 : 1;
	if ((args[n] = companion(target(o), value)))
		n++;
	if (cmd == KT_CMD_DECODE)
		args[n] = "file"; /* decode needs an operand */
	if (cmd == KT_CMD_PROBE) {
		/* probe needs a TARGET and something to probe it with */
		static const char *const probes[] = { "span", "event", "program-string", "program-file" };
		bool probes_itself = false;
		for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
			probes_itself |= strcmp(target(o)->name, probes[i]) == 0;
		if (!probes_itself)
			args[n++] = "--event=tracepoint:sched:sched_process_exit";
		args[n] = "node";
	}
	struct parse_call p = { mode_of[cmd], args, target(o) };
	in_child(call_parse, &p, out);
}

static void expect_ok(enum kt_cmd cmd, const struct kt_opt *o, bool use_short, const char *value,
		      const char *want)
{
	struct outcome r;
	run_opt(cmd, o, use_short, value, &r);
	cr_expect_eq(r.rc, 0, "%s --%s %s: exit %d: %s", mode_of[cmd], o->name, value ? value : "",
		     r.rc, r.err);
	if (want)
		cr_expect_str_eq(r.out, want, "%s --%s %s: set %s, want %s", mode_of[cmd], o->name,
				 value ? value : "", r.out, want);
}

static void expect_usage_error(enum kt_cmd cmd, const struct kt_opt *o, const char *value,
			       const char *message)
{
	struct outcome r;
	char want[512];
	run_opt(cmd, o, false, value, &r);
	const char *name = kt_config_options.help[cmd].name;
	snprintf(want, sizeof(want), "katatrace-bpf %s: %s\nTry 'katatrace-bpf %s --help'.\n", name,
		 message, name);
	cr_expect_eq(r.rc, 2, "%s --%s '%s': exit %d", mode_of[cmd], o->name, value, r.rc);
	cr_expect_str_eq(r.err, want, "%s --%s '%s'", mode_of[cmd], o->name, value);
}

static void each_value(const char *values, void (*fn)(const char *v, void *ctx), void *ctx)
{
	char v[128];
	while (*values) {
		size_t n = strcspn(values, "|");
		snprintf(v, sizeof(v), "%.*s", (int)n, values);
		fn(v, ctx);
		values += n + (values[n] == '|');
	}
}

struct choice_ctx {
	enum kt_cmd cmd;
	const struct kt_opt *o;
};

static void choice_parses(const char *v, void *ctx)
{
	const struct choice_ctx *x = ctx;
	expect_ok(x->cmd, x->o, false, v, NULL);
}

/* One option in one command that accepts it: good values set it, bad ones are usage errors. */
static void check_option(enum kt_cmd cmd, const struct kt_opt *o)
{
	const struct kt_opt *t = target(o);
	char want[512], v[64];

	switch (t->kind) {
	case KT_OPT_FLAG:
		expect_ok(cmd, o, false, NULL, t->flag ? "1" : "0");
		break;
	case KT_OPT_NUMBER:
		snprintf(v, sizeof(v), "%llu", (unsigned long long)t->min);
		expect_ok(cmd, o, false, v, v);
		snprintf(v, sizeof(v), "%llu", (unsigned long long)t->max);
		expect_ok(cmd, o, false, v, v);
		if (t->min <= 1024 && t->max >= 1024)
			expect_ok(cmd, o, false, "1K", "1024");
		snprintf(v, sizeof(v), "%llu", (unsigned long long)t->max + 1);
		snprintf(want, sizeof(want), "--%s: '%s' is not a number in %llu..%llu", t->name, v,
			 (unsigned long long)t->min, (unsigned long long)t->max);
		expect_usage_error(cmd, o, v, want);
		if (t->min > 0) {
			snprintf(v, sizeof(v), "%llu", (unsigned long long)t->min - 1);
			snprintf(want, sizeof(want), "--%s: '%s' is not a number in %llu..%llu", t->name,
				 v, (unsigned long long)t->min, (unsigned long long)t->max);
			expect_usage_error(cmd, o, v, want);
		}
		break;
	case KT_OPT_STRING:
	case KT_OPT_FILE:
		expect_ok(cmd, o, false, "/some/value", "/some/value");
		if (t->kind == KT_OPT_FILE || t->empty) {
			snprintf(want, sizeof(want), "--%s: empty %s", t->name,
				 t->kind == KT_OPT_FILE ? "file name" : t->empty);
			expect_usage_error(cmd, o, "", want);
		}
		break;
	case KT_OPT_CHOICE: {
		struct choice_ctx x = { cmd, o };
		if (t->choices) {
			for (const struct kt_opt_choice *c = t->choices; c->name; c++) {
				snprintf(v, sizeof(v), "%d", c->value);
				expect_ok(cmd, o, false, c->name, v);
			}
		} else {
			each_value(t->values ? t->values : t->arg, choice_parses, &x);
		}
		char names[256] = "";
		if (t->values || t->arg) {
			snprintf(names, sizeof(names), "%s", t->values ? t->values : t->arg);
		} else {
			for (const struct kt_opt_choice *c = t->choices; c->name; c++)
				snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
					 c == t->choices ? "" : "|", c->name);
		}
		/* "a|b|c" -> "a, b or c" */
		char said[256];
		size_t n = 0;
		char *last = strrchr(names, '|');
		for (char *p = names; *p; p++)
			n += (size_t)snprintf(said + n, sizeof(said) - n, "%s",
					      *p != '|' ? (char[]){ *p, 0 } : p == last ? " or " : ", ");
		snprintf(want, sizeof(want), "--%s: 'no-such-value' is not %s", t->name, said);
		expect_usage_error(cmd, o, "no-such-value", want);
		break;
	}
	case KT_OPT_LIST: {
		const char *value = sample_value(t);
		snprintf(want, sizeof(want), "1:%s", value);
		expect_ok(cmd, o, false, value, want);
		if (t->empty) {
			snprintf(want, sizeof(want), "--%s: empty %s", t->name, t->empty);
			expect_usage_error(cmd, o, "", want);
		}
		break;
	}
	case KT_OPT_CUSTOM:
		if (strcmp(t->name, "help") == 0) {
			struct outcome r;
			run_opt(cmd, o, false, NULL, &r);
			cr_expect_eq(r.rc, 0);
			static const char *const golden[KT_CMD__N] = {
				[KT_CMD_RUN] = golden_run,
				[KT_CMD_DECODE] = golden_decode,
				[KT_CMD_FORWARDER] = golden_forwarder,
				[KT_CMD_PROBE] = golden_probe,
			};
			cr_expect_str_eq(r.out, golden[cmd]);
		} else if (strcmp(t->name, "version") == 0) {
			struct outcome r;
			run_opt(cmd, o, false, NULL, &r);
			cr_expect_eq(r.rc, 0);
			cr_expect_str_eq(r.out, "katatrace-bpf " KT_VERSION "\n");
		} else {
			expect_ok(cmd, o, false, t->arg ? sample_value(t) : NULL, "parsed");
		}
		break;
	}
	if (o->short_name && t->kind != KT_OPT_CUSTOM) {
		/* the short form: the same option */
		if (t->kind == KT_OPT_CHOICE && !t->choices) {
			char first[64];
			const char *vals = t->values ? t->values : t->arg;
			snprintf(first, sizeof(first), "%.*s", (int)strcspn(vals, "|"), vals);
			expect_ok(cmd, o, true, first, NULL);
		} else if (t->kind == KT_OPT_STRING || t->kind == KT_OPT_FILE) {
			char want[256];
			snprintf(want, sizeof(want), "%s", sample_value(t));
			expect_ok(cmd, o, true, sample_value(t), want);
		} else {
			cr_expect_fail("-%c: no check for the short form of this kind", o->short_name);
		}
	}
}

Test(config_options, every_option_parses_in_every_command_that_takes_it, .timeout = 300)
{
	const struct kt_optset *set = &kt_config_options;
	for (size_t i = 0; i < set->n_opts; i++)
		for (enum kt_cmd cmd = 0; cmd < KT_CMD__N; cmd++)
			if (kt_opt_accepts(&set->opts[i], cmd))
				check_option(cmd, &set->opts[i]);
}

Test(config_options, options_a_command_does_not_take_are_unknown)
{
	const struct kt_optset *set = &kt_config_options;
	for (size_t i = 0; i < set->n_opts; i++) {
		const struct kt_opt *o = &set->opts[i];
		for (enum kt_cmd cmd = 0; cmd < KT_CMD__N; cmd++) {
			if (kt_opt_accepts(o, cmd))
				continue;
			struct outcome r;
			char flag[64], want[256];
			snprintf(flag, sizeof(flag), "--%s", o->name);
			run_opt(cmd, o, false, target(o)->kind == KT_OPT_FLAG ? NULL : "x", &r);
			const char *name = kt_config_options.help[cmd].name;
			snprintf(want, sizeof(want),
				 "katatrace-bpf %s: unknown option '%s'\nTry 'katatrace-bpf %s --help'.\n",
				 name, flag, name);
			cr_expect_eq(r.rc, 2, "%s %s: exit %d", mode_of[cmd], flag, r.rc);
			cr_expect_str_eq(r.err, want);
		}
	}
}

static void help_of(enum kt_cmd cmd, char *out, size_t size)
{
	static const char *const names[KT_CMD__N] = { "run", "decode", "forwarder", "probe" };
	struct usage_call u = { names[cmd], 0 };
	struct outcome o;
	in_child(call_usage, &u, &o);
	snprintf(out, size, "%s", o.out);
}

/* Whether text has a line that starts "  <label>" and goes on with a space, a comma or its end. */
static bool has_option_line(const char *text, const char *label)
{
	size_t n = strlen(label);
	for (const char *p = text; p; p = strchr(p, '\n')) {
		if (*p == '\n')
			p++;
		if (strncmp(p, "  ", 2) == 0 && strncmp(p + 2, label, n) == 0 &&
		    (p[2 + n] == ' ' || p[2 + n] == ',' || p[2 + n] == '\n'))
			return true;
	}
	return false;
}

/* o's line in the help text of cmd, or its label on the line of the option it joins */
static bool listed_in(const char *text, const struct kt_opt *o, enum kt_cmd cmd)
{
	char label[256], joined[260];
	kt_opt_label(o, cmd, label, sizeof(label));
	if (!(o->doc[cmd].flags & KT_DOC_JOIN))
		return has_option_line(text, label);
	snprintf(joined, sizeof(joined), ", %s  ", label);
	return strstr(text, joined) != NULL;
}

Test(config_options, every_option_is_in_the_help_of_each_command_that_takes_it)
{
	const struct kt_optset *set = &kt_config_options;
	static char help[KT_CMD__N][16384];
	for (enum kt_cmd cmd = 0; cmd < KT_CMD__N; cmd++)
		help_of(cmd, help[cmd], sizeof(help[cmd]));
	/*
	 * Taken but without a line of their own: --help (what prints the
	 * text); run's --version (the version command's); --trace-name, the
	 * forwarder's name for --service-name (run's line names it).
	 */
	static const struct {
		enum kt_cmd cmd;
		const char *name;
	} unlisted[] = {
		{ KT_CMD_RUN, "help" },	   { KT_CMD_RUN, "version" },	 { KT_CMD_RUN, "trace-name" },
		{ KT_CMD_DECODE, "help" }, { KT_CMD_DECODE, "trace-name" }, { KT_CMD_FORWARDER, "help" },
		{ KT_CMD_PROBE, "help" },
	};
	for (size_t i = 0; i < set->n_opts; i++) {
		const struct kt_opt *o = &set->opts[i];
		for (enum kt_cmd cmd = 0; cmd < KT_CMD__N; cmd++) {
			char label[256];
			bool exempt = false;
			for (size_t j = 0; j < sizeof(unlisted) / sizeof(unlisted[0]); j++)
				exempt |= unlisted[j].cmd == cmd && strcmp(unlisted[j].name, o->name) == 0;
			if (o->doc[cmd].section) {
				cr_expect(kt_opt_accepts(o, cmd), "--%s: in the help of %s, which refuses it",
					  o->name, mode_of[cmd]);
				cr_expect(!exempt, "--%s: listed for %s after all", o->name, mode_of[cmd]);
			}
			if (!kt_opt_accepts(o, cmd) || exempt)
				continue;
			/* the forwarder form's help refers to run's for the rest */
			bool listed = listed_in(help[cmd], o, cmd) ||
				      (cmd == KT_CMD_FORWARDER && !o->doc[cmd].section &&
				       listed_in(help[KT_CMD_RUN], o, KT_CMD_RUN));
			kt_opt_label(o, cmd, label, sizeof(label));
			cr_expect(listed, "%s --help has no line for '%s'", mode_of[cmd], label);
		}
	}
	cr_expect(strstr(help[KT_CMD_RUN], "alias --trace-name"));
}

Test(config_options, table_is_consistent)
{
	const struct kt_optset *set = &kt_config_options;
	cr_assert_leq(set->n_opts, KT_OPTS_MAX);
	for (size_t i = 0; i < set->n_opts; i++) {
		const struct kt_opt *o = &set->opts[i];
		cr_expect(o->cmds, "--%s: no command takes it", o->name);
		for (size_t j = 0; j < i; j++) {
			cr_expect_str_neq(o->name, set->opts[j].name);
			cr_expect(!o->short_name || o->short_name != set->opts[j].short_name,
				  "-%c twice", o->short_name);
		}
		if (o->alias) {
			const struct kt_opt *t = kt_opt_find(set, o->alias);
			cr_expect(t && !t->alias, "--%s: alias of no option '%s'", o->name, o->alias);
			cr_expect(t && (t->cmds & o->cmds) == o->cmds,
				  "--%s: taken where --%s is not", o->name, o->alias);
		}
		const struct kt_opt *t = target(o);
		if (t->kind == KT_OPT_CHOICE) {
			cr_expect(!t->choices != !t->parse, "--%s: choices or a parser", t->name);
			cr_expect(t->choices || t->values || (t->arg && strchr(t->arg, '|')),
				  "--%s: its values are not named", t->name);
		}
		if (t->kind == KT_OPT_CUSTOM)
			cr_expect(t->custom, "--%s: no handler", t->name);
		/* the forwarder form takes every run option (its --help says so) */
		cr_expect_eq(kt_opt_accepts(o, KT_CMD_RUN), kt_opt_accepts(o, KT_CMD_FORWARDER),
			     "--%s", o->name);
	}
}

Test(config_options, number_ranges_as_they_were)
{
	/* every number option's range, as the usage errors have always said it */
	static const struct {
		const char *name;
		unsigned long long min, max;
	} ranges[] = {
		{ "vsock-port", 1, 0xfffffffeu },
		{ "jaeger-port", 0, 0xfffffffeu },
		{ "journal-port", 0, 0xfffffffeu },
		{ "ttrpc-vsock-port", 0, 0xfffffffeu },
		{ "complete-delay", 0, 3600000 },
		{ "clock-skew", 0, 3600000 },
		{ "ring-buffer-size", 1u << 16, 1u << 30 },
		{ "burst-buffer", 1u << 16, 1ull << 40 },
		{ "memory-budget", 1u << 20, 1ull << 40 },
		{ "max-connections", 1, 1u << 20 },
		{ "max-sandbox-connections", 1, 1u << 20 },
		{ "max-frame", 126, 1ull << 30 }, /* KT_FRAME_MIN_PAYLOAD.. */
		{ "batch-size", 1, 1u << 20 },
		{ "batch-timeout", 1, 3600000 },
		{ "queue-size", 1, 1u << 24 },
		{ "spool-size", 1u << 16, 1ull << 40 },
		{ "stats-interval", 0, 86400 },
		{ "args", 0, 6 },
		{ "duration", 0, 7 * 86400 },
	};
	const struct kt_optset *set = &kt_config_options;
	size_t numbers = 0;
	for (size_t i = 0; i < set->n_opts; i++)
		numbers += !set->opts[i].alias && set->opts[i].kind == KT_OPT_NUMBER;
	cr_expect_eq(numbers, sizeof(ranges) / sizeof(ranges[0]));
	for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
		const struct kt_opt *o = kt_opt_find(set, ranges[i].name);
		cr_assert(o, "--%s is gone", ranges[i].name);
		cr_expect_eq(o->kind, KT_OPT_NUMBER, "--%s", o->name);
		cr_expect_eq(o->min, ranges[i].min, "--%s", o->name);
		cr_expect_eq(o->max, ranges[i].max, "--%s", o->name);
	}
	/* the odd one: a number or "any" */
	const struct kt_opt *cid = kt_opt_find(set, "vsock-cid");
	cr_assert(cid);
	expect_usage_error(KT_CMD_RUN, cid, "4294967295",
			   "--vsock-cid: '4294967295' is not a number in 0..4294967294");
	expect_ok(KT_CMD_RUN, cid, false, "any", "parsed");
	expect_ok(KT_CMD_RUN, cid, false, "0", "parsed");
}

/* "16M" -> 16 MiB, as an option takes it; false for anything else. */
static bool help_number(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i = 0;
	for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
		v = v * 10 + (uint64_t)(s[i] - '0');
	if (i == 0)
		return false;
	if (i + 1 == n && s[i] == 'M')
		v <<= 20;
	else if (i + 1 == n && s[i] == 'G')
		v <<= 30;
	else if (i != n)
		return false;
	*out = v;
	return true;
}

Test(config_options, a_default_in_the_help_is_the_default_set)
{
	const struct kt_optset *set = &kt_config_options;
	struct kt_config d;
	kt_config_defaults(&d);
	size_t stated = 0;
	for (size_t i = 0; i < set->n_opts; i++) {
		const struct kt_opt *o = &set->opts[i];
		for (int cmd = 0; cmd < KT_CMD__N; cmd++) {
			const char *raw = o->doc[cmd].text;
			if (!raw)
				continue;
			char text[1024];
			cr_assert_eq(kt_opt_doc_text(o, cmd, &d, text, sizeof(text)), 0, "--%s", o->name);
			if (o->kind != KT_OPT_NUMBER) {
				cr_expect_null(strstr(raw, "{default}"), "--%s: not a number", o->name);
				continue;
			}
			const char *at = strstr(text, "default ");
			if (!at)
				continue;
			/* a number option's default is shown from the defaults, never typed in */
			cr_expect(strstr(raw, "default {default}"), "--%s (%s): its default is typed in: %s",
				  o->name, mode_of[cmd], raw);
			at += strlen("default ");
			size_t n = strcspn(at, " ,;:)\n");
			uint64_t v;
			cr_expect(help_number(at, n, &v), "--%s: '%.*s'", o->name, (int)n, at);
			cr_expect_eq(v, field_uint(&d, o), "--%s (%s): the help says %.*s, the default is %llu",
				     o->name, mode_of[cmd], (int)n, at,
				     (unsigned long long)field_uint(&d, o));
			stated++;
		}
	}
	/*
	 * ports, delays, buffers, limits, batching (run and probe), stats, probe
	 * args and duration
	 */
	cr_expect_eq(stated, 24);
	/* the suffixes */
	struct kt_opt big = { .name = "big", .kind = KT_OPT_NUMBER, .off = offsetof(struct kt_config, memory_budget),
			      .size = sizeof(d.memory_budget),
			      .doc[KT_CMD_RUN] = { 1, 0, 0, "(default {default})" } };
	char text[64];
	d.memory_budget = 3ull << 30;
	kt_opt_doc_text(&big, KT_CMD_RUN, &d, text, sizeof(text));
	cr_expect_str_eq(text, "(default 3G)");
	d.memory_budget = (3ull << 20) + 1;
	kt_opt_doc_text(&big, KT_CMD_RUN, &d, text, sizeof(text));
	cr_expect_str_eq(text, "(default 3145729)");
	cr_expect_eq(kt_opt_doc_text(&big, KT_CMD_RUN, &d, text, 10), -1, "too long for out");
}

/* --exporter and --otlp-protocol name the same transport, or the command line is refused. */
Test(config, exporter_and_protocol_agree)
{
	static const struct {
		const char *exporter, *protocol;
		bool ok;
	} cases[] = {
		{ "otlp-http", "http/json", true },
		{ "otlp-http", "http/protobuf", true },
		{ "otlp-http", "grpc", false },
		{ "otlp-grpc", "grpc", true },
		{ "otlp-grpc", "http/protobuf", false },
		{ "otlp-grpc", "http/json", false },
		{ "console", "http/json", true },
	};
	static const char refused[] = "katatrace-bpf run: --exporter and --otlp-protocol disagree\n"
				      "Try 'katatrace-bpf run --help'.\n";
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *args[] = { "--exporter", cases[i].exporter, "--otlp-protocol",
				       cases[i].protocol, NULL };
		struct parse_call p = { "run", args, NULL };
		struct outcome o;
		in_child(call_parse, &p, &o);
		cr_expect_eq(o.rc, cases[i].ok ? 0 : 2, "--exporter %s --otlp-protocol %s: exit %d",
			     cases[i].exporter, cases[i].protocol, o.rc);
		cr_expect_str_eq(o.err, cases[i].ok ? "" : refused, "--exporter %s --otlp-protocol %s",
				 cases[i].exporter, cases[i].protocol);
	}
}
