/* SPDX-License-Identifier: MIT */
/*
 * pvio-blkback private structures, shared by the data path (blkback.c) and
 * the control plane (xenbus.c), as Linux splits blkback.c / xenbus.c /
 * common.h.
 */
#ifndef PVIO_BLKBACK_COMMON_H
#define PVIO_BLKBACK_COMMON_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "backend/stats.h"
#include "backend/worker.h"
#include "blkback/engine.h"
#include "grant-tables/pgrant.h"
#include "hv/hv.h"
#include "ring/blkif.h"
#include "ring/ratelimit.h"
#include "ring/ring.h"

#define BLKBACK_MAX_RING_ORDER        4
#define BLKBACK_MAX_QUEUES            16
#define BLKBACK_MAX_INDIRECT_SEGS     256
#define BLKBACK_MAX_INDIRECT_PAGES    \
	((BLKBACK_MAX_INDIRECT_SEGS + PVIO_BLKIF_SEGS_PER_INDIRECT_FRAME - 1) / \
	 PVIO_BLKIF_SEGS_PER_INDIRECT_FRAME)
#define BLKBACK_DEFAULT_POLL_US       50
#define BLKBACK_DEFAULT_IO_POLL_US    500
#define BLKBACK_BATCH                 64     /* requests taken per round (O_DIRECT) */
#define BLKBACK_DIRECT_PUSH           4      /* O_DIRECT: responses pushed every N completions */
/* Buffered: requests taken (and copied, in one submit) per round. Their
 * responses go out together after the copies, so a larger batch leaves the
 * frontend idle while we copy, and us idle while it refills: cached 4k
 * randread QD32, pvio/native through fio, 64 -> 16: 0.699 0.663 -> 1.232
 * 1.144 (8: 1.03-1.22, 4: 1.31; 128k reads unchanged). */
#define BLKBACK_BUF_TAKE              16
#define BLKBACK_PGRANT_IDLE_MS        1000   /* persistent grants idle longer are unmapped */
#define BLKBACK_PGRANT_PURGE_MS       100    /* a full cache drops 5% of its idle grants */

/* Configuration of one device (from the store and the command line). */
struct blkback_cfg {
	char     engine[16];        /* io_uring | libaio | psync | rbd */
	bool     direct;            /* O_DIRECT */
	unsigned poll_us;           /* adaptive polling window; 0: never spin */
	unsigned io_poll_us;        /* ... while I/O is in flight at the engine */
	unsigned nr_workers;        /* poller threads; 0: one per online CPU */
	/* The poller threads the queues run on; NULL: a process-wide pool
	 * made on first use with nr_workers and poll_us. */
	struct pvio_workers *workers;
	unsigned max_queues;
	unsigned max_ring_order;
	unsigned max_indirect;      /* 0: no indirect */
	bool     persistent;        /* offer feature-persistent */
	uint32_t pgrant_max;        /* per queue */
	bool     discard;
	bool     flush;
	bool     barrier;
};

/* A request in a layout-independent form, filled from the private copy. */
struct blkback_parsed {
	uint8_t  op;
	uint8_t  indirect_op;
	uint8_t  discard_flag;
	uint16_t nr_segments;
	uint64_t id;
	uint64_t sector;
	uint64_t nr_sectors;                     /* discard */
	uint32_t indirect_grefs[PVIO_BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
	struct pvio_blkif_request_segment seg[PVIO_BLKIF_MAX_SEGMENTS_PER_REQUEST];
};

/* One guest request in flight. */
struct blkback_req {
	uint64_t id;
	uint8_t  rsp_op;              /* operation echoed in the response */
	uint8_t  kind;                /* enum pvio_blk_io_op of the data phase */
	bool     flush_after;         /* FLUSH/BARRIER: fdatasync after the write */
	bool     in_flush;            /* now in the fdatasync phase */
	int16_t  status;
	uint16_t nr_segs;
	uint16_t nr_maps;             /* grants mapped without the cache */
	uint16_t nr_pgrants;          /* refs held in the persistent cache */
	uint32_t next_free;
	struct pvio_blk_io io;
	struct iovec *iov;            /* BLKBACK_MAX_INDIRECT_SEGS */
	struct pvio_gnt_map_op *maps; /* BLKBACK_MAX_INDIRECT_SEGS */
	uint32_t *pg_refs;            /* BLKBACK_MAX_INDIRECT_SEGS */
};

struct blkback_dev;

struct blkback_queue {
	struct blkback_dev *dev;
	unsigned idx;
	char     name[48];            /* "dom3/51712/q0" for logs */

