/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/random.h>

#include "blkback/engine.h"
#include "blkback/rbd.h"
#include "ring/errbuf.h"
#include "ring/pvio_export.h"
#include "ring/xenbus_abi.h"
#include "tools/toolstack.h"
#include "xenstore/xenbus.h"

PVIO_EXPORT int pvio_vdev_to_devid(const char *vdev, uint32_t *devid)
{
	const char *p;
	unsigned disk = 0, part = 0;
	char *end;

	if (!vdev || !*vdev)
		return -EINVAL;
	if (isdigit((unsigned char)vdev[0])) {
		unsigned long v = strtoul(vdev, &end, 10);
		if (*end || v == 0 || v > 0x7fffffff)
			return -EINVAL;
		*devid = (uint32_t)v;
		return 0;
	}
	if (strncmp(vdev, "xvd", 3) == 0)
		p = vdev + 3;
	else if (strncmp(vdev, "sd", 2) == 0 || strncmp(vdev, "hd", 2) == 0)
		p = vdev + 2;
	else
		return -EINVAL;
	if (!islower((unsigned char)*p))
		return -EINVAL;
	/* a..z, aa..zz as Linux names disks: "aa" is disk 26. */
	disk = (unsigned)(*p++ - 'a');
	if (islower((unsigned char)*p))
		disk = (disk + 1) * 26 + (unsigned)(*p++ - 'a');
	if (*p) {
		unsigned long v;

		/* digits only: strtoul would also take " 1", "+1" and "-0" */
		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		v = strtoul(p, &end, 10);
		if (*end || v > 255)
			return -EINVAL;
		part = (unsigned)v;
	}
	if (vdev[0] == 'x') {
		if (disk < 16 && part < 16)
			*devid = (202u << 8) | (disk << 4) | part;
		else if (disk < (1u << 20) && part < 256)
			*devid = (1u << 28) | (disk << 8) | part;
		else
			return -EINVAL;
	} else if (vdev[0] == 's') {
		if (disk >= 16 || part >= 16)
			return -EINVAL;
		*devid = (8u << 8) | (disk << 4) | part;
	} else {
		if (disk >= 4 || part >= 64)
			return -EINVAL;
		*devid = ((disk < 2 ? 3u : 22u) << 8) | ((disk & 1) << 6) | part;
	}
	return 0;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

static int set_access(struct pvio_diskspec *ds, const char *v, char *err, size_t el)
{
	if (!strcmp(v, "r") || !strcmp(v, "ro"))
		ds->readonly = true;
	else if (!strcmp(v, "w") || !strcmp(v, "rw"))
		ds->readonly = false;
	else {
		pvio_errbuf(err, el, "access: '%s' is not r, ro, w or rw", v);
		return -EINVAL;
	}
	return 0;
}

/* xl's deprecated prefixes of a positional target (xl-disk-configuration(5)):
 * "raw:", "qcow:", "qcow2:", "vhd:" name the format; "phy:", "file:", "aio:",
 * "tap:", "tap2:", "tapdisk:", "ioemu:" are stripped, several may chain
 * ("tap:aio:"). Returns the target after them, *depr true if there were any
 * (the next positional is then the vdev), NULL with err set on a prefix pvio
 * cannot honour. */
static const char *strip_disk_prefixes(const char *t, struct pvio_diskspec *ds, bool *depr,
				       char *err, size_t el)
{
	static const char *const ignored[] = { "phy", "file", "aio", "tap", "tap2", "tapdisk",
					       "ioemu" };
	static const char *const formats[] = { "raw", "qcow", "qcow2", "vhd" };
	static const char *const scripts[] = { "iscsi", "nbd", "enbd", "drbd" };

	for (;;) {
		const char *c = t;
		size_t n;
		bool known = false;

		if (!islower((unsigned char)*c) || pvio_blk_target_is_rbd(t))
			return t;      /* rbd: is a target form (rbd.h), not a prefix */
		while (islower((unsigned char)*c) || isdigit((unsigned char)*c))
			c++;
		if (*c != ':')
			return t;
		n = (size_t)(c - t);
		for (unsigned i = 0; i < sizeof(ignored) / sizeof(ignored[0]); i++)
			if (strlen(ignored[i]) == n && !strncmp(t, ignored[i], n))
				known = true;
		for (unsigned i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
			if (strlen(formats[i]) == n && !strncmp(t, formats[i], n)) {
				snprintf(ds->format, sizeof(ds->format), "%s", formats[i]);
				known = true;
			}
		for (unsigned i = 0; i < sizeof(scripts) / sizeof(scripts[0]); i++)
			if (strlen(scripts[i]) == n && !strncmp(t, scripts[i], n)) {
				pvio_errbuf(err, el, "target: '%.*s:' asks for the block-%.*s script; "
				       "pvio serves files and block devices only", (int)n, t,
				       (int)n, t);
				return NULL;
			}
		if (!known) {
			pvio_errbuf(err, el, "target: unknown deprecated disk prefix '%.*s:' (to name "
			       "a path with a colon, use target=PATH last)", (int)n, t);
			return NULL;
		}
		*depr = true;
		t = c + 1;
	}
}

/* A positional vdev may carry xl's deprecated ":disk" or ":cdrom". */
static int set_vdev(struct pvio_diskspec *ds, const char *v, char *err, size_t el)
{
	const char *colon = strrchr(v, ':');
	size_t n = colon ? (size_t)(colon - v) : strlen(v);

	if (colon && strcmp(colon + 1, "disk")) {
		pvio_errbuf(err, el, colon[1] && !strcmp(colon + 1, "cdrom") ?
		       "vdev: %s: cdroms are not supported (pvio serves disks)" :
		       "vdev: '%s': unknown device type after ':'", v);
		return -EINVAL;
	}
	if (n >= sizeof(ds->vdev)) {
		pvio_errbuf(err, el, "vdev: '%s' is too long", v);
		return -EINVAL;
	}
	memcpy(ds->vdev, v, n);
	ds->vdev[n] = 0;
	return 0;
}

/* The image path, n bytes of t: never cut short (that would name another
 * file). */
static int set_target(struct pvio_diskspec *ds, const char *t, size_t n, char *err, size_t el)
{
	if (n >= sizeof(ds->target)) {
		pvio_errbuf(err, el, "target: '%.40s...' is too long (at most %zu characters)", t,
		       sizeof(ds->target) - 1);
		return -EINVAL;
	}
	memcpy(ds->target, t, n);
	ds->target[n] = 0;
	return 0;
}

static int set_format(struct pvio_diskspec *ds, const char *v, char *err, size_t el)
{
	if (strlen(v) >= sizeof(ds->format)) {
		pvio_errbuf(err, el, "format: '%s' is not supported (raw only)", v);
		return -EINVAL;
	}
	snprintf(ds->format, sizeof(ds->format), "%s", v);
	return 0;
}

PVIO_EXPORT int pvio_diskspec_parse(const char *spec, struct pvio_diskspec *ds, char *err,
				    size_t el)
{
	char *buf, *tok, *save;
	/* Positionals in order: 0 target, 1 format, 2 vdev, 3 access. */
	int pos = 0, r = -EINVAL;

	memset(ds, 0, sizeof(*ds));
	snprintf(ds->format, sizeof(ds->format), "raw");
	ds->direct = -1;
	ds->discard = -1;
	ds->sector_size = 512;
	pvio_throttle_cfg_init(&ds->throttle);
	if (!spec || !*spec) {
		pvio_errbuf(err, el, "empty disk specification");
		return -EINVAL;
	}
	buf = strdup(spec);
	if (!buf)
		return -ENOMEM;
	/* strsep, not strtok: an empty field is an empty positional
	 * ("/img,,xvda": default format), as in xl. */
	for (save = buf; (tok = strsep(&save, ",")) != NULL;) {
		char *t = trim(tok), *eq = strchr(t, '='), *k, *v;

		if (!*t && !save)
			break;         /* a trailing comma */
		if (!eq) {
			/* Positional: target, format, vdev, access; or a flag. */
			if (!strcmp(t, "discard")) { ds->discard = 1; continue; }
			if (!strcmp(t, "no-discard")) { ds->discard = 0; continue; }
			if (!strcmp(t, "direct-io-safe") || !strcmp(t, "trusted") ||
			    !strcmp(t, "untrusted") || !strcmp(t, "no-colo"))
				continue;      /* xl's advisory flags: nothing to do here */
			if (!strcmp(t, "cdrom") || !strcmp(t, "colo")) {
				pvio_errbuf(err, el, "%s: not supported (pvio serves disks)", t);
				goto out;
			}
			switch (pos++) {
			case 0: {
				bool depr = false;
				const char *p = strip_disk_prefixes(t, ds, &depr, err, el);

				if (!p)
					goto out;
				while (isspace((unsigned char)*p))
					p++;   /* "phy: /img": blanks are not part of it */
				if (set_target(ds, p, strlen(p), err, el))
					goto out;
				if (depr)
					pos = 2;   /* old syntax: target,vdev,access */
				break;
			}
			case 1: if (*t && set_format(ds, t, err, el)) goto out; break;
			case 2: if (set_vdev(ds, t, err, el)) goto out; break;
			case 3: if (*t && set_access(ds, t, err, el)) goto out; break;
			default:
				pvio_errbuf(err, el, "unexpected positional field '%s'", t);
				goto out;
			}
			continue;
		}
		*eq = 0;
		k = trim(t);
		v = trim(eq + 1);
		if (!strcmp(k, "target")) {
			/* target takes the rest of the spec, commas included. */
			const char *rest = spec + (v - buf);
			size_t n = strlen(rest);

			while (n && isspace((unsigned char)rest[n - 1]))
				n--;
			if (set_target(ds, rest, n, err, el))
				goto out;
			break;
		} else if (!strcmp(k, "format")) {
			/* empty: the default, as in xl */
			if (set_format(ds, *v ? v : "raw", err, el))
				goto out;
		} else if (!strcmp(k, "vdev")) {
			if (strlen(v) >= sizeof(ds->vdev)) {
				pvio_errbuf(err, el, "vdev: '%s' is too long", v);
				goto out;
			}
			snprintf(ds->vdev, sizeof(ds->vdev), "%s", v);
		} else if (!strcmp(k, "access")) {
			if (*v && set_access(ds, v, err, el))
				goto out;
		} else if (!strcmp(k, "devtype")) {
			if (*v && strcmp(v, "disk")) {
				pvio_errbuf(err, el, "devtype: '%s' is not supported (pvio serves disks)",
				       v);
				goto out;
			}
		} else if (!strcmp(k, "backend")) {
			if (*v && strcmp(v, "0") && strcmp(v, "Domain-0")) {
				pvio_errbuf(err, el, "backend: '%s': only dom0 serves disks", v);
				goto out;
			}
		} else if (!strcmp(k, "specification")) {
			if (*v && strcmp(v, "xen")) {
				pvio_errbuf(err, el, "specification: '%s' is not supported (xen only)", v);
				goto out;
			}
		} else if (!strcmp(k, "backendtype") || !strcmp(k, "script")) {
			/* accepted for compatibility */
		} else if (!strcmp(k, "engine")) {
			if (strcmp(v, "io_uring") && strcmp(v, "libaio") && strcmp(v, "psync") &&
			    strcmp(v, "rbd")) {
				pvio_errbuf(err, el, "engine: '%s' is not io_uring, libaio, psync or rbd",
				       v);
				goto out;
			}
			snprintf(ds->engine, sizeof(ds->engine), "%s", v);
		} else if (!strcmp(k, "fault-inject")) {
			char why[160];

			if (strlen(v) >= sizeof(ds->fault_inject)) {
				pvio_errbuf(err, el, "fault-inject: longer than %zu bytes",
				       sizeof(ds->fault_inject) - 1);
				goto out;
			}
			if (pvio_blk_faults_check(v, why, sizeof(why)) < 0) {
				pvio_errbuf(err, el, "fault-inject: %s", why);
				goto out;
			}
			snprintf(ds->fault_inject, sizeof(ds->fault_inject), "%s", v);
		} else if (!strcmp(k, "direct")) {
			if (strcmp(v, "0") && strcmp(v, "1")) {
				pvio_errbuf(err, el, "direct: '%s' is not 0 or 1", v);
				goto out;
			}
			ds->direct = v[0] == '1';
		} else if (!strcmp(k, "sector-size")) {
			if (strcmp(v, "512") && strcmp(v, "4096")) {
				pvio_errbuf(err, el, "sector-size: '%s' is not 512 or 4096", v);
				goto out;
			}
			ds->sector_size = (uint32_t)atoi(v);
		} else if (!strncmp(k, PVIO_THROTTLE_PREFIX, strlen(PVIO_THROTTLE_PREFIX))) {
			if (pvio_throttle_cfg_set(&ds->throttle, k, v, err, el) < 0)
				goto out;
		} else {
			pvio_errbuf(err, el, "unknown key '%s'", k);
			goto out;
		}
	}
	if (pvio_throttle_cfg_validate(&ds->throttle, err, el) < 0)
		goto out;
	if (!ds->target[0]) {
		pvio_errbuf(err, el, "no target (the image path)");
		goto out;
	}
	if (strcmp(ds->format, "raw")) {
		pvio_errbuf(err, el, "format: '%s' is not supported (raw only)", ds->format);
		goto out;
	}
	if (pvio_blk_target_is_rbd(ds->target) || !strcmp(ds->engine, "rbd")) {
		struct pvio_blk_rbd_spec rs;

		if (!pvio_blk_target_is_rbd(ds->target)) {
			pvio_errbuf(err, el, "engine=rbd needs target=rbd:POOL/IMAGE, not '%.60s'",
			       ds->target);
			goto out;
		}
		if (ds->engine[0] && strcmp(ds->engine, "rbd")) {
			pvio_errbuf(err, el, "engine: %s cannot serve an rbd: target (engine=rbd, "
			       "or leave it out)", ds->engine);
			goto out;
		}
		if (pvio_blk_rbd_parse(ds->target, &rs, err, el) < 0)
			goto out;
		if (!pvio_blk_rbd_built()) {
			pvio_errbuf(err, el, "target: %.60s: pvio was built without librbd "
			       "(install librbd-dev and rebuild)", ds->target);
			goto out;
		}
		if (rs.snap[0])
			ds->readonly = true;   /* a snapshot is read-only */
	}
	if (!ds->vdev[0]) {
		pvio_errbuf(err, el, "no vdev (e.g. vdev=xvda)");
		goto out;
	}
	if (pvio_vdev_to_devid(ds->vdev, &ds->devid) < 0) {
		pvio_errbuf(err, el, "vdev: '%s' is not a disk name (xvda, sdb, hdc) or number",
		       ds->vdev);
		goto out;
	}
	r = 0;
out:
	free(buf);
	return r;
}

/* ------------------------------------------------------------ domains */

struct dom_args {
	uint16_t domid;
	const char *name;
};

static int dom_nodes(struct pvio_xs *xs, uint32_t tx, void *arg)
{
	struct dom_args *a = arg;
	struct pvio_xs_perm ro[2] = { { 0, PVIO_XS_PERM_NONE }, { a->domid, PVIO_XS_PERM_READ } };
	struct pvio_xs_perm rw[1] = { { a->domid, PVIO_XS_PERM_NONE } };
	static const char *const rwdirs[] = { "device", "data", "control", "drivers",
					      "attr", "error", "memory" };
	char path[128];
	int r;

	snprintf(path, sizeof(path), "/local/domain/%u", a->domid);
	if ((r = pvio_xs_mkdir(xs, tx, path)) < 0 ||
	    (r = pvio_xs_set_perms(xs, tx, path, ro, 2)) < 0)
		return r;
	snprintf(path, sizeof(path), "/local/domain/%u/name", a->domid);
	if ((r = pvio_xs_write(xs, tx, path, a->name, strlen(a->name))) < 0 ||
	    (r = pvio_xs_set_perms(xs, tx, path, ro, 2)) < 0)
		return r;
	snprintf(path, sizeof(path), "/local/domain/%u/domid", a->domid);
	if ((r = pvio_xs_printf(xs, tx, path, "%u", a->domid)) < 0 ||
	    (r = pvio_xs_set_perms(xs, tx, path, ro, 2)) < 0)
		return r;
	for (unsigned i = 0; i < sizeof(rwdirs) / sizeof(rwdirs[0]); i++) {
		snprintf(path, sizeof(path), "/local/domain/%u/%s", a->domid, rwdirs[i]);
		if ((r = pvio_xs_mkdir(xs, tx, path)) < 0 ||
		    (r = pvio_xs_set_perms(xs, tx, path, rw, 1)) < 0)
			return r;
	}
	return 0;
}

PVIO_EXPORT int pvio_ts_domain_create(struct pvio_hv *hv, struct pvio_xs *xs, const char *name,
				      uint64_t mem_bytes, uint16_t *domid)
{
	struct dom_args a;
	int r = pvio_hv_domain_create(hv, name, mem_bytes, domid);

	if (r < 0)
		return r;
	a.domid = *domid;
	a.name = name;
	r = pvio_xs_transaction_run(xs, dom_nodes, &a);
	if (r < 0) {
		pvio_hv_domain_destroy(hv, *domid);
		return r;
	}
	return 0;
}

PVIO_EXPORT int pvio_ts_domain_destroy(struct pvio_hv *hv, struct pvio_xs *xs, uint16_t domid)
{
	static const char *const types[] = { "vbd", "vif" };
	char path[128];
	int r;

	if (domid == 0)
		return -EINVAL;
	/* The domain goes first: its ports close, backends see it and stop
	 * serving; then the nodes go and backends forget the devices. */
	r = pvio_hv_domain_destroy(hv, domid);
	if (r < 0)
		return r;
	for (unsigned i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "/local/domain/0/backend/%s/%u", types[i], domid);
		pvio_xs_rm(xs, PVIO_XS_NO_TX, path);
	}
	snprintf(path, sizeof(path), "/local/domain/%u", domid);
	pvio_xs_rm(xs, PVIO_XS_NO_TX, path);
	return 0;
}

/* ------------------------------------------------------------ block */

struct vbd_args {
	uint16_t domid;
	const struct pvio_diskspec *ds;
};

static int put(struct pvio_xs *xs, uint32_t tx, const char *dir, const char *key,
	       const struct pvio_xs_perm *perms, unsigned np, const char *fmt, ...)
{
	char path[320], val[1100];
	va_list ap;
	int n, r;

	snprintf(path, sizeof(path), "%s/%s", dir, key);
	va_start(ap, fmt);
	n = vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(val))
		return -E2BIG;
	r = pvio_xs_write(xs, tx, path, val, (size_t)n);
	if (r == 0 && perms)
		r = pvio_xs_set_perms(xs, tx, path, perms, np);
	return r;
}

