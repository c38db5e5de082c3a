/* SPDX-License-Identifier: MIT */
/* A raw netif frontend for netback's tests: see nbfront.h. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/netback/nbfront.h"
#include "xenstore/xenbus.h"

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int rd_uint(struct nbf *f, const char *dir, const char *key, unsigned long long *v)
{
	return pvio_xenbus_read_uint(f->xs, PVIO_XS_NO_TX, dir, key, v);
}

static bool be_flag(struct nbf *f, const char *key)
{
	unsigned long long v;

	return rd_uint(f, f->be, key, &v) == 0 && v;
}

static int alloc_pages(struct nbf *f, unsigned n, uint64_t *gfn, uint8_t **p)
{
	int r = pvio_hv_page_alloc(f->hv, n, gfn);

	if (r < 0)
		return r;
	*p = pvio_hv_gfn_ptr(f->hv, *gfn);
	if (!*p)
		return -EINVAL;
	memset(*p, 0, (size_t)n * PVIO_PAGE_SIZE);
	return 0;
}

static int grant(struct nbf *f, uint64_t gfn, bool ro, uint32_t *ref)
{
	int r = pvio_hv_grant(f->hv, f->be_domid, gfn, ro);

	if (r < 0)
		return r;
	*ref = (uint32_t)r;
	return 0;
}

static int setup_queue(struct nbf *f, unsigned i)
{
	struct nbf_q *q = &f->q[i];
	uint8_t *p;
	int r;

	q->f = f;
	q->idx = i;
	if ((r = alloc_pages(f, 1, &q->tx_gfn, &p)) < 0)
		return r;
	pvio_sring_init((struct pvio_sring *)p);
	if ((r = pvio_netif_tx_front_attach(&q->tx, p, PVIO_PAGE_SIZE)) < 0 ||
	    (r = grant(f, q->tx_gfn, false, &q->tx_ref)) < 0)
		return r;
	if ((r = alloc_pages(f, 1, &q->rx_gfn, &p)) < 0)
		return r;
	pvio_sring_init((struct pvio_sring *)p);
	if ((r = pvio_netif_rx_front_attach(&q->rx, p, PVIO_PAGE_SIZE)) < 0 ||
	    (r = grant(f, q->rx_gfn, false, &q->rx_ref)) < 0)
		return r;
	if ((r = alloc_pages(f, NBF_RING, &q->txbuf_gfn, &q->txbuf)) < 0 ||
	    (r = alloc_pages(f, NBF_RING, &q->rxbuf_gfn, &q->rxbuf)) < 0)
		return r;
	for (unsigned k = 0; k < NBF_RING; k++) {
		if ((r = grant(f, q->txbuf_gfn + k, true, &q->txbuf_ref[k])) < 0 ||
		    (r = grant(f, q->rxbuf_gfn + k, false, &q->rxbuf_ref[k])) < 0)
			return r;
	}
	if ((r = pvio_hv_evtchn_alloc_unbound(f->hv, f->be_domid, &q->port_tx)) < 0)
		return r;
	if (f->o.split) {
		if ((r = pvio_hv_evtchn_alloc_unbound(f->hv, f->be_domid, &q->port_rx)) < 0)
			return r;
	} else {
		q->port_rx = q->port_tx;
	}
	return 0;
}

static int setup_ctrl(struct nbf *f)
{
	uint8_t *p;
	int r;

	if ((r = alloc_pages(f, 1, &f->ctrl_gfn, &p)) < 0)
		return r;
	pvio_sring_init((struct pvio_sring *)p);
	if ((r = pvio_xen_netif_ctrl_front_attach(&f->ctrl, p, PVIO_PAGE_SIZE)) < 0 ||
	    (r = grant(f, f->ctrl_gfn, false, &f->ctrl_ref)) < 0)
		return r;
	if ((r = alloc_pages(f, 1, &f->ctrl_page_gfn, &f->ctrl_page)) < 0 ||
	    (r = grant(f, f->ctrl_page_gfn, true, &f->ctrl_page_ref)) < 0)
		return r;
	return pvio_hv_evtchn_alloc_unbound(f->hv, f->be_domid, &f->port_ctrl);
}

int nbf_setup_rings(struct nbf *f)
{
	int r;

	if (f->nq == 0 || f->nq > NBF_MAX_QUEUES)
		return -EINVAL;
	memset(f->q, 0, sizeof(f->q));
	memset(&f->ctrl, 0, sizeof(f->ctrl));
	f->ctrl_gfn = f->ctrl_page_gfn = 0;
	f->ctrl_ref = f->ctrl_page_ref = 0;
	f->ctrl_page = NULL;
	f->port_ctrl = 0;
	for (unsigned i = 0; i < f->nq; i++)
		if ((r = setup_queue(f, i)) < 0)
			return r;
	if (f->o.ctrl && (r = setup_ctrl(f)) < 0)
		return r;
	return 0;
}

struct kvbuf {
	struct pvio_xenbus_kv kv[128];
	char keys[128][64];
	char vals[128][24];
	unsigned n;
};

static void kv_add(struct kvbuf *b, const char *key, unsigned long long v)
{
	snprintf(b->keys[b->n], sizeof(b->keys[0]), "%.60s", key);
	snprintf(b->vals[b->n], sizeof(b->vals[0]), "%llu", v);
	b->kv[b->n].key = b->keys[b->n];
	b->kv[b->n].value = b->vals[b->n];
	b->n++;
}

int nbf_connect(struct nbf *f, struct pvio_hv *hv, uint32_t devid, const struct nbf_opts *o,
		int timeout_ms)
{
	static struct kvbuf kb;
	unsigned long long v;
	enum pvio_xenbus_state st;
	char key[200];
	int fd, r;

	memset(f, 0, sizeof(*f));
	f->hv = hv;
	f->domid = pvio_hv_domid(hv);
	f->devid = devid;
	f->o = *o;
	if (o->xdp_headroom)
		f->o.xdp_headroom_ok = true;
	f->nq = o->nq ? o->nq : 1;
	if (f->nq > NBF_MAX_QUEUES)
		return -EINVAL;
	if ((r = pvio_hv_xs_connect(hv, &fd)) < 0 || (r = pvio_xs_open_fd(fd, &f->xs)) < 0)
		return r;
	snprintf(f->fe, sizeof(f->fe), "/local/domain/%u/device/vif/%u", f->domid, devid);
	snprintf(key, sizeof(key), "%s/backend", f->fe);
	if ((r = pvio_xs_read_buf(f->xs, PVIO_XS_NO_TX, key, f->be, sizeof(f->be), NULL)) < 0)
		return r;
	if ((r = rd_uint(f, f->fe, "backend-id", &v)) < 0)
		return r;
	f->be_domid = (uint16_t)v;
	/* A reconnection (after Closed) starts over from Initialising, which
	 * makes the backend probe again and go back to InitWait. */
	if ((r = pvio_xenbus_switch_state(f->xs, PVIO_XS_NO_TX, f->fe,
					  PVIO_XENBUS_STATE_INITIALISING)) < 0)
		return r;
	r = pvio_xenbus_wait_state(f->xs, f->be, PVIO_XENBUS_MASK(PVIO_XENBUS_STATE_INITWAIT),
				   timeout_ms, &st);
	if (r < 0)
		return r;
	f->be_split = be_flag(f, "feature-split-event-channels");
	f->be_ctrl = be_flag(f, "feature-ctrl-ring");
	f->be_sg = be_flag(f, "feature-sg");
	f->be_gso4 = be_flag(f, "feature-gso-tcpv4");
	f->be_gso6 = be_flag(f, "feature-gso-tcpv6");
	f->be_mcast = be_flag(f, "feature-multicast-control");
	f->be_max_queues = rd_uint(f, f->be, "multi-queue-max-queues", &v) == 0 ? (unsigned)v : 1;
	if (f->o.split && !f->be_split)
		f->o.split = false;
	if ((r = nbf_setup_rings(f)) < 0)
		return r;

	/* Keys of a previous connection that this one may not write. */
	{
		static const char *const stale[] = {
			"event-channel", "event-channel-tx", "event-channel-rx", "tx-ring-ref",
			"rx-ring-ref", "multi-queue-num-queues", "ctrl-ring-ref",
			"event-channel-ctrl", "queue-0", "queue-1", "queue-2", "queue-3",
			"xdp-headroom",
		};

		for (unsigned i = 0; i < sizeof(stale) / sizeof(stale[0]); i++) {
			snprintf(key, sizeof(key), "%s/%s", f->fe, stale[i]);
			pvio_xs_rm(f->xs, PVIO_XS_NO_TX, key);
		}
	}
	kb.n = 0;
	for (unsigned i = 0; i < f->nq; i++) {
		struct nbf_q *q = &f->q[i];
		char pfx[24] = "";

		if (f->nq > 1)
			snprintf(pfx, sizeof(pfx), "queue-%u/", i);
		snprintf(key, sizeof(key), "%stx-ring-ref", pfx);
		kv_add(&kb, key, q->tx_ref);
		snprintf(key, sizeof(key), "%srx-ring-ref", pfx);
		kv_add(&kb, key, q->rx_ref);
		if (f->o.split) {
			snprintf(key, sizeof(key), "%sevent-channel-tx", pfx);
			kv_add(&kb, key, q->port_tx);
			snprintf(key, sizeof(key), "%sevent-channel-rx", pfx);
			kv_add(&kb, key, q->port_rx);
		} else {
			snprintf(key, sizeof(key), "%sevent-channel", pfx);
			kv_add(&kb, key, q->port_tx);
		}
	}
	if (f->nq > 1 || o->nq_key)
		kv_add(&kb, "multi-queue-num-queues", f->nq);
	if (o->xdp_headroom)
		kv_add(&kb, "xdp-headroom", o->xdp_headroom);
	/* Every key is written (0 too): a reconnection must not inherit the
	 * previous connection's. */
	kv_add(&kb, "request-rx-copy", !o->no_rx_copy);
	kv_add(&kb, "feature-rx-notify", !o->no_rx_notify);
	kv_add(&kb, "request-multicast-control", o->mcast);
	kv_add(&kb, "feature-sg", o->sg);
	kv_add(&kb, "feature-gso-tcpv4", o->gso4);
	kv_add(&kb, "feature-gso-tcpv6", o->gso6);
	kv_add(&kb, "feature-no-csum-offload", o->no_csum);
	kv_add(&kb, "feature-ipv6-csum-offload", o->csum6);
	kv_add(&kb, "feature-persistent", o->persistent);
	if (o->ctrl) {
		kv_add(&kb, "ctrl-ring-ref", f->ctrl_ref);
		kv_add(&kb, "event-channel-ctrl", f->port_ctrl);
	}
	if ((r = pvio_xenbus_write_keys(f->xs, f->fe, kb.kv, kb.n)) < 0)
		return r;
	for (unsigned i = 0; i < f->nq && !o->rx_none; i++)
		nbf_post_rx(f, i, o->rx_post ? o->rx_post : NBF_RING);
	if (o->initialised) {
		if ((r = pvio_xenbus_switch_state(f->xs, PVIO_XS_NO_TX, f->fe,
						  PVIO_XENBUS_STATE_INITIALISED)) < 0)
			return r;
		r = pvio_xenbus_wait_state(f->xs, f->be,
					   PVIO_XENBUS_MASK(PVIO_XENBUS_STATE_CONNECTED),
					   timeout_ms, &st);
		if (r < 0)
			return r;
		r = pvio_xenbus_switch_state(f->xs, PVIO_XS_NO_TX, f->fe,
					     PVIO_XENBUS_STATE_CONNECTED);
		if (r < 0)
			return r;
	} else {
		/* As Linux netfront: straight to Connected. */
		if ((r = pvio_xenbus_switch_state(f->xs, PVIO_XS_NO_TX, f->fe,
						  PVIO_XENBUS_STATE_CONNECTED)) < 0)
			return r;
		r = pvio_xenbus_wait_state(f->xs, f->be,
					   PVIO_XENBUS_MASK(PVIO_XENBUS_STATE_CONNECTED),
					   timeout_ms, &st);
		if (r < 0)
			return r;
	}
	f->connected = true;
	return 0;
}

