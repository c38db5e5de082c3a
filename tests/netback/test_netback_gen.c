/* SPDX-License-Identifier: MIT */
/*
 * pvio-netback's generator uplink (--uplink BR=pvio_genN,size=B,dst=MAC),
 * the rx benchmark's source: through the switch to a guest, every frame it
 * makes is whole -- its addresses, its type, a sequence number that only
 * grows, the payload pattern of its size -- whether the mbuf it came in
 * was fresh or had carried a frame before (a guest's, or the generator's
 * own); frames sent toward it are taken (its sink). Bad generator options
 * stop pvio-netback with a message naming the option.
 */
#include <stdlib.h>
#include <sys/wait.h>

#include "netback/nb_pkt.h"
#include "tests/common/testutil.h"
#include "tests/netback/nbtest.h"

#define T    8000
#define SIZE 1000

static uint8_t rbuf[70000], frame[2048];

/* pvio-netback with one bad argument: exit status 2 and the message. */
static void bad_option(const char *arg, const char *want)
{
	char cmd[1024];
	FILE *p;
	char out[4096] = "";
	size_t n;
	int st;

	snprintf(cmd, sizeof(cmd), "%s/netback/pvio-netback --uplink '%s' 2>&1", tu_build_dir(),
		 arg);
	p = popen(cmd, "r");
	REQUIRE(p);
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = 0;
	st = pclose(p);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 2);
	if (!strstr(out, want)) {
		fprintf(stderr, "pvio-netback --uplink %s said: %s (want '%s')\n", arg, out, want);
		CHECK(!"message");
	}
}

int main(void)
{
	static const uint8_t gsrc[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x99 };
	const char *args[] = { "--uplink", "brg=pvio_gen0,size=1000,dst=02:00:00:00:07:00",
			       NULL };
	struct nbf_opts o = { .sg = true };
	struct nbf fe;
	struct pvio_hv *g;
	uint8_t mac[6];
	uint16_t dom;
	uint64_t last = 0;
	unsigned got = 0, bad = 0;
	double end;

	nbt_require_netback();
	bad_option("brg=pvio_gen0,size=10", "size=10: 60..4096");
	bad_option("brg=pvio_gen0,dst=01:02", "dst=01:02: a MAC address");
	bad_option("brg=pvio_gen0,src=ff:ff:ff:ff:ff:ff", "src: a unicast address");
	bad_option("brg=pvio_genx", "a generator is named pvio_genN");
	bad_option("brg=pvio_gen0,speed=9", "'speed=9': no such option");

	nbt_start();
	if (nbt_start_netback(args) < 0)
		return 1;
	{
		struct nbt_vif v = { .mac = "02:00:00:00:07:00", .bridge = "brg" };

		REQUIRE(nb_mac_parse(v.mac, mac) == 0);
		g = nbt_guest("guest0", 16, &dom);
		REQUIRE(nbt_vif_add(dom, 0, &v) == 0);
		if (nbf_connect(&fe, g, 0, &o, T) != 0) {
			nbt_dump_log();
			REQUIRE(!"connect");
		}
	}
	/* Frames of the guest's own go toward the generator too (flooded:
	 * the generator's port is the only other one): they reuse mbufs the
	 * generator then fills again. */
	memset(frame, 0xee, sizeof(frame));
	memcpy(frame, "\xff\xff\xff\xff\xff\xff", 6);
	memcpy(frame + 6, mac, 6);
	frame[12] = 0x88;
	frame[13] = 0xb5;
	end = tu_now() + 30;
	while (got < 20000 && !bad && tu_now() < end) {
		int r = nbf_recv(&fe, 0, rbuf, sizeof(rbuf), NULL, 50);
		uint64_t seq;

		if (r < 0)
			break;
		if (r == 0)
			continue;
		if (got % 1000 == 0)
			(void)nbf_send(&fe, 0, frame, 1500, NULL);
		memcpy(&seq, rbuf + 14, 8);
		if (r != SIZE || memcmp(rbuf, mac, 6) || memcmp(rbuf + 6, gsrc, 6) ||
		    rbuf[12] != 0x88 || rbuf[13] != 0xb6 || (got && seq <= last))
			bad++;
		for (unsigned j = 22; j < SIZE && !bad; j++)
			if (rbuf[j] != (uint8_t)(j * 131u + SIZE))
				bad++;
		if (bad)
			fprintf(stderr, "frame %u (%d bytes, seq %llu) is not the generator's\n", got,
				r, (unsigned long long)seq);
		last = seq;
		got++;
	}
	CHECK_EQ(bad, 0);
	CHECK_EQ(got, 20000);
	CHECK(nbt_stat_wait("uplink.pvio_gen0.rx_pkts", 20000, false, T) >= 20000);
	CHECK(nbt_stat_wait("uplink.pvio_gen0.tx_pkts", 1, false, T) >= 1);
	printf("generator: %u frames of %u bytes whole and in order; the guest's frames taken "
	       "by its sink (%lld)\n", got, SIZE, nbt_stat("uplink.pvio_gen0.tx_pkts"));
	nbf_close(&fe, T);
	CHECK_EQ(nbt_stop_netback(), 0);
	return tu_result();
}
