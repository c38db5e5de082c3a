/* SPDX-License-Identifier: MIT */
/*
 * pvio-blkback control plane: the vbd device's xenbus side (Linux's
 * xen-blkback/xenbus.c). Probe opens the backing file and publishes the
 * features; connect reads and validates the frontend's keys, maps its
 * rings, binds its ports and starts one poller per queue; disconnect stops
 * them and releases everything (XSA-350: pollers stop before ring state
 * goes away).
 *
 * Backend keys written by the toolstack (tools/): params (path, or an
 * rbd: target: rbd.h), mode (r|w), and pvio's own: engine, direct,
 * sector-size, discard-enable,
 * fault-inject (engine.h: a failing disk, for tests), and
 * throttling/<option> (QEMU's throttling names without the "throttling."
 * prefix: iops-total, bps-read-max, group, ...), watched and applied live
 * (vbd_limits.h); the limits in force are written back as
 * throttling-applied.
 *
 * Sector units, per disk and per connection (README.md, "Disks and their
 * frontends"). Frontends disagree on what a blkif sector is (Xen's blkif.h
 * as reconciled in 2024, commit 221f2748e8):
 *                       sectors      sector_number  first/last_sect
 *   Linux               512          512            512
 *   Windows (xenvbd),   sector-size  sector-size    sector-size
 *   QEMU
 *   FreeBSD             sector-size  sector-size    512
 *   MiniOS              sector-size  512            512
 * pvio's rule: the unit is 512 bytes, unless the frontend wrote
 * feature-large-sector-size=1 (xenvbd does; Linux, FreeBSD and MiniOS do
 * not): then it is the disk's sector-size, for sectors, sector_number,
 * first/last_sect and DISCARD's nr_sectors alike (QEMU's convention).
 *   - sector-size=512: every frontend agrees, all are served.
 *   - sector-size=4096: Windows and QEMU-convention frontends are served in
 *     4096-byte units, Linux (and anything following the 2024 text) in
 *     512-byte units; the same bytes land at the same image offsets. A
 *     request that is not whole 4096-byte blocks (start and length) gets
 *     BLKIF_RSP_ERROR. FreeBSD and MiniOS write no key that tells them
 *     from Linux: they are served Linux's units, which they misread
 *     (FreeBSD's sector_number, MiniOS's sectors) -- give them 512-byte
 *     disks. A feature-large-sector-size that is neither 0 nor 1 is
 *     refused at connect, naming the key: we cannot tell its units.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backend/backend.h"
#include "blkback/blkback.h"
#include "blkback/common.h"
#include "blkback/rbd.h"
#include "blkback/vbd_limits.h"
#include "xenstore/xenbus.h"

/* A device's private data: the data path's struct first (dev->priv points
 * to both), then its limits. */
struct vbd {
	struct blkback_dev d;
	struct pvio_throttle thr;            /* the data path's handle */
	struct pvio_throttle_cfg thr_cfg;    /* in force */
};

/* The groups of this process (disks of every backend in it may share). */
static struct pvio_throttle_registry *thr_reg;
static pthread_once_t thr_reg_once = PTHREAD_ONCE_INIT;

static void thr_reg_init(void)
{
	if (pvio_throttle_registry_new(&thr_reg) < 0)
		thr_reg = NULL;
}

struct pvio_throttle *blkback_throttle(struct blkback_dev *d)
{
	return &((struct vbd *)d)->thr;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct thr_read {
	const char *dir;
	struct pvio_throttle_cfg cfg;
	char err[256];
};

/* Every throttling/<option> in one transaction: a toolstack's change is
 * seen whole. -EINVAL with a message for a bad one. */
static int thr_read_tx(struct pvio_xs *xs, uint32_t tx, void *arg)
{
	struct thr_read *a = arg;
	char **names = NULL, path[320], val[128];
	unsigned n = 0;
	int r;

	pvio_throttle_cfg_init(&a->cfg);
	a->err[0] = 0;
	r = pvio_xs_directory(xs, tx, a->dir, &names, &n);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	for (unsigned i = 0; i < n && r == 0; i++) {
		snprintf(path, sizeof(path), "%s/%s", a->dir, names[i]);
		r = pvio_xs_read_buf(xs, tx, path, val, sizeof(val), NULL);
		if (r == -ENOENT) {
			r = 0;      /* removed meanwhile: the transaction will say */
			continue;
		}
		if (r < 0) {
			snprintf(a->err, sizeof(a->err), "throttling/%s: %s", names[i],
				 r == -ERANGE ? "value too long" : strerror(-r));
			r = -EINVAL;
			break;
		}
		r = pvio_throttle_cfg_set(&a->cfg, names[i], val, a->err, sizeof(a->err));
		if (r < 0)
			r = -EINVAL;
	}
	free(names);
	return r;
}

struct applied_args {
	const char *be;
	const char *val;
};

/* throttling-applied, only while the device's directory exists (a watch
 * event may come as the toolstack removes it: do not re-create it). */
static int applied_tx(struct pvio_xs *xs, uint32_t tx, void *arg)
{
	struct applied_args *a = arg;
	char path[320], st[16];
	int r;

	snprintf(path, sizeof(path), "%s/state", a->be);
	r = pvio_xs_read_buf(xs, tx, path, st, sizeof(st), NULL);
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "%s/throttling-applied", a->be);
	return pvio_xs_write(xs, tx, path, a->val, strlen(a->val));
}

