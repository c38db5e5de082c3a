/* SPDX-License-Identifier: MIT */
/*
 * rbd_engine_check TARGET: the rbd engine (blkback/engine_rbd.c) driven as
 * pvio-blkback's poller drives it (queue, submit, poll; arm before each
 * sleep on the engine's fd), against a real image (run by
 * test_rbd_engine.sh on a throwaway cluster). It checks the completion
 * wake-ups, which are batched while the queue is deep:
 *
 *   every completion reaches the poller: no sleep on the fd ever outlasts
 *   the OSD op timeout with I/O in flight (a completion left on the list
 *   with no wake-up would show as exactly that);
 *   deep queues wake the poller fewer times than I/Os complete (QD32),
 *   shallow ones once per I/O (QD1: nothing waits for a batch);
 *   the data: 4 KiB blocks stamped at QD32, read back at random depths
 *   (1..32, crossing the batching threshold both ways) and checked;
 *   pvio_blk_engine_hold_ms, the bound on how long a completion may be
 *   held (pvio-blkback's worker sleeps no longer): 1 ms while I/O is deep
 *   enough to batch, -1 at QD1 and when idle.
 *
 * Exit 0 when every check passes, 1 otherwise, 77 when this pvio has no
 * rbd engine.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blkback/engine.h"
#include "blkback/engine_internal.h"
#include "blkback/rbd.h"
#include "tests/common/testutil.h"

#define BS      4096u
#define NBLK    2048u            /* 8 MiB */
#define DEPTH   32u
#define SLEEP_LIMIT_MS 40000     /* longer than the 30 s OSD op timeout */

struct slot {
	struct pvio_blk_io io;
	struct iovec iov;
	uint32_t blk;
	bool busy;
	unsigned char *buf;
};

static struct pvio_blk_engine *eng;
static struct slot slots[DEPTH];
static unsigned busy;
static uint64_t completions, sleeps, bad_data, bad_result;
static uint64_t hold_seen, hold_none;   /* sleeps with hold_ms 1 / -1 */

static void stamp(unsigned char *p, uint32_t blk)
{
	for (unsigned i = 0; i < BS; i += 8) {
		uint64_t v = ((uint64_t)blk << 32) | i | 0x5a000000u;

		memcpy(p + i, &v, 8);
	}
}

static void complete(struct pvio_blk_io *io)
{
	struct slot *s = io->user;
	unsigned char want[BS];

	completions++;
	if (io->result != (int64_t)BS) {
		if (bad_result++ < 5)
			fprintf(stderr, "block %u: %s result %" PRId64 "\n", s->blk,
				io->op == PVIO_BLK_IO_READ ? "read" : "write", io->result);
	} else if (io->op == PVIO_BLK_IO_READ) {
		stamp(want, s->blk);
		if (memcmp(want, s->buf, BS) && bad_data++ < 5)
			fprintf(stderr, "block %u: read back something else\n", s->blk);
	}
	s->busy = false;
	busy--;
}

/* The poller's loop (blkback.c: reap, then arm, then sleep on the fd) until
 * at most `until` I/Os are in flight. 0, or -1 when a sleep outlasted the
 * limit with I/O in flight (a completion that never woke us). */
static int run_until(unsigned until)
{
	struct pvio_blk_io *done[DEPTH];

	while (busy > until) {
		int n = pvio_blk_engine_poll(eng, done, DEPTH);

		if (n < 0) {
			fprintf(stderr, "poll: %s\n", strerror(-n));
			return -1;
		}
		for (int i = 0; i < n; i++)
			complete(done[i]);
		if (n || busy <= until || pvio_blk_engine_arm(eng))
			continue;
		{
			struct pollfd pf = { .fd = pvio_blk_engine_fd(eng), .events = POLLIN };
			int hold = pvio_blk_engine_hold_ms(eng), r;

			/* pvio-blkback sleeps at most `hold`; this sleeps on the
			 * wake-up alone, so that a missing one shows. */
			if (hold == 1)
				hold_seen++;
			else if (hold == -1)
				hold_none++;
			else
				fprintf(stderr, "hold_ms %d: neither 1 nor -1\n", hold);
			r = poll(&pf, 1, SLEEP_LIMIT_MS);

			sleeps++;
			if (r == 0) {
				fprintf(stderr, "slept %d ms with %u I/O(s) in flight and no "
					"wake-up\n", SLEEP_LIMIT_MS, busy);
				return -1;
			}
		}
	}
	return 0;
}

static struct slot *free_slot(void)
{
	for (unsigned i = 0; i < DEPTH; i++)
		if (!slots[i].busy)
			return &slots[i];
	return NULL;
}

