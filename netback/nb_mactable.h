/* SPDX-License-Identifier: MIT */
/*
 * The L2 switch's MAC learning table (no DPDK): MAC address -> switch port,
 * with aging. One table per bridge, shared by every data-path thread
 * without locks:
 *
 *   set-associative: a MAC hashes to one bucket of NB_MT_WAYS entries, no
 *   probing beyond it. An entry is one 64-bit word (MAC << 16 | port + 1;
 *   0 = free) read and replaced atomically, plus the time it was last
 *   learned. A full bucket evicts its least recently seen entry, so a guest
 *   sending from many forged addresses can only churn the buckets its
 *   addresses hash to, and the table never grows.
 *
 * Two threads learning the same new address at once may store it twice;
 * lookups take the first match and the duplicate ages out. Time is any
 * monotonic unit the caller picks (the daemon uses seconds).
 */
#ifndef PVIO_NB_MACTABLE_H
#define PVIO_NB_MACTABLE_H

#include <stdbool.h>
#include <stdint.h>

#define NB_MT_WAYS 8
#define NB_MT_NO_PORT (-1)

struct nb_mt_bucket {
	uint64_t key[NB_MT_WAYS];     /* MAC << 16 | (port + 1); 0 = free */
	uint32_t seen[NB_MT_WAYS];    /* last learned */
};

struct nb_mactable {
	struct nb_mt_bucket *b;
	uint32_t mask;                /* buckets - 1 */
	uint32_t age;                 /* entries unseen for longer are dead */
	/* counters (atomic) */
	uint64_t learned, moved, evicted;
};

enum nb_mt_learn_result {
	NB_MT_REFRESHED = 0,
	NB_MT_NEW = 1,
	NB_MT_MOVED = 2,
};

/* Room for about `entries` addresses (rounded up to whole buckets, a power
 * of two). 0 or -ENOMEM / -EINVAL. */
int  nb_mt_init(struct nb_mactable *t, uint32_t entries, uint32_t age);
void nb_mt_fini(struct nb_mactable *t);

/* The port mac was last learned on, or NB_MT_NO_PORT (unknown or aged). */
int  nb_mt_lookup(struct nb_mactable *t, const uint8_t mac[6], uint32_t now);

/* mac was seen as a source on port (< 65535). Returns enum nb_mt_learn_result. */
int  nb_mt_learn(struct nb_mactable *t, const uint8_t mac[6], uint16_t port, uint32_t now);

/* Forget every address on port (it is going away). Returns how many. */
unsigned nb_mt_flush_port(struct nb_mactable *t, uint16_t port);

/* Free entries that aged out. Returns how many. */
unsigned nb_mt_expire(struct nb_mactable *t, uint32_t now);

/* Live entries. */
unsigned nb_mt_count(struct nb_mactable *t, uint32_t now);

#endif /* PVIO_NB_MACTABLE_H */
