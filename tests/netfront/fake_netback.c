/* SPDX-License-Identifier: MIT */
/* In-process netif backend for netfront's tests (see fake_netback.h). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "ring/pvio_atomic.h"
#include "ring/xenbus_abi.h"
#include "tests/netfront/fake_netback.h"
#include "xenstore/xenbus.h"

#define PAGE PVIO_PAGE_SIZE
#define MASK(s) PVIO_XENBUS_MASK(PVIO_XENBUS_STATE_##s)

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void changed(struct fake_nb *b)
{
	pthread_mutex_lock(&b->mu);
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
}

static bool stopping(struct fake_nb *b)
{
	return __atomic_load_n(&b->stop, __ATOMIC_ACQUIRE) != 0;
}

static int mode_of(struct fake_nb *b)
{
	return __atomic_load_n(&b->mode, __ATOMIC_ACQUIRE);
}

static void set_mode(struct fake_nb *b, int m)
{
	__atomic_store_n(&b->mode, m, __ATOMIC_RELEASE);
}

static void hostile_done(struct fake_nb *b)
{
	__atomic_add_fetch(&b->hostile_done, 1, __ATOMIC_RELEASE);
	changed(b);
}

static int put(struct fake_nb *b, const char *key, unsigned long long v)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", b->be_dir, key);
	return pvio_xs_printf(b->xs, PVIO_XS_NO_TX, path, "%llu", v);
}

static unsigned long long fe_uint(struct fake_nb *b, const char *dir, const char *key,
				  unsigned long long def, bool *present)
{
	unsigned long long v;
	int r = pvio_xenbus_read_uint(b->xs, PVIO_XS_NO_TX, dir, key, &v);

	if (present)
		*present = r == 0;
	return r == 0 ? v : def;
}

static int wait_fe(struct fake_nb *b, unsigned mask, enum pvio_xenbus_state *st)
{
	long long deadline = now_ms() + 20000;

	while (!stopping(b)) {
		int r = pvio_xenbus_wait_state(b->xs, b->fe_dir, mask, 50, st);

		if (r != -ETIMEDOUT)
			return r;
		if (now_ms() > deadline)
			return -ETIMEDOUT;
	}
	return -ECANCELED;
}

static void release_held(struct fake_nb *b, struct fn_queue *q)
{
	if (q->nheld)
		pvio_hv_unmap(b->hv, b->fe_domid, q->held, q->nheld);
	q->nheld = 0;
}

static void disconnect(struct fake_nb *b)
{
	for (unsigned i = 0; b->q && i < b->nq; i++) {
		struct fn_queue *q = &b->q[i];

		for (unsigned k = 0; k < q->nports; k++) {
			if (q->port[k])
				pvio_hv_evtchn_close(b->hv, q->port[k]);
			q->port[k] = 0;
			q->ch[k] = NULL;
		}
		q->nports = 0;
		release_held(b, q);
		pvio_hv_unmap_ring(b->hv, &q->txmap);
		pvio_hv_unmap_ring(b->hv, &q->rxmap);
		while (q->bl_n) {
			free(q->bl[q->bl_head].data);
			q->bl_head = (q->bl_head + 1) % FN_BACKLOG;
			q->bl_n--;
		}
	}
}

/* ------------------------------------------------------------ handshake */

