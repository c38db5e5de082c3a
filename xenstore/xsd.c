/* SPDX-License-Identifier: MIT */
/*
 * The store daemon: server object, connections and their non-blocking I/O,
 * domains, the public API (xenstore/xsd.h).
 *
 * Every connection has an input buffer (up to a few whole messages) and an
 * output queue. A reply is written straight to the socket when nothing is
 * queued; what the socket does not take is queued and flushed on EPOLLOUT.
 * While more than PVIO_XSD_OUTPUT_MAX bytes of replies are queued we stop
 * reading that connection's requests, so a client that doesn't read can
 * only cost its own bounded buffers. Watch events are bounded separately by
 * the pending-event quota.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "xenstore/xsd_internal.h"

#define LOG_BURST 20u   /* guest-triggered messages per second */

/* Buckets of the node table to start with (it grows). The fuzzing build
 * (tests/fuzz/) makes and frees a store per input: there it starts small,
 * which is cheaper and makes the inputs grow it. */
#ifdef PVIO_FUZZ
#define XSD_NODES_INIT 16u
#else
#define XSD_NODES_INIT 1024u
#endif

void xsd_log(struct pvio_xsd *xsd, bool guest, const char *fmt, ...)
{
	va_list ap;

	if (guest) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		if ((uint64_t)ts.tv_sec != xsd->log_window) {
			if (xsd->log_count > LOG_BURST)
				fprintf(stderr, "xenstore: %u messages suppressed\n",
					xsd->log_count - LOG_BURST);
			xsd->log_window = (uint64_t)ts.tv_sec;
			xsd->log_count = 0;
		}
		if (++xsd->log_count > LOG_BURST)
			return;
	}
	va_start(ap, fmt);
	fputs("xenstore: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* ---------------------------------------------------------------- domains */

struct xsd_domain *xsd_domain_get(struct pvio_xsd *xsd, uint16_t domid, bool create)
{
	struct xsd_domain **pp = &xsd->doms[domid % XSD_DOM_BUCKETS], *d;

	for (d = *pp; d; d = d->next)
		if (d->domid == domid)
			return d;
	if (!create || !(d = calloc(1, sizeof(*d))))
		return NULL;
	d->domid = domid;
	d->introduced = domid == 0;
	d->next = *pp;
	*pp = d;
	return d;
}

void xsd_acct_nodes(struct pvio_xsd *xsd, uint16_t domid, int delta)
{
	struct xsd_domain *d = xsd_domain_get(xsd, domid, true);

	if (!d)
		return;
	if (delta < 0 && d->nodes < (unsigned)-delta)
		d->nodes = 0;
	else
		d->nodes += delta;
}

/* ------------------------------------------------------------ connections */

static struct xsd_conn *conn_lookup(struct pvio_xsd *xsd, uint64_t id)
{
	struct xsd_conn *c = xsd->ids[id % XSD_ID_BUCKETS];

	while (c && c->id != id)
		c = c->hnext;
	return c;
}

static bool conn_blocked(const struct xsd_conn *c)
{
	return c->out_bytes > PVIO_XSD_OUTPUT_MAX;
}

static void conn_ep_update(struct pvio_xsd *xsd, struct xsd_conn *c)
{
	uint32_t want = 0;
	struct epoll_event ev;

	if (c->dead || c->fd < 0)
		return;
	if (!conn_blocked(c))
		want |= EPOLLIN;
	if (c->out_head)
		want |= EPOLLOUT;
	if (want == c->ep_events)
		return;
	ev.events = want;
	ev.data.u64 = c->id;
	if (epoll_ctl(xsd->epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->ep_events = want;
}

static struct xsd_conn *conn_new(struct pvio_xsd *xsd, int fd, uint16_t domid,
				 enum xsd_conn_kind kind)
{
	struct xsd_conn *c = calloc(1, sizeof(*c));
	struct epoll_event ev;

	if (!c)
		return NULL;
	c->kind = kind;
	c->fd = fd;
	c->domid = domid;
	c->next_tx_id = 1;
	c->dom = xsd_domain_get(xsd, domid, true);
	if (!c->dom)
		goto err;
	c->homelen = (uint32_t)snprintf(c->home, sizeof(c->home), "/local/domain/%u", domid);
	if (kind == XSD_CONN && !(c->in = malloc(XSD_INBUF)))
		goto err;
	c->id = ++xsd->next_id;
	ev.events = c->ep_events = EPOLLIN;
	ev.data.u64 = c->id;
	if (fd >= 0 && epoll_ctl(xsd->epfd, EPOLL_CTL_ADD, fd, &ev))
		goto err;
	c->hnext = xsd->ids[c->id % XSD_ID_BUCKETS];
	xsd->ids[c->id % XSD_ID_BUCKETS] = c;
	if (kind == XSD_CONN) {
		c->next = xsd->conns;
		if (xsd->conns)
			xsd->conns->prev = c;
		xsd->conns = c;
		c->dom->conns++;
		xsd->st.conns++;
		xsd->st.conns_accepted++;
		if (xsd->opts.verbose >= 1)
			xsd_log(xsd, false, "dom%u: connected (fd %d)", domid, fd);
	}
	return c;
err:
	free(c->in);
	free(c);
	return NULL;
}

static void conn_free_out(struct xsd_conn *c)
{
	while (c->out_head) {
		struct xsd_msg *m = c->out_head;
		c->out_head = m->next;
		free(m);
	}
	c->out_tail = NULL;
	c->out_bytes = c->out_events = c->out_off = 0;
}

void xsd_conn_kill(struct pvio_xsd *xsd, struct xsd_conn *c, bool violation)
{
	struct xsd_conn **pp;

	if (c->dead)
		return;
	c->dead = true;
	if (c->fd >= 0) {
		epoll_ctl(xsd->epfd, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
		c->fd = -1;
	}
	for (pp = &xsd->ids[c->id % XSD_ID_BUCKETS]; *pp != c; pp = &(*pp)->hnext)
		;
	*pp = c->hnext;
	if (c->kind == XSD_CONN) {
		if (xsd->opts.verbose >= 1 || violation)
			xsd_log(xsd, violation && c->domid != 0, "dom%u: connection closed%s",
				c->domid, violation ? " (protocol violation)" : "");
		xsd_conn_drop_watches(xsd, c);
		xsd_conn_drop_txs(xsd, c);
		conn_free_out(c);
		if (c->prev)
			c->prev->next = c->next;
		else
			xsd->conns = c->next;
		if (c->next)
			c->next->prev = c->prev;
		c->dom->conns--;
		xsd->st.conns--;
		xsd->st.conns_closed++;
		if (violation)
			xsd->st.conns_killed++;
	}
	/* Freed at the end of the current call: callers up the stack may still
	 * hold c (they check c->dead). */
	c->next = xsd->zombies;
	xsd->zombies = c;
}

static void reap(struct pvio_xsd *xsd)
{
	while (xsd->zombies) {
		struct xsd_conn *c = xsd->zombies;
		xsd->zombies = c->next;
		if (c->sock_path) {
			unlink(c->sock_path);
			free(c->sock_path);
		}
		free(c->in);
		free(c);
	}
}

#ifdef PVIO_FUZZ
ssize_t (*xsd_fuzz_write)(uint64_t conn, const struct iovec *iov, int cnt);
#endif

static ssize_t sock_write(const struct xsd_conn *c, const struct iovec *iov, int cnt)
{
	struct msghdr mh = { .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)cnt };
	ssize_t n;

#ifdef PVIO_FUZZ
	if (c->fd < 0 && xsd_fuzz_write)
		return xsd_fuzz_write(c->id, iov, cnt);
#endif
	do {
		n = sendmsg(c->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == ENOTSOCK)
			n = writev(c->fd, iov, cnt);
	} while (n < 0 && errno == EINTR);
	return n;
}

static void conn_process(struct pvio_xsd *xsd, struct xsd_conn *c);

static void conn_flush(struct pvio_xsd *xsd, struct xsd_conn *c)
{
	while (c->out_head && !c->dead) {
		struct iovec iov[64];
		struct xsd_msg *m = c->out_head;
		int cnt = 0;
		ssize_t n;

		for (; m && cnt < 64; m = m->next, cnt++) {
			uint32_t skip = cnt ? 0 : c->out_off;
			iov[cnt].iov_base = m->data + skip;
			iov[cnt].iov_len = m->len - skip;
		}
		n = sock_write(c, iov, cnt);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			xsd_conn_kill(xsd, c, false);
			return;
		}
		while (n > 0) {
			m = c->out_head;
			if ((size_t)n < m->len - c->out_off) {
				c->out_off += (uint32_t)n;
				break;
			}
			n -= m->len - c->out_off;
			c->out_off = 0;
			c->out_head = m->next;
			if (!c->out_head)
				c->out_tail = NULL;
			if (m->is_event)
				c->out_events--;
			else
				c->out_bytes -= m->len;
			free(m);
		}
		if (c->out_head)
			break;          /* the socket is full */
	}
	if (!c->dead && !conn_blocked(c) && c->in_len >= XSD_HDR)
		conn_process(xsd, c);   /* requests held back while we were blocked */
	conn_ep_update(xsd, c);
}

void xsd_conn_send(struct pvio_xsd *xsd, struct xsd_conn *c, uint32_t type,
		   uint32_t req_id, uint32_t tx_id, const void *p1, uint32_t l1,
		   const void *p2, uint32_t l2)
{
	struct pvio_xsd_sockmsg h;
	bool is_event = type == PVIO_XS_WATCH_EVENT;
	uint32_t len = l1 + l2, total;
	struct xsd_msg *m;
	ssize_t n = 0;

	if (c->dead || c->kind != XSD_CONN)
		return;
	if (len > PVIO_XENSTORE_PAYLOAD_MAX) {
		if (is_event)
			return;         /* as xenstored: never send over-long events */
		p1 = "E2BIG";
		l1 = 6;
		p2 = NULL;
		len = l1;
		l2 = 0;
		type = PVIO_XS_ERROR;
	}
	if (is_event) {
		unsigned limit = xsd_quota_applies(xsd, c->domid) ? xsd->opts.quota_watch_events
								  : PVIO_XSD_DOM0_WATCH_EVENTS_MAX;
		if (c->out_events >= limit) {
			xsd->st.events_dropped++;
			xsd_log(xsd, c->domid != 0, "dom%u: watch event dropped (%u pending)",
				c->domid, c->out_events);
			return;
		}
		/* An identical event already pending says it all (xenstored). */
		for (m = c->out_head; m; m = m->next)
			if (m->is_event && m->len == XSD_HDR + len &&
			    (!l1 || !memcmp(m->data + XSD_HDR, p1, l1)) &&
			    (!l2 || !memcmp(m->data + XSD_HDR + l1, p2, l2)))
				return;
		xsd->st.events_sent++;
	}
	h.type = htole32(type);
	h.req_id = htole32(req_id);
	h.tx_id = htole32(tx_id);
	h.len = htole32(len);
	total = XSD_HDR + len;
	memcpy(xsd->out, &h, XSD_HDR);
	if (l1)
		memcpy(xsd->out + XSD_HDR, p1, l1);
	if (l2)
		memcpy(xsd->out + XSD_HDR + l1, p2, l2);

	if (!c->out_head) {
		struct iovec iov = { xsd->out, total };
		n = sock_write(c, &iov, 1);
		if (n == (ssize_t)total)
			return;
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				xsd_conn_kill(xsd, c, false);
				return;
			}
			n = 0;
		}
	}
	m = malloc(sizeof(*m) + total);
	if (!m) {
		xsd_log(xsd, false, "dom%u: out of memory queueing a reply", c->domid);
		xsd_conn_kill(xsd, c, false);
		return;
	}
	m->next = NULL;
	m->len = total;
	m->is_event = is_event;
	memcpy(m->data, xsd->out, total);
	if (c->out_tail) {
		c->out_tail->next = m;
	} else {
		c->out_head = m;
		c->out_off = (uint32_t)n;
	}
	c->out_tail = m;
	if (is_event)
		c->out_events++;
	else
		c->out_bytes += total;
	conn_ep_update(xsd, c);
}

