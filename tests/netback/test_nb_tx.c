/* SPDX-License-Identifier: MIT */
/*
 * netback's tx request validation (nb_tx.c) without DPDK: well-formed
 * packets, and every hostile case: bad offsets/sizes, zero-length slots
 * (XSA-448), too many slots, a more_data chain that never ends, missing or
 * invalid extra-info, GSO with absurd sizes; then random windows checked
 * against the parser's invariants.
 */
#include <stdlib.h>

#include "netback/nb_pkt.h"
#include "netback/nb_tx.h"
#include "tests/common/testutil.h"

#define WIN 256
static struct pvio_netif_tx_request win[WIN];

static void put(unsigned i, uint32_t gref, uint16_t off, uint16_t flags, uint16_t id, uint16_t size)
{
	struct pvio_netif_tx_request *r = &win[i % WIN];

	r->gref = gref;
	r->offset = off;
	r->flags = flags;
	r->id = id;
	r->size = size;
}

static void put_extra(unsigned i, uint8_t type, uint8_t flags, uint16_t a, uint8_t b)
{
	struct pvio_netif_extra_info x;

	memset(&x, 0, sizeof(x));
	x.type = type;
	x.flags = flags;
	x.u.gso.size = a;
	x.u.gso.type = b;
	memset(&win[i % WIN], 0, sizeof(win[0]));
	memcpy(&win[i % WIN], &x, sizeof(x));
}

static int parse(unsigned start, unsigned avail, struct nb_txpkt *p)
{
	return nb_tx_parse(win, WIN - 1, start, avail, p);
}

/* A chain of nfrags fragments of fsize bytes after a first slot holding
 * first bytes, starting at slot s. */
static unsigned chain(unsigned s, unsigned first, unsigned nfrags, uint16_t fsize)
{
	put(s, 10, 0, nfrags ? PVIO_NETTXF_more_data : 0, 1, (uint16_t)(first + nfrags * fsize));
	for (unsigned i = 0; i < nfrags; i++)
		put(s + 1 + i, 11 + i, 0, i + 1 < nfrags ? PVIO_NETTXF_more_data : 0,
		    (uint16_t)(2 + i), fsize);
	return 1 + nfrags;
}

static void test_good(void)
{
	struct nb_txpkt p;

	/* One slot. */
	put(0, 7, 100, PVIO_NETTXF_csum_blank, 42, 60);
	CHECK_EQ(parse(0, 1, &p), 1);
	CHECK_EQ(p.verdict, NB_TX_OK);
	CHECK_EQ(p.nfrags, 1);
	CHECK_EQ(p.size, 60);
	CHECK_EQ(p.frag[0].gref, 7);
	CHECK_EQ(p.frag[0].offset, 100);
	CHECK_EQ(p.frag[0].size, 60);
	CHECK(p.flags & PVIO_NETTXF_csum_blank);

	/* Multi-slot: 1000 in the first, 3 x 4096 after. */
	CHECK_EQ(parse(0, chain(0, 1000, 3, 4096), &p), 4);
	CHECK_EQ(p.verdict, NB_TX_OK);
	CHECK_EQ(p.nfrags, 4);
	CHECK_EQ(p.size, 1000 + 3 * 4096);
	CHECK_EQ(p.frag[0].size, 1000);
	CHECK_EQ(p.frag[3].size, 4096);
	CHECK_EQ(p.frag[3].gref, 13);

	/* The largest legal chain: first + 18 fragments. */
	CHECK_EQ(parse(0, chain(0, 100, NB_TX_MAX_FRAGS, 3000), &p), 1 + NB_TX_MAX_FRAGS);
	CHECK_EQ(p.verdict, NB_TX_OK);
	CHECK_EQ(p.nfrags, 1 + NB_TX_MAX_FRAGS);

	/* A GSO extra, then a fragment. */
	put(0, 10, 0, PVIO_NETTXF_extra_info | PVIO_NETTXF_more_data | PVIO_NETTXF_csum_blank,
	    1, 5000);
	put_extra(1, PVIO_XEN_NETIF_EXTRA_TYPE_GSO, 0, 1448, PVIO_XEN_NETIF_GSO_TYPE_TCPV4);
	put(2, 11, 0, 0, 2, 4000);
	CHECK_EQ(parse(0, 3, &p), 3);
	CHECK_EQ(p.verdict, NB_TX_OK);
	CHECK_EQ(p.nextras, 1);
	CHECK(p.has_gso);
	CHECK_EQ(p.gso.u.gso.size, 1448);
	CHECK_EQ(p.nfrags, 2);
	CHECK_EQ(p.frag[0].size, 1000);
	CHECK_EQ(p.frag[1].size, 4000);

	/* Two extras (GSO + HASH) chained with FLAG_MORE. */
	put(0, 10, 0, PVIO_NETTXF_extra_info, 1, 100);
	put_extra(1, PVIO_XEN_NETIF_EXTRA_TYPE_GSO, PVIO_XEN_NETIF_EXTRA_FLAG_MORE, 1448,
		  PVIO_XEN_NETIF_GSO_TYPE_TCPV6);
	put_extra(2, PVIO_XEN_NETIF_EXTRA_TYPE_HASH, 0, 0, 0);
	CHECK_EQ(parse(0, 3, &p), 3);
	CHECK_EQ(p.nextras, 2);
	CHECK(p.has_gso && p.has_hash);
	CHECK_EQ(p.verdict, NB_TX_OK);

	/* A packet that wraps around the window. */
	CHECK_EQ(parse(WIN - 2, chain(WIN - 2, 200, 3, 100), &p), 4);
	CHECK_EQ(p.verdict, NB_TX_OK);
	CHECK_EQ(p.size, 500);

	/* Largest packet: 0xFFFF bytes over 17 slots. */
	put(0, 1, 0, PVIO_NETTXF_more_data, 1, 0xFFFF);
	for (unsigned i = 1; i < 16; i++)
		put(i, 1, 0, PVIO_NETTXF_more_data, 1, 4096);
	put(16, 1, 0, 0, 1, 4000);
	CHECK_EQ(parse(0, 17, &p), 17);
	CHECK_EQ(p.verdict, NB_TX_OK);
	CHECK_EQ(p.frag[0].size, 0xFFFF - 15 * 4096 - 4000);
}

