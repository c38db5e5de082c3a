/* SPDX-License-Identifier: MIT */
/* The backend control loop: device discovery and the xenbus state machine
 * (see backend.h). One thread; drivers' data paths run on their own. */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/backend.h"
#include "ring/ratelimit.h"
#include "xenstore/xenbus.h"

/* The device table grows with the devices (no fixed cap: a backend serves
 * as many guests as the host runs); slots are reused. */
#define DEVS_INITIAL 64

struct pvio_backend {
	struct pvio_hv *hv;
	struct pvio_xs *xs;
	const struct pvio_backend_opts *opts;
	struct pvio_xenbus_devwatch *dw;
	struct pvio_backend_dev **devs;    /* nr_devs slots, NULL: free */
	unsigned nr_devs;
	struct pollfd *pf;                 /* the control loop's, 2 + nr_devs */
	int *pf_map;
	uint64_t next_token;
	struct pvio_ratelimit log_rl;   /* messages a frontend can trigger */
	/* The store connection failed (-errno; 0 while it works): the
	 * connected devices keep being served, nothing else happens. */
	int store_err;
	bool store_lost_told;           /* ... while devices were connected */
};

void *pvio_backend_ctx(struct pvio_backend *be)
{
	return be->opts->ctx;
}

unsigned pvio_backend_default_poll_us(unsigned dflt_us, long ncpus)
{
	if (ncpus <= 0)
		ncpus = sysconf(_SC_NPROCESSORS_ONLN);
	return ncpus == 1 ? 0 : dflt_us;
}

unsigned pvio_backend_poll_us(const char *prog, unsigned poll_us, bool given)
{
	if (given || !poll_us || pvio_backend_default_poll_us(poll_us, 0))
		return poll_us;
	fprintf(stderr, "%s: one CPU online: adaptive polling off (--poll-us N to spin)\n", prog);
	return 0;
}

void pvio_backend_log(struct pvio_backend_dev *dev, const char *fmt, ...)
{
	struct pvio_backend *be = dev->be;
	bool note;
	va_list ap;

	/* One budget for every device of this backend: 20 a second. */
	if (!pvio_ratelimit_allow(&be->log_rl, 20, &note))
		return;
	if (note)
		fprintf(stderr, "%s: (further messages were suppressed)\n", be->opts->ops->type);
	fprintf(stderr, "%s: dom%u/%u: ", be->opts->ops->type, dev->fe_domid, dev->devid);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int pvio_backend_read(struct pvio_backend_dev *dev, bool frontend, const char *key,
		      char *buf, size_t size)
{
	char path[320];
	size_t len;
	int r;

	snprintf(path, sizeof(path), "%s/%s", frontend ? dev->fe_path : dev->be_path, key);
	r = pvio_xs_read_buf(dev->xs, PVIO_XS_NO_TX, path, buf, size, &len);
	if (r < 0)
		return r;
	/* Text keys only: "x86_64-abi\0junk" is not "x86_64-abi". */
	if (memchr(buf, '\0', len)) {
		pvio_backend_log(dev, "%s/%s: a NUL inside the value", frontend ? "frontend" :
				 "backend", key);
		return -EINVAL;
	}
	return 0;
}

int pvio_backend_read_uint(struct pvio_backend_dev *dev, bool frontend, const char *key,
			   unsigned long long *val)
{
	return pvio_xenbus_read_uint(dev->xs, PVIO_XS_NO_TX,
				     frontend ? dev->fe_path : dev->be_path, key, val);
}

int pvio_backend_printf(struct pvio_backend_dev *dev, uint32_t tx, const char *key,
			const char *fmt, ...)
{
	char path[320], val[256];
	va_list ap;
	int n;

	snprintf(path, sizeof(path), "%s/%s", dev->be_path, key);
	va_start(ap, fmt);
	n = vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(val))
		return -EINVAL;
	return pvio_xs_write(dev->xs, tx, path, val, (size_t)n);
}

struct switch_args {
	const char *dir;
	enum pvio_xenbus_state st;
};

/* As Linux's xenbus_switch_state(): only if the node still exists, in one
 * transaction, so a device the toolstack just removed is not re-created. */
static int switch_tx(struct pvio_xs *xs, uint32_t tx, void *arg)
{
	struct switch_args *a = arg;
	enum pvio_xenbus_state cur;
	char path[256];
	size_t len;
	int r;

	snprintf(path, sizeof(path), "%s/state", a->dir);
	r = pvio_xs_read_buf(xs, tx, path, path, sizeof(path), &len);
	if (r < 0)
		return r;
	r = pvio_xenbus_read_state(xs, tx, a->dir, &cur);
	if (r == 0 && cur == a->st)
		return 0;
	return pvio_xenbus_switch_state(xs, tx, a->dir, a->st);
}

