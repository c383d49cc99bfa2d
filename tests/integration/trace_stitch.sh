#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# One trace per sandbox, without runtime tracing. A Cloud Hypervisor
# sandbox appears under the run root (discovery, sink mode); a "runtime"
# (ttrpc-peer shim) makes two CreateContainer calls over its hybrid-vsock
# socket, the first with a traceparent (runtime tracing on), the second
# without; then the "agent" sends, over <uds>_10240 (JSON era):
#   create_container     a root of its own trace X (the call without traceparent)
#   do_create_container  its child
#   announce             child of the agent's root-span, which never comes
#   create_container     in the runtime's trace, child of the traced call
# and the sandbox is removed. Checked: X and the root-span's trace join the
# sandbox's trace, create_container hangs under the host's
# ttrpc.CreateContainer span, the runtime's trace is left alone, and when
# the sandbox ends the missing root-span and the sandbox's root (no VM span
# here) are synthesised, so every parent in the sandbox's trace resolves.
. "$(dirname "$0")/lib.sh"
log "sandbox traces: collation and completion"
RUN_ROOT=$OUT/r
SB=stitch-sb-7
DIR=$RUN_ROOT/run/vc/vm/$SB
mkdir -p "$DIR"
UDS=$DIR/clh.sock

"$TOOLS/ttrpc-peer" vmm "$UDS" >"$OUT/vmm.log" 2>&1 &
PIDS+=($!)
wait_for 10 "the hypervisor socket" test -S "$UDS" || abort_test "setup"
STITCH=1 start_kt --mode sink --run-root "$RUN_ROOT" --output "$OUT/spans.otlp.jsonl" \
	--batch-timeout 200 --complete-delay 300 || abort_test "setup"
wait_for 10 "the trace listener" test -S "${UDS}_10240" || abort_test "discovery listener"

T0=$(date +%s%N)
check "the runtime's two calls were answered" \
	"$TOOLS/ttrpc-peer" shim "$UDS" "$VEC/ttrpc_request_createcontainer.bin" 2
T1=$(date +%s%N)

# Agent spans: decimal ids, as the JSON era writes them.
X=111111111111111111111111111111 # the agent's own trace of create_container
Y=222222222222222222222222222222 # the agent's root-span trace
A=1000000000000000001 B=1000000000000000002 C=1000000000000000003 D=1000000000000000004
RS=1000000000000000099 # root-span: never sent
RT=$(node -e 'console.log(BigInt("0x0af7651916cd43dd8448eb211c80319c").toString())')
RP=$(node -e 'console.log(BigInt("0xb7ad6b7169203331").toString())')
ts() { printf '{"secs_since_epoch":%d,"nanos_since_epoch":%d}' $(($1 / 1000000000)) $(($1 % 1000000000)); }
span() { # trace span parent name start end
	printf '{"span_context":{"trace_id":%s,"span_id":%s,"trace_flags":1,"is_remote":false,"trace_state":null},"parent_span_id":%s,"span_kind":"Server","name":"%s","start_time":%s,"end_time":%s,"attributes":{"map":{"mod":{"String":"rpc.rs"}},"evict_list":["mod"],"max_len":128,"dropped_count":0},"events":{"queue":null,"max_len":128,"dropped_count":0},"links":{"queue":null,"max_len":128,"dropped_count":0},"status_code":"Unset","status_message":"","resource":{"attrs":{"service.name":{"String":"kata-agent"}}}}' \
		"$1" "$2" "$3" "$4" "$(ts "$5")" "$(ts "$6")"
}
frame() { # payload -> 8-byte big-endian length, payload
	local n=${#1}
	printf "$(printf '\\x%02x' 0 0 0 0 $((n >> 24 & 255)) $((n >> 16 & 255)) $((n >> 8 & 255)) $((n & 255)))"
	printf '%s' "$1"
}
{
	frame "$(span $X $B $A do_create_container $((T0 + 2000000)) $((T1 - 2000000)))"
	frame "$(span $X $A 0 create_container $((T0 + 1000000)) $((T1 - 1000000)))"
	frame "$(span $Y $C $RS announce $((T0 - 500000000)) $((T0 - 400000000)))"
	frame "$(span "$RT" $D "$RP" create_container $((T0 + 1000000)) $((T1 - 1000000)))"
} >"$OUT/agent.bin"
check "the agent's spans were sent" "$TOOLS/hv-relay" --whole-files "${UDS}_10240=$OUT/agent.bin"

exported() { # spans of this sandbox in the output so far
	[ -f "$OUT/spans.otlp.jsonl" ] || { echo 0; return; }
	node -e 'let n = 0;
for (const l of require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean))
	for (const rs of JSON.parse(l).resourceSpans)
		if (rs.resource.attributes.some((a) => a.value.stringValue === process.argv[2]))
			for (const ss of rs.scopeSpans) n += ss.spans.length;
console.log(n);' "$OUT/spans.otlp.jsonl" "$SB"
}
six() { [ "$(exported)" -ge 6 ]; }
check "2 calls and 4 agent spans exported while the sandbox runs" wait_for 10 "6 spans" six
sleep 0.5
check "nothing synthesised while the sandbox runs" [ "$(exported)" = 6 ]
rm -rf "$DIR"
check "the sandbox's end was seen" wait_for 10 "sandbox gone" grep -q "sandbox $SB: gone" "$OUT/kt.log"
sleep 1.5 # --complete-delay, then the tick
stop_kt
check "exit status 0" [ "$KT_RC" = 0 ]
node "$RECV/otlpjson.js" "$OUT/spans.otlp.jsonl" --out "$OUT/spans.jsonl" >"$OUT/otlpjson.log" 2>&1
check "OTLP/JSON lines parse with the upstream root" [ $? = 0 ]

