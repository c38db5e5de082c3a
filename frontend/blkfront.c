/* SPDX-License-Identifier: MIT */
/*
 * blkfront data path: shadows, grants, ring requests, responses.
 *
 *   submit   validate, split at the negotiated segment limit (11, or an
 *            INDIRECT request with up to max_segs segments), grant each page
 *            (persistent grants by gfn when negotiated), fill the ring slot
 *            from a private copy, push once per batch, notify if asked
 *   reap     take the event (masks the port), consume responses, validate
 *            each against the shadow table (id in range, slot outstanding,
 *            generation, operation), release grants, complete the user
 *            request when its last part is answered, issue what waited for
 *            room, final check, unmask (late EOI), sleep on the queue's fd
 *
 * A backend that answers nonsense disables the device: everything pending
 * and everything later fails with -ENODEV, nothing is written outside our
 * own shadows, and a grant the backend still holds is never reused.
 *
 * The queue lifecycle (alloc / up / down) also lives here because tearing a
 * queue down means walking its shadows; blkfront_xenbus.c decides when.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>

#include "frontend/blkfront_internal.h"
#include "ring/pvio_atomic.h"
#include "ring/pvio_export.h"

#define PAGE PVIO_PAGE_SIZE

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------ wake-ups */

void bf_wake_queue(struct bf_queue *q)
{
	fe_ctl_kick(&q->ctl_pending, q->ctl_fd);
}

void bf_disable(struct pvio_blkfront *f, const char *why)
{
	fe_disable(&f->fe, why);
	for (unsigned i = 0; i < f->nr_queues; i++)
		bf_wake_queue(&f->q[i]);
}

/* ------------------------------------------------------------ deferred revokes */

void bf_revoke_or_defer(struct pvio_blkfront *f, uint32_t ref, uint64_t gfn, bool own_page)
{
	int r = pvio_hv_revoke(f->hv, ref);

	if (r == 0) {
		if (own_page)
			pvio_hv_page_free(f->hv, gfn, 1);
		return;
	}
	pthread_mutex_lock(&f->def_lock);
	f->st_leaked_refs++;
	if (own_page)
		f->st_leaked_pages++;
	if (r == -EBUSY && f->def && f->def_n < BF_DEFER_MAX) {
		f->def[f->def_n].ref = ref;
		f->def[f->def_n].gfn = gfn;
		f->def[f->def_n].own_page = own_page;
		f->def_n++;
	}
	/* else: given up for good; the ref stays allocated in the grant
	 * table and the page (if ours) is never handed out again. */
	pthread_mutex_unlock(&f->def_lock);
	if (r != -EBUSY)
		bf_log(f, "revoke of grant %u failed: %s", ref, strerror(-r));
}

/*
 * Entry i (own_page) was revoked: if another deferred grant is on the same
 * page (two queues' persistent grants of one buffer), that one owns the
 * page now, and the page is freed only when the last grant on it is gone.
 * true if ownership moved. Under def_lock.
 */
static bool def_pass_page(struct pvio_blkfront *f, uint32_t i)
{
	for (uint32_t j = 0; j < f->def_n; j++) {
		if (j != i && f->def[j].gfn == f->def[i].gfn && !f->def[j].own_page) {
			f->def[j].own_page = true;
			return true;
		}
	}
	return false;
}

/*
 * The page gfn is being freed while grants on it wait on the deferred list
 * (the backend still holds them, typically in its persistent cache until
 * the disconnect): the page goes with the last of them. false if no
 * grant of it is deferred.
 */
static bool def_adopt_page(struct pvio_blkfront *f, uint64_t gfn)
{
	bool found = false;

	pthread_mutex_lock(&f->def_lock);
	for (uint32_t j = 0; j < f->def_n; j++) {
		if (f->def[j].gfn == gfn && !f->def[j].own_page) {
			f->def[j].own_page = true;
			f->st_leaked_pages++;
			found = true;
			break;
		}
	}
	pthread_mutex_unlock(&f->def_lock);
	return found;
}

unsigned bf_retry_deferred(struct pvio_blkfront *f, unsigned budget)
{
	uint32_t i, limit, left;

	pthread_mutex_lock(&f->def_lock);
	/* At most one pass over the list (or budget tries), continuing where
	 * the last budgeted pass stopped, so that refs pinned for good at
	 * one end do not hide the others. */
	limit = budget && budget < f->def_n ? budget : f->def_n;
	i = f->def_cursor < f->def_n ? f->def_cursor : 0;
	for (uint32_t tries = 0; tries < limit && f->def_n; tries++) {
		struct bf_deferred *d = &f->def[i];

		if (pvio_hv_revoke(f->hv, d->ref) == 0) {
			if (d->own_page && !def_pass_page(f, i)) {
				pvio_hv_page_free(f->hv, d->gfn, 1);
				f->st_leaked_pages--;
			}
			f->st_leaked_refs--;
			*d = f->def[--f->def_n];   /* the last entry moves to i */
		} else {
			i++;
		}
		if (i >= f->def_n)
			i = 0;
	}
	f->def_cursor = i;
	left = f->def_n;
	pthread_mutex_unlock(&f->def_lock);
	return left;
}

void bf_abandon_deferred(struct pvio_blkfront *f)
{
	unsigned left = bf_retry_deferred(f, 0);

	if (left)
		bf_log(f, "%u grant(s) still held by the backend: leaked, never reused", left);
	pthread_mutex_lock(&f->def_lock);
	f->def_n = 0;
	pthread_mutex_unlock(&f->def_lock);
}

/* ------------------------------------------------------------ persistent grants */

static uint32_t pc_hash(const struct bf_pcache *c, uint64_t gfn)
{
	return (uint32_t)((gfn * 0x9E3779B97F4A7C15ull) >> 40) & (c->nbuckets - 1);
}

/* Every entry free, nothing hashed. */
static void pc_reset(struct bf_pcache *c)
{
	c->nr = 0;
	for (uint32_t i = 0; i < c->nbuckets; i++)
		c->bucket[i] = BF_NONE;
	for (uint32_t i = 0; i < c->cap; i++)
		c->e[i].hnext = i + 1 < c->cap ? i + 1 : BF_NONE;
	c->free_head = c->cap ? 0 : BF_NONE;
	c->lru_head = c->lru_tail = BF_NONE;
}

static int pc_init(struct bf_pcache *c, uint32_t cap)
{
	if (c->e && c->cap == cap) {
		/* Nothing hashed: every entry is on the free list already. */
		if (c->nr)
			pc_reset(c);
		return 0;
	}
	free(c->e);
	free(c->bucket);
	memset(c, 0, sizeof(*c));
	c->nbuckets = 1;
	while (c->nbuckets < cap * 2)
		c->nbuckets *= 2;
	c->e = calloc(cap, sizeof(*c->e));
	c->bucket = malloc(sizeof(*c->bucket) * c->nbuckets);
	if (!c->e || !c->bucket) {
		free(c->e);
		free(c->bucket);
		memset(c, 0, sizeof(*c));
		return -ENOMEM;
	}
	c->cap = cap;
	pc_reset(c);
	return 0;
}

static void pc_free(struct bf_pcache *c)
{
	free(c->e);
	free(c->bucket);
	memset(c, 0, sizeof(*c));
}

static uint32_t pc_find(const struct bf_pcache *c, uint64_t gfn)
{
	uint32_t i;

	if (!c->cap)
		return BF_NONE;
	for (i = c->bucket[pc_hash(c, gfn)]; i != BF_NONE; i = c->e[i].hnext)
		if (c->e[i].gfn == gfn)
			return i;
	return BF_NONE;
}

static void pc_unhash(struct bf_pcache *c, uint32_t i)
{
	uint32_t *pp = &c->bucket[pc_hash(c, c->e[i].gfn)];

	while (*pp != BF_NONE && *pp != i)
		pp = &c->e[*pp].hnext;
	if (*pp == i)
		*pp = c->e[i].hnext;
}

static void lru_del(struct bf_pcache *c, uint32_t i)
{
	struct bf_pgnt *e = &c->e[i];

	if (e->prev != BF_NONE)
		c->e[e->prev].next = e->next;
	else
		c->lru_head = e->next;
	if (e->next != BF_NONE)
		c->e[e->next].prev = e->prev;
	else
		c->lru_tail = e->prev;
	e->prev = e->next = BF_NONE;
}

