/* SPDX-License-Identifier: MIT */
/*
 * pvio-netback end to end: receive-side hashing as Windows' xenvif drives
 * it through the control ring, against Linux netback's answers.
 *   - a Toeplitz written here bit by bit (not netback's nor ring/netif.h's)
 *     gives Microsoft's RSS verification vectors
 *   - R (2 queues, ctrl ring, multi-queue-num-queues written as xenvif
 *     does): GET_HASH_FLAGS before an algorithm is NOT_SUPPORTED (Linux);
 *     the sequence SET_HASH_ALGORITHM(Toeplitz), GET_HASH_FLAGS,
 *     SET_HASH_FLAGS, SET_HASH_KEY (40 bytes), SET_HASH_MAPPING_SIZE (128),
 *     SET_HASH_MAPPING: every frame of a TCP flow lands on one queue,
 *     mapping[hash % 128], with a HASH extra whose value is the hash
 *     computed here; both queues get flows
 *   - the order xenvif's __FrontendUpdateHash uses (ALGORITHM,
 *     MAPPING_SIZE, MAPPING, KEY, FLAGS) with another key and table;
 *     xenvif's "no hashing" (Toeplitz, one entry 0, flags 0): queue 0, no
 *     HASH extra
 *   - garbage on the ctrl ring (unknown types, the gref-mapping types,
 *     oversized key and table, out-of-range mapping, bad grants, 2000
 *     random requests): an error status each, ids echoed, the vif stays
 *     up and the configuration made afterwards works
 *   - a HASH extra on tx (xenvif sends one) is accepted
 *   - S (1 queue): Toeplitz is accepted, as Linux (Windows' xenvif itself
 *     never asks for it with one queue), frames carry the HASH extra, a
 *     mapping naming queue 1 is refused
 */
#include <stdlib.h>

#include "netback/nb_pkt.h"
#include "tests/common/testutil.h"
#include "tests/netback/nbtest.h"
#include "tests/netback/pktgen.h"
#include "xenstore/xenbus.h"

#define T 8000
#define NQ 2
enum { A = 0, R = 1, S = 2, NG = 3 };

#define OK   PVIO_XEN_NETIF_CTRL_STATUS_SUCCESS
#define NS   PVIO_XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED
#define INV  PVIO_XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER

static uint8_t mac[NG][6];
static struct nbf fe[NG];
static uint16_t dom[NG];
static uint8_t frame[70000], rbuf[70000];

/* ------------------------------------------------------------ Toeplitz */

/* Bit i of the key (MSB of key[0] first); past the key: 0. */
static unsigned key_bit(const uint8_t *key, unsigned len, unsigned i)
{
	return i / 8 < len ? (key[i / 8] >> (7 - i % 8)) & 1 : 0;
}

/* For every set bit i of the input, XOR the 32 key bits starting at bit i
 * (the definition, one bit at a time). */
static uint32_t my_toeplitz(const uint8_t *key, unsigned klen, const uint8_t *in, unsigned n)
{
	uint32_t h = 0;

	for (unsigned i = 0; i < n * 8; i++) {
		uint32_t w = 0;

		if (!((in[i / 8] >> (7 - i % 8)) & 1))
			continue;
		for (unsigned b = 0; b < 32; b++)
			w = w << 1 | key_bit(key, klen, i + b);
		h ^= w;
	}
	return h;
}

