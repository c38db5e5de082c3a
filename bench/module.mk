# bench/: pvio-bench, one program with a subcommand per benchmark
# (bench/bench_<name>.c, listed in BENCH_CMDS in pvio-bench.c), and run-all.
BENCH_BINS += bench/pvio-bench
SRCS_pvio-bench := bench/bench_common.c bench/bench_ring.c bench/bench_blk.c bench/bench_hv.c \
	bench/bench_xs.c bench/bench_net.c bench/bench_scale.c bench/bench_restart.c bench/bench_rbd.c \
	bench/bench_xensave.c
LIBS_pvio-bench := -lm $(shell pkg-config --libs liburing) $(shell pkg-config --libs xenstore)

# The rte_ring baseline. DPDK's cflags (-march=corei7, -include rte_config.h)
# go only on the object that includes DPDK headers.
ifneq ($(call have,libdpdk),)
CFLAGS_bench_bench_ring := $(shell pkg-config --cflags libdpdk) -DPVIO_HAVE_DPDK
LIBS_pvio-bench += $(shell pkg-config --libs libdpdk)
endif
