# tests/ring: the ring engine's test suite (ring/ring.h).
# xen_side.c wraps Xen's own io/ring.h macros: the reference the lockstep and
# interop tests compare pvio against. It needs libxen-dev's headers.
TEST_BINS += tests/ring/test_ring_unit
TEST_BINS += tests/ring/test_ring_xen_lockstep
SRCS_test_ring_xen_lockstep := tests/ring/xen_side.c
CFLAGS_tests_ring_xen_side := -D__XEN_TOOLS__
TEST_BINS += tests/ring/test_ring_xen_interop
SRCS_test_ring_xen_interop := tests/ring/xen_side.c
TEST_BINS += tests/ring/test_ring_stress
TEST_BINS += tests/ring/test_ring_hostile
TEST_BINS += tests/ring/test_ratelimit
