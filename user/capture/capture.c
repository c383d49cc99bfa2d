/* SPDX-License-Identifier: Apache-2.0 */
#include "capture/capture.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/diag.h"
#include "bpf/unix_capture.h"
#include "unix_capture.skel.h"
#include "capture/kernel_features.h"
#include "capture/vm_capture.h"
#include "bpf/vsock_capture.h"
#include "vsock_capture.skel.h"
#include "bpf/vsock_tail.h"

/* How often to retry vsock capture while it is missing or only a fallback. */
#define VSOCK_RETRY_NS (5ull * 1000000000ull)

struct kt_capture;

/* What differs between the capture objects; the rest is generic. */
struct object_ops {
	const char *name;
	void *(*open)(void);
	struct bpf_object *(*obj)(void *skel);
	struct bpf_map *(*events)(void *skel);
	struct bpf_map *(*counters)(void *skel);
	int (*load)(void *skel);
	void (*set_wakeup)(void *skel, __u64 bytes); /* before load */
	int (*configure)(void *skel, const struct kt_capture *c);
	int (*attach)(void *skel);
	void (*destroy)(void *skel);
	struct bpf_object_skeleton *(*skeleton)(void *skel);
	/* fentry/kprobe targets that may be absent (their programs are skipped). */
	const char *const *optional;
	/* its tracepoint programs may be reached by tail call (bpf/vsock_tail.h) */
	bool tails;
};

struct loaded {
	const struct object_ops *ops;
	void *skel;
	enum kt_attach strategy;
	bool tailed; /* in the unix capture's tail slots, not attached */
};

/* The tracepoint each of the unix capture's tail slots stands for (bpf/vsock_tail.h). */
static const struct {
	const char *tracepoint, *map;
} tail_slots[] = {
	{ "sock_send_length", KT_VSOCK_TAIL_SEND_MAP },
	{ "sock_recv_length", KT_VSOCK_TAIL_RECV_MAP },
};
#define N_TAILS (sizeof(tail_slots) / sizeof(tail_slots[0]))

struct kt_capture {
	struct kt_capture_cfg cfg;
	struct kt_unix_match unix_match;
	/* the ports, kept for vsock attaches long after start (cfg's point elsewhere) */
	__u32 host_ports[KT_VSOCK_MAX_PORTS], guest_ports[KT_VSOCK_MAX_PORTS];
	int events_fd, counters_fd;
	struct loaded unix_obj, vsock_obj;
	/*
	 * The program arrays the unix capture's tracepoint programs call
	 * through (tail_slots; its own maps, or the adopted ones): -1 when its
	 * programs are not the tracepoints', and the vsock capture attaches
	 * on its own.
	 */
	int tail_fd[N_TAILS];
	struct kt_vm_capture *vm;
	uint64_t last_try_ns;
	bool transport_present; /* as of the last check */
	/*
	 * Taken over (kt_capture_adopt): the old daemon's maps and links,
	 * held so that its programs stay attached; the strategies it named.
	 */
	struct kt_capture_handed *held;
	size_t n_held;
	bool adopted, adopted_vsock;
	char adopted_unix[24], adopted_vsock_strategy[24];
	/* the vsock object is the broker's (kt_capture_give_vsock): its strategy then */
	bool vsock_given;
	char given_vsock_strategy[24];
};

/* ------------------------------------------------------------ the capture objects */

/* The configuration each object needs before it is attached. */
static int unix_configure(void *s, const struct kt_capture *c)
{
	__u32 zero = 0;
	return bpf_map__update_elem(((struct unix_capture_bpf *)s)->maps.match_cfg, &zero,
				    sizeof(zero), &c->unix_match, sizeof(c->unix_match), BPF_ANY);
}

static int port_set(struct bpf_map *m, const __u32 *ports, size_t n)
{
	__u8 one = 1;
	for (size_t i = 0; i < n; i++) {
		int err = bpf_map__update_elem(m, &ports[i], sizeof(ports[i]), &one, sizeof(one),
					       BPF_ANY);
		if (err)
			return err;
	}
	return 0;
}

static int vsock_configure(void *s, const struct kt_capture *c)
{
	struct vsock_capture_bpf *skel = s;
	int err = port_set(skel->maps.vsock_ports, c->host_ports, c->cfg.n_ports);
	return err ? err : port_set(skel->maps.vsock_guest_ports, c->guest_ports,
				    c->cfg.n_guest_ports);
}

static const char *const vsock_optional[] = { "vhost_transport_send_pkt", NULL };

