/* SPDX-License-Identifier: MIT */
/*
 * A hostile frontend against pvio-blkback, one case at a time, while a
 * second, well-behaved guest runs a verified workload on its own disk the
 * whole time. Processes: pviod, pvio-blkback, the good guest (pvio-blkio
 * verify), the hostile guest (a child of this test speaking raw blkif).
 *
 * Each bad request must get BLKIF_RSP_ERROR (or EOPNOTSUPP for an unknown
 * or unoffered operation) and the backend must keep serving; a producer
 * index overflow disconnects that frontend only; a guest SIGKILLed in the
 * middle of I/O and destroyed leaves the backend with the fds, mappings and
 * threads it had before.
 */
#include <poll.h>
#include <sys/stat.h>

#include "hv/hv.h"
#include "ring/blkif.h"
#include "tests/common/testutil.h"
#include "tools/toolstack.h"
#include "xenstore/xenbus.h"
#include "xenstore/xs.h"

static pid_t pviod = -1, blkback = -1, good = -1;
static char dir[256];

static void cleanup(void)
{
	if (good > 0)
		tu_stop(good);
	if (blkback > 0)
		tu_stop(blkback);
	if (pviod > 0)
		tu_stop(pviod);
	tu_rmdir(dir);
}

static void make_image(const char *path, off_t size)
{
	int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);

	REQUIRE(fd >= 0 && ftruncate(fd, size) == 0);
	close(fd);
}

/* ------------------------------------------------------------ the hostile guest */

struct hostile {
	struct pvio_hv *hv;
	struct pvio_xs *xs;
	uint16_t domid;
	char fe[128], be[128];
	struct pvio_sring *sring;
	struct pvio_ring_front ring;
	uint64_t ring_gfn;
	pvio_evtchn_port_t port;
	uint64_t data_gfn;          /* 4 pages of data */
	int rw_ref, ro_ref, foreign_ref, ind_ref;
	uint64_t ind_gfn;
	uint64_t next_id;
};

static int h_connect(struct hostile *h, uint32_t devid)
{
	int fd, r, ref;
	enum pvio_xenbus_state st;
	char val[32];

	REQUIRE(pvio_hv_open_env(&h->hv) == 0);
	h->domid = pvio_hv_domid(h->hv);
	REQUIRE(pvio_hv_xs_connect(h->hv, &fd) == 0 && pvio_xs_open_fd(fd, &h->xs) == 0);
	snprintf(h->fe, sizeof(h->fe), "/local/domain/%u/device/vbd/%u", h->domid, devid);
	r = pvio_xs_read_buf(h->xs, 0, "device/vbd/51712/backend", h->be, sizeof(h->be), NULL);
	REQUIRE(r == 0);
	REQUIRE(pvio_xenbus_wait_state(h->xs, h->be, PVIO_XENBUS_MASK(PVIO_XENBUS_STATE_INITWAIT),
				       10000, &st) == 0);
	REQUIRE(pvio_hv_page_alloc(h->hv, 1, &h->ring_gfn) == 0);
	h->sring = pvio_hv_gfn_ptr(h->hv, h->ring_gfn);
	pvio_sring_init(h->sring);
	REQUIRE(pvio_blkif_front_attach(&h->ring, h->sring, 4096) == 0);
	ref = pvio_hv_grant(h->hv, 0, h->ring_gfn, false);
	REQUIRE(ref >= 0);
	REQUIRE(pvio_hv_evtchn_alloc_unbound(h->hv, 0, &h->port) == 0);
	snprintf(val, sizeof(val), "%d", ref);
	char path[200];
	snprintf(path, sizeof(path), "%s/ring-ref", h->fe);
	REQUIRE(pvio_xs_write(h->xs, 0, path, val, strlen(val)) == 0);
	snprintf(path, sizeof(path), "%s/event-channel", h->fe);
	REQUIRE(pvio_xs_printf(h->xs, 0, path, "%u", h->port) == 0);
	snprintf(path, sizeof(path), "%s/protocol", h->fe);
	/* A value with a NUL inside is not its prefix: no connection on
	 * "x86_64-abi\0junk" (checked for half a second), then the right one. */
	REQUIRE(pvio_xs_write(h->xs, 0, path, "x86_64-abi\0junk", 15) == 0);
	REQUIRE(pvio_xenbus_switch_state(h->xs, 0, h->fe, PVIO_XENBUS_STATE_INITIALISED) == 0);
	CHECK_EQ(pvio_xenbus_wait_state(h->xs, h->be, PVIO_XENBUS_MASK(PVIO_XENBUS_STATE_CONNECTED),
					500, &st), -ETIMEDOUT);
	REQUIRE(pvio_xs_write(h->xs, 0, path, "x86_64-abi", 10) == 0);
	REQUIRE(pvio_xenbus_switch_state(h->xs, 0, h->fe, PVIO_XENBUS_STATE_INITIALISING) == 0);
	REQUIRE(pvio_xenbus_switch_state(h->xs, 0, h->fe, PVIO_XENBUS_STATE_INITIALISED) == 0);
	REQUIRE(pvio_xenbus_wait_state(h->xs, h->be, PVIO_XENBUS_MASK(PVIO_XENBUS_STATE_CONNECTED),
				       10000, &st) == 0);
	/* Data pages and grants of every kind. */
	REQUIRE(pvio_hv_page_alloc(h->hv, 4, &h->data_gfn) == 0);
	h->rw_ref = pvio_hv_grant(h->hv, 0, h->data_gfn, false);
	h->ro_ref = pvio_hv_grant(h->hv, 0, h->data_gfn + 1, true);
	h->foreign_ref = pvio_hv_grant(h->hv, h->domid == 1 ? 2 : 1, h->data_gfn + 2, false);
	REQUIRE(pvio_hv_page_alloc(h->hv, 1, &h->ind_gfn) == 0);
	h->ind_ref = pvio_hv_grant(h->hv, 0, h->ind_gfn, true);
	REQUIRE(h->rw_ref >= 0 && h->ro_ref >= 0 && h->foreign_ref >= 0 && h->ind_ref >= 0);
	return 0;
}

