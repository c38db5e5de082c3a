/* SPDX-License-Identifier: MIT */
/*
 * blkfront data path against the in-process fake backend (RAM disk), over
 * the configuration matrix: queues {1,2} x ring order {0,4} x persistent
 * {on,off} x indirect {on,off} x protocol {x86_64,x86_32} x sector size
 * {512,4096}. Per queue (one thread each): random-length writes of random
 * data over its own region, buffers not page-aligned where the protocol
 * allows, async with more in flight than the ring holds; read back with a
 * different split; compare with the model and the backend's disk. Then the
 * blocking helpers with a buffer outside guest memory (bounce), flush and
 * discard.
 */
#include "tests/blkfront/bf_test.h"

#define DISK   (6u << 20)
#define MAXREQ 256

struct qwork {
	struct pvio_blkfront *f;
	unsigned q;
	uint64_t base, len;          /* this queue's region */
	uint32_t ss, unit;
	uint8_t *model;              /* whole disk model */
	unsigned seed;
	int fails;
};

static unsigned split(struct qwork *w, uint64_t *offs, uint64_t *lens, unsigned maxn)
{
	uint64_t pos = 0;
	unsigned n = 0;

	while (pos < w->len && n < maxn) {
		/* 1 sector up to ~1.5 MiB: crosses the 11-segment and the
		 * 256-segment limits, and the ring's capacity. */
		uint64_t secs = 1 + (uint64_t)rand_r(&w->seed) % ((3u << 19) / w->ss);
		uint64_t l = secs * w->ss;

		if (l > w->len - pos || n == maxn - 1)
			l = w->len - pos;
		offs[n] = w->base + pos;
		lens[n] = l;
		pos += l;
		n++;
	}
	return n;
}

static void *qthread(void *arg)
{
	struct qwork *w = arg;
	static __thread uint64_t offs[MAXREQ], lens[MAXREQ];
	static __thread struct pvio_blkfront_req reqs[MAXREQ];
	struct pvio_blkfront_req *rp[MAXREQ];
	/* misalign by a few protocol sectors where that is allowed */
	size_t skew = w->unit < 4096 ? (size_t)w->unit * 3 : 0;
	uint8_t *buf = pvio_blkfront_buf_alloc(w->f, w->len + 4096), *b;
	unsigned n;

	if (!buf) {
		fprintf(stderr, "buf_alloc failed\n");
		w->fails++;
		return NULL;
	}
	b = buf + skew;
	for (uint64_t i = 0; i < w->len; i++)
		b[i] = (uint8_t)rand_r(&w->seed);
	memcpy(w->model + w->base, b, w->len);

	/* Writes. */
	n = split(w, offs, lens, MAXREQ);
	for (unsigned i = 0; i < n; i++) {
		memset(&reqs[i], 0xa5, sizeof(reqs[i]));   /* private fields: garbage */
		reqs[i].op = PVIO_BLKFRONT_WRITE;
		reqs[i].offset = offs[i];
		reqs[i].len = lens[i];
		reqs[i].buf = b + (offs[i] - w->base);
		rp[i] = &reqs[i];
	}
	if (run_batch(w->f, w->q, rp, n, 30000)) {
		fprintf(stderr, "queue %u: write batch failed\n", w->q);
		w->fails++;
	}

	/* Read back, split differently, into a cleared buffer. */
	memset(b, 0, w->len);
	n = split(w, offs, lens, MAXREQ);
	for (unsigned i = 0; i < n; i++) {
		memset(&reqs[i], 0, sizeof(reqs[i]));
		reqs[i].op = PVIO_BLKFRONT_READ;
		reqs[i].offset = offs[i];
		reqs[i].len = lens[i];
		reqs[i].buf = b + (offs[i] - w->base);
		rp[i] = &reqs[i];
	}
	if (run_batch(w->f, w->q, rp, n, 30000)) {
		fprintf(stderr, "queue %u: read batch failed\n", w->q);
		w->fails++;
	}
	if (memcmp(b, w->model + w->base, w->len)) {
		fprintf(stderr, "queue %u: data read back differs\n", w->q);
		w->fails++;
	}
	pvio_blkfront_buf_free(w->f, buf, w->len + 4096);
	return NULL;
}

