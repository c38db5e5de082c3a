/* SPDX-License-Identifier: MIT */
/*
 * Block I/O engines: the common front (validation, depth limit, the
 * synchronous-completion FIFOs) and the blocking helpers every engine shares.
 * The engines themselves are in engine_uring.c, engine_aio.c, engine_psync.c,
 * engine_rbd.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "blkback/engine_internal.h"
#include "ring/pvio_export.h"

#ifndef IOV_MAX
#define IOV_MAX 1024
#endif

int pvio__blk_engine_base_init(struct pvio_blk_engine *e,
			       const struct pvio_blk_engine_ops *ops, int fd,
			       const struct pvio_blk_engine_cfg *cfg)
{
	int ret;

	e->ops = ops;
	e->fd = fd;
	e->depth = cfg->depth;
	e->nr = 0;
	e->is_blockdev = cfg->is_blockdev;
	e->sync_head = e->sync_count = 0;
	e->done_head = e->done_count = 0;
	memset(&e->st, 0, sizeof(e->st));
	snprintf(e->info, sizeof(e->info), "%s", ops->name);

	e->sync_q = calloc(e->depth, sizeof(*e->sync_q));
	e->done_q = calloc(e->depth, sizeof(*e->done_q));
	if (!e->sync_q || !e->done_q) {
		ret = -ENOMEM;
		goto err_free;
	}
	e->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (e->efd < 0) {
		ret = -errno;
		goto err_free;
	}
	return 0;

err_free:
	free(e->sync_q);
	free(e->done_q);
	e->sync_q = e->done_q = NULL;
	e->efd = -1;
	return ret;
}

void pvio__blk_engine_base_fini(struct pvio_blk_engine *e)
{
	if (e->efd >= 0)
		close(e->efd);
	e->efd = -1;
	free(e->sync_q);
	free(e->done_q);
	e->sync_q = e->done_q = NULL;
}

void pvio__blk_efd_signal(int efd)
{
	uint64_t one = 1;

	/* Only fails with EAGAIN when the counter is about to overflow, which
	 * still leaves the fd readable. */
	if (write(efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		PVIO_BLK_LOG_ONCE("eventfd write: %s", strerror(errno));
}

void pvio__blk_efd_clear(int efd)
{
	uint64_t v;

	/* Non-blocking: EAGAIN when already clear. */
	if (read(efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		PVIO_BLK_LOG_ONCE("eventfd read: %s", strerror(errno));
}

void pvio__blk_sync_defer(struct pvio_blk_engine *e, struct pvio_blk_io *io)
{
	e->sync_q[(e->sync_head + e->sync_count) % e->depth] = io;
	e->sync_count++;
}

void pvio__blk_complete_now(struct pvio_blk_engine *e, struct pvio_blk_io *io)
{
	e->done_q[(e->done_head + e->done_count) % e->depth] = io;
	if (e->done_count++ == 0)
		pvio__blk_efd_signal(e->efd);
}

unsigned pvio__blk_sync_run(struct pvio_blk_engine *e)
{
	unsigned n = 0;

	while (e->sync_count) {
		struct pvio_blk_io *io = e->sync_q[e->sync_head];

		e->sync_head = (e->sync_head + 1) % e->depth;
		e->sync_count--;
		io->result = pvio__blk_exec_sync(e->fd, e->is_blockdev, io);
		pvio__blk_complete_now(e, io);
		e->st.sync++;
		n++;
	}
	return n;
}

static int64_t exec_rw(int fd, const struct pvio_blk_io *io)
{
	struct pvio__blk_progress p;
	unsigned retries = 0;

	pvio__blk_progress_reset(&p);
	while (p.done < io->len) {
		const struct iovec *v;
		unsigned cnt;
		ssize_t r;

		v = pvio__blk_progress_vec(&p, io, &cnt);
		if (cnt > IOV_MAX)
			cnt = IOV_MAX;
		if (io->op == PVIO_BLK_IO_READ)
			r = preadv(fd, v, (int)cnt, (off_t)(io->offset + p.done));
		else
			r = pwritev(fd, v, (int)cnt, (off_t)(io->offset + p.done));
		if (r < 0) {
			if ((errno == EINTR || errno == EAGAIN) &&
			    ++retries < PVIO_BLK_ENGINE_MAX_RETRIES)
				continue;
			return -errno;
		}
		retries = 0;
		if (r == 0) {
			/* A read at end of file is short; a write that makes
			 * no progress would loop for ever. */
			if (io->op == PVIO_BLK_IO_READ)
				break;
			return -EIO;
		}
		pvio__blk_progress_advance(&p, io, (uint64_t)r);
	}
	return (int64_t)p.done;
}

int64_t pvio__blk_exec_sync(int fd, bool is_blockdev, const struct pvio_blk_io *io)
{
	switch (io->op) {
	case PVIO_BLK_IO_READ:
	case PVIO_BLK_IO_WRITE:
		return exec_rw(fd, io);
	case PVIO_BLK_IO_FLUSH:
		for (;;) {
			if (fdatasync(fd) == 0)
				return 0;
			if (errno != EINTR)
				return -errno;
		}
	case PVIO_BLK_IO_DISCARD:
		if (is_blockdev) {
			uint64_t range[2] = { io->offset, io->len };

			if (ioctl(fd, BLKDISCARD, range) < 0)
				return -errno;
			return 0;
		}
		for (;;) {
			if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				      (off_t)io->offset, (off_t)io->len) == 0)
				return 0;
			if (errno != EINTR)
				return -errno;
		}
	}
	return -EINVAL;
}

static int validate(const struct pvio_blk_io *io)
{
	uint64_t sum = 0;
	unsigned i;

	switch (io->op) {
	case PVIO_BLK_IO_READ:
	case PVIO_BLK_IO_WRITE:
		if (io->iovcnt == 0 || io->iovcnt > PVIO_BLK_IO_MAX_IOV || !io->iov)
			return -EINVAL;
		for (i = 0; i < io->iovcnt; i++) {
			if (io->iov[i].iov_len > (uint64_t)INT64_MAX - sum)
				return -EINVAL;
			sum += io->iov[i].iov_len;
		}
		if (sum != io->len)
			return -EINVAL;
		break;
	case PVIO_BLK_IO_FLUSH:
		return 0;
	case PVIO_BLK_IO_DISCARD:
		if (io->len == 0)
			return -EINVAL;
		break;
	default:
		return -EINVAL;
	}
	if (io->offset > (uint64_t)INT64_MAX || io->len > (uint64_t)INT64_MAX - io->offset)
		return -EINVAL;
	return 0;
}

PVIO_EXPORT int pvio_blk_engine_open(const char *name, int fd,
				     const struct pvio_blk_engine_cfg *cfg,
				     struct pvio_blk_engine **out)
{
	int (*open_fn)(int, const struct pvio_blk_engine_cfg *, struct pvio_blk_engine **);

	if (!name || !cfg || !out || (fd < 0 && strcmp(name, "rbd")))
		return -EINVAL;
	*out = NULL;
	if (cfg->depth == 0 || cfg->depth > PVIO_BLK_ENGINE_MAX_DEPTH)
		return -EINVAL;
	if (cfg->faults && cfg->faults[0])
		return pvio__blk_fault_open(name, fd, cfg, out);

	if (strcmp(name, "io_uring") == 0) {
#ifdef PVIO_HAVE_URING
		open_fn = pvio__blk_uring_open;
#else
		return -ENOTSUP;
#endif
	} else if (strcmp(name, "libaio") == 0) {
#ifdef PVIO_HAVE_AIO
		open_fn = pvio__blk_aio_open;
#else
		return -ENOTSUP;
#endif
	} else if (strcmp(name, "psync") == 0) {
		open_fn = pvio__blk_psync_open;
	} else if (strcmp(name, "rbd") == 0) {
		return pvio__blk_rbd_open(cfg, out);   /* rbd.c */
	} else {
		return -ENOENT;
	}
	return open_fn(fd, cfg, out);
}

PVIO_EXPORT bool pvio_blk_engine_built(const char *name)
{
	if (!name)
		return false;
#ifdef PVIO_HAVE_URING
	if (strcmp(name, "io_uring") == 0)
		return true;
#endif
#ifdef PVIO_HAVE_AIO
	if (strcmp(name, "libaio") == 0)
		return true;
#endif
	return strcmp(name, "psync") == 0;
}

PVIO_EXPORT void pvio_blk_engine_close(struct pvio_blk_engine *e)
{
	if (e)
		e->ops->close(e);
}

PVIO_EXPORT const char *pvio_blk_engine_name(const struct pvio_blk_engine *e)
{
	return e ? e->ops->name : NULL;
}

const char *pvio__blk_engine_info(const struct pvio_blk_engine *e)
{
	return e->info;
}

PVIO_EXPORT int pvio_blk_engine_queue(struct pvio_blk_engine *e, struct pvio_blk_io *io)
{
	int ret;

	if (!e || !io)
		return -EINVAL;
	ret = validate(io);
	if (ret)
		return ret;
	if (e->nr >= e->depth)
		return -EBUSY;
	io->result = 0;
	ret = e->ops->queue(e, io);
	if (ret == 0)
		e->nr++;
	return ret;
}

PVIO_EXPORT int pvio_blk_engine_submit(struct pvio_blk_engine *e)
{
	int n;

	if (!e)
		return -EINVAL;
	n = e->ops->submit(e);
	if (n < 0)
		return n;
	return n + (int)pvio__blk_sync_run(e);
}

/* reap (poll false) and poll: deferred synchronous I/O runs first, then
 * completions already handed over, then the engine's own. */
static int collect(struct pvio_blk_engine *e, struct pvio_blk_io **done, unsigned max,
		   bool wait, bool poll)
{
	unsigned n = 0;
	int ret;

	if (max == 0)
		return 0;
	/* Anything deferred to submit runs now rather than waiting for ever. */
	if (e->sync_count)
		pvio__blk_sync_run(e);
	while (n < max && e->done_count) {
		done[n++] = e->done_q[e->done_head];
		e->done_head = (e->done_head + 1) % e->depth;
		e->done_count--;
	}
	if (n < max) {
		ret = poll ? e->ops->poll(e, done + n, max - n) :
			     e->ops->reap(e, done + n, max - n, wait && n == 0);
		if (ret < 0 && n == 0)
			return ret;
		if (ret > 0)
			n += (unsigned)ret;
	}
	/* The engine's reap may have cleared the eventfd (a poller's arm
	 * looks at done_count instead). */
	if (!poll && e->done_count)
		pvio__blk_efd_signal(e->efd);
	e->nr -= n;
	return (int)n;
}

PVIO_EXPORT int pvio_blk_engine_reap(struct pvio_blk_engine *e, struct pvio_blk_io **done,
				     unsigned max, bool wait)
{
	if (!e || (!done && max))
		return -EINVAL;
	return collect(e, done, max, wait, false);
}

PVIO_EXPORT int pvio_blk_engine_poll(struct pvio_blk_engine *e, struct pvio_blk_io **done,
				     unsigned max)
{
	if (!e || (!done && max))
		return -EINVAL;
	return collect(e, done, max, false, e->ops->poll != NULL);
}

PVIO_EXPORT bool pvio_blk_engine_arm(struct pvio_blk_engine *e)
{
	if (!e)
		return false;
	if (e->done_count || e->sync_count)
		return true;
	return e->ops->arm ? e->ops->arm(e) : false;
}

PVIO_EXPORT int pvio_blk_engine_hold_ms(struct pvio_blk_engine *e)
{
	return e && e->ops->hold_ms ? e->ops->hold_ms(e) : -1;
}

PVIO_EXPORT int pvio_blk_engine_fd(struct pvio_blk_engine *e)
{
	return e ? e->efd : -EINVAL;
}

PVIO_EXPORT unsigned pvio_blk_engine_inflight(const struct pvio_blk_engine *e)
{
	return e ? e->nr : 0;
}
