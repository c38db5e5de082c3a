/* SPDX-License-Identifier: MIT */
/*
 * The implementation-independent half of hv/: a domain's own memory and page
 * allocator, its grant table, its views of foreign grant tables, its ports.
 * Implementations (hv_local.c, hv_socket.c) only broker the resources.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "hv/hv_internal.h"
#include "ring/pvio_export.h"
#include "ring/ring.h"

void pvio__close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void *map_fd(int fd, size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	return p == MAP_FAILED ? NULL : p;
}

int pvio__hv_init(struct pvio_hv *hv, const struct pvio_hv_ops *ops, uint16_t domid,
		  struct pvio_world_dom_fds *own)
{
	int r = -ENOMEM;

	hv->ops = ops;
	hv->domid = domid;
	pthread_mutex_init(&hv->lock, NULL);
	pthread_mutex_init(&hv->gnt_lock, NULL);
	hv->foreign = calloc(PVIO_DOMID_MAX_GUEST + 1, sizeof(*hv->foreign));
	if (!hv->foreign)
		goto err;
	if (own->mem_fd >= 0 && own->mem_bytes) {
		hv->mem = map_fd(own->mem_fd, own->mem_bytes);
		if (!hv->mem) {
			r = -errno;
			goto err;
		}
		hv->mem_bytes = own->mem_bytes;
		hv->nr_pages = own->mem_bytes / PVIO_PAGE_SIZE;
		hv->page_bitmap = calloc((hv->nr_pages + 63) / 64, sizeof(uint64_t));
		hv->page_freeing = calloc((hv->nr_pages + 63) / 64, sizeof(uint64_t));
		hv->page_grants = calloc(hv->nr_pages, sizeof(uint16_t));
		if (!hv->page_bitmap || !hv->page_freeing || !hv->page_grants) {
			r = -ENOMEM;
			goto err;
		}
	}
	if (own->gt_fd < 0) {
		/* No own grant table (xen: a backend-only handle). */
		pvio__close_fd(&own->mem_fd);
		return 0;
	}
	hv->gt_bytes = (size_t)own->gt_entries * sizeof(struct pvio_grant_entry_v1);
	hv->gt = map_fd(own->gt_fd, hv->gt_bytes);
	if (!hv->gt) {
		r = -errno;
		goto err;
	}
	r = pvio_gnttab_fe_init(&hv->fe, hv->gt, own->gt_entries);
	if (r < 0)
		goto err;
	/* Refs adopted busy (a frontend restarted under a live backend) count
	 * on no page: this process never allocated theirs. */
	hv->ref_gfn = malloc((size_t)own->gt_entries * sizeof(*hv->ref_gfn));
	if (!hv->ref_gfn) {
		r = -ENOMEM;
		goto err;
	}
	for (uint32_t i = 0; i < own->gt_entries; i++)
		hv->ref_gfn[i] = HV_REF_UNCOUNTED;
	pvio__close_fd(&own->mem_fd);
	pvio__close_fd(&own->gt_fd);
	return 0;
err:
	pvio__close_fd(&own->mem_fd);
	pvio__close_fd(&own->gt_fd);
	pvio__hv_fini(hv);
	return r;
}

static void foreign_drop(struct pvio_hv *hv, uint16_t domid)
{
	struct hv_foreign *f = hv->foreign[domid];

	if (!f)
		return;
	hv->foreign[domid] = NULL;
	/* Releases every pin still held: GTF_reading/writing cleared, so the
	 * granter can revoke (its memory stays valid until munmap below). */
	pvio_gnttab_view_fini(&f->view);
	if (f->pins) {
		hv->ops->register_pins(hv, domid, 0, -1);
		munmap(f->pins, f->pins_bytes);
	}
	if (f->mem)
		munmap(f->mem, f->mem_bytes);
	munmap(f->gt, f->gt_bytes);
	pvio__close_fd(&f->mem_fd);
	free(f);
}

/* The slot of port in the table (NULL: its bucket does not exist), for
 * lock-free readers. */
static struct hv_port **port_slot(struct pvio_hv *hv, pvio_evtchn_port_t port)
{
	struct hv_port **b;

	if (port == 0 || port >= PVIO_HV_MAX_PORTS)
		return NULL;
	/* Acquire: pairs with the release in port_slot_make(). */
	b = __atomic_load_n(&hv->port_buckets[port / HV_PORT_BUCKET], __ATOMIC_ACQUIRE);
	return b ? &b[port % HV_PORT_BUCKET] : NULL;
}

static struct hv_port *port_get(struct pvio_hv *hv, pvio_evtchn_port_t port)
{
	struct hv_port **slot = port_slot(hv, port);

