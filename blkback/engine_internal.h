/* SPDX-License-Identifier: MIT */
/*
 * Private parts shared by the block I/O engines (engine.c, engine_uring.c,
 * engine_aio.c, engine_psync.c, engine_rbd.c). Not installed.
 *
 * Every engine embeds struct pvio_blk_engine as its first member. engine.c
 * validates each I/O, enforces the depth limit (e->nr counts I/Os queued or
 * in flight) and owns two small FIFOs used by the issuer thread only:
 *
 *   sync_q    I/Os an engine chose to run synchronously (BLKDISCARD, discard
 *             under libaio, fdatasync when aio fsync is unsupported). They
 *             run at the next submit (or reap), never inside queue().
 *   done_q    I/Os completed synchronously, handed out first by reap.
 *
 * Both hold at most depth entries because e->nr <= depth.
 *
 * Readiness (the engine fd, an eventfd): an engine clears the eventfd only
 * after harvesting, and then harvests once more; whatever completes after
 * the clear signals the eventfd again. So the fd may be readable with
 * nothing to reap (a spurious wake-up), but it is never left clear while a
 * completion waits.
 */
#ifndef PVIO_BLK_ENGINE_INTERNAL_H
#define PVIO_BLK_ENGINE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/uio.h>

#include "blkback/engine.h"
#include "ring/pvio_atomic.h"

/* Largest depth any engine accepts (io_uring's SQ ring limit). */
#define PVIO_BLK_ENGINE_MAX_DEPTH 32768u

/* Consecutive -EAGAIN/-EINTR results after which an I/O fails rather than
 * being resubmitted once more (guards against a livelock). */
#define PVIO_BLK_ENGINE_MAX_RETRIES 1000u

struct pvio_blk_engine;

struct pvio_blk_engine_ops {
	const char *name;
	/* io is validated and e->nr < depth; 0 or -errno (then not queued). */
	int  (*queue)(struct pvio_blk_engine *e, struct pvio_blk_io *io);
	/* Returns the number of I/Os handed to the kernel/workers, or -errno. */
	int  (*submit)(struct pvio_blk_engine *e);
	/* Up to max completions into done[]; wait as in pvio_blk_engine_reap. */
	int  (*reap)(struct pvio_blk_engine *e, struct pvio_blk_io **done,
		     unsigned max, bool wait);
	/* Optional: completions for a caller that polls, without keeping the
	 * fd accurate (no system call unless the engine needs one to see a
	 * completion). NULL: reap without wait. */
	int  (*poll)(struct pvio_blk_engine *e, struct pvio_blk_io **done, unsigned max);
	/* Optional: before the caller sleeps on the fd after polling: make it
	 * readable on the next completion; true when completions are already
	 * waiting (do not sleep). NULL: reap keeps the fd accurate. */
	bool (*arm)(struct pvio_blk_engine *e);
	/* Optional: the longest a completion may wait before the fd turns
	 * readable (ms), or -1 for none. NULL: -1. */
	int  (*hold_ms)(struct pvio_blk_engine *e);
	/* Waits for or cancels what is in flight, then frees everything
	 * (pvio__blk_engine_base_fini + free). */
	void (*close)(struct pvio_blk_engine *e);
};

struct pvio_blk_engine {
	const struct pvio_blk_engine_ops *ops;
	int      fd;             /* the disk (not owned) */
	int      efd;            /* eventfd returned by pvio_blk_engine_fd */
	unsigned depth;
	unsigned nr;             /* queued + in flight, <= depth */
	bool     is_blockdev;
	struct pvio_blk_io **sync_q;
	unsigned sync_head, sync_count;
	struct pvio_blk_io **done_q;
	unsigned done_head, done_count;
	char     info[160];      /* how the engine was set up, for logs/tests */
	struct {                 /* counters, for tests and debugging */
		uint64_t fixed;          /* SQEs using READ/WRITE_FIXED */
		uint64_t resubmits;      /* short transfers and -EAGAIN retried */
		uint64_t sync;           /* I/Os run synchronously by the issuer */
		uint64_t signals;        /* rbd: eventfd writes by the completion
					  * callbacks (atomic; not reap's or
					  * complete_now's) */
	} st;
};

/* engine.c: common state. base_init creates the eventfd and the FIFOs. */
int  pvio__blk_engine_base_init(struct pvio_blk_engine *e,
				const struct pvio_blk_engine_ops *ops, int fd,
				const struct pvio_blk_engine_cfg *cfg);
void pvio__blk_engine_base_fini(struct pvio_blk_engine *e);

/* Defer io to run synchronously at the next submit/reap. */
void pvio__blk_sync_defer(struct pvio_blk_engine *e, struct pvio_blk_io *io);
/* io is complete (io->result set): hand it out at the next reap. */
void pvio__blk_complete_now(struct pvio_blk_engine *e, struct pvio_blk_io *io);
/* Run every deferred I/O now; returns how many ran. */
unsigned pvio__blk_sync_run(struct pvio_blk_engine *e);

