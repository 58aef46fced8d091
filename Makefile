# Chorus: one plain Makefile for the server, its libraries, tests and benches.
#
#   make            build build/chorus (and the libraries)
#   make run        install what is missing, build, serve on 127.0.0.1:8080
#   make cluster    Redis, two nodes and HAProxy on loopback (docs/cluster.md)
#   make test       install what is missing, build, run every test
#   make asan       the whole test suite under ASan + UBSan (build/asan/)
#   make bench      every benchmark, one line a figure
#   make bench-peers-cluster  a Chorus cluster beside a ShareDB cluster (PG + Redis)
#   make vendor     copy the preview's markdown-it from node_modules to web/vendor/
#   make install    PREFIX=/usr/local, DESTDIR honoured
#
# Layout of the build: the ot/ sources make build/libot.a, storage/ makes
# build/libstore.a, server/ makes build/chorus. Test and bench programs are
# found by name: tests/test_ot_*.c link against libot alone (which keeps ot/
# pure), tests/test_store_*.c against libstore and libot, tests/test_srv_*.c
# against everything. The same rule holds for bench/bench_*.c.

VERSION   := 0.1.0
BUILD     ?= build
PREFIX    ?= /usr/local
DESTDIR   ?=
SANITIZE  ?=

CC        ?= cc
# libpq (the PostgreSQL store, storage/pg/) is linked into every binary.
PQ_CFLAGS  := $(shell pkg-config --cflags libpq 2>/dev/null || echo -I/usr/include/postgresql)
PQ_LIBS    := $(shell pkg-config --libs libpq 2>/dev/null || echo -lpq)
OPT       ?= -O2
CFLAGS    ?= $(OPT) -g
WARN      := -Wall -Wextra -Wmissing-prototypes -Wstrict-prototypes -Wshadow \
             -Wpointer-arith -Wformat=2 -Wno-format-nonliteral \
             -Wno-format-truncation -Werror
ALLCFLAGS := -std=c11 -D_GNU_SOURCE -I. -I$(BUILD)/gen $(PQ_CFLAGS) $(WARN) $(CFLAGS) \
             -DCHORUS_VERSION='"$(VERSION)"' -MMD -MP -pthread
ALLLDFLAGS := $(LDFLAGS) -pthread
ifneq ($(SANITIZE),)
ALLCFLAGS  += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer \
              -fno-sanitize-recover=undefined
ALLLDFLAGS += -fsanitize=$(SANITIZE)
endif

LIBS_OT    := -ljansson -lm
LIBS_STORE := -lsqlite3 $(PQ_LIBS) $(LIBS_OT)
LIBS_SRV   := -lwebsockets -lsodium -lcmark -lhiredis $(LIBS_STORE)

