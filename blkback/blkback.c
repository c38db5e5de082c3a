/* SPDX-License-Identifier: MIT */
/*
 * pvio-blkback data path: each queue is a task of the backend's workers
 * (backend/worker.h), run to completion in turn with the other queues.
 *
 *   take requests   read req_prod once, copy each request to private memory
 *                   (XSA-155), validate the copy, map its grants, queue the
 *                   I/O on the engine; one submit per batch of at most
 *                   BLKBACK_BUF_TAKE (per request on an O_DIRECT disk:
 *                   take_requests)
 *   complete        reap engine completions, unmap (or keep persistent)
 *                   grants, write responses field by field (XSA-216), push
 *                   once per batch (every BLKBACK_DIRECT_PUSH on an O_DIRECT
 *                   disk) and notify only if the frontend asked
 *   arm             after poll_us without work (io_poll_us, adaptive, while
 *                   I/O is in flight and completions keep coming): set
 *                   req_event (final check), unmask the port (late EOI,
 *                   XSA-332); the worker wakes the queue when its event
 *                   channel or engine fd fires
 *
 * A run never blocks: a FLUSH/BARRIER that must wait for earlier I/O is
 * held (a private copy) until the queue drains, and the queue takes no
 * more requests meanwhile. Nothing a guest writes stops the queue except a
 * broken ring (producer overflow), which disconnects that frontend only.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "blkback/common.h"
#include "blkback/vbd_limits.h"
#include "ring/pvio_atomic.h"

#define NO_REQ UINT32_MAX

void blkback_log_guest(struct blkback_queue *q, const char *fmt, ...)
{
	bool print, note;
	va_list ap;

	print = pvio_ratelimit_allow(&q->log_rl, 10, &note);
	if (note)
		fprintf(stderr, "blkback: %s: (further messages were suppressed)\n", q->name);
	if (!print)
		return;
	fprintf(stderr, "blkback: %s: ", q->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ------------------------------------------------------------ request slots */

static struct blkback_req *req_alloc(struct blkback_queue *q)
{
	struct blkback_req *r;

	if (q->free_head == NO_REQ)
		return NULL;
	r = &q->reqs[q->free_head];
	q->free_head = r->next_free;
	r->nr_maps = r->nr_pgrants = r->nr_segs = 0;
	r->flush_after = r->in_flush = false;
	r->status = PVIO_BLKIF_RSP_OKAY;
	q->inflight++;
	return r;
}

static void req_free(struct blkback_queue *q, struct blkback_req *r)
{
	r->next_free = q->free_head;
	q->free_head = (uint32_t)(r - q->reqs);
	q->inflight--;
}

/* ------------------------------------------------------------ responses */

static void put_response(struct blkback_queue *q, uint64_t id, uint8_t op, int16_t status)
{
	struct blkback_dev *d = q->dev;

	/* Built field by field in zeroed private memory: no padding leaks
	 * (XSA-216), then copied into the ring slot. */
	if (d->x86_32) {
		struct pvio_blkif_x86_32_response rsp;

		memset(&rsp, 0, sizeof(rsp));
		rsp.id = id;
		rsp.operation = op;
		rsp.status = status;
		pvio_blkif_x86_32_put_response(&q->ring, &rsp);
	} else {
		struct pvio_blkif_response rsp;

		memset(&rsp, 0, sizeof(rsp));
		rsp.id = id;
		rsp.operation = op;
		rsp.status = status;
		pvio_blkif_put_response(&q->ring, &rsp);
	}
	q->rsp_pending++;
	if (status != PVIO_BLKIF_RSP_OKAY) {
		q->st_errors++;
		PVIO_STATS_ADD(q->st, errors, 1);
	}
}

static void push_responses(struct blkback_queue *q)
{
	if (!q->rsp_pending)
		return;
	q->rsp_pending = 0;
	if (pvio_ring_push_responses(&q->ring)) {
		pvio_evtchn_notify(q->ch);
		q->st_notifies++;
	}
}

/* ------------------------------------------------------------ grants */

static void release_grants(struct blkback_queue *q, struct blkback_req *r)
{
	struct blkback_dev *d = q->dev;

	if (r->nr_maps) {
		pvio_hv_unmap(d->hv, d->fe_domid, r->maps, r->nr_maps);
		r->nr_maps = 0;
	}
	for (unsigned i = 0; i < r->nr_pgrants; i++)
		pvio_pgrant_put(&q->pg, r->pg_refs[i]);
	r->nr_pgrants = 0;
}

/*
 * Map the grants of segs[0..n) for a transfer in the given direction
 * (device writes guest memory on READ: writable mapping needed) and fill
 * r->iov, merging segments contiguous in guest memory. Returns 0 or a
 * BLKIF status.
 */
