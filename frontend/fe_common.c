/* SPDX-License-Identifier: MIT */
/*
 * The parts of a frontend that blkfront and netfront share (see
 * fe_common.h): logging, wake-ups, the store connection and the xenbus
 * steps both handshakes take the same way.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "frontend/fe_common.h"
#include "xenstore/xenbus.h"

#define M(s) PVIO_XENBUS_MASK(PVIO_XENBUS_STATE_##s)

/* ------------------------------------------------------------ logging */

static void vlog(struct fe_dev *fe, const char *fmt, va_list ap)
{
	char buf[512];

	vsnprintf(buf, sizeof(buf), fmt, ap);
#ifdef PVIO_FUZZ
	/* The fuzz build (tests/fuzz/) makes a backend misbehave millions of
	 * times: format every message (its arguments are checked), print none. */
	(void)fe;
#else
	fprintf(stderr, "%s: %s: %s\n", fe->drv, fe->name, buf);
#endif
}

void fe_log(struct fe_dev *fe, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(fe, fmt, ap);
	va_end(ap);
}

void fe_log_peer(struct fe_dev *fe, const char *fmt, ...)
{
	bool print, note;
	va_list ap;

	pthread_mutex_lock(&fe->log_lock);
	print = pvio_ratelimit_allow(&fe->log_rl, 10, &note);
	pthread_mutex_unlock(&fe->log_lock);
	if (note)
		fe_log(fe, "(further messages were suppressed)");
	if (!print)
		return;
	va_start(ap, fmt);
	vlog(fe, fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------ wake-ups */

void fe_efd_write(int fd)
{
	uint64_t one = 1;

	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is saturated, the reader wakes anyway */
	}
}

void fe_efd_drain(int fd)
{
	uint64_t v;

	if (fd >= 0 && read(fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing to drain */
	}
}

void fe_ctl_kick(int *pending, int fd)
{
	__atomic_store_n(pending, 1, __ATOMIC_RELEASE);
	fe_efd_write(fd);
}

void fe_ctl_drain(int *pending, int fd, bool always)
{
	if (__atomic_exchange_n(pending, 0, __ATOMIC_ACQ_REL) || always)
		fe_efd_drain(fd);
}

void fe_disable(struct fe_dev *fe, const char *why)
{
	if (__atomic_exchange_n(&fe->dead, 1, __ATOMIC_ACQ_REL) == 0)
		fe_log(fe, "disabling the device: %s", why);
	fe_kick(fe);
}

int fe_queue_fds_init(int *epfd, int *ctl_fd, uint32_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = tag };

	*epfd = epoll_create1(EPOLL_CLOEXEC);
	*ctl_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (*epfd < 0 || *ctl_fd < 0 || epoll_ctl(*epfd, EPOLL_CTL_ADD, *ctl_fd, &ev) < 0) {
		int e = -errno;

		fe_queue_fds_fini(epfd, ctl_fd);
		return e;
	}
	return 0;
}

void fe_queue_fds_fini(int *epfd, int *ctl_fd)
{
	if (*epfd >= 0)
		close(*epfd);
	if (*ctl_fd >= 0)
		close(*ctl_fd);
	*epfd = *ctl_fd = -1;
}

long long fe_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------ lifetime */

int fe_init(struct fe_dev *fe, const char *drv)
{
	fe->drv = drv;
	fe->watch_fd = -1;
	fe->fe_state = -1;
	fe->kick_fd = fe->stop_fd = -1;
	pthread_mutex_init(&fe->log_lock, NULL);
	fe->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	fe->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fe->kick_fd < 0 || fe->stop_fd < 0)
		return -errno;
	return 0;
}

void fe_fini(struct fe_dev *fe)
{
	if (fe->xs) {
		/* Unwatch explicitly before the connection goes: no event is
		 * sent to a closing connection. */
		if (fe->watching)
			pvio_xs_unwatch(fe->xs, fe->state_path, fe->token);
		if (fe->watching_own)
			pvio_xs_unwatch(fe->xs, fe->own_path, fe->token);
		pvio_xs_close(fe->xs);
	}
	if (fe->kick_fd >= 0)
		close(fe->kick_fd);
	if (fe->stop_fd >= 0)
		close(fe->stop_fd);
	pthread_mutex_destroy(&fe->log_lock);
}