static void release(struct nbf *f, bool close_ports)
{
	for (unsigned i = 0; i < f->nq; i++) {
		struct nbf_q *q = &f->q[i];

		if (close_ports) {
			if (q->port_rx && q->port_rx != q->port_tx)
				pvio_hv_evtchn_close(f->hv, q->port_rx);
			if (q->port_tx)
				pvio_hv_evtchn_close(f->hv, q->port_tx);
		}
		q->port_tx = q->port_rx = 0;
		/* A grant still mapped stays granted (and its page leaked):
		 * counted in revoke_busy. */
		if (q->tx_ref)
			f->revoke_busy += pvio_hv_revoke(f->hv, q->tx_ref) < 0;
		if (q->rx_ref)
			f->revoke_busy += pvio_hv_revoke(f->hv, q->rx_ref) < 0;
		for (unsigned k = 0; k < NBF_RING; k++) {
			if (q->txbuf_ref[k])
				f->revoke_busy += pvio_hv_revoke(f->hv, q->txbuf_ref[k]) < 0;
			if (q->rxbuf_ref[k])
				f->revoke_busy += pvio_hv_revoke(f->hv, q->rxbuf_ref[k]) < 0;
		}
	}
	if (close_ports && f->port_ctrl)
		pvio_hv_evtchn_close(f->hv, f->port_ctrl);
	f->port_ctrl = 0;
	if (f->xs)
		pvio_xs_close(f->xs);
	f->xs = NULL;
	f->connected = false;
}