	/* ring */
	struct pvio_hv_ring_map ringmap;
	struct pvio_ring_back ring;
	uint32_t ring_refs[PVIO_HV_RING_MAX_PAGES];
	unsigned nr_ring_pages;
	pvio_evtchn_port_t fe_port;   /* the frontend's port (its number, not ours) */
	pvio_evtchn_port_t port;      /* ours, once bound; 0: none */
	struct pvio_evtchn *ch;

	/* I/O */
	struct pvio_blk_engine *eng;
	struct blkback_req *reqs;
	uint32_t nr_reqs;
	uint32_t free_head;           /* UINT32_MAX: none */
	uint32_t inflight;
	bool     draining;            /* a FLUSH/BARRIER waits for the queue to drain */
	/* Polling for the engine's completions (O_DIRECT I/O at the device):
	 * a second adaptive window, over the time since the last request or
	 * completion, so a queue waiting on a device keeps polling while
	 * completions keep coming and sleeps on a slow one. */
	struct pvio_pollwin io_pw;
	uint64_t io_last_ns;          /* last request taken or I/O completed */
	uint64_t io_armed_ns;         /* slept with I/O in flight since (0: no) */
	bool     direct;              /* an O_DIRECT disk: each request submitted as
	                                 taken, responses pushed every
	                                 BLKBACK_DIRECT_PUSH completions */
	bool     held;                /* held_req waits for in-flight I/O to finish */
	struct blkback_parsed held_req;
	struct blkback_req *thr_held; /* waits for the disk's limits (vbd_limits.h) */
	uint64_t thr_until;           /* ns: when its budget allows it */
	struct pvio_pgrant_cache pg;
	bool     pg_on;
	uint64_t pg_purged;          /* pg.now of the last purge of a full cache */
	unsigned rsp_pending;         /* responses written, not yet pushed */

	/* run by a worker (backend/worker.h) */
	struct pvio_task task;
	bool     running;             /* attached */
	bool     broken;              /* protocol violation: takes no more requests */
	int      stopping;            /* atomic: the control plane wants it drained */
	bool     stopped;             /* drained and answered: done_fd written */
	int      kick_fd;             /* eventfd: control plane -> task */
	int      done_fd;             /* eventfd: task -> control plane */

	/* counters */
	uint64_t st_reqs, st_errors, st_bad, st_wakeups, st_spurious, st_notifies;
	uint64_t st_oo;               /* requests delayed by the disk's limits */
	struct pvio_stats_queue *st;  /* pvio top's counters (written by the worker) */
	struct pvio_ratelimit log_rl; /* guest-triggered log lines */
};

struct blkback_dev {
	struct pvio_hv *hv;
	uint16_t fe_domid;
	uint32_t devid;
	char     name[32];            /* "dom3/51712" */

	/* backing store */
	int      fd;
	struct pvio_blk_rbd *rbd;     /* an rbd: target (rbd.h), fd -1; else NULL */
	uint32_t discard_gran;        /* discard-granularity; 0: phys_block */
	uint64_t size_bytes;
	uint32_t sector_size;         /* logical, published as sector-size */
	uint32_t phys_block;          /* physical-sector-size, discard-granularity */
	bool     readonly;
	bool     is_blockdev;
	struct blkback_cfg cfg;
	char     faults[PVIO_BLK_FAULT_MAX_SPEC + 1]; /* fault-inject; "": none */

	/* negotiated */
	unsigned nr_queues;
	unsigned ring_order;
	bool     x86_32;
	bool     persistent;
	uint32_t unit;                /* bytes per protocol sector: 512 or sector_size */

	struct blkback_queue queues[BLKBACK_MAX_QUEUES];
	int      broken;              /* atomic: a queue saw a protocol violation */
	int      broken_efd;          /* wakes the control plane */
};

/* Data path (blkback.c). */
int  blkback_queue_start(struct blkback_queue *q);
void blkback_queue_stop(struct blkback_queue *q);

/* Rate-limited, guest-triggerable log line naming dom/dev/queue. */
void blkback_log_guest(struct blkback_queue *q, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif /* PVIO_BLKBACK_COMMON_H */
