/* SPDX-License-Identifier: MIT */
/*
 * pvio-netback data path of a vif queue, run by a worker (worker.c) with
 * the other queues and uplinks it serves.
 *
 *   tx (guest -> switch)
 *     copy every pending request to a private window (XSA-155), parse and
 *     validate packets there (nb_tx.c), allocate mbufs for a burst, grant-
 *     copy the guest's data into them in one batch (copy then validate),
 *     packing the bytes so that the first segment holds the first 4 KiB and
 *     with them every header (XSA-423/432: bounded by the packet size, which
 *     is bounded by 64 KiB, and by the slot count); zero-length fragments
 *     are never copied and answered at once (XSA-448); parse the headers of
 *     the private copy for checksum offload and GSO; answer every slot, one
 *     push and at most one notification per round; forward the burst
 *
 *   rx (switch -> guest)
 *     take packets from this queue's backlog, wait until the guest posted
 *     enough rx requests for the whole packet (data pages + extra-info
 *     slots; "one free slot, packet needs two" is a stall, not a spin),
 *     grant-copy into the posted pages in one batch, write each response in
 *     the slot of the request it answers, one push per round. A guest that
 *     posts nothing for rx_drain_ms loses its backlog (XSA-392). Extras in
 *     type order, as Linux: GSO, HASH (Toeplitz configured), XDP (the
 *     frontend asked for xdp-headroom: the first slot's data starts that
 *     far into its page, its response's offset says so too).
 *
 *   ctrl (queue 0 only): hash configuration requests (nb_hash.c, XSA-270)
 *
 *   sleep: after poll_us without work in any of its tasks, the worker
 *   asks for the final checks, unmask the ports (late EOI, XSA-332) and
 *   sleeps on the event channels and the backlog's kick eventfd (with
 *   the other tasks' fds).
 *
 * A protocol violation (ring overflow, a fatal tx request, a closed event
 * channel) stops this queue and asks the control plane to disconnect the
 * vif; nothing a guest writes affects another vif.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "netback/common.h"
#include "ring/pvio_atomic.h"

void nb_queue_log(struct nb_queue *q, const char *fmt, ...)
{
	bool print, note;
	va_list ap;

	print = pvio_ratelimit_allow(&q->log_rl, 10, &note);
	if (note)
		fprintf(stderr, "netback: %s: (further messages were suppressed)\n", q->name);
	if (!print)
		return;
	fprintf(stderr, "netback: %s: ", q->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static struct nb_queue_stats *qst(struct nb_queue *q)
{
	return &q->vif->st.q[q->idx];
}

static void mark_broken(struct nb_queue *q, const char *why)
{
	uint64_t one = 1;

	nb_queue_log(q, "%s: disconnecting this frontend", why);
	if (!pvio_fetch_or(&q->vif->broken, 1))
		pvio_fetch_add(&q->vif->st.fatal, 1);
	if (write(q->vif->broken_efd, &one, sizeof(one)) < 0) {
		/* saturated: the control plane is woken anyway */
	}
}

static void notify(struct nb_queue *q, struct pvio_evtchn *ch)
{
	pvio_evtchn_notify(ch);
	nb_st_add(&qst(q)->notifies, 1);
}

/* Grant copies of a round: through the persistent mappings when the
 * frontend keeps its pages granted (no pin, no atomic per copy), else the
 * hypervisor's grant copy. */
static void nb_copy(struct nb_queue *q, struct pvio_gnt_copy_op *ops, unsigned n)
{
	if (!q->pg_on) {
		pvio_hv_copy(q->vif->hv, ops, n);
		return;
	}
	pvio_pgrant_copy(&q->pg, ops, n);
	if (q->pg.stats.inserts != q->pg_inserts) {
		nb_st_add(&qst(q)->pgrant_maps, q->pg.stats.inserts - q->pg_inserts);
		q->pg_inserts = q->pg.stats.inserts;
	}
}

/* ------------------------------------------------------------ tx */

static void put_tx_response(struct nb_queue *q, uint16_t id, int16_t status)
{
	struct pvio_netif_tx_response rsp;

	/* Field by field in zeroed private memory (XSA-216). */
	memset(&rsp, 0, sizeof(rsp));
	rsp.id = id;
	rsp.status = status;
	pvio_netif_tx_put_response(&q->tx, &rsp);
}

/* Answer the slots of packet p, which start at the window's head: the
 * first with status, its extras with NULL, its fragments with status. */
static void answer_packet(struct nb_queue *q, const struct nb_txpkt *p, int16_t status)
{
	uint32_t mask = q->tx.nr_ents - 1;

	for (unsigned i = 0; i < p->nslots; i++) {
		const struct pvio_netif_tx_request *r = &q->txwin[(q->win_head + i) & mask];

		if (i >= 1 && i <= p->nextras)
			put_tx_response(q, 0, PVIO_NETIF_RSP_NULL);
		else
			put_tx_response(q, r->id, status);
	}
	q->win_head += p->nslots;
	q->win_count -= p->nslots;
}

