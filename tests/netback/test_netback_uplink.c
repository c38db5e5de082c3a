/* SPDX-License-Identifier: MIT */
/*
 * pvio-netback end to end with a DPDK uplink: a net_tap port on bridge br0
 * (--uplink br0=net_tap0,iface=...), the kernel side of the tap read and
 * written here through an AF_PACKET socket. Everything runs in a private
 * network namespace (the tap disappears with it).
 *   - a guest's frame to an unknown MAC is flooded out of the uplink; a
 *     frame from the uplink reaches the guest; once learned, unicast goes
 *     only where it belongs
 *   - a 64 KiB GSO frame from a guest leaves the uplink as valid segments;
 *     a partial UDP checksum leaves filled in
 *   - 2000 frames from the uplink all arrive (rx interrupts, no loss)
 *   - a guest on another bridge hears none of it
 * Skips without /dev/net/tun or the right to make a network namespace.
 */
#include <poll.h>
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "netback/nb_pkt.h"
#include "tests/common/testutil.h"
#include "tests/netback/nbtest.h"
#include "tests/netback/pktgen.h"
#include "xenstore/xenbus.h"

#define T 8000
enum { A = 0, B = 1, C = 2, NG = 3 };

static uint8_t mac[NG][6];
static const uint8_t host[6] = { 0x02, 0xaa, 0x00, 0x00, 0x00, 0x01 };
static struct nbf fe[NG];
static uint16_t dom[NG];
static uint8_t frame[70000], rbuf[70000];
static int rawfd = -1;
static char ifname[IFNAMSIZ];

static unsigned mkframe(uint8_t *buf, const uint8_t *dst, const uint8_t *src, uint32_t tag,
			unsigned len)
{
	memcpy(buf, dst, 6);
	memcpy(buf + 6, src, 6);
	buf[12] = 0x88;
	buf[13] = 0xb5;
	for (unsigned i = 14; i < len; i++)
		buf[i] = pg_byte(tag, i);
	return len;
}

static int send_retry(unsigned s, const uint8_t *buf, unsigned len, const struct nbf_txinfo *ti)
{
	double end = tu_now() + T / 1000.0;
	int r;

	while ((r = nbf_send(&fe[s], 0, buf, len, ti)) == -EAGAIN && tu_now() < end)
		nbf_wait(&fe[s], 0, 2);
	return r;
}

/* Next frame of ours (ethertype 0x88b5 or IP from a guest) on the wire. */
static int raw_recv(uint8_t *buf, unsigned size, int timeout_ms, uint16_t ethertype)
{
	double end = tu_now() + timeout_ms / 1000.0;

	while (tu_now() < end) {
		struct pollfd pf = { .fd = rawfd, .events = POLLIN };
		ssize_t n;

		if (poll(&pf, 1, 50) <= 0)
			continue;
		n = recv(rawfd, buf, size, 0);
		if (n >= 14 && pg_get16(buf + 12) == ethertype)
			return (int)n;
	}
	return 0;
}

/* Next frame at guest g that is ours (the kernel may send its own). */
static int guest_recv(unsigned g, uint8_t *buf, int timeout_ms)
{
	double end = tu_now() + timeout_ms / 1000.0;

	while (tu_now() < end) {
		int r = nbf_recv(&fe[g], 0, buf, sizeof(rbuf), NULL, 50);

		if (r < 0)
			return r;
		if (r >= 14 && pg_get16(buf + 12) == 0x88b5)
			return r;
	}
	return 0;
}

static bool setup_ns(void)
{
	FILE *f;

	if (access("/dev/net/tun", R_OK | W_OK) != 0)
		tu_skip("no /dev/net/tun");
	if (unshare(CLONE_NEWNET) != 0)
		tu_skip("cannot create a network namespace (%s)", strerror(errno));
	/* No IPv6 chatter (router solicitations, DAD) from the kernel side. */
	f = fopen("/proc/sys/net/ipv6/conf/default/disable_ipv6", "w");
	if (f) {
		fputs("1", f);
		fclose(f);
	}
	return true;
}

