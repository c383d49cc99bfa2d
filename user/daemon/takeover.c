/* SPDX-License-Identifier: Apache-2.0 */
#include "daemon/takeover.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/byte_order.h"
#include "base/diag.h"
#include "control/control_wire.h"

/* State goes in chunks well below the control socket's message limit. */
#define STATE_CHUNK (4u << 20)
#define REC_LEN_BYTES 4

typedef Katatrace__Control__V1__HandedFd pb_handed;

void kt_takeover_layout(char *buf, size_t n)
{
	/* what both ends must agree on to share the ring buffer and the maps */
	snprintf(buf, n, "records:%zu/%zu/%zu chunk:%u streams:%u counters:%d path:%d",
		 sizeof(struct kt_rec_hdr), sizeof(struct kt_rec_conn), sizeof(struct kt_rec_data),
		 KT_CHUNK_SIZE, KT_MAX_STREAMS, KT_CNT__MAX, KT_PATH_MAX);
}

/* ------------------------------------------------------------ the handover */

void kt_handover_init(struct kt_handover *h)
{
	memset(h, 0, sizeof(*h));
	h->sock = -1;
}

struct kt_handed *kt_handover_add(struct kt_handover *h, enum kt_handed_kind kind, int fd,
				  const char *label)
{
	if (h->n_fds >= KT_TAKEOVER_FDS_MAX) {
		h->incomplete = true;
		return NULL;
	}
	if (h->n_fds == h->cap_fds) {
		size_t cap = h->cap_fds ? h->cap_fds * 2 : 64;
		struct kt_handed *f = realloc(h->fds, cap * sizeof(*f));
		if (!f) {
			h->incomplete = true;
			return NULL;
		}
		h->fds = f;
		h->cap_fds = cap;
	}
	struct kt_handed *e = &h->fds[h->n_fds++];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->fd = fd;
	e->bpf.fd = fd;
	snprintf(e->label, sizeof(e->label), "%s", label ? label : "");
	return e;
}

int kt_handover_add_record(struct kt_handover *h, const void *rec, size_t size)
{
	size_t need = h->state_len + REC_LEN_BYTES + size;
	if (size > UINT32_MAX || need > KT_TAKEOVER_STATE_MAX) {
		h->incomplete = true;
		return -1;
	}
	if (need > h->state_cap) {
		size_t cap = h->state_cap ? h->state_cap : (64u << 10);
		while (cap < need)
			cap *= 2;
		uint8_t *p = realloc(h->state, cap);
		if (!p) {
			h->incomplete = true;
			return -1;
		}
		h->state = p;
		h->state_cap = cap;
	}
	kt_put_be32(h->state + h->state_len, (uint32_t)size);
	memcpy(h->state + h->state_len + REC_LEN_BYTES, rec, size);
	h->state_len = need;
	return 0;
}

int kt_handover_each_record(const struct kt_handover *h,
			    void (*fn)(void *ctx, const void *rec, size_t size), void *ctx,
			    size_t *bad)
{
	size_t off = 0;
	while (off < h->state_len) {
		if (h->state_len - off < REC_LEN_BYTES)
			break;
		size_t n = kt_be32(h->state + off);
		if (n > h->state_len - off - REC_LEN_BYTES)
			break;
		fn(ctx, h->state + off + REC_LEN_BYTES, n);
		off += REC_LEN_BYTES + n;
	}
	if (off == h->state_len)
		return 0;
	if (bad)
		*bad = off;
	return -1;
}

int kt_handover_set_probe(struct kt_handover *h, struct kt_handed *e, const void *state,
			  size_t len)
{
	uint8_t *p = len <= KT_TAKEOVER_PROBE_STATE_MAX ? malloc(len ? len : 1) : NULL;
	if (!p) {
		h->incomplete = true;
		return -1;
	}
	memcpy(p, state, len);
	free(e->probe);
	e->probe = p;
	e->probe_len = len;
	return 0;
}

