/* SPDX-License-Identifier: MIT */
/*
 * Interoperability: a pvio frontend talks to a backend written with Xen's
 * own io/ring.h macros (xen_side.c), and a Xen-macro frontend talks to a
 * pvio backend, each pair as two threads and as two processes over a shared
 * memfd. Millions of requests and responses, each carrying its sequence
 * number and a checksum of its payload: none may be lost, duplicated,
 * reordered or corrupted.
 *
 * Both sides sleep when they have no work (final check, then a blocking
 * read of an eventfd) and are woken only by the notifications the other
 * side decides to send (an eventfd write iff the push said notify). A lost
 * wake-up would hang both; a watchdog turns that into a failure.
 *
 * PVIO_INTEROP_MSGS (default 5000000) sets the messages per pairing (pvio
 * frontend with Xen backend, and the reverse), half of them through threads
 * and half through processes.
 */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "tests/ring/ring_test.h"
#include "tests/ring/xen_side.h"

#define STALL_SECONDS 10

enum { BE = 0, FE = 1 };        /* index of the side that is woken */

/* Lives in shared memory in the process variant. */
struct ix {
	size_t bytes;
	uint32_t start;
	uint64_t n, salt;
	int efd[2];                 /* [BE]: request kicks, [FE]: response kicks */
	bool fe_xen, be_xen;        /* which side runs Xen's macros */
	/* progress (written by one side, read by the watchdog) */
	uint64_t sent, recvd, done;
	/* per woken side: notifications sent to it, times it slept, wake-ups
	 * that found no work */
	uint64_t notify[2], sleeps[2], spurious[2];
	uint8_t ring[] __attribute__((aligned(4096)));
};

static void kick(struct ix *x, int side)
{
	uint64_t one = 1;

	x->notify[side]++;
	CHECK(write(x->efd[side], &one, sizeof(one)) == sizeof(one), "eventfd write: %m");
}

static void wait_kick(struct ix *x, int side)
{
	uint64_t v;

	x->sleeps[side]++;
	CHECK(read(x->efd[side], &v, sizeof(v)) == sizeof(v), "eventfd read: %m");
}

static void progress(uint64_t *p, uint64_t v)
{
	/* Relaxed: only the watchdog reads it, to see that something moves. */
	pvio_store_relaxed(p, v);
}

/* A batch size in 1..n. */
static uint32_t pick(struct tr_rng *r, uint32_t n)
{
	uint32_t k = tr_below(r, 8);

	if (n <= 1 || k == 0)
		return n;
	if (k < 3)
		return 1 + tr_below(r, n < 4 ? n : 4);
	return 1 + tr_below(r, n);
}

static void check_rsp(struct ix *x, const struct tr_rsp *r, uint64_t seq)
{
	CHECK(!tr_rsp_check(r, x->salt, seq), "response %" PRIu64 " wrong (got seq %"
	      PRIu64 " csum %#x)", seq, r->seq, r->csum);
}

static void check_req(struct ix *x, const struct tr_req *q, uint64_t seq)
{
	CHECK(!tr_req_check(q, x->salt, seq), "request %" PRIu64 " wrong (got seq %"
	      PRIu64 " len %u csum %#x, want csum %#x)", seq, q->seq, q->len, q->csum,
	      tr_csum(q));
}

/*
 * The frontend policy, shared by both implementations: produce a random
 * batch when there is room (and sometimes wait for the ring to drain
 * instead), consume every response there is, and when neither is possible
 * run the final check and sleep.
 */
