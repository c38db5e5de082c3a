/* SPDX-License-Identifier: MIT */
/*
 * The reference implementation for the ring tests: thin functions around
 * Xen's own <xen/io/ring.h> macros (compiled in xen_side.c, a translation
 * unit that never sees pvio's ring.h), for the tr_req/tr_rsp message pair.
 *
 * As in Linux's blkfront/blkback, the read barrier a consumer needs between
 * reading the peer's producer index and reading the slots is the caller's
 * job in Xen's API; these wrappers issue xen_rmb() right after every
 * RING_HAS_UNCONSUMED_* / RING_FINAL_CHECK_* they run.
 */
#ifndef PVIO_TESTS_RING_XEN_SIDE_H
#define PVIO_TESTS_RING_XEN_SIDE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tests/ring/ring_msg.h"

struct xr_front;
struct xr_back;

/* __CONST_RING_SIZE(tr, bytes): entries of a `bytes`-byte shared ring. */
unsigned int xr_const_ring_size(size_t bytes);
/* SHARED_RING_INIT */
void xr_sring_init(void *sring);

/* FRONT_RING_ATTACH(r, sring, idx, bytes) on a malloc'ed front ring. */
struct xr_front *xr_front_new(void *sring, size_t bytes, uint32_t idx);
void xr_front_free(struct xr_front *f);
unsigned int xr_front_size(const struct xr_front *f);       /* RING_SIZE */
uint32_t xr_front_req_prod_pvt(const struct xr_front *f);
uint32_t xr_front_rsp_cons(const struct xr_front *f);
unsigned int xr_free_requests(const struct xr_front *f);    /* RING_FREE_REQUESTS */
bool xr_full(const struct xr_front *f);                     /* RING_FULL */
/* RING_GET_REQUEST(f, req_prod_pvt + i) */
struct tr_req *xr_req_slot(struct xr_front *f, unsigned int i);
void xr_produce_requests(struct xr_front *f, unsigned int n); /* req_prod_pvt += n */
bool xr_push_requests(struct xr_front *f);   /* RING_PUSH_REQUESTS_AND_CHECK_NOTIFY */
unsigned int xr_unconsumed_responses(struct xr_front *f);   /* RING_HAS_UNCONSUMED_RESPONSES */
unsigned int xr_front_final_check(struct xr_front *f);      /* RING_FINAL_CHECK_FOR_RESPONSES */
/* *dst = *RING_GET_RESPONSE(f, rsp_cons++) */
void xr_get_response(struct xr_front *f, struct tr_rsp *dst);

/* BACK_RING_ATTACH(r, sring, idx, bytes). */
struct xr_back *xr_back_new(void *sring, size_t bytes, uint32_t idx);
void xr_back_free(struct xr_back *b);
unsigned int xr_back_size(const struct xr_back *b);
uint32_t xr_back_rsp_prod_pvt(const struct xr_back *b);
uint32_t xr_back_req_cons(const struct xr_back *b);
unsigned int xr_unconsumed_requests(struct xr_back *b);     /* RING_HAS_UNCONSUMED_REQUESTS */
unsigned int xr_back_final_check(struct xr_back *b);        /* RING_FINAL_CHECK_FOR_REQUESTS */
/* RING_REQUEST_PROD_OVERFLOW(b, sring->req_prod) */
bool xr_request_prod_overflow(struct xr_back *b);
/* RING_COPY_REQUEST(b, req_cons++, dst) */
void xr_copy_request(struct xr_back *b, struct tr_req *dst);
/* RING_GET_RESPONSE(b, rsp_prod_pvt + i) */
struct tr_rsp *xr_rsp_slot(struct xr_back *b, unsigned int i);
void xr_produce_responses(struct xr_back *b, unsigned int n);
bool xr_push_responses(struct xr_back *b);   /* RING_PUSH_RESPONSES_AND_CHECK_NOTIFY */

#endif /* PVIO_TESTS_RING_XEN_SIDE_H */
