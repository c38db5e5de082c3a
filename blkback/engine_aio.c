/* SPDX-License-Identifier: MIT */
/*
 * libaio engine: Linux native AIO (io_setup/io_submit/io_getevents).
 *
 * READ/WRITE are IOCB_CMD_PREADV/PWRITEV, FLUSH is IOCB_CMD_FDSYNC; when the
 * kernel or filesystem rejects FDSYNC (EINVAL/EOPNOTSUPP) the engine
 * remembers it and runs fdatasync() synchronously from then on. DISCARD has
 * no AIO command: fallocate(PUNCH_HOLE) or BLKDISCARD, synchronously. The
 * synchronous ones run at submit and complete through reap like the rest.
 *
 * Every iocb carries IOCB_FLAG_RESFD, so the kernel signals the engine's
 * eventfd after posting each completion event.
 *
 * Note: on buffered files native AIO is synchronous (io_submit does the
 * copy); it is only asynchronous with O_DIRECT.
 *
 * close(): io_destroy() waits until every iocb in flight has completed, so
 * no I/O touches the caller's buffers after close returns, from any thread.
 */
#include <errno.h>
#include <libaio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blkback/engine_internal.h"

struct aio_slot {
	struct iocb cb;
	struct pvio_blk_io *io;          /* NULL when free */
	struct pvio__blk_progress p;
};

struct aio_engine {
	struct pvio_blk_engine base;
	io_context_t ctx;
	bool     fdsync_sync;    /* FDSYNC unsupported: fdatasync() instead */
	unsigned active;         /* slots in use */
	struct aio_slot *slots;
	unsigned *free_stack;
	unsigned nfree;
	struct iocb **pend;      /* prepared, not yet accepted by io_submit */
	unsigned npend;
	struct io_event *ev;     /* events fetched, not yet handed out */
	unsigned ev_head, ev_count;
};

static inline struct aio_engine *to_ae(struct pvio_blk_engine *e)
{
	return (struct aio_engine *)e;
}

static void slot_free(struct aio_engine *ae, struct aio_slot *s)
{
	s->io = NULL;
	ae->free_stack[ae->nfree++] = (unsigned)(s - ae->slots);
	ae->active--;
}

/* Prepare the iocb for (the rest of) the slot's I/O and queue it. */
static void aio_prep(struct aio_engine *ae, struct aio_slot *s)
{
	struct pvio_blk_io *io = s->io;
	const struct iovec *v;
	unsigned cnt;

	switch (io->op) {
	case PVIO_BLK_IO_READ:
	case PVIO_BLK_IO_WRITE:
		v = pvio__blk_progress_vec(&s->p, io, &cnt);
		if (io->op == PVIO_BLK_IO_READ)
			io_prep_preadv(&s->cb, ae->base.fd, v, (int)cnt,
				       (long long)(io->offset + s->p.done));
		else
			io_prep_pwritev(&s->cb, ae->base.fd, v, (int)cnt,
					(long long)(io->offset + s->p.done));
		break;
	default:                         /* FLUSH; DISCARD never gets here */
		io_prep_fdsync(&s->cb, ae->base.fd);
		break;
	}
	s->cb.data = s;
	io_set_eventfd(&s->cb, ae->base.efd);
	ae->pend[ae->npend++] = &s->cb;
}

static int aio_queue(struct pvio_blk_engine *e, struct pvio_blk_io *io)
{
	struct aio_engine *ae = to_ae(e);
	struct aio_slot *s;

	if (io->op == PVIO_BLK_IO_DISCARD ||
	    (io->op == PVIO_BLK_IO_FLUSH && ae->fdsync_sync)) {
		pvio__blk_sync_defer(e, io);
		return 0;
	}
	if (!ae->nfree)
		return -EBUSY;
	s = &ae->slots[ae->free_stack[--ae->nfree]];
	s->io = io;
	pvio__blk_progress_reset(&s->p);
	ae->active++;
	aio_prep(ae, s);
	return 0;
}

