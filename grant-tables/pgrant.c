/* SPDX-License-Identifier: MIT */
/*
 * Persistent-grant cache: a fixed array of entries, a per-ref index into
 * it, a free list and an LRU list of idle entries (both intrusive, by
 * index). Entries in use are on neither list, so they can never be picked
 * for reclaim.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "grant-tables/pgrant.h"
#include "ring/pvio_atomic.h"

#define NIL 0xFFFFFFFFu

struct pvio_pgrant {
	void    *addr;
	uint64_t last_used;    /* c->now at the last put */
	uint32_t ref;          /* NIL when the entry is free */
	uint32_t in_use;       /* use references (lookup/insert minus put) */
	uint32_t prev, next;   /* LRU links; next also links the free list */
	bool     writable;
};

static void lru_remove(struct pvio_pgrant_cache *c, uint32_t i)
{
	struct pvio_pgrant *e = &c->ents[i];

	if (e->prev != NIL)
		c->ents[e->prev].next = e->next;
	else
		c->lru_head = e->next;
	if (e->next != NIL)
		c->ents[e->next].prev = e->prev;
	else
		c->lru_tail = e->prev;
	e->prev = e->next = NIL;
}

static void lru_append(struct pvio_pgrant_cache *c, uint32_t i)
{
	struct pvio_pgrant *e = &c->ents[i];

	e->next = NIL;
	e->prev = c->lru_tail;
	if (c->lru_tail != NIL)
		c->ents[c->lru_tail].next = i;
	else
		c->lru_head = i;
	c->lru_tail = i;
}

static void take(struct pvio_pgrant_cache *c, uint32_t i)
{
	if (c->ents[i].in_use++ == 0)
		lru_remove(c, i);
}

/* Drop the view's pin of entry i. */
static void unmap_entry(struct pvio_pgrant_cache *c, struct pvio_pgrant *e)
{
	struct pvio_gnt_map_op op = {
		.ref = e->ref,
		.flags = e->writable ? 0 : PVIO_GNTMAP_readonly,
		.addr = e->addr,
	};

	if (c->unmap(c->ctx, &op, 1) != 1)
		c->stats.map_errors++;   /* cannot happen unless the view was torn down */
}

static void free_entry(struct pvio_pgrant_cache *c, uint32_t i)
{
	struct pvio_pgrant *e = &c->ents[i];

	c->slot[e->ref] = 0;
	e->ref = NIL;
	e->addr = NULL;
	e->in_use = 0;
	e->prev = NIL;
	e->next = c->free_head;
	c->free_head = i;
	c->nr--;
}

/* Unmap an idle entry and free it. */
static void evict(struct pvio_pgrant_cache *c, uint32_t i)
{
	lru_remove(c, i);
	unmap_entry(c, &c->ents[i]);
	free_entry(c, i);
	c->stats.reclaims++;
}

static void reset_lists(struct pvio_pgrant_cache *c)
{
	c->free_head = NIL;
	for (uint32_t i = c->max; i-- > 0;) {
		c->ents[i] = (struct pvio_pgrant){ .ref = NIL, .prev = NIL, .next = c->free_head };
		c->free_head = i;
	}
	c->lru_head = c->lru_tail = NIL;
	c->nr = 0;
}

static int view_map(void *ctx, struct pvio_gnt_map_op *ops, unsigned n)
{
	return pvio_gnttab_map(ctx, ops, n);
}

static int view_unmap(void *ctx, struct pvio_gnt_map_op *ops, unsigned n)
{
	return pvio_gnttab_unmap(ctx, ops, n);
}

PVIO_EXPORT int pvio_pgrant_init(struct pvio_pgrant_cache *c, struct pvio_gnttab_view *view,
				 uint32_t max)
{
	int r;

	if (!view || !view->active) {
		*c = (struct pvio_pgrant_cache){ 0 };
		return -EINVAL;
	}
	r = pvio_pgrant_init_mapper(c, view_map, view_unmap, view, view->nr_entries, false, max);
	if (r == 0)
		c->view = view;
	return r;
}

PVIO_EXPORT int pvio_pgrant_init_mapper(struct pvio_pgrant_cache *c, pvio_pgrant_map_fn map,
					pvio_pgrant_map_fn unmap, void *ctx, uint32_t nr_refs,
					bool map_rw, uint32_t max)
{
	*c = (struct pvio_pgrant_cache){ 0 };
	if (!map || !unmap || !nr_refs || max >= NIL)
		return -EINVAL;
	if (!max)
		max = PVIO_PGRANT_DEFAULT_MAX;
	c->ents = calloc(max, sizeof(*c->ents));
	c->slot = calloc(nr_refs, sizeof(*c->slot));
	if (!c->ents || !c->slot)
		goto err_free;
	c->map = map;
	c->unmap = unmap;
	c->ctx = ctx;
	c->nr_refs = nr_refs;
	c->map_rw = map_rw;
	c->max = max;
	reset_lists(c);
	return 0;
err_free:
	free(c->ents);
	free(c->slot);
	*c = (struct pvio_pgrant_cache){ 0 };
	return -ENOMEM;
}

