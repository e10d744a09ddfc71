# fanhub — one entry point. `make help` lists the targets.

VERSION   := 0.1.0
SOMAJOR   := 0
PREFIX    ?= /usr/local
BINDIR    ?= $(PREFIX)/bin
LIBDIR    ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
DESTDIR   ?=

CC        ?= cc
# SAN=address,undefined or SAN=thread builds everything (library and
# tests) with those sanitizers, in its own build directory.
SAN       ?=
# WERROR=1 (CI) turns warnings into errors.
WERROR    ?=

BUILD     ?= build$(if $(SAN),/san-$(subst $(comma),-,$(SAN)))
comma     := ,

LIBS_PRIVATE := -lwslay -lmbedtls -lmbedx509 -lmbedcrypto -lpthread
WARN      := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
             -Wno-missing-field-initializers $(if $(WERROR),-Werror)
OPT       ?= -O2 -g
SANFLAGS  := $(if $(SAN),-fsanitize=$(SAN) -fno-omit-frame-pointer -fno-sanitize-recover=all)
CFLAGS_ALL := -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) $(SANFLAGS) -fPIC \
              -fvisibility=hidden -Iinclude -Ilib/core -Ilib/proto -MMD -MP \
              $(CPPFLAGS) $(CFLAGS)
LDFLAGS_ALL := $(SANFLAGS) $(LDFLAGS)