void nbf_close(struct nbf *f, int timeout_ms)
{
	if (f->xs) {
		pvio_xenbus_switch_state(f->xs, PVIO_XS_NO_TX, f->fe, PVIO_XENBUS_STATE_CLOSING);
		pvio_xenbus_wait_state(f->xs, f->be,
				       PVIO_XENBUS_MASK(PVIO_XENBUS_STATE_CLOSING) |
				       PVIO_XENBUS_MASK(PVIO_XENBUS_STATE_CLOSED),
				       timeout_ms, NULL);
		pvio_xenbus_switch_state(f->xs, PVIO_XS_NO_TX, f->fe, PVIO_XENBUS_STATE_CLOSED);
		pvio_xenbus_wait_state(f->xs, f->be, PVIO_XENBUS_MASK(PVIO_XENBUS_STATE_CLOSED),
				       timeout_ms, NULL);
	}
	release(f, true);
}

void nbf_abandon(struct nbf *f)
{
	release(f, true);
}

/* ------------------------------------------------------------ events */

void nbf_wait(struct nbf *f, unsigned qi, int timeout_ms)
{
	struct nbf_q *q = &f->q[qi];
	pvio_evtchn_port_t ports[3];
	struct pollfd pf[3];
	unsigned n = 0;

	ports[n++] = q->port_tx;
	if (q->port_rx != q->port_tx)
		ports[n++] = q->port_rx;
	if (qi == 0 && f->port_ctrl)
		ports[n++] = f->port_ctrl;
	for (unsigned i = 0; i < n; i++)
		pf[i] = (struct pollfd){ .fd = pvio_hv_evtchn_fd(f->hv, ports[i]), .events = POLLIN };
	if (poll(pf, n, timeout_ms) > 0)
		for (unsigned i = 0; i < n; i++)
			if (pf[i].revents) {
				pvio_hv_evtchn_pending(f->hv, ports[i]);
				pvio_hv_evtchn_unmask(f->hv, ports[i]);
			}
}

