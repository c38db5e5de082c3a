/* SPDX-License-Identifier: MIT */
/*
 * Grant tables, mapping side: batched map / unmap / copy over a granter's
 * table and memory, every op validated (DESIGN.md §2), modelled on Xen's
 * common/grant_table.c (map_grant_ref, unmap_common, gnttab_copy and
 * _set_status_v1).
 *
 * The granter is hostile. It may rewrite any [GST] field at any time, so:
 *  - flags and domid are read as one 32-bit word and the pin bits are set
 *    with a cmpxchg on that word, re-validating the value the cmpxchg saw;
 *    a bounded number of retries (Xen: 5) stops a guest that keeps the
 *    word changing from live-locking us;
 *  - frame is read once, after the pin is in place (a revoke can no longer
 *    succeed, so the value is the one the grant named), validated, and
 *    cached privately for as long as any pin is held: every pin of one ref
 *    sees the same frame, whatever the granter writes later (Xen's act->frame);
 *  - nothing about the entry is trusted beyond the op that read it.
 *
 * Private per-ref state (struct pvio__gnt_active) is guarded by a tiny
 * per-ref spinlock, like Xen's active-entry lock: uncontended unless two
 * threads work on the same ref at once, and held only across a few atomics.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "grant-tables/gnttab_internal.h"

#define PIN_RETRIES   5            /* as Xen's _set_status_v1 */
#define PIN_MAX       0x00FFFFFFu  /* per kind; beyond it GNTST_no_space */

/*
 * Pins are counted by kind. Map pins and the transient pins of a copy are
 * kept apart so that a buggy double unmap can never consume a pin that a
 * concurrent copy on the same ref still relies on.
 */
enum pin_kind { PIN_MAP_RO, PIN_MAP_RW, PIN_COPY_RO, PIN_COPY_RW, PIN_KINDS };

struct pvio__gnt_active {
	uint32_t lock;             /* 0 free, 1 held */
	uint32_t frame;            /* valid while any pin is held */
	uint32_t pins[PIN_KINDS];
};

static inline bool kind_writes(enum pin_kind k)
{
	return k == PIN_MAP_RW || k == PIN_COPY_RW;
}

static inline uint32_t pins_total(const struct pvio__gnt_active *a)
{
	return a->pins[PIN_MAP_RO] + a->pins[PIN_MAP_RW] + a->pins[PIN_COPY_RO] +
	       a->pins[PIN_COPY_RW];
}

static inline uint32_t pins_writing(const struct pvio__gnt_active *a)
{
	return a->pins[PIN_MAP_RW] + a->pins[PIN_COPY_RW];
}

/* Per-batch counters, added to the view once per call. */
struct batch_stats {
	uint64_t ok, failed, bytes;
	uint64_t errors[PVIO_GNTTAB_NR_STATUS];
};

static void act_lock(struct pvio__gnt_active *a)
{
	unsigned spins = 0;

	for (;;) {
		uint32_t expect = 0;

		/* Acquire pairs with the release in act_unlock(). */
		if (pvio_cmpxchg(&a->lock, &expect, 1))
			return;
		while (pvio_load_relaxed(&a->lock)) {
			/* The holder may be preempted: don't burn the quantum. */
			if (++spins % 64)
				pvio_cpu_relax();
			else
				sched_yield();
		}
	}
}

static void act_unlock(struct pvio__gnt_active *a)
{
	/* Pairs with the acquiring cmpxchg in act_lock(). */
	pvio_store_release(&a->lock, 0);
}

static void note(struct batch_stats *bs, int16_t st)
{
	if (st == PVIO_GNTST_okay) {
		bs->ok++;
		return;
	}
	bs->failed++;
	if (st < 0 && -st < PVIO_GNTTAB_NR_STATUS)
		bs->errors[-st]++;
	else
		bs->errors[-PVIO_GNTST_general_error]++;
}