static int connect_fe(struct fake_nb *b)
{
	const struct fn_cfg *c = &b->cfg;
	enum pvio_xenbus_state st;
	char dir[200];
	bool present;
	int r;

	put(b, "feature-sg", c->sg);
	put(b, "feature-gso-tcpv4", c->gso4);
	put(b, "feature-gso-tcpv6", c->gso6);
	put(b, "feature-ipv6-csum-offload", c->ipv6_csum);
	put(b, "feature-rx-copy", !c->no_rx_copy);
	put(b, "feature-rx-flip", 0);
	put(b, "feature-multicast-control", 0);
	put(b, "feature-split-event-channels", c->split);
	if (c->max_queues)
		put(b, "multi-queue-max-queues", c->max_queues);
	pvio_xenbus_switch_state(b->xs, PVIO_XS_NO_TX, b->be_dir, PVIO_XENBUS_STATE_INITWAIT);

	/* Linux netback connects on the frontend's Connected. */
	r = wait_fe(b, MASK(CONNECTED) | MASK(INITIALISED), &st);
	if (r < 0)
		return r;
	b->fe_rx_copy = fe_uint(b, b->fe_dir, "request-rx-copy", 0, NULL);
	b->fe_rx_notify = fe_uint(b, b->fe_dir, "feature-rx-notify", 0, NULL);
	b->fe_feat_sg = fe_uint(b, b->fe_dir, "feature-sg", 0, NULL);
	b->fe_gso4 = fe_uint(b, b->fe_dir, "feature-gso-tcpv4", 0, NULL);
	b->fe_gso6 = fe_uint(b, b->fe_dir, "feature-gso-tcpv6", 0, NULL);
	b->fe_no_csum = fe_uint(b, b->fe_dir, "feature-no-csum-offload", 0, NULL);
	b->fe_ipv6_csum = fe_uint(b, b->fe_dir, "feature-ipv6-csum-offload", 0, NULL);
	b->fe_nq = fe_uint(b, b->fe_dir, "multi-queue-num-queues", 1, NULL);
	b->fe_sg = b->fe_feat_sg != 0;
	if (b->fe_rx_copy != 1) {
		fprintf(stderr, "fake netback: the frontend did not write request-rx-copy=1\n");
		return -EPROTO;
	}
	if (b->fe_nq < 1 || b->fe_nq > (c->max_queues ? c->max_queues : 1)) {
		fprintf(stderr, "fake netback: frontend wants %llu queues\n", b->fe_nq);
		return -EPROTO;
	}
	b->nq = (unsigned)b->fe_nq;
	b->q = calloc(b->nq, sizeof(*b->q));
	if (!b->q)
		return -ENOMEM;
	for (unsigned i = 0; i < b->nq; i++) {
		struct fn_queue *q = &b->q[i];
		unsigned long long txref, rxref, p[2];

		if (b->nq > 1)
			snprintf(dir, sizeof(dir), "%s/queue-%u", b->fe_dir, i);
		else
			snprintf(dir, sizeof(dir), "%s", b->fe_dir);
		txref = fe_uint(b, dir, "tx-ring-ref", 0, &present);
		if (!present)
			return -ENOENT;
		rxref = fe_uint(b, dir, "rx-ring-ref", 0, &present);
		if (!present)
			return -ENOENT;
		p[0] = fe_uint(b, dir, "event-channel-tx", 0, &present);
		if (present) {
			b->fe_split = true;
			p[1] = fe_uint(b, dir, "event-channel-rx", 0, &present);
			if (!present)
				return -ENOENT;
			q->nports = 2;
		} else {
			p[0] = fe_uint(b, dir, "event-channel", 0, &present);
			if (!present)
				return -ENOENT;
			q->nports = 1;
		}
		{
			uint32_t ref = (uint32_t)txref;

			r = pvio_hv_map_ring(b->hv, b->fe_domid, &ref, 1, &q->txmap);
			if (r < 0)
				return r;
			ref = (uint32_t)rxref;
			r = pvio_hv_map_ring(b->hv, b->fe_domid, &ref, 1, &q->rxmap);
			if (r < 0)
				return r;
		}
		if ((r = pvio_netif_tx_back_attach(&q->tx, q->txmap.addr, PAGE)) < 0 ||
		    (r = pvio_netif_rx_back_attach(&q->rx, q->rxmap.addr, PAGE)) < 0)
			return r;
		for (unsigned k = 0; k < q->nports; k++) {
			r = pvio_hv_evtchn_bind(b->hv, b->fe_domid, (pvio_evtchn_port_t)p[k],
						&q->port[k]);
			if (r < 0) {
				q->port[k] = 0;
				return r;
			}
			q->ch[k] = pvio_hv_evtchn_handle(b->hv, q->port[k]);
		}
	}
	pvio_xenbus_switch_state(b->xs, PVIO_XS_NO_TX, b->be_dir, PVIO_XENBUS_STATE_CONNECTED);
	__atomic_store_n(&b->connected, 1, __ATOMIC_RELEASE);
	changed(b);
	return 0;
}