/* ------------------------------------------------------------ tx */

uint32_t nbf_txref(struct nbf *f, unsigned q, unsigned id)
{
	return f->q[q].txbuf_ref[id % NBF_RING];
}

uint8_t *nbf_txpage(struct nbf *f, unsigned q, unsigned id)
{
	return f->q[q].txbuf + (size_t)(id % NBF_RING) * PVIO_PAGE_SIZE;
}

int nbf_tx_id(struct nbf *f, unsigned qi)
{
	struct nbf_q *q = &f->q[qi];

	for (unsigned k = 0; k < NBF_RING; k++) {
		unsigned id = (q->tx_next + k) % NBF_RING;

		if (!q->tx_busy[id]) {
			q->tx_busy[id] = true;
			q->tx_next = (uint16_t)(id + 1);
			return (int)id;
		}
	}
	return -EAGAIN;
}

static unsigned free_ids(struct nbf_q *q)
{
	unsigned n = 0;

	for (unsigned k = 0; k < NBF_RING; k++)
		n += !q->tx_busy[k];
	return n;
}

int nbf_tx_reap(struct nbf *f, unsigned qi)
{
	struct nbf_q *q = &f->q[qi];
	int n = pvio_ring_front_pending(&q->tx);

	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		struct pvio_netif_tx_response r;

		pvio_netif_tx_copy_response(&q->tx, &r);
		if (r.status == PVIO_NETIF_RSP_NULL) {
			q->tx_null++;
			continue;
		}
		if (r.id >= NBF_RING || !q->tx_busy[r.id]) {
			q->tx_bad_id++;
			continue;
		}
		q->tx_busy[r.id] = false;
		if (r.status == PVIO_NETIF_RSP_OKAY)
			q->tx_ok++;
		else if (r.status == PVIO_NETIF_RSP_DROPPED)
			q->tx_dropped++;
		else
			q->tx_err++;
	}
	return n;
}