static const uint8_t ms_key[40] = {
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67,
	0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb,
	0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30,
	0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

static void put4(uint8_t *p, unsigned a, unsigned b, unsigned c, unsigned d)
{
	p[0] = (uint8_t)a;
	p[1] = (uint8_t)b;
	p[2] = (uint8_t)c;
	p[3] = (uint8_t)d;
}

/* Microsoft's "Verifying the RSS Hash Calculation" (IPv4 and IPv6). */
static void test_vectors(void)
{
	static const struct {
		unsigned s[4], d[4];
		uint16_t sp, dp;
		uint32_t h, htcp;
	} v4[] = {
		{ { 66, 9, 149, 187 }, { 161, 142, 100, 80 }, 2794, 1766, 0x323e8fc2, 0x51ccc178 },
		{ { 199, 92, 111, 2 }, { 65, 69, 140, 83 }, 14230, 4739, 0xd718262a, 0xc626b0ea },
		{ { 24, 19, 198, 95 }, { 12, 22, 207, 184 }, 12898, 38024, 0xd2d0a5de, 0x5c2b394a },
		{ { 38, 27, 205, 30 }, { 209, 142, 163, 6 }, 48228, 2217, 0x82989176, 0xafc7327f },
		{ { 153, 39, 163, 191 }, { 202, 188, 127, 2 }, 44251, 1303, 0x5d1809c5, 0x10e828a2 },
	};
	static const uint8_t s6[16] = { 0x3f, 0xfe, 0x25, 0x01, 0x02, 0x00, 0x1f, 0xff,
					0, 0, 0, 0, 0, 0, 0, 7 };
	static const uint8_t d6[16] = { 0x3f, 0xfe, 0x25, 0x01, 0x02, 0x00, 0x00, 0x03,
					0, 0, 0, 0, 0, 0, 0, 1 };
	uint8_t in[36];

	for (unsigned i = 0; i < sizeof(v4) / sizeof(v4[0]); i++) {
		put4(in, v4[i].s[0], v4[i].s[1], v4[i].s[2], v4[i].s[3]);
		put4(in + 4, v4[i].d[0], v4[i].d[1], v4[i].d[2], v4[i].d[3]);
		pg_put16(in + 8, v4[i].sp);
		pg_put16(in + 10, v4[i].dp);
		CHECK_EQ(my_toeplitz(ms_key, 40, in, 8), v4[i].h);
		CHECK_EQ(my_toeplitz(ms_key, 40, in, 12), v4[i].htcp);
	}
	memcpy(in, s6, 16);
	memcpy(in + 16, d6, 16);
	pg_put16(in + 32, 2794);
	pg_put16(in + 34, 1766);
	CHECK_EQ(my_toeplitz(ms_key, 40, in, 32), 0x2cc18cd5);
	CHECK_EQ(my_toeplitz(ms_key, 40, in, 36), 0x40207d3d);
	printf("Toeplitz written here: Microsoft's RSS vectors (IPv4, IPv4+TCP, IPv6, "
	       "IPv6+TCP) match\n");
}

/* ------------------------------------------------------------ traffic */

static int send_retry(unsigned s, unsigned q, const uint8_t *buf, unsigned len,
		      const struct nbf_txinfo *ti)
{
	double end = tu_now() + T / 1000.0;
	int r;

	while ((r = nbf_send(&fe[s], q, buf, len, ti)) == -EAGAIN && tu_now() < end)
		nbf_wait(&fe[s], q, 2);
	return r;
}

/* One frame at guest g on any of its queues. */
static int recv_any(unsigned g, unsigned *q, struct nbf_rxinfo *ri, int timeout_ms)
{
	double end = tu_now() + timeout_ms / 1000.0;

	do {
		for (unsigned k = 0; k < fe[g].nq; k++) {
			int r = nbf_recv(&fe[g], k, rbuf, sizeof(rbuf), ri, 0);

			if (r != 0) {
				*q = k;
				return r;
			}
		}
		nbf_wait(&fe[g], 0, 1);
	} while (tu_now() < end);
	return 0;
}

static struct pg_flow tcpflow(bool v6, uint16_t sport, const uint8_t *dst)
{
	struct pg_flow f;

	memset(&f, 0, sizeof(f));
	memcpy(f.dst, dst, 6);
	memcpy(f.src, mac[A], 6);
	f.v6 = v6;
	f.proto = PG_TCP;
	for (int i = 0; i < 16; i++) {
		f.saddr[i] = (uint8_t)(192 - i * 5);
		f.daddr[i] = (uint8_t)(7 + i * 11);
	}
	f.sport = sport;
	f.dport = 3260;
	return f;
}

/* The hash R's frontend expects for a flow (4-tuple, or addresses). */
static uint32_t flow_hash(const uint8_t *key, const struct pg_flow *f, bool ports)
{
	uint8_t in[36];
	unsigned al = f->v6 ? 16 : 4, n = 2 * al;

	memcpy(in, f->saddr, al);
	memcpy(in + al, f->daddr, al);
	if (ports) {
		pg_put16(in + n, f->sport);
		pg_put16(in + n + 2, f->dport);
		n += 4;
	}
	return my_toeplitz(key, 40, in, n);
}

static int ctrl(unsigned g, uint16_t type, uint32_t d0, uint32_t d1, uint32_t d2,
		uint32_t *data)
{
	return nbf_ctrl(&fe[g], type, d0, d1, d2, data, T);
}

/* Frames of nflows TCP flows (frames_per_flow each) from A to g: each
 * flow on one queue, map[h % size], HASH extra = h. Returns the queues
 * used (bit mask). */
static unsigned check_flows(unsigned g, const uint8_t *key, const uint32_t *map, unsigned size,
			    unsigned nflows, unsigned frames_per_flow, uint16_t sport0)
{
	unsigned used = 0;

	for (unsigned i = 0; i < nflows; i++) {
		bool v6 = i % 3 == 2;
		struct pg_flow f = tcpflow(v6, (uint16_t)(sport0 + i * 7), mac[g]);
		uint32_t h = flow_hash(key, &f, true);
		unsigned want = map[h % size], first = 99;

		for (unsigned k = 0; k < frames_per_flow; k++) {
			unsigned len = pg_build(frame, &f, i * 100 + k, k * 64, 64, 0), q = 99;
			struct nbf_rxinfo ri;

			CHECK(send_retry(A, 0, frame, len, NULL) > 0);
			CHECK_EQ(recv_any(g, &q, &ri, T), (int)len);
			CHECK_EQ(memcmp(rbuf, frame, len), 0);
			if (k == 0)
				first = q;
			CHECK_EQ(q, first);
			CHECK_EQ(q, want);
			CHECK(ri.hash);
			CHECK_EQ(ri.hash_alg, PVIO_XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ);
			CHECK_EQ(ri.hash_type, v6 ? _PVIO_XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP
						  : _PVIO_XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP);
			CHECK_EQ(ri.hash_value, h);
			if (q < 32)
				used |= 1u << q;
			if (tu_failures > 10)
				return used;
		}
	}
	return used;
}

static void set_key(unsigned g, const uint8_t *key)
{
	memcpy(fe[g].ctrl_page, key, 40);
	CHECK_EQ(ctrl(g, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, fe[g].ctrl_page_ref, 40, 0, NULL),
		 OK);
}

static void set_mapping(unsigned g, const uint32_t *map, unsigned size)
{
	memcpy(fe[g].ctrl_page, map, size * 4);
	CHECK_EQ(ctrl(g, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, fe[g].ctrl_page_ref, size, 0,
		      NULL), OK);
}

static void test_sequence(void)
{
	static uint32_t map[128];
	uint8_t key[40];
	uint32_t d = 0;
	unsigned used;

	for (unsigned i = 0; i < 40; i++)
		key[i] = (uint8_t)(i * 29 + 3);
	for (unsigned i = 0; i < 128; i++)
		map[i] = (i * 7 / 3) % NQ;
	/* As Linux: no flags to report before an algorithm is set. */
	CHECK_EQ(ctrl(R, PVIO_XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS, 0, 0, 0, &d), NS);
	CHECK_EQ(ctrl(R, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM,
		      PVIO_XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ, 0, 0, NULL), OK);
	CHECK_EQ(ctrl(R, PVIO_XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS, 0, 0, 0, &d), OK);
	CHECK_EQ(d, PVIO_XEN_NETIF_CTRL_HASH_TYPE_IPV4 | PVIO_XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP |
		    PVIO_XEN_NETIF_CTRL_HASH_TYPE_IPV6 | PVIO_XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP);
	CHECK_EQ(ctrl(R, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS, d, 0, 0, NULL), OK);
	set_key(R, key);
	CHECK_EQ(ctrl(R, PVIO_XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE, 0, 0, 0, &d), OK);
	CHECK_EQ(d, 128);
	CHECK_EQ(ctrl(R, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE, 128, 0, 0, NULL), OK);
	set_mapping(R, map, 128);
	used = check_flows(R, key, map, 128, 24, 8, 40000);
	CHECK_EQ(used, 3u);
	printf("ALGORITHM, GET_FLAGS, SET_FLAGS, KEY, MAPPING_SIZE 128, MAPPING: 24 TCP flows, "
	       "each on mapping[hash %% 128], HASH extra = the hash computed here\n");

	/* xenvif's __FrontendUpdateHash order, another key and table. */
	for (unsigned i = 0; i < 40; i++)
		key[i] = (uint8_t)(0xA5 ^ (i * 13));
	for (unsigned i = 0; i < 64; i++)
		map[i] = (i / 5) % NQ;
	CHECK_EQ(ctrl(R, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM,
		      PVIO_XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ, 0, 0, NULL), OK);
	CHECK_EQ(ctrl(R, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE, 64, 0, 0, NULL), OK);
	set_mapping(R, map, 64);
	set_key(R, key);
	CHECK_EQ(ctrl(R, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS,
		      PVIO_XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP | PVIO_XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP,
		      0, 0, NULL), OK);
	used = check_flows(R, key, map, 64, 24, 4, 50000);
	CHECK_EQ(used, 3u);
	printf("xenvif's order (ALGORITHM, MAPPING_SIZE, MAPPING, KEY, FLAGS): likewise\n");

	/* xenvif's "no hashing": Toeplitz over one entry 0, no flags. */
	map[0] = 0;
	CHECK_EQ(ctrl(R, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM,
		      PVIO_XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ, 0, 0, NULL), OK);
	CHECK_EQ(ctrl(R, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE, 1, 0, 0, NULL), OK);
	set_mapping(R, map, 1);
	set_key(R, key);
	CHECK_EQ(ctrl(R, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS, 0, 0, 0, NULL), OK);
	for (unsigned i = 0; i < 20; i++) {
		struct pg_flow f = tcpflow(i % 2, (uint16_t)(60000 + i), mac[R]);
		unsigned len = pg_build(frame, &f, i, 0, 64, 0), q = 99;
		struct nbf_rxinfo ri;

		CHECK(send_retry(A, 0, frame, len, NULL) > 0);
		CHECK_EQ(recv_any(R, &q, &ri, T), (int)len);
		CHECK_EQ(q, 0);
		CHECK(!ri.hash);
	}
	printf("xenvif's 'none' (Toeplitz, one entry, no flags): queue 0, no HASH extra\n");
}

static void test_garbage(void)
{
	static const uint8_t key[40] = { 1, 2, 3 };
	static const uint32_t map[4] = { 1, 0, 1, 0 };
	unsigned seed = 2024, ok = 0;
	char skey[64];
	uint32_t d;

	CHECK_EQ(ctrl(R, PVIO_XEN_NETIF_CTRL_TYPE_INVALID, 0, 0, 0, NULL), NS);
	CHECK_EQ(ctrl(R, PVIO_XEN_NETIF_CTRL_TYPE_GET_GREF_MAPPING_SIZE, 0, 0, 0, NULL), NS);
	CHECK_EQ(ctrl(R, PVIO_XEN_NETIF_CTRL_TYPE_ADD_GREF_MAPPING, fe[R].ctrl_page_ref, 1, 0,
		      NULL), NS);
	CHECK_EQ(ctrl(R, PVIO_XEN_NETIF_CTRL_TYPE_DEL_GREF_MAPPING, fe[R].ctrl_page_ref, 1, 0,
		      NULL), NS);
	CHECK_EQ(ctrl(R, 11, 1, 2, 3, NULL), NS);
	CHECK_EQ(ctrl(R, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, NULL), NS);
	CHECK_EQ(ctrl(R, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM, 2, 0, 0, NULL), INV);
	CHECK_EQ(ctrl(R, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS, 0x10, 0, 0, NULL), INV);
	CHECK_EQ(ctrl(R, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, fe[R].ctrl_page_ref, 41, 0, NULL),
		 INV);
	CHECK_EQ(ctrl(R, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, 0xFFFFFF, 40, 0, NULL), INV);
	CHECK_EQ(ctrl(R, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE, 129, 0, 0, NULL), INV);
	CHECK_EQ(ctrl(R, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE, 4, 0, 0, NULL), OK);
	CHECK_EQ(ctrl(R, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, fe[R].ctrl_page_ref, 2,
		      0xFFFFFFFF, NULL), INV);
	CHECK_EQ(ctrl(R, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, fe[R].ctrl_page_ref, 5, 0,
		      NULL), INV);
	CHECK_EQ(ctrl(R, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, 0xFFFFFF, 4, 0, NULL), INV);
	((uint32_t *)fe[R].ctrl_page)[0] = NQ;   /* no such queue */
	CHECK_EQ(ctrl(R, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, fe[R].ctrl_page_ref, 1, 0,
		      NULL), INV);
	/* Random requests: each answered, with its id, with a status. */
	for (unsigned i = 0; i < 2000; i++) {
		uint16_t type = (uint16_t)(rand_r(&seed) % 14);
		uint32_t dd[3];
		int st;

		for (int k = 0; k < 3; k++)
			dd[k] = rand_r(&seed) % 3 ? (uint32_t)rand_r(&seed) : (uint32_t)rand_r(&seed) % 300;
		if (rand_r(&seed) % 2)
			dd[0] = fe[R].ctrl_page_ref;
		for (unsigned b = 0; b < 64; b++)
			fe[R].ctrl_page[b] = (uint8_t)rand_r(&seed);
		st = ctrl(R, type, dd[0], dd[1], dd[2], NULL);
		CHECK(st >= 0 && st <= 3);
		ok += st == OK;
		if (tu_failures > 10)
			return;
	}
	snprintf(skey, sizeof(skey), "vif.%u.0.fatal", dom[R]);
	CHECK_EQ(nbt_stat(skey), 0);
	CHECK_EQ(nbt_be_wait(dom[R], 0, PVIO_XENBUS_MASK(PVIO_XENBUS_STATE_CONNECTED), 0),
		 PVIO_XENBUS_STATE_CONNECTED);
	printf("garbage on the ctrl ring: 2000 random requests answered (%u succeeded), the vif "
	       "stays up\n", ok);
	/* A fresh configuration after all that works. */
	CHECK_EQ(ctrl(R, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM,
		      PVIO_XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ, 0, 0, NULL), OK);
	CHECK_EQ(ctrl(R, PVIO_XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS, 0, 0, 0, &d), OK);
	CHECK_EQ(ctrl(R, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS, d, 0, 0, NULL), OK);
	set_key(R, key);
	CHECK_EQ(ctrl(R, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE, 4, 0, 0, NULL), OK);
	set_mapping(R, map, 4);
	CHECK(check_flows(R, key, map, 4, 12, 2, 30000) != 0);
}

static void test_tx_hash(void)
{
	struct nbf_txinfo ti = { .hash = true, .hash_type = _PVIO_XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP,
				 .hash_value = 0xdeadbeef };
	uint64_t ok0 = fe[R].q[1].tx_ok, err0 = fe[R].q[1].tx_err;
	unsigned len;

	memcpy(frame, mac[A], 6);
	memcpy(frame + 6, mac[R], 6);
	frame[12] = 0x88;
	frame[13] = 0xb5;
	for (unsigned b = 14; b < 300; b++)
		frame[b] = pg_byte(77, b);
	len = 300;
	CHECK(send_retry(R, 1, frame, len, &ti) > 0);
	CHECK_EQ(nbf_recv(&fe[A], 0, rbuf, sizeof(rbuf), NULL, T), (int)len);
	CHECK_EQ(memcmp(rbuf, frame, len), 0);
	CHECK_EQ(nbf_tx_drain(&fe[R], 1, T), 0);
	CHECK_EQ(fe[R].q[1].tx_ok, ok0 + 1);
	CHECK_EQ(fe[R].q[1].tx_err, err0);
	printf("a HASH extra on tx is accepted (the frame goes through)\n");
}

static void test_one_queue(void)
{
	static const uint32_t zero[1] = { 0 }, one[1] = { 1 };
	uint8_t key[40];
	uint32_t d = 0;

	for (unsigned i = 0; i < 40; i++)
		key[i] = (uint8_t)(i * 101 + 17);
	/* Linux accepts Toeplitz whatever the queue count; only queue 0
	 * can be named. */
	CHECK_EQ(ctrl(S, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM,
		      PVIO_XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ, 0, 0, NULL), OK);
	CHECK_EQ(ctrl(S, PVIO_XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS, 0, 0, 0, &d), OK);
	CHECK_EQ(ctrl(S, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS, d, 0, 0, NULL), OK);
	set_key(S, key);
	CHECK_EQ(ctrl(S, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE, 1, 0, 0, NULL), OK);
	memcpy(fe[S].ctrl_page, one, 4);
	CHECK_EQ(ctrl(S, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, fe[S].ctrl_page_ref, 1, 0,
		      NULL), INV);
	set_mapping(S, zero, 1);
	CHECK_EQ(check_flows(S, key, zero, 1, 6, 2, 20000), 1u);
	printf("one queue: Toeplitz accepted as Linux does, HASH extras sent, queue 1 refused\n");
}

int main(void)
{
	static const char *const args[] = { "--max-queues", "4", "--workers", "2", NULL };
	struct nbf_opts o[NG] = {
		{ .sg = true },
		{ .sg = true, .nq = NQ, .ctrl = true, .nq_key = true, .mcast = true, .csum6 = true },
		{ .sg = true, .ctrl = true, .nq_key = true },
	};
	struct pvio_hv *g[NG];

	test_vectors();
	nbt_require_netback();
	nbt_start();
	if (nbt_start_netback(args) < 0)
		return 1;
	for (unsigned i = 0; i < NG; i++) {
		g[i] = nbt_guest_vif(i, 0x09, 32, &dom[i], mac[i]);
		if (nbf_connect(&fe[i], g[i], 0, &o[i], T) != 0) {
			nbt_dump_log();
			REQUIRE(!"connect");
		}
	}
	/* The bridge learns A (a broadcast, which R and S get), then R and S. */
	memset(frame, 0xff, 6);
	memcpy(frame + 6, mac[A], 6);
	memset(frame + 12, 0x88, 48);
	CHECK(send_retry(A, 0, frame, 60, NULL) > 0);
	{
		unsigned q;
		struct nbf_rxinfo ri;

		CHECK_EQ(recv_any(R, &q, &ri, T), 60);
		CHECK_EQ(recv_any(S, &q, &ri, T), 60);
	}
	for (unsigned s = R; s <= S; s++) {
		memcpy(frame, mac[A], 6);
		memcpy(frame + 6, mac[s], 6);
		memset(frame + 12, 0x88, 48);
		CHECK(send_retry(s, 0, frame, 60, NULL) > 0);
		CHECK_EQ(nbf_recv(&fe[A], 0, rbuf, sizeof(rbuf), NULL, T), 60);
	}
	test_sequence();
	test_garbage();
	test_tx_hash();
	test_one_queue();
	for (unsigned i = 0; i < NG; i++) {
		for (unsigned k = 0; k < fe[i].nq; k++)
			CHECK_EQ(fe[i].q[k].rx_protocol_errors, 0);
		nbf_close(&fe[i], T);
	}
	CHECK_EQ(nbt_stat_wait("mempool.in_use", nbt_stat("mempool.baseline"), true, T),
		 nbt_stat("mempool.baseline"));
	CHECK_EQ(nbt_stop_netback(), 0);
	if (tu_failures)
		nbt_dump_log();
	return tu_result();
}
