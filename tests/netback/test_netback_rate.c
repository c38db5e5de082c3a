/* SPDX-License-Identifier: MIT */
/*
 * pvio-netback end to end: a vif's tx rate (the backend key "rate", as
 * libxl writes it for xl's rate=, set through the toolstack library).
 *   - A's vif is limited to 50000 bytes per 50 ms before it connects: A
 *     sends a burst to B; every frame arrives and is answered OKAY (a
 *     packet over the credit waits, nothing is dropped), the limit bit
 *     (credit refusals), and the bytes that went are within the credit
 *     the vif was given: initial + replenishes x bytes, with at most one
 *     replenish per interval (the credit decisions are counted, wall time
 *     only bounds the number of intervals from above)
 *   - a vif with two queues shares one credit between them
 *   - a live change (pvio_ts_net_set_rate) is picked up by netback's watch
 *     (statistics rate_bytes, and its log), and the new credit holds
 *   - bad values written into the store are refused with a message and the
 *     limit in force stays; removing the key lifts the limit
 * With PVIO_LONG_TESTS=1 (not in the default run: it asserts a rate in wall
 * time), A at rate=50Mb/s sends flat out for 10 s and its vif must carry
 * 50 Mbit/s +-5%.
 */
#include <fcntl.h>
#include <stdlib.h>

#include "netback/nb_pkt.h"
#include "tests/common/testutil.h"
#include "tests/netback/nbtest.h"
#include "tests/netback/pktgen.h"
#include "tools/toolstack.h"

#define T 8000
#define NFRAMES 150
#define FLEN 1400
enum { A = 0, B = 1, C = 2, NG = 3 };

static uint8_t mac[NG][6];
static struct nbf fe[NG];
static uint16_t dom[NG];
static uint8_t frame[70000], rbuf[70000];
static uint32_t tagc = 1;

static long long st(unsigned g, const char *what)
{
	char key[64];

	snprintf(key, sizeof(key), "vif.%u.0.%s", dom[g], what);
	return nbt_stat(key);
}

static long long st_wait(unsigned g, const char *what, long long want)
{
	char key[64];

	snprintf(key, sizeof(key), "vif.%u.0.%s", dom[g], what);
	return nbt_stat_wait(key, want, true, T);
}

static unsigned mkframe(uint8_t *buf, unsigned d, unsigned s, uint32_t tag, unsigned len)
{
	memcpy(buf, mac[d], 6);
	memcpy(buf + 6, mac[s], 6);
	buf[12] = 0x88;
	buf[13] = 0xb5;
	for (unsigned i = 14; i < len; i++)
		buf[i] = pg_byte(tag, i);
	return len;
}

static int send_retry(unsigned s, unsigned q, const uint8_t *buf, unsigned len)
{
	double end = tu_now() + T / 1000.0;
	int r;

	while ((r = nbf_send(&fe[s], q, buf, len, NULL)) == -EAGAIN && tu_now() < end)
		nbf_wait(&fe[s], q, 2);
	return r;
}

/* netback's log holds pat, within T ms. */
static bool log_has(const char *pat)
{
	double end = tu_now() + T / 1000.0;

	do {
		char buf[65536];
		FILE *f = fopen(nbt.log, "r");
		size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

		if (f)
			fclose(f);
		buf[n] = 0;
		if (strstr(buf, pat))
			return true;
		usleep(10000);
	} while (tu_now() < end);
	fprintf(stderr, "FAIL: netback did not log '%s'\n", pat);
	nbt_dump_log();
	tu_failures++;
	return false;
}

/* s sends n frames to B over nq queues, waits until all are answered and
 * B got them all, intact. */
static void burst(unsigned s, unsigned n, unsigned nq)
{
	unsigned got = 0;

	for (unsigned i = 0; i < n; i++) {
		mkframe(frame, B, s, tagc++, FLEN);
		CHECK(send_retry(s, i % nq, frame, FLEN) > 0);
	}
	for (unsigned q = 0; q < nq; q++)
		CHECK_EQ(nbf_tx_drain(&fe[s], q, T), 0);
	while (got < n) {
		int r = nbf_recv(&fe[B], 0, rbuf, sizeof(rbuf), NULL, T);

		if (r <= 0)
			break;
		if (r == FLEN)
			got++;
	}
	CHECK_EQ(got, n);
	for (unsigned q = 0; q < nq; q++) {
		CHECK_EQ(fe[s].q[q].tx_err, 0);
	}
}

