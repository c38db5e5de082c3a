/* SPDX-License-Identifier: MIT */
/*
 * Event channels: the notification half of a split driver.
 *
 * An interdomain channel joins port A of one domain to port B of another.
 * Its state is one small shared page (struct pvio_evtchn_shared) mapped by
 * both ends, plus one eventfd per end that wakes that end's poller. The page
 * plays the role of Xen's evtchn_pending/evtchn_mask bits:
 *
 *   notify(A -> B):  set B.pending; if it was clear and B is not masked,
 *                    write B's eventfd (one wake-up per batch: coalescing)
 *   B consumes:      pvio_evtchn_consume() masks B, clears B.pending and
 *                    drains the eventfd (the event is "in service")
 *   B, after work:   pvio_evtchn_unmask() -- late EOI (XSA-332): events that
 *                    arrived while masked raise one new wake-up, no storm
 *
 * A sender whose peer is busy (masked) makes no system call at all.
 * Nothing here trusts the peer: a hostile peer can only set or clear bits in
 * the one page it shares with us, which affects nothing but this channel.
 */
#ifndef PVIO_EVTCHN_H
#define PVIO_EVTCHN_H

#include <stdbool.h>
#include <stdint.h>

typedef uint32_t pvio_evtchn_port_t;

enum pvio_evtchn_end_state {
	PVIO_EVTCHN_FREE      = 0,
	PVIO_EVTCHN_UNBOUND   = 1,   /* allocated, waiting for the peer to bind */
	PVIO_EVTCHN_CONNECTED = 2,
	PVIO_EVTCHN_CLOSED    = 3,   /* this end closed it */
};

/* One end's flags, on its own cache line. */
struct pvio_evtchn_end {
	uint32_t pending;    /* [peer sets, owner clears] */
	uint32_t masked;     /* [owner] */
	uint32_t state;      /* [owner] enum pvio_evtchn_end_state */
	uint32_t pad[13];
};
_Static_assert(sizeof(struct pvio_evtchn_end) == 64, "evtchn end");

/* The shared page of one channel: end[0] is the allocating side (alloc_unbound),
 * end[1] the binding side. */
struct pvio_evtchn_shared {
	struct pvio_evtchn_end end[2];
};

struct pvio_evtchn;

/*
 * A channel that is not a pvio shared page (a real Xen port bound through
 * libxenevtchn): the functions below hand over to these when ch->ops is set.
 * self_fd is still the fd to poll.
 */
struct pvio_evtchn_ops {
	int  (*notify)(struct pvio_evtchn *ch);
	int  (*consume)(struct pvio_evtchn *ch);
	void (*unmask)(struct pvio_evtchn *ch);
	void (*mask)(struct pvio_evtchn *ch);
	enum pvio_evtchn_end_state (*peer_state)(const struct pvio_evtchn *ch);
};

/* A process's handle on its end of a channel. */
struct pvio_evtchn {
	const struct pvio_evtchn_ops *ops;   /* NULL: the shared-page channel */
	void    *priv;                   /* ops' state */
	struct pvio_evtchn_shared *sh;   /* mapped shared page */
	int      self_fd;                /* eventfd: our wake-up (we read it) */
	int      peer_fd;                /* eventfd: the peer's wake-up (we write it) */
	uint8_t  side;                   /* 0 or 1: which end is ours */
	uint64_t notifies;               /* eventfd writes we made */
	uint64_t suppressed;             /* notifications coalesced (no syscall) */
	uint64_t spurious;               /* consumes that found nothing pending */
};

/* Set up the shared page of a new channel (both ends unbound/free). */
void pvio_evtchn_shared_init(struct pvio_evtchn_shared *sh);

/* Attach a handle to one end. Does not take ownership of fds or the page. */
void pvio_evtchn_attach(struct pvio_evtchn *ch, struct pvio_evtchn_shared *sh,
			unsigned side, int self_fd, int peer_fd);

/* Mark our end connected / closed in the shared page. Closing also raises
 * the peer's event so that it notices. */
void pvio_evtchn_set_state(struct pvio_evtchn *ch, enum pvio_evtchn_end_state st);

/* State of the peer's end (PVIO_EVTCHN_CLOSED after it closed). */
enum pvio_evtchn_end_state pvio_evtchn_peer_state(const struct pvio_evtchn *ch);

/* Raise the peer's event. Returns 1 if a wake-up was written, 0 if coalesced
 * or masked, -errno if the eventfd write failed. */
int pvio_evtchn_notify(struct pvio_evtchn *ch);

/* Take our pending event, masking the port (late EOI). Returns 1 if an
 * event was pending, 0 if the wake-up was spurious. */
int pvio_evtchn_consume(struct pvio_evtchn *ch);

/* End of service: unmask; an event that arrived meanwhile wakes us again. */
void pvio_evtchn_unmask(struct pvio_evtchn *ch);

/* Mask without consuming (no wake-ups until unmask). */
void pvio_evtchn_mask(struct pvio_evtchn *ch);

/* Non-destructive: is an event pending on our end? */
bool pvio_evtchn_is_pending(const struct pvio_evtchn *ch);

#endif /* PVIO_EVTCHN_H */
