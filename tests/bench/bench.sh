#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# `make bench`: every performance figure beside its baseline, measured in
# the same run, as a ratio (docs/performance.md). Runs the decoder
# benchmark, the write-cost benchmark (root, BPF) and the end-to-end runs
# of the daemon (tests/bench/e2e.sh), then prints one table:
#   figure | measured | baseline | ratio | goal | verdict
# Each program prints its details and its rows (tests/bench/bench_util.h).
#
# BENCH_QUICK=1: tiny sizes and one round, a smoke run (figures meaningless).
# BENCH_ROUNDS, BENCH_SPANS, BENCH_SANDBOXES override the sizes.
set -u
ROOT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT_DIR" || exit 2
BB=build/bench

if [ -n "${BENCH_QUICK:-}" ] && [ "${BENCH_QUICK}" != 0 ]; then
	export BENCH_ROUNDS=${BENCH_ROUNDS:-1} BENCH_SPANS=${BENCH_SPANS:-2000} BENCH_SANDBOXES=${BENCH_SANDBOXES:-5}
	WRITES=2000
	echo "BENCH_QUICK: a smoke run; its figures mean nothing"
fi
ROUNDS=${BENCH_ROUNDS:-}
if [ "$(id -u)" != 0 ]; then
	echo "make bench needs root (BPF)" >&2
	exit 2
fi

ROWS=$(mktemp /tmp/kt-bench-rows.XXXXXX)
trap 'rm -f "$ROWS" "$ROWS.spans"' EXIT
rc=0
run() { # program args...: its text on the terminal, its rows kept
	"$@" | tee -a "$ROWS" | grep -v '^ROW	'
	local s=${PIPESTATUS[0]}
	if [ "$s" != 0 ]; then
		echo "bench: $* exited with $s" >&2
		rc=1
	fi
	echo
}

echo "make bench, $(date -u '+%Y-%m-%d %H:%M UTC'), Linux $(uname -r), $(nproc) CPUs"
echo
"$BB/spangen" 1 42 "$ROWS.spans" >/dev/null || exit 1
run "$BB/bench_decode" tests/vectors "$ROWS.spans" ${ROUNDS:+$((ROUNDS * 2 + 1))}
run "$BB/bench_write_cost" ${ROUNDS:+$((ROUNDS + 2))} ${WRITES:+"$WRITES"}
run tests/bench/e2e.sh

# The table. check/value/target may be lists (a,b,c): the goal is met when
# every check holds; a missed one says by how much. An optional tenth field
# names the goal's limit (bench_row_limit in bench_util.h).
grep '^ROW	' "$ROWS" | awk -F'\t' '
function dashes(k,    s) { s = ""; while (k-- > 0) s = s "-"; return s }
function num(x) { return (x >= 1000 || x <= -1000) ? sprintf("%.0f", x) : sprintf("%.3g", x) }
function verdict(check, value, target,    n, c, v, t, i, out, miss) {
	n = split(check, c, ","); split(value, v, ","); split(target, t, ",")
	out = ""
	for (i = 1; i <= n; i++) {
		miss = ""
		if (c[i] == "ge" && v[i] + 0 < t[i] + 0)
			miss = num(v[i]) " < " num(t[i]) (t[i] != 0 ? sprintf(" (-%.0f%%)", (t[i] - v[i]) / t[i] * 100) : "")
		else if (c[i] == "le" && v[i] + 0 > t[i] + 0)
			miss = num(v[i]) " > " num(t[i]) (t[i] != 0 ? sprintf(" (+%.0f%%)", (v[i] - t[i]) / t[i] * 100) : "")
		else if (c[i] == "eq" && v[i] + 0 != t[i] + 0)
			miss = num(v[i]) ", not " num(t[i])
		if (miss != "")
			out = out (out == "" ? "" : "; ") miss
	}
	if (check == "none")
		return "-"
	return out == "" ? "met" : "MISSED by " out
}
{
	n++
	fig[n] = $2; meas[n] = $3; base[n] = $4; goal[n] = $6
	# Two significant digits for the small ratios (a decoder against memcpy).
	ratio[n] = ($5 + 0 != 0 && $5 + 0 < 0.1) ? sprintf("%.2g", $5) : sprintf("%.3f", $5)
	ver[n] = verdict($7, $8, $9)
	# A limit (name=value, the same figure for the least any implementation
	# must do): a goal the limit misses too is beyond this machine.
	if (ver[n] ~ /^MISSED/ && split($10, lim, "=") == 2 && verdict($7, lim[2], $9) ~ /^MISSED/)
		ver[n] = ver[n] ", and so is the " lim[1] " (" num(lim[2]) "): the limit here"
	if (ver[n] ~ /^MISSED/) missed++
	else if (ver[n] == "met") met++
	w[1] = length(fig[n]) > w[1] ? length(fig[n]) : w[1]
	w[2] = length(meas[n]) > w[2] ? length(meas[n]) : w[2]
	w[3] = length(base[n]) > w[3] ? length(base[n]) : w[3]
	w[4] = length(goal[n]) > w[4] ? length(goal[n]) : w[4]
}
END {
	fmt = "| %-" w[1] "s | %-" w[2] "s | %-" w[3] "s | %7s | %-" w[4] "s | %s |\n"
	printf fmt, "figure", "measured", "baseline", "ratio", "goal", "verdict"
	printf fmt, dashes(w[1]), dashes(w[2]), dashes(w[3]), "------:", dashes(w[4]), "---"
	for (i = 1; i <= n; i++)
		printf fmt, fig[i], meas[i], base[i], ratio[i], goal[i], ver[i]
	printf "\ngoals met: %d, missed: %d\n", met, missed
}'
exit $rc