/* ------------------------------------------------------------ tx */

static struct pvio_evtchn *tx_ch(struct fn_queue *q)
{
	return q->ch[0];
}

static struct pvio_evtchn *rx_ch(struct fn_queue *q)
{
	return q->ch[q->nports - 1];
}

static void tx_respond(struct fn_queue *q, uint16_t id, int16_t st)
{
	struct pvio_netif_tx_response r;

	memset(&r, 0, sizeof(r));
	r.id = id;
	r.status = st;
	pvio_netif_tx_put_response(&q->tx, &r);
}

static void enqueue(struct fn_queue *q, struct fn_frame *f)
{
	if (q->bl_n == FN_BACKLOG) {
		free(f->data);
		return;
	}
	q->bl[(q->bl_head + q->bl_n) % FN_BACKLOG] = *f;
	q->bl_n++;
}

/* Consume tx frames, answer them, queue them for echo. Returns frames. */
static int serve_tx(struct fake_nb *b, struct fn_queue *q)
{
	static uint16_t dup_id;
	int n = pvio_ring_back_pending(&q->tx), frames = 0;
	int mode = mode_of(b);

	if (n <= 0)
		return 0;
	if (mode == FN_TX_DUP_ID && n < 2)
		return 0;   /* wait for a second frame */
	if (mode == FN_TX_OVERFLOW) {
		pvio_store_release(&q->tx.sring->rsp_prod, q->tx.rsp_prod_pvt + q->tx.nr_ents + 3);
		pvio_evtchn_notify(tx_ch(q));
		__atomic_store_n(&b->mute, 1, __ATOMIC_RELEASE);   /* leave it so */
		set_mode(b, FN_SINK);
		hostile_done(b);
		return 1;
	}
	/* A full backlog stops tx (backpressure, the tests want no loss):
	 * delivering makes room, and the loop comes back here. */
	while (q->bl_n < FN_BACKLOG && pvio_ring_back_pending(&q->tx) > 0) {
		struct pvio_netif_tx_request req[PVIO_XEN_NETIF_NR_SLOTS_MIN + 8];
		struct pvio_gnt_copy_op ops[PVIO_XEN_NETIF_NR_SLOTS_MIN + 8];
		unsigned nreq = 0, nx = 0, nops = 0;
		struct fn_frame f;
		uint32_t rest = 0, pos = 0;
		bool more, extra, bad = false;

		memset(&f, 0, sizeof(f));
		pvio_netif_tx_copy_request(&q->tx, &req[nreq++]);
		extra = req[0].flags & PVIO_NETTXF_extra_info;
		while (extra && pvio_ring_back_pending(&q->tx) > 0 && nx < 4) {
			struct pvio_netif_extra_info x;
			union pvio_netif_tx_slot u;

			pvio_netif_tx_copy_request(&q->tx, &u.req);
			memcpy(&x, &u, sizeof(x));
			nx++;
			if (x.type == PVIO_XEN_NETIF_EXTRA_TYPE_GSO) {
				f.gso_type = x.u.gso.type;
				f.gso_size = x.u.gso.size;
			}
			extra = x.flags & PVIO_XEN_NETIF_EXTRA_FLAG_MORE;
		}
		more = req[0].flags & PVIO_NETTXF_more_data;
		while (more && pvio_ring_back_pending(&q->tx) > 0 &&
		       nreq < PVIO_XEN_NETIF_NR_SLOTS_MIN + 8) {
			pvio_netif_tx_copy_request(&q->tx, &req[nreq]);
			rest += req[nreq].size;
			more = req[nreq].flags & PVIO_NETTXF_more_data;
			nreq++;
		}
		if (more || rest >= req[0].size || req[0].size - rest > PAGE ||
		    nreq > PVIO_XEN_NETIF_NR_SLOTS_MIN) {
			fprintf(stderr, "fake netback: malformed tx frame (size %u, %u slots)\n",
				req[0].size, nreq);
			bad = true;
		}
		f.len = req[0].size;
		f.txflags = req[0].flags;
		f.data = bad ? NULL : malloc(f.len);
		if (!bad && !f.data)
			bad = true;
		memset(ops, 0, sizeof(ops));
		for (unsigned i = 0; !bad && i < nreq; i++) {
			uint16_t len = i == 0 ? (uint16_t)(req[0].size - rest) : req[i].size;

			if (len == 0)
				continue;   /* XSA-448: nothing to copy */
			ops[nops].source.foreign.ref = req[i].gref;
			ops[nops].source.foreign.offset = req[i].offset;
			ops[nops].source.foreign.domid = b->fe_domid;
			ops[nops].dest.virt = f.data + pos;
			ops[nops].len = len;
			ops[nops].flags = PVIO_GNTCOPY_source_gref;
			nops++;
			pos += len;
		}
		if (!bad && pvio_hv_copy(b->hv, ops, nops) != (int)nops)
			bad = true;

		/* Responses: first slot, NULL for the extras, then the frags. */
		if (mode == FN_TX_BAD_ID) {
			tx_respond(q, 0x7fff, PVIO_NETIF_RSP_OKAY);
		} else if (mode == FN_TX_BAD_STATUS) {
			tx_respond(q, req[0].id, 7);
		} else if (mode == FN_TX_NULL_DATA) {
			tx_respond(q, req[0].id, PVIO_NETIF_RSP_NULL);
		} else if (mode == FN_TX_DUP_ID && frames == 1) {
			tx_respond(q, dup_id, PVIO_NETIF_RSP_OKAY);
		} else {
			tx_respond(q, req[0].id, bad ? PVIO_NETIF_RSP_ERROR : PVIO_NETIF_RSP_OKAY);
			dup_id = req[0].id;
		}
		for (unsigned i = 0; i < nx; i++)
			tx_respond(q, 0, PVIO_NETIF_RSP_NULL);
		for (unsigned i = 1; i < nreq; i++)
			tx_respond(q, mode == FN_TX_NULL_DATA ? 0 : req[i].id,
				   mode == FN_TX_NULL_DATA ? PVIO_NETIF_RSP_NULL :
				   bad ? PVIO_NETIF_RSP_ERROR : PVIO_NETIF_RSP_OKAY);
		frames++;
		if (!bad) {
			__atomic_add_fetch(&b->tx_frames, 1, __ATOMIC_RELAXED);
			if (f.gso_size)
				__atomic_add_fetch(&b->tx_gso, 1, __ATOMIC_RELAXED);
			if (f.txflags & PVIO_NETTXF_csum_blank)
				__atomic_add_fetch(&b->tx_csum_blank, 1, __ATOMIC_RELAXED);
			if (nreq > __atomic_load_n(&b->tx_max_slots, __ATOMIC_RELAXED))
				__atomic_store_n(&b->tx_max_slots, nreq, __ATOMIC_RELAXED);
			if (mode == FN_SINK || (mode >= FN_TX_BAD_ID && mode <= FN_TX_OVERFLOW))
				free(f.data);
			else
				enqueue(q, &f);
		} else {
			free(f.data);
		}
		if (mode >= FN_TX_BAD_ID && mode <= FN_TX_NULL_DATA &&
		    (mode != FN_TX_DUP_ID || frames == 2)) {
			set_mode(b, FN_SINK);
			hostile_done(b);
			mode = FN_SINK;
		}
	}
	if (pvio_ring_push_responses(&q->tx))
		pvio_evtchn_notify(tx_ch(q));
	return frames;
}

