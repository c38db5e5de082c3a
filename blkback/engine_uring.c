/* SPDX-License-Identifier: MIT */
/*
 * io_uring engine (liburing >= 2.3).
 *
 * Setup, first that the kernel accepts (PVIO_URING_SETUP=defer|coop|plain
 * in the environment forces one):
 *   defer  SINGLE_ISSUER | DEFER_TASKRUN | TASKRUN_FLAG | SUBMIT_ALL, created
 *          R_DISABLED and enabled by the first submit/reap, so that the
 *          issuing thread (the poller) becomes the single issuer even though
 *          open() ran elsewhere. Without R_DISABLED the creating thread is
 *          the issuer and any other thread gets -EEXIST.
 *   coop   COOP_TASKRUN | TASKRUN_FLAG | SUBMIT_ALL
 *   plain  SUBMIT_ALL, then no flags at all
 *
 * Readiness: an eventfd registered with io_uring_register_eventfd. Measured
 * on 6.18 with DEFER_TASKRUN: the kernel signals it as soon as completion
 * work is queued for the issuer (before any CQE is visible, with
 * IORING_SQ_TASKRUN set in the SQ flags), and again when that work is run
 * and CQEs are posted. So reap runs the deferred work (io_uring_get_events)
 * when IORING_SQ_TASKRUN is set, harvests, clears the eventfd, and harvests
 * once more; the flag is only a hint (it can stay set over an empty list,
 * see uring_reap). coop works the same way; plain needs no get_events.
 * The fd is left readable only when CQEs or task work remain.
 *
 * Liburing 2.3 declares io_uring_enable_rings() but does not export it: we
 * use io_uring_register(IORING_REGISTER_ENABLE_RINGS) directly.
 */
#include <errno.h>
#include <limits.h>
#include <linux/falloc.h>
#include <liburing.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blkback/engine_internal.h"

/* The guest's memory is registered as fixed buffers chunk by chunk, each on
 * the first I/O that uses it: registering pins (and so allocates and
 * zeroes) every page of the region, which for the whole of a guest's memory
 * at connect cost pvio-blkback 8 GiB of page clearing for 256 guests of 32
 * MiB and made every page of every guest resident. Chunks of 2 MiB, larger
 * for a guest of more than 32 GiB (the kernel takes at most 16384 buffers,
 * each at most 1 GiB). */
#define FIXED_CHUNK_MIN_SHIFT 21
#define FIXED_CHUNK_MAX_SHIFT 30
#define FIXED_MAX_BUFFERS     16384u
enum { CHUNK_UNUSED, CHUNK_REGISTERED, CHUNK_FAILED };
#define UDATA_INTERNAL    UINT64_MAX     /* cancel requests at close */

enum uring_mode { MODE_DEFER, MODE_COOP, MODE_PLAIN, MODE_NONE, MODE_COUNT };

struct uring_slot {
	struct pvio_blk_io *io;          /* NULL when free */
	struct pvio__blk_progress p;
};

struct uring_engine {
	struct pvio_blk_engine base;
	struct io_uring ring;
	unsigned setup_flags;
	bool     taskrun_flag;   /* kernel sets IORING_SQ_TASKRUN for us */
	bool     enabled;        /* false while R_DISABLED */
	bool     closing;        /* no resubmissions */
	pthread_t issuer;
	int      file;           /* 0 when registered (IOSQE_FIXED_FILE), else fd */
	unsigned sqe_flags;
	char    *fixed_base;     /* region of fixed buffers, NULL if none */
	size_t   fixed_len;
	unsigned chunk_shift;    /* its chunks: 1 << chunk_shift bytes */
	uint8_t *chunk;          /* CHUNK_*, registered on first use */
	unsigned sq_pending;     /* SQEs prepared, not yet taken by the kernel */
	unsigned active;         /* slots in use */
	struct uring_slot *slots;
	unsigned *free_stack;
	unsigned nfree;
	bool     evfd_toggle;    /* DEFER_TASKRUN: eventfd off while polled */
	bool     evfd_off;       /* IORING_CQ_EVENTFD_DISABLED is set */
};

static const struct pvio_blk_engine_ops uring_ops;

