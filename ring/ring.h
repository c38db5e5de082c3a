/* SPDX-License-Identifier: MIT */
/*
 * pvio shared-ring engine: Xen's io/ring.h layout (DEFINE_RING_TYPES), byte
 * for byte, with C11 atomics, consumer-side validation and copy-out.
 *
 * Shared memory (one page or 2^order contiguous pages):
 *
 *   0   req_prod   [FE] requests produced (free-running u32)
 *   4   req_event  [BE] "notify me when req_prod passes this"
 *   8   rsp_prod   [BE] responses produced
 *   12  rsp_event  [FE] "notify me when rsp_prod passes this"
 *   16  pvt[4], pad[44]
 *   64  ring[nr_ents], each slot a union of one request and one response;
 *       nr_ents = the largest power of two with 64 + nr_ents*slot <= bytes.
 *
 * Each side keeps its private cursors in its own memory (struct
 * pvio_ring_front / pvio_ring_back), never in the shared page.
 *
 * The peer is hostile. A consumer reads the peer's producer index once,
 * rejects an index that runs ahead of what the ring can hold (Xen's
 * RING_REQUEST_PROD_OVERFLOW) or moves backwards, then copies each slot into
 * private memory before looking at it (XSA-155). A broken ring stays broken:
 * every later call returns -EPROTO until the ring is attached again.
 *
 * The typed layer, PVIO_RING_DEFINE(name, req_t, rsp_t), plays the role of
 * DEFINE_RING_TYPES: it defines the slot union and wrappers whose sizes are
 * compile-time constants.
 */
#ifndef PVIO_RING_H
#define PVIO_RING_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ring/pvio_atomic.h"

#define PVIO_PAGE_SHIFT       12
#define PVIO_PAGE_SIZE        (1u << PVIO_PAGE_SHIFT)
#define PVIO_RING_MAX_ORDER   4   /* 16 pages, XENBUS_MAX_RING_GRANT_ORDER */
#define PVIO_SRING_HDR_SIZE   64

/* The shared header. The entries follow at offset 64. */
struct pvio_sring {
	uint32_t req_prod;    /* [FE] */
	uint32_t req_event;   /* [BE] */
	uint32_t rsp_prod;    /* [BE] */
	uint32_t rsp_event;   /* [FE] */
	uint8_t  pvt[4];      /* driver-private (netif smartpoll, ...) */
	uint8_t  pad[44];
	uint8_t  ring[];      /* [FE] request / [BE] response slots */
};
_Static_assert(sizeof(struct pvio_sring) == PVIO_SRING_HDR_SIZE, "sring header");
_Static_assert(offsetof(struct pvio_sring, req_prod) == 0, "req_prod");
_Static_assert(offsetof(struct pvio_sring, req_event) == 4, "req_event");
_Static_assert(offsetof(struct pvio_sring, rsp_prod) == 8, "rsp_prod");
_Static_assert(offsetof(struct pvio_sring, rsp_event) == 12, "rsp_event");
_Static_assert(offsetof(struct pvio_sring, pvt) == 16, "pvt");
_Static_assert(offsetof(struct pvio_sring, pad) == 20, "pad");
_Static_assert(offsetof(struct pvio_sring, ring) == 64, "ring");

/* Frontend (request producer, response consumer) private state. */
struct pvio_ring_front {
	struct pvio_sring *sring;
	uint32_t req_prod_pvt;   /* next request slot to fill */
	uint32_t req_pushed;     /* req_prod as we last published it (the
				  * shared copy is the peer's to corrupt) */
	uint32_t rsp_cons;       /* next response to consume */
	uint32_t nr_ents;        /* power of two */
	uint32_t slot_size;      /* bytes per slot */
	bool     broken;         /* the backend violated the protocol */
};

