/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for the frontends facing a hostile backend: blkfront's
 * reap path and netfront's tx/rx response paths, driven through their
 * public calls (pvio_blkfront_submit/reap/buf_alloc/buf_free,
 * pvio_netfront_send_burst/send_fill/recv_burst/poll, their _zc variants,
 * arm) while
 * the harness plays the backend on the shared rings: it reads the requests
 * the frontend published (resolving grant refs through the guest's grant
 * table, as a backend does) and writes whatever responses and producer
 * indexes the input says.
 *
 * The first input byte picks the driver, the second a configuration (ring
 * order, x86_32 layout, persistent grants, indirect segments, sector size,
 * read-only; split event channels, sg/GSO), then a stream of commands:
 * submit/send, a response (mostly right, each lie a byte flip away: stale
 * generation, unknown slot, duplicate, wrong operation, bad status, id not
 * in flight, NULL for a data slot, offset or size past the page, too many
 * slots or extras), raw slot bytes, rsp_prod published exactly, off by
 * some, or anything, reap/recv/poll/arm, a reconnection (the backend goes
 * away, requests are issued again on fresh rings), grants the backend maps
 * and keeps (XSA-396), an application buffer freed and taken again, ring
 * header scribbles.
 *
 * A model of the protocol, written from the wire rules and not from the
 * drivers, predicts each call: which responses are valid (blkif: the id of
 * a request outstanding on the ring and its operation; netif rx: the id
 * posted in that slot, data inside the page, at most 18 (19) slots and 4
 * extras a frame; netif tx: an id in flight, a known status; rsp_prod not
 * beyond the requests published) and so whether the call must disable the
 * device or must not, how far the frontend consumes, what each completed
 * request's result is, and each received frame (length, flags, GSO, slots,
 * bytes; zero-copy pieces in place). Besides: every request completes
 * exactly once, never while one of its ring requests is outstanding, and
 * with all its bytes carried by answered ring requests (sectors, pages and
 * grant modes checked as the backend reads them); no tx id or rx buffer is
 * handed out twice; nothing is written past a receive buffer's cap; a ref
 * the backend holds keeps its page, which stays allocated; and at the end
 * of each input every grant and page of the guest is one a live device
 * accounts for.
 *
 * The devices are built once (static, without the store: bf_dev_new /
 * nf_dev_new, queues brought up by hand) on an in-process hypervisor
 * (hv_local). Each input starts from an idle queue (blkfront's ring indexes
 * placed anywhere, wrap-around included); one the input disabled is brought
 * back at its end. netfront has no control ring (it does not use
 * feature-ctrl-ring), so there are no ctrl responses to fuzz.
 *
 * What an execution costs is mostly the hypervisor calls of bringing rings
 * up and down (a disabled device's teardown, its revival, reconnections)
 * and a grant, check and revoke per page of a block request: an input
 * reconnects at most twice (later reconnections do nothing), most block
 * requests carry at most 16 KiB, and module.mk builds this file without
 * comparison tracing (-fno-sanitize-coverage=trace-cmp: the model's own
 * comparisons guide no mutation; the product's are still traced).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/blkfront_internal.h"
#include "frontend/netfront_internal.h"
#include "hv/hv.h"
#include "hv/hv_internal.h"   /* the guest's grant table and page bitmap */
#include "ring/pvio_atomic.h"

#define ASSERT(c) do { if (!(c)) __builtin_trap(); } while (0)
#define PAGE PVIO_PAGE_SIZE

/* ------------------------------------------------------------ input */

struct in {
	const uint8_t *p;
	size_t n;
};

static uint8_t g8(struct in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static uint16_t g16(struct in *in)
{
	uint16_t lo = g8(in);

	return (uint16_t)(lo | (uint16_t)g8(in) << 8);
}

static uint32_t g32(struct in *in)
{
	uint32_t lo = g16(in);

	return lo | (uint32_t)g16(in) << 16;
}

static uint64_t g64(struct in *in)
{
	uint64_t lo = g32(in);

	return lo | (uint64_t)g32(in) << 32;
}

/* Bytes that tell their place: any shift of a run of them is another run. */
static uint8_t pat[PVIO_NETFRONT_MAX_FRAME + 1 + 512];
/* What follows a receive buffer's cap, to be found there after the call. */
static uint8_t canary[64];

static void pat_init(void)
{
	for (size_t j = 0; j < sizeof(pat); j++)
		pat[j] = (uint8_t)(j * 7u + (j >> 8) * 3u + 1u);
}

/* ------------------------------------------------------------ the world */

#define GUEST_MEM (16u << 20)
#define BE_DOMID  0

static struct pvio_hv_world *world;
static struct pvio_hv *dom0, *guest;
static uint16_t gdom;

static void world_up(void)
{
	if (guest)
		return;
	pat_init();
	memset(canary, 0xa5, sizeof(canary));
	ASSERT(pvio_hv_world_create(&world) == 0);
	ASSERT(pvio_hv_local_open(world, BE_DOMID, &dom0) == 0);
	ASSERT(pvio_hv_domain_create(dom0, "fuzz", GUEST_MEM, &gdom) == 0);
	ASSERT(pvio_hv_local_open(world, gdom, &guest) == 0);
}

/* A grant of the guest to the backend, as the backend resolves it: the
 * page it names, or NULL if the entry grants the backend nothing. */
static uint8_t *grant_page(uint32_t ref, bool *readonly)
{
	struct pvio_grant_entry_v1 e;

	if (ref < PVIO_GNTTAB_NR_RESERVED_ENTRIES || ref >= guest->fe.nr_entries)
		return NULL;
	memcpy(&e, &guest->fe.table[ref], sizeof(e));
	if ((e.flags & PVIO_GTF_type_mask) != PVIO_GTF_permit_access || e.domid != BE_DOMID)
		return NULL;
	*readonly = (e.flags & PVIO_GTF_readonly) != 0;
	/* pvio_hv_gfn_ptr(), without a call per segment checked */
	return e.frame < guest->nr_pages ? (uint8_t *)guest->mem + (size_t)e.frame * PAGE : NULL;
}

static bool guest_page_used(uint64_t gfn)
{
	return gfn < guest->nr_pages && (guest->page_bitmap[gfn / 64] >> (gfn % 64) & 1);
}

/*
 * A backend that keeps grants mapped (XSA-396): it maps refs it has seen
 * (rings, buffers, segments) and lets go only at the end of the input.
 * Meanwhile the frontend's revokes of them fail: it must keep each such ref
 * (never grant it again) and its page (never hand it out again).
 */
#define HELD_MAX  4
#define KNOWN_MAX 16

static struct pvio_gnt_map_op held[HELD_MAX];
static bool held_on[HELD_MAX];
static unsigned nheld;               /* of held_on[] set */
static uint32_t known[KNOWN_MAX];
static unsigned nknown;

static void know_ref(uint32_t ref)
{
	known[nknown++ % KNOWN_MAX] = ref;
}

static void held_cmd(struct in *in)
{
	unsigned i = g8(in) % HELD_MAX;
	uint8_t pick = g8(in);

	if (held_on[i]) {
		ASSERT(pvio_hv_unmap(dom0, gdom, &held[i], 1) == 1);
		held_on[i] = false;
		nheld--;
		return;
	}
	if (!nknown)
		return;
	memset(&held[i], 0, sizeof(held[i]));
	held[i].ref = known[pick % (nknown < KNOWN_MAX ? nknown : KNOWN_MAX)];
	held[i].flags = PVIO_GNTMAP_readonly;
	pvio_hv_map(dom0, gdom, &held[i], 1);
	held_on[i] = held[i].status == PVIO_GNTST_okay;
	nheld += held_on[i];
}

/* A held ref still grants the page it granted when mapped, and that page
 * is still allocated. */
static void held_check(void)
{
	for (unsigned i = 0; nheld && i < HELD_MAX; i++) {
		struct pvio_grant_entry_v1 e;

		if (!held_on[i])
			continue;
		memcpy(&e, &guest->fe.table[held[i].ref], sizeof(e));
		ASSERT((e.flags & PVIO_GTF_type_mask) == PVIO_GTF_permit_access);
		ASSERT(e.domid == BE_DOMID && e.frame == held[i].frame);
		ASSERT(guest_page_used(held[i].frame));
	}
}

static void held_release(void)
{
	held_check();
	for (unsigned i = 0; i < HELD_MAX; i++) {
		if (held_on[i])
			ASSERT(pvio_hv_unmap(dom0, gdom, &held[i], 1) == 1);
		held_on[i] = false;
	}
	nheld = 0;
	nknown = 0;
}

static unsigned guest_grants_used(void)
{
	return guest->fe.nr_entries - PVIO_GNTTAB_NR_RESERVED_ENTRIES - guest->fe.nr_free;
}

static unsigned guest_pages_used(void)
{
	unsigned n = 0;

	for (uint64_t i = 0; i < (guest->nr_pages + 63) / 64; i++)
		n += (unsigned)__builtin_popcountll(guest->page_bitmap[i]);
	return n;
}

/*
 * Reconnections an input may make. Each one tears the rings down and sets
 * them up again (ports, ring and buffer pages, their grants: some hundred
 * hypervisor calls, all the requests in flight issued again), which makes
 * an input of many of them a hundred times slower than the rest; two show
 * everything a reconnection does (in flight or not, parts issued again and
 * reconnecting again before they were answered). Later ones do nothing.
 */
#define RECONNECT_MAX 2
static unsigned reconnects_left;

/* Responses are published as a backend would (release); the modes cover
 * a backend that lies about how many it wrote. */
static uint32_t push_value(struct in *in, uint32_t pvt, uint32_t cons)
{
	uint8_t m = g8(in);

	if (m < 200)
		return pvt;
	if (m < 225)
		return pvt + (uint32_t)(int32_t)(int8_t)g8(in);
	if (m < 245)
		return cons + g8(in);
	return g32(in);
}

/* ================================================================ blkfront */

#define B_NCFG    4
#define B_NREQ    40
#define B_AREA_PG 128
#define B_DISK    (4ull << 20)
#define B_MAXENT  64
#define B_VDEV    51712u
/* Most requests carry at most 16 KiB, one in eight up to the
 * configuration's req_max: each page costs a grant, a check and a revoke,
 * and requests of 24 pages on average spent a third of the harness's time
 * there. */
#define B_REQ_SMALL (16u << 10)

struct bcfg {
	const char *proto;
	unsigned order, seg_limit;
	bool persistent, large;
	uint32_t ss;
	bool flush, barrier, discard, readonly;
	uint32_t req_max;            /* bytes of a large request, at most */
};

/* req_max: 256 sectors (up to 33 pages: three ring requests of 11
 * segments), 64 KiB (16 pages: indirect, 256 segments are never reached
 * anyway), 128 KiB (33 pages once the buffer is not page aligned: two ring
 * requests of up to 32 indirect segments). */
static const struct bcfg bcfgs[B_NCFG] = {
	{ .proto = NULL, .order = 0, .seg_limit = 11, .ss = 512, .flush = true, .discard = true,
	  .req_max = 256 * 512 },
	{ .proto = "x86_32-abi", .order = 0, .seg_limit = 11, .persistent = true, .ss = 512,
	  .barrier = true, .req_max = 256 * 512 },
	{ .proto = NULL, .order = 1, .seg_limit = 256, .persistent = true, .large = true,
	  .ss = 4096, .flush = true, .discard = true, .req_max = 64u << 10 },
	{ .proto = "x86_32-abi", .order = 0, .seg_limit = 32, .ss = 1024, .readonly = true,
	  .req_max = 128u << 10 },
};

/* A ring request the backend has read and not yet seen answered. */
struct bseen {
	uint64_t id;
	uint32_t bytes;              /* of the user's buffer it carries */
	uint8_t  op, iop;
	uint8_t  u;                  /* its user request (U[]) */
};

struct bdev {
	struct pvio_blkfront *f;
	struct bf_queue *q;
	const struct bcfg *c;
	uint32_t req_cons;           /* the backend: requests read */
	uint32_t rsp_pvt;            /* the backend: next response slot */
	uint32_t mcons;              /* the model: responses the frontend took */
	struct bseen seen[B_MAXENT];
	unsigned nseen;
	uint64_t hist[4];            /* ids answered: for duplicates */
	unsigned nhist;
};

enum { U_FREE = 0, U_SUB, U_DONE };

struct ureq {
	struct pvio_blkfront_req r;
	uint8_t  st;
	int      exp;                /* first error among the answered parts */
	uint32_t issued, answered;   /* ring requests read / answered (valid) */
	uint64_t done_bytes;         /* carried by the answered ones */
	uint8_t *next_buf;           /* where the next ring request must start */
	bool     reissued;           /* parts went out again after a reconnection */
};

static struct bdev bdevs[B_NCFG];
static struct ureq U[B_NREQ];
static uint8_t *barea;               /* B_AREA_PG pages of guest memory */
/* An application buffer that comes and goes (pvio_blkfront_buf_alloc /
 * buf_free), freed only when no request uses it. */
static uint8_t *xbuf;
static size_t xbuf_len;
static struct bdev *xbuf_dev;

static bool b_dead(struct bdev *d)
{
	return fe_dead(&d->f->fe);
}

static bool b_up(struct bdev *d)
{
	return d->q->state == BFQ_UP && !b_dead(d);
}

static void b_params(struct bdev *d)
{
	const struct bcfg *c = d->c;
	struct bf_params *p = &d->f->p;
	size_t bytes = (size_t)PAGE << c->order;

	memset(p, 0, sizeof(*p));
	p->nr_queues = 1;
	p->ring_order = c->order;
	p->abi = d->f->abi;
	p->nr_ents = p->abi == PVIO_BLKIF_ABI_X86_32 ? pvio_blkif_x86_32_ring_nr_ents(bytes)
						     : pvio_blkif_ring_nr_ents(bytes);
	p->persistent = c->persistent;
	p->seg_limit = c->seg_limit;
	p->ind_pages = c->seg_limit > PVIO_BLKIF_MAX_SEGMENTS_PER_REQUEST
		? (c->seg_limit + PVIO_BLKIF_SEGS_PER_INDIRECT_FRAME - 1) /
		  PVIO_BLKIF_SEGS_PER_INDIRECT_FRAME : 0;
	p->large = c->large;
	p->unit = c->large ? c->ss : 512;
	p->sector_size = c->ss;
	p->sectors = B_DISK / c->ss;
	p->size_bytes = B_DISK;
	p->readonly = c->readonly;
	p->flush = c->flush;
	p->barrier = c->barrier;
	p->discard = c->discard;
	p->discard_gran = c->discard ? c->ss : 0;
}

/* The backend forgets the ring: a fresh connection (or the queue died). */
static void b_backend_reset(struct bdev *d)
{
	struct bf_queue *q = d->q;

	d->nseen = 0;
	d->nhist = 0;
	if (q->ring.sring) {
		d->req_cons = pvio_load_relaxed(&q->ring.sring->req_prod);
		d->rsp_pvt = pvio_load_relaxed(&q->ring.sring->rsp_prod);
		d->mcons = d->rsp_pvt;
	}
}

/* The backend learns the ring's refs from the store. */
static void b_know_ring(struct bdev *d)
{
	for (unsigned i = 0; i < d->q->ring_nref; i++)
		know_ref(d->q->ring_ref[i]);
}

static struct bdev *b_get(unsigned ci)
{
	struct bdev *d = &bdevs[ci];

	if (!d->f) {
		struct pvio_blkfront_opts o;

		pvio_blkfront_opts_default(&o);
		o.protocol = bcfgs[ci].proto;
		ASSERT(bf_dev_new(guest, B_VDEV + ci, &o, &d->f) == 0);
		d->c = &bcfgs[ci];
		d->f->be_domid = BE_DOMID;
		b_params(d);
		ASSERT(bf_queue_init(d->f, 0) == 0);
		d->f->nr_queues = 1;
		d->q = &d->f->q[0];
		d->q->state = BFQ_DEAD;   /* brought up below */
	}
	if (!barea) {
		uint64_t gfn;

		ASSERT(pvio_hv_page_alloc(guest, B_AREA_PG, &gfn) == 0);
		barea = pvio_hv_gfn_ptr(guest, gfn);
	}
	return d;
}

/* Bring a queue the last input killed back up (as a reconnection would,
 * without the store). */
static void b_revive(struct bdev *d)
{
	struct bf_queue *q = d->q;

	if (q->state == BFQ_UP && !b_dead(d))
		return;
	if (q->state == BFQ_UP)
		bf_queue_down(q, true);   /* dead but not torn down yet */
	__atomic_store_n(&d->f->fe.dead, 0, __ATOMIC_RELEASE);
	pthread_mutex_lock(&q->lock);
	q->state = BFQ_DOWN;
	pthread_mutex_unlock(&q->lock);
	bf_retry_deferred(d->f, 0);   /* as the control thread of a dead device */
	ASSERT(bf_queue_alloc(q) == 0);
	b_backend_reset(d);           /* a fresh ring */
	bf_queue_up(q);
	ASSERT(q->state == BFQ_UP);
}

/* An idle queue as if it had carried `at` requests already: the same
 * state, indexes anywhere (wrap-around), shadows in a fixed order. */
static void b_rebase(struct bdev *d, uint32_t at)
{
	struct bf_queue *q = d->q;
	struct pvio_sring *s = q->ring.sring;

	ASSERT(q->inflight == 0 && !q->bl_head && !q->rq_n && !q->done_head);
	q->ring.req_prod_pvt = q->ring.req_pushed = q->ring.rsp_cons = at;
	q->ring.broken = false;
	s->req_prod = s->rsp_prod = at;
	s->req_event = s->rsp_event = at + 1;
	for (uint32_t i = 0; i < q->nr_sh; i++) {
		ASSERT(!q->sh[i].busy);
		q->sh[i].gen = 0;
		q->sh[i].next_free = i + 1 < q->nr_sh ? i + 1 : BF_NONE;
	}
	q->free_head = 0;
	b_backend_reset(d);
}

static uint8_t *b_slot(struct bdev *d, uint32_t idx)
{
	struct pvio_ring_front *r = &d->q->ring;

	return r->sring->ring + (size_t)(idx & (r->nr_ents - 1)) * r->slot_size;
}

static unsigned b_uidx(const struct pvio_blkfront_req *r)
{
	const struct ureq *u = (const struct ureq *)((const uint8_t *)r - offsetof(struct ureq, r));
	ptrdiff_t i = u - U;

	ASSERT(i >= 0 && i < B_NREQ && &U[i].r == r);
	return (unsigned)i;
}

/* One segment of a data request: granted to the backend, the piece of the
 * user's buffer right after the previous segment's (*at; NULL for the
 * first). Returns its bytes. */
static uint32_t b_check_seg(struct bdev *d, struct ureq *u, uint8_t op, uint32_t gref,
			    uint8_t first, uint8_t last, uint8_t **at)
{
	const struct bf_params *p = &d->f->p;
	uint8_t *buf = u->r.buf, *a;
	bool ro = false;
	uint8_t *pg = grant_page(gref, &ro);
	uint32_t bytes;

	ASSERT(pg);
	know_ref(gref);
	/* One-off grants: read-only for a WRITE; persistent ones writable. */
	ASSERT(ro == (!p->persistent && op == PVIO_BLKIF_OP_WRITE));
	ASSERT(first <= last && last < PAGE / p->unit);
	a = pg + (size_t)first * p->unit;
	bytes = (uint32_t)(last - first + 1) * p->unit;
	ASSERT(a >= buf && a + bytes <= buf + u->r.len);
	ASSERT(!*at || a == *at);
	*at = a + bytes;
	return bytes;
}

/* The backend reads what the frontend published since last time. */
static void b_refresh(struct bdev *d)
{
	struct bf_queue *q = d->q;
	const struct bf_params *p = &d->f->p;
	bool x32 = p->abi == PVIO_BLKIF_ABI_X86_32;
	uint32_t prod;

	if (q->state != BFQ_UP) {
		d->nseen = 0;
		return;
	}
	prod = pvio_load_acquire(&q->ring.sring->req_prod);
	ASSERT(prod - d->req_cons <= q->ring.nr_ents);
	for (; d->req_cons != prod; d->req_cons++) {
		union pvio_blkif_slot raw;
		uint8_t op, iop = 0;
		uint64_t id, sector, nr_sec = 0;
		unsigned nseg;
		uint32_t s, ui;
		struct ureq *u;
		struct bseen *e;

		memset(&raw, 0, sizeof(raw));
		memcpy(&raw, b_slot(d, d->req_cons), q->ring.slot_size);
		op = raw.req.operation;
		if (x32) {
			const union pvio_blkif_x86_32_slot *x = (const void *)&raw;

			id = x->req.id;
			sector = x->req.sector_number;
			nseg = x->req.nr_segments;
			if (op == PVIO_BLKIF_OP_INDIRECT) {
				struct pvio_blkif_x86_32_request_indirect ir;

				memcpy(&ir, x, sizeof(ir));
				iop = ir.indirect_op;
				nseg = ir.nr_segments;
			} else if (op == PVIO_BLKIF_OP_DISCARD) {
				struct pvio_blkif_x86_32_request_discard dr;

				memcpy(&dr, x, sizeof(dr));
				nr_sec = dr.nr_sectors;
			}
		} else {
			id = raw.req.id;
			sector = raw.req.sector_number;
			nseg = raw.req.nr_segments;
			if (op == PVIO_BLKIF_OP_INDIRECT) {
				struct pvio_blkif_request_indirect ir;

				memcpy(&ir, &raw, sizeof(ir));
				iop = ir.indirect_op;
				nseg = ir.nr_segments;
			} else if (op == PVIO_BLKIF_OP_DISCARD) {
				struct pvio_blkif_request_discard dr;

				memcpy(&dr, &raw, sizeof(dr));
				nr_sec = dr.nr_sectors;
			}
		}
		/* The frontend published it: its shadow is in flight. */
		s = (uint32_t)id;
		ASSERT(s < q->nr_sh && q->sh[s].busy && q->sh[s].gen == (uint32_t)(id >> 32));
		ui = b_uidx(q->sh[s].ureq);
		u = &U[ui];
		ASSERT(u->st == U_SUB);
		for (unsigned i = 0; i < d->nseen; i++)
			ASSERT(d->seen[i].id != id);
		ASSERT(d->nseen < B_MAXENT);
		e = &d->seen[d->nseen++];
		e->id = id;
		e->bytes = 0;
		e->op = op;
		e->iop = iop;
		e->u = (uint8_t)ui;
		u->issued++;

		switch (u->r.op) {
		case PVIO_BLKFRONT_FLUSH:
			ASSERT(op == (p->flush || !p->barrier ? PVIO_BLKIF_OP_FLUSH_DISKCACHE
							    : PVIO_BLKIF_OP_WRITE_BARRIER));
			ASSERT(p->flush || p->barrier);
			continue;
		case PVIO_BLKFRONT_DISCARD:
			ASSERT(op == PVIO_BLKIF_OP_DISCARD && p->discard);
			ASSERT(sector == u->r.offset / p->unit && nr_sec == u->r.len / p->unit);
			continue;
		default:
			break;
		}
		/* READ/WRITE: a run of the buffer, at the matching sector; the
		 * next run after the previous request's unless parts were
		 * issued again. */
		{
			uint8_t want = u->r.op == PVIO_BLKFRONT_WRITE ? PVIO_BLKIF_OP_WRITE
								      : PVIO_BLKIF_OP_READ;
			uint8_t *at = NULL, *start;

			ASSERT(op == want || (op == PVIO_BLKIF_OP_INDIRECT && iop == want));
			ASSERT(nseg >= 1 && nseg <= p->seg_limit);
			if (op != PVIO_BLKIF_OP_INDIRECT) {
				ASSERT(nseg <= PVIO_BLKIF_MAX_SEGMENTS_PER_REQUEST);
				for (unsigned k = 0; k < nseg; k++) {
					const struct pvio_blkif_request_segment *sg =
						x32 ? &((const union pvio_blkif_x86_32_slot *)
							(const void *)&raw)->req.seg[k]
						    : &raw.req.seg[k];

					e->bytes += b_check_seg(d, u, op, sg->gref,
								sg->first_sect,
								sg->last_sect, &at);
				}
			} else {
				uint32_t grefs[PVIO_BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
				unsigned npg = (nseg + PVIO_BLKIF_SEGS_PER_INDIRECT_FRAME - 1) /
					       PVIO_BLKIF_SEGS_PER_INDIRECT_FRAME;

				ASSERT(nseg > PVIO_BLKIF_MAX_SEGMENTS_PER_REQUEST);
				ASSERT(npg <= p->ind_pages);
				if (x32) {
					struct pvio_blkif_x86_32_request_indirect ir;

					memcpy(&ir, &raw, sizeof(ir));
					memcpy(grefs, ir.indirect_grefs, sizeof(grefs));
				} else {
					struct pvio_blkif_request_indirect ir;

					memcpy(&ir, &raw, sizeof(ir));
					memcpy(grefs, ir.indirect_grefs, sizeof(grefs));
				}
				for (unsigned k = 0; k < nseg; k++) {
					unsigned pgi = k / PVIO_BLKIF_SEGS_PER_INDIRECT_FRAME;
					bool ro = false;
					uint8_t *ip = grant_page(grefs[pgi], &ro);
					struct pvio_blkif_request_segment sg;

					ASSERT(ip && ro);   /* the segment pages are read-only */
					if (k % PVIO_BLKIF_SEGS_PER_INDIRECT_FRAME == 0)
						know_ref(grefs[pgi]);
					memcpy(&sg, ip + (k % PVIO_BLKIF_SEGS_PER_INDIRECT_FRAME) *
					       sizeof(sg), sizeof(sg));
					e->bytes += b_check_seg(d, u, iop, sg.gref,
								sg.first_sect, sg.last_sect,
								&at);
				}
			}
			start = at - e->bytes;
			ASSERT(sector == (u->r.offset + (uint64_t)(start - (uint8_t *)u->r.buf)) /
					 p->unit);
			ASSERT(u->reissued || start == u->next_buf);
			u->next_buf = at;
		}
	}
}

static void b_write_rsp(struct bdev *d, uint64_t id, uint8_t op, int16_t st)
{
	uint8_t *slot = b_slot(d, d->rsp_pvt++);

	if (d->f->p.abi == PVIO_BLKIF_ABI_X86_32) {
		struct pvio_blkif_x86_32_response r;

		memset(&r, 0, sizeof(r));
		r.id = id;
		r.operation = op;
		r.status = st;
		memcpy(slot, &r, sizeof(r));
	} else {
		struct pvio_blkif_response r;

		memset(&r, 0, sizeof(r));
		r.id = id;
		r.operation = op;
		r.status = st;
		memcpy(slot, &r, sizeof(r));
	}
}

static void b_publish(struct bdev *d, uint32_t prod)
{
	pvio_store_release(&d->q->ring.sring->rsp_prod, prod);
}

/*
 * The model of a reap: the frontend consumes the responses published since
 * its rsp_cons, in order; a response is valid if its id is that of a ring
 * request outstanding (published, unanswered) and its operation that of
 * the request (or, for INDIRECT, its indirect_op). The first invalid one,
 * or rsp_prod beyond the requests published, disables the device.
 * Returns true if the call must disable the device.
 */
static bool b_model(struct bdev *d)
{
	struct bf_queue *q = d->q;
	bool x32 = d->f->p.abi == PVIO_BLKIF_ABI_X86_32;
	uint32_t cons, pushed, prod;

	if (!b_up(d))
		return false;
	cons = d->mcons;
	pushed = pvio_load_relaxed(&q->ring.sring->req_prod);
	prod = pvio_load_relaxed(&q->ring.sring->rsp_prod);
	if (prod - cons > pushed - cons)
		return true;
	for (; cons != prod; cons++) {
		uint64_t id;
		uint8_t op;
		int16_t st;
		unsigned i;
		struct ureq *u;

		if (x32) {
			struct pvio_blkif_x86_32_response r;

			memcpy(&r, b_slot(d, cons), sizeof(r));
			id = r.id;
			op = r.operation;
			st = r.status;
		} else {
			struct pvio_blkif_response r;

			memcpy(&r, b_slot(d, cons), sizeof(r));
			id = r.id;
			op = r.operation;
			st = r.status;
		}
		for (i = 0; i < d->nseen && d->seen[i].id != id; i++)
			;
		if (i == d->nseen)
			return true;
		if (op != d->seen[i].op &&
		    !(d->seen[i].op == PVIO_BLKIF_OP_INDIRECT && op == d->seen[i].iop))
			return true;
		u = &U[d->seen[i].u];
		u->answered++;
		u->done_bytes += d->seen[i].bytes;
		if (st != PVIO_BLKIF_RSP_OKAY && !u->exp)
			u->exp = st == PVIO_BLKIF_RSP_EOPNOTSUPP ? -EOPNOTSUPP : -EIO;
		d->hist[d->nhist++ % 4] = id;
		d->seen[i] = d->seen[--d->nseen];
		d->mcons = cons + 1;
	}
	return false;
}

static void b_reap(struct bdev *d, unsigned max)
{
	struct pvio_blkfront_req *done[32];
	bool was_dead = b_dead(d), must_die;
	int k;

	if (max > 32)
		max = 32;
	b_refresh(d);
	must_die = b_model(d);
	k = pvio_blkfront_reap(d->f, 0, done, max, 0);
	ASSERT(b_dead(d) == (was_dead || must_die));
	ASSERT(k == -ENODEV || (k >= 0 && (unsigned)k <= max));
	if (k == -ENODEV)
		ASSERT(b_dead(d) && d->q->state == BFQ_DEAD);
	if (d->q->state != BFQ_UP)
		d->nseen = 0;   /* torn down: what was outstanding is abandoned */
	else
		ASSERT(d->q->ring.rsp_cons == d->mcons);
	for (int i = 0; i < k; i++) {
		unsigned ui = b_uidx(done[i]);
		struct ureq *u = &U[ui];
		int res = u->r.result;

		ASSERT(u->st == U_SUB);
		u->st = U_DONE;
		/* Never while one of its ring requests is outstanding. */
		for (unsigned j = 0; j < d->nseen; j++)
			ASSERT(d->seen[j].u != ui);
		if (u->exp)
			ASSERT(res == u->exp);
		else if (b_dead(d))
			ASSERT(res == 0 || res == -ENODEV);
		else
			ASSERT(res == 0);
		/* Not before its last part was answered (a dead device fails
		 * what is outstanding). */
		if (!b_dead(d) || res == 0)
			ASSERT(u->answered == u->issued);
		if (res == 0) {
			/* Every byte went out and was answered, once. */
			if (u->r.op == PVIO_BLKFRONT_READ || u->r.op == PVIO_BLKFRONT_WRITE)
				ASSERT(u->done_bytes == u->r.len &&
				       (u->reissued ||
					u->next_buf == (uint8_t *)u->r.buf + u->r.len));
			else if (u->r.op == PVIO_BLKFRONT_FLUSH || u->r.len)
				ASSERT(u->answered >= 1);
		}
	}
	b_refresh(d);
}

/* What pvio_blkfront_submit() accepts (blkfront.h): a known op; for a
 * WRITE or DISCARD a writable disk; offset and length in whole sectors,
 * inside the disk; for data, a unit-aligned buffer in guest memory. */
static bool b_valid(const struct bf_params *p, const struct pvio_blkfront_req *r)
{
	uintptr_t a = (uintptr_t)r->buf, m = (uintptr_t)guest->mem;

	if (r->op > PVIO_BLKFRONT_DISCARD)
		return false;
	if (r->op == PVIO_BLKFRONT_FLUSH)
		return true;
	if (p->readonly && r->op != PVIO_BLKFRONT_READ)
		return false;
	if ((r->offset | r->len) % p->sector_size ||
	    r->offset > p->size_bytes || r->len > p->size_bytes - r->offset)
		return false;
	if (r->op == PVIO_BLKFRONT_DISCARD || r->len == 0)
		return true;
	if (a % p->unit || a < m || a + r->len > m + guest->mem_bytes)
		return false;
	/* and in allocated pages only (a page past the area may be free) */
	for (uint64_t g = (a - m) / PAGE; g <= (a - m + r->len - 1) / PAGE; g++)
		if (!guest_page_used(g))
			return false;
	return true;
}

/* Build request i from the input: mostly valid, sometimes not. Returns
 * whether the frontend must accept it (when there is room). */
static bool b_make(struct bdev *d, struct in *in, unsigned i)
{
	const struct bf_params *p = &d->f->p;
	struct ureq *u = &U[i];
	uint8_t b = g8(in);
	uint64_t secs = p->size_bytes / p->sector_size, off, len, boff;

	memset(u, 0, sizeof(*u));
	u->r.op = b & 3;
	off = g16(in) % secs;
	/* One request in eight may be large (the seeds' are). */
	len = b & 0x80 ? 0 : 1u + g8(in) % ((!(b & 0x1c) ? d->c->req_max : B_REQ_SMALL) /
					    p->sector_size);
	if (len * p->sector_size > (uint64_t)B_AREA_PG * PAGE)
		len = (uint64_t)B_AREA_PG * PAGE / p->sector_size;
	if (off + len > secs)
		len = secs - off;
	u->r.offset = off * p->sector_size;
	u->r.len = len * p->sector_size;
	if (u->r.op == PVIO_BLKFRONT_FLUSH)
		u->r.len = 0;
	/* A unit-aligned place in the area with room for the data. */
	boff = (uint64_t)(g8(in) % B_AREA_PG) * PAGE;
	boff += (uint64_t)(g8(in) % (PAGE / p->unit)) * p->unit;
	if (boff + u->r.len > (uint64_t)B_AREA_PG * PAGE)
		boff = ((uint64_t)B_AREA_PG * PAGE - u->r.len) & ~(uint64_t)(p->unit - 1);
	u->r.buf = barea + boff;
	if ((b & 0x20) && xbuf && xbuf_dev == d) {
		uint64_t room = xbuf_len / p->sector_size;

		if (len > room)
			len = room;
		u->r.len = u->r.op == PVIO_BLKFRONT_FLUSH ? 0 : len * p->sector_size;
		u->r.buf = xbuf + (uint64_t)(g8(in) % (xbuf_len / p->unit)) * p->unit;
		if ((uint8_t *)u->r.buf + u->r.len > xbuf + xbuf_len)
			u->r.buf = xbuf + xbuf_len - u->r.len;
	}
	if (b & 0x40) {
		/* Something malformed (or not quite). */
		switch (g8(in) % 4) {
		case 0: u->r.offset += 1u << (g8(in) % 10); break;
		case 1: u->r.op = 4 + g8(in) % 252; break;
		case 2: u->r.offset = p->size_bytes - p->sector_size * (g8(in) % 2); break;
		default: u->r.buf = (uint8_t *)u->r.buf + (1u << (g8(in) % 12)); break;
		}
	}
	u->next_buf = u->r.buf;
	return b_valid(p, &u->r);
}

static void b_submit(struct bdev *d, struct in *in)
{
	const struct bf_params *p = &d->f->p;
	struct pvio_blkfront_req *rp[4];
	unsigned n = 1 + g8(in) % 4, free_u[4], nf = 0;
	bool valid0 = true;
	int k;

	for (unsigned i = 0; i < B_NREQ && nf < n; i++)
		if (U[i].st == U_FREE || U[i].st == U_DONE)
			free_u[nf++] = i;
	if (nf == 0)
		return;
	n = nf;
	for (unsigned i = 0; i < n; i++) {
		bool v = b_make(d, in, free_u[i]);

		if (i == 0)
			valid0 = v;
		rp[i] = &U[free_u[i]].r;
	}
	k = pvio_blkfront_submit(d->f, 0, rp, n);
	if (b_dead(d))
		ASSERT(k == -ENODEV);
	else if (!valid0)
		ASSERT(k == -EINVAL || k == -EROFS || k == 0);
	else
		ASSERT(k >= 0 && (unsigned)k <= n);
	for (int i = 0; i < k; i++) {
		struct ureq *u = &U[free_u[i]];

		u->st = U_SUB;
		if ((u->r.op == PVIO_BLKFRONT_FLUSH && !p->flush && !p->barrier) ||
		    (u->r.op == PVIO_BLKFRONT_DISCARD && !p->discard))
			u->exp = -EOPNOTSUPP;
	}
	b_refresh(d);
}

/* One response, from a request the backend has read (mutated or not). */
static void b_respond(struct bdev *d, struct in *in)
{
	uint8_t m = g8(in), s = g8(in);
	struct bseen e = { 0 };
	uint64_t id;
	uint8_t op;
	int16_t st;

	if (d->q->state != BFQ_UP)
		return;
	if (d->nseen)
		e = d->seen[g8(in) % d->nseen];
	/* Mostly right; each lie a byte flip away. */
	switch (m & 31) {
	case 28: id = e.id ^ (1ull << 32); break;                      /* stale generation */
	case 29: id = (e.id & ~0xffffffffull) | (d->q->nr_sh + (m >> 5)); break;  /* no such slot */
	case 30: id = g64(in); break;
	case 31: id = d->nhist ? d->hist[(d->nhist - 1) % 4] : e.id ^ 1; break;  /* answered */
	default: id = e.id; break;
	}
	switch (m >> 5) {
	case 5: op = e.op == PVIO_BLKIF_OP_INDIRECT ? e.iop : e.op; break;
	case 6: op = g8(in); break;
	case 7: op = e.op ^ 1; break;
	default: op = e.op; break;
	}
	if (s < 192)
		st = PVIO_BLKIF_RSP_OKAY;
	else if (s < 216)
		st = PVIO_BLKIF_RSP_ERROR;
	else if (s < 240)
		st = PVIO_BLKIF_RSP_EOPNOTSUPP;
	else
		st = (int16_t)g16(in);
	b_write_rsp(d, id, op, st);
}

/* Every request read and unanswered, answered properly, and published. */
static void b_respond_all(struct bdev *d)
{
	if (d->q->state != BFQ_UP)
		return;
	b_refresh(d);
	d->rsp_pvt = pvio_load_relaxed(&d->q->ring.sring->rsp_prod);
	for (unsigned i = 0; i < d->nseen; i++)
		b_write_rsp(d, d->seen[i].id, d->seen[i].op, PVIO_BLKIF_RSP_OKAY);
	b_publish(d, d->rsp_pvt);
}

/*
 * The backend goes away and a new one connects (what the control thread
 * does then): the responses already published are taken, every ring
 * request unanswered is kept and issued again, oldest first, on a fresh
 * ring -- unless what was published breaks the protocol.
 */
static void b_reconnect(struct bdev *d)
{
	struct bf_queue *q = d->q;
	bool must_die;

	if (!b_up(d) || !reconnects_left)
		return;
	reconnects_left--;
	b_refresh(d);
	must_die = b_model(d);
	if (!must_die) {
		for (unsigned i = 0; i < d->nseen; i++) {
			U[d->seen[i].u].reissued = true;
			U[d->seen[i].u].issued--;
		}
	}
	d->nseen = 0;
	bf_queue_down(q, false);
	ASSERT(b_dead(d) == must_die);
	if (must_die) {
		ASSERT(q->state == BFQ_DEAD);
		return;
	}
	ASSERT(q->state == BFQ_DOWN);
	ASSERT(bf_queue_alloc(q) == 0);
	b_backend_reset(d);
	b_know_ring(d);
	bf_queue_up(q);
	b_refresh(d);
}

static bool xbuf_busy(void)
{
	for (unsigned i = 0; i < B_NREQ; i++)
		if (U[i].st == U_SUB && (uint8_t *)U[i].r.buf >= xbuf &&
		    (uint8_t *)U[i].r.buf < xbuf + xbuf_len)
			return true;
	return false;
}

/* The application frees its buffer (its persistent grants go; one the
 * backend holds waits, with the page, on the deferred list), or takes a
 * new one. */
static void xbuf_cmd(struct bdev *d, struct in *in)
{
	uint8_t n = g8(in);

	if (xbuf) {
		if (xbuf_busy())
			return;
		pvio_blkfront_buf_free(xbuf_dev->f, xbuf, xbuf_len);
		xbuf = NULL;
		return;
	}
	xbuf_len = (size_t)(1 + n % 8) * PAGE;
	xbuf = pvio_blkfront_buf_alloc(d->f, xbuf_len);
	ASSERT(xbuf && ((uintptr_t)xbuf & (PAGE - 1)) == 0);
	xbuf_dev = d;
	for (size_t i = 0; i < xbuf_len / PAGE; i++)
		ASSERT(guest_page_used((uint64_t)pvio_hv_ptr_gfn(guest, xbuf + i * PAGE)));
}

static bool b_any_sub(void)
{
	for (unsigned i = 0; i < B_NREQ; i++)
		if (U[i].st == U_SUB)
			return true;
	return false;
}

static void fuzz_blkfront(struct in *in)
{
	struct bdev *d = b_get(g8(in) % B_NCFG);
	struct bf_queue *q;

	b_revive(d);
	q = d->q;
	memset(U, 0, sizeof(U));
	b_rebase(d, g8(in) & 1 ? g32(in) : 0);
	nknown = 0;
	b_know_ring(d);

	while (in->n) {
		switch (g8(in) % 18) {
		case 0: case 1: case 2: case 3:
			b_submit(d, in);
			break;
		case 4: case 5: case 6:
			b_respond(d, in);
			break;
		case 7: case 8:
			if (q->state == BFQ_UP)
				b_publish(d, push_value(in, d->rsp_pvt, d->mcons));
			break;
		case 9: case 10: case 11:
			b_reap(d, 1 + g8(in) % 16);
			break;
		case 12: case 13:
			b_respond_all(d);
			break;
		case 15:
			b_reconnect(d);
			break;
		case 16:
			if (g8(in) & 1)
				held_cmd(in);
			else
				xbuf_cmd(d, in);
			break;
		case 14:
			/* Any bytes in the next response slot. */
			if (q->state == BFQ_UP) {
				uint8_t raw[16];

				for (unsigned i = 0; i < sizeof(raw); i++)
					raw[i] = g8(in);
				memcpy(b_slot(d, d->rsp_pvt++), raw,
				       d->f->p.abi == PVIO_BLKIF_ABI_X86_32 ? 12 : 16);
			}
			break;
		default:
			/* The header fields the backend may write. */
			if (q->state == BFQ_UP) {
				uint32_t v = g32(in);

				if (v & 1)
					pvio_store_relaxed(&q->ring.sring->req_event, v);
				else
					memset(q->ring.sring->pvt, (int)(v >> 8), 48);
			}
			break;
		}
		held_check();
	}

	/* Finish: a backend that behaves from now on completes everything;
	 * a dead device fails everything. Either way each request comes back
	 * exactly once. */
	for (unsigned round = 0; round < 400 && b_any_sub(); round++) {
		b_respond_all(d);
		b_reap(d, 32);
	}
	ASSERT(!b_any_sub());
	if (b_up(d)) {
		uint32_t n = 0;

		ASSERT(q->inflight == 0 && !q->bl_head && !q->rq_n && !q->done_head);
		for (uint32_t s = q->free_head; s != BF_NONE; s = q->sh[s].next_free) {
			ASSERT(s < q->nr_sh && !q->sh[s].busy && n < q->nr_sh);
			n++;
		}
		ASSERT(n == q->nr_sh);
	}
	/* The backend lets go of what it held: the revokes that failed go
	 * through now. Then back up within the input that killed it (what the
	 * teardown freed is allocated again in the same run: no leak
	 * suspected). */
	if (xbuf) {
		ASSERT(!xbuf_busy());
		pvio_blkfront_buf_free(d->f, xbuf, xbuf_len);
		xbuf = NULL;
	}
	held_release();
	bf_retry_deferred(d->f, 0);
	b_revive(d);
}

/* ================================================================ netfront */

#define N_NCFG   2
#define N_ENTS   256u
#define N_MAXPKT 8
#define N_CAP    65536u
#define N_DEVID  0u

struct ncfg {
	bool sg, gso4, gso6, ipv6_csum, split;
};

static const struct ncfg ncfgs[N_NCFG] = {
	{ .sg = true, .gso4 = true, .gso6 = true, .ipv6_csum = false, .split = true },
	{ .sg = false, .ipv6_csum = true },
};

struct ndev {
	struct pvio_netfront *nf;
	struct nf_queue *q;
	const struct ncfg *c;
	/* tx: the backend's view */
	uint32_t tx_cons;            /* requests read */
	uint32_t tx_pvt;             /* next response slot */
	uint8_t  tx_extra[N_ENTS];   /* the request read in that slot was an extra */
	uint16_t tx_id[N_ENTS];
	/* tx: the model */
	uint8_t  busy[N_ENTS];       /* ids in flight */
	unsigned nbusy;
	uint32_t tx_mcons;           /* responses the frontend consumed */
	bool     tx_broken;
	/* rx: the backend's view */
	uint32_t rx_cons, rx_pvt;
	uint16_t rx_id[N_ENTS];
	uint32_t rx_gref[N_ENTS];
	/* rx: the model */
	uint8_t  posted[N_ENTS];     /* by id: in the ring, unanswered */
	unsigned nposted;            /* of posted[] set */
	uint8_t  lent[N_ENTS];       /* by id: lent by a zero-copy receive */
	uint32_t rx_mcons;
	bool     rx_broken;
};

static struct ndev ndevs[N_NCFG];

/* What each device accounts for (check_leaks()), counted when an input
 * last drove it: its 512 buffers are not counted again while others are
 * driven. */
static struct { unsigned grants, pages; bool valid; } n_acct[N_NCFG];
static int n_active = -1;             /* the device this input drives */

/* Frames of one send_burst. */
struct nframe {
	uint8_t  *data;
	uint32_t len;
	uint16_t flags;
	uint8_t  gso_type;
	uint16_t gso_size;
	struct iovec iov[4];
	unsigned iovcnt;
};

static uint8_t ntxbuf[N_MAXPKT][PVIO_NETFRONT_MAX_FRAME + 1];
static uint8_t nrxbuf[N_MAXPKT][N_CAP + 64];

static bool n_dead(struct ndev *d)
{
	return fe_dead(&d->nf->fe);
}

static bool n_up(struct ndev *d)
{
	return d->q->state == NFQ_UP && !n_dead(d);
}

static struct ndev *n_get(unsigned ci)
{
	struct ndev *d = &ndevs[ci];

	if (!d->nf) {
		const struct ncfg *c = &ncfgs[ci];
		struct nf_params *p;

		ASSERT(nf_dev_new(guest, N_DEVID + ci, NULL, &d->nf) == 0);
		d->c = c;
		d->nf->be_domid = BE_DOMID;
		p = &d->nf->p;
		memset(p, 0, sizeof(*p));
		p->nr_queues = 1;
		p->split = c->split;
		p->sg = c->sg;
		p->gso_tcpv4 = c->gso4;
		p->gso_tcpv6 = c->gso6;
		p->ipv6_csum = c->ipv6_csum;
		p->rx_csum = true;
		p->rx_gso_tcpv4 = p->rx_gso_tcpv6 = c->sg;
		p->max_tx_slots = c->sg ? NF_MAX_SLOTS : 1;
		ASSERT(nf_queue_init(d->nf, 0) == 0);
		d->nf->nr_queues = 1;
		d->q = &d->nf->q[0];
		d->q->state = NFQ_DEAD;
	}
	return d;
}

static uint8_t *n_tx_slot(struct ndev *d, uint32_t idx)
{
	return d->q->tx.sring->ring + (size_t)(idx & (N_ENTS - 1)) * d->q->tx.slot_size;
}

static uint8_t *n_rx_slot(struct ndev *d, uint32_t idx)
{
	return d->q->rx.sring->ring + (size_t)(idx & (N_ENTS - 1)) * d->q->rx.slot_size;
}

/* The backend reads the rx buffers posted since last time. */
static void n_rx_refresh(struct ndev *d)
{
	struct nf_queue *q = d->q;
	uint32_t prod;

	if (q->state != NFQ_UP)
		return;
	prod = pvio_load_acquire(&q->rx.sring->req_prod);
	ASSERT(prod - d->rx_cons <= N_ENTS);
	for (; d->rx_cons != prod; d->rx_cons++) {
		struct pvio_netif_rx_request r;
		bool ro = true;

		memcpy(&r, n_rx_slot(d, d->rx_cons), sizeof(r));
		ASSERT(r.id < N_ENTS && !d->posted[r.id] && !d->lent[r.id]);
		ASSERT(grant_page(r.gref, &ro) && !ro);
		if ((d->rx_cons & 31) == 0)
			know_ref(r.gref);
		d->posted[r.id] = 1;
		d->nposted++;
		d->rx_id[d->rx_cons & (N_ENTS - 1)] = r.id;
		d->rx_gref[d->rx_cons & (N_ENTS - 1)] = r.gref;
	}
}

/* The backend reads the tx requests of the frames the last send_burst
 * took (and nothing else may have appeared). */
static void n_tx_refresh(struct ndev *d, const struct nframe *fr, unsigned nfr)
{
	struct nf_queue *q = d->q;
	uint32_t prod;
	unsigned fi = 0;

	if (q->state != NFQ_UP)
		return;
	prod = pvio_load_acquire(&q->tx.sring->req_prod);
	ASSERT(prod - d->tx_cons <= N_ENTS);
	while (d->tx_cons != prod) {
		const struct nframe *f;
		struct pvio_netif_tx_request r;
		uint8_t *pages[NF_MAX_SLOTS];
		uint16_t sizes[NF_MAX_SLOTS];
		uint32_t rest = 0, first;
		unsigned ns = 0;
		bool more, ro = false;

		ASSERT(fi < nfr);
		f = &fr[fi++];
		do {
			uint32_t slot = d->tx_cons & (N_ENTS - 1);

			ASSERT(d->tx_cons != prod);   /* a whole frame is published at once */
			memcpy(&r, n_tx_slot(d, d->tx_cons++), sizeof(r));
			ASSERT(ns < d->nf->p.max_tx_slots);
			ASSERT(r.id < N_ENTS && !d->busy[r.id]);
			d->busy[r.id] = 1;
			d->nbusy++;
			d->tx_extra[slot] = 0;
			d->tx_id[slot] = r.id;
			pages[ns] = grant_page(r.gref, &ro);
			ASSERT(pages[ns] && ro && r.offset == 0);
			know_ref(r.gref);
			sizes[ns] = r.size;
			if (ns == 0) {
				ASSERT(r.size == f->len);
				ASSERT(!!(r.flags & PVIO_NETTXF_extra_info) ==
				       !!(f->flags & PVIO_NF_GSO));
				if (r.flags & PVIO_NETTXF_extra_info) {
					struct pvio_netif_extra_info x;

					ASSERT(d->tx_cons != prod);
					slot = d->tx_cons & (N_ENTS - 1);
					memcpy(&x, n_tx_slot(d, d->tx_cons++), sizeof(x));
					ASSERT(x.type == PVIO_XEN_NETIF_EXTRA_TYPE_GSO &&
					       x.flags == 0);
					ASSERT(x.u.gso.size == f->gso_size &&
					       x.u.gso.type == f->gso_type);
					d->tx_extra[slot] = 1;
				}
			} else {
				ASSERT(r.size >= 1 && r.size <= PAGE);
				rest += r.size;
			}
			more = (r.flags & PVIO_NETTXF_more_data) != 0;
			ns++;
		} while (more);
		/* The first slot carries what the others do not. */
		ASSERT(rest < f->len && f->len - rest <= PAGE);
		first = f->len - rest;
		sizes[0] = (uint16_t)first;
		/* The bytes, unless the frontend completes a checksum in them. */
		if (!(f->flags & PVIO_NF_CSUM_BLANK) || (f->flags & PVIO_NF_GSO)) {
			uint32_t off = 0;

			for (unsigned i = 0; i < ns; i++) {
				ASSERT(memcmp(pages[i], f->data + off, sizes[i]) == 0);
				off += sizes[i];
			}
		}
	}
	ASSERT(fi == nfr);
}

static void n_backend_reset(struct ndev *d)
{
	memset(d->busy, 0, sizeof(d->busy));
	memset(d->posted, 0, sizeof(d->posted));
	d->nposted = 0;
	memset(d->lent, 0, sizeof(d->lent));
	d->nbusy = 0;
	d->tx_broken = d->rx_broken = false;
	d->tx_cons = d->tx_pvt = d->tx_mcons = 0;
	d->rx_cons = d->rx_pvt = d->rx_mcons = 0;
	if (d->q->state == NFQ_UP) {
		d->tx_cons = d->tx_pvt = d->tx_mcons = d->q->tx.rsp_cons;
		d->rx_cons = d->rx_pvt = d->rx_mcons = d->q->rx.rsp_cons;
		n_rx_refresh(d);
	}
}

static void n_revive(struct ndev *d)
{
	struct nf_queue *q = d->q;

	if (n_up(d))
		return;
	if (q->state == NFQ_UP)
		nf_queue_down(q, true);
	__atomic_store_n(&d->nf->fe.dead, 0, __ATOMIC_RELEASE);
	pthread_mutex_lock(&q->rx_lock);
	pthread_mutex_lock(&q->tx_lock);
	q->state = NFQ_DOWN;
	pthread_mutex_unlock(&q->tx_lock);
	pthread_mutex_unlock(&q->rx_lock);
	nf_retry_deferred(d->nf);   /* as nf_connect does */
	ASSERT(nf_queue_alloc(q) == 0);
	nf_queue_up(q);
	ASSERT(q->state == NFQ_UP);
	n_backend_reset(d);
}

/* The model of tx_gc (send_burst and every receive start with it): false
 * if the backend broke the protocol (the device must die). */
static bool n_tx_model(struct ndev *d)
{
	struct pvio_sring *s = d->q->tx.sring;
	uint32_t prod = pvio_load_relaxed(&s->rsp_prod), pushed = pvio_load_relaxed(&s->req_prod);
	uint32_t cons = d->tx_mcons;

	if (d->tx_broken)
		return false;
	if (prod - cons > pushed - cons) {
		d->tx_broken = true;
		return false;
	}
	for (; cons != prod; cons++) {
		struct pvio_netif_tx_response r;

		memcpy(&r, n_tx_slot(d, cons), sizeof(r));
		if (r.status == PVIO_NETIF_RSP_NULL)
			continue;
		if (r.id >= N_ENTS || !d->busy[r.id])
			return false;
		if (r.status != PVIO_NETIF_RSP_OKAY && r.status != PVIO_NETIF_RSP_ERROR &&
		    r.status != PVIO_NETIF_RSP_DROPPED)
			return false;
		d->busy[r.id] = 0;
		d->nbusy--;
	}
	d->tx_mcons = cons;
	/* Every id in flight needs an unanswered slot. */
	return d->nbusy <= pushed - cons;
}

/* One expected frame. */
struct nexp {
	uint32_t len;
	uint16_t flags;
	uint8_t  gso_type;
	uint16_t gso_size;
	uint16_t slots;
	unsigned nfr;
	const uint8_t *p[NF_MAX_SLOTS + 1];
	uint16_t plen[NF_MAX_SLOTS + 1];
	uint16_t ids[NF_MAX_SLOTS + 1 + NF_MAX_EXTRAS];
	unsigned nids;
};

enum { F_BAD, F_WAIT, F_DROP, F_FRAME };

static uint8_t *n_rx_page(struct ndev *d, uint32_t idx)
{
	bool ro = true;
	uint8_t *pg = grant_page(d->rx_gref[idx & (N_ENTS - 1)], &ro);

	ASSERT(pg && !ro);
	return pg;
}

/* The frame at rsp_cons (avail published), from the wire rules: each
 * response in the slot of the request it answers (same id), status a size
 * or ERROR/DROPPED, the data inside the page, at most 18 data slots (19 if
 * the first is at most 256 bytes or an error), extras (at most 4) after the
 * first slot while NETRXF_extra_info / EXTRA_FLAG_MORE say so. */
static int n_parse(struct ndev *d, uint32_t cons, uint32_t avail, struct nexp *e)
{
	uint32_t k = 0, total = 0;
	unsigned nfr = 0, nx = 0;
	bool drop = false, small = false, more;
	uint16_t flags0 = 0;

	memset(e, 0, sizeof(*e));
	for (;;) {
		struct pvio_netif_rx_response r;

		if (k >= avail)
			return F_WAIT;
		memcpy(&r, n_rx_slot(d, cons + k), sizeof(r));
		if (r.id != d->rx_id[(cons + k) & (N_ENTS - 1)])
			return F_BAD;
		if (r.status < PVIO_NETIF_RSP_DROPPED)
			return F_BAD;
		if (r.status >= 0 && (uint32_t)r.offset + (uint32_t)r.status > PAGE)
			return F_BAD;
		if (nfr == 0)
			small = r.status <= 256;
		if (nfr == NF_MAX_SLOTS + (small ? 1u : 0u))
			return F_BAD;
		if (r.status < 0) {
			drop = true;
		} else {
			e->p[nfr] = n_rx_page(d, cons + k) + r.offset;
			e->plen[nfr] = (uint16_t)r.status;
			total += (uint32_t)r.status;
		}
		e->ids[e->nids++] = r.id;
		nfr++;
		k++;
		more = (r.flags & PVIO_NETRXF_more_data) != 0;
		if (nfr == 1) {
			bool extra = (r.flags & PVIO_NETRXF_extra_info) != 0;

			flags0 = r.flags;
			while (extra) {
				struct pvio_netif_extra_info x;

				if (k >= avail)
					return F_WAIT;
				if (++nx > NF_MAX_EXTRAS)
					return F_BAD;
				memcpy(&x, n_rx_slot(d, cons + k), sizeof(x));
				e->ids[e->nids++] = d->rx_id[(cons + k) & (N_ENTS - 1)];
				k++;
				extra = (x.flags & PVIO_XEN_NETIF_EXTRA_FLAG_MORE) != 0;
				if (x.type == PVIO_XEN_NETIF_EXTRA_TYPE_NONE ||
				    x.type >= PVIO_XEN_NETIF_EXTRA_TYPE_MAX) {
					drop = true;
				} else if (x.type == PVIO_XEN_NETIF_EXTRA_TYPE_GSO) {
					if (x.u.gso.size == 0 ||
					    (x.u.gso.type != PVIO_XEN_NETIF_GSO_TYPE_TCPV4 &&
					     x.u.gso.type != PVIO_XEN_NETIF_GSO_TYPE_TCPV6)) {
						drop = true;
					} else {
						e->flags |= PVIO_NF_GSO;
						e->gso_type = x.u.gso.type;
						e->gso_size = x.u.gso.size;
					}
				}
			}
		}
		if (!more)
			break;
	}
	e->slots = (uint16_t)k;
	if (drop || total == 0)
		return F_DROP;
	e->len = total;
	e->nfr = nfr;
	if (flags0 & PVIO_NETRXF_csum_blank)
		e->flags |= PVIO_NF_CSUM_BLANK | PVIO_NF_DATA_VALIDATED;
	else if (flags0 & PVIO_NETRXF_data_validated)
		e->flags |= PVIO_NF_DATA_VALIDATED;
	if (!(e->flags & PVIO_NF_GSO))
		e->gso_type = 0, e->gso_size = 0;
	return F_FRAME;
}

/* A receive call of any kind: model, call, compare. */
static void n_recv(struct ndev *d, unsigned mode, unsigned n, const uint32_t *caps)
{
	static struct nexp exp[N_MAXPKT];
	struct pvio_nf_pkt pk[N_MAXPKT];
	bool zc = mode & 2, was_dead = n_dead(d), bad = false;
	unsigned got = 0;
	int r;

	memset(pk, 0, sizeof(pk));
	for (unsigned i = 0; i < n; i++) {
		pk[i].data = nrxbuf[i];
		pk[i].cap = caps[i];
		memcpy(nrxbuf[i] + caps[i], canary, sizeof(canary));
	}
	if (n_up(d)) {
		/* What the previous zero-copy receive lent comes back first. */
		memset(d->lent, 0, sizeof(d->lent));
		if (!n_tx_model(d)) {
			bad = true;
		} else if (n) {
			struct pvio_sring *s = d->q->rx.sring;
			uint32_t prod = pvio_load_relaxed(&s->rsp_prod);
			uint32_t pushed = pvio_load_relaxed(&s->req_prod);

			if (d->rx_broken || prod - d->rx_mcons > pushed - d->rx_mcons)
				bad = true;
			while (!bad && got < n && prod != d->rx_mcons) {
				int k = n_parse(d, d->rx_mcons, prod - d->rx_mcons, &exp[got]);

				if (k == F_BAD)
					bad = true;
				if (k == F_BAD || k == F_WAIT)
					break;
				for (unsigned i = 0; i < exp[got].nids; i++) {
					uint16_t id = exp[got].ids[i];

					ASSERT(d->posted[id]);
					d->posted[id] = 0;
					d->nposted--;
					if (k == F_FRAME && zc)
						d->lent[id] = 1;
				}
				d->rx_mcons += exp[got].slots;
				if (k == F_FRAME)
					got++;
			}
		}
	}
	switch (mode & 3) {
	case 0: r = pvio_netfront_recv_burst(d->nf, 0, pk, n); break;
	case 1: r = pvio_netfront_poll(d->nf, 0, pk, n); break;
	case 2: r = pvio_netfront_recv_burst_zc(d->nf, 0, pk, n); break;
	default: r = pvio_netfront_poll_zc(d->nf, 0, pk, n); break;
	}
	ASSERT(n_dead(d) == (was_dead || bad));
	if (n_dead(d))
		ASSERT(r == (got ? (int)got : -ENODEV));
	else
		ASSERT(r == (int)got);
	for (unsigned i = 0; i < got; i++) {
		struct pvio_nf_pkt *p = &pk[i];
		const struct nexp *e = &exp[i];

		ASSERT(p->len == e->len && p->slots == e->slots);
		ASSERT(p->gso_type == e->gso_type && p->gso_size == e->gso_size);
		if (zc) {
			size_t sum = 0;

			ASSERT(p->flags == e->flags && p->cap == 0);
			ASSERT(p->iovcnt == e->nfr && p->iov && p->data == p->iov[0].iov_base);
			for (unsigned j = 0; j < e->nfr; j++) {
				ASSERT(p->iov[j].iov_base == e->p[j] &&
				       p->iov[j].iov_len == e->plen[j]);
				sum += p->iov[j].iov_len;
			}
			ASSERT(sum == e->len);
		} else {
			uint32_t want = e->len < p->cap ? e->len : p->cap, off = 0;

			ASSERT(p->flags == (e->flags | (e->len > p->cap ? PVIO_NF_TRUNCATED : 0)));
			ASSERT(p->iovcnt == 0 && p->data == nrxbuf[i]);
			for (unsigned j = 0; j < e->nfr && off < want; j++) {
				uint32_t c = e->plen[j] < want - off ? e->plen[j] : want - off;

				ASSERT(memcmp(nrxbuf[i] + off, e->p[j], c) == 0);
				off += c;
			}
		}
	}
	/* Nothing written past a buffer's cap. */
	for (unsigned i = 0; i < n; i++)
		ASSERT(memcmp(nrxbuf[i] + caps[i], canary, sizeof(canary)) == 0);
	if (n_up(d)) {
		ASSERT(d->q->rx.rsp_cons == d->rx_mcons && d->q->tx.rsp_cons == d->tx_mcons);
		ASSERT(d->q->tx_busy == d->nbusy);
		n_rx_refresh(d);
	} else {
		memset(d->lent, 0, sizeof(d->lent));
	}
}

/* send_fill's callback: the next frame of the burst, copied into the
 * pages it is given (flat, as the frames' bytes are checked). */
struct n_fill {
	const struct nframe *fr;
	unsigned n, next;
	uint32_t max_len;
};

static int n_fill_cb(void *arg, const struct iovec *pages, unsigned npages,
		     struct pvio_nf_pkt *out)
{
	struct n_fill *c = arg;
	const struct nframe *f;
	uint32_t off = 0;

	ASSERT(npages >= 1 && npages == (c->max_len + PAGE - 1) / PAGE);
	if (c->next == c->n)
		return 0;
	f = &c->fr[c->next++];
	for (unsigned j = 0; j < npages && off < f->len; j++) {
		uint32_t k = f->len - off < PAGE ? f->len - off : PAGE;

		ASSERT(pages[j].iov_len == PAGE);
		memcpy(pages[j].iov_base, f->data + off, k);
		off += k;
	}
	out->len = f->len;
	out->flags = f->flags;
	out->gso_type = f->gso_type;
	out->gso_size = f->gso_size;
	return 1;
}

static void n_send(struct ndev *d, struct in *in)
{
	static struct nframe fr[N_MAXPKT];
	struct pvio_nf_pkt pk[N_MAXPKT];
	unsigned n = 1 + g8(in) % 3;
	bool was_dead = n_dead(d), bad = false, ok0 = true, fill = false;
	uint32_t max_len = PVIO_NETFRONT_MIN_FRAME;
	int r;

	memset(pk, 0, sizeof(pk));
	for (unsigned i = 0; i < n; i++) {
		struct nframe *f = &fr[i];
		uint8_t b = g8(in);
		uint32_t len;

		memset(f, 0, sizeof(*f));
		len = b & 0x80 ? g16(in) : 14u + g16(in) % 9000u;
		if (len > PVIO_NETFRONT_MAX_FRAME)
			len = PVIO_NETFRONT_MAX_FRAME;
		f->data = ntxbuf[i];
		f->len = len;
		/* Header bytes from the input, a pattern after them. */
		{
			size_t h = len < 64 ? len : 64;

			if (h > in->n)
				h = in->n;
			memcpy(f->data, in->p, h);
			in->p += h;
			in->n -= h;
			memcpy(f->data + h, pat + i * 101u, len - h);
		}
		if (i == 0)
			fill = (b & 0x20) != 0;   /* built in place: send_fill */
		if (len > max_len)
			max_len = len;
		if (b & 0x10) {
			f->data[12] = 0x86;
			f->data[13] = 0xdd;
		}
		if (b & 1)
			f->flags |= PVIO_NF_CSUM_BLANK;
		if (b & 2)
			f->flags |= PVIO_NF_DATA_VALIDATED;
		if (b & 4) {
			f->flags |= PVIO_NF_GSO;
			f->gso_type = 1 + g8(in) % 3;
			f->gso_size = g16(in);
		}
		pk[i].flags = f->flags;
		pk[i].gso_type = f->gso_type;
		pk[i].gso_size = f->gso_size;
		if (b & 8) {
			/* Scattered: up to 4 pieces. */
			uint32_t at = 0;

			f->iovcnt = 1 + g8(in) % 4;
			for (unsigned j = 0; j < f->iovcnt; j++) {
				uint32_t l = j + 1 == f->iovcnt ? len - at
								: g16(in) % (len - at + 1);

				f->iov[j].iov_base = f->data + at;
				f->iov[j].iov_len = l;
				at += l;
			}
			pk[i].iov = f->iov;
			pk[i].iovcnt = f->iovcnt;
		} else {
			pk[i].data = f->data;
			pk[i].len = len;
		}
		if (i == 0)
			ok0 = len >= PVIO_NETFRONT_MIN_FRAME &&
			      (!(f->flags & PVIO_NF_GSO) ||
			       (f->gso_size && f->gso_type != 3 &&
				(f->gso_type == 1 ? d->nf->p.gso_tcpv4 : d->nf->p.gso_tcpv6))) &&
			      (len <= PAGE * d->nf->p.max_tx_slots);
	}
	if (n_up(d))
		bad = !n_tx_model(d);
	if (fill) {
		/* Frames up to the largest of the burst; one that needs more
		 * slots than the backend takes fails them all. */
		struct n_fill c = { .fr = fr, .n = n, .max_len = max_len };

		if (max_len > PAGE * d->nf->p.max_tx_slots)
			ok0 = false;
		r = pvio_netfront_send_fill(d->nf, 0, n, max_len, n_fill_cb, &c);
	} else {
		r = pvio_netfront_send_burst(d->nf, 0, pk, n);
	}
	ASSERT(n_dead(d) == (was_dead || bad));
	if (n_dead(d))
		ASSERT(r == -ENODEV);
	else if (!ok0 && fill && r == 0) {
		/* send_fill learns what a frame is only from fill, which it
		 * calls only when the ring has room for max_len bytes. */
		unsigned want = (max_len + PAGE - 1) / PAGE;
		unsigned need = want + (d->nf->p.gso_tcpv4 || d->nf->p.gso_tcpv6 ? 1 : 0);

		ASSERT(max_len <= PAGE * d->nf->p.max_tx_slots);
		ASSERT(pvio_ring_free_requests(&d->q->tx) < need ||
		       d->q->nr_txb - d->q->tx_busy < want);
	}
	else if (!ok0)
		ASSERT(r == -EINVAL || r == -EMSGSIZE || r == -EOPNOTSUPP);
	else
		ASSERT(r >= 0 && (unsigned)r <= n);
	if (n_up(d)) {
		ASSERT(d->q->tx.rsp_cons == d->tx_mcons);
		n_tx_refresh(d, fr, r > 0 ? (unsigned)r : 0);
		ASSERT(d->q->tx_busy == d->nbusy);
	}
}

/* The next tx response: for the request in that slot, or mutated. */
static void n_tx_respond(struct ndev *d, struct in *in)
{
	struct pvio_netif_tx_response r;
	uint8_t m = g8(in), s = g8(in);
	uint32_t slot = d->tx_pvt & (N_ENTS - 1);
	bool known = d->tx_cons - d->tx_pvt - 1 < N_ENTS;   /* the backend read it */

	if (d->q->state != NFQ_UP)
		return;
	memset(&r, 0, sizeof(r));
	r.id = known ? d->tx_id[slot] : 0;
	if (s < 200)
		r.status = PVIO_NETIF_RSP_OKAY;
	else if (s < 220)
		r.status = PVIO_NETIF_RSP_ERROR;
	else if (s < 240)
		r.status = PVIO_NETIF_RSP_DROPPED;
	else
		r.status = (int16_t)g16(in);
	if (known && d->tx_extra[slot])
		r.status = PVIO_NETIF_RSP_NULL;
	switch (m & 15) {
	case 13: r.id = g16(in); break;
	case 14: r.status = m & 16 ? PVIO_NETIF_RSP_NULL : PVIO_NETIF_RSP_OKAY; break;
	case 15: r.id = d->tx_id[(d->tx_pvt - 1) & (N_ENTS - 1)]; break;
	default: break;
	}
	memcpy(n_tx_slot(d, d->tx_pvt++), &r, sizeof(r));
}

static void n_tx_all(struct ndev *d)
{
	struct pvio_sring *s = d->q->tx.sring;

	if (d->q->state != NFQ_UP)
		return;
	d->tx_pvt = pvio_load_relaxed(&s->rsp_prod);
	if (d->tx_cons - d->tx_pvt > N_ENTS)
		return;   /* published past what was asked: dead soon anyway */
	for (; d->tx_pvt != d->tx_cons; d->tx_pvt++) {
		uint32_t slot = d->tx_pvt & (N_ENTS - 1);
		struct pvio_netif_tx_response r = {
			.id = d->tx_id[slot],
			.status = d->tx_extra[slot] ? PVIO_NETIF_RSP_NULL : PVIO_NETIF_RSP_OKAY,
		};

		memcpy(n_tx_slot(d, d->tx_pvt), &r, sizeof(r));
	}
	pvio_store_release(&s->rsp_prod, d->tx_pvt);
}

/* The backend fills the page of the buffer posted in slot idx (if it read
 * it and it is still posted there) with bytes that tell place and slot. */
static void n_fill(struct ndev *d, uint32_t idx)
{
	uint8_t *pg;

	if (idx - d->rx_mcons >= d->rx_cons - d->rx_mcons)
		return;
	pg = n_rx_page(d, idx);
	memcpy(pg, pat + idx % 509u, PAGE);
}

static void n_rx_write(struct ndev *d, uint16_t id, uint16_t off, int16_t st, uint16_t flags)
{
	struct pvio_netif_rx_response r;

	memset(&r, 0, sizeof(r));
	r.id = id;
	r.offset = off;
	r.status = st;
	r.flags = flags;
	n_fill(d, d->rx_pvt);
	memcpy(n_rx_slot(d, d->rx_pvt++), &r, sizeof(r));
}

static uint16_t n_rx_want(struct ndev *d)
{
	return d->rx_id[d->rx_pvt & (N_ENTS - 1)];
}

/* One rx response slot, any fields (mostly the right id). */
static void n_rx_slot_cmd(struct ndev *d, struct in *in)
{
	uint8_t m = g8(in);
	uint16_t id = n_rx_want(d), off = g16(in) % 4200u;
	int16_t st;

	if ((m & 0x88) == 0x88)
		st = (int16_t)-(int)(g8(in) % 4);
	else
		st = (int16_t)(g16(in) % 4200u);
	if ((m & 0x60) != 0x60 && st > 0 && off + st > (int)PAGE)
		st = (int16_t)(off < PAGE ? PAGE - off : 0);
	if ((m & 15) == 14)
		id = g16(in);
	else if ((m & 15) == 15)
		id ^= 1;
	n_rx_write(d, id, off, st, g8(in));
}

static void n_rx_extra_cmd(struct ndev *d, struct in *in)
{
	struct pvio_netif_extra_info x;

	memset(&x, 0, sizeof(x));
	x.type = g8(in) % 6;
	x.flags = g8(in);
	x.u.gso.size = g16(in);
	x.u.gso.type = g8(in) % 4;
	x.u.gso.features = g8(in);
	n_fill(d, d->rx_pvt);
	memcpy(n_rx_slot(d, d->rx_pvt++), &x, sizeof(x));
}

/* A well-formed frame: slots of at most a page, optional GSO extra. */
static void n_rx_frame_cmd(struct ndev *d, struct in *in)
{
	uint8_t b = g8(in);
	uint32_t len = 1 + g16(in) % (d->c->sg ? 20000u : PAGE), off = 0;
	uint16_t csum = b & 1 ? PVIO_NETRXF_csum_blank : b & 2 ? PVIO_NETRXF_data_validated : 0;
	bool first = true;

	while (off < len) {
		uint32_t start = first && (b & 4) ? g8(in) % 64u : 0;
		uint32_t k = len - off < PAGE - start ? len - off : PAGE - start;
		uint16_t fl = first ? csum : 0;

		if (off + k < len)
			fl |= PVIO_NETRXF_more_data;
		if (first && (b & 8))
			fl |= PVIO_NETRXF_extra_info;
		n_rx_write(d, n_rx_want(d), (uint16_t)start, (int16_t)k, fl);
		if (first && (b & 8)) {
			struct pvio_netif_extra_info x;

			memset(&x, 0, sizeof(x));
			x.type = PVIO_XEN_NETIF_EXTRA_TYPE_GSO;
			x.u.gso.size = 1 + g16(in) % 9000u;
			x.u.gso.type = 1 + (b >> 4 & 1);
			memcpy(n_rx_slot(d, d->rx_pvt++), &x, sizeof(x));
		}
		first = false;
		off += k;
	}
}

/* pvio_netfront_arm: 1 when there is work (or the device is dead). */
static void n_arm(struct ndev *d)
{
	bool work = false;
	int r;

	if (!n_up(d)) {
		work = true;
	} else {
		struct pvio_sring *rx = d->q->rx.sring, *tx = d->q->tx.sring;
		uint32_t p = pvio_load_relaxed(&rx->rsp_prod), q = pvio_load_relaxed(&rx->req_prod);

		if (d->rx_broken || p - d->rx_mcons > q - d->rx_mcons)
			d->rx_broken = work = true;
		else if (p != d->rx_mcons)
			work = true;
		if (d->nbusy) {
			p = pvio_load_relaxed(&tx->rsp_prod);
			q = pvio_load_relaxed(&tx->req_prod);
			if (d->tx_broken || p - d->tx_mcons > q - d->tx_mcons)
				d->tx_broken = work = true;
			else if (p != d->tx_mcons)
				work = true;
		}
	}
	r = pvio_netfront_arm(d->nf, 0);
	ASSERT(r == (work ? 1 : 0));
}

/* The backend goes away and a new one connects: what was in flight is
 * dropped, the queue comes up on fresh rings. */
static void n_reconnect(struct ndev *d)
{
	struct nf_queue *q = d->q;

	if (!n_up(d) || !reconnects_left)
		return;
	reconnects_left--;
	nf_queue_down(q, false);
	ASSERT(q->state == NFQ_DOWN && !n_dead(d));
	memset(d->lent, 0, sizeof(d->lent));
	nf_retry_deferred(d->nf);
	ASSERT(nf_queue_alloc(q) == 0);
	nf_queue_up(q);
	ASSERT(q->state == NFQ_UP);
	n_backend_reset(d);
	know_ref(q->tx_ring_ref);
	know_ref(q->rx_ring_ref);
}

static void n_recv_cmd(struct ndev *d, struct in *in)
{
	uint8_t m = g8(in);
	unsigned n = g8(in) % (N_MAXPKT + 1);
	uint32_t caps[N_MAXPKT];

	for (unsigned i = 0; i < n; i++) {
		uint8_t c = g8(in);

		caps[i] = c < 128 ? N_CAP : c < 192 ? g16(in) % 4200u : g16(in) % (N_CAP + 1);
	}
	n_recv(d, m, n, caps);
}

static void fuzz_netfront(struct in *in)
{
	unsigned ci = g8(in) % N_NCFG;
	struct ndev *d = n_get(ci);
	struct nf_queue *q;
	uint32_t caps[N_MAXPKT];

	n_active = (int)ci;
	n_revive(d);
	q = d->q;
	for (unsigned i = 0; i < N_MAXPKT; i++)
		caps[i] = N_CAP;
	nknown = 0;
	know_ref(q->tx_ring_ref);
	know_ref(q->rx_ring_ref);

	while (in->n) {
		switch (g8(in) % 15) {
		case 0:
		case 1:
			n_send(d, in);
			break;
		case 2:
			n_tx_respond(d, in);
			break;
		case 3:
			if (q->state == NFQ_UP)
				pvio_store_release(&q->tx.sring->rsp_prod,
						   push_value(in, d->tx_pvt, d->tx_mcons));
			break;
		case 4:
			n_tx_all(d);
			break;
		case 5:
			if (q->state == NFQ_UP)
				n_rx_slot_cmd(d, in);
			break;
		case 6:
			if (q->state == NFQ_UP)
				n_rx_extra_cmd(d, in);
			break;
		case 7:
			if (q->state == NFQ_UP)
				n_rx_frame_cmd(d, in);
			break;
		case 8:
			if (q->state == NFQ_UP)
				pvio_store_release(&q->rx.sring->rsp_prod,
						   push_value(in, d->rx_pvt, d->rx_mcons));
			break;
		case 9:
		case 10:
			n_recv_cmd(d, in);
			break;
		case 11:
			n_arm(d);
			break;
		case 12:
			held_cmd(in);
			break;
		case 13:
			n_reconnect(d);
			break;
		default:
			if (q->state == NFQ_UP) {
				uint32_t v = g32(in);
				struct pvio_sring *s = v & 1 ? q->tx.sring : q->rx.sring;

				pvio_store_relaxed(&s->req_event, v);
				memset(s->pvt, (int)(v >> 8), 48);
			}
			break;
		}
		held_check();
	}

	/* Finish: tx answered properly, rx drained; a queue left with half a
	 * frame (or a lie it already saw) is taken down, to come up fresh. */
	n_tx_all(d);
	for (unsigned round = 0; round < 64 && n_up(d); round++) {
		uint32_t before = d->rx_mcons;

		n_recv(d, 0, N_MAXPKT, caps);
		if (d->rx_mcons == before)
			break;
	}
	if (n_up(d)) {
		struct pvio_sring *s = q->rx.sring;

		n_recv(d, 0, 0, caps);   /* lent buffers back, everything reposted */
		if (d->nbusy || d->rx_broken || d->tx_broken ||
		    pvio_load_relaxed(&s->rsp_prod) != d->rx_mcons ||
		    pvio_load_relaxed(&q->tx.sring->rsp_prod) != d->tx_mcons) {
			nf_queue_down(q, false);
		} else {
			uint16_t k = 0;

			ASSERT(q->tx_busy == 0 && q->zc_n == 0 && q->rx_free == NF_NONE);
			ASSERT(q->rx.req_prod_pvt - q->rx.rsp_cons == N_ENTS);
			ASSERT(d->nposted == N_ENTS);

			for (uint16_t id = q->tx_free; id != NF_NONE; id = q->txb[id].next_free) {
				ASSERT(id < q->nr_txb && !q->txb[id].busy && k < q->nr_txb);
				k++;
			}
			ASSERT(k == q->nr_txb);
		}
	}
	held_release();
	nf_retry_deferred(d->nf);
	n_revive(d);
}

/* ================================================================ leaks */

/* Every grant and page of the guest is one a live device accounts for. */
static void check_leaks(void)
{
	unsigned grants = 0, pages = barea ? B_AREA_PG : 0;

	for (unsigned i = 0; i < B_NCFG; i++) {
		struct bdev *d = &bdevs[i];
		struct bf_queue *q;

		if (!d->f)
			continue;
		q = d->q;
		ASSERT(d->f->def_n == 0 && d->f->st_leaked_refs == 0);
		if (q->ring_alloc)
			pages += q->ring_pages;
		grants += q->ring_nref + q->ind_granted + q->pc.nr;
		pages += q->ind_granted;
	}
	for (unsigned i = 0; i < N_NCFG; i++) {
		struct ndev *d = &ndevs[i];
		struct nf_queue *q;

		if (!d->nf)
			continue;
		q = d->q;
		ASSERT(d->nf->def_n == 0 && d->nf->st_abandoned == 0);
		if ((int)i == n_active || !n_acct[i].valid) {
			unsigned g = q->tx_ring_granted + q->rx_ring_granted;

			for (uint32_t k = 0; k < q->nr_txb; k++)
				g += q->txb[k].granted;
			for (uint32_t k = 0; k < q->nr_rxb; k++)
				g += q->rxb[k].granted;
			n_acct[i].grants = g;
			n_acct[i].pages = q->tx_ring_alloc + q->rx_ring_alloc + q->nr_txb +
					  q->nr_rxb;
			n_acct[i].valid = true;
		}
		grants += n_acct[i].grants;
		pages += n_acct[i].pages;
	}
	/* A page freed while a grant of it lives (one device's buffer used on
	 * another, whose persistent grant buf_free does not see) stays out of
	 * the allocator until that grant goes. */
	for (uint64_t w = 0; w < (guest->nr_pages + 63) / 64; w++) {
		for (uint64_t bits = guest->page_freeing[w]; bits; bits &= bits - 1) {
			uint64_t g = w * 64 + (uint64_t)__builtin_ctzll(bits);

			ASSERT(guest->page_grants[g] > 0 && guest_page_used(g));
			pages++;
		}
	}
	ASSERT(guest_grants_used() == grants);
	ASSERT(guest_pages_used() == pages);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = { data, size };

	if (size < 2)
		return 0;
	world_up();
	reconnects_left = RECONNECT_MAX;
	n_active = -1;
	if (g8(&in) & 1)
		fuzz_netfront(&in);
	else
		fuzz_blkfront(&in);
	check_leaks();
	return 0;
}
