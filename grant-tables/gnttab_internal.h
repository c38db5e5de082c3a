/* SPDX-License-Identifier: MIT */
/* Private helpers shared by gnttab_fe.c, gnttab_be.c and pgrant.c. */
#ifndef PVIO_GNTTAB_INTERNAL_H
#define PVIO_GNTTAB_INTERNAL_H

#include <stdint.h>

#include "grant-tables/gnttab.h"
#include "ring/pvio_atomic.h"

/*
 * flags and domid of a v1 entry as one 32-bit word (Xen's union
 * grant_combo). All atomic accesses to an entry's header go through this
 * word, whatever the byte order: build values with the union, never with
 * shifts.
 */
union pvio__gnt_combo {
	uint32_t raw;
	struct {
		uint16_t flags;
		uint16_t domid;
	} f;
};
_Static_assert(sizeof(union pvio__gnt_combo) == 4, "combo");

/* The entry header is accessed as a u32 while its fields are u16s. */
typedef uint32_t __attribute__((may_alias)) pvio__gnt_word_t;

static inline pvio__gnt_word_t *pvio__gnt_word(struct pvio_grant_entry_v1 *e)
{
	return (pvio__gnt_word_t *)(void *)e;
}

static inline uint32_t pvio__gnt_combo(uint16_t flags, uint16_t domid)
{
	union pvio__gnt_combo c = { .f = { .flags = flags, .domid = domid } };
	return c.raw;
}

/* Mask that clears the given flag bits and keeps domid. */
static inline uint32_t pvio__gnt_clear_mask(uint16_t bits)
{
	return pvio__gnt_combo((uint16_t)~bits, 0xFFFFu);
}

#endif /* PVIO_GNTTAB_INTERNAL_H */