PVIO_EXPORT void pvio_pgrant_fini(struct pvio_pgrant_cache *c)
{
	if (!c->ents)
		return;
	pvio_pgrant_release_all(c);
	free(c->ents);
	free(c->slot);
	c->ents = NULL;
	c->slot = NULL;
	c->max = 0;
}

PVIO_EXPORT void *pvio_pgrant_lookup(struct pvio_pgrant_cache *c, uint32_t ref, bool write)
{
	uint32_t s;

	if (!c->ents || ref >= c->nr_refs || !(s = c->slot[ref]) ||
	    (write && !c->ents[s - 1].writable)) {
		c->stats.misses++;
		return NULL;
	}
	take(c, s - 1);
	c->stats.hits++;
	return c->ents[s - 1].addr;
}

/* Map one ref; 0 or -EIO with *gntst set. */
static int map_one(struct pvio_pgrant_cache *c, uint32_t ref, bool write, void **addr,
		   int16_t *gntst)
{
	struct pvio_gnt_map_op op = { .ref = ref, .flags = write ? 0 : PVIO_GNTMAP_readonly };

	if (c->map_rw)
		op.flags = 0;
	c->map(c->ctx, &op, 1);
	if (gntst)
		*gntst = op.status;
	if (op.status != PVIO_GNTST_okay) {
		c->stats.map_errors++;
		return -EIO;
	}
	*addr = op.addr;
	return 0;
}

PVIO_EXPORT int pvio_pgrant_insert(struct pvio_pgrant_cache *c, uint32_t ref, bool write,
				   void **addr, int16_t *gntst)
{
	struct pvio_pgrant *e;
	void *a;
	uint32_t i;
	int r;

	if (gntst)
		*gntst = PVIO_GNTST_okay;
	if (!c->ents)
		return -EINVAL;
	if (ref >= c->nr_refs) {
		if (gntst)
			*gntst = PVIO_GNTST_bad_gntref;
		c->stats.map_errors++;
		return -EIO;
	}
	if (c->slot[ref]) {
		i = c->slot[ref] - 1;
		e = &c->ents[i];
		if (write && !e->writable) {
			/* Upgrade: pin writable first, then drop the read-only
			 * pin. The view keeps one frame per ref while any pin is
			 * held, so the address is unchanged. */
			r = map_one(c, ref, true, &a, gntst);
			if (r < 0)
				return r;
			unmap_entry(c, e);
			e->writable = true;
		}
		take(c, i);
		*addr = e->addr;
		return 0;
	}
	if (c->free_head == NIL && c->lru_head == NIL) {
		c->stats.full++;
		return -ENOSPC;
	}
	r = map_one(c, ref, write, &a, gntst);
	if (r < 0)
		return r;
	if (c->free_head == NIL)
		evict(c, c->lru_head);
	i = c->free_head;
	e = &c->ents[i];
	c->free_head = e->next;
	*e = (struct pvio_pgrant){
		.addr = a, .ref = ref, .in_use = 1, .prev = NIL, .next = NIL,
		.writable = write || c->map_rw,
	};
	c->slot[ref] = i + 1;
	c->nr++;
	c->stats.inserts++;
	*addr = a;
	return 0;
}

PVIO_EXPORT int pvio_pgrant_put(struct pvio_pgrant_cache *c, uint32_t ref)
{
	uint32_t s;

	if (!c->ents || ref >= c->nr_refs || !(s = c->slot[ref]) ||
	    !c->ents[s - 1].in_use)
		return -EINVAL;
	if (--c->ents[s - 1].in_use == 0) {
		c->ents[s - 1].last_used = c->now;
		lru_append(c, s - 1);
	}
	return 0;
}

PVIO_EXPORT unsigned pvio_pgrant_reclaim(struct pvio_pgrant_cache *c, unsigned n)
{
	unsigned done = 0;

	while (c->ents && done < n && c->lru_head != NIL) {
		evict(c, c->lru_head);
		done++;
	}
	return done;
}

PVIO_EXPORT unsigned pvio_pgrant_purge(struct pvio_pgrant_cache *c, uint64_t older_than)
{
	unsigned done = 0;

	/* The LRU list is in put order, so stamps are ascending along it. */
	while (c->ents && c->lru_head != NIL && c->ents[c->lru_head].last_used < older_than) {
		evict(c, c->lru_head);
		done++;
	}
	return done;
}

PVIO_EXPORT unsigned pvio_pgrant_release_all(struct pvio_pgrant_cache *c)
{
	unsigned busy = 0;

	if (!c->ents)
		return 0;
	for (uint32_t i = 0; i < c->max; i++) {
		struct pvio_pgrant *e = &c->ents[i];

		if (e->ref == NIL)
			continue;
		if (e->in_use)
			busy++;
		unmap_entry(c, e);
		c->slot[e->ref] = 0;
	}
	reset_lists(c);
	return busy;
}

