/* SPDX-License-Identifier: MIT */
/*
 * io_uring fixed buffers (cfg.fixed_base/fixed_len).
 *
 * 1. A region larger than 1 GiB is a table of 2 MiB buffers, each
 *    registered on first use. Single-iovec I/O inside a chunk at the start,
 *    past 1 GiB and at the very end uses READ_FIXED/WRITE_FIXED (the
 *    engine's fixed counter moves); one straddling two chunks cannot and
 *    falls back to readv/writev. All data is verified. The region is one 4
 *    MiB memfd mapped 257 times in a row: same geometry, 4 MiB of memory
 *    (offsets below never alias).
 * 2. Registration refused (RLIMIT_MEMLOCK, no CAP_IPC_LOCK: an unprivileged
 *    child): the engine still opens, and I/O inside the region works
 *    through readv/writev.
 * 3. Registration pins, and pinning allocates: opening the engine on a 64
 *    MiB memfd allocates none of it, and I/O in one chunk allocates that
 *    chunk at most (before, every page of a guest was allocated and cleared
 *    at connect).
 */
#include <grp.h>
#include <sys/resource.h>

#include "tests/blkengine/blkengine_common.h"

#define GIB        (1ull << 30)
#define REGION     (GIB + (4u << 20))
#define IOLEN      (64u << 10)

static int open_region(size_t len, uint8_t **mem)
{
	int mfd = memfd_create("pvio-blkengine-guest", MFD_CLOEXEC);

	REQUIRE(mfd >= 0);
	REQUIRE(ftruncate(mfd, (off_t)len) == 0);
	*mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	REQUIRE(*mem != MAP_FAILED);
	return mfd;
}

/* len bytes of address space backed by one memfd of ALIAS bytes, mapped
 * again and again. */
#define ALIAS (4u << 20)
static int open_aliased_region(size_t len, uint8_t **mem)
{
	int mfd = memfd_create("pvio-blkengine-guest", MFD_CLOEXEC);
	uint8_t *base;
	size_t off;

	REQUIRE(mfd >= 0 && len % ALIAS == 0);
	REQUIRE(ftruncate(mfd, ALIAS) == 0);
	base = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	REQUIRE(base != MAP_FAILED);
	for (off = 0; off < len; off += ALIAS)
		REQUIRE(mmap(base + off, ALIAS, PROT_READ | PROT_WRITE,
			     MAP_SHARED | MAP_FIXED, mfd, 0) == base + off);
	*mem = base;
	return mfd;
}

/* Write at region offset wr, read back at region offset rd; returns how
 * many SQEs used the fixed path. */
static uint64_t roundtrip(struct pvio_blk_engine *e, uint8_t *mem, uint64_t wr, uint64_t rd,
			  uint64_t file_off)
{
	uint64_t before = e->st.fixed;

	be_fill(mem + wr, IOLEN);
	memset(mem + rd, 0, IOLEN);
	CHECK_EQ(be_rw(e, PVIO_BLK_IO_WRITE, mem + wr, IOLEN, file_off), IOLEN);
	CHECK_EQ(be_rw(e, PVIO_BLK_IO_READ, mem + rd, IOLEN, file_off), IOLEN);
	CHECK(memcmp(mem + wr, mem + rd, IOLEN) == 0);
	return e->st.fixed - before;
}

/* An io_uring engine with [mem, mem+len) as its fixed-buffer region;
 * false (said why) where there is none to test: no io_uring, or no table. */
static bool open_fixed(int fd, uint8_t *mem, size_t len, const char *what,
		       struct pvio_blk_engine **e)
{
	struct pvio_blk_engine_cfg cfg = { .depth = 8, .fixed_base = mem, .fixed_len = len };
	int ret = pvio_blk_engine_open("io_uring", fd, &cfg, e);

	if (ret == -ENOTSUP) {
		printf("%s: skipped, io_uring not built\n", what);
		return false;
	}
	REQUIRE(ret == 0);
	printf("%s: %s\n", what, pvio__blk_engine_info(*e));
	if (!strstr(pvio__blk_engine_info(*e), "fixed=registered")) {
		printf("%s: skipped, no fixed buffers here\n", what);
		pvio_blk_engine_close(*e);
		return false;
	}
	return true;
}

