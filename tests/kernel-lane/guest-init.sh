#!/bin/sh
# /init of the nested guest started by the vhost-guest scenario: loads the
# virtio-vsock guest transport, sends every stream of /lane/conns (one
# concurrent connection per line) to the host, CID 2, port PORT, powers off.
# SEED and PORT come from the kernel command line.
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
while read -r m; do
	insmod "/lib/modules/$m.ko" || echo "guest: insmod $m failed"
done </lib/modules/load-order
echo "guest: up at $(cut -d' ' -f1 /proc/uptime)s"
set --
while read -r files; do set -- "$@" "vsock:2:$PORT=$files"; done </lane/conns
/lane/bin/hv-relay --seed "$SEED" --max-chunk 65536 "$@"
echo "guest: relay rc=$? at $(cut -d' ' -f1 /proc/uptime)s"
poweroff -f