static void fe_pvio(struct ix *x)
{
	struct pvio_ring_front f;
	struct tr_rng rng = { x->salt ^ 1 };
	uint64_t sent = 0, recvd = 0;
	struct tr_rsp r;

	CHECK_EQ(tr_front_attach(&f, x->ring, x->bytes), 0);
	while (recvd < x->n) {
		bool busy = false;
		uint32_t room = pvio_ring_free_requests(&f);
		int m;

		if (sent < x->n && room && (sent == recvd || tr_below(&rng, 8))) {
			uint32_t k = pick(&rng, room);

			if (k > x->n - sent)
				k = (uint32_t)(x->n - sent);
			for (uint32_t i = 0; i < k; i++)
				tr_req_make(tr_req_slot(&f, i), x->salt, sent + i);
			pvio_ring_produce_requests(&f, k);
			sent += k;
			if (pvio_ring_push_requests(&f))
				kick(x, BE);
			progress(&x->sent, sent);
			busy = true;
		}
		m = pvio_ring_front_pending(&f);
		CHECK(m >= 0, "front pending %d", m);
		for (int i = 0; i < m; i++) {
			tr_copy_response(&f, &r);
			check_rsp(x, &r, recvd++);
		}
		if (m) {
			progress(&x->recvd, recvd);
			continue;
		}
		if (busy || recvd == x->n)
			continue;
		m = pvio_ring_front_final_check(&f);
		CHECK(m >= 0, "front final check %d", m);
		if (m == 0) {
			wait_kick(x, FE);
			if (pvio_ring_front_pending(&f) == 0)
				x->spurious[FE]++;
		}
	}
	CHECK_EQ(sent, x->n);
	CHECK_EQ(pvio_ring_front_pending(&f), 0);
}

static void fe_xen(struct ix *x)
{
	struct xr_front *f = xr_front_new(x->ring, x->bytes, x->start);
	struct tr_rng rng = { x->salt ^ 1 };
	uint64_t sent = 0, recvd = 0;
	struct tr_rsp r;

	CHECK(f, "out of memory");
	while (recvd < x->n) {
		bool busy = false;
		uint32_t room = xr_free_requests(f);
		unsigned int m;

		if (sent < x->n && room && (sent == recvd || tr_below(&rng, 8))) {
			uint32_t k = pick(&rng, room);

			if (k > x->n - sent)
				k = (uint32_t)(x->n - sent);
			for (uint32_t i = 0; i < k; i++)
				tr_req_make(xr_req_slot(f, i), x->salt, sent + i);
			xr_produce_requests(f, k);
			sent += k;
			if (xr_push_requests(f))
				kick(x, BE);
			progress(&x->sent, sent);
			busy = true;
		}
		m = xr_unconsumed_responses(f);
		CHECK(m <= sent - recvd, "backend claims %u responses, %" PRIu64
		      " outstanding", m, sent - recvd);
		for (unsigned int i = 0; i < m; i++) {
			xr_get_response(f, &r);
			check_rsp(x, &r, recvd++);
		}
		if (m) {
			progress(&x->recvd, recvd);
			continue;
		}
		if (busy || recvd == x->n)
			continue;
		if (xr_front_final_check(f) == 0) {
			wait_kick(x, FE);
			if (xr_unconsumed_responses(f) == 0)
				x->spurious[FE]++;
		}
	}
	CHECK_EQ(sent, x->n);
	CHECK_EQ(xr_unconsumed_responses(f), 0);
	xr_front_free(f);
}

/*
 * The backend policy: take some or all pending requests, answer each right
 * after copying it and push the responses in random batches (every batch's
 * push may notify); when there is nothing pending, final check and sleep.
 */
static void be_pvio(struct ix *x)
{
	struct pvio_ring_back b;
	struct tr_rng rng = { x->salt ^ 2 };
	uint64_t done = 0;
	struct tr_req q;
	struct tr_rsp r;

	CHECK_EQ(tr_back_attach(&b, x->ring, x->bytes), 0);
	while (done < x->n) {
		int m = pvio_ring_back_pending(&b);
		uint32_t k, batch, unpushed = 0;

		CHECK(m >= 0, "back pending %d", m);
		if (m == 0) {
			m = pvio_ring_back_final_check(&b);
			CHECK(m >= 0, "back final check %d", m);
			if (m == 0) {
				wait_kick(x, BE);
				if (pvio_ring_back_pending(&b) == 0)
					x->spurious[BE]++;
				continue;
			}
		}
		k = pick(&rng, (uint32_t)m);
		batch = pick(&rng, k);
		for (uint32_t i = 0; i < k; i++) {
			tr_copy_request(&b, &q);
			check_req(x, &q, done + i);
			tr_rsp_make(&r, &q);
			tr_put_response(&b, &r);
			if (++unpushed == batch) {
				if (pvio_ring_push_responses(&b))
					kick(x, FE);
				unpushed = 0;
				batch = pick(&rng, k);
			}
		}
		if (unpushed && pvio_ring_push_responses(&b))
			kick(x, FE);
		done += k;
		progress(&x->done, done);
	}
}

