/* SPDX-License-Identifier: MIT */
/*
 * The ring engine against a hostile peer.
 *
 *  (a) a producer index that jumps more than a ring ahead: -EPROTO, and the
 *      ring stays broken (pending and final check) until attached again;
 *  (b) a producer index that moves backwards past the consumer: -EPROTO;
 *  (c) indices wrapping around 2^32 legitimately keep working;
 *  (d) slots rewritten while the consumer copies them: a writer thread keeps
 *      flipping every slot between a valid and an invalid message; the
 *      consumer validates its private copy and then uses that copy, which
 *      is always consistent with what was validated (the unsafe double
 *      fetch from the slot itself is counted, to show the race is real);
 *  (e) the ring sits between PROT_NONE guard pages and a million rounds of
 *      random hostile indices and header scribbles never make the engine
 *      read or write outside it (run under ASan too).
 * Each for the backend (hostile req_prod) and the frontend (hostile rsp_prod).
 */
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "tests/ring/ring_test.h"

static uint64_t g_broken_back, g_broken_front;

/* ------------------------------------------------------------- helpers */

struct fresh {
	void *mem;
	size_t bytes;
	struct pvio_sring *s;
	struct pvio_ring_front f;
	struct pvio_ring_back b;
};

static void fresh_init(struct fresh *r, unsigned int order, uint32_t start)
{
	r->bytes = (size_t)PVIO_PAGE_SIZE << order;
	r->mem = tr_ring_alloc(order);
	r->s = r->mem;
	pvio_sring_init(r->s);
	r->s->req_prod = r->s->rsp_prod = start;
	r->s->req_event = r->s->rsp_event = start + 1;
	CHECK_EQ(tr_front_attach(&r->f, r->mem, r->bytes), 0);
	CHECK_EQ(tr_back_attach(&r->b, r->mem, r->bytes), 0);
}

/* Honest round: n requests pushed, consumed, answered, consumed. */
static void honest(struct fresh *r, uint32_t n, uint64_t *seq)
{
	struct tr_req q;
	struct tr_rsp s;

	for (uint32_t i = 0; i < n; i++)
		tr_req_make(tr_req_slot(&r->f, i), 7, *seq + i);
	pvio_ring_produce_requests(&r->f, n);
	pvio_ring_push_requests(&r->f);
	CHECK_EQ(pvio_ring_back_pending(&r->b), n);
	for (uint32_t i = 0; i < n; i++) {
		tr_copy_request(&r->b, &q);
		CHECK(!tr_req_check(&q, 7, *seq + i), "request %" PRIu64, *seq + i);
		tr_rsp_make(&s, &q);
		tr_put_response(&r->b, &s);
	}
	pvio_ring_push_responses(&r->b);
	CHECK_EQ(pvio_ring_front_pending(&r->f), n);
	for (uint32_t i = 0; i < n; i++) {
		tr_copy_response(&r->f, &s);
		CHECK(!tr_rsp_check(&s, 7, *seq + i), "response %" PRIu64, *seq + i);
	}
	*seq += n;
}

/* --------------------------------------------------------- (a) (b) (c) */