/* ------------------------------------------------------------ rx */

static void rx_respond(struct fn_queue *q, uint16_t id, uint16_t off, uint16_t flags, int16_t st)
{
	struct pvio_netif_rx_response r;

	memset(&r, 0, sizeof(r));
	r.id = id;
	r.offset = off;
	r.flags = flags;
	r.status = st;
	pvio_netif_rx_put_response(&q->rx, &r);
}

static void rx_extra(struct fn_queue *q, uint8_t type, uint8_t gtype, uint16_t gsize)
{
	struct pvio_netif_extra_info x;
	struct pvio_netif_rx_request req;
	union pvio_netif_rx_slot u;

	pvio_netif_rx_copy_request(&q->rx, &req);
	memset(&u, 0, sizeof(u));
	memset(&x, 0, sizeof(x));
	x.type = type;
	x.u.gso.size = gsize;
	x.u.gso.type = gtype;
	memcpy(&u, &x, sizeof(x));
	pvio_netif_rx_put_response(&q->rx, &u.rsp);
}

/* Hold back the last `hold` responses: publish up to the first ones only,
 * wait (bounded) for the frontend to ask for more, then the rest. */
static void push_split(struct fake_nb *b, struct fn_queue *q, uint32_t hold)
{
	uint32_t full = q->rx.rsp_prod_pvt, part = full - hold;
	long long end = now_ms() + 3000;

	q->rx.rsp_prod_pvt = part;
	if (pvio_ring_push_responses(&q->rx))
		pvio_evtchn_notify(rx_ch(q));
	/* The frontend saw half a frame when it asks to be told beyond it. */
	while (now_ms() < end && !stopping(b) &&
	       (int32_t)(pvio_load_acquire(&q->rx.sring->rsp_event) - part) <= 0)
		poll(NULL, 0, 1);
	q->rx.rsp_prod_pvt = full;
}

