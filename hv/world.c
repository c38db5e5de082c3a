/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "grant-tables/gnttab.h"
#include "hv/world.h"
#include "ring/pvio_atomic.h"
#include "ring/ring.h"

struct world_chan {
	int shm_fd;
	int efd[2];
	struct pvio_evtchn_shared *sh;    /* the world's own mapping */
	uint16_t dom[2];
	pvio_evtchn_port_t port[2];
	bool live[2];                     /* end still allocated by its domain */
};

struct world_port {
	struct world_chan *chan;          /* NULL: free */
	uint64_t owner;                   /* the connection that holds it */
	unsigned side;
	uint16_t remote;
	bool connected;
};

struct world_dom {
	bool     used;
	uint16_t domid;
	char     name[PVIO_DOMAIN_NAME_MAX + 1];
	uint64_t mem_bytes;
	int      mem_fd;
	int      gt_fd;
	uint32_t gt_entries;
	struct world_port *ports;         /* nr_ports slots, port 0 unused; grows */
	unsigned nr_ports;
	unsigned max_ports;               /* PVIO_HV_MAX_PORTS, or a guest's */
};

struct pvio_world {
	struct world_dom *doms;           /* indexed by domid, 0..MAX_GUEST */
	unsigned nr_doms;
	unsigned nr_chans;
	uint16_t next_domid;
	pvio_world_destroy_cb on_destroy;
	void *on_destroy_arg;
};

static int make_memfd(const char *what, uint64_t bytes)
{
	int fd = memfd_create(what, MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)bytes) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	/* The size is part of the contract: no one may shrink it under a
	 * mapper (SIGBUS) or grow it. */
	(void)fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	return fd;
}

static int dup_cloexec(int fd)
{
	int r = fcntl(fd, F_DUPFD_CLOEXEC, 3);

	return r < 0 ? -errno : r;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static struct world_dom *dom_get(struct pvio_world *w, uint16_t domid)
{
	if (domid > PVIO_DOMID_MAX_GUEST || !w->doms[domid].used)
		return NULL;
	return &w->doms[domid];
}

static int dom_init(struct pvio_world *w, uint16_t domid, const char *name,
		    uint64_t mem_bytes)
{
	struct world_dom *d = &w->doms[domid];
	int r;

	memset(d, 0, sizeof(*d));
	d->mem_fd = d->gt_fd = -1;
	d->nr_ports = 64;
	d->max_ports = domid == PVIO_DOMID_DOM0 ? PVIO_HV_MAX_PORTS : PVIO_HV_GUEST_MAX_PORTS;
	d->ports = calloc(d->nr_ports, sizeof(*d->ports));
	if (!d->ports)
		return -ENOMEM;
	if (mem_bytes) {
		r = make_memfd("pvio-guest-mem", mem_bytes);
		if (r < 0)
			goto err;
		d->mem_fd = r;
	}
	d->gt_entries = PVIO_HV_DEFAULT_GNTTAB_ENTRIES;
	r = make_memfd("pvio-gnttab",
		       (uint64_t)d->gt_entries * sizeof(struct pvio_grant_entry_v1));
	if (r < 0)
		goto err;
	d->gt_fd = r;
	d->domid = domid;
	d->mem_bytes = mem_bytes;
	snprintf(d->name, sizeof(d->name), "%s", name);
	d->used = true;
	w->nr_doms++;
	return 0;
err:
	close_fd(&d->mem_fd);
	free(d->ports);
	d->ports = NULL;
	return r;
}

int pvio_world_create(struct pvio_world **out)
{
	struct pvio_world *w = calloc(1, sizeof(*w));
	int r;

	if (!w)
		return -ENOMEM;
	w->doms = calloc(PVIO_DOMID_MAX_GUEST + 1, sizeof(*w->doms));
	if (!w->doms) {
		free(w);
		return -ENOMEM;
	}
	w->next_domid = PVIO_DOMID_FIRST_GUEST;
	/* dom0 has a grant table (backends may grant too) but no guest memory
	 * of its own: its memory is its process's. */
	r = dom_init(w, PVIO_DOMID_DOM0, "Domain-0", 0);
	if (r < 0) {
		free(w->doms);
		free(w);
		return r;
	}
	*out = w;
	return 0;
}

void pvio_world_on_destroy(struct pvio_world *w, pvio_world_destroy_cb cb, void *arg)
{
	w->on_destroy = cb;
	w->on_destroy_arg = arg;
}

static void chan_put_end(struct pvio_world *w, struct world_chan *c, unsigned side)
{
	c->live[side] = false;
	if (c->live[0] || c->live[1])
		return;
	munmap(c->sh, PVIO_PAGE_SIZE);
	close_fd(&c->shm_fd);
	close_fd(&c->efd[0]);
	close_fd(&c->efd[1]);
	free(c);
	w->nr_chans--;
}

/* Close one port: mark its end closed in the shared page (the peer sees it
 * and is woken), free the port. */
static void port_release(struct pvio_world *w, struct world_port *p)
{
	struct world_chan *c = p->chan;
	unsigned s = p->side;
	uint64_t one = 1;

	if (!c)
		return;
	pvio_store_release(&c->sh->end[s].state, (uint32_t)PVIO_EVTCHN_CLOSED);
	/* Pairs with the peer's consume(): it looks at the peer state after. */
	pvio_fetch_or(&c->sh->end[s ^ 1].pending, 1u);
	if (write(c->efd[s ^ 1], &one, sizeof(one)) < 0) {
		/* EAGAIN: saturated counter, the peer has a wake-up anyway. */
	}
	memset(p, 0, sizeof(*p));
	chan_put_end(w, c, s);
}

static void dom_fini(struct pvio_world *w, struct world_dom *d)
{
	if (d->ports) {
		for (unsigned i = 1; i < d->nr_ports; i++)
			port_release(w, &d->ports[i]);
		free(d->ports);
	}
	close_fd(&d->mem_fd);
	close_fd(&d->gt_fd);
	memset(d, 0, sizeof(*d));
	w->nr_doms--;
}

void pvio_world_destroy(struct pvio_world *w)
{
	if (!w)
		return;
	for (unsigned i = 0; i <= PVIO_DOMID_MAX_GUEST; i++)
		if (w->doms[i].used)
			dom_fini(w, &w->doms[i]);
	free(w->doms);
	free(w);
}

static bool valid_name(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n > PVIO_DOMAIN_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
			return false;
	}
	return true;
}

