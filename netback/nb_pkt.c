/* SPDX-License-Identifier: MIT */
/* netback packet helpers without DPDK: see nb_pkt.h. */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "netback/nb_pkt.h"

static inline uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

int nb_mac_parse(const char *s, uint8_t mac[NB_ETH_ALEN])
{
	for (int i = 0; i < NB_ETH_ALEN; i++) {
		int v = 0;

		for (int k = 0; k < 2; k++, s++) {
			int c = tolower((unsigned char)*s);

			if (c >= '0' && c <= '9')
				v = v * 16 + (c - '0');
			else if (c >= 'a' && c <= 'f')
				v = v * 16 + (c - 'a' + 10);
			else
				return -EINVAL;
		}
		mac[i] = (uint8_t)v;
		if (i < NB_ETH_ALEN - 1 && *s++ != ':')
			return -EINVAL;
	}
	return *s ? -EINVAL : 0;
}

/* ------------------------------------------------------------ parsing */

#define NEED(n) do {                                   \
	if ((uint64_t)(n) > pkt_len) return -EINVAL;   \
	if ((uint64_t)(n) > avail) return -ENODATA;    \
} while (0)

static int parse_ipv6(const uint8_t *buf, uint32_t avail, uint32_t pkt_len, uint32_t off,
		      struct nb_hdr *h)
{
	const uint8_t *ip;
	uint32_t plen, l3 = 40;
	uint8_t nh;

	NEED(off + 40);
	ip = buf + off;
	if ((ip[0] >> 4) != 6)
		return -EINVAL;
	plen = be16(ip + 4);
	if (off + 40 + plen > pkt_len)
		return -EINVAL;
	nh = ip[6];
	for (int n = 0;; n++) {
		uint32_t len;

		if (nh != 0 && nh != 43 && nh != 60 && nh != 44 && nh != 51)
			break;
		if (n == NB_MAX_IPV6_EXT)
			break;   /* too deep: L4 unknown (nh is an extension) */
		if (l3 + 8 > 40 + plen)
			return -EINVAL;
		NEED(off + l3 + 8);
		if (nh == 44) {                 /* fragment: fixed size */
			if (be16(buf + off + l3 + 2) & 0xfff9)
				h->fragment = true;
			len = 8;
		} else if (nh == 51) {          /* AH: 4-byte units, minus 2 */
			len = ((uint32_t)buf[off + l3 + 1] + 2) * 4;
		} else {
			len = ((uint32_t)buf[off + l3 + 1] + 1) * 8;
		}
		nh = buf[off + l3];
		l3 += len;
		if (l3 > 40 + plen)
			return -EINVAL;
	}
	if (l3 > NB_MAX_HDR_LEN)
		return -EINVAL;
	h->l3 = NB_L3_IPV6;
	h->l3_len = (uint16_t)l3;
	h->l4proto = nh;
	h->l4_bytes = 40 + plen - l3;
	return 0;
}

int nb_pkt_parse(const uint8_t *buf, uint32_t avail, uint32_t pkt_len, struct nb_hdr *h)
{
	uint32_t off = NB_ETH_HLEN, l4off;
	uint16_t et;
	int r;

	memset(h, 0, sizeof(*h));
	if (avail > pkt_len)
		avail = pkt_len;
	NEED(NB_ETH_HLEN);
	et = be16(buf + 12);
	for (int t = 0; et == NB_ETHERTYPE_VLAN || et == NB_ETHERTYPE_QINQ; t++) {
		if (t == NB_MAX_VLAN_TAGS)
			break;   /* deeper stacks: not parsed further */
		NEED(off + 4);
		et = be16(buf + off + 2);
		off += 4;
	}
	h->l2_len = (uint16_t)off;
	h->ethertype = et;
	if (et == NB_ETHERTYPE_IPV4) {
		const uint8_t *ip;
		uint32_t ihl, tot;

		NEED(off + 20);
		ip = buf + off;
		if ((ip[0] >> 4) != 4)
			return -EINVAL;
		ihl = (uint32_t)(ip[0] & 15) * 4;
		tot = be16(ip + 2);
		if (ihl < 20 || tot < ihl || off + tot > pkt_len)
			return -EINVAL;
		NEED(off + ihl);
		h->l3 = NB_L3_IPV4;
		h->l3_len = (uint16_t)ihl;
		h->l4proto = ip[9];
		h->l4_bytes = tot - ihl;
		if (be16(ip + 6) & 0x3fff)      /* MF or a fragment offset */
			h->fragment = true;
	} else if (et == NB_ETHERTYPE_IPV6) {
		r = parse_ipv6(buf, avail, pkt_len, off, h);
		if (r < 0)
			return r;
	} else {
		return 0;
	}
	if (h->fragment)
		return 0;
	l4off = off + h->l3_len;
	if (h->l4proto == NB_IPPROTO_TCP) {
		uint32_t doff;

		if (h->l4_bytes < 20)
			return -EINVAL;
		NEED(l4off + 20);
		doff = (uint32_t)(buf[l4off + 12] >> 4) * 4;
		if (doff < 20 || doff > h->l4_bytes)
			return -EINVAL;
		NEED(l4off + doff);
		h->l4_len = (uint16_t)doff;
	} else if (h->l4proto == NB_IPPROTO_UDP) {
		if (h->l4_bytes < 8)
			return -EINVAL;
		NEED(l4off + 8);
		h->l4_len = 8;
	}
	return 0;
}