/* <be>/throttling/<option> for every option cfg sets (nothing if none). */
static int put_throttle(struct pvio_xs *xs, uint32_t tx, const char *be,
			const struct pvio_throttle_cfg *cfg, const struct pvio_xs_perm *bp)
{
	char dir[200], val[PVIO_THROTTLE_GROUP_MAX + 24];
	bool any = false;
	int r;

	snprintf(dir, sizeof(dir), "%s/throttling", be);
	for (unsigned i = 0; i < pvio_throttle_opt_count(); i++) {
		if (!pvio_throttle_opt_get(cfg, i, val, sizeof(val)))
			continue;
		if (!any && ((r = pvio_xs_mkdir(xs, tx, dir)) < 0 ||
			     (r = pvio_xs_set_perms(xs, tx, dir, bp, 2)) < 0))
			return r;
		any = true;
		if ((r = put(xs, tx, dir, pvio_throttle_opt_name(i), bp, 2, "%s", val)))
			return r;
	}
	return 0;
}

static int vbd_nodes(struct pvio_xs *xs, uint32_t tx, void *arg)
{
	struct vbd_args *a = arg;
	const struct pvio_diskspec *ds = a->ds;
	/* Backend: dom0's, readable by the guest. Frontend: the guest's,
	 * readable by dom0 (the backend). */
	struct pvio_xs_perm bp[2] = { { 0, PVIO_XS_PERM_NONE }, { a->domid, PVIO_XS_PERM_READ } };
	struct pvio_xs_perm fp[2] = { { a->domid, PVIO_XS_PERM_NONE }, { 0, PVIO_XS_PERM_READ } };
	char be[160], fe[160], probe[200];
	size_t len;
	int r;

	snprintf(be, sizeof(be), "/local/domain/0/backend/vbd/%u/%u", a->domid, ds->devid);
	snprintf(fe, sizeof(fe), "/local/domain/%u/device/vbd/%u", a->domid, ds->devid);
	snprintf(probe, sizeof(probe), "%s/state", be);
	r = pvio_xs_read_buf(xs, tx, probe, probe, sizeof(probe), &len);
	if (r == 0)
		return -EEXIST;
	if ((r = pvio_xs_mkdir(xs, tx, be)) < 0 || (r = pvio_xs_set_perms(xs, tx, be, bp, 2)) < 0 ||
	    (r = pvio_xs_mkdir(xs, tx, fe)) < 0 || (r = pvio_xs_set_perms(xs, tx, fe, fp, 2)) < 0)
		return r;
	if ((r = put(xs, tx, be, "frontend", bp, 2, "%s", fe)) ||
	    (r = put(xs, tx, be, "frontend-id", bp, 2, "%u", a->domid)) ||
	    (r = put(xs, tx, be, "params", bp, 2, "%s", ds->target)) ||
	    (r = put(xs, tx, be, "type", bp, 2, "file")) ||
	    (r = put(xs, tx, be, "mode", bp, 2, "%s", ds->readonly ? "r" : "w")) ||
	    (r = put(xs, tx, be, "dev", bp, 2, "%s", ds->vdev)) ||
	    (r = put(xs, tx, be, "device-type", bp, 2, "disk")) ||
	    (r = put(xs, tx, be, "removable", bp, 2, "0")) ||
	    (r = put(xs, tx, be, "online", bp, 2, "1")) ||
	    (r = put(xs, tx, be, "sector-size", bp, 2, "%u", ds->sector_size)) ||
	    (r = put(xs, tx, be, "state", bp, 2, "%d", PVIO_XENBUS_STATE_INITIALISING)))
		return r;
	if (ds->engine[0] && (r = put(xs, tx, be, "engine", bp, 2, "%s", ds->engine)))
		return r;
	if (ds->fault_inject[0] &&
	    (r = put(xs, tx, be, "fault-inject", bp, 2, "%s", ds->fault_inject)))
		return r;
	if (ds->direct >= 0 && (r = put(xs, tx, be, "direct", bp, 2, "%d", ds->direct)))
		return r;
	if (ds->discard >= 0 && (r = put(xs, tx, be, "discard-enable", bp, 2, "%d", ds->discard)))
		return r;
	if ((r = put_throttle(xs, tx, be, &ds->throttle, bp)) < 0)
		return r;
	if ((r = put(xs, tx, fe, "backend", fp, 2, "%s", be)) ||
	    (r = put(xs, tx, fe, "backend-id", fp, 2, "0")) ||
	    (r = put(xs, tx, fe, "virtual-device", fp, 2, "%u", ds->devid)) ||
	    (r = put(xs, tx, fe, "device-type", fp, 2, "disk")) ||
	    (r = put(xs, tx, fe, "state", fp, 2, "%d", PVIO_XENBUS_STATE_INITIALISING)))
		return r;
	return 0;
}