void kt_handover_free(struct kt_handover *h, bool close_fds)
{
	for (size_t i = 0; close_fds && i < h->n_fds; i++)
		if (h->fds[i].fd >= 0)
			close(h->fds[i].fd);
	for (size_t i = 0; i < h->n_fds; i++)
		free(h->fds[i].probe);
	free(h->fds);
	free(h->state);
	if (h->sock >= 0)
		close(h->sock);
	kt_handover_init(h);
}

/* ------------------------------------------------------------ messages */

static const Katatrace__Control__V1__HandedFd__Kind pb_kinds[] = {
	[KT_HANDED_LISTENER] = KATATRACE__CONTROL__V1__HANDED_FD__KIND__LISTENER,
	[KT_HANDED_CONNECTION] = KATATRACE__CONTROL__V1__HANDED_FD__KIND__CONNECTION,
	[KT_HANDED_CONTROL] = KATATRACE__CONTROL__V1__HANDED_FD__KIND__CONTROL,
	[KT_HANDED_METRICS] = KATATRACE__CONTROL__V1__HANDED_FD__KIND__METRICS,
	[KT_HANDED_BPF] = KATATRACE__CONTROL__V1__HANDED_FD__KIND__BPF,
	[KT_HANDED_PROBE] = KATATRACE__CONTROL__V1__HANDED_FD__KIND__PROBE,
};

static bool kind_from_pb(int k, enum kt_handed_kind *out)
{
	for (size_t i = 0; i < sizeof(pb_kinds) / sizeof(pb_kinds[0]); i++)
		if ((int)pb_kinds[i] == k) {
			*out = (enum kt_handed_kind)i;
			return true;
		}
	return false;
}

static int send_error(int sock, const char *why)
{
	Katatrace__Control__V1__Error e = KATATRACE__CONTROL__V1__ERROR__INIT;
	kt_ctl_msg m = KT_CTL_MSG_INIT;
	char err[128];
	e.message = (char *)why;
	m.body_case = KATATRACE__CONTROL__V1__MESSAGE__BODY_ERROR;
	m.error = &e;
	return kt_ctl_send(sock, &m, err, sizeof(err));
}

void kt_takeover_refuse(int sock, const char *why)
{
	send_error(sock, why);
}

const char *kt_takeover_check(const void *takeover_msg, const char *mode, const char *capture)
{
	const Katatrace__Control__V1__Takeover *t = takeover_msg;
	static char why[512];
	char layout[128];
	kt_takeover_layout(layout, sizeof(layout));
	if (t->version != KT_TAKEOVER_VERSION) {
		snprintf(why, sizeof(why), "takeover version %u, this daemon speaks %d: restart instead",
			 t->version, KT_TAKEOVER_VERSION);
		return why;
	}
	if (strcmp(t->layout, layout) != 0) {
		snprintf(why, sizeof(why),
			 "capture layout \"%.100s\" differs from this daemon's \"%s\": restart instead",
			 t->layout, layout);
		return why;
	}
	if (strcmp(t->mode, mode) != 0) {
		snprintf(why, sizeof(why), "--mode %.32s asked, this daemon runs --mode %s", t->mode,
			 mode);
		return why;
	}
	if (strcmp(t->capture, capture) != 0 || strcmp(capture, "bpf") != 0) {
		snprintf(why, sizeof(why),
			 "--capture %.32s asked, this daemon runs --capture %s; only BPF capture is "
			 "handed over",
			 t->capture, capture);
		return why;
	}
	return NULL;
}

/* ------------------------------------------------------------ the old daemon */

static int send_fd_batches(struct kt_handover *h, char *err, size_t errlen)
{
	int fds[KT_CTL_FDS_MAX];
	for (size_t i = 0; i < h->n_fds;) {
		size_t n = 0;
		while (i < h->n_fds && n < KT_CTL_FDS_MAX)
			fds[n++] = h->fds[i++].fd;
		Katatrace__Control__V1__FdBatch b = KATATRACE__CONTROL__V1__FD_BATCH__INIT;
		kt_ctl_msg m = KT_CTL_MSG_INIT;
		b.count = (uint32_t)n;
		m.body_case = KATATRACE__CONTROL__V1__MESSAGE__BODY_FD_BATCH;
		m.fd_batch = &b;
		if (kt_ctl_send_fds(h->sock, &m, fds, n, err, errlen))
			return -1;
	}
	return 0;
}

