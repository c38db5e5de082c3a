/* SPDX-License-Identifier: MIT */
/*
 * Lockstep model check of pvio's ring engine against Xen's own io/ring.h
 * macros (xen_side.c). Two shared rings, one driven through pvio's API and
 * one through Xen's macros, follow the same seeded random script: request
 * batches, pushes, partial consumption, response batches, and consumers
 * that run the final check and go to sleep until a push says "notify".
 * After every step both rings' whole shared memory (header and slots), all
 * private cursors, every notify decision and every work-pending answer
 * must be identical. The script also asserts that no sleeper is left with
 * work and no notification (a lost wake-up).
 *
 * PVIO_LOCKSTEP_STEPS (default 4000000) and PVIO_LOCKSTEP_SEED (default 1)
 * change the run; the seed is printed.
 */
#include "tests/ring/ring_test.h"
#include "tests/ring/xen_side.h"

enum op { FE_PRODUCE, FE_PUSH, FE_CONSUME, FE_FINAL, BE_CONSUME, BE_RESPOND,
	  BE_PUSH, BE_FINAL, NR_OPS };
static const char *const op_name[NR_OPS] = {
	"fe_produce", "fe_push", "fe_consume", "fe_final_check",
	"be_consume", "be_respond", "be_push", "be_final_check" };
static const uint32_t op_weight[NR_OPS] = { 6, 4, 5, 2, 5, 5, 4, 2 };

struct stats {
	uint64_t steps, msgs, runs;
	uint64_t notify[2], spurious[2], sleeps[2];   /* [0] backend, [1] frontend */
};

struct ls {
	struct tr_rng rng;
	uint64_t salt, run_steps;
	unsigned int order;
	size_t bytes;
	uint32_t start;
	uint8_t *P, *X;                 /* pvio's shared ring, Xen's shared ring */
	struct pvio_ring_front pf;
	struct pvio_ring_back pb;
	struct xr_front *xf;
	struct xr_back *xb;
	uint64_t fe_seq;                /* next request to produce */
	uint32_t fe_unpushed;
	uint64_t be_seq;                /* next request to consume */
	uint32_t be_owed;               /* consumed, not answered */
	uint64_t rsp_seq;               /* next response to produce */
	uint32_t be_unpushed;
	uint64_t fe_rsp_seq;            /* next response to consume */
	bool fe_asleep, be_asleep;
	enum op last_op;
	struct stats *st;
};

static void ls_fail(struct ls *l, const char *what)
{
	fflush(stdout);
	fprintf(stderr, "FAIL: %s\n  at step %" PRIu64 " of run %" PRIu64
		" (order %u, start %#x, salt %#" PRIx64 "), op %s\n",
		what, l->run_steps, l->st->runs, l->order, l->start, l->salt,
		op_name[l->last_op]);
	fprintf(stderr, "  pvio: req_prod %#x req_event %#x rsp_prod %#x rsp_event %#x"
		" | req_prod_pvt %#x rsp_cons %#x | rsp_prod_pvt %#x req_cons %#x\n",
		((struct pvio_sring *)l->P)->req_prod, ((struct pvio_sring *)l->P)->req_event,
		((struct pvio_sring *)l->P)->rsp_prod, ((struct pvio_sring *)l->P)->rsp_event,
		l->pf.req_prod_pvt, l->pf.rsp_cons, l->pb.rsp_prod_pvt, l->pb.req_cons);
	if (!l->xf || !l->xb)
		_exit(1);
	fprintf(stderr, "  xen:  req_prod %#x req_event %#x rsp_prod %#x rsp_event %#x"
		" | req_prod_pvt %#x rsp_cons %#x | rsp_prod_pvt %#x req_cons %#x\n",
		((struct pvio_sring *)l->X)->req_prod, ((struct pvio_sring *)l->X)->req_event,
		((struct pvio_sring *)l->X)->rsp_prod, ((struct pvio_sring *)l->X)->rsp_event,
		xr_front_req_prod_pvt(l->xf), xr_front_rsp_cons(l->xf),
		xr_back_rsp_prod_pvt(l->xb), xr_back_req_cons(l->xb));
	_exit(1);
}

#define LS_CHECK(l, cond, ...) do {                                          \
	if (!(cond)) {                                                       \
		char m_[256];                                                \
		snprintf(m_, sizeof(m_), __VA_ARGS__);                       \
		ls_fail(l, m_);                                              \
	}                                                                    \
} while (0)

#define LS_EQ(l, a, b) do {                                                   \
	long long a_ = (long long)(a), b_ = (long long)(b);                   \
	LS_CHECK(l, a_ == b_, "%s = %lld (pvio) but %s = %lld (xen)", #a, a_, #b, b_); \
} while (0)

