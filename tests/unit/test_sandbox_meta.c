/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sandbox metadata: the persist.json/state.json and OCI bundle parsers on good, odd and
 * hostile input, and kt_sandbox_meta_fill on a fake run root.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs_fixture.h"
#include "sandbox/hypervisors.h"
#include "sandbox/oci_bundle.h"
#include "sandbox/path_pattern.h"
#include "sandbox/sandbox_meta.h"

#define PARSE_PERSIST(s, root, m) kt_meta_parse_persist(s, sizeof(s) - 1, root, m)
#define PARSE_BUNDLE(s, b) kt_bundle_parse(s, sizeof(s) - 1, b)

static struct kt_sandbox_meta zero_meta(const char *id)
{
	struct kt_sandbox_meta m;
	memset(&m, 0, sizeof(m));
	snprintf(m.id, sizeof(m.id), "%s", id);
	return m;
}

/* ------------------------------------------------------------ persist.json */

Test(persist, go_vsock)
{
	struct kt_sandbox_meta m = zero_meta("sb");
	cr_assert_eq(PARSE_PERSIST("{\"PersistVersion\":2,\"State\":\"running\","
				   "\"HypervisorState\":{\"BlockIndexMap\":{},\"Type\":\"qemu\",\"UUID\":\"u\","
				   "\"Pid\":4242,\"VirtiofsDaemonPid\":7},"
				   "\"AgentState\":{\"URL\":\"vsock://555233078:1024\"},"
				   "\"Config\":{\"HypervisorType\":\"qemu\"}}",
				   "", &m),
		     0);
	cr_expect_eq(m.guest_cid, 555233078u);
	cr_expect_eq(m.hypervisor_pid, 4242u);
	cr_expect_str_eq(m.hypervisor, "qemu");
	cr_expect_str_eq(m.runtime, "go");
	cr_expect_str_eq(m.hvsock_path, "");
	cr_expect_eq(m.flags, KT_META_HAVE_PERSIST | KT_META_VSOCK);
	cr_expect(kt_sandbox_meta_valid(&m));
}

Test(persist, go_hybrid_with_run_root)
{
	struct kt_sandbox_meta m = zero_meta("sb");
	/* older files: no HypervisorState.Type, the configured type instead */
	cr_assert_eq(PARSE_PERSIST("{\"HypervisorState\":{\"Pid\":99},"
				   "\"AgentState\":{\"ProxyPid\":0,\"URL\":\"hvsock:///run/vc/vm/sb/clh.sock:1024\"},"
				   "\"Config\":{\"HypervisorType\":\"clh\"}}",
				   "/host", &m),
		     0);
	cr_expect_eq(m.guest_cid, 0);
	cr_expect_str_eq(m.hvsock_path, "/host/run/vc/vm/sb/clh.sock");
	cr_expect_str_eq(m.hypervisor, "cloud-hypervisor");
	cr_expect_eq(m.hypervisor_pid, 99u);
	cr_expect_eq(m.flags, KT_META_HAVE_PERSIST | KT_META_HYBRID_VSOCK);
}

Test(persist, runtime_rs)
{
	struct kt_sandbox_meta m = zero_meta("sb");
	cr_assert_eq(PARSE_PERSIST("{\n  \"sandbox_type\": \"virt_container\",\n  \"resource\": null,\n"
				   "  \"hypervisor\": {\"hypervisor_type\": \"dragonball\", \"pid\": 31,"
				   " \"uuid\": \"\", \"jailed\": false}\n}\n",
				   "", &m),
		     0);
	cr_expect_str_eq(m.runtime, "rs");
	cr_expect_str_eq(m.hypervisor, "dragonball");
	cr_expect_eq(m.hypervisor_pid, 31u);
	cr_expect_eq(m.flags, KT_META_HAVE_PERSIST);
	m = zero_meta("sb");
	cr_assert_eq(PARSE_PERSIST("{\"hypervisor\":{\"hypervisor_type\":\"cloud-hypervisor\",\"pid\":null}}", "", &m),
		     0);
	cr_expect_str_eq(m.hypervisor, "cloud-hypervisor");
	cr_expect_eq(m.hypervisor_pid, 0);
}

