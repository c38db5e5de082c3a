/* SPDX-License-Identifier: MIT */
/*
 * Quotas and hostile clients. Each case refuses or closes only the
 * offending request or connection while a healthy client keeps working:
 * node/size/path/ACL/watch/transaction quotas (ENOSPC/E2BIG/EINVAL as
 * xenstored), pending watch events of a client that doesn't read (dropped
 * beyond the quota, connection kept), oversized payloads (connection
 * closed), bad arguments, unknown types, half messages that stall, a
 * client that floods requests without reading replies, random messages.
 */
#include <fcntl.h>

#include "tests/xenstore/xs_test.h"

static struct srv s;
static struct pvio_xs *h;      /* the healthy client (dom0) */

static void healthy(int rounds)
{
	char path[32];

	for (int i = 0; i < rounds; i++) {
		snprintf(path, sizeof(path), "/healthy/%d", i % 7);
		CHECK0(pvio_xs_printf(h, 0, path, "%d", i));
		CHECK0(pvio_xs_read_buf(h, 0, path, path, sizeof(path), NULL));
	}
}

static void test_quotas(struct pvio_xs *d0)
{
	struct pvio_xs *a = srv_conn(&s, 1), *b = srv_conn(&s, 2);
	struct pvio_xsd_domain_info di;
	char path[128], big[1000], *v;
	struct pvio_xs_perm p[4] = { { 1, 0 }, { 2, 1 }, { 3, 1 }, { 4, 1 } };
	uint32_t tx[3];

	make_domain(&s, d0, 1);
	make_domain(&s, d0, 2);
	/* nodes: 20 per domain; A owns data and device already */
	CHECK0(pvio_xsd_domain_info(s.xsd, 1, &di));
	CHECK(di.nodes == 2);
	for (int i = 0; i < 18; i++) {
		snprintf(path, sizeof(path), "data/n%d", i);
		CHECK0(pvio_xs_write(a, 0, path, "x", 1));
	}
	CHECK_RET(pvio_xs_write(a, 0, "data/one-more", "x", 1), -ENOSPC);
	CHECK_RET(pvio_xs_mkdir(a, 0, "data/one-more"), -ENOSPC);
	CHECK0(pvio_xs_write(a, 0, "data/n3", "existing is fine", 16));
	CHECK0(pvio_xsd_domain_info(s.xsd, 1, &di));
	CHECK(di.nodes == 20);
	CHECK0(pvio_xs_write(b, 0, "data/b", "B is not affected", 17));
	healthy(10);
	CHECK0(pvio_xs_rm(a, 0, "data/n0"));
	CHECK_RET(pvio_xs_write(a, 0, "data/x/y", "two new nodes", 13), -ENOSPC);
	CHECK_RET(pvio_xs_read(a, 0, "data/x", &v, NULL), -ENOENT);   /* all or nothing */
	CHECK0(pvio_xs_write(a, 0, "data/x", "one", 3));
	/* in a transaction too */
	CHECK0(pvio_xs_rm(a, 0, "data/x"));
	CHECK0(pvio_xs_transaction_start(a, &tx[0]));
	CHECK0(pvio_xs_write(a, tx[0], "data/t1", "", 0));
	CHECK_RET(pvio_xs_write(a, tx[0], "data/t2", "", 0), -ENOSPC);
	CHECK0(pvio_xs_transaction_end(a, tx[0], true));
	CHECK_READ(a, 0, "data/t1", "");
	/* dom0 is exempt */
	for (int i = 0; i < 50; i++) {
		snprintf(path, sizeof(path), "/dom0/n%d", i);
		CHECK0(pvio_xs_write(d0, 0, path, "x", 1));
	}

	/* node size: 64 bytes of value for guests */
	memset(big, 'v', sizeof(big));
	CHECK0(pvio_xs_write(a, 0, "data/n1", big, 64));
	CHECK_RET(pvio_xs_write(a, 0, "data/n1", big, 65), -ENOSPC);
	CHECK0(pvio_xs_write(d0, 0, "/dom0/big", big, sizeof(big)));

	/* path length: 64 below the home */
	memset(path, 'p', sizeof(path));
	memcpy(path, "data/", 5);
	path[64] = '\0';
	CHECK_RET(pvio_xs_read(a, 0, path, &v, NULL), -ENOENT);
	path[64] = 'p';
	path[65] = '\0';
	CHECK_RET(pvio_xs_read(a, 0, path, &v, NULL), -EINVAL);

	/* ACL entries: 3 */
	CHECK0(pvio_xs_set_perms(a, 0, "data/n1", p, 3));
	CHECK_RET(pvio_xs_set_perms(a, 0, "data/n1", p, 4), -ENOSPC);
	CHECK0(pvio_xs_set_perms(d0, 0, "/dom0/big", p, 4));

	/* watches: 4 */
	for (int i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "data/n%d", i + 1);
		CHECK0(pvio_xs_watch(a, path, "q"));
	}
	CHECK_RET(pvio_xs_watch(a, "data", "q"), -E2BIG);
	CHECK0(pvio_xs_unwatch(a, "data/n1", "q"));
	CHECK0(pvio_xs_watch(a, "data", "q"));
	CHECK_RET(pvio_xs_watch(a, "data", "q2"), -E2BIG);
	CHECK0(pvio_xs_watch(b, "data", "q"));      /* per domain */

	/* transactions: 2 */
	CHECK0(pvio_xs_transaction_start(a, &tx[0]));
	CHECK0(pvio_xs_transaction_start(a, &tx[1]));
	CHECK_RET(pvio_xs_transaction_start(a, &tx[2]), -ENOSPC);
	CHECK0(pvio_xs_transaction_start(b, &tx[2]));
	CHECK0(pvio_xs_transaction_end(a, tx[0], false));
	CHECK0(pvio_xs_transaction_start(a, &tx[0]));
	for (int i = 0; i < 2; i++)
		CHECK0(pvio_xs_transaction_end(a, tx[i], false));
	CHECK0(pvio_xs_transaction_end(b, tx[2], false));
	healthy(10);
	pvio_xs_close(a);
	pvio_xs_close(b);
}

