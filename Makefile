# vigil build. `make` builds build/vigild and build/vigil; `make test` runs
# every test; `make run` installs dependencies, builds and runs vigild.
BUILD ?= build
CC ?= cc
CLANG ?= clang
BPFTOOL ?= bpftool
SANITIZE ?=

ARCH := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')
HARDEN := -D_FORTIFY_SOURCE=2 -fstack-protector-strong -fstack-clash-protection -fPIE
WARN := -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow -Wformat=2
CFLAGS ?= -O2 -g
override CFLAGS += -std=gnu11 $(WARN) $(HARDEN) -I$(BUILD) -Isrc -Ibpf
LDFLAGS ?=
override LDFLAGS += -pie -Wl,-z,relro,-z,now
ifeq ($(SANITIZE),1)
override CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -U_FORTIFY_SOURCE
override LDFLAGS += -fsanitize=address,undefined
endif
LIBS := -lbpf -lelf -lz -lssl -lcrypto -lyaml -lhs -lpcre2-8 -lstdc++ -lm -lpthread

BPF_DOMAINS := process file net priv
BPF_OBJS := $(BPF_DOMAINS:%=$(BUILD)/%.bpf.o)
SKELS := $(BPF_DOMAINS:%=$(BUILD)/%.skel.h)

# Library code shared by the daemon, the CLI, tests and benchmarks.
LIB_SRCS := $(wildcard src/util/*.c src/event/*.c src/proc/*.c src/sensor/*.c src/engine/*.c src/daemon/config.c src/daemon/api_proto.c)
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
DAEMON_SRCS := $(filter-out src/daemon/config.c src/daemon/api_proto.c,$(wildcard src/daemon/*.c))
DAEMON_OBJS := $(DAEMON_SRCS:%.c=$(BUILD)/obj/%.o)
CLI_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard src/cli/*.c))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
HELPER_BINS := $(patsubst tests/helpers/%.c,$(BUILD)/helpers/%,$(wildcard tests/helpers/*.c))
BENCH_BINS := $(patsubst bench/%.c,$(BUILD)/bench/%,$(wildcard bench/*.c))

.SECONDARY:
.PHONY: all clean test unit scenario run deps bench
all: $(BUILD)/vigild $(BUILD)/vigil $(HELPER_BINS) $(BENCH_BINS)

deps:
	bash scripts/install-deps.sh

$(BUILD)/vmlinux.h:
	@mkdir -p $(BUILD)
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@

$(BUILD)/%.bpf.o: bpf/%.bpf.c bpf/common.bpf.h bpf/records.h $(BUILD)/vmlinux.h
	$(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -I$(BUILD) -Ibpf -Wall -Werror -Wno-unused-function -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(BPFTOOL) gen skeleton $< name vgskel_$* > $@.tmp && mv $@.tmp $@

$(BUILD)/obj/%.o: %.c $(SKELS) $(wildcard src/*/*.h) bpf/records.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libvigil.a: $(LIB_OBJS)
	ar rcs $@ $^

$(BUILD)/vigild: $(DAEMON_OBJS) $(BUILD)/libvigil.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/vigil: $(CLI_OBJS) $(BUILD)/libvigil.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libvigil.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libvigil.a $(LIBS) -lcmocka

$(BUILD)/helpers/%: tests/helpers/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<

$(BUILD)/bench/%: bench/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< -lpthread

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

# Scenario tests need root, the real kernel and the built daemon.
scenario: all
	VIGIL_BUILD=$(abspath $(BUILD)) python3 -m pytest -q tests/scenario

test:
	bash scripts/test.sh

run: deps all
	$(BUILD)/vigild --events-out -

clean:
	rm -rf $(BUILD) build-*
