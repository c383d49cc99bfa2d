#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# One long fuzz run of one target, the way docs/testing.md records it.
#
#   tests/tools/fuzz-long.sh TARGET [SECONDS] [RUNS]
#
# The target (build/fuzz/TARGET, from `make fuzz`) runs under ASan/UBSan until
# SECONDS have passed (default 3600) or it has executed RUNS inputs (default
# 10^8), whichever comes first, from the golden vectors and its seeds in
# tests/fuzz/corpus/TARGET/. Afterwards the inputs it found are minimised into
# tests/fuzz/corpus/TARGET/ (`-merge=1`, with the golden vectors taken as
# already covered and left out), and a row for the table in docs/testing.md is
# printed, with the CPU time the run had beside its time (two runs side by
# side on 2 cores, and anything else, share them). The run's log and corpus
# stay in build/fuzz-long/TARGET/.
#
# FUZZ_DIR picks another build of the targets (default build/fuzz, ASan and
# UBSan), e.g. build/fuzz-fast from `make fuzz FUZZ=build/fuzz-fast
# FUZZ_SAN=undefined "FUZZ_OPT=-O2 -fno-sanitize-coverage=trace-cmp"`, several
# times faster: what a differential target needs to reach 10^8 executions. FUZZ_ARGS adds libFuzzer options
# (e.g. -entropic=0). Both are named in the row.
#
# Exit status: 0 when the run ended with no finding, 1 when it found one (the
# input is kept as build/fuzz-long/[BUILD/]TARGET/crash-<sha1>), 2 on usage errors.
set -uo pipefail
cd "$(dirname "$0")/../.."

target=${1:-}
seconds=${2:-3600}
runs=${3:-100000000}
fuzz_dir=${FUZZ_DIR:-build/fuzz}
fuzz_dir=${fuzz_dir%/}
fuzz_args=${FUZZ_ARGS:-}
if [ -z "$target" ] || [ ! -x "$fuzz_dir/$target" ]; then
	echo "usage: [FUZZ_DIR=DIR] [FUZZ_ARGS=OPTIONS] $0 TARGET [SECONDS] [RUNS]  (TARGET one of $fuzz_dir/fuzz_*, built by 'make fuzz')" >&2
	exit 2
fi
seeds=tests/fuzz/corpus/$target
work=build/fuzz-long/$target
build_note=
if [ "$fuzz_dir" != build/fuzz ]; then
	work=build/fuzz-long/$(basename "$fuzz_dir")/$target
	build_note=" ($(basename "$fuzz_dir") build)"
fi
[ -n "$fuzz_args" ] && build_note="$build_note ($fuzz_args)"
rm -rf "$work"
mkdir -p "$work/corpus" "$work/merged"
# a copy, so that a rebuild during the run changes neither the run nor its merge
bin=$work/$target
cp "$fuzz_dir/$target" "$bin"
cp tests/vectors/*.bin tests/vectors/otel017_json_*.json "$work/corpus"/
[ -d "$seeds" ] && cp "$seeds"/* "$work/corpus"/

start=$(date -u +%s)
# shellcheck disable=SC2086 # FUZZ_ARGS is a list of options
"$bin" -max_total_time="$seconds" -runs="$runs" -rss_limit_mb=2048 $fuzz_args \
	-print_final_stats=1 -artifact_prefix="$work/" "$work/corpus" >"$work/run.log" 2>&1
rc=$?
end=$(date -u +%s)
# CPU seconds the run had (user and system): on a shared machine less than its
# time. `times` in this shell, not in a command substitution, whose subshell has
# no children: its second line is what this script's children used.
times >"$work/times"
cpu=$(sed -n 2p "$work/times" | awk '{ split($1, u, /[ms]/); split($2, s, /[ms]/); printf "%d", u[1] * 60 + u[2] + s[1] * 60 + s[2] }')

stat() {
	grep -a -E "^stat::$1:" "$work/run.log" | tail -n 1 | sed -n 's/^[^:]*::[^:]*: *\([0-9]*\).*/\1/p'
}
units=$(stat number_of_executed_units)
# the last status line carries the coverage the run reached
last=$(grep -a -E '^#[0-9]+.*cov: [0-9]+ ft: [0-9]+' "$work/run.log" | tail -n 1)
cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$last")
ft=$(sed -n 's/.*ft: \([0-9]*\).*/\1/p' <<<"$last")
finding=none
if [ "$rc" != 0 ] || [ -z "$units" ]; then
	finding="exit status $rc: $(ls "$work" | grep -E '^(crash|leak|timeout|oom)-' | tr '\n' ' ')"
fi

# Minimise: the golden vectors and the committed seeds count as covered, so
# only inputs that add coverage beyond them are added; the vectors are then
# dropped again, since every run starts from them.
cp tests/vectors/*.bin tests/vectors/otel017_json_*.json "$work/merged"/
[ -d "$seeds" ] && cp "$seeds"/* "$work/merged"/
"$bin" -merge=1 -rss_limit_mb=2048 "$work/merged" "$work/corpus" >"$work/merge.log" 2>&1 ||
	{ echo "$target: merge failed, see $work/merge.log" >&2; exit 1; }
for v in tests/vectors/*.bin tests/vectors/otel017_json_*.json; do
	rm -f "$work/merged/$(basename "$v")"
done
mkdir -p "$seeds"
cp "$work/merged"/* "$seeds"/ 2>/dev/null
files=$(find "$seeds" -type f | wc -l)
kb=$(( ($(find "$seeds" -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}') + 512) / 1024 ))

secs=$((end - start))
rate=$(( secs > 0 ? ${units:-0} / secs : 0 ))
printf '| `%s`%s | %s–%s UTC | %s s (CPU %s s) | %s (%s/s) | %s | %s / %s | %s files, %s KB |\n' \
	"$target" "$build_note" "$(date -u -d "@$start" '+%Y-%m-%d %H:%M')" "$(date -u -d "@$end" '+%H:%M')" \
	"$secs" "$cpu" "${units:-0}" "$rate" "$finding" "${cov:-?}" "${ft:-?}" "$files" "$kb" |
	tee "$work/row.md"
[ "$finding" = none ]
