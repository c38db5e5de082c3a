/* SPDX-License-Identifier: MIT */
/*
 * The engine contract, for every engine: argument checks, the depth limit
 * (-EBUSY, inflight counts), reap semantics (wait, max, queued-but-not-
 * submitted I/O), readiness of the engine fd with poll() (no lost wake-up
 * when reaping one completion at a time), close with I/O queued or in
 * flight, use from a thread other than the one that opened the engine, and
 * no fd leak over many open/close cycles. libaio's fallback from FDSYNC to
 * fdatasync() is driven with /dev/null, which has no fsync.
 */
#include <pthread.h>

#include "tests/blkengine/blkengine_common.h"

#define FILE_SIZE (4u << 20)
#define BLK       4096u

static uint8_t *bufs;            /* 64 aligned blocks */

static void prep_read(struct pvio_blk_io *io, struct iovec *v, unsigned i)
{
	v->iov_base = bufs + (size_t)(i % 64) * BLK;
	v->iov_len = BLK;
	memset(io, 0, sizeof(*io));
	io->op = PVIO_BLK_IO_READ;
	io->iovcnt = 1;
	io->iov = v;
	io->len = BLK;
	io->offset = (uint64_t)(i * 7 % (FILE_SIZE / BLK)) * BLK;
}

static void test_open_errors(int fd)
{
	struct pvio_blk_engine_cfg cfg = { .depth = 4 };
	struct pvio_blk_engine *e = (void *)1;

	CHECK_EQ(pvio_blk_engine_open("nope", fd, &cfg, &e), -ENOENT);
	CHECK(e == NULL);
	CHECK_EQ(pvio_blk_engine_open(NULL, fd, &cfg, &e), -EINVAL);
	CHECK_EQ(pvio_blk_engine_open("psync", -1, &cfg, &e), -EINVAL);
	CHECK_EQ(pvio_blk_engine_open("psync", fd, NULL, &e), -EINVAL);
	CHECK_EQ(pvio_blk_engine_open("psync", fd, &cfg, NULL), -EINVAL);
	cfg.depth = 0;
	CHECK_EQ(pvio_blk_engine_open("io_uring", fd, &cfg, &e), -EINVAL);
	cfg.depth = PVIO_BLK_ENGINE_MAX_DEPTH + 1;
	CHECK_EQ(pvio_blk_engine_open("libaio", fd, &cfg, &e), -EINVAL);
	pvio_blk_engine_close(NULL);
	CHECK_EQ(pvio_blk_engine_inflight(NULL), 0);
	CHECK_EQ(pvio_blk_engine_fd(NULL), -EINVAL);
}

static void test_bad_io(struct pvio_blk_engine *e)
{
	struct iovec v[PVIO_BLK_IO_MAX_IOV + 1];
	struct pvio_blk_io io;
	unsigned i;

	for (i = 0; i <= PVIO_BLK_IO_MAX_IOV; i++) {
		v[i].iov_base = bufs;
		v[i].iov_len = 512;
	}
	prep_read(&io, v, 0);
	io.op = 9;
	CHECK_EQ(pvio_blk_engine_queue(e, &io), -EINVAL);
	prep_read(&io, v, 0);
	io.iovcnt = 0;
	CHECK_EQ(pvio_blk_engine_queue(e, &io), -EINVAL);
	prep_read(&io, v, 0);
	io.iovcnt = PVIO_BLK_IO_MAX_IOV + 1;
	io.len = (uint64_t)io.iovcnt * 512;
	CHECK_EQ(pvio_blk_engine_queue(e, &io), -EINVAL);
	prep_read(&io, v, 0);
	io.len = BLK + 1;                /* does not match the iovecs */
	CHECK_EQ(pvio_blk_engine_queue(e, &io), -EINVAL);
	prep_read(&io, v, 0);
	io.iov = NULL;
	CHECK_EQ(pvio_blk_engine_queue(e, &io), -EINVAL);
	prep_read(&io, v, 0);
	io.offset = UINT64_MAX - 100;
	CHECK_EQ(pvio_blk_engine_queue(e, &io), -EINVAL);
	memset(&io, 0, sizeof(io));
	io.op = PVIO_BLK_IO_DISCARD;     /* zero length */
	CHECK_EQ(pvio_blk_engine_queue(e, &io), -EINVAL);
	CHECK_EQ(pvio_blk_engine_queue(e, NULL), -EINVAL);
	CHECK_EQ(pvio_blk_engine_inflight(e), 0);
	CHECK_EQ(pvio_blk_engine_reap(e, NULL, 4, false), -EINVAL);
}

