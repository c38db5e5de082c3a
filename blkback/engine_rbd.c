/* SPDX-License-Identifier: MIT */
/*
 * rbd engine: disks on Ceph RBD images through librbd (rbd.h: the target,
 * the defaults, who opens what).
 *
 * The image is opened once per disk by the control plane
 * (pvio__blk_rbd_image_open, below, reached through pvio_blk_rbd_open) and
 * shared by the disk's engines, one per ring queue. READ and WRITE are
 * rbd_aio_readv/rbd_aio_writev straight on the request's iovecs (the
 * mapped guest segments; librbd copies a write's data before the call
 * returns, rbd_disable_zero_copy_writes), FLUSH is rbd_aio_flush (blkback
 * answers it only once every earlier request has completed), DISCARD
 * rbd_aio_discard (whole objects removed, partial ones zeroed:
 * rbd_skip_partial_discard is off, so a discarded range reads back as
 * zeros).
 *
 * Completions: the completion callback of each I/O runs on the librbd
 * thread that finishes it and pushes the I/O onto its engine's lock-free
 * list, then writes the engine's eventfd (the fd the queue's poller sleeps
 * on) unless it has been written since the poller last looked. No thread
 * of ours in between.
 *   Wake-ups are batched while the queue is deep enough: with at least
 * RBD_WAKE_DEEP (4) I/Os still in librbd, the callback wakes the poller
 * only once RBD_WAKE_BATCH (4) completions wait, so a held completion
 * has I/Os behind it in the cluster to fill its batch. A poller that
 * sleeps on the fd looks again after RBD_HOLD_MS (1 ms) while completions
 * may be held (pvio_blk_engine_hold_ms; pvio-blkback's worker and reap
 * with wait do), so a small I/O behind slow ones waits at most that.
 * The guest then gets its responses at least four at a time and
 * resubmits as many. QD1..4, and the last I/Os of a deeper queue, are
 * woken for at once. On a one-OSD cluster sharing 2 CPUs with the
 * backend, the CPU the wake-ups took was the OSD's (pvio-bench rbd,
 * pvio / fio's own rbd engine, median of pairs): 4k random reads at QD32
 * 0.79 -> 0.88-0.92, CPU per I/O (guest + backend) about 81 -> 66 us;
 * 64k reads at QD8 0.92 -> 1.00, CPU per I/O 177 -> 136 us.
 *   Why not rbd_set_image_notification + rbd_poll_io_events: that event
 * socket and its completion queue belong to the image handle, and a disk's
 * queues run on different workers, so every poller would drain the other
 * queues' completions. A handle per queue would fix that but make the
 * queues separate owners of RBD's exclusive lock: with the lock taken at
 * open (rbd.h) the other queues' writes fail with EROFS; without it the
 * lock moves between them on every write (measured here: 7.5 ms per write
 * when two handles alternate). (librbd runs C callbacks from its op work
 * queue, a step the event socket skips; 4k random reads at QD32 on a
 * one-OSD cluster measured the same either way, 17-20k IOPS.)
 *
 * Results: a READ returns its length or fails; a short read is -EIO, never
 * zeros. librbd's errors (-ETIMEDOUT when the OSDs do not answer within
 * rados_osd_op_timeout) go to blkback as they are, which answers
 * BLKIF_RSP_ERROR; each is logged here naming the image (rate-limited).
 * librbd reconnects by itself: when the cluster is back, new I/O succeeds.
 *
 * close: librbd cannot cancel an I/O, so close waits for what is in flight
 * (at most the OSD op timeout), then for the last callbacks to leave.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <rados/librados.h>
#include <rbd/librbd.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blkback/engine_internal.h"
#include "blkback/rbd.h"
#include "ring/errbuf.h"
#include "ring/ratelimit.h"

/* ------------------------------------------------------------ the image */

struct pvio_blk_rbd {
	rados_t cluster;
	rados_ioctx_t ioctx;
	rbd_image_t image;
	struct pvio_blk_rbd_info info;
};

/* Set a Ceph option; a bad one is named. */
static int conf_set(rados_t cl, const char *k, const char *v, char *err, size_t el)
{
	int r = rados_conf_set(cl, k, v);

	if (r == -ENOENT)
		pvio_errbuf(err, el, "unknown Ceph option '%s'", k);
	else if (r < 0)
		pvio_errbuf(err, el, "Ceph option %s=%s: %s", k, v, strerror(-r));
	return r < 0 ? -EINVAL : 0;
}