PVIO_EXPORT int pvio_ts_block_attach(struct pvio_xs *xs, uint16_t domid,
				     const struct pvio_diskspec *ds)
{
	struct vbd_args a = { .domid = domid, .ds = ds };

	return pvio_xs_transaction_run(xs, vbd_nodes, &a);
}

/* The device's backend directory into be, if the device exists (its
 * state node reads): 0, or the read's -errno (-ENOENT: no such device). */
static int backend_dir(struct pvio_xs *xs, uint32_t tx, const char *type, uint16_t domid,
		       uint32_t devid, char *be, size_t len)
{
	char path[200];
	int r;

	snprintf(be, len, "/local/domain/0/backend/%s/%u/%u", type, domid, devid);
	snprintf(path, sizeof(path), "%s/state", be);
	r = pvio_xs_read_buf(xs, tx, path, path, sizeof(path), NULL);
	return r < 0 ? r : 0;
}

struct throttle_args {
	uint16_t domid;
	uint32_t devid;
	const struct pvio_throttle_cfg *cfg;
};

static int throttle_nodes(struct pvio_xs *xs, uint32_t tx, void *arg)
{
	struct throttle_args *a = arg;
	struct pvio_xs_perm bp[2] = { { 0, PVIO_XS_PERM_NONE }, { a->domid, PVIO_XS_PERM_READ } };
	char be[160], path[200];
	int r;

	r = backend_dir(xs, tx, "vbd", a->domid, a->devid, be, sizeof(be));
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "%s/throttling", be);
	if ((r = pvio_xs_rm(xs, tx, path)) < 0 && r != -ENOENT)
		return r;
	return put_throttle(xs, tx, be, a->cfg, bp);
}

