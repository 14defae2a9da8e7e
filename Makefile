# vr — memory-bounded video pipeline tools.
#   make            build the programs into bin/
#   make check      install missing dependencies, build, run every test
#   make SAN=1 ...  the same with ASan + UBSan
#   make demo       install what is missing, build, run the tools on a sample video
#   make bench      side-by-side benchmarks against the peer tools
#                   (BENCH_SECTIONS="http cache": only those; scripts/bench --list)
#   make check-valgrind  memcheck over one run of each program and mode
#   make fuzz       libFuzzer targets, FUZZ_TIME seconds each (default 60)
#   make load       1000 vr-cache requests, 16 processes, 5% killed, then verify
#   make load-http  the same over HTTP: curl -> nginx + fcgiwrap -> vr-cache cgi
#                   (also: make load MODE=http)
#   make soak       the load repeated for SOAK_TIME seconds, RSS plotted
#   make install    PREFIX=/usr/local DESTDIR=
#   make mutate     one-line mutants of the core invariants: do the tests kill them?

VERSION  := 0.1.0
PREFIX   ?= /usr/local
DESTDIR  ?=
BINDIR   := $(PREFIX)/bin
MANDIR   := $(PREFIX)/share/man
# where bash-completion loads a command's completion from on first use
COMPDIR  := $(PREFIX)/share/bash-completion/completions

