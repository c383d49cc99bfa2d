/* SPDX-License-Identifier: Apache-2.0 */
#include "capture/vm_capture.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "base/diag.h"
#include "sandbox/hypervisors.h"
#include "vm_events.skel.h"

/* Where each late tracepoint shows in tracefs once its module is loaded. */
static const char *const tracefs_roots[] = { "/sys/kernel/tracing/events",
					     "/sys/kernel/debug/tracing/events" };

struct kt_vm_capture {
	struct vm_events_bpf *skel;
	struct bpf_link *kvm, *vsock_recv, *vsock_alloc;
	bool kvm_missing_logged, vsock_missing_logged;
};

static int fill_names(struct vm_events_bpf *s)
{
	for (__u32 i = 0; i < kt_n_hv_exes && i < KT_VM_HV_NAMES; i++) {
		struct kt_vm_hv_name n = { 0 };
		size_t len = strlen(kt_hv_exes[i]);
		if (len && kt_hv_exes[i][len - 1] == '*')
			len--; /* a prefix */
		else
			len++; /* the NUL too: the whole name */
		if (len > sizeof(n.s))
			return -ENAMETOOLONG;
		memcpy(n.s, kt_hv_exes[i], len < strlen(kt_hv_exes[i]) ? len : strlen(kt_hv_exes[i]));
		n.len = (__u32)len;
		for (size_t b = 0; b < len; b++)
			((unsigned char *)n.mask)[b] = 0xff;
		int err = bpf_map__update_elem(s->maps.hv_names, &i, sizeof(i), &n, sizeof(n), BPF_ANY);
		if (err)
			return err;
	}
	return 0;
}

struct kt_vm_capture *kt_vm_capture_start(int counters_fd)
{
	struct kt_vm_capture *c = calloc(1, sizeof(*c));
	int err;

	if (!c)
		return NULL;
	c->skel = vm_events_bpf__open();
	if (!c->skel) {
		kt_warn("vm events: cannot open the BPF object: %s", strerror(errno));
		goto fail;
	}
	if ((err = bpf_map__reuse_fd(c->skel->maps.counters, counters_fd)) ||
	    (err = vm_events_bpf__load(c->skel)) || (err = fill_names(c->skel))) {
		kt_warn("vm events: the BPF programs do not load here: %s", strerror(-err));
		goto fail;
	}
	/* Late ones by hand (kt_vm_capture_tick); exec and exit now. */
	if (!(c->skel->links.kt_vm_exec = bpf_program__attach(c->skel->progs.kt_vm_exec)) ||
	    !(c->skel->links.kt_vm_exit = bpf_program__attach(c->skel->progs.kt_vm_exit))) {
		kt_warn("vm events: sched_process_exec/exit do not attach here: %s", strerror(errno));
		goto fail;
	}
	kt_vm_capture_tick(c);
	return c;
fail:
	kt_vm_capture_stop(c);
	return NULL;
}

int kt_vm_capture_ringbuf_fd(const struct kt_vm_capture *c)
{
	return bpf_map__fd(c->skel->maps.vm_events);
}

int kt_vm_capture_track(struct kt_vm_capture *c, uint32_t pid)
{
	struct kt_vm_proc p = { 0 };
	return bpf_map__update_elem(c->skel->maps.vm_procs, &pid, sizeof(pid), &p, sizeof(p),
				    BPF_NOEXIST);
}

/* Does tracefs show the event? Unknown (no tracefs) counts as yes: attach tells. */
static bool event_present(const char *sys_event)
{
	struct stat st;
	bool any_root = false;
	for (size_t i = 0; i < sizeof(tracefs_roots) / sizeof(tracefs_roots[0]); i++) {
		char path[160];
		if (stat(tracefs_roots[i], &st) != 0)
			continue;
		any_root = true;
		snprintf(path, sizeof(path), "%s/%s", tracefs_roots[i], sys_event);
		if (stat(path, &st) == 0)
			return true;
	}
	return !any_root;
}

static struct bpf_link *attach_late(struct bpf_program *p, const char *sys_event)
{
	if (!event_present(sys_event))
		return NULL;
	struct bpf_link *l = bpf_program__attach(p);
	if (!l) {
		kt_debug("vm events: %s does not attach: %s", sys_event, strerror(errno));
		return NULL;
	}
	kt_info("vm events: %s attached", sys_event);
	return l;
}

