/* SPDX-License-Identifier: MIT */
/*
 * psync engine: a small pool of worker threads doing blocking
 * preadv/pwritev/fdatasync/fallocate (BLKDISCARD on block devices).
 *
 * The issuer stages queued I/Os privately; submit moves the whole batch to
 * the shared submission FIFO under one lock and wakes as many workers as it
 * has work for. Workers push results to the completion FIFO and signal the
 * eventfd when it goes from empty to non-empty. Both FIFOs are arrays of
 * depth entries allocated at open: nothing is allocated per I/O.
 *
 * close(): I/Os not yet picked up by a worker are dropped (they never
 * touched memory); close waits for the ones being executed, then joins the
 * workers. Safe from any thread.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "blkback/engine_internal.h"

#define PSYNC_DEFAULT_THREADS 4u
#define PSYNC_MAX_THREADS     64u

struct psync_engine {
	struct pvio_blk_engine base;

	/* Issuer-private staging area (queued, not submitted). */
	struct pvio_blk_io **stage;
	unsigned nstage;
	unsigned active;         /* submitted, not yet reaped (issuer's count) */

	pthread_mutex_t lock;    /* protects everything below */
	pthread_cond_t work_cv;  /* workers wait for submissions */
	pthread_cond_t done_cv;  /* a waiting reap waits for completions */
	struct pvio_blk_io **subq;
	unsigned sub_head, sub_count;
	struct pvio_blk_io **doneq;
	unsigned done_head, done_count;
	unsigned idle;           /* workers waiting on work_cv */
	bool     reaper_waiting;
	bool     stop;

	pthread_t *threads;
	unsigned nthreads;
};

static inline struct psync_engine *to_pe(struct pvio_blk_engine *e)
{
	return (struct psync_engine *)e;
}

static void *psync_worker(void *arg)
{
	struct psync_engine *pe = arg;

	pthread_mutex_lock(&pe->lock);
	for (;;) {
		struct pvio_blk_io *io;
		bool was_empty;

		while (!pe->sub_count && !pe->stop) {
			pe->idle++;
			pthread_cond_wait(&pe->work_cv, &pe->lock);
			pe->idle--;
		}
		if (pe->stop)
			break;
		io = pe->subq[pe->sub_head];
		pe->sub_head = (pe->sub_head + 1) % pe->base.depth;
		pe->sub_count--;
		pthread_mutex_unlock(&pe->lock);

		io->result = pvio__blk_exec_sync(pe->base.fd, pe->base.is_blockdev, io);

		pthread_mutex_lock(&pe->lock);
		pe->doneq[(pe->done_head + pe->done_count) % pe->base.depth] = io;
		was_empty = pe->done_count++ == 0;
		if (pe->reaper_waiting)
			pthread_cond_signal(&pe->done_cv);
		/* Under the lock, so that reap's clear-then-recheck (also under
		 * the lock) can never miss it. */
		if (was_empty)
			pvio__blk_efd_signal(pe->base.efd);
	}
	pthread_mutex_unlock(&pe->lock);
	return NULL;
}

static int psync_queue(struct pvio_blk_engine *e, struct pvio_blk_io *io)
{
	struct psync_engine *pe = to_pe(e);

	pe->stage[pe->nstage++] = io;
	return 0;
}

static int psync_submit(struct pvio_blk_engine *e)
{
	struct psync_engine *pe = to_pe(e);
	unsigned i, n = pe->nstage, wake;

	if (!n)
		return 0;
	pthread_mutex_lock(&pe->lock);
	for (i = 0; i < n; i++)
		pe->subq[(pe->sub_head + pe->sub_count + i) % e->depth] = pe->stage[i];
	pe->sub_count += n;
	wake = n < pe->idle ? n : pe->idle;
	if (wake == pe->idle)
		pthread_cond_broadcast(&pe->work_cv);
	else
		for (i = 0; i < wake; i++)
			pthread_cond_signal(&pe->work_cv);
	pthread_mutex_unlock(&pe->lock);
	pe->nstage = 0;
	pe->active += n;
	return (int)n;
}

/* Pop up to max completions; called with the lock held. */
static unsigned pop_done(struct psync_engine *pe, struct pvio_blk_io **done, unsigned max)
{
	unsigned n = 0;

	while (n < max && pe->done_count) {
		done[n++] = pe->doneq[pe->done_head];
		pe->done_head = (pe->done_head + 1) % pe->base.depth;
		pe->done_count--;
	}
	return n;
}

