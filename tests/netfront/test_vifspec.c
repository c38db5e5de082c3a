/* SPDX-License-Identifier: MIT */
/*
 * The toolstack's network half: xl VIFSPEC parsing (good specs, bad specs
 * with an error naming the field), MAC helpers, and the vif nodes
 * pvio_ts_net_attach() writes (values, permissions as libxl sets them,
 * devid allocation, mac clashes, list, find-by-mac, detach, and their
 * removal with the domain) in a local world.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hv/hv.h"
#include "tests/common/testutil.h"
#include "tools/toolstack.h"
#include "xenstore/xenbus.h"
#include "xenstore/xs.h"

static void good(const char *spec, struct pvio_vifspec *vs)
{
	char err[256] = "";
	int r = pvio_vifspec_parse(spec, vs, err, sizeof(err));

	if (r != 0) {
		fprintf(stderr, "FAIL: '%s' rejected: %s\n", spec, err);
		tu_failures++;
	}
}

static void bad(const char *spec, const char *want)
{
	struct pvio_vifspec vs;
	char err[256] = "";
	int r = pvio_vifspec_parse(spec, &vs, err, sizeof(err));

	if (r != -EINVAL || !strstr(err, want)) {
		fprintf(stderr, "FAIL: '%s': r=%d err='%s' (want -EINVAL and '%s')\n", spec, r,
			err, want);
		tu_failures++;
	} else {
		printf("rejected %-40s %s\n", spec, err);
	}
}

static void test_parse(void)
{
	struct pvio_vifspec vs;
	char mac[18];

	good("mac=00:16:3e:01:02:03,bridge=br0", &vs);
	CHECK(vs.mac_set);
	CHECK_EQ(vs.mac[0], 0x00);
	CHECK_EQ(vs.mac[2], 0x3e);
	CHECK_EQ(vs.mac[5], 0x03);
	CHECK(!strcmp(vs.bridge, "br0"));
	CHECK_EQ(vs.devid, -1);
	CHECK_EQ(vs.mtu, 0);
	CHECK_EQ(vs.trusted, -1);

	good(" mac = 00-16-3E-0A-0B-0C , bridge = xenbr1 , ip=10.0.0.2 10.0.0.3, type=vif,"
	     " model=e1000, vifname=vif1.0, script=vif-bridge, devid=3, mtu=9000, untrusted,"
	     " rate=10Mb/s, backend=Domain-0", &vs);
	pvio_mac_format(vs.mac, mac);
	CHECK(!strcmp(mac, "00:16:3e:0a:0b:0c"));
	CHECK(!strcmp(vs.bridge, "xenbr1"));
	CHECK(!strcmp(vs.ip, "10.0.0.2 10.0.0.3"));
	CHECK(!strcmp(vs.model, "e1000"));
	CHECK(!strcmp(vs.vifname, "vif1.0"));
	CHECK(!strcmp(vs.script, "vif-bridge"));
	CHECK_EQ(vs.devid, 3);
	CHECK_EQ(vs.mtu, 9000);
	CHECK_EQ(vs.trusted, 0);
	/* rate=10Mb/s: 1.25 MB/s, every 50 ms (xl's default interval). */
	CHECK_EQ(vs.rate_bytes, 62500);
	CHECK_EQ(vs.rate_usec, 50000);
	good("rate=100KB/s@20ms", &vs);
	CHECK_EQ(vs.rate_bytes, 2000);
	CHECK_EQ(vs.rate_usec, 20000);
	good("rate=1Gb/s@1s", &vs);
	CHECK_EQ(vs.rate_bytes, 125000000);
	CHECK_EQ(vs.rate_usec, 1000000);

	good("", &vs);   /* all defaults, as `xl network-attach NAME` */
	CHECK(!vs.mac_set);
	CHECK_EQ(vs.rate_usec, 0);
	CHECK(!strcmp(vs.bridge, "xenbr0"));
	good("ip=fd00::1,backend=0,,", &vs);
	CHECK(!strcmp(vs.ip, "fd00::1"));

	bad("mac=00:16:3e:01:02", "mac:");
	bad("mac=00:16:3e:01:02:0g", "mac:");
	bad("mac=00:16-3e:01:02:03", "mac:");
	bad("mac=00:16:3e:01:02:03:04", "mac:");
	bad("mac=01:00:5e:00:00:01", "multicast");
	bad("mac=00:00:00:00:00:00", "null");
	bad("bridge=", "bridge:");
	bad("bridge=my bridge", "bridge:");
	bad("ip=10.0.0.300", "ip:");
	bad("ip=", "ip:");
	bad("type=ioemu", "type:");
	bad("vifname=averyveryverylongname", "vifname:");
	bad("devid=-1", "devid:");
	bad("devid=70000", "devid:");
	bad("devid=abc", "devid:");
	bad("mtu=10", "mtu:");
	bad("mtu=70000", "mtu:");
	bad("backend=dom1", "backend:");
	bad("rate=10Tb/s", "rate: '10Tb/s': unknown unit");
	bad("rate=-10Mb/s", "rate: '-10Mb/s' is not RATE[@INTERVAL]");
	bad("rate=10Mb/s@5h", "rate: '10Mb/s@5h': unknown interval unit 'h'");
	bad("rate=99999999999Mb/s", "rate: '99999999999Mb/s': rate overflow");
	bad("rate=10Mb/s@9999999s", "replenishment interval overflow");
	bad("rate=0Mb/s", "the rate must be above 0");
	bad("rate=", "rate: no rate given");
	bad("colour=blue", "unknown key 'colour'");
	bad("bridge=br0,justaword", "unexpected field 'justaword'");
	CHECK_EQ(pvio_vifspec_parse(NULL, &vs, NULL, 0), -EINVAL);
}