/* Push what was filled, kick, wait for n responses (or -1 on a 5 s silence). */
static int h_push_wait(struct hostile *h, struct pvio_blkif_response *rsp, unsigned n)
{
	unsigned got = 0;
	int fd = pvio_hv_evtchn_fd(h->hv, h->port);

	if (pvio_ring_push_requests(&h->ring))
		pvio_hv_evtchn_notify(h->hv, h->port);
	while (got < n) {
		int k = pvio_ring_front_final_check(&h->ring);
		if (k < 0)
			return -1;
		if (k > 0) {
			while (k-- > 0 && got < n)
				pvio_blkif_copy_response(&h->ring, &rsp[got++]);
			continue;
		}
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 5000) <= 0)
			return -1;
		pvio_hv_evtchn_pending(h->hv, h->port);
		pvio_hv_evtchn_unmask(h->hv, h->port);
	}
	return 0;
}

static struct pvio_blkif_request *h_req(struct hostile *h, uint8_t op, uint8_t nseg,
					uint64_t sector)
{
	struct pvio_blkif_request *r = pvio_blkif_req_slot(&h->ring, 0);

	memset(r, 0, sizeof(*r));
	r->operation = op;
	r->nr_segments = nseg;
	r->handle = 51712 & 0xffff;
	r->id = ++h->next_id;
	r->sector_number = sector;
	for (unsigned i = 0; i < nseg && i < 11; i++) {
		r->seg[i].gref = (uint32_t)h->rw_ref;
		r->seg[i].first_sect = 0;
		r->seg[i].last_sect = 7;
	}
	pvio_ring_produce_requests(&h->ring, 1);
	return r;
}

/* Send one request built by the caller; expect status. */
static int expect(struct hostile *h, const char *what, int16_t want)
{
	struct pvio_blkif_response rsp;
	uint64_t id = h->next_id;

	if (h_push_wait(h, &rsp, 1) < 0) {
		fprintf(stderr, "hostile: %s: no response\n", what);
		return 1;
	}
	if (rsp.id != id || rsp.status != want) {
		fprintf(stderr, "hostile: %s: id %llu status %d (want id %llu status %d)\n", what,
			(unsigned long long)rsp.id, rsp.status, (unsigned long long)id, want);
		return 1;
	}
	return 0;
}