/* io_submit everything pending. An iocb the kernel rejects completes with
 * the error (FDSYNC falls back to fdatasync); EAGAIN leaves the rest for the
 * next call. Returns how many the kernel accepted. */
static int aio_flush(struct aio_engine *ae)
{
	unsigned i = 0;
	int accepted = 0;

	while (i < ae->npend) {
		struct aio_slot *s;
		struct pvio_blk_io *io;
		int r = io_submit(ae->ctx, (long)(ae->npend - i), ae->pend + i);

		if (r > 0) {
			i += (unsigned)r;
			accepted += r;
			continue;
		}
		if (r == 0 || r == -EAGAIN || r == -EINTR)
			break;
		/* pend[i] was rejected. */
		s = ae->pend[i]->data;
		io = s->io;
		i++;
		slot_free(ae, s);
		if (io->op == PVIO_BLK_IO_FLUSH && (r == -EINVAL || r == -EOPNOTSUPP)) {
			if (!ae->fdsync_sync)
				PVIO_BLK_LOG_ONCE("libaio: FDSYNC not supported (%s); "
						  "using fdatasync()", strerror(-r));
			ae->fdsync_sync = true;
			pvio__blk_sync_defer(&ae->base, io);
			continue;
		}
		io->result = r;
		pvio__blk_complete_now(&ae->base, io);
	}
	if (i) {
		memmove(ae->pend, ae->pend + i, (ae->npend - i) * sizeof(*ae->pend));
		ae->npend -= i;
	}
	return accepted;
}

static int aio_submit(struct pvio_blk_engine *e)
{
	return aio_flush(to_ae(e));
}

/* Account one event; returns the I/O if complete, NULL if resubmitted. */
static struct pvio_blk_io *aio_complete(struct aio_engine *ae, struct aio_slot *s, long res)
{
	struct pvio_blk_io *io = s->io;

	if ((res == -EAGAIN || res == -EINTR) &&
	    ++s->p.retries < PVIO_BLK_ENGINE_MAX_RETRIES) {
		ae->base.st.resubmits++;
		aio_prep(ae, s);
		return NULL;
	}
	s->p.retries = 0;
	if (io->op == PVIO_BLK_IO_FLUSH || res < 0)
		goto done;
	if (res == 0) {
		if (io->op == PVIO_BLK_IO_READ && s->p.done < io->len) {
			res = (long)s->p.done;   /* end of file: short read */
			goto done;
		}
		if (s->p.done < io->len) {
			res = -EIO;
			goto done;
		}
	}
	pvio__blk_progress_advance(&s->p, io, (uint64_t)res);
	if (s->p.done < io->len) {
		ae->base.st.resubmits++;
		aio_prep(ae, s);
		return NULL;
	}
	res = (long)s->p.done;
done:
	io->result = res;
	slot_free(ae, s);
	return io;
}

/* Fetch completion events into the stash (only when it is empty). With
 * block, wait for at least one. Returns how many were fetched. */
static unsigned aio_fetch(struct aio_engine *ae, bool block)
{
	struct timespec zero = { 0, 0 };
	int r;

	if (ae->ev_count)
		return 0;
	/* A zero timeout makes libaio look at the user-visible ring without a
	 * syscall when it is empty. */
	r = io_getevents(ae->ctx, block ? 1 : 0, (long)ae->base.depth, ae->ev,
			 block ? NULL : &zero);
	if (r < 0) {
		if (r != -EINTR)
			PVIO_BLK_LOG_ONCE("libaio: io_getevents: %s", strerror(-r));
		return 0;
	}
	ae->ev_head = 0;
	ae->ev_count = (unsigned)r;
	return (unsigned)r;
}

