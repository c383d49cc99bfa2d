/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A stand-in hypervisor for the VM span tests: copied under a hypervisor's
 * name (qemu-system-x86_64, cloud-hypervisor) and started with a Kata-like
 * command line, which it ignores. The environment says what it does:
 *
 *   FAKE_VMM_SLEEP_MS  how long it lives (default 500)
 *   FAKE_VMM_EXIT      exit code (default 0)
 *   FAKE_VMM_SIGNAL    die by this signal instead
 *   FAKE_VMM_KVM_OUTS  run a real KVM guest first: one vCPU in real mode doing
 *                      this many "out" instructions, then "hlt"
 *   FAKE_VMM_REPORT    file to write "kvm_runs N" to (the KVM_RUN returns)
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static long env_num(const char *name, long dflt)
{
	const char *v = getenv(name);
	return v && *v ? strtol(v, NULL, 10) : dflt;
}

/* Returns the number of KVM_RUN calls that returned, or -1. */
static long run_kvm(long outs)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		perror("/dev/kvm");
		return -1;
	}
	int vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0) {
		perror("KVM_CREATE_VM");
		return -1;
	}
	size_t mem_size = 0x10000;
	uint8_t *mem = mmap(NULL, mem_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return -1;
	/* mov dx, 0x3f8; mov al, 'k'; out dx, al (x outs); hlt */
	size_t at = 0x1000;
	const uint8_t head[] = { 0xba, 0xf8, 0x03, 0xb0, 0x6b };
	memcpy(mem + at, head, sizeof(head));
	at += sizeof(head);
	for (long i = 0; i < outs && at < mem_size - 1; i++)
		mem[at++] = 0xee;
	mem[at] = 0xf4;
	struct kvm_userspace_memory_region region = {
		.slot = 0, .guest_phys_addr = 0, .memory_size = mem_size, .userspace_addr = (uintptr_t)mem
	};
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
		perror("KVM_SET_USER_MEMORY_REGION");
		return -1;
	}
	int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vcpu < 0 || run_size <= 0) {
		perror("KVM_CREATE_VCPU");
		return -1;
	}
	struct kvm_run *run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED)
		return -1;
	struct kvm_sregs sregs;
	if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
		return -1;
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0)
		return -1;
	struct kvm_regs regs = { .rip = 0x1000, .rflags = 0x2 };
	if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
		return -1;
	long runs = 0;
	for (;;) {
		if (ioctl(vcpu, KVM_RUN, 0) < 0) {
			if (errno == EINTR)
				continue;
			perror("KVM_RUN");
			return -1;
		}
		runs++;
		if (run->exit_reason == KVM_EXIT_IO)
			continue;
		if (run->exit_reason == KVM_EXIT_HLT)
			break;
		fprintf(stderr, "fake-vmm: unexpected KVM exit reason %u\n", run->exit_reason);
		return -1;
	}
	return runs;
}

int main(void)
{
	long outs = env_num("FAKE_VMM_KVM_OUTS", 0);
	const char *report = getenv("FAKE_VMM_REPORT");

	if (outs > 0) {
		long runs = run_kvm(outs);
		if (report) {
			FILE *f = fopen(report, "w");
			if (f) {
				fprintf(f, "kvm_runs %ld\n", runs);
				fclose(f);
			}
		}
		if (runs < 0)
			return 99;
	}
	long ms = env_num("FAKE_VMM_SLEEP_MS", 500);
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	long sig = env_num("FAKE_VMM_SIGNAL", 0);
	if (sig > 0) {
		signal((int)sig, SIG_DFL);
		raise((int)sig);
	}
	return (int)env_num("FAKE_VMM_EXIT", 0);
}