/* A batch size in 1..n: often 1 or small, sometimes all, else uniform. */
static uint32_t pick(struct ls *l, uint32_t n)
{
	uint32_t r = tr_below(&l->rng, 8);

	if (n <= 1 || r == 0)
		return n;
	if (r == 1)
		return 1;
	if (r < 5)
		return 1 + tr_below(&l->rng, n < 4 ? n : 4);
	return 1 + tr_below(&l->rng, n);
}

static void compare(struct ls *l)
{
	if (memcmp(l->P, l->X, l->bytes)) {
		size_t i = 0;

		while (l->P[i] == l->X[i])
			i++;
		LS_CHECK(l, 0, "shared memory differs at byte %zu (%s): pvio %#x xen %#x",
			 i, i < 64 ? "header" : "slots", l->P[i], l->X[i]);
	}
	LS_EQ(l, l->pf.req_prod_pvt, xr_front_req_prod_pvt(l->xf));
	LS_EQ(l, l->pf.rsp_cons, xr_front_rsp_cons(l->xf));
	LS_EQ(l, l->pb.rsp_prod_pvt, xr_back_rsp_prod_pvt(l->xb));
	LS_EQ(l, l->pb.req_cons, xr_back_req_cons(l->xb));
	LS_EQ(l, pvio_ring_free_requests(&l->pf), xr_free_requests(l->xf));
	LS_EQ(l, pvio_ring_full(&l->pf), xr_full(l->xf));
}

/* A sleeper with work in its ring and no notification on its way. */
static void check_no_lost_wakeup(struct ls *l)
{
	const struct pvio_sring *s = (const struct pvio_sring *)l->P;

	LS_CHECK(l, !(l->be_asleep && s->req_prod != l->pb.req_cons),
		 "lost wake-up: backend asleep with %u requests pending",
		 s->req_prod - l->pb.req_cons);
	LS_CHECK(l, !(l->fe_asleep && s->rsp_prod != l->pf.rsp_cons),
		 "lost wake-up: frontend asleep with %u responses pending",
		 s->rsp_prod - l->pf.rsp_cons);
	LS_CHECK(l, !(l->fe_asleep && l->be_asleep), "both ends asleep");
}