/*
 * An object's ops: adapters of its skeleton, its configure step, its optional
 * targets, whether its tracepoint programs may be reached by tail call.
 */
#define SKEL_OBJECT(pfx, label, configure_fn, optional_targets, tail_calls)                   \
	static void *pfx##_open(void) { return pfx##_bpf__open(); }                           \
	static struct bpf_object *pfx##_obj(void *s) { return ((struct pfx##_bpf *)s)->obj; } \
	static struct bpf_map *pfx##_events(void *s)                                          \
	{                                                                                     \
		return ((struct pfx##_bpf *)s)->maps.events;                                  \
	}                                                                                     \
	static struct bpf_map *pfx##_counters(void *s)                                        \
	{                                                                                     \
		return ((struct pfx##_bpf *)s)->maps.counters;                                \
	}                                                                                     \
	static int pfx##_load(void *s) { return pfx##_bpf__load(s); }                         \
	static void pfx##_set_wakeup(void *s, __u64 bytes)                                    \
	{                                                                                     \
		((struct pfx##_bpf *)s)->rodata->kt_wakeup_bytes = bytes;                     \
	}                                                                                     \
	static int pfx##_attach(void *s) { return pfx##_bpf__attach(s); }                     \
	static void pfx##_destroy(void *s) { pfx##_bpf__destroy(s); }                         \
	static struct bpf_object_skeleton *pfx##_skeleton(void *s)                            \
	{                                                                                     \
		return ((struct pfx##_bpf *)s)->skeleton;                                     \
	}                                                                                     \
	static const struct object_ops pfx##_ops = {                                          \
		.name = label,                                                                \
		.open = pfx##_open,                                                           \
		.obj = pfx##_obj,                                                             \
		.events = pfx##_events,                                                       \
		.counters = pfx##_counters,                                                   \
		.load = pfx##_load,                                                           \
		.set_wakeup = pfx##_set_wakeup,                                               \
		.configure = configure_fn,                                                    \
		.attach = pfx##_attach,                                                       \
		.destroy = pfx##_destroy,                                                     \
		.skeleton = pfx##_skeleton,                                                   \
		.optional = optional_targets,                                                 \
		.tails = tail_calls,                                                          \
	}

SKEL_OBJECT(unix_capture, "unix capture", unix_configure, NULL, false);
SKEL_OBJECT(vsock_capture, "vsock capture", vsock_configure, vsock_optional, true);

/* ------------------------------------------------------------ strategy selection */

static enum kt_attach prog_strategy(const struct bpf_program *p, const char **target)
{
	const char *sec = bpf_program__section_name(p);
	const char *slash = strchr(sec, '/');

	*target = slash ? slash + 1 : "";
	if (!strncmp(sec, "fentry/", 7) || !strncmp(sec, "fexit/", 6))
		return KT_ATTACH_FENTRY;
	if (!strncmp(sec, "kprobe/", 7) || !strncmp(sec, "kretprobe/", 10))
		return KT_ATTACH_KPROBE;
	if (!strncmp(sec, "tp_btf/", 7))
		return KT_ATTACH_TRACEPOINT;
	return KT_ATTACH_AUTO;
}

/* Which of names[0..n) are kernel (or loaded module) functions right now. */
static void kallsyms_lookup(const char **names, bool *found, size_t n)
{
	char line[512];
	FILE *f = fopen("/proc/kallsyms", "r");

	for (size_t i = 0; i < n; i++)
		found[i] = false;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *name = strchr(line, ' ');
		if (!name || !(name = strchr(name + 1, ' ')))
			continue;
		name++;
		size_t len = strcspn(name, " \t\n");
		for (size_t i = 0; i < n; i++)
			if (!found[i] && strlen(names[i]) == len && !strncmp(name, names[i], len))
				found[i] = true;
	}
	fclose(f);
}

static bool is_optional(const struct object_ops *ops, const char *target)
{
	for (const char *const *o = ops->optional; o && *o; o++)
		if (!strcmp(*o, target))
			return true;
	return false;
}

/*
 * Program variants: a program that does what another does, in a way only
 * some kernels allow, loaded instead of it where the kernel has the kfunc
 * it calls. Without the kfunc, or when the variant does not load, the
 * plain program is loaded; never both.
 */
struct prog_variant {
	const char *prog, *replaces, *kfunc;
	const char *what; /* for the log */
};

static const struct prog_variant prog_variants[] = {
	{ "kt_tp_send_direct", "kt_tp_send", "bpf_probe_read_user_dynptr",
	  "payloads read straight into the ring buffer" },
};
#define N_VARIANTS (sizeof(prog_variants) / sizeof(prog_variants[0]))

/* The variant p is, or replaces, if any (NULL: neither); *is_variant: p is the variant. */
static const struct prog_variant *variant_of(const struct bpf_program *p, bool *is_variant)
{
	const char *name = bpf_program__name(p);
	for (size_t i = 0; i < N_VARIANTS; i++) {
		*is_variant = !strcmp(name, prog_variants[i].prog);
		if (*is_variant || !strcmp(name, prog_variants[i].replaces))
			return &prog_variants[i];
	}
	return NULL;
}

/*
 * Enables the programs of strategy a (variants: allow program variants);
 * returns how many, or -ENOENT (with *missing set) when a function a
 * required program hooks does not exist. *variant_on: the last variant
 * enabled, if any.
 */
static int select_programs(const struct object_ops *ops, struct bpf_object *obj, enum kt_attach a,
			   bool variants, const char **missing, const struct prog_variant **variant_on)
{
	struct bpf_program *p;
	const char *targets[16];
	bool found[16];
	int have_kfunc[N_VARIANTS]; /* -1: not asked yet */
	size_t nt = 0;
	int n = 0;

	for (size_t k = 0; k < N_VARIANTS; k++)
		have_kfunc[k] = -1;

	bpf_object__for_each_program(p, obj)
	{
		const char *t;
		enum kt_attach s = prog_strategy(p, &t);
		if (s == a && a != KT_ATTACH_TRACEPOINT && nt < 16)
			targets[nt++] = t;
	}
	kallsyms_lookup(targets, found, nt);
	bpf_object__for_each_program(p, obj)
	{
		const char *t;
		bool on = prog_strategy(p, &t) == a, is_variant;
		const struct prog_variant *v = on ? variant_of(p, &is_variant) : NULL;
		if (v) {
			size_t k = (size_t)(v - prog_variants);
			if (have_kfunc[k] < 0)
				have_kfunc[k] = variants && kt_kernel_has_kfunc(v->kfunc);
			on = is_variant == (have_kfunc[k] == 1);
			if (on && is_variant)
				*variant_on = v;
		}
		for (size_t i = 0; on && i < nt; i++) {
			if (strcmp(targets[i], t) != 0 || found[i])
				continue;
			if (!is_optional(ops, t)) {
				*missing = t;
				return -ENOENT;
			}
			on = false;
		}
		bpf_program__set_autoload(p, on);
		n += on;
	}
	return n;
}

/* ------------------------------------------------------------ tail slots */

static size_t tail_slot_of(const char *tracepoint)
{
	for (size_t k = 0; k < N_TAILS; k++)
		if (!strcmp(tail_slots[k].tracepoint, tracepoint))
			return k;
	return N_TAILS;
}

static void tails_clear(struct kt_capture *c)
{
	__u32 slot = KT_VSOCK_TAIL_SLOT;
	for (size_t k = 0; k < N_TAILS; k++)
		if (c->tail_fd[k] >= 0 && bpf_map_delete_elem(c->tail_fd[k], &slot) && errno != ENOENT)
			kt_warn("vsock capture: cannot empty the tail slot %s: %s", tail_slots[k].map,
				strerror(errno));
}

/*
 * Puts the loaded tracepoint programs of s into the unix capture's tail
 * slots instead of attaching them. False, with no slot filled, when there
 * are no slots (the unix capture uses another strategy) or the kernel
 * refuses a program there: the caller then attaches them on their own.
 */
static bool tails_fill(struct kt_capture *c, const struct object_ops *ops, void *s)
{
	__u32 slot = KT_VSOCK_TAIL_SLOT;
	bool filled[N_TAILS] = { false };
	struct bpf_program *p;

	if (!ops->tails)
		return false;
	bpf_object__for_each_program(p, ops->obj(s))
	{
		const char *t;
		if (!bpf_program__autoload(p) || prog_strategy(p, &t) != KT_ATTACH_TRACEPOINT)
			continue;
		size_t k = tail_slot_of(t);
		int fd = bpf_program__fd(p);
		if (k == N_TAILS || c->tail_fd[k] < 0)
			goto undo;
		if (bpf_map_update_elem(c->tail_fd[k], &slot, &fd, BPF_ANY)) {
			kt_debug("%s: %s refused in the tail slot %s: %s", ops->name,
				 bpf_program__name(p), tail_slots[k].map, strerror(errno));
			goto undo;
		}
		filled[k] = true;
	}
	return true;
undo:
	for (size_t k = 0; k < N_TAILS; k++)
		if (filled[k])
			bpf_map_delete_elem(c->tail_fd[k], &slot);
	return false;
}

/* ------------------------------------------------------------ loading */

/*
 * Opens, loads and attaches ops with strategy a (variants: program variants
 * allowed; *variant: the one enabled; *tailed: put in the tail slots, not
 * attached). *load_failed: the kernel refused to load the programs (not:
 * missing functions, configuration, attach).
 */
static void *try_load(struct kt_capture *c, const struct object_ops *ops, enum kt_attach a,
		      bool quiet, bool variants, const struct prog_variant **variant, bool *tailed,
		      bool *load_failed)
{
	enum kt_log_level lvl = quiet ? KT_LOG_DEBUG : KT_LOG_INFO;
	const char *missing = NULL;
	void *s = ops->open();
	int err;

	*variant = NULL;
	*tailed = false;
	*load_failed = false;
	if (!s) {
		kt_warn("%s: cannot open the BPF object: %s", ops->name, strerror(errno));
		return NULL;
	}
	err = select_programs(ops, ops->obj(s), a, variants, &missing, variant);
	if (err <= 0) {
		if (err == -ENOENT)
			kt_diag(lvl, "%s: %s: %s() is not in this kernel (module not loaded?)",
			       ops->name, kt_attach_name(a), missing);
		goto fail;
	}
	if ((err = bpf_map__reuse_fd(ops->events(s), c->events_fd)) ||
	    (err = bpf_map__reuse_fd(ops->counters(s), c->counters_fd))) {
		kt_warn("%s: cannot share the ring buffer: %s", ops->name, strerror(-err));
		goto fail;
	}
	ops->set_wakeup(s, c->cfg.wakeup_bytes);
	if ((err = ops->load(s))) {
		*load_failed = true;
		kt_diag(*variant ? KT_LOG_DEBUG : lvl, "%s: %s programs%s do not load here: %s",
			ops->name, kt_attach_name(a), *variant ? " with their variants" : "",
			strerror(-err));
		goto fail;
	}
	if ((err = ops->configure(s, c))) {
		kt_warn("%s: cannot configure: %s", ops->name, strerror(-err));
		goto fail;
	}
	/* one program a tracepoint: the unix capture's, which hands vsock sockets on */
	*tailed = a == KT_ATTACH_TRACEPOINT && tails_fill(c, ops, s);
	if (!*tailed && (err = ops->attach(s))) {
		kt_diag(lvl, "%s: %s programs do not attach here: %s", ops->name, kt_attach_name(a),
		       strerror(-err));
		goto fail;
	}
	return s;
fail:
	ops->destroy(s);
	return NULL;
}

/* KATATRACE_PROGRAM_VARIANTS=off: the plain programs only, whatever the kernel has. */
#define VARIANTS_ENV "KATATRACE_PROGRAM_VARIANTS"

/* try_load with the program variants the kernel has, or without them if they do not load. */
static void *try_strategy(struct kt_capture *c, const struct object_ops *ops, enum kt_attach a,
			  bool quiet, const struct prog_variant **variant, bool *tailed)
{
	const char *env = getenv(VARIANTS_ENV);
	bool load_failed;
	void *s = try_load(c, ops, a, quiet, !env || strcmp(env, "off"), variant, tailed,
			   &load_failed);
	if (!s && load_failed && *variant)
		s = try_load(c, ops, a, quiet, false, variant, tailed, &load_failed);
	return s;
}

/* Loads ops with the wanted strategy, or the first that works for auto. */
static bool load_object(struct kt_capture *c, struct loaded *l, const struct object_ops *ops,
			bool quiet)
{
	static const enum kt_attach order[] = KT_ATTACH_ORDER;

	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		enum kt_attach a = order[i];
		if (c->cfg.attach != KT_ATTACH_AUTO && c->cfg.attach != a)
			continue;
		const struct prog_variant *variant;
		bool tailed;
		void *s = try_strategy(c, ops, a, quiet, &variant, &tailed);
		if (s) {
			l->ops = ops;
			l->skel = s;
			l->strategy = a;
			l->tailed = tailed;
			kt_info("%s: attached with %s strategy%s%s%s%s", ops->name, kt_attach_name(a),
				c->cfg.attach == KT_ATTACH_AUTO ? " (auto)" : "",
				variant ? ", " : "", variant ? variant->what : "",
				tailed ? ", reached from the unix capture's programs by tail call" : "");
			return true;
		}
	}
	return false;
}

static void unload(struct loaded *l)
{
	if (l->skel)
		l->ops->destroy(l->skel);
	l->skel = NULL;
	l->tailed = false;
}

/* ------------------------------------------------------------ match configuration */

static int build_unix_match(const struct kt_capture_cfg *cfg, struct kt_unix_match *m)
{
	memset(m, 0, sizeof(*m));
	if (cfg->n_ports > KT_MAX_SUFFIXES || cfg->n_prefixes > KT_MAX_PREFIXES)
		return -1;
	for (size_t i = 0; i < cfg->n_ports; i++) {
		int n = snprintf(m->suffix[i].s, sizeof(m->suffix[i].s), "_%u", cfg->ports[i]);
		if (n <= 0 || (size_t)n >= sizeof(m->suffix[i].s))
			return -1;
		m->suffix[i].len = (unsigned)n;
		m->untimed_suffixes |= 1u << i; /* a trace port: its messages carry their own times */
	}
	m->n_suffix = cfg->n_ports;
	for (size_t i = 0; i < cfg->n_suffixes; i++) {
		size_t n = strlen(cfg->suffixes[i]);
		if (m->n_suffix >= KT_MAX_SUFFIXES || n == 0 || n > sizeof(m->suffix[0].s))
			return -1;
		memcpy(m->suffix[m->n_suffix].s, cfg->suffixes[i], n);
		m->suffix[m->n_suffix++].len = (unsigned)n;
	}
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

/* ------------------------------------------------------------ vsock life cycle */

/*
 * Is the virtio vsock transport (the packet path the fentry/kprobe
 * strategies hook) in the kernel? Asked once through kallsyms, then cheaply
 * through /sys/module, where loading vhost_vsock or vsock_loopback shows.
 */
static bool vsock_transport_present(bool thorough)
{
	static const char *const mods[] = { "/sys/module/vmw_vsock_virtio_transport_common",
					    "/sys/module/vhost_vsock", "/sys/module/vsock_loopback" };
	struct stat st;

	for (size_t i = 0; i < sizeof(mods) / sizeof(mods[0]); i++)
		if (stat(mods[i], &st) == 0)
			return true;
	if (!thorough)
		return false;
	const char *names[] = { "virtio_transport_recv_pkt" };
	bool found;
	kallsyms_lookup(names, &found, 1);
	return found;
}

/*
 * vsock capture prefers the packet-level strategies (no reader needed),
 * which exist only once the transport modules are loaded, typically when a
 * host starts its first VM. Retried only when that changes, so a kernel that
 * refuses a strategy is not asked again every few seconds.
 */
static void vsock_try(struct kt_capture *c, bool first)
{
	struct loaded *l = &c->vsock_obj;
	bool present = vsock_transport_present(first);

	if (!first && present == c->transport_present)
		return;
	c->transport_present = present;
	if (!first && !present)
		return;
	if (!first)
		kt_info("vsock capture: vsock transport appeared");

	if (l->skel) {
		/* Auto fell back to tracepoints without the transport: upgrade. */
		if (c->cfg.attach != KT_ATTACH_AUTO || l->strategy != KT_ATTACH_TRACEPOINT)
			return;
		struct loaded better = { 0 };
		struct kt_capture_cfg saved = c->cfg;
		c->cfg.attach = KT_ATTACH_FENTRY;
		bool ok = load_object(c, &better, &vsock_capture_ops, true);
		if (!ok) {
			c->cfg.attach = KT_ATTACH_KPROBE;
			ok = load_object(c, &better, &vsock_capture_ops, true);
		}
		c->cfg = saved;
		if (ok) {
			/* the tracepoint programs stop being reached too */
			if (l->tailed)
				tails_clear(c);
			unload(l);
			*l = better;
		}
		return;
	}
	if (!load_object(c, l, &vsock_capture_ops, !first))
		kt_info("vsock capture: not attached (%s); retried when a vsock transport "
			"module is loaded",
			present ? "no strategy works with this kernel" : "no vsock transport yet");
}

/* ------------------------------------------------------------ public */

static void tails_none(struct kt_capture *c)
{
	for (size_t k = 0; k < N_TAILS; k++)
		c->tail_fd[k] = -1;
}

/* KATATRACE_VSOCK_TAIL=off: the vsock capture's programs attached on their own. */
#define TAILS_ENV "KATATRACE_VSOCK_TAIL"

/* The unix capture's tail slots, when its programs are the tracepoints'. */
static void tails_of_unix(struct kt_capture *c)
{
	struct bpf_object *obj = c->unix_obj.ops->obj(c->unix_obj.skel);
	const char *env = getenv(TAILS_ENV);
	if (c->unix_obj.strategy != KT_ATTACH_TRACEPOINT)
		return;
	if (env && !strcmp(env, "off")) {
		kt_info("vsock capture: no tail calls (%s=off): attached on its own", TAILS_ENV);
		return;
	}
	for (size_t k = 0; k < N_TAILS; k++)
		c->tail_fd[k] = bpf_object__find_map_fd_by_name(obj, tail_slots[k].map);
}

struct kt_capture *kt_capture_start(const struct kt_capture_cfg *cfg)
{
	struct kt_capture *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->cfg = *cfg;
	c->events_fd = c->counters_fd = -1;
	tails_none(c);
	if (build_unix_match(cfg, &c->unix_match) || cfg->n_ports > KT_VSOCK_MAX_PORTS ||
	    cfg->n_guest_ports > KT_VSOCK_MAX_PORTS) {
		kt_err("capture: at most %d ports and %d path prefixes of up to %d bytes",
		       KT_MAX_SUFFIXES, KT_MAX_PREFIXES, KT_PATH_MAX);
		goto fail;
	}
	for (size_t i = 0; i < cfg->n_ports; i++)
		c->host_ports[i] = cfg->ports[i];
	for (size_t i = 0; i < cfg->n_guest_ports; i++)
		c->guest_ports[i] = cfg->guest_ports[i];
	c->cfg.ports = NULL;
	c->cfg.guest_ports = NULL;

	/* One ring buffer and one set of counters shared by every object. */
	c->events_fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "kt_events", 0, 0,
				      cfg->ringbuf_bytes ? cfg->ringbuf_bytes : KT_RINGBUF_DEFAULT_BYTES, NULL);
	c->counters_fd = bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, "kt_counters", sizeof(__u32),
					sizeof(__u64), KT_CNT__MAX, NULL);
	if (c->events_fd < 0 || c->counters_fd < 0) {
		kt_err("capture: cannot create BPF maps: %s (not root? BPF disabled?)",
		       strerror(errno));
		goto fail;
	}
	if (!load_object(c, &c->unix_obj, &unix_capture_ops, false)) {
		kt_err("unix capture: no attach strategy works on this kernel (%s requested); "
		       "--log-level debug shows the kernel's reasons; see docs/capture.md, "
		       "or use --capture socket",
		       kt_attach_name(cfg->attach));
		goto fail;
	}
	tails_of_unix(c);
	if (cfg->vsock)
		vsock_try(c, true);
	/* Without them only the VM spans are missing: not fatal. */
	if (cfg->vm_events && !(c->vm = kt_vm_capture_start(c->counters_fd)))
		kt_warn("vm events: not attached: no kata.vm / vsock.connection spans");
	return c;
fail:
	kt_capture_stop(c);
	return NULL;
}

int kt_capture_ringbuf_fd(const struct kt_capture *c)
{
	return c->events_fd;
}

int kt_capture_counters(const struct kt_capture *c, uint64_t out[KT_CNT__MAX])
{
	int ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0)
		return -1;
	uint64_t *vals = calloc((size_t)ncpu, sizeof(uint64_t));
	if (!vals)
		return -1;
	for (__u32 k = 0; k < KT_CNT__MAX; k++) {
		out[k] = 0;
		if (bpf_map_lookup_elem(c->counters_fd, &k, vals) == 0)
			for (int i = 0; i < ncpu; i++)
				out[k] += vals[i];
	}
	free(vals);
	return 0;
}

void kt_capture_tick(struct kt_capture *c, uint64_t now_ns)
{
	if (now_ns - c->last_try_ns < VSOCK_RETRY_NS)
		return;
	c->last_try_ns = now_ns;
	if (c->cfg.vsock && !c->adopted_vsock)
		vsock_try(c, false);
	kt_vm_capture_tick(c->vm);
}

struct kt_vm_capture *kt_capture_vm(const struct kt_capture *c)
{
	return c ? c->vm : NULL;
}

const char *kt_capture_describe(const struct kt_capture *c, char *buf, size_t n)
{
	char vm[48] = "off";
	if (c->vm)
		kt_vm_capture_describe(c->vm, vm, sizeof(vm));
	const char *unix_s = c->adopted ? c->adopted_unix : kt_attach_name(c->unix_obj.strategy);
	snprintf(buf, n, "unix: %s, vsock: %s, vm: %s%s", unix_s,
		 !c->cfg.vsock ? "off"
		 : c->vsock_obj.skel ? kt_attach_name(c->vsock_obj.strategy)
		 : c->vsock_given    ? c->given_vsock_strategy
		 : c->adopted_vsock  ? c->adopted_vsock_strategy
				    : "waiting",
		 vm, c->adopted ? " (taken over)" : "");
	return buf;
}

void kt_capture_stop(struct kt_capture *c)
{
	if (!c)
		return;
	kt_vm_capture_stop(c->vm);
	for (size_t i = 0; i < c->n_held; i++)
		close(c->held[i].fd);
	free(c->held);
	unload(&c->vsock_obj);
	unload(&c->unix_obj);
	if (c->events_fd >= 0)
		close(c->events_fd);
	if (c->counters_fd >= 0)
		close(c->counters_fd);
	free(c);
}

/* ------------------------------------------------------------ takeover */

/* Program i of a skeleton (their size is the skeleton's, not the header's). */
static const struct bpf_prog_skeleton *prog_at(const struct bpf_object_skeleton *sk, int i)
{
	return (const void *)((const char *)sk->progs + (size_t)i * (size_t)sk->prog_skel_sz);
}

static void object_fds(const struct loaded *l, kt_capture_fd_fn fn, void *ctx)
{
	if (!l->skel)
		return;
	const char *strategy = kt_attach_name(l->strategy);
	struct bpf_map *m;
	bpf_object__for_each_map(m, l->ops->obj(l->skel)) {
		/* the shared ring buffer and counters are named once, as the capture's */
		if (m == l->ops->events(l->skel) || m == l->ops->counters(l->skel))
			continue;
		fn(ctx, l->ops->name, bpf_map__name(m), strategy, bpf_map__fd(m));
	}
	const struct bpf_object_skeleton *sk = l->ops->skeleton(l->skel);
	for (int i = 0; i < sk->prog_cnt; i++) {
		const struct bpf_prog_skeleton *ps = prog_at(sk, i);
		struct bpf_link *link = ps->link ? *ps->link : NULL;
		char name[96];
		if (l->tailed) {
			/* reached by tail call: the programs themselves, the slots being the unix object's maps */
			int fd = *ps->prog ? bpf_program__fd(*ps->prog) : -1;
			if (fd < 0)
				continue;
			snprintf(name, sizeof(name), "%s%s", KT_CAPTURE_TAIL_PREFIX, ps->name);
			fn(ctx, l->ops->name, name, strategy, fd);
			continue;
		}
		if (!link || bpf_link__fd(link) < 0)
			continue;
		snprintf(name, sizeof(name), "%s%s", KT_CAPTURE_LINK_PREFIX, ps->name);
		fn(ctx, l->ops->name, name, strategy, bpf_link__fd(link));
	}
}

void kt_capture_each_fd(const struct kt_capture *c, kt_capture_fd_fn fn, void *ctx)
{
	fn(ctx, "", KT_CAPTURE_EVENTS_MAP, "", c->events_fd);
	fn(ctx, "", KT_CAPTURE_COUNTERS_MAP, "", c->counters_fd);
	/* taken over: handed on as they came */
	for (size_t i = 0; i < c->n_held; i++)
		fn(ctx, c->held[i].object, c->held[i].name, c->held[i].strategy, c->held[i].fd);
	object_fds(&c->unix_obj, fn, ctx);
	object_fds(&c->vsock_obj, fn, ctx);
}

void kt_capture_each_vsock_fd(const struct kt_capture *c, kt_capture_fd_fn fn, void *ctx)
{
	if (c)
		object_fds(&c->vsock_obj, fn, ctx);
}

/*
 * Destroying l's links then detaches nothing. A disconnected link's
 * descriptor is not closed by its destruction either: closed here with
 * close_fds (the process goes on), left to the process's exit otherwise.
 */
static void disconnect(const struct loaded *l, bool close_fds)
{
	if (!l->skel)
		return;
	const struct bpf_object_skeleton *sk = l->ops->skeleton(l->skel);
	for (int i = 0; i < sk->prog_cnt; i++) {
		const struct bpf_prog_skeleton *ps = prog_at(sk, i);
		struct bpf_link *link = ps->link ? *ps->link : NULL;
		if (!link)
			continue;
		int fd = bpf_link__fd(link);
		bpf_link__disconnect(link);
		if (close_fds && fd >= 0)
			close(fd);
	}
}

void kt_capture_give_vsock(struct kt_capture *c)
{
	if (!c || !c->vsock_obj.skel)
		return;
	snprintf(c->given_vsock_strategy, sizeof(c->given_vsock_strategy), "%s",
		 kt_attach_name(c->vsock_obj.strategy));
	/* only this process's references close: the broker's keep the programs attached */
	disconnect(&c->vsock_obj, true);
	unload(&c->vsock_obj);
	c->vsock_given = true;
}

void kt_capture_let_go(struct kt_capture *c)
{
	if (!c)
		return;
	/* destroying the skeletons then only closes this process's references */
	disconnect(&c->unix_obj, false);
	disconnect(&c->vsock_obj, false);
}

struct kt_capture *kt_capture_adopt(const struct kt_capture_cfg *cfg,
				    const struct kt_capture_handed *h, size_t n, char *err,
				    size_t errlen)
{
	struct kt_capture *c = calloc(1, sizeof(*c));
	struct kt_capture_handed *held = calloc(n ? n : 1, sizeof(*held));
	if (!c || !held) {
		free(c);
		free(held);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->cfg = *cfg;
	c->cfg.ports = c->cfg.guest_ports = NULL;
	c->events_fd = c->counters_fd = -1;
	tails_none(c);
	c->held = held;
	c->adopted = true;
	bool have_unix_link = false;
	int match_fd = -1;
	for (size_t i = 0; i < n; i++) {
		const struct kt_capture_handed *e = &h[i];
		if (!e->object[0] && strcmp(e->name, KT_CAPTURE_EVENTS_MAP) == 0)
			c->events_fd = e->fd;
		else if (!e->object[0] && strcmp(e->name, KT_CAPTURE_COUNTERS_MAP) == 0)
			c->counters_fd = e->fd;
		else
			c->held[c->n_held++] = *e;
		bool link = strncmp(e->name, KT_CAPTURE_LINK_PREFIX,
				    strlen(KT_CAPTURE_LINK_PREFIX)) == 0;
		bool tail = strncmp(e->name, KT_CAPTURE_TAIL_PREFIX,
				    strlen(KT_CAPTURE_TAIL_PREFIX)) == 0;
		if (strcmp(e->object, unix_capture_ops.name) == 0) {
			snprintf(c->adopted_unix, sizeof(c->adopted_unix), "%s", e->strategy);
			have_unix_link |= link;
			if (strcmp(e->name, "match_cfg") == 0)
				match_fd = e->fd;
			for (size_t k = 0; k < N_TAILS; k++)
				if (strcmp(e->name, tail_slots[k].map) == 0)
					c->tail_fd[k] = e->fd;
		} else if (strcmp(e->object, vsock_capture_ops.name) == 0 && (link || tail)) {
			c->adopted_vsock = true;
			snprintf(c->adopted_vsock_strategy, sizeof(c->adopted_vsock_strategy), "%s",
				 e->strategy);
		}
	}
	/* the slots are used only while the adopted unix programs are the tracepoints' */
	if (strcmp(c->adopted_unix, kt_attach_name(KT_ATTACH_TRACEPOINT)) != 0)
		tails_none(c);
	if (c->events_fd < 0 || c->counters_fd < 0 || !have_unix_link) {
		snprintf(err, errlen, "the old daemon's capture is incomplete (%s%s%s)",
			 c->events_fd < 0 ? "no ring buffer " : "",
			 c->counters_fd < 0 ? "no counters " : "",
			 have_unix_link ? "" : "no unix capture program");
		goto fail;
	}
	/* This daemon's paths apply from now on. */
	__u32 zero = 0;
	if (build_unix_match(cfg, &c->unix_match) || match_fd < 0 ||
	    bpf_map_update_elem(match_fd, &zero, &c->unix_match, BPF_ANY)) {
		snprintf(err, errlen, "cannot set the unix capture's paths: %s",
			 match_fd < 0 ? "no match_cfg map" : strerror(errno));
		goto fail;
	}
	for (size_t i = 0; i < cfg->n_ports && i < KT_VSOCK_MAX_PORTS; i++)
		c->host_ports[i] = cfg->ports[i];
	for (size_t i = 0; i < cfg->n_guest_ports && i < KT_VSOCK_MAX_PORTS; i++)
		c->guest_ports[i] = cfg->guest_ports[i];
	/*
	 * vsock capture the old daemon's broker attached late is not among its
	 * descriptors: attached again here, after a retry interval, once the
	 * old broker is gone.
	 */
	c->last_try_ns = kt_mono_ns();
	if (cfg->vm_events && !(c->vm = kt_vm_capture_start(c->counters_fd)))
		kt_warn("vm events: not attached: no kata.vm / vsock.connection spans");
	return c;
fail:
	/* the descriptors stay the caller's */
	c->n_held = 0;
	c->events_fd = c->counters_fd = -1;
	kt_capture_stop(c);
	return NULL;
}