/* The bytes s's vif sent since (tx0, rep0) fit in the credit it had:
 * what was left (at most left0) + bytes per replenish; and there were at
 * most elapsed / interval + 1 replenishes. */
static void check_credit(const char *what, unsigned s, long long tx0, long long rep0,
			 long long left0, long long bytes, double secs, double interval)
{
	long long tx = st(s, "tx_bytes") - tx0, rep = st(s, "rate_replenishes") - rep0;
	long long refusals = st(s, "rate_refusals"), waits = st(s, "tx_rate_waits");

	printf("%s: %lld bytes in %.3f s, %lld replenishes of %lld, %lld refusals, %lld "
	       "waits\n", what, tx, secs, rep, bytes, refusals, waits);
	CHECK(tx > 0);
	CHECK(tx <= left0 + bytes * rep);
	CHECK(rep <= (long long)(secs / interval) + 1);
	CHECK(refusals > 0);
	CHECK(waits > 0);
}

/* A flat out toward B (which drains) at xl's rate=50Mb/s: 10 s measured
 * after 1 s of warm-up. */
static void long_rate(void)
{
	uint64_t bytes;
	uint32_t usec;
	long long tx0 = 0;
	double t0 = tu_now(), start = 0, bps;
	bool measuring = false;

	REQUIRE(pvio_rate_parse("50Mb/s", &bytes, &usec, NULL, 0) == 0);
	REQUIRE(pvio_ts_net_set_rate(nbt.xs, dom[A], 0, bytes, usec) == 0);
	CHECK_EQ(st_wait(A, "rate_bytes", (long long)bytes), (long long)bytes);
	mkframe(frame, B, A, tagc++, FLEN);
	for (;;) {
		double now = tu_now();
		int r;

		if (!measuring && now - t0 >= 1) {
			tx0 = st(A, "tx_bytes");
			start = tu_now();
			measuring = true;
		}
		if (measuring && now - start >= 10)
			break;
		r = nbf_send(&fe[A], 0, frame, FLEN, NULL);
		if (r == -EAGAIN) {
			nbf_tx_reap(&fe[A], 0);
			while (nbf_recv(&fe[B], 0, rbuf, sizeof(rbuf), NULL, 0) > 0)
				;
			nbf_wait(&fe[A], 0, 1);
		}
	}
	bps = (double)(st(A, "tx_bytes") - tx0) * 8 / (tu_now() - start);
	printf("long: rate=50Mb/s carried %.2f Mbit/s (%.3f)\n", bps / 1e6, bps / 50e6);
	CHECK(bps >= 50e6 * 0.95 && bps <= 50e6 * 1.05);
	CHECK_EQ(nbf_tx_drain(&fe[A], 0, T), 0);
	while (nbf_recv(&fe[B], 0, rbuf, sizeof(rbuf), NULL, 100) > 0)
		;
}