/* A timeout left unbounded (or at Ceph's 300 s for the mount) gets 30 s. */
static int bound_timeout(rados_t cl, const char *k, const char *unbounded, char *err,
			 size_t el)
{
	char v[32];

	if (rados_conf_get(cl, k, v, sizeof(v)) == 0 && strcmp(v, unbounded))
		return 0;
	return conf_set(cl, k, "30", err, el);
}

int pvio__blk_rbd_image_open(const struct pvio_blk_rbd_spec *s, bool readonly,
			     struct pvio_blk_rbd **out, char *err, size_t el)
{
	struct pvio_blk_rbd *r;
	rbd_image_info_t st;
	uint64_t features = 0;
	bool conf_read;
	char tmo[32];
	int ret;

	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	snprintf(r->info.name, sizeof(r->info.name), "%s%s%s/%s%s%s", s->pool, s->ns[0] ? "/" : "",
		 s->ns, s->image, s->snap[0] ? "@" : "", s->snap);
	ret = rados_create(&r->cluster, s->id[0] ? s->id : NULL);
	if (ret < 0) {
		pvio_errbuf(err, el, "rados_create (client.%s): %s", s->id[0] ? s->id : "admin",
		       strerror(-ret));
		goto err_free;
	}
	/* ceph.conf first; pvio's defaults over it; the target's options last. */
	ret = rados_conf_read_file(r->cluster, s->conf[0] ? s->conf : NULL);
	if (ret < 0 && s->conf[0]) {
		pvio_errbuf(err, el, "cannot read conf %s: %s", s->conf, strerror(-ret));
		ret = -EINVAL;
		goto err_shutdown;
	}
	conf_read = ret == 0;
	if ((ret = conf_set(r->cluster, "rbd_cache", "false", err, el)) ||
	    (ret = conf_set(r->cluster, "rbd_skip_partial_discard", "false", err, el)) ||
	    (ret = bound_timeout(r->cluster, "rados_osd_op_timeout", "0", err, el)) ||
	    (ret = bound_timeout(r->cluster, "rados_mon_op_timeout", "0", err, el)) ||
	    (ret = bound_timeout(r->cluster, "client_mount_timeout", "300", err, el)))
		goto err_shutdown;
	for (unsigned i = 0; i < s->nopts; i++)
		if ((ret = conf_set(r->cluster, s->opt[i].key, s->opt[i].val, err, el)))
			goto err_shutdown;
	/* A guest may change its granted pages while a write is in flight:
	 * librbd must copy them (rbd.c refuses a target that says otherwise). */
	if ((ret = conf_set(r->cluster, "rbd_disable_zero_copy_writes", "true", err, el)))
		goto err_shutdown;
	ret = rados_connect(r->cluster);
	if (ret < 0) {
		if (rados_conf_get(r->cluster, "client_mount_timeout", tmo, sizeof(tmo)))
			snprintf(tmo, sizeof(tmo), "?");
		if (ret == -ENOENT && !conf_read)
			pvio_errbuf(err, el, "no monitor addresses: no ceph.conf found (give "
			       "conf=PATH, set CEPH_CONF, or give mon_host=)");
		else if (ret == -ETIMEDOUT)
			pvio_errbuf(err, el, "the cluster's monitors did not answer within "
			       "client_mount_timeout (%s s)", tmo);
		else
			pvio_errbuf(err, el, "cannot connect to the cluster as client.%s: %s",
			       s->id[0] ? s->id : "admin", strerror(-ret));
		goto err_shutdown;
	}
	ret = rados_ioctx_create(r->cluster, s->pool, &r->ioctx);
	if (ret < 0) {
		pvio_errbuf(err, el, ret == -ENOENT ? "no pool '%s'" : "pool '%s': %s", s->pool,
		       strerror(-ret));
		goto err_shutdown;
	}
	if (s->ns[0])
		rados_ioctx_set_namespace(r->ioctx, s->ns);
	readonly = readonly || s->snap[0];
	if (readonly)
		ret = rbd_open_read_only(r->ioctx, s->image, &r->image, s->snap[0] ? s->snap : NULL);
	else
		ret = rbd_open(r->ioctx, s->image, &r->image, NULL);
	if (ret < 0) {
		if (ret == -ENOENT)
			pvio_errbuf(err, el, "%s: no such image%s", r->info.name,
			       s->snap[0] ? " or snapshot" : "");
		else
			pvio_errbuf(err, el, "cannot open image %s: %s", r->info.name, strerror(-ret));
		goto err_ioctx;
	}
	ret = rbd_stat(r->image, &st, sizeof(st));
	if (ret < 0) {
		pvio_errbuf(err, el, "%s: rbd_stat: %s", r->info.name, strerror(-ret));
		goto err_close;
	}
	r->info.size = st.size;
	r->info.obj_size = st.obj_size;
	r->info.readonly = readonly;
	if (rbd_get_features(r->image, &features) < 0)
		features = 0;
	if (!readonly && (features & RBD_FEATURE_EXCLUSIVE_LOCK)) {
		/* Now, and for as long as the image is open: a second
		 * writer is refused at its open, as here (rbd.h). */
		ret = rbd_lock_acquire(r->image, RBD_LOCK_MODE_EXCLUSIVE);
		if (ret < 0) {
			char *owners[4] = { NULL };
			size_t n = 4;
			rbd_lock_mode_t mode;
			bool got = rbd_lock_get_owners(r->image, &mode, owners, &n) == 0 && n > 0;

			pvio_errbuf(err, el, "%s is in use by another writer (its exclusive lock is "
			       "held by %s%s%s): refusing to open it writable; attach it "
			       "read-only or stop the other writer", r->info.name,
			       got ? owners[0] : "another client",
			       ret == -EROFS || ret == -EBUSY ? "" : "; ",
			       ret == -EROFS || ret == -EBUSY ? "" : strerror(-ret));
			if (got)
				rbd_lock_get_owners_cleanup(owners, n);
			ret = -EBUSY;
			goto err_close;
		}
		r->info.locked = true;
	} else if (!readonly) {
		PVIO_BLK_LOG("rbd %s: no exclusive-lock feature: nothing stops a second writer",
			     r->info.name);
	}
	*out = r;
	return 0;

err_close:
	rbd_close(r->image);
err_ioctx:
	rados_ioctx_destroy(r->ioctx);
err_shutdown:
	rados_shutdown(r->cluster);
err_free:
	free(r);
	return ret < 0 ? ret : -EIO;
}