static void flush_stats(struct pvio_gnttab_view *v, const struct batch_stats *bs,
			uint64_t *ok_ctr, uint64_t *err_ctr)
{
	/* Counters only: nothing is ordered by them. */
	if (bs->ok)
		pvio_fetch_add(ok_ctr, bs->ok);
	if (bs->failed) {
		pvio_fetch_add(err_ctr, bs->failed);
		for (int i = 0; i < PVIO_GNTTAB_NR_STATUS; i++)
			if (bs->errors[i])
				pvio_fetch_add(&v->stats.errors[i], bs->errors[i]);
	}
	if (bs->bytes)
		pvio_fetch_add(&v->stats.copy_bytes, bs->bytes);
}

/* Does the entry header c allow this access? */
static int16_t check_entry(const struct pvio_gnttab_view *v, union pvio__gnt_combo c,
			   bool write, bool map)
{
	uint16_t type = c.f.flags & PVIO_GTF_type_mask;

	if (type == PVIO_GTF_invalid)
		return PVIO_GNTST_bad_gntref;
	if (type != PVIO_GTF_permit_access)
		return PVIO_GNTST_permission_denied;
	/* v1 has no sub-page bounds: Xen refuses to map such a grant and copies
	 * treat it as a full-page grant. */
	if (map && (c.f.flags & PVIO_GTF_sub_page))
		return PVIO_GNTST_permission_denied;
	if (c.f.domid != v->self)
		return PVIO_GNTST_permission_denied;
	if (write && (c.f.flags & PVIO_GTF_readonly))
		return PVIO_GNTST_permission_denied;
	return PVIO_GNTST_okay;
}

/*
 * Take one pin of kind k on ref (< nr_entries, its active entry locked) and
 * return the frame. On failure nothing is held and the entry's bits are as
 * before.
 */
static int16_t pin_locked(struct pvio_gnttab_view *v, uint32_t ref, enum pin_kind k,
			  uint32_t *frame)
{
	bool write = kind_writes(k), map = k == PIN_MAP_RO || k == PIN_MAP_RW;
	uint16_t want = PVIO_GTF_reading | (write ? PVIO_GTF_writing : 0);
	struct pvio__gnt_active *a = &v->active[ref];
	struct pvio_grant_entry_v1 *e = &v->table[ref];
	pvio__gnt_word_t *w = pvio__gnt_word(e);
	union pvio__gnt_combo cur, nxt;
	bool first;
	int16_t st;
	int tries = 0;

	if (a->pins[k] >= PIN_MAX) {
		st = PVIO_GNTST_no_space;
		goto out;
	}
	first = pins_total(a) == 0;
	/* Acquire pairs with the granter's release store of the word in
	 * grant: a valid header comes with its frame. */
	cur.raw = pvio_load_acquire(w);
	for (;;) {
		/* Re-validated on every attempt: the word may have changed. */
		st = check_entry(v, cur, write, map);
		if (st != PVIO_GNTST_okay)
			goto out;
		if ((cur.f.flags & want) == want)
			break;      /* our earlier pins already set them */
		nxt = cur;
		nxt.f.flags |= want;
		/* Acq_rel: pairs with the granter's cmpxchg in revoke; once ours
		 * wins, its revoke fails, and the frame read below is the one this
		 * header was published with. On failure cur is reloaded. */
		if (pvio_cmpxchg(w, &cur.raw, nxt.raw))
			break;
		if (++tries == PIN_RETRIES) {
			st = PVIO_GNTST_general_error;   /* "entry is unstable" */
			goto out;
		}
	}
	if (first) {
		/* Read once, after pinning; ordered by the cmpxchg/acquire above. */
		uint32_t f = pvio_load_relaxed(&e->frame);

		if (f >= v->nr_frames) {
			/* Undo our bits (no other pin exists). Release pairs with
			 * the granter's revoke cmpxchg, as in unpin_locked(). */
			pvio_fetch_and(w, pvio__gnt_clear_mask(want));
			st = PVIO_GNTST_bad_page;
			goto out;
		}
		a->frame = f;
	}
	a->pins[k]++;
	*frame = a->frame;
out:
	return st;
}