/* Handle every complete message in the input buffer (unless blocked). */
static void conn_process(struct pvio_xsd *xsd, struct xsd_conn *c)
{
	uint32_t off = 0;

	while (!c->dead && !conn_blocked(c) && c->in_len - off >= XSD_HDR) {
		struct pvio_xsd_sockmsg h;
		memcpy(&h, c->in + off, XSD_HDR);
		h.type = le32toh(h.type);
		h.req_id = le32toh(h.req_id);
		h.tx_id = le32toh(h.tx_id);
		h.len = le32toh(h.len);
		if (h.len > PVIO_XENSTORE_PAYLOAD_MAX) {
			/* xenstored kills such a connection at once */
			xsd_log(xsd, c->domid != 0, "dom%u: payload of %u bytes", c->domid, h.len);
			xsd_conn_kill(xsd, c, true);
			return;
		}
		if (c->in_len - off < XSD_HDR + h.len)
			break;
		memcpy(xsd->reqbuf, c->in + off + XSD_HDR, h.len);
		xsd->reqbuf[h.len] = '\0';
		off += XSD_HDR + h.len;
		xsd_handle_msg(xsd, c, &h, xsd->reqbuf);
	}
	if (c->dead)
		return;
	if (off) {
		memmove(c->in, c->in + off, c->in_len - off);
		c->in_len -= off;
	}
	conn_ep_update(xsd, c);
}