static int send_state(struct kt_handover *h, char *err, size_t errlen)
{
	for (size_t off = 0; off < h->state_len;) {
		size_t n = h->state_len - off < STATE_CHUNK ? h->state_len - off : STATE_CHUNK;
		Katatrace__Control__V1__StateChunk c = KATATRACE__CONTROL__V1__STATE_CHUNK__INIT;
		kt_ctl_msg m = KT_CTL_MSG_INIT;
		c.records.data = h->state + off;
		c.records.len = n;
		m.body_case = KATATRACE__CONTROL__V1__MESSAGE__BODY_STATE_CHUNK;
		m.state_chunk = &c;
		if (kt_ctl_send(h->sock, &m, err, errlen))
			return -1;
		off += n;
	}
	return 0;
}

uint8_t *kt_takeover_pack_offer(const struct kt_handover *h, size_t *len)
{
	pb_handed *items = calloc(h->n_fds ? h->n_fds : 1, sizeof(*items));
	pb_handed **ptrs = calloc(h->n_fds ? h->n_fds : 1, sizeof(*ptrs));
	uint8_t *out = NULL;
	size_t n = 0;
	if (!items || !ptrs)
		goto done;
	for (; n < h->n_fds; n++) {
		const struct kt_handed *e = &h->fds[n];
		pb_handed *p = &items[n];
		katatrace__control__v1__handed_fd__init(p);
		p->kind = pb_kinds[e->kind];
		p->label = (char *)e->label;
		p->vsock = e->vsock;
		p->port = e->port;
		p->object = (char *)e->bpf.object;
		p->name = (char *)e->bpf.name;
		p->strategy = (char *)e->bpf.strategy;
		/* this daemon's own bytes: only memory can fail them */
		if (e->kind == KT_HANDED_PROBE &&
		    !(p->probe = katatrace__control__v1__probe_state__unpack(NULL, e->probe_len, e->probe)))
			goto done;
		ptrs[n] = p;
	}
	Katatrace__Control__V1__TakeoverOffer o = KATATRACE__CONTROL__V1__TAKEOVER_OFFER__INIT;
	kt_ctl_msg m = KT_CTL_MSG_INIT;
	o.pid = (uint32_t)getpid();
	o.fds = ptrs;
	o.n_fds = h->n_fds;
	o.state_bytes = h->state_len;
	o.connections = h->connections;
	m.body_case = KATATRACE__CONTROL__V1__MESSAGE__BODY_TAKEOVER_OFFER;
	m.takeover_offer = &o;
	*len = katatrace__control__v1__message__get_packed_size(&m);
	out = malloc(*len ? *len : 1);
	if (out)
		katatrace__control__v1__message__pack(&m, out);
done:
	for (size_t i = 0; items && i < n; i++)
		if (items[i].probe)
			katatrace__control__v1__probe_state__free_unpacked(items[i].probe, NULL);
	free(items);
	free(ptrs);
	return out;
}

int kt_takeover_offer(struct kt_handover *h, char *err, size_t errlen)
{
	size_t n;
	uint8_t *packed = kt_takeover_pack_offer(h, &n);
	if (!packed) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	int rc = kt_ctl_send_packed(h->sock, packed, n, err, errlen);
	free(packed);
	if (rc == 0)
		rc = send_fd_batches(h, err, errlen);
	if (rc == 0)
		rc = send_state(h, err, errlen);
	return rc;
}

