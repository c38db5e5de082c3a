/* SPDX-License-Identifier: MIT */
/*
 * backend/throttle.h, the vbd half: QEMU's throttling on a synthetic
 * clock (the data path's admit(), counted, never timed): average rates for
 * iops and bps, the tenth-of-a-second allowance without a burst rate,
 * bursts at -max for -max-length seconds and then the clamp to the
 * average, iops-size, read/write buckets beside the total, groups sharing
 * one budget (and the group's limits being the last set, as QEMU), live
 * changes and lifting the limit; QEMU's validation rules and messages;
 * option parsing and formatting; and the group locking under threads
 * while the control thread moves a disk between groups.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "backend/throttle.h"
#include "tests/common/testutil.h"

#define MS 1000000ull
#define S  1000000000ull

static struct pvio_throttle_registry *reg;

/* Requests of `bytes` offered back to back until `until`, the clock
 * jumping to when admit() said. Returns how many went. */
static uint64_t run(struct pvio_throttle *t, bool write, uint64_t bytes, uint64_t *now,
		    uint64_t until)
{
	uint64_t n = 0, w;

	while (*now < until) {
		if (pvio_throttle_admit(t, write, bytes, *now, &w)) {
			n++;
		} else {
			CHECK(w > 0);
			*now += w;
		}
	}
	return n;
}

/* Admitted at once, without the clock moving. */
static uint64_t burst_now(struct pvio_throttle *t, bool write, uint64_t bytes, uint64_t now)
{
	uint64_t n = 0, w;

	while (n < 10000000 && pvio_throttle_admit(t, write, bytes, now, &w))
		n++;
	return n;
}

static void expect_range(const char *what, uint64_t got, uint64_t lo, uint64_t hi)
{
	printf("%-52s %10llu  [%llu, %llu]\n", what, (unsigned long long)got,
	       (unsigned long long)lo, (unsigned long long)hi);
	if (got < lo || got > hi) {
		fprintf(stderr, "FAIL: %s: %llu not in [%llu, %llu]\n", what,
			(unsigned long long)got, (unsigned long long)lo, (unsigned long long)hi);
		tu_failures++;
	}
}

static void cfg_of(struct pvio_throttle_cfg *c, const char *opts)
{
	char err[256] = "";

	pvio_throttle_cfg_init(c);
	if (pvio_throttle_cfg_parse(c, opts, err, sizeof(err)) < 0 ||
	    pvio_throttle_cfg_validate(c, err, sizeof(err)) < 0) {
		fprintf(stderr, "FATAL: '%s': %s\n", opts, err);
		exit(1);
	}
}

static void apply(struct pvio_throttle *t, const char *opts, uint64_t now)
{
	struct pvio_throttle_cfg c;
	char self[32];

	/* Each handle is its own disk. */
	snprintf(self, sizeof(self), "%p", (void *)t);
	cfg_of(&c, opts);
	REQUIRE(pvio_throttle_apply(reg, t, self, &c, now) == 0);
}

