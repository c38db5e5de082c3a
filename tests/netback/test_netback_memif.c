/* SPDX-License-Identifier: MIT */
/*
 * Two pvio-netback instances, each the dom0 of its own world (its own
 * pviod), bridged through a DPDK memif link (net_memif server in one,
 * client in the other, --uplink br0=net_memif0,...): guest A in world 0 and
 * guest B in world 1 exchange frames across the two switches.
 *   - frames of every size both ways, byte for byte, in order
 *   - a 64 KiB GSO frame leaves through the uplink as valid segments, even
 *     though B itself accepts GSO (uplinks take plain frames)
 *   - the peer backend goes away: what is queued toward the dead link is
 *     freed (the mempool is back at its baseline), world 0 keeps serving
 */
#include <stdlib.h>

#include "netback/nb_pkt.h"
#include "tests/common/testutil.h"
#include "tests/netback/nbtest.h"
#include "tests/netback/pktgen.h"
#include "xenstore/xenbus.h"

#define T 8000

static uint8_t mac[2][6];
static struct nbf fe[2];
static uint16_t dom[2];
static uint8_t frame[70000], rbuf[70000];

static unsigned mkframe(uint8_t *buf, const uint8_t *dst, const uint8_t *src, uint32_t tag,
			unsigned len)
{
	memcpy(buf, dst, 6);
	memcpy(buf + 6, src, 6);
	buf[12] = 0x88;
	buf[13] = 0xb5;
	for (unsigned i = 14; i < len; i++)
		buf[i] = pg_byte(tag, i);
	return len;
}

static int send_retry(unsigned s, const uint8_t *buf, unsigned len, const struct nbf_txinfo *ti)
{
	double end = tu_now() + T / 1000.0;
	int r;

	while ((r = nbf_send(&fe[s], 0, buf, len, ti)) == -EAGAIN && tu_now() < end)
		nbf_wait(&fe[s], 0, 2);
	return r;
}

static void stream(unsigned s, unsigned d, unsigned n, uint32_t tag0)
{
	unsigned sent = 0, got = 0;
	double end = tu_now() + 20;

	while (got < n && tu_now() < end) {
		while (sent < n && sent - got < 32) {
			unsigned len = 60 + (sent * 131) % 1455;

			mkframe(frame, mac[d], mac[s], tag0 + sent, len);
			if (nbf_send(&fe[s], 0, frame, len, NULL) == -EAGAIN)
				break;
			sent++;
		}
		{
			int r = nbf_recv(&fe[d], 0, rbuf, sizeof(rbuf), NULL, 1000);
			unsigned len = 60 + (got * 131) % 1455;

			if (r <= 0)
				break;
			mkframe(frame, mac[d], mac[s], tag0 + got, len);
			if (r != (int)len || memcmp(rbuf, frame, len)) {
				CHECK(!"frame across the memif link");
				return;
			}
			got++;
		}
	}
	CHECK_EQ(got, n);
	printf("world %u -> world %u: %u frames over memif\n", s, d, got);
}

