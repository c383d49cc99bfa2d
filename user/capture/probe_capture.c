/* SPDX-License-Identifier: Apache-2.0 */
#include "capture/probe_capture.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/diag.h"
#include "bpf/stream_record.h"
#include "capture/attach.h"
#include "capture/func_returns.h"
#include "model/attrs.h"
#include "model/ids.h"
#include "model/log_record.h"
#include "probe_span.skel.h"

/* Arena of one span or log record: its attributes, name and executable path. */
#define RECORD_ARENA (16u << 10)
/* Attributes of one record: 8 named ones and the arguments. */
#define RECORD_ATTRS (8 + KT_PROBE_MAX_ARGS)
/* A tracepoint's tracefs directory: a root, "/events/", CATEGORY, "/", NAME. */
#define TP_DIR_MAX (64 + 2 * KT_PROBE_TP_NAME_MAX)
/* Where tracefs may be mounted. */
static const char *const tracefs_roots[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };

static const char *const arg_keys[KT_PROBE_MAX_ARGS] = {
	"katatrace.probe.arg0", "katatrace.probe.arg1", "katatrace.probe.arg2",
	"katatrace.probe.arg3", "katatrace.probe.arg4", "katatrace.probe.arg5",
};

struct probe {
	const struct kt_probe_spec *spec;
	char name[KT_PROBE_SPEC_MAX + 1]; /* of its spans / log records */
};

struct exe_entry {
	uint32_t pid; /* 0: free */
	bool found;
	char path[PATH_MAX];
};

struct kt_probe_capture {
	struct kt_probe_capture_cfg cfg;
	struct kt_probe_spec *specs; /* a copy: cfg.specs points here */
	struct probe probes[KT_PROBE_MAX_PROBES];
	struct probe_span_bpf *skel;
	struct bpf_link **links;
	size_t n_links, cap_links;
	struct ring_buffer *rb;
	struct kt_trace_id trace_id;
	int64_t mono_to_unix;
	uint64_t spans, events, dropped;
	struct exe_entry exe[KT_PROBE_EXE_CACHE];
	size_t exe_next; /* the slot replaced next */
};


/* ------------------------------------------------------------ attaching */

static int add_link(struct kt_probe_capture *c, struct bpf_link *l)
{
	if (c->n_links == c->cap_links) {
		size_t cap = c->cap_links ? 2 * c->cap_links : 16;
		struct bpf_link **n = realloc(c->links, cap * sizeof(*n));
		if (!n) {
			bpf_link__destroy(l);
			return -1;
		}
		c->links = n;
		c->cap_links = cap;
	}
	c->links[c->n_links++] = l;
	return 0;
}

/* A uprobe (or uretprobe) of prog at BINARY+off, or at func by name; -errno. */
static int uprobe_at(struct kt_probe_capture *c, struct bpf_program *prog, const char *binary,
		     uint64_t off, const char *func, bool retprobe, uint64_t cookie)
{
	LIBBPF_OPTS(bpf_uprobe_opts, o, .bpf_cookie = cookie, .retprobe = retprobe,
		    .func_name = func);
	struct bpf_link *l = bpf_program__attach_uprobe_opts(prog, -1, binary, (size_t)off, &o);
	if (!l)
		return errno ? -errno : -EINVAL;
	return add_link(c, l) ? -ENOMEM : 0;
}

