#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# make image: katatrace-bpf's two images, built from this machine's files on
# no base image (deploy/image/Containerfile, deploy/image/rootfs.sh):
#   IMAGE:latest, IMAGE:VERSION             the binary and bpftrace (for the
#                                           probe command's -e and -f)
#   IMAGE:slim, IMAGE:VERSION-slim          the binary alone
# with Debian's podman (installed if missing), or with docker when podman is
# missing and a docker daemon answers; CONTAINER_ENGINE=podman|docker chooses.
# The build runs no container and downloads nothing.
#
#   deploy/image/build.sh BINARY IMAGE VERSION BUILD_DIR
set -eu
[ $# -eq 4 ] || { echo "usage: $0 BINARY IMAGE VERSION BUILD_DIR" >&2; exit 2; }
bin=$1 image=$2 version=$3 out=$4
here=$(cd "$(dirname "$0")" && pwd)
tools=$here/../../tools

engine=${CONTAINER_ENGINE:-}
if [ -z "$engine" ]; then
	if command -v podman >/dev/null 2>&1; then
		engine=podman
	elif command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
		engine=docker
	else
		"$tools/ensure-command" podman podman
		engine=podman
	fi
fi
command -v "$engine" >/dev/null 2>&1 || { echo "$0: CONTAINER_ENGINE=$engine: no such command" >&2; exit 1; }
"$tools/ensure-command" bpftrace bpftrace
bpftrace=$(command -v bpftrace)

# variant suffix programs...
build() {
	v=$1 suffix=$2
	shift 2
	ctx=$out/$v
	"$here/rootfs.sh" "$ctx/rootfs" "$@"
	cp "$here/Containerfile" "$ctx/Containerfile"
	"$engine" build -q -f "$ctx/Containerfile" \
		--label org.opencontainers.image.title=katatrace-bpf \
		--label org.opencontainers.image.version="$version" \
		--label org.opencontainers.image.licenses=Apache-2.0 \
		--label org.opencontainers.image.description="katatrace-bpf ($v): Kata Containers tracing from the host, node-wide" \
		-t "$image:${version}$suffix" -t "$image:$([ -n "$suffix" ] && echo "${suffix#-}" || echo latest)" \
		"$ctx" >/dev/null
	size=$(du -sk "$ctx/rootfs" | cut -f1)
	echo "$image:${version}$suffix ($v): $((size / 1024)) MiB of files, built with $engine"
}
build slim -slim "$bin"
build bpftrace "" "$bin" "$bpftrace"
