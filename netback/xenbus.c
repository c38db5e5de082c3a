/* SPDX-License-Identifier: MIT */
/*
 * pvio-netback control plane: the vif device's xenbus side (Linux's
 * xen-netback/xenbus.c). Probe reads the toolstack's keys and publishes the
 * features; connect reads and validates the frontend's keys, maps its rings,
 * binds its ports, plugs the vif into its bridge and starts one poller per
 * queue; disconnect unplugs it (no forwarder holds it any more), stops the
 * pollers, frees what is still queued toward it and releases the rest
 * (XSA-350 order: pollers stop before ring state goes away).
 *
 * Backend keys written by the toolstack: mac (the guest's address: source
 * MAC filter), bridge (default: --default-bridge, br0), rate (libxl's
 * "<bytes>,<usec>": the guest's tx limit, watched and applied live as
 * Linux netback does; a value that does not parse keeps the limit in
 * force), and pvio's mac-filter (0 turns the source filter off).
 *
 * Frontend keys watched while connected (as Linux netback, which Windows'
 * xenvif relies on): request-multicast-control (feature-dynamic-multicast-
 * control: the filter applies only while it is 1, re-sampled on every
 * change without a reconnection) and xdp-headroom (read at connect and at
 * the frontend's Reconfiguring, answered by Reconfigured; also applied
 * when it changes while connected: Linux netfront writes it after going
 * Reconfiguring, so a backend that reads it only then may read the old
 * value). A headroom that leaves no room for a frame in the first rx page
 * is refused with a message and the one in force stays.
 *
 * Written by us: the feature-* keys, exactly "0" or "1" (xenvif parses
 * them with strtol(..., 2)), and carrier (netif.h's link state: "0" until
 * the vif is plugged into its bridge, "1" while it is, "0" again once it
 * is unplugged; Linux netback writes none, which frontends read as up).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "netback/common.h"
#include "xenstore/xenbus.h"

/* Set by pvio-netback.c: bridge of a vif without a "bridge" key. */
const char *nb_default_bridge = "br0";

static bool fe_flag(struct pvio_backend_dev *dev, const char *key)
{
	unsigned long long v;

	return pvio_backend_read_uint(dev, true, key, &v) == 0 && v != 0;
}

/* Apply the backend's "rate" key (absent: unlimited). A bad value is
 * refused with a message and the limit in force stays. */
static void vif_read_rate(struct pvio_backend_dev *dev, struct nb_vif *v, bool initial)
{
	char buf[64], err[160], desc[96];
	uint64_t b = 0, u = 0;
	int r = pvio_backend_read(dev, false, "rate", buf, sizeof(buf));

	if (r < 0 && r != -ENOENT) {
		pvio_rate_describe(v->rate_bytes, v->rate_usec, desc, sizeof(desc));
		pvio_backend_log(dev, "cannot read rate: %s; the tx rate stays %s",
				 r == -ERANGE ? "value too long" : strerror(-r), desc);
		return;
	}
	if (r == 0 && pvio_rate_key_parse(buf, &b, &u, err, sizeof(err)) < 0) {
		pvio_rate_describe(v->rate_bytes, v->rate_usec, desc, sizeof(desc));
		pvio_backend_log(dev, "rate refused: %s; the tx rate stays %s", err, desc);
		return;
	}
	if (!u)
		b = 0;
	if (b == v->rate_bytes && u == v->rate_usec && !(initial && u))
		return;
	pthread_spin_lock(&v->rate_lock);
	pvio_credit_set(&v->credit, b, u, nb_now_ns());
	pthread_spin_unlock(&v->rate_lock);
	pvio_store_relaxed(&v->rate_bytes, b);
	pvio_store_relaxed(&v->rate_usec, u);
	pvio_store_release(&v->rate_on, u != 0);
	pvio_rate_describe(b, u, desc, sizeof(desc));
	pvio_backend_log(dev, "tx rate %s", desc);
	/* A queue waiting for credit sleeps until the old replenish: wake it
	 * to use the new limit now. */
	for (unsigned i = 0; i < NB_MAX_QUEUES; i++) {
		struct nb_queue *q = &v->q[i];
		uint64_t one = 1;

		if (q->running && q->outq && write(q->outq->kick_fd, &one, sizeof(one)) < 0) {
			/* saturated: it is awake anyway */
		}
	}
}