static int attach_uprobe(struct kt_probe_capture *c, uint32_t id, char *err, size_t errlen)
{
	const struct kt_probe_spec *s = c->probes[id].spec;
	struct probe_span_bpf *k = c->skel;
	bool span = s->role == KT_PROBE_SPAN;
	struct kt_func_returns *fr = calloc(1, sizeof(*fr));
	char ferr[KT_PROBE_SPEC_MAX + 256] = ""; /* names the file and the symbol */
	struct stat st;
	int rc;

	if (!fr)
		return kt_errf(err, errlen, "%s: out of memory", s->text);
	if (stat(s->binary, &st) != 0) {
		rc = kt_errf(err, errlen, "%s: %s: %s", s->text, s->binary, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = kt_errf(err, errlen, "%s: %s: not a regular file", s->text, s->binary);
		goto out;
	}
	if (kt_func_returns(s->binary, s->symbol, fr, ferr, sizeof(ferr)) != 0) {
		if (span) {
			rc = kt_errf(err, errlen, "%s: %s", s->text, ferr);
			goto out;
		}
		/* An event needs no RET (a function that never returns has none): by its name. */
		rc = uprobe_at(c, k->progs.kt_probe_event, s->binary, 0, s->symbol, false,
			       kt_probe_cookie(id, c->cfg.nargs, 0));
		if (rc)
			kt_errf(err, errlen, "%s: %s", s->text, ferr);
		goto out;
	}

	uint64_t cookie = kt_probe_cookie(id, c->cfg.nargs, fr->is_go ? KT_PROBE_C_GO : 0);
	const char *where = "the entry";
	if (!span) {
		rc = uprobe_at(c, k->progs.kt_probe_event, s->binary, fr->entry_off, NULL, false,
			       cookie);
	} else if ((rc = uprobe_at(c, k->progs.kt_probe_entry, s->binary, fr->entry_off, NULL,
				   false, cookie)) == 0) {
		if (!fr->is_go) {
			where = "the return";
			rc = uprobe_at(c, k->progs.kt_probe_return, s->binary, fr->entry_off, NULL,
				       true, cookie);
		}
		/* Go: no uretprobe (it breaks a goroutine whose stack moves): each RET. */
		for (size_t i = 0; fr->is_go && !rc && i < fr->n_rets && i < KT_FUNC_MAX_RETS; i++) {
			where = "a RET instruction";
			rc = uprobe_at(c, k->progs.kt_probe_ret_site, s->binary, fr->ret_off[i],
				       NULL, false, cookie);
		}
	}
	if (rc)
		kt_errf(err, errlen, "%s: cannot attach at %s of %s in %s: %s", s->text, where,
		     s->symbol, s->binary, strerror(-rc));
out:
	free(fr);
	return rc ? -1 : 0;
}

/* Which of the ways the kernel offers kprobes exist here. */
static bool kprobes_available(void)
{
	char path[64];
	struct stat st;
	if (stat("/sys/bus/event_source/devices/kprobe", &st) == 0)
		return true;
	for (size_t i = 0; i < sizeof(tracefs_roots) / sizeof(tracefs_roots[0]); i++) {
		snprintf(path, sizeof(path), "%s/kprobe_events", tracefs_roots[i]);
		if (stat(path, &st) == 0)
			return true;
	}
	return false;
}

/* Is name a function of the kernel or of a loaded module (/proc/kallsyms)? */
static bool kernel_has_function(const char *name)
{
	char line[512];
	size_t len = strlen(name);
	bool found = false;
	FILE *f = fopen("/proc/kallsyms", "r");
	if (!f)
		return true; /* cannot tell: the attach error says it */
	while (!found && fgets(line, sizeof(line), f)) {
		char *sym = strchr(line, ' ');
		if (!sym || !(sym = strchr(sym + 1, ' ')))
			continue;
		sym++;
		found = strcspn(sym, " \t\n") == len && !strncmp(sym, name, len);
	}
	fclose(f);
	return found;
}

static int kprobe_at(struct kt_probe_capture *c, struct bpf_program *prog, const char *func,
		     bool retprobe, uint64_t cookie)
{
	LIBBPF_OPTS(bpf_kprobe_opts, o, .bpf_cookie = cookie, .retprobe = retprobe);
	struct bpf_link *l = bpf_program__attach_kprobe_opts(prog, func, &o);
	if (!l)
		return errno ? -errno : -EINVAL;
	return add_link(c, l) ? -ENOMEM : 0;
}

static int attach_kprobe(struct kt_probe_capture *c, uint32_t id, char *err, size_t errlen)
{
	const struct kt_probe_spec *s = c->probes[id].spec;
	struct probe_span_bpf *k = c->skel;
	uint64_t cookie = kt_probe_cookie(id, c->cfg.nargs, 0);
	int rc;

	if (!kprobes_available())
		return kt_errf(err, errlen, "%s: this kernel has no kprobes (CONFIG_KPROBES)", s->text);
	if (s->role == KT_PROBE_EVENT)
		rc = kprobe_at(c, k->progs.kt_probe_event, s->symbol, false, cookie);
	else if (!(rc = kprobe_at(c, k->progs.kt_probe_entry, s->symbol, false, cookie)))
		rc = kprobe_at(c, k->progs.kt_probe_return, s->symbol, true, cookie);
	if (!rc)
		return 0;
	if (!kernel_has_function(s->symbol))
		return kt_errf(err, errlen,
			    "%s: no kernel function %s (not in /proc/kallsyms; a module not loaded?)",
			    s->text, s->symbol);
	return kt_errf(err, errlen, "%s: cannot attach a kprobe to %s: %s", s->text, s->symbol,
		    strerror(-rc));
}

/* The tracefs events directory of a tracepoint, into path; false if it has none. */
static bool tracepoint_dir(const char *category, const char *name, char *path, size_t n)
{
	struct stat st;
	for (size_t i = 0; i < sizeof(tracefs_roots) / sizeof(tracefs_roots[0]); i++) {
		snprintf(path, n, "%s/events/%s/%s", tracefs_roots[i], category, name);
		if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
			return true;
	}
	return false;
}

/* How many arguments a sys_enter_* tracepoint's record holds: fields after __syscall_nr. */
static unsigned syscall_nargs(const char *dir)
{
	char path[TP_DIR_MAX + sizeof("/format")], line[512];
	unsigned n = 0;
	bool after_nr = false;
	snprintf(path, sizeof(path), "%s/format", dir);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (!strstr(line, "field:"))
			continue;
		if (after_nr)
			n++;
		else if (strstr(line, " __syscall_nr;"))
			after_nr = true;
	}
	fclose(f);
	return n < KT_PROBE_MAX_ARGS ? n : KT_PROBE_MAX_ARGS;
}

