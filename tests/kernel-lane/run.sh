#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The kernel lane: boots Debian's stock kernels under QEMU TCG, one VM per
# kernel, runs every scenario inside it (vm-scenarios.sh), and checks on the
# host what each one produced (check-results.sh). Prints one row per
# kernel x strategy x path, timings, then "N passed, N failed".
#
#   tests/kernel-lane/run.sh          (make test-kernels)
#
# Environment:
#   KERNELS="6.1 6.12"   kernels to boot (fetch-kernel.sh labels; "newest" adds
#                        Debian unstable's kernel, the only one with nonlinear
#                        vhost-vsock packets)
#   SCENARIOS="..."      a subset of the scenarios below
#   SEED=42              seed of the generated spans and of the senders
#   KEEP_OUT=1           keep build/kernel-lane/ (images, logs, spans) after a clean run
#   VM_TIMEOUT=900       seconds one kernel's VM may run
#   L3_ACCEL=tcg         run the nested guests under TCG even where nested KVM works
#                        (vhost-guest-fentry, which requires KVM, then fails)
#   L3_KERNEL=LABEL      the nested guest's kernel (default: the VM's; 6.12 for newest)
#
# Needs build/katatrace-bpf.static, build/tools-static/{hv-relay,sock-drain,ttrpc-peer},
# build/tools/vecgen, tests/receiver's node modules and qemu-system-x86,
# busybox-static, xz-utils (the Makefile provides them all).
set -u
cd "$(dirname "$0")/../.." || exit 2
ROOT=$PWD
LANE=$ROOT/tests/kernel-lane
WORK=$ROOT/build/kernel-lane
KERNELS=${KERNELS:-"6.1 6.12"}
ALL_SCENARIOS=(vsock-loopback-fentry vsock-loopback-kprobe unix-fentry unix-kprobe
	vsock-loopback-tracepoint vsock-sink-fentry vsock-sink-socket vhost-guest-fentry
	vhost-echo-kprobe vhost-ttrpc-fentry vhost-ttrpc-kprobe vhost-ttrpc-tracepoint)
read -r -a list <<<"${SCENARIOS:-${ALL_SCENARIOS[*]}}"
SCENARIOS=${list[*]}
# The one scenario whose nested guest must run under KVM, its exits counted.
case " $SCENARIOS " in
*" vhost-guest-fentry "*) ;;
*) echo "kernel lane: SCENARIOS leaves out vhost-guest-fentry: a KVM guest's exit count is not checked" ;;
esac
SEED=${SEED:-42}
# The test VM: vsock with the loopback and vhost transports, the virtio disk
# for results, KVM (nested SVM: -cpu max under TCG exposes it) for the guest.
VM_MODULES="vsock vmw_vsock_virtio_transport_common vsock_loopback vhost_iotlb vhost vhost_vsock
	virtio_pci virtio_blk kvm ccp kvm-amd kvm-intel"
# The nested guest: the virtio-vsock guest transport.
GUEST_MODULES="vsock vmw_vsock_virtio_transport_common vmw_vsock_virtio_transport virtio_pci"

passed=0
failed=0
timings=()
t_all=$SECONDS

for f in build/katatrace-bpf.static build/tools-static/hv-relay build/tools-static/sock-drain \
	build/tools-static/ttrpc-peer build/tools/vecgen; do
	if [ ! -x "$f" ]; then
		echo "kernel lane: $f is missing (make static static-tools tools)"
		echo "0 passed, 1 failed"
		exit 1
	fi
done

rm -rf "$WORK"
mkdir -p "$WORK"
table=$WORK/table
: >"$table"
if ! "$LANE/make-workload.sh" "$WORK" "$SEED" "$SCENARIOS"; then
	echo "kernel lane: workload generation failed"
	echo "0 passed, 1 failed"
	exit 1
fi

