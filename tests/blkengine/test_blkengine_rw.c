/* SPDX-License-Identifier: MIT */
/*
 * Random reads and writes through every engine against an in-memory model of
 * the file, for each storage (ext4 buffered, ext4 O_DIRECT, tmpfs buffered).
 *
 * Up to DEPTH I/Os are in flight at once, never overlapping each other, so
 * the model stays exact: a write updates the model when queued, a read is
 * compared with it on completion. Each I/O is one of: a single iovec inside
 * the registered fixed region (READ_FIXED/WRITE_FIXED with io_uring), a
 * single iovec outside it, or 2..16 iovecs mixing both (plus zero-length
 * ones on buffered files). Reads that cross the end of the file must come
 * back short with the bytes before it (the engines resubmit the remainder
 * and see EOF). FLUSHes are mixed in. Completions are collected three ways:
 * reap with wait, poll() on the engine fd then reap, and reap without wait.
 * Finally the whole file is read back with pread() and compared.
 */
#include "tests/blkengine/blkengine_common.h"

#define FILE_SIZE  (8u << 20)
#define DEPTH      32u
#define MAX_IO     (128u << 10)
#define MAX_SEGS   16u
#define OPS        1200u

struct slot {
	struct pvio_blk_io io;
	struct iovec iov[2 * MAX_SEGS];   /* pieces + zero-length ones */
	bool busy;
	bool eof;                /* read crossing the end of the file */
	uint64_t lo, hi;         /* file range it covers */
	uint64_t expect;         /* expected result */
};

static uint8_t *model;
static uint8_t *fixed_pool;      /* registered as fixed buffers */
static uint8_t *plain_pool;      /* not registered */
static struct slot slots[DEPTH];

static bool overlaps(uint64_t lo, uint64_t hi)
{
	unsigned i;

	for (i = 0; i < DEPTH; i++)
		if (slots[i].busy && slots[i].hi && lo < slots[i].hi && slots[i].lo < hi)
			return true;
	return false;
}

static uint64_t rand_len(unsigned align, uint64_t max)
{
	/* Mostly small, sometimes up to max. */
	uint64_t units = max / align;

	if (be_rand() % 4)
		units = units / 16 ? units / 16 : 1;
	return be_rand_range(1, units) * align;
}

/* Lay out len bytes for slot i: returns the iovec count. */
static unsigned layout(unsigned i, uint64_t len, unsigned align, bool direct, int *kind)
{
	struct slot *s = &slots[i];
	uint8_t *fixed = fixed_pool + (size_t)i * MAX_IO;
	uint8_t *plain = plain_pool + (size_t)i * MAX_IO;
	unsigned n = 0, segs, j;
	uint64_t left = len, pos = 0;

	*kind = (int)(be_rand() % 3);
	if (*kind == 0 || *kind == 1 || len < 2 * align) {
		if (*kind == 2)
			*kind = 0;
		s->iov[0].iov_base = *kind == 0 ? fixed : plain;
		s->iov[0].iov_len = len;
		return 1;
	}
	segs = (unsigned)be_rand_range(2, MAX_SEGS);
	for (j = 0; j < segs && left; j++) {
		uint64_t piece = j == segs - 1 ? left :
				 be_rand_range(1, left / align) * align;
		uint8_t *pool = be_rand() % 2 ? fixed : plain;

		if (piece > left)
			piece = left;
		if (!direct && be_rand() % 8 == 0) {
			s->iov[n].iov_base = pool + pos;   /* zero-length segment */
			s->iov[n++].iov_len = 0;
		}
		s->iov[n].iov_base = pool + pos;
		s->iov[n++].iov_len = piece;
		pos += piece;
		left -= piece;
	}
	return n;
}

struct counts {
	unsigned reads, writes, flushes, eofs, kinds[3], spurious;
};

