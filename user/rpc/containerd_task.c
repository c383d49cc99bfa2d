/* SPDX-License-Identifier: Apache-2.0 */
#include "rpc/containerd_task.h"

#include <stdlib.h>
#include <string.h>

#include "containerd/task.pb-c.h"
#include "base/pb_budget.h"
#include "base/utf8.h"
#include "model/attrs.h"
#include "model/ids.h"

const char *const kt_task_long_poll[] = { "Wait", NULL };

/* Which message of proto/containerd/task.proto reads a method's request. */
enum ids_kind { IDS_NONE, IDS_CREATE, IDS_PROCESS, IDS_TASK };

static const struct {
	const char *method;
	enum ids_kind kind;
} methods[] = {
	{ "Create", IDS_CREATE },   { "Start", IDS_PROCESS },	  { "Wait", IDS_PROCESS },
	{ "Delete", IDS_PROCESS },  { "Kill", IDS_PROCESS },	  { "State", IDS_PROCESS },
	{ "Exec", IDS_PROCESS },    { "ResizePty", IDS_PROCESS }, { "CloseIO", IDS_PROCESS },
	{ "Pids", IDS_TASK },	    { "Stats", IDS_TASK },	  { "Connect", IDS_TASK },
	{ "Pause", IDS_TASK },	    { "Resume", IDS_TASK },	  { "Checkpoint", IDS_TASK },
	{ "Update", IDS_TASK },	    { "Shutdown", IDS_TASK },
};

struct kt_task_conn {
	char sandbox[KT_SANDBOX_ID_MAX + 1];
};

static bool str_eq(struct kt_str s, const char *lit)
{
	size_t n = strlen(lit);
	return s.len == n && !memcmp(s.ptr, lit, n);
}

bool kt_task_is_service(struct kt_str s)
{
	static const char pre[] = "containerd.task.v", post[] = ".Task";
	size_t np = sizeof(pre) - 1, nq = sizeof(post) - 1;

	if (s.len <= np + nq || memcmp(s.ptr, pre, np) || memcmp(s.ptr + s.len - nq, post, nq))
		return false;
	for (size_t i = np; i < s.len - nq; i++)
		if (s.ptr[i] < '0' || s.ptr[i] > '9')
			return false;
	return true;
}

static enum ids_kind kind_of(struct kt_str method)
{
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (str_eq(method, methods[i].method))
			return methods[i].kind;
	return IDS_NONE;
}

/* UTF-8 without control characters, at most KT_TASK_MAX_ID bytes; exec: field 2. */
static const char *check_id(ProtobufCBinaryData b, bool exec)
{
	if (b.len > KT_TASK_MAX_ID)
		return exec ? "exec_id is longer than 256 bytes" : "id is longer than 256 bytes";
	if (kt_utf8_check(b.data, b.len) != b.len)
		return exec ? "exec_id is not valid UTF-8" : "id is not valid UTF-8";
	for (size_t i = 0; i < b.len; i++)
		if (b.data[i] < 0x20 || b.data[i] == 0x7f)
			return exec ? "exec_id has a control character"
				    : "id has a control character";
	return NULL;
}

size_t kt_task_note(const struct kt_ttrpc_request *r, uint8_t *note, size_t cap, const char **why)
{
	struct kt_pb_budget b = { .limit = KT_TASK_UNPACK_LIMIT };
	ProtobufCAllocator al = kt_pb_budget_allocator(&b);
	ProtobufCBinaryData id = { 0 }, exec = { 0 };
	ProtobufCMessage *m = NULL;
	size_t n = 0;

	*why = NULL;
	enum ids_kind kind = kt_task_is_service(r->service) ? kind_of(r->method) : IDS_NONE;
	switch (kind) {
	case IDS_NONE:
		return 0;
	case IDS_CREATE: {
		Containerd__Task__CreateTaskIds *c =
			containerd__task__create_task_ids__unpack(&al, r->payload_len, r->payload);
		if (c) {
			id = c->id;
			m = &c->base;
		}
		break;
	}
	case IDS_PROCESS: {
		Containerd__Task__ProcessIds *p =
			containerd__task__process_ids__unpack(&al, r->payload_len, r->payload);
		if (p) {
			id = p->id;
			exec = p->exec_id;
			m = &p->base;
		}
		break;
	}
	case IDS_TASK: {
		Containerd__Task__TaskId *t =
			containerd__task__task_id__unpack(&al, r->payload_len, r->payload);
		if (t) {
			id = t->id;
			m = &t->base;
		}
		break;
	}
	}
	if (!m) {
		*why = b.hit ? "needs more memory to decode than allowed" : "does not decode";
		return 0;
	}
	if ((*why = check_id(id, false)) == NULL && (*why = check_id(exec, true)) == NULL &&
	    id.len && id.len + 1 + exec.len <= cap) {
		memcpy(note, id.data, id.len);
		note[id.len] = '\0';
		if (exec.len)
			memcpy(note + id.len + 1, exec.data, exec.len);
		n = id.len + 1 + exec.len;
	}
	protobuf_c_message_free_unpacked(m, &al);
	return n;
}

