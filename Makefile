# pvio — one non-recursive Makefile. Each folder contributes a module.mk that
# appends to LIB_SRCS (objects that go into libpvio), BINS (programs),
# TEST_BINS (test programs) and TEST_SCRIPTS.
#
#   make            build everything         make test   build + run the suite
#   make run        the demo                 make bench  the benchmarks
#   make fuzz FUZZ_SECONDS=60  each libFuzzer harness for that long
#   make install PREFIX=/usr/local DESTDIR=  make clean
#   SANITIZE=address,undefined  V=1  CC=clang

PREFIX   ?= /usr/local
DESTDIR  ?=
CC       ?= cc
CFLAGS   ?= -O2 -g
VERSION  := 0.1.0

ifeq ($(SANITIZE),)
BUILD    ?= build
else
BUILD    ?= build-san
override CFLAGS  += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer
override LDFLAGS += -fsanitize=$(SANITIZE)
endif

ifeq ($(V),1)
Q :=
else
Q := @
endif

override CFLAGS += -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -pthread \
	-fvisibility=hidden -fPIC -I. -MMD -MP
override LDFLAGS += -pthread

# Optional libraries, found with pkg-config (scripts/install-deps installs them).
PKGS_AVAIL := $(shell for p in liburing libaio libdpdk xenstore; do \
	pkg-config --exists $$p 2>/dev/null && echo $$p; done)
have = $(filter $(1),$(PKGS_AVAIL))

LIB_SRCS     :=
LIB_LIBS     :=
BINS         :=
TEST_BINS    :=
TEST_SCRIPTS :=
BENCH_BINS   :=
# Programs the test scripts run (built with the tests, not run on their own).
TEST_HELPERS :=
# Long variants (wall-time measurements, soaks), run by `make test-long`
# with PVIO_LONG_TESTS=1; test programs listed here also run, shorter, in
# `make test`.
LONG_TESTS   :=

all: build-all

include $(sort $(wildcard */module.mk */*/module.mk))

LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)

# Rules that need every module's sources: the fuzzing harnesses.
include tests/fuzz/fuzz.mk
LIBA     := $(BUILD)/libpvio.a
LIBSO    := $(BUILD)/libpvio.so

# What the objects were built with: the optional libraries found and the
# compiler flags. Rewritten only when that changes, and every object depends
# on it, so a build made before scripts/install-deps added liburing (say)
# is rebuilt with it, not left without the engines it now could have.
CONFIG_STAMP := $(BUILD)/.config
CONFIG_NOW   := $(CC) $(CFLAGS) | $(PKGS_AVAIL)
ifneq ($(CONFIG_NOW),$(shell cat $(CONFIG_STAMP) 2>/dev/null))
$(shell mkdir -p $(BUILD) && printf '%s\n' '$(CONFIG_NOW)' > $(CONFIG_STAMP))
endif

$(BUILD)/%.o: %.c $(CONFIG_STAMP)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) $(CFLAGS_$(subst /,_,$*)) -c $< -o $@

$(LIBA): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(LIBSO): $(LIB_OBJS)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -shared -o $@ $^ $(LDFLAGS) $(LIB_LIBS)

# A program foo built from foo.c (+ extra objects in OBJS_foo) against libpvio.a.
# Per-program: SRCS_<name> (extra sources), LIBS_<name> (extra link flags).
define prog_rule
$(BUILD)/$(1): $(BUILD)/$(1).o $(patsubst %.c,$(BUILD)/%.o,$(SRCS_$(notdir $(1)))) $(LIBA)
	@mkdir -p $$(dir $$@)
	@$$(if $$(Q),echo "  LINK    $$@")
	$$(Q)$$(CC) -o $$@ $$(filter %.o,$$^) $(LIBA) $$(LDFLAGS) $$(LIBS_$(notdir $(1))) $$(LIB_LIBS)
endef
$(foreach b,$(BINS) $(TEST_BINS) $(TEST_HELPERS) $(BENCH_BINS),$(eval $(call prog_rule,$(b))))

# Regenerated every time: it records PREFIX.
$(BUILD)/libpvio.pc: FORCE
	@mkdir -p $(dir $@)
	@printf 'prefix=%s\nlibdir=$${prefix}/lib\nincludedir=$${prefix}/include\n\nName: libpvio\nDescription: paravirtual split-driver I/O (Xen PV wire ABI) in user space\nVersion: %s\nLibs: -L$${libdir} -lpvio\nLibs.private: -pthread %s\nCflags: -I$${includedir}/pvio\n' \
		'$(PREFIX)' '$(VERSION)' '$(LIB_LIBS)' > $@

build-all: $(LIBA) $(LIBSO) $(BUILD)/libpvio.pc \
	$(addprefix $(BUILD)/,$(BINS) $(TEST_BINS) $(TEST_HELPERS) $(BENCH_BINS))

deps:
	$(Q)scripts/install-deps

# `make test` and `make run` do all the set-up on a fresh Debian 12 machine.
test: deps
	$(Q)$(MAKE) --no-print-directory build-all
	$(Q)BUILD=$(BUILD) tests/run $(addprefix $(BUILD)/,$(TEST_BINS)) $(TEST_SCRIPTS)

test-long: deps
	$(Q)$(MAKE) --no-print-directory build-all
	$(Q)PVIO_LONG_TESTS=1 BUILD=$(BUILD) TEST_TIMEOUT=1200 tests/run $(LONG_TESTS)

run: deps
	$(Q)$(MAKE) --no-print-directory build-all
	$(Q)BUILD=$(BUILD) scripts/demo

bench: deps
	$(Q)$(MAKE) --no-print-directory build-all
	$(Q)BUILD=$(BUILD) bench/run-all

# The test list, for scripts (tests/sanitize) that run a subset elsewhere.
print-tests:
	@echo $(addprefix $(BUILD)/,$(TEST_BINS)) $(filter-out tests/sanitize/%,$(TEST_SCRIPTS))
print-bins:
	@echo $(addprefix $(BUILD)/,$(BINS))

HEADERS := $(sort $(wildcard */*.h))
PUB_HEADERS := $(filter-out %_internal.h tests/% bench/% tools/%,$(HEADERS))

install: build-all
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/bin \
		$(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include/pvio
	install -m 644 $(LIBA) $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(LIBSO) $(DESTDIR)$(PREFIX)/lib/
	install -m 644 $(BUILD)/libpvio.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/
	for h in $(PUB_HEADERS); do install -D -m 644 $$h $(DESTDIR)$(PREFIX)/include/pvio/$$h; done
	$(if $(BINS),install -m 755 $(addprefix $(BUILD)/,$(BINS)) $(DESTDIR)$(PREFIX)/bin/)

clean:
	rm -rf build build-san

.PHONY: all build-all deps test test-long run bench install clean print-tests print-bins FORCE
FORCE:
.DELETE_ON_ERROR:

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
