/* SPDX-License-Identifier: MIT */
/*
 * blkfront's recover path against the in-process fake backend:
 *   crash     the backend answers every other request, swallows the rest,
 *             then dies (ports closed, store untouched) and a new one
 *             starts (InitWait): every request completes exactly once,
 *             with success, and the disk holds every write
 *             (queues {1,2} x persistent {on,off} x protocol {64,32})
 *   pinned    the dead backend keeps its ring mappings: those grants are
 *             leaked (counted), new ones are used, and once the pins go
 *             the deferred revokes succeed
 *   graceful  Closing/Closed, then a new backend
 *   idle      crash and restart with nothing in flight: the next I/O works
 *   refused   a submit refused while reconnecting (0), nothing in flight: a
 *             reap that waits for ever returns 0 once the queue is back, so
 *             the caller submits again (it used to sleep out its timeout)
 *   limits    the new backend has no indirect, no persistent grants and a
 *             one-page ring: parts issued as 256-segment requests are
 *             re-split
 *   twice     the backend dies again while re-issued requests are pending
 *   fewer     the new backend offers fewer queues: disabled, -ENODEV
 *   timeout   nobody comes back within opts.timeout_ms: -ENODEV
 *   unreadable the backend's state node stops reading as a state: ignored
 *             as Linux ignores XenbusStateUnknown (counted), the rings stay,
 *             no reconnection; Closing afterwards still reconnects
 */
#include "tests/blkfront/bf_test.h"

#define DISK   (4u << 20)
#define MAXR   128

struct io {
	struct pvio_blkfront *f;
	unsigned q;
	unsigned n;
	struct pvio_blkfront_req req[MAXR];
	struct pvio_blkfront_req *rp[MAXR];
	int expect_nodev;            /* results may be -ENODEV */
	int bad, nodev;
	unsigned got;
};

/* Writes of random sizes covering [base, base+len) from buf. */
static void io_prepare(struct io *io, struct pvio_blkfront *f, unsigned q, uint8_t *buf,
		       uint64_t base, uint64_t len, unsigned seed)
{
	uint64_t pos = 0;

	memset(io, 0, sizeof(*io));
	io->f = f;
	io->q = q;
	while (pos < len && io->n < MAXR) {
		uint64_t l = 4096 * (1 + (uint64_t)rand_r(&seed) % 96);   /* up to 384 KiB */
		struct pvio_blkfront_req *r = &io->req[io->n];

		if (l > len - pos || io->n == MAXR - 1)
			l = len - pos;
		r->op = PVIO_BLKFRONT_WRITE;
		r->offset = base + pos;
		r->len = l;
		r->buf = buf + pos;
		io->rp[io->n] = r;
		io->n++;
		pos += l;
	}
}

static void *io_thread(void *arg)
{
	struct io *io = arg;
	unsigned sub = 0;
	struct pvio_blkfront_req *done[32];
	double end = tu_now() + 30;

	for (unsigned i = 0; i < io->n; i++)
		io->req[i].user = NULL;
	while (io->got < io->n && tu_now() < end) {
		int k;

		if (sub < io->n) {
			k = pvio_blkfront_submit(io->f, io->q, io->rp + sub, io->n - sub);
			if (k == -ENODEV && io->expect_nodev) {
				io->nodev += (int)(io->n - sub);
				io->got += io->n - sub;
				sub = io->n;
			} else if (k < 0) {
				fprintf(stderr, "submit: %s\n", strerror(-k));
				io->bad++;
				return NULL;
			} else {
				sub += (unsigned)k;
			}
		}
		k = pvio_blkfront_reap(io->f, io->q, done, 32, 200);
		if (k == -ENODEV && io->expect_nodev) {
			/* Dead: everything submitted came back already; the
			 * rest can't be submitted. */
			io->nodev += (int)(io->n - sub);
			io->got += io->n - sub;
			break;
		}
		if (k < 0) {
			fprintf(stderr, "reap: %s\n", strerror(-k));
			io->bad++;
			return NULL;
		}
		for (int i = 0; i < k; i++) {
			if (done[i]->user) {
				fprintf(stderr, "request at %llu completed twice\n",
					(unsigned long long)done[i]->offset);
				io->bad++;
			}
			done[i]->user = done[i];
			io->got++;
			if (done[i]->result == -ENODEV && io->expect_nodev)
				io->nodev++;
			else if (done[i]->result) {
				fprintf(stderr, "request at %llu: %s\n",
					(unsigned long long)done[i]->offset,
					strerror(-done[i]->result));
				io->bad++;
			}
		}
	}
	if (io->got < io->n) {
		fprintf(stderr, "queue %u: %u of %u requests came back\n", io->q, io->got, io->n);
		io->bad++;
	}
	return NULL;
}

