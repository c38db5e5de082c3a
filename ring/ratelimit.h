/* SPDX-License-Identifier: MIT */
/*
 * A per-second budget for the log messages a peer can trigger (STYLE.md
 * rule 9), for every layer: header-only, needs nothing but libc.
 *
 *	if (!pvio_ratelimit_allow(&q->log_rl, 10, &note)) ...
 *
 * Not thread-safe: the caller serialises the calls on one struct (its own
 * lock, or a struct only one thread uses). Each caller keeps its own
 * message format; this only says whether a message may go out.
 */
#ifndef PVIO_RATELIMIT_H
#define PVIO_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct pvio_ratelimit {
	uint64_t second;             /* CLOCK_MONOTONIC second of budget (0: none yet) */
	unsigned budget;             /* messages left in that second */
};

/*
 * May one more message go out now? burst: messages per second. Starts from
 * a zeroed struct. suppressed (may be NULL) is set when this call opens a
 * new second after an earlier one ran out of budget: the caller says once
 * that messages were suppressed (before its own message, if any).
 */
static inline bool pvio_ratelimit_allow_at(struct pvio_ratelimit *rl, unsigned burst,
					   uint64_t sec, bool *suppressed)
{
	bool note = false;

	if (sec != rl->second) {
		note = rl->budget == 0 && rl->second;
		rl->second = sec;
		rl->budget = burst;
	}
	if (suppressed)
		*suppressed = note;
	if (rl->budget == 0)
		return false;
	rl->budget--;
	return true;
}

/* The same, now (CLOCK_MONOTONIC seconds; _at takes them from the caller). */
static inline bool pvio_ratelimit_allow(struct pvio_ratelimit *rl, unsigned burst,
					bool *suppressed)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return pvio_ratelimit_allow_at(rl, burst, (uint64_t)ts.tv_sec, suppressed);
}

#endif /* PVIO_RATELIMIT_H */
