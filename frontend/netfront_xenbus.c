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
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "frontend/netfront_internal.h"
#include "ring/pvio_export.h"
#include "ring/xenbus_abi.h"
#include "xenstore/xenbus.h"
#include "xenstore/xs.h"

#define M(s) PVIO_XENBUS_MASK(PVIO_XENBUS_STATE_##s)

long long nf_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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

	snprintf(path, sizeof(path), "%s/backend", a->nf->fe_path);
	r = pvio_xs_read_buf(xs, tx, path, buf, sizeof(buf), NULL);
	if (r == -ENOENT)
		return -ENODEV;   /* unplugged: don't recreate the directory */
	if (r < 0 && r != -ERANGE)
		return r;
	return pvio_xenbus_switch_state(xs, tx, a->nf->fe_path, a->st);
}

static int set_fe_state(struct pvio_netfront *nf, enum pvio_xenbus_state st)
{
	struct state_args a = { .nf = nf, .st = st };
	int r = pvio_xs_transaction_run(nf->xs, tx_set_state, &a);

	if (r < 0 && r != -ENODEV)
		nf_log(nf, "cannot write state %s: %s", pvio_xenbus_state_name(st), strerror(-r));
	else if (r == 0)
		nf->ctl.fe_state = st;
	return r;
}

static enum pvio_xenbus_state be_state(struct pvio_netfront *nf)
{
	enum pvio_xenbus_state st;
	int r = pvio_xenbus_read_state(nf->xs, PVIO_XS_NO_TX, nf->be_path, &st);

	if (r == -EPROTO)
		nf_log_peer(nf, "backend state is not a xenbus state");
	return r < 0 ? PVIO_XENBUS_STATE_UNKNOWN : st;
}

static bool fe_present(struct pvio_netfront *nf)
{
	char path[300], buf[8];
	int r;

	snprintf(path, sizeof(path), "%s/backend", nf->fe_path);
	r = pvio_xs_read_buf(nf->xs, PVIO_XS_NO_TX, path, buf, sizeof(buf), NULL);
	return r != -ENOENT;
}

/* Backend key as an unsigned number; def if absent. A value that is no
 * number is the backend's mistake: reported, and treated as absent. */
static unsigned long long be_uint(struct pvio_netfront *nf, const char *key,
				  unsigned long long def, bool *present)
{
	unsigned long long v;
	int r = pvio_xenbus_read_uint(nf->xs, PVIO_XS_NO_TX, nf->be_path, key, &v);

	if (present)
		*present = r == 0;
	if (r == 0)
		return v;
	/* -EACCES: the node went with its unreadable parent (unplug). */
	if (r != -ENOENT && r != -EACCES)
		nf_log_peer(nf, "backend key %s: %s", key, strerror(-r));
	return def;
}

static bool be_flag(struct pvio_netfront *nf, const char *key)
{
	return be_uint(nf, key, 0, NULL) != 0;
}

/* Sleep until the store says something (a watch event) or deadline.
 * cancellable: also return -ECANCELED once close() began. */
static int wait_change(struct pvio_netfront *nf, long long deadline, bool cancellable)
{
	struct nf_ctl *c = &nf->ctl;
	struct pollfd pf[2] = {
		{ .fd = c->watch_fd, .events = POLLIN },
		{ .fd = nf->stop_fd, .events = POLLIN },
	};
	long long left = deadline - nf_now_ms();

	if (cancellable && __atomic_load_n(&nf->stop, __ATOMIC_ACQUIRE))
		return -ECANCELED;
	if (left <= 0)
		return -ETIMEDOUT;
	if (poll(pf, cancellable ? 2 : 1, left > 60000 ? 60000 : (int)left) < 0 && errno != EINTR)
		return -errno;
	if (cancellable && __atomic_load_n(&nf->stop, __ATOMIC_ACQUIRE))
		return -ECANCELED;
	while (pvio_xs_read_watch(nf->xs, NULL, &c->ev, 0) == 0)
		;   /* any event: the caller re-reads the state */
	return 0;
}