static int start(uint8_t op, uint32_t blk)
{
	struct slot *s = free_slot();
	int r;

	if (!s)
		return -EBUSY;
	s->blk = blk;
	if (op == PVIO_BLK_IO_WRITE)
		stamp(s->buf, blk);
	else
		memset(s->buf, 0, BS);
	s->iov = (struct iovec){ s->buf, BS };
	s->io = (struct pvio_blk_io){ .op = op, .iovcnt = 1, .offset = (uint64_t)blk * BS,
				      .len = BS, .iov = &s->iov, .user = s };
	r = pvio_blk_engine_queue(eng, &s->io);
	if (r)
		return r;
	s->busy = true;
	busy++;
	return 0;
}

/* n I/Os of op at depth qd (blocks in order for writes, random for reads);
 * returns the engine's wake-ups (eventfd writes) they took, or -1. */
static int64_t phase(uint8_t op, unsigned n, unsigned qd, bool random_depth)
{
	uint64_t sig0 = __atomic_load_n(&eng->st.signals, __ATOMIC_RELAXED);

	for (unsigned i = 0; i < n;) {
		unsigned want = random_depth ? 1 + (unsigned)(rand() % (int)qd) : qd;

		while (busy < want && i < n) {
			uint32_t blk = op == PVIO_BLK_IO_WRITE ? i : (uint32_t)(rand() % NBLK);
			int r = start(op, blk);

			if (r) {
				fprintf(stderr, "queue: %s\n", strerror(-r));
				return -1;
			}
			i++;
		}
		if (pvio_blk_engine_submit(eng) < 0)
			return -1;
		/* Let the depth fall before topping up: at random depths this
		 * crosses the batching threshold both ways. */
		if (run_until(random_depth ? (unsigned)(rand() % (int)want) : want - 1))
			return -1;
	}
	if (run_until(0))
		return -1;
	return (int64_t)(__atomic_load_n(&eng->st.signals, __ATOMIC_RELAXED) - sig0);
}

int main(int argc, char **argv)
{
	struct pvio_blk_engine_cfg cfg = { .depth = DEPTH };
	struct pvio_blk_rbd *img;
	struct pvio_blk_rbd_info info;
	char err[512] = "";
	int64_t sig;
	uint64_t c0;
	int r;

	if (argc != 2) {
		fprintf(stderr, "usage: rbd_engine_check rbd:POOL/IMAGE[:OPTIONS]\n");
		return 2;
	}
	if (!pvio_blk_rbd_built())
		tu_skip("this pvio was built without librbd");
	r = pvio_blk_rbd_open(argv[1], false, &img, err, sizeof(err));
	if (r) {
		fprintf(stderr, "FAIL: open %s: %s\n", argv[1], err);
		return 1;
	}
	pvio_blk_rbd_get_info(img, &info);
	REQUIRE(info.size >= (uint64_t)NBLK * BS);
	cfg.rbd = img;
	r = pvio_blk_engine_open("rbd", -1, &cfg, &eng);
	REQUIRE(r == 0);
	for (unsigned i = 0; i < DEPTH; i++)
		REQUIRE((slots[i].buf = aligned_alloc(4096, BS)) != NULL);
	srand(7);

	CHECK_EQ(pvio_blk_engine_hold_ms(eng), -1);
	/* Deep: QD32 writes of every block. */
	c0 = completions;
	sig = phase(PVIO_BLK_IO_WRITE, NBLK, DEPTH, false);
	REQUIRE(sig >= 0);
	printf("QD32 writes: %" PRIu64 " completions, %" PRId64 " wake-ups, %" PRIu64
	       " sleeps\n", completions - c0, sig, sleeps);
	CHECK_EQ(completions - c0, NBLK);
	CHECK(sig > 0 && (uint64_t)sig * 2 < completions - c0);
	CHECK(hold_seen > 0);
	hold_seen = hold_none = 0;

	/* Shallow: QD1 reads, each woken for at once. */
	c0 = completions;
	sig = phase(PVIO_BLK_IO_READ, 200, 1, false);
	REQUIRE(sig >= 0);
	printf("QD1 reads: %" PRIu64 " completions, %" PRId64 " wake-ups\n", completions - c0,
	       sig);
	CHECK_EQ(completions - c0, 200);
	CHECK(sig >= 195 && sig <= 200);
	CHECK_EQ(hold_seen, 0);
	CHECK(hold_none > 0);

	/* Random depths 1..32, topped up and let fall at random. */
	c0 = completions;
	sig = phase(PVIO_BLK_IO_READ, 4 * NBLK, DEPTH, true);
	REQUIRE(sig >= 0);
	printf("random-depth reads: %" PRIu64 " completions, %" PRId64 " wake-ups, %" PRIu64
	       " sleeps in all\n", completions - c0, sig, sleeps);
	CHECK_EQ(completions - c0, 4 * NBLK);

	CHECK_EQ(bad_result, 0);
	CHECK_EQ(bad_data, 0);
	CHECK_EQ(pvio_blk_engine_inflight(eng), 0);
	CHECK_EQ(pvio_blk_engine_hold_ms(eng), -1);
	pvio_blk_engine_close(eng);
	pvio_blk_rbd_close(img);
	for (unsigned i = 0; i < DEPTH; i++)
		free(slots[i].buf);
	return tu_result();
}
