#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# /init of the kernel lane's test VM (busybox sh). Mounts what the tracer
# needs, loads the modules in /lib/modules/load-order, runs every scenario
# of /lane/lane.conf (LANE_SCENARIOS=a,b on the kernel command line runs
# only those), saves /out to the raw virtio disk as a tar stream after each
# scenario, and powers off. Progress lines on the console start with "lane:".
export PATH=/bin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mount -t tracefs tracefs /sys/kernel/tracing
mount -t bpf bpf /sys/fs/bpf

. /lane/lane.conf
. /lane/vm-scenarios.sh
[ -n "${LANE_SCENARIOS:-}" ] && SCENARIOS=$(echo "$LANE_SCENARIOS" | tr ',' ' ')

say "init at $(uptime_s)s, kernel $(uname -r)"
uname -r >/out/kernel
while read -r m; do
	if err=$(insmod "/lib/modules/$m.ko" 2>&1); then
		echo "ok $m"
	else
		echo "FAILED $m: $err"
	fi
done </lib/modules/load-order >/out/modules.log
# kvm_intel cannot load beside kvm_amd (the VM's CPU has SVM, not VMX).
say "modules: $(grep -c '^ok' /out/modules.log) loaded;" \
	"not loaded: $(sed -n 's/^FAILED \([^:]*\):.*: /\1 (/p' /out/modules.log | sed 's/$/)/' | tr '\n' ' ')"
wait_until 10 test -b /dev/vda || say "no /dev/vda: results cannot be saved"

# Saves everything so far; a later, longer archive simply overwrites it.
checkpoint() {
	tar -cf /dev/vda -C /out . && sync
}
checkpoint

for s in $SCENARIOS; do
	t0=$(uptime_s)
	say "$s: start at ${t0}s"
	run_scenario "$s"
	t1=$(uptime_s)
	echo "$s $t0 $t1" >>/out/timings
	say "$s: done at ${t1}s"
	checkpoint
done
uptime_s >/out/finished
checkpoint
say "all scenarios done at $(uptime_s)s"
poweroff -f
