/* SPDX-License-Identifier: MIT */
/*
 * netfront control plane: the xenbus handshake, reconnection and teardown.
 *
 * open()      reads device/vif/<devid>/{backend,backend-id,mac,mtu},
 *             watches <backend>/state and walks the handshake (nf_connect)
 *             in the caller's thread, then starts the control thread.
 *
 * nf_connect  1. bring the backend to InitWait. A backend still Connected
 *                (to an earlier incarnation of us) or Closing is asked to
 *                let go (we write Closed); a Closed backend is asked for a
 *                reconnection (we write Initialising); a restarted backend
 *                announces InitWait by itself. A device whose nodes are gone
 *                was unplugged: -ENODEV.
 *             2. read its features (feature-rx-copy is required), allocate
 *                the rings, the buffer pools and the event channel(s) of
 *                every queue, post the rx pool, write every key in ONE
 *                transaction (request-rx-copy=1, feature-rx-notify=1,
 *                feature-sg, feature-gso-tcpv4/6, feature-ipv6-csum-offload,
 *                feature-persistent (not Xen's: our pages stay granted for
 *                the connection, so the backend may keep them mapped),
 *                ring refs and ports, flat for one queue and under
 *                queue-N/ for more), and go straight to Connected, as Linux
 *                netfront does (no Initialised)
 *             3. wait for the backend's Connected (Closing/Closed/gone
 *                meanwhile: start over) and bring the queues up.
 *
 * Control thread (one per device): sleeps on the store's watch fd, a kick
 * eventfd from the data path and a stop eventfd. When the backend leaves
 * Connected, or a queue saw the backend's end of its event channel close,
 * it tears the queues down and calls nf_connect until it succeeds or
 * opts.timeout_ms runs out (then the device is disabled). A queue that saw
 * backend nonsense disables the device itself; the thread then finishes
 * the teardown and tells the backend (Closing).
 *
 * Every write of our state first checks that our device directory still
 * exists, so a frontend never recreates the nodes of an unplugged device.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/netfront_internal.h"
#include "ring/pvio_export.h"
#include "ring/xenbus_abi.h"
#include "xenstore/xenbus.h"
#include "xenstore/xs.h"

#define M(s) PVIO_XENBUS_MASK(PVIO_XENBUS_STATE_##s)

PVIO_EXPORT void pvio_netfront_opts_default(struct pvio_netfront_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->max_queues = 1;
	o->timeout_ms = NF_DEFAULT_TIMEOUT;
}

/* ------------------------------------------------------------ store helpers */

struct state_args {
	struct pvio_netfront *nf;
	enum pvio_xenbus_state st;
};

static int tx_set_state(struct pvio_xs *xs, uint32_t tx, void *arg)
{
	struct state_args *a = arg;
	char path[300], buf[8];
	int r;

	snprintf(path, sizeof(path), "%s/backend", a->nf->fe.fe_path);
	r = pvio_xs_read_buf(xs, tx, path, buf, sizeof(buf), NULL);
	if (r == -ENOENT)
		return -ENODEV;   /* unplugged: don't recreate the directory */
	if (r < 0 && r != -ERANGE)
		return r;
	return pvio_xenbus_switch_state(xs, tx, a->nf->fe.fe_path, a->st);
}

static int set_fe_state(struct pvio_netfront *nf, enum pvio_xenbus_state st)
{
	struct state_args a = { .nf = nf, .st = st };
	int r = pvio_xs_transaction_run(nf->fe.xs, tx_set_state, &a);

	if (r < 0 && r != -ENODEV)
		nf_log(nf, "cannot write state %s: %s", pvio_xenbus_state_name(st), strerror(-r));
	else if (r == 0)
		nf->fe.fe_state = st;
	return r;
}

static bool fe_present(struct pvio_netfront *nf)
{
	char path[300], buf[8];
	int r;

	snprintf(path, sizeof(path), "%s/backend", nf->fe.fe_path);
	r = pvio_xs_read_buf(nf->fe.xs, PVIO_XS_NO_TX, path, buf, sizeof(buf), NULL);
	return r != -ENOENT;
}

static bool be_flag(struct pvio_netfront *nf, const char *key)
{
	return fe_be_uint(&nf->fe, key, 0, NULL) != 0;
}