	return slot ? __atomic_load_n(slot, __ATOMIC_ACQUIRE) : NULL;
}

/* Under hv->lock: the slot of port, its bucket allocated if needed. */
static struct hv_port **port_slot_make(struct pvio_hv *hv, pvio_evtchn_port_t port)
{
	struct hv_port **b;

	if (port == 0 || port >= PVIO_HV_MAX_PORTS)
		return NULL;
	b = hv->port_buckets[port / HV_PORT_BUCKET];
	if (!b) {
		b = calloc(HV_PORT_BUCKET, sizeof(*b));
		if (!b)
			return NULL;
		/* Release: the zeroed bucket is visible before the pointer. */
		__atomic_store_n(&hv->port_buckets[port / HV_PORT_BUCKET], b, __ATOMIC_RELEASE);
	}
	return &b[port % HV_PORT_BUCKET];
}

static void port_drop(struct pvio_hv *hv, pvio_evtchn_port_t port, bool tell_broker)
{
	struct hv_port **slot = port_slot(hv, port);
	struct hv_port *p = slot ? *slot : NULL;

	if (!p)
		return;
	__atomic_store_n(slot, NULL, __ATOMIC_RELEASE);
	if (p->ch.ops) {
		hv->ops->evtchn_release(hv, &p->ch);
		free(p);
		return;
	}
	/* Mark our end closed and wake the peer before the broker frees it. */
	pvio_evtchn_set_state(&p->ch, PVIO_EVTCHN_CLOSED);
	if (tell_broker && hv->ops && hv->ops->evtchn_close)
		hv->ops->evtchn_close(hv, port);
	munmap(p->shm, PVIO_PAGE_SIZE);
	pvio__close_fd(&p->self_efd);
	pvio__close_fd(&p->peer_efd);
	free(p);
}

void pvio__hv_fini(struct pvio_hv *hv)
{
	for (unsigned b = 0; b < PVIO_HV_MAX_PORTS / HV_PORT_BUCKET; b++) {
		if (!hv->port_buckets[b])
			continue;
		for (unsigned i = 0; i < HV_PORT_BUCKET; i++)
			port_drop(hv, b * HV_PORT_BUCKET + i, true);
		free(hv->port_buckets[b]);
		hv->port_buckets[b] = NULL;
	}
	if (hv->foreign) {
		for (unsigned i = 0; i <= PVIO_DOMID_MAX_GUEST; i++)
			foreign_drop(hv, (uint16_t)i);
		free(hv->foreign);
		hv->foreign = NULL;
	}
	if (hv->gt) {
		pvio_gnttab_fe_fini(&hv->fe);
		munmap(hv->gt, hv->gt_bytes);
		hv->gt = NULL;
	}
	if (hv->mem) {
		munmap(hv->mem, hv->mem_bytes);
		hv->mem = NULL;
	}
	free(hv->page_bitmap);
	hv->page_bitmap = NULL;
	free(hv->page_freeing);
	hv->page_freeing = NULL;
	free(hv->page_grants);
	hv->page_grants = NULL;
	free(hv->ref_gfn);
	hv->ref_gfn = NULL;
	pthread_mutex_destroy(&hv->lock);
	pthread_mutex_destroy(&hv->gnt_lock);
}

PVIO_EXPORT void pvio_hv_close(struct pvio_hv *hv)
{
	if (!hv)
		return;
	pvio__hv_fini(hv);
	if (hv->ops && hv->ops->fini)
		hv->ops->fini(hv);
	free(hv);
}

PVIO_EXPORT uint16_t pvio_hv_domid(const struct pvio_hv *hv)
{
	return hv->domid;
}

PVIO_EXPORT const char *pvio_hv_impl_name(const struct pvio_hv *hv)
{
	return hv->ops->name;
}

/* ------------------------------------------------------------ domains */

PVIO_EXPORT int pvio_hv_domain_create(struct pvio_hv *hv, const char *name, uint64_t mem_bytes,
				      uint16_t *domid)
{
	return hv->ops->domain_create(hv, name, mem_bytes, domid);
}

PVIO_EXPORT int pvio_hv_domain_destroy(struct pvio_hv *hv, uint16_t domid)
{
	return hv->ops->domain_destroy(hv, domid);
}

PVIO_EXPORT int pvio_hv_domain_lookup(struct pvio_hv *hv, const char *name,
				      struct pvio_hv_domain_info *info)
{
	return hv->ops->domain_lookup(hv, name, info);
}

