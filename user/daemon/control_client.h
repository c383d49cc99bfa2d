/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A client of the daemon's control socket (daemon/control_server.h): the
 * probe command, which hands its records to the daemon through an exporter
 * that writes them there, and `probe list` / `probe stop`, which ask one
 * question each. The socket is root's only: connecting as another user
 * fails with EACCES, and the message says so.
 */
#ifndef KT_CONTROL_CLIENT_H
#define KT_CONTROL_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "control/control_wire.h"
#include "exporters/exporter.h"

/* How long a client waits for the daemon's answer. */
#define KT_CONTROL_ANSWER_MS 5000

/*
 * Connects to the control socket at path (a blocking socket). Returns the
 * fd, or -1 with errno kept and why in err: ENOENT or ECONNREFUSED when no
 * daemon listens there, EACCES when the caller is not root.
 */
int kt_control_connect(const char *path, char *err, size_t errlen);
/* Whether connecting failed because nobody listens at the path. */
bool kt_control_absent(int err_no);

/*
 * Sends q and waits for the answer (read with r, valid until its next use):
 * 0 with *a; -1 with why in err (no answer in KT_CONTROL_ANSWER_MS, the
 * daemon closed the connection, or it answered Error: its text).
 */
int kt_control_ask(int fd, struct kt_ctl_reader *r, const kt_ctl_msg *q, kt_ctl_msg **a, char *err,
		   size_t errlen);

/*
 * An exporter that hands every request to the daemon as Records on fd
 * (which stays the caller's); "the daemon (pid N)" is its name's subject.
 * A request the socket cannot take (the daemon is gone, or it is larger
 * than a message may be) fails and is counted by the queue.
 */
struct kt_exporter *kt_control_exporter_new(int fd);

#endif
