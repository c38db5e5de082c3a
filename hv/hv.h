/* SPDX-License-Identifier: MIT */
/*
 * hv/: the "hypervisor" services pvio's drivers are written against.
 *
 * A struct pvio_hv is a connection to a hypervisor *as one domain*. Drivers
 * see the world only through it: their own guest memory and page allocator,
 * grants (frontend: grant/revoke; backend: batched map/unmap/copy of a
 * foreign domain's grants), event channels and the xenstore.
 *
 * Implementations (chosen when the handle is opened, never by drivers):
 *   local   all domains are threads of one process (embedded programs, tests)
 *   socket  domains are processes; the broker daemon pviod owns the world and
 *           hands out memory, grant-table and event-channel fds (SCM_RIGHTS)
 *   xen     real Xen (hv/xen/hv_xen.c), backend side only, through libxengnttab / libxenevtchn /
 *           libxenstore. The operations below are shaped after those
 *           libraries: batched grant map (xengnttab_map_domain_grant_refs),
 *           grant copy segments (xengnttab_grant_copy), one fd per bound
 *           port (one xenevtchn handle per channel, as QEMU does), pending /
 *           unmask, and a store connection (xs_open / xs_watch / xs_transaction).
 *
 * All functions return 0, a count, or -errno; they never rely on errno.
 */
#ifndef PVIO_HV_H
#define PVIO_HV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evtchn/evtchn.h"
#include "grant-tables/gnttab.h"
#include "grant-tables/pgrant.h"

#define PVIO_DOMID_DOM0        0
#define PVIO_DOMID_FIRST_GUEST 1
#define PVIO_DOMID_MAX_GUEST   32752   /* DOMID_FIRST_RESERVED - 1 */
#define PVIO_DOMAIN_NAME_MAX   63

/* Defaults for a new domain. */
#define PVIO_HV_DEFAULT_GNTTAB_ENTRIES  32768u  /* 64 frames of v1 entries: Xen's gnttab_max_frames default */
/* Event-channel ports per domain, as Xen's FIFO ABI (EVTCHN_FIFO_NR_CHANNELS)
 * for dom0, and as xl's default max_event_channels (1023) for a guest.
 * Tables grow with the ports in use. */
#define PVIO_HV_MAX_PORTS               (1u << 17)
#define PVIO_HV_GUEST_MAX_PORTS         1024u

struct pvio_hv;
struct pvio_hv_world;

/* ------------------------------------------------------------ opening */

/*
 * Open from the environment, as a pvio program does:
 *   PVIO_HV_FD=<n>       an inherited, already-bound guest connection (set by
 *                        `pvio run --domain NAME -- PROGRAM`)
 *   PVIO_HV=xen          real Xen (pvio_hv_xen_open)
 *   PVIO_SOCKET=<path>   pviod's dom0 control socket (default
 *                        /run/pvio/pviod.sock); connecting requires the
 *                        socket's permissions (root-only, 0600)
 * Returns 0 and *out, or -errno (-ENOENT: no pviod).
 */
int pvio_hv_open_env(struct pvio_hv **out);

/* Xen implementation (PVIO_HV=xen in the environment selects it too):
 * needs /dev/xen/gntdev and /dev/xen/evtchn (-ENOENT without them),
 * -EOPNOTSUPP if pvio was built without libxengnttab/libxenevtchn.
 * Backend side only: no own memory, grants or domain management. */
int pvio_hv_xen_open(struct pvio_hv **out);

/* What a backend daemon does with its --hv/--socket options: hv "xen"
 * opens Xen, "socket" (or NULL) pviod's socket sock (NULL: as
 * pvio_hv_open_env, which also honours PVIO_HV=xen). On failure prints
 * "<prog>: ..." naming what is missing on stderr and returns -errno. Also
 * refuses (-EPERM) a connection that is not dom0. */
int pvio_hv_open_backend(const char *prog, const char *hv, const char *sock,
			 struct pvio_hv **out);

/* Socket implementation, explicitly. */
int pvio_hv_socket_connect(const char *ctrl_path, struct pvio_hv **out);  /* dom0 */
int pvio_hv_socket_from_fd(int fd, struct pvio_hv **out);                 /* guest */

/* Local implementation: a world lives in this process; each handle acts as
 * one of its domains. The world also runs a xenstore (pvio_xsd) on a thread. */
int  pvio_hv_world_create(struct pvio_hv_world **out);
void pvio_hv_world_destroy(struct pvio_hv_world *w);
int  pvio_hv_local_open(struct pvio_hv_world *w, uint16_t domid, struct pvio_hv **out);

/* Close the handle: revokes nothing by itself, unmaps every foreign view
 * (releasing pins), closes this handle's ports (peers see the close). */
