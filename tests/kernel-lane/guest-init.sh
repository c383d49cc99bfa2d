#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# /init of the nested guest started by the vhost-guest scenario: loads the
# virtio-vsock guest transport, sends every stream of /lane/conns (one
# concurrent connection per line) to the host, CID 2, port PORT, powers off.
# SEED, PORT and MODE come from the kernel command line. MODE=ttrpc (the
# vhost-ttrpc scenarios) plays the agent instead: it serves the runtime's
# ttrpc connection on vsock port 1024, then sends its span of the traced
# call (/lane/conns.ttrpc) and the spans it made of the calls without
# traceparent (new traces, as the agent makes them) to port PORT.
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
while read -r m; do
	insmod "/lib/modules/$m.ko" || echo "guest: insmod $m failed"
done </lib/modules/load-order
echo "guest: up at $(cut -d' ' -f1 /proc/uptime)s"
if [ "${MODE:-}" = ttrpc ]; then
	/lane/bin/ttrpc-peer agent vsock:1024 /agent-spans.bin
	echo "guest: agent rc=$? at $(cut -d' ' -f1 /proc/uptime)s"
	echo "guest: agent spans $(wc -c </agent-spans.bin) bytes"
	set --
	while read -r files; do set -- "$@" "vsock:2:$PORT=$files,/agent-spans.bin"; done </lane/conns.ttrpc
	/lane/bin/hv-relay --seed "$SEED" --report "$@"
	echo "guest: relay rc=$? at $(cut -d' ' -f1 /proc/uptime)s"
	poweroff -f
fi
set --
while read -r files; do set -- "$@" "vsock:2:$PORT=$files"; done </lane/conns
/lane/bin/hv-relay --seed "$SEED" --max-chunk 65536 --report "$@"
echo "guest: relay rc=$? at $(cut -d' ' -f1 /proc/uptime)s"
poweroff -f
