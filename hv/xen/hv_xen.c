/* SPDX-License-Identifier: MIT */
/*
 * hv/ on a real Xen: the third implementation, over Xen's own libraries as
 * QEMU's xen-block uses them. Backend side only (a dom0 or driver domain):
 *   grants   libxengnttab: batches through xengnttab_map_domain_grant_refs,
 *            one ref at a time (per-ref status) when a batch fails; grant
 *            copy through xengnttab_grant_copy
 *   events   libxenevtchn: one handle per bound port (its fd to poll); the
 *            kernel masks a port when it delivers it, xenevtchn_unmask is
 *            the late EOI
 *   store    the xenstored Unix socket, else /dev/xen/xenbus (both speak
 *            xs_wire, which xenstore/xs.c talks)
 * No own memory or grant table (a frontend on Xen is not done here), no
 * domain management (xl does that).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <xenevtchn.h>
#include <xengnttab.h>

#include "hv/hv_internal.h"
#include "ring/pvio_export.h"
#include "ring/ring.h"

#define XEN_PGRANT_REFS 65536u   /* refs a persistent-grant cache indexes */

/* One xengnttab mapping of count pages; unmapped when its last page is. */
struct xen_region {
	struct xen_region *next;
	uint8_t *base;
	uint32_t count;
	uint32_t live;
	uint16_t granter;
};

/* ctx of a persistent-grant cache: which granter it maps. */
struct xen_fctx {
	struct xen_fctx *next;
	struct pvio_hv *hv;
	uint16_t granter;
};

struct xen_impl {
	xengnttab_handle *xgt;
	pthread_mutex_t lock;            /* regions, fctx */
	struct xen_region *regions;
	struct xen_fctx *fctx;
};

struct xen_port {
	xenevtchn_handle *xce;
	evtchn_port_t lport;
};

static struct xen_impl *impl(struct pvio_hv *hv)
{
	return hv->impl;
}

static int16_t errno_gntst(int e)
{
	switch (e) {
	case EPERM: case EACCES: return PVIO_GNTST_permission_denied;
	case ESRCH: return PVIO_GNTST_bad_domain;
	case EINVAL: case ENOENT: return PVIO_GNTST_bad_gntref;
	case ENOMEM: case ENOSPC: return PVIO_GNTST_no_device_space;
	default: return PVIO_GNTST_general_error;
	}
}

static int region_add(struct xen_impl *x, void *base, uint32_t count, uint16_t granter)
{
	struct xen_region *r = malloc(sizeof(*r));

	if (!r)
		return -ENOMEM;
	*r = (struct xen_region){ .base = base, .count = count, .live = count,
				  .granter = granter };
	pthread_mutex_lock(&x->lock);
	r->next = x->regions;
	x->regions = r;
	pthread_mutex_unlock(&x->lock);
	return 0;
}

/* ------------------------------------------------------------ grants */