/* n bytes arrived at c->in + c->in_len (0: the peer closed). */
static void conn_input(struct pvio_xsd *xsd, struct xsd_conn *c, size_t n)
{
	if (n == 0) {
		/* Peer is gone: requests it sent before closing are still answered
		 * as far as the socket takes the replies, then we close. */
		conn_process(xsd, c);
		xsd_conn_kill(xsd, c, false);
		return;
	}
	c->in_len += (uint32_t)n;
	conn_process(xsd, c);
}

static void conn_read(struct pvio_xsd *xsd, struct xsd_conn *c)
{
	ssize_t n;

	if (c->in_len == XSD_INBUF) {
		/* Only when blocked: whole messages are waiting. */
		conn_process(xsd, c);
		return;
	}
	do {
		n = read(c->fd, c->in + c->in_len, XSD_INBUF - c->in_len);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			xsd_conn_kill(xsd, c, false);
		return;
	}
	conn_input(xsd, c, (size_t)n);
}

static void do_accept(struct pvio_xsd *xsd, struct xsd_conn *l)
{
	for (;;) {
		int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				xsd_log(xsd, false, "accept on %s: %s", l->sock_path, strerror(errno));
			return;
		}
		if (!conn_new(xsd, fd, l->domid, XSD_CONN)) {
			xsd_log(xsd, false, "no memory for a new connection");
			close(fd);
		}
	}
}

