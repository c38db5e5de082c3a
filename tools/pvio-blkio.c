/* SPDX-License-Identifier: MIT */
/*
 * pvio-blkio: a guest program that uses a PV disk through blkfront.
 * Run it as a guest: pvio run --domain NAME -- pvio-blkio COMMAND ...
 *
 *   info VDEV                       size, sector size, negotiated features
 *   write VDEV OFFSET < data        write stdin at OFFSET (padded to a sector)
 *   read VDEV OFFSET LENGTH > data  read
 *   flush VDEV
 *   discard VDEV OFFSET LENGTH
 *   verify VDEV [options]           random verified I/O (the tests' workload)
 *   bench VDEV [options]            a timed load for pvio-bench blk
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "frontend/blkfront.h"
#include "hv/hv.h"
#include "tools/toolstack.h"

static const char *prog = "pvio-blkio";

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s [frontend options] COMMAND VDEV [ARGS]\n"
		"  info VDEV                        size, sector size, negotiated features\n"
		"  write VDEV OFFSET < data         write stdin at OFFSET\n"
		"  read VDEV OFFSET LENGTH > data   read LENGTH bytes at OFFSET\n"
		"  flush VDEV                       flush the disk's cache\n"
		"  discard VDEV OFFSET LENGTH       discard a range\n"
		"  verify VDEV [--seconds S] [--ops N] [--qd D] [--min-size B] [--max-size B]\n"
		"              [--region-mb M] [--seed S] [--discard-pct P] [--flush-every N]\n"
		"              [--progress] [--ready-fd N] [--start-fd N] (as bench's)\n"
		"                                   random writes of random sizes, each block stamped\n"
		"                                   (lba, generation, checksum), verified by reads;\n"
		"                                   a full verification pass at the end\n"
		"  bench VDEV --rw randread|randwrite|read|write --bs B --qd D --seconds S\n"
		"        [--size-mb M] [--ready-fd N: \"ready\" once connected]\n"
		"        [--start-fd N: then start once fd N reaches end of file]\n"
		"Frontend options (before COMMAND): --queues N --ring-order N --no-persistent\n"
		"  --no-indirect --protocol x86_64-abi|x86_32-abi --no-large-sectors\n"
		"  --timeout-ms N (handshake and reconnection)\n"
		"  --poll-us N (spin on the ring this long before sleeping; default 50;\n"
		"               longer waits sleep on a timer for half the usual wait,\n"
		"               then spin; 0: always sleep on the event channel)\n"
		"Run as a guest: pvio run --domain NAME -- %s ...\n", prog, prog);
}

static int parse_u64(const char *what, const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	uint64_t mul = 1;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *s == '-')
		goto bad;
	if (*end == 'k' || *end == 'K') { mul = 1024; end++; }
	else if (*end == 'm' || *end == 'M') { mul = 1024 * 1024; end++; }
	else if (*end == 'g' || *end == 'G') { mul = 1024ull * 1024 * 1024; end++; }
	if (*end || v > UINT64_MAX / mul)
		goto bad;
	*out = v * mul;
	return 0;
bad:
	fprintf(stderr, "%s: %s: '%s' is not a size\n", prog, what, s);
	return -1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------ stamped blocks */

#define STAMP_MAGIC 0x5056494f424c4b31ull   /* "PVIOBLK1" */

struct stamp {
	uint64_t magic;
	uint64_t lba;          /* block index */
	uint64_t gen;
	uint64_t seed;
	uint64_t sum;          /* checksum of the rest of the block */
};

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

static void fill_block(uint8_t *b, uint32_t bs, uint64_t lba, uint64_t gen, uint64_t seed)
{
	struct stamp st = { STAMP_MAGIC, lba, gen, seed, 0 };
	uint64_t x = mix(lba * 0x9e3779b97f4a7c15ull ^ gen ^ seed), sum = 0;

	for (uint32_t i = sizeof(st); i + 8 <= bs; i += 8) {
		x = mix(x + i);
		memcpy(b + i, &x, 8);
		sum = sum * 31 + x;
	}
	st.sum = sum;
	memcpy(b, &st, sizeof(st));
}

