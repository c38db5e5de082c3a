/* SPDX-License-Identifier: MIT */
/*
 * The fault engine (blkback/engine_fault.c) around every engine of the
 * matrix, on a tmpfs file:
 *   spec    the grammar: good specs parse, bad ones are refused naming the
 *           bad part (and an engine is not opened with one)
 *   error   eio on writes, after=2:count=2: exactly the 3rd and 4th write
 *           fail, and their data never reaches the file; enospc; ebadf
 *           from a point on; an off= range picks only I/Os overlapping it
 *   short   a read comes back with half its bytes
 *   delay   the completion comes after at least ms, the engine fd turns
 *           readable for it, and a second I/O queued later but not delayed
 *           completes first
 *   submit  submit-eagain/ebusy: submit returns the error and keeps the
 *           I/O, arm says it is pending, and it completes once the count
 *           is used up
 */
#include <fcntl.h>

#include "tests/blkengine/blkengine_common.h"

#define FSIZE (1u << 20)

static struct pvio_blk_engine *open_fault(const struct be_variant *v, int fd, const char *spec)
{
	struct pvio_blk_engine_cfg cfg = { .depth = 16, .faults = spec };
	struct pvio_blk_engine *e = NULL;
	int r = be_open(v, fd, &cfg, &e);

	if (r) {
		fprintf(stderr, "%s: open with '%s': %s\n", v->label, spec, strerror(-r));
		tu_failures++;
		return NULL;
	}
	CHECK(!strcmp(pvio_blk_engine_name(e), "fault"));
	return e;
}

static void test_spec(void)
{
	static const char *const good[] = {
		"eio", "eio:op=write", "enospc:after=3:count=1", "eio:op=read+write:off=4k-8k",
		"short", "delay:ms=10", "delay:ms=5:op=flush:count=2", "submit-eagain:count=3",
		"submit-ebusy", "ebadf:after=100", "eopnotsupp:op=discard",
		"eio:op=any;short:count=1;delay:ms=1", "delay:us=150", "delay:us=3600000000",
	};
	static const struct { const char *spec, *says; } bad[] = {
		{ "", "empty" },
		{ "eiox", "unknown fault" },
		{ "eio:", "nothing after" },
		{ "eio:op=sideways", "op=sideways" },
		{ "eio:op=read+", "op=read+" },
		{ "eio:off=8k-4k", "off=8k-4k" },
		{ "eio:off=4k", "off=4k" },
		{ "eio:count=0", "count=0" },
		{ "eio:after=x", "after=x" },
		{ "eio:ms=3", "unknown key 'ms'" },
		{ "delay", "needs ms" },
		{ "delay:ms=99999999", "ms=99999999" },
		{ "delay:us=0", "needs ms=N or us=N" },
		{ "delay:us=3600000001", "us=3600000001" },
		{ "eio:us=5", "unknown key 'us'" },
		{ "short:op=write", "reads only" },
		{ "eio;", "trailing ';'" },
		{ "eio;;short", "empty rule" },
		{ "eio:op=read:", "trailing ':'" },
		{ "eio:op", "not key=value" },
		{ "eio:after=99999999999999999999", "after=" },
		{ "eio;eio;eio;eio;eio;eio;eio;eio;eio", "more than 8" },
	};
	char err[160];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		int r = pvio_blk_faults_check(good[i], err, sizeof(err));

		if (r)
			fprintf(stderr, "'%s' refused: %s\n", good[i], err);
		CHECK_EQ(r, 0);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = pvio_blk_faults_check(bad[i].spec, err, sizeof(err));

		CHECK_EQ(r, -EINVAL);
		if (!strstr(err, bad[i].says)) {
			fprintf(stderr, "'%s': message '%s' does not say '%s'\n", bad[i].spec, err,
				bad[i].says);
			tu_failures++;
		}
	}
	{
		struct pvio_blk_engine_cfg cfg = { .depth = 4, .faults = "eio:bogus=1" };
		struct pvio_blk_engine *e = NULL;
		int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

		CHECK_EQ(pvio_blk_engine_open("psync", fd, &cfg, &e), -EINVAL);
		CHECK(e == NULL);
		cfg.faults = "eio";
		CHECK_EQ(pvio_blk_engine_open("nosuch", fd, &cfg, &e), -ENOENT);
		close(fd);
	}
}

static void fill_file(int fd, uint8_t v)
{
	static uint8_t buf[FSIZE];

	memset(buf, v, sizeof(buf));
	REQUIRE(pwrite(fd, buf, sizeof(buf), 0) == (ssize_t)sizeof(buf));
}

