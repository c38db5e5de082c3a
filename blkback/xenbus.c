/* SPDX-License-Identifier: MIT */
/*
 * pvio-blkback control plane: the vbd device's xenbus side (Linux's
 * xen-blkback/xenbus.c). Probe opens the backing file and publishes the
 * features; connect reads and validates the frontend's keys, maps its
 * rings, binds its ports and starts one poller per queue; disconnect stops
 * them and releases everything (XSA-350: pollers stop before ring state
 * goes away).
 *
 * Backend keys written by the toolstack (tools/): params (path), mode
 * (r|w), and pvio's own: engine, direct, sector-size, discard-enable.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend/backend.h"
#include "blkback/blkback.h"
#include "blkback/common.h"
#include "xenstore/xenbus.h"

static void dev_close_file(struct blkback_dev *d)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
	if (d->broken_efd >= 0)
		close(d->broken_efd);
	d->broken_efd = -1;
}

static bool parse_bool(const char *s, bool dflt)
{
	if (!s || !*s)
		return dflt;
	return !(strcmp(s, "0") == 0 || strcmp(s, "false") == 0 || strcmp(s, "off") == 0 ||
		 strcmp(s, "no") == 0);
}

static int vbd_probe(struct pvio_backend_dev *dev)
{
	const struct blkback_cfg *defaults = pvio_backend_ctx(dev->be);
	struct blkback_dev *d = dev->priv;
	char params[1024], mode[8] = "w", buf[64];
	unsigned long long v;
	struct stat st;
	int flags, r;

	if (!d) {
		d = calloc(1, sizeof(*d));
		if (!d)
			return -ENOMEM;
		dev->priv = d;
	}
	memset(d, 0, sizeof(*d));
	d->fd = d->broken_efd = -1;
	d->hv = dev->hv;
	d->fe_domid = dev->fe_domid;
	d->devid = dev->devid;
	snprintf(d->name, sizeof(d->name), "dom%u/%u", dev->fe_domid, dev->devid);
	d->cfg = *defaults;

	r = pvio_backend_read(dev, false, "params", params, sizeof(params));
	if (r < 0) {
		pvio_backend_log(dev, "no 'params' (the disk's path): %s", strerror(-r));
		return r;
	}
	if (pvio_backend_read(dev, false, "mode", mode, sizeof(mode)) == 0 &&
	    strcmp(mode, "r") && strcmp(mode, "w") && strcmp(mode, "ro") && strcmp(mode, "rw")) {
		pvio_backend_log(dev, "bad mode '%s' (r or w)", mode);
		return -EINVAL;
	}
	d->readonly = mode[0] == 'r' && strcmp(mode, "rw") != 0;
	if (pvio_backend_read(dev, false, "engine", buf, sizeof(buf)) == 0 && buf[0]) {
		if (strlen(buf) >= sizeof(d->cfg.engine)) {
			pvio_backend_log(dev, "unknown engine '%s'", buf);
			return -EINVAL;
		}
		memcpy(d->cfg.engine, buf, strlen(buf) + 1);
	}
	if (pvio_backend_read(dev, false, "direct", buf, sizeof(buf)) == 0)
		d->cfg.direct = parse_bool(buf, d->cfg.direct);
	if (pvio_backend_read(dev, false, "discard-enable", buf, sizeof(buf)) == 0)
		d->cfg.discard = parse_bool(buf, d->cfg.discard);
	d->sector_size = 512;
	if (pvio_backend_read_uint(dev, false, "sector-size", &v) == 0) {
		if (v != 512 && v != 4096) {
			pvio_backend_log(dev, "bad sector-size %llu (512 or 4096)", v);
			return -EINVAL;
		}
		d->sector_size = (uint32_t)v;
	}

	flags = (d->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	if (stat(params, &st) == 0 && S_ISBLK(st.st_mode)) {
		d->is_blockdev = true;
		/* O_DIRECT by default on block devices (DESIGN.md §5). */
		if (pvio_backend_read(dev, false, "direct", buf, sizeof(buf)) < 0)
			d->cfg.direct = true;
	}
	if (d->cfg.direct)
		flags |= O_DIRECT;
	d->fd = open(params, flags);
	if (d->fd < 0) {
		r = -errno;
		pvio_backend_log(dev, "cannot open %s: %s", params, strerror(errno));
		return r;
	}
	if (fstat(d->fd, &st) < 0) {
		r = -errno;
		goto err;
	}
	if (d->is_blockdev) {
		uint64_t sz;
		if (ioctl(d->fd, BLKGETSIZE64, &sz) < 0) {
			r = -errno;
			goto err;
		}
		d->size_bytes = sz;
	} else if (S_ISREG(st.st_mode)) {
		d->size_bytes = (uint64_t)st.st_size;
	} else {
		pvio_backend_log(dev, "%s is neither a file nor a block device", params);
		r = -EINVAL;
		goto err;
	}
	/* The unit the store writes in and frees holes in: the device's
	 * physical block, the file system's block for a file; a power of two
	 * from the logical sector size to 64 KiB, else the sector size. */
	{
		unsigned int pb = 0;

		if (d->is_blockdev) {
			if (ioctl(d->fd, BLKPBSZGET, &pb) < 0)
				pb = 0;
		} else {
			pb = st.st_blksize > 0 ? (unsigned int)st.st_blksize : 0;
		}
		d->phys_block = pb >= d->sector_size && pb <= 65536 && !(pb & (pb - 1)) ?
				pb : d->sector_size;
	}
	d->size_bytes -= d->size_bytes % d->sector_size;
	if (d->size_bytes == 0) {
		pvio_backend_log(dev, "%s is empty", params);
		r = -EINVAL;
		goto err;
	}
	d->broken_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->broken_efd < 0) {
		r = -errno;
		goto err;
	}

	/* Features, before InitWait. */
	pvio_backend_printf(dev, PVIO_XS_NO_TX, "feature-persistent", "%d", d->cfg.persistent);
	pvio_backend_printf(dev, PVIO_XS_NO_TX, "max-ring-page-order", "%u",
			    d->cfg.max_ring_order);
	pvio_backend_printf(dev, PVIO_XS_NO_TX, "multi-queue-max-queues", "%u",
			    d->cfg.max_queues);
	if (d->cfg.max_indirect)
		pvio_backend_printf(dev, PVIO_XS_NO_TX, "feature-max-indirect-segments", "%u",
				    d->cfg.max_indirect);
	return 0;
