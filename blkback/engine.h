/* SPDX-License-Identifier: MIT */
/*
 * Block I/O engines behind one interface: io_uring (default), libaio, psync,
 * and rbd (Ceph RBD images through librbd: rbd.h; no fd, cfg.rbd instead).
 *
 * One engine instance serves one blkback queue and is used by that queue's
 * poller thread only (single issuer). The poller queues a batch of I/Os,
 * submits them with one call, and reaps completions; the engine's fd becomes
 * readable when completions are waiting, so the poller can sleep on it
 * together with its event channel.
 *
 * Zero copy: iov_base points straight into granted guest pages. When the
 * whole of a guest's memory is mapped, the poller passes it as
 * cfg.fixed_base/fixed_len and io_uring registers it as fixed buffers, a
 * 2 MiB chunk at a time on the chunk's first I/O (registering pins, and so
 * allocates, every page): single-iovec I/O inside one chunk then uses
 * READ_FIXED/WRITE_FIXED.
 *
 * Threads: open() may run on any thread. With io_uring the first submit or
 * reap makes the calling thread the ring's single issuer (the ring is
 * created disabled and enabled there); from then on queue/submit/reap must
 * come from that thread (others get -EEXIST) and it must outlive the
 * engine. libaio and psync only need the calls to be serialised.
 * Set PVIO_URING_SETUP=defer|coop|plain to force io_uring's setup flags.
 *
 * No allocation after open(): everything is sized by cfg.depth.
 */
#ifndef PVIO_BLK_ENGINE_H
#define PVIO_BLK_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

enum pvio_blk_io_op {
	PVIO_BLK_IO_READ = 0,
	PVIO_BLK_IO_WRITE,
	PVIO_BLK_IO_FLUSH,       /* fdatasync (rbd: rbd_aio_flush) */
	PVIO_BLK_IO_DISCARD,     /* fallocate(PUNCH_HOLE|KEEP_SIZE) on files,
				  * BLKDISCARD on block devices (rbd:
				  * rbd_aio_discard, reads back as zeros) */
};

#define PVIO_BLK_IO_MAX_IOV 256

struct pvio_blk_io {
	uint8_t  op;             /* enum pvio_blk_io_op */
	uint16_t iovcnt;         /* READ/WRITE: 1..PVIO_BLK_IO_MAX_IOV */
	uint64_t offset;         /* bytes */
	uint64_t len;            /* DISCARD: bytes; READ/WRITE: sum of iov (set by caller) */
	struct iovec *iov;       /* caller-owned until completion */
	void    *user;           /* the caller's cookie */
	int64_t  result;         /* out: bytes transferred (READ/WRITE), 0, or -errno.
				  * Short transfers are continued by the engine, so
				  * a READ/WRITE returns len unless it failed
				  * (-errno) or a READ reached end of file (fewer
				  * bytes). */
};

struct pvio_blk_rbd;

struct pvio_blk_engine_cfg {
	unsigned depth;          /* max I/Os in flight (>= 1) */
	void    *fixed_base;     /* optional: region to register as fixed buffers */
	size_t   fixed_len;
	bool     is_blockdev;    /* fd is a block device (discard via BLKDISCARD) */
	unsigned psync_threads;  /* psync: worker threads (0: 4; at most depth) */
	const char *faults;      /* optional: fault injection (below); NULL or "": none */
	struct pvio_blk_rbd *rbd; /* rbd: the open image (rbd.h), shared by a disk's
				  * engines; the caller closes it after them */
};

/*
 * Fault injection (engine_fault.c): with cfg.faults set, the named engine
 * runs behind a wrapper that fails, cuts short, delays or refuses I/O as a
 * failing disk would. The spec is rules joined with ';', each
 *   KIND[:key=value[:key=value]...]
 * KIND: eio | enospc | ebadf | enxio | eopnotsupp  the I/O completes with
 *           that -errno and never reaches the disk
 *       short           a READ completes with half its bytes
 *       delay           the completion is held back ms=N milliseconds (or
 *                       us=N microseconds)
 *       submit-eagain | submit-ebusy   submit returns that -errno and keeps
 *           what was queued (it goes at the next submit or poll; arm is true)
 * keys: op=read|write|flush|discard|any, joined with '+' (default: any;
 *           enospc write, eopnotsupp discard, short read)
 *       off=START-END   only I/Os overlapping bytes [START, END) (k/m/g
 *           suffixes; never a FLUSH)
 *       after=N         let the first N matching I/Os (submits) through
 *       count=N         then hit N of them (default: all that follow)
 *       ms=N            delay: 1..3600000
 *       us=N            delay: 1..3600000000
 * Counts are per engine (per queue). Example: "eio:op=write:after=20:count=3;
 * delay:op=read:ms=2000:count=1" (no ',': the spec fits in a disk spec). The first hits of each rule are logged.
 */
