# tools/fio/: fio-pvio.so, a fio ioengine for pvio guests
# (fio --thread --ioengine=external:$(BUILD)/tools/fio/fio-pvio.so ...).
# fio's engine ABI depends on its configure results, so the engine is built
# against the fio source tree that scripts/fetch-fio configured and built
# (Debian's fio source, cached in ~/.cache/pvio-fio), and is run with that
# fio. `make` builds the engine only when that tree is there; `make fio`
# fetches and builds fio first (a few minutes, once).
PVIO_FIO_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/pvio-fio
FIO_SRC ?= $(shell cat '$(PVIO_FIO_CACHE)/.complete' 2>/dev/null)
FIO_ENGINE := $(BUILD)/tools/fio/fio-pvio.so

ifneq ($(wildcard $(FIO_SRC)/config-host.h),)
build-all: $(FIO_ENGINE)
endif

# fio's own headers as system headers (their warnings are fio's), with the
# defines of fio's build: the struct layouts must match that fio binary.
FIO_ENGINE_CFLAGS = -isystem $(FIO_SRC) -include $(FIO_SRC)/config-host.h \
	-D_LARGEFILE_SOURCE -D_FILE_OFFSET_BITS=64

$(BUILD)/tools/fio/fio-pvio.o: tools/fio/fio-pvio.c $(FIO_SRC)/config-host.h $(CONFIG_STAMP)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) $(FIO_ENGINE_CFLAGS) -c $< -o $@

# libpvio linked in, its symbols kept private (only `ioengine` is exported);
# -z nodelete: blkfront's threads never outlive the code they run; fio
# itself provides log_err, __td_verror and the rest (it links -rdynamic).
$(FIO_ENGINE): $(BUILD)/tools/fio/fio-pvio.o $(BUILD)/libpvio.a
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) -shared -o $@ $< $(BUILD)/libpvio.a $(LDFLAGS) $(LIB_LIBS) \
		-Wl,--exclude-libs,ALL -Wl,-z,nodelete

.PHONY: fio
fio:
	$(Q)scripts/fetch-fio >/dev/null
	$(Q)$(MAKE) --no-print-directory $(FIO_ENGINE)
