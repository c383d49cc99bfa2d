/* SPDX-License-Identifier: Apache-2.0 */
/*
 * File exporter: OTLP/JSON lines (one ExportTraceServiceRequest or
 * ExportLogsServiceRequest per line),
 * the format of the Collector's file exporter, so its output can be replayed
 * with the Collector's otlpjsonfile receiver. The file is opened for append;
 * "-" writes to stdout.
 */
#include "exporters/exporter.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "exporters/otlp_json.h"

struct file_exporter {
	struct kt_exporter base;
	FILE *f;
	bool is_stdout;
	char *path;
	struct kt_text line; /* the request's JSON, its memory kept between requests */
};

/* The request written into fe->line (false: out of memory) as one line. */
static enum kt_export_result write_line(struct file_exporter *fe, bool written)
{
	if (!written) {
		kt_export_note_status("out_of_memory");
		return KT_EXPORT_RETRY; /* may pass */
	}
	/* The newline goes into the same write so a line is never split. */
	size_t len = fe->line.len;
	fe->line.p[len] = '\n'; /* over the NUL */
	size_t w = fwrite(fe->line.p, 1, len + 1, fe->f);
	if (w != len + 1 || ferror(fe->f)) {
		/* A partial line cannot be retried without duplicating data. */
		kt_err("file exporter: writing %s: %s", fe->path, strerror(errno));
		clearerr(fe->f);
		kt_export_note_status("write");
		return KT_EXPORT_FAIL;
	}
	return KT_EXPORT_OK;
}

static enum kt_export_result file_export(struct kt_exporter *e, const kt_otlp_request *req,
					 size_t n_spans)
{
	(void)n_spans;
	struct file_exporter *fe = (struct file_exporter *)e;
	return write_line(fe, kt_otlp_json_write(req, &fe->line));
}

static enum kt_export_result file_export_logs(struct kt_exporter *e,
					      const kt_otlp_logs_request *req, size_t n_logs)
{
	(void)n_logs;
	struct file_exporter *fe = (struct file_exporter *)e;
	return write_line(fe, kt_otlp_logs_json_write(req, &fe->line));
}

static void file_flush(struct kt_exporter *e)
{
	struct file_exporter *fe = (struct file_exporter *)e;
	if (fflush(fe->f) != 0) {
		kt_err("file exporter: flushing %s: %s", fe->path, strerror(errno));
		clearerr(fe->f);
	}
}

static void file_destroy(struct kt_exporter *e)
{
	struct file_exporter *fe = (struct file_exporter *)e;
	if (!fe)
		return;
	if (fe->is_stdout)
		file_flush(e);
	else if (fclose(fe->f) != 0)
		kt_err("file exporter: closing %s: %s", fe->path, strerror(errno));
	free(fe->path);
	kt_text_free(&fe->line);
	free(fe);
}

struct kt_exporter *kt_exporter_file_new(const char *path)
{
	struct file_exporter *fe = calloc(1, sizeof(*fe));
	if (!fe)
		return NULL;
	fe->base.name = "file";
	fe->base.export = file_export;
	fe->base.export_logs = file_export_logs;
	fe->base.flush = file_flush;
	fe->base.destroy = file_destroy;
	fe->is_stdout = strcmp(path, "-") == 0;
	fe->path = strdup(fe->is_stdout ? "stdout" : path);
	if (!fe->path) {
		free(fe);
		return NULL;
	}
	fe->f = fe->is_stdout ? stdout : fopen(path, "ae");
	if (!fe->f) {
		kt_err("file exporter: cannot open %s: %s", path, strerror(errno));
		free(fe->path);
		free(fe);
		return NULL;
	}
	return &fe->base;
}