/* Backend (request consumer, response producer) private state. */
struct pvio_ring_back {
	struct pvio_sring *sring;
	uint32_t rsp_prod_pvt;   /* next response slot to fill */
	uint32_t rsp_pushed;     /* rsp_prod as we last published it (only we
				  * write it: no read of the shared line) */
	uint32_t req_cons;       /* next request to consume */
	uint32_t nr_ents;
	uint32_t slot_size;
	bool     broken;         /* the frontend violated the protocol */
};

/*
 * Number of slots of slot_size bytes in a shared ring of `bytes` bytes:
 * the largest power of two that fits after the header (Xen's __RING_SIZE).
 * Returns 0 when not even one slot fits.
 */
static inline uint32_t pvio_ring_nr_ents(size_t bytes, size_t slot_size)
{
	size_t n;
	uint32_t p = 1;

	if (slot_size == 0 || bytes < PVIO_SRING_HDR_SIZE + slot_size)
		return 0;
	n = (bytes - PVIO_SRING_HDR_SIZE) / slot_size;
	while ((size_t)p * 2 <= n && p < (1u << 30))
		p *= 2;
	return p;
}

/* Bytes of a shared ring of 2^order pages; -EINVAL past PVIO_RING_MAX_ORDER. */
long pvio_ring_bytes_for_order(unsigned int order);

/* SHARED_RING_INIT: run by the frontend on a fresh shared ring. */
static inline void pvio_sring_init(struct pvio_sring *s)
{
	memset(s, 0, PVIO_SRING_HDR_SIZE);
	s->req_event = 1;
	s->rsp_event = 1;
}

/* FRONT_RING_INIT/ATTACH: -EINVAL if the ring cannot hold one slot. */
static inline int pvio_ring_front_attach(struct pvio_ring_front *f, void *sring,
					 size_t bytes, size_t slot_size)
{
	struct pvio_sring *s = (struct pvio_sring *)sring;

	memset(f, 0, sizeof(*f));
	f->nr_ents = pvio_ring_nr_ents(bytes, slot_size);
	if (f->nr_ents == 0 || slot_size > UINT32_MAX)
		return -EINVAL;
	f->sring = s;
	f->slot_size = (uint32_t)slot_size;
	/* Resume where the shared ring stands (FRONT_RING_ATTACH); a fresh
	 * ring, after pvio_sring_init(), starts at 0. */
	f->req_prod_pvt = pvio_load_relaxed(&s->req_prod);
	f->req_pushed = f->req_prod_pvt;
	f->rsp_cons = f->req_prod_pvt;
	return 0;
}

/* BACK_RING_INIT/ATTACH. */
static inline int pvio_ring_back_attach(struct pvio_ring_back *b, void *sring,
					size_t bytes, size_t slot_size)
{
	struct pvio_sring *s = (struct pvio_sring *)sring;

	memset(b, 0, sizeof(*b));
	b->nr_ents = pvio_ring_nr_ents(bytes, slot_size);
	if (b->nr_ents == 0 || slot_size > UINT32_MAX)
		return -EINVAL;
	b->sring = s;
	b->slot_size = (uint32_t)slot_size;
	/* Start at the responses already produced; requests between rsp_prod and
	 * req_prod are pending. A hostile value is caught by the first
	 * pvio_ring_back_pending(). */
	b->rsp_prod_pvt = pvio_load_relaxed(&s->rsp_prod);
	b->rsp_pushed = b->rsp_prod_pvt;
	b->req_cons = b->rsp_prod_pvt;
	return 0;
}

static inline void *pvio__ring_slot(struct pvio_sring *s, uint32_t idx,
				    uint32_t nr_ents, size_t slot_size)
{
	return s->ring + (size_t)(idx & (nr_ents - 1)) * slot_size;
}

/* ---------------------------------------------------------------- frontend */

/* Free request slots (RING_FREE_REQUESTS). */
static inline uint32_t pvio_ring_free_requests(const struct pvio_ring_front *f)
{
	return f->nr_ents - (f->req_prod_pvt - f->rsp_cons);
}

static inline bool pvio_ring_full(const struct pvio_ring_front *f)
{
	return pvio_ring_free_requests(f) == 0;
}

