/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "tests/blkfront/fake_toolstack.h"

struct ft_ctx {
	struct ft_vbd *v;
	bool readonly;
};

static int put(struct pvio_xs *xs, uint32_t tx, const char *dir, const char *key,
	       const char *val)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, key);
	return pvio_xs_write(xs, tx, path, val, strlen(val));
}

static int mkdir_perms(struct pvio_xs *xs, uint32_t tx, const char *path,
		       const struct pvio_xs_perm *perms, unsigned n)
{
	int r = pvio_xs_mkdir(xs, tx, path);

	return r < 0 ? r : pvio_xs_set_perms(xs, tx, path, perms, n);
}

static int tx_create(struct pvio_xs *xs, uint32_t tx, void *arg)
{
	struct ft_ctx *c = arg;
	struct ft_vbd *v = c->v;
	char path[128], num[32];
	/* As libxl: the guest's domain dir is dom0's (guest may read), its
	 * device dir the guest's; the frontend dir is the guest's with read
	 * for the backend, the backend dir the backend's with read for the
	 * guest. Keys written below inherit their directory's permissions. */
	struct pvio_xs_perm dom_perm[2] = {
		{ .domid = 0, .perm = PVIO_XS_PERM_NONE },
		{ .domid = v->fe_domid, .perm = PVIO_XS_PERM_READ },
	};
	struct pvio_xs_perm dev_perm[1] = { { .domid = v->fe_domid, .perm = PVIO_XS_PERM_NONE } };
	struct pvio_xs_perm fe_perm[2] = {
		{ .domid = v->fe_domid, .perm = PVIO_XS_PERM_NONE },
		{ .domid = v->be_domid, .perm = PVIO_XS_PERM_READ },
	};
	struct pvio_xs_perm be_perm[2] = {
		{ .domid = v->be_domid, .perm = PVIO_XS_PERM_NONE },
		{ .domid = v->fe_domid, .perm = PVIO_XS_PERM_READ },
	};
	int r;

	snprintf(path, sizeof(path), "/local/domain/%u", v->fe_domid);
	if ((r = mkdir_perms(xs, tx, path, dom_perm, 2)) < 0)
		return r;
	snprintf(path, sizeof(path), "/local/domain/%u/device", v->fe_domid);
	if ((r = mkdir_perms(xs, tx, path, dev_perm, 1)) < 0)
		return r;
	if ((r = mkdir_perms(xs, tx, v->fe_dir, fe_perm, 2)) < 0)
		return r;
	if ((r = mkdir_perms(xs, tx, v->be_dir, be_perm, 2)) < 0)
		return r;

	snprintf(num, sizeof(num), "%u", v->be_domid);
	if ((r = put(xs, tx, v->fe_dir, "backend", v->be_dir)) < 0 ||
	    (r = put(xs, tx, v->fe_dir, "backend-id", num)) < 0 ||
	    (r = put(xs, tx, v->fe_dir, "state", "1")) < 0 ||
	    (r = put(xs, tx, v->fe_dir, "device-type", "disk")) < 0)
		return r;
	snprintf(num, sizeof(num), "%u", v->vdev);
	if ((r = put(xs, tx, v->fe_dir, "virtual-device", num)) < 0)
		return r;

	snprintf(num, sizeof(num), "%u", v->fe_domid);
	if ((r = put(xs, tx, v->be_dir, "frontend", v->fe_dir)) < 0 ||
	    (r = put(xs, tx, v->be_dir, "frontend-id", num)) < 0 ||
	    (r = put(xs, tx, v->be_dir, "online", "1")) < 0 ||
	    (r = put(xs, tx, v->be_dir, "state", "1")) < 0 ||
	    (r = put(xs, tx, v->be_dir, "mode", c->readonly ? "r" : "w")) < 0 ||
	    (r = put(xs, tx, v->be_dir, "type", "phy")) < 0 ||
	    (r = put(xs, tx, v->be_dir, "params", "/dev/null")) < 0 ||
	    (r = put(xs, tx, v->be_dir, "removable", "0")) < 0 ||
	    (r = put(xs, tx, v->be_dir, "bootable", "1")) < 0 ||
	    (r = put(xs, tx, v->be_dir, "dev", "xvda")) < 0)
		return r;
	return 0;
}

int ft_vbd_create(struct pvio_xs *xs, uint16_t fe_domid, uint16_t be_domid, uint32_t vdev,
		  bool readonly, struct ft_vbd *out)
{
	struct ft_ctx c = { .v = out, .readonly = readonly };

	memset(out, 0, sizeof(*out));
	out->fe_domid = fe_domid;
	out->be_domid = be_domid;
	out->vdev = vdev;
	snprintf(out->fe_dir, sizeof(out->fe_dir), "/local/domain/%u/device/vbd/%u", fe_domid,
		 vdev);
	snprintf(out->be_dir, sizeof(out->be_dir), "/local/domain/%u/backend/vbd/%u/%u",
		 be_domid, fe_domid, vdev);
	return pvio_xs_transaction_run(xs, tx_create, &c);
}

int ft_vbd_destroy(struct pvio_xs *xs, const struct ft_vbd *v)
{
	int r1 = pvio_xs_rm(xs, PVIO_XS_NO_TX, v->fe_dir);
	int r2 = pvio_xs_rm(xs, PVIO_XS_NO_TX, v->be_dir);

	return r1 < 0 ? r1 : r2;
}