static int map_segments(struct blkback_queue *q, struct blkback_req *r,
			const struct pvio_blkif_request_segment *segs, unsigned n, bool dev_writes)
{
	struct blkback_dev *d = q->dev;
	unsigned spp = PVIO_PAGE_SIZE / d->unit;
	void *addr[BLKBACK_MAX_INDIRECT_SEGS];
	uint64_t total = 0;
	unsigned niov = 0, nmap = 0;

	/* Validate every segment before touching any grant. */
	for (unsigned i = 0; i < n; i++) {
		if (segs[i].first_sect > segs[i].last_sect || segs[i].last_sect >= spp) {
			blkback_log_guest(q, "bad segment %u: first_sect %u last_sect %u "
					  "(%u sectors per page)", i, segs[i].first_sect,
					  segs[i].last_sect, spp);
			return PVIO_BLKIF_RSP_ERROR;
		}
	}
	for (unsigned i = 0; i < n; i++) {
		addr[i] = NULL;
		if (q->pg_on) {
			void *a = pvio_pgrant_lookup(&q->pg, segs[i].gref, dev_writes);
			if (!a && q->pg.nr >= q->pg.max) {
				/* Full (Linux blkback's max_pgrants): this grant is
				 * mapped for this request only, so the frontend can
				 * take it back as soon as it is answered. Evicting a
				 * cached grant for it on every miss would hold
				 * grants the frontend means to drop and release
				 * those it keeps. Now and then the least recently
				 * used idle ones go (5% every 100 ms, as Linux's
				 * purge), so the cache follows a moving working set. */
				if (q->pg.now - q->pg_purged >= BLKBACK_PGRANT_PURGE_MS) {
					pvio_pgrant_reclaim(&q->pg, q->pg.max / 20 + 1);
					q->pg_purged = q->pg.now;
				}
			} else if (!a) {
				int16_t st = 0;
				int e = pvio_pgrant_insert(&q->pg, segs[i].gref, dev_writes, &a, &st);
				if (e == -EIO) {
					blkback_log_guest(q, "grant %u of segment %u: map failed "
							  "(status %d)", segs[i].gref, i, st);
					goto fail;
				}
				if (e < 0)
					a = NULL;   /* cache full: map this one directly */
			}
			if (a) {
				addr[i] = a;
				r->pg_refs[r->nr_pgrants++] = segs[i].gref;
				continue;
			}
		}
		r->maps[nmap].ref = segs[i].gref;
		r->maps[nmap].flags = dev_writes ? 0 : PVIO_GNTMAP_readonly;
		r->maps[nmap].addr = NULL;
		r->maps[nmap].status = 0;
		nmap++;
	}
	if (nmap) {
		int ok = pvio_hv_map(d->hv, d->fe_domid, r->maps, nmap);

		if (ok != (int)nmap) {
			/* Keep only the successful ones for the unmap. */
			unsigned k = 0;
			for (unsigned i = 0; i < nmap; i++) {
				if (r->maps[i].status == PVIO_GNTST_okay)
					r->maps[k++] = r->maps[i];
				else
					blkback_log_guest(q, "grant %u: map failed (status %d)",
							  r->maps[i].ref, r->maps[i].status);
			}
			r->nr_maps = (uint16_t)k;
			goto fail;
		}
		r->nr_maps = (uint16_t)nmap;
		/* Place the mapped addresses back in segment order. */
		for (unsigned i = 0, m = 0; i < n; i++)
			if (!addr[i])
				addr[i] = r->maps[m++].addr;
	}
	for (unsigned i = 0; i < n; i++) {
		uint8_t *base = (uint8_t *)addr[i] + (size_t)segs[i].first_sect * d->unit;
		size_t len = (size_t)(segs[i].last_sect - segs[i].first_sect + 1) * d->unit;

		if (niov && (uint8_t *)r->iov[niov - 1].iov_base + r->iov[niov - 1].iov_len == base) {
			r->iov[niov - 1].iov_len += len;
		} else {
			r->iov[niov].iov_base = base;
			r->iov[niov].iov_len = len;
			niov++;
		}
		total += len;
	}
	r->io.iov = r->iov;
	r->io.iovcnt = (uint16_t)niov;
	r->io.len = total;
	return 0;
fail:
	release_grants(q, r);
	return PVIO_BLKIF_RSP_ERROR;
}

/* Copy the segment descriptors of an indirect request out of its indirect
 * pages with grant copy: the copy is private, then validated. */
static int fetch_indirect(struct blkback_queue *q, const uint32_t *grefs, unsigned npages,
			  unsigned nsegs, struct pvio_blkif_request_segment *out)
{
	struct blkback_dev *d = q->dev;
	struct pvio_gnt_copy_op ops[BLKBACK_MAX_INDIRECT_PAGES];
	unsigned left = nsegs;

	memset(ops, 0, sizeof(ops));
	for (unsigned i = 0; i < npages; i++) {
		unsigned cnt = left < PVIO_BLKIF_SEGS_PER_INDIRECT_FRAME ? left
			: PVIO_BLKIF_SEGS_PER_INDIRECT_FRAME;

		ops[i].source.foreign.ref = grefs[i];
		ops[i].source.foreign.domid = d->fe_domid;
		ops[i].source.foreign.offset = 0;
		ops[i].dest.virt = out + (size_t)i * PVIO_BLKIF_SEGS_PER_INDIRECT_FRAME;
		ops[i].len = (uint16_t)(cnt * sizeof(*out));
		ops[i].flags = PVIO_GNTCOPY_source_gref;
		left -= cnt;
	}
	if (pvio_hv_copy(d->hv, ops, npages) != (int)npages) {
		for (unsigned i = 0; i < npages; i++)
			if (ops[i].status != PVIO_GNTST_okay)
				blkback_log_guest(q, "indirect page %u (gref %u): copy failed "
						  "(status %d)", i, grefs[i], ops[i].status);
		return PVIO_BLKIF_RSP_ERROR;
	}
	return 0;
}

