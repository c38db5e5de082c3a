/* SPDX-License-Identifier: MIT */
/*
 * The toolstack's part of a vbd, as libxl writes it (until tools/ has the
 * real one): the frontend directory owned by the guest (readable by the
 * backend domain), the backend directory owned by the backend domain
 * (readable by the guest), both in state Initialising.
 *
 *   /local/domain/<fe>                         owner dom0, read for <fe>
 *   /local/domain/<fe>/device                  owner <fe>
 *   /local/domain/<fe>/device/vbd/<vdev>/      owner <fe>, read for <be>
 *       backend, backend-id, state=1, virtual-device, device-type=disk
 *   /local/domain/<be>/backend/vbd/<fe>/<vdev>/ owner <be>, read for <fe>
 *       frontend, frontend-id, online=1, state=1, mode=w|r, type, params,
 *       dev, removable=0, bootable=1
 */
#ifndef PVIO_TEST_FAKE_TOOLSTACK_H
#define PVIO_TEST_FAKE_TOOLSTACK_H

#include <stdbool.h>
#include <stdint.h>

#include "xenstore/xs.h"

struct ft_vbd {
	uint16_t fe_domid, be_domid;
	uint32_t vdev;
	char     fe_dir[128];
	char     be_dir[128];
};

/* Write both directories in one transaction (xs must be dom0's). 0/-errno. */
int ft_vbd_create(struct pvio_xs *xs, uint16_t fe_domid, uint16_t be_domid, uint32_t vdev,
		  bool readonly, struct ft_vbd *out);
/* Remove both directories. */
int ft_vbd_destroy(struct pvio_xs *xs, const struct ft_vbd *v);

#endif