static void lru_add_tail(struct bf_pcache *c, uint32_t i)
{
	struct bf_pgnt *e = &c->e[i];

	e->next = BF_NONE;
	e->prev = c->lru_tail;
	if (c->lru_tail != BF_NONE)
		c->e[c->lru_tail].next = i;
	else
		c->lru_head = i;
	c->lru_tail = i;
}

/*
 * Retire one idle grant, least recently used first, into the free list.
 * The backend may keep a grant mapped (its own persistent cache): then the
 * revoke fails, the grant stays, and the next one is tried. false if none
 * could be retired within tries.
 */
static bool pc_retire_one(struct bf_queue *q, unsigned tries)
{
	struct bf_pcache *c = &q->pc;

	for (unsigned t = 0; t < tries && c->lru_head != BF_NONE; t++) {
		uint32_t j = c->lru_head;

		lru_del(c, j);
		if (pvio_hv_revoke(q->f->hv, c->e[j].gref) == 0) {
			pc_unhash(c, j);
			c->nr--;
			c->e[j].hnext = c->free_head;
			c->free_head = j;
			q->st_pg_evict++;
			return true;
		}
		lru_add_tail(c, j);
	}
	return false;
}

/*
 * A persistent grant of gfn (writable, so any operation can use it) with a
 * use reference taken; BF_NONE when none can be made now (the cache is
 * full of grants in use or held by the backend, or the grant table itself
 * is full and no idle grant of ours could be retired).
 */
static uint32_t pc_get(struct bf_queue *q, uint64_t gfn)
{
	struct pvio_blkfront *f = q->f;
	struct bf_pcache *c = &q->pc;
	uint32_t i = pc_find(c, gfn);
	int ref;

	if (i != BF_NONE) {
		if (c->e[i].users++ == 0)
			lru_del(c, i);
		q->st_pg_hits++;
		return i;
	}
	q->st_pg_misses++;
	if (!c->cap)
		return BF_NONE;
	if (c->free_head == BF_NONE && !pc_retire_one(q, 32))
		return BF_NONE;
	i = c->free_head;
	c->free_head = c->e[i].hnext;
	ref = pvio_hv_grant(f->hv, f->be_domid, gfn, false);
	if (ref == -ENOSPC) {
		/* The grant table is full: refs whose revoke failed (a backend
		 * that died holding them), other queues' caches. Take back
		 * refs whose holder let go, else shrink our own cache. */
		if (__atomic_load_n(&f->def_n, __ATOMIC_RELAXED))
			bf_retry_deferred(f, 64);
		ref = pvio_hv_grant(f->hv, f->be_domid, gfn, false);
		while (ref == -ENOSPC && pc_retire_one(q, 32))
			ref = pvio_hv_grant(f->hv, f->be_domid, gfn, false);
	}
	if (ref < 0) {
		c->e[i].hnext = c->free_head;
		c->free_head = i;
		return BF_NONE;
	}
	c->e[i].gfn = gfn;
	c->e[i].gref = (uint32_t)ref;
	c->e[i].users = 1;
	c->e[i].prev = c->e[i].next = BF_NONE;
	c->e[i].hnext = c->bucket[pc_hash(c, gfn)];
	c->bucket[pc_hash(c, gfn)] = i;
	c->nr++;
	return i;
}

static void pc_put(struct bf_pcache *c, uint32_t i)
{
	if (i >= c->cap || c->e[i].users == 0)
		return;
	if (--c->e[i].users == 0)
		lru_add_tail(c, i);
}

/* Revoke every persistent grant (disconnect). Entries must be idle: then
 * every one is on the LRU, which is walked (and emptied into the free
 * list) instead of every bucket -- a disconnect costs what is cached. */
static void pc_flush(struct bf_queue *q)
{
	struct bf_pcache *c = &q->pc;
	uint32_t n = 0, next;

	if (!c->cap || !c->nr)
		return;
	for (uint32_t i = c->lru_head; i != BF_NONE && n <= c->nr; i = c->e[i].next)
		n++;
	if (n != c->nr) {
		/* An entry still in use (not expected here): the long way. */
		for (uint32_t b = 0; b < c->nbuckets; b++) {
			for (uint32_t i = c->bucket[b]; i != BF_NONE; i = c->e[i].hnext)
				bf_revoke_or_defer(q->f, c->e[i].gref, c->e[i].gfn, false);
		}
		pc_reset(c);
		return;
	}
	for (uint32_t i = c->lru_head; i != BF_NONE; i = next) {
		struct bf_pgnt *e = &c->e[i];

		next = e->next;
		bf_revoke_or_defer(q->f, e->gref, e->gfn, false);
		/* Each chain holds only entries of this list: all go. */
		c->bucket[pc_hash(c, e->gfn)] = BF_NONE;
		e->prev = e->next = BF_NONE;
		e->hnext = c->free_head;
		c->free_head = i;
	}
	c->lru_head = c->lru_tail = BF_NONE;
	c->nr = 0;
}

/*
 * Drop the persistent grant of gfn, if any (its page is being freed).
 * Returns 0 if the page may be reused, 1 if the grant went to the deferred
 * list (the backend holds it), -EBUSY if it is in use by a request in
 * flight (it stays in the cache).
 */
static int pc_forget(struct bf_queue *q, uint64_t gfn)
{
	struct bf_pcache *c = &q->pc;
	uint32_t i = pc_find(c, gfn);

	if (i == BF_NONE)
		return 0;
	if (c->e[i].users)
		return -EBUSY;   /* I/O in flight on a page being freed */
	lru_del(c, i);
	pc_unhash(c, i);
	c->nr--;
	c->e[i].hnext = c->free_head;
	c->free_head = i;
	if (pvio_hv_revoke(q->f->hv, c->e[i].gref) == 0)
		return 0;
	bf_revoke_or_defer(q->f, c->e[i].gref, gfn, false);
	return 1;
}

/* Is a one-off grant of page gfn in a ring request in flight? (q->lock) */
static bool oneoff_in_flight(struct bf_queue *q, uint64_t gfn)
{
	for (uint32_t s = 0; q->inflight && s < q->nr_sh; s++) {
		const struct bf_shadow *sh = &q->sh[s];

		for (unsigned i = 0; sh->busy && i < sh->nr_segs; i++)
			if (sh->segs[i].pg == BF_NONE && sh->segs[i].gfn == gfn)
				return true;
	}
	return false;
}

/* ------------------------------------------------------------ shadows */

static uint32_t shadow_get(struct bf_queue *q)
{
	uint32_t s = q->free_head;
	struct bf_shadow *sh = &q->sh[s];

	q->free_head = sh->next_free;
	sh->busy = 1;
	sh->gen++;
	sh->nr_segs = 0;
	sh->nr_sectors = 0;
	q->inflight++;
	return s;
}

static void shadow_put(struct bf_queue *q, uint32_t s)
{
	struct bf_shadow *sh = &q->sh[s];

	sh->busy = 0;
	sh->ureq = NULL;
	sh->next_free = q->free_head;
	q->free_head = s;
	q->inflight--;
}

static void release_segs(struct bf_queue *q, struct bf_shadow *sh)
{
	for (unsigned i = 0; i < sh->nr_segs; i++) {
		struct bf_seg *sg = &sh->segs[i];

		if (sg->pg != BF_NONE)
			pc_put(&q->pc, sg->pg);
		else
			bf_revoke_or_defer(q->f, sg->gref, sg->gfn, false);
	}
	sh->nr_segs = 0;
}

/* ------------------------------------------------------------ completion */

static void maybe_complete(struct bf_queue *q, struct pvio_blkfront_req *r)
{
	if (r->_state != BFR_ACTIVE || r->_parts || r->_requeued || !r->_issued)
		return;
	r->_state = BFR_DONE;
	if (r->_sync) {
		fe_efd_write(q->f->sync_fd);
		return;
	}
	r->_next = NULL;
	if (q->done_tail)
		q->done_tail->_next = r;
	else
		q->done_head = r;
	q->done_tail = r;
}

static void set_error(struct pvio_blkfront_req *r, int err)
{
	if (r->result == 0)
		r->result = err;
}

/* ------------------------------------------------------------ requests */

static bool is_data_op(uint8_t op)
{
	return op == PVIO_BLKFRONT_READ || op == PVIO_BLKFRONT_WRITE;
}

/* Write shadow sh as a request of one ABI's layout into slot, from a
 * private, zeroed copy (the guest's ring is shared: one memcpy out). The two
 * ABIs differ only in their structs' padding. */
