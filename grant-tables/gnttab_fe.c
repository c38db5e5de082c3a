/* SPDX-License-Identifier: MIT */
/*
 * Grant tables, granting side: the free list of refs and the grant / revoke
 * protocol on the shared entries (Linux drivers/xen/grant-table.c, v1 ops).
 *
 * The free list is private. It is FIFO so that a just-revoked ref is the
 * last to be handed out again: a stale ref still in flight at a buggy
 * backend then most likely names no grant at all rather than a new one.
 */
#include <errno.h>
#include <stdlib.h>

#include "grant-tables/gnttab_internal.h"

#define LINK_END       0xFFFFFFFFu   /* free, last on the list */
#define LINK_INUSE     0xFFFFFFFEu   /* granted (or found pinned at init) */
#define LINK_RESERVED  0xFFFFFFFDu   /* 0..7: the toolstack's */

static void free_push(struct pvio_gnttab_fe *fe, uint32_t ref)
{
	fe->link[ref] = LINK_END;
	if (fe->nr_free)
		fe->link[fe->free_tail] = ref;
	else
		fe->free_head = ref;
	fe->free_tail = ref;
	fe->nr_free++;
}

static uint32_t free_pop(struct pvio_gnttab_fe *fe)
{
	uint32_t ref = fe->free_head;

	fe->free_head = fe->link[ref];
	fe->link[ref] = LINK_INUSE;
	fe->nr_free--;
	return ref;
}

/*
 * The revoke protocol on one entry: flags -> 0 unless reading/writing.
 * Returns 0, -EBUSY.
 */
static int end_access(struct pvio_grant_entry_v1 *e)
{
	pvio__gnt_word_t *w = pvio__gnt_word(e);
	union pvio__gnt_combo cur, nxt;

	/* A stale value only costs one failed cmpxchg below. */
	cur.raw = pvio_load_relaxed(w);
	for (;;) {
		if (cur.f.flags & (PVIO_GTF_reading | PVIO_GTF_writing))
			return -EBUSY;
		nxt = cur;
		nxt.f.flags = 0;
		/* Acquire pairs with the mapper's release (fetch_and) that cleared
		 * the bits: its accesses to the page happen before we reuse it.
		 * Fails, reloading cur, if the mapper pinned in between. */
		if (pvio_cmpxchg(w, &cur.raw, nxt.raw))
			return 0;
	}
}

static void write_entry(struct pvio_grant_entry_v1 *e, uint16_t domid, uint32_t frame,
			bool readonly)
{
	uint16_t flags = PVIO_GTF_permit_access | (readonly ? PVIO_GTF_readonly : 0);

	/* Nobody may use frame until flags say so: relaxed is enough here. */
	pvio_store_relaxed(&e->frame, frame);
	/* Release pairs with the mapper's acquire load / cmpxchg of the word:
	 * a mapper that sees the new flags sees this frame. */
	pvio_store_release(pvio__gnt_word(e), pvio__gnt_combo(flags, domid));
}

static bool grant_args_ok(uint16_t domid, uint64_t gfn)
{
	return domid < PVIO_DOMID_FIRST_RESERVED && gfn <= UINT32_MAX;
}

PVIO_EXPORT int pvio_gnttab_fe_init(struct pvio_gnttab_fe *fe, void *table_mem,
				    uint32_t nr_entries)
{
	uint32_t ref;

	*fe = (struct pvio_gnttab_fe){ 0 };
	if (!table_mem || ((uintptr_t)table_mem & 7) ||
	    nr_entries <= PVIO_GNTTAB_NR_RESERVED_ENTRIES || nr_entries > INT32_MAX)
		return -EINVAL;
	fe->link = malloc((size_t)nr_entries * sizeof(*fe->link));
	if (!fe->link)
		return -ENOMEM;
	fe->table = table_mem;
	fe->nr_entries = nr_entries;
	for (ref = 0; ref < PVIO_GNTTAB_NR_RESERVED_ENTRIES; ref++)
		fe->link[ref] = LINK_RESERVED;
	/* Adopt the table: anything not pinned is ended and freed; an entry a
	 * mapper still holds stays allocated until a later revoke succeeds. */
	for (; ref < nr_entries; ref++) {
		if (end_access(&fe->table[ref]) == 0) {
			free_push(fe, ref);
		} else {
			fe->link[ref] = LINK_INUSE;
			fe->nr_adopted_busy++;
		}
	}
	return 0;
}

