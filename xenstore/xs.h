/* SPDX-License-Identifier: MIT */
/*
 * pvio_xs: xenstore client library, speaking xs_wire (ring/xs_wire.h) over a
 * Unix socket — to pvio's store or any xenstored that listens on a socket.
 *
 * Errors: every function returns 0 (or a count) or -errno; results go
 * through out-pointers. Error replies from the store map to their errno
 * ("ENOENT" -> -ENOENT; an unknown name -> -EINVAL). A connection that
 * breaks (EOF, protocol violation) makes every later call fail with the
 * same error (-ECONNRESET, -EPROTO).
 *
 * Transactions: `tx` arguments take an id from pvio_xs_transaction_start(),
 * or PVIO_XS_NO_TX.
 *
 * Threads: a handle may be shared by threads. Requests are serialised (one
 * in flight at a time, each caller waits for its own reply). Watch events
 * arrive on the same socket; whichever thread is reading the socket at the
 * time queues them inside the handle. A driver typically has one watch
 * thread blocked in pvio_xs_read_watch() while other threads make requests;
 * a request made from a watch callback is fine. Only pvio_xs_close() must
 * not race with anything.
 *
 * Watch events are also available without a thread: pvio_xs_watch_fd()
 * becomes readable when an event may be there; then pvio_xs_read_watch()
 * with timeout 0 (or pvio_xs_dispatch_watches()). Identical events pending
 * in the handle are coalesced (as xenstored does), and at most
 * PVIO_XS_EVENTS_MAX are kept: beyond that new events are dropped and
 * counted (pvio_xs_events_dropped()) so a peer flooding a watched path can't
 * exhaust our memory (XSA-349).
 *
 * Hot paths do not allocate: requests are written with writev from the
 * caller's strings, replies land in the handle; pvio_xs_read_buf() copies
 * into the caller's buffer.
 */
#ifndef PVIO_XS_H
#define PVIO_XS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ring/pvio_export.h"
#include "ring/xs_wire.h"

#define PVIO_XS_NO_TX       0u
/* As many as the store keeps pending for a dom0 connection
 * (PVIO_XSD_DOM0_WATCH_EVENTS_MAX): a backend watching a thousand devices
 * must not lose their state changes to a burst. */
#define PVIO_XS_EVENTS_MAX  65536u
#define PVIO_XS_TX_RETRIES  64u

struct pvio_xs;

/* Permission of one ACL entry: perms[0] is the owner (and its perm is what
 * every domain not listed gets), further entries name domains. */
enum pvio_xs_perm_bits {
	PVIO_XS_PERM_NONE  = 0,
	PVIO_XS_PERM_READ  = 1,
	PVIO_XS_PERM_WRITE = 2,
	PVIO_XS_PERM_BOTH  = 3,
};
struct pvio_xs_perm {
	uint16_t domid;
	uint8_t  perm;             /* enum pvio_xs_perm_bits */
};

/* A watch event. path and token point into buf. */
struct pvio_xs_event {
	const char *path;
	const char *token;
	char buf[PVIO_XENSTORE_PAYLOAD_MAX + 1];
};

/* Connect to the store's socket: path, or if NULL $XENSTORED_PATH, else
 * $XENSTORED_RUNDIR/socket, else /var/run/xenstored/socket (as libxenstore).
 * 0 or -errno. */
PVIO_EXPORT int pvio_xs_open(const char *path, struct pvio_xs **out);
/* Wrap an already-connected socket (e.g. from pvio_xsd_socketpair() or
 * pvio_hv_xs_connect()). Takes ownership of fd (closed on failure too). */
PVIO_EXPORT int pvio_xs_open_fd(int fd, struct pvio_xs **out);
/* Close the connection (the store drops its watches and transactions). */
PVIO_EXPORT void pvio_xs_close(struct pvio_xs *xs);

/* Read a value. *val is malloc'ed, NUL-terminated (not counted in *len,
 * which may be NULL); free() it. */
PVIO_EXPORT int pvio_xs_read(struct pvio_xs *xs, uint32_t tx, const char *path,
			     char **val, size_t *len);
/* Read into buf (NUL-terminated). -ERANGE if size <= value length (*len
 * says the length then). No allocation. */
PVIO_EXPORT int pvio_xs_read_buf(struct pvio_xs *xs, uint32_t tx, const char *path,
				 char *buf, size_t size, size_t *len);
/* Read a decimal unsigned value: digits only, the whole value (at most 31
 * of them, below 2^64). -EINVAL if it is not one. */
PVIO_EXPORT int pvio_xs_read_uint(struct pvio_xs *xs, uint32_t tx, const char *path,
				  unsigned long long *val);
/* Write len bytes (the store keeps no NUL). Creates missing parents. */
PVIO_EXPORT int pvio_xs_write(struct pvio_xs *xs, uint32_t tx, const char *path,
			      const void *val, size_t len);
