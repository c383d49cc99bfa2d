/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Creating the listening sockets of sink mode. This is the privileged half
 * of the sink (it runs in the broker, user/daemon/broker.c): binding <uds>_<port>
 * in a root-owned sandbox directory needs root, serving the connections
 * does not (user/capture/sink_mode.c).
 */
#ifndef KT_LISTEN_SOCK_H
#define KT_LISTEN_SOCK_H

#include <stddef.h>

/*
 * Binds and listens on the unix socket path (a stale socket file nobody
 * listens on is replaced), owned by the owner of its directory, mode 0660.
 * Returns the non-blocking fd, or -1 with a message naming path in err.
 */
int kt_listen_unix(const char *path, char *err, size_t errlen);

/*
 * The same for a socket only its owner (the caller) may use: mode 0600, in
 * its directory, made 0700 if it does not exist. For the daemon's control
 * socket.
 */
int kt_listen_unix_private(const char *path, char *err, size_t errlen);

/*
 * AF_VSOCK (cid, port). Returns the fd, or -1 with errno kept (EAFNOSUPPORT
 * without a vsock transport, EADDRINUSE when another listener has it) and a
 * message in err.
 */
int kt_listen_vsock(unsigned cid, unsigned port, char *err, size_t errlen);

#endif