/* Read and apply the vbd's limits. A bad set is refused; the limits in
 * force stay. */
static void vbd_read_throttle(struct pvio_backend_dev *dev, struct vbd *v)
{
	struct thr_read a;
	char dir[256], cur[1024];
	struct applied_args aa = { .be = dev->be_path, .val = cur };
	int r;

	pthread_once(&thr_reg_once, thr_reg_init);
	snprintf(dir, sizeof(dir), "%s/throttling", dev->be_path);
	a.dir = dir;
	r = pvio_xs_transaction_run(dev->xs, thr_read_tx, &a);
	if (r == 0)
		r = pvio_throttle_cfg_validate(&a.cfg, a.err, sizeof(a.err));
	if (pvio_throttle_cfg_format(&v->thr_cfg, cur, sizeof(cur)) < 0 || !cur[0])
		snprintf(cur, sizeof(cur), "none");
	if (r < 0) {
		pvio_backend_log(dev, "throttling refused: %s; the limits stay: %s",
				 a.err[0] ? a.err : strerror(-r), cur);
		return;
	}
	if (pvio_throttle_cfg_equal(&a.cfg, &v->thr_cfg))
		return;
	if (!thr_reg) {
		pvio_backend_log(dev, "throttling: out of memory; the limits stay: %s", cur);
		return;
	}
	r = pvio_throttle_apply(thr_reg, &v->thr, dev->be_path, &a.cfg, mono_ns());
	if (r < 0) {
		pvio_backend_log(dev, "throttling: %s; the limits stay: %s", strerror(-r), cur);
		return;
	}
	v->thr_cfg = a.cfg;
	pvio_throttle_cfg_format(&v->thr_cfg, cur, sizeof(cur));
	if (v->thr_cfg.group[0])
		pvio_backend_log(dev, "throttling: %s (group %s: %u disk(s))", cur,
				 v->thr_cfg.group,
				 pvio_throttle_group_members(thr_reg, v->thr_cfg.group));
	else
		pvio_backend_log(dev, "throttling: %s", cur[0] ? cur : "none");
	pvio_xs_transaction_run(dev->xs, applied_tx, &aa);
}

static void vbd_key_changed(struct pvio_backend_dev *dev, const char *key)
{
	if (dev->priv && !strcmp(key, "throttling"))
		vbd_read_throttle(dev, dev->priv);
}

static void dev_close_file(struct blkback_dev *d)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
	if (d->rbd)
		pvio_blk_rbd_close(d->rbd);   /* after the engines: disconnect ran */
	d->rbd = NULL;
	if (d->broken_efd >= 0)
		close(d->broken_efd);
	d->broken_efd = -1;
}

/* An rbd: target (rbd.h): the image, opened once for all the disk's
 * queues; read-only for mode r or a snapshot. */
static int vbd_open_rbd(struct pvio_backend_dev *dev, struct blkback_dev *d, const char *params)
{
	struct pvio_blk_rbd_info info;
	char why[512];
	int r;

	if (!pvio_blk_target_is_rbd(params)) {
		pvio_backend_log(dev, "engine rbd needs an rbd:POOL/IMAGE target, not '%.80s'",
				 params);
		return -EINVAL;
	}
	if (d->cfg.engine[0] && strcmp(d->cfg.engine, "rbd") &&
	    pvio_backend_read(dev, false, "engine", why, sizeof(why)) == 0 && why[0]) {
		pvio_backend_log(dev, "engine %s cannot serve an rbd: target (engine rbd)",
				 d->cfg.engine);
		return -EINVAL;
	}
	snprintf(d->cfg.engine, sizeof(d->cfg.engine), "rbd");
	d->cfg.direct = false;   /* no spinning for completions: librbd's threads need the CPUs */
	r = pvio_blk_rbd_open(params, d->readonly, &d->rbd, why, sizeof(why));
	if (r < 0) {
		pvio_backend_log(dev, "%.200s: %s", params, why);
		return r;
	}
	pvio_blk_rbd_get_info(d->rbd, &info);
	d->readonly = info.readonly;
	d->size_bytes = info.size;
	d->phys_block = d->sector_size > 4096 ? d->sector_size : 4096;
	/* Discards free whole objects (partial ones are zeroed). */
	d->discard_gran = info.obj_size >= d->sector_size && info.obj_size <= (1u << 30) &&
			  !(info.obj_size & (info.obj_size - 1)) ? (uint32_t)info.obj_size : 0;
	pvio_backend_log(dev, "rbd image %s: %llu bytes, %llu-byte objects, %s", info.name,
			 (unsigned long long)info.size, (unsigned long long)info.obj_size,
			 info.readonly ? "read-only" : info.locked ? "exclusive lock held" :
			 "writable, not locked");
	return 0;
}