static int hostile_main(void)
{
	struct hostile h = { 0 };
	struct pvio_blkif_request *r;
	int fails = 0;

	h_connect(&h, 51712);

	/* A good request works. */
	h_req(&h, PVIO_BLKIF_OP_READ, 1, 0);
	fails += expect(&h, "valid read", PVIO_BLKIF_RSP_OKAY);
	h_req(&h, PVIO_BLKIF_OP_READ, 0, 0);
	fails += expect(&h, "nr_segments 0", PVIO_BLKIF_RSP_ERROR);
	r = h_req(&h, PVIO_BLKIF_OP_WRITE, 11, 0);
	r->nr_segments = 12;
	fails += expect(&h, "nr_segments 12", PVIO_BLKIF_RSP_ERROR);
	r = h_req(&h, PVIO_BLKIF_OP_READ, 1, 0);
	r->seg[0].first_sect = 5;
	r->seg[0].last_sect = 2;
	fails += expect(&h, "first_sect > last_sect", PVIO_BLKIF_RSP_ERROR);
	r = h_req(&h, PVIO_BLKIF_OP_READ, 1, 0);
	r->seg[0].last_sect = 8;
	fails += expect(&h, "last_sect past the page", PVIO_BLKIF_RSP_ERROR);
	h_req(&h, PVIO_BLKIF_OP_READ, 1, (16u << 20) / 512);
	fails += expect(&h, "sector past the end", PVIO_BLKIF_RSP_ERROR);
	h_req(&h, PVIO_BLKIF_OP_READ, 1, (16u << 20) / 512 - 4);
	fails += expect(&h, "range crossing the end", PVIO_BLKIF_RSP_ERROR);
	h_req(&h, PVIO_BLKIF_OP_READ, 1, 0xfffffffffffffff8ull);
	fails += expect(&h, "sector u64 wrap", PVIO_BLKIF_RSP_ERROR);
	r = h_req(&h, PVIO_BLKIF_OP_READ, 1, 0);
	r->seg[0].gref = 9000;
	fails += expect(&h, "gref not granted", PVIO_BLKIF_RSP_ERROR);
	r = h_req(&h, PVIO_BLKIF_OP_READ, 1, 0);
	r->seg[0].gref = 1u << 30;
	fails += expect(&h, "gref past the table", PVIO_BLKIF_RSP_ERROR);
	r = h_req(&h, PVIO_BLKIF_OP_READ, 1, 0);
	r->seg[0].gref = (uint32_t)h.foreign_ref;
	fails += expect(&h, "gref granted to another domain", PVIO_BLKIF_RSP_ERROR);
	r = h_req(&h, PVIO_BLKIF_OP_READ, 1, 0);
	r->seg[0].gref = (uint32_t)h.ro_ref;
	fails += expect(&h, "read-only gref for a READ", PVIO_BLKIF_RSP_ERROR);
	r = h_req(&h, PVIO_BLKIF_OP_WRITE, 1, 0);
	r->seg[0].gref = (uint32_t)h.ro_ref;
	fails += expect(&h, "read-only gref for a WRITE (fine)", PVIO_BLKIF_RSP_OKAY);
	h_req(&h, 99, 1, 0);
	fails += expect(&h, "unknown operation", PVIO_BLKIF_RSP_EOPNOTSUPP);
	{
		struct pvio_blkif_request_discard *d = (void *)h_req(&h, PVIO_BLKIF_OP_DISCARD, 0, 0);
		d->nr_sectors = 8;
		fails += expect(&h, "DISCARD not offered", PVIO_BLKIF_RSP_EOPNOTSUPP);
	}
	/* Indirect: bad gref, wrong count, bad segment inside. */
	{
		struct pvio_blkif_request_segment *segs = pvio_hv_gfn_ptr(h.hv, h.ind_gfn);
		struct pvio_blkif_request_indirect *in;

		for (int i = 0; i < 16; i++)
			segs[i] = (struct pvio_blkif_request_segment){ .gref = (uint32_t)h.rw_ref,
								       .first_sect = 0, .last_sect = 7 };
		in = (void *)h_req(&h, PVIO_BLKIF_OP_INDIRECT, 0, 0);
		in->indirect_op = PVIO_BLKIF_OP_READ;
		in->nr_segments = 16;
		in->indirect_grefs[0] = (uint32_t)h.ind_ref;
		fails += expect(&h, "valid indirect read", PVIO_BLKIF_RSP_OKAY);
		in = (void *)h_req(&h, PVIO_BLKIF_OP_INDIRECT, 0, 0);
		in->indirect_op = PVIO_BLKIF_OP_READ;
		in->nr_segments = 16;
		in->indirect_grefs[0] = 7777;
		fails += expect(&h, "indirect page with a bad gref", PVIO_BLKIF_RSP_ERROR);
		in = (void *)h_req(&h, PVIO_BLKIF_OP_INDIRECT, 0, 0);
		in->indirect_op = PVIO_BLKIF_OP_READ;
		in->nr_segments = 0;
		in->indirect_grefs[0] = (uint32_t)h.ind_ref;
		fails += expect(&h, "indirect with 0 segments", PVIO_BLKIF_RSP_ERROR);
		in = (void *)h_req(&h, PVIO_BLKIF_OP_INDIRECT, 0, 0);
		in->indirect_op = PVIO_BLKIF_OP_READ;
		in->nr_segments = 4000;
		in->indirect_grefs[0] = (uint32_t)h.ind_ref;
		fails += expect(&h, "indirect with 4000 segments", PVIO_BLKIF_RSP_ERROR);
		segs[3].last_sect = 9;
		in = (void *)h_req(&h, PVIO_BLKIF_OP_INDIRECT, 0, 0);
		in->indirect_op = PVIO_BLKIF_OP_READ;
		in->nr_segments = 16;
		in->indirect_grefs[0] = (uint32_t)h.ind_ref;
		fails += expect(&h, "indirect with a bad segment", PVIO_BLKIF_RSP_ERROR);
		in = (void *)h_req(&h, PVIO_BLKIF_OP_INDIRECT, 0, 0);
		in->indirect_op = PVIO_BLKIF_OP_FLUSH_DISKCACHE;
		in->nr_segments = 1;
		in->indirect_grefs[0] = (uint32_t)h.ind_ref;
		fails += expect(&h, "indirect with a bad indirect_op", PVIO_BLKIF_RSP_ERROR);
	}
	/* Requests rewritten after they were pushed: the backend answers what
	 * it copied (a known id), never crashes, never answers twice. */
	for (int i = 0; i < 2000; i++) {
		struct pvio_blkif_response rsp;
		uint64_t id;

		r = h_req(&h, PVIO_BLKIF_OP_READ, 1, (uint64_t)(i % 64) * 8);
		id = r->id;
		if (pvio_ring_push_requests(&h.ring))
			pvio_hv_evtchn_notify(h.hv, h.port);
		/* Scribble over the slot the backend may be copying. Only
		 * bytes past the 16-byte response the backend writes into the
		 * same slot: the sector and the segments. */
		for (int k = 0; k < 50; k++) {
			r->sector_number = (uint64_t)k << 40;
			r->seg[0].last_sect = (uint8_t)(k * 37);
			r->seg[0].gref = (uint32_t)k * 977;
		}
		if (h_push_wait(&h, &rsp, 1) < 0 || rsp.id != id) {
			fprintf(stderr, "hostile: rewritten request %d: lost or bad id "
				"(got id %llu status %d op %u, want id %llu)\n", i,
				(unsigned long long)rsp.id, rsp.status, rsp.operation,
				(unsigned long long)id);
			fails++;
			break;
		}
	}
	/* A million kicks on an empty ring. */
	for (int i = 0; i < 1000000; i++)
		pvio_hv_evtchn_notify(h.hv, h.port);
	h_req(&h, PVIO_BLKIF_OP_READ, 1, 0);
	fails += expect(&h, "read after a notification storm", PVIO_BLKIF_RSP_OKAY);

	/* Producer index overflow: this frontend gets disconnected. */
	pvio_store_release(&h.sring->req_prod, h.ring.req_prod_pvt + 1000);
	pvio_hv_evtchn_notify(h.hv, h.port);
	enum pvio_xenbus_state st;
	if (pvio_xenbus_wait_state(h.xs, h.be, PVIO_XENBUS_MASK(PVIO_XENBUS_STATE_CLOSED) |
				   PVIO_XENBUS_MASK(PVIO_XENBUS_STATE_CLOSING), 10000, &st) < 0) {
		fprintf(stderr, "hostile: overflow did not disconnect us\n");
		fails++;
	}
	fails += tu_failures;            /* CHECKs in h_connect() */
	printf("hostile guest: %d failed case(s)\n", fails);
	pvio_xs_close(h.xs);
	pvio_hv_close(h.hv);
	return fails ? 1 : 0;
}

