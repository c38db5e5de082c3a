/* SPDX-License-Identifier: MIT */
/*
 * pvio-netback against a hostile frontend, end to end. Guest H misbehaves
 * in every way the netif protocol allows; after each case guests A and B
 * still exchange frames, netback is alive, and H either got an error
 * response (per-packet faults) or was disconnected (protocol violations:
 * the backend goes Closed for H alone) and can reconnect.
 *
 *   per packet: bad gref, read-only rx buffer, zero-length slots (XSA-448),
 *     19 and 20 fragments, a fragment larger than the packet, a runt first
 *     slot, GSO with size 1 / unknown type / on UDP / absurdly large,
 *     checksum offload on a non-IP frame, multicast control with a unicast
 *     address, an event storm
 *   fatal: fragment past its page, first slot past its page, more_data
 *     never terminated, a chain past the malicious threshold, an invalid
 *     extra-info type, extra-info promised and missing, tx and rx req_prod
 *     overflow, ctrl req_prod overflow, the event channel closed under a
 *     connected device
 *   ctrl ring: out-of-range mapping and sizes refused (XSA-270)
 *
 * test_netback_hostile_pg runs all of it with H offering feature-persistent
 * (netback copies through its kept mappings: pvio_pgrant_copy), and checks
 * that the mappings were used and are all gone once H is disconnected.
 */
#include <stdlib.h>

#include "netback/nb_pkt.h"
#include "tests/common/testutil.h"
#include "tests/netback/nbtest.h"
#include "tests/netback/pktgen.h"
#include "xenstore/xenbus.h"

#ifndef NB_HOSTILE_PERSISTENT
#define NB_HOSTILE_PERSISTENT 0
#endif

#define T 8000
enum { A = 0, B = 1, H = 2, NG = 3 };

static uint8_t mac[NG][6];
static struct nbf fe[NG];
static uint16_t dom[NG];
static struct pvio_hv *g[NG];
static uint8_t frame[70000], rbuf[70000];
static struct nbf_opts hopts = { .sg = true, .ctrl = true,
				 .persistent = NB_HOSTILE_PERSISTENT };
static uint32_t tagc = 1;

static long long hstat(const char *what)
{
	char key[64];

	snprintf(key, sizeof(key), "vif.%u.0.%s", dom[H], what);
	return nbt_stat(key);
}

static unsigned mkframe(uint8_t *buf, unsigned d, unsigned s, uint32_t tag, unsigned len)
{
	memcpy(buf, mac[d], 6);
	memcpy(buf + 6, mac[s], 6);
	buf[12] = 0x88;
	buf[13] = 0xb5;
	for (unsigned i = 14; i < len; i++)
		buf[i] = pg_byte(tag, i);
	return len;
}

static bool deliver(unsigned s, unsigned d, unsigned len)
{
	uint32_t tag = tagc++;
	double end = tu_now() + T / 1000.0;
	int r;

	mkframe(frame, d, s, tag, len);
	while ((r = nbf_send(&fe[s], 0, frame, len, NULL)) == -EAGAIN && tu_now() < end)
		nbf_wait(&fe[s], 0, 5);
	if (r <= 0)
		return false;
	for (;;) {
		r = nbf_recv(&fe[d], 0, rbuf, sizeof(rbuf), NULL, T);
		if (r <= 0)
			return false;
		/* Skip anything older (floods from earlier cases). */
		if (r == (int)len && memcmp(rbuf, frame, len) == 0)
			return true;
	}
}

/* A and B still talk; netback still runs. */
static void others_fine(const char *after)
{
	bool ok = deliver(A, B, 100) && deliver(B, A, 1514) && deliver(A, B, 9000);

	if (!ok)
		fprintf(stderr, "A<->B broken after: %s\n", after);
	CHECK(ok);
	CHECK(kill(nbt.netback, 0) == 0);
}

static struct pvio_netif_tx_request req(uint32_t gref, uint16_t off, uint16_t flags, uint16_t id,
					uint16_t size)
{
	struct pvio_netif_tx_request r = { .gref = gref, .offset = off, .flags = flags, .id = id,
					   .size = size };
	return r;
}

