/* SPDX-License-Identifier: Apache-2.0 */
/* The variables of probe specs and bpftrace programs (the rules: daemon/probe_target.h). */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "base/diag.h"
#include "daemon/probe_target.h"

enum var { V_SANDBOX_ID, V_HYPERVISOR_PID, V_SHIM_PID, V_VIRTIOFSD_PID, V_PID, V_CONTAINER_PID, N_VARS };

/* In the order errors list them. */
static const char *const var_names[N_VARS] = {
	[V_SANDBOX_ID] = "sandbox_id",       [V_HYPERVISOR_PID] = "hypervisor_pid", [V_SHIM_PID] = "shim_pid",
	[V_VIRTIOFSD_PID] = "virtiofsd_pid", [V_PID] = "pid",                       [V_CONTAINER_PID] = "container_pid",
};

/* What a sandbox's process is called in errors. */
static const char *const proc_names[N_VARS] = {
	[V_HYPERVISOR_PID] = "hypervisor",
	[V_SHIM_PID] = "runtime shim",
	[V_VIRTIOFSD_PID] = "virtiofsd",
};

#define NAME_MAX_SHOWN 64 /* bytes of an unknown name repeated in its error */
#define VALUE_MAX (KT_SANDBOX_ID_MAX + 1)

static bool name_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool name_char(char c)
{
	return name_start(c) || (c >= '0' && c <= '9');
}

static enum var var_of(const char *name, size_t n)
{
	for (int v = 0; v < N_VARS; v++)
		if (strlen(var_names[v]) == n && strncmp(var_names[v], name, n) == 0)
			return (enum var)v;
	return N_VARS;
}

static bool in_sandbox(const struct kt_probe_target *t)
{
	return t->sandbox.id[0] != '\0';
}

/* Var v's value on t into out; false when t has none. */
static bool value_of(const struct kt_probe_target *t, enum var v, char out[VALUE_MAX])
{
	uint32_t pid = 0;
	switch (v) {
	case V_SANDBOX_ID:
		if (!in_sandbox(t))
			return false;
		snprintf(out, VALUE_MAX, "%s", t->sandbox.id);
		return true;
	case V_HYPERVISOR_PID:
		pid = in_sandbox(t) ? t->hypervisor_pid : 0;
		break;
	case V_SHIM_PID:
		pid = in_sandbox(t) ? t->shim_pid : 0;
		break;
	case V_VIRTIOFSD_PID:
		pid = in_sandbox(t) ? t->virtiofsd_pid : 0;
		break;
	case V_PID:
		pid = t->kind == KT_TARGET_PID ? t->pid : 0;
		break;
	case V_CONTAINER_PID:
	case N_VARS:
		return false;
	}
	if (!pid)
		return false;
	snprintf(out, VALUE_MAX, "%u", pid);
	return true;
}

/* "$a, $b" of the names t has a value for, or "none". */
static const char *defined(const struct kt_probe_target *t, char *out, size_t cap)
{
	char value[VALUE_MAX];
	size_t at = 0;
	snprintf(out, cap, "none");
	for (int v = 0; v < N_VARS && at < cap; v++)
		if (value_of(t, (enum var)v, value))
			at += (size_t)snprintf(out + at, cap - at, "%s$%s", at ? ", " : "", var_names[v]);
	return out;
}

/* The target as errors name it. */
static const char *target_text(const struct kt_probe_target *t, char *out, size_t cap)
{
	switch (t->kind) {
	case KT_TARGET_NODE:
		snprintf(out, cap, "target node");
		break;
	case KT_TARGET_PID:
		snprintf(out, cap, "target pid/%u", t->pid);
		break;
	case KT_TARGET_SANDBOX:
	case KT_TARGET_POD:
		snprintf(out, cap, "sandbox %s", t->sandbox.id);
		break;
	}
	return out;
}