_Static_assert(NB_XDP_HEADROOM_MAX == 2578 && PVIO_XEN_NETIF_MAX_XDP_HEADROOM == 32767,
	       "the messages below name these limits");

/* The frontend's xdp-headroom: 0 if absent; -EINVAL for a value that is
 * not a number or leaves no room for a frame, said once per value (when:
 * the event, then: what happens instead). */
static int read_xdp_headroom(struct pvio_backend_dev *dev, struct nb_vif *v, const char *when,
			     const char *then, uint16_t *out)
{
	unsigned long long h = 0;
	const char *why = NULL;
	char buf[24], val[24];
	int r = pvio_backend_read(dev, true, "xdp-headroom", buf, sizeof(buf));

	*out = 0;
	if (r == -ENOENT) {
		v->xdp_refused[0] = 0;
		return 0;
	}
	if (r < 0) {
		snprintf(val, sizeof(val), "(unreadable)");
		why = "not a number of bytes";
	} else {
		snprintf(val, sizeof(val), "%s", buf);
		if (pvio_backend_read_uint(dev, true, "xdp-headroom", &h) < 0)
			why = "not a number of bytes";
		else if (h > PVIO_XEN_NETIF_MAX_XDP_HEADROOM)
			why = "more than netif.h's maximum 32767";
		else if (h > NB_XDP_HEADROOM_MAX)
			why = "more than 2578 leaves no room for a 1518-byte frame in the "
			      "first rx page";
	}
	if (why) {
		if (strcmp(val, v->xdp_refused) != 0)
			pvio_backend_log(dev, "%s: xdp-headroom %s%s%s refused: %s; %s", when,
					 r < 0 || h == 0 ? "'" : "", val, r < 0 || h == 0 ? "'" : "",
					 why, then);
		snprintf(v->xdp_refused, sizeof(v->xdp_refused), "%s", val);
		return -EINVAL;
	}
	v->xdp_refused[0] = 0;
	*out = (uint16_t)h;
	return 0;
}

/* Apply the frontend's xdp-headroom to a connected vif (a refused value
 * keeps the headroom in force). */
static void vif_read_xdp(struct pvio_backend_dev *dev, struct nb_vif *v, const char *when)
{
	uint16_t h, cur = pvio_load_relaxed(&v->xdp_headroom);
	char then[48];

	snprintf(then, sizeof(then), "the rx headroom stays %u", cur);
	if (read_xdp_headroom(dev, v, when, then, &h) < 0 || h == cur)
		return;
	/* The data path reads it once per round, and says in each
	 * packet's XDP extra which one it used. */
	pvio_store_relaxed(&v->xdp_headroom, h);
	pvio_backend_log(dev, "%s: rx headroom %u (xdp-headroom)", when, h);
}

/* request-multicast-control, re-sampled (feature-dynamic-multicast-control,
 * as Linux's xen_mcast_ctrl_changed()). */
static void vif_read_mcast(struct pvio_backend_dev *dev, struct nb_vif *v)
{
	bool on;

	if (!v->port || !v->cfg->feat_mcast)
		return;
	on = fe_flag(dev, "request-multicast-control");
	if (on == v->mcast_ctrl)
		return;
	v->mcast_ctrl = on;
	/* Forwarders read it per multicast frame. */
	pvio_store_relaxed(&v->port->mcast_ctrl, on);
	pvio_backend_log(dev, "multicast filter %s (request-multicast-control)",
			 on ? "on" : "off");
}

static void vif_key_changed(struct pvio_backend_dev *dev, const char *key)
{
	struct nb_vif *v = dev->priv;

	if (!v)
		return;
	if (!strcmp(key, "rate"))
		vif_read_rate(dev, v, false);
	else if (!strcmp(key, "request-multicast-control"))
		vif_read_mcast(dev, v);
	else if (!strcmp(key, "xdp-headroom") && v->port)
		vif_read_xdp(dev, v, "xdp-headroom changed");
}