static struct pvio_netif_tx_request xreq(uint8_t type, uint8_t flags, uint16_t a, uint8_t b)
{
	struct pvio_netif_tx_request r;
	struct pvio_netif_extra_info x;

	memset(&r, 0, sizeof(r));
	memset(&x, 0, sizeof(x));
	x.type = type;
	x.flags = flags;
	x.u.gso.size = a;
	x.u.gso.type = b;
	memcpy(&r, &x, sizeof(x));
	r.id = 0xFFFF;   /* bytes past the extra: not an id nbf tracks */
	return r;
}

/* A frame from H in tx page `id` (valid headers), to A. */
static uint32_t hpage(unsigned id, unsigned len)
{
	mkframe(nbf_txpage(&fe[H], 0, id), A, H, tagc++, len);
	return nbf_txref(&fe[H], 0, id);
}

/* Push raw requests from H and wait for all answers; return how many
 * ERROR responses came back. */
static long long raw_errors(const struct pvio_netif_tx_request *r, unsigned n)
{
	uint64_t before = fe[H].q[0].tx_err;

	REQUIRE(nbf_send_raw(&fe[H], 0, r, n, true) == (int)n);
	CHECK_EQ(nbf_tx_drain(&fe[H], 0, T), 0);
	return (long long)(fe[H].q[0].tx_err - before);
}

static void reconnect_h(void)
{
	nbf_close(&fe[H], T);
	if (nbf_connect(&fe[H], g[H], 0, &hopts, T) != 0) {
		nbt_dump_log();
		REQUIRE(!"H reconnect");
	}
	CHECK(deliver(H, A, 200));
	CHECK(deliver(A, H, 200));
}

/* Something fatal was done by H: its backend goes Closed, the fatal count
 * grows, the others are fine, H can come back. */
static void expect_fatal(const char *what, long long *fatal)
{
	int st = nbt_be_wait(dom[H], 0, PVIO_XENBUS_MASK(PVIO_XENBUS_STATE_CLOSED), T);

	if (st != PVIO_XENBUS_STATE_CLOSED)
		fprintf(stderr, "%s: backend state %d, want Closed\n", what, st);
	CHECK_EQ(st, PVIO_XENBUS_STATE_CLOSED);
	(*fatal)++;
	{
		char key[64];

		snprintf(key, sizeof(key), "vif.%u.0.fatal", dom[H]);
		/* Counters survive the disconnection; a reprobe (reconnect)
		 * starts a new device. */
		CHECK_EQ(nbt_stat_wait(key, 1, false, T), 1);
	}
	others_fine(what);
	reconnect_h();
	printf("fatal: %s: H disconnected, others fine, H reconnected\n", what);
}

