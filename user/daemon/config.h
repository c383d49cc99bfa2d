/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Command line configuration of the run and decode commands and of the
 * kata-trace-forwarder form. Their options are declared once, in the
 * table of user/daemon/config_options.c (daemon/options.h): from it come
 * the parsing and each command's --help.
 */
#ifndef KT_CONFIG_H
#define KT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/options.h"
#include "capture/attach.h"
#include "agent/decode.h"

#ifndef KT_VERSION
#define KT_VERSION "0.2.0"
#endif

enum kt_mode { KT_MODE_SINK, KT_MODE_TAP };
/* run: what a daemon that handed everything over does (--after-handover). */
enum kt_after_handover { KT_AFTER_HANDOVER_EXIT, KT_AFTER_HANDOVER_WAIT };
/* probe: through the running daemon, or exporting by itself (--export-via). */
enum kt_export_via { KT_VIA_AUTO, KT_VIA_DAEMON, KT_VIA_SELF };
/* probe: what the command line asks for. */
enum kt_probe_action { KT_PROBE_RUN, KT_PROBE_LIST, KT_PROBE_STOP };
enum kt_capture_mode { KT_CAPTURE_BPF, KT_CAPTURE_SOCKET };
enum kt_exporter_kind {
	KT_EXPORTER_DEFAULT, /* chosen by kt_exporter_resolve (user/daemon/exporter_select.c) */
	KT_EXPORTER_CONSOLE,
	KT_EXPORTER_FILE,
	KT_EXPORTER_OTLP_HTTP,
	KT_EXPORTER_OTLP_GRPC,
};

/* OTLP transport: --otlp-protocol, else OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL. */
enum kt_otlp_protocol {
	KT_OTLP_PROTOCOL_UNSET,
	KT_OTLP_PROTOCOL_GRPC,          /* "grpc" */
	KT_OTLP_PROTOCOL_HTTP_PROTOBUF, /* "http/protobuf" */
	KT_OTLP_PROTOCOL_HTTP_JSON,     /* "http/json": OTLP/HTTP with OTLP/JSON bodies */
};

/* kata-trace-forwarder's default --otlp-endpoint: OTLP/gRPC on localhost. */
#define KT_FORWARDER_OTLP_ENDPOINT "http://localhost:4317"
/* Who the daemon runs as after start-up (--user). */
#define KT_DEFAULT_USER "nobody"

#define KT_MAX_SOCKET_PATHS 64
#define KT_MAX_CAPTURE_PATHS 4
#define KT_MAX_SANDBOX_PATHS 32
#define KT_MAX_BUNDLE_PATHS 8
#define KT_MAX_SHIM_SOCKET_DIRS 4
#define KT_SHIM_PREFIX_MAX 108 /* sizeof(sockaddr_un.sun_path) */
#define KT_MAX_PROBE_SPECS 16  /* --span and --event, each */
#define KT_PROBE_MAX_ARGS 6    /* --args: the integer arguments a span can carry */

