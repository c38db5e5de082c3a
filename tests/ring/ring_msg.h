/* SPDX-License-Identifier: MIT */
/*
 * The message pair the ring tests send: a blkif-like 112-byte request and a
 * 16-byte response (blkif_request / blkif_response sizes on x86_64), plus
 * deterministic payload and checksum helpers.
 *
 * Freestanding (stdint/string only) so that both pvio-side translation units
 * and the ones compiled against Xen's <xen/io/ring.h> can include it.
 */
#ifndef PVIO_TESTS_RING_MSG_H
#define PVIO_TESTS_RING_MSG_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define TR_PAYLOAD 88

struct tr_req {
	uint8_t  op;
	uint8_t  flags;
	uint16_t len;                 /* payload bytes in use, 1..TR_PAYLOAD */
	uint32_t csum;                /* tr_csum() of seq, len and payload[0..len) */
	uint64_t seq;                 /* 0, 1, 2, ... per direction */
	uint64_t id;                  /* ~seq */
	uint8_t  payload[TR_PAYLOAD];
};
_Static_assert(sizeof(struct tr_req) == 112, "blkif_request-sized");
_Static_assert(offsetof(struct tr_req, payload) == 24, "like blkif seg[]");

struct tr_rsp {
	uint64_t seq;                 /* the request's seq */
	uint32_t csum;                /* the request's csum ^ TR_RSP_MAGIC */
	int16_t  status;
	uint16_t pad;
};
_Static_assert(sizeof(struct tr_rsp) == 16, "blkif_response-sized");

#define TR_RSP_MAGIC 0x5a17c0deu

/* splitmix64: a tiny seedable generator, good enough for scripts. */
static inline uint64_t tr_mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

struct tr_rng { uint64_t s; };

static inline uint64_t tr_rand(struct tr_rng *r)
{
	r->s += 0x9e3779b97f4a7c15ull;
	return tr_mix64(r->s);
}

/* Uniform-ish in [0, n); n > 0. */
static inline uint32_t tr_below(struct tr_rng *r, uint32_t n)
{
	return (uint32_t)(((tr_rand(r) >> 32) * (uint64_t)n) >> 32);
}

/* A 32-bit digest of seq, len and the whole payload (bytes past len are
 * zero in a well-formed request), computed a word at a time. */
static inline uint32_t tr_csum(const struct tr_req *q)
{
	uint64_t h = 0xcbf29ce484222325ull ^ q->seq ^ ((uint64_t)q->len << 48);

	for (size_t i = 0; i < TR_PAYLOAD; i += 8) {
		uint64_t w;

		memcpy(&w, q->payload + i, 8);
		h = (h ^ w) * 0x100000001b3ull;
		h ^= h >> 29;
	}
	return (uint32_t)(h ^ (h >> 32));
}

/* The request number `seq` of a stream, entirely determined by (salt, seq). */
static inline void tr_req_make(struct tr_req *q, uint64_t salt, uint64_t seq)
{
	uint64_t x = tr_mix64(salt ^ (seq * 0x2545f4914f6cdd1dull));

	q->op = (uint8_t)(seq & 1);
	q->flags = (uint8_t)(x >> 56);
	q->len = (uint16_t)(1 + x % TR_PAYLOAD);
	q->seq = seq;
	q->id = ~seq;
	for (size_t i = 0; i < TR_PAYLOAD; i += 8) {
		x += 0x9e3779b97f4a7c15ull;
		memcpy(q->payload + i, &x, 8);
	}
	memset(q->payload + q->len, 0, TR_PAYLOAD - q->len);
	q->csum = tr_csum(q);
}

static inline void tr_rsp_make(struct tr_rsp *s, const struct tr_req *q)
{
	memset(s, 0, sizeof(*s));
	s->seq = q->seq;
	s->csum = q->csum ^ TR_RSP_MAGIC;
	s->status = (int16_t)(q->op ? -1 : 0);
}

/* 0 if q is exactly request `seq` of stream `salt`. */
static inline int tr_req_check(const struct tr_req *q, uint64_t salt, uint64_t seq)
{
	struct tr_req want;

	if (q->seq != seq || q->id != ~seq || q->len < 1 || q->len > TR_PAYLOAD ||
	    tr_csum(q) != q->csum)
		return -1;
	tr_req_make(&want, salt, seq);
	return memcmp(q, &want, sizeof(want)) ? -1 : 0;
}

/* 0 if s answers request `seq` of stream `salt`. */
static inline int tr_rsp_check(const struct tr_rsp *s, uint64_t salt, uint64_t seq)
{
	struct tr_req q;
	struct tr_rsp want;

	tr_req_make(&q, salt, seq);
	tr_rsp_make(&want, &q);
	return memcmp(s, &want, sizeof(want)) ? -1 : 0;
}

#endif /* PVIO_TESTS_RING_MSG_H */