static int16_t mcast_op(struct nb_queue *q, const struct nb_txpkt *p)
{
	struct nb_vif *v = q->vif;

	nb_st_add(&qst(q)->tx_mcast_ops, 1);
	if (p->has_mcast_add) {
		const uint8_t *a = p->mcast_add.u.mcast.addr;
		uint64_t want = nb_mac_to_u64(a) | 1ull << 63;

		if (!nb_mac_is_multicast(a))
			return PVIO_NETIF_RSP_ERROR;
		for (unsigned i = 0; i < NB_MCAST_MAX; i++)
			if (pvio_load_relaxed(&v->mcast[i]) == want)
				return PVIO_NETIF_RSP_OKAY;
		for (unsigned i = 0; i < NB_MCAST_MAX; i++) {
			uint64_t zero = 0;

			if (pvio_cmpxchg(&v->mcast[i], &zero, want))
				return PVIO_NETIF_RSP_OKAY;
		}
		nb_queue_log(q, "too many multicast addresses (%d)", NB_MCAST_MAX);
		return PVIO_NETIF_RSP_ERROR;
	}
	{
		uint64_t want = nb_mac_to_u64(p->mcast_del.u.mcast.addr) | 1ull << 63;

		for (unsigned i = 0; i < NB_MCAST_MAX; i++) {
			uint64_t cur = want;

			pvio_cmpxchg(&v->mcast[i], &cur, 0);
		}
		return PVIO_NETIF_RSP_OKAY;
	}
}

/* Grant-copy ops for packet p into the mbuf chain m (segments filled
 * whole, in order). Returns the number of ops. */
static unsigned build_tx_ops(struct nb_queue *q, const struct nb_txpkt *p, struct rte_mbuf *m,
			     struct pvio_gnt_copy_op *ops)
{
	struct rte_mbuf *seg = m;
	uint32_t soff = 0;
	unsigned n = 0;

	for (unsigned i = 0; i < p->nfrags; i++) {
		const struct nb_txfrag *fr = &p->frag[i];
		uint32_t done = 0;

		/* Zero-length fragments: nothing to copy (XSA-448). */
		while (done < fr->size) {
			uint32_t len = fr->size - done;

			if (soff == NB_MBUF_DATA) {
				seg = seg->next;
				soff = 0;
			}
			if (len > NB_MBUF_DATA - soff)
				len = NB_MBUF_DATA - soff;
			memset(&ops[n], 0, sizeof(ops[n]));
			ops[n].source.foreign.ref = fr->gref;
			ops[n].source.foreign.offset = (uint16_t)(fr->offset + done);
			ops[n].source.foreign.domid = q->vif->fe_domid;
			ops[n].dest.virt = rte_pktmbuf_mtod_offset(seg, uint8_t *, soff);
			ops[n].len = (uint16_t)len;
			ops[n].flags = PVIO_GNTCOPY_source_gref;
			n++;
			done += len;
			soff += len;
		}
	}
	return n;
}

static unsigned count_zero_frags(const struct nb_txpkt *p)
{
	unsigned z = 0;

	for (unsigned i = 1; i < p->nfrags; i++)
		z += p->frag[i].size == 0;
	return z;
}

static uint32_t pseudo_csum(const uint8_t *pkt, const struct nb_hdr *h)
{
	struct nb_csum c;

	nb_csum_init(&c);
	nb_csum_pseudo(&c, pkt + h->l2_len, h, h->l4_bytes);
	return nb_csum_fold(&c);
}

/* Offload metadata of a guest packet, from its private copy. Returns NULL
 * or why it must be refused. */
static const char *tx_offloads(struct nb_queue *q, const struct nb_txpkt *p, struct rte_mbuf *m)
{
	bool csum = p->flags & PVIO_NETTXF_csum_blank;
	uint8_t *pkt = rte_pktmbuf_mtod(m, uint8_t *);
	struct nb_hdr h;
	uint16_t ps;
	int co;

	(void)q;
	m->ol_flags = 0;
	if (!csum && !p->has_gso) {
		if (p->flags & PVIO_NETTXF_data_validated)
			m->ol_flags = RTE_MBUF_F_RX_L4_CKSUM_GOOD;
		return NULL;
	}
	/* The first segment holds min(size, 4 KiB) bytes: every header. */
	if (nb_pkt_parse(pkt, m->data_len, m->pkt_len, &h) < 0)
		return "malformed headers in a packet with checksum offload or GSO";
	if (h.l3 == NB_L3_NONE || h.fragment || (co = nb_l4_csum_offset(h.l4proto)) < 0 ||
	    !h.l4_len)
		return "checksum offload on a packet that is not TCP or UDP over IP";
	if (p->has_gso) {
		bool v6 = p->gso.u.gso.type == PVIO_XEN_NETIF_GSO_TYPE_TCPV6;

		if (h.l4proto != NB_IPPROTO_TCP || (v6 ? h.l3 != NB_L3_IPV6 : h.l3 != NB_L3_IPV4))
			return "GSO type does not match the packet's headers";
		if (h.l4_bytes <= h.l4_len)
			return "GSO packet without payload";
		m->ol_flags |= RTE_MBUF_F_TX_TCP_SEG;
		m->tso_segsz = p->gso.u.gso.size;
	}
	m->l2_len = h.l2_len;
	m->l3_len = h.l3_len;
	m->l4_len = h.l4_len;
	m->ol_flags |= (h.l3 == NB_L3_IPV4 ? RTE_MBUF_F_TX_IPV4 : RTE_MBUF_F_TX_IPV6) |
		       (h.l4proto == NB_IPPROTO_TCP ? RTE_MBUF_F_TX_TCP_CKSUM
						    : RTE_MBUF_F_TX_UDP_CKSUM) |
		       RTE_MBUF_F_RX_L4_CKSUM_GOOD;
	/* Normalise the field to the pseudo-header sum (what Linux's
	 * CHECKSUM_PARTIAL means), whatever the guest left there. */
	ps = (uint16_t)pseudo_csum(pkt, &h);
	memcpy(pkt + h.l2_len + h.l3_len + co, &ps, 2);
	return NULL;
}

