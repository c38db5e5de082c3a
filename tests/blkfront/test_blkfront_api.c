/* SPDX-License-Identifier: MIT */
/*
 * blkfront API edges against the in-process fake backend:
 *   open errors (no device, no backend within timeout_ms, bad protocol),
 *   argument checks (-EINVAL), read-only disks (-EROFS), optional
 *   operations (-EOPNOTSUPP without flush/barrier/discard; FLUSH through
 *   WRITE_BARRIER when only that is offered), a backend without optional
 *   features (1 queue, 11 segments, no persistent grants), 4096-byte
 *   sectors without feature-large-sector-size (512-byte protocol units),
 *   buf_free revoking persistent grants, the queue fd in the caller's epoll,
 *   blocking helpers next to asynchronous use of queue 0, close + reopen.
 */
#include <sys/epoll.h>

#include "tests/blkfront/bf_test.h"

#define DISK (2u << 20)

static struct pvio_blkfront *open_ok(struct env *e, const struct pvio_blkfront_opts *o)
{
	struct pvio_blkfront *f = NULL;

	REQUIRE(pvio_blkfront_open(e->guest, BF_VDEV, o, &f) == 0);
	return f;
}

static void open_errors(void)
{
	struct env e;
	struct fb_cfg cfg = env_cfg_default();
	struct pvio_blkfront_opts o;
	struct pvio_blkfront *f;
	double t0;

	env_up(&e, &cfg, DISK, 8u << 20, FB_GOOD);
	pvio_blkfront_opts_default(&o);
	CHECK_EQ(pvio_blkfront_open(e.guest, 51728, &o, &f), -ENOENT);
	o.protocol = "sparc-abi";
	CHECK_EQ(pvio_blkfront_open(e.guest, BF_VDEV, &o, &f), -EINVAL);
	CHECK_EQ(pvio_blkfront_open(NULL, BF_VDEV, NULL, &f), -EINVAL);
	env_down(&e);

	/* Toolstack nodes but no backend: times out. */
	env_up(&e, &cfg, DISK, 8u << 20, FB_GOOD);
	fb_crash(&e.be, false);   /* no backend: back to Initialising, as created */
	{
		char path[256];

		snprintf(path, sizeof(path), "%s/state", e.be.vbd.be_dir);
		pvio_xs_write(e.xs0, PVIO_XS_NO_TX, path, "1", 1);
	}
	pvio_blkfront_opts_default(&o);
	o.timeout_ms = 300;
	t0 = tu_now();
	CHECK_EQ(pvio_blkfront_open(e.guest, BF_VDEV, &o, &f), -ETIMEDOUT);
	CHECK(tu_now() - t0 < 3);
	env_down(&e);
}