struct kt_config {
	enum kt_mode mode;
	enum kt_capture_mode capture;
	enum kt_attach attach;
	const char *socket_paths[KT_MAX_SOCKET_PATHS];
	size_t n_socket_paths;
	const char *capture_paths[KT_MAX_CAPTURE_PATHS];
	size_t n_capture_paths;
	unsigned vsock_port;
	unsigned jaeger_port;   /* Kata 1.x Jaeger thrift over vsock (0: off) */
	unsigned journal_port;  /* Kata 1.x guest journal (syslog) over vsock (0: off) */
	bool ttrpc;             /* runtime -> agent RPC spans from the hypervisor sockets */
	bool collate;           /* the agent's own traces join their sandbox's (trace_stitch.h) */
	bool complete_traces;   /* synthesised parents when a sandbox ends */
	uint64_t complete_delay_ms; /* grace for late spans after a sandbox's end */
	uint64_t clock_skew_ms;     /* guest clock error tolerated by collation */
	/*
	 * containerd's shim socket directories (--shim-socket-dir, default
	 * /run/containerd/s/) as path prefixes: run root included, ending in '/'.
	 * Empty with --no-ttrpc.
	 */
	const char *shim_socket_dirs[KT_MAX_SHIM_SOCKET_DIRS];
	size_t n_shim_socket_dirs;
	char shim_socket_dir_buf[KT_MAX_SHIM_SOCKET_DIRS][KT_SHIM_PREFIX_MAX + 1];
	bool vm_spans;          /* kata.vm / vsock.connection spans from kernel events */
	bool takeover;          /* take over from the daemon on control_socket (takeover.h) */
	enum kt_after_handover after_handover;
	bool fd_store;          /* systemd: stop into, start from the fd store (takeover_store.h) */
	unsigned ttrpc_vsock_port; /* ... and from vsock connections to this guest port (0: off) */
	unsigned vsock_cid;     /* sink: AF_VSOCK listen address (VMADDR_CID_ANY) */
	bool vsock_cid_set;     /* given explicitly: failing to listen is an error */
	enum kt_format format;
	enum kt_exporter_kind exporter;
	enum kt_otlp_protocol otlp_protocol; /* --otlp-protocol; UNSET: from the environment */
	const char *otlp_endpoint;           /* --otlp-endpoint */
	/*
	 * OTLP/gRPC endpoint for when none is configured (no --otlp-endpoint and
	 * no OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT). NULL (the default): none, and
	 * without an endpoint the daemon exports to --output or the console.
	 *
	 * A profile that should behave like kata-trace-forwarder sets it to
	 * KT_FORWARDER_OTLP_ENDPOINT and leaves exporter at KT_EXPORTER_DEFAULT:
	 * then, unless an endpoint, --output, --exporter or an http/protobuf or
	 * http/json protocol says otherwise, spans go over OTLP/gRPC to
	 * http://localhost:4317. It is also the endpoint of an explicit
	 * KT_EXPORTER_OTLP_GRPC (--exporter otlp-grpc) without one. It is never
	 * used for OTLP/HTTP.
	 */
	const char *default_otlp_endpoint;
	const char *otlp_headers;
	/* TLS files (PEM); NULL: OTEL_EXPORTER_OTLP_[TRACES_]{CERTIFICATE,CLIENT_*} */
	const char *otlp_ca;          /* --otlp-ca */
	const char *otlp_client_cert; /* --otlp-client-cert */
	const char *otlp_client_key;  /* --otlp-client-key */
	const char *output;
	const char *service_name;
	uint64_t max_frame;
	uint64_t memory_budget;         /* --memory-budget (mem_budget.h) */
	size_t max_connections;         /* --max-connections (conn_limits.h) */
	size_t max_sandbox_connections; /* --max-sandbox-connections */
	size_t batch_size;
	uint64_t batch_timeout_ms;
	size_t queue_size;
	const char *spool_dir; /* --spool-dir: the OTLP exporters' disk spool; NULL: none */
	uint64_t spool_size;   /* --spool-size: its bound (exporters/spool.h) */
	uint64_t ringbuf_bytes;
	uint64_t burst_bytes;           /* --burst-buffer (stream/burst.h) */
	const char *run_root;
	unsigned stats_interval_s;
	const char *user;       /* the daemon's identity after start-up (KT_DEFAULT_USER) */
	bool discovery;         /* watch the run root for sandboxes */
	/*
	 * The daemon's control socket (--control-socket): as given, then the
	 * path in use (KT_CONTROL_SOCKET under the run root by default); NULL
	 * for none.
	 */
	const char *control_socket;
	char control_socket_buf[256];
	/* --metrics-address HOST:PORT (daemon/metrics_addr.h); NULL: no metrics server */
	const char *metrics_address;
	const char *sandbox_paths[KT_MAX_SANDBOX_PATHS]; /* discovery templates HV=PATH */
	size_t n_sandbox_paths;
	const char *bundle_paths[KT_MAX_BUNDLE_PATHS];   /* OCI bundle patterns */
	size_t n_bundle_paths;
	bool dump_only;         /* kata-trace-forwarder's --dump-only */
	/*
	 * Set by the caller before parsing: invoked the kata-trace-forwarder way
	 * (no command, or as kata-trace-forwarder). Its defaults apply: export
	 * over OTLP/gRPC to http://localhost:4317 unless told otherwise.
	 */
	bool forwarder;
	/* probe */
	const char *probe_target;                     /* TARGET (daemon/probe_target.h) */
	const char *span_specs[KT_MAX_PROBE_SPECS];   /* --span SPEC, variables not expanded */
	size_t n_span_specs;
	const char *event_specs[KT_MAX_PROBE_SPECS];  /* --event SPEC */
	size_t n_event_specs;
	unsigned probe_args;                          /* --args N */
	unsigned duration_s;                          /* --duration SEC; 0: until stopped */
	const char *program;                          /* -e PROGRAM (bpftrace) */
	const char *program_file;                     /* -f FILE (bpftrace) */
	enum kt_export_via export_via;                /* --export-via */
	enum kt_probe_action probe_action;            /* probe TARGET, probe list, probe stop ID */
	uint64_t stop_id;                             /* probe stop ID */
	/* decode */
	bool raw;
	char **files;
	size_t n_files;
};

void kt_config_defaults(struct kt_config *c);
/* "grpc", "http/protobuf" or "http/json"; -1 for anything else. */
int kt_otlp_protocol_parse(const char *s, enum kt_otlp_protocol *out);
/*
 * Parses argv of a subcommand ("run" or "decode"); argv[0] is the command.
 * Returns 0, or exits: 0 after --help, 2 on a usage error (message printed).
 */
int kt_config_parse(struct kt_config *c, const char *cmd, int argc, char **argv);
/*
 * The --help of cmd ("run", "decode", "forwarder"); anything else (NULL
 * too): the list of commands.
 */
void kt_usage(const char *cmd, int to_stderr);

/* Every option of run, decode and the forwarder form (config_options.c). */
extern const struct kt_optset kt_config_options;
/*
 * Adds --shim-socket-dir's value (one directory or a comma list) to
 * c->shim_socket_dir_buf as given; a usage error of cmd if it cannot.
 */
void kt_config_add_shim_dirs(struct kt_config *c, const char *cmd, const char *arg);

#endif