Test(persist, odd_values_are_ignored)
{
	static const char *const docs[] = {
		"{\"AgentState\":{\"URL\":\"vsock://2:1024\"}}",           /* the host */
		"{\"AgentState\":{\"URL\":\"vsock://0:1024\"}}",
		"{\"AgentState\":{\"URL\":\"vsock://4294967295:1024\"}}",  /* VMADDR_CID_ANY */
		"{\"AgentState\":{\"URL\":\"vsock://4294967296:1024\"}}",
		"{\"AgentState\":{\"URL\":\"vsock://-5:1024\"}}",
		"{\"AgentState\":{\"URL\":\"vsock://+5:1024\"}}",
		"{\"AgentState\":{\"URL\":\"vsock://05:1024\"}}",
		"{\"AgentState\":{\"URL\":\"vsock://5\"}}",
		"{\"AgentState\":{\"URL\":\"vsock://5:\"}}",
		"{\"AgentState\":{\"URL\":\"vsock://:1024\"}}",
		"{\"AgentState\":{\"URL\":5}}",
		"{\"AgentState\":{\"URL\":\"hvsock://relative:1024\"}}",
		"{\"AgentState\":{\"URL\":\"hvsock://:1024\"}}",
		"{\"AgentState\":{\"URL\":\"hvsock:///a\\u0001b:1024\"}}",
		"{\"AgentState\":{\"URL\":\"unix:///run/x.sock\"}}",
		"{\"HypervisorState\":{\"Pid\":\"12\",\"Type\":\"acrn\"}}",
		"{\"HypervisorState\":{\"Pid\":-1,\"Type\":7}}",
		"{\"HypervisorState\":{\"Pid\":2147483648}}",
		"{\"HypervisorState\":{\"Pid\":1.5}}",
		"{\"HypervisorState\":[],\"AgentState\":\"x\"}",
		"{\"hypervisor\":{\"pid\":true,\"hypervisor_type\":null}}",
	};
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		struct kt_sandbox_meta m = zero_meta("sb");
		cr_assert_eq(kt_meta_parse_persist(docs[i], strlen(docs[i]), "", &m), 0, "%s", docs[i]);
		cr_expect_eq(m.guest_cid, 0, "%s", docs[i]);
		cr_expect_eq(m.hypervisor_pid, 0, "%s", docs[i]);
		cr_expect_str_eq(m.hypervisor, "", "%s", docs[i]);
		cr_expect_str_eq(m.hvsock_path, "", "%s", docs[i]);
		cr_expect(kt_sandbox_meta_valid(&m), "%s", docs[i]);
	}
}

Test(persist, malformed)
{
	static const char *const docs[] = {
		"",
		"[]",
		"\"x\"",
		"{\"AgentState\":{\"URL\":\"vsock://7:1024\"}",    /* truncated */
		"{\"AgentState\":{\"URL\":\"vsock://7:1024\"}} x", /* trailing */
		"{\"a\":1,}",
		"{\"a\":\"\xff\xfe\"}", /* not UTF-8 */
		"{\"a\":\"\xed\xa0\x80\"}", /* a surrogate */
		"{'a':1}",
		"{\"a\":NaN}",
	};
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		struct kt_sandbox_meta m = zero_meta("sb");
		cr_expect_eq(kt_meta_parse_persist(docs[i], strlen(docs[i]), "", &m), -1, "%s", docs[i]);
		cr_expect_eq(m.flags, 0);
	}
	/* an embedded NUL */
	struct kt_sandbox_meta m = zero_meta("sb");
	cr_expect_eq(kt_meta_parse_persist("{\"a\":1}\0{", 9, "", &m), -1);
}

static char *repeat(const char *head, const char *unit, size_t n, const char *tail)
{
	size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
	char *s = malloc(hl + ul * n + tl + 1);
	cr_assert_not_null(s);
	memcpy(s, head, hl);
	for (size_t i = 0; i < n; i++)
		memcpy(s + hl + i * ul, unit, ul);
	memcpy(s + hl + ul * n, tail, tl + 1);
	return s;
}

Test(persist, deep_and_long)
{
	struct kt_sandbox_meta m = zero_meta("sb");
	/* 100,000 levels: refused at the depth limit, no recursion */
	char *deep = repeat("{\"AgentState\":", "[", 100000, "");
	cr_expect_eq(kt_meta_parse_persist(deep, strlen(deep), "", &m), -1);
	free(deep);
	/* just within the depth limit is fine */
	char *ok = repeat("{\"x\":", "[", KT_META_JSON_DEPTH - 2, "");
	char *ok2 = repeat(ok, "]", KT_META_JSON_DEPTH - 2, "}");
	cr_expect_eq(kt_meta_parse_persist(ok2, strlen(ok2), "", &m), 0);
	free(ok);
	free(ok2);
	/* a hybrid socket path that does not fit is dropped, not cut */
	char *url = repeat("{\"AgentState\":{\"URL\":\"hvsock:///", "a", KT_META_PATH, ":1024\"}}");
	m = zero_meta("sb");
	cr_expect_eq(kt_meta_parse_persist(url, strlen(url), "", &m), 0);
	cr_expect_str_eq(m.hvsock_path, "");
	cr_expect(m.flags & KT_META_HYBRID_VSOCK);
	free(url);
	/* over the size limit */
	char *big = repeat("{\"a\":\"", "b", KT_META_CONFIG_MAX, "\"}");
	cr_expect_eq(kt_meta_parse_persist(big, strlen(big), "", &m), -1);
	free(big);
}