int nbf_tx_drain(struct nbf *f, unsigned qi, int timeout_ms)
{
	int64_t end = now_ms() + timeout_ms;

	for (;;) {
		int r = nbf_tx_reap(f, qi);

		if (r < 0)
			return r;
		if (free_ids(&f->q[qi]) == NBF_RING)
			return 0;
		if (pvio_ring_front_final_check(&f->q[qi].tx) > 0)
			continue;
		if (now_ms() >= end)
			return -ETIMEDOUT;
		nbf_wait(f, qi, 10);
	}
}

static void push_tx(struct nbf *f, struct nbf_q *q, bool notify)
{
	if (pvio_ring_push_requests(&q->tx) && notify)
		pvio_hv_evtchn_notify(f->hv, q->port_tx);
}

int nbf_send(struct nbf *f, unsigned qi, const void *frame, unsigned len,
	     const struct nbf_txinfo *ti)
{
	static const struct nbf_txinfo none;
	struct nbf_q *q = &f->q[qi];
	unsigned sb, first, ndata, nslots, nzero, off = 0, s = 0;
	const uint8_t *src = frame;

	if (!ti)
		ti = &none;
	sb = ti->slot_bytes ? ti->slot_bytes : PVIO_PAGE_SIZE;
	if (len == 0 || len > 0xFFFF || ti->first_offset >= PVIO_PAGE_SIZE || sb > PVIO_PAGE_SIZE)
		return -EINVAL;
	first = PVIO_PAGE_SIZE - ti->first_offset;
	if (first > sb)
		first = sb;
	if (first > len)
		first = len;
	ndata = 1 + (len - first + sb - 1) / sb;
	nzero = ti->zero_slots ? ndata : 0;
	nslots = ndata + nzero + (ti->gso_size ? 1 : 0) + (ti->hash ? 1 : 0);
	if (nslots > NBF_RING)
		return -E2BIG;
	nbf_tx_reap(f, qi);
	if (pvio_ring_free_requests(&q->tx) < nslots || free_ids(q) < ndata + nzero)
		return -EAGAIN;
	for (unsigned d = 0; d < ndata; d++) {
		unsigned n = d == 0 ? first : (len - off < sb ? len - off : sb);
		unsigned po = d == 0 ? ti->first_offset : 0;
		int id = nbf_tx_id(f, qi);
		struct pvio_netif_tx_request *r = pvio_netif_tx_req_slot(&q->tx, s++);
		bool last_data = d + 1 == ndata;

		memcpy(q->txbuf + (size_t)id * PVIO_PAGE_SIZE + po, src + off, n);
		memset(r, 0, sizeof(*r));
		r->gref = q->txbuf_ref[id];
		r->offset = (uint16_t)po;
		r->id = (uint16_t)id;
		r->size = (uint16_t)(d == 0 ? len : n);
		r->flags = (uint16_t)((d == 0 ? ti->flags : 0) |
				      (!last_data || nzero ? PVIO_NETTXF_more_data : 0));
		if (d == 0 && ti->gso_size) {
			struct pvio_netif_extra_info x;
			void *slot = pvio_netif_tx_req_slot(&q->tx, s++);

			r->flags |= PVIO_NETTXF_extra_info;
			memset(&x, 0, sizeof(x));
			x.type = PVIO_XEN_NETIF_EXTRA_TYPE_GSO;
			x.flags = ti->hash ? PVIO_XEN_NETIF_EXTRA_FLAG_MORE : 0;
			x.u.gso.size = ti->gso_size;
			x.u.gso.type = ti->gso_type;
			memset(slot, 0, sizeof(union pvio_netif_tx_slot));
			memcpy(slot, &x, sizeof(x));
		}
		if (d == 0 && ti->hash) {
			struct pvio_netif_extra_info x;
			void *slot = pvio_netif_tx_req_slot(&q->tx, s++);

			r->flags |= PVIO_NETTXF_extra_info;
			memset(&x, 0, sizeof(x));
			x.type = PVIO_XEN_NETIF_EXTRA_TYPE_HASH;
			x.u.hash.type = ti->hash_type;
			x.u.hash.algorithm = PVIO_XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ;
			for (unsigned b = 0; b < 4; b++)
				x.u.hash.value[b] = (uint8_t)(ti->hash_value >> (8 * b));
			memset(slot, 0, sizeof(union pvio_netif_tx_slot));
			memcpy(slot, &x, sizeof(x));
		}
		off += n;
		if (nzero) {
			/* A zero-length slot after this one (XSA-448). */
			int zid = nbf_tx_id(f, qi);
			struct pvio_netif_tx_request *z = pvio_netif_tx_req_slot(&q->tx, s++);

			memset(z, 0, sizeof(*z));
			z->gref = q->txbuf_ref[zid];
			z->id = (uint16_t)zid;
			z->size = 0;
			z->flags = last_data ? 0 : PVIO_NETTXF_more_data;
		}
	}
	pvio_ring_produce_requests(&q->tx, s);
	push_tx(f, q, !ti->no_notify);
	return (int)s;
}