static void test_zero_length(void)
{
	struct nb_txpkt p;

	/* XSA-448: zero-length fragments are accepted (never copied). */
	put(0, 10, 0, PVIO_NETTXF_more_data, 1, 200);
	put(1, 11, 0, PVIO_NETTXF_more_data, 2, 0);
	put(2, 12, 4096, PVIO_NETTXF_more_data, 3, 0);      /* offset 4096, size 0: in page */
	put(3, 13, 0, 0, 4, 100);
	CHECK_EQ(parse(0, 4, &p), 4);
	CHECK_EQ(p.verdict, NB_TX_OK);
	CHECK_EQ(p.nfrags, 4);
	CHECK_EQ(p.frag[1].size, 0);
	CHECK_EQ(p.frag[2].size, 0);
	CHECK_EQ(p.frag[0].size, 100);

	/* A chain of nothing but zero-length fragments after the header. */
	put(0, 10, 0, PVIO_NETTXF_more_data, 1, 60);
	for (unsigned i = 1; i < 10; i++)
		put(i, 0xdead, 0, i < 9 ? PVIO_NETTXF_more_data : 0, (uint16_t)i, 0);
	CHECK_EQ(parse(0, 10, &p), 10);
	CHECK_EQ(p.verdict, NB_TX_OK);

	/* A zero-length first slot is a runt: dropped. */
	put(0, 10, 0, 0, 1, 0);
	CHECK_EQ(parse(0, 1, &p), 1);
	CHECK_EQ(p.verdict, NB_TX_DROP);
}

static void test_drops(void)
{
	struct nb_txpkt p;

	/* First slot shorter than an Ethernet header. */
	put(0, 10, 0, 0, 1, 13);
	CHECK_EQ(parse(0, 1, &p), 1);
	CHECK_EQ(p.verdict, NB_TX_DROP);
	CHECK(p.why != NULL);

	/* ... also when the fragments take all but 10 bytes. */
	CHECK_EQ(parse(0, chain(0, 10, 2, 1000), &p), 3);
	CHECK_EQ(p.verdict, NB_TX_DROP);

	/* A fragment larger than what remains (size overflowed 64 KiB). */
	put(0, 10, 0, PVIO_NETTXF_more_data, 1, 1000);
	put(1, 11, 0, PVIO_NETTXF_more_data, 2, 800);
	put(2, 12, 0, 0, 3, 800);
	CHECK_EQ(parse(0, 3, &p), 3);
	CHECK_EQ(p.verdict, NB_TX_DROP);
	CHECK_EQ(p.nslots, 3);   /* every slot consumed */

	/* 19 and 20 fragments: dropped, all slots consumed, not fatal. */
	CHECK_EQ(parse(0, chain(0, 100, NB_TX_MAX_FRAGS + 1, 100), &p), NB_TX_MAX_FRAGS + 2);
	CHECK_EQ(p.verdict, NB_TX_DROP);
	CHECK_EQ(parse(0, chain(0, 100, NB_TX_FATAL_SLOTS, 100), &p), NB_TX_FATAL_SLOTS + 1);
	CHECK_EQ(p.verdict, NB_TX_DROP);

	/* GSO: size 0, size below the minimum, unknown type. */
	put(0, 10, 0, PVIO_NETTXF_extra_info, 1, 1000);
	put_extra(1, PVIO_XEN_NETIF_EXTRA_TYPE_GSO, 0, 0, PVIO_XEN_NETIF_GSO_TYPE_TCPV4);
	CHECK_EQ(parse(0, 2, &p), 2);
	CHECK_EQ(p.verdict, NB_TX_DROP);
	put_extra(1, PVIO_XEN_NETIF_EXTRA_TYPE_GSO, 0, NB_GSO_MIN_SIZE - 1,
		  PVIO_XEN_NETIF_GSO_TYPE_TCPV4);
	CHECK_EQ(parse(0, 2, &p), 2);
	CHECK_EQ(p.verdict, NB_TX_DROP);
	put_extra(1, PVIO_XEN_NETIF_EXTRA_TYPE_GSO, 0, 1448, 7);
	CHECK_EQ(parse(0, 2, &p), 2);
	CHECK_EQ(p.verdict, NB_TX_DROP);
	put_extra(1, PVIO_XEN_NETIF_EXTRA_TYPE_GSO, 0, 1448, PVIO_XEN_NETIF_GSO_TYPE_NONE);
	CHECK_EQ(parse(0, 2, &p), 2);
	CHECK_EQ(p.verdict, NB_TX_DROP);
	/* Absurdly large is legal here (one segment); the headers decide. */
	put_extra(1, PVIO_XEN_NETIF_EXTRA_TYPE_GSO, 0, 0xFFFF, PVIO_XEN_NETIF_GSO_TYPE_TCPV6);
	CHECK_EQ(parse(0, 2, &p), 2);
	CHECK_EQ(p.verdict, NB_TX_OK);
}