static void be_xen(struct ix *x)
{
	struct xr_back *b = xr_back_new(x->ring, x->bytes, x->start);
	struct tr_rng rng = { x->salt ^ 2 };
	uint64_t done = 0;
	struct tr_req q;

	CHECK(b, "out of memory");
	while (done < x->n) {
		unsigned int m;
		uint32_t k, batch, unpushed = 0;

		CHECK(!xr_request_prod_overflow(b), "frontend overflowed the ring");
		m = xr_unconsumed_requests(b);
		if (m == 0) {
			m = xr_back_final_check(b);
			if (m == 0) {
				wait_kick(x, BE);
				if (xr_unconsumed_requests(b) == 0)
					x->spurious[BE]++;
				continue;
			}
		}
		k = pick(&rng, m);
		batch = pick(&rng, k);
		for (uint32_t i = 0; i < k; i++) {
			xr_copy_request(b, &q);
			check_req(x, &q, done + i);
			tr_rsp_make(xr_rsp_slot(b, 0), &q);
			xr_produce_responses(b, 1);
			if (++unpushed == batch) {
				if (xr_push_responses(b))
					kick(x, FE);
				unpushed = 0;
				batch = pick(&rng, k);
			}
		}
		if (unpushed && xr_push_responses(b))
			kick(x, FE);
		done += k;
		progress(&x->done, done);
	}
	xr_back_free(b);
}

static void run_fe(struct ix *x) { x->fe_xen ? fe_xen(x) : fe_pvio(x); }
static void run_be(struct ix *x) { x->be_xen ? be_xen(x) : be_pvio(x); }

static void *be_thread(void *arg)
{
	run_be(arg);
	return NULL;
}

/* Watchdog: fail (and kill the child process, if any) when no side has
 * made progress for STALL_SECONDS. Returns when `stop` is readable. */
struct watchdog {
	struct ix *x;
	int stop;                   /* eventfd */
	pid_t child;
	pthread_t thr;
};

static void *watchdog_thread(void *arg)
{
	struct watchdog *w = arg;
	struct ix *x = w->x;
	uint64_t last = UINT64_MAX;
	int idle = 0;

	for (;;) {
		struct pollfd p = { .fd = w->stop, .events = POLLIN };
		uint64_t now;

		if (poll(&p, 1, 1000) > 0)
			return NULL;
		now = pvio_load_relaxed(&x->sent) + pvio_load_relaxed(&x->recvd) +
		      pvio_load_relaxed(&x->done);
		if (now != last) {
			last = now;
			idle = 0;
			continue;
		}
		if (++idle < STALL_SECONDS)
			continue;
		{
			struct pvio_sring *s = (struct pvio_sring *)x->ring;

			fflush(stdout);
			fprintf(stderr, "FAIL: no progress for %d s (lost wake-up?): sent %"
				PRIu64 " recvd %" PRIu64 " done %" PRIu64 "; req_prod %#x req_event %#x"
				" rsp_prod %#x rsp_event %#x; sleeps fe %" PRIu64 " be %" PRIu64 "\n",
				STALL_SECONDS, x->sent, x->recvd, x->done, s->req_prod, s->req_event,
				s->rsp_prod, s->rsp_event, x->sleeps[FE], x->sleeps[BE]);
			if (w->child > 0) {
				kill(w->child, SIGKILL);
				waitpid(w->child, NULL, 0);
			}
			_exit(1);
		}
	}
}

static void watchdog_start(struct watchdog *w, struct ix *x, pid_t child)
{
	w->x = x;
	w->child = child;
	w->stop = eventfd(0, EFD_CLOEXEC);
	CHECK(w->stop >= 0, "eventfd: %m");
	CHECK(pthread_create(&w->thr, NULL, watchdog_thread, w) == 0, "pthread_create");
}

static void watchdog_stop(struct watchdog *w)
{
	uint64_t one = 1;

	CHECK(write(w->stop, &one, sizeof(one)) == sizeof(one), "write: %m");
	pthread_join(w->thr, NULL);
	close(w->stop);
}

