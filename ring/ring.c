/* SPDX-License-Identifier: MIT */
/* Non-inline pieces of the ring engine. */
#include "ring/ring.h"
#include "ring/pvio_export.h"

/* Bytes of a shared ring of 2^order pages; -EINVAL past PVIO_RING_MAX_ORDER. */
PVIO_EXPORT long pvio_ring_bytes_for_order(unsigned int order)
{
	if (order > PVIO_RING_MAX_ORDER)
		return -EINVAL;
	return (long)PVIO_PAGE_SIZE << order;
}
