# hv/: the hypervisor interface (hv.h), its common core, the local and socket
# implementations, the world (authority) and pviod.
LIB_SRCS += hv/hv.c hv/limits.c hv/world.c hv/hv_local.c hv/local_xs.c hv/hv_socket.c hv/proto.c
BINS += hv/pviod