static inline struct uring_engine *to_ue(struct pvio_blk_engine *e)
{
	return (struct uring_engine *)e;
}

/* The ring fd is usable from this thread: enable it on first use. */
static int uring_enable(struct uring_engine *ue)
{
	int ret;

	if (ue->enabled)
		return 0;
	ret = io_uring_register(ue->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0);
	if (ret < 0)
		return ret;
	ue->enabled = true;
	ue->issuer = pthread_self();
	return 0;
}

/* Hand prepared SQEs to the kernel. Transient failures leave them in the SQ
 * for the next call and return 0. */
static int uring_flush(struct uring_engine *ue)
{
	int ret;

	if (!ue->sq_pending)
		return 0;
	ret = uring_enable(ue);
	if (ret < 0)
		return ret;
	ret = io_uring_submit(&ue->ring);
	if (ret < 0) {
		if (ret == -EAGAIN || ret == -EBUSY || ret == -EINTR)
			return 0;
		return ret;
	}
	if ((unsigned)ret > ue->sq_pending)
		ret = (int)ue->sq_pending;
	ue->sq_pending -= (unsigned)ret;
	return ret;
}

static struct io_uring_sqe *uring_get_sqe(struct uring_engine *ue)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ue->ring);

	if (!sqe) {
		/* The SQ is full of prepared entries (or, with SQPOLL, the
		 * kernel has not moved its head yet): submit and retry once. */
		if (uring_flush(ue) < 0)
			return NULL;
		sqe = io_uring_get_sqe(&ue->ring);
	}
	return sqe;
}

/* Index of the fixed buffer holding [base, base+len), registered now if
 * this is its first use, or -1 (outside the region, across two chunks, or a
 * chunk the kernel would not pin: plain readv/writev then). */
static int fixed_index(struct uring_engine *ue, const void *base, size_t len)
{
	uintptr_t a = (uintptr_t)base, r = (uintptr_t)ue->fixed_base;
	size_t first, last;

	if (!ue->fixed_base || len == 0 || a < r || a - r > ue->fixed_len ||
	    len > ue->fixed_len - (a - r))
		return -1;
	first = (a - r) >> ue->chunk_shift;
	last = (a - r + len - 1) >> ue->chunk_shift;
	if (first != last)
		return -1;
	if (ue->chunk[first] == CHUNK_UNUSED) {
		size_t off = first << ue->chunk_shift, size = (size_t)1 << ue->chunk_shift;
		struct iovec v = {
			.iov_base = ue->fixed_base + off,
			.iov_len = ue->fixed_len - off < size ? ue->fixed_len - off : size,
		};
		int ret = io_uring_register_buffers_update_tag(&ue->ring, (unsigned)first, &v,
							       NULL, 1);

		ue->chunk[first] = ret == 1 ? CHUNK_REGISTERED : CHUNK_FAILED;
		if (ret != 1)
			/* ENOMEM: over RLIMIT_MEMLOCK; EFAULT/EOPNOTSUPP:
			 * memory that cannot be pinned. Only an optimisation. */
			PVIO_BLK_LOG_ONCE("io_uring: registering %zu bytes of guest memory as "
					  "a fixed buffer failed (%s); using plain readv/writev "
					  "there", v.iov_len, strerror(ret < 0 ? -ret : EIO));
	}
	return ue->chunk[first] == CHUNK_REGISTERED ? (int)first : -1;
}

