/* SPDX-License-Identifier: MIT */
/*
 * pvio-netback end to end: multi-queue, split event channels, the control
 * ring and multicast control.
 *   - guest M connects 3 queues with split event channels and a ctrl ring
 *     (netback --max-queues 4 --workers 3); flows from A spread over its
 *     queues
 *   - M configures Toeplitz hashing (key, flags, a mapping table) through
 *     its ctrl ring: every frame then arrives on queue mapping[hash % 8]
 *     with a HASH extra-info whose value matches the Toeplitz hash computed
 *     here; IPv6 likewise; M transmits on every queue
 *   - multicast control: M asks for 01:00:5e:00:00:01 only (MCAST_ADD extra
 *     on tx): it gets that group and broadcasts, not other groups, until it
 *     removes it (MCAST_DEL); guest C, without multicast control, gets all
 */
#include <stdlib.h>

#include "netback/nb_pkt.h"
#include "tests/common/testutil.h"
#include "tests/netback/nbtest.h"
#include "tests/netback/pktgen.h"
#include "xenstore/xenbus.h"

#define T 8000
#define NQ 3
enum { A = 0, M = 1, C = 2, NG = 3 };

static uint8_t mac[NG][6];
static struct nbf fe[NG];
static uint16_t dom[NG];
static uint8_t frame[70000], rbuf[70000];

/* One frame at M on any queue: returns its length and the queue. */
static int recv_m(unsigned *q, struct nbf_rxinfo *ri, int timeout_ms)
{
	double end = tu_now() + timeout_ms / 1000.0;

	do {
		for (unsigned k = 0; k < NQ; k++) {
			int r = nbf_recv(&fe[M], k, rbuf, sizeof(rbuf), ri, 0);

			if (r != 0) {
				*q = k;
				return r;
			}
		}
		nbf_wait(&fe[M], 0, 1);
	} while (tu_now() < end);
	return 0;
}

static int send_retry(unsigned s, unsigned q, const uint8_t *buf, unsigned len,
		      const struct nbf_txinfo *ti)
{
	double end = tu_now() + T / 1000.0;
	int r;

	while ((r = nbf_send(&fe[s], q, buf, len, ti)) == -EAGAIN && tu_now() < end)
		nbf_wait(&fe[s], q, 2);
	return r;
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
		f.saddr[i] = (uint8_t)(10 + i * 3);
		f.daddr[i] = (uint8_t)(99 - i);
	}
	f.sport = sport;
	f.dport = 443;
	return f;
}

static uint32_t toeplitz(const uint8_t *key, const struct pg_flow *f, bool ports)
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
	return pvio_netif_toeplitz_hash(key, 40, in, n);
}

static int ctrl(uint16_t type, uint32_t d0, uint32_t d1, uint32_t d2)
{
	return nbf_ctrl(&fe[M], type, d0, d1, d2, NULL, T);
}

static void test_spread(void)
{
	unsigned hits[NQ] = { 0 };

	for (unsigned i = 0; i < 300; i++) {
		struct pg_flow f = tcpflow(false, (uint16_t)(10000 + i), mac[M]);
		unsigned len = pg_build(frame, &f, i, 0, 100, 0), q = 99;
		struct nbf_rxinfo ri;

		CHECK(send_retry(A, 0, frame, len, NULL) > 0);
		CHECK_EQ(recv_m(&q, &ri, T), (int)len);
		CHECK(!ri.hash);
		if (q < NQ)
			hits[q]++;
	}
	printf("default spread over %d queues: %u %u %u\n", NQ, hits[0], hits[1], hits[2]);
	for (unsigned k = 0; k < NQ; k++)
		CHECK(hits[k] > 30);
}

