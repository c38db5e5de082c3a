/* SPDX-License-Identifier: MIT */
/* The local implementation's store: a pvio_xsd served on its own thread. */
#ifndef PVIO_HV_LOCAL_XS_H
#define PVIO_HV_LOCAL_XS_H

#include <stdint.h>

struct pvio_local_xs;

int  pvio_local_xs_start(struct pvio_local_xs **out);
void pvio_local_xs_stop(struct pvio_local_xs *xs);
int  pvio_local_xs_connect(struct pvio_local_xs *xs, uint16_t domid, int *fd);
int  pvio_local_xs_introduce(struct pvio_local_xs *xs, uint16_t domid);
void pvio_local_xs_release(struct pvio_local_xs *xs, uint16_t domid);

#endif
