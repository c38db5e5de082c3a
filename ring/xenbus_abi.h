/* SPDX-License-Identifier: MIT */
/*
 * Xenbus device states (Xen's io/xenbus.h) and the frontend/backend
 * handshake that blkif.h and netif.h describe.
 *
 * Each side publishes its state as a decimal string in its own "state" key
 * and watches the peer's:
 *   [FE] /local/domain/<fe>/device/<vbd|vif>/<devid>/state
 *   [BE] /local/domain/<be>/backend/<vbd|vif>/<fe>/<devid>/state
 * The toolstack creates both directories (backend, backend-id / frontend,
 * frontend-id, online, ...) with state Initialising (1).
 *
 * Startup:
 *   BE Initialising  open the device, publish features and transport limits
 *   BE -> InitWait (2)
 *   FE               read BE features; allocate rings, grants, event
 *                    channels; write ring-ref(s), event-channel(s), protocol
 *                    and its own features, normally in one transaction
 *   FE -> Initialised (3)
 *   BE               read FE keys, map the rings, bind the event channels,
 *                    publish device properties (blkif: sectors, sector-size,
 *                    info, feature-*)
 *   BE -> Connected (4)
 *   FE               read device properties
 *   FE -> Connected (4)
 *
 * Skipped states: a frontend may go to Initialised without waiting for
 * InitWait (defaults then apply), and a backend may skip InitWait. Linux
 * netfront skips Initialised: on the backend's InitWait it writes its keys
 * and goes straight to Connected, and netback connects on the frontend's
 * Connected. Both sides must accept any of these paths, doing the work of a
 * skipped state on entry to the next.
 *
 * Teardown (Linux convention, not in Xen's headers): the side that starts
 * goes to Closing (5); the peer stops using the rings, unmaps or revokes,
 * and goes to Closed (6); both end at Closed. A frontend that goes back to
 * Initialising while the backend is Closed asks for a reconnection (Linux
 * blkback answers InitWait). The backend device is removed once it is
 * Closed and the toolstack has set online = 0.
 *
 * Reconfiguring (7) / Reconfigured (8): used by netfront's XDP: the
 * frontend writes xdp-headroom and goes to Reconfiguring; the backend
 * re-reads it and answers Reconfigured.
 *
 * A state value outside 0..8 from the peer is a protocol violation.
 */
#ifndef PVIO_XENBUS_ABI_H
#define PVIO_XENBUS_ABI_H

enum pvio_xenbus_state {
	PVIO_XENBUS_STATE_UNKNOWN       = 0,
	PVIO_XENBUS_STATE_INITIALISING  = 1,
	PVIO_XENBUS_STATE_INITWAIT      = 2,  /* early init done, waiting for peer */
	PVIO_XENBUS_STATE_INITIALISED   = 3,  /* waiting for the peer to connect */
	PVIO_XENBUS_STATE_CONNECTED     = 4,
	PVIO_XENBUS_STATE_CLOSING       = 5,  /* error or unplug */
	PVIO_XENBUS_STATE_CLOSED        = 6,
	PVIO_XENBUS_STATE_RECONFIGURING = 7,
	PVIO_XENBUS_STATE_RECONFIGURED  = 8,
};

#define PVIO_XENBUS_STATE_MAX  PVIO_XENBUS_STATE_RECONFIGURED

/* Xen's name of a state ("InitWait"), or "Invalid" outside 0..8. */
static inline const char *pvio_xenbus_state_name(int state)
{
	static const char *const names[] = {
		"Unknown", "Initialising", "InitWait", "Initialised", "Connected",
		"Closing", "Closed", "Reconfiguring", "Reconfigured",
	};

	if (state < 0 || state > PVIO_XENBUS_STATE_MAX)
		return "Invalid";
	return names[state];
}

#endif /* PVIO_XENBUS_ABI_H */
