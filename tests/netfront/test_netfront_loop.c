/* SPDX-License-Identifier: MIT */
/*
 * netfront data path against the fake netback in echo mode (every tx frame
 * comes back as an rx frame through grant copy), across a configuration
 * matrix: queues 1/2/4, split or shared event channels, sg on/off on either
 * side, GSO, rx slots smaller than a page and at an offset (multi-slot
 * reassembly), scattered tx frames. Every frame is checked byte for byte,
 * in order per queue, with its checksum flags and GSO metadata. Then: bad
 * frames, truncation, the software IPv6 checksum, the checksum helpers, a
 * backend restart (reconnect) and a toolstack detach (unplug); the NAPI-style
 * poll/arm pair (a poller sees every frame with its ports masked, and after
 * arm() it never sleeps through work that is pending).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/netfront/nf_test.h"

#define BURST 32
#define BUFSZ 65536

static uint8_t *txbuf[BURST], *rxbuf[BURST];

struct lcfg {
	const char *name;
	struct fn_cfg be;
	unsigned max_queues;
	bool     no_sg, no_split, gso_rx;
	unsigned nq_expect;
	unsigned frames;             /* per queue */
	uint32_t min_len, max_len;
	bool     send_gso;
	bool     scatter;
};

enum { K_PLAIN, K_CSUM, K_VALID, K_GSO, K_SCATTER };

static void spec(const struct lcfg *c, uint32_t seq, unsigned queue, uint32_t *len, int *kind)
{
	uint32_t x = seq * 40503u + queue * 7919u + 17;
	uint32_t span = c->max_len - c->min_len + 1;

	fr_next(&x);
	fr_next(&x);
	*len = c->min_len + fr_next(&x) % span;
	/* some frames at the extremes */
	if (seq % 97 == 5)
		*len = c->max_len;
	if (seq % 89 == 3)
		*len = c->min_len;
	*kind = (int)(seq % 5);
	if (*kind == K_GSO && (!c->send_gso || *len < 1600))
		*kind = K_PLAIN;
	if (*kind == K_SCATTER && !c->scatter)
		*kind = K_PLAIN;
}

static uint16_t expect_flags(int kind)
{
	switch (kind) {
	case K_CSUM: return PVIO_NF_CSUM_BLANK | PVIO_NF_DATA_VALIDATED;
	case K_VALID: return PVIO_NF_DATA_VALIDATED;
	case K_GSO: return PVIO_NF_CSUM_BLANK | PVIO_NF_DATA_VALIDATED | PVIO_NF_GSO;
	default: return 0;
	}
}

static int run(const struct lcfg *c)
{
	struct env e;
	struct pvio_netfront_opts o;
	struct pvio_netfront *nf = NULL;
	struct pvio_netfront_info info;
	struct pvio_netfront_stats st;
	uint32_t sent[16] = { 0 }, got[16] = { 0 };
	double t0 = tu_now(), end = t0 + 60;
	int fails = tu_failures, r;
	unsigned nq;

	env_up(&e, &c->be, 64ull << 20, FN_ECHO);
	pvio_netfront_opts_default(&o);
	o.max_queues = c->max_queues;
	o.no_sg = c->no_sg;
	o.no_split_evtchn = c->no_split;
	o.gso_tcpv4 = o.gso_tcpv6 = c->gso_rx;
	r = pvio_netfront_open(e.guest, e.devid, &o, &nf);
	CHECK_EQ(r, 0);
	if (r < 0)
		goto out;
	REQUIRE(pvio_netfront_get_info(nf, &info) == 0);
	nq = info.nr_queues;
	CHECK_EQ(nq, c->nq_expect);
	CHECK(info.connected);
	CHECK_EQ(info.mac[0], 0x00);
	CHECK_EQ(info.mac[5], 0x56);
	CHECK_EQ(info.mtu, 1500);
	CHECK_EQ(info.split_evtchn, c->be.split && !c->no_split);
	CHECK_EQ(info.sg, c->be.sg && !c->no_sg);
	CHECK_EQ(info.max_tx_slots, info.sg ? 18 : 1);
	CHECK_EQ(fn_wait_connected(&e.be, 5000), 0);
	/* What the frontend wrote (netif.h keys). */
	CHECK_EQ(e.be.fe_rx_copy, 1);
	CHECK_EQ(e.be.fe_rx_notify, 1);
	CHECK_EQ(e.be.fe_feat_sg, !c->no_sg);
	CHECK_EQ(e.be.fe_gso4, c->gso_rx && !c->no_sg);
	CHECK_EQ(e.be.fe_no_csum, 0);
	CHECK_EQ(e.be.fe_nq, nq);
	CHECK_EQ(e.be.fe_split, info.split_evtchn);

	for (;;) {
		bool done = true, progress = false;

		for (unsigned q = 0; q < nq; q++) {
			struct pvio_nf_pkt pk[BURST];
			struct iovec iov[BURST][4];
			unsigned n = 0;

			if (got[q] < c->frames)
				done = false;
			while (n < BURST && sent[q] + n < c->frames) {
				uint32_t seq = sent[q] + n, len;
				int kind;

				spec(c, seq, q, &len, &kind);
				fr_fill(txbuf[n], len, seq, q);
				memset(&pk[n], 0, sizeof(pk[n]));
				if (kind == K_SCATTER) {
					/* four pieces, one empty */
					uint32_t a = len / 3, b2 = len / 3;

					iov[n][0] = (struct iovec){ txbuf[n], a };
					iov[n][1] = (struct iovec){ txbuf[n] + a, 0 };
					iov[n][2] = (struct iovec){ txbuf[n] + a, b2 };
					iov[n][3] = (struct iovec){ txbuf[n] + a + b2, len - a - b2 };
					pk[n].iov = iov[n];
					pk[n].iovcnt = 4;
				} else {
					pk[n].data = txbuf[n];
					pk[n].len = len;
				}
				if (kind == K_CSUM)
					pk[n].flags = PVIO_NF_CSUM_BLANK;
				else if (kind == K_VALID)
					pk[n].flags = PVIO_NF_DATA_VALIDATED;
				else if (kind == K_GSO) {
					pk[n].flags = PVIO_NF_GSO;
					pk[n].gso_type = seq & 8 ? PVIO_XEN_NETIF_GSO_TYPE_TCPV6
								 : PVIO_XEN_NETIF_GSO_TYPE_TCPV4;
					pk[n].gso_size = (uint16_t)(536 + seq % 1000);
				}
				n++;
			}
			if (n) {
				r = pvio_netfront_send_burst(nf, q, pk, n);
				if (r < 0) {
					fprintf(stderr, "%s: send_burst: %s\n", c->name, strerror(-r));
					CHECK(0);
					goto close;
				}
				sent[q] += (uint32_t)r;
				progress |= r > 0;
			}
			for (unsigned i = 0; i < BURST; i++) {
				memset(&pk[i], 0, sizeof(pk[i]));
				pk[i].data = rxbuf[i];
				pk[i].cap = BUFSZ;
			}
			r = pvio_netfront_recv_burst(nf, q, pk, BURST);
			if (r < 0) {
				fprintf(stderr, "%s: recv_burst: %s\n", c->name, strerror(-r));
				CHECK(0);
				goto close;
			}
			progress |= r > 0;
			for (int i = 0; i < r; i++) {
				uint32_t seq = got[q], len;
				int kind;

				spec(c, seq, q, &len, &kind);
				fr_fill(txbuf[0], len, seq, q);
				if (pk[i].len != len || memcmp(pk[i].data, txbuf[0], len)) {
					fprintf(stderr, "%s: queue %u frame %u: got %u bytes, want %u%s\n",
						c->name, q, seq, pk[i].len, len,
						pk[i].len == len ? " (content differs)" : "");
					CHECK(0);
					goto close;
				}
				if (pk[i].flags != expect_flags(kind)) {
					fprintf(stderr, "%s: frame %u kind %d: flags %#x, want %#x\n",
						c->name, seq, kind, pk[i].flags, expect_flags(kind));
					CHECK(0);
				}
				if (kind == K_GSO &&
				    (pk[i].gso_size != 536 + seq % 1000 ||
				     pk[i].gso_type != (seq & 8 ? PVIO_XEN_NETIF_GSO_TYPE_TCPV6
								: PVIO_XEN_NETIF_GSO_TYPE_TCPV4))) {
					fprintf(stderr, "%s: frame %u: gso %u/%u\n", c->name, seq,
						pk[i].gso_type, pk[i].gso_size);
					CHECK(0);
				}
				got[q]++;
			}
		}
		if (done)
			break;
		if (tu_now() > end) {
			fprintf(stderr, "%s: timed out:", c->name);
			for (unsigned q = 0; q < nq; q++)
				fprintf(stderr, " q%u %u/%u sent, %u received", q, sent[q], c->frames,
					got[q]);
			fprintf(stderr, "\n");
			CHECK(0);
			break;
		}
		if (!progress)
			for (unsigned q = 0; q < nq; q++)
				wait_fd(pvio_netfront_fd(nf, q), q + 1 == nq ? 50 : 0);
	}
	REQUIRE(pvio_netfront_get_stats(nf, &st) == 0);
	CHECK(!st.disabled);
	CHECK_EQ(st.tx_packets, (uint64_t)c->frames * nq);
	CHECK_EQ(st.rx_packets, (uint64_t)c->frames * nq);
	CHECK_EQ(st.rx_errors, 0);
	CHECK_EQ(st.leaked_pages, 0);
	if (c->send_gso)
		CHECK(st.tx_gso > 0 && st.rx_gso == st.tx_gso);
	if (c->max_len > 4096 && !c->no_sg) {
		CHECK(st.rx_multislot > 0);
		CHECK(e.be.tx_max_slots > 1);
	}
	printf("%-18s queues %u  %6llu frames %9llu bytes  tx slots %llu  rx multi-slot %llu  "
	       "gso %llu  notifies %llu  %.2fs\n", c->name, nq,
	       (unsigned long long)st.rx_packets, (unsigned long long)st.rx_bytes,
	       (unsigned long long)st.tx_slots, (unsigned long long)st.rx_multislot,
	       (unsigned long long)st.rx_gso, (unsigned long long)st.notifies, tu_now() - t0);
close:
	pvio_netfront_close(nf);
out:
	env_down(&e);
	return tu_failures == fails ? 0 : 1;
}

