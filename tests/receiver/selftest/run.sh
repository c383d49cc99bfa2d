#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
#
# End-to-end check of the OTLP exporters against the independent Node.js
# receiver/checker, and of the checker itself:
#
#   tests/receiver/selftest/run.sh [path/to/export_expected]
#
# 1. Every golden vector (both eras, with origins, some repeated) goes through
#    kt_otlp_build + the OTLP/HTTP exporter (to receiver.js) in protobuf and
#    in OTLP/JSON (http/json), and the file exporter (read back by
#    otlpjson.js); check.js must pass all three, and all three paths must
#    normalize to identical lines.
# 2. Deliberately wrong expectations and tampered span lines must fail with
#    the expected report lines; malformed OTLP/JSON must be rejected, in a
#    file and as an http/json body.
# 3. --fail-first and --status make the exporter see RETRY and FAIL, in both
#    encodings; --partial-success answers are read and logged.
#
# Needs node >= 18 with tests/receiver/node_modules installed (npm ci) and
# build/tools/export_expected (make build/tools/export_expected).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
recv=$(dirname "$here")
root=$(cd "$recv/../.." && pwd)
tool=${1:-$root/build/tools/export_expected}
manifest=$here/manifest.json
tmp=$(mktemp -d)
rpid=
failures=0