static int run_combo(unsigned nq, unsigned order, bool pers, bool ind, bool x32, uint32_t ss)
{
	struct env e;
	struct fb_cfg cfg = env_cfg_default();
	struct pvio_blkfront_opts o;
	struct pvio_blkfront_info info;
	struct pvio_blkfront_stats st;
	struct pvio_blkfront *f;
	struct qwork w[2];
	pthread_t t[2];
	uint8_t *model = calloc(1, DISK);
	int fails = tu_failures, r;

	cfg.sector_size = ss;
	env_up(&e, &cfg, DISK, 64u << 20, FB_GOOD);
	pvio_blkfront_opts_default(&o);
	o.max_queues = nq;
	o.max_ring_order = order;
	o.no_persistent = !pers;
	o.no_indirect = !ind;
	o.protocol = x32 ? "x86_32-abi" : NULL;
	r = pvio_blkfront_open(e.guest, BF_VDEV, &o, &f);
	CHECK_EQ(r, 0);
	if (r) {
		env_down(&e);
		free(model);
		return 1;
	}
	REQUIRE(pvio_blkfront_get_info(f, &info) == 0);
	CHECK_EQ(info.nr_queues, nq);
	CHECK_EQ(info.ring_order, order);
	CHECK_EQ(info.persistent, pers);
	CHECK_EQ(info.max_segs, ind ? 256 : 11);
	CHECK_EQ(info.sector_size, ss);
	CHECK_EQ(info.size_bytes, DISK);
	CHECK(strcmp(info.protocol, x32 ? "x86_32-abi" : "x86_64-abi") == 0);
	CHECK(info.flush && info.discard && !info.readonly);
	CHECK_EQ(e.be.nq, nq);
	CHECK_EQ(e.be.x86_32, x32);

	for (unsigned i = 0; i < nq; i++) {
		w[i] = (struct qwork){ .f = f, .q = i, .base = i * (DISK / 2 / nq),
				       .len = DISK / 2 / nq, .ss = ss, .unit = ss,
				       .model = model, .seed = 7 + i * 13 + order };
		REQUIRE(pthread_create(&t[i], NULL, qthread, &w[i]) == 0);
	}
	for (unsigned i = 0; i < nq; i++) {
		pthread_join(t[i], NULL);
		CHECK_EQ(w[i].fails, 0);
	}
	CHECK(memcmp(e.be.disk, model, DISK / 2) == 0);

	/* Blocking helpers with a heap buffer (not guest memory): bounce. */
	{
		size_t len = 300 * 1024 - (300 * 1024) % ss + ss;
		uint8_t *src = malloc(len + 1), *dst = malloc(len + 1);
		unsigned seed = 99;

		for (size_t i = 0; i < len + 1; i++)
			src[i] = (uint8_t)rand_r(&seed);
		CHECK_EQ(pvio_blkfront_write(f, DISK / 2, src + 1, len), 0);
		memcpy(model + DISK / 2, src + 1, len);
		CHECK_EQ(pvio_blkfront_read(f, DISK / 2, dst + 1, len), 0);
		CHECK(memcmp(dst + 1, src + 1, len) == 0);
		CHECK(memcmp(e.be.disk + DISK / 2, src + 1, len) == 0);
		CHECK_EQ(pvio_blkfront_flush(f), 0);
		CHECK_EQ(pvio_blkfront_discard(f, DISK / 2, 2 * ss), 0);
		memset(model + DISK / 2, 0, 2 * ss);
		CHECK_EQ(pvio_blkfront_read(f, DISK / 2, dst, len), 0);
		CHECK(memcmp(dst, model + DISK / 2, len) == 0);
		/* Misaligned on the disk: refused. */
		CHECK_EQ(pvio_blkfront_read(f, ss / 2, dst, ss), -EINVAL);
		CHECK_EQ(pvio_blkfront_read(f, 0, dst, ss + 1), -EINVAL);
		CHECK_EQ(pvio_blkfront_read(f, DISK, dst, ss), -EINVAL);
		free(src);
		free(dst);
	}
	REQUIRE(pvio_blkfront_get_stats(f, &st) == 0);
	CHECK(!st.disabled);
	CHECK_EQ(st.errors, 0);
	CHECK(ind ? st.indirect > 0 : st.indirect == 0);
	CHECK(ind ? e.be.max_segs_seen > 11 : e.be.indirect_seen == 0);
	CHECK(pers ? st.pgrant_hits > 0 : st.pgrant_hits + st.pgrant_misses == 0);
	CHECK_EQ(st.leaked_refs, 0);
	pvio_blkfront_close(f);
	CHECK(e.be.closed);
	env_down(&e);
	free(model);
	if (tu_failures != fails)
		fprintf(stderr, "  ^ in combo queues=%u order=%u persistent=%d indirect=%d %s ss=%u\n",
			nq, order, pers, ind, x32 ? "x86_32" : "x86_64", ss);
	return tu_failures != fails;
}

int main(void)
{
	unsigned combos = 0, bad = 0;

	for (unsigned nq = 1; nq <= 2; nq++)
		for (unsigned order = 0; order <= 4; order += 4)
			for (int pers = 0; pers < 2; pers++)
				for (int ind = 0; ind < 2; ind++)
					for (int x32 = 0; x32 < 2; x32++)
						for (uint32_t ss = 512; ss <= 4096; ss *= 8) {
							bad += run_combo(nq, order, pers, ind, x32, ss);
							combos++;
						}
	printf("%u combinations, %u failed\n", combos, bad);
	return tu_result();
}