static void test_toeplitz(void)
{
	static const uint32_t map[8] = { 1, 0, 2, 2, 0, 1, 1, 0 };
	uint8_t key[40];
	unsigned hits[NQ] = { 0 };

	for (unsigned i = 0; i < 40; i++)
		key[i] = (uint8_t)(i * 37 + 11);
	CHECK_EQ(ctrl(PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM,
		      PVIO_XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ, 0, 0), 0);
	CHECK_EQ(ctrl(PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS, 0xF, 0, 0), 0);
	memcpy(fe[M].ctrl_page, key, 40);
	CHECK_EQ(ctrl(PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, fe[M].ctrl_page_ref, 40, 0), 0);
	CHECK_EQ(ctrl(PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE, 8, 0, 0), 0);
	/* Queue 3 does not exist: refused. */
	memcpy(fe[M].ctrl_page, map, sizeof(map));
	((uint32_t *)fe[M].ctrl_page)[5] = NQ;
	CHECK_EQ(ctrl(PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, fe[M].ctrl_page_ref, 8, 0),
		 PVIO_XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
	memcpy(fe[M].ctrl_page, map, sizeof(map));
	CHECK_EQ(ctrl(PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, fe[M].ctrl_page_ref, 8, 0), 0);

	for (unsigned i = 0; i < 400; i++) {
		bool v6 = i % 2;
		struct pg_flow f = tcpflow(v6, (uint16_t)(20000 + i * 13), mac[M]);
		unsigned len = pg_build(frame, &f, i, 0, 64, 0), q = 99;
		uint32_t h = toeplitz(key, &f, true);
		struct nbf_rxinfo ri;

		CHECK(send_retry(A, 0, frame, len, NULL) > 0);
		CHECK_EQ(recv_m(&q, &ri, T), (int)len);
		CHECK_EQ(q, map[h % 8]);
		CHECK(ri.hash);
		CHECK_EQ(ri.hash_alg, PVIO_XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ);
		CHECK_EQ(ri.hash_type, v6 ? _PVIO_XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP
					  : _PVIO_XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP);
		CHECK_EQ(ri.hash_value, h);
		CHECK(ri.flags & PVIO_NETRXF_extra_info);
		if (q < NQ)
			hits[q]++;
		if (tu_failures > 10)
			return;
	}
	printf("Toeplitz with M's key and mapping: %u %u %u, hash extra-info matches\n", hits[0],
	       hits[1], hits[2]);
	/* Addresses only, for IPv4: the 2-tuple hash. */
	CHECK_EQ(ctrl(PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS, PVIO_XEN_NETIF_CTRL_HASH_TYPE_IPV4,
		      0, 0), 0);
	{
		struct pg_flow f = tcpflow(false, 5555, mac[M]);
		unsigned len = pg_build(frame, &f, 1, 0, 64, 0), q = 99;
		struct nbf_rxinfo ri;

		CHECK(send_retry(A, 0, frame, len, NULL) > 0);
		CHECK_EQ(recv_m(&q, &ri, T), (int)len);
		CHECK(ri.hash);
		CHECK_EQ(ri.hash_type, _PVIO_XEN_NETIF_CTRL_HASH_TYPE_IPV4);
		CHECK_EQ(ri.hash_value, toeplitz(key, &f, false));
		CHECK_EQ(q, map[toeplitz(key, &f, false) % 8]);
		/* IPv6 is not hashed now: no extra, mapping[0]. */
		f = tcpflow(true, 5555, mac[M]);
		len = pg_build(frame, &f, 1, 0, 64, 0);
		CHECK(send_retry(A, 0, frame, len, NULL) > 0);
		CHECK_EQ(recv_m(&q, &ri, T), (int)len);
		CHECK(!ri.hash);
		CHECK_EQ(q, map[0]);
	}
	/* Back to no hashing. */
	CHECK_EQ(ctrl(PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM,
		      PVIO_XEN_NETIF_CTRL_HASH_ALGORITHM_NONE, 0, 0), 0);
}

static void test_tx_queues(void)
{
	for (unsigned k = 0; k < NQ; k++)
		for (unsigned i = 0; i < 50; i++) {
			unsigned len = 100 + i * 30;

			memcpy(frame, mac[A], 6);
			memcpy(frame + 6, mac[M], 6);
			frame[12] = 0x88;
			frame[13] = 0xb5;
			for (unsigned b = 14; b < len; b++)
				frame[b] = pg_byte(k * 100 + i, b);
			CHECK(send_retry(M, k, frame, len, NULL) > 0);
			CHECK_EQ(nbf_recv(&fe[A], 0, rbuf, sizeof(rbuf), NULL, T), (int)len);
			CHECK_EQ(memcmp(rbuf, frame, len), 0);
		}
	printf("M transmits on all %d queues\n", NQ);
}

static void mcast_op(uint8_t type, const uint8_t *addr)
{
	struct pvio_netif_tx_request r[2];
	struct pvio_netif_extra_info x;
	int id = nbf_tx_id(&fe[M], 0);

	REQUIRE(id >= 0);
	memset(r, 0, sizeof(r));
	r[0].gref = nbf_txref(&fe[M], 0, (unsigned)id);
	r[0].flags = PVIO_NETTXF_extra_info;
	r[0].id = (uint16_t)id;
	r[0].size = 0;
	memset(&x, 0, sizeof(x));
	x.type = type;
	memcpy(x.u.mcast.addr, addr, 6);
	memcpy(&r[1], &x, sizeof(x));
	r[1].id = 0xFFFF;
	CHECK_EQ(nbf_send_raw(&fe[M], 0, r, 2, true), 2);
	CHECK_EQ(nbf_tx_drain(&fe[M], 0, T), 0);
}

/* Send one frame from A to dst; which of M and C get it? (bit 0: M, 1: C) */
static unsigned reaches(const uint8_t *dst, uint32_t tag)
{
	struct nbf_rxinfo ri;
	unsigned q, got = 0;

	memcpy(frame, dst, 6);
	memcpy(frame + 6, mac[A], 6);
	frame[12] = 0x88;
	frame[13] = 0xb5;
	for (unsigned b = 14; b < 200; b++)
		frame[b] = pg_byte(tag, b);
	CHECK(send_retry(A, 0, frame, 200, NULL) > 0);
	if (recv_m(&q, &ri, 200) == 200 && memcmp(rbuf, frame, 200) == 0)
		got |= 1;
	if (nbf_recv(&fe[C], 0, rbuf, sizeof(rbuf), NULL, 200) == 200 &&
	    memcmp(rbuf, frame, 200) == 0)
		got |= 2;
	return got;
}

static void test_mcast(void)
{
	const uint8_t g1[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 };
	const uint8_t g2[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x02 };
	const uint8_t v6g[6] = { 0x33, 0x33, 0x00, 0x00, 0x00, 0x01 };
	const uint8_t bc[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

	/* Nothing subscribed yet: M gets broadcasts only; C everything. */
	CHECK_EQ(reaches(g1, 1), 2);
	CHECK_EQ(reaches(bc, 2), 3);
	mcast_op(PVIO_XEN_NETIF_EXTRA_TYPE_MCAST_ADD, g1);
	mcast_op(PVIO_XEN_NETIF_EXTRA_TYPE_MCAST_ADD, g1);   /* twice: fine */
	CHECK_EQ(reaches(g1, 3), 3);
	CHECK_EQ(reaches(g2, 4), 2);
	CHECK_EQ(reaches(v6g, 5), 2);
	CHECK_EQ(reaches(bc, 6), 3);
	mcast_op(PVIO_XEN_NETIF_EXTRA_TYPE_MCAST_DEL, g1);
	CHECK_EQ(reaches(g1, 7), 2);
	CHECK_EQ(fe[M].q[0].tx_err, 0);
	CHECK_EQ(nbf_recv(&fe[C], 0, rbuf, sizeof(rbuf), NULL, 50), 0);
	printf("multicast control: M gets only the groups it asked for\n");
}

int main(void)
{
	/* Three workers: the queues are spread over them, so frames cross
	 * between pollers (backlog kicks, sleeping workers woken). */
	static const char *const args[] = { "--max-queues", "4", "--workers", "3", NULL };
	struct nbf_opts o[NG] = {
		{ .sg = true },
		{ .sg = true, .nq = NQ, .split = true, .ctrl = true, .mcast = true },
		{ .sg = true },
	};
	struct pvio_hv *g[NG];
	char key[64];

	nbt_require_netback();
	nbt_start();
	if (nbt_start_netback(args) < 0)
		return 1;
	for (unsigned i = 0; i < NG; i++) {
		g[i] = nbt_guest_vif(i, 0x05, 32, &dom[i], mac[i]);
		if (nbf_connect(&fe[i], g[i], 0, &o[i], T) != 0) {
			nbt_dump_log();
			REQUIRE(!"connect");
		}
	}
	CHECK(fe[M].be_split && fe[M].be_ctrl && fe[M].be_max_queues == 4);
	snprintf(key, sizeof(key), "vif.%u.0.queues", dom[M]);
	CHECK_EQ(nbt_stat(key), NQ);
	/* Learn A (a broadcast, which M and C get), then M and C. */
	{
		uint8_t b[60] = { 0 };
		unsigned q;
		struct nbf_rxinfo ri;

		memset(b, 0xff, 6);
		memcpy(b + 6, mac[A], 6);
		CHECK(send_retry(A, 0, b, 60, NULL) > 0);
		CHECK_EQ(recv_m(&q, &ri, T), 60);
		CHECK_EQ(nbf_recv(&fe[C], 0, rbuf, sizeof(rbuf), NULL, T), 60);
		memcpy(b, mac[A], 6);
		for (unsigned s = M; s <= C; s++) {
			memcpy(b + 6, mac[s], 6);
			CHECK(send_retry(s, 0, b, 60, NULL) > 0);
			CHECK_EQ(nbf_recv(&fe[A], 0, rbuf, sizeof(rbuf), NULL, T), 60);
		}
	}
	test_spread();
	test_toeplitz();
	test_tx_queues();
	test_mcast();
	snprintf(key, sizeof(key), "vif.%u.0.ctrl_reqs", dom[M]);
	CHECK_EQ(nbt_stat(key), 8);
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