PVIO_EXPORT int pvio_ts_block_set_throttle(struct pvio_xs *xs, uint16_t domid, uint32_t devid,
					   const struct pvio_throttle_cfg *cfg)
{
	struct throttle_args a = { .domid = domid, .devid = devid, .cfg = cfg };

	if (!xs || !cfg || pvio_throttle_cfg_validate(cfg, NULL, 0) < 0)
		return -EINVAL;
	return pvio_xs_transaction_run(xs, throttle_nodes, &a);
}

/* online=0 and the backend's Closing in one transaction, as libxl writes
 * them: xenvif's eject thread wakes on the online change and reads both;
 * between two separate writes it would see online=0 with the backend still
 * Connected and never eject. */
static int offline_closing(struct pvio_xs *xs, uint32_t tx, void *arg)
{
	const char *be = arg;
	char path[200];
	int r;

	snprintf(path, sizeof(path), "%s/online", be);
	r = pvio_xs_write(xs, tx, path, "0", 1);
	if (r < 0)
		return r;
	return pvio_xenbus_switch_state(xs, tx, be, PVIO_XENBUS_STATE_CLOSING);
}

/* Detach the device of type ("vbd", "vif") devid from domid: an orderly
 * close when a frontend is connected (libxl: online=0 and backend Closing,
 * then wait for Closed, at most timeout_ms), then both directories go. */
