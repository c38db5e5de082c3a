/* SPDX-License-Identifier: MIT */
/*
 * backend/: what every pvio backend shares (Linux's xenbus backend core):
 * device discovery by watching /local/domain/<be>/backend/<type>, one
 * control thread that walks each device's xenbus state machine against its
 * frontend, and the hooks a driver (blkback, netback) fills in.
 *
 * State machine, per device (DESIGN.md §4, Linux's frontend_changed):
 *   new device        probe()  -> publish features -> InitWait
 *   frontend in connect_mask (Initialised, or Connected for netif) while
 *   we are in InitWait
 *                     connect() -> map rings, bind ports, start pollers,
 *                     publish device properties -> Connected. A failure
 *                     (stale or bad frontend keys) is logged and we stay in
 *                     InitWait: the frontend may fix its keys and try again.
 *   frontend Closing  disconnect() -> Closing
 *   frontend Closed   disconnect() -> Closed; the device is kept (probed)
 *                     while the toolstack's <be>/online is not 0, so that
 *                     the frontend can come back (Linux netback
 *                     279f438e36c0); with online=0 (the toolstack is taking
 *                     it away) remove() at once, as Linux's
 *                     device_unregister(), and the nodes' removal follows
 *   frontend Initialising again after Closed/Connected (a reset or a
 *   reconnect, the Windows PV drivers' Closing -> Closed -> Initialising
 *   cycles)           disconnect() -> probe() -> InitWait, as often as it
 *                     likes; only while online (QEMU's xen-bus rule): with
 *                     online=0 we stay Closed
 *   frontend Unknown (its state node gone, or 0) once a frontend was seen
 *                     disconnect() -> Closed, as QEMU does (Linux
 *                     unregisters the device); before any frontend state
 *                     was seen: nothing, the frontend is not there yet
 *   frontend Reconfiguring while connected (drivers with reconfigure())
 *                     reconfigure() -> Reconfigured; frontend Connected
 *                     again -> Connected
 *   data path broken (protocol violation, or the frontend's port closed)
 *                     disconnect() -> Closed (that frontend only)
 *   device removed    disconnect() -> remove()
 * <be>/online absent counts as 1 (a toolstack writing the nodes by hand;
 * pvio's and libxl's write it).
 * Stale frontend state left by a previous backend process (we were
 * restarted) is handled by connect() failing to bind a port that is no
 * longer offered, which keeps us waiting for the frontend's reset.
 */
#ifndef PVIO_BACKEND_H
#define PVIO_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#include "backend/stats.h"
#include "hv/hv.h"
#include "ring/xenbus_abi.h"
#include "xenstore/xs.h"

struct pvio_backend;

struct pvio_backend_dev {
	struct pvio_backend *be;
	struct pvio_hv *hv;
	struct pvio_xs *xs;
	uint16_t fe_domid;
	uint32_t devid;
	char be_path[192];
	char fe_path[192];
	char token[64];                    /* our watch on <fe_path>/state */
	enum pvio_xenbus_state state;      /* ours */
	enum pvio_xenbus_state fe_state;   /* last seen */
	bool probed;
	bool connected;
	bool watching;
	bool fe_seen;                      /* a frontend state (1..8) was read */
	uint32_t live_watching;            /* bit i: watching ops->live_keys[i] */
	uint32_t fe_live_watching;         /* bit i: watching ops->fe_live_keys[i] */
	void *priv;                        /* the driver's */
	/* Counters for pvio top, from the device's discovery to its removal
	 * (after disconnect() and remove(): the queues stopped); never NULL
	 * in connect() and while connected. connect() hands
	 * pvio_stats_queue(stats, i) to queue i. */
	struct pvio_stats_dev *stats;
};

