/* SPDX-License-Identifier: MIT */
/*
 * Parsing and validation of a guest's tx requests (no DPDK): one packet is
 * a first tx_request, extra-info slots while NETTXF_extra_info /
 * XEN_NETIF_EXTRA_FLAG_MORE say so, then one slot per further fragment
 * while NETTXF_more_data is set. Rules, as Linux netback
 * (xenvif_tx_build_gops / xenvif_count_requests / xenvif_get_extras):
 *
 *   extra type 0 or >= EXTRA_TYPE_MAX, more than NB_TX_MAX_EXTRAS extras  fatal
 *   a fragment with offset + size past its page                           fatal
 *   the first slot's own data (size minus the fragments) past its page    fatal
 *   NB_TX_FATAL_SLOTS or more fragments after the first slot              fatal
 *   (the frame's boundary is lost: the frontend is cut off)
 *   more than PVIO_XEN_NETIF_NR_SLOTS_MIN fragments                       drop
 *   a fragment larger than what remains of the packet's size              drop
 *   first slot's own data shorter than an Ethernet header                 drop
 *   GSO extra with size < NB_GSO_MIN_SIZE or an unknown type              drop
 *   zero-length fragments: accepted, never copied (XSA-448)
 *   MCAST_ADD/MCAST_DEL extra: the request is a multicast control
 *   operation, not a packet (only the first slot and its extras are used)
 *
 * A dropped packet consumes all its slots; each gets an error response
 * (extras a NULL one). The parser sees only private copies of the slots
 * (XSA-155): the caller copies the ring's requests out first.
 */
#ifndef PVIO_NB_TX_H
#define PVIO_NB_TX_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "ring/netif.h"

/* Fragments after the first slot: Linux's XEN_NETBK_LEGACY_SLOTS_MAX (18,
 * = XEN_NETIF_NR_SLOTS_MIN) are accepted; up to fatal_skb_slots (20) the
 * packet is dropped; beyond, the frontend is considered malicious. */
#define NB_TX_MAX_FRAGS    PVIO_XEN_NETIF_NR_SLOTS_MIN
#define NB_TX_FATAL_SLOTS  20
#define NB_TX_MAX_EXTRAS   (PVIO_XEN_NETIF_EXTRA_TYPE_MAX - 1)
/* Most slots one packet can take: first + extras + fragments. */
#define NB_TX_MAX_SLOTS    (1 + NB_TX_MAX_EXTRAS + NB_TX_FATAL_SLOTS)

enum nb_tx_verdict {
	NB_TX_OK = 0,        /* a packet to copy and forward */
	NB_TX_DROP,          /* consume, answer every slot with ERROR */
	NB_TX_MCAST,         /* a multicast control operation */
};

struct nb_txfrag {
	uint32_t gref;
	uint16_t offset;
	uint16_t size;       /* bytes of the packet in this slot (may be 0) */
};

struct nb_txpkt {
	uint16_t nslots;     /* ring slots this packet takes */
	uint16_t nextras;    /* extra-info slots after the first */
	uint16_t nfrags;     /* entries of frag[] (first slot included) */
	uint16_t flags;      /* first slot's NETTXF_* */
	uint32_t size;       /* whole packet */
	enum nb_tx_verdict verdict;
	const char *why;     /* reason of a drop or fatal error (static) */
	bool has_gso, has_mcast_add, has_mcast_del, has_hash;
	struct pvio_netif_extra_info gso, mcast_add, mcast_del, hash;
	struct nb_txfrag frag[1 + NB_TX_MAX_FRAGS];
};

/*
 * Parse the packet starting at win[start & mask] with `avail` slots copied
 * (win holds private copies; mask = window size - 1, a power of two).
 * Returns the number of slots the packet takes (> 0, verdict in p), 0 if it
 * continues past avail (for a frontend that pushes whole packets, a
 * protocol violation), or -EPROTO for a fatal error (p->why says which).
 */
int nb_tx_parse(const struct pvio_netif_tx_request *win, uint32_t mask, uint32_t start,
		uint32_t avail, struct nb_txpkt *p);

/* The extra info held in a tx slot (it overlays the request's bytes). */
static inline void nb_tx_slot_extra(const struct pvio_netif_tx_request *slot,
				    struct pvio_netif_extra_info *x)
{
	memcpy(x, slot, sizeof(*x));
}

#endif /* PVIO_NB_TX_H */