int pvio_world_domain_create(struct pvio_world *w, uint16_t caller, const char *name,
			     uint64_t mem_bytes, uint16_t *domid)
{
	uint16_t id;
	int r;

	if (caller != PVIO_DOMID_DOM0)
		return -EPERM;
	if (!valid_name(name))
		return -EINVAL;
	if (mem_bytes == 0 || mem_bytes % PVIO_PAGE_SIZE ||
	    mem_bytes > ((uint64_t)1 << 40))
		return -EINVAL;
	for (unsigned i = 0; i <= PVIO_DOMID_MAX_GUEST; i++)
		if (w->doms[i].used && strcmp(w->doms[i].name, name) == 0)
			return -EEXIST;
	/* Xen hands out increasing domids and does not reuse one at once. */
	for (unsigned tries = 0; tries < PVIO_DOMID_MAX_GUEST; tries++) {
		id = w->next_domid++;
		if (w->next_domid > PVIO_DOMID_MAX_GUEST)
			w->next_domid = PVIO_DOMID_FIRST_GUEST;
		if (!w->doms[id].used)
			goto found;
	}
	return -ENOSPC;
found:
	r = dom_init(w, id, name, mem_bytes);
	if (r < 0)
		return r;
	*domid = id;
	return 0;
}

int pvio_world_domain_destroy(struct pvio_world *w, uint16_t caller, uint16_t domid)
{
	struct world_dom *d;

	if (caller != PVIO_DOMID_DOM0)
		return -EPERM;
	if (domid == PVIO_DOMID_DOM0)
		return -EINVAL;
	d = dom_get(w, domid);
	if (!d)
		return -ESRCH;
	dom_fini(w, d);
	if (w->on_destroy)
		w->on_destroy(w->on_destroy_arg, domid);
	return 0;
}

static void fill_info(const struct world_dom *d, struct pvio_hv_domain_info *info)
{
	memset(info, 0, sizeof(*info));
	info->domid = d->domid;
	info->mem_bytes = d->mem_bytes;
	info->gnttab_entries = d->gt_entries;
	snprintf(info->name, sizeof(info->name), "%s", d->name);
}