void pvio__blk_rbd_image_close(struct pvio_blk_rbd *r)
{
	/* rbd_close releases the exclusive lock; with the cluster gone it
	 * waits for the OSD op timeout. */
	rbd_close(r->image);
	rados_ioctx_destroy(r->ioctx);
	rados_shutdown(r->cluster);
	free(r);
}

void pvio__blk_rbd_image_info(const struct pvio_blk_rbd *r, struct pvio_blk_rbd_info *info)
{
	*info = r->info;
}

/* ------------------------------------------------------------ the engine */

/* Completions per wake-up of the poller while at least RBD_WAKE_DEEP I/Os
 * stay in librbd (see the top of the file). */
#define RBD_WAKE_BATCH 4u
#define RBD_WAKE_DEEP  RBD_WAKE_BATCH
#define RBD_HOLD_MS    1     /* the longest a completion is held (rbd_hold_ms) */

struct rbd_engine;

struct rbd_slot {
	struct pvio_blk_io *io;          /* NULL when free */
	struct rbd_engine *re;
	rbd_completion_t comp;
	struct rbd_slot *next;           /* on the done list or the stash */
};

struct rbd_engine {
	struct pvio_blk_engine base;
	rbd_image_t image;
	const char *name;                /* the image's, for logs */
	struct rbd_slot *slots;
	unsigned *free_stack;
	unsigned nfree;
	struct rbd_slot **pend;          /* queued, not yet handed to librbd */
	unsigned npend;
	unsigned active;                 /* handed to librbd, not yet handed out */
	struct rbd_slot *done;           /* [librbd's threads push, issuer takes] */
	struct rbd_slot *stash, *stash_tail;  /* taken, oldest first */
	unsigned in_cb;                  /* callbacks between their first and last
					  * touch of this engine (close waits) */
	unsigned flying;                 /* [atomic] in librbd, callback not yet run */
	unsigned ndone;                  /* [atomic] on the done list (about) */
	unsigned signaled;               /* [atomic] eventfd written since the
					  * issuer last looked (arm, reap) */
	struct pvio_ratelimit log_rl;    /* error lines (issuer only) */
};

static inline struct rbd_engine *to_re(struct pvio_blk_engine *e)
{
	return (struct rbd_engine *)e;
}

