/* SPDX-License-Identifier: MIT */
/*
 * blkfront against a hostile backend (XSA-396/403 class): an in-process
 * fake backend that walks the handshake properly and then answers with
 * unknown ids, stale generations, duplicate ids, wrong operations, a
 * response producer index beyond the requests outstanding, or random
 * responses. blkfront must disable the device (every pending and later
 * request fails with -ENODEV), return every request exactly once, never
 * write outside its buffers, and not crash (run under ASan too).
 * An error status is not nonsense: it fails that request with -EIO only.
 * Backend keys out of range are capped; a bad sector-size fails open().
 */
#include "tests/blkfront/bf_test.h"

#define DISK (1u << 20)
#define NREQ 4

static const char *mode_name(int m)
{
	static const char *const n[] = { "good", "swallow", "half", "unknown-id", "stale-id", "dup-id",
					 "wrong-op", "overflow", "bad-status", "garbage" };
	return n[m];
}

/* Guard pages around the request buffers: nothing may touch them. */
struct bufs {
	uint8_t *area;
	size_t bytes;
};

static uint8_t *bufs_get(struct pvio_blkfront *f, struct bufs *b, unsigned n)
{
	b->bytes = (size_t)(n * 2 + 1) * 4096;
	b->area = pvio_blkfront_buf_alloc(f, b->bytes);
	REQUIRE(b->area);
	memset(b->area, 0x5a, b->bytes);
	return b->area;
}

static void bufs_check(struct bufs *b, unsigned n, bool data_may_change)
{
	for (unsigned i = 0; i < n * 2 + 1; i++) {
		bool is_data = i % 2 == 1;

		if (is_data && data_may_change)
			continue;
		for (size_t k = 0; k < 4096; k++) {
			if (b->area[(size_t)i * 4096 + k] != 0x5a) {
				fprintf(stderr, "page %u of the buffer area was written\n", i);
				tu_failures++;
				break;
			}
		}
	}
}

/* Submit n reads of one page each (odd pages of the area); reap all. */
static int submit_reads(struct pvio_blkfront *f, struct pvio_blkfront_req *reqs, uint8_t *area,
			unsigned n, int *results)
{
	struct pvio_blkfront_req *rp[16], *done[16];
	unsigned got = 0;
	double end = tu_now() + 10;
	int k;

	for (unsigned i = 0; i < n; i++) {
		memset(&reqs[i], 0, sizeof(reqs[i]));
		reqs[i].op = i % 2 ? PVIO_BLKFRONT_WRITE : PVIO_BLKFRONT_READ;
		reqs[i].offset = (uint64_t)i * 4096;
		reqs[i].len = 4096;
		reqs[i].buf = area + (size_t)(2 * i + 1) * 4096;
		reqs[i].user = (void *)(uintptr_t)(i + 1);
		rp[i] = &reqs[i];
		results[i] = 1;   /* not back yet */
	}
	k = pvio_blkfront_submit(f, 0, rp, n);
	if (k != (int)n) {
		if (k != -ENODEV)
			fprintf(stderr, "submit: %d\n", k);
		return -1;
	}
	while (got < n && tu_now() < end) {
		k = pvio_blkfront_reap(f, 0, done, 16, 200);
		if (k == -ENODEV)
			break;   /* nothing left to return */
		if (k < 0)
			return k;
		for (int i = 0; i < k; i++) {
			unsigned idx = (unsigned)(uintptr_t)done[i]->user - 1;

			if (idx >= n || results[idx] != 1) {
				fprintf(stderr, "request %u returned twice or unknown\n", idx);
				tu_failures++;
				continue;
			}
			results[idx] = done[i]->result;
			got++;
		}
	}
	return (int)got;
}

static void run_nonsense(int mode)
{
	struct env e;
	struct fb_cfg cfg = env_cfg_default();
	struct pvio_blkfront *f;
	struct pvio_blkfront_req reqs[NREQ], extra, *ep = &extra, *done[4];
	struct pvio_blkfront_stats st;
	struct bufs b;
	int res[NREQ], got, nodev = 0, ok = 0;
	uint8_t *area, tmp[4096];

	env_up(&e, &cfg, DISK, 8u << 20, mode);
	REQUIRE(pvio_blkfront_open(e.guest, BF_VDEV, NULL, &f) == 0);
	area = bufs_get(f, &b, NREQ);
	got = submit_reads(f, reqs, area, NREQ, res);
	CHECK_EQ(got, NREQ);
	for (unsigned i = 0; i < NREQ; i++) {
		if (res[i] == -ENODEV)
			nodev++;
		else if (res[i] == 0)
			ok++;
		else
			fprintf(stderr, "request %u: result %d\n", i, res[i]);
	}
	/* dup-id: the first answer is a real completion, the second one is
	 * the nonsense. Everything else fails. */
	CHECK_EQ(nodev, mode == FB_DUP_ID ? NREQ - 1 : NREQ);
	CHECK_EQ(ok, mode == FB_DUP_ID ? 1 : 0);
	REQUIRE(pvio_blkfront_get_stats(f, &st) == 0);
	CHECK(st.disabled);
	/* Later requests fail too, and nothing waits forever. */
	memset(&extra, 0, sizeof(extra));
	extra.op = PVIO_BLKFRONT_READ;
	extra.len = 4096;
	extra.buf = area + 4096;
	CHECK_EQ(pvio_blkfront_submit(f, 0, &ep, 1), -ENODEV);
	CHECK_EQ(pvio_blkfront_reap(f, 0, done, 4, 5000), -ENODEV);
	CHECK_EQ(pvio_blkfront_read(f, 0, tmp, sizeof(tmp)), -ENODEV);
	CHECK_EQ(pvio_blkfront_flush(f), -ENODEV);
	/* Nothing outside the request buffers was written; the backend never
	 * wrote the data pages either (it answered without doing I/O). */
	bufs_check(&b, NREQ, mode == FB_DUP_ID);
	pvio_blkfront_close(f);
	env_down(&e);
}

