/* SPDX-License-Identifier: MIT */
/*
 * The toolstack (libxl's role): a domain's store subtree, and devices as
 * pairs of frontend/backend store directories cross-linked as libxl does,
 * with permissions such that a guest reads its frontend directory (and
 * writes it: it owns it) and reads its backend directory, and sees nothing
 * else of dom0's.
 */
#ifndef PVIO_TOOLSTACK_H
#define PVIO_TOOLSTACK_H

#include <stdbool.h>
#include <stdint.h>

#include "hv/hv.h"
#include "xenstore/xs.h"

/* xl's disk specification (docs/man/xl-disk-configuration.5). */
struct pvio_diskspec {
	char     target[1024];     /* path of the image or block device */
	char     vdev[32];         /* xvda, sdb, hdc, or a number */
	uint32_t devid;            /* Xen device number of vdev (xvda = 51712) */
	bool     readonly;         /* access=r|ro */
	char     format[16];       /* raw only */
	/* pvio extensions */
	char     engine[16];       /* io_uring | libaio | psync ("" = backend default) */
	int      direct;           /* -1 default, 0, 1 */
	uint32_t sector_size;      /* 512 (default) or 4096 */
	int      discard;          /* -1 default, 0 (no-discard), 1 (discard) */
};

/* Parse "format=raw, vdev=xvda, access=rw, target=/path/img" or the
 * positional "/path/img,raw,xvda,rw". On error returns -EINVAL and writes a
 * message naming the bad field into err. */
int pvio_diskspec_parse(const char *spec, struct pvio_diskspec *ds, char *err, size_t errlen);

/* xvda -> 51712, xvdq -> (1<<28)|(16<<8), sdb -> 2064, hda -> 768; a plain
 * number is taken as is. -EINVAL otherwise. */
int pvio_vdev_to_devid(const char *vdev, uint32_t *devid);

/* Create the domain and its store subtree (name, domid, device/, data/...). */
int pvio_ts_domain_create(struct pvio_hv *hv, struct pvio_xs *xs, const char *name,
			  uint64_t mem_bytes, uint16_t *domid);
/* Remove its devices' nodes and its subtree, then destroy it. */
int pvio_ts_domain_destroy(struct pvio_hv *hv, struct pvio_xs *xs, uint16_t domid);

/* Write the vbd's frontend and backend nodes (state Initialising). -EEXIST if
 * that vdev is attached already. */
int pvio_ts_block_attach(struct pvio_xs *xs, uint16_t domid, const struct pvio_diskspec *ds);
/* Ask the frontend to close (backend state Closing, as libxl does), wait up
 * to timeout_ms for the backend to reach Closed, then remove the nodes. */
int pvio_ts_block_detach(struct pvio_xs *xs, uint16_t domid, uint32_t devid, int timeout_ms);

struct pvio_ts_vbd {
	uint32_t devid;
	char     vdev[32];
	char     target[1024];
	bool     readonly;
	int      be_state;
	int      fe_state;
};
/* Up to max vbds of domid; returns the count (may exceed max). */
int pvio_ts_block_list(struct pvio_xs *xs, uint16_t domid, struct pvio_ts_vbd *out, unsigned max);

#endif /* PVIO_TOOLSTACK_H */