static void args_and_readonly(void)
{
	struct env e;
	struct fb_cfg cfg = env_cfg_default();
	struct pvio_blkfront *f;
	struct pvio_blkfront_info info;
	struct pvio_blkfront_req r, *rp = &r, *done[2];
	uint8_t *buf, heap[4096];

	cfg.readonly = true;
	env_up(&e, &cfg, DISK, 8u << 20, FB_GOOD);
	f = open_ok(&e, NULL);
	REQUIRE(pvio_blkfront_get_info(f, &info) == 0);
	CHECK(info.readonly);
	buf = pvio_blkfront_buf_alloc(f, 8192);
	REQUIRE(buf);
	CHECK(((uintptr_t)buf & 4095) == 0);

	CHECK_EQ(pvio_blkfront_submit(f, info.nr_queues, &rp, 1), -EINVAL);
	CHECK_EQ(pvio_blkfront_reap(f, info.nr_queues, done, 1, 0), -EINVAL);
	CHECK_EQ(pvio_blkfront_fd(f, info.nr_queues), -EINVAL);
	CHECK_EQ(pvio_blkfront_submit(f, 0, NULL, 1), -EINVAL);
	CHECK_EQ(pvio_blkfront_get_info(NULL, &info), -EINVAL);

	memset(&r, 0, sizeof(r));
	r.op = PVIO_BLKFRONT_WRITE;
	r.len = 4096;
	r.buf = buf;
	CHECK_EQ(pvio_blkfront_submit(f, 0, &rp, 1), -EROFS);
	r.op = PVIO_BLKFRONT_DISCARD;
	CHECK_EQ(pvio_blkfront_submit(f, 0, &rp, 1), -EROFS);
	CHECK_EQ(pvio_blkfront_write(f, 0, heap, sizeof(heap)), -EROFS);
	r.op = 9;
	CHECK_EQ(pvio_blkfront_submit(f, 0, &rp, 1), -EINVAL);
	r.op = PVIO_BLKFRONT_READ;
	r.buf = heap;                      /* not guest memory */
	CHECK_EQ(pvio_blkfront_submit(f, 0, &rp, 1), -EINVAL);
	r.buf = buf + 100;                 /* not on a 512-byte boundary */
	CHECK_EQ(pvio_blkfront_submit(f, 0, &rp, 1), -EINVAL);
	/* Guest memory nobody allocated, or freed: a grant of it would outlive
	 * the page (handed out again as a ring or another buffer). */
	uint8_t *gone = pvio_blkfront_buf_alloc(f, 2 * 4096);
	REQUIRE(gone);
	pvio_blkfront_buf_free(f, gone + 4096, 4096);
	r.buf = gone + 4096;
	CHECK_EQ(pvio_blkfront_submit(f, 0, &rp, 1), -EINVAL);
	r.buf = gone;                      /* runs into the freed page */
	r.len = 8192;
	CHECK_EQ(pvio_blkfront_submit(f, 0, &rp, 1), -EINVAL);
	r.len = 4096;                      /* stays in the live one */
	CHECK_EQ(pvio_blkfront_submit(f, 0, &rp, 1), 1);
	CHECK_EQ(pvio_blkfront_reap(f, 0, done, 2, 1000), 1);
	CHECK(done[0] == &r && r.result == 0);
	pvio_blkfront_buf_free(f, gone, 4096);
	r.buf = buf;
	r.offset = DISK;                   /* past the end */
	CHECK_EQ(pvio_blkfront_submit(f, 0, &rp, 1), -EINVAL);
	r.offset = DISK - 4096;
	r.len = 8192;
	CHECK_EQ(pvio_blkfront_submit(f, 0, &rp, 1), -EINVAL);
	/* Reads of a read-only disk work; a zero-length read completes. */
	r.len = 0;
	CHECK_EQ(pvio_blkfront_submit(f, 0, &rp, 1), 1);
	CHECK_EQ(pvio_blkfront_reap(f, 0, done, 2, 1000), 1);
	CHECK(done[0] == &r && r.result == 0);
	memset(e.be.disk, 0x77, 4096);
	CHECK_EQ(pvio_blkfront_read(f, 0, heap, sizeof(heap)), 0);
	CHECK(heap[0] == 0x77 && heap[4095] == 0x77);
	/* Nothing in flight: a reap with a timeout returns 0 in time. */
	CHECK_EQ(pvio_blkfront_reap(f, 0, done, 2, 50), 0);
	pvio_blkfront_buf_free(f, buf, 8192);
	pvio_blkfront_close(f);
	env_down(&e);
}

static void optional_ops(void)
{
	struct env e;
	struct fb_cfg cfg = env_cfg_default();
	struct pvio_blkfront *f;
	struct pvio_blkfront_info info;
	struct pvio_blkfront_req r, *rp = &r, *done[1];

	/* Nothing optional, and no optional features at all. */
	cfg.flush = cfg.barrier = cfg.discard = false;
	cfg.max_queues = 0;
	cfg.max_indirect = 0;
	cfg.persistent = false;
	env_up(&e, &cfg, DISK, 8u << 20, FB_GOOD);
	f = open_ok(&e, NULL);
	REQUIRE(pvio_blkfront_get_info(f, &info) == 0);
	CHECK_EQ(info.nr_queues, 1);
	CHECK_EQ(info.max_segs, 11);
	CHECK(!info.persistent && !info.flush && !info.barrier && !info.discard);
	CHECK_EQ(pvio_blkfront_flush(f), -EOPNOTSUPP);
	CHECK_EQ(pvio_blkfront_discard(f, 0, 4096), -EOPNOTSUPP);
	memset(&r, 0, sizeof(r));
	r.op = PVIO_BLKFRONT_FLUSH;
	CHECK_EQ(pvio_blkfront_submit(f, 0, &rp, 1), 1);
	CHECK_EQ(pvio_blkfront_reap(f, 0, done, 1, 1000), 1);
	CHECK_EQ(r.result, -EOPNOTSUPP);
	pvio_blkfront_close(f);
	env_down(&e);

	/* Barrier only: FLUSH goes out as WRITE_BARRIER. */
	cfg = env_cfg_default();
	cfg.flush = false;
	cfg.barrier = true;
	env_up(&e, &cfg, DISK, 8u << 20, FB_GOOD);
	f = open_ok(&e, NULL);
	CHECK_EQ(pvio_blkfront_flush(f), 0);
	pvio_blkfront_close(f);
	env_down(&e);
}