static void test_fatal(void)
{
	struct nb_txpkt p;

	/* Fragment past its page. */
	put(0, 10, 0, PVIO_NETTXF_more_data, 1, 3000);
	put(1, 11, 4000, 0, 2, 200);
	CHECK_EQ(parse(0, 2, &p), -EPROTO);
	CHECK(p.why != NULL);
	put(1, 11, 0xFFFF, 0, 2, 1);
	CHECK_EQ(parse(0, 2, &p), -EPROTO);
	put(1, 11, 1, 0, 2, 4096);
	CHECK_EQ(parse(0, 2, &p), -EPROTO);

	/* First slot's own data past its page. */
	put(0, 10, 4000, 0, 1, 200);
	CHECK_EQ(parse(0, 1, &p), -EPROTO);
	put(0, 10, 0, 0, 1, 0xFFFF);          /* 64 KiB claimed in one slot */
	CHECK_EQ(parse(0, 1, &p), -EPROTO);

	/* A more_data chain longer than the malicious threshold. */
	chain(0, 100, NB_TX_FATAL_SLOTS + 1, 10);
	CHECK_EQ(parse(0, NB_TX_FATAL_SLOTS + 2, &p), -EPROTO);
	/* ... and every slot of the ring saying more_data. */
	for (unsigned i = 0; i < WIN; i++)
		put(i, 1, 0, PVIO_NETTXF_more_data, (uint16_t)i, 10);
	CHECK_EQ(parse(0, WIN, &p), -EPROTO);

	/* Invalid extra-info types. */
	put(0, 10, 0, PVIO_NETTXF_extra_info, 1, 100);
	put_extra(1, PVIO_XEN_NETIF_EXTRA_TYPE_NONE, 0, 0, 0);
	CHECK_EQ(parse(0, 2, &p), -EPROTO);
	put_extra(1, PVIO_XEN_NETIF_EXTRA_TYPE_MAX, 0, 0, 0);
	CHECK_EQ(parse(0, 2, &p), -EPROTO);
	put_extra(1, 200, 0, 0, 0);
	CHECK_EQ(parse(0, 2, &p), -EPROTO);

	/* An endless chain of extras. */
	put(0, 10, 0, PVIO_NETTXF_extra_info, 1, 100);
	for (unsigned i = 1; i < 10; i++)
		put_extra(i, PVIO_XEN_NETIF_EXTRA_TYPE_HASH, PVIO_XEN_NETIF_EXTRA_FLAG_MORE, 0, 0);
	CHECK_EQ(parse(0, 10, &p), -EPROTO);
}

static void test_incomplete(void)
{
	struct nb_txpkt p;

	/* more_data on the last slot pushed: the packet is not complete (the
	 * data path treats that as a protocol violation). */
	put(0, 10, 0, PVIO_NETTXF_more_data, 1, 200);
	put(1, 11, 0, PVIO_NETTXF_more_data, 2, 100);
	CHECK_EQ(parse(0, 2, &p), 0);
	/* extra_info promised, no slot for it. */
	put(0, 10, 0, PVIO_NETTXF_extra_info, 1, 200);
	CHECK_EQ(parse(0, 1, &p), 0);
	/* FLAG_MORE on the last extra. */
	put_extra(1, PVIO_XEN_NETIF_EXTRA_TYPE_GSO, PVIO_XEN_NETIF_EXTRA_FLAG_MORE, 1448, 1);
	CHECK_EQ(parse(0, 2, &p), 0);
	CHECK_EQ(parse(0, 0, &p), 0);
}

