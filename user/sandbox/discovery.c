/* SPDX-License-Identifier: Apache-2.0 */
#include "sandbox/discovery.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "base/diag.h"
#include "base/safe_open.h"
#include "sandbox/hypervisors.h"
#include "sandbox/id_table.h"

#define WATCH_MASK                                                                                  \
	(IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE_SELF |      \
	 IN_MOVE_SELF | IN_ONLYDIR | IN_EXCL_UNLINK)
#define DIR_ENTRIES_MAX 65536u /* entries read from one directory of ids per scan */
#define READS_PER_DISPATCH 64

/* ---------------------------------------------------------------- state */

struct watch {
	struct kt_id_node node; /* by wd */
	int wd;
	char rel[];
};

struct sandbox {
	struct kt_id_node node; /* by id */
	struct sandbox *dirty_next;
	bool dirty, up, std_vsock;
	uint32_t listening;    /* templates with LISTEN reported */
	uint32_t resolved;     /* hybrid templates the sandbox is known to use */
	uint32_t uds_seen;     /* hybrid sockets seen */
	uint32_t unlistenable; /* listener path too long: warned once */
	char hv_known[KT_META_HV];
	char id[KT_SANDBOX_ID_MAX + 1];
	struct kt_meta_files files;
	struct kt_sandbox_meta reported;
};

struct bundle {
	struct kt_id_node by_rel, by_owner;
	uint64_t gen;
	struct kt_file_stamp stamp;
	bool has_owner;
	char owner[KT_SANDBOX_ID_MAX + 1];
	char bundle_id[KT_SANDBOX_ID_MAX + 1];
	struct kt_bundle_info info;
	char rel[];
};

struct kt_discovery {
	kt_disc_cb cb;
	void *ctx;
	char run_root[PATH_MAX];
	int rootfd, ifd;
	struct kt_disc_tmpl tm[KT_DISC_MAX_TEMPLATES];
	size_t ntm;
	uint32_t hybrid_mask;
	char **bp; /* bundle patterns */
	size_t nbp;
	uint32_t ports[KT_DISC_MAX_PORTS];
	size_t nports;
	uint64_t rescan_ns, next_tick, gen;
	struct kt_id_table watches, sandboxes, bundles_by_rel, bundles_by_owner;
	size_t nup;
	struct sandbox *dirty;
	bool rewalk, full, degraded, use_proc;
	bool warned_watch, warned_max, warned_bundles;
	struct kt_disc_event ev;
	char buf[65536] __attribute__((aligned(__alignof__(struct inotify_event))));
};

/* ---------------------------------------------------------------- paths */

/* The hybrid templates of hypervisor hv. */
static uint32_t hv_mask(const struct kt_discovery *d, const char *hv)
{
	uint32_t mask = 0;
	for (size_t i = 0; i < d->ntm; i++)
		if (d->tm[i].t.kind == KT_DISC_HYBRID && strcmp(d->tm[i].t.hypervisor, hv) == 0)
			mask |= 1u << i;
	return mask;
}

/* Is q the directory p or one of its ancestors ("" is the run root)? */
static bool ancestor_or_self(const char *q, const char *p)
{
	size_t ql = strlen(q);
	if (!ql)
		return true;
	return strncmp(p, q, ql) == 0 && (p[ql] == '\0' || p[ql] == '/');
}

/* The part of q below directory p, or NULL. */
static const char *below_dir(const char *q, const char *p)
{
	size_t pl = strlen(p);
	if (!pl)
		return q[0] ? q : NULL;
	return strncmp(q, p, pl) == 0 && q[pl] == '/' && q[pl + 1] ? q + pl + 1 : NULL;
}

/* Is parent/name a fixed directory of some template (so not a sandbox id)? */
static bool reserved(const struct kt_discovery *d, const char *parent, const char *name)
{
	size_t nl = strlen(name);
	for (size_t i = 0; i < d->ntm; i++) {
		const char *rest = below_dir(d->tm[i].parent, parent);
		if (rest && strncmp(rest, name, nl) == 0 && (rest[nl] == '\0' || rest[nl] == '/'))
			return true;
	}
	return false;
}

