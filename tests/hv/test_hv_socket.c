/* SPDX-License-Identifier: MIT */
/* hv socket implementation: a guest process and a backend process through
 * pviod. The guest grants pages and offers a port; the backend (this
 * process, dom0) maps, reads, writes and copies them; 1 million event
 * channel ping-pongs with no lost wake-up (PVIO_HV_PINGPONGS=N, or the
 * first argument, for another count: tests/sanitize runs fewer). */
#include "hv/hv.h"
#include "tests/common/testutil.h"
#include "tests/hv/scenario.h"

static pid_t pviod = -1;
static char dir[256];

static void cleanup(void)
{
	if (pviod > 0)
		tu_stop(pviod);
	tu_rmdir(dir);
}

int main(int argc, char **argv)
{
	char sock[300], xs[300];
	struct pvio_hv *dom0, *guest;
	uint16_t d1;
	int fd, a[2], b[2], st;
	const char *e = argc > 1 ? argv[1] : getenv("PVIO_HV_PINGPONGS");
	unsigned pp = e && atoi(e) > 0 ? (unsigned)atoi(e) : 1000000;
	pid_t child;

	pviod = tu_start_pviod(dir, sizeof(dir), sock, sizeof(sock), xs, sizeof(xs));
	REQUIRE(pviod > 0);
	atexit(cleanup);
	REQUIRE(pvio_hv_socket_connect(sock, &dom0) == 0);
	CHECK_EQ(pvio_hv_domid(dom0), 0);
	CHECK(strcmp(pvio_hv_impl_name(dom0), "socket") == 0);
	REQUIRE(pvio_hv_domain_create(dom0, "guest1", 8 << 20, &d1) == 0);
	REQUIRE(pvio_hv_domain_connect(dom0, d1, &fd) == 0);
	REQUIRE(pipe(a) == 0 && pipe(b) == 0);

	child = fork();
	REQUIRE(child >= 0);
	if (child == 0) {
		/* The guest process: only its own connection. */
		pvio_hv_close(dom0);
		if (pvio_hv_socket_from_fd(fd, &guest) < 0)
			_exit(2);
		if (pvio_hv_domid(guest) != d1)
			_exit(3);
		int f = scn_frontend(guest, (struct scn_chan){ .rd = b[0], .wr = a[1] }, pp);
		pvio_hv_close(guest);
		_exit(f ? 1 : 0);
	}
	close(fd);
	double t0 = tu_now();
	int bf = scn_backend(dom0, d1, (struct scn_chan){ .rd = a[0], .wr = b[1] }, pp);
	double t1 = tu_now();
	REQUIRE(waitpid(child, &st, 0) == child);
	CHECK_EQ(bf, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	printf("%u cross-process ping-pongs in %.2f s (%.1f us round trip)\n", pp, t1 - t0,
	       (t1 - t0) * 1e6 / (pp ? pp : 1));
	CHECK_EQ(pvio_hv_domain_destroy(dom0, d1), 0);
	pvio_hv_close(dom0);
	return tu_result();
}
