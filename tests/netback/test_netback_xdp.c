/* SPDX-License-Identifier: MIT */
/*
 * pvio-netback end to end: rx headroom for Linux netfront's XDP
 * (feature-xdp-headroom / xdp-headroom, states Reconfiguring and
 * Reconfigured).
 *   - X connects without xdp-headroom: data at offset 0, no XDP extra
 *   - X goes Reconfiguring with xdp-headroom=256: the backend answers
 *     Reconfigured, then Connected again when X is; frames arrive with an
 *     XDP extra saying 256, the data at offset 256 of the first page (the
 *     response's offset says so), the length exact; a frame larger than
 *     the first page's room continues at offset 0 of the next pages
 *   - Linux netfront's own order (Reconfiguring first, the key written
 *     after): the headroom still comes into force, without reconnecting
 *   - oversized requests (3000: no room left for a 1518-byte frame;
 *     40000: past netif.h's 0x7FFF; "abc") are refused: the backend still
 *     answers Reconfigured, the headroom in force stays, the log says why
 *   - xdp-headroom=0: back to offset 0 without the extra
 *   - Y (no sg) connects with the largest headroom (2578): a 1518-byte
 *     frame fits its one page; one asking 2579 at connect is refused and
 *     connects without headroom
 */
#include <stdlib.h>

#include "netback/nb_pkt.h"
#include "tests/common/testutil.h"
#include "tests/netback/nbtest.h"
#include "tests/netback/pktgen.h"
#include "xenstore/xenbus.h"

#define T 8000
#define HMAX (4096 - 1518)
enum { A = 0, X = 1, Y = 2, Z = 3, NG = 4 };

static uint8_t mac[NG][6];
static struct nbf fe[NG];
static uint16_t dom[NG];
static uint8_t frame[70000], rbuf[70000];
static uint32_t tag = 1;

static int send_retry(unsigned s, const uint8_t *buf, unsigned len)
{
	double end = tu_now() + T / 1000.0;
	int r;

	while ((r = nbf_send(&fe[s], 0, buf, len, NULL)) == -EAGAIN && tu_now() < end)
		nbf_wait(&fe[s], 0, 2);
	return r;
}

/* A frame of len bytes from A to g, received there: its rx info. */
static bool roundtrip(unsigned g, unsigned len, struct nbf_rxinfo *ri)
{
	memcpy(frame, mac[g], 6);
	memcpy(frame + 6, mac[A], 6);
	frame[12] = 0x88;
	frame[13] = 0xb5;
	for (unsigned b = 14; b < len; b++)
		frame[b] = pg_byte(tag, b);
	tag++;
	if (send_retry(A, frame, len) <= 0)
		return false;
	if (nbf_recv(&fe[g], 0, rbuf, sizeof(rbuf), ri, T) != (int)len)
		return false;
	return memcmp(rbuf, frame, len) == 0;
}

static void fe_write(unsigned g, const char *key, const char *val)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", fe[g].fe, key);
	REQUIRE(pvio_xs_write(fe[g].xs, PVIO_XS_NO_TX, path, val, strlen(val)) == 0);
}

static void fe_state(unsigned g, enum pvio_xenbus_state st)
{
	REQUIRE(pvio_xenbus_switch_state(fe[g].xs, PVIO_XS_NO_TX, fe[g].fe, st) == 0);
}

/* Reconfigure X as Linux netfront does, key before or after the state. */
static void reconfigure(unsigned g, const char *headroom, bool key_first)
{
	if (key_first)
		fe_write(g, "xdp-headroom", headroom);
	fe_state(g, PVIO_XENBUS_STATE_RECONFIGURING);
	if (!key_first)
		fe_write(g, "xdp-headroom", headroom);
	CHECK_EQ(nbt_be_wait(dom[g], 0, PVIO_XENBUS_MASK(PVIO_XENBUS_STATE_RECONFIGURED), T),
		 PVIO_XENBUS_STATE_RECONFIGURED);
	fe_state(g, PVIO_XENBUS_STATE_CONNECTED);
	CHECK_EQ(nbt_be_wait(dom[g], 0, PVIO_XENBUS_MASK(PVIO_XENBUS_STATE_CONNECTED), T),
		 PVIO_XENBUS_STATE_CONNECTED);
}

/* Frames of several sizes at g: each with headroom h (extra and offset). */
static void check_headroom(unsigned g, unsigned h, bool sg)
{
	static const unsigned sizes[] = { 60, 1514, 4096 - 256, 4096 - 255, 9000, 20000 };

	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct nbf_rxinfo ri;
		unsigned len = sizes[i], room = 4096 - h;

		if (!sg && len > room)
			continue;
		CHECK(roundtrip(g, len, &ri));
		CHECK_EQ(ri.offset, h);
		CHECK_EQ(ri.later_offset, 0);
		CHECK_EQ(ri.xdp, h != 0);
		if (h)
			CHECK_EQ(ri.xdp_headroom, h);
		CHECK_EQ(ri.slots, (len <= room ? 1 : 1 + (len - room + 4095) / 4096) +
			 (h ? 1 : 0));
	}
}

