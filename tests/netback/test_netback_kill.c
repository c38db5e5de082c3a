/* SPDX-License-Identifier: MIT */
/*
 * pvio-netback end to end: guests killed mid-traffic. Two guest processes
 * (separate processes, as `pvio run` would start them) are SIGKILLed while
 * frames flow:
 *   K1  sends to B as fast as it can and receives B's frames
 *   K2  never refills its rx ring: its backlog is full of B's frames
 * netback notices (their event channels close with their processes),
 * disconnects both, frees everything queued toward them: the mempool's
 * in-use count returns exactly to its baseline. B keeps talking to A
 * throughout, the devices are then removed and the domains destroyed, and
 * a new guest connects and works.
 */
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "netback/nb_pkt.h"
#include "tests/common/testutil.h"
#include "tests/netback/nbtest.h"
#include "tests/netback/pktgen.h"
#include "xenstore/xenbus.h"

#define T 8000
enum { A = 0, B = 1, K1 = 2, K2 = 3, NG = 4 };

static uint8_t mac[NG][6];
static struct nbf fe[NG];
static uint16_t dom[NG];
static uint8_t frame[70000], rbuf[70000];
static uint32_t tagc = 1;
static pid_t kids[NG];

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

static bool deliver(unsigned s, unsigned d, unsigned len)
{
	double end = tu_now() + T / 1000.0;
	int r;

	mkframe(frame, d, s, tagc++, len);
	while ((r = nbf_send(&fe[s], 0, frame, len, NULL)) == -EAGAIN && tu_now() < end)
		nbf_wait(&fe[s], 0, 2);
	if (r <= 0)
		return false;
	/* Other frames (K1's) may come first. */
	while (tu_now() < end) {
		r = nbf_recv(&fe[d], 0, rbuf, sizeof(rbuf), NULL, 100);
		if (r < 0)
			return false;
		if (r == (int)len && memcmp(rbuf, frame, len) == 0)
			return true;
	}
	return false;
}

static void kill_kids(void)
{
	for (unsigned i = 0; i < NG; i++)
		if (kids[i] > 0) {
			kill(kids[i], SIGKILL);
			waitpid(kids[i], NULL, 0);
			kids[i] = 0;
		}
}

/* A guest process: connects, tells the parent, then loops forever. */
static void guest_child(unsigned k, int fd, int ready)
{
	struct pvio_hv *hv;
	struct nbf_opts o = { .sg = true, .manual_rx = k == K2, .rx_post = k == K2 ? 16 : 0 };
	struct nbf f;
	char c = 'r';

	pvio_hv_close(nbt.dom0);
	if (pvio_hv_socket_from_fd(fd, &hv) < 0 || nbf_connect(&f, hv, 0, &o, T) != 0)
		_exit(2);
	/* Be learned: one frame to A. */
	mkframe(frame, A, k, 1, 60);
	nbf_send(&f, 0, frame, 60, NULL);
	if (write(ready, &c, 1) != 1)
		_exit(3);
	for (uint32_t i = 0;; i++) {
		if (k == K1) {
			/* Bursts of 16, about 16000 frames per second: B keeps
			 * up and its backlog is never full. */
			mkframe(frame, B, k, 1000 + i, 60 + i % 1400);
			if (nbf_send(&f, 0, frame, 60 + i % 1400, NULL) == -EAGAIN || i % 16 == 0)
				nbf_wait(&f, 0, 1);
		} else {
			nbf_wait(&f, 0, 10);
		}
		while (nbf_recv(&f, 0, rbuf, sizeof(rbuf), NULL, 0) > 0)
			;
	}
}