/* The i-th free request slot (i < free requests), to be filled in place. */
static inline void *pvio_ring_req_slot(struct pvio_ring_front *f, uint32_t i)
{
	return pvio__ring_slot(f->sring, f->req_prod_pvt + i, f->nr_ents, f->slot_size);
}

/* Account n filled slots as produced (not yet visible to the backend). */
static inline void pvio_ring_produce_requests(struct pvio_ring_front *f, uint32_t n)
{
	f->req_prod_pvt += n;
}

/*
 * Publish produced requests and say whether the backend must be notified
 * (RING_PUSH_REQUESTS_AND_CHECK_NOTIFY): notify iff req_event lies in
 * (old, new].
 */
static inline bool pvio_ring_push_requests(struct pvio_ring_front *f)
{
	struct pvio_sring *s = f->sring;
	uint32_t old = f->req_pushed;
	uint32_t new_ = f->req_prod_pvt;

	/* Release: the slot contents are visible before the index. Pairs with
	 * the load-acquire of req_prod in pvio_ring_back_pending(). */
	pvio_store_release(&s->req_prod, new_);
	f->req_pushed = new_;
	/* Store-load: our req_prod store must be visible before we read
	 * req_event, else we may miss the backend going to sleep. Pairs with
	 * the fence in pvio_ring_back_final_check(). */
	pvio_mb();
	return (uint32_t)(new_ - pvio_load_relaxed(&s->req_event)) <
	       (uint32_t)(new_ - old);
}

/*
 * Publish produced requests without deciding about a notification: for a
 * caller whose peer busy-polls (it never sleeps on req_event). Saves the full
 * fence of pvio_ring_push_requests(), the dominant cost of a push between
 * two cores. A peer that may sleep must be served by the _push_ variant.
 */
static inline void pvio_ring_publish_requests(struct pvio_ring_front *f)
{
	/* Release: pairs with the acquire in pvio_ring_back_pending(). */
	pvio_store_release(&f->sring->req_prod, f->req_prod_pvt);
	f->req_pushed = f->req_prod_pvt;
}

/*
 * Responses ready to consume, or -EPROTO if the backend's rsp_prod claims
 * more responses than requests outstanding (or moved backwards).
 */
static inline int pvio_ring_front_pending(struct pvio_ring_front *f)
{
	uint32_t prod, avail;

	if (f->broken)
		return -EPROTO;
	/* Acquire: pairs with the release of rsp_prod in
	 * pvio_ring_push_responses(); response slots are visible after it. */
	prod = pvio_load_acquire(&f->sring->rsp_prod);
	avail = prod - f->rsp_cons;
	/* Only requests we published can have been answered. */
	if (avail > f->req_pushed - f->rsp_cons) {
		f->broken = true;
		return -EPROTO;
	}
	return (int)avail;
}

/* Pointer to the next response slot (valid only while pending > 0). Read it
 * once; prefer pvio_ring_copy_response(). */
static inline const void *pvio_ring_rsp_slot(struct pvio_ring_front *f)
{
	return pvio__ring_slot(f->sring, f->rsp_cons, f->nr_ents, f->slot_size);
}

/* Copy the next response into private memory and consume it. Call only
 * after pvio_ring_front_pending() returned > 0 for it. */
static inline void pvio_ring_copy_response(struct pvio_ring_front *f, void *dst,
					   size_t len)
{
	memcpy(dst, pvio_ring_rsp_slot(f), len);
	f->rsp_cons++;
}

static inline void pvio_ring_consume_responses(struct pvio_ring_front *f, uint32_t n)
{
	f->rsp_cons += n;
}

/*
 * RING_FINAL_CHECK_FOR_RESPONSES: if nothing is pending, ask to be notified
 * at the next response and look once more. Returns the number pending (> 0:
 * keep going, 0: safe to sleep) or -EPROTO.
 */