/* ------------------------------------------------------------ requests */

/* Fill p from a private copy of a request in either layout (the field names
 * are the same; only offsets differ). */
#define PARSE_REQUEST(p, req, ind_t, disc_t) do {                               \
	memset((p), 0, sizeof(*(p)));                                          \
	(p)->op = (req).operation;                                             \
	if ((p)->op == PVIO_BLKIF_OP_INDIRECT) {                               \
		const ind_t *in_ = (const void *)&(req);                       \
		(p)->indirect_op = in_->indirect_op;                           \
		(p)->nr_segments = in_->nr_segments;                           \
		(p)->id = in_->id;                                             \
		(p)->sector = in_->sector_number;                              \
		memcpy((p)->indirect_grefs, in_->indirect_grefs,               \
		       sizeof((p)->indirect_grefs));                           \
	} else if ((p)->op == PVIO_BLKIF_OP_DISCARD) {                         \
		const disc_t *ds_ = (const void *)&(req);                      \
		(p)->discard_flag = ds_->flag;                                 \
		(p)->id = ds_->id;                                             \
		(p)->sector = ds_->sector_number;                              \
		(p)->nr_sectors = ds_->nr_sectors;                             \
	} else {                                                               \
		(p)->nr_segments = (req).nr_segments;                          \
		(p)->id = (req).id;                                            \
		(p)->sector = (req).sector_number;                             \
		memcpy((p)->seg, (req).seg, sizeof((p)->seg));                 \
	}                                                                      \
} while (0)

static void take_request(struct blkback_queue *q, struct blkback_parsed *p)
{
	if (q->dev->x86_32) {
		union pvio_blkif_x86_32_slot u;

		pvio_blkif_x86_32_copy_request(&q->ring, &u.req);
		PARSE_REQUEST(p, u.req, struct pvio_blkif_x86_32_request_indirect,
			      struct pvio_blkif_x86_32_request_discard);
	} else {
		union pvio_blkif_slot u;

		pvio_blkif_copy_request(&q->ring, &u.req);
		PARSE_REQUEST(p, u.req, struct pvio_blkif_request_indirect,
			      struct pvio_blkif_request_discard);
	}
}

/* Byte range [off, off+len) inside the disk and aligned to its sector size? */
static bool range_ok(struct blkback_queue *q, uint64_t sector, uint64_t len, uint64_t *off)
{
	struct blkback_dev *d = q->dev;

	if (sector > UINT64_MAX / d->unit) {
		blkback_log_guest(q, "sector_number %llu overflows", (unsigned long long)sector);
		return false;
	}
	*off = sector * d->unit;
	if (*off > d->size_bytes || len > d->size_bytes - *off) {
		blkback_log_guest(q, "access past the end of the disk: sector %llu, %llu bytes "
				  "(disk %llu bytes)", (unsigned long long)sector,
				  (unsigned long long)len, (unsigned long long)d->size_bytes);
		return false;
	}
	if ((*off | len) & (d->sector_size - 1)) {
		blkback_log_guest(q, "access not aligned to the %u-byte sector size: "
				  "sector %llu (of %u bytes), %llu bytes", d->sector_size,
				  (unsigned long long)sector, d->unit, (unsigned long long)len);
		return false;
	}
	return true;
}

static void fail_req(struct blkback_queue *q, struct blkback_req *r, int16_t status)
{
	release_grants(q, r);
	put_response(q, r->id, r->rsp_op, status);
	req_free(q, r);
}

/* Hand a request to the engine (queued; submitted by the caller's batch).
 * 1, or 0 if it was answered with an error. */
static int queue_io(struct blkback_queue *q, struct blkback_req *r)
{
	r->io.user = r;
	r->io.result = 0;
	if (r->flush_after)
		q->draining = true;
	if (pvio_blk_engine_queue(q->eng, &r->io) < 0) {
		/* Depth equals the ring size, so this means the engine failed. */
		fail_req(q, r, PVIO_BLKIF_RSP_ERROR);
		return 0;
	}
	return 1;
}

/* The disk's I/O limits (vbd_limits.h): admit r now, or hold it (with its
 * grants) until its budget allows; the ring waits meanwhile. */