static int wait_be(struct pvio_netfront *nf, unsigned mask, long long deadline, bool cancellable,
		   enum pvio_xenbus_state *st)
{
	for (;;) {
		int r;

		*st = be_state(nf);
		if (mask & PVIO_XENBUS_MASK(*st))
			return 0;
		r = wait_change(nf, deadline, cancellable);
		if (r < 0)
			return r;
	}
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
	struct pvio_netfront *nf = arg;
	const struct nf_params *p = &nf->p;
	char **names = NULL, path[400], dir[300];
	unsigned n = 0;
	int r;

	r = pvio_xs_directory(xs, tx, nf->fe_path, &names, &n);
	if (r == -ENOENT)
		return -ENODEV;
	if (r < 0)
		return r;
	for (unsigned i = 0; i < n; i++) {
		if (!stale_key(names[i]))
			continue;
		snprintf(path, sizeof(path), "%s/%s", nf->fe_path, names[i]);
		r = pvio_xs_rm(xs, tx, path);
		if (r < 0 && r != -ENOENT)
			break;
		r = 0;
	}
	free(names);
	if (r < 0)
		return r;

	if (nf->ctl.be_mq && (r = wr(xs, tx, nf->fe_path, "multi-queue-num-queues",
				     p->nr_queues)) < 0)
		return r;
	for (unsigned qi = 0; qi < p->nr_queues; qi++) {
		const struct nf_queue *q = &nf->q[qi];

		if (p->nr_queues > 1)
			snprintf(dir, sizeof(dir), "%s/queue-%u", nf->fe_path, qi);
		else
			snprintf(dir, sizeof(dir), "%s", nf->fe_path);
		if ((r = wr(xs, tx, dir, "tx-ring-ref", q->tx_ring_ref)) < 0 ||
		    (r = wr(xs, tx, dir, "rx-ring-ref", q->rx_ring_ref)) < 0)
			return r;
		if (p->split) {
			if ((r = wr(xs, tx, dir, "event-channel-tx", q->port[NF_TX])) < 0 ||
			    (r = wr(xs, tx, dir, "event-channel-rx", q->port[NF_RX])) < 0)
				return r;
		} else if ((r = wr(xs, tx, dir, "event-channel", q->port[NF_TX])) < 0) {
			return r;
		}
	}
	if ((r = wr(xs, tx, nf->fe_path, "request-rx-copy", 1)) < 0 ||
	    (r = wr(xs, tx, nf->fe_path, "feature-rx-notify", 1)) < 0 ||
	    (r = wr(xs, tx, nf->fe_path, "feature-sg", !nf->opts.no_sg)) < 0 ||
	    (r = wr(xs, tx, nf->fe_path, "feature-gso-tcpv4", p->rx_gso_tcpv4)) < 0 ||
	    (r = wr(xs, tx, nf->fe_path, "feature-gso-tcpv6", p->rx_gso_tcpv6)) < 0 ||
	    (r = wr(xs, tx, nf->fe_path, "feature-no-csum-offload", !p->rx_csum)) < 0 ||
	    (r = wr(xs, tx, nf->fe_path, "feature-ipv6-csum-offload",
		    p->rx_csum && !nf->opts.no_ipv6_csum_offload)) < 0)
		return r;
	/* Going straight to Connected (Linux netfront): in the same
	 * transaction, so the backend never sees half of it. */
	return pvio_xenbus_switch_state(xs, tx, nf->fe_path, PVIO_XENBUS_STATE_CONNECTED);
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
	struct nf_ctl *c = &nf->ctl;
	const struct pvio_netfront_opts *o = &nf->opts;
	unsigned long long mq;
	struct nf_params np;
	unsigned nq;
	int r;

