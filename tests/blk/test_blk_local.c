/* SPDX-License-Identifier: MIT */
/*
 * The block path in one process (hv local implementation): the real
 * backend core + blkback on one thread, the real blkfront on another, the
 * store served by the local world. Random writes of random sizes (512 B ..
 * 1 MiB), each sector stamped with (lba, generation), then every written
 * sector read back and checked, for a few configurations. Easier to debug
 * than the multi-process variant (tests/blk/test_blk_matrix.sh).
 */
#include <pthread.h>
#include <sys/eventfd.h>

#include "blkback/blkback.h"
#include "blkback/common.h"
#include "frontend/blkfront.h"
#include "hv/hv.h"
#include "tests/common/testutil.h"
#include "tools/toolstack.h"
#include "xenstore/xs.h"

struct be_thread {
	struct pvio_hv *hv;
	struct blkback_cfg cfg;
	int stop_fd;
	int rc;
};

static void *backend_main(void *arg)
{
	struct be_thread *b = arg;
	struct pvio_backend_opts o = { .ops = &pvio_blkback_ops, .ctx = &b->cfg,
				       .stop_fd = b->stop_fd };

	b->rc = pvio_backend_run(b->hv, &o);
	return NULL;
}

static uint64_t rng_state = 88172645463325252ull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void stamp(uint8_t *p, uint64_t lba, uint32_t gen, uint32_t ss)
{
	for (uint32_t i = 0; i < ss; i += 16) {
		memcpy(p + i, &lba, 8);
		memcpy(p + i + 8, &gen, 4);
		uint32_t x = (uint32_t)(lba * 2654435761u) ^ gen ^ i;
		memcpy(p + i + 12, &x, 4);
	}
}

/* One configuration: attach a fresh image, random writes, verify, detach. */
static int run_config(struct pvio_hv *guest, struct pvio_xs *xs0, uint16_t gd, const char *dir,
		      const char *engine, uint32_t ss, struct pvio_blkfront_opts *fo, int n)
{
	char img[300], spec[600], err[128];
	struct pvio_diskspec ds;
	struct pvio_blkfront *f;
	struct pvio_blkfront_info info;
	const uint64_t disk = 16 << 20;
	uint32_t *gen;
	uint8_t *buf, *rbuf;
	int fails = 0, fd;

	snprintf(img, sizeof(img), "%s/local%d.img", dir, n);
	fd = open(img, O_CREAT | O_RDWR | O_TRUNC, 0600);
	REQUIRE(fd >= 0 && ftruncate(fd, (off_t)disk) == 0);
	close(fd);
	snprintf(spec, sizeof(spec), "engine=%s, sector-size=%u, vdev=xvda, access=rw, target=%s",
		 engine, ss, img);
	REQUIRE(pvio_diskspec_parse(spec, &ds, err, sizeof(err)) == 0);
	REQUIRE(pvio_ts_block_attach(xs0, gd, &ds) == 0);
	if (pvio_blkfront_open(guest, 51712, fo, &f) < 0) {
		fprintf(stderr, "config %d: blkfront_open failed\n", n);
		return 1;
	}
	pvio_blkfront_get_info(f, &info);
	CHECK_EQ(info.sector_size, ss);
	CHECK_EQ(info.size_bytes, disk);
	uint64_t nsec = disk / ss;
	gen = calloc(nsec, sizeof(*gen));
	buf = pvio_blkfront_buf_alloc(f, 1 << 20);
	rbuf = pvio_blkfront_buf_alloc(f, 1 << 20);
	REQUIRE(gen && buf && rbuf);
	for (int i = 0; i < 300; i++) {
		uint64_t len = (1 + rnd() % ((1 << 20) / ss)) * ss;
		uint64_t first = rnd() % (nsec - len / ss + 1);
		for (uint64_t s = 0; s < len / ss; s++)
			stamp(buf + s * ss, first + s, ++gen[first + s], ss);
		if (pvio_blkfront_write(f, first * ss, buf, len) < 0) {
			fails++;
			break;
		}
		if (i % 50 == 0)
			CHECK_EQ(pvio_blkfront_flush(f), 0);
	}
	/* Every sector: what was last written, or zeros. */
	for (uint64_t s = 0; s < nsec && !fails; s += (1 << 20) / ss) {
		uint64_t cnt = (1 << 20) / ss;
		if (pvio_blkfront_read(f, s * ss, rbuf, cnt * ss) < 0) {
			fails++;
			break;
		}
		for (uint64_t k = 0; k < cnt; k++) {
			uint8_t want[4096];
			if (gen[s + k])
				stamp(want, s + k, gen[s + k], ss);
			else
				memset(want, 0, ss);
			if (memcmp(rbuf + k * ss, want, ss)) {
				fprintf(stderr, "config %d: sector %llu differs\n", n,
					(unsigned long long)(s + k));
				fails++;
				break;
			}
		}
	}
	pvio_blkfront_buf_free(f, buf, 1 << 20);
	pvio_blkfront_buf_free(f, rbuf, 1 << 20);
	pvio_blkfront_close(f);
	free(gen);
	CHECK_EQ(pvio_ts_block_detach(xs0, gd, 51712, 5000), 0);
	unlink(img);
	printf("config %d (%s, %u-byte sectors, queues %u, order %u, persistent %d, indirect %d, "
	       "%s): %s\n", n, engine, ss, fo->max_queues, fo->max_ring_order, !fo->no_persistent,
	       !fo->no_indirect, fo->protocol ? fo->protocol : "x86_64-abi",
	       fails ? "FAILED" : "verified");
	return fails;
}

