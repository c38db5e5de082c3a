/* SPDX-License-Identifier: MIT */
/*
 * blkfront: the guest side of a Xen PV block device (blkif), as a library.
 *
 * A struct pvio_blkfront is one virtual disk (device/vbd/<vdev> of the
 * calling domain), connected to its backend over xenstore (ring/blkif.h
 * documents the keys, ring/xenbus_abi.h the handshake). I/O is asynchronous
 * in the style of io_uring: the caller owns request structs, submits them
 * on a queue and reaps them back when complete; blocking helpers sit on top.
 *
 * Buffers: the backend reads and writes guest memory directly (zero copy),
 * so async request buffers must lie in this domain's guest memory
 * (pvio_blkfront_buf_alloc(), or any memory of pvio_hv_mem()) and be aligned
 * to the protocol sector unit (512 bytes, or sector-size when large sectors
 * were negotiated; page alignment always works). Disk offsets and lengths
 * must be multiples of info.sector_size. The blocking helpers take any
 * buffer and bounce through guest memory when needed.
 *
 * Threads: each queue has its own lock. submit/reap on one queue may be
 * called from any thread, but the intended use is one thread per queue;
 * two threads reaping one queue steal each other's completions. Different
 * queues never contend. The blocking helpers are serialised among
 * themselves and use queue 0; they never take completions that belong to
 * asynchronous requests (and reap never returns theirs), so they may be
 * mixed with asynchronous use of queue 0.
 *
 * Backend failures: a small control thread per device watches the
 * backend's state. When the backend goes away (state Closing/Closed/gone,
 * its event channel closed, or a new backend announcing InitWait) the rings
 * are torn down and, once a backend is back (InitWait), the handshake is
 * walked again with fresh rings and ports; every request that had not been
 * answered is issued again. The application sees a delay, not an error,
 * unless no backend comes back within opts.timeout_ms: then every pending
 * and future request fails with -ENODEV. A backend that breaks the protocol
 * (unknown or duplicate response ids, wrong operations, ring index
 * overflow) disables the device the same way, at once (XSA-396/403 class:
 * the frontend never crashes and never writes outside its own buffers).
 *
 * Every function returns 0, a count, or -errno.
 */
#ifndef PVIO_BLKFRONT_H
#define PVIO_BLKFRONT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ring/pvio_export.h"

struct pvio_hv;
struct pvio_blkfront;

#define PVIO_BLKFRONT_MAX_QUEUES  16

/* pvio_blkfront_req.op */
#define PVIO_BLKFRONT_READ     0
#define PVIO_BLKFRONT_WRITE    1
#define PVIO_BLKFRONT_FLUSH    2   /* durable when complete (FLUSH_DISKCACHE or BARRIER) */
#define PVIO_BLKFRONT_DISCARD  3

struct pvio_blkfront_opts {
	unsigned max_queues;        /* 0: min(backend max, nproc) */
	unsigned max_ring_order;    /* default 4 (16 pages, 512 requests) */
	bool     no_persistent;     /* don't offer feature-persistent */
	bool     no_indirect;       /* never use BLKIF_OP_INDIRECT */
	unsigned max_indirect_segs; /* default 256, capped by the backend (and 4096) */
	const char *protocol;       /* NULL: "x86_64-abi"; "x86_32-abi" selects the
				     * 32-bit request layout (to test a backend) */
	bool     no_large_sectors;  /* don't write feature-large-sector-size=1 */
	unsigned timeout_ms;        /* handshake (and reconnect) timeout, default 10000 */
	unsigned poll_us;           /* reap spins this long for a response before it
				     * sleeps on the event channel (adaptive polling;
				     * default 50, 0: always sleep). Waits that turn
				     * out longer (up to 500 us) sleep on a timer for
				     * half the usual wait first, then spin (hybrid
				     * polling: evtchn/pollwin.h); 0 turns that off
				     * too */
};

/* Fill *o with the defaults above. */
PVIO_EXPORT void pvio_blkfront_opts_default(struct pvio_blkfront_opts *o);

