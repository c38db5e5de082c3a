/* SPDX-License-Identifier: MIT */
/*
 * blkfront control plane: the xenbus handshake, reconnection and teardown.
 *
 * open()      reads device/vbd/<vdev>/{backend,backend-id}, watches
 *             <backend>/state and walks the handshake (bf_connect) in the
 *             caller's thread, then starts the control thread.
 *
 * bf_connect  1. bring the backend to InitWait. A backend still Connected
 *                (to an earlier incarnation of us), Initialised or Closing
 *                is asked to let go (we write Closed); a Closed backend is
 *                asked for a reconnection (we write Initialising, as Linux
 *                blkfront does; blkback answers InitWait); a restarted
 *                backend announces InitWait by itself.
 *             2. read its features, allocate the rings (queues are down),
 *                write every transport key in ONE transaction (retried on
 *                EAGAIN), switch to Initialised
 *             3. wait for Connected (Closing/Closed/gone meanwhile: start
 *                over), read the device properties, bring the queues up
 *                (which re-issues whatever waited), switch to Connected.
 *
 * Control thread (one per device) sleeps on the store's watch fd, a kick
 * eventfd from the data path and a stop eventfd. Whenever the backend is
 * not Connected any more, or a queue saw the backend's end of its event
 * channel close, it tears every queue down keeping unanswered requests,
 * and calls bf_connect until it succeeds or opts.timeout_ms runs out (then
 * the device is disabled: everything fails with -ENODEV). A queue that saw
 * backend nonsense disables the device itself; the thread then finishes the
 * teardown and tells the backend (Closing).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "frontend/blkfront_internal.h"
#include "ring/pvio_export.h"
#include "ring/xenbus_abi.h"
#include "xenstore/xenbus.h"
#include "xenstore/xs.h"

#define M(s) PVIO_XENBUS_MASK(PVIO_XENBUS_STATE_##s)

static struct bf_ctl *CTL(struct pvio_blkfront *f)
{
	return &f->ctl;
}

long long bf_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

PVIO_EXPORT void pvio_blkfront_opts_default(struct pvio_blkfront_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->max_ring_order = 4;
	o->max_indirect_segs = BF_DEFAULT_INDIRECT;
	o->timeout_ms = BF_DEFAULT_TIMEOUT;
	o->poll_us = 50;
}

/* ------------------------------------------------------------ store helpers */

static int set_fe_state(struct pvio_blkfront *f, enum pvio_xenbus_state st)
{
	int r = pvio_xenbus_switch_state(f->xs, PVIO_XS_NO_TX, f->fe_path, st);

	if (r < 0)
		bf_log(f, "cannot write state %s: %s", pvio_xenbus_state_name(st), strerror(-r));
	else
		CTL(f)->fe_state = st;
	return r;
}

static enum pvio_xenbus_state be_state(struct pvio_blkfront *f)
{
	enum pvio_xenbus_state st;
	int r = pvio_xenbus_read_state(f->xs, PVIO_XS_NO_TX, f->be_path, &st);

	if (r == -EPROTO)
		bf_log_peer(f, "backend state is not a xenbus state");
	return r < 0 ? PVIO_XENBUS_STATE_UNKNOWN : st;
}

/* Backend key as an unsigned number; def if absent. A value that is no
 * number is the backend's mistake: reported, and treated as absent. */
static unsigned long long be_uint(struct pvio_blkfront *f, const char *key,
				  unsigned long long def, bool *present)
{
	unsigned long long v;
	int r = pvio_xenbus_read_uint(f->xs, PVIO_XS_NO_TX, f->be_path, key, &v);

	if (present)
		*present = r == 0;
	if (r == 0)
		return v;
	if (r != -ENOENT)
		bf_log_peer(f, "backend key %s: %s", key, strerror(-r));
	return def;
}

/*
 * Sleep until the store says something (a watch event) or deadline.
 * cancellable: also return -ECANCELED once close() began.
 */
