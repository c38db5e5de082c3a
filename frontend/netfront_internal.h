/* SPDX-License-Identifier: MIT */
/*
 * netfront private structures, shared by the data path (netfront.c) and the
 * control plane (netfront_xenbus.c), as Linux keeps them in xen-netfront.c.
 *
 * Locking:
 *   q->rx_lock   the rx ring, the rx buffers, q->state (with tx_lock)
 *   q->tx_lock   the tx ring, the tx buffers, q->state (with rx_lock)
 *                Lock order: rx_lock, then tx_lock. The control plane takes
 *                both to bring a queue up or down; the data path reads
 *                q->state under either one. Never held while sleeping.
 *   nf->info_lock nf->p (negotiated parameters) for get_info(); the control
 *                plane changes nf->p only while every queue is down.
 *   nf->fe       see fe_common.h (its log_lock, its control-plane state).
 * Atomics: nf->fe.dead, nf->fe.stop, q->lost, q->masked[] (flags read
 * without locks), counters read by get_stats().
 */
#ifndef PVIO_NETFRONT_INTERNAL_H
#define PVIO_NETFRONT_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "evtchn/evtchn.h"
#include "frontend/fe_common.h"
#include "frontend/netfront.h"
#include "hv/hv.h"
#include "ring/netif.h"
#include "ring/ring.h"
#include "xenstore/xs.h"

#define NF_MAX_QUEUES     PVIO_NETFRONT_MAX_QUEUES
#define NF_MAX_SLOTS      PVIO_NETFRONT_MAX_SLOTS
/* Extra-info slots one frame may carry: one of each type 1..MAX-1. */
#define NF_MAX_EXTRAS     (PVIO_XEN_NETIF_EXTRA_TYPE_MAX - 1)
#define NF_DEFAULT_TIMEOUT 10000u
#define NF_NONE           0xFFFFu

/* q->state */
enum { NFQ_DOWN = 0, NFQ_UP = 1, NFQ_DEAD = 2 };

struct nf_deferred {
	uint32_t ref;
	uint64_t gfn;                /* our page under it (UINT64_MAX: none) */
};

/* Parameters of one connection (negotiated by the control plane). */
struct nf_params {
	unsigned nr_queues;
	bool     split;              /* event-channel-tx / -rx */
	bool     sg;                 /* both sides wrote feature-sg=1 */
	bool     gso_tcpv4, gso_tcpv6, ipv6_csum;   /* the backend's */
	bool     rx_gso_tcpv4, rx_gso_tcpv6, rx_csum;   /* ours */
	unsigned max_tx_slots;
};

/* One tx id: a dedicated page, granted read-only to the backend from its
 * first use until the queue goes down (persistent). */
struct nf_txbuf {
	uint64_t gfn;
	uint32_t gref;
	uint16_t next_free;
	uint8_t  busy;               /* its slot is on the ring, unanswered */
	uint8_t  granted;
};

/* One rx buffer (its id on the wire): a dedicated page, granted writable
 * from its first post until the queue goes down (persistent). */
struct nf_rxbuf {
	uint64_t gfn;
	uint32_t gref;
	uint16_t next_free;
	uint8_t  posted;
	uint8_t  granted;
};

/* Port index in q->port[] / q->ch[]: with one channel both are the same. */
enum { NF_TX = 0, NF_RX = 1 };

struct nf_queue {
	struct pvio_netfront *nf;
	unsigned idx;
	int      state;              /* NFQ_*; written under both locks */
	int      lost;               /* atomic: the backend's end of a port closed */

	/* stable across connections */
	int      epfd;               /* epoll: event channel fd(s) + ctl_fd */
	int      ctl_fd;             /* eventfd: work left behind / state changed */

	/* event channels of the current connection (0: none) */
	pvio_evtchn_port_t port[2];
	struct pvio_evtchn *ch[2];
	int      ev_fd[2];
	unsigned nports;             /* 1 (shared) or 2 (split) */
	int      masked[2];          /* atomic: we took the event, unmask after work */
	bool     polling;            /* rx_lock: pvio_netfront_poll() left the ports
				      * masked; arm() or recv_burst() gives them back */
	int      ctl_pending;        /* atomic: ctl_fd was written since the last drain */

	/* tx (tx_lock) */
	pthread_mutex_t tx_lock;
	uint64_t tx_ring_gfn;
	bool     tx_ring_alloc, tx_ring_granted;
	uint32_t tx_ring_ref;
	struct pvio_ring_front tx;
	struct nf_txbuf *txb;
	uint32_t nr_txb;
	uint16_t tx_free;            /* free list of ids */
	uint32_t tx_busy;            /* ids in flight */
	unsigned tx_to_push;
	uint8_t *scratch;            /* a frame's worth, for software checksums */

