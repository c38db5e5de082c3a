/* SPDX-License-Identifier: MIT */
/*
 * The adaptive polling window (evtchn/pollwin.h): caught spins keep it,
 * short waits grow it up to the maximum, long waits shrink it to no
 * spinning, and a zero maximum never spins; a spin that lost its CPU stops
 * spinning and holds off growing for a few waits, more after losses in a
 * row, up to PVIO_POLLWIN_HOLD; a clock jump
 * counts as a lost CPU only if the thread was switched out involuntarily
 * since the last jump (another thread ran: not the host, not an interrupt).
 * Hybrid polling: when a wait sleeps on a timer first, for how long, how
 * the estimate follows the waits, and the per-thread timer.
 */
#include <dirent.h>
#include <pthread.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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

static uint64_t mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void *sleeper(void *arg)
{
	*(int *)arg = pvio_hybrid_sleep(30000);
	return NULL;
}

/* Hybrid polling: when it applies, how long it sleeps and spins, how the
 * estimate follows the waits, and the timer itself. */
static void test_hybrid(void)
{
	struct pvio_pollwin w;
	struct pvio_hybrid h = { 0 };
	uint64_t t;
	pthread_t th;
	int fds, r = -1;

	pvio_pollwin_init(&w, 50000);
	/* No estimate yet, or waits the window catches: no timer. */
	CHECK(!pvio_hybrid_use(&h, &w));
	pvio_hybrid_sample(&h, 40000, false);
	CHECK_EQ(h.wait_ns, 40000);
	CHECK(!pvio_hybrid_use(&h, &w));
	/* The first long wait is taken as it is; later ones move the
	 * estimate an eighth of the way. */
	h.wait_ns = 0;
	pvio_hybrid_sample(&h, 400000, false);
	CHECK_EQ(h.wait_ns, 400000);
	CHECK(pvio_hybrid_use(&h, &w));
	pvio_hybrid_sample(&h, 480000, false);
	CHECK_EQ(h.wait_ns, 410000);
	pvio_hybrid_sample(&h, 330000, false);
	CHECK_EQ(h.wait_ns, 400000);
	/* Sleep half the wait, less what has passed; nothing when that is
	 * too short for a timer. */
	CHECK_EQ(pvio_hybrid_sleep_ns(&h, 0), 200000);
	CHECK_EQ(pvio_hybrid_sleep_ns(&h, 50000), 150000);
	CHECK_EQ(pvio_hybrid_sleep_ns(&h, 200000 - PVIO_HYBRID_MIN_SLEEP), 0);
	CHECK_EQ(pvio_hybrid_sleep_ns(&h, 300000), 0);
	/* Then spin up to twice the estimate; only the window's spin (none)
	 * while the window holds off after a lost CPU. */
	CHECK_EQ(pvio_hybrid_spin_ns(&h, &w), 800000);
	pvio_pollwin_lost(&w);
	CHECK(pvio_hybrid_use(&h, &w));
	CHECK_EQ(pvio_hybrid_spin_ns(&h, &w), 0);
	pvio_pollwin_init(&w, 50000);
	/* Found already there after the timer: the sleep was too long. */
	pvio_hybrid_sample(&h, 900000, true);
	CHECK_EQ(h.wait_ns, 300000);
	/* A wait far past the cap counts as the cap's double; past the cap
	 * no timer (the event's cost is small beside such waits). */
	h.wait_ns = 0;
	pvio_hybrid_sample(&h, 60000000000ull, false);
	CHECK_EQ(h.wait_ns, 2 * PVIO_HYBRID_MAX_NS);
	CHECK(!pvio_hybrid_use(&h, &w));
	h.wait_ns = PVIO_HYBRID_MAX_NS;
	CHECK(pvio_hybrid_use(&h, &w));
	/* A zero window (polling off) never sleeps on a timer either. */
	pvio_pollwin_init(&w, 0);
	CHECK(!pvio_hybrid_use(&h, &w));

	/* The timer never ends a sleep early, and zero does not sleep. */
	CHECK_EQ(pvio_hybrid_sleep(0), 0);
	for (int i = 0; i < 20; i++) {
		t = mono();
		CHECK_EQ(pvio_hybrid_sleep(50000 + 10000 * (unsigned)i), 0);
		CHECK(mono() - t >= 50000 + 10000 * (unsigned)i);
	}
	/* One timer per thread, closed when the thread ends. */
	fds = count_fds();
	REQUIRE(pthread_create(&th, NULL, sleeper, &r) == 0);
	pthread_join(th, NULL);
	CHECK_EQ(r, 0);
	CHECK_EQ(count_fds(), fds);
	/* A child of fork() sleeps on a timer of its own: with the parent's
	 * (shared) one, each would take the other's expiries and one of them
	 * would block for good; alarm() turns that into a failure. */
	{
		pid_t pid = fork();
		int status = 0;

		REQUIRE(pid >= 0);
		if (pid == 0) {
			alarm(20);
			for (int i = 0; i < 300; i++)
				if (pvio_hybrid_sleep(40000) != 0)
					_exit(2);
			_exit(0);
		}
		alarm(30);
		for (int i = 0; i < 300; i++)
			CHECK_EQ(pvio_hybrid_sleep(40000), 0);
		REQUIRE(waitpid(pid, &status, 0) == pid);
		alarm(0);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
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
	CHECK_EQ(w.hold, PVIO_POLLWIN_HOLD_MIN);
	for (unsigned i = 0; i < PVIO_POLLWIN_HOLD_MIN; i++)
		pvio_pollwin_update(&w, false, 20000);
	CHECK_EQ(w.cur_ns, 0);
	pvio_pollwin_update(&w, false, 20000);
	CHECK_EQ(w.cur_ns, PVIO_POLLWIN_START_NS);
	/* Losses in a row (each soon after the last hold): the hold doubles
	 * up to its maximum, and a caught wait counts it down too. */
	{
		uint32_t len = PVIO_POLLWIN_HOLD_MIN, waits = 0;

		while (len < PVIO_POLLWIN_HOLD) {
			pvio_pollwin_update(&w, false, 20000);
			pvio_pollwin_lost(&w);
			len *= 2;
			CHECK_EQ(w.hold, len);
			CHECK_EQ(w.cur_ns, 0);
			pvio_pollwin_update(&w, true, 0);
			CHECK_EQ(w.hold, len - 1);
			while (w.hold)
				pvio_pollwin_update(&w, false, 20000);
			waits++;
		}
		CHECK_EQ(waits, 5);
		pvio_pollwin_lost(&w);
		CHECK_EQ(w.hold, PVIO_POLLWIN_HOLD);
	}
	/* A loss after a calm stretch past the hold is a lone one again. */
	while (w.hold)
		pvio_pollwin_update(&w, false, 20000);
	for (unsigned i = 0; i <= PVIO_POLLWIN_CALM; i++)
		pvio_pollwin_update(&w, false, 20000);
	CHECK(w.cur_ns > 0);
	pvio_pollwin_lost(&w);
	CHECK_EQ(w.hold, PVIO_POLLWIN_HOLD_MIN);
	/* Just inside the calm stretch: still in a row. */
	while (w.hold)
		pvio_pollwin_update(&w, false, 20000);
	for (unsigned i = 0; i < PVIO_POLLWIN_CALM; i++)
		pvio_pollwin_update(&w, false, 20000);
	pvio_pollwin_lost(&w);
	CHECK_EQ(w.hold, 2 * PVIO_POLLWIN_HOLD_MIN);
	test_lost_cpu();
	test_hybrid();
	return tu_result();
}
