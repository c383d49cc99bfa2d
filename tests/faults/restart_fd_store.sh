#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# `systemctl restart` under load with the file descriptor store (--fd-store,
# docs/takeover.md "systemd"): systemd's part played by
# tests/tools/fd-store.py as systemd.service(5) and sd_notify(3) describe it.
# 5 sandboxes' relays stream realistic spans while the daemon is told to
# stop (SIGTERM, as systemd does): it stores its listeners, connections, BPF
# objects and state, and exits 0; the next start takes them over. Every
# relay writes its whole stream without an error, and every span arrives
# exactly once. One more relay sends the second half of its stream and
# hangs up while the daemon is away: kept in the store (FDPOLL=0, where
# systemd would drop a descriptor that hung up), its last bytes and its end
# are read by the next start.
. "$(dirname "$0")/../integration/lib.sh"
SANDBOXES=5
SECONDS_OF_LOAD=12
PER=$((1000 * SECONDS_OF_LOAD / SANDBOXES))
N=$((PER * SANDBOXES))
BB=$ROOT_DIR/build/bench
log "fault: a restart under systemd with the descriptor store: $SANDBOXES sandboxes, $N spans"
opts=(--no-discovery --no-vm-spans --control-socket "$OUT/control.sock" --batch-timeout 200
	--spool-dir "$OUT/spool" --metrics-address 127.0.0.1:0 --fd-store)
for i in $(seq 1 "$SANDBOXES"); do
	# odd seeds: spangen seeds its generator with SEED | 1
	"$BB/spangen" "$PER" "$((3001 + 2 * i))" "$OUT/spans$i.bin" >/dev/null || abort_test "spangen"
	opts+=(--socket-path "$OUT/hv$i.sock")
done
# the relay that hangs up while the daemon is away
LATE=100
"$BB/spangen" "$LATE" 3999 "$OUT/spans-late.bin" >/dev/null || abort_test "spangen"
opts+=(--socket-path "$OUT/hv-late.sock")
N=$((N + LATE))
BYTES=$(stat -c %s "$OUT/spans1.bin")
start_receiver || abort_test "setup"
mkdir -p "$OUT/sd"
FD_STORE_GATE=1 python3 "$ROOT_DIR/tests/tools/fd-store.py" "$OUT/sd" 2 \
	"$KT" run --log-level debug --no-collate --no-complete-traces --otlp-endpoint "$RECV_URL" \
	"${opts[@]}" >"$OUT/kt.out" 2>"$OUT/kt.log" &
SYSTEMD=$!
PIDS+=("$SYSTEMD")
wait_for 30 "the first daemon" grep -q ' ready: ' "$OUT/kt.log" || { tail -n 20 "$OUT/kt.log"; abort_test "setup"; }
FIRST=$(cat "$OUT/sd/pid.1")
for i in $(seq 1 "$SANDBOXES"); do
	"$BB/stream_writer" "$OUT/hv$i.sock_10240" "$OUT/spans$i.bin" 4096 \
		"$((BYTES / SECONDS_OF_LOAD))" >"$OUT/writer$i.out" 2>&1 &
	WRITERS+=("$!")
done
# half of its stream now, the rest once the daemon is away, then its end
python3 - "$OUT/hv-late.sock_10240" "$OUT/spans-late.bin" "$OUT/late.go" >"$OUT/late.out" 2>&1 <<'PY' &
import os, socket, sys, time
path, data, gate = sys.argv[1], open(sys.argv[2], "rb").read(), sys.argv[3]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(path)
s.sendall(data[: len(data) // 2])
while not os.path.exists(gate):
    time.sleep(0.05)
s.sendall(data[len(data) // 2 :])
s.close()
print("sent", len(data))
PY
LATE_PID=$!
PIDS+=("$LATE_PID")
sleep 4
kill -TERM "$FIRST"
check "the first daemon, told to stop, exits 0" wait_for 30 "its exit" test -s "$OUT/sd/exit.1"
check "... status 0" [ "$(cat "$OUT/sd/exit.1")" = 0 ]
check "... having stored its $((SANDBOXES + 1)) connections with everything else" \
	grep -qE "fd store: $((SANDBOXES + 1)) connections, [0-9]+ descriptors and [0-9]+ bytes of state stored" "$OUT/kt.log"
# the daemon is away: the late relay sends the rest of its stream and hangs up
touch "$OUT/late.go"
wait "$LATE_PID"
check "the late relay sent its whole stream and hung up while the daemon was away" grep -q "^sent " "$OUT/late.out"
sleep 1 # time for the store to see the hang-up, as systemd's epoll would
touch "$OUT/sd/go.2"
check "the store kept the connection that hung up (stored with FDPOLL=0)" \
	wait_for 10 "the second start" bash -c "[ \"\$(cat '$OUT/sd/dropped.2' 2>/dev/null)\" = 0 ]"
check "the next start takes them over" \
	wait_for 30 "the second start" grep -qE "fd store: the last run left $((SANDBOXES + 1)) connections" "$OUT/kt.log"
check "... and is ready" wait_for 30 "the second daemon" bash -c "[ \$(grep -c ' ready: ' '$OUT/kt.log') = 2 ]"
check "... with the BPF programs adopted" grep -q 'BPF maps and links adopted' "$OUT/kt.log"
fail=0
for i in "${!WRITERS[@]}"; do
	wait "${WRITERS[$i]}" || fail=$((fail + 1))
done
check "every relay wrote its whole stream to its end: $SANDBOXES of $SANDBOXES" [ "$fail" = 0 ]
check "no relay saw EPIPE or ECONNRESET" bash -c "! grep -l 'Broken pipe\|reset by peer\|write:' '$OUT'/writer*.out"
arrived() { [ "$(count_lines "$OUT/spans.jsonl")" -ge "$N" ]; }
check "every span reached the collector" wait_for 60 "$N spans at the receiver" arrived
kill -TERM "$(cat "$OUT/sd/pid.2")"
wait "$SYSTEMD"
check "the second daemon exits 0" [ "$(cat "$OUT/sd/exit.2")" = 0 ]
sleep 1
got=$(count_lines "$OUT/spans.jsonl")
unique=$(grep -o '"traceId":"[0-9a-f]*","spanId":"[0-9a-f]*"' "$OUT/spans.jsonl" | sort -u | wc -l)
check "the collector got exactly $N spans ($got)" [ "$got" = "$N" ]
check "each one once: $unique distinct trace and span ids" [ "$unique" = "$N" ]
dropped=$(grep 'katatrace-bpf summary:' "$OUT/kt.log" | grep -oE 'spans dropped [0-9]+' | awk '{s += $NF} END {print s + 0}')
check "neither daemon dropped a span" [ "$dropped" = 0 ]
finish
