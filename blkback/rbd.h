/* SPDX-License-Identifier: MIT */
/*
 * Disks on Ceph RBD images, through librbd.
 *
 * The target is QEMU's rbd: form, alongside file and device paths:
 *
 *   rbd:POOL[/NAMESPACE]/IMAGE[@SNAP][:id=USER][:conf=PATH][:KEY=VALUE]...
 *
 * A snapshot is read-only. id is the Ceph user without "client." (default
 * admin); conf an absolute path of a ceph.conf (default: Ceph's search path,
 * $CEPH_CONF first); any other KEY=VALUE is a Ceph option, set with
 * rados_conf_set (e.g. rados_osd_op_timeout=5, rbd_cache=true, mon_host=...).
 * '\' takes the next character literally (a ':' in a path: "\:").
 *
 * pvio's defaults, over ceph.conf and under the target's own options:
 *   rbd_cache=false            the guest's FLUSH is the only write-back point
 *   rados_osd_op_timeout=30    (when ceph.conf leaves them unbounded) a dead
 *   rados_mon_op_timeout=30     cluster turns into I/O errors, not hangs
 *   client_mount_timeout=30    (Ceph's default: 300)
 *   rbd_skip_partial_discard=false   a DISCARD reads back as zeros, as a
 *                              hole punched in a file does
 * and always rbd_disable_zero_copy_writes=true (librbd copies a write's data
 * before it returns: a guest may change its granted pages while the write
 * is in flight).
 *
 * Layers: blkback's control plane (xenbus.c) opens the image once per disk
 * (pvio_blk_rbd_open) and hands it to each queue's engine through
 * cfg.rbd; the engine ("rbd", engine_rbd.c) reads and writes the request's
 * iovecs with librbd's asynchronous calls. librbd and librados cost ~14 ms
 * and ~20 MB in every process that links them, so only pvio-blkback links
 * engine_rbd.c; libpvio (this header's functions, rbd.c) reaches it through
 * weak references and answers -ENOTSUP in programs without it.
 */
#ifndef PVIO_BLK_RBD_H
#define PVIO_BLK_RBD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PVIO_BLK_RBD_PREFIX   "rbd:"
#define PVIO_BLK_RBD_MAX_OPTS 16

struct pvio_blk_rbd_spec {
	char     pool[128];
	char     ns[128];            /* "": the default namespace */
	char     image[128];
	char     snap[128];          /* "": the image itself */
	char     id[64];             /* "": admin */
	char     conf[512];          /* "": Ceph's search path */
	unsigned nopts;
	struct {
		char key[64];
		char val[256];
	} opt[PVIO_BLK_RBD_MAX_OPTS];
};

/* Does target name an RBD image (starts with "rbd:")? */
bool pvio_blk_target_is_rbd(const char *target);
/* Parse an rbd: target. 0, or -EINVAL with err naming what is wrong. */
int  pvio_blk_rbd_parse(const char *target, struct pvio_blk_rbd_spec *spec, char *err,
			size_t errlen);
/* Was this pvio built with librbd (is there an rbd engine to ask for)? */
bool pvio_blk_rbd_built(void);

/* An open image: a cluster connection and an image handle, shared by the
 * engines of one disk (librbd's image handles take I/O from any thread). */
struct pvio_blk_rbd;

struct pvio_blk_rbd_info {
	uint64_t size;               /* bytes (rbd_get_size) */
	uint64_t obj_size;           /* bytes per RADOS object */
	bool     readonly;           /* opened read-only: asked for, or a snapshot */
	bool     locked;             /* we hold RBD's exclusive lock */
	char     name[520];          /* POOL[/NS]/IMAGE[@SNAP], for logs */
};

/*
 * Connect and open the image of an rbd: target, read-only if asked or if a
 * snapshot is named. A writable image with the exclusive-lock feature is
 * locked now (rbd_lock_acquire, exclusive), as tcmu-runner does and QEMU
 * does not: a second writer, in this process or on another host, is
 * refused here rather than fighting over the lock write by write; the lock
 * goes with pvio_blk_rbd_close (or, if this process dies, to the next
 * opener once Ceph sees the owner gone).
 * Blocks for at most the connection and OSD timeouts above.
 * 0, or -errno with err naming what failed: -EINVAL bad target or option,
 * -ENOTSUP built without librbd (or a program without the engine), -ENOENT
 * no such pool/image/snapshot, -ETIMEDOUT cluster unreachable, -EBUSY
 * locked by another writer.
 */
int  pvio_blk_rbd_open(const char *target, bool readonly, struct pvio_blk_rbd **out,
		       char *err, size_t errlen);
/* Close the image (the engines using it are closed first) and disconnect. */
void pvio_blk_rbd_close(struct pvio_blk_rbd *r);
void pvio_blk_rbd_get_info(const struct pvio_blk_rbd *r, struct pvio_blk_rbd_info *info);

#endif /* PVIO_BLK_RBD_H */