static bool file_is(int fd, uint64_t off, size_t len, uint8_t v)
{
	uint8_t buf[4096];

	REQUIRE(len <= sizeof(buf));
	REQUIRE(pread(fd, buf, len, (off_t)off) == (ssize_t)len);
	for (size_t i = 0; i < len; i++)
		if (buf[i] != v)
			return false;
	return true;
}

static void test_error(const struct be_variant *v, int fd)
{
	uint8_t buf[4096];
	struct pvio_blk_engine *e;

	fill_file(fd, 0);
	memset(buf, 0xab, sizeof(buf));
	if (!(e = open_fault(v, fd, "eio:op=write:after=2:count=2")))
		return;
	for (unsigned i = 0; i < 6; i++) {
		int64_t r = be_rw(e, PVIO_BLK_IO_WRITE, buf, 4096, i * 4096ull);

		CHECK_EQ(r, (i == 2 || i == 3) ? -EIO : 4096);
		/* A failed write never reached the file. */
		CHECK(file_is(fd, i * 4096ull, 4096, (i == 2 || i == 3) ? 0 : 0xab));
	}
	/* Reads and flushes are not selected by op=write. */
	CHECK_EQ(be_rw(e, PVIO_BLK_IO_READ, buf, 4096, 0), 4096);
	CHECK_EQ(be_simple(e, PVIO_BLK_IO_FLUSH, 0, 0), 0);
	pvio_blk_engine_close(e);

	if (!(e = open_fault(v, fd, "enospc:count=1")))
		return;
	CHECK_EQ(be_rw(e, PVIO_BLK_IO_READ, buf, 4096, 0), 4096);
	CHECK_EQ(be_rw(e, PVIO_BLK_IO_WRITE, buf, 4096, 0), -ENOSPC);
	CHECK_EQ(be_rw(e, PVIO_BLK_IO_WRITE, buf, 4096, 0), 4096);
	pvio_blk_engine_close(e);

	/* The disk goes away after 3 I/Os: everything after fails. */
	if (!(e = open_fault(v, fd, "ebadf:after=3")))
		return;
	for (unsigned i = 0; i < 8; i++)
		CHECK_EQ(be_rw(e, i & 1 ? PVIO_BLK_IO_READ : PVIO_BLK_IO_WRITE, buf, 4096,
			       i * 4096ull), i < 3 ? 4096 : -EBADF);
	CHECK_EQ(be_simple(e, PVIO_BLK_IO_FLUSH, 0, 0), -EBADF);
	pvio_blk_engine_close(e);

	/* Only I/Os overlapping [64k, 68k): one ending at 64k or starting at
	 * 68k is not hit; flushes never are. */
	if (!(e = open_fault(v, fd, "eio:off=64k-68k")))
		return;
	CHECK_EQ(be_rw(e, PVIO_BLK_IO_READ, buf, 4096, 60 * 1024), 4096);
	CHECK_EQ(be_rw(e, PVIO_BLK_IO_READ, buf, 4096, 68 * 1024), 4096);
	CHECK_EQ(be_rw(e, PVIO_BLK_IO_READ, buf, 4096, 66 * 1024), -EIO);
	CHECK_EQ(be_rw(e, PVIO_BLK_IO_WRITE, buf, 512, 67 * 1024), -EIO);
	CHECK_EQ(be_simple(e, PVIO_BLK_IO_FLUSH, 0, 0), 0);
	pvio_blk_engine_close(e);
}

static void test_short(const struct be_variant *v, int fd)
{
	uint8_t buf[4096];
	struct pvio_blk_engine *e;

	fill_file(fd, 0x5a);
	if (!(e = open_fault(v, fd, "short:count=1")))
		return;
	memset(buf, 0, sizeof(buf));
	CHECK_EQ(be_rw(e, PVIO_BLK_IO_READ, buf, 4096, 8192), 2048);
	CHECK_EQ(be_rw(e, PVIO_BLK_IO_READ, buf, 4096, 8192), 4096);
	CHECK(buf[4095] == 0x5a);
	pvio_blk_engine_close(e);
}

