/* SPDX-License-Identifier: MIT */
/*
 * Faults below pvio-netback, one after another, each seen from the guests:
 *   pool    a small mbuf pool (--mbufs 1024) and a guest S that posts no
 *           rx buffers while A floods it with 9000-byte frames (3 mbufs
 *           each; S's 4 MiB backlog bound alone would take the pool): the
 *           backlogs' budget refuses S's excess, so A -> B keeps flowing
 *           meanwhile; every request of A's is answered, the backlog goes
 *           after --rx-drain-ms, and no mbuf is missing at exit
 *   stall   the uplink stops taking frames (the memif peer, a second
 *           pvio-netback, is SIGSTOPped): what is queued toward it is
 *           dropped and counted, vif-to-vif traffic goes on, the mbufs come
 *           back; once the peer runs again, frames cross the link again
 *   tapgone the TAP under a net_tap uplink is deleted (ip link del): the
 *           backend neither exits nor spins (--poll-us 0: its CPU time
 *           while idle stays small), guests on the bridge keep talking,
 *           and it exits cleanly with every mbuf back
 * tapgone needs a network namespace and /dev/net/tun (skipped otherwise,
 * the others still run).
 */
#include <sched.h>
#include <signal.h>
#include <stdlib.h>

#include "netback/nb_pkt.h"
#include "tests/common/testutil.h"
#include "tests/netback/nbtest.h"
#include "tests/netback/pktgen.h"
#include "xenstore/xenbus.h"

#define T 8000

struct guest {
	struct nbf fe;
	uint16_t dom;
	uint8_t mac[6];
};

static uint8_t frame[70000], rbuf[70000];
static uint32_t tagc = 1;

static void guest_up(struct guest *g, const char *name, const char *mac, const struct nbf_opts *o)
{
	struct nbt_vif v = { .mac = mac };
	struct pvio_hv *hv = nbt_guest(name, 16, &g->dom);

	REQUIRE(nb_mac_parse(mac, g->mac) == 0);
	REQUIRE(nbt_vif_add(g->dom, 0, &v) == 0);
	if (nbf_connect(&g->fe, hv, 0, o, T) != 0) {
		nbt_dump_log();
		REQUIRE(!"connect");
	}
}

static unsigned mkframe(const uint8_t *dst, const uint8_t *src, uint32_t tag, unsigned len)
{
	memcpy(frame, dst, 6);
	memcpy(frame + 6, src, 6);
	frame[12] = 0x88;
	frame[13] = 0xb5;
	for (unsigned i = 14; i < len; i++)
		frame[i] = pg_byte(tag, i);
	return len;
}

static int send_retry(struct guest *s, unsigned len, int timeout_ms)
{
	double end = tu_now() + timeout_ms / 1000.0;
	int r;

	while ((r = nbf_send(&s->fe, 0, frame, len, NULL)) == -EAGAIN && tu_now() < end)
		nbf_wait(&s->fe, 0, 2);
	return r;
}

/* s -> d, one frame, received byte for byte (other frames skipped). */
static bool deliver(struct guest *s, struct guest *d, unsigned len)
{
	mkframe(d->mac, s->mac, tagc++, len);
	if (send_retry(s, len, T) <= 0)
		return false;
	for (;;) {
		int r = nbf_recv(&d->fe, 0, rbuf, sizeof(rbuf), NULL, T);

		if (r <= 0)
			return false;
		if (r == (int)len && memcmp(rbuf, frame, len) == 0)
			return true;
	}
}

static long long vstat(const struct guest *g, const char *what)
{
	char key[64];

	snprintf(key, sizeof(key), "vif.%u.0.%s", g->dom, what);
	return nbt_stat(key);
}

