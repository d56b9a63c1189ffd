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
LIBS := -lbpf -lelf -lz -lzstd -lssl -lcrypto -lyaml -lhs -lpcre2-8 -lstdc++ -lsqlite3 -lm -lpthread

BPF_DOMAINS := process file net priv isolate block
BPF_OBJS := $(BPF_DOMAINS:%=$(BUILD)/%.bpf.o)
SKELS := $(BPF_DOMAINS:%=$(BUILD)/%.skel.h)

# Library code shared by the daemon, the CLI, tests and benchmarks.
LIB_SRCS := $(wildcard src/util/*.c src/event/*.c src/proc/*.c src/sensor/*.c src/engine/*.c src/store/*.c src/respond/*.c src/daemon/config.c src/daemon/api_proto.c)
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

$(BUILD)/%.bpf.o: bpf/%.bpf.c bpf/common.bpf.h bpf/records.h bpf/exits.h $(BUILD)/vmlinux.h
	$(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -I$(BUILD) -Ibpf -Wall -Werror -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(BPFTOOL) gen skeleton $< name vgskel_$* > $@.tmp && mv $@.tmp $@

$(BUILD)/obj/%.o: %.c $(SKELS) $(wildcard src/*/*.h) bpf/records.h bpf/exits.h
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

# the engine benchmark links the engine and its libraries
$(BUILD)/bench/engine_bench: bench/engine_bench.c $(BUILD)/libvigil.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libvigil.a $(LIBS)

# the store benchmark links the store and libzstd
$(BUILD)/bench/store_bench: bench/store_bench.c $(BUILD)/libvigil.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libvigil.a $(LIBS)

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

# libFuzzer targets, built by clang from the sources directly (not from the
# gcc-built libvigil.a); `make fuzz` runs each for FUZZ_SECONDS from seeds
# made by tests/fuzz/gen_seeds.c, with tests/fuzz/dict/NAME.dict when there
# is one. The corpus grows in BUILD/fuzz/NAME.corpus; findings land there too.
FUZZ_SECONDS ?= 20
FUZZ_SRCS := src/daemon/config.c src/sensor/hooks.c src/sensor/decode.c src/event/json.c \
	src/event/event.c src/event/dns.c src/event/path.c src/event/flat.c src/event/xattr.c src/util/strbuf.c src/util/htab.c src/proc/proc.c
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
.PHONY: fuzz
$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_SRCS) $(wildcard src/*/*.h) bpf/records.h tests/unit/jsoncheck.h
	@mkdir -p $(dir $@)
	$(CLANG) -g -O1 -std=gnu11 -Isrc -Ibpf -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		-fno-omit-frame-pointer -o $@ $< $(FUZZ_SRCS)

# the Sigma parser (and the matcher built from what parses); seeds: the shipped rules
FUZZ_SIGMA_SRCS := src/engine/sigma.c src/engine/cond.c src/engine/fieldmap.c src/engine/match.c \
	src/event/flat.c src/util/strbuf.c src/util/htab.c
$(BUILD)/fuzz/fuzz_sigma: tests/fuzz/fuzz_sigma.c $(FUZZ_SIGMA_SRCS) $(wildcard src/*/*.h)
	@mkdir -p $(dir $@) $(BUILD)/fuzz/seeds/fuzz_sigma
	@i=0; for f in $$(find rules -name '*.yml' -o -name '*.yaml'); do i=$$((i+1)); cp $$f $(BUILD)/fuzz/seeds/fuzz_sigma/rule$$i.yml; done
	$(CLANG) -g -O1 -std=gnu11 -Isrc -Ibpf -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		-fno-omit-frame-pointer -o $@ $< $(FUZZ_SIGMA_SRCS) -lyaml -lhs -lpcre2-8 -lstdc++ -lm -lpthread

# the store's binary encoding and segment reader; seeds: real events
FUZZ_CODEC_SRCS := src/store/codec.c src/store/block.c src/store/index.c src/store/query.c src/store/segment.c \
	src/event/flat.c src/util/strbuf.c src/util/htab.c
$(BUILD)/fuzz/fuzz_codec: tests/fuzz/fuzz_codec.c $(FUZZ_CODEC_SRCS) $(wildcard src/*/*.h)
	@mkdir -p $(dir $@) $(BUILD)/fuzz/seeds/fuzz_codec
	@split -l 1 -a 4 tests/unit/data/store_events.jsonl $(BUILD)/fuzz/seeds/fuzz_codec/ev
	$(CLANG) -g -O1 -std=gnu11 -Isrc -Ibpf -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		-fno-omit-frame-pointer -o $@ $< $(FUZZ_CODEC_SRCS) -lzstd -lpthread

# the flattener (recorded JSON streams); seeds: real events
$(BUILD)/fuzz/fuzz_flat: tests/fuzz/fuzz_flat.c $(FUZZ_SRCS) $(wildcard src/*/*.h) tests/unit/jsoncheck.h
	@mkdir -p $(dir $@) $(BUILD)/fuzz/seeds/fuzz_flat
	@split -l 1 -a 4 tests/unit/data/store_events.jsonl $(BUILD)/fuzz/seeds/fuzz_flat/ev
	$(CLANG) -g -O1 -std=gnu11 -Isrc -Ibpf -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		-fno-omit-frame-pointer -o $@ $< $(FUZZ_SRCS)

# the responder's inputs from outside: API request lines, the block list file
FUZZ_RESPOND_SRCS := src/daemon/api_proto.c src/respond/blocklist.c src/util/strbuf.c
$(BUILD)/fuzz/fuzz_respond: tests/fuzz/fuzz_respond.c $(FUZZ_RESPOND_SRCS) $(wildcard src/*/*.h)
	@mkdir -p $(dir $@)
	$(CLANG) -g -O1 -std=gnu11 -Isrc -Ibpf -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		-fno-omit-frame-pointer -o $@ $< $(FUZZ_RESPOND_SRCS)

$(BUILD)/fuzz/gen_seeds: tests/fuzz/gen_seeds.c tests/unit/recbuild.h bpf/records.h
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -Wall -Werror -o $@ $<

fuzz: $(FUZZ_BINS) $(BUILD)/fuzz/gen_seeds
	@$(BUILD)/fuzz/gen_seeds $(BUILD)/fuzz/seeds
	@set -e; for f in $(FUZZ_BINS); do n=$$(basename $$f); echo "== $$n ($(FUZZ_SECONDS) s)"; \
	  mkdir -p $$f.corpus; rm -f $$f-crash-* $$f-leak-* $$f-timeout-* $$f-oom-*; rc=0; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -artifact_prefix=$$f- \
	    $$(test -f tests/fuzz/dict/$$n.dict && echo -dict=tests/fuzz/dict/$$n.dict) \
	    $$f.corpus $$(test -d $(BUILD)/fuzz/seeds/$$n && echo $(BUILD)/fuzz/seeds/$$n) >$$f.log 2>&1 || rc=$$?; \
	  grep -E "^(stat::number_of_executed_units|stat::average_exec_per_sec|stat::new_units_added|stat::peak_rss_mb)|DONE" $$f.log || true; \
	  if [ $$rc != 0 ]; then tail -n 60 $$f.log; echo "$$n: FAILED (exit $$rc); log $$f.log"; exit 1; fi; \
	done

# Scenario tests need root, the real kernel and the built daemon.
scenario: all
	VIGIL_BUILD=$(abspath $(BUILD)) /usr/bin/python3 -m pytest -q tests/scenario

test:
	bash scripts/test.sh

run: deps all
	$(BUILD)/vigild --events-out -

clean:
	rm -rf $(BUILD) build-*