static void set_state(struct pvio_backend_dev *dev, enum pvio_xenbus_state st)
{
	struct switch_args a = { .dir = dev->be_path, .st = st };
	int r = dev->be->store_err ? 0 : pvio_xs_transaction_run(dev->xs, switch_tx, &a);

	if (r < 0 && r != -ENOENT)
		pvio_backend_log(dev, "cannot switch to %s: %s", pvio_xenbus_state_name(st),
				 strerror(-r));
	dev->state = st;
	if (dev->be->opts->verbose)
		fprintf(stderr, "%s: dom%u/%u: -> %s\n", dev->be->opts->ops->type,
			dev->fe_domid, dev->devid, pvio_xenbus_state_name(st));
}

static void dev_disconnect(struct pvio_backend_dev *dev)
{
	if (dev->connected) {
		dev->be->opts->ops->disconnect(dev);
		dev->connected = false;
	}
}

/* The device's record for pvio top: from its discovery to its removal, so
 * that its totals outlive a frontend's reconnection (each connection's
 * queues count into the same slots, one connection at a time). Made
 * again before a connect if it could not be made at discovery. */
static int dev_stats_add(struct pvio_backend_dev *dev)
{
	const char *type = dev->be->opts->ops->type;
	bool vif = !strcmp(type, "vif");
	char label[32];

	if (vif)
		snprintf(label, sizeof(label), "vif%u.%u", dev->fe_domid, dev->devid);
	else
		snprintf(label, sizeof(label), "dom%u/%u", dev->fe_domid, dev->devid);
	dev->stats = pvio_stats_dev_add(dev->be->opts->stats,
					vif ? PVIO_STATS_VIF : PVIO_STATS_VBD, dev->fe_domid,
					dev->devid, 0, label);
	return dev->stats ? 0 : -ENOMEM;
}

static void dev_probe(struct pvio_backend_dev *dev)
{
	int r;

	if (dev->probed) {
		dev->be->opts->ops->remove(dev);
		dev->probed = false;
	}
	r = dev->be->opts->ops->probe(dev);
	if (r < 0) {
		pvio_backend_log(dev, "cannot set up the device: %s", strerror(-r));
		set_state(dev, PVIO_XENBUS_STATE_CLOSED);
		return;
	}
	dev->probed = true;
	set_state(dev, PVIO_XENBUS_STATE_INITWAIT);
}

/* The toolstack's <be>/online: 0 while it takes the device away (libxl's
 * and pvio's detach write it before asking the frontend to close). Absent
 * or unreadable counts as online: a toolstack writing the nodes by hand may
 * leave it out, and nothing is taken away on a guess. */
static bool dev_online(struct pvio_backend_dev *dev)
{
	unsigned long long v;

	return dev->be->store_err || pvio_backend_read_uint(dev, false, "online", &v) < 0 ||
	       v != 0;
}

/* The frontend closed and the toolstack is taking the device away: let go
 * of it now (Linux's device_unregister() at frontend Closed with online
 * 0); the nodes' removal will find nothing left to release. */
static void dev_release(struct pvio_backend_dev *dev, const char *why)
{
	if (!dev->probed)
		return;
	dev_disconnect(dev);
	dev->be->opts->ops->remove(dev);
	dev->probed = false;
	pvio_backend_log(dev, "%s and online=0: device released, waiting for the toolstack "
			 "to remove it", why);
}

static void dev_release_fe(struct pvio_backend_dev *dev)
{
	char why[64];

	snprintf(why, sizeof(why), "frontend %s", pvio_xenbus_state_name(dev->fe_state));
	dev_release(dev, why);
}