static int detach_dev(struct pvio_xs *xs, const char *type, uint16_t domid, uint32_t devid,
		      int timeout_ms)
{
	char be[160], fe[160], path[200];
	enum pvio_xenbus_state st;
	int r;

	snprintf(be, sizeof(be), "/local/domain/0/backend/%s/%u/%u", type, domid, devid);
	snprintf(fe, sizeof(fe), "/local/domain/%u/device/%s/%u", domid, type, devid);
	snprintf(path, sizeof(path), "%s/state", be);
	r = pvio_xs_read_buf(xs, PVIO_XS_NO_TX, path, path, sizeof(path), NULL);
	if (r == -ENOENT)
		return -ENOENT;
	if (pvio_xenbus_read_state(xs, PVIO_XS_NO_TX, fe, &st) == 0 &&
	    st == PVIO_XENBUS_STATE_CONNECTED &&
	    pvio_xs_transaction_run(xs, offline_closing, be) >= 0)
		pvio_xenbus_wait_state(xs, be, PVIO_XENBUS_MASK(PVIO_XENBUS_STATE_CLOSED),
				       timeout_ms, NULL);
	pvio_xs_rm(xs, PVIO_XS_NO_TX, be);
	pvio_xs_rm(xs, PVIO_XS_NO_TX, fe);
	return 0;
}

PVIO_EXPORT int pvio_ts_block_detach(struct pvio_xs *xs, uint16_t domid, uint32_t devid,
				     int timeout_ms)
{
	return detach_dev(xs, "vbd", domid, devid, timeout_ms);
}

PVIO_EXPORT int pvio_ts_block_list(struct pvio_xs *xs, uint16_t domid, struct pvio_ts_vbd *out,
				   unsigned max)
{
	char dir[128], path[256], buf[64];
	char **names = NULL;
	unsigned n = 0, k = 0;
	int r;

	snprintf(dir, sizeof(dir), "/local/domain/0/backend/vbd/%u", domid);
	r = pvio_xs_directory(xs, PVIO_XS_NO_TX, dir, &names, &n);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	for (unsigned i = 0; i < n; i++) {
		struct pvio_ts_vbd v;
		unsigned long long x;

		memset(&v, 0, sizeof(v));
		v.devid = (uint32_t)strtoul(names[i], NULL, 10);
		snprintf(path, sizeof(path), "%s/%s/dev", dir, names[i]);
		pvio_xs_read_buf(xs, PVIO_XS_NO_TX, path, v.vdev, sizeof(v.vdev), NULL);
		snprintf(path, sizeof(path), "%s/%s/params", dir, names[i]);
		pvio_xs_read_buf(xs, PVIO_XS_NO_TX, path, v.target, sizeof(v.target), NULL);
		snprintf(path, sizeof(path), "%s/%s/mode", dir, names[i]);
		if (pvio_xs_read_buf(xs, PVIO_XS_NO_TX, path, buf, sizeof(buf), NULL) == 0)
			v.readonly = buf[0] == 'r';
		snprintf(path, sizeof(path), "%s/%s/state", dir, names[i]);
		v.be_state = pvio_xs_read_uint(xs, PVIO_XS_NO_TX, path, &x) == 0 ? (int)x : -1;
		snprintf(path, sizeof(path), "/local/domain/%u/device/vbd/%s/state", domid,
			 names[i]);
		v.fe_state = pvio_xs_read_uint(xs, PVIO_XS_NO_TX, path, &x) == 0 ? (int)x : -1;
		if (k < max)
			out[k] = v;
		k++;
	}
	free(names);
	return (int)k;
}

/* ------------------------------------------------------------ network */

PVIO_EXPORT int pvio_mac_parse(const char *s, uint8_t mac[6])
{
	char sep = 0;

	if (!s)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		unsigned v = 0;

		for (int k = 0; k < 2; k++, s++) {
			if (!isxdigit((unsigned char)*s))
				return -EINVAL;
			v = v * 16 + (unsigned)(isdigit((unsigned char)*s) ? *s - '0'
							   : tolower((unsigned char)*s) - 'a' + 10);
		}
		mac[i] = (uint8_t)v;
		if (i == 5)
			break;
		if (*s != ':' && *s != '-')
			return -EINVAL;
		if (sep && *s != sep)
			return -EINVAL;
		sep = *s++;
	}
	return *s ? -EINVAL : 0;
}

PVIO_EXPORT void pvio_mac_format(const uint8_t mac[6], char *buf)
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
		 mac[4], mac[5]);
}

PVIO_EXPORT int pvio_mac_random(uint8_t mac[6])
{
	uint8_t r[3];

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return -EIO;
	/* Xen's OUI, then 23 random bits (libxl: the top bit of byte 3 is 0). */
	mac[0] = 0x00;
	mac[1] = 0x16;
	mac[2] = 0x3e;
	mac[3] = r[0] & 0x7f;
	mac[4] = r[1];
	mac[5] = r[2];
	return 0;
}

