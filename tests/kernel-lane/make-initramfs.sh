#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Builds an uncompressed initramfs (newc cpio) for a kernel lane VM:
# busybox-static with every applet linked, the named modules of an unpacked
# Debian kernel package together with everything they depend on (written
# as plain .ko, in load order, to /lib/modules/load-order), optionally
# qemu-system-x86_64 with its libraries and firmware, and extra files.
# Uncompressed because decompressing under TCG costs more than reading.
#
#   make-initramfs.sh OUT.cpio KERNEL_DIR "MODULE ..." [--qemu] [SRC:DST ...]
#
# A module that is neither in the package nor built into the kernel is an
# error. DST is relative to the initramfs root; SRC may be a directory.
set -euo pipefail
out=$1 kdir=$2 wanted=$3
shift 3
with_qemu=0
if [ "${1:-}" = --qemu ]; then
	with_qemu=1
	shift
fi

kver=$(ls "$kdir/lib/modules")
kmod=$kdir/lib/modules/$kver
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,dev,proc,sys,tmp,run,out,lib/modules}

# ------------------------------------------------------------ busybox
cp /bin/busybox "$root/bin/busybox"
for a in $(/bin/busybox --list); do
	[ "$a" = busybox ] || ln -s busybox "$root/bin/$a"
done

# ------------------------------------------------------------ modules
declare -A path_of=() state=()
while read -r name f; do path_of[$name]=$f; done < <(find "$kmod/kernel" -name '*.ko*' |
	awk -F/ '{ n = $NF; sub(/\.ko.*/, "", n); gsub(/-/, "_", n); print n, $0 }')
builtin=" $(sed 's|.*/||; s|\.ko$||; s|-|_|g' "$kmod/modules.builtin" | tr '\n' ' ') "
order=()

module_deps() { # file -> its depends= list, comma separated
	case $1 in
	*.xz) xz -dc "$1" ;;
	*.zst) zstd -qdc "$1" ;;
	*) cat "$1" ;;
	esac | tr '\0' '\n' | sed -n "s/^depends=//p"
}

visit() { # module name: its dependencies first, then itself
	local m=${1//-/_} d deps
	case ${state[$m]:-} in
	done) return 0 ;;
	visiting) echo "make-initramfs: dependency cycle at $m" >&2; return 1 ;;
	esac
	if [ -z "${path_of[$m]:-}" ]; then
		if [[ $builtin == *" $m "* ]]; then
			state[$m]="done"
			return 0
		fi
		echo "make-initramfs: module $m is neither in $kdir nor built in" >&2
		return 1
	fi
	state[$m]=visiting
	deps=$(module_deps "${path_of[$m]}")
	for d in ${deps//,/ }; do visit "$d" || return 1; done
	state[$m]="done"
	order+=("$m")
}

for m in $wanted; do visit "$m"; done
for m in "${order[@]}"; do
	f=${path_of[$m]}
	case $f in
	*.xz) xz -dc "$f" ;;
	*.zst) zstd -qdc "$f" ;;
	*) cat "$f" ;;
	esac >"$root/lib/modules/$m.ko"
	echo "$m" >>"$root/lib/modules/load-order"
done

# ------------------------------------------------------------ qemu
if [ "$with_qemu" = 1 ]; then
	q=/usr/bin/qemu-system-x86_64
	mkdir -p "$root/usr/bin" "$root/lib64" "$root/lib/x86_64-linux-gnu" \
		"$root/usr/lib/x86_64-linux-gnu/qemu" "$root/usr/share/qemu"
	cp "$q" "$root/usr/bin/"
	cp -L /lib64/ld-linux-x86-64.so.2 "$root/lib64/"
	for l in $(ldd "$q" | awk '$3 ~ /^\// {print $3}'); do
		cp -L "$l" "$root/lib/x86_64-linux-gnu/"
	done
	# TCG is a loadable module in Debian's qemu (used when the VM has no KVM).
	cp /usr/lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so "$root/usr/lib/x86_64-linux-gnu/qemu/"
	for f in qboot.rom linuxboot.bin linuxboot_dma.bin kvmvapic.bin pvh.bin; do
		cp -L "/usr/share/qemu/$f" "$root/usr/share/qemu/"
	done
fi

# ------------------------------------------------------------ extra files
for spec in "$@"; do
	src=${spec%%:*} dst=${spec#*:}
	mkdir -p "$root/$(dirname "$dst")"
	cp -a "$src" "$root/$dst"
done

(cd "$root" && find . | /bin/busybox cpio -o -H newc 2>/dev/null) >"$out"
