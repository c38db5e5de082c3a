/* SPDX-License-Identifier: MIT */
/*
 * ring/ratelimit.h: the per-second budget of peer-triggered log messages.
 * Seconds are given explicitly (pvio_ratelimit_allow_at), so nothing here
 * waits for the clock.
 */
#include "ring/ratelimit.h"
#include "tests/common/testutil.h"

static unsigned burst_of(struct pvio_ratelimit *rl, unsigned burst, uint64_t sec,
			 unsigned tries, unsigned *notes)
{
	unsigned ok = 0;

	for (unsigned i = 0; i < tries; i++) {
		bool note = true;

		ok += pvio_ratelimit_allow_at(rl, burst, sec, &note);
		*notes += note;
	}
	return ok;
}

int main(void)
{
	struct pvio_ratelimit rl = { 0 };
	unsigned notes = 0;
	bool note;

	/* A fresh struct: the budget of the first second, then refusals,
	 * and no "suppressed" note within the second. */
	CHECK_EQ(burst_of(&rl, 10, 100, 25, &notes), 10);
	CHECK_EQ(notes, 0);
	/* The next second: one note (on its first call), a new budget. */
	notes = 0;
	CHECK_EQ(burst_of(&rl, 10, 101, 3, &notes), 3);
	CHECK_EQ(notes, 1);
	/* A second whose budget was not used up: no note after it. */
	notes = 0;
	CHECK_EQ(burst_of(&rl, 10, 102, 10, &notes), 10);
	CHECK_EQ(notes, 0);
	/* Exactly used up (the 11th refused) then a jump of many seconds:
	 * one note, full budget again. */
	CHECK(!pvio_ratelimit_allow_at(&rl, 10, 102, &note));
	CHECK(!note);
	notes = 0;
	CHECK_EQ(burst_of(&rl, 10, 5000, 12, &notes), 10);
	CHECK_EQ(notes, 1);
	/* suppressed may be NULL; a burst of 0 allows nothing. */
	CHECK(pvio_ratelimit_allow_at(&rl, 10, 5001, NULL));
	{
		struct pvio_ratelimit z = { 0 };

		CHECK(!pvio_ratelimit_allow_at(&z, 0, 7, &note));
		CHECK(!note);
	}
	/* The clock version: within one call burst the same second (or the
	 * next): never more than 2 x burst allowed out of many calls. */
	{
		struct pvio_ratelimit c = { 0 };
		unsigned ok = 0;

		for (int i = 0; i < 1000; i++)
			ok += pvio_ratelimit_allow(&c, 5, NULL);
		CHECK(ok >= 5 && ok <= 10);
	}
	return tu_result();
}
