#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Soak: the daemon (sink mode, BPF capture, discovery, the disk spool,
# OTLP/HTTP to the independent receiver) while SOAK_SANDBOXES (100)
# sandboxes come and go over SOAK_SECONDS (180; `make soak`: 1800). Each
# appears in Cloud Hypervisor's layout (its directory and hybrid-vsock
# socket), is discovered, streams its own realistic spans
# (tests/bench/spangen.c, a seed of its own) at a steady pace through the
# listener the daemon binds for it, and is removed. Halfway through, a new
# daemon takes over (`run --takeover`, docs/takeover.md): the relays
# streaming then go on through the same connections. Every 5 s: resident
# memory and descriptors of the daemon serving and its broker, and their CPU.
# At the end: every span sent arrived exactly once (0 lost), and memory and
# descriptors ended flat: within 10 % of what they were once the first
# quarter of the run had warmed the daemon up (memory) and of the start
# (descriptors).
. "$(dirname "$0")/../integration/lib.sh"
SOAK_SECONDS=${SOAK_SECONDS:-180}
SANDBOXES=${SOAK_SANDBOXES:-100}
LIFE=$((SOAK_SECONDS / 9 > 10 ? SOAK_SECONDS / 9 : 10)) # each sandbox's life, seconds
SPANS=$((LIFE * 25))                                    # each sandbox's spans: 25 a second
EVERY_MS=$((SOAK_SECONDS * 1000 / SANDBOXES))           # a new sandbox this often
BB=$ROOT_DIR/build/bench
log "soak: $SANDBOXES sandboxes over ${SOAK_SECONDS} s, each ${LIFE} s streaming $SPANS spans"
RUN_ROOT=$OUT/r
mkdir -p "$RUN_ROOT/run/vc/vm"
start_receiver || abort_test "setup"
OPTS=(--run-root "$RUN_ROOT" --otlp-endpoint "$RECV_URL" --spool-dir "$OUT/spool" --no-vm-spans
	--batch-timeout 200)
start_kt "${OPTS[@]}" || abort_test "setup"
FIRST_PID=$KT_PID
family() { echo "$KT_PID"; pgrep -P "$KT_PID"; }
# Each over the daemon serving and its broker; a process that has just
# exited (the first daemon, taken over) counts nothing.
sum_of() { # command reading /proc/PID: the sum over the family
	local p v s=0
	for p in $(family); do
		v=$("$@" "$p" 2>/dev/null) || continue
		s=$((s + ${v:-0}))
	done
	echo "$s"
}
rss_of() { awk '/^VmRSS:/ { print $2 }' /proc/"$1"/status; }
fds_of() { [ -d /proc/"$1"/fd ] && ls /proc/"$1"/fd | wc -l; }
cpu_of() { awk '{ print $14 + $15 }' /proc/"$1"/stat; }
rss_kib() { sum_of rss_of; }
fds() { sum_of fds_of; }
cpu_ticks() { sum_of cpu_of; }
FDS0=$(fds)

sandbox() { # index: appears, streams, goes
	local id dir
	id=$(printf '%064x' $((0x50a0000 + $1)))
	dir=$RUN_ROOT/run/vc/vm/$id
	"$BB/spangen" "$SPANS" "$((1000 + $1))" "$OUT/spans.$1.bin" >/dev/null || return 1
	mkdir -p "$dir"
	socat "UNIX-LISTEN:$dir/clh.sock,fork" OPEN:/dev/null 2>/dev/null &
	local vmm=$!
	local bytes
	bytes=$(stat -c %s "$OUT/spans.$1.bin")
	"$BB/stream_writer" "$dir/clh.sock_10240" "$OUT/spans.$1.bin" 4096 $((bytes / LIFE + 1)) \
		>"$OUT/writer.$1.out" 2>&1
	local rc=$?
	kill "$vmm" 2>/dev/null
	wait "$vmm" 2>/dev/null
	rm -rf "$dir" "$OUT/spans.$1.bin"
	# said in a file: over a long run pids wrap around, and `wait PID` may no
	# longer know a sandbox whose pid a later process took
	echo "$rc" >"$OUT/rc.$1"
	return $rc
}

