/* SPDX-License-Identifier: MIT */
/*
 * netback packet helpers that need no DPDK (unit-tested and fuzzed alone):
 * Ethernet/VLAN/IPv4/IPv6/TCP/UDP header parsing, the Internet checksum
 * over scattered buffers, and the header rewrite of TCP segmentation.
 *
 * Everything here reads private copies: the data path grant-copies a
 * guest's packet into its own buffers first and parses afterwards (copy
 * then validate), so a guest cannot change a header after it was checked.
 */
#ifndef PVIO_NB_PKT_H
#define PVIO_NB_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NB_ETH_ALEN        6
#define NB_ETH_HLEN        14
#define NB_ETHERTYPE_IPV4  0x0800
#define NB_ETHERTYPE_IPV6  0x86DD
#define NB_ETHERTYPE_VLAN  0x8100
#define NB_ETHERTYPE_QINQ  0x88A8
#define NB_IPPROTO_TCP     6
#define NB_IPPROTO_UDP     17

/* Headers never need more than this many bytes in the first segment:
 * Ethernet + 2 VLAN tags + IPv6 with extension headers (bounded below) +
 * a TCP header with options. The data path pulls at least this much (or the
 * whole packet) into the first segment (XSA-423/432). */
#define NB_MAX_HDR_LEN     512
#define NB_MAX_VLAN_TAGS   2
#define NB_MAX_IPV6_EXT    8

enum nb_l3 { NB_L3_NONE = 0, NB_L3_IPV4 = 1, NB_L3_IPV6 = 2 };

struct nb_hdr {
	uint16_t l2_len;       /* Ethernet + VLAN tags */
	uint16_t l3_len;       /* IPv4 header with options / IPv6 + extension headers */
	uint16_t l4_len;       /* TCP header with options, UDP 8; 0 if not parsed */
	uint16_t ethertype;    /* innermost */
	uint8_t  l3;           /* enum nb_l3 */
	uint8_t  l4proto;      /* NB_IPPROTO_* or other; 0 if none */
	bool     fragment;     /* IPv4/IPv6 fragment: no usable L4 header */
	uint32_t l4_bytes;     /* L4 header + payload, from the IP length field */
};

/*
 * Parse the headers of a packet of pkt_len bytes whose first avail bytes are
 * at buf. L3/L4 are parsed only for IPv4/IPv6; an unknown ethertype gives
 * l3 = NB_L3_NONE and 0. Returns 0, -EINVAL when lengths are inconsistent
 * (IP header or length fields beyond the packet, TCP doff < 5, ...), or
 * -ENODATA when a header lies beyond avail.
 */
int nb_pkt_parse(const uint8_t *buf, uint32_t avail, uint32_t pkt_len, struct nb_hdr *h);

static inline bool nb_mac_is_multicast(const uint8_t *mac)
{
	return mac[0] & 1;
}

static inline bool nb_mac_is_broadcast(const uint8_t *mac)
{
	return (mac[0] & mac[1] & mac[2] & mac[3] & mac[4] & mac[5]) == 0xff;
}

static inline bool nb_mac_is_zero(const uint8_t *mac)
{
	return (mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]) == 0;
}

static inline uint64_t nb_mac_to_u64(const uint8_t *mac)
{
	return (uint64_t)mac[0] << 40 | (uint64_t)mac[1] << 32 | (uint64_t)mac[2] << 24 |
	       (uint64_t)mac[3] << 16 | (uint64_t)mac[4] << 8 | mac[5];
}

static inline void nb_u64_to_mac(uint64_t v, uint8_t *mac)
{
	for (int i = 5; i >= 0; i--, v >>= 8)
		mac[i] = (uint8_t)v;
}

/* "aa:bb:cc:dd:ee:ff" (case-insensitive) -> 0, or -EINVAL. */
int nb_mac_parse(const char *s, uint8_t mac[NB_ETH_ALEN]);

/* ------------------------------------------------------------ checksum */

/*
 * The Internet checksum (RFC 1071) accumulated over pieces of any length
 * and alignment, in native byte order: store the result with memcpy and it
 * is right on the wire.
 */
struct nb_csum {
	uint32_t sum;          /* folded partial sums, native order */
	uint32_t off;          /* bytes summed so far (their parity matters) */
};

static inline void nb_csum_init(struct nb_csum *c)
{
	c->sum = 0;
	c->off = 0;
}

void nb_csum_update(struct nb_csum *c, const void *buf, size_t len);

/* The 16-bit ones'-complement sum folded, native order (not inverted). */
uint16_t nb_csum_fold(const struct nb_csum *c);

/* The value to store in a checksum field: ~fold, native order. */
static inline uint16_t nb_csum_final(const struct nb_csum *c)
{
	return (uint16_t)~nb_csum_fold(c);
}

/* Checksum of one buffer, ready to store. */
uint16_t nb_csum_buf(const void *buf, size_t len);

/*
 * Add the TCP/UDP pseudo-header of the packet whose L3 header is at l3 (as
 * parsed into h) for an L4 length of l4len bytes.
 */
void nb_csum_pseudo(struct nb_csum *c, const uint8_t *l3, const struct nb_hdr *h,
		    uint32_t l4len);

/* Offset of the checksum field inside the L4 header (TCP 16, UDP 6), or -1. */
static inline int nb_l4_csum_offset(uint8_t proto)
{
	return proto == NB_IPPROTO_TCP ? 16 : proto == NB_IPPROTO_UDP ? 6 : -1;
}

/* Recompute the IPv4 header checksum in place (hdr: the IPv4 header). */
void nb_ipv4_fix_csum(uint8_t *ip, unsigned ihl_bytes);

/* ------------------------------------------------------------ segmentation */

/* Smallest GSO segment size accepted from a guest (Linux's TCP_MIN_MSS): a
 * guest cannot make us build more than 64 KiB / 88 segments of a packet. */
#define NB_GSO_MIN_SIZE    88

/*
 * Rewrite a copy of the headers (l2+l3+l4 bytes at hdr, as parsed into h,
 * a TCP packet) for segment `index` carrying seg_payload bytes of the
 * original payload: IP lengths, IPv4 id + index, TCP sequence + index*mss,
 * FIN/PSH only on the last segment, CWR only on the first. The IPv4 header
 * checksum is recomputed; the TCP checksum is zeroed (computed by the caller
 * over the finished segment).
 */
void nb_gso_fix_headers(uint8_t *hdr, const struct nb_hdr *h, unsigned index, uint16_t mss,
			uint32_t seg_payload, bool last);

#endif /* PVIO_NB_PKT_H */