#define BF_PUT_SLOT(name, req_t, ind_t, disc_t)					\
static void name(void *slot, const struct bf_shadow *sh, uint64_t id, uint16_t handle,	\
		 const uint32_t *ind_ref, unsigned nind)				\
{										\
	if (sh->op == PVIO_BLKIF_OP_INDIRECT) {					\
		ind_t r;							\
										\
		memset(&r, 0, sizeof(r));					\
		r.operation = sh->op;						\
		r.indirect_op = sh->data_op;					\
		r.nr_segments = sh->nr_segs;					\
		r.id = id;							\
		r.sector_number = sh->sector;					\
		r.handle = handle;						\
		for (unsigned k = 0; k < nind; k++)				\
			r.indirect_grefs[k] = ind_ref[k];			\
		memcpy(slot, &r, sizeof(r));					\
	} else if (sh->op == PVIO_BLKIF_OP_DISCARD) {				\
		disc_t r;							\
										\
		memset(&r, 0, sizeof(r));					\
		r.operation = sh->op;						\
		r.handle = handle;						\
		r.id = id;							\
		r.sector_number = sh->sector;					\
		r.nr_sectors = sh->nr_sectors;					\
		memcpy(slot, &r, sizeof(r));					\
	} else {								\
		req_t r;							\
										\
		memset(&r, 0, sizeof(r));					\
		r.operation = sh->op;						\
		r.nr_segments = (uint8_t)sh->nr_segs;				\
		r.handle = handle;						\
		r.id = id;							\
		r.sector_number = sh->sector;					\
		for (unsigned i = 0; i < sh->nr_segs; i++) {			\
			r.seg[i].gref = sh->segs[i].gref;			\
			r.seg[i].first_sect = sh->segs[i].first;		\
			r.seg[i].last_sect = sh->segs[i].last;			\
		}								\
		memcpy(slot, &r, sizeof(r));					\
	}									\
}

BF_PUT_SLOT(put_slot_native, struct pvio_blkif_request, struct pvio_blkif_request_indirect,
	    struct pvio_blkif_request_discard)
BF_PUT_SLOT(put_slot_x86_32, struct pvio_blkif_x86_32_request,
	    struct pvio_blkif_x86_32_request_indirect, struct pvio_blkif_x86_32_request_discard)

/* Write the request of shadow s into the next ring slot, in the negotiated
 * layout. */
static void put_request(struct bf_queue *q, uint32_t s)
{
	struct pvio_blkfront *f = q->f;
	struct bf_shadow *sh = &q->sh[s];
	uint64_t id = (uint64_t)sh->gen << 32 | s;
	uint16_t handle = (uint16_t)f->vdev;
	const uint32_t *ind_ref;
	unsigned nind = 0;

	if (sh->op == PVIO_BLKIF_OP_INDIRECT) {
		/* Segments go into this slot's pre-granted indirect pages. */
		nind = (sh->nr_segs + PVIO_BLKIF_SEGS_PER_INDIRECT_FRAME - 1) /
		       PVIO_BLKIF_SEGS_PER_INDIRECT_FRAME;
		for (unsigned k = 0; k < nind; k++) {
			struct pvio_blkif_request_segment *ip =
				pvio_hv_gfn_ptr(f->hv, q->ind_gfn[s * q->ind_per_slot + k]);
			unsigned first = k * PVIO_BLKIF_SEGS_PER_INDIRECT_FRAME;
			unsigned cnt = sh->nr_segs - first;

			if (cnt > PVIO_BLKIF_SEGS_PER_INDIRECT_FRAME)
				cnt = PVIO_BLKIF_SEGS_PER_INDIRECT_FRAME;
			for (unsigned j = 0; j < cnt; j++) {
				struct pvio_blkif_request_segment seg;

				memset(&seg, 0, sizeof(seg));
				seg.gref = sh->segs[first + j].gref;
				seg.first_sect = sh->segs[first + j].first;
				seg.last_sect = sh->segs[first + j].last;
				memcpy(&ip[j], &seg, sizeof(seg));
			}
		}
	}

	ind_ref = nind ? &q->ind_ref[s * q->ind_per_slot] : NULL;
	if (f->p.abi == PVIO_BLKIF_ABI_X86_32)
		put_slot_x86_32(pvio_blkif_x86_32_req_slot(&q->ring, 0), sh, id, handle, ind_ref,
				nind);
	else
		put_slot_native(pvio_blkif_req_slot(&q->ring, 0), sh, id, handle, ind_ref, nind);
	pvio_ring_produce_requests(&q->ring, 1);
	q->to_push++;
	q->st_reqs++;
	if (sh->op == PVIO_BLKIF_OP_INDIRECT)
		q->st_indirect++;
}

/*
 * Issue one ring request carrying the start of the range (*off, *len) of a
 * READ/WRITE. Returns 1 (and advances *off and *len), 0 if there is no room
 * (no free slot, or no grant ref while others are in flight), -errno.
 */
static int issue_data_part(struct bf_queue *q, struct pvio_blkfront_req *r, uint64_t *off,
			   uint64_t *len)
{
	struct pvio_blkfront *f = q->f;
	const struct bf_params *p = &f->p;
	uint8_t *base = (uint8_t *)r->buf + *off;
	bool wr = r->op == PVIO_BLKFRONT_WRITE;
	uint64_t got = 0, pos = 0;
	unsigned ns = 0;
	struct bf_shadow *sh;
	uint32_t s;

	if (q->free_head == BF_NONE)
		return 0;
	/* How much fits in seg_limit segments (one per page touched), cut
	 * down to whole sectors: the backend wants each request aligned. */
	while (got < *len && ns < p->seg_limit) {
		uint64_t o = (uintptr_t)(base + got) & (PAGE - 1);
		uint64_t c = PAGE - o;

		if (c > *len - got)
			c = *len - got;
		got += c;
		ns++;
	}
	if (got < *len)
		got -= got % p->sector_size;
	if (got == 0)
		return -EINVAL;   /* cannot happen after check_req() */

	s = shadow_get(q);
	sh = &q->sh[s];
	while (pos < got) {
		uint8_t *a = base + pos;
		uint64_t o = (uintptr_t)a & (PAGE - 1);
		uint64_t c = PAGE - o;
		struct bf_seg *sg = &sh->segs[sh->nr_segs];
		int ref;

		if (c > got - pos)
			c = got - pos;
		sg->gfn = (uint64_t)(a - f->mem) / PAGE;
		sg->pg = p->persistent ? pc_get(q, sg->gfn) : BF_NONE;
		if (sg->pg != BF_NONE) {
			sg->gref = q->pc.e[sg->pg].gref;
			q->nogrant_since = 0;
		} else {
			/* No persistent grant (or none to be had now: the cache
			 * is full of grants in use or still mapped by the
			 * backend): a one-off grant, revoked at completion. With
			 * persistent grants the backend may keep it mapped too
			 * (it maps them read-write, so it is granted so); its
			 * revoke is then deferred until the backend lets go,
			 * which a bounded, least-recently-used cache does as we
			 * go on. Never wait for the backend's idle purge instead:
			 * nothing would wake us when it happens. Without
			 * persistent grants the backend only reads the page of a
			 * WRITE. */
			ref = pvio_hv_grant(f->hv, f->be_domid, sg->gfn, wr && !p->persistent);
			if (ref < 0) {
				release_segs(q, sh);
				shadow_put(q, s);
				if (q->inflight)
					return 0;   /* refs come back with responses */
				if (p->persistent) {
					/* The grant table is full and nothing is in
					 * flight: the backend drops idle persistent
					 * grants on its own (blkback after 1 s, Linux
					 * on a timer), and pins of a backend that
					 * died are released by the hypervisor. Wait
					 * a little for that. */
					long long now = fe_now_ms();

					if (!q->nogrant_since)
						q->nogrant_since = now;
					if (now - q->nogrant_since < BF_NOGRANT_WAIT_MS) {
						q->st_grant_waits++;
						return 0;
					}
				}
				bf_log_peer(f, "queue %u: no grant reference left: %s (%llu held "
					    "by backends that never released them)", q->idx,
					    strerror(-ref),
					    (unsigned long long)__atomic_load_n(&f->st_leaked_refs,
										__ATOMIC_RELAXED));
				return ref;
			}
			sg->gref = (uint32_t)ref;
			if (p->persistent)
				q->st_pg_oneoff++;
		}
		sg->first = (uint8_t)(o / p->unit);
		sg->last = (uint8_t)((o + c) / p->unit - 1);
		sh->nr_segs++;
		pos += c;
	}
	sh->ureq = r;
	sh->part_off = *off;
	sh->part_len = got;
	sh->data_op = wr ? PVIO_BLKIF_OP_WRITE : PVIO_BLKIF_OP_READ;
	sh->op = sh->nr_segs > PVIO_BLKIF_MAX_SEGMENTS_PER_REQUEST ? PVIO_BLKIF_OP_INDIRECT
								   : sh->data_op;
	sh->sector = (r->offset + *off) / p->unit;
	sh->seq = q->seq++;
	put_request(q, s);
	r->_parts++;
	*off += got;
	*len -= got;
	return 1;
}