struct run {
	struct env e;
	struct pvio_blkfront *f;
	struct io io[2];
	pthread_t t[2];
	uint8_t *buf;
	unsigned nq;
};

static void run_open(struct run *r, const struct fb_cfg *cfg, const struct pvio_blkfront_opts *o)
{
	memset(r, 0, sizeof(*r));
	env_up(&r->e, cfg, DISK, 32u << 20, FB_GOOD);
	REQUIRE(pvio_blkfront_open(r->e.guest, BF_VDEV, o, &r->f) == 0);
	r->nq = o->max_queues ? o->max_queues : 1;
	r->buf = pvio_blkfront_buf_alloc(r->f, DISK);
	REQUIRE(r->buf);
}

/* Random data, then writes over the whole disk split between the queues,
 * running in one thread per queue. */
static void run_start_io(struct run *r, unsigned seed, int expect_nodev)
{
	unsigned s = seed;

	for (size_t i = 0; i < DISK; i++)
		r->buf[i] = (uint8_t)rand_r(&s);
	for (unsigned q = 0; q < r->nq; q++) {
		uint64_t len = DISK / r->nq;

		io_prepare(&r->io[q], r->f, q, r->buf + q * len, q * len, len, seed + q);
		r->io[q].expect_nodev = expect_nodev;
		REQUIRE(pthread_create(&r->t[q], NULL, io_thread, &r->io[q]) == 0);
	}
}

static void run_join_io(struct run *r)
{
	for (unsigned q = 0; q < r->nq; q++) {
		pthread_join(r->t[q], NULL);
		CHECK_EQ(r->io[q].bad, 0);
	}
}

static void run_close(struct run *r)
{
	if (r->f) {
		pvio_blkfront_buf_free(r->f, r->buf, DISK);
		pvio_blkfront_close(r->f);
	}
	env_down(&r->e);
}

static void restart(struct run *r, int mode)
{
	__atomic_store_n(&r->e.be.mode, mode, __ATOMIC_RELEASE);
	REQUIRE(fb_start(&r->e.be) == 0);
}

static void crash_restart(unsigned nq, bool pers, bool x32)
{
	struct fb_cfg cfg = env_cfg_default();
	struct pvio_blkfront_opts o;
	struct pvio_blkfront_stats st;
	struct run r;
	uint8_t *chk = malloc(DISK);

	pvio_blkfront_opts_default(&o);
	o.max_queues = nq;
	o.max_ring_order = 0;           /* a small ring: requests wait for room */
	o.no_persistent = !pers;
	o.protocol = x32 ? "x86_32-abi" : NULL;
	o.timeout_ms = 5000;
	run_open(&r, &cfg, &o);
	__atomic_store_n(&r.e.be.mode, FB_HALF, __ATOMIC_RELEASE);
	run_start_io(&r, 11 + nq + pers * 2 + x32 * 4, 0);
	REQUIRE(fb_wait_swallowed(&r.e.be, 8, 5000) == 0);
	fb_crash(&r.e.be, false);
	restart(&r, FB_GOOD);
	run_join_io(&r);
	CHECK(memcmp(r.e.be.disk, r.buf, DISK) == 0);
	CHECK_EQ(pvio_blkfront_read(r.f, 0, chk, DISK), 0);
	CHECK(memcmp(chk, r.buf, DISK) == 0);
	REQUIRE(pvio_blkfront_get_stats(r.f, &st) == 0);
	CHECK(!st.disabled);
	CHECK_EQ(st.reconnects, 1);
	CHECK(st.reissued >= 4);
	CHECK_EQ(st.leaked_refs, 0);
	run_close(&r);
	free(chk);
}

