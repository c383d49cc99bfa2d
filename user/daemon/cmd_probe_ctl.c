/* SPDX-License-Identifier: Apache-2.0 */
/*
 * katatrace-bpf probe list, katatrace-bpf probe stop ID: the probes the
 * running daemon serves (those that export through it), as `kubectl trace
 * get` and `kubectl trace delete` show and end a cluster's traces. One
 * question each on the daemon's control socket (daemon/control_client.h).
 *
 * Exit status: 0 answered (stop: the probe was told to end); 1 no daemon,
 * not root, no such probe, or no answer.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/commands.h"
#include "daemon/control_client.h"
#include "base/diag.h"

/* One question; the answer is r's until it is freed. -1 (said) when it could not be asked. */
static int ask(const struct kt_config *cfg, struct kt_ctl_reader *r, const kt_ctl_msg *q,
	       kt_ctl_msg **a)
{
	char err[512];
	if (!cfg->control_socket) {
		kt_err("--control-socket none: there is no daemon to ask");
		return -1;
	}
	int fd = kt_control_connect(cfg->control_socket, err, sizeof(err));
	if (fd < 0) {
		kt_err("%s", err);
		return -1;
	}
	int rc = kt_control_ask(fd, r, q, a, err, sizeof(err));
	close(fd);
	if (rc)
		kt_err("%s: %s", cfg->control_socket, err);
	return rc;
}

/* "12s", "5m03s", "2h07m", "3d04h" */
static void age(uint64_t started_unix_ns, char *out, size_t n)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	uint64_t now_ns = (uint64_t)now.tv_sec * 1000000000ull + (uint64_t)now.tv_nsec;
	uint64_t s = now_ns > started_unix_ns ? (now_ns - started_unix_ns) / 1000000000ull : 0;
	if (s < 60)
		snprintf(out, n, "%llus", (unsigned long long)s);
	else if (s < 3600)
		snprintf(out, n, "%llum%02llus", (unsigned long long)(s / 60), (unsigned long long)(s % 60));
	else if (s < 86400)
		snprintf(out, n, "%lluh%02llum", (unsigned long long)(s / 3600),
			 (unsigned long long)(s % 3600 / 60));
	else
		snprintf(out, n, "%llud%02lluh", (unsigned long long)(s / 86400),
			 (unsigned long long)(s % 86400 / 3600));
}

int kt_cmd_probe_list(const struct kt_config *cfg)
{
	Katatrace__Control__V1__ListProbes l = KATATRACE__CONTROL__V1__LIST_PROBES__INIT;
	kt_ctl_msg q = KT_CTL_MSG_INIT, *a;
	struct kt_ctl_reader r;
	q.body_case = KATATRACE__CONTROL__V1__MESSAGE__BODY_LIST;
	q.list = &l;
	kt_ctl_reader_init(&r);
	if (ask(cfg, &r, &q, &a)) {
		kt_ctl_reader_free(&r);
		return 1;
	}
	if (a->body_case != KATATRACE__CONTROL__V1__MESSAGE__BODY_PROBE_LIST) {
		kt_err("%s: the daemon answered with %s", cfg->control_socket,
		       kt_ctl_body_name(a->body_case));
		kt_ctl_reader_free(&r);
		return 1;
	}
	const Katatrace__Control__V1__ProbeList *pl = a->probe_list;
	printf("%-4s %-8s %-7s %-10s %-10s %-40s %s\n", "ID", "PID", "AGE", "SPANS", "LOGS", "TARGET",
	       "PROBES");
	for (size_t i = 0; i < pl->n_probes; i++) {
		const Katatrace__Control__V1__ProbeInfo *p = pl->probes[i];
		char when[32];
		age(p->started_unix_nano, when, sizeof(when));
		printf("%-4llu %-8u %-7s %-10llu %-10llu %-40s ", (unsigned long long)p->id, p->pid, when,
		       (unsigned long long)p->spans, (unsigned long long)p->log_records, p->target);
		for (size_t j = 0; j < p->n_probes; j++)
			printf("%s%s", j ? ", " : "", p->probes[j]);
		printf("%s\n", p->n_probes ? "" : "-");
	}
	kt_ctl_reader_free(&r);
	return 0;
}

int kt_cmd_probe_stop(const struct kt_config *cfg)
{
	Katatrace__Control__V1__StopProbe s = KATATRACE__CONTROL__V1__STOP_PROBE__INIT;
	kt_ctl_msg q = KT_CTL_MSG_INIT, *a;
	struct kt_ctl_reader r;
	int rc = 1;
	s.probe_id = cfg->stop_id;
	q.body_case = KATATRACE__CONTROL__V1__MESSAGE__BODY_STOP_PROBE;
	q.stop_probe = &s;
	kt_ctl_reader_init(&r);
	if (ask(cfg, &r, &q, &a) == 0) {
		if (a->body_case != KATATRACE__CONTROL__V1__MESSAGE__BODY_STOPPED)
			kt_err("%s: the daemon answered with %s", cfg->control_socket,
			       kt_ctl_body_name(a->body_case));
		else if (!a->stopped->found)
			kt_err("no probe %llu: katatrace-bpf probe list shows the probes the daemon serves",
			       (unsigned long long)cfg->stop_id);
		else {
			printf("probe %llu: told to stop\n", (unsigned long long)cfg->stop_id);
			rc = 0;
		}
	}
	kt_ctl_reader_free(&r);
	return rc;
}
