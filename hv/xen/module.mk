# hv/xen: hv/ on a real Xen (libxengnttab, libxenevtchn, xenstored's socket).
# Built only when pkg-config finds both libraries; otherwise a stub whose
# pvio_hv_xen_open() returns -EOPNOTSUPP.
ifeq ($(shell pkg-config --exists xengnttab xenevtchn 2>/dev/null && echo y),y)
LIB_SRCS += hv/xen/hv_xen.c
LIB_LIBS += $(shell pkg-config --libs xengnttab xenevtchn)
else
LIB_SRCS += hv/xen/hv_xen_stub.c
endif