int pvio_world_domain_lookup(struct pvio_world *w, uint16_t caller, const char *name,
			     struct pvio_hv_domain_info *info)
{
	if (caller != PVIO_DOMID_DOM0)
		return -EPERM;
	for (unsigned i = 0; i <= PVIO_DOMID_MAX_GUEST; i++)
		if (w->doms[i].used && name && strcmp(w->doms[i].name, name) == 0) {
			fill_info(&w->doms[i], info);
			return 0;
		}
	return -ENOENT;
}

int pvio_world_domain_at(struct pvio_world *w, uint16_t caller, unsigned idx,
			 struct pvio_hv_domain_info *info)
{
	unsigned n = 0;

	if (caller != PVIO_DOMID_DOM0)
		return -EPERM;
	for (unsigned i = 0; i <= PVIO_DOMID_MAX_GUEST; i++) {
		if (!w->doms[i].used)
			continue;
		if (n++ == idx) {
			fill_info(&w->doms[i], info);
			return 0;
		}
	}
	return -ENOENT;
}

bool pvio_world_domain_exists(struct pvio_world *w, uint16_t domid)
{
	return dom_get(w, domid) != NULL;
}

static int dom_fds(const struct world_dom *d, struct pvio_world_dom_fds *out)
{
	out->mem_fd = -1;
	out->gt_fd = dup_cloexec(d->gt_fd);
	if (out->gt_fd < 0)
		return out->gt_fd;
	if (d->mem_fd >= 0) {
		out->mem_fd = dup_cloexec(d->mem_fd);
		if (out->mem_fd < 0) {
			int r = out->mem_fd;
			close_fd(&out->gt_fd);
			return r;
		}
	}
	out->mem_bytes = d->mem_bytes;
	out->gt_entries = d->gt_entries;
	return 0;
}

int pvio_world_self_fds(struct pvio_world *w, uint16_t caller, struct pvio_world_dom_fds *out)
{
	struct world_dom *d = dom_get(w, caller);

	if (!d)
		return -ESRCH;
	return dom_fds(d, out);
}

int pvio_world_foreign_fds(struct pvio_world *w, uint16_t caller, uint16_t domid,
			   struct pvio_world_dom_fds *out)
{
	struct world_dom *d;

	/* Only the backend domain may map another domain's memory; a guest
	 * never obtains anything of another guest (DESIGN.md §2). */
	if (caller != PVIO_DOMID_DOM0)
		return -EPERM;
	if (domid == caller)
		return -EINVAL;
	d = dom_get(w, domid);
	if (!d)
		return -ESRCH;
	return dom_fds(d, out);
}

/* The lowest free port, as Xen's get_free_port(), growing the table up to
 * the domain's limit; -ENOSPC beyond it. */
static int port_alloc(struct world_dom *d, pvio_evtchn_port_t *port)
{
	struct world_port *t;
	unsigned n;

	for (unsigned i = 1; i < d->nr_ports; i++)
		if (!d->ports[i].chan) {
			*port = i;
			return 0;
		}
	if (d->nr_ports >= d->max_ports)
		return -ENOSPC;
	n = d->nr_ports * 2 > d->max_ports ? d->max_ports : d->nr_ports * 2;
	t = realloc(d->ports, (size_t)n * sizeof(*t));
	if (!t)
		return -ENOMEM;
	memset(t + d->nr_ports, 0, (size_t)(n - d->nr_ports) * sizeof(*t));
	d->ports = t;
	*port = d->nr_ports;
	d->nr_ports = n;
	return 0;
}

static int port_fds(const struct world_chan *c, unsigned side, pvio_evtchn_port_t port,
		    struct pvio_world_port_fds *out)
{
	out->port = port;
	out->side = side;
	out->shm_fd = out->self_efd = out->peer_efd = -1;
	if ((out->shm_fd = dup_cloexec(c->shm_fd)) < 0 ||
	    (out->self_efd = dup_cloexec(c->efd[side])) < 0 ||
	    (out->peer_efd = dup_cloexec(c->efd[side ^ 1])) < 0) {
		int r = out->shm_fd < 0 ? out->shm_fd :
			out->self_efd < 0 ? out->self_efd : out->peer_efd;
		close_fd(&out->shm_fd);
		close_fd(&out->self_efd);
		close_fd(&out->peer_efd);
		return r;
	}
	return 0;
}

