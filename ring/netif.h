/* SPDX-License-Identifier: MIT */
/*
 * Network device wire ABI (Xen's io/netif.h), byte for byte, with
 * pvio_/PVIO_ prefixes on Xen's own names. The layouts are the same in
 * every ABI (no uint64_t anywhere), so there is no "protocol" key.
 *
 * Three rings per queue, each in one granted page (ring/ring.h):
 *   tx    [FE] pvio_netif_tx_request (12 B) / [BE] pvio_netif_tx_response,
 *         256 slots of 12 bytes;
 *   rx    [FE] pvio_netif_rx_request (8 B) / [BE] pvio_netif_rx_response,
 *         256 slots of 8 bytes;
 *   ctrl  (optional, one per device) [FE] pvio_xen_netif_ctrl_request /
 *         [BE] pvio_xen_netif_ctrl_response, 128 slots of 16 bytes.
 *
 * A packet on tx: one tx_request (size = whole packet, flags NETTXF_*), then
 * extra-info slots while the previous slot says NETTXF_extra_info /
 * XEN_NETIF_EXTRA_FLAG_MORE, then one tx_request per further fragment while
 * NETTXF_more_data is set. A backend must accept packets of up to
 * XEN_NETIF_NR_SLOTS_MIN slots. On rx the backend fills one rx_response per
 * fragment (status = bytes, or NETIF_RSP_* < 0) plus extra-info slots.
 * Extra-info slots overlay the response's id, so each rx response (and each
 * extra) must sit in the ring slot of the request it consumed: netfront
 * relies on it.
 *
 * ---------------------------------------------------------------- xenstore
 * All values are decimal strings unless said otherwise; "0/1" keys default
 * to 0 unless said otherwise. FE dir /local/domain/<fe>/device/vif/<devid>/,
 * BE dir /local/domain/<be>/backend/vif/<fe>/<devid>/. Keys not documented
 * in Xen 4.17's netif.h are marked (drv): they come from the Linux, FreeBSD
 * and MiniOS drivers.
 *
 * [BE] before InitWait:
 *   feature-sg (drv)                 0/1: accepts NETTXF_more_data chains
 *   feature-gso-tcpv4, -tcpv6        0/1: accepts GSO extra info
 *   feature-ipv6-csum-offload        0/1
 *   feature-rx-copy (drv) = 1, feature-rx-flip (drv) = 0
 *   feature-multicast-control        0/1
 *   feature-dynamic-multicast-control 0/1: watches request-multicast-control
 *   feature-split-event-channels     0/1
 *   multi-queue-max-queues           u32, absent = one queue
 *   feature-ctrl-ring                0/1
 *   feature-xdp-headroom (drv)       0/1, Linux >= 5.9 (its XDP extra info
 *                                    is a Linux extension: EXTRA_TYPE_XDP)
 * [BE] any time: carrier             0/1, absent = link up
 *
 * [FE] before Connected (Linux netfront skips Initialised: it writes these
 * once the backend is in InitWait and goes straight to Connected):
 *   tx-ring-ref, rx-ring-ref (drv)   grant refs
 *   event-channel                    one port for both rings, or
 *   event-channel-tx, -rx            if feature-split-event-channels=1
 *   multi-queue-num-queues           1..max; when > 1 the keys above are
 *                                    written as queue-<n>/tx-ring-ref,
 *                                    queue-<n>/rx-ring-ref and
 *                                    queue-<n>/event-channel[-tx|-rx]
 *                                    instead (n from 0; as many tx as rx)
 *   request-rx-copy (drv) = 1        Linux netback refuses to connect without
 *   feature-rx-notify = 1            FE kicks after posting rx requests;
 *                                    without it the BE must poll
 *   feature-sg, feature-gso-tcpv4, feature-gso-tcpv6 (0/1: accepts them on rx)
 *   feature-no-csum-offload          0/1, default 0: IPv4 csum offload is on
 *   feature-ipv6-csum-offload        0/1, default 0
 *   request-multicast-control        0/1; sampled at Connected, or watched if
 *                                    the BE offers the dynamic variant
 *   ctrl-ring-ref, event-channel-ctrl  if feature-ctrl-ring=1 and wanted
 *   xdp-headroom (drv)               bytes, <= 0x7FFF
 * Toolstack: mac ("aa:bb:cc:dd:ee:ff", both dirs), mtu (FE dir, default
 *   1500), trusted (FE dir, 0/1, default 1), backend/backend-id,
 *   frontend/frontend-id, online, state, hotplug-status.
 *
 * State sequence: ring/xenbus_abi.h.
 */