static int tracepoint_at(struct kt_probe_capture *c, const struct kt_probe_spec *s,
			 struct bpf_program *prog, const char *name, uint32_t id, uint64_t flags,
			 char *err, size_t errlen)
{
	char dir[TP_DIR_MAX];
	unsigned nargs = 0;

	if (!tracepoint_dir(s->category, name, dir, sizeof(dir)))
		return kt_errf(err, errlen, "%s: no tracepoint %s:%s in this kernel (tracefs events)",
			    s->text, s->category, name);
	if (flags & KT_PROBE_C_SYS_ARGS) {
		nargs = syscall_nargs(dir);
		if (nargs > c->cfg.nargs)
			nargs = c->cfg.nargs;
	}
	LIBBPF_OPTS(bpf_tracepoint_opts, o, .bpf_cookie = kt_probe_cookie(id, nargs, flags));
	struct bpf_link *l = bpf_program__attach_tracepoint_opts(prog, s->category, name, &o);
	if (!l)
		return kt_errf(err, errlen, "%s: cannot attach to tracepoint %s:%s: %s", s->text,
			    s->category, name, strerror(errno));
	return add_link(c, l) ? kt_errf(err, errlen, "%s: out of memory", s->text) : 0;
}

static int attach_tracepoint(struct kt_probe_capture *c, uint32_t id, char *err, size_t errlen)
{
	const struct kt_probe_spec *s = c->probes[id].spec;
	struct probe_span_bpf *k = c->skel;
	bool sys = kt_probe_spec_syscall(s) != NULL;
	bool enter = sys && !strncmp(s->tp, "sys_enter_", 10);

	if (s->role == KT_PROBE_EVENT)
		return tracepoint_at(c, s, k->progs.kt_probe_tp_event, s->tp, id,
				     !sys ? 0 : enter ? KT_PROBE_C_SYS_ARGS : KT_PROBE_C_SYS_RET, err,
				     errlen);
	return tracepoint_at(c, s, k->progs.kt_probe_tp_enter, s->tp, id,
			     sys ? KT_PROBE_C_SYS_ARGS : 0, err, errlen) ||
	       tracepoint_at(c, s, k->progs.kt_probe_tp_exit, s->tp_exit, id,
			     sys ? KT_PROBE_C_SYS_RET : 0, err, errlen);
}

/* ------------------------------------------------------------ records */