void pvio_hv_close(struct pvio_hv *hv);

uint16_t    pvio_hv_domid(const struct pvio_hv *hv);
const char *pvio_hv_impl_name(const struct pvio_hv *hv);   /* "local", "socket" */

/* For a daemon at start: raise the soft RLIMIT_NOFILE to the hard limit
 * (fds are the resource a guest consumes most of: memory, grant table,
 * event channels, engines). If the result is below want, say on stderr
 * (prefixed by prog; NULL: silent) about how many guests that allows at
 * fds_per_guest each. Returns the soft limit now in force, or -1. */
#define PVIO_HV_NOFILE_WANT 65536ull   /* 1,000 guests with a disk and a vif */
long long pvio_hv_raise_nofile(const char *prog, unsigned long long want,
			       unsigned fds_per_guest);

/* A message for err (-errno) from an hv call (map, bind) that names the
 * resource when it is one a guest consumes, else strerror's: -EUSERS pin
 * registrations (pviod --max-pins), -ENOSPC event-channel ports, -EMFILE
 * fds. Written into buf, which is returned. */
const char *pvio_hv_strerror(struct pvio_hv *hv, int err, char *buf, size_t size);

/* ------------------------------------------------------------ domains (dom0) */

struct pvio_hv_domain_info {
	uint16_t domid;
	uint64_t mem_bytes;
	uint32_t gnttab_entries;
	char     name[PVIO_DOMAIN_NAME_MAX + 1];
};

/* Create a domain with mem_bytes of guest memory (a multiple of the page
 * size, >= 1 page). -EPERM unless dom0; -EEXIST name taken; -EINVAL. */
int pvio_hv_domain_create(struct pvio_hv *hv, const char *name, uint64_t mem_bytes,
			  uint16_t *domid);
/* Destroy: its ports close (peers see it), its connections are cut, its
 * store subtree is released (@releaseDomain). Memory lives on in mappings
 * other processes still hold, until they unmap it. */
int pvio_hv_domain_destroy(struct pvio_hv *hv, uint16_t domid);
int pvio_hv_domain_lookup(struct pvio_hv *hv, const char *name,
			  struct pvio_hv_domain_info *info);
/* Fill up to max entries; returns the number of domains. */
int pvio_hv_domain_list(struct pvio_hv *hv, struct pvio_hv_domain_info *out, unsigned max);
/* A new connection fd that acts as domid (what `pvio run` passes down). */
int pvio_hv_domain_connect(struct pvio_hv *hv, uint16_t domid, int *fd);

/* ------------------------------------------------------------ own memory */

/* This domain's guest memory (mapped whole). */
void    *pvio_hv_mem(struct pvio_hv *hv, size_t *bytes);
/* Allocate npages contiguous free pages; *gfn = first. -ENOMEM when full. */
int      pvio_hv_page_alloc(struct pvio_hv *hv, unsigned npages, uint64_t *gfn);
/* Free pages. A page with a live grant (not yet revoked: the grantee may
 * hold it mapped) is not handed out again until its last grant is revoked;
 * it comes back to the allocator then. */
void     pvio_hv_page_free(struct pvio_hv *hv, uint64_t gfn, unsigned npages);
/* Whether pages gfn..gfn+npages-1 are all allocated (and not freed). */
bool     pvio_hv_pages_allocated(struct pvio_hv *hv, uint64_t gfn, uint64_t npages);
void    *pvio_hv_gfn_ptr(struct pvio_hv *hv, uint64_t gfn);  /* NULL if out of range */
/* gfn of an address inside own memory, or -EINVAL. */
int64_t  pvio_hv_ptr_gfn(struct pvio_hv *hv, const void *p);

/* ------------------------------------------------------------ grants */

/* Frontend: give domid access to page gfn. Returns ref >= 0 or -errno
 * (-ENOSPC: no free ref, or 65535 live grants of the page already). */
int pvio_hv_grant(struct pvio_hv *hv, uint16_t domid, uint64_t gfn, bool readonly);
/* Frontend: end access. -EBUSY while the grantee has it mapped or copying. */
int pvio_hv_revoke(struct pvio_hv *hv, uint32_t ref);

/*
 * Backend: map a batch of refs granted by domain `granter`. Per-op status
 * (GNTST_*) in ops[i].status, address in ops[i].addr. Returns the number of
 * ops that succeeded; failed ops hold nothing.
 */
int pvio_hv_map(struct pvio_hv *hv, uint16_t granter, struct pvio_gnt_map_op *ops,
		unsigned n);