static void pinned(void)
{
	struct fb_cfg cfg = env_cfg_default();
	struct pvio_blkfront_opts o;
	struct pvio_blkfront_stats st;
	struct pvio_blkfront_req *done[1];
	struct run r;

	pvio_blkfront_opts_default(&o);
	o.max_queues = 1;
	o.max_ring_order = 2;
	run_open(&r, &cfg, &o);
	__atomic_store_n(&r.e.be.mode, FB_SWALLOW, __ATOMIC_RELEASE);
	run_start_io(&r, 5, 0);
	REQUIRE(fb_wait_swallowed(&r.e.be, 4, 5000) == 0);
	fb_crash(&r.e.be, true);        /* its ring mappings stay pinned */
	restart(&r, FB_GOOD);
	run_join_io(&r);
	CHECK(memcmp(r.e.be.disk, r.buf, DISK) == 0);
	REQUIRE(pvio_blkfront_get_stats(r.f, &st) == 0);
	/* The four pages of the old ring could not be revoked. */
	CHECK_EQ(st.leaked_refs, 4);
	CHECK_EQ(st.leaked_pages, 4);
	CHECK_EQ(st.deferred_now, 4);
	fb_release(&r.e.be);            /* the pins go: the revokes succeed */
	pvio_blkfront_reap(r.f, 0, done, 1, 0);
	REQUIRE(pvio_blkfront_get_stats(r.f, &st) == 0);
	CHECK_EQ(st.deferred_now, 0);
	CHECK_EQ(st.leaked_refs, 0);
	run_close(&r);
}

/* Many refs stay pinned; the ones at the front of the deferred list are
 * released: budgeted retries must get round to them. */
static void pinned_partly(void)
{
	struct fb_cfg cfg = env_cfg_default();
	struct pvio_blkfront_opts o;
	struct pvio_blkfront_stats st;
	struct pvio_blkfront_req *done[1];
	struct run r;

	pvio_blkfront_opts_default(&o);
	o.max_queues = 2;
	o.max_ring_order = 4;
	run_open(&r, &cfg, &o);
	__atomic_store_n(&r.e.be.mode, FB_SWALLOW, __ATOMIC_RELEASE);
	run_start_io(&r, 41, 0);
	REQUIRE(fb_wait_swallowed(&r.e.be, 4, 5000) == 0);
	fb_crash(&r.e.be, true);
	restart(&r, FB_GOOD);
	run_join_io(&r);
	CHECK(memcmp(r.e.be.disk, r.buf, DISK) == 0);
	REQUIRE(pvio_blkfront_get_stats(r.f, &st) == 0);
	CHECK_EQ(st.deferred_now, 32);   /* 2 rings of 16 pages */
	fb_release_queue(&r.e.be, 0);    /* queue 0's ring: torn down first */
	for (int i = 0; i < 4; i++)
		pvio_blkfront_reap(r.f, 0, done, 1, 0);
	REQUIRE(pvio_blkfront_get_stats(r.f, &st) == 0);
	CHECK_EQ(st.deferred_now, 16);
	CHECK_EQ(st.leaked_pages, 16);
	run_close(&r);
}

static void graceful(void)
{
	struct fb_cfg cfg = env_cfg_default();
	struct pvio_blkfront_opts o;
	struct pvio_blkfront_stats st;
	struct run r;

	pvio_blkfront_opts_default(&o);
	o.max_queues = 2;
	o.max_ring_order = 1;
	run_open(&r, &cfg, &o);
	__atomic_store_n(&r.e.be.mode, FB_HALF, __ATOMIC_RELEASE);
	run_start_io(&r, 17, 0);
	REQUIRE(fb_wait_swallowed(&r.e.be, 4, 5000) == 0);
	fb_shutdown(&r.e.be);           /* Closing ... Closed */
	restart(&r, FB_GOOD);
	run_join_io(&r);
	CHECK(memcmp(r.e.be.disk, r.buf, DISK) == 0);
	REQUIRE(pvio_blkfront_get_stats(r.f, &st) == 0);
	CHECK_EQ(st.reconnects, 1);
	CHECK(!st.disabled);
	run_close(&r);
}

