#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Attach strategy selection on this kernel: every strategy is compiled into
# the binary; auto picks the first that loads and attaches; asking for one
# the kernel refuses fails with a clear message instead of capturing nothing.
. "$(dirname "$0")/lib.sh"
log "attach strategies"
probe() { # strategy -> exit status of a short run
	timeout 20 "$KT" run --mode tap --attach "$1" --exporter console --log-level info \
		>"$OUT/$1.out" 2>"$OUT/$1.log" &
	local pid=$!
	wait_for 15 "$1 run to settle" grep -qE ' ready: |no attach strategy' "$OUT/$1.log"
	kill -TERM $pid 2>/dev/null
	wait $pid
}
probe auto
check "auto: logs its choice and starts" grep -qE 'unix capture: attached with [a-z]+ strategy \(auto\)' "$OUT/auto.log"
chosen=$(grep -oE 'unix capture: attached with [a-z]+ strategy' "$OUT/auto.log" | awk '{print $5}')
echo "  auto chose: $chosen"
for s in fentry kprobe tracepoint; do
	probe $s
	rc=$?
	if grep -q "unix capture: attached with $s strategy" "$OUT/$s.log"; then
		check "$s: works here, exit 0 on SIGTERM" [ $rc = 0 ]
	else
		check_exit "$s: refused by this kernel, exit 1 with a clear error" $rc 1 "$OUT/$s.log" \
			"no attach strategy works on this kernel ($s requested)"
	fi
done
check "the strategy auto chose also works when asked for" grep -q "unix capture: attached with $chosen strategy" "$OUT/$chosen.log"
# vsock capture loads on this kernel too (AF_VSOCK traffic itself needs a
# vsock transport, which only the kernel lane's VMs have).
check "vsock capture: auto attaches a strategy here" \
	grep -qE 'vsock capture: attached with [a-z]+ strategy \(auto\)' "$OUT/auto.log"
# Mounts: the program mounts tracefs/bpffs itself when they are missing.
if mountpoint -q /sys/kernel/tracing && [ -z "${CI_NO_UNMOUNT:-}" ]; then
	umount /sys/kernel/tracing 2>/dev/null
	probe tracepoint
	check "tracefs mounted by the program when absent" mountpoint -q /sys/kernel/tracing
fi
finish