/* head, units of pad and tail making exactly size bytes. */
static char *sized(const char *head, const char *pad, size_t size, const char *tail)
{
	size_t fixed = strlen(head) + strlen(tail);
	cr_assert_gt(size, fixed);
	return repeat(head, pad, size - fixed, tail);
}

Test(persist, limits_at_their_bounds)
{
	struct kt_sandbox_meta m;
	/* JSON nested exactly KT_META_JSON_DEPTH deep is read, one level more is not. */
	for (int depth = KT_META_JSON_DEPTH; depth <= KT_META_JSON_DEPTH + 1; depth++) {
		char *open = repeat("{\"HypervisorState\":{\"Pid\":5},\"x\":", "[", (size_t)depth - 1, "");
		char *doc = repeat(open, "]", (size_t)depth - 1, "}");
		m = zero_meta("sb");
		cr_expect_eq(kt_meta_parse_persist(doc, strlen(doc), "", &m),
			     depth <= KT_META_JSON_DEPTH ? 0 : -1, "%d levels", depth);
		free(open);
		free(doc);
	}
	/* A document of exactly KT_META_CONFIG_MAX bytes is parsed, one byte more is not. */
	for (size_t size = KT_META_CONFIG_MAX; size <= KT_META_CONFIG_MAX + 1; size++) {
		char *doc = sized("{\"HypervisorState\":{\"Pid\":6},\"pad\":\"", "b", size, "\"}");
		cr_assert_eq(strlen(doc), size);
		m = zero_meta("sb");
		cr_expect_eq(kt_meta_parse_persist(doc, size, "", &m),
			     size == KT_META_CONFIG_MAX ? 0 : -1, "%zu bytes", size);
		free(doc);
	}
	/* A hybrid socket path of 255 bytes (run root included) fits, 256 do not. */
	for (size_t len = KT_META_PATH - 1; len <= KT_META_PATH; len++) {
		char *path = sized("/", "p", len - strlen("/host"), "");
		char *doc = malloc(len + 64);
		snprintf(doc, len + 64, "{\"AgentState\":{\"URL\":\"hvsock://%s:1024\"}}", path);
		m = zero_meta("sb");
		cr_expect_eq(kt_meta_parse_persist(doc, strlen(doc), "/host", &m), 0);
		cr_expect(m.flags & KT_META_HYBRID_VSOCK);
		if (len < KT_META_PATH) {
			cr_expect_eq(strlen(m.hvsock_path), len);
			cr_expect_eq(strncmp(m.hvsock_path, "/host/ppp", 9), 0);
		} else {
			cr_expect_str_eq(m.hvsock_path, "", "a path of %zu bytes was kept", len);
		}
		free(path);
		free(doc);
	}
}

/* ------------------------------------------------------------ bundles */

#define CONTAINERD_SANDBOX                                                                               \
	"{\"ociVersion\":\"1.1.0\",\"process\":{\"args\":[\"/pause\"]},\"annotations\":{"                   \
	"\"io.kubernetes.cri.container-type\":\"sandbox\","                                               \
	"\"io.kubernetes.cri.sandbox-id\":\"aaaa\","                                                      \
	"\"io.kubernetes.cri.sandbox-name\":\"web-0\","                                                   \
	"\"io.kubernetes.cri.sandbox-namespace\":\"prod\","                                               \
	"\"io.kubernetes.cri.sandbox-uid\":\"0d5b2c6e-1111-4222-8333-944455556666\","                     \
	"\"io.kubernetes.cri.sandbox-log-directory\":\"/var/log/pods/x\"}}"

#define CONTAINERD_CONTAINER(name)                                                                       \
	"{\"annotations\":{\"io.kubernetes.cri.container-type\":\"container\","                            \
	"\"io.kubernetes.cri.sandbox-id\":\"aaaa\",\"io.kubernetes.cri.container-name\":\"" name "\","     \
	"\"io.kubernetes.cri.sandbox-name\":\"web-0\",\"io.kubernetes.cri.sandbox-namespace\":\"prod\","  \
	"\"io.kubernetes.cri.sandbox-uid\":\"0d5b2c6e-1111-4222-8333-944455556666\"}}"

/* Parses doc as bundle bundle_id and checks every field: "kind sandbox-id pod ns uid container owner own". */
static void expect_bundle(const char *doc, const char *bundle_id, uint32_t kind, const char *const want[7])
{
	struct kt_bundle_info b;
	bool own;
	cr_assert_eq(kt_bundle_parse(doc, strlen(doc), &b), 0, "%s", doc);
	cr_expect_eq(b.kind, kind, "%s", bundle_id);
	const char *got[] = { b.sandbox_id, b.pod_name, b.pod_namespace, b.pod_uid, b.container_name };
	for (size_t i = 0; i < 5; i++)
		cr_expect_str_eq(got[i], want[i], "%s: field %zu", bundle_id, i);
	cr_expect_str_eq(kt_bundle_owner(bundle_id, &b, &own), want[5], "%s", bundle_id);
	cr_expect_eq(own, want[6] != NULL, "%s", bundle_id);
}