/* Copy pending requests into the window. Returns 0 or -EPROTO. */
static int tx_fetch(struct nb_queue *q)
{
	uint32_t mask = q->tx.nr_ents - 1;
	int n = pvio_ring_back_pending(&q->tx);

	if (n < 0)
		return n;
	for (int i = 0; i < n; i++)
		pvio_netif_tx_copy_request(&q->tx,
					   &q->txwin[(q->win_head + q->win_count++) & mask]);
	return 0;
}

/* Take size bytes of the vif's credit for one packet (rate limit on):
 * true, or false and q->credit_until says until when it must wait. */
static bool tx_credit(struct nb_queue *q, uint32_t size, uint64_t now)
{
	struct nb_vif *v = q->vif;
	uint64_t w = 0;
	bool ok;

	pthread_spin_lock(&v->rate_lock);
	ok = pvio_credit_take(&v->credit, size, now, &w);
	pthread_spin_unlock(&v->rate_lock);
	if (!ok) {
		q->credit_until = now + w;
		nb_st_add(&qst(q)->tx_rate_waits, 1);
	}
	return ok;
}

static void tx_credit_refund(struct nb_queue *q, uint32_t size)
{
	struct nb_vif *v = q->vif;

	pthread_spin_lock(&v->rate_lock);
	pvio_credit_refund(&v->credit, size);
	pthread_spin_unlock(&v->rate_lock);
}

/* One tx round. Returns the number of packets handled, or -EPROTO. */
static int tx_round(struct nb_queue *q)
{
	struct nb_vif *v = q->vif;
	struct nb_queue_stats *st = qst(q);
	uint32_t mask = q->tx.nr_ents - 1, used = 0;
	unsigned npk = 0, nops = 0, nfwd = 0;
	bool limited;
	uint64_t now = 0;
	int r;

	r = tx_fetch(q);
	if (r < 0) {
		mark_broken(q, "tx ring producer index overflow");
		return r;
	}
	q->credit_until = 0;
	if (q->win_count == 0)
		return 0;
	/* The clock once per round, and only with a rate limit. */
	limited = pvio_load_relaxed(&v->rate_on);
	if (limited)
		now = nb_now_ns();

	/* Parse and set up the copies of up to NB_BURST packets. */
	while (npk < NB_BURST && used < q->win_count) {
		struct nb_txpkt *p = &q->pk[npk];

		r = nb_tx_parse(q->txwin, mask, q->win_head + used, q->win_count - used, p);
		if (r <= 0) {
			if (r == 0) {
				mark_broken(q, "tx packet continues past the requests pushed");
			} else {
				nb_queue_log(q, "tx request %u: %s", (unsigned)(q->win_head + used),
					     p->why);
				mark_broken(q, "fatal tx error");
			}
			/* The packets set up before it go nowhere. */
			for (unsigned k = 0; k < npk; k++)
				rte_pktmbuf_free(q->pkm[k]);
			return -EPROTO;
		}
		q->pkm[npk] = NULL;
		q->pkops[npk] = (uint16_t)nops;
		if (p->verdict == NB_TX_OK) {
			unsigned nseg = (p->size + NB_MBUF_DATA - 1) / NB_MBUF_DATA;
			struct rte_mbuf *segs[(PVIO_XEN_NETIF_MAX_TX_SIZE + NB_MBUF_DATA) /
					      NB_MBUF_DATA];

			if (nops + p->nfrags + nseg > NB_TX_OPS_MAX)
				break;
			/* As Linux, every request's size counts, dropped or not. */
			if (limited && !tx_credit(q, p->size, now))
				break;
			if (rte_pktmbuf_alloc_bulk(nb_sw.pool, segs, nseg) != 0) {
				/* Out of mbufs: leave the rest for later. */
				if (limited)
					tx_credit_refund(q, p->size);
				nb_st_add(&st->tx_nomem, 1);
				break;
			}
			for (unsigned i = 0; i < nseg; i++) {
				uint32_t l = p->size - i * NB_MBUF_DATA;

				segs[i]->data_len = (uint16_t)(l > NB_MBUF_DATA ? NB_MBUF_DATA : l);
				segs[i]->next = i + 1 < nseg ? segs[i + 1] : NULL;
			}
			segs[0]->nb_segs = (uint16_t)nseg;
			segs[0]->pkt_len = p->size;
			q->pkm[npk] = segs[0];
			nops += build_tx_ops(q, p, segs[0], q->ops + nops);
		} else if (limited && !tx_credit(q, p->size, now)) {
			break;
		}
		used += (uint32_t)r;
		npk++;
	}
	q->pkops[npk] = (uint16_t)nops;
	if (npk == 0)
		return 0;

	/* One batch of grant copies for the whole burst. */
	if (nops)
		nb_copy(q, q->ops, nops);

	for (unsigned k = 0; k < npk; k++) {
		struct nb_txpkt *p = &q->pk[k];
		struct rte_mbuf *m = q->pkm[k];
		int16_t status = PVIO_NETIF_RSP_OKAY;

		if (p->verdict == NB_TX_DROP) {
			nb_queue_log(q, "dropping tx packet (id %u, %u slots): %s",
				     q->txwin[q->win_head & mask].id, p->nslots, p->why);
			status = PVIO_NETIF_RSP_ERROR;
		} else if (p->verdict == NB_TX_MCAST) {
			status = mcast_op(q, p);
		} else {
			const char *why = NULL;

			for (unsigned o = q->pkops[k]; o < q->pkops[k + 1]; o++)
				if (q->ops[o].status != PVIO_GNTST_okay) {
					nb_queue_log(q, "tx grant copy of gref %u failed (status %d)",
						     q->ops[o].source.foreign.ref, q->ops[o].status);
					why = "";
					break;
				}
			if (!why)
				why = tx_offloads(q, p, m);
			if (why) {
				if (*why)
					nb_queue_log(q, "dropping tx packet: %s", why);
				status = PVIO_NETIF_RSP_ERROR;
				rte_pktmbuf_free(m);
			} else {
				nb_st_add(&st->tx_pkts, 1);
				nb_st_add(&st->tx_bytes, p->size);
				nb_st_add(&st->tx_zero_slots, count_zero_frags(p));
				q->fwdm[nfwd++] = m;
			}
		}
		if (status == PVIO_NETIF_RSP_ERROR)
			nb_st_add(&st->tx_errors, 1);
		answer_packet(q, p, status);
	}
	if (pvio_ring_push_responses(&q->tx))
		notify(q, q->ch_tx);
	if (nfwd)
		nb_fwd_input(q->fwd, q->fwdm, nfwd);
	return (int)npk;
}