# lib/core/ (docs/design.md): built seeing only its own headers, so a
# core file that includes a protocol header does not compile. lib/proto/:
# the protocols, on top of it.
CORE_SRC  := $(wildcard lib/core/*.c)
CORE_OBJ  := $(CORE_SRC:%.c=$(BUILD)/%.o)
PROTO_SRC := $(wildcard lib/proto/*.c)
LIB_SRC   := $(CORE_SRC) $(PROTO_SRC)
LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/%.o)
STATIC    := $(BUILD)/libfanhub.a
SHARED    := $(BUILD)/libfanhub.so.$(VERSION)
SONAME    := libfanhub.so.$(SOMAJOR)

# libfanhub-nats (nats/, include/fanhub_nats.h): built when libnats is
# installed (scripts/deps.sh installs it); fanhubd then gets --nats.
NATS_LIBS := $(shell pkg-config --libs libnats 2>/dev/null)
NATS_SRC  := $(wildcard nats/*.c)
NATS_OBJ  := $(NATS_SRC:%.c=$(BUILD)/%.o)
NATS_STATIC := $(BUILD)/libfanhub-nats.a
NATS_SHARED := $(BUILD)/libfanhub-nats.so.$(VERSION)
NATS_SONAME := libfanhub-nats.so.$(SOMAJOR)
NATS_ALL  := $(if $(NATS_LIBS),$(NATS_STATIC) $(NATS_SHARED) \
             $(BUILD)/libfanhub-nats.so $(BUILD)/$(NATS_SONAME) \
             $(BUILD)/fanhub-nats.pc)

# Unit tests: two binaries sharing test/unit/*.c (the runner, helpers).
# test_core runs test/unit/core/ against the core's objects alone (no
# wslay, no mbedTLS on its link line); test_unit runs test/unit/proto/,
# the protocols and sockets, against all of lib/.
TEST_SHARED_SRC := $(wildcard test/unit/*.c)
TEST_CORE_SRC   := $(wildcard test/unit/core/*.c)
UNIT_SRC  := $(wildcard test/unit/proto/*.c)
TEST_SHARED_OBJ := $(TEST_SHARED_SRC:%.c=$(BUILD)/%.o)
TEST_CORE_OBJ   := $(TEST_CORE_SRC:%.c=$(BUILD)/%.o)
UNIT_OBJ  := $(UNIT_SRC:%.c=$(BUILD)/%.o)
TEST_CORE_BIN := $(BUILD)/test_core
UNIT_BIN  := $(BUILD)/test_unit

EXAMPLES  := $(BUILD)/hello_broadcast $(BUILD)/fanhubd
# Hosts embedding fanhub next to a database or an event loop (test/hosts/).
HOST_EXAMPLES := $(BUILD)/sqlite_broadcast $(BUILD)/pg_notify $(BUILD)/libuv_host \
                 $(BUILD)/evhttp_host $(BUILD)/mhd_host

.PHONY: all check unit install uninstall clean demo abi-check abi-baseline \
        deps valgrind help fuzz fuzz-run docs
all: libs $(EXAMPLES) $(HOST_EXAMPLES)

# What `make install` installs: the libraries and their .pc files, which
# need nothing but the libraries' own dependencies (no example's).
.PHONY: libs install-fanhubd deb
libs: $(STATIC) $(SHARED) $(BUILD)/libfanhub.so $(BUILD)/$(SONAME) \
      $(BUILD)/fanhub.pc $(NATS_ALL)

help:
	@echo "make            build build/libfanhub.a, build/libfanhub.so.$(VERSION)"
	@echo "make check      build and run every test (SAN=address,undefined | SAN=thread)"
	@echo "make valgrind   churn and teardown tests under valgrind, zero leaks required"
	@echo "make demo       install dependencies, build, run fanhubd on $(DEMO_LISTEN)"
	@echo "make install    PREFIX=$(PREFIX) DESTDIR=... (LIBDIR=..., INCLUDEDIR=...)"
	@echo "make install-fanhubd  the daemon into BINDIR (default PREFIX/bin)"
	@echo "make deb        Debian packages into $(DEB_DIR)/ (debian/)"
	@echo "make bench      fanhubd vs nginx+nchan vs a raw ceiling (bench/results/latest.md)"
	@echo "make bench-tls  the same over TLS: wss:// and HTTPS SSE (bench/results/tls.md)"
	@echo "make bench-scale  six fanhubd on one NATS JetStream stream vs one (bench/results/scale.md)"
	@echo "make bench-storm  16k clients connecting at once, fresh and across a restart (bench/results/storm.md)"
	@echo "make abi-check  compare exported ABI with abi/libfanhub.abi"
	@echo "make docs       API reference from include/*.h into build/docs/html/"

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(CORE_OBJ): CFLAGS_ALL := $(subst -Ilib/proto,,$(CFLAGS_ALL))

# The archive holds one object, linked from all of lib/ with every hidden
# symbol made local, so a static host sees only hub_* names too (no clash
# with a host's own http_parse_request or htable_insert).
$(BUILD)/fanhub.o: $(LIB_OBJ)
	$(LD) -r -o $@.tmp $^
	objcopy --localize-hidden $@.tmp $@
	@rm -f $@.tmp

$(STATIC): $(BUILD)/fanhub.o
	@rm -f $@
	$(AR) rcs $@ $<

$(SHARED): $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,$(SONAME) -Wl,--no-undefined -o $@ $^ \
	  $(LDFLAGS_ALL) $(LIBS_PRIVATE)

$(BUILD)/$(SONAME): $(SHARED)
	ln -sf libfanhub.so.$(VERSION) $@
$(BUILD)/libfanhub.so: $(BUILD)/$(SONAME)
	ln -sf $(SONAME) $@

# The .pc files hold the install directories: regenerated when any of
# them differs from the last build's (`make && make install PREFIX=...`).
PC_DIRS := $(PREFIX) $(LIBDIR) $(INCLUDEDIR)
$(BUILD)/installdirs.stamp: FORCE
	@mkdir -p $(BUILD)
	@echo '$(PC_DIRS)' | cmp -s - $@ || echo '$(PC_DIRS)' > $@
PC_SED := sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
              -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|'

$(BUILD)/fanhub.pc: pkgconfig/fanhub.pc.in Makefile $(BUILD)/installdirs.stamp
	$(PC_SED) -e 's|@LIBS_PRIVATE@|$(LIBS_PRIVATE)|' $< > $@

# libfanhub-nats: the same one-object archive, and a shared library
# that needs libfanhub.so and libnats.
$(BUILD)/fanhub-nats.o: $(NATS_OBJ)
	$(LD) -r -o $@.tmp $^
	objcopy --localize-hidden $@.tmp $@
	@rm -f $@.tmp

$(NATS_STATIC): $(BUILD)/fanhub-nats.o
	@rm -f $@
	$(AR) rcs $@ $<

$(NATS_SHARED): $(NATS_OBJ) $(BUILD)/libfanhub.so
	$(CC) -shared -Wl,-soname,$(NATS_SONAME) -Wl,--no-undefined -o $@ \
	  $(NATS_OBJ) $(LDFLAGS_ALL) -L$(BUILD) -lfanhub $(NATS_LIBS) -lpthread

$(BUILD)/$(NATS_SONAME): $(NATS_SHARED)
	ln -sf libfanhub-nats.so.$(VERSION) $@
$(BUILD)/libfanhub-nats.so: $(BUILD)/$(NATS_SONAME)
	ln -sf $(NATS_SONAME) $@

$(BUILD)/fanhub-nats.pc: pkgconfig/fanhub-nats.pc.in Makefile \
                         $(BUILD)/installdirs.stamp
	$(PC_SED) $< > $@

$(BUILD)/hello_broadcast: $(BUILD)/examples/hello_broadcast.o $(STATIC)
	$(CC) -o $@ $^ $(LDFLAGS_ALL) $(LIBS_PRIVATE)

# fanhubd uses only the public API; its page is embedded as a C string.
$(BUILD)/examples/fanhubd/page.c: examples/fanhubd/page.html
	@mkdir -p $(dir $@)
	{ echo 'const char fanhubd_page[] ='; \
	  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/  "/' -e 's/$$/\\n"/' $<; \
	  echo ';'; } > $@

$(BUILD)/examples/fanhubd/page.o: $(BUILD)/examples/fanhubd/page.c
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(BUILD)/examples/fanhubd/fanhubd.o: \
  CFLAGS_ALL += $(if $(NATS_LIBS),-DFANHUBD_NATS)
# Rebuilt when libnats appears or goes: the stamp changes only then.
$(BUILD)/examples/fanhubd/fanhubd.o: $(BUILD)/nats.stamp
$(BUILD)/nats.stamp: FORCE
	@mkdir -p $(BUILD)
	@echo '$(NATS_LIBS)' | cmp -s - $@ || echo '$(NATS_LIBS)' > $@
.PHONY: FORCE
$(BUILD)/fanhubd: $(BUILD)/examples/fanhubd/fanhubd.o \
                  $(BUILD)/examples/fanhubd/page.o \
                  $(BUILD)/examples/auth_jwt.o \
                  $(if $(NATS_LIBS),$(NATS_STATIC)) $(STATIC)
	$(CC) -o $@ $^ $(LDFLAGS_ALL) $(NATS_LIBS) $(LIBS_PRIVATE)

# The host examples link the static library and their own dependency.
PQ_CFLAGS := $(shell pkg-config --cflags libpq 2>/dev/null || echo -I/usr/include/postgresql)
PQ_LIBS   := $(shell pkg-config --libs libpq 2>/dev/null || echo -lpq)
$(BUILD)/examples/pg_notify.o: CFLAGS_ALL += $(PQ_CFLAGS)
EVENT_CFLAGS := $(shell pkg-config --cflags libevent 2>/dev/null)
EVENT_LIBS   := $(shell pkg-config --libs libevent 2>/dev/null || echo -levent)
$(BUILD)/examples/evhttp_host.o: CFLAGS_ALL += $(EVENT_CFLAGS)
MHD_CFLAGS := $(shell pkg-config --cflags libmicrohttpd 2>/dev/null)
MHD_LIBS  := $(shell pkg-config --libs libmicrohttpd 2>/dev/null || echo -lmicrohttpd)
$(BUILD)/examples/mhd_host.o: CFLAGS_ALL += $(MHD_CFLAGS)

# examples/sqlite_batch.c: the SQLite hooks of the three SQLite hosts;
# examples/listen_tcp.c: the listener of the two that accept clients.
SQLITE_BATCH := $(BUILD)/examples/sqlite_batch.o
LISTEN_TCP := $(BUILD)/examples/listen_tcp.o
$(BUILD)/sqlite_broadcast: $(BUILD)/examples/sqlite_broadcast.o $(SQLITE_BATCH) \
                           $(LISTEN_TCP) $(STATIC)
	$(CC) -o $@ $^ $(LDFLAGS_ALL) -lsqlite3 $(LIBS_PRIVATE)
$(BUILD)/pg_notify: $(BUILD)/examples/pg_notify.o $(LISTEN_TCP) $(STATIC)
	$(CC) -o $@ $^ $(LDFLAGS_ALL) $(PQ_LIBS) $(LIBS_PRIVATE)
$(BUILD)/libuv_host: $(BUILD)/examples/libuv_host.o $(STATIC)
	$(CC) -o $@ $^ $(LDFLAGS_ALL) -luv $(LIBS_PRIVATE)
$(BUILD)/evhttp_host: $(BUILD)/examples/evhttp_host.o $(SQLITE_BATCH) $(STATIC)
	$(CC) -o $@ $^ $(LDFLAGS_ALL) $(EVENT_LIBS) -lsqlite3 $(LIBS_PRIVATE)
$(BUILD)/mhd_host: $(BUILD)/examples/mhd_host.o $(SQLITE_BATCH) $(STATIC)
	$(CC) -o $@ $^ $(LDFLAGS_ALL) $(MHD_LIBS) -lsqlite3 $(LIBS_PRIVATE)
-include $(HOST_EXAMPLES:$(BUILD)/%=$(BUILD)/examples/%.d) $(SQLITE_BATCH:.o=.d) \
         $(LISTEN_TCP:.o=.d)

# Unit tests link the library's objects so they can reach internals too.
# The core's tests, like the core, compile without lib/proto/ on the
# include path, and link without the protocols, wslay and mbedTLS (and
# with libfanhub-nats's outbox, which needs no libnats).
$(TEST_SHARED_OBJ) $(UNIT_OBJ): CFLAGS_ALL += -Itest/unit
$(TEST_CORE_OBJ): CFLAGS_ALL := $(subst -Ilib/proto,,$(CFLAGS_ALL)) -Itest/unit
$(BUILD)/test/unit/core/test_outbox.o: CFLAGS_ALL += -Inats
$(TEST_CORE_BIN): $(TEST_CORE_OBJ) $(TEST_SHARED_OBJ) $(CORE_OBJ) \
                  $(BUILD)/nats/outbox.o
	$(CC) -o $@ $^ $(LDFLAGS_ALL) -lpthread
$(UNIT_BIN): $(UNIT_OBJ) $(TEST_SHARED_OBJ) $(LIB_OBJ) \
             $(BUILD)/examples/auth_jwt.o
	$(CC) -o $@ $^ $(LDFLAGS_ALL) $(LIBS_PRIVATE)

unit: $(TEST_CORE_BIN) $(UNIT_BIN)
	$(TEST_CORE_BIN)
	$(UNIT_BIN)

# Unit tests always; with a plain build also that the test runners fail
# rather than run nothing, the exported symbols, that every declaration
# of the public headers is documented (make docs, and that it fails when
# one is not), the installed tree, the integration suite against a real
# fanhubd (Python, node, curl, Chromium) and a short smoke run of the load
# generator.
# check, bench and demo install missing packages first, then run make
# again: what the build finds (libnats for libfanhub-nats) is decided when
# the Makefile is read.
check: deps
	@$(MAKE) --no-print-directory check-run
check-run: all $(TEST_CORE_BIN) $(UNIT_BIN)
	$(TEST_CORE_BIN)
	$(UNIT_BIN)
	$(if $(SAN),,bash test/runners/run.sh $(BUILD))
	$(if $(SAN),,sh test/layers/run.sh $(BUILD))
	$(if $(SAN),,sh test/docs/refs.sh)
	$(if $(SAN),,sh test/abi_exports.sh $(BUILD)/libfanhub.so)
	$(if $(SAN)$(if $(NATS_LIBS),,x),,sh test/abi_exports.sh $(BUILD)/libfanhub-nats.so hub_nats_)
	$(if $(SAN),,$(MAKE) --no-print-directory docs)
	$(if $(SAN),,sh test/docs/doxygen.sh)
	$(if $(SAN),,sh test/install/run.sh $(BUILD))
	$(if $(SAN),,bash test/integration/run.sh $(BUILD))
	$(if $(SAN),,bash test/hosts/run.sh $(BUILD))
	bash test/nats/run.sh $(BUILD)
	$(if $(SAN),,bash bench/run.sh $(BUILD) --smoke)

VALGRIND := valgrind --error-exitcode=1 --leak-check=full --show-leak-kinds=all \
            --errors-for-leak-kinds=all
valgrind: $(TEST_CORE_BIN) $(UNIT_BIN)
	$(VALGRIND) $(TEST_CORE_BIN) churn
	$(VALGRIND) $(UNIT_BIN) churn_sockets test_frame_to_closing_client \
	  test_request_valid_after_respond test_keep_alive_pipelined

install: libs
	install -d $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(LIBDIR)/pkgconfig
	install -m 644 include/fanhub.h $(DESTDIR)$(INCLUDEDIR)/
	install -m 644 $(STATIC) $(DESTDIR)$(LIBDIR)/
	install -m 755 $(SHARED) $(DESTDIR)$(LIBDIR)/
	ln -sf libfanhub.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libfanhub.so
	install -m 644 $(BUILD)/fanhub.pc $(DESTDIR)$(LIBDIR)/pkgconfig/
	$(if $(NATS_LIBS),install -m 644 include/fanhub_nats.h $(DESTDIR)$(INCLUDEDIR)/)
	$(if $(NATS_LIBS),install -m 644 $(NATS_STATIC) $(DESTDIR)$(LIBDIR)/)
	$(if $(NATS_LIBS),install -m 755 $(NATS_SHARED) $(DESTDIR)$(LIBDIR)/)
	$(if $(NATS_LIBS),ln -sf libfanhub-nats.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(NATS_SONAME))
	$(if $(NATS_LIBS),ln -sf $(NATS_SONAME) $(DESTDIR)$(LIBDIR)/libfanhub-nats.so)
	$(if $(NATS_LIBS),install -m 644 $(BUILD)/fanhub-nats.pc $(DESTDIR)$(LIBDIR)/pkgconfig/)

install-fanhubd: $(BUILD)/fanhubd
	install -d $(DESTDIR)$(BINDIR)
	install -m 755 $(BUILD)/fanhubd $(DESTDIR)$(BINDIR)/

uninstall:
	rm -f $(DESTDIR)$(INCLUDEDIR)/fanhub.h $(DESTDIR)$(LIBDIR)/libfanhub.* \
	  $(DESTDIR)$(LIBDIR)/pkgconfig/fanhub.pc $(DESTDIR)$(BINDIR)/fanhubd \
	  $(DESTDIR)$(INCLUDEDIR)/fanhub_nats.h $(DESTDIR)$(LIBDIR)/libfanhub-nats.* \
	  $(DESTDIR)$(LIBDIR)/pkgconfig/fanhub-nats.pc

# The ABI baseline is abidw's view of the shared library's public types
# and symbols; abidiff fails on any incompatible change to it.
# abidiff's exit status is a bit set: 4 = the ABI changed (an addition, a
# compatible change: reported, allowed), 8 = incompatible, 1/2 = error.
# Both libraries (libfanhub-nats when it is built).
ABI_LIBS := libfanhub $(if $(NATS_LIBS),libfanhub-nats)
abi-check: $(SHARED) $(if $(NATS_LIBS),$(NATS_SHARED))
	@for lib in $(ABI_LIBS); do \
	  abidw --no-corpus-path --headers-dir include \
	    $(BUILD)/$$lib.so.$(VERSION) > $(BUILD)/$$lib.current.abi || exit 1; \
	  rc=0; abidiff --headers-dir1 include --headers-dir2 include \
	    abi/$$lib.abi $(BUILD)/$$lib.current.abi || rc=$$?; \
	  if [ $$((rc & 11)) -ne 0 ]; then \
	    echo "abi-check: $$lib: incompatible ABI change (abidiff exit $$rc)"; \
	    exit 1; \
	  elif [ $$rc -ne 0 ]; then echo "abi-check: $$lib: compatible additions"; \
	  else echo "abi-check: $$lib: ABI unchanged"; fi; \
	done

abi-baseline: $(SHARED) $(if $(NATS_LIBS),$(NATS_SHARED))
	for lib in $(ABI_LIBS); do \
	  abidw --no-corpus-path --headers-dir include \
	    $(BUILD)/$$lib.so.$(VERSION) > abi/$$lib.abi || exit 1; \
	done

# libFuzzer targets, one per parser or encoder (test/fuzz/fuzz_NAME.c with
# seeds in test/fuzz/corpus/NAME). Each links the library sources built
# with clang's coverage and sanitizers.
FUZZ_CC      ?= clang
FUZZ_DIR     := build/fuzz
FUZZ_FLAGS   := -std=c11 -D_GNU_SOURCE -g -O1 -Iinclude -Ilib/core -Ilib/proto \
                -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_TARGETS := $(patsubst test/fuzz/%.c,$(FUZZ_DIR)/%,$(wildcard test/fuzz/*.c))
FUZZ_SECONDS ?= 60

$(FUZZ_DIR)/%: test/fuzz/%.c $(LIB_SRC) $(wildcard lib/*/*.h include/*.h)
	@mkdir -p $(FUZZ_DIR)
	$(FUZZ_CC) $(FUZZ_FLAGS) $< $(FUZZ_EXTRA) $(LIB_SRC) -o $@ $(LIBS_PRIVATE)

# fuzz_jwt also links the example JWT verifier.
$(FUZZ_DIR)/fuzz_jwt: FUZZ_EXTRA := examples/auth_jwt.c
$(FUZZ_DIR)/fuzz_jwt: examples/auth_jwt.c examples/auth_jwt.h

# fuzz_nats_wire tests libfanhub-nats's wire format (no libnats needed).
$(FUZZ_DIR)/fuzz_nats_wire: FUZZ_EXTRA := -Inats nats/wire.c
$(FUZZ_DIR)/fuzz_nats_wire: nats/wire.c nats/wire.h

fuzz: $(FUZZ_TARGETS)

# Runs every target for FUZZ_SECONDS on a copy of its seeds; fails on the
# first crash, leak or sanitizer report and shows the end of its log. No
# target, or a target without seeds (a corpus left behind by a rename),
# fails too: either would pass having fuzzed little or nothing.
fuzz-run: fuzz
	@[ -n "$(strip $(FUZZ_TARGETS))" ] || { echo "fuzz: no targets"; exit 1; }
	@for t in $(FUZZ_TARGETS); do \
	  name=$$(basename $$t); seeds=test/fuzz/corpus/$${name#fuzz_}; \
	  work=$(FUZZ_DIR)/corpus-$${name#fuzz_}; mkdir -p $$work; \
	  cp $$seeds/* $$work/ || { echo "fuzz: $$name: no seeds in $$seeds"; exit 1; }; \
	  echo "fuzz: $$name for $(FUZZ_SECONDS)s"; \
	  if ! $$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 \
	       -print_final_stats=1 $$work > $(FUZZ_DIR)/$$name.log 2>&1; then \
	    tail -60 $(FUZZ_DIR)/$$name.log; echo "fuzz: $$name FAILED"; exit 1; \
	  fi; \
	  grep -E "stat::number_of_executed_units|stat::new_units_added" \
	    $(FUZZ_DIR)/$$name.log | tr '\n' ' '; echo; \
	done

# Benchmarks, not part of check: fanhubd, nginx+nchan and a raw ceiling
# side by side (bench/README.md); writes bench/results/. ~8 minutes.
# bench-storm: the connect storm, 16k subscribers at once to fanhubd and
# nginx+nchan, fresh and across a server restart; writes
# bench/results/storm.md. ~3 minutes; as root it raises somaxconn while it
# runs (bench/README.md).
.PHONY: bench bench-run bench-tls bench-tls-run bench-storm bench-storm-run \
        bench-scale bench-scale-run check-run demo-run
bench: deps
	@$(MAKE) --no-print-directory bench-run
bench-run: all
	bench/run.sh $(BUILD)
# TLS fanout (bench/README.md): fanhubd with and without TLS and
# nginx+nchan with TLS, wss:// and HTTPS SSE; writes bench/results/tls.*.
# ~8 minutes.
bench-tls: deps
	@$(MAKE) --no-print-directory bench-tls-run
bench-tls-run: all
	bench/tls.sh $(BUILD)
# Scale-out (bench/README.md): six fanhubd nodes on one nats-server
# JetStream stream, 16k subscribers and a load generator each, against one
# node; writes bench/results/scale.*. A few minutes.
bench-scale: deps
	@$(MAKE) --no-print-directory bench-scale-run
bench-scale-run: all
	bench/scale.sh $(BUILD)

bench-storm: deps
	@$(MAKE) --no-print-directory bench-storm-run
bench-storm-run: all
	bench/run.sh $(BUILD) --storm

deps:
	sh scripts/deps.sh

# The API reference, from the comments of include/fanhub.h and
# fanhub_nats.h (docs/Doxyfile); fails on any doxygen warning, so on any
# public declaration without documentation. Always build/docs/.
docs:
	FANHUB_VERSION=$(VERSION) sh scripts/docs.sh

# Debian packages (debian/): dpkg-buildpackage on a copy of the tree in
# build/deb/src, so its clean step leaves build/ alone and the .debs,
# .buildinfo and .changes land in build/deb/ rather than in the parent
# directory. `sh scripts/deps.sh deb` installs what it needs.
DEB_DIR := build/deb
deb:
	rm -rf $(DEB_DIR)
	mkdir -p $(DEB_DIR)/src
	tar -c --exclude=./build --exclude=./.git --exclude=node_modules . | \
	  tar -x -C $(DEB_DIR)/src
	cd $(DEB_DIR)/src && dpkg-buildpackage -us -uc -b
	rm -rf $(DEB_DIR)/src
	@ls -l $(DEB_DIR)

DEMO_LISTEN ?= 127.0.0.1:8080
demo: deps
	@$(MAKE) --no-print-directory demo-run
demo-run: all
	@echo
	@echo "fanhub demo: open http://$(DEMO_LISTEN)/ in a browser."
	@echo "Publish from a shell:"
	@echo "  curl -X POST --data 'hello' 'http://$(DEMO_LISTEN)/publish?topic=demo'"
	@echo "Watch the SSE stream:  curl -N 'http://$(DEMO_LISTEN)/sse?topic=demo'"
	@echo "Stop with Ctrl-C."
	@echo
	$(BUILD)/fanhubd --listen $(DEMO_LISTEN)

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(NATS_OBJ:.o=.d) $(UNIT_OBJ:.o=.d) \
         $(TEST_SHARED_OBJ:.o=.d) $(TEST_CORE_OBJ:.o=.d) $(BUILD)/examples/auth_jwt.d
