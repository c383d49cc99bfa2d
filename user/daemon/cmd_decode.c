/* SPDX-License-Identifier: Apache-2.0 */
/* Offline decoding: captured framed streams (or raw payloads) -> OTLP/JSON lines. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/commands.h"
#include "exporters/export_queue.h"
#include "base/diag.h"
#include "stream/pipeline.h"
#include "base/stats.h"

#define CHUNK (1u << 20)

static void to_queue(void *ctx, struct kt_span_record *r)
{
	kt_export_queue_push(ctx, r);
}

static FILE *open_input(const char *name)
{
	return strcmp(name, "-") == 0 ? stdin : fopen(name, "rb");
}

/* Streams one framed file through the pipeline. */
static int decode_stream(struct kt_pipeline *p, const char *name, uint64_t id, uint8_t *buf)
{
	FILE *f = open_input(name);
	if (!f) {
		kt_err("%s: %s", name, strerror(errno));
		return -1;
	}
	struct kt_conn_info info = {
		.id = { .endpoint = id, .transport = 0 },
		.path = name,
		.transport = "file",
	};
	struct kt_conn *c = kt_pipeline_open(p, &info);
	size_t n;
	int rc = 0;
	while (c && (n = fread(buf, 1, CHUNK, f)) > 0)
		kt_pipeline_feed(p, c, buf, n);
	if (ferror(f)) {
		kt_err("%s: read error", name);
		rc = -1;
	}
	if (c)
		kt_pipeline_close(p, c);
	if (f != stdin)
		fclose(f);
	return rc;
}

/* One unframed payload per file. */
static int decode_raw(const struct kt_config *cfg, struct kt_export_queue *q, const char *name)
{
	FILE *f = open_input(name);
	if (!f) {
		kt_err("%s: %s", name, strerror(errno));
		return -1;
	}
	size_t cap = 0, len = 0;
	uint8_t *data = NULL;
	int rc = 0;
	for (;;) {
		if (len == cap) {
			if (cap >= cfg->max_frame + 1) {
				kt_err("%s: larger than --max-frame %llu bytes", name,
				       (unsigned long long)cfg->max_frame);
				rc = -1;
				goto out;
			}
			cap = cap ? cap * 2 : CHUNK;
			uint8_t *nd = realloc(data, cap);
			if (!nd) {
				rc = -1;
				goto out;
			}
			data = nd;
		}
		size_t n = fread(data + len, 1, cap - len, f);
		if (n == 0)
			break;
		len += n;
	}
	struct kt_span_record *r = kt_span_record_new(kt_decode_arena_limit(len));
	struct kt_decode_error err;
	enum kt_format used = cfg->format;
	KT_STAT_INC(frames);
	if (!r || kt_decode_span(cfg->format, data, len, &r->arena, &r->span, &used, &err)) {
		kt_stat_decode_error(used == KT_FORMAT_BINCODE ? KT_DFMT_AGENT_BINCODE
							       : KT_DFMT_AGENT_JSON);
		kt_err("%s: not a %s span payload: %s", name, kt_format_name(used),
		       r ? err.msg : "out of memory");
		kt_span_record_free(r);
	} else {
		KT_STAT_INC(spans_decoded);
		struct kt_kv kv[2] = {
			{ .key = { "katatrace.transport", 19 },
			  .value = { .type = KT_VAL_STRING, .s = { "file", 4 } } },
			{ .key = { "katatrace.file.path", 19 },
			  .value = { .type = KT_VAL_STRING, .s = { name, strlen(name) } } },
		};
		struct kt_kvlist l = { 2, kv };
		r->origin = kt_origin_new(&l, NULL, name);
		kt_export_queue_push(q, r);
	}
out:
	free(data);
	if (f != stdin)
		fclose(f);
	return rc;
}

int kt_cmd_decode(const struct kt_config *cfg)
{
	struct kt_exporter *e = kt_exporter_file_new("-");
	if (!e)
		return 2;
	struct kt_export_queue_cfg qc = KT_EXPORT_QUEUE_DEFAULTS;
	qc.resource.service_name = cfg->service_name;
	qc.queue_max = (size_t)-1; /* offline: never drop */
	struct kt_export_queue *q = kt_export_queue_start(e, &qc);
	if (!q) {
		e->destroy(e);
		return 2;
	}
	struct kt_pipeline_cfg pc = KT_PIPELINE_DEFAULTS;
	pc.protocols.agent.format = cfg->format;
	pc.protocols.agent.max_frame = cfg->max_frame;
	struct kt_pipeline *p = kt_pipeline_new(&pc, &(struct kt_record_sink){ .span = to_queue,
										 .ctx = q });
	uint8_t *buf = malloc(CHUNK);
	int io_error = 0;

	for (size_t i = 0; p && buf && i < cfg->n_files; i++) {
		int rc = cfg->raw ? decode_raw(cfg, q, cfg->files[i])
				  : decode_stream(p, cfg->files[i], i + 1, buf);
		if (rc)
			io_error = 1;
	}
	free(buf);
	kt_pipeline_free(p);
	kt_export_queue_stop(q);
	if (io_error || !p)
		return 2;
	bool bad = KT_STAT_GET(decode_errors) || KT_STAT_GET(frames_oversize) ||
		   KT_STAT_GET(resyncs) || KT_STAT_GET(frames_truncated) ||
		   KT_STAT_GET(spans_dropped);
	if (bad)
		kt_stats_summary(stderr, KT_STATS_FINAL);
	return bad ? 1 : 0;
}