static void idle(void)
{
	struct fb_cfg cfg = env_cfg_default();
	struct pvio_blkfront_opts o;
	struct pvio_blkfront_stats st;
	struct run r;
	uint8_t src[8192], dst[8192];

	pvio_blkfront_opts_default(&o);
	o.max_queues = 1;
	run_open(&r, &cfg, &o);
	memset(src, 0x3c, sizeof(src));
	CHECK_EQ(pvio_blkfront_write(r.f, 4096, src, sizeof(src)), 0);
	fb_crash(&r.e.be, false);
	restart(&r, FB_GOOD);
	CHECK_EQ(pvio_blkfront_read(r.f, 4096, dst, sizeof(dst)), 0);
	CHECK(memcmp(src, dst, sizeof(dst)) == 0);
	memset(src, 0xc3, sizeof(src));
	CHECK_EQ(pvio_blkfront_write(r.f, 0, src, sizeof(src)), 0);
	CHECK(memcmp(r.e.be.disk, src, sizeof(src)) == 0);
	REQUIRE(pvio_blkfront_get_stats(r.f, &st) == 0);
	CHECK_EQ(st.reconnects, 1);
	run_close(&r);
}

struct reap_arg {
	struct pvio_blkfront *f;
	int ret;
};

static void *reap_forever(void *arg)
{
	struct reap_arg *a = arg;
	struct pvio_blkfront_req *done[1];

	a->ret = pvio_blkfront_reap(a->f, 0, done, 1, -1);
	return NULL;
}

static void refused(void)
{
	struct fb_cfg cfg = env_cfg_default();
	struct pvio_blkfront_opts o;
	struct pvio_blkfront_req req, *rp = &req, *done[1];
	struct reap_arg ra;
	struct timespec ts;
	pthread_t t;
	struct run r;

	pvio_blkfront_opts_default(&o);
	o.max_queues = 1;
	run_open(&r, &cfg, &o);
	memset(r.buf, 0x5a, 4096);
	memset(&req, 0, sizeof(req));
	req.op = PVIO_BLKFRONT_WRITE;
	req.offset = 8192;
	req.len = 4096;
	req.buf = r.buf;
	fb_crash(&r.e.be, false);
	/* A reap looks at the queue: the backend's port is closed, so it
	 * is lost from now on, and a submit is refused. */
	CHECK_EQ(pvio_blkfront_reap(r.f, 0, done, 1, 0), 0);
	CHECK_EQ(pvio_blkfront_submit(r.f, 0, &rp, 1), 0);
	ra.f = r.f;
	ra.ret = 1;
	REQUIRE(pthread_create(&t, NULL, reap_forever, &ra) == 0);
	restart(&r, FB_GOOD);
	/* It returns once the queue is back (a bound only to report a hang
	 * as a failure rather than wait for ever). */
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 30;
	if (pthread_timedjoin_np(t, NULL, &ts) != 0) {
		CHECK(!"the reap did not return when the queue came back");
		fb_crash(&r.e.be, false);   /* nobody comes back: it ends with -ENODEV */
		pthread_join(t, NULL);
		run_close(&r);
		return;
	}
	CHECK_EQ(ra.ret, 0);
	CHECK_EQ(pvio_blkfront_submit(r.f, 0, &rp, 1), 1);
	CHECK_EQ(pvio_blkfront_reap(r.f, 0, done, 1, 5000), 1);
	CHECK(done[0] == &req && req.result == 0);
	CHECK(memcmp(r.e.be.disk + 8192, r.buf, 4096) == 0);
	run_close(&r);
}

