/* SPDX-License-Identifier: MIT */
/*
 * pvio-netback end to end: checksum offload and GSO.
 *   guest 0  sends: 64 KiB TCPv4/TCPv6 GSO frames, partial-checksum TCP/UDP
 *   guest 1  no sg, no GSO, feature-no-csum-offload: gets every GSO frame
 *            segmented in software into valid segments (IPv4 ids, sequence
 *            numbers, FIN/PSH on the last, both checksums right) and every
 *            partial checksum filled in
 *   guest 2  sg + GSO + IPv6 checksum offload: gets GSO frames whole with
 *            their GSO extra-info and NETRXF_csum_blank, the checksum field
 *            holding the pseudo-header sum
 *   guest 3  sg, checksum offload, no GSO, no IPv6 checksum offload:
 *            segments; IPv6 partial checksums filled in, IPv4 ones passed
 * Broadcast GSO frames go to all three at once, each in its own form.
 */
#include <stdlib.h>

#include "netback/nb_pkt.h"
#include "tests/common/testutil.h"
#include "tests/netback/nbtest.h"
#include "tests/netback/pktgen.h"
#include "xenstore/xenbus.h"

#define T 8000
#define NG 4

static uint8_t mac[NG][6];
static struct nbf fe[NG];
static uint16_t dom[NG];
static uint8_t frame[70000], rbuf[70000];
static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static struct pg_flow flow(bool v6, uint8_t proto, const uint8_t *dst, uint16_t vlan)
{
	struct pg_flow f;

	memset(&f, 0, sizeof(f));
	memcpy(f.dst, dst, 6);
	memcpy(f.src, mac[0], 6);
	f.v6 = v6;
	f.proto = proto;
	for (int i = 0; i < 16; i++) {
		f.saddr[i] = (uint8_t)(0x20 + i);
		f.daddr[i] = (uint8_t)(0x80 + i);
	}
	f.sport = 33000;
	f.dport = 80;
	f.seq = 0xffff0000u;
	f.vlan = vlan;
	return f;
}

static int send_retry(unsigned g, const uint8_t *buf, unsigned len, const struct nbf_txinfo *ti)
{
	double end = tu_now() + T / 1000.0;
	int r;

	while ((r = nbf_send(&fe[g], 0, buf, len, ti)) == -EAGAIN && tu_now() < end)
		nbf_wait(&fe[g], 0, 5);
	return r;
}

/* Receive the segments of a payload of `payload` bytes (tag) at guest g:
 * every one a valid frame of at most mss payload bytes, in order. */
static void expect_segments(unsigned g, const struct pg_flow *f, uint32_t tag, unsigned payload,
			    unsigned mss, bool fin)
{
	unsigned off = 0, hdr = pg_hdrs(f), n = 0;

	while (off < payload) {
		struct nbf_rxinfo ri;
		int len = nbf_recv(&fe[g], 0, rbuf, sizeof(rbuf), &ri, T);
		const uint8_t *ip = rbuf + pg_l2(f), *th = ip + pg_l3(f);
		unsigned seg;

		if (len <= 0) {
			fprintf(stderr, "guest %u: segment at offset %u missing (%d)\n", g, off, len);
			CHECK(len > 0);
			return;
		}
		seg = (unsigned)len - hdr;
		CHECK(!ri.gso);
		CHECK(!(ri.flags & PVIO_NETRXF_csum_blank));
		CHECK(ri.flags & PVIO_NETRXF_data_validated);
		CHECK(seg <= mss && seg > 0);
		CHECK(seg == mss || off + seg == payload);
		CHECK(pg_csum_ok(rbuf, (unsigned)len, f));
		CHECK_EQ(memcmp(rbuf, f->dst, 6), 0);
		if (f->proto == PG_TCP) {
			CHECK_EQ(pg_get32(th + 4), f->seq + off);
			CHECK_EQ(!!(th[13] & 0x01), fin && off + seg == payload);
			CHECK_EQ(!!(th[13] & 0x08), off + seg == payload);
		}
		if (!f->v6)
			CHECK_EQ(pg_get16(ip + 4), (uint16_t)(tag + n));
		for (unsigned i = 0; i < seg; i++)
			if (rbuf[hdr + i] != pg_byte(tag, off + i)) {
				fprintf(stderr, "guest %u: payload byte %u differs\n", g, off + i);
				CHECK(!"payload");
				return;
			}
		off += seg;
		n++;
		if (tu_failures)
			return;
	}
	CHECK_EQ(n, (payload + mss - 1) / mss);
}

/* The whole frame at guest g, as sent, with a partial checksum (field =
 * pseudo-header sum) and, for GSO, the GSO extra-info. */