static int psync_reap(struct pvio_blk_engine *e, struct pvio_blk_io **done,
		      unsigned max, bool wait)
{
	struct psync_engine *pe = to_pe(e);
	unsigned n;

	psync_submit(e);
	pthread_mutex_lock(&pe->lock);
	if (wait && pe->active) {
		pe->reaper_waiting = true;
		while (!pe->done_count)
			pthread_cond_wait(&pe->done_cv, &pe->lock);
		pe->reaper_waiting = false;
	}
	n = pop_done(pe, done, max);
	/* Workers signal under the lock, so the eventfd now says exactly
	 * whether completions are left. */
	pvio__blk_efd_clear(e->efd);
	if (pe->done_count)
		pvio__blk_efd_signal(e->efd);
	pthread_mutex_unlock(&pe->lock);
	pe->active -= n;
	return (int)n;
}

static void psync_close(struct pvio_blk_engine *e)
{
	struct psync_engine *pe = to_pe(e);
	unsigned i;

	pthread_mutex_lock(&pe->lock);
	pe->stop = true;         /* workers finish what they hold, take no more */
	pthread_cond_broadcast(&pe->work_cv);
	pthread_mutex_unlock(&pe->lock);
	for (i = 0; i < pe->nthreads; i++)
		pthread_join(pe->threads[i], NULL);
	pthread_cond_destroy(&pe->work_cv);
	pthread_cond_destroy(&pe->done_cv);
	pthread_mutex_destroy(&pe->lock);
	free(pe->threads);
	free(pe->stage);
	free(pe->subq);
	free(pe->doneq);
	pvio__blk_engine_base_fini(e);
	free(pe);
}

static const struct pvio_blk_engine_ops psync_ops = {
	.name   = "psync",
	.queue  = psync_queue,
	.submit = psync_submit,
	.reap   = psync_reap,
	.close  = psync_close,
};

int pvio__blk_psync_open(int fd, const struct pvio_blk_engine_cfg *cfg,
			 struct pvio_blk_engine **out)
{
	struct psync_engine *pe;
	sigset_t all, old;
	unsigned want, i;
	int ret;

	pe = calloc(1, sizeof(*pe));
	if (!pe)
		return -ENOMEM;
	ret = pvio__blk_engine_base_init(&pe->base, &psync_ops, fd, cfg);
	if (ret)
		goto err_free;
	want = cfg->psync_threads ? cfg->psync_threads : PSYNC_DEFAULT_THREADS;
	if (want > cfg->depth)
		want = cfg->depth;
	if (want > PSYNC_MAX_THREADS)
		want = PSYNC_MAX_THREADS;
	pe->stage = calloc(cfg->depth, sizeof(*pe->stage));
	pe->subq = calloc(cfg->depth, sizeof(*pe->subq));
	pe->doneq = calloc(cfg->depth, sizeof(*pe->doneq));
	pe->threads = calloc(want, sizeof(*pe->threads));
	if (!pe->stage || !pe->subq || !pe->doneq || !pe->threads) {
		ret = -ENOMEM;
		goto err_arrays;
	}
	pthread_mutex_init(&pe->lock, NULL);
	pthread_cond_init(&pe->work_cv, NULL);
	pthread_cond_init(&pe->done_cv, NULL);

	/* Workers take no signals: they belong to the process's other threads. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (i = 0; i < want; i++) {
		ret = -pthread_create(&pe->threads[i], NULL, psync_worker, pe);
		if (ret)
			break;
		pe->nthreads++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!pe->nthreads)
		goto err_sync;
	snprintf(pe->base.info, sizeof(pe->base.info), "psync threads=%u", pe->nthreads);
	*out = &pe->base;
	return 0;

err_sync:
	pthread_cond_destroy(&pe->work_cv);
	pthread_cond_destroy(&pe->done_cv);
	pthread_mutex_destroy(&pe->lock);
err_arrays:
	free(pe->threads);
	free(pe->stage);
	free(pe->subq);
	free(pe->doneq);
	pvio__blk_engine_base_fini(&pe->base);
err_free:
	free(pe);
	return ret;
}