static void test_rates(void)
{
	struct pvio_throttle t = { 0 };
	uint64_t now = 1000 * S, w;

	/* Unlimited: no group, every request goes. */
	CHECK(!pvio_throttle_on(&t));
	CHECK(pvio_throttle_admit(&t, true, 1 << 20, now, &w));

	/* 100 IOPS: a tenth of a second's worth (10) at once, plus the one
	 * that fills the bucket past it, then 100 a second. */
	apply(&t, "throttling.iops-total=100", now);
	CHECK(pvio_throttle_on(&t));
	expect_range("iops-total=100: at once", burst_now(&t, false, 4096, now), 11, 11);
	CHECK(!pvio_throttle_admit(&t, false, 4096, now, &w));
	CHECK_EQ(w, 10 * MS);            /* one op over 10, at 100/s */
	expect_range("iops-total=100: next 10 s", run(&t, false, 4096, &now, now + 10 * S),
		     999, 1001);

	/* 20 MiB/s in 64 KiB requests: 200 MiB in 10 s, +2 MiB at once. */
	apply(&t, "throttling.bps-total=20971520", now);
	expect_range("bps-total=20MiB/s, 64K: 10 s (requests)",
		     run(&t, true, 65536, &now, now + 10 * S), 3200 + 32, 3200 + 34);

	/* A burst rate with the default length of one second: max at once,
	 * then the average. */
	apply(&t, "iops-total=100,iops-total-max=1000", now);
	expect_range("iops 100 max 1000 length 1: at once", burst_now(&t, false, 512, now),
		     1001, 1001);
	expect_range("  then 10 s", run(&t, false, 512, &now, now + 10 * S), 999, 1001);

	/* Bursts kept up for two seconds (QEMU's docs/throttle.txt): the
	 * guest does 1000 IOPS until it has done max x length more than the
	 * average allows, then 100. */
	apply(&t, "iops-total=100,iops-total-max=1000,iops-total-max-length=2", now);
	{
		uint64_t t0 = now, a, b, c;

		a = run(&t, false, 512, &now, t0 + 1 * S);
		b = run(&t, false, 512, &now, t0 + 2 * S);
		run(&t, false, 512, &now, t0 + 4 * S);
		c = run(&t, false, 512, &now, t0 + 10 * S);
		expect_range("iops 100 max 1000 length 2: first second", a, 1095, 1105);
		expect_range("  second second", b, 995, 1005);
		expect_range("  seconds 4 to 10 (clamped)", c, 598, 602);
	}

	/* iops-size: a 16 KiB request counts as four 4 KiB ops; a small one
	 * as one. */
	apply(&t, "iops-total=100,iops-size=4096", now);
	expect_range("iops 100 size 4096, 16K requests: at once", burst_now(&t, true, 16384, now),
		     3, 3);
	expect_range("  then 10 s", run(&t, true, 16384, &now, now + 10 * S), 249, 251);
	apply(&t, "iops-total=100,iops-size=1024", now);
	expect_range("iops 100 size 1024, 512-byte requests: 10 s",
		     run(&t, true, 512, &now, now + 10 * S), 1010, 1012);

	/* Read and write buckets are separate; the total bucket takes both. */
	apply(&t, "iops-read=100,iops-write=50", now);
	expect_range("iops-read=100,iops-write=50: writes 10 s",
		     run(&t, true, 4096, &now, now + 10 * S), 505, 507);
	CHECK(pvio_throttle_admit(&t, false, 4096, now, &w));    /* reads untouched */
	expect_range("  reads 10 s", run(&t, false, 4096, &now, now + 10 * S), 1000, 1011);
	apply(&t, "bps-read=1000000,bps-write=2000000", now);
	expect_range("bps-read=1MB/s: 4K reads 10 s", run(&t, false, 4096, &now, now + 10 * S),
		     2466, 2468);

	/* A live change: waiting at 10 IOPS, raised to 1000: goes now (the
	 * buckets start empty, as QEMU's throttle_config). */
	apply(&t, "iops-total=10", now);
	burst_now(&t, false, 512, now);
	CHECK(!pvio_throttle_admit(&t, false, 512, now, &w));
	CHECK(w > 50 * MS);
	apply(&t, "iops-total=1000", now);
	CHECK(pvio_throttle_admit(&t, false, 512, now, &w));
	expect_range("raised to 1000 IOPS: 10 s", run(&t, false, 512, &now, now + 10 * S),
		     10000, 10100);
	/* The same limits again (a reconnecting disk) keep the buckets: no
	 * new burst; even after the disk left for a while. */
	burst_now(&t, false, 512, now);
	apply(&t, "iops-total=1000", now);
	CHECK(!pvio_throttle_admit(&t, false, 512, now, &w));
	pvio_throttle_release(reg, &t);
	CHECK(!pvio_throttle_on(&t));
	apply(&t, "iops-total=1000", now);
	CHECK(!pvio_throttle_admit(&t, false, 512, now, &w));
	/* Other limits: a fresh start. */
	apply(&t, "iops-total=1001", now);
	CHECK(pvio_throttle_admit(&t, false, 512, now, &w));
	/* Lifted. */
	apply(&t, "", now);
	CHECK(!pvio_throttle_on(&t));
	expect_range("lifted: at once", burst_now(&t, false, 512, now), 10000000, 10000000);
	pvio_throttle_release(reg, &t);
}