/* The executable of pid, once per pid for as long as it stays in the cache; NULL if gone. */
static const char *exe_path(struct kt_probe_capture *c, uint32_t pid)
{
	char link[64];
	for (size_t i = 0; i < KT_PROBE_EXE_CACHE; i++)
		if (c->exe[i].pid == pid)
			return c->exe[i].found ? c->exe[i].path : NULL;
	struct exe_entry *e = &c->exe[c->exe_next];
	c->exe_next = (c->exe_next + 1) % KT_PROBE_EXE_CACHE;
	e->pid = pid;
	snprintf(link, sizeof(link), "%s/%u/exe", c->cfg.proc_root, pid);
	ssize_t n = readlink(link, e->path, sizeof(e->path) - 1);
	e->found = n > 0 && (size_t)n < sizeof(e->path) - 1;
	if (!e->found)
		return NULL;
	e->path[n] = '\0';
	static const char deleted[] = " (deleted)";
	size_t dl = sizeof(deleted) - 1;
	if ((size_t)n > dl && !strcmp(e->path + n - dl, deleted))
		e->path[n - dl] = '\0';
	return e->path;
}

static void cstr_copy(struct kt_attrs *b, const char *key, const char *v, size_t n)
{
	kt_attrs_copy(b, key, (struct kt_str){ v, strnlen(v, n) });
}

static void record_attrs(struct kt_probe_capture *c, const struct probe *p,
			 const struct kt_probe_rec *r, struct kt_attrs *b)
{
	const struct kt_probe_spec *s = p->spec;
	if (s->kind != KT_PROBE_TRACEPOINT)
		kt_attrs_cstr(b, "code.function.name", s->symbol); /* lives as long as the run */
	kt_attrs_copy(b, "katatrace.probe.spec", (struct kt_str){ s->text, strlen(s->text) });
	kt_attrs_int(b, "thread.id", r->tid);
	cstr_copy(b, "thread.name", r->comm, sizeof(r->comm));
	kt_attrs_int(b, "process.pid", r->tgid);
	const char *exe = exe_path(c, r->tgid);
	if (exe)
		cstr_copy(b, "process.executable.path", exe, PATH_MAX);
	if (r->flags & KT_PROBE_F_RET)
		kt_attrs_int(b, "katatrace.probe.return_value", r->ret);
	if (r->depth)
		kt_attrs_int(b, "katatrace.probe.depth", r->depth);
	unsigned n = r->nargs < c->cfg.nargs ? r->nargs : c->cfg.nargs;
	for (unsigned i = 0; i < n; i++)
		kt_attrs_int(b, arg_keys[i], (int64_t)r->args[i]);
}

static void deliver_span(struct kt_probe_capture *c, const struct probe *p,
			 const struct kt_probe_rec *r)
{
	struct kt_span_record *rec = kt_span_record_new(RECORD_ARENA);
	struct kt_attrs b;

	if (!rec || !kt_attrs_init(&b, &rec->arena, RECORD_ATTRS))
		goto drop;
	struct kt_span *s = &rec->span;
	s->name = kt_attrs_dup(&b, p->name, strlen(p->name));
	s->kind = KT_KIND_INTERNAL;
	s->ctx.trace_id = c->trace_id;
	s->ctx.span_id = kt_random_span_id();
	s->ctx.trace_flags = 1; /* sampled */
	s->parent_span_id = c->cfg.parent_span_id;
	s->start_unix_nano = kt_mono_to_unix(r->start_ns, c->mono_to_unix);
	s->end_unix_nano = kt_mono_to_unix(r->end_ns, c->mono_to_unix);
	if (s->end_unix_nano < s->start_unix_nano)
		s->end_unix_nano = s->start_unix_nano;
	record_attrs(c, p, r, &b);
	s->attrs = kt_attrs_list(&b);
	s->attrs_max_len = RECORD_ATTRS;
	if (b.failed)
		goto drop;
	rec->source = KT_SPAN_FROM_HOST;
	rec->origin = kt_origin_get(c->cfg.origin);
	c->spans++;
	c->cfg.sink.span(c->cfg.sink.ctx, rec);
	return;
drop:
	c->dropped++;
	kt_span_record_free(rec);
}