/*
 * Open and connect the disk vdev (e.g. 51712 = xvda) of the calling domain:
 * finds /local/domain/<self>/device/vbd/<vdev>, reads backend/backend-id and
 * walks the handshake (blkif.h, xenbus_abi.h). opts may be NULL.
 * Returns 0 and *out, or -ENOENT (no such device), -ETIMEDOUT (backend did
 * not answer within opts.timeout_ms), -EPROTO (backend published nonsense),
 * -EOPNOTSUPP (sector size above a page), -ENOMEM, -errno.
 */
PVIO_EXPORT int pvio_blkfront_open(struct pvio_hv *hv, uint32_t vdev,
				   const struct pvio_blkfront_opts *opts,
				   struct pvio_blkfront **out);

/*
 * Disconnect and free everything: Closing, wait for the backend's Closing;
 * Closed, wait for the backend's Closed (it has unmapped the rings and its
 * persistent grants by then; each wait bounded by opts.timeout_ms), then
 * revoke every grant, so a normal close leaves nothing behind and says
 * nothing. Requests still in flight are abandoned. Grants a backend still
 * holds after that are never reused: their refs (and our own pages under
 * them) are leaked rather than handed out again (XSA-396). NULL is fine.
 */
PVIO_EXPORT void pvio_blkfront_close(struct pvio_blkfront *f);

struct pvio_blkfront_info {
	uint64_t sectors;            /* in units of sector_size */
	uint32_t sector_size;
	uint64_t size_bytes;
	bool     readonly, flush, barrier, discard, persistent;
	unsigned nr_queues, ring_order;
	unsigned max_segs;           /* segments per request: 11, or the indirect max */
	uint32_t discard_granularity, discard_alignment;
	char     protocol[16];
};

/* The negotiated parameters of the current connection. */
PVIO_EXPORT int pvio_blkfront_get_info(struct pvio_blkfront *f, struct pvio_blkfront_info *info);

struct pvio_blkfront_stats {
	uint64_t requests;           /* ring requests issued (parts of user requests) */
	uint64_t indirect;           /* of which BLKIF_OP_INDIRECT */
	uint64_t notifies;           /* event channel kicks sent */
	uint64_t errors;             /* responses with a non-OKAY status */
	uint64_t pgrant_hits, pgrant_misses, pgrant_evictions;
	uint64_t pgrant_oneoff;      /* one-off grants used while the persistent cache
				      * had none to give (full of grants in use or
				      * still mapped by the backend) */
	uint64_t grant_waits;        /* issues held back for want of a grant with
				      * nothing in flight (the grant table full) */
	uint64_t leaked_refs;        /* grants whose revoke failed and still fails
				      * (every deferred revoke is retried once when
				      * the stats are read; kept, never reused) */
	uint64_t leaked_pages;       /* own pages kept because a grant on them stayed busy */
	uint64_t deferred_now;       /* revokes still being retried */
	uint64_t reconnects;         /* completed reconnections */
	uint64_t reissued;           /* ring requests issued again after a reconnect */
	uint64_t event_sleeps;       /* reaps that slept on the event channel */
	uint64_t timer_sleeps;       /* reaps that slept on a timer first (hybrid
				      * polling: the backend was not asked to
				      * wake us) */
	uint64_t state_unreadable;   /* the backend's state could not be read (not
				      * a state, a store error) and was ignored,
				      * as Linux's frontends ignore Unknown */
	bool     disabled;           /* the device is dead: everything fails with -ENODEV */
};

/* Counters summed over the queues. */
PVIO_EXPORT int pvio_blkfront_get_stats(struct pvio_blkfront *f, struct pvio_blkfront_stats *s);

/* Page-aligned buffer of at least bytes, from this domain's guest memory;
 * NULL on failure. */
PVIO_EXPORT void *pvio_blkfront_buf_alloc(struct pvio_blkfront *f, size_t bytes);
/* Free a buf_alloc'ed buffer (same bytes). Persistent grants on its pages
 * are revoked first; a page whose grant the backend still holds (its
 * persistent cache keeps grants mapped until it evicts them or the device
 * closes; or a backend kept a one-off grant mapped after answering) waits
 * with that grant and is freed once the revoke succeeds -- at close at the
 * latest. A page still under a request in flight is never reused. */
