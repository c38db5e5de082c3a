/* SPDX-License-Identifier: MIT */
/*
 * blkfront private structures, shared by the data path (blkfront.c) and the
 * control plane (blkfront_xenbus.c), as Linux keeps them in xen-blkfront.c.
 *
 * Locking:
 *   q->lock      everything in struct bf_queue; taken by submit/reap (data
 *                path) and by the control thread to tear a queue down or
 *                bring it up. Never held while sleeping on an fd. Several
 *                queue locks are only ever taken one at a time.
 *   f->info_lock f->p (the negotiated parameters) for get_info(); the
 *                control plane changes f->p only while every queue is down,
 *                and the data path reads it only under q->lock of an up
 *                queue (the q->lock hand-over orders the two).
 *   f->def_lock  the deferred-revoke list.
 *   f->sync_lock serialises the blocking helpers.
 *   f->fe        see fe_common.h (its log_lock, its control-plane state).
 * Atomics: f->fe.dead, q->lost, f->fe.stop (flags read without locks).
 */
#ifndef PVIO_BLKFRONT_INTERNAL_H
#define PVIO_BLKFRONT_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "evtchn/evtchn.h"
#include "frontend/blkfront.h"
#include "evtchn/pollwin.h"
#include "frontend/fe_common.h"
#include "hv/hv.h"
#include "ring/blkif.h"
#include "ring/ring.h"
#include "xenstore/xs.h"

#define BF_MAX_QUEUES        PVIO_BLKFRONT_MAX_QUEUES
#define BF_MAX_RING_ORDER    PVIO_RING_MAX_ORDER
#define BF_MAX_RING_PAGES    (1u << BF_MAX_RING_ORDER)
#define BF_MAX_INDIRECT_SEGS (PVIO_BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST * \
			      PVIO_BLKIF_SEGS_PER_INDIRECT_FRAME)
#define BF_DEFAULT_INDIRECT  256u
#define BF_IND_PAGES_BUDGET  512u    /* indirect pages per queue (2 MiB): caps
				      * the segments of big rings */
#define BF_DEFAULT_TIMEOUT   10000u
/* Persistent grants per queue: twice a backend's own cache (1056 per ring,
 * Linux blkback's max_pgrants), so the grants we retire first (least
 * recently used) are ones the backend has already dropped from its cache,
 * and their revocation succeeds. */
#define BF_PGRANT_MAX        2112u
/* How long an idle queue waits for a persistent grant to free up. */
#define BF_NOGRANT_WAIT_MS   3000
#define BF_DEFER_MAX         16384u  /* refs whose revoke is retried later */
#define BF_NONE              UINT32_MAX

/* q->state */
enum { BFQ_DOWN = 0, BFQ_UP = 1, BFQ_DEAD = 2 };
/* pvio_blkfront_req._state */
enum { BFR_IDLE = 0, BFR_ACTIVE = 1, BFR_DONE = 2 };

/* Parameters of one connection (negotiated by the control plane). */
struct bf_params {
	unsigned nr_queues;
	unsigned ring_order;
	uint32_t nr_ents;            /* ring entries = shadows per queue */
	bool     persistent;
	unsigned seg_limit;          /* segments per ring request */
	unsigned ind_pages;          /* indirect pages per shadow (0: no indirect) */
	int      abi;                /* enum pvio_blkif_abi */
	bool     large;              /* feature-large-sector-size written */
	uint32_t unit;               /* bytes per protocol sector: 512 or sector_size */
	uint32_t sector_size;
	uint64_t sectors;
	uint64_t size_bytes;
	bool     readonly, flush, barrier, discard;
	uint32_t discard_gran, discard_align;
};

/* One segment of a ring request. */
struct bf_seg {
	uint64_t gfn;
	uint32_t gref;
	uint32_t pg;                 /* persistent-cache entry, or BF_NONE (own grant) */
	uint8_t  first, last;        /* in protocol sectors */
};

