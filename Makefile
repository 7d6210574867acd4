# Mandate. The README's two commands: `make run` and `make check`.
# Both install what is missing (scripts/deps.sh) before they build.

PKGS      := libmicrohttpd gnutls openssl jansson sqlite3 libpq libcurl libargon2 inih
BUILD     ?= build
CC        ?= cc
OPT       ?= -O2 -g
WARN      := -Wall -Wextra -Wformat=2 -Wshadow -Wvla -Wno-missing-field-initializers
ifeq ($(CI),true)
WARN      += -Werror
endif
SAN       :=
CFLAGS    += -std=gnu17 $(OPT) $(WARN) $(SAN) -pthread -Isrc $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS    += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -pthread -lm
TEST_LIBS := $(shell pkg-config --libs cmocka 2>/dev/null)

SRCS      := $(shell find src -name '*.c' ! -name main.c | sort)
OBJS      := $(SRCS:%.c=$(BUILD)/obj/%.o)
# Files embedded in the binary (scripts/embed.sh): the admin API's OpenAPI document.
GEN_OBJS  := $(BUILD)/gen/openapi_doc.o
# ... and the shipped policies (policies/*.cedar, policy/builtin.h).
POLICIES  := $(sort $(wildcard policies/*.cedar))
GEN_OBJS  += $(POLICIES:policies/%.cedar=$(BUILD)/gen/policy_%.o)
LIB       := $(BUILD)/libmandate.a
BIN       := $(BUILD)/mandate
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_NAMES:= $(patsubst fuzz/fuzz_%.c,%,$(sort $(wildcard fuzz/fuzz_*.c)))
REPLAYS   := $(FUZZ_NAMES:%=$(BUILD)/fuzz/replay_%)
FUZZ_SECONDS ?= 60
# `make check` fuzzes the Cedar parser and entity loader for a bounded time
# (20 s each unless FUZZ_SECONDS is given) when clang has libFuzzer.
CEDAR_FUZZ := cedar_policy cedar_entities
CHECK_FUZZ_SECONDS := $(if $(filter file,$(origin FUZZ_SECONDS)),20,$(FUZZ_SECONDS))
FUZZ_TARGETS ?= $(FUZZ_NAMES)
# Test tools: the differential test's batch evaluator (tests/integration/cedar_diff.test.mjs).
TOOLS     := $(BUILD)/tests/cedar_batch
PREFIX    ?= /usr/local

.PHONY: install all deps run check unit integration integration-sqlite integration-postgresql asan bench bench-forward-auth bench-steps clean lint docs-check fuzz fuzz-replay fuzz-cedar

all: $(BIN) $(UNIT_BINS) $(REPLAYS) $(TOOLS)

deps:
	@scripts/deps.sh

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/gen/openapi_doc.c: docs/openapi.json scripts/embed.sh
	@mkdir -p $(dir $@)
	scripts/embed.sh mdt_admin_openapi_json $< > $@

$(BUILD)/gen/policy_%.c: policies/%.cedar scripts/embed.sh
	@mkdir -p $(dir $@)
	scripts/embed.sh mdt_policy_text_$(subst -,_,$*) $< > $@

$(BUILD)/gen/%.o: $(BUILD)/gen/%.c
	$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(OBJS) $(GEN_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(BUILD)/obj/src/main.o $(LIB)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(LIB) $(LDLIBS) $(TEST_LIBS)

$(BUILD)/tests/cedar_batch: tests/tools/cedar_batch.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# The embedded PDP's benchmark (bench/run.sh runs it beside the mandate it benchmarks).
$(BUILD)/cedar_bench: bench/cedar_bench.c $(LIB)
	$(CC) $(CFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# Seeds the audit chain for the benchmark's runs on a big store (bench/run.sh).
$(BUILD)/seed: bench/seed.c $(LIB)
	$(CC) $(CFLAGS) -o $@ $< $(LIB) $(LDLIBS)

$(BUILD)/fuzz/replay_%: fuzz/replay.c fuzz/fuzz_%.c fuzz/fuzz.h $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Ifuzz -o $@ fuzz/replay.c fuzz/fuzz_$*.c $(LIB) $(LDLIBS)

# Replays each fuzzer's corpus (its seeds and every finding kept there).
fuzz-replay: $(REPLAYS)
	@for n in $(FUZZ_NAMES); do $(BUILD)/fuzz/replay_$$n fuzz/corpus/$$n >/dev/null || { echo "fuzz-replay: $$n failed"; exit 1; }; done
	@echo "fuzz-replay: $(words $(FUZZ_NAMES)) corpora replayed"

# Real fuzzing with clang's libFuzzer: FUZZ_SECONDS per target (FUZZ_TARGETS: which, default
# all), seeded from fuzz/corpus/<target> and fuzz/<target>.dict when there is one; new inputs
# go to build/fuzz/corpus/<target>, crashes to build/fuzz/ (copy a crash into
# fuzz/corpus/<target> to keep it as a regression test).
fuzz:
	@command -v clang >/dev/null || { echo "fuzz: needs clang and libclang-rt-14-dev"; exit 1; }
	@$(MAKE) --no-print-directory CC=clang BUILD=build/fuzz OPT="-O1 -g" \
	  SAN="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all" build/fuzz/libmandate.a
	@for n in $(FUZZ_TARGETS); do \
	  clang -std=gnu17 -O1 -g -fsanitize=fuzzer,address,undefined -Isrc -Ifuzz -o build/fuzz/fuzz_$$n \
	    fuzz/fuzz_$$n.c build/fuzz/libmandate.a $(LDLIBS) && \
	  mkdir -p build/fuzz/corpus/$$n && \
	  build/fuzz/fuzz_$$n -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -artifact_prefix=build/fuzz/ \
	    $$([ -f fuzz/$$n.dict ] && echo -dict=fuzz/$$n.dict) build/fuzz/corpus/$$n fuzz/corpus/$$n || exit 1; \
	done

# The bounded fuzzing of `make check`: the Cedar targets for CHECK_FUZZ_SECONDS each, when
# clang can link libFuzzer (clang and libclang-rt-14-dev, installed by scripts/deps.sh).
fuzz-cedar:
	@mkdir -p $(BUILD)
	@if printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' | \
	    clang -x c -fsanitize=fuzzer -o $(BUILD)/libfuzzer-probe - >/dev/null 2>&1; then \
	  rm -f $(BUILD)/libfuzzer-probe; \
	  $(MAKE) --no-print-directory fuzz FUZZ_TARGETS="$(CEDAR_FUZZ)" FUZZ_SECONDS=$(CHECK_FUZZ_SECONDS); \
	else \
	  echo "fuzz-cedar: skipped, clang cannot link libFuzzer (scripts/deps.sh installs clang and libclang-rt-14-dev)"; \
	fi

# Puts `mandate` on PATH: $(DESTDIR)$(PREFIX)/bin/mandate.
install: deps
	@$(MAKE) --no-print-directory $(BIN)
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/mandate

run: deps
	@$(MAKE) --no-print-directory $(BIN)
	$(BIN) serve --dev

# The store suite runs on SQLite and on a throw-away PostgreSQL cluster (scripts/pg.sh).
unit: $(UNIT_BINS)
	@scripts/pg.sh with scripts/run-unit.sh $(UNIT_BINS)

# The whole integration suite, once on each backend: SQLite files in the
# servers' directories, then a database per server on a throw-away
# PostgreSQL cluster (tests/integration/lib/pg.mjs).
INTEGRATION = cd tests/integration && MANDATE_BIN=$(abspath $(BIN)) node --test --test-concurrency=2 *.test.mjs
integration: integration-sqlite integration-postgresql

integration-sqlite: $(BIN)
	@echo "integration: SQLite"
	$(INTEGRATION)

integration-postgresql: $(BIN)
	@echo "integration: PostgreSQL"
	@scripts/pg.sh with sh -c '[ -n "$$MANDATE_TEST_PG_URL" ] || \
	  { echo "integration: PostgreSQL is not installed (scripts/deps.sh installs it)"; exit 1; }; \
	  $(INTEGRATION)'

lint:
	@scripts/lint.sh

docs-check: $(BIN)
	@$(BIN) config-reference | diff -u docs/configuration.md - >/dev/null || \
	  { echo "docs/configuration.md is out of date: run '$(BIN) config-reference > docs/configuration.md'"; exit 1; }

check: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory lint docs-check unit fuzz-replay fuzz-cedar integration

asan: deps
	@$(MAKE) --no-print-directory BUILD=build/asan OPT="-O1 -g -fno-omit-frame-pointer" \
	  SAN="-fsanitize=address,undefined -fno-sanitize-recover=all" all
	@ASAN_OPTIONS=detect_leaks=1 $(MAKE) --no-print-directory BUILD=build/asan \
	  SAN="-fsanitize=address,undefined -fno-sanitize-recover=all" unit fuzz-replay integration

bench: deps
	@$(MAKE) --no-print-directory BUILD=build/bench OPT="-O3 -DNDEBUG -march=native" build/bench/mandate \
	  build/bench/cedar_bench build/bench/seed
	@bench/run.sh build/bench/mandate

# /forward-auth's part of the benchmark alone (printed, not written to bench/RESULTS.md)
bench-forward-auth: deps
	@$(MAKE) --no-print-directory BUILD=build/bench OPT="-O3 -DNDEBUG -march=native" build/bench/mandate
	@bench/forward_auth.sh build/bench/mandate

# Before/after figures of git revisions, measured interleaved in one run:
# make bench-steps REVS="main my-branch" (bench/steps.sh builds each one itself)
bench-steps:
	@test -n "$(REVS)" || { echo 'usage: make bench-steps REVS="REV1 REV2 ..."'; exit 2; }
	@bench/steps.sh $(REVS)

clean:
	rm -rf build

-include $(OBJS:.o=.d) $(BUILD)/obj/src/main.d
