/* SPDX-License-Identifier: MIT */
/*
 * The world: the authority over domains, their memory and grant tables, and
 * event-channel ports. The local implementation keeps one in-process; pviod
 * keeps one and serves it over sockets. It never touches a guest's data: it
 * creates the memfds and hands out fds; every check of "who may have what"
 * happens here.
 *
 * Not thread-safe: callers serialise (the local implementation with a mutex,
 * pviod by being single-threaded).
 */
#ifndef PVIO_HV_WORLD_H
#define PVIO_HV_WORLD_H

#include <stdbool.h>
#include <stdint.h>

#include "evtchn/evtchn.h"
#include "hv/hv.h"

struct pvio_world;

/* Resources handed to a domain for its own use. */
struct pvio_world_dom_fds {
	int      mem_fd;          /* dup'ed; the caller closes */
	uint64_t mem_bytes;
	int      gt_fd;
	uint32_t gt_entries;
};

/* Resources of one end of a channel. */
struct pvio_world_port_fds {
	pvio_evtchn_port_t port;
	unsigned side;            /* 0: allocator, 1: binder */
	int shm_fd;               /* shared page (struct pvio_evtchn_shared) */
	int self_efd;             /* eventfd we wait on */
	int peer_efd;             /* eventfd we write */
};

/* Called when a domain goes away (pviod cuts its connections, the store
 * releases it). */
typedef void (*pvio_world_destroy_cb)(void *arg, uint16_t domid);

int  pvio_world_create(struct pvio_world **out);
void pvio_world_destroy(struct pvio_world *w);
void pvio_world_on_destroy(struct pvio_world *w, pvio_world_destroy_cb cb, void *arg);

/* Every function below acts on behalf of `caller` (a domid) and enforces
 * what that domain may do. */
int pvio_world_domain_create(struct pvio_world *w, uint16_t caller, const char *name,
			     uint64_t mem_bytes, uint16_t *domid);
int pvio_world_domain_destroy(struct pvio_world *w, uint16_t caller, uint16_t domid);
int pvio_world_domain_lookup(struct pvio_world *w, uint16_t caller, const char *name,
			     struct pvio_hv_domain_info *info);
/* Info of the idx-th live domain (dom0 included): 0 or -ENOENT past the end. */
int pvio_world_domain_at(struct pvio_world *w, uint16_t caller, unsigned idx,
			 struct pvio_hv_domain_info *info);
bool pvio_world_domain_exists(struct pvio_world *w, uint16_t domid);

/* The caller's own memory and grant table. */
int pvio_world_self_fds(struct pvio_world *w, uint16_t caller, struct pvio_world_dom_fds *out);
/* A foreign domain's memory and grant table: dom0 only (the backend domain). */
int pvio_world_foreign_fds(struct pvio_world *w, uint16_t caller, uint16_t domid,
			   struct pvio_world_dom_fds *out);

/* owner: an opaque id of the connection (process) holding the port; when
 * it goes away, pvio_world_evtchn_close_owner() closes its ports, as the
 * kernel's evtchn device does when a process exits. */
int pvio_world_evtchn_alloc_unbound(struct pvio_world *w, uint16_t caller, uint64_t owner,
				    uint16_t remote, struct pvio_world_port_fds *out);
int pvio_world_evtchn_bind(struct pvio_world *w, uint16_t caller, uint64_t owner,
			   uint16_t remote, pvio_evtchn_port_t rport,
			   struct pvio_world_port_fds *out);
void pvio_world_evtchn_close_owner(struct pvio_world *w, uint16_t domid, uint64_t owner);
int pvio_world_evtchn_close(struct pvio_world *w, uint16_t caller, pvio_evtchn_port_t port);

/* Counters for leak tests. */
unsigned pvio_world_nr_domains(struct pvio_world *w);
unsigned pvio_world_nr_channels(struct pvio_world *w);

#endif /* PVIO_HV_WORLD_H */