static void test_groups(void)
{
	struct pvio_throttle a = { 0 }, b = { 0 }, c = { 0 };
	uint64_t now = 5000 * S, na = 0, nb = 0, nc = 0, w, wa, wb, end;

	/* Two disks in group g share 200 IOPS; c has 200 of its own. */
	apply(&a, "iops-total=200,group=g", now);
	apply(&b, "throttling.iops-total=200,throttling.group=g", now);
	apply(&c, "iops-total=200", now);
	CHECK_EQ(pvio_throttle_group_members(reg, "g"), 2);
	/* Polled in turn, the one that did not get the last slot first (a
	 * worker's round robin): they share it evenly. */
	end = now + 10 * S;
	for (bool turn = false; now < end;) {
		struct pvio_throttle *first = turn ? &b : &a, *second = turn ? &a : &b;
		uint64_t *n1 = turn ? &nb : &na, *n2 = turn ? &na : &nb;
		bool any = false;

		wa = wb = UINT64_MAX;
		if (pvio_throttle_admit(first, turn, 4096, now, &w))
			(*n1)++, any = true, turn = !turn;
		else
			wa = w;
		if (pvio_throttle_admit(second, !turn, 4096, now, &w))
			(*n2)++, any = true, turn = !turn;
		else
			wb = w;
		while (pvio_throttle_admit(&c, false, 4096, now, &w))
			nc++;
		if (!any)
			now += wa < wb ? wa : wb;
	}
	printf("group g: a %llu, b %llu; c alone %llu\n", (unsigned long long)na,
	       (unsigned long long)nb, (unsigned long long)nc);
	expect_range("group of two at 200 IOPS: together, 10 s", na + nb, 2000, 2022);
	expect_range("  the first disk's share", na, 950, 1060);
	expect_range("a disk alone at 200 IOPS, 10 s", nc, 2000, 2022);

	/* The group's limits are the last set by a member (QEMU): b sets 50. */
	apply(&b, "iops-total=50,group=g", now);
	expect_range("b set 50 for g: a alone, 10 s", run(&a, false, 4096, &now, now + 10 * S),
		     500, 507);

	/* b leaves for a budget of its own; a stays; then a leaves. */
	apply(&b, "iops-total=50", now);
	CHECK_EQ(pvio_throttle_group_members(reg, "g"), 1);
	apply(&a, "", now);
	CHECK_EQ(pvio_throttle_group_members(reg, "g"), 0);
	CHECK(!pvio_throttle_on(&a));
	/* A new g starts from scratch, with the new member's limits. */
	apply(&c, "iops-total=300,group=g", now);
	CHECK_EQ(pvio_throttle_group_members(reg, "g"), 1);
	expect_range("c in a new g at 300 IOPS, 10 s", run(&c, false, 4096, &now, now + 10 * S),
		     3000, 3031);
	pvio_throttle_release(reg, &a);
	pvio_throttle_release(reg, &b);
	pvio_throttle_release(reg, &c);
	pvio_throttle_release(reg, &c);      /* idempotent */
	CHECK_EQ(pvio_throttle_group_members(reg, "g"), 0);
}

static void bad_cfg(const char *opts, const char *msg)
{
	struct pvio_throttle_cfg c;
	char err[256] = "";
	int r;

	pvio_throttle_cfg_init(&c);
	r = pvio_throttle_cfg_parse(&c, opts, err, sizeof(err));
	if (r == 0)
		r = pvio_throttle_cfg_validate(&c, err, sizeof(err));
	if (r == 0 || strcmp(err, msg) != 0) {
		fprintf(stderr, "FAIL: '%s': r=%d '%s' (want '%s')\n", opts, r, err, msg);
		tu_failures++;
	} else {
		printf("refused %-58s %s\n", opts, err);
	}
}