static void per_packet_cases(void)
{
	struct pvio_netif_tx_request r[32];

	/* Bad gref. */
	r[0] = req(99999, 0, 0, 0, 60);
	CHECK_EQ(raw_errors(r, 1), 1);
	/* A gref out of the table's range entirely. */
	r[0] = req(0xFFFFFFFF, 0, 0, 1, 60);
	CHECK_EQ(raw_errors(r, 1), 1);
	/* Bad gref in the third slot of a chain: the whole packet fails. */
	r[0] = req(hpage(10, 1000), 0, PVIO_NETTXF_more_data, 10, 3000);
	r[1] = req(hpage(11, 1000), 0, PVIO_NETTXF_more_data, 11, 1000);
	r[2] = req(12345, 0, 0, 12, 1000);
	CHECK_EQ(raw_errors(r, 3), 3);
	others_fine("bad grefs");
	CHECK(deliver(H, A, 500));

	/* Zero-length slots everywhere in a chain (XSA-448): accepted. */
	{
		struct nbf_txinfo ti = { .slot_bytes = 700, .zero_slots = true };
		uint32_t tag = tagc++;
		unsigned len = mkframe(frame, A, H, tag, 5000);
		int n;

		CHECK(nbf_send(&fe[H], 0, frame, len, &ti) > 0);
		n = nbf_recv(&fe[A], 0, rbuf, sizeof(rbuf), NULL, T);
		CHECK(n == (int)len && memcmp(rbuf, frame, len) == 0);
		CHECK_EQ(nbf_tx_drain(&fe[H], 0, T), 0);
		CHECK(hstat("tx_zero_slots") >= 7);
	}
	/* 19 and 20 fragments: dropped, every slot answered with an error. */
	for (unsigned nf = 19; nf <= 20; nf++) {
		r[0] = req(hpage(20, 100), 0, PVIO_NETTXF_more_data, 20, (uint16_t)(100 + nf * 10));
		for (unsigned i = 1; i <= nf; i++)
			r[i] = req(hpage(20 + i, 100), 0, i < nf ? PVIO_NETTXF_more_data : 0,
				   (uint16_t)(20 + i), 10);
		CHECK_EQ(raw_errors(r, nf + 1), nf + 1);
	}
	/* 18 fragments is fine. */
	r[0] = req(hpage(50, 100), 0, PVIO_NETTXF_more_data, 50, 100 + 18 * 10);
	for (unsigned i = 1; i <= 18; i++)
		r[i] = req(hpage(50 + i, 100), 0, i < 18 ? PVIO_NETTXF_more_data : 0,
			   (uint16_t)(50 + i), 10);
	CHECK_EQ(raw_errors(r, 19), 0);
	CHECK(nbf_recv(&fe[A], 0, rbuf, sizeof(rbuf), NULL, T) == 280);
	/* A fragment larger than what the size leaves. */
	r[0] = req(hpage(80, 1000), 0, PVIO_NETTXF_more_data, 80, 1000);
	r[1] = req(hpage(81, 1000), 0, 0, 81, 1500);
	CHECK_EQ(raw_errors(r, 2), 2);
	/* Runt first slot. */
	r[0] = req(hpage(82, 100), 0, PVIO_NETTXF_more_data, 82, 110);
	r[1] = req(hpage(83, 100), 0, 0, 83, 100);
	CHECK_EQ(raw_errors(r, 2), 2);
	/* GSO size 1, unknown type: dropped (the extra gets a NULL answer). */
	r[0] = req(hpage(84, 200), 0, PVIO_NETTXF_extra_info | PVIO_NETTXF_csum_blank, 84, 200);
	r[1] = xreq(PVIO_XEN_NETIF_EXTRA_TYPE_GSO, 0, 1, PVIO_XEN_NETIF_GSO_TYPE_TCPV4);
	CHECK_EQ(raw_errors(r, 2), 1);
	CHECK(fe[H].q[0].tx_null >= 1);
	r[1] = xreq(PVIO_XEN_NETIF_EXTRA_TYPE_GSO, 0, 1448, 9);
	CHECK_EQ(raw_errors(r, 2), 1);
	/* GSO on a frame that is not TCP (our test frames are ethertype
	 * 0x88b5), and on UDP. */
	r[1] = xreq(PVIO_XEN_NETIF_EXTRA_TYPE_GSO, 0, 1448, PVIO_XEN_NETIF_GSO_TYPE_TCPV4);
	CHECK_EQ(raw_errors(r, 2), 1);
	{
		struct pg_flow f;
		unsigned len;

		memset(&f, 0, sizeof(f));
		memcpy(f.dst, mac[A], 6);
		memcpy(f.src, mac[H], 6);
		f.proto = PG_UDP;
		len = pg_build(nbf_txpage(&fe[H], 0, 85), &f, 1, 0, 3000, 1);
		r[0] = req(nbf_txref(&fe[H], 0, 85), 0,
			   PVIO_NETTXF_extra_info | PVIO_NETTXF_csum_blank, 85, (uint16_t)len);
		CHECK_EQ(raw_errors(r, 2), 1);
		/* GSO of 65535 on a real TCP frame: one segment, delivered. */
		f.proto = PG_TCP;
		len = pg_build(nbf_txpage(&fe[H], 0, 86), &f, 1, 0, 2000, 1);
		r[0] = req(nbf_txref(&fe[H], 0, 86), 0,
			   PVIO_NETTXF_extra_info | PVIO_NETTXF_csum_blank, 86, (uint16_t)len);
		r[1] = xreq(PVIO_XEN_NETIF_EXTRA_TYPE_GSO, 0, 65535, PVIO_XEN_NETIF_GSO_TYPE_TCPV4);
		CHECK_EQ(raw_errors(r, 2), 0);
		CHECK_EQ(nbf_recv(&fe[A], 0, rbuf, sizeof(rbuf), NULL, T), (int)len);
		CHECK(pg_csum_ok(rbuf, len, &f));
		/* csum_blank on a TCP frame truncated inside its header. */
		len = pg_build(nbf_txpage(&fe[H], 0, 87), &f, 1, 0, 0, 1);
		pg_put16(nbf_txpage(&fe[H], 0, 87) + 16, 20 + 10);   /* tot_len: no full TCP header */
		r[0] = req(nbf_txref(&fe[H], 0, 87), 0, PVIO_NETTXF_csum_blank, 87, (uint16_t)len);
		CHECK_EQ(raw_errors(r, 1), 1);
	}
	/* Checksum offload on a non-IP frame. */
	r[0] = req(hpage(88, 100), 0, PVIO_NETTXF_csum_blank, 88, 100);
	CHECK_EQ(raw_errors(r, 1), 1);
	/* Multicast control with a unicast address: error; a real one: ok. */
	r[0] = req(hpage(89, 60), 0, PVIO_NETTXF_extra_info, 89, 0);
	r[1] = xreq(PVIO_XEN_NETIF_EXTRA_TYPE_MCAST_ADD, 0, 0, 0);
	memcpy((uint8_t *)&r[1] + 2, "\x02\x00\x00\x00\x00\x01", 6);
	CHECK_EQ(raw_errors(r, 2), 1);
	memcpy((uint8_t *)&r[1] + 2, "\x01\x00\x5e\x00\x00\x01", 6);
	CHECK_EQ(raw_errors(r, 2), 0);

	/* An rx buffer the backend may not write (granted read-only). */
	{
		struct nbf_q *q = &fe[H].q[0];
		struct pvio_netif_rx_request *rq;
		int n;

		/* Tamper: rewrite the gref of every request still posted. */
		for (uint32_t i = q->rx.rsp_cons; i != q->rx.req_prod_pvt; i++) {
			rq = &((union pvio_netif_rx_slot *)q->rx.sring->ring)[i % 256].req;
			rq->gref = nbf_txref(&fe[H], 0, 200);
		}
		mkframe(frame, H, A, tagc++, 300);
		CHECK(nbf_send(&fe[A], 0, frame, 300, NULL) > 0);
		n = nbf_recv(&fe[H], 0, rbuf, sizeof(rbuf), NULL, T);
		CHECK_EQ(n, -EIO);
		CHECK(hstat("rx_errors") >= 1);
		/* The reposted buffers are good again: H receives. */
		for (uint32_t i = q->rx.rsp_cons; i != q->rx.req_prod_pvt; i++) {
			rq = &((union pvio_netif_rx_slot *)q->rx.sring->ring)[i % 256].req;
			rq->gref = q->rxbuf_ref[q->rx_slot_id[i % 256]];
		}
		CHECK(deliver(A, H, 1000));
	}
	/* An event storm: 100000 kicks, no requests. */
	{
		long long w0 = hstat("wakeups");

		for (unsigned i = 0; i < 100000; i++)
			pvio_hv_evtchn_notify(g[H], fe[H].q[0].port_tx);
		others_fine("event storm");
		printf("event storm: 100000 kicks cost %lld wake-ups\n", hstat("wakeups") - w0);
	}
	CHECK_EQ(nbt_be_wait(dom[H], 0, PVIO_XENBUS_MASK(PVIO_XENBUS_STATE_CONNECTED), 10),
		 PVIO_XENBUS_STATE_CONNECTED);
	CHECK_EQ(hstat("fatal"), 0);
	CHECK_EQ(hstat("tx_errors"), 14);   /* one per faulty packet above */
	others_fine("per-packet cases");
	printf("per-packet faults: errors answered, H still connected\n");
}

