/* SPDX-License-Identifier: MIT */
/*
 * pvio-netback end to end: a guest that never refills its rx ring
 * (XSA-392). netback runs with --backlog-pkts 64 --backlog-bytes 65536
 * --rx-drain-ms 400.
 *   - guest S posts no rx buffers; A floods it: the backlog toward S stays
 *     within its packet and byte bounds (the mempool shows it), the excess
 *     is dropped and counted, and A and B keep talking at full speed
 *   - after rx-drain-ms without buffers, S's backlog is dropped and the
 *     mbufs are back
 *   - "one free slot, the packet needs two": S posts one buffer while a
 *     two-page frame waits; nothing is delivered (no partial frame, no
 *     spinning) until S posts a second, then the frame arrives whole
 *   - S posts buffers again and receives normally
 */
#include <stdlib.h>

#include "netback/nb_pkt.h"
#include "tests/common/testutil.h"
#include "tests/netback/nbtest.h"
#include "tests/netback/pktgen.h"
#include "xenstore/xenbus.h"

#define T 8000
enum { A = 0, B = 1, S = 2, NG = 3 };

static uint8_t mac[NG][6];
static struct nbf fe[NG];
static uint16_t dom[NG];
static uint8_t frame[70000], rbuf[70000];
static uint32_t tagc = 1;