int main(void)
{
	struct nbf_opts o = { .sg = true };
	struct pvio_hv *g[NG];
	long long base;
	unsigned got = 0, sent = 0;
	double end;
	int p[2];
	char c;

	nbt_require_netback();
	nbt_start();
	atexit(kill_kids);
	if (nbt_start_netback(NULL) < 0)
		return 1;
	REQUIRE(pipe(p) == 0);
	for (unsigned i = 0; i < NG; i++) {
		char name[16], m[20];
		struct nbt_vif v = { .mac = m };

		snprintf(name, sizeof(name), "guest%u", i);
		snprintf(m, sizeof(m), "02:00:00:00:04:%02x", i);
		REQUIRE(nb_mac_parse(m, mac[i]) == 0);
		if (i < K1) {
			g[i] = nbt_guest(name, 16, &dom[i]);
		} else {
			int fd;

			REQUIRE(pvio_hv_domain_create(nbt.dom0, name, 16 << 20, &dom[i]) == 0);
			REQUIRE(pvio_hv_domain_connect(nbt.dom0, dom[i], &fd) == 0);
			g[i] = NULL;
			REQUIRE(nbt_vif_add(dom[i], 0, &v) == 0);
			kids[i] = fork();
			REQUIRE(kids[i] >= 0);
			if (kids[i] == 0) {
				close(p[0]);
				guest_child(i, fd, p[1]);
			}
			close(fd);
			continue;
		}
		REQUIRE(nbt_vif_add(dom[i], 0, &v) == 0);
		if (nbf_connect(&fe[i], g[i], 0, &o, T) != 0) {
			nbt_dump_log();
			REQUIRE(!"connect");
		}
	}
	close(p[1]);
	for (unsigned i = K1; i < NG; i++)
		if (read(p[0], &c, 1) != 1) {
			nbt_dump_log();
			REQUIRE(!"guest process connected");
		}
	base = nbt_stat("mempool.baseline");
	CHECK(deliver(A, B, 60) && deliver(B, A, 60));

	/* Traffic: K1 floods B; B sends to K1 and K2 (whose backlog fills);
	 * A and B keep talking. */
	end = tu_now() + 1.0;
	while (tu_now() < end) {
		unsigned d = sent % 2 ? K1 : K2;

		mkframe(frame, d, B, tagc++, 1000);
		if (nbf_send(&fe[B], 0, frame, 1000, NULL) > 0)
			sent++;
		while (nbf_recv(&fe[B], 0, rbuf, sizeof(rbuf), NULL, 0) > 0)
			got++;
		while (nbf_recv(&fe[A], 0, rbuf, sizeof(rbuf), NULL, 0) > 0)
			;
		if (sent % 100 == 0)
			CHECK(deliver(A, B, 500));
		nbf_wait(&fe[B], 0, 1);
	}
	printf("B received %u frames from K1, sent %u to K1/K2; in use %lld mbufs above baseline\n",
	       got, sent, nbt_stat("mempool.in_use") - base);
	CHECK(got > 100);
	CHECK(nbt_stat("mempool.in_use") > base);

	/* Kill both guests mid-traffic. */
	kill_kids();
	for (unsigned i = K1; i < NG; i++)
		CHECK_EQ(nbt_be_wait(dom[i], 0, PVIO_XENBUS_MASK(PVIO_XENBUS_STATE_CLOSED), T),
			 PVIO_XENBUS_STATE_CLOSED);
	/* B takes whatever K1 left queued toward it. */
	while (nbf_recv(&fe[B], 0, rbuf, sizeof(rbuf), NULL, 100) > 0)
		got++;
	CHECK_EQ(nbt_stat_wait("mempool.in_use", base, true, T), base);
	printf("guests killed: mbufs in use back to the baseline (%lld)\n", base);
	CHECK(deliver(A, B, 1500) && deliver(B, A, 9000));

	/* Remove the devices, destroy the domains. */
	for (unsigned i = K1; i < NG; i++) {
		char key[64];

		nbt_vif_del(dom[i], 0);
		CHECK_EQ(pvio_hv_domain_destroy(nbt.dom0, dom[i]), 0);
		snprintf(key, sizeof(key), "vif.%u.0.connected", dom[i]);
		CHECK_EQ(nbt_stat_wait(key, -1, true, T), -1);
	}
	/* A new guest comes and works. */
	{
		struct nbt_vif v = { .mac = "02:00:00:00:04:0f" };
		struct nbf nf;
		struct pvio_hv *ng = nbt_guest("newguest", 16, &dom[K1]);

		REQUIRE(nb_mac_parse(v.mac, mac[K1]) == 0);
		REQUIRE(nbt_vif_add(dom[K1], 0, &v) == 0);
		REQUIRE(nbf_connect(&nf, ng, 0, &o, T) == 0);
		fe[K1] = nf;
		CHECK(deliver(K1, A, 100) && deliver(A, K1, 3000));
		nbf_close(&fe[K1], T);
	}
	CHECK_EQ(nbt_stat_wait("mempool.in_use", base, true, T), base);
	nbf_close(&fe[A], T);
	nbf_close(&fe[B], T);
	CHECK_EQ(nbt_stop_netback(), 0);
	if (tu_failures)
		nbt_dump_log();
	return tu_result();
}
