# SPDX-License-Identifier: Apache-2.0
# katatrace-bpf — top-level build.
#
#   make deps     install the Debian packages the build and tests need (idempotent)
#   make          build ./katatrace-bpf (BPF objects embedded as skeletons)
#   make run      deps + build + run the daemon with its embedded defaults
#   make test     deps + unit tests (ASan/UBSan) + integration tests + fault
#                 injection + a 3-minute soak + fuzz smoke + kernel lane
#   make test-faults  the fault-injection cases alone (tests/faults/)
#   make soak     the 30-minute soak (SOAK_SECONDS=N; docs/testing.md)
#   make test-kernels  the kernel lane alone: Debian's 6.1 and 6.12 kernels under
#                 QEMU (KERNELS=6.12 for one; docs/testing.md)
#   make fuzz     build the libFuzzer targets into build/fuzz/
#   make bench    benchmarks: every figure beside its baseline, as a ratio
#                 (docs/performance.md; BENCH_QUICK=1 for a smoke run)
#   make vmlinux  regenerate vmlinux/vmlinux.h from this host's BTF
#   make install  PREFIX=/usr/local DESTDIR=: bin/katatrace-bpf, bin/kata-trace-forwarder
#                 (a link to it) and lib/systemd/system/katatrace-bpf.service
#   make uninstall  the same files removed

SHELL := /bin/bash
.DEFAULT_GOAL := all

CC ?= gcc
CLANG ?= clang
BPFTOOL ?= bpftool
PROTOC_C ?= protoc-c

ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
BUILD := build
GEN := $(BUILD)/gen
OBJ := $(BUILD)/obj
ASAN := $(BUILD)/asan
FUZZ := $(BUILD)/fuzz
BIN := katatrace-bpf

WARN := -Wall -Wextra -Werror
# Includes name their folder: "stream/reasm.h" (user/), "exporters/otlp_build.h",
# "bpf/stream_record.h"; generated skeletons and protobuf-c code by their own paths.
INCLUDES := -I. -Iuser -I$(GEN) -I$(GEN)/proto
CSTD := -std=c11 -D_GNU_SOURCE
CFLAGS ?= -O2 -g
override CFLAGS += $(CSTD) $(WARN) $(INCLUDES) -MMD -MP

# Libraries a node may lack are linked statically; libcurl (TLS stack),
# libmicrohttpd (the metrics server; its static archive needs GnuTLS's) and
# libc stay dynamic. Every link of the library objects names these.
STATIC_LIBS := -lbpf -lelf -lz -ljson-c -lprotobuf-c -lcapstone
DYNAMIC_LIBS := -lcurl -lmicrohttpd
LDLIBS := -Wl,-Bstatic $(STATIC_LIBS) -Wl,-Bdynamic $(DYNAMIC_LIBS) -lpthread -lm

# ---------------------------------------------------------------- sources

BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(BPF_SRCS:bpf/%.bpf.c=$(GEN)/%.bpf.o)
SKELS := $(BPF_SRCS:bpf/%.bpf.c=$(GEN)/%.skel.h)

# One proto tree (OTLP, ttrpc, google.rpc, containerd's Task API), generated
# into $(GEN)/proto.
PROTOS := $(shell find proto -name '*.proto' | sort)
PROTO_C := $(PROTOS:proto/%.proto=$(GEN)/proto/%.pb-c.c)
PROTO_H := $(PROTO_C:.c=.h)