/* "aa:bb:cc:dd:ee:ff" -> mac; -EINVAL. */
static int parse_mac(const char *s, uint8_t mac[6])
{
	for (int i = 0; i < 6; i++) {
		unsigned v;

		if (!isxdigit((unsigned char)s[0]) || !isxdigit((unsigned char)s[1]))
			return -EINVAL;
		sscanf(s, "%2x", &v);
		mac[i] = (uint8_t)v;
		s += 2;
		if (i < 5 && *s++ != ':')
			return -EINVAL;
	}
	return *s ? -EINVAL : 0;
}

/* ------------------------------------------------------------ transport keys */

static bool stale_key(const char *k)
{
	return !strcmp(k, "tx-ring-ref") || !strcmp(k, "rx-ring-ref") ||
	       !strncmp(k, "event-channel", 13) || !strncmp(k, "queue-", 6) ||
	       !strcmp(k, "multi-queue-num-queues");
}

/* One transaction: the old connection's keys go, the new ones come. */
static int tx_write_keys(struct pvio_xs *xs, uint32_t tx, void *arg)
{
	struct pvio_netfront *nf = arg;
	const struct nf_params *p = &nf->p;
	const char *fe_path = nf->fe.fe_path;
	char dir[300];
	int r;

	r = fe_rm_stale_keys(xs, tx, fe_path, stale_key);
	if (r == -ENOENT)
		return -ENODEV;
	if (r < 0)
		return r;

	if (nf->fe.be_mq &&
	    (r = fe_write_uint(xs, tx, fe_path, "multi-queue-num-queues", p->nr_queues)) < 0)
		return r;
	for (unsigned qi = 0; qi < p->nr_queues; qi++) {
		const struct nf_queue *q = &nf->q[qi];

		fe_queue_dir(&nf->fe, p->nr_queues, qi, dir, sizeof(dir));
		if ((r = fe_write_uint(xs, tx, dir, "tx-ring-ref", q->tx_ring_ref)) < 0 ||
		    (r = fe_write_uint(xs, tx, dir, "rx-ring-ref", q->rx_ring_ref)) < 0)
			return r;
		if (p->split) {
			if ((r = fe_write_uint(xs, tx, dir, "event-channel-tx",
					       q->port[NF_TX])) < 0 ||
			    (r = fe_write_uint(xs, tx, dir, "event-channel-rx",
					       q->port[NF_RX])) < 0)
				return r;
		} else if ((r = fe_write_uint(xs, tx, dir, "event-channel", q->port[NF_TX])) < 0) {
			return r;
		}
	}
	if ((r = fe_write_uint(xs, tx, fe_path, "request-rx-copy", 1)) < 0 ||
	    (r = fe_write_uint(xs, tx, fe_path, "feature-rx-notify", 1)) < 0 ||
	    (r = fe_write_uint(xs, tx, fe_path, "feature-sg", !nf->opts.no_sg)) < 0 ||
	    (r = fe_write_uint(xs, tx, fe_path, "feature-gso-tcpv4", p->rx_gso_tcpv4)) < 0 ||
	    (r = fe_write_uint(xs, tx, fe_path, "feature-gso-tcpv6", p->rx_gso_tcpv6)) < 0 ||
	    (r = fe_write_uint(xs, tx, fe_path, "feature-no-csum-offload", !p->rx_csum)) < 0 ||
	    (r = fe_write_uint(xs, tx, fe_path, "feature-ipv6-csum-offload",
			       p->rx_csum && !nf->opts.no_ipv6_csum_offload)) < 0 ||
	    /* Our tx and rx pages stay granted while connected (never
	     * revoked per frame): a backend may keep them mapped. */
	    (r = fe_write_uint(xs, tx, fe_path, "feature-persistent", 1)) < 0)
		return r;
	/* Going straight to Connected (Linux netfront): in the same
	 * transaction, so the backend never sees half of it. */
	return pvio_xenbus_switch_state(xs, tx, fe_path, PVIO_XENBUS_STATE_CONNECTED);
}

/* ------------------------------------------------------------ handshake */

static void all_down(struct pvio_netfront *nf, bool fail)
{
	for (unsigned i = 0; i < nf->nr_queues; i++)
		nf_queue_down(&nf->q[i], fail);
}

