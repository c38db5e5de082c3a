/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the ring engine (ring/ring.h): ring sizes, the notify
 * decision (req_event / rsp_event in (old, new]), the final-check sequences
 * with hand-computed expectations, u32 index wrap-around, a full ring and
 * the frontend's validation of the backend's rsp_prod.
 *
 * Checks do not stop at the first failure: every failed expectation is
 * printed and the program exits 1 at the end.
 */
#include "tests/ring/ring_test.h"

/* Exported by ring/ring.c (not declared in ring/ring.h). */
long pvio_ring_bytes_for_order(unsigned int order);

static int failures;

#define EXPECT_EQ(a, b) do {                                                  \
	long long a_ = (long long)(a), b_ = (long long)(b);                   \
	if (a_ != b_ && failures++ < 50) {                                    \
		printf("%s:%d: EXPECT_EQ(%s, %s): %lld != %lld [%s]\n",       \
		       __FILE__, __LINE__, #a, #b, a_, b_, ctx);               \
	}                                                                     \
} while (0)

static const char *ctx = "";

/* A shared ring of 2^order pages with both ends attached, all indices at
 * `start` (the sring fields are set before attaching, as a ring that has
 * been running for a long time would look). */
struct pair {
	void *mem;
	size_t bytes;
	struct pvio_sring *s;
	struct pvio_ring_front f;
	struct pvio_ring_back b;
	uint64_t fe_seq, be_seq, rsp_seq;
};

static void pair_init(struct pair *p, unsigned int order, uint32_t start)
{
	memset(p, 0, sizeof(*p));
	p->bytes = (size_t)PVIO_PAGE_SIZE << order;
	p->mem = tr_ring_alloc(order);
	p->s = p->mem;
	pvio_sring_init(p->s);
	p->s->req_prod = p->s->rsp_prod = start;
	p->s->req_event = p->s->rsp_event = start + 1;
	CHECK_EQ(tr_front_attach(&p->f, p->mem, p->bytes), 0);
	CHECK_EQ(tr_back_attach(&p->b, p->mem, p->bytes), 0);
}

static void pair_fini(struct pair *p)
{
	free(p->mem);
}

/* Frontend: fill and produce n requests, then push; returns notify. */
static bool fe_send(struct pair *p, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		tr_req_make(tr_req_slot(&p->f, i), 1, p->fe_seq++);
	pvio_ring_produce_requests(&p->f, n);
	return pvio_ring_push_requests(&p->f);
}

/* Backend: consume n requests (checking them). */
static void be_take(struct pair *p, uint32_t n)
{
	struct tr_req q;

	for (uint32_t i = 0; i < n; i++) {
		tr_copy_request(&p->b, &q);
		EXPECT_EQ(tr_req_check(&q, 1, p->be_seq), 0);
		p->be_seq++;
	}
}

/* Backend: answer the n oldest answered-not-yet requests, then push. */
static bool be_answer(struct pair *p, uint32_t n)
{
	struct tr_req q;
	struct tr_rsp r;

	for (uint32_t i = 0; i < n; i++) {
		tr_req_make(&q, 1, p->rsp_seq + i);
		tr_rsp_make(&r, &q);
		tr_put_response(&p->b, &r);
	}
	p->rsp_seq += n;
	return pvio_ring_push_responses(&p->b);
}

/* Frontend: consume n responses (checking them). */
static uint64_t fe_rsp_seq;
static void fe_take(struct pair *p, uint32_t n)
{
	struct tr_rsp r;

	for (uint32_t i = 0; i < n; i++) {
		tr_copy_response(&p->f, &r);
		EXPECT_EQ(tr_rsp_check(&r, 1, fe_rsp_seq), 0);
		fe_rsp_seq++;
	}
}

