/* SPDX-License-Identifier: MIT */
/*
 * netfront data path: tx and rx rings, buffers, grants, responses.
 *
 *   send_burst  plan each frame's slots (one per page-sized piece, each
 *               scattered piece starting a slot, packed if that is too
 *               many), copy it into the dedicated pages of free tx ids,
 *               grant each read-only, fill the slots from private zeroed
 *               copies (first slot: total size, csum flags, extra_info +
 *               a GSO slot when asked; more_data chains the rest), push
 *               once per burst and notify if the backend asked
 *   tx gc       consume tx responses: NULL ones (extra-info slots) are
 *               skipped, every other id must be in flight; the grant is
 *               revoked before the id is reused
 *   recv_burst  take the queue's events (masks the ports: late EOI), reclaim
 *               tx, then per frame: copy the response slots out once,
 *               validate the copies (id posted in that slot, data inside
 *               its page, slot and extra counts bounded), revoke the grants
 *               of every slot the frame used, then copy the data to the
 *               caller; repost the pages, final check, unmask
 *
 * A backend that answers nonsense disables the device (nf_disable): every
 * later call fails with -ENODEV and the control thread tells the backend.
 *
 * The queue lifecycle (alloc / up / down) lives here too because tearing a
 * queue down means walking its buffers; netfront_xenbus.c decides when.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "frontend/netfront_internal.h"
#include "ring/pvio_atomic.h"
#include "ring/pvio_export.h"

#define PAGE PVIO_PAGE_SIZE
#define NO_PAGE UINT64_MAX

/* Every counter has one writer at a time (the lock of its side), so an
 * update is a plain load and store (no locked instruction: one per frame
 * would wait for the ring stores before it to drain); readers load it
 * whole. */
#define STAT_ADD(field, v) \
	__atomic_store_n(&(field), __atomic_load_n(&(field), __ATOMIC_RELAXED) + (uint64_t)(v), \
			 __ATOMIC_RELAXED)
#define STAT_GET(field)    __atomic_load_n(&(field), __ATOMIC_RELAXED)

/* ------------------------------------------------------------ wake-ups */

void nf_wake_queue(struct nf_queue *q)
{
	fe_ctl_kick(&q->ctl_pending, q->ctl_fd);
}

static void drain_ctl(struct nf_queue *q, bool always)
{
	fe_ctl_drain(&q->ctl_pending, q->ctl_fd, always);
}

void nf_disable(struct pvio_netfront *nf, const char *why)
{
	fe_disable(&nf->fe, why);
	for (unsigned i = 0; i < nf->nr_queues; i++)
		nf_wake_queue(&nf->q[i]);
}

