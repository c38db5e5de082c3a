/* SPDX-License-Identifier: MIT */
/* Toeplitz configuration, ctrl-ring requests, queue choice: see nb_hash.h. */
#include <string.h>

#include "netback/nb_hash.h"
#include "ring/pvio_atomic.h"

const uint8_t nb_hash_default_key[NB_HASH_KEY_MAX] = {
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67,
	0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb,
	0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30,
	0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

/* Sequence lock, writer side (one writer). */
static void wr_begin(struct nb_hash_cfg *c)
{
	pvio_store_relaxed(&c->seq, c->seq + 1);
	/* The odd seq is visible before any data store; pairs with the fence
	 * in nb_hash_select() before it re-reads seq. */
	pvio_mb();
}

static void wr_end(struct nb_hash_cfg *c)
{
	/* Release: the data before the even seq; pairs with the acquire load
	 * of seq in nb_hash_select(). */
	pvio_store_release(&c->seq, c->seq + 1);
}

void nb_hash_init(struct nb_hash_cfg *c)
{
	wr_begin(c);
	c->alg = PVIO_XEN_NETIF_CTRL_HASH_ALGORITHM_NONE;
	c->flags = 0;
	memcpy(c->key, nb_hash_default_key, sizeof(c->key));
	c->size = 0;
	memset(c->mapping, 0, sizeof(c->mapping));
	wr_end(c);
}

void nb_ctrl_handle(struct nb_hash_cfg *c, unsigned nr_queues,
		    const struct pvio_xen_netif_ctrl_request *req,
		    struct pvio_xen_netif_ctrl_response *rsp,
		    nb_gref_copy_fn copy, void *arg)
{
	uint32_t d0 = req->data[0], d1 = req->data[1], d2 = req->data[2];

	memset(rsp, 0, sizeof(*rsp));
	rsp->id = req->id;
	rsp->type = req->type;
	rsp->status = PVIO_XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED;

	switch (req->type) {
	case PVIO_XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS:
		/* As Linux: only once an algorithm is chosen (xenvif sets
		 * one first). */
		if (c->alg == PVIO_XEN_NETIF_CTRL_HASH_ALGORITHM_NONE)
			break;
		rsp->status = PVIO_XEN_NETIF_CTRL_STATUS_SUCCESS;
		rsp->data = NB_HASH_SUPPORTED_FLAGS;
		break;

	case PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS:
		/* As Linux: flags only once an algorithm is chosen. */
		if ((d0 & ~(uint32_t)NB_HASH_SUPPORTED_FLAGS) ||
		    c->alg == PVIO_XEN_NETIF_CTRL_HASH_ALGORITHM_NONE) {
			rsp->status = PVIO_XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
			break;
		}
		wr_begin(c);
		c->flags = d0;
		wr_end(c);
		rsp->status = PVIO_XEN_NETIF_CTRL_STATUS_SUCCESS;
		break;

	case PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_KEY: {
		uint8_t key[NB_HASH_KEY_MAX];

		/* d0 = gref, d1 = length. Too long: INVALID_PARAMETER as
		 * Linux answers (netif.h suggests BUFFER_OVERFLOW). */
		if (d1 > NB_HASH_KEY_MAX) {
			rsp->status = PVIO_XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
			break;
		}
		memset(key, 0, sizeof(key));
		if (d1 && copy(arg, d0, key, d1) < 0) {
			rsp->status = PVIO_XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
			break;
		}
		wr_begin(c);
		memcpy(c->key, key, sizeof(key));   /* missing bytes are zero */
		wr_end(c);
		rsp->status = PVIO_XEN_NETIF_CTRL_STATUS_SUCCESS;
		break;
	}

	case PVIO_XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE:
		rsp->status = PVIO_XEN_NETIF_CTRL_STATUS_SUCCESS;
		rsp->data = NB_HASH_MAPPING_MAX;
		break;

	case PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE:
		if (d0 > NB_HASH_MAPPING_MAX) {
			rsp->status = PVIO_XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
			break;
		}
		wr_begin(c);
		c->size = d0;
		memset(c->mapping, 0, sizeof(c->mapping));
		wr_end(c);
		rsp->status = PVIO_XEN_NETIF_CTRL_STATUS_SUCCESS;
		break;

	case PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING: {
		uint32_t m[PVIO_PAGE_SIZE / sizeof(uint32_t)];

		/* d0 = gref, d1 = entries, d2 = first entry to set. Checked
		 * without overflow before anything is copied (XSA-270). */
		if (d2 + d1 < d2 || d2 + d1 > c->size || d1 > PVIO_PAGE_SIZE / sizeof(uint32_t)) {
			rsp->status = PVIO_XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
			break;
		}
		if (d1 && copy(arg, d0, m, d1 * (uint32_t)sizeof(uint32_t)) < 0) {
			rsp->status = PVIO_XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
			break;
		}
		/* Validate the private copy whole: nothing changes on error. */
		for (uint32_t i = 0; i < d1; i++)
			if (m[i] >= nr_queues) {
				rsp->status = PVIO_XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
				return;
			}
		wr_begin(c);
		for (uint32_t i = 0; i < d1; i++)
			c->mapping[d2 + i] = m[i];
		wr_end(c);
		rsp->status = PVIO_XEN_NETIF_CTRL_STATUS_SUCCESS;
		break;
	}

	case PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM:
		if (d0 != PVIO_XEN_NETIF_CTRL_HASH_ALGORITHM_NONE &&
		    d0 != PVIO_XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ) {
			rsp->status = PVIO_XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
			break;
		}
		wr_begin(c);
		c->alg = (uint8_t)d0;
		wr_end(c);
		rsp->status = PVIO_XEN_NETIF_CTRL_STATUS_SUCCESS;
		break;

	default:
		/* INVALID, the gref-mapping requests (not offered), unknown. */
		break;
	}
}

unsigned nb_hash_input(const uint8_t *pkt, const struct nb_hdr *h, uint32_t flags,
		       uint8_t in[PVIO_NETIF_HASH_INPUT_IPV6_TCP], int *type)
{
	const uint8_t *ip = pkt + h->l2_len;
	bool tcp = h->l4proto == NB_IPPROTO_TCP && !h->fragment && h->l4_len >= 20;

	if (h->l3 == NB_L3_IPV4) {
		memcpy(in, ip + 12, 8);
		if ((flags & PVIO_XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP) && tcp) {
			memcpy(in + 8, ip + h->l3_len, 4);
			*type = _PVIO_XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP;
			return PVIO_NETIF_HASH_INPUT_IPV4_TCP;
		}
		if (flags & PVIO_XEN_NETIF_CTRL_HASH_TYPE_IPV4) {
			*type = _PVIO_XEN_NETIF_CTRL_HASH_TYPE_IPV4;
			return PVIO_NETIF_HASH_INPUT_IPV4;
		}
	} else if (h->l3 == NB_L3_IPV6) {
		memcpy(in, ip + 8, 32);
		if ((flags & PVIO_XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP) && tcp) {
			memcpy(in + 32, ip + h->l3_len, 4);
			*type = _PVIO_XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP;
			return PVIO_NETIF_HASH_INPUT_IPV6_TCP;
		}
		if (flags & PVIO_XEN_NETIF_CTRL_HASH_TYPE_IPV6) {
			*type = _PVIO_XEN_NETIF_CTRL_HASH_TYPE_IPV6;
			return PVIO_NETIF_HASH_INPUT_IPV6;
		}
	}
	return 0;
}

void nb_hash_select(const struct nb_hash_cfg *c, unsigned nr_queues, const uint8_t *pkt,
		    const struct nb_hdr *h, struct nb_hash_result *res)
{
	uint8_t in[PVIO_NETIF_HASH_INPUT_IPV6_TCP], key[NB_HASH_KEY_MAX];
	uint32_t seq, flags, size, q0 = 0, qh = 0, hash = 0;
	unsigned n;
	uint8_t alg;
	int type = 0;

	memset(res, 0, sizeof(*res));
	if (nr_queues == 0)
		return;
	for (;;) {
		/* Acquire: pairs with the release in wr_end(). */
		seq = pvio_load_acquire(&c->seq);
		if (seq & 1) {
			pvio_cpu_relax();
			continue;
		}
		alg = c->alg;
		flags = c->flags;
		size = c->size;
		memcpy(key, c->key, sizeof(key));
		n = nb_hash_input(pkt, h, alg == PVIO_XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ ?
				  flags : NB_HASH_SUPPORTED_FLAGS, in, &type);
		if (alg == PVIO_XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ)
			hash = n ? pvio_netif_toeplitz_hash(key, sizeof(key), in, n) : 0;
		else
			hash = n ? pvio_netif_toeplitz_hash(nb_hash_default_key,
							    NB_HASH_KEY_MAX, in, n) : 0;
		if (size > NB_HASH_MAPPING_MAX)
			size = 0;
		if (size) {
			q0 = c->mapping[0];
			qh = c->mapping[hash % size];
		}
		/* Pairs with the fence in wr_begin(): a writer that started
		 * while we read has made seq odd or bigger by now. */
		pvio_mb();
		if (pvio_load_relaxed(&c->seq) == seq)
			break;
	}
	if (alg == PVIO_XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ) {
		res->valid = n != 0;
		res->type = (uint8_t)type;
		res->value = hash;
		res->queue = size ? (n ? qh : q0) : hash % nr_queues;
	} else {
		res->value = hash;
		res->queue = hash % nr_queues;
	}
	if (res->queue >= nr_queues)
		res->queue = 0;
}
