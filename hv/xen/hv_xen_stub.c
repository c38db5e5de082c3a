/* SPDX-License-Identifier: MIT */
/* hv/xen when libxengnttab/libxenevtchn were not found at build time. */
#include <errno.h>

#include "hv/hv.h"
#include "ring/pvio_export.h"

PVIO_EXPORT int pvio_hv_xen_open(struct pvio_hv **out)
{
	(void)out;
	return -EOPNOTSUPP;
}
