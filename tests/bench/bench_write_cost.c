/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the kernel capture costs the processes that write: write(2) on a
 * captured unix socket (its listener named *_10240), on an uncaptured unix
 * socket and on a TCP loopback socket, with the capture programs attached
 * and detached. Each round loads and attaches the programs once and
 * measures every socket attached, and detached right before or after (the
 * order alternating from round to round), each measurement the best of
 * SAMPLES; each figure's ratio is the median of the rounds' (main(),
 * "Paired measurements"). The reading ends are drained by threads; while attached, a
 * thread consumes the ring buffer and discards the records, woken as the
 * daemon's drain is (batched wakeups, a look every few milliseconds).
 *
 * Figures: ns per 64-byte write(2) on each socket (and on /dev/null, not a
 * socket at all), and the throughput of 4 KiB writes on the captured socket.
 * Beside them, the floor: the same writes with an empty program on each
 * tracepoint the capture uses (sock_send_length, sock_recv_length), which
 * is what any program there costs every send on the node, whatever it does.
 * And for the captured writes, the copy floor (copy_floor.bpf.c): a
 * program that only copies each write's payload into a ring buffer like
 * the capture's, consumed the same way, which is what any in-kernel capture
 * of those bytes costs. For the uncaptured unix socket, the verdict floor
 * (verdict_floor.bpf.c): a program that only turns away what is not a unix
 * socket and looks up the socket's verdict in socket-local storage, which is
 * what deciding once per socket costs every later send. A goal that its
 * floor misses too is the limit here, and the table says so. Last, the
 * send programs' own time a run (the kernel's run-time statistics), the
 * capture's beside the copy floor's: the capture's own work per send.
 *
 * Needs root (BPF). Usage: bench_write_cost [ROUNDS [WRITES]]
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/diag.h"
#include "bench_util.h"
#include "capture/capture.h"
#include "bench/copy_floor.skel.h"
#include "bench/verdict_floor.skel.h"

static long writes_64 = 50000;
static long writes_4k = 8192; /* 32 MiB */
#define SAMPLES 3 /* measurements of each phase of a round */

/*
 * The writer on the first CPU, the readers and the ring buffer's consumer
 * on the second: where the scheduler puts a woken reader (on the writer's
 * CPU or not) changes a small write's cost by more than what is measured.
 */
static void pin(int cpu)
{
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set); /* best effort */
}

static void *drain(void *arg)
{
	int fd = (int)(long)arg;
	static _Thread_local char buf[1 << 16];
	pin(1);
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	close(fd);
	return NULL;
}

/* Seconds for `count` writes of `size` bytes on fd. */
static double time_writes(int fd, size_t size, long count)
{
	static char msg[4096];
	double t0 = bench_now();
	for (long i = 0; i < count; i++) {
		size_t off = 0;
		while (off < size) {
			ssize_t w = write(fd, msg + off, size - off);
			if (w <= 0) {
				perror("bench_write_cost: write");
				exit(1);
			}
			off += (size_t)w;
		}
	}
	return bench_now() - t0;
}

struct peer {
	int wfd;
	pthread_t reader;
};

static void accepted(struct peer *p, int l)
{
	int r = accept(l, NULL, NULL);
	if (r < 0) {
		perror("bench_write_cost: accept");
		exit(1);
	}
	close(l);
	pthread_create(&p->reader, NULL, drain, (void *)(long)r);
}

static void unix_peer(struct peer *p, const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	unlink(path);
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	if (bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 1)) {
		perror(path);
		exit(1);
	}
	p->wfd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (connect(p->wfd, (struct sockaddr *)&a, sizeof(a))) {
		perror("bench_write_cost: connect");
		exit(1);
	}
	accepted(p, l);
	unlink(path);
}

static void tcp_peer(struct peer *p)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t al = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0);
	if (bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 1) ||
	    getsockname(l, (struct sockaddr *)&a, &al)) {
		perror("bench_write_cost: tcp listener");
		exit(1);
	}
	p->wfd = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(p->wfd, (struct sockaddr *)&a, sizeof(a))) {
		perror("bench_write_cost: tcp connect");
		exit(1);
	}
	accepted(p, l);
}

