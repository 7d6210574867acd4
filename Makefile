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
LIB       := $(BUILD)/libmandate.a
BIN       := $(BUILD)/mandate
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all deps run check unit integration asan bench clean lint docs-check

all: $(BIN) $(UNIT_BINS)

deps:
	@scripts/deps.sh

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(BUILD)/obj/src/main.o $(LIB)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c tests/unit/unit.h $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(LIB) $(LDLIBS) $(TEST_LIBS)

run: deps
	@$(MAKE) --no-print-directory $(BIN)
	$(BIN) serve --dev

unit: $(UNIT_BINS)
	@scripts/run-unit.sh $(UNIT_BINS)

integration: $(BIN)
	cd tests/integration && MANDATE_BIN=$(abspath $(BIN)) node --test --test-concurrency=2 *.test.mjs

lint:
	@scripts/lint.sh

docs-check: $(BIN)
	@$(BIN) config-reference | diff -u docs/configuration.md - >/dev/null || \
	  { echo "docs/configuration.md is out of date: run '$(BIN) config-reference > docs/configuration.md'"; exit 1; }

check: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory lint docs-check unit integration

asan: deps
	@$(MAKE) --no-print-directory BUILD=build/asan OPT="-O1 -g -fno-omit-frame-pointer" \
	  SAN="-fsanitize=address,undefined -fno-sanitize-recover=all" all
	@ASAN_OPTIONS=detect_leaks=1 $(MAKE) --no-print-directory BUILD=build/asan \
	  SAN="-fsanitize=address,undefined -fno-sanitize-recover=all" unit integration

bench: deps
	@$(MAKE) --no-print-directory BUILD=build/bench OPT="-O3 -DNDEBUG -march=native" build/bench/mandate
	@bench/run.sh build/bench/mandate

clean:
	rm -rf build

-include $(OBJS:.o=.d) $(BUILD)/obj/src/main.d