/* Write a formatted string. */
PVIO_EXPORT int pvio_xs_printf(struct pvio_xs *xs, uint32_t tx, const char *path,
			       const char *fmt, ...) __attribute__((format(printf, 4, 5)));
PVIO_EXPORT int pvio_xs_mkdir(struct pvio_xs *xs, uint32_t tx, const char *path);
/* Remove path and everything below (not an error if it is gone already but
 * its parent exists). */
PVIO_EXPORT int pvio_xs_rm(struct pvio_xs *xs, uint32_t tx, const char *path);
/* The children's names: *names is one malloc'ed block (array + strings),
 * free() it. Uses DIRECTORY_PART for lists longer than one message. */
PVIO_EXPORT int pvio_xs_directory(struct pvio_xs *xs, uint32_t tx, const char *path,
				  char ***names, unsigned *n);
/* *perms is malloc'ed; free() it. */
PVIO_EXPORT int pvio_xs_get_perms(struct pvio_xs *xs, uint32_t tx, const char *path,
				  struct pvio_xs_perm **perms, unsigned *n);
PVIO_EXPORT int pvio_xs_set_perms(struct pvio_xs *xs, uint32_t tx, const char *path,
				  const struct pvio_xs_perm *perms, unsigned n);

/* Watch path and everything below it; the store sends one event at once.
 * Events carry token. -EEXIST for a duplicate (path, token). */
PVIO_EXPORT int pvio_xs_watch(struct pvio_xs *xs, const char *path, const char *token);
/* Remove a watch; its events still queued in the handle are dropped too. */
PVIO_EXPORT int pvio_xs_unwatch(struct pvio_xs *xs, const char *path, const char *token);
/* Drop every watch and transaction of this connection (RESET_WATCHES). */
PVIO_EXPORT int pvio_xs_reset_watches(struct pvio_xs *xs);
/* Next watch event (with that token, or any if token is NULL), waiting up to
 * timeout_ms (-1: forever, 0: don't wait). 0, -EAGAIN if none came. */
PVIO_EXPORT int pvio_xs_read_watch(struct pvio_xs *xs, const char *token,
				   struct pvio_xs_event *ev, int timeout_ms);
/* Call cb for every event available now (without waiting); returns how
 * many, or -errno. cb may make requests on xs. */
PVIO_EXPORT int pvio_xs_dispatch_watches(struct pvio_xs *xs,
					 void (*cb)(void *arg, const char *path, const char *token),
					 void *arg);
/* An fd that polls readable (POLLIN) when an event may be available. Owned
 * by the handle. -errno if it could not be made. */
PVIO_EXPORT int pvio_xs_watch_fd(struct pvio_xs *xs);
/* Events this handle dropped because PVIO_XS_EVENTS_MAX were pending. */
PVIO_EXPORT unsigned long pvio_xs_events_dropped(struct pvio_xs *xs);

PVIO_EXPORT int pvio_xs_transaction_start(struct pvio_xs *xs, uint32_t *tx);
/* Commit (or abort). A commit that conflicts with another change gives
 * -EAGAIN: start over. */
PVIO_EXPORT int pvio_xs_transaction_end(struct pvio_xs *xs, uint32_t tx, bool commit);
/* Run fn in a transaction and commit; on -EAGAIN (from the commit, or from
 * fn) start over after a short random backoff, up to PVIO_XS_TX_RETRIES
 * times. If fn fails otherwise the transaction is aborted and fn's error
 * returned. Returns fn's (>= 0) result or -errno. */
typedef int (*pvio_xs_tx_fn)(struct pvio_xs *xs, uint32_t tx, void *arg);
PVIO_EXPORT int pvio_xs_transaction_run(struct pvio_xs *xs, pvio_xs_tx_fn fn, void *arg);

/* "/local/domain/<domid>" into buf. */
PVIO_EXPORT int pvio_xs_get_domain_path(struct pvio_xs *xs, uint16_t domid,
					char *buf, size_t size);
/* dom0 only. */
PVIO_EXPORT int pvio_xs_introduce_domain(struct pvio_xs *xs, uint16_t domid,
					 uint64_t mfn, uint32_t evtchn);
PVIO_EXPORT int pvio_xs_release_domain(struct pvio_xs *xs, uint16_t domid);
/* 1 introduced, 0 not, -errno. */
PVIO_EXPORT int pvio_xs_is_domain_introduced(struct pvio_xs *xs, uint16_t domid);

/* Any request: payload of len bytes (sent as is), reply payload into
 * reply/size (NUL-terminated if it fits; *rlen = its length). For tests and
 * the rarer operations (CONTROL, SET_TARGET, ...). */
PVIO_EXPORT int pvio_xs_request(struct pvio_xs *xs, uint32_t type, uint32_t tx,
				const void *payload, size_t len,
				void *reply, size_t size, size_t *rlen);

#endif /* PVIO_XS_H */