/* FLUSH or DISCARD: one ring request without data pages. 1 or 0 (no room). */
static int issue_ctrl(struct bf_queue *q, struct pvio_blkfront_req *r)
{
	const struct bf_params *p = &q->f->p;
	struct bf_shadow *sh;
	uint32_t s;

	if (q->free_head == BF_NONE)
		return 0;
	s = shadow_get(q);
	sh = &q->sh[s];
	sh->ureq = r;
	sh->part_off = 0;
	sh->part_len = r->len;
	if (r->op == PVIO_BLKFRONT_FLUSH) {
		sh->op = p->flush || !p->barrier ? PVIO_BLKIF_OP_FLUSH_DISKCACHE
						  : PVIO_BLKIF_OP_WRITE_BARRIER;
		sh->sector = 0;
	} else {
		sh->op = PVIO_BLKIF_OP_DISCARD;
		sh->sector = r->offset / p->unit;
		sh->nr_sectors = r->len / p->unit;
	}
	sh->data_op = sh->op;
	sh->seq = q->seq++;
	put_request(q, s);
	r->_parts++;
	return 1;
}

/* Issue [*off, *off + *len) of r: 1 all issued, 0 stopped for room, -errno. */
static int issue_range(struct bf_queue *q, struct pvio_blkfront_req *r, uint64_t *off,
		       uint64_t *len)
{
	if (!is_data_op(r->op))
		return issue_ctrl(q, r);
	while (*len) {
		int k = issue_data_part(q, r, off, len);

		if (k <= 0)
			return k;
	}
	return 1;
}

/* Issue what waits for room: parts to re-issue after a reconnection first
 * (they are older), then the remainders of accepted requests. */
static void issue_pending(struct bf_queue *q)
{
	if (q->state != BFQ_UP || __atomic_load_n(&q->lost, __ATOMIC_ACQUIRE))
		return;
	while (q->rq_n) {
		struct bf_requeue *it = &q->rq[q->rq_head];
		struct pvio_blkfront_req *r = it->ureq;
		uint64_t before = q->st_reqs;

		if (r->result == 0) {
			int k = issue_range(q, r, &it->off, &it->len);

			q->st_reissued += q->st_reqs - before;
			if (k == 0)
				break;
			if (k < 0)
				set_error(r, k);
		}
		q->rq_head++;
		q->rq_n--;
		r->_requeued--;
		maybe_complete(q, r);
	}
	if (q->rq_n == 0)
		q->rq_head = 0;
	while (q->bl_head) {
		struct pvio_blkfront_req *r = q->bl_head;

		if (r->result == 0) {
			uint64_t len = r->len - r->_off;
			int k = issue_range(q, r, &r->_off, &len);

			if (k == 0)
				break;
			if (k < 0)
				set_error(r, k);
		}
		q->bl_head = r->_next;
		if (!q->bl_head)
			q->bl_tail = NULL;
		r->_next = NULL;
		r->_issued = 1;
		maybe_complete(q, r);
	}
}

static void push(struct bf_queue *q)
{
	if (!q->to_push)
		return;
	q->to_push = 0;
	if (pvio_ring_push_requests(&q->ring)) {
		pvio_evtchn_notify(q->ch);
		q->st_notifies++;
	}
}

/* ------------------------------------------------------------ responses */

/* Consume every response on the ring. Returns how many, or -EPROTO after
 * disabling the device (backend nonsense). */
static int process_responses(struct bf_queue *q)
{
	struct pvio_blkfront *f = q->f;
	int total = 0;

	for (;;) {
		int n = pvio_ring_front_pending(&q->ring);

		if (n < 0) {
			char why[160];

			snprintf(why, sizeof(why), "queue %u: backend's rsp_prod %u overflows the "
				 "ring (rsp_cons %u, req_prod %u)", q->idx,
				 pvio_load_relaxed(&q->ring.sring->rsp_prod), q->ring.rsp_cons,
				 q->ring.req_prod_pvt);
			bf_disable(f, why);
			return -EPROTO;
		}
		if (n == 0)
			return total;
		while (n-- > 0) {
			uint64_t id;
			uint8_t op;
			int16_t st;
			uint32_t s;
			struct bf_shadow *sh;
			struct pvio_blkfront_req *r;
			char why[160];

			/* Copy the response out once, then look only at the copy. */
			if (f->p.abi == PVIO_BLKIF_ABI_X86_32) {
				struct pvio_blkif_x86_32_response rsp;

				pvio_blkif_x86_32_copy_response(&q->ring, &rsp);
				id = rsp.id;
				op = rsp.operation;
				st = rsp.status;
			} else {
				struct pvio_blkif_response rsp;

				pvio_blkif_copy_response(&q->ring, &rsp);
				id = rsp.id;
				op = rsp.operation;
				st = rsp.status;
			}
			s = (uint32_t)id;
			sh = s < q->nr_sh ? &q->sh[s] : NULL;
			if (!sh) {
				snprintf(why, sizeof(why), "queue %u: response with unknown id %#llx",
					 q->idx, (unsigned long long)id);
			} else if (!sh->busy || sh->gen != (uint32_t)(id >> 32)) {
				snprintf(why, sizeof(why), "queue %u: response id %#llx is not "
					 "outstanding (duplicate or stale)", q->idx,
					 (unsigned long long)id);
				sh = NULL;
			} else if (op != sh->op && !(sh->op == PVIO_BLKIF_OP_INDIRECT &&
						     op == sh->data_op)) {
				/* Linux blkback answers INDIRECT with its indirect_op;
				 * both are fine, nothing else is. */
				snprintf(why, sizeof(why), "queue %u: response id %#llx has "
					 "operation %u, the request was %u", q->idx,
					 (unsigned long long)id, op, sh->op);
				sh = NULL;
			}
			if (!sh) {
				bf_disable(f, why);
				return -EPROTO;
			}
			r = sh->ureq;
			release_segs(q, sh);
			if (st != PVIO_BLKIF_RSP_OKAY) {
				q->st_errors++;
				if (st == PVIO_BLKIF_RSP_EOPNOTSUPP) {
					set_error(r, -EOPNOTSUPP);
				} else {
					bf_log_peer(f, "queue %u: %s at sector %llu failed (status %d)",
						    q->idx, sh->op == PVIO_BLKIF_OP_READ ||
						    sh->data_op == PVIO_BLKIF_OP_READ ? "read" :
						    "request", (unsigned long long)sh->sector, st);
					set_error(r, -EIO);
				}
			}
			shadow_put(q, s);
			r->_parts--;
			maybe_complete(q, r);
			total++;
		}
	}
}

/*
 * Walk the queue forward: responses, waiting work, requests. Called with
 * q->lock held by submit, reap and the blocking helpers.
 *
 * NAPI-style: a caller that polls (arm false) keeps the event channel masked
 * and rsp_event where it is, so the backend's pushes cost it no notification
 * (not even the shared pending bit) and the poll makes no system call. Only
 * before sleeping on the queue's fd (arm true) does it take the event, ask
 * for the next response (final check) and unmask (late EOI).
 */
static void service(struct bf_queue *q, bool arm)
{
	struct pvio_blkfront *f = q->f;
	int k;

	fe_ctl_drain(&q->ctl_pending, q->ctl_fd, false);
	if (fe_dead(&f->fe) && q->state != BFQ_DEAD)
		bf_queue_down_locked(q, true);
	if (q->state != BFQ_UP)
		return;
	/* Only an arm takes the event (masking the port) and drains a stale
	 * wake-up: a poll leaves the port as it is, since another thread of
	 * the queue (a blocking helper) may be asleep on it, armed. With
	 * rsp_event left behind, the backend's pushes notify nobody anyway. */
	if (arm && pvio_evtchn_is_pending(q->ch))
		pvio_evtchn_consume(q->ch);
	else if (arm)
		fe_efd_drain(q->ev_fd);
	for (;;) {
		if (process_responses(q) < 0)
			goto broken;
		issue_pending(q);
		push(q);
		if (!arm)
			break;
		k = pvio_ring_front_final_check(&q->ring);
		if (k < 0) {
			bf_disable(f, "response producer index overflow");
			goto broken;
		}
		if (k == 0)
			break;
	}
	if (arm)
		pvio_evtchn_unmask(q->ch);
	if (!q->lost && pvio_evtchn_peer_state(q->ch) == PVIO_EVTCHN_CLOSED) {
		/* The backend closed its end (it stopped or died): the control
		 * thread tears the queues down and waits for a backend. */
		__atomic_store_n(&q->lost, 1, __ATOMIC_RELEASE);
		bf_log(f, "queue %u: the backend closed its event channel", q->idx);
		bf_kick(f);
	}
	if (__atomic_load_n(&f->def_n, __ATOMIC_RELAXED))
		bf_retry_deferred(f, 16);
	return;
broken:
	bf_queue_down_locked(q, true);
}

