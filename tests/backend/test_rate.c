/* SPDX-License-Identifier: MIT */
/*
 * backend/throttle.h, the vif half: xl's rate= grammar (good strings and
 * the values libxl would store; bad ones refused with a message naming the
 * fault), the backend key "<bytes>,<usec>", and netback's credit on a
 * synthetic clock: a saturating sender gets the rate (counted in credit
 * decisions, not wall time), whatever its frame size, no credit window
 * carries more than bytes + largest frame, a maximum-size frame
 * always passes in the end, a refused packet waits for the next
 * replenish, and a live change takes effect at once.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "backend/throttle.h"
#include "tests/common/testutil.h"

#define MS 1000000ull
#define S  1000000000ull
#define MAX_FRAME 65535u

static void good(const char *s, uint64_t want_bytes, uint32_t want_usec)
{
	char err[256] = "";
	uint64_t b = 0;
	uint32_t u = 0;
	int r = pvio_rate_parse(s, &b, &u, err, sizeof(err));

	if (r != 0 || b != want_bytes || u != want_usec) {
		fprintf(stderr, "FAIL: '%s': r=%d bytes=%llu usec=%u (want %llu,%u) %s\n", s, r,
			(unsigned long long)b, u, (unsigned long long)want_bytes, want_usec, err);
		tu_failures++;
	}
}

static void bad(const char *s, int want_r, const char *want_msg)
{
	char err[256] = "";
	uint64_t b = 7;
	uint32_t u = 7;
	int r = pvio_rate_parse(s, &b, &u, err, sizeof(err));

	if (r != want_r || !strstr(err, want_msg) || b != 7 || u != 7) {
		fprintf(stderr, "FAIL: '%s': r=%d err='%s' (want %d and '%s', outputs untouched)\n",
			s, r, err, want_r, want_msg);
		tu_failures++;
	} else {
		printf("refused %-28s %s\n", s, err);
	}
}

static void test_rate_parse(void)
{
	/* xl's examples and units: b = bits, B = bytes, K/M/G = 1000s. */
	good("10Mb/s", 62500, 50000);                    /* 1.25 MB/s x 50 ms */
	good("10Mb/s@20ms", 25000, 20000);
	good("10MB/s@20ms", 200000, 20000);
	good("100KB/s@1s", 100000, 1000000);
	good("100Kb/s@1", 12500, 1000000);               /* no unit: seconds */
	good("1GB/s@20000us", 20000000, 20000);
	good("1Gb/s@5m", 625000, 5000);                  /* m = ms */
	good("50Mb/s@100u", 625, 100);                   /* u = us */
	good("5B/s@1s", 5, 1000000);
	good("4294967295B/s", 4294967295ull / 20, 50000);
	good("4294967295GB/s@1us", 4294967295000ull, 1);

	bad("", -EINVAL, "no rate");
	bad("@20ms", -EINVAL, "no rate");
	bad("-10Mb/s", -EINVAL, "is not RATE");
	bad("Mb/s", -EINVAL, "is not RATE");
	bad("10Tb/s", -EINVAL, "unknown unit");
	bad("10mb/s", -EINVAL, "unknown unit");
	bad("10Mb", -EINVAL, "unknown unit");
	bad("10Mbit/s", -EINVAL, "unknown unit");
	bad("10 Mb/s", -EINVAL, "unknown unit");
	bad("10Mb/s@", -EINVAL, "invalid replenishment interval");
	bad("10Mb/s@-5ms", -EINVAL, "invalid replenishment interval");
	bad("10Mb/s@20h", -EINVAL, "unknown interval unit");
	bad("10Mb/s@20ms@1", -EINVAL, "unknown interval unit");
	bad("0Mb/s", -EINVAL, "above 0");
	bad("10Mb/s@0ms", -EINVAL, "above 0");
	bad("4294967296b/s", -ERANGE, "overflow");
	bad("99999999999999999999999Mb/s", -ERANGE, "overflow");
	bad("10Mb/s@4294968s", -ERANGE, "interval overflow");
	bad("10Mb/s@99999999999999999999999us", -ERANGE, "interval overflow");
	bad("4294967295GB/s@4294s", -ERANGE, "rate overflow");
	bad("1b/s@1ms", -EINVAL, "less than one byte");
}

