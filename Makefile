# gridesk — top-level build. Every dependency is found with pkg-config
# (http-parser ships no .pc file on Debian 12, so it is linked by name).
# Targets: all (default), deps, test, run, bench, fmt, clean.  SAN=1 builds
# with ASan+UBSan into build-san/ and bin-san/.

CC      ?= cc
SAN     ?= 0
MSGPACK := $(shell pkg-config --exists msgpack-c 2>/dev/null && echo msgpack-c || echo msgpack)
PKGS    := raft libuv rocksdb $(MSGPACK) libsodium jansson yajl icu-uc icu-i18n opencc
CLIPKGS := jansson

# The allocator of grideskd and the unit tests: mimalloc (libmimalloc-dev),
# linked first so that it serves malloc/free for RocksDB and every other
# library too.  glibc's malloc was 8-12% of the nodes' CPU at 64 clients
# (malloc_consolidate, unlink_chunk); mimalloc gave +10-13% writes/s in A/B
# runs (docs/ARCHITECTURE.md).  MALLOC=libc builds without it; sanitizer
# builds always use ASan's own.
MALLOC  ?= mimalloc

ifeq ($(SAN),1)
  BUILD   := build-san
  BIN     := bin-san
  SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  OPT     := -O1 -g
else
  BUILD   := build
  BIN     := bin
  SANFLAGS :=
  OPT     := -O2 -g
endif
ifeq ($(SAN)$(MALLOC),0mimalloc)
  MALLOCLIB := -lmimalloc
else
  MALLOCLIB :=
endif

CFLAGS  := -std=gnu11 $(OPT) -Wall -Wextra -Werror -Wno-unused-parameter \
           -Wshadow -Wstrict-prototypes -Wmissing-prototypes -D_GNU_SOURCE -I. \
           $(SANFLAGS) $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDFLAGS := $(SANFLAGS)
LIBS    := $(MALLOCLIB) $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lhttp_parser -lpthread -lm
CLILIBS := $(shell pkg-config --libs $(CLIPKGS) 2>/dev/null) -lhttp_parser -lcsv
TESTLIBS := $(shell pkg-config --libs cmocka 2>/dev/null)

# Library objects: every .c in the rooms, except the programs' mains.
LIBSRC  := $(wildcard core/*.c storage/*.c search/*.c consensus/*.c edge-sync/*.c) \
           $(filter-out node/main.c,$(wildcard node/*.c))
CLISRC  := $(wildcard cli/*.c)
LIBOBJ  := $(LIBSRC:%.c=$(BUILD)/%.o)
CLIOBJ  := $(CLISRC:%.c=$(BUILD)/%.o)
UNITSRC := $(wildcard tests/unit/test_*.c)
UNITBIN := $(UNITSRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all deps test unit integration run bench fmt clean check-deps

all: check-deps $(BIN)/grideskd $(BIN)/gridesk

# Debian packages the build, tests and benchmarks need.
DEB_PKGS := build-essential pkg-config libraft-dev libuv1-dev librocksdb-dev \
            libmsgpack-dev libsodium-dev libhttp-parser-dev libjansson-dev \
            libyajl-dev libmimalloc-dev \
            libcmocka-dev python3 etcd-server etcd-client wrk \
            libicu-dev libopencc-dev libcsv-dev libsqlite3-dev

deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	else echo "deps: all installed"; fi

check-deps:
	@pkg-config --exists $(PKGS) || { echo "missing libraries: run 'make deps'" >&2; exit 2; }
	@test -f /usr/include/http_parser.h || { echo "missing http-parser: run 'make deps'" >&2; exit 2; }
	@test -f /usr/include/csv.h || { echo "missing libcsv: run 'make deps'" >&2; exit 2; }
	@test -z "$(MALLOCLIB)" || test -f /usr/include/mimalloc.h || { echo "missing libmimalloc-dev: run 'make deps' (or build with MALLOC=libc)" >&2; exit 2; }

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BIN)/grideskd: $(BUILD)/node/main.o $(LIBOBJ)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BIN)/gridesk: $(CLIOBJ)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(CLILIBS)

$(BUILD)/tests/test_%: tests/unit/test_%.c $(LIBOBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP $(LDFLAGS) -o $@ $(filter %.c %.o,$^) $(LIBS) $(TESTLIBS)

unit: check-deps $(UNITBIN)
	@fail=0; for t in $(UNITBIN); do echo "== $$t"; $$t || fail=1; done; exit $$fail

integration: all
	GRIDESK_BIN=$(CURDIR)/$(BIN) python3 tests/integration/run.py

test: unit integration

run: deps
	@$(MAKE) --no-print-directory all
	@./tools/run-cluster.sh

bench: deps
	@$(MAKE) --no-print-directory all
	@./bench/run.sh

# Knowledge-base search vs SQLite FTS5 (bench/kb/): `make bench-kb` runs only
# that part; `make bench` runs it too, from bench/run.sh.
.PHONY: bench-kb
$(BUILD)/bench/kbbench: bench/kb/kbbench.c $(LIBOBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP $(LDFLAGS) -o $@ $(filter %.c %.o,$^) $(LIBS) -lsqlite3

# The apply step alone (bench/apply/applybench.c), for profiling.
$(BUILD)/bench/applybench: bench/apply/applybench.c $(LIBOBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP $(LDFLAGS) -o $@ $(filter %.c %.o,$^) $(LIBS)

bench-kb: deps
	@$(MAKE) --no-print-directory all $(BUILD)/bench/kbbench
	@./bench/kb/run.sh

fmt:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-san bin bin-san

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