/* ---------------------------------------------------------------- events */

static void emit(struct kt_discovery *d, uint32_t type, const struct kt_sandbox_meta *m, uint32_t port,
		 const char *path, const char *hv)
{
	memset(&d->ev, 0, sizeof(d->ev));
	d->ev.type = type;
	d->ev.port = port;
	if (path)
		snprintf(d->ev.path, sizeof(d->ev.path), "%s", path);
	if (hv)
		snprintf(d->ev.hypervisor, sizeof(d->ev.hypervisor), "%s", hv);
	d->ev.meta = *m;
	d->cb(&d->ev, d->ctx);
}

/* The listener path <run_root>/<rel>_<port>; false if it does not fit. */
static bool listen_path(const struct kt_discovery *d, const char *rel, uint32_t port, char *out)
{
	int n = snprintf(out, KT_DISC_PATH_MAX, "%s/%s_%u", d->run_root, rel, port);
	return n > 0 && n < KT_DISC_PATH_MAX;
}

/* LISTEN or UNLISTEN for the templates in mask, every port. */
static void listeners(struct kt_discovery *d, struct sandbox *s, uint32_t mask, uint32_t type)
{
	char rel[PATH_MAX], path[KT_DISC_PATH_MAX];
	for (size_t i = 0; i < d->ntm; i++) {
		uint32_t bit = 1u << i;
		if (!(mask & bit))
			continue;
		bool fits = kt_disc_tmpl_rel(&d->tm[i], s->id, KT_DISC_FILE, rel, sizeof(rel)) == 0;
		for (size_t p = 0; fits && p < d->nports; p++)
			fits = listen_path(d, rel, d->ports[p], path);
		if (!fits) {
			s->unlistenable |= bit;
			kt_warn("discovery: sandbox %s: listener path for %s longer than %d bytes; not listening",
				s->id, d->tm[i].t.path, KT_DISC_PATH_MAX - 1);
			continue;
		}
		for (size_t p = 0; p < d->nports && listen_path(d, rel, d->ports[p], path); p++) {
			kt_debug("discovery: %s %s (sandbox %s)", type == KT_DISC_LISTEN ? "listen" : "unlisten", path,
				 s->id);
			emit(d, type, &s->reported, d->ports[p], path, d->tm[i].t.hypervisor);
		}
		if (type == KT_DISC_LISTEN)
			s->listening |= bit;
		else
			s->listening &= ~bit;
	}
}

/* ---------------------------------------------------------------- watches */

static struct watch *watch_find(const struct kt_discovery *d, int wd)
{
	for (struct kt_id_node *n = kt_id_table_chain(&d->watches, (uint64_t)wd); n; n = n->next) {
		struct watch *w = KT_ID_OF(n, struct watch, node);
		if (w->wd == wd)
			return w;
	}
	return NULL;
}

static void watch_del(struct kt_discovery *d, struct watch *w)
{
	kt_id_table_del(&d->watches, &w->node);
	free(w);
}

/* Watches directory fd (rel names it); returns true if it was not watched yet. */
static bool watch_fd(struct kt_discovery *d, int fd, const char *rel)
{
	char path[PATH_MAX + 32];
	int wd;

	if (d->ifd < 0)
		return true; /* no inotify: every rescan treats directories as new */
	if (d->use_proc) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		wd = inotify_add_watch(d->ifd, path, WATCH_MASK);
	} else {
		snprintf(path, sizeof(path), "%s/%s", d->run_root, rel);
		wd = inotify_add_watch(d->ifd, path, WATCH_MASK | IN_DONT_FOLLOW);
	}
	if (wd < 0) {
		if (errno == ENOSPC || errno == ENOMEM) {
			d->degraded = true;
			if (!d->warned_watch)
				kt_warn("discovery: cannot watch %s/%s (%s: raise fs.inotify.max_user_watches); "
					"rescanning every %llu ms instead",
					d->run_root, rel, strerror(errno), (unsigned long long)(d->rescan_ns / 1000000));
			d->warned_watch = true;
		}
		return false;
	}
	struct watch *w = watch_find(d, wd);
	if (w && strcmp(w->rel, rel) == 0)
		return false;
	if (w)
		watch_del(d, w); /* the directory moved: keep its new name */
	size_t rl = strlen(rel);
	w = malloc(sizeof(*w) + rl + 1);
	if (!w)
		return false;
	w->wd = wd;
	memcpy(w->rel, rel, rl + 1);
	kt_id_table_add(&d->watches, &w->node, (uint64_t)wd);
	return true;
}