static const char *op_name(uint8_t op)
{
	return op == PVIO_BLK_IO_READ ? "read" : op == PVIO_BLK_IO_WRITE ? "write" :
	       op == PVIO_BLK_IO_FLUSH ? "flush" : "discard";
}

/* On a librbd thread: the I/O of slot arg finished. */
static void rbd_cb(rbd_completion_t c, void *arg)
{
	struct rbd_slot *s = arg;
	struct rbd_engine *re = s->re;
	int efd = re->base.efd;
	struct rbd_slot *head;
	unsigned waiting, flying;

	(void)c;
	/* Before the push: close, once it has taken this slot, sees us. */
	pvio_fetch_add(&re->in_cb, 1);
	head = pvio_load_relaxed(&re->done);
	do {
		s->next = head;
		/* Pairs with take_done()'s exchange: s and its completion
		 * are complete when the issuer sees s. (seq_cst: see below.) */
	} while (!__atomic_compare_exchange_n(&re->done, &head, s, 0, __ATOMIC_SEQ_CST,
					      __ATOMIC_RELAXED));
	/* Wake the poller once RBD_WAKE_BATCH completions wait, or at once
	 * when fewer than RBD_WAKE_DEEP stay in librbd; one eventfd write
	 * until the issuer looks again (arm, reap, close). All seq_cst: the
	 * issuer clears `signaled`, then looks at the list (a load or the
	 * exchange in take_done); we push, then test `signaled`; so one of
	 * us sees the other. */
	waiting = __atomic_add_fetch(&re->ndone, 1, __ATOMIC_SEQ_CST);
	flying = __atomic_sub_fetch(&re->flying, 1, __ATOMIC_SEQ_CST);
	if ((waiting >= RBD_WAKE_BATCH || flying < RBD_WAKE_DEEP) &&
	    !__atomic_exchange_n(&re->signaled, 1, __ATOMIC_SEQ_CST)) {
		pvio__blk_efd_signal(efd);
		pvio_fetch_add(&re->base.st.signals, 1);
	}
	/* Last touch of the engine: pairs with close()'s acquire load. */
	__atomic_fetch_sub(&re->in_cb, 1, __ATOMIC_RELEASE);
}

/* Move what the callbacks pushed onto the stash, oldest first. */
static void take_done(struct rbd_engine *re)
{
	/* Pairs with rbd_cb()'s push; seq_cst, as the look that follows a
	 * clear of `signaled` (reap) must not come before that store. */
	struct rbd_slot *s = __atomic_exchange_n(&re->done, NULL, __ATOMIC_SEQ_CST);
	struct rbd_slot *rev = NULL, *tail = s;
	unsigned cnt = 0;

	if (!s)
		return;
	while (s) {
		struct rbd_slot *n = s->next;

		cnt++;
		s->next = rev;
		rev = s;
		s = n;
	}
	if (re->stash)
		re->stash_tail->next = rev;
	else
		re->stash = rev;
	re->stash_tail = tail;
	__atomic_sub_fetch(&re->ndone, cnt, __ATOMIC_SEQ_CST);
}

static void slot_free(struct rbd_engine *re, struct rbd_slot *s)
{
	s->io = NULL;
	re->free_stack[re->nfree++] = (unsigned)(s - re->slots);
}

/* The result librbd gave, as engine.h defines io->result. */
static int64_t result_of(struct rbd_engine *re, struct rbd_slot *s)
{
	struct pvio_blk_io *io = s->io;
	ssize_t r = rbd_aio_get_return_value(s->comp);
	bool note;

	if (r >= 0) {
		switch (io->op) {
		case PVIO_BLK_IO_READ:
			if ((uint64_t)r == io->len)
				return r;
			r = -EIO;        /* short: an error, never zeros */
			break;
		case PVIO_BLK_IO_WRITE:
			return (int64_t)io->len;
		default:
			return 0;
		}
	}
	if (pvio_ratelimit_allow(&re->log_rl, 5, &note)) {
		if (note)
			PVIO_BLK_LOG("rbd %s: (further I/O errors were not logged)", re->name);
		PVIO_BLK_LOG("rbd %s: %s of %" PRIu64 " bytes at offset %" PRIu64 ": %s%s",
			     re->name, op_name(io->op), io->len, io->offset, strerror((int)-r),
			     r == -EIO && io->op == PVIO_BLK_IO_READ ? " (short read)" : "");
	}
	return r;
}