static int16_t pin(struct pvio_gnttab_view *v, uint32_t ref, enum pin_kind k,
		   uint32_t *frame)
{
	int16_t st;

	if (ref >= v->nr_entries)
		return PVIO_GNTST_bad_gntref;
	act_lock(&v->active[ref]);
	st = pin_locked(v, ref, k, frame);
	act_unlock(&v->active[ref]);
	return st;
}

/* Drop one pin of kind k; the caller checked that one is held. */
static void unpin_locked(struct pvio_gnttab_view *v, struct pvio__gnt_active *a,
			 uint32_t ref, enum pin_kind k)
{
	uint16_t clear = 0;

	a->pins[k]--;
	if (kind_writes(k) && pins_writing(a) == 0)
		clear |= PVIO_GTF_writing;
	if (pins_total(a) == 0)
		clear |= PVIO_GTF_reading;
	if (clear)
		/* Release: every access we made to the page happens before the
		 * granter's revoke cmpxchg (acquire) can see the bits clear. */
		pvio_fetch_and(pvio__gnt_word(&v->table[ref]), pvio__gnt_clear_mask(clear));
}

static void unpin(struct pvio_gnttab_view *v, uint32_t ref, enum pin_kind k)
{
	struct pvio__gnt_active *a = &v->active[ref];

	act_lock(a);
	unpin_locked(v, a, ref, k);
	act_unlock(a);
}

static inline uint8_t *frame_addr(const struct pvio_gnttab_view *v, uint32_t frame)
{
	return v->mem + (size_t)frame * PVIO_GNTTAB_PAGE_SIZE;
}

PVIO_EXPORT size_t pvio_gnttab_pins_bytes(uint32_t nr_entries)
{
	return (size_t)nr_entries * sizeof(struct pvio__gnt_active);
}

PVIO_EXPORT int pvio_gnttab_view_init_pins(struct pvio_gnttab_view *view,
					   struct pvio_grant_entry_v1 *table, uint32_t nr_entries,
					   void *mem, uint64_t nr_frames,
					   uint16_t granter, uint16_t self, void *pins)
{
	*view = (struct pvio_gnttab_view){ 0 };
	if (!table || ((uintptr_t)table & 7) || !nr_entries || (!mem && nr_frames) ||
	    granter == self || nr_frames > SIZE_MAX / PVIO_GNTTAB_PAGE_SIZE ||
	    ((uintptr_t)pins & 7))
		return -EINVAL;
	if (pins) {
		view->active = pins;
		view->pins_external = true;
	} else {
		view->active = calloc(nr_entries, sizeof(*view->active));
		if (!view->active)
			return -ENOMEM;
	}
	view->table = table;
	view->nr_entries = nr_entries;
	view->mem = mem;
	/* A v1 frame is 32 bits: larger memories are reachable only that far. */
	view->nr_frames = nr_frames;
	view->granter = granter;
	view->self = self;
	return 0;
}

PVIO_EXPORT int pvio_gnttab_view_init(struct pvio_gnttab_view *view,
				      struct pvio_grant_entry_v1 *table, uint32_t nr_entries,
				      void *mem, uint64_t nr_frames,
				      uint16_t granter, uint16_t self)
{
	return pvio_gnttab_view_init_pins(view, table, nr_entries, mem, nr_frames, granter,
					  self, NULL);
}

PVIO_EXPORT uint64_t pvio_gnttab_release_dead_pins(struct pvio_grant_entry_v1 *table,
						   uint32_t nr_entries, void *pins,
						   void *const *others, unsigned nothers)
{
	struct pvio__gnt_active *a = pins;
	uint64_t released = 0;

	for (uint32_t ref = 0; ref < nr_entries; ref++) {
		uint32_t held = pins_total(&a[ref]);
		bool shared = false;

		if (!held)
			continue;
		released += held;
		memset(a[ref].pins, 0, sizeof(a[ref].pins));
		a[ref].lock = 0;
		/* Another live mapper of the same domain still pins it: the
		 * bits are its too. */
		for (unsigned i = 0; i < nothers && !shared; i++)
			shared = pins_total(&((struct pvio__gnt_active *)others[i])[ref]) != 0;
		if (shared)
			continue;
		/* Release: the granter may revoke once it sees the bits gone. */
		pvio_fetch_and(pvio__gnt_word(&table[ref]),
			       pvio__gnt_clear_mask(PVIO_GTF_reading | PVIO_GTF_writing));
	}
	return released;
}

