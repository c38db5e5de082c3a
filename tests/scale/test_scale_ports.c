/* SPDX-License-Identifier: MIT */
/*
 * Event-channel ports are not a small fixed table (issue 15): dom0 (every
 * backend's domain) gets more than the 4096 ports it once had, up to Xen's
 * FIFO limit, while a guest stops at xl's default of 1023 with -ENOSPC,
 * which pvio_hv_strerror() names. A driver tearing down its channel
 * through pvio_hv_evtchn_unbind() can never close a port number that is
 * someone else's (the bug behind the SIGSEGV with 33+ guests).
 */
#include <sys/resource.h>

#include "hv/world.h"
#include "tests/common/testutil.h"

#define DOM0_PORTS 4500u   /* beyond the old 4096 */

static void close3(struct pvio_world_port_fds *pf)
{
	close(pf->shm_fd);
	close(pf->self_efd);
	close(pf->peer_efd);
}

static void world_ports(void)
{
	struct pvio_world *w;
	struct pvio_world_port_fds pf;
	uint16_t g[5], gx;
	unsigned n = 0;
	int r = 0;

	REQUIRE(pvio_world_create(&w) == 0);
	for (unsigned i = 0; i < 5; i++) {
		char name[16];

		snprintf(name, sizeof(name), "g%u", i);
		REQUIRE(pvio_world_domain_create(w, 0, name, 1 << 20, &g[i]) == 0);
	}
	/* dom0: one port toward a guest after another, past 4096. */
	while (n < DOM0_PORTS) {
		r = pvio_world_evtchn_alloc_unbound(w, 0, 1, g[n % 5], &pf);
		if (r < 0)
			break;
		CHECK(pf.port >= 1 && pf.port < PVIO_HV_MAX_PORTS);
		close3(&pf);
		n++;
	}
	CHECK_EQ(r, 0);
	CHECK_EQ(n, DOM0_PORTS);
	CHECK_EQ(pvio_world_nr_channels(w), DOM0_PORTS);
	/* Lowest free first, as Xen: a freed number comes back. */
	CHECK_EQ(pvio_world_evtchn_close(w, 0, 4321), 0);
	REQUIRE(pvio_world_evtchn_alloc_unbound(w, 0, 1, g[0], &pf) == 0);
	CHECK_EQ(pf.port, 4321);
	close3(&pf);
	/* A guest: xl's default, 1023 ports, then -ENOSPC. */
	REQUIRE(pvio_world_domain_create(w, 0, "gx", 1 << 20, &gx) == 0);
	for (n = 0; n < PVIO_HV_GUEST_MAX_PORTS; n++) {
		r = pvio_world_evtchn_alloc_unbound(w, gx, 2, 0, &pf);
		if (r < 0)
			break;
		close3(&pf);
	}
	CHECK_EQ(n, PVIO_HV_GUEST_MAX_PORTS - 1);
	CHECK_EQ(r, -ENOSPC);
	/* The owner's connection goes: all its ports go. */
	pvio_world_evtchn_close_owner(w, 0, 1);
	pvio_world_evtchn_close_owner(w, gx, 2);
	CHECK_EQ(pvio_world_nr_channels(w), 0);
	pvio_world_destroy(w);
	printf("world: dom0 held %u ports, a guest %u then -ENOSPC\n", DOM0_PORTS,
	       PVIO_HV_GUEST_MAX_PORTS - 1);
}

static void unbind_guard(void)
{
	struct pvio_hv_world *w;
	struct pvio_hv *dom0, *g1;
	pvio_evtchn_port_t fa, fb, a, b;
	struct pvio_evtchn *cha, *chb;
	uint16_t d1;
	char why[128];

	REQUIRE(pvio_hv_world_create(&w) == 0);
	REQUIRE(pvio_hv_local_open(w, 0, &dom0) == 0);
	REQUIRE(pvio_hv_domain_create(dom0, "g1", 1 << 20, &d1) == 0);
	REQUIRE(pvio_hv_local_open(w, d1, &g1) == 0);
	REQUIRE(pvio_hv_evtchn_alloc_unbound(g1, 0, &fa) == 0);
	REQUIRE(pvio_hv_evtchn_alloc_unbound(g1, 0, &fb) == 0);
	REQUIRE(pvio_hv_evtchn_bind(dom0, d1, fa, &a) == 0);
	REQUIRE(pvio_hv_evtchn_bind(dom0, d1, fb, &b) == 0);
	cha = pvio_hv_evtchn_handle(dom0, a);
	chb = pvio_hv_evtchn_handle(dom0, b);
	REQUIRE(cha && chb && a != b);
	/* b's number with a's handle (a driver that kept the wrong number):
	 * refused, b untouched. */
	CHECK_EQ(pvio_hv_evtchn_unbind(dom0, b, cha), -ESTALE);
	CHECK_EQ(pvio_hv_evtchn_unbind(dom0, 999, cha), -ESTALE);
	CHECK(pvio_hv_evtchn_handle(dom0, b) == chb);
	CHECK_EQ(pvio_hv_evtchn_notify(g1, fb), 1);
	CHECK_EQ(pvio_hv_evtchn_pending(dom0, b), 1);
	/* Its own handle: closed, and only once. */
	CHECK_EQ(pvio_hv_evtchn_unbind(dom0, a, cha), 0);
	CHECK(pvio_hv_evtchn_handle(dom0, a) == NULL);
	CHECK_EQ(pvio_hv_evtchn_unbind(dom0, a, cha), -ESTALE);
	CHECK_EQ(pvio_hv_evtchn_peer_closed(g1, fa), 1);
	CHECK_EQ(pvio_hv_evtchn_peer_closed(g1, fb), 0);
	CHECK_EQ(pvio_hv_evtchn_unbind(dom0, b, chb), 0);
	/* Resource errors are named. */
	CHECK(strstr(pvio_hv_strerror(dom0, -EUSERS, why, sizeof(why)),
		     "pin registrations exhausted") != NULL);
	CHECK(strstr(pvio_hv_strerror(dom0, -ENOSPC, why, sizeof(why)),
		     "event-channel ports exhausted") != NULL);
	CHECK(strstr(pvio_hv_strerror(dom0, -EMFILE, why, sizeof(why)), "RLIMIT_NOFILE") != NULL);
	CHECK(strcmp(pvio_hv_strerror(dom0, -EINVAL, why, sizeof(why)), strerror(EINVAL)) == 0);
	pvio_hv_close(g1);
	pvio_hv_close(dom0);
	pvio_hv_world_destroy(w);
	printf("unbind: a port is closed only through its own handle\n");
}

int main(void)
{
	/* The world holds 2-3 fds per channel. */
	if (pvio_hv_raise_nofile(NULL, 0, 0) < (long long)DOM0_PORTS * 3 + 4000) {
		printf("RLIMIT_NOFILE below %u: cannot hold %u channels\n",
		       DOM0_PORTS * 3 + 4000, DOM0_PORTS);
		return 77;
	}
	world_ports();
	unbind_guard();
	return tu_failures ? 1 : 0;
}
