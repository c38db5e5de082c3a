/* SPDX-License-Identifier: MIT */
/*
 * netfront against a hostile backend (XSA-396/403 class): the fake netback
 * walks the handshake, then answers nonsense -- tx ids never sent or
 * answered twice, bad tx status, data slots answered as extra info, tx and
 * rx rsp_prod far past the requests, rx ids that are not the id posted in
 * that slot, rx data past its page (size or offset), an rx frame spanning
 * 20 slots, an rx page kept mapped after its response, statuses that are
 * no NETIF_RSP_* code, random responses. Each must disable the device
 * (every call then fails with -ENODEV) without crashing and without a
 * write outside the caller's buffers (guard bytes around each; ASan in the
 * sanitizer build). Errors the protocol allows (an rx error status, an
 * unknown extra type, a frame published half at a time) must not: the
 * frame is dropped (or waited for) and the next one arrives intact. Close
 * works in every case and every grant comes back once the backend lets go.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/netfront/nf_test.h"

#define NPKT  8
#define CAP   (20 * 4096)
#define GUARD 256

struct bufs {
	uint8_t *raw[NPKT];
	struct pvio_nf_pkt pk[NPKT];
};

static void bufs_init(struct bufs *b)
{
	for (int i = 0; i < NPKT; i++) {
		b->raw[i] = malloc(CAP + 2 * GUARD);
		REQUIRE(b->raw[i]);
		memset(b->raw[i], 0xa5, CAP + 2 * GUARD);
	}
}

static void bufs_arm(struct bufs *b)
{
	memset(b->pk, 0, sizeof(b->pk));
	for (int i = 0; i < NPKT; i++) {
		b->pk[i].data = b->raw[i] + GUARD;
		b->pk[i].cap = CAP;
	}
}

static bool guards_ok(struct bufs *b)
{
	for (int i = 0; i < NPKT; i++)
		for (int k = 0; k < GUARD; k++)
			if (b->raw[i][k] != 0xa5 || b->raw[i][GUARD + CAP + k] != 0xa5)
				return false;
	return true;
}

static void bufs_free(struct bufs *b)
{
	for (int i = 0; i < NPKT; i++)
		free(b->raw[i]);
}

static const char *const names[FN_NR_MODES] = {
	[FN_ECHO] = "echo", [FN_SINK] = "sink",
	[FN_TX_BAD_ID] = "tx-bad-id", [FN_TX_DUP_ID] = "tx-dup-id",
	[FN_TX_BAD_STATUS] = "tx-bad-status", [FN_TX_NULL_DATA] = "tx-null-data",
	[FN_TX_OVERFLOW] = "tx-overflow", [FN_RX_BAD_ID] = "rx-bad-id",
	[FN_RX_OVERSIZE] = "rx-oversize", [FN_RX_BAD_OFFSET] = "rx-bad-offset",
	[FN_RX_OVERFLOW] = "rx-overflow", [FN_RX_TOO_MANY_SLOTS] = "rx-20-slots",
	[FN_RX_HOLD_GRANT] = "rx-hold-grant", [FN_RX_BAD_STATUS] = "rx-bad-status",
	[FN_RX_ERR_STATUS] = "rx-error-status", [FN_RX_BAD_EXTRA] = "rx-bad-extra",
	[FN_RX_HALF_FRAME] = "rx-half-frame", [FN_GARBAGE] = "garbage",
};

/* A backend that keeps an rx grant mapped after its response does no harm
 * now that rx pages stay granted while connected (netfront copies the data
 * out once): the device keeps working, and the page is kept, never reused,
 * when the queue goes down. */
static bool disables(int mode)
{
	return mode != FN_RX_ERR_STATUS && mode != FN_RX_BAD_EXTRA && mode != FN_RX_HALF_FRAME &&
	       mode != FN_RX_HOLD_GRANT;
}

/* pk is a frame of ours: len bytes, its seq in [lo, hi], the content
 * generated for that seq. */
static bool frame_ok(const struct pvio_nf_pkt *pk, uint32_t len, uint32_t lo, uint32_t hi)
{
	static uint8_t want[65536];
	const uint8_t *d = pk->data;
	uint32_t seq;

	if (pk->len != len || len < 18 || (pk->flags & PVIO_NF_TRUNCATED))
		return false;
	seq = (uint32_t)d[14] << 24 | (uint32_t)d[15] << 16 | (uint32_t)d[16] << 8 | d[17];
	if (seq < lo || seq > hi)
		return false;
	fr_fill(want, len, seq, 0);
	return !memcmp(d, want, len);
}

/* Send frames (seq..seq+n-1) of len bytes on queue 0. */
static int send_frames(struct pvio_netfront *nf, uint8_t *tmp, uint32_t seq, unsigned n,
		       uint32_t len)
{
	struct pvio_nf_pkt pk[4];

	memset(pk, 0, sizeof(pk));
	for (unsigned i = 0; i < n; i++) {
		fr_fill(tmp + (size_t)i * 16384, len, seq + i, 0);
		pk[i].data = tmp + (size_t)i * 16384;
		pk[i].len = len;
	}
	return pvio_netfront_send_burst(nf, 0, pk, n);
}