static int x_map(struct pvio_hv *hv, uint16_t granter, struct pvio_gnt_map_op *ops, unsigned n)
{
	struct xen_impl *x = impl(hv);
	uint32_t stack_refs[64], *refs = stack_refs;
	bool same = true, ro = n && (ops[0].flags & PVIO_GNTMAP_readonly);
	int done = 0;

	for (unsigned i = 1; i < n; i++)
		if (!!(ops[i].flags & PVIO_GNTMAP_readonly) != ro)
			same = false;
	if (n > 1 && same) {
		if (n > 64)
			refs = malloc(n * sizeof(*refs));
		if (refs) {
			uint8_t *base;

			for (unsigned i = 0; i < n; i++)
				refs[i] = ops[i].ref;
			base = xengnttab_map_domain_grant_refs(x->xgt, n, granter, refs,
					ro ? PROT_READ : PROT_READ | PROT_WRITE);
			if (refs != stack_refs)
				free(refs);
			if (base && region_add(x, base, n, granter) == 0) {
				for (unsigned i = 0; i < n; i++) {
					ops[i].addr = base + (size_t)i * PVIO_PAGE_SIZE;
					ops[i].frame = 0;
					ops[i].status = PVIO_GNTST_okay;
				}
				return (int)n;
			}
			if (base)
				xengnttab_unmap(x->xgt, base, n);
		}
	}
	/* One at a time: a status per ref. */
	for (unsigned i = 0; i < n; i++) {
		bool r_o = ops[i].flags & PVIO_GNTMAP_readonly;
		void *a = xengnttab_map_grant_ref(x->xgt, granter, ops[i].ref,
						  r_o ? PROT_READ : PROT_READ | PROT_WRITE);

		ops[i].frame = 0;
		if (!a) {
			ops[i].addr = NULL;
			ops[i].status = errno_gntst(errno);
			continue;
		}
		if (region_add(x, a, 1, granter) < 0) {
			xengnttab_unmap(x->xgt, a, 1);
			ops[i].addr = NULL;
			ops[i].status = PVIO_GNTST_no_device_space;
			continue;
		}
		ops[i].addr = a;
		ops[i].status = PVIO_GNTST_okay;
		done++;
	}
	return done;
}

static int x_unmap(struct pvio_hv *hv, uint16_t granter, struct pvio_gnt_map_op *ops,
		   unsigned n)
{
	struct xen_impl *x = impl(hv);
	int done = 0;

	pthread_mutex_lock(&x->lock);
	for (unsigned i = 0; i < n; i++) {
		struct xen_region **pp = &x->regions, *r;
		uint8_t *a = ops[i].addr;

		for (r = *pp; r; pp = &r->next, r = *pp)
			if (r->granter == granter && a >= r->base &&
			    a < r->base + (size_t)r->count * PVIO_PAGE_SIZE)
				break;
		if (!r || r->live == 0) {
			ops[i].status = PVIO_GNTST_bad_virt_addr;
			continue;
		}
		ops[i].status = PVIO_GNTST_okay;
		done++;
		if (--r->live == 0) {
			*pp = r->next;
			xengnttab_unmap(x->xgt, r->base, r->count);
			free(r);
		}
	}
	pthread_mutex_unlock(&x->lock);
	return done;
}

static int x_map_ring(struct pvio_hv *hv, uint16_t granter, const uint32_t *refs, unsigned n,
		      struct pvio_hv_ring_map *m)
{
	uint32_t r[PVIO_HV_RING_MAX_PAGES];
	void *base;

	memcpy(r, refs, n * sizeof(*r));
	base = xengnttab_map_domain_grant_refs(impl(hv)->xgt, n, granter, r,
					       PROT_READ | PROT_WRITE);
	if (!base)
		return errno ? -errno : -EINVAL;
	m->addr = base;
	m->n = n;
	m->granter = granter;
	return 0;
}

static void x_unmap_ring(struct pvio_hv *hv, struct pvio_hv_ring_map *m)
{
	xengnttab_unmap(impl(hv)->xgt, m->addr, m->n);
}

