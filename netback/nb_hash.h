/* SPDX-License-Identifier: MIT */
/*
 * Receive-side hashing of a vif (no DPDK): the Toeplitz configuration a
 * frontend sets through its control ring, the handling of each ctrl-ring
 * request (Xen's netif.h "Control ring", Linux netback's hash.c), and the
 * queue choice for a packet going to a multi-queue vif.
 *
 * Every index, size and length a request carries is checked against the
 * table it addresses before anything is copied or written (XSA-270), and a
 * mapping update is copied into private memory and validated whole before
 * it replaces the active one.
 *
 * Threads: one writer (the vif's ctrl-ring poller), any number of readers
 * (the threads that forward packets to this vif), through a sequence lock.
 */
#ifndef PVIO_NB_HASH_H
#define PVIO_NB_HASH_H

#include <stdbool.h>
#include <stdint.h>

#include "netback/nb_pkt.h"
#include "ring/netif.h"

#define NB_HASH_KEY_MAX      PVIO_NETIF_TOEPLITZ_KEY_SIZE         /* 40 */
#define NB_HASH_MAPPING_MAX  PVIO_NETIF_HASH_MAPPING_SIZE_MAX     /* 128 */
#define NB_HASH_SUPPORTED_FLAGS                                          \
	(PVIO_XEN_NETIF_CTRL_HASH_TYPE_IPV4 | PVIO_XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP | \
	 PVIO_XEN_NETIF_CTRL_HASH_TYPE_IPV6 | PVIO_XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP)

struct nb_hash_cfg {
	uint32_t seq;                          /* odd while being written */
	uint8_t  alg;                          /* PVIO_XEN_NETIF_CTRL_HASH_ALGORITHM_* */
	uint32_t flags;                        /* PVIO_XEN_NETIF_CTRL_HASH_TYPE_* masks */
	uint8_t  key[NB_HASH_KEY_MAX];
	uint32_t size;                         /* mapping entries in use, 0..128 */
	uint32_t mapping[NB_HASH_MAPPING_MAX]; /* each < nr_queues */
};

/* Reset to "no hashing configured" (algorithm NONE, default key). */
void nb_hash_init(struct nb_hash_cfg *c);

/*
 * Copy len bytes of the frontend's granted page gref (from offset 0) into
 * dst. Returns 0 or -errno (bad grant). Provided by the data path
 * (pvio_hv_copy); tests pass a fake.
 */
typedef int (*nb_gref_copy_fn)(void *arg, uint32_t gref, void *dst, uint32_t len);

/*
 * Handle one control request (a private copy) for a vif with nr_queues
 * queues; fills *rsp (zeroed first). The only writer of c.
 */
void nb_ctrl_handle(struct nb_hash_cfg *c, unsigned nr_queues,
		    const struct pvio_xen_netif_ctrl_request *req,
		    struct pvio_xen_netif_ctrl_response *rsp,
		    nb_gref_copy_fn copy, void *arg);

/*
 * The Toeplitz input of a packet for the first hash type in `flags` that
 * applies (TCP 4-tuple before the address pair). pkt: the packet's first
 * bytes, parsed into h. Returns the input length and sets *type to the
 * type's bit number (_PVIO_XEN_NETIF_CTRL_HASH_TYPE_*), or 0 if no type
 * applies.
 */
unsigned nb_hash_input(const uint8_t *pkt, const struct nb_hdr *h, uint32_t flags,
		       uint8_t in[PVIO_NETIF_HASH_INPUT_IPV6_TCP], int *type);

struct nb_hash_result {
	bool     valid;     /* the frontend configured Toeplitz and a type applied */
	uint8_t  type;      /* bit number, for the HASH extra info */
	uint32_t value;
	unsigned queue;
};

/*
 * Pick the receive queue (< nr_queues) of a packet for a vif with config
 * c. With the frontend's Toeplitz configuration, queue = mapping[hash %
 * size] (or hash % nr_queues when size is 0) and res->valid is set; without
 * one, a Toeplitz hash with the default key over whatever applies spreads
 * flows (res->valid false). Every value read is bounds-checked again.
 */
void nb_hash_select(const struct nb_hash_cfg *c, unsigned nr_queues, const uint8_t *pkt,
		    const struct nb_hdr *h, struct nb_hash_result *res);

/* The default key (the common RSS key, as Microsoft's RSS specification). */
extern const uint8_t nb_hash_default_key[NB_HASH_KEY_MAX];

#endif /* PVIO_NB_HASH_H */
