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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "frontend/blkfront_internal.h"
#include "ring/pvio_export.h"
#include "ring/xenbus_abi.h"
#include "xenstore/xenbus.h"
#include "xenstore/xs.h"

#define M(s) PVIO_XENBUS_MASK(PVIO_XENBUS_STATE_##s)

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
	int r = pvio_xenbus_switch_state(f->fe.xs, PVIO_XS_NO_TX, f->fe.fe_path, st);

	if (r < 0)
		bf_log(f, "cannot write state %s: %s", pvio_xenbus_state_name(st), strerror(-r));
	else
		f->fe.fe_state = st;
	return r;
}

/* ------------------------------------------------------------ transport keys */

static bool stale_key(const char *k)
{
	return !strncmp(k, "ring-ref", 8) || !strncmp(k, "queue-", 6) ||
	       !strcmp(k, "event-channel") || !strcmp(k, "ring-page-order") ||
	       !strcmp(k, "num-ring-pages") || !strcmp(k, "multi-queue-num-queues");
}

/* One transaction: the old connection's keys go, the new ones come. */
static int tx_write_keys(struct pvio_xs *xs, uint32_t tx, void *arg)
{
	struct pvio_blkfront *f = arg;
	const struct bf_params *p = &f->p;
	const char *fe_path = f->fe.fe_path;
	char path[400], dir[300];
	int r;

	r = fe_rm_stale_keys(xs, tx, fe_path, stale_key);
	if (r < 0)
		return r;

	for (unsigned qi = 0; qi < p->nr_queues; qi++) {
		const struct bf_queue *q = &f->q[qi];

		fe_queue_dir(&f->fe, p->nr_queues, qi, dir, sizeof(dir));
		if (p->ring_order == 0) {
			r = fe_write_uint(xs, tx, dir, "ring-ref", q->ring_ref[0]);
		} else {
			for (unsigned i = 0; i < q->ring_pages && r >= 0; i++) {
				char key[24];

				snprintf(key, sizeof(key), "ring-ref%u", i);
				r = fe_write_uint(xs, tx, dir, key, q->ring_ref[i]);
			}
		}
		if (r >= 0)
			r = fe_write_uint(xs, tx, dir, "event-channel", q->port);
		if (r < 0)
			return r;
	}
	if (p->ring_order > 0 &&
	    (r = fe_write_uint(xs, tx, fe_path, "ring-page-order", p->ring_order)) < 0)
		return r;
	if (f->fe.be_mq &&
	    (r = fe_write_uint(xs, tx, fe_path, "multi-queue-num-queues", p->nr_queues)) < 0)
		return r;
	snprintf(path, sizeof(path), "%s/protocol", fe_path);
	r = pvio_xs_write(xs, tx, path, f->protocol, strlen(f->protocol));
	if (r < 0)
		return r;
	r = fe_write_uint(xs, tx, fe_path, "feature-persistent", f->opts.no_persistent ? 0 : 1);
	if (r < 0)
		return r;
	return fe_write_uint(xs, tx, fe_path, "feature-large-sector-size",
			     f->opts.no_large_sectors ? 0 : 1);
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
	struct fe_dev *fe = &f->fe;
	const struct pvio_blkfront_opts *o = &f->opts;
	unsigned long long mq, order, ind;
	bool present;
	unsigned nq, seg_limit;
	struct bf_params np;
	int r;

	mq = fe_be_uint(fe, "multi-queue-max-queues", 0, &fe->be_mq);
	order = fe_be_uint(fe, "max-ring-page-order", 0, &present);
	if (!present) {
		/* The deprecated page count. */
		unsigned long long pages = fe_be_uint(fe, "max-ring-pages", 1, NULL);

		for (order = 0; order < BF_MAX_RING_ORDER && (2ull << order) <= pages; order++)
			;
	}
	ind = fe_be_uint(fe, "feature-max-indirect-segments", 0, NULL);

	if (!f->nr_queues) {
		long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		unsigned want = o->max_queues ? o->max_queues : (ncpu > 0 ? (unsigned)ncpu : 1);

		nq = fe_nr_queues(fe, mq, want, BF_MAX_QUEUES);
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
		r = fe_check_queues(fe, mq, nq);
		if (r < 0)
			return r;
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
	np.persistent = !o->no_persistent && fe_be_uint(fe, "feature-persistent", 0, NULL) != 0;
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
	struct fe_dev *fe = &f->fe;
	unsigned long long sectors, ss, info;
	bool present;
	struct bf_params np = f->p;

	sectors = fe_be_uint(fe, "sectors", 0, &present);
	if (!present) {
		bf_log(f, "the backend published no valid sectors");
		return -EPROTO;
	}
	ss = fe_be_uint(fe, "sector-size", 512, NULL);
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
	info = fe_be_uint(fe, "info", 0, NULL);
	np.readonly = (info & PVIO_VDISK_READONLY) != 0;
	np.flush = fe_be_uint(fe, "feature-flush-cache", 0, NULL) != 0;
	np.barrier = fe_be_uint(fe, "feature-barrier", 0, NULL) != 0;
	np.discard = fe_be_uint(fe, "feature-discard", 0, NULL) != 0;
	np.discard_gran = np.discard
		? (uint32_t)fe_be_uint(fe, "discard-granularity", ss, NULL) : 0;
	np.discard_align = np.discard
		? (uint32_t)fe_be_uint(fe, "discard-alignment", 0, NULL) : 0;
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

		be = fe_be_state(&f->fe);
		if (be == PVIO_XENBUS_STATE_INITWAIT)
			break;
		want = fe_answer_state(be);
		if (f->fe.fe_state != (int)want)
			set_fe_state(f, want);
		r = fe_wait_change(&f->fe, deadline, cancellable);
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
	r = pvio_xs_transaction_run(f->fe.xs, tx_write_keys, f);
	if (r < 0) {
		bf_log(f, "writing the transport keys failed: %s", strerror(-r));
		goto err;
	}
	r = set_fe_state(f, PVIO_XENBUS_STATE_INITIALISED);
	if (r < 0)
		goto err;

	/* 3. Connected. */
	r = fe_wait_connected(&f->fe, deadline, cancellable);
	if (r < 0)
		goto err;
	r = read_props(f);
	if (r < 0)
		goto err;
	/* Counted before the queues come up: their first completions may be
	 * seen by the application at once. */
	if (f->connected_once)
		__atomic_add_fetch(&f->st_reconnects, 1, __ATOMIC_RELAXED);
	f->connected_once = true;
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
	bool killed = false;

	while (fe_ctl_sleep(&f->fe)) {
		enum pvio_xenbus_state be;
		long long deadline;
		bool lost;
		char why[96];
		int r;

		if (fe_dead(&f->fe)) {
			if (!killed)
				kill_device(f);
			killed = true;
			/* The backend letting go (Closing/Closed) releases what
			 * it had mapped: retry the revokes that failed. */
			bf_retry_deferred(f, 0);
			continue;
		}
		lost = any_lost(f);
		if (fe_store_lost(&f->fe)) {
			/* No store: the rings go on as long as the backend
			 * does; without one we cannot find it again. */
			if (lost && !killed) {
				bf_disable(f, "the backend closed its event channel and the "
					   "store is gone: no reconnection possible");
				kill_device(f);
				killed = true;
			}
			continue;
		}
		if (lost) {
			be = fe_be_state(&f->fe);   /* for the message */
		} else if (!fe_be_state_known(&f->fe, &be) ||
			   be == PVIO_XENBUS_STATE_CONNECTED) {
			/* Connected, or a state that could not be read, which
			 * says nothing about the backend: the rings stay. */
			continue;
		}

		/* The backend went away, or a new one announced itself. */
		bf_log(f, "backend %s (state %s): reconnecting",
		       lost ? "closed its event channel" : "left Connected",
		       pvio_xenbus_state_name(be));
		all_down(f, false);
		deadline = fe_now_ms() + f->opts.timeout_ms;
		do {
			r = bf_connect(f, deadline, true);
		} while (r == -ECONNRESET && fe_now_ms() < deadline);
		if (r == 0) {
			bf_log(f, "reconnected to the backend");
			continue;
		}
		if (r == -ECANCELED)
			break;
		fe_give_up_why(r, f->opts.timeout_ms, why, sizeof(why));
		bf_disable(f, why);
		kill_device(f);
		killed = true;
	}
	return NULL;
}

/* ------------------------------------------------------------ open / close */

void bf_dev_free(struct pvio_blkfront *f)
{
	for (unsigned i = 0; i < f->nr_queues; i++)
		bf_queue_fini(&f->q[i]);
	fe_fini(&f->fe);
	if (f->sync_fd >= 0)
		close(f->sync_fd);
	free(f->def);
	pthread_mutex_destroy(&f->info_lock);
	pthread_mutex_destroy(&f->def_lock);
	pthread_mutex_destroy(&f->sync_lock);
	free(f);
}

int bf_dev_new(struct pvio_hv *hv, uint32_t vdev, const struct pvio_blkfront_opts *opts,
	       struct pvio_blkfront **out)
{
	struct pvio_blkfront *f;
	int r;

	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->sync_fd = -1;
	pthread_mutex_init(&f->info_lock, NULL);
	pthread_mutex_init(&f->def_lock, NULL);
	pthread_mutex_init(&f->sync_lock, NULL);
	r = fe_init(&f->fe, "blkfront");
	if (r < 0)
		goto err;
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
	snprintf(f->fe.name, sizeof(f->fe.name), "dom%u/%u", f->domid, vdev);

	f->def = calloc(BF_DEFER_MAX, sizeof(*f->def));
	f->sync_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!f->def || f->sync_fd < 0) {
		r = f->def ? -errno : -ENOMEM;
		goto err;
	}
	if (!f->mem) {
		r = -EINVAL;
		goto err;
	}
	*out = f;
	return 0;
err:
	bf_dev_free(f);
	return r;
}