static int x_copy(struct pvio_hv *hv, struct pvio_gnt_copy_op *ops, unsigned n)
{
	xengnttab_grant_copy_segment_t stack_segs[32], *segs = stack_segs;
	int done = 0;

	_Static_assert(sizeof(xengnttab_grant_copy_segment_t) == sizeof(struct pvio_gnt_copy_op),
		       "copy segment layout");
	_Static_assert(PVIO_GNTCOPY_source_gref == 1 && PVIO_GNTCOPY_dest_gref == 2,
		       "GNTCOPY flags");
	if (n > 32) {
		segs = calloc(n, sizeof(*segs));
		if (!segs) {
			for (unsigned i = 0; i < n; i++)
				ops[i].status = PVIO_GNTST_general_error;
			return 0;
		}
	}
	for (unsigned i = 0; i < n; i++) {
		xengnttab_grant_copy_segment_t *s = &segs[i];

		memset(s, 0, sizeof(*s));
		if (ops[i].flags & PVIO_GNTCOPY_source_gref) {
			s->source.foreign.ref = ops[i].source.foreign.ref;
			s->source.foreign.offset = ops[i].source.foreign.offset;
			s->source.foreign.domid = ops[i].source.foreign.domid;
		} else {
			s->source.virt = ops[i].source.virt;
		}
		if (ops[i].flags & PVIO_GNTCOPY_dest_gref) {
			s->dest.foreign.ref = ops[i].dest.foreign.ref;
			s->dest.foreign.offset = ops[i].dest.foreign.offset;
			s->dest.foreign.domid = ops[i].dest.foreign.domid;
		} else {
			s->dest.virt = ops[i].dest.virt;
		}
		s->len = ops[i].len;
		s->flags = ops[i].flags;
	}
	if (xengnttab_grant_copy(impl(hv)->xgt, n, segs) < 0) {
		for (unsigned i = 0; i < n; i++)
			ops[i].status = PVIO_GNTST_general_error;
	} else {
		for (unsigned i = 0; i < n; i++) {
			ops[i].status = segs[i].status;
			if (segs[i].status == PVIO_GNTST_okay)
				done++;
		}
	}
	if (segs != stack_segs)
		free(segs);
	return done;
}

static int pg_map(void *ctx, struct pvio_gnt_map_op *ops, unsigned n)
{
	struct xen_fctx *f = ctx;

	return x_map(f->hv, f->granter, ops, n);
}

static int pg_unmap(void *ctx, struct pvio_gnt_map_op *ops, unsigned n)
{
	struct xen_fctx *f = ctx;

	return x_unmap(f->hv, f->granter, ops, n);
}

static int x_pgrant_init(struct pvio_hv *hv, uint16_t granter, struct pvio_pgrant_cache *c,
			 uint32_t max)
{
	struct xen_impl *x = impl(hv);
	struct xen_fctx *f;

	pthread_mutex_lock(&x->lock);
	for (f = x->fctx; f; f = f->next)
		if (f->granter == granter)
			break;
	if (!f) {
		f = calloc(1, sizeof(*f));
		if (f) {
			f->hv = hv;
			f->granter = granter;
			f->next = x->fctx;
			x->fctx = f;
		}
	}
	pthread_mutex_unlock(&x->lock);
	if (!f)
		return -ENOMEM;
	/* Mapped writable always: a gntdev mapping cannot be upgraded in
	 * place, and blkfront grants its persistent pages read-write (Linux
	 * blkback maps them so too). */
	return pvio_pgrant_init_mapper(c, pg_map, pg_unmap, f, XEN_PGRANT_REFS, true, max);
}

static void x_foreign_release(struct pvio_hv *hv, uint16_t granter)
{
	struct xen_impl *x = impl(hv);
	struct xen_region **pp = &x->regions, *r;

	pthread_mutex_lock(&x->lock);
	while ((r = *pp)) {
		if (r->granter != granter) {
			pp = &r->next;
			continue;
		}
		*pp = r->next;
		xengnttab_unmap(x->xgt, r->base, r->count);
		free(r);
	}
	pthread_mutex_unlock(&x->lock);
}

/* ------------------------------------------------------------ event channels */

static int xe_notify(struct pvio_evtchn *ch)
{
	struct xen_port *p = ch->priv;

	if (xenevtchn_notify(p->xce, p->lport) < 0)
		return -errno;
	ch->notifies++;
	return 1;
}

static int xe_consume(struct pvio_evtchn *ch)
{
	struct xen_port *p = ch->priv;
	xenevtchn_port_or_error_t port = xenevtchn_pending(p->xce);

	/* The kernel keeps the port masked until xenevtchn_unmask (late EOI). */
	if (port < 0 || (evtchn_port_t)port != p->lport) {
		ch->spurious++;
		return 0;
	}
	return 1;
}