/* Transport parameters from the backend's features and our options. */
static int negotiate(struct pvio_netfront *nf)
{
	struct fe_dev *fe = &nf->fe;
	const struct pvio_netfront_opts *o = &nf->opts;
	unsigned long long mq;
	struct nf_params np;
	unsigned nq;
	int r;

	if (!be_flag(nf, "feature-rx-copy")) {
		nf_log(nf, "the backend offers no feature-rx-copy (rx-flip is not supported)");
		return -EOPNOTSUPP;
	}
	mq = fe_be_uint(fe, "multi-queue-max-queues", 0, &fe->be_mq);
	if (!nf->nr_queues) {
		nq = fe_nr_queues(fe, mq, o->max_queues ? o->max_queues : 1, NF_MAX_QUEUES);
		for (unsigned i = 0; i < nq; i++) {
			r = nf_queue_init(nf, i);
			if (r < 0) {
				for (unsigned j = 0; j < i; j++)
					nf_queue_fini(&nf->q[j]);
				return r;
			}
		}
		nf->nr_queues = nq;
	} else {
		nq = nf->nr_queues;
		r = fe_check_queues(fe, mq, nq);
		if (r < 0)
			return r;
	}
	memset(&np, 0, sizeof(np));
	np.nr_queues = nq;
	np.split = !o->no_split_evtchn && be_flag(nf, "feature-split-event-channels");
	np.sg = !o->no_sg && be_flag(nf, "feature-sg");
	np.gso_tcpv4 = np.sg && be_flag(nf, "feature-gso-tcpv4");
	np.gso_tcpv6 = np.sg && be_flag(nf, "feature-gso-tcpv6");
	np.ipv6_csum = be_flag(nf, "feature-ipv6-csum-offload");
	np.rx_csum = !o->no_csum_offload;
	/* GSO frames need multi-slot rx (and a complete checksum path). */
	np.rx_gso_tcpv4 = o->gso_tcpv4 && !o->no_sg && np.rx_csum;
	np.rx_gso_tcpv6 = o->gso_tcpv6 && !o->no_sg && np.rx_csum;
	np.max_tx_slots = np.sg ? NF_MAX_SLOTS : 1;
	pthread_mutex_lock(&nf->info_lock);
	nf->p = np;
	pthread_mutex_unlock(&nf->info_lock);
	return 0;
}

int nf_connect(struct pvio_netfront *nf, long long deadline, bool cancellable)
{
	enum pvio_xenbus_state be;
	int r;

	/* 1. The backend to InitWait. */
	for (;;) {
		enum pvio_xenbus_state want;

		be = fe_be_state(&nf->fe);
		if (be == PVIO_XENBUS_STATE_INITWAIT)
			break;
		if (!fe_present(nf)) {
			nf_log(nf, "the device was unplugged");
			return -ENODEV;
		}
		want = fe_answer_state(be);
		/* Please reconnect -- unless the toolstack is taking the device
		 * away (online=0): then wait for the nodes to go. */
		if (be == PVIO_XENBUS_STATE_CLOSED && !fe_be_uint(&nf->fe, "online", 1, NULL))
			want = PVIO_XENBUS_STATE_CLOSED;
		if (nf->fe.fe_state != (int)want && set_fe_state(nf, want) == -ENODEV)
			return -ENODEV;
		r = fe_wait_change(&nf->fe, deadline, cancellable);
		if (r < 0)
			return r;
		nf_retry_deferred(nf);
	}

	/* 2. Features, rings, keys, Connected. */
	r = negotiate(nf);
	if (r < 0)
		return r;
	for (unsigned i = 0; i < nf->nr_queues; i++) {
		r = nf_queue_alloc(&nf->q[i]);
		if (r < 0)
			goto err;
	}
	r = pvio_xs_transaction_run(nf->fe.xs, tx_write_keys, nf);
	if (r < 0) {
		if (r != -ENODEV)
			nf_log(nf, "writing the transport keys failed: %s", strerror(-r));
		goto err;
	}
	nf->fe.fe_state = PVIO_XENBUS_STATE_CONNECTED;

	/* 3. The backend's Connected. */
	r = fe_wait_connected(&nf->fe, deadline, cancellable);
	if (r < 0)
		goto err;
	/* Counted before the queues come up: the application may see their
	 * first frames at once (and then read the statistics). */
	if (nf->connected_once)
		__atomic_add_fetch(&nf->st_reconnects, 1, __ATOMIC_RELAXED);
	nf->connected_once = true;
	for (unsigned i = 0; i < nf->nr_queues; i++)
		nf_queue_up(&nf->q[i]);
	return 0;
err:
	all_down(nf, false);
	return r;
}

/* ------------------------------------------------------------ control thread */

