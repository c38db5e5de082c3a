/* SPDX-License-Identifier: MIT */
/* Guest tx request parsing and validation: see nb_tx.h. */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "netback/nb_pkt.h"
#include "netback/nb_tx.h"

static int fatal(struct nb_txpkt *p, const char *why)
{
	p->why = why;
	return -EPROTO;
}

static void drop(struct nb_txpkt *p, const char *why)
{
	if (p->verdict == NB_TX_OK) {
		p->verdict = NB_TX_DROP;
		p->why = why;
	}
}

int nb_tx_parse(const struct pvio_netif_tx_request *win, uint32_t mask, uint32_t start,
		uint32_t avail, struct nb_txpkt *p)
{
	const struct pvio_netif_tx_request *first;
	uint32_t n = 1, remaining;
	unsigned k;

	/* Everything but frag[]: only its first nfrags entries are read, and
	 * each is written before nfrags counts it (a whole-struct memset was
	 * most of this function's time: ~200 bytes a packet). */
	memset(p, 0, offsetof(struct nb_txpkt, frag));
	if (avail == 0)
		return 0;
	first = &win[start & mask];
	p->flags = first->flags;
	p->size = first->size;

	/* Extra-info slots. */
	if (first->flags & PVIO_NETTXF_extra_info) {
		struct pvio_netif_extra_info x;

		do {
			if (n >= avail)
				return 0;
			nb_tx_slot_extra(&win[(start + n) & mask], &x);
			n++;
			if (x.type == PVIO_XEN_NETIF_EXTRA_TYPE_NONE ||
			    x.type >= PVIO_XEN_NETIF_EXTRA_TYPE_MAX)
				return fatal(p, "invalid extra-info type");
			if (p->nextras == NB_TX_MAX_EXTRAS)
				return fatal(p, "too many extra-info slots");
			p->nextras++;
			switch (x.type) {
			case PVIO_XEN_NETIF_EXTRA_TYPE_GSO:
				p->gso = x;
				p->has_gso = true;
				break;
			case PVIO_XEN_NETIF_EXTRA_TYPE_MCAST_ADD:
				p->mcast_add = x;
				p->has_mcast_add = true;
				break;
			case PVIO_XEN_NETIF_EXTRA_TYPE_MCAST_DEL:
				p->mcast_del = x;
				p->has_mcast_del = true;
				break;
			default:
				p->hash = x;
				p->has_hash = true;
				break;
			}
		} while (x.flags & PVIO_XEN_NETIF_EXTRA_FLAG_MORE);
	}

	/* A multicast operation consumes the first slot and its extras only
	 * (as Linux: its more_data chain, if any, is parsed as what follows). */
	if (p->has_mcast_add || p->has_mcast_del) {
		p->verdict = NB_TX_MCAST;
		p->nslots = (uint16_t)n;
		return (int)n;
	}

	/* Fragments. first->size is the whole packet; each fragment's size is
	 * taken from it and what is left is the first slot's own data. */
	remaining = first->size;
	k = 0;
	if (first->flags & PVIO_NETTXF_more_data) {
		const struct pvio_netif_tx_request *t;

		do {
			if (n >= avail)
				return 0;
			if (k >= NB_TX_FATAL_SLOTS)
				return fatal(p, "more_data chain too long (malicious frontend)");
			if (k >= NB_TX_MAX_FRAGS)
				drop(p, "too many slots");
			t = &win[(start + n) & mask];
			n++;
			if ((uint32_t)t->offset + t->size > PVIO_PAGE_SIZE)
				return fatal(p, "fragment crosses its page");
			if (t->size > remaining) {
				drop(p, "fragment larger than the rest of the packet");
				remaining = 0;
			} else {
				remaining -= t->size;
			}
			if (p->verdict == NB_TX_OK) {
				p->frag[1 + k].gref = t->gref;
				p->frag[1 + k].offset = t->offset;
				p->frag[1 + k].size = t->size;
			}
			k++;
		} while (t->flags & PVIO_NETTXF_more_data);
	}
	p->nslots = (uint16_t)n;
	if ((uint32_t)first->offset + remaining > PVIO_PAGE_SIZE)
		return fatal(p, "first slot crosses its page");
	if (remaining < NB_ETH_HLEN)
		drop(p, "first slot shorter than an Ethernet header");
	if (p->has_gso) {
		if (p->gso.u.gso.type != PVIO_XEN_NETIF_GSO_TYPE_TCPV4 &&
		    p->gso.u.gso.type != PVIO_XEN_NETIF_GSO_TYPE_TCPV6)
			drop(p, "unknown GSO type");
		else if (p->gso.u.gso.size < NB_GSO_MIN_SIZE)
			drop(p, "GSO size too small");
	}
	if (p->verdict != NB_TX_OK)
		return (int)n;
	p->frag[0].gref = first->gref;
	p->frag[0].offset = first->offset;
	p->frag[0].size = (uint16_t)remaining;
	p->nfrags = (uint16_t)(1 + k);
	return (int)n;
}
