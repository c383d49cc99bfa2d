/* SPDX-License-Identifier: Apache-2.0 */
#include "unix_loader.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "unix_capture.h"
#include "unix_capture.skel.h"

struct kt_unix_loader {
	struct unix_capture_bpf *skel;
	enum kt_attach strategy;
};

int kt_unix_match_build(const struct kt_unix_loader_cfg *cfg, struct kt_unix_match *m)
{
	memset(m, 0, sizeof(*m));
	if (cfg->n_ports > KT_MAX_SUFFIXES || cfg->n_prefixes > KT_MAX_PREFIXES)
		return -1;
	for (size_t i = 0; i < cfg->n_ports; i++) {
		int n = snprintf(m->suffix[i].s, sizeof(m->suffix[i].s), "_%u", cfg->ports[i]);
		if (n <= 0 || (size_t)n >= sizeof(m->suffix[i].s))
			return -1;
		m->suffix[i].len = (unsigned)n;
	}
	m->n_suffix = cfg->n_ports;
	for (size_t i = 0; i < cfg->n_prefixes; i++) {
		size_t n = strlen(cfg->prefixes[i]);
		if (n == 0 || n > sizeof(m->prefix[i].s))
			return -1;
		memcpy(m->prefix[i].s, cfg->prefixes[i], n);
		m->prefix[i].len = (unsigned)n;
	}
	m->n_prefix = cfg->n_prefixes;
	return 0;
}

static void select_programs(struct unix_capture_bpf *s, enum kt_attach a)
{
	struct bpf_program *fentry[] = { s->progs.kt_fentry_send, s->progs.kt_fexit_send,
					 s->progs.kt_fexit_recv };
	struct bpf_program *kprobe[] = { s->progs.kt_kprobe_send, s->progs.kt_kretprobe_send,
					 s->progs.kt_kprobe_recv, s->progs.kt_kretprobe_recv };
	struct bpf_program *tp[] = { s->progs.kt_tp_send, s->progs.kt_tp_recv };

	for (size_t i = 0; i < sizeof(fentry) / sizeof(fentry[0]); i++)
		bpf_program__set_autoload(fentry[i], a == KT_ATTACH_FENTRY);
	for (size_t i = 0; i < sizeof(kprobe) / sizeof(kprobe[0]); i++)
		bpf_program__set_autoload(kprobe[i], a == KT_ATTACH_KPROBE);
	for (size_t i = 0; i < sizeof(tp) / sizeof(tp[0]); i++)
		bpf_program__set_autoload(tp[i], a == KT_ATTACH_TRACEPOINT);
}

static struct unix_capture_bpf *try_strategy(const struct kt_unix_loader_cfg *cfg,
					     const struct kt_unix_match *m, enum kt_attach a)
{
	struct unix_capture_bpf *s = unix_capture_bpf__open();
	int err;

	if (!s) {
		kt_warn("unix capture: cannot open BPF object: %s", strerror(errno));
		return NULL;
	}
	select_programs(s, a);
	if (cfg->ringbuf_bytes)
		bpf_map__set_max_entries(s->maps.events, cfg->ringbuf_bytes);
	err = unix_capture_bpf__load(s);
	if (err) {
		kt_info("unix capture: %s programs do not load here: %s", kt_attach_name(a),
			strerror(-err));
		goto fail;
	}
	__u32 zero = 0;
	err = bpf_map__update_elem(s->maps.match_cfg, &zero, sizeof(zero), m, sizeof(*m), BPF_ANY);
	if (err) {
		kt_warn("unix capture: cannot set match config: %s", strerror(-err));
		goto fail;
	}
	err = unix_capture_bpf__attach(s);
	if (err) {
		kt_info("unix capture: %s programs do not attach here: %s", kt_attach_name(a),
			strerror(-err));
		goto fail;
	}
	return s;
fail:
	unix_capture_bpf__destroy(s);
	return NULL;
}

struct kt_unix_loader *kt_unix_loader_start(const struct kt_unix_loader_cfg *cfg)
{
	static const enum kt_attach order[] = KT_ATTACH_ORDER;
	struct kt_unix_match m;

	if (kt_unix_match_build(cfg, &m)) {
		kt_err("unix capture: at most %d ports and %d path prefixes of up to %d bytes",
		       KT_MAX_SUFFIXES, KT_MAX_PREFIXES, KT_PATH_MAX);
		return NULL;
	}
	struct kt_unix_loader *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		enum kt_attach a = order[i];
		if (cfg->attach != KT_ATTACH_AUTO && cfg->attach != a)
			continue;
		l->skel = try_strategy(cfg, &m, a);
		if (l->skel) {
			l->strategy = a;
			kt_info("unix capture: attached with %s strategy%s", kt_attach_name(a),
				cfg->attach == KT_ATTACH_AUTO ? " (auto)" : "");
			return l;
		}
	}
	kt_err("unix capture: no attach strategy works on this kernel (%s requested); "
	       "--log-level debug shows the kernel's reasons; see docs/capture.md, "
	       "or use --capture socket",
	       kt_attach_name(cfg->attach));
	free(l);
	return NULL;
}

enum kt_attach kt_unix_loader_strategy(const struct kt_unix_loader *l)
{
	return l->strategy;
}

int kt_unix_loader_ringbuf_fd(const struct kt_unix_loader *l)
{
	return bpf_map__fd(l->skel->maps.events);
}

int kt_unix_loader_counters(const struct kt_unix_loader *l, uint64_t out[KT_CNT__MAX])
{
	int ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0)
		return -1;
	uint64_t *vals = calloc((size_t)ncpu, sizeof(uint64_t));
	if (!vals)
		return -1;
	int fd = bpf_map__fd(l->skel->maps.counters);
	for (__u32 k = 0; k < KT_CNT__MAX; k++) {
		out[k] = 0;
		if (bpf_map_lookup_elem(fd, &k, vals) == 0)
			for (int c = 0; c < ncpu; c++)
				out[k] += vals[c];
	}
	free(vals);
	return 0;
}

void kt_unix_loader_stop(struct kt_unix_loader *l)
{
	if (!l)
		return;
	unix_capture_bpf__destroy(l->skel);
	free(l);
}
