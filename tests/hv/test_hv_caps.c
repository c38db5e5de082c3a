/* SPDX-License-Identifier: MIT */
/* Capabilities, not claims: what a guest connection to pviod may not do. */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "hv/hv.h"
#include "hv/proto.h"
#include "tests/common/testutil.h"

static pid_t pviod = -1;
static char dir[256];

static void cleanup(void)
{
	if (pviod > 0)
		tu_stop(pviod);
	tu_rmdir(dir);
}

/* Raw request on a connection; returns ret, fds closed. */
static int raw(int fd, uint32_t op, uint64_t a0, uint64_t a1, const char *name, unsigned *nfds)
{
	struct pvio_hvmsg_req q = { .op = op, .seq = 77, .a = { a0, a1 } };
	struct pvio_hvmsg_rsp p;
	int fds[3];

	if (name)
		snprintf(q.name, sizeof(q.name), "%s", name);
	int e = pvio__hvmsg_send(fd, &q, sizeof(q), NULL, 0);
	if (e < 0) {
		fprintf(stderr, "raw send on fd %d: %s\n", fd, strerror(-e));
		return -999;
	}
	if (pvio__hvmsg_recv(fd, &p, sizeof(p), fds, 3, nfds) < 0)
		return -998;
	for (unsigned i = 0; i < *nfds; i++)
		close(fds[i]);
	return p.ret;
}

