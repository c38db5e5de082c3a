/* SPDX-License-Identifier: MIT */
/*
 * A vbd's I/O limits, as the data path sees them. The control plane
 * (xenbus.c) reads QEMU's throttling options from the vbd's backend
 * directory (throttling/<option>, written by the toolstack: tools/), at
 * probe and whenever they change (a watch), validates them (QEMU's rules;
 * a bad set is refused with a message and the limits in force stay),
 * applies them to the disk's handle and writes throttling-applied, the
 * options in force (pvio_throttle_cfg_format(), "" for none).
 *
 * The data path asks, per READ or WRITE request (plain, indirect, or the
 * data of a flush) once its length is known:
 *
 *   struct pvio_throttle *t = blkback_throttle(q->dev);
 *   if (pvio_throttle_on(t) &&
 *       !pvio_throttle_admit(t, is_write, bytes, now_ns, &wait_ns))
 *           hold the request, take nothing more from this ring, count it
 *           as delayed ("oo"), and come back in wait_ns
 *
 * (backend/throttle.h). The handle lives as long as the device's priv;
 * groups are shared with other disks and locked inside admit.
 * TODO(lead): once blkback/common.h may change, this becomes a field of
 * struct blkback_dev.
 */
#ifndef PVIO_BLKBACK_VBD_LIMITS_H
#define PVIO_BLKBACK_VBD_LIMITS_H

#include "backend/throttle.h"

struct blkback_dev;

/* The disk's handle (never NULL for a probed device). */
struct pvio_throttle *blkback_throttle(struct blkback_dev *d);

#endif /* PVIO_BLKBACK_VBD_LIMITS_H */