static long long sstat(const char *what)
{
	char key[64];

	snprintf(key, sizeof(key), "vif.%u.0.%s", dom[S], what);
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

static int send_retry(unsigned s, const uint8_t *buf, unsigned len)
{
	double end = tu_now() + T / 1000.0;
	int r;

	while ((r = nbf_send(&fe[s], 0, buf, len, NULL)) == -EAGAIN && tu_now() < end)
		nbf_wait(&fe[s], 0, 2);
	return r;
}

static bool deliver(unsigned s, unsigned d, unsigned len)
{
	int r;

	mkframe(frame, d, s, tagc++, len);
	if (send_retry(s, frame, len) <= 0)
		return false;
	for (;;) {
		r = nbf_recv(&fe[d], 0, rbuf, sizeof(rbuf), NULL, T);
		if (r <= 0)
			return false;
		if (r == (int)len && memcmp(rbuf, frame, len) == 0)
			return true;
	}
}

/* A sends n frames of len bytes to S, interleaved with A -> B traffic
 * that must all arrive. */
static void flood_s(unsigned n, unsigned len)
{
	unsigned ab = 0;

	for (unsigned i = 0; i < n; i++) {
		mkframe(frame, S, A, tagc++, len);
		CHECK(send_retry(A, frame, len) > 0);
		if (i % 50 == 0) {
			CHECK(deliver(A, B, 1000));
			ab++;
		}
	}
	CHECK_EQ(nbf_tx_drain(&fe[A], 0, T), 0);
	printf("flooded S with %u frames of %u bytes; %u A->B frames delivered meanwhile\n", n,
	       len, ab);
}

int main(void)
{
	static const char *const args[] = { "--backlog-pkts", "64", "--backlog-bytes", "65536",
					    "--rx-drain-ms", "400", NULL };
	struct nbf_opts o = { .sg = true };
	struct nbf_opts so = { .sg = true, .rx_none = true, .manual_rx = true };
	struct pvio_hv *g[NG];
	long long base, inuse, drops;
	struct nbf_rxinfo ri;
	double t0;
	int r;

	nbt_require_netback();
	nbt_start();
	if (nbt_start_netback(args) < 0)
		return 1;
	for (unsigned i = 0; i < NG; i++) {
		g[i] = nbt_guest_vif(i, 0x03, 16, &dom[i], mac[i]);
		if (nbf_connect(&fe[i], g[i], 0, i == S ? &so : &o, T) != 0) {
			nbt_dump_log();
			REQUIRE(!"connect");
		}
	}
	base = nbt_stat("mempool.baseline");
	CHECK(deliver(A, B, 60) && deliver(B, A, 60));
	mkframe(frame, A, S, tagc++, 60);   /* S is learned */
	CHECK(send_retry(S, frame, 60) > 0);
	CHECK(nbf_recv(&fe[A], 0, rbuf, sizeof(rbuf), NULL, T) == 60);

	/* Packet bound: 1000 small frames, at most 64 queued + 32 taken. */
	flood_s(1000, 200);
	{
		char key[64];

		/* As below: every frame forwarded (queued or refused) first. */
		snprintf(key, sizeof(key), "vif.%u.0.backlog_drops", dom[S]);
		nbt_stat_wait(key, 1000 - 96, false, T);
	}
	inuse = nbt_stat("mempool.in_use") - base;
	drops = sstat("backlog_drops");
	printf("backlog toward S: %lld mbufs held, %lld frames refused\n", inuse, drops);
	CHECK(inuse <= 64 + 32);
	CHECK(drops >= 1000 - 96);
	CHECK_EQ(nbf_recv(&fe[S], 0, rbuf, sizeof(rbuf), NULL, 10), 0);
	/* Drained after --rx-drain-ms without buffers. */
	t0 = tu_now();
	CHECK(nbt_stat_wait("mempool.in_use", base, true, T) == base);
	printf("backlog dropped after %.0f ms\n", (tu_now() - t0) * 1000);
	CHECK(sstat("rx_stall_drops") >= 64);
	CHECK(sstat("rx_stalls") >= 1);

	/* Byte bound: 9000-byte frames, 3 mbufs each; 64 KiB queued at most.
	 * A's tx drained says netback answered every request, not that it
	 * has forwarded (queued or dropped) the last burst it copied: wait
	 * until all but the 8 frames that may be queued were refused, then
	 * count what is held. */
	flood_s(200, 9000);
	{
		char key[64];

		snprintf(key, sizeof(key), "vif.%u.0.backlog_drops", dom[S]);
		CHECK(nbt_stat_wait(key, drops + 200 - 8, false, T) >= drops + 200 - 8);
	}
	inuse = nbt_stat("mempool.in_use") - base;
	printf("backlog toward S (9000-byte frames): %lld mbufs held\n", inuse);
	CHECK(inuse <= (65536 / 9000 + 1) * 3);
	CHECK(sstat("backlog_drops") >= drops + 200 - 8);
	CHECK(nbt_stat_wait("mempool.in_use", base, true, T) == base);

	/* One free slot, the frame needs two: it waits whole. */
	CHECK_EQ(nbf_post_rx(&fe[S], 0, 1), 1);
	mkframe(frame, S, A, tagc, 5000);
	CHECK(send_retry(A, frame, 5000) > 0);
	CHECK_EQ(nbf_recv(&fe[S], 0, rbuf, sizeof(rbuf), NULL, 150), 0);
	CHECK_EQ(nbf_rx_outstanding(&fe[S], 0), 1);
	CHECK_EQ(nbf_post_rx(&fe[S], 0, 1), 1);
	r = nbf_recv(&fe[S], 0, rbuf, sizeof(rbuf), &ri, T);
	CHECK_EQ(r, 5000);
	CHECK(r == 5000 && memcmp(rbuf, frame, 5000) == 0);
	CHECK_EQ(ri.slots, 2);
	printf("two-slot frame waited for the second buffer, then arrived whole\n");

	/* S posts again: back to normal. */
	fe[S].o.manual_rx = false;
	CHECK(nbf_post_rx(&fe[S], 0, 0) > 0);
	for (unsigned i = 0; i < 500; i++)
		if (!deliver(A, S, 100 + i * 7)) {
			CHECK(!"S receives again");
			break;
		}
	CHECK(deliver(S, A, 1500));
	CHECK_EQ(fe[S].q[0].rx_protocol_errors, 0);

	/* A frontend without feature-rx-notify never kicks after posting rx
	 * buffers: netback polls its ring while packets wait. */
	{
		struct nbf_opts quiet = { .sg = true, .no_rx_notify = true, .rx_none = true,
					  .manual_rx = true };
		unsigned q;

		nbf_close(&fe[S], T);
		REQUIRE(nbf_connect(&fe[S], g[S], 0, &quiet, T) == 0);
		mkframe(frame, A, S, tagc++, 60);   /* S is learned again */
		CHECK(send_retry(S, frame, 60) > 0);
		CHECK(nbf_recv(&fe[A], 0, rbuf, sizeof(rbuf), NULL, T) == 60);
		for (q = 0; q < 5; q++) {
			mkframe(frame, S, A, 90000 + q, 700);
			CHECK(send_retry(A, frame, 700) > 0);
		}
		CHECK_EQ(nbf_recv(&fe[S], 0, rbuf, sizeof(rbuf), NULL, 50), 0);
		CHECK_EQ(nbf_post_rx(&fe[S], 0, 0), 256);   /* no notification sent */
		for (q = 0; q < 5; q++) {
			mkframe(frame, S, A, 90000 + q, 700);
			r = nbf_recv(&fe[S], 0, rbuf, sizeof(rbuf), NULL, T);
			CHECK(r == 700 && memcmp(rbuf, frame, 700) == 0);
		}
		printf("frontend without rx-notify: its rx ring is polled\n");
	}
	CHECK_EQ(nbt_stat_wait("mempool.in_use", base, true, T), base);
	for (unsigned i = 0; i < NG; i++)
		nbf_close(&fe[i], T);
	CHECK_EQ(nbt_stop_netback(), 0);
	if (tu_failures)
		nbt_dump_log();
	return tu_result();
}
