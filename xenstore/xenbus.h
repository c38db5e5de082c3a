/* SPDX-License-Identifier: MIT */
/*
 * xenbus helpers on top of the xenstore client (xenstore/xs.h): the device
 * state machine of ring/xenbus_abi.h as frontends and backends drive it.
 *
 *   pvio_xenbus_switch_state()   write our own <dir>/state
 *   pvio_xenbus_wait_state()     wait (by watch) for the peer's <dir>/state
 *                                to reach one of a set of states
 *   pvio_xenbus_write_keys()     publish a set of keys in one transaction
 *   pvio_xenbus_devwatch_*()     backend-side device discovery: report
 *                                <fe>/<devid> entries appearing under and
 *                                disappearing from
 *                                /local/domain/<be>/backend/<type>
 *
 * Waiting for "one of a set" is how skipped states are tolerated: a backend
 * waiting for Initialised also accepts Connected, etc. A peer directory
 * that vanished reads as Unknown, so a side waiting for the peer's Closed
 * at teardown should accept Unknown too (the toolstack may unplug at once).
 *
 * The helpers use their own watch tokens and only ever take their own
 * events from the handle, so they can share a pvio_xs with other watchers.
 */
#ifndef PVIO_XENBUS_H
#define PVIO_XENBUS_H

#include <stdbool.h>
#include <stdint.h>

#include "ring/pvio_export.h"
#include "ring/xenbus_abi.h"
#include "xenstore/xs.h"

#define PVIO_XENBUS_MASK(state)  (1u << (state))

/* Write <dir>/state (decimal, as Linux's xenbus_switch_state()). */
PVIO_EXPORT int pvio_xenbus_switch_state(struct pvio_xs *xs, uint32_t tx, const char *dir,
					 enum pvio_xenbus_state state);

/* Read <dir>/state. A missing (or empty) node reads as Unknown, as in
 * Linux. -EPROTO for a value that is no state (not 0..8). */
PVIO_EXPORT int pvio_xenbus_read_state(struct pvio_xs *xs, uint32_t tx, const char *dir,
				       enum pvio_xenbus_state *state);

/* Wait until <dir>/state is one of mask (PVIO_XENBUS_MASK(s) | ...), up to
 * timeout_ms (-1: forever). 0 with the state reached in *state (may be
 * NULL), -ETIMEDOUT, -EPROTO (invalid state value), -errno. */
PVIO_EXPORT int pvio_xenbus_wait_state(struct pvio_xs *xs, const char *dir, unsigned mask,
				       int timeout_ms, enum pvio_xenbus_state *state);

/* Read <dir>/<key> as a decimal unsigned number: 0, -ENOENT, -EINVAL. */
PVIO_EXPORT int pvio_xenbus_read_uint(struct pvio_xs *xs, uint32_t tx, const char *dir,
				      const char *key, unsigned long long *val);

struct pvio_xenbus_kv {
	const char *key;           /* relative to dir; may contain '/' */
	const char *value;         /* a string (written without NUL) */
};
/* Write every <dir>/<key> = value in one transaction, retried on conflict
 * (a peer never sees half of them). 0 or -errno. */
PVIO_EXPORT int pvio_xenbus_write_keys(struct pvio_xs *xs, const char *dir,
				       const struct pvio_xenbus_kv *kv, unsigned n);

/* ------------------------------------------------------ device discovery */

struct pvio_xenbus_devwatch;

/* added: a new /local/domain/<be>/backend/<type>/<fe>/<devid> directory
 * (path); !added: it went away. Only numeric <fe> and <devid> count. */
typedef void (*pvio_xenbus_dev_fn)(void *arg, bool added, uint16_t fe_domid,
				   uint32_t devid, const char *path);

/* Watch /local/domain/<be_domid>/backend/<type>. Devices present now are
 * reported (as added) by the first poll. 0 or -errno. */
PVIO_EXPORT int pvio_xenbus_devwatch_start(struct pvio_xs *xs, uint16_t be_domid,
					   const char *type, pvio_xenbus_dev_fn fn, void *arg,
					   struct pvio_xenbus_devwatch **out);
/* Wait up to timeout_ms for this watch's events, then handle every one that
 * is queued (fn is called from here). Returns the number of devices
 * reported, 0 if nothing happened, or -errno. */
PVIO_EXPORT int pvio_xenbus_devwatch_poll(struct pvio_xenbus_devwatch *dw, int timeout_ms);
/* For callers that read all events themselves (pvio_xs_read_watch() with a
 * NULL token): if ev is this watch's, handle it and return the number of
 * devices reported (>= 0); -ENOENT if it is not ours. */
PVIO_EXPORT int pvio_xenbus_devwatch_handle(struct pvio_xenbus_devwatch *dw,
					    const struct pvio_xs_event *ev);
/* Forget a reported device without reporting anything: the next change
 * under its directory reports it as added again. For a caller that could
 * not take the device yet (a toolstack writing its keys one at a time:
 * Linux's xenbus retries the same way). 0, or -ENOENT if unknown. */
PVIO_EXPORT int pvio_xenbus_devwatch_forget(struct pvio_xenbus_devwatch *dw, uint16_t fe_domid,
					    uint32_t devid);
/* Remove the watch and free dw (reports nothing). NULL is fine. */
PVIO_EXPORT void pvio_xenbus_devwatch_stop(struct pvio_xenbus_devwatch *dw);

#endif /* PVIO_XENBUS_H */