Test(bundle, containerd)
{
	expect_bundle(CONTAINERD_SANDBOX, "aaaa", KT_BUNDLE_SANDBOX,
		      (const char *const[]){ "aaaa", "web-0", "prod", "0d5b2c6e-1111-4222-8333-944455556666", "",
					     "aaaa", "own" });
	expect_bundle(CONTAINERD_CONTAINER("app"), "cccc", KT_BUNDLE_CONTAINER,
		      (const char *const[]){ "aaaa", "web-0", "prod", "0d5b2c6e-1111-4222-8333-944455556666", "app",
					     "aaaa", NULL });
}

Test(bundle, crio)
{
	/* the pod sandbox: kubelet labels as annotations, and CRI-O's own; "POD" is no container */
	expect_bundle("{\"annotations\":{\"io.kubernetes.cri-o.ContainerType\":\"sandbox\","
		      "\"io.kubernetes.cri-o.SandboxID\":\"rrrr\","
		      "\"io.kubernetes.cri-o.KubeName\":\"db-1\","
		      "\"io.kubernetes.cri-o.Namespace\":\"data\","
		      "\"io.kubernetes.pod.uid\":\"uid-1\","
		      "\"io.kubernetes.container.name\":\"POD\"}}",
		      "rrrr", KT_BUNDLE_SANDBOX, (const char *const[]){ "rrrr", "db-1", "data", "uid-1", "", "rrrr", "own" });
	/* a container: only the labels JSON has the names */
	expect_bundle("{\"annotations\":{\"io.kubernetes.cri-o.ContainerType\":\"container\","
		      "\"io.kubernetes.cri-o.SandboxID\":\"rrrr\","
		      "\"io.kubernetes.cri-o.Labels\":\"{\\\"io.kubernetes.container.name\\\":\\\"pg\\\","
		      "\\\"io.kubernetes.pod.name\\\":\\\"db-1\\\","
		      "\\\"io.kubernetes.pod.namespace\\\":\\\"data\\\","
		      "\\\"io.kubernetes.pod.uid\\\":\\\"uid-1\\\"}\"}}",
		      "pppp", KT_BUNDLE_CONTAINER, (const char *const[]){ "rrrr", "db-1", "data", "uid-1", "pg", "rrrr", NULL });
}

Test(bundle, plain_and_hostile)
{
	struct kt_bundle_info b;
	bool own;
	/* no annotations: a bundle of its own (ctr run --runtime ...kata.v2) */
	cr_assert_eq(PARSE_BUNDLE("{\"ociVersion\":\"1.0.2\"}", &b), 0);
	cr_expect_eq(b.kind, KT_BUNDLE_UNKNOWN);
	cr_expect_str_eq(kt_bundle_owner("solo", &b, &own), "solo");
	cr_expect(own);
	/* a container whose sandbox id is not plausible belongs to nobody */
	cr_assert_eq(PARSE_BUNDLE("{\"annotations\":{\"io.kubernetes.cri.container-type\":\"container\","
				  "\"io.kubernetes.cri.sandbox-id\":\"../etc\"}}",
				  &b),
		     0);
	cr_expect_str_eq(b.sandbox_id, "");
	cr_expect_null(kt_bundle_owner("x", &b, &own));
	/* names with commas or control characters, wrong types: dropped */
	cr_assert_eq(PARSE_BUNDLE("{\"annotations\":{\"io.kubernetes.cri.container-type\":\"container\","
				  "\"io.kubernetes.cri.sandbox-id\":\"aaaa\","
				  "\"io.kubernetes.cri.container-name\":\"a,b\","
				  "\"io.kubernetes.cri.sandbox-name\":\"x\\ny\","
				  "\"io.kubernetes.cri.sandbox-namespace\":7,"
				  "\"io.kubernetes.cri-o.Labels\":\"{not json\"}}",
				  &b),
		     0);
	cr_expect_str_eq(b.container_name, "");
	cr_expect_str_eq(b.pod_name, "");
	cr_expect_str_eq(b.pod_namespace, "");
	/* annotations that are not an object */
	cr_assert_eq(PARSE_BUNDLE("{\"annotations\":[1,2]}", &b), 0);
	cr_expect_eq(b.kind, KT_BUNDLE_UNKNOWN);
	/* a pod name longer than the field: dropped, not cut */
	char *long_name = repeat("{\"annotations\":{\"io.kubernetes.cri.sandbox-name\":\"", "n", KT_META_STR, "\"}}");
	cr_assert_eq(kt_bundle_parse(long_name, strlen(long_name), &b), 0);
	cr_expect_str_eq(b.pod_name, "");
	free(long_name);
	/* multi-byte UTF-8 fits when whole */
	cr_assert_eq(PARSE_BUNDLE("{\"annotations\":{\"io.kubernetes.cri.sandbox-name\":\"caf\\u00e9-\xe2\x82\xac\"}}", &b),
		     0);
	cr_expect_str_eq(b.pod_name, "caf\xc3\xa9-\xe2\x82\xac");
	cr_expect_eq(PARSE_BUNDLE("{\"annotations\":{", &b), -1);
	cr_expect_eq(PARSE_BUNDLE("[{}]", &b), -1);
}