/* -------------------------------------------------------------- domains */

int xsd_do_release(struct pvio_xsd *xsd, uint16_t domid, bool need_introduced)
{
	struct xsd_domain *d = xsd_domain_get(xsd, domid, false);
	struct xsd_conn *c, *next;
	bool was;

	if (domid == 0)
		return EINVAL;
	if (!d || (!d->introduced && (need_introduced || !d->conns)))
		return ENOENT;
	was = d->introduced;
	d->introduced = false;
	d->has_target = false;

	for (c = xsd->conns; c; c = next) {
		next = c->next;
		if (c->domid == domid)
			xsd_conn_kill(xsd, c, false);
	}

	/* Orphaned nodes go to dom0; the domain leaves every ACL, so that a
	 * later domain with the same id inherits nothing (current xenstored). */
	for (uint32_t i = 0; i <= xsd->nodes.mask; i++) {
		for (struct xsd_node *n = xsd->nodes.b[i]; n; n = n->hnext) {
			bool changed = false;
			if (n->perms[0].id == domid) {
				n->perms[0].id = 0;
				xsd_acct_nodes(xsd, domid, -1);
				xsd_acct_nodes(xsd, 0, +1);
				changed = true;
			}
			for (unsigned j = 1; j < n->nperms; j++) {
				if (n->perms[j].id != domid)
					continue;
				memmove(n->perms + j, n->perms + j + 1,
					(n->nperms - j - 1) * sizeof(*n->perms));
				n->nperms--;
				j--;
				changed = true;
			}
			if (changed)
				n->gen = ++xsd->gen;
		}
	}
	for (unsigned b = 0; b < XSD_DOM_BUCKETS; b++)
		for (struct xsd_domain *o = xsd->doms[b]; o; o = o->next)
			if (o->has_target && o->target == domid)
				o->has_target = false;
	if (was)
		xsd_fire_special(xsd, "@releaseDomain");
	return 0;
}

