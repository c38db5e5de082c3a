/* SPDX-License-Identifier: MIT */
/*
 * DISCARD and FLUSH through every engine.
 *
 * Files (ext4 buffered and O_DIRECT, tmpfs): after a block-aligned discard
 * st_blocks drops by the size of the hole and the range reads back as
 * zeros; an unaligned discard zeroes exactly its bytes; the data around
 * both is untouched. Block device: a loop device over a scratch file
 * (skipped when loop devices are unavailable): discard goes through
 * BLKDISCARD (is_blockdev), the range reads back as zeros and the backing
 * file loses the blocks.
 */
#include <sys/sysmacros.h>

#include "tests/blkengine/blkengine_common.h"

#define FILE_SIZE (4u << 20)
#define MIB       (1u << 20)

static uint8_t *orig, *buf;

static void fill_file(int fd)
{
	be_fill(orig, FILE_SIZE);
	memcpy(buf, orig, FILE_SIZE);
	REQUIRE(pwrite(fd, buf, FILE_SIZE, 0) == (ssize_t)FILE_SIZE);
	REQUIRE(fdatasync(fd) == 0);
}

static long long blocks(int fd)
{
	struct stat st;

	REQUIRE(fstat(fd, &st) == 0);
	return (long long)st.st_blocks;
}

/* Read the whole device/file through the engine, in 1 MiB pieces. */
static void read_all(struct pvio_blk_engine *e, uint64_t size)
{
	uint64_t off;

	for (off = 0; off < size; off += MIB)
		CHECK_EQ(be_rw(e, PVIO_BLK_IO_READ, buf + off, MIB, off), MIB);
}

/* The model: [lo, hi) was discarded. */
static void mark_zero(uint64_t lo, uint64_t hi)
{
	memset(orig + lo, 0, hi - lo);
}

/* What was read (buf) must equal the model (orig). */
static void check_model(const char *label, const char *what)
{
	size_t i;

	if (memcmp(buf, orig, FILE_SIZE) == 0)
		return;
	for (i = 0; i < FILE_SIZE && buf[i] == orig[i]; i++)
		;
	fprintf(stderr, "FAIL %s: %s: byte %zu is 0x%02x, want 0x%02x\n", label, what, i,
		buf[i], orig[i]);
	tu_failures++;
}

/* One hole [lo, hi): zeros there, the rest untouched. */
static void check_hole(const char *label, uint64_t lo, uint64_t hi)
{
	mark_zero(lo, hi);
	check_model(label, "after discard");
}

static void run_file(const struct be_variant *v, const struct be_storage *st)
{
	struct pvio_blk_engine_cfg cfg = { .depth = 8 };
	struct pvio_blk_engine *e;
	long long b0, b1;
	uint64_t lo, hi;
	char label[64];
	int fd, ret;

	snprintf(label, sizeof(label), "%s on %s", v->label, st->label);
	fd = be_scratch(st, FILE_SIZE);
	if (fd == -EINVAL || fd == -ENOENT) {
		printf("%-32s skipped: %s\n", label, strerror(-fd));
		return;
	}
	REQUIRE(fd >= 0);
	fill_file(fd);
	ret = be_open(v, fd, &cfg, &e);
	if (ret == -ENOTSUP) {
		close(fd);
		return;
	}
	REQUIRE(ret == 0);

	/* Block-aligned: the blocks go away. */
	b0 = blocks(fd);
	CHECK_EQ(be_simple(e, PVIO_BLK_IO_DISCARD, MIB, MIB), 0);
	CHECK_EQ(be_simple(e, PVIO_BLK_IO_FLUSH, 0, 0), 0);
	b1 = blocks(fd);
	if (b0 - b1 < (long long)(MIB / 512) * 7 / 8) {
		fprintf(stderr, "FAIL %s: st_blocks %lld -> %lld after a 1 MiB hole\n",
			label, b0, b1);
		tu_failures++;
	}
	read_all(e, FILE_SIZE);
	check_hole(label, MIB, 2 * MIB);

	/* Unaligned (sector-aligned for O_DIRECT reads): exact bytes zeroed. */
	lo = 3 * MIB + (st->direct ? 1536 : 100);
	hi = lo + (st->direct ? 9216 : 9001);
	CHECK_EQ(be_simple(e, PVIO_BLK_IO_DISCARD, lo, hi - lo), 0);
	read_all(e, FILE_SIZE);
	check_hole(label, lo, hi);

	/* Several discards and a flush in one batch. */
	{
		struct pvio_blk_io io[4] = {
			{ .op = PVIO_BLK_IO_DISCARD, .offset = 0, .len = 64 << 10 },
			{ .op = PVIO_BLK_IO_DISCARD, .offset = 256 << 10, .len = 64 << 10 },
			{ .op = PVIO_BLK_IO_FLUSH },
			{ .op = PVIO_BLK_IO_DISCARD, .offset = 512 << 10, .len = 64 << 10 },
		};
		unsigned i;

		for (i = 0; i < 4; i++)
			CHECK_EQ(pvio_blk_engine_queue(e, &io[i]), 0);
		CHECK_EQ(pvio_blk_engine_submit(e), 4);
		CHECK_EQ(be_drain(e), 4);
		for (i = 0; i < 4; i++)
			CHECK_EQ(io[i].result, 0);
		read_all(e, FILE_SIZE);
		mark_zero(0, 64 << 10);
		mark_zero(256 << 10, 320 << 10);
		mark_zero(512 << 10, 576 << 10);
		check_model(label, "after a batch of discards");
	}
	printf("%-32s ok: st_blocks %lld -> %lld\n", label, b0, b1);
	pvio_blk_engine_close(e);
	close(fd);
}