#ifndef PVIO_NETIF_H
#define PVIO_NETIF_H

#include <stddef.h>
#include <stdint.h>

#include "ring/grant_abi.h"
#include "ring/ring.h"

/* Slots of one packet a backend must accept (old Linux MAX_SKB_FRAGS). */
#define PVIO_XEN_NETIF_NR_SLOTS_MIN  18
/* tx_request.size is 16 bits. */
#define PVIO_XEN_NETIF_MAX_TX_SIZE   0xFFFF

/* ---------------------------------------------------------------- transmit */

/* tx_request.flags */
#define _PVIO_NETTXF_csum_blank      (0)
#define PVIO_NETTXF_csum_blank       (1U << _PVIO_NETTXF_csum_blank)     /* csum to fill */
#define _PVIO_NETTXF_data_validated  (1)
#define PVIO_NETTXF_data_validated   (1U << _PVIO_NETTXF_data_validated)
#define _PVIO_NETTXF_more_data       (2)
#define PVIO_NETTXF_more_data        (1U << _PVIO_NETTXF_more_data)      /* more frags */
#define _PVIO_NETTXF_extra_info      (3)
#define PVIO_NETTXF_extra_info       (1U << _PVIO_NETTXF_extra_info)     /* extras follow */

struct pvio_netif_tx_request {
	pvio_grant_ref_t gref;   /* [FE] page holding the data */
	uint16_t offset;         /* [FE] offset of the data in that page */
	uint16_t flags;          /* [FE] PVIO_NETTXF_* */
	uint16_t id;             /* [FE] echoed in the response */
	uint16_t size;           /* [FE] first slot: packet size; later: fragment */
};
_Static_assert(sizeof(struct pvio_netif_tx_request) == 12, "tx_request");
_Static_assert(offsetof(struct pvio_netif_tx_request, gref) == 0, "tx gref");
_Static_assert(offsetof(struct pvio_netif_tx_request, offset) == 4, "tx offset");
_Static_assert(offsetof(struct pvio_netif_tx_request, flags) == 6, "tx flags");
_Static_assert(offsetof(struct pvio_netif_tx_request, id) == 8, "tx id");
_Static_assert(offsetof(struct pvio_netif_tx_request, size) == 10, "tx size");

struct pvio_netif_tx_response {
	uint16_t id;             /* [BE] from the request */
	int16_t  status;         /* [BE] PVIO_NETIF_RSP_* */
};
_Static_assert(sizeof(struct pvio_netif_tx_response) == 4, "tx_response");
_Static_assert(offsetof(struct pvio_netif_tx_response, id) == 0, "txr id");
_Static_assert(offsetof(struct pvio_netif_tx_response, status) == 2, "txr status");

/* ----------------------------------------------------------------- receive */

struct pvio_netif_rx_request {
	uint16_t id;             /* [FE] echoed in the response */
	uint16_t pad;
	pvio_grant_ref_t gref;   /* [FE] page to receive into */
};
_Static_assert(sizeof(struct pvio_netif_rx_request) == 8, "rx_request");
_Static_assert(offsetof(struct pvio_netif_rx_request, id) == 0, "rx id");
_Static_assert(offsetof(struct pvio_netif_rx_request, pad) == 2, "rx pad");
_Static_assert(offsetof(struct pvio_netif_rx_request, gref) == 4, "rx gref");

/* rx_response.flags */
#define _PVIO_NETRXF_data_validated  (0)
#define PVIO_NETRXF_data_validated   (1U << _PVIO_NETRXF_data_validated)
#define _PVIO_NETRXF_csum_blank      (1)
#define PVIO_NETRXF_csum_blank       (1U << _PVIO_NETRXF_csum_blank)
#define _PVIO_NETRXF_more_data       (2)
#define PVIO_NETRXF_more_data        (1U << _PVIO_NETRXF_more_data)
#define _PVIO_NETRXF_extra_info      (3)
#define PVIO_NETRXF_extra_info       (1U << _PVIO_NETRXF_extra_info)
#define _PVIO_NETRXF_gso_prefix      (4)                                 /* deprecated */
#define PVIO_NETRXF_gso_prefix       (1U << _PVIO_NETRXF_gso_prefix)