/* 4096-byte sectors, but the frontend does not claim large sectors: the
 * protocol unit stays 512 bytes, requests stay 4096-aligned on the disk,
 * buffers need only 512-byte alignment. */
static void small_units(void)
{
	struct env e;
	struct fb_cfg cfg = env_cfg_default();
	struct pvio_blkfront_opts o;
	struct pvio_blkfront_info info;
	struct pvio_blkfront *f;
	struct pvio_blkfront_req r, *rp = &r, *done[1];
	uint8_t *buf;
	unsigned seed = 3;

	cfg.sector_size = 4096;
	env_up(&e, &cfg, DISK, 8u << 20, FB_GOOD);
	pvio_blkfront_opts_default(&o);
	o.no_large_sectors = true;
	f = open_ok(&e, &o);
	REQUIRE(pvio_blkfront_get_info(f, &info) == 0);
	CHECK_EQ(info.sector_size, 4096);
	CHECK_EQ(e.be.unit, 512);
	buf = pvio_blkfront_buf_alloc(f, 256 * 1024);
	REQUIRE(buf);
	for (unsigned i = 0; i < 256 * 1024; i++)
		buf[i] = (uint8_t)rand_r(&seed);
	memset(&r, 0, sizeof(r));
	r.op = PVIO_BLKFRONT_WRITE;
	r.offset = 8192;
	r.len = 200 * 1024;
	r.buf = buf + 1536;                /* 512-aligned, not page-aligned */
	CHECK_EQ(pvio_blkfront_submit(f, 0, &rp, 1), 1);
	CHECK_EQ(pvio_blkfront_reap(f, 0, done, 1, 5000), 1);
	CHECK_EQ(r.result, 0);
	CHECK(memcmp(e.be.disk + 8192, buf + 1536, 200 * 1024) == 0);
	r.len = 2048;                      /* half a sector */
	CHECK_EQ(pvio_blkfront_submit(f, 0, &rp, 1), -EINVAL);
	pvio_blkfront_buf_free(f, buf, 256 * 1024);
	pvio_blkfront_close(f);
	env_down(&e);
}

/* buf_free revokes the persistent grants on the pages it frees. */
static void buf_free_persistent(void)
{
	struct env e;
	struct fb_cfg cfg = env_cfg_default();
	struct pvio_blkfront *f;
	struct pvio_blkfront_stats st;
	struct pvio_blkfront_req r, *rp = &r, *done[1];
	uint8_t *buf, *again;

	env_up(&e, &cfg, DISK, 8u << 20, FB_GOOD);
	f = open_ok(&e, NULL);
	buf = pvio_blkfront_buf_alloc(f, 64 * 1024);
	REQUIRE(buf);
	memset(&r, 0, sizeof(r));
	r.op = PVIO_BLKFRONT_WRITE;
	r.len = 64 * 1024;
	r.buf = buf;
	for (int i = 0; i < 2; i++) {
		CHECK_EQ(pvio_blkfront_submit(f, 0, &rp, 1), 1);
		CHECK_EQ(pvio_blkfront_reap(f, 0, done, 1, 5000), 1);
		CHECK_EQ(r.result, 0);
	}
	REQUIRE(pvio_blkfront_get_stats(f, &st) == 0);
	CHECK_EQ(st.pgrant_misses, 16);
	CHECK_EQ(st.pgrant_hits, 16);
	pvio_blkfront_buf_free(f, buf, 64 * 1024);
	REQUIRE(pvio_blkfront_get_stats(f, &st) == 0);
	CHECK_EQ(st.leaked_pages, 0);
	/* The pages are free again, and come back without old grants. */
	again = pvio_blkfront_buf_alloc(f, 64 * 1024);
	CHECK(again == buf);
	r.buf = again;
	CHECK_EQ(pvio_blkfront_submit(f, 0, &rp, 1), 1);
	CHECK_EQ(pvio_blkfront_reap(f, 0, done, 1, 5000), 1);
	REQUIRE(pvio_blkfront_get_stats(f, &st) == 0);
	CHECK_EQ(st.pgrant_misses, 32);
	pvio_blkfront_buf_free(f, again, 64 * 1024);
	pvio_blkfront_close(f);
	env_down(&e);
}

struct mix {
	struct pvio_blkfront *f;
	int fails;
};

static void *sync_reader(void *arg)
{
	struct mix *m = arg;
	uint8_t b[16384];

	for (int i = 0; i < 200; i++) {
		if (pvio_blkfront_read(m->f, (uint64_t)(i % 64) * 16384, b, sizeof(b)) != 0)
			m->fails++;
		if (b[0] != (uint8_t)(i % 64) || b[16383] != (uint8_t)(i % 64))
			m->fails++;
	}
	return NULL;
}

