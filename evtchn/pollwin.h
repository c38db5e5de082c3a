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
 * the window drops to nothing and may not grow for the next
 * PVIO_POLLWIN_HOLD waits.
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
#define PVIO_POLLWIN_HOLD     256u    /* waits without growing after a lost spin */

struct pvio_pollwin {
	uint32_t cur_ns;   /* spin this long now */
	uint32_t max_ns;   /* never more (the user's --poll-us) */
	uint32_t hold;     /* waits to go before the window may grow again */
};

static inline void pvio_pollwin_init(struct pvio_pollwin *w, uint32_t max_ns)
{
	w->cur_ns = max_ns;
	w->max_ns = max_ns;
	w->hold = 0;
}

/* The spin lost its CPU (pvio_pollwin_gap): another task was runnable here
 * and waited for the spinner. Stop spinning, and stay so for a while: on
 * contended CPUs waits are short because the others run, and growing back
 * each time would take their time again. */
static inline void pvio_pollwin_lost(struct pvio_pollwin *w)
{
	w->cur_ns = 0;
	w->hold = PVIO_POLLWIN_HOLD;
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

/* After a wait: caught = the spin saw the event; waited_ns = spin + sleep. */
static inline void pvio_pollwin_update(struct pvio_pollwin *w, bool caught, uint64_t waited_ns)
{
	if (caught || !w->max_ns)
		return;
	if (w->hold) {
		w->hold--;
		return;
	}
	if (waited_ns > w->max_ns) {
		w->cur_ns /= 2;
		if (w->cur_ns < PVIO_POLLWIN_START_NS)
			w->cur_ns = 0;
	} else if (w->cur_ns < w->max_ns) {
		uint32_t n = w->cur_ns ? w->cur_ns * 2 : PVIO_POLLWIN_START_NS;

		w->cur_ns = n < w->max_ns ? n : w->max_ns;
	}
}

#endif /* PVIO_EVTCHN_POLLWIN_H */