	if (!be_flag(nf, "feature-rx-copy")) {
		nf_log(nf, "the backend offers no feature-rx-copy (rx-flip is not supported)");
		return -EOPNOTSUPP;
	}
	mq = be_uint(nf, "multi-queue-max-queues", 0, &c->be_mq);
	if (!nf->nr_queues) {
		unsigned want = o->max_queues ? o->max_queues : 1;

		nq = c->be_mq && mq > 0 ? (mq < want ? (unsigned)mq : want) : 1;
		if (nq > NF_MAX_QUEUES)
			nq = NF_MAX_QUEUES;
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
		if (nq > 1 && (!c->be_mq || mq < nq)) {
			nf_log(nf, "the backend now offers %llu queue(s); this device uses %u",
			       c->be_mq ? mq : 1, nq);
			return -EPROTO;
		}
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

		be = be_state(nf);
		if (be == PVIO_XENBUS_STATE_INITWAIT)
			break;
		if (!fe_present(nf)) {
			nf_log(nf, "the device was unplugged");
			return -ENODEV;
		}
		switch (be) {
		case PVIO_XENBUS_STATE_CLOSED:
			/* Please reconnect -- unless the toolstack is taking the
			 * device away (online=0): then wait for the nodes to go. */
			want = be_uint(nf, "online", 1, NULL) ? PVIO_XENBUS_STATE_INITIALISING
							      : PVIO_XENBUS_STATE_CLOSED;
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
		if (nf->ctl.fe_state != (int)want && set_fe_state(nf, want) == -ENODEV)
			return -ENODEV;
		r = wait_change(nf, deadline, cancellable);
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
	r = pvio_xs_transaction_run(nf->xs, tx_write_keys, nf);
	if (r < 0) {
		if (r != -ENODEV)
			nf_log(nf, "writing the transport keys failed: %s", strerror(-r));
		goto err;
	}
	nf->ctl.fe_state = PVIO_XENBUS_STATE_CONNECTED;

	/* 3. The backend's Connected. */
	r = wait_be(nf, M(CONNECTED) | M(CLOSING) | M(CLOSED) | M(UNKNOWN) | M(INITIALISING),
		    deadline, cancellable, &be);
	if (r < 0)
		goto err;
	if (be != PVIO_XENBUS_STATE_CONNECTED) {
		nf_log(nf, "the backend went to %s during the handshake",
		       pvio_xenbus_state_name(be));
		r = -ECONNRESET;
		goto err;
	}
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
	if (nf->ctl.fe_state != PVIO_XENBUS_STATE_CLOSED)
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
	struct nf_ctl *c = &nf->ctl;
	bool killed = false;
	struct pollfd pf[3] = {
		{ .fd = c->watch_fd, .events = POLLIN },
		{ .fd = nf->kick_fd, .events = POLLIN },
		{ .fd = nf->stop_fd, .events = POLLIN },
	};

	for (;;) {
		enum pvio_xenbus_state be;
		long long deadline;
		bool lost;
		uint64_t v;
		int r;

		if (poll(pf, 3, -1) < 0 && errno != EINTR)
			break;
		if (__atomic_load_n(&nf->stop, __ATOMIC_ACQUIRE))
			break;
		if (read(nf->kick_fd, &v, sizeof(v)) < 0) {
			/* EAGAIN: not kicked */
		}
		while (pvio_xs_read_watch(nf->xs, NULL, &c->ev, 0) == 0)
			;
		/* The backend may have let go of grants it held at teardown. */
		nf_retry_deferred(nf);
		if (__atomic_load_n(&nf->dead, __ATOMIC_ACQUIRE)) {
			if (!killed)
				kill_device(nf);
			killed = true;
			continue;
		}
		be = be_state(nf);
		lost = any_lost(nf);
		if (be == PVIO_XENBUS_STATE_CONNECTED && !lost)
			continue;

		/* The backend went away, or a new one announced itself. */
		nf_log_peer(nf, "backend %s (state %s): reconnecting",
		       lost ? "closed its event channel" : "left Connected",
		       pvio_xenbus_state_name(be));
		all_down(nf, false);
		deadline = nf_now_ms() + nf->opts.timeout_ms;
		do {
			r = nf_connect(nf, deadline, true);
		} while (r == -ECONNRESET && nf_now_ms() < deadline);
		if (r == 0) {
			__atomic_add_fetch(&nf->st_reconnects, 1, __ATOMIC_RELAXED);
			nf_log_peer(nf, "reconnected to the backend");
			continue;
		}
		if (r == -ECANCELED)
			break;
		{
			char why[96];

			if (r == -ENODEV)
				snprintf(why, sizeof(why), "the device was unplugged");
			else if (r == -ETIMEDOUT || r == -ECONNRESET)
				snprintf(why, sizeof(why), "no backend came back within %u ms",
					 nf->opts.timeout_ms);
			else
				snprintf(why, sizeof(why), "reconnection failed: %s", strerror(-r));
			nf_disable(nf, why);
		}
		kill_device(nf);
		killed = true;
	}
	return NULL;
}

/* ------------------------------------------------------------ open / close */

static void nf_free(struct pvio_netfront *nf)
{
	for (unsigned i = 0; i < nf->nr_queues; i++)
		nf_queue_fini(&nf->q[i]);
	if (nf->xs) {
		/* Unwatch first: the store must not be firing events at a
		 * connection as it goes away. */
		if (nf->ctl.watching)
			pvio_xs_unwatch(nf->xs, nf->ctl.state_path, nf->token);
		pvio_xs_close(nf->xs);
	}
	if (nf->kick_fd >= 0)
		close(nf->kick_fd);
	if (nf->stop_fd >= 0)
		close(nf->stop_fd);
	free(nf->def);
	pthread_mutex_destroy(&nf->info_lock);
	pthread_mutex_destroy(&nf->def_lock);
	pthread_mutex_destroy(&nf->log_lock);
	free(nf);
}

/* Toolstack keys of our own directory: backend, backend-id, mac, mtu. */
static int read_fe_keys(struct pvio_netfront *nf)
{
	char path[400], mac[32];
	unsigned long long v;
	size_t len;
	int r;

	snprintf(path, sizeof(path), "%s/backend", nf->fe_path);
	r = pvio_xs_read_buf(nf->xs, PVIO_XS_NO_TX, path, nf->be_path, sizeof(nf->be_path), &len);
	if (r < 0) {
		if (r == -ENOENT)
			nf_log(nf, "no device %s (or no backend key)", nf->fe_path);
		return r;
	}
	if (nf->be_path[0] != '/' || len < 2) {
		nf_log(nf, "bad backend path \"%s\"", nf->be_path);
		return -EPROTO;
	}
	r = pvio_xenbus_read_uint(nf->xs, PVIO_XS_NO_TX, nf->fe_path, "backend-id", &v);
	if (r < 0 || v > PVIO_DOMID_MAX_GUEST) {
		nf_log(nf, "bad or missing backend-id");
		return r < 0 ? r : -EPROTO;
	}
	nf->be_domid = (uint16_t)v;
	snprintf(path, sizeof(path), "%s/mac", nf->fe_path);
	r = pvio_xs_read_buf(nf->xs, PVIO_XS_NO_TX, path, mac, sizeof(mac), NULL);
	if (r < 0 || parse_mac(mac, nf->mac) < 0) {
		nf_log(nf, "no valid mac in %s", nf->fe_path);
		return -EPROTO;
	}
	nf->mtu = 1500;
	if (pvio_xenbus_read_uint(nf->xs, PVIO_XS_NO_TX, nf->fe_path, "mtu", &v) == 0 &&
	    v >= 68 && v <= PVIO_NETFRONT_MAX_FRAME - 14)
		nf->mtu = (unsigned)v;
	return 0;
}

PVIO_EXPORT int pvio_netfront_open(struct pvio_hv *hv, uint32_t devid,
				   const struct pvio_netfront_opts *opts,
				   struct pvio_netfront **out)
{
	struct pvio_netfront *nf;
	struct nf_ctl *c;
	char dom[128];
	int fd, r;

	if (!hv || !out)
		return -EINVAL;
	nf = calloc(1, sizeof(*nf));
	if (!nf)
		return -ENOMEM;
	c = &nf->ctl;
	c->watch_fd = -1;
	c->fe_state = -1;
	nf->kick_fd = nf->stop_fd = -1;
	pthread_mutex_init(&nf->info_lock, NULL);
	pthread_mutex_init(&nf->def_lock, NULL);
	pthread_mutex_init(&nf->log_lock, NULL);
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
	snprintf(nf->name, sizeof(nf->name), "dom%u/vif%u", nf->domid, devid);

	nf->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	nf->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (nf->kick_fd < 0 || nf->stop_fd < 0) {
		r = -errno;
		goto err;
	}
	if (!pvio_hv_mem(hv, NULL)) {
		r = -EINVAL;
		goto err;
	}

	/* The store, as this domain. */
	r = pvio_hv_xs_connect(hv, &fd);
	if (r < 0)
		goto err;
	r = pvio_xs_open_fd(fd, &nf->xs);
	if (r < 0)
		goto err;
	if (pvio_xs_get_domain_path(nf->xs, nf->domid, dom, sizeof(dom)) < 0)
		snprintf(dom, sizeof(dom), "/local/domain/%u", nf->domid);
	snprintf(nf->fe_path, sizeof(nf->fe_path), "%s/device/vif/%u", dom, devid);
	r = read_fe_keys(nf);
	if (r < 0)
		goto err;

	c->watch_fd = pvio_xs_watch_fd(nf->xs);
	if (c->watch_fd < 0) {
		r = c->watch_fd;
		goto err;
	}
	snprintf(c->state_path, sizeof(c->state_path), "%s/state", nf->be_path);
	snprintf(nf->token, sizeof(nf->token), "pvio-netfront/%u/%p", devid, (void *)nf);
	r = pvio_xs_watch(nf->xs, c->state_path, nf->token);
	if (r < 0)
		goto err;
	c->watching = true;
	{
		enum pvio_xenbus_state st;

		if (pvio_xenbus_read_state(nf->xs, PVIO_XS_NO_TX, nf->fe_path, &st) == 0)
			c->fe_state = st;
	}

	r = nf_connect(nf, nf_now_ms() + nf->opts.timeout_ms, false);
	if (r < 0) {
		nf_log(nf, "connecting to the backend %s failed: %s", nf->be_path, strerror(-r));
		if (c->fe_state == PVIO_XENBUS_STATE_CONNECTED)
			set_fe_state(nf, PVIO_XENBUS_STATE_CLOSING);
		goto err;
	}
	r = -pthread_create(&nf->thr, NULL, ctl_main, nf);
	if (r < 0) {
		set_fe_state(nf, PVIO_XENBUS_STATE_CLOSING);
		all_down(nf, true);
		goto err;
	}
	nf->thr_running = true;
	*out = nf;
	return 0;
err:
	nf_abandon_deferred(nf);
	nf_free(nf);
	return r;
}

PVIO_EXPORT void pvio_netfront_close(struct pvio_netfront *nf)
{
	struct nf_ctl *c;
	enum pvio_xenbus_state be;
	uint64_t one = 1;

	if (!nf)
		return;
	c = &nf->ctl;
	__atomic_store_n(&nf->stop, 1, __ATOMIC_RELEASE);
	if (write(nf->stop_fd, &one, sizeof(one)) < 0) {
		/* cannot fail on our eventfd */
	}
	if (nf->thr_running) {
		pthread_join(nf->thr, NULL);
		nf->thr_running = false;
	}
	/* Closing, and wait (bounded) until the backend let go of the rings
	 * (Linux netback unmaps, then answers Closing) -- also on a disabled
	 * device: a backend that lets go gets its grants revoked instead of
	 * leaked. */
	be = be_state(nf);
	if (c->fe_state == PVIO_XENBUS_STATE_CONNECTED && be != PVIO_XENBUS_STATE_CLOSED &&
	    be != PVIO_XENBUS_STATE_UNKNOWN && !any_lost(nf)) {
		set_fe_state(nf, PVIO_XENBUS_STATE_CLOSING);
		if (wait_be(nf, M(CLOSING) | M(CLOSED) | M(UNKNOWN), nf_now_ms() + nf->opts.timeout_ms,
			    false, &be) < 0)
			nf_log(nf, "the backend did not close within %u ms", nf->opts.timeout_ms);
	}
	all_down(nf, true);
	if (c->fe_state != PVIO_XENBUS_STATE_CLOSED)
		set_fe_state(nf, PVIO_XENBUS_STATE_CLOSED);
	/* Grants still held (a backend that was Closing for the toolstack
	 * when we started): it lets go on our Closed. */
	if (nf_retry_deferred(nf)) {
		long long deadline = nf_now_ms() + nf->opts.timeout_ms;

		while (nf_retry_deferred(nf) && be_state(nf) != PVIO_XENBUS_STATE_CLOSED &&
		       be_state(nf) != PVIO_XENBUS_STATE_UNKNOWN &&
		       wait_change(nf, deadline, false) == 0)
			;
	}
	nf_abandon_deferred(nf);
	nf_free(nf);
}
