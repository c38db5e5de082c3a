/* SPDX-License-Identifier: MIT */
/*
 * pvio-netback end to end: three guests (separate pviod domains, raw
 * frontends) on one bridge, plus one on another bridge.
 *   - flooding of broadcast and unknown unicast, then MAC learning (unicast
 *     reaches only its destination), bridge isolation
 *   - thousands of frames of every size in both directions, payloads
 *     checked byte for byte, in order
 *   - 1-slot and multi-slot frames (up to 64 KiB in 19 slots, small slots,
 *     an offset first slot, zero-length slots): sg receivers get multi-slot
 *     frames, a receiver without sg gets what fits a page and nothing else
 *   - a frontend that goes through Initialised (blkfront style) as well as
 *     one that skips it (Linux netfront style)
 *   - the source MAC filter: a spoofed frame is dropped
 *   - statistics and the mempool back at its baseline at the end
 */
#include <stdlib.h>

#include "tests/common/testutil.h"
#include "tests/netback/nbtest.h"
#include "tests/netback/pktgen.h"
#include "netback/nb_pkt.h"
#include "xenstore/xenbus.h"

#define T 8000   /* ms */

static const char *macs[] = { "02:00:00:00:00:0a", "02:00:00:00:00:0b", "02:00:00:00:00:0c",
			      "02:00:00:00:00:0d" };
static uint8_t mac[4][6];
static struct nbf fe[4];
static uint16_t dom[4];
static uint8_t frame[70000], rbuf[70000];

/* netback's statistic `what` of guest i's vif. */
static long long vstat(unsigned i, const char *what)
{
	char key[64];

	snprintf(key, sizeof(key), "vif.%u.0.%s", dom[i], what);
	return nbt_stat(key);
}

static long long vstat_wait(unsigned i, const char *what, long long want)
{
	char key[64];

	snprintf(key, sizeof(key), "vif.%u.0.%s", dom[i], what);
	return nbt_stat_wait(key, want, false, T);
}

/* An Ethernet frame from guest s to dst with a tagged payload. */
static unsigned mkframe(uint8_t *buf, const uint8_t *dst, unsigned s, uint32_t tag, unsigned len)
{
	memcpy(buf, dst, 6);
	memcpy(buf + 6, mac[s], 6);
	buf[12] = 0x88;
	buf[13] = 0xb5;   /* local experimental ethertype */
	for (unsigned i = 14; i < len; i++)
		buf[i] = pg_byte(tag, i);
	return len;
}

static bool check_frame(const uint8_t *buf, int len, const uint8_t *dst, unsigned s, uint32_t tag,
			unsigned want_len)
{
	if (len != (int)want_len) {
		fprintf(stderr, "frame length %d, want %u\n", len, want_len);
		return false;
	}
	if (memcmp(buf, dst, 6) || memcmp(buf + 6, mac[s], 6))
		return false;
	for (unsigned i = 14; i < want_len; i++)
		if (buf[i] != pg_byte(tag, i)) {
			fprintf(stderr, "byte %u differs (tag %u)\n", i, tag);
			return false;
		}
	return true;
}

/* Nothing (else) arrives at guest g within ms. */
static bool quiet(unsigned g, int ms)
{
	int r = nbf_recv(&fe[g], 0, rbuf, sizeof(rbuf), NULL, ms);

	if (r != 0)
		fprintf(stderr, "guest %u: unexpected frame (%d bytes)\n", g, r);
	return r == 0;
}

static int send_retry(unsigned g, const uint8_t *buf, unsigned len, const struct nbf_txinfo *ti)
{
	double end = tu_now() + T / 1000.0;
	int r;

	while ((r = nbf_send(&fe[g], 0, buf, len, ti)) == -EAGAIN && tu_now() < end)
		nbf_wait(&fe[g], 0, 5);
	return r;
}