static inline int pvio_ring_front_final_check(struct pvio_ring_front *f)
{
	int n = pvio_ring_front_pending(f);

	if (n != 0)
		return n;
	pvio_store_relaxed(&f->sring->rsp_event, f->rsp_cons + 1);
	/* Store-load: rsp_event must be visible before we re-read rsp_prod.
	 * Pairs with the fence in pvio_ring_push_responses(). */
	pvio_mb();
	return pvio_ring_front_pending(f);
}

/* ----------------------------------------------------------------- backend */

/*
 * Requests ready to consume (0..nr_ents), or -EPROTO when the frontend's
 * req_prod overflows the ring (more than nr_ents ahead of the responses we
 * produced, RING_REQUEST_PROD_OVERFLOW) or moves backwards. Reads req_prod
 * exactly once.
 */
static inline int pvio_ring_back_pending(struct pvio_ring_back *b)
{
	uint32_t prod, avail;

	if (b->broken)
		return -EPROTO;
	/* Acquire: pairs with the release in pvio_ring_push_requests(). */
	prod = pvio_load_acquire(&b->sring->req_prod);
	avail = prod - b->req_cons;
	if ((uint32_t)(prod - b->rsp_prod_pvt) > b->nr_ents ||
	    avail > (uint32_t)(prod - b->rsp_prod_pvt)) {
		b->broken = true;
		return -EPROTO;
	}
	return (int)avail;
}

/* Pointer to the next request slot, for callers that copy it themselves. */
static inline const void *pvio_ring_req_slot_peek(struct pvio_ring_back *b)
{
	return pvio__ring_slot(b->sring, b->req_cons, b->nr_ents, b->slot_size);
}

/* Copy the next request into private memory and consume it (RING_COPY_REQUEST).
 * Call only for requests counted by pvio_ring_back_pending(). */
static inline void pvio_ring_copy_request(struct pvio_ring_back *b, void *dst,
					  size_t len)
{
	memcpy(dst, pvio_ring_req_slot_peek(b), len);
	b->req_cons++;
}

/* Number of responses that can still be written without overtaking requests
 * consumed (each consumed request owns one response slot). */
static inline uint32_t pvio_ring_back_rsp_room(const struct pvio_ring_back *b)
{
	return b->req_cons - b->rsp_prod_pvt;
}

/* The i-th next response slot, to be written in place. */
static inline void *pvio_ring_rsp_slot_at(struct pvio_ring_back *b, uint32_t i)
{
	return pvio__ring_slot(b->sring, b->rsp_prod_pvt + i, b->nr_ents, b->slot_size);
}

/* Copy a fully built private response (zeroed, field by field: XSA-216) into
 * the next response slot. */
static inline void pvio_ring_put_response(struct pvio_ring_back *b, const void *rsp,
					  size_t len)
{
	memcpy(pvio_ring_rsp_slot_at(b, 0), rsp, len);
	b->rsp_prod_pvt++;
}

static inline void pvio_ring_produce_responses(struct pvio_ring_back *b, uint32_t n)
{
	b->rsp_prod_pvt += n;
}

/* RING_PUSH_RESPONSES_AND_CHECK_NOTIFY: notify iff rsp_event in (old, new]. */
static inline bool pvio_ring_push_responses(struct pvio_ring_back *b)
{
	struct pvio_sring *s = b->sring;
	uint32_t old = b->rsp_pushed;
	uint32_t new_ = b->rsp_prod_pvt;

	/* Release: response slots before the index. Pairs with the acquire in
	 * pvio_ring_front_pending(). */
	pvio_store_release(&s->rsp_prod, new_);
	b->rsp_pushed = new_;
	/* Store-load against our read of rsp_event; pairs with the fence in
	 * pvio_ring_front_final_check(). */
	pvio_mb();
	return (uint32_t)(new_ - pvio_load_relaxed(&s->rsp_event)) <
	       (uint32_t)(new_ - old);
}

/* Publish responses for a busy-polling frontend (no fence, no notify
 * decision); see pvio_ring_publish_requests(). */
