/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the block engine tests: the engine matrix (io_uring in
 * each setup mode, libaio, psync), scratch files, and small I/O wrappers.
 */
#ifndef PVIO_TEST_BLKENGINE_COMMON_H
#define PVIO_TEST_BLKENGINE_COMMON_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "blkback/engine.h"
#include "blkback/engine_internal.h"
#include "tests/common/testutil.h"

/* One engine configuration of the test matrix. */
struct be_variant {
	const char *label;
	const char *engine;      /* name passed to pvio_blk_engine_open */
	const char *uring_setup; /* PVIO_URING_SETUP, or NULL */
	unsigned psync_threads;
};

static const struct be_variant be_variants[] = {
	{ "io_uring/defer", "io_uring", "defer", 0 },
	{ "io_uring/coop",  "io_uring", "coop",  0 },
	{ "io_uring/plain", "io_uring", "plain", 0 },
	{ "libaio",         "libaio",   NULL,    0 },
	{ "psync/4",        "psync",    NULL,    0 },
	{ "psync/1",        "psync",    NULL,    1 },
};
#define BE_NVARIANTS (sizeof(be_variants) / sizeof(be_variants[0]))

/* Open an engine of variant v. Returns -ENOTSUP for engines not built and
 * -EINVAL when io_uring rejects the forced setup mode (old kernel). */
static inline int be_open(const struct be_variant *v, int fd, struct pvio_blk_engine_cfg *cfg,
			  struct pvio_blk_engine **e)
{
	int ret;

	if (v->uring_setup)
		setenv("PVIO_URING_SETUP", v->uring_setup, 1);
	else
		unsetenv("PVIO_URING_SETUP");
	cfg->psync_threads = v->psync_threads;
	ret = pvio_blk_engine_open(v->engine, fd, cfg, e);
	unsetenv("PVIO_URING_SETUP");
	return ret;
}

/* Where a scratch file lives and how it is opened. */
struct be_storage {
	const char *label;
	const char *dir;
	bool direct;
	unsigned align;          /* offsets, lengths and buffer addresses */
};

static const struct be_storage be_storages[] = {
	{ "ext4-buffered", "/var/tmp", false, 1 },
	{ "ext4-direct",   "/var/tmp", true,  512 },
	{ "tmpfs-buffered", "/dev/shm", false, 1 },
};
#define BE_NSTORAGES (sizeof(be_storages) / sizeof(be_storages[0]))

/* PVIO_TEST_ENGINE / PVIO_TEST_STORAGE (substrings of the labels) narrow
 * the matrix when debugging. */
static inline bool be_selected(const struct be_variant *v, const struct be_storage *st)
{
	const char *fe = getenv("PVIO_TEST_ENGINE"), *fs = getenv("PVIO_TEST_STORAGE");

	return (!fe || strstr(v->label, fe)) && (!fs || strstr(st->label, fs));
}

/*
 * Create a scratch file of size bytes in st->dir, opened with O_DIRECT when
 * st->direct, and unlink it at once (it lives as long as the fd). Returns
 * the fd, or -errno (-EINVAL: the filesystem refuses O_DIRECT; -ENOENT: no
 * such directory).
 */
static inline int be_scratch(const struct be_storage *st, uint64_t size)
{
	char path[256];
	int fd, dfd, err;

	snprintf(path, sizeof(path), "%s/pvio-blkengine-XXXXXX", st->dir);
	fd = mkstemp(path);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0) {
		err = -errno;
		goto fail;
	}
	if (!st->direct) {
		unlink(path);
		return fd;
	}
	dfd = open(path, O_RDWR | O_DIRECT | O_CLOEXEC);
	err = -errno;
	close(fd);
	unlink(path);
	return dfd < 0 ? err : dfd;
fail:
	close(fd);
	unlink(path);
	return err;
}

/* Deterministic pseudo-random numbers (xorshift64*). */
static uint64_t be_rng_state = 0x9e3779b97f4a7c15ull;

static inline uint64_t be_rand(void)
{
	uint64_t x = be_rng_state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	be_rng_state = x;
	return x * 0x2545f4914f6cdd1dull;
}

static inline uint64_t be_rand_range(uint64_t lo, uint64_t hi)   /* [lo, hi] */
{
	return lo + be_rand() % (hi - lo + 1);
}

static inline void be_fill(void *p, size_t n)
{
	uint8_t *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		b[i] = (uint8_t)be_rand();
}

/* poll the engine fd; returns 1 readable, 0 timeout. */
static inline int be_poll(struct pvio_blk_engine *e, int timeout_ms)
{
	struct pollfd p = { .fd = pvio_blk_engine_fd(e), .events = POLLIN };
	int r;

	do {
		r = poll(&p, 1, timeout_ms);
	} while (r < 0 && errno == EINTR);
	return r > 0 && (p.revents & POLLIN);
}

/* Reap until nothing is in flight; returns how many were reaped. */
static inline unsigned be_drain(struct pvio_blk_engine *e)
{
	struct pvio_blk_io *done[64];
	unsigned total = 0;

	while (pvio_blk_engine_inflight(e)) {
		int n = pvio_blk_engine_reap(e, done, 64, true);

		if (n < 0) {
			fprintf(stderr, "reap: %s\n", strerror(-n));
			tu_failures++;
			break;
		}
		total += (unsigned)n;
	}
	return total;
}

/* Run one I/O to completion through the engine; returns io->result. */
static inline int64_t be_sync(struct pvio_blk_engine *e, struct pvio_blk_io *io)
{
	struct pvio_blk_io *done[1];
	int n, ret;

	ret = pvio_blk_engine_queue(e, io);
	if (ret)
		return ret;
	pvio_blk_engine_submit(e);
	do {
		n = pvio_blk_engine_reap(e, done, 1, true);
	} while (n == 0);
	if (n < 0)
		return n;
	if (done[0] != io) {
		fprintf(stderr, "be_sync: reaped a different I/O\n");
		tu_failures++;
	}
	return io->result;
}

static inline int64_t be_rw(struct pvio_blk_engine *e, int op, void *buf, size_t len,
			    uint64_t off)
{
	struct iovec v = { buf, len };
	struct pvio_blk_io io = {
		.op = (uint8_t)op, .iovcnt = 1, .offset = off, .len = len, .iov = &v,
	};

	return be_sync(e, &io);
}

static inline int64_t be_simple(struct pvio_blk_engine *e, int op, uint64_t off, uint64_t len)
{
	struct pvio_blk_io io = { .op = (uint8_t)op, .offset = off, .len = len };

	return be_sync(e, &io);
}

static inline bool be_is_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (b[i])
			return false;
	return true;
}

#endif /* PVIO_TEST_BLKENGINE_COMMON_H */