static int wait_change(struct pvio_blkfront *f, long long deadline, bool cancellable)
{
	struct bf_ctl *c = CTL(f);
	struct pollfd pf[2] = {
		{ .fd = c->watch_fd, .events = POLLIN },
		{ .fd = f->stop_fd, .events = POLLIN },
	};
	long long left = deadline - bf_now_ms();

	if (cancellable && __atomic_load_n(&f->stop, __ATOMIC_ACQUIRE))
		return -ECANCELED;
	if (left <= 0)
		return -ETIMEDOUT;
	if (poll(pf, cancellable ? 2 : 1, left > 60000 ? 60000 : (int)left) < 0 && errno != EINTR)
		return -errno;
	if (cancellable && __atomic_load_n(&f->stop, __ATOMIC_ACQUIRE))
		return -ECANCELED;
	while (pvio_xs_read_watch(f->xs, NULL, &c->ev, 0) == 0)
		;   /* any event: the caller re-reads the state */
	return 0;
}

/* Wait for the backend to reach one of mask; -ETIMEDOUT, -ECANCELED. */
static int wait_be(struct pvio_blkfront *f, unsigned mask, long long deadline, bool cancellable,
		   enum pvio_xenbus_state *st)
{
	for (;;) {
		int r;

		*st = be_state(f);
		if (mask & PVIO_XENBUS_MASK(*st))
			return 0;
		r = wait_change(f, deadline, cancellable);
		if (r < 0)
			return r;
	}
}

/* ------------------------------------------------------------ transport keys */

static bool stale_key(const char *k)
{
	return !strncmp(k, "ring-ref", 8) || !strncmp(k, "queue-", 6) ||
	       !strcmp(k, "event-channel") || !strcmp(k, "ring-page-order") ||
	       !strcmp(k, "num-ring-pages") || !strcmp(k, "multi-queue-num-queues");
}

static int wr(struct pvio_xs *xs, uint32_t tx, const char *dir, const char *key,
	      unsigned long long v)
{
	char path[400];

	snprintf(path, sizeof(path), "%s/%s", dir, key);
	return pvio_xs_printf(xs, tx, path, "%llu", v);
}

/* One transaction: the old connection's keys go, the new ones come. */
static int tx_write_keys(struct pvio_xs *xs, uint32_t tx, void *arg)
{
	struct pvio_blkfront *f = arg;
	const struct bf_params *p = &f->p;
	char **names = NULL, path[400], dir[300];
	unsigned n = 0;
	int r;

	r = pvio_xs_directory(xs, tx, f->fe_path, &names, &n);
	if (r < 0)
		return r;
	for (unsigned i = 0; i < n; i++) {
		if (!stale_key(names[i]))
			continue;
		snprintf(path, sizeof(path), "%s/%s", f->fe_path, names[i]);
		r = pvio_xs_rm(xs, tx, path);
		if (r < 0 && r != -ENOENT)
			break;
		r = 0;
	}
	free(names);
	if (r < 0)
		return r;

	for (unsigned qi = 0; qi < p->nr_queues; qi++) {
		const struct bf_queue *q = &f->q[qi];

		if (p->nr_queues > 1)
			snprintf(dir, sizeof(dir), "%s/queue-%u", f->fe_path, qi);
		else
			snprintf(dir, sizeof(dir), "%s", f->fe_path);
		if (p->ring_order == 0) {
			r = wr(xs, tx, dir, "ring-ref", q->ring_ref[0]);
		} else {
			for (unsigned i = 0; i < q->ring_pages && r >= 0; i++) {
				char key[24];

				snprintf(key, sizeof(key), "ring-ref%u", i);
				r = wr(xs, tx, dir, key, q->ring_ref[i]);
			}
		}
		if (r >= 0)
			r = wr(xs, tx, dir, "event-channel", q->port);
		if (r < 0)
			return r;
	}
	if (p->ring_order > 0 && (r = wr(xs, tx, f->fe_path, "ring-page-order", p->ring_order)) < 0)
		return r;
	if (CTL(f)->be_mq &&
	    (r = wr(xs, tx, f->fe_path, "multi-queue-num-queues", p->nr_queues)) < 0)
		return r;
	snprintf(path, sizeof(path), "%s/protocol", f->fe_path);
	r = pvio_xs_write(xs, tx, path, f->protocol, strlen(f->protocol));
	if (r < 0)
		return r;
	r = wr(xs, tx, f->fe_path, "feature-persistent", f->opts.no_persistent ? 0 : 1);
	if (r < 0)
		return r;
	return wr(xs, tx, f->fe_path, "feature-large-sector-size", f->opts.no_large_sectors ? 0 : 1);
}

