/* SPDX-License-Identifier: MIT */
/*
 * The vif control ring (nb_hash.c) without DPDK: every request type, every
 * size, offset and index out of range (XSA-270: a mapping update that
 * overflows, runs past the table or names a queue that does not exist is
 * refused and changes nothing), the Toeplitz hash against Microsoft's RSS
 * verification vectors, queue selection, and random requests.
 */
#include <stdlib.h>

#include "netback/nb_hash.h"
#include "tests/common/testutil.h"
#include "tests/netback/pktgen.h"

#define NPAGES 4
static uint8_t pages[NPAGES][4096];
static unsigned copies;

/* The "guest": grefs 0..NPAGES-1 are its pages; others are bad grants. */
static int fake_copy(void *arg, uint32_t gref, void *dst, uint32_t len)
{
	(void)arg;
	if (gref >= NPAGES || len > 4096)
		return -EFAULT;
	memcpy(dst, pages[gref], len);
	copies++;
	return 0;
}

static uint32_t req(struct nb_hash_cfg *c, unsigned nq, uint16_t type, uint32_t d0, uint32_t d1,
		    uint32_t d2, uint32_t *data)
{
	struct pvio_xen_netif_ctrl_request q = { .id = 77, .type = type, .data = { d0, d1, d2 } };
	struct pvio_xen_netif_ctrl_response r;

	memset(&r, 0xAA, sizeof(r));
	nb_ctrl_handle(c, nq, &q, &r, fake_copy, NULL);
	CHECK_EQ(r.id, 77);
	CHECK_EQ(r.type, type);
	if (data)
		*data = r.data;
	else if (r.status != PVIO_XEN_NETIF_CTRL_STATUS_SUCCESS)
		CHECK_EQ(r.data, 0);   /* zeroed response, no stale bytes */
	return r.status;
}

#define OK   PVIO_XEN_NETIF_CTRL_STATUS_SUCCESS
#define INV  PVIO_XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER
#define NS   PVIO_XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED

static void test_requests(void)
{
	static struct nb_hash_cfg c, before;
	uint32_t d = 0, *m = (uint32_t *)pages[1];

	nb_hash_init(&c);
	CHECK_EQ(c.alg, PVIO_XEN_NETIF_CTRL_HASH_ALGORITHM_NONE);
	/* Flags (asked or set) before an algorithm: refused, as Linux. */
	CHECK_EQ(req(&c, 4, PVIO_XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS, 0, 0, 0, NULL), NS);
	CHECK_EQ(req(&c, 4, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS, 1, 0, 0, NULL), INV);
	CHECK_EQ(req(&c, 4, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM, 2, 0, 0, NULL), INV);
	CHECK_EQ(req(&c, 4, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM, 0xFFFFFFFF, 0, 0, NULL), INV);
	CHECK_EQ(req(&c, 4, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM,
		     PVIO_XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ, 0, 0, NULL), OK);
	CHECK_EQ(c.alg, PVIO_XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ);
	CHECK_EQ(req(&c, 4, PVIO_XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS, 0, 0, 0, &d), OK);
	CHECK_EQ(d, NB_HASH_SUPPORTED_FLAGS);
	CHECK_EQ(req(&c, 4, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS, 0x10, 0, 0, NULL), INV);
	CHECK_EQ(req(&c, 4, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS, 0x80000001, 0, 0, NULL), INV);
	CHECK_EQ(req(&c, 4, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS, 0xF, 0, 0, NULL), OK);
	CHECK_EQ(c.flags, 0xF);

	/* Key: at most 40 bytes (longer: INVALID_PARAMETER, as Linux);
	 * shorter keys are zero-padded; a bad grant changes nothing. */
	memset(pages[0], 0x11, 4096);
	CHECK_EQ(req(&c, 4, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, 0, 41, 0, NULL), INV);
	CHECK_EQ(req(&c, 4, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, 0, 0xFFFFFFFF, 0, NULL), INV);
	CHECK_EQ(memcmp(c.key, nb_hash_default_key, 40), 0);
	CHECK_EQ(req(&c, 4, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, 99, 40, 0, NULL), INV);
	CHECK_EQ(memcmp(c.key, nb_hash_default_key, 40), 0);
	CHECK_EQ(req(&c, 4, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, 0, 10, 0, NULL), OK);
	for (unsigned i = 0; i < 40; i++)
		CHECK_EQ(c.key[i], i < 10 ? 0x11 : 0);
	CHECK_EQ(req(&c, 4, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, 0, 0, 0, NULL), OK);
	for (unsigned i = 0; i < 40; i++)
		CHECK_EQ(c.key[i], 0);

	/* Mapping size: 0..128. */
	CHECK_EQ(req(&c, 4, PVIO_XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE, 0, 0, 0, &d), OK);
	CHECK_EQ(d, NB_HASH_MAPPING_MAX);
	CHECK_EQ(req(&c, 4, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE, 129, 0, 0, NULL), INV);
	CHECK_EQ(req(&c, 4, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE, 0xFFFFFFFF, 0, 0, NULL),
		 INV);
	CHECK_EQ(c.size, 0);
	CHECK_EQ(req(&c, 4, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE, 16, 0, 0, NULL), OK);
	CHECK_EQ(c.size, 16);

	/* Mapping: d0 gref, d1 entries, d2 first index. */
	for (unsigned i = 0; i < 1024; i++)
		m[i] = i % 4;
	CHECK_EQ(req(&c, 4, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, 1, 16, 0, NULL), OK);
	for (unsigned i = 0; i < 16; i++)
		CHECK_EQ(c.mapping[i], i % 4);
	memcpy(&before, &c, sizeof(c));
	/* Out of range in every way (XSA-270). */
	CHECK_EQ(req(&c, 4, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, 1, 17, 0, NULL), INV);
	CHECK_EQ(req(&c, 4, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, 1, 1, 16, NULL), INV);
	CHECK_EQ(req(&c, 4, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, 1, 2, 0xFFFFFFFF, NULL), INV);
	CHECK_EQ(req(&c, 4, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, 1, 0xFFFFFFFF, 1, NULL), INV);
	CHECK_EQ(req(&c, 4, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, 1, 0x40000000, 0, NULL), INV);
	CHECK_EQ(req(&c, 4, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, 1, 1025, 0, NULL), INV);
	/* A bad grant. */
	CHECK_EQ(req(&c, 4, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, 1000, 4, 0, NULL), INV);
	/* A queue that does not exist, anywhere in the update: nothing
	 * changes, not even the entries before it. */
	for (unsigned i = 0; i < 8; i++)
		m[i] = 3 - i % 4;
	m[5] = 4;
	CHECK_EQ(req(&c, 4, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, 1, 8, 4, NULL), INV);
	m[5] = 0xFFFFFFFF;
	CHECK_EQ(req(&c, 4, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, 1, 8, 4, NULL), INV);
	CHECK_EQ(memcmp(c.mapping, before.mapping, sizeof(c.mapping)), 0);
	/* ... valid for a 4-queue vif, not for a 2-queue one. */
	m[5] = 1;
	CHECK_EQ(req(&c, 2, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, 1, 8, 4, NULL), INV);
	CHECK_EQ(req(&c, 4, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, 1, 8, 4, NULL), OK);
	CHECK_EQ(c.mapping[3], before.mapping[3]);
	CHECK_EQ(c.mapping[4], 3);
	CHECK_EQ(c.mapping[9], 1);
	CHECK_EQ(c.mapping[12], before.mapping[12]);
	/* Zero entries at the end of the table: fine, copies nothing. */
	copies = 0;
	CHECK_EQ(req(&c, 4, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, 1000, 0, 16, NULL), OK);
	CHECK_EQ(copies, 0);
	/* Shrinking the table resets it. */
	CHECK_EQ(req(&c, 4, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE, 4, 0, 0, NULL), OK);
	for (unsigned i = 0; i < NB_HASH_MAPPING_MAX; i++)
		CHECK_EQ(c.mapping[i], 0);

	/* Unsupported and invalid types. */
	CHECK_EQ(req(&c, 4, PVIO_XEN_NETIF_CTRL_TYPE_INVALID, 0, 0, 0, NULL), NS);
	CHECK_EQ(req(&c, 4, PVIO_XEN_NETIF_CTRL_TYPE_GET_GREF_MAPPING_SIZE, 0, 0, 0, NULL), NS);
	CHECK_EQ(req(&c, 4, PVIO_XEN_NETIF_CTRL_TYPE_ADD_GREF_MAPPING, 0, 1, 0, NULL), NS);
	CHECK_EQ(req(&c, 4, PVIO_XEN_NETIF_CTRL_TYPE_DEL_GREF_MAPPING, 0, 1, 0, NULL), NS);
	CHECK_EQ(req(&c, 4, 11, 0, 0, 0, NULL), NS);
	CHECK_EQ(req(&c, 4, 0xFFFF, 0, 0, 0, NULL), NS);
}

