/* SPDX-License-Identifier: MIT */
/*
 * How the Xen side expands tests/abi/abi_list.h: Xen's own names, from Xen's
 * headers (included before this file). Shared by xen_side.c (native) and
 * xen_side32.c (-m32); each defines ABI_ROW first.
 */
#ifndef PVIO_TESTS_ABI_XEN_EXPAND_H
#define PVIO_TESTS_ABI_XEN_EXPAND_H

#include "tests/abi/abi_list.h"

#define XEN_S(kind, tag)              ABI_EMIT_STRUCT(#tag, kind tag)
#define XEN_F(kind, tag, f)           ABI_EMIT_FIELD(#tag, kind tag, f, f)
#define XEN_FX(kind, tag, xf, pf)     ABI_EMIT_FIELD(#tag, kind tag, xf, xf)
#define XEN_T(xt, pt)                 ABI_EMIT_TYPE(#xt, xt)
#define XEN_BS(sfx)                   ABI_EMIT_STRUCT("blkif_" #sfx, struct blkif_##sfx)
#define XEN_BF(sfx, f)                ABI_EMIT_FIELD("blkif_" #sfx, struct blkif_##sfx, f, f)
#define XEN_C(n)                      ABI_EMIT_CONST(#n, n)
#define XEN_CX(n, p)                  ABI_EMIT_CONST(#n, n)
#define XEN_CE(k, x, p)               ABI_EMIT_VALUE(#k, x)
#define XEN_HDR_OFF(type, xf, pf)     offsetof(type, xf)
#define XEN_NR_ENTS(name, bytes)      __CONST_RING_SIZE(name, bytes)
#define XEN_R(x, p)                                                               \
	ABI_EMIT_RING(#x, sizeof(union x##_sring_entry), struct x##_sring,         \
		      XEN_HDR_OFF, x, XEN_NR_ENTS)

#endif /* PVIO_TESTS_ABI_XEN_EXPAND_H */