PVIO_EXPORT void pvio_gnttab_view_fini(struct pvio_gnttab_view *view)
{
	uint64_t released = 0;

	if (!view->active)
		return;
	for (uint32_t ref = 0; ref < view->nr_entries; ref++) {
		struct pvio__gnt_active *a = &view->active[ref];
		uint32_t held = pins_total(a);

		if (!held)
			continue;
		released += held;
		memset(a->pins, 0, sizeof(a->pins));
		/* Release: as in unpin_locked(); the granter may now revoke. */
		pvio_fetch_and(pvio__gnt_word(&view->table[ref]),
			       pvio__gnt_clear_mask(PVIO_GTF_reading | PVIO_GTF_writing));
	}
	if (!view->pins_external)
		free(view->active);
	view->active = NULL;
	view->stats.fini_released += released;
}

PVIO_EXPORT void pvio_gnttab_view_stats(const struct pvio_gnttab_view *view,
					struct pvio_gnttab_stats *out)
{
	const uint64_t *src = (const uint64_t *)&view->stats;
	uint64_t *dst = (uint64_t *)out;

	_Static_assert(sizeof(*out) % sizeof(uint64_t) == 0, "stats are u64s");
	for (size_t i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
		dst[i] = pvio_load_relaxed(&src[i]);   /* counters: no ordering */
}

PVIO_EXPORT int pvio_gnttab_map(struct pvio_gnttab_view *view, struct pvio_gnt_map_op *ops,
				unsigned n)
{
	struct batch_stats bs = { 0 };

	for (unsigned i = 0; i < n; i++) {
		struct pvio_gnt_map_op *op = &ops[i];
		enum pin_kind k = op->flags & PVIO_GNTMAP_readonly ? PIN_MAP_RO : PIN_MAP_RW;
		uint32_t frame = 0;

		op->addr = NULL;
		op->frame = 0;
		if (!view->active)
			op->status = PVIO_GNTST_general_error;
		else
			op->status = pin(view, op->ref, k, &frame);
		if (op->status == PVIO_GNTST_okay) {
			op->addr = frame_addr(view, frame);
			op->frame = frame;
		}
		note(&bs, op->status);
	}
	flush_stats(view, &bs, &view->stats.maps, &view->stats.map_errors);
	return (int)bs.ok;
}

static int16_t unmap_one(struct pvio_gnttab_view *view, struct pvio_gnt_map_op *op)
{
	enum pin_kind k = op->flags & PVIO_GNTMAP_readonly ? PIN_MAP_RO : PIN_MAP_RW;
	struct pvio__gnt_active *a;
	int16_t st = PVIO_GNTST_okay;

	if (!view->active || op->ref >= view->nr_entries)
		return PVIO_GNTST_bad_handle;
	a = &view->active[op->ref];
	act_lock(a);
	if (a->pins[k] == 0)
		st = PVIO_GNTST_bad_handle;
	else if (op->addr != frame_addr(view, a->frame))
		st = PVIO_GNTST_bad_virt_addr;
	else
		unpin_locked(view, a, op->ref, k);
	act_unlock(a);
	return st;
}

PVIO_EXPORT int pvio_gnttab_unmap(struct pvio_gnttab_view *view, struct pvio_gnt_map_op *ops,
				  unsigned n)
{
	struct batch_stats bs = { 0 };

	for (unsigned i = 0; i < n; i++) {
		ops[i].status = unmap_one(view, &ops[i]);
		note(&bs, ops[i].status);
	}
	flush_stats(view, &bs, &view->stats.unmaps, &view->stats.unmap_errors);
	return (int)bs.ok;
}

/* Arguments of one side of a copy, before any pin. */
static int16_t check_copy_side(const struct pvio_gnttab_view *view, bool gref,
			       uint32_t offset, uint16_t domid, const void *virt, uint16_t len)
{
	if (!gref)
		return virt || !len ? PVIO_GNTST_okay : PVIO_GNTST_bad_copy_arg;
	if (offset + len > PVIO_GNTTAB_PAGE_SIZE)
		return PVIO_GNTST_bad_copy_arg;
	if (domid != view->granter)
		return PVIO_GNTST_bad_domain;
	return PVIO_GNTST_okay;
}

static int16_t copy_one(struct pvio_gnttab_view *view, struct pvio_gnt_copy_op *op)
{
	bool sg = op->flags & PVIO_GNTCOPY_source_gref;
	bool dg = op->flags & PVIO_GNTCOPY_dest_gref;
	uint32_t sframe = 0, dframe = 0;
	const uint8_t *src;
	uint8_t *dst;
	int16_t st;

	if (!view->active)
		return PVIO_GNTST_general_error;
	if ((op->flags & ~(PVIO_GNTCOPY_source_gref | PVIO_GNTCOPY_dest_gref)) || (!sg && !dg))
		return PVIO_GNTST_bad_copy_arg;
	st = check_copy_side(view, sg, sg ? op->source.foreign.offset : 0,
			     sg ? op->source.foreign.domid : 0, op->source.virt, op->len);
	if (st == PVIO_GNTST_okay)
		st = check_copy_side(view, dg, dg ? op->dest.foreign.offset : 0,
				     dg ? op->dest.foreign.domid : 0, op->dest.virt, op->len);
	if (st != PVIO_GNTST_okay)
		return st;

	if (sg != dg) {
		/* One side in the granter's memory (every copy a backend
		 * makes): pin, copy and unpin under one hold of the entry's
		 * lock, instead of taking it for the pin and again for the
		 * unpin. The lock is this entry's alone; a copy is a page at
		 * most. */
		uint32_t ref = sg ? op->source.foreign.ref : op->dest.foreign.ref;
		enum pin_kind k = sg ? PIN_COPY_RO : PIN_COPY_RW;
		struct pvio__gnt_active *a;
		uint32_t frame;
		uint8_t *page;

		if (ref >= view->nr_entries)
			return PVIO_GNTST_bad_gntref;
		a = &view->active[ref];
		act_lock(a);
		st = pin_locked(view, ref, k, &frame);
		if (st == PVIO_GNTST_okay) {
			page = frame_addr(view, frame);
			if (!op->len)
				;
			else if (sg)
				memmove(op->dest.virt, page + op->source.foreign.offset, op->len);
			else
				memmove(page + op->dest.foreign.offset, op->source.virt, op->len);
			unpin_locked(view, a, ref, k);
		}
		act_unlock(a);
		return st;
	}
	/* Both sides grants (possibly one entry): each pinned on its own. */
	st = pin(view, op->source.foreign.ref, PIN_COPY_RO, &sframe);
	if (st != PVIO_GNTST_okay)
		return st;
	src = frame_addr(view, sframe) + op->source.foreign.offset;
	st = pin(view, op->dest.foreign.ref, PIN_COPY_RW, &dframe);
	if (st != PVIO_GNTST_okay)
		goto err_unpin_source;
	dst = frame_addr(view, dframe) + op->dest.foreign.offset;
	if (op->len)
		memmove(dst, src, op->len);   /* the two grants may name one page */
	unpin(view, op->dest.foreign.ref, PIN_COPY_RW);
	st = PVIO_GNTST_okay;
err_unpin_source:
	unpin(view, op->source.foreign.ref, PIN_COPY_RO);
	return st;
}

PVIO_EXPORT int pvio_gnttab_copy(struct pvio_gnttab_view *view, struct pvio_gnt_copy_op *ops,
				 unsigned n)
{
	struct batch_stats bs = { 0 };

	for (unsigned i = 0; i < n; i++) {
		ops[i].status = copy_one(view, &ops[i]);
		if (ops[i].status == PVIO_GNTST_okay)
			bs.bytes += ops[i].len;
		note(&bs, ops[i].status);
	}
	flush_stats(view, &bs, &view->stats.copies, &view->stats.copy_errors);
	return (int)bs.ok;
}