PVIO_EXPORT int pvio_blkfront_open(struct pvio_hv *hv, uint32_t vdev,
				   const struct pvio_blkfront_opts *opts,
				   struct pvio_blkfront **out)
{
	struct pvio_blkfront *f;
	int r;

	if (!hv || !out)
		return -EINVAL;
	r = bf_dev_new(hv, vdev, opts, &f);
	if (r < 0)
		return r;
	r = fe_attach(&f->fe, hv, f->domid, "vbd", vdev, &f->be_domid);
	if (r < 0)
		goto err;
	r = fe_watch_backend(&f->fe, vdev);
	if (r < 0)
		goto err;

	r = bf_connect(f, fe_now_ms() + f->opts.timeout_ms, false);
	if (r < 0) {
		bf_log(f, "connecting to the backend %s failed: %s", f->fe.be_path, strerror(-r));
		if (f->fe.fe_state == PVIO_XENBUS_STATE_INITIALISED)
			set_fe_state(f, PVIO_XENBUS_STATE_CLOSING);
		goto err;
	}
	r = -pthread_create(&f->fe.thr, NULL, ctl_main, f);
	if (r < 0) {
		set_fe_state(f, PVIO_XENBUS_STATE_CLOSING);
		all_down(f, true);
		goto err;
	}
	f->fe.thr_running = true;
	*out = f;
	return 0;
err:
	bf_abandon_deferred(f);
	bf_dev_free(f);
	return r;
}