/* Prepare the SQE that does (the rest of) the slot's I/O. */
static int uring_prep(struct uring_engine *ue, unsigned idx)
{
	struct uring_slot *s = &ue->slots[idx];
	struct pvio_blk_io *io = s->io;
	struct io_uring_sqe *sqe;
	const struct iovec *v;
	unsigned cnt;
	off_t off;
	int buf;

	sqe = uring_get_sqe(ue);
	if (!sqe)
		return -EBUSY;
	switch (io->op) {
	case PVIO_BLK_IO_READ:
	case PVIO_BLK_IO_WRITE:
		v = pvio__blk_progress_vec(&s->p, io, &cnt);
		off = (off_t)(io->offset + s->p.done);
		buf = cnt == 1 ? fixed_index(ue, v->iov_base, v->iov_len) : -1;
		if (buf >= 0)
			ue->base.st.fixed++;
		if (buf >= 0 && io->op == PVIO_BLK_IO_READ)
			io_uring_prep_read_fixed(sqe, ue->file, v->iov_base,
						 (unsigned)v->iov_len, off, buf);
		else if (buf >= 0)
			io_uring_prep_write_fixed(sqe, ue->file, v->iov_base,
						  (unsigned)v->iov_len, off, buf);
		else if (io->op == PVIO_BLK_IO_READ)
			io_uring_prep_readv(sqe, ue->file, v, cnt, off);
		else
			io_uring_prep_writev(sqe, ue->file, v, cnt, off);
		break;
	case PVIO_BLK_IO_FLUSH:
		io_uring_prep_fsync(sqe, ue->file, IORING_FSYNC_DATASYNC);
		break;
	case PVIO_BLK_IO_DISCARD:
		io_uring_prep_fallocate(sqe, ue->file,
					FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					(off_t)io->offset, (off_t)io->len);
		break;
	}
	sqe->flags |= (uint8_t)ue->sqe_flags;
	io_uring_sqe_set_data64(sqe, idx);
	ue->sq_pending++;
	return 0;
}

static int uring_queue(struct pvio_blk_engine *e, struct pvio_blk_io *io)
{
	struct uring_engine *ue = to_ue(e);
	unsigned idx;
	int ret;

	if (io->op == PVIO_BLK_IO_DISCARD && e->is_blockdev) {
		/* BLKDISCARD has no io_uring opcode in this liburing: run it
		 * synchronously at submit, complete it through reap. */
		pvio__blk_sync_defer(e, io);
		return 0;
	}
	if (!ue->nfree)
		return -EBUSY;
	idx = ue->free_stack[--ue->nfree];
	ue->slots[idx].io = io;
	pvio__blk_progress_reset(&ue->slots[idx].p);
	ret = uring_prep(ue, idx);
	if (ret < 0) {
		ue->slots[idx].io = NULL;
		ue->free_stack[ue->nfree++] = idx;
		return ret;
	}
	ue->active++;
	return 0;
}

static int uring_submit(struct pvio_blk_engine *e)
{
	return uring_flush(to_ue(e));
}

static void slot_free(struct uring_engine *ue, unsigned idx)
{
	ue->slots[idx].io = NULL;
	ue->free_stack[ue->nfree++] = idx;
	ue->active--;
}

/* Account one CQE. Returns the I/O if it is complete, NULL if it was
 * resubmitted (short transfer, -EAGAIN) or was internal. */
static struct pvio_blk_io *uring_complete(struct uring_engine *ue, uint64_t udata, int res)
{
	struct uring_slot *s;
	struct pvio_blk_io *io;

	if (udata >= ue->base.depth)
		return NULL;             /* cancel request */
	s = &ue->slots[udata];
	io = s->io;
	if (!io)
		return NULL;
	if (ue->closing)
		goto done;
	if ((res == -EAGAIN || res == -EINTR) &&
	    ++s->p.retries < PVIO_BLK_ENGINE_MAX_RETRIES) {
		ue->base.st.resubmits++;
		if (uring_prep(ue, (unsigned)udata) == 0)
			return NULL;
		res = -EAGAIN;
		goto done;
	}
	s->p.retries = 0;
	if (io->op != PVIO_BLK_IO_READ && io->op != PVIO_BLK_IO_WRITE)
		goto done;
	if (res < 0)
		goto done;
	if (res == 0) {
		/* End of file: a read is short; a write would not progress. */
		res = io->op == PVIO_BLK_IO_READ ? 0 : -EIO;
		if (res == 0)
			goto short_done;
		goto done;
	}
	pvio__blk_progress_advance(&s->p, io, (uint64_t)res);
	if (s->p.done < io->len) {
		ue->base.st.resubmits++;
		if (uring_prep(ue, (unsigned)udata) == 0)
			return NULL;
		res = -EAGAIN;
		goto done;
	}
short_done:
	io->result = (int64_t)s->p.done;
	slot_free(ue, (unsigned)udata);
	return io;
done:
	io->result = res;
	slot_free(ue, (unsigned)udata);
	return io;
}