static void test_overflow_and_backwards(void)
{
	static const uint32_t starts[] = { 0, 0x7fffffffu, 0xffffffe0u, 0xfffffe00u };

	for (unsigned int order = 0; order <= PVIO_RING_MAX_ORDER; order++) {
		for (size_t si = 0; si < sizeof(starts) / sizeof(starts[0]); si++) {
			struct fresh r;
			uint32_t n = 32u << order, ev;
			uint64_t seq = 0;
			struct tr_req q;
			struct tr_rsp s;

			/* (a) Backend: answered up to A = start+4, consumed up to
			 * start+10: req_prod may reach A + n, not A + n + 1. */
			fresh_init(&r, order, starts[si]);
			honest(&r, 3, &seq);
			r.s->req_prod = r.b.rsp_prod_pvt + 10;
			for (int i = 0; i < 10; i++)
				tr_copy_request(&r.b, &q);
			for (int i = 0; i < 4; i++) {
				memset(&s, 0, sizeof(s));
				tr_put_response(&r.b, &s);
			}
			pvio_ring_push_responses(&r.b);
			r.s->req_prod = r.b.rsp_prod_pvt + n;
			CHECK_EQ(pvio_ring_back_pending(&r.b), n - 6);
			r.s->req_prod = r.b.rsp_prod_pvt + n + 1;
			CHECK_EQ(pvio_ring_back_pending(&r.b), -EPROTO);
			CHECK(r.b.broken, "not broken");
			/* Stays broken, whatever req_prod says now. */
			r.s->req_prod = r.b.req_cons;
			CHECK_EQ(pvio_ring_back_pending(&r.b), -EPROTO);
			ev = r.s->req_event;
			CHECK_EQ(pvio_ring_back_final_check(&r.b), -EPROTO);
			CHECK_EQ(r.s->req_event, ev);
			r.s->req_prod = r.b.req_cons + 1;
			CHECK_EQ(pvio_ring_back_pending(&r.b), -EPROTO);
			/* Far jumps too. */
			CHECK_EQ(tr_back_attach(&r.b, r.mem, r.bytes), 0);
			r.s->req_prod = r.b.rsp_prod_pvt + 0x80000000u;
			CHECK_EQ(pvio_ring_back_final_check(&r.b), -EPROTO);
			free(r.mem);

			/* (b) Backend: req_prod moving backwards. */
			fresh_init(&r, order, starts[si]);
			honest(&r, 5, &seq);
			for (uint32_t i = 0; i < 6; i++)
				tr_req_make(tr_req_slot(&r.f, i), 7, seq + i);
			pvio_ring_produce_requests(&r.f, 6);
			pvio_ring_push_requests(&r.f);
			for (int i = 0; i < 4; i++)
				tr_copy_request(&r.b, &q);
			/* Back, but not behind what was consumed: only fewer
			 * requests pending, which is harmless (and would be
			 * indistinguishable from a slow producer without a
			 * record of the last index seen). */
			r.s->req_prod = r.b.req_cons + 1;
			CHECK_EQ(pvio_ring_back_pending(&r.b), 1);
			r.s->req_prod = r.b.req_cons;
			CHECK_EQ(pvio_ring_back_pending(&r.b), 0);
			/* Behind the consumer: a protocol violation. */
			r.s->req_prod = r.b.req_cons - 1;
			CHECK_EQ(pvio_ring_back_pending(&r.b), -EPROTO);
			r.s->req_prod = r.b.req_cons + 2;
			CHECK_EQ(pvio_ring_back_pending(&r.b), -EPROTO);
			free(r.mem);

			/* (a)(b) Frontend: rsp_prod beyond the requests
			 * outstanding, or behind the responses consumed. */
			fresh_init(&r, order, starts[si]);
			honest(&r, 7, &seq);
			for (uint32_t i = 0; i < n; i++)
				tr_req_make(tr_req_slot(&r.f, i), 7, seq + i);
			pvio_ring_produce_requests(&r.f, n);
			pvio_ring_push_requests(&r.f);
			r.s->rsp_prod = r.f.rsp_cons + n;          /* all answered */
			CHECK_EQ(pvio_ring_front_pending(&r.f), n);
			for (int i = 0; i < 3; i++)
				tr_copy_response(&r.f, &s);
			r.s->rsp_prod = r.f.rsp_cons + n - 3 + 1;  /* one too many */
			CHECK_EQ(pvio_ring_front_pending(&r.f), -EPROTO);
			r.s->rsp_prod = r.f.rsp_cons;
			CHECK_EQ(pvio_ring_front_pending(&r.f), -EPROTO);
			ev = r.s->rsp_event;
			CHECK_EQ(pvio_ring_front_final_check(&r.f), -EPROTO);
			CHECK_EQ(r.s->rsp_event, ev);
			CHECK_EQ(tr_front_attach(&r.f, r.mem, r.bytes), 0);
			r.s->rsp_prod = r.f.rsp_cons - 1;          /* backwards */
			CHECK_EQ(pvio_ring_front_pending(&r.f), -EPROTO);
			free(r.mem);
		}
	}
	printf("(a)(b) overflowing and backward indices: -EPROTO, stays broken\n");
}

/* (c) Legitimate wrap-around, every order, random batches. */
static void test_wrap(void)
{
	struct tr_rng rng = { 3 };
	uint64_t total = 0;

	for (unsigned int order = 0; order <= PVIO_RING_MAX_ORDER; order++) {
		uint32_t n = 32u << order;
		struct fresh r;
		uint64_t seq = 0;

		/* A full ring straddling 2^32 as the first batch. */
		fresh_init(&r, order, 0u - n / 2);
		honest(&r, n, &seq);
		while (seq < 20 * n)
			honest(&r, 1 + tr_below(&rng, n), &seq);
		CHECK((uint32_t)(r.s->req_prod) < 0x80000000u, "did not wrap");
		CHECK(!r.f.broken && !r.b.broken, "broken by a legitimate wrap");
		total += seq;
		free(r.mem);
	}
	printf("(c) %" PRIu64 " messages across 2^32 on orders 0..4: fine\n", total);
}