/* Why known variable v has no value on t (after "$name: "). */
static void why_none(const struct kt_probe_target *t, enum var v, char *out, size_t cap)
{
	char what[KT_SANDBOX_ID_MAX + 32];
	if (v == V_CONTAINER_PID) {
		if (in_sandbox(t))
			snprintf(out, cap,
				 "the containers of sandbox %s run inside its VM and have no host process id",
				 t->sandbox.id);
		else
			snprintf(out, cap, "%s selects no container", target_text(t, what, sizeof(what)));
	} else if (v == V_PID) {
		snprintf(out, cap, "%s is not one process: $pid is a pid/PID target's",
			 target_text(t, what, sizeof(what)));
	} else if (t->kind == KT_TARGET_NODE) {
		snprintf(out, cap, "target node selects no sandbox");
	} else if (!in_sandbox(t)) {
		snprintf(out, cap, "process %u belongs to no Kata sandbox", t->pid);
	} else {
		snprintf(out, cap, "sandbox %s has no %s process", t->sandbox.id, proc_names[v]);
	}
}

/* Appends n bytes to out while they fit; *at counts them all. */
static void put(char *out, size_t outlen, size_t *at, const char *s, size_t n)
{
	if (*at < outlen) {
		size_t room = outlen - *at;
		memcpy(out + *at, s, n < room ? n : room);
	}
	*at += n;
}

int kt_probe_vars_expand_ex(const char *in, const struct kt_probe_target *t, unsigned flags, char *out,
			    size_t outlen, char *err, size_t errlen)
{
	const bool strict = flags & KT_VARS_STRICT;
	char value[VALUE_MAX], why[KT_SANDBOX_ID_MAX + 128], have[256];
	size_t at = 0;

	if (errlen)
		err[0] = '\0';
	if (outlen)
		out[0] = '\0';
	for (const char *p = in; *p;) {
		const char *dollar = strchr(p, '$');
		if (!dollar) {
			put(out, outlen, &at, p, strlen(p));
			break;
		}
		put(out, outlen, &at, p, (size_t)(dollar - p));
		const char *q = dollar + 1;
		if (*q == '$') { /* $$: a literal $ */
			put(out, outlen, &at, "$", 1);
			p = q + 1;
			continue;
		}
		bool braced = *q == '{';
		const char *name = q + braced;
		size_t n = 0;
		if (name_start(name[0]))
			while (name_char(name[n]))
				n++;
		const char *end = name + n + braced; /* after the reference */
		if (!braced && n == 0) { /* $1, $#, a lone $: itself */
			put(out, outlen, &at, "$", 1);
			p = q;
			continue;
		}
		if (braced && (n == 0 || name[n] != '}')) {
			if (strict) {
				kt_errf(err, errlen, "malformed ${ at byte %zu: expected ${NAME}, NAME of letters, digits and _",
				     (size_t)(dollar - in));
				goto bad;
			}
			put(out, outlen, &at, "$", 1);
			p = q;
			continue;
		}
		enum var v = var_of(name, n);
		if (v == N_VARS) {
			if (strict) {
				kt_errf(err, errlen, "$%.*s: unknown variable; this target has %s",
				     (int)(n < NAME_MAX_SHOWN ? n : NAME_MAX_SHOWN), name, defined(t, have, sizeof(have)));
				goto bad;
			}
			put(out, outlen, &at, dollar, (size_t)(end - dollar)); /* a bpftrace variable */
			p = end;
			continue;
		}
		if (!value_of(t, v, value)) {
			why_none(t, v, why, sizeof(why));
			kt_errf(err, errlen, "$%s: %s; this target has %s%s%s%s", var_names[v], why, defined(t, have, sizeof(have)),
			     strict ? "" : " (a bpftrace variable of that name is written $$", strict ? "" : var_names[v],
			     strict ? "" : ")");
			goto bad;
		}
		put(out, outlen, &at, value, strlen(value));
		p = end;
	}
	if (at >= outlen) {
		kt_errf(err, errlen, "the expanded text needs %zu bytes, %zu available", at + 1, outlen);
		goto bad;
	}
	out[at] = '\0';
	return 0;
bad:
	if (outlen)
		out[0] = '\0';
	return -1;
}

int kt_probe_vars_expand(const char *in, const struct kt_probe_target *t, char *out, size_t outlen, char *err,
			 size_t errlen)
{
	return kt_probe_vars_expand_ex(in, t, KT_VARS_STRICT, out, outlen, err, errlen);
}