static void flow4(struct pg_flow *f, const char *s, const char *d, uint16_t sp, uint16_t dp)
{
	unsigned a[4], b[4];

	memset(f, 0, sizeof(*f));
	memcpy(f->dst, "\x02\x00\x00\x00\x00\x01", 6);
	memcpy(f->src, "\x02\x00\x00\x00\x00\x02", 6);
	f->proto = PG_TCP;
	sscanf(s, "%u.%u.%u.%u", &a[0], &a[1], &a[2], &a[3]);
	sscanf(d, "%u.%u.%u.%u", &b[0], &b[1], &b[2], &b[3]);
	for (int i = 0; i < 4; i++) {
		f->saddr[i] = (uint8_t)a[i];
		f->daddr[i] = (uint8_t)b[i];
	}
	f->sport = sp;
	f->dport = dp;
}

/* Microsoft's "Verifying the RSS Hash Calculation" vectors (default key). */
static void test_toeplitz(void)
{
	static const struct {
		const char *src, *dst;
		uint16_t sport, dport;
		uint32_t h4, h4tcp;
	} v4[] = {
		{ "66.9.149.187", "161.142.100.80", 2794, 1766, 0x323e8fc2, 0x51ccc178 },
		{ "199.92.111.2", "65.69.140.83", 14230, 4739, 0xd718262a, 0xc626b0ea },
		{ "24.19.198.95", "12.22.207.184", 12898, 38024, 0xd2d0a5de, 0x5c2b394a },
		{ "38.27.205.30", "209.142.163.6", 48228, 2217, 0x82989176, 0xafc7327f },
		{ "153.39.163.191", "202.188.127.2", 44251, 1303, 0x5d1809c5, 0x10e828a2 },
	};
	static struct nb_hash_cfg c;
	uint8_t pkt[200];

	nb_hash_init(&c);
	req(&c, 4, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM,
	    PVIO_XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ, 0, 0, NULL);
	for (unsigned i = 0; i < sizeof(v4) / sizeof(v4[0]); i++) {
		struct pg_flow f;
		struct nb_hash_result r;
		struct nb_hdr h;
		unsigned len;

		flow4(&f, v4[i].src, v4[i].dst, v4[i].sport, v4[i].dport);
		len = pg_build(pkt, &f, 1, 0, 10, 0);
		REQUIRE(nb_pkt_parse(pkt, len, len, &h) == 0);
		req(&c, 4, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS,
		    PVIO_XEN_NETIF_CTRL_HASH_TYPE_IPV4 | PVIO_XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP, 0, 0,
		    NULL);
		nb_hash_select(&c, 4, pkt, &h, &r);
		CHECK(r.valid);
		CHECK_EQ(r.type, _PVIO_XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP);
		CHECK_EQ(r.value, v4[i].h4tcp);
		CHECK_EQ(r.queue, v4[i].h4tcp % 4);
		req(&c, 4, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS,
		    PVIO_XEN_NETIF_CTRL_HASH_TYPE_IPV4, 0, 0, NULL);
		nb_hash_select(&c, 4, pkt, &h, &r);
		CHECK(r.valid);
		CHECK_EQ(r.type, _PVIO_XEN_NETIF_CTRL_HASH_TYPE_IPV4);
		CHECK_EQ(r.value, v4[i].h4);
		/* No type applies: no hash. */
		req(&c, 4, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS,
		    PVIO_XEN_NETIF_CTRL_HASH_TYPE_IPV6, 0, 0, NULL);
		nb_hash_select(&c, 4, pkt, &h, &r);
		CHECK(!r.valid);
		CHECK_EQ(r.queue, 0);
	}
	/* IPv6 vector. */
	{
		static const uint8_t s6[16] = { 0x3f, 0xfe, 0x25, 0x01, 0x02, 0x00, 0x1f, 0xff,
						0, 0, 0, 0, 0, 0, 0, 7 };
		static const uint8_t d6[16] = { 0x3f, 0xfe, 0x25, 0x01, 0x02, 0x00, 0x00, 0x03,
						0, 0, 0, 0, 0, 0, 0, 1 };
		struct pg_flow f;
		struct nb_hash_result r;
		struct nb_hdr h;
		unsigned len;

		memset(&f, 0, sizeof(f));
		f.v6 = true;
		f.proto = PG_TCP;
		memcpy(f.saddr, s6, 16);
		memcpy(f.daddr, d6, 16);
		f.sport = 2794;
		f.dport = 1766;
		len = pg_build(pkt, &f, 1, 0, 10, 0);
		REQUIRE(nb_pkt_parse(pkt, len, len, &h) == 0);
		req(&c, 4, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS, 0xF, 0, 0, NULL);
		nb_hash_select(&c, 4, pkt, &h, &r);
		CHECK_EQ(r.type, _PVIO_XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP);
		CHECK_EQ(r.value, 0x40207d3d);
		req(&c, 4, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS,
		    PVIO_XEN_NETIF_CTRL_HASH_TYPE_IPV6, 0, 0, NULL);
		nb_hash_select(&c, 4, pkt, &h, &r);
		CHECK_EQ(r.value, 0x2cc18cd5);
		/* With a mapping table: queue = mapping[hash % size]. */
		{
			uint32_t *m = (uint32_t *)pages[2];

			for (unsigned i = 0; i < 8; i++)
				m[i] = 7 - i < 4 ? 7 - i : 0;
			req(&c, 4, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE, 8, 0, 0, NULL);
			CHECK_EQ(req(&c, 4, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, 2, 8, 0, NULL),
				 OK);
			nb_hash_select(&c, 4, pkt, &h, &r);
			CHECK_EQ(r.queue, m[0x2cc18cd5 % 8]);
		}
	}
	/* Without a frontend configuration: spread by a default hash, no
	 * hash reported. */
	{
		struct pg_flow f;
		struct nb_hash_result r;
		struct nb_hdr h;
		unsigned len, hits[4] = { 0 };

		nb_hash_init(&c);
		for (unsigned i = 0; i < 400; i++) {
			flow4(&f, "10.0.0.1", "10.0.0.2", (uint16_t)(1000 + i), 80);
			len = pg_build(pkt, &f, 1, 0, 10, 0);
			REQUIRE(nb_pkt_parse(pkt, len, len, &h) == 0);
			nb_hash_select(&c, 4, pkt, &h, &r);
			CHECK(!r.valid);
			CHECK(r.queue < 4);
			hits[r.queue % 4]++;
		}
		for (unsigned q = 0; q < 4; q++)
			CHECK(hits[q] > 40);
	}
}

