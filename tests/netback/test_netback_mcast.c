/* SPDX-License-Identifier: MIT */
/*
 * pvio-netback end to end: what Windows' xenvif (and Linux netback) expect
 * of a vif's keys and its multicast control.
 *   - keys: every feature-* key is exactly "0" or "1" (xenvif parses them
 *     with strtol(..., 2)), feature-dynamic-multicast-control=1,
 *     feature-xdp-headroom=1; carrier "0" before the connection, "1"
 *     while connected, "0" after; a frontend that writes
 *     multi-queue-num-queues=1 with flat ring keys (as xenvif always does)
 *     connects
 *   - filtering: M (request-multicast-control=1) asks for group G with an
 *     MCAST_ADD extra on tx: it gets G's frames, not H's; N (filter on,
 *     never asked) gets none; C (no filter) gets all; broadcasts reach all
 *   - M turns request-multicast-control to 0 and back to 1: each takes
 *     effect with no reconnection (connects stays 1, the vif stays
 *     Connected)
 *   - a flood of 200 MCAST_ADDs on N: the first 64 (Linux's
 *     XEN_NETBK_MCAST_MAX) are taken, the rest answered ERROR; N stays
 *     connected and filters with the 64 it has; a DEL makes room again
 * Whether a frame reached a guest is decided without waiting for a
 * timeout: a unicast marker from the same sender follows it on the same
 * backlog, so a guest that gets the marker first did not get the frame.
 */
#include <stdlib.h>

#include "netback/nb_pkt.h"
#include "tests/common/testutil.h"
#include "tests/netback/nbtest.h"
#include "tests/netback/pktgen.h"
#include "xenstore/xenbus.h"

#define T 8000
enum { A = 0, M = 1, N = 2, C = 3, NG = 4 };

static uint8_t mac[NG][6];
static struct nbf fe[NG];
static uint16_t dom[NG];
static uint8_t frame[2048], rbuf[70000];
static uint32_t next_tag = 1;

static int send_retry(unsigned s, const uint8_t *buf, unsigned len)
{
	double end = tu_now() + T / 1000.0;
	int r;

	while ((r = nbf_send(&fe[s], 0, buf, len, NULL)) == -EAGAIN && tu_now() < end)
		nbf_wait(&fe[s], 0, 2);
	return r;
}

static unsigned mkframe(const uint8_t *dst, const uint8_t *src, uint32_t tag)
{
	memcpy(frame, dst, 6);
	memcpy(frame + 6, src, 6);
	frame[12] = 0x88;
	frame[13] = 0xb5;
	for (unsigned b = 14; b < 18; b++)
		frame[b] = (uint8_t)(tag >> (8 * (b - 14)));
	for (unsigned b = 18; b < 120; b++)
		frame[b] = pg_byte(tag, b);
	return 120;
}

static uint32_t frame_tag(const uint8_t *f)
{
	return (uint32_t)f[14] | (uint32_t)f[15] << 8 | (uint32_t)f[16] << 16 |
	       (uint32_t)f[17] << 24;
}

/* Send a frame to dst from A, then a marker to each of M, N, C. Returns
 * which got the frame (bit g for guest g). */
static unsigned reaches(const uint8_t *dst)
{
	uint32_t tag = next_tag++, mtag[NG];
	unsigned len = mkframe(dst, mac[A], tag), got = 0;

	CHECK(send_retry(A, frame, len) > 0);
	for (unsigned g = M; g <= C; g++) {
		mtag[g] = next_tag++;
		len = mkframe(mac[g], mac[A], mtag[g]);
		CHECK(send_retry(A, frame, len) > 0);
	}
	for (unsigned g = M; g <= C; g++) {
		for (;;) {
			int r = nbf_recv(&fe[g], 0, rbuf, sizeof(rbuf), NULL, T);

			if (r != 120) {
				CHECK_EQ(r, 120);
				break;
			}
			if (frame_tag(rbuf) == mtag[g])
				break;
			if (frame_tag(rbuf) == tag)
				got |= 1u << g;
		}
	}
	return got;
}

