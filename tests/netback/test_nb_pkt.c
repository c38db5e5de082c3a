/* SPDX-License-Identifier: MIT */
/*
 * netback's header parsing, checksum and segmentation helpers (nb_pkt.c)
 * without DPDK: IPv4/IPv6/VLAN/TCP/UDP frames, malformed lengths, the
 * checksum over arbitrary splits against a byte-by-byte reference, and a
 * 64 KiB TCP packet segmented with nb_gso_fix_headers into valid segments.
 */
#include <stdlib.h>

#include "netback/nb_pkt.h"
#include "tests/common/testutil.h"
#include "tests/netback/pktgen.h"

static struct pg_flow mkflow(bool v6, uint8_t proto, uint16_t vlan)
{
	struct pg_flow f;

	memset(&f, 0, sizeof(f));
	memcpy(f.dst, "\x02\x00\x00\x00\x00\x01", 6);
	memcpy(f.src, "\x02\x00\x00\x00\x00\x02", 6);
	f.v6 = v6;
	f.proto = proto;
	for (int i = 0; i < 16; i++) {
		f.saddr[i] = (uint8_t)(10 + i);
		f.daddr[i] = (uint8_t)(200 - i);
	}
	f.sport = 40000;
	f.dport = 5201;
	f.seq = 0xfffff000;   /* wraps during segmentation */
	f.vlan = vlan;
	return f;
}