/* React to the frontend's state (and to a broken data path). */
static void dev_update(struct pvio_backend_dev *dev)
{
	const struct pvio_backend_ops *ops = dev->be->opts->ops;
	enum pvio_xenbus_state fe = PVIO_XENBUS_STATE_UNKNOWN;
	int r;

	if (dev->connected && ops->broken && ops->broken(dev)) {
		dev_disconnect(dev);
		/* A frontend that died while the toolstack takes the
		 * device away (its ring or event channel gone before it
		 * said Closed): let the disk go before saying Closed, as
		 * at its Closed below; the toolstack's wait for our
		 * Closed is over at once and it removes the nodes, after
		 * which the frontend's state reads Unknown. */
		if (!dev_online(dev))
			dev_release(dev, "its data path closed");
		set_state(dev, PVIO_XENBUS_STATE_CLOSED);
	}
	r = pvio_xenbus_read_state(dev->xs, PVIO_XS_NO_TX, dev->fe_path, &fe);
	if (r == -EPROTO) {
		fe = PVIO_XENBUS_STATE_UNKNOWN;   /* nonsense the frontend wrote */
	} else if (r < 0) {
		/* No answer (a missing node reads as Unknown, not as an
		 * error): the store connection failed or is failing. That
		 * says nothing about the frontend: connected rings go on
		 * (store_lost() decides what happens without a store). */
		return;
	}
	dev->fe_state = fe;
	if (fe != PVIO_XENBUS_STATE_UNKNOWN)
		dev->fe_seen = true;

	switch (fe) {
	case PVIO_XENBUS_STATE_INITIALISING:
	case PVIO_XENBUS_STATE_INITWAIT:
		/* A fresh frontend, or one resetting after Closed / a
		 * backend restart: prepare for (re)connection, as many
		 * times as it asks (the Windows PV drivers close and
		 * reopen on every resume). Not while the toolstack takes
		 * the device away (QEMU's xen-bus: InitWait again only
		 * while online). */
		if (dev->state == PVIO_XENBUS_STATE_CLOSED || dev->connected ||
		    !dev->probed || dev->state == PVIO_XENBUS_STATE_CLOSING) {
			dev_disconnect(dev);
			if (!dev_online(dev)) {
				dev_release_fe(dev);
				if (dev->state != PVIO_XENBUS_STATE_CLOSED)
					set_state(dev, PVIO_XENBUS_STATE_CLOSED);
				break;
			}
			dev_probe(dev);
		}
		break;
	case PVIO_XENBUS_STATE_RECONFIGURING:
		if (!ops->reconfigure)
			goto unknown;
		if (dev->connected) {
			ops->reconfigure(dev);
			set_state(dev, PVIO_XENBUS_STATE_RECONFIGURED);
		}
		break;
	case PVIO_XENBUS_STATE_INITIALISED:
	case PVIO_XENBUS_STATE_CONNECTED:
		if (fe == PVIO_XENBUS_STATE_CONNECTED && dev->connected &&
		    dev->state == PVIO_XENBUS_STATE_RECONFIGURED) {
			set_state(dev, PVIO_XENBUS_STATE_CONNECTED);
			break;
		}
		if (!(ops->connect_mask & PVIO_XENBUS_MASK(fe)))
			break;
		if (dev->state != PVIO_XENBUS_STATE_INITWAIT || dev->connected)
			break;
		r = dev->stats ? 0 : dev_stats_add(dev);
		if (r == 0)
			r = ops->connect(dev);
		if (r < 0) {
			/* This device alone (the driver said why): the others
			 * keep running, and this one retries when its
			 * frontend reinitialises. */
			pvio_backend_log(dev, "cannot connect to the frontend (%s): %s; "
					 "waiting for it to reinitialise",
					 pvio_xenbus_state_name(fe), strerror(-r));
			break;
		}
		dev->connected = true;
		set_state(dev, PVIO_XENBUS_STATE_CONNECTED);
		break;
	case PVIO_XENBUS_STATE_CLOSING:
		dev_disconnect(dev);
		if (dev->state != PVIO_XENBUS_STATE_CLOSED)
			set_state(dev, PVIO_XENBUS_STATE_CLOSING);
		break;
	case PVIO_XENBUS_STATE_CLOSED:
		dev_disconnect(dev);
		/* Kept while online, for the frontend's next Initialising
		 * (Linux netback 279f438e36c0: Windows frontends close and
		 * reopen); released when the toolstack is taking it away,
		 * before we say Closed: a toolstack that waits for our
		 * Closed (then removes the nodes) finds the disk let go. */
		if (!dev_online(dev))
			dev_release_fe(dev);
		if (dev->state != PVIO_XENBUS_STATE_CLOSED)
			set_state(dev, PVIO_XENBUS_STATE_CLOSED);
		break;
	case PVIO_XENBUS_STATE_UNKNOWN:
	default:
	unknown:
		/* The frontend's node is gone (or nonsense): stop serving,
		 * and treat it as Closed once a frontend was there (QEMU's
		 * xen-block: Unknown is Closed), so that it finds us Closed
		 * and comes back through Initialising. Before any frontend
		 * state was seen it is simply not there yet. */
		if (dev->connected || (dev->fe_seen && dev->state != PVIO_XENBUS_STATE_CLOSED)) {
			dev_disconnect(dev);
			set_state(dev, PVIO_XENBUS_STATE_CLOSED);
		}
		break;
	}
}

