/* SPDX-License-Identifier: MIT */
/*
 * xenstore client library (xenstore/xs.h).
 *
 * One socket carries both replies and watch events. There is no reader
 * thread: whoever needs something from the socket (a caller waiting for its
 * reply, a caller waiting for an event) becomes "the reader" if nobody is,
 * reads, and sorts what came in: the reply into the handle's reply slot,
 * events into the event queue; then it wakes the others. A lone caller
 * thus reads its own reply directly (no thread hand-off on the fast path).
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "xenstore/xs.h"
#include "xenstore/xs_internal.h"

#define HDR      ((uint32_t)sizeof(struct pvio_xsd_sockmsg))
#define RXBUF    (16u * 1024u)

struct xs_qev {
	struct xs_qev *next;
	uint32_t len;              /* "path\0token\0" */
	char data[];
};

struct pvio_xs {
	int fd;
	pthread_mutex_t req_lock;  /* one request in flight */
	pthread_mutex_t lock;      /* everything below */
	pthread_cond_t cond;       /* reply arrived, event queued, reader left */
	bool reading;              /* a thread owns the socket's read side */
	int err;                   /* sticky connection error (< 0) */
	uint32_t req_id;

	bool have_reply;
	struct pvio_xsd_sockmsg rhdr;
	char rbuf[PVIO_XENSTORE_PAYLOAD_MAX + 1];

	/* owned by the reader */
	char rx[RXBUF];
	uint32_t rx_len;

	struct xs_qev *ev_head, *ev_tail;
	unsigned nev;
	unsigned long ev_dropped;
	int evfd;                  /* readable while events are queued */
	int wfd;                   /* epoll: socket + evfd */
};

/* ------------------------------------------------------------ open/close */

PVIO_EXPORT int pvio_xs_open_fd(int fd, struct pvio_xs **out)
{
	struct pvio_xs *xs = calloc(1, sizeof(*xs));
	pthread_condattr_t ca;

	if (!xs) {
		close(fd);
		return -ENOMEM;
	}
	xs->fd = fd;
	xs->wfd = -1;
	xs->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (xs->evfd < 0) {
		int ret = -errno;
		close(fd);
		free(xs);
		return ret;
	}
	pthread_mutex_init(&xs->req_lock, NULL);
	pthread_mutex_init(&xs->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&xs->cond, &ca);
	pthread_condattr_destroy(&ca);
	*out = xs;
	return 0;
}

PVIO_EXPORT int pvio_xs_open(const char *path, struct pvio_xs **out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *rundir;
	int fd;

	if (!path)
		path = getenv("XENSTORED_PATH");
	if (!path && (rundir = getenv("XENSTORED_RUNDIR"))) {
		if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/socket", rundir) >=
		    (int)sizeof(sa.sun_path))
			return -ENAMETOOLONG;
	} else {
		if (!path)
			path = "/var/run/xenstored/socket";
		if (strlen(path) >= sizeof(sa.sun_path))
			return -ENAMETOOLONG;
		strcpy(sa.sun_path, path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int ret = -errno;
		close(fd);
		return ret;
	}
	return pvio_xs_open_fd(fd, out);
}

PVIO_EXPORT void pvio_xs_close(struct pvio_xs *xs)
{
	if (!xs)
		return;
	close(xs->fd);
	close(xs->evfd);
	if (xs->wfd >= 0)
		close(xs->wfd);
	while (xs->ev_head) {
		struct xs_qev *e = xs->ev_head;
		xs->ev_head = e->next;
		free(e);
	}
	pthread_cond_destroy(&xs->cond);
	pthread_mutex_destroy(&xs->lock);
	pthread_mutex_destroy(&xs->req_lock);
	free(xs);
}

/* ---------------------------------------------------------------- events */

static void evfd_set(struct pvio_xs *xs, bool on)
{
	uint64_t v = 1;

	if (on) {
		if (write(xs->evfd, &v, sizeof(v)) < 0) {
			/* counter saturated: readable anyway */
		}
	} else if (read(xs->evfd, &v, sizeof(v)) < 0) {
		/* was clear */
	}
}