int pvio_hv_unmap(struct pvio_hv *hv, uint16_t granter, struct pvio_gnt_map_op *ops,
		  unsigned n);
/*
 * Backend: map n refs (a multi-page shared ring) read-write into one
 * virtually contiguous region, like xengnttab_map_domain_grant_refs.
 * All or nothing: -EPERM/-EINVAL/-ENOENT per Xen status of the first
 * failing ref, nothing held on failure. Unmap with the same refs.
 */
#define PVIO_HV_RING_MAX_PAGES 16
struct pvio_hv_ring_map {
	void    *addr;                 /* the ring, virtually contiguous */
	unsigned n;
	uint16_t granter;
	struct pvio_gnt_map_op ops[PVIO_HV_RING_MAX_PAGES];   /* private */
};
int pvio_hv_map_ring(struct pvio_hv *hv, uint16_t granter, const uint32_t *refs, unsigned n,
		     struct pvio_hv_ring_map *m);
/* Idempotent: a zeroed or already unmapped m is ignored. */
void pvio_hv_unmap_ring(struct pvio_hv *hv, struct pvio_hv_ring_map *m);
/* Backend: set up a persistent-grant cache (grant-tables/pgrant.h) of at
 * most max mappings of granter's grants. Release it (pvio_pgrant_fini)
 * before pvio_hv_foreign_release(). */
int pvio_hv_pgrant_init(struct pvio_hv *hv, uint16_t granter, struct pvio_pgrant_cache *c,
			uint32_t max);
/* Backend: grant copy; each op names its foreign domain(s). Returns the
 * number of ops that succeeded; per-op status. */
int pvio_hv_copy(struct pvio_hv *hv, struct pvio_gnt_copy_op *ops, unsigned n);
/* Backend: drop every pin and mapping held on granter (device teardown or the
 * granter died). Idempotent. */
void pvio_hv_foreign_release(struct pvio_hv *hv, uint16_t granter);
/* Backend, optional zero-copy fast path: the whole of granter's memory as
 * this process sees it (for registering io_uring fixed buffers). Pages in it
 * may be touched only through a successful map. -EOPNOTSUPP where the
 * implementation cannot map foreign memory whole (xen). */
int pvio_hv_foreign_mem(struct pvio_hv *hv, uint16_t granter, void **base, size_t *bytes);

/* ------------------------------------------------------------ event channels */

/* Allocate a port that `remote` may bind to. */
int pvio_hv_evtchn_alloc_unbound(struct pvio_hv *hv, uint16_t remote,
				 pvio_evtchn_port_t *port);
/* Bind to remote's port rport, which must have been offered to us. */
int pvio_hv_evtchn_bind(struct pvio_hv *hv, uint16_t remote, pvio_evtchn_port_t rport,
			pvio_evtchn_port_t *lport);
int pvio_hv_evtchn_notify(struct pvio_hv *hv, pvio_evtchn_port_t port);
/* fd readable when the port has an event (for epoll). */
int pvio_hv_evtchn_fd(struct pvio_hv *hv, pvio_evtchn_port_t port);
/* Take the event (masks the port: late EOI). 1 = event, 0 = spurious. */
int pvio_hv_evtchn_pending(struct pvio_hv *hv, pvio_evtchn_port_t port);
int pvio_hv_evtchn_unmask(struct pvio_hv *hv, pvio_evtchn_port_t port);
int pvio_hv_evtchn_mask(struct pvio_hv *hv, pvio_evtchn_port_t port);
/* 1 if the peer closed its end (or its domain died), 0 if connected or
 * still unbound, -EINVAL bad port. */
int pvio_hv_evtchn_peer_closed(struct pvio_hv *hv, pvio_evtchn_port_t port);
int pvio_hv_evtchn_close(struct pvio_hv *hv, pvio_evtchn_port_t port);
/* Close port only if ch is still its handle (what pvio_hv_evtchn_handle()
 * gave for it): a driver tearing down its own channel can never close a
 * port number that went to someone else. -ESTALE (nothing closed) if port
 * is not open or is another channel's. */
int pvio_hv_evtchn_unbind(struct pvio_hv *hv, pvio_evtchn_port_t port,
			  const struct pvio_evtchn *ch);
/* Direct handle for a driver's data path (notify/consume without lookups). */
struct pvio_evtchn *pvio_hv_evtchn_handle(struct pvio_hv *hv, pvio_evtchn_port_t port);

/* ------------------------------------------------------------ xenstore */

/* A new connection to the store acting as this domain: an fd speaking
 * xs_wire, to be wrapped by pvio_xs_open_fd(). The caller owns it. */
int pvio_hv_xs_connect(struct pvio_hv *hv, int *fd);

#endif /* PVIO_HV_H */