static bool taskrun_pending(const struct uring_engine *ue)
{
	return ue->taskrun_flag &&
	       (IO_URING_READ_ONCE(*ue->ring.sq.kflags) & IORING_SQ_TASKRUN);
}

/* Move CQEs into done[] (at most max); run deferred task work first. */
static unsigned uring_harvest(struct uring_engine *ue, struct pvio_blk_io **done,
			      unsigned max)
{
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0, n = 0;

	if (taskrun_pending(ue))
		io_uring_get_events(&ue->ring);
	io_uring_for_each_cqe(&ue->ring, head, cqe) {
		struct pvio_blk_io *io;

		if (n == max)
			break;
		io = uring_complete(ue, cqe->user_data, cqe->res);
		seen++;
		if (io)
			done[n++] = io;
	}
	io_uring_cq_advance(&ue->ring, seen);
	return n;
}

static bool uring_more(const struct uring_engine *ue)
{
	return io_uring_cq_ready(&ue->ring) || taskrun_pending(ue);
}

static int uring_reap(struct pvio_blk_engine *e, struct pvio_blk_io **done,
		      unsigned max, bool wait)
{
	struct uring_engine *ue = to_ue(e);
	struct io_uring_cqe *cqe;
	unsigned n = 0;
	int ret;

	if (!ue->active) {
		/* Nothing can complete: drop any stale or spurious signal. */
		pvio__blk_efd_clear(e->efd);
		return 0;
	}
	ret = uring_flush(ue);
	if (ret < 0)
		return ret;
	for (;;) {
		bool cleared = false;

		for (;;) {
			unsigned got = uring_harvest(ue, done + n, max - n);

			n += got;
			if (n == max) {
				/* Leave the fd readable only if more is there. */
				pvio__blk_efd_clear(e->efd);
				if (uring_more(ue))
					pvio__blk_efd_signal(e->efd);
				break;
			}
			/* Clear only after harvesting, then look once more:
			 * whatever completes after the clear signals again.
			 * Stop on progress alone, never on IORING_SQ_TASKRUN:
			 * the kernel (6.18) links new task work before it sets
			 * that flag, so when our get_events drains the list in
			 * between, the flag is set over an empty list and stays
			 * set until more work arrives (a reap that looped on it
			 * spun at 100% CPU). The eventfd is signalled on every
			 * empty -> non-empty transition, so nothing is lost. */
			if (cleared && !got && !io_uring_cq_ready(&ue->ring))
				break;
			pvio__blk_efd_clear(e->efd);
			cleared = true;
		}
		/* Resubmit partial transfers now, not at the next submit. */
		ret = uring_flush(ue);
		if (ret < 0 && n == 0)
			return ret;
		if (n || !wait || !ue->active)
			break;
		if (ue->sq_pending) {
			/* A resubmission the kernel did not take yet. */
			ret = io_uring_submit_and_wait(&ue->ring, 1);
			if (ret > 0)
				ue->sq_pending -= (unsigned)ret < ue->sq_pending ?
						  (unsigned)ret : ue->sq_pending;
		} else {
			ret = io_uring_wait_cqe(&ue->ring, &cqe);
		}
		if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY)
			return ret;
	}
	return (int)n;
}

/*
 * A poller's reap: no eventfd reads. On a DEFER_TASKRUN ring the eventfd is
 * switched off as well (IORING_CQ_EVENTFD_DISABLED), so the kernel does not
 * signal it on every completion while we look anyway. That ring posts CQEs
 * only in our own thread (inline, or when we run the deferred work), and
 * the kernel sets IORING_SQ_TASKRUN with a locked RMW before it looks at
 * the eventfd flag: uring_arm's switch-on, fence and flag check cannot both
 * miss. Other modes keep the eventfd on (a CQE posted from another context
 * could slip between switch-on and check).
 */
static int uring_poll(struct pvio_blk_engine *e, struct pvio_blk_io **done, unsigned max)
{
	struct uring_engine *ue = to_ue(e);
	unsigned n = 0, got;
	int ret;

	if (!ue->active)
		return 0;
	if (ue->evfd_toggle && !ue->evfd_off)
		ue->evfd_off = io_uring_cq_eventfd_toggle(&ue->ring, false) == 0;
	ret = uring_flush(ue);
	if (ret < 0)
		return ret;
	do {
		got = uring_harvest(ue, done + n, max - n);
		n += got;
	} while (got && n < max);
	/* Resubmit partial transfers now, not at the next submit. */
	ret = uring_flush(ue);
	if (ret < 0 && n == 0)
		return ret;
	return (int)n;
}