PVIO_EXPORT int pvio_hv_domain_list(struct pvio_hv *hv, struct pvio_hv_domain_info *out,
				    unsigned max)
{
	struct pvio_hv_domain_info tmp;
	unsigned n = 0;
	int r;

	for (;;) {
		r = hv->ops->domain_at(hv, n, n < max ? &out[n] : &tmp);
		if (r == -ENOENT)
			return (int)n;
		if (r < 0)
			return r;
		n++;
	}
}

PVIO_EXPORT int pvio_hv_domain_connect(struct pvio_hv *hv, uint16_t domid, int *fd)
{
	return hv->ops->domain_connect(hv, domid, fd);
}

/* ------------------------------------------------------------ own memory */

PVIO_EXPORT void *pvio_hv_mem(struct pvio_hv *hv, size_t *bytes)
{
	if (bytes)
		*bytes = hv->mem_bytes;
	return hv->mem;
}

/* The bitmap changes under hv->lock; pvio_hv_pages_allocated() reads it
 * without, hence the atomics. */
static bool page_used(const struct pvio_hv *hv, uint64_t i)
{
	return __atomic_load_n(&hv->page_bitmap[i / 64], __ATOMIC_RELAXED) >> (i % 64) & 1;
}

static void page_set(struct pvio_hv *hv, uint64_t i, bool on)
{
	if (on)
		__atomic_fetch_or(&hv->page_bitmap[i / 64], 1ull << (i % 64), __ATOMIC_RELAXED);
	else
		__atomic_fetch_and(&hv->page_bitmap[i / 64], ~(1ull << (i % 64)), __ATOMIC_RELAXED);
}

/* Page i starts a bitmap word whose 64 pages are all allocated. */
static bool word_full(const struct pvio_hv *hv, uint64_t i)
{
	return i % 64 == 0 && __atomic_load_n(&hv->page_bitmap[i / 64], __ATOMIC_RELAXED) == ~0ull;
}

PVIO_EXPORT bool pvio_hv_pages_allocated(struct pvio_hv *hv, uint64_t gfn, uint64_t npages)
{
	if (!hv->page_bitmap || gfn >= hv->nr_pages || npages > hv->nr_pages - gfn)
		return false;
	for (uint64_t i = gfn; i < gfn + npages; i++) {
		if (i + 64 <= gfn + npages && word_full(hv, i)) {
			i += 63;
			continue;
		}
		if (!page_used(hv, i))
			return false;
	}
	return true;
}

PVIO_EXPORT int pvio_hv_page_alloc(struct pvio_hv *hv, unsigned npages, uint64_t *gfn)
{
	uint64_t run = 0;

	if (npages == 0)
		return -EINVAL;
	pthread_mutex_lock(&hv->lock);
	for (uint64_t i = 0; i < hv->nr_pages; i++) {
		if (word_full(hv, i)) {
			i += 63;
			run = 0;
			continue;
		}
		run = page_used(hv, i) ? 0 : run + 1;
		if (run == npages) {
			uint64_t first = i + 1 - npages;
			for (uint64_t j = first; j <= i; j++)
				page_set(hv, j, true);
			pthread_mutex_unlock(&hv->lock);
			*gfn = first;
			return 0;
		}
	}
	pthread_mutex_unlock(&hv->lock);
	return -ENOMEM;
}

/* A page freed while a grant of it is live (the grantee may have it
 * mapped, or map it later) must not be handed out again, as a ring or as
 * somebody else's buffer: it stays allocated, marked, and goes back to the
 * allocator when its last grant is revoked -- as Xen keeps a freed page
 * while a grant mapping references it. */
PVIO_EXPORT void pvio_hv_page_free(struct pvio_hv *hv, uint64_t gfn, unsigned npages)
{
	pthread_mutex_lock(&hv->gnt_lock);
	pthread_mutex_lock(&hv->lock);
	for (uint64_t j = gfn; j < gfn + npages && j < hv->nr_pages; j++) {
		if (!page_used(hv, j))
			continue;
		if (hv->page_grants[j])
			hv->page_freeing[j / 64] |= 1ull << (j % 64);
		else
			page_set(hv, j, false);
	}
	pthread_mutex_unlock(&hv->lock);
	pthread_mutex_unlock(&hv->gnt_lock);
}

PVIO_EXPORT void *pvio_hv_gfn_ptr(struct pvio_hv *hv, uint64_t gfn)
{
	if (!hv->mem || gfn >= hv->nr_pages)
		return NULL;
	return (uint8_t *)hv->mem + gfn * PVIO_PAGE_SIZE;
}

