/* SPDX-License-Identifier: Apache-2.0 */
#include "daemon/control_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/diag.h"

int kt_control_connect(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(a.sun_path)) {
		snprintf(err, errlen, "control socket %s: the path is too long", path);
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(a.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		int e = errno;
		if (kt_control_absent(e))
			snprintf(err, errlen, "no daemon listens on %s (katatrace-bpf run makes it)", path);
		else if (e == EACCES || e == EPERM)
			snprintf(err, errlen, "%s: only root may use the daemon's control socket", path);
		else
			snprintf(err, errlen, "control socket %s: %s", path, strerror(e));
		if (fd >= 0)
			close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

bool kt_control_absent(int e)
{
	return e == ENOENT || e == ECONNREFUSED || e == ENOTDIR;
}

int kt_control_ask(int fd, struct kt_ctl_reader *r, const kt_ctl_msg *q, kt_ctl_msg **a, char *err,
		   size_t errlen)
{
	char why[256];
	/* A daemon that refuses someone hangs up at once: the write or the read sees it. */
	static const char hung_up[] = "the daemon closed the connection without an answer";
	if (kt_ctl_send(fd, q, why, sizeof(why))) {
		if (errno == EPIPE || errno == ECONNRESET)
			snprintf(err, errlen, "%s", hung_up);
		else
			snprintf(err, errlen, "cannot ask the daemon: %s", why);
		return -1;
	}
	int rc = kt_ctl_recv(r, fd, KT_CONTROL_ANSWER_MS, a, why, sizeof(why));
	if (rc == 0) {
		snprintf(err, errlen, "the daemon did not answer in %d ms", KT_CONTROL_ANSWER_MS);
		return -1;
	}
	if (rc < 0) {
		if (errno == EPIPE || errno == ECONNRESET)
			snprintf(err, errlen, "%s", hung_up);
		else
			snprintf(err, errlen, "the daemon's answer: %s", why);
		return -1;
	}
	if ((*a)->body_case == KATATRACE__CONTROL__V1__MESSAGE__BODY_ERROR) {
		snprintf(err, errlen, "the daemon says: %s", (*a)->error->message);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ the exporter */

struct to_daemon {
	struct kt_exporter e;
	int fd;
	bool gone; /* said once */
};

static enum kt_export_result send_records(struct to_daemon *d, Katatrace__Control__V1__Records *rec)
{
	kt_ctl_msg m = KT_CTL_MSG_INIT;
	char err[256];
	m.body_case = KATATRACE__CONTROL__V1__MESSAGE__BODY_RECORDS;
	m.records = rec;
	if (kt_ctl_send(d->fd, &m, err, sizeof(err)) == 0)
		return KT_EXPORT_OK;
	if (errno != EMSGSIZE && !d->gone) {
		d->gone = true;
		kt_err("the daemon's control socket: %s: records are lost from now on", err);
	} else if (errno == EMSGSIZE) {
		kt_err("records for the daemon: %s: dropped", err);
	}
	return KT_EXPORT_FAIL;
}

static enum kt_export_result export_spans(struct kt_exporter *e, const kt_otlp_request *req,
					  size_t n)
{
	Katatrace__Control__V1__Records rec = KATATRACE__CONTROL__V1__RECORDS__INIT;
	(void)n;
	rec.traces = (kt_otlp_request *)req;
	return send_records((struct to_daemon *)e, &rec);
}

static enum kt_export_result export_logs(struct kt_exporter *e, const kt_otlp_logs_request *req,
					 size_t n)
{
	Katatrace__Control__V1__Records rec = KATATRACE__CONTROL__V1__RECORDS__INIT;
	(void)n;
	rec.logs = (kt_otlp_logs_request *)req;
	return send_records((struct to_daemon *)e, &rec);
}

static void destroy(struct kt_exporter *e)
{
	free(e);
}

struct kt_exporter *kt_control_exporter_new(int fd)
{
	struct to_daemon *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->e = (struct kt_exporter){
		.name = "daemon",
		.export = export_spans,
		.export_logs = export_logs,
		.destroy = destroy,
	};
	d->fd = fd;
	return &d->e;
}