static void disablef(struct pvio_netfront *nf, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void disablef(struct pvio_netfront *nf, const char *fmt, ...)
{
	char why[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	nf_disable(nf, why);
}

bool nf_revoke(struct pvio_netfront *nf, uint32_t ref, uint64_t gfn)
{
	if (pvio_hv_revoke(nf->hv, ref) == 0)
		return true;
	pthread_mutex_lock(&nf->def_lock);
	if (nf->def_n == nf->def_cap) {
		uint32_t cap = nf->def_cap ? nf->def_cap * 2 : 64;
		struct nf_deferred *d = realloc(nf->def, sizeof(*d) * cap);

		if (d) {
			nf->def = d;
			nf->def_cap = cap;
		}
	}
	if (nf->def_n < nf->def_cap) {
		nf->def[nf->def_n].ref = ref;
		nf->def[nf->def_n].gfn = gfn;
		nf->def_n++;
	} else {
		nf->st_abandoned++;   /* no memory to remember it: leaked now */
	}
	pthread_mutex_unlock(&nf->def_lock);
	return false;
}

unsigned nf_retry_deferred(struct pvio_netfront *nf)
{
	unsigned left;

	pthread_mutex_lock(&nf->def_lock);
	for (uint32_t i = nf->def_n; i-- > 0;) {
		struct nf_deferred *d = &nf->def[i];

		if (pvio_hv_revoke(nf->hv, d->ref) == 0) {
			if (d->gfn != NO_PAGE)
				pvio_hv_page_free(nf->hv, d->gfn, 1);
			*d = nf->def[--nf->def_n];
		}
	}
	left = nf->def_n;
	pthread_mutex_unlock(&nf->def_lock);
	return left;
}

void nf_abandon_deferred(struct pvio_netfront *nf)
{
	unsigned left = nf_retry_deferred(nf);

	if (left)
		nf_log(nf, "%u grant(s) still held by the backend: their pages are leaked, "
		       "never reused", left);
	pthread_mutex_lock(&nf->def_lock);
	nf->st_abandoned += nf->def_n;
	nf->def_n = 0;
	pthread_mutex_unlock(&nf->def_lock);
}

/* ------------------------------------------------------------ event channels */

static struct pvio_evtchn *ch_tx(struct nf_queue *q)
{
	return q->ch[NF_TX];
}

static struct pvio_evtchn *ch_rx(struct nf_queue *q)
{
	return q->ch[q->nports - 1];
}

/* Take every event of the queue (late EOI: the ports stay masked until
 * give_events(), so a backend notifying meanwhile costs no wake-up). The
 * eventfd is drained even without a pending bit: a kick can land after
 * the bit was taken; unmask re-raises anything that came in between. */
static void take_events(struct nf_queue *q)
{
	for (unsigned i = 0; i < q->nports; i++) {
		if (!q->ch[i])
			continue;
		pvio_evtchn_consume(q->ch[i]);
		__atomic_store_n(&q->masked[i], 1, __ATOMIC_RELAXED);
	}
}

static void give_events(struct nf_queue *q)
{
	for (unsigned i = 0; i < q->nports; i++)
		if (q->ch[i] && __atomic_exchange_n(&q->masked[i], 0, __ATOMIC_RELAXED))
			pvio_evtchn_unmask(q->ch[i]);
}

static void check_lost(struct nf_queue *q)
{
	for (unsigned i = 0; i < q->nports; i++) {
		if (q->ch[i] && !__atomic_load_n(&q->lost, __ATOMIC_ACQUIRE) &&
		    pvio_evtchn_peer_state(q->ch[i]) == PVIO_EVTCHN_CLOSED) {
			/* The backend closed its end (it stopped or died): the
			 * control thread tears down and waits for a backend. */
			__atomic_store_n(&q->lost, 1, __ATOMIC_RELEASE);
			nf_log(q->nf, "queue %u: the backend closed its event channel", q->idx);
			nf_kick(q->nf);
		}
	}
}

/* stat: the counter of the calling side (st_tx_notifies under tx_lock,
 * st_rx_notifies under rx_lock). */
static void notify(struct pvio_evtchn *ch, uint64_t *stat)
{
	if (ch && pvio_evtchn_notify(ch) > 0)
		STAT_ADD(*stat, 1);
}

/* ------------------------------------------------------------ tx */

/* Streams bytes out of an iovec. */
struct iov_cur {
	const struct iovec *iov;
	unsigned cnt, i;
	size_t off;
};

static void cur_copy(struct iov_cur *c, uint8_t *dst, size_t len)
{
	while (len && c->i < c->cnt) {
		size_t avail = c->iov[c->i].iov_len - c->off;
		size_t k = avail < len ? avail : len;

		if (k) {
			memcpy(dst, (const uint8_t *)c->iov[c->i].iov_base + c->off, k);
			dst += k;
			len -= k;
			c->off += k;
		}
		if (c->off == c->iov[c->i].iov_len) {
			c->i++;
			c->off = 0;
		}
	}
}

/* A frame's layout on the ring. */
struct tx_plan {
	struct iovec one;            /* data/len as an iovec */
	const struct iovec *iov;
	unsigned cnt;
	uint32_t total;
	unsigned nslots;             /* data slots */
	uint16_t slen[NF_MAX_SLOTS];
	bool     gso;
	bool     sw_csum;            /* fill the checksum here (IPv6 without the
				      * backend's ipv6 csum offload) */
};

static bool is_ipv6_frame(const struct iovec *iov, unsigned cnt)
{
	uint8_t hdr[18];
	struct iov_cur c = { .iov = iov, .cnt = cnt };
	unsigned et;

	memset(hdr, 0, sizeof(hdr));
	cur_copy(&c, hdr, sizeof(hdr));
	et = (unsigned)hdr[12] << 8 | hdr[13];
	if (et == 0x8100 || et == 0x88a8)
		et = (unsigned)hdr[16] << 8 | hdr[17];
	return et == 0x86DD;
}

/* A frame's GSO metadata and checksum handling (pl->iov/cnt set). */
static int plan_offloads(const struct nf_params *p, const struct pvio_nf_pkt *pkt,
			 struct tx_plan *pl)
{
	if (pkt->flags & PVIO_NF_GSO) {
		if (pkt->gso_size == 0)
			return -EINVAL;
		if (pkt->gso_type == PVIO_XEN_NETIF_GSO_TYPE_TCPV4) {
			if (!p->gso_tcpv4)
				return -EOPNOTSUPP;
		} else if (pkt->gso_type == PVIO_XEN_NETIF_GSO_TYPE_TCPV6) {
			if (!p->gso_tcpv6)
				return -EOPNOTSUPP;
		} else {
			return -EINVAL;
		}
		pl->gso = true;
	} else if ((pkt->flags & PVIO_NF_CSUM_BLANK) && !p->ipv6_csum &&
		   is_ipv6_frame(pl->iov, pl->cnt)) {
		pl->sw_csum = true;
	}
	return 0;
}

static int plan_frame(const struct nf_params *p, const struct pvio_nf_pkt *pkt,
		      struct tx_plan *pl)
{
	uint64_t total = 0;
	unsigned n = 0;

	memset(pl, 0, sizeof(*pl));
	if (pkt->iovcnt) {
		if (!pkt->iov)
			return -EINVAL;
		pl->iov = pkt->iov;
		pl->cnt = pkt->iovcnt;
	} else {
		if (!pkt->data && pkt->len)
			return -EINVAL;
		pl->one.iov_base = pkt->data;
		pl->one.iov_len = pkt->len;
		pl->iov = &pl->one;
		pl->cnt = 1;
	}
	for (unsigned i = 0; i < pl->cnt; i++) {
		size_t l = pl->iov[i].iov_len;

		if (l && !pl->iov[i].iov_base)
			return -EINVAL;
		total += l;
		if (total > PVIO_NETFRONT_MAX_FRAME)
			return -EINVAL;
		n += (unsigned)((l + PAGE - 1) / PAGE);
	}
	if (total < PVIO_NETFRONT_MIN_FRAME)
		return -EINVAL;
	pl->total = (uint32_t)total;
	if (n <= p->max_tx_slots) {
		/* One slot per page-sized piece of each scattered piece. */
		for (unsigned i = 0; i < pl->cnt; i++) {
			size_t l = pl->iov[i].iov_len;

			while (l) {
				size_t k = l < PAGE ? l : PAGE;

				pl->slen[pl->nslots++] = (uint16_t)k;
				l -= k;
			}
		}
	} else {
		/* Too scattered: pack into whole pages. */
		uint32_t l = pl->total;

		if ((l + PAGE - 1) / PAGE > p->max_tx_slots)
			return -EMSGSIZE;
		while (l) {
			uint32_t k = l < PAGE ? l : PAGE;

			pl->slen[pl->nslots++] = (uint16_t)k;
			l -= k;
		}
	}
	return plan_offloads(p, pkt, pl);
}

static void put_tx_slot(struct nf_queue *q, uint32_t i, const void *src)
{
	union pvio_netif_tx_slot *slot =
		(union pvio_netif_tx_slot *)pvio_netif_tx_req_slot(&q->tx, i);

	memcpy(slot, src, sizeof(*slot));
}

#define NF_PREFETCH 32u   /* frames (and their slots) asked for ahead */

/* Before n frames are built in place: ask for the lines they will be
 * written to, for writing, all at once. The first line of each of the
 * next n free tx pages (the backend read it when it last took a frame
 * from that page) and the ring lines of their slots (the backend wrote
 * its responses there). A store that misses on such a line waits for the
 * other CPU, and a few of them fill the store buffer and stall the
 * sender; asked for together, the transfers overlap each other and the
 * building of the frames. */
static void tx_prefetch(struct nf_queue *q, unsigned n)
{
	struct pvio_netfront *nf = q->nf;
	uintptr_t last = 0;
	uint16_t id = q->tx_free;

	if (n > NF_PREFETCH)
		n = NF_PREFETCH;
	for (unsigned i = 0; i < n && id != NF_NONE; i++) {
		uintptr_t line = (uintptr_t)pvio_netif_tx_req_slot(&q->tx, i) & ~(uintptr_t)63;

		pvio_prefetch_w(pvio_hv_gfn_ptr(nf->hv, q->txb[id].gfn));
		if (line != last) {
			pvio_prefetch_w((const void *)line);
			last = line;
		}
		id = q->txb[id].next_free;
	}
}

/* Undo the ids taken for a frame that could not be completed (their
 * grants stay, as for any id). */
static void tx_unwind(struct nf_queue *q, const uint16_t *ids, unsigned n)
{
	while (n--) {
		struct nf_txbuf *b = &q->txb[ids[n]];

		b->busy = 0;
		b->next_free = q->tx_free;
		q->tx_free = ids[n];
		q->tx_busy--;
	}
}

/* Take a free tx id (the caller checked there is one); its page is
 * granted on first use and stays granted while connected (persistent: the
 * page only ever holds frames for this backend). 0, or -errno when no
 * grant reference can be had (the id is taken all the same: unwind it). */
static int tx_take(struct nf_queue *q, uint16_t *out)
{
	struct pvio_netfront *nf = q->nf;
	uint16_t id = q->tx_free;
	struct nf_txbuf *b = &q->txb[id];
	int ref;

	q->tx_free = b->next_free;
	b->busy = 1;
	q->tx_busy++;
	*out = id;
	if (b->granted)
		return 0;
	ref = pvio_hv_grant(nf->hv, nf->be_domid, b->gfn, true);
	if (ref < 0) {
		nf_log_peer(nf, "queue %u: no grant reference for tx: %s", q->idx,
			    strerror(-ref));
		return ref;
	}
	b->gref = (uint32_t)ref;
	b->granted = 1;
	return 0;
}

/* The netif flags of a frame's first slot. */
static uint16_t tx_flags0(const struct pvio_nf_pkt *pkt, const struct tx_plan *pl)
{
	if (pl->gso || (pkt->flags & PVIO_NF_CSUM_BLANK))
		return PVIO_NETTXF_csum_blank | PVIO_NETTXF_data_validated;
	if (pkt->flags & PVIO_NF_DATA_VALIDATED)
		return PVIO_NETTXF_data_validated;
	return 0;
}

/* Write the requests of a frame whose pages ids[0..pl->nslots-1] hold its
 * bytes (slen[j] each), with its GSO extra, and produce them. */
static void tx_post(struct nf_queue *q, const struct pvio_nf_pkt *pkt,
		    const struct tx_plan *pl, const uint16_t *ids, uint16_t flags0)
{
	uint32_t ring_i = 0;

	for (unsigned j = 0; j < pl->nslots; j++) {
		union pvio_netif_tx_slot u;

		/* From a private, zeroed copy: no stale bytes reach the ring. */
		memset(&u, 0, sizeof(u));
		u.req.gref = q->txb[ids[j]].gref;
		u.req.offset = 0;
		u.req.id = ids[j];
		if (j == 0) {
			u.req.size = (uint16_t)pl->total;
			u.req.flags = flags0;
			if (pl->gso)
				u.req.flags |= PVIO_NETTXF_extra_info;
		} else {
			u.req.size = pl->slen[j];
		}
		if (j + 1 < pl->nslots)
			u.req.flags |= PVIO_NETTXF_more_data;
		put_tx_slot(q, ring_i++, &u);
		if (j == 0 && pl->gso) {
			struct pvio_netif_extra_info *x = (struct pvio_netif_extra_info *)&u;

			memset(&u, 0, sizeof(u));
			x->type = PVIO_XEN_NETIF_EXTRA_TYPE_GSO;
			x->flags = 0;
			x->u.gso.size = pkt->gso_size;
			x->u.gso.type = pkt->gso_type;
			put_tx_slot(q, ring_i++, &u);
		}
	}
	pvio_ring_produce_requests(&q->tx, ring_i);
	q->tx_to_push += ring_i;
	STAT_ADD(q->st_tx_packets, 1);
	STAT_ADD(q->st_tx_bytes, pl->total);
	STAT_ADD(q->st_tx_slots, pl->nslots);
	if (pl->gso)
		STAT_ADD(q->st_tx_gso, 1);
}

/* Put one planned frame on the ring. 1: done, 0: no room, -errno. */
static int tx_frame(struct nf_queue *q, const struct pvio_nf_pkt *pkt, struct tx_plan *pl,
		    uint8_t *scratch)
{
	struct pvio_netfront *nf = q->nf;
	unsigned need = pl->nslots + (pl->gso ? 1 : 0);
	uint16_t ids[NF_MAX_SLOTS];
	struct iov_cur c;
	struct iovec flat;
	uint16_t flags0 = 0;

	if (pvio_ring_free_requests(&q->tx) < need || q->nr_txb - q->tx_busy < pl->nslots)
		return 0;
	if (pl->sw_csum) {
		/* Gather, complete the checksum, send the flat copy. */
		c = (struct iov_cur){ .iov = pl->iov, .cnt = pl->cnt };
		cur_copy(&c, scratch, pl->total);
		if (pvio_netfront_csum_fill(scratch, pl->total) == 0)
			flags0 |= PVIO_NETTXF_data_validated;
		flat.iov_base = scratch;
		flat.iov_len = pl->total;
		c = (struct iov_cur){ .iov = &flat, .cnt = 1 };
	} else {
		c = (struct iov_cur){ .iov = pl->iov, .cnt = pl->cnt };
		flags0 = tx_flags0(pkt, pl);
	}

	for (unsigned j = 0; j < pl->nslots; j++) {
		int r = tx_take(q, &ids[j]);

		if (r < 0) {
			tx_unwind(q, ids, j + 1);
			return q->tx_busy ? 0 : r;   /* ids come back with responses */
		}
		cur_copy(&c, pvio_hv_gfn_ptr(nf->hv, q->txb[ids[j]].gfn), pl->slen[j]);
	}
	tx_post(q, pkt, pl, ids, flags0);
	return 1;
}

static void tx_push(struct nf_queue *q)
{
	if (!q->tx_to_push)
		return;
	q->tx_to_push = 0;
	if (pvio_ring_push_requests(&q->tx))
		notify(ch_tx(q), &q->st_tx_notifies);
}

/* Reclaim tx responses (tx_lock held). arm: then ask for an event at the
 * next response (rsp_event), for a caller that may sleep on the fd; a
 * caller that will look again anyway leaves the shared index line alone.
 * 0, or -EPROTO (device disabled). */
static int tx_gc(struct nf_queue *q, bool arm)
{
	struct pvio_netfront *nf = q->nf;

	for (;;) {
		int n = pvio_ring_front_pending(&q->tx), k;

		if (n < 0) {
			disablef(nf, "queue %u: the backend's tx rsp_prod %u runs past the "
				 "requests we posted (rsp_cons %u, req_prod %u)", q->idx,
				 pvio_load_relaxed(&q->tx.sring->rsp_prod), q->tx.rsp_cons,
				 q->tx.req_pushed);
			return -EPROTO;
		}
		while (n-- > 0) {
			struct pvio_netif_tx_response rsp;
			struct nf_txbuf *b;

			pvio_netif_tx_copy_response(&q->tx, &rsp);
			if (rsp.status == PVIO_NETIF_RSP_NULL)
				continue;   /* the slot of an extra info */
			if (rsp.id >= q->nr_txb || !q->txb[rsp.id].busy) {
				disablef(nf, "queue %u: tx response id %u is not in flight",
					 q->idx, rsp.id);
				return -EPROTO;
			}
			if (rsp.status != PVIO_NETIF_RSP_OKAY &&
			    rsp.status != PVIO_NETIF_RSP_ERROR &&
			    rsp.status != PVIO_NETIF_RSP_DROPPED) {
				disablef(nf, "queue %u: tx response id %u has status %d",
					 q->idx, rsp.id, rsp.status);
				return -EPROTO;
			}
			if (rsp.status != PVIO_NETIF_RSP_OKAY)
				STAT_ADD(q->st_tx_errors, 1);
			b = &q->txb[rsp.id];
			/* Its grant stays (persistent): no revoke per frame. */
			b->busy = 0;
			b->next_free = q->tx_free;
			q->tx_free = rsp.id;
			q->tx_busy--;
		}
		/* Every id in flight has an unanswered slot: a backend that
		 * answered data slots with NULL would leak ids for ever. */
		if (q->tx_busy > q->tx.req_prod_pvt - q->tx.rsp_cons) {
			disablef(nf, "queue %u: the backend answered tx data slots as extra info",
				 q->idx);
			return -EPROTO;
		}
		if (!arm)
			return 0;
		k = pvio_ring_front_final_check(&q->tx);
		if (k == 0)
			return 0;
		/* > 0: more came; < 0: pending() reports it on the next turn. */
	}
}

/* The device died (or the queue did): tear this queue down for good.
 * Called without the queue's locks. */
static void kill_queue(struct nf_queue *q)
{
	if (__atomic_load_n(&q->state, __ATOMIC_ACQUIRE) != NFQ_DEAD)
		nf_queue_down(q, true);
}

/* Take queue's tx side for a send: *qp set and locked, unless -EINVAL.
 * 1: send; 0: reconnecting (send nothing); -ENODEV (disabled, or found so
 * now); -EINVAL. The caller ends with tx_leave(), push = (this gave 1). */
static int tx_enter(struct pvio_netfront *nf, unsigned queue, struct nf_queue **qp)
{
	struct nf_queue *q;

	*qp = NULL;
	if (!nf || queue >= nf->nr_queues)
		return -EINVAL;
	q = *qp = &nf->q[queue];
	pthread_mutex_lock(&q->tx_lock);
	if (fe_dead(&nf->fe) || q->state == NFQ_DEAD)
		return -ENODEV;
	if (q->state != NFQ_UP || __atomic_load_n(&q->lost, __ATOMIC_ACQUIRE))
		return 0;   /* reconnecting */
	if (tx_gc(q, false) < 0)
		return -ENODEV;
	return 1;
}

/* Push what a send put on the ring and let go of the queue. Returns what
 * the send returns: ret (< 0) if it failed before its first frame, else
 * done; -ENODEV if the device died and nothing went. */
static int tx_leave(struct pvio_netfront *nf, struct nf_queue *q, bool push, int done, int ret)
{
	if (!q)
		return ret;
	if (push)
		tx_push(q);
	pthread_mutex_unlock(&q->tx_lock);
	if (fe_dead(&nf->fe)) {
		kill_queue(q);   /* without the queue's locks */
		if (!done)
			return -ENODEV;
	}
	return ret < 0 && !done ? ret : done;
}

/* The ring has no room for the next frame: the caller may now wait for
 * the fd, so ask for an event at the next response (once per call) and
 * reclaim what came meanwhile. true: look for room again; false: stop here
 * (asked already, or the device died: *ret = -ENODEV if nothing went). */
static bool tx_full(struct nf_queue *q, bool *armed, int done, int *ret)
{
	if (*armed)
		return false;
	*armed = true;
	if (tx_gc(q, true) < 0) {
		if (done == 0)
			*ret = -ENODEV;
		return false;
	}
	return true;
}

/* After frame i of a send went (k 1) or did not (k 0: no room or fill
 * stopped; < 0: its error, the call's if it was the first): count it, or
 * say the call stops here. */
static bool tx_next(struct pvio_netfront *nf, int k, unsigned i, int *done, int *ret)
{
	if (k < 0 && i == 0)
		*ret = k;
	if (k <= 0)
		return false;
	(*done)++;
	return !fe_dead(&nf->fe);
}

PVIO_EXPORT int pvio_netfront_send_burst(struct pvio_netfront *nf, unsigned queue,
					 const struct pvio_nf_pkt *pkts, unsigned n)
{
	struct nf_queue *q;
	int done = 0, ret;
	bool armed = false;

	if (n && !pkts)
		return -EINVAL;
	ret = tx_enter(nf, queue, &q);
	if (ret <= 0)
		return tx_leave(nf, q, false, 0, ret);
	ret = 0;
	tx_prefetch(q, n);   /* right for one-slot frames, harmless for others */
	for (unsigned i = 0; i < n; i++) {
		struct tx_plan pl;
		int k = plan_frame(&nf->p, &pkts[i], &pl);

		if (k == 0 && pl.sw_csum && !q->scratch &&
		    !(q->scratch = malloc(PVIO_NETFRONT_MAX_FRAME)))
			k = -ENOMEM;
		if (k < 0) {
			if (i == 0)
				ret = k;
			break;
		}
		k = tx_frame(q, &pkts[i], &pl, q->scratch);
		if (k == 0) {
			if (!tx_full(q, &armed, done, &ret))
				break;
			k = tx_frame(q, &pkts[i], &pl, q->scratch);
		}
		if (!tx_next(nf, k, i, &done, &ret))
			break;
	}
	return tx_leave(nf, q, true, done, ret);
}

/* Copy len bytes from src into the pages of iov (the inverse of cur_copy). */
static void scatter(const struct iovec *iov, const uint8_t *src, size_t len)
{
	for (unsigned i = 0; len; i++) {
		size_t k = iov[i].iov_len < len ? iov[i].iov_len : len;

		memcpy(iov[i].iov_base, src, k);
		src += k;
		len -= k;
	}
}

/* One frame built in place by the caller's fill (tx_lock held). 1: sent,
 * 0: fill stopped or no room, -errno (fill's, or the frame was bad:
 * dropped and counted). */
static int tx_fill_one(struct nf_queue *q, unsigned want, pvio_nf_fill_fn fill, void *arg)
{
	struct pvio_netfront *nf = q->nf;
	struct iovec pages[NF_MAX_SLOTS];
	uint16_t ids[NF_MAX_SLOTS];
	struct pvio_nf_pkt pkt;
	struct tx_plan pl;
	uint16_t flags0;
	unsigned used;
	int r;

	for (unsigned j = 0; j < want; j++) {
		r = tx_take(q, &ids[j]);
		if (r < 0) {
			tx_unwind(q, ids, j + 1);
			return q->tx_busy ? 0 : r;
		}
		pages[j].iov_base = pvio_hv_gfn_ptr(nf->hv, q->txb[ids[j]].gfn);
		pages[j].iov_len = PAGE;
	}
	memset(&pkt, 0, sizeof(pkt));
	r = fill(arg, pages, want, &pkt);
	if (r <= 0) {
		tx_unwind(q, ids, want);
		return r < 0 ? r : 0;
	}
	/* What the caller says of its frame is checked as send_burst checks
	 * it: the length against the pages it was given, the GSO metadata
	 * against what the backend accepts. */
	memset(&pl, 0, sizeof(pl));
	pl.iov = pages;
	pl.total = pkt.len;
	r = 0;
	if (pkt.len < PVIO_NETFRONT_MIN_FRAME || pkt.len > PVIO_NETFRONT_MAX_FRAME ||
	    pkt.len > (uint64_t)want * PAGE)
		r = -EINVAL;
	used = (pkt.len + PAGE - 1) / PAGE;
	pl.cnt = r ? 0 : used;
	if (r == 0) {
		pages[used - 1].iov_len = pkt.len - (used - 1) * PAGE;
		r = plan_offloads(&nf->p, &pkt, &pl);
	}
	if (r == 0 && pl.sw_csum && !q->scratch &&
	    !(q->scratch = malloc(PVIO_NETFRONT_MAX_FRAME)))
		r = -ENOMEM;
	if (r < 0) {
		tx_unwind(q, ids, want);
		STAT_ADD(q->st_tx_bad, 1);
		return r;
	}
	tx_unwind(q, ids + used, want - used);
	pl.nslots = used;
	for (unsigned j = 0; j < used; j++)
		pl.slen[j] = (uint16_t)pages[j].iov_len;
	flags0 = tx_flags0(&pkt, &pl);
	if (pl.sw_csum) {
		/* Gather, complete the checksum in place, put it back. */
		struct iov_cur c = { .iov = pages, .cnt = used };

		cur_copy(&c, q->scratch, pkt.len);
		flags0 = 0;
		if (pvio_netfront_csum_fill(q->scratch, pkt.len) == 0) {
			flags0 = PVIO_NETTXF_data_validated;
			scatter(pages, q->scratch, pkt.len);
		}
	}
	tx_post(q, &pkt, &pl, ids, flags0);
	return 1;
}

PVIO_EXPORT int pvio_netfront_send_fill(struct pvio_netfront *nf, unsigned queue, unsigned n,
					uint32_t max_len, pvio_nf_fill_fn fill, void *arg)
{
	struct nf_queue *q;
	unsigned want, need;
	int done = 0, ret;
	bool armed = false;

	if (!fill || max_len < PVIO_NETFRONT_MIN_FRAME || max_len > PVIO_NETFRONT_MAX_FRAME)
		return -EINVAL;
	ret = tx_enter(nf, queue, &q);
	if (ret <= 0)
		return tx_leave(nf, q, false, 0, ret);
	ret = 0;
	want = (max_len + PAGE - 1) / PAGE;
	if (want > nf->p.max_tx_slots) {
		/* Larger than a page without sg. */
		return tx_leave(nf, q, false, 0, -EMSGSIZE);
	}
	/* A slot for a GSO extra too, if the backend takes GSO. */
	need = want + (nf->p.gso_tcpv4 || nf->p.gso_tcpv6 ? 1 : 0);
	if (want == 1)
		tx_prefetch(q, n);   /* frame i in the i-th free page */
	for (unsigned i = 0; i < n; i++) {
		int k;

		if (pvio_ring_free_requests(&q->tx) < need || q->nr_txb - q->tx_busy < want) {
			if (!tx_full(q, &armed, done, &ret) ||
			    pvio_ring_free_requests(&q->tx) < need ||
			    q->nr_txb - q->tx_busy < want)
				break;
		}
		k = tx_fill_one(q, want, fill, arg);
		if (!tx_next(nf, k, i, &done, &ret))
			break;
	}
	return tx_leave(nf, q, true, done, ret);
}

/* ------------------------------------------------------------ rx */

/* Post every free rx buffer the ring has room for (rx_lock held). Returns
 * how many were posted. */
static unsigned rx_refill(struct nf_queue *q)
{
	struct pvio_netfront *nf = q->nf;
	unsigned posted = 0;

	while (q->rx_free != NF_NONE && !pvio_ring_full(&q->rx)) {
		uint16_t id = q->rx_free;
		struct nf_rxbuf *b = &q->rxb[id];
		struct pvio_netif_rx_request req;
		union pvio_netif_rx_slot u;

		if (!b->granted) {
			int ref = pvio_hv_grant(nf->hv, nf->be_domid, b->gfn, false);

			if (ref < 0) {
				nf_log_peer(nf, "queue %u: no grant reference for rx: %s", q->idx,
					    strerror(-ref));
				break;
			}
			b->gref = (uint32_t)ref;
			b->granted = 1;
		}
		memset(&req, 0, sizeof(req));
		req.id = id;
		req.gref = b->gref;
		memset(&u, 0, sizeof(u));
		u.req = req;
		memcpy(pvio_netif_rx_req_slot(&q->rx, 0), &u, sizeof(u));
		q->rx_slot_id[q->rx.req_prod_pvt & (q->rx.nr_ents - 1)] = id;
		q->rx_free = b->next_free;
		b->posted = 1;
		pvio_ring_produce_requests(&q->rx, 1);
		posted++;
	}
	return posted;
}

static void rx_push(struct nf_queue *q, bool may_notify)
{
	if (q->rx.req_prod_pvt == q->rx.req_pushed)
		return;
	/* feature-rx-notify: tell the backend about new buffers. */
	if (pvio_ring_push_requests(&q->rx) && may_notify)
		notify(ch_rx(q), &q->st_rx_notifies);
}

/* Copy response slot rsp_cons + k out of the shared ring, once. */
static void rx_peek(struct nf_queue *q, uint32_t k, union pvio_netif_rx_slot *dst)
{
	const union pvio_netif_rx_slot *ring = (const union pvio_netif_rx_slot *)q->rx.sring->ring;

	memcpy(dst, &ring[(q->rx.rsp_cons + k) & (q->rx.nr_ents - 1)], sizeof(*dst));
}

/* One validated data slot of a frame. */
struct rx_frag {
	uint16_t offset;
	uint16_t len;
	uint32_t k;                  /* slot index from rsp_cons */
};

/* Result of rx_one(). */
enum { RX_NONE = 0, RX_FRAME = 1, RX_DROPPED = 2 };

/*
 * Take the frame that starts at rsp_cons (avail responses are published).
 * RX_FRAME: delivered into pkt. RX_DROPPED: consumed, not delivered (the
 * backend flagged an error, or sent an unusable extra). RX_NONE: the frame
 * is not complete yet (*need: responses to wait for). -EPROTO: the backend
 * broke the protocol, the device is disabled.
 */
static int rx_one(struct nf_queue *q, uint32_t avail, struct pvio_nf_pkt *pkt, uint32_t *need,
		  bool zc)
{
	struct pvio_netfront *nf = q->nf;
	uint32_t mask = q->rx.nr_ents - 1, k = 0, total = 0;
	struct rx_frag fr[NF_MAX_SLOTS + 1];
	unsigned nfr = 0, nx = 0;
	union pvio_netif_rx_slot s;
	bool more, drop = false, gso = false, small = false;
	uint8_t gso_type = 0;
	uint16_t gso_size = 0, flags0 = 0;
	int err = 0;

	/* Gather: first response, its extras, the responses chained to it.
	 * Each slot is copied once and only the copy is looked at. */
	for (;;) {
		struct pvio_netif_rx_response rsp;
		uint16_t want;

		if (k >= avail) {
			*need = avail + 1;
			return RX_NONE;
		}
		rx_peek(q, k, &s);
		rsp = s.rsp;
		want = q->rx_slot_id[(q->rx.rsp_cons + k) & mask];
		if (rsp.id != want) {
			disablef(nf, "queue %u: rx response in slot %u has id %u, the request "
				 "there was %u", q->idx, (q->rx.rsp_cons + k) & mask, rsp.id, want);
			return -EPROTO;
		}
		if (rsp.status < PVIO_NETIF_RSP_DROPPED) {
			disablef(nf, "queue %u: rx response id %u has status %d", q->idx, rsp.id,
				 rsp.status);
			return -EPROTO;
		}
		if (rsp.status >= 0 && (rsp.offset > PAGE || rsp.status > (int)(PAGE - rsp.offset))) {
			disablef(nf, "queue %u: rx response id %u: %d bytes at offset %u run "
				 "past the page", q->idx, rsp.id, rsp.status, rsp.offset);
			return -EPROTO;
		}
		/* As Linux netfront: 18 slots, one more when the first is a
		 * small header (<= 256 bytes, or an error status: fr[] keeps
		 * only the data slots, so it cannot tell). */
		if (nfr == 0)
			small = rsp.status <= 256;
		if (nfr == NF_MAX_SLOTS + (small ? 1u : 0u)) {
			disablef(nf, "queue %u: an rx frame spans more than %u slots", q->idx,
				 nfr);
			return -EPROTO;
		}
		if (rsp.status < 0) {
			drop = true;
			err = rsp.status;
		} else {
			fr[nfr].offset = rsp.offset;
			fr[nfr].len = (uint16_t)rsp.status;
			fr[nfr].k = k;
			total += (uint32_t)rsp.status;
		}
		nfr++;
		k++;
		more = (rsp.flags & PVIO_NETRXF_more_data) != 0;
		if (nfr == 1) {
			bool extra = (rsp.flags & PVIO_NETRXF_extra_info) != 0;

			flags0 = rsp.flags;
			while (extra) {
				struct pvio_netif_extra_info x;

				if (k >= avail) {
					*need = avail + 1;
					return RX_NONE;
				}
				if (++nx > NF_MAX_EXTRAS) {
					disablef(nf, "queue %u: an rx frame has more than %u extra "
						 "info slots", q->idx, NF_MAX_EXTRAS);
					return -EPROTO;
				}
				rx_peek(q, k++, &s);
				memcpy(&x, &s, sizeof(x));
				extra = (x.flags & PVIO_XEN_NETIF_EXTRA_FLAG_MORE) != 0;
				if (x.type == PVIO_XEN_NETIF_EXTRA_TYPE_NONE ||
				    x.type >= PVIO_XEN_NETIF_EXTRA_TYPE_MAX) {
					nf_log_peer(nf, "queue %u: rx extra info of type %u: frame "
						    "dropped", q->idx, x.type);
					drop = true;
				} else if (x.type == PVIO_XEN_NETIF_EXTRA_TYPE_GSO) {
					if (x.u.gso.size == 0 ||
					    (x.u.gso.type != PVIO_XEN_NETIF_GSO_TYPE_TCPV4 &&
					     x.u.gso.type != PVIO_XEN_NETIF_GSO_TYPE_TCPV6)) {
						nf_log_peer(nf, "queue %u: rx GSO type %u size %u: "
							    "frame dropped", q->idx, x.u.gso.type,
							    x.u.gso.size);
						drop = true;
					} else {
						gso = true;
						gso_type = x.u.gso.type;
						gso_size = x.u.gso.size;
					}
				}
				/* MCAST / HASH: nothing we asked for; ignored. */
			}
		}
		if (!more)
			break;
	}

	/* The pages stay granted while connected (persistent, as the ids do):
	 * no grant and revoke per frame. The data is copied out of them once,
	 * below, and only the copy is handed on, so a backend that writes a
	 * page after its response changes nothing we look at twice. */
	if (!drop && total == 0) {
		nf_log_peer(nf, "queue %u: empty rx frame dropped", q->idx);
		drop = true;
	}
	if (drop) {
		if (err)
			nf_log_peer(nf, "queue %u: the backend flagged an rx frame with status %d",
				    q->idx, err);
		STAT_ADD(q->st_rx_errors, 1);
	} else {
		if (zc) {
			/* Lent, not copied: the pieces point into the rx
			 * pages, which stay out of the ring until the
			 * caller's next receive. */
			pkt->iov = &q->zc_iov[q->zc_iov_n];
			pkt->iovcnt = nfr;
			for (unsigned i = 0; i < nfr; i++) {
				uint16_t id = q->rx_slot_id[(q->rx.rsp_cons + fr[i].k) & mask];

				q->zc_iov[q->zc_iov_n++] = (struct iovec){
					(uint8_t *)pvio_hv_gfn_ptr(nf->hv, q->rxb[id].gfn) +
					fr[i].offset, fr[i].len };
			}
			pkt->data = pkt->iov[0].iov_base;
			pkt->cap = 0;
		} else {
			uint32_t got = 0;

			pkt->iov = NULL;
			pkt->iovcnt = 0;
			for (unsigned i = 0; i < nfr; i++) {
				uint16_t id = q->rx_slot_id[(q->rx.rsp_cons + fr[i].k) & mask];
				const uint8_t *src = (const uint8_t *)pvio_hv_gfn_ptr(nf->hv,
						q->rxb[id].gfn) + fr[i].offset;
				uint32_t c = fr[i].len;

				if (got >= pkt->cap)
					break;
				if (c > pkt->cap - got)
					c = pkt->cap - got;
				memcpy((uint8_t *)pkt->data + got, src, c);
				got += c;
			}
		}
		pkt->len = total;
		pkt->flags = 0;
		if (flags0 & PVIO_NETRXF_csum_blank)
			pkt->flags |= PVIO_NF_CSUM_BLANK | PVIO_NF_DATA_VALIDATED;
		else if (flags0 & PVIO_NETRXF_data_validated)
			pkt->flags |= PVIO_NF_DATA_VALIDATED;
		pkt->gso_type = 0;
		pkt->gso_size = 0;
		if (gso) {
			pkt->flags |= PVIO_NF_GSO;
			pkt->gso_type = gso_type;
			pkt->gso_size = gso_size;
			STAT_ADD(q->st_rx_gso, 1);
		}
		if (!zc && total > pkt->cap) {
			pkt->flags |= PVIO_NF_TRUNCATED;
			STAT_ADD(q->st_rx_trunc, 1);
		}
		pkt->slots = (uint16_t)k;
		STAT_ADD(q->st_rx_packets, 1);
		STAT_ADD(q->st_rx_bytes, total);
		if (nfr > 1)
			STAT_ADD(q->st_rx_multi, 1);
	}
	/* The buffers go back to the pool, to be posted again (lent ones at
	 * the next receive call). */
	for (uint32_t i = 0; i < k; i++) {
		uint16_t id = q->rx_slot_id[(q->rx.rsp_cons + i) & mask];
		struct nf_rxbuf *b = &q->rxb[id];

		if (zc && !drop) {
			q->zc_ids[q->zc_n++] = id;
			continue;
		}
		b->posted = 0;
		b->next_free = q->rx_free;
		q->rx_free = id;
	}
	pvio_ring_consume_responses(&q->rx, k);
	return drop ? RX_DROPPED : RX_FRAME;
}

/* Ask to be notified once rsp_prod reaches rsp_cons + need, and look
 * again. Returns what is published now, or -EPROTO. */
static int rx_wait_for(struct nf_queue *q, uint32_t need)
{
	pvio_store_relaxed(&q->rx.sring->rsp_event, q->rx.rsp_cons + need);
	/* Store-load: rsp_event before re-reading rsp_prod. Pairs with the
	 * fence in the backend's push-responses-and-check-notify. */
	pvio_mb();
	return pvio_ring_front_pending(&q->rx);
}

/* recv_burst (poll false) and poll (poll true): the same, except that a
 * poll leaves the ports masked and makes no system call when idle. */
/* Lent buffers (zero-copy receive) back to the pool (rx_lock held). */
static void zc_return(struct nf_queue *q)
{
	for (uint32_t i = 0; i < q->zc_n; i++) {
		struct nf_rxbuf *b = &q->rxb[q->zc_ids[i]];

		b->posted = 0;
		b->next_free = q->rx_free;
		q->rx_free = q->zc_ids[i];
	}
	q->zc_n = q->zc_iov_n = 0;
}

static int rx_burst(struct pvio_netfront *nf, unsigned queue, struct pvio_nf_pkt *pkts,
		    unsigned n, bool poll, bool zc)
{
	struct nf_queue *q;
	unsigned got = 0;
	bool full = false, broken = false;

	if (!nf || queue >= nf->nr_queues || (n && !pkts))
		return -EINVAL;
	for (unsigned i = 0; !zc && i < n; i++)
		if (!pkts[i].data && pkts[i].cap)
			return -EINVAL;
	q = &nf->q[queue];
	drain_ctl(q, !poll);
	if (fe_dead(&nf->fe)) {
		kill_queue(q);
		return -ENODEV;
	}
	pthread_mutex_lock(&q->rx_lock);
	if (q->state != NFQ_UP || __atomic_load_n(&q->lost, __ATOMIC_ACQUIRE)) {
		bool dead = q->state == NFQ_DEAD;

		pthread_mutex_unlock(&q->rx_lock);
		return dead ? -ENODEV : 0;
	}
	/* Whatever the last zero-copy receive lent is the caller's no more. */
	if (q->zc_n)
		zc_return(q);
	/* A poller takes the events once, on its first call after arm():
	 * from then on the ports stay masked and nothing is read. */
	if (!q->polling)
		take_events(q);
	q->polling = poll;

	/* Completions first (their event may be the one we just took). */
	pthread_mutex_lock(&q->tx_lock);
	if (tx_gc(q, !poll) < 0)
		broken = true;
	pthread_mutex_unlock(&q->tx_lock);

	while (!broken && n) {
		uint32_t need = 0;
		int avail, r;

		if (got == n) {
			full = true;
			break;
		}
		avail = pvio_ring_front_pending(&q->rx);
		if (avail < 0) {
			disablef(nf, "queue %u: the backend's rx rsp_prod %u runs past the "
				 "requests we posted (rsp_cons %u, req_prod %u)", q->idx,
				 pvio_load_relaxed(&q->rx.sring->rsp_prod), q->rx.rsp_cons,
				 q->rx.req_pushed);
			broken = true;
			break;
		}
		if (avail == 0) {
			if (rx_refill(q))
				rx_push(q, true);
			/* A poller looks again soon: no rsp_event to set. */
			if (poll)
				break;
			avail = pvio_ring_front_final_check(&q->rx);
			if (avail == 0)
				break;
			continue;   /* more came, or < 0: reported above next turn */
		}
		r = rx_one(q, (uint32_t)avail, &pkts[got], &need, zc);
		if (r < 0) {
			broken = true;
		} else if (r == RX_FRAME) {
			got++;
		} else if (r == RX_NONE) {
			/* Half a frame published: wait for the rest. */
			if (rx_wait_for(q, need) >= (int)need)
				continue;
			break;
		}
	}
	if (!broken) {
		rx_refill(q);
		rx_push(q, true);
	}
	if (!poll)
		give_events(q);
	if (!broken) {
		check_lost(q);
		/* Frames left behind by a full burst: stay readable. */
		if (!poll && full && pvio_ring_front_pending(&q->rx) > 0)
			nf_wake_queue(q);
	}
	pthread_mutex_unlock(&q->rx_lock);
	if (broken || fe_dead(&nf->fe)) {
		kill_queue(q);
		return got ? (int)got : -ENODEV;
	}
	return (int)got;
}

PVIO_EXPORT int pvio_netfront_recv_burst(struct pvio_netfront *nf, unsigned queue,
					 struct pvio_nf_pkt *pkts, unsigned n)
{
	return rx_burst(nf, queue, pkts, n, false, false);
}

PVIO_EXPORT int pvio_netfront_recv_burst_zc(struct pvio_netfront *nf, unsigned queue,
					    struct pvio_nf_pkt *pkts, unsigned n)
{
	return rx_burst(nf, queue, pkts, n, false, true);
}

PVIO_EXPORT int pvio_netfront_poll_zc(struct pvio_netfront *nf, unsigned queue,
				      struct pvio_nf_pkt *pkts, unsigned n)
{
	return rx_burst(nf, queue, pkts, n, true, true);
}

PVIO_EXPORT int pvio_netfront_poll(struct pvio_netfront *nf, unsigned queue,
				   struct pvio_nf_pkt *pkts, unsigned n)
{
	return rx_burst(nf, queue, pkts, n, true, false);
}

PVIO_EXPORT int pvio_netfront_arm(struct pvio_netfront *nf, unsigned queue)
{
	struct nf_queue *q;
	int work = 0;

	if (!nf || queue >= nf->nr_queues)
		return -EINVAL;
	q = &nf->q[queue];
	/* Whatever the control thread said before this is looked at by the
	 * next poll; what it says after makes the fd readable. */
	drain_ctl(q, true);
	if (fe_dead(&nf->fe))
		return 1;
	pthread_mutex_lock(&q->rx_lock);
	q->polling = false;
	if (q->state != NFQ_UP || __atomic_load_n(&q->lost, __ATOMIC_ACQUIRE)) {
		pthread_mutex_unlock(&q->rx_lock);
		return 1;
	}
	give_events(q);
	/* Final checks, after unmasking: anything published before the
	 * backend could see rsp_event is found here, anything after notifies. */
	if (pvio_ring_front_final_check(&q->rx) != 0)
		work = 1;
	pthread_mutex_lock(&q->tx_lock);
	if (q->tx_busy && pvio_ring_front_final_check(&q->tx) != 0)
		work = 1;
	pthread_mutex_unlock(&q->tx_lock);
	check_lost(q);
	pthread_mutex_unlock(&q->rx_lock);
	return work;
}

PVIO_EXPORT int pvio_netfront_tx_flush(struct pvio_netfront *nf, unsigned queue,
				       int timeout_ms)
{
	long long deadline;
	struct nf_queue *q;

	if (!nf || queue >= nf->nr_queues || timeout_ms < 0)
		return -EINVAL;
	q = &nf->q[queue];
	deadline = fe_now_ms() + timeout_ms;
	for (;;) {
		struct pollfd p = { .fd = pvio_netfront_fd(nf, queue), .events = POLLIN };
		unsigned busy;
		long long left;
		int r = 0;

		if (fe_dead(&nf->fe))
			return -ENODEV;
		pthread_mutex_lock(&q->tx_lock);
		if (q->state == NFQ_UP && !__atomic_load_n(&q->lost, __ATOMIC_ACQUIRE))
			r = tx_gc(q, true);
		busy = q->state == NFQ_UP ? q->tx_busy : 0;
		pthread_mutex_unlock(&q->tx_lock);
		if (r < 0)
			return -ENODEV;
		if (!busy)
			return 0;
		left = deadline - fe_now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		/* The tx responses wake the queue's fd once it is armed. */
		if (pvio_netfront_arm(nf, queue) == 0 &&
		    poll(&p, 1, left > 100 ? 100 : (int)left) < 0 && errno != EINTR)
			return -errno;
	}
}

PVIO_EXPORT int pvio_netfront_fd(struct pvio_netfront *nf, unsigned queue)
{
	if (!nf || queue >= nf->nr_queues)
		return -EINVAL;
	return nf->q[queue].epfd;
}

/* ------------------------------------------------------------ queue lifecycle */

int nf_queue_init(struct pvio_netfront *nf, unsigned idx)
{
	struct nf_queue *q = &nf->q[idx];
	int r;

	memset(q, 0, sizeof(*q));
	q->nf = nf;
	q->idx = idx;
	q->state = NFQ_DOWN;
	q->ev_fd[0] = q->ev_fd[1] = -1;
	q->tx_free = q->rx_free = NF_NONE;
	pthread_mutex_init(&q->tx_lock, NULL);
	pthread_mutex_init(&q->rx_lock, NULL);
	/* One rx buffer per slot of a one-page rx ring, at most. */
	q->zc_ids = calloc(pvio_netif_rx_ring_nr_ents(PAGE), sizeof(*q->zc_ids));
	q->zc_iov = calloc(pvio_netif_rx_ring_nr_ents(PAGE), sizeof(*q->zc_iov));
	r = q->zc_ids && q->zc_iov ? fe_queue_fds_init(&q->epfd, &q->ctl_fd, 2) : -ENOMEM;
	if (r < 0) {
		free(q->zc_ids);
		free(q->zc_iov);
		pthread_mutex_destroy(&q->tx_lock);
		pthread_mutex_destroy(&q->rx_lock);
	}
	return r;
}

void nf_queue_fini(struct nf_queue *q)
{
	free(q->scratch);
	q->scratch = NULL;
	free(q->zc_ids);
	free(q->zc_iov);
	q->zc_ids = NULL;
	q->zc_iov = NULL;
	fe_queue_fds_fini(&q->epfd, &q->ctl_fd);
	pthread_mutex_destroy(&q->tx_lock);
	pthread_mutex_destroy(&q->rx_lock);
}

/* Free a page we own, unless it was leaked. */
static void page_put(struct pvio_netfront *nf, uint64_t gfn)
{
	if (gfn != NO_PAGE)
		pvio_hv_page_free(nf->hv, gfn, 1);
}

/* A ring page: revoke (deferred if the backend holds it) and free. */
static void ring_put(struct pvio_netfront *nf, bool *alloc, bool *granted, uint32_t ref,
		     uint64_t gfn)
{
	if (*granted) {
		*granted = false;
		if (!nf_revoke(nf, ref, gfn)) {
			*alloc = false;
			return;
		}
	}
	if (*alloc)
		pvio_hv_page_free(nf->hv, gfn, 1);
	*alloc = false;
}

/* Give back everything of the current connection (both locks held):
 * ports first (the backend sees them close), then grants and pages. A
 * grant the backend still holds keeps its page out of use for good. */
static void release_conn(struct nf_queue *q)
{
	struct pvio_netfront *nf = q->nf;

	for (unsigned i = 0; i < 2; i++) {
		if (q->port[i] && (i == 0 || q->port[1] != q->port[0])) {
			if (q->ev_fd[i] >= 0)
				epoll_ctl(q->epfd, EPOLL_CTL_DEL, q->ev_fd[i], NULL);
			pvio_hv_evtchn_close(nf->hv, q->port[i]);
		}
		q->port[i] = 0;
		q->ch[i] = NULL;
		q->ev_fd[i] = -1;
		q->masked[i] = 0;
	}
	q->nports = 0;
	if (q->txb) {
		for (uint32_t i = 0; i < q->nr_txb; i++) {
			struct nf_txbuf *b = &q->txb[i];

			if (b->granted && !nf_revoke(nf, b->gref, b->gfn))
				b->gfn = NO_PAGE;
			page_put(nf, b->gfn);
		}
		free(q->txb);
		q->txb = NULL;
	}
	if (q->rxb) {
		for (uint32_t i = 0; i < q->nr_rxb; i++) {
			struct nf_rxbuf *b = &q->rxb[i];

			if (b->granted && !nf_revoke(nf, b->gref, b->gfn))
				b->gfn = NO_PAGE;
			page_put(nf, b->gfn);
		}
		free(q->rxb);
		q->rxb = NULL;
	}
	free(q->rx_slot_id);
	q->rx_slot_id = NULL;
	/* Lent buffers went with rxb; the caller's pieces stay readable
	 * (zc_iov is the queue's, the pages guest memory) until it calls
	 * again. */
	q->zc_n = q->zc_iov_n = 0;
	q->nr_txb = q->nr_rxb = 0;
	q->tx_free = q->rx_free = NF_NONE;
	q->tx_busy = 0;
	q->tx_to_push = 0;
	ring_put(nf, &q->tx_ring_alloc, &q->tx_ring_granted, q->tx_ring_ref, q->tx_ring_gfn);
	ring_put(nf, &q->rx_ring_alloc, &q->rx_ring_granted, q->rx_ring_ref, q->rx_ring_gfn);
	memset(&q->tx, 0, sizeof(q->tx));
	memset(&q->rx, 0, sizeof(q->rx));
}

static void lock_both(struct nf_queue *q)
{
	pthread_mutex_lock(&q->rx_lock);
	pthread_mutex_lock(&q->tx_lock);
}

static void unlock_both(struct nf_queue *q)
{
	pthread_mutex_unlock(&q->tx_lock);
	pthread_mutex_unlock(&q->rx_lock);
}

/* A fresh shared ring page, granted read-write. */
static int ring_get(struct pvio_netfront *nf, uint64_t *gfn, bool *alloc, bool *granted,
		    uint32_t *ref)
{
	void *sring;
	int r = pvio_hv_page_alloc(nf->hv, 1, gfn);

	if (r < 0)
		return r;
	*alloc = true;
	sring = pvio_hv_gfn_ptr(nf->hv, *gfn);
	memset(sring, 0, PAGE);
	pvio_sring_init(sring);
	r = pvio_hv_grant(nf->hv, nf->be_domid, *gfn, false);
	if (r < 0)
		return r;
	*ref = (uint32_t)r;
	*granted = true;
	return 0;
}

int nf_queue_alloc(struct nf_queue *q)
{
	struct pvio_netfront *nf = q->nf;
	uint64_t first;
	bool run;
	int r;

	lock_both(q);
	if (q->state != NFQ_DOWN) {
		r = q->state == NFQ_DEAD ? -ENODEV : -EBUSY;
		goto out;
	}
	release_conn(q);

	r = ring_get(nf, &q->tx_ring_gfn, &q->tx_ring_alloc, &q->tx_ring_granted, &q->tx_ring_ref);
	if (r < 0)
		goto err;
	r = pvio_netif_tx_front_attach(&q->tx, pvio_hv_gfn_ptr(nf->hv, q->tx_ring_gfn), PAGE);
	if (r < 0)
		goto err;
	r = ring_get(nf, &q->rx_ring_gfn, &q->rx_ring_alloc, &q->rx_ring_granted, &q->rx_ring_ref);
	if (r < 0)
		goto err;
	r = pvio_netif_rx_front_attach(&q->rx, pvio_hv_gfn_ptr(nf->hv, q->rx_ring_gfn), PAGE);
	if (r < 0)
		goto err;

	/* One dedicated page per tx id and per rx buffer (ring size each). */
	r = -ENOMEM;
	q->txb = calloc(q->tx.nr_ents, sizeof(*q->txb));
	q->rxb = calloc(q->rx.nr_ents, sizeof(*q->rxb));
	q->rx_slot_id = calloc(q->rx.nr_ents, sizeof(*q->rx_slot_id));
	q->zc_n = q->zc_iov_n = 0;
	if (!q->txb || !q->rxb || !q->rx_slot_id)
		goto err;
	for (uint32_t i = 0; i < q->tx.nr_ents; i++)
		q->txb[i].gfn = NO_PAGE;
	for (uint32_t i = 0; i < q->rx.nr_ents; i++)
		q->rxb[i].gfn = NO_PAGE;
	q->nr_txb = q->tx.nr_ents;
	q->nr_rxb = q->rx.nr_ents;
	/* Each pool in one run of pages if the guest memory has one (one walk
	 * of the allocator instead of one per page), else page by page; the
	 * pages are freed one by one either way. */
	run = pvio_hv_page_alloc(nf->hv, q->nr_txb, &first) == 0;
	for (uint32_t i = q->nr_txb; i-- > 0;) {
		if (run) {
			q->txb[i].gfn = first + i;
		} else if ((r = pvio_hv_page_alloc(nf->hv, 1, &q->txb[i].gfn)) < 0) {
			q->txb[i].gfn = NO_PAGE;
			goto err;
		}
		q->txb[i].next_free = q->tx_free;
		q->tx_free = (uint16_t)i;
	}
	run = pvio_hv_page_alloc(nf->hv, q->nr_rxb, &first) == 0;
	for (uint32_t i = q->nr_rxb; i-- > 0;) {
		if (run) {
			q->rxb[i].gfn = first + i;
		} else if ((r = pvio_hv_page_alloc(nf->hv, 1, &q->rxb[i].gfn)) < 0) {
			q->rxb[i].gfn = NO_PAGE;
			goto err;
		}
		q->rxb[i].next_free = q->rx_free;
		q->rx_free = (uint16_t)i;
	}

	/* Event channel(s). */
	q->nports = nf->p.split ? 2 : 1;
	for (unsigned i = 0; i < q->nports; i++) {
		r = pvio_hv_evtchn_alloc_unbound(nf->hv, nf->be_domid, &q->port[i]);
		if (r < 0) {
			q->port[i] = 0;
			goto err;
		}
		q->ch[i] = pvio_hv_evtchn_handle(nf->hv, q->port[i]);
		q->ev_fd[i] = pvio_hv_evtchn_fd(nf->hv, q->port[i]);
		if (!q->ch[i] || q->ev_fd[i] < 0) {
			r = -EINVAL;
			goto err;
		}
	}
	if (q->nports == 1) {
		q->port[1] = q->port[0];
		q->ch[1] = q->ch[0];
		q->ev_fd[1] = q->ev_fd[0];
	}

	/* The rx pool goes on the ring now: the backend finds it when it
	 * connects (it reads req_prod then). */
	rx_refill(q);
	rx_push(q, false);
	r = 0;
	goto out;
err:
	nf_log(nf, "queue %u: setting up the rings failed: %s", q->idx, strerror(-r));
	release_conn(q);
out:
	unlock_both(q);
	return r;
}

void nf_queue_up(struct nf_queue *q)
{
	lock_both(q);
	if (q->state == NFQ_DOWN && q->tx_ring_alloc && q->port[0]) {
		for (unsigned i = 0; i < q->nports; i++) {
			struct epoll_event ev = { .events = EPOLLIN, .data.u32 = i };

			if (epoll_ctl(q->epfd, EPOLL_CTL_ADD, q->ev_fd[i], &ev) < 0)
				nf_log(q->nf, "queue %u: epoll: %s", q->idx, strerror(errno));
		}
		__atomic_store_n(&q->lost, 0, __ATOMIC_RELEASE);
		__atomic_store_n(&q->state, NFQ_UP, __ATOMIC_RELEASE);
		/* As Linux netfront at connect: kick both directions once. */
		notify(q->ch[NF_TX], &q->st_tx_notifies);
		if (q->nports == 2)
			notify(q->ch[NF_RX], &q->st_rx_notifies);
	}
	unlock_both(q);
	nf_wake_queue(q);
}

void nf_queue_down(struct nf_queue *q, bool fail)
{
	lock_both(q);
	if (q->state != NFQ_DEAD) {
		/* Nothing on the rings is looked at any more: frames in flight
		 * are dropped, and a disabled device trusts nothing. */
		release_conn(q);
		__atomic_store_n(&q->state, fail ? NFQ_DEAD : NFQ_DOWN, __ATOMIC_RELEASE);
	}
	unlock_both(q);
	nf_wake_queue(q);
}

/* ------------------------------------------------------------ info */

PVIO_EXPORT int pvio_netfront_get_info(struct pvio_netfront *nf, struct pvio_netfront_info *info)
{
	const struct nf_params *p;

	if (!nf || !info)
		return -EINVAL;
	memset(info, 0, sizeof(*info));
	pthread_mutex_lock(&nf->info_lock);
	p = &nf->p;
	info->devid = nf->devid;
	info->backend_id = nf->be_domid;
	memcpy(info->mac, nf->mac, 6);
	info->mtu = nf->mtu;
	info->nr_queues = p->nr_queues;
	info->sg = p->sg;
	info->gso_tcpv4 = p->gso_tcpv4;
	info->gso_tcpv6 = p->gso_tcpv6;
	info->ipv6_csum = p->ipv6_csum;
	info->rx_gso_tcpv4 = p->rx_gso_tcpv4;
	info->rx_gso_tcpv6 = p->rx_gso_tcpv6;
	info->rx_csum_offload = p->rx_csum;
	info->split_evtchn = p->split;
	info->max_tx_slots = p->max_tx_slots;
	pthread_mutex_unlock(&nf->info_lock);
	info->connected = !fe_dead(&nf->fe) && nf->nr_queues > 0;
	for (unsigned i = 0; i < nf->nr_queues; i++)
		if (__atomic_load_n(&nf->q[i].state, __ATOMIC_ACQUIRE) != NFQ_UP)
			info->connected = false;
	return 0;
}

PVIO_EXPORT int pvio_netfront_get_stats(struct pvio_netfront *nf, struct pvio_netfront_stats *s)
{
	if (!nf || !s)
		return -EINVAL;
	memset(s, 0, sizeof(*s));
	for (unsigned i = 0; i < nf->nr_queues; i++) {
		struct nf_queue *q = &nf->q[i];

		s->tx_packets += STAT_GET(q->st_tx_packets);
		s->tx_bytes += STAT_GET(q->st_tx_bytes);
		s->tx_slots += STAT_GET(q->st_tx_slots);
		s->tx_gso += STAT_GET(q->st_tx_gso);
		s->tx_errors += STAT_GET(q->st_tx_errors);
		s->tx_bad += STAT_GET(q->st_tx_bad);
		s->rx_packets += STAT_GET(q->st_rx_packets);
		s->rx_bytes += STAT_GET(q->st_rx_bytes);
		s->rx_multislot += STAT_GET(q->st_rx_multi);
		s->rx_gso += STAT_GET(q->st_rx_gso);
		s->rx_errors += STAT_GET(q->st_rx_errors);
		s->rx_truncated += STAT_GET(q->st_rx_trunc);
		s->notifies += STAT_GET(q->st_tx_notifies) + STAT_GET(q->st_rx_notifies);
	}
	pthread_mutex_lock(&nf->def_lock);
	s->leaked_pages = nf->def_n + nf->st_abandoned;
	pthread_mutex_unlock(&nf->def_lock);
	s->reconnects = STAT_GET(nf->st_reconnects);
	s->state_unreadable = STAT_GET(nf->fe.be_state_unreadable);
	s->disabled = fe_dead(&nf->fe);
	return 0;
}

/* ------------------------------------------------------------ checksums */

static unsigned be16(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

struct l4info {
	unsigned l3, l4, l4len, csum_off;
	uint8_t  proto;
	bool     v6;
};

static int parse_l4(const uint8_t *f, size_t len, struct l4info *o)
{
	unsigned off = 14, et;

	if (len < 14)
		return -EPROTONOSUPPORT;
	et = be16(f + 12);
	for (int tags = 0; (et == 0x8100 || et == 0x88a8) && tags < 2; tags++) {
		if (len < off + 4)
			return -EPROTONOSUPPORT;
		et = be16(f + off + 2);
		off += 4;
	}
	memset(o, 0, sizeof(*o));
	o->l3 = off;
	if (et == 0x0800) {
		unsigned ihl, tot;

		if (len < off + 20 || (f[off] >> 4) != 4)
			return -EPROTONOSUPPORT;
		ihl = (f[off] & 0xf) * 4u;
		tot = be16(f + off + 2);
		if (ihl < 20 || tot < ihl || off + tot > len)
			return -EPROTONOSUPPORT;
		if (be16(f + off + 6) & 0x3fff)
			return -EPROTONOSUPPORT;   /* a fragment */
		o->proto = f[off + 9];
		o->l4 = off + ihl;
		o->l4len = tot - ihl;
	} else if (et == 0x86DD) {
		unsigned plen;

		if (len < off + 40 || (f[off] >> 4) != 6)
			return -EPROTONOSUPPORT;
		plen = be16(f + off + 4);
		if (off + 40 + plen > len)
			return -EPROTONOSUPPORT;
		o->proto = f[off + 6];
		o->l4 = off + 40;
		o->l4len = plen;
		o->v6 = true;
	} else {
		return -EPROTONOSUPPORT;
	}
	if (o->proto == 6 && o->l4len >= 20)
		o->csum_off = 16;
	else if (o->proto == 17 && o->l4len >= 8)
		o->csum_off = 6;
	else
		return -EPROTONOSUPPORT;
	return 0;
}

PVIO_EXPORT int pvio_netfront_csum_locate(const void *frame, size_t len, unsigned *csum_start,
					  unsigned *csum_offset)
{
	struct l4info o;
	int r;

	if (!frame)
		return -EINVAL;
	r = parse_l4(frame, len, &o);
	if (r < 0)
		return r;
	if (csum_start)
		*csum_start = o.l4;
	if (csum_offset)
		*csum_offset = o.csum_off;
	return 0;
}

static uint32_t sum16(uint32_t sum, const uint8_t *p, size_t n)
{
	while (n > 1) {
		sum += (uint32_t)p[0] << 8 | p[1];
		p += 2;
		n -= 2;
	}
	if (n)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

PVIO_EXPORT int pvio_netfront_csum_fill(void *frame, size_t len)
{
	uint8_t *f = frame, *c;
	struct l4info o;
	uint32_t sum = 0;
	uint16_t v;
	int r;

	if (!frame)
		return -EINVAL;
	r = parse_l4(f, len, &o);
	if (r < 0)
		return r;
	c = f + o.l4 + o.csum_off;
	c[0] = c[1] = 0;
	if (o.v6) {
		sum = sum16(sum, f + o.l3 + 8, 32);
		sum += o.l4len >> 16;
		sum += o.l4len & 0xffff;
	} else {
		sum = sum16(sum, f + o.l3 + 12, 8);
		sum += o.l4len;
	}
	sum += o.proto;
	sum = sum16(sum, f + o.l4, o.l4len);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	v = (uint16_t)~sum;
	if (v == 0 && o.proto == 17)
		v = 0xffff;
	c[0] = (uint8_t)(v >> 8);
	c[1] = (uint8_t)v;
	return 0;
}