/* ---------------------------------------------------------------- one-offs */

static int recv_one(struct pvio_netfront *nf, struct pvio_nf_pkt *out)
{
	double end = tu_now() + 5;
	int r;

	while (tu_now() < end) {
		r = pvio_netfront_recv_burst(nf, 0, out, 1);
		if (r != 0)
			return r;
		wait_fd(pvio_netfront_fd(nf, 0), 100);
	}
	return -ETIMEDOUT;
}

static int echo_one(struct pvio_netfront *nf, const struct pvio_nf_pkt *in,
		    struct pvio_nf_pkt *out)
{
	int r = pvio_netfront_send_burst(nf, 0, in, 1);

	if (r != 1)
		return r < 0 ? r : -EAGAIN;
	return recv_one(nf, out);
}

/* One frame of len bytes (pattern seed) echoed on queue 0: back whole. */
static void echo_checked(struct pvio_netfront *nf, uint32_t len, unsigned seed)
{
	struct pvio_nf_pkt in, out;

	memset(&in, 0, sizeof(in));
	fr_fill(txbuf[0], len, seed, 0);
	in.data = txbuf[0];
	in.len = len;
	memset(&out, 0, sizeof(out));
	out.data = rxbuf[0];
	out.cap = BUFSZ;
	CHECK_EQ(echo_one(nf, &in, &out), 1);
	CHECK_EQ(out.len, len);
	CHECK(!memcmp(rxbuf[0], txbuf[0], len));
}

/* One's complement sum over pseudo-header and L4 (checksum included):
 * 0xffff when the checksum is right. Fixed layout: eth + ipv6/ipv4 + L4. */