struct pvio_netif_rx_response {
	uint16_t id;             /* [BE] from the request (unused by netfront) */
	uint16_t offset;         /* [BE] start of the data in the page */
	uint16_t flags;          /* [BE] PVIO_NETRXF_* */
	int16_t  status;         /* [BE] bytes received, or PVIO_NETIF_RSP_* < 0 */
};
_Static_assert(sizeof(struct pvio_netif_rx_response) == 8, "rx_response");
_Static_assert(offsetof(struct pvio_netif_rx_response, id) == 0, "rxr id");
_Static_assert(offsetof(struct pvio_netif_rx_response, offset) == 2, "rxr offset");
_Static_assert(offsetof(struct pvio_netif_rx_response, flags) == 4, "rxr flags");
_Static_assert(offsetof(struct pvio_netif_rx_response, status) == 6, "rxr status");

/* tx/rx response status */
#define PVIO_NETIF_RSP_DROPPED  -2
#define PVIO_NETIF_RSP_ERROR    -1
#define PVIO_NETIF_RSP_OKAY      0
#define PVIO_NETIF_RSP_NULL      1   /* no response: slot held an extra info */

/* -------------------------------------------------------------- extra info */

#define PVIO_XEN_NETIF_EXTRA_TYPE_NONE       (0)  /* never used: invalid */
#define PVIO_XEN_NETIF_EXTRA_TYPE_GSO        (1)  /* u.gso */
#define PVIO_XEN_NETIF_EXTRA_TYPE_MCAST_ADD  (2)  /* u.mcast */
#define PVIO_XEN_NETIF_EXTRA_TYPE_MCAST_DEL  (3)  /* u.mcast */
#define PVIO_XEN_NETIF_EXTRA_TYPE_HASH       (4)  /* u.hash */
#define PVIO_XEN_NETIF_EXTRA_TYPE_MAX        (5)
/* Linux's extension (its copy of the header: XDP 5, MAX 6), rx only, sent
 * by a backend to a frontend that wrote xdp-headroom: u.pad[0] is the
 * headroom in force, where the first slot's data starts. */
#define PVIO_XEN_NETIF_EXTRA_TYPE_XDP        (5)
#define PVIO_XEN_NETIF_MAX_XDP_HEADROOM      0x7FFF   /* Linux's limit on the key */

#define _PVIO_XEN_NETIF_EXTRA_FLAG_MORE      (0)
#define PVIO_XEN_NETIF_EXTRA_FLAG_MORE       (1U << _PVIO_XEN_NETIF_EXTRA_FLAG_MORE)

#define PVIO_XEN_NETIF_GSO_TYPE_NONE         (0)
#define PVIO_XEN_NETIF_GSO_TYPE_TCPV4        (1)
#define PVIO_XEN_NETIF_GSO_TYPE_TCPV6        (2)

/* 8 bytes: fits both a tx request and an rx response slot. Written by the
 * producer of the ring it travels in ([FE] on tx, [BE] on rx). */
struct pvio_netif_extra_info {
	uint8_t type;            /* PVIO_XEN_NETIF_EXTRA_TYPE_* */
	uint8_t flags;           /* PVIO_XEN_NETIF_EXTRA_FLAG_* */
	union {
		struct {
			uint16_t size;       /* segment payload size (TCP: MSS) */
			uint8_t  type;       /* PVIO_XEN_NETIF_GSO_TYPE_* */
			uint8_t  pad;
			uint16_t features;   /* none defined */
		} gso;
		struct {
			uint8_t addr[6];     /* Ethernet address to add/remove */
		} mcast;
		struct {
			uint8_t type;        /* _PVIO_XEN_NETIF_CTRL_HASH_TYPE_* (bit no.) */
			uint8_t algorithm;   /* PVIO_XEN_NETIF_CTRL_HASH_ALGORITHM_* */
			uint8_t value[4];    /* little-endian hash */
		} hash;
		uint16_t pad[3];
	} u;
};
_Static_assert(sizeof(struct pvio_netif_extra_info) == 8, "extra_info");
_Static_assert(offsetof(struct pvio_netif_extra_info, type) == 0, "x type");
_Static_assert(offsetof(struct pvio_netif_extra_info, flags) == 1, "x flags");
_Static_assert(offsetof(struct pvio_netif_extra_info, u) == 2, "x u");
_Static_assert(offsetof(struct pvio_netif_extra_info, u.gso.size) == 2, "gso size");
_Static_assert(offsetof(struct pvio_netif_extra_info, u.gso.type) == 4, "gso type");
_Static_assert(offsetof(struct pvio_netif_extra_info, u.gso.pad) == 5, "gso pad");
_Static_assert(offsetof(struct pvio_netif_extra_info, u.gso.features) == 6, "gso feat");
_Static_assert(offsetof(struct pvio_netif_extra_info, u.mcast.addr) == 2, "mcast");
_Static_assert(offsetof(struct pvio_netif_extra_info, u.hash.type) == 2, "hash type");
_Static_assert(offsetof(struct pvio_netif_extra_info, u.hash.algorithm) == 3, "hash alg");
_Static_assert(offsetof(struct pvio_netif_extra_info, u.hash.value) == 4, "hash value");
_Static_assert(offsetof(struct pvio_netif_extra_info, u.pad) == 2, "u pad");
_Static_assert(sizeof(struct pvio_netif_extra_info) <= sizeof(struct pvio_netif_tx_request),
	       "extra info fits a tx slot");