static void test_sizes(void)
{
	ctx = "sizes";
	/* Xen's __RING_SIZE: largest power of two of (bytes - 64) / slot. */
	EXPECT_EQ(pvio_ring_nr_ents(4096, 112), 32);   /* blkif (x86_64) */
	EXPECT_EQ(pvio_ring_nr_ents(4096, 108), 32);   /* blkif (x86_32) */
	EXPECT_EQ(pvio_ring_nr_ents(4096, 12), 256);   /* netif tx */
	EXPECT_EQ(pvio_ring_nr_ents(4096, 8), 256);    /* netif rx */
	EXPECT_EQ(pvio_ring_nr_ents(4096, 126), 32);   /* 64 + 32*126 == 4096 */
	EXPECT_EQ(pvio_ring_nr_ents(4096, 127), 16);
	EXPECT_EQ(pvio_ring_nr_ents(4096, 4032), 1);
	EXPECT_EQ(pvio_ring_nr_ents(4096, 4033), 0);
	EXPECT_EQ(pvio_ring_nr_ents(4096, 0), 0);
	EXPECT_EQ(pvio_ring_nr_ents(64, 1), 0);
	EXPECT_EQ(pvio_ring_nr_ents(65, 1), 1);
	EXPECT_EQ(pvio_ring_nr_ents(64 + 3, 1), 2);
	EXPECT_EQ(tr_ring_nr_ents(4096), 32);
	for (unsigned int order = 0; order <= PVIO_RING_MAX_ORDER; order++) {
		long bytes = pvio_ring_bytes_for_order(order);

		EXPECT_EQ(bytes, 4096L << order);
		EXPECT_EQ(pvio_ring_nr_ents((size_t)bytes, 112), 32u << order);
		EXPECT_EQ(tr_ring_nr_ents((size_t)bytes), 32u << order);
		EXPECT_EQ(pvio_ring_nr_ents((size_t)bytes, 12), 256u << order);
		EXPECT_EQ(pvio_ring_nr_ents((size_t)bytes, 8), 256u << order);
	}
	EXPECT_EQ(pvio_ring_bytes_for_order(PVIO_RING_MAX_ORDER + 1), -EINVAL);
}

static void test_attach(void)
{
	struct pvio_ring_front f;
	struct pvio_ring_back b;
	void *mem = tr_ring_alloc(0);
	struct pvio_sring *s = mem;

	ctx = "attach";
	EXPECT_EQ(pvio_ring_front_attach(&f, mem, 64 + 111, 112), -EINVAL);
	EXPECT_EQ(pvio_ring_back_attach(&b, mem, 64 + 111, 112), -EINVAL);
	EXPECT_EQ(pvio_ring_front_attach(&f, mem, 4096, 0), -EINVAL);
	EXPECT_EQ(pvio_ring_back_attach(&b, mem, 4096, 0), -EINVAL);

	/* SHARED_RING_INIT: indices 0, events 1, pvt and pad zeroed. */
	memset(mem, 0xa5, 4096);
	pvio_sring_init(s);
	EXPECT_EQ(s->req_prod, 0);
	EXPECT_EQ(s->rsp_prod, 0);
	EXPECT_EQ(s->req_event, 1);
	EXPECT_EQ(s->rsp_event, 1);
	for (size_t i = 16; i < 64; i++)
		EXPECT_EQ(((uint8_t *)mem)[i], 0);
	EXPECT_EQ(((uint8_t *)mem)[64], 0xa5);   /* the slots are not touched */

	/* Attach resumes where the shared ring stands. */
	s->req_prod = 1000;
	s->rsp_prod = 990;
	EXPECT_EQ(tr_front_attach(&f, mem, 4096), 0);
	EXPECT_EQ(f.req_prod_pvt, 1000);
	EXPECT_EQ(f.rsp_cons, 1000);
	EXPECT_EQ(f.nr_ents, 32);
	EXPECT_EQ(f.slot_size, 112);
	EXPECT_EQ(tr_back_attach(&b, mem, 4096), 0);
	EXPECT_EQ(b.rsp_prod_pvt, 990);
	EXPECT_EQ(b.req_cons, 990);
	EXPECT_EQ(pvio_ring_back_pending(&b), 10);

	/* Slot addresses: offset 64 + (idx mod nr_ents) * slot size. */
	for (uint32_t i = 0; i < 32; i++) {
		uintptr_t want = (uintptr_t)mem + 64 + ((1000 + i) % 32) * 112;

		EXPECT_EQ((uintptr_t)pvio_ring_req_slot(&f, i), want);
		EXPECT_EQ((uintptr_t)tr_req_slot(&f, i), want);
	}
	EXPECT_EQ((uintptr_t)pvio_ring_req_slot_peek(&b), (uintptr_t)mem + 64 + (990 % 32) * 112);
	EXPECT_EQ((uintptr_t)pvio_ring_rsp_slot_at(&b, 3), (uintptr_t)mem + 64 + (993 % 32) * 112);
	EXPECT_EQ((uintptr_t)pvio_ring_rsp_slot(&f), (uintptr_t)mem + 64 + (1000 % 32) * 112);
	free(mem);
}