/* Deliver queued frames into posted rx buffers. Returns frames delivered. */
static int deliver(struct fake_nb *b, struct fn_queue *q)
{
	unsigned off = b->cfg.rx_offset < PAGE ? b->cfg.rx_offset : 0;
	unsigned chunk = b->cfg.rx_chunk ? b->cfg.rx_chunk : PAGE - off;
	int done = 0;

	if (chunk > PAGE - off)
		chunk = PAGE - off;
	while (q->bl_n) {
		struct fn_frame *f = &q->bl[q->bl_head];
		int mode = mode_of(b);
		unsigned ndata = (f->len + chunk - 1) / chunk;
		bool gso = f->gso_size && ((f->gso_type == PVIO_XEN_NETIF_GSO_TYPE_TCPV4 && b->fe_gso4) ||
					   (f->gso_type == PVIO_XEN_NETIF_GSO_TYPE_TCPV6 && b->fe_gso6));
		bool bad_extra = mode == FN_RX_BAD_EXTRA;
		unsigned need = ndata + (gso ? 1 : 0) + (bad_extra ? 1 : 0);
		uint32_t pos = 0, start;
		int avail;

		if (mode == FN_RX_TOO_MANY_SLOTS || mode == FN_GARBAGE)
			need = 20;
		if ((ndata > 1 && !b->fe_sg) || (f->gso_size && !gso) || f->len == 0 ||
		    ndata > PVIO_XEN_NETIF_NR_SLOTS_MIN) {
			free(f->data);   /* the frontend cannot take it: dropped */
			q->bl_head = (q->bl_head + 1) % FN_BACKLOG;
			q->bl_n--;
			continue;
		}
		avail = pvio_ring_back_pending(&q->rx);
		if (avail < 0 || (unsigned)avail < need)
			break;   /* wait for buffers */
		start = q->rx.rsp_prod_pvt;

		if (mode == FN_RX_OVERFLOW) {
			pvio_store_release(&q->rx.sring->rsp_prod,
					   q->rx.rsp_prod_pvt + q->rx.nr_ents + 5);
			pvio_evtchn_notify(rx_ch(q));
			__atomic_store_n(&b->mute, 1, __ATOMIC_RELEASE);
			set_mode(b, FN_SINK);
			hostile_done(b);
			/* rsp_prod is garbage now: publish nothing more */
			free(f->data);
			q->bl_head = (q->bl_head + 1) % FN_BACKLOG;
			q->bl_n--;
			return done + 1;
		} else if (mode == FN_RX_TOO_MANY_SLOTS) {
			for (unsigned i = 0; i < 20; i++) {
				struct pvio_netif_rx_request req;

				pvio_netif_rx_copy_request(&q->rx, &req);
				rx_respond(q, req.id, 0, PVIO_NETRXF_more_data, 10);
			}
			set_mode(b, FN_SINK);
			hostile_done(b);
		} else if (mode == FN_GARBAGE) {
			for (unsigned i = 0; i < 20; i++) {
				struct pvio_netif_rx_request req;
				unsigned r = (unsigned)rand_r(&b->seed);

				pvio_netif_rx_copy_request(&q->rx, &req);
				/* mostly plausible, sometimes not */
				rx_respond(q, r & 3 ? req.id : (uint16_t)rand_r(&b->seed),
					   (uint16_t)(r & 4 ? rand_r(&b->seed) & 0x1fff
							    : rand_r(&b->seed) & 0x3ff),
					   (uint16_t)(rand_r(&b->seed) & 0x1f),
					   (int16_t)(r & 8 ? rand_r(&b->seed) % 9000 - 100
							   : rand_r(&b->seed) % 3000 - 3));
			}
			hostile_done(b);
		} else {
			for (unsigned j = 0; j < ndata; j++) {
				struct pvio_netif_rx_request req;
				struct pvio_gnt_copy_op op;
				uint32_t c = f->len - pos < chunk ? f->len - pos : chunk;
				uint16_t flags = 0, roff = (uint16_t)off;
				int16_t st = (int16_t)c;
				uint16_t id;

				pvio_netif_rx_copy_request(&q->rx, &req);
				id = req.id;
				memset(&op, 0, sizeof(op));
				op.source.virt = f->data + pos;
				op.dest.foreign.ref = req.gref;
				op.dest.foreign.offset = (uint16_t)off;
				op.dest.foreign.domid = b->fe_domid;
				op.len = (uint16_t)c;
				op.flags = PVIO_GNTCOPY_dest_gref;
				if (pvio_hv_copy(b->hv, &op, 1) != 1)
					st = PVIO_NETIF_RSP_ERROR;
				if (j == 0) {
					if (f->txflags & PVIO_NETTXF_csum_blank)
						flags |= PVIO_NETRXF_csum_blank |
							 PVIO_NETRXF_data_validated;
					else if (f->txflags & PVIO_NETTXF_data_validated)
						flags |= PVIO_NETRXF_data_validated;
					if (gso || bad_extra)
						flags |= PVIO_NETRXF_extra_info;
					if (mode == FN_RX_HOLD_GRANT && q->nheld < 4) {
						struct pvio_gnt_map_op *m = &q->held[q->nheld];

						memset(m, 0, sizeof(*m));
						m->ref = req.gref;
						if (pvio_hv_map(b->hv, b->fe_domid, m, 1) == 1)
							q->nheld++;
					}
					if (mode == FN_RX_BAD_ID)
						id = (uint16_t)(req.id + 1);
					else if (mode == FN_RX_OVERSIZE)
						st = 5000;
					else if (mode == FN_RX_BAD_OFFSET)
						roff = 4000, st = 200;
					else if (mode == FN_RX_BAD_STATUS)
						st = -7;
					else if (mode == FN_RX_ERR_STATUS)
						st = PVIO_NETIF_RSP_ERROR;
				}
				if (j + 1 < ndata)
					flags |= PVIO_NETRXF_more_data;
				rx_respond(q, id, roff, flags, st);
				if (j == 0 && gso)
					rx_extra(q, PVIO_XEN_NETIF_EXTRA_TYPE_GSO, f->gso_type,
						 f->gso_size);
				if (j == 0 && bad_extra)
					rx_extra(q, 9, 0, 0);
				pos += c;
			}
			if (mode == FN_RX_HALF_FRAME) {
				/* a multi-slot frame: its first slot alone first */
				if (q->rx.rsp_prod_pvt - start > 1) {
					push_split(b, q, q->rx.rsp_prod_pvt - start - 1);
					set_mode(b, FN_ECHO);
					hostile_done(b);
				}
			} else if (mode != FN_ECHO && mode != FN_SINK) {
				/* one-shot modes behave afterwards; the others
				 * have broken the device: stop talking */
				bool once = mode == FN_RX_ERR_STATUS || mode == FN_RX_BAD_EXTRA ||
					    mode == FN_RX_HOLD_GRANT;

				set_mode(b, once ? FN_ECHO : FN_SINK);
				hostile_done(b);
			}
			__atomic_add_fetch(&b->rx_frames, 1, __ATOMIC_RELAXED);
		}
		free(f->data);
		q->bl_head = (q->bl_head + 1) % FN_BACKLOG;
		q->bl_n--;
		done++;
		if (pvio_ring_push_responses(&q->rx))
			pvio_evtchn_notify(rx_ch(q));
	}
	return done;
}