/* The queue fd in the caller's epoll; blocking helpers next to async use
 * of queue 0 from another thread: nobody gets the other's completions. */
static void epoll_and_mix(void)
{
	struct env e;
	struct fb_cfg cfg = env_cfg_default();
	struct pvio_blkfront_opts o;
	struct pvio_blkfront *f;
	struct pvio_blkfront_req reqs[8], *rp[8], *done[8];
	struct epoll_event ev = { .events = EPOLLIN }, out;
	struct mix m;
	pthread_t t;
	uint8_t *buf;
	int ep, got = 0;

	env_up(&e, &cfg, DISK, 8u << 20, FB_GOOD);
	for (unsigned i = 0; i < 64; i++)
		memset(e.be.disk + i * 16384, (int)i, 16384);
	pvio_blkfront_opts_default(&o);
	o.max_queues = 1;
	f = open_ok(&e, &o);
	buf = pvio_blkfront_buf_alloc(f, 8 * 4096);
	REQUIRE(buf);
	ep = epoll_create1(0);
	REQUIRE(ep >= 0);
	REQUIRE(epoll_ctl(ep, EPOLL_CTL_ADD, pvio_blkfront_fd(f, 0), &ev) == 0);

	m.f = f;
	m.fails = 0;
	REQUIRE(pthread_create(&t, NULL, sync_reader, &m) == 0);
	for (int round = 0; round < 100; round++) {
		for (unsigned i = 0; i < 8; i++) {
			memset(&reqs[i], 0, sizeof(reqs[i]));
			reqs[i].op = PVIO_BLKFRONT_READ;
			reqs[i].offset = (uint64_t)((round + i) % 64) * 16384;
			reqs[i].len = 4096;
			reqs[i].buf = buf + i * 4096;
			rp[i] = &reqs[i];
		}
		int sub = 0, back = 0;
		double end = tu_now() + 10;

		while (back < 8 && tu_now() < end) {
			if (sub < 8) {
				int k = pvio_blkfront_submit(f, 0, rp + sub, 8 - sub);
				REQUIRE(k >= 0);
				sub += k;
			}
			/* Wait through the caller's own epoll, then poll-reap. */
			epoll_wait(ep, &out, 1, 100);
			int k = pvio_blkfront_reap(f, 0, done, 8, 0);
			REQUIRE(k >= 0);
			for (int i = 0; i < k; i++) {
				unsigned idx = (unsigned)(done[i] - reqs);

				CHECK(idx < 8);
				CHECK_EQ(done[i]->result, 0);
				CHECK_EQ(buf[idx * 4096], (uint8_t)((round + idx) % 64));
			}
			back += k;
		}
		CHECK_EQ(back, 8);
		got += back;
	}
	pthread_join(t, NULL);
	CHECK_EQ(m.fails, 0);
	CHECK_EQ(got, 800);
	close(ep);
	pvio_blkfront_buf_free(f, buf, 8 * 4096);
	pvio_blkfront_close(f);
	env_down(&e);
}

/* Take every free grant ref of the guest (as leaked refs would). */
static unsigned take_refs(struct env *e, uint32_t *refs, unsigned max)
{
	unsigned n = 0;
	int r;

	while (n < max && (r = pvio_hv_grant(e->guest, 0, 0, true)) >= 0)
		refs[n++] = (uint32_t)r;
	return n;
}

static void give_refs(struct env *e, uint32_t *refs, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		CHECK_EQ(pvio_hv_revoke(e->guest, refs[i]), 0);
}

/* The grant table runs out (refs leaked to dead backends look the same):
 * with persistent grants the cache gives up idle grants to make room; with
 * no ref at all and nothing in flight a request fails (-ENOSPC), it does
 * not wait forever. */