int nbf_send_raw(struct nbf *f, unsigned qi, const struct pvio_netif_tx_request *reqs,
		 unsigned n, bool notify)
{
	struct nbf_q *q = &f->q[qi];

	nbf_tx_reap(f, qi);
	if (pvio_ring_free_requests(&q->tx) < n)
		return -EAGAIN;
	for (unsigned i = 0; i < n; i++) {
		memcpy(pvio_netif_tx_req_slot(&q->tx, i), &reqs[i], sizeof(reqs[i]));
		if (reqs[i].id < NBF_RING)
			q->tx_busy[reqs[i].id] = true;
	}
	pvio_ring_produce_requests(&q->tx, n);
	push_tx(f, q, notify);
	return (int)n;
}

/* ------------------------------------------------------------ rx */

unsigned nbf_rx_outstanding(struct nbf *f, unsigned qi)
{
	unsigned n = 0;

	for (unsigned k = 0; k < NBF_RING; k++)
		n += f->q[qi].rx_posted[k];
	return n;
}

int nbf_post_rx(struct nbf *f, unsigned qi, unsigned n)
{
	struct nbf_q *q = &f->q[qi];
	unsigned done = 0, room = pvio_ring_free_requests(&q->rx);

	if (n == 0)
		n = NBF_RING;
	for (unsigned id = 0; id < NBF_RING && done < n && done < room; id++) {
		struct pvio_netif_rx_request *r;

		if (q->rx_posted[id])
			continue;
		r = pvio_netif_rx_req_slot(&q->rx, done);
		r->id = (uint16_t)id;
		r->pad = 0;
		r->gref = q->rxbuf_ref[id];
		q->rx_slot_id[(q->rx.req_prod_pvt + done) % NBF_RING] = (uint16_t)id;
		q->rx_posted[id] = true;
		done++;
	}
	if (done) {
		pvio_ring_produce_requests(&q->rx, done);
		if (pvio_ring_push_requests(&q->rx) && !f->o.no_rx_notify)
			pvio_hv_evtchn_notify(f->hv, q->port_rx);
	}
	return (int)done;
}

