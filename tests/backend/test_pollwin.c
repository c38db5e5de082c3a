/* SPDX-License-Identifier: MIT */
/*
 * The adaptive polling window (evtchn/pollwin.h): caught spins keep it,
 * short waits grow it up to the maximum, long waits shrink it to no
 * spinning, and a zero maximum never spins; a spin that lost its CPU stops
 * spinning and holds off growing for PVIO_POLLWIN_HOLD waits; a clock jump
 * counts as a lost CPU only if the thread was switched out involuntarily
 * since the last jump (another thread ran: not the host, not an interrupt).
 */
#include <pthread.h>

#include "evtchn/pollwin.h"
#include "tests/common/testutil.h"

static int busy_stop;

static void *busy(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&busy_stop, __ATOMIC_ACQUIRE))
		pvio_cpu_relax();
	return NULL;
}

/* pvio_pollwin_lost_cpu: a jump with no switch since the last one is the
 * host's or an interrupt's; one after another thread ran here is lost. */
static void test_lost_cpu(void)
{
	uint64_t jump = PVIO_POLLWIN_GAP_NS + 1;
	long seen = -1, before;
	bool quiet = false;
	cpu_set_t one, all;
	pthread_t th;
	int k;

	/* No jump: never lost, and the count is not even read. */
	CHECK(!pvio_pollwin_lost_cpu(&seen, 1000, 1000 + PVIO_POLLWIN_GAP_NS));
	CHECK_EQ(seen, -1);
	/* The first jump has nothing to compare with: lost. */
	CHECK(pvio_pollwin_lost_cpu(&seen, 0, jump));
	CHECK(seen >= 0);
	/* Right after it, with no switch in between (a preemption between
	 * the two calls is possible, so a few tries): not lost. */
	for (k = 0; k < 5 && !quiet; k++) {
		before = seen;
		quiet = !pvio_pollwin_lost_cpu(&seen, 0, jump);
		CHECK(quiet || seen != before);
	}
	CHECK(quiet);
	/* Another thread runnable on our only CPU, and a yield that lets it
	 * run: involuntary, so the next jump is a lost CPU. */
	REQUIRE(sched_getaffinity(0, sizeof(all), &all) == 0);
	CPU_ZERO(&one);
	for (k = 0; k < CPU_SETSIZE && !CPU_ISSET(k, &all); k++)
		;
	CPU_SET(k, &one);
	REQUIRE(sched_setaffinity(0, sizeof(one), &one) == 0);
	REQUIRE(pthread_create(&th, NULL, busy, NULL) == 0);
	REQUIRE(pthread_setaffinity_np(th, sizeof(one), &one) == 0);
	before = pvio_pollwin_nivcsw();
	for (k = 0; k < 100000 && pvio_pollwin_nivcsw() == before; k++)
		sched_yield();
	CHECK(pvio_pollwin_nivcsw() != before);
	CHECK(pvio_pollwin_lost_cpu(&seen, 0, jump));
	__atomic_store_n(&busy_stop, 1, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	REQUIRE(sched_setaffinity(0, sizeof(all), &all) == 0);
}

int main(void)
{
	struct pvio_pollwin w;

	pvio_pollwin_init(&w, 50000);
	CHECK_EQ(w.cur_ns, 50000);
	pvio_pollwin_update(&w, true, 0);
	CHECK_EQ(w.cur_ns, 50000);
	/* Waits far longer than the window: the spin only burnt time. */
	for (int i = 0; i < 3; i++)
		pvio_pollwin_update(&w, false, 1000000);
	CHECK_EQ(w.cur_ns, 6250);
	for (int i = 0; i < 3; i++)
		pvio_pollwin_update(&w, false, 1000000);
	CHECK_EQ(w.cur_ns, 0);
	/* Short waits: a longer spin would have caught them. */
	pvio_pollwin_update(&w, false, 20000);
	CHECK_EQ(w.cur_ns, PVIO_POLLWIN_START_NS);
	for (int i = 0; i < 10; i++)
		pvio_pollwin_update(&w, false, 20000);
	CHECK_EQ(w.cur_ns, 50000);
	/* Exactly at the maximum counts as short. */
	pvio_pollwin_update(&w, false, 50000);
	CHECK_EQ(w.cur_ns, 50000);
	pvio_pollwin_init(&w, 0);
	pvio_pollwin_update(&w, false, 10);
	pvio_pollwin_update(&w, false, 10000000);
	CHECK_EQ(w.cur_ns, 0);
	/* A maximum below the first step: it is the step. */
	pvio_pollwin_init(&w, 1000);
	pvio_pollwin_update(&w, false, 1000000);
	CHECK_EQ(w.cur_ns, 0);
	pvio_pollwin_update(&w, false, 500);
	CHECK_EQ(w.cur_ns, 1000);
	/* The CPU lost during a spin: no spinning, and short waits do not
	 * grow the window again until the hold is over. */
	CHECK(!pvio_pollwin_gap(1000, 1000 + PVIO_POLLWIN_GAP_NS));
	CHECK(pvio_pollwin_gap(1000, 1001 + PVIO_POLLWIN_GAP_NS));
	pvio_pollwin_init(&w, 50000);
	pvio_pollwin_lost(&w);
	CHECK_EQ(w.cur_ns, 0);
	for (unsigned i = 0; i < PVIO_POLLWIN_HOLD; i++)
		pvio_pollwin_update(&w, false, 20000);
	CHECK_EQ(w.cur_ns, 0);
	pvio_pollwin_update(&w, false, 20000);
	CHECK_EQ(w.cur_ns, PVIO_POLLWIN_START_NS);
	/* A caught spin during the hold leaves both as they are. */
	pvio_pollwin_lost(&w);
	pvio_pollwin_update(&w, true, 0);
	CHECK_EQ(w.hold, PVIO_POLLWIN_HOLD);
	/* Lost twice: the hold starts over, it does not add up. */
	pvio_pollwin_update(&w, false, 20000);
	pvio_pollwin_lost(&w);
	CHECK_EQ(w.hold, PVIO_POLLWIN_HOLD);
	test_lost_cpu();
	return tu_result();
}