static void make_op(unsigned i, const struct be_storage *st, struct counts *c)
{
	struct slot *s = &slots[i];
	unsigned a = st->align, j, r = (unsigned)(be_rand() % 100);
	uint64_t len, off, pos = 0;
	int kind;

	memset(&s->io, 0, sizeof(s->io));
	s->io.user = s;
	s->eof = false;
	s->lo = s->hi = 0;
	if (r < 2) {
		s->io.op = PVIO_BLK_IO_FLUSH;
		s->expect = 0;
		c->flushes++;
		return;
	}
	len = rand_len(a, MAX_IO);
	if (r < 6 && len > a) {
		/* Read across the end of the file: only tail bytes exist. */
		uint64_t tail = be_rand_range(1, len / a - 1) * a;

		off = FILE_SIZE - tail;
		s->eof = true;
		s->expect = tail;
		s->lo = off;
		s->hi = FILE_SIZE;
	} else {
		off = be_rand_range(0, (FILE_SIZE - len) / a) * a;
		s->expect = len;
		s->lo = off;
		s->hi = off + len;
	}
	if (overlaps(s->lo, s->hi)) {
		/* Keep the model exact: turn it into a flush instead. */
		s->io.op = PVIO_BLK_IO_FLUSH;
		s->expect = 0;
		s->lo = s->hi = 0;
		s->eof = false;
		c->flushes++;
		return;
	}
	c->eofs += s->eof;
	s->io.iovcnt = (uint16_t)layout(i, len, a, st->direct, &kind);
	s->io.iov = s->iov;
	s->io.offset = off;
	s->io.len = len;
	c->kinds[kind]++;
	if (!s->eof && r < 53) {
		s->io.op = PVIO_BLK_IO_WRITE;
		for (j = 0; j < s->io.iovcnt; j++) {
			be_fill(s->iov[j].iov_base, s->iov[j].iov_len);
			memcpy(model + off + pos, s->iov[j].iov_base, s->iov[j].iov_len);
			pos += s->iov[j].iov_len;
		}
		c->writes++;
	} else {
		s->io.op = PVIO_BLK_IO_READ;
		for (j = 0; j < s->io.iovcnt; j++)
			memset(s->iov[j].iov_base, 0xa5, s->iov[j].iov_len);
		c->reads++;
	}
}

static void check_done(struct slot *s, const char *label)
{
	uint64_t pos = 0;
	unsigned j;

	if (s->io.result != (int64_t)s->expect) {
		fprintf(stderr, "FAIL %s: op %u off %llu len %llu: result %lld, want %llu\n",
			label, s->io.op, (unsigned long long)s->io.offset,
			(unsigned long long)s->io.len, (long long)s->io.result,
			(unsigned long long)s->expect);
		tu_failures++;
		return;
	}
	if (s->io.op != PVIO_BLK_IO_READ)
		return;
	for (j = 0; j < s->io.iovcnt && pos < s->expect; j++) {
		uint64_t n = s->iov[j].iov_len;

		if (n > s->expect - pos)
			n = s->expect - pos;
		if (memcmp(s->iov[j].iov_base, model + s->io.offset + pos, n) != 0) {
			fprintf(stderr, "FAIL %s: read off %llu seg %u: data differs\n",
				label, (unsigned long long)s->io.offset, j);
			tu_failures++;
			return;
		}
		pos += n;
	}
}