/* ------------------------------------------------------------ thread */

static void *fn_main(void *arg)
{
	struct fake_nb *b = arg;
	char token[64], path[256];
	bool up = true;
	int r, wfd;

	r = connect_fe(b);
	if (r < 0) {
		if (r != -ECANCELED)
			fprintf(stderr, "fake netback: handshake: %s\n", strerror(-r));
		b->err = r;
		changed(b);
		return NULL;
	}
	snprintf(token, sizeof(token), "fake-nb/%p", (void *)b);
	snprintf(path, sizeof(path), "%s/state", b->fe_dir);
	pvio_xs_watch(b->xs, path, token);
	wfd = pvio_xs_watch_fd(b->xs);
	while (!stopping(b)) {
		struct pollfd pf[2 * 16 + 2];
		unsigned np = 0;
		int work = 0;

		for (unsigned i = 0; up && i < b->nq; i++) {
			struct fn_queue *q = &b->q[i];

			for (unsigned k = 0; k < q->nports; k++)
				pvio_evtchn_consume(q->ch[k]);
			if (!__atomic_load_n(&b->mute, __ATOMIC_ACQUIRE)) {
				work += serve_tx(b, q);
				work += deliver(b, q);
			}
			if (mode_of(b) != FN_SINK && !__atomic_load_n(&b->mute, __ATOMIC_ACQUIRE) &&
			    q->bl_n < FN_BACKLOG && pvio_ring_back_final_check(&q->tx) > 0)
				work++;
			if (q->bl_n)
				pvio_ring_back_final_check(&q->rx);   /* tell us about buffers */
			for (unsigned k = 0; k < q->nports; k++) {
				pvio_evtchn_unmask(q->ch[k]);
				if (np < 32) {
					pf[np].fd = q->ch[k]->self_fd;
					pf[np++].events = POLLIN;
				}
			}
		}
		if (work)
			continue;
		pf[np].fd = b->stop_fd;
		pf[np++].events = POLLIN;
		pf[np].fd = wfd;
		pf[np++].events = POLLIN;
		if (poll(pf, np, 1000) < 0 && errno != EINTR)
			break;
		if (pf[np - 1].revents) {
			struct pvio_xs_event ev;
			enum pvio_xenbus_state st;

			while (pvio_xs_read_watch(b->xs, NULL, &ev, 0) == 0)
				;
			if (pvio_xenbus_read_state(b->xs, PVIO_XS_NO_TX, b->fe_dir, &st) < 0)
				st = PVIO_XENBUS_STATE_UNKNOWN;
			if (up && (st == PVIO_XENBUS_STATE_CLOSING || st == PVIO_XENBUS_STATE_CLOSED ||
				   st == PVIO_XENBUS_STATE_UNKNOWN)) {
				/* As Linux netback: unmap, then Closing. */
				disconnect(b);
				up = false;
				pvio_xenbus_switch_state(b->xs, PVIO_XS_NO_TX, b->be_dir,
							 PVIO_XENBUS_STATE_CLOSING);
			}
			if (st == PVIO_XENBUS_STATE_CLOSED || st == PVIO_XENBUS_STATE_UNKNOWN) {
				pvio_xenbus_switch_state(b->xs, PVIO_XS_NO_TX, b->be_dir,
							 PVIO_XENBUS_STATE_CLOSED);
				__atomic_store_n(&b->closed, 1, __ATOMIC_RELEASE);
				changed(b);
				break;
			}
		}
	}
	return NULL;
}