/* Runs op if it is enabled now; false if not. */
static bool step(struct ls *l, enum op op)
{
	struct tr_req q, qx;
	struct tr_rsp r, rx;
	uint32_t n, i, mode;
	int a;
	unsigned int b;
	bool na, nb;

	l->last_op = op;
	switch (op) {
	case FE_PRODUCE:
		n = pvio_ring_free_requests(&l->pf);
		if (l->fe_asleep || n == 0)
			return false;
		n = pick(l, n);
		mode = tr_below(&l->rng, 2);
		for (i = 0; i < n; i++) {
			tr_req_make(&q, l->salt, l->fe_seq + i);
			if (mode)
				*tr_req_slot(&l->pf, i) = q;
			else
				memcpy(pvio_ring_req_slot(&l->pf, i), &q, sizeof(q));
			*xr_req_slot(l->xf, i) = q;
		}
		pvio_ring_produce_requests(&l->pf, n);
		xr_produce_requests(l->xf, n);
		l->fe_seq += n;
		l->fe_unpushed += n;
		return true;

	case FE_PUSH:
		if (l->fe_asleep)
			return false;
		na = pvio_ring_push_requests(&l->pf);
		nb = xr_push_requests(l->xf);
		LS_EQ(l, na, nb);
		if (na) {
			l->st->notify[0]++;
			if (l->be_asleep)
				l->be_asleep = false;
			else
				l->st->spurious[0]++;
		}
		l->fe_unpushed = 0;
		return true;

	case BE_CONSUME:
		if (l->be_asleep)
			return false;
		a = pvio_ring_back_pending(&l->pb);
		b = xr_unconsumed_requests(l->xb);
		LS_EQ(l, a, b);
		LS_CHECK(l, a >= 0 && (uint32_t)a <= l->pb.nr_ents, "pending %d", a);
		if (a == 0)
			return true;
		n = tr_below(&l->rng, 4) ? pick(l, (uint32_t)a) : (uint32_t)a;
		for (i = 0; i < n; i++) {
			if (tr_below(&l->rng, 2))
				tr_copy_request(&l->pb, &q);
			else
				pvio_ring_copy_request(&l->pb, &q, sizeof(q));
			xr_copy_request(l->xb, &qx);
			LS_CHECK(l, !memcmp(&q, &qx, sizeof(q)), "request copies differ");
			LS_CHECK(l, !tr_req_check(&q, l->salt, l->be_seq),
				 "request %" PRIu64 " corrupt", l->be_seq);
			l->be_seq++;
		}
		l->be_owed += n;
		l->st->msgs += n;
		return true;

	case BE_RESPOND:
		if (l->be_asleep || l->be_owed == 0)
			return false;
		n = pick(l, l->be_owed);
		LS_CHECK(l, pvio_ring_back_rsp_room(&l->pb) >= n, "no room for %u responses", n);
		mode = tr_below(&l->rng, 3);
		for (i = 0; i < n; i++) {
			tr_req_make(&q, l->salt, l->rsp_seq + i);
			tr_rsp_make(&r, &q);
			if (mode == 0)
				pvio_ring_put_response(&l->pb, &r, sizeof(r));
			else if (mode == 1)
				tr_put_response(&l->pb, &r);
			else
				memcpy(pvio_ring_rsp_slot_at(&l->pb, i), &r, sizeof(r));
			*xr_rsp_slot(l->xb, i) = r;
		}
		if (mode == 2)
			pvio_ring_produce_responses(&l->pb, n);
		xr_produce_responses(l->xb, n);
		l->rsp_seq += n;
		l->be_owed -= n;
		l->be_unpushed += n;
		return true;

	case BE_PUSH:
		if (l->be_asleep)
			return false;
		na = pvio_ring_push_responses(&l->pb);
		nb = xr_push_responses(l->xb);
		LS_EQ(l, na, nb);
		if (na) {
			l->st->notify[1]++;
			if (l->fe_asleep)
				l->fe_asleep = false;
			else
				l->st->spurious[1]++;
		}
		l->be_unpushed = 0;
		return true;

	case FE_CONSUME:
		if (l->fe_asleep)
			return false;
		a = pvio_ring_front_pending(&l->pf);
		b = xr_unconsumed_responses(l->xf);
		LS_EQ(l, a, b);
		LS_CHECK(l, a >= 0, "front pending %d", a);
		if (a == 0)
			return true;
		n = tr_below(&l->rng, 4) ? pick(l, (uint32_t)a) : (uint32_t)a;
		for (i = 0; i < n; i++) {
			if (tr_below(&l->rng, 2))
				tr_copy_response(&l->pf, &r);
			else
				pvio_ring_copy_response(&l->pf, &r, sizeof(r));
			xr_get_response(l->xf, &rx);
			LS_CHECK(l, !memcmp(&r, &rx, sizeof(r)), "response copies differ");
			LS_CHECK(l, !tr_rsp_check(&r, l->salt, l->fe_rsp_seq),
				 "response %" PRIu64 " corrupt", l->fe_rsp_seq);
			l->fe_rsp_seq++;
		}
		return true;

	case FE_FINAL:
		/* The frontend sleeps only with everything pushed and something
		 * to wait for (else only its application would wake it). */
		if (l->fe_asleep || l->fe_unpushed || l->fe_seq == l->fe_rsp_seq)
			return false;
		a = pvio_ring_front_final_check(&l->pf);
		b = xr_front_final_check(l->xf);
		LS_EQ(l, a, b);
		LS_CHECK(l, a >= 0, "front final check %d", a);
		if (a == 0) {
			l->fe_asleep = true;
			l->st->sleeps[1]++;
		}
		return true;

	case BE_FINAL:
		/* The backend answers and pushes everything before sleeping. */
		if (l->be_asleep || l->be_owed || l->be_unpushed)
			return false;
		a = pvio_ring_back_final_check(&l->pb);
		b = xr_back_final_check(l->xb);
		LS_EQ(l, a, b);
		LS_CHECK(l, a >= 0, "back final check %d", a);
		if (a == 0) {
			l->be_asleep = true;
			l->st->sleeps[0]++;
		}
		return true;

	case NR_OPS:
		break;
	}
	return false;
}

static enum op choose(struct ls *l)
{
	static uint32_t total;
	uint32_t x;

	if (!total)
		for (int i = 0; i < NR_OPS; i++)
			total += op_weight[i];
	x = tr_below(&l->rng, total);
	for (int i = 0; i < NR_OPS; i++) {
		if (x < op_weight[i])
			return (enum op)i;
		x -= op_weight[i];
	}
	return FE_PUSH;
}

