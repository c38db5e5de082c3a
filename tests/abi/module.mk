# tests/abi: pvio's wire headers against Xen's public headers (libxen-dev).
# xen_side.c sees only Xen's headers, pvio_side.c only pvio's; test_abi.c
# compares the tables they export. The x86_32-abi reference is Xen's headers
# compiled with -m32 to assembly (xen_side32.c), turned into an include file.
TEST_BINS += tests/abi/test_abi
SRCS_test_abi := tests/abi/xen_side.c tests/abi/pvio_side.c
CFLAGS_tests_abi_xen_side := -D__XEN_TOOLS__ -I$(BUILD)/tests/abi

ABI32_INC := $(BUILD)/tests/abi/xen_abi32.inc
ABI32_CFLAGS := -m32 -ffreestanding -std=gnu11 -Wall -Wextra -Werror -D__XEN_TOOLS__ -I.

$(BUILD)/tests/abi/xen_side.o: $(ABI32_INC)

# If the compiler cannot target i386 the test says so and skips those checks.
$(ABI32_INC): tests/abi/xen_side32.c tests/abi/xen_expand.h tests/abi/abi_list.h \
		tests/abi/module.mk
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  GEN     $@")
	$(Q)if $(CC) $(ABI32_CFLAGS) -S -o $@.s $< 2>$@.err; then \
		sed -n 's/.*"->\(.*\)=\(-\{0,1\}[0-9][0-9]*\)".*/ABI32_ROW("\1", \2)/p' \
			$@.s > $@.tmp && mv $@.tmp $@; \
	else \
		echo '#define XEN_ABI32_UNAVAILABLE "$(CC) -m32 -ffreestanding failed, see $@.err"' \
			> $@; \
	fi