/* The frontend went Reconfiguring (Linux netfront toggling XDP): re-read
 * xdp-headroom; the core answers Reconfigured. */
static void vif_reconfigure(struct pvio_backend_dev *dev)
{
	struct nb_vif *v = dev->priv;

	if (v && v->port)
		vif_read_xdp(dev, v, "reconfiguring");
}

struct carrier_args {
	const char *dir;
	const char *val;
};

/* Only while the device's directory exists (its state node), in one
 * transaction: a device the toolstack just removed is not re-created. */
static int carrier_tx(struct pvio_xs *xs, uint32_t tx, void *arg)
{
	struct carrier_args *a = arg;
	char path[320], buf[16];
	int r;

	snprintf(path, sizeof(path), "%s/state", a->dir);
	r = pvio_xs_read_buf(xs, tx, path, buf, sizeof(buf), NULL);
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "%s/carrier", a->dir);
	return pvio_xs_write(xs, tx, path, a->val, 1);
}

static void set_carrier(struct pvio_backend_dev *dev, bool up)
{
	struct carrier_args a = { .dir = dev->be_path, .val = up ? "1" : "0" };

	pvio_xs_transaction_run(dev->xs, carrier_tx, &a);
}

static int vif_probe(struct pvio_backend_dev *dev)
{
	const struct nb_cfg *cfg = pvio_backend_ctx(dev->be);
	struct nb_vif *v = dev->priv;
	char buf[64];
	int r;

	if (!v) {
		v = calloc(1, sizeof(*v));
		if (!v)
			return -ENOMEM;
		v->broken_efd = -1;
		if (pthread_spin_init(&v->rate_lock, PTHREAD_PROCESS_PRIVATE) != 0) {
			free(v);
			return -ENOMEM;
		}
		pvio_credit_init(&v->credit, PVIO_XEN_NETIF_MAX_TX_SIZE);
		dev->priv = v;
	}
	v->hv = dev->hv;
	v->fe_domid = dev->fe_domid;
	v->devid = dev->devid;
	v->cfg = cfg;
	snprintf(v->name, sizeof(v->name), "vif%u.%u", dev->fe_domid, dev->devid);
	for (unsigned i = 0; i < NB_MAX_QUEUES; i++) {
		v->q[i].vif = v;
		v->q[i].idx = i;
		snprintf(v->q[i].name, sizeof(v->q[i].name), "%s-q%u", v->name, i);
	}

	snprintf(v->bridge, sizeof(v->bridge), "%s", nb_default_bridge);
	r = pvio_backend_read(dev, false, "bridge", buf, sizeof(buf));
	if (r == 0 && buf[0]) {
		if (strlen(buf) >= sizeof(v->bridge)) {
			pvio_backend_log(dev, "bridge name '%s' too long (max %d)", buf,
					 NB_BRIDGE_NAME_MAX - 1);
			return -EINVAL;
		}
		snprintf(v->bridge, sizeof(v->bridge), "%s", buf);
	}
	if (nb_bridge_get(v->bridge) < 0) {
		pvio_backend_log(dev, "invalid bridge '%s' (or too many bridges)", v->bridge);
		return -EINVAL;
	}
	v->has_mac = false;
	if (pvio_backend_read(dev, false, "mac", buf, sizeof(buf)) == 0) {
		if (nb_mac_parse(buf, v->mac) < 0 || nb_mac_is_multicast(v->mac) ||
		    nb_mac_is_zero(v->mac)) {
			pvio_backend_log(dev, "invalid mac '%s'", buf);
			return -EINVAL;
		}
		v->has_mac = true;
	}
	v->mac_filter = v->has_mac;
	if (pvio_backend_read(dev, false, "mac-filter", buf, sizeof(buf)) == 0 &&
	    strcmp(buf, "0") == 0)
		v->mac_filter = false;
	if (!v->has_mac)
		pvio_backend_log(dev, "no 'mac' key: the guest may send from any address");
	vif_read_rate(dev, v, true);
	if (v->broken_efd < 0) {
		v->broken_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (v->broken_efd < 0)
			return -errno;
	}
	if (!v->registered)
		nb_vif_register(v);

	/* Features, before InitWait. */
	pvio_backend_printf(dev, PVIO_XS_NO_TX, "feature-sg", "%d", cfg->feat_sg);
	pvio_backend_printf(dev, PVIO_XS_NO_TX, "feature-gso-tcpv4", "%d", cfg->feat_gso);
	pvio_backend_printf(dev, PVIO_XS_NO_TX, "feature-gso-tcpv6", "%d", cfg->feat_gso);
	pvio_backend_printf(dev, PVIO_XS_NO_TX, "feature-ipv6-csum-offload", "%d",
			    cfg->feat_csum6);
	pvio_backend_printf(dev, PVIO_XS_NO_TX, "feature-rx-copy", "1");
	pvio_backend_printf(dev, PVIO_XS_NO_TX, "feature-rx-flip", "0");
	pvio_backend_printf(dev, PVIO_XS_NO_TX, "feature-multicast-control", "%d",
			    cfg->feat_mcast);
	/* request-multicast-control is watched (fe_live_keys). */
	pvio_backend_printf(dev, PVIO_XS_NO_TX, "feature-dynamic-multicast-control", "%d",
			    cfg->feat_mcast);
	pvio_backend_printf(dev, PVIO_XS_NO_TX, "feature-xdp-headroom", "1");
	pvio_backend_printf(dev, PVIO_XS_NO_TX, "feature-split-event-channels", "%d",
			    cfg->feat_split);
	pvio_backend_printf(dev, PVIO_XS_NO_TX, "multi-queue-max-queues", "%u", cfg->max_queues);
	pvio_backend_printf(dev, PVIO_XS_NO_TX, "feature-ctrl-ring", "%d", cfg->feat_ctrl);
	/* Not in Xen's netif.h: a frontend that keeps its tx and rx pages
	 * granted for the whole connection (never ending access while
	 * connected, as pvio's netfront) says feature-persistent=1, and we
	 * keep them mapped (netback.c: nb_copy). Linux's netfront ends access
	 * after every response and writes no such key: grant copy. */
	pvio_backend_printf(dev, PVIO_XS_NO_TX, "feature-persistent", "%d",
			    cfg->feat_persistent);
	/* What a hotplug script would say once the port is plugged: toolstacks
	 * (libxl) wait for it. */
	pvio_backend_printf(dev, PVIO_XS_NO_TX, "hotplug-status", "connected");
	/* Not plugged into the bridge yet. */
	pvio_backend_printf(dev, PVIO_XS_NO_TX, "carrier", "0");
	return 0;
}