/* depth 5 (io_uring rounds its ring up to 8; the limit stays 5). */
static void test_depth(const struct be_variant *v, int fd)
{
	struct pvio_blk_engine_cfg cfg = { .depth = 5 };
	struct pvio_blk_io io[7], *done[8];
	struct iovec iov[7];
	struct pvio_blk_engine *e;
	unsigned i, got = 0;
	int n;

	REQUIRE(be_open(v, fd, &cfg, &e) == 0);
	for (i = 0; i < 4; i++) {
		prep_read(&io[i], &iov[i], i);
		CHECK_EQ(pvio_blk_engine_queue(e, &io[i]), 0);
	}
	memset(&io[4], 0, sizeof(io[4]));
	io[4].op = PVIO_BLK_IO_FLUSH;    /* every op counts towards depth */
	CHECK_EQ(pvio_blk_engine_queue(e, &io[4]), 0);
	prep_read(&io[5], &iov[5], 5);
	CHECK_EQ(pvio_blk_engine_queue(e, &io[5]), -EBUSY);
	CHECK_EQ(pvio_blk_engine_inflight(e), 5);
	CHECK_EQ(pvio_blk_engine_submit(e), 5);
	CHECK_EQ(pvio_blk_engine_queue(e, &io[5]), -EBUSY);
	CHECK_EQ(pvio_blk_engine_inflight(e), 5);
	CHECK_EQ(pvio_blk_engine_submit(e), 0);  /* nothing queued */

	/* max bounds the count; wait returns at least one. */
	n = pvio_blk_engine_reap(e, done, 1, true);
	CHECK_EQ(n, 1);
	got += n > 0 ? (unsigned)n : 0;
	CHECK_EQ(pvio_blk_engine_reap(e, done, 0, true), 0);
	/* One slot is free again. */
	CHECK_EQ(pvio_blk_engine_queue(e, &io[5]), 0);
	prep_read(&io[6], &iov[6], 6);
	CHECK_EQ(pvio_blk_engine_queue(e, &io[6]), -EBUSY);
	pvio_blk_engine_submit(e);
	while (got < 6) {
		n = pvio_blk_engine_reap(e, done, 8, true);
		CHECK(n > 0);
		if (n <= 0)
			break;
		for (i = 0; i < (unsigned)n; i++)
			CHECK_EQ(done[i]->result, done[i]->op == PVIO_BLK_IO_FLUSH ? 0 : BLK);
		got += (unsigned)n;
	}
	CHECK_EQ(got, 6);
	CHECK_EQ(pvio_blk_engine_inflight(e), 0);
	/* Nothing in flight: a waiting reap returns at once. */
	CHECK_EQ(pvio_blk_engine_reap(e, done, 8, true), 0);

	/* Queued but never submitted: reap submits it rather than hang. */
	prep_read(&io[0], &iov[0], 0);
	CHECK_EQ(pvio_blk_engine_queue(e, &io[0]), 0);
	n = pvio_blk_engine_reap(e, done, 8, true);
	CHECK_EQ(n, 1);
	CHECK_EQ(io[0].result, BLK);
	pvio_blk_engine_close(e);
}

/* Reap one completion at a time, sleeping in poll() before each: the fd
 * must stay readable while completions are left. */