cleanup() {
	[ -n "$rpid" ] && kill "$rpid" 2>/dev/null && wait "$rpid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

ok() { echo "ok:   $*"; }
bad() { echo "FAIL: $*"; failures=$((failures + 1)); }

start_receiver() { # out-file [receiver options]
	local out=$1
	shift
	rm -f "$tmp/port"
	node "$recv/receiver.js" --port-file "$tmp/port" --out "$out" "$@" 2>>"$tmp/receiver.log" &
	rpid=$!
	for _ in $(seq 100); do
		[ -s "$tmp/port" ] && break
		sleep 0.1
	done
	[ -s "$tmp/port" ] || { echo "receiver did not start"; cat "$tmp/receiver.log"; exit 1; }
	url="http://127.0.0.1:$(cat "$tmp/port")/v1/traces"
}

stop_receiver() {
	kill -TERM "$rpid"
	wait "$rpid" || bad "receiver exit status $?"
	rpid=
}

check() { # manifest got-file -> output in $tmp/check.out, returns check.js status
	node "$recv/check.js" --manifest "$1" --got "$2" >"$tmp/check.out"
}

expect_check() { # description manifest got-file "summary line" [grep pattern...]
	local what=$1 m=$2 g=$3 summary=$4
	shift 4
	if check "$m" "$g"; then
		bad "$what: check.js passed"
		return
	fi
	if ! grep -qx "$summary" "$tmp/check.out"; then
		bad "$what: summary is '$(tail -1 "$tmp/check.out")', want '$summary'"
		return
	fi
	for pat in "$@"; do
		grep -q -- "$pat" "$tmp/check.out" || { bad "$what: no line matching '$pat'"; cat "$tmp/check.out"; return; }
	done
	ok "$what"
}

# ------------------------------------------------------------------ 1. positive

start_receiver "$tmp/http.jsonl"
"$tool" --manifest "$manifest" --http "$url" --file "$tmp/otlp.jsonl" --batch 7 2>"$tmp/tool.log" ||
	{ cat "$tmp/tool.log"; bad "export_expected failed"; }
stop_receiver

n_expected=$(node -e '
	const m = require(process.argv[1]);
	console.log(m.items.reduce((n, i) => n + (i.count || 1), 0) + 1);' "$manifest")

if check "$manifest" "$tmp/http.jsonl"; then
	ok "OTLP/HTTP path: $(tail -1 "$tmp/check.out")"
else
	cat "$tmp/check.out"
	bad "OTLP/HTTP path"
fi
grep -qx "$n_expected passed, 0 failed" "$tmp/check.out" || bad "expected $n_expected checks"

if node "$recv/otlpjson.js" "$tmp/otlp.jsonl" --out "$tmp/file.jsonl" 2>"$tmp/otlpjson.log" &&
	check "$manifest" "$tmp/file.jsonl"; then
	ok "OTLP/JSON path: $(tail -1 "$tmp/check.out")"
else
	cat "$tmp/otlpjson.log" "$tmp/check.out"
	bad "OTLP/JSON path"
fi
cmp -s "$tmp/http.jsonl" "$tmp/file.jsonl" && ok "both paths normalize identically" ||
	bad "HTTP and JSON paths differ"

# The same through OTLP/HTTP with JSON bodies, decoded by the receiver's
# http/json path (lib/otlp-json.js and the upstream root).
: >"$tmp/receiver.log"
start_receiver "$tmp/json.jsonl"
"$tool" --manifest "$manifest" --http-json "$url" --batch 7 2>"$tmp/tool.log" ||
	{ cat "$tmp/tool.log"; bad "export_expected --http-json failed"; }
stop_receiver
if check "$manifest" "$tmp/json.jsonl"; then
	ok "OTLP/HTTP JSON path: $(tail -1 "$tmp/check.out")"
else
	cat "$tmp/check.out"
	bad "OTLP/HTTP JSON path"
fi
grep -qx "$n_expected passed, 0 failed" "$tmp/check.out" || bad "JSON path: expected $n_expected checks"
cmp -s "$tmp/http.jsonl" "$tmp/json.jsonl" && ok "protobuf and JSON bodies normalize identically" ||
	bad "protobuf and JSON bodies differ"
n_json=$(grep -c ': application/json, [0-9]* span(s)$' "$tmp/receiver.log")
if [ "$n_json" -gt 1 ] && ! grep -q 'application/x-protobuf' "$tmp/receiver.log"; then
	ok "$n_json requests, each application/json"
else
	cat "$tmp/receiver.log"
	bad "the http/json requests were not all application/json"
fi

# ------------------------------------------------------------------ 2. negative

g=$tmp/http.jsonl

# Edited manifests live in $tmp/m/x/ so that their relative "../../vectors"
# paths still resolve; edits are textual to keep 64-bit numbers exact.
mkdir -p "$tmp/m/x"
ln -s "$root/tests/vectors" "$tmp/vectors"
edit_manifest() { # js-regex replacement output
	node -e '
		const fs = require("fs");
		const t = fs.readFileSync(process.argv[1], "utf8");
		const u = t.replace(new RegExp(process.argv[2]), process.argv[3]);
		if (u === t) { console.error("edit did not apply"); process.exit(1); }
		fs.writeFileSync(process.argv[4], u);' "$manifest" "$1" "$2" "$3"
}

# A wrong service name changes every resource derived from it.
edit_manifest '"service_name": "kata-agent"' '"service_name": "not-kata"' "$tmp/m/x/svc.json"
if check "$tmp/m/x/svc.json" "$g"; then
	bad "wrong service_name: check.js passed"
else
	grep -q '^MISSING root/bincode#1 ' "$tmp/check.out" &&
		grep -q '^UNEXPECTED .*"root-span" resource=.*"kata-agent"' "$tmp/check.out" &&
		ok "wrong service_name: $(tail -1 "$tmp/check.out")" || { cat "$tmp/check.out"; bad "wrong service_name: report"; }
fi

# Era confusion: JSON-era non-finite doubles are NaN, not +Inf/-Inf.
edit_manifest '(expected_f64_nonfinite\.json",\s*"era": )"json"' '$1"bincode"' "$tmp/m/x/era.json"
expect_check "wrong era" "$tmp/m/x/era.json" "$g" "$((n_expected - 2)) passed, 2 failed" \
	'^MISMATCH f64_nonfinite/bincode#1 .*attributes\[1\]\.value\.value: expected "+Inf", got "NaN"'

# A wrong expectation inside an expected file.
sed 's/"name": "links"/"name": "link"/' "$root/tests/vectors/expected_links.json" >"$tmp/m/x/links.json"
edit_manifest '"../../vectors/expected_links.json",(\s*"era": "bincode")' '"links.json",$1' "$tmp/m/x/name.json"
expect_check "wrong name" "$tmp/m/x/name.json" "$g" "$((n_expected - 2)) passed, 2 failed" \
	'^MISSING links/bincode#1 0af7651916cd43dd8448eb211c80319c/b7ad6b7169203331 "link"' \
	'^UNEXPECTED 0af7651916cd43dd8448eb211c80319c/b7ad6b7169203331 "links"'

# Tampered received lines.
tamper() { # js-expression-on-span(s) output
	node -e '
		const fs = require("fs");
		const f = new Function("s", "i", process.argv[2]);
		const lines = fs.readFileSync(process.argv[1], "utf8").trim().split("\n");
		let done = false;
		const out = [];
		lines.forEach((l, i) => {
			const s = JSON.parse(l);
			const r = done ? s : f(s, i);
			if (r !== s) done = true;
			if (r === null) return;
			for (const x of Array.isArray(r) ? r : [r]) out.push(JSON.stringify(x));
		});
		fs.writeFileSync(process.argv[3], out.join("\n") + "\n");' "$g" "$1" "$2"
}

tamper 'if (s.name !== "values") return s; const c = structuredClone(s);
	c.attributes[5].value.value = "9223372036854775806"; return c;' "$tmp/t1.jsonl"
expect_check "i64 off by one" "$manifest" "$tmp/t1.jsonl" "$((n_expected - 1)) passed, 1 failed" \
	'^MISMATCH values/bincode#1 .*attributes\[5\]\.value\.value: expected "9223372036854775807", got "9223372036854775806"'

tamper 'if (s.name !== "ts-set") return s; const c = structuredClone(s); c.flags = 257 | 512; return c;' "$tmp/t2.jsonl"
expect_check "remote flag" "$manifest" "$tmp/t2.jsonl" "$((n_expected - 1)) passed, 1 failed" \
	'^MISMATCH tracestate_set/bincode#1 .*flags: expected 257, got 769'

tamper 'if (s.name !== "events") return s; const c = structuredClone(s); c.events[2].droppedAttributesCount = 0; return c;' "$tmp/t3.jsonl"
expect_check "event dropped count" "$manifest" "$tmp/t3.jsonl" "$((n_expected - 1)) passed, 1 failed" \
	'events\[2\]\.droppedAttributesCount: expected 3, got 0'

tamper 'if (s.name !== "inline") return s; const c = structuredClone(s); c.attributes[0].value.value = 0; return c;' "$tmp/t4.jsonl"
expect_check "negative zero" "$manifest" "$tmp/t4.jsonl" "$((n_expected - 1)) passed, 1 failed" \
	'attributes\[0\]\.value\.value: expected "-0", got 0'

tamper 'return s.name === "CreateContainer" ? null : s;' "$tmp/t5.jsonl"
expect_check "missing span" "$manifest" "$tmp/t5.jsonl" "$((n_expected - 1)) passed, 1 failed" \
	'^MISSING worked/bincode#2 '

tamper 'return s.name === "links" ? [s, s] : s;' "$tmp/t6.jsonl"
expect_check "duplicated span" "$manifest" "$tmp/t6.jsonl" "$((n_expected - 1)) passed, 1 failed" \
	'^UNEXPECTED 0af7651916cd43dd8448eb211c80319c/b7ad6b7169203331 "links"'

tamper 'if (s.name !== "root-span") return s; const c = structuredClone(s); c.resource.reverse(); return c;' "$tmp/t7.jsonl"
expect_check "resource order" "$manifest" "$tmp/t7.jsonl" "$((n_expected - 2)) passed, 2 failed" \
	'^MISSING root/bincode#1' '^UNEXPECTED .*"root-span"'

# Malformed OTLP/JSON is rejected.
line=$(head -1 "$tmp/otlp.jsonl")
reject() { # description sed-expression
	printf '%s\n' "$line" | sed -e "$2" >"$tmp/badjson.jsonl"
	if cmp -s <(printf '%s\n' "$line") "$tmp/badjson.jsonl"; then
		bad "$1: tampering did not change the line"
	elif node "$recv/otlpjson.js" "$tmp/badjson.jsonl" --out "$tmp/badjson.out" 2>"$tmp/badjson.log"; then
		bad "$1: otlpjson.js accepted it"
	else
		ok "$1: $(head -1 "$tmp/badjson.log" | cut -c1-100)"
	fi
}
reject "upper-case hex id" 's/"traceId":"\([0-9a-f]*\)"/"traceId":"\U\1"/'
reject "int64 as number" 's/"startTimeUnixNano":"\([0-9]*\)"/"startTimeUnixNano":\1/'
reject "snake_case key" 's/"spanId"/"span_id"/'

# ... and as http/json bodies: 400 with a google.rpc.Status in JSON, nothing recorded.
post_json() { # body-file -> "status body" of the receiver's answer
	node -e '
		const http = require("http");
		const body = require("fs").readFileSync(process.argv[2]);
		const req = http.request(process.argv[1], { method: "POST",
			headers: { "Content-Type": "application/json" } }, (res) => {
			let got = "";
			res.on("data", (c) => { got += c; });
			res.on("end", () => console.log(`${res.statusCode} ${res.headers["content-type"]} ${got}`));
		});
		req.end(body);' "$url" "$1"
}
start_receiver "$tmp/refused.jsonl"
reject_body() { # description sed-expression
	printf '%s' "$line" | sed -e "$2" >"$tmp/badbody.json"
	local answer
	answer=$(post_json "$tmp/badbody.json")
	case $answer in
	"400 application/json {\"code\":3,\"message\":\"cannot decode: "*) ok "http/json $1: ${answer:0:100}" ;;
	*) bad "http/json $1: answered $answer" ;;
	esac
}
reject_body "upper-case hex id" 's/"traceId":"\([0-9a-f]*\)"/"traceId":"\U\1"/'
reject_body "int64 as number" 's/"startTimeUnixNano":"\([0-9]*\)"/"startTimeUnixNano":\1/'
reject_body "unknown key" 's/"spanId"/"span_id"/'
reject_body "invalid UTF-8" "s/\"name\":\"/\"name\":\"$(printf '\xff')/"
reject_body "two documents" 's/$/{}/'
printf '%s' "$line" >"$tmp/goodbody.json"
case $(post_json "$tmp/goodbody.json") in
"200 application/json {}") ok "http/json: the untampered line is accepted" ;;
*) bad "http/json: the untampered line was not accepted" ;;
esac
stop_receiver
n_good=$(node "$recv/otlpjson.js" "$tmp/goodbody.json" --out /dev/stdout 2>/dev/null | wc -l)
[ "$n_good" -gt 0 ] && [ "$(wc -l <"$tmp/refused.jsonl")" = "$n_good" ] &&
	ok "only the untampered body was recorded ($n_good spans)" || bad "a refused body was recorded"

