# kiln: every entry point of the project.
#
#   make              build ./kiln (release flags)            make CC=clang   the same with clang
#   make deps         install the Debian packages that the build, tests and demo need
#   make unit         fast tier: no root, no daemon, no guest
#   make test         the README's test command: deps, build, unit tier, lint, ASan, fuzz, e2e
#   make check-e2e    real-guest tier alone (skips with 77 if no daemon/image can be had)
#   make check-asan   unit tier under ASan+UBSan      make check-valgrind   under valgrind
#   make lint         clang-format check, clang-tidy, cppcheck, banned functions, layering
#   make fuzz         each libFuzzer harness for FUZZ_SECONDS (60)   make fuzz-smoke   5 s each
#   make image        build (or reuse) the cached Debian 12 guest image
#   make bench        benchmarks, each against its anchor in the same run
#   make format       rewrite sources with clang-format
#   make install      kiln, its data, kiln(1) and the bash completion under PREFIX (/usr/local),
#                     staged under DESTDIR if given     make uninstall   removes them again
#
# The binary carries no install path: PREFIX/bin/kiln reads its data from PREFIX/share/kiln,
# found beside it at run time, and a kiln in this tree reads the tree (KILN_DATA_DIR overrides
# both; orchestrator/lib/core/data.c). So `make install` copies the binary that was built and
# tested, and the man page and completion are printed by that binary from its command table.

VERSION   := 0.1.0
CC        ?= cc
PKGS      := libvirt libvirt-qemu zlib libcurl jansson libssh2 sqlite3 yaml-0.1 libcrypto libxml-2.0 libnbd ext2fs com_err \
             libmicrohttpd
CONFIG    ?= release
# The builds that the test command and the demo make run on every core.
JOBS      ?= $(shell nproc 2>/dev/null || echo 2)
IS_CLANG  := $(shell $(CC) --version 2>/dev/null | grep -q clang && echo 1)
BUILD     := build/$(CONFIG)$(if $(IS_CLANG),-clang)

