#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# An image's root file system, assembled from this machine's files: the
# programs named (into /usr/bin, stripped of debugging data), every shared
# library they load (ldd's answer, under /usr/lib with /lib and /lib64 as the
# links Debian has), the CA certificates (for OTLP over TLS), and an
# /etc/passwd and /etc/group that know root and nobody (the daemon runs as
# nobody once started). Nothing is downloaded.
#
#   deploy/image/rootfs.sh DIR PROGRAM...
set -eu
[ $# -ge 2 ] || { echo "usage: $0 DIR PROGRAM..." >&2; exit 2; }
dir=$1
shift
rm -rf "$dir"
mkdir -p "$dir/usr/bin" "$dir/usr/lib" "$dir/usr/lib64" "$dir/etc/ssl/certs" "$dir/tmp" "$dir/run" \
	"$dir/sys" "$dir/proc"
chmod 1777 "$dir/tmp"
ln -s usr/lib "$dir/lib"
ln -s usr/lib64 "$dir/lib64"
ln -s usr/bin "$dir/bin"

# A library at the path the loader finds it, with /lib/... kept as /usr/lib/...
copy_lib() { # path
	case $1 in
	/usr/*) to=$1 ;;
	*) to=/usr$1 ;;
	esac
	[ -e "$dir$to" ] && return 0
	mkdir -p "$dir$(dirname "$to")"
	cp -L "$1" "$dir$to"
}

for prog in "$@"; do
	[ -x "$prog" ] || { echo "$0: $prog: not an executable" >&2; exit 1; }
	out=$dir/usr/bin/$(basename "$prog")
	cp -L "$prog" "$out"
	strip --strip-debug "$out"
	# "libx.so => /lib/.../libx.so (0x...)" and the loader's own "/lib64/ld-linux-x86-64.so.2 (0x...)"
	libs=$(ldd "$prog" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }') || {
		echo "$0: ldd $prog failed" >&2
		exit 1
	}
	if ldd "$prog" | grep -q 'not found'; then
		echo "$0: $prog: a library is missing: $(ldd "$prog" | grep 'not found')" >&2
		exit 1
	fi
	for lib in $libs; do copy_lib "$lib"; done
done

cp -L /etc/ssl/certs/ca-certificates.crt "$dir/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/:/nonexistent\nnobody:x:65534:65534:nobody:/nonexistent:/nonexistent\n' \
	>"$dir/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$dir/etc/group"