static int parse_uint(const char *v, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long x;

	if (!isdigit((unsigned char)*v))
		return -EINVAL;
	errno = 0;
	x = strtoul(v, &end, 10);
	if (errno || *end || x > max)
		return -EINVAL;
	*out = x;
	return 0;
}

/* Space-separated IPv4/IPv6 addresses (xl accepts a list). */
static bool valid_ip_list(const char *v)
{
	char buf[256], *tok, *save = NULL;
	int n = 0;

	if (strlen(v) >= sizeof(buf))
		return false;
	snprintf(buf, sizeof(buf), "%s", v);
	for (tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		struct in6_addr a6;
		struct in_addr a4;

		if (inet_pton(AF_INET, tok, &a4) != 1 && inet_pton(AF_INET6, tok, &a6) != 1)
			return false;
		n++;
	}
	return n > 0;
}

static bool valid_name(const char *v, size_t max)
{
	size_t n = strlen(v);

	if (n == 0 || n > max)
		return false;
	for (; *v; v++)
		if (!isgraph((unsigned char)*v) || *v == '/')
			return false;
	return true;
}

PVIO_EXPORT int pvio_vifspec_parse(const char *spec, struct pvio_vifspec *vs, char *err,
				   size_t el)
{
	char *buf, *tok, *save = NULL;
	int r = -EINVAL;

	memset(vs, 0, sizeof(*vs));
	snprintf(vs->bridge, sizeof(vs->bridge), "xenbr0");
	vs->devid = -1;
	vs->trusted = -1;
	if (!spec) {
		pvio_errbuf(err, el, "no vif specification");
		return -EINVAL;
	}
	buf = strdup(spec);
	if (!buf)
		return -ENOMEM;
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *t = trim(tok), *eq = strchr(t, '='), *k, *v;
		unsigned long x;

		if (!*t)
			continue;
		if (!eq) {
			if (!strcmp(t, "trusted")) {
				vs->trusted = 1;
			} else if (!strcmp(t, "untrusted")) {
				vs->trusted = 0;
			} else {
				pvio_errbuf(err, el, "unexpected field '%s' (expected key=value)", t);
				goto out;
			}
			continue;
		}
		*eq = 0;
		k = trim(t);
		v = trim(eq + 1);
		if (!strcmp(k, "mac")) {
			if (pvio_mac_parse(v, vs->mac) < 0) {
				pvio_errbuf(err, el, "mac: '%s' is not a MAC address (aa:bb:cc:dd:ee:ff)", v);
				goto out;
			}
			if (vs->mac[0] & 1) {
				pvio_errbuf(err, el, "mac: '%s' is a multicast address", v);
				goto out;
			}
			if (!(vs->mac[0] | vs->mac[1] | vs->mac[2] | vs->mac[3] | vs->mac[4] |
			      vs->mac[5])) {
				pvio_errbuf(err, el, "mac: '%s' is the null address", v);
				goto out;
			}
			vs->mac_set = true;
		} else if (!strcmp(k, "bridge")) {
			if (!valid_name(v, sizeof(vs->bridge) - 1)) {
				pvio_errbuf(err, el, "bridge: '%s' is not a bridge name", v);
				goto out;
			}
			snprintf(vs->bridge, sizeof(vs->bridge), "%s", v);
		} else if (!strcmp(k, "ip")) {
			if (!valid_ip_list(v)) {
				pvio_errbuf(err, el, "ip: '%s' is not a list of IP addresses", v);
				goto out;
			}
			snprintf(vs->ip, sizeof(vs->ip), "%s", v);
		} else if (!strcmp(k, "type")) {
			if (strcmp(v, "vif")) {
				pvio_errbuf(err, el, "type: '%s' is not supported (pvio guests are PV: "
				       "type=vif)", v);
				goto out;
			}
		} else if (!strcmp(k, "model")) {
			/* An emulated NIC's model: meaningless for a PV vif. */
			if (strlen(v) >= sizeof(vs->model)) {
				pvio_errbuf(err, el, "model: '%s' is too long", v);
				goto out;
			}
			snprintf(vs->model, sizeof(vs->model), "%s", v);
		} else if (!strcmp(k, "vifname")) {
			if (!valid_name(v, 15)) {
				pvio_errbuf(err, el, "vifname: '%s' is not an interface name "
				       "(1..15 characters)", v);
				goto out;
			}
			snprintf(vs->vifname, sizeof(vs->vifname), "%s", v);
		} else if (!strcmp(k, "script")) {
			if (!*v || strlen(v) >= sizeof(vs->script)) {
				pvio_errbuf(err, el, "script: '%s' is empty or too long", v);
				goto out;
			}
			snprintf(vs->script, sizeof(vs->script), "%s", v);
		} else if (!strcmp(k, "devid")) {
			if (parse_uint(v, 65535, &x) < 0) {
				pvio_errbuf(err, el, "devid: '%s' is not a number 0..65535", v);
				goto out;
			}
			vs->devid = (int)x;
		} else if (!strcmp(k, "mtu")) {
			if (parse_uint(v, 65521, &x) < 0 || x < 68) {
				pvio_errbuf(err, el, "mtu: '%s' is not a number 68..65521", v);
				goto out;
			}
			vs->mtu = (unsigned)x;
		} else if (!strcmp(k, "backend")) {
			if (strcmp(v, "0") && strcmp(v, "Domain-0")) {
				pvio_errbuf(err, el, "backend: '%s': only dom0 serves vifs", v);
				goto out;
			}
		} else if (!strcmp(k, "rate")) {
			/* pvio_rate_parse's messages start with "rate: ". */
			if (pvio_rate_parse(v, &vs->rate_bytes, &vs->rate_usec, err, el) < 0)
				goto out;
		} else if (!strcmp(k, "gatewaydev") || !strcmp(k, "accel")) {
			/* accepted for compatibility, not implemented */
		} else {
			pvio_errbuf(err, el, "unknown key '%s'", k);
			goto out;
		}
	}
	r = 0;
out:
	free(buf);
	return r;
}