/* Close a port we bound, through its handle: a number that is not (or no
 * longer) ours is never closed. */
static void close_port(struct nb_vif *v, pvio_evtchn_port_t *port, struct pvio_evtchn *ch)
{
	if (*port && pvio_hv_evtchn_unbind(v->hv, *port, ch) < 0)
		fprintf(stderr, "netback: %s: port %u is not the channel we bound; left alone\n",
			v->name, *port);
	*port = 0;
}

static void vif_teardown(struct pvio_backend_dev *dev)
{
	struct nb_vif *v = dev->priv;
	struct nb_port *p;

	if (!v)
		return;
	p = v->port;
	/* 1. No forwarder queues anything toward us any more. */
	if (p)
		nb_port_down(p);
	/* 2. Our pollers stop: nothing touches the rings after this. */
	for (unsigned i = 0; i < NB_MAX_QUEUES; i++)
		nb_queue_stop(&v->q[i]);
	/* 3. Forget our addresses, free what is still queued, free the port. */
	if (p) {
		pthread_mutex_lock(&nb_sw.lock);
		for (unsigned i = 0; i < p->nr_outq; i++) {
			v->st.backlog_drops += pvio_load_relaxed(&p->outq[i].drops);
			v->st.too_big += pvio_load_relaxed(&p->outq[i].too_big);
		}
		v->port = NULL;
		pthread_mutex_unlock(&nb_sw.lock);
		nb_port_free(p);
	}
	/* 4. Rings and ports. */
	for (unsigned i = 0; i < NB_MAX_QUEUES; i++) {
		struct nb_queue *q = &v->q[i];

		pvio_hv_unmap_ring(v->hv, &q->txmap);
		pvio_hv_unmap_ring(v->hv, &q->rxmap);
		if (q->port_rx != q->port_tx)
			close_port(v, &q->port_rx, q->ch_rx);
		q->port_rx = 0;
		close_port(v, &q->port_tx, q->ch_tx);
		q->ch_tx = q->ch_rx = NULL;
	}
	pvio_hv_unmap_ring(v->hv, &v->ctrlmap);
	close_port(v, &v->port_ctrl, v->ch_ctrl);
	v->ch_ctrl = NULL;
	v->has_ctrl = false;
	v->nr_queues = 0;
	v->mcast_ctrl = false;
	pvio_store_relaxed(&v->xdp_headroom, 0);
	pvio_store_release(&v->broken, 0);
	if (v->broken_efd >= 0) {
		uint64_t x;

		if (read(v->broken_efd, &x, sizeof(x)) < 0) {
			/* nothing pending */
		}
	}
}