static void test_pool(void)
{
	static const char *const args[] = { "--mbufs", "1024", "--rx-drain-ms", "300", NULL };
	struct nbf_opts o = { .sg = true };
	struct nbf_opts so = { .sg = true, .rx_none = true, .manual_rx = true };
	struct guest a, b, s;
	long long base, refused, held, max_held = 0;
	unsigned sent = 0, ab = 0;

	REQUIRE(nbt_start_netback(args) == 0);
	guest_up(&a, "nm-a", "02:00:00:00:0b:01", &o);
	guest_up(&b, "nm-b", "02:00:00:00:0b:02", &o);
	guest_up(&s, "nm-s", "02:00:00:00:0b:03", &so);
	base = nbt_stat("mempool.baseline");
	CHECK(deliver(&a, &b, 60) && deliver(&b, &a, 60));
	mkframe(a.mac, s.mac, tagc++, 60);          /* S is learned */
	CHECK(send_retry(&s, 60, T) > 0);
	CHECK_EQ(nbf_recv(&a.fe, 0, rbuf, sizeof(rbuf), NULL, T), 60);

	for (unsigned i = 0; i < 700; i++) {
		mkframe(s.mac, a.mac, tagc++, 9000);
		if (send_retry(&a, 9000, T) <= 0)
			break;
		sent++;
		if (i % 50 == 49) {
			if (!deliver(&a, &b, 1000)) {
				CHECK(!"A -> B while S backlogs");
				break;
			}
			ab++;
			held = nbt_stat("mempool.backlog_held");
			if (held > max_held)
				max_held = held;
		}
	}
	CHECK_EQ(sent, 700);
	/* Every request is answered: nothing waits for ever on mbufs. */
	CHECK_EQ(nbf_tx_drain(&a.fe, 0, T), 0);
	CHECK_EQ(a.fe.q[0].tx_err, 0);
	refused = nbt_stat("mempool.backlog_refused");
	printf("pool: 700 frames of 9000 bytes toward a guest with no rx buffers, %u A -> B "
	       "frames meanwhile; backlogs held at most %lld of 1024 mbufs, %lld packets "
	       "refused for the budget, A out of mbufs %lld times\n", ab, max_held, refused,
	       vstat(&a, "tx_nomem"));
	CHECK(refused > 0);
	CHECK(max_held <= 512);
	CHECK_EQ(nbt_stat_wait("mempool.in_use", base, true, T), base);
	CHECK_EQ(nbt_stat("mempool.backlog_held"), 0);
	/* Back to normal: A and B, then S once it posts buffers. */
	for (unsigned i = 0; i < 200; i++)
		if (!deliver(&a, &b, 100 + i * 40)) {
			CHECK(!"A -> B after the flood");
			break;
		}
	s.fe.o.manual_rx = false;
	CHECK(nbf_post_rx(&s.fe, 0, 0) > 0);
	CHECK(deliver(&a, &s, 9000));
	CHECK_EQ(s.fe.q[0].rx_protocol_errors, 0);
	nbf_close(&a.fe, T);
	nbf_close(&b.fe, T);
	nbf_close(&s.fe, T);
	CHECK_EQ(nbt_stop_netback(), 0);         /* exit 1 if an mbuf is missing */
}

