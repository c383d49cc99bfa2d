#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Boots a kernel lane test VM under QEMU TCG (a /dev/kvm that runs stock
# kernels cannot be relied on) with a raw virtio disk for its results, until
# it powers off or VM_TIMEOUT seconds pass. The serial console goes to
# CONSOLE_LOG with the "\r" the serial line adds removed; its "lane:" lines
# are echoed.
#
#   boot-vm.sh VMLINUZ INITRD DISK CONSOLE_LOG [KEY=value ...]
#
# KEY=value words reach the VM's /init as environment variables.
# Exit status: QEMU's (124 on timeout).
#
# One vCPU: with two, multi-threaded TCG now and then lets one vCPU run a
# stale translation of kernel text the other has just patched (static keys
# flipped by KVM, kprobes, fentry trampolines), and the guest dies with an
# Oops on int3.
set -uo pipefail
kernel=$1 initrd=$2 disk=$3 log=$4
shift 4
timeout "${VM_TIMEOUT:-900}" qemu-system-x86_64 -accel tcg -cpu max -m 2G -smp 1 \
	-nographic -no-reboot -nodefaults -serial stdio \
	-kernel "$kernel" -initrd "$initrd" -append "console=ttyS0 panic=-1 quiet $*" \
	-drive "file=$disk,format=raw,if=virtio" </dev/null 2>&1 |
	sed -u 's/\r//g' | tee "$log" | grep --line-buffered '^lane:' | sed -u 's/^/    /'
exit "${PIPESTATUS[0]}"