int kt_takeover_await_commit(struct kt_handover *h, int timeout_ms, char *err, size_t errlen)
{
	struct kt_ctl_reader r;
	kt_ctl_msg *m;
	kt_ctl_reader_init(&r);
	int rc = kt_ctl_recv(&r, h->sock, timeout_ms, &m, err, errlen);
	if (rc == 0)
		snprintf(err, errlen, "no commit within %.1f s", timeout_ms / 1000.0);
	else if (rc > 0 && m->body_case == KATATRACE__CONTROL__V1__MESSAGE__BODY_ERROR)
		snprintf(err, errlen, "%s", m->error->message);
	else if (rc > 0 && m->body_case != KATATRACE__CONTROL__V1__MESSAGE__BODY_TAKEOVER_COMMIT)
		snprintf(err, errlen, "a %s message instead of the commit",
			 kt_ctl_body_name(m->body_case));
	else if (rc > 0)
		rc = 2;
	kt_ctl_reader_free(&r);
	return rc == 2 ? 1 : -1;
}

void kt_takeover_done(struct kt_handover *h, uint64_t spooled)
{
	Katatrace__Control__V1__TakeoverDone d = KATATRACE__CONTROL__V1__TAKEOVER_DONE__INIT;
	kt_ctl_msg m = KT_CTL_MSG_INIT;
	char err[128];
	d.spooled = spooled;
	m.body_case = KATATRACE__CONTROL__V1__MESSAGE__BODY_TAKEOVER_DONE;
	m.takeover_done = &d;
	kt_ctl_send(h->sock, &m, err, sizeof(err));
}

/* ------------------------------------------------------------ the new daemon */

static int connect_control(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(a.sun_path)) {
		snprintf(err, errlen, "control socket path %s is too long", path);
		return -2;
	}
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -2;
	}
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		int e = errno;
		close(fd);
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		/* nobody there: nothing to take over */
		return e == ENOENT || e == ECONNREFUSED ? -1 : -2;
	}
	return fd;
}

static int send_ask(int fd, const struct kt_takeover_ask *ask, char *err, size_t errlen)
{
	char layout[128];
	kt_takeover_layout(layout, sizeof(layout));
	Katatrace__Control__V1__Takeover t = KATATRACE__CONTROL__V1__TAKEOVER__INIT;
	kt_ctl_msg m = KT_CTL_MSG_INIT;
	t.version = KT_TAKEOVER_VERSION;
	t.layout = layout;
	t.mode = (char *)ask->mode;
	t.capture = (char *)ask->capture;
	t.pid = (uint32_t)getpid();
	m.body_case = KATATRACE__CONTROL__V1__MESSAGE__BODY_TAKEOVER;
	m.takeover = &t;
	return kt_ctl_send(fd, &m, err, errlen);
}

/* The offer's entries, checked and copied into out. */
static int take_offer(const Katatrace__Control__V1__TakeoverOffer *o, struct kt_handover *out,
		      char *err, size_t errlen)
{
	if (o->n_fds > KT_TAKEOVER_FDS_MAX || o->state_bytes > KT_TAKEOVER_STATE_MAX) {
		snprintf(err, errlen, "an offer of %zu descriptors and %llu bytes of state is beyond "
			 "the limits (%d, %llu)",
			 o->n_fds, (unsigned long long)o->state_bytes, KT_TAKEOVER_FDS_MAX,
			 (unsigned long long)KT_TAKEOVER_STATE_MAX);
		return -1;
	}
	out->peer_pid = o->pid;
	out->connections = o->connections;
	for (size_t i = 0; i < o->n_fds; i++) {
		const pb_handed *p = o->fds[i];
		enum kt_handed_kind kind;
		if (!kind_from_pb(p->kind, &kind)) {
			snprintf(err, errlen, "descriptor %zu of an unknown kind %d", i, p->kind);
			return -1;
		}
		struct kt_handed *e = kt_handover_add(out, kind, -1, p->label);
		if (!e) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		e->vsock = p->vsock;
		e->port = p->port;
		snprintf(e->bpf.object, sizeof(e->bpf.object), "%s", p->object);
		snprintf(e->bpf.name, sizeof(e->bpf.name), "%s", p->name);
		snprintf(e->bpf.strategy, sizeof(e->bpf.strategy), "%s", p->strategy);
		if (kind != KT_HANDED_PROBE)
			continue;
		/* kept packed: the control server checks it as it would a probe's hello */
		size_t len = p->probe ? katatrace__control__v1__probe_state__get_packed_size(p->probe) : 0;
		uint8_t *buf = p->probe && len <= KT_TAKEOVER_PROBE_STATE_MAX ? malloc(len ? len : 1) : NULL;
		if (!buf) {
			snprintf(err, errlen, "probe descriptor %zu: %s", i,
				 !p->probe ? "without its state"
				 : len > KT_TAKEOVER_PROBE_STATE_MAX ? "its state is too large"
								     : "out of memory");
			return -1;
		}
		katatrace__control__v1__probe_state__pack(p->probe, buf);
		e->probe = buf;
		e->probe_len = len;
	}
	return 0;
}

