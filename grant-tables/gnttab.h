/* SPDX-License-Identifier: MIT */
/*
 * Grant tables, version 1: the granting side (frontend) and the mapping side
 * (backend) as pure library code over memory the caller provides. Nothing
 * here knows about processes, fds or sockets; hv/ puts the table and the
 * guest memory into memfds and hands us pointers.
 *
 * Shared memory (both sides map it):
 *   - the granter's table: nr_entries x struct pvio_grant_entry_v1 (8 bytes),
 *     [GST] flags/domid/frame written by the granter, [XEN] GTF_reading and
 *     GTF_writing set and cleared by the mapper (ring/grant_abi.h);
 *   - the granter's memory: nr_frames pages; gfn n is bytes [n*4096, n*4096+4096).
 * Private memory (each side's own heap; never shared):
 *   - frontend: the free list of refs;
 *   - backend: per-ref pin counts and the frame read at the first pin (the
 *     "active entry" of Xen), statistics.
 *
 * The protocol is Xen's (grant_table.h "rough guidelines"):
 *   grant:  frame, domid; release; flags             (granter)
 *   pin:    validate flags|domid, cmpxchg in GTF_reading[|GTF_writing],
 *           then read frame once and validate it       (mapper)
 *   unpin:  atomically clear the bits when the last pin of that kind goes
 *   revoke: cmpxchg flags -> 0 unless GTF_reading|GTF_writing (granter);
 *           fails with -EBUSY while any pin is held (XSA-396).
 * flags and domid are adjacent u16s and are always read and swapped together
 * as one 32-bit word, so a granter cannot change domid under a pin.
 *
 * Error model: frontend calls return 0/count/-errno. Backend batch calls
 * report a GNTST_* status per op (ring/grant_abi.h) and return the number of
 * ops that succeeded; an op that fails holds nothing (XSA-361 class).
 *
 * Status codes for a failed validation:
 *   ref >= nr_entries                          GNTST_bad_gntref
 *   entry type GTF_invalid                     GNTST_bad_gntref
 *   type accept_transfer / transitive          GNTST_permission_denied
 *   GTF_sub_page on a map (copy allows it, v1) GNTST_permission_denied
 *   entry domid != the mapping domain          GNTST_permission_denied
 *   write access to a GTF_readonly grant       GNTST_permission_denied
 *   frame >= nr_frames                         GNTST_bad_page
 *   offset + len > 4096, no gref side          GNTST_bad_copy_arg
 *   copy names a domain other than the granter GNTST_bad_domain
 *   entry kept changing under cmpxchg (5 tries)GNTST_general_error
 *   pin count would overflow                   GNTST_no_space
 *   unmap of a ref/kind not held               GNTST_bad_handle
 *   unmap with an address map did not return   GNTST_bad_virt_addr
 * (Xen itself answers GNTST_general_error for every entry-content failure;
 * the finer codes here feed the statistics and logs. Callers must treat any
 * non-zero status as failure.)
 */
#ifndef PVIO_GNTTAB_H
#define PVIO_GNTTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ring/grant_abi.h"
#include "ring/pvio_export.h"

#define PVIO_GNTTAB_PAGE_SIZE  4096u

/* ============================================================ frontend */

/*
 * The granting side. Owns its table's [GST] fields. Not thread-safe: the
 * caller serialises calls on one fe (hv/ does, under its gnt_lock). The
 * mapper may run concurrently in another thread or process at any time.
 */
struct pvio_gnttab_fe {
	struct pvio_grant_entry_v1 *table;   /* shared */
	uint32_t nr_entries;
	/* private */
	uint32_t *link;        /* per ref: next free ref, or a state marker */
	uint32_t free_head;    /* FIFO free list: oldest-freed ref first */
	uint32_t free_tail;
	uint32_t nr_free;
	uint32_t nr_adopted_busy;   /* refs found pinned at init (informational) */
};

/*
 * Attach to a table of nr_entries entries at table_mem (8-byte aligned,
 * shared with the mapper). Entries 0..PVIO_GNTTAB_NR_RESERVED_ENTRIES-1 are
 * reserved for tools (console, xenstore) and never handed out; the others
 * are freed with the revoke protocol, so a fresh (zeroed) table comes out
 * all free, and an entry a mapper still has pinned (a frontend restarted
 * under a live backend) stays allocated until pvio_gnttab_revoke() or
 * pvio_gnttab_revoke_all() succeeds on it.
 * Returns 0, -EINVAL (bad size/alignment), -ENOMEM.
 */
PVIO_EXPORT int pvio_gnttab_fe_init(struct pvio_gnttab_fe *fe, void *table_mem,
				    uint32_t nr_entries);
/* Free the private state. The table is left as is (revoke_all first).
 * Idempotent. */