/* One push with the shared fields set by hand. */
static void req_case(uint32_t old, uint32_t new_, uint32_t ev, bool want)
{
	struct pair p;
	char buf[96];

	pair_init(&p, 0, old);
	p.s->req_event = ev;
	p.f.req_prod_pvt = new_;       /* as if new_ - old had been produced */
	snprintf(buf, sizeof(buf), "req old=%#x new=%#x req_event=%#x", old, new_, ev);
	ctx = buf;
	EXPECT_EQ(pvio_ring_push_requests(&p.f), want);
	EXPECT_EQ(p.s->req_prod, new_);
	EXPECT_EQ(p.s->req_event, ev);  /* the producer never writes req_event */
	pair_fini(&p);
}

static void rsp_case(uint32_t old, uint32_t new_, uint32_t ev, bool want)
{
	struct pair p;
	char buf[96];

	pair_init(&p, 0, old);
	p.s->rsp_event = ev;
	p.b.rsp_prod_pvt = new_;
	snprintf(buf, sizeof(buf), "rsp old=%#x new=%#x rsp_event=%#x", old, new_, ev);
	ctx = buf;
	EXPECT_EQ(pvio_ring_push_responses(&p.b), want);
	EXPECT_EQ(p.s->rsp_prod, new_);
	EXPECT_EQ(p.s->rsp_event, ev);
	pair_fini(&p);
}

static void notify_case(uint32_t old, uint32_t new_, uint32_t ev, bool want)
{
	req_case(old, new_, ev, want);
	rsp_case(old, new_, ev, want);
}

static void test_notify_table(void)
{
	static const uint32_t bases[] = { 0, 1000, 0x7ffffff0, 0xfffffff0, 0xfffffffe };

	for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
		uint32_t B = bases[i];

		notify_case(B, B + 1, B + 1, true);    /* event = new */
		notify_case(B, B + 1, B, false);       /* event = old: not in (old,new] */
		notify_case(B, B + 1, B + 2, false);   /* event just past new */
		notify_case(B, B + 5, B + 1, true);    /* event = old + 1 */
		notify_case(B, B + 5, B + 3, true);
		notify_case(B, B + 5, B + 5, true);
		notify_case(B, B + 5, B + 6, false);
		notify_case(B, B + 5, B - 1, false);   /* stale event behind old */
		notify_case(B, B + 5, B - 100, false);
		notify_case(B, B + 5, B + 0x80000000u, false);
		notify_case(B, B, B, false);           /* nothing new */
		notify_case(B, B, B + 1, false);
		notify_case(B, B, B - 1, false);
		notify_case(B, B + 32, B + 32, true);  /* a whole ring at once */
		notify_case(B, B + 32, B + 1, true);
		notify_case(B, B + 32, B + 33, false);
	}
	/* Across 2^32: old = 0xfffffffe, new = 3. */
	notify_case(0xfffffffe, 3, 0xffffffff, true);
	notify_case(0xfffffffe, 3, 0, true);
	notify_case(0xfffffffe, 3, 3, true);
	notify_case(0xfffffffe, 3, 4, false);
	notify_case(0xfffffffe, 3, 0xfffffffe, false);
	notify_case(0xffffffff, 0, 0, true);
	notify_case(0xffffffff, 0, 1, false);
	notify_case(0xffffffff, 0, 0xffffffff, false);
}

/* Push / final-check sequences on one ring, every answer computed by hand.
 * `B` offsets all indices (0 for a fresh ring). */