static void vif_disconnect(struct pvio_backend_dev *dev)
{
	struct nb_vif *v = dev->priv;
	bool was_up = v && v->port;

	vif_teardown(dev);
	if (was_up)
		set_carrier(dev, false);
}

/* Read a queue's keys: under <fe>/queue-<i>/ with several queues, at the
 * top otherwise (as Linux's connect_data_rings()). */
static int read_queue_keys(struct pvio_backend_dev *dev, struct nb_vif *v, unsigned i)
{
	struct nb_queue *q = &v->q[i];
	unsigned long long tx, rx, ev, evtx, evrx;
	char key[64], pfx[24] = "";

	if (v->nr_queues > 1)
		snprintf(pfx, sizeof(pfx), "queue-%u/", i);
	snprintf(key, sizeof(key), "%stx-ring-ref", pfx);
	if (pvio_backend_read_uint(dev, true, key, &tx) < 0 || tx > UINT32_MAX)
		goto bad;
	snprintf(key, sizeof(key), "%srx-ring-ref", pfx);
	if (pvio_backend_read_uint(dev, true, key, &rx) < 0 || rx > UINT32_MAX)
		goto bad;
	q->tx_ref = (uint32_t)tx;
	q->rx_ref = (uint32_t)rx;
	snprintf(key, sizeof(key), "%sevent-channel-tx", pfx);
	if (pvio_backend_read_uint(dev, true, key, &evtx) == 0) {
		if (!v->cfg->feat_split) {
			pvio_backend_log(dev, "split event channels were not offered");
			return -EINVAL;
		}
		snprintf(key, sizeof(key), "%sevent-channel-rx", pfx);
		if (pvio_backend_read_uint(dev, true, key, &evrx) < 0 || evtx == 0 || evrx == 0 ||
		    evtx > UINT32_MAX || evrx > UINT32_MAX)
			goto bad;
		q->fe_port_tx = (pvio_evtchn_port_t)evtx;
		q->fe_port_rx = (pvio_evtchn_port_t)evrx;
		v->split = true;
		return 0;
	}
	snprintf(key, sizeof(key), "%sevent-channel", pfx);
	if (pvio_backend_read_uint(dev, true, key, &ev) < 0 || ev == 0 || ev > UINT32_MAX)
		goto bad;
	q->fe_port_tx = q->fe_port_rx = (pvio_evtchn_port_t)ev;
	return 0;
bad:
	pvio_backend_log(dev, "frontend key %s missing or invalid", key);
	return -EINVAL;
}