/* ------------------------------------------------------------ handshake */

static void all_down(struct pvio_blkfront *f, bool fail)
{
	for (unsigned i = 0; i < f->nr_queues; i++)
		bf_queue_down(&f->q[i], fail);
}

/* Transport parameters from the backend's features and our options. */
static int negotiate(struct pvio_blkfront *f)
{
	struct bf_ctl *c = CTL(f);
	const struct pvio_blkfront_opts *o = &f->opts;
	unsigned long long mq, order, ind;
	bool present;
	unsigned nq, seg_limit;
	struct bf_params np;
	int r;

	mq = be_uint(f, "multi-queue-max-queues", 0, &c->be_mq);
	order = be_uint(f, "max-ring-page-order", 0, &present);
	if (!present) {
		/* The deprecated page count. */
		unsigned long long pages = be_uint(f, "max-ring-pages", 1, NULL);

		for (order = 0; order < BF_MAX_RING_ORDER && (2ull << order) <= pages; order++)
			;
	}
	ind = be_uint(f, "feature-max-indirect-segments", 0, NULL);

	if (!f->nr_queues) {
		long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		unsigned want = o->max_queues ? o->max_queues : (ncpu > 0 ? (unsigned)ncpu : 1);

		nq = c->be_mq && mq > 0 ? (mq < want ? (unsigned)mq : want) : 1;
		if (nq > BF_MAX_QUEUES)
			nq = BF_MAX_QUEUES;
		if (nq < 1)
			nq = 1;
		for (unsigned i = 0; i < nq; i++) {
			r = bf_queue_init(f, i);
			if (r < 0) {
				for (unsigned j = 0; j < i; j++)
					bf_queue_fini(&f->q[j]);
				return r;
			}
		}
		f->nr_queues = nq;
	} else {
		nq = f->nr_queues;
		if (nq > 1 && (!c->be_mq || mq < nq)) {
			bf_log(f, "the backend now offers %llu queue(s); this device uses %u",
			       c->be_mq ? mq : 1, nq);
			return -EPROTO;
		}
	}

	memset(&np, 0, sizeof(np));
	np.nr_queues = nq;
	np.ring_order = (unsigned)(order < o->max_ring_order ? order : o->max_ring_order);
	if (np.ring_order > BF_MAX_RING_ORDER)
		np.ring_order = BF_MAX_RING_ORDER;
	np.abi = f->abi;
	np.nr_ents = f->abi == PVIO_BLKIF_ABI_X86_32
		? pvio_blkif_x86_32_ring_nr_ents((size_t)PVIO_PAGE_SIZE << np.ring_order)
		: pvio_blkif_ring_nr_ents((size_t)PVIO_PAGE_SIZE << np.ring_order);
	np.persistent = !o->no_persistent && be_uint(f, "feature-persistent", 0, NULL) != 0;
	seg_limit = PVIO_BLKIF_MAX_SEGMENTS_PER_REQUEST;
	if (!o->no_indirect && ind > PVIO_BLKIF_MAX_SEGMENTS_PER_REQUEST) {
		unsigned long long m = o->max_indirect_segs;

		if (ind < m)
			m = ind;
		if (m > BF_MAX_INDIRECT_SEGS)
			m = BF_MAX_INDIRECT_SEGS;
		if (m > PVIO_BLKIF_MAX_SEGMENTS_PER_REQUEST)
			seg_limit = (unsigned)m;
	}
	if (seg_limit > PVIO_BLKIF_MAX_SEGMENTS_PER_REQUEST) {
		/* Every ring slot owns its indirect pages: keep the total
		 * bounded (order 4: 512 slots x 1 page = 512 segments). */
		unsigned pages = BF_IND_PAGES_BUDGET / np.nr_ents;

		if (pages < 1)
			pages = 1;
		if (seg_limit > pages * PVIO_BLKIF_SEGS_PER_INDIRECT_FRAME)
			seg_limit = pages * PVIO_BLKIF_SEGS_PER_INDIRECT_FRAME;
	}
	np.seg_limit = seg_limit;
	np.ind_pages = seg_limit > PVIO_BLKIF_MAX_SEGMENTS_PER_REQUEST
		? (seg_limit + PVIO_BLKIF_SEGS_PER_INDIRECT_FRAME - 1) /
		  PVIO_BLKIF_SEGS_PER_INDIRECT_FRAME : 0;
	np.large = !o->no_large_sectors;
	/* Device properties stay those of the last connection until the
	 * backend publishes new ones. */
	np.unit = f->p.unit;
	np.sector_size = f->p.sector_size;
	np.sectors = f->p.sectors;
	np.size_bytes = f->p.size_bytes;
	pthread_mutex_lock(&f->info_lock);
	f->p = np;
	pthread_mutex_unlock(&f->info_lock);
	return 0;
}