static bool throttle_admit(struct blkback_queue *q, struct blkback_req *r)
{
	struct pvio_throttle *t = blkback_throttle(q->dev);
	uint64_t now, wait;

	if (!pvio_throttle_on(t))
		return true;
	now = pvio_task_now_ns(&q->task);
	if (pvio_throttle_admit(t, r->kind == PVIO_BLK_IO_WRITE, r->io.len, now, &wait))
		return true;
	q->thr_held = r;
	q->thr_until = now + wait;
	return false;
}

/* Turn one parsed request into engine work, or answer it at once.
 * Returns 1 if an I/O was queued, 0 if answered, -EBUSY to retry later. */
static int start_request(struct blkback_queue *q, struct blkback_parsed *p)
{
	struct blkback_dev *d = q->dev;
	struct pvio_blkif_request_segment iseg[BLKBACK_MAX_INDIRECT_SEGS];
	const struct pvio_blkif_request_segment *segs = p->seg;
	struct blkback_req *r = req_alloc(q);
	uint8_t op = p->op;
	uint64_t off = 0;
	int st;

	if (!r)
		return -EBUSY;   /* cannot happen: one slot per ring entry */
	r->id = p->id;
	/* Linux blkfront (since XSA-376) insists that an INDIRECT request is
	 * answered with its indirect_op, as Linux blkback does. */
	r->rsp_op = p->op == PVIO_BLKIF_OP_INDIRECT &&
		    (p->indirect_op == PVIO_BLKIF_OP_READ || p->indirect_op == PVIO_BLKIF_OP_WRITE)
		    ? p->indirect_op : p->op;
	q->st_reqs++;

	if (op == PVIO_BLKIF_OP_INDIRECT) {
		unsigned npages;

		if (!d->cfg.max_indirect) {
			blkback_log_guest(q, "INDIRECT request but feature-max-indirect-segments "
					  "was not offered");
			goto eopnotsupp;
		}
		if (p->indirect_op != PVIO_BLKIF_OP_READ && p->indirect_op != PVIO_BLKIF_OP_WRITE) {
			blkback_log_guest(q, "INDIRECT with indirect_op %u", p->indirect_op);
			goto error;
		}
		if (p->nr_segments == 0 || p->nr_segments > d->cfg.max_indirect) {
			blkback_log_guest(q, "INDIRECT with nr_segments %u (max %u)",
					  p->nr_segments, d->cfg.max_indirect);
			goto error;
		}
		npages = (p->nr_segments + PVIO_BLKIF_SEGS_PER_INDIRECT_FRAME - 1) /
			 PVIO_BLKIF_SEGS_PER_INDIRECT_FRAME;
		if (fetch_indirect(q, p->indirect_grefs, npages, p->nr_segments, iseg))
			goto error;
		segs = iseg;
		op = p->indirect_op;
	} else if (op == PVIO_BLKIF_OP_READ || op == PVIO_BLKIF_OP_WRITE) {
		if (p->nr_segments == 0 || p->nr_segments > PVIO_BLKIF_MAX_SEGMENTS_PER_REQUEST) {
			blkback_log_guest(q, "%s with nr_segments %u (1..%u)",
					  op == PVIO_BLKIF_OP_READ ? "READ" : "WRITE",
					  p->nr_segments, PVIO_BLKIF_MAX_SEGMENTS_PER_REQUEST);
			goto error;
		}
	} else if (op == PVIO_BLKIF_OP_FLUSH_DISKCACHE || op == PVIO_BLKIF_OP_WRITE_BARRIER) {
		if ((op == PVIO_BLKIF_OP_FLUSH_DISKCACHE && !d->cfg.flush) ||
		    (op == PVIO_BLKIF_OP_WRITE_BARRIER && !d->cfg.barrier)) {
			blkback_log_guest(q, "%s was not offered",
					  op == PVIO_BLKIF_OP_FLUSH_DISKCACHE ? "FLUSH_DISKCACHE"
									       : "WRITE_BARRIER");
			goto eopnotsupp;
		}
		if (p->nr_segments > PVIO_BLKIF_MAX_SEGMENTS_PER_REQUEST) {
			blkback_log_guest(q, "flush with nr_segments %u", p->nr_segments);
			goto error;
		}
		if (p->nr_segments && d->readonly)
			goto error;
		/* Data (if any) is written, then the cache flushed: durable
		 * when answered. The queue drains first (barrier semantics). */
		r->flush_after = true;
		if (p->nr_segments == 0) {
			PVIO_STATS_ADD(q->st, flush_req, 1);
			r->kind = PVIO_BLK_IO_FLUSH;
			r->in_flush = true;
			r->io.op = PVIO_BLK_IO_FLUSH;
			r->io.iovcnt = 0;
			r->io.len = 0;
			r->io.offset = 0;
			goto queue;
		}
		op = PVIO_BLKIF_OP_WRITE;
	} else if (op == PVIO_BLKIF_OP_DISCARD) {
		if (!d->cfg.discard || d->readonly) {
			blkback_log_guest(q, "DISCARD was not offered");
			goto eopnotsupp;
		}
		if (p->nr_sectors > UINT64_MAX / d->unit ||
		    !range_ok(q, p->sector, p->nr_sectors * d->unit, &off))
			goto error;
		PVIO_STATS_ADD(q->st, discard_req, 1);
		r->kind = PVIO_BLK_IO_DISCARD;
		r->io.op = PVIO_BLK_IO_DISCARD;
		r->io.offset = off;
		r->io.len = p->nr_sectors * d->unit;
		r->io.iovcnt = 0;
		if (r->io.len == 0) {
			put_response(q, r->id, r->rsp_op, PVIO_BLKIF_RSP_OKAY);
			req_free(q, r);
			return 0;
		}
		goto queue;
	} else {
		blkback_log_guest(q, "unknown operation %u", op);
		goto eopnotsupp;
	}

	/* READ or WRITE (plain, indirect, or the data of a flush). */
	if (op == PVIO_BLKIF_OP_WRITE && d->readonly) {
		blkback_log_guest(q, "write to a read-only disk");
		goto error;
	}
	r->nr_segs = p->nr_segments;
	st = map_segments(q, r, segs, p->nr_segments, op == PVIO_BLKIF_OP_READ);
	if (st)
		goto error;
	if (!range_ok(q, p->sector, r->io.len, &off)) {
		release_grants(q, r);
		goto error;
	}
	r->kind = op == PVIO_BLKIF_OP_READ ? PVIO_BLK_IO_READ : PVIO_BLK_IO_WRITE;
	r->io.op = r->kind;
	r->io.offset = off;
	if (r->flush_after)
		PVIO_STATS_ADD(q->st, flush_req, 1);
	else if (r->kind == PVIO_BLK_IO_READ)
		PVIO_STATS_ADD(q->st, rd_req, 1);
	else
		PVIO_STATS_ADD(q->st, wr_req, 1);
	if (r->kind == PVIO_BLK_IO_READ)
		PVIO_STATS_ADD(q->st, rd_sect, r->io.len >> 9);
	else
		PVIO_STATS_ADD(q->st, wr_sect, r->io.len >> 9);
	if (!throttle_admit(q, r)) {
		q->st_oo++;
		PVIO_STATS_ADD(q->st, oo_req, 1);
		return 0;
	}
queue:
	return queue_io(q, r);
eopnotsupp:
	q->st_bad++;
	fail_req(q, r, PVIO_BLKIF_RSP_EOPNOTSUPP);
	return 0;
error:
	q->st_bad++;
	fail_req(q, r, PVIO_BLKIF_RSP_ERROR);
	return 0;
}

