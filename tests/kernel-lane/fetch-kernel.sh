#!/bin/bash
# Downloads and unpacks a Debian kernel package for the kernel lane, once:
# the package is resolved through its meta-package, fetched with
# `apt-get download` and unpacked with `dpkg -x` under build/kernels/ (never
# installed). Later runs find it there and download nothing.
#
#   tests/kernel-lane/fetch-kernel.sh LABEL    LABEL: 6.1 or 6.12
#
# Prints the unpacked directory (with boot/vmlinuz-* and lib/modules/*).
set -euo pipefail
cd "$(dirname "$0")/../.."
CACHE=build/kernels

case ${1:-} in
6.1) meta=linux-image-amd64 ;;          # bookworm's default kernel
6.12) meta=linux-image-6.12-amd64 ;;    # bookworm-security
*)
	echo "fetch-kernel: unknown kernel '${1:-}' (known: 6.1 6.12)" >&2
	exit 2
	;;
esac

resolve() { apt-cache depends "$meta" 2>/dev/null | awk '/Depends: linux-image-/{print $2; exit}'; }
pkg=$(resolve)
if [ -z "$pkg" ]; then
	apt-get update -qq >&2
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
	# As root, apt warns that its sandbox user cannot write here; harmless.
	if ! (cd "$tmp" && apt-get download -q "$pkg") >"$tmp/log" 2>&1; then
		cat "$tmp/log" >&2
		echo "fetch-kernel: apt-get download $pkg failed" >&2
		exit 1
	fi
	rm -rf "$dir"
	mkdir -p "$dir"
	dpkg -x "$tmp"/*.deb "$dir"
	ls "$dir"/boot/vmlinuz-* >/dev/null
	touch "$dir/.complete"
fi
echo "$dir"