/* A guest that floods I/O until it is killed. */
__attribute__((noreturn)) static int flood_main(void)
{
	struct hostile h = { 0 };

	h_connect(&h, 51712);
	printf("flooding\n");
	fflush(stdout);
	for (;;) {
		while (pvio_ring_free_requests(&h.ring) > 0)
			h_req(&h, PVIO_BLKIF_OP_WRITE, 11, 0);
		if (pvio_ring_push_requests(&h.ring))
			pvio_hv_evtchn_notify(h.hv, h.port);
		int k = pvio_ring_front_pending(&h.ring);
		if (k > 0)
			pvio_ring_consume_responses(&h.ring, (uint32_t)k);
	}
}

int main(int argc, char **argv)
{
	char sock[300], xs_path[300], img_good[400], img_bad[400], img_flood[400], bin[512];
	struct pvio_hv *dom0;
	struct pvio_xs *xs;
	struct pvio_diskspec ds;
	char err[128];
	uint16_t dg, dh, df;
	int fd, st;

	if (argc > 1 && !strcmp(argv[1], "--hostile"))
		return hostile_main();
	if (argc > 1 && !strcmp(argv[1], "--flood"))
		return flood_main();

	pviod = tu_start_pviod(dir, sizeof(dir), sock, sizeof(sock), xs_path, sizeof(xs_path));
	REQUIRE(pviod > 0);
	atexit(cleanup);
	snprintf(bin, sizeof(bin), "%s/blkback/pvio-blkback", tu_build_dir());
	{
		char *av[] = { bin, "--socket", sock, "--verbose", NULL };
		blkback = tu_spawn(av, -1, -1, -1, -1);
	}
	REQUIRE(pvio_hv_socket_connect(sock, &dom0) == 0);
	REQUIRE(pvio_hv_xs_connect(dom0, &fd) == 0 && pvio_xs_open_fd(fd, &xs) == 0);
	REQUIRE(pvio_ts_domain_create(dom0, xs, "good", 64 << 20, &dg) == 0);
	REQUIRE(pvio_ts_domain_create(dom0, xs, "hostile", 16 << 20, &dh) == 0);
	snprintf(img_good, sizeof(img_good), "%s/good.img", dir);
	snprintf(img_bad, sizeof(img_bad), "%s/hostile.img", dir);
	snprintf(img_flood, sizeof(img_flood), "%s/flood.img", dir);
	make_image(img_good, 64 << 20);
	make_image(img_bad, 16 << 20);
	make_image(img_flood, 16 << 20);
	char spec[600];
	snprintf(spec, sizeof(spec), "vdev=xvda, access=rw, target=%s", img_good);
	REQUIRE(pvio_diskspec_parse(spec, &ds, err, sizeof(err)) == 0);
	REQUIRE(pvio_ts_block_attach(xs, dg, &ds) == 0);
	snprintf(spec, sizeof(spec), "no-discard, vdev=xvda, access=rw, target=%s", img_bad);
	REQUIRE(pvio_diskspec_parse(spec, &ds, err, sizeof(err)) == 0);
	REQUIRE(pvio_ts_block_attach(xs, dh, &ds) == 0);

	/* The good guest runs a verified workload throughout. */
	REQUIRE(pvio_hv_domain_connect(dom0, dg, &fd) == 0);
	{
		char blkio[512];
		snprintf(blkio, sizeof(blkio), "%s/tools/pvio-blkio", tu_build_dir());
		char *av[] = { blkio, "verify", "xvda", "--seconds", "12", "--qd", "8",
			       "--region-mb", "32", NULL };
		good = tu_spawn(av, fd, -1, -1, -1);
		close(fd);
	}

	/* The hostile guest. */
	REQUIRE(pvio_hv_domain_connect(dom0, dh, &fd) == 0);
	{
		char *av[] = { argv[0], "--hostile", NULL };
		pid_t p = tu_spawn(av, fd, -1, -1, -1);
		close(fd);
		REQUIRE(waitpid(p, &st, 0) == p);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}

	/* A guest killed mid-I/O, then destroyed: the backend is back to what
	 * it held before (fds, mappings, threads). */
	int fd0 = tu_count_fds(blkback), mp0 = tu_count_maps(blkback), th0 = tu_count_threads(blkback);
	REQUIRE(pvio_ts_domain_create(dom0, xs, "flood", 16 << 20, &df) == 0);
	snprintf(spec, sizeof(spec), "vdev=xvda, access=rw, target=%s", img_flood);
	REQUIRE(pvio_diskspec_parse(spec, &ds, err, sizeof(err)) == 0);
	REQUIRE(pvio_ts_block_attach(xs, df, &ds) == 0);
	REQUIRE(pvio_hv_domain_connect(dom0, df, &fd) == 0);
	{
		int pp[2];
		REQUIRE(pipe(pp) == 0);
		pid_t p = fork();
		if (p == 0) {
			char b[16];
			dup2(pp[1], 1);
			fcntl(fd, F_SETFD, 0);
			snprintf(b, sizeof(b), "%d", fd);
			setenv("PVIO_HV_FD", b, 1);
			execl(argv[0], argv[0], "--flood", (char *)NULL);
			_exit(127);
		}
		close(pp[1]);
		close(fd);
		char line[32];
		CHECK(read(pp[0], line, sizeof(line)) > 0);    /* it is flooding now */
		/* Let it run a little: wait for the backend to have work. */
		for (int i = 0; i < 200 && tu_count_threads(blkback) <= th0; i++)
			usleep(10000);
		kill(p, SIGKILL);
		waitpid(p, NULL, 0);
		close(pp[0]);
	}
	CHECK_EQ(pvio_ts_domain_destroy(dom0, xs, df), 0);
	/* The backend tears the device down asynchronously: wait for its
	 * resources to come back (bounded). */
	int fdn = -1, mpn = -1, thn = -1;
	for (int i = 0; i < 500; i++) {
		fdn = tu_count_fds(blkback);
		mpn = tu_count_maps(blkback);
		thn = tu_count_threads(blkback);
		/* <=: the baseline may still count the hostile guest's
		 * device, whose disconnection finishes on its own time. */
		if (fdn <= fd0 && mpn <= mp0 && thn <= th0)
			break;
		usleep(10000);
	}
	if (fdn > fd0 || mpn > mp0) {
		char cmd[256];
		snprintf(cmd, sizeof(cmd), "ls -l /proc/%d/fd >&2; grep -E 'memfd|anon_inode' "
			 "/proc/%d/maps >&2", (int)blkback, (int)blkback);
		if (system(cmd) != 0)
			fprintf(stderr, "(could not list the backend's fds)\n");
	}
	CHECK(fdn <= fd0);
	CHECK(mpn <= mp0);
	CHECK(thn <= th0);

	/* The good guest finished its verified workload without an error. */
	REQUIRE(waitpid(good, &st, 0) == good);
	good = -1;
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* The backend is still alive. */
	CHECK(kill(blkback, 0) == 0);
	pvio_xs_close(xs);
	pvio_hv_close(dom0);
	return tu_result();
}