/* ------------------------------------------------------------ applying */

static struct kt_bundle_info container(const char *sandbox, const char *name)
{
	struct kt_bundle_info b;
	memset(&b, 0, sizeof(b));
	b.kind = KT_BUNDLE_CONTAINER;
	snprintf(b.sandbox_id, sizeof(b.sandbox_id), "%s", sandbox);
	snprintf(b.container_name, sizeof(b.container_name), "%s", name);
	snprintf(b.pod_name, sizeof(b.pod_name), "from-container");
	return b;
}

Test(apply, names_sorted_once_and_sandbox_wins)
{
	struct kt_sandbox_meta m = zero_meta("aaaa");
	struct kt_bundle_info b;

	b = container("aaaa", "web");
	cr_expect(kt_meta_apply_bundle(&m, "c1", &b));
	cr_expect_str_eq(m.pod_name, "from-container");
	b = container("aaaa", "app");
	kt_meta_apply_bundle(&m, "c2", &b);
	b = container("aaaa", "web");
	kt_meta_apply_bundle(&m, "c3", &b); /* the same name again (a restart) */
	b = container("aaaa", "sidecar");
	kt_meta_apply_bundle(&m, "c4", &b);
	b = container("aaaa", "ap");
	kt_meta_apply_bundle(&m, "c5", &b);
	b = container("bbbb", "other");
	cr_expect_not(kt_meta_apply_bundle(&m, "c6", &b));
	cr_expect_str_eq(m.container_names, "ap,app,sidecar,web");
	cr_expect_eq(m.flags, KT_META_HAVE_CONTAINERS);

	cr_assert_eq(PARSE_BUNDLE(CONTAINERD_SANDBOX, &b), 0);
	cr_expect(kt_meta_apply_bundle(&m, "aaaa", &b));
	cr_expect_str_eq(m.pod_name, "web-0");
	cr_expect_str_eq(m.pod_namespace, "prod");
	cr_expect_eq(m.flags, KT_META_HAVE_CONTAINERS | KT_META_HAVE_BUNDLE);
	/* a container cannot change what the sandbox's bundle said */
	b = container("aaaa", "late");
	kt_meta_apply_bundle(&m, "c7", &b);
	cr_expect_str_eq(m.pod_name, "web-0");
	cr_expect(kt_sandbox_meta_valid(&m));
}

Test(apply, names_truncated)
{
	struct kt_sandbox_meta m = zero_meta("aaaa");
	char name[64];
	for (int i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "container-%03d", i);
		struct kt_bundle_info b = container("aaaa", name);
		kt_meta_apply_bundle(&m, name, &b);
	}
	cr_expect(m.flags & KT_META_NAMES_TRUNCATED);
	cr_expect_lt(strlen(m.container_names), sizeof(m.container_names));
	cr_expect_eq(strncmp(m.container_names, "container-000,container-001,", 28), 0);
	/* whole names only */
	size_t l = strlen(m.container_names);
	cr_expect_eq(l % 14, 13);
}

Test(meta, merge_and_valid)
{
	struct kt_sandbox_meta a = zero_meta("x"), b = zero_meta("y");
	snprintf(b.pod_name, sizeof(b.pod_name), "p");
	b.guest_cid = 9;
	b.flags = KT_META_VSOCK;
	a.hypervisor_pid = 5;
	kt_meta_merge(&a, &b);
	cr_expect_str_eq(a.id, "x");
	cr_expect_str_eq(a.pod_name, "p");
	cr_expect_eq(a.guest_cid, 9);
	cr_expect_eq(a.hypervisor_pid, 5);
	cr_expect_eq(a.flags, KT_META_VSOCK);
	cr_expect(kt_sandbox_meta_valid(&a));

	struct kt_sandbox_meta bad = a;
	memset(bad.pod_uid, 'u', sizeof(bad.pod_uid)); /* no terminator */
	cr_expect_not(kt_sandbox_meta_valid(&bad));
	bad = a;
	bad.hypervisor[0] = '\x80';
	cr_expect_not(kt_sandbox_meta_valid(&bad));
	bad = a;
	snprintf(bad.id, sizeof(bad.id), "..");
	cr_expect_not(kt_sandbox_meta_valid(&bad));
	cr_expect_str_eq(kt_hv_of_kata_type("clh"), "cloud-hypervisor");
	cr_expect_null(kt_hv_of_kata_type("acrn"));
}