# ------------------------------------------------------------------ 3. retry/fail

one=$tmp/one.json
node -e '
	const m = require(process.argv[1]);
	m.items = m.items.filter((i) => /expected_worked/.test(i.expected || "")).slice(0, 1);
	m.items[0].expected = require("path").resolve(process.argv[2], m.items[0].expected);
	m.items[0].count = 1;
	require("fs").writeFileSync(process.argv[3], JSON.stringify(m));' "$manifest" "$here" "$one"

start_receiver "$tmp/retry.jsonl" --fail-first 1
"$tool" --manifest "$one" --http "$url" 2>"$tmp/tool.log" && bad "503: export was OK" ||
	grep -q 'will retry' "$tmp/tool.log" && ok "--fail-first 1: RETRY" || bad "503: no retry logged"
"$tool" --manifest "$one" --http "$url" 2>"$tmp/tool.log" && check "$one" "$tmp/retry.jsonl" &&
	ok "second attempt accepted: $(tail -1 "$tmp/check.out")" || bad "second attempt"
stop_receiver

start_receiver "$tmp/status.jsonl" --status 400
"$tool" --manifest "$one" --http "$url" 2>"$tmp/tool.log" && bad "400: export was OK" ||
	grep -q 'HTTP 400: status 400 requested' "$tmp/tool.log" && ok "--status 400: FAIL" ||
	{ cat "$tmp/tool.log"; bad "400: no failure logged"; }