int main(void)
{
	char sock[300], xs[300];
	struct pvio_hv *dom0, *g1, *g2;
	uint16_t d1, d2, dx;
	pvio_evtchn_port_t p1, q;
	struct stat stt;
	unsigned n;
	int fd1, fd2, raw1;

	pviod = tu_start_pviod(dir, sizeof(dir), sock, sizeof(sock), xs, sizeof(xs));
	REQUIRE(pviod > 0);
	atexit(cleanup);

	/* dom0's control socket is owner-only. */
	REQUIRE(stat(sock, &stt) == 0);
	CHECK_EQ(stt.st_mode & 0777, 0600);

	REQUIRE(pvio_hv_socket_connect(sock, &dom0) == 0);
	REQUIRE(pvio_hv_domain_create(dom0, "a", 1 << 20, &d1) == 0);
	REQUIRE(pvio_hv_domain_create(dom0, "b", 1 << 20, &d2) == 0);
	REQUIRE(pvio_hv_domain_connect(dom0, d1, &fd1) == 0);
	REQUIRE(pvio_hv_domain_connect(dom0, d2, &fd2) == 0);
	REQUIRE(pvio_hv_domain_connect(dom0, d1, &raw1) == 0);
	REQUIRE(pvio_hv_socket_from_fd(fd1, &g1) == 0);
	REQUIRE(pvio_hv_socket_from_fd(fd2, &g2) == 0);
	CHECK_EQ(pvio_hv_domid(g1), d1);
	CHECK_EQ(pvio_hv_domid(g2), d2);
	CHECK_EQ(pvio_hv_domain_connect(dom0, 0, &fd1), -ESRCH);     /* nobody becomes dom0 */
	CHECK_EQ(pvio_hv_domain_connect(dom0, 4242, &fd1), -ESRCH);

	/* dom0's rights are refused to a guest, whatever it asks. */
	CHECK_EQ(pvio_hv_domain_create(g1, "x", 4096, &dx), -EPERM);
	CHECK_EQ(pvio_hv_domain_destroy(g1, d2), -EPERM);
	CHECK_EQ(pvio_hv_domain_destroy(g1, 0), -EPERM);
	CHECK_EQ(pvio_hv_domain_connect(g1, d2, &fd1), -EPERM);
	CHECK_EQ(pvio_hv_domain_list(g1, NULL, 0), -EPERM);
	CHECK_EQ(raw(raw1, PVIO_HVMSG_DOMAIN_CONNECT, 0, 0, NULL, &n), -EPERM);
	CHECK_EQ(raw(raw1, PVIO_HVMSG_DOMAIN_CONNECT, d2, 0, NULL, &n), -EPERM);
	CHECK_EQ(n, 0u);

	/* Another domain's memory and grant table: never handed out. */
	CHECK_EQ(raw(raw1, PVIO_HVMSG_FOREIGN, d2, 0, NULL, &n), -EPERM);
	CHECK_EQ(n, 0u);
	CHECK_EQ(raw(raw1, PVIO_HVMSG_FOREIGN, 0, 0, NULL, &n), -EPERM);
	CHECK_EQ(n, 0u);
	struct pvio_gnt_map_op op = { .ref = 8 };
	uint64_t gfn;
	REQUIRE(pvio_hv_page_alloc(g2, 1, &gfn) == 0);
	int ref = pvio_hv_grant(g2, d1, gfn, false);    /* even granted to g1 ... */
	REQUIRE(ref >= 0);
	op.ref = (uint32_t)ref;
	CHECK_EQ(pvio_hv_map(g1, d2, &op, 1), 0);        /* ... g1 cannot map it here */
	CHECK(op.status != PVIO_GNTST_okay && op.addr == NULL);

	/* Ports: binding one not offered to us, or to dom0's rights. */
	REQUIRE(pvio_hv_evtchn_alloc_unbound(g1, 0, &p1) == 0);
	CHECK_EQ(pvio_hv_evtchn_bind(g2, d1, p1, &q), -EINVAL);
	CHECK_EQ(pvio_hv_evtchn_bind(g2, d1, 0, &q), -EINVAL);
	CHECK_EQ(pvio_hv_evtchn_bind(g2, d1, 0xffffffffu, &q), -EINVAL);
	CHECK_EQ(pvio_hv_evtchn_bind(g2, d2, p1, &q), -EINVAL);
	CHECK_EQ(pvio_hv_evtchn_alloc_unbound(g1, 4000, &q), -EINVAL);
	CHECK_EQ(raw(raw1, PVIO_HVMSG_EVTCHN_CLOSE, 12345, 0, NULL, &n), -EINVAL);
	/* g2 cannot close g1's port: it names its own port space only. */
	CHECK_EQ(raw(raw1, PVIO_HVMSG_EVTCHN_BIND, d1, p1, NULL, &n), -EINVAL);
	CHECK_EQ(pvio_hv_evtchn_bind(dom0, d1, p1, &q), 0);

	/* Garbage on a guest connection closes that connection only. */
	{
		char junk[7] = "garbage";
		CHECK(send(raw1, junk, sizeof(junk), 0) == (ssize_t)sizeof(junk));
		char b[8];
		CHECK(recv(raw1, b, sizeof(b), 0) == 0);   /* EOF: pviod closed it */
		close(raw1);
		CHECK_EQ(raw(-1, 0, 0, 0, NULL, &n), -999);
	}
	CHECK_EQ(pvio_hv_evtchn_alloc_unbound(g1, 0, &q), 0);   /* g1 still works */
	CHECK_EQ(pvio_hv_evtchn_close(g1, q), 0);

	/* A non-root, other user cannot reach the control socket. */
	if (geteuid() == 0) {
		pid_t c = fork();
		if (c == 0) {
			struct pvio_hv *h;
			if (setgid(65534) || setuid(65534))
				_exit(3);
			_exit(pvio_hv_socket_connect(sock, &h) == -EACCES ? 0 : 1);
		}
		int st;
		REQUIRE(waitpid(c, &st, 0) == c);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}

	/* Destroying a guest cuts its connections. */
	CHECK_EQ(pvio_hv_domain_destroy(dom0, d2), 0);
	CHECK(pvio_hv_evtchn_alloc_unbound(g2, 0, &q) < 0);
	pvio_hv_close(g2);
	pvio_hv_close(g1);
	CHECK_EQ(pvio_hv_domain_destroy(dom0, d1), 0);
	pvio_hv_close(dom0);
	return tu_result();
}