err:
	dev_close_file(d);
	return r;
}

static void vbd_disconnect(struct pvio_backend_dev *dev)
{
	struct blkback_dev *d = dev->priv;

	if (!d)
		return;
	for (unsigned i = 0; i < BLKBACK_MAX_QUEUES; i++) {
		struct blkback_queue *q = &d->queues[i];

		/* Pollers first: nothing touches the ring after this. */
		blkback_queue_stop(q);
		pvio_hv_unmap_ring(d->hv, &q->ringmap);
		/* Only a port we bound (q->port), never the frontend's
		 * number: the same number is another device's port here. */
		if (q->port && pvio_hv_evtchn_unbind(d->hv, q->port, q->ch) < 0)
			fprintf(stderr, "blkback: %s: port %u is not the channel we bound; "
				"left alone\n", q->name, q->port);
		q->port = 0;
		q->fe_port = 0;
		q->ch = NULL;
	}
	d->nr_queues = 0;
	__atomic_store_n(&d->broken, 0, __ATOMIC_RELEASE);
	if (d->broken_efd >= 0) {
		uint64_t v;
		if (read(d->broken_efd, &v, sizeof(v)) < 0) {
			/* nothing pending */
		}
	}
}

/* Read ring refs and port of queue i: under <fe>/queue-<i>/ when there are
 * several queues, at the top otherwise. */
static int read_queue_keys(struct pvio_backend_dev *dev, struct blkback_dev *d, unsigned i,
			   unsigned order)
{
	struct blkback_queue *q = &d->queues[i];
	char key[64], pfx[24] = "";
	unsigned long long v;
	unsigned n = 1u << order;

	if (d->nr_queues > 1)
		snprintf(pfx, sizeof(pfx), "queue-%u/", i);
	for (unsigned k = 0; k < n; k++) {
		if (order == 0)
			snprintf(key, sizeof(key), "%sring-ref", pfx);
		else
			snprintf(key, sizeof(key), "%sring-ref%u", pfx, k);
		if (pvio_backend_read_uint(dev, true, key, &v) < 0 || v > UINT32_MAX) {
			pvio_backend_log(dev, "frontend key %s missing or invalid", key);
			return -EINVAL;
		}
		q->ring_refs[k] = (uint32_t)v;
	}
	q->nr_ring_pages = n;
	snprintf(key, sizeof(key), "%sevent-channel", pfx);
	if (pvio_backend_read_uint(dev, true, key, &v) < 0 || v == 0 || v > UINT32_MAX) {
		pvio_backend_log(dev, "frontend key %s missing or invalid", key);
		return -EINVAL;
	}
	q->fe_port = (pvio_evtchn_port_t)v;
	return 0;
}

