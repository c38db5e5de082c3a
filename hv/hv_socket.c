/* SPDX-License-Identifier: MIT */
/*
 * hv/ socket implementation: this process is one domain; pviod owns the
 * world and answers requests on a SOCK_SEQPACKET connection already bound to
 * our domain. Data paths never go through pviod: rings, grants and event
 * channels live in the shared memory and eventfds it hands us.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "hv/hv_internal.h"
#include "hv/proto.h"
#include "ring/pvio_export.h"

#define PVIO_DEFAULT_SOCKET "/run/pvio/pviod.sock"

struct sock_impl {
	int fd;
	uint32_t seq;
	pthread_mutex_t lock;
};

static struct sock_impl *S(struct pvio_hv *hv)
{
	return (struct sock_impl *)hv->impl;
}

/* One request, one reply; exactly want_fds fds in the reply go to out[]
 * (which has room for want_fds). */
static int call(struct sock_impl *s, struct pvio_hvmsg_req *req, struct pvio_hvmsg_rsp *rsp,
		int *out, unsigned want_fds)
{
	int fds[PVIO_HVMSG_MAX_FDS];
	unsigned nfds = 0;
	int r;

	pthread_mutex_lock(&s->lock);
	req->seq = ++s->seq;
	r = pvio__hvmsg_send(s->fd, req, sizeof(*req), NULL, 0);
	if (r == 0)
		r = pvio__hvmsg_recv(s->fd, rsp, sizeof(*rsp), fds, PVIO_HVMSG_MAX_FDS, &nfds);
	pthread_mutex_unlock(&s->lock);
	if (r == 0 && rsp->seq != req->seq)
		r = -EPROTO;
	if (r == 0)
		r = rsp->ret;
	if (r == 0 && nfds != want_fds)
		r = -EPROTO;
	if (r < 0 || !out) {
		for (unsigned i = 0; i < nfds; i++)
			close(fds[i]);
		return r;
	}
	for (unsigned i = 0; i < want_fds; i++)
		out[i] = fds[i];
	return 0;
}

static int s_domain_create(struct pvio_hv *hv, const char *name, uint64_t mem, uint16_t *domid)
{
	struct pvio_hvmsg_req q = { .op = PVIO_HVMSG_DOMAIN_CREATE, .a = { mem } };
	struct pvio_hvmsg_rsp p;
	int r;

	if (!name || strlen(name) >= sizeof(q.name))
		return -EINVAL;
	strcpy(q.name, name);
	r = call(S(hv), &q, &p, NULL, 0);
	if (r == 0)
		*domid = (uint16_t)p.v[0];
	return r;
}

static int s_domain_destroy(struct pvio_hv *hv, uint16_t domid)
{
	struct pvio_hvmsg_req q = { .op = PVIO_HVMSG_DOMAIN_DESTROY, .a = { domid } };
	struct pvio_hvmsg_rsp p;

	return call(S(hv), &q, &p, NULL, 0);
}

static void rsp_info(const struct pvio_hvmsg_rsp *p, struct pvio_hv_domain_info *i)
{
	memset(i, 0, sizeof(*i));
	i->domid = (uint16_t)p->v[0];
	i->mem_bytes = p->v[1];
	i->gnttab_entries = (uint32_t)p->v[2];
	memcpy(i->name, p->name, sizeof(i->name) - 1);
	i->name[sizeof(i->name) - 1] = 0;
}

static int s_domain_lookup(struct pvio_hv *hv, const char *name, struct pvio_hv_domain_info *i)
{
	struct pvio_hvmsg_req q = { .op = PVIO_HVMSG_DOMAIN_LOOKUP };
	struct pvio_hvmsg_rsp p;
	int r;

	if (!name || strlen(name) >= sizeof(q.name))
		return -EINVAL;
	strcpy(q.name, name);
	r = call(S(hv), &q, &p, NULL, 0);
	if (r == 0)
		rsp_info(&p, i);
	return r;
}

static int s_domain_at(struct pvio_hv *hv, unsigned idx, struct pvio_hv_domain_info *i)
{
	struct pvio_hvmsg_req q = { .op = PVIO_HVMSG_DOMAIN_AT, .a = { idx } };
	struct pvio_hvmsg_rsp p;
	int r = call(S(hv), &q, &p, NULL, 0);

	if (r == 0)
		rsp_info(&p, i);
	return r;
}

static int s_domain_connect(struct pvio_hv *hv, uint16_t domid, int *fd)
{
	struct pvio_hvmsg_req q = { .op = PVIO_HVMSG_DOMAIN_CONNECT, .a = { domid } };
	struct pvio_hvmsg_rsp p;

	return call(S(hv), &q, &p, fd, 1);
}