static void test_readiness(const struct be_variant *v, int fd)
{
	struct pvio_blk_engine_cfg cfg = { .depth = 16 };
	struct pvio_blk_io io[16], *done[1];
	struct iovec iov[16];
	struct pvio_blk_engine *e;
	unsigned i, left, round, spurious = 0;

	REQUIRE(be_open(v, fd, &cfg, &e) == 0);
	CHECK(pvio_blk_engine_fd(e) >= 0);
	CHECK(!be_poll(e, 0));           /* nothing yet */
	for (round = 0; round < 20; round++) {
		unsigned nr = 1 + round % 16;

		for (i = 0; i < nr; i++) {
			prep_read(&io[i], &iov[i], round * 16 + i);
			REQUIRE(pvio_blk_engine_queue(e, &io[i]) == 0);
		}
		pvio_blk_engine_submit(e);
		for (left = nr; left;) {
			int n;

			if (!be_poll(e, 5000)) {
				fprintf(stderr, "FAIL %s: fd not readable, %u left\n", v->label, left);
				tu_failures++;
				goto out;
			}
			n = pvio_blk_engine_reap(e, done, 1, false);
			CHECK(n >= 0);
			if (n == 0)
				spurious++;
			if (n == 1) {
				CHECK_EQ(done[0]->result, BLK);
				left--;
			}
			CHECK_EQ(pvio_blk_engine_inflight(e), left);
			if (spurious > 10000) {
				fprintf(stderr, "FAIL %s: fd readable with nothing to reap\n",
					v->label);
				tu_failures++;
				goto out;
			}
		}
		/* Drained: at most one stale signal, then the fd is quiet. */
		if (be_poll(e, 0)) {
			CHECK_EQ(pvio_blk_engine_reap(e, done, 1, false), 0);
			spurious++;
		}
		CHECK(!be_poll(e, 0));
	}
	printf("%-16s readiness: 20 rounds, %u spurious wake-ups\n", v->label, spurious);
out:
	pvio_blk_engine_close(e);
}

/* close() with I/O queued or in flight must neither crash nor leak, and
 * once it returns the buffers are the caller's again (ASan checks). */
static void test_close_busy(const struct be_variant *v, int fd)
{
	struct pvio_blk_engine_cfg cfg = { .depth = 32 };
	struct pvio_blk_engine *e;
	struct pvio_blk_io *io;
	struct iovec *iov;
	uint8_t *mem;
	unsigned i, pass;

	for (pass = 0; pass < 3; pass++) {
		mem = aligned_alloc(BLK, 32 * BLK);
		io = calloc(32, sizeof(*io));
		iov = calloc(32, sizeof(*iov));
		REQUIRE(mem && io && iov);
		REQUIRE(be_open(v, fd, &cfg, &e) == 0);
		for (i = 0; i < 32; i++) {
			iov[i].iov_base = mem + (size_t)i * BLK;
			iov[i].iov_len = BLK;
			io[i].op = i % 2 ? PVIO_BLK_IO_READ : PVIO_BLK_IO_WRITE;
			io[i].iovcnt = 1;
			io[i].iov = &iov[i];
			io[i].len = BLK;
			io[i].offset = (uint64_t)i * BLK;
			memset(iov[i].iov_base, 0x5a, BLK);
			CHECK_EQ(pvio_blk_engine_queue(e, &io[i]), 0);
		}
		if (pass == 1)
			pvio_blk_engine_submit(e);       /* in flight */
		if (pass == 2) {
			struct pvio_blk_io *done[4];

			pvio_blk_engine_submit(e);       /* some reaped */
			CHECK(pvio_blk_engine_reap(e, done, 4, true) > 0);
		}
		pvio_blk_engine_close(e);
		free(mem);
		free(io);
		free(iov);
	}
}

struct thr_arg {
	struct pvio_blk_engine *e;
	bool close_here;
	int failures;
};

static void *io_thread(void *p)
{
	struct thr_arg *a = p;
	struct pvio_blk_io io[8], *done[8];
	struct iovec iov[8];
	unsigned i, got = 0;

	for (i = 0; i < 8; i++) {
		prep_read(&io[i], &iov[i], i);
		if (pvio_blk_engine_queue(a->e, &io[i]))
			a->failures++;
	}
	if (pvio_blk_engine_submit(a->e) < 0)
		a->failures++;
	while (got < 8) {
		int n = pvio_blk_engine_reap(a->e, done, 8, true);

		if (n <= 0) {
			fprintf(stderr, "thread reap: %d\n", n);
			a->failures++;
			break;
		}
		for (i = 0; i < (unsigned)n; i++)
			if (done[i]->result != BLK)
				a->failures++;
		got += (unsigned)n;
	}
	if (a->close_here)
		pvio_blk_engine_close(a->e);
	return NULL;
}

