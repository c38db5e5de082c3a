/* SPDX-License-Identifier: MIT */
/* Create and destroy 1000 domains with grants, mappings and ports, in both
 * implementations: fd and mapping counts of every process (this one and
 * pviod) return to their start values. */
#include "hv/hv.h"
#include "tests/common/testutil.h"

static pid_t pviod = -1;
static char dir[256];

static void cleanup(void)
{
	if (pviod > 0)
		tu_stop(pviod);
	tu_rmdir(dir);
}

/* One domain's life: create, guest grants + offers a port, dom0 maps,
 * binds, copies, then everything is torn down (sometimes by destroy alone). */
static int cycle(struct pvio_hv *dom0, struct pvio_hv *(*open_guest)(uint16_t), unsigned i)
{
	char name[32];
	uint16_t d;
	uint64_t gfn;
	pvio_evtchn_port_t p, lp;
	struct pvio_gnt_map_op op = { 0 };
	struct pvio_hv *g;
	int ref, fails = 0;

	snprintf(name, sizeof(name), "leak%u", i);
	if (pvio_hv_domain_create(dom0, name, 1 << 20, &d) < 0)
		return 1;
	g = open_guest(d);
	if (!g)
		return 1;
	fails += pvio_hv_page_alloc(g, 1, &gfn) != 0;
	ref = pvio_hv_grant(g, 0, gfn, false);
	fails += ref < 0;
	fails += pvio_hv_evtchn_alloc_unbound(g, 0, &p) != 0;
	fails += pvio_hv_evtchn_bind(dom0, d, p, &lp) != 0;
	op.ref = (uint32_t)ref;
	fails += pvio_hv_map(dom0, d, &op, 1) != 1;
	fails += pvio_hv_evtchn_notify(g, p) < 0;
	if (i % 2) {
		/* Orderly: unmap, revoke, close, release. */
		fails += pvio_hv_unmap(dom0, d, &op, 1) != 1;
		fails += pvio_hv_revoke(g, (uint32_t)ref) != 0;
		fails += pvio_hv_evtchn_close(g, p) != 0;
		fails += pvio_hv_evtchn_close(dom0, lp) != 0;
		pvio_hv_close(g);
		fails += pvio_hv_domain_destroy(dom0, d) != 0;
		pvio_hv_foreign_release(dom0, d);
	} else {
		/* Abrupt: the domain is destroyed under a live mapping and port;
		 * the backend notices the close and releases. */
		fails += pvio_hv_domain_destroy(dom0, d) != 0;
		fails += pvio_hv_evtchn_peer_closed(dom0, lp) != 1;
		pvio_hv_foreign_release(dom0, d);
		fails += pvio_hv_evtchn_close(dom0, lp) != 0;
		pvio_hv_close(g);
	}
	return fails;
}

static struct pvio_hv_world *world;
static struct pvio_hv *dom0_sock;

static struct pvio_hv *open_local(uint16_t d)
{
	struct pvio_hv *g;

	return pvio_hv_local_open(world, d, &g) == 0 ? g : NULL;
}

static struct pvio_hv *open_sock(uint16_t d)
{
	struct pvio_hv *g;
	int fd;

	if (pvio_hv_domain_connect(dom0_sock, d, &fd) < 0)
		return NULL;
	return pvio_hv_socket_from_fd(fd, &g) == 0 ? g : NULL;
}

int main(void)
{
	char sock[300], xs[300];
	struct pvio_hv *dom0;
	const unsigned N = 1000;
	int fails = 0;

	/* local */
	REQUIRE(pvio_hv_world_create(&world) == 0);
	REQUIRE(pvio_hv_local_open(world, 0, &dom0) == 0);
	fails += cycle(dom0, open_local, 0);      /* warm up lazily built state */
	fails += cycle(dom0, open_local, 1);
	int fd0 = tu_count_fds(0), mp0 = tu_count_maps(0);
	for (unsigned i = 2; i < N + 2; i++)
		fails += cycle(dom0, open_local, i);
	CHECK_EQ(fails, 0);
	CHECK_EQ(tu_count_fds(0), fd0);
	CHECK_EQ(tu_count_maps(0), mp0);
	pvio_hv_close(dom0);
	pvio_hv_world_destroy(world);

	/* socket */
	pviod = tu_start_pviod(dir, sizeof(dir), sock, sizeof(sock), xs, sizeof(xs));
	REQUIRE(pviod > 0);
	atexit(cleanup);
	REQUIRE(pvio_hv_socket_connect(sock, &dom0_sock) == 0);
	fails = cycle(dom0_sock, open_sock, 0) + cycle(dom0_sock, open_sock, 1);
	fd0 = tu_count_fds(0);
	mp0 = tu_count_maps(0);
	int dfd0 = tu_count_fds(pviod), dmp0 = tu_count_maps(pviod);
	for (unsigned i = 2; i < N + 2; i++)
		fails += cycle(dom0_sock, open_sock, i);
	CHECK_EQ(fails, 0);
	CHECK_EQ(tu_count_fds(0), fd0);
	CHECK_EQ(tu_count_maps(0), mp0);
	CHECK_EQ(tu_count_fds(pviod), dfd0);
	CHECK_EQ(tu_count_maps(pviod), dmp0);
	printf("fds self %d pviod %d, maps self %d pviod %d after %u domains\n",
	       tu_count_fds(0), tu_count_fds(pviod), tu_count_maps(0), tu_count_maps(pviod), N);
	pvio_hv_close(dom0_sock);
	return tu_result();
}