static void test_split(int fd)
{
	struct pvio_blk_engine *e;
	uint8_t *mem;
	int mfd;

	mfd = open_aliased_region(REGION, &mem);
	if (!open_fixed(fd, mem, REGION, "split", &e))
		goto out;
	/* Inside chunk 0, inside the chunk past 1 GiB, then across the 1 GiB
	 * chunk boundary; write and read offsets differ modulo ALIAS. */
	CHECK_EQ(roundtrip(e, mem, 4096, 8 * IOLEN, 0), 2);
	CHECK_EQ(roundtrip(e, mem, GIB + 8192, GIB + 8 * IOLEN, IOLEN), 2);
	CHECK_EQ(roundtrip(e, mem, GIB - IOLEN / 2, GIB + 16 * IOLEN, 2 * IOLEN), 1);
	/* The very end of the region. */
	CHECK_EQ(roundtrip(e, mem, REGION - IOLEN, GIB + 32 * IOLEN, 3 * IOLEN), 2);
	pvio_blk_engine_close(e);
out:
	munmap(mem, REGION);
	close(mfd);
}

/* In a child without CAP_IPC_LOCK and with a 64 KiB memlock limit. */
static int unprivileged_child(int fd)
{
	struct rlimit rl = { 64 << 10, 64 << 10 };
	struct pvio_blk_engine_cfg cfg = { .depth = 8 };
	struct pvio_blk_engine *e;
	size_t len = 16u << 20;
	uint8_t *mem;
	int mfd, ret;

	mfd = open_region(len, &mem);
	if (setrlimit(RLIMIT_MEMLOCK, &rl) != 0)
		return 77;
	if (geteuid() == 0 &&
	    (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0))
		return 77;
	cfg.fixed_base = mem;
	cfg.fixed_len = len;
	ret = pvio_blk_engine_open("io_uring", fd, &cfg, &e);
	if (ret == -EPERM || ret == -ENOTSUP) {
		printf("memlock: io_uring not available unprivileged (%s)\n", strerror(-ret));
		return 77;
	}
	REQUIRE(ret == 0);
	printf("memlock: %s\n", pvio__blk_engine_info(e));
	/* The chunk cannot be pinned: plain readv/writev, twice. */
	CHECK_EQ(roundtrip(e, mem, 4096, 8 * IOLEN, 0), 0);
	CHECK_EQ(roundtrip(e, mem, 4096, 8 * IOLEN, 0), 0);
	pvio_blk_engine_close(e);
	munmap(mem, len);
	close(mfd);
	return tu_result();
}

static void test_memlock(int fd)
{
	int st;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		int rc = unprivileged_child(fd);

		fflush(stdout);
		_exit(rc);
	}
	REQUIRE(waitpid(pid, &st, 0) == pid);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 77) {
		printf("memlock: skipped\n");
		return;
	}
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* KiB of the memfd's pages allocated. */
static long long mfd_kib(int mfd)
{
	struct stat st;

	REQUIRE(fstat(mfd, &st) == 0);
	return (long long)st.st_blocks / 2;
}

static void test_lazy(int fd)
{
	struct pvio_blk_engine *e;
	size_t len = 64u << 20;
	uint8_t *mem;
	int mfd;

	mfd = open_region(len, &mem);
	if (!open_fixed(fd, mem, len, "lazy", &e))
		goto out;
	printf("lazy: %lld KiB allocated after open\n", mfd_kib(mfd));
	CHECK(mfd_kib(mfd) == 0);
	/* Chunk 5 (10 MiB in), both I/Os fixed. */
	CHECK_EQ(roundtrip(e, mem, (10u << 20) + 4096, (10u << 20) + 8 * IOLEN, 0), 2);
	printf("lazy: %lld KiB allocated after I/O in one 2 MiB chunk\n", mfd_kib(mfd));
	CHECK(mfd_kib(mfd) > 0 && mfd_kib(mfd) <= 2048);
	pvio_blk_engine_close(e);
out:
	munmap(mem, len);
	close(mfd);
}

int main(void)
{
	int fd = be_scratch(&be_storages[0], 4 * IOLEN);

	REQUIRE(fd >= 0);
	test_split(fd);
	test_memlock(fd);
	test_lazy(fd);
	close(fd);
	return tu_result();
}
