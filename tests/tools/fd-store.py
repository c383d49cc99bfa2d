#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# systemd's part in a restart with a file descriptor store, as systemd.service(5),
# sd_notify(3) and sd_listen_fds(3) describe it: runs COMMAND with
# NOTIFY_SOCKET set, keeps every descriptor it sends with FDSTORE=1 (under
# its FDNAME; FDSTOREREMOVE=1 drops those of a name again), and when it
# exits starts COMMAND again with the descriptors held then, from 3 on, with
# LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES: `systemctl restart` of a unit
# with FileDescriptorStoreMax=. The store lasts until the last run ends. Writes each run's pid to
# DIR/pid.N, its exit status to DIR/exit.N and what it stored to
# DIR/stored.N; runs COMMAND RUNS times in all. Like systemd, it drops a
# stored descriptor that reports POLLHUP or POLLERR, unless it was stored
# with FDPOLL=0; DIR/dropped.N counts those dropped before run N.
# With FD_STORE_GATE=1 it starts run N (N > 1) only once DIR/go.N exists:
# the time between a stop and the next start.
#
#   fd-store.py DIR RUNS COMMAND [ARGS...]
import array
import os
import select
import socket
import sys

out, runs, cmd = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
# An abstract socket: reachable by the daemon once it is nobody, as
# systemd's own notification socket is (it is mode 0777).
notify = "@katatrace-fd-store-%d" % os.getpid()
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind("\0" + notify[1:])
stored = []  # (name, fd), in the order stored
unpolled = set()  # stored with FDPOLL=0
dropped = 0


def receive():
    data, anc, _, _ = sock.recvmsg(4096, socket.CMSG_SPACE(253 * 4))
    fds = array.array("i")
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[: len(payload) - len(payload) % 4])
    fields = dict(l.split("=", 1) for l in data.decode().split("\n") if "=" in l)
    if fields.get("FDSTORE") == "1":
        name = fields.get("FDNAME", "stored")
        stored.extend((name, fd) for fd in fds)
        if fields.get("FDPOLL") == "0":
            unpolled.update(fds)
    elif fields.get("FDSTOREREMOVE") == "1":
        for name, fd in [e for e in stored if e[0] == fields.get("FDNAME")]:
            os.close(fd)
            stored.remove((name, fd))
        for fd in fds:
            os.close(fd)
    else:
        for fd in fds:
            os.close(fd)


def poll_store():
    """Drops what hung up, as systemd's epoll on its store does (events 0:
    only EPOLLHUP and EPOLLERR; a descriptor epoll refuses is kept)."""
    global dropped
    ep = select.epoll()
    for _, fd in stored:
        if fd in unpolled:
            continue
        try:
            ep.register(fd, 0)
        except (PermissionError, FileExistsError):
            pass
    for fd, ev in ep.poll(0):
        if ev & (select.EPOLLHUP | select.EPOLLERR):
            for e in [e for e in stored if e[1] == fd]:
                stored.remove(e)
            os.close(fd)
            dropped += 1
    ep.close()


def start(n):
    passed = list(stored)
    pid = os.fork()
    if pid == 0:
        # out of the way first, then from 3 on
        high = [os.dup(fd) for _, fd in passed]
        for i, fd in enumerate(high):
            os.dup2(fd, 3 + i, inheritable=True)
        for fd in high:
            if fd >= 3 + len(high):
                os.close(fd)
        env = dict(os.environ, NOTIFY_SOCKET=notify)
        if passed:
            env.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS=str(len(passed)),
                       LISTEN_FDNAMES=":".join(name for name, _ in passed))
        os.execvpe(cmd[0], cmd, env)
    with open(os.path.join(out, "pid.%d" % n), "w") as f:
        f.write("%d\n" % pid)
    # systemd keeps its store until the service is stopped for good
    return pid


for n in range(1, runs + 1):
    gate = os.path.join(out, "go.%d" % n)
    while n > 1 and os.environ.get("FD_STORE_GATE") == "1" and not os.path.exists(gate):
        poll_store()
        select.select([], [], [], 0.05)
    poll_store()
    with open(os.path.join(out, "dropped.%d" % n), "w") as f:
        f.write("%d\n" % dropped)
    pid = start(n)
    while True:
        r, _, _ = select.select([sock], [], [], 0.1)
        if r:
            receive()
        poll_store()
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            while select.select([sock], [], [], 0)[0]:
                receive()
            break
    with open(os.path.join(out, "exit.%d" % n), "w") as f:
        f.write("%d\n" % os.waitstatus_to_exitcode(status))
    with open(os.path.join(out, "stored.%d" % n), "w") as f:
        f.write("%d\n" % len(stored))
for _, fd in stored:
    os.close(fd)
