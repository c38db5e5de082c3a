/* SPDX-License-Identifier: MIT */
/*
 * Throughput stress: a frontend and a backend thread, pinned to two
 * different CPUs (unpinned when only one is available), busy-poll one ring
 * with batches and push 100 million requests and their responses through
 * rings of every order 0..4. Both directions check sequence numbers; the
 * backend copies every 112-byte request out of the ring, as a real one must.
 *
 * PVIO_STRESS_MSGS lowers (or raises) the message count per order.
 */
#include <pthread.h>
#include <sched.h>

#include "tests/ring/ring_test.h"

struct st {
	void *ring;
	size_t bytes;
	uint64_t n;
	int cpu[2];                 /* -1: unpinned */
	bool yield;                 /* one CPU: yield instead of spinning */
};

static void pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	CHECK(sched_setaffinity(0, sizeof(set), &set) == 0, "sched_setaffinity(%d): %m", cpu);
}

/*
 * Nothing to do: spin politely, and give the CPU away after a while without
 * progress. The peer is then most likely preempted (the machine is shared),
 * and spinning only burns the CPU someone else's job needs.
 */
static inline void idle(const struct st *s, unsigned int *spins)
{
	if (s->yield || ++*spins >= 4096) {
		*spins = 0;
		sched_yield();
	} else {
		pvio_cpu_relax();
	}
}

static void *backend(void *arg)
{
	struct st *s = arg;
	struct pvio_ring_back b;
	uint64_t seq = 0;
	unsigned int spins = 0;
	struct tr_req q;

	pin(s->cpu[1]);
	CHECK_EQ(tr_back_attach(&b, s->ring, s->bytes), 0);
	while (seq < s->n) {
		int m = pvio_ring_back_pending(&b);

		CHECK(m >= 0, "back pending %d", m);
		if (m == 0) {
			idle(s, &spins);
			continue;
		}
		spins = 0;
		for (int i = 0; i < m; i++, seq++) {
			struct tr_rsp *r;

			tr_copy_request(&b, &q);
			if (q.seq != seq || q.id != ~seq)
				FAIL("backend: request seq %" PRIu64 " id %#" PRIx64 ", want %" PRIu64,
				     q.seq, q.id, seq);
			/* Built in place: every field written (XSA-216). */
			r = pvio_ring_rsp_slot_at(&b, 0);
			r->seq = seq;
			r->csum = (uint32_t)seq ^ TR_RSP_MAGIC;
			r->status = 0;
			r->pad = 0;
			pvio_ring_produce_responses(&b, 1);
			/* Hand responses back in batches of 16 while working
			 * through a large batch, so the frontend can refill. */
			if ((i & 15) == 15)
				pvio_ring_push_responses(&b);
		}
		pvio_ring_push_responses(&b);
	}
	return NULL;
}

static void frontend(struct st *s)
{
	struct pvio_ring_front f;
	uint64_t sent = 0, recvd = 0;
	unsigned int spins = 0;
	struct tr_rsp r;

	pin(s->cpu[0]);
	CHECK_EQ(tr_front_attach(&f, s->ring, s->bytes), 0);
	while (recvd < s->n) {
		uint32_t room = pvio_ring_free_requests(&f);
		bool busy = false;
		int m;

		if (room && sent < s->n) {
			if (room > s->n - sent)
				room = (uint32_t)(s->n - sent);
			for (uint32_t i = 0; i < room; i++) {
				struct tr_req *q = tr_req_slot(&f, i);

				q->seq = sent + i;
				q->id = ~(sent + i);
			}
			pvio_ring_produce_requests(&f, room);
			pvio_ring_push_requests(&f);
			sent += room;
			busy = true;
		}
		m = pvio_ring_front_pending(&f);
		CHECK(m >= 0, "front pending %d", m);
		for (int i = 0; i < m; i++, recvd++) {
			tr_copy_response(&f, &r);
			if (r.seq != recvd || r.csum != ((uint32_t)recvd ^ TR_RSP_MAGIC))
				FAIL("frontend: response seq %" PRIu64 " csum %#x, want %" PRIu64,
				     r.seq, r.csum, recvd);
		}
		if (!m && !busy)
			idle(s, &spins);
		else
			spins = 0;
	}
}

int main(void)
{
	uint64_t n = tr_env_u64("PVIO_STRESS_MSGS", 100000000);
	struct st s = { .n = n, .cpu = { -1, -1 } };
	cpu_set_t set;
	int ncpu = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	CHECK(sched_getaffinity(0, sizeof(set), &set) == 0, "sched_getaffinity: %m");
	for (int c = 0; c < CPU_SETSIZE && ncpu < 2; c++)
		if (CPU_ISSET(c, &set))
			s.cpu[ncpu++] = c;
	if (ncpu < 2) {
		s.cpu[0] = s.cpu[1] = -1;
		s.yield = true;
		printf("only one CPU available: running unpinned, yielding when idle\n");
	} else {
		printf("frontend on CPU %d, backend on CPU %d\n", s.cpu[0], s.cpu[1]);
	}
	for (unsigned int order = 0; order <= PVIO_RING_MAX_ORDER; order++) {
		pthread_t be;
		uint64_t t0, ns;

		s.bytes = (size_t)PVIO_PAGE_SIZE << order;
		s.ring = tr_ring_alloc(order);
		pvio_sring_init(s.ring);
		/* Start near 2^32 so that every run crosses the wrap. */
		((struct pvio_sring *)s.ring)->req_prod = 0u - 1000;
		((struct pvio_sring *)s.ring)->rsp_prod = 0u - 1000;
		t0 = tr_now_ns();
		CHECK(pthread_create(&be, NULL, backend, &s) == 0, "pthread_create");
		frontend(&s);
		pthread_join(be, NULL);
		ns = tr_now_ns() - t0;
		printf("order %u (%4u slots): %" PRIu64 " requests + responses in %.2fs: %.1f Mmsg/s\n",
		       order, tr_ring_nr_ents(s.bytes), n, ns / 1e9, n / (ns / 1e3));
		free(s.ring);
	}
	return 0;
}