int main(void)
{
	struct pvio_hv_world *w;
	struct pvio_hv *dom0, *guest;
	struct pvio_xs *xs0;
	struct be_thread bt;
	char dir[] = "/tmp/pvio-test-XXXXXX";
	pthread_t thr;
	uint16_t gd;
	int fd, fails = 0;
	uint64_t one = 1;

	REQUIRE(mkdtemp(dir));
	REQUIRE(pvio_hv_world_create(&w) == 0);
	REQUIRE(pvio_hv_local_open(w, 0, &dom0) == 0);
	REQUIRE(pvio_hv_xs_connect(dom0, &fd) == 0 && pvio_xs_open_fd(fd, &xs0) == 0);
	REQUIRE(pvio_ts_domain_create(dom0, xs0, "local", 64 << 20, &gd) == 0);
	REQUIRE(pvio_hv_local_open(w, gd, &guest) == 0);

	memset(&bt, 0, sizeof(bt));
	bt.hv = dom0;
	pvio_blkback_cfg_default(&bt.cfg);
	bt.cfg.max_queues = 2;
	bt.stop_fd = eventfd(0, EFD_CLOEXEC);
	REQUIRE(pthread_create(&thr, NULL, backend_main, &bt) == 0);

	static const struct { const char *engine; uint32_t ss; unsigned q, order; bool np, ni;
			      const char *proto; } cfgs[] = {
		{ "io_uring", 512, 1, 0, false, false, NULL },
		{ "io_uring", 4096, 2, 4, true, true, "x86_32-abi" },
		{ "libaio", 512, 2, 4, false, true, NULL },
		{ "psync", 4096, 1, 0, true, false, "x86_32-abi" },
	};
	for (unsigned i = 0; i < sizeof(cfgs) / sizeof(cfgs[0]); i++) {
		struct pvio_blkfront_opts fo;

		pvio_blkfront_opts_default(&fo);
		fo.max_queues = cfgs[i].q;
		fo.max_ring_order = cfgs[i].order;
		fo.no_persistent = cfgs[i].np;
		fo.no_indirect = cfgs[i].ni;
		fo.protocol = cfgs[i].proto;
		fails += run_config(guest, xs0, gd, dir, cfgs[i].engine, cfgs[i].ss, &fo, (int)i);
	}
	CHECK_EQ(fails, 0);

	REQUIRE(write(bt.stop_fd, &one, sizeof(one)) == sizeof(one));
	pthread_join(thr, NULL);
	CHECK_EQ(bt.rc, 0);
	close(bt.stop_fd);
	pvio_hv_close(guest);
	pvio_xs_close(xs0);
	pvio_hv_close(dom0);
	pvio_hv_world_destroy(w);
	rmdir(dir);
	return tu_result();
}