/* ------------------------------------------------------------ queue lifecycle */

int bf_queue_init(struct pvio_blkfront *f, unsigned idx)
{
	struct bf_queue *q = &f->q[idx];
	int r;

	memset(q, 0, sizeof(*q));
	q->f = f;
	pvio_pollwin_init(&q->pollwin, f->opts.poll_us * 1000u);
	q->idx = idx;
	q->state = BFQ_DOWN;
	q->ev_fd = -1;
	q->free_head = BF_NONE;
	q->pc.free_head = q->pc.lru_head = q->pc.lru_tail = BF_NONE;
	pthread_mutex_init(&q->lock, NULL);
	r = fe_queue_fds_init(&q->epfd, &q->ctl_fd, 1);
	if (r < 0)
		pthread_mutex_destroy(&q->lock);
	return r;
}

static void free_shadows(struct bf_queue *q)
{
	free(q->sh);
	free(q->segpool);
	free(q->ind_gfn);
	free(q->ind_ref);
	q->sh = NULL;
	q->segpool = NULL;
	q->ind_gfn = NULL;
	q->ind_ref = NULL;
	q->nr_sh = 0;
	q->free_head = BF_NONE;
}

void bf_queue_fini(struct bf_queue *q)
{
	free_shadows(q);
	free(q->rq);
	q->rq = NULL;
	pc_free(&q->pc);
	fe_queue_fds_fini(&q->epfd, &q->ctl_fd);
	pthread_mutex_destroy(&q->lock);
}

/* Give back the connection's resources: port, persistent grants, indirect
 * pages, ring pages. Grants the backend still holds are deferred (and
 * their pages with them), never reused. */
static void release_conn(struct bf_queue *q)
{
	struct pvio_blkfront *f = q->f;

	if (q->port) {
		if (q->ev_fd >= 0)
			epoll_ctl(q->epfd, EPOLL_CTL_DEL, q->ev_fd, NULL);
		pvio_hv_evtchn_close(f->hv, q->port);
		q->port = 0;
		q->ch = NULL;
		q->ev_fd = -1;
	}
	pc_flush(q);
	for (unsigned i = 0; i < q->ind_granted; i++)
		bf_revoke_or_defer(f, q->ind_ref[i], q->ind_gfn[i], true);
	q->ind_granted = 0;
	if (q->ring_alloc) {
		for (unsigned i = 0; i < q->ring_pages; i++) {
			if (i < q->ring_nref)
				bf_revoke_or_defer(f, q->ring_ref[i], q->ring_gfn + i, true);
			else
				pvio_hv_page_free(f->hv, q->ring_gfn + i, 1);
		}
		q->ring_alloc = false;
		q->ring_nref = 0;
	}
	memset(&q->ring, 0, sizeof(q->ring));
	q->to_push = 0;
}

int bf_queue_alloc(struct bf_queue *q)
{
	struct pvio_blkfront *f = q->f;
	const struct bf_params *p = &f->p;
	uint64_t ind_first = 0;
	unsigned ind_n;
	bool ind_run;
	void *sring;
	int r;

	pthread_mutex_lock(&q->lock);
	if (q->state != BFQ_DOWN) {
		r = q->state == BFQ_DEAD ? -ENODEV : -EBUSY;
		goto out;
	}
	release_conn(q);
	/* Shadows: none is busy while the queue is down. */
	if (q->nr_sh != p->nr_ents || q->seg_per_slot != p->seg_limit ||
	    q->ind_per_slot != p->ind_pages) {
		free_shadows(q);
		q->sh = calloc(p->nr_ents, sizeof(*q->sh));
		q->segpool = calloc((size_t)p->nr_ents * p->seg_limit, sizeof(*q->segpool));
		if (p->ind_pages) {
			q->ind_gfn = calloc((size_t)p->nr_ents * p->ind_pages, sizeof(*q->ind_gfn));
			q->ind_ref = calloc((size_t)p->nr_ents * p->ind_pages, sizeof(*q->ind_ref));
		}
		if (!q->sh || !q->segpool || (p->ind_pages && (!q->ind_gfn || !q->ind_ref))) {
			free_shadows(q);
			r = -ENOMEM;
			goto out;
		}
		q->nr_sh = p->nr_ents;
		q->seg_per_slot = p->seg_limit;
		q->ind_per_slot = p->ind_pages;
		for (uint32_t i = 0; i < q->nr_sh; i++)
			q->sh[i].segs = &q->segpool[(size_t)i * p->seg_limit];
	}
	q->free_head = BF_NONE;
	for (uint32_t i = q->nr_sh; i-- > 0;) {
		q->sh[i].busy = 0;
		q->sh[i].next_free = q->free_head;
		q->free_head = i;
	}
	q->inflight = 0;

	/* The ring: 2^order contiguous pages, granted read-write. */
	q->ring_pages = 1u << p->ring_order;
	r = pvio_hv_page_alloc(f->hv, q->ring_pages, &q->ring_gfn);
	if (r < 0)
		goto out;
	q->ring_alloc = true;
	sring = pvio_hv_gfn_ptr(f->hv, q->ring_gfn);
	memset(sring, 0, (size_t)q->ring_pages * PAGE);
	pvio_sring_init(sring);
	r = p->abi == PVIO_BLKIF_ABI_X86_32
		? pvio_blkif_x86_32_front_attach(&q->ring, sring, (size_t)q->ring_pages * PAGE)
		: pvio_blkif_front_attach(&q->ring, sring, (size_t)q->ring_pages * PAGE);
	if (r < 0 || q->ring.nr_ents != q->nr_sh) {
		r = -EINVAL;
		goto err;
	}
	for (unsigned i = 0; i < q->ring_pages; i++) {
		r = pvio_hv_grant(f->hv, f->be_domid, q->ring_gfn + i, false);
		if (r < 0)
			goto err;
		q->ring_ref[i] = (uint32_t)r;
		q->ring_nref++;
	}

	/* Indirect pages: per slot, granted read-only once for the connection
	 * (the backend copies the segment array out of them). One run of
	 * pages if the guest memory has one (one walk of the allocator), else
	 * page by page; each is revoked and freed on its own. */
	ind_n = q->nr_sh * q->ind_per_slot;
	ind_run = ind_n && pvio_hv_page_alloc(f->hv, ind_n, &ind_first) == 0;
	for (unsigned i = 0; i < ind_n; i++) {
		uint64_t gfn = ind_first + i;

		r = ind_run ? 0 : pvio_hv_page_alloc(f->hv, 1, &gfn);
		if (r < 0)
			goto err;
		memset(pvio_hv_gfn_ptr(f->hv, gfn), 0, PAGE);
		r = pvio_hv_grant(f->hv, f->be_domid, gfn, true);
		if (r < 0) {
			/* This page (and the rest of the run, never granted). */
			pvio_hv_page_free(f->hv, gfn, ind_run ? ind_n - i : 1);
			goto err;
		}
		q->ind_gfn[i] = gfn;
		q->ind_ref[i] = (uint32_t)r;
		q->ind_granted++;
	}

	if (p->persistent) {
		r = pc_init(&q->pc, BF_PGRANT_MAX);
		if (r < 0)
			goto err;
	}

	r = pvio_hv_evtchn_alloc_unbound(f->hv, f->be_domid, &q->port);
	if (r < 0) {
		q->port = 0;
		goto err;
	}
	q->ch = pvio_hv_evtchn_handle(f->hv, q->port);
	q->ev_fd = pvio_hv_evtchn_fd(f->hv, q->port);
	if (!q->ch || q->ev_fd < 0) {
		r = -EINVAL;
		goto err;
	}
	r = 0;
	goto out;
err:
	bf_log(f, "queue %u: setting up the ring failed: %s", q->idx, strerror(-r));
	release_conn(q);
out:
	pthread_mutex_unlock(&q->lock);
	return r;
}

