/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sandbox discovery on a temporary run root: every default layout found by
 * the start-up scan and through inotify, the ambiguity rule, markers,
 * persist.json and OCI bundles written late, removal, 200 sandboxes at
 * once, an inotify queue overflow, symbolic links and hostile files. Every
 * test ends with a replay of all events: UP before anything else of a
 * sandbox, LISTEN/UNLISTEN alternating per path, DOWN only after every
 * UNLISTEN, every meta valid.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/discovery.h"
#include "fs_fixture.h"

/* ------------------------------------------------------------ fixture */

static struct kt_discovery *d;
static struct {
	struct kt_disc_event *ev;
	size_t n, cap;
	size_t base; /* count() looks at the events since the last clear() */
} rec;

static void on_event(const struct kt_disc_event *ev, void *ctx)
{
	(void)ctx;
	if (rec.n == rec.cap) {
		rec.cap = rec.cap ? rec.cap * 2 : 256;
		rec.ev = realloc(rec.ev, rec.cap * sizeof(*rec.ev));
		cr_assert_not_null(rec.ev);
	}
	rec.ev[rec.n++] = *ev;
}

static void start_cfg(struct kt_discovery_config *cfg)
{
	char err[256] = "";
	cfg->run_root = fx_root;
	d = kt_discovery_new(cfg, on_event, NULL, err, sizeof(err));
	cr_assert_not_null(d, "%s", err);
	cr_assert_geq(kt_discovery_fd(d), 0);
	kt_discovery_scan(d);
}

static void start(void)
{
	struct kt_discovery_config cfg = { 0 };
	start_cfg(&cfg);
}

/* Reports everything inotify has (the events are queued by the file operations themselves). */
static void pump(void)
{
	while (kt_discovery_dispatch(d) > 0)
		;
}

static size_t count(uint32_t type, const char *id)
{
	size_t n = 0;
	for (size_t i = rec.base; i < rec.n; i++)
		if (rec.ev[i].type == type && (!id || strcmp(rec.ev[i].meta.id, id) == 0))
			n++;
	return n;
}

/* The last event of a type for id. */
static const struct kt_disc_event *last(uint32_t type, const char *id)
{
	for (size_t i = rec.n; i-- > 0;)
		if (rec.ev[i].type == type && strcmp(rec.ev[i].meta.id, id) == 0)
			return &rec.ev[i];
	cr_assert_fail("no event %u for %s", type, id);
	return NULL;
}