	/* rx (rx_lock) */
	pthread_mutex_t rx_lock;
	uint64_t rx_ring_gfn;
	bool     rx_ring_alloc, rx_ring_granted;
	uint32_t rx_ring_ref;
	struct pvio_ring_front rx;
	struct nf_rxbuf *rxb;
	uint32_t nr_rxb;
	uint16_t rx_free;
	uint16_t *rx_slot_id;        /* per ring slot: the id posted there */
	/* zero-copy receive: buffers lent to the caller until its next
	 * receive call, and the pieces of the frames in them. The arrays live
	 * as long as the queue (the caller holds pointers into zc_iov; a
	 * teardown -- a disable in the very call that lent them, the control
	 * thread, the tx side -- must not free them under it). */
	uint16_t *zc_ids;
	uint32_t zc_n;
	struct iovec *zc_iov;
	uint32_t zc_iov_n;

	/* counters (single writer: the lock of their side; see STAT_ADD) */
	uint64_t st_tx_packets, st_tx_bytes, st_tx_slots, st_tx_gso, st_tx_errors, st_tx_bad;
	uint64_t st_rx_packets, st_rx_bytes, st_rx_multi, st_rx_gso, st_rx_errors;
	uint64_t st_rx_trunc, st_rx_notifies, st_tx_notifies;
};

struct pvio_netfront {
	struct fe_dev fe;            /* name, store, paths, control thread, logs */
	struct pvio_hv *hv;
	uint16_t domid, be_domid;
	uint32_t devid;
	struct pvio_netfront_opts opts;
	uint8_t  mac[6];
	unsigned mtu;

	pthread_mutex_t info_lock;
	struct nf_params p;
	unsigned nr_queues;          /* fixed at the first connection */
	struct nf_queue q[NF_MAX_QUEUES];

	uint64_t st_reconnects;
	bool     connected_once;         /* ctl thread: the next connect is a reconnection */

	/* grants the backend still held when we revoked them: retried later,
	 * their pages kept out of use until then (XSA-396) */
	pthread_mutex_t def_lock;
	struct nf_deferred *def;
	uint32_t def_n, def_cap;
	uint64_t st_abandoned;       /* pages given up on for good */
};

#define nf_log(nf, ...)      fe_log(&(nf)->fe, __VA_ARGS__)
/* Rate-limited: for events a backend can cause. */
#define nf_log_peer(nf, ...) fe_log_peer(&(nf)->fe, __VA_ARGS__)

/* Wake the control thread. */
static inline void nf_kick(struct pvio_netfront *nf)
{
	fe_kick(&nf->fe);
}

/* ---------------------------------------------------------- netfront.c */

/* Per-device lifetime of a queue's fds and locks. */
int  nf_queue_init(struct pvio_netfront *nf, unsigned idx);
void nf_queue_fini(struct nf_queue *q);

/*
 * Connection lifetime (control plane; each takes both locks):
 *   nf_queue_alloc  for a down queue: rings granted to the backend, tx and
 *                   rx pages, port(s), rx buffers posted
 *   nf_queue_up     mark it up, wake its fd
 *   nf_queue_down   stop, drop what is in flight, revoke every grant (a
 *                   page whose grant the backend still holds is leaked,
 *                   never reused), close the ports; fail=true: dead for good
 */
int  nf_queue_alloc(struct nf_queue *q);
void nf_queue_up(struct nf_queue *q);
void nf_queue_down(struct nf_queue *q, bool fail);

/*
 * End the backend's access to ref (on our page gfn). true: done, the page
 * is ours again. false: the backend still holds it; the ref and the page
 * now belong to the deferred list (the caller forgets both) and are
 * retried later -- never reused before the revoke succeeds.
 */
bool nf_revoke(struct pvio_netfront *nf, uint32_t ref, uint64_t gfn);
/* Retry the deferred revokes; returns how many remain. */
unsigned nf_retry_deferred(struct pvio_netfront *nf);
/* At close: retry once more, give up on the rest (their pages leak). */
void nf_abandon_deferred(struct pvio_netfront *nf);

/* Mark the device dead (-ENODEV from now on) and wake everyone. */
void nf_disable(struct pvio_netfront *nf, const char *why);
void nf_wake_queue(struct nf_queue *q);

/* ---------------------------------------------------- netfront_xenbus.c */

/*
 * The device as open() creates it before it looks at the store: options,
 * fds; no queue, no store, no control thread. open() goes on from there; a
 * harness that plays the backend itself (tests/fuzz/fuzz_frontends.c) sets
 * be_domid and nf->p and brings queues up with nf_queue_init/alloc/up
 * instead. 0 and *out, -EINVAL (no guest memory), -ENOMEM, -errno.
 * nf_dev_free undoes it (and nf_queue_init of nf->nr_queues queues).
 */
int  nf_dev_new(struct pvio_hv *hv, uint32_t devid, const struct pvio_netfront_opts *opts,
		struct pvio_netfront **out);
void nf_dev_free(struct pvio_netfront *nf);

/* Walk the handshake for a device whose queues are all down; deadline is
 * CLOCK_MONOTONIC ms. cancellable: give up (-ECANCELED) once close()
 * began. 0, -ETIMEDOUT, -ECONNRESET (the backend went away meanwhile: try
 * again), -ENODEV (unplugged), -EOPNOTSUPP, -EPROTO, -errno. */
int nf_connect(struct pvio_netfront *nf, long long deadline_ms, bool cancellable);

#endif /* PVIO_NETFRONT_INTERNAL_H */