static int csum_ok(const uint8_t *f, uint32_t len)
{
	uint32_t sum = 0, l4, l4len, i;
	unsigned et = (unsigned)f[12] << 8 | f[13];
	uint8_t proto;

	if (et == 0x86DD) {
		l4 = 54;
		l4len = (uint32_t)f[18] << 8 | f[19];
		proto = f[20];
		for (i = 22; i < 54; i += 2)
			sum += (uint32_t)f[i] << 8 | f[i + 1];
	} else {
		unsigned ihl = (f[14] & 15) * 4u;

		l4 = 14 + ihl;
		l4len = ((uint32_t)f[16] << 8 | f[17]) - ihl;
		proto = f[23];
		for (i = 26; i < 34; i += 2)
			sum += (uint32_t)f[i] << 8 | f[i + 1];
	}
	if (l4 + l4len > len)
		return 0;
	sum += proto + l4len;
	for (i = 0; i + 1 < l4len; i += 2)
		sum += (uint32_t)f[l4 + i] << 8 | f[l4 + i + 1];
	if (l4len & 1)
		sum += (uint32_t)f[l4 + l4len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum == 0xffff;
}

static uint32_t mk_ipv6_udp(uint8_t *f, uint32_t plen)
{
	uint32_t l4len = 8 + plen;

	memset(f, 0, 54 + l4len);
	fr_fill(f, 14, 1, 0);
	f[12] = 0x86;
	f[13] = 0xDD;
	f[14] = 0x60;
	f[18] = (uint8_t)(l4len >> 8);
	f[19] = (uint8_t)l4len;
	f[20] = 17;
	f[21] = 64;
	for (int i = 0; i < 32; i++)
		f[22 + i] = (uint8_t)(0xfd + i * 7);
	f[54] = 0x12;
	f[55] = 0x34;
	f[56] = 0x56;
	f[57] = 0x78;
	f[58] = (uint8_t)(l4len >> 8);
	f[59] = (uint8_t)l4len;
	for (uint32_t i = 0; i < plen; i++)
		f[62 + i] = (uint8_t)(i * 31 + 7);
	return 54 + l4len;
}

static uint32_t mk_ipv4_tcp(uint8_t *f, uint32_t plen, bool vlan)
{
	unsigned o = vlan ? 4 : 0;
	uint32_t tot = 20 + 20 + plen;

	memset(f, 0, 14 + o + tot);
	fr_fill(f, 14, 2, 0);
	if (vlan) {
		f[12] = 0x81;
		f[13] = 0x00;
		f[15] = 5;
	}
	f[12 + o] = 0x08;
	f[13 + o] = 0x00;
	f[14 + o] = 0x45;
	f[16 + o] = (uint8_t)(tot >> 8);
	f[17 + o] = (uint8_t)tot;
	f[22 + o] = 64;
	f[23 + o] = 6;
	f[26 + o] = 10; f[29 + o] = 1;
	f[30 + o] = 10; f[33 + o] = 2;
	f[34 + o] = 0x1f; f[35 + o] = 0x90;
	f[46 + o] = 0x50;
	for (uint32_t i = 0; i < plen; i++)
		f[54 + o + i] = (uint8_t)(i * 13 + 1);
	return 14 + o + tot;
}

static void test_csum_helpers(void)
{
	static uint8_t f[2048], g[2048];
	unsigned start = 0, off = 0;
	uint32_t len;

	len = mk_ipv6_udp(f, 333);
	CHECK_EQ(pvio_netfront_csum_locate(f, len, &start, &off), 0);
	CHECK_EQ(start, 54);
	CHECK_EQ(off, 6);
	CHECK_EQ(pvio_netfront_csum_fill(f, len), 0);
	CHECK(csum_ok(f, len));
	len = mk_ipv4_tcp(f, 1001, false);
	CHECK_EQ(pvio_netfront_csum_locate(f, len, &start, &off), 0);
	CHECK_EQ(start, 34);
	CHECK_EQ(off, 16);
	CHECK_EQ(pvio_netfront_csum_fill(f, len), 0);
	CHECK(csum_ok(f, len));
	len = mk_ipv4_tcp(g, 100, true);
	CHECK_EQ(pvio_netfront_csum_locate(g, len, &start, &off), 0);
	CHECK_EQ(start, 38);
	CHECK_EQ(pvio_netfront_csum_fill(g, len), 0);
	/* same as the untagged frame's sum over the moved headers */
	memmove(g + 12, g + 16, len - 16);
	CHECK(csum_ok(g, len - 4));
	/* not IP, truncated, fragment */
	fr_fill(f, 100, 3, 0);
	CHECK_EQ(pvio_netfront_csum_fill(f, 100), -EPROTONOSUPPORT);
	len = mk_ipv4_tcp(f, 100, false);
	CHECK_EQ(pvio_netfront_csum_fill(f, 40), -EPROTONOSUPPORT);
	f[20] = 0x20;   /* more fragments */
	CHECK_EQ(pvio_netfront_csum_fill(f, len), -EPROTONOSUPPORT);
}

static void test_oneoffs(void)
{
	struct fn_cfg cfg = env_cfg_default();
	struct pvio_netfront *nf = NULL;
	struct pvio_nf_pkt in, out;
	struct pvio_netfront_stats st;
	struct env e;
	uint32_t len;
	int r;

	cfg.ipv6_csum = false;   /* the frontend fills IPv6 checksums itself */
	cfg.gso6 = false;
	env_up(&e, &cfg, 32ull << 20, FN_ECHO);
	REQUIRE(pvio_netfront_open(e.guest, e.devid, NULL, &nf) == 0);

	/* Bad frames: the first of a burst reports its error. */
	memset(&in, 0, sizeof(in));
	in.data = txbuf[0];
	in.len = 10;
	CHECK_EQ(pvio_netfront_send_burst(nf, 0, &in, 1), -EINVAL);
	in.len = 70000;
	CHECK_EQ(pvio_netfront_send_burst(nf, 0, &in, 1), -EINVAL);
	in.len = 3000;
	in.flags = PVIO_NF_GSO;
	in.gso_type = PVIO_XEN_NETIF_GSO_TYPE_TCPV4;
	in.gso_size = 0;
	CHECK_EQ(pvio_netfront_send_burst(nf, 0, &in, 1), -EINVAL);
	in.gso_size = 1000;
	in.gso_type = 7;
	CHECK_EQ(pvio_netfront_send_burst(nf, 0, &in, 1), -EINVAL);
	in.gso_type = PVIO_XEN_NETIF_GSO_TYPE_TCPV6;   /* the backend has no gso-tcpv6 */
	CHECK_EQ(pvio_netfront_send_burst(nf, 0, &in, 1), -EOPNOTSUPP);
	CHECK_EQ(pvio_netfront_send_burst(nf, 1, &in, 1), -EINVAL);   /* no queue 1 */
	{
		/* a good frame then a bad one: one taken, the error next time */
		struct pvio_nf_pkt two[2];

		memset(two, 0, sizeof(two));
		fr_fill(txbuf[0], 100, 0, 0);
		two[0].data = txbuf[0];
		two[0].len = 100;
		two[1].data = txbuf[0];
		two[1].len = 5;
		CHECK_EQ(pvio_netfront_send_burst(nf, 0, two, 2), 1);
		CHECK_EQ(pvio_netfront_send_burst(nf, 0, &two[1], 1), -EINVAL);
		memset(&out, 0, sizeof(out));
		out.data = rxbuf[0];
		out.cap = BUFSZ;
		CHECK_EQ(recv_one(nf, &out), 1);   /* the good one came back */
		CHECK_EQ(out.len, 100);
	}

	/* Truncation: the frame is larger than the buffer. */
	memset(&in, 0, sizeof(in));
	fr_fill(txbuf[0], 1000, 77, 0);
	in.data = txbuf[0];
	in.len = 1000;
	memset(&out, 0, sizeof(out));
	memset(rxbuf[0], 0xee, 200);
	out.data = rxbuf[0];
	out.cap = 100;
	r = echo_one(nf, &in, &out);
	CHECK_EQ(r, 1);
	CHECK_EQ(out.len, 1000);
	CHECK(out.flags & PVIO_NF_TRUNCATED);
	CHECK(!memcmp(rxbuf[0], txbuf[0], 100));
	CHECK_EQ(rxbuf[0][100], 0xee);

	/* IPv6 csum_blank without the backend's ipv6 offload: filled here. */
	len = mk_ipv6_udp(txbuf[0], 1200);
	memset(&in, 0, sizeof(in));
	in.data = txbuf[0];
	in.len = len;
	in.flags = PVIO_NF_CSUM_BLANK;
	memset(&out, 0, sizeof(out));
	out.data = rxbuf[0];
	out.cap = BUFSZ;
	CHECK_EQ(echo_one(nf, &in, &out), 1);
	CHECK_EQ(out.len, len);
	CHECK_EQ(out.flags, PVIO_NF_DATA_VALIDATED);
	CHECK(csum_ok(rxbuf[0], out.len));
	/* IPv4 csum_blank goes out as is (the backend completes it). */
	len = mk_ipv4_tcp(txbuf[0], 500, false);
	in.len = len;
	CHECK_EQ(echo_one(nf, &in, &out), 1);
	CHECK_EQ(out.flags, PVIO_NF_CSUM_BLANK | PVIO_NF_DATA_VALIDATED);
	CHECK(!memcmp(rxbuf[0], txbuf[0], len));

	REQUIRE(pvio_netfront_get_stats(nf, &st) == 0);
	CHECK(!st.disabled);
	CHECK_EQ(st.rx_truncated, 1);
	pvio_netfront_close(nf);
	env_down(&e);
}

/* The backend dies (ports closed, maps dropped) and a new one comes up:
 * the frontend reconnects with fresh rings and traffic flows again. */
static void test_reconnect(void)
{
	struct fn_cfg cfg = env_cfg_default();
	struct pvio_netfront_opts o;
	struct pvio_netfront *nf = NULL;
	struct pvio_nf_pkt out;
	struct pvio_netfront_stats st;
	struct pvio_netfront_info info;
	char fe[128];
	struct env e;
	int r;

	env_up(&e, &cfg, 32ull << 20, FN_ECHO);
	pvio_netfront_opts_default(&o);
	o.max_queues = 2;
	REQUIRE(pvio_netfront_open(e.guest, e.devid, &o, &nf) == 0);
	echo_checked(nf, 300, 5);
	memset(&out, 0, sizeof(out));
	out.data = rxbuf[0];
	out.cap = BUFSZ;

	fn_stop(&e.be);   /* crash: ports close, rings unmapped */
	/* The frontend notices (on its next poll of the queue) and lets go of
	 * the old backend (Closed). */
	snprintf(fe, sizeof(fe), "/local/domain/%u/device/vif/%u", e.g, e.devid);
	{
		enum pvio_xenbus_state fst = PVIO_XENBUS_STATE_UNKNOWN;
		double end = tu_now() + 5;

		do {
			CHECK(pvio_netfront_recv_burst(nf, 0, &out, 1) >= 0);
			r = pvio_xenbus_read_state(e.xs0, PVIO_XS_NO_TX, fe, &fst);
			CHECK_EQ(r, 0);
			if (fst != PVIO_XENBUS_STATE_CLOSED)
				wait_fd(pvio_netfront_fd(nf, 0), 20);
		} while (fst != PVIO_XENBUS_STATE_CLOSED && tu_now() < end);
		CHECK_EQ(fst, PVIO_XENBUS_STATE_CLOSED);
	}
	memset(&e.be, 0, sizeof(e.be));
	e.be.stop_fd = -1;
	e.be.hv = e.dom0;
	e.be.fe_domid = e.g;
	e.be.devid = e.devid;
	e.be.cfg = cfg;
	REQUIRE(fn_start(&e.be) == 0);
	CHECK_EQ(fn_wait_connected(&e.be, 5000), 0);
	{
		double end = tu_now() + 5;

		do {
			pvio_netfront_get_info(nf, &info);
			if (!info.connected)
				wait_fd(pvio_netfront_fd(nf, 0), 50);
		} while (!info.connected && tu_now() < end);
	}
	CHECK(info.connected);
	CHECK_EQ(info.nr_queues, 2);
	echo_checked(nf, 2500, 6);
	REQUIRE(pvio_netfront_get_stats(nf, &st) == 0);
	CHECK_EQ(st.reconnects, 1);
	CHECK(!st.disabled);
	CHECK_EQ(st.leaked_pages, 0);
	pvio_netfront_close(nf);
	env_down(&e);
}

/* The backend's state node stops reading as a state: the frontend ignores
 * it, as Linux's netfront ignores XenbusStateUnknown (counted), keeps its
 * rings and does not reconnect; frames still flow. */
static void test_unreadable_state(void)
{
	struct fn_cfg cfg = env_cfg_default();
	struct pvio_netfront *nf = NULL;
	struct pvio_netfront_stats st;
	char path[192];
	struct env e;

	env_up(&e, &cfg, 32ull << 20, FN_ECHO);
	REQUIRE(pvio_netfront_open(e.guest, e.devid, NULL, &nf) == 0);
	echo_checked(nf, 300, 7);
	snprintf(path, sizeof(path), "%s/state", e.be.be_dir);
	REQUIRE(pvio_xs_write(e.xs0, PVIO_XS_NO_TX, path, "banana", 6) == 0);
	{
		double end = tu_now() + 10;

		do {
			REQUIRE(pvio_netfront_get_stats(nf, &st) == 0);
			if (!st.state_unreadable)
				usleep(1000);
		} while (!st.state_unreadable && tu_now() < end);
	}
	CHECK_EQ(st.state_unreadable, 1);
	echo_checked(nf, 1400, 8);
	REQUIRE(pvio_netfront_get_stats(nf, &st) == 0);
	CHECK_EQ(st.reconnects, 0);
	CHECK(!st.disabled);
	printf("%-18s queues 1  state \"banana\" ignored (%llu unreadable), no reconnection, "
	       "frames flow\n", "unreadable_state", (unsigned long long)st.state_unreadable);
	pvio_netfront_close(nf);
	env_down(&e);
}

/* Receive until the device says -ENODEV (at most 5 s): it must end up
 * disabled. Returns how long it took, in seconds. */
static double wait_disabled(struct pvio_netfront *nf)
{
	struct pvio_nf_pkt out;
	struct pvio_netfront_stats st;
	double t0 = tu_now(), end = t0 + 5;
	int r;

	memset(&out, 0, sizeof(out));
	out.data = rxbuf[0];
	out.cap = BUFSZ;
	while ((r = pvio_netfront_recv_burst(nf, 0, &out, 1)) >= 0 && tu_now() < end)
		wait_fd(pvio_netfront_fd(nf, 0), 100);
	CHECK_EQ(r, -ENODEV);
	REQUIRE(pvio_netfront_get_stats(nf, &st) == 0);
	CHECK(st.disabled);
	return tu_now() - t0;
}

/* The toolstack detaches the vif under a connected frontend (backend
 * Closing, online=0, wait Closed, remove): the device ends up disabled,
 * and every grant came back (the backend let go before the nodes went). */
static void test_detach(void)
{
	struct fn_cfg cfg = env_cfg_default();
	struct pvio_netfront *nf = NULL;
	struct pvio_netfront_stats st;
	struct env e;

	env_up(&e, &cfg, 32ull << 20, FN_ECHO);
	REQUIRE(pvio_netfront_open(e.guest, e.devid, NULL, &nf) == 0);
	CHECK_EQ(pvio_ts_net_detach(e.xs0, e.g, e.devid, 5000), 0);
	wait_disabled(nf);
	REQUIRE(pvio_netfront_get_stats(nf, &st) == 0);
	CHECK_EQ(st.leaked_pages, 0);
	pvio_netfront_close(nf);
	env_down(&e);
}

/* The backend's directory goes, and only once the frontend has answered
 * that (Initialising: no backend), its own: the frontend must see its own
 * directory go. It watched only the backend's state, whose event had
 * fired already, and waited out its timeout (in test_detach, a race
 * between the toolstack's two removals). */
static void test_detach_two_steps(void)
{
	struct fn_cfg cfg = env_cfg_default();
	struct pvio_netfront_opts o;
	struct pvio_netfront *nf = NULL;
	enum pvio_xenbus_state fst = PVIO_XENBUS_STATE_UNKNOWN;
	struct env e;

	env_up(&e, &cfg, 32ull << 20, FN_ECHO);
	pvio_netfront_opts_default(&o);
	o.timeout_ms = 30000;   /* waiting it out would fail the 5 s below */
	REQUIRE(pvio_netfront_open(e.guest, e.devid, &o, &nf) == 0);
	REQUIRE(pvio_xs_rm(e.xs0, PVIO_XS_NO_TX, e.be.be_dir) == 0);
	CHECK_EQ(pvio_xenbus_wait_state(e.xs0, e.be.fe_dir,
					PVIO_XENBUS_MASK(PVIO_XENBUS_STATE_INITIALISING), 5000, &fst),
		 0);
	REQUIRE(pvio_xs_rm(e.xs0, PVIO_XS_NO_TX, e.be.fe_dir) == 0);
	printf("%-18s queues 1  backend directory, then ours: disabled in %.2f s\n",
	       "detach_two_steps", wait_disabled(nf));
	pvio_netfront_close(nf);
	env_down(&e);
}

/* One thread sends, another receives, on the same queues (the tx and rx
 * locks are separate; the receiver takes the events and reclaims tx). */
struct thr_arg {
	struct pvio_netfront *nf;
	unsigned nq, frames;
	int err;
	uint32_t got[4];
};

static void *sender(void *p)
{
	struct thr_arg *a = p;
	static uint8_t buf[4][2000];
	uint32_t sent[4] = { 0 };
	double end = tu_now() + 30;
	bool done = false;

	while (!done && tu_now() < end) {
		done = true;
		for (unsigned q = 0; q < a->nq; q++) {
			struct pvio_nf_pkt pk;
			uint32_t len = 60 + sent[q] % 1400;
			int r;

			if (sent[q] == a->frames)
				continue;
			done = false;
			fr_fill(buf[q], len, sent[q], q);
			memset(&pk, 0, sizeof(pk));
			pk.data = buf[q];
			pk.len = len;
			r = pvio_netfront_send_burst(a->nf, q, &pk, 1);
			if (r < 0) {
				a->err = r;
				return NULL;
			}
			sent[q] += (uint32_t)r;
			if (r == 0)
				wait_fd(pvio_netfront_fd(a->nf, q), 1);   /* room comes with responses */
		}
	}
	return NULL;
}

static void test_threads(void)
{
	struct fn_cfg cfg = env_cfg_default();
	struct pvio_netfront_opts o;
	struct thr_arg a;
	struct env e;
	pthread_t th;
	double end;
	bool done = false;

	memset(&a, 0, sizeof(a));
	env_up(&e, &cfg, 32ull << 20, FN_ECHO);
	pvio_netfront_opts_default(&o);
	o.max_queues = 2;
	REQUIRE(pvio_netfront_open(e.guest, e.devid, &o, &a.nf) == 0);
	a.nq = 2;
	a.frames = 5000;
	REQUIRE(pthread_create(&th, NULL, sender, &a) == 0);
	end = tu_now() + 30;
	while (!done && tu_now() < end && !a.err) {
		done = true;
		for (unsigned q = 0; q < a.nq; q++) {
			struct pvio_nf_pkt pk[BURST];
			int r;

			for (unsigned i = 0; i < BURST; i++) {
				memset(&pk[i], 0, sizeof(pk[i]));
				pk[i].data = rxbuf[i];
				pk[i].cap = BUFSZ;
			}
			r = pvio_netfront_recv_burst(a.nf, q, pk, BURST);
			if (r < 0) {
				a.err = r;
				break;
			}
			for (int i = 0; i < r; i++) {
				uint32_t len = 60 + a.got[q] % 1400;

				fr_fill(txbuf[0], len, a.got[q], q);
				if (pk[i].len != len || memcmp(pk[i].data, txbuf[0], len)) {
					fprintf(stderr, "threads: queue %u frame %u differs\n", q, a.got[q]);
					a.err = -EBADMSG;
				}
				a.got[q]++;
			}
			if (a.got[q] < a.frames)
				done = false;
		}
		if (!done)
			wait_fd(pvio_netfront_fd(a.nf, 0), 2);
	}
	pthread_join(th, NULL);
	CHECK_EQ(a.err, 0);
	CHECK_EQ(a.got[0], a.frames);
	CHECK_EQ(a.got[1], a.frames);
	printf("threads            queues 2  %u+%u frames, sender and receiver threads\n", a.got[0],
	       a.got[1]);
	pvio_netfront_close(a.nf);
	env_down(&e);
}

/* ---------------------------------------------------------------- NAPI */

static int poll_into(struct pvio_netfront *nf, uint32_t *got, uint32_t frames, bool *bad)
{
	struct pvio_nf_pkt pk[BURST];
	int r;

	for (unsigned i = 0; i < BURST; i++) {
		memset(&pk[i], 0, sizeof(pk[i]));
		pk[i].data = rxbuf[i];
		pk[i].cap = BUFSZ;
	}
	r = pvio_netfront_poll(nf, 0, pk, BURST);
	for (int i = 0; i < r; i++) {
		uint32_t len = 60 + *got % 1400;

		fr_fill(txbuf[0], len, *got, 0);
		if (*got >= frames || pk[i].len != len || memcmp(pk[i].data, txbuf[0], len)) {
			fprintf(stderr, "napi: frame %u differs\n", *got);
			*bad = true;
		}
		(*got)++;
	}
	return r;
}

static int send_range(struct pvio_netfront *nf, uint32_t from, uint32_t to)
{
	static uint8_t buf[2000];

	for (uint32_t s = from; s < to;) {
		struct pvio_nf_pkt pk;
		uint32_t len = 60 + s % 1400;
		int r;

		fr_fill(buf, len, s, 0);
		memset(&pk, 0, sizeof(pk));
		pk.data = buf;
		pk.len = len;
		r = pvio_netfront_send_burst(nf, 0, &pk, 1);
		if (r < 0)
			return r;
		if (r == 0)
			wait_fd(pvio_netfront_fd(nf, 0), 1);   /* room comes with responses */
		s += (uint32_t)r;
	}
	return 0;
}

static void test_napi(void)
{
	struct fn_cfg cfg = env_cfg_default();
	struct pvio_netfront_opts o;
	struct pvio_netfront *nf;
	struct pvio_netfront_stats st;
	struct env e;
	uint32_t got = 0, sent = 0, armed_work = 0, slept = 0;
	bool bad = false;
	double end;

	env_up(&e, &cfg, 32ull << 20, FN_ECHO);
	pvio_netfront_opts_default(&o);
	o.max_queues = 1;
	REQUIRE(pvio_netfront_open(e.guest, e.devid, &o, &nf) == 0);

	/* Polling only: no arm, no sleep. The ports stay masked after the
	 * first poll, and every echoed frame still comes in. */
	REQUIRE(send_range(nf, 0, 200) == 0);
	sent = 200;
	end = tu_now() + 20;
	while (got < sent && !bad && tu_now() < end)
		if (poll_into(nf, &got, 2200, &bad) < 0)
			break;
	CHECK_EQ(got, 200);

	/* A burst, then arm: either arm says work is there, or the fd fires.
	 * A lost wake-up would sleep the full 5 s and fail. */
	for (unsigned round = 0; round < 200 && !bad; round++) {
		uint32_t want = sent + 10;

		REQUIRE(send_range(nf, sent, want) == 0);
		sent = want;
		end = tu_now() + 20;
		while (got < sent && !bad && tu_now() < end) {
			int r = poll_into(nf, &got, 2200, &bad), a;

			if (r < 0)
				break;
			if (r > 0)
				continue;
			a = pvio_netfront_arm(nf, 0);
			CHECK(a == 0 || a == 1);
			if (a == 1) {
				armed_work++;
				continue;
			}
			{
				struct pollfd pf = { .fd = pvio_netfront_fd(nf, 0), .events = POLLIN };

				slept++;
				if (poll(&pf, 1, 5000) == 0 && got < sent) {
					fprintf(stderr, "napi: slept 5 s with %u frame(s) due\n",
						sent - got);
					bad = true;
				}
			}
		}
	}
	CHECK(!bad);
	CHECK_EQ(got, sent);
	CHECK(slept > 0);
	/* Idle: once the last tx completions are in (arm says 1 while they
	 * come), arm finds nothing and a poll returns no frame. */
	{
		int a = 1;

		end = tu_now() + 20;
		while (a == 1 && tu_now() < end) {
			CHECK_EQ(poll_into(nf, &got, 2200, &bad), 0);
			a = pvio_netfront_arm(nf, 0);
			if (a == 1)
				wait_fd(pvio_netfront_fd(nf, 0), 10);
		}
		CHECK_EQ(a, 0);
	}
	REQUIRE(pvio_netfront_get_stats(nf, &st) == 0);
	CHECK(!st.disabled);
	CHECK_EQ(st.rx_packets, sent);
	CHECK_EQ(pvio_netfront_poll(NULL, 0, NULL, 0), -EINVAL);
	CHECK_EQ(pvio_netfront_arm(nf, 7), -EINVAL);
	printf("napi               queues 1  %u frames polled, %u sleeps after arm, "
	       "%u arms found work\n", got, slept, armed_work);
	pvio_netfront_close(nf);
	env_down(&e);
}


/* ----------------------------------------------------------- zero-copy */

/* Frames of 60..5059 bytes echoed in 1000-byte slots: zero-copy receives
 * describe each in place (pieces adding up to the frame, the bytes sent),
 * alternating with copying receives; 3000 frames through a 256-slot ring
 * show that lent pages come back. */
static void test_zerocopy(void)
{
	struct fn_cfg cfg = env_cfg_default();
	struct pvio_netfront_opts o;
	struct pvio_netfront *nf;
	struct pvio_netfront_stats st;
	struct env e;
	uint32_t got = 0, sent = 0, multi = 0, zc_frames = 0;
	bool bad = false;
	double end;

	cfg.rx_chunk = 1000;
	cfg.rx_offset = 32;
	env_up(&e, &cfg, 32ull << 20, FN_ECHO);
	pvio_netfront_opts_default(&o);
	o.max_queues = 1;
	REQUIRE(pvio_netfront_open(e.guest, e.devid, &o, &nf) == 0);
	end = tu_now() + 60;
	while (got < 3000 && !bad && tu_now() < end) {
		struct pvio_nf_pkt pk[BURST];
		bool zc = (got / 50) % 2 == 0;
		int r;

		if (sent < 3000 && sent - got < 64) {
			static uint8_t buf[6000];
			struct pvio_nf_pkt tx;
			uint32_t len = 60 + sent % 5000;

			fr_fill(buf, len, sent, 0);
			memset(&tx, 0, sizeof(tx));
			tx.data = buf;
			tx.len = len;
			r = pvio_netfront_send_burst(nf, 0, &tx, 1);
			if (r < 0)
				break;
			sent += (uint32_t)r;
		}
		memset(pk, 0, sizeof(pk));
		for (unsigned i = 0; !zc && i < BURST; i++) {
			pk[i].data = rxbuf[i];
			pk[i].cap = BUFSZ;
		}
		r = zc ? pvio_netfront_poll_zc(nf, 0, pk, BURST) : pvio_netfront_poll(nf, 0, pk, BURST);
		if (r < 0)
			break;
		for (int i = 0; i < r; i++) {
			uint32_t len = 60 + got % 5000, off = 0;

			fr_fill(txbuf[0], len, got, 0);
			if (zc) {
				zc_frames++;
				if (pk[i].iovcnt > 1)
					multi++;
				if (pk[i].cap != 0 || (pk[i].flags & PVIO_NF_TRUNCATED) ||
				    !pk[i].iovcnt || pk[i].data != pk[i].iov[0].iov_base)
					bad = true;
				for (unsigned k = 0; !bad && k < pk[i].iovcnt; k++) {
					size_t l = pk[i].iov[k].iov_len;

					if (off + l > len ||
					    memcmp(pk[i].iov[k].iov_base, txbuf[0] + off, l))
						bad = true;
					off += (uint32_t)l;
				}
				if (off != len)
					bad = true;
			} else if (pk[i].len != len || memcmp(pk[i].data, txbuf[0], len)) {
				bad = true;
			}
			if (bad || pk[i].len != len)
				fprintf(stderr, "zerocopy: frame %u differs\n", got);
			bad |= pk[i].len != len;
			got++;
		}
		if (r == 0 && sent == got)
			wait_fd(pvio_netfront_fd(nf, 0), 1);
	}
	CHECK(!bad);
	CHECK_EQ(got, 3000);
	CHECK(multi > 0);
	REQUIRE(pvio_netfront_get_stats(nf, &st) == 0);
	CHECK(!st.disabled);
	CHECK_EQ(st.rx_packets, 3000);
	printf("zerocopy           queues 1  %u frames, %u in place (%u in several pieces)\n",
	       got, zc_frames, multi);
	pvio_netfront_close(nf);
	env_down(&e);
}

/* tx_flush: every frame sent is taken by the backend before it returns. */
static void test_flush(void)
{
	struct fn_cfg cfg = env_cfg_default();
	struct pvio_netfront_opts o;
	struct pvio_netfront *nf;
	static uint8_t buf[1500];
	struct env e;
	uint32_t sent = 0;
	double end;

	env_up(&e, &cfg, 32ull << 20, FN_SINK);
	pvio_netfront_opts_default(&o);
	o.max_queues = 1;
	REQUIRE(pvio_netfront_open(e.guest, e.devid, &o, &nf) == 0);
	CHECK_EQ(pvio_netfront_tx_flush(nf, 0, 0), 0);      /* nothing in flight */
	CHECK_EQ(pvio_netfront_tx_flush(nf, 1, 0), -EINVAL);
	end = tu_now() + 30;
	while (sent < 2000 && tu_now() < end) {
		struct pvio_nf_pkt tx;
		int r;

		fr_fill(buf, 1000, sent, 0);
		memset(&tx, 0, sizeof(tx));
		tx.data = buf;
		tx.len = 1000;
		r = pvio_netfront_send_burst(nf, 0, &tx, 1);
		REQUIRE(r >= 0);
		sent += (uint32_t)r;
		if (r == 0)
			wait_fd(pvio_netfront_fd(nf, 0), 1);
	}
	CHECK_EQ(sent, 2000);
	CHECK_EQ(pvio_netfront_tx_flush(nf, 0, 10000), 0);
	CHECK_EQ(__atomic_load_n(&e.be.tx_frames, __ATOMIC_RELAXED), 2000);
	printf("tx_flush           queues 1  %u frames sent, all taken before it returned\n", sent);
	pvio_netfront_close(nf);
	env_down(&e);
}

/* A sender that polls (send_burst with room) leaves the shared tx index
 * line alone: no rsp_event per call. The call that finds the ring full
 * asks for an event at the next response, so a caller that then sleeps
 * on the fd is woken when room comes. */
static void test_tx_room_event(void)
{
	struct fn_cfg cfg = env_cfg_default();
	struct pvio_netfront_opts o;
	struct pvio_netfront *nf;
	static uint8_t buf[1000];
	struct pvio_sring *sr;
	struct pvio_nf_pkt tx;
	struct pollfd pf;
	struct env e;
	uint32_t sent = 0, full = 0;
	double end;
	int r;

	env_up(&e, &cfg, 32ull << 20, FN_SINK);
	pvio_netfront_opts_default(&o);
	o.max_queues = 1;
	REQUIRE(pvio_netfront_open(e.guest, e.devid, &o, &nf) == 0);
	fr_fill(buf, sizeof(buf), 0, 0);
	memset(&tx, 0, sizeof(tx));
	tx.data = buf;
	tx.len = sizeof(buf);
	/* 300 frames, all taken and answered (more than the ring holds). */
	REQUIRE(send_range(nf, 0, 300) == 0);
	end = tu_now() + 30;
	while (__atomic_load_n(&e.be.tx_frames, __ATOMIC_RELAXED) < 300 && tu_now() < end)
		wait_fd(pvio_netfront_fd(nf, 0), 10);
	REQUIRE(__atomic_load_n(&e.be.tx_frames, __ATOMIC_RELAXED) == 300);
	sr = e.be.q[0].tx.sring;
	/* Reclaim every response without asking for an event. */
	CHECK_EQ(pvio_netfront_send_burst(nf, 0, NULL, 0), 0);
	CHECK((uint32_t)(pvio_load_acquire(&sr->rsp_event) - pvio_load_acquire(&sr->rsp_prod) - 1) >=
	      e.be.q[0].tx.nr_ents);   /* stale: the next response notifies nobody */

	/* The backend stops answering; fill the ring. */
	__atomic_store_n(&e.be.mute, 1, __ATOMIC_RELEASE);
	end = tu_now() + 30;
	while (tu_now() < end) {
		r = pvio_netfront_send_burst(nf, 0, &tx, 1);
		REQUIRE(r >= 0);
		if (r == 0 && ++full == 3)
			break;   /* full, three times over (the mute races a few frames) */
		sent += (uint32_t)r;
	}
	CHECK(sent > 0);
	CHECK_EQ(full, 3);
	{
		uint32_t d = pvio_load_acquire(&sr->rsp_event) - pvio_load_acquire(&sr->rsp_prod);

		CHECK(d >= 1 && d <= e.be.q[0].tx.nr_ents);   /* armed: the next one notifies */
	}
	/* Room comes: the fd fires (the fake looks again within its 1 s poll). */
	__atomic_store_n(&e.be.mute, 0, __ATOMIC_RELEASE);
	pf.fd = pvio_netfront_fd(nf, 0);
	pf.events = POLLIN;
	pf.revents = 0;
	CHECK_EQ(poll(&pf, 1, 20000), 1);
	end = tu_now() + 30;
	while ((r = pvio_netfront_send_burst(nf, 0, &tx, 1)) == 0 && tu_now() < end)
		wait_fd(pvio_netfront_fd(nf, 0), 10);
	CHECK_EQ(r, 1);
	printf("tx_room_event      queues 1  no rsp_event while polling; armed when full "
	       "(%u frames filled the ring), woken when room came\n", sent);
	pvio_netfront_close(nf);
	env_down(&e);
}

/* ---------------------------------------------------------- send_fill */

struct fill_ctx {
	uint32_t seq, len;           /* the next frame */
	int      mode;               /* FILL_* */
	unsigned calls, npages;
	bool     bad_pages;          /* pages not as documented */
	/* the last frame each page held, to check that nothing else wrote it */
	struct { uint8_t *page; uint32_t seq, len, piece; } seen[1024];
	unsigned nseen;
	bool     page_changed;
};

enum { FILL_FRAME, FILL_STOP, FILL_ERR, FILL_SHORT, FILL_LONG, FILL_GSO_BAD, FILL_IPV6 };

static void fill_remember(struct fill_ctx *c, uint8_t *page, uint32_t piece)
{
	unsigned i;

	for (i = 0; i < c->nseen && c->seen[i].page != page; i++)
		;
	if (i == c->nseen) {
		if (c->nseen == sizeof(c->seen) / sizeof(c->seen[0]))
			return;
		c->nseen++;
	}
	c->seen[i].page = page;
	c->seen[i].seq = c->seq;
	c->seen[i].len = c->len;
	c->seen[i].piece = piece;
}

/* The page still holds what this test last wrote into it. */
static void fill_check_page(struct fill_ctx *c, const uint8_t *page)
{
	for (unsigned i = 0; i < c->nseen; i++) {
		uint32_t off, l;

		if (c->seen[i].page != page)
			continue;
		fr_fill(txbuf[1], c->seen[i].len, c->seen[i].seq, 0);
		off = c->seen[i].piece * PVIO_PAGE_SIZE;
		l = c->seen[i].len - off < PVIO_PAGE_SIZE ? c->seen[i].len - off : PVIO_PAGE_SIZE;
		if (memcmp(page, txbuf[1] + off, l))
			c->page_changed = true;
		return;
	}
}

static int fill_cb(void *arg, const struct iovec *pages, unsigned npages, struct pvio_nf_pkt *out)
{
	struct fill_ctx *c = arg;
	uint32_t len = c->len, off = 0;

	c->calls++;
	c->npages = npages;
	if (out->len || out->flags || out->data)
		c->bad_pages = true;   /* out was not zeroed */
	for (unsigned j = 0; j < npages; j++) {
		if (pages[j].iov_len != PVIO_PAGE_SIZE || ((uintptr_t)pages[j].iov_base & 4095))
			c->bad_pages = true;
		fill_check_page(c, pages[j].iov_base);
	}
	switch (c->mode) {
	case FILL_STOP:
		return 0;
	case FILL_ERR:
		return -E2BIG;
	case FILL_SHORT:
		out->len = 13;
		return 1;
	case FILL_LONG:
		out->len = npages * PVIO_PAGE_SIZE + 1;
		return 1;
	case FILL_GSO_BAD:
		out->len = 3000;
		out->flags = PVIO_NF_GSO;
		out->gso_type = 7;
		out->gso_size = 1000;
		return 1;
	case FILL_IPV6:
		len = mk_ipv6_udp(txbuf[2], 1200);
		for (unsigned j = 0; off < len; j++) {
			uint32_t k = len - off < PVIO_PAGE_SIZE ? len - off : PVIO_PAGE_SIZE;

			memcpy(pages[j].iov_base, txbuf[2] + off, k);
			off += k;
		}
		out->len = len;
		out->flags = PVIO_NF_CSUM_BLANK;
		c->nseen = 0;   /* its pages now hold a frame not in the table */
		return 1;
	}
	if ((len + PVIO_PAGE_SIZE - 1) / PVIO_PAGE_SIZE > npages)
		return -ENOSPC;
	fr_fill(txbuf[1], len, c->seq, 0);
	for (unsigned j = 0; off < len; j++) {
		uint32_t k = len - off < PVIO_PAGE_SIZE ? len - off : PVIO_PAGE_SIZE;

		memcpy(pages[j].iov_base, txbuf[1] + off, k);
		fill_remember(c, pages[j].iov_base, j);
		off += k;
	}
	out->len = len;
	c->seq++;
	c->len = 60 + (c->seq * 977) % 12000;
	return 1;
}

/* Frames built in place by a fill callback come back byte for byte, in
 * order; its pages are what the API says; bad frames and callback errors
 * are reported; nothing but the queue's own sends writes its tx pages. */
static void test_send_fill(void)
{
	struct fn_cfg cfg = env_cfg_default();
	struct pvio_netfront_opts o;
	struct pvio_netfront_stats st;
	struct pvio_netfront *nf;
	struct fill_ctx *c = calloc(1, sizeof(*c));
	struct pvio_nf_pkt out;
	struct env e;
	uint32_t got = 0, rseq = 0, rlen = 60, followed;
	bool bad = false;
	double end;

	REQUIRE(c);
	cfg.ipv6_csum = false;   /* the frontend fills IPv6 checksums itself */
	env_up(&e, &cfg, 32ull << 20, FN_ECHO);
	pvio_netfront_opts_default(&o);
	o.max_queues = 1;
	REQUIRE(pvio_netfront_open(e.guest, e.devid, &o, &nf) == 0);

	/* Arguments. */
	CHECK_EQ(pvio_netfront_send_fill(nf, 0, 1, 1000, NULL, c), -EINVAL);
	CHECK_EQ(pvio_netfront_send_fill(nf, 0, 1, 13, fill_cb, c), -EINVAL);
	CHECK_EQ(pvio_netfront_send_fill(nf, 0, 1, 65536, fill_cb, c), -EINVAL);
	CHECK_EQ(pvio_netfront_send_fill(nf, 1, 1, 1000, fill_cb, c), -EINVAL);
	CHECK_EQ(c->calls, 0);

	/* 3000 frames of 60..12059 bytes, built in place, echoed back. */
	c->len = 60;
	end = tu_now() + 60;
	while (got < 3000 && !bad && tu_now() < end) {
		int r;

		if (c->seq < 3000) {
			r = pvio_netfront_send_fill(nf, 0, 3000 - c->seq < 8 ? 3000 - c->seq : 8,
						    12059, fill_cb, c);
			if (r < 0) {
				fprintf(stderr, "send_fill: %s\n", strerror(-r));
				break;
			}
			if (c->npages != 3)
				bad = true;
		}
		memset(&out, 0, sizeof(out));
		out.data = rxbuf[0];
		out.cap = BUFSZ;
		r = pvio_netfront_poll(nf, 0, &out, 1);
		if (r < 0)
			break;
		if (r == 1) {
			fr_fill(txbuf[0], rlen, rseq, 0);
			if (out.len != rlen || memcmp(out.data, txbuf[0], rlen)) {
				fprintf(stderr, "send_fill: frame %u differs\n", got);
				bad = true;
			}
			got++;
			rseq++;
			rlen = 60 + (rseq * 977) % 12000;
		} else if (c->seq == got) {
			wait_fd(pvio_netfront_fd(nf, 0), 1);
		}
	}
	CHECK(!bad);
	CHECK(!c->bad_pages);
	CHECK(!c->page_changed);
	CHECK_EQ(got, 3000);
	CHECK(c->nseen >= 3);
	followed = c->nseen;

	/* Stop, errors, bad frames: nothing sent, the pages come back. */
	c->calls = 0;
	c->mode = FILL_STOP;
	CHECK_EQ(pvio_netfront_send_fill(nf, 0, 4, 100, fill_cb, c), 0);
	CHECK_EQ(c->calls, 1);
	CHECK_EQ(c->npages, 1);
	c->mode = FILL_ERR;
	CHECK_EQ(pvio_netfront_send_fill(nf, 0, 4, 100, fill_cb, c), -E2BIG);
	c->mode = FILL_SHORT;
	CHECK_EQ(pvio_netfront_send_fill(nf, 0, 4, 100, fill_cb, c), -EINVAL);
	c->mode = FILL_LONG;
	CHECK_EQ(pvio_netfront_send_fill(nf, 0, 4, 5000, fill_cb, c), -EINVAL);
	c->mode = FILL_GSO_BAD;
	CHECK_EQ(pvio_netfront_send_fill(nf, 0, 4, 5000, fill_cb, c), -EINVAL);
	REQUIRE(pvio_netfront_get_stats(nf, &st) == 0);
	CHECK_EQ(st.tx_bad, 3);
	CHECK_EQ(st.tx_packets, 3000);
	CHECK(!st.disabled);
	/* A good frame, then a bad one in the same call: one sent. */
	{
		c->mode = FILL_FRAME;
		c->len = 200;
		CHECK_EQ(pvio_netfront_send_fill(nf, 0, 1, 300, fill_cb, c), 1);
		memset(&out, 0, sizeof(out));
		out.data = rxbuf[0];
		out.cap = BUFSZ;
		CHECK_EQ(recv_one(nf, &out), 1);
		fr_fill(txbuf[0], 200, c->seq - 1, 0);
		CHECK(out.len == 200 && !memcmp(out.data, txbuf[0], 200));
	}
	/* IPv6 with a partial checksum, the backend without ipv6 offload:
	 * completed in the pages themselves. */
	c->mode = FILL_IPV6;
	CHECK_EQ(pvio_netfront_send_fill(nf, 0, 1, 2000, fill_cb, c), 1);
	memset(&out, 0, sizeof(out));
	out.data = rxbuf[0];
	out.cap = BUFSZ;
	CHECK_EQ(recv_one(nf, &out), 1);
	CHECK(out.len > 1200 && csum_ok(out.data, out.len));
	REQUIRE(pvio_netfront_get_stats(nf, &st) == 0);
	CHECK_EQ(st.tx_packets, 3002);
	CHECK(!st.disabled);
	printf("send_fill          queues 1  %u frames built in place came back whole; "
	       "%u pages followed; stop/error/bad frames refused\n", got, followed);
	pvio_netfront_close(nf);
	env_down(&e);
	free(c);
}

int main(void)
{
	struct lcfg cfgs[] = {
		{ .name = "basic", .be = env_cfg_default(), .max_queues = 1, .nq_expect = 1,
		  .frames = 3000, .min_len = 18, .max_len = 1514, .scatter = true },
		{ .name = "mq4-chunks", .be = env_cfg_default(), .max_queues = 4, .nq_expect = 4,
		  .frames = 600, .min_len = 18, .max_len = 9000, .scatter = true },
		{ .name = "shared-evtchn-gso", .be = env_cfg_default(), .max_queues = 2,
		  .no_split = true, .gso_rx = true, .nq_expect = 2, .frames = 400,
		  .min_len = 60, .max_len = 65535, .send_gso = true, .scatter = true },
		{ .name = "backend-no-sg", .be = env_cfg_default(), .max_queues = 1,
		  .nq_expect = 1, .frames = 500, .min_len = 18, .max_len = 4096 },
		{ .name = "frontend-no-sg", .be = env_cfg_default(), .max_queues = 3,
		  .no_sg = true, .nq_expect = 3, .frames = 300, .min_len = 18, .max_len = 4096,
		  .scatter = true },
		{ .name = "single-queue-be", .be = env_cfg_default(), .max_queues = 8,
		  .nq_expect = 1, .frames = 200, .min_len = 18, .max_len = 20000,
		  .scatter = true },
	};
	int bad = 0;

	cfgs[1].be.rx_chunk = 1000;
	cfgs[1].be.rx_offset = 64;
	cfgs[2].be.split = false;
	cfgs[2].be.rx_offset = 10;
	cfgs[3].be.sg = false;
	cfgs[3].be.gso4 = cfgs[3].be.gso6 = false;
	cfgs[5].be.max_queues = 0;   /* no multi-queue key at all */
	cfgs[5].be.rx_offset = 100;
	for (unsigned i = 0; i < BURST; i++) {
		txbuf[i] = malloc(BUFSZ);
		rxbuf[i] = malloc(BUFSZ);
		REQUIRE(txbuf[i] && rxbuf[i]);
	}
	test_csum_helpers();
	for (unsigned i = 0; i < sizeof(cfgs) / sizeof(cfgs[0]); i++)
		bad |= run(&cfgs[i]);
	test_oneoffs();
	test_reconnect();
	test_unreadable_state();
	test_detach();
	test_detach_two_steps();
	test_threads();
	test_napi();
	test_zerocopy();
	test_flush();
	test_tx_room_event();
	test_send_fill();
	for (unsigned i = 0; i < BURST; i++) {
		free(txbuf[i]);
		free(rxbuf[i]);
	}
	(void)bad;
	return tu_result();
}
