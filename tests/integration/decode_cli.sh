#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# `katatrace-bpf decode`: golden framed streams and single frames of both
# eras to OTLP/JSON lines, checked by the independent receiver code; bad
# input gives a clear error and exit status.
. "$(dirname "$0")/lib.sh"
log "decode command"
"$KT" decode "$VEC/framed_stream_otel017_json.bin" "$VEC/framed_stream_otel014_bincode.bin" \
	>"$OUT/decoded.jsonl" 2>"$OUT/decode.err"
check "decode of both golden streams exits 0" [ $? = 0 ]
node "$RECV/otlpjson.js" "$OUT/decoded.jsonl" --out "$OUT/spans.jsonl" >"$OUT/otlpjson.log" 2>&1
check "OTLP/JSON lines parse with the upstream root" [ $? = 0 ]
{
	echo '{"service_name":"kata-agent","items":['
	sep=""
	while read -r label; do
		for era in json bincode; do
			[ $era = json ] && f=$VEC/framed_stream_otel017_json.bin || f=$VEC/framed_stream_otel014_bincode.bin
			printf '%s{"expected":"%s/expected_%s.json","era":"%s","count":1,"origin":{"katatrace.transport":{"type":"string","value":"file"},"katatrace.file.path":{"type":"string","value":"%s"}}}\n' \
				"$sep" "$VEC" "$label" "$era" "$f"
			sep=","
		done
	done <"$VEC/stream_order.txt"
	echo ']}'
} >"$OUT/manifest.json"
check_spans "$OUT/spans.jsonl"

"$KT" decode --raw "$VEC/otel014_bincode_links.bin" >"$OUT/raw.jsonl" 2>"$OUT/raw.err"
check "decode --raw of a bincode payload" [ $? = 0 -a "$(grep -c '"name":"links"' "$OUT/raw.jsonl")" = 1 ]
svc() { grep -o '"key":"service.name","value":{"stringValue":"[^"]*"' | sed 's/.*"stringValue":"//; s/"$//'; }
check "service.name defaults to kata-agent where the agent sets none" \
	[ "$("$KT" decode --raw "$VEC/otel014_bincode_root.bin" | svc)" = kata-agent ]
check "OTEL_SERVICE_NAME sets it" \
	[ "$(OTEL_SERVICE_NAME=svc-env "$KT" decode --raw "$VEC/otel014_bincode_root.bin" | svc)" = svc-env ]
check "--trace-name (alias of --service-name) wins over the environment" \
	[ "$(OTEL_SERVICE_NAME=svc-env "$KT" decode --trace-name svc-flag --raw "$VEC/otel014_bincode_root.bin" | svc)" = svc-flag ]
check "the agent's own service.name is kept" \
	[ "$("$KT" decode --service-name other --raw "$VEC/otel017_json_unicode.json" | svc)" = "agent-κ" ]
"$KT" decode --raw --format bincode "$VEC/otel017_json_links.json" >/dev/null 2>"$OUT/wrong.err"
check_exit "wrong era forced: exit 1 with an error naming the file" $? 1 "$OUT/wrong.err" \
	'otel017_json_links.json: not a bincode span payload'
# A file is an agent stream whatever its name (capture picks Jaeger by a _6831
# suffix). Both names must give the stream's spans, one per label of
# stream_order.txt, counted by the upstream root: equal counts alone pass at 0.
STREAM_SPANS=$(grep -c . "$VEC/stream_order.txt")
cp "$VEC/framed_stream_otel017_json.bin" "$OUT/capture_6831"
spans_of() { # file -> spans decoded, as the upstream root parses them
	"$KT" decode "$1" >"$OUT/one.jsonl" 2>"$OUT/one.err" &&
		node "$RECV/otlpjson.js" "$OUT/one.jsonl" --out "$OUT/one.spans.jsonl" >/dev/null 2>&1 &&
		count_lines "$OUT/one.spans.jsonl"
}
check "the golden JSON stream decodes to its $STREAM_SPANS spans" \
	[ "$STREAM_SPANS" -gt 0 -a "$(spans_of "$VEC/framed_stream_otel017_json.bin")" = "$STREAM_SPANS" ]
check "a file named *_6831 still decodes as an agent stream ($STREAM_SPANS spans)" \
	[ "$STREAM_SPANS" -gt 0 -a "$(spans_of "$OUT/capture_6831")" = "$STREAM_SPANS" ]
"$KT" decode /nonexistent/file 2>"$OUT/missing.err" >/dev/null
check_exit "missing file: exit 2 naming it" $? 2 "$OUT/missing.err" '/nonexistent/file'
"$KT" decode --format yaml x 2>"$OUT/usage.err" >/dev/null
check_exit "bad flag value: exit 2 naming the flag" $? 2 "$OUT/usage.err" "--format: 'yaml'"
finish