static void test_stall(void)
{
	char sock[400], srv[512], cli[512];
	const char *a0[] = { "--uplink", srv, NULL }, *a1[] = { "--uplink", cli, NULL };
	struct nbf_opts o = { .sg = true };
	const uint8_t bc[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	struct guest a, c, b;
	long long base, drops;
	bool up = false;
	double end;

	nbt_select(0);
	snprintf(sock, sizeof(sock), "%s/memif.sock", nbt.dir);
	snprintf(srv, sizeof(srv), "br0=net_memif0,role=server,socket=%s,socket-abstract=no", sock);
	snprintf(cli, sizeof(cli), "br0=net_memif0,role=client,socket=%s,socket-abstract=no", sock);
	REQUIRE(nbt_start_netback(a0) == 0);
	guest_up(&a, "st-a", "02:00:00:00:0c:01", &o);
	guest_up(&c, "st-c", "02:00:00:00:0c:03", &o);
	nbt_select(1);
	nbt_start();
	REQUIRE(nbt_start_netback(a1) == 0);
	guest_up(&b, "st-b", "02:00:00:00:0c:02", &o);
	nbt_select(0);
	/* The link comes up on its own time: broadcast until B hears. */
	end = tu_now() + 10;
	for (uint32_t i = 0; !up && tu_now() < end; i++) {
		int r;

		mkframe(bc, a.mac, i, 60);
		CHECK(send_retry(&a, 60, T) > 0);
		r = nbf_recv(&b.fe, 0, rbuf, sizeof(rbuf), NULL, 100);
		up = r == 60 && memcmp(rbuf + 6, a.mac, 6) == 0;
	}
	REQUIRE(up);
	CHECK(deliver(&b, &a, 60));                 /* A's side learns B */
	CHECK(deliver(&a, &b, 1000));
	base = nbt_stat("mempool.baseline");

	/* The peer stops: its memif rings fill and stay full. */
	nbt_select(1);
	REQUIRE(kill(nbt.netback, SIGSTOP) == 0);
	nbt_select(0);
	for (unsigned i = 0; i < 3000; i++) {
		mkframe(b.mac, a.mac, tagc++, 1000);
		CHECK(send_retry(&a, 1000, T) > 0);
		if (i % 300 == 0)
			CHECK(deliver(&a, &c, 500) && deliver(&c, &a, 500));
	}
	CHECK_EQ(nbf_tx_drain(&a.fe, 0, T), 0);
	drops = nbt_stat_wait("uplink.net_memif0.tx_drops", 1, false, T);
	CHECK(drops > 0);
	CHECK_EQ(nbt_stat_wait("mempool.in_use", base, true, T), base);
	printf("stall: 3000 frames toward a stopped uplink, %lld dropped there, A <-> C "
	       "went on, mbufs back at %lld\n", drops, base);

	/* The peer runs again: the link carries frames again. */
	nbt_select(1);
	REQUIRE(kill(nbt.netback, SIGCONT) == 0);
	while (nbf_recv(&b.fe, 0, rbuf, sizeof(rbuf), NULL, 200) > 0)
		;
	nbt_select(0);
	up = false;
	end = tu_now() + 10;
	for (uint32_t i = 0; !up && tu_now() < end; i++) {
		mkframe(b.mac, a.mac, 777000 + i, 600);
		CHECK(send_retry(&a, 600, T) > 0);
		for (;;) {
			int r = nbf_recv(&b.fe, 0, rbuf, sizeof(rbuf), NULL, 100);

			if (r <= 0)
				break;
			if (r == 600 && memcmp(rbuf, frame, 600) == 0)
				up = true;
		}
	}
	CHECK(up);
	printf("stall: the peer runs again and frames cross the link\n");
	nbf_close(&a.fe, T);
	nbf_close(&c.fe, T);
	nbt_select(1);
	nbf_close(&b.fe, T);
	CHECK_EQ(nbt_stop_netback(), 0);
	nbt_select(0);
	CHECK_EQ(nbt_stop_netback(), 0);
}

/* User + system CPU time of pid, in seconds. */
static double cpu_s(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut = 0, st = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		return -1;
	}
	fclose(f);
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
			 &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static void test_tapgone(void)
{
	char ifname[16], vdev[64], cmd[128];
	const char *args[] = { "--poll-us", "0", "--uplink", vdev, NULL };
	struct nbf_opts o = { .sg = true };
	const uint8_t nobody[6] = { 0x02, 0x99, 0x00, 0x00, 0x00, 0x01 };
	struct guest a, c;
	long long base;
	double c0, c1, t0, t1;

	if (access("/dev/net/tun", R_OK | W_OK) != 0 || system("command -v ip >/dev/null") != 0) {
		printf("tapgone: skipped (no /dev/net/tun or ip(8))\n");
		return;
	}
	if (unshare(CLONE_NEWNET) != 0) {
		printf("tapgone: skipped (no network namespace: %s)\n", strerror(errno));
		return;
	}
	nbt_select(0);
	snprintf(ifname, sizeof(ifname), "pvtg%d", (int)getpid() % 100000);
	snprintf(vdev, sizeof(vdev), "br0=net_tap0,iface=%s", ifname);
	REQUIRE(nbt_start_netback(args) == 0);
	guest_up(&a, "tg-a", "02:00:00:00:0d:01", &o);
	guest_up(&c, "tg-c", "02:00:00:00:0d:03", &o);
	CHECK(deliver(&a, &c, 60) && deliver(&c, &a, 60));
	base = nbt_stat("mempool.baseline");

	snprintf(cmd, sizeof(cmd), "ip link del %s", ifname);
	CHECK_EQ(system(cmd), 0);
	/* Unknown destinations are flooded toward the dead uplink too. */
	for (unsigned i = 0; i < 2000; i++) {
		mkframe(nobody, a.mac, tagc++, 800);
		CHECK(send_retry(&a, 800, T) > 0);
		if (i % 200 == 0)
			CHECK(deliver(&a, &c, 700));
	}
	CHECK_EQ(nbf_tx_drain(&a.fe, 0, T), 0);
	while (nbf_recv(&c.fe, 0, rbuf, sizeof(rbuf), NULL, 100) > 0)
		;
	CHECK(kill(nbt.netback, 0) == 0);
	/* Idle with a dead port: the workers sleep (--poll-us 0). */
	c0 = cpu_s(nbt.netback);
	t0 = tu_now();
	usleep(1000000);   /* a measuring window, not synchronisation */
	c1 = cpu_s(nbt.netback);
	t1 = tu_now();
	printf("tapgone: backend CPU while idle with its TAP gone: %.0f%% of one CPU\n",
	       100 * (c1 - c0) / (t1 - t0));
	CHECK(c0 >= 0 && c1 >= 0 && (c1 - c0) / (t1 - t0) < 0.5);
	for (unsigned i = 0; i < 100; i++)
		if (!deliver(&a, &c, 60 + i * 13) || !deliver(&c, &a, 60 + i * 11)) {
			CHECK(!"A <-> C with the TAP gone");
			break;
		}
	CHECK_EQ(nbt_stat_wait("mempool.in_use", base, true, T), base);
	nbf_close(&a.fe, T);
	nbf_close(&c.fe, T);
	CHECK_EQ(nbt_stop_netback(), 0);
	printf("tapgone: the backend kept serving and exited cleanly\n");
}

int main(void)
{
	nbt_require_netback();
	nbt_select(0);
	nbt_start();
	test_pool();
	test_stall();
	test_tapgone();
	if (tu_failures)
		nbt_dump_log();
	return tu_result();
}