/* One ring request in flight (its slot index is the low half of the id). */
struct bf_shadow {
	struct pvio_blkfront_req *ureq;
	uint64_t part_off, part_len; /* byte range of ureq this request carries */
	uint64_t sector, nr_sectors; /* nr_sectors: DISCARD */
	uint32_t gen;                /* high half of the id */
	uint32_t seq;                /* issue order, for re-issue */
	uint32_t next_free;
	uint16_t nr_segs;
	uint8_t  busy;
	uint8_t  op;                 /* wire operation sent */
	uint8_t  data_op;            /* READ/WRITE (the indirect_op of INDIRECT) */
	struct bf_seg *segs;         /* seg_limit entries */
};

/* A part to issue again after a reconnection. */
struct bf_requeue {
	struct pvio_blkfront_req *ureq;
	uint64_t off, len;
	uint32_t seq;
};

/* Persistent grants of one queue, keyed by gfn. */
struct bf_pgnt {
	uint64_t gfn;
	uint32_t gref;
	uint32_t users;              /* segments in flight using it */
	uint32_t hnext;              /* hash chain, or free list */
	uint32_t prev, next;         /* LRU of idle entries */
};

struct bf_pcache {
	struct bf_pgnt *e;
	uint32_t cap, nr;
	uint32_t *bucket;
	uint32_t nbuckets;           /* power of two */
	uint32_t free_head;
	uint32_t lru_head, lru_tail;
};

struct bf_queue {
	struct pvio_pollwin pollwin;   /* reap's spin (owner: the reaping thread) */
	struct pvio_hybrid hybrid;     /* reap's timed sleep before a long wait (same) */
	pthread_mutex_t lock;
	struct pvio_blkfront *f;
	unsigned idx;
	int      state;              /* BFQ_*; written under lock */
	int      lost;               /* atomic: the backend's end of our port closed */
	int      ctl_pending;        /* atomic: ctl_fd was written since the last drain */

	/* stable across connections */
	int      epfd;               /* epoll: event channel fd + ctl_fd */
	int      ctl_fd;             /* eventfd: connection state changed */

	/* ring of the current connection */
	uint64_t ring_gfn;
	unsigned ring_pages;
	bool     ring_alloc;
	uint32_t ring_ref[BF_MAX_RING_PAGES];
	unsigned ring_nref;          /* refs granted */
	struct pvio_ring_front ring;
	pvio_evtchn_port_t port;     /* 0: none */
	struct pvio_evtchn *ch;
	int      ev_fd;

	/* shadows */
	struct bf_shadow *sh;
	uint32_t nr_sh;
	uint32_t free_head;
	uint32_t inflight;
	long long nogrant_since;      /* ms: no persistent grant could be had, idle */
	struct bf_seg *segpool;
	unsigned seg_per_slot;
	uint64_t *ind_gfn;           /* nr_sh * ind_per_slot; granted read-only */
	uint32_t *ind_ref;
	unsigned ind_per_slot;
	unsigned ind_granted;        /* how many of the above hold a grant */
	unsigned to_push;            /* requests produced, not yet pushed */
	bool     refused;            /* a submit was refused while reconnecting */
	uint32_t seq;                /* next issue sequence number */

	/* work lists */
	struct pvio_blkfront_req *bl_head, *bl_tail;      /* unissued remainders */
	struct bf_requeue *rq;
	uint32_t rq_head, rq_n, rq_cap;
	struct pvio_blkfront_req *done_head, *done_tail;

	struct bf_pcache pc;

	/* counters */
	uint64_t st_reqs, st_indirect, st_notifies, st_errors, st_reissued;
	uint64_t st_pg_hits, st_pg_misses, st_pg_evict, st_pg_oneoff, st_grant_waits;
	uint64_t st_event_sleeps, st_timer_sleeps;   /* atomic: reap counts them unlocked */
};

struct bf_deferred {
	uint64_t gfn;
	uint32_t ref;
	bool     own_page;           /* free the page once the revoke succeeds */
};

struct pvio_blkfront {
	struct fe_dev fe;            /* name, store, paths, control thread, logs */
	struct pvio_hv *hv;
	uint16_t domid, be_domid;
	uint32_t vdev;
	struct pvio_blkfront_opts opts;
	char     protocol[16];
	int      abi;
	uint8_t *mem;                /* own guest memory */
	size_t   mem_bytes;

	pthread_mutex_t info_lock;
	struct bf_params p;
	unsigned nr_queues;          /* fixed at the first connection */
	struct bf_queue q[BF_MAX_QUEUES];

