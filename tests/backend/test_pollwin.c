/* SPDX-License-Identifier: MIT */
/*
 * The adaptive polling window (evtchn/pollwin.h): caught spins keep it,
 * short waits grow it up to the maximum, long waits shrink it to no
 * spinning, and a zero maximum never spins; a spin that lost its CPU stops
 * spinning and holds off growing for PVIO_POLLWIN_HOLD waits.
 */
#include "evtchn/pollwin.h"
#include "tests/common/testutil.h"

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
	return tu_result();
}