/* The meta of the last UP or UPDATE of id. */
static const struct kt_sandbox_meta *meta_of(const char *id)
{
	for (size_t i = rec.n; i-- > 0;)
		if ((rec.ev[i].type == KT_DISC_SANDBOX_UP || rec.ev[i].type == KT_DISC_SANDBOX_UPDATE) &&
		    strcmp(rec.ev[i].meta.id, id) == 0)
			return &rec.ev[i].meta;
	cr_assert_fail("no meta for %s", id);
	return NULL;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The listener paths of id (relative to the fx_root, sorted, space-separated) after all events. */
static const char *listening(const char *id)
{
	static char out[2048];
	char *paths[64];
	size_t n = 0;
	for (size_t i = 0; i < rec.n; i++) {
		const struct kt_disc_event *e = &rec.ev[i];
		if (strcmp(e->meta.id, id) != 0 || (e->type != KT_DISC_LISTEN && e->type != KT_DISC_UNLISTEN))
			continue;
		const char *rel = e->path + strlen(fx_root) + 1;
		size_t j = 0;
		while (j < n && strcmp(paths[j], rel) != 0)
			j++;
		if (e->type == KT_DISC_LISTEN && j == n && n < 64)
			paths[n++] = (char *)rel;
		else if (e->type == KT_DISC_UNLISTEN && j < n)
			paths[j] = paths[--n];
	}
	qsort(paths, n, sizeof(paths[0]), cmp_str);
	out[0] = '\0';
	for (size_t j = 0; j < n; j++)
		snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s", j ? " " : "", paths[j]);
	return out;
}

static void clear(void)
{
	rec.base = rec.n;
}

/* Events since the last clear(). */
static size_t since(void)
{
	return rec.n - rec.base;
}

/*
 * Replays every event of the test: a sandbox is UP once before its other
 * events and DOWN after all its listeners are withdrawn; LISTEN and UNLISTEN
 * alternate per path; metas are valid.
 */
static void check_balanced(void)
{
	struct st {
		char id[KT_SANDBOX_ID_MAX + 1];
		bool up;
		size_t listeners;
	} *s = calloc(rec.n + 1, sizeof(*s));
	char(*paths)[KT_DISC_PATH_MAX] = calloc(rec.n + 1, sizeof(*paths));
	bool *on = calloc(rec.n + 1, sizeof(*on));
	size_t ns = 0, np = 0;
	cr_assert(s && paths && on);
	for (size_t i = 0; i < rec.n; i++) {
		const struct kt_disc_event *e = &rec.ev[i];
		cr_assert(kt_sandbox_meta_valid(&e->meta), "event %zu: invalid meta", i);
		size_t k = 0;
		while (k < ns && strcmp(s[k].id, e->meta.id) != 0)
			k++;
		if (k == ns)
			snprintf(s[ns++].id, sizeof(s[0].id), "%s", e->meta.id);
		if (e->type == KT_DISC_SANDBOX_UP) {
			cr_assert_not(s[k].up, "%s: UP twice", e->meta.id);
			s[k].up = true;
			continue;
		}
		cr_assert(s[k].up, "%s: event %u while not up", e->meta.id, e->type);
		if (e->type == KT_DISC_SANDBOX_DOWN) {
			cr_assert_eq(s[k].listeners, 0, "%s: DOWN with listeners", e->meta.id);
			s[k].up = false;
		} else if (e->type == KT_DISC_LISTEN || e->type == KT_DISC_UNLISTEN) {
			size_t p = 0;
			while (p < np && strcmp(paths[p], e->path) != 0)
				p++;
			if (p == np)
				snprintf(paths[np++], KT_DISC_PATH_MAX, "%s", e->path);
			bool listen = e->type == KT_DISC_LISTEN;
			cr_assert_neq(on[p], listen, "%s: %s twice", e->path, listen ? "LISTEN" : "UNLISTEN");
			on[p] = listen;
			s[k].listeners += listen ? 1 : (size_t)-1;
			cr_assert_eq(e->port, 10240u + (strstr(e->path, "_10241") ? 1u : 0u));
			cr_assert_neq(e->hypervisor[0], '\0');
		}
	}
	free(s);
	free(paths);
	free(on);
}

static void setup(void)
{
	fx_root_make("disc");
	rec.n = rec.base = 0;
	d = NULL;
}

static void teardown(void)
{
	check_balanced();
	kt_discovery_free(d);
	fx_root_remove();
	free(rec.ev);
	rec.ev = NULL;
	rec.n = rec.cap = rec.base = 0;
}

TestSuite(discovery, .init = setup, .fini = teardown);

/* ------------------------------------------------------------ templates */

Test(discovery, templates)
{
	struct kt_disc_template t;
	char err[256];

	cr_assert_eq(kt_disc_template_parse("cloud-hypervisor=/run/vc/{ID}/x.sock", &t, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(t.kind, KT_DISC_HYBRID);
	cr_expect_str_eq(t.hypervisor, "cloud-hypervisor");
	cr_expect_str_eq(t.path, "/run/vc/{ID}/x.sock");
	cr_assert_eq(kt_disc_template_parse("qemu=/run/vc/vm/{ID}/qmp.sock", &t, err, sizeof(err)), 0);
	cr_expect_eq(t.kind, KT_DISC_MARKER);
	cr_assert_eq(kt_disc_template_parse("clh=/a/{ID}/b", &t, err, sizeof(err)), 0);
	cr_expect_str_eq(t.hypervisor, "cloud-hypervisor");
	cr_assert_eq(kt_disc_template_parse("firecracker:marker=/a/{ID}/api.sock", &t, err, sizeof(err)), 0);
	cr_expect_eq(t.kind, KT_DISC_MARKER);
	cr_assert_eq(kt_disc_template_parse("any=/a/{ID}/b", &t, err, sizeof(err)), 0);
	cr_expect_str_eq(t.hypervisor, "");
	cr_expect_eq(t.kind, KT_DISC_MARKER);
	/* the defaults: Kata's layouts, each read as a template */
	for (size_t i = 0; i < kt_n_hv_layouts; i++) {
		const struct kt_hv_layout *l = &kt_hv_layouts[i];
		cr_expect_eq(kt_disc_template_of_layout(l, &t, err, sizeof(err)), 0, "%s", err);
		cr_expect_eq(t.kind, l->file == KT_HV_SOCKET ? KT_DISC_HYBRID : KT_DISC_MARKER, "%s", l->path);
		cr_expect_str_eq(t.hypervisor, l->hv ? l->hv->name : "", "%s", l->path);
		cr_expect_str_eq(t.path, l->path);
	}

	static const struct {
		const char *spec, *msg;
	} bad[] = {
		{ "/run/vc/{ID}/x.sock", "expected HYPERVISOR=PATH" },
		{ "cloud-hypervisor=run/vc/{ID}/x.sock", "not an absolute path" },
		{ "cloud-hypervisor=/run/vc/x.sock", "{ID} must appear exactly once (found 0)" },
		{ "cloud-hypervisor=/run/{ID}/{ID}/x.sock", "{ID} must appear exactly once (found 2)" },
		{ "cloud-hypervisor=/run/vc/{ID}", "must end in a file name after {ID}" },
		{ "cloud-hypervisor=/run/vc/sb-{ID}/x", "{ID} must be a whole path component" },
		{ "cloud-hypervisor=/run/../{ID}/x", "'.' or '..'" },
		{ "acrn=/run/{ID}/x", "unknown hypervisor 'acrn'" },
		{ "=/run/{ID}/x", "unknown hypervisor ''" },
		{ "qemu:hybrid=/run/{ID}/x", "qemu has no hybrid-vsock socket" },
		{ "any:hybrid=/run/{ID}/x", "any has no hybrid-vsock socket" },
		{ "clh:sometimes=/run/{ID}/x", "unknown kind 'sometimes'" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		cr_expect_eq(kt_disc_template_parse(bad[i].spec, &t, err, sizeof(err)), -1, "%s", bad[i].spec);
		cr_expect(strstr(err, bad[i].msg), "%s: '%s' lacks '%s'", bad[i].spec, err, bad[i].msg);
	}

	/* and through the constructor */
	const char *tp[] = { "cloud-hypervisor=/run/{ID}/x", "nope=/run/{ID}/y" };
	struct kt_discovery_config cfg = { .run_root = fx_root, .templates = tp, .ntemplates = 2 };
	cr_expect_null(kt_discovery_new(&cfg, on_event, NULL, err, sizeof(err)));
	cr_expect(strstr(err, "unknown hypervisor 'nope'"), "%s", err);
	cfg.ntemplates = 1;
	cfg.run_root = "/nonexistent/run/root";
	cr_expect_null(kt_discovery_new(&cfg, on_event, NULL, err, sizeof(err)));
	cr_expect(strstr(err, "run root"), "%s", err);
	const char *many[KT_DISC_MAX_TEMPLATES + 1];
	for (size_t i = 0; i <= KT_DISC_MAX_TEMPLATES; i++)
		many[i] = tp[0];
	struct kt_discovery_config cfg2 = { .run_root = fx_root, .templates = many, .ntemplates = KT_DISC_MAX_TEMPLATES + 1 };
	cr_expect_null(kt_discovery_new(&cfg2, on_event, NULL, err, sizeof(err)));
	uint32_t port0 = 0;
	struct kt_discovery_config cfg3 = { .run_root = fx_root, .ports = &port0, .nports = 1 };
	cr_expect_null(kt_discovery_new(&cfg3, on_event, NULL, err, sizeof(err)));
	const char *badbundle = "/run/{ID}";
	struct kt_discovery_config cfg4 = { .run_root = fx_root, .bundle_patterns = &badbundle, .nbundle_patterns = 1 };
	cr_expect_null(kt_discovery_new(&cfg4, on_event, NULL, err, sizeof(err)));
}

Test(discovery, template_and_port_counts_at_their_limits)
{
	char err[256];
	/* Exactly KT_DISC_MAX_TEMPLATES templates are taken, one more is not. */
	const char *many[KT_DISC_MAX_TEMPLATES + 1];
	static char specs[KT_DISC_MAX_TEMPLATES + 1][64];
	for (size_t i = 0; i <= KT_DISC_MAX_TEMPLATES; i++) {
		snprintf(specs[i], sizeof(specs[i]), "cloud-hypervisor=/run/t%zu/{ID}/clh.sock", i);
		many[i] = specs[i];
	}
	struct kt_discovery_config cfg = { .run_root = fx_root, .templates = many,
					   .ntemplates = KT_DISC_MAX_TEMPLATES };
	struct kt_discovery *dd = kt_discovery_new(&cfg, on_event, NULL, err, sizeof(err));
	cr_expect_not_null(dd, "%d templates: %s", KT_DISC_MAX_TEMPLATES, err);
	kt_discovery_free(dd);
	cfg.ntemplates = KT_DISC_MAX_TEMPLATES + 1;
	err[0] = '\0';
	cr_expect_null(kt_discovery_new(&cfg, on_event, NULL, err, sizeof(err)));
	cr_expect(strstr(err, "between 1 and 32 templates, not 33"), "%s", err);

	/* Exactly KT_DISC_MAX_PORTS ports are taken, one more is not. */
	uint32_t ports[KT_DISC_MAX_PORTS + 1];
	for (size_t i = 0; i <= KT_DISC_MAX_PORTS; i++)
		ports[i] = 10240 + (uint32_t)i;
	struct kt_discovery_config pc = { .run_root = fx_root, .ports = ports,
					  .nports = KT_DISC_MAX_PORTS };
	dd = kt_discovery_new(&pc, on_event, NULL, err, sizeof(err));
	cr_expect_not_null(dd, "%d ports: %s", KT_DISC_MAX_PORTS, err);
	kt_discovery_free(dd);
	pc.nports = KT_DISC_MAX_PORTS + 1;
	err[0] = '\0';
	cr_expect_null(kt_discovery_new(&pc, on_event, NULL, err, sizeof(err)));
	cr_expect(strstr(err, "at most 8 ports"), "%s", err);
}

/* ------------------------------------------------------------ layouts */

Test(discovery, scan_finds_every_layout)
{
	fx_mksock("run/vc/vm/gclh/clh.sock");
	fx_mksock("run/vc/firecracker/gfc/root/kata.hvsock");
	fx_mksock("run/vc/vm/gqemu/qmp.sock");
	FX_PUT_STR("run/vc/vm/gqemu/pid", "4242\n");
	fx_mksock("run/kata/rdb/root/kata.hvsock");
	fx_mksock("run/kata/rclh/ch-vm.sock");
	fx_mksock("run/kata/firecracker/rfcj/root/kata.hvsock");
	fx_mksock("run/kata/rfc/kata.hvsock");
	start();

	cr_expect_eq(count(KT_DISC_SANDBOX_UP, NULL), 7);
	cr_expect_eq(kt_discovery_count(d), 7);
	cr_expect_eq(count(KT_DISC_SANDBOX_UP, "firecracker"), 0, "a fixed directory is not a sandbox");
	cr_expect_eq(count(KT_DISC_UNLISTEN, NULL), 0, "resolved at first sight");
	cr_expect_str_eq(listening("gclh"), "run/vc/vm/gclh/clh.sock_10240");
	cr_expect_str_eq(listening("gfc"), "run/vc/firecracker/gfc/root/kata.hvsock_10240");
	cr_expect_str_eq(listening("gqemu"), "");
	cr_expect_str_eq(listening("rdb"), "run/kata/rdb/root/kata.hvsock_10240");
	cr_expect_str_eq(listening("rclh"), "run/kata/rclh/ch-vm.sock_10240");
	cr_expect_str_eq(listening("rfcj"), "run/kata/firecracker/rfcj/root/kata.hvsock_10240");
	cr_expect_str_eq(listening("rfc"), "run/kata/rfc/kata.hvsock_10240");
	cr_expect_str_eq(last(KT_DISC_LISTEN, "gclh")->hypervisor, "cloud-hypervisor");
	cr_expect_str_eq(last(KT_DISC_LISTEN, "rdb")->hypervisor, "dragonball");

	const struct kt_sandbox_meta *m = meta_of("gqemu");
	cr_expect_str_eq(m->hypervisor, "qemu");
	cr_expect_str_eq(m->runtime, "go");
	cr_expect_eq(m->hypervisor_pid, 4242u);
	cr_expect_eq(m->flags, KT_META_HAVE_PIDFILE | KT_META_VSOCK);
	m = meta_of("rdb");
	cr_expect_str_eq(m->hypervisor, "dragonball");
	cr_expect_str_eq(m->runtime, "rs");
	cr_expect_str_eq(m->hvsock_path, fx_at("run/kata/rdb/root/kata.hvsock"));
	cr_expect_eq(m->flags, KT_META_HYBRID_VSOCK);
	m = meta_of("gfc");
	cr_expect_str_eq(m->hypervisor, "firecracker");
	cr_expect_str_eq(m->runtime, "go");

	/* a rescan with nothing new says nothing */
	clear();
	kt_discovery_rescan(d);
	pump();
	cr_expect_eq(since(), 0);
}

Test(discovery, inotify_follows_new_sandboxes)
{
	start(); /* not even <fx_root>/run exists yet */
	cr_expect_eq(since(), 0);

	fx_mkdirs("run/vc/vm/x1");
	pump();
	cr_expect_eq(count(KT_DISC_SANDBOX_UP, "x1"), 1);
	cr_expect_str_eq(listening("x1"), "run/vc/vm/x1/clh.sock_10240", "listening before the socket exists");
	cr_expect_str_eq(meta_of("x1")->hypervisor, "");
	fx_mksock("run/vc/vm/x1/clh.sock");
	pump();
	cr_expect_eq(count(KT_DISC_SANDBOX_UPDATE, "x1"), 1);
	cr_expect_str_eq(meta_of("x1")->hypervisor, "cloud-hypervisor");
	cr_expect_str_eq(meta_of("x1")->hvsock_path, fx_at("run/vc/vm/x1/clh.sock"));
	cr_expect_str_eq(listening("x1"), "run/vc/vm/x1/clh.sock_10240");

	/* runtime-rs: /run/kata/{ID}/ is Cloud Hypervisor's and unjailed Firecracker's */
	fx_mkdirs("run/kata/y1");
	pump();
	cr_expect_str_eq(listening("y1"), "run/kata/y1/ch-vm.sock_10240 run/kata/y1/kata.hvsock_10240");
	fx_mkdirs("run/kata/y1/root");
	pump();
	cr_expect_str_eq(listening("y1"),
			 "run/kata/y1/ch-vm.sock_10240 run/kata/y1/kata.hvsock_10240 run/kata/y1/root/kata.hvsock_10240");
	fx_mksock("run/kata/y1/kata.hvsock");
	pump();
	cr_expect_str_eq(listening("y1"), "run/kata/y1/kata.hvsock_10240", "resolved by the socket");
	cr_expect_eq(count(KT_DISC_UNLISTEN, "y1"), 2);
	cr_expect_str_eq(meta_of("y1")->hypervisor, "firecracker");
	cr_expect_str_eq(meta_of("y1")->runtime, "rs");

	/* jailed Firecracker: the jail fx_root comes after the sandbox directory */
	fx_mkdirs("run/vc/firecracker/z1");
	pump();
	cr_expect_eq(count(KT_DISC_SANDBOX_UP, "z1"), 1);
	cr_expect_str_eq(listening("z1"), "");
	fx_mkdirs("run/vc/firecracker/z1/root");
	pump();
	cr_expect_str_eq(listening("z1"), "run/vc/firecracker/z1/root/kata.hvsock_10240");
	fx_mkdirs("run/kata/firecracker/w1/root");
	pump();
	cr_expect_str_eq(listening("w1"), "run/kata/firecracker/w1/root/kata.hvsock_10240");
	cr_expect_eq(count(KT_DISC_SANDBOX_UP, "firecracker"), 0);
	fx_mksock("run/vc/vm/x1/console.sock"); /* other files change nothing */
	pump();
	cr_expect_eq(count(KT_DISC_SANDBOX_UPDATE, "x1"), 1);
	cr_expect_eq(kt_discovery_count(d), 4);
}

Test(discovery, qemu_marker_withdraws_the_candidates)
{
	start();
	fx_mkdirs("run/vc/vm/q1");
	pump();
	cr_expect_str_eq(listening("q1"), "run/vc/vm/q1/clh.sock_10240");
	fx_mksock("run/vc/vm/q1/qmp.sock");
	pump();
	cr_expect_str_eq(listening("q1"), "");
	cr_expect_str_eq(meta_of("q1")->hypervisor, "qemu");
	cr_expect(meta_of("q1")->flags & KT_META_VSOCK);
	/* the decision holds */
	fx_mksock("run/vc/vm/q1/clh.sock");
	pump();
	cr_expect_str_eq(listening("q1"), "");
	/* the pid file alone is a marker too */
	fx_mkdirs("run/vc/vm/q2");
	pump();
	FX_PUT_STR("run/vc/vm/q2/pid", "31337\n");
	pump();
	cr_expect_str_eq(listening("q2"), "");
	cr_expect_eq(meta_of("q2")->hypervisor_pid, 31337u);
	/* StratoVirt's QMP socket */
	fx_mkdirs("run/vc/vm/sv");
	pump();
	fx_mksock("run/vc/vm/sv/qmp.socket");
	pump();
	cr_expect_str_eq(listening("sv"), "");
	cr_expect_str_eq(meta_of("sv")->hypervisor, "stratovirt");
}

Test(discovery, persist_json_written_late)
{
	start();
	fx_mkdirs("run/vc/vm/p1");
	fx_mkdirs("run/vc/sbs/p1");
	pump();
	cr_expect_eq(count(KT_DISC_SANDBOX_UP, "p1"), 1);
	cr_expect_str_eq(listening("p1"), "run/vc/vm/p1/clh.sock_10240");
	clear();
	FX_PUT_STR("run/vc/sbs/p1/persist.json", "{\"HypervisorState\":{\"Pid\":1234,\"Type\":\"qemu\"},"
					      "\"AgentState\":{\"URL\":\"vsock://4000:1024\"}}");
	pump();
	cr_expect_eq(count(KT_DISC_SANDBOX_UPDATE, "p1"), 1);
	const struct kt_sandbox_meta *m = meta_of("p1");
	cr_expect_eq(m->guest_cid, 4000u);
	cr_expect_eq(m->hypervisor_pid, 1234u);
	cr_expect_str_eq(m->hypervisor, "qemu");
	cr_expect_eq(m->flags, KT_META_HAVE_PERSIST | KT_META_VSOCK);
	cr_expect_str_eq(listening("p1"), "");
	cr_expect_eq(count(KT_DISC_UNLISTEN, "p1"), 1);

	/* the agent URL resolves an ambiguity across directories */
	fx_mkdirs("run/vc/vm/p2");
	fx_mkdirs("run/vc/firecracker/p2/root");
	pump();
	cr_expect_str_eq(listening("p2"), "run/vc/firecracker/p2/root/kata.hvsock_10240 run/vc/vm/p2/clh.sock_10240");
	FX_PUT_STR("run/vc/sbs/p2/persist.json",
		"{\"HypervisorState\":{\"Pid\":77,\"Type\":\"firecracker\"},"
		"\"AgentState\":{\"URL\":\"hvsock:///run/vc/firecracker/p2/root/kata.hvsock:1024\"}}");
	pump();
	cr_expect_str_eq(listening("p2"), "run/vc/firecracker/p2/root/kata.hvsock_10240");
	cr_expect_str_eq(meta_of("p2")->hvsock_path, fx_at("run/vc/firecracker/p2/root/kata.hvsock"));

	/* runtime-rs with QEMU: its state.json names the hypervisor */
	fx_mkdirs("run/kata/rq");
	pump();
	cr_expect_str_eq(listening("rq"), "run/kata/rq/ch-vm.sock_10240 run/kata/rq/kata.hvsock_10240");
	FX_PUT_STR("run/kata/rq/state.json", "{\"sandbox_type\":\"virt_container\","
					    "\"hypervisor\":{\"hypervisor_type\":\"qemu\",\"pid\":9}}");
	pump();
	cr_expect_str_eq(listening("rq"), "");
	cr_expect_eq(meta_of("rq")->hypervisor_pid, 9u);
	cr_expect_str_eq(meta_of("rq")->runtime, "rs");

	/* a rewrite that changes nothing reports nothing */
	clear();
	FX_PUT_STR("run/kata/rq/state.json", "{\"sandbox_type\":\"virt_container\","
					    "\"hypervisor\":{\"hypervisor_type\":\"qemu\",\"pid\":9}}");
	pump();
	cr_expect_eq(since(), 0);
}

/* ------------------------------------------------------------ bundles */

#define CTRD "run/containerd/io.containerd.runtime.v2.task/k8s.io/"
#define CRIO "run/containers/storage/overlay-containers/"

static void containerd_container(const char *cid, const char *sandbox, const char *name)
{
	char rel[256], json[1024];
	snprintf(rel, sizeof(rel), CTRD "%s/config.json", cid);
	snprintf(json, sizeof(json),
		 "{\"annotations\":{\"io.kubernetes.cri.container-type\":\"container\","
		 "\"io.kubernetes.cri.sandbox-id\":\"%s\",\"io.kubernetes.cri.container-name\":\"%s\","
		 "\"io.kubernetes.cri.sandbox-name\":\"web-0\",\"io.kubernetes.cri.sandbox-namespace\":\"prod\"}}",
		 sandbox, name);
	FX_PUT_STR(rel, json);
}

Test(discovery, bundles_give_pod_and_containers)
{
	const uint64_t s = 1000000000ull;
	FX_PUT_STR(CTRD "cd1/config.json", "{\"annotations\":{\"io.kubernetes.cri.container-type\":\"sandbox\","
					"\"io.kubernetes.cri.sandbox-id\":\"cd1\","
					"\"io.kubernetes.cri.sandbox-name\":\"web-0\","
					"\"io.kubernetes.cri.sandbox-namespace\":\"prod\","
					"\"io.kubernetes.cri.sandbox-uid\":\"11111111-2222-4333-8444-555555555555\"}}");
	containerd_container("app1", "cd1", "app");
	FX_PUT_STR(CRIO "co1/userdata/config.json", "{\"annotations\":{\"io.kubernetes.cri-o.ContainerType\":\"sandbox\","
						 "\"io.kubernetes.cri-o.SandboxID\":\"co1\","
						 "\"io.kubernetes.pod.name\":\"db-1\","
						 "\"io.kubernetes.pod.namespace\":\"data\","
						 "\"io.kubernetes.pod.uid\":\"uid-1\","
						 "\"io.kubernetes.container.name\":\"POD\"}}");
	FX_PUT_STR(CRIO "pg1/userdata/config.json",
		"{\"annotations\":{\"io.kubernetes.cri-o.ContainerType\":\"container\","
		"\"io.kubernetes.cri-o.SandboxID\":\"co1\","
		"\"io.kubernetes.cri-o.Labels\":\"{\\\"io.kubernetes.container.name\\\":\\\"pg\\\"}\"}}");
	start();
	cr_expect_eq(kt_discovery_tick(d, 1 * s), KT_DISC_DEFAULT_RESCAN_MS * 1000000ull);

	/* the sandbox directory appears after its bundles: the UP has them */
	fx_mkdirs("run/vc/vm/cd1");
	fx_mkdirs("run/kata/co1");
	pump();
	const struct kt_sandbox_meta *m = meta_of("cd1");
	cr_expect_eq(last(KT_DISC_SANDBOX_UP, "cd1")->type, KT_DISC_SANDBOX_UP);
	cr_expect_str_eq(m->pod_name, "web-0");
	cr_expect_str_eq(m->pod_namespace, "prod");
	cr_expect_str_eq(m->pod_uid, "11111111-2222-4333-8444-555555555555");
	cr_expect_str_eq(m->container_names, "app");
	cr_expect_eq(m->flags & (KT_META_HAVE_BUNDLE | KT_META_HAVE_CONTAINERS),
		     KT_META_HAVE_BUNDLE | KT_META_HAVE_CONTAINERS);
	m = meta_of("co1");
	cr_expect_eq(count(KT_DISC_SANDBOX_UPDATE, "co1"), 0);
	cr_expect_str_eq(m->pod_name, "db-1");
	cr_expect_str_eq(m->pod_namespace, "data");
	cr_expect_str_eq(m->pod_uid, "uid-1");
	cr_expect_str_eq(m->container_names, "pg");

	/* containers come and go: seen at the next rescan, reported once */
	containerd_container("side1", "cd1", "sidecar");
	clear();
	cr_expect_eq(kt_discovery_tick(d, 2 * s), 1 * s, "not due yet");
	cr_expect_eq(since(), 0);
	kt_discovery_tick(d, 3 * s);
	cr_expect_eq(count(KT_DISC_SANDBOX_UPDATE, "cd1"), 1);
	cr_expect_str_eq(meta_of("cd1")->container_names, "app,sidecar");
	cr_expect_eq(count(KT_DISC_SANDBOX_UPDATE, "co1"), 0);
	kt_discovery_tick(d, 5 * s);
	cr_expect_eq(count(KT_DISC_SANDBOX_UPDATE, "cd1"), 1, "nothing changed");
	fx_rmrf(CTRD "app1");
	kt_discovery_tick(d, 7 * s);
	cr_expect_eq(count(KT_DISC_SANDBOX_UPDATE, "cd1"), 2);
	cr_expect_str_eq(meta_of("cd1")->container_names, "sidecar");
	cr_expect_str_eq(meta_of("cd1")->pod_name, "web-0");
}

/* ------------------------------------------------------------ removal */

Test(discovery, removal_withdraws_then_downs)
{
	start();
	fx_mksock("run/vc/vm/r1/clh.sock");
	fx_mkdirs("run/vc/sbs/r1");
	fx_mkdirs("run/kata/r2/root");
	pump();
	cr_expect_str_eq(listening("r1"), "run/vc/vm/r1/clh.sock_10240");
	clear();
	/* the socket goes first (the VM stopped): its listener goes with it */
	unlink(fx_at("run/vc/vm/r1/clh.sock"));
	pump();
	cr_expect_str_eq(listening("r1"), "");
	cr_expect_eq(count(KT_DISC_UNLISTEN, "r1"), 1);
	fx_rmrf("run/vc/vm/r1");
	pump();
	cr_expect_eq(count(KT_DISC_SANDBOX_DOWN, "r1"), 0, "persist directory still there");
	fx_rmrf("run/vc/sbs/r1");
	pump();
	cr_expect_eq(count(KT_DISC_SANDBOX_DOWN, "r1"), 1);
	cr_expect_str_eq(last(KT_DISC_SANDBOX_DOWN, "r1")->meta.hypervisor, "cloud-hypervisor");

	clear();
	fx_rmrf("run/kata/r2");
	pump();
	cr_expect_eq(count(KT_DISC_UNLISTEN, "r2"), 3);
	cr_expect_eq(count(KT_DISC_SANDBOX_DOWN, "r2"), 1);
	cr_expect_eq(rec.ev[rec.n - 1].type, KT_DISC_SANDBOX_DOWN, "DOWN after the UNLISTENs");
	cr_expect_eq(kt_discovery_count(d), 0);

	/* the same id again is a new sandbox */
	fx_mkdirs("run/kata/r2");
	pump();
	cr_expect_eq(count(KT_DISC_SANDBOX_UP, "r2"), 1);
}

Test(discovery, two_hundred_sandboxes)
{
	char rel[128];
	start();
	for (int i = 0; i < 200; i++) {
		if (i % 2) {
			snprintf(rel, sizeof(rel), "run/vc/vm/sb-%03d/clh.sock", i);
			fx_mksock(rel);
		} else {
			snprintf(rel, sizeof(rel), "run/kata/sb-%03d/root", i);
			fx_mkdirs(rel);
		}
	}
	pump();
	cr_expect_eq(count(KT_DISC_SANDBOX_UP, NULL), 200);
	cr_expect_eq(kt_discovery_count(d), 200);
	cr_expect_eq(count(KT_DISC_LISTEN, NULL), 100 + 100 * 3);
	/* half removed one by one, the rest with their parent directories */
	for (int i = 0; i < 100; i++) {
		snprintf(rel, sizeof(rel), i % 2 ? "run/vc/vm/sb-%03d" : "run/kata/sb-%03d", i);
		fx_rmrf(rel);
	}
	pump();
	cr_expect_eq(count(KT_DISC_SANDBOX_DOWN, NULL), 100);
	fx_rmrf("run/vc");
	fx_rmrf("run/kata");
	pump();
	cr_expect_eq(count(KT_DISC_SANDBOX_DOWN, NULL), 200);
	cr_expect_eq(count(KT_DISC_UNLISTEN, NULL), count(KT_DISC_LISTEN, NULL));
	cr_expect_eq(kt_discovery_count(d), 0);
	/* and the directories come back */
	fx_mkdirs("run/vc/vm/again");
	pump();
	cr_expect_eq(count(KT_DISC_SANDBOX_UP, "again"), 1);
}

Test(discovery, queue_overflow_rescans)
{
	char rel[128];
	start();
	fx_mkdirs("run/vc/vm/busy");
	pump();
	/* more events than fs.inotify.max_queued_events (16384 by default) */
	FILE *f = fopen("/proc/sys/fs/inotify/max_queued_events", "r");
	int max = 16384;
	if (f) {
		cr_assert_eq(fscanf(f, "%d", &max), 1);
		fclose(f);
	}
	cr_assert_leq(max, 1 << 20, "test needs a small inotify queue");
	for (int i = 0; i < 50; i++) {
		snprintf(rel, sizeof(rel), "run/kata/ov-%02d", i);
		fx_mkdirs(rel);
	}
	for (int i = 0; i < max + 100; i++) {
		snprintf(rel, sizeof(rel), "run/vc/vm/busy/f%d", i);
		int fd = open(fx_at(rel), O_CREAT | O_WRONLY, 0600);
		cr_assert_geq(fd, 0);
		close(fd);
	}
	pump();
	cr_expect_eq(count(KT_DISC_SANDBOX_UP, NULL), 51);
	cr_expect_eq(count(KT_DISC_SANDBOX_UP, "busy"), 1);
	/* what was lost is found again, and only differences are reported */
	clear();
	kt_discovery_rescan(d);
	cr_expect_eq(since(), 0);
	fx_mkdirs("run/kata/late");
	kt_discovery_rescan(d); /* before the inotify events are read */
	cr_expect_eq(count(KT_DISC_SANDBOX_UP, "late"), 1);
	pump();
	cr_expect_eq(count(KT_DISC_SANDBOX_UP, "late"), 1);
	cr_expect_eq(count(KT_DISC_LISTEN, "late"), 2);
}

/* ------------------------------------------------------------ options */

Test(discovery, ports_and_custom_templates)
{
	const char *tp[] = { "cloud-hypervisor=/srv/vms/{ID}/sock/api.sock", "any=/srv/state/{ID}/ready" };
	const char *none[] = { NULL };
	uint32_t ports[] = { 10240, 10241 };
	struct kt_discovery_config cfg = {
		.templates = tp, .ntemplates = 2, .ports = ports, .nports = 2,
		.bundle_patterns = none, .nbundle_patterns = 0,
	};
	start_cfg(&cfg);
	fx_mkdirs("srv/vms/c1");
	pump();
	cr_expect_eq(count(KT_DISC_SANDBOX_UP, "c1"), 1);
	cr_expect_str_eq(listening("c1"), "");
	cr_expect_str_eq(meta_of("c1")->runtime, "");
	fx_mkdirs("srv/vms/c1/sock");
	pump();
	cr_expect_str_eq(listening("c1"), "srv/vms/c1/sock/api.sock_10240 srv/vms/c1/sock/api.sock_10241");
	fx_mkdirs("srv/state/c2");
	pump();
	cr_expect_eq(count(KT_DISC_SANDBOX_UP, "c2"), 1);
	cr_expect_str_eq(listening("c2"), "");
	/* the default layout is not watched with these templates */
	fx_mkdirs("run/vc/vm/nope");
	pump();
	cr_expect_eq(count(KT_DISC_SANDBOX_UP, "nope"), 0);
}

Test(discovery, listener_path_too_long)
{
	char tp0[300], id[KT_SANDBOX_ID_MAX + 1], rel[512];
	memset(id, 'i', KT_SANDBOX_ID_MAX);
	id[KT_SANDBOX_ID_MAX] = '\0';
	snprintf(tp0, sizeof(tp0), "cloud-hypervisor=/%0100d/{ID}/clh.sock", 0);
	const char *tp[] = { tp0 };
	struct kt_discovery_config cfg = { .templates = tp, .ntemplates = 1 };
	start_cfg(&cfg);
	snprintf(rel, sizeof(rel), "%0100d/%s", 0, id);
	fx_mkdirs(rel);
	pump();
	cr_expect_eq(count(KT_DISC_SANDBOX_UP, id), 1);
	cr_expect_eq(count(KT_DISC_LISTEN, NULL), 0);
	snprintf(rel, sizeof(rel), "%0100d/short", 0);
	fx_mkdirs(rel);
	pump();
	cr_expect_eq(count(KT_DISC_LISTEN, "short"), 1);
}

/* ------------------------------------------------------------ hostile */

Test(discovery, symlinks_are_not_followed)
{
	fx_mksock("outside/vm/clh.sock");
	fx_mksock("outside/kata/ev2/ch-vm.sock");
	fx_mkdirs("run/vc/vm");
	symlink(fx_at("outside/vm"), fx_at("run/vc/vm/evil"));
	symlink("../outside/kata", fx_at("run/kata"));
	fx_mkdirs("run/vc/vm/l1");
	symlink(fx_at("outside/vm/clh.sock"), fx_at("run/vc/vm/l1/clh.sock"));
	fx_mkdirs("run/vc/sbs/l1");
	symlink(fx_at("outside/persist.json"), fx_at("run/vc/sbs/l1/persist.json"));
	FX_PUT_STR("outside/persist.json", "{\"HypervisorState\":{\"Pid\":666}}");
	start();
	cr_expect_eq(count(KT_DISC_SANDBOX_UP, "evil"), 0);
	cr_expect_eq(count(KT_DISC_SANDBOX_UP, "ev2"), 0);
	cr_expect_eq(count(KT_DISC_SANDBOX_UP, "l1"), 1);
	cr_expect_str_eq(meta_of("l1")->hypervisor, "", "a linked socket resolves nothing");
	cr_expect_eq(meta_of("l1")->hypervisor_pid, 0, "a linked persist.json is not read");
	cr_expect_str_eq(listening("l1"), "run/vc/vm/l1/clh.sock_10240");
	/* created later, too */
	symlink(fx_at("outside/vm"), fx_at("run/vc/vm/evil2"));
	pump();
	cr_expect_eq(count(KT_DISC_SANDBOX_UP, "evil2"), 0);
	cr_expect_eq(kt_discovery_count(d), 1);
}

Test(discovery, hostile_files_and_names)
{
	char rel[400];
	start();
	/* implausible ids */
	fx_mkdirs("run/vc/vm/bad id");
	fx_mkdirs("run/vc/vm/semi;colon");
	memset(rel, 'x', sizeof(rel));
	memcpy(rel, "run/vc/vm/", 10);
	rel[10 + KT_SANDBOX_ID_MAX + 1] = '\0';
	fx_mkdirs(rel);
	FX_PUT_STR("run/vc/vm/plainfile", "x");
	pump();
	cr_expect_eq(count(KT_DISC_SANDBOX_UP, NULL), 0);

	/* huge, malformed, deep and blocking persist.json files, a bogus pid file */
	fx_mkdirs("run/vc/sbs/h1");
	fx_mkdirs("run/vc/sbs/h2");
	fx_mkdirs("run/vc/sbs/h3");
	fx_mkdirs("run/vc/sbs/h4");
	fx_mkdirs("run/vc/vm/h5");
	pump();
	size_t big = KT_META_PERSIST_MAX + 10;
	char *buf = malloc(big);
	cr_assert_not_null(buf);
	memset(buf, ' ', big);
	memcpy(buf, "{\"HypervisorState\":{\"Pid\":1}}", 29);
	fx_put("run/vc/sbs/h1/persist.json", buf, big);
	free(buf);
	FX_PUT_STR("run/vc/sbs/h2/persist.json", "{\"HypervisorState\":{\"Pid\":2},");
	buf = malloc(200001);
	cr_assert_not_null(buf);
	memset(buf, '[', 200000);
	buf[200000] = '\0';
	fx_put("run/vc/sbs/h3/persist.json", buf, 200000);
	free(buf);
	cr_assert_eq(mkfifo(fx_at("run/vc/sbs/h4/persist.json"), 0600), 0);
	FX_PUT_STR("run/vc/vm/h5/pid", "-1\n");
	pump();
	kt_discovery_tick(d, 1);
	cr_expect_eq(count(KT_DISC_SANDBOX_UP, NULL), 5);
	for (unsigned i = 1; i <= 5; i++) {
		char id[16];
		snprintf(id, sizeof(id), "h%u", i);
		cr_expect_eq(meta_of(id)->hypervisor_pid, 0, "%s", id);
		cr_expect_eq(meta_of(id)->flags & (KT_META_HAVE_PERSIST | KT_META_HAVE_PIDFILE), 0, "%s", id);
	}
	/* the pid file shows QEMU even when its content is no pid */
	cr_expect_str_eq(meta_of("h5")->hypervisor, "qemu");
	cr_expect_str_eq(listening("h5"), "");
	/* a bundle tree full of junk */
	clear();
	FX_PUT_STR(CTRD "j1/config.json", "not json");
	fx_mkdirs(CTRD "j2/config.json");
	symlink("/etc/passwd", fx_at(CTRD "j3"));
	cr_assert_eq(mkfifo(fx_at(CTRD "j4"), 0600), 0);
	fx_mkdirs(CTRD "j5");
	cr_assert_eq(mkfifo(fx_at(CTRD "j5/config.json"), 0600), 0);
	kt_discovery_tick(d, 10ull * 1000000000ull);
	cr_expect_eq(since(), 0);
}