hex() { node -e "console.log(BigInt('$1').toString(16).padStart($2, '0'))"; }
SANDBOX_IDS_JS=$RECV/lib/sandbox-ids.js node - "$OUT/spans.jsonl" "$SB" "$(hex $X 32)" "$(hex $Y 32)" "$(hex $A 16)" "$(hex $B 16)" \
	"$(hex $C 16)" "$(hex $D 16)" "$(hex $RS 16)" >"$OUT/check.log" 2>&1 <<'JS'
const [file, sb, X, Y, A, B, C, D, RS] = process.argv.slice(2);
/* The sandbox's trace T and root span R, derived from its id independently. */
const { traceId: T, rootSpanId: R } = require(process.env.SANDBOX_IDS_JS).sandboxIds(sb);
/* The capture is node-wide: only this sandbox's spans count. */
const spans = require('fs').readFileSync(file, 'utf8').split('\n').filter(Boolean).map(JSON.parse)
	.filter((s) => s.resource.some((kv) => kv.key === 'katatrace.sandbox.id' && kv.value.value === sb));
let passed = 0, failed = 0;
const ok = (what, cond) => { if (cond) passed++; else { failed++; console.log(`FAILED: ${what}`); } };
const attr = (s, k) => { const kv = s.attributes.find((a) => a.key === k); return kv && kv.value.value; };
const byId = (id) => spans.find((s) => s.spanId === id);
ok('8 spans of the sandbox', spans.length === 8);
const RT = '0af7651916cd43dd8448eb211c80319c', RP = 'b7ad6b7169203331';
const calls = spans.filter((s) => s.name === 'ttrpc.CreateContainer');
ok('two ttrpc.CreateContainer spans', calls.length === 2);
const traced = calls.find((s) => s.traceId === RT);
const plain = calls.find((s) => s.traceId !== RT);
ok('the traced call keeps the runtime trace and span id', traced && traced.spanId === RP);
ok(`the other call is in the sandbox trace ${T} under its root ${R}`,
	plain && plain.traceId === T && plain.parentSpanId === R);
if (!plain) { console.log(`${passed} passed, ${failed} failed`); process.exit(0); }
const a = byId(A), b = byId(B), c = byId(C), d = byId(D), rs = byId(RS), root = byId(R);
ok('create_container moved into the sandbox trace', a && a.traceId === T);
ok('create_container hangs under the host-side call', a && a.parentSpanId === plain.spanId);
ok('create_container: collated by rpc', a && attr(a, 'katatrace.collated') === 'rpc');
ok('create_container: its own trace id kept', a && attr(a, 'katatrace.agent.trace_id') === X);
ok('do_create_container: same trace, same parent', b && b.traceId === T && b.parentSpanId === A);
ok('do_create_container: its own trace id kept', b && attr(b, 'katatrace.agent.trace_id') === X);
ok('announce: moved, parent still the root-span', c && c.traceId === T && c.parentSpanId === RS);
ok('announce: its own trace id kept', c && attr(c, 'katatrace.agent.trace_id') === Y);
ok('the runtime-traced agent span is untouched', d && d.traceId === RT && d.parentSpanId === RP &&
	attr(d, 'katatrace.agent.trace_id') === undefined);
ok('root-span synthesised under the sandbox root', rs && rs.traceId === T && rs.parentSpanId === R &&
	rs.name === 'missing-parent' && attr(rs, 'katatrace.synthesized') === true &&
	Number(attr(rs, 'katatrace.synthesized.children')) === 1);
ok('root-span covers its child', rs && c && rs.start === c.start && rs.end === c.end);
ok('sandbox root synthesised', root && root.traceId === T && root.parentSpanId === '' &&
	root.name === 'kata.sandbox' && attr(root, 'katatrace.synthesized') === true &&
	attr(root, 'katatrace.sandbox.id') === sb);
ok('synthesised spans carry the sandbox resource', [rs, root].every((s) => s && s.resource.some(
	(kv) => kv.key === 'katatrace.sandbox.id' && kv.value.value === sb)));
const inT = spans.filter((s) => s.traceId === T);
ok('the sandbox trace: 6 spans, one root, every parent present',
	inT.length === 6 && inT.filter((s) => s.parentSpanId === '').length === 1 &&
	inT.every((s) => s.parentSpanId === '' || inT.some((p) => p.spanId === s.parentSpanId)));
console.log(`${passed} passed, ${failed} failed`);
JS
sed 's/^/    /' "$OUT/check.log" | tail -n 12
absorb_counts "$OUT/check.log"
finish
