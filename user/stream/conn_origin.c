/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Who is behind a connection, and the resource its records carry
 * (docs/operations.md, "Resource attributes"): the listener's path names
 * the sandbox (sandbox/sandbox_path.h), a vsock connection's guest CID its
 * owner (sandbox/vsock_owner.h), and discovery's registry the pod.
 */
#include <stdio.h>
#include <string.h>

#include "model/attrs.h"
#include "sandbox/sandbox_registry.h"
#include "sandbox/vsock_owner.h"
#include "stream/conn.h"

bool kt_conn_guest_listens(const struct kt_conn *c)
{
	return c->id.transport == KT_TRANSPORT_VSOCK && (c->id.port & KT_VSOCK_GUEST_LISTENS);
}

void kt_conn_set_label(struct kt_conn *c)
{
	if (kt_conn_guest_listens(c))
		snprintf(c->label, sizeof(c->label), "vsock host port %u->cid %u port %u",
			 (unsigned)(uint32_t)c->id.port, c->vsock_cid, c->vsock_port);
	else if (c->id.transport == KT_TRANSPORT_VSOCK)
		snprintf(c->label, sizeof(c->label), "vsock cid %u port %u->%u", c->vsock_cid,
			 (unsigned)(c->id.endpoint & 0xffffffffu), c->vsock_port);
	else if (c->id.transport == KT_TRANSPORT_UNIX)
		snprintf(c->label, sizeof(c->label), "unix conn %llu (%s)", (unsigned long long)c->id.endpoint,
			 c->path[0] ? c->path : "path unknown");
	else
		snprintf(c->label, sizeof(c->label), "%s %s", c->transport,
			 c->path[0] ? c->path : "-");
}

void kt_conn_set_path(struct kt_conn *c, const char *path, size_t n)
{
	if (n > KT_PATH_MAX)
		n = KT_PATH_MAX;
	memcpy(c->path, path, n);
	c->path[n] = '\0';
	c->have_sandbox = kt_sandbox_from_path(c->path, c->p->cfg.run_root, &c->sandbox);
	kt_conn_set_label(c);
}

static void copy_comm(char *dst, const char *src, size_t n)
{
	if (n > KT_COMM_LEN)
		n = KT_COMM_LEN;
	memcpy(dst, src, n);
	dst[n] = '\0'; /* comm may fill its buffer without a NUL */
}

void kt_conn_set_writer(struct kt_conn *c, uint32_t pid, const char *comm, size_t n)
{
	if (c->pid)
		return;
	c->pid = pid;
	copy_comm(c->comm, comm, n);
}

void kt_conn_writer_from_record(struct kt_conn *c, const struct kt_rec_hdr *h)
{
	if (c->pid || (h->flags & KT_F_TASK_IS_READER))
		return;
	kt_conn_set_writer(c, h->tgid, h->pcomm, sizeof(h->pcomm));
	copy_comm(c->thread, h->comm, sizeof(h->comm));
}

void kt_conn_answerer_from_record(struct kt_conn *c, const struct kt_rec_hdr *h)
{
	/* vsock: the guest's CID names the connection; a shim answers on its own socket */
	if (c->server_writer || kt_conn_guest_listens(c) || (h->flags & KT_F_TASK_IS_READER))
		return;
	c->pid = 0;
	kt_conn_set_writer(c, h->tgid, h->pcomm, sizeof(h->pcomm));
	copy_comm(c->thread, h->comm, sizeof(h->comm));
	c->server_writer = true;
}

static const struct kt_sandbox_entry *registry_entry(const struct kt_conn *c)
{
	const struct kt_sandbox_registry *reg = c->p->cfg.registry;
	if (c->have_sandbox)
		return kt_registry_by_id(reg, c->sandbox.id);
	if (c->id.transport == KT_TRANSPORT_VSOCK)
		return kt_registry_by_cid(reg, c->vsock_cid);
	return NULL;
}

bool kt_conn_sandbox_live(const struct kt_conn *c)
{
	const struct kt_sandbox_entry *e = registry_entry(c);
	return e && !e->gone_ns;
}

/* True when discovery learnt something about this connection's sandbox. */
static bool registry_changed(struct kt_conn *c)
{
	uint64_t v = kt_registry_version(c->p->cfg.registry);
	if (v == c->reg_version)
		return false;
	c->reg_version = v;
	const struct kt_sandbox_entry *e = registry_entry(c);
	return (e ? e->gen : 0) != c->reg_gen;
}