static int find_dev(struct pvio_backend *be, uint16_t fe, uint32_t devid)
{
	for (int i = 0; i < (int)be->nr_devs; i++)
		if (be->devs[i] && be->devs[i]->fe_domid == fe && be->devs[i]->devid == devid)
			return i;
	return -1;
}

/* Watches on the driver's live keys: token "<dev token>.k<i>" (backend
 * directory) or "<dev token>.f<i>" (frontend directory). */
static void live_token(const struct pvio_backend_dev *dev, char kind, unsigned i, char *tok,
		       size_t len)
{
	snprintf(tok, len, "%s.%c%u", dev->token, kind, i);
}

static void live_watch_set(struct pvio_backend_dev *dev, bool fe)
{
	const struct pvio_backend_ops *ops = dev->be->opts->ops;
	const char *const *keys = fe ? ops->fe_live_keys : ops->live_keys;
	uint32_t *bits = fe ? &dev->fe_live_watching : &dev->live_watching;
	char path[320], tok[80];
	int r;

	for (unsigned i = 0; keys && keys[i] && i < 32; i++) {
		snprintf(path, sizeof(path), "%s/%s", fe ? dev->fe_path : dev->be_path, keys[i]);
		live_token(dev, fe ? 'f' : 'k', i, tok, sizeof(tok));
		r = pvio_xs_watch(dev->xs, path, tok);
		if (r < 0)
			pvio_backend_log(dev, "cannot watch %s: %s (changes to it will not be "
					 "applied)", path, strerror(-r));
		else
			*bits |= 1u << i;
	}
}

static void live_watch(struct pvio_backend_dev *dev)
{
	live_watch_set(dev, false);
	live_watch_set(dev, true);
}

static void live_unwatch_set(struct pvio_backend_dev *dev, bool fe)
{
	const struct pvio_backend_ops *ops = dev->be->opts->ops;
	const char *const *keys = fe ? ops->fe_live_keys : ops->live_keys;
	uint32_t *bits = fe ? &dev->fe_live_watching : &dev->live_watching;
	char path[320], tok[80];

	for (unsigned i = 0; keys && keys[i] && i < 32; i++) {
		if (!(*bits & (1u << i)))
			continue;
		snprintf(path, sizeof(path), "%s/%s", fe ? dev->fe_path : dev->be_path, keys[i]);
		live_token(dev, fe ? 'f' : 'k', i, tok, sizeof(tok));
		pvio_xs_unwatch(dev->xs, path, tok);
	}
	*bits = 0;
}

static void live_unwatch(struct pvio_backend_dev *dev)
{
	live_unwatch_set(dev, false);
	live_unwatch_set(dev, true);
}

/* A watch event for one of dev's live keys? Then tell the driver. */
static bool live_event(struct pvio_backend_dev *dev, const char *token)
{
	const struct pvio_backend_ops *ops = dev->be->opts->ops;
	size_t n = strlen(dev->token);
	unsigned long i;
	uint32_t bits;
	char *end;
	bool fe;

	if (strncmp(token, dev->token, n) != 0 || token[n] != '.' ||
	    (token[n + 1] != 'k' && token[n + 1] != 'f'))
		return false;
	fe = token[n + 1] == 'f';
	bits = fe ? dev->fe_live_watching : dev->live_watching;
	i = strtoul(token + n + 2, &end, 10);
	if (*end || i >= 32 || !(bits & (1u << i)))
		return true;
	if (dev->probed && ops->key_changed)
		ops->key_changed(dev, fe ? ops->fe_live_keys[i] : ops->live_keys[i]);
	return true;
}

static void dev_remove(struct pvio_backend *be, int i)
{
	struct pvio_backend_dev *dev = be->devs[i];
	uint16_t domid = dev->fe_domid;
	bool last = true;

	dev_disconnect(dev);
	if (dev->probed)
		be->opts->ops->remove(dev);
	/* After disconnect(): the queues that counted into it stopped. */
	pvio_stats_dev_remove(be->opts->stats, dev->stats);
	dev->stats = NULL;
	if (dev->watching) {
		char path[256];
		snprintf(path, sizeof(path), "%s/state", dev->fe_path);
		pvio_xs_unwatch(be->xs, path, dev->token);
	}
	live_unwatch(dev);
	free(dev);
	be->devs[i] = NULL;
	for (unsigned j = 0; j < be->nr_devs; j++)
		if (be->devs[j] && be->devs[j]->fe_domid == domid)
			last = false;
	if (last && be->opts->domain_idle)
		be->opts->domain_idle(be, domid);
}