static void kill_device(struct pvio_netfront *nf)
{
	all_down(nf, true);
	if (nf->fe.fe_state != PVIO_XENBUS_STATE_CLOSED)
		set_fe_state(nf, PVIO_XENBUS_STATE_CLOSING);
}

static bool any_lost(struct pvio_netfront *nf)
{
	for (unsigned i = 0; i < nf->nr_queues; i++)
		if (__atomic_load_n(&nf->q[i].lost, __ATOMIC_ACQUIRE))
			return true;
	return false;
}

static void *ctl_main(void *arg)
{
	struct pvio_netfront *nf = arg;
	bool killed = false;

	while (fe_ctl_sleep(&nf->fe)) {
		enum pvio_xenbus_state be;
		long long deadline;
		bool lost;
		char why[96];
		int r;

		/* The backend may have let go of grants it held at teardown. */
		nf_retry_deferred(nf);
		if (fe_dead(&nf->fe)) {
			if (!killed)
				kill_device(nf);
			killed = true;
			continue;
		}
		lost = any_lost(nf);
		if (fe_store_lost(&nf->fe)) {
			/* No store: the rings go on as long as the backend
			 * does; without one we cannot find it again. */
			if (lost && !killed) {
				nf_disable(nf, "the backend closed its event channel and the "
					   "store is gone: no reconnection possible");
				kill_device(nf);
				killed = true;
			}
			continue;
		}
		if (lost) {
			be = fe_be_state(&nf->fe);   /* for the message */
		} else if (!fe_be_state_known(&nf->fe, &be) ||
			   be == PVIO_XENBUS_STATE_CONNECTED) {
			/* Connected, or a state that could not be read, which
			 * says nothing about the backend: the rings stay. */
			continue;
		}

		/* The backend went away, or a new one announced itself. */
		nf_log_peer(nf, "backend %s (state %s): reconnecting",
		       lost ? "closed its event channel" : "left Connected",
		       pvio_xenbus_state_name(be));
		all_down(nf, false);
		deadline = fe_now_ms() + nf->opts.timeout_ms;
		do {
			r = nf_connect(nf, deadline, true);
		} while (r == -ECONNRESET && fe_now_ms() < deadline);
		if (r == 0) {
			nf_log_peer(nf, "reconnected to the backend");
			continue;
		}
		if (r == -ECANCELED)
			break;
		if (r == -ENODEV)
			snprintf(why, sizeof(why), "the device was unplugged");
		else
			fe_give_up_why(r, nf->opts.timeout_ms, why, sizeof(why));
		nf_disable(nf, why);
		kill_device(nf);
		killed = true;
	}
	return NULL;
}

/* ------------------------------------------------------------ open / close */

void nf_dev_free(struct pvio_netfront *nf)
{
	for (unsigned i = 0; i < nf->nr_queues; i++)
		nf_queue_fini(&nf->q[i]);
	fe_fini(&nf->fe);
	free(nf->def);
	pthread_mutex_destroy(&nf->info_lock);
	pthread_mutex_destroy(&nf->def_lock);
	free(nf);
}

int nf_dev_new(struct pvio_hv *hv, uint32_t devid, const struct pvio_netfront_opts *opts,
	       struct pvio_netfront **out)
{
	struct pvio_netfront *nf;
	int r;

	nf = calloc(1, sizeof(*nf));
	if (!nf)
		return -ENOMEM;
	pthread_mutex_init(&nf->info_lock, NULL);
	pthread_mutex_init(&nf->def_lock, NULL);
	r = fe_init(&nf->fe, "netfront");
	if (r < 0)
		goto err;
	nf->fe.unpluggable = true;
	if (opts)
		nf->opts = *opts;
	else
		pvio_netfront_opts_default(&nf->opts);
	if (!nf->opts.timeout_ms)
		nf->opts.timeout_ms = NF_DEFAULT_TIMEOUT;
	if (nf->opts.max_queues > NF_MAX_QUEUES)
		nf->opts.max_queues = NF_MAX_QUEUES;
	nf->hv = hv;
	nf->domid = pvio_hv_domid(hv);
	nf->devid = devid;
	snprintf(nf->fe.name, sizeof(nf->fe.name), "dom%u/vif%u", nf->domid, devid);

	if (!pvio_hv_mem(hv, NULL)) {
		r = -EINVAL;
		goto err;
	}
	*out = nf;
	return 0;
err:
	nf_dev_free(nf);
	return r;
}

/* Toolstack keys of our own directory besides backend and backend-id:
 * mac, mtu. */
