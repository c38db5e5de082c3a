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
#define BLKBACK_BATCH                 64     /* requests taken per round */
#define BLKBACK_PGRANT_IDLE_MS        1000   /* persistent grants idle longer are unmapped */

/* Configuration of one device (from the store and the command line). */
struct blkback_cfg {
	char     engine[16];        /* io_uring | libaio | psync */
	bool     direct;            /* O_DIRECT */
	unsigned poll_us;           /* adaptive polling window; 0: never spin */
	unsigned max_queues;
	unsigned max_ring_order;
	unsigned max_indirect;      /* 0: no indirect */
	bool     persistent;        /* offer feature-persistent */
	uint32_t pgrant_max;        /* per queue */
	bool     discard;
	bool     flush;
	bool     barrier;
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
	struct pvio_pgrant_cache pg;
	bool     pg_on;
	unsigned rsp_pending;         /* responses written, not yet pushed */

	/* thread */
	pthread_t thr;
	bool     running;
	int      stop_fd;
	int      stop;                /* atomic */

	/* counters */
	uint64_t st_reqs, st_errors, st_bad, st_wakeups, st_spurious, st_notifies;
	struct pvio_ratelimit log_rl; /* guest-triggered log lines */
};

struct blkback_dev {
	struct pvio_hv *hv;
	uint16_t fe_domid;
	uint32_t devid;
	char     name[32];            /* "dom3/51712" */

	/* backing store */
	int      fd;
	uint64_t size_bytes;
	uint32_t sector_size;         /* logical, published as sector-size */
	uint32_t phys_block;          /* physical-sector-size, discard-granularity */
	bool     readonly;
	bool     is_blockdev;
	struct blkback_cfg cfg;

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