/* Hand out up to max completions from the stash. */
static unsigned hand_out(struct rbd_engine *re, struct pvio_blk_io **done, unsigned max)
{
	unsigned n = 0;

	while (n < max && re->stash) {
		struct rbd_slot *s = re->stash;
		struct pvio_blk_io *io = s->io;

		re->stash = s->next;
		io->result = result_of(re, s);
		rbd_aio_release(s->comp);
		slot_free(re, s);
		re->active--;
		done[n++] = io;
	}
	return n;
}

/* While RBD_WAKE_DEEP or more I/Os are in librbd a completion may be held
 * for its batch: a sleeper looks again after RBD_HOLD_MS, so that a small
 * I/O behind slow ones (4 MiB reads, a degraded placement group) is not
 * held for as long as they take. */
static int rbd_hold_ms(struct pvio_blk_engine *e)
{
	struct rbd_engine *re = to_re(e);

	return __atomic_load_n(&re->flying, __ATOMIC_RELAXED) >= RBD_WAKE_DEEP ?
	       RBD_HOLD_MS : -1;
}

/* The issuer is about to look at the list (arm, reap, close): drop the
 * fd's stale readiness and let the next callback signal again. Before the
 * look, seq_cst (see rbd_cb). */
static void rbd_rearm_signal(struct rbd_engine *re)
{
	pvio__blk_efd_clear(re->base.efd);
	__atomic_store_n(&re->signaled, 0, __ATOMIC_SEQ_CST);
}

static int rbd_queue(struct pvio_blk_engine *e, struct pvio_blk_io *io)
{
	struct rbd_engine *re = to_re(e);
	struct rbd_slot *s;

	if (!re->nfree)
		return -EBUSY;
	s = &re->slots[re->free_stack[--re->nfree]];
	s->io = io;
	re->pend[re->npend++] = s;
	return 0;
}

/* Hand one slot's I/O to librbd: 0, or -errno (then nothing was started). */
static int issue(struct rbd_engine *re, struct rbd_slot *s)
{
	struct pvio_blk_io *io = s->io;
	int r;

	r = rbd_aio_create_completion(s, rbd_cb, &s->comp);
	if (r < 0)
		return r;
	__atomic_add_fetch(&re->flying, 1, __ATOMIC_SEQ_CST);
	switch (io->op) {
	case PVIO_BLK_IO_READ:
		r = rbd_aio_readv(re->image, io->iov, io->iovcnt, io->offset, s->comp);
		break;
	case PVIO_BLK_IO_WRITE:
		r = rbd_aio_writev(re->image, io->iov, io->iovcnt, io->offset, s->comp);
		break;
	case PVIO_BLK_IO_FLUSH:
		r = rbd_aio_flush(re->image, s->comp);
		break;
	default:
		r = rbd_aio_discard(re->image, io->offset, io->len, s->comp);
		break;
	}
	/* A call that fails at once never runs the callback. */
	if (r < 0) {
		__atomic_sub_fetch(&re->flying, 1, __ATOMIC_SEQ_CST);
		rbd_aio_release(s->comp);
	}
	return r;
}

static int rbd_submit(struct pvio_blk_engine *e)
{
	struct rbd_engine *re = to_re(e);
	unsigned i;
	int n = 0;

	for (i = 0; i < re->npend; i++) {
		struct rbd_slot *s = re->pend[i];
		struct pvio_blk_io *io = s->io;
		int r = issue(re, s);

		if (r < 0) {
			bool note;

			if (pvio_ratelimit_allow(&re->log_rl, 5, &note))
				PVIO_BLK_LOG("rbd %s: cannot start a %s at offset %" PRIu64 ": %s",
					     re->name, op_name(io->op), io->offset, strerror(-r));
			slot_free(re, s);
			io->result = r;
			pvio__blk_complete_now(e, io);
			continue;
		}
		re->active++;
		n++;
	}
	re->npend = 0;
	return n;
}

static int rbd_reap(struct pvio_blk_engine *e, struct pvio_blk_io **done, unsigned max,
		    bool wait)
{
	struct rbd_engine *re = to_re(e);
	unsigned n;

	if (re->npend)
		rbd_submit(e);
	for (;;) {
		/* Clear the fd and `signaled`, then take: a callback after
		 * that signals again once its batch condition holds. */
		rbd_rearm_signal(re);
		take_done(re);
		n = hand_out(re, done, max);
		if (re->stash)
			pvio__blk_efd_signal(e->efd);   /* more than max were waiting */
		if (n || !wait || !re->active)
			return (int)n;
		{
			struct pollfd pf = { .fd = e->efd, .events = POLLIN };

			/* A completion may be held for its batch: look again
			 * after the hold bound. */
			if (poll(&pf, 1, rbd_hold_ms(e)) < 0 && errno != EINTR)
				return -errno;
		}
	}
}