static void run(const struct be_variant *v, const struct be_storage *st)
{
	struct pvio_blk_engine_cfg cfg = {
		.depth = DEPTH, .fixed_base = fixed_pool, .fixed_len = DEPTH * MAX_IO,
	};
	struct pvio_blk_io *done[DEPTH];
	struct pvio_blk_engine *e;
	struct counts c = { 0 };
	unsigned issued = 0, i, busy = 0;
	uint8_t *check;
	double t0 = tu_now();
	char label[64];
	int fd, ret;

	snprintf(label, sizeof(label), "%s on %s", v->label, st->label);
	fd = be_scratch(st, FILE_SIZE);
	if (fd == -EINVAL || fd == -ENOENT) {
		printf("%-32s skipped: %s\n", label, strerror(-fd));
		return;
	}
	REQUIRE(fd >= 0);
	/* Start from random content, mirrored in the model. */
	be_fill(model, FILE_SIZE);
	check = aligned_alloc(4096, FILE_SIZE);
	REQUIRE(check);
	memcpy(check, model, FILE_SIZE);
	REQUIRE(pwrite(fd, check, FILE_SIZE, 0) == (ssize_t)FILE_SIZE);

	ret = be_open(v, fd, &cfg, &e);
	if (ret == -ENOTSUP) {
		printf("%-32s skipped: engine not built\n", label);
		goto out_fd;
	}
	CHECK_EQ(ret, 0);
	if (ret)
		goto out_fd;
	memset(slots, 0, sizeof(slots));

	while (issued < OPS || busy) {
		unsigned batch = (unsigned)be_rand_range(1, DEPTH), max;
		int n, how = (int)(be_rand() % 3);

		for (i = 0; i < DEPTH && batch && issued < OPS; i++) {
			if (slots[i].busy)
				continue;
			make_op(i, st, &c);
			ret = pvio_blk_engine_queue(e, &slots[i].io);
			CHECK_EQ(ret, 0);
			if (ret)
				break;
			slots[i].busy = true;
			busy++;
			issued++;
			batch--;
		}
		CHECK_EQ(pvio_blk_engine_inflight(e), busy);
		ret = pvio_blk_engine_submit(e);
		CHECK(ret >= 0);

		max = (unsigned)be_rand_range(1, DEPTH);
		if (how == 1 && busy) {
			/* The fd must become readable while I/O is in flight. */
			if (!be_poll(e, 5000)) {
				fprintf(stderr, "FAIL %s: fd not readable with %u in flight\n",
					label, busy);
				tu_failures++;
				break;
			}
		}
		n = pvio_blk_engine_reap(e, done, max, how == 0);
		CHECK(n >= 0);
		if (n < 0)
			break;
		if (how == 1 && n == 0)
			c.spurious++;
		if (how == 0 && busy)
			CHECK(n > 0);
		for (i = 0; i < (unsigned)n; i++) {
			struct slot *s = done[i]->user;

			CHECK(s >= slots && s < slots + DEPTH && s->busy);
			check_done(s, label);
			s->busy = false;
			busy--;
		}
		if (tu_failures > 20)
			break;
	}
	be_drain(e);
	CHECK_EQ(pvio_blk_engine_inflight(e), 0);
	if (strcmp(v->engine, "io_uring") == 0) {
		CHECK(strstr(pvio__blk_engine_info(e), "fixed=registered") != NULL);
		CHECK(e->st.fixed > 0);
	}
	if (strcmp(v->engine, "psync") != 0 && c.eofs)
		CHECK(e->st.resubmits > 0);   /* remainder after the short read */
	printf("%-32s %u ops (%u rd, %u wr, %u flush, %u eof; fixed/plain/multi %u/%u/%u) "
	       "%.2fs spurious=%u fixed-sqes=%llu resubmits=%llu  [%s]\n",
	       label, issued, c.reads, c.writes, c.flushes, c.eofs, c.kinds[0], c.kinds[1],
	       c.kinds[2], tu_now() - t0, c.spurious, (unsigned long long)e->st.fixed,
	       (unsigned long long)e->st.resubmits, pvio__blk_engine_info(e));
	pvio_blk_engine_close(e);

	/* The file as a whole must equal the model. */
	REQUIRE(pread(fd, check, FILE_SIZE, 0) == (ssize_t)FILE_SIZE);
	if (memcmp(check, model, FILE_SIZE) != 0) {
		fprintf(stderr, "FAIL %s: file differs from the model\n", label);
		tu_failures++;
	}
out_fd:
	free(check);
	close(fd);
}

int main(void)
{
	const char *seed = getenv("PVIO_TEST_SEED");
	unsigned v, s;
	int mfd;

	if (seed)
		be_rng_state = strtoull(seed, NULL, 0) | 1;
	printf("seed 0x%llx (PVIO_TEST_SEED)\n", (unsigned long long)be_rng_state);

	model = malloc(FILE_SIZE);
	plain_pool = aligned_alloc(4096, DEPTH * MAX_IO);
	REQUIRE(model && plain_pool);
	/* Guest memory is a memfd mapping: register the same kind of memory. */
	mfd = memfd_create("pvio-blkengine-fixed", MFD_CLOEXEC);
	REQUIRE(mfd >= 0);
	REQUIRE(ftruncate(mfd, DEPTH * MAX_IO) == 0);
	fixed_pool = mmap(NULL, DEPTH * MAX_IO, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	REQUIRE(fixed_pool != MAP_FAILED);

	for (s = 0; s < BE_NSTORAGES; s++)
		for (v = 0; v < BE_NVARIANTS; v++)
			if (be_selected(&be_variants[v], &be_storages[s]))
				run(&be_variants[v], &be_storages[s]);

	munmap(fixed_pool, DEPTH * MAX_IO);
	close(mfd);
	free(plain_pool);
	free(model);
	return tu_result();
}