static void ctrl_cases(void)
{
	uint32_t *m = (uint32_t *)fe[H].ctrl_page, d;

	CHECK_EQ(nbf_ctrl(&fe[H], PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM,
			  PVIO_XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ, 0, 0, NULL, T), 0);
	CHECK_EQ(nbf_ctrl(&fe[H], PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE, 1000, 0, 0, NULL,
			  T), PVIO_XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
	CHECK_EQ(nbf_ctrl(&fe[H], PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE, 16, 0, 0, NULL,
			  T), 0);
	memset(m, 0, 4096);
	m[3] = 1;   /* H has one queue: 1 is out of range */
	CHECK_EQ(nbf_ctrl(&fe[H], PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, fe[H].ctrl_page_ref,
			  16, 0, NULL, T), PVIO_XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
	m[3] = 0;
	CHECK_EQ(nbf_ctrl(&fe[H], PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, fe[H].ctrl_page_ref,
			  16, 0xFFFFFFF8u, NULL, T), PVIO_XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
	CHECK_EQ(nbf_ctrl(&fe[H], PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, fe[H].ctrl_page_ref,
			  1024 * 1024, 0, NULL, T), PVIO_XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
	CHECK_EQ(nbf_ctrl(&fe[H], PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, 99999, 4, 0, NULL,
			  T), PVIO_XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
	/* A key longer than 40 bytes: INVALID_PARAMETER, as Linux. */
	CHECK_EQ(nbf_ctrl(&fe[H], PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, fe[H].ctrl_page_ref,
			  4096, 0, NULL, T), PVIO_XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER);
	CHECK_EQ(nbf_ctrl(&fe[H], PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, fe[H].ctrl_page_ref,
			  16, 0, NULL, T), 0);
	CHECK_EQ(nbf_ctrl(&fe[H], 0xBEEF, 1, 2, 3, &d, T), PVIO_XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED);
	CHECK(deliver(A, H, 100));
	others_fine("ctrl requests");
	printf("ctrl ring: out-of-range requests refused\n");
}

int main(void)
{
	struct nbf_opts o = { .sg = true };
	long long fatal = 0;
	struct pvio_netif_tx_request r[32];

	nbt_require_netback();
	nbt_start();
	if (nbt_start_netback(NULL) < 0)
		return 1;
	for (unsigned i = 0; i < NG; i++) {
		g[i] = nbt_guest_vif(i, 0x02, i == H ? 96 : 16, &dom[i], mac[i]);
	}
	for (unsigned i = 0; i < NG; i++)
		if (nbf_connect(&fe[i], g[i], 0, i == H ? &hopts : &o, T) != 0) {
			nbt_dump_log();
			REQUIRE(!"connect");
		}
	/* Learn everyone. */
	CHECK(deliver(A, B, 60) && deliver(B, A, 60) && deliver(H, A, 60) && deliver(A, H, 60));
	/* H's copies go through kept mappings iff it offered them. */
	CHECK_EQ(hstat("persistent"), NB_HOSTILE_PERSISTENT);
	if (NB_HOSTILE_PERSISTENT)
		CHECK(hstat("pgrant_maps") >= 2);   /* a tx page and an rx page */
	else
		CHECK_EQ(hstat("pgrant_maps"), 0);

	per_packet_cases();
	ctrl_cases();

	/* Fatal cases. */
	r[0] = req(hpage(1, 100), 0, PVIO_NETTXF_more_data, 1, 300);
	r[1] = req(hpage(2, 100), 4000, 0, 2, 200);
	nbf_send_raw(&fe[H], 0, r, 2, true);
	expect_fatal("fragment past its page", &fatal);

	r[0] = req(hpage(1, 100), 4000, 0, 1, 200);
	nbf_send_raw(&fe[H], 0, r, 1, true);
	expect_fatal("first slot past its page", &fatal);

	r[0] = req(hpage(1, 100), 0, PVIO_NETTXF_more_data, 1, 300);
	r[1] = req(hpage(2, 100), 0, PVIO_NETTXF_more_data, 2, 100);
	nbf_send_raw(&fe[H], 0, r, 2, true);
	expect_fatal("more_data never terminated", &fatal);

	r[0] = req(hpage(1, 100), 0, PVIO_NETTXF_more_data, 1, 100 + 21 * 4);
	for (unsigned i = 1; i <= 21; i++)
		r[i] = req(hpage(1 + i, 100), 0, i < 21 ? PVIO_NETTXF_more_data : 0,
			   (uint16_t)(1 + i), 4);
	nbf_send_raw(&fe[H], 0, r, 22, true);
	expect_fatal("21-fragment chain", &fatal);

	r[0] = req(hpage(1, 100), 0, PVIO_NETTXF_extra_info, 1, 100);
	r[1] = xreq(0, 0, 0, 0);
	nbf_send_raw(&fe[H], 0, r, 2, true);
	expect_fatal("extra-info of type 0", &fatal);

	r[0] = req(hpage(1, 100), 0, PVIO_NETTXF_extra_info, 1, 100);
	nbf_send_raw(&fe[H], 0, r, 1, true);
	expect_fatal("extra-info promised, missing", &fatal);

	/* Good packets, then a fatal one, in one push: what was set up for
	 * the good ones is released too (checked by the mempool at the end). */
	for (unsigned i = 0; i < 8; i++)
		r[i] = req(hpage(1 + i, 4000), 0, 0, (uint16_t)(1 + i), 4000);
	r[8] = req(hpage(9, 100), 4000, 0, 9, 200);
	nbf_send_raw(&fe[H], 0, r, 9, true);
	expect_fatal("good packets then a fatal one", &fatal);

	/* tx req_prod overflow: a producer index far ahead. */
	{
		struct nbf_q *q = &fe[H].q[0];

		__atomic_store_n(&q->tx.sring->req_prod, q->tx.req_prod_pvt + 1000, __ATOMIC_RELEASE);
		pvio_hv_evtchn_notify(g[H], q->port_tx);
		expect_fatal("tx req_prod overflow", &fatal);
	}
	/* rx req_prod overflow, found when the backend delivers to H. */
	{
		struct nbf_q *q = &fe[H].q[0];

		__atomic_store_n(&q->rx.sring->req_prod, q->rx.req_prod_pvt + 5000, __ATOMIC_RELEASE);
		mkframe(frame, H, A, tagc++, 100);
		CHECK(nbf_send(&fe[A], 0, frame, 100, NULL) > 0);
		expect_fatal("rx req_prod overflow", &fatal);
	}
	/* ctrl req_prod overflow. */
	__atomic_store_n(&fe[H].ctrl.sring->req_prod, fe[H].ctrl.req_prod_pvt + 777,
			 __ATOMIC_RELEASE);
	pvio_hv_evtchn_notify(g[H], fe[H].port_ctrl);
	expect_fatal("ctrl req_prod overflow", &fatal);
	/* The event channel closed under a connected device. */
	pvio_hv_evtchn_close(g[H], fe[H].q[0].port_tx);
	fe[H].q[0].port_tx = fe[H].q[0].port_rx = 0;
	expect_fatal("event channel closed", &fatal);
	/* Page-flipping frontend: refused at connect, stays InitWait. */
	{
		struct nbf_opts flip = hopts;

		nbf_close(&fe[H], T);
		flip.no_rx_copy = true;
		CHECK_EQ(nbf_connect(&fe[H], g[H], 0, &flip, 600), -ETIMEDOUT);
		CHECK_EQ(nbt_be_wait(dom[H], 0, PVIO_XENBUS_MASK(PVIO_XENBUS_STATE_INITWAIT), 10),
			 PVIO_XENBUS_STATE_INITWAIT);
		reconnect_h();
	}
	printf("%lld fatal cases, netback alive\n", fatal);
	others_fine("everything");
	for (unsigned i = 0; i < NG; i++) {
		nbf_close(&fe[i], T);
		/* Every mapping (kept or not) was gone before each Closed. */
		CHECK_EQ(fe[i].revoke_busy, 0);
	}
	CHECK_EQ(nbt_stat_wait("mempool.in_use", nbt_stat("mempool.baseline"), true, T),
		 nbt_stat("mempool.baseline"));
	CHECK_EQ(nbt_stop_netback(), 0);
	if (tu_failures)
		nbt_dump_log();
	return tu_result();
}