static void blkback__complete(struct blkback_queue *q, struct pvio_blk_io *io);

/* Hand what is queued to the engine (one io_uring_enter / io_submit). */
static void submit(struct blkback_queue *q)
{
	PVIO_STATS_ADD(q->st, submits, 1);
	pvio_blk_engine_submit(q->eng);
}

/* Take up to BLKBACK_BATCH requests. On an O_DIRECT disk each request goes
 * to the engine as soon as it is set up, so the device starts on the first
 * while we set up the next: a burst handed over at once (one plug, one
 * doorbell) leaves the device idle until all of it is set up, and this
 * machine's virtual disk then completes it as one (issue 13's closing
 * note: 0.67-0.73 -> 0.80-0.86 of native fio at 4k QD32). The same
 * holds for the way back: reap() pushes responses every
 * BLKBACK_DIRECT_PUSH completions. A buffered disk does the
 * copy in the submitting call, so there one submit per batch saves the
 * system calls; but its batch is BLKBACK_BUF_TAKE, not more: the copies of
 * a batch are done before any of its responses go out, and the frontend
 * waits meanwhile (see common.h). Returns the number taken, or -EPROTO. */
static int take_requests(struct blkback_queue *q)
{
	struct blkback_parsed p;
	int max = q->direct ? BLKBACK_BATCH : BLKBACK_BUF_TAKE, n, taken = 0, queued = 0;

	/* A FLUSH/BARRIER taken earlier starts once everything before it
	 * completed; until it completes, later requests wait in the ring. */
	if (q->held) {
		if (q->inflight > 0)
			return 0;
		q->held = false;
		if (start_request(q, &q->held_req) > 0)
			submit(q);
		taken = 1;
	}
	/* A request held by the disk's limits goes first, when it may. */
	if (q->thr_held) {
		struct blkback_req *r = q->thr_held;

		q->thr_held = NULL;
		if (!throttle_admit(q, r))
			return taken;
		if (queue_io(q, r) > 0)
			submit(q);
		taken++;
	}
	/* The flush itself counts in inflight: none left, none draining
	 * (also after a flush the engine refused). */
	if (q->draining && q->inflight == 0)
		q->draining = false;
	if (q->draining)
		return taken;
	n = pvio_ring_back_pending(&q->ring);
	if (n < 0)
		return n;
	if (n > max)
		n = max;
	while (taken < n && q->free_head != NO_REQ) {
		take_request(q, &p);
		taken++;
		if ((p.op == PVIO_BLKIF_OP_FLUSH_DISKCACHE || p.op == PVIO_BLKIF_OP_WRITE_BARRIER) &&
		    q->inflight > 0) {
			/* It must wait for everything before it: hold the
			 * private copy and take nothing more meanwhile. */
			q->held_req = p;
			q->held = true;
			break;
		}
		if (start_request(q, &p) > 0) {
			if (q->direct)
				submit(q);
			else
				queued++;
		}
		if (q->draining || q->thr_held)
			break;
	}
	if (queued)
		submit(q);
	return taken;
}