Test(meta, patterns)
{
	char err[200];
	cr_expect_eq(kt_bundle_pattern_check("/run/containerd/io.containerd.runtime.v2.task/*/{ID}/config.json", err,
					     sizeof(err)),
		     0);
	cr_expect_eq(kt_bundle_pattern_check("run/{ID}/config.json", err, sizeof(err)), -1);
	cr_expect(strstr(err, "absolute"));
	cr_expect_eq(kt_bundle_pattern_check("/run/x/config.json", err, sizeof(err)), -1);
	cr_expect(strstr(err, "exactly once"));
	cr_expect_eq(kt_bundle_pattern_check("/run/{ID}/{ID}/config.json", err, sizeof(err)), -1);
	cr_expect_eq(kt_bundle_pattern_check("/run/x{ID}/config.json", err, sizeof(err)), -1);
	cr_expect(strstr(err, "whole path component"));
	cr_expect_eq(kt_bundle_pattern_check("/run/../{ID}/config.json", err, sizeof(err)), -1);
	cr_expect_eq(kt_bundle_pattern_check("/run//{ID}/config.json", err, sizeof(err)), -1);
	cr_expect_eq(kt_bundle_pattern_check("/run/{ID}", err, sizeof(err)), -1);
	cr_expect(strstr(err, "file name"));
	cr_expect_eq(kt_bundle_pattern_check("/run/{ID}/*", err, sizeof(err)), -1);
	cr_expect_eq(kt_path_pattern_check("/run/*/{ID}/x", false, err, sizeof(err)), -1);

	/* A pattern of exactly KT_PATTERN_MAX characters is taken, one more is not. */
	for (size_t len = KT_PATTERN_MAX; len <= KT_PATTERN_MAX + 1; len++) {
		char *p = repeat("/run/", "d", len - strlen("/run//{ID}/config.json"), "/{ID}/config.json");
		char why[KT_PATTERN_MAX + 100] = "";
		cr_assert_eq(strlen(p), len);
		cr_expect_eq(kt_bundle_pattern_check(p, why, sizeof(why)), len <= KT_PATTERN_MAX ? 0 : -1,
			     "%zu characters: %s", len, why);
		cr_expect_eq(kt_path_pattern_check(p, false, why, sizeof(why)), len <= KT_PATTERN_MAX ? 0 : -1,
			     "%zu characters: %s", len, why);
		if (len > KT_PATTERN_MAX)
			cr_expect(strstr(why, "longer than 512 characters"), "%s", why);
		free(p);
	}
}

/* ------------------------------------------------------------ fill */

static void setup(void)
{
	fx_root_make("meta");
}

static void teardown(void)
{
	fx_root_remove();
}

#define CTRD "run/containerd/io.containerd.runtime.v2.task/k8s.io/"
#define CRIO "run/containers/storage/overlay-containers/"

TestSuite(fill, .init = setup, .fini = teardown);

Test(fill, go_sandbox_with_containerd_bundles)
{
	struct kt_sandbox_meta m;
	FX_PUT_STR("run/vc/sbs/aaaa/persist.json", "{\"HypervisorState\":{\"Pid\":777,\"Type\":\"qemu\"},"
						"\"AgentState\":{\"URL\":\"vsock://12345:1024\"}}");
	FX_PUT_STR("run/vc/vm/aaaa/pid", "777\n");
	FX_PUT_STR(CTRD "aaaa/config.json", CONTAINERD_SANDBOX);
	FX_PUT_STR(CTRD "c1/config.json", CONTAINERD_CONTAINER("web"));
	FX_PUT_STR(CTRD "c2/config.json", CONTAINERD_CONTAINER("log"));
	/* another pod's container and a non-Kubernetes bundle */
	FX_PUT_STR(CTRD "c3/config.json", "{\"annotations\":{\"io.kubernetes.cri.container-type\":\"container\","
				       "\"io.kubernetes.cri.sandbox-id\":\"bbbb\","
				       "\"io.kubernetes.cri.container-name\":\"other\"}}");
	FX_PUT_STR("run/containerd/io.containerd.runtime.v2.task/default/plain/config.json", "{}");

	cr_assert_eq(kt_sandbox_meta_fill(fx_root, "aaaa", &m), 0);
	cr_expect_str_eq(m.id, "aaaa");
	cr_expect_eq(m.guest_cid, 12345u);
	cr_expect_eq(m.hypervisor_pid, 777u);
	cr_expect_str_eq(m.hypervisor, "qemu");
	cr_expect_str_eq(m.runtime, "go");
	cr_expect_str_eq(m.pod_name, "web-0");
	cr_expect_str_eq(m.pod_namespace, "prod");
	cr_expect_str_eq(m.pod_uid, "0d5b2c6e-1111-4222-8333-944455556666");
	cr_expect_str_eq(m.container_names, "log,web");
	cr_expect_eq(m.flags, KT_META_HAVE_PERSIST | KT_META_HAVE_PIDFILE | KT_META_HAVE_BUNDLE |
				      KT_META_HAVE_CONTAINERS | KT_META_VSOCK);
	cr_expect(kt_sandbox_meta_valid(&m));

	/* repeatable: a container added later shows */
	FX_PUT_STR(CTRD "c4/config.json", CONTAINERD_CONTAINER("init"));
	cr_assert_eq(kt_sandbox_meta_fill(fx_root, "aaaa", &m), 0);
	cr_expect_str_eq(m.container_names, "init,log,web");
}