static int map_queue(struct pvio_backend_dev *dev, struct nb_vif *v, unsigned i)
{
	struct nb_queue *q = &v->q[i];
	char why[128];
	int r;

	r = pvio_hv_map_ring(v->hv, v->fe_domid, &q->tx_ref, 1, &q->txmap);
	if (r < 0) {
		pvio_backend_log(dev, "queue %u: cannot map tx ring (gref %u): %s", i, q->tx_ref,
				 pvio_hv_strerror(v->hv, r, why, sizeof(why)));
		return r;
	}
	r = pvio_hv_map_ring(v->hv, v->fe_domid, &q->rx_ref, 1, &q->rxmap);
	if (r < 0) {
		pvio_backend_log(dev, "queue %u: cannot map rx ring (gref %u): %s", i, q->rx_ref,
				 pvio_hv_strerror(v->hv, r, why, sizeof(why)));
		return r;
	}
	if (pvio_netif_tx_back_attach(&q->tx, q->txmap.addr, PVIO_PAGE_SIZE) < 0 ||
	    pvio_netif_rx_back_attach(&q->rx, q->rxmap.addr, PVIO_PAGE_SIZE) < 0)
		return -EINVAL;
	r = pvio_hv_evtchn_bind(v->hv, v->fe_domid, q->fe_port_tx, &q->port_tx);
	if (r < 0) {
		q->port_tx = 0;
		pvio_backend_log(dev, "queue %u: cannot bind event channel %u: %s", i,
				 q->fe_port_tx, pvio_hv_strerror(v->hv, r, why, sizeof(why)));
		return r;
	}
	q->ch_tx = pvio_hv_evtchn_handle(v->hv, q->port_tx);
	if (q->fe_port_rx != q->fe_port_tx) {
		r = pvio_hv_evtchn_bind(v->hv, v->fe_domid, q->fe_port_rx, &q->port_rx);
		if (r < 0) {
			q->port_rx = 0;
			pvio_backend_log(dev, "queue %u: cannot bind event channel %u: %s", i,
					 q->fe_port_rx, pvio_hv_strerror(v->hv, r, why, sizeof(why)));
			return r;
		}
		q->ch_rx = pvio_hv_evtchn_handle(v->hv, q->port_rx);
	} else {
		q->port_rx = q->port_tx;
		q->ch_rx = q->ch_tx;
	}
	if (!q->ch_tx || !q->ch_rx)
		return -EINVAL;
	return 0;
}

static int map_ctrl(struct pvio_backend_dev *dev, struct nb_vif *v)
{
	unsigned long long ref, ev;
	char why[128];
	uint32_t r32;
	int r;

	if (pvio_backend_read_uint(dev, true, "ctrl-ring-ref", &ref) < 0)
		return 0;   /* no control ring: fine */
	if (!v->cfg->feat_ctrl) {
		pvio_backend_log(dev, "ctrl-ring-ref given but feature-ctrl-ring was not offered");
		return -EINVAL;
	}
	if (ref > UINT32_MAX ||
	    pvio_backend_read_uint(dev, true, "event-channel-ctrl", &ev) < 0 || ev == 0 ||
	    ev > UINT32_MAX) {
		pvio_backend_log(dev, "ctrl-ring-ref without a valid event-channel-ctrl");
		return -EINVAL;
	}
	r32 = (uint32_t)ref;
	r = pvio_hv_map_ring(v->hv, v->fe_domid, &r32, 1, &v->ctrlmap);
	if (r < 0) {
		pvio_backend_log(dev, "cannot map ctrl ring (gref %u): %s", r32,
				 pvio_hv_strerror(v->hv, r, why, sizeof(why)));
		return r;
	}
	if (pvio_xen_netif_ctrl_back_attach(&v->ctrl, v->ctrlmap.addr, PVIO_PAGE_SIZE) < 0)
		return -EINVAL;
	v->fe_port_ctrl = (pvio_evtchn_port_t)ev;
	r = pvio_hv_evtchn_bind(v->hv, v->fe_domid, v->fe_port_ctrl, &v->port_ctrl);
	if (r < 0) {
		v->port_ctrl = 0;
		pvio_backend_log(dev, "cannot bind ctrl event channel %u: %s", v->fe_port_ctrl,
				 pvio_hv_strerror(v->hv, r, why, sizeof(why)));
		return r;
	}
	v->ch_ctrl = pvio_hv_evtchn_handle(v->hv, v->port_ctrl);
	if (!v->ch_ctrl)
		return -EINVAL;
	v->has_ctrl = true;
	return 0;
}