/* ------------------------------------------------------------ completions */

static void blkback__complete(struct blkback_queue *q, struct pvio_blk_io *io)
{
	struct blkback_req *r = io->user;
	int16_t st = PVIO_BLKIF_RSP_OKAY;

	if (io->result < 0 ||
	    ((r->kind == PVIO_BLK_IO_READ || r->kind == PVIO_BLK_IO_WRITE) && !r->in_flush &&
	     (uint64_t)io->result != io->len)) {
		blkback_log_guest(q, "I/O error on %s at offset %llu: %s",
				  r->kind == PVIO_BLK_IO_READ ? "read" :
				  r->kind == PVIO_BLK_IO_WRITE ? "write" :
				  r->kind == PVIO_BLK_IO_FLUSH ? "flush" : "discard",
				  (unsigned long long)io->offset,
				  io->result < 0 ? strerror((int)-io->result) : "short transfer");
		/* EOPNOTSUPP only for what Linux's blkback says it of: a flush
		 * (or a barrier's flush phase) or a discard; a read or write
		 * that fails so is an I/O error. */
		st = io->result == -EOPNOTSUPP &&
		     (r->kind == PVIO_BLK_IO_FLUSH || r->kind == PVIO_BLK_IO_DISCARD || r->in_flush) ?
		     PVIO_BLKIF_RSP_EOPNOTSUPP : PVIO_BLKIF_RSP_ERROR;
	}
	if (st == PVIO_BLKIF_RSP_OKAY && r->flush_after && !r->in_flush) {
		/* Data written: now make it (and everything before) durable. */
		release_grants(q, r);
		r->in_flush = true;
		r->io.op = PVIO_BLK_IO_FLUSH;
		r->io.iovcnt = 0;
		r->io.len = 0;
		r->io.result = 0;
		if (pvio_blk_engine_queue(q->eng, &r->io) == 0) {
			submit(q);
			return;
		}
		st = PVIO_BLKIF_RSP_ERROR;
	}
	if (r->flush_after)
		q->draining = false;
	release_grants(q, r);
	put_response(q, r->id, r->rsp_op, st);
	req_free(q, r);
}

static int reap(struct blkback_queue *q)
{
	/* O_DIRECT: the responses go out every few completions, so the
	 * frontend refills while we answer the rest of a burst. */
	int chunk = q->direct ? BLKBACK_DIRECT_PUSH : 64, n, total = 0;
	struct pvio_blk_io *done[64];

	do {
		n = pvio_blk_engine_poll(q->eng, done, chunk);
		for (int i = 0; i < n; i++)
			blkback__complete(q, done[i]);
		if (n > 0)
			total += n;
		if (q->direct)
			push_responses(q);
	} while (n == chunk);
	return total;
}

/* ------------------------------------------------------------ poller */

static void drain_fd(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing to drain. */
	}
}

static void mark_broken(struct blkback_queue *q, const char *why)
{
	uint64_t one = 1;

	blkback_log_guest(q, "%s: disconnecting this frontend", why);
	__atomic_store_n(&q->dev->broken, 1, __ATOMIC_RELEASE);
	if (write(q->dev->broken_efd, &one, sizeof(one)) < 0) {
		/* saturated: the control plane is woken anyway */
	}
}

static unsigned queue_run(struct pvio_task *t)
{
	struct blkback_queue *q = (struct blkback_queue *)((char *)t -
							   offsetof(struct blkback_queue, task));
	unsigned work = 0;
	bool stopping = pvio_load_acquire(&q->stopping);

	if (q->pg_on)
		q->pg.now = pvio_task_now_ns(t) / 1000000;   /* ms, stamped on each put */
	if (!q->broken && !stopping) {
		int n = take_requests(q);

		if (n < 0) {
			q->broken = true;
			mark_broken(q, "ring producer index overflow");
		} else {
			work += (unsigned)n;
		}
	}
	{
		int done = reap(q);

		if (work || done)
			q->io_last_ns = pvio_task_now_ns(t);
		work += (unsigned)done;
	}
	push_responses(q);
	if (stopping && q->thr_held) {
		/* Held by the disk's limits, never started: unanswered, as
		 * requests still in the ring (blkfront re-issues it). */
		release_grants(q, q->thr_held);
		req_free(q, q->thr_held);
		q->thr_held = NULL;
	}
	if (stopping && !q->stopped && q->inflight == 0) {
		/* Drained: every grant of a finished request is released before
		 * the ring goes away (XSA-350). A held flush stays unanswered,
		 * as requests still in the ring do: its data phase never
		 * started, and blkfront re-issues it on reconnect. */
		uint64_t one = 1;

		q->held = false;
		q->stopped = true;
		if (write(q->done_fd, &one, sizeof(one)) < 0) {
			/* cannot fail on a fresh eventfd */
		}
	}
	return work;
}

