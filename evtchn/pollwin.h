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
 * So one guest and its backend on two CPUs keep spinning (microsecond
 * round trips), while many guests sharing a few CPUs stop spinning and
 * leave the CPUs to the backend that serves them.
 */
#ifndef PVIO_EVTCHN_POLLWIN_H
#define PVIO_EVTCHN_POLLWIN_H

#include <stdbool.h>
#include <stdint.h>

#define PVIO_POLLWIN_START_NS 2000u   /* first step up from no spinning */

struct pvio_pollwin {
	uint32_t cur_ns;   /* spin this long now */
	uint32_t max_ns;   /* never more (the user's --poll-us) */
};

static inline void pvio_pollwin_init(struct pvio_pollwin *w, uint32_t max_ns)
{
	w->cur_ns = max_ns;
	w->max_ns = max_ns;
}

/* After a wait: caught = the spin saw the event; waited_ns = spin + sleep. */
static inline void pvio_pollwin_update(struct pvio_pollwin *w, bool caught, uint64_t waited_ns)
{
	if (caught || !w->max_ns)
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

#endif /* PVIO_EVTCHN_POLLWIN_H */