static int open_raw(void)
{
	struct sockaddr_ll sa;
	struct ifreq ifr;
	int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));

	if (fd < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sll_family = AF_PACKET;
	sa.sll_protocol = htons(ETH_P_ALL);
	sa.sll_ifindex = ifr.ifr_ifindex;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	/* Up (DPDK's tap brings it up too; be sure). */
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	return fd;
}

static struct pg_flow flow(bool v6, uint8_t proto)
{
	struct pg_flow f;

	memset(&f, 0, sizeof(f));
	memcpy(f.dst, host, 6);
	memcpy(f.src, mac[A], 6);
	f.v6 = v6;
	f.proto = proto;
	for (int i = 0; i < 16; i++) {
		f.saddr[i] = (uint8_t)(1 + i);
		f.daddr[i] = (uint8_t)(100 + i);
	}
	f.sport = 1234;
	f.dport = 5678;
	f.seq = 1000;
	return f;
}

int main(void)
{
	char vdev[64];
	const char *args[] = { "--uplink", vdev, NULL };
	struct nbf_opts o = { .sg = true };
	struct pvio_hv *g[NG];
	long long base;
	int r;

	nbt_require_netback();
	setup_ns();
	snprintf(ifname, sizeof(ifname), "pvnb%d", (int)getpid() % 100000);
	snprintf(vdev, sizeof(vdev), "br0=net_tap0,iface=%s", ifname);
	nbt_start();
	if (nbt_start_netback(args) < 0)
		return 1;
	rawfd = open_raw();
	REQUIRE(rawfd >= 0);
	for (unsigned i = 0; i < NG; i++) {
		char name[16], m[20];
		struct nbt_vif v = { .mac = m, .bridge = i == C ? "br1" : NULL };

		snprintf(name, sizeof(name), "guest%u", i);
		snprintf(m, sizeof(m), "02:00:00:00:06:%02x", i);
		REQUIRE(nb_mac_parse(m, mac[i]) == 0);
		g[i] = nbt_guest(name, 16, &dom[i]);
		REQUIRE(nbt_vif_add(dom[i], 0, &v) == 0);
		if (nbf_connect(&fe[i], g[i], 0, &o, T) != 0) {
			nbt_dump_log();
			REQUIRE(!"connect");
		}
	}
	base = nbt_stat("mempool.baseline");
	CHECK(base > 0);   /* the tap's rx descriptors hold mbufs */

	/* Guest -> unknown host MAC: flooded to B and out of the uplink. */
	mkframe(frame, host, mac[A], 1, 300);
	CHECK(send_retry(A, frame, 300, NULL) > 0);
	r = raw_recv(rbuf, sizeof(rbuf), T, 0x88b5);
	CHECK(r == 300 && memcmp(rbuf, frame, 300) == 0);
	CHECK_EQ(guest_recv(B, rbuf, T), 300);
	/* Host -> guest A. */
	mkframe(frame, mac[A], host, 2, 1514);
	CHECK_EQ(send(rawfd, frame, 1514, 0), 1514);
	r = guest_recv(A, rbuf, T);
	CHECK(r == 1514 && memcmp(rbuf, frame, 1514) == 0);
	CHECK_EQ(guest_recv(B, rbuf, 100), 0);
	CHECK_EQ(guest_recv(C, rbuf, 10), 0);
	/* Learned: A -> host goes out of the uplink only. */
	mkframe(frame, host, mac[A], 3, 800);
	CHECK(send_retry(A, frame, 800, NULL) > 0);
	r = raw_recv(rbuf, sizeof(rbuf), T, 0x88b5);
	CHECK(r == 800 && memcmp(rbuf, frame, 800) == 0);
	CHECK_EQ(guest_recv(B, rbuf, 100), 0);
	printf("uplink: flooding, learning, both directions\n");

	/* GSO out of the uplink: valid segments. */
	for (int v6 = 0; v6 < 2; v6++) {
		struct pg_flow f = flow(v6, PG_TCP);
		unsigned payload = 60000, hdr = pg_hdrs(&f), off = 0, mss = v6 ? 1440 : 1460;
		struct nbf_txinfo ti = { .flags = PVIO_NETTXF_csum_blank, .gso_size = (uint16_t)mss,
					 .gso_type = v6 ? PVIO_XEN_NETIF_GSO_TYPE_TCPV6
							: PVIO_XEN_NETIF_GSO_TYPE_TCPV4 };
		unsigned len = pg_build(frame, &f, 50 + (unsigned)v6, 0, payload, 1);

		CHECK(send_retry(A, frame, len, &ti) > 0);
		while (off < payload) {
			r = raw_recv(rbuf, sizeof(rbuf), T, v6 ? 0x86DD : 0x0800);
			if (r <= 0) {
				CHECK(r > 0);
				break;
			}
			CHECK(r <= (int)(hdr + mss));
			CHECK(pg_csum_ok(rbuf, (unsigned)r, &f));
			CHECK_EQ(pg_get32(rbuf + pg_l2(&f) + pg_l3(&f) + 4), f.seq + off);
			CHECK(memcmp(rbuf + hdr, frame + hdr + off, (unsigned)r - hdr) == 0);
			off += (unsigned)r - hdr;
			if (tu_failures)
				break;
		}
		CHECK_EQ(off, payload);
	}
	/* Partial UDP checksum: filled in on the way out. */
	{
		struct pg_flow f = flow(false, PG_UDP);
		struct nbf_txinfo ti = { .flags = PVIO_NETTXF_csum_blank };
		unsigned len = pg_build(frame, &f, 60, 0, 999, 1);

		CHECK(send_retry(A, frame, len, &ti) > 0);
		r = raw_recv(rbuf, sizeof(rbuf), T, 0x0800);
		CHECK_EQ(r, (int)len);
		CHECK(pg_csum_ok(rbuf, len, &f));
	}
	printf("uplink: GSO segmented and checksums filled in software\n");

	/* 2000 frames from the host side, all delivered, in order. */
	{
		unsigned got = 0, sent = 0;
		double end = tu_now() + 20;

		while (got < 2000 && tu_now() < end) {
			while (sent < 2000 && sent - got < 64) {
				unsigned len = 60 + (sent * 37) % 1400;

				mkframe(frame, mac[A], host, 1000 + sent, len);
				if (send(rawfd, frame, len, 0) != (ssize_t)len)
					break;
				sent++;
			}
			r = guest_recv(A, rbuf, 1000);
			if (r <= 0)
				break;
			mkframe(frame, mac[A], host, 1000 + got, 60 + (got * 37) % 1400);
			if (r != (int)(60 + (got * 37) % 1400) || memcmp(rbuf, frame, (size_t)r)) {
				CHECK(!"frame from the uplink");
				break;
			}
			got++;
		}
		CHECK_EQ(got, 2000);
		printf("uplink -> guest: %u frames\n", got);
	}
	CHECK_EQ(guest_recv(C, rbuf, 50), 0);
	CHECK(nbt_stat("uplink.net_tap0.rx_pkts") >= 2001);
	CHECK(nbt_stat("uplink.net_tap0.tx_pkts") >= 4);
	CHECK_EQ(nbt_stat("uplink.net_tap0.tx_drops"), 0);
	for (unsigned i = 0; i < NG; i++)
		nbf_close(&fe[i], T);
	CHECK_EQ(nbt_stat_wait("mempool.in_use", base, true, T), base);
	close(rawfd);
	CHECK_EQ(nbt_stop_netback(), 0);
	if (tu_failures)
		nbt_dump_log();
	return tu_result();
}