static void test_validation(void)
{
	struct pvio_throttle_cfg c, d;
	char buf[1024], err[256];

	/* QEMU's throttle_is_valid, message for message. */
	bad_cfg("bps-total=1,bps-read=1",
		"bps/iops/max total values and read/write values cannot be used at the same time");
	bad_cfg("iops-total=1,iops-write=1",
		"bps/iops/max total values and read/write values cannot be used at the same time");
	bad_cfg("bps-total=10,bps-write=10,bps-total-max=20,bps-write-max=20",
		"bps/iops/max total values and read/write values cannot be used at the same time");
	bad_cfg("bps-total=1000,iops-size=4096", "iops size requires an iops value to be set");
	bad_cfg("bps-total=1000000000000001",
		"bps/iops/max values must be within [0, 1000000000000000]");
	bad_cfg("iops-read=1,iops-read-max=1000000000000001",
		"bps/iops/max values must be within [0, 1000000000000000]");
	bad_cfg("iops-total=10,iops-total-max=20,iops-total-max-length=0",
		"the burst length cannot be 0");
	bad_cfg("iops-total=10,iops-total-max-length=2", "burst length set without burst rate");
	bad_cfg("bps-total=10,bps-total-max=1000000,bps-total-max-length=1000000000000",
		"burst length too high for this burst rate");
	bad_cfg("bps-write-max=100", "bps_max/iops_max require corresponding bps/iops values");
	bad_cfg("bps-total=100,bps-total-max=99", "bps_max/iops_max cannot be lower than bps/iops");
	/* Parsing. */
	bad_cfg("iops-total=-5", "throttling.iops-total: '-5' is negative");
	bad_cfg("throttling.bps-total=10M",
		"throttling.bps-total: '10M' is not a whole number (decimal, no unit)");
	bad_cfg("bps-total=", "throttling.bps-total: '' is not a whole number (decimal, no unit)");
	bad_cfg("bps-total=0x10",
		"throttling.bps-total: '0x10' is not a whole number (decimal, no unit)");
	bad_cfg("iops-total=18446744073709551616",
		"throttling.iops-total: '18446744073709551616' is too large");
	bad_cfg("throttling.iops-totl=5", "unknown throttling option 'throttling.iops-totl'");
	bad_cfg("iops-total", "'iops-total' is not name=value");
	bad_cfg("group=a/b", "throttling.group: 'a/b' is not a group name (1 to 63 printable "
		"characters, no '/', ',' or '=')");
	bad_cfg("group=", "throttling.group: '' is not a group name (1 to 63 printable "
		"characters, no '/', ',' or '=')");

	/* Good ones, and their formatting round trip. */
	cfg_of(&c, " throttling.iops-total = 2000 , bps-read=1000,bps-read-max=5000,"
	       "bps-read-max-length=60,throttling.iops-size=4096,group=gold,bps-write=7");
	CHECK(pvio_throttle_cfg_enabled(&c));
	CHECK_EQ(c.b[PVIO_THROTTLE_OPS_TOTAL].avg, 2000);
	CHECK_EQ(c.b[PVIO_THROTTLE_BPS_READ].max, 5000);
	CHECK_EQ(c.b[PVIO_THROTTLE_BPS_READ].burst_length, 60);
	CHECK_EQ(c.b[PVIO_THROTTLE_BPS_WRITE].burst_length, 1);
	CHECK_EQ(c.op_size, 4096);
	CHECK(!strcmp(c.group, "gold"));
	CHECK_EQ(pvio_throttle_cfg_format(&c, buf, sizeof(buf)), 0);
	printf("formatted: %s\n", buf);
	CHECK(!strcmp(buf, "throttling.bps-read=1000,throttling.bps-read-max=5000,"
		      "throttling.bps-read-max-length=60,throttling.bps-write=7,"
		      "throttling.iops-total=2000,throttling.iops-size=4096,throttling.group=gold"));
	cfg_of(&d, buf);
	CHECK(pvio_throttle_cfg_equal(&c, &d));
	d.b[PVIO_THROTTLE_BPS_WRITE].avg = 8;
	CHECK(!pvio_throttle_cfg_equal(&c, &d));
	CHECK_EQ(pvio_throttle_cfg_format(&c, buf, 20), -ENOSPC);
	cfg_of(&c, "");
	CHECK(!pvio_throttle_cfg_enabled(&c));
	CHECK_EQ(pvio_throttle_cfg_format(&c, buf, sizeof(buf)), 0);
	CHECK(!strcmp(buf, ""));
	CHECK_EQ(pvio_throttle_opt_count(), 20);
	CHECK(!strcmp(pvio_throttle_opt_name(0), "bps-total"));
	CHECK(!strcmp(pvio_throttle_opt_name(17), "iops-write-max-length"));
	CHECK(pvio_throttle_opt_name(20) == NULL);
	/* The largest values pass. */
	cfg_of(&c, "bps-total=1000000000000000,bps-total-max=1000000000000000");
	(void)err;
}

