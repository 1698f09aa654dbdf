# tollgate -- one GNU Makefile.
#   make            build build/tollgate
#   make run        install missing packages, build, init ./tollgate-data, serve on 127.0.0.1:8080
#   make test       install missing packages, build, unit tests (ASan+UBSan), integration tests
#   make unit       unit tests only        make integration   integration tests only
#   make bench      benchmarks (bench/*.sh), results in docs/benchmarks.md
#   make fmt        clang-format the C sources
PKGS     := libmicrohttpd libcrypto sqlite3 jansson expat libcurl inih zlib libpq
CC       ?= cc
CSTD     := -std=c11 -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64
WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-unused-parameter
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS   ?= -O2 -g
ALL_CFLAGS = $(CSTD) $(WARN) $(CFLAGS) $(PKG_CFLAGS) -Isrc
LDLIBS   = $(PKG_LIBS) -lpthread -lm
SAN      := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

LIB_SRC  := $(filter-out src/main.c,$(wildcard src/*/*.c))
HDRS     := $(wildcard src/*/*.h)
OBJ      := $(LIB_SRC:src/%.c=build/obj/%.o)
SAN_OBJ  := $(LIB_SRC:src/%.c=build/san/obj/%.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=build/san/tests/%)
BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(BENCH_SRC:bench/%.c=build/bench/%)
TOOL_SRC := $(wildcard tests/tools/*.c)
TOOL_BIN := $(TOOL_SRC:tests/tools/%.c=build/tools/%)

.PHONY: all run test unit integration deps deps-build deps-fuzz bench fmt clean fuzz
all: build/tollgate $(BENCH_BIN) $(TOOL_BIN)

deps:
	@sh scripts/deps.sh test
deps-build:
	@sh scripts/deps.sh build

build/obj/%.o: src/%.c $(HDRS)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(ALL_CFLAGS) -c $< -o $@
build/libtollgate.a: $(OBJ)
	@rm -f $@
	@ar rcs $@ $(OBJ)
build/tollgate: src/main.c build/libtollgate.a
	@echo "  LD      $@"
	@$(CC) $(ALL_CFLAGS) $< build/libtollgate.a $(LDLIBS) -o $@

build/san/obj/%.o: src/%.c $(HDRS)
	@mkdir -p $(dir $@)
	@echo "  CC(san) $<"
	@$(CC) $(ALL_CFLAGS) -O1 $(SAN) -c $< -o $@
build/san/libtollgate.a: $(SAN_OBJ)
	@rm -f $@
	@ar rcs $@ $(SAN_OBJ)
build/san/tests/%: tests/unit/%.c build/san/libtollgate.a $(HDRS)
	@mkdir -p $(dir $@)
	@echo "  LD(san) $@"
	@$(CC) $(ALL_CFLAGS) -O1 $(SAN) $< build/san/libtollgate.a $(LDLIBS) -lcmocka -o $@

build/tools/%: tests/tools/%.c build/libtollgate.a
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(ALL_CFLAGS) $< build/libtollgate.a $(LDLIBS) -o $@

build/bench/%: bench/%.c build/libtollgate.a
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(ALL_CFLAGS) $< build/libtollgate.a $(LDLIBS) -o $@

run: deps-build
	@$(MAKE) --no-print-directory build/tollgate
	@sh scripts/run.sh

test: deps
	@$(MAKE) --no-print-directory all $(UNIT_BIN)
	@sh tests/run.sh all

unit: $(UNIT_BIN)
	@sh tests/run.sh unit
integration: all
	@sh tests/run.sh integration

bench: deps all
	@for b in bench/*.sh; do echo "== $$b"; sh $$b || exit 1; done

fmt:
	clang-format -i src/*/*.c src/*/*.h src/main.c tests/unit/*.c bench/*.c

clean:
	rm -rf build

# libFuzzer targets (clang): `make fuzz` builds them and runs each for FUZZ_SECONDS.
FUZZ_SRC := $(wildcard fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:fuzz/%.c=build/fuzz/%)
FUZZ_SECONDS ?= 30
FUZZ_OBJ := $(LIB_SRC:src/%.c=build/fuzz/obj/%.o)
build/fuzz/obj/%.o: src/%.c $(HDRS)
	@mkdir -p $(dir $@)
	@echo "  CC(fuzz) $<"
	@clang $(CSTD) $(WARN) -g -O1 -fsanitize=fuzzer-no-link,address,undefined $(PKG_CFLAGS) -Isrc -c $< -o $@
build/fuzz/%: fuzz/%.c $(FUZZ_OBJ)
	@echo "  LD(fuzz) $@"
	@clang $(CSTD) $(WARN) -g -O1 -fsanitize=fuzzer,address,undefined $(PKG_CFLAGS) -Isrc $< $(FUZZ_OBJ) $(LDLIBS) -o $@
fuzz: deps-fuzz $(FUZZ_BIN)
	@for f in $(FUZZ_BIN); do n=$$(basename $$f); mkdir -p build/fuzz/corpus/$$n; \
	  echo "== $$n ($(FUZZ_SECONDS)s)"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 build/fuzz/corpus/$$n fuzz/corpus/$$n 2>&1 | tail -3 || exit 1; done
deps-fuzz:
	@sh scripts/deps.sh fuzz

# Keep intermediate objects (fuzz and sanitizer builds reuse them).
.SECONDARY:
