/* SPDX-License-Identifier: MIT */
/*
 * A raw netif frontend for netback's tests, written against hv/, the store
 * client and ring/netif.h directly (no frontend library): it walks the
 * handshake with whatever features a test asks for, posts rx buffers,
 * sends frames with any slot layout and offload flags, sends arbitrary
 * (hostile) tx requests, reassembles received frames and checks every
 * response it gets, and drives the control ring.
 *
 * Memory: per queue, 256 tx pages (one per tx id, granted read-only) and
 * 256 rx pages (one per rx id, granted writable), the rings, and one page
 * for control-ring data.
 *
 * Not thread-safe; one struct nbf per vif.
 */
#ifndef PVIO_TESTS_NBFRONT_H
#define PVIO_TESTS_NBFRONT_H

#include <stdbool.h>
#include <stdint.h>

#include "hv/hv.h"
#include "ring/netif.h"
#include "ring/ring.h"
#include "xenstore/xs.h"

#define NBF_MAX_QUEUES 4
#define NBF_RING 256

struct nbf_opts {
	unsigned nq;            /* queues (default 1) */
	bool     split;         /* split event channels */
	bool     sg, gso4, gso6, no_csum, csum6, mcast, ctrl;
	bool     no_rx_notify;  /* do not write feature-rx-notify */
	bool     no_rx_copy;    /* do not write request-rx-copy (refused) */
	bool     initialised;   /* Initialised before Connected (blkfront style) */
	unsigned rx_post;       /* rx buffers to post at connect (default 256) */
	bool     rx_none;       /* post none at connect */
	bool     manual_rx;     /* nbf_recv does not repost buffers */
	bool     nq_key;        /* multi-queue-num-queues even for 1 queue (xenvif) */
	unsigned xdp_headroom;  /* xdp-headroom written at connect (0: none) */
	bool     xdp_headroom_ok; /* takes XDP extras (Linux's extension; others are
				   * protocol errors); implied by xdp_headroom */
	bool     persistent;    /* feature-persistent=1: the backend may keep our
				 * tx and rx pages mapped (pvio's extension) */
};

struct nbf_q {
	struct nbf *f;
	unsigned idx;
	struct pvio_ring_front tx, rx;
	uint64_t tx_gfn, rx_gfn;
	uint32_t tx_ref, rx_ref;
	pvio_evtchn_port_t port_tx, port_rx;
	/* tx: one page per id */
	uint64_t txbuf_gfn;
	uint8_t *txbuf;
	uint32_t txbuf_ref[NBF_RING];
	bool     tx_busy[NBF_RING];
	uint16_t tx_next;                 /* id search start */
	/* rx: one page per id; which id sits in which ring slot */
	uint64_t rxbuf_gfn;
	uint8_t *rxbuf;
	uint32_t rxbuf_ref[NBF_RING];
	bool     rx_posted[NBF_RING];
	uint16_t rx_slot_id[NBF_RING];
	/* counters */
	uint64_t tx_ok, tx_err, tx_null, tx_dropped, tx_bad_id;
	uint64_t rx_pkts, rx_err_pkts, rx_protocol_errors;
};

struct nbf {
	struct pvio_hv *hv;
	struct pvio_xs *xs;
	uint16_t domid, be_domid;
	uint32_t devid;
	char     fe[128], be[160];
	struct nbf_opts o;
	unsigned nq;
	struct nbf_q q[NBF_MAX_QUEUES];
	/* the backend's offer */
	bool     be_split, be_ctrl, be_sg, be_gso4, be_gso6, be_mcast;
	unsigned be_max_queues;
	/* ctrl */
	struct pvio_ring_front ctrl;
	uint64_t ctrl_gfn, ctrl_page_gfn;
	uint32_t ctrl_ref, ctrl_page_ref;
	uint8_t *ctrl_page;
	pvio_evtchn_port_t port_ctrl;
	bool     connected;
	unsigned revoke_busy;   /* grants still mapped by the backend when we
				 * let go of them (nbf_close/abandon), ever */
};

/*
 * Connect device vif/<devid> of hv's domain (its toolstack nodes must
 * exist). Waits up to timeout_ms for the backend's InitWait and Connected.
 * 0, -ETIMEDOUT, -errno.
 */
int  nbf_connect(struct nbf *f, struct pvio_hv *hv, uint32_t devid, const struct nbf_opts *o,
		 int timeout_ms);