static void deliver_event(struct kt_probe_capture *c, const struct probe *p,
			  const struct kt_probe_rec *r)
{
	struct kt_log_record *rec = kt_log_record_new(RECORD_ARENA);
	struct kt_attrs b;

	if (!rec || !kt_attrs_init(&b, &rec->arena, RECORD_ATTRS))
		goto drop;
	struct kt_log *l = &rec->log;
	l->time_unix_nano = kt_mono_to_unix(r->start_ns, c->mono_to_unix);
	l->observed_time_unix_nano = kt_mono_to_unix(kt_mono_ns(), c->mono_to_unix);
	l->severity_number = KT_SEV_INFO;
	l->severity_text = (struct kt_str){ "INFO", 4 };
	l->body = kt_attrs_dup(&b, p->name, strlen(p->name));
	record_attrs(c, p, r, &b);
	l->attrs = kt_attrs_list(&b);
	if (b.failed)
		goto drop;
	rec->origin = kt_origin_get(c->cfg.origin);
	if (kt_sink_log(&c->cfg.sink, rec))
		c->events++;
	else
		c->dropped++;
	return;
drop:
	c->dropped++;
	kt_log_record_free(rec);
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct kt_probe_capture *c = ctx;
	const struct kt_probe_rec *r = data;

	if (size < sizeof(*r) || r->probe_id >= c->cfg.n_specs || r->nargs > KT_PROBE_MAX_ARGS) {
		c->dropped++;
		return 0;
	}
	const struct probe *p = &c->probes[r->probe_id];
	if (r->type == KT_PROBE_REC_SPAN && p->spec->role == KT_PROBE_SPAN)
		deliver_span(c, p, r);
	else if (r->type == KT_PROBE_REC_EVENT && p->spec->role == KT_PROBE_EVENT)
		deliver_event(c, p, r);
	else
		c->dropped++;
	return 0;
}

/* ------------------------------------------------------------ public */

static int check_cfg(const struct kt_probe_capture_cfg *cfg, char *err, size_t errlen)
{
	if (cfg->n_specs == 0)
		return kt_errf(err, errlen, "no probe spec");
	if (cfg->n_specs > KT_PROBE_MAX_PROBES)
		return kt_errf(err, errlen, "%zu probe specs: at most %d", cfg->n_specs,
			    KT_PROBE_MAX_PROBES);
	if (cfg->nargs > KT_PROBE_MAX_ARGS)
		return kt_errf(err, errlen, "--args %u: at most %d", cfg->nargs, KT_PROBE_MAX_ARGS);
	if (cfg->n_pids > KT_PROBE_MAX_PIDS)
		return kt_errf(err, errlen, "%zu processes to filter on: at most %d", cfg->n_pids,
			    KT_PROBE_MAX_PIDS);
	if (!cfg->sink.span)
		return kt_errf(err, errlen, "no span sink");
	uint32_t rb = cfg->ringbuf_bytes;
	long page = sysconf(_SC_PAGESIZE);
	if (rb && ((rb & (rb - 1)) || (page > 0 && rb < (uint32_t)page)))
		return kt_errf(err, errlen, "ring buffer of %u bytes: a power of two of pages", rb);
	for (size_t i = 0; i < cfg->n_pids; i++)
		if (!cfg->pids[i])
			return kt_errf(err, errlen, "process id 0 in the filter");
	return 0;
}

/* Loads the object with the caller's process filter (cfg: the caller's configuration). */
static int load(struct kt_probe_capture *c, const struct kt_probe_capture_cfg *cfg, char *err,
		size_t errlen)
{
	int rc;

	c->skel = probe_span_bpf__open();
	if (!c->skel)
		return kt_errf(err, errlen, "span probes: cannot open the BPF object: %s",
			    strerror(errno));
	c->skel->rodata->filter_on = cfg->n_pids > 0;
	if ((rc = bpf_map__set_max_entries(c->skel->maps.probe_events,
					   cfg->ringbuf_bytes ? cfg->ringbuf_bytes
							      : KT_PROBE_RINGBUF)) ||
	    (rc = probe_span_bpf__load(c->skel)))
		return kt_errf(err, errlen,
			    "span probes: the BPF programs do not load: %s (not root? BPF disabled?)",
			    strerror(-rc));
	for (size_t i = 0; i < cfg->n_pids; i++) {
		__u8 one = 1;
		if ((rc = bpf_map__update_elem(c->skel->maps.probe_pids, &cfg->pids[i],
					       sizeof(cfg->pids[i]), &one, sizeof(one), BPF_ANY)))
			return kt_errf(err, errlen, "span probes: cannot set the process filter: %s",
				    strerror(-rc));
	}
	return 0;
}

