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

#include "backend/throttle.h"
#include "hv/hv.h"
#include "xenstore/xs.h"

/* xl's disk specification (docs/man/xl-disk-configuration.5). */
struct pvio_diskspec {
	char     target[1024];     /* path of the image or block device, or
				    * rbd:POOL/IMAGE[@SNAP][:KEY=VALUE]... (rbd.h) */
	char     vdev[32];         /* xvda, sdb, hdc, or a number */
	uint32_t devid;            /* Xen device number of vdev (xvda = 51712) */
	bool     readonly;         /* access=r|ro */
	char     format[16];       /* raw only */
	/* pvio extensions */
	char     engine[16];       /* io_uring | libaio | psync | rbd ("" = backend
				    * default; rbd for an rbd: target) */
	int      direct;           /* -1 default, 0, 1 */
	uint32_t sector_size;      /* 512 (default) or 4096 */
	int      discard;          /* -1 default, 0 (no-discard), 1 (discard) */
	char     fault_inject[513]; /* a failing disk for tests (blkback/engine.h); "" none */
	/* QEMU's throttling.* options (backend/throttle.h), validated */
	struct pvio_throttle_cfg throttle;
};

/* Parse "format=raw, vdev=xvda, access=rw, target=/path/img" or the
 * positional "/path/img,raw,xvda,rw", plus pvio's keys and QEMU's
 * throttling.* limits (before target=, which takes the rest of the spec).
 * On error returns -EINVAL and writes a message naming the bad field into
 * err (for limits, QEMU's message). */
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
/*
 * Replace the vbd's limits (validated by the caller; none set: unlimited):
 * the backend keys throttling/<option> (QEMU's names without the prefix,
 * e.g. throttling/iops-total = "2000", throttling/group = "gold"), written
 * in one transaction; pvio-blkback watches them and applies the new limits
 * at once, then writes throttling-applied (the options in force, as
 * pvio_throttle_cfg_format()). -ENOENT if no such vbd.
 */
int pvio_ts_block_set_throttle(struct pvio_xs *xs, uint16_t domid, uint32_t devid,
			       const struct pvio_throttle_cfg *cfg);
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

/* ------------------------------------------------------------ network */

/* xl's vif specification (docs/man/xl-network-configuration.5). */
struct pvio_vifspec {
	uint8_t  mac[6];
	bool     mac_set;          /* false: pvio_ts_net_attach() picks a random
				    * 00:16:3e:xx:xx:xx */
	char     bridge[64];       /* default "xenbr0" (libxl's) */
	char     ip[256];          /* written to the backend as libxl does */
	char     script[256];
	char     vifname[64];
	char     model[32];        /* accepted, meaningless for a PV vif */
	int      devid;            /* -1: the lowest free index */
	unsigned mtu;              /* 0: 1500 */
	int      trusted;          /* -1 default (1), 0, 1 */
	uint64_t rate_bytes;       /* rate=: bytes per interval */
	uint32_t rate_usec;        /* its interval; 0: no limit */
};

/* Parse "mac=00:16:3e:01:02:03, bridge=br0, ip=10.0.0.2, type=vif,
 * model=..., vifname=..., script=..., devid=N, mtu=N, rate=..., backend=0,
 * trusted|untrusted". On error returns -EINVAL and writes a message naming
 * the bad field into err. */
int pvio_vifspec_parse(const char *spec, struct pvio_vifspec *vs, char *err, size_t errlen);

/* "aa:bb:cc:dd:ee:ff" (or with '-') -> mac. -EINVAL. */
int pvio_mac_parse(const char *s, uint8_t mac[6]);
/* mac -> "aa:bb:cc:dd:ee:ff" (buf of at least 18 bytes). */
void pvio_mac_format(const uint8_t mac[6], char *buf);
/* A random Xen-OUI mac, 00:16:3e:xx:xx:xx, as libxl makes them. */
int pvio_mac_random(uint8_t mac[6]);

/*
 * Write the vif's frontend and backend nodes (state Initialising), as libxl:
 *   /local/domain/<g>/device/vif/<id>/   owner <g>, read for dom0:
 *       backend, backend-id, state=1, handle, mac, trusted, mtu (owner dom0)
 *   /local/domain/0/backend/vif/<g>/<id>/ owner dom0, read for <g>:
 *       frontend, frontend-id, state=1, online=1, handle, mac, bridge, type,
 *       [ip, script, vifname, mtu, rate="<bytes>,<usec>"]
 * Picks a random mac if vs has none (written back into vs) and the lowest
 * free devid if vs->devid < 0; *devid receives it. -EEXIST if that devid
 * (or that mac) is attached already.
 */
int pvio_ts_net_attach(struct pvio_xs *xs, uint16_t domid, struct pvio_vifspec *vs,
		       uint32_t *devid);
/* Change the vif's tx limit (usec 0: none) by rewriting its backend key
 * rate, which pvio-netback (like Linux netback) watches. -ENOENT if no such
 * vif. */
int pvio_ts_net_set_rate(struct pvio_xs *xs, uint16_t domid, uint32_t devid, uint64_t bytes,
			 uint32_t usec);
/* As block_detach: backend Closing (online=0), wait up to timeout_ms for
 * Closed, remove the nodes. -ENOENT if no such vif. */
int pvio_ts_net_detach(struct pvio_xs *xs, uint16_t domid, uint32_t devid, int timeout_ms);
/* The devid of the vif with that mac: 0 or -ENOENT. */
int pvio_ts_net_find_mac(struct pvio_xs *xs, uint16_t domid, const uint8_t mac[6],
			 uint32_t *devid);

struct pvio_ts_vif {
	uint32_t devid;
	char     mac[18];
	char     bridge[64];
	char     ip[256];
	int      be_state;
	int      fe_state;
};
/* Up to max vifs of domid, by devid; returns the count (may exceed max). */
int pvio_ts_net_list(struct pvio_xs *xs, uint16_t domid, struct pvio_ts_vif *out, unsigned max);

#endif /* PVIO_TOOLSTACK_H */