/* ------------------------------------------------------------ rx */

/* Are `need` rx requests posted? *avail: how many the last look found
 * and this round has not taken yet; req_prod (a line the frontend writes
 * as it reposts) is read again only when they do not suffice. If they
 * still do not, ask for a notification at the next one (XSA-392: a packet
 * that needs two slots when one is free waits for the second without
 * spinning). -EPROTO on a broken ring. */
static int rx_slots(struct nb_queue *q, unsigned need, unsigned *avail)
{
	int n;

	if (*avail >= need)
		return 1;
	n = pvio_ring_back_pending(&q->rx);
	if (n < 0 || (unsigned)n >= need) {
		*avail = n < 0 ? 0 : (unsigned)n;
		return n < 0 ? n : 1;
	}
	pvio_store_relaxed(&q->rx.sring->req_event, q->rx.req_cons + (uint32_t)n + 1);
	/* Store-load: req_event before re-reading req_prod; pairs with the
	 * fence in the frontend's pvio_ring_push_requests(). */
	pvio_mb();
	n = pvio_ring_back_pending(&q->rx);
	if (n < 0)
		return n;
	*avail = (unsigned)n;
	return (unsigned)n >= need;
}

static void put_rx_response(struct nb_queue *q, uint16_t id, uint16_t offset, uint16_t flags,
			    int16_t status)
{
	struct pvio_netif_rx_response rsp;

	memset(&rsp, 0, sizeof(rsp));
	rsp.id = id;
	rsp.offset = offset;
	rsp.flags = flags;
	rsp.status = status;
	pvio_netif_rx_put_response(&q->rx, &rsp);
}

static void put_rx_extra(struct nb_queue *q, const struct pvio_netif_extra_info *x)
{
	union pvio_netif_rx_slot s;

	/* The extra overlays the response slot (8 bytes, no padding). */
	memset(&s, 0, sizeof(s));
	memcpy(&s, x, sizeof(*x));
	pvio_netif_rx_put_response(&q->rx, &s.rsp);
}

static void drop_backlog(struct nb_queue *q)
{
	struct rte_mbuf *m[NB_BURST];
	uint64_t bytes = 0, pkts = 0;
	unsigned n;

	for (unsigned i = q->stage_head; i < q->nstage; i++) {
		bytes += q->stage[i]->pkt_len;
		rte_pktmbuf_free(q->stage[i]);
		pkts++;
	}
	q->nstage = q->stage_head = 0;
	while ((n = rte_ring_sc_dequeue_burst(q->outq->ring, (void **)m, NB_BURST, NULL)) > 0) {
		nb_outq_taken(q->outq, m, n);
		for (unsigned i = 0; i < n; i++)
			bytes += m[i]->pkt_len;
		rte_pktmbuf_free_bulk(m, n);
		pkts += n;
	}
	nb_outq_done(q->outq, bytes);
	nb_st_add(&qst(q)->rx_stall_drops, pkts);
}

struct rx_plan {
	struct rte_mbuf *m;
	uint16_t ndata;          /* data slots */
	uint16_t nextra;
	uint16_t first_op, nops;
	struct pvio_netif_extra_info x[3];   /* GSO, HASH, XDP */
	uint16_t flags;          /* NETRXF_* of the first response */
};

/* Bytes of a packet that data slot d holds at most: the first one starts
 * after the headroom. */