echo "  time  sandboxes  rss_kib  fds  cpu_s  spans_at_receiver" | tee "$OUT/samples.txt"
sample() {
	printf '%6d %10d %8d %4d %6.1f %18d\n' $((SECONDS - T0)) "$(ls "$RUN_ROOT/run/vc/vm" | wc -l)" \
		"$(rss_kib)" "$(fds)" "$(echo "$(cpu_ticks) / $(getconf CLK_TCK)" | bc -l)" \
		"$(count_lines "$OUT/spans.jsonl")" | tee -a "$OUT/samples.txt"
}
# The takeover: a new daemon, started halfway; the one serving is followed
# once the new one is ready, and the old one must have exited 0 by then.
TAKEOVER_AT=$((SOAK_SECONDS / 2))
took_over=""
switched=""
take_over() {
	"$KT" run --log-level debug --no-collate --no-complete-traces --takeover "${OPTS[@]}" \
		>"$OUT/kt2.out" 2>"$OUT/kt2.log" &
	NEW_PID=$!
	PIDS+=("$NEW_PID")
}
follow_takeover() {
	if [ -z "$took_over" ] && [ $((SECONDS - T0)) -ge "$TAKEOVER_AT" ]; then
		take_over
		took_over=$SECONDS
	elif [ -n "$took_over" ] && [ -z "$switched" ] && grep -q ' ready: ' "$OUT/kt2.log"; then
		KT_PID=$NEW_PID
		switched=$SECONDS
		echo "  [$((SECONDS - T0)) s] taken over by pid $NEW_PID" | tee -a "$OUT/samples.txt"
	fi
}
T0=$SECONDS
writers=()
next_sample=0
for i in $(seq 1 "$SANDBOXES"); do
	sandbox "$i" &
	writers+=($!)
	end=$(((T0 * 1000) + i * EVERY_MS))
	while [ $((SECONDS * 1000)) -lt "$end" ]; do
		follow_takeover
		if [ $((SECONDS - T0)) -ge "$next_sample" ]; then
			sample
			next_sample=$((next_sample + 5))
			[ -z "${RSS_WARM:-}" ] && [ $((SECONDS - T0)) -ge $((SOAK_SECONDS / 4)) ] && RSS_WARM=$(rss_kib)
		fi
		sleep 0.2
	done
done
failed=0
for w in "${writers[@]}"; do wait "$w" 2>/dev/null; done
for i in $(seq 1 "$SANDBOXES"); do
	[ "$(cat "$OUT/rc.$i" 2>/dev/null)" = 0 ] || failed=$((failed + 1))
done
while [ -z "$switched" ] && [ $((SECONDS - ${took_over:-$SECONDS})) -lt 60 ]; do
	follow_takeover
	sleep 0.2
done
check "the second daemon took over halfway" [ -n "$switched" ]
wait "$FIRST_PID"
check "the first daemon exited 0 once taken over" [ $? = 0 ]
check "... having handed over its listeners and connections" \
	grep -qE 'takeover: pid [0-9]+ committed: [0-9]+ connections' "$OUT/kt.log"
check "no relay saw its connection closed (EPIPE, ECONNRESET)" \
	bash -c "! grep -l 'Broken pipe\|reset by peer\|write:' '$OUT'/writer.*.out"
check "every sandbox streamed its spans ($failed failed)" [ "$failed" = 0 ]
TOTAL=$((SANDBOXES * SPANS))
arrived() { [ "$(count_lines "$OUT/spans.jsonl")" -ge "$TOTAL" ]; }
check "every span reached the collector ($TOTAL)" wait_for 120 "$TOTAL spans" arrived
sleep 6 # the sandboxes' listeners released, the last sample
sample
RSS_END=$(rss_kib)
FDS_END=$(fds)
stop_kt
check "exit status 0" [ "$KT_RC" = 0 ]
# Both daemons' summaries: what each exported adds up, neither lost anything.
total_of() { # "spans exported"
	local f n s=0
	for f in "$OUT/kt.log" "$OUT/kt2.log"; do
		n=$(grep 'katatrace-bpf summary:' "$f" | tail -n 1 | grep -oE "$1 [0-9]+" | awk '{print $NF}')
		s=$((s + ${n:-0}))
	done
	echo "$s"
}
check "summaries: spans exported by the two daemons = $TOTAL" [ "$(total_of 'spans exported')" = "$TOTAL" ]
check "summaries: nothing dropped, no record lost" \
	[ "$(total_of 'spans dropped')" = 0 -a "$(total_of 'lost records')" = 0 ]
# A span is its sandbox (the seeds of spangen give each sandbox its own
# spans, whose ids may meet another sandbox's) and its ids.
unique=$(sed -n 's/.*"katatrace.sandbox.id","value":{"type":"string","value":"\([0-9a-f]*\)".*"traceId":"\([0-9a-f]*\)","spanId":"\([0-9a-f]*\)".*/\1 \2 \3/p' \
	"$OUT/spans.jsonl" | sort -u | wc -l)
check "each span once: $unique distinct (sandbox, ids) of $(count_lines "$OUT/spans.jsonl") received" \
	[ "$unique" = "$TOTAL" -a "$(count_lines "$OUT/spans.jsonl")" = "$TOTAL" ]
echo "  resident memory: ${RSS_WARM:-?} KiB warmed up, $RSS_END KiB at the end; descriptors: $FDS0 at the start, $FDS_END at the end"
check "memory ended flat: within 10 % of the warmed-up figure" \
	[ "$RSS_END" -le $((${RSS_WARM:-0} * 110 / 100)) ]
check "descriptors ended flat: within 10 % of the start" [ "$FDS_END" -le $((FDS0 * 110 / 100 + 1)) ]
finish