static void ev_queue(struct pvio_xs *xs, const char *data, uint32_t len)
{
	struct xs_qev *e;

	/* Exactly "path\0token\0" (anything after is ignored, as libxenstore). */
	if (pvio__xs_count_strings(data, len) < 2)
		return;
	len = (uint32_t)strlen(data) + 1;
	len += (uint32_t)strlen(data + len) + 1;
	for (e = xs->ev_head; e; e = e->next)
		if (e->len == len && !memcmp(e->data, data, len))
			return;         /* same event pending already */
	if (xs->nev >= PVIO_XS_EVENTS_MAX || !(e = malloc(sizeof(*e) + len))) {
		xs->ev_dropped++;
		return;
	}
	e->next = NULL;
	e->len = len;
	memcpy(e->data, data, len);
	if (xs->ev_tail)
		xs->ev_tail->next = e;
	else
		xs->ev_head = e;
	xs->ev_tail = e;
	if (xs->nev++ == 0)
		evfd_set(xs, true);
}

static void ev_unlink(struct pvio_xs *xs, struct xs_qev **pp)
{
	struct xs_qev *e = *pp;

	*pp = e->next;
	if (xs->ev_tail == e) {
		xs->ev_tail = NULL;
		for (struct xs_qev *t = xs->ev_head; t; t = t->next)
			xs->ev_tail = t;
	}
	if (--xs->nev == 0)
		evfd_set(xs, false);
	free(e);
}

static bool ev_take(struct pvio_xs *xs, const char *token, struct pvio_xs_event *ev)
{
	for (struct xs_qev **pp = &xs->ev_head; *pp; pp = &(*pp)->next) {
		struct xs_qev *e = *pp;
		const char *tok = e->data + strlen(e->data) + 1;
		if (token && strcmp(token, tok))
			continue;
		memcpy(ev->buf, e->data, e->len);
		ev->path = ev->buf;
		ev->token = ev->buf + (tok - e->data);
		ev_unlink(xs, pp);
		return true;
	}
	return false;
}

/* ---------------------------------------------------------------- reading */

/* Sort complete messages out of rx. Lock held. */
static int rx_dispatch(struct pvio_xs *xs)
{
	uint32_t off = 0;

	while (xs->rx_len - off >= HDR) {
		struct pvio_xsd_sockmsg h;
		memcpy(&h, xs->rx + off, HDR);
		h.type = le32toh(h.type);
		h.req_id = le32toh(h.req_id);
		h.tx_id = le32toh(h.tx_id);
		h.len = le32toh(h.len);
		if (h.len > PVIO_XENSTORE_PAYLOAD_MAX)
			return -EPROTO;
		if (xs->rx_len - off < HDR + h.len)
			break;
		if (h.type == PVIO_XS_WATCH_EVENT) {
			ev_queue(xs, xs->rx + off + HDR, h.len);
		} else {
			if (xs->have_reply)
				return -EPROTO;     /* a reply nobody asked for */
			xs->rhdr = h;
			memcpy(xs->rbuf, xs->rx + off + HDR, h.len);
			xs->rbuf[h.len] = '\0';
			xs->have_reply = true;
		}
		off += HDR + h.len;
	}
	if (off) {
		memmove(xs->rx, xs->rx + off, xs->rx_len - off);
		xs->rx_len -= off;
	}
	return 0;
}

/*
 * Become the reader: wait up to timeout_ms for data (-1 forever, 0 not at
 * all), read what is there and sort it. Lock held on entry and exit, and
 * nobody else reading. Returns 0 or a (sticky) -errno.
 */
