/* SPDX-License-Identifier: MIT */
/*
 * pvio_xsd: the xenstore daemon as a library (what pviod embeds and what
 * pvio-xenstored runs alone).
 *
 * It speaks Xen's xs_wire protocol (ring/xs_wire.h) with Xen's semantics:
 * paths, owner + ACL permissions, watches (with the initial event),
 * transactions with conflict detection (EAGAIN), GET_DOMAIN_PATH,
 * INTRODUCE/RELEASE with @introduceDomain/@releaseDomain, per-domain quotas.
 * Xen's own xenstore-* tools and libxenstore work against it
 * (XENSTORED_PATH=<socket>).
 *
 * Who a connection is, is decided by how it got here, never by what it
 * says: connections accepted on a socket from pvio_xsd_listen() are dom0;
 * a connection handed in with pvio_xsd_add_conn() is the domid given.
 *
 * Event loop: the store is single-threaded inside. pvio_xsd_fd() is an epoll
 * fd that becomes readable when there is work; then call
 * pvio_xsd_dispatch(xsd, 0). Or call pvio_xsd_run() on a thread of its own
 * and pvio_xsd_stop() to end it. Every function here takes an internal
 * mutex, so any of them may be called from any thread, also while another
 * thread is in pvio_xsd_run() (except pvio_xsd_destroy()).
 *
 * Quotas follow xenstored (and its error codes): over the node, node-size,
 * transaction or ACL-size quota a request fails with ENOSPC, over the watch
 * quota with E2BIG, a too-long path with EINVAL. Only that request fails;
 * the connection and everyone else carry on. Quotas apply to guests; dom0 is
 * exempt unless opts.quota_dom0 is set.
 *
 * Pending watch events (XSA-349 class): events a connection does not read
 * queue up inside the store only up to quota_watch_events per connection;
 * beyond that further events for that connection are dropped, as xenstored
 * drops them (it counts them against the domain's memory quota and drops on
 * overflow or after a timeout) — the connection itself stays open. An
 * identical event already pending is not queued twice (as in xenstored).
 * dom0 connections get a safety cap of PVIO_XSD_DOM0_WATCH_EVENTS_MAX
 * instead, unless quota_dom0.
 *
 * Malformed input closes only the offending connection: a payload longer
 * than 4096 bytes (as xenstored does); an unknown message type or bad
 * arguments get an error reply (ENOSYS, EINVAL) and the connection stays.
 * Sockets are non-blocking; a client that stops mid-message or stops
 * reading holds only its own buffers (input: one message; output: replies
 * are bounded by not reading its next request while more than
 * PVIO_XSD_OUTPUT_MAX bytes of replies are queued).
 */
#ifndef PVIO_XSD_H
#define PVIO_XSD_H

#include <stdbool.h>
#include <stdint.h>
#include <limits.h>

#include "ring/pvio_export.h"

#define PVIO_XSD_UNLIMITED              UINT_MAX
#define PVIO_XSD_DOM0_WATCH_EVENTS_MAX  65536u
#define PVIO_XSD_OUTPUT_MAX             (64u * 1024u)

/* Quotas. A zero field means "default"; PVIO_XSD_UNLIMITED means none. */
struct pvio_xsd_opts {
	unsigned quota_nodes;         /* nodes owned per domain (1000) */
	unsigned quota_watches;       /* watches per domain (128) */
	unsigned quota_watch_events;  /* pending watch events per connection (1024) */
	unsigned quota_transactions;  /* open transactions per domain (10) */
	unsigned quota_node_size;     /* bytes of value per node (4096) */
	unsigned quota_path_len;      /* path length below /local/domain/<id>/ (2048) */
	unsigned quota_perms;         /* ACL entries per node, owner included (5) */
	bool     quota_dom0;          /* apply the quotas to dom0 as well */
	int      verbose;             /* 0: warnings (rate-limited); 1: + connections; 2: + requests */
};

struct pvio_xsd;

/* Fill *opts with the defaults above (all fields explicit). */
PVIO_EXPORT void pvio_xsd_opts_default(struct pvio_xsd_opts *opts);

/* Create a store with the nodes xenstored starts with: "/", "/tool",
 * "/tool/xenstored", "@introduceDomain", "@releaseDomain" (all owned by dom0,
 * no access for others). opts may be NULL. -ENOMEM, -errno of epoll/eventfd. */
PVIO_EXPORT int pvio_xsd_create(const struct pvio_xsd_opts *opts, struct pvio_xsd **out);