int fe_attach(struct fe_dev *fe, struct pvio_hv *hv, uint16_t domid, const char *type,
	      uint32_t devid, uint16_t *be_domid)
{
	char dom[128], path[400];
	unsigned long long beid;
	size_t len;
	int fd, r;

	/* The store, as this domain. */
	r = pvio_hv_xs_connect(hv, &fd);
	if (r < 0)
		return r;
	r = pvio_xs_open_fd(fd, &fe->xs);
	if (r < 0)
		return r;
	if (pvio_xs_get_domain_path(fe->xs, domid, dom, sizeof(dom)) < 0)
		snprintf(dom, sizeof(dom), "/local/domain/%u", domid);
	snprintf(fe->fe_path, sizeof(fe->fe_path), "%s/device/%s/%u", dom, type, devid);

	snprintf(path, sizeof(path), "%s/backend", fe->fe_path);
	r = pvio_xs_read_buf(fe->xs, PVIO_XS_NO_TX, path, fe->be_path, sizeof(fe->be_path), &len);
	if (r < 0) {
		if (r == -ENOENT)
			fe_log(fe, "no device %s (or no backend key)", fe->fe_path);
		return r;
	}
	if (fe->be_path[0] != '/' || len < 2) {
		fe_log(fe, "bad backend path \"%s\"", fe->be_path);
		return -EPROTO;
	}
	r = pvio_xenbus_read_uint(fe->xs, PVIO_XS_NO_TX, fe->fe_path, "backend-id", &beid);
	if (r < 0 || beid > PVIO_DOMID_MAX_GUEST) {
		fe_log(fe, "bad or missing backend-id");
		return r < 0 ? r : -EPROTO;
	}
	*be_domid = (uint16_t)beid;
	return 0;
}

int fe_watch_backend(struct fe_dev *fe, uint32_t devid)
{
	enum pvio_xenbus_state st;
	int r;

	fe->watch_fd = pvio_xs_watch_fd(fe->xs);
	if (fe->watch_fd < 0)
		return fe->watch_fd;
	snprintf(fe->state_path, sizeof(fe->state_path), "%s/state", fe->be_path);
	snprintf(fe->token, sizeof(fe->token), "pvio-%s/%u/%p", fe->drv, devid, (void *)fe);
	r = pvio_xs_watch(fe->xs, fe->state_path, fe->token);
	if (r < 0)
		return r;
	fe->watching = true;
	/* A device that may be unplugged also watches its own backend link:
	 * the toolstack removes the backend's directory, then ours, and the
	 * backend's state alone would have fired before ours went (a look in
	 * between still finds us present, then nothing wakes us again). */
	if (fe->unpluggable) {
		snprintf(fe->own_path, sizeof(fe->own_path), "%s/backend", fe->fe_path);
		r = pvio_xs_watch(fe->xs, fe->own_path, fe->token);
		if (r < 0)
			return r;
		fe->watching_own = true;
	}
	if (pvio_xenbus_read_state(fe->xs, PVIO_XS_NO_TX, fe->fe_path, &st) == 0)
		fe->fe_state = st;
	return 0;
}

void fe_stop_thread(struct fe_dev *fe)
{
	uint64_t one = 1;

	__atomic_store_n(&fe->stop, 1, __ATOMIC_RELEASE);
	if (write(fe->stop_fd, &one, sizeof(one)) < 0) {
		/* cannot fail on our eventfd */
	}
	if (fe->thr_running) {
		pthread_join(fe->thr, NULL);
		fe->thr_running = false;
	}
}

/* ------------------------------------------------------------ store */

enum pvio_xenbus_state fe_be_state(struct fe_dev *fe)
{
	enum pvio_xenbus_state st;
	int r = pvio_xenbus_read_state(fe->xs, PVIO_XS_NO_TX, fe->be_path, &st);

	if (r == -EPROTO)
		fe_log_peer(fe, "backend state is not a xenbus state");
	return r < 0 ? PVIO_XENBUS_STATE_UNKNOWN : st;
}