static void rsp_at(struct nbf_q *q, uint32_t idx, union pvio_netif_rx_slot *out)
{
	const union pvio_netif_rx_slot *ring = (const void *)q->rx.sring->ring;

	memcpy(out, &ring[idx & (q->rx.nr_ents - 1)], sizeof(*out));
}

/* Slots of the frame at rsp_cons if all are there (avail responses), else 0. */
static unsigned frame_slots(struct nbf_q *q, unsigned avail)
{
	union pvio_netif_rx_slot s;
	unsigned i = 1;
	uint16_t flags;

	rsp_at(q, q->rx.rsp_cons, &s);
	flags = s.rsp.flags;
	if (flags & PVIO_NETRXF_extra_info) {
		struct pvio_netif_extra_info x;

		do {
			if (i >= avail)
				return 0;
			rsp_at(q, q->rx.rsp_cons + i++, &s);
			memcpy(&x, &s, sizeof(x));
		} while (x.flags & PVIO_XEN_NETIF_EXTRA_FLAG_MORE && i < NBF_RING);
	}
	while (flags & PVIO_NETRXF_more_data) {
		if (i >= avail)
			return 0;
		rsp_at(q, q->rx.rsp_cons + i++, &s);
		flags = s.rsp.flags;
		if (i >= NBF_RING)
			break;
	}
	return i;
}

