/* SPDX-License-Identifier: MIT */
/* Helpers shared by the ring engine's test programs (pvio side). */
#ifndef PVIO_TESTS_RING_TEST_H
#define PVIO_TESTS_RING_TEST_H

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ring/ring.h"
#include "tests/ring/ring_msg.h"

/* The typed layer for the test messages: union tr_slot is 112 bytes. */
PVIO_RING_DEFINE(tr, struct tr_req, struct tr_rsp);
_Static_assert(sizeof(union tr_slot) == 112, "slot");

/* Fail the whole program from any thread: stdout is flushed, no atexit work
 * races with threads still running. */
#define FAIL(...) do {                                                        \
	fflush(stdout);                                                      \
	fprintf(stderr, "%s:%d: FAIL: ", __FILE__, __LINE__);                \
	fprintf(stderr, __VA_ARGS__);                                        \
	fprintf(stderr, "\n");                                               \
	_exit(1);                                                            \
} while (0)

#define CHECK(cond, ...) do {                                                 \
	if (!(cond)) {                                                        \
		fflush(stdout);                                              \
		fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__,        \
			__LINE__, #cond);                                      \
		fprintf(stderr, __VA_ARGS__);                                 \
		fprintf(stderr, "\n");                                        \
		_exit(1);                                                     \
	}                                                                     \
} while (0)

#define CHECK_EQ(a, b) do {                                                   \
	long long a_ = (long long)(a), b_ = (long long)(b);                   \
	CHECK(a_ == b_, "%s = %lld, %s = %lld", #a, a_, #b, b_);               \
} while (0)

static inline uint64_t tr_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* A positive integer from the environment, or def. */
static inline uint64_t tr_env_u64(const char *name, uint64_t def)
{
	const char *s = getenv(name);
	char *end;
	unsigned long long v;

	if (!s || !*s)
		return def;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end || v == 0) {
		fprintf(stderr, "ignoring %s=%s (want a positive integer)\n", name, s);
		return def;
	}
	return v;
}

/* Page-aligned zeroed memory for a shared ring of 2^order pages. */
static inline void *tr_ring_alloc(unsigned int order)
{
	size_t bytes = (size_t)PVIO_PAGE_SIZE << order;
	void *p = aligned_alloc(PVIO_PAGE_SIZE, bytes);

	CHECK(p != NULL, "aligned_alloc(%zu)", bytes);
	memset(p, 0, bytes);
	return p;
}

/* Whether the program was built with AddressSanitizer (for time budgets). */
#if defined(__SANITIZE_ADDRESS__)
#define TR_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TR_ASAN 1
#endif
#endif
#ifndef TR_ASAN
#define TR_ASAN 0
#endif

#endif /* PVIO_TESTS_RING_TEST_H */
