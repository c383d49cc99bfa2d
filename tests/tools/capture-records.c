/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The capture's records as the kernel writes them: attaches the capture
 * programs as the daemon does (kt_capture_start, the auto strategy), with
 * PORT as the trace port (listeners "*_PORT"), DIR as a path prefix and the
 * hypervisors' socket names as suffixes (as the daemon with ttrpc spans on),
 * makes one connection to a listener of each kind, writes COUNT 64-byte
 * messages on each and then one of two and a half records' bytes (a write
 * the programs split into records), and reads the ring buffer back. For each
 * connection it prints one line:
 *
 *   <name>: <n> data records, <bytes> bytes, <u> untimed, <t> timed within the run
 *
 * "untimed": KT_F_UNTIMED and a time of 0; "timed within the run": no
 * KT_F_UNTIMED and a CLOCK_MONOTONIC time between the first write and the
 * end of the reading. Any other record of the connection is counted as
 * neither. The names are "trace-port" (the *_PORT listener), "prefix" (the
 * listener in DIR) and "hypervisor" (a listener named as the first of the
 * hypervisors' sockets, outside DIR).
 *
 * Needs root (BPF). Usage: capture-records PORT DIR [COUNT]
 * Exit status: 0, or 1 when the programs cannot be attached or a socket fails.
 */
#include <bpf/libbpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/diag.h"
#include "capture/capture.h"
#include "sandbox/hypervisors.h"

struct conn_seen {
	const char *name;
	unsigned long long ino; /* the client end's inode: the connection's id */
	unsigned records, untimed, timed;
	unsigned long long bytes;
};

#define N_CONNS 3
static struct conn_seen seen[N_CONNS] = { { .name = "trace-port" }, { .name = "prefix" },
					  { .name = "hypervisor" } };
static uint64_t t_first;

static int on_record(void *ctx, void *data, size_t size)
{
	(void)ctx;
	const struct kt_rec_hdr *h = data;
	if (size < sizeof(*h) || h->type != KT_REC_DATA || h->conn.transport != KT_TRANSPORT_UNIX)
		return 0;
	for (size_t i = 0; i < N_CONNS; i++) {
		struct conn_seen *s = &seen[i];
		if (h->conn.endpoint != s->ino)
			continue;
		s->records++;
		s->bytes += h->len;
		if ((h->flags & KT_F_UNTIMED) && h->ts_ns == 0)
			s->untimed++;
		/* read after the writes: every record's time is before now */
		else if (!(h->flags & KT_F_UNTIMED) && h->ts_ns >= t_first && h->ts_ns <= kt_mono_ns())
			s->timed++;
	}
	return 0;
}

/* A listener at path and a client connected to it; the client's fd, its inode in *ino. */
static int connect_pair(const char *path, int *listener, unsigned long long *ino)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct stat st;
	if (strlen(path) >= sizeof(a.sun_path)) {
		fprintf(stderr, "%s: too long for a socket's path\n", path);
		return -1;
	}
	memcpy(a.sun_path, path, strlen(path) + 1);
	unlink(path);
	*listener = socket(AF_UNIX, SOCK_STREAM, 0);
	if (*listener < 0 || bind(*listener, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(*listener, 1)) {
		perror(path);
		return -1;
	}
	int c = socket(AF_UNIX, SOCK_STREAM, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a)) || fstat(c, &st)) {
		perror(path);
		return -1;
	}
	*ino = (unsigned long long)st.st_ino;
	return c;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: capture-records PORT DIR [COUNT]\n");
		return 2;
	}
	unsigned port = (unsigned)atoi(argv[1]);
	const char *dir = argv[2];
	int count = argc > 3 ? atoi(argv[3]) : 8;
	/* the other listeners in a directory of their own, outside DIR */
	char own[] = "/tmp/kt-capture-records-XXXXXX";
	if (!mkdtemp(own)) {
		perror("capture-records: mkdtemp");
		return 1;
	}
	char paths[N_CONNS][108];
	snprintf(paths[0], sizeof(paths[0]), "%s/sb_%u", own, port);
	snprintf(paths[1], sizeof(paths[1]), "%s/ttrpc.sock", dir);
	/* a hypervisor's socket name starts with the '/' after its sandbox's directory */
	snprintf(paths[2], sizeof(paths[2]), "%s%s", own, kt_hv_sockets[0]);

	kt_log_level = KT_LOG_WARN;
	kt_libbpf_log_init();
	kt_mount_bpf_filesystems();
	const char *prefixes[] = { dir };
	struct kt_capture_cfg cc = { .attach = KT_ATTACH_AUTO, .ports = &port, .n_ports = 1,
				     .prefixes = prefixes, .n_prefixes = 1,
				     .suffixes = kt_hv_sockets, .n_suffixes = kt_n_hv_sockets,
				     .ringbuf_bytes = 1u << 20, .vsock = true };
	struct kt_capture *cap = kt_capture_start(&cc);
	if (!cap) {
		fprintf(stderr, "capture-records: cannot attach the capture programs (root?)\n");
		return 1;
	}
	struct ring_buffer *rb = ring_buffer__new(kt_capture_ringbuf_fd(cap), on_record, NULL, NULL);
	int l[N_CONNS], c[N_CONNS];
	if (!rb)
		return 1;
	for (int i = 0; i < N_CONNS; i++)
		if ((c[i] = connect_pair(paths[i], &l[i], &seen[i].ino)) < 0)
			return 1;
	static char msg[KT_CHUNK_SIZE * 5 / 2];
	memset(msg, 'x', sizeof(msg));
	t_first = kt_mono_ns();
	for (int k = 0; k <= count; k++)
		for (int i = 0; i < N_CONNS; i++) {
			size_t n = k < count ? 64 : sizeof(msg); /* the last: several records */
			if (write(c[i], msg, n) != (ssize_t)n) {
				perror("capture-records: write");
				return 1;
			}
		}
	/* the records are in the ring buffer once the writes return */
	ring_buffer__consume(rb);
	for (int i = 0; i < N_CONNS; i++)
		printf("%s: %u data records, %llu bytes, %u untimed, %u timed within the run\n",
		       seen[i].name, seen[i].records, seen[i].bytes, seen[i].untimed, seen[i].timed);
	ring_buffer__free(rb);
	kt_capture_stop(cap);
	for (int i = 0; i < N_CONNS; i++)
		unlink(paths[i]);
	rmdir(own);
	return 0;
}