static int pump(struct pvio_xs *xs, int timeout_ms)
{
	struct pollfd pfd = { .fd = xs->fd, .events = POLLIN };
	ssize_t n = 0;
	int ret = 0;

	xs->reading = true;
	pthread_mutex_unlock(&xs->lock);
	if (timeout_ms != 0 && poll(&pfd, 1, timeout_ms) <= 0)
		goto relock;        /* timeout or EINTR: the caller re-checks */
	n = recv(xs->fd, xs->rx + xs->rx_len, RXBUF - xs->rx_len, MSG_DONTWAIT);
	if (n < 0 && errno == ENOTSOCK)
		n = read(xs->fd, xs->rx + xs->rx_len, RXBUF - xs->rx_len);
	if (n == 0)
		ret = -ECONNRESET;
	else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
		ret = -errno;
relock:
	pthread_mutex_lock(&xs->lock);
	if (n > 0) {
		xs->rx_len += (uint32_t)n;
		ret = rx_dispatch(xs);
	}
	if (ret && !xs->err)
		xs->err = ret;
	xs->reading = false;
	pthread_cond_broadcast(&xs->cond);
	return xs->err;
}

/* ---------------------------------------------------------------- requests */

static int write_all(int fd, struct iovec *iov, int cnt)
{
	while (cnt) {
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)cnt };
		ssize_t n = sendmsg(fd, &mh, MSG_NOSIGNAL);
		if (n < 0 && errno == ENOTSOCK)
			n = writev(fd, iov, cnt);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		while (cnt && (size_t)n >= iov->iov_len) {
			n -= (ssize_t)iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt) {
			iov->iov_base = (char *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

/*
 * Send a request made of parts and wait for its reply. Caller holds
 * req_lock; on success *rp and *rlen are the reply payload in xs->rbuf
 * (NUL-terminated), valid until req_lock is released.
 */
static int talk(struct pvio_xs *xs, uint32_t type, uint32_t tx, const struct iovec *parts,
		int nparts, const char **rp, uint32_t *rlen)
{
	struct iovec iov[8];
	struct pvio_xsd_sockmsg h;
	size_t len = 0;
	int ret;

	for (int i = 0; i < nparts; i++) {
		iov[i + 1] = parts[i];
		len += parts[i].iov_len;
	}
	if (len > PVIO_XENSTORE_PAYLOAD_MAX)
		return -E2BIG;      /* the store would cut us off */
	pthread_mutex_lock(&xs->lock);
	ret = xs->err;
	h.type = htole32(type);
	h.req_id = htole32(++xs->req_id);
	h.tx_id = htole32(tx);
	h.len = htole32((uint32_t)len);
	pthread_mutex_unlock(&xs->lock);
	if (ret)
		return ret;
	iov[0].iov_base = &h;
	iov[0].iov_len = HDR;
	ret = write_all(xs->fd, iov, nparts + 1);

	pthread_mutex_lock(&xs->lock);
	if (ret) {
		if (!xs->err)
			xs->err = ret == -EPIPE ? -ECONNRESET : ret;
		ret = xs->err;
		goto out;
	}
	while (!xs->have_reply && !xs->err) {
		if (!xs->reading)
			pump(xs, -1);
		else
			pthread_cond_wait(&xs->cond, &xs->lock);
	}
	if (!xs->have_reply) {
		ret = xs->err;
		goto out;
	}
	xs->have_reply = false;
	if (xs->rhdr.type == PVIO_XS_ERROR)
		ret = -pvio__xs_errno(xs->rbuf, xs->rhdr.len);
	else if (xs->rhdr.type != type)
		ret = -EPROTO;
	else {
		*rp = xs->rbuf;
		*rlen = xs->rhdr.len;
	}
out:
	pthread_mutex_unlock(&xs->lock);
	return ret;
}

static int talk1(struct pvio_xs *xs, uint32_t type, uint32_t tx, const char *s)
{
	struct iovec p = { (void *)s, strlen(s) + 1 };
	const char *r;
	uint32_t rl;
	int ret;

	pthread_mutex_lock(&xs->req_lock);
	ret = talk(xs, type, tx, &p, 1, &r, &rl);
	pthread_mutex_unlock(&xs->req_lock);
	return ret;
}

PVIO_EXPORT int pvio_xs_request(struct pvio_xs *xs, uint32_t type, uint32_t tx,
				const void *payload, size_t len,
				void *reply, size_t size, size_t *rlen)
{
	struct iovec p = { (void *)payload, len };
	const char *r;
	uint32_t rl;
	int ret;

	pthread_mutex_lock(&xs->req_lock);
	ret = talk(xs, type, tx, &p, len ? 1 : 0, &r, &rl);
	if (!ret) {
		if (rlen)
			*rlen = rl;
		if (reply && size) {
			size_t n = rl < size ? rl : size;
			memcpy(reply, r, n);
			if (rl < size)
				((char *)reply)[rl] = '\0';
		}
	}
	pthread_mutex_unlock(&xs->req_lock);
	return ret;
}

PVIO_EXPORT int pvio_xs_read_buf(struct pvio_xs *xs, uint32_t tx, const char *path,
				 char *buf, size_t size, size_t *len)
{
	struct iovec p = { (void *)path, strlen(path) + 1 };
	const char *r;
	uint32_t rl;
	int ret;

	pthread_mutex_lock(&xs->req_lock);
	ret = talk(xs, PVIO_XS_READ, tx, &p, 1, &r, &rl);
	if (!ret) {
		if (len)
			*len = rl;
		if (rl >= size) {
			ret = -ERANGE;
		} else {
			memcpy(buf, r, rl);
			buf[rl] = '\0';
		}
	}
	pthread_mutex_unlock(&xs->req_lock);
	return ret;
}

PVIO_EXPORT int pvio_xs_read(struct pvio_xs *xs, uint32_t tx, const char *path,
			     char **val, size_t *len)
{
	struct iovec p = { (void *)path, strlen(path) + 1 };
	const char *r;
	uint32_t rl;
	int ret;

	pthread_mutex_lock(&xs->req_lock);
	ret = talk(xs, PVIO_XS_READ, tx, &p, 1, &r, &rl);
	if (!ret) {
		*val = malloc(rl + 1);
		if (!*val) {
			ret = -ENOMEM;
		} else {
			memcpy(*val, r, rl + 1);
			if (len)
				*len = rl;
		}
	}
	pthread_mutex_unlock(&xs->req_lock);
	return ret;
}

PVIO_EXPORT int pvio_xs_read_uint(struct pvio_xs *xs, uint32_t tx, const char *path,
				  unsigned long long *val)
{
	char buf[32], *end;
	size_t len = 0;
	int ret = pvio_xs_read_buf(xs, tx, path, buf, sizeof(buf), &len);

	if (ret)
		return ret == -ERANGE ? -EINVAL : ret;
	if (buf[0] < '0' || buf[0] > '9')
		return -EINVAL;
	errno = 0;
	*val = strtoull(buf, &end, 10);
	/* The whole value is the number: "1\0junk" (a NUL inside) is none. */
	return end != buf + len || errno ? -EINVAL : 0;
}

PVIO_EXPORT int pvio_xs_write(struct pvio_xs *xs, uint32_t tx, const char *path,
			      const void *val, size_t len)
{
	struct iovec p[2] = { { (void *)path, strlen(path) + 1 }, { (void *)val, len } };
	const char *r;
	uint32_t rl;
	int ret;

	pthread_mutex_lock(&xs->req_lock);
	ret = talk(xs, PVIO_XS_WRITE, tx, p, 2, &r, &rl);
	pthread_mutex_unlock(&xs->req_lock);
	return ret;
}

PVIO_EXPORT int pvio_xs_printf(struct pvio_xs *xs, uint32_t tx, const char *path,
			       const char *fmt, ...)
{
	char buf[256], *s = buf;
	va_list ap;
	int n, ret;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= sizeof(buf)) {
		if (n > PVIO_XENSTORE_PAYLOAD_MAX)
			return -E2BIG;
		s = malloc((size_t)n + 1);
		if (!s)
			return -ENOMEM;
		va_start(ap, fmt);
		vsnprintf(s, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	ret = pvio_xs_write(xs, tx, path, s, (size_t)n);
	if (s != buf)
		free(s);
	return ret;
}

PVIO_EXPORT int pvio_xs_mkdir(struct pvio_xs *xs, uint32_t tx, const char *path)
{
	return talk1(xs, PVIO_XS_MKDIR, tx, path);
}

PVIO_EXPORT int pvio_xs_rm(struct pvio_xs *xs, uint32_t tx, const char *path)
{
	return talk1(xs, PVIO_XS_RM, tx, path);
}

/* Turn "a\0b\0" (len bytes) into one block: n pointers, then the strings. */
static int split_names(const char *s, size_t len, char ***names, unsigned *n)
{
	unsigned cnt = pvio__xs_count_strings(s, len);
	char **v = malloc((cnt + 1) * sizeof(char *) + len + 1);
	char *str;

	if (!v)
		return -ENOMEM;
	str = (char *)(v + cnt + 1);
	memcpy(str, s, len);
	str[len] = '\0';
	for (unsigned i = 0; i < cnt; i++) {
		v[i] = str;
		str += strlen(str) + 1;
	}
	v[cnt] = NULL;
	*names = v;
	*n = cnt;
	return 0;
}

/* The list in pieces (xenstored answers E2BIG to DIRECTORY when it does not
 * fit), restarting if the node changes between pieces. */
static int directory_part(struct pvio_xs *xs, uint32_t tx, const char *path,
			  char ***names, unsigned *n)
{
	char *acc = NULL, gen[24] = "", off[16];
	size_t acclen = 0, plen = strlen(path) + 1;
	int ret, tries = 0;

	for (;;) {
		struct iovec p[2] = { { (void *)path, plen }, { off, 0 } };
		const char *r;
		uint32_t rl, gl;
		bool last;
		char *nacc;

		p[1].iov_len = (size_t)snprintf(off, sizeof(off), "%zu", acclen) + 1;
		pthread_mutex_lock(&xs->req_lock);
		ret = talk(xs, PVIO_XS_DIRECTORY_PART, tx, p, 2, &r, &rl);
		if (ret) {
			pthread_mutex_unlock(&xs->req_lock);
			break;
		}
		gl = (uint32_t)strnlen(r, rl);
		if (gl >= rl || gl >= sizeof(gen)) {
			pthread_mutex_unlock(&xs->req_lock);
			ret = -EPROTO;
			break;
		}
		if (acclen && strcmp(gen, r)) {
			/* changed under us: start over */
			pthread_mutex_unlock(&xs->req_lock);
			acclen = 0;
			if (++tries > 16) {
				ret = -EAGAIN;
				break;
			}
			continue;
		}
		memcpy(gen, r, gl + 1);
		r += gl + 1;
		rl -= gl + 1;
		/* The last piece ends with an empty string: two NULs in a row. */
		last = rl == 0 || (rl >= 1 && r[rl - 1] == '\0' && (rl == 1 || r[rl - 2] == '\0'));
		if (last && rl)
			rl--;
		nacc = realloc(acc, acclen + rl + 1);
		if (!nacc) {
			pthread_mutex_unlock(&xs->req_lock);
			ret = -ENOMEM;
			break;
		}
		acc = nacc;
		memcpy(acc + acclen, r, rl);
		acclen += rl;
		pthread_mutex_unlock(&xs->req_lock);
		if (last) {
			ret = split_names(acc, acclen, names, n);
			break;
		}
		if (!rl) {
			ret = -EPROTO;
			break;
		}
	}
	free(acc);
	return ret;
}

PVIO_EXPORT int pvio_xs_directory(struct pvio_xs *xs, uint32_t tx, const char *path,
				  char ***names, unsigned *n)
{
	struct iovec p = { (void *)path, strlen(path) + 1 };
	const char *r;
	uint32_t rl;
	int ret;

	pthread_mutex_lock(&xs->req_lock);
	ret = talk(xs, PVIO_XS_DIRECTORY, tx, &p, 1, &r, &rl);
	if (!ret)
		ret = split_names(r, rl, names, n);
	pthread_mutex_unlock(&xs->req_lock);
	if (ret == -E2BIG)
		ret = directory_part(xs, tx, path, names, n);
	return ret;
}

PVIO_EXPORT int pvio_xs_get_perms(struct pvio_xs *xs, uint32_t tx, const char *path,
				  struct pvio_xs_perm **perms, unsigned *n)
{
	struct iovec p = { (void *)path, strlen(path) + 1 };
	const char *r;
	uint32_t rl;
	int ret;

	pthread_mutex_lock(&xs->req_lock);
	ret = talk(xs, PVIO_XS_GET_PERMS, tx, &p, 1, &r, &rl);
	if (!ret) {
		unsigned cnt = pvio__xs_count_strings(r, rl);
		struct pvio_xs_perm *v = malloc((cnt ? cnt : 1) * sizeof(*v));
		if (!v)
			ret = -ENOMEM;
		for (unsigned i = 0; v && i < cnt; i++, r += strlen(r) + 1) {
			if (pvio__xs_perm_parse(r, &v[i].perm, &v[i].domid)) {
				ret = -EPROTO;
				break;
			}
		}
		if (ret) {
			free(v);
		} else {
			*perms = v;
			*n = cnt;
		}
	}
	pthread_mutex_unlock(&xs->req_lock);
	return ret;
}

PVIO_EXPORT int pvio_xs_set_perms(struct pvio_xs *xs, uint32_t tx, const char *path,
				  const struct pvio_xs_perm *perms, unsigned n)
{
	char buf[PVIO_XENSTORE_PAYLOAD_MAX];
	struct iovec p[2] = { { (void *)path, strlen(path) + 1 }, { buf, 0 } };
	const char *r;
	uint32_t rl;
	size_t len = 0;
	int ret;

	if (!n)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		if (len + 8 > sizeof(buf) || perms[i].perm > PVIO_XS_PERM_BOTH)
			return len + 8 > sizeof(buf) ? -E2BIG : -EINVAL;
		len += (size_t)pvio__xs_perm_format(buf + len, perms[i].perm, perms[i].domid) + 1;
	}
	p[1].iov_len = len;
	pthread_mutex_lock(&xs->req_lock);
	ret = talk(xs, PVIO_XS_SET_PERMS, tx, p, 2, &r, &rl);
	pthread_mutex_unlock(&xs->req_lock);
	return ret;
}

/* ---------------------------------------------------------------- watches */

PVIO_EXPORT int pvio_xs_watch(struct pvio_xs *xs, const char *path, const char *token)
{
	struct iovec p[2] = { { (void *)path, strlen(path) + 1 },
			      { (void *)token, strlen(token) + 1 } };
	const char *r;
	uint32_t rl;
	int ret;

	pthread_mutex_lock(&xs->req_lock);
	ret = talk(xs, PVIO_XS_WATCH, PVIO_XS_NO_TX, p, 2, &r, &rl);
	pthread_mutex_unlock(&xs->req_lock);
	return ret;
}

PVIO_EXPORT int pvio_xs_unwatch(struct pvio_xs *xs, const char *path, const char *token)
{
	struct iovec p[2] = { { (void *)path, strlen(path) + 1 },
			      { (void *)token, strlen(token) + 1 } };
	const char *r;
	uint32_t rl;
	int ret;

	pthread_mutex_lock(&xs->req_lock);
	ret = talk(xs, PVIO_XS_UNWATCH, PVIO_XS_NO_TX, p, 2, &r, &rl);
	pthread_mutex_unlock(&xs->req_lock);
	if (ret)
		return ret;
	/* Forget what that watch left queued. */
	pthread_mutex_lock(&xs->lock);
	for (struct xs_qev **pp = &xs->ev_head; *pp;) {
		const char *ep = (*pp)->data, *tok = ep + strlen(ep) + 1;
		if (!strcmp(tok, token) &&
		    pvio__xs_is_child(ep, strlen(ep), path, strlen(path)))
			ev_unlink(xs, pp);
		else
			pp = &(*pp)->next;
	}
	pthread_mutex_unlock(&xs->lock);
	return 0;
}

PVIO_EXPORT int pvio_xs_reset_watches(struct pvio_xs *xs)
{
	const char *r;
	uint32_t rl;
	struct iovec p = { (void *)"", 1 };
	int ret;

	pthread_mutex_lock(&xs->req_lock);
	ret = talk(xs, PVIO_XS_RESET_WATCHES, PVIO_XS_NO_TX, &p, 1, &r, &rl);
	pthread_mutex_unlock(&xs->req_lock);
	if (!ret) {
		pthread_mutex_lock(&xs->lock);
		while (xs->ev_head)
			ev_unlink(xs, &xs->ev_head);
		pthread_mutex_unlock(&xs->lock);
	}
	return ret;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

PVIO_EXPORT int pvio_xs_read_watch(struct pvio_xs *xs, const char *token,
				   struct pvio_xs_event *ev, int timeout_ms)
{
	int64_t deadline = timeout_ms > 0 ? now_ms() + timeout_ms : 0;
	bool tried = false;
	int ret;

	pthread_mutex_lock(&xs->lock);
	for (;;) {
		int left = -1;
		if (ev_take(xs, token, ev)) {
			ret = 0;
			break;
		}
		if (xs->err) {
			ret = xs->err;
			break;
		}
		if (timeout_ms >= 0) {
			int64_t l = timeout_ms ? deadline - now_ms() : 0;
			if (l <= 0 && tried) {
				ret = -EAGAIN;
				break;
			}
			left = l < 0 ? 0 : (int)l;
		}
		if (!xs->reading) {
			pump(xs, left);
			tried = true;
		} else if (left < 0) {
			pthread_cond_wait(&xs->cond, &xs->lock);
		} else {
			struct timespec ts;
			int64_t d = now_ms() + left;
			ts.tv_sec = d / 1000;
			ts.tv_nsec = (d % 1000) * 1000000;
			pthread_cond_timedwait(&xs->cond, &xs->lock, &ts);
			tried = true;
		}
	}
	pthread_mutex_unlock(&xs->lock);
	return ret;
}

PVIO_EXPORT int pvio_xs_dispatch_watches(struct pvio_xs *xs,
					 void (*cb)(void *arg, const char *path, const char *token),
					 void *arg)
{
	struct pvio_xs_event *ev = malloc(sizeof(*ev));
	int n = 0, ret;

	if (!ev)
		return -ENOMEM;
	while ((ret = pvio_xs_read_watch(xs, NULL, ev, 0)) == 0) {
		cb(arg, ev->path, ev->token);
		n++;
	}
	free(ev);
	return ret == -EAGAIN ? n : ret;
}

PVIO_EXPORT int pvio_xs_watch_fd(struct pvio_xs *xs)
{
	int ret;

	pthread_mutex_lock(&xs->lock);
	if (xs->wfd < 0) {
		struct epoll_event ev = { .events = EPOLLIN };
		int fd = epoll_create1(EPOLL_CLOEXEC);
		if (fd >= 0 && (epoll_ctl(fd, EPOLL_CTL_ADD, xs->fd, &ev) ||
				epoll_ctl(fd, EPOLL_CTL_ADD, xs->evfd, &ev))) {
			close(fd);
			fd = -1;
		}
		xs->wfd = fd < 0 ? -errno : fd;
	}
	ret = xs->wfd;
	if (ret < 0)
		xs->wfd = -1;
	pthread_mutex_unlock(&xs->lock);
	return ret;
}

PVIO_EXPORT unsigned long pvio_xs_events_dropped(struct pvio_xs *xs)
{
	unsigned long n;

	pthread_mutex_lock(&xs->lock);
	n = xs->ev_dropped;
	pthread_mutex_unlock(&xs->lock);
	return n;
}

/* ----------------------------------------------------------- transactions */

PVIO_EXPORT int pvio_xs_transaction_start(struct pvio_xs *xs, uint32_t *tx)
{
	struct iovec p = { (void *)"", 1 };
	const char *r;
	uint32_t rl;
	int ret;

	pthread_mutex_lock(&xs->req_lock);
	ret = talk(xs, PVIO_XS_TRANSACTION_START, PVIO_XS_NO_TX, &p, 1, &r, &rl);
	if (!ret && (pvio__xs_parse_u32(r, tx) || !*tx))
		ret = -EPROTO;
	pthread_mutex_unlock(&xs->req_lock);
	return ret;
}

PVIO_EXPORT int pvio_xs_transaction_end(struct pvio_xs *xs, uint32_t tx, bool commit)
{
	return talk1(xs, PVIO_XS_TRANSACTION_END, tx, commit ? "T" : "F");
}

/* After the n-th conflict in a row: wait a random while, up to ~10 ms, so
 * contenders stop colliding (each round someone commits; backing off keeps
 * one caller from losing every round). */
static void tx_backoff(unsigned n, unsigned *seed)
{
	unsigned max_us = 10u << (n < 10 ? n : 10);
	struct timespec ts;

	if (max_us > 10000)
		max_us = 10000;
	ts.tv_sec = 0;
	ts.tv_nsec = (long)(rand_r(seed) % max_us) * 1000;
	nanosleep(&ts, NULL);
}

PVIO_EXPORT int pvio_xs_transaction_run(struct pvio_xs *xs, pvio_xs_tx_fn fn, void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)&seed ^ (unsigned)now_ms();
	int ret = -EAGAIN;

	for (unsigned i = 0; i < PVIO_XS_TX_RETRIES; i++) {
		uint32_t tx;
		int r;

		if (i)
			tx_backoff(i, &seed);
		ret = pvio_xs_transaction_start(xs, &tx);
		if (ret)
			return ret;
		r = fn(xs, tx, arg);
		if (r < 0) {
			pvio_xs_transaction_end(xs, tx, false);
			if (r == -EAGAIN) {
				ret = r;
				continue;
			}
			return r;
		}
		ret = pvio_xs_transaction_end(xs, tx, true);
		if (ret == -EAGAIN)
			continue;
		return ret ? ret : r;
	}
	return ret;
}

/* ---------------------------------------------------------------- domains */

PVIO_EXPORT int pvio_xs_get_domain_path(struct pvio_xs *xs, uint16_t domid,
					char *buf, size_t size)
{
	char id[8];
	size_t rlen;
	int ret;

	snprintf(id, sizeof(id), "%u", domid);
	ret = pvio_xs_request(xs, PVIO_XS_GET_DOMAIN_PATH, PVIO_XS_NO_TX, id, strlen(id) + 1,
			      buf, size, &rlen);
	if (!ret && rlen >= size)
		ret = -ERANGE;
	return ret;
}

PVIO_EXPORT int pvio_xs_introduce_domain(struct pvio_xs *xs, uint16_t domid,
					 uint64_t mfn, uint32_t evtchn)
{
	char buf[64];
	int n = snprintf(buf, sizeof(buf), "%u%c%llu%c%u", domid, 0,
			 (unsigned long long)mfn, 0, evtchn);

	return pvio_xs_request(xs, PVIO_XS_INTRODUCE, PVIO_XS_NO_TX, buf, (size_t)n + 1,
			       NULL, 0, NULL);
}

PVIO_EXPORT int pvio_xs_release_domain(struct pvio_xs *xs, uint16_t domid)
{
	char id[8];

	snprintf(id, sizeof(id), "%u", domid);
	return talk1(xs, PVIO_XS_RELEASE, PVIO_XS_NO_TX, id);
}

PVIO_EXPORT int pvio_xs_is_domain_introduced(struct pvio_xs *xs, uint16_t domid)
{
	char id[8], r[4];
	int ret;

	snprintf(id, sizeof(id), "%u", domid);
	ret = pvio_xs_request(xs, PVIO_XS_IS_DOMAIN_INTRODUCED, PVIO_XS_NO_TX, id,
			      strlen(id) + 1, r, sizeof(r), NULL);
	if (ret)
		return ret;
	return r[0] == 'T';
}