static inline void pvio_ring_publish_responses(struct pvio_ring_back *b)
{
	/* Release: pairs with the acquire in pvio_ring_front_pending(). */
	pvio_store_release(&b->sring->rsp_prod, b->rsp_prod_pvt);
	b->rsp_pushed = b->rsp_prod_pvt;
}

/* RING_FINAL_CHECK_FOR_REQUESTS: > 0 more work, 0 safe to sleep, -EPROTO. */
static inline int pvio_ring_back_final_check(struct pvio_ring_back *b)
{
	int n = pvio_ring_back_pending(b);

	if (n != 0)
		return n;
	pvio_store_relaxed(&b->sring->req_event, b->req_cons + 1);
	/* Store-load: req_event visible before re-reading req_prod. Pairs with
	 * the fence in pvio_ring_push_requests(). */
	pvio_mb();
	return pvio_ring_back_pending(b);
}

/* --------------------------------------------------------------- typed layer */

/*
 * PVIO_RING_DEFINE(name, req_t, rsp_t) defines `union name##_slot` (the
 * slot type, as DEFINE_RING_TYPES's name##_sring_entry) and typed wrappers:
 *   name##_ring_nr_ents(bytes)
 *   name##_front_attach(f, sring, bytes) / name##_back_attach(b, sring, bytes)
 *   req_t *name##_req_slot(f, i)             (frontend fills in place)
 *   name##_copy_response(f, rsp_t *dst)       (frontend consumes a copy)
 *   name##_copy_request(b, req_t *dst)        (backend consumes a copy)
 *   name##_put_response(b, const rsp_t *rsp)  (backend produces)
 */
#define PVIO_RING_DEFINE(name, req_t, rsp_t)                                       \
	union name##_slot { req_t req; rsp_t rsp; };                                \
	static inline uint32_t name##_ring_nr_ents(size_t bytes)                    \
	{ return pvio_ring_nr_ents(bytes, sizeof(union name##_slot)); }             \
	static inline int name##_front_attach(struct pvio_ring_front *f, void *s,   \
					      size_t bytes)                          \
	{ return pvio_ring_front_attach(f, s, bytes, sizeof(union name##_slot)); }  \
	static inline int name##_back_attach(struct pvio_ring_back *b, void *s,     \
					     size_t bytes)                           \
	{ return pvio_ring_back_attach(b, s, bytes, sizeof(union name##_slot)); }   \
	static inline req_t *name##_req_slot(struct pvio_ring_front *f, uint32_t i) \
	{                                                                           \
		return &((union name##_slot *)f->sring->ring)                       \
			[(f->req_prod_pvt + i) & (f->nr_ents - 1)].req;             \
	}                                                                           \
	static inline void name##_copy_response(struct pvio_ring_front *f,          \
						rsp_t *dst)                          \
	{                                                                           \
		memcpy(dst, &((union name##_slot *)f->sring->ring)                  \
			[f->rsp_cons & (f->nr_ents - 1)].rsp, sizeof(rsp_t));       \
		f->rsp_cons++;                                                      \
	}                                                                           \
	static inline void name##_copy_request(struct pvio_ring_back *b, req_t *dst)\
	{                                                                           \
		memcpy(dst, &((union name##_slot *)b->sring->ring)                  \
			[b->req_cons & (b->nr_ents - 1)].req, sizeof(req_t));       \
		b->req_cons++;                                                      \
	}                                                                           \
	static inline void name##_put_response(struct pvio_ring_back *b,            \
					       const rsp_t *rsp)                     \
	{                                                                           \
		memcpy(&((union name##_slot *)b->sring->ring)                       \
			[b->rsp_prod_pvt & (b->nr_ents - 1)].rsp, rsp, sizeof(rsp_t));\
		b->rsp_prod_pvt++;                                                  \
	}                                                                           \
	struct name##__ring_define_end /* require a trailing semicolon */

#endif /* PVIO_RING_H */