/* Hand out up to max completions from the stash, refilling it once. */
static unsigned aio_harvest(struct aio_engine *ae, struct pvio_blk_io **done,
			    unsigned max, bool *progress)
{
	unsigned n = 0;

	*progress = false;
	if (!ae->ev_count)
		aio_fetch(ae, false);
	while (n < max && ae->ev_count) {
		struct io_event *ev = &ae->ev[ae->ev_head++];
		struct pvio_blk_io *io;

		ae->ev_count--;
		*progress = true;
		io = aio_complete(ae, ev->data, (long)ev->res);
		if (io)
			done[n++] = io;
	}
	return n;
}

static int aio_reap(struct pvio_blk_engine *e, struct pvio_blk_io **done,
		    unsigned max, bool wait)
{
	struct aio_engine *ae = to_ae(e);
	unsigned n = 0;

	aio_flush(ae);
	if (!ae->active) {
		/* Nothing can complete: drop any stale or spurious signal. */
		pvio__blk_efd_clear(e->efd);
		return 0;
	}
	for (;;) {
		bool cleared = false, progress;

		for (;;) {
			n += aio_harvest(ae, done + n, max - n, &progress);
			if (n == max) {
				/* Leave the fd readable only if more is there. */
				pvio__blk_efd_clear(e->efd);
				aio_fetch(ae, false);
				if (ae->ev_count)
					pvio__blk_efd_signal(e->efd);
				break;
			}
			/* Clear only after harvesting, then look once more:
			 * whatever completes after the clear signals again. */
			if (cleared && !progress)
				break;
			pvio__blk_efd_clear(e->efd);
			cleared = true;
		}
		aio_flush(ae);           /* resubmit partial transfers */
		if (n || !wait || !ae->active)
			break;
		/* Block for one event, then go round again to hand it out,
		 * pick up the rest and clear the eventfd. */
		aio_fetch(ae, true);
	}
	return (int)n;
}

static void aio_close(struct pvio_blk_engine *e)
{
	struct aio_engine *ae = to_ae(e);

	/* Waits for every iocb in flight to complete (Linux >= 4.x). */
	io_destroy(ae->ctx);
	free(ae->slots);
	free(ae->free_stack);
	free(ae->pend);
	free(ae->ev);
	pvio__blk_engine_base_fini(e);
	free(ae);
}

static const struct pvio_blk_engine_ops aio_ops = {
	.name   = "libaio",
	.queue  = aio_queue,
	.submit = aio_submit,
	.reap   = aio_reap,
	.close  = aio_close,
};

int pvio__blk_aio_open(int fd, const struct pvio_blk_engine_cfg *cfg,
		       struct pvio_blk_engine **out)
{
	struct aio_engine *ae;
	unsigned i;
	int ret;

	ae = calloc(1, sizeof(*ae));
	if (!ae)
		return -ENOMEM;
	ret = pvio__blk_engine_base_init(&ae->base, &aio_ops, fd, cfg);
	if (ret)
		goto err_free;
	ae->slots = calloc(cfg->depth, sizeof(*ae->slots));
	ae->free_stack = calloc(cfg->depth, sizeof(*ae->free_stack));
	ae->pend = calloc(cfg->depth, sizeof(*ae->pend));
	ae->ev = calloc(cfg->depth, sizeof(*ae->ev));
	if (!ae->slots || !ae->free_stack || !ae->pend || !ae->ev) {
		ret = -ENOMEM;
		goto err_base;
	}
	for (i = 0; i < cfg->depth; i++)
		ae->free_stack[i] = cfg->depth - 1 - i;
	ae->nfree = cfg->depth;
	/* EAGAIN here: /proc/sys/fs/aio-max-nr exhausted. */
	ret = io_setup((int)cfg->depth, &ae->ctx);
	if (ret < 0)
		goto err_base;
	snprintf(ae->base.info, sizeof(ae->base.info), "libaio nr_events=%u", cfg->depth);
	*out = &ae->base;
	return 0;

err_base:
	free(ae->slots);
	free(ae->free_stack);
	free(ae->pend);
	free(ae->ev);
	pvio__blk_engine_base_fini(&ae->base);
err_free:
	free(ae);
	return ret;
}