static void test_mac(void)
{
	uint8_t m[6], first[6];
	char s[18];
	bool differ = false;

	for (int i = 0; i < 200; i++) {
		CHECK_EQ(pvio_mac_random(m), 0);
		CHECK(m[0] == 0x00 && m[1] == 0x16 && m[2] == 0x3e);
		CHECK(m[3] < 0x80);
		if (i == 0)
			memcpy(first, m, 6);
		else if (memcmp(first, m, 6))
			differ = true;
		pvio_mac_format(m, s);
		{
			uint8_t back[6];

			CHECK_EQ(pvio_mac_parse(s, back), 0);
			CHECK(!memcmp(back, m, 6));
		}
	}
	CHECK(differ);
	CHECK_EQ(pvio_mac_parse("00:16:3e:01:02:03x", m), -EINVAL);
	CHECK_EQ(pvio_mac_parse("", m), -EINVAL);
}

static void expect(struct pvio_xs *xs, const char *path, const char *want)
{
	char buf[256] = "";
	int r = pvio_xs_read_buf(xs, PVIO_XS_NO_TX, path, buf, sizeof(buf), NULL);

	if (r != 0 || strcmp(buf, want)) {
		fprintf(stderr, "FAIL: %s = '%s' (r=%d), want '%s'\n", path, buf, r, want);
		tu_failures++;
	}
}

static void expect_perms(struct pvio_xs *xs, const char *path, uint16_t owner, uint16_t reader)
{
	struct pvio_xs_perm *p = NULL;
	unsigned n = 0;
	int r = pvio_xs_get_perms(xs, PVIO_XS_NO_TX, path, &p, &n);

	if (r != 0 || n != 2 || p[0].domid != owner || p[0].perm != PVIO_XS_PERM_NONE ||
	    p[1].domid != reader || p[1].perm != PVIO_XS_PERM_READ) {
		fprintf(stderr, "FAIL: perms of %s (r=%d n=%u): want owner %u, read for %u\n", path,
			r, n, owner, reader);
		tu_failures++;
	}
	free(p);
}