/* A copy op's arguments, checked as the grant copy checks them: OK with
 * *sg (the guest page is the source), *ref and *off, or the op's status. */
static int16_t op_args(const struct pvio_pgrant_cache *c, const struct pvio_gnt_copy_op *op,
		       bool *sg, uint32_t *ref, uint32_t *off)
{
	bool dg = op->flags == PVIO_GNTCOPY_dest_gref;
	const void *local;

	*sg = op->flags == PVIO_GNTCOPY_source_gref;
	if (!*sg && !dg)
		return PVIO_GNTST_bad_copy_arg;
	*ref = *sg ? op->source.foreign.ref : op->dest.foreign.ref;
	*off = *sg ? op->source.foreign.offset : op->dest.foreign.offset;
	local = *sg ? op->dest.virt : op->source.virt;
	if (*off + op->len > PVIO_GNTTAB_PAGE_SIZE || (!local && op->len))
		return PVIO_GNTST_bad_copy_arg;
	if (!c->ents)
		return PVIO_GNTST_general_error;
	if (*ref >= c->nr_refs)
		return PVIO_GNTST_bad_gntref;
	return PVIO_GNTST_okay;
}

static int16_t copy_op(struct pvio_pgrant_cache *c, struct pvio_gnt_copy_op *op)
{
	bool sg;
	uint32_t ref, off, s;
	uint8_t *page;
	int16_t st = op_args(c, op, &sg, &ref, &off);

	if (st != PVIO_GNTST_okay)
		return st;
	s = c->slot[ref];
	if (s && (sg || c->ents[s - 1].writable)) {
		c->stats.hits++;
		page = c->ents[s - 1].addr;
	} else {
		void *a;

		st = PVIO_GNTST_general_error;
		c->stats.misses++;
		if (pvio_pgrant_insert(c, ref, !sg, &a, &st) < 0)
			return st != PVIO_GNTST_okay ? st : PVIO_GNTST_general_error;
		pvio_pgrant_put(c, ref);
		page = a;
	}
	if (!op->len)
		return PVIO_GNTST_okay;
	if (sg)
		memmove(op->dest.virt, page + off, op->len);
	else
		memmove(page + off, op->source.virt, op->len);
	return PVIO_GNTST_okay;
}

/* The guest's side of op, if it is a valid op with bytes to copy on a page
 * mapped already (the fast path: no insert, nothing evicted); else NULL,
 * and copy_op() does it all. */
static uint8_t *hit_page(const struct pvio_pgrant_cache *c, const struct pvio_gnt_copy_op *op)
{
	bool sg;
	uint32_t ref, off, s;

	if (!op->len || op_args(c, op, &sg, &ref, &off) != PVIO_GNTST_okay)
		return NULL;
	s = c->slot[ref];
	if (!s || (!sg && !c->ents[s - 1].writable))
		return NULL;
	return (uint8_t *)c->ents[s - 1].addr + off;
}

#define PG_AHEAD 16u   /* copies whose lines are asked for before the first */

/* The copies of ops[from, to), each on a mapped page (fg[k - from]). */
static void copy_hits(struct pvio_pgrant_cache *c, struct pvio_gnt_copy_op *ops,
		      uint8_t *const *fg, unsigned from, unsigned to)
{
	for (unsigned i = from; i < to; i++) {
		struct pvio_gnt_copy_op *op = &ops[i];

		if (op->flags == PVIO_GNTCOPY_source_gref)
			memmove(op->dest.virt, fg[i - from], op->len);
		else
			memmove(fg[i - from], op->source.virt, op->len);
		op->status = PVIO_GNTST_okay;
	}
	c->stats.hits += to - from;
}

/* In order, as copy_op() one by one; but up to PG_AHEAD copies on pages
 * mapped already are looked up first and their guest lines asked for
 * (the guest's CPU wrote them, or will read them: each first touch waits
 * for that CPU), then done: the transfers overlap. A copy that needs a
 * mapping (which may evict one) first lets the pending ones finish. */
PVIO_EXPORT int pvio_pgrant_copy(struct pvio_pgrant_cache *c, struct pvio_gnt_copy_op *ops,
				 unsigned n)
{
	uint8_t *fg[PG_AHEAD];
	unsigned first = 0, np = 0;
	int ok = 0;

	for (unsigned i = 0; i < n; i++) {
		uint8_t *p = hit_page(c, &ops[i]);

		if (p) {
			if (np == 0)
				first = i;
			if (ops[i].flags == PVIO_GNTCOPY_dest_gref)
				pvio_prefetch_w(p);
			else
				pvio_prefetch_r(p);
			fg[np++] = p;
			if (np < PG_AHEAD)
				continue;
		}
		if (np) {
			copy_hits(c, ops, fg, first, first + np);
			ok += (int)np;
			np = 0;
		}
		if (!p) {
			ops[i].status = copy_op(c, &ops[i]);
			ok += ops[i].status == PVIO_GNTST_okay;
		}
	}
	if (np) {
		copy_hits(c, ops, fg, first, first + np);
		ok += (int)np;
	}
	return ok;
}