static inline uint32_t rx_slot_room(unsigned d, uint16_t headroom)
{
	return d == 0 ? PVIO_PAGE_SIZE - headroom : PVIO_PAGE_SIZE;
}

static uint16_t rx_csum_flags(const struct rte_mbuf *m)
{
	if (m->ol_flags & RTE_MBUF_F_TX_L4_MASK)
		return PVIO_NETRXF_csum_blank | PVIO_NETRXF_data_validated;
	if (m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_GOOD)
		return PVIO_NETRXF_data_validated;
	return 0;
}

/* One rx round. Returns the number of packets delivered (or dropped), or
 * -EPROTO. */
static int rx_round(struct nb_queue *q)
{
	struct nb_vif *v = q->vif;
	struct nb_queue_stats *st = qst(q);
	struct rx_plan plan[NB_BURST];
	unsigned np = 0, nops = 0, done = 0, avail = 0;
	uint32_t mask = q->rx.nr_ents - 1;
	uint32_t first_req = q->rx.req_cons;
	uint64_t bytes_done = 0;
	bool stalled = false;
	/* Once per round: every packet of it is planned with the same one
	 * (xenbus.c changes it at the frontend's request). */
	uint16_t hr = pvio_load_relaxed(&v->xdp_headroom);

	if (q->stage_head == q->nstage) {
		q->nstage = rte_ring_sc_dequeue_burst(q->outq->ring, (void **)q->stage, NB_BURST,
						      NULL);
		nb_outq_taken(q->outq, q->stage, q->nstage);
		q->stage_head = 0;
		if (!q->nstage) {
			q->stall_since = 0;
			return 0;
		}
	}
	while (q->stage_head < q->nstage && np < NB_BURST) {
		struct rte_mbuf *m = q->stage[q->stage_head];
		struct rx_plan *pl = &plan[np];
		unsigned need, nx = 0;
		int r;

		memset(pl, 0, sizeof(*pl));
		pl->m = m;
		pl->ndata = 1;
		if (m->pkt_len > rx_slot_room(0, hr))
			pl->ndata = (uint16_t)(1 + (m->pkt_len - rx_slot_room(0, hr) +
						    PVIO_PAGE_SIZE - 1) / PVIO_PAGE_SIZE);
		if ((pl->ndata > 1 && !v->sg) ||
		    ((m->ol_flags & RTE_MBUF_F_TX_TCP_SEG) &&
		     !((m->ol_flags & RTE_MBUF_F_TX_IPV6) ? v->gso6 : v->gso4))) {
			/* The forwarder checks this; a reconnection with other
			 * features may leave such a packet behind. */
			nb_st_add(&st->rx_too_big, 1);
			nb_outq_done(q->outq, m->pkt_len);
			rte_pktmbuf_free(m);
			q->stage_head++;
			done++;
			continue;
		}
		if (m->ol_flags & RTE_MBUF_F_TX_TCP_SEG) {
			struct pvio_netif_extra_info *x = &pl->x[nx++];

			x->type = PVIO_XEN_NETIF_EXTRA_TYPE_GSO;
			x->u.gso.size = m->tso_segsz;
			x->u.gso.type = (m->ol_flags & RTE_MBUF_F_TX_IPV6) ?
					PVIO_XEN_NETIF_GSO_TYPE_TCPV6 : PVIO_XEN_NETIF_GSO_TYPE_TCPV4;
		}
		if (pvio_load_relaxed(&v->hash.alg) == PVIO_XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ) {
			uint8_t buf[NB_MAX_HDR_LEN];
			uint32_t hl = m->pkt_len < NB_MAX_HDR_LEN ? m->pkt_len : NB_MAX_HDR_LEN;
			const uint8_t *hp = rte_pktmbuf_read(m, 0, hl, buf);
			struct nb_hash_result res;
			struct nb_hdr h;

			if (hp && nb_pkt_parse(hp, hl, m->pkt_len, &h) == 0) {
				nb_hash_select(&v->hash, v->nr_queues, hp, &h, &res);
				if (res.valid) {
					struct pvio_netif_extra_info *x = &pl->x[nx++];

					x->type = PVIO_XEN_NETIF_EXTRA_TYPE_HASH;
					x->u.hash.type = res.type;
					x->u.hash.algorithm =
						PVIO_XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ;
					x->u.hash.value[0] = (uint8_t)res.value;
					x->u.hash.value[1] = (uint8_t)(res.value >> 8);
					x->u.hash.value[2] = (uint8_t)(res.value >> 16);
					x->u.hash.value[3] = (uint8_t)(res.value >> 24);
				}
			}
		}
		if (hr) {
			struct pvio_netif_extra_info *x = &pl->x[nx++];

			x->type = PVIO_XEN_NETIF_EXTRA_TYPE_XDP;
			x->u.pad[0] = hr;
		}
		for (unsigned i = 0; i + 1 < nx; i++)
			pl->x[i].flags = PVIO_XEN_NETIF_EXTRA_FLAG_MORE;
		pl->nextra = (uint16_t)nx;
		need = pl->ndata + nx;
		if (nops + pl->ndata + m->nb_segs > NB_RX_OPS_MAX)
			break;
		r = rx_slots(q, need, &avail);
		if (r < 0) {
			mark_broken(q, "rx ring producer index overflow");
			return r;
		}
		if (r == 0) {
			stalled = true;
			break;
		}
		/* Take the requests (private copies) and plan the copies:
		 * data slot 0, the extras, then data slots 1.. */
		{
			struct rte_mbuf *seg = m;
			uint32_t soff = 0, left = m->pkt_len;

			pl->first_op = (uint16_t)nops;
			avail -= need;
			for (unsigned s = 0; s < need; s++)
				pvio_netif_rx_copy_request(&q->rx,
							   &q->rreq[(q->rx.req_cons) & mask]);
			for (unsigned d = 0; d < pl->ndata; d++) {
				unsigned slot = d == 0 ? 0 : nx + d;
				uint32_t req_idx = q->rx.req_cons - need + slot;
				const struct pvio_netif_rx_request *rq = &q->rreq[req_idx & mask];
				uint32_t room = rx_slot_room(d, hr), start = PVIO_PAGE_SIZE - room;
				uint32_t pofs = 0, plen = left < room ? left : room;

				while (pofs < plen) {
					uint32_t n = plen - pofs;

					while (seg && soff == seg->data_len) {
						seg = seg->next;
						soff = 0;
					}
					if (!seg)
						break;
					if (n > seg->data_len - soff)
						n = seg->data_len - soff;
					memset(&q->rops[nops], 0, sizeof(q->rops[nops]));
					q->rops[nops].source.virt =
						rte_pktmbuf_mtod_offset(seg, uint8_t *, soff);
					q->rops[nops].dest.foreign.ref = rq->gref;
					q->rops[nops].dest.foreign.offset = (uint16_t)(start + pofs);
					q->rops[nops].dest.foreign.domid = v->fe_domid;
					q->rops[nops].len = (uint16_t)n;
					q->rops[nops].flags = PVIO_GNTCOPY_dest_gref;
					nops++;
					pofs += n;
					soff += n;
				}
				left -= plen;
			}
			pl->nops = (uint16_t)(nops - pl->first_op);
		}
		pl->flags = rx_csum_flags(m);
		q->stage_head++;
		np++;
	}

	if (nops)
		nb_copy(q, q->rops, nops);

	/* Responses, in the slots of the requests they answer (we consumed
	 * requests and produce responses in the same order, from the same
	 * index: rsp_prod_pvt == first_req here). */
	for (unsigned k = 0; k < np; k++) {
		struct rx_plan *pl = &plan[k];
		struct rte_mbuf *m = pl->m;
		uint32_t left = m->pkt_len, base = first_req;
		bool failed = false;
		unsigned total = pl->ndata + pl->nextra;

		for (unsigned o = pl->first_op; o < pl->first_op + pl->nops; o++)
			if (q->rops[o].status != PVIO_GNTST_okay) {
				if (!failed)
					nb_queue_log(q, "rx grant copy into gref %u failed (status %d)",
						     q->rops[o].dest.foreign.ref, q->rops[o].status);
				failed = true;
			}
		for (unsigned s = 0; s < total; s++) {
			const struct pvio_netif_rx_request *rq = &q->rreq[(base + s) & mask];

			if (s >= 1 && s <= pl->nextra) {
				put_rx_extra(q, &pl->x[s - 1]);
				continue;
			}
			{
				unsigned d = s == 0 ? 0 : s - pl->nextra;
				uint32_t room = rx_slot_room(d, hr);
				uint32_t len = left < room ? left : room;
				uint16_t flags = s == 0 ? pl->flags : 0;
				bool last = left <= room;

				if (!last)
					flags |= PVIO_NETRXF_more_data;
				if (s == 0 && pl->nextra)
					flags |= PVIO_NETRXF_extra_info;
				/* status is the data's length (Linux's netback
				 * counts the headroom in too). */
				put_rx_response(q, rq->id, (uint16_t)(PVIO_PAGE_SIZE - room), flags,
						failed ? PVIO_NETIF_RSP_ERROR : (int16_t)len);
				left -= len;
			}
		}
		first_req += total;
		if (failed) {
			nb_st_add(&st->rx_errors, 1);
		} else {
			nb_st_add(&st->rx_pkts, 1);
			nb_st_add(&st->rx_bytes, m->pkt_len);
		}
		bytes_done += m->pkt_len;
		q->rx_done[k] = m;
		done++;
	}
	/* Back to the pool in one call (one mempool put for the burst). */
	if (np)
		rte_pktmbuf_free_bulk(q->rx_done, np);
	nb_outq_done(q->outq, bytes_done);
	if (np && pvio_ring_push_responses(&q->rx))
		notify(q, q->ch_rx);

	if (stalled && np == 0) {
		uint64_t now = nb_now_ns();

		if (!q->stall_since) {
			q->stall_since = now;
			nb_st_add(&st->rx_stalls, 1);
		} else if (now - q->stall_since >= (uint64_t)v->cfg->rx_drain_ms * 1000000ull) {
			nb_queue_log(q, "no rx buffers for %u ms: dropping the backlog",
				     v->cfg->rx_drain_ms);
			drop_backlog(q);
			q->stall_since = 0;
			return 1;
		}
	} else if (np) {
		q->stall_since = 0;
	}
	return (int)done;
}