/* A fresh shared area: struct ix followed by the ring, in a memfd. */
static struct ix *ix_new(unsigned int order, uint32_t start, uint64_t n, bool fe_xen,
			 bool be_xen, size_t *maplen)
{
	size_t bytes = (size_t)PVIO_PAGE_SIZE << order;
	size_t len = offsetof(struct ix, ring) + bytes;
	int fd = memfd_create("pvio-ring-interop", MFD_CLOEXEC);
	struct ix *x;
	struct pvio_sring *s;

	CHECK(fd >= 0, "memfd_create: %m");
	CHECK(ftruncate(fd, (off_t)len) == 0, "ftruncate: %m");
	x = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(x != MAP_FAILED, "mmap: %m");
	close(fd);
	x->bytes = bytes;
	x->start = start;
	x->n = n;
	x->salt = tr_mix64(start ^ n ^ ((uint64_t)fe_xen << 1 | be_xen));
	x->fe_xen = fe_xen;
	x->be_xen = be_xen;
	x->efd[BE] = eventfd(0, EFD_CLOEXEC);
	x->efd[FE] = eventfd(0, EFD_CLOEXEC);
	CHECK(x->efd[BE] >= 0 && x->efd[FE] >= 0, "eventfd: %m");
	s = (struct pvio_sring *)x->ring;
	pvio_sring_init(s);
	s->req_prod = s->rsp_prod = start;
	s->req_event = s->rsp_event = start + 1;
	*maplen = len;
	return x;
}

static void ix_report(struct ix *x, const char *how, uint64_t ns)
{
	printf("%-7s %s frontend -> %s backend, order %u, start %#x: %" PRIu64
	       " requests + responses in %.2fs (%.2f Mmsg/s)\n",
	       how, x->fe_xen ? "xen " : "pvio", x->be_xen ? "xen " : "pvio",
	       (unsigned int)__builtin_ctzl(x->bytes / PVIO_PAGE_SIZE), x->start, x->n,
	       ns / 1e9, x->n / (ns / 1e3));
	printf("        request notifications %" PRIu64 ", backend sleeps %" PRIu64
	       ", spurious wake-ups %" PRIu64 "\n", x->notify[BE], x->sleeps[BE], x->spurious[BE]);
	printf("        response notifications %" PRIu64 ", frontend sleeps %" PRIu64
	       ", spurious wake-ups %" PRIu64 "\n", x->notify[FE], x->sleeps[FE], x->spurious[FE]);
	CHECK_EQ(x->sent, x->n);
	CHECK_EQ(x->recvd, x->n);
	CHECK_EQ(x->done, x->n);
	CHECK(x->sleeps[BE] > 0 && x->sleeps[FE] > 0, "nobody ever slept");
}

static void ix_free(struct ix *x, size_t len)
{
	close(x->efd[BE]);
	close(x->efd[FE]);
	munmap(x, len);
}

static void run_threads(unsigned int order, uint32_t start, uint64_t n, bool fe_xen)
{
	size_t len;
	struct ix *x = ix_new(order, start, n, fe_xen, !fe_xen, &len);
	struct watchdog w;
	pthread_t be;
	uint64_t t0 = tr_now_ns();

	watchdog_start(&w, x, 0);
	CHECK(pthread_create(&be, NULL, be_thread, x) == 0, "pthread_create");
	run_fe(x);
	pthread_join(be, NULL);
	watchdog_stop(&w);
	ix_report(x, "threads", tr_now_ns() - t0);
	ix_free(x, len);
}

static void run_processes(unsigned int order, uint32_t start, uint64_t n, bool fe_xen)
{
	size_t len;
	struct ix *x = ix_new(order, start, n, fe_xen, !fe_xen, &len);
	struct watchdog w;
	uint64_t t0 = tr_now_ns();
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	CHECK(pid >= 0, "fork: %m");
	if (pid == 0) {
		/* The backend process; dies with the test. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(1);
		run_be(x);
		_exit(0);
	}
	watchdog_start(&w, x, pid);
	run_fe(x);
	CHECK(waitpid(pid, &status, 0) == pid, "waitpid: %m");
	watchdog_stop(&w);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "backend process failed (status %#x)", status);
	ix_report(x, "process", tr_now_ns() - t0);
	ix_free(x, len);
}

int main(void)
{
	uint64_t n = tr_env_u64("PVIO_INTEROP_MSGS", 5000000) / 2;

	setvbuf(stdout, NULL, _IOLBF, 0);
	run_threads(0, 0xfffff000u, n, false);
	run_threads(1, 0, n, true);
	run_processes(2, 0x7ffff800u, n, false);
	run_processes(0, 0xffffff00u, n, true);
	printf("no message lost, duplicated, reordered or corrupted; no lost wake-up\n");
	return 0;
}