static int rbd_poll(struct pvio_blk_engine *e, struct pvio_blk_io **done, unsigned max)
{
	struct rbd_engine *re = to_re(e);

	if (re->npend)
		rbd_submit(e);
	take_done(re);
	return (int)hand_out(re, done, max);
}

static bool rbd_arm(struct pvio_blk_engine *e)
{
	struct rbd_engine *re = to_re(e);

	if (re->stash || re->npend || pvio_load_acquire(&re->done))
		return true;
	/* Drop the signals of completions already taken (they would wake
	 * the poller for nothing); one pushed since is seen below, one
	 * pushed after signals once its batch condition holds (or the
	 * caller's timeout, rbd_hold_ms, finds it). */
	rbd_rearm_signal(re);
	return __atomic_load_n(&re->done, __ATOMIC_SEQ_CST) != NULL;
}

static void rbd_engine_close(struct pvio_blk_engine *e)
{
	struct rbd_engine *re = to_re(e);
	struct pvio_blk_io *drop[64];
	time_t start = time(NULL), said = start;

	/* Queued, never started: dropped. */
	for (unsigned i = 0; i < re->npend; i++)
		slot_free(re, re->pend[i]);
	re->npend = 0;
	/* Started: librbd cannot cancel, so wait (bounded by the OSD op
	 * timeout); the results are not reported. */
	while (re->active) {
		struct pollfd pf = { .fd = e->efd, .events = POLLIN };

		take_done(re);
		while (re->stash)
			hand_out(re, drop, 64);
		if (!re->active)
			break;
		if (poll(&pf, 1, 1000) > 0)
			rbd_rearm_signal(re);
		if (time(NULL) - said >= 5) {
			said = time(NULL);
			PVIO_BLK_LOG("rbd %s: closing: still waiting for %u I/O(s) (%lld s)",
				     re->name, re->active, (long long)(said - start));
		}
	}
	/* Pairs with rbd_cb()'s release decrement: its last touch is done. */
	while (pvio_load_acquire(&re->in_cb))
		sched_yield();
	free(re->slots);
	free(re->free_stack);
	free(re->pend);
	pvio__blk_engine_base_fini(e);
	free(re);
}

static const struct pvio_blk_engine_ops rbd_ops = {
	.name   = "rbd",
	.queue  = rbd_queue,
	.submit = rbd_submit,
	.reap   = rbd_reap,
	.poll   = rbd_poll,
	.arm    = rbd_arm,
	.hold_ms = rbd_hold_ms,
	.close  = rbd_engine_close,
};

int pvio__blk_rbd_engine_open(const struct pvio_blk_engine_cfg *cfg,
			      struct pvio_blk_engine **out)
{
	struct rbd_engine *re;
	unsigned i;
	int ret;

	re = calloc(1, sizeof(*re));
	if (!re)
		return -ENOMEM;
	ret = pvio__blk_engine_base_init(&re->base, &rbd_ops, -1, cfg);
	if (ret)
		goto err_free;
	re->image = cfg->rbd->image;
	re->name = cfg->rbd->info.name;
	re->slots = calloc(cfg->depth, sizeof(*re->slots));
	re->free_stack = calloc(cfg->depth, sizeof(*re->free_stack));
	re->pend = calloc(cfg->depth, sizeof(*re->pend));
	if (!re->slots || !re->free_stack || !re->pend) {
		ret = -ENOMEM;
		goto err_base;
	}
	for (i = 0; i < cfg->depth; i++) {
		re->slots[i].re = re;
		re->free_stack[i] = cfg->depth - 1 - i;
	}
	re->nfree = cfg->depth;
	snprintf(re->base.info, sizeof(re->base.info), "rbd %.100s depth=%u%s", re->name,
		 cfg->depth, cfg->rbd->info.readonly ? " read-only" : "");
	*out = &re->base;
	return 0;

err_base:
	free(re->slots);
	free(re->free_stack);
	free(re->pend);
	pvio__blk_engine_base_fini(&re->base);
err_free:
	free(re);
	return ret;
}