/* ------------------------------------------------------------ checksum */

/* Native-order 16-bit ones'-complement partial sum of buf (even start). */
static uint32_t sum_native(const uint8_t *p, size_t len)
{
	uint64_t s = 0;

	while (len >= 8) {
		uint32_t a, b;

		memcpy(&a, p, 4);
		memcpy(&b, p + 4, 4);
		s += (uint64_t)a + b;
		p += 8;
		len -= 8;
	}
	if (len >= 4) {
		uint32_t a;

		memcpy(&a, p, 4);
		s += a;
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		uint16_t a;

		memcpy(&a, p, 2);
		s += a;
		p += 2;
		len -= 2;
	}
	if (len) {
		/* A lone last byte is the first byte of a zero-padded word. */
		uint8_t w[2] = { *p, 0 };
		uint16_t a;

		memcpy(&a, w, 2);
		s += a;
	}
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint32_t)s;
}

void nb_csum_update(struct nb_csum *c, const void *buf, size_t len)
{
	uint32_t s = sum_native(buf, len);

	/* A piece starting at an odd offset has its bytes in the other half
	 * of each word: swap its sum (RFC 1071, byte-order independence). */
	if (c->off & 1)
		s = ((s & 0xff) << 8) | (s >> 8);
	c->sum += s;
	c->sum = (c->sum & 0xffff) + (c->sum >> 16);
	c->off += (uint32_t)len;
}

uint16_t nb_csum_fold(const struct nb_csum *c)
{
	uint32_t s = c->sum;

	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

uint16_t nb_csum_buf(const void *buf, size_t len)
{
	struct nb_csum c;

	nb_csum_init(&c);
	nb_csum_update(&c, buf, len);
	return nb_csum_final(&c);
}

void nb_csum_pseudo(struct nb_csum *c, const uint8_t *l3, const struct nb_hdr *h,
		    uint32_t l4len)
{
	uint8_t ph[40];
	struct nb_csum p;

	/* Summed separately so that c's parity does not matter. */
	nb_csum_init(&p);
	if (h->l3 == NB_L3_IPV4) {
		memcpy(ph, l3 + 12, 8);          /* saddr, daddr */
		ph[8] = 0;
		ph[9] = h->l4proto;
		put_be16(ph + 10, (uint16_t)l4len);
		nb_csum_update(&p, ph, 12);
	} else {
		memcpy(ph, l3 + 8, 32);          /* saddr, daddr */
		put_be32(ph + 32, l4len);
		ph[36] = ph[37] = ph[38] = 0;
		ph[39] = h->l4proto;
		nb_csum_update(&p, ph, 40);
	}
	c->sum += nb_csum_fold(&p);
	c->sum = (c->sum & 0xffff) + (c->sum >> 16);
}

void nb_ipv4_fix_csum(uint8_t *ip, unsigned ihl_bytes)
{
	uint16_t cs;

	ip[10] = ip[11] = 0;
	cs = nb_csum_buf(ip, ihl_bytes);
	memcpy(ip + 10, &cs, 2);
}

/* ------------------------------------------------------------ segmentation */

void nb_gso_fix_headers(uint8_t *hdr, const struct nb_hdr *h, unsigned index, uint16_t mss,
			uint32_t seg_payload, bool last)
{
	uint8_t *ip = hdr + h->l2_len;
	uint8_t *th = ip + h->l3_len;
	uint32_t l4 = h->l4_len + seg_payload;

	if (h->l3 == NB_L3_IPV4) {
		put_be16(ip + 2, (uint16_t)(h->l3_len + l4));
		put_be16(ip + 4, (uint16_t)(be16(ip + 4) + index));
		nb_ipv4_fix_csum(ip, h->l3_len);
	} else {
		put_be16(ip + 4, (uint16_t)(h->l3_len - 40 + l4));
	}
	put_be32(th + 4, be32(th + 4) + (uint32_t)index * mss);
	if (!last)
		th[13] &= (uint8_t)~0x09;        /* FIN, PSH */
	if (index)
		th[13] &= (uint8_t)~0x80;        /* CWR */
	th[16] = th[17] = 0;
}
