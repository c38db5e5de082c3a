/* SPDX-License-Identifier: MIT */
/*
 * Xen's io/ring.h macros, used as they are, for the tr message pair (see
 * xen_side.h). Built with -D__XEN_TOOLS__ (tests/ring/module.mk); ring.h
 * leaves the barriers to us (XEN-ABI-NOTES.md §1).
 */
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* Linux's virt_mb/virt_rmb/virt_wmb, in C11 fence terms. */
#define xen_mb()  __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define xen_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define xen_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)

#include <xen/io/ring.h>

#include "tests/ring/xen_side.h"

DEFINE_RING_TYPES(tr, struct tr_req, struct tr_rsp);

_Static_assert(sizeof(union tr_sring_entry) == 112, "slot");
_Static_assert(offsetof(struct tr_sring, ring) == 64, "header");

struct xr_front { tr_front_ring_t r; };
struct xr_back { tr_back_ring_t r; };

unsigned int xr_const_ring_size(size_t bytes)
{
	return __CONST_RING_SIZE(tr, bytes);
}

void xr_sring_init(void *sring)
{
	tr_sring_t *s = sring;

	SHARED_RING_INIT(s);
}

struct xr_front *xr_front_new(void *sring, size_t bytes, uint32_t idx)
{
	struct xr_front *f = calloc(1, sizeof(*f));
	tr_sring_t *s = sring;

	if (f)
		FRONT_RING_ATTACH(&f->r, s, idx, bytes);
	return f;
}

void xr_front_free(struct xr_front *f) { free(f); }
unsigned int xr_front_size(const struct xr_front *f) { return RING_SIZE(&f->r); }
uint32_t xr_front_req_prod_pvt(const struct xr_front *f) { return f->r.req_prod_pvt; }
uint32_t xr_front_rsp_cons(const struct xr_front *f) { return f->r.rsp_cons; }
unsigned int xr_free_requests(const struct xr_front *f) { return RING_FREE_REQUESTS(&f->r); }
bool xr_full(const struct xr_front *f) { return RING_FULL(&f->r); }

struct tr_req *xr_req_slot(struct xr_front *f, unsigned int i)
{
	return RING_GET_REQUEST(&f->r, f->r.req_prod_pvt + i);
}

void xr_produce_requests(struct xr_front *f, unsigned int n)
{
	f->r.req_prod_pvt += n;
}

bool xr_push_requests(struct xr_front *f)
{
	int notify;

	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&f->r, notify);
	return notify;
}

unsigned int xr_unconsumed_responses(struct xr_front *f)
{
	unsigned int n = RING_HAS_UNCONSUMED_RESPONSES(&f->r);

	xen_rmb(); /* responses are read after rsp_prod */
	return n;
}

unsigned int xr_front_final_check(struct xr_front *f)
{
	int work;

	RING_FINAL_CHECK_FOR_RESPONSES(&f->r, work);
	xen_rmb();
	return (unsigned int)work;
}

void xr_get_response(struct xr_front *f, struct tr_rsp *dst)
{
	*dst = *RING_GET_RESPONSE(&f->r, f->r.rsp_cons);
	f->r.rsp_cons++;
}

struct xr_back *xr_back_new(void *sring, size_t bytes, uint32_t idx)
{
	struct xr_back *b = calloc(1, sizeof(*b));
	tr_sring_t *s = sring;

	if (b)
		BACK_RING_ATTACH(&b->r, s, idx, bytes);
	return b;
}

void xr_back_free(struct xr_back *b) { free(b); }
unsigned int xr_back_size(const struct xr_back *b) { return RING_SIZE(&b->r); }
uint32_t xr_back_rsp_prod_pvt(const struct xr_back *b) { return b->r.rsp_prod_pvt; }
uint32_t xr_back_req_cons(const struct xr_back *b) { return b->r.req_cons; }

unsigned int xr_unconsumed_requests(struct xr_back *b)
{
	unsigned int n = RING_HAS_UNCONSUMED_REQUESTS(&b->r);

	xen_rmb(); /* requests are read after req_prod */
	return n;
}

unsigned int xr_back_final_check(struct xr_back *b)
{
	int work;

	RING_FINAL_CHECK_FOR_REQUESTS(&b->r, work);
	xen_rmb();
	return (unsigned int)work;
}

bool xr_request_prod_overflow(struct xr_back *b)
{
	RING_IDX prod = b->r.sring->req_prod;

	return RING_REQUEST_PROD_OVERFLOW(&b->r, prod);
}

void xr_copy_request(struct xr_back *b, struct tr_req *dst)
{
	RING_COPY_REQUEST(&b->r, b->r.req_cons, dst);
	b->r.req_cons++;
}

struct tr_rsp *xr_rsp_slot(struct xr_back *b, unsigned int i)
{
	return RING_GET_RESPONSE(&b->r, b->r.rsp_prod_pvt + i);
}

void xr_produce_responses(struct xr_back *b, unsigned int n)
{
	b->r.rsp_prod_pvt += n;
}

bool xr_push_responses(struct xr_back *b)
{
	int notify;

	RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&b->r, notify);
	return notify;
}