struct pvio_backend_ops {
	const char *type;                  /* "vbd", "vif" */
	unsigned connect_mask;             /* PVIO_XENBUS_MASK(...) of frontend states */
	/* Read the device config, open it, publish features. 0 -> InitWait. */
	int  (*probe)(struct pvio_backend_dev *dev);
	/* Read the frontend's keys, map, bind, start; publish properties.
	 * 0 -> Connected. Must leave nothing held on failure. */
	int  (*connect)(struct pvio_backend_dev *dev);
	/* Stop the data path, unmap, close ports. Idempotent. */
	void (*disconnect)(struct pvio_backend_dev *dev);
	/* Close the device and free priv. */
	void (*remove)(struct pvio_backend_dev *dev);
	/* Backend keys (relative to the device's backend directory; a
	 * directory covers everything below it) that the toolstack may change
	 * while the device runs, NULL-terminated, at most 32 (Linux netback
	 * watches "rate" this way). key_changed(dev, key) runs on the control
	 * thread once when the watch is set and after each change or
	 * removal, whatever the device's state, but only while it is probed
	 * (probe() reads the keys itself). Optional. */
	const char *const *live_keys;
	void (*key_changed)(struct pvio_backend_dev *dev, const char *key);
	/* The same for keys of the frontend's directory (netback watches
	 * request-multicast-control this way, as Linux's
	 * xen_register_mcast_ctrl_watch): key_changed() gets the name as
	 * listed here, so the two lists use different names. Optional. */
	const char *const *fe_live_keys;
	/* Frontend Reconfiguring (7) while connected: re-read what it may
	 * change (netback: xdp-headroom), then we go Reconfigured (8), and
	 * back to Connected when the frontend is (Linux's netback answers
	 * Reconfigured the same way). Optional: without it Reconfiguring is
	 * a state the driver does not know (disconnect, Closed). */
	void (*reconfigure)(struct pvio_backend_dev *dev);
	/* fd readable when the data path asks for a disconnect (or -1). */
	int  (*broken_fd)(struct pvio_backend_dev *dev);
	bool (*broken)(struct pvio_backend_dev *dev);
};

struct pvio_backend_opts {
	const struct pvio_backend_ops *ops;
	void *ctx;                         /* for the driver: pvio_backend_ctx() */
	int  stop_fd;                      /* readable: shut down */
	bool verbose;
	/* Called after a device's domain has no device left (to release its
	 * foreign mappings). */
	void (*domain_idle)(struct pvio_backend *be, uint16_t domid);
	/* The backend's stats file (pvio_stats_open()), or NULL: device
	 * records are then private. */
	struct pvio_stats *stats;
	/* If set: "ready\n" is written to *ready_fd, which is then closed,
	 * once the store connection is up and the device watch is set (from
	 * then on every device the toolstack creates is served). */
	const int *ready_fd;
};

/* Run the control loop until stop_fd is readable; then disconnect every
 * device (switching it to Closed) and return 0. If the store connection
 * fails (pviod or xenstored gone), say so on stderr and keep serving the
 * connected devices without a store until their frontends disconnect (or
 * stop_fd), then return that -errno: nothing is added or removed
 * meanwhile. -errno also if the store cannot be reached at the start. */
int pvio_backend_run(struct pvio_hv *hv, const struct pvio_backend_opts *opts);

void *pvio_backend_ctx(struct pvio_backend *be);

/* The adaptive-polling window (microseconds) a backend uses when the user
 * gave none: dflt_us, or 0 (always sleep on the event channel) when only
 * one CPU is online (ncpus; 0: ask the system). On one CPU a spinning
 * poller only takes the time that the peers it waits for need to make
 * progress: the dom0 processes it serves, and under Xen the guests'
 * vCPUs when they share the physical CPU. Linux's own backends never
 * spin. */
unsigned pvio_backend_default_poll_us(unsigned dflt_us, long ncpus);
/* For a daemon's --poll-us: poll_us when the user gave it, else the rule
 * above on this machine, said on stderr (prefixed by prog) when it turns
 * polling off. */
unsigned pvio_backend_poll_us(const char *prog, unsigned poll_us, bool given);

/* Helpers for drivers: read/write <be_path>/<key>, <fe_path>/<key>. A
 * value read with a NUL inside is refused (-EINVAL, logged). */
int pvio_backend_read(struct pvio_backend_dev *dev, bool frontend, const char *key,
		      char *buf, size_t size);
int pvio_backend_read_uint(struct pvio_backend_dev *dev, bool frontend, const char *key,
			   unsigned long long *val);
int pvio_backend_printf(struct pvio_backend_dev *dev, uint32_t tx, const char *key,
			const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void pvio_backend_log(struct pvio_backend_dev *dev, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif /* PVIO_BACKEND_H */
