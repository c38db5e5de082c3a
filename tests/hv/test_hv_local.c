/* SPDX-License-Identifier: MIT */
/* hv local implementation: grants and event channels between a guest and
 * dom0 as two threads of one process (the scenario of scenario.c), plus
 * domain life cycle and capability checks. */
#include <pthread.h>

#include "tests/common/testutil.h"
#include "tests/hv/scenario.h"

struct fe_arg {
	struct pvio_hv *hv;
	struct scn_chan c;
	int fails;
};

static void *fe_thread(void *p)
{
	struct fe_arg *a = p;

	a->fails = scn_frontend(a->hv, a->c, 200000);
	return NULL;
}

int main(void)
{
	struct pvio_hv_world *w;
	struct pvio_hv *dom0, *g1, *g2, *bad;
	struct pvio_hv_domain_info info[4];
	uint16_t d1, d2, dx;
	pvio_evtchn_port_t p;
	int a[2], b[2];
	pthread_t t;
	struct fe_arg fa;

	REQUIRE(pvio_hv_world_create(&w) == 0);
	REQUIRE(pvio_hv_local_open(w, 0, &dom0) == 0);
	CHECK(strcmp(pvio_hv_impl_name(dom0), "local") == 0);
	REQUIRE(pvio_hv_domain_create(dom0, "guest1", 16 << 20, &d1) == 0);
	REQUIRE(pvio_hv_domain_create(dom0, "guest2", 4 << 20, &d2) == 0);
	CHECK(d1 != d2 && d1 >= 1 && d2 >= 1);
	CHECK_EQ(pvio_hv_domain_create(dom0, "guest1", 4096, &dx), -EEXIST);
	CHECK_EQ(pvio_hv_domain_create(dom0, "bad name", 4096, &dx), -EINVAL);
	CHECK_EQ(pvio_hv_domain_create(dom0, "odd", 4097, &dx), -EINVAL);
	CHECK_EQ(pvio_hv_domain_list(dom0, info, 4), 3);
	REQUIRE(pvio_hv_local_open(w, d1, &g1) == 0);
	REQUIRE(pvio_hv_local_open(w, d2, &g2) == 0);
	CHECK_EQ(pvio_hv_domid(g1), d1);
	CHECK_EQ(pvio_hv_local_open(w, 999, &bad), -ESRCH);

	/* Guests have no dom0 rights. */
	CHECK_EQ(pvio_hv_domain_create(g1, "x", 4096, &dx), -EPERM);
	CHECK_EQ(pvio_hv_domain_destroy(g1, d2), -EPERM);
	struct pvio_gnt_map_op op = { .ref = 8 };
	CHECK_EQ(pvio_hv_map(g1, d2, &op, 1), 0);
	CHECK(op.status != PVIO_GNTST_okay);
	/* A port offered to dom0 cannot be bound by guest2. */
	REQUIRE(pvio_hv_evtchn_alloc_unbound(g1, 0, &p) == 0);
	pvio_evtchn_port_t q;
	CHECK_EQ(pvio_hv_evtchn_bind(g2, d1, p, &q), -EINVAL);
	CHECK_EQ(pvio_hv_evtchn_close(g1, p), 0);

	/* The scenario: guest1 frontend thread, dom0 backend here. */
	REQUIRE(pipe(a) == 0 && pipe(b) == 0);
	fa = (struct fe_arg){ .hv = g1, .c = { .rd = b[0], .wr = a[1] } };
	REQUIRE(pthread_create(&t, NULL, fe_thread, &fa) == 0);
	int bf = scn_backend(dom0, d1, (struct scn_chan){ .rd = a[0], .wr = b[1] }, 200000);
	pthread_join(t, NULL);
	CHECK_EQ(bf, 0);
	CHECK_EQ(fa.fails, 0);

	/* A page freed while granted is not handed out again until its last
	 * grant goes; a mapped grant keeps it (the revoke fails) -- XSA-396. */
	uint64_t g, g2nd;
	REQUIRE(pvio_hv_page_alloc(g1, 2, &g) == 0);
	CHECK(pvio_hv_pages_allocated(g1, g, 2));
	int r1 = pvio_hv_grant(g1, 0, g, true), r2 = pvio_hv_grant(g1, 0, g, false);
	REQUIRE(r1 >= 0 && r2 >= 0);
	struct pvio_gnt_map_op m = { .ref = (uint32_t)r1, .flags = PVIO_GNTMAP_readonly };
	CHECK_EQ(pvio_hv_map(dom0, d1, &m, 1), 1);
	pvio_hv_page_free(g1, g, 2);
	CHECK(pvio_hv_pages_allocated(g1, g, 1));        /* still granted */
	CHECK(!pvio_hv_pages_allocated(g1, g + 1, 1));   /* was not */
	CHECK(!pvio_hv_pages_allocated(g1, g, 2));
	CHECK_EQ(pvio_hv_revoke(g1, (uint32_t)r2), 0);
	CHECK_EQ(pvio_hv_revoke(g1, (uint32_t)r1), -EBUSY);
	CHECK(pvio_hv_pages_allocated(g1, g, 1));        /* r1 is mapped */
	/* Allocations meanwhile never get it. */
	for (int i = 0; i < 3; i++) {
		REQUIRE(pvio_hv_page_alloc(g1, 1, &g2nd) == 0);
		CHECK(g2nd != g);
		pvio_hv_page_free(g1, g2nd, 1);
	}
	CHECK_EQ(pvio_hv_unmap(dom0, d1, &m, 1), 1);
	CHECK_EQ(pvio_hv_revoke(g1, (uint32_t)r1), 0);
	CHECK(!pvio_hv_pages_allocated(g1, g, 1));       /* back to the allocator */
	REQUIRE(pvio_hv_page_alloc(g1, 1, &g2nd) == 0);
	CHECK_EQ(g2nd, g);                               /* and handed out again */
	pvio_hv_page_free(g1, g2nd, 1);
	CHECK(!pvio_hv_pages_allocated(g1, (uint64_t)1 << 40, 1));

	/* Destroy guest2 while guest1 still lives. */
	pvio_hv_close(g2);
	CHECK_EQ(pvio_hv_domain_destroy(dom0, d2), 0);
	CHECK_EQ(pvio_hv_domain_destroy(dom0, d2), -ESRCH);
	CHECK_EQ(pvio_hv_domain_list(dom0, info, 4), 2);
	pvio_hv_close(g1);
	CHECK_EQ(pvio_hv_domain_destroy(dom0, d1), 0);
	pvio_hv_close(dom0);
	pvio_hv_world_destroy(w);
	for (int i = 0; i < 2; i++) {
		close(a[i]);
		close(b[i]);
	}
	return tu_result();
}