/* Perform io with blocking syscalls on fd; returns its result (bytes, 0 or
 * -errno). Continues after short transfers, retries EINTR/EAGAIN. */
int64_t pvio__blk_exec_sync(int fd, bool is_blockdev, const struct pvio_blk_io *io);

/* Eventfd helpers: signal adds 1; clear drains the counter (non-blocking). */
void pvio__blk_efd_signal(int efd);
void pvio__blk_efd_clear(int efd);

/*
 * Progress through a READ/WRITE after a short transfer. idx/off name the
 * first byte not yet transferred: iov[idx].iov_base + off.
 */
struct pvio__blk_progress {
	uint64_t done;           /* bytes transferred so far */
	uint16_t idx;
	size_t   off;
	unsigned retries;        /* consecutive -EAGAIN/-EINTR */
	struct iovec frag;       /* the rest of iov[idx] when off != 0 */
};

static inline void pvio__blk_progress_reset(struct pvio__blk_progress *p)
{
	p->done = 0;
	p->idx = 0;
	p->off = 0;
	p->retries = 0;
}

/* Account n more bytes transferred. */
static inline void pvio__blk_progress_advance(struct pvio__blk_progress *p,
					      const struct pvio_blk_io *io, uint64_t n)
{
	p->done += n;
	while (n && p->idx < io->iovcnt) {
		size_t left = io->iov[p->idx].iov_len - p->off;

		if (n < left) {
			p->off += n;
			return;
		}
		n -= left;
		p->idx++;
		p->off = 0;
	}
}

/*
 * The vector that transfers the rest of io: the caller's own iovecs from idx
 * on, or (mid-iovec) the private fragment. Never modifies the caller's array.
 */
static inline const struct iovec *pvio__blk_progress_vec(struct pvio__blk_progress *p,
							 const struct pvio_blk_io *io,
							 unsigned *cnt)
{
	if (p->off == 0) {
		*cnt = io->iovcnt - p->idx;
		return io->iov + p->idx;
	}
	p->frag.iov_base = (char *)io->iov[p->idx].iov_base + p->off;
	p->frag.iov_len = io->iov[p->idx].iov_len - p->off;
	*cnt = 1;
	return &p->frag;
}

/* Log with the module prefix. PVIO_BLK_LOG_ONCE logs a site once per process. */
#define PVIO_BLK_LOG(fmt, ...) \
	fprintf(stderr, "blkback: engine: " fmt "\n", ##__VA_ARGS__)
#define PVIO_BLK_LOG_ONCE(fmt, ...) do {                                     \
	static int logged_;                                                   \
	int zero_ = 0;                                                        \
	/* pairs with nothing: only makes the message appear once */          \
	if (pvio_cmpxchg(&logged_, &zero_, 1))                                \
		PVIO_BLK_LOG(fmt, ##__VA_ARGS__);                             \
} while (0)

/* The fault wrapper around the engine named inner (engine_fault.c). */
int pvio__blk_fault_open(const char *inner, int fd, const struct pvio_blk_engine_cfg *cfg,
			 struct pvio_blk_engine **out);

/* Engine constructors (engine_uring.c, engine_aio.c, engine_psync.c). */
int pvio__blk_uring_open(int fd, const struct pvio_blk_engine_cfg *cfg,
			 struct pvio_blk_engine **out);
int pvio__blk_aio_open(int fd, const struct pvio_blk_engine_cfg *cfg,
		       struct pvio_blk_engine **out);
int pvio__blk_psync_open(int fd, const struct pvio_blk_engine_cfg *cfg,
			 struct pvio_blk_engine **out);

/* The rbd engine and the image it works on (engine_rbd.c, rbd.h): only in
 * programs that link librbd (pvio-blkback); rbd.c reaches them through
 * weak references, and pvio__blk_rbd_open (rbd.c's) answers -ENOTSUP
 * without them. */
struct pvio_blk_rbd;
struct pvio_blk_rbd_spec;
struct pvio_blk_rbd_info;
int  pvio__blk_rbd_open(const struct pvio_blk_engine_cfg *cfg, struct pvio_blk_engine **out);
int  pvio__blk_rbd_engine_open(const struct pvio_blk_engine_cfg *cfg,
			       struct pvio_blk_engine **out);
int  pvio__blk_rbd_image_open(const struct pvio_blk_rbd_spec *spec, bool readonly,
			      struct pvio_blk_rbd **out, char *err, size_t errlen);
void pvio__blk_rbd_image_close(struct pvio_blk_rbd *r);
void pvio__blk_rbd_image_info(const struct pvio_blk_rbd *r, struct pvio_blk_rbd_info *info);

/* A line describing how the engine was set up (setup flags, registrations).
 * For logs and tests; not part of the public API. */
const char *pvio__blk_engine_info(const struct pvio_blk_engine *e);

#endif /* PVIO_BLK_ENGINE_INTERNAL_H */
