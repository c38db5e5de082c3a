TEST_BINS += tests/hv/test_hv_local tests/hv/test_hv_socket tests/hv/test_hv_caps tests/hv/test_hv_leak
SRCS_test_hv_local := tests/hv/scenario.c
SRCS_test_hv_socket := tests/hv/scenario.c