/* ------------------------------------------------------------------ (d) */

#define D_ITERS 1000000

struct flipper {
	void *ring;
	uint32_t nr_ents;
	bool responses;             /* flip response slots (else requests) */
	int stop;
	uint64_t flips;
};

static struct tr_req d_good_req, d_bad_req;
static struct tr_rsp d_good_rsp, d_bad_rsp;

static void *flipper_thread(void *arg)
{
	struct flipper *fl = arg;

	/* Sweep the ring writing the valid message into every slot, then sweep
	 * it writing the invalid one: each slot spends about half its time in
	 * each state, and is torn while being rewritten. */
	while (!pvio_load_relaxed(&fl->stop)) {
		bool good = !(fl->flips & 1);

		for (uint32_t i = 0; i < fl->nr_ents; i++) {
			uint8_t *slot = (uint8_t *)fl->ring + 64 + (size_t)i * sizeof(union tr_slot);

			if (fl->responses)
				memcpy(slot, good ? &d_good_rsp : &d_bad_rsp, sizeof(d_good_rsp));
			else
				memcpy(slot, good ? &d_good_req : &d_bad_req, sizeof(d_good_req));
			/* Compiler barrier: every sweep's stores are really made. */
			__atomic_signal_fence(__ATOMIC_SEQ_CST);
		}
		pvio_store_relaxed(&fl->flips, fl->flips + 1);
	}
	return NULL;
}

/* Spin until the flipper has swept the ring once (a start handshake). */
static void flipper_wait(struct flipper *fl)
{
	while (pvio_load_relaxed(&fl->flips) == 0)
		pvio_cpu_relax();
}

/* A blkback-like request handler: validate the private copy, then use it.
 * `out` is exactly TR_PAYLOAD bytes: a length taken from anywhere but the
 * validated copy could overflow it (ASan would see that). */
static bool handle_request(const struct tr_req *q, uint8_t *out)
{
	uint32_t c;

	if (q->len > TR_PAYLOAD || tr_csum(q) != q->csum)
		return false;
	memcpy(out, q->payload, q->len);
	/* Use it again, later: still the validated bytes. */
	c = tr_csum(q);
	CHECK(c == q->csum, "private copy changed after validation");
	CHECK(q->len == d_good_req.len && q->seq == d_good_req.seq &&
	      !memcmp(out, d_good_req.payload, q->len),
	      "a copy that validated is not the valid message (len %u seq %#" PRIx64 ")",
	      q->len, q->seq);
	return true;
}

static void test_flipping_requests(void)
{
	struct fresh r;
	struct flipper fl = { 0 };
	pthread_t thr;
	uint64_t ok = 0, bad = 0, toctou = 0;
	uint8_t *out = malloc(TR_PAYLOAD);

	CHECK(out, "malloc");
	tr_req_make(&d_good_req, 11, 1234);
	d_good_req.len = 8;
	memset(d_good_req.payload + 8, 0, TR_PAYLOAD - 8);
	d_good_req.csum = tr_csum(&d_good_req);
	memset(&d_bad_req, 0x55, sizeof(d_bad_req));
	d_bad_req.len = 0x7fff;
	d_bad_req.seq = 0xbadbadbadull;

	fresh_init(&r, 0, 0xfffff000u);
	fl.ring = r.mem;
	fl.nr_ents = r.b.nr_ents;
	CHECK(pthread_create(&thr, NULL, flipper_thread, &fl) == 0, "pthread_create");
	flipper_wait(&fl);
	for (uint64_t done = 0; done < D_ITERS; ) {
		int m;

		/* The hostile frontend offers a whole ring of (flipping) slots. */
		r.s->req_prod = r.b.rsp_prod_pvt + r.b.nr_ents;
		m = pvio_ring_back_pending(&r.b);
		CHECK(m > 0, "pending %d", m);
		for (int i = 0; i < m; i++) {
			const volatile struct tr_req *slot = pvio_ring_req_slot_peek(&r.b);
			struct tr_req q;
			struct tr_rsp s;
			uint16_t l1, l2;

			/* What a double fetch from the slot would have seen. */
			l1 = slot->len;
			l2 = slot->len;
			if (l1 <= TR_PAYLOAD && l2 > TR_PAYLOAD)
				toctou++;
			if (i & 1)
				tr_copy_request(&r.b, &q);
			else
				pvio_ring_copy_request(&r.b, &q, sizeof(q));
			if (handle_request(&q, out))
				ok++;
			else
				bad++;
			memset(&s, 0, sizeof(s));
			tr_put_response(&r.b, &s);
		}
		pvio_ring_push_responses(&r.b);
		done += (uint64_t)m;
	}
	pvio_store_relaxed(&fl.stop, 1);
	pthread_join(thr, NULL);
	printf("(d) backend: %" PRIu64 " copies validated and used consistently, %" PRIu64
	       " rejected (torn or invalid); %" PRIu64 " writer sweeps; a double fetch of len"
	       " would have passed then overflowed %" PRIu64 " times\n",
	       ok, bad, fl.flips, toctou);
	free(r.mem);
	free(out);
}