/* A guest watching a busy path without reading: its pending events stop at
 * the quota (8), the rest are dropped, it stays connected. */
static void test_pending_events(struct pvio_xs *d0)
{
	struct pvio_xsd_stats st0, st1;
	struct pvio_xsd_sockmsg hd;
	struct pvio_xs_perm p[2] = { { 0, PVIO_XS_PERM_NONE }, { 3, PVIO_XS_PERM_READ } };
	char buf[4200], path[32];
	int sv[2], small = 4096;
	unsigned got = 0;

	CHECK0(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	CHECK0(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)));
	CHECK0(setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)));
	CHECK0(pvio_xsd_add_conn(s.xsd, sv[0], 3));
	make_domain(&s, d0, 3);
	CHECK0(pvio_xs_mkdir(d0, 0, "/pub"));
	CHECK0(pvio_xs_set_perms(d0, 0, "/pub", p, 2));

	pvio_xsd_get_stats(s.xsd, &st0);
	raw_send(sv[1], PVIO_XS_WATCH, 1, 0, "/pub\0tok", 9);
	raw_recv(sv[1], &hd, buf);
	CHECK(hd.type == PVIO_XS_WATCH);
	for (int i = 0; i < 2000; i++) {
		snprintf(path, sizeof(path), "/pub/k%d", i);
		CHECK0(pvio_xs_write(d0, 0, path, "x", 1));
	}
	healthy(10);
	pvio_xsd_get_stats(s.xsd, &st1);
	CHECK(st1.events_dropped - st0.events_dropped > 1000);
	CHECK(st1.events_sent - st0.events_sent + st1.events_dropped - st0.events_dropped == 2001);
	CHECK(st1.conns_killed == st0.conns_killed);

	/* it can read them now, and is still served */
	raw_send(sv[1], PVIO_XS_GET_DOMAIN_PATH, 2, 0, "3", 2);
	for (;;) {
		raw_recv(sv[1], &hd, buf);
		if (hd.type != PVIO_XS_WATCH_EVENT)
			break;
		got++;
	}
	CHECK(hd.type == PVIO_XS_GET_DOMAIN_PATH && hd.req_id == 2);
	CHECK(got == st1.events_sent - st0.events_sent);
	printf("slow reader: %u events delivered, %llu dropped\n", got,
	       (unsigned long long)(st1.events_dropped - st0.events_dropped));
	close(sv[1]);
}

static void expect_err(int fd, uint32_t type, const void *p, uint32_t len, const char *err)
{
	struct pvio_xsd_sockmsg hd;
	char buf[4200];

	raw_send(fd, type, 42, 0, p, len);
	raw_recv(fd, &hd, buf);
	if (hd.type != PVIO_XS_ERROR || strcmp(buf, err) || hd.req_id != 42)
		FAIL("type %u: got type %u \"%s\", want ERROR %s", type, hd.type, buf, err);
}

