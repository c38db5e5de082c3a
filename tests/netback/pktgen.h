/* SPDX-License-Identifier: MIT */
/*
 * Test packets (header-only): Ethernet + IPv4/IPv6 + TCP/UDP frames with a
 * deterministic payload, and a reference checksum written independently of
 * netback's (byte by byte, RFC 1071) to verify what netback produces.
 */
#ifndef PVIO_TESTS_NB_PKTGEN_H
#define PVIO_TESTS_NB_PKTGEN_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define PG_ETH_HLEN 14
#define PG_TCP 6
#define PG_UDP 17

struct pg_flow {
	uint8_t  dst[6], src[6];
	bool     v6;
	uint8_t  proto;            /* PG_TCP, PG_UDP */
	uint8_t  saddr[16], daddr[16];
	uint16_t sport, dport;
	uint32_t seq;
	uint16_t vlan;             /* 0: untagged */
};

static inline void pg_put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline uint16_t pg_get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline void pg_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}
static inline uint32_t pg_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Reference ones'-complement sum, big-endian words, byte by byte. */
static inline uint32_t pg_sum(uint32_t s, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	return s;
}

static inline uint16_t pg_fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* Payload byte i of a stream identified by tag. */
static inline uint8_t pg_byte(uint32_t tag, uint32_t i)
{
	uint32_t x = tag * 2654435761u + i * 40503u;

	return (uint8_t)(x >> 13 ^ x);
}

/* Offsets in a frame built by pg_build. */
static inline unsigned pg_l2(const struct pg_flow *f) { return PG_ETH_HLEN + (f->vlan ? 4 : 0); }
static inline unsigned pg_l3(const struct pg_flow *f) { return f->v6 ? 40 : 20; }
static inline unsigned pg_l4(const struct pg_flow *f) { return f->proto == PG_TCP ? 20 : 8; }
static inline unsigned pg_hdrs(const struct pg_flow *f) { return pg_l2(f) + pg_l3(f) + pg_l4(f); }

/* Pseudo-header sum for an L4 length. */
static inline uint32_t pg_pseudo(const uint8_t *ip, bool v6, uint8_t proto, uint32_t l4len)
{
	uint32_t s = 0;
	uint8_t b[4];

	if (v6) {
		s = pg_sum(s, ip + 8, 32);
		pg_put32(b, l4len);
		s = pg_sum(s, b, 4);
	} else {
		s = pg_sum(s, ip + 12, 8);
		pg_put16(b, (uint16_t)l4len);
		s = pg_sum(s, b, 2);
	}
	return s + proto;
}

/*
 * Build a frame with `payload` bytes of pg_byte(tag, off + i) into buf.
 * csum: 0 = full L4 checksum, 1 = partial (pseudo-header only, as a
 * CHECKSUM_PARTIAL sender), 2 = zero. Returns the frame length.
 */
static inline unsigned pg_build(uint8_t *buf, const struct pg_flow *f, uint32_t tag,
				uint32_t off, unsigned payload, int csum)
{
	unsigned l2 = pg_l2(f), l3 = pg_l3(f), l4 = pg_l4(f), len = l2 + l3 + l4 + payload;
	uint8_t *ip = buf + l2, *th = ip + l3;
	uint16_t c;

	memcpy(buf, f->dst, 6);
	memcpy(buf + 6, f->src, 6);
	if (f->vlan) {
		pg_put16(buf + 12, 0x8100);
		pg_put16(buf + 14, f->vlan);
	}
	pg_put16(buf + l2 - 2, f->v6 ? 0x86DD : 0x0800);
	if (f->v6) {
		memset(ip, 0, 40);
		ip[0] = 0x60;
		pg_put16(ip + 4, (uint16_t)(l4 + payload));
		ip[6] = f->proto;
		ip[7] = 64;
		memcpy(ip + 8, f->saddr, 16);
		memcpy(ip + 24, f->daddr, 16);
	} else {
		memset(ip, 0, 20);
		ip[0] = 0x45;
		pg_put16(ip + 2, (uint16_t)(l3 + l4 + payload));
		pg_put16(ip + 4, (uint16_t)tag);
		ip[8] = 64;
		ip[9] = f->proto;
		memcpy(ip + 12, f->saddr, 4);
		memcpy(ip + 16, f->daddr, 4);
		c = (uint16_t)~pg_fold(pg_sum(0, ip, 20));
		pg_put16(ip + 10, c);
	}
	memset(th, 0, l4);
	pg_put16(th, f->sport);
	pg_put16(th + 2, f->dport);
	if (f->proto == PG_TCP) {
		pg_put32(th + 4, f->seq + off);
		th[12] = 5 << 4;
		th[13] = 0x18;   /* PSH ACK */
		pg_put16(th + 14, 65535);
	} else {
		pg_put16(th + 4, (uint16_t)(l4 + payload));
	}
	for (unsigned i = 0; i < payload; i++)
		th[l4 + i] = pg_byte(tag, off + i);
	{
		unsigned co = f->proto == PG_TCP ? 16 : 6;
		uint32_t ps = pg_pseudo(ip, f->v6, f->proto, l4 + payload);

		if (csum == 0) {
			c = (uint16_t)~pg_fold(pg_sum(ps, th, l4 + payload));
			if (f->proto == PG_UDP && c == 0)
				c = 0xffff;
			pg_put16(th + co, c);
		} else if (csum == 1) {
			pg_put16(th + co, pg_fold(ps));
		}
	}
	return len;
}

/* Is the L4 checksum of a frame (built like pg_build) right? And the IPv4
 * header checksum? */
static inline bool pg_csum_ok(const uint8_t *buf, unsigned len, const struct pg_flow *f)
{
	unsigned l2 = pg_l2(f), l3 = pg_l3(f);
	const uint8_t *ip = buf + l2;
	uint32_t l4len;

	if (len < l2 + l3)
		return false;
	if (f->v6) {
		l4len = pg_get16(ip + 4);
	} else {
		if (pg_fold(pg_sum(0, ip, 20)) != 0xffff)
			return false;
		l4len = pg_get16(ip + 2) - 20u;
	}
	if (l2 + l3 + l4len > len)
		return false;
	return pg_fold(pg_sum(pg_pseudo(ip, f->v6, f->proto, l4len), ip + l3, l4len)) == 0xffff;
}

#endif /* PVIO_TESTS_NB_PKTGEN_H */