Test(fill, rs_sandbox_with_crio_bundles)
{
	struct kt_sandbox_meta m;
	fx_mkdirs("run/kata/rrrr/root");
	FX_PUT_STR("run/kata/rrrr/state.json", "{\"hypervisor\":{\"hypervisor_type\":\"dragonball\",\"pid\":55}}");
	FX_PUT_STR(CRIO "rrrr/userdata/config.json", "{\"annotations\":{\"io.kubernetes.cri-o.ContainerType\":\"sandbox\","
						  "\"io.kubernetes.cri-o.SandboxID\":\"rrrr\","
						  "\"io.kubernetes.pod.name\":\"db-1\","
						  "\"io.kubernetes.pod.namespace\":\"data\","
						  "\"io.kubernetes.pod.uid\":\"uid-1\"}}");
	FX_PUT_STR(CRIO "pppp/userdata/config.json", "{\"annotations\":{\"io.kubernetes.cri-o.ContainerType\":\"container\","
						  "\"io.kubernetes.cri-o.SandboxID\":\"rrrr\","
						  "\"io.kubernetes.container.name\":\"pg\"}}");
	cr_assert_eq(kt_sandbox_meta_fill(fx_root, "rrrr", &m), 0);
	cr_expect_str_eq(m.runtime, "rs");
	cr_expect_str_eq(m.hypervisor, "dragonball");
	cr_expect_eq(m.hypervisor_pid, 55u);
	cr_expect_str_eq(m.pod_name, "db-1");
	cr_expect_str_eq(m.container_names, "pg");
	/* jailed Firecracker keeps its state inside the jail */
	FX_PUT_STR("run/kata/firecracker/jjjj/root/state.json",
		   "{\"hypervisor\":{\"hypervisor_type\":\"firecracker\",\"pid\":66,\"jailed\":true}}");
	cr_assert_eq(kt_sandbox_meta_fill(fx_root, "jjjj", &m), 0);
	cr_expect_str_eq(m.hypervisor, "firecracker");
	cr_expect_eq(m.hypervisor_pid, 66u);
	cr_expect_str_eq(m.runtime, "rs");
	/* nothing at all for an unknown sandbox, and no id that is not one */
	cr_assert_eq(kt_sandbox_meta_fill(fx_root, "nobody", &m), 0);
	cr_expect_eq(m.flags, 0);
	cr_expect_str_eq(m.runtime, "");
	cr_expect_eq(kt_sandbox_meta_fill(fx_root, "../x", &m), -1);
	cr_expect_eq(kt_sandbox_meta_fill(fx_root, "", &m), -1);
}

