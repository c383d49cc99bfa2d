/* SPDX-License-Identifier: Apache-2.0 */
#include "capture/probe_spec.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define SYS_ENTER "sys_enter_"
#define SYS_EXIT "sys_exit_"
/* Bytes of a spec an error about its length repeats. */
#define SHOWN_OF_LONG_SPEC 40

/* Formats "<spec as written>: <what>" into err. */
static int fail(char *err, size_t errlen, const char *spec, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, const char *spec, const char *fmt, ...)
{
	char shown[KT_PROBE_SPEC_MAX + 1];
	size_t n = 0;
	va_list ap;

	if (!errlen)
		return -1;
	for (; spec[n] && n < KT_PROBE_SPEC_MAX; n++) {
		unsigned char c = (unsigned char)spec[n];
		shown[n] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	shown[n] = '\0';
	int w = snprintf(err, errlen, "%s: ", shown);
	if (w >= 0 && (size_t)w < errlen) {
		va_start(ap, fmt);
		vsnprintf(err + w, errlen - (size_t)w, fmt, ap);
		va_end(ap);
	}
	return -1;
}

static const char *forms(enum kt_probe_role role)
{
	return role == KT_PROBE_SPAN
		       ? "uprobe:BINARY:SYMBOL, kprobe:FUNCTION or tracepoint:CATEGORY:ENTER/EXIT"
		       : "uprobe:BINARY:SYMBOL, kprobe:FUNCTION or tracepoint:CATEGORY:NAME";
}

static bool is_alnum_(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

/* Copies s[0..n) into dst (cap bytes + NUL) after checking it as a tracepoint part. */
static int tp_part(const char *spec, const char *what, const char *s, size_t n, char *dst,
		   char *err, size_t errlen)
{
	if (n == 0)
		return fail(err, errlen, spec, "empty %s", what);
	if (n > KT_PROBE_TP_NAME_MAX)
		return fail(err, errlen, spec, "%s longer than %d bytes", what, KT_PROBE_TP_NAME_MAX);
	for (size_t i = 0; i < n; i++)
		if (!is_alnum_(s[i]))
			return fail(err, errlen, spec, "%s may hold only letters, digits and '_'",
				    what);
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

static int parse_uprobe(const char *spec, const char *rest, struct kt_probe_spec *out, char *err,
			size_t errlen)
{
	const char *colon = strrchr(rest, ':');
	if (!colon)
		return fail(err, errlen, spec, "expected uprobe:BINARY:SYMBOL");
	size_t blen = (size_t)(colon - rest), slen = strlen(colon + 1);
	if (blen == 0)
		return fail(err, errlen, spec, "empty BINARY");
	if (rest[0] != '/')
		return fail(err, errlen, spec, "BINARY must be an absolute path");
	if (slen == 0)
		return fail(err, errlen, spec, "empty SYMBOL");
	if (slen > KT_PROBE_SYMBOL_MAX)
		return fail(err, errlen, spec, "SYMBOL longer than %d bytes", KT_PROBE_SYMBOL_MAX);
	memcpy(out->binary, rest, blen);
	out->binary[blen] = '\0';
	memcpy(out->symbol, colon + 1, slen + 1);
	return 0;
}

static int parse_kprobe(const char *spec, const char *rest, struct kt_probe_spec *out, char *err,
			size_t errlen)
{
	size_t n = strlen(rest);
	if (strchr(rest, ':'))
		return fail(err, errlen, spec, "expected kprobe:FUNCTION");
	if (n == 0)
		return fail(err, errlen, spec, "empty FUNCTION");
	if (n > KT_PROBE_SYMBOL_MAX)
		return fail(err, errlen, spec, "FUNCTION longer than %d bytes", KT_PROBE_SYMBOL_MAX);
	for (size_t i = 0; i < n; i++)
		if (!is_alnum_(rest[i]) && rest[i] != '.')
			return fail(err, errlen, spec,
				    "FUNCTION may hold only letters, digits, '_' and '.'");
	if ((rest[0] >= '0' && rest[0] <= '9') || rest[0] == '.')
		return fail(err, errlen, spec, "FUNCTION must start with a letter or '_'");
	memcpy(out->symbol, rest, n + 1);
	return 0;
}

static int parse_tracepoint(const char *spec, const char *rest, enum kt_probe_role role,
			    struct kt_probe_spec *out, char *err, size_t errlen)
{
	const char *colon = strchr(rest, ':');
	if (!colon || strchr(colon + 1, ':'))
		return fail(err, errlen, spec, "expected %s",
			    role == KT_PROBE_SPAN ? "tracepoint:CATEGORY:ENTER/EXIT"
						  : "tracepoint:CATEGORY:NAME");
	if (tp_part(spec, "CATEGORY", rest, (size_t)(colon - rest), out->category, err, errlen))
		return -1;
	const char *name = colon + 1, *slash = strchr(name, '/');
	if (role == KT_PROBE_EVENT) {
		if (slash)
			return fail(err, errlen, spec,
				    "--event takes one tracepoint, tracepoint:CATEGORY:NAME");
		return tp_part(spec, "NAME", name, strlen(name), out->tp, err, errlen);
	}
	if (!slash)
		return fail(err, errlen, spec,
			    "--span needs a pair of tracepoints, tracepoint:CATEGORY:ENTER/EXIT");
	if (tp_part(spec, "ENTER", name, (size_t)(slash - name), out->tp, err, errlen) ||
	    tp_part(spec, "EXIT", slash + 1, strlen(slash + 1), out->tp_exit, err, errlen))
		return -1;
	if (!strcmp(out->tp, out->tp_exit))
		return fail(err, errlen, spec, "ENTER and EXIT are the same tracepoint");
	if (!strcmp(out->category, "syscalls")) {
		const char *sys = out->tp + strlen(SYS_ENTER);
		if (strncmp(out->tp, SYS_ENTER, strlen(SYS_ENTER)) || !*sys ||
		    strncmp(out->tp_exit, SYS_EXIT, strlen(SYS_EXIT)) ||
		    strcmp(out->tp_exit + strlen(SYS_EXIT), sys))
			return fail(err, errlen, spec,
				    "in the syscalls category a pair is sys_enter_X/sys_exit_X");
	}
	return 0;
}

int kt_probe_spec_parse(const char *s, enum kt_probe_role role, struct kt_probe_spec *out,
			char *err, size_t errlen)
{
	static const struct {
		const char *prefix;
		enum kt_probe_kind kind;
	} kinds[] = { { "uprobe", KT_PROBE_UPROBE },
		      { "kprobe", KT_PROBE_KPROBE },
		      { "tracepoint", KT_PROBE_TRACEPOINT } };
	size_t n = strlen(s);

	memset(out, 0, sizeof(*out));
	if (n == 0) {
		snprintf(err, errlen, "empty probe spec (%s)", forms(role));
		return -1;
	}
	if (n > KT_PROBE_SPEC_MAX) {
		snprintf(err, errlen, "%.*s...: longer than %d bytes", SHOWN_OF_LONG_SPEC, s,
			 KT_PROBE_SPEC_MAX);
		for (char *p = err; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = '?';
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return fail(err, errlen, s, "control character in the spec");
	const char *colon = strchr(s, ':');
	if (!colon)
		return fail(err, errlen, s, "not a probe spec (%s)", forms(role));
	size_t klen = (size_t)(colon - s);
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (strlen(kinds[i].prefix) != klen || strncmp(s, kinds[i].prefix, klen))
			continue;
		out->kind = kinds[i].kind;
		out->role = role;
		memcpy(out->text, s, n + 1);
		int rc = out->kind == KT_PROBE_UPROBE	? parse_uprobe(s, colon + 1, out, err, errlen)
			 : out->kind == KT_PROBE_KPROBE ? parse_kprobe(s, colon + 1, out, err, errlen)
							: parse_tracepoint(s, colon + 1, role, out,
									   err, errlen);
		if (rc)
			memset(out, 0, sizeof(*out));
		return rc;
	}
	return fail(err, errlen, s,
		    "unknown probe kind \"%.*s\" (uprobe, kprobe or tracepoint; --span probes the "
		    "return too)",
		    (int)klen, s);
}

const char *kt_probe_spec_syscall(const struct kt_probe_spec *s)
{
	if (s->kind != KT_PROBE_TRACEPOINT || strcmp(s->category, "syscalls"))
		return NULL;
	if (!strncmp(s->tp, SYS_ENTER, strlen(SYS_ENTER)) && s->tp[strlen(SYS_ENTER)])
		return s->tp + strlen(SYS_ENTER);
	if (!strncmp(s->tp, SYS_EXIT, strlen(SYS_EXIT)) && s->tp[strlen(SYS_EXIT)])
		return s->tp + strlen(SYS_EXIT);
	return NULL;
}

const char *kt_probe_spec_name(const struct kt_probe_spec *s, char *buf, size_t n)
{
	const char *sys = kt_probe_spec_syscall(s);
	if (s->kind != KT_PROBE_TRACEPOINT)
		snprintf(buf, n, "%s", s->symbol);
	else if (sys && s->role == KT_PROBE_SPAN)
		snprintf(buf, n, "%s", sys);
	else
		snprintf(buf, n, "%s:%s", s->category, s->tp);
	return buf;
}
