#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Which records carry a capture time, as the kernel writes them (real BPF on
# this kernel, the daemon's attach): a connection to a trace port's listener
# (*_10240: the agent's spans carry their own times) gets records marked
# untimed, with no time, so that a captured send does not read the clock; a
# connection the path prefixes or a hypervisor's socket name match (runtime
# RPCs, timed by their capture) gets every record timed within the run. Both
# the variant that reads payloads straight into the ring buffer and the one
# that copies them.
. "$(dirname "$0")/lib.sh"
log "capture time: untimed trace-port streams, timed RPC streams"
COUNT=8
# COUNT 64-byte writes, then one of 40960 bytes, which the programs split
# into records of at most 16384 bytes (KT_CHUNK_SIZE): 3 more records.
RECORDS=$((COUNT + 3))
BYTES=$((COUNT * 64 + 40960))
mkdir -p "$OUT/prefix"
for variants in on off; do
	KATATRACE_PROGRAM_VARIANTS=$variants "$TOOLS/capture-records" 10240 "$OUT/prefix" "$COUNT" \
		>"$OUT/records-$variants.txt" 2>"$OUT/records-$variants.err"
	check "variants $variants: the tool ran" [ $? = 0 ]
	check "variants $variants: trace port: $RECORDS records, all untimed" \
		grep -qx "trace-port: $RECORDS data records, $BYTES bytes, $RECORDS untimed, 0 timed within the run" \
		"$OUT/records-$variants.txt"
	check "variants $variants: prefix: $RECORDS records, all timed within the run" \
		grep -qx "prefix: $RECORDS data records, $BYTES bytes, 0 untimed, $RECORDS timed within the run" \
		"$OUT/records-$variants.txt"
	check "variants $variants: hypervisor socket: $RECORDS records, all timed within the run" \
		grep -qx "hypervisor: $RECORDS data records, $BYTES bytes, 0 untimed, $RECORDS timed within the run" \
		"$OUT/records-$variants.txt"
	sed 's/^/    /' "$OUT/records-$variants.txt"
done
finish