static void run(int mode, unsigned seed, struct bufs *b, uint8_t *tmp)
{
	struct fn_cfg cfg = env_cfg_default();
	struct pvio_netfront_opts o;
	struct pvio_netfront *nf = NULL;
	struct pvio_netfront_stats st;
	struct env e;
	int fails = tu_failures, r, rr = 0, got = 0, idle_garbage = 0;
	double end;
	uint32_t len = mode == FN_RX_HALF_FRAME ? 9000 : mode == FN_GARBAGE ? 700 : 200;

	env_up(&e, &cfg, 32ull << 20, mode);
	e.be.seed = seed;
	pvio_netfront_opts_default(&o);
	o.timeout_ms = 3000;
	r = pvio_netfront_open(e.guest, e.devid, &o, &nf);
	CHECK_EQ(r, 0);
	if (r < 0) {
		env_down(&e);
		return;
	}
	/* Two frames in one burst (tx-dup-id needs two pending). */
	CHECK_EQ(send_frames(nf, tmp, 1, 2, len), 2);
	end = tu_now() + 5;
	while (tu_now() < end) {
		bufs_arm(b);
		rr = pvio_netfront_recv_burst(nf, 0, b->pk, NPKT);
		if (rr < 0)
			break;
		for (int i = 0; i < rr; i++) {
			/* a delivered frame is one of ours, intact -- unless the
			 * backend's nonsense made it through before it was caught */
			if (!frame_ok(&b->pk[i], len, 1, 2))
				CHECK(disables(mode));
			got++;
		}
		if (disables(mode)) {
			pvio_netfront_get_stats(nf, &st);
			if (st.disabled)
				break;
			/* random answers may all be plausible: then the ring
			 * drains and nothing more happens */
			if (mode == FN_GARBAGE && rr == 0 && idle_garbage++ > 3 &&
			    fn_wait_hostile(&e.be, 0) == 0)
				break;
		} else if (got >= 1 && fn_wait_hostile(&e.be, 0) == 0) {
			break;
		}
		wait_fd(pvio_netfront_fd(nf, 0), 100);
	}
	CHECK_EQ(fn_wait_hostile(&e.be, 0), 0);
	REQUIRE(pvio_netfront_get_stats(nf, &st) == 0);
	if (mode == FN_GARBAGE && !st.disabled) {
		/* survived plausible garbage: still usable or not, no harm */
	} else if (disables(mode)) {
		CHECK(st.disabled);
		bufs_arm(b);
		CHECK_EQ(pvio_netfront_recv_burst(nf, 0, b->pk, NPKT), -ENODEV);
		CHECK_EQ(send_frames(nf, tmp, 10, 1, 100), -ENODEV);
	} else {
		CHECK(!st.disabled);
		if (mode != FN_RX_HALF_FRAME && mode != FN_RX_HOLD_GRANT)
			CHECK_EQ(st.rx_errors, 1);
		/* The device still works: the next frame comes back intact
		 * (after what is left of the first two). */
		CHECK_EQ(send_frames(nf, tmp, 100, 1, 3000), 1);
		end = tu_now() + 5;
		rr = 0;
		while (tu_now() < end) {
			bufs_arm(b);
			rr = pvio_netfront_recv_burst(nf, 0, b->pk, 1);
			if (rr < 0 || (rr == 1 && b->pk[0].len == 3000))
				break;
			if (rr == 1)
				CHECK(frame_ok(&b->pk[0], len, 1, 2));
			else
				wait_fd(pvio_netfront_fd(nf, 0), 100);
			rr = 0;
		}
		CHECK_EQ(rr, 1);
		if (rr == 1)
			CHECK(frame_ok(&b->pk[0], 3000, 100, 100));
	}
	CHECK(guards_ok(b));
	pvio_netfront_close(nf);
	env_down(&e);
	printf("%-16s seed %-3u %s, rx %d frame(s), rx errors %llu, kept pages %llu: %s\n",
	       names[mode], seed, st.disabled ? "disabled" : "working", got,
	       (unsigned long long)st.rx_errors, (unsigned long long)st.leaked_pages,
	       tu_failures == fails ? "ok" : "FAILED");
	fflush(stdout);
}

/* The backend publishes nonsense in its xenstore keys: open fails cleanly. */
static void test_bad_keys(void)
{
	struct fn_cfg cfg = env_cfg_default();
	struct pvio_netfront_opts o;
	struct pvio_netfront *nf = NULL;
	char path[256];
	struct env e;

	cfg.no_rx_copy = true;
	env_up(&e, &cfg, 16ull << 20, FN_ECHO);
	pvio_netfront_opts_default(&o);
	o.timeout_ms = 2000;
	CHECK_EQ(pvio_netfront_open(e.guest, e.devid, &o, &nf), -EOPNOTSUPP);
	env_down(&e);

	/* No valid mac from the toolstack. */
	cfg = env_cfg_default();
	env_up(&e, &cfg, 16ull << 20, FN_ECHO);
	snprintf(path, sizeof(path), "/local/domain/%u/device/vif/%u/mac", e.g, e.devid);
	REQUIRE(pvio_xs_write(e.xs0, PVIO_XS_NO_TX, path, "junk", 4) == 0);
	CHECK_EQ(pvio_netfront_open(e.guest, e.devid, &o, &nf), -EPROTO);
	/* No such device. */
	CHECK_EQ(pvio_netfront_open(e.guest, 7, &o, &nf), -ENOENT);
	env_down(&e);
}

int main(int argc, char **argv)
{
	static uint8_t tmp[4 * 16384];
	struct bufs b;
	unsigned rounds = argc > 1 ? (unsigned)atoi(argv[1]) : 12;

	bufs_init(&b);
	for (int m = FN_TX_BAD_ID; m < FN_NR_MODES; m++)
		if (m != FN_GARBAGE)
			run(m, 1, &b, tmp);
	for (unsigned s = 1; s <= rounds; s++)
		run(FN_GARBAGE, s, &b, tmp);
	test_bad_keys();
	bufs_free(&b);
	return tu_result();
}