static int read_fe_keys(struct pvio_netfront *nf)
{
	struct fe_dev *fe = &nf->fe;
	char path[400], mac[32];
	unsigned long long v;
	int r;

	snprintf(path, sizeof(path), "%s/mac", fe->fe_path);
	r = pvio_xs_read_buf(fe->xs, PVIO_XS_NO_TX, path, mac, sizeof(mac), NULL);
	if (r < 0 || parse_mac(mac, nf->mac) < 0) {
		nf_log(nf, "no valid mac in %s", fe->fe_path);
		return -EPROTO;
	}
	nf->mtu = 1500;
	if (pvio_xenbus_read_uint(fe->xs, PVIO_XS_NO_TX, fe->fe_path, "mtu", &v) == 0 &&
	    v >= 68 && v <= PVIO_NETFRONT_MAX_FRAME - 14)
		nf->mtu = (unsigned)v;
	return 0;
}

PVIO_EXPORT int pvio_netfront_open(struct pvio_hv *hv, uint32_t devid,
				   const struct pvio_netfront_opts *opts,
				   struct pvio_netfront **out)
{
	struct pvio_netfront *nf;
	int r;

	if (!hv || !out)
		return -EINVAL;
	r = nf_dev_new(hv, devid, opts, &nf);
	if (r < 0)
		return r;
	r = fe_attach(&nf->fe, hv, nf->domid, "vif", devid, &nf->be_domid);
	if (r < 0)
		goto err;
	r = read_fe_keys(nf);
	if (r < 0)
		goto err;
	r = fe_watch_backend(&nf->fe, devid);
	if (r < 0)
		goto err;

	r = nf_connect(nf, fe_now_ms() + nf->opts.timeout_ms, false);
	if (r < 0) {
		nf_log(nf, "connecting to the backend %s failed: %s", nf->fe.be_path, strerror(-r));
		if (nf->fe.fe_state == PVIO_XENBUS_STATE_CONNECTED)
			set_fe_state(nf, PVIO_XENBUS_STATE_CLOSING);
		goto err;
	}
	r = -pthread_create(&nf->fe.thr, NULL, ctl_main, nf);
	if (r < 0) {
		set_fe_state(nf, PVIO_XENBUS_STATE_CLOSING);
		all_down(nf, true);
		goto err;
	}
	nf->fe.thr_running = true;
	*out = nf;
	return 0;
err:
	nf_abandon_deferred(nf);
	nf_dev_free(nf);
	return r;
}

PVIO_EXPORT void pvio_netfront_close(struct pvio_netfront *nf)
{
	struct fe_dev *c;
	enum pvio_xenbus_state be;

	if (!nf)
		return;
	c = &nf->fe;
	fe_stop_thread(c);
	/* Closing, and wait (bounded) until the backend let go of the rings
	 * (Linux netback unmaps, then answers Closing) -- also on a disabled
	 * device: a backend that lets go gets its grants revoked instead of
	 * leaked. */
	be = fe_be_state(c);
	if (c->fe_state == PVIO_XENBUS_STATE_CONNECTED && be != PVIO_XENBUS_STATE_CLOSED &&
	    be != PVIO_XENBUS_STATE_UNKNOWN && !any_lost(nf)) {
		set_fe_state(nf, PVIO_XENBUS_STATE_CLOSING);
		if (fe_wait_be(c, M(CLOSING) | M(CLOSED) | M(UNKNOWN),
			       fe_now_ms() + nf->opts.timeout_ms, false, &be) < 0)
			nf_log(nf, "the backend did not close within %u ms", nf->opts.timeout_ms);
	}
	all_down(nf, true);
	if (c->fe_state != PVIO_XENBUS_STATE_CLOSED)
		set_fe_state(nf, PVIO_XENBUS_STATE_CLOSED);
	/* Grants still held (a backend that was Closing for the toolstack
	 * when we started): it lets go on our Closed. */
	if (nf_retry_deferred(nf)) {
		long long deadline = fe_now_ms() + nf->opts.timeout_ms;

		while (nf_retry_deferred(nf) && fe_be_state(c) != PVIO_XENBUS_STATE_CLOSED &&
		       fe_be_state(c) != PVIO_XENBUS_STATE_UNKNOWN &&
		       fe_wait_change(c, deadline, false) == 0)
			;
	}
	nf_abandon_deferred(nf);
	nf_dev_free(nf);
}
