/* SPDX-License-Identifier: MIT */
/*
 * Shared by the hv/ implementations: the client-side state of a domain
 * (own memory, grant table, foreign views, ports) is the same whatever
 * brokers the resources; an implementation supplies only the broker calls.
 */
#ifndef PVIO_HV_INTERNAL_H
#define PVIO_HV_INTERNAL_H

#include <pthread.h>

#include "hv/hv.h"
#include "hv/world.h"

struct pvio_hv_ops {
	const char *name;
	int  (*domain_create)(struct pvio_hv *, const char *name, uint64_t mem, uint16_t *domid);
	int  (*domain_destroy)(struct pvio_hv *, uint16_t domid);
	int  (*domain_lookup)(struct pvio_hv *, const char *name, struct pvio_hv_domain_info *);
	int  (*domain_at)(struct pvio_hv *, unsigned idx, struct pvio_hv_domain_info *);
	int  (*domain_connect)(struct pvio_hv *, uint16_t domid, int *fd);
	int  (*foreign_fds)(struct pvio_hv *, uint16_t domid, struct pvio_world_dom_fds *);
	int  (*evtchn_alloc_unbound)(struct pvio_hv *, uint16_t remote, struct pvio_world_port_fds *);
	int  (*evtchn_bind)(struct pvio_hv *, uint16_t remote, pvio_evtchn_port_t rport,
			    struct pvio_world_port_fds *);
	int  (*evtchn_close)(struct pvio_hv *, pvio_evtchn_port_t port);
	int  (*xs_connect)(struct pvio_hv *, int *fd);
	/* Optional: hand the broker our pin table for granter's grants (fd),
	 * or take it back (fd < 0), so pins die with this process. -EUSERS:
	 * the broker's limit of registrations (stored in hv->pin_limit). */
	int  (*register_pins)(struct pvio_hv *, uint16_t granter, uint32_t nr_entries, int fd);
	/*
	 * Optional: an implementation with its own grant and event machinery
	 * (hv_xen.c, over the kernel's gntdev/evtchn) sets these and hv.c
	 * hands the calls over instead of using foreign_fds views and
	 * broker-made shared-page ports.
	 */
	int  (*map)(struct pvio_hv *, uint16_t granter, struct pvio_gnt_map_op *, unsigned n);
	int  (*unmap)(struct pvio_hv *, uint16_t granter, struct pvio_gnt_map_op *, unsigned n);
	int  (*map_ring)(struct pvio_hv *, uint16_t granter, const uint32_t *refs, unsigned n,
			 struct pvio_hv_ring_map *);
	void (*unmap_ring)(struct pvio_hv *, struct pvio_hv_ring_map *);
	int  (*copy)(struct pvio_hv *, struct pvio_gnt_copy_op *, unsigned n);
	int  (*pgrant_init)(struct pvio_hv *, uint16_t granter, struct pvio_pgrant_cache *,
			    uint32_t max);
	void (*foreign_release)(struct pvio_hv *, uint16_t granter);
	/* Bind and fill *ch (with ch->ops set, ch->self_fd to poll); the
	 * port must be below PVIO_HV_MAX_PORTS. evtchn_release undoes it. */
	int  (*evtchn_bind_ch)(struct pvio_hv *, uint16_t remote, pvio_evtchn_port_t rport,
			       pvio_evtchn_port_t *lport, struct pvio_evtchn *ch);
	void (*evtchn_release)(struct pvio_hv *, struct pvio_evtchn *ch);
	void (*fini)(struct pvio_hv *);           /* implementation's own state */
};

#define HV_PORT_BUCKET 1024u          /* ports per bucket of the port table */

struct hv_port {
	struct pvio_evtchn ch;
	void *shm;
	int self_efd;
	int peer_efd;
};

struct hv_foreign {
	uint16_t domid;
	int mem_fd;                      /* kept for contiguous ring mappings */
	void *mem;
	size_t mem_bytes;
	void *gt;
	size_t gt_bytes;
	struct pvio_gnttab_view view;
	void *pins;                      /* shared pin table (or NULL) */
	size_t pins_bytes;
};

#define HV_REF_UNCOUNTED UINT32_MAX

struct pvio_hv {
	const struct pvio_hv_ops *ops;
	uint16_t domid;
	pthread_mutex_t lock;            /* control plane: ports, foreign table, allocator */

	/* own memory */
	void *mem;
	size_t mem_bytes;
	uint64_t nr_pages;
	uint64_t *page_bitmap;           /* 1 = allocated */
	uint64_t *page_freeing;          /* 1 = freed while granted: goes back to
					  * the allocator at its last revoke */
	uint16_t *page_grants;           /* live grants of each page (gnt_lock) */

	/* own grant table (frontend side) */
	void *gt;
	size_t gt_bytes;
	struct pvio_gnttab_fe fe;
	uint32_t *ref_gfn;               /* page each granted ref counts on, or
					  * HV_REF_UNCOUNTED (gnt_lock) */
	pthread_mutex_t gnt_lock;        /* taken before lock, never after */

	/* ports: a two-level table of pointers, buckets allocated as ports
	 * are used and never moved, so a data path can keep a handle (and
	 * look one up without a lock) while the control plane adds others */
	struct hv_port **port_buckets[PVIO_HV_MAX_PORTS / HV_PORT_BUCKET];

	/* foreign views (backend side), by granter domid */
	struct hv_foreign **foreign;     /* PVIO_DOMID_MAX_GUEST + 1 */

	uint32_t pin_limit;              /* the broker's pin-registration limit, once
					  * it refused one (-EUSERS); 0: unknown */

	void *impl;                      /* implementation's private state */
};

/* Build a handle around the domain's own resources (takes ownership of the
 * fds in own). */
int  pvio__hv_init(struct pvio_hv *hv, const struct pvio_hv_ops *ops, uint16_t domid,
		   struct pvio_world_dom_fds *own);
void pvio__hv_fini(struct pvio_hv *hv);

void pvio__close_fd(int *fd);

#endif /* PVIO_HV_INTERNAL_H */