static void test_parse(void)
{
	static uint8_t pkt[70000];

	for (int v6 = 0; v6 < 2; v6++)
		for (int tcp = 0; tcp < 2; tcp++)
			for (int vl = 0; vl < 2; vl++) {
				struct pg_flow f = mkflow(v6, tcp ? PG_TCP : PG_UDP, vl ? 42 : 0);
				unsigned len = pg_build(pkt, &f, 3, 0, 1000, 0);
				struct nb_hdr h;

				CHECK_EQ(nb_pkt_parse(pkt, len, len, &h), 0);
				CHECK_EQ(h.l2_len, pg_l2(&f));
				CHECK_EQ(h.l3_len, pg_l3(&f));
				CHECK_EQ(h.l4_len, pg_l4(&f));
				CHECK_EQ(h.l3, v6 ? NB_L3_IPV6 : NB_L3_IPV4);
				CHECK_EQ(h.l4proto, f.proto);
				CHECK_EQ(h.l4_bytes, pg_l4(&f) + 1000);
				CHECK(!h.fragment);
				/* Headers beyond what is available. */
				CHECK_EQ(nb_pkt_parse(pkt, pg_hdrs(&f) - 1, len, &h), -ENODATA);
				CHECK_EQ(nb_pkt_parse(pkt, pg_hdrs(&f), len, &h), 0);
				/* Truncated packet: lengths past its end. */
				CHECK_EQ(nb_pkt_parse(pkt, len, len - 1, &h), -EINVAL);
				CHECK_EQ(nb_pkt_parse(pkt, len, 10, &h), -EINVAL);
				/* Ethernet padding is fine. */
				CHECK_EQ(nb_pkt_parse(pkt, len, len + 30, &h), 0);
			}
	{
		struct pg_flow f = mkflow(false, PG_TCP, 0);
		unsigned len = pg_build(pkt, &f, 3, 0, 100, 0);
		uint8_t *ip = pkt + 14;
		struct nb_hdr h;

		ip[0] = 0x44;                     /* IHL 4 */
		CHECK_EQ(nb_pkt_parse(pkt, len, len, &h), -EINVAL);
		ip[0] = 0x4f;                     /* IHL 15: options past tot_len? no: 60 <= 140 */
		CHECK_EQ(nb_pkt_parse(pkt, len, len, &h), -EINVAL);   /* TCP doff past l4 */
		ip[0] = 0x45;
		pkt[14 + 20 + 12] = 0x40;         /* doff 4 */
		CHECK_EQ(nb_pkt_parse(pkt, len, len, &h), -EINVAL);
		pkt[14 + 20 + 12] = 0xf0;         /* doff 15: 60 bytes, payload 100: ok */
		CHECK_EQ(nb_pkt_parse(pkt, len, len, &h), 0);
		CHECK_EQ(h.l4_len, 60);
		pkt[14 + 20 + 12] = 0x50;
		pg_put16(ip + 2, 19);             /* tot_len < ihl */
		CHECK_EQ(nb_pkt_parse(pkt, len, len, &h), -EINVAL);
		pg_put16(ip + 2, 20 + 20 + 100);
		pg_put16(ip + 6, 0x2000);         /* MF: a fragment, L4 not parsed */
		CHECK_EQ(nb_pkt_parse(pkt, len, len, &h), 0);
		CHECK(h.fragment);
		CHECK_EQ(h.l4_len, 0);
		ip[0] = 0x65;                     /* version 6 in an IPv4 frame */
		CHECK_EQ(nb_pkt_parse(pkt, len, len, &h), -EINVAL);
		/* Not IP at all. */
		pkt[12] = 0x08;
		pkt[13] = 0x06;
		CHECK_EQ(nb_pkt_parse(pkt, len, len, &h), 0);
		CHECK_EQ(h.l3, NB_L3_NONE);
		CHECK_EQ(nb_pkt_parse(pkt, 13, 13, &h), -EINVAL);
	}
	{
		/* IPv6 with a hop-by-hop and a destination options header. */
		struct pg_flow f = mkflow(true, PG_UDP, 0);
		unsigned len = pg_build(pkt, &f, 3, 0, 100, 0), n = len - 54;
		uint8_t *ip = pkt + 14;
		static uint8_t buf[2000];
		struct nb_hdr h;

		memcpy(buf, pkt, 54);
		memcpy(buf + 54 + 16, pkt + 54, n);
		buf[14 + 6] = 0;                  /* next: hop-by-hop */
		buf[54] = 60;                     /* -> dest opts */
		buf[55] = 0;                      /* 8 bytes */
		buf[62] = PG_UDP;
		buf[63] = 0;
		pg_put16(buf + 14 + 4, (uint16_t)(pg_get16(ip + 4) + 16));
		CHECK_EQ(nb_pkt_parse(buf, len + 16, len + 16, &h), 0);
		CHECK_EQ(h.l3_len, 56);
		CHECK_EQ(h.l4proto, PG_UDP);
		CHECK_EQ(h.l4_len, 8);
		buf[55] = 200;                    /* extension runs past the payload */
		CHECK_EQ(nb_pkt_parse(buf, len + 16, len + 16, &h), -EINVAL);
	}
	/* Random bytes never make it read out of bounds (ASan), and whatever
	 * it accepts lies inside the packet. */
	{
		unsigned seed = 7;

		for (unsigned it = 0; it < 200000; it++) {
			struct pg_flow f = mkflow(rand_r(&seed) & 1, rand_r(&seed) & 1 ? PG_TCP : PG_UDP,
						  (uint16_t)(rand_r(&seed) & 1));
			unsigned len = pg_build(pkt, &f, 1, 0, (unsigned)rand_r(&seed) % 100, 0);
			unsigned avail = (unsigned)rand_r(&seed) % (len + 1);
			uint8_t *copy = malloc(avail ? avail : 1);
			struct nb_hdr h;

			for (int k = 0; k < 4; k++)
				pkt[(unsigned)rand_r(&seed) % len] = (uint8_t)rand_r(&seed);
			memcpy(copy, pkt, avail);
			if (nb_pkt_parse(copy, avail, len, &h) == 0 && h.l3 != NB_L3_NONE) {
				CHECK((unsigned)h.l2_len + h.l3_len <= avail);
				CHECK((unsigned)h.l2_len + h.l3_len + h.l4_bytes <= len);
				CHECK((unsigned)h.l2_len + h.l3_len + h.l4_len <= avail);
				CHECK(h.l4_len <= h.l4_bytes);
			}
			free(copy);
		}
	}
}

