/* SPDX-License-Identifier: MIT */
/*
 * An adaptive polling window, after KVM's halt polling: before sleeping on
 * its event channel, a waiter spins on the ring for up to cur_ns. When
 * nothing came during the spin and the whole wait (spin + sleep) still
 * ended within max_ns, a longer spin would have caught it: the window
 * grows. A wait longer than max_ns means spinning only burnt time (the
 * peer was idle, or could not run because the CPUs are taken, by spinning
 * waiters among others): the window shrinks, down to no spinning at all.
 * A spin that catches the event leaves the window as it is.
 *
 * Waits alone cannot tell a spinner that it keeps someone else off the
 * CPU: with more spinners than CPUs (two fio jobs and two backend workers
 * on two CPUs) every wait is short because each spinner is eventually
 * preempted, so every window stays at its maximum and the spinners take
 * turns burning the CPUs. Two rules for that: a spin longer than
 * PVIO_POLLWIN_YIELD_NS yields between two looks (sched_yield returns at
 * once when nobody else is runnable there), and a spin whose clock jumped
 * by more than PVIO_POLLWIN_GAP_NS between two looks, its thread switched
 * out involuntarily since the last jump, lost its CPU to another thread:
 * the window drops to nothing and may not grow for the next waits: 8 after
 * a loss that follows a calm stretch, twice the last hold (up to
 * PVIO_POLLWIN_HOLD) after one that follows the last hold closely. A
 * spinner that keeps losing its CPU (more spinners than CPUs) so stops for
 * hundreds of waits; one that an RCU kthread or a control thread preempts
 * now and then (a few dozen times a second on a guest's CPU here) stops
 * for a few waits only. With a fixed hold of 256 those sporadic losses
 * kept a lone guest from spinning for half its waits.
 *
 * So one guest and its backend on two CPUs keep spinning (microsecond
 * round trips), while many guests sharing a few CPUs stop spinning and
 * leave the CPUs to the backend that serves them.
 */
#ifndef PVIO_EVTCHN_POLLWIN_H
#define PVIO_EVTCHN_POLLWIN_H

#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/resource.h>

#include "ring/pvio_atomic.h"

#define PVIO_POLLWIN_START_NS 2000u   /* first step up from no spinning */
#define PVIO_POLLWIN_GAP_NS   20000u  /* a spin loop's clock jumped: it was descheduled */
#define PVIO_POLLWIN_YIELD_NS 10000u  /* spin this long, then yield between looks */
#define PVIO_POLLWIN_HOLD_MIN 8u      /* waits without growing after a lone lost spin */
#define PVIO_POLLWIN_HOLD     256u    /* ... after losses in a row, at most */
#define PVIO_POLLWIN_CALM     16u     /* waits past the hold that make the next loss lone */

struct pvio_pollwin {
	uint32_t cur_ns;   /* spin this long now */
	uint32_t max_ns;   /* never more (the user's --poll-us) */
	uint32_t hold;     /* waits to go before the window may grow again */
	uint32_t hold_len; /* the last hold given */
	uint32_t since;    /* waits since the last loss (saturates) */
};

static inline void pvio_pollwin_init(struct pvio_pollwin *w, uint32_t max_ns)
{
	w->cur_ns = max_ns;
	w->max_ns = max_ns;
	w->hold = 0;
	w->hold_len = 0;
	w->since = UINT32_MAX;
}

/* The spin lost its CPU (pvio_pollwin_gap): another task was runnable here
 * and waited for the spinner. Stop spinning, and stay so for a while: on
 * contended CPUs waits are short because the others run, and growing back
 * each time would take their time again. How long: see the top. */
static inline void pvio_pollwin_lost(struct pvio_pollwin *w)
{
	if (w->hold_len && w->since <= w->hold_len + PVIO_POLLWIN_CALM)
		w->hold_len = w->hold_len * 2 < PVIO_POLLWIN_HOLD ? w->hold_len * 2 :
			      PVIO_POLLWIN_HOLD;
	else
		w->hold_len = PVIO_POLLWIN_HOLD_MIN;
	w->cur_ns = 0;
	w->hold = w->hold_len;
	w->since = 0;
}

/* Between two looks of a spin that has gone on for spun_ns: a short pause,
 * or once past PVIO_POLLWIN_YIELD_NS, whoever is runnable here first. */
static inline void pvio_pollwin_pause(uint64_t spun_ns)
{
	if (spun_ns < PVIO_POLLWIN_YIELD_NS)
		for (int i = 0; i < 32; i++)
			pvio_cpu_relax();
	else
		sched_yield();
}

/* Between two clock reads of a spin loop, prev and now: did the clock jump? */
static inline bool pvio_pollwin_gap(uint64_t prev, uint64_t now)
{
	return now - prev > PVIO_POLLWIN_GAP_NS;
}

/* The calling thread's involuntary context switches so far (-1: unknown). */
static inline long pvio_pollwin_nivcsw(void)
{
	struct rusage ru;

	return getrusage(RUSAGE_THREAD, &ru) == 0 ? ru.ru_nivcsw : -1;
}

/*
 * Between two clock reads of a spin loop: was the CPU lost to another
 * thread? A jump alone does not say so: a virtual CPU that its host
 * preempted, or that handled an interrupt, jumps too, and then no thread
 * here waited for the spinner. Another thread ran here only if this one
 * was switched out involuntarily (preempted, or a yield that gave the CPU
 * away) since the last jump. *seen keeps the count per spinner; it is read
 * only on a jump, so a spin costs no system call. Measured on this VM
 * (fio-pvio, direct 4k QD1): 230 of 244 jumps (up to 107 us) came with no
 * switch at all, and each had stopped the guest's spinning for 256 waits.
 */