static void test_learning(void)
{
	uint8_t bc[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	unsigned len;
	int r;

	/* Broadcast from 0: 1 and 2 get it, 3 (other bridge) and 0 do not. */
	len = mkframe(frame, bc, 0, 1, 60);
	CHECK(send_retry(0, frame, len, NULL) > 0);
	for (unsigned g = 1; g <= 2; g++) {
		r = nbf_recv(&fe[g], 0, rbuf, sizeof(rbuf), NULL, T);
		CHECK(check_frame(rbuf, r, bc, 0, 1, 60));
	}
	CHECK(quiet(3, 100));
	CHECK(quiet(0, 10));
	/* Unknown unicast (1 has not sent yet): flooded to 1 and 2. */
	len = mkframe(frame, mac[1], 0, 2, 100);
	CHECK(send_retry(0, frame, len, NULL) > 0);
	r = nbf_recv(&fe[1], 0, rbuf, sizeof(rbuf), NULL, T);
	CHECK(check_frame(rbuf, r, mac[1], 0, 2, 100));
	r = nbf_recv(&fe[2], 0, rbuf, sizeof(rbuf), NULL, T);
	CHECK(check_frame(rbuf, r, mac[1], 0, 2, 100));
	/* 0 was learned: 1's reply reaches 0 only. */
	len = mkframe(frame, mac[0], 1, 3, 200);
	CHECK(send_retry(1, frame, len, NULL) > 0);
	r = nbf_recv(&fe[0], 0, rbuf, sizeof(rbuf), NULL, T);
	CHECK(check_frame(rbuf, r, mac[0], 1, 3, 200));
	CHECK(quiet(2, 100));
	/* ... and now 1 is known too: 0 -> 1 reaches 1 only. */
	len = mkframe(frame, mac[1], 0, 4, 300);
	CHECK(send_retry(0, frame, len, NULL) > 0);
	r = nbf_recv(&fe[1], 0, rbuf, sizeof(rbuf), NULL, T);
	CHECK(check_frame(rbuf, r, mac[1], 0, 4, 300));
	CHECK(quiet(2, 100));
	/* The other bridge: 3 floods, nobody on br0 hears it. */
	len = mkframe(frame, bc, 3, 5, 60);
	CHECK(send_retry(3, frame, len, NULL) > 0);
	CHECK(quiet(0, 100) && quiet(1, 10) && quiet(2, 10));
	/* A spoofed source (2 pretending to be 0) is dropped. */
	len = mkframe(frame, mac[1], 0, 6, 60);
	CHECK(send_retry(2, frame, len, NULL) > 0);
	CHECK(quiet(1, 150));
	CHECK(vstat_wait(2, "spoofed", 1) == 1);
	CHECK_EQ(nbt_stat("bridge.br0.macs"), 2);
	CHECK_EQ(nbt_stat("bridge.br1.macs"), 1);
	CHECK_EQ(nbt_stat("bridge.br0.moved"), 0);
}

/* Stream n frames of varying size from s to d, receiving as we go. */
static void stream(unsigned s, unsigned d, unsigned n, unsigned maxlen, const struct nbf_txinfo *ti,
		   uint32_t tag0)
{
	unsigned sent = 0, got = 0, seed = tag0;
	double end = tu_now() + 20;
	unsigned lens[4096];
	uint64_t inflight = 0;

	/* Lossless only while the receiver's backlog bounds (1024 frames,
	 * 4 MiB) are respected: keep at most 200 frames and 2 MiB in flight. */
	while (got < n && tu_now() < end) {
		while (sent < n && sent - got < 200 && inflight < (2u << 20)) {
			unsigned len = 60 + (unsigned)rand_r(&seed) % (maxlen - 59);
			int r;

			if (sent % 7 == 0)
				len = maxlen;
			mkframe(frame, mac[d], s, tag0 + sent, len);
			r = nbf_send(&fe[s], 0, frame, len, ti);
			if (r == -EAGAIN)
				break;
			CHECK(r > 0);
			lens[sent % 4096] = len;
			inflight += len;
			sent++;
		}
		for (;;) {
			int r = nbf_recv(&fe[d], 0, rbuf, sizeof(rbuf), NULL, sent > got ? 20 : 0);

			if (r <= 0) {
				CHECK(r == 0);
				break;
			}
			if (!check_frame(rbuf, r, mac[d], s, tag0 + got, lens[got % 4096])) {
				CHECK(!"frame mismatch");
				return;
			}
			inflight -= lens[got % 4096];
			got++;
		}
		nbf_tx_reap(&fe[s], 0);
	}
	CHECK_EQ(got, n);
	CHECK_EQ(nbf_tx_drain(&fe[s], 0, T), 0);
	printf("stream %u -> %u: %u frames up to %u bytes\n", s, d, got, maxlen);
}

int main(void)
{
	static const struct nbt_vif vifs[4] = {
		{ .mac = "02:00:00:00:00:0a" }, { .mac = "02:00:00:00:00:0b" },
		{ .mac = "02:00:00:00:00:0c", .bridge = "br0" },
		{ .mac = "02:00:00:00:00:0d", .bridge = "br1" },
	};
	struct pvio_hv *g[4];
	struct nbf_opts o[4] = {
		{ .sg = true },                          /* Linux-netfront-like */
		{ .sg = true, .initialised = true },     /* through Initialised */
		{ .sg = false },                         /* no sg: one page per frame */
		{ .sg = true },
	};
	struct nbf_txinfo ti;
	long long base;

	nbt_require_netback();
	nbt_start();
	if (nbt_start_netback(NULL) < 0)
		return 1;
	for (unsigned i = 0; i < 4; i++) {
		char name[16];

		snprintf(name, sizeof(name), "guest%u", i);
		REQUIRE(nb_mac_parse(macs[i], mac[i]) == 0);
		g[i] = nbt_guest(name, 16, &dom[i]);
		REQUIRE(nbt_vif_add(dom[i], 0, &vifs[i]) == 0);
	}
	for (unsigned i = 0; i < 4; i++)
		if (nbf_connect(&fe[i], g[i], 0, &o[i], T) != 0) {
			nbt_dump_log();
			REQUIRE(!"connect");
		}
	base = nbt_stat("mempool.baseline");

	test_learning();

	/* Single-slot frames both ways. */
	stream(0, 1, 3000, 1514, NULL, 1000);
	stream(1, 0, 3000, 1514, NULL, 5000);
	/* Multi-slot to an sg receiver: up to 64 KiB, 4 KiB slots. */
	stream(0, 1, 300, 65535 - 14 - 2, NULL, 9000);
	/* Small slots (1000 bytes: up to 19 slots), an offset first slot,
	 * zero-length slots in between. */
	memset(&ti, 0, sizeof(ti));
	ti.slot_bytes = 1000;
	ti.first_offset = 3000;
	stream(1, 0, 300, 18000, &ti, 20000);
	ti.slot_bytes = 2048;
	ti.first_offset = 100;
	ti.zero_slots = true;
	stream(0, 1, 200, 9000, &ti, 30000);
	CHECK(vstat(0, "tx_zero_slots") > 0);
	/* A receiver without sg gets frames that fit one page, whatever
	 * their slot layout on tx. */
	nbf_send(&fe[2], 0, frame, mkframe(frame, mac[0], 2, 77, 60), NULL);   /* learn 2 */
	CHECK(nbf_recv(&fe[0], 0, rbuf, sizeof(rbuf), NULL, T) == 60);
	memset(&ti, 0, sizeof(ti));
	ti.slot_bytes = 500;
	stream(0, 2, 500, 4096, &ti, 40000);
	{
		/* ... and not a 5000-byte one. */
		unsigned len = mkframe(frame, mac[2], 0, 50000, 5000);

		CHECK(send_retry(0, frame, len, NULL) > 0);
		CHECK(quiet(2, 200));
		CHECK(vstat_wait(2, "rx_too_big", 1) >= 1);
	}

	/* Counters add up; nothing is dropped; the pool is back. */
	CHECK_EQ(vstat(0, "tx_errors"), 0);
	CHECK_EQ(vstat(1, "rx_errors"), 0);
	CHECK_EQ(vstat(0, "backlog_drops"), 0);
	CHECK_EQ(vstat(1, "backlog_drops"), 0);
	CHECK(vstat(1, "rx_pkts") >= 3300);
	CHECK_EQ(nbt_stat_wait("mempool.in_use", base, true, T), base);
	for (unsigned i = 0; i < 4; i++) {
		CHECK_EQ(fe[i].q[0].rx_protocol_errors, 0);
		CHECK_EQ(fe[i].q[0].tx_bad_id, 0);
		CHECK_EQ(fe[i].q[0].tx_err, 0);
	}
	for (unsigned i = 0; i < 4; i++)
		nbf_close(&fe[i], T);
	for (unsigned i = 0; i < 4; i++)
		CHECK_EQ(nbt_be_wait(dom[i], 0, PVIO_XENBUS_MASK(PVIO_XENBUS_STATE_CLOSED), T),
			 PVIO_XENBUS_STATE_CLOSED);
	CHECK_EQ(nbt_stat("mempool.in_use"), base);
	CHECK_EQ(nbt_stop_netback(), 0);
	if (tu_failures)
		nbt_dump_log();
	return tu_result();
}