static void test_sequence(uint32_t B)
{
	struct pair p;
	char buf[64];

	snprintf(buf, sizeof(buf), "sequence base %#x", B);
	ctx = buf;
	pair_init(&p, 0, B);
	fe_rsp_seq = 0;
	/* Fresh: req_event = B+1. */
	EXPECT_EQ(fe_send(&p, 1), true);          /* (B, B+1] holds B+1 */
	EXPECT_EQ(fe_send(&p, 2), false);         /* (B+1, B+3] does not */
	EXPECT_EQ(pvio_ring_back_final_check(&p.b), 3);
	EXPECT_EQ(p.s->req_event, B + 1);         /* work found: event untouched */
	be_take(&p, 3);
	EXPECT_EQ(pvio_ring_back_pending(&p.b), 0);
	EXPECT_EQ(pvio_ring_back_final_check(&p.b), 0);
	EXPECT_EQ(p.s->req_event, B + 4);         /* req_cons + 1: going to sleep */
	EXPECT_EQ(fe_send(&p, 1), true);          /* (B+3, B+4] holds B+4 */
	EXPECT_EQ(fe_send(&p, 1), false);         /* (B+4, B+5] */
	EXPECT_EQ(pvio_ring_back_final_check(&p.b), 2);
	be_take(&p, 2);
	EXPECT_EQ(pvio_ring_back_final_check(&p.b), 0);
	EXPECT_EQ(p.s->req_event, B + 6);
	EXPECT_EQ(fe_send(&p, 3), true);          /* (B+5, B+8] holds B+6 */
	EXPECT_EQ(pvio_ring_back_pending(&p.b), 3);
	be_take(&p, 3);                           /* consumed without re-arming */
	EXPECT_EQ(fe_send(&p, 1), false);         /* (B+8, B+9] misses B+6 */
	be_take(&p, 1);
	EXPECT_EQ(pvio_ring_free_requests(&p.f), 32 - 9);
	EXPECT_EQ(pvio_ring_back_rsp_room(&p.b), 9);

	/* Responses: rsp_event = B+1. */
	EXPECT_EQ(be_answer(&p, 1), true);        /* (B, B+1] */
	EXPECT_EQ(be_answer(&p, 2), false);       /* (B+1, B+3] */
	EXPECT_EQ(pvio_ring_front_final_check(&p.f), 3);
	EXPECT_EQ(p.s->rsp_event, B + 1);
	fe_take(&p, 3);
	EXPECT_EQ(pvio_ring_free_requests(&p.f), 32 - 6);
	EXPECT_EQ(pvio_ring_front_final_check(&p.f), 0);
	EXPECT_EQ(p.s->rsp_event, B + 4);
	EXPECT_EQ(be_answer(&p, 4), true);        /* (B+3, B+7] holds B+4 */
	EXPECT_EQ(pvio_ring_front_final_check(&p.f), 4);
	EXPECT_EQ(p.s->rsp_event, B + 4);
	EXPECT_EQ(be_answer(&p, 0), false);       /* nothing new */
	fe_take(&p, 4);
	EXPECT_EQ(pvio_ring_front_final_check(&p.f), 0);
	EXPECT_EQ(p.s->rsp_event, B + 8);
	EXPECT_EQ(be_answer(&p, 0), false);
	EXPECT_EQ(be_answer(&p, 2), true);        /* (B+7, B+9] holds B+8 */
	EXPECT_EQ(pvio_ring_back_rsp_room(&p.b), 0);
	fe_take(&p, 2);
	EXPECT_EQ(pvio_ring_free_requests(&p.f), 32);

	/* A late final check: the backend re-arms while a push is between its
	 * index store and its event read. Simulated by hand: req_prod moves,
	 * then the backend's final check sees the work itself. */
	tr_req_make(tr_req_slot(&p.f, 0), 1, p.fe_seq);
	p.f.req_prod_pvt++;
	p.s->req_prod = p.f.req_prod_pvt;                 /* index stored ... */
	EXPECT_EQ(pvio_ring_back_final_check(&p.b), 1);   /* ... backend sees it */
	pair_fini(&p);
}

/* The indices run through 2^32 (start at 0xffffff00): every message and
 * every notify decision must be as on a fresh ring. */