static int vif_connect(struct pvio_backend_dev *dev)
{
	struct nb_vif *v = dev->priv;
	const struct nb_cfg *cfg;
	unsigned long long n;
	struct nb_port *p;
	char hr[32] = "";
	int br, r;

	if (!v)
		return -ENODEV;
	cfg = v->cfg;
	/* Linux netback refuses page-flipping frontends. */
	if (!fe_flag(dev, "request-rx-copy")) {
		pvio_backend_log(dev, "frontend does not request rx-copy (only copying is "
				 "supported)");
		return -EOPNOTSUPP;
	}
	v->nr_queues = 1;
	if (pvio_backend_read_uint(dev, true, "multi-queue-num-queues", &n) == 0) {
		if (n == 0 || n > cfg->max_queues) {
			pvio_backend_log(dev, "multi-queue-num-queues %llu (1..%u)", n,
					 cfg->max_queues);
			return -EINVAL;
		}
		v->nr_queues = (unsigned)n;
	}
	v->split = false;
	v->rx_notify = fe_flag(dev, "feature-rx-notify");
	v->sg = cfg->feat_sg && fe_flag(dev, "feature-sg");
	/* Receiving a GSO packet takes several slots: only with sg. */
	v->gso4 = v->sg && cfg->feat_gso && fe_flag(dev, "feature-gso-tcpv4");
	v->gso6 = v->sg && cfg->feat_gso && fe_flag(dev, "feature-gso-tcpv6");
	v->csum4 = !fe_flag(dev, "feature-no-csum-offload");
	v->csum6 = fe_flag(dev, "feature-ipv6-csum-offload");
	v->persistent = cfg->feat_persistent && fe_flag(dev, "feature-persistent");
	v->mcast_ctrl = cfg->feat_mcast && fe_flag(dev, "request-multicast-control");
	{
		uint16_t h;

		/* Refused: connect without (Linux clamps instead). */
		v->xdp_refused[0] = 0;
		read_xdp_headroom(dev, v, "connect", "connecting without rx headroom", &h);
		pvio_store_relaxed(&v->xdp_headroom, h);
	}
	if (!v->rx_notify)
		pvio_backend_log(dev, "frontend without feature-rx-notify: polling its rx ring");
	for (unsigned i = 0; i < v->nr_queues; i++) {
		r = read_queue_keys(dev, v, i);
		if (r < 0)
			return r;
	}
	for (unsigned i = 0; i < v->nr_queues; i++) {
		r = map_queue(dev, v, i);
		if (r < 0)
			goto err;
	}
	r = map_ctrl(dev, v);
	if (r < 0)
		goto err;

	/* Plug into the bridge. */
	nb_hash_init(&v->hash);
	memset(v->mcast, 0, sizeof(v->mcast));
	br = nb_bridge_get(v->bridge);
	if (br < 0) {
		r = br;
		goto err;
	}
	p = nb_port_alloc(NB_PORT_VIF, br, v->name);
	if (!p) {
		pvio_backend_log(dev, "switch ports exhausted (limit %u, pvio-netback --max-ports)",
				 nb_sw.max_ports);
		r = -ENOSPC;
		goto err;
	}
	p->vif = v;
	p->mac_filter = v->mac_filter;
	memcpy(p->mac, v->mac, sizeof(p->mac));
	p->rx_sg = v->sg;
	p->rx_gso4 = v->gso4;
	p->rx_gso6 = v->gso6;
	p->rx_csum4 = v->csum4;
	p->rx_csum6 = v->csum6;
	p->mcast_ctrl = v->mcast_ctrl;
	p->hash = &v->hash;
	p->mcast = v->mcast;
	pvio_stats_dev_set_queues(dev->stats, v->nr_queues);
	pthread_mutex_lock(&nb_sw.lock);
	v->port = p;
	if (!v->pst && dev->stats) {
		/* nb_stats_publish() mirrors into it from now on, adding to
		 * what an earlier nb_vif of this device counted. */
		for (unsigned k = 0; k < NB_MAX_QUEUES && k < dev->stats->cap_queues; k++) {
			const uint64_t *a = (const uint64_t *)pvio_stats_queue(dev->stats, k);
			uint64_t *b = (uint64_t *)&v->pst_base[k];

			for (size_t j = 0; j < sizeof(v->pst_base[k]) / sizeof(uint64_t); j++)
				b[j] = pvio_load_relaxed(&a[j]);
		}
		v->pst = dev->stats;
	}
	pthread_mutex_unlock(&nb_sw.lock);
	r = nb_port_outq_init(p, v->nr_queues);
	if (r < 0)
		goto err;
	for (unsigned i = 0; i < v->nr_queues; i++) {
		r = nb_queue_start(&v->q[i]);
		if (r < 0)
			goto err;
	}
	nb_port_up(p);
	set_carrier(dev, true);
	if (v->xdp_headroom)
		snprintf(hr, sizeof(hr), ", rx headroom %u", v->xdp_headroom);
	pvio_fetch_add(&v->st.connects, 1);
	/* Rate-limited like every message a guest can cause (reconnect loops). */
	pvio_backend_log(dev, "connected to bridge %s: %u queue(s)%s%s%s%s%s%s%s, "
		"mac %02x:%02x:%02x:%02x:%02x:%02x%s%s", v->bridge, v->nr_queues,
		v->split ? ", split event channels" : "", v->sg ? ", sg" : "",
		v->gso4 ? ", gso-tcpv4" : "", v->gso6 ? ", gso-tcpv6" : "",
		v->csum4 ? "" : ", no-csum-offload", v->has_ctrl ? ", ctrl ring" : "",
		v->mcast_ctrl ? ", multicast control" : "", v->mac[0], v->mac[1], v->mac[2],
		v->mac[3], v->mac[4], v->mac[5], v->mac_filter ? "" : " (not enforced)",
		hr);
	return 0;
err:
	vif_teardown(dev);
	return r;
}

