/* SPDX-License-Identifier: MIT */
/* pvio-blkback as a library: the vbd driver for the backend core. */
#ifndef PVIO_BLKBACK_H
#define PVIO_BLKBACK_H

#include "backend/backend.h"

struct blkback_cfg;

extern const struct pvio_backend_ops pvio_blkback_ops;
void pvio_blkback_cfg_default(struct blkback_cfg *c);

#endif