static void test_delay(const struct be_variant *v, int fd)
{
	uint8_t b1[4096], b2[4096];
	struct iovec v1 = { b1, sizeof(b1) }, v2 = { b2, sizeof(b2) };
	struct pvio_blk_io io1 = { .op = PVIO_BLK_IO_READ, .iovcnt = 1, .len = 4096, .iov = &v1 };
	struct pvio_blk_io io2 = { .op = PVIO_BLK_IO_READ, .iovcnt = 1, .offset = 4096,
				   .len = 4096, .iov = &v2 };
	struct pvio_blk_io *done[2];
	struct pvio_blk_engine *e;
	unsigned got = 0;
	bool second_first = false;
	double t0, t1 = 0;

	fill_file(fd, 0x11);
	if (!(e = open_fault(v, fd, "delay:ms=300:count=1")))
		return;
	t0 = tu_now();
	REQUIRE(pvio_blk_engine_queue(e, &io1) == 0);
	pvio_blk_engine_submit(e);
	REQUIRE(pvio_blk_engine_queue(e, &io2) == 0);
	pvio_blk_engine_submit(e);
	/* As a poller does: poll, arm, sleep on the fd. */
	while (got < 2) {
		int n = pvio_blk_engine_poll(e, done, 2);

		REQUIRE(n >= 0);
		for (int i = 0; i < n; i++, got++) {
			if (done[i] == &io2 && got == 0)
				second_first = true;
			if (done[i] == &io1)
				t1 = tu_now();
			CHECK_EQ(done[i]->result, 4096);
		}
		if (got < 2 && !pvio_blk_engine_arm(e))
			REQUIRE(be_poll(e, 10000));
	}
	CHECK(second_first);
	CHECK(t1 - t0 >= 0.299);
	CHECK_EQ(pvio_blk_engine_inflight(e), 0u);
	/* reap with wait also waits out a delay. */
	pvio_blk_engine_close(e);
	if (!(e = open_fault(v, fd, "delay:ms=50")))
		return;
	t0 = tu_now();
	CHECK_EQ(be_rw(e, PVIO_BLK_IO_READ, b1, 4096, 0), 4096);
	CHECK(tu_now() - t0 >= 0.049);
	pvio_blk_engine_close(e);
	/* In microseconds. */
	if (!(e = open_fault(v, fd, "delay:us=20000")))
		return;
	t0 = tu_now();
	CHECK_EQ(be_rw(e, PVIO_BLK_IO_READ, b1, 4096, 0), 4096);
	CHECK(tu_now() - t0 >= 0.0199);
	/* Closing with a completion still held back frees it. */
	REQUIRE(pvio_blk_engine_queue(e, &io1) == 0);
	pvio_blk_engine_submit(e);
	for (int spins = 0; spins < 1000 && pvio_blk_engine_poll(e, done, 2) == 0; spins++)
		if (pvio_blk_engine_inflight(e) && !pvio_blk_engine_arm(e))
			break;
	pvio_blk_engine_close(e);
}

static void test_submit(const struct be_variant *v, int fd, const char *spec, int err)
{
	uint8_t buf[4096];
	struct iovec iv = { buf, sizeof(buf) };
	struct pvio_blk_io io = { .op = PVIO_BLK_IO_WRITE, .iovcnt = 1, .len = 4096, .iov = &iv };
	struct pvio_blk_io *done[1];
	struct pvio_blk_engine *e;
	int n;

	fill_file(fd, 0);
	memset(buf, 0x77, sizeof(buf));
	if (!(e = open_fault(v, fd, spec)))
		return;
	REQUIRE(pvio_blk_engine_queue(e, &io) == 0);
	CHECK_EQ(pvio_blk_engine_submit(e), -err);
	CHECK_EQ(pvio_blk_engine_submit(e), -err);
	CHECK(pvio_blk_engine_arm(e));               /* pending: do not sleep */
	CHECK(file_is(fd, 0, 4096, 0));
	/* The third try goes through (count=2), from poll. */
	do {
		n = pvio_blk_engine_poll(e, done, 1);
		if (n == 0 && !pvio_blk_engine_arm(e))
			REQUIRE(be_poll(e, 10000));
	} while (n == 0);
	CHECK_EQ(n, 1);
	CHECK(done[0] == &io);
	CHECK_EQ(io.result, 4096);
	CHECK(file_is(fd, 0, 4096, 0x77));
	pvio_blk_engine_close(e);
}

int main(void)
{
	static const struct be_storage tmpfs = { "tmpfs", "/dev/shm", false, 1 };
	int ran = 0;

	test_spec();
	for (size_t i = 0; i < BE_NVARIANTS; i++) {
		const struct be_variant *v = &be_variants[i];
		struct pvio_blk_engine_cfg cfg = { .depth = 4 };
		struct pvio_blk_engine *probe = NULL;
		int fd = be_scratch(&tmpfs, FSIZE);

		REQUIRE(fd >= 0);
		if (!be_selected(v, &tmpfs) || be_open(v, fd, &cfg, &probe) != 0) {
			fprintf(stderr, "%s: not available here\n", v->label);
			close(fd);
			continue;
		}
		pvio_blk_engine_close(probe);
		fprintf(stderr, "%s\n", v->label);
		test_error(v, fd);
		test_short(v, fd);
		test_delay(v, fd);
		test_submit(v, fd, "submit-eagain:count=2", EAGAIN);
		test_submit(v, fd, "submit-ebusy:count=2", EBUSY);
		close(fd);
		ran++;
	}
	CHECK(ran > 0);
	return tu_result();
}