int fn_start(struct fake_nb *b)
{
	int fd, r;

	if (!b->inited) {
		pthread_mutex_init(&b->mu, NULL);
		pthread_cond_init(&b->cv, NULL);
		b->inited = true;
	}
	snprintf(b->fe_dir, sizeof(b->fe_dir), "/local/domain/%u/device/vif/%u", b->fe_domid,
		 b->devid);
	snprintf(b->be_dir, sizeof(b->be_dir), "/local/domain/0/backend/vif/%u/%u", b->fe_domid,
		 b->devid);
	b->stop = 0;
	b->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (b->stop_fd < 0)
		return -errno;
	r = pvio_hv_xs_connect(b->hv, &fd);
	if (r < 0)
		return r;
	r = pvio_xs_open_fd(fd, &b->xs);
	if (r < 0)
		return r;
	r = -pthread_create(&b->thr, NULL, fn_main, b);
	if (r < 0)
		return r;
	b->running = true;
	return 0;
}

static int wait_for(struct fake_nb *b, bool (*cond)(struct fake_nb *), int timeout_ms)
{
	struct timespec ts;
	int r = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&b->mu);
	while (!cond(b) && r == 0)
		r = pthread_cond_timedwait(&b->cv, &b->mu, &ts);
	r = cond(b) ? 0 : -ETIMEDOUT;
	pthread_mutex_unlock(&b->mu);
	return r;
}