static inline bool pvio_pollwin_lost_cpu(long *seen, uint64_t prev, uint64_t now)
{
	long n;

	if (!pvio_pollwin_gap(prev, now))
		return false;
	n = pvio_pollwin_nivcsw();
	if (n >= 0 && n == *seen)
		return false;
	*seen = n;
	return true;
}

/* After a wait: caught = the spin (or the look after a hybrid sleep) saw
 * the event; waited_ns = spin + sleep. Every wait counts down a hold. */
static inline void pvio_pollwin_update(struct pvio_pollwin *w, bool caught, uint64_t waited_ns)
{
	if (!w->max_ns)
		return;
	if (w->since != UINT32_MAX)
		w->since++;
	if (w->hold) {
		w->hold--;
		return;
	}
	if (caught)
		return;
	if (waited_ns > w->max_ns) {
		w->cur_ns /= 2;
		if (w->cur_ns < PVIO_POLLWIN_START_NS)
			w->cur_ns = 0;
	} else if (w->cur_ns < w->max_ns) {
		uint32_t n = w->cur_ns ? w->cur_ns * 2 : PVIO_POLLWIN_START_NS;

		w->cur_ns = n < w->max_ns ? n : w->max_ns;
	}
}

/*
 * Hybrid polling, after blk-mq's: for waits too long for the window (a
 * round of 16 buffered 128 KiB reads in the backend, a disk's round of
 * direct reads: 100-500 us), sleep on a timer for half the usual wait,
 * without asking the peer for an event, then spin for the rest. The
 * peer's notification is what this saves: in a VM, waking a thread whose
 * virtual CPU halted costs the waker an IPI exit (measured here: 14.5 us of
 * the backend's CPU per eventfd write that wakes, against 0.16 us with no
 * sleeper) and the sleeper 30-40 us before it runs; a local timer costs the
 * peer nothing, and it expires while the response is still on its way.
 * Past 500 us a wait sleeps on the event: the wake-up is a few percent of
 * it, less than the spin would burn (direct 128k reads QD16, which wait
 * about 1 ms, went 1.023 1.014 with a 2 ms cap and 1.107 1.059 with this
 * one, pvio/native). Used by blkfront's reap.
 *
 * wait_ns estimates the wait from the first empty look to the first
 * response: a moving average of the waits (exact when the spin caught the
 * response; one that ended asleep on the event adds the wake-up's 30-40
 * us). A response already there at the first look after the timer means
 * the sleep was too long (the wait measured then is the sleep's, not the
 * peer's), so instead of a sample the estimate comes down by a quarter;
 * without that, sleeping longer would measure longer waits and sleep
 * longer still.
 */
#define PVIO_HYBRID_MAX_NS   500000u   /* longer waits: the event's cost is small beside them */
#define PVIO_HYBRID_MIN_SLEEP 20000u   /* shorter sleeps: not worth a timer */

struct pvio_hybrid {
	uint32_t wait_ns;   /* estimated wait; 0 = none yet */
};

/* Whether a wait expected to take h->wait_ns should sleep on a timer first:
 * longer than the window's maximum can catch, and short enough to matter.
 * The sleep leaves the CPU to others, so it is used even while the window
 * holds off after a lost CPU; the spin after it is the caller's to limit
 * then (pvio_hybrid_spin_ns). */
static inline bool pvio_hybrid_use(const struct pvio_hybrid *h, const struct pvio_pollwin *w)
{
	return w->max_ns && h->wait_ns > w->max_ns &&
	       h->wait_ns <= PVIO_HYBRID_MAX_NS;
}

/* How long to sleep now, elapsed_ns into the wait: half the estimate, less
 * what has passed; 0 when that is too short for a timer. */
static inline uint64_t pvio_hybrid_sleep_ns(const struct pvio_hybrid *h, uint64_t elapsed_ns)
{
	uint64_t half = h->wait_ns / 2;

	return half > elapsed_ns + PVIO_HYBRID_MIN_SLEEP ? half - elapsed_ns : 0;
}

/* How long to spin after the timer: up to twice the estimate (the waits
 * have a tail: with the estimate alone, one wait in five still ended
 * asleep on the event in cached 128k reads; with twice, one in twenty-five,
 * and pvio/native went 0.888 0.863 -> 0.943 0.949 at the same CPU), or
 * only the window (none) while it holds off after a lost CPU, where
 * spinners take the CPU from the peer they wait for. */
static inline uint32_t pvio_hybrid_spin_ns(const struct pvio_hybrid *h,
					   const struct pvio_pollwin *w)
{
	return w->hold || w->cur_ns >= 2 * h->wait_ns ? w->cur_ns : 2 * h->wait_ns;
}

/* A wait ended after waited_ns. early: the response was there at the first
 * look after the timer (the estimate was too long). */
static inline void pvio_hybrid_sample(struct pvio_hybrid *h, uint64_t waited_ns, bool early)
{
	int64_t d;

	if (early) {
		h->wait_ns -= h->wait_ns / 4;
		return;
	}
	if (waited_ns > 2ull * PVIO_HYBRID_MAX_NS)
		waited_ns = 2ull * PVIO_HYBRID_MAX_NS;
	if (!h->wait_ns) {
		h->wait_ns = (uint32_t)waited_ns;
		return;
	}
	d = (int64_t)waited_ns - (int64_t)h->wait_ns;
	h->wait_ns = (uint32_t)((int64_t)h->wait_ns + d / 8);
}

/* Sleep ns on the calling thread's own timer (a timerfd: no timer slack,
 * unlike nanosleep's 50 us). 0, or -errno (no timer could be had: the
 * caller waits the usual way). evtchn/pollwin.c. */
int pvio_hybrid_sleep(uint64_t ns);

#endif /* PVIO_EVTCHN_POLLWIN_H */