/* A blkfront-like completion: the response's seq indexes the shadow array
 * only after validation of the private copy. */
static bool handle_response(const struct tr_rsp *s, uint64_t *shadow, uint32_t nshadow)
{
	if (s->seq >= nshadow || s->csum != ((uint32_t)s->seq ^ TR_RSP_MAGIC) ||
	    (s->status != 0 && s->status != -1))
		return false;
	shadow[s->seq]++;
	CHECK(s->seq == d_good_rsp.seq && s->status == d_good_rsp.status,
	      "a copy that validated is not the valid response");
	return true;
}

static void test_flipping_responses(void)
{
	struct fresh r;
	struct flipper fl = { 0 };
	pthread_t thr;
	uint64_t ok = 0, bad = 0;
	uint32_t nshadow = 64;
	uint64_t *shadow = calloc(nshadow, sizeof(*shadow));

	CHECK(shadow, "calloc");
	memset(&d_good_rsp, 0, sizeof(d_good_rsp));
	d_good_rsp.seq = 17;
	d_good_rsp.csum = 17 ^ TR_RSP_MAGIC;
	memset(&d_bad_rsp, 0, sizeof(d_bad_rsp));
	d_bad_rsp.seq = 1ull << 40;
	d_bad_rsp.csum = 0xdeadbeef;
	d_bad_rsp.status = 99;

	fresh_init(&r, 0, 0x7ffffff0u);
	fl.ring = r.mem;
	fl.nr_ents = r.f.nr_ents;
	fl.responses = true;
	CHECK(pthread_create(&thr, NULL, flipper_thread, &fl) == 0, "pthread_create");
	flipper_wait(&fl);
	for (uint64_t done = 0; done < D_ITERS; ) {
		uint32_t room = pvio_ring_free_requests(&r.f);
		int m;

		/* Requests are written into slots the flipper also scribbles. */
		pvio_ring_produce_requests(&r.f, room);
		pvio_ring_push_requests(&r.f);
		/* The hostile backend "answers" all of them. */
		r.s->rsp_prod = r.f.req_prod_pvt;
		m = pvio_ring_front_pending(&r.f);
		CHECK(m == (int)r.f.nr_ents, "pending %d", m);
		for (int i = 0; i < m; i++) {
			struct tr_rsp s;

			if (i & 1)
				tr_copy_response(&r.f, &s);
			else
				pvio_ring_copy_response(&r.f, &s, sizeof(s));
			if (handle_response(&s, shadow, nshadow))
				ok++;
			else
				bad++;
		}
		done += (uint64_t)m;
	}
	pvio_store_relaxed(&fl.stop, 1);
	pthread_join(thr, NULL);
	CHECK_EQ(shadow[17], ok);
	printf("(d) frontend: %" PRIu64 " responses validated and used consistently, %" PRIu64
	       " rejected\n", ok, bad);
	free(r.mem);
	free(shadow);
}

/* ------------------------------------------------------------------ (e) */

struct guarded {
	uint8_t *map;
	size_t maplen;
	void *ring;
	size_t bytes;
};