static bool parse_bool(const char *s, bool dflt)
{
	if (!s || !*s)
		return dflt;
	return !(strcmp(s, "0") == 0 || strcmp(s, "false") == 0 || strcmp(s, "off") == 0 ||
		 strcmp(s, "no") == 0);
}

/* What a frontend may use: published before InitWait (an older xenvbd
 * reads them only then, as QEMU's xen-block publishes them at realize) and
 * again with the device's properties before Connected (Linux's blkback
 * writes them only then; xenvbd reads them again after Connected). */
static void vbd_publish_features(struct pvio_backend_dev *dev, const struct blkback_dev *d,
				 uint32_t tx)
{
	pvio_backend_printf(dev, tx, "feature-flush-cache", "%d", d->cfg.flush);
	pvio_backend_printf(dev, tx, "feature-barrier", "%d", d->cfg.barrier);
	pvio_backend_printf(dev, tx, "feature-discard", "%d", d->cfg.discard && !d->readonly);
	if (d->cfg.discard && !d->readonly) {
		pvio_backend_printf(dev, tx, "discard-granularity", "%u",
				    d->discard_gran ? d->discard_gran : d->phys_block);
		pvio_backend_printf(dev, tx, "discard-alignment", "0");
		pvio_backend_printf(dev, tx, "discard-secure", "0");
	}
}