SRC_LIB   := $(sort $(wildcard orchestrator/lib/*.c orchestrator/lib/*/*.c))
SRC_CLI   := $(sort $(wildcard orchestrator/cli/*.c orchestrator/ec2/*.c))
UNIT_SRC  := $(sort $(wildcard tests/unit/test-*.c))
FUZZ_SRC  := $(sort $(wildcard tests/fuzz/fuzz-*.c))

OBJ_LIB   := $(SRC_LIB:%.c=$(BUILD)/%.o)
OBJ_CLI   := $(SRC_CLI:%.c=$(BUILD)/%.o)
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_BIN  := $(FUZZ_SRC:tests/fuzz/fuzz-%.c=$(BUILD)/fuzz/%)


WARN      := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes \
             -Wmissing-prototypes -Wold-style-definition -Wpointer-arith -Wwrite-strings \
             -Wcast-align -Wundef -Wvla -Wimplicit-fallthrough -Wnull-dereference \
             -Wframe-larger-than=8192
ifneq ($(IS_CLANG),1)
WARN      += -Wjump-misses-init -Wlogical-op -Wduplicated-cond
endif

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

BASE_CFLAGS := -std=gnu11 -D_GNU_SOURCE $(WARN) -fstack-protector-strong -fno-common -fvisibility=hidden \
               -Iorchestrator/include -Iorchestrator/lib -Iorchestrator -DKILN_VERSION='"$(VERSION)"' \
               $(PKG_CFLAGS) -MMD -MP

# The source tree, for the one file that finds kiln's data (orchestrator/lib/core/data.c: a
# kiln run in the tree reads the tree's data) and for the unit tests' fixtures.
SRCDIR_DEF  := -DKILN_SRCDIR='"$(CURDIR)"'

ifeq ($(CONFIG),asan)
MODE_CFLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
MODE_LDFLAGS := -fsanitize=address,undefined
else ifeq ($(CONFIG),fuzz)
# libFuzzer needs clang: the library gets coverage hooks, the harnesses libFuzzer's main.
ifneq ($(IS_CLANG),1)
$(error CONFIG=fuzz needs clang: use 'make fuzz', or CC=clang)
endif
MODE_CFLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined \
               -fno-sanitize-recover=all
MODE_LDFLAGS := -fsanitize=fuzzer,address,undefined
else ifeq ($(CONFIG),debug)
MODE_CFLAGS := -O0 -g
MODE_LDFLAGS :=
else
MODE_CFLAGS := -O2 -g -D_FORTIFY_SOURCE=2
MODE_LDFLAGS := -Wl,-z,relro,-z,now
endif

CFLAGS_ALL  := $(BASE_CFLAGS) $(MODE_CFLAGS) $(CFLAGS)
LDFLAGS_ALL := $(MODE_LDFLAGS) $(LDFLAGS)

.PHONY: all lib deps demo unit test check-e2e check-asan check-valgrind lint format image bench clean \
        check-deps unit-bins fuzz fuzz-smoke fuzz-bins install uninstall

all: kiln

kiln: $(BUILD)/kiln
	@cp $< $@

$(BUILD)/kiln: $(OBJ_CLI) $(BUILD)/libkiln.a
	@echo '  LD    $@'
	@$(CC) $(LDFLAGS_ALL) -o $@ $(OBJ_CLI) $(BUILD)/libkiln.a $(PKG_LIBS)

$(BUILD)/libkiln.a: $(OBJ_LIB)
	@rm -f $@
	@ar rcs $@ $^

$(BUILD)/orchestrator/lib/core/data.o: CFLAGS_ALL += $(SRCDIR_DEF)

$(BUILD)/%.o: %.c | check-deps
	@mkdir -p $(dir $@)
	@echo '  CC    $<'
	@$(CC) $(CFLAGS_ALL) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c tests/unit/tap.h $(BUILD)/libkiln.a
	@mkdir -p $(dir $@)
	@echo '  TEST  $@'
	@$(CC) $(CFLAGS_ALL) $(SRCDIR_DEF) -Itests/unit $(LDFLAGS_ALL) -o $@ $< $(BUILD)/libkiln.a \
	  $(PKG_LIBS)

lib: $(BUILD)/libkiln.a

unit-bins: $(BUILD)/kiln $(UNIT_BIN)

$(BUILD)/fuzz/%: tests/fuzz/fuzz-%.c tests/fuzz/fuzz.h $(BUILD)/libkiln.a
	@mkdir -p $(dir $@)
	@echo '  FUZZ  $@'
	@$(CC) $(CFLAGS_ALL) $(LDFLAGS_ALL) -o $@ $< $(BUILD)/libkiln.a $(PKG_LIBS)

fuzz-bins: $(FUZZ_BIN)

check-deps:
	@pkg-config --exists $(PKGS) || { \
	  echo "missing development packages for: $(PKGS); run 'make deps'" >&2; exit 1; }

deps:
	@tests/harness/deps.sh

# The README's first command: kiln's main job end to end on a real guest.
demo:
	@tests/harness/deps.sh
	@$(MAKE) --no-print-directory -j$(JOBS) all
	@examples/demo.sh

unit: unit-bins
	@KILN_BIN=$(CURDIR)/$(BUILD)/kiln KILN_TEST_BIN=$(CURDIR)/$(BUILD)/tests \
	  tests/run.sh unit

# The README's test command: installs what is missing, builds, and runs both tiers.
test:
	@tests/harness/deps.sh
	@$(MAKE) --no-print-directory -j$(JOBS) all unit-bins
	@KILN_BIN=$(CURDIR)/$(BUILD)/kiln KILN_TEST_BIN=$(CURDIR)/$(BUILD)/tests \
	  KILN_E2E_REQUIRED=1 exec tests/run.sh unit lint asan fuzz e2e

check-e2e: all unit-bins
	@KILN_BIN=$(CURDIR)/$(BUILD)/kiln KILN_TEST_BIN=$(CURDIR)/$(BUILD)/tests tests/run.sh e2e

check-asan:
	@ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  $(MAKE) --no-print-directory -j$(JOBS) CONFIG=asan unit

check-valgrind:
	@$(MAKE) --no-print-directory -j$(JOBS) CONFIG=debug unit-bins
	@KILN_BIN=$(CURDIR)/build/debug/kiln KILN_TEST_BIN=$(CURDIR)/build/debug/tests \
	  KILN_TEST_WRAPPER="valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99" \
	  tests/run.sh unit

# libFuzzer harnesses (tests/fuzz) under ASan and UBSan, built with clang in build/fuzz-clang/:
# each runs FUZZ_SECONDS on its corpus; fuzz-smoke runs each for 5 s (the test tier).
FUZZ_SECONDS ?= 60

fuzz:
	@$(MAKE) --no-print-directory -j$(JOBS) CONFIG=fuzz CC=clang fuzz-bins
	@FUZZ_BIN_DIR=$(CURDIR)/build/fuzz-clang/fuzz tests/fuzz/run.sh $(FUZZ_SECONDS)

fuzz-smoke:
	@$(MAKE) --no-print-directory -j$(JOBS) CONFIG=fuzz CC=clang fuzz-bins
	@FUZZ_BIN_DIR=$(CURDIR)/build/fuzz-clang/fuzz tests/fuzz/run.sh 5

image:
	@tests/images/build.sh debian12

# Benchmarks print kiln against the anchor named by the issue, measured in the same run.
bench: all
	@KILN_BIN=$(CURDIR)/$(BUILD)/kiln bench/registry.sh
	@KILN_BIN=$(CURDIR)/$(BUILD)/kiln bench/launch.sh
	@KILN_BIN=$(CURDIR)/$(BUILD)/kiln bench/bake.sh
	@KILN_BIN=$(CURDIR)/$(BUILD)/kiln bench/import.sh
	@KILN_BIN=$(CURDIR)/$(BUILD)/kiln bench/build.sh
	@KILN_BIN=$(CURDIR)/$(BUILD)/kiln bench/endpoint.sh

# Installing. The data must stay at PREFIX/share/kiln beside PREFIX/bin, where the binary looks
# for it; the man page and completion directories may move. INSTALL_BIN installs another
# binary that is already built (tests/unit/test-install.sh passes the one under test).
PREFIX          ?= /usr/local
DESTDIR         ?=
MANDIR          ?= $(PREFIX)/share/man
COMPLETIONSDIR  ?= $(PREFIX)/share/bash-completion/completions
DOCDIR          ?= $(PREFIX)/share/doc/kiln
INSTALL_BIN     ?= $(BUILD)/kiln
BINDIR          := $(PREFIX)/bin
DATADIR         := $(PREFIX)/share/kiln

DATA_FILES := $(sort $(wildcard templates/*.json templates/domain/*.xml cloud-init/*.sh \
                cloud-init/*.yaml cloud-init/motd/*))
DOC_FILES  := README.md $(sort $(wildcard examples/pipelines/*.json examples/pipelines/*.md \
                examples/pipelines/files/*))

# Files keep their mode class: executable scripts (cloud-init/motd/*) 0755, the rest 0644.
# Directories are made 0755 whatever the umask, so that every user can read the data.
install: $(INSTALL_BIN)
	@echo '  INSTALL $(DESTDIR)$(PREFIX)'
	@install -d -m 0755 '$(DESTDIR)$(BINDIR)' '$(DESTDIR)$(MANDIR)/man1' \
	  '$(DESTDIR)$(COMPLETIONSDIR)' \
	  $(foreach d,$(sort $(dir $(DATA_FILES))),'$(DESTDIR)$(DATADIR)/$(d)') \
	  $(foreach d,$(sort $(dir $(DOC_FILES))),'$(DESTDIR)$(DOCDIR)/$(d)')
	@install -m 0755 '$(INSTALL_BIN)' '$(DESTDIR)$(BINDIR)/kiln'
	@for f in $(DATA_FILES); do \
	  if [ -x "$$f" ]; then m=0755; else m=0644; fi; \
	  install -m $$m "$$f" '$(DESTDIR)$(DATADIR)/'"$$f" || exit 1; \
	done
	@for f in $(DOC_FILES); do install -m 0644 "$$f" '$(DESTDIR)$(DOCDIR)/'"$$f" || exit 1; done
	@'$(INSTALL_BIN)' help --man >'$(DESTDIR)$(MANDIR)/man1/kiln.1' || \
	  { rm -f '$(DESTDIR)$(MANDIR)/man1/kiln.1'; exit 1; }
	@chmod 0644 '$(DESTDIR)$(MANDIR)/man1/kiln.1'
	@'$(INSTALL_BIN)' help --completion bash >'$(DESTDIR)$(COMPLETIONSDIR)/kiln' || \
	  { rm -f '$(DESTDIR)$(COMPLETIONSDIR)/kiln'; exit 1; }
	@chmod 0644 '$(DESTDIR)$(COMPLETIONSDIR)/kiln'

# Removes exactly what install wrote, then the directories install made for kiln if they are
# empty, deepest first, never above $(1): with PREFIX=~/.local, PREFIX/share/kiln is also a
# user's default kiln home, which must stay.
define rmdirs
	@for d in $(patsubst %/,%,$(dir $(2))); do \
	  while [ "$$d" != . ]; do echo "$$d"; d=$$(dirname "$$d"); done; \
	done | sort -ru | while read -r d; do rmdir '$(1)/'"$$d" 2>/dev/null; done; \
	rmdir '$(1)' 2>/dev/null; true
endef

uninstall:
	@echo '  UNINSTALL $(DESTDIR)$(PREFIX)'
	@rm -f '$(DESTDIR)$(BINDIR)/kiln' '$(DESTDIR)$(MANDIR)/man1/kiln.1' \
	  '$(DESTDIR)$(COMPLETIONSDIR)/kiln' \
	  $(foreach f,$(DATA_FILES),'$(DESTDIR)$(DATADIR)/$(f)') \
	  $(foreach f,$(DOC_FILES),'$(DESTDIR)$(DOCDIR)/$(f)')
	$(call rmdirs,$(DESTDIR)$(DATADIR),$(DATA_FILES))
	$(call rmdirs,$(DESTDIR)$(DOCDIR),$(DOC_FILES))

C_FILES := $(shell find orchestrator tests/unit tests/fuzz bench -name '*.[ch]' 2>/dev/null)

format:
	clang-format -i $(C_FILES)

# The layering check reads the library's objects (who calls whom): built first, as debug.
lint:
	@$(MAKE) --no-print-directory -j$(JOBS) CONFIG=debug lib
	@KILN_LINT_OBJECTS=build/debug$(if $(IS_CLANG),-clang)/orchestrator/lib \
	  tests/harness/lint.sh $(C_FILES)

clean:
	rm -rf build kiln

-include $(OBJ_LIB:.o=.d) $(OBJ_CLI:.o=.d) $(UNIT_BIN:=.d) $(FUZZ_BIN:=.d)