/* fds[0] the event channel, fds[1] the engine, fds[2] the control kick. */
static bool queue_arm(struct pvio_task *t, int *timeout_ms)
{
	struct blkback_queue *q = (struct blkback_queue *)((char *)t -
							   offsetof(struct blkback_queue, task));
	bool stopping = pvio_load_acquire(&q->stopping);
	/* Waiting for I/O before a flush (the engine's fd wakes us) or for
	 * the disk's budget (the timeout below): the ring can wait, its
	 * channel stays masked. */
	bool waiting = q->held || q->draining || q->thr_held;

	if (!q->broken && !stopping && !waiting) {
		int n = pvio_ring_back_final_check(&q->ring);

		if (n > 0)
			return true;
		if (n < 0) {
			q->broken = true;
			mark_broken(q, "ring producer index overflow");
		}
	}
	if (stopping && !q->stopped && !pvio_blk_engine_inflight(q->eng))
		return true;
	if (pvio_blk_engine_inflight(q->eng)) {
		uint64_t now = pvio_task_now_ns(t);

		/* Completions have been coming: keep polling for the next. */
		if (now - q->io_last_ns < q->io_pw.cur_ns)
			return true;
		/* The engine's fd was left alone while we polled. */
		if (pvio_blk_engine_arm(q->eng))
			return true;
		q->io_armed_ns = now;
	}
	/* Idle: unmap persistent grants unused for a while, so a frontend
	 * that retired them can revoke them (Linux blkback purges on a timer
	 * too). */
	if (q->pg_on && q->pg.now > BLKBACK_PGRANT_IDLE_MS)
		pvio_pgrant_purge(&q->pg, q->pg.now - BLKBACK_PGRANT_IDLE_MS);
	/* Late EOI: unmask only now that everything is drained. */
	if (!q->broken && !stopping && !waiting)
		pvio_evtchn_unmask(q->ch);
	*timeout_ms = pvio_blk_engine_inflight(q->eng) ? 100 : 1000;
	{
		/* The engine may hold a completion for a batch (rbd). */
		int hold = pvio_blk_engine_hold_ms(q->eng);

		if (hold >= 0 && hold < *timeout_ms)
			*timeout_ms = hold;
	}
	if (q->thr_held) {
		uint64_t now = pvio_now_ns(), ms = q->thr_until > now ?
			(q->thr_until - now + 999999) / 1000000 : 0;

		if (ms < (uint64_t)*timeout_ms)
			*timeout_ms = (int)ms;
	}
	return false;
}

static void queue_woken(struct pvio_task *t, unsigned fd_mask)
{
	struct blkback_queue *q = (struct blkback_queue *)((char *)t -
							   offsetof(struct blkback_queue, task));

	q->st_wakeups++;
	if (q->io_armed_ns) {
		/* Slept with I/O in flight: had the window been long enough
		 * (only the engine's fd tells)? */
		if (fd_mask & 2)
			pvio_pollwin_update(&q->io_pw, false, pvio_now_ns() - q->io_armed_ns);
		q->io_armed_ns = 0;
	}
	if (fd_mask & 1) {
		if (!pvio_evtchn_consume(q->ch))
			q->st_spurious++;
		if (!q->broken && pvio_evtchn_peer_state(q->ch) == PVIO_EVTCHN_CLOSED) {
			q->broken = true;
			mark_broken(q, "the frontend closed its event channel");
		}
	} else {
		pvio_evtchn_mask(q->ch);
	}
	if (fd_mask & 2)
		drain_fd(q->task.fds[1]);
	if (fd_mask & 4)
		drain_fd(q->kick_fd);
}

static const struct pvio_task_ops queue_task_ops = {
	.run = queue_run,
	.arm = queue_arm,
	.woken = queue_woken,
};

/* The process-wide workers, for a configuration that brings none. */
static pthread_mutex_t g_workers_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pvio_workers *g_workers;

static struct pvio_workers *queue_workers(const struct blkback_cfg *cfg)
{
	struct pvio_workers *ws;

	if (cfg->workers)
		return cfg->workers;
	pthread_mutex_lock(&g_workers_lock);
	if (!g_workers) {
		int r = pvio_workers_create(&(struct pvio_workers_cfg){
						.n = cfg->nr_workers, .poll_us = cfg->poll_us,
						.name = "blk-worker" },
					    &g_workers);
		if (r < 0)
			fprintf(stderr, "blkback: cannot start the workers: %s\n", strerror(-r));
	}
	ws = g_workers;
	pthread_mutex_unlock(&g_workers_lock);
	return ws;
}