/* Opened here, used (and maybe closed) by another thread: the poller. */
static void test_other_thread(const struct be_variant *v, int fd)
{
	struct pvio_blk_engine_cfg cfg = { .depth = 8 };
	struct thr_arg a = { 0 };
	pthread_t t;
	int pass;

	for (pass = 0; pass < 2; pass++) {
		REQUIRE(be_open(v, fd, &cfg, &a.e) == 0);
		a.close_here = pass == 0;
		a.failures = 0;
		REQUIRE(pthread_create(&t, NULL, io_thread, &a) == 0);
		pthread_join(t, NULL);
		CHECK_EQ(a.failures, 0);
		if (!a.close_here) {
			/* Drained, so closing from here is fine. */
			CHECK_EQ(pvio_blk_engine_inflight(a.e), 0);
			pvio_blk_engine_close(a.e);
		}
	}
}

static void test_cycles(const struct be_variant *v, int fd)
{
	struct pvio_blk_engine_cfg cfg = { .depth = 4 };
	struct pvio_blk_engine *e;
	struct pvio_blk_io io;
	struct iovec iov;
	int before = tu_count_fds(0), i;

	for (i = 0; i < 40; i++) {
		REQUIRE(be_open(v, fd, &cfg, &e) == 0);
		prep_read(&io, &iov, (unsigned)i);
		CHECK_EQ(be_sync(e, &io), BLK);
		pvio_blk_engine_close(e);
	}
	CHECK_EQ(tu_count_fds(0), before);
}

static void test_aio_fdsync_fallback(void)
{
	struct pvio_blk_engine_cfg cfg = { .depth = 4 };
	struct pvio_blk_engine *e;
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	int ret;

	REQUIRE(fd >= 0);
	ret = pvio_blk_engine_open("libaio", fd, &cfg, &e);
	if (ret == -ENOTSUP) {
		close(fd);
		return;
	}
	REQUIRE(ret == 0);
	/* /dev/null has no fsync: io_submit rejects FDSYNC with EINVAL, the
	 * engine falls back to fdatasync(), which says EINVAL too. */
	CHECK_EQ(be_simple(e, PVIO_BLK_IO_FLUSH, 0, 0), -EINVAL);
	CHECK_EQ(e->st.sync, 1);
	CHECK_EQ(be_simple(e, PVIO_BLK_IO_FLUSH, 0, 0), -EINVAL);   /* direct */
	CHECK_EQ(e->st.sync, 2);
	CHECK_EQ(pvio_blk_engine_inflight(e), 0);
	pvio_blk_engine_close(e);
	close(fd);
}

int main(void)
{
	static const struct be_storage *st = &be_storages[1];   /* ext4 O_DIRECT */
	unsigned i;
	int fd;

	bufs = aligned_alloc(BLK, 64 * BLK);
	REQUIRE(bufs);
	fd = be_scratch(st, FILE_SIZE);
	if (fd == -EINVAL) {
		st = &be_storages[0];
		fd = be_scratch(st, FILE_SIZE);
	}
	REQUIRE(fd >= 0);
	printf("file: %s\n", st->label);
	test_open_errors(fd);

	for (i = 0; i < BE_NVARIANTS; i++) {
		const struct be_variant *v = &be_variants[i];
		struct pvio_blk_engine_cfg cfg = { .depth = 4 };
		struct pvio_blk_engine *e;
		int ret;

		if (!be_selected(v, st))
			continue;
		ret = be_open(v, fd, &cfg, &e);
		if (ret == -ENOTSUP) {
			printf("%-16s not built\n", v->label);
			continue;
		}
		REQUIRE(ret == 0);
		CHECK(strcmp(pvio_blk_engine_name(e), v->engine) == 0);
		if (v->uring_setup) {
			char want[32];

			snprintf(want, sizeof(want), "setup=%s ", v->uring_setup);
			CHECK(strstr(pvio__blk_engine_info(e), want) != NULL);
		}
		if (v->psync_threads == 0 && strcmp(v->engine, "psync") == 0)
			CHECK(strstr(pvio__blk_engine_info(e), "threads=4") != NULL);
		printf("%-16s %s\n", v->label, pvio__blk_engine_info(e));
		test_bad_io(e);
		pvio_blk_engine_close(e);

		test_depth(v, fd);
		test_readiness(v, fd);
		test_close_busy(v, fd);
		test_other_thread(v, fd);
		test_cycles(v, fd);
	}
	test_aio_fdsync_fallback();
	close(fd);
	free(bufs);
	return tu_result();
}