OT_SRC    := $(wildcard ot/*.c)
STORE_SRC := $(wildcard storage/*.c storage/pg/*.c)
SRV_SRC   := $(filter-out server/cli/main.c,$(wildcard server/*.c server/*/*.c))
OT_OBJ    := $(OT_SRC:%.c=$(BUILD)/%.o)
STORE_OBJ := $(STORE_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/migrations.o \
             $(BUILD)/gen/pg_migrations.o
SRV_OBJ   := $(SRV_SRC:%.c=$(BUILD)/%.o)

TEST_SRC  := $(wildcard tests/test_*.c)
TEST_BIN  := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BENCH_SRC := $(wildcard bench/bench_*.c)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
MIGRATIONS := $(sort $(wildcard migrations/[0-9]*.sql))
PG_MIGRATIONS := $(sort $(wildcard migrations/pg/[0-9]*.sql))

.SECONDARY:
.PHONY: all run test test-bin asan bench install clean deps deps-test vendor
all: $(BUILD)/chorus

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -c $< -o $@

$(BUILD)/libot.a: $(OT_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libstore.a: $(STORE_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libsrv.a: $(SRV_OBJ)
	@rm -f $@
	ar rcs $@ $^

# The migrations are compiled in, so the binary needs no files beside it.
$(BUILD)/gen/migrations.c: $(MIGRATIONS) tools/embed-migrations.sh
	@mkdir -p $(dir $@)
	sh tools/embed-migrations.sh $(MIGRATIONS) > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/migrations.o: $(BUILD)/gen/migrations.c
	$(CC) $(ALLCFLAGS) -c $< -o $@

$(BUILD)/gen/pg_migrations.c: $(PG_MIGRATIONS) tools/embed-migrations.sh
	@mkdir -p $(dir $@)
	sh tools/embed-migrations.sh --name store__pg_migrations $(PG_MIGRATIONS) > $@.tmp && mv $@.tmp $@

$(BUILD)/gen/pg_migrations.o: $(BUILD)/gen/pg_migrations.c
	$(CC) $(ALLCFLAGS) -c $< -o $@

$(BUILD)/chorus: $(BUILD)/server/cli/main.o $(BUILD)/libsrv.a $(BUILD)/libstore.a $(BUILD)/libot.a
	$(CC) $(ALLLDFLAGS) -o $@ $^ $(LIBS_SRV)

# Tests and benches: the file name says what they may link against.
$(BUILD)/tests/test_ot_%: $(BUILD)/tests/test_ot_%.o $(BUILD)/libot.a
	$(CC) $(ALLLDFLAGS) -o $@ $^ $(LIBS_OT)
$(BUILD)/tests/test_store_%: $(BUILD)/tests/test_store_%.o $(BUILD)/libstore.a $(BUILD)/libot.a
	$(CC) $(ALLLDFLAGS) -o $@ $^ $(LIBS_STORE)
$(BUILD)/tests/test_srv_%: $(BUILD)/tests/test_srv_%.o $(BUILD)/libsrv.a $(BUILD)/libstore.a $(BUILD)/libot.a
	$(CC) $(ALLLDFLAGS) -o $@ $^ $(LIBS_SRV)
$(BUILD)/bench/bench_ot_%: $(BUILD)/bench/bench_ot_%.o $(BUILD)/libot.a
	$(CC) $(ALLLDFLAGS) -o $@ $^ $(LIBS_OT)
$(BUILD)/bench/bench_store_%: $(BUILD)/bench/bench_store_%.o $(BUILD)/libstore.a $(BUILD)/libot.a
	$(CC) $(ALLLDFLAGS) -o $@ $^ $(LIBS_STORE)
$(BUILD)/bench/bench_srv_%: $(BUILD)/bench/bench_srv_%.o $(BUILD)/libsrv.a $(BUILD)/libstore.a $(BUILD)/libot.a
	$(CC) $(ALLLDFLAGS) -o $@ $^ $(LIBS_SRV)
$(BUILD)/bench/loadgen/loadgen: $(patsubst %.c,$(BUILD)/%.o,$(wildcard bench/loadgen/*.c)) $(BUILD)/libot.a
	$(CC) $(ALLLDFLAGS) -o $@ $^ -lwebsockets $(LIBS_OT)

LOADGEN := $(if $(wildcard bench/loadgen/*.c),$(BUILD)/bench/loadgen/loadgen)

# The Markdown preview's library (web/preview.js): markdown-it's browser ES
# module, pinned in package.json and package-lock.json, copied with its
# licence and those of the packages it bundles. The copy is committed, so
# `make run` needs neither npm nor the network; after a version bump run
# `make vendor` and commit. tests/js/vendor.test.mjs fails if the committed
# copy differs from node_modules.
MD_IT := node_modules/markdown-it
vendor: deps-test
	@mkdir -p web/vendor
	sed '/^\/\/# sourceMappingURL=/d' $(MD_IT)/dist/browser/markdown-it.esm.min.mjs > web/vendor/markdown-it.mjs
	sh tools/vendor-licences.sh markdown-it entities linkify-it mdurl punycode.js uc.micro > web/vendor/markdown-it.LICENSE.txt

# Chorus beside ShareDB on the same workloads (also part of make bench).
.PHONY: bench-peers
bench-peers: deps-test $(BUILD)/chorus $(LOADGEN)
	@BUILD=$(BUILD) sh bench/peers.bench.sh

test-bin: $(BUILD)/chorus $(TEST_BIN) $(LOADGEN)

deps:
	@sh tools/deps.sh run
deps-test:
	@sh tools/deps.sh test

# Cluster mode beside a single node, same load generator (docs/benchmarks.md).
.PHONY: bench-cluster
bench-cluster: $(BUILD)/chorus $(LOADGEN)
	@sh tools/deps.sh cluster
	@BUILD=$(BUILD) sh bench/cluster.bench.sh

# A Chorus cluster beside a ShareDB cluster on the same PostgreSQL and Redis
# (sharedb-postgres, sharedb-redis-pubsub), each behind HAProxy.
.PHONY: bench-peers-cluster
bench-peers-cluster: deps-test $(BUILD)/chorus $(LOADGEN)
	@sh tools/deps.sh cluster
	@BUILD=$(BUILD) sh bench/peers-cluster.bench.sh

# Cluster mode on one machine (docs/cluster.md): Redis, two nodes, HAProxy.
.PHONY: cluster
cluster: $(BUILD)/chorus
	@sh tools/deps.sh cluster
	@BUILD=$(BUILD) sh tools/cluster.sh

run: deps $(BUILD)/chorus
	mkdir -p data
	$(BUILD)/chorus serve --bind 127.0.0.1 --port 8080 --data ./data

test: deps-test test-bin
	@BUILD=$(BUILD) sh tests/run

asan:
	@$(MAKE) --no-print-directory BUILD=build/asan SANITIZE=address,undefined OPT=-O1 test

bench: deps-test $(BUILD)/chorus $(BENCH_BIN) $(LOADGEN)
	@BUILD=$(BUILD) sh bench/run

install: $(BUILD)/chorus
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/chorus/migrations
	install -m 755 $(BUILD)/chorus $(DESTDIR)$(PREFIX)/bin/chorus
	cp -R web $(DESTDIR)$(PREFIX)/share/chorus/
	install -m 644 $(MIGRATIONS) $(DESTDIR)$(PREFIX)/share/chorus/migrations/
	install -d $(DESTDIR)$(PREFIX)/share/chorus/migrations/pg
	install -m 644 $(PG_MIGRATIONS) $(DESTDIR)$(PREFIX)/share/chorus/migrations/pg/

clean:
	rm -rf $(BUILD)

# ---- fuzzing: `make fuzz` builds every fuzz/fuzz_*.c with clang's libFuzzer
# and ASan + UBSan into build/fuzz/, then runs each for FUZZ_SECONDS on a copy
# of its committed corpus (fuzz/run; any crash, leak, sanitizer report or
# timeout fails). The sources are compiled again here, instrumented. The
# --wrap flags cover what the document sessions' seam does not reach: three
# lws calls on a connection and the pool's submit (fuzz/fuzz_env.h).
FUZZ_SECONDS ?= 30
FUZZ_CC    ?= clang
FUZZ_DIR   := build/fuzz
FUZZ_SAN   := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
              -fno-omit-frame-pointer
FUZZ_FLAGS := -std=c11 -D_GNU_SOURCE -I. -I$(BUILD)/gen $(PQ_CFLAGS) -g -O1 -pthread \
              -DCHORUS_VERSION='"$(VERSION)"' -Wall -Wextra $(FUZZ_SAN)
FUZZ_OBJ   := $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(OT_SRC) $(STORE_SRC) $(SRV_SRC)) \
              $(FUZZ_DIR)/obj/gen/migrations.o $(FUZZ_DIR)/obj/gen/pg_migrations.o
FUZZ_BIN   := $(patsubst fuzz/%.c,$(FUZZ_DIR)/%,$(wildcard fuzz/fuzz_*.c))
FUZZ_WRAP  := -Wl,--wrap=lws_callback_on_writable,--wrap=lws_set_timer_usecs \
              -Wl,--wrap=lws_set_timeout,--wrap=store_pool_submit

$(FUZZ_DIR)/obj/gen/migrations.o: $(BUILD)/gen/migrations.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -c $< -o $@
$(FUZZ_DIR)/obj/gen/pg_migrations.o: $(BUILD)/gen/pg_migrations.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -c $< -o $@
$(FUZZ_DIR)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@
$(FUZZ_DIR)/libchorus.a: $(FUZZ_OBJ)
	@rm -f $@
	ar rcs $@ $^
$(FUZZ_DIR)/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz_env.h $(FUZZ_DIR)/libchorus.a
	$(FUZZ_CC) $(FUZZ_FLAGS) -Werror -Wmissing-prototypes -fsanitize=fuzzer \
	    -o $@ $< $(FUZZ_DIR)/libchorus.a $(FUZZ_WRAP) $(LIBS_SRV)

.PHONY: fuzz
fuzz: $(FUZZ_BIN)
	@FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_DIR=$(FUZZ_DIR) sh fuzz/run

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