static int devs_grow(struct pvio_backend *be)
{
	unsigned n = be->nr_devs ? be->nr_devs * 2 : DEVS_INITIAL;
	struct pvio_backend_dev **d;
	struct pollfd *pf;
	int *map;

	if (n < be->nr_devs || n > (1u << 24))
		return -ENOSPC;
	d = realloc(be->devs, n * sizeof(*d));
	if (!d)
		return -ENOMEM;
	memset(d + be->nr_devs, 0, (n - be->nr_devs) * sizeof(*d));
	be->devs = d;
	pf = realloc(be->pf, (2 + (size_t)n) * sizeof(*pf));
	if (pf)
		be->pf = pf;
	map = realloc(be->pf_map, (2 + (size_t)n) * sizeof(*map));
	if (map)
		be->pf_map = map;
	if (!pf || !map)
		return -ENOMEM;   /* devs grew; nr_devs did not: consistent */
	be->nr_devs = n;
	return 0;
}

static void on_device(void *arg, bool added, uint16_t fe, uint32_t devid, const char *path)
{
	struct pvio_backend *be = arg;
	struct pvio_backend_dev *dev;
	char watch[256];
	int i = find_dev(be, fe, devid), r;

	if (!added) {
		if (i >= 0)
			dev_remove(be, i);
		return;
	}
	if (i >= 0)
		return;
	for (i = 0; i < (int)be->nr_devs && be->devs[i]; i++)
		;
	if (i == (int)be->nr_devs && devs_grow(be) < 0) {
		fprintf(stderr, "%s: out of memory for the device table (%u devices); "
			"ignoring %s\n", be->opts->ops->type, be->nr_devs, path);
		return;
	}
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return;
	dev->be = be;
	dev->hv = be->hv;
	dev->xs = be->xs;
	dev->fe_domid = fe;
	dev->devid = devid;
	snprintf(dev->be_path, sizeof(dev->be_path), "%s", path);
	r = pvio_backend_read(dev, false, "frontend", dev->fe_path, sizeof(dev->fe_path));
	if (r < 0) {
		/* Nothing to serve yet. pvio's toolstack writes "frontend"
		 * with the rest in one transaction; one writing its keys one
		 * at a time gets the device taken at the next key it writes
		 * (the watcher reports it again). */
		if (r != -ENOENT)
			pvio_backend_log(dev, "bad 'frontend' key in %s: %s", path, strerror(-r));
		pvio_xenbus_devwatch_forget(be->dw, fe, devid);
		free(dev);
		return;
	}
	snprintf(dev->token, sizeof(dev->token), "be-fe-%llu",
		 (unsigned long long)++be->next_token);
	be->devs[i] = dev;
	dev->state = PVIO_XENBUS_STATE_INITIALISING;
	dev_stats_add(dev);
	dev_probe(dev);
	snprintf(watch, sizeof(watch), "%s/state", dev->fe_path);
	r = pvio_xs_watch(be->xs, watch, dev->token);
	if (r < 0)
		pvio_backend_log(dev, "cannot watch %s: %s", watch, strerror(-r));
	else
		dev->watching = true;
	live_watch(dev);
	/* The watch's first event runs dev_update(). */
}

static void handle_event(struct pvio_backend *be, const struct pvio_xs_event *ev)
{
	if (pvio_xenbus_devwatch_handle(be->dw, ev) >= 0)
		return;
	for (unsigned i = 0; i < be->nr_devs; i++) {
		if (!be->devs[i])
			continue;
		if (strcmp(be->devs[i]->token, ev->token) == 0) {
			dev_update(be->devs[i]);
			return;
		}
		if (live_event(be->devs[i], ev->token))
			return;
	}
}

static unsigned nr_connected(const struct pvio_backend *be)
{
	unsigned n = 0;

	for (unsigned i = 0; i < be->nr_devs; i++)
		n += be->devs[i] && be->devs[i]->connected;
	return n;
}

/*
 * The store connection failed (the store -- pviod, or xenstored -- went
 * away, or broke the protocol). The established rings need no store: keep
 * serving them, as Linux's backends do, until their frontends disconnect
 * (a closed event channel, a broken ring) or we are stopped; then exit.
 * Nothing can be added, removed or changed meanwhile, and the store's
 * contents do not outlive pviod: a new pviod needs a new backend.
 */