static int s_foreign_fds(struct pvio_hv *hv, uint16_t domid, struct pvio_world_dom_fds *out)
{
	struct pvio_hvmsg_req q = { .op = PVIO_HVMSG_FOREIGN, .a = { domid } };
	struct pvio_hvmsg_rsp p;
	int fds[PVIO_HVMSG_MAX_FDS];
	int r = call(S(hv), &q, &p, fds, 2);

	if (r < 0)
		return r;
	out->mem_fd = fds[0];
	out->gt_fd = fds[1];
	out->mem_bytes = p.v[0];
	out->gt_entries = (uint32_t)p.v[1];
	return 0;
}

static int port_rsp(int r, const struct pvio_hvmsg_rsp *p, const int *fds,
		    struct pvio_world_port_fds *pf)
{
	if (r < 0)
		return r;
	pf->port = (pvio_evtchn_port_t)p->v[0];
	pf->side = (unsigned)p->v[1] & 1;
	pf->shm_fd = fds[0];
	pf->self_efd = fds[1];
	pf->peer_efd = fds[2];
	return 0;
}

static int s_alloc_unbound(struct pvio_hv *hv, uint16_t remote, struct pvio_world_port_fds *pf)
{
	struct pvio_hvmsg_req q = { .op = PVIO_HVMSG_EVTCHN_ALLOC, .a = { remote } };
	struct pvio_hvmsg_rsp p;
	int fds[PVIO_HVMSG_MAX_FDS];

	return port_rsp(call(S(hv), &q, &p, fds, 3), &p, fds, pf);
}

static int s_bind(struct pvio_hv *hv, uint16_t remote, pvio_evtchn_port_t rport,
		  struct pvio_world_port_fds *pf)
{
	struct pvio_hvmsg_req q = { .op = PVIO_HVMSG_EVTCHN_BIND, .a = { remote, rport } };
	struct pvio_hvmsg_rsp p;
	int fds[PVIO_HVMSG_MAX_FDS];

	return port_rsp(call(S(hv), &q, &p, fds, 3), &p, fds, pf);
}

static int s_close(struct pvio_hv *hv, pvio_evtchn_port_t port)
{
	struct pvio_hvmsg_req q = { .op = PVIO_HVMSG_EVTCHN_CLOSE, .a = { port } };
	struct pvio_hvmsg_rsp p;

	return call(S(hv), &q, &p, NULL, 0);
}

static int s_xs_connect(struct pvio_hv *hv, int *fd)
{
	struct pvio_hvmsg_req q = { .op = PVIO_HVMSG_XS_CONNECT };
	struct pvio_hvmsg_rsp p;

	return call(S(hv), &q, &p, fd, 1);
}

static int s_register_pins(struct pvio_hv *hv, uint16_t granter, uint32_t nr, int fd)
{
	struct sock_impl *s = S(hv);
	struct pvio_hvmsg_req q = { .op = PVIO_HVMSG_PINS, .a = { granter, nr } };
	struct pvio_hvmsg_rsp p;
	unsigned nfds = 0;
	int fds[PVIO_HVMSG_MAX_FDS];
	int r;

	pthread_mutex_lock(&s->lock);
	q.seq = ++s->seq;
	r = pvio__hvmsg_send(s->fd, &q, sizeof(q), fd >= 0 ? &fd : NULL, fd >= 0 ? 1 : 0);
	if (r == 0)
		r = pvio__hvmsg_recv(s->fd, &p, sizeof(p), fds, PVIO_HVMSG_MAX_FDS, &nfds);
	pthread_mutex_unlock(&s->lock);
	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]);
	if (r == 0 && p.seq != q.seq)
		r = -EPROTO;
	if (r == 0 && p.ret == -EUSERS)
		/* pviod's --max-pins, for pvio_hv_strerror() */
		__atomic_store_n(&hv->pin_limit, (uint32_t)p.v[0], __ATOMIC_RELAXED);
	return r < 0 ? r : p.ret;
}

static void s_fini(struct pvio_hv *hv)
{
	struct sock_impl *s = S(hv);

	if (!s)
		return;
	pvio__close_fd(&s->fd);
	pthread_mutex_destroy(&s->lock);
	free(s);
	hv->impl = NULL;
}