#define PVIO_BLK_FAULT_MAX_RULES 8u
#define PVIO_BLK_FAULT_MAX_SPEC  512u
/* 0 if spec parses; else -EINVAL and err names what is wrong. */
int  pvio_blk_faults_check(const char *spec, char *err, size_t errlen);

struct pvio_blk_engine;

/* Names: "io_uring", "libaio", "psync", "rbd" (fd -1, cfg.rbd set; -ENOTSUP
 * in a program without librbd: rbd.h). -ENOENT unknown, -ENOTSUP not built,
 * -EINVAL bad arguments (depth 0 or > 32768, a bad cfg.faults). fd stays the caller's.
 * io_uring: where registering a chunk of cfg.fixed_base fails (RLIMIT_MEMLOCK,
 * memory that cannot be pinned) the engine logs once and uses readv/writev
 * there. */
int  pvio_blk_engine_open(const char *name, int fd, const struct pvio_blk_engine_cfg *cfg,
			  struct pvio_blk_engine **out);
/* Whether this build has the file engine "io_uring", "libaio" or "psync"
 * (its library was found at build time). */
bool pvio_blk_engine_built(const char *name);
/* Frees the engine. The caller normally drains first (inflight == 0). I/O
 * still queued is dropped; I/O in flight is cancelled where possible and
 * waited for, so no buffer is touched after close returns; its results are
 * not reported. Exception: an io_uring engine closed with I/O in flight from
 * a thread other than its issuer cannot wait (the kernel lets only the
 * issuer reap): it logs and lets the kernel finish that I/O. */
void pvio_blk_engine_close(struct pvio_blk_engine *e);
const char *pvio_blk_engine_name(const struct pvio_blk_engine *e);

/* Queue one I/O (not yet submitted). -EBUSY when depth I/Os are already in
 * flight or queued; -EINVAL for a malformed I/O (bad op, iovcnt, len not the
 * sum of the iovecs, range past 2^63, zero-length DISCARD). A failed call
 * never completes the I/O. */
int  pvio_blk_engine_queue(struct pvio_blk_engine *e, struct pvio_blk_io *io);
/* Submit everything queued in one batch. Returns the number submitted
 * (io_uring may count its own resubmissions of short transfers), or -errno;
 * what the kernel could not take yet stays queued for the next call. I/O
 * run synchronously (BLKDISCARD; discard under libaio) runs here. */
int  pvio_blk_engine_submit(struct pvio_blk_engine *e);
/* Collect up to max completed I/Os into done[]; with wait, block until at
 * least one completes (if any is in flight). Returns the count or -errno.
 * Anything still queued is submitted first, so wait never hangs on it.
 * Afterwards the fd is readable iff completions are left (it may also be
 * readable spuriously; reap then returns 0). Exception, rbd: while 4 or
 * more I/Os are in librbd, the fd turns readable once 4 completions wait
 * or fewer than 4 stay in librbd (engine_rbd.c); pvio_blk_engine_hold_ms
 * says how long a sleeper should wait before polling anyway. reap with
 * wait does that itself. */
int  pvio_blk_engine_reap(struct pvio_blk_engine *e, struct pvio_blk_io **done,
			  unsigned max, bool wait);
/* For a poller (the channel-masked NAPI pattern): poll collects completions
 * as reap without wait does, but leaves the fd as it is (no system call on
 * io_uring's DEFER_TASKRUN ring, whose eventfd is switched off meanwhile);
 * arm, before sleeping on the fd, makes it readable on the next completion
 * (rbd: see hold_ms) and returns true instead when completions are
 * already waiting. */
int  pvio_blk_engine_poll(struct pvio_blk_engine *e, struct pvio_blk_io **done,
			  unsigned max);
bool pvio_blk_engine_arm(struct pvio_blk_engine *e);
/* The longest a completion may wait before the fd turns readable, in ms,
 * or -1 when it turns readable at once. A caller that sleeps on the fd
 * sleeps at most this long and polls again. Only rbd holds completions,
 * to batch its wake-ups (engine_rbd.c): 1 ms while 4 or more I/Os are in
 * librbd. */
int  pvio_blk_engine_hold_ms(struct pvio_blk_engine *e);
/* Readable when completions are waiting (for epoll). */
int  pvio_blk_engine_fd(struct pvio_blk_engine *e);
/* I/Os queued or in flight. */
unsigned pvio_blk_engine_inflight(const struct pvio_blk_engine *e);

#endif /* PVIO_BLK_ENGINE_H */
