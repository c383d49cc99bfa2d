#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# A new daemon that fails halfway through a takeover (docs/takeover.md): it
# asks the daemon on the control socket to hand over, reads the offer and the
# descriptors that follow, then goes away without a commit. The running
# daemon must take everything back and serve on. Prints what it was offered.
#
# The request needs the daemon's layout text: a first request with none is
# refused, and the refusal says it.
#
#   takeover-abort.py CONTROL_SOCKET MODE
import array
import re
import socket
import struct
import sys


def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def field(num, data):
    return varint(num << 3 | 2) + varint(len(data)) + data


def takeover(layout, mode):
    body = varint(1 << 3) + varint(1)  # version
    body += field(2, layout.encode()) + field(3, mode.encode()) + field(4, b"bpf")
    body += varint(5 << 3) + varint(4242)
    msg = field(10, body)
    return struct.pack(">I", len(msg)) + msg


def recv_exact(s, n, fds):
    buf = b""
    while len(buf) < n:
        data, anc, _, _ = s.recvmsg(n - len(buf), socket.CMSG_SPACE(256 * 4))
        if not data:
            raise EOFError("the daemon closed the connection")
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                a = array.array("i")
                a.frombytes(payload[: len(payload) - len(payload) % 4])
                fds.extend(a)
        buf += data
    return buf


def message(s, fds):
    (n,) = struct.unpack(">I", recv_exact(s, 4, fds))
    return recv_exact(s, n, fds)


path, mode = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(path)
s.sendall(takeover("", mode))
fds = []
refusal = message(s, fds)
m = re.search(rb"this daemon's \"([^\"]*)\"", refusal)
if not m:
    sys.exit("no layout in the refusal: %r" % refusal)
s.close()
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(path)
s.sendall(takeover(m.group(1).decode(), mode))
offer = message(s, fds)
if offer[:1] != bytes([11 << 3 | 2]):
    sys.exit("not an offer: %r" % offer[:200])
# the first batch of descriptors proves the daemon paused and handed them
batch = message(s, fds)
print("offer of %d bytes; %d descriptors received in the first batch" % (len(offer), len(fds)))
sys.stdout.flush()
s.close()  # no commit: the daemon must resume