static bool is_connected(struct fake_nb *b)
{
	return __atomic_load_n(&b->connected, __ATOMIC_ACQUIRE) || b->err;
}

static bool did_hostile(struct fake_nb *b)
{
	return __atomic_load_n(&b->hostile_done, __ATOMIC_ACQUIRE) > 0;
}

int fn_wait_connected(struct fake_nb *b, int timeout_ms)
{
	int r = wait_for(b, is_connected, timeout_ms);

	return r ? r : b->err;
}

int fn_wait_hostile(struct fake_nb *b, int timeout_ms)
{
	return wait_for(b, did_hostile, timeout_ms);
}

void fn_stop(struct fake_nb *b)
{
	uint64_t one = 1;

	if (b->running) {
		__atomic_store_n(&b->stop, 1, __ATOMIC_RELEASE);
		if (write(b->stop_fd, &one, sizeof(one)) < 0) {
			/* eventfd: cannot fail */
		}
		pthread_join(b->thr, NULL);
		b->running = false;
	}
	disconnect(b);
	free(b->q);
	b->q = NULL;
	if (b->xs) {
		char path[256], token[64];

		snprintf(token, sizeof(token), "fake-nb/%p", (void *)b);
		snprintf(path, sizeof(path), "%s/state", b->fe_dir);
		pvio_xs_unwatch(b->xs, path, token);   /* -ENOENT if never watched */
		pvio_xs_close(b->xs);
		b->xs = NULL;
	}
	if (b->stop_fd >= 0) {
		close(b->stop_fd);
		b->stop_fd = -1;
	}
	if (b->inited) {
		pthread_mutex_destroy(&b->mu);
		pthread_cond_destroy(&b->cv);
		b->inited = false;
	}
}