static void expect_whole(unsigned g, const struct pg_flow *f, const uint8_t *sent, unsigned len,
			 unsigned mss)
{
	struct nbf_rxinfo ri;
	int r = nbf_recv(&fe[g], 0, rbuf, sizeof(rbuf), &ri, T);
	unsigned co = pg_l2(f) + pg_l3(f) + (f->proto == PG_TCP ? 16 : 6);
	const uint8_t *ip = rbuf + pg_l2(f);
	uint32_t l4len = (uint32_t)len - pg_l2(f) - pg_l3(f);

	CHECK_EQ(r, (int)len);
	if (r != (int)len)
		return;
	CHECK(ri.flags & PVIO_NETRXF_csum_blank);
	CHECK(ri.flags & PVIO_NETRXF_data_validated);
	CHECK_EQ(ri.gso, mss != 0);
	if (mss) {
		CHECK_EQ(ri.gso_size, mss);
		CHECK_EQ(ri.gso_type, f->v6 ? PVIO_XEN_NETIF_GSO_TYPE_TCPV6
					    : PVIO_XEN_NETIF_GSO_TYPE_TCPV4);
		CHECK(ri.slots >= 2 + (len - 1) / 4096);
	}
	CHECK_EQ(pg_get16(rbuf + co), pg_fold(pg_pseudo(ip, f->v6, f->proto, l4len)));
	/* Everything else as sent. */
	CHECK_EQ(memcmp(rbuf, sent, co), 0);
	CHECK_EQ(memcmp(rbuf + co + 2, sent + co + 2, len - co - 2), 0);
}

static void gso_case(bool v6, uint16_t vlan, unsigned mss, uint32_t tag)
{
	struct pg_flow f = flow(v6, PG_TCP, bcast, vlan);
	unsigned hdr = pg_hdrs(&f), payload = 65535 - hdr, len;
	struct nbf_txinfo ti = { .flags = PVIO_NETTXF_csum_blank, .gso_size = (uint16_t)mss,
				 .gso_type = v6 ? PVIO_XEN_NETIF_GSO_TYPE_TCPV6
						: PVIO_XEN_NETIF_GSO_TYPE_TCPV4 };

	/* Guest 1 (no sg) takes only segments that fit a page. */
	bool g1 = hdr + mss <= 4096;

	/* Unicast to each receiver in turn, then one broadcast for all. */
	for (unsigned d = 1; d < NG; d++) {
		f = flow(v6, PG_TCP, mac[d], vlan);
		len = pg_build(frame, &f, tag + d * 1000, 0, payload, 1);
		CHECK_EQ(len, 65535);
		CHECK(send_retry(0, frame, len, &ti) > 0);
		if (d == 2)
			expect_whole(d, &f, frame, len, mss);
		else if (d == 3 || g1)
			expect_segments(d, &f, tag + d * 1000, payload, mss, false);
	}
	f = flow(v6, PG_TCP, bcast, vlan);
	len = pg_build(frame, &f, tag, 0, payload - 1000, 1);
	frame[pg_l2(&f) + pg_l3(&f) + 13] |= 0x01;   /* FIN: only on the last segment */
	CHECK(send_retry(0, frame, len, &ti) > 0);
	if (g1)
		expect_segments(1, &f, tag, payload - 1000, mss, true);
	expect_whole(2, &f, frame, len, mss);
	expect_segments(3, &f, tag, payload - 1000, mss, true);
	if (!g1) {
		/* Segments larger than a page: the packet is dropped for it. */
		char key[64];

		CHECK_EQ(nbf_recv(&fe[1], 0, rbuf, sizeof(rbuf), NULL, 100), 0);
		snprintf(key, sizeof(key), "vif.%u.0.rx_too_big", dom[1]);
		CHECK_EQ(nbt_stat(key), 2);
	}
	printf("GSO %s%s mss %u: segmented for guests 1 and 3, whole for guest 2\n",
	       v6 ? "TCPv6" : "TCPv4", vlan ? " (VLAN)" : "", mss);
}