struct kt_probe_capture *kt_probe_capture_open(const struct kt_probe_capture_cfg *cfg, char *err,
					       size_t errlen)
{
	if (check_cfg(cfg, err, errlen))
		return NULL;
	struct kt_probe_capture *c = calloc(1, sizeof(*c));
	if (!c || !(c->specs = calloc(cfg->n_specs, sizeof(*c->specs)))) {
		free(c);
		kt_errf(err, errlen, "span probes: out of memory");
		return NULL;
	}
	c->cfg = *cfg;
	memcpy(c->specs, cfg->specs, cfg->n_specs * sizeof(*c->specs));
	c->cfg.specs = c->specs;
	c->cfg.pids = NULL; /* the caller's: in the kernel's map once loaded */
	if (!c->cfg.proc_root)
		c->cfg.proc_root = "/proc";
	kt_origin_get(c->cfg.origin);
	for (size_t i = 0; i < cfg->n_specs; i++) {
		c->probes[i].spec = &c->specs[i];
		kt_probe_spec_name(&c->specs[i], c->probes[i].name, sizeof(c->probes[i].name));
	}
	c->trace_id = cfg->trace_id;
	while (!c->trace_id.hi && !c->trace_id.lo) {
		c->trace_id.hi = kt_random_span_id();
		c->trace_id.lo = kt_random_span_id();
	}
	c->mono_to_unix = kt_mono_to_unix_offset();

	kt_mount_bpf_filesystems();
	if (load(c, cfg, err, errlen))
		goto fail;
	for (uint32_t id = 0; id < c->cfg.n_specs; id++) {
		const struct kt_probe_spec *s = &c->specs[id];
		int rc = s->kind == KT_PROBE_UPROBE   ? attach_uprobe(c, id, err, errlen)
			 : s->kind == KT_PROBE_KPROBE ? attach_kprobe(c, id, err, errlen)
						      : attach_tracepoint(c, id, err, errlen);
		if (rc)
			goto fail;
	}
	c->rb = ring_buffer__new(bpf_map__fd(c->skel->maps.probe_events), on_record, c, NULL);
	if (!c->rb) {
		kt_errf(err, errlen, "span probes: cannot read the ring buffer: %s", strerror(errno));
		goto fail;
	}
	return c;
fail:
	kt_probe_capture_close(c);
	return NULL;
}

int kt_probe_capture_fd(const struct kt_probe_capture *c)
{
	return ring_buffer__epoll_fd(c->rb);
}

int kt_probe_capture_consume(struct kt_probe_capture *c)
{
	int n = ring_buffer__consume(c->rb);
	return n < 0 ? -1 : n;
}

int kt_probe_capture_poll(struct kt_probe_capture *c, int timeout_ms)
{
	int n = ring_buffer__poll(c->rb, timeout_ms);
	return n < 0 && n != -EINTR ? -1 : n < 0 ? 0 : n;
}

struct kt_trace_id kt_probe_capture_trace_id(const struct kt_probe_capture *c)
{
	return c->trace_id;
}

void kt_probe_capture_totals(const struct kt_probe_capture *c, struct kt_probe_totals *t)
{
	uint64_t k[KT_CNT__MAX] = { 0 };
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *vals = ncpu > 0 ? calloc((size_t)ncpu, sizeof(uint64_t)) : NULL;
	int fd = bpf_map__fd(c->skel->maps.counters);

	for (__u32 i = KT_CNT_PROBE_HITS; vals && i <= KT_CNT_PROBE_TABLE_FULL; i++)
		if (bpf_map_lookup_elem(fd, &i, vals) == 0)
			for (int cpu = 0; cpu < ncpu; cpu++)
				k[i] += vals[cpu];
	free(vals);
	*t = (struct kt_probe_totals){
		.hits = k[KT_CNT_PROBE_HITS],
		.spans = c->spans,
		.events = c->events,
		.lost = k[KT_CNT_PROBE_RB_FAIL],
		.unmatched = k[KT_CNT_PROBE_UNMATCHED],
		.abandoned = k[KT_CNT_PROBE_ABANDONED],
		.too_deep = k[KT_CNT_PROBE_TOO_DEEP],
		.table_full = k[KT_CNT_PROBE_TABLE_FULL],
		.dropped = c->dropped,
	};
}

void kt_probe_capture_close(struct kt_probe_capture *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_links; i++)
		bpf_link__destroy(c->links[i]);
	free(c->links);
	ring_buffer__free(c->rb);
	probe_span_bpf__destroy(c->skel);
	kt_origin_put(c->cfg.origin);
	free(c->specs);
	free(c);
}