static void test_nodes(void)
{
	struct pvio_hv_world *w;
	struct pvio_hv *dom0, *guest;
	struct pvio_xs *xs0, *xsg;
	struct pvio_vifspec vs;
	struct pvio_ts_vif v[8];
	uint32_t devid = 99;
	uint16_t g;
	char be[128], fe[128], path[256], mac[18], err[128];
	int fd, r;

	REQUIRE(pvio_hv_world_create(&w) == 0);
	REQUIRE(pvio_hv_local_open(w, 0, &dom0) == 0);
	REQUIRE(pvio_hv_xs_connect(dom0, &fd) == 0);
	REQUIRE(pvio_xs_open_fd(fd, &xs0) == 0);
	REQUIRE(pvio_ts_domain_create(dom0, xs0, "g", 16ull << 20, &g) == 0);
	REQUIRE(pvio_hv_local_open(w, g, &guest) == 0);
	REQUIRE(pvio_hv_xs_connect(guest, &fd) == 0);
	REQUIRE(pvio_xs_open_fd(fd, &xsg) == 0);

	/* First vif: explicit mac, ip, mtu. */
	REQUIRE(pvio_vifspec_parse("mac=00:16:3e:aa:bb:cc,bridge=br0,ip=10.1.0.2,mtu=9000,"
				   "rate=10Mb/s@20ms", &vs, err, sizeof(err)) == 0);
	CHECK_EQ(pvio_ts_net_attach(xs0, g, &vs, &devid), 0);
	CHECK_EQ(devid, 0);
	snprintf(be, sizeof(be), "/local/domain/0/backend/vif/%u/0", g);
	snprintf(fe, sizeof(fe), "/local/domain/%u/device/vif/0", g);
	snprintf(path, sizeof(path), "%s/frontend", be);
	expect(xs0, path, fe);
	snprintf(path, sizeof(path), "%s/frontend-id", be);
	snprintf(mac, sizeof(mac), "%u", g);
	expect(xs0, path, mac);
	snprintf(path, sizeof(path), "%s/state", be);
	expect(xs0, path, "1");
	snprintf(path, sizeof(path), "%s/online", be);
	expect(xs0, path, "1");
	snprintf(path, sizeof(path), "%s/handle", be);
	expect(xs0, path, "0");
	snprintf(path, sizeof(path), "%s/mac", be);
	expect(xs0, path, "00:16:3e:aa:bb:cc");
	snprintf(path, sizeof(path), "%s/bridge", be);
	expect(xs0, path, "br0");
	snprintf(path, sizeof(path), "%s/ip", be);
	expect(xs0, path, "10.1.0.2");
	snprintf(path, sizeof(path), "%s/mtu", be);
	expect(xs0, path, "9000");
	snprintf(path, sizeof(path), "%s/type", be);
	expect(xs0, path, "vif");
	/* libxl's rate key for Linux netback: "<bytes>,<usec>". */
	snprintf(path, sizeof(path), "%s/rate", be);
	expect(xs0, path, "25000,20000");
	expect_perms(xs0, path, 0, g);
	/* Changed live, lifted; -ENOENT for no such vif. */
	CHECK_EQ(pvio_ts_net_set_rate(xs0, g, 0, 625000, 50000), 0);
	expect(xs0, path, "625000,50000");
	expect_perms(xs0, path, 0, g);
	CHECK_EQ(pvio_ts_net_set_rate(xs0, g, 0, 0, 0), 0);
	CHECK_EQ(pvio_xs_read_buf(xs0, PVIO_XS_NO_TX, path, err, sizeof(err), NULL), -ENOENT);
	CHECK_EQ(pvio_ts_net_set_rate(xs0, g, 0, 0, 0), 0);
	CHECK_EQ(pvio_ts_net_set_rate(xs0, g, 0, 25000, 20000), 0);
	expect(xs0, path, "25000,20000");
	CHECK_EQ(pvio_ts_net_set_rate(xs0, g, 42, 25000, 20000), -ENOENT);
	CHECK_EQ(pvio_ts_net_set_rate(xs0, g, 0, 0, 20000), -EINVAL);
	snprintf(path, sizeof(path), "%s/backend", fe);
	expect(xs0, path, be);
	snprintf(path, sizeof(path), "%s/backend-id", fe);
	expect(xs0, path, "0");
	snprintf(path, sizeof(path), "%s/state", fe);
	expect(xs0, path, "1");
	snprintf(path, sizeof(path), "%s/handle", fe);
	expect(xs0, path, "0");
	snprintf(path, sizeof(path), "%s/mac", fe);
	expect(xs0, path, "00:16:3e:aa:bb:cc");
	snprintf(path, sizeof(path), "%s/mtu", fe);
	expect(xs0, path, "9000");

	/* Permissions: backend dom0's, readable by the guest; frontend the
	 * guest's, readable by dom0; the frontend's mtu read-only. */
	expect_perms(xs0, be, 0, g);
	snprintf(path, sizeof(path), "%s/mac", be);
	expect_perms(xs0, path, 0, g);
	expect_perms(xs0, fe, g, 0);
	snprintf(path, sizeof(path), "%s/state", fe);
	expect_perms(xs0, path, g, 0);
	snprintf(path, sizeof(path), "%s/mtu", fe);
	expect_perms(xs0, path, 0, g);
	/* ... as the guest sees it */
	snprintf(path, sizeof(path), "%s/mac", be);
	expect(xsg, path, "00:16:3e:aa:bb:cc");
	CHECK_EQ(pvio_xs_write(xsg, PVIO_XS_NO_TX, path, "x", 1), -EACCES);
	snprintf(path, sizeof(path), "%s/state", fe);
	CHECK_EQ(pvio_xs_write(xsg, PVIO_XS_NO_TX, path, "2", 1), 0);
	snprintf(path, sizeof(path), "%s/mtu", fe);
	CHECK_EQ(pvio_xs_write(xsg, PVIO_XS_NO_TX, path, "1", 1), -EACCES);

	/* Second vif: random mac, next devid. */
	REQUIRE(pvio_vifspec_parse("bridge=br1", &vs, err, sizeof(err)) == 0);
	CHECK_EQ(pvio_ts_net_attach(xs0, g, &vs, &devid), 0);
	CHECK_EQ(devid, 1);
	CHECK(vs.mac[0] == 0 && vs.mac[1] == 0x16 && vs.mac[2] == 0x3e);
	pvio_mac_format(vs.mac, mac);
	snprintf(path, sizeof(path), "/local/domain/%u/device/vif/1/mac", g);
	expect(xs0, path, mac);
	snprintf(path, sizeof(path), "/local/domain/0/backend/vif/%u/1/mtu", g);
	CHECK_EQ(pvio_xs_read_buf(xs0, PVIO_XS_NO_TX, path, err, sizeof(err), NULL), -ENOENT);
	{
		uint32_t id = 9;

		CHECK_EQ(pvio_ts_net_find_mac(xs0, g, vs.mac, &id), 0);
		CHECK_EQ(id, 1);
	}

	/* Clashes. */
	REQUIRE(pvio_vifspec_parse("mac=00:16:3e:aa:bb:cc", &vs, err, sizeof(err)) == 0);
	CHECK_EQ(pvio_ts_net_attach(xs0, g, &vs, &devid), -EADDRINUSE);
	REQUIRE(pvio_vifspec_parse("devid=1", &vs, err, sizeof(err)) == 0);
	CHECK_EQ(pvio_ts_net_attach(xs0, g, &vs, &devid), -EEXIST);
	REQUIRE(pvio_vifspec_parse("devid=5", &vs, err, sizeof(err)) == 0);
	CHECK_EQ(pvio_ts_net_attach(xs0, g, &vs, &devid), 0);
	CHECK_EQ(devid, 5);

	/* List (by devid), detach, lowest free index reused. */
	r = pvio_ts_net_list(xs0, g, v, 8);
	CHECK_EQ(r, 3);
	CHECK(r == 3 && v[0].devid == 0 && v[1].devid == 1 && v[2].devid == 5);
	CHECK(!strcmp(v[0].mac, "00:16:3e:aa:bb:cc"));
	CHECK(!strcmp(v[0].bridge, "br0"));
	CHECK(!strcmp(v[0].ip, "10.1.0.2"));
	CHECK_EQ(v[0].be_state, 1);
	CHECK_EQ(v[0].fe_state, 2);   /* the guest wrote it above */
	CHECK_EQ(pvio_ts_net_detach(xs0, g, 0, 1000), 0);
	CHECK_EQ(pvio_ts_net_detach(xs0, g, 0, 1000), -ENOENT);
	CHECK_EQ(pvio_xs_read_buf(xs0, PVIO_XS_NO_TX, fe, err, sizeof(err), NULL), -ENOENT);
	CHECK_EQ(pvio_ts_net_list(xs0, g, v, 8), 2);
	REQUIRE(pvio_vifspec_parse("", &vs, err, sizeof(err)) == 0);
	CHECK_EQ(pvio_ts_net_attach(xs0, g, &vs, &devid), 0);
	CHECK_EQ(devid, 0);
	{
		uint8_t m[6] = { 0x00, 0x16, 0x3e, 0xaa, 0xbb, 0xcc };
		uint32_t id;

		CHECK_EQ(pvio_ts_net_find_mac(xs0, g, m, &id), -ENOENT);
	}
	CHECK_EQ(pvio_ts_net_attach(xs0, 0, &vs, &devid), -EINVAL);   /* not for dom0 */

	/* The domain goes, its vifs' backend nodes with it. */
	pvio_xs_close(xsg);
	pvio_hv_close(guest);
	CHECK_EQ(pvio_ts_domain_destroy(dom0, xs0, g), 0);
	snprintf(path, sizeof(path), "/local/domain/0/backend/vif/%u", g);
	CHECK_EQ(pvio_xs_read_buf(xs0, PVIO_XS_NO_TX, path, err, sizeof(err), NULL), -ENOENT);
	CHECK_EQ(pvio_ts_net_list(xs0, g, v, 8), 0);
	pvio_xs_close(xs0);
	pvio_hv_close(dom0);
	pvio_hv_world_destroy(w);
}

int main(void)
{
	test_parse();
	test_mac();
	test_nodes();
	return tu_result();
}
