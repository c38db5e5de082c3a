/* SPDX-License-Identifier: MIT */
/* Helpers for the xenstore tests: checks, an in-process store on a thread,
 * raw xs_wire I/O for protocol-level checks. */
#ifndef PVIO_TESTS_XS_TEST_H
#define PVIO_TESTS_XS_TEST_H

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ring/xs_wire.h"
#include "xenstore/xs.h"
#include "xenstore/xsd.h"

#define FAIL(...) do { \
	fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
	fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); exit(1); } while (0)
#define CHECK(c) do { if (!(c)) FAIL("%s", #c); } while (0)
/* An int-returning call must give exactly `want` (0, -ENOENT, ...). */
#define CHECK_RET(call, want) do { long _r = (long)(call), _w = (long)(want); \
	if (_r != _w) FAIL("%s = %ld (%s), want %ld (%s)", #call, _r, \
			   _r < 0 ? strerror((int)-_r) : "", _w, _w < 0 ? strerror((int)-_w) : ""); \
	} while (0)
#define CHECK0(call) CHECK_RET(call, 0)
#define CHECK_STR(a, b) do { const char *_a = (a), *_b = (b); \
	if (strcmp(_a, _b)) FAIL("%s = \"%s\", want \"%s\"", #a, _a, _b); } while (0)

/* ------------------------------------------------------ store on a thread */

struct srv {
	struct pvio_xsd *xsd;
	pthread_t th;
};

static void *srv_thread(void *arg)
{
	struct srv *s = arg;

	if (pvio_xsd_run(s->xsd))
		FAIL("pvio_xsd_run failed");
	return NULL;
}

static inline void srv_start(struct srv *s, const struct pvio_xsd_opts *o)
{
	CHECK0(pvio_xsd_create(o, &s->xsd));
	CHECK0(pthread_create(&s->th, NULL, srv_thread, s));
}

static inline void srv_stop(struct srv *s)
{
	pvio_xsd_stop(s->xsd);
	CHECK0(pthread_join(s->th, NULL));
	pvio_xsd_destroy(s->xsd);
}

/* A client connection acting as domid. */
static inline struct pvio_xs *srv_conn(struct srv *s, uint16_t domid)
{
	struct pvio_xs *xs;
	int fd;

	CHECK0(pvio_xsd_socketpair(s->xsd, domid, &fd));
	CHECK0(pvio_xs_open_fd(fd, &xs));
	return xs;
}

/* A raw socket acting as domid. */
static inline int srv_raw(struct srv *s, uint16_t domid)
{
	int fd;

	CHECK0(pvio_xsd_socketpair(s->xsd, domid, &fd));
	return fd;
}

/* What libxl does for a new domain: introduce it; its home is dom0's but
 * readable by it; home/device and home/data are its own. */
static inline void make_domain(struct srv *s, struct pvio_xs *dom0, uint16_t domid)
{
	char path[64];
	struct pvio_xs_perm ro[2] = { { 0, PVIO_XS_PERM_NONE }, { domid, PVIO_XS_PERM_READ } };
	struct pvio_xs_perm rw[1] = { { domid, PVIO_XS_PERM_NONE } };

	CHECK0(pvio_xsd_introduce(s->xsd, domid));
	snprintf(path, sizeof(path), "/local/domain/%u", domid);
	CHECK0(pvio_xs_mkdir(dom0, 0, path));
	CHECK0(pvio_xs_set_perms(dom0, 0, path, ro, 2));
	snprintf(path, sizeof(path), "/local/domain/%u/device", domid);
	CHECK0(pvio_xs_mkdir(dom0, 0, path));
	CHECK0(pvio_xs_set_perms(dom0, 0, path, rw, 1));
	snprintf(path, sizeof(path), "/local/domain/%u/data", domid);
	CHECK0(pvio_xs_mkdir(dom0, 0, path));
	CHECK0(pvio_xs_set_perms(dom0, 0, path, rw, 1));
}

/* Read path and compare. */
#define CHECK_READ(xs, tx, path, want) do { char _b[4200]; \
	CHECK0(pvio_xs_read_buf((xs), (tx), (path), _b, sizeof(_b), NULL)); \
	CHECK_STR(_b, (want)); } while (0)

/* Next event must be (path, token) within 5 s. */
#define CHECK_EVENT(xs, tok, wpath, wtoken) do { struct pvio_xs_event _e; \
	CHECK0(pvio_xs_read_watch((xs), (tok), &_e, 5000)); \
	CHECK_STR(_e.path, (wpath)); CHECK_STR(_e.token, (wtoken)); } while (0)
/* No event (for that token) is pending. A round trip first flushes what
 * the store sent before it. */
#define CHECK_NO_EVENT(xs, tok) do { struct pvio_xs_event _e; char _b[32]; int _r; \
	CHECK0(pvio_xs_get_domain_path((xs), 0, _b, sizeof(_b))); \
	_r = pvio_xs_read_watch((xs), (tok), &_e, 0); \
	if (_r != -EAGAIN) FAIL("unexpected event %s %s (%d)", _r ? "?" : _e.path, \
				_r ? "?" : _e.token, _r); } while (0)

/* ------------------------------------------------------------- raw wire */

static inline void raw_send(int fd, uint32_t type, uint32_t req_id, uint32_t tx_id,
			    const void *p, uint32_t len)
{
	struct pvio_xsd_sockmsg h = { type, req_id, tx_id, len };
	char buf[sizeof(h) + 8192];

	CHECK(len <= 8192);
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), p, len);
	CHECK(write(fd, buf, sizeof(h) + len) == (ssize_t)(sizeof(h) + len));
}

/* Read exactly n bytes within timeout; returns 0, or -1 on EOF. */
static inline int raw_read_n(int fd, void *buf, size_t n, int timeout_ms)
{
	size_t got = 0;

	while (got < n) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		ssize_t r;
		if (poll(&pfd, 1, timeout_ms) != 1)
			FAIL("raw read timed out");
		r = read(fd, (char *)buf + got, n - got);
		if (r == 0)
			return -1;
		if (r < 0)
			FAIL("raw read: %s", strerror(errno));
		got += (size_t)r;
	}
	return 0;
}

/* Receive one message (payload NUL-terminated in buf[4097]). */
static inline void raw_recv(int fd, struct pvio_xsd_sockmsg *h, char *buf)
{
	if (raw_read_n(fd, h, sizeof(*h), 5000))
		FAIL("raw: EOF");
	CHECK(h->len <= PVIO_XENSTORE_PAYLOAD_MAX);
	if (h->len && raw_read_n(fd, buf, h->len, 5000))
		FAIL("raw: EOF in payload");
	buf[h->len] = '\0';
}

/* True if the peer closed fd (EOF within timeout). */
static inline int raw_closed(int fd, int timeout_ms)
{
	char c;
	struct pollfd pfd = { fd, POLLIN, 0 };

	if (poll(&pfd, 1, timeout_ms) != 1)
		return 0;
	return read(fd, &c, 1) == 0;
}

#endif /* PVIO_TESTS_XS_TEST_H */
