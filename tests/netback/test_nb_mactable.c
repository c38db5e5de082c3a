/* SPDX-License-Identifier: MIT */
/*
 * The switch's MAC learning table (nb_mactable.c) without DPDK: learning,
 * moves, aging, flushing a port, eviction in a full bucket (a guest sending
 * from forged addresses cannot grow the table or push out more than its
 * buckets), the flood decision for unknown and multicast destinations, and
 * concurrent learners and readers.
 */
#include <pthread.h>

#include "netback/nb_mactable.h"
#include "netback/nb_pkt.h"
#include "tests/common/testutil.h"

static void mac_of(uint32_t n, uint8_t mac[6])
{
	mac[0] = 0x02;   /* locally administered unicast */
	mac[1] = 0x00;
	mac[2] = (uint8_t)(n >> 24);
	mac[3] = (uint8_t)(n >> 16);
	mac[4] = (uint8_t)(n >> 8);
	mac[5] = (uint8_t)n;
}

/* What the forwarder does with a destination: a port or flood (-1). */
static int decide(struct nb_mactable *t, const uint8_t *da, uint32_t now)
{
	if (nb_mac_is_multicast(da))
		return NB_MT_NO_PORT;
	return nb_mt_lookup(t, da, now);
}

static void test_basic(void)
{
	struct nb_mactable t;
	uint8_t a[6], b[6], bc[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint8_t mc[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb };

	REQUIRE(nb_mt_init(&t, 1024, 300) == 0);
	mac_of(1, a);
	mac_of(2, b);
	CHECK_EQ(nb_mt_lookup(&t, a, 100), NB_MT_NO_PORT);
	CHECK_EQ(decide(&t, a, 100), NB_MT_NO_PORT);          /* unknown: flood */
	CHECK_EQ(nb_mt_learn(&t, a, 3, 100), NB_MT_NEW);
	CHECK_EQ(nb_mt_learn(&t, a, 3, 101), NB_MT_REFRESHED);
	CHECK_EQ(nb_mt_lookup(&t, a, 101), 3);
	CHECK_EQ(nb_mt_lookup(&t, b, 101), NB_MT_NO_PORT);
	CHECK_EQ(nb_mt_learn(&t, b, 0, 101), NB_MT_NEW);      /* port 0 is a port */
	CHECK_EQ(nb_mt_lookup(&t, b, 101), 0);
	CHECK_EQ(nb_mt_count(&t, 101), 2);
	/* A move. */
	CHECK_EQ(nb_mt_learn(&t, a, 7, 102), NB_MT_MOVED);
	CHECK_EQ(nb_mt_lookup(&t, a, 102), 7);
	CHECK_EQ(t.moved, 1);
	CHECK_EQ(nb_mt_count(&t, 102), 2);
	/* Broadcast and multicast destinations always flood. */
	CHECK(nb_mac_is_broadcast(bc) && nb_mac_is_multicast(bc));
	CHECK(nb_mac_is_multicast(mc) && !nb_mac_is_broadcast(mc));
	CHECK_EQ(decide(&t, bc, 102), NB_MT_NO_PORT);
	CHECK_EQ(decide(&t, mc, 102), NB_MT_NO_PORT);
	CHECK_EQ(decide(&t, a, 102), 7);

	/* Aging: 300 s after the last sighting it is gone; a refresh keeps
	 * it. */
	CHECK_EQ(nb_mt_lookup(&t, a, 102 + 300), 7);
	CHECK_EQ(nb_mt_lookup(&t, a, 102 + 301), NB_MT_NO_PORT);
	CHECK_EQ(nb_mt_lookup(&t, b, 101 + 301), NB_MT_NO_PORT);
	nb_mt_learn(&t, b, 0, 350);
	CHECK_EQ(nb_mt_lookup(&t, b, 600), 0);
	CHECK_EQ(nb_mt_count(&t, 600), 1);
	CHECK_EQ(nb_mt_expire(&t, 600), 1);                   /* a */
	CHECK_EQ(nb_mt_expire(&t, 600), 0);
	/* An aged address is learned again as new. */
	CHECK_EQ(nb_mt_learn(&t, a, 4, 700), NB_MT_NEW);
	CHECK_EQ(nb_mt_lookup(&t, a, 700), 4);
	/* Time wraps around. */
	nb_mt_learn(&t, a, 4, UINT32_MAX - 5);
	CHECK_EQ(nb_mt_lookup(&t, a, 10), 4);

	/* Flush one port. */
	for (uint32_t i = 10; i < 60; i++) {
		uint8_t m[6];

		mac_of(i, m);
		nb_mt_learn(&t, m, (uint16_t)(i % 2), 1000);
	}
	CHECK_EQ(nb_mt_flush_port(&t, 1), 25);
	for (uint32_t i = 10; i < 60; i++) {
		uint8_t m[6];

		mac_of(i, m);
		CHECK_EQ(nb_mt_lookup(&t, m, 1000), i % 2 ? NB_MT_NO_PORT : 0);
	}
	nb_mt_fini(&t);
}

static void test_eviction(void)
{
	struct nb_mactable t;
	uint8_t mine[6];
	unsigned found = 0;

	/* 64 entries: 8 buckets of 8. */
	REQUIRE(nb_mt_init(&t, 64, 300) == 0);
	CHECK_EQ(t.mask + 1, 8);
	mac_of(0xabcdef, mine);
	nb_mt_learn(&t, mine, 1, 10);
	/* A guest floods 10000 forged addresses, later in time. */
	for (uint32_t i = 0; i < 10000; i++) {
		uint8_t m[6];

		mac_of(i, m);
		nb_mt_learn(&t, m, 2, 20 + i / 100);
	}
	/* The table did not grow, and holds only the most recent ones. */
	CHECK(nb_mt_count(&t, 120) <= 64);
	CHECK(t.evicted > 9000);
	for (uint32_t i = 9900; i < 10000; i++) {
		uint8_t m[6];

		mac_of(i, m);
		found += nb_mt_lookup(&t, m, 120) == 2;
	}
	CHECK(found > 40);
	/* The old address lost its place to fresher ones (LRU), and comes back
	 * as soon as it sends again. */
	CHECK_EQ(nb_mt_lookup(&t, mine, 120), NB_MT_NO_PORT);
	CHECK_EQ(nb_mt_learn(&t, mine, 1, 121), NB_MT_NEW);
	CHECK_EQ(nb_mt_lookup(&t, mine, 121), 1);
	nb_mt_fini(&t);
	CHECK_EQ(nb_mt_init(&t, 0, 1), -EINVAL);
}

struct conc {
	struct nb_mactable *t;
	unsigned id;
	volatile int *stop;
	unsigned long bad;
};

/* Each learner owns addresses id*1000 + k on port id; readers check that
 * a lookup never returns a port that does not own the address. */
static void *learner(void *arg)
{
	struct conc *c = arg;

	for (unsigned round = 0; round < 300; round++)
		for (uint32_t k = 0; k < 500; k++) {
			uint8_t m[6];

			mac_of(c->id * 1000 + k, m);
			nb_mt_learn(c->t, m, (uint16_t)c->id, round);
		}
	return NULL;
}

static void *reader(void *arg)
{
	struct conc *c = arg;

	while (!__atomic_load_n(c->stop, __ATOMIC_ACQUIRE))
		for (uint32_t id = 1; id <= 3; id++)
			for (uint32_t k = 0; k < 500; k += 7) {
				uint8_t m[6];
				int p;

				mac_of(id * 1000 + k, m);
				p = nb_mt_lookup(c->t, m, 300);
				if (p != NB_MT_NO_PORT && p != (int)id)
					c->bad++;
			}
	return NULL;
}

static void test_concurrent(void)
{
	struct nb_mactable t;
	pthread_t th[4];
	struct conc c[4];
	volatile int stop = 0;

	REQUIRE(nb_mt_init(&t, 4096, 100000) == 0);
	for (unsigned i = 0; i < 4; i++) {
		c[i] = (struct conc){ .t = &t, .id = i + 1, .stop = &stop };
		REQUIRE(pthread_create(&th[i], NULL, i < 3 ? learner : reader, &c[i]) == 0);
	}
	for (unsigned i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	pthread_join(th[3], NULL);
	CHECK_EQ(c[3].bad, 0);
	for (uint32_t id = 1; id <= 3; id++)
		for (uint32_t k = 0; k < 500; k++) {
			uint8_t m[6];

			mac_of(id * 1000 + k, m);
			CHECK_EQ(nb_mt_lookup(&t, m, 300), (int)id);
		}
	nb_mt_fini(&t);
}

int main(void)
{
	uint8_t mac[6];

	CHECK_EQ(nb_mac_parse("00:16:3e:0A:bb:cc", mac), 0);
	CHECK_EQ(memcmp(mac, "\x00\x16\x3e\x0a\xbb\xcc", 6), 0);
	CHECK_EQ(nb_mac_parse("00:16:3e:0a:bb", mac), -EINVAL);
	CHECK_EQ(nb_mac_parse("00:16:3e:0a:bb:cc:", mac), -EINVAL);
	CHECK_EQ(nb_mac_parse("00-16-3e-0a-bb-cc", mac), -EINVAL);
	CHECK_EQ(nb_mac_parse("0g:16:3e:0a:bb:cc", mac), -EINVAL);
	test_basic();
	test_eviction();
	test_concurrent();
	return tu_result();
}
