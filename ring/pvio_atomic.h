/* SPDX-License-Identifier: MIT */
/*
 * The few memory-ordering operations pvio's shared-memory protocols need,
 * wrapped around C11 <stdatomic.h>-compatible builtins so that plain
 * (non-_Atomic) fields of Xen's wire structs can be accessed atomically.
 *
 * Every call site says which operation on the other side it pairs with.
 */
#ifndef PVIO_ATOMIC_H
#define PVIO_ATOMIC_H

#include <stdint.h>

/* Read a peer-written index: everything the peer wrote before its release
 * store of this index is visible after this load. */
#define pvio_load_acquire(p)      __atomic_load_n((p), __ATOMIC_ACQUIRE)
/* Publish an index: everything written before is visible to a peer that
 * load-acquires it. */
#define pvio_store_release(p, v)  __atomic_store_n((p), (v), __ATOMIC_RELEASE)
/* Single-copy-atomic access without ordering (a value read once). */
#define pvio_load_relaxed(p)      __atomic_load_n((p), __ATOMIC_RELAXED)
#define pvio_store_relaxed(p, v)  __atomic_store_n((p), (v), __ATOMIC_RELAXED)
/* Full fence: orders an earlier store before a later load (store-load),
 * which acquire/release cannot. Used only in the notify-check sequences. */
#define pvio_mb()                 __atomic_thread_fence(__ATOMIC_SEQ_CST)

#define pvio_cmpxchg(p, oldp, v) \
	__atomic_compare_exchange_n((p), (oldp), (v), 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)
#define pvio_fetch_or(p, v)       __atomic_fetch_or((p), (v), __ATOMIC_ACQ_REL)
#define pvio_fetch_and(p, v)      __atomic_fetch_and((p), (v), __ATOMIC_ACQ_REL)
#define pvio_fetch_add(p, v)      __atomic_fetch_add((p), (v), __ATOMIC_ACQ_REL)

static inline void pvio_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#endif
}

/* Ask for a line the other side wrote last, to read it (r) or to write it
 * (w: PREFETCHW on x86, a NOP on CPUs without it; gcc's builtin gives it
 * only with -mprfchw), ahead of the access, so that several transfers
 * overlap instead of each stalling in turn. */
static inline void pvio_prefetch_r(const void *p)
{
	__builtin_prefetch(p, 0, 3);
}

static inline void pvio_prefetch_w(const void *p)
{
#if defined(__x86_64__) || defined(__i386__)
	__asm__ volatile("prefetchw (%0)" : : "r"(p));
#else
	__builtin_prefetch(p, 1, 3);
#endif
}

#endif /* PVIO_ATOMIC_H */