static void limits(void)
{
	struct fb_cfg cfg = env_cfg_default();
	struct pvio_blkfront_opts o;
	struct pvio_blkfront_info info;
	struct pvio_blkfront_stats st;
	struct run r;

	pvio_blkfront_opts_default(&o);
	o.max_queues = 2;
	run_open(&r, &cfg, &o);
	REQUIRE(pvio_blkfront_get_info(r.f, &info) == 0);
	CHECK_EQ(info.max_segs, 256);
	CHECK(info.persistent);
	__atomic_store_n(&r.e.be.mode, FB_SWALLOW, __ATOMIC_RELEASE);
	run_start_io(&r, 23, 0);
	REQUIRE(fb_wait_swallowed(&r.e.be, 8, 5000) == 0);
	CHECK(r.e.be.indirect_seen == 0);   /* swallowed: never executed */
	fb_crash(&r.e.be, false);
	r.e.be.cfg.max_indirect = 0;
	r.e.be.cfg.persistent = false;
	r.e.be.cfg.max_order = 0;
	restart(&r, FB_GOOD);
	run_join_io(&r);
	CHECK(memcmp(r.e.be.disk, r.buf, DISK) == 0);
	REQUIRE(pvio_blkfront_get_info(r.f, &info) == 0);
	CHECK_EQ(info.max_segs, 11);
	CHECK_EQ(info.ring_order, 0);
	CHECK(!info.persistent);
	CHECK_EQ(r.e.be.indirect_seen, 0);
	REQUIRE(pvio_blkfront_get_stats(r.f, &st) == 0);
	CHECK(st.reissued >= 8);
	run_close(&r);
}

static void twice(void)
{
	struct fb_cfg cfg = env_cfg_default();
	struct pvio_blkfront_opts o;
	struct pvio_blkfront_stats st;
	struct run r;

	pvio_blkfront_opts_default(&o);
	o.max_queues = 2;
	o.max_ring_order = 0;
	run_open(&r, &cfg, &o);
	__atomic_store_n(&r.e.be.mode, FB_HALF, __ATOMIC_RELEASE);
	run_start_io(&r, 29, 0);
	REQUIRE(fb_wait_swallowed(&r.e.be, 8, 5000) == 0);
	fb_crash(&r.e.be, false);
	r.e.be.swallowed = 0;
	restart(&r, FB_HALF);
	/* >= 8 were pending: the new backend swallows half of them again */
	REQUIRE(fb_wait_swallowed(&r.e.be, 3, 5000) == 0);
	fb_crash(&r.e.be, false);
	restart(&r, FB_GOOD);
	run_join_io(&r);
	CHECK(memcmp(r.e.be.disk, r.buf, DISK) == 0);
	REQUIRE(pvio_blkfront_get_stats(r.f, &st) == 0);
	CHECK_EQ(st.reconnects, 2);
	run_close(&r);
}

static void fewer(void)
{
	struct fb_cfg cfg = env_cfg_default();
	struct pvio_blkfront_opts o;
	struct pvio_blkfront_stats st;
	struct run r;

	pvio_blkfront_opts_default(&o);
	o.max_queues = 2;
	run_open(&r, &cfg, &o);
	__atomic_store_n(&r.e.be.mode, FB_SWALLOW, __ATOMIC_RELEASE);
	run_start_io(&r, 31, 1);
	REQUIRE(fb_wait_swallowed(&r.e.be, 2, 5000) == 0);
	fb_crash(&r.e.be, false);
	r.e.be.cfg.max_queues = 1;
	restart(&r, FB_GOOD);
	run_join_io(&r);
	CHECK(r.io[0].nodev + r.io[1].nodev > 0);
	REQUIRE(pvio_blkfront_get_stats(r.f, &st) == 0);
	CHECK(st.disabled);
	run_close(&r);
}

static void timeout(void)
{
	struct fb_cfg cfg = env_cfg_default();
	struct pvio_blkfront_opts o;
	struct pvio_blkfront_stats st;
	struct pvio_blkfront_req extra, *ep = &extra;
	struct run r;
	double t0;

	pvio_blkfront_opts_default(&o);
	o.max_queues = 1;
	o.timeout_ms = 300;
	run_open(&r, &cfg, &o);
	__atomic_store_n(&r.e.be.mode, FB_SWALLOW, __ATOMIC_RELEASE);
	run_start_io(&r, 37, 1);
	REQUIRE(fb_wait_swallowed(&r.e.be, 2, 5000) == 0);
	t0 = tu_now();
	fb_crash(&r.e.be, false);
	run_join_io(&r);
	CHECK(tu_now() - t0 < 5);
	CHECK(r.io[0].nodev > 0);
	REQUIRE(pvio_blkfront_get_stats(r.f, &st) == 0);
	CHECK(st.disabled);
	memset(&extra, 0, sizeof(extra));
	extra.op = PVIO_BLKFRONT_FLUSH;
	CHECK_EQ(pvio_blkfront_submit(r.f, 0, &ep, 1), -ENODEV);
	run_close(&r);
}