#define BIT(g) (1u << (g))

/* n multicast operations on guest g in one push; returns how many were
 * answered OKAY. */
static unsigned mcast_ops(unsigned g, uint8_t type, const uint8_t (*addr)[6], unsigned n)
{
	static struct pvio_netif_tx_request r[256];
	uint64_t ok0;

	REQUIRE(n <= 100);
	REQUIRE(nbf_tx_drain(&fe[g], 0, T) == 0);
	ok0 = fe[g].q[0].tx_ok;
	memset(r, 0, sizeof(r));
	for (unsigned i = 0; i < n; i++) {
		struct pvio_netif_extra_info x;
		int id = nbf_tx_id(&fe[g], 0);

		REQUIRE(id >= 0);
		r[2 * i].gref = nbf_txref(&fe[g], 0, (unsigned)id);
		r[2 * i].flags = PVIO_NETTXF_extra_info;
		r[2 * i].id = (uint16_t)id;
		memset(&x, 0, sizeof(x));
		x.type = type;
		memcpy(x.u.mcast.addr, addr[i], 6);
		memcpy(&r[2 * i + 1], &x, sizeof(x));
		r[2 * i + 1].id = 0xFFFF;
	}
	CHECK_EQ(nbf_send_raw(&fe[g], 0, r, 2 * n, true), (int)(2 * n));
	CHECK_EQ(nbf_tx_drain(&fe[g], 0, T), 0);
	return (unsigned)(fe[g].q[0].tx_ok - ok0);
}

static void be_key(unsigned g, const char *key, char *buf, size_t size)
{
	char path[256];

	snprintf(path, sizeof(path), "/local/domain/0/backend/vif/%u/0/%s", dom[g], key);
	buf[0] = 0;
	if (pvio_xs_read_buf(nbt.xs, PVIO_XS_NO_TX, path, buf, size - 1, NULL) < 0)
		snprintf(buf, size, "(absent)");
}

static void set_request_mcast(unsigned g, bool on)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/request-multicast-control", fe[g].fe);
	REQUIRE(pvio_xs_write(fe[g].xs, PVIO_XS_NO_TX, path, on ? "1" : "0", 1) == 0);
}

static void test_keys(void)
{
	static const char *const feats[] = {
		"feature-sg", "feature-gso-tcpv4", "feature-gso-tcpv6",
		"feature-ipv6-csum-offload", "feature-rx-copy", "feature-rx-flip",
		"feature-multicast-control", "feature-dynamic-multicast-control",
		"feature-split-event-channels", "feature-ctrl-ring", "feature-xdp-headroom",
	};
	char v[64];

	for (unsigned i = 0; i < sizeof(feats) / sizeof(feats[0]); i++) {
		be_key(M, feats[i], v, sizeof(v));
		if (strcmp(v, "0") && strcmp(v, "1")) {
			fprintf(stderr, "%s = '%s'\n", feats[i], v);
			CHECK(!"a feature key that is not exactly 0 or 1");
		}
	}
	be_key(M, "feature-dynamic-multicast-control", v, sizeof(v));
	CHECK(!strcmp(v, "1"));
	be_key(M, "feature-multicast-control", v, sizeof(v));
	CHECK(!strcmp(v, "1"));
	be_key(M, "feature-xdp-headroom", v, sizeof(v));
	CHECK(!strcmp(v, "1"));
	be_key(M, "feature-rx-copy", v, sizeof(v));
	CHECK(!strcmp(v, "1"));
	be_key(M, "multi-queue-max-queues", v, sizeof(v));
	CHECK(!strcmp(v, "2"));
	printf("feature keys exactly 0/1; dynamic multicast control and xdp headroom offered\n");
}