int pvio_world_evtchn_alloc_unbound(struct pvio_world *w, uint16_t caller, uint64_t owner,
				    uint16_t remote, struct pvio_world_port_fds *out)
{
	struct world_dom *d = dom_get(w, caller);
	struct world_chan *c;
	pvio_evtchn_port_t port;
	int r;

	if (!d)
		return -ESRCH;
	if (!dom_get(w, remote) || remote == caller)
		return -EINVAL;
	r = port_alloc(d, &port);
	if (r < 0)
		return r;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->efd[0] = c->efd[1] = c->shm_fd = -1;
	r = make_memfd("pvio-evtchn", PVIO_PAGE_SIZE);
	if (r < 0)
		goto err;
	c->shm_fd = r;
	c->sh = mmap(NULL, PVIO_PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, c->shm_fd, 0);
	if (c->sh == MAP_FAILED) {
		r = -errno;
		c->sh = NULL;
		goto err;
	}
	pvio_evtchn_shared_init(c->sh);
	c->sh->end[0].state = PVIO_EVTCHN_UNBOUND;
	for (int i = 0; i < 2; i++) {
		c->efd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (c->efd[i] < 0) {
			r = -errno;
			goto err;
		}
	}
	r = port_fds(c, 0, port, out);
	if (r < 0)
		goto err;
	c->dom[0] = caller;
	c->port[0] = port;
	c->dom[1] = remote;
	c->live[0] = true;
	d->ports[port] = (struct world_port){ .chan = c, .side = 0, .remote = remote,
					      .owner = owner };
	w->nr_chans++;
	return 0;
err:
	if (c->sh)
		munmap(c->sh, PVIO_PAGE_SIZE);
	close_fd(&c->shm_fd);
	close_fd(&c->efd[0]);
	close_fd(&c->efd[1]);
	free(c);
	return r;
}

int pvio_world_evtchn_bind(struct pvio_world *w, uint16_t caller, uint64_t owner,
			   uint16_t remote, pvio_evtchn_port_t rport,
			   struct pvio_world_port_fds *out)
{
	struct world_dom *d = dom_get(w, caller);
	struct world_dom *rd = dom_get(w, remote);
	struct world_port *rp;
	struct world_chan *c;
	pvio_evtchn_port_t port;
	int r;

	if (!d)
		return -ESRCH;
	if (!rd || remote == caller)
		return -EINVAL;
	if (rport == 0 || rport >= rd->nr_ports)
		return -EINVAL;
	rp = &rd->ports[rport];
	/* Only a port its owner offered to us, and only once (Xen:
	 * ECS_UNBOUND with remote_domid == caller, else -EINVAL). */
	if (!rp->chan || rp->side != 0 || rp->remote != caller || rp->connected ||
	    !rp->chan->live[0])
		return -EINVAL;
	c = rp->chan;
	r = port_alloc(d, &port);
	if (r < 0)
		return r;
	r = port_fds(c, 1, port, out);
	if (r < 0)
		return r;
	c->port[1] = port;
	c->live[1] = true;
	/* Both ends have the page now and no one else may bind: one fd
	 * fewer per channel here (the world keeps its own mapping). */
	close_fd(&c->shm_fd);
	rp->connected = true;
	d->ports[port] = (struct world_port){ .chan = c, .side = 1, .remote = remote,
					      .connected = true, .owner = owner };
	pvio_store_release(&c->sh->end[0].state, (uint32_t)PVIO_EVTCHN_CONNECTED);
	pvio_store_release(&c->sh->end[1].state, (uint32_t)PVIO_EVTCHN_CONNECTED);
	return 0;
}

int pvio_world_evtchn_close(struct pvio_world *w, uint16_t caller, pvio_evtchn_port_t port)
{
	struct world_dom *d = dom_get(w, caller);

	if (!d)
		return -ESRCH;
	if (port == 0 || port >= d->nr_ports || !d->ports[port].chan)
		return -EINVAL;
	port_release(w, &d->ports[port]);
	return 0;
}

void pvio_world_evtchn_close_owner(struct pvio_world *w, uint16_t domid, uint64_t owner)
{
	struct world_dom *d = dom_get(w, domid);

	if (!d)
		return;
	for (unsigned i = 1; i < d->nr_ports; i++)
		if (d->ports[i].chan && d->ports[i].owner == owner)
			port_release(w, &d->ports[i]);
}

unsigned pvio_world_nr_domains(struct pvio_world *w)
{
	return w->nr_doms;
}

unsigned pvio_world_nr_channels(struct pvio_world *w)
{
	return w->nr_chans;
}