/* ------------------------------------------------------------ ctrl */

static int ctrl_copy(void *arg, uint32_t gref, void *dst, uint32_t len)
{
	struct nb_queue *q = arg;
	struct pvio_gnt_copy_op op;

	if (len > PVIO_PAGE_SIZE)
		return -EINVAL;
	memset(&op, 0, sizeof(op));
	op.source.foreign.ref = gref;
	op.source.foreign.offset = 0;
	op.source.foreign.domid = q->vif->fe_domid;
	op.dest.virt = dst;
	op.len = (uint16_t)len;
	op.flags = PVIO_GNTCOPY_source_gref;
	if (pvio_hv_copy(q->vif->hv, &op, 1) != 1) {
		nb_queue_log(q, "ctrl: grant copy of gref %u failed (status %d)", gref, op.status);
		return -EFAULT;
	}
	return 0;
}

static int ctrl_round(struct nb_queue *q)
{
	struct nb_vif *v = q->vif;
	int n = pvio_ring_back_pending(&v->ctrl);

	if (n < 0) {
		mark_broken(q, "ctrl ring producer index overflow");
		return n;
	}
	for (int i = 0; i < n; i++) {
		struct pvio_xen_netif_ctrl_request req;
		struct pvio_xen_netif_ctrl_response rsp;

		pvio_xen_netif_ctrl_copy_request(&v->ctrl, &req);
		nb_ctrl_handle(&v->hash, v->nr_queues, &req, &rsp, ctrl_copy, q);
		if (rsp.status != PVIO_XEN_NETIF_CTRL_STATUS_SUCCESS)
			nb_queue_log(q, "ctrl request type %u (%u, %u, %u): status %u", req.type,
				     req.data[0], req.data[1], req.data[2], rsp.status);
		pvio_xen_netif_ctrl_put_response(&v->ctrl, &rsp);
	}
	if (n) {
		nb_st_add(&qst(q)->ctrl_reqs, (uint64_t)n);
		if (pvio_ring_push_responses(&v->ctrl))
			notify(q, v->ch_ctrl);
	}
	return n;
}