void bf_queue_up(struct bf_queue *q)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = 0 };

	pthread_mutex_lock(&q->lock);
	if (q->state == BFQ_DOWN && q->ring_alloc && q->port) {
		if (epoll_ctl(q->epfd, EPOLL_CTL_ADD, q->ev_fd, &ev) < 0)
			bf_log(q->f, "queue %u: epoll: %s", q->idx, strerror(errno));
		__atomic_store_n(&q->lost, 0, __ATOMIC_RELEASE);
		q->state = BFQ_UP;
		issue_pending(q);
		push(q);
	}
	pthread_mutex_unlock(&q->lock);
	bf_wake_queue(q);
}

static void requeue_add(struct bf_queue *q, struct pvio_blkfront_req *r, uint64_t off,
			uint64_t len, uint32_t seq)
{
	struct bf_requeue *it = &q->rq[q->rq_head + q->rq_n++];

	it->ureq = r;
	it->off = off;
	it->len = len;
	it->seq = seq;
	r->_requeued++;
}

void bf_queue_down_locked(struct bf_queue *q, bool fail)
{
	struct pvio_blkfront *f = q->f;

	if (q->state == BFQ_DEAD)
		return;
	/* Responses the backend produced before it went: take them (they
	 * are real completions) -- unless we are failing everything, or the
	 * backend already showed it is not to be trusted. */
	if (!fail && fe_dead(&f->fe))
		fail = true;
	if (!fail && q->state == BFQ_UP && process_responses(q) < 0)
		fail = true;
	if (!fail && q->inflight) {
		/* Keep every unanswered part for re-issue, oldest first. */
		uint32_t need = q->rq_head + q->rq_n + q->inflight;

		if (need > q->rq_cap) {
			struct bf_requeue *n = realloc(q->rq, sizeof(*n) * need);

			if (!n) {
				bf_log(f, "queue %u: no memory to keep requests for re-issue",
				       q->idx);
				bf_disable(f, "out of memory during a reconnection");
				fail = true;
			} else {
				q->rq = n;
				q->rq_cap = need;
			}
		}
	}
	if (!fail && q->inflight) {
		uint32_t first = q->rq_head + q->rq_n, n;

		for (uint32_t s = 0; s < q->nr_sh; s++) {
			struct bf_shadow *sh = &q->sh[s];

			if (!sh->busy)
				continue;
			release_segs(q, sh);
			requeue_add(q, sh->ureq, sh->part_off, sh->part_len, sh->seq);
			sh->ureq->_parts--;
			shadow_put(q, s);
		}
		/* Re-issue in the order they were first issued (a FLUSH stays
		 * behind the writes that went before it). */
		n = q->rq_head + q->rq_n;
		for (uint32_t i = first + 1; i < n; i++) {
			struct bf_requeue t = q->rq[i];
			uint32_t j = i;

			while (j > first && (int32_t)(q->rq[j - 1].seq - t.seq) > 0) {
				q->rq[j] = q->rq[j - 1];
				j--;
			}
			q->rq[j] = t;
		}
	}
	if (fail) {
		for (uint32_t s = 0; s < q->nr_sh; s++) {
			struct bf_shadow *sh = &q->sh[s];
			struct pvio_blkfront_req *r;

			if (!sh->busy)
				continue;
			r = sh->ureq;
			release_segs(q, sh);
			shadow_put(q, s);
			r->_parts--;
			set_error(r, -ENODEV);
			maybe_complete(q, r);
		}
		while (q->rq_n) {
			struct pvio_blkfront_req *r = q->rq[q->rq_head++].ureq;

			q->rq_n--;
			r->_requeued--;
			set_error(r, -ENODEV);
			maybe_complete(q, r);
		}
		q->rq_head = 0;
		while (q->bl_head) {
			struct pvio_blkfront_req *r = q->bl_head;

			q->bl_head = r->_next;
			r->_next = NULL;
			r->_issued = 1;
			set_error(r, -ENODEV);
			maybe_complete(q, r);
		}
		q->bl_tail = NULL;
	}
	release_conn(q);
	q->state = fail ? BFQ_DEAD : BFQ_DOWN;
}

void bf_queue_down(struct bf_queue *q, bool fail)
{
	pthread_mutex_lock(&q->lock);
	bf_queue_down_locked(q, fail);
	pthread_mutex_unlock(&q->lock);
	bf_wake_queue(q);
}

/* ------------------------------------------------------------ submit / reap */

/* Whether [a, a+len) lies in pages of our memory that are allocated: the
 * backend reaches a buffer through grants of its pages, and a page nobody
 * allocated (or one freed) may be handed out as a ring or somebody else's
 * buffer while the grant lives on. */
static bool buf_in_memory(struct pvio_blkfront *f, uintptr_t a, uint64_t len)
{
	uintptr_t m = (uintptr_t)f->mem;
	uint64_t first, last;

	if (a < m || a - m > f->mem_bytes || len > f->mem_bytes - (a - m))
		return false;
	if (len == 0)
		return true;
	first = (a - m) / PAGE;
	last = (a - m + len - 1) / PAGE;
	return pvio_hv_pages_allocated(f->hv, first, last - first + 1);
}

static int check_req(struct pvio_blkfront *f, const struct pvio_blkfront_req *r)
{
	const struct bf_params *p = &f->p;
	uintptr_t a;

	switch (r->op) {
	case PVIO_BLKFRONT_FLUSH:
		return 0;
	case PVIO_BLKFRONT_WRITE:
	case PVIO_BLKFRONT_DISCARD:
		if (p->readonly)
			return -EROFS;
		break;
	case PVIO_BLKFRONT_READ:
		break;
	default:
		return -EINVAL;
	}
	if ((r->offset | r->len) & (p->sector_size - 1))
		return -EINVAL;
	if (r->offset > p->size_bytes || r->len > p->size_bytes - r->offset)
		return -EINVAL;
	if (r->op == PVIO_BLKFRONT_DISCARD || r->len == 0)
		return 0;
	/* The backend reaches the buffer through grants of our own pages,
	 * in units of protocol sectors. */
	a = (uintptr_t)r->buf;
	if (a & (p->unit - 1))
		return -EINVAL;
	if (!buf_in_memory(f, a, r->len))
		return -EINVAL;
	return 0;
}

static int submit_locked(struct bf_queue *q, struct pvio_blkfront_req **reqs, unsigned n,
			 bool sync)
{
	struct pvio_blkfront *f = q->f;
	const struct bf_params *p = &f->p;
	int accepted = 0, ret = 0;

	if (fe_dead(&f->fe) && q->state != BFQ_DEAD)
		bf_queue_down_locked(q, true);
	if (q->state == BFQ_DEAD)
		return -ENODEV;
	if (q->state != BFQ_UP || __atomic_load_n(&q->lost, __ATOMIC_ACQUIRE)) {
		/* Reconnecting: the caller reaps (waits) and retries. The reap
		 * returns once the queue is back, even with nothing in flight
		 * to complete. */
		if (n)
			q->refused = true;
		return 0;
	}
	issue_pending(q);
	for (unsigned i = 0; i < n; i++) {
		struct pvio_blkfront_req *r = reqs[i];
		uint64_t len;
		int k;

		if (!r) {
			if (i == 0)
				ret = -EINVAL;
			break;
		}
		/* Older work first; and one free slot at least. */
		if (q->rq_n || q->bl_head || q->free_head == BF_NONE)
			break;
		k = check_req(f, r);
		if (k) {
			if (i == 0)
				ret = k;
			break;
		}
		r->result = 0;
		r->_next = NULL;
		r->_off = 0;
		r->_parts = 0;
		r->_requeued = 0;
		r->_issued = 0;
		r->_sync = sync;
		r->_state = BFR_ACTIVE;
		accepted++;
		if ((r->op == PVIO_BLKFRONT_FLUSH && !p->flush && !p->barrier) ||
		    (r->op == PVIO_BLKFRONT_DISCARD && !p->discard)) {
			r->result = -EOPNOTSUPP;
			r->_issued = 1;
			maybe_complete(q, r);
			continue;
		}
		if (r->op != PVIO_BLKFRONT_FLUSH && r->len == 0) {
			r->_issued = 1;
			maybe_complete(q, r);
			continue;
		}
		len = r->len;
		k = issue_range(q, r, &r->_off, &len);
		if (k < 0) {
			set_error(r, k);
			r->_issued = 1;
			maybe_complete(q, r);
		} else if (k == 0) {
			/* Accepted; the rest goes out as responses free slots. */
			if (q->bl_tail)
				q->bl_tail->_next = r;
			else
				q->bl_head = r;
			q->bl_tail = r;
		} else {
			r->_issued = 1;
		}
	}
	push(q);
	return ret < 0 ? ret : accepted;
}