/* Numeric children of dir (devids, domids), or an empty list. */
static int num_children(struct pvio_xs *xs, uint32_t tx, const char *dir, unsigned long **out,
			unsigned *n)
{
	char **names = NULL;
	unsigned cnt = 0, k = 0;
	int r = pvio_xs_directory(xs, tx, dir, &names, &cnt);

	*out = NULL;
	*n = 0;
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	*out = calloc(cnt ? cnt : 1, sizeof(**out));
	if (!*out) {
		free(names);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < cnt; i++) {
		unsigned long v;

		if (parse_uint(names[i], 0xffffffffUL, &v) == 0)
			(*out)[k++] = v;
	}
	free(names);
	*n = k;
	return 0;
}

static bool in_list(const unsigned long *v, unsigned n, unsigned long x)
{
	for (unsigned i = 0; i < n; i++)
		if (v[i] == x)
			return true;
	return false;
}

/* Does any vif of domain g other than devid `skip` (-1: none) use mac? */
static int mac_used(struct pvio_xs *xs, uint32_t tx, unsigned long g, const uint8_t mac[6],
		    long skip)
{
	char dir[128], path[200], val[32];
	unsigned long *ids;
	unsigned n;
	int r, used = 0;
	uint8_t m[6];

	snprintf(dir, sizeof(dir), "/local/domain/0/backend/vif/%lu", g);
	r = num_children(xs, tx, dir, &ids, &n);
	if (r < 0)
		return r;
	for (unsigned i = 0; i < n && !used; i++) {
		if ((long)ids[i] == skip)
			continue;
		snprintf(path, sizeof(path), "%s/%lu/mac", dir, ids[i]);
		if (pvio_xs_read_buf(xs, tx, path, val, sizeof(val), NULL) == 0 &&
		    pvio_mac_parse(val, m) == 0 && !memcmp(m, mac, 6))
			used = 1;
	}
	free(ids);
	return used;
}

/* Used by any vif of any domain (for random macs). */
static int mac_used_anywhere(struct pvio_xs *xs, uint32_t tx, const uint8_t mac[6])
{
	unsigned long *doms;
	unsigned n;
	int r = num_children(xs, tx, "/local/domain/0/backend/vif", &doms, &n);

	for (unsigned i = 0; r == 0 && i < n; i++)
		r = mac_used(xs, tx, doms[i], mac, -1);
	free(doms);
	return r;
}

struct vif_args {
	uint16_t domid;
	struct pvio_vifspec *vs;
	uint32_t devid;
};

static int vif_nodes(struct pvio_xs *xs, uint32_t tx, void *arg)
{
	struct vif_args *a = arg;
	struct pvio_vifspec *vs = a->vs;
	/* Backend: dom0's, readable by the guest. Frontend: the guest's,
	 * readable by dom0 (the backend); its mtu is dom0's (read-only for
	 * the guest, libxl's ro_front). */
	struct pvio_xs_perm bp[2] = { { 0, PVIO_XS_PERM_NONE }, { a->domid, PVIO_XS_PERM_READ } };
	struct pvio_xs_perm fp[2] = { { a->domid, PVIO_XS_PERM_NONE }, { 0, PVIO_XS_PERM_READ } };
	char be[160], fe[160], dir[128], mac[18];
	unsigned long *bids, *fids, devid;
	unsigned nb, nf;
	unsigned mtu = vs->mtu ? vs->mtu : 1500;
	int r;

	snprintf(dir, sizeof(dir), "/local/domain/0/backend/vif/%u", a->domid);
	if ((r = num_children(xs, tx, dir, &bids, &nb)) < 0)
		return r;
	snprintf(dir, sizeof(dir), "/local/domain/%u/device/vif", a->domid);
	if ((r = num_children(xs, tx, dir, &fids, &nf)) < 0) {
		free(bids);
		return r;
	}
	if (vs->devid >= 0) {
		devid = (unsigned long)vs->devid;
		r = in_list(bids, nb, devid) || in_list(fids, nf, devid) ? -EEXIST : 0;
	} else {
		/* The lowest index free in both directories (xl's choice). */
		for (devid = 0; in_list(bids, nb, devid) || in_list(fids, nf, devid); devid++)
			;
	}
	free(bids);
	free(fids);
	if (r < 0)
		return r;

	if (vs->mac_set) {
		r = mac_used(xs, tx, a->domid, vs->mac, -1);
		if (r != 0)
			return r < 0 ? r : -EADDRINUSE;
	} else {
		unsigned tries = 0;

		do {
			if ((r = pvio_mac_random(vs->mac)) < 0)
				return r;
			r = mac_used_anywhere(xs, tx, vs->mac);
			if (r < 0)
				return r;
		} while (r && ++tries < 64);
		if (r)
			return -EADDRINUSE;
	}
	pvio_mac_format(vs->mac, mac);

	snprintf(be, sizeof(be), "/local/domain/0/backend/vif/%u/%lu", a->domid, devid);
	snprintf(fe, sizeof(fe), "/local/domain/%u/device/vif/%lu", a->domid, devid);
	if ((r = pvio_xs_mkdir(xs, tx, be)) < 0 || (r = pvio_xs_set_perms(xs, tx, be, bp, 2)) < 0 ||
	    (r = pvio_xs_mkdir(xs, tx, fe)) < 0 || (r = pvio_xs_set_perms(xs, tx, fe, fp, 2)) < 0)
		return r;
	if ((r = put(xs, tx, be, "frontend", bp, 2, "%s", fe)) ||
	    (r = put(xs, tx, be, "frontend-id", bp, 2, "%u", a->domid)) ||
	    (r = put(xs, tx, be, "online", bp, 2, "1")) ||
	    (r = put(xs, tx, be, "state", bp, 2, "%d", PVIO_XENBUS_STATE_INITIALISING)) ||
	    (r = put(xs, tx, be, "mac", bp, 2, "%s", mac)) ||
	    (r = put(xs, tx, be, "bridge", bp, 2, "%s", vs->bridge)) ||
	    (r = put(xs, tx, be, "handle", bp, 2, "%lu", devid)) ||
	    (r = put(xs, tx, be, "type", bp, 2, "vif")))
		return r;
	if (vs->ip[0] && (r = put(xs, tx, be, "ip", bp, 2, "%s", vs->ip)))
		return r;
	if (vs->script[0] && (r = put(xs, tx, be, "script", bp, 2, "%s", vs->script)))
		return r;
	if (vs->vifname[0] && (r = put(xs, tx, be, "vifname", bp, 2, "%s", vs->vifname)))
		return r;
	if (mtu != 1500 && (r = put(xs, tx, be, "mtu", bp, 2, "%u", mtu)))
		return r;
	if (vs->rate_usec && (r = put(xs, tx, be, "rate", bp, 2, "%llu,%u",
				      (unsigned long long)vs->rate_bytes, vs->rate_usec)))
		return r;
	if ((r = put(xs, tx, fe, "backend", fp, 2, "%s", be)) ||
	    (r = put(xs, tx, fe, "backend-id", fp, 2, "0")) ||
	    (r = put(xs, tx, fe, "handle", fp, 2, "%lu", devid)) ||
	    (r = put(xs, tx, fe, "mac", fp, 2, "%s", mac)) ||
	    (r = put(xs, tx, fe, "trusted", fp, 2, "%d", vs->trusted == 0 ? 0 : 1)) ||
	    (r = put(xs, tx, fe, "mtu", bp, 2, "%u", mtu)) ||
	    (r = put(xs, tx, fe, "state", fp, 2, "%d", PVIO_XENBUS_STATE_INITIALISING)))
		return r;
	a->devid = (uint32_t)devid;
	return 0;
}