_Static_assert(sizeof(struct pvio_netif_extra_info) <= sizeof(struct pvio_netif_rx_response),
	       "extra info fits an rx slot");

/* ------------------------------------------------------------ control ring */

/* Hash types: bit numbers (as in extra_info u.hash.type) and masks (as in
 * SET_HASH_FLAGS). Inputs, per Xen's netif.h: IPv4 src+dst (8 bytes),
 * + TCP sport+dport (12), IPv6 src+dst (32), + ports (36). */
#define _PVIO_XEN_NETIF_CTRL_HASH_TYPE_IPV4      0
#define PVIO_XEN_NETIF_CTRL_HASH_TYPE_IPV4       (1 << _PVIO_XEN_NETIF_CTRL_HASH_TYPE_IPV4)
#define _PVIO_XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP  1
#define PVIO_XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP   (1 << _PVIO_XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP)
#define _PVIO_XEN_NETIF_CTRL_HASH_TYPE_IPV6      2
#define PVIO_XEN_NETIF_CTRL_HASH_TYPE_IPV6       (1 << _PVIO_XEN_NETIF_CTRL_HASH_TYPE_IPV6)
#define _PVIO_XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP  3
#define PVIO_XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP   (1 << _PVIO_XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP)

/* Bytes hashed for each type (pvio names; the sizes are Xen's). */
#define PVIO_NETIF_HASH_INPUT_IPV4       8
#define PVIO_NETIF_HASH_INPUT_IPV4_TCP   12
#define PVIO_NETIF_HASH_INPUT_IPV6       32
#define PVIO_NETIF_HASH_INPUT_IPV6_TCP   36

#define PVIO_XEN_NETIF_CTRL_HASH_ALGORITHM_NONE      0
#define PVIO_XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ  1

/*
 * Toeplitz key sizes. Xen leaves the maximum to the backend (at most one
 * granted page); these are pvio's choices, not Xen constants:
 *   PVIO_NETIF_TOEPLITZ_KEY_SIZE       40, the usual RSS key length, and
 *                                       Linux netback's maximum
 *                                       (XEN_NETBK_MAX_HASH_KEY_SIZE);
 *   PVIO_NETIF_TOEPLITZ_KEY_MIN_SIZE   key bytes needed so that every input
 *                                       bit has 32 key bits: longest input
 *                                       (36) + 4. Missing key bytes count
 *                                       as zero.
 *   PVIO_NETIF_HASH_MAPPING_SIZE_MAX   128, Linux netback's mapping table
 *                                       (XEN_NETBK_MAX_HASH_MAPPING_SIZE).
 */
#define PVIO_NETIF_TOEPLITZ_KEY_SIZE      40
#define PVIO_NETIF_TOEPLITZ_KEY_MIN_SIZE  (PVIO_NETIF_HASH_INPUT_IPV6_TCP + 4)
#define PVIO_NETIF_HASH_MAPPING_SIZE_MAX  128

/*
 * Toeplitz hash of buf with key, as Xen's xen_netif_toeplitz_hash(): for
 * every set bit i of buf (MSB of buf[0] first), XOR in the 32 key bits
 * starting at bit i; key bytes past keylen are zero.
 */
static inline uint32_t pvio_netif_toeplitz_hash(const uint8_t *key, unsigned int keylen,
						const uint8_t *buf, unsigned int buflen)
{
	uint32_t hash = 0, window = 0;
	unsigned int i, bit;

	for (i = 0; i < 4; i++)
		window = (window << 8) | (i < keylen ? key[i] : 0);
	for (i = 0; i < buflen; i++) {
		uint8_t next = i + 4 < keylen ? key[i + 4] : 0;

		for (bit = 8; bit-- > 0;) {
			if (buf[i] & (1u << bit))
				hash ^= window;
			window = (window << 1) | ((next >> bit) & 1u);
		}
	}
	return hash;
}