static void run(struct ls *l, uint64_t steps)
{
	struct pvio_sring *sp = (struct pvio_sring *)l->P;
	struct pvio_sring *sx = (struct pvio_sring *)l->X;

	l->bytes = (size_t)PVIO_PAGE_SIZE << l->order;
	/* Same junk in both rings' slots, then each side's SHARED_RING_INIT. */
	for (size_t i = 0; i < l->bytes; i += 8) {
		uint64_t x = tr_rand(&l->rng);

		memcpy(l->P + i, &x, 8);
	}
	memcpy(l->X, l->P, l->bytes);
	pvio_sring_init(sp);
	xr_sring_init(l->X);
	LS_CHECK(l, !memcmp(l->P, l->X, l->bytes), "SHARED_RING_INIT differs");
	sp->req_prod = sp->rsp_prod = sx->req_prod = sx->rsp_prod = l->start;
	sp->req_event = sp->rsp_event = sx->req_event = sx->rsp_event = l->start + 1;

	LS_EQ(l, pvio_ring_front_attach(&l->pf, l->P, l->bytes, sizeof(union tr_slot)), 0);
	LS_EQ(l, tr_back_attach(&l->pb, l->P, l->bytes), 0);
	l->xf = xr_front_new(l->X, l->bytes, l->start);
	l->xb = xr_back_new(l->X, l->bytes, l->start);
	CHECK(l->xf && l->xb, "out of memory");
	LS_EQ(l, l->pf.nr_ents, xr_front_size(l->xf));
	LS_EQ(l, l->pb.nr_ents, xr_back_size(l->xb));
	LS_EQ(l, l->pf.nr_ents, xr_const_ring_size(l->bytes));
	l->fe_seq = l->be_seq = l->rsp_seq = l->fe_rsp_seq = 0;
	l->fe_unpushed = l->be_owed = l->be_unpushed = 0;
	l->fe_asleep = l->be_asleep = false;
	compare(l);

	for (l->run_steps = 0; l->run_steps < steps; ) {
		if (!step(l, choose(l)))
			continue;
		l->run_steps++;
		compare(l);
		check_no_lost_wakeup(l);
	}
	l->st->steps += l->run_steps;
	l->st->runs++;
	xr_front_free(l->xf);
	xr_back_free(l->xb);
	l->xf = NULL;
	l->xb = NULL;
}

/* __CONST_RING_SIZE / __RING_SIZE against pvio_ring_nr_ents. */
static void check_sizes(void)
{
	for (size_t bytes = 64 + 112; bytes <= (PVIO_PAGE_SIZE << PVIO_RING_MAX_ORDER); bytes += 8)
		CHECK(pvio_ring_nr_ents(bytes, 112) == xr_const_ring_size(bytes),
		      "%zu bytes: pvio %u xen %u", bytes, pvio_ring_nr_ents(bytes, 112),
		      xr_const_ring_size(bytes));
}

int main(void)
{
	static const unsigned int orders[] = { 0, 0, 0, 0, 1, 1, 1, 2, 2, 3, 4 };
	uint64_t total = tr_env_u64("PVIO_LOCKSTEP_STEPS", 4000000);
	uint64_t seed = tr_env_u64("PVIO_LOCKSTEP_SEED", 1);
	struct stats st = { 0 };
	struct ls l = { .rng = { seed }, .st = &st };
	uint64_t t0 = tr_now_ns();

	check_sizes();
	l.P = tr_ring_alloc(PVIO_RING_MAX_ORDER);
	l.X = tr_ring_alloc(PVIO_RING_MAX_ORDER);
	printf("lockstep: seed %" PRIu64 ", %" PRIu64 " steps\n", seed, total);
	while (st.steps < total) {
		uint32_t kind = tr_below(&l.rng, 4);
		uint64_t steps = 20000 + tr_below(&l.rng, 180000);

		l.order = orders[tr_below(&l.rng, sizeof(orders) / sizeof(orders[0]))];
		l.salt = tr_rand(&l.rng);
		if (kind == 0)
			l.start = 0;                                  /* fresh ring */
		else if (kind == 1)
			l.start = 0u - 1 - tr_below(&l.rng, 4 * (32u << l.order)); /* wraps soon */
		else
			l.start = (uint32_t)tr_rand(&l.rng);
		if (steps > total - st.steps)
			steps = total - st.steps;
		run(&l, steps);
	}
	printf("lockstep: %" PRIu64 " runs, %" PRIu64 " steps, %" PRIu64 " requests, %.1fs\n",
	       st.runs, st.steps, st.msgs, (tr_now_ns() - t0) / 1e9);
	printf("  request notifies %" PRIu64 " (spurious %" PRIu64 "), backend sleeps %" PRIu64 "\n",
	       st.notify[0], st.spurious[0], st.sleeps[0]);
	printf("  response notifies %" PRIu64 " (spurious %" PRIu64 "), frontend sleeps %" PRIu64 "\n",
	       st.notify[1], st.spurious[1], st.sleeps[1]);
	CHECK(st.sleeps[0] > 1000 && st.sleeps[1] > 1000 && st.notify[0] && st.notify[1],
	      "the script never exercised sleeping");
	free(l.P);
	free(l.X);
	printf("pvio and Xen's macros agree at every step\n");
	return 0;
}