int kt_handover_take_offer(const uint8_t *packed, size_t n, struct kt_handover *out, char *err,
			   size_t errlen)
{
	struct kt_pb_budget budget = { .limit = KT_CONTROL_UNPACK_MAX };
	ProtobufCAllocator alloc = kt_pb_budget_allocator(&budget);
	kt_ctl_msg *m = katatrace__control__v1__message__unpack(&alloc, n, packed);
	int rc = -1;
	if (!m || m->body_case != KATATRACE__CONTROL__V1__MESSAGE__BODY_TAKEOVER_OFFER)
		snprintf(err, errlen, "not an offer (%zu bytes)", n);
	else
		rc = take_offer(m->takeover_offer, out, err, errlen);
	if (m)
		katatrace__control__v1__message__free_unpacked(m, &alloc);
	return rc;
}

/* The next message, which must be of body case want. */
static int expect(struct kt_ctl_reader *r, int fd, int want, kt_ctl_msg **m, char *err,
		  size_t errlen)
{
	int rc = kt_ctl_recv(r, fd, KT_TAKEOVER_REPLY_MS, m, err, errlen);
	if (rc == 0) {
		snprintf(err, errlen, "no answer within %d s", KT_TAKEOVER_REPLY_MS / 1000);
		return -1;
	}
	if (rc < 0)
		return -1;
	if ((*m)->body_case == KATATRACE__CONTROL__V1__MESSAGE__BODY_ERROR) {
		snprintf(err, errlen, "refused: %s", (*m)->error->message);
		return -1;
	}
	if ((int)(*m)->body_case != want) {
		snprintf(err, errlen, "a %s message instead of a %s", kt_ctl_body_name((*m)->body_case),
			 kt_ctl_body_name(want));
		return -1;
	}
	return 0;
}

static int receive(struct kt_ctl_reader *r, struct kt_handover *out, char *err, size_t errlen)
{
	kt_ctl_msg *m;
	if (expect(r, out->sock, KATATRACE__CONTROL__V1__MESSAGE__BODY_TAKEOVER_OFFER, &m, err,
		   errlen) ||
	    take_offer(m->takeover_offer, out, err, errlen))
		return -1;
	uint64_t state_bytes = m->takeover_offer->state_bytes;
	for (size_t got = 0; got < out->n_fds;) {
		if (expect(r, out->sock, KATATRACE__CONTROL__V1__MESSAGE__BODY_FD_BATCH, &m, err,
			   errlen))
			return -1;
		int fds[KT_CTL_FDS_MAX];
		size_t n = kt_ctl_reader_take_fds(r, fds, KT_CTL_FDS_MAX);
		for (size_t i = 0; i < n; i++) {
			if (got < out->n_fds)
				out->fds[got++].fd = fds[i];
			else
				close(fds[i]);
		}
		if (n != m->fd_batch->count || n == 0) {
			snprintf(err, errlen, "a batch announced %u descriptors and carried %zu",
				 m->fd_batch->count, n);
			return -1;
		}
	}
	for (size_t i = 0; i < out->n_fds; i++)
		out->fds[i].bpf.fd = out->fds[i].fd;
	while (out->state_len < state_bytes) {
		if (expect(r, out->sock, KATATRACE__CONTROL__V1__MESSAGE__BODY_STATE_CHUNK, &m, err,
			   errlen))
			return -1;
		const ProtobufCBinaryData *b = &m->state_chunk->records;
		if (b->len > state_bytes - out->state_len) {
			snprintf(err, errlen, "more state than the %llu bytes announced",
				 (unsigned long long)state_bytes);
			return -1;
		}
		if (b->len > out->state_cap - out->state_len) {
			/*
			 * Grows with what arrives, up to what was announced: an
			 * offer's count alone (up to KT_TAKEOVER_STATE_MAX) allocates
			 * nothing.
			 */
			size_t cap = out->state_cap ? out->state_cap : (64u << 10);
			while (cap - out->state_len < b->len)
				cap *= 2;
			if (cap > state_bytes)
				cap = (size_t)state_bytes;
			uint8_t *p = realloc(out->state, cap);
			if (!p) {
				snprintf(err, errlen, "no memory for %zu bytes of state", cap);
				return -1;
			}
			out->state = p;
			out->state_cap = cap;
		}
		if (b->len)
			memcpy(out->state + out->state_len, b->data, b->len);
		out->state_len += b->len;
	}
	return 0;
}