bool fe_be_state_known(struct fe_dev *fe, enum pvio_xenbus_state *st)
{
	int r = pvio_xenbus_read_state(fe->xs, PVIO_XS_NO_TX, fe->be_path, st);

	if (r == 0)
		return true;
	/* The node went with its unreadable parent: the device is being
	 * unplugged, which the reconnection path finds out. */
	if (r == -EACCES && fe->unpluggable) {
		*st = PVIO_XENBUS_STATE_UNKNOWN;
		return true;
	}
	__atomic_add_fetch(&fe->be_state_unreadable, 1, __ATOMIC_RELAXED);
	fe_log_peer(fe, "backend state unreadable (%s): ignored, the rings stay up",
		    r == -EPROTO ? "not a xenbus state" : strerror(-r));
	return false;
}

unsigned long long fe_be_uint(struct fe_dev *fe, const char *key, unsigned long long def,
			      bool *present)
{
	unsigned long long v;
	int r = pvio_xenbus_read_uint(fe->xs, PVIO_XS_NO_TX, fe->be_path, key, &v);

	if (present)
		*present = r == 0;
	if (r == 0)
		return v;
	/* -EACCES: the node went with its unreadable parent (unplug). */
	if (r != -ENOENT && !(fe->unpluggable && r == -EACCES))
		fe_log_peer(fe, "backend key %s: %s", key, strerror(-r));
	return def;
}

/* Drain the watch events (any event: the caller re-reads the state). A
 * failed connection is noted once: the store (pviod) is gone, and with it
 * every state change and unplug we could see; the rings are shared memory
 * and eventfds between us and the backend, and stay up (as Linux's
 * frontends keep going when xenstored dies). */
static bool drain_events(struct fe_dev *fe)
{
	int r;

	while ((r = pvio_xs_read_watch(fe->xs, NULL, &fe->ev, 0)) == 0)
		;
	if (r == -EAGAIN || r == -EINTR)
		return true;
	if (!__atomic_exchange_n(&fe->store_lost, 1, __ATOMIC_ACQ_REL))
		fe_log(fe, "the store connection failed (%s): the rings stay up, but no "
		       "reconnection or unplug can be seen any more", strerror(-r));
	return false;
}

bool fe_store_lost(struct fe_dev *fe)
{
	return __atomic_load_n(&fe->store_lost, __ATOMIC_ACQUIRE);
}

int fe_wait_change(struct fe_dev *fe, long long deadline, bool cancellable)
{
	struct pollfd pf[2] = {
		{ .fd = fe->watch_fd, .events = POLLIN },
		{ .fd = fe->stop_fd, .events = POLLIN },
	};
	long long left = deadline - fe_now_ms();

	if (cancellable && __atomic_load_n(&fe->stop, __ATOMIC_ACQUIRE))
		return -ECANCELED;
	if (fe_store_lost(fe))
		return -ENOTCONN;
	if (left <= 0)
		return -ETIMEDOUT;
	if (poll(pf, cancellable ? 2 : 1, left > 60000 ? 60000 : (int)left) < 0 && errno != EINTR)
		return -errno;
	if (cancellable && __atomic_load_n(&fe->stop, __ATOMIC_ACQUIRE))
		return -ECANCELED;
	return drain_events(fe) ? 0 : -ENOTCONN;
}

int fe_wait_be(struct fe_dev *fe, unsigned mask, long long deadline, bool cancellable,
	       enum pvio_xenbus_state *st)
{
	for (;;) {
		int r;

		*st = fe_be_state(fe);
		if (mask & PVIO_XENBUS_MASK(*st))
			return 0;
		r = fe_wait_change(fe, deadline, cancellable);
		if (r < 0)
			return r;
	}
}

