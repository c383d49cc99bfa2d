#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Downloads and unpacks a Debian kernel package for the kernel lane, once:
# the package is resolved through its meta-package, fetched with
# `apt-get download` and unpacked with `dpkg -x` under build/kernels/ (never
# installed). Later runs find it there and download nothing.
#
#   tests/kernel-lane/fetch-kernel.sh LABEL    LABEL: 6.1, 6.12 or newest
#
# "newest" is Debian unstable's default kernel (not part of the default run):
# the only one here new enough for nonlinear vhost-vsock packets (>= 6.17).
# It is resolved through a private apt state under build/kernels/sid, so the
# system's sources are not touched.
#
# Prints the unpacked directory (with boot/vmlinuz-* and lib/modules/*).
set -euo pipefail
cd "$(dirname "$0")/../.."
CACHE=build/kernels

APT=()
case ${1:-} in
6.1) meta=linux-image-amd64 ;;          # bookworm's default kernel
6.12) meta=linux-image-6.12-amd64 ;;    # bookworm-security
newest)
	meta=linux-image-amd64
	sid=$PWD/$CACHE/sid
	APT=(-o "Dir::Etc::SourceList=$sid/sources.list" -o "Dir::State::Lists=$sid/lists"
		-o Dir::Etc::SourceParts=/dev/null)
	if [ ! -f "$sid/sources.list" ]; then
		mkdir -p "$sid/lists/partial"
		echo 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian sid main' \
			>"$sid/sources.list"
		apt-get "${APT[@]}" update -qq >&2
	fi
	;;
*)
	echo "fetch-kernel: unknown kernel '${1:-}' (known: 6.1 6.12 newest)" >&2
	exit 2
	;;
esac

resolve() { apt-cache "${APT[@]}" depends "$meta" 2>/dev/null | awk '/Depends: linux-image-/{print $2; exit}'; }
pkg=$(resolve)
if [ -z "$pkg" ]; then
	apt-get "${APT[@]}" update -qq >&2
	pkg=$(resolve)
fi
if [ -z "$pkg" ]; then
	echo "fetch-kernel: cannot resolve $meta to a linux-image package" >&2
	exit 1
fi

dir=$CACHE/$pkg
if [ ! -f "$dir/.complete" ]; then
	echo "fetch-kernel: downloading $pkg (for $meta)" >&2
	mkdir -p "$CACHE"
	tmp=$(mktemp -d "$CACHE/.download.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	# Newer Debian splits the image: kernel and modules in their own packages.
	pkgs=("$pkg")
	ver=${pkg#linux-image-}
	for part in binary base modules; do
		if apt-cache "${APT[@]}" show "linux-$part-$ver" >/dev/null 2>&1; then
			pkgs+=("linux-$part-$ver")
		fi
	done
	# As root, apt warns that its sandbox user cannot write here; harmless.
	if ! (cd "$tmp" && apt-get "${APT[@]}" download -q "${pkgs[@]}") >"$tmp/log" 2>&1; then
		cat "$tmp/log" >&2
		echo "fetch-kernel: apt-get download ${pkgs[*]} failed" >&2
		exit 1
	fi
	rm -rf "$dir"
	mkdir -p "$dir"
	for deb in "$tmp"/*.deb; do dpkg -x "$deb" "$dir"; done
	# Same layout as the older packages: boot/vmlinuz-*, lib/modules/.
	if [ ! -d "$dir/lib/modules" ] && [ -d "$dir/usr/lib/modules" ]; then
		mkdir -p "$dir/lib" "$dir/boot"
		ln -s ../usr/lib/modules "$dir/lib/modules"
		for v in "$dir"/usr/lib/modules/*/vmlinuz; do
			cp "$v" "$dir/boot/vmlinuz-$(basename "$(dirname "$v")")"
		done
	fi
	ls "$dir"/boot/vmlinuz-* >/dev/null
	touch "$dir/.complete"
fi
echo "$dir"