/* ------------------------------------------------------------ poller */

/* The queue as a worker task (backend/worker.h). */

static unsigned queue_run(struct pvio_task *t)
{
	struct nb_queue *q = (struct nb_queue *)((char *)t - offsetof(struct nb_queue, task));
	unsigned work = 0;
	int r;

	if (q->broken)
		return 0;
	r = tx_round(q);
	if (r < 0)
		goto broken;
	work += (unsigned)r;
	r = rx_round(q);
	if (r < 0)
		goto broken;
	work += (unsigned)r;
	if (q->ctrl) {
		r = ctrl_round(q);
		if (r < 0)
			goto broken;
		work += (unsigned)r;
	}
	return work;
broken:
	q->broken = true;
	return work;
}

/* Final checks, unmask; fds[0..nch) are the event channels, fds[nch] the
 * backlog's kick. */
static bool queue_arm(struct pvio_task *t, int *timeout)
{
	struct nb_queue *q = (struct nb_queue *)((char *)t - offsetof(struct nb_queue, task));
	struct nb_vif *v = q->vif;
	int r;

	pvio_store_relaxed(&q->outq->sleeping, 1);
	/* Store-load: `sleeping` before the last look at the backlog;
	 * pairs with the fence in the forwarders' kick_all(). */
	pvio_mb();
	*timeout = 1000;
	if (!q->broken) {
		bool backlog = q->stage_head < q->nstage || rte_ring_count(q->outq->ring);
		/* Waiting for rate credit: requests in the ring can wait too
		 * (looking at them would only spin); the timeout below, or
		 * the control plane's kick on a new rate, wakes us. */
		bool credit_wait = q->win_count && q->credit_until > nb_now_ns();

		r = credit_wait ? 0 : pvio_ring_back_final_check(&q->tx);
		if (r > 0 || (q->ctrl && pvio_ring_back_final_check(&v->ctrl) > 0)) {
			pvio_store_relaxed(&q->outq->sleeping, 0);
			return true;
		}
		if (r < 0) {
			q->broken = true;
			mark_broken(q, "tx ring producer index overflow");
		}
		if (backlog && !q->broken) {
			if (q->stage_head == q->nstage) {
				/* New packets: try them now. */
				pvio_store_relaxed(&q->outq->sleeping, 0);
				return true;
			}
			/* Stalled on rx buffers: rx_slots() asked for a
			 * notification; wake to drop the backlog in time,
			 * or to poll a frontend that does not notify. */
			*timeout = v->rx_notify ? (int)v->cfg->rx_drain_ms / 4 + 1 : 1;
		}
		/* Requests held back: until the credit comes for a rate limit
		 * (the control plane kicks us if the limit changes), soon for
		 * want of mbufs. */
		if (q->win_count && !q->broken) {
			uint64_t now = nb_now_ns(), ms = 1;

			if (q->credit_until > now)
				ms = (q->credit_until - now + 999999) / 1000000;
			if (*timeout < 0 || ms < (uint64_t)*timeout)
				*timeout = (int)ms;
		}
	}
	if (q->broken) {
		/* Only the control plane's disconnect wakes a broken queue. */
		*timeout = -1;
		return false;
	}
	/* Late EOI: unmask only now that everything is drained. */
	for (unsigned i = 0; i < q->nch; i++)
		pvio_evtchn_unmask(q->chans[i]);
	return false;
}