PVIO_EXPORT int pvio_ts_net_attach(struct pvio_xs *xs, uint16_t domid, struct pvio_vifspec *vs,
				   uint32_t *devid)
{
	struct vif_args a = { .domid = domid, .vs = vs };
	int r;

	if (!xs || !vs || domid == 0)
		return -EINVAL;
	r = pvio_xs_transaction_run(xs, vif_nodes, &a);
	if (r == 0 && devid)
		*devid = a.devid;
	return r;
}

struct rate_args {
	uint16_t domid;
	uint32_t devid;
	uint64_t bytes;
	uint32_t usec;
};

static int rate_node(struct pvio_xs *xs, uint32_t tx, void *arg)
{
	struct rate_args *a = arg;
	struct pvio_xs_perm bp[2] = { { 0, PVIO_XS_PERM_NONE }, { a->domid, PVIO_XS_PERM_READ } };
	char be[160], path[200];
	int r;

	r = backend_dir(xs, tx, "vif", a->domid, a->devid, be, sizeof(be));
	if (r < 0)
		return r;
	if (!a->usec) {
		snprintf(path, sizeof(path), "%s/rate", be);
		r = pvio_xs_rm(xs, tx, path);
		return r == -ENOENT ? 0 : r;
	}
	return put(xs, tx, be, "rate", bp, 2, "%llu,%u", (unsigned long long)a->bytes, a->usec);
}

PVIO_EXPORT int pvio_ts_net_set_rate(struct pvio_xs *xs, uint16_t domid, uint32_t devid,
				     uint64_t bytes, uint32_t usec)
{
	struct rate_args a = { .domid = domid, .devid = devid, .bytes = bytes, .usec = usec };

	if (!xs || (usec && !bytes))
		return -EINVAL;
	return pvio_xs_transaction_run(xs, rate_node, &a);
}

PVIO_EXPORT int pvio_ts_net_detach(struct pvio_xs *xs, uint16_t domid, uint32_t devid,
				   int timeout_ms)
{
	return detach_dev(xs, "vif", domid, devid, timeout_ms);
}

static int cmp_ulong(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;

	return x < y ? -1 : x > y;
}

PVIO_EXPORT int pvio_ts_net_list(struct pvio_xs *xs, uint16_t domid, struct pvio_ts_vif *out,
				 unsigned max)
{
	char dir[128], path[256];
	unsigned long *ids;
	unsigned n, k = 0;
	int r;

	snprintf(dir, sizeof(dir), "/local/domain/0/backend/vif/%u", domid);
	r = num_children(xs, PVIO_XS_NO_TX, dir, &ids, &n);
	if (r < 0)
		return r;
	if (n > 1)
		qsort(ids, n, sizeof(*ids), cmp_ulong);
	for (unsigned i = 0; i < n; i++) {
		struct pvio_ts_vif v;
		unsigned long long x;

		memset(&v, 0, sizeof(v));
		v.devid = (uint32_t)ids[i];
		snprintf(path, sizeof(path), "%s/%lu/mac", dir, ids[i]);
		pvio_xs_read_buf(xs, PVIO_XS_NO_TX, path, v.mac, sizeof(v.mac), NULL);
		snprintf(path, sizeof(path), "%s/%lu/bridge", dir, ids[i]);
		pvio_xs_read_buf(xs, PVIO_XS_NO_TX, path, v.bridge, sizeof(v.bridge), NULL);
		snprintf(path, sizeof(path), "%s/%lu/ip", dir, ids[i]);
		pvio_xs_read_buf(xs, PVIO_XS_NO_TX, path, v.ip, sizeof(v.ip), NULL);
		snprintf(path, sizeof(path), "%s/%lu/state", dir, ids[i]);
		v.be_state = pvio_xs_read_uint(xs, PVIO_XS_NO_TX, path, &x) == 0 ? (int)x : -1;
		snprintf(path, sizeof(path), "/local/domain/%u/device/vif/%lu/state", domid, ids[i]);
		v.fe_state = pvio_xs_read_uint(xs, PVIO_XS_NO_TX, path, &x) == 0 ? (int)x : -1;
		if (k < max)
			out[k] = v;
		k++;
	}
	free(ids);
	return (int)k;
}

PVIO_EXPORT int pvio_ts_net_find_mac(struct pvio_xs *xs, uint16_t domid, const uint8_t mac[6],
				     uint32_t *devid)
{
	char dir[128], path[200], val[32];
	unsigned long *ids;
	unsigned n;
	int r;
	uint8_t m[6];

	snprintf(dir, sizeof(dir), "/local/domain/0/backend/vif/%u", domid);
	r = num_children(xs, PVIO_XS_NO_TX, dir, &ids, &n);
	if (r < 0)
		return r;
	r = -ENOENT;
	for (unsigned i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%lu/mac", dir, ids[i]);
		if (pvio_xs_read_buf(xs, PVIO_XS_NO_TX, path, val, sizeof(val), NULL) == 0 &&
		    pvio_mac_parse(val, m) == 0 && !memcmp(m, mac, 6)) {
			*devid = (uint32_t)ids[i];
			r = 0;
			break;
		}
	}
	free(ids);
	return r;
}