PVIO_EXPORT void pvio_blkfront_close(struct pvio_blkfront *f)
{
	struct fe_dev *c;

	if (!f)
		return;
	c = &f->fe;
	fe_stop_thread(c);
	/* The xenbus close handshake, as Linux blkfront walks it: Closing,
	 * the backend answers Closing; Closed, the backend disconnects
	 * (unmaps the rings and every persistent grant) and answers Closed.
	 * Only then are our grants revoked, so that they all succeed and the
	 * buffers the application freed while connected (whose grants the
	 * backend kept cached) are reclaimed. Skipped when the backend is not
	 * connected to us anyway (its ports closed, or we never got past the
	 * handshake). A disabled device waits too: a backend that merely
	 * misbehaved still lets go; a hostile one costs timeout_ms. */
	if (c->fe_state != PVIO_XENBUS_STATE_CLOSED) {
		bool wait = !any_lost(f) && !fe_store_lost(c) &&
			    (c->fe_state == PVIO_XENBUS_STATE_CONNECTED ||
					     c->fe_state == PVIO_XENBUS_STATE_INITIALISED ||
					     c->fe_state == PVIO_XENBUS_STATE_CLOSING);
		long long deadline = fe_now_ms() + f->opts.timeout_ms;
		enum pvio_xenbus_state be;

		if (c->fe_state != PVIO_XENBUS_STATE_CLOSING)
			set_fe_state(f, PVIO_XENBUS_STATE_CLOSING);
		if (wait && fe_wait_be(c, M(CLOSING) | M(CLOSED) | M(UNKNOWN),
				       deadline, false, &be) < 0) {
			bf_log(f, "the backend did not close within %u ms", f->opts.timeout_ms);
			wait = false;
		}
		set_fe_state(f, PVIO_XENBUS_STATE_CLOSED);
		if (wait && fe_wait_be(c, M(CLOSED) | M(UNKNOWN), deadline, false, &be) < 0)
			bf_log(f, "the backend did not reach Closed within %u ms",
				f->opts.timeout_ms);
	}
	all_down(f, true);
	/* The bounce buffer of the blocking helpers: its grants are gone
	 * with the queues' persistent caches. */
	pvio_blkfront_buf_free(f, f->bounce, f->bounce_len);
	f->bounce = NULL;
	bf_abandon_deferred(f);
	bf_dev_free(f);
}