PVIO_EXPORT int pvio_blkfront_submit(struct pvio_blkfront *f, unsigned queue,
				     struct pvio_blkfront_req **reqs, unsigned n)
{
	struct bf_queue *q;
	int ret;

	if (!f || queue >= f->nr_queues || (n && !reqs))
		return -EINVAL;
	q = &f->q[queue];
	pthread_mutex_lock(&q->lock);
	ret = submit_locked(q, reqs, n, false);
	pthread_mutex_unlock(&q->lock);
	return ret;
}

static void wait_fd(int fd, int timeout_ms)
{
	struct pollfd pf = { .fd = fd, .events = POLLIN };

	if (poll(&pf, 1, timeout_ms) < 0) {
		/* EINTR: the caller loops */
	}
}

/* pvio_pollwin_lost_cpu's count, per reaping thread. */
static __thread long reap_nivcsw = -1;

PVIO_EXPORT int pvio_blkfront_reap(struct pvio_blkfront *f, unsigned queue,
				   struct pvio_blkfront_req **done, unsigned max,
				   int timeout_ms)
{
	long long deadline = 0;
	struct bf_queue *q;
	uint64_t t0 = 0, wstart = 0;
	bool arm = false, slept = false, early = false;

	if (!f || queue >= f->nr_queues || (max && !done))
		return -EINVAL;
	q = &f->q[queue];
	if (timeout_ms > 0)
		deadline = fe_now_ms() + timeout_ms;
	for (;;) {
		unsigned k = 0;
		bool dead, back;
		int left = -1;

		pthread_mutex_lock(&q->lock);
		service(q, arm);
		while (k < max && q->done_head) {
			struct pvio_blkfront_req *r = q->done_head;

			q->done_head = r->_next;
			if (!q->done_head)
				q->done_tail = NULL;
			r->_next = NULL;
			r->_state = BFR_IDLE;
			done[k++] = r;
		}
		dead = q->state == BFQ_DEAD;
		/* Back from a reconnection that refused a submit: the caller
		 * has something to submit again, and maybe nothing in flight
		 * that would end its wait. */
		back = q->refused && q->state == BFQ_UP &&
		       !__atomic_load_n(&q->lost, __ATOMIC_ACQUIRE);
		if (back)
			q->refused = false;
		pthread_mutex_unlock(&q->lock);
		if (k) {
			if (wstart)
				pvio_hybrid_sample(&q->hybrid, mono_ns() - wstart, early);
			if (early)
				pvio_pollwin_update(&q->pollwin, true, 0);
			return (int)k;
		}
		early = false;
		if (dead)
			return -ENODEV;
		if (back)
			return 0;
		if (!arm && (timeout_ms == 0 || max == 0)) {
			/* Nothing: arm, so that the fd (pvio_blkfront_fd) wakes
			 * a caller that sleeps on it now. */
			arm = true;
			continue;
		}
		if (timeout_ms == 0 || max == 0)
			return 0;
		if (timeout_ms > 0) {
			long long l = deadline - fe_now_ms();

			if (l <= 0) {
				if (arm)
					return 0;
				arm = true;   /* leave the fd armed, as above */
				continue;
			}
			left = (int)l;
		}
		if (arm) {
			/* Sleep on the queue's epoll fd: the event channel
			 * (unmasked by the arm) and the control thread's
			 * wake-ups. */
			wait_fd(q->epfd, left);
			__atomic_fetch_add(&q->st_event_sleeps, 1, __ATOMIC_RELAXED);
			if (t0)
				pvio_pollwin_update(&q->pollwin, false, mono_ns() - t0);
			t0 = 0;
			arm = false;
			continue;
		}
		/* Adaptive polling: with requests in flight, watch the ring for
		 * a while before paying for a sleep and a wake-up (the window
		 * adapts: evtchn/pollwin.h). The shared index is only peeked
		 * at here; service() validates it. */
		{
			struct pvio_sring *sr = NULL;
			uint32_t cons = 0, spin_ns = 0;
			uint64_t now;
			bool seen = false;

			pthread_mutex_lock(&q->lock);
			if (q->state == BFQ_UP && q->inflight) {
				sr = q->ring.sring;
				cons = q->ring.rsp_cons;
				spin_ns = q->pollwin.cur_ns;
			}
			pthread_mutex_unlock(&q->lock);
			if (sr && q->pollwin.max_ns) {
				uint64_t prev;

				now = mono_ns();
				if (!wstart)
					wstart = now;
				if (!slept && pvio_hybrid_use(&q->hybrid, &q->pollwin)) {
					/* A long wait: a timer for half of it, no
					 * event asked for; then spin, up to twice
					 * the estimate (pvio_hybrid_spin_ns). */
					uint64_t ns = pvio_hybrid_sleep_ns(&q->hybrid, now - wstart);

					slept = true;
					if (ns && pvio_hybrid_sleep(ns) == 0) {
						__atomic_fetch_add(&q->st_timer_sleeps, 1,
								   __ATOMIC_RELAXED);
						early = true;   /* if the next look finds it */
						continue;
					}
				}
				if (slept)
					spin_ns = pvio_hybrid_spin_ns(&q->hybrid, &q->pollwin);
				t0 = prev = now;
				while (now - t0 < spin_ns) {
					/* Pairs with the backend's release of rsp_prod. */
					if (pvio_load_acquire(&sr->rsp_prod) != cons) {
						seen = true;
						break;
					}
					pvio_pollwin_pause(now - t0);
					now = mono_ns();
					if (pvio_pollwin_lost_cpu(&reap_nivcsw, prev, now)) {
						pvio_pollwin_lost(&q->pollwin);
						t0 = 0;
						break;
					}
					prev = now;
				}
				if (seen) {
					pvio_pollwin_update(&q->pollwin, true, 0);
					t0 = 0;
					continue;
				}
			}
			arm = true;
		}
	}
}

PVIO_EXPORT int pvio_blkfront_fd(struct pvio_blkfront *f, unsigned queue)
{
	if (!f || queue >= f->nr_queues)
		return -EINVAL;
	return f->q[queue].epfd;
}

/* ------------------------------------------------------------ buffers */

PVIO_EXPORT void *pvio_blkfront_buf_alloc(struct pvio_blkfront *f, size_t bytes)
{
	uint64_t gfn, np = bytes ? (bytes + PAGE - 1) / PAGE : 1;
	void *p;

	if (!f || np > UINT32_MAX)
		return NULL;
	if (pvio_hv_page_alloc(f->hv, (unsigned)np, &gfn) < 0)
		return NULL;
	p = pvio_hv_gfn_ptr(f->hv, gfn);
	memset(p, 0, np * PAGE);
	return p;
}

PVIO_EXPORT void pvio_blkfront_buf_free(struct pvio_blkfront *f, void *buf, size_t bytes)
{
	uint64_t np = bytes ? (bytes + PAGE - 1) / PAGE : 1;
	int64_t gfn;
	unsigned kept = 0;

	if (!f || !buf)
		return;
	gfn = pvio_hv_ptr_gfn(f->hv, buf);
	if (gfn < 0)
		return;
	for (uint64_t i = 0; i < np; i++) {
		bool busy = false, deferred = false;

		/* A persistent grant on the page must go before the page can be
		 * handed out again (it may come back as a ring or someone
		 * else's buffer). */
		for (unsigned k = 0; k < f->nr_queues; k++) {
			struct bf_queue *q = &f->q[k];
			int r;

			pthread_mutex_lock(&q->lock);
			r = pc_forget(q, (uint64_t)gfn + i);
			if (r == 0 && oneoff_in_flight(q, (uint64_t)gfn + i))
				r = -EBUSY;
			pthread_mutex_unlock(&q->lock);
			busy |= r < 0;
			deferred |= r > 0;
		}
		if (busy) {
			kept++;
			continue;
		}
		/* The backend keeps a grant of the page mapped -- its persistent
		 * cache does until the disconnect, and a one-off grant whose
		 * revoke failed after its response waits on the deferred list
		 * too: the page waits with the grant and is freed when the
		 * revoke succeeds, at the latest once the backend closed. */
		if (def_adopt_page(f, (uint64_t)gfn + i))
			continue;
		if (deferred)
			kept++;   /* no room on the deferred list: never reused */
		else
			pvio_hv_page_free(f->hv, (uint64_t)gfn + i, 1);
	}
	if (kept) {
		/* A grant still in use by a request in flight (the caller freed
		 * a buffer under I/O), or no room to defer: never reused. */
		pthread_mutex_lock(&f->def_lock);
		f->st_leaked_pages += kept;
		pthread_mutex_unlock(&f->def_lock);
		bf_log(f, "buf_free: %u page(s) still in use by requests in flight: never reused",
		       kept);
	}
}