/* vsock: the sender is a vhost worker or a kernel thread; the CID's owner is who counts. */
static void identify_vsock_owner(struct kt_conn *c)
{
	const struct kt_pipeline_cfg *cfg = &c->p->cfg;
	const char *writer = c->thread[0] ? c->thread : NULL;
	struct kt_vsock_owner owner;
	bool found = cfg->owner_lookup
			     ? cfg->owner_lookup(cfg->owner_ctx, c->vsock_cid, writer, &owner)
			     : kt_vsock_owner_lookup(c->vsock_cid, writer, cfg->run_root,
						     cfg->proc_root, &owner);
	if (!found) {
		c->pid = 0;
		c->comm[0] = '\0';
		return;
	}
	if (owner.sandbox[0]) {
		c->have_sandbox = true;
		memcpy(c->sandbox.id, owner.sandbox, sizeof(owner.sandbox));
		c->sandbox.hypervisor = owner.hypervisor;
		kt_conn_set_label(c);
	}
	c->pid = owner.pid;
	snprintf(c->comm, sizeof(c->comm), "%s", owner.comm);
	if (owner.hypervisor)
		c->sandbox.hypervisor = owner.hypervisor;
}

/* What discovery knows of the connection's sandbox; NULL if nothing. */
static const struct kt_sandbox_meta *identify_from_registry(struct kt_conn *c)
{
	const struct kt_sandbox_entry *e = registry_entry(c);
	const struct kt_sandbox_meta *m = e ? &e->meta : NULL;
	c->reg_gen = e ? e->gen : 0;
	c->reg_version = kt_registry_version(c->p->cfg.registry);
	if (m && !c->have_sandbox) {
		c->have_sandbox = true;
		snprintf(c->sandbox.id, sizeof(c->sandbox.id), "%s", m->id);
		kt_conn_set_label(c);
	}
	if (m && m->hypervisor[0]) {
		snprintf(c->hypervisor, sizeof(c->hypervisor), "%s", m->hypervisor);
		c->sandbox.hypervisor = c->hypervisor;
	}
	if (m && m->hypervisor_pid && !c->pid)
		c->pid = m->hypervisor_pid;
	return m;
}

/*
 * The resource attributes (docs/operations.md): OpenTelemetry's k8s.* names
 * where they exist, katatrace.* for the rest. Looks up who is behind the
 * connection first.
 */
static struct kt_origin *build_resource(struct kt_conn *c)
{
	struct kt_kv kv[16];
	struct kt_attrs l; /* values kept as given: the origin copies them */
	kt_attrs_init_on(&l, kv, sizeof(kv) / sizeof(kv[0]), NULL);

	if (c->id.transport == KT_TRANSPORT_VSOCK)
		identify_vsock_owner(c);
	const struct kt_sandbox_meta *m = identify_from_registry(c);

	kt_attrs_cstr(&l, "katatrace.transport", c->transport);
	if (c->path[0])
		kt_attrs_cstr(&l, c->path_key, c->path);
	if (c->id.transport == KT_TRANSPORT_VSOCK) {
		kt_attrs_int(&l, "katatrace.vsock.cid", c->vsock_cid);
		kt_attrs_int(&l, "katatrace.vsock.port", c->vsock_port);
	}
	kt_sandbox_meta_pod_attrs(&l, m);
	if (c->have_sandbox)
		kt_attrs_cstr(&l, "katatrace.sandbox.id", c->sandbox.id);
	if (c->sandbox.hypervisor)
		kt_attrs_cstr(&l, "katatrace.hypervisor.name", c->sandbox.hypervisor);
	/* The process writing what is decoded: a hypervisor, or on a shim socket the shim. */
	const char *peer = c->proto ? c->proto->proto->peer : KT_PEER_HYPERVISOR;
	char pid_key[48], comm_key[48];
	snprintf(pid_key, sizeof(pid_key), "%s.pid", peer);
	snprintf(comm_key, sizeof(comm_key), "%s.comm", peer);
	if (c->pid)
		kt_attrs_int(&l, pid_key, c->pid);
	if (c->comm[0])
		kt_attrs_cstr(&l, comm_key, c->comm);
	if (m && m->guest_cid && c->id.transport != KT_TRANSPORT_VSOCK)
		kt_attrs_int(&l, "katatrace.vsock.cid", m->guest_cid);
	struct kt_kvlist list = kt_attrs_list(&l);
	return kt_origin_new(&list, c->have_sandbox ? c->sandbox.id : NULL, c->label);
}

struct kt_origin *kt_conn_resource(void *conn)
{
	struct kt_conn *c = conn;
	if (c->origin && registry_changed(c)) {
		kt_origin_put(c->origin);
		c->origin = NULL;
	}
	if (!c->origin)
		c->origin = build_resource(c);
	return c->origin;
}

const char *kt_conn_sandbox_id(void *conn)
{
	struct kt_conn *c = conn;
	kt_conn_resource(c);
	return c->have_sandbox ? c->sandbox.id : NULL;
}
