# Rules for tests/fuzz/ (see module.mk there). Included by the top Makefile
# after every module.mk, because the instrumented library needs the complete
# LIB_SRCS. Without clang nothing is built and test_fuzz.sh skips.
FUZZ_CC    := $(shell command -v clang 2>/dev/null)
FUZZ_DIR   := $(BUILD)/fuzz
FUZZ_NAMES := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS  := $(addprefix $(FUZZ_DIR)/fuzz_,$(FUZZ_NAMES))
FUZZ_LIBA  := $(FUZZ_DIR)/libpvio-fuzz.a
FUZZ_CFLAGS := -std=gnu11 -O1 -g -Wall -Wextra -Werror -D_GNU_SOURCE -pthread -I. \
	-fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-DPVIO_FUZZ -MMD -MP
FUZZ_SECONDS ?= 60

ifneq ($(FUZZ_CC),)
FUZZ_OBJS := $(LIB_SRCS:%.c=$(FUZZ_DIR)/obj/%.o)

$(FUZZ_DIR)/obj/%.o: %.c $(CONFIG_STAMP)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  FUZZCC  $<")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $(CFLAGS_$(subst /,_,$*)) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_LIBA): $(FUZZ_OBJS)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIBA)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  FUZZ    $@")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_CFLAGS_$*) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIBA) \
		$(FUZZ_LIBS_$*) $(LIB_LIBS)

# Built with everything else, except in the sanitizer build (build-san), which
# does not run them.
ifeq ($(SANITIZE),)
build-all: $(FUZZ_BINS)
endif
endif

fuzz: deps
	$(Q)$(MAKE) --no-print-directory $(FUZZ_BINS)
	$(Q)BUILD=$(BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_MODE=long tests/fuzz/test_fuzz.sh

.PHONY: fuzz