static void test_malformed(void)
{
	struct pvio_xsd_sockmsg hd;
	struct pvio_xsd_stats st0, st1;
	char buf[4200];
	int fd;

	pvio_xsd_get_stats(s.xsd, &st0);

	/* payload over 4096: that connection is closed, nobody else's */
	fd = srv_raw(&s, 4);
	hd = (struct pvio_xsd_sockmsg){ PVIO_XS_READ, 1, 0, PVIO_XENSTORE_PAYLOAD_MAX + 1 };
	CHECK(write(fd, &hd, sizeof(hd)) == sizeof(hd));
	CHECK(raw_closed(fd, 5000));
	close(fd);
	healthy(10);
	pvio_xsd_get_stats(s.xsd, &st1);
	CHECK(st1.conns_killed == st0.conns_killed + 1);

	/* bad requests: an error each, the connection stays */
	fd = srv_raw(&s, 4);
	expect_err(fd, 99, "", 0, "ENOSYS");
	expect_err(fd, 20, "", 0, "ENOSYS");
	expect_err(fd, PVIO_XS_ERROR, "x", 1, "ENOSYS");
	expect_err(fd, PVIO_XS_READ, "/abc", 4, "EINVAL");          /* no NUL */
	expect_err(fd, PVIO_XS_READ, "/a\0/b", 6, "EINVAL");        /* two strings */
	expect_err(fd, PVIO_XS_READ, "", 0, "EINVAL");
	expect_err(fd, PVIO_XS_WRITE, "/abc", 4, "EINVAL");
	expect_err(fd, PVIO_XS_DIRECTORY, "", 0, "EINVAL");
	expect_err(fd, PVIO_XS_WATCH, "/only\0", 6, "EINVAL");
	expect_err(fd, PVIO_XS_WATCH, "/a\0b\0c", 7, "EINVAL");
	expect_err(fd, PVIO_XS_UNWATCH, "/a", 2, "EINVAL");
	expect_err(fd, PVIO_XS_SET_PERMS, "/x", 3, "EINVAL");
	expect_err(fd, PVIO_XS_DIRECTORY_PART, "/", 2, "EINVAL");
	expect_err(fd, PVIO_XS_TRANSACTION_END, "T", 2, "ENOENT");
	expect_err(fd, PVIO_XS_GET_DOMAIN_PATH, "x1", 3, "EINVAL");
	expect_err(fd, PVIO_XS_INTRODUCE, "5\0" "0\0" "0", 6, "EACCES");
	raw_send(fd, PVIO_XS_READ, 7, 999, "/", 2);                  /* unknown tx */
	raw_recv(fd, &hd, buf);
	CHECK(hd.type == PVIO_XS_ERROR && !strcmp(buf, "ENOENT") && hd.tx_id == 999);
	raw_send(fd, PVIO_XS_GET_DOMAIN_PATH, 8, 0, "4", 2);
	raw_recv(fd, &hd, buf);
	CHECK(hd.type == PVIO_XS_GET_DOMAIN_PATH && !strcmp(buf, "/local/domain/4"));

	/* half a header, then silence: others are served; it finishes later */
	{
		char msg[16 + 6];
		hd = (struct pvio_xsd_sockmsg){ PVIO_XS_GET_DOMAIN_PATH, 9, 0, 6 };
		memcpy(msg, &hd, 16);
		memcpy(msg + 16, "12345", 6);
		CHECK(write(fd, msg, 7) == 7);
		healthy(100);
		CHECK(write(fd, msg + 7, 12) == 12);                 /* half the payload */
		healthy(100);
		CHECK(write(fd, msg + 19, 3) == 3);
		raw_recv(fd, &hd, buf);
		CHECK(hd.req_id == 9 && !strcmp(buf, "/local/domain/12345"));
	}
	/* ... or goes away mid-message */
	hd = (struct pvio_xsd_sockmsg){ PVIO_XS_WRITE, 10, 0, 100 };
	CHECK(write(fd, &hd, sizeof(hd)) == sizeof(hd));
	CHECK(write(fd, "/half", 5) == 5);
	healthy(10);
	close(fd);
	healthy(10);
	/* The store notices the EOF on its own time: give it a bounded number
	 * of rounds (each a full request on the healthy connection). */
	/* Both raw connections of this test are gone and nothing is left
	 * open (st0 may still count a connection of the previous test that
	 * the store had not reaped yet: hence <=). */
	for (int i = 0; i < 1000; i++) {
		pvio_xsd_get_stats(s.xsd, &st1);
		if (st1.conns_closed >= st0.conns_closed + 2 && st1.conns <= st0.conns)
			break;
		healthy(1);
	}
	CHECK(st1.conns_closed >= st0.conns_closed + 2);
	CHECK(st1.conns <= st0.conns);
}