/* ------------------------------------------------------------ public API */

void pvio_xsd_opts_default(struct pvio_xsd_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->quota_nodes = 1000;
	o->quota_watches = 128;
	o->quota_watch_events = 1024;
	o->quota_transactions = 10;
	o->quota_node_size = PVIO_XENSTORE_PAYLOAD_MAX;
	o->quota_path_len = PVIO_XENSTORE_REL_PATH_MAX;
	o->quota_perms = 5;
}

static int add_initial_node(struct pvio_xsd *xsd, const char *name, const char *child)
{
	static const struct xsd_perm p0 = { 0, XS_P_NONE };
	struct xsd_node *n = xsd_node_new(name, strlen(name));

	if (!n)
		return -ENOMEM;
	if (xsd_node_set_perms(n, &p0, 1) || (child && xsd_node_add_child(n, child, strlen(child)))) {
		xsd_node_free(n);
		return -ENOMEM;
	}
	n->exists = true;
	n->gen = ++xsd->gen;
	xsd_htab_add(&xsd->nodes, n);
	xsd_acct_nodes(xsd, 0, +1);
	return 0;
}

PVIO_EXPORT int pvio_xsd_create(const struct pvio_xsd_opts *opts, struct pvio_xsd **out)
{
	struct pvio_xsd_opts def;
	struct pvio_xsd *xsd;
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 0 };
	int ret;

	xsd = calloc(1, sizeof(*xsd));
	if (!xsd)
		return -ENOMEM;
	xsd->epfd = xsd->stop_efd = -1;
	pvio_xsd_opts_default(&def);
	xsd->opts = opts ? *opts : def;
#define DEF(f) if (!xsd->opts.f) xsd->opts.f = def.f
	DEF(quota_nodes); DEF(quota_watches); DEF(quota_watch_events);
	DEF(quota_transactions); DEF(quota_node_size); DEF(quota_path_len); DEF(quota_perms);
#undef DEF
	pthread_mutex_init(&xsd->lock, NULL);
	if ((ret = xsd_htab_init(&xsd->nodes, XSD_NODES_INIT)))
		goto err;
	xsd->epfd = epoll_create1(EPOLL_CLOEXEC);
	xsd->stop_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (xsd->epfd < 0 || xsd->stop_efd < 0 ||
	    epoll_ctl(xsd->epfd, EPOLL_CTL_ADD, xsd->stop_efd, &ev)) {
		ret = -errno;
		goto err;
	}
	if (!xsd_domain_get(xsd, 0, true) ||
	    add_initial_node(xsd, "/", "tool") || add_initial_node(xsd, "/tool", "xenstored") ||
	    add_initial_node(xsd, "/tool/xenstored", NULL) ||
	    add_initial_node(xsd, "@introduceDomain", NULL) ||
	    add_initial_node(xsd, "@releaseDomain", NULL)) {
		ret = -ENOMEM;
		goto err;
	}
	*out = xsd;
	return 0;
err:
	pvio_xsd_destroy(xsd);
	return ret;
}

PVIO_EXPORT void pvio_xsd_destroy(struct pvio_xsd *xsd)
{
	if (!xsd)
		return;
	pthread_mutex_lock(&xsd->lock);
	for (unsigned b = 0; b < XSD_ID_BUCKETS; b++)
		while (xsd->ids[b])
			xsd_conn_kill(xsd, xsd->ids[b], false);
	reap(xsd);
	for (unsigned b = 0; b < XSD_DOM_BUCKETS; b++) {
		while (xsd->doms[b]) {
			struct xsd_domain *d = xsd->doms[b];
			xsd->doms[b] = d->next;
			free(d);
		}
	}
	xsd_htab_fini(&xsd->nodes);
	if (xsd->epfd >= 0)
		close(xsd->epfd);
	if (xsd->stop_efd >= 0)
		close(xsd->stop_efd);
	free(xsd->req_scratch);
	pthread_mutex_unlock(&xsd->lock);
	pthread_mutex_destroy(&xsd->lock);
	free(xsd);
}