PVIO_EXPORT void pvio_gnttab_fe_fini(struct pvio_gnttab_fe *fe)
{
	free(fe->link);
	fe->link = NULL;
	fe->nr_free = 0;
}

PVIO_EXPORT int pvio_gnttab_grant(struct pvio_gnttab_fe *fe, uint16_t domid, uint64_t gfn,
				  bool readonly)
{
	uint32_t ref;

	if (!fe->link || !grant_args_ok(domid, gfn))
		return -EINVAL;
	if (!fe->nr_free)
		return -ENOSPC;
	ref = free_pop(fe);
	write_entry(&fe->table[ref], domid, (uint32_t)gfn, readonly);
	return (int)ref;
}

PVIO_EXPORT int pvio_gnttab_grant_bulk(struct pvio_gnttab_fe *fe, uint16_t domid,
				       const uint64_t *gfns, unsigned n, bool readonly,
				       uint32_t *refs)
{
	unsigned i;

	if (!fe->link || n > INT32_MAX || (n && (!gfns || !refs)))
		return -EINVAL;
	for (i = 0; i < n; i++)
		if (!grant_args_ok(domid, gfns[i]))
			return -EINVAL;
	if (n > fe->nr_free)
		return -ENOSPC;
	for (i = 0; i < n; i++) {
		refs[i] = free_pop(fe);
		write_entry(&fe->table[refs[i]], domid, (uint32_t)gfns[i], readonly);
	}
	return (int)n;
}

PVIO_EXPORT int pvio_gnttab_grant_reserved(struct pvio_gnttab_fe *fe, uint32_t ref,
					   uint16_t domid, uint64_t gfn, bool readonly)
{
	if (!fe->link || ref >= PVIO_GNTTAB_NR_RESERVED_ENTRIES || !grant_args_ok(domid, gfn))
		return -EINVAL;
	/* Re-granting must not change frame/domid under a live mapping. */
	if (end_access(&fe->table[ref]) < 0)
		return -EBUSY;
	write_entry(&fe->table[ref], domid, (uint32_t)gfn, readonly);
	return 0;
}

PVIO_EXPORT int pvio_gnttab_revoke(struct pvio_gnttab_fe *fe, uint32_t ref)
{
	struct pvio_grant_entry_v1 *e;
	union pvio__gnt_combo cur;
	int r;

	if (!fe->link || ref >= fe->nr_entries)
		return -EINVAL;
	e = &fe->table[ref];
	if (fe->link[ref] == LINK_RESERVED) {
		/* Relaxed: only to tell "never granted" apart; end_access decides. */
		cur.raw = pvio_load_relaxed(pvio__gnt_word(e));
		if ((cur.f.flags & PVIO_GTF_type_mask) == PVIO_GTF_invalid)
			return -EINVAL;
		return end_access(e);
	}
	if (fe->link[ref] != LINK_INUSE)
		return -EINVAL;
	r = end_access(e);
	if (r < 0)
		return r;
	free_push(fe, ref);
	return 0;
}

PVIO_EXPORT int pvio_gnttab_revoke_all(struct pvio_gnttab_fe *fe)
{
	int busy = 0;

	if (!fe->link)
		return 0;
	for (uint32_t ref = PVIO_GNTTAB_NR_RESERVED_ENTRIES; ref < fe->nr_entries; ref++) {
		if (fe->link[ref] != LINK_INUSE)
			continue;
		if (end_access(&fe->table[ref]) < 0) {
			busy++;
			continue;
		}
		free_push(fe, ref);
	}
	return busy;
}

PVIO_EXPORT uint32_t pvio_gnttab_nr_free(const struct pvio_gnttab_fe *fe)
{
	return fe->nr_free;
}