static void test_csum(void)
{
	static uint8_t buf[9000];
	unsigned seed = 5;

	for (unsigned it = 0; it < 20000; it++) {
		unsigned len = (unsigned)rand_r(&seed) % sizeof(buf), off = 0;
		struct nb_csum c;
		uint16_t ref, got;

		for (unsigned i = 0; i < len; i++)
			buf[i] = (uint8_t)rand_r(&seed);
		ref = (uint16_t)~pg_fold(pg_sum(0, buf, len));
		nb_csum_init(&c);
		while (off < len) {
			unsigned n = 1 + (unsigned)rand_r(&seed) % (len - off);

			if (rand_r(&seed) % 3 == 0)
				n = 1 + (unsigned)rand_r(&seed) % 3;
			if (n > len - off)
				n = len - off;
			nb_csum_update(&c, buf + off, n);
			off += n;
		}
		got = nb_csum_final(&c);
		/* Stored in native order, it must read as the reference on
		 * the wire. */
		{
			uint8_t w[2];

			memcpy(w, &got, 2);
			CHECK_EQ(pg_get16(w), ref);
		}
		if (tu_failures)
			break;
	}
	{
		uint8_t ip[20] = { 0x45, 0, 0, 60, 0x12, 0x34, 0x40, 0, 64, 6, 0xff, 0xff,
				   192, 168, 0, 1, 192, 168, 0, 2 };

		nb_ipv4_fix_csum(ip, 20);
		CHECK_EQ(pg_fold(pg_sum(0, ip, 20)), 0xffff);
	}
}

/* Segment a large TCP packet the way the data path does and check every
 * segment: lengths, ids, sequence numbers, flags, both checksums, payload. */
static void test_gso(void)
{
	static uint8_t pkt[70000], seg[10000];

	for (int v6 = 0; v6 < 2; v6++) {
		struct pg_flow f = mkflow(v6, PG_TCP, v6 ? 0 : 7);
		unsigned payload = 65535 - pg_hdrs(&f) - 10, mss = 1448;
		unsigned len = pg_build(pkt, &f, 9, 0, payload, 1), hdr = pg_hdrs(&f);
		unsigned nseg = (payload + mss - 1) / mss, off = 0;
		struct nb_hdr h;

		pkt[pg_l2(&f) + pg_l3(&f) + 13] |= 0x01 | 0x80;  /* FIN, CWR */
		REQUIRE(nb_pkt_parse(pkt, len, len, &h) == 0);
		CHECK_EQ(h.l4_bytes - h.l4_len, payload);
		for (unsigned i = 0; i < nseg; i++) {
			unsigned n = payload - off < mss ? payload - off : mss;
			uint8_t *th = seg + h.l2_len + h.l3_len;
			struct nb_csum c;
			uint16_t v;

			memcpy(seg, pkt, hdr);
			nb_gso_fix_headers(seg, &h, i, (uint16_t)mss, n, i + 1 == nseg);
			memcpy(seg + hdr, pkt + hdr + off, n);
			nb_csum_init(&c);
			nb_csum_pseudo(&c, seg + h.l2_len, &h, h.l4_len + n);
			nb_csum_update(&c, th, h.l4_len + n);
			v = nb_csum_final(&c);
			memcpy(th + 16, &v, 2);
			CHECK(pg_csum_ok(seg, hdr + n, &f));
			CHECK_EQ(pg_get32(th + 4), f.seq + off);
			CHECK_EQ(!!(th[13] & 0x01), i + 1 == nseg);     /* FIN last */
			CHECK_EQ(!!(th[13] & 0x08), i + 1 == nseg);     /* PSH last */
			CHECK_EQ(!!(th[13] & 0x80), i == 0);            /* CWR first */
			CHECK(th[13] & 0x10);                           /* ACK kept */
			if (!v6) {
				CHECK_EQ(pg_get16(seg + h.l2_len + 2), 20 + 20 + n);
				CHECK_EQ(pg_get16(seg + h.l2_len + 4), (uint16_t)(9 + i));
			} else {
				CHECK_EQ(pg_get16(seg + h.l2_len + 4), 20 + n);
			}
			for (unsigned k = 0; k < n; k++)
				if (seg[hdr + k] != pg_byte(9, off + k)) {
					CHECK(seg[hdr + k] == pg_byte(9, off + k));
					break;
				}
			off += n;
			if (tu_failures)
				return;
		}
		CHECK_EQ(off, payload);
	}
}

int main(void)
{
	test_parse();
	test_csum();
	test_gso();
	return tu_result();
}