PVIO_EXPORT void pvio_gnttab_fe_fini(struct pvio_gnttab_fe *fe);

/*
 * Grant domid access to our page gfn (read-only if readonly). Writes frame
 * and domid, then flags with a release store.
 * Returns the ref (>= PVIO_GNTTAB_NR_RESERVED_ENTRIES), -ENOSPC (no free
 * ref), -EINVAL (domid reserved, gfn > 32 bits).
 */
PVIO_EXPORT int pvio_gnttab_grant(struct pvio_gnttab_fe *fe, uint16_t domid, uint64_t gfn,
				  bool readonly);
/*
 * All-or-nothing grant of n pages to one domid: refs[i] grants gfns[i].
 * Returns n, or -ENOSPC / -EINVAL with nothing granted.
 */
PVIO_EXPORT int pvio_gnttab_grant_bulk(struct pvio_gnttab_fe *fe, uint16_t domid,
				       const uint64_t *gfns, unsigned n, bool readonly,
				       uint32_t *refs);
/*
 * Grant a reserved entry (ref < PVIO_GNTTAB_NR_RESERVED_ENTRIES: console,
 * xenstore), as the toolstack does. Fails with -EBUSY if it is pinned.
 * Returns 0, -EINVAL, -EBUSY.
 */
PVIO_EXPORT int pvio_gnttab_grant_reserved(struct pvio_gnttab_fe *fe, uint32_t ref,
					   uint16_t domid, uint64_t gfn, bool readonly);
/*
 * End access (Linux gnttab_end_foreign_access_ref): cmpxchg flags to 0
 * unless GTF_reading/GTF_writing is set. On success the ref goes back to
 * the free list and the page may be reused; on -EBUSY the grantee still has
 * it mapped or is copying: keep the page untouched and retry later (or leak
 * it), never reuse it (XSA-396).
 * Returns 0, -EBUSY, -EINVAL (ref out of range or not granted).
 */
PVIO_EXPORT int pvio_gnttab_revoke(struct pvio_gnttab_fe *fe, uint32_t ref);
/*
 * Try to revoke every granted non-reserved ref (teardown). Returns how many
 * are still busy (they stay granted; call again later). 0 = all free.
 */
PVIO_EXPORT int pvio_gnttab_revoke_all(struct pvio_gnttab_fe *fe);
/* Number of refs on the free list. */
PVIO_EXPORT uint32_t pvio_gnttab_nr_free(const struct pvio_gnttab_fe *fe);

/* ============================================================= backend */

/* Counters, updated atomically once per batch. Read with view_stats(). */
#define PVIO_GNTTAB_NR_STATUS 16   /* errors[] is indexed by -GNTST_* */
struct pvio_gnttab_stats {
	uint64_t maps;            /* map ops that succeeded */
	uint64_t unmaps;
	uint64_t copies;
	uint64_t copy_bytes;
	uint64_t map_errors;      /* map ops that failed */
	uint64_t unmap_errors;
	uint64_t copy_errors;
	uint64_t errors[PVIO_GNTTAB_NR_STATUS];   /* failed ops of any kind, by -status */
	uint64_t fini_released;   /* pins dropped by view_fini (not unmapped) */
};

struct pvio__gnt_active;

/*
 * The mapping side's view of one granter: its table and its memory (both
 * shared), plus private pin state. Thread-safe: many threads may map,
 * unmap and copy on one view at once (per-ref locks in private memory, as
 * Xen's active entries). There must be exactly one view per (granter,
 * mapping domain) pair in a process: two views would each believe they own
 * the GTF_reading/writing bits. init and fini must not race other calls.
 */
struct pvio_gnttab_view {
	struct pvio_grant_entry_v1 *table;   /* shared, granter's */
	uint32_t nr_entries;
	uint8_t *mem;                        /* shared, granter's memory (may be NULL) */
	uint64_t nr_frames;                  /* pages at mem */
	uint16_t granter;                    /* domid owning table and mem */
	uint16_t self;                       /* our domid: what entries must name */
	/* private */
	struct pvio__gnt_active *active;     /* nr_entries pin states */
	bool pins_external;                  /* active is the caller's memory */
	struct pvio_gnttab_stats stats;
};

/*
 * Returns 0, -EINVAL (NULL/misaligned table, nr_entries 0, mem NULL with
 * nr_frames > 0, granter == self), -ENOMEM.
 */
PVIO_EXPORT int pvio_gnttab_view_init(struct pvio_gnttab_view *view,
				      struct pvio_grant_entry_v1 *table, uint32_t nr_entries,
				      void *mem, uint64_t nr_frames,
				      uint16_t granter, uint16_t self);