PVIO_EXPORT int64_t pvio_hv_ptr_gfn(struct pvio_hv *hv, const void *p)
{
	uintptr_t base = (uintptr_t)hv->mem, a = (uintptr_t)p;

	if (!hv->mem || a < base || a >= base + hv->mem_bytes)
		return -EINVAL;
	return (int64_t)((a - base) / PVIO_PAGE_SIZE);
}

/* ------------------------------------------------------------ grants */

PVIO_EXPORT int pvio_hv_grant(struct pvio_hv *hv, uint16_t domid, uint64_t gfn, bool readonly)
{
	int r;

	if (gfn >= hv->nr_pages || !hv->ref_gfn)
		return -EINVAL;
	pthread_mutex_lock(&hv->gnt_lock);
	if (hv->page_grants[gfn] == UINT16_MAX) {
		r = -ENOSPC;
	} else {
		r = pvio_gnttab_grant(&hv->fe, domid, gfn, readonly);
		if (r >= 0) {
			hv->ref_gfn[r] = (uint32_t)gfn;
			hv->page_grants[gfn]++;
		}
	}
	pthread_mutex_unlock(&hv->gnt_lock);
	return r;
}

PVIO_EXPORT int pvio_hv_revoke(struct pvio_hv *hv, uint32_t ref)
{
	uint32_t gfn;
	int r;

	pthread_mutex_lock(&hv->gnt_lock);
	r = pvio_gnttab_revoke(&hv->fe, ref);
	if (r == 0 && hv->ref_gfn && ref < hv->fe.nr_entries &&
	    (gfn = hv->ref_gfn[ref]) != HV_REF_UNCOUNTED) {
		hv->ref_gfn[ref] = HV_REF_UNCOUNTED;
		if (--hv->page_grants[gfn] == 0 &&
		    (hv->page_freeing[gfn / 64] >> (gfn % 64) & 1)) {
			pthread_mutex_lock(&hv->lock);
			hv->page_freeing[gfn / 64] &= ~(1ull << (gfn % 64));
			page_set(hv, gfn, false);
			pthread_mutex_unlock(&hv->lock);
		}
	}
	pthread_mutex_unlock(&hv->gnt_lock);
	return r;
}

/* The view of granter's table, opened on first use. */
static struct hv_foreign *foreign_get(struct pvio_hv *hv, uint16_t granter, int *err)
{
	struct pvio_world_dom_fds fds = { .mem_fd = -1, .gt_fd = -1 };
	struct hv_foreign *f;
	int r;

	if (granter > PVIO_DOMID_MAX_GUEST || granter == hv->domid) {
		*err = -EINVAL;
		return NULL;
	}
	f = __atomic_load_n(&hv->foreign[granter], __ATOMIC_ACQUIRE);
	if (f)
		return f;
	pthread_mutex_lock(&hv->lock);
	f = hv->foreign[granter];
	if (f)
		goto out;
	r = hv->ops->foreign_fds(hv, granter, &fds);
	if (r < 0)
		goto fail;
	r = -ENOMEM;
	f = calloc(1, sizeof(*f));
	if (!f)
		goto fail;
	f->domid = granter;
	f->mem_fd = -1;
	f->gt_bytes = (size_t)fds.gt_entries * sizeof(struct pvio_grant_entry_v1);
	f->gt = map_fd(fds.gt_fd, f->gt_bytes);
	if (!f->gt) {
		r = -ENOMEM;
		goto fail;
	}
	if (fds.mem_fd >= 0 && fds.mem_bytes) {
		f->mem_bytes = fds.mem_bytes;
		f->mem = map_fd(fds.mem_fd, f->mem_bytes);
		if (!f->mem) {
			r = -ENOMEM;
			goto fail;
		}
	}
	if (hv->ops->register_pins) {
		/* Pins in a memfd the broker also holds: if we die, it
		 * releases them (as Xen's gntdev does for a dead process). */
		int pfd = memfd_create("pvio-pins", MFD_CLOEXEC);

		f->pins_bytes = pvio_gnttab_pins_bytes(fds.gt_entries);
		if (pfd < 0 || ftruncate(pfd, (off_t)f->pins_bytes) < 0) {
			r = -errno;
			if (pfd >= 0)
				close(pfd);
			goto fail;
		}
		f->pins = map_fd(pfd, f->pins_bytes);
		r = f->pins ? hv->ops->register_pins(hv, granter, fds.gt_entries, pfd) : -ENOMEM;
		close(pfd);
		if (r < 0) {
			if (f->pins)
				munmap(f->pins, f->pins_bytes);
			f->pins = NULL;
			goto fail;
		}
	}
	r = pvio_gnttab_view_init_pins(&f->view, f->gt, fds.gt_entries, f->mem,
				       f->mem_bytes / PVIO_PAGE_SIZE, granter, hv->domid, f->pins);
	if (r < 0) {
		if (f->pins) {
			hv->ops->register_pins(hv, granter, 0, -1);
			munmap(f->pins, f->pins_bytes);
		}
		goto fail;
	}
	f->mem_fd = fds.mem_fd;
	fds.mem_fd = -1;
	pvio__close_fd(&fds.gt_fd);
	/* Release: the view is complete before another thread sees it. */
	__atomic_store_n(&hv->foreign[granter], f, __ATOMIC_RELEASE);
out:
	pthread_mutex_unlock(&hv->lock);
	return f;
fail:
	if (f) {
		if (f->mem)
			munmap(f->mem, f->mem_bytes);
		if (f->gt)
			munmap(f->gt, f->gt_bytes);
		free(f);
	}
	pvio__close_fd(&fds.mem_fd);
	pvio__close_fd(&fds.gt_fd);
	pthread_mutex_unlock(&hv->lock);
	*err = r;
	return NULL;
}

