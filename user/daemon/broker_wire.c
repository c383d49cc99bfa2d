/* SPDX-License-Identifier: Apache-2.0 */
#include "daemon/broker_wire.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/fd_io.h"
#include "sandbox/hypervisors.h"
#include "sandbox/sandbox_path.h"

int kt_bmsg_send(int sock, const struct kt_bmsg *m, int fd)
{
	struct iovec iov = { (void *)m, sizeof(*m) };
	union {
		char buf[KT_FDS_CTL_SPACE(1)];
		struct cmsghdr align;
	} u;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	kt_fds_attach(&mh, u.buf, &fd, fd >= 0 ? 1 : 0);
	ssize_t n;
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof(*m) ? 0 : -1;
}

int kt_bmsg_recv(int sock, struct kt_bmsg *m, int *fd, int flags)
{
	struct iovec iov = { m, sizeof(*m) };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	*fd = -1;
	ssize_t n = recvmsg(sock, &mh, flags | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len >= CMSG_LEN(sizeof(int)))
			memcpy(fd, CMSG_DATA(c), sizeof(int));
	if (n == 0)
		return -1;
	if (n != (ssize_t)sizeof(*m) || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		m->type = 0; /* ignored */
	}
	m->text[sizeof(m->text) - 1] = '\0';
	return 1;
}

void kt_bchan_send(struct kt_bchan *ch, int fd)
{
	if (!ch->broken && kt_bmsg_send(ch->sock, &ch->m, fd))
		ch->broken = true;
}

void kt_bmsg_text(struct kt_bmsg *m, enum kt_bmsg_type type, uint64_t key, const char *text)
{
	memset(m, 0, sizeof(*m));
	m->type = type;
	m->key = key;
	if (text)
		snprintf(m->text, sizeof(m->text), "%s", text);
}

void kt_bmsg_listen(struct kt_bmsg *m, uint64_t key, const char *label, bool vsock, unsigned port)
{
	kt_bmsg_text(m, KT_BMSG_LISTEN, key, label);
	m->vsock = vsock;
	m->port = port;
}

void kt_bmsg_sandbox(struct kt_bmsg *m, const struct kt_sandbox_meta *meta)
{
	kt_bmsg_text(m, KT_BMSG_SANDBOX, 0, NULL);
	m->meta = *meta;
}

void kt_bmsg_want_owner(struct kt_bmsg *m, uint64_t key, uint32_t cid, const char *writer_comm)
{
	kt_bmsg_text(m, KT_BMSG_WANT_OWNER, key, writer_comm);
	m->cid = cid;
}

void kt_bmsg_owner(struct kt_bmsg *m, uint64_t key, bool found, const struct kt_vsock_owner *o)
{
	kt_bmsg_text(m, KT_BMSG_OWNER, key, o->comm);
	m->vsock = found;
	m->meta.hypervisor_pid = o->pid;
	snprintf(m->meta.id, sizeof(m->meta.id), "%s", o->sandbox);
	snprintf(m->meta.hypervisor, sizeof(m->meta.hypervisor), "%s",
		 o->hypervisor ? o->hypervisor : "");
}

const char *kt_bmsg_writer_comm(const struct kt_bmsg *m)
{
	return m->text[0] ? m->text : NULL;
}

bool kt_bmsg_owner_decode(struct kt_bmsg *m, struct kt_vsock_owner *out)
{
	struct kt_sandbox_meta *meta = &m->meta;
	memset(out, 0, sizeof(*out));
	meta->id[sizeof(meta->id) - 1] = '\0';
	meta->hypervisor[sizeof(meta->hypervisor) - 1] = '\0';
	out->pid = meta->hypervisor_pid;
	memcpy(out->comm, m->text, sizeof(out->comm) - 1);
	out->comm[sizeof(out->comm) - 1] = '\0';
	/* a static string, as kt_vsock_owner.hypervisor must be */
	out->hypervisor = kt_hv_of_kata_type(meta->hypervisor);
	if (kt_sandbox_id_valid(meta->id, strlen(meta->id)))
		snprintf(out->sandbox, sizeof(out->sandbox), "%s", meta->id);
	return m->vsock != 0;
}