/* Threads: two data paths on one disk's handle while the control thread
 * moves the disk between groups and changes limits. */
static uint64_t clk;                    /* synthetic ns, atomic */
static int stop;
static struct pvio_throttle shared;
static uint64_t admitted[2];

static void *data_path(void *arg)
{
	uint64_t *n = arg, w;

	while (!pvio_load_acquire(&stop)) {
		uint64_t now = pvio_fetch_add(&clk, 1000);   /* 1 us per request */

		if (pvio_throttle_admit(&shared, true, 4096, now, &w))
			(*n)++;
	}
	return NULL;
}

static void test_threads(void)
{
	struct pvio_throttle anchor1 = { 0 }, anchor2 = { 0 };
	pthread_t th[2];
	unsigned moves = 0;
	double t0 = tu_now();

	clk = 9000 * S;
	apply(&anchor1, "iops-total=1000,group=g1", clk);
	apply(&anchor2, "iops-total=1000,group=g2", clk);
	apply(&shared, "iops-total=1000,group=g1", clk);
	for (int i = 0; i < 2; i++)
		REQUIRE(pthread_create(&th[i], NULL, data_path, &admitted[i]) == 0);
	/* At least 2000 changes and 2 synthetic seconds (2 million requests). */
	while ((moves < 2000 || pvio_load_relaxed(&clk) < 9002 * S) && tu_now() - t0 < 20) {
		apply(&shared, moves % 3 == 0 ? "iops-total=1000,group=g2" :
			       moves % 3 == 1 ? "iops-total=1000" : "iops-total=1000,group=g1",
		      pvio_load_relaxed(&clk));
		moves++;
		for (int i = 0; i < 1000; i++)
			pvio_cpu_relax();
	}
	pvio_store_release(&stop, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	{
		uint64_t total = admitted[0] + admitted[1];
		double secs = (double)(clk - 9000 * S) / S;
		/* Each change may start with empty buckets: 101 at once. */
		double bound = secs * 1000 + (moves + 1) * 101.0 + 2;

		printf("threads: %u changes, %.3f synthetic s, %llu admitted (bound %.0f)\n", moves,
		       secs, (unsigned long long)total, bound);
		CHECK((double)total <= bound);
		CHECK(total > 0);
	}
	{
		unsigned m = pvio_throttle_group_members(reg, "g1") +
			     pvio_throttle_group_members(reg, "g2");

		CHECK(m == 2 || m == 3);
	}
	pvio_throttle_release(reg, &shared);
	pvio_throttle_release(reg, &anchor1);
	pvio_throttle_release(reg, &anchor2);
	CHECK_EQ(pvio_throttle_group_members(reg, "g1"), 0);
	CHECK_EQ(pvio_throttle_group_members(reg, "g2"), 0);
}

int main(void)
{
	REQUIRE(pvio_throttle_registry_new(&reg) == 0);
	test_rates();
	test_groups();
	test_validation();
	test_threads();
	pvio_throttle_registry_free(reg);
	return tu_result();
}