PVIO_EXPORT int pvio_xsd_listen_domain(struct pvio_xsd *xsd, const char *path, uint16_t domid)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct xsd_conn *l;
	struct stat stb;
	int fd, ret;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* The mode the socket file is created with (Linux takes it from the
	 * socket's inode), so it is never reachable by others, not even
	 * between bind() and chmod(). */
	(void)fchmod(fd, 0600);
	if (lstat(path, &stb) == 0) {
		int probe;
		if (!S_ISSOCK(stb.st_mode)) {
			ret = -EEXIST;
			goto err;
		}
		/* Someone still serving there? Then it is not ours to take. */
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(probe);
			ret = -EADDRINUSE;
			goto err;
		}
		if (probe >= 0)
			close(probe);
		unlink(path);
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || chmod(path, 0600) || listen(fd, 128)) {
		ret = -errno;
		unlink(path);
		goto err;
	}
	pthread_mutex_lock(&xsd->lock);
	l = conn_new(xsd, fd, domid, XSD_LISTENER);
	if (l && !(l->sock_path = strdup(path))) {
		xsd_conn_kill(xsd, l, false);
		reap(xsd);
		l = NULL;
		fd = -1;
	}
	pthread_mutex_unlock(&xsd->lock);
	if (!l) {
		unlink(path);
		if (fd >= 0)
			close(fd);
		return -ENOMEM;
	}
	return 0;
err:
	close(fd);
	return ret;
}

PVIO_EXPORT int pvio_xsd_listen(struct pvio_xsd *xsd, const char *path)
{
	return pvio_xsd_listen_domain(xsd, path, 0);
}

PVIO_EXPORT int pvio_xsd_add_conn(struct pvio_xsd *xsd, int fd, uint16_t domid)
{
	int fl = fcntl(fd, F_GETFL);
	struct xsd_conn *c;

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) || fcntl(fd, F_SETFD, FD_CLOEXEC)) {
		int ret = -errno;
		close(fd);
		return ret;
	}
	pthread_mutex_lock(&xsd->lock);
	c = conn_new(xsd, fd, domid, XSD_CONN);
	pthread_mutex_unlock(&xsd->lock);
	if (!c) {
		close(fd);
		return -ENOMEM;
	}
	return 0;
}

PVIO_EXPORT int pvio_xsd_socketpair(struct pvio_xsd *xsd, uint16_t domid, int *fd)
{
	int sv[2], ret;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return -errno;
	ret = pvio_xsd_add_conn(xsd, sv[0], domid);
	if (ret) {
		close(sv[1]);
		return ret;
	}
	*fd = sv[1];
	return 0;
}

PVIO_EXPORT int pvio_xsd_fd(struct pvio_xsd *xsd)
{
	return xsd->epfd;
}

PVIO_EXPORT int pvio_xsd_dispatch(struct pvio_xsd *xsd, int timeout_ms)
{
	struct epoll_event ev[64];
	int n = epoll_wait(xsd->epfd, ev, 64, timeout_ms);

	if (n < 0)
		return -errno;
	pthread_mutex_lock(&xsd->lock);
	for (int i = 0; i < n; i++) {
		struct xsd_conn *c;
		if (ev[i].data.u64 == 0) {
			uint64_t v;
			if (read(xsd->stop_efd, &v, sizeof(v)) == sizeof(v))
				xsd->stopping = true;
			continue;
		}
		c = conn_lookup(xsd, ev[i].data.u64);
		if (!c)
			continue;       /* closed meanwhile */
		if (c->kind == XSD_LISTENER) {
			do_accept(xsd, c);
			continue;
		}
		if (ev[i].events & EPOLLOUT)
			conn_flush(xsd, c);
		if (c->dead)
			continue;
		if (ev[i].events & EPOLLIN)
			conn_read(xsd, c);
		else if (ev[i].events & (EPOLLHUP | EPOLLERR))
			xsd_conn_kill(xsd, c, false);
	}
	reap(xsd);
	pthread_mutex_unlock(&xsd->lock);
	return n;
}

