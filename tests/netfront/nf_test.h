/* SPDX-License-Identifier: MIT */
/* netfront tests: one local world with dom0 (the toolstack library and a
 * fake netback thread) and a guest (netfront in the test's thread).
 * Header-only helpers. */
#ifndef PVIO_TEST_NF_TEST_H
#define PVIO_TEST_NF_TEST_H

#include <poll.h>
#include <stdlib.h>

#include "frontend/netfront.h"
#include "hv/hv.h"
#include "tests/common/testutil.h"
#include "tests/netfront/fake_netback.h"
#include "tools/toolstack.h"
#include "xenstore/xenbus.h"
#include "xenstore/xs.h"

#define NF_TEST_MAC "00:16:3e:12:34:56"

struct env {
	struct pvio_hv_world *w;
	struct pvio_hv *dom0, *guest;
	struct pvio_xs *xs0;
	uint16_t g;
	uint32_t devid;
	struct fake_nb be;
};

static inline struct fn_cfg env_cfg_default(void)
{
	struct fn_cfg c = {
		.max_queues = 4, .split = true, .sg = true, .gso4 = true, .gso6 = true,
		.ipv6_csum = true,
	};
	return c;
}

/* World, guest of guest_mem bytes, the vif's nodes written by the real
 * toolstack library, the fake backend started in mode. */
static inline void env_up(struct env *e, const struct fn_cfg *cfg, uint64_t guest_mem, int mode)
{
	struct pvio_vifspec vs;
	char err[128];
	int fd;

	memset(e, 0, sizeof(*e));
	e->be.stop_fd = -1;
	REQUIRE(pvio_hv_world_create(&e->w) == 0);
	REQUIRE(pvio_hv_local_open(e->w, 0, &e->dom0) == 0);
	REQUIRE(pvio_hv_xs_connect(e->dom0, &fd) == 0);
	REQUIRE(pvio_xs_open_fd(fd, &e->xs0) == 0);
	REQUIRE(pvio_ts_domain_create(e->dom0, e->xs0, "guest", guest_mem, &e->g) == 0);
	REQUIRE(pvio_hv_local_open(e->w, e->g, &e->guest) == 0);
	REQUIRE(pvio_vifspec_parse("mac=" NF_TEST_MAC ",bridge=br0", &vs, err, sizeof(err)) == 0);
	REQUIRE(pvio_ts_net_attach(e->xs0, e->g, &vs, &e->devid) == 0);
	e->be.hv = e->dom0;
	e->be.fe_domid = e->g;
	e->be.devid = e->devid;
	e->be.cfg = *cfg;
	e->be.mode = mode;
	e->be.seed = 1;
	REQUIRE(fn_start(&e->be) == 0);
}

static inline void env_down(struct env *e)
{
	fn_stop(&e->be);
	pvio_ts_net_detach(e->xs0, e->g, e->devid, 0);
	pvio_hv_close(e->guest);
	pvio_ts_domain_destroy(e->dom0, e->xs0, e->g);
	pvio_xs_close(e->xs0);
	pvio_hv_close(e->dom0);
	pvio_hv_world_destroy(e->w);
}

static inline void wait_fd(int fd, int timeout_ms)
{
	struct pollfd pf = { .fd = fd, .events = POLLIN };

	if (poll(&pf, 1, timeout_ms) < 0) {
		/* EINTR: the caller loops */
	}
}

/* Deterministic test frames: dst, src, ethertype 0x88b5, seq, then bytes
 * from a generator seeded by seq. */
static inline uint32_t fr_next(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

static inline void fr_fill(uint8_t *p, uint32_t len, uint32_t seq, unsigned queue)
{
	static const uint8_t dst[6] = { 0x00, 0x16, 0x3e, 0x12, 0x34, 0x56 };
	uint32_t x = seq * 2654435761u + queue + 1;

	for (uint32_t i = 0; i < len; i++)
		p[i] = (uint8_t)fr_next(&x);
	if (len >= 14) {
		memcpy(p, dst, 6);
		p[6] = 0x02;
		p[12] = 0x88;
		p[13] = 0xb5;
	}
	if (len >= 18) {
		p[14] = (uint8_t)(seq >> 24);
		p[15] = (uint8_t)(seq >> 16);
		p[16] = (uint8_t)(seq >> 8);
		p[17] = (uint8_t)seq;
	}
}

#endif