static void fail_map_ops(struct pvio_gnt_map_op *ops, unsigned n, int err)
{
	int16_t st = err == -ESRCH || err == -EINVAL ? PVIO_GNTST_bad_domain
						     : PVIO_GNTST_general_error;

	for (unsigned i = 0; i < n; i++) {
		ops[i].status = st;
		ops[i].addr = NULL;
	}
}

PVIO_EXPORT int pvio_hv_map(struct pvio_hv *hv, uint16_t granter, struct pvio_gnt_map_op *ops,
			    unsigned n)
{
	int err = 0;
	struct hv_foreign *f;

	if (hv->ops->map)
		return hv->ops->map(hv, granter, ops, n);
	f = foreign_get(hv, granter, &err);
	if (!f) {
		fail_map_ops(ops, n, err);
		return 0;
	}
	return pvio_gnttab_map(&f->view, ops, n);
}

PVIO_EXPORT int pvio_hv_unmap(struct pvio_hv *hv, uint16_t granter, struct pvio_gnt_map_op *ops,
			      unsigned n)
{
	struct hv_foreign *f;

	if (hv->ops->unmap)
		return hv->ops->unmap(hv, granter, ops, n);
	f = granter <= PVIO_DOMID_MAX_GUEST ?
		__atomic_load_n(&hv->foreign[granter], __ATOMIC_ACQUIRE) : NULL;
	if (!f) {
		for (unsigned i = 0; i < n; i++)
			ops[i].status = PVIO_GNTST_bad_handle;
		return 0;
	}
	return pvio_gnttab_unmap(&f->view, ops, n);
}

static int gntst_errno(int16_t st)
{
	switch (st) {
	case PVIO_GNTST_permission_denied: return -EPERM;
	case PVIO_GNTST_bad_domain: return -ESRCH;
	case PVIO_GNTST_bad_gntref: return -ENOENT;
	case PVIO_GNTST_bad_page: return -EFAULT;
	default: return -EINVAL;
	}
}