# Both initramfs images of one kernel; the guest's goes inside the VM's.
# The nested guest runs the same kernel, except for "newest", which does not
# boot as a nested guest on QEMU's emulated SVM: it gets 6.12 (L3_KERNEL
# overrides). Only the middle VM's kernel matters to the capture.
build_images() { # kernel-dir run-dir label
	local kdir=$1 run=$2 gkdir=$1 vmlinuz gvmlinuz
	local glabel=${L3_KERNEL:-$3}
	[ "$glabel" = newest ] && [ -z "${L3_KERNEL:-}" ] && glabel=6.12
	if [ "$glabel" != "$3" ]; then
		gkdir=$("$LANE/fetch-kernel.sh" "$glabel") || return 1
	fi
	vmlinuz=$(ls "$kdir"/boot/vmlinuz-*) || return 1
	gvmlinuz=$(ls "$gkdir"/boot/vmlinuz-*) || return 1
	"$LANE/make-initramfs.sh" "$run/guest.cpio" "$gkdir" "$GUEST_MODULES" \
		"$LANE/guest-init.sh:init" \
		build/tools-static/hv-relay:lane/bin/hv-relay \
		build/tools-static/ttrpc-peer:lane/bin/ttrpc-peer \
		"$WORK/lane/vec:lane/vec" \
		"$WORK/lane/gen:lane/gen" \
		"$WORK/lane/ttrpc:lane/ttrpc" \
		"$WORK/lane/conns.guest:lane/conns" \
		"$WORK/lane/conns.ttrpc:lane/conns.ttrpc" || return 1
	"$LANE/make-initramfs.sh" "$run/vm.cpio" "$kdir" "$VM_MODULES" --qemu \
		"$LANE/vm-init.sh:init" \
		"$WORK/lane:lane" \
		"$LANE/vm-scenarios.sh:lane/vm-scenarios.sh" \
		build/katatrace-bpf.static:lane/bin/katatrace-bpf \
		build/tools-static/hv-relay:lane/bin/hv-relay \
		build/tools-static/sock-drain:lane/bin/sock-drain \
		build/tools-static/ttrpc-peer:lane/bin/ttrpc-peer \
		"$gvmlinuz:lane/l3/vmlinuz" \
		"$run/guest.cpio:lane/l3/initrd.cpio" || return 1
	cp "$vmlinuz" "$run/vmlinuz"
}

for k in $KERNELS; do
	run=$WORK/$k
	mkdir -p "$run/out"
	echo "=== kernel $k"
	t0=$SECONDS
	if kdir=$("$LANE/fetch-kernel.sh" "$k") && build_images "$kdir" "$run" "$k"; then
		echo "  ${kdir##*/}, images built in $((SECONDS - t0)) s; booting"
		t1=$SECONDS
		truncate -s 512M "$run/disk.img"
		"$LANE/boot-vm.sh" "$run/vmlinuz" "$run/vm.cpio" "$run/disk.img" "$run/console.log" \
			${L3_ACCEL:+"L3_ACCEL=$L3_ACCEL"}
		echo $? >"$run/vm.rc"
		t2=$SECONDS
		tar -xf "$run/disk.img" -C "$run/out" 2>"$run/untar.log" ||
			echo "  no results on the VM's disk: $(head -n 1 "$run/untar.log")"
		if [ "$(cat "$run/vm.rc")" != 0 ]; then
			echo "  the VM did not power off by itself (status $(cat "$run/vm.rc")); console tail:"
			tail -n 15 "$run/console.log" | sed 's/^/    /'
		fi
	else
		echo "  could not fetch the kernel or build its images"
		t1=$SECONDS t2=$SECONDS
	fi
	"$LANE/check-results.sh" "$k" "$WORK" "$run" "$table" | tee "$run/check.out"
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$run/check.out" | tail -n 1)
	if [ -z "$line" ]; then
		failed=$((failed + 1))
	else
		passed=$((passed + $(echo "$line" | awk '{print $1}')))
		failed=$((failed + $(echo "$line" | awk '{print $3}')))
	fi
	timings+=("$k: fetch + images $((t1 - t0)) s, VM $((t2 - t1)) s, checks $((SECONDS - t2)) s")
done

echo "=== kernel lane results"
printf '%-6s %-10s %-15s %-7s %s\n' kernel strategy path spans result
cat "$table"
for t in "${timings[@]}"; do echo "timing $t"; done
echo "timing total $((SECONDS - t_all)) s"
if [ "$failed" = 0 ] && [ -z "${KEEP_OUT:-}" ]; then
	rm -rf "$WORK"
else
	echo "artifacts kept in $WORK"
fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