static const struct pvio_hv_ops socket_ops = {
	.name = "socket",
	.domain_create = s_domain_create,
	.domain_destroy = s_domain_destroy,
	.domain_lookup = s_domain_lookup,
	.domain_at = s_domain_at,
	.domain_connect = s_domain_connect,
	.foreign_fds = s_foreign_fds,
	.evtchn_alloc_unbound = s_alloc_unbound,
	.evtchn_bind = s_bind,
	.evtchn_close = s_close,
	.xs_connect = s_xs_connect,
	.register_pins = s_register_pins,
	.fini = s_fini,
};

PVIO_EXPORT int pvio_hv_socket_from_fd(int fd, struct pvio_hv **out)
{
	struct pvio_hvmsg_req q = { .op = PVIO_HVMSG_HELLO };
	struct pvio_hvmsg_rsp p;
	struct pvio_world_dom_fds own = { .mem_fd = -1, .gt_fd = -1 };
	int fds[PVIO_HVMSG_MAX_FDS];
	struct sock_impl *s;
	struct pvio_hv *hv;
	int r;

	s = calloc(1, sizeof(*s));
	hv = calloc(1, sizeof(*hv));
	if (!s || !hv) {
		free(s);
		free(hv);
		close(fd);
		return -ENOMEM;
	}
	s->fd = fd;
	pthread_mutex_init(&s->lock, NULL);
	hv->impl = s;
	hv->ops = &socket_ops;
	r = call(s, &q, &p, fds, 2);
	if (r < 0)
		goto err;
	own.mem_fd = fds[0];
	own.gt_fd = fds[1];
	own.mem_bytes = p.v[1];
	own.gt_entries = (uint32_t)p.v[2];
	r = pvio__hv_init(hv, &socket_ops, (uint16_t)p.v[0], &own);
	if (r < 0)
		goto err;
	*out = hv;
	return 0;
err:
	s_fini(hv);
	free(hv);
	return r;
}

PVIO_EXPORT int pvio_hv_socket_connect(const char *path, struct pvio_hv **out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, r;

	if (!path)
		path = PVIO_DEFAULT_SOCKET;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return pvio_hv_socket_from_fd(fd, out);
}

PVIO_EXPORT int pvio_hv_open_env(struct pvio_hv **out)
{
	const char *s = getenv("PVIO_HV_FD");
	const char *impl = getenv("PVIO_HV");

	if (impl && strcmp(impl, "xen") == 0)
		return pvio_hv_xen_open(out);
	char *end;
	long fd;

	if (s && *s) {
		errno = 0;
		fd = strtol(s, &end, 10);
		if (*end || fd < 3 || fd > 65535)
			return -EBADF;
		/* Not inherited further: our children get their own. */
		unsetenv("PVIO_HV_FD");
		return pvio_hv_socket_from_fd((int)fd, out);
	}
	return pvio_hv_socket_connect(getenv("PVIO_SOCKET"), out);
}

PVIO_EXPORT int pvio_hv_open_backend(const char *prog, const char *hv, const char *sock,
				     struct pvio_hv **out)
{
	bool xen = hv && strcmp(hv, "xen") == 0;
	int r;

	if (hv && !xen && strcmp(hv, "socket") != 0) {
		fprintf(stderr, "%s: --hv: unknown '%s' (socket, xen)\n", prog, hv);
		return -EINVAL;
	}
	if (!hv && !sock) {
		const char *e = getenv("PVIO_HV");
		xen = e && strcmp(e, "xen") == 0;
	}
	if (xen) {
		r = pvio_hv_xen_open(out);
		if (r < 0)
			fprintf(stderr, "%s: --hv xen: cannot open Xen (/dev/xen/gntdev, "
				"/dev/xen/evtchn): %s%s\n", prog, strerror(-r),
				r == -EOPNOTSUPP ? " (built without libxengnttab/libxenevtchn)" :
				r == -ENOENT ? " (not running on Xen, or xen-gntdev/xen-evtchn "
					       "not loaded)" : "");
	} else {
		r = sock ? pvio_hv_socket_connect(sock, out) : pvio_hv_open_env(out);
		if (r < 0)
			fprintf(stderr, "%s: cannot connect to pviod (%s): %s\n", prog,
				sock ? sock : getenv("PVIO_SOCKET") ? getenv("PVIO_SOCKET") :
				PVIO_DEFAULT_SOCKET, strerror(-r));
	}
	if (r < 0)
		return r;
	if (pvio_hv_domid(*out) != 0) {
		fprintf(stderr, "%s: must run as dom0 (connected as dom%u)\n", prog,
			pvio_hv_domid(*out));
		pvio_hv_close(*out);
		*out = NULL;
		return -EPERM;
	}
	return 0;
}