/* This kernel's CID as a guest (VMADDR_CID_ANY/none: not a guest itself). */
static void set_local_cid(struct kt_vm_capture *c)
{
	unsigned int cid = 0;
	int fd = open("/dev/vsock", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (ioctl(fd, IOCTL_VM_SOCKETS_GET_LOCAL_CID, &cid) == 0 && cid > 2 && cid != VMADDR_CID_ANY) {
		__u32 zero = 0, v = cid;
		bpf_map__update_elem(c->skel->maps.local_cid, &zero, sizeof(zero), &v, sizeof(v),
				     BPF_ANY);
		kt_info("vm events: this kernel is guest CID %u: its own vsock traffic is not followed",
			cid);
	}
	close(fd);
}

void kt_vm_capture_tick(struct kt_vm_capture *c)
{
	if (!c)
		return;
	if (!c->kvm && (c->kvm = attach_late(c->skel->progs.kt_vm_kvm_exit, "kvm/kvm_exit"))) {
		__u32 zero = 0, one = 1;
		bpf_map__update_elem(c->skel->maps.kvm_on, &zero, sizeof(zero), &one, sizeof(one),
				     BPF_ANY);
	}
	if (!c->vsock_recv && (c->vsock_recv = attach_late(c->skel->progs.kt_vm_vsock_recv,
							   "vsock/virtio_transport_recv_pkt")))
		set_local_cid(c);
	if (!c->vsock_alloc)
		c->vsock_alloc = attach_late(c->skel->progs.kt_vm_vsock_alloc,
					     "vsock/virtio_transport_alloc_pkt");
	if (!c->kvm && !c->kvm_missing_logged) {
		kt_info("vm events: no kvm_exit tracepoint (kvm not loaded): KVM exits are not "
			"counted until it is");
		c->kvm_missing_logged = true;
	}
	if (!c->vsock_recv && !c->vsock_missing_logged) {
		kt_info("vm events: no vsock transport tracepoints yet: vsock connections are "
			"followed once its module is loaded");
		c->vsock_missing_logged = true;
	}
}

const char *kt_vm_capture_describe(const struct kt_vm_capture *c, char *buf, size_t n)
{
	snprintf(buf, n, "exec/exit%s%s", c->kvm ? ", kvm_exit" : "",
		 c->vsock_recv ? ", vsock" : "");
	return buf;
}

void kt_vm_capture_stop(struct kt_vm_capture *c)
{
	if (!c)
		return;
	bpf_link__destroy(c->kvm);
	bpf_link__destroy(c->vsock_recv);
	bpf_link__destroy(c->vsock_alloc);
	vm_events_bpf__destroy(c->skel);
	free(c);
}

/* ------------------------------------------------------------ running hypervisors */

static long read_file(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, cap, f);
	fclose(f);
	return (long)n;
}

/* Field 22 of /proc/<pid>/stat: start time in clock ticks after boot. */
static bool start_time(const char *proc_root, unsigned pid, uint64_t *boot_ns)
{
	char path[4200], buf[1024];
	snprintf(path, sizeof(path), "%s/%u/stat", proc_root, pid);
	long n = read_file(path, buf, sizeof(buf) - 1);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	char *p = strrchr(buf, ')'); /* comm may hold spaces and ')' */
	if (!p)
		return false;
	p++;
	for (int field = 3; field < 22; field++) {
		p = strchr(p + 1, ' ');
		if (!p)
			return false;
	}
	unsigned long long ticks = strtoull(p + 1, NULL, 10);
	long hz = sysconf(_SC_CLK_TCK);
	*boot_ns = ticks * (1000000000ull / (uint64_t)(hz > 0 ? hz : 100));
	return true;
}

size_t kt_vm_scan_running(const char *proc_root,
			  void (*fn)(void *ctx, const struct kt_vm_running *r), void *ctx)
{
	DIR *d = opendir(proc_root);
	struct kt_vm_running *r = malloc(sizeof(*r));
	size_t found = 0;
	struct dirent *e;

	if (!d || !r) {
		if (d)
			closedir(d);
		free(r);
		return 0;
	}
	while ((e = readdir(d))) {
		char path[4200], exe[512];
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		unsigned pid = (unsigned)strtoul(e->d_name, NULL, 10);
		snprintf(path, sizeof(path), "%s/%u/exe", proc_root, pid);
		ssize_t n = readlink(path, exe, sizeof(exe) - 1);
		if (n <= 0)
			continue;
		exe[n] = '\0';
		char *del = strstr(exe, " (deleted)");
		if (del && del[10] == '\0')
			*del = '\0';
		const char *base = strrchr(exe, '/');
		base = base ? base + 1 : exe;
		if (!kt_hv_exe_match(base))
			continue;
		memset(r, 0, sizeof(*r));
		r->pid = pid;
		snprintf(r->exe, sizeof(r->exe), "%.63s", base);
		if (!start_time(proc_root, pid, &r->start_boot_ns))
			continue; /* gone meanwhile */
		snprintf(path, sizeof(path), "%s/%u/cmdline", proc_root, pid);
		long an = read_file(path, r->args, sizeof(r->args));
		r->args_len = an > 0 ? (size_t)an : 0;
		fn(ctx, r);
		found++;
	}
	closedir(d);
	free(r);
	return found;
}