PVIO_EXPORT int pvio_xsd_run(struct pvio_xsd *xsd)
{
	int ret = 0;

	while (!__atomic_load_n(&xsd->stopping, __ATOMIC_RELAXED)) {
		ret = pvio_xsd_dispatch(xsd, -1);
		if (ret < 0 && ret != -EINTR)
			break;
		ret = 0;
	}
	pthread_mutex_lock(&xsd->lock);
	xsd->stopping = false;
	pthread_mutex_unlock(&xsd->lock);
	return ret;
}

PVIO_EXPORT void pvio_xsd_stop(struct pvio_xsd *xsd)
{
	uint64_t one = 1;

	if (write(xsd->stop_efd, &one, sizeof(one)) < 0) {
		/* the counter is non-zero already: a stop is pending */
	}
}

PVIO_EXPORT int pvio_xsd_introduce(struct pvio_xsd *xsd, uint16_t domid)
{
	int ret;

	if (domid == 0)
		return -EINVAL;
	pthread_mutex_lock(&xsd->lock);
	ret = -xsd_do_introduce(xsd, domid);
	reap(xsd);
	pthread_mutex_unlock(&xsd->lock);
	return ret;
}

PVIO_EXPORT int pvio_xsd_release_domain(struct pvio_xsd *xsd, uint16_t domid)
{
	int ret;

	pthread_mutex_lock(&xsd->lock);
	ret = -xsd_do_release(xsd, domid, false);
	reap(xsd);
	pthread_mutex_unlock(&xsd->lock);
	return ret;
}

PVIO_EXPORT void pvio_xsd_get_stats(struct pvio_xsd *xsd, struct pvio_xsd_stats *st)
{
	pthread_mutex_lock(&xsd->lock);
	*st = xsd->st;
	st->nodes = xsd->nodes.n;
	pthread_mutex_unlock(&xsd->lock);
}

PVIO_EXPORT int pvio_xsd_domain_info(struct pvio_xsd *xsd, uint16_t domid,
				     struct pvio_xsd_domain_info *info)
{
	struct xsd_domain *d;
	int ret = -ENOENT;

	pthread_mutex_lock(&xsd->lock);
	d = xsd_domain_get(xsd, domid, false);
	if (d) {
		info->introduced = d->introduced;
		info->conns = d->conns;
		info->nodes = d->nodes;
		info->watches = d->watches;
		info->transactions = d->txs;
		ret = 0;
	}
	pthread_mutex_unlock(&xsd->lock);
	return ret;
}

#ifdef PVIO_FUZZ
/* ------------------------------------------- fuzzing seam (xsd_internal.h) */

uint64_t xsd_fuzz_conn_new(struct pvio_xsd *xsd, uint16_t domid)
{
	struct xsd_conn *c;

	pthread_mutex_lock(&xsd->lock);
	c = conn_new(xsd, -1, domid, XSD_CONN);
	pthread_mutex_unlock(&xsd->lock);
	return c ? c->id : 0;
}

long xsd_fuzz_conn_input(struct pvio_xsd *xsd, uint64_t conn, const void *buf, size_t len)
{
	struct xsd_conn *c;
	long taken = -ENOENT;

	pthread_mutex_lock(&xsd->lock);
	c = conn_lookup(xsd, conn);
	if (c && c->kind == XSD_CONN) {
		/* What conn_read() does with what read() returned. */
		if (len && c->in_len == XSD_INBUF) {
			conn_process(xsd, c);
			taken = 0;
		} else {
			if (len > XSD_INBUF - c->in_len)
				len = XSD_INBUF - c->in_len;
			if (len)
				memcpy(c->in + c->in_len, buf, len);
			conn_input(xsd, c, len);
			taken = (long)len;
		}
	}
	reap(xsd);
	pthread_mutex_unlock(&xsd->lock);
	return taken;
}

int xsd_fuzz_conn_writable(struct pvio_xsd *xsd, uint64_t conn)
{
	struct xsd_conn *c;
	int ret = -ENOENT;

	pthread_mutex_lock(&xsd->lock);
	c = conn_lookup(xsd, conn);
	if (c && c->kind == XSD_CONN) {
		conn_flush(xsd, c);
		ret = 0;
	}
	reap(xsd);
	pthread_mutex_unlock(&xsd->lock);
	return ret;
}
#endif