static void test_key_parse(void)
{
	static const char *const bads[] = { "", "abc", "1,", ",1", "1,2,3", "-1,5", "1, 2",
					    "0,50000", "1,99999999999", "99999999999999999999999,1" };
	char err[128];
	uint64_t b, u;

	CHECK_EQ(pvio_rate_key_parse("62500,50000", &b, &u, err, sizeof(err)), 0);
	CHECK_EQ(b, 62500);
	CHECK_EQ(u, 50000);
	/* Interval 0: unlimited (Linux's default when there is no key). */
	CHECK_EQ(pvio_rate_key_parse("0,0", &b, &u, err, sizeof(err)), 0);
	CHECK_EQ(u, 0);
	for (unsigned i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		err[0] = 0;
		if (pvio_rate_key_parse(bads[i], &b, &u, err, sizeof(err)) != -EINVAL || !err[0]) {
			fprintf(stderr, "FAIL: key '%s' accepted\n", bads[i]);
			tu_failures++;
		}
	}
	pvio_rate_describe(62500, 50000, err, sizeof(err));
	CHECK(strstr(err, "10 Mbit/s") != NULL);
}

/*
 * A sender that always has a packet of `size` bytes ready, served by a
 * poller that comes back when told to (after *wait) or every poll_ns:
 * runs until `until`, checks that no credit window (between two
 * replenishes) carries more than bytes + max frame, and returns the
 * bytes that went.
 */
static uint64_t saturate(struct pvio_credit *c, uint32_t size, uint64_t *now, uint64_t until,
			 uint64_t poll_ns)
{
	uint64_t total = 0, in_window = 0, last_rep = c->replenishes, worst = 0;
	uint64_t cap = c->bytes + c->max_frame;

	while (*now < until) {
		uint64_t w = 0;

		if (pvio_credit_take(c, size, *now, &w)) {
			if (c->replenishes != last_rep) {
				last_rep = c->replenishes;
				in_window = 0;
			}
			total += size;
			in_window += size;
			if (in_window > worst)
				worst = in_window;
			continue;
		}
		CHECK(w > 0);
		if (c->replenishes != last_rep) {
			last_rep = c->replenishes;
			in_window = 0;
		}
		*now += poll_ns ? poll_ns : w;
	}
	if (worst > cap) {
		fprintf(stderr, "FAIL: a credit window carried %llu bytes (cap %llu)\n",
			(unsigned long long)worst, (unsigned long long)cap);
		tu_failures++;
	}
	return total;
}

static void expect_rate(const char *what, uint64_t got, double want)
{
	double ratio = (double)got / want;

	printf("%-44s %12llu bytes, %.4f of the rate\n", what, (unsigned long long)got, ratio);
	if (ratio < 0.98 || ratio > 1.02) {
		fprintf(stderr, "FAIL: %s: %llu bytes, want %.0f +-2%%\n", what,
			(unsigned long long)got, want);
		tu_failures++;
	}
}