static bool uring_arm(struct pvio_blk_engine *e)
{
	struct uring_engine *ue = to_ue(e);

	if (ue->evfd_off) {
		io_uring_cq_eventfd_toggle(&ue->ring, true);
		ue->evfd_off = false;
	}
	/* A system call: the switch-on is visible before we look below. */
	pvio__blk_efd_clear(e->efd);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return ue->active && (ue->sq_pending || uring_more(ue));
}

static void uring_close(struct pvio_blk_engine *e)
{
	struct uring_engine *ue = to_ue(e);
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	unsigned head, seen;

	ue->closing = true;
	if (ue->active && !ue->enabled) {
		/* Queued but never submitted: nothing reached the kernel. */
		ue->active = 0;
	} else if (ue->active && (ue->setup_flags & IORING_SETUP_SINGLE_ISSUER) &&
		   !pthread_equal(ue->issuer, pthread_self())) {
		/* Only the issuer may enter the ring: the kernel cancels and
		 * finishes these asynchronously after the ring fd closes. */
		PVIO_BLK_LOG("io_uring: close with %u I/O in flight from a thread "
			     "that is not the issuer; not waiting for them", ue->active);
	} else if (ue->active) {
		uring_flush(ue);
		sqe = uring_get_sqe(ue);
		if (sqe) {
			io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
			io_uring_sqe_set_data64(sqe, UDATA_INTERNAL);
			ue->sq_pending++;
			uring_flush(ue);
		}
		while (ue->active) {
			int ret = io_uring_wait_cqe(&ue->ring, &cqe);

			if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -ETIME) {
				PVIO_BLK_LOG("io_uring: close: wait: %s", strerror(-ret));
				break;
			}
			seen = 0;
			io_uring_for_each_cqe(&ue->ring, head, cqe) {
				uring_complete(ue, cqe->user_data, cqe->res);
				seen++;
			}
			io_uring_cq_advance(&ue->ring, seen);
		}
	}
	io_uring_queue_exit(&ue->ring);
	free(ue->chunk);
	free(ue->slots);
	free(ue->free_stack);
	pvio__blk_engine_base_fini(e);
	free(ue);
}

static const struct pvio_blk_engine_ops uring_ops = {
	.name   = "io_uring",
	.queue  = uring_queue,
	.submit = uring_submit,
	.reap   = uring_reap,
	.poll   = uring_poll,
	.arm    = uring_arm,
	.close  = uring_close,
};

static const struct {
	const char *name;
	unsigned flags;
} setup_modes[MODE_COUNT] = {
	[MODE_DEFER] = { "defer", IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
				  IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_SUBMIT_ALL |
				  IORING_SETUP_R_DISABLED },
	[MODE_COOP]  = { "coop", IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG |
				 IORING_SETUP_SUBMIT_ALL },
	[MODE_PLAIN] = { "plain", IORING_SETUP_SUBMIT_ALL },
	[MODE_NONE]  = { "none", 0 },
};

static unsigned round_pow2(unsigned v)
{
	unsigned r = 1;

	while (r < v)
		r <<= 1;
	return r;
}

static int ring_init(struct uring_engine *ue, unsigned entries, const char **mode_name)
{
	const char *force = getenv("PVIO_URING_SETUP");
	int first = MODE_DEFER, last = MODE_NONE, m, ret = -EINVAL;

	if (force && *force && strcmp(force, "auto") != 0) {
		for (m = 0; m < MODE_COUNT; m++)
			if (strcmp(force, setup_modes[m].name) == 0)
				first = last = m;
		if (first != last)
			PVIO_BLK_LOG_ONCE("io_uring: PVIO_URING_SETUP=%s unknown, using auto",
					  force);
	}
	for (m = first; m <= last; m++) {
		struct io_uring_params p;

		memset(&p, 0, sizeof(p));
		p.flags = setup_modes[m].flags;
		ret = io_uring_queue_init_params(entries, &ue->ring, &p);
		if (ret == 0) {
			ue->setup_flags = p.flags;
			ue->taskrun_flag = p.flags & IORING_SETUP_TASKRUN_FLAG;
			ue->enabled = !(p.flags & IORING_SETUP_R_DISABLED);
			ue->evfd_toggle = (p.flags & IORING_SETUP_DEFER_TASKRUN) &&
					  ue->taskrun_flag && ue->ring.cq.kflags;
			*mode_name = setup_modes[m].name;
			return 0;
		}
		if (ret != -EINVAL)
			break;           /* not a flag problem: ENOMEM, EPERM... */
	}
	return ret;
}