static void grant_exhaustion(bool pers)
{
	struct env e;
	struct fb_cfg cfg = env_cfg_default();
	struct pvio_blkfront_opts o;
	struct pvio_blkfront *f;
	struct pvio_blkfront_req r, *rp = &r, *done[1];
	static uint32_t refs[PVIO_HV_DEFAULT_GNTTAB_ENTRIES + 64];   /* the whole table */
	uint8_t *a, *b;
	unsigned n;

	env_up(&e, &cfg, DISK, 16u << 20, FB_GOOD);
	pvio_blkfront_opts_default(&o);
	o.max_queues = 1;
	o.max_ring_order = 0;
	o.no_persistent = !pers;
	f = open_ok(&e, &o);
	a = pvio_blkfront_buf_alloc(f, 256 * 1024);
	b = pvio_blkfront_buf_alloc(f, 256 * 1024);
	REQUIRE(a && b);
	memset(a, 0xaa, 256 * 1024);
	memset(b, 0xbb, 256 * 1024);
	memset(&r, 0, sizeof(r));
	r.op = PVIO_BLKFRONT_WRITE;
	r.len = 256 * 1024;
	r.buf = a;
	CHECK_EQ(pvio_blkfront_submit(f, 0, &rp, 1), 1);
	CHECK_EQ(pvio_blkfront_reap(f, 0, done, 1, 5000), 1);
	CHECK_EQ(r.result, 0);

	/* Table full: 64 idle persistent grants are all there is. */
	n = take_refs(&e, refs, sizeof(refs) / sizeof(refs[0]));
	CHECK(n > 1000);
	r.buf = b;
	r.offset = 256 * 1024;
	CHECK_EQ(pvio_blkfront_submit(f, 0, &rp, 1), 1);
	CHECK_EQ(pvio_blkfront_reap(f, 0, done, 1, 5000), 1);
	CHECK_EQ(r.result, pers ? 0 : -ENOSPC);
	if (pers)
		CHECK(memcmp(e.be.disk + 256 * 1024, b, 256 * 1024) == 0);

	/* Nothing at all: fails, and in time. */
	pvio_blkfront_buf_free(f, a, 256 * 1024);   /* revokes its grants... */
	n += take_refs(&e, refs + n, sizeof(refs) / sizeof(refs[0]) - n);     /* ...which we take too */
	pvio_blkfront_buf_free(f, b, 256 * 1024);
	n += take_refs(&e, refs + n, sizeof(refs) / sizeof(refs[0]) - n);
	a = pvio_blkfront_buf_alloc(f, 256 * 1024);
	REQUIRE(a);
	r.buf = a;
	CHECK_EQ(pvio_blkfront_submit(f, 0, &rp, 1), 1);
	CHECK_EQ(pvio_blkfront_reap(f, 0, done, 1, 5000), 1);
	CHECK_EQ(r.result, -ENOSPC);

	/* Refs back: I/O works again. */
	give_refs(&e, refs, n);
	memset(a, 0xcc, 256 * 1024);
	CHECK_EQ(pvio_blkfront_submit(f, 0, &rp, 1), 1);
	CHECK_EQ(pvio_blkfront_reap(f, 0, done, 1, 5000), 1);
	CHECK_EQ(r.result, 0);
	CHECK(memcmp(e.be.disk + 256 * 1024, a, 256 * 1024) == 0);
	pvio_blkfront_buf_free(f, a, 256 * 1024);
	pvio_blkfront_close(f);
	env_down(&e);
}

static void grant_exhaustion_persistent(void)
{
	grant_exhaustion(true);
}

static void grant_exhaustion_oneoff(void)
{
	grant_exhaustion(false);
}

static void reopen(void)
{
	struct env e;
	struct fb_cfg cfg = env_cfg_default();
	struct pvio_blkfront *f;
	uint8_t a[4096], b[4096];

	env_up(&e, &cfg, DISK, 8u << 20, FB_GOOD);
	memset(a, 0x42, sizeof(a));
	f = open_ok(&e, NULL);
	CHECK_EQ(pvio_blkfront_write(f, 0, a, sizeof(a)), 0);
	pvio_blkfront_close(f);
	/* The backend let go (Closed): a new one, then a new frontend. */
	fb_join(&e.be);
	REQUIRE(fb_start(&e.be) == 0);
	f = open_ok(&e, NULL);
	CHECK_EQ(pvio_blkfront_read(f, 0, b, sizeof(b)), 0);
	CHECK(memcmp(a, b, sizeof(b)) == 0);
	pvio_blkfront_close(f);
	env_down(&e);
}

int main(void)
{
	struct { const char *name; void (*fn)(void); } cases[] = {
		{ "open-errors", open_errors }, { "args-readonly", args_and_readonly },
		{ "optional-ops", optional_ops }, { "small-units", small_units },
		{ "buf-free", buf_free_persistent }, { "epoll-mix", epoll_and_mix },
		{ "reopen", reopen }, { "no-refs-pers", grant_exhaustion_persistent },
		{ "no-refs", grant_exhaustion_oneoff },
	};

	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int before = tu_failures;

		cases[i].fn();
		printf("%-14s %s\n", cases[i].name, tu_failures == before ? "ok" : "FAILED");
		fflush(stdout);
	}
	return tu_result();
}