static void test_filter(void)
{
	const uint8_t g1[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 };
	const uint8_t h1[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x02 };
	const uint8_t bc[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	const uint8_t uc[1][6] = { { 0x02, 0x00, 0x00, 0x00, 0x00, 0x99 } };

	/* Filtering on, nothing asked: M and N get no group, C all. */
	CHECK_EQ(reaches(g1), BIT(C));
	CHECK_EQ(reaches(bc), BIT(M) | BIT(N) | BIT(C));
	CHECK_EQ(mcast_ops(M, PVIO_XEN_NETIF_EXTRA_TYPE_MCAST_ADD, &g1, 1), 1);
	/* Not a multicast address: refused. */
	CHECK_EQ(mcast_ops(M, PVIO_XEN_NETIF_EXTRA_TYPE_MCAST_ADD, uc, 1), 0);
	CHECK_EQ(reaches(g1), BIT(M) | BIT(C));
	CHECK_EQ(reaches(h1), BIT(C));
	CHECK_EQ(reaches(bc), BIT(M) | BIT(N) | BIT(C));
	printf("M gets G (asked) not H; N (never asked) gets no group; C gets all\n");
}

static void test_toggle(void)
{
	const uint8_t h1[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x02 };
	const uint8_t g1[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 };
	char key[64];
	double end;
	unsigned got = 0;

	snprintf(key, sizeof(key), "vif.%u.0.connects", dom[M]);
	CHECK_EQ(nbt_stat(key), 1);
	/* Off: M gets every group, as C (the watch applies it). */
	set_request_mcast(M, false);
	end = tu_now() + T / 1000.0;
	while (!((got = reaches(h1)) & BIT(M)) && tu_now() < end)
		;
	CHECK_EQ(got, BIT(M) | BIT(C));
	CHECK_EQ(reaches(h1), BIT(M) | BIT(C));
	CHECK_EQ(reaches(g1), BIT(M) | BIT(C));
	/* On again: the list M built is in force again. */
	set_request_mcast(M, true);
	end = tu_now() + T / 1000.0;
	while (((got = reaches(h1)) & BIT(M)) && tu_now() < end)
		;
	CHECK_EQ(got, BIT(C));
	CHECK_EQ(reaches(g1), BIT(M) | BIT(C));
	CHECK_EQ(reaches(h1), BIT(C));
	CHECK_EQ(nbt_stat(key), 1);
	CHECK_EQ(nbt_be_wait(dom[M], 0, PVIO_XENBUS_MASK(PVIO_XENBUS_STATE_CONNECTED), 0),
		 PVIO_XENBUS_STATE_CONNECTED);
	printf("request-multicast-control 1 -> 0 -> 1 applied without a reconnection\n");
}

static void test_flood(void)
{
	static uint8_t addr[200][6];
	uint8_t g0[6], g99[6], g150[6];
	unsigned ok = 0;
	char key[64];

	for (unsigned i = 0; i < 200; i++) {
		const uint8_t a[6] = { 0x01, 0x00, 0x5e, 0x01, (uint8_t)(i >> 8), (uint8_t)i };

		memcpy(addr[i], a, 6);
	}
	ok += mcast_ops(N, PVIO_XEN_NETIF_EXTRA_TYPE_MCAST_ADD, addr, 100);
	ok += mcast_ops(N, PVIO_XEN_NETIF_EXTRA_TYPE_MCAST_ADD, addr + 100, 100);
	CHECK_EQ(ok, 64);
	CHECK_EQ(fe[N].q[0].tx_err, 200 - 64);
	printf("200 MCAST_ADDs: %u taken, %llu refused\n", ok,
	       (unsigned long long)fe[N].q[0].tx_err);
	/* Still up, filtering with what it has. */
	snprintf(key, sizeof(key), "vif.%u.0.fatal", dom[N]);
	CHECK_EQ(nbt_stat(key), 0);
	snprintf(key, sizeof(key), "vif.%u.0.connects", dom[N]);
	CHECK_EQ(nbt_stat(key), 1);
	CHECK_EQ(nbt_be_wait(dom[N], 0, PVIO_XENBUS_MASK(PVIO_XENBUS_STATE_CONNECTED), 0),
		 PVIO_XENBUS_STATE_CONNECTED);
	memcpy(g0, addr[0], 6);
	memcpy(g99, addr[99], 6);
	memcpy(g150, addr[150], 6);
	CHECK(reaches(g0) & BIT(N));
	CHECK(!(reaches(g99) & BIT(N)));
	/* A DEL makes room for one more. */
	CHECK_EQ(mcast_ops(N, PVIO_XEN_NETIF_EXTRA_TYPE_MCAST_DEL, &addr[0], 1), 1);
	CHECK_EQ(mcast_ops(N, PVIO_XEN_NETIF_EXTRA_TYPE_MCAST_ADD, &addr[150], 1), 1);
	CHECK_EQ(mcast_ops(N, PVIO_XEN_NETIF_EXTRA_TYPE_MCAST_ADD, &addr[151], 1), 0);
	CHECK(!(reaches(g0) & BIT(N)));
	CHECK(reaches(g150) & BIT(N));
	printf("N stays connected and filters with its 64 groups; DEL makes room\n");
}

int main(void)
{
	static const char *const args[] = { "--max-queues", "2", NULL };
	struct nbf_opts o[NG] = {
		{ .sg = true },
		{ .sg = true, .mcast = true },
		/* As xenvif: multi-queue-num-queues=1, flat keys, IPv6 csum. */
		{ .sg = true, .mcast = true, .nq_key = true, .csum6 = true },
		{ .sg = true },
	};
	struct pvio_hv *g[NG];
	char v[32];

	nbt_require_netback();
	nbt_start();
	if (nbt_start_netback(args) < 0)
		return 1;
	for (unsigned i = 0; i < NG; i++)
		g[i] = nbt_guest_vif(i, 0x07, 32, &dom[i], mac[i]);
	for (unsigned i = 0; i < NG; i++)
		REQUIRE(nbt_be_wait(dom[i], 0, PVIO_XENBUS_MASK(PVIO_XENBUS_STATE_INITWAIT), T) ==
			PVIO_XENBUS_STATE_INITWAIT);
	be_key(M, "carrier", v, sizeof(v));
	CHECK(!strcmp(v, "0"));
	for (unsigned i = 0; i < NG; i++) {
		if (nbf_connect(&fe[i], g[i], 0, &o[i], T) != 0) {
			nbt_dump_log();
			REQUIRE(!"connect");
		}
	}
	for (unsigned i = 0; i < NG; i++) {
		be_key(i, "carrier", v, sizeof(v));
		CHECK(!strcmp(v, "1"));
	}
	printf("carrier 0 before the connection, 1 once connected\n");
	test_keys();
	/* The bridge learns everyone. */
	for (unsigned s = M; s <= C; s++) {
		unsigned len = mkframe(mac[A], mac[s], next_tag++);

		CHECK(send_retry(s, frame, len) > 0);
		CHECK_EQ(nbf_recv(&fe[A], 0, rbuf, sizeof(rbuf), NULL, T), (int)len);
	}
	test_filter();
	test_toggle();
	test_flood();
	for (unsigned i = 0; i < NG; i++)
		CHECK_EQ(fe[i].q[0].rx_protocol_errors, 0);
	nbf_close(&fe[M], T);
	be_key(M, "carrier", v, sizeof(v));
	CHECK(!strcmp(v, "0"));
	printf("carrier 0 after the disconnection\n");
	for (unsigned i = 0; i < NG; i++)
		if (i != M)
			nbf_close(&fe[i], T);
	CHECK_EQ(nbt_stat_wait("mempool.in_use", nbt_stat("mempool.baseline"), true, T),
		 nbt_stat("mempool.baseline"));
	CHECK_EQ(nbt_stop_netback(), 0);
	if (tu_failures)
		nbt_dump_log();
	return tu_result();
}