/*
 * For frontends that walk the handshake and write their keys themselves
 * (tests/netback/test_netback_personalities.c): the rings, buffers, grants
 * and ports of one connection, f->nq queues (split ports if f->o.split, a
 * control ring if f->o.ctrl), granted to f->be_domid from f->hv's memory.
 * f->hv, f->be_domid, f->nq and f->o must be set; the previous
 * connection's queue state is cleared (release it first). 0 or -errno.
 */
int  nbf_setup_rings(struct nbf *f);
/* Close (Closing, Closed, waiting up to timeout_ms for the backend) and
 * release everything. Works on a half-connected or broken device. */
void nbf_close(struct nbf *f, int timeout_ms);
/* Forget everything without telling anyone (a guest that died). */
void nbf_abandon(struct nbf *f);

struct nbf_txinfo {
	uint16_t flags;          /* NETTXF_csum_blank / data_validated */
	uint16_t gso_size;       /* 0: no GSO extra */
	uint8_t  gso_type;       /* PVIO_XEN_NETIF_GSO_TYPE_* */
	unsigned slot_bytes;     /* data per slot (default 4096) */
	uint16_t first_offset;   /* offset of the data in the first page */
	bool     zero_slots;     /* a zero-length slot after every data slot */
	bool     no_notify;
	bool     hash;           /* a HASH extra (after the GSO one, if any) */
	uint8_t  hash_type;      /* _PVIO_XEN_NETIF_CTRL_HASH_TYPE_* */
	uint32_t hash_value;
};

/* Send one frame. Returns the slots used, -EAGAIN (ring full, no free id),
 * -E2BIG (would need more than 19 data slots or 256 slots). */
int  nbf_send(struct nbf *f, unsigned q, const void *frame, unsigned len,
	      const struct nbf_txinfo *ti);
/* Push raw requests as given (hostile tests); returns n or -EAGAIN. Each
 * request's id, if < 256, marks that tx page busy until answered. */
int  nbf_send_raw(struct nbf *f, unsigned q, const struct pvio_netif_tx_request *reqs,
		  unsigned n, bool notify);
/* The gref of tx page `id` of queue q (for raw requests), and its memory. */
uint32_t nbf_txref(struct nbf *f, unsigned q, unsigned id);
uint8_t *nbf_txpage(struct nbf *f, unsigned q, unsigned id);
/* A free tx id (its page is not in flight), or -EAGAIN. Marks it busy. */
int  nbf_tx_id(struct nbf *f, unsigned q);

/* Consume tx responses. Returns how many, or -EPROTO. */
int  nbf_tx_reap(struct nbf *f, unsigned q);
/* Wait until every tx id is answered (timeout_ms). 0 or -ETIMEDOUT. */
int  nbf_tx_drain(struct nbf *f, unsigned q, int timeout_ms);

struct nbf_rxinfo {
	uint16_t flags;          /* first response's NETRXF_* */
	unsigned slots;          /* ring slots the frame took */
	bool     gso;
	uint16_t gso_size;
	uint8_t  gso_type;
	bool     hash;
	uint8_t  hash_type, hash_alg;
	uint32_t hash_value;
	bool     xdp;            /* an XDP extra (Linux's extension) */
	uint16_t xdp_headroom;
	uint16_t offset;         /* first data response's offset */
	uint16_t later_offset;   /* largest offset of the data responses after it */
	bool     error;          /* a slot had a negative status */
};

/*
 * Receive one frame into buf (up to size bytes) waiting up to timeout_ms.
 * Returns its length, 0 on timeout, -EPROTO if the backend broke the
 * protocol (response not in its request's slot, data past the page, ...),
 * -EIO for a frame with an error status. Reposts the buffers it used
 * unless repost is false.
 */
int  nbf_recv(struct nbf *f, unsigned q, uint8_t *buf, unsigned size, struct nbf_rxinfo *ri,
	      int timeout_ms);
/* Post up to n free rx buffers (0: all free ones). Returns how many. */
int  nbf_post_rx(struct nbf *f, unsigned q, unsigned n);
/* rx requests posted and not answered. */
unsigned nbf_rx_outstanding(struct nbf *f, unsigned q);

/* Control ring: one request, waiting for its response. Returns the status
 * (>= 0) with *data, or -errno. The data page is nbf->ctrl_page
 * (gref nbf->ctrl_page_ref). */
int  nbf_ctrl(struct nbf *f, uint16_t type, uint32_t d0, uint32_t d1, uint32_t d2,
	      uint32_t *data, int timeout_ms);

/* Wait for an event on queue q's channels (or timeout). */
void nbf_wait(struct nbf *f, unsigned q, int timeout_ms);

#endif /* PVIO_TESTS_NBFRONT_H */