static void xe_unmask(struct pvio_evtchn *ch)
{
	struct xen_port *p = ch->priv;

	/* Idempotent in the kernel's evtchn device (enabled flag). */
	xenevtchn_unmask(p->xce, p->lport);
}

static void xe_mask(struct pvio_evtchn *ch)
{
	/* Nothing: the kernel masks a port when it delivers it. */
	(void)ch;
}

static enum pvio_evtchn_end_state xe_peer_state(const struct pvio_evtchn *ch)
{
	/* Not observable through libxenevtchn; the frontend's xenstore state
	 * tells the backend core instead. */
	(void)ch;
	return PVIO_EVTCHN_CONNECTED;
}

static const struct pvio_evtchn_ops xen_evtchn_ops = {
	.notify = xe_notify,
	.consume = xe_consume,
	.unmask = xe_unmask,
	.mask = xe_mask,
	.peer_state = xe_peer_state,
};

static int x_evtchn_bind_ch(struct pvio_hv *hv, uint16_t remote, pvio_evtchn_port_t rport,
			    pvio_evtchn_port_t *lport, struct pvio_evtchn *ch)
{
	struct xen_port *p = calloc(1, sizeof(*p));
	xenevtchn_port_or_error_t lp;
	int fd, r;

	(void)hv;
	if (!p)
		return -ENOMEM;
	p->xce = xenevtchn_open(NULL, 0);
	if (!p->xce) {
		r = errno ? -errno : -ENOENT;
		free(p);
		return r;
	}
	lp = xenevtchn_bind_interdomain(p->xce, remote, rport);
	if (lp < 0) {
		r = errno ? -errno : -EINVAL;
		xenevtchn_close(p->xce);
		free(p);
		return r;
	}
	p->lport = (evtchn_port_t)lp;
	fd = xenevtchn_fd(p->xce);
	/* pending() must not block on a spurious wake-up. */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	memset(ch, 0, sizeof(*ch));
	ch->ops = &xen_evtchn_ops;
	ch->priv = p;
	ch->self_fd = fd;
	ch->peer_fd = -1;
	*lport = p->lport;
	return 0;
}

static void x_evtchn_release(struct pvio_hv *hv, struct pvio_evtchn *ch)
{
	struct xen_port *p = ch->priv;

	(void)hv;
	if (!p)
		return;
	xenevtchn_unbind(p->xce, p->lport);
	xenevtchn_close(p->xce);
	free(p);
	ch->priv = NULL;
	ch->self_fd = -1;
}

/* ------------------------------------------------------------ xenstore */

static int x_xs_connect(struct pvio_hv *hv, int *fdp)
{
	const char *paths[] = { getenv("XENSTORED_PATH"), "/run/xenstored/socket",
				"/var/run/xenstored/socket" };
	int fd;

	(void)hv;
	for (unsigned i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };

		if (!paths[i] || strlen(paths[i]) >= sizeof(sa.sun_path))
			continue;
		strcpy(sa.sun_path, paths[i]);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			*fdp = fd;
			return 0;
		}
		close(fd);
	}
	/* No local xenstored (a driver domain, or xenstored in a stub
	 * domain): the kernel's xenbus device carries xs_wire too. */
	fd = open("/dev/xen/xenbus", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	*fdp = fd;
	return 0;
}

/* ------------------------------------------------------------ domains: xl's job */

static int x_domain_create(struct pvio_hv *hv, const char *name, uint64_t mem, uint16_t *domid)
{
	(void)hv; (void)name; (void)mem; (void)domid;
	return -EOPNOTSUPP;
}

static int x_domain_destroy(struct pvio_hv *hv, uint16_t domid)
{
	(void)hv; (void)domid;
	return -EOPNOTSUPP;
}

static int x_domain_lookup(struct pvio_hv *hv, const char *name, struct pvio_hv_domain_info *i)
{
	(void)hv; (void)name; (void)i;
	return -EOPNOTSUPP;
}

