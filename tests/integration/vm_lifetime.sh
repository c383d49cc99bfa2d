#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# kata.vm spans from kernel events alone: stand-in hypervisors (tests/tools/
# fake-vmm.c copied as qemu-system-x86_64 and cloud-hypervisor) with Kata's
# command lines under a temporary --run-root live about 0.5 s and exit with
# a chosen code or by a signal; one ran before katatrace-bpf started, one
# names no sandbox, one is known only by QEMU's pid file. None of them needs
# KVM. Where /dev/kvm really runs a guest (a probe does), one more runs a
# real KVM guest and its KVM exits are counted; elsewhere one line says why
# that part is skipped. Each kata.vm span must carry ids derived from its
# sandbox id (computed again here, independently), its times, pid, exit code
# or signal and hypervisor name.
. "$(dirname "$0")/lib.sh"
log "kata.vm spans: hypervisor processes from exec to exit, tap mode"
RUN_ROOT=$OUT/r
BIN=$OUT/bin
mkdir -p "$BIN"
cp build/tools/fake-vmm "$BIN/qemu-system-x86_64" || abort_test "setup: build/tools/fake-vmm (make tools)"
cp build/tools/fake-vmm "$BIN/cloud-hypervisor"
cp build/tools/fake-vmm "$BIN/not-a-vmm"
hexid() { head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n'; }
SB_Q=$(hexid) SB_C=$(hexid) SB_P=$(hexid) SB_R=$(hexid) SB_K=$(hexid)
for sb in "$SB_Q" "$SB_P" "$SB_R" "$SB_K"; do mkdir -p "$RUN_ROOT/run/vc/vm/$sb"; done
mkdir -p "$RUN_ROOT/run/vc/vm/$SB_C"
now_ns() { date +%s%N; }
declare -A PID START END
KEYS="Q C U P R"

# Does KVM run a guest here? Not just a /dev/kvm node: a probe (not a
# hypervisor's name, before katatrace-bpf starts) runs a real guest doing
# 3 port writes, then hlt.
KVM_WHY=""
if FAKE_VMM_SLEEP_MS=0 FAKE_VMM_KVM_OUTS=3 FAKE_VMM_REPORT="$OUT/kvm-probe.report" \
	"$BIN/not-a-vmm" 2>"$OUT/kvm-probe.err"; then
	[ "$(awk '{print $2}' "$OUT/kvm-probe.report")" -gt 0 ] 2>/dev/null ||
		KVM_WHY="the probe guest reported no KVM_RUN return"
else
	KVM_WHY="the probe guest did not run: $(head -n 1 "$OUT/kvm-probe.err")"
fi
[ -z "$KVM_WHY" ] && KEYS="$KEYS K"

# Already running when katatrace-bpf starts: its start comes from /proc.
START[R]=$(now_ns)
FAKE_VMM_SLEEP_MS=6000 FAKE_VMM_EXIT=0 "$BIN/qemu-system-x86_64" -name "sandbox-$SB_R,debug-threads=on" \
	-uuid 00000000-0000-0000-0000-000000000000 &
PID[R]=$!
PIDS+=("${PID[R]}")

start_kt --mode tap --run-root "$RUN_ROOT" --output "$OUT/spans.otlp.jsonl" --batch-timeout 200 ||
	abort_test "setup"
grep -q "vm: hypervisor qemu-system-x86_64 pid ${PID[R]}, sandbox $SB_R" "$OUT/kt.log"
check "the running hypervisor was found at start-up" [ $? = 0 ]

run_vmm() { # key env... -- exe args...
	local key=$1
	shift
	local envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	START[$key]=$(now_ns)
	env "${envs[@]}" "$@" &
	PID[$key]=$!
	wait "${PID[$key]}"
	END[$key]=$(now_ns)
}

# QEMU, sandbox from -name, exit code 3; Cloud Hypervisor, sandbox from its API socket path, SIGKILL.
run_vmm Q FAKE_VMM_SLEEP_MS=500 FAKE_VMM_EXIT=3 -- "$BIN/qemu-system-x86_64" -name "sandbox-$SB_Q,debug-threads=on" \
	-machine q35,accel=kvm -device "vhost-vsock-pci,disable-modern=false,guest-cid=7"
run_vmm C FAKE_VMM_SLEEP_MS=500 FAKE_VMM_SIGNAL=9 -- "$BIN/cloud-hypervisor" \
	--api-socket "$RUN_ROOT/run/vc/vm/$SB_C/clh-api.sock" --event-monitor "path=/dev/null"
# Nothing names a sandbox.
run_vmm U FAKE_VMM_SLEEP_MS=500 FAKE_VMM_EXIT=0 -- "$BIN/cloud-hypervisor" --log-file /dev/null
# Known only through QEMU's pid file, which discovery reads into the registry.
START[P]=$(now_ns)
FAKE_VMM_SLEEP_MS=2000 FAKE_VMM_EXIT=1 "$BIN/qemu-system-x86_64" -nographic &
PID[P]=$!
echo "${PID[P]}" >"$RUN_ROOT/run/vc/vm/$SB_P/pid"
wait "${PID[P]}"
END[P]=$(now_ns)
# Not a hypervisor: no span.
FAKE_VMM_SLEEP_MS=100 "$BIN/not-a-vmm" -name "sandbox-$SB_Q"
# A real KVM guest: 20 port writes, then hlt.
if [ -z "$KVM_WHY" ]; then
	run_vmm K FAKE_VMM_SLEEP_MS=500 FAKE_VMM_KVM_OUTS=20 "FAKE_VMM_REPORT=$OUT/kvm.report" -- \
		"$BIN/qemu-system-x86_64" -name "sandbox-$SB_K"
	KVM_RUNS=$(awk '{print $2}' "$OUT/kvm.report" 2>/dev/null)
	check "the real KVM guest ran (exit 0, KVM_RUN returns: ${KVM_RUNS:-none})" \
		[ "${KVM_RUNS:-0}" -gt 0 ]
else
	echo "  skipped: the real KVM guest and its KVM exit count, no working KVM here ($KVM_WHY);" \
		"the kernel lane checks them"
fi
# The tracepoint that counts KVM exits exists when kvm is loaded, even without /dev/kvm.
KVM_EXIT_TP=no
for d in /sys/kernel/tracing /sys/kernel/debug/tracing; do
	[ -d "$d/events/kvm/kvm_exit" ] && KVM_EXIT_TP=yes
done
wait "${PID[R]}"
END[R]=$(now_ns)
sleep 1
stop_kt
check "exit status 0" [ "$KT_RC" = 0 ]
NVMM=$(wc -w <<<"$KEYS")
# Tap mode also captures whatever other *_10240 sockets carry on this host: count ours.
check "summary: at least the $NVMM kata.vm spans exported" [ "$(summary_value 'spans exported')" -ge "$NVMM" ]

# Does kvm_exit fire on this host at all? (Paravirtualised KVM may not trace it.)
KVM_TRACED=unknown
EV=/sys/kernel/tracing/events/kvm/kvm_exit
if [ -z "$KVM_WHY" ] && [ -w "$EV/enable" ]; then
	echo > /sys/kernel/tracing/trace
	echo 1 >"$EV/enable"
	FAKE_VMM_SLEEP_MS=0 FAKE_VMM_KVM_OUTS=3 "$BIN/not-a-vmm"
	echo 0 >"$EV/enable"
	if grep -q 'kvm_exit:' /sys/kernel/tracing/trace; then KVM_TRACED=yes; else KVM_TRACED=no; fi
fi

node "$RECV/otlpjson.js" "$OUT/spans.otlp.jsonl" --out "$OUT/spans.jsonl" >"$OUT/otlpjson.log" 2>&1
check "OTLP/JSON lines parse with the upstream root" [ $? = 0 ]
EXPECT=$(for k in $KEYS; do
	echo "$k ${PID[$k]} ${START[$k]} ${END[$k]}"
done)
SANDBOX_IDS_JS=$RECV/lib/sandbox-ids.js node - "$OUT/spans.jsonl" "$SB_Q" "$SB_C" "$SB_P" "$SB_R" "$SB_K" "${KVM_RUNS:-0}" "$KVM_TRACED" \
	"$KVM_EXIT_TP" "$EXPECT" >"$OUT/check.log" 2>&1 <<'JS'
const [file, sbQ, sbC, sbP, sbR, sbK, kvmRuns, kvmTraced, kvmTp, expect] = process.argv.slice(2);
const all = require('fs').readFileSync(file, 'utf8').split('\n').filter(Boolean).map(JSON.parse);
const pids = expect.split('\n').map((l) => Number(l.split(' ')[1]));
const spans = all.filter((s) => s.name === 'kata.vm' &&
	pids.includes(Number((s.attributes.find((a) => a.key === 'process.pid') || { value: {} }).value.value)));
let passed = 0, failed = 0;
const ok = (what, cond) => { if (cond) passed++; else { failed++; console.log(`FAILED: ${what}`); } };
const attr = (list, k) => { const kv = list.find((a) => a.key === k); return kv && kv.value.value; };

// The sandbox ids, derived independently (docs/hypervisor-spans.md).
const { sandboxIds } = require(process.env.SANDBOX_IDS_JS);
const ids = (sb) => { const d = sandboxIds(sb); return { trace: d.traceId, span: d.rootSpanId }; };
const want = {
	Q: { sb: sbQ, exe: 'qemu-system-x86_64', hv: 'qemu', code: 3 },
	C: { sb: sbC, exe: 'cloud-hypervisor', hv: 'cloud-hypervisor', signal: 9 },
	U: { sb: null, exe: 'cloud-hypervisor', hv: 'cloud-hypervisor', code: 0 },
	P: { sb: sbP, exe: 'qemu-system-x86_64', hv: 'qemu', code: 1 },
	R: { sb: sbR, exe: 'qemu-system-x86_64', hv: 'qemu', code: 0, running: true },
	K: { sb: sbK, exe: 'qemu-system-x86_64', hv: 'qemu', code: 0, kvm: true },
};
const sleeps = { Q: 500, C: 500, U: 500, P: 2000, R: 6000, K: 500 };
ok(`one kata.vm span per stand-in hypervisor (${pids.length}), none for not-a-vmm`, spans.length === pids.length &&
	!all.some((s) => s.name === 'kata.vm' && attr(s.attributes, 'process.executable.name') === 'not-a-vmm'));
for (const line of expect.split('\n')) {
	const [key, pid, t0, t1] = line.split(' ');
	const w = want[key];
	const s = spans.find((x) => Number(attr(x.attributes, 'process.pid')) === Number(pid));
	const id = `${key} (pid ${pid})`;
	ok(`${id}: a kata.vm span`, !!s);
	if (!s) continue;
	ok(`${id}: kind INTERNAL`, s.kind === 1);
	ok(`${id}: root span`, s.parentSpanId === '');
	if (w.sb) {
		const d = ids(w.sb);
		ok(`${id}: trace id derived from the sandbox id`, s.traceId === d.trace);
		ok(`${id}: span id = the sandbox's root span id`, s.spanId === d.span);
		ok(`${id}: resource names the sandbox`, attr(s.resource, 'katatrace.sandbox.id') === w.sb);
		ok(`${id}: no unknown-sandbox mark`, attr(s.attributes, 'katatrace.sandbox.unknown') === undefined);
	} else {
		ok(`${id}: unknown sandbox marked`, attr(s.attributes, 'katatrace.sandbox.unknown') === true);
		ok(`${id}: no sandbox in the resource`, attr(s.resource, 'katatrace.sandbox.id') === undefined);
		ok(`${id}: ids of its own`, /^[0-9a-f]{32}$/.test(s.traceId) && /^[0-9a-f]{16}$/.test(s.spanId));
	}
	ok(`${id}: service.name kata`, attr(s.resource, 'service.name') === 'kata');
	ok(`${id}: executable ${w.exe}`, attr(s.attributes, 'process.executable.name') === w.exe);
	ok(`${id}: hypervisor ${w.hv}`, attr(s.attributes, 'katatrace.hypervisor') === w.hv);
	ok(`${id}: synthesized`, attr(s.attributes, 'katatrace.synthesized') === true);
	const start = BigInt(s.start), end = BigInt(s.end);
	ok(`${id}: start <= end`, start <= end);
	ok(`${id}: lasted at least its ${sleeps[key]} ms`, end - start >= BigInt(sleeps[key]) * 1000000n);
	// Clocks: the span lies within what the shell saw, give or take 50 ms (start-up, /proc ticks).
	const slack = 50000000n;
	ok(`${id}: start/end within the shell's times`,
		start + slack >= BigInt(t0) && end <= BigInt(t1) + slack && start <= BigInt(t0) + 1000000000n);
	if (w.signal) {
		ok(`${id}: killed by signal ${w.signal}`, Number(attr(s.attributes, 'katatrace.vm.exit_signal')) === w.signal);
		ok(`${id}: exit code 128 + signal`, Number(attr(s.attributes, 'process.exit.code')) === 128 + w.signal);
		ok(`${id}: status ERROR`, s.status.code === 2);
	} else {
		ok(`${id}: exit code ${w.code}`, Number(attr(s.attributes, 'process.exit.code')) === w.code);
		ok(`${id}: no signal`, attr(s.attributes, 'katatrace.vm.exit_signal') === undefined);
	}
	if (w.running)
		ok(`${id}: start_observed=false`, attr(s.attributes, 'katatrace.vm.start_observed') === false);
	else
		ok(`${id}: start observed`, attr(s.attributes, 'katatrace.vm.start_observed') === undefined);
	const exits = attr(s.attributes, 'katatrace.kvm.exits');
	if (kvmTp !== 'yes')
		ok(`${id}: no KVM exit count (no kvm_exit tracepoint on this host)`, exits === undefined);
	else if (!w.kvm)
		ok(`${id}: KVM exits counted: 0 (${exits}), it ran no guest`, exits !== undefined && Number(exits) === 0);
	else
		ok(`${id}: KVM exits counted (${exits})`, exits !== undefined);
	if (w.kvm) {
		if (kvmTraced === 'yes')
			ok(`${id}: kvm exits ${exits} >= ${kvmRuns} KVM_RUN returns`, Number(exits) >= Number(kvmRuns) && Number(kvmRuns) > 0);
		else
			console.log(`note: kvm_exit does not fire on this host (traced: ${kvmTraced}); ${exits} counted, ${kvmRuns} KVM_RUN returns; the kernel lane checks the count`);
	}
}
console.log(`${passed} passed, ${failed} failed`);
JS
sed 's/^/    /' "$OUT/check.log" | tail -n 12
absorb_counts "$OUT/check.log"
finish