/* Random requests: the table never holds a queue number out of range and
 * never grows past its maximum (ASan catches any write outside). */
static void test_random(void)
{
	static struct nb_hash_cfg c;
	unsigned seed = 99;

	nb_hash_init(&c);
	for (unsigned i = 0; i < 4096; i++)
		((uint32_t *)pages[3])[i % 1024] = (uint32_t)rand_r(&seed) % 6;
	for (unsigned it = 0; it < 200000; it++) {
		uint32_t d[3];
		uint16_t type = (uint16_t)(rand_r(&seed) % 12);

		for (int k = 0; k < 3; k++) {
			switch (rand_r(&seed) % 4) {
			case 0: d[k] = (uint32_t)rand_r(&seed); break;
			case 1: d[k] = (uint32_t)rand_r(&seed) % 200; break;
			case 2: d[k] = 0xFFFFFFFFu - (uint32_t)rand_r(&seed) % 4; break;
			default: d[k] = (uint32_t)rand_r(&seed) % 5; break;
			}
		}
		req(&c, 4, type, d[0], d[1], d[2], &d[0]);
		CHECK(c.size <= NB_HASH_MAPPING_MAX);
		for (unsigned k = 0; k < NB_HASH_MAPPING_MAX; k++)
			if (c.mapping[k] >= 4) {
				CHECK(c.mapping[k] < 4);
				return;
			}
		CHECK((c.seq & 1) == 0);
	}
}

int main(void)
{
	test_requests();
	test_toeplitz();
	test_random();
	return tu_result();
}
