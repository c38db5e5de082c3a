/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "evtchn/evtchn.h"
#include "ring/pvio_atomic.h"
#include "ring/pvio_export.h"

PVIO_EXPORT void pvio_evtchn_shared_init(struct pvio_evtchn_shared *sh)
{
	memset(sh, 0, sizeof(*sh));
}

PVIO_EXPORT void pvio_evtchn_attach(struct pvio_evtchn *ch, struct pvio_evtchn_shared *sh,
				    unsigned side, int self_fd, int peer_fd)
{
	memset(ch, 0, sizeof(*ch));
	ch->sh = sh;
	ch->side = side & 1;
	ch->self_fd = self_fd;
	ch->peer_fd = peer_fd;
}

static inline struct pvio_evtchn_end *self_end(const struct pvio_evtchn *ch)
{
	return &ch->sh->end[ch->side];
}

static inline struct pvio_evtchn_end *peer_end(const struct pvio_evtchn *ch)
{
	return &ch->sh->end[ch->side ^ 1];
}

static int kick(int fd)
{
	uint64_t one = 1;

	if (fd < 0)
		return 0;
	for (;;) {
		ssize_t r = write(fd, &one, sizeof(one));
		if (r == (ssize_t)sizeof(one))
			return 1;
		if (r < 0 && errno == EINTR)
			continue;
		/* EAGAIN: counter saturated, the reader has a wake-up anyway. */
		if (r < 0 && errno == EAGAIN)
			return 0;
		return r < 0 ? -errno : -EIO;
	}
}

PVIO_EXPORT void pvio_evtchn_set_state(struct pvio_evtchn *ch, enum pvio_evtchn_end_state st)
{
	if (ch->ops)
		return;
	pvio_store_release(&self_end(ch)->state, (uint32_t)st);
	if (st == PVIO_EVTCHN_CLOSED) {
		/* Make the peer look: pairs with its consume + peer_state. */
		pvio_fetch_or(&peer_end(ch)->pending, 1u);
		kick(ch->peer_fd);
	}
}

PVIO_EXPORT enum pvio_evtchn_end_state pvio_evtchn_peer_state(const struct pvio_evtchn *ch)
{
	/* Pairs with the release in the peer's pvio_evtchn_set_state(). */
	uint32_t st;

	if (__builtin_expect(ch->ops != NULL, 0))
		return ch->ops->peer_state(ch);
	st = pvio_load_acquire(&peer_end(ch)->state);
	return st > PVIO_EVTCHN_CLOSED ? PVIO_EVTCHN_CLOSED : (enum pvio_evtchn_end_state)st;
}

PVIO_EXPORT int pvio_evtchn_notify(struct pvio_evtchn *ch)
{
	struct pvio_evtchn_end *p;
	int r;

	if (__builtin_expect(ch->ops != NULL, 0))
		return ch->ops->notify(ch);
	p = peer_end(ch);
	/* Full-barrier RMW: our earlier ring writes are visible before pending,
	 * and pending is set before we read masked. Pairs with the fence in
	 * pvio_evtchn_unmask() (store masked=0; mb; load pending). */
	if (pvio_fetch_or(&p->pending, 1u) != 0) {
		ch->suppressed++;
		return 0;
	}
	pvio_mb();
	if (pvio_load_relaxed(&p->masked)) {
		ch->suppressed++;
		return 0;
	}
	r = kick(ch->peer_fd);
	if (r > 0)
		ch->notifies++;
	return r;
}

static void drain(int fd)
{
	uint64_t v;

	if (fd >= 0)
		while (read(fd, &v, sizeof(v)) < 0 && errno == EINTR)
			;
}

PVIO_EXPORT int pvio_evtchn_consume(struct pvio_evtchn *ch)
{
	struct pvio_evtchn_end *s;
	uint32_t was;

	if (__builtin_expect(ch->ops != NULL, 0))
		return ch->ops->consume(ch);
	s = self_end(ch);
	pvio_store_relaxed(&s->masked, 1u);
	drain(ch->self_fd);
	/* Acquire side of the peer's fetch_or: ring updates made before the
	 * notification are visible after we take it. */
	was = __atomic_exchange_n(&s->pending, 0u, __ATOMIC_ACQ_REL);
	if (!was)
		ch->spurious++;
	return was != 0;
}

PVIO_EXPORT void pvio_evtchn_unmask(struct pvio_evtchn *ch)
{
	struct pvio_evtchn_end *s;

	if (__builtin_expect(ch->ops != NULL, 0)) {
		ch->ops->unmask(ch);
		return;
	}
	s = self_end(ch);
	pvio_store_relaxed(&s->masked, 0u);
	/* Store-load: masked=0 visible before we read pending; pairs with the
	 * fence between the peer's fetch_or(pending) and load(masked). Either
	 * the peer sees us unmasked and kicks, or we see its pending and
	 * re-raise our own wake-up. */
	pvio_mb();
	if (pvio_load_relaxed(&s->pending))
		kick(ch->self_fd);
}

PVIO_EXPORT void pvio_evtchn_mask(struct pvio_evtchn *ch)
{
	if (__builtin_expect(ch->ops != NULL, 0)) {
		ch->ops->mask(ch);
		return;
	}
	pvio_store_relaxed(&self_end(ch)->masked, 1u);
}

PVIO_EXPORT bool pvio_evtchn_is_pending(const struct pvio_evtchn *ch)
{
	if (ch->ops)
		return false;   /* not observable without consuming */
	return pvio_load_acquire(&self_end(ch)->pending) != 0;
}