static void vif_remove(struct pvio_backend_dev *dev)
{
	struct nb_vif *v = dev->priv;

	if (!v)
		return;
	vif_teardown(dev);
	nb_vif_unregister(v);
	if (v->broken_efd >= 0)
		close(v->broken_efd);
	pthread_spin_destroy(&v->rate_lock);
	free(v);
	dev->priv = NULL;
}

static int vif_broken_fd(struct pvio_backend_dev *dev)
{
	struct nb_vif *v = dev->priv;

	return v ? v->broken_efd : -1;
}

static bool vif_broken(struct pvio_backend_dev *dev)
{
	struct nb_vif *v = dev->priv;

	return v && pvio_load_acquire(&v->broken);
}

static const char *const vif_live_keys[] = { "rate", NULL };
static const char *const vif_fe_live_keys[] = { "request-multicast-control", "xdp-headroom",
						NULL };

const struct pvio_backend_ops nb_vif_ops = {
	.type = "vif",
	/* Linux netfront skips Initialised and netback connects when the
	 * frontend is Connected; a frontend that does go through Initialised
	 * has written its keys by then, so connect on either. */
	.connect_mask = PVIO_XENBUS_MASK(PVIO_XENBUS_STATE_INITIALISED) |
			PVIO_XENBUS_MASK(PVIO_XENBUS_STATE_CONNECTED),
	.probe = vif_probe,
	.connect = vif_connect,
	.disconnect = vif_disconnect,
	.remove = vif_remove,
	.live_keys = vif_live_keys,
	.fe_live_keys = vif_fe_live_keys,
	.key_changed = vif_key_changed,
	.reconfigure = vif_reconfigure,
	.broken_fd = vif_broken_fd,
	.broken = vif_broken,
};