static void test_mcast(void)
{
	struct nb_txpkt p;
	struct pvio_netif_extra_info x;

	/* A multicast control request: first slot + extras only, even with
	 * more_data set (as Linux). */
	put(0, 10, 0, PVIO_NETTXF_extra_info | PVIO_NETTXF_more_data, 1, 0);
	memset(&x, 0, sizeof(x));
	x.type = PVIO_XEN_NETIF_EXTRA_TYPE_MCAST_ADD;
	memcpy(x.u.mcast.addr, "\x01\x00\x5e\x00\x00\x01", 6);
	memset(&win[1], 0, sizeof(win[1]));
	memcpy(&win[1], &x, sizeof(x));
	put(2, 11, 0, 0, 2, 100);
	CHECK_EQ(parse(0, 3, &p), 2);
	CHECK_EQ(p.verdict, NB_TX_MCAST);
	CHECK(p.has_mcast_add);
	CHECK_EQ(memcmp(p.mcast_add.u.mcast.addr, "\x01\x00\x5e\x00\x00\x01", 6), 0);
}

/* Random windows: whatever the verdict, the parser stays inside the window
 * and hands out fragments that stay inside their pages and add up. */
static void test_random(void)
{
	struct nb_txpkt p;
	unsigned seed = 12345, counts[4] = { 0 };

	for (unsigned it = 0; it < 300000; it++) {
		unsigned avail = 1 + rand_r(&seed) % 40, start = (unsigned)rand_r(&seed);
		int r;

		for (unsigned i = 0; i < avail; i++) {
			uint16_t flags = (uint16_t)(rand_r(&seed) % 16);
			unsigned mode = (unsigned)rand_r(&seed) % 4;
			uint16_t size = mode == 0 ? (uint16_t)rand_r(&seed)
				      : mode == 1 ? (uint16_t)(rand_r(&seed) % 4097)
				      : (uint16_t)(rand_r(&seed) % 200);
			uint16_t off = mode == 0 ? (uint16_t)rand_r(&seed)
				     : (uint16_t)(rand_r(&seed) % 4096);

			if (rand_r(&seed) % 3 == 0)
				flags &= (uint16_t)~PVIO_NETTXF_extra_info;
			put(start + i, (uint32_t)rand_r(&seed), off, flags, (uint16_t)i, size);
			if (rand_r(&seed) % 5 == 0)
				put_extra(start + i, (uint8_t)(rand_r(&seed) % 6),
					  (uint8_t)(rand_r(&seed) % 2), (uint16_t)rand_r(&seed),
					  (uint8_t)(rand_r(&seed) % 4));
		}
		r = parse(start, avail, &p);
		CHECK(r >= -EPROTO && r <= (int)avail);
		if (r < 0) {
			counts[3]++;
			CHECK(p.why != NULL);
			continue;
		}
		if (r == 0) {
			counts[2]++;
			continue;
		}
		CHECK_EQ(p.nslots, r);
		CHECK(p.nslots <= NB_TX_MAX_SLOTS);
		if (p.verdict == NB_TX_OK) {
			uint32_t sum = 0;

			counts[0]++;
			CHECK(p.nfrags >= 1 && p.nfrags <= 1 + NB_TX_MAX_FRAGS);
			CHECK_EQ(p.nslots, 1 + p.nextras + p.nfrags - 1);
			for (unsigned i = 0; i < p.nfrags; i++) {
				CHECK((uint32_t)p.frag[i].offset + p.frag[i].size <= 4096);
				sum += p.frag[i].size;
			}
			CHECK_EQ(sum, p.size);
			CHECK(p.frag[0].size >= NB_ETH_HLEN);
			if (p.has_gso)
				CHECK(p.gso.u.gso.size >= NB_GSO_MIN_SIZE);
		} else {
			counts[1]++;
			CHECK(p.verdict == NB_TX_MCAST || p.why != NULL);
		}
		if (tu_failures > 20)
			break;
	}
	printf("random windows: %u ok, %u dropped/mcast, %u incomplete, %u fatal\n",
	       counts[0], counts[1], counts[2], counts[3]);
	CHECK(counts[0] && counts[1] && counts[2] && counts[3]);
}

int main(void)
{
	test_good();
	test_zero_length();
	test_drops();
	test_fatal();
	test_incomplete();
	test_mcast();
	test_random();
	return tu_result();
}