bool kt_task_note_ids(struct kt_str note, struct kt_str *id, struct kt_str *exec_id)
{
	const char *nul = note.len ? memchr(note.ptr, '\0', note.len) : NULL;
	if (!nul || nul == note.ptr)
		return false;
	*id = (struct kt_str){ note.ptr, (size_t)(nul - note.ptr) };
	*exec_id = (struct kt_str){ nul + 1, note.len - id->len - 1 };
	return true;
}

struct kt_task_conn *kt_task_conn_new(void)
{
	return calloc(1, sizeof(struct kt_task_conn));
}

void kt_task_conn_free(struct kt_task_conn *t)
{
	free(t);
}

const char *kt_task_conn_sandbox(const struct kt_task_conn *t)
{
	return t->sandbox;
}

/* Which id names the call's trace (see task_api.h); NULL: none. */
static const char *trace_key(struct kt_task_conn *t, const struct kt_sandbox_registry *reg,
			     struct kt_str id)
{
	if (id.len && reg && id.len <= KT_SANDBOX_ID_MAX && kt_registry_by_id(reg, id.ptr)) {
		memcpy(t->sandbox, id.ptr, id.len + 1);
		return t->sandbox;
	}
	if (t->sandbox[0])
		return t->sandbox;
	return id.len ? id.ptr : NULL;
}

enum kt_ttrpc_span_result kt_task_span_build(struct kt_task_conn *t, const struct kt_ttrpc_call *c,
					     const struct kt_sandbox_registry *reg,
					     uint64_t (*new_span_id)(void *ctx), void *ctx,
					     struct kt_arena *a, struct kt_span *out)
{
	struct kt_str id = { "", 0 }, exec = { "", 0 };
	bool have_ids = kt_task_note_ids(c->note, &id, &exec);
	struct kt_ttrpc_span_opts o = {
		.full_name = true,
		.extra_attrs = 2,
		.new_span_id = new_span_id,
		.new_span_id_ctx = ctx,
	};
	const char *key = trace_key(t, reg, id);
	if (key)
		kt_sandbox_ids(key, strlen(key), &o.sandbox_trace_id,
				     &o.sandbox_parent_span_id);

	enum kt_ttrpc_span_result res = kt_ttrpc_span_build(c, &o, a, out);
	if (res != KT_TTRPC_SPAN_BUILT || !have_ids)
		return res;
	/* the room kt_ttrpc_span_build left for them (o.extra_attrs) */
	struct kt_attrs b;
	kt_attrs_init_on(&b, out->attrs.kv, out->attrs.n + o.extra_attrs, a);
	b.n = out->attrs.n;
	kt_attrs_copy(&b, "katatrace.container.id", id);
	if (exec.len)
		kt_attrs_copy(&b, "katatrace.exec.id", exec);
	out->attrs = kt_attrs_list(&b);
	if (b.failed) {
		memset(out, 0, sizeof(*out));
		return KT_TTRPC_SPAN_FAILED;
	}
	return res;
}

int kt_task_socket_prefix(const char *run_root, const char *dir, char *out, size_t cap,
			  const char **why)
{
	size_t nr = run_root ? strlen(run_root) : 0, nd = strlen(dir);

	while (nr && run_root[nr - 1] == '/')
		nr--;
	if (dir[0] != '/') {
		*why = "not an absolute path";
		return -1;
	}
	bool slash = dir[nd - 1] == '/';
	if (nr + nd + !slash + 1 > cap) {
		*why = "too long for a unix socket path";
		return -1;
	}
	if (nr)
		memcpy(out, run_root, nr);
	memcpy(out + nr, dir, nd);
	if (!slash)
		out[nr + nd++] = '/';
	out[nr + nd] = '\0';
	return 0;
}

bool kt_task_socket_match(const char *path, const char *const *prefixes, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (prefixes[i][0] && strncmp(path, prefixes[i], strlen(prefixes[i])) == 0)
			return true;
	return false;
}