static void queue_woken(struct pvio_task *t, unsigned fd_mask)
{
	struct nb_queue *q = (struct nb_queue *)((char *)t - offsetof(struct nb_queue, task));
	struct nb_queue_stats *st = qst(q);

	pvio_store_relaxed(&q->outq->sleeping, 0);
	nb_st_add(&st->wakeups, 1);
	for (unsigned i = 0; i < q->nch; i++) {
		if (fd_mask & (1u << i)) {
			if (!pvio_evtchn_consume(q->chans[i]))
				nb_st_add(&st->spurious, 1);
			if (!q->broken &&
			    pvio_evtchn_peer_state(q->chans[i]) == PVIO_EVTCHN_CLOSED) {
				q->broken = true;
				mark_broken(q, "the frontend closed its event channel");
			}
		} else {
			pvio_evtchn_mask(q->chans[i]);
		}
	}
	if (fd_mask & (1u << q->nch)) {
		uint64_t x;

		if (read(q->outq->kick_fd, &x, sizeof(x)) < 0) {
			/* nothing to drain */
		}
	}
}

static const struct pvio_task_ops queue_task_ops = {
	.run = queue_run,
	.arm = queue_arm,
	.woken = queue_woken,
};

int nb_queue_start(struct nb_queue *q)
{
	struct nb_vif *v = q->vif;
	uint32_t nt = q->tx.nr_ents, nr = q->rx.nr_ents;
	int r;

	q->txwin = calloc(nt, sizeof(*q->txwin));
	q->pk = calloc(NB_BURST, sizeof(*q->pk));
	q->pkm = calloc(NB_BURST, sizeof(*q->pkm));
	q->pkops = calloc(NB_BURST + 1, sizeof(*q->pkops));
	q->ops = calloc(NB_TX_OPS_MAX, sizeof(*q->ops));
	q->fwdm = calloc(NB_BURST, sizeof(*q->fwdm));
	q->rops = calloc(NB_RX_OPS_MAX, sizeof(*q->rops));
	q->rreq = calloc(nr, sizeof(*q->rreq));
	q->fwd = nb_fwd_new(v->port, &v->st.f[q->idx]);
	if (!q->txwin || !q->pk || !q->pkm || !q->pkops || !q->ops || !q->fwdm || !q->rops ||
	    !q->rreq || !q->fwd) {
		r = -ENOMEM;
		goto err;
	}
	q->pg_on = false;
	q->pg_inserts = 0;
	if (v->persistent) {
		/* Bounded (what a frontend keeps granted is its tx and rx
		 * buffers: two rings' worth); a frontend that keeps changing
		 * refs only costs itself remaps. */
		r = pvio_hv_pgrant_init(v->hv, v->fe_domid, &q->pg, nt + nr + 64);
		if (r == 0)
			q->pg_on = true;
		else
			nb_queue_log(q, "feature-persistent: no grant cache (%s): grant copy",
				     strerror(-r));
	}
	q->win_head = q->tx.req_cons;
	q->win_count = 0;
	q->outq = &v->port->outq[q->idx];
	q->nstage = q->stage_head = 0;
	q->stall_since = 0;
	q->credit_until = 0;
	q->broken = false;
	q->ctrl = q->idx == 0 && v->has_ctrl;
	q->nch = 0;
	q->chans[q->nch++] = q->ch_tx;
	if (q->ch_rx != q->ch_tx)
		q->chans[q->nch++] = q->ch_rx;
	if (q->ctrl)
		q->chans[q->nch++] = v->ch_ctrl;
	q->task.ops = &queue_task_ops;
	q->task.nfds = 0;
	for (unsigned i = 0; i < q->nch; i++)
		q->task.fds[q->task.nfds++] = q->chans[i]->self_fd;
	q->task.fds[q->task.nfds++] = q->outq->kick_fd;
	r = pvio_task_attach(nb_sw.workers, &q->task);
	if (r < 0)
		goto err;
	q->running = true;
	return 0;
err:
	nb_queue_stop(q);
	return r;
}

void nb_queue_stop(struct nb_queue *q)
{
	if (q->running) {
		pvio_task_detach(&q->task);
		q->running = false;
	}
	/* Packets taken out of the backlog and not delivered. */
	if (q->outq) {
		uint64_t bytes = 0;

		for (unsigned i = q->stage_head; i < q->nstage; i++) {
			bytes += q->stage[i]->pkt_len;
			rte_pktmbuf_free(q->stage[i]);
		}
		nb_outq_done(q->outq, bytes);
	}
	q->nstage = q->stage_head = 0;
	q->outq = NULL;
	/* Every mapping goes before the rings do (XSA-371: no pin left). */
	if (q->pg_on) {
		pvio_pgrant_fini(&q->pg);
		q->pg_on = false;
	}
	free(q->txwin);
	free(q->pk);
	free(q->pkm);
	free(q->pkops);
	free(q->ops);
	free(q->fwdm);
	free(q->rops);
	free(q->rreq);
	nb_fwd_free(q->fwd);
	q->txwin = NULL;
	q->pk = NULL;
	q->pkm = NULL;
	q->pkops = NULL;
	q->ops = NULL;
	q->fwdm = NULL;
	q->rops = NULL;
	q->rreq = NULL;
	q->fwd = NULL;
}