static void run_bad_status(void)
{
	struct env e;
	struct fb_cfg cfg = env_cfg_default();
	struct pvio_blkfront *f;
	struct pvio_blkfront_req reqs[NREQ];
	struct pvio_blkfront_stats st;
	struct bufs b;
	int res[NREQ];
	uint8_t *area;

	env_up(&e, &cfg, DISK, 8u << 20, FB_BAD_STATUS);
	REQUIRE(pvio_blkfront_open(e.guest, BF_VDEV, NULL, &f) == 0);
	area = bufs_get(f, &b, NREQ);
	CHECK_EQ(submit_reads(f, reqs, area, NREQ, res), NREQ);
	for (unsigned i = 0; i < NREQ; i++)
		CHECK_EQ(res[i], -EIO);
	REQUIRE(pvio_blkfront_get_stats(f, &st) == 0);
	CHECK(!st.disabled);
	CHECK_EQ(st.errors, NREQ);
	/* The device still works once the backend behaves. */
	__atomic_store_n(&e.be.mode, FB_GOOD, __ATOMIC_RELEASE);
	CHECK_EQ(submit_reads(f, reqs, area, NREQ, res), NREQ);
	for (unsigned i = 0; i < NREQ; i++)
		CHECK_EQ(res[i], 0);
	pvio_blkfront_close(f);
	env_down(&e);
}

/* Random responses: whatever happens, every request comes back once with
 * a sane result, and the process survives. */
static void run_garbage(unsigned rounds)
{
	unsigned disabled = 0;

	for (unsigned s = 1; s <= rounds; s++) {
		struct env e;
		struct fb_cfg cfg = env_cfg_default();
		struct pvio_blkfront_opts o;
		struct pvio_blkfront *f;
		struct pvio_blkfront_req reqs[8];
		struct pvio_blkfront_stats st;
		struct bufs b;
		int res[8], got;
		uint8_t *area;

		cfg.max_queues = 1;
		env_up(&e, &cfg, DISK, 8u << 20, FB_GARBAGE);
		e.be.seed = s * 7919;
		pvio_blkfront_opts_default(&o);
		o.protocol = s % 2 ? "x86_32-abi" : NULL;
		REQUIRE(pvio_blkfront_open(e.guest, BF_VDEV, &o, &f) == 0);
		area = bufs_get(f, &b, 8);
		for (int round = 0; round < 4; round++) {
			got = submit_reads(f, reqs, area, 8, res);
			if (got < 0)
				break;   /* disabled before the submit */
			CHECK_EQ(got, 8);
			for (unsigned i = 0; i < 8; i++)
				CHECK(res[i] == 0 || res[i] == -EIO || res[i] == -EOPNOTSUPP ||
				      res[i] == -ENODEV);
		}
		REQUIRE(pvio_blkfront_get_stats(f, &st) == 0);
		disabled += st.disabled;
		bufs_check(&b, 8, true);
		pvio_blkfront_close(f);
		env_down(&e);
	}
	printf("garbage: %u of %u rounds ended with the device disabled\n", disabled, rounds);
	CHECK(disabled > 0);
}

/* Backend keys out of range: capped (queues, order, indirect), or refused
 * (sector-size not a power of two). */
static void run_bad_keys(void)
{
	struct env e;
	struct fb_cfg cfg = env_cfg_default();
	struct pvio_blkfront_opts o;
	struct pvio_blkfront_info info;
	struct pvio_blkfront *f;
	uint8_t buf[8192];

	cfg.max_queues = 1000000;
	cfg.max_indirect = 1000000;
	cfg.max_order_key = "99";
	env_up(&e, &cfg, DISK, 16u << 20, FB_GOOD);
	pvio_blkfront_opts_default(&o);
	o.max_queues = 0;          /* min(backend, nproc) */
	o.max_indirect_segs = 100000;
	REQUIRE(pvio_blkfront_open(e.guest, BF_VDEV, &o, &f) == 0);
	REQUIRE(pvio_blkfront_get_info(f, &info) == 0);
	CHECK(info.nr_queues >= 1 && info.nr_queues <= PVIO_BLKFRONT_MAX_QUEUES);
	CHECK_EQ(info.ring_order, 4);
	/* 4096 asked and offered, but 512 ring slots x 1 indirect page each */
	CHECK_EQ(info.max_segs, 512);
	CHECK_EQ(pvio_blkfront_read(f, 0, buf, sizeof(buf)), 0);
	pvio_blkfront_close(f);
	env_down(&e);

	cfg = env_cfg_default();
	cfg.sector_size = 1000;
	env_up(&e, &cfg, DISK, 8u << 20, FB_GOOD);
	pvio_blkfront_opts_default(&o);
	o.timeout_ms = 2000;
	CHECK_EQ(pvio_blkfront_open(e.guest, BF_VDEV, &o, &f), -EPROTO);
	env_down(&e);
}

int main(void)
{
	static const int modes[] = { FB_UNKNOWN_ID, FB_STALE_ID, FB_DUP_ID, FB_WRONG_OP,
				     FB_OVERFLOW };

	for (unsigned i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		int before = tu_failures;

		run_nonsense(modes[i]);
		printf("%-12s %s\n", mode_name(modes[i]), tu_failures == before ? "ok" : "FAILED");
	}
	run_bad_status();
	run_garbage(40);
	run_bad_keys();
	return tu_result();
}
