/* SPDX-License-Identifier: MIT */
/*
 * Persistent-grant cache for backends (blkif feature-persistent): grants the
 * frontend reuses stay mapped between requests instead of being mapped and
 * unmapped for each one (Linux xen-blkback's persistent_gnts).
 *
 * Bounded (default PVIO_PGRANT_DEFAULT_MAX = 1056, blkback's max_pgrants),
 * and always reclaimable (XSA-371): an entry not in use can be reclaimed at
 * any time, least recently used first; pvio_pgrant_release_all() on
 * disconnect unmaps everything so that no GTF_reading/writing bit stays set.
 *
 * Entries are found through a per-ref index array (4 bytes per table entry)
 * rather than a hash, so a guest choosing its refs cannot make lookups slow:
 * lookup, insert, put and reclaim are O(1) and never allocate.
 *
 * One cache belongs to one queue/thread (no locking inside); several caches
 * may share one view (the view counts pins). Destroy every cache on a view
 * before pvio_gnttab_view_fini() on it.
 */
#ifndef PVIO_PGRANT_H
#define PVIO_PGRANT_H

#include <stdbool.h>
#include <stdint.h>

#include "grant-tables/gnttab.h"
#include "ring/pvio_export.h"

#define PVIO_PGRANT_DEFAULT_MAX 1056u

struct pvio_pgrant;   /* one cached mapping (private) */

/* How a cache maps and unmaps one grant: a pvio_gnttab_view (the default),
 * or a real Xen's gntdev (hv/xen). Same contract as pvio_gnttab_map/unmap. */
typedef int (*pvio_pgrant_map_fn)(void *ctx, struct pvio_gnt_map_op *ops, unsigned n);

struct pvio_pgrant_cache {
	struct pvio_gnttab_view *view;   /* NULL with pvio_pgrant_init_mapper() */
	pvio_pgrant_map_fn map, unmap;
	void *ctx;
	uint32_t nr_refs;      /* refs above this are refused (bad_gntref) */
	bool map_rw;           /* always map writable (a mapping cannot be
				* upgraded in place): blkfront grants every
				* persistent page read-write */
	uint32_t max;          /* bound on cached mappings */
	uint32_t nr;           /* cached mappings now */
	uint64_t now;          /* caller's clock (any unit), stamped on put */
	/* private */
	struct pvio_pgrant *ents;   /* max entries */
	uint32_t *slot;        /* per ref: entry index + 1, 0 = not cached */
	uint32_t free_head;    /* unused entries, linked through next */
	uint32_t lru_head;     /* idle entries, least recently used first */
	uint32_t lru_tail;
	struct {
		uint64_t hits, misses, inserts, reclaims, full, map_errors;
	} stats;
};

/*
 * Set up a cache of at most max mappings (0: the default) on view.
 * Returns 0, -EINVAL, -ENOMEM.
 */
PVIO_EXPORT int pvio_pgrant_init(struct pvio_pgrant_cache *c, struct pvio_gnttab_view *view,
				 uint32_t max);
/* Same, mapping through map/unmap(ctx, ...) for refs below nr_refs. */
PVIO_EXPORT int pvio_pgrant_init_mapper(struct pvio_pgrant_cache *c, pvio_pgrant_map_fn map,
					pvio_pgrant_map_fn unmap, void *ctx, uint32_t nr_refs,
					bool map_rw, uint32_t max);
/* pvio_pgrant_release_all(), then free the cache. Idempotent. */
PVIO_EXPORT void pvio_pgrant_fini(struct pvio_pgrant_cache *c);

/*
 * Find ref (mapped writable if write). On a hit, take a use reference (the
 * entry cannot be reclaimed until pvio_pgrant_put()) and return the page's
 * address; NULL on a miss. Never maps, never allocates.
 */
PVIO_EXPORT void *pvio_pgrant_lookup(struct pvio_pgrant_cache *c, uint32_t ref, bool write);
/*
 * Map ref (writable if write, else read-only) through the view, cache it
 * and take a use reference. If ref is cached already it is reused (a
 * read-only entry is upgraded to writable in place; its address does not
 * change). When the cache is full the least recently used idle entry is
 * unmapped to make room.
 * Returns 0 with *addr set; -ENOSPC if the cache is full of entries in use
 * (map this one without the cache); -EIO if the grant map failed, with the
 * GNTST_* status in *gntst (if not NULL). Nothing is held on failure.
 */
PVIO_EXPORT int pvio_pgrant_insert(struct pvio_pgrant_cache *c, uint32_t ref, bool write,
				   void **addr, int16_t *gntst);
/*
 * Drop a use reference taken by lookup/insert. The entry stays mapped and
 * becomes the most recently used idle entry (stamped with c->now).
 * Returns 0, -EINVAL (ref not cached or not in use).
 */
PVIO_EXPORT int pvio_pgrant_put(struct pvio_pgrant_cache *c, uint32_t ref);
/*
 * Unmap up to n idle entries, least recently used first. Returns how many.
 */
PVIO_EXPORT unsigned pvio_pgrant_reclaim(struct pvio_pgrant_cache *c, unsigned n);
/*
 * Unmap idle entries last put before older_than (in c->now units): the
 * timeout half of "LRU + timeout". Returns how many.
 */
PVIO_EXPORT unsigned pvio_pgrant_purge(struct pvio_pgrant_cache *c, uint64_t older_than);
/*
 * Grant copy through the cache, for a backend whose frontend keeps its
 * grants for the connection (netif feature-persistent): ops as
 * pvio_gnttab_copy(), each with exactly one side a grant of the cache's
 * granter (PVIO_GNTCOPY_source_gref: read from it; PVIO_GNTCOPY_dest_gref:
 * write to it; the foreign domid is the caller's to have set to the
 * granter, it is not looked at). A cached ref is copied at once, without a
 * pin or an atomic; one not cached is mapped (read-only for a source,
 * writable for a destination, a read-only entry upgraded in place) and
 * stays cached, evicting the least recently used idle entry when full.
 * Each op's status is what the grant copy would say (bad_copy_arg for bad
 * flags or offset + len past the page, bad_gntref, the map's error).
 * Returns the number of ops that succeeded. The cache's LRU order is not
 * kept by hits: eviction only ever picks an idle entry, so that costs a
 * remap at worst.
 */
PVIO_EXPORT int pvio_pgrant_copy(struct pvio_pgrant_cache *c, struct pvio_gnt_copy_op *ops,
				 unsigned n);
/*
 * Disconnect (XSA-371): unmap every entry, in use or not, leaving no pin.
 * Call only when no I/O is using the pages. Returns how many entries were
 * still in use (a caller bug if non-zero; they are released anyway).
 */
PVIO_EXPORT unsigned pvio_pgrant_release_all(struct pvio_pgrant_cache *c);

#endif /* PVIO_PGRANT_H */