int nbf_recv(struct nbf *f, unsigned qi, uint8_t *buf, unsigned size, struct nbf_rxinfo *ri,
	     int timeout_ms)
{
	struct nbf_q *q = &f->q[qi];
	int64_t end = now_ms() + timeout_ms;
	struct nbf_rxinfo dummy;

	if (!ri)
		ri = &dummy;
	for (;;) {
		int n = pvio_ring_front_pending(&q->rx);
		unsigned slots, len = 0, i = 0;
		union pvio_netif_rx_slot s;
		bool extras, err = false, proto = false;

		if (n < 0)
			return n;
		if (n == 0 || (slots = frame_slots(q, (unsigned)n)) == 0) {
			if (n == 0 && pvio_ring_front_final_check(&q->rx) > 0)
				continue;
			if (now_ms() >= end)
				return 0;
			nbf_wait(f, qi, 5);
			continue;
		}
		memset(ri, 0, sizeof(*ri));
		ri->slots = slots;
		rsp_at(q, q->rx.rsp_cons, &s);
		ri->flags = s.rsp.flags;
		extras = s.rsp.flags & PVIO_NETRXF_extra_info;
		for (i = 0; i < slots; i++) {
			uint32_t idx = q->rx.rsp_cons + i;
			uint16_t id = q->rx_slot_id[idx % NBF_RING];

			rsp_at(q, idx, &s);
			q->rx_posted[id] = false;
			if (extras && i >= 1) {
				struct pvio_netif_extra_info x;

				memcpy(&x, &s, sizeof(x));
				if (x.type == PVIO_XEN_NETIF_EXTRA_TYPE_GSO) {
					ri->gso = true;
					ri->gso_size = x.u.gso.size;
					ri->gso_type = x.u.gso.type;
				} else if (x.type == PVIO_XEN_NETIF_EXTRA_TYPE_HASH) {
					ri->hash = true;
					ri->hash_type = x.u.hash.type;
					ri->hash_alg = x.u.hash.algorithm;
					ri->hash_value = (uint32_t)x.u.hash.value[0] |
							 (uint32_t)x.u.hash.value[1] << 8 |
							 (uint32_t)x.u.hash.value[2] << 16 |
							 (uint32_t)x.u.hash.value[3] << 24;
				} else if (x.type == PVIO_XEN_NETIF_EXTRA_TYPE_XDP &&
					   f->o.xdp_headroom_ok) {
					ri->xdp = true;
					ri->xdp_headroom = x.u.pad[0];
				} else {
					proto = true;
				}
				if (!(x.flags & PVIO_XEN_NETIF_EXTRA_FLAG_MORE))
					extras = false;
				continue;
			}
			/* A data response: in its request's slot, echoing its id. */
			if (s.rsp.id != id)
				proto = true;
			if (s.rsp.status < 0) {
				err = true;
				continue;
			}
			if ((uint32_t)s.rsp.offset + (uint32_t)s.rsp.status > PVIO_PAGE_SIZE) {
				proto = true;
				continue;
			}
			if (i == 0)
				ri->offset = s.rsp.offset;
			else if (s.rsp.offset > ri->later_offset)
				ri->later_offset = s.rsp.offset;
			if (len + (unsigned)s.rsp.status <= size)
				memcpy(buf + len, q->rxbuf + (size_t)id * PVIO_PAGE_SIZE + s.rsp.offset,
				       (size_t)s.rsp.status);
			len += (unsigned)s.rsp.status;
		}
		pvio_ring_consume_responses(&q->rx, slots);
		if (!f->o.manual_rx)
			nbf_post_rx(f, qi, 0);
		if (proto) {
			q->rx_protocol_errors++;
			return -EPROTO;
		}
		if (err) {
			ri->error = true;
			q->rx_err_pkts++;
			return -EIO;
		}
		q->rx_pkts++;
		return (int)len;
	}
}

/* ------------------------------------------------------------ ctrl */

int nbf_ctrl(struct nbf *f, uint16_t type, uint32_t d0, uint32_t d1, uint32_t d2,
	     uint32_t *data, int timeout_ms)
{
	static uint16_t next_id = 100;
	struct pvio_xen_netif_ctrl_request *r;
	int64_t end = now_ms() + timeout_ms;
	uint16_t id = next_id++;

	if (!f->port_ctrl)
		return -ENODEV;
	if (pvio_ring_free_requests(&f->ctrl) == 0)
		return -EAGAIN;
	r = pvio_xen_netif_ctrl_req_slot(&f->ctrl, 0);
	r->id = id;
	r->type = type;
	r->data[0] = d0;
	r->data[1] = d1;
	r->data[2] = d2;
	pvio_ring_produce_requests(&f->ctrl, 1);
	if (pvio_ring_push_requests(&f->ctrl))
		pvio_hv_evtchn_notify(f->hv, f->port_ctrl);
	for (;;) {
		int n = pvio_ring_front_pending(&f->ctrl);

		if (n < 0)
			return n;
		if (n > 0) {
			struct pvio_xen_netif_ctrl_response rsp;

			pvio_xen_netif_ctrl_copy_response(&f->ctrl, &rsp);
			if (rsp.id != id || rsp.type != type)
				return -EPROTO;
			if (data)
				*data = rsp.data;
			return (int)rsp.status;
		}
		if (pvio_ring_front_final_check(&f->ctrl) > 0)
			continue;
		if (now_ms() >= end)
			return -ETIMEDOUT;
		nbf_wait(f, 0, 5);
	}
}