/* 0 ok; else a message in why. gen 0 means never written: zeros. */
static int check_block(const uint8_t *b, uint32_t bs, uint64_t lba, uint64_t gen, uint64_t seed,
		       char *why, size_t wl)
{
	struct stamp st;
	uint64_t sum = 0;

	if (gen == 0) {
		for (uint32_t i = 0; i < bs; i++)
			if (b[i]) {
				snprintf(why, wl, "block %" PRIu64 " should be zeros", lba);
				return -1;
			}
		return 0;
	}
	memcpy(&st, b, sizeof(st));
	if (st.magic != STAMP_MAGIC || st.lba != lba || st.gen != gen || st.seed != seed) {
		snprintf(why, wl, "block %" PRIu64 ": stamp lba %" PRIu64 " gen %" PRIu64
			 " (want gen %" PRIu64 ")%s", lba, st.lba, st.gen, gen,
			 st.magic != STAMP_MAGIC ? ", bad magic" : "");
		return -1;
	}
	for (uint32_t i = sizeof(st); i + 8 <= bs; i += 8) {
		uint64_t x;
		memcpy(&x, b + i, 8);
		sum = sum * 31 + x;
	}
	if (sum != st.sum) {
		snprintf(why, wl, "block %" PRIu64 ": checksum mismatch", lba);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ verify */

enum { V_WRITE, V_READ, V_DISCARD, V_FLUSH };

struct vslot {
	struct pvio_blkfront_req req;
	uint8_t kind;
	uint64_t blk, nblk;
	uint8_t *buf;
};

struct vctx {
	struct pvio_blkfront *f;
	unsigned queue;
	uint32_t bs;                  /* block = the disk's sector size */
	uint64_t region_blocks;
	uint64_t first_block;         /* this worker's region */
	uint64_t *gen;                /* per block, shared map (regions don't overlap) */
	uint8_t *busy;
	uint64_t seed;
	uint64_t rng;
	uint64_t min_blk, max_blk;
	unsigned qd;
	double seconds;
	uint64_t max_ops;
	unsigned discard_pct;
	uint64_t flush_every;
	bool discard_ok, flush_ok;
	/* results */
	uint64_t prepared;
	uint64_t fresh;               /* generations after a failed write */
	int done;                     /* the worker finished */
	uint64_t ops, writes, reads, discards, flushes, bytes, errors, mismatches;
	double last_done, max_gap;    /* the longest time without a completion */
	double gap_end;               /* when it ended (now_s()) */
	char first_error[256];
};

static uint64_t rnd(struct vctx *c)
{
	c->rng = mix(c->rng + 0x9e3779b97f4a7c15ull);
	return c->rng;
}

static void note_error(struct vctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void note_error(struct vctx *c, const char *fmt, ...)
{
	va_list ap;

	c->errors++;
	if (c->first_error[0])
		return;
	va_start(ap, fmt);
	vsnprintf(c->first_error, sizeof(c->first_error), fmt, ap);
	va_end(ap);
}

static bool range_free(struct vctx *c, uint64_t b, uint64_t n)
{
	for (uint64_t i = b; i < b + n; i++)
		if (c->busy[i - c->first_block])
			return false;
	return true;
}

static void set_busy(struct vctx *c, uint64_t b, uint64_t n, uint8_t v)
{
	memset(c->busy + (b - c->first_block), v, n);
}

/* Prepare the next random operation in s; false if none could be placed. */
static bool prepare(struct vctx *c, struct vslot *s)
{
	uint64_t n, b, r = rnd(c) % 100;

	if (c->flush_every && ++c->prepared % c->flush_every == 0 && c->flush_ok) {
		s->kind = V_FLUSH;
		s->req = (struct pvio_blkfront_req){ .op = PVIO_BLKFRONT_FLUSH };
		s->req.user = s;
		return true;
	}
	for (int tries = 0; tries < 16; tries++) {
		n = c->min_blk + rnd(c) % (c->max_blk - c->min_blk + 1);
		if (n > c->region_blocks)
			n = c->region_blocks;
		b = c->first_block + rnd(c) % (c->region_blocks - n + 1);
		if (range_free(c, b, n))
			goto place;
	}
	return false;
place:
	s->blk = b;
	s->nblk = n;
	set_busy(c, b, n, 1);
	memset(&s->req, 0, sizeof(s->req));
	s->req.offset = b * c->bs;
	s->req.len = n * c->bs;
	s->req.buf = s->buf;
	s->req.user = s;
	if (c->discard_ok && r < c->discard_pct) {
		s->kind = V_DISCARD;
		s->req.op = PVIO_BLKFRONT_DISCARD;
		s->req.buf = NULL;
	} else if (r < c->discard_pct + 45) {
		s->kind = V_READ;
		s->req.op = PVIO_BLKFRONT_READ;
	} else {
		s->kind = V_WRITE;
		s->req.op = PVIO_BLKFRONT_WRITE;
		for (uint64_t i = 0; i < n; i++) {
			/* A block a failed write left undefined (UINT64_MAX) gets a
			 * generation no earlier write can have stamped. */
			if (c->gen[b + i] == UINT64_MAX)
				c->gen[b + i] = (1ull << 63) + c->fresh++;
			fill_block(s->buf + i * c->bs, c->bs, b + i, c->gen[b + i] + 1, c->seed);
		}
	}
	return true;
}

static void complete(struct vctx *c, struct vslot *s)
{
	char why[256];
	double now = now_s();

	if (c->last_done > 0 && now - c->last_done > c->max_gap) {
		c->max_gap = now - c->last_done;
		c->gap_end = now;
	}
	c->last_done = now;
	c->ops++;
	if (s->req.result < 0) {
		note_error(c, "%s at block %" PRIu64 " (+%" PRIu64 "): %s",
			   s->kind == V_WRITE ? "write" : s->kind == V_READ ? "read" :
			   s->kind == V_DISCARD ? "discard" : "flush", s->blk, s->nblk,
			   strerror(-s->req.result));
		/* A failed write leaves the blocks undefined: forget them. */
		if (s->kind == V_WRITE || s->kind == V_DISCARD)
			for (uint64_t i = 0; i < s->nblk; i++)
				c->gen[s->blk + i] = UINT64_MAX;
	} else {
		switch (s->kind) {
		case V_WRITE:
			for (uint64_t i = 0; i < s->nblk; i++)
				c->gen[s->blk + i]++;
			c->writes++;
			c->bytes += s->nblk * c->bs;
			break;
		case V_DISCARD:
			for (uint64_t i = 0; i < s->nblk; i++)
				c->gen[s->blk + i] = 0;
			c->discards++;
			break;
		case V_READ:
			c->reads++;
			c->bytes += s->nblk * c->bs;
			for (uint64_t i = 0; i < s->nblk; i++) {
				if (c->gen[s->blk + i] == UINT64_MAX)
					continue;
				if (check_block(s->buf + i * c->bs, c->bs, s->blk + i,
						c->gen[s->blk + i], c->seed, why, sizeof(why))) {
					c->mismatches++;
					note_error(c, "verify: %s", why);
					break;
				}
			}
			break;
		case V_FLUSH:
			c->flushes++;
			break;
		}
	}
	if (s->kind != V_FLUSH)
		set_busy(c, s->blk, s->nblk, 0);
}

static void *verify_worker(void *arg)
{
	struct vctx *c = arg;
	struct vslot *slots = calloc(c->qd, sizeof(*slots));
	struct pvio_blkfront_req *batch[64], *done[64];
	unsigned inflight = 0, nfree;
	struct vslot **freelist = calloc(c->qd, sizeof(*freelist));
	double end = now_s() + c->seconds;
	bool stop = false;

	if (!slots || !freelist)
		goto out;
	for (unsigned i = 0; i < c->qd; i++) {
		slots[i].buf = pvio_blkfront_buf_alloc(c->f, c->max_blk * c->bs);
		if (!slots[i].buf) {
			note_error(c, "cannot allocate guest buffers");
			goto out;
		}
		freelist[i] = &slots[i];
	}
	nfree = c->qd;
	while (!stop || inflight) {
		unsigned nb = 0;

		if (!stop && ((c->seconds > 0 && now_s() >= end) ||
			      (c->max_ops && c->ops + inflight >= c->max_ops)))
			stop = true;
		while (!stop && nfree && nb < 64) {
			struct vslot *s = freelist[nfree - 1];
			if (!prepare(c, s))
				break;
			nfree--;
			batch[nb++] = &s->req;
			if (c->max_ops && c->ops + inflight + nb >= c->max_ops)
				break;
		}
		for (unsigned k = 0; k < nb;) {
			int r = pvio_blkfront_submit(c->f, c->queue, &batch[k], nb - k);
			if (r < 0) {
				/* Not accepted: undo and stop. */
				for (unsigned j = k; j < nb; j++) {
					struct vslot *s = batch[j]->user;
					if (s->kind != V_FLUSH)
						set_busy(c, s->blk, s->nblk, 0);
					freelist[nfree++] = s;
				}
				note_error(c, "submit: %s", strerror(-r));
				stop = true;
				break;
			}
			inflight += (unsigned)r;
			k += (unsigned)r;
			if (k < nb) {
				/* Ring full: reap something, then go on. */
				int d = pvio_blkfront_reap(c->f, c->queue, done, 64, 1000);
				for (int j = 0; j < d; j++) {
					struct vslot *s = done[j]->user;
					complete(c, s);
					freelist[nfree++] = s;
					inflight--;
				}
			}
		}
		if (inflight) {
			int d = pvio_blkfront_reap(c->f, c->queue, done, 64,
						   nfree && !stop ? 0 : 1000);
			if (d == 0 && (nfree == 0 || stop))
				d = pvio_blkfront_reap(c->f, c->queue, done, 64, 1000);
			for (int j = 0; j < d; j++) {
				struct vslot *s = done[j]->user;
				complete(c, s);
				freelist[nfree++] = s;
				inflight--;
			}
		}
	}
out:
	if (slots)
		for (unsigned i = 0; i < c->qd; i++)
			if (slots[i].buf)
				pvio_blkfront_buf_free(c->f, slots[i].buf, c->max_blk * c->bs);
	free(slots);
	free(freelist);
	__atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* Read every block of the region back and check it. */
static uint64_t final_pass(struct pvio_blkfront *f, uint32_t bs, uint64_t nblocks,
			   const uint64_t *gen, uint64_t seed, char *first, size_t fl)
{
	const uint64_t chunk = 256;   /* blocks per read */
	uint8_t *buf = pvio_blkfront_buf_alloc(f, chunk * bs);
	uint64_t bad = 0;
	char why[256];

	if (!buf) {
		snprintf(first, fl, "cannot allocate the final pass buffer");
		return 1;
	}
	for (uint64_t b = 0; b < nblocks; b += chunk) {
		uint64_t n = nblocks - b < chunk ? nblocks - b : chunk;
		int r = pvio_blkfront_read(f, b * bs, buf, n * bs);
		if (r < 0) {
			if (!first[0])
				snprintf(first, fl, "final read at block %" PRIu64 ": %s", b,
					 strerror(-r));
			bad++;
			continue;
		}
		for (uint64_t i = 0; i < n; i++) {
			if (gen[b + i] == UINT64_MAX)
				continue;
			if (check_block(buf + i * bs, bs, b + i, gen[b + i], seed, why, sizeof(why))) {
				if (!first[0])
					snprintf(first, fl, "final pass: %.200s", why);
				bad++;
			}
		}
	}
	pvio_blkfront_buf_free(f, buf, chunk * bs);
	return bad;
}

/* --ready-fd / --start-fd: say "ready" once connected, then wait for end
 * of file (or a byte) on the start fd, so that many guests run together.
 * UINT64_MAX: not given. */
static void ready_then_start(uint64_t ready_fd, uint64_t start_fd)
{
	if (ready_fd != UINT64_MAX) {
		if (write((int)ready_fd, "ready\n", 6) < 0) {
			/* the waiter went away */
		}
		close((int)ready_fd);
	}
	if (start_fd != UINT64_MAX) {
		char ch;

		while (read((int)start_fd, &ch, 1) < 0 && errno == EINTR)
			;
		close((int)start_fd);
	}
}

static int cmd_verify(struct pvio_blkfront *f, int argc, char **argv)
{
	static const struct option o[] = {
		{ "seconds", required_argument, NULL, 's' },
		{ "ops", required_argument, NULL, 'n' },
		{ "qd", required_argument, NULL, 'q' },
		{ "min-size", required_argument, NULL, 'm' },
		{ "max-size", required_argument, NULL, 'M' },
		{ "region-mb", required_argument, NULL, 'r' },
		{ "seed", required_argument, NULL, 'S' },
		{ "discard-pct", required_argument, NULL, 'd' },
		{ "flush-every", required_argument, NULL, 'F' },
		{ "progress", no_argument, NULL, 'P' },
		{ "ready-fd", required_argument, NULL, 'R' },
		{ "start-fd", required_argument, NULL, 'T' },
		{ NULL, 0, NULL, 0 },
	};
	struct pvio_blkfront_info info;
	bool progress = false;
	uint64_t ready_fd = UINT64_MAX, start_fd = UINT64_MAX;
	uint64_t seconds = 0, ops = 0, qd = 8, minsz = 512, maxsz = 1 << 20, region_mb = 64;
	uint64_t seed = (uint64_t)time(NULL), dpct = 5, flush_every = 200;
	struct vctx ctx[PVIO_BLKFRONT_MAX_QUEUES];
	pthread_t thr[PVIO_BLKFRONT_MAX_QUEUES];
	uint64_t *gen, nblocks, tot_err = 0, bad;
	uint8_t *busy;
	char first[256] = "";
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", o, NULL)) != -1) {
		switch (c) {
		case 's': if (parse_u64("--seconds", optarg, &seconds)) return 2; break;
		case 'n': if (parse_u64("--ops", optarg, &ops)) return 2; break;
		case 'q': if (parse_u64("--qd", optarg, &qd) || qd == 0 || qd > 512) return 2; break;
		case 'm': if (parse_u64("--min-size", optarg, &minsz)) return 2; break;
		case 'M': if (parse_u64("--max-size", optarg, &maxsz)) return 2; break;
		case 'r': if (parse_u64("--region-mb", optarg, &region_mb)) return 2; break;
		case 'S': if (parse_u64("--seed", optarg, &seed)) return 2; break;
		case 'd': if (parse_u64("--discard-pct", optarg, &dpct) || dpct > 50) return 2; break;
		case 'F': if (parse_u64("--flush-every", optarg, &flush_every)) return 2; break;
		case 'P': progress = true; break;
		case 'R': if (parse_u64("--ready-fd", optarg, &ready_fd) || ready_fd > INT32_MAX) return 2; break;
		case 'T': if (parse_u64("--start-fd", optarg, &start_fd) || start_fd > INT32_MAX) return 2; break;
		default: return 2;
		}
	}
	if (!seconds && !ops)
		seconds = 5;
	pvio_blkfront_get_info(f, &info);
	if (info.readonly) {
		fprintf(stderr, "%s: verify: the disk is read-only\n", prog);
		return 1;
	}
	nblocks = region_mb * 1024 * 1024 / info.sector_size;
	if (nblocks > info.size_bytes / info.sector_size)
		nblocks = info.size_bytes / info.sector_size;
	minsz = (minsz + info.sector_size - 1) / info.sector_size;
	maxsz = maxsz / info.sector_size;
	if (minsz == 0)
		minsz = 1;
	if (maxsz < minsz)
		maxsz = minsz;
	gen = calloc(nblocks, sizeof(*gen));
	busy = calloc(nblocks, 1);
	if (!gen || !busy)
		return 1;
	unsigned nq = info.nr_queues;
	uint64_t per = nblocks / nq;
	if (per < maxsz) {
		fprintf(stderr, "%s: verify: region too small for %u queues\n", prog, nq);
		return 2;
	}
	ready_then_start(ready_fd, start_fd);
	double t0 = now_s();
	for (unsigned q = 0; q < nq; q++) {
		ctx[q] = (struct vctx){
			.f = f, .queue = q, .bs = info.sector_size,
			.region_blocks = per, .first_block = q * per,
			.gen = gen, .busy = busy + q * per, .seed = seed,
			.rng = mix(seed + q + 1), .min_blk = minsz, .max_blk = maxsz,
			.qd = (unsigned)qd, .seconds = (double)seconds,
			.max_ops = ops ? (ops + nq - 1) / nq : 0,
			.discard_pct = (unsigned)dpct, .flush_every = flush_every,
			.discard_ok = info.discard, .flush_ok = info.flush || info.barrier,
		};
	}
	for (unsigned q = 0; q < nq; q++)
		pthread_create(&thr[q], NULL, verify_worker, &ctx[q]);
	if (progress) {
		/* Once a second: what the workers did so far (read racily:
		 * it is a display). */
		bool tty = isatty(2);
		for (;;) {
			bool running = false;
			uint64_t o = 0, b = 0, e = 0;
			for (unsigned q = 0; q < nq; q++) {
				if (!__atomic_load_n(&ctx[q].done, __ATOMIC_ACQUIRE))
					running = true;
				o += __atomic_load_n(&ctx[q].ops, __ATOMIC_RELAXED);
				b += __atomic_load_n(&ctx[q].bytes, __ATOMIC_RELAXED);
				e += __atomic_load_n(&ctx[q].errors, __ATOMIC_RELAXED);
			}
			fprintf(stderr, "%s  verify: %5.1f s  %8" PRIu64 " I/Os  %9.1f MiB  "
				"%" PRIu64 " errors%s", tty ? "\r" : "", now_s() - t0, o,
				b / 1048576.0, e, tty ? "   " : "\n");
			if (!running)
				break;
			usleep(250000);
		}
		if (tty)
			fputc('\n', stderr);
	}
	for (unsigned q = 0; q < nq; q++)
		pthread_join(thr[q], NULL);
	double t1 = now_s();
	uint64_t wr = 0, rd = 0, ds = 0, fl = 0, by = 0, mm = 0;
	double gap = 0, gap_end = 0;
	unsigned gap_q = 0;
	for (unsigned q = 0; q < nq; q++) {
		if (ctx[q].max_gap > gap) {
			gap = ctx[q].max_gap;
			gap_end = ctx[q].gap_end;
			gap_q = q;
		}
		wr += ctx[q].writes; rd += ctx[q].reads; ds += ctx[q].discards;
		fl += ctx[q].flushes; by += ctx[q].bytes; mm += ctx[q].mismatches;
		tot_err += ctx[q].errors;
		if (!first[0] && ctx[q].first_error[0])
			snprintf(first, sizeof(first), "%s", ctx[q].first_error);
	}
	bad = final_pass(f, info.sector_size, nq * per, gen, seed, first, sizeof(first));
	printf("verify: %u queue(s), %" PRIu64 " writes, %" PRIu64 " reads, %" PRIu64
	       " discards, %" PRIu64 " flushes, %.1f MiB in %.2f s; errors %" PRIu64
	       ", mismatches %" PRIu64 ", final pass bad blocks %" PRIu64 " of %" PRIu64 "\n",
	       nq, wr, rd, ds, fl, by / 1048576.0, t1 - t0, tot_err, mm, bad, nq * per);
	struct pvio_blkfront_stats st;
	if (pvio_blkfront_get_stats(f, &st) == 0)
		printf("frontend: %" PRIu64 " ring requests (%" PRIu64 " indirect), %" PRIu64
		       " reconnects, %" PRIu64 " reissued, %" PRIu64 " leaked refs, %" PRIu64
		       " one-off grants, %" PRIu64 " grant waits, %" PRIu64 " event sleeps, %"
		       PRIu64 " timer sleeps\n",
		       st.requests, st.indirect, st.reconnects, st.reissued, st.leaked_refs,
		       st.pgrant_oneoff, st.grant_waits, st.event_sleeps, st.timer_sleeps);
	/* The guest-visible stall: what a backend restart or a slow disk
	 * costs (the longest time one queue went without a completion). */
	printf("stall: longest gap between completions %.1f ms (queue %u, ending %.3f s into "
	       "the run)\n", gap * 1e3, gap_q, gap > 0 ? gap_end - t0 : 0.0);
	if (first[0])
		printf("first error: %s\n", first);
	free(gen);
	free(busy);
	return (tot_err || bad) ? 1 : 0;
}

/* ------------------------------------------------------------ bench */

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int cmd_bench(struct pvio_blkfront *f, int argc, char **argv)
{
	static const struct option o[] = {
		{ "rw", required_argument, NULL, 'w' },
		{ "bs", required_argument, NULL, 'b' },
		{ "qd", required_argument, NULL, 'q' },
		{ "seconds", required_argument, NULL, 's' },
		{ "size-mb", required_argument, NULL, 'z' },
		{ "start-fd", required_argument, NULL, 'S' },
		{ "ready-fd", required_argument, NULL, 'R' },
		{ NULL, 0, NULL, 0 },
	};
	struct pvio_blkfront_info info;
	const char *rw = "randread";
	uint64_t bs = 4096, qd = 1, secs = 5, size_mb = 0, start_fd = UINT64_MAX;
	uint64_t ready_fd = UINT64_MAX;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", o, NULL)) != -1) {
		switch (c) {
		case 'w': rw = optarg; break;
		case 'b': if (parse_u64("--bs", optarg, &bs)) return 2; break;
		case 'q': if (parse_u64("--qd", optarg, &qd) || !qd || qd > 256) return 2; break;
		case 's': if (parse_u64("--seconds", optarg, &secs)) return 2; break;
		case 'z': if (parse_u64("--size-mb", optarg, &size_mb)) return 2; break;
		case 'S': if (parse_u64("--start-fd", optarg, &start_fd) || start_fd > INT32_MAX) return 2; break;
		case 'R': if (parse_u64("--ready-fd", optarg, &ready_fd) || ready_fd > INT32_MAX) return 2; break;
		default: return 2;
		}
	}
	bool rnd_ = !strncmp(rw, "rand", 4);
	bool wr = !strcmp(rw, "randwrite") || !strcmp(rw, "write");
	if (!wr && strcmp(rw, "randread") && strcmp(rw, "read")) {
		fprintf(stderr, "%s: bench: --rw %s (randread, randwrite, read, write)\n", prog, rw);
		return 2;
	}
	pvio_blkfront_get_info(f, &info);
	uint64_t span = size_mb ? size_mb << 20 : info.size_bytes;
	if (span > info.size_bytes)
		span = info.size_bytes;
	uint64_t nblk = span / bs, seq = 0, rng = 12345, ios = 0;
	struct pvio_blkfront_req *reqs = calloc(qd, sizeof(*reqs)), *batch[256], *done[256];
	double *lat = calloc(1 << 22, sizeof(double)), *start = calloc(qd, sizeof(double));
	size_t nlat = 0;
	unsigned inflight = 0;
	int rc = 1;
	if (!reqs || !lat || !start || nblk == 0)
		goto out;
	for (unsigned i = 0; i < qd; i++) {
		reqs[i].buf = pvio_blkfront_buf_alloc(f, bs);
		if (!reqs[i].buf)
			goto out;
		memset(reqs[i].buf, 0x5a, bs);
		reqs[i].op = wr ? PVIO_BLKFRONT_WRITE : PVIO_BLKFRONT_READ;
		reqs[i].len = bs;
		reqs[i].user = (void *)(uintptr_t)i;
	}
	ready_then_start(ready_fd, start_fd);
	struct timespec c0, c1;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
	double t0 = now_s(), end = t0 + (double)secs;
	unsigned nfree = (unsigned)qd, freeidx[256];
	for (unsigned i = 0; i < qd; i++)
		freeidx[i] = i;
	for (;;) {
		double t = now_s();
		bool more = t < end;
		unsigned nb = 0;
		while (more && nfree) {
			unsigned i = freeidx[--nfree];
			uint64_t blk;
			if (rnd_) {
				rng = mix(rng + 1);
				blk = rng % nblk;
			} else {
				blk = seq++ % nblk;
			}
			reqs[i].offset = blk * bs;
			start[i] = t;
			batch[nb++] = &reqs[i];
		}
		for (unsigned k = 0; k < nb;) {
			int r = pvio_blkfront_submit(f, 0, &batch[k], nb - k);
			if (r < 0) {
				fprintf(stderr, "%s: bench: submit: %s\n", prog, strerror(-r));
				goto out;
			}
			k += (unsigned)r;
			inflight += (unsigned)r;
			if (k < nb)
				break;
		}
		if (!more && !inflight)
			break;
		int d = pvio_blkfront_reap(f, 0, done, 256, 1000);
		double t2 = now_s();
		for (int j = 0; j < d; j++) {
			unsigned i = (unsigned)(uintptr_t)done[j]->user;
			if (done[j]->result < 0) {
				fprintf(stderr, "%s: bench: I/O error: %s\n", prog,
					strerror(-done[j]->result));
				goto out;
			}
			if (nlat < (1u << 22))
				lat[nlat++] = (t2 - start[i]) * 1e6;
			freeidx[nfree++] = i;
			inflight--;
			ios++;
		}
	}
	double t1 = now_s();
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
	qsort(lat, nlat, sizeof(double), cmpd);
	double cpu = (double)(c1.tv_sec - c0.tv_sec) + (c1.tv_nsec - c0.tv_nsec) / 1e9;
	printf("{\"ios\": %" PRIu64 ", \"seconds\": %.4f, \"iops\": %.1f, \"mibps\": %.2f, "
	       "\"p50_us\": %.2f, \"p99_us\": %.2f, \"cpu_s\": %.4f}\n",
	       ios, t1 - t0, ios / (t1 - t0), ios * (double)bs / (t1 - t0) / 1048576.0,
	       nlat ? lat[nlat / 2] : 0, nlat ? lat[(size_t)(nlat * 0.99)] : 0, cpu);
	rc = 0;
out:
	for (unsigned i = 0; reqs && i < qd; i++)
		if (reqs[i].buf)
			pvio_blkfront_buf_free(f, reqs[i].buf, bs);
	free(reqs);
	free(lat);
	free(start);
	return rc;
}

/* ------------------------------------------------------------ main */

static int read_all_stdin(uint8_t **out, size_t *len)
{
	size_t cap = 1 << 16, n = 0;
	uint8_t *b = malloc(cap);

	if (!b)
		return -ENOMEM;
	for (;;) {
		ssize_t r;
		if (n == cap) {
			uint8_t *nb = realloc(b, cap *= 2);
			if (!nb) {
				free(b);
				return -ENOMEM;
			}
			b = nb;
		}
		r = read(0, b + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(b);
			return -errno;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*out = b;
	*len = n;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option o[] = {
		{ "queues", required_argument, NULL, 'q' },
		{ "ring-order", required_argument, NULL, 'o' },
		{ "no-persistent", no_argument, NULL, 'P' },
		{ "no-indirect", no_argument, NULL, 'I' },
		{ "protocol", required_argument, NULL, 'p' },
		{ "no-large-sectors", no_argument, NULL, 'L' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "poll-us", required_argument, NULL, 'U' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct pvio_blkfront_opts fo;
	struct pvio_blkfront *f;
	struct pvio_hv *hv;
	uint32_t devid;
	uint64_t v;
	int c, r, rc = 1;

	pvio_blkfront_opts_default(&fo);
	while ((c = getopt_long(argc, argv, "+h", o, NULL)) != -1) {
		switch (c) {
		case 'q': if (parse_u64("--queues", optarg, &v) || v > 16) return 2;
			fo.max_queues = (unsigned)v; break;
		case 'o': if (parse_u64("--ring-order", optarg, &v) || v > 4) return 2;
			fo.max_ring_order = (unsigned)v; break;
		case 'P': fo.no_persistent = true; break;
		case 'I': fo.no_indirect = true; break;
		case 'p':
			if (strcmp(optarg, "x86_64-abi") && strcmp(optarg, "x86_32-abi")) {
				fprintf(stderr, "%s: --protocol: x86_64-abi or x86_32-abi\n", prog);
				return 2;
			}
			fo.protocol = optarg;
			break;
		case 'L': fo.no_large_sectors = true; break;
		case 't': if (parse_u64("--timeout-ms", optarg, &v) || v > 3600000) return 2;
			fo.timeout_ms = (unsigned)v; break;
		case 'U': if (parse_u64("--poll-us", optarg, &v) || v > 1000000) return 2;
			fo.poll_us = (unsigned)v; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (argc - optind < 2) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[optind], *vdev = argv[optind + 1];
	int nargs = argc - optind - 2;
	char **args = argv + optind + 2;
	if (strcmp(cmd, "info") && strcmp(cmd, "write") && strcmp(cmd, "read") &&
	    strcmp(cmd, "flush") && strcmp(cmd, "discard") && strcmp(cmd, "verify") &&
	    strcmp(cmd, "bench")) {
		fprintf(stderr, "%s: unknown command '%s'\n", prog, cmd);
		usage(stderr);
		return 2;
	}
	if (pvio_vdev_to_devid(vdev, &devid) < 0) {
		fprintf(stderr, "%s: '%s' is not a disk name (xvda) or number\n", prog, vdev);
		return 2;
	}
	r = pvio_hv_open_env(&hv);
	if (r < 0) {
		fprintf(stderr, "%s: no hypervisor connection (%s): run me as a guest with "
			"'pvio run --domain NAME -- %s ...'\n", prog, strerror(-r), prog);
		return 1;
	}
	r = pvio_blkfront_open(hv, devid, &fo, &f);
	if (r < 0) {
		fprintf(stderr, "%s: cannot open %s: %s\n", prog, vdev, strerror(-r));
		pvio_hv_close(hv);
		return 1;
	}
	struct pvio_blkfront_info info;
	pvio_blkfront_get_info(f, &info);
	if (!strcmp(cmd, "info")) {
		printf("size %" PRIu64 " bytes\nsector-size %u\nsectors %" PRIu64 "\n"
		       "readonly %d\nqueues %u\nring-order %u\nmax-segments %u\n"
		       "persistent %d\nflush %d\nbarrier %d\ndiscard %d\n"
		       "discard-granularity %u\nprotocol %s\n",
		       info.size_bytes, info.sector_size, info.sectors, info.readonly,
		       info.nr_queues, info.ring_order, info.max_segs, info.persistent,
		       info.flush, info.barrier, info.discard, info.discard_granularity,
		       info.protocol);
		rc = 0;
	} else if (!strcmp(cmd, "write") || !strcmp(cmd, "read") || !strcmp(cmd, "discard")) {
		uint64_t off, len = 0;
		int need = strcmp(cmd, "write") ? 2 : 1;
		if (nargs != need || parse_u64("OFFSET", args[0], &off) ||
		    (need == 2 && parse_u64("LENGTH", args[1], &len))) {
			fprintf(stderr, "%s: %s: bad arguments\n", prog, cmd);
			rc = 2;
			goto out;
		}
		if (!strcmp(cmd, "discard")) {
			r = pvio_blkfront_discard(f, off, len);
		} else if (!strcmp(cmd, "read")) {
			uint8_t *buf = malloc(len ? len : 1);
			r = buf ? pvio_blkfront_read(f, off, buf, len) : -ENOMEM;
			if (r == 0 && fwrite(buf, 1, len, stdout) != len)
				r = -EIO;
			free(buf);
		} else {
			uint8_t *data = NULL, *buf;
			size_t n = 0, padded;
			r = read_all_stdin(&data, &n);
			if (r == 0) {
				padded = (n + info.sector_size - 1) / info.sector_size * info.sector_size;
				buf = calloc(1, padded ? padded : 1);
				if (!buf)
					r = -ENOMEM;
				else {
					memcpy(buf, data, n);
					r = padded ? pvio_blkfront_write(f, off, buf, padded) : 0;
					free(buf);
				}
				free(data);
			}
		}
		if (r < 0)
			fprintf(stderr, "%s: %s: %s\n", prog, cmd, strerror(-r));
		rc = r < 0 ? 1 : 0;
	} else if (!strcmp(cmd, "flush")) {
		r = pvio_blkfront_flush(f);
		if (r < 0)
			fprintf(stderr, "%s: flush: %s\n", prog, strerror(-r));
		rc = r < 0 ? 1 : 0;
	} else if (!strcmp(cmd, "verify")) {
		rc = cmd_verify(f, nargs + 1, args - 1);
	} else {
		rc = cmd_bench(f, nargs + 1, args - 1);
	}
out:
	pvio_blkfront_close(f);
	pvio_hv_close(hv);
	return rc;
}