Test(fill, file_sizes_at_their_limits)
{
	struct kt_sandbox_meta m;
	/* persist.json of exactly KT_META_PERSIST_MAX bytes is read, one byte more is not. */
	for (size_t size = KT_META_PERSIST_MAX; size <= KT_META_PERSIST_MAX + 1; size++) {
		char id[16];
		snprintf(id, sizeof(id), "p%zu", size - KT_META_PERSIST_MAX);
		char *doc = sized("{\"HypervisorState\":{\"Pid\":321},\"pad\":\"", " ", size, "\"}");
		char rel[64];
		snprintf(rel, sizeof(rel), "run/vc/sbs/%s/persist.json", id);
		fx_put(rel, doc, size);
		free(doc);
		cr_assert_eq(kt_sandbox_meta_fill(fx_root, id, &m), 0);
		cr_expect_eq(m.hypervisor_pid, size == KT_META_PERSIST_MAX ? 321u : 0u, "%zu bytes",
			     size);
	}
	/* A pid file of exactly KT_META_PIDFILE_MAX bytes is read, one byte more is not. */
	for (size_t size = KT_META_PIDFILE_MAX; size <= KT_META_PIDFILE_MAX + 1; size++) {
		char id[16];
		snprintf(id, sizeof(id), "q%zu", size - KT_META_PIDFILE_MAX);
		char *doc = sized("4242", " ", size, "\n");
		char rel[64];
		snprintf(rel, sizeof(rel), "run/vc/vm/%s/pid", id);
		fx_put(rel, doc, size);
		free(doc);
		cr_assert_eq(kt_sandbox_meta_fill(fx_root, id, &m), 0);
		cr_expect_eq(m.hypervisor_pid, size == KT_META_PIDFILE_MAX ? 4242u : 0u, "%zu bytes",
			     size);
	}
	/* A bundle's config.json of exactly KT_META_CONFIG_MAX bytes is read, one more is not. */
	for (size_t size = KT_META_CONFIG_MAX; size <= KT_META_CONFIG_MAX + 1; size++) {
		char id[16];
		snprintf(id, sizeof(id), "b%zu", size - KT_META_CONFIG_MAX);
		char head[256];
		snprintf(head, sizeof(head),
			 "{\"annotations\":{\"io.kubernetes.cri.container-type\":\"sandbox\","
			 "\"io.kubernetes.cri.sandbox-id\":\"%s\","
			 "\"io.kubernetes.cri.sandbox-name\":\"pod-%s\"},\"pad\":\"",
			 id, id);
		char *doc = sized(head, "c", size, "\"}");
		char rel[128];
		snprintf(rel, sizeof(rel), CTRD "%s/config.json", id);
		fx_put(rel, doc, size);
		free(doc);
		cr_assert_eq(kt_sandbox_meta_fill(fx_root, id, &m), 0);
		if (size == KT_META_CONFIG_MAX) {
			cr_expect(m.flags & KT_META_HAVE_BUNDLE, "%zu bytes", size);
			cr_expect_str_eq(m.pod_name, "pod-b0");
		} else {
			cr_expect_eq(m.flags & KT_META_HAVE_BUNDLE, 0, "%zu bytes", size);
			cr_expect_str_eq(m.pod_name, "");
		}
	}
}

Test(fill, hostile_files)
{
	struct kt_sandbox_meta m;
	/* persist.json reached through a symbolic link (file, then directory) */
	FX_PUT_STR("elsewhere/persist.json", "{\"HypervisorState\":{\"Pid\":666}}");
	fx_mkdirs("run/vc/sbs/s1");
	cr_assert_eq(symlink("../../../elsewhere/persist.json", fx_at("run/vc/sbs/s1/persist.json")), 0);
	cr_assert_eq(kt_sandbox_meta_fill(fx_root, "s1", &m), 0);
	cr_expect_eq(m.hypervisor_pid, 0);
	cr_expect_eq(m.flags & KT_META_HAVE_PERSIST, 0);
	cr_assert_eq(symlink("../../../elsewhere", fx_at("run/vc/sbs/s2")), 0);
	cr_assert_eq(kt_sandbox_meta_fill(fx_root, "s2", &m), 0);
	cr_expect_eq(m.hypervisor_pid, 0);
	/* a FIFO does not block; a device or directory is not read */
	fx_mkdirs("run/vc/sbs/s3");
	cr_assert_eq(mkfifo(fx_at("run/vc/sbs/s3/persist.json"), 0600), 0);
	fx_mkdirs("run/vc/vm/s3/pid");
	cr_assert_eq(kt_sandbox_meta_fill(fx_root, "s3", &m), 0);
	cr_expect_eq(m.flags, 0);
	/* over the size limit */
	char *big = repeat("{\"HypervisorState\":{\"Pid\":1},\"pad\":\"", " ", KT_META_PERSIST_MAX, "\"}");
	fx_put("run/vc/sbs/s4/persist.json", big, strlen(big));
	free(big);
	cr_assert_eq(kt_sandbox_meta_fill(fx_root, "s4", &m), 0);
	cr_expect_eq(m.hypervisor_pid, 0);
	/* malformed pid files */
	FX_PUT_STR("run/vc/vm/s5/pid", "12abc\n");
	cr_assert_eq(kt_sandbox_meta_fill(fx_root, "s5", &m), 0);
	cr_expect_eq(m.hypervisor_pid, 0);
	FX_PUT_STR("run/vc/vm/s6/pid", "99999999999\n");
	cr_assert_eq(kt_sandbox_meta_fill(fx_root, "s6", &m), 0);
	cr_expect_eq(m.hypervisor_pid, 0);
	/* a bundle directory that is a link, a malformed and a deep config.json */
	fx_mkdirs(CTRD);
	cr_assert_eq(symlink("/etc", fx_at(CTRD "s7")), 0);
	FX_PUT_STR(CTRD "c8/config.json", "{\"annotations\":{\"io.kubernetes.cri.sandbox-id\":\"s7\",");
	char *deep = repeat("{\"annotations\":{\"io.kubernetes.cri.sandbox-id\":\"s7\"},\"x\":", "[", 5000, "");
	fx_put(CTRD "c9/config.json", deep, strlen(deep));
	free(deep);
	cr_assert_eq(kt_sandbox_meta_fill(fx_root, "s7", &m), 0);
	cr_expect_eq(m.flags, 0);
}