static int vbd_connect(struct pvio_backend_dev *dev)
{
	struct blkback_dev *d = dev->priv;
	unsigned long long v;
	char proto[32] = "", why[128];
	unsigned order = 0;
	uint32_t tx;
	int r;

	if (!d || d->fd < 0)
		return -ENODEV;
	/* Protocol (request layout). */
	if (pvio_backend_read(dev, true, "protocol", proto, sizeof(proto)) < 0 || !proto[0])
		snprintf(proto, sizeof(proto), "%s", PVIO_XEN_IO_PROTO_ABI_NATIVE);
	if (strcmp(proto, PVIO_XEN_IO_PROTO_ABI_X86_64) == 0) {
		d->x86_32 = false;
	} else if (strcmp(proto, PVIO_XEN_IO_PROTO_ABI_X86_32) == 0) {
		d->x86_32 = true;
	} else {
		pvio_backend_log(dev, "unsupported protocol '%s'", proto);
		return -EINVAL;
	}
	/* Ring size. */
	if (pvio_backend_read_uint(dev, true, "ring-page-order", &v) == 0) {
		if (v > d->cfg.max_ring_order) {
			pvio_backend_log(dev, "ring-page-order %llu above the %u offered",
					 v, d->cfg.max_ring_order);
			return -EINVAL;
		}
		order = (unsigned)v;
	}
	d->ring_order = order;
	/* Queues. */
	d->nr_queues = 1;
	if (pvio_backend_read_uint(dev, true, "multi-queue-num-queues", &v) == 0) {
		if (v == 0 || v > d->cfg.max_queues) {
			pvio_backend_log(dev, "multi-queue-num-queues %llu (1..%u)", v,
					 d->cfg.max_queues);
			return -EINVAL;
		}
		d->nr_queues = (unsigned)v;
	}
	d->persistent = d->cfg.persistent &&
			pvio_backend_read_uint(dev, true, "feature-persistent", &v) == 0 && v == 1;
	d->unit = 512;
	if (pvio_backend_read_uint(dev, true, "feature-large-sector-size", &v) == 0 && v == 1)
		d->unit = d->sector_size;

	for (unsigned i = 0; i < d->nr_queues; i++) {
		r = read_queue_keys(dev, d, i, order);
		if (r < 0)
			goto err;
	}
	for (unsigned i = 0; i < d->nr_queues; i++) {
		struct blkback_queue *q = &d->queues[i];
		size_t bytes = (size_t)PVIO_PAGE_SIZE << order;

		q->dev = d;
		q->idx = i;
		snprintf(q->name, sizeof(q->name), "%s/q%u", d->name, i);
		r = pvio_hv_map_ring(d->hv, d->fe_domid, q->ring_refs, q->nr_ring_pages,
				     &q->ringmap);
		if (r < 0) {
			pvio_backend_log(dev, "queue %u: cannot map ring: %s", i,
					 pvio_hv_strerror(d->hv, r, why, sizeof(why)));
			goto err;
		}
		r = d->x86_32 ? pvio_blkif_x86_32_back_attach(&q->ring, q->ringmap.addr, bytes)
			      : pvio_blkif_back_attach(&q->ring, q->ringmap.addr, bytes);
		if (r < 0)
			goto err;
		r = pvio_hv_evtchn_bind(d->hv, d->fe_domid, q->fe_port, &q->port);
		if (r < 0) {
			q->port = 0;
			pvio_backend_log(dev, "queue %u: cannot bind event channel %u: %s", i,
					 q->fe_port, pvio_hv_strerror(d->hv, r, why, sizeof(why)));
			goto err;
		}
		q->ch = pvio_hv_evtchn_handle(d->hv, q->port);
		if (!q->ch) {
			r = -EPROTO;
			goto err;
		}
	}
	for (unsigned i = 0; i < d->nr_queues; i++) {
		r = blkback_queue_start(&d->queues[i]);
		if (r < 0)
			goto err;
	}

	/* Device properties, before Connected, in one transaction. */
	for (unsigned tries = 0; tries < 16; tries++) {
		r = pvio_xs_transaction_start(dev->xs, &tx);
		if (r < 0)
			goto err;
		pvio_backend_printf(dev, tx, "sectors", "%llu",
				    (unsigned long long)(d->size_bytes / d->unit));
		pvio_backend_printf(dev, tx, "sector-size", "%u", d->sector_size);
		pvio_backend_printf(dev, tx, "physical-sector-size", "%u", d->phys_block);
		pvio_backend_printf(dev, tx, "info", "%u", d->readonly ? PVIO_VDISK_READONLY : 0);
		pvio_backend_printf(dev, tx, "feature-flush-cache", "%d", d->cfg.flush);
		pvio_backend_printf(dev, tx, "feature-barrier", "%d", d->cfg.barrier);
		pvio_backend_printf(dev, tx, "feature-discard", "%d",
				    d->cfg.discard && !d->readonly);
		if (d->cfg.discard && !d->readonly) {
			pvio_backend_printf(dev, tx, "discard-granularity", "%u", d->phys_block);
			pvio_backend_printf(dev, tx, "discard-alignment", "0");
			pvio_backend_printf(dev, tx, "discard-secure", "0");
		}
		r = pvio_xs_transaction_end(dev->xs, tx, true);
		if (r != -EAGAIN)
			break;
	}
	if (r < 0)
		goto err;
	fprintf(stderr, "blkback: %s: connected: %u queue(s), ring order %u, %s, "
		"persistent grants %s, %s, %llu bytes, %u-byte sectors%s\n",
		d->name, d->nr_queues, order, proto, d->persistent ? "on" : "off",
		d->cfg.engine, (unsigned long long)d->size_bytes, d->sector_size,
		d->readonly ? ", read-only" : "");
	return 0;
err:
	vbd_disconnect(dev);
	return r;
}

