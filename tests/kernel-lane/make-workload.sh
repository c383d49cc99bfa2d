#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Writes what the kernel lane's VMs send, and what the host later expects:
#
#   WORK/lane/          copied to /lane in the test VM
#     lane.conf         SEED, PORT, SCENARIOS, TTRPC_TRACE, TTRPC_SPAN
#     sandboxes         "SCENARIO SANDBOX_ID" (64 hex digits, fresh each run)
#     conns.tap         one line per concurrent connection of the tap scenarios:
#                       the files it carries, comma separated, as /lane/... paths;
#                       the last one is hostile (garbage and an oversize header)
#     conns.guest       the same for the nested guest
#     conns.ttrpc       the agent's span of the ttrpc scenarios' call (nested guest)
#     ttrpc/            the runtime's request (traceparent TTRPC_TRACE, TTRPC_SPAN)
#                       and the agent's span of that call (parent TTRPC_SPAN)
#     vec/              the two golden streams
#     gen/              generated span variants (framed)
#   WORK/expected/      expected_*.json of the variants, and their list
#                       ("ERA FRAMED_FILE EXPECTED_FILE", see tests/tools/vecgen.c)
#
#   make-workload.sh WORK SEED "SCENARIO ..."
set -euo pipefail
work=$1 seed=$2 scenarios=$3
root=$(cd "$(dirname "$0")/../.." && pwd)
vec=$root/tests/vectors
lane=$work/lane

rm -rf "$lane" "$work/expected"
mkdir -p "$lane/vec" "$lane/gen" "$work/expected"
cp "$vec/framed_stream_otel017_json.bin" "$vec/framed_stream_otel014_bincode.bin" \
	"$vec/framed_otel017_json_worked.bin" "$vec/framed_otel014_bincode_root.bin" \
	"$vec/framed_otel017_json_values.bin" "$lane/vec/"

# Hostile pieces (as in tests/integration/lib.sh): a frame of garbage with a
# valid length, and a header announcing 2^63 bytes.
mkdir -p "$lane/hostile"
{ printf '\x00\x00\x00\x00\x00\x00\x00\xc8'; head -c 200 /dev/urandom; } >"$lane/hostile/garbage.bin"
printf '\x80\x00\x00\x00\x00\x00\x00\x00' >"$lane/hostile/oversize.bin"

# Edge and random ids (3 random per era) and one 300 KiB attribute per era.
"$root/build/tools/vecgen" "$vec" "$lane/gen" "$seed" 3 300 >"$work/expected/list.gen"
mv "$lane"/gen/expected_*.json "$work/expected/"
sed "s|$lane/gen/expected_|$work/expected/expected_|" "$work/expected/list.gen" >"$work/expected/list"
rm "$work/expected/list.gen"

vm_files() { # era -> the variants of that era as /lane paths, comma separated
	awk -v e="$1" '$1 == e { n = split($2, p, "/"); printf "%s/lane/gen/%s", s, p[n]; s = "," }' \
		"$work/expected/list"
}
{
	echo /lane/vec/framed_stream_otel017_json.bin
	echo /lane/vec/framed_stream_otel014_bincode.bin
	vm_files json
	echo
	vm_files bincode
	echo
	# hostile: good, garbage, good, 2^63 header, and a frame never decoded
	echo /lane/vec/framed_otel017_json_worked.bin,/lane/hostile/garbage.bin,/lane/vec/framed_otel014_bincode_root.bin,/lane/hostile/oversize.bin,/lane/vec/framed_otel017_json_values.bin
} >"$lane/conns.tap"
# The guest also sends the two 300 KiB spans (the last variants vecgen
# wrote), in writes of up to 64 KiB: packets large enough for nonlinear
# sk_buffs on kernels that make them.
big=$(tail -n 2 "$work/expected/list" | awk '{ n = split($2, p, "/"); printf "%s/lane/gen/%s", s, p[n]; s = "," }')
{
	echo /lane/vec/framed_stream_otel017_json.bin
	echo /lane/vec/framed_stream_otel014_bincode.bin
	echo "$big"
} >"$lane/conns.guest"

# The runtime's call to the agent over vsock port 1024 carries the
# traceparent of the ttrpc request vector; the agent's span of that call is
# in the same trace, its parent the runtime's span.
ttrpc_trace=0af7651916cd43dd8448eb211c80319c
ttrpc_span=b7ad6b7169203331
agent_span=$(od -An -tx8 -N8 /dev/urandom | tr -d ' \n')
mkdir -p "$lane/ttrpc"
cp "$vec/ttrpc_request_createcontainer.bin" "$lane/ttrpc/request.bin"
"$root/build/tools/vecgen" "$vec" "$lane/ttrpc" --ids "$ttrpc_trace" "${agent_span/#0/1}" "$ttrpc_span" |
	sed "s|$lane/ttrpc/expected_|$work/expected/expected_|" >>"$work/expected/list"
mv "$lane"/ttrpc/expected_*.json "$work/expected/"
rm "$lane/ttrpc/var901_bincode.bin" # one span: the JSON era's
sed -i '/var901_bincode/d' "$work/expected/list"
echo /lane/ttrpc/var900_json.bin >"$lane/conns.ttrpc"

for s in $scenarios; do
	echo "$s $(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')"
done >"$lane/sandboxes"
cat >"$lane/lane.conf" <<EOF
SEED=$seed
PORT=10240
SCENARIOS="$scenarios"
TTRPC_TRACE=$ttrpc_trace
TTRPC_SPAN=$ttrpc_span
EOF