PVIO_EXPORT void pvio_blkfront_buf_free(struct pvio_blkfront *f, void *buf, size_t bytes);

/*
 * One asynchronous request. The caller fills the public fields and must not
 * touch the struct between submit and the reap that returns it.
 */
struct pvio_blkfront_req {
	uint8_t  op;                 /* PVIO_BLKFRONT_* */
	uint64_t offset;             /* bytes on the disk (READ/WRITE/DISCARD) */
	uint64_t len;                /* bytes (READ/WRITE/DISCARD; 0 for FLUSH) */
	void    *buf;                /* READ/WRITE data, in guest memory */
	void    *user;               /* the caller's, untouched */
	int      result;             /* out: 0 or -errno: -EIO (BLKIF_RSP_ERROR),
				      * -EOPNOTSUPP, -ENODEV (device disabled) */
	/* private bookkeeping, owned by the library while submitted */
	struct pvio_blkfront_req *_next;
	uint64_t _off;               /* next byte to issue */
	uint32_t _parts;             /* ring requests in flight */
	uint32_t _requeued;          /* parts waiting to be issued again */
	uint8_t  _state;
	uint8_t  _sync;
	uint8_t  _issued;            /* every part issued (or abandoned) */
};

/*
 * Queue n requests on queue (0..nr_queues-1). Each is split at the
 * negotiated limits (11 segments, or indirect up to max_segs), its pages
 * granted (read-only for WRITE), and the ring pushed and the backend
 * notified once for the batch. Returns how many were accepted (from the
 * front): fewer than n when the ring is full (reap, then submit the rest);
 * an accepted request always completes through reap. Returns -EINVAL if the
 * first request is malformed (misaligned, outside the disk, buffer not in
 * guest memory, bad op), -EROFS for a write to a read-only disk, -ENODEV
 * once the device is disabled. During a reconnection it accepts nothing
 * (returns 0) until the backend is back.
 */
PVIO_EXPORT int pvio_blkfront_submit(struct pvio_blkfront *f, unsigned queue,
				     struct pvio_blkfront_req **reqs, unsigned n);

/*
 * Collect up to max completed requests of queue into done[]. Waits up to
 * timeout_ms (0: don't wait, -1: forever) for at least one; during a
 * reconnection it keeps waiting (0 on timeout, never an error), and returns 0
 * as soon as the queue is back if a submit was refused meanwhile (submit
 * again). Returns the number collected, or -EINVAL.
 * NAPI-style: while reap keeps finding work the queue's event channel stays
 * masked (the backend's responses cost no notification, the call no system
 * call); it is armed only when reap is about to wait, or returns 0.
 */
PVIO_EXPORT int pvio_blkfront_reap(struct pvio_blkfront *f, unsigned queue,
				   struct pvio_blkfront_req **done, unsigned max,
				   int timeout_ms);

/*
 * An fd that polls readable when queue may have work for reap (a response
 * notification or a connection change). It stays the same across
 * reconnections (an epoll fd over the current event channel), so it can be
 * kept in the caller's epoll set. Call reap(..., 0) when it fires, until
 * it returns 0: only that call arms the fd for the next response.
 */
PVIO_EXPORT int pvio_blkfront_fd(struct pvio_blkfront *f, unsigned queue);

/* Blocking helpers: any buffer; offset/len multiples of the sector size.
 * Return 0 or -errno. */
PVIO_EXPORT int pvio_blkfront_read(struct pvio_blkfront *f, uint64_t offset, void *buf,
				   size_t len);
PVIO_EXPORT int pvio_blkfront_write(struct pvio_blkfront *f, uint64_t offset, const void *buf,
				    size_t len);
PVIO_EXPORT int pvio_blkfront_flush(struct pvio_blkfront *f);
PVIO_EXPORT int pvio_blkfront_discard(struct pvio_blkfront *f, uint64_t offset, uint64_t len);

#endif /* PVIO_BLKFRONT_H */
