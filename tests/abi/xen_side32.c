/* SPDX-License-Identifier: MIT */
/*
 * x86_32-abi reference: Xen's headers compiled for i386 (-m32
 * -ffreestanding, no 32-bit libc needed) to assembly only, never linked.
 * Each value is emitted as a string "->key=value" into the .s file, which
 * tests/abi/module.mk turns into xen_abi32.inc for xen_side.c (the way
 * Linux generates asm-offsets.h).
 */
#include <stddef.h>
#include <stdint.h>

#if !defined(__i386__)
#error "compile with -m32"
#endif

#if defined(__has_include) && __has_include(<xen/io/blkif.h>) && \
    __has_include(<xen/io/netif.h>) && __has_include(<xen/io/xs_wire.h>)

#define xen_mb()  __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define xen_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define xen_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)

#include <xen/io/ring.h>
#include <xen/io/blkif.h>
#include <xen/io/netif.h>
#include <xen/grant_table.h>
#include <xen/io/xs_wire.h>

#include "tests/abi/xen_expand.h"

/* %c0: the constant without the '$' of an immediate. */
#define ABI_ROW(k, v) __asm__ volatile("\n.ascii \"->" k "=%c0\"" : : "i"((long)(v)))

void xen_abi32_emit(void);
void xen_abi32_emit(void)
{
	ABI_COMMON_LAYOUT(XEN_S, XEN_F, XEN_FX, XEN_T)
	ABI_BLKIF_LAYOUT(XEN_BS, XEN_BF)
	ABI_BLKIF_X86_32_ONLY(XEN_BS, XEN_BF)
	XEN_R(blkif, pvio_blkif_x86_32)
	ABI_NET_RINGS(XEN_R)
}

#endif