	uint64_t st_reconnects;
	bool     connected_once;     /* control plane: later connections are reconnections */

	/* revokes that failed, retried later (XSA-396) */
	pthread_mutex_t def_lock;
	struct bf_deferred *def;
	uint32_t def_n;
	uint32_t def_cursor;         /* where the next budgeted retry starts */
	uint64_t st_leaked_refs, st_leaked_pages;

	/* blocking helpers */
	pthread_mutex_t sync_lock;
	int      sync_fd;            /* eventfd: a helper's request completed */
	void    *bounce;             /* their bounce buffer (sync_lock), freed at close */
	size_t   bounce_len;
};

/* Rate-limited message naming the device; for events a backend can cause. */
#define bf_log_peer(f, ...) fe_log_peer(&(f)->fe, __VA_ARGS__)
#define bf_log(f, ...)      fe_log(&(f)->fe, __VA_ARGS__)

/* Wake the control thread. */
static inline void bf_kick(struct pvio_blkfront *f)
{
	fe_kick(&f->fe);
}

/* ---------------------------------------------------------- blkfront.c */

/* Per-device lifetime of a queue's fds and lock. */
int  bf_queue_init(struct pvio_blkfront *f, unsigned idx);
void bf_queue_fini(struct bf_queue *q);

/*
 * Connection lifetime (control plane; each takes q->lock):
 *   bf_queue_alloc   for a down queue: shadows sized by f->p, ring pages
 *                    granted to the backend, indirect pages, an unbound port
 *   bf_queue_up      attach the ring, issue what waits, mark it up
 *   bf_queue_down    stop: consume the responses already there, then either
 *                    keep every unanswered request for re-issue (fail=false)
 *                    or fail everything with -ENODEV (fail=true, the queue
 *                    stays dead); revoke and free the connection's grants
 *                    (busy ones are deferred, never reused)
 */
int  bf_queue_alloc(struct bf_queue *q);
void bf_queue_up(struct bf_queue *q);
void bf_queue_down(struct bf_queue *q, bool fail);
void bf_queue_down_locked(struct bf_queue *q, bool fail);

/* Mark the device dead (-ENODEV from now on) and wake everyone. */
void bf_disable(struct pvio_blkfront *f, const char *why);
/* Wake a queue's sleepers (its fd polls readable). */
void bf_wake_queue(struct bf_queue *q);

/* Revoke ref; if the backend still holds it, keep it on the deferred list
 * (and the page too if own_page) and retry later. */
void bf_revoke_or_defer(struct pvio_blkfront *f, uint32_t ref, uint64_t gfn, bool own_page);
/* Retry deferred revokes (at most budget; 0: all). Returns how many remain. */
unsigned bf_retry_deferred(struct pvio_blkfront *f, unsigned budget);
/* At close: give up on what is left (counted as leaked). */
void bf_abandon_deferred(struct pvio_blkfront *f);

/* ---------------------------------------------------- blkfront_xenbus.c */

/*
 * The device as open() creates it before it looks at the store: options,
 * protocol, guest memory, fds; no queue, no store, no control thread.
 * open() goes on from there; a harness that plays the backend itself
 * (tests/fuzz/fuzz_frontends.c) sets be_domid and f->p and brings queues
 * up with bf_queue_init/alloc/up instead. 0 and *out, -EINVAL (bad
 * protocol, no guest memory), -ENOMEM, -errno. bf_dev_free undoes it (and
 * bf_queue_init of f->nr_queues queues).
 */
int  bf_dev_new(struct pvio_hv *hv, uint32_t vdev, const struct pvio_blkfront_opts *opts,
		struct pvio_blkfront **out);
void bf_dev_free(struct pvio_blkfront *f);

/* Walk the handshake for a device whose queues are all down. deadline_ms is
 * CLOCK_MONOTONIC milliseconds; cancellable: give up (-ECANCELED) once
 * close() began. 0, -ETIMEDOUT, -ECONNRESET (the backend went away
 * meanwhile: try again), -EPROTO, -errno. */
int bf_connect(struct pvio_blkfront *f, long long deadline_ms, bool cancellable);

#endif /* PVIO_BLKFRONT_INTERNAL_H */