/* Requests without reading replies: the store stops reading this client
 * (its own buffers stay bounded), others go on, and when it reads again it
 * gets every reply, in order. */
static void test_flood(struct pvio_xs *d0)
{
	struct pvio_xsd_sockmsg hd;
	struct pvio_xs_perm p[2] = { { 0, PVIO_XS_PERM_NONE }, { 5, PVIO_XS_PERM_READ } };
	char val[4000], buf[4200];
	uint32_t sent = 0;
	int fd = srv_raw(&s, 5), fl;

	memset(val, 'f', sizeof(val));
	CHECK0(pvio_xs_write(d0, 0, "/flood", val, sizeof(val)));
	CHECK0(pvio_xs_set_perms(d0, 0, "/flood", p, 2));
	fl = fcntl(fd, F_GETFL);
	CHECK0(fcntl(fd, F_SETFL, fl | O_NONBLOCK));
	for (;;) {
		struct pvio_xsd_sockmsg m = { PVIO_XS_READ, sent + 1, 0, 7 };
		char msg[23];
		ssize_t n;
		memcpy(msg, &m, 16);
		memcpy(msg + 16, "/flood", 7);
		n = write(fd, msg, sizeof(msg));
		if (n < 0 && errno == EAGAIN) {
			/* the store must have stopped reading us: the others are
			 * still served */
			healthy(20);
			n = write(fd, msg, sizeof(msg));
			if (n < 0 && errno == EAGAIN)
				break;
		}
		CHECK(n == (ssize_t)sizeof(msg));        /* whole messages: 23 | buffer */
		sent++;
		CHECK(sent < 1000000);
	}
	CHECK0(fcntl(fd, F_SETFL, fl));
	for (uint32_t i = 1; i <= sent; i++) {
		raw_recv(fd, &hd, buf);
		if (hd.type != PVIO_XS_READ || hd.req_id != i || hd.len != sizeof(val))
			FAIL("reply %u: type %u req %u len %u", i, hd.type, hd.req_id, hd.len);
	}
	printf("flood: %u requests queued before the store stopped reading\n", sent);
	close(fd);
}

/* Random messages (valid framing) from a guest and from dom0. */
static void test_random(void)
{
	static const char alpha[] = "/ab01-_@\0\0\0TFrwbn";
	int fds[2] = { srv_raw(&s, 6), srv_raw(&s, 0) };
	unsigned seed = 12345;
	struct pvio_xsd_sockmsg hd;
	char buf[4200], p[64];

	for (int i = 1; i <= 4000; i++) {
		int fd = fds[i & 1];
		uint32_t type = (uint32_t)rand_r(&seed) % 24, len = (uint32_t)rand_r(&seed) % 24;
		uint32_t tx = rand_r(&seed) % 4 ? 0 : (uint32_t)rand_r(&seed) % 4;
		if (type == PVIO_XS_RELEASE || type == PVIO_XS_RESET_WATCHES)
			continue;
		for (uint32_t j = 0; j < len; j++)
			p[j] = alpha[(unsigned)rand_r(&seed) % (sizeof(alpha) - 1)];
		if (rand_r(&seed) % 2 && len)
			p[len - 1] = '\0';
		raw_send(fd, type, (uint32_t)i, tx, p, len);
		do
			raw_recv(fd, &hd, buf);
		while (hd.type == PVIO_XS_WATCH_EVENT);
		if (hd.req_id != (uint32_t)i)
			FAIL("random %d: reply to %u", i, hd.req_id);
	}
	close(fds[0]);
	close(fds[1]);
	healthy(10);
}

int main(void)
{
	struct pvio_xsd_opts o;
	struct pvio_xs *d0;
	struct pvio_xsd_stats st;

	pvio_xsd_opts_default(&o);
	o.quota_nodes = 20;
	o.quota_watches = 4;
	o.quota_watch_events = 8;
	o.quota_transactions = 2;
	o.quota_node_size = 64;
	o.quota_path_len = 64;
	o.quota_perms = 3;
	srv_start(&s, &o);
	h = srv_conn(&s, 0);
	d0 = srv_conn(&s, 0);

	test_quotas(d0);
	test_pending_events(d0);
	test_malformed();
	test_flood(d0);
	test_random();

	pvio_xs_close(d0);
	pvio_xs_close(h);
	pvio_xsd_get_stats(s.xsd, &st);
	printf("%llu requests, %llu errors, %llu connections killed\n",
	       (unsigned long long)st.requests, (unsigned long long)st.errors,
	       (unsigned long long)st.conns_killed);
	srv_stop(&s);
	printf("test_xs_quota: ok\n");
	return 0;
}