static void store_lost(struct pvio_backend *be, int err)
{
	unsigned n = nr_connected(be);

	be->store_err = err;
	if (n)
		fprintf(stderr, "%s: the store connection failed (%s): is pviod gone? Serving the "
			"%u connected device(s) without it until their frontends disconnect, then "
			"exiting; no device can be added or removed meanwhile\n",
			be->opts->ops->type, strerror(-err), n);
	else
		fprintf(stderr, "%s: the store connection failed (%s): is pviod gone? No "
			"frontend is connected: exiting\n", be->opts->ops->type, strerror(-err));
	be->store_lost_told = n > 0;
}

int pvio_backend_run(struct pvio_hv *hv, const struct pvio_backend_opts *opts)
{
	struct pvio_backend *be = calloc(1, sizeof(*be));
	struct pvio_xs_event *ev = malloc(sizeof(*ev));
	int fd, r;

	if (!be || !ev) {
		free(be);
		free(ev);
		return -ENOMEM;
	}
	be->hv = hv;
	be->opts = opts;
	r = devs_grow(be);
	if (r < 0)
		goto out;
	r = pvio_hv_xs_connect(hv, &fd);
	if (r < 0)
		goto out;
	r = pvio_xs_open_fd(fd, &be->xs);
	if (r < 0)
		goto out;
	r = pvio_xenbus_devwatch_start(be->xs, pvio_hv_domid(hv), opts->ops->type, on_device, be,
				       &be->dw);
	if (r < 0)
		goto out;
	/* The loop's watch fd exists before we say ready: a caller counting
	 * our fds from then on sees a steady number. */
	r = pvio_xs_watch_fd(be->xs);
	if (r < 0)
		goto out;
	if (opts->ready_fd) {
		if (write(*opts->ready_fd, "ready\n", 6) < 0) {
			/* the reader went away: nothing to tell */
		}
		close(*opts->ready_fd);
	}
	for (;;) {
		struct pollfd *pf;
		int *map;
		unsigned n = 0;

		/* Handle whatever is queued before sleeping. */
		if (!be->store_err) {
			while ((r = pvio_xs_read_watch(be->xs, NULL, ev, 0)) == 0)
				handle_event(be, ev);
			if (r != -EAGAIN)
				store_lost(be, r);
		}
		if (be->store_err && !nr_connected(be)) {
			if (be->store_lost_told)
				fprintf(stderr, "%s: no frontend left connected, and no store: "
					"exiting\n", opts->ops->type);
			r = be->store_err;
			break;
		}
		/* After the events: on_device() may have grown the table. */
		pf = be->pf;
		map = be->pf_map;
		pf[n] = (struct pollfd){ .fd = opts->stop_fd, .events = POLLIN };
		map[n++] = -1;
		/* A dead connection polls readable for ever: not polled. */
		pf[n] = (struct pollfd){ .fd = be->store_err ? -1 : pvio_xs_watch_fd(be->xs),
					 .events = POLLIN };
		map[n++] = -2;
		for (unsigned i = 0; i < be->nr_devs; i++) {
			struct pvio_backend_dev *d = be->devs[i];
			int bfd = d && d->connected && opts->ops->broken_fd ?
				  opts->ops->broken_fd(d) : -1;
			if (bfd >= 0) {
				pf[n] = (struct pollfd){ .fd = bfd, .events = POLLIN };
				map[n++] = (int)i;
			}
		}
		r = poll(pf, n, -1);
		if (r < 0 && errno != EINTR) {
			r = -errno;
			break;
		}
		if (pf[0].revents) {
			r = 0;
			break;
		}
		for (unsigned k = 2; k < n; k++)
			if (pf[k].revents && be->devs[map[k]])
				dev_update(be->devs[map[k]]);
	}
	/* Shut down: every device stops and says so. */
	for (int i = 0; i < (int)be->nr_devs; i++) {
		if (!be->devs[i])
			continue;
		dev_disconnect(be->devs[i]);
		set_state(be->devs[i], PVIO_XENBUS_STATE_CLOSED);
		dev_remove(be, i);
	}
out:
	pvio_xenbus_devwatch_stop(be->dw);
	if (be->xs)
		pvio_xs_close(be->xs);
	free(be->devs);
	free(be->pf);
	free(be->pf_map);
	free(ev);
	free(be);
	return r;
}