struct pvio_xen_netif_ctrl_request {
	uint16_t id;             /* [FE] echoed in the response */
	uint16_t type;           /* [FE] PVIO_XEN_NETIF_CTRL_TYPE_* */
	uint32_t data[3];        /* [FE] per type */
};
_Static_assert(sizeof(struct pvio_xen_netif_ctrl_request) == 16, "ctrl_request");
_Static_assert(offsetof(struct pvio_xen_netif_ctrl_request, id) == 0, "cq id");
_Static_assert(offsetof(struct pvio_xen_netif_ctrl_request, type) == 2, "cq type");
_Static_assert(offsetof(struct pvio_xen_netif_ctrl_request, data) == 4, "cq data");

#define PVIO_XEN_NETIF_CTRL_TYPE_INVALID                0
#define PVIO_XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS         1
#define PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS         2
#define PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_KEY           3
#define PVIO_XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE  4
#define PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE  5
#define PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING       6
#define PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM     7
#define PVIO_XEN_NETIF_CTRL_TYPE_GET_GREF_MAPPING_SIZE  8
#define PVIO_XEN_NETIF_CTRL_TYPE_ADD_GREF_MAPPING       9
#define PVIO_XEN_NETIF_CTRL_TYPE_DEL_GREF_MAPPING       10

struct pvio_xen_netif_ctrl_response {
	uint16_t id;             /* [BE] from the request */
	uint16_t type;           /* [BE] from the request */
	uint32_t status;         /* [BE] PVIO_XEN_NETIF_CTRL_STATUS_* */
	uint32_t data;           /* [BE] per type */
};
_Static_assert(sizeof(struct pvio_xen_netif_ctrl_response) == 12, "ctrl_response");
_Static_assert(offsetof(struct pvio_xen_netif_ctrl_response, id) == 0, "cr id");
_Static_assert(offsetof(struct pvio_xen_netif_ctrl_response, type) == 2, "cr type");
_Static_assert(offsetof(struct pvio_xen_netif_ctrl_response, status) == 4, "cr status");
_Static_assert(offsetof(struct pvio_xen_netif_ctrl_response, data) == 8, "cr data");

#define PVIO_XEN_NETIF_CTRL_STATUS_SUCCESS            0
#define PVIO_XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED      1
#define PVIO_XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER  2
#define PVIO_XEN_NETIF_CTRL_STATUS_BUFFER_OVERFLOW    3

/* Entry of the page named by ADD/DEL_GREF_MAPPING. */
struct pvio_xen_netif_gref {
	pvio_grant_ref_t ref;    /* [FE] */
	uint16_t flags;          /* [FE] PVIO_XEN_NETIF_CTRLF_GREF_* */
	uint16_t status;         /* [BE] PVIO_XEN_NETIF_CTRL_STATUS_* (DEL only) */
};
_Static_assert(sizeof(struct pvio_xen_netif_gref) == 8, "netif_gref");
_Static_assert(offsetof(struct pvio_xen_netif_gref, ref) == 0, "gref ref");
_Static_assert(offsetof(struct pvio_xen_netif_gref, flags) == 4, "gref flags");
_Static_assert(offsetof(struct pvio_xen_netif_gref, status) == 6, "gref status");

#define _PVIO_XEN_NETIF_CTRLF_GREF_readonly  0
#define PVIO_XEN_NETIF_CTRLF_GREF_readonly   (1U << _PVIO_XEN_NETIF_CTRLF_GREF_readonly)

/* ------------------------------------------------------------------- rings */

PVIO_RING_DEFINE(pvio_netif_tx, struct pvio_netif_tx_request, struct pvio_netif_tx_response);
PVIO_RING_DEFINE(pvio_netif_rx, struct pvio_netif_rx_request, struct pvio_netif_rx_response);
PVIO_RING_DEFINE(pvio_xen_netif_ctrl, struct pvio_xen_netif_ctrl_request,
		 struct pvio_xen_netif_ctrl_response);
_Static_assert(sizeof(union pvio_netif_tx_slot) == 12, "tx slot");
_Static_assert(sizeof(union pvio_netif_rx_slot) == 8, "rx slot");
_Static_assert(sizeof(union pvio_xen_netif_ctrl_slot) == 16, "ctrl slot");

#endif /* PVIO_NETIF_H */
