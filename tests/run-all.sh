#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Runs every test suite: unit tests (criterion, ASan/UBSan), integration
# tests (real BPF, real sockets, independent OTLP receiver), a short run
# of every fuzz target and the kernel lane (stock kernels under QEMU). The
# last line is "N passed, N failed" over all tests.
#
#   tests/run-all.sh [--only unit|layout|integration|faults|soak|fuzz|kernels]
set -u
cd "$(dirname "$0")/.." || exit 2
only=""
[ "${1:-}" = "--only" ] && only=${2:-}
FUZZ_SECONDS=${FUZZ_SECONDS:-8}
passed=0
failed=0
suites_failed=()

add() { passed=$((passed + $1)); failed=$((failed + $2)); }

if [ -z "$only" ] || [ "$only" = unit ]; then
	echo "=== unit tests (criterion, ASan/UBSan)"
	# criterion's runner's own leftovers only (tests/unit/lsan.supp)
	LSAN_OPTIONS=suppressions=$PWD/tests/unit/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS} \
		build/asan/unit-tests --jobs 2 2>&1 | tee build/unit.log
	rc=${PIPESTATUS[0]}
	syn=$(grep -a 'Synthesis:' build/unit.log | tail -n 1)
	p=$(echo "$syn" | sed -n 's/.*Passing: \([0-9]*\).*/\1/p')
	f=$(echo "$syn" | sed -n 's/.*Failing: \([0-9]*\).*/\1/p')
	c=$(echo "$syn" | sed -n 's/.*Crashing: \([0-9]*\).*/\1/p')
	if [ -z "$p" ]; then add 0 1; suites_failed+=(unit); else
		add "$p" $((f + c)); [ "$rc" = 0 ] || suites_failed+=(unit); fi
	# Sanitizer reports from test workers do not fail criterion by themselves.
	if grep -a -q -E 'ERROR: (Address|Leak|Memory)Sanitizer|runtime error:' build/unit.log; then
		echo "sanitizer reports in the unit tests"
		add 0 1
		suites_failed+=(unit-sanitizers)
	fi
fi

if [ -z "$only" ] || [ "$only" = layout ]; then
	echo "=== layout (tools/check-layout)"
	# The tree keeps the rule; and the checker sees each kind of break of it
	# (an include climbing from base/ to stream/, one naming no folder, the
	# stream stage naming a protocol, a protocol naming the stitcher) in a
	# scratch copy.
	scratch=$(mktemp -d)
	cp -r user exporters "$scratch"/
	echo '#include "stream/pipeline.h"' >>"$scratch/user/base/arena.c"
	echo '#include "span.h"' >>"$scratch/user/model/ids.c"
	echo '#include "agent/decode.h"' >>"$scratch/user/stream/reasm.c"
	echo '#include "traces/trace_stitch.h"' >>"$scratch/user/rpc/rpc_protocol.c"
	if tools/check-layout; then add 1 0; else add 0 1; suites_failed+=(layout); fi
	tools/check-layout "$scratch" >build/layout.log 2>&1
	if [ $? = 1 ] && grep -q 'base/arena.c: includes "stream/pipeline.h"' build/layout.log &&
		grep -q 'model/ids.c: "span.h" does not name its folder' build/layout.log &&
		grep -q 'stream/reasm.c: includes "agent/decode.h": the stream stage reaches protocols' build/layout.log &&
		grep -q 'rpc/rpc_protocol.c: includes "traces/trace_stitch.h": stages reach the stitcher' build/layout.log; then
		add 1 0
	else
		echo "tools/check-layout missed a break of the rule:"
		cat build/layout.log
		add 0 1
		suites_failed+=(layout-selftest)
	fi
	rm -rf "$scratch"
	echo "=== licenses (tools/check-license)"
	# The tree names its licenses; and the checker sees a file without an SPDX
	# line and a BPF program whose license string disagrees, in a scratch copy.
	if tools/check-license; then add 1 0; else add 0 1; suites_failed+=(license); fi
	scratch=$(mktemp -d)
	cp -r bpf user LICENSES "$scratch"/
	sed -i '/SPDX-License-Identifier/d' "$scratch/user/base/arena.c"
	sed -i 's|"Dual BSD/GPL"|"GPL"|' "$scratch/bpf/vm_events.bpf.c"
	tools/check-license "$scratch" >build/license.log 2>&1
	if [ $? = 1 ] && grep -q '^user/base/arena.c: no SPDX-License-Identifier line' build/license.log &&
		grep -q '^bpf/vm_events.bpf.c: a BPF program is' build/license.log; then
		add 1 0
	else
		echo "tools/check-license missed a file without its license:"
		cat build/license.log
		add 0 1
		suites_failed+=(license-selftest)
	fi
	rm -rf "$scratch"