int main(void)
{
	char sock[400], srv[512], cli[512];
	const char *a0[] = { "--uplink", srv, NULL }, *a1[] = { "--uplink", cli, NULL };
	struct nbf_opts o = { .sg = true, .gso4 = true, .gso6 = true };
	const uint8_t bc[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	long long base;
	bool up = false;
	double end;

	nbt_require_netback();
	for (unsigned w = 0; w < 2; w++) {
		char m[20];
		struct nbt_vif v = { .mac = m };
		struct pvio_hv *g;

		nbt_select(w);
		nbt_start();
		if (w == 0) {
			snprintf(sock, sizeof(sock), "%s/memif.sock", nbt.dir);
			snprintf(srv, sizeof(srv), "br0=net_memif0,role=server,socket=%s,"
				 "socket-abstract=no", sock);
			snprintf(cli, sizeof(cli), "br0=net_memif0,role=client,socket=%s,"
				 "socket-abstract=no", sock);
		}
		if (nbt_start_netback(w == 0 ? a0 : a1) < 0)
			return 1;
		snprintf(m, sizeof(m), "02:00:00:00:07:%02x", w);
		REQUIRE(nb_mac_parse(m, mac[w]) == 0);
		g = nbt_guest(w == 0 ? "alpha" : "beta", 16, &dom[w]);
		REQUIRE(nbt_vif_add(dom[w], 0, &v) == 0);
		if (nbf_connect(&fe[w], g, 0, &o, T) != 0) {
			nbt_dump_log();
			REQUIRE(!"connect");
		}
	}
	/* The memif link comes up on its own time: broadcast until B hears. */
	end = tu_now() + 10;
	for (uint32_t i = 0; !up && tu_now() < end; i++) {
		int r;

		mkframe(frame, bc, mac[0], i, 60);
		CHECK(send_retry(0, frame, 60, NULL) > 0);
		r = nbf_recv(&fe[1], 0, rbuf, sizeof(rbuf), NULL, 100);
		up = r == 60 && memcmp(rbuf + 6, mac[0], 6) == 0;
	}
	if (!up) {
		nbt_select(0);
		nbt_dump_log();
		nbt_select(1);
		nbt_dump_log();
		REQUIRE(!"memif link up");
	}
	while (nbf_recv(&fe[1], 0, rbuf, sizeof(rbuf), NULL, 50) > 0)
		;
	mkframe(frame, mac[0], mac[1], 1, 60);   /* A learns B (via the uplink) */
	CHECK(send_retry(1, frame, 60, NULL) > 0);
	CHECK_EQ(nbf_recv(&fe[0], 0, rbuf, sizeof(rbuf), NULL, T), 60);

	stream(0, 1, 2000, 1000);
	stream(1, 0, 2000, 5000);

	/* GSO from A: segmented for the uplink; B gets plain segments. */
	{
		struct pg_flow f;
		struct nbf_txinfo ti = { .flags = PVIO_NETTXF_csum_blank, .gso_size = 1448,
					 .gso_type = PVIO_XEN_NETIF_GSO_TYPE_TCPV4 };
		unsigned payload = 60000, len, off = 0, hdr;

		memset(&f, 0, sizeof(f));
		memcpy(f.dst, mac[1], 6);
		memcpy(f.src, mac[0], 6);
		f.proto = PG_TCP;
		f.saddr[0] = 10;
		f.daddr[0] = 11;
		f.sport = 1;
		f.dport = 2;
		hdr = pg_hdrs(&f);
		len = pg_build(frame, &f, 77, 0, payload, 1);
		CHECK(send_retry(0, frame, len, &ti) > 0);
		while (off < payload) {
			struct nbf_rxinfo ri;
			int r = nbf_recv(&fe[1], 0, rbuf, sizeof(rbuf), &ri, T);

			if (r <= 0) {
				CHECK(r > 0);
				break;
			}
			CHECK(!ri.gso);
			CHECK(r <= (int)(hdr + 1448));
			CHECK(pg_csum_ok(rbuf, (unsigned)r, &f));
			CHECK(memcmp(rbuf + hdr, frame + hdr + off, (unsigned)r - hdr) == 0);
			off += (unsigned)r - hdr;
		}
		CHECK_EQ(off, payload);
		printf("GSO across the memif link: %u bytes in valid segments\n", off);
	}
	nbt_select(0);
	CHECK(nbt_stat("uplink.net_memif0.tx_pkts") >= 2000);
	CHECK(nbt_stat("uplink.net_memif0.rx_pkts") >= 2000);
	base = nbt_stat("mempool.baseline");

	/* The peer backend goes away: world 0 frees what it queued. */
	nbt_select(1);
	nbf_close(&fe[1], T);
	CHECK_EQ(nbt_stop_netback(), 0);
	nbt_select(0);
	for (unsigned i = 0; i < 300; i++) {
		mkframe(frame, mac[1], mac[0], i, 1000);
		CHECK(send_retry(0, frame, 1000, NULL) > 0);
	}
	CHECK_EQ(nbt_stat_wait("mempool.in_use", base, true, T), base);
	printf("peer gone: mempool back at its baseline (%lld)\n", base);
	nbf_close(&fe[0], T);
	CHECK_EQ(nbt_stop_netback(), 0);
	if (tu_failures)
		nbt_dump_log();
	return tu_result();
}