static void vbd_remove(struct pvio_backend_dev *dev)
{
	struct blkback_dev *d = dev->priv;

	if (!d)
		return;
	vbd_disconnect(dev);
	dev_close_file(d);
	free(d);
	dev->priv = NULL;
}

static int vbd_broken_fd(struct pvio_backend_dev *dev)
{
	struct blkback_dev *d = dev->priv;

	return d ? d->broken_efd : -1;
}

static bool vbd_broken(struct pvio_backend_dev *dev)
{
	struct blkback_dev *d = dev->priv;

	return d && __atomic_load_n(&d->broken, __ATOMIC_ACQUIRE);
}

const struct pvio_backend_ops pvio_blkback_ops = {
	.type = "vbd",
	/* Linux blkback connects on Initialised, and on Connected in case a
	 * quick succession of watches hid the Initialised. */
	.connect_mask = PVIO_XENBUS_MASK(PVIO_XENBUS_STATE_INITIALISED) |
			PVIO_XENBUS_MASK(PVIO_XENBUS_STATE_CONNECTED),
	.probe = vbd_probe,
	.connect = vbd_connect,
	.disconnect = vbd_disconnect,
	.remove = vbd_remove,
	.broken_fd = vbd_broken_fd,
	.broken = vbd_broken,
};

void pvio_blkback_cfg_default(struct blkback_cfg *c)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	memset(c, 0, sizeof(*c));
	snprintf(c->engine, sizeof(c->engine), "io_uring");
	c->direct = false;
	c->poll_us = BLKBACK_DEFAULT_POLL_US;
	c->max_queues = n > 0 ? (unsigned)(n > BLKBACK_MAX_QUEUES ? BLKBACK_MAX_QUEUES : n) : 1;
	c->max_ring_order = BLKBACK_MAX_RING_ORDER;
	c->max_indirect = BLKBACK_MAX_INDIRECT_SEGS;
	c->persistent = true;
	c->pgrant_max = PVIO_PGRANT_DEFAULT_MAX;
	c->discard = true;
	c->flush = true;
	c->barrier = true;
}