fi

# One test script: its "N passed, N failed" line counted (none: one failure).
run_script() { # script
	echo "=== $1"
	bash "$1" 2>&1 | tee build/it.log
	local rc=${PIPESTATUS[0]} line
	line=$(grep -aE '^[0-9]+ passed, [0-9]+ failed' build/it.log | tail -n 1)
	if [ -z "$line" ]; then add 0 1; else add "$(echo "$line" | awk '{print $1}')" "$(echo "$line" | awk '{print $3}')"; fi
	[ "$rc" = 0 ] || suites_failed+=("$1")
}

if [ -z "$only" ] || [ "$only" = integration ]; then
	for t in tests/integration/*.sh; do
		[ "$(basename "$t")" = lib.sh ] || run_script "$t"
	done
fi

# Fault injection (tests/faults/): real processes killed, collectors refusing,
# disks failing; each case accounts for every span.
if [ -z "$only" ] || [ "$only" = faults ]; then
	for t in tests/faults/*.sh; do run_script "$t"; done
fi

# Soak (tests/soak/soak.sh): SOAK_SECONDS, 180 here (make soak: 1800).
if [ -z "$only" ] || [ "$only" = soak ]; then
	export SOAK_SECONDS=${SOAK_SECONDS:-180}
	echo "(soak: $SOAK_SECONDS s)"
	run_script tests/soak/soak.sh
fi

if [ -z "$only" ] || [ "$only" = fuzz ]; then
	# Every target in tests/fuzz/ must have been built and must have run
	# inputs: a missing binary, a crash, an exit without libFuzzer's final
	# stats or a run of no inputs at all each fail it.
	for src in tests/fuzz/fuzz_*.c; do
		name=$(basename "$src" .c)
		f=build/fuzz/$name
		if [ ! -x "$f" ]; then
			echo "=== $f: not built (no executable for $src)"
			add 0 1
			suites_failed+=("$f")
			continue
		fi
		echo "=== $f (${FUZZ_SECONDS}s)"
		corpus=$(mktemp -d)
		cp tests/vectors/*.bin tests/vectors/otel017_json_*.json "$corpus"/
		# a target's own seeds, if it has any
		seeds=tests/fuzz/corpus/$name
		[ -d "$seeds" ] && cp "$seeds"/* "$corpus"/
		# crash inputs go to build/fuzz/<target>-crash-<sha1>, not the work tree
		"$f" -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=2048 -print_final_stats=1 \
			-artifact_prefix="build/fuzz/$name-" "$corpus" >build/fuzz.log 2>&1
		rc=$?
		units=$(grep -a -E '^stat::number_of_executed_units:' build/fuzz.log | tail -n 1 |
			sed -n 's/^stat::number_of_executed_units: *\([0-9][0-9]*\).*/\1/p')
		why=""
		if [ "$rc" != 0 ]; then
			why="exit status $rc"
		elif [ -z "$units" ]; then
			why="no final stats: the target did not run"
		elif [ "$units" = 0 ]; then
			why="no inputs executed"
		fi
		if [ -z "$why" ]; then
			add 1 0
			echo "stat::number_of_executed_units: $units"
		else
			add 0 1
			suites_failed+=("$f")
			tail -n 40 build/fuzz.log
			echo "$f: FAILED ($why)"
		fi
		rm -rf "$corpus"
	done
fi

if [ -z "$only" ] || [ "$only" = kernels ]; then
	echo "=== kernel lane (tests/kernel-lane)"
	tests/kernel-lane/run.sh 2>&1 | tee build/kernels.log
	rc=${PIPESTATUS[0]}
	line=$(grep -aE '^[0-9]+ passed, [0-9]+ failed' build/kernels.log | tail -n 1)
	if [ -z "$line" ]; then add 0 1; else add "$(echo "$line" | awk '{print $1}')" "$(echo "$line" | awk '{print $3}')"; fi
	[ "$rc" = 0 ] || suites_failed+=(kernels)
fi

[ ${#suites_failed[@]} = 0 ] || echo "failed suites: ${suites_failed[*]}"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ] && [ ${#suites_failed[@]} = 0 ]