static int vbd_probe(struct pvio_backend_dev *dev)
{
	const struct blkback_cfg *defaults = pvio_backend_ctx(dev->be);
	struct vbd *vb = dev->priv;
	struct blkback_dev *d;
	char params[1024], mode[8] = "w", buf[64];
	unsigned long long v;
	struct stat st;
	int flags, r;

	if (!vb) {
		vb = calloc(1, sizeof(*vb));
		if (!vb)
			return -ENOMEM;
		pvio_throttle_cfg_init(&vb->thr_cfg);
		dev->priv = vb;
	}
	d = &vb->d;
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
	/* A failing disk on purpose, for testing what guests make of it
	 * (engine.h has the grammar). */
	r = pvio_backend_read(dev, false, "fault-inject", d->faults, sizeof(d->faults));
	if (r < 0 && r != -ENOENT) {
		pvio_backend_log(dev, "fault-inject: %s", strerror(-r));
		return r;
	}
	if (r == 0 && d->faults[0]) {
		char why[160];

		if (pvio_blk_faults_check(d->faults, why, sizeof(why)) < 0) {
			pvio_backend_log(dev, "bad fault-inject '%.80s': %s", d->faults, why);
			return -EINVAL;
		}
		pvio_backend_log(dev, "fault injection on: %s", d->faults);
	} else {
		d->faults[0] = '\0';
	}
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

	if (pvio_blk_target_is_rbd(params) || !strcmp(d->cfg.engine, "rbd")) {
		r = vbd_open_rbd(dev, d, params);
		if (r < 0)
			goto err;
		goto opened;
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
opened:
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

	vbd_read_throttle(dev, vb);

	/* Features, before InitWait. */
	pvio_backend_printf(dev, PVIO_XS_NO_TX, "feature-persistent", "%d", d->cfg.persistent);
	pvio_backend_printf(dev, PVIO_XS_NO_TX, "max-ring-page-order", "%u",
			    d->cfg.max_ring_order);
	pvio_backend_printf(dev, PVIO_XS_NO_TX, "multi-queue-max-queues", "%u",
			    d->cfg.max_queues);
	if (d->cfg.max_indirect)
		pvio_backend_printf(dev, PVIO_XS_NO_TX, "feature-max-indirect-segments", "%u",
				    d->cfg.max_indirect);
	vbd_publish_features(dev, d, PVIO_XS_NO_TX);
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

/*
 * The unit of this connection's sectors, sector_number and
 * first_sect/last_sect (the rule in the header comment): 512 bytes, or the
 * disk's sector-size for a frontend that wrote feature-large-sector-size=1.
 * On a 512-byte disk both are 512 and any value serves. On a larger one a
 * value that is neither 0 nor 1 says nothing we could act on without
 * guessing how the frontend counts: refused (-EINVAL), with the keys named,
 * before anything is mapped.
 */
static int vbd_sector_unit(struct pvio_backend_dev *dev, struct blkback_dev *d)
{
	unsigned long long v = 0;
	char val[24] = "";
	int r;

	d->unit = 512;
	r = pvio_backend_read_uint(dev, true, "feature-large-sector-size", &v);
	if (r == -ENOENT || (r == 0 && v <= 1)) {
		if (v == 1)
			d->unit = d->sector_size;
	} else if (d->sector_size != 512) {
		if (pvio_backend_read(dev, true, "feature-large-sector-size", val, sizeof(val)) < 0)
			snprintf(val, sizeof(val), "(unreadable)");
		for (char *c = val; *c; c++)
			if (*c < 0x20 || *c > 0x7e)
				*c = '?';
		pvio_backend_log(dev, "frontend feature-large-sector-size='%s' (0 or 1) on a disk "
				 "with sector-size %u: its sectors could count 512 or %u bytes; "
				 "refusing to connect", val, d->sector_size, d->sector_size);
		return -EINVAL;
	}
	if (d->unit > PVIO_PAGE_SIZE) {
		pvio_backend_log(dev, "frontend feature-large-sector-size=1 with sector-size %u: "
				 "first_sect/last_sect cannot address sectors larger than a %u-byte "
				 "page; refusing to connect", d->sector_size, PVIO_PAGE_SIZE);
		return -EINVAL;
	}
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

	if (!d || (d->fd < 0 && !d->rbd))
		return -ENODEV;
	/* Protocol (request layout). */
	/* None: native, as Xen's blkback. A value too long or with a NUL
	 * inside is no protocol at all. */
	r = pvio_backend_read(dev, true, "protocol", proto, sizeof(proto));
	if (r < 0 && r != -ENOENT) {
		pvio_backend_log(dev, "bad protocol: %s", strerror(-r));
		return r;
	}
	if (r < 0 || !proto[0])
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
	r = vbd_sector_unit(dev, d);
	if (r < 0)
		return r;

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
	}
	/* Ports last, once every ring is mapped: a port we bind is used up
	 * (its frontend cannot offer it again after we close our end), so a
	 * frontend whose ring-ref was bad can fix it and write Initialised
	 * again without a reset. */
	for (unsigned i = 0; i < d->nr_queues; i++) {
		struct blkback_queue *q = &d->queues[i];

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
	/* pvio top shows the queues the frontend chose. */
	pvio_stats_dev_set_queues(dev->stats, d->nr_queues);
	for (unsigned i = 0; i < d->nr_queues; i++) {
		d->queues[i].st = pvio_stats_queue(dev->stats, i);
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
		vbd_publish_features(dev, d, tx);
		r = pvio_xs_transaction_end(dev->xs, tx, true);
		if (r != -EAGAIN)
			break;
	}
	if (r < 0)
		goto err;
	fprintf(stderr, "blkback: %s: connected: %u queue(s), ring order %u, %s, "
		"persistent grants %s, %s, %llu bytes, %u-byte sectors counted in %u-byte "
		"units%s\n",
		d->name, d->nr_queues, order, proto, d->persistent ? "on" : "off",
		d->cfg.engine, (unsigned long long)d->size_bytes, d->sector_size, d->unit,
		d->readonly ? ", read-only" : "");
	return 0;
err:
	vbd_disconnect(dev);
	return r;
}

static void vbd_remove(struct pvio_backend_dev *dev)
{
	struct vbd *vb = dev->priv;

	if (!vb)
		return;
	vbd_disconnect(dev);
	dev_close_file(&vb->d);
	pvio_throttle_release(thr_reg, &vb->thr);
	free(vb);
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

static const char *const vbd_live_keys[] = { "throttling", NULL };

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
	.live_keys = vbd_live_keys,
	.key_changed = vbd_key_changed,
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
	c->io_poll_us = BLKBACK_DEFAULT_IO_POLL_US;
	c->max_queues = n > 0 ? (unsigned)(n > BLKBACK_MAX_QUEUES ? BLKBACK_MAX_QUEUES : n) : 1;
	c->max_ring_order = BLKBACK_MAX_RING_ORDER;
	c->max_indirect = BLKBACK_MAX_INDIRECT_SEGS;
	c->persistent = true;
	c->pgrant_max = PVIO_PGRANT_DEFAULT_MAX;
	c->discard = true;
	c->flush = true;
	c->barrier = true;
}