/* Stop serving, close every connection and listening socket (unlinking the
 * socket paths it created), free everything. NULL is fine. */
PVIO_EXPORT void pvio_xsd_destroy(struct pvio_xsd *xsd);

/* Listen on a Unix stream socket at path (a stale socket there is replaced;
 * one somebody still listens on gives -EADDRINUSE, any other file -EEXIST).
 * The socket is created with mode 0600: whoever can connect is dom0.
 * Returns 0 or -errno. */
PVIO_EXPORT int pvio_xsd_listen(struct pvio_xsd *xsd, const char *path);

/* As pvio_xsd_listen(), but every connection accepted is domain domid. Meant
 * for tests and development (e.g. running Xen's tools as a guest);
 * the real way to give a guest its connection is pvio_xsd_add_conn(). */
PVIO_EXPORT int pvio_xsd_listen_domain(struct pvio_xsd *xsd, const char *path, uint16_t domid);

/* Serve an already-connected stream socket as domain domid. Takes ownership
 * of fd (closed on failure too). Does not introduce the domain. 0 or -errno. */
PVIO_EXPORT int pvio_xsd_add_conn(struct pvio_xsd *xsd, int fd, uint16_t domid);

/* Make a socketpair, serve one end as domid, return the other in *fd (for
 * pvio_xs_open_fd(); close-on-exec, like every fd the store makes).
 * 0 or -errno. */
PVIO_EXPORT int pvio_xsd_socketpair(struct pvio_xsd *xsd, uint16_t domid, int *fd);

/* The epoll fd to poll for readability (EPOLLIN) in the embedder's loop. */
PVIO_EXPORT int pvio_xsd_fd(struct pvio_xsd *xsd);

/* Wait up to timeout_ms (-1: forever, 0: don't) for events and handle them.
 * Returns the number of events handled (0 on timeout), -EINTR, -errno. */
PVIO_EXPORT int pvio_xsd_dispatch(struct pvio_xsd *xsd, int timeout_ms);

/* Dispatch until pvio_xsd_stop(). Returns 0, or -errno if epoll failed. */
PVIO_EXPORT int pvio_xsd_run(struct pvio_xsd *xsd);

/* Make pvio_xsd_run() return (from any thread; async-signal-safe). */
PVIO_EXPORT void pvio_xsd_stop(struct pvio_xsd *xsd);

/* Mark domid introduced (as the INTRODUCE request does) and fire
 * @introduceDomain. domid 0 is always introduced. 0, -EINVAL (domid 0),
 * -ENOMEM. Introducing twice is not an error (and fires once). */
PVIO_EXPORT int pvio_xsd_introduce(struct pvio_xsd *xsd, uint16_t domid);

/* The domain is gone: close all its connections (their watches and
 * transactions go with them), give the nodes it owned to dom0 and drop it
 * from every ACL (as current xenstored does with orphaned nodes), mark it
 * not introduced and fire @releaseDomain. Returns 0, -EINVAL for dom0,
 * -ENOENT if it was neither introduced nor connected. */
PVIO_EXPORT int pvio_xsd_release_domain(struct pvio_xsd *xsd, uint16_t domid);

struct pvio_xsd_stats {
	uint64_t requests;            /* requests handled */
	uint64_t errors;              /* error replies sent */
	uint64_t events_sent;         /* watch events queued or sent */
	uint64_t events_dropped;      /* watch events dropped (pending quota) */
	uint64_t conns_accepted;      /* connections added or accepted */
	uint64_t conns_closed;        /* connections gone (any reason) */
	uint64_t conns_killed;        /* ... of which closed for a protocol violation */
	uint64_t tx_committed, tx_conflicts;
	unsigned conns;               /* open connections */
	unsigned nodes;               /* nodes in the store (special nodes included) */
	unsigned watches;             /* registered watches */
	unsigned transactions;        /* open transactions */
};
PVIO_EXPORT void pvio_xsd_get_stats(struct pvio_xsd *xsd, struct pvio_xsd_stats *st);

/* What the store accounts to one domain (for tests and `pvio` status). */
struct pvio_xsd_domain_info {
	bool     introduced;
	unsigned conns, nodes, watches, transactions;
};
/* 0, or -ENOENT if the store knows nothing of domid. */
PVIO_EXPORT int pvio_xsd_domain_info(struct pvio_xsd *xsd, uint16_t domid,
				     struct pvio_xsd_domain_info *info);

#endif /* PVIO_XSD_H */