bool fe_ctl_sleep(struct fe_dev *fe)
{
	struct pollfd pf[3] = {
		/* A dead store's socket stays readable: not watched then. */
		{ .fd = fe_store_lost(fe) ? -1 : fe->watch_fd, .events = POLLIN },
		{ .fd = fe->kick_fd, .events = POLLIN },
		{ .fd = fe->stop_fd, .events = POLLIN },
	};

	if (poll(pf, 3, -1) < 0 && errno != EINTR)
		return false;
	if (__atomic_load_n(&fe->stop, __ATOMIC_ACQUIRE))
		return false;
	fe_efd_drain(fe->kick_fd);
	if (!fe_store_lost(fe))
		drain_events(fe);
	return true;
}

/* ------------------------------------------------------------ handshake */

enum pvio_xenbus_state fe_answer_state(enum pvio_xenbus_state be)
{
	switch (be) {
	case PVIO_XENBUS_STATE_CLOSED:
		return PVIO_XENBUS_STATE_INITIALISING;   /* please reconnect */
	case PVIO_XENBUS_STATE_INITIALISED:
	case PVIO_XENBUS_STATE_CONNECTED:
	case PVIO_XENBUS_STATE_CLOSING:
	case PVIO_XENBUS_STATE_RECONFIGURING:
	case PVIO_XENBUS_STATE_RECONFIGURED:
		return PVIO_XENBUS_STATE_CLOSED;         /* let go of the old one */
	default:
		return PVIO_XENBUS_STATE_INITIALISING;   /* no backend yet */
	}
}

unsigned fe_nr_queues(const struct fe_dev *fe, unsigned long long mq, unsigned want,
		      unsigned max)
{
	unsigned nq = fe->be_mq && mq > 0 ? (mq < want ? (unsigned)mq : want) : 1;

	if (nq > max)
		nq = max;
	return nq < 1 ? 1 : nq;
}

int fe_check_queues(struct fe_dev *fe, unsigned long long mq, unsigned nq)
{
	if (nq > 1 && (!fe->be_mq || mq < nq)) {
		fe_log(fe, "the backend now offers %llu queue(s); this device uses %u",
		       fe->be_mq ? mq : 1, nq);
		return -EPROTO;
	}
	return 0;
}

int fe_rm_stale_keys(struct pvio_xs *xs, uint32_t tx, const char *dir,
		     bool (*stale)(const char *key))
{
	char **names = NULL, path[400];
	unsigned n = 0;
	int r;

	r = pvio_xs_directory(xs, tx, dir, &names, &n);
	if (r < 0)
		return r;
	for (unsigned i = 0; i < n; i++) {
		if (!stale(names[i]))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		r = pvio_xs_rm(xs, tx, path);
		if (r < 0 && r != -ENOENT)
			break;
		r = 0;
	}
	free(names);
	return r < 0 ? r : 0;
}

int fe_write_uint(struct pvio_xs *xs, uint32_t tx, const char *dir, const char *key,
		  unsigned long long v)
{
	char path[400];

	snprintf(path, sizeof(path), "%s/%s", dir, key);
	return pvio_xs_printf(xs, tx, path, "%llu", v);
}

void fe_queue_dir(struct fe_dev *fe, unsigned nr_queues, unsigned qi, char *dir, size_t size)
{
	if (nr_queues > 1)
		snprintf(dir, size, "%s/queue-%u", fe->fe_path, qi);
	else
		snprintf(dir, size, "%s", fe->fe_path);
}

int fe_wait_connected(struct fe_dev *fe, long long deadline, bool cancellable)
{
	enum pvio_xenbus_state be;
	int r;

	r = fe_wait_be(fe, M(CONNECTED) | M(CLOSING) | M(CLOSED) | M(UNKNOWN) | M(INITIALISING),
		       deadline, cancellable, &be);
	if (r < 0)
		return r;
	if (be != PVIO_XENBUS_STATE_CONNECTED) {
		fe_log(fe, "the backend went to %s during the handshake",
		       pvio_xenbus_state_name(be));
		return -ECONNRESET;
	}
	return 0;
}

void fe_give_up_why(int r, unsigned timeout_ms, char *why, size_t size)
{
	if (r == -ETIMEDOUT || r == -ECONNRESET)
		snprintf(why, size, "no backend came back within %u ms", timeout_ms);
	else
		snprintf(why, size, "reconnection failed: %s", strerror(-r));
}