/* Device properties, published by the backend before Connected. */
static int read_props(struct pvio_blkfront *f)
{
	unsigned long long sectors, ss, info;
	bool present;
	struct bf_params np = f->p;

	sectors = be_uint(f, "sectors", 0, &present);
	if (!present) {
		bf_log(f, "the backend published no valid sectors");
		return -EPROTO;
	}
	ss = be_uint(f, "sector-size", 512, NULL);
	if (ss < 512 || (ss & (ss - 1)) || ss > (1u << 20)) {
		bf_log(f, "the backend's sector-size %llu is not a power of two >= 512", ss);
		return -EPROTO;
	}
	if (!np.large && ss != 512)
		bf_log(f, "the backend published sector-size %llu without "
		       "feature-large-sector-size: using 512-byte protocol sectors", ss);
	np.unit = np.large ? (uint32_t)ss : 512;
	if (np.unit > PVIO_PAGE_SIZE) {
		bf_log(f, "sector-size %llu is larger than a page: not supported", ss);
		return -EOPNOTSUPP;
	}
	if (sectors > UINT64_MAX / ss) {
		bf_log(f, "the backend's size overflows: %llu sectors of %llu bytes", sectors, ss);
		return -EPROTO;
	}
	if (f->p.sector_size && f->p.sector_size != ss) {
		bf_log(f, "the backend came back with sector-size %llu instead of %u", ss,
		       f->p.sector_size);
		return -EPROTO;
	}
	if (f->p.size_bytes && f->p.size_bytes != sectors * ss)
		bf_log(f, "the disk changed size: %llu -> %llu bytes",
		       (unsigned long long)f->p.size_bytes, sectors * ss);
	np.sector_size = (uint32_t)ss;
	np.sectors = sectors;
	np.size_bytes = sectors * ss;
	info = be_uint(f, "info", 0, NULL);
	np.readonly = (info & PVIO_VDISK_READONLY) != 0;
	np.flush = be_uint(f, "feature-flush-cache", 0, NULL) != 0;
	np.barrier = be_uint(f, "feature-barrier", 0, NULL) != 0;
	np.discard = be_uint(f, "feature-discard", 0, NULL) != 0;
	np.discard_gran = np.discard ? (uint32_t)be_uint(f, "discard-granularity", ss, NULL) : 0;
	np.discard_align = np.discard ? (uint32_t)be_uint(f, "discard-alignment", 0, NULL) : 0;
	pthread_mutex_lock(&f->info_lock);
	f->p = np;
	pthread_mutex_unlock(&f->info_lock);
	return 0;
}