PVIO_EXPORT int pvio_hv_map_ring(struct pvio_hv *hv, uint16_t granter, const uint32_t *refs,
				 unsigned n, struct pvio_hv_ring_map *m)
{
	struct pvio_gnt_map_op *ops = m->ops;
	struct hv_foreign *f;
	uint8_t *base;
	int err = 0, r;

	memset(m, 0, sizeof(*m));
	if (n == 0 || n > PVIO_HV_RING_MAX_PAGES)
		return -EINVAL;
	if (hv->ops->map_ring)
		return hv->ops->map_ring(hv, granter, refs, n, m);
	f = foreign_get(hv, granter, &err);
	if (!f)
		return err;
	if (f->mem_fd < 0)
		return -EOPNOTSUPP;
	for (unsigned i = 0; i < n; i++)
		ops[i].ref = refs[i];
	r = pvio_gnttab_map(&f->view, ops, n);
	if (r != (int)n) {
		for (unsigned i = 0; i < n; i++) {
			if (ops[i].status == PVIO_GNTST_okay)
				pvio_gnttab_unmap(&f->view, &ops[i], 1);
			else if (!err)
				err = gntst_errno(ops[i].status);
		}
		memset(m, 0, sizeof(*m));
		return err ? err : -EINVAL;
	}
	if (n == 1) {
		base = ops[0].addr;
	} else {
		/* Reserve the range, then map each granted frame at its place
		 * (what the gntdev driver does for xengnttab). */
		base = mmap(NULL, (size_t)n * PVIO_PAGE_SIZE, PROT_NONE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (base == MAP_FAILED) {
			err = -errno;
			goto undo;
		}
		for (unsigned i = 0; i < n; i++) {
			void *p = mmap(base + (size_t)i * PVIO_PAGE_SIZE, PVIO_PAGE_SIZE,
				       PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, f->mem_fd,
				       (off_t)(ops[i].frame * PVIO_PAGE_SIZE));
			if (p == MAP_FAILED) {
				err = -errno;
				munmap(base, (size_t)n * PVIO_PAGE_SIZE);
				goto undo;
			}
		}
	}
	m->addr = base;
	m->n = n;
	m->granter = granter;
	return 0;
undo:
	pvio_gnttab_unmap(&f->view, ops, n);
	memset(m, 0, sizeof(*m));
	return err;
}

PVIO_EXPORT void pvio_hv_unmap_ring(struct pvio_hv *hv, struct pvio_hv_ring_map *m)
{
	struct hv_foreign *f;

	if (!m->addr || m->n == 0 || m->n > PVIO_HV_RING_MAX_PAGES)
		return;
	if (hv->ops->unmap_ring) {
		hv->ops->unmap_ring(hv, m);
		memset(m, 0, sizeof(*m));
		return;
	}
	if (m->n > 1)
		munmap(m->addr, (size_t)m->n * PVIO_PAGE_SIZE);
	f = m->granter <= PVIO_DOMID_MAX_GUEST ?
		__atomic_load_n(&hv->foreign[m->granter], __ATOMIC_ACQUIRE) : NULL;
	/* If the view is gone (foreign_release), its pins went with it. */
	if (f)
		pvio_gnttab_unmap(&f->view, m->ops, m->n);
	memset(m, 0, sizeof(*m));
}

static int copy_op_domid(const struct pvio_gnt_copy_op *op)
{
	bool s = op->flags & PVIO_GNTCOPY_source_gref;
	bool d = op->flags & PVIO_GNTCOPY_dest_gref;

	if (s && d && op->source.foreign.domid != op->dest.foreign.domid)
		return -1;
	if (s)
		return op->source.foreign.domid;
	if (d)
		return op->dest.foreign.domid;
	return -1;
}

PVIO_EXPORT int pvio_hv_copy(struct pvio_hv *hv, struct pvio_gnt_copy_op *ops, unsigned n)
{
	unsigned i = 0;
	int done = 0;

	if (hv->ops->copy)
		return hv->ops->copy(hv, ops, n);
	/* Runs of consecutive ops on the same foreign domain go in one batch. */
	while (i < n) {
		int dom = copy_op_domid(&ops[i]);
		unsigned j = i + 1;
		struct hv_foreign *f;
		int err = 0;

		if (dom < 0) {
			ops[i].status = PVIO_GNTST_bad_copy_arg;
			i++;
			continue;
		}
		while (j < n && copy_op_domid(&ops[j]) == dom)
			j++;
		f = foreign_get(hv, (uint16_t)dom, &err);
		if (!f) {
			for (unsigned k = i; k < j; k++)
				ops[k].status = PVIO_GNTST_bad_domain;
		} else {
			int r = pvio_gnttab_copy(&f->view, &ops[i], j - i);
			if (r > 0)
				done += r;
		}
		i = j;
	}
	return done;
}

PVIO_EXPORT int pvio_hv_pgrant_init(struct pvio_hv *hv, uint16_t granter,
				    struct pvio_pgrant_cache *c, uint32_t max)
{
	int err = 0;
	struct hv_foreign *f;

	if (hv->ops->pgrant_init)
		return hv->ops->pgrant_init(hv, granter, c, max);
	f = foreign_get(hv, granter, &err);
	if (!f)
		return err;
	return pvio_pgrant_init(c, &f->view, max);
}

PVIO_EXPORT void pvio_hv_foreign_release(struct pvio_hv *hv, uint16_t granter)
{
	if (granter > PVIO_DOMID_MAX_GUEST)
		return;
	if (hv->ops->foreign_release)
		hv->ops->foreign_release(hv, granter);
	pthread_mutex_lock(&hv->lock);
	foreign_drop(hv, granter);
	pthread_mutex_unlock(&hv->lock);
}

PVIO_EXPORT int pvio_hv_foreign_mem(struct pvio_hv *hv, uint16_t granter, void **base,
				    size_t *bytes)
{
	int err = 0;
	struct hv_foreign *f;

	if (hv->ops->map)
		return -EOPNOTSUPP;   /* no whole view of foreign memory (xen) */
	f = foreign_get(hv, granter, &err);
	if (!f)
		return err;
	*base = f->mem;
	*bytes = f->mem_bytes;
	return 0;
}

/* ------------------------------------------------------------ event channels */

static int port_install(struct pvio_hv *hv, struct pvio_world_port_fds *pf,
			pvio_evtchn_port_t *port)
{
	struct hv_port *p, **slot;
	int r;

	if (pf->port == 0 || pf->port >= PVIO_HV_MAX_PORTS) {
		r = -EPROTO;
		goto err;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		r = -ENOMEM;
		goto err;
	}
	p->shm = map_fd(pf->shm_fd, PVIO_PAGE_SIZE);
	if (!p->shm) {
		r = -ENOMEM;
		free(p);
		goto err;
	}
	pvio__close_fd(&pf->shm_fd);
	p->self_efd = pf->self_efd;
	p->peer_efd = pf->peer_efd;
	pvio_evtchn_attach(&p->ch, p->shm, pf->side, p->self_efd, p->peer_efd);
	pthread_mutex_lock(&hv->lock);
	slot = port_slot_make(hv, pf->port);
	if (!slot || *slot) {
		/* The broker gave out a port we still hold: never trust that. */
		pthread_mutex_unlock(&hv->lock);
		munmap(p->shm, PVIO_PAGE_SIZE);
		free(p);
		r = slot ? -EPROTO : -ENOMEM;
		goto err;
	}
	__atomic_store_n(slot, p, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&hv->lock);
	*port = pf->port;
	return 0;
err:
	pvio__close_fd(&pf->shm_fd);
	pvio__close_fd(&pf->self_efd);
	pvio__close_fd(&pf->peer_efd);
	return r;
}

/* A port whose channel the implementation made (ch->ops set). */
static int port_install_ch(struct pvio_hv *hv, uint16_t remote, pvio_evtchn_port_t rport,
			   pvio_evtchn_port_t *lport)
{
	struct hv_port *p = calloc(1, sizeof(*p)), **slot;
	pvio_evtchn_port_t port = 0;
	int r;

	if (!p)
		return -ENOMEM;
	p->self_efd = p->peer_efd = -1;
	r = hv->ops->evtchn_bind_ch(hv, remote, rport, &port, &p->ch);
	if (r < 0) {
		free(p);
		return r;
	}
	pthread_mutex_lock(&hv->lock);
	slot = port_slot_make(hv, port);
	if (!slot || *slot) {
		pthread_mutex_unlock(&hv->lock);
		hv->ops->evtchn_release(hv, &p->ch);
		free(p);
		return slot || port == 0 || port >= PVIO_HV_MAX_PORTS ? -EPROTO : -ENOMEM;
	}
	__atomic_store_n(slot, p, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&hv->lock);
	*lport = port;
	return 0;
}

PVIO_EXPORT int pvio_hv_evtchn_alloc_unbound(struct pvio_hv *hv, uint16_t remote,
					     pvio_evtchn_port_t *port)
{
	struct pvio_world_port_fds pf = { .shm_fd = -1, .self_efd = -1, .peer_efd = -1 };
	int r;

	if (!hv->ops->evtchn_alloc_unbound)
		return -EOPNOTSUPP;
	r = hv->ops->evtchn_alloc_unbound(hv, remote, &pf);

	if (r < 0)
		return r;
	return port_install(hv, &pf, port);
}

PVIO_EXPORT int pvio_hv_evtchn_bind(struct pvio_hv *hv, uint16_t remote,
				    pvio_evtchn_port_t rport, pvio_evtchn_port_t *lport)
{
	struct pvio_world_port_fds pf = { .shm_fd = -1, .self_efd = -1, .peer_efd = -1 };
	int r;

	if (hv->ops->evtchn_bind_ch)
		return port_install_ch(hv, remote, rport, lport);
	r = hv->ops->evtchn_bind(hv, remote, rport, &pf);
	if (r < 0)
		return r;
	return port_install(hv, &pf, lport);
}

PVIO_EXPORT struct pvio_evtchn *pvio_hv_evtchn_handle(struct pvio_hv *hv,
						      pvio_evtchn_port_t port)
{
	struct hv_port *p = port_get(hv, port);

	return p ? &p->ch : NULL;
}

PVIO_EXPORT int pvio_hv_evtchn_notify(struct pvio_hv *hv, pvio_evtchn_port_t port)
{
	struct pvio_evtchn *ch = pvio_hv_evtchn_handle(hv, port);

	return ch ? pvio_evtchn_notify(ch) : -EINVAL;
}

PVIO_EXPORT int pvio_hv_evtchn_fd(struct pvio_hv *hv, pvio_evtchn_port_t port)
{
	struct pvio_evtchn *ch = pvio_hv_evtchn_handle(hv, port);

	return ch ? ch->self_fd : -EINVAL;
}

PVIO_EXPORT int pvio_hv_evtchn_pending(struct pvio_hv *hv, pvio_evtchn_port_t port)
{
	struct pvio_evtchn *ch = pvio_hv_evtchn_handle(hv, port);

	return ch ? pvio_evtchn_consume(ch) : -EINVAL;
}

PVIO_EXPORT int pvio_hv_evtchn_unmask(struct pvio_hv *hv, pvio_evtchn_port_t port)
{
	struct pvio_evtchn *ch = pvio_hv_evtchn_handle(hv, port);

	if (!ch)
		return -EINVAL;
	pvio_evtchn_unmask(ch);
	return 0;
}

PVIO_EXPORT int pvio_hv_evtchn_mask(struct pvio_hv *hv, pvio_evtchn_port_t port)
{
	struct pvio_evtchn *ch = pvio_hv_evtchn_handle(hv, port);

	if (!ch)
		return -EINVAL;
	pvio_evtchn_mask(ch);
	return 0;
}

PVIO_EXPORT int pvio_hv_evtchn_peer_closed(struct pvio_hv *hv, pvio_evtchn_port_t port)
{
	struct pvio_evtchn *ch = pvio_hv_evtchn_handle(hv, port);

	if (!ch)
		return -EINVAL;
	return pvio_evtchn_peer_state(ch) == PVIO_EVTCHN_CLOSED;
}

PVIO_EXPORT int pvio_hv_evtchn_close(struct pvio_hv *hv, pvio_evtchn_port_t port)
{
	if (port == 0 || port >= PVIO_HV_MAX_PORTS)
		return -EINVAL;
	pthread_mutex_lock(&hv->lock);
	if (!port_get(hv, port)) {
		pthread_mutex_unlock(&hv->lock);
		return -EINVAL;
	}
	port_drop(hv, port, true);
	pthread_mutex_unlock(&hv->lock);
	return 0;
}

PVIO_EXPORT int pvio_hv_evtchn_unbind(struct pvio_hv *hv, pvio_evtchn_port_t port,
				      const struct pvio_evtchn *ch)
{
	struct hv_port *p;

	if (port == 0 || port >= PVIO_HV_MAX_PORTS || !ch)
		return -ESTALE;
	pthread_mutex_lock(&hv->lock);
	p = port_get(hv, port);
	if (!p || &p->ch != ch) {
		pthread_mutex_unlock(&hv->lock);
		return -ESTALE;
	}
	port_drop(hv, port, true);
	pthread_mutex_unlock(&hv->lock);
	return 0;
}

PVIO_EXPORT const char *pvio_hv_strerror(struct pvio_hv *hv, int err, char *buf, size_t size)
{
	struct rlimit rl;
	uint32_t lim = hv ? __atomic_load_n(&hv->pin_limit, __ATOMIC_RELAXED) : 0;

	switch (err) {
	case -EUSERS:
		if (lim)
			snprintf(buf, size, "pin registrations exhausted (limit %u, pviod "
				 "--max-pins)", lim);
		else
			snprintf(buf, size, "pin registrations exhausted (pviod --max-pins)");
		break;
	case -ENOSPC:
		snprintf(buf, size, "event-channel ports exhausted (%u for dom0, %u per guest)",
			 PVIO_HV_MAX_PORTS - 1, PVIO_HV_GUEST_MAX_PORTS - 1);
		break;
	case -EMFILE:
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
			snprintf(buf, size, "out of file descriptors (RLIMIT_NOFILE %llu here, "
				 "or pviod's)", (unsigned long long)rl.rlim_cur);
		else
			snprintf(buf, size, "out of file descriptors (RLIMIT_NOFILE)");
		break;
	case -ENFILE:
		snprintf(buf, size, "the system's file table is full (fs.file-max)");
		break;
	case -ENOMEM:
		snprintf(buf, size, "out of memory");
		break;
	default:
		snprintf(buf, size, "%s", strerror(err < 0 ? -err : err));
		break;
	}
	return buf;
}

/* ------------------------------------------------------------ xenstore */

PVIO_EXPORT int pvio_hv_xs_connect(struct pvio_hv *hv, int *fd)
{
	if (!hv->ops->xs_connect)
		return -EOPNOTSUPP;
	return hv->ops->xs_connect(hv, fd);
}