/*
 * Disconnect: drop every pin still held (clears GTF_reading/GTF_writing of
 * each entry this view pinned, so the granter can revoke), then free the
 * private state. Any address obtained from the view is dead afterwards.
 * Idempotent; later map/copy fail with GNTST_general_error and unmap with
 * GNTST_bad_handle.
 */
PVIO_EXPORT void pvio_gnttab_view_fini(struct pvio_gnttab_view *view);

/*
 * Pin state in memory the caller provides (zeroed, 8-byte aligned,
 * pvio_gnttab_pins_bytes(nr_entries) bytes), e.g. a memfd shared with the
 * broker: if this process dies, the broker releases what it held with
 * pvio_gnttab_release_dead_pins(), as Xen's gntdev unmaps a dead process's
 * grants. Otherwise as pvio_gnttab_view_init(). The memory is not freed by
 * view_fini.
 */
PVIO_EXPORT size_t pvio_gnttab_pins_bytes(uint32_t nr_entries);
PVIO_EXPORT int pvio_gnttab_view_init_pins(struct pvio_gnttab_view *view,
					   struct pvio_grant_entry_v1 *table, uint32_t nr_entries,
					   void *mem, uint64_t nr_frames,
					   uint16_t granter, uint16_t self, void *pins);
/*
 * For the broker, after the mapping process died: drop every pin recorded
 * in pins (a dead view's state) and clear GTF_reading/GTF_writing on those
 * refs of table, unless one of the other live views' pin tables (others)
 * still pins the ref. Returns the number of pins dropped.
 */
PVIO_EXPORT uint64_t pvio_gnttab_release_dead_pins(struct pvio_grant_entry_v1 *table,
						   uint32_t nr_entries, void *pins,
						   void *const *others, unsigned nothers);
/* Snapshot the counters. */
PVIO_EXPORT void pvio_gnttab_view_stats(const struct pvio_gnttab_view *view,
					struct pvio_gnttab_stats *out);

/* One map or unmap (GNTTABOP_map_grant_ref / unmap_grant_ref). */
struct pvio_gnt_map_op {
	uint32_t ref;        /* in */
	uint32_t flags;      /* in: PVIO_GNTMAP_readonly (other bits ignored) */
	void    *addr;       /* map: out (NULL on failure); unmap: in, as map returned it */
	uint64_t frame;      /* map: out, the gfn (0 on failure) */
	int16_t  status;     /* out: PVIO_GNTST_* */
};

/*
 * Validate and pin each ref (GTF_reading, plus GTF_writing unless
 * readonly) and return its address in the granter's memory. Ops are
 * independent: a failed op holds nothing and does not affect the others.
 * Each successful map needs its own unmap (pins are counted, separately for
 * read-only and writable maps). Returns the number of ops that succeeded.
 */
PVIO_EXPORT int pvio_gnttab_map(struct pvio_gnttab_view *view, struct pvio_gnt_map_op *ops,
				unsigned n);
/*
 * Drop one pin per op; ref, flags (readonly or not) and addr must be those
 * of a successful map. A ref/kind with no pin left gives GNTST_bad_handle
 * (double unmap), a wrong addr GNTST_bad_virt_addr; nothing changes then.
 * The last pin clears the entry's bits. Returns the number that succeeded.
 */
PVIO_EXPORT int pvio_gnttab_unmap(struct pvio_gnttab_view *view, struct pvio_gnt_map_op *ops,
				  unsigned n);

/* One copy segment (GNTTABOP_copy / xengnttab_grant_copy_segment_t). */
struct pvio_gnt_copy_op {
	union {
		struct {
			uint32_t ref;
			uint16_t offset;
			uint16_t domid;
		} foreign;       /* when the GNTCOPY_*_gref flag of this side is set */
		void *virt;      /* otherwise: our own memory, len bytes */
	} source, dest;
	uint16_t len;
	uint16_t flags;      /* PVIO_GNTCOPY_source_gref | PVIO_GNTCOPY_dest_gref */
	int16_t  status;     /* out: PVIO_GNTST_* */
};
_Static_assert(sizeof(((struct pvio_gnt_copy_op *)0)->source) == 8, "copy side");

/*
 * Copy each segment. A foreign source is pinned GTF_reading, a foreign
 * destination GTF_reading|GTF_writing (so it must not be read-only), for
 * the duration of the copy only, as Xen does. At least one side must be a
 * gref; foreign offset+len must stay inside the page; foreign domid must be
 * the view's granter. A failed op copies nothing and holds nothing.
 * Returns the number of ops that succeeded.
 */
PVIO_EXPORT int pvio_gnttab_copy(struct pvio_gnttab_view *view, struct pvio_gnt_copy_op *ops,
				 unsigned n);

#endif /* PVIO_GNTTAB_H */