int main(void)
{
	struct nbf_opts o = { .sg = true };
	struct nbf_opts o2 = { .sg = true, .nq = 2 };
	struct pvio_hv *g[NG];
	long long tx0, rep0;
	double t0;
	char path[160];

	nbt_require_netback();
	nbt_start();
	if (nbt_start_netback(NULL) < 0)
		return 1;
	for (unsigned i = 0; i < NG; i++) {
		g[i] = nbt_guest_vif(i, 0x05, 16, &dom[i], mac[i]);
		/* A and C: 50000 bytes per 50 ms (8 Mbit/s) before they connect. */
		if (i != B)
			REQUIRE(pvio_ts_net_set_rate(nbt.xs, dom[i], 0, 50000, 50000) == 0);
		if (nbf_connect(&fe[i], g[i], 0, i == C ? &o2 : &o, T) != 0) {
			nbt_dump_log();
			REQUIRE(!"connect");
		}
	}
	CHECK_EQ(st_wait(A, "rate_bytes", 50000), 50000);
	CHECK_EQ(st(A, "rate_usec"), 50000);
	CHECK_EQ(st(B, "rate_usec"), 0);
	/* Addresses learned. */
	for (unsigned i = 0; i < NG; i++) {
		mkframe(frame, i == B ? A : B, i, tagc++, 60);
		CHECK(send_retry(i, 0, frame, 60) > 0);
		CHECK(nbf_tx_drain(&fe[i], 0, T) == 0);
	}
	while (nbf_recv(&fe[B], 0, rbuf, sizeof(rbuf), NULL, 200) > 0 ||
	       nbf_recv(&fe[A], 0, rbuf, sizeof(rbuf), NULL, 200) > 0)
		;

	/* A's burst: 150 x 1400 bytes = 4.2 intervals' worth. The credit
	 * started at one interval (50000) and never exceeds bytes + the
	 * largest frame. */
	tx0 = st(A, "tx_bytes");
	rep0 = st(A, "rate_replenishes");
	t0 = tu_now();
	burst(A, NFRAMES, 1);
	check_credit("A at 50000 B/50 ms", A, tx0, rep0, 50000 + 65535, 50000, tu_now() - t0 + 0.2,
		     0.05);
	CHECK_EQ(st(A, "tx_errors"), 0);

	/* C: two queues, one credit. */
	tx0 = st(C, "tx_bytes");
	rep0 = st(C, "rate_replenishes");
	t0 = tu_now();
	burst(C, NFRAMES, 2);
	check_credit("C (2 queues) at 50000 B/50 ms", C, tx0, rep0, 50000 + 65535, 50000,
		     tu_now() - t0 + 0.2, 0.05);

	/* Live: 2000000 bytes per 50 ms, picked up by netback's watch. */
	REQUIRE(pvio_ts_net_set_rate(nbt.xs, dom[A], 0, 2000000, 50000) == 0);
	CHECK_EQ(st_wait(A, "rate_bytes", 2000000), 2000000);
	log_has("tx rate 320 Mbit/s (2000000 bytes every 50000 us)");
	printf("live change picked up\n");
	tx0 = st(A, "tx_bytes");
	burst(A, NFRAMES, 1);
	CHECK_EQ(st(A, "tx_bytes") - tx0, NFRAMES * FLEN);

	/* Bad values in the store: refused, the limit in force stays. */
	snprintf(path, sizeof(path), "/local/domain/0/backend/vif/%u/0/rate", dom[A]);
	REQUIRE(pvio_xs_write(nbt.xs, PVIO_XS_NO_TX, path, "lots", 4) == 0);
	log_has("rate refused: 'lots' is not <bytes>,<usec> (two decimal numbers); the tx rate "
		"stays 320 Mbit/s");
	REQUIRE(pvio_xs_write(nbt.xs, PVIO_XS_NO_TX, path, "0,50000", 7) == 0);
	log_has("rate refused: '0,50000': 0 bytes per interval would stop all traffic");
	REQUIRE(pvio_xs_write(nbt.xs, PVIO_XS_NO_TX, path, "-5,50000", 8) == 0);
	log_has("rate refused: '-5,50000' is not <bytes>,<usec>");
	CHECK_EQ(st(A, "rate_bytes"), 2000000);
	CHECK_EQ(st(A, "rate_usec"), 50000);

	/* Lifted: the key goes. */
	REQUIRE(pvio_ts_net_set_rate(nbt.xs, dom[A], 0, 0, 0) == 0);
	CHECK_EQ(st_wait(A, "rate_usec", 0), 0);
	log_has("tx rate unlimited");
	burst(A, NFRAMES, 1);
	CHECK_EQ(pvio_ts_net_set_rate(nbt.xs, dom[A], 7, 1, 1), -ENOENT);

	if (getenv("PVIO_LONG_TESTS") && !strcmp(getenv("PVIO_LONG_TESTS"), "1"))
		long_rate();
	else
		printf("(PVIO_LONG_TESTS=1 also measures rate=50Mb/s over 10 s)\n");

	for (unsigned i = 0; i < NG; i++)
		nbf_close(&fe[i], T);
	return tu_result();
}