stop_receiver
[ -s "$tmp/status.jsonl" ] && bad "rejected spans were recorded" || true

# http/json: the failures' google.rpc.Status in JSON is shown with its code's name.
expect_tool() { # description expected-exit fixed-string tool-args...
	local what=$1 want=$2 text=$3 rc=0
	shift 3
	"$tool" --manifest "$one" "$@" 2>"$tmp/tool.log" || rc=$?
	if [ "$rc" = "$want" ] && grep -qF -- "$text" "$tmp/tool.log"; then
		ok "$what"
	else
		cat "$tmp/tool.log"
		bad "$what: exit $rc, want $want with '$text'"
	fi
}
start_receiver "$tmp/retry-json.jsonl" --fail-first 1
expect_tool "http/json --fail-first 1: RETRY" 1 "HTTP 503 (will retry): try again (UNAVAILABLE)" \
	--http-json "$url"
expect_tool "http/json second attempt accepted" 0 "1 span(s) exported" --http-json "$url"
stop_receiver
check "$one" "$tmp/retry-json.jsonl" && ok "http/json retried span: $(tail -1 "$tmp/check.out")" ||
	bad "http/json retried span"

start_receiver "$tmp/status-json.jsonl" --status 400
expect_tool "http/json --status 400: FAIL" 1 \
	"HTTP 400: status 400 requested (INVALID_ARGUMENT)" --http-json "$url"
stop_receiver
[ -s "$tmp/status-json.jsonl" ] && bad "http/json: rejected spans were recorded" || true

# Partial success, encoded by the receiver with the upstream message types.
start_receiver "$tmp/partial.jsonl" --partial-success "2:too old"
expect_tool "partial success (protobuf) logged" 0 "collector rejected 2 span(s): too old" \
	--http "$url"
expect_tool "partial success (JSON) logged" 0 "collector rejected 2 span(s): too old" \
	--http-json "$url"
stop_receiver
[ "$(wc -l <"$tmp/partial.jsonl")" = 2 ] && ok "partially successful exports are recorded" ||
	bad "partial success: $(wc -l <"$tmp/partial.jsonl") span lines, want 2"

echo
if [ "$failures" -eq 0 ]; then
	echo "selftest: all passed"
else
	echo "selftest: $failures failure(s)"
	exit 1
fi