/* Opens directory rel (no symbolic links) and watches it; returns the O_PATH fd or -1. */
static int open_watched(struct kt_discovery *d, const char *rel, bool *fresh)
{
	int fd = kt_open_beneath(d->rootfd, rel, O_PATH | O_DIRECTORY);
	if (fd >= 0) {
		bool n = watch_fd(d, fd, rel);
		if (fresh)
			*fresh = n;
	}
	return fd;
}

/* ---------------------------------------------------------------- sandboxes */

static struct sandbox *sandbox_find(const struct kt_discovery *d, const char *id)
{
	struct kt_id_node *n = kt_id_table_find_str(&d->sandboxes, id,
				      (ptrdiff_t)offsetof(struct sandbox, id) - (ptrdiff_t)offsetof(struct sandbox, node));
	return n ? KT_ID_OF(n, struct sandbox, node) : NULL;
}

static void make_dirty(struct kt_discovery *d, struct sandbox *s)
{
	if (!s->dirty) {
		s->dirty = true;
		s->dirty_next = d->dirty;
		d->dirty = s;
	}
}

/* Something changed for id: reconcile it at the end of this round. */
static void mark(struct kt_discovery *d, const char *id, bool create)
{
	struct sandbox *s = sandbox_find(d, id);
	if (!s && create) {
		if (d->sandboxes.n >= KT_DISC_MAX_SANDBOXES) {
			if (!d->warned_max)
				kt_warn("discovery: more than %d sandboxes; ignoring new ones", KT_DISC_MAX_SANDBOXES);
			d->warned_max = true;
			return;
		}
		s = calloc(1, sizeof(*s));
		if (!s)
			return;
		memcpy(s->id, id, strlen(id) + 1);
		kt_id_table_add(&d->sandboxes, &s->node, kt_id_hash(id));
	}
	if (s)
		make_dirty(d, s);
}

/* Every plausible id in a directory of ids. */
static void scan_ids(struct kt_discovery *d, const char *parent)
{
	int fd = kt_open_beneath(d->rootfd, parent, O_RDONLY | O_DIRECTORY);
	DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;
	unsigned left = DIR_ENTRIES_MAX;

	if (!dir) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while (left-- && (e = readdir(dir))) {
		if ((e->d_type != DT_DIR && e->d_type != DT_UNKNOWN) ||
		    !kt_sandbox_id_valid(e->d_name, strlen(e->d_name)) || reserved(d, parent, e->d_name))
			continue;
		mark(d, e->d_name, true);
	}
	closedir(dir);
}

/*
 * Watches every existing directory on the way to each template's directory
 * of ids; scans a directory of ids when it is newly watched (or always).
 */
static void rewalk(struct kt_discovery *d, bool always)
{
	for (size_t i = 0; i < d->ntm; i++) {
		const char *parent = d->tm[i].parent;
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = strcmp(d->tm[j].parent, parent) == 0;
		if (seen)
			continue;
		char rel[KT_PATTERN_MAX];
		size_t at = 0;
		for (;;) {
			bool fresh = false;
			memcpy(rel, parent, at);
			rel[at] = '\0';
			int fd = open_watched(d, rel, &fresh);
			if (fd < 0)
				break; /* its creation will show in the parent's watch */
			close(fd);
			if (!parent[at]) {
				if (fresh || always)
					scan_ids(d, parent);
				break;
			}
			at += (at ? 1 : 0);
			at += strcspn(parent + at, "/");
		}
	}
}