/* Until the control thread has found the backend's state unreadable n
 * times (false after 10 s). */
static bool wait_unreadable(struct pvio_blkfront *f, uint64_t n)
{
	struct pvio_blkfront_stats st;
	double end = tu_now() + 10;

	do {
		if (pvio_blkfront_get_stats(f, &st) == 0 && st.state_unreadable >= n)
			return true;
		usleep(1000);
	} while (tu_now() < end);
	return false;
}

static void unreadable(void)
{
	struct fb_cfg cfg = env_cfg_default();
	struct pvio_blkfront_opts o;
	struct pvio_blkfront_stats st;
	struct run r;
	uint8_t src[8192], dst[8192];
	char path[256];

	pvio_blkfront_opts_default(&o);
	o.max_queues = 1;
	o.timeout_ms = 5000;
	run_open(&r, &cfg, &o);
	snprintf(path, sizeof(path), "%s/state", r.e.be.vbd.be_dir);
	/* A value that is no state, twice (each write fires the watch). */
	REQUIRE(pvio_xs_write(r.e.xs0, PVIO_XS_NO_TX, path, "banana", 6) == 0);
	CHECK(wait_unreadable(r.f, 1));
	REQUIRE(pvio_xs_write(r.e.xs0, PVIO_XS_NO_TX, path, "4 ", 2) == 0);
	CHECK(wait_unreadable(r.f, 2));
	memset(src, 0x5a, sizeof(src));
	CHECK_EQ(pvio_blkfront_write(r.f, 8192, src, sizeof(src)), 0);
	CHECK_EQ(pvio_blkfront_read(r.f, 8192, dst, sizeof(dst)), 0);
	CHECK(memcmp(src, dst, sizeof(dst)) == 0);
	CHECK(memcmp(r.e.be.disk + 8192, src, sizeof(src)) == 0);
	REQUIRE(pvio_blkfront_get_stats(r.f, &st) == 0);
	CHECK_EQ(st.reconnects, 0);
	CHECK(!st.disabled);
	/* Readable again: a real Closing still means reconnect. */
	REQUIRE(pvio_xs_write(r.e.xs0, PVIO_XS_NO_TX, path, "4", 1) == 0);
	fb_shutdown(&r.e.be);
	restart(&r, FB_GOOD);
	memset(src, 0xa5, sizeof(src));
	CHECK_EQ(pvio_blkfront_write(r.f, 0, src, sizeof(src)), 0);
	CHECK(memcmp(r.e.be.disk, src, sizeof(src)) == 0);
	REQUIRE(pvio_blkfront_get_stats(r.f, &st) == 0);
	CHECK_EQ(st.reconnects, 1);
	CHECK(!st.disabled);
	run_close(&r);
}

int main(void)
{
	struct { const char *name; void (*fn)(void); } cases[] = {
		{ "pinned", pinned }, { "pinned-partly", pinned_partly }, { "graceful", graceful }, { "idle", idle },
		{ "refused", refused },
		{ "limits", limits }, { "twice", twice }, { "fewer", fewer },
		{ "timeout", timeout }, { "unreadable", unreadable },
	};

	for (unsigned nq = 1; nq <= 2; nq++)
		for (int pers = 0; pers < 2; pers++)
			for (int x32 = 0; x32 < 2; x32++) {
				int before = tu_failures;

				crash_restart(nq, pers, x32);
				printf("crash  queues=%u persistent=%d %s: %s\n", nq, pers,
				       x32 ? "x86_32" : "x86_64", tu_failures == before ? "ok" : "FAILED");
				fflush(stdout);
			}
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int before = tu_failures;

		cases[i].fn();
		printf("%-14s %s\n", cases[i].name, tu_failures == before ? "ok" : "FAILED");
		fflush(stdout);
	}
	return tu_result();
}