static void csum_case(bool v6, uint8_t proto, unsigned payload, uint32_t tag)
{
	struct pg_flow f = flow(v6, proto, bcast, 0);
	struct nbf_txinfo ti = { .flags = PVIO_NETTXF_csum_blank };
	unsigned len = pg_build(frame, &f, tag, 0, payload, 1);
	struct nbf_rxinfo ri;
	int r;

	CHECK(!pg_csum_ok(frame, len, &f));   /* partial as sent */
	CHECK(send_retry(0, frame, len, &ti) > 0);
	/* guest 1: filled in; guest 2: passed blank; guest 3: IPv4 blank,
	 * IPv6 filled in (no feature-ipv6-csum-offload). The frame was
	 * filled in once for everybody if anybody needed it, and then is
	 * valid for all. */
	r = nbf_recv(&fe[1], 0, rbuf, sizeof(rbuf), &ri, T);
	CHECK_EQ(r, (int)len);
	CHECK(pg_csum_ok(rbuf, len, &f));
	CHECK(!(ri.flags & PVIO_NETRXF_csum_blank));
	CHECK(ri.flags & PVIO_NETRXF_data_validated);
	for (unsigned g = 2; g < NG; g++) {
		r = nbf_recv(&fe[g], 0, rbuf, sizeof(rbuf), &ri, T);
		CHECK_EQ(r, (int)len);
		CHECK(pg_csum_ok(rbuf, len, &f));
		CHECK(ri.flags & PVIO_NETRXF_data_validated);
	}
	/* Unicast to guest 2: passed blank, untouched. */
	f = flow(v6, proto, mac[2], 0);
	len = pg_build(frame, &f, tag + 1, 0, payload, 1);
	CHECK(send_retry(0, frame, len, &ti) > 0);
	r = nbf_recv(&fe[2], 0, rbuf, sizeof(rbuf), &ri, T);
	CHECK_EQ(r, (int)len);
	CHECK(ri.flags & PVIO_NETRXF_csum_blank);
	CHECK_EQ(memcmp(rbuf, frame, len), 0);
	/* Unicast to guest 3: IPv4 blank; IPv6 filled in. */
	f = flow(v6, proto, mac[3], 0);
	len = pg_build(frame, &f, tag + 2, 0, payload, 1);
	CHECK(send_retry(0, frame, len, &ti) > 0);
	r = nbf_recv(&fe[3], 0, rbuf, sizeof(rbuf), &ri, T);
	CHECK_EQ(r, (int)len);
	CHECK_EQ(!!(ri.flags & PVIO_NETRXF_csum_blank), !v6);
	if (v6)
		CHECK(pg_csum_ok(rbuf, len, &f));
	/* A complete checksum with data_validated: passed as is. */
	f = flow(v6, proto, mac[1], 0);
	len = pg_build(frame, &f, tag + 3, 0, payload, 0);
	ti.flags = PVIO_NETTXF_data_validated;
	CHECK(send_retry(0, frame, len, &ti) > 0);
	r = nbf_recv(&fe[1], 0, rbuf, sizeof(rbuf), &ri, T);
	CHECK_EQ(r, (int)len);
	CHECK_EQ(memcmp(rbuf, frame, len), 0);
	CHECK_EQ(ri.flags, PVIO_NETRXF_data_validated);
	printf("checksum offload %s %s %u bytes: ok\n", v6 ? "IPv6" : "IPv4",
	       proto == PG_TCP ? "TCP" : "UDP", payload);
}

int main(void)
{
	struct nbf_opts o[NG] = {
		{ .sg = true, .gso4 = true, .gso6 = true, .csum6 = true },
		{ .sg = false, .no_csum = true },
		{ .sg = true, .gso4 = true, .gso6 = true, .csum6 = true },
		{ .sg = true },
	};
	struct pvio_hv *g[NG];
	long long base;

	nbt_require_netback();
	nbt_start();
	if (nbt_start_netback(NULL) < 0)
		return 1;
	for (unsigned i = 0; i < NG; i++) {
		g[i] = nbt_guest_vif(i, 0x01, 16, &dom[i], mac[i]);
	}
	for (unsigned i = 0; i < NG; i++)
		if (nbf_connect(&fe[i], g[i], 0, &o[i], T) != 0) {
			nbt_dump_log();
			REQUIRE(!"connect");
		}
	base = nbt_stat("mempool.baseline");
	/* Let the switch learn everyone (a broadcast from each receiver). */
	for (unsigned i = 1; i < NG; i++) {
		uint8_t b[60];

		memset(b, 0, sizeof(b));
		memcpy(b, bcast, 6);
		memcpy(b + 6, mac[i], 6);
		b[12] = 0x88;
		b[13] = 0xb5;
		CHECK(send_retry(i, b, sizeof(b), NULL) > 0);
		for (unsigned k = 0; k < NG; k++)
			if (k != i)
				CHECK_EQ(nbf_recv(&fe[k], 0, rbuf, sizeof(rbuf), NULL, T), 60);
	}

	gso_case(false, 0, 1448, 100);
	gso_case(true, 0, 1428, 200);
	gso_case(false, 42, 1000, 300);
	gso_case(true, 7, 8000, 400);   /* jumbo segments: two pages each */
	csum_case(false, PG_TCP, 1000, 500);
	csum_case(false, PG_UDP, 1401, 600);
	csum_case(true, PG_TCP, 3000, 700);
	csum_case(true, PG_UDP, 33, 800);

	{
		char key[64];

		snprintf(key, sizeof(key), "vif.%u.0.gso_sw", dom[0]);
		CHECK_EQ(nbt_stat(key), 11);   /* 3 per case, 2 for jumbo segments */
		snprintf(key, sizeof(key), "vif.%u.0.csum_sw", dom[0]);
		CHECK(nbt_stat(key) >= 4);
		snprintf(key, sizeof(key), "vif.%u.0.tx_errors", dom[0]);
		CHECK_EQ(nbt_stat(key), 0);
	}
	for (unsigned i = 0; i < NG; i++) {
		CHECK_EQ(fe[i].q[0].rx_protocol_errors, 0);
		CHECK_EQ(fe[i].q[0].rx_err_pkts, 0);
		CHECK_EQ(fe[i].q[0].tx_err, 0);
	}
	CHECK_EQ(nbt_stat_wait("mempool.in_use", base, true, T), base);
	for (unsigned i = 0; i < NG; i++)
		nbf_close(&fe[i], T);
	CHECK_EQ(nbt_stop_netback(), 0);
	if (tu_failures)
		nbt_dump_log();
	return tu_result();
}