/* ------------------------------------------------------------ blocking helpers */

/* One request on queue 0, waited for without taking anyone else's
 * completions (reap never returns a _sync request). */
static int sync_io(struct pvio_blkfront *f, uint8_t op, uint64_t off, void *buf, uint64_t len)
{
	struct bf_queue *q = &f->q[0];
	struct pvio_blkfront_req r;
	struct pvio_blkfront_req *rp = &r;
	struct pollfd pf[2] = {
		{ .fd = q->epfd, .events = POLLIN },
		{ .fd = f->sync_fd, .events = POLLIN },
	};
	bool submitted = false;

	memset(&r, 0, sizeof(r));
	r.op = op;
	r.offset = off;
	r.buf = buf;
	r.len = len;
	for (;;) {
		pthread_mutex_lock(&q->lock);
		service(q, true);
		if (!submitted) {
			int k = submit_locked(q, &rp, 1, true);

			if (k < 0) {
				pthread_mutex_unlock(&q->lock);
				return k;
			}
			submitted = k == 1;
		}
		if (submitted && r._state == BFR_DONE) {
			pthread_mutex_unlock(&q->lock);
			return r.result;
		}
		pthread_mutex_unlock(&q->lock);
		/* r lives on this stack until it is done: never return early. */
		if (poll(pf, 2, -1) > 0 && pf[1].revents)
			fe_efd_drain(f->sync_fd);
	}
}

static uint32_t cur_unit(struct pvio_blkfront *f)
{
	uint32_t u;

	pthread_mutex_lock(&f->info_lock);
	u = f->p.unit;
	pthread_mutex_unlock(&f->info_lock);
	return u ? u : 512;
}

static int rw_sync(struct pvio_blkfront *f, uint8_t op, uint64_t off, void *buf, size_t len)
{
	uintptr_t a = (uintptr_t)buf;
	size_t chunk = 1u << 20, done = 0;
	void *b;
	int r = 0;

	if (!f || (len && !buf))
		return -EINVAL;
	pthread_mutex_lock(&f->sync_lock);
	if (len == 0 || (buf_in_memory(f, a, len) && !(a & (cur_unit(f) - 1)))) {
		r = sync_io(f, op, off, buf, len);
		goto out;
	}
	/* Not in guest memory (or misaligned): bounce, through one buffer
	 * kept for the device's life (its pages stay persistently granted;
	 * freeing them after each call would leave them to the backend's
	 * cache until the disconnect). Grown up to 1 MiB as needed. */
	while (chunk > PAGE && chunk / 2 >= len)
		chunk /= 2;
	if (f->bounce_len < chunk) {
		while (!(b = pvio_blkfront_buf_alloc(f, chunk)) && chunk > PAGE)
			chunk /= 2;
		if (b && chunk > f->bounce_len) {
			pvio_blkfront_buf_free(f, f->bounce, f->bounce_len);
			f->bounce = b;
			f->bounce_len = chunk;
		} else if (b) {
			pvio_blkfront_buf_free(f, b, chunk);
		}
	}
	b = f->bounce;
	chunk = f->bounce_len;
	if (!b) {
		r = -ENOMEM;
		goto out;
	}
	while (done < len) {
		size_t c = len - done < chunk ? len - done : chunk;

		if (op == PVIO_BLKFRONT_WRITE)
			memcpy(b, (uint8_t *)buf + done, c);
		r = sync_io(f, op, off + done, b, c);
		if (r)
			break;
		if (op == PVIO_BLKFRONT_READ)
			memcpy((uint8_t *)buf + done, b, c);
		done += c;
	}
out:
	pthread_mutex_unlock(&f->sync_lock);
	return r;
}

PVIO_EXPORT int pvio_blkfront_read(struct pvio_blkfront *f, uint64_t offset, void *buf,
				   size_t len)
{
	return rw_sync(f, PVIO_BLKFRONT_READ, offset, buf, len);
}

PVIO_EXPORT int pvio_blkfront_write(struct pvio_blkfront *f, uint64_t offset, const void *buf,
				    size_t len)
{
	return rw_sync(f, PVIO_BLKFRONT_WRITE, offset, (void *)buf, len);
}

PVIO_EXPORT int pvio_blkfront_flush(struct pvio_blkfront *f)
{
	int r;

	if (!f)
		return -EINVAL;
	pthread_mutex_lock(&f->sync_lock);
	r = sync_io(f, PVIO_BLKFRONT_FLUSH, 0, NULL, 0);
	pthread_mutex_unlock(&f->sync_lock);
	return r;
}

PVIO_EXPORT int pvio_blkfront_discard(struct pvio_blkfront *f, uint64_t offset, uint64_t len)
{
	int r;

	if (!f)
		return -EINVAL;
	pthread_mutex_lock(&f->sync_lock);
	r = sync_io(f, PVIO_BLKFRONT_DISCARD, offset, NULL, len);
	pthread_mutex_unlock(&f->sync_lock);
	return r;
}

/* ------------------------------------------------------------ info */

PVIO_EXPORT int pvio_blkfront_get_info(struct pvio_blkfront *f, struct pvio_blkfront_info *info)
{
	const struct bf_params *p;

	if (!f || !info)
		return -EINVAL;
	memset(info, 0, sizeof(*info));
	pthread_mutex_lock(&f->info_lock);
	p = &f->p;
	info->sectors = p->sectors;
	info->sector_size = p->sector_size;
	info->size_bytes = p->size_bytes;
	info->readonly = p->readonly;
	info->flush = p->flush;
	info->barrier = p->barrier;
	info->discard = p->discard;
	info->persistent = p->persistent;
	info->nr_queues = p->nr_queues;
	info->ring_order = p->ring_order;
	info->max_segs = p->seg_limit;
	info->discard_granularity = p->discard_gran;
	info->discard_alignment = p->discard_align;
	snprintf(info->protocol, sizeof(info->protocol), "%s", f->protocol);
	pthread_mutex_unlock(&f->info_lock);
	return 0;
}

PVIO_EXPORT int pvio_blkfront_get_stats(struct pvio_blkfront *f, struct pvio_blkfront_stats *s)
{
	if (!f || !s)
		return -EINVAL;
	memset(s, 0, sizeof(*s));
	for (unsigned i = 0; i < f->nr_queues; i++) {
		struct bf_queue *q = &f->q[i];

		pthread_mutex_lock(&q->lock);
		s->requests += q->st_reqs;
		s->indirect += q->st_indirect;
		s->notifies += q->st_notifies;
		s->errors += q->st_errors;
		s->pgrant_hits += q->st_pg_hits;
		s->pgrant_misses += q->st_pg_misses;
		s->pgrant_evictions += q->st_pg_evict;
		s->pgrant_oneoff += q->st_pg_oneoff;
		s->grant_waits += q->st_grant_waits;
		s->reissued += q->st_reissued;
		s->event_sleeps += __atomic_load_n(&q->st_event_sleeps, __ATOMIC_RELAXED);
		s->timer_sleeps += __atomic_load_n(&q->st_timer_sleeps, __ATOMIC_RELAXED);
		pthread_mutex_unlock(&q->lock);
	}
	/* Refs the backend let go of since their last retry are not held:
	 * one pass over the list first, so the count is what is held now. */
	if (__atomic_load_n(&f->def_n, __ATOMIC_RELAXED))
		bf_retry_deferred(f, 0);
	pthread_mutex_lock(&f->def_lock);
	s->leaked_refs = f->st_leaked_refs;
	s->leaked_pages = f->st_leaked_pages;
	s->deferred_now = f->def_n;
	pthread_mutex_unlock(&f->def_lock);
	s->reconnects = __atomic_load_n(&f->st_reconnects, __ATOMIC_RELAXED);
	s->state_unreadable = __atomic_load_n(&f->fe.be_state_unreadable, __ATOMIC_RELAXED);
	s->disabled = fe_dead(&f->fe);
	return 0;
}