static char loopdev[64];

static void loop_detach(void)
{
	char cmd[128];

	if (loopdev[0]) {
		snprintf(cmd, sizeof(cmd), "losetup -d %s", loopdev);
		if (system(cmd) != 0)
			fprintf(stderr, "warning: could not detach %s\n", loopdev);
		loopdev[0] = 0;
	}
}

/* Attach a loop device over a scratch file; returns its backing fd or a
 * negative value (skip). */
static int loop_setup(void)
{
	char path[] = "/var/tmp/pvio-blkengine-loop-XXXXXX", cmd[256];
	FILE *p;
	int fd;

	if (geteuid() != 0 || access("/dev/loop-control", W_OK) != 0)
		return -1;
	fd = mkstemp(path);
	if (fd < 0)
		return -1;
	if (ftruncate(fd, FILE_SIZE) < 0)
		goto fail;
	fill_file(fd);
	snprintf(cmd, sizeof(cmd), "losetup --find --show %s 2>/dev/null", path);
	p = popen(cmd, "r");
	if (!p)
		goto fail;
	if (!fgets(loopdev, sizeof(loopdev), p))
		loopdev[0] = 0;
	pclose(p);
	loopdev[strcspn(loopdev, "\n")] = 0;
	if (strncmp(loopdev, "/dev/loop", 9) != 0) {
		loopdev[0] = 0;
		goto fail;
	}
	atexit(loop_detach);
	unlink(path);            /* the loop device holds it open */
	return fd;
fail:
	close(fd);
	unlink(path);
	return -1;
}

static void run_blockdev(int backing)
{
	unsigned i, d;

	for (d = 0; d < 2; d++) {
		for (i = 0; i < BE_NVARIANTS; i++) {
			const struct be_variant *v = &be_variants[i];
			struct pvio_blk_engine_cfg cfg = { .depth = 8, .is_blockdev = true };
			struct pvio_blk_engine *e;
			uint64_t lo = (uint64_t)(1 + i + d * BE_NVARIANTS) * 256 * 1024;
			uint64_t len = 128 * 1024;
			long long b0, b1;
			char label[64];
			int fd, ret;

			snprintf(label, sizeof(label), "%s on loop%s", v->label, d ? "-direct" : "");
			if (!be_selected(v, &be_storages[0]))
				continue;
			fd = open(loopdev, O_RDWR | O_CLOEXEC | (d ? O_DIRECT : 0));
			REQUIRE(fd >= 0);
			ret = be_open(v, fd, &cfg, &e);
			if (ret == -ENOTSUP) {
				close(fd);
				continue;
			}
			REQUIRE(ret == 0);
			b0 = blocks(backing);
			ret = (int)be_simple(e, PVIO_BLK_IO_DISCARD, lo, len);
			if (ret == -EOPNOTSUPP) {
				printf("%-32s skipped: loop device without discard\n", label);
				pvio_blk_engine_close(e);
				close(fd);
				return;
			}
			CHECK_EQ(ret, 0);
			CHECK_EQ(be_simple(e, PVIO_BLK_IO_FLUSH, 0, 0), 0);
			CHECK(e->st.sync >= 1 || strcmp(v->engine, "psync") == 0);
			b1 = blocks(backing);
			if (b0 - b1 < (long long)(len / 512) * 7 / 8) {
				fprintf(stderr, "FAIL %s: backing st_blocks %lld -> %lld\n",
					label, b0, b1);
				tu_failures++;
			}
			read_all(e, FILE_SIZE);
			check_hole(label, lo, lo + len);
			printf("%-32s ok: backing st_blocks %lld -> %lld\n", label, b0, b1);
			pvio_blk_engine_close(e);
			close(fd);
		}
	}
}

int main(void)
{
	unsigned s, v;
	int backing;

	orig = malloc(FILE_SIZE);
	buf = aligned_alloc(4096, FILE_SIZE);
	REQUIRE(orig && buf);
	for (s = 0; s < BE_NSTORAGES; s++)
		for (v = 0; v < BE_NVARIANTS; v++)
			if (be_selected(&be_variants[v], &be_storages[s]))
				run_file(&be_variants[v], &be_storages[s]);

	backing = loop_setup();
	if (backing >= 0) {
		run_blockdev(backing);
		loop_detach();
		close(backing);
	} else {
		printf("block device part skipped: no loop device (needs root)\n");
	}
	free(orig);
	free(buf);
	return tu_result();
}