int bf_connect(struct pvio_blkfront *f, long long deadline, bool cancellable)
{
	enum pvio_xenbus_state be;
	int r;

	/* 1. The backend to InitWait. */
	for (;;) {
		enum pvio_xenbus_state want;

		be = be_state(f);
		if (be == PVIO_XENBUS_STATE_INITWAIT)
			break;
		switch (be) {
		case PVIO_XENBUS_STATE_CLOSED:
			want = PVIO_XENBUS_STATE_INITIALISING;   /* please reconnect */
			break;
		case PVIO_XENBUS_STATE_INITIALISED:
		case PVIO_XENBUS_STATE_CONNECTED:
		case PVIO_XENBUS_STATE_CLOSING:
		case PVIO_XENBUS_STATE_RECONFIGURING:
		case PVIO_XENBUS_STATE_RECONFIGURED:
			want = PVIO_XENBUS_STATE_CLOSED;         /* let go of the old one */
			break;
		default:
			want = PVIO_XENBUS_STATE_INITIALISING;   /* no backend yet */
			break;
		}
		if (CTL(f)->fe_state != (int)want)
			set_fe_state(f, want);
		r = wait_change(f, deadline, cancellable);
		if (r < 0)
			return r;
	}

	/* 2. Features, rings, keys. */
	r = negotiate(f);
	if (r < 0)
		return r;
	for (unsigned i = 0; i < f->nr_queues; i++) {
		r = bf_queue_alloc(&f->q[i]);
		if (r < 0)
			goto err;
	}
	r = pvio_xs_transaction_run(f->xs, tx_write_keys, f);
	if (r < 0) {
		bf_log(f, "writing the transport keys failed: %s", strerror(-r));
		goto err;
	}
	r = set_fe_state(f, PVIO_XENBUS_STATE_INITIALISED);
	if (r < 0)
		goto err;

	/* 3. Connected. */
	r = wait_be(f, M(CONNECTED) | M(CLOSING) | M(CLOSED) | M(UNKNOWN) | M(INITIALISING),
		    deadline, cancellable, &be);
	if (r < 0)
		goto err;
	if (be != PVIO_XENBUS_STATE_CONNECTED) {
		bf_log(f, "the backend went to %s during the handshake",
		       pvio_xenbus_state_name(be));
		r = -ECONNRESET;
		goto err;
	}
	r = read_props(f);
	if (r < 0)
		goto err;
	/* Counted before the queues come up: their first completions may be
	 * seen by the application at once. */
	if (f->ctl.connected_once)
		__atomic_add_fetch(&f->st_reconnects, 1, __ATOMIC_RELAXED);
	f->ctl.connected_once = true;
	for (unsigned i = 0; i < f->nr_queues; i++)
		bf_queue_up(&f->q[i]);
	set_fe_state(f, PVIO_XENBUS_STATE_CONNECTED);
	return 0;
err:
	all_down(f, false);
	return r;
}

/* ------------------------------------------------------------ control thread */

static void kill_device(struct pvio_blkfront *f)
{
	all_down(f, true);
	set_fe_state(f, PVIO_XENBUS_STATE_CLOSING);
}

static bool any_lost(struct pvio_blkfront *f)
{
	for (unsigned i = 0; i < f->nr_queues; i++)
		if (__atomic_load_n(&f->q[i].lost, __ATOMIC_ACQUIRE))
			return true;
	return false;
}

static void *ctl_main(void *arg)
{
	struct pvio_blkfront *f = arg;
	struct bf_ctl *c = CTL(f);
	bool killed = false;
	struct pollfd pf[3] = {
		{ .fd = c->watch_fd, .events = POLLIN },
		{ .fd = f->kick_fd, .events = POLLIN },
		{ .fd = f->stop_fd, .events = POLLIN },
	};

	for (;;) {
		enum pvio_xenbus_state be;
		uint64_t v;
		long long deadline;
		bool lost;
		int r;

		if (poll(pf, 3, -1) < 0 && errno != EINTR)
			break;
		if (__atomic_load_n(&f->stop, __ATOMIC_ACQUIRE))
			break;
		if (read(f->kick_fd, &v, sizeof(v)) < 0) {
			/* EAGAIN: not kicked */
		}
		while (pvio_xs_read_watch(f->xs, NULL, &c->ev, 0) == 0)
			;
		if (__atomic_load_n(&f->dead, __ATOMIC_ACQUIRE)) {
			if (!killed)
				kill_device(f);
			killed = true;
			/* The backend letting go (Closing/Closed) releases what
			 * it had mapped: retry the revokes that failed. */
			bf_retry_deferred(f, 0);
			continue;
		}
		be = be_state(f);
		lost = any_lost(f);
		if (be == PVIO_XENBUS_STATE_CONNECTED && !lost)
			continue;

		/* The backend went away, or a new one announced itself. */
		bf_log(f, "backend %s (state %s): reconnecting",
		       lost ? "closed its event channel" : "left Connected",
		       pvio_xenbus_state_name(be));
		all_down(f, false);
		deadline = bf_now_ms() + f->opts.timeout_ms;
		do {
			r = bf_connect(f, deadline, true);
		} while (r == -ECONNRESET && bf_now_ms() < deadline);
		if (r == 0) {
			bf_log(f, "reconnected to the backend");
			continue;
		}
		if (r == -ECANCELED)
			break;
		if (r == -ETIMEDOUT || r == -ECONNRESET) {
			char why[96];

			snprintf(why, sizeof(why), "no backend came back within %u ms",
				 f->opts.timeout_ms);
			bf_disable(f, why);
		} else {
			char why[96];

			snprintf(why, sizeof(why), "reconnection failed: %s", strerror(-r));
			bf_disable(f, why);
		}
		kill_device(f);
		killed = true;
	}
	return NULL;
}