/* Applies the cached bundles of sandbox m->id to m. */
static void bundles_apply(const struct kt_discovery *d, struct kt_sandbox_meta *m)
{
	uint64_t h = kt_id_hash(m->id);
	for (struct kt_id_node *n = kt_id_table_chain(&d->bundles_by_owner, h); n; n = n->next) {
		struct bundle *b = KT_ID_OF(n, struct bundle, by_owner);
		if (n->hash == h && strcmp(b->owner, m->id) == 0)
			kt_meta_apply_bundle(m, b->bundle_id, &b->info);
	}
}

static int popcount(uint32_t v)
{
	return __builtin_popcount(v);
}

/* Looks at the sandbox's files now; reports what changed. */
static void reconcile(struct kt_discovery *d, struct sandbox *s)
{
	uint32_t id_dirs = 0, file_dirs = 0, present = 0;
	char rel[PATH_MAX];

	for (size_t i = 0; i < d->ntm; i++) {
		const struct kt_disc_tmpl *m = &d->tm[i];
		if (kt_disc_tmpl_rel(m, s->id, KT_DISC_ID_DIR, rel, sizeof(rel)) != 0)
			continue;
		int fd = open_watched(d, rel, NULL);
		if (fd < 0)
			continue;
		id_dirs |= 1u << i;
		/* the directories between {ID} and the file, each watched */
		size_t rl = strlen(rel);
		for (size_t k = 0; fd >= 0 && k < m->below_dir_len;) {
			size_t n = strcspn(m->below + k, "/");
			if (rl + n + 2 > sizeof(rel)) {
				close(fd);
				fd = -1;
				break;
			}
			rel[rl++] = '/';
			memcpy(rel + rl, m->below + k, n);
			rel[rl += n] = '\0';
			close(fd);
			fd = open_watched(d, rel, NULL);
			k += n + 1;
		}
		if (fd < 0)
			continue;
		file_dirs |= 1u << i;
		struct stat st;
		const char *file = m->below + (m->below_dir_len ? m->below_dir_len + 1 : 0);
		if (fstatat(fd, file, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    (S_ISSOCK(st.st_mode) || (m->t.kind == KT_DISC_MARKER && S_ISREG(st.st_mode))))
			present |= 1u << i;
		close(fd);
	}

	if (!id_dirs) {
		if (s->up) {
			listeners(d, s, s->listening, KT_DISC_UNLISTEN);
			kt_debug("discovery: sandbox %s down", s->id);
			emit(d, KT_DISC_SANDBOX_DOWN, &s->reported, 0, NULL, NULL);
			s->up = false;
			d->nup--;
		}
		return;
	}

	/* what the state files and the pid file say, and the markers */
	kt_meta_files_refresh(&s->files, d->rootfd, d->run_root, s->id, KT_LOG_DEBUG);
	const struct kt_sandbox_meta *fm = &s->files.m;
	if (fm->flags & KT_META_VSOCK)
		s->std_vsock = true;
	if (fm->hypervisor[0]) {
		s->std_vsock |= kt_hv_std_vsock(fm->hypervisor);
		snprintf(s->hv_known, sizeof(s->hv_known), "%s", fm->hypervisor);
	}
	for (size_t i = 0; i < d->ntm; i++) {
		const struct kt_disc_tmpl *m = &d->tm[i];
		if (!(present & (1u << i)) || m->t.kind != KT_DISC_MARKER || !m->t.hypervisor[0])
			continue;
		s->std_vsock |= m->vsock;
		if (!fm->hypervisor[0])
			snprintf(s->hv_known, sizeof(s->hv_known), "%s", m->t.hypervisor);
	}

	/* which hybrid candidate, if any, the sandbox uses */
	uint32_t uds = present & d->hybrid_mask;
	s->uds_seen |= uds;
	s->resolved |= uds;
	for (size_t i = 0; fm->hvsock_path[0] && i < d->ntm; i++) {
		char path[PATH_MAX + 1];
		if ((d->hybrid_mask & (1u << i)) && kt_disc_tmpl_rel(&d->tm[i], s->id, KT_DISC_FILE, rel, sizeof(rel)) == 0 &&
		    (size_t)snprintf(path, sizeof(path), "%s/%s", d->run_root, rel) < sizeof(path) &&
		    strcmp(path, fm->hvsock_path) == 0)
			s->resolved |= 1u << i;
	}
	for (size_t i = 0; !s->hv_known[0] && i < d->ntm; i++)
		if (s->resolved & (1u << i))
			snprintf(s->hv_known, sizeof(s->hv_known), "%s", d->tm[i].t.hypervisor);

	uint32_t want;
	if (s->std_vsock)
		want = 0;
	else if (s->resolved)
		want = s->resolved & file_dirs & ~(s->uds_seen & ~present);
	else if (s->hv_known[0])
		want = d->hybrid_mask & file_dirs & hv_mask(d, s->hv_known);
	else
		want = d->hybrid_mask & file_dirs;

	/* the metadata: files, bundles, then what the layout shows */
	struct kt_sandbox_meta m;
	memset(&m, 0, sizeof(m));
	memcpy(m.id, s->id, sizeof(m.id));
	kt_meta_merge(&m, fm);
	bundles_apply(d, &m);
	if (!m.hypervisor[0])
		snprintf(m.hypervisor, sizeof(m.hypervisor), "%s", s->hv_known);
	for (size_t i = 0; !m.runtime[0] && i < d->ntm; i++)
		if (id_dirs & (1u << i))
			snprintf(m.runtime, sizeof(m.runtime), "%s", d->tm[i].runtime);
	if (s->std_vsock) {
		m.flags |= KT_META_VSOCK;
	} else if (popcount(s->resolved) == 1) {
		m.flags |= KT_META_HYBRID_VSOCK;
		for (size_t i = 0; !m.hvsock_path[0] && i < d->ntm; i++) {
			if (!(s->resolved & (1u << i)) || kt_disc_tmpl_rel(&d->tm[i], s->id, KT_DISC_FILE, rel, sizeof(rel)) != 0)
				continue;
			/* a path that does not fit is left out, not cut */
			if ((size_t)snprintf(m.hvsock_path, sizeof(m.hvsock_path), "%s/%s", d->run_root, rel) >=
			    sizeof(m.hvsock_path))
				memset(m.hvsock_path, 0, sizeof(m.hvsock_path));
		}
	}

	if (!s->up) {
		s->up = true;
		d->nup++;
		s->reported = m;
		kt_debug("discovery: sandbox %s up", s->id);
		emit(d, KT_DISC_SANDBOX_UP, &m, 0, NULL, NULL);
	} else if (memcmp(&m, &s->reported, sizeof(m)) != 0) {
		s->reported = m;
		emit(d, KT_DISC_SANDBOX_UPDATE, &m, 0, NULL, NULL);
	}
	listeners(d, s, s->listening & ~want, KT_DISC_UNLISTEN);
	listeners(d, s, want & ~s->listening & ~s->unlistenable, KT_DISC_LISTEN);
}

/* ---------------------------------------------------------------- bundles */

static void mark_up(struct kt_discovery *d, const char *id)
{
	struct sandbox *s = sandbox_find(d, id);
	if (s && s->up)
		make_dirty(d, s);
}

static void bundle_unlink_owner(struct kt_discovery *d, struct bundle *b)
{
	if (b->has_owner) {
		mark_up(d, b->owner);
		kt_id_table_del(&d->bundles_by_owner, &b->by_owner);
		b->has_owner = false;
	}
}

static struct bundle *bundle_find(const struct kt_discovery *d, const char *rel)
{
	struct kt_id_node *n = kt_id_table_find_str(&d->bundles_by_rel, rel,
				      (ptrdiff_t)offsetof(struct bundle, rel) - (ptrdiff_t)offsetof(struct bundle, by_rel));
	return n ? KT_ID_OF(n, struct bundle, by_rel) : NULL;
}

static void bundle_seen(void *ctx, const char *bundle_id, int dirfd, const char *name, const char *rel,
			const struct stat *st)
{
	struct kt_discovery *d = ctx;
	struct kt_file_stamp stamp;
	struct bundle *b = bundle_find(d, rel);
	char shown[PATH_MAX + 8];

	kt_file_stamp_of(st, &stamp);
	if (b && memcmp(&b->stamp, &stamp, sizeof(stamp)) == 0) {
		b->gen = d->gen;
		return; /* unchanged */
	}
	if (!b) {
		size_t rl = strlen(rel);
		b = calloc(1, sizeof(*b) + rl + 1);
		if (!b)
			return;
		memcpy(b->rel, rel, rl + 1);
		kt_id_table_add(&d->bundles_by_rel, &b->by_rel, kt_id_hash(rel));
	}
	bundle_unlink_owner(d, b);
	b->stamp = stamp;
	b->gen = d->gen;
	snprintf(b->bundle_id, sizeof(b->bundle_id), "%s", bundle_id);
	snprintf(shown, sizeof(shown), "%s/%s", d->run_root, rel);
	bool own;
	const char *owner;
	/* a malformed file is remembered (by its stamp) but belongs to nobody */
	if (kt_bundle_read(dirfd, name, shown, &b->info, KT_LOG_DEBUG) == 0 &&
	    (owner = kt_bundle_owner(b->bundle_id, &b->info, &own))) {
		snprintf(b->owner, sizeof(b->owner), "%s", owner);
		b->has_owner = true;
		kt_id_table_add(&d->bundles_by_owner, &b->by_owner, kt_id_hash(b->owner));
		mark_up(d, b->owner);
	}
}

static void bundle_drop_stale(struct kt_id_node *n, void *arg)
{
	struct kt_discovery *d = arg;
	struct bundle *b = KT_ID_OF(n, struct bundle, by_rel);
	if (b->gen == d->gen)
		return;
	bundle_unlink_owner(d, b);
	kt_id_table_del(&d->bundles_by_rel, &b->by_rel);
	free(b);
}

/* Every bundle: new and changed ones read, gone ones forgotten. */
static void bundles_rescan(struct kt_discovery *d)
{
	size_t budget = KT_META_BUNDLES_MAX;
	if (!d->nbp)
		return;
	d->gen++;
	kt_bundle_walk(d->rootfd, (const char *const *)d->bp, d->nbp, NULL, &budget, bundle_seen, d);
	if (!budget && !d->warned_bundles) {
		kt_warn("discovery: more than %d OCI bundles; the rest are not read", KT_META_BUNDLES_MAX);
		d->warned_bundles = true;
	}
	kt_id_table_each(&d->bundles_by_rel, bundle_drop_stale, d);
}

/* ---------------------------------------------------------------- rounds */

static void dirty_all(struct kt_id_node *n, void *arg)
{
	make_dirty(arg, KT_ID_OF(n, struct sandbox, node));
}

static void full_rescan(struct kt_discovery *d)
{
	rewalk(d, true);
	kt_id_table_each(&d->sandboxes, dirty_all, d);
	bundles_rescan(d);
}

/* Reconciles every sandbox marked in this round. */
static void finish(struct kt_discovery *d)
{
	if (d->full) {
		d->full = d->rewalk = false;
		full_rescan(d);
	} else if (d->rewalk) {
		d->rewalk = false;
		rewalk(d, false);
	}
	/*
	 * A sandbox seen for the first time: its bundles now, not at the next
	 * tick — its own and its containers' (those carry other ids), so every
	 * bundle directory is listed; only new or changed config.json are read.
	 */
	for (struct sandbox *s = d->dirty; d->nbp && s; s = s->dirty_next) {
		if (!s->up) {
			bundles_rescan(d);
			break;
		}
	}
	struct sandbox *s;
	while ((s = d->dirty)) {
		d->dirty = s->dirty_next;
		s->dirty = false;
		reconcile(d, s);
		if (!s->up) {
			kt_id_table_del(&d->sandboxes, &s->node);
			free(s);
		}
	}
}

/* What a change at q (relative to the run root) can affect. */
static void classify(struct kt_discovery *d, const char *q, uint32_t mask)
{
	for (size_t i = 0; i < d->ntm; i++) {
		const char *parent = d->tm[i].parent;
		if (ancestor_or_self(q, parent)) {
			/* on the way to a directory of ids */
			if (mask & (IN_DELETE | IN_MOVED_FROM | IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED))
				d->full = true; /* what was below may be gone without events */
			else
				d->rewalk = true;
			continue;
		}
		const char *rest = below_dir(q, parent);
		if (!rest)
			continue;
		char id[KT_SANDBOX_ID_MAX + 1];
		size_t n = strcspn(rest, "/");
		if (!kt_sandbox_id_valid(rest, n))
			continue;
		memcpy(id, rest, n);
		id[n] = '\0';
		if (!reserved(d, parent, id))
			mark(d, id, true);
	}
}

static void handle_event(struct kt_discovery *d, const struct inotify_event *ev)
{
	char q[PATH_MAX];

	if (ev->mask & IN_Q_OVERFLOW) {
		kt_debug("discovery: inotify queue overflow; rescanning");
		d->full = true;
		return;
	}
	struct watch *w = watch_find(d, ev->wd);
	if (!w)
		return;
	if (ev->mask & (IN_IGNORED | IN_MOVE_SELF)) {
		/* the directory itself is gone or moved */
		classify(d, w->rel, ev->mask);
		if (ev->mask & IN_MOVE_SELF) {
			/* its watch has the old name: drop it, and watch again what is where */
			inotify_rm_watch(d->ifd, w->wd);
			d->full = true;
		}
		watch_del(d, w);
		return;
	}
	if (!ev->len || !ev->name[0])
		return;
	if ((size_t)snprintf(q, sizeof(q), "%s%s%s", w->rel, w->rel[0] ? "/" : "", ev->name) >= sizeof(q))
		return;
	classify(d, q, ev->mask);
}

int kt_discovery_dispatch(struct kt_discovery *d)
{
	int events = 0;
	if (d->ifd < 0)
		return 0;
	for (int round = 0; round < READS_PER_DISPATCH; round++) {
		ssize_t n = read(d->ifd, d->buf, sizeof(d->buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		for (char *p = d->buf; p + sizeof(struct inotify_event) <= d->buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)(void *)p;
			handle_event(d, ev);
			events++;
			p += sizeof(*ev) + ev->len;
		}
	}
	finish(d);
	return events;
}

void kt_discovery_scan(struct kt_discovery *d)
{
	full_rescan(d);
	finish(d);
}

void kt_discovery_rescan(struct kt_discovery *d)
{
	kt_discovery_scan(d);
}

uint64_t kt_discovery_tick(struct kt_discovery *d, uint64_t now_ns)
{
	if (d->next_tick && now_ns < d->next_tick)
		return d->next_tick - now_ns;
	d->next_tick = now_ns + d->rescan_ns;
	if (d->degraded)
		full_rescan(d);
	else
		bundles_rescan(d);
	finish(d);
	return d->rescan_ns;
}

int kt_discovery_fd(const struct kt_discovery *d)
{
	return d->ifd;
}

size_t kt_discovery_count(const struct kt_discovery *d)
{
	return d->nup;
}

/* ---------------------------------------------------------------- life */

static void free_node(struct kt_id_node *n, void *off)
{
	free((char *)n - (size_t)(uintptr_t)off);
}

void kt_discovery_free(struct kt_discovery *d)
{
	if (!d)
		return;
	if (d->watches.b)
		kt_id_table_each(&d->watches, free_node, (void *)(uintptr_t)offsetof(struct watch, node));
	if (d->sandboxes.b)
		kt_id_table_each(&d->sandboxes, free_node, (void *)(uintptr_t)offsetof(struct sandbox, node));
	if (d->bundles_by_rel.b)
		kt_id_table_each(&d->bundles_by_rel, free_node, (void *)(uintptr_t)offsetof(struct bundle, by_rel));
	kt_id_table_free(&d->watches);
	kt_id_table_free(&d->sandboxes);
	kt_id_table_free(&d->bundles_by_rel);
	kt_id_table_free(&d->bundles_by_owner);
	for (size_t i = 0; i < d->nbp; i++)
		free(d->bp[i]);
	free(d->bp);
	if (d->ifd >= 0)
		close(d->ifd);
	if (d->rootfd >= 0)
		close(d->rootfd);
	free(d);
}

static int configure(struct kt_discovery *d, const struct kt_discovery_config *cfg, char *err, size_t errlen)
{
	/* the defaults: Kata's layouts (sandbox/hypervisors.h) */
	size_t nt = cfg->templates ? cfg->ntemplates : kt_n_hv_layouts;
	const char *const *bp = cfg->bundle_patterns ? cfg->bundle_patterns : kt_bundle_default_patterns;
	size_t nb = cfg->bundle_patterns ? cfg->nbundle_patterns : kt_bundle_default_npatterns;
	const char *root = cfg->run_root ? cfg->run_root : "";

	if (nt == 0 || nt > KT_DISC_MAX_TEMPLATES) {
		snprintf(err, errlen, "between 1 and %d templates, not %zu", KT_DISC_MAX_TEMPLATES, nt);
		return -1;
	}
	for (size_t i = 0; i < nt; i++) {
		struct kt_disc_template t;
		if ((cfg->templates ? kt_disc_template_parse(cfg->templates[i], &t, err, errlen)
				    : kt_disc_template_of_layout(&kt_hv_layouts[i], &t, err, errlen)) != 0)
			return -1;
		kt_disc_tmpl_init(&d->tm[i], &t);
		if (t.kind == KT_DISC_HYBRID)
			d->hybrid_mask |= 1u << i;
	}
	d->ntm = nt;
	d->bp = calloc(nb ? nb : 1, sizeof(*d->bp));
	if (!d->bp) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < nb; i++) {
		if (kt_bundle_pattern_check(bp[i], err, errlen) != 0)
			return -1;
		if (!(d->bp[d->nbp++] = strdup(bp[i]))) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	}
	if (cfg->ports && cfg->nports) {
		if (cfg->nports > KT_DISC_MAX_PORTS) {
			snprintf(err, errlen, "at most %d ports", KT_DISC_MAX_PORTS);
			return -1;
		}
		for (size_t i = 0; i < cfg->nports; i++) {
			if (cfg->ports[i] == 0 || cfg->ports[i] == UINT32_MAX) {
				snprintf(err, errlen, "vsock port %u is not a port", cfg->ports[i]);
				return -1;
			}
			d->ports[d->nports++] = cfg->ports[i];
		}
	} else {
		d->ports[d->nports++] = KT_DISC_DEFAULT_PORT;
	}
	d->rescan_ns = (uint64_t)(cfg->rescan_ms ? cfg->rescan_ms : KT_DISC_DEFAULT_RESCAN_MS) * 1000000u;

	size_t rl = strlen(root);
	while (rl && root[rl - 1] == '/')
		rl--;
	if (rl >= sizeof(d->run_root) - 1) {
		snprintf(err, errlen, "run root too long");
		return -1;
	}
	memcpy(d->run_root, root, rl);
	d->run_root[rl] = '\0';
	d->rootfd = open(rl ? d->run_root : "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (d->rootfd < 0) {
		snprintf(err, errlen, "run root '%s': %s", root, strerror(errno));
		return -1;
	}
	return 0;
}

struct kt_discovery *kt_discovery_new(const struct kt_discovery_config *cfg, kt_disc_cb cb, void *ctx,
				      char *err, size_t errlen)
{
	static const struct kt_discovery_config defaults;
	struct kt_discovery *d = calloc(1, sizeof(*d));

	if (!d) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	d->cb = cb;
	d->ctx = ctx;
	d->rootfd = d->ifd = -1;
	if (kt_id_table_init(&d->watches) || kt_id_table_init(&d->sandboxes) || kt_id_table_init(&d->bundles_by_rel) ||
	    kt_id_table_init(&d->bundles_by_owner)) {
		snprintf(err, errlen, "out of memory");
		kt_discovery_free(d);
		return NULL;
	}
	if (!cb || configure(d, cfg ? cfg : &defaults, err, errlen) != 0) {
		if (!cb)
			snprintf(err, errlen, "no callback");
		kt_discovery_free(d);
		return NULL;
	}
	d->use_proc = access("/proc/self/fd", X_OK) == 0;
	d->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (d->ifd < 0) {
		kt_warn("discovery: inotify unavailable (%s); rescanning every %llu ms instead", strerror(errno),
			(unsigned long long)(d->rescan_ns / 1000000));
		d->degraded = true;
	}
	return d;
}