static void test_credit(void)
{
	struct pvio_credit c;
	uint64_t now = 5 * S, w, b;
	uint32_t u;

	/* Unlimited. */
	pvio_credit_init(&c, MAX_FRAME);
	CHECK(!pvio_credit_limited(&c));
	for (int i = 0; i < 1000; i++)
		CHECK(pvio_credit_take(&c, MAX_FRAME, now, &w));

	/* 10Mb/s@50ms: 1.25 MB/s, whatever the frame size and however the
	 * poller comes back (woken at the replenish, or polling every 1 ms
	 * or 7 ms). */
	REQUIRE(pvio_rate_parse("10Mb/s@50ms", &b, &u, NULL, 0) == 0);
	pvio_credit_set(&c, b, u, now);
	CHECK(pvio_credit_limited(&c));
	expect_rate("10Mb/s@50ms, 1514-byte frames, timer", saturate(&c, 1514, &now,
		    now + 10 * S, 0), 1.25e6 * 10);
	expect_rate("10Mb/s@50ms, 60-byte frames, poll 1 ms", saturate(&c, 60, &now,
		    now + 10 * S, 1 * MS), 1.25e6 * 10);
	expect_rate("10Mb/s@50ms, 9000-byte frames, poll 7 ms", saturate(&c, 9000, &now,
		    now + 10 * S, 7 * MS), 1.25e6 * 10);
	expect_rate("10Mb/s@50ms, 65535-byte frames, timer", saturate(&c, MAX_FRAME, &now,
		    now + 10 * S, 0), 1.25e6 * 10);

	/* A refused packet waits for the next replenish, at most one
	 * interval away; meanwhile it stays refused. */
	pvio_credit_init(&c, MAX_FRAME);
	pvio_credit_set(&c, 10000, 50000, now);
	CHECK(pvio_credit_take(&c, 6000, now, &w));
	CHECK(!pvio_credit_take(&c, 6000, now + 1 * MS, &w));
	CHECK(w > 0 && w <= 50 * MS);
	CHECK(!pvio_credit_take(&c, 6000, now + 1 * MS + w - 1, &w));
	CHECK_EQ(w, 1);
	CHECK(pvio_credit_take(&c, 6000, now + 50 * MS, &w));
	/* What is left never exceeds bytes + max frame: a long idle time
	 * buys one window's worth, not more. */
	now += 100 * S;
	b = 0;
	while (pvio_credit_take(&c, 1000, now, &w))
		b += 1000;
	CHECK(b <= 10000 + MAX_FRAME);
	printf("after 100 s idle: %llu bytes at once (cap %u)\n", (unsigned long long)b,
	       10000 + MAX_FRAME);

	/* A rate below one maximum frame per interval: the largest frame
	 * still passes, once enough intervals accumulated, and the long-run
	 * rate holds. 8000 b/s @ 50 ms = 50 bytes per interval. */
	pvio_credit_init(&c, MAX_FRAME);
	REQUIRE(pvio_rate_parse("8Kb/s@50ms", &b, &u, NULL, 0) == 0);
	CHECK_EQ(b, 50);
	pvio_credit_set(&c, b, u, now);
	{
		uint64_t t0 = now, tries = 0;

		while (!pvio_credit_take(&c, MAX_FRAME, now, &w) && tries++ < 100000)
			now += w;
		CHECK(tries < 100000);
		/* 65535 / 50 = 1311 intervals of 50 ms. */
		printf("a 65535-byte frame at 8Kb/s passed after %.2f s\n",
		       (double)(now - t0) / S);
		CHECK(now - t0 >= 1309ull * 50 * MS && now - t0 <= 1312ull * 50 * MS);
	}

	/* Live changes. Waiting at 10 KB per 50 ms; raised to 1 MB per
	 * 50 ms: the waiting packet goes now, not at the old replenish. */
	pvio_credit_init(&c, MAX_FRAME);
	pvio_credit_set(&c, 10000, 50000, now);
	CHECK(pvio_credit_take(&c, 10000, now, &w));
	CHECK(!pvio_credit_take(&c, 20000, now, &w));
	pvio_credit_set(&c, 1000000, 50000, now + 1);
	CHECK(pvio_credit_take(&c, 20000, now + 1, &w));
	expect_rate("raised to 1MB/50ms", saturate(&c, 1514, &now, now + 5 * S, 0),
		    1e6 * 20 * 5);
	/* Lowered while credit is left: cut to one new interval at once. */
	now += 10 * S;
	/* More than is left: replenished, and nothing waits any more. */
	CHECK(pvio_credit_take(&c, c.remaining + 1, now, &w));
	CHECK(!c.waiting);
	pvio_credit_set(&c, 5000, 50000, now);
	b = 0;
	while (pvio_credit_take(&c, 1000, now, &w))
		b += 1000;
	CHECK(b <= 5000);
	expect_rate("lowered to 5000B/50ms", saturate(&c, 1000, &now, now + 5 * S, 0),
		    5000.0 * 20 * 5);
	/* Lifted: unlimited at once. */
	pvio_credit_set(&c, 0, 0, now);
	CHECK(!pvio_credit_limited(&c));
	CHECK(pvio_credit_take(&c, MAX_FRAME, now, &w));
	printf("credit: %llu replenishes, %llu refusals in the last run\n",
	       (unsigned long long)c.replenishes, (unsigned long long)c.refusals);
}

int main(void)
{
	test_rate_parse();
	test_key_parse();
	test_credit();
	return tu_result();
}