/* ------------------------------------------------------------ open / close */

static void bf_free(struct pvio_blkfront *f)
{
	for (unsigned i = 0; i < f->nr_queues; i++)
		bf_queue_fini(&f->q[i]);
	if (f->xs) {
		/* Unwatch explicitly before the connection goes: no event is
		 * sent to a closing connection. */
		if (f->ctl.watching)
			pvio_xs_unwatch(f->xs, f->ctl.state_path, f->token);
		pvio_xs_close(f->xs);
	}
	if (f->kick_fd >= 0)
		close(f->kick_fd);
	if (f->stop_fd >= 0)
		close(f->stop_fd);
	if (f->sync_fd >= 0)
		close(f->sync_fd);
	free(f->def);
	pthread_mutex_destroy(&f->info_lock);
	pthread_mutex_destroy(&f->def_lock);
	pthread_mutex_destroy(&f->sync_lock);
	pthread_mutex_destroy(&f->log_lock);
	free(f);
}

PVIO_EXPORT int pvio_blkfront_open(struct pvio_hv *hv, uint32_t vdev,
				   const struct pvio_blkfront_opts *opts,
				   struct pvio_blkfront **out)
{
	struct pvio_blkfront *f;
	struct bf_ctl *c;
	char dom[128], path[400];
	unsigned long long beid;
	size_t len;
	int fd, r;

	if (!hv || !out)
		return -EINVAL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	c = CTL(f);
	c->watch_fd = -1;
	f->kick_fd = f->stop_fd = f->sync_fd = -1;
	pthread_mutex_init(&f->info_lock, NULL);
	pthread_mutex_init(&f->def_lock, NULL);
	pthread_mutex_init(&f->sync_lock, NULL);
	pthread_mutex_init(&f->log_lock, NULL);
	if (opts)
		f->opts = *opts;
	else
		pvio_blkfront_opts_default(&f->opts);
	if (!f->opts.max_indirect_segs)
		f->opts.max_indirect_segs = BF_DEFAULT_INDIRECT;
	if (!f->opts.timeout_ms)
		f->opts.timeout_ms = BF_DEFAULT_TIMEOUT;
	if (f->opts.max_ring_order > BF_MAX_RING_ORDER)
		f->opts.max_ring_order = BF_MAX_RING_ORDER;
	if (f->opts.max_queues > BF_MAX_QUEUES)
		f->opts.max_queues = BF_MAX_QUEUES;
	snprintf(f->protocol, sizeof(f->protocol), "%s",
		 f->opts.protocol ? f->opts.protocol : PVIO_XEN_IO_PROTO_ABI_NATIVE);
	f->opts.protocol = NULL;   /* the caller's string need not outlive open() */
	r = pvio_blkif_abi_from_protocol(f->protocol);
	if (r < 0)
		goto err;
	f->abi = r;
	f->hv = hv;
	f->domid = pvio_hv_domid(hv);
	f->vdev = vdev;
	f->mem = pvio_hv_mem(hv, &f->mem_bytes);
	snprintf(f->name, sizeof(f->name), "dom%u/%u", f->domid, vdev);
	c->fe_state = -1;

