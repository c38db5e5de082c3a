/* SPDX-License-Identifier: MIT */
/* blkfront tests: one local world with dom0 (fake backend thread) and a
 * guest (blkfront in the test's threads). Header-only helpers. */
#ifndef PVIO_TEST_BF_TEST_H
#define PVIO_TEST_BF_TEST_H

#include <pthread.h>
#include <stdlib.h>

#include "frontend/blkfront.h"
#include "hv/hv.h"
#include "tests/blkfront/fake_backend.h"
#include "tests/blkfront/fake_toolstack.h"
#include "tests/common/testutil.h"
#include "xenstore/xs.h"

#define BF_VDEV 51712u   /* xvda */

struct env {
	struct pvio_hv_world *w;
	struct pvio_hv *dom0, *guest;
	struct pvio_xs *xs0;
	uint16_t g;
	struct fake_be be;
};

static inline struct fb_cfg env_cfg_default(void)
{
	struct fb_cfg c = {
		.max_queues = 4, .max_order = 4, .persistent = true, .max_indirect = 256,
		.sector_size = 512, .flush = true, .barrier = false, .discard = true,
	};
	return c;
}

/* World, guest of guest_mem bytes, toolstack nodes, backend started. */
static inline void env_up(struct env *e, const struct fb_cfg *cfg, uint64_t disk_bytes,
			  uint64_t guest_mem, int mode)
{
	int fd;

	memset(e, 0, sizeof(*e));
	e->be.stop_fd = -1;
	REQUIRE(pvio_hv_world_create(&e->w) == 0);
	REQUIRE(pvio_hv_local_open(e->w, 0, &e->dom0) == 0);
	REQUIRE(pvio_hv_domain_create(e->dom0, "guest", guest_mem, &e->g) == 0);
	REQUIRE(pvio_hv_local_open(e->w, e->g, &e->guest) == 0);
	REQUIRE(pvio_hv_xs_connect(e->dom0, &fd) == 0);
	REQUIRE(pvio_xs_open_fd(fd, &e->xs0) == 0);
	REQUIRE(ft_vbd_create(e->xs0, e->g, 0, BF_VDEV, cfg->readonly, &e->be.vbd) == 0);
	e->be.hv = e->dom0;
	e->be.cfg = *cfg;
	e->be.disk_bytes = disk_bytes;
	e->be.disk = calloc(1, disk_bytes);
	e->be.mode = mode;
	e->be.seed = 1;
	REQUIRE(e->be.disk);
	REQUIRE(fb_start(&e->be) == 0);
}

static inline void env_down(struct env *e)
{
	fb_join(&e->be);
	fb_release(&e->be);
	ft_vbd_destroy(e->xs0, &e->be.vbd);
	pvio_xs_close(e->xs0);
	pvio_hv_close(e->guest);
	pvio_hv_domain_destroy(e->dom0, e->g);
	pvio_hv_close(e->dom0);
	pvio_hv_world_destroy(e->w);
	if (e->be.inited) {
		pthread_mutex_destroy(&e->be.mu);
		pthread_cond_destroy(&e->be.cv);
	}
	free(e->be.disk);
}

/* Submit all of reqs[0..n) on queue q and reap them all; each must come
 * back exactly once. Returns the number of requests with result != 0. */
static inline int run_batch(struct pvio_blkfront *f, unsigned q, struct pvio_blkfront_req **reqs,
			    unsigned n, int timeout_ms)
{
	unsigned sub = 0, got = 0;
	int bad = 0;
	double end = tu_now() + timeout_ms / 1000.0;
	struct pvio_blkfront_req *done[64];

	for (unsigned i = 0; i < n; i++)
		reqs[i]->user = NULL;
	while (got < n) {
		if (sub < n) {
			int k = pvio_blkfront_submit(f, q, reqs + sub, n - sub);

			if (k < 0) {
				fprintf(stderr, "submit: %s\n", strerror(-k));
				return (int)(n - got);
			}
			sub += (unsigned)k;
		}
		int k = pvio_blkfront_reap(f, q, done, 64, 200);
		if (k < 0) {
			fprintf(stderr, "reap: %s\n", strerror(-k));
			return (int)(n - got);
		}
		for (int i = 0; i < k; i++) {
			if (done[i]->user) {
				fprintf(stderr, "request completed twice\n");
				bad++;
			}
			done[i]->user = done[i];
			if (done[i]->result)
				bad++;
			got++;
		}
		if (tu_now() > end) {
			fprintf(stderr, "batch timed out: %u/%u submitted, %u reaped\n", sub, n, got);
			return bad + (int)(n - got);
		}
	}
	return bad;
}

#endif