static bool log_has(const char *what)
{
	char line[1024];
	bool found = false;
	FILE *f = fopen(nbt.log, "r");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, what) != NULL;
	fclose(f);
	return found;
}

int main(void)
{
	struct nbf_opts o[NG] = {
		{ .sg = true },
		{ .sg = true, .xdp_headroom_ok = true },
		{ .xdp_headroom = HMAX },
		{ .xdp_headroom = HMAX + 1, .xdp_headroom_ok = true },
	};
	struct pvio_hv *g[NG];
	struct nbf_rxinfo ri;
	char key[64];
	double end;

	nbt_require_netback();
	nbt_start();
	if (nbt_start_netback(NULL) < 0)
		return 1;
	for (unsigned i = 0; i < NG; i++) {
		g[i] = nbt_guest_vif(i, 0x0b, 48, &dom[i], mac[i]);
		if (nbf_connect(&fe[i], g[i], 0, &o[i], T) != 0) {
			nbt_dump_log();
			REQUIRE(!"connect");
		}
	}
	/* The bridge learns A (a broadcast, which all get), then the others. */
	memset(frame, 0xff, 6);
	memcpy(frame + 6, mac[A], 6);
	memset(frame + 12, 0x88, 48);
	CHECK(send_retry(A, frame, 60) > 0);
	for (unsigned s = X; s < NG; s++)
		CHECK_EQ(nbf_recv(&fe[s], 0, rbuf, sizeof(rbuf), NULL, T), 60);
	for (unsigned s = X; s < NG; s++) {
		memcpy(frame, mac[A], 6);
		memcpy(frame + 6, mac[s], 6);
		memset(frame + 12, 0x88, 48);
		CHECK(send_retry(s, frame, 60) > 0);
		CHECK_EQ(nbf_recv(&fe[A], 0, rbuf, sizeof(rbuf), NULL, T), 60);
	}

	check_headroom(X, 0, true);
	printf("no xdp-headroom: data at offset 0, no XDP extra\n");

	reconfigure(X, "256", true);
	check_headroom(X, 256, true);
	printf("Reconfiguring with xdp-headroom 256 -> Reconfigured -> Connected: XDP extra "
	       "256, data at offset 256, sg frames continue at offset 0\n");

	/* Linux netfront writes the key after going Reconfiguring. */
	reconfigure(X, "128", false);
	end = tu_now() + T / 1000.0;
	while (roundtrip(X, 100, &ri) && ri.offset != 128 && tu_now() < end)
		;
	check_headroom(X, 128, true);
	printf("key written after Reconfiguring (Linux netfront's order): 128 in force\n");

	reconfigure(X, "3000", true);
	check_headroom(X, 128, true);
	CHECK(log_has("xdp-headroom 3000 refused"));
	reconfigure(X, "40000", true);
	check_headroom(X, 128, true);
	CHECK(log_has("xdp-headroom 40000 refused"));
	reconfigure(X, "abc", true);
	check_headroom(X, 128, true);
	CHECK(log_has("xdp-headroom 'abc' refused"));
	printf("3000, 40000, 'abc' refused (Reconfigured answered, 128 stays)\n");

	reconfigure(X, "0", true);
	check_headroom(X, 0, true);
	printf("xdp-headroom 0: back to offset 0 without the extra\n");
	snprintf(key, sizeof(key), "vif.%u.0.connects", dom[X]);
	CHECK_EQ(nbt_stat(key), 1);

	check_headroom(Y, HMAX, false);
	CHECK(roundtrip(Y, 1518, &ri));
	CHECK_EQ(ri.offset, HMAX);
	CHECK_EQ(ri.slots, 2);
	check_headroom(Z, 0, false);
	CHECK(log_has("connect: xdp-headroom 2579 refused"));
	printf("no sg: headroom %u takes a 1518-byte frame in its page; %u refused at connect\n",
	       HMAX, HMAX + 1);

	for (unsigned i = 0; i < NG; i++) {
		CHECK_EQ(fe[i].q[0].rx_protocol_errors, 0);
		nbf_close(&fe[i], T);
	}
	CHECK_EQ(nbt_stat_wait("mempool.in_use", nbt_stat("mempool.baseline"), true, T),
		 nbt_stat("mempool.baseline"));
	CHECK_EQ(nbt_stop_netback(), 0);
	if (tu_failures)
		nbt_dump_log();
	return tu_result();
}