	f->def = calloc(BF_DEFER_MAX, sizeof(*f->def));
	f->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	f->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	f->sync_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!f->def || f->kick_fd < 0 || f->stop_fd < 0 || f->sync_fd < 0) {
		r = f->def ? -errno : -ENOMEM;
		goto err;
	}
	if (!f->mem) {
		r = -EINVAL;
		goto err;
	}

	/* The store, as this domain. */
	r = pvio_hv_xs_connect(hv, &fd);
	if (r < 0)
		goto err;
	r = pvio_xs_open_fd(fd, &f->xs);
	if (r < 0)
		goto err;
	if (pvio_xs_get_domain_path(f->xs, f->domid, dom, sizeof(dom)) < 0)
		snprintf(dom, sizeof(dom), "/local/domain/%u", f->domid);
	snprintf(f->fe_path, sizeof(f->fe_path), "%s/device/vbd/%u", dom, vdev);

	snprintf(path, sizeof(path), "%s/backend", f->fe_path);
	r = pvio_xs_read_buf(f->xs, PVIO_XS_NO_TX, path, f->be_path, sizeof(f->be_path), &len);
	if (r < 0) {
		if (r == -ENOENT)
			bf_log(f, "no device %s (or no backend key)", f->fe_path);
		goto err;
	}
	if (f->be_path[0] != '/' || len < 2) {
		bf_log(f, "bad backend path \"%s\"", f->be_path);
		r = -EPROTO;
		goto err;
	}
	r = pvio_xenbus_read_uint(f->xs, PVIO_XS_NO_TX, f->fe_path, "backend-id", &beid);
	if (r < 0 || beid > PVIO_DOMID_MAX_GUEST) {
		bf_log(f, "bad or missing backend-id");
		r = r < 0 ? r : -EPROTO;
		goto err;
	}
	f->be_domid = (uint16_t)beid;

	c->watch_fd = pvio_xs_watch_fd(f->xs);
	if (c->watch_fd < 0) {
		r = c->watch_fd;
		goto err;
	}
	snprintf(c->state_path, sizeof(c->state_path), "%s/state", f->be_path);
	snprintf(f->token, sizeof(f->token), "pvio-blkfront/%u/%p", vdev, (void *)f);
	r = pvio_xs_watch(f->xs, c->state_path, f->token);
	if (r < 0)
		goto err;
	c->watching = true;
	{
		enum pvio_xenbus_state st;

		if (pvio_xenbus_read_state(f->xs, PVIO_XS_NO_TX, f->fe_path, &st) == 0)
			c->fe_state = st;
	}

	r = bf_connect(f, bf_now_ms() + f->opts.timeout_ms, false);
	if (r < 0) {
		bf_log(f, "connecting to the backend %s failed: %s", f->be_path, strerror(-r));
		if (c->fe_state == PVIO_XENBUS_STATE_INITIALISED)
			set_fe_state(f, PVIO_XENBUS_STATE_CLOSING);
		goto err;
	}
	r = -pthread_create(&f->thr, NULL, ctl_main, f);
	if (r < 0) {
		set_fe_state(f, PVIO_XENBUS_STATE_CLOSING);
		all_down(f, true);
		goto err;
	}
	f->thr_running = true;
	*out = f;
	return 0;
err:
	bf_abandon_deferred(f);
	bf_free(f);
	return r;
}

PVIO_EXPORT void pvio_blkfront_close(struct pvio_blkfront *f)
{
	struct bf_ctl *c;
	uint64_t one = 1;

	if (!f)
		return;
	c = CTL(f);
	__atomic_store_n(&f->stop, 1, __ATOMIC_RELEASE);
	if (write(f->stop_fd, &one, sizeof(one)) < 0) {
		/* cannot fail on our eventfd */
	}
	if (f->thr_running) {
		pthread_join(f->thr, NULL);
		f->thr_running = false;
	}
	/* Closing, and wait until the backend stopped using the rings
	 * (Closing/Closed) so that the revokes below succeed -- unless it is
	 * not connected to us anyway (its ports closed, or we never got past
	 * the handshake). A disabled device waits too: a backend that merely
	 * misbehaved still lets go; a hostile one costs timeout_ms. */
	if (c->fe_state != PVIO_XENBUS_STATE_CLOSED) {
		bool wait = !any_lost(f) && (c->fe_state == PVIO_XENBUS_STATE_CONNECTED ||
					     c->fe_state == PVIO_XENBUS_STATE_INITIALISED ||
					     c->fe_state == PVIO_XENBUS_STATE_CLOSING);
		enum pvio_xenbus_state be;

		if (c->fe_state != PVIO_XENBUS_STATE_CLOSING)
			set_fe_state(f, PVIO_XENBUS_STATE_CLOSING);
		if (wait && wait_be(f, M(CLOSING) | M(CLOSED) | M(UNKNOWN),
				    bf_now_ms() + f->opts.timeout_ms, false, &be) < 0)
			bf_log(f, "the backend did not close within %u ms", f->opts.timeout_ms);
	}
	all_down(f, true);
	set_fe_state(f, PVIO_XENBUS_STATE_CLOSED);
	bf_abandon_deferred(f);
	bf_free(f);
}