static void test_wrap(void)
{
	struct pair p;
	struct tr_rng rng = { 42 };
	uint64_t msgs = 0;

	ctx = "wrap 0xffffff00";
	pair_init(&p, 0, 0xffffff00u);
	fe_rsp_seq = 0;
	EXPECT_EQ(p.f.req_prod_pvt, 0xffffff00u);
	EXPECT_EQ(pvio_ring_free_requests(&p.f), 32);
	EXPECT_EQ(pvio_ring_back_pending(&p.b), 0);
	/* Drive 0x300 messages through (0x200 past the wrap), random batches;
	 * every batch arrives at an idle peer, so every push notifies. */
	while (msgs < 0x300) {
		uint32_t n = 1 + tr_below(&rng, 32);
		int got;

		EXPECT_EQ(pvio_ring_back_final_check(&p.b), 0);
		EXPECT_EQ(fe_send(&p, n), true);
		got = pvio_ring_back_final_check(&p.b);
		EXPECT_EQ(got, n);
		if (got != (int)n)
			break;
		be_take(&p, n);
		EXPECT_EQ(pvio_ring_front_final_check(&p.f), 0);
		EXPECT_EQ(be_answer(&p, n), true);
		EXPECT_EQ(pvio_ring_front_final_check(&p.f), n);
		fe_take(&p, n);
		msgs += n;
	}
	EXPECT_EQ(p.s->req_prod, (uint32_t)(0xffffff00u + msgs));
	EXPECT_EQ(p.s->rsp_prod, (uint32_t)(0xffffff00u + msgs));
	EXPECT_EQ(fe_rsp_seq, msgs);
	pair_fini(&p);

	/* Hand-computed decisions right at the wrap. */
	ctx = "wrap 0xfffffffe";
	pair_init(&p, 0, 0xfffffffeu);
	fe_rsp_seq = 0;
	EXPECT_EQ(p.s->req_event, 0xffffffffu);
	EXPECT_EQ(fe_send(&p, 1), true);               /* (fffffffe, ffffffff] */
	EXPECT_EQ(pvio_ring_back_pending(&p.b), 1);
	be_take(&p, 1);
	EXPECT_EQ(pvio_ring_back_final_check(&p.b), 0);
	EXPECT_EQ(p.s->req_event, 0);                  /* 0xffffffff + 1 */
	EXPECT_EQ(fe_send(&p, 3), true);               /* (ffffffff, 2] holds 0 */
	EXPECT_EQ(p.s->req_prod, 2);
	EXPECT_EQ(pvio_ring_back_pending(&p.b), 3);
	be_take(&p, 3);
	EXPECT_EQ(p.b.req_cons, 2);
	EXPECT_EQ(be_answer(&p, 4), true);             /* (fffffffe, 2] holds ffffffff */
	EXPECT_EQ(pvio_ring_front_pending(&p.f), 4);
	fe_take(&p, 4);
	EXPECT_EQ(p.f.rsp_cons, 2);
	EXPECT_EQ(pvio_ring_front_final_check(&p.f), 0);
	EXPECT_EQ(p.s->rsp_event, 3);
	EXPECT_EQ(pvio_ring_free_requests(&p.f), 32);
	pair_fini(&p);
}

static void test_full(void)
{
	struct pair p;

	for (unsigned int order = 0; order <= PVIO_RING_MAX_ORDER; order++) {
		uint32_t n = 32u << order;

		ctx = "full ring";
		pair_init(&p, order, order & 1 ? 0xfffffff0u : 0);
		fe_rsp_seq = 0;
		EXPECT_EQ(pvio_ring_free_requests(&p.f), n);
		EXPECT_EQ(pvio_ring_full(&p.f), false);
		EXPECT_EQ(fe_send(&p, n - 1), true);
		EXPECT_EQ(pvio_ring_free_requests(&p.f), 1);
		EXPECT_EQ(fe_send(&p, 1), false);
		EXPECT_EQ(pvio_ring_full(&p.f), true);
		EXPECT_EQ(pvio_ring_free_requests(&p.f), 0);
		EXPECT_EQ(pvio_ring_back_pending(&p.b), n);     /* exactly a ring: legal */
		be_take(&p, n);
		EXPECT_EQ(pvio_ring_back_pending(&p.b), 0);
		EXPECT_EQ(pvio_ring_full(&p.f), true);          /* until responses come */
		EXPECT_EQ(pvio_ring_back_rsp_room(&p.b), n);
		EXPECT_EQ(be_answer(&p, n), true);
		EXPECT_EQ(pvio_ring_front_pending(&p.f), n);
		fe_take(&p, n / 2);
		EXPECT_EQ(pvio_ring_free_requests(&p.f), n / 2);
		fe_take(&p, n / 2);
		EXPECT_EQ(pvio_ring_free_requests(&p.f), n);
		/* A frontend claiming one more than a ring: overflow. */
		p.s->req_prod = p.b.rsp_prod_pvt + n + 1;
		EXPECT_EQ(pvio_ring_back_pending(&p.b), -EPROTO);
		pair_fini(&p);
	}
}

/* The frontend rejects a backend rsp_prod that claims more responses than
 * requests outstanding, and stays broken. */