int blkback_queue_start(struct blkback_queue *q)
{
	struct blkback_dev *d = q->dev;
	struct pvio_blk_engine_cfg ecfg = { 0 };
	void *base = NULL;
	size_t bytes = 0;
	int r;

	q->nr_reqs = q->ring.nr_ents;
	q->reqs = calloc(q->nr_reqs, sizeof(*q->reqs));
	if (!q->reqs)
		return -ENOMEM;
	for (uint32_t i = 0; i < q->nr_reqs; i++) {
		struct blkback_req *rq = &q->reqs[i];
		rq->iov = calloc(BLKBACK_MAX_INDIRECT_SEGS, sizeof(*rq->iov));
		rq->maps = calloc(BLKBACK_MAX_INDIRECT_SEGS, sizeof(*rq->maps));
		rq->pg_refs = calloc(BLKBACK_MAX_INDIRECT_SEGS, sizeof(*rq->pg_refs));
		if (!rq->iov || !rq->maps || !rq->pg_refs) {
			r = -ENOMEM;
			goto err;
		}
		rq->next_free = i + 1 < q->nr_reqs ? i + 1 : NO_REQ;
	}
	q->free_head = 0;
	q->inflight = 0;
	/* Only where the I/O runs off the CPUs (O_DIRECT: in the device).
	 * Buffered I/O either completes inline (a page-cache hit) or runs
	 * in io_uring's workers on our CPUs, and spinning would only take
	 * their time. */
	pvio_pollwin_init(&q->io_pw, d->cfg.poll_us && d->cfg.direct ?
				     d->cfg.io_poll_us * 1000u : 0);
	q->io_last_ns = q->io_armed_ns = 0;
	q->direct = d->cfg.direct;
	ecfg.depth = q->nr_reqs;
	ecfg.is_blockdev = d->is_blockdev;
	ecfg.faults = d->faults;
	ecfg.rbd = d->rbd;
	if (pvio_hv_foreign_mem(d->hv, d->fe_domid, &base, &bytes) == 0 && base) {
		ecfg.fixed_base = base;
		ecfg.fixed_len = bytes;
	}
	r = pvio_blk_engine_open(d->cfg.engine, d->fd, &ecfg, &q->eng);
	if (r < 0) {
		fprintf(stderr, "blkback: %s: engine %s: %s\n", q->name, d->cfg.engine,
			r == -ENOTSUP ? "not built into this program (its library was missing "
					"when it was built)" : strerror(-r));
		goto err;
	}
	if (d->persistent) {
		r = pvio_hv_pgrant_init(d->hv, d->fe_domid, &q->pg, d->cfg.pgrant_max);
		if (r < 0)
			goto err;
		q->pg_on = true;
	}
	q->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	q->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (q->kick_fd < 0 || q->done_fd < 0) {
		r = -errno;
		goto err;
	}
	q->stopping = 0;
	q->stopped = q->broken = q->held = q->draining = false;
	q->thr_held = NULL;
	q->task.ops = &queue_task_ops;
	q->task.fds[0] = q->ch->self_fd;
	q->task.fds[1] = pvio_blk_engine_fd(q->eng);
	q->task.fds[2] = q->kick_fd;
	q->task.nfds = 3;
	r = pvio_task_attach(queue_workers(&d->cfg), &q->task);
	if (r < 0) {
		fprintf(stderr, "blkback: %s: cannot attach to a worker: %s\n", q->name,
			strerror(-r));
		goto err;
	}
	q->running = true;
	return 0;
err:
	blkback_queue_stop(q);
	return r;
}

void blkback_queue_stop(struct blkback_queue *q)
{
	uint64_t one = 1;

	if (q->running) {
		/* The worker drains the queue (an io_uring engine can be
		 * reaped by its issuer only), then we take the task back. */
		pvio_store_release(&q->stopping, 1);
		if (write(q->kick_fd, &one, sizeof(one)) < 0) {
			/* cannot fail on a fresh eventfd */
		}
		for (unsigned waited = 0;; waited += 5) {
			struct pollfd pf = { .fd = q->done_fd, .events = POLLIN };

			if (poll(&pf, 1, 5000) > 0)
				break;
			fprintf(stderr, "blkback: %s: still waiting for %u I/O(s) to finish (%u s)\n",
				q->name, pvio_blk_engine_inflight(q->eng), waited + 5);
		}
		pvio_task_detach(&q->task);
		q->running = false;
	}
	if (q->kick_fd > 0) {
		close(q->kick_fd);
		q->kick_fd = -1;
	}
	if (q->done_fd > 0) {
		close(q->done_fd);
		q->done_fd = -1;
	}
	if (q->pg_on) {
		pvio_pgrant_fini(&q->pg);
		q->pg_on = false;
	}
	if (q->eng) {
		pvio_blk_engine_close(q->eng);
		q->eng = NULL;
	}
	if (q->reqs) {
		for (uint32_t i = 0; i < q->nr_reqs; i++) {
			free(q->reqs[i].iov);
			free(q->reqs[i].maps);
			free(q->reqs[i].pg_refs);
		}
		free(q->reqs);
		q->reqs = NULL;
	}
}
