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
	"  katatrace-bpf run --memory-budget 64M --max-sandbox-connections 16\n";

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
	"  version  print the version\n"
	"\n"
	"Run 'katatrace-bpf COMMAND --help' for the options of a command, and\n"
	"'katatrace-bpf help forwarder' for the kata-trace-forwarder compatible form.\n"
	"\n"
	"Examples:\n"
	"  katatrace-bpf run\n"
	"  katatrace-bpf run --mode tap --otlp-endpoint http://127.0.0.1:4317\n"
	"  katatrace-bpf decode capture.bin\n";

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
	const char *mode; /* "run", "decode" or "fwd" */
	const char *const *args; /* NULL-terminated, after the command */
};

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
		{ { "run", help }, golden_run },
		{ { "run", h }, golden_run },
		{ { "run", late }, golden_run },
		{ { "decode", help }, golden_decode },
		{ { "decode", h }, golden_decode },
		{ { "fwd", help }, golden_forwarder },
		{ { "fwd", fwd_l }, golden_forwarder },
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