/* A table of empty fixed-buffer slots, one per chunk of a region of len bytes;
 * fixed_index() fills them. */
static int register_fixed(struct uring_engine *ue, size_t len)
{
	unsigned shift = FIXED_CHUNK_MIN_SHIFT;
	size_t n;
	int ret;

	while (shift < FIXED_CHUNK_MAX_SHIFT &&
	       ((len + ((size_t)1 << shift) - 1) >> shift) > FIXED_MAX_BUFFERS)
		shift++;
	n = (len + ((size_t)1 << shift) - 1) >> shift;
	if (n > FIXED_MAX_BUFFERS)
		return -E2BIG;
	ue->chunk = calloc(n, 1);
	if (!ue->chunk)
		return -ENOMEM;
	ret = io_uring_register_buffers_sparse(&ue->ring, (unsigned)n);
	if (ret < 0) {
		free(ue->chunk);
		ue->chunk = NULL;
		return ret;
	}
	ue->chunk_shift = shift;
	return 0;
}

int pvio__blk_uring_open(int fd, const struct pvio_blk_engine_cfg *cfg,
			 struct pvio_blk_engine **out)
{
	struct uring_engine *ue;
	const char *mode = "?";
	unsigned i;
	int ret;

	ue = calloc(1, sizeof(*ue));
	if (!ue)
		return -ENOMEM;
	ret = pvio__blk_engine_base_init(&ue->base, &uring_ops, fd, cfg);
	if (ret)
		goto err_free;
	ue->slots = calloc(cfg->depth, sizeof(*ue->slots));
	ue->free_stack = calloc(cfg->depth, sizeof(*ue->free_stack));
	if (!ue->slots || !ue->free_stack) {
		ret = -ENOMEM;
		goto err_base;
	}
	for (i = 0; i < cfg->depth; i++)
		ue->free_stack[i] = cfg->depth - 1 - i;
	ue->nfree = cfg->depth;

	ret = ring_init(ue, round_pow2(cfg->depth), &mode);
	if (ret)
		goto err_base;
	ret = io_uring_register_eventfd(&ue->ring, ue->base.efd);
	if (ret)
		goto err_ring;

	ue->file = fd;
	if (io_uring_register_files(&ue->ring, &fd, 1) == 0) {
		ue->file = 0;
		ue->sqe_flags = IOSQE_FIXED_FILE;
	}
	if (cfg->fixed_base && cfg->fixed_len) {
		ret = register_fixed(ue, cfg->fixed_len);
		if (ret == 0) {
			ue->fixed_base = cfg->fixed_base;
			ue->fixed_len = cfg->fixed_len;
		} else {
			/* A kernel without sparse buffer tables (before 5.19).
			 * Only an optimisation. */
			PVIO_BLK_LOG_ONCE("io_uring: a table of fixed buffers for %zu bytes "
					  "failed (%s); using plain readv/writev",
					  cfg->fixed_len, strerror(-ret));
		}
	}
	snprintf(ue->base.info, sizeof(ue->base.info),
		 "io_uring setup=%s flags=0x%x entries=%u file=%s fixed=%s",
		 mode, ue->setup_flags, ue->ring.sq.ring_entries,
		 ue->sqe_flags ? "registered" : "plain",
		 ue->fixed_base ? "registered" : "none");
	*out = &ue->base;
	return 0;

err_ring:
	io_uring_queue_exit(&ue->ring);
err_base:
	free(ue->slots);
	free(ue->free_stack);
	pvio__blk_engine_base_fini(&ue->base);
err_free:
	free(ue);
	return ret;
}