int kt_takeover_receive(int sock, struct kt_handover *out, char *err, size_t errlen)
{
	kt_handover_init(out);
	out->sock = sock;
	struct kt_ctl_reader r;
	kt_ctl_reader_init(&r);
	int rc = receive(&r, out, err, errlen);
	kt_ctl_reader_free(&r);
	if (rc < 0)
		kt_handover_free(out, true); /* the old daemon sees the end and serves on */
	return rc;
}

int kt_takeover_request(const struct kt_takeover_ask *ask, struct kt_handover *out, char *err,
			size_t errlen)
{
	kt_handover_init(out);
	int fd = connect_control(ask->control_path, err, errlen);
	if (fd == -1)
		return 0;
	if (fd < 0)
		return -1;
	if (send_ask(fd, ask, err, errlen)) {
		close(fd);
		return -1;
	}
	return kt_takeover_receive(fd, out, err, errlen) == 0 ? 1 : -1;
}

int kt_takeover_commit(struct kt_handover *h, uint64_t *spooled, char *err, size_t errlen)
{
	Katatrace__Control__V1__TakeoverCommit c = KATATRACE__CONTROL__V1__TAKEOVER_COMMIT__INIT;
	kt_ctl_msg m = KT_CTL_MSG_INIT, *in;
	*spooled = 0;
	m.body_case = KATATRACE__CONTROL__V1__MESSAGE__BODY_TAKEOVER_COMMIT;
	m.takeover_commit = &c;
	if (kt_ctl_send(h->sock, &m, err, errlen))
		return -1;
	struct kt_ctl_reader r;
	kt_ctl_reader_init(&r);
	int rc = kt_ctl_recv(&r, h->sock, KT_TAKEOVER_COMMIT_MS, &in, err, errlen);
	bool done = rc > 0 && in->body_case == KATATRACE__CONTROL__V1__MESSAGE__BODY_TAKEOVER_DONE;
	if (done)
		*spooled = in->takeover_done->spooled;
	else if (rc > 0)
		snprintf(err, errlen, "a %s message instead of its done", kt_ctl_body_name(in->body_case));
	kt_ctl_reader_free(&r);
	if (done)
		return 0;
	if (rc == 0) {
		snprintf(err, errlen, "the old daemon did not let go within %d s",
			 KT_TAKEOVER_COMMIT_MS / 1000);
		return -1;
	}
	/*
	 * No done: if the old daemon is gone (it died letting go), what it held
	 * is on disk or sent, and this one serves. If it still runs, it did not
	 * take the commit (it had given up waiting and serves on): this one must not.
	 */
	if (rc < 0 && h->peer_pid && kill((pid_t)h->peer_pid, 0) && errno == ESRCH)
		return 0;
	if (rc < 0)
		snprintf(err, errlen, "the old daemon (pid %u) ended the exchange without letting go",
			 h->peer_pid);
	return -1;
}
