/* SPDX-License-Identifier: MIT */
/*
 * hv/ local implementation: every domain is a thread group of this process.
 * The world is in-process behind a mutex; resources are still memfds and
 * eventfds, exactly as the socket implementation hands them out, so drivers
 * behave the same in both.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hv/hv_internal.h"
#include "hv/local_xs.h"
#include "ring/pvio_export.h"

struct pvio_hv_world {
	pthread_mutex_t lock;
	struct pvio_world *w;
	struct pvio_local_xs *xs;        /* the store, served on a thread */
};

static struct pvio_hv_world *W(struct pvio_hv *hv)
{
	return (struct pvio_hv_world *)hv->impl;
}

#define LOCKED(hv, expr) ({                                   \
	struct pvio_hv_world *w_ = W(hv);                     \
	pthread_mutex_lock(&w_->lock);                        \
	int r_ = (expr);                                      \
	pthread_mutex_unlock(&w_->lock);                      \
	r_; })

static void on_destroy(void *arg, uint16_t domid)
{
	struct pvio_hv_world *hw = arg;

	if (hw->xs)
		pvio_local_xs_release(hw->xs, domid);
}

static int l_domain_create(struct pvio_hv *hv, const char *name, uint64_t mem, uint16_t *domid)
{
	int r = LOCKED(hv, pvio_world_domain_create(W(hv)->w, hv->domid, name, mem, domid));

	if (r == 0 && W(hv)->xs) {
		int x = pvio_local_xs_introduce(W(hv)->xs, *domid);
		if (x < 0) {
			LOCKED(hv, pvio_world_domain_destroy(W(hv)->w, hv->domid, *domid));
			return x;
		}
	}
	return r;
}

static int l_domain_destroy(struct pvio_hv *hv, uint16_t domid)
{
	return LOCKED(hv, pvio_world_domain_destroy(W(hv)->w, hv->domid, domid));
}

static int l_domain_lookup(struct pvio_hv *hv, const char *name, struct pvio_hv_domain_info *i)
{
	return LOCKED(hv, pvio_world_domain_lookup(W(hv)->w, hv->domid, name, i));
}

static int l_domain_at(struct pvio_hv *hv, unsigned idx, struct pvio_hv_domain_info *i)
{
	return LOCKED(hv, pvio_world_domain_at(W(hv)->w, hv->domid, idx, i));
}

static int l_domain_connect(struct pvio_hv *hv, uint16_t domid, int *fd)
{
	(void)hv; (void)domid; (void)fd;
	/* In one process a domain is opened with pvio_hv_local_open(). */
	return -EOPNOTSUPP;
}

static int l_foreign_fds(struct pvio_hv *hv, uint16_t domid, struct pvio_world_dom_fds *out)
{
	return LOCKED(hv, pvio_world_foreign_fds(W(hv)->w, hv->domid, domid, out));
}

static int l_alloc_unbound(struct pvio_hv *hv, uint16_t remote, struct pvio_world_port_fds *pf)
{
	return LOCKED(hv, pvio_world_evtchn_alloc_unbound(W(hv)->w, hv->domid, (uintptr_t)hv, remote, pf));
}

static int l_bind(struct pvio_hv *hv, uint16_t remote, pvio_evtchn_port_t rport,
		  struct pvio_world_port_fds *pf)
{
	return LOCKED(hv, pvio_world_evtchn_bind(W(hv)->w, hv->domid, (uintptr_t)hv, remote, rport, pf));
}

static int l_close(struct pvio_hv *hv, pvio_evtchn_port_t port)
{
	return LOCKED(hv, pvio_world_evtchn_close(W(hv)->w, hv->domid, port));
}

static int l_xs_connect(struct pvio_hv *hv, int *fd)
{
	if (!W(hv)->xs)
		return -EOPNOTSUPP;
	return pvio_local_xs_connect(W(hv)->xs, hv->domid, fd);
}

static const struct pvio_hv_ops local_ops = {
	.name = "local",
	.domain_create = l_domain_create,
	.domain_destroy = l_domain_destroy,
	.domain_lookup = l_domain_lookup,
	.domain_at = l_domain_at,
	.domain_connect = l_domain_connect,
	.foreign_fds = l_foreign_fds,
	.evtchn_alloc_unbound = l_alloc_unbound,
	.evtchn_bind = l_bind,
	.evtchn_close = l_close,
	.xs_connect = l_xs_connect,
};

PVIO_EXPORT int pvio_hv_world_create(struct pvio_hv_world **out)
{
	struct pvio_hv_world *hw = calloc(1, sizeof(*hw));
	int r;

	if (!hw)
		return -ENOMEM;
	pthread_mutex_init(&hw->lock, NULL);
	r = pvio_world_create(&hw->w);
	if (r < 0)
		goto err;
	r = pvio_local_xs_start(&hw->xs);
	if (r < 0 && r != -EOPNOTSUPP)
		goto err;
	pvio_world_on_destroy(hw->w, on_destroy, hw);
	*out = hw;
	return 0;
err:
	pvio_world_destroy(hw->w);
	pthread_mutex_destroy(&hw->lock);
	free(hw);
	return r;
}

PVIO_EXPORT void pvio_hv_world_destroy(struct pvio_hv_world *hw)
{
	if (!hw)
		return;
	if (hw->xs)
		pvio_local_xs_stop(hw->xs);
	pvio_world_destroy(hw->w);
	pthread_mutex_destroy(&hw->lock);
	free(hw);
}

PVIO_EXPORT int pvio_hv_local_open(struct pvio_hv_world *hw, uint16_t domid, struct pvio_hv **out)
{
	struct pvio_world_dom_fds own = { .mem_fd = -1, .gt_fd = -1 };
	struct pvio_hv *hv;
	int r;

	pthread_mutex_lock(&hw->lock);
	r = pvio_world_self_fds(hw->w, domid, &own);
	pthread_mutex_unlock(&hw->lock);
	if (r < 0)
		return r;
	hv = calloc(1, sizeof(*hv));
	if (!hv) {
		pvio__close_fd(&own.mem_fd);
		pvio__close_fd(&own.gt_fd);
		return -ENOMEM;
	}
	hv->impl = hw;
	r = pvio__hv_init(hv, &local_ops, domid, &own);
	if (r < 0) {
		free(hv);
		return r;
	}
	*out = hv;
	return 0;
}