CC       ?= cc
CFLAGS   ?= -O2 -g
WERROR   ?= -Werror
WARN     := -Wall -Wextra $(WERROR) -Wshadow -Wno-missing-field-initializers
# lib/ by link unit and layer (README.md, Layout); every folder is on the
# include path, so a header is named by its file name alone
LIB_DIRS := $(patsubst lib/%/,%,$(sort $(wildcard lib/*/)))
CPPFLAGS += -D_GNU_SOURCE -DVR_VERSION='"$(VERSION)"' $(addprefix -Ilib/,$(LIB_DIRS))
LDFLAGS  ?=

ifeq ($(SAN),1)
  BUILD  := build/san
  SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
  CFLAGS += $(SANFLAGS) -O1
  LDFLAGS += $(SANFLAGS)
else
  BUILD  := build/rel
endif

comma := ,
PKG_CONFIG ?= pkg-config
pkgcflags = $(shell $(PKG_CONFIG) --cflags $(1) 2>/dev/null)
pkglibs   = $(shell $(PKG_CONFIG) --libs $(1) 2>/dev/null)

# What each program links beyond libvr: vr-range links nothing else, so that
# it starts small (libavformat alone costs ~30 MiB of RSS). libcrypto
# (OpenSSL) is for SHA-256 and the HMACs of S3 request signatures; libpcre2-8
# for the origins' match regexes (lib/request/pattern).
PKGS_vr-range :=
# vr-fetch links libvr and PCRE2 only: its http(s) transport is libcurl,
# opened on the first http source (lib/fetch/libcurl.c), so that a local
# file or a file origin is fetched without loading it; it signs S3 requests
# with libcrypto opened on first use (lib/base/libcrypto.c).
PKGS_vr-fetch := libpcre2-8
PKGS_vr-chunk := sqlite3 libcrypto
# vr-resize links libvr's core and PCRE2 only: the transform is the plugin
# vr-av.so, opened when a transform starts (lib/fetch/avplugin.c), so that
# --help, --version, --print-key and a refused request answer in
# milliseconds instead of paying ~0.14 s of CPU for loading FFmpeg.
PKGS_vr-resize := libpcre2-8
# vr-cache links SQLite, libcrypto and PCRE2 only: its FFmpeg side (transform
# and the modules under it) is the plugin vr-av.so, opened on the first
# transformed miss (lib/fetch/avplugin.c), and libcurl is opened on the first
# http request, so that a hit pays for loading neither. The plugin is
# exactly lib/av/.
PKGS_vr-cache := sqlite3 libcrypto libpcre2-8
AV_PKGS  := libavformat libavcodec libavfilter libswscale libavutil libswresample

PROGRAMS := $(patsubst cmd/%.c,%,$(wildcard cmd/*.c))
LIB_HDR  := $(wildcard lib/*/*.h)
LIB_SRC  := $(filter-out lib/fetch/avplugin.c,$(wildcard lib/*/*.c))
LIB_OBJ  := $(patsubst lib/%.c,$(BUILD)/lib/%.o,$(LIB_SRC))
LIBVR    := $(BUILD)/libvr.a
AV_SRC   := $(wildcard lib/av/*.c)
AV_OBJ   := $(patsubst lib/%.c,$(BUILD)/lib/%.o,$(AV_SRC))
AV_PIC   := $(patsubst lib/%.c,$(BUILD)/pic/%.o,$(AV_SRC))
AVPLUGIN := $(BUILD)/lib/fetch/avplugin.o
# the host symbols the plugin takes (lib/av/IMPORTS): a host that does not
# link all of libvr-core (vr-resize) is made to link and export these (-u, -rdynamic)
AV_IMPORTS := $(shell grep -v '^\#' lib/av/IMPORTS)
# headers are included by file name and archives hold members by file name:
# one name, one file, whatever its folder
LIB_NAMES := $(notdir $(LIB_HDR) $(LIB_SRC))
ifneq ($(words $(LIB_NAMES)),$(words $(sort $(LIB_NAMES))))
  $(error two files under lib/ share a name: $(sort $(foreach n,$(LIB_NAMES),$(if $(filter-out 1,$(words $(filter $(n),$(LIB_NAMES)))),$(n)))))
endif
LIBCORE  := $(BUILD)/libvr-core.a
PLUGIN   := vr-av.so
LIBDIR   := $(PREFIX)/lib/vr
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNITS    := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
ALL_PKGS := libavformat libavcodec libavfilter libswscale libavutil libswresample sqlite3 libcrypto libpcre2-8
MAN_PAGES := $(wildcard man/*.[1-9])

.PHONY: FORCE all check check-build unit bats lint-man deps bench demo install uninstall clean \
	check-valgrind fuzz load load-http soak mutate

FUZZ_TIME ?= 60
SOAK_TIME ?= 600

all: $(addprefix bin/,$(PROGRAMS)) bin/$(PLUGIN) completion

completion: $(addprefix $(BUILD)/completion/,$(PROGRAMS))

# bash completion, generated from each program's own option tables
$(BUILD)/completion/%: $(BUILD)/bin/% scripts/completion
	@mkdir -p $(@D)
	scripts/completion $< > $@.tmp && mv -f $@.tmp $@

# bin/ always reflects the last build asked for (plain or SAN=1), even when
# the other build's copy there is newer; a copy is renamed into place so a
# running program is never overwritten ("text file busy").
bin/%: $(BUILD)/bin/% FORCE
	@mkdir -p bin
	@cmp -s $< $@ || { cp $< $@.tmp.$$$$ && mv -f $@.tmp.$$$$ $@; }

FORCE:

$(BUILD)/lib/%.o: lib/%.c $(LIB_HDR)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(call pkgcflags,$(ALL_PKGS)) $(CFLAGS) $(WARN) -c -o $@ $<

$(LIBVR): $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

# libvr without the FFmpeg side, all of it linked into vr-cache and
# exported (-rdynamic) for the plugin to use
$(LIBCORE): $(filter-out $(AV_OBJ),$(LIB_OBJ))
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/pic/%.o: lib/%.c $(LIB_HDR)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(call pkgcflags,$(ALL_PKGS)) $(CFLAGS) -fPIC $(WARN) -c -o $@ $<

$(BUILD)/bin/$(PLUGIN): $(AV_PIC)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -shared -o $@ $^ $(call pkglibs,$(AV_PKGS)) -lm -lpthread

$(AVPLUGIN): lib/fetch/avplugin.c $(LIB_HDR)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -DVR_LIBDIR='"$(LIBDIR)"' $(call pkgcflags,$(ALL_PKGS)) $(CFLAGS) $(WARN) -c -o $@ $<

$(BUILD)/bin/vr-cache: $(BUILD)/cmd/vr-cache.o $(AVPLUGIN) $(LIBCORE) $(BUILD)/bin/$(PLUGIN)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -rdynamic -o $@ $< $(AVPLUGIN) -Wl,--whole-archive $(LIBCORE) \
		-Wl,--no-whole-archive $(call pkglibs,$(PKGS_vr-cache)) -lm -lpthread -ldl

# vr-resize: the core modules it uses, those the plugin imports, and the loader
$(BUILD)/bin/vr-resize: $(BUILD)/cmd/vr-resize.o $(AVPLUGIN) $(LIBCORE) $(BUILD)/bin/$(PLUGIN) lib/av/IMPORTS
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -rdynamic -o $@ $< $(AVPLUGIN) $(addprefix -Wl$(comma)-u$(comma),$(AV_IMPORTS)) \
		$(LIBCORE) $(call pkglibs,$(PKGS_vr-resize)) -lm -lpthread -ldl

$(BUILD)/cmd/%.o: cmd/%.c $(LIB_HDR)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(call pkgcflags,$(ALL_PKGS)) $(CFLAGS) $(WARN) -c -o $@ $<

$(BUILD)/bin/%: $(BUILD)/cmd/%.o $(LIBVR)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBVR) $(call pkglibs,$(PKGS_$*)) -lm -lpthread -ldl

$(BUILD)/tests/%: tests/unit/%.c tests/unit/check.h $(LIBVR)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(call pkgcflags,$(ALL_PKGS)) $(CFLAGS) $(WARN) -o $@ $< $(LIBVR) $(call pkglibs,$(ALL_PKGS)) -lm -lpthread -ldl

# check installs what is missing first, then re-enters make so that
# pkg-config sees the freshly installed libraries. The programs and the unit
# binaries build one job a core (unless make was given -j itself): on a
# fresh 2-core machine that is 20 s of the check's 40 s build; the tests
# then run in order, bats with its own jobs.
CHECK_JOBS ?= $(shell nproc 2>/dev/null || echo 2)
check: deps
	@$(MAKE) --no-print-directory $(if $(findstring -j,$(MAKEFLAGS)),,-j$(CHECK_JOBS)) all $(UNITS)
	@$(MAKE) --no-print-directory check-build

deps:
	@scripts/setup --check >/dev/null 2>&1 || scripts/setup

check-build: all unit lint-man bats

# every unit binary runs, whatever failed before it; then the failures
unit: $(UNITS)
	@failed=; for t in $(UNITS); do $$t || failed="$$failed $${t##*/}"; done; \
	if [ -n "$$failed" ]; then echo "unit: FAILED:$$failed"; exit 1; fi; \
	echo "unit: $(words $(UNITS)) binaries passed"

lint-man:
	@scripts/lint-man

# The bats files run BATS_JOBS at a time (GNU parallel), the slowest first
# so that the quick ones fill in around them; the tests of one file run in
# order, as they share its fixtures, except in a file that sets
# BATS_NO_PARALLELIZE_WITHIN_FILE=False (tests/faults.bats: independent
# tests that mostly wait), whose tests also run BATS_JOBS at a time.
BATS_JOBS ?= 3
BATS_SLOW := tests/bad-video.bats tests/faults.bats tests/http.bats tests/vr-resize.bats tests/vr-cache.bats \
	tests/vr-cache-warm.bats tests/vr-chunk.bats tests/player.bats
BATS_FILES := $(BATS_SLOW) $(filter-out $(BATS_SLOW),$(wildcard tests/*.bats))

# The tests' temporary files (stores, transforms, the servers' files) go to
# a tmpfs when /dev/shm is one that is writable, allows programs and has
# 3 GiB free: a store publishes with fsync, and on a busy disk each one
# waits (a 1 MiB vr-chunk put in 8 KiB chunks, 3 runs at load 18: 0.24 to
# 0.43 s on /dev/shm, 0.50 to 0.56 s on the disk; the whole suite's
# temporaries peaked at 1.3 GiB there, near the end). Else $TMPDIR, as before;
# TEST_TMPDIR=DIR chooses, TEST_TMPDIR= keeps $TMPDIR.
TEST_TMPDIR ?= $(shell awk '$$2 == "/dev/shm" && $$3 == "tmpfs" && $$4 !~ /(^|,)noexec(,|$$)/ { ok = 1 } \
	END { exit !ok }' /proc/mounts 2>/dev/null && [ -w /dev/shm ] && \
	[ "$$(df -Pk /dev/shm | awk 'NR == 2 { print $$4 }')" -ge 3145728 ] && echo /dev/shm)

bats: all
	@$(if $(TEST_TMPDIR),TMPDIR=$(TEST_TMPDIR) )bats --jobs $(BATS_JOBS) --no-parallelize-within-files $(BATS_FILES)

demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo

bench: deps
	@$(MAKE) --no-print-directory all
	@scripts/bench $(BENCH_SECTIONS)

# Issue 6: reliability. Each script installs what it needs (valgrind, clang,
# gnuplot) the way scripts/setup does, and uses the release build.
check-valgrind: deps
	@$(MAKE) --no-print-directory all
	@scripts/check-valgrind

fuzz: deps
	@FUZZ_TIME=$(FUZZ_TIME) scripts/fuzz

load: deps
	@$(MAKE) --no-print-directory all
	@scripts/load $(if $(filter http,$(MODE)),--http)

load-http: deps
	@$(MAKE) --no-print-directory all
	@scripts/load --http

soak: deps
	@$(MAKE) --no-print-directory all
	@scripts/load --soak $(SOAK_TIME)

mutate: deps
	@scripts/mutate

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man7
	install -m 755 $(addprefix bin/,$(PROGRAMS)) $(DESTDIR)$(BINDIR)/
	install -d $(DESTDIR)$(LIBDIR)
	install -m 644 bin/$(PLUGIN) $(DESTDIR)$(LIBDIR)/
	for p in $(MAN_PAGES); do s=$${p##*.}; install -m 644 $$p $(DESTDIR)$(MANDIR)/man$$s/; done
	install -d $(DESTDIR)$(COMPDIR)
	install -m 644 $(addprefix $(BUILD)/completion/,$(PROGRAMS)) $(DESTDIR)$(COMPDIR)/

uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(PROGRAMS))
	rm -f $(DESTDIR)$(LIBDIR)/$(PLUGIN) $(DESTDIR)$(LIBDIR)/vr-http.so
	rm -f $(addprefix $(DESTDIR)$(COMPDIR)/,$(PROGRAMS))
	-rmdir $(DESTDIR)$(LIBDIR) 2>/dev/null
	for p in $(MAN_PAGES); do s=$${p##*.}; rm -f $(DESTDIR)$(MANDIR)/man$$s/$${p##*/}; done

clean:
	rm -rf build bin

.SECONDARY:
