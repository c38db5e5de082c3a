/* SPDX-License-Identifier: MIT */
/* MAC learning table: see nb_mactable.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "netback/nb_mactable.h"
#include "netback/nb_pkt.h"
#include "ring/pvio_atomic.h"

#define KEY(mac, port)  ((mac) << 16 | (uint64_t)((port) + 1))
#define KEY_MAC(k)      ((k) >> 16)
#define KEY_PORT(k)     ((int)((k) & 0xffff) - 1)

static inline bool dead(uint32_t seen, uint32_t now, uint32_t age)
{
	return (uint32_t)(now - seen) > age;
}

static inline struct nb_mt_bucket *bucket(struct nb_mactable *t, uint64_t mac)
{
	uint64_t h = mac * 0x9E3779B97F4A7C15ull;

	return &t->b[(h >> 32) & t->mask];
}

int nb_mt_init(struct nb_mactable *t, uint32_t entries, uint32_t age)
{
	uint32_t n = 1;

	memset(t, 0, sizeof(*t));
	if (entries == 0 || entries > (1u << 24))
		return -EINVAL;
	while (n * NB_MT_WAYS < entries)
		n *= 2;
	t->b = calloc(n, sizeof(*t->b));
	if (!t->b)
		return -ENOMEM;
	t->mask = n - 1;
	t->age = age;
	return 0;
}

void nb_mt_fini(struct nb_mactable *t)
{
	free(t->b);
	t->b = NULL;
}

int nb_mt_lookup(struct nb_mactable *t, const uint8_t mac[6], uint32_t now)
{
	uint64_t m = nb_mac_to_u64(mac);
	struct nb_mt_bucket *b = bucket(t, m);

	for (unsigned i = 0; i < NB_MT_WAYS; i++) {
		/* Acquire: pairs with the cmpxchg/store-release in
		 * nb_mt_learn(); seen[i] was written before the key. */
		uint64_t k = pvio_load_acquire(&b->key[i]);

		if (k && KEY_MAC(k) == m) {
			if (dead(pvio_load_relaxed(&b->seen[i]), now, t->age))
				return NB_MT_NO_PORT;
			return KEY_PORT(k);
		}
	}
	return NB_MT_NO_PORT;
}

int nb_mt_learn(struct nb_mactable *t, const uint8_t mac[6], uint16_t port, uint32_t now)
{
	uint64_t m = nb_mac_to_u64(mac);
	uint64_t want = KEY(m, port);
	struct nb_mt_bucket *b = bucket(t, m);

	for (int tries = 0; tries < 8; tries++) {
		int victim = -1;
		uint64_t vk = 0, worst = 0;
		uint32_t oldest = 0;

		for (unsigned i = 0; i < NB_MT_WAYS; i++) {
			/* Acquire: pairs with the release in other learners. */
			uint64_t k = pvio_load_acquire(&b->key[i]);
			uint32_t seen = pvio_load_relaxed(&b->seen[i]);
			uint64_t badness;

			if (k && KEY_MAC(k) == m) {
				if (k != want) {
					/* The address moved to another port. */
					pvio_store_relaxed(&b->seen[i], now);
					if (!pvio_cmpxchg(&b->key[i], &k, want))
						goto again;
					pvio_fetch_add(&t->moved, 1);
					return NB_MT_MOVED;
				}
				/* Only write when the time changes: learning the
				 * same address at line rate stays read-only. */
				if (seen != now)
					pvio_store_relaxed(&b->seen[i], now);
				return NB_MT_REFRESHED;
			}
			/* Victim: a free entry, else the least recently seen
			 * (dead entries are the oldest). */
			badness = k == 0 ? 1ull << 33 : (uint32_t)(now - seen);
			if (victim < 0 || badness > worst) {
				victim = (int)i;
				worst = badness;
				vk = k;
				oldest = seen;
			}
		}
		pvio_store_relaxed(&b->seen[victim], now);
		/* Release: seen is written before the key becomes visible;
		 * pairs with the acquire loads in lookup and learn. */
		if (pvio_cmpxchg(&b->key[victim], &vk, want)) {
			if (vk && !dead(oldest, now, t->age))
				pvio_fetch_add(&t->evicted, 1);
			pvio_fetch_add(&t->learned, 1);
			return NB_MT_NEW;
		}
again:
		;
	}
	return NB_MT_REFRESHED;   /* heavy contention: learn it next time */
}

unsigned nb_mt_flush_port(struct nb_mactable *t, uint16_t port)
{
	unsigned n = 0;

	for (uint32_t bi = 0; bi <= t->mask; bi++) {
		struct nb_mt_bucket *b = &t->b[bi];

		for (unsigned i = 0; i < NB_MT_WAYS; i++) {
			uint64_t k = pvio_load_acquire(&b->key[i]);

			/* cmpxchg: a concurrent move to another port wins. */
			if (k && KEY_PORT(k) == (int)port && pvio_cmpxchg(&b->key[i], &k, 0))
				n++;
		}
	}
	return n;
}

unsigned nb_mt_expire(struct nb_mactable *t, uint32_t now)
{
	unsigned n = 0;

	for (uint32_t bi = 0; bi <= t->mask; bi++) {
		struct nb_mt_bucket *b = &t->b[bi];

		for (unsigned i = 0; i < NB_MT_WAYS; i++) {
			uint64_t k = pvio_load_acquire(&b->key[i]);

			if (k && dead(pvio_load_relaxed(&b->seen[i]), now, t->age) &&
			    pvio_cmpxchg(&b->key[i], &k, 0))
				n++;
		}
	}
	return n;
}

unsigned nb_mt_count(struct nb_mactable *t, uint32_t now)
{
	unsigned n = 0;

	for (uint32_t bi = 0; bi <= t->mask; bi++)
		for (unsigned i = 0; i < NB_MT_WAYS; i++)
			if (pvio_load_acquire(&t->b[bi].key[i]) &&
			    !dead(pvio_load_relaxed(&t->b[bi].seen[i]), now, t->age))
				n++;
	return n;
}
