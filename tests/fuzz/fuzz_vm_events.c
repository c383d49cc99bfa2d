/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: VM event records (bpf/vm_events.h) into kata.vm and
 * vsock.connection spans, and the hypervisor command-line parser. The
 * input is cut into records by a 2-byte length prefix. Always: a sandbox
 * id that comes out of a command line is a valid one, a guest CID is a
 * guest's (> 2), every span built has a name and a non-zero span id, and
 * the state is bounded and freed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "base/diag.h"
#include "model/span_record.h"
#include "traces/vm_spans.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void sink(void *ctx, struct kt_span_record *r)
{
	(void)ctx;
	CHECK(r->span.name.len > 0 && r->span.ctx.span_id != 0);
	CHECK(r->span.end_unix_nano >= r->span.start_unix_nano);
	kt_span_record_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int quiet;
	if (!quiet) {
		kt_log_level = KT_LOG_ERROR;
		quiet = 1;
	}
	char sb[KT_SANDBOX_ID_MAX + 1];
	uint32_t cid;
	kt_vm_cmdline_parse((const char *)data, size, "/r", sb, &cid);
	CHECK(sb[0] == '\0' || kt_sandbox_id_valid(sb, strlen(sb)));
	CHECK(cid == 0 || cid > 2);

	struct kt_vm_spans_cfg cfg = { .run_root = "" };
	struct kt_vm_spans *v = kt_vm_spans_new(&cfg, &(struct kt_record_sink){ .span = sink });
	if (!v)
		return 0;
	/* Records as the ring buffer delivers them: aligned copies. */
	uint8_t *rec = malloc(sizeof(struct kt_vm_exec) + 16);
	while (rec && size >= 2) {
		size_t n = (size_t)data[0] << 8 | data[1];
		data += 2;
		size -= 2;
		if (n > size)
			n = size;
		if (n > sizeof(struct kt_vm_exec) + 16)
			n = sizeof(struct kt_vm_exec) + 16;
		memcpy(rec, data, n);
		kt_vm_spans_record(v, rec, n);
		data += n;
		size -= n;
	}
	free(rec);
	kt_vm_spans_finish(v);
	kt_vm_spans_free(v);
	return 0;
}