static void test_front_validation(void)
{
	struct pair p;
	uint32_t ev;

	ctx = "front validation";
	pair_init(&p, 0, 0xfffffffdu);
	fe_rsp_seq = 0;
	fe_send(&p, 5);
	be_take(&p, 5);
	be_answer(&p, 2);
	EXPECT_EQ(pvio_ring_front_pending(&p.f), 2);
	fe_take(&p, 2);
	/* 3 outstanding: rsp_prod may claim 0..3 more. */
	p.s->rsp_prod = p.f.rsp_cons + 3;
	EXPECT_EQ(pvio_ring_front_pending(&p.f), 3);
	p.s->rsp_prod = p.f.rsp_cons + 4;
	EXPECT_EQ(pvio_ring_front_pending(&p.f), -EPROTO);
	EXPECT_EQ(p.f.broken, true);
	/* Stays broken when the backend "fixes" rsp_prod. */
	p.s->rsp_prod = p.f.rsp_cons + 1;
	EXPECT_EQ(pvio_ring_front_pending(&p.f), -EPROTO);
	ev = p.s->rsp_event;
	EXPECT_EQ(pvio_ring_front_final_check(&p.f), -EPROTO);
	EXPECT_EQ(p.s->rsp_event, ev);              /* broken: no re-arm */
	pair_fini(&p);

	ctx = "front validation: backwards";
	pair_init(&p, 0, 0xfffffffdu);
	fe_rsp_seq = 0;
	fe_send(&p, 6);
	be_take(&p, 6);
	be_answer(&p, 6);
	fe_take(&p, 4);
	p.s->rsp_prod = p.f.rsp_cons - 1;            /* behind what we consumed */
	EXPECT_EQ(pvio_ring_front_pending(&p.f), -EPROTO);
	p.s->rsp_prod = p.f.rsp_cons + 2;
	EXPECT_EQ(pvio_ring_front_final_check(&p.f), -EPROTO);
	/* Attaching again starts afresh (at req_prod: all answered). */
	EXPECT_EQ(tr_front_attach(&p.f, p.mem, p.bytes), 0);
	EXPECT_EQ(pvio_ring_front_pending(&p.f), 0);
	pair_fini(&p);

	ctx = "front validation: wild values";
	{
		static const uint32_t wild[] = { 0x80000000u, 0xffffffffu, 33, 32 + 7, 1u << 31 | 5 };

		for (size_t i = 0; i < sizeof(wild) / sizeof(wild[0]); i++) {
			pair_init(&p, 0, 0);
			fe_send(&p, 7);
			p.s->rsp_prod = wild[i];
			EXPECT_EQ(pvio_ring_front_pending(&p.f), -EPROTO);
			pair_fini(&p);
		}
	}

	/*
	 * Requests produced but not yet pushed are not outstanding: the backend
	 * cannot have seen them, so a response to one is a protocol violation
	 * (and it overwrites a request the frontend is still building).
	 */
	ctx = "front validation: responses to unpushed requests";
	pair_init(&p, 0, 0);
	fe_rsp_seq = 0;
	fe_send(&p, 5);                              /* 5 pushed */
	for (uint32_t i = 0; i < 2; i++)
		tr_req_make(tr_req_slot(&p.f, i), 1, p.fe_seq++);
	pvio_ring_produce_requests(&p.f, 2);          /* 2 produced, not pushed */
	EXPECT_EQ(p.s->req_prod, 5);
	p.s->rsp_prod = 5;
	EXPECT_EQ(pvio_ring_front_pending(&p.f), 5);
	p.s->rsp_prod = 6;
	EXPECT_EQ(pvio_ring_front_pending(&p.f), -EPROTO);
	pair_fini(&p);
}

/* The backend's counterparts, in brief (test_ring_hostile goes further). */
static void test_back_validation(void)
{
	struct pair p;
	uint32_t ev;

	ctx = "back validation";
	pair_init(&p, 0, 0xfffffff0u);
	fe_send(&p, 10);
	be_take(&p, 10);
	p.s->req_prod = p.b.rsp_prod_pvt + 32;           /* a full ring: fine */
	EXPECT_EQ(pvio_ring_back_pending(&p.b), 22);
	p.s->req_prod = p.b.rsp_prod_pvt + 33;
	EXPECT_EQ(pvio_ring_back_pending(&p.b), -EPROTO);
	p.s->req_prod = p.b.req_cons;
	ev = p.s->req_event;
	EXPECT_EQ(pvio_ring_back_final_check(&p.b), -EPROTO);
	EXPECT_EQ(p.s->req_event, ev);
	EXPECT_EQ(tr_back_attach(&p.b, p.mem, p.bytes), 0);
	EXPECT_EQ(pvio_ring_back_pending(&p.b), 10);      /* unanswered again */
	pair_fini(&p);
}

int main(void)
{
	test_sizes();
	test_attach();
	test_notify_table();
	test_sequence(0);
	test_sequence(0xfffffffbu);
	test_sequence(0x80000000u);
	test_wrap();
	test_full();
	test_front_validation();
	test_back_validation();
	if (failures) {
		printf("%d expectation(s) failed\n", failures);
		return 1;
	}
	printf("ring unit tests passed\n");
	return 0;
}