static int x_domain_at(struct pvio_hv *hv, unsigned idx, struct pvio_hv_domain_info *i)
{
	(void)hv; (void)idx; (void)i;
	return -ENOENT;
}

static int x_domain_connect(struct pvio_hv *hv, uint16_t domid, int *fd)
{
	(void)hv; (void)domid; (void)fd;
	return -EOPNOTSUPP;
}

static int x_foreign_fds(struct pvio_hv *hv, uint16_t domid, struct pvio_world_dom_fds *f)
{
	(void)hv; (void)domid; (void)f;
	return -EOPNOTSUPP;
}

static void x_fini(struct pvio_hv *hv)
{
	struct xen_impl *x = impl(hv);

	if (!x)
		return;
	while (x->regions) {
		struct xen_region *r = x->regions;
		x->regions = r->next;
		xengnttab_unmap(x->xgt, r->base, r->count);
		free(r);
	}
	while (x->fctx) {
		struct xen_fctx *f = x->fctx;
		x->fctx = f->next;
		free(f);
	}
	if (x->xgt)
		xengnttab_close(x->xgt);
	pthread_mutex_destroy(&x->lock);
	free(x);
	hv->impl = NULL;
}

static const struct pvio_hv_ops xen_ops = {
	.name = "xen",
	.domain_create = x_domain_create,
	.domain_destroy = x_domain_destroy,
	.domain_lookup = x_domain_lookup,
	.domain_at = x_domain_at,
	.domain_connect = x_domain_connect,
	.foreign_fds = x_foreign_fds,
	.xs_connect = x_xs_connect,
	.map = x_map,
	.unmap = x_unmap,
	.map_ring = x_map_ring,
	.unmap_ring = x_unmap_ring,
	.copy = x_copy,
	.pgrant_init = x_pgrant_init,
	.foreign_release = x_foreign_release,
	.evtchn_bind_ch = x_evtchn_bind_ch,
	.evtchn_release = x_evtchn_release,
	.fini = x_fini,
};

PVIO_EXPORT int pvio_hv_xen_open(struct pvio_hv **out)
{
	struct pvio_world_dom_fds own = { .mem_fd = -1, .gt_fd = -1 };
	struct pvio_hv *hv;
	struct xen_impl *x;
	const char *d = getenv("PVIO_XEN_DOMID");
	xenevtchn_handle *probe;
	int r;

	/* Both devices, or nothing: fail at once rather than at first use. */
	if (access("/dev/xen/gntdev", R_OK | W_OK) < 0 || access("/dev/xen/evtchn", R_OK | W_OK) < 0)
		return errno == ENOENT ? -ENOENT : -errno;
	x = calloc(1, sizeof(*x));
	hv = calloc(1, sizeof(*hv));
	if (!x || !hv) {
		free(x);
		free(hv);
		return -ENOMEM;
	}
	pthread_mutex_init(&x->lock, NULL);
	x->xgt = xengnttab_open(NULL, 0);
	probe = xenevtchn_open(NULL, 0);
	if (!x->xgt || !probe) {
		r = errno ? -errno : -ENOENT;
		if (probe)
			xenevtchn_close(probe);
		if (x->xgt)
			xengnttab_close(x->xgt);
		pthread_mutex_destroy(&x->lock);
		free(x);
		free(hv);
		return r;
	}
	xenevtchn_close(probe);
	/* Older gntdev drivers cap mappings per handle; ask for plenty. */
	xengnttab_set_max_grants(x->xgt, 1u << 16);
	r = pvio__hv_init(hv, &xen_ops, d ? (uint16_t)atoi(d) : PVIO_DOMID_DOM0, &own);
	if (r < 0) {
		hv->impl = x;
		x_fini(hv);
		free(hv);
		return r;
	}
	hv->impl = x;
	*out = hv;
	return 0;
}