/* The tracepoints the capture's tracepoint strategy attaches to, one empty program each (2). */
static const char *const floor_tps[] = { "sock_send_length", "sock_recv_length" };
#define N_FLOOR (sizeof(floor_tps) / sizeof(floor_tps[0]))

/* An empty BTF tracepoint program (r0 = 0; exit) on tp, attached; its fds, or -1. */
static int empty_program(const char *tp, int *link_fd)
{
	char name[64];
	snprintf(name, sizeof(name), "btf_trace_%s", tp);
	struct btf *vmlinux = btf__load_vmlinux_btf();
	int id = vmlinux ? btf__find_by_name_kind(vmlinux, name, BTF_KIND_TYPEDEF) : -1;
	btf__free(vmlinux);
	if (id < 0)
		return -1;
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	LIBBPF_OPTS(bpf_prog_load_opts, o, .expected_attach_type = BPF_TRACE_RAW_TP,
		    .attach_btf_id = (__u32)id);
	int fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, "kt_empty", "GPL", insns, 2, &o);
	if (fd < 0)
		return -1;
	*link_fd = bpf_raw_tracepoint_open(NULL, fd);
	if (*link_fd < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Attaches the floor's programs (false if the kernel refuses them), or detaches them. */
static bool floor_attach(bool on)
{
	static int prog[N_FLOOR] = { -1, -1 }, link[N_FLOOR] = { -1, -1 };
	bool ok = true;
	for (size_t i = 0; i < N_FLOOR; i++) {
		if (on) {
			prog[i] = empty_program(floor_tps[i], &link[i]);
			ok = ok && prog[i] >= 0;
		} else if (prog[i] >= 0) {
			close(link[i]);
			close(prog[i]);
			prog[i] = link[i] = -1;
		}
	}
	return ok;
}

static atomic_bool stop_consumer;
static atomic_ulong consumed_bytes;

static int discard(void *ctx, void *data, size_t size)
{
	(void)ctx;
	(void)data;
	atomic_fetch_add(&consumed_bytes, size);
	return 0;
}

static void *consume(void *arg)
{
	struct ring_buffer *rb = arg;
	pin(1);
	while (!atomic_load(&stop_consumer))
		ring_buffer__poll(rb, KT_CAPTURE_LOOK_MS);
	ring_buffer__consume(rb);
	return NULL;
}

/* A thread consuming the ring buffer map_fd as the daemon's drain would (records discarded). */
struct consumer {
	struct ring_buffer *rb;
	pthread_t thread;
};

static void consumer_start(struct consumer *c, int map_fd)
{
	c->rb = ring_buffer__new(map_fd, discard, NULL, NULL);
	if (!c->rb) {
		fprintf(stderr, "bench_write_cost: cannot read the ring buffer\n");
		exit(1);
	}
	atomic_store(&stop_consumer, false);
	pthread_create(&c->thread, NULL, consume, c->rb);
}

static void consumer_stop(struct consumer *c)
{
	atomic_store(&stop_consumer, true);
	pthread_join(c->thread, NULL);
	ring_buffer__free(c->rb);
}

/* The copy floor loaded and attached with the capture's ring buffer size and wakeups; NULL if refused. */
static struct copy_floor_bpf *copy_floor_attach(uint32_t ringbuf_bytes)
{
	struct copy_floor_bpf *s = copy_floor_bpf__open();
	if (!s)
		return NULL;
	s->rodata->floor_tgid = (uint32_t)getpid();
	s->rodata->floor_wakeup_bytes = kt_capture_batched_wakeup(ringbuf_bytes);
	if (bpf_map__set_max_entries(s->maps.floor_events, ringbuf_bytes) || copy_floor_bpf__load(s) ||
	    copy_floor_bpf__attach(s)) {
		copy_floor_bpf__destroy(s);
		return NULL;
	}
	return s;
}

enum { CAPT, PLAIN, TCP, DEVNULL, CAPT_4K, N_FIG };
static const char *const fig_name[N_FIG] = {
	"64 B write, captured unix socket *_10240",
	"64 B write, uncaptured unix socket",
	"64 B write, TCP loopback socket",
	"64 B write, /dev/null (not a socket)",
	"4 KiB writes, captured unix socket",
};

static void measure_4k(struct peer *peers, double best[N_FIG])
{
	for (int k = 0; k < SAMPLES; k++) {
		double mbs = (double)writes_4k * 4096 /
			     time_writes(peers[CAPT].wfd, 4096, writes_4k) / 1e6;
		if (mbs > best[CAPT_4K])
			best[CAPT_4K] = mbs;
	}
}

/* The 64-byte figures first..last. */
static void measure_64(struct peer *peers, double best[N_FIG], int first, int last)
{
	for (int k = 0; k < SAMPLES; k++)
		for (int f = first; f <= last; f++) {
			double ns = time_writes(peers[f].wfd, 64, writes_64) / (double)writes_64 * 1e9;
			if (ns < best[f])
				best[f] = ns;
		}
}


/*
 * The programs' own time: with the kernel's run-time statistics on (which
 * cost every run two clock reads, so never during the timed measurements),
 * the ns per run of the program prog_fd over one more measurement of 64-byte
 * writes on fd, kept if lower than *best. The writer's cost above counts
 * everything a send pays; this counts only what the program itself does,
 * which says how much of a captured send is the capture's own work beyond
 * the copy floor's.
 */
static void measure_prog(int prog_fd, int fd, double *best)
{
	int stats = bpf_enable_stats(BPF_STATS_RUN_TIME);
	struct bpf_prog_info a = { 0 }, b = { 0 };
	__u32 len = sizeof(a);

	if (stats < 0 || prog_fd < 0 || bpf_obj_get_info_by_fd(prog_fd, &a, &len)) {
		if (stats >= 0)
			close(stats);
		return;
	}
	time_writes(fd, 64, writes_64);
	len = sizeof(b);
	if (!bpf_obj_get_info_by_fd(prog_fd, &b, &len) && b.run_cnt > a.run_cnt) {
		double ns = (double)(b.run_time_ns - a.run_time_ns) / (double)(b.run_cnt - a.run_cnt);
		if (ns < *best)
			*best = ns;
	}
	close(stats);
}

/* The capture's program on sock_send_length, found by its name (kt_tp_send*); -1 if none. */
static int capture_send_prog(void)
{
	__u32 id = 0;
	while (!bpf_prog_get_next_id(id, &id)) {
		int fd = bpf_prog_get_fd_by_id(id);
		struct bpf_prog_info info = { 0 };
		__u32 len = sizeof(info);
		if (fd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(fd, &info, &len) &&
		    strncmp(info.name, "kt_tp_send", 10) == 0 && info.nr_map_ids > 0)
			return fd;
		close(fd);
	}
	return -1;
}

/*
 * Paired measurements. The machine's speed drifts during a run (a shared,
 * paravirtualised machine: by a third, for seconds at a time), so a figure
 * taken with programs attached is compared with a detached one taken right
 * beside it, not with the best detached figure of the whole run: each
 * configuration's measurement in a round has its own detached twin, taken
 * just before (even rounds) or just after (odd rounds). A figure's ratio is
 * the median of its rounds' ratios, and the table shows that round's two
 * measurements.
 */
enum { C_CAPTURE, C_TWO, C_FLOOR, C_COPY, C_VERDICT, N_CFG };
#define MAX_ROUNDS 64

struct pair {
	double on[N_FIG], off[N_FIG];
};

static struct pair pairs[N_CFG][MAX_ROUNDS];
static int n_pairs[N_CFG];

/* Figures first..last (and the 4 KiB writes: k4) into v, each the best of SAMPLES. */
static void take(struct peer *peers, double v[N_FIG], int first, int last, bool k4)
{
	for (int f = 0; f < N_FIG; f++)
		v[f] = f == CAPT_4K ? 0 : 1e30;
	measure_64(peers, v, first, last);
	if (k4)
		measure_4k(peers, v);
}

/* The detached twin of configuration cfg's measurement in this round, on the side its round takes. */
static void twin(struct peer *peers, int cfg, bool before, int first, int last, bool k4)
{
	if ((n_pairs[cfg] % 2 == 0) == before)
		take(peers, pairs[cfg][n_pairs[cfg]].off, first, last, k4);
}

/* Figure f of cfg: the pair whose ratio is the median of the rounds' (NULL: none); its ratio. */
static const struct pair *median_pair(int cfg, int f, double *ratio)
{
	int n = n_pairs[cfg], idx[MAX_ROUNDS];
	if (n == 0)
		return NULL;
	for (int i = 0; i < n; i++)
		idx[i] = i;
	/* insertion sort of a handful of rounds by ratio */
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0; j--) {
			const struct pair *a = &pairs[cfg][idx[j - 1]], *b = &pairs[cfg][idx[j]];
			if (a->on[f] / a->off[f] <= b->on[f] / b->off[f])
				break;
			int t = idx[j];
			idx[j] = idx[j - 1];
			idx[j - 1] = t;
		}
	const struct pair *m = &pairs[cfg][idx[n / 2]];
	*ratio = m->on[f] / m->off[f];
	return m;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 5;
	if (argc > 2) {
		writes_64 = atol(argv[2]);
		writes_4k = writes_64 / 6 + 1;
	}
	if (rounds < 1 || rounds > MAX_ROUNDS || writes_64 < 1) {
		fprintf(stderr, "usage: bench_write_cost [ROUNDS (1-%d) [WRITES]]\n", MAX_ROUNDS);
		return 2;
	}
	kt_log_level = KT_LOG_WARN;
	kt_libbpf_log_init();
	pin(0);
	kt_mount_bpf_filesystems();

	char capt_path[108], plain_path[108];
	snprintf(capt_path, sizeof(capt_path), "/tmp/katatrace-bench-%d_10240", (int)getpid());
	snprintf(plain_path, sizeof(plain_path), "/tmp/katatrace-bench-%d-plain", (int)getpid());
	struct peer peers[4];
	unix_peer(&peers[CAPT], capt_path);
	unix_peer(&peers[PLAIN], plain_path);
	tcp_peer(&peers[TCP]);
	peers[DEVNULL].wfd = open("/dev/null", O_WRONLY);

	bool try_floor = true, try_copy_floor = true, try_verdict_floor = true;
	double prog_capt = 1e30, prog_copy = 1e30; /* ns per run of each send program */
	unsigned port = 10240;
	/*
	 * What the daemon attaches: the hybrid-vsock capture and the vsock
	 * capture (whose tracepoint programs, where it uses them, are reached
	 * by tail call from the unix capture's), with the daemon's ring buffer
	 * and wakeups. The VM events' programs see no socket and are left out.
	 */
	struct kt_capture_cfg cc = { .attach = KT_ATTACH_AUTO, .ports = &port, .n_ports = 1,
				     .ringbuf_bytes = 16u << 20,
				     .wakeup_bytes = kt_capture_batched_wakeup(16u << 20),
				     .vsock = true };
	uint64_t lost = 0, captured = 0;
	char strategy[96] = "?";
	double attach_s = 0;
	for (int r = 0; r < rounds; r++) {
		struct consumer cons;
		struct pair *p;

		/* the capture as the daemon attaches it */
		twin(peers, C_CAPTURE, true, CAPT, DEVNULL, true);
		double t0 = bench_now();
		struct kt_capture *c = kt_capture_start(&cc);
		if (!c) {
			fprintf(stderr, "bench_write_cost: cannot attach the capture programs (root?)\n");
			return 1;
		}
		attach_s += bench_now() - t0;
		consumer_start(&cons, kt_capture_ringbuf_fd(c));
		p = &pairs[C_CAPTURE][n_pairs[C_CAPTURE]];
		take(peers, p->on, CAPT, DEVNULL, true);
		int send_prog = capture_send_prog();
		measure_prog(send_prog, peers[CAPT].wfd, &prog_capt);
		if (send_prog >= 0)
			close(send_prog);
		consumer_stop(&cons);
		uint64_t cnt[KT_CNT__MAX];
		kt_capture_counters(c, cnt);
		lost += cnt[KT_CNT_RB_FAIL];
		captured += cnt[KT_CNT_BYTES];
		kt_capture_describe(c, strategy, sizeof(strategy));
		kt_capture_stop(c);
		twin(peers, C_CAPTURE, false, CAPT, DEVNULL, true);
		n_pairs[C_CAPTURE]++;

		/*
		 * The same capture with the vsock programs attached on their own,
		 * not reached by tail call: two programs a tracepoint (docs/capture.md,
		 * "One program a tracepoint"). Only the uncaptured sends, which make
		 * no records.
		 */
		setenv("KATATRACE_VSOCK_TAIL", "off", 1);
		twin(peers, C_TWO, true, PLAIN, TCP, false);
		if ((c = kt_capture_start(&cc))) {
			take(peers, pairs[C_TWO][n_pairs[C_TWO]].on, PLAIN, TCP, false);
			kt_capture_stop(c);
			twin(peers, C_TWO, false, PLAIN, TCP, false);
			n_pairs[C_TWO]++;
		}
		unsetenv("KATATRACE_VSOCK_TAIL");

		/* the floor: an empty program on each tracepoint */
		/* the twin only for a configuration still measured: no wasted measurement */
		if (try_floor)
			twin(peers, C_FLOOR, true, PLAIN, TCP, true);
		if (try_floor && floor_attach(true)) {
			take(peers, pairs[C_FLOOR][n_pairs[C_FLOOR]].on, PLAIN, TCP, true);
			floor_attach(false);
			twin(peers, C_FLOOR, false, PLAIN, TCP, true);
			n_pairs[C_FLOOR]++;
		} else {
			floor_attach(false); /* what did attach */
			try_floor = false;
		}

		/* the copy floor of the captured writes */
		if (try_copy_floor)
			twin(peers, C_COPY, true, CAPT, CAPT, true);
		struct copy_floor_bpf *cf = try_copy_floor ? copy_floor_attach(cc.ringbuf_bytes) : NULL;
		if (cf) {
			consumer_start(&cons, bpf_map__fd(cf->maps.floor_events));
			take(peers, pairs[C_COPY][n_pairs[C_COPY]].on, CAPT, CAPT, true);
			measure_prog(bpf_program__fd(cf->progs.kt_copy_floor), peers[CAPT].wfd,
				     &prog_copy);
			consumer_stop(&cons);
			copy_floor_bpf__destroy(cf);
			twin(peers, C_COPY, false, CAPT, CAPT, true);
			n_pairs[C_COPY]++;
		} else {
			try_copy_floor = false;
		}

		/* the verdict floor of the uncaptured unix sends */
		if (try_verdict_floor)
			twin(peers, C_VERDICT, true, PLAIN, PLAIN, false);
		struct verdict_floor_bpf *vf = try_verdict_floor ? verdict_floor_bpf__open_and_load() : NULL;
		if (vf && !verdict_floor_bpf__attach(vf)) {
			take(peers, pairs[C_VERDICT][n_pairs[C_VERDICT]].on, PLAIN, PLAIN, false);
			verdict_floor_bpf__destroy(vf);
			twin(peers, C_VERDICT, false, PLAIN, PLAIN, false);
			n_pairs[C_VERDICT]++;
		} else {
			verdict_floor_bpf__destroy(vf);
			try_verdict_floor = false;
		}
	}
	for (int f = 0; f < 3; f++) {
		shutdown(peers[f].wfd, SHUT_WR);
		pthread_join(peers[f].reader, NULL);
		close(peers[f].wfd);
	}

	printf("write cost (%s), %d rounds, each configuration's measurement (the best of %d) "
	       "beside a detached one taken right before or after it, the ratio the median of the "
	       "rounds'; %ld 64-byte writes and %ld 4 KiB writes a measurement, writer and "
	       "readers on CPUs 0 and 1; loading and attaching took %.2f s a round:\n",
	       strategy, rounds, SAMPLES, writes_64, writes_4k, attach_s / rounds);
	printf("  %-44s %12s %12s %7s\n", "", "detached", "attached", "ratio");

	/* one line and one table row for figure f of cfg; "" name suffix for the goal rows */
	static const char *const cfg_what[N_CFG] = {
		"",
		"two programs a tracepoint",
		"floor, empty programs",
		"copy floor",
		"verdict floor",
	};
	static const char *const cfg_measured[N_CFG] = {
		"attached",
		"vsock programs on their own",
		"empty programs",
		"payload copy only",
		"verdict lookup only",
	};
	static const char *const cfg_limit[N_CFG] = { "", "", "floor", "copy floor", "verdict floor" };
	double ratio[N_CFG][N_FIG];
	const struct pair *at[N_CFG][N_FIG];
	for (int k = 0; k < N_CFG; k++)
		for (int f = 0; f < N_FIG; f++) {
			at[k][f] = median_pair(k, f, &ratio[k][f]);
			bool taken = at[k][f] && (f == CAPT_4K ? at[k][f]->on[f] > 0 : at[k][f]->on[f] < 1e30);
			if (!taken) {
				at[k][f] = NULL;
				continue;
			}
			const char *unit = f == CAPT_4K ? "MB/s" : "ns";
			printf("  %-44s %9.0f %-4s %7.0f %-4s %7.3f%s%s%s\n", fig_name[f], at[k][f]->off[f],
			       unit, at[k][f]->on[f], unit, ratio[k][f], k ? "  (" : "", cfg_what[k],
			       k ? ")" : "");
		}
	if (prog_capt < 1e30 && prog_copy < 1e30)
		printf("  %-44s %9.0f ns %9.0f ns %7.3f  (the send programs' own time a run, "
		       "copy floor's and capture's)\n",
		       fig_name[CAPT], prog_copy, prog_capt, prog_capt / prog_copy);
	printf("  captured %llu bytes (%lu consumed from the ring buffer), %llu records lost\n",
	       (unsigned long long)captured, (unsigned long)atomic_load(&consumed_bytes),
	       (unsigned long long)lost);

	/*
	 * The goals, each with its limit: the copy floor for the captured
	 * writes; for the uncaptured unix sends the verdict floor (the one
	 * lookup a decision per socket costs); the empty programs for TCP,
	 * which the family turns away.
	 */
	static const int limit_of[N_FIG] = { C_COPY, C_VERDICT, C_FLOOR, -1, C_COPY };
	static const int order[] = { CAPT, PLAIN, TCP, DEVNULL, CAPT_4K };
	for (size_t o = 0; o < sizeof(order) / sizeof(order[0]); o++) {
		int f = order[o];
		const struct pair *m = at[C_CAPTURE][f];
		if (!m)
			continue;
		const char *unit = f == CAPT_4K ? "MB/s" : "ns";
		char ms[64], bs[64], g[32];
		snprintf(ms, sizeof(ms), "%.0f %s attached", m->on[f], unit);
		snprintf(bs, sizeof(bs), "%.0f %s detached", m->off[f], unit);
		double goal = f == CAPT ? 1.5 : f == CAPT_4K ? 0.7 : 1.02;
		bool ge = f == CAPT_4K;
		snprintf(g, sizeof(g), ge ? ">= %.2fx detached" : "<= %.2fx detached", goal);
		int lim = limit_of[f];
		if (f == DEVNULL)
			bench_row(fig_name[f], ms, bs, ratio[C_CAPTURE][f], "-", "none", 0, 0);
		else if (lim >= 0 && at[lim][f])
			bench_row_limit(fig_name[f], ms, bs, ratio[C_CAPTURE][f], g, ge ? "ge" : "le",
					ratio[C_CAPTURE][f], goal, cfg_limit[lim], ratio[lim][f]);
		else
			bench_row(fig_name[f], ms, bs, ratio[C_CAPTURE][f], g, ge ? "ge" : "le",
				  ratio[C_CAPTURE][f], goal);
		for (int k = 1; k < N_CFG; k++) {
			const struct pair *q = at[k][f];
			if (!q)
				continue;
			char fl[128], qm[64], qb[64];
			snprintf(fl, sizeof(fl), "%s: %s", fig_name[f], cfg_what[k]);
			snprintf(qm, sizeof(qm), "%.0f %s, %s", q->on[f], unit, cfg_measured[k]);
			snprintf(qb, sizeof(qb), "%.0f %s detached", q->off[f], unit);
			bench_row(fl, qm, qb, ratio[k][f], "-", "none", 0, 0);
		}
	}
	if (prog_capt < 1e30 && prog_copy < 1e30) {
		/*
		 * What the capture's own work adds beyond the copy, per send, against
		 * the send it is paid on: the part of the captured figure above its
		 * copy floor that the capture's program itself accounts for.
		 */
		char m[64], pb[64];
		snprintf(m, sizeof(m), "%.0f ns a run, %+.0f ns against the copy floor's", prog_capt,
			 prog_capt - prog_copy);
		snprintf(pb, sizeof(pb), "copy floor's program %.0f ns a run", prog_copy);
		bench_row("64 B write, captured unix socket *_10240: send program's own time", m, pb,
			  prog_capt / prog_copy, "-", "none", 0, 0);
	}
	return 0;
}