static void guarded_init(struct guarded *g, unsigned int order)
{
	g->bytes = (size_t)PVIO_PAGE_SIZE << order;
	g->maplen = g->bytes + 2 * PVIO_PAGE_SIZE;
	g->map = mmap(NULL, g->maplen, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(g->map != MAP_FAILED, "mmap: %m");
	g->ring = g->map + PVIO_PAGE_SIZE;
	CHECK(mprotect(g->ring, g->bytes, PROT_READ | PROT_WRITE) == 0, "mprotect: %m");
}

static void guarded_fini(struct guarded *g)
{
	munmap(g->map, g->maplen);
}

/* The guard pages really fault: a child touching one byte past the ring
 * must die (by SIGSEGV, or by ASan's report of it). */
static void check_guards_fault(void)
{
	for (int side = 0; side < 2; side++) {
		struct guarded g;
		int status;
		pid_t pid;

		guarded_init(&g, 0);
		fflush(stdout);
		pid = fork();
		CHECK(pid >= 0, "fork: %m");
		if (pid == 0) {
			volatile uint8_t *p = side ? (uint8_t *)g.ring + g.bytes
						   : (uint8_t *)g.ring - 1;
			signal(SIGSEGV, SIG_DFL);
			(void)*p;
			_exit(42);
		}
		CHECK(waitpid(pid, &status, 0) == pid, "waitpid: %m");
		CHECK(!(WIFEXITED(status) && WEXITSTATUS(status) == 42),
		      "the %s guard page did not fault", side ? "trailing" : "leading");
		guarded_fini(&g);
	}
}

/* A hostile index: anything, near the consumer, near the ring's edge, or
 * near 2^32. */
static uint32_t hostile_index(struct tr_rng *rng, uint32_t base, uint32_t n)
{
	switch (tr_below(rng, 6)) {
	case 0:  return (uint32_t)tr_rand(rng);
	case 1:  return base + tr_below(rng, n + 3);
	case 2:  return base - 1 - tr_below(rng, 4);
	case 3:  return base + n + tr_below(rng, 3);
	case 4:  return 0u - tr_below(rng, 2 * n);
	default: return base + (uint32_t)(tr_rand(rng) >> 34);
	}
}

/* The backend of a ring of `slot`-byte slots, against a frontend that
 * writes random indices and scribbles the whole header. */
static uint64_t fuzz_back(unsigned int order, size_t slot, uint64_t iters, uint64_t seed)
{
	struct tr_rng rng = { seed };
	struct guarded g;
	struct pvio_ring_back b;
	struct pvio_sring *s;
	uint8_t *buf = malloc(slot);
	uint64_t copied = 0;

	CHECK(buf, "malloc");
	guarded_init(&g, order);
	s = g.ring;
	pvio_sring_init(s);
	s->req_prod = s->rsp_prod = (uint32_t)tr_rand(&rng);
	CHECK_EQ(pvio_ring_back_attach(&b, g.ring, g.bytes, slot), 0);
	for (uint64_t it = 0; it < iters; it++) {
		uint32_t n = b.nr_ents, k, room;
		int m;

		switch (tr_below(&rng, 8)) {
		case 0:
			s->rsp_prod = (uint32_t)tr_rand(&rng);
			s->req_event = (uint32_t)tr_rand(&rng);
			s->rsp_event = (uint32_t)tr_rand(&rng);
			break;
		case 1:
			s->req_prod = hostile_index(&rng, b.req_cons, n);
			break;
		default:                    /* mostly plausible */
			s->req_prod = b.rsp_prod_pvt + tr_below(&rng, n + 1);
			break;
		}
		m = tr_below(&rng, 4) ? pvio_ring_back_pending(&b)
				      : pvio_ring_back_final_check(&b);
		if (m < 0) {
			CHECK_EQ(m, -EPROTO);
			CHECK(b.broken, "-EPROTO but not broken");
			CHECK_EQ(pvio_ring_back_pending(&b), -EPROTO);
			CHECK_EQ(pvio_ring_back_final_check(&b), -EPROTO);
			g_broken_back++;
			CHECK_EQ(pvio_ring_back_attach(&b, g.ring, g.bytes, slot), 0);
			continue;
		}
		CHECK((uint32_t)m <= n, "pending %d > %u", m, n);
		k = tr_below(&rng, (uint32_t)m + 1);
		for (uint32_t i = 0; i < k; i++)
			pvio_ring_copy_request(&b, buf, slot);
		copied += k;
		room = pvio_ring_back_rsp_room(&b);
		CHECK(room <= n, "response room %u > %u", room, n);
		k = tr_below(&rng, room + 1);
		for (uint32_t i = 0; i < k; i++) {
			memset(buf, (int)i, slot);
			pvio_ring_put_response(&b, buf, slot);
		}
		if (tr_below(&rng, 2))
			pvio_ring_push_responses(&b);
	}
	guarded_fini(&g);
	free(buf);
	return copied;
}

/* The frontend, against a backend that writes random rsp_prod values and
 * scribbles the header. */
static uint64_t fuzz_front(unsigned int order, size_t slot, uint64_t iters, uint64_t seed)
{
	struct tr_rng rng = { seed };
	struct guarded g;
	struct pvio_ring_front f;
	struct pvio_sring *s;
	uint8_t *buf = malloc(slot);
	uint64_t copied = 0;

	CHECK(buf, "malloc");
	guarded_init(&g, order);
	s = g.ring;
	pvio_sring_init(s);
	s->req_prod = s->rsp_prod = (uint32_t)tr_rand(&rng);
	CHECK_EQ(pvio_ring_front_attach(&f, g.ring, g.bytes, slot), 0);
	for (uint64_t it = 0; it < iters; it++) {
		uint32_t n = f.nr_ents, k, room, out;
		int m;

		room = pvio_ring_free_requests(&f);
		CHECK(room <= n, "free %u > %u", room, n);
		k = tr_below(&rng, room + 1);
		for (uint32_t i = 0; i < k; i++)
			memset(pvio_ring_req_slot(&f, i), (int)i, slot);
		pvio_ring_produce_requests(&f, k);
		if (tr_below(&rng, 4))
			pvio_ring_push_requests(&f);
		out = f.req_prod_pvt - f.rsp_cons;
		switch (tr_below(&rng, 8)) {
		case 0:
			s->req_prod = (uint32_t)tr_rand(&rng);
			s->req_event = (uint32_t)tr_rand(&rng);
			s->rsp_event = (uint32_t)tr_rand(&rng);
			break;
		case 1:
			s->rsp_prod = hostile_index(&rng, f.rsp_cons, n);
			break;
		default:
			s->rsp_prod = f.rsp_cons + tr_below(&rng, out + 1);
			break;
		}
		m = tr_below(&rng, 4) ? pvio_ring_front_pending(&f)
				      : pvio_ring_front_final_check(&f);
		if (m < 0) {
			CHECK_EQ(m, -EPROTO);
			CHECK(f.broken, "-EPROTO but not broken");
			CHECK_EQ(pvio_ring_front_pending(&f), -EPROTO);
			CHECK_EQ(pvio_ring_front_final_check(&f), -EPROTO);
			g_broken_front++;
			CHECK_EQ(pvio_ring_front_attach(&f, g.ring, g.bytes, slot), 0);
			continue;
		}
		CHECK((uint32_t)m <= out && out <= n, "pending %d, outstanding %u, ring %u", m, out, n);
		k = tr_below(&rng, (uint32_t)m + 1);
		for (uint32_t i = 0; i < k; i++)
			pvio_ring_copy_response(&f, buf, slot);
		copied += k;
	}
	guarded_fini(&g);
	free(buf);
	return copied;
}

static void test_guarded(void)
{
	/* slot sizes: 126 fills a page exactly (64 + 32 * 126), 4032 is one
	 * slot per page, 8 is netif rx, 112 blkif. */
	static const struct { unsigned int order; size_t slot; } cfg[] = {
		{ 0, 126 }, { 0, 4032 }, { 0, 8 }, { 1, 8 }, { 0, 112 }, { 1, 112 },
		{ 2, 112 }, { 3, 112 }, { 4, 112 }, { 4, 126 }, { 2, 4032 },
	};
	const size_t ncfg = sizeof(cfg) / sizeof(cfg[0]);
	uint64_t iters = tr_env_u64("PVIO_HOSTILE_ITERS", 1000000);
	uint64_t cb = 0, cf = 0;

	check_guards_fault();
	for (size_t i = 0; i < ncfg; i++) {
		uint64_t share = iters / ncfg + (i < iters % ncfg);

		cb += fuzz_back(cfg[i].order, cfg[i].slot, share, 100 + i);
		cf += fuzz_front(cfg[i].order, cfg[i].slot, share, 200 + i);
	}
	printf("(e) %" PRIu64 " hostile rounds per side between guard pages: backend copied %"
	       PRIu64 " requests and broke %" PRIu64 " times, frontend copied %" PRIu64
	       " responses and broke %" PRIu64 " times; nothing outside the ring\n",
	       iters, cb, g_broken_back, cf, g_broken_front);
	CHECK(g_broken_back > 1000 && g_broken_front > 1000, "the fuzzing never broke a ring");
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_overflow_and_backwards();
	test_wrap();
	test_flipping_requests();
	test_flipping_responses();
	test_guarded();
	printf("ring engine survives a hostile peer\n");
	return 0;
}