# One folder per stage of the data flow (docs/architecture.md).
STAGES := daemon capture stream agent rpc kata1 bpftrace control traces sandbox model base
MAIN_SRC := user/daemon/main.c
LIB_SRCS := $(filter-out $(MAIN_SRC),$(foreach s,$(STAGES),$(wildcard user/$(s)/*.c))) \
	$(wildcard exporters/*.c)
LIB_OBJS := $(LIB_SRCS:%.c=$(OBJ)/%.o) $(PROTO_C:$(GEN)/%.c=$(OBJ)/gen/%.o)
MAIN_OBJ := $(MAIN_SRC:%.c=$(OBJ)/%.o)

GENERATED := $(SKELS) $(PROTO_H)
.SECONDARY:

# ---------------------------------------------------------------- deps

# Debian 12 packages: build, then test. Installed only when missing.
DEPS_BUILD := make gcc clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev \
	libcurl4-openssl-dev libjson-c-dev libprotobuf-c-dev protobuf-c-compiler pkg-config \
	libcapstone-dev bpftrace libmicrohttpd-dev
DEPS_TEST := libcriterion-dev libclang-rt-14-dev libssl-dev socat util-linux procps curl openssl \
	containerd runc busybox-static golang-go prometheus podman
DEPS_KERNELS := qemu-system-x86 busybox-static xz-utils

.PHONY: deps deps-test deps-kernels
deps:
	@tools/ensure-packages $(DEPS_BUILD)
deps-test: deps
	@tools/ensure-packages $(DEPS_TEST)
	@tools/ensure-node
	@tools/ensure-npm tests/receiver
	@tools/ensure-command kubectl kubernetes-client
	@tools/ensure-npm tests/deploy
deps-kernels: deps-test
	@tools/ensure-packages $(DEPS_KERNELS)

# ---------------------------------------------------------------- build

.PHONY: all
all: $(BIN)

$(BIN): $(MAIN_OBJ) $(LIB_OBJS)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(OBJ)/%.o: %.c | $(GENERATED)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

# protobuf-c output is not -Wextra clean; it is generated, not ours.
$(OBJ)/gen/%.o: $(GEN)/%.c | $(GENERATED)
	@mkdir -p $(@D)
	$(CC) $(CSTD) $(CFLAGS_GEN) -O2 -g $(INCLUDES) -w -c -o $@ $<

$(GEN)/proto/%.pb-c.c $(GEN)/proto/%.pb-c.h: proto/%.proto $(PROTOS)
	@mkdir -p $(GEN)/proto
	$(PROTOC_C) --c_out=$(GEN)/proto -Iproto $<

# BPF: CO-RE objects against the checked-in vmlinux.h, then skeletons.
# BPF_PROG/BPF_KPROBE expand to parameters a program need not use.
BPF_CFLAGS := -target bpf -g -O2 -Wall -Wextra -Wno-unused-parameter -Werror -D__TARGET_ARCH_$(ARCH) \
	-Ivmlinux -Ibpf -I$(GEN)

$(GEN)/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h) vmlinux/vmlinux.h
	@mkdir -p $(GEN)
	$(CLANG) $(BPF_CFLAGS) -c -o $@.tmp.o $<
	$(BPFTOOL) gen object $@ $@.tmp.o
	@rm -f $@.tmp.o

$(GEN)/%.skel.h: $(GEN)/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@.tmp && mv $@.tmp $@

# Fully static binary (no libcurl, hence no OTLP/HTTP or OTLP/gRPC, and no
# libmicrohttpd, hence no --metrics-address) for minimal systems such as the
# kernel test lane's initramfs.
CURL_SRCS := exporters/otlp_http.c exporters/otlp_grpc.c exporters/otlp_curl.c
MHD_SRCS := user/daemon/metrics_http.c
STATIC_SRCS := $(filter-out $(CURL_SRCS) $(MHD_SRCS),$(LIB_SRCS)) \
	exporters/static/otlp_http_unavailable.c exporters/static/otlp_grpc_unavailable.c \
	user/daemon/static/metrics_http_unavailable.c
STATIC_OBJS := $(STATIC_SRCS:%.c=$(OBJ)/%.o) $(PROTO_C:$(GEN)/%.c=$(OBJ)/gen/%.o)

.PHONY: static
static: $(BUILD)/katatrace-bpf.static
$(BUILD)/katatrace-bpf.static: $(MAIN_OBJ) $(STATIC_OBJS)
	$(CC) $(CFLAGS) -static -o $@ $^ $(STATIC_LIBS) -lpthread -lm

.PHONY: vmlinux
vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > vmlinux/vmlinux.h

# ---------------------------------------------------------------- install

# The binary; kata-trace-forwarder, a link to it (called so, it is the
# drop-in: user/daemon/main.c), unless another program has that name there;
# the systemd unit (deploy/systemd/), its ExecStart naming BINDIR. Nothing
# goes to /etc: the unit reads /etc/default/katatrace-bpf if it exists.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SYSTEMD_UNIT_DIR ?= $(PREFIX)/lib/systemd/system
UNIT := deploy/systemd/katatrace-bpf.service
FORWARDER_LINK := $(DESTDIR)$(BINDIR)/kata-trace-forwarder

.PHONY: install uninstall
install: $(BIN)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SYSTEMD_UNIT_DIR)
	install -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/katatrace-bpf
	@if [ -e $(FORWARDER_LINK) ] && [ "$$(readlink $(FORWARDER_LINK))" != katatrace-bpf ]; then \
		echo "$(FORWARDER_LINK) is another program: left as it is"; \
	else \
		echo "ln -sfn katatrace-bpf $(FORWARDER_LINK)"; \
		ln -sfn katatrace-bpf $(FORWARDER_LINK); \
	fi
	sed 's|/usr/local/bin/katatrace-bpf|$(BINDIR)/katatrace-bpf|' $(UNIT) > $(DESTDIR)$(SYSTEMD_UNIT_DIR)/katatrace-bpf.service.tmp
	install -m 0644 $(DESTDIR)$(SYSTEMD_UNIT_DIR)/katatrace-bpf.service.tmp $(DESTDIR)$(SYSTEMD_UNIT_DIR)/katatrace-bpf.service
	rm -f $(DESTDIR)$(SYSTEMD_UNIT_DIR)/katatrace-bpf.service.tmp

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/katatrace-bpf $(DESTDIR)$(SYSTEMD_UNIT_DIR)/katatrace-bpf.service
	@if [ "$$(readlink $(FORWARDER_LINK))" = katatrace-bpf ]; then \
		echo "rm -f $(FORWARDER_LINK)"; rm -f $(FORWARDER_LINK); fi

# ---------------------------------------------------------------- run

ARGS ?=
.PHONY: run
run: deps
	$(MAKE) -j$(NPROC) all
	./$(BIN) run $(ARGS)

# ---------------------------------------------------------------- tests

# Test targets (tests/targets/): programs whose functions the tests
# disassemble and probe. C at -O2, as PIE (ET_DYN, globals in .dynsym) and
# not (ET_EXEC); Go (one main.go each) as the toolchain builds it (ET_EXEC)
# and as PIE, offline, with its cache under build/go; stripped copies.
TARGETS := $(BUILD)/targets
TARGET_CFLAGS := -std=c11 -O2 $(WARN) -Iuser -rdynamic
GO ?= go
GO_ENV := GOENV=off GOFLAGS= GO111MODULE=off GOPROXY=off CGO_ENABLED=0 \
	GOCACHE=$(abspath $(BUILD)/go/cache) GOPATH=$(abspath $(BUILD)/go/path)
TEST_TARGETS := $(TARGETS)/c/multi_ret $(TARGETS)/c/multi_ret.nopie $(TARGETS)/c/multi_ret.stripped \
	$(TARGETS)/c/ret_forms $(TARGETS)/c/limits $(TARGETS)/c/probe_target \
	$(TARGETS)/go/stackgrow $(TARGETS)/go/stackgrow.pie $(TARGETS)/go/stackgrow.stripped \
	$(TARGETS)/go/stackgrow.pie.stripped $(TARGETS)/go/gosym

$(TARGETS)/c/%: tests/targets/c/%.c user/capture/func_returns.h
	@mkdir -p $(@D)
	$(CC) $(TARGET_CFLAGS) -o $@ $<
$(TARGETS)/c/%.nopie: tests/targets/c/%.c
	@mkdir -p $(@D)
	$(CC) $(TARGET_CFLAGS) -no-pie -o $@ $<
$(TARGETS)/go/%: tests/targets/go/%/main.go
	@mkdir -p $(@D)
	cd $(<D) && $(GO_ENV) $(GO) build -trimpath -o $(abspath $@) .
$(TARGETS)/go/%.pie: tests/targets/go/%/main.go
	@mkdir -p $(@D)
	cd $(<D) && $(GO_ENV) $(GO) build -trimpath -buildmode=pie -o $(abspath $@) .
$(TARGETS)/%.stripped: $(TARGETS)/%
	objcopy --strip-all $< $@

.PHONY: test-targets
test-targets: $(TEST_TARGETS)

SAN := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
ASAN_CFLAGS := $(CSTD) $(WARN) $(INCLUDES) -O1 -g $(SAN) -MMD -MP \
	-DKT_TEST_VECTORS='"$(abspath tests/vectors)"' -DKT_TEST_TARGETS='"$(abspath $(TARGETS))"'
ASAN_LIB_OBJS := $(LIB_SRCS:%.c=$(ASAN)/%.o) $(PROTO_C:$(GEN)/%.c=$(ASAN)/gen/%.o)
UNIT_SRCS := $(wildcard tests/unit/*.c)
# Reference implementations the tests compare the product with (tests/oracle/).
ORACLE_SRCS := $(wildcard tests/oracle/*.c)
UNIT_OBJS := $(UNIT_SRCS:%.c=$(ASAN)/%.o) $(ORACLE_SRCS:%.c=$(ASAN)/%.o)

$(ASAN)/%.o: %.c | $(GENERATED)
	@mkdir -p $(@D)
	$(CC) $(ASAN_CFLAGS) -c -o $@ $<

$(ASAN)/gen/%.o: $(GEN)/%.c | $(GENERATED)
	@mkdir -p $(@D)
	$(CC) $(CSTD) $(INCLUDES) -O1 -g $(SAN) -w -c -o $@ $<

# The programs the tests read are built first (order-only: a rebuilt target
# does not relink the tests).
$(ASAN)/unit-tests: $(UNIT_OBJS) $(ASAN_LIB_OBJS) | $(TEST_TARGETS)
	$(CC) $(ASAN_CFLAGS) -o $@ $^ -lcriterion $(STATIC_LIBS) $(DYNAMIC_LIBS) -lcrypto -lpthread -lm

# Test helper programs (no sanitizers: they stand in for foreign processes).
TOOL_SRCS := $(wildcard tests/tools/*.c)
TOOLS := $(TOOL_SRCS:tests/tools/%.c=$(BUILD)/tools/%)
$(BUILD)/tools/%: tests/tools/%.c $(LIB_OBJS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $(LIB_OBJS) $(LDLIBS)

# Statically linked copies of the tools the kernel test lane runs inside its VMs.
STATIC_TOOLS := $(BUILD)/tools-static/hv-relay $(BUILD)/tools-static/sock-drain $(BUILD)/tools-static/ttrpc-peer
$(BUILD)/tools-static/%: tests/tools/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -static -o $@ $< -lpthread

.PHONY: test test-unit test-integration test-faults soak test-fuzz test-kernels tools static-tools
tools: $(TOOLS)
static-tools: $(STATIC_TOOLS)

NPROC := $(shell nproc 2>/dev/null || echo 2)

test: deps-test deps-kernels
	$(MAKE) -j$(NPROC) all tools static static-tools $(ASAN)/unit-tests fuzz bench-build
	tests/run-all.sh

test-unit: $(ASAN)/unit-tests
	tests/run-all.sh --only unit

test-integration: deps-test
	$(MAKE) -j$(NPROC) all tools
	tests/run-all.sh --only integration

test-faults: deps-test
	$(MAKE) -j$(NPROC) all tools
	tests/run-all.sh --only faults

# The 30-minute soak (docs/testing.md keeps its last result); make test runs 3 minutes of it.
soak: deps-test
	$(MAKE) -j$(NPROC) all tools bench-build
	SOAK_SECONDS=$${SOAK_SECONDS:-1800} tests/run-all.sh --only soak

# Downloads the kernel packages once, into build/kernels/.
test-kernels: deps-kernels
	$(MAKE) -j$(NPROC) static static-tools tools
	tests/run-all.sh --only kernels

# ---------------------------------------------------------------- fuzz

FUZZ_SRCS := $(wildcard tests/fuzz/*.c)
FUZZERS := $(FUZZ_SRCS:tests/fuzz/%.c=$(FUZZ)/%)
# FUZZ_SAN/FUZZ_OPT: a build without ASan and comparison tracing (FUZZ=build/fuzz-fast
# FUZZ_SAN=undefined "FUZZ_OPT=-O2 -fno-sanitize-coverage=trace-cmp") runs several times
# faster, for long differential runs (docs/testing.md)
FUZZ_SAN ?= address,undefined
FUZZ_OPT ?= -O1
FUZZ_BASE := $(CSTD) $(WARN) $(INCLUDES) $(FUZZ_OPT) -g -fno-sanitize-recover=all -MMD -MP
FUZZ_CFLAGS := $(FUZZ_BASE) -fsanitize=fuzzer,$(FUZZ_SAN)
FUZZ_OBJ_CFLAGS := $(FUZZ_BASE) -fsanitize=fuzzer-no-link,$(FUZZ_SAN)
FUZZ_LIB_OBJS := $(LIB_SRCS:%.c=$(FUZZ)/obj/%.o) $(PROTO_C:$(GEN)/%.c=$(FUZZ)/obj/gen/%.o) \
	$(ORACLE_SRCS:%.c=$(FUZZ)/obj/%.o)

$(FUZZ)/obj/%.o: %.c | $(GENERATED)
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_OBJ_CFLAGS) -c -o $@ $<

$(FUZZ)/obj/gen/%.o: $(GEN)/%.c | $(GENERATED)
	@mkdir -p $(@D)
	$(CLANG) $(CSTD) $(INCLUDES) $(FUZZ_OPT) -g -fsanitize=fuzzer-no-link,$(FUZZ_SAN) -w -c -o $@ $<

$(FUZZ)/%: tests/fuzz/%.c $(FUZZ_LIB_OBJS)
	$(CLANG) $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_LIB_OBJS) $(STATIC_LIBS) $(DYNAMIC_LIBS) -lpthread -lm

.PHONY: fuzz
fuzz: $(FUZZERS)

test-fuzz: fuzz
	tests/run-all.sh --only fuzz

# ---------------------------------------------------------------- bench

# tests/bench/: one program per figure group (bench_util.h prints their
# rows), tests/bench/bench.sh runs them and the daemon end to end and prints
# the table (docs/performance.md). Root and BPF; BENCH_QUICK=1: tiny sizes,
# one round (a smoke run, its figures meaningless). `make test` builds them
# (bench-build), so that they keep compiling, and runs none.
# A benchmark's own BPF program (tests/bench/*.bpf.c) becomes a skeleton in
# $(GEN)/bench/, built as the project's are.
BENCH_SRCS := $(filter-out %.bpf.c,$(wildcard tests/bench/*.c))
BENCH_BINS := $(BENCH_SRCS:tests/bench/%.c=$(BUILD)/bench/%)
BENCH_SKELS := $(patsubst tests/bench/%.bpf.c,$(GEN)/bench/%.skel.h,$(wildcard tests/bench/*.bpf.c))
$(GEN)/bench/%.bpf.o: tests/bench/%.bpf.c $(wildcard bpf/*.h) vmlinux/vmlinux.h
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -c -o $@.tmp.o $<
	$(BPFTOOL) gen object $@ $@.tmp.o
	@rm -f $@.tmp.o
$(GEN)/bench/%.skel.h: $(GEN)/bench/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@.tmp && mv $@.tmp $@
$(BUILD)/bench/%: tests/bench/%.c tests/bench/bench_util.h $(LIB_OBJS) $(BENCH_SKELS)
	@# (build/bench was once the benchmark itself: a file where the folder goes)
	@{ [ ! -f $(BUILD)/bench ] || rm -f $(BUILD)/bench; mkdir -p $(@D); } 2>/dev/null; true
	$(CC) $(CFLAGS) -o $@ $< $(LIB_OBJS) $(LDLIBS)

.PHONY: bench bench-build
bench-build: $(BIN) $(BUILD)/tools/sock-drain $(BENCH_BINS)
bench: deps
	$(MAKE) -j$(NPROC) bench-build
	BENCH_QUICK=$(BENCH_QUICK) tests/bench/bench.sh

# ---------------------------------------------------------------- misc

.PHONY: clean
clean:
	rm -rf $(BUILD) $(BIN)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# ---------------------------------------------------------------- kubectl plugin

VERSION := $(shell sed -n 's/^#define KT_VERSION "\(.*\)"/\1/p' user/daemon/config.h)

# The container image (deploy/image): IMAGE:latest with bpftrace, IMAGE:slim
# without; podman (or docker, CONTAINER_ENGINE=docker) builds it from this
# machine's files.
IMAGE ?= localhost/katatrace-bpf
IMAGE_DIR := $(BUILD)/image

.PHONY: image
image: deps
	$(MAKE) $(BIN)
	deploy/image/build.sh $(BIN) $(IMAGE) $(VERSION) $(IMAGE_DIR)

# kubectl katatrace (deploy/kubectl): its archive and krew manifest.
PLUGIN_DIR := $(BUILD)/kubectl-plugin
KREW_ARCHIVE_URI ?= file://$(abspath $(PLUGIN_DIR))/kubectl-katatrace.tar.gz

.PHONY: kubectl-plugin
kubectl-plugin: $(PLUGIN_DIR)/katatrace.yaml

$(PLUGIN_DIR)/kubectl-katatrace.tar.gz: deploy/kubectl/kubectl-katatrace LICENSE
	@mkdir -p $(PLUGIN_DIR)
	tar --owner=0 --group=0 --mtime=@0 --sort=name -cf - -C deploy/kubectl kubectl-katatrace \
		-C $(CURDIR) LICENSE | gzip -n >$@

$(PLUGIN_DIR)/katatrace.yaml: deploy/kubectl/katatrace.yaml.in $(PLUGIN_DIR)/kubectl-katatrace.tar.gz
	sed -e 's|@VERSION@|$(VERSION)|g' -e "s|@SHA256@|$$(sha256sum $(word 2,$^) | cut -d' ' -f1)|" \
		-e 's|@URI@|$(KREW_ARCHIVE_URI)|' $< >$@
