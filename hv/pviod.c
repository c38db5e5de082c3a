/* SPDX-License-Identifier: MIT */
/*
 * pviod: the broker of hv/'s socket implementation, and the xenstore.
 *
 * It owns the world (domains, their memory and grant tables, event-channel
 * ports) and hands resources out as fds. Who a connection acts for is a
 * capability fixed when the connection was made:
 *   - the control socket (--socket, mode 0600, owner-only) is dom0;
 *   - a guest connection exists only because dom0 asked for one
 *     (DOMAIN_CONNECT; `pvio run` passes it to the guest program), and acts
 *     as that guest for its whole life.
 * Nothing a client sends can change that. pviod is single-threaded: an
 * epoll loop over the listening sockets, the connections and the store.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "grant-tables/gnttab.h"
#include "hv/proto.h"
#include "hv/world.h"
#include "ring/ratelimit.h"
#include "xenstore/xsd.h"

/*
 * No fixed tables: the connection table and each connection's pin tables
 * grow with the work. A connection holds at most one pin registration per
 * granting domain, so a backend serving every guest needs as many as there
 * are guests; --max-pins N caps that (0, the default: no cap but the
 * number of domains). Connections are bounded by our RLIMIT_NOFILE, which
 * is raised to its hard limit at start.
 */
#define CONNS_INITIAL 64

/* A mapping process's pin table for one granter's grants (PVIO_HVMSG_PINS). */
struct pinreg {
	bool used;
	uint16_t granter;
	uint32_t nr;
	void *map;
	size_t bytes;
};

struct conn {
	struct pinreg *pins;             /* nr_pins slots, grown on demand */
	unsigned nr_pins;
	int fd;
	uint64_t id;                     /* owner of the ports it allocates */
	uint16_t domid;
	bool used;
};

struct pviod {
	struct pvio_world *w;
	struct pvio_xsd *xsd;
	int ep;
	int listen_fd;
	int sig_fd;
	struct conn *conns;              /* nr_conns slots, grown on demand */
	unsigned nr_conns;
	unsigned max_pins;               /* per connection; 0: no cap */
	struct pvio_ratelimit pins_rl;
	const char *sock_path;
	bool verbose;
	bool quit;
	uint64_t next_conn_id;
};

static void logmsg(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "pviod: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* epoll data: index into conns, or one of these tags. */
#define TAG_LISTEN  (UINT64_MAX - 1)
#define TAG_XSD     (UINT64_MAX - 2)
#define TAG_SIGNAL  (UINT64_MAX - 3)

/* Double the connection table. Slots are addressed by index (epoll data),
 * so moving the array is fine; callers re-read d->conns after a call that
 * may add a connection. */
static int conns_grow(struct pviod *d)
{
	unsigned n = d->nr_conns ? d->nr_conns * 2 : CONNS_INITIAL;
	struct conn *c;

	if (n < d->nr_conns || n > (1u << 24))
		return -EMFILE;
	c = realloc(d->conns, (size_t)n * sizeof(*c));
	if (!c)
		return -ENOMEM;
	memset(c + d->nr_conns, 0, (size_t)(n - d->nr_conns) * sizeof(*c));
	d->conns = c;
	d->nr_conns = n;
	return 0;
}

static int conn_add(struct pviod *d, int fd, uint16_t domid)
{
	struct epoll_event ev = { .events = EPOLLIN };
	unsigned i;
	int r;

	for (i = 0; i < d->nr_conns && d->conns[i].used; i++)
		;
	if (i == d->nr_conns && (r = conns_grow(d)) < 0)
		return r;
	ev.data.u64 = i;
	if (epoll_ctl(d->ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	d->conns[i] = (struct conn){ .fd = fd, .domid = domid, .used = true,
				     .id = ++d->next_conn_id };
	return 0;
}

static void pinreg_drop(struct pinreg *p)
{
	if (p->used && p->map)
		munmap(p->map, p->bytes);
	memset(p, 0, sizeof(*p));
}

/* The process behind connection ci is gone: release the pins it held on
 * other domains' grants, unless another live process pins the same ref. */
static void release_pins(struct pviod *d, unsigned ci)
{
	struct conn *c = &d->conns[ci];

	if (!c->pins)
		return;
	for (unsigned k = 0; k < c->nr_pins; k++) {
		struct pinreg *p = &c->pins[k];
		struct pvio_world_dom_fds df;
		void **others = NULL;
		unsigned no = 0, cap = 0;

		if (!p->used)
			continue;
		if (pvio_world_foreign_fds(d->w, PVIO_DOMID_DOM0, p->granter, &df) == 0) {
			size_t gt_bytes = (size_t)df.gt_entries * 8;
			void *gt = mmap(NULL, gt_bytes, PROT_READ | PROT_WRITE, MAP_SHARED,
					df.gt_fd, 0);
			bool oom = false;

			/* Every other live process pinning the same grants:
			 * their pins stay. */
			for (unsigned j = 0; j < d->nr_conns && !oom; j++) {
				if (j == ci || !d->conns[j].used || !d->conns[j].pins)
					continue;
				for (unsigned m = 0; m < d->conns[j].nr_pins; m++) {
					struct pinreg *o = &d->conns[j].pins[m];

					if (!o->used || o->granter != p->granter || o->nr != p->nr)
						continue;
					if (no == cap) {
						unsigned nc = cap ? cap * 2 : 8;
						void **t = realloc(others, nc * sizeof(*t));
						if (!t) {
							oom = true;
							break;
						}
						others = t;
						cap = nc;
					}
					others[no++] = o->map;
				}
			}
			/* Without the full list we cannot tell whose pins are
			 * whose: leave them (the granter's revoke then waits,
			 * never a pin released under a live mapper). */
			if (gt != MAP_FAILED && p->nr <= df.gt_entries && !oom) {
				uint64_t n = pvio_gnttab_release_dead_pins(gt, p->nr, p->map,
									    others, no);
				if (n && d->verbose)
					logmsg("dom%u's connection closed: released %llu pins on "
					       "dom%u's grants", c->domid, (unsigned long long)n,
					       p->granter);
			}
			if (gt != MAP_FAILED)
				munmap(gt, gt_bytes);
			free(others);
			close(df.gt_fd);
			if (df.mem_fd >= 0)
				close(df.mem_fd);
		}
		pinreg_drop(p);
	}
	free(c->pins);
	c->pins = NULL;
	c->nr_pins = 0;
}

static void conn_close(struct pviod *d, unsigned i)
{
	if (!d->conns[i].used)
		return;
	release_pins(d, i);
	epoll_ctl(d->ep, EPOLL_CTL_DEL, d->conns[i].fd, NULL);
	close(d->conns[i].fd);
	d->conns[i].used = false;
	/* Its process is gone (or cut off): its ports close, and the peers
	 * see it, as when a process holding /dev/xen/evtchn exits. */
	pvio_world_evtchn_close_owner(d->w, d->conns[i].domid, d->conns[i].id);
}

/* A destroyed domain loses every connection it had: its processes see EOF. */
static void on_destroy(void *arg, uint16_t domid)
{
	struct pviod *d = arg;

	for (unsigned i = 0; i < d->nr_conns; i++)
		if (d->conns[i].used && d->conns[i].domid == domid)
			conn_close(d, i);
	/* Pin tables on its grants: nothing left to release. */
	for (unsigned i = 0; i < d->nr_conns; i++)
		if (d->conns[i].used && d->conns[i].pins)
			for (unsigned k = 0; k < d->conns[i].nr_pins; k++)
				if (d->conns[i].pins[k].used && d->conns[i].pins[k].granter == domid)
					pinreg_drop(&d->conns[i].pins[k]);
	if (d->xsd)
		pvio_xsd_release_domain(d->xsd, domid);
}

static void close_fds(int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

static void info_rsp(struct pvio_hvmsg_rsp *p, const struct pvio_hv_domain_info *i)
{
	p->v[0] = i->domid;
	p->v[1] = i->mem_bytes;
	p->v[2] = i->gnttab_entries;
	snprintf(p->name, sizeof(p->name), "%s", i->name);
}

/* A free pin-table slot of c, growing the table; NULL with *err set. The
 * registrations in use never exceed the number of domains (one per
 * granter) nor max_pins. */
static struct pinreg *pinreg_slot(struct pviod *d, struct conn *c, int *err)
{
	struct pinreg *free_slot = NULL, *t;
	unsigned used = 0, n;

	for (unsigned k = 0; k < c->nr_pins; k++)
		if (c->pins[k].used)
			used++;
		else if (!free_slot)
			free_slot = &c->pins[k];
	if (d->max_pins && used >= d->max_pins) {
		*err = -EUSERS;
		return NULL;
	}
	if (free_slot)
		return free_slot;
	n = c->nr_pins ? c->nr_pins * 2 : 8;
	if (n > PVIO_DOMID_MAX_GUEST + 1)
		n = PVIO_DOMID_MAX_GUEST + 1;
	if (n <= c->nr_pins) {
		*err = -EUSERS;
		return NULL;
	}
	t = realloc(c->pins, (size_t)n * sizeof(*t));
	if (!t) {
		*err = -ENOMEM;
		return NULL;
	}
	memset(t + c->nr_pins, 0, (size_t)(n - c->nr_pins) * sizeof(*t));
	c->pins = t;
	used = c->nr_pins;
	c->nr_pins = n;
	return &c->pins[used];
}

static int handle_pins(struct pviod *d, unsigned ci, const struct pvio_hvmsg_req *q,
		       struct pvio_hvmsg_rsp *p, int *in, unsigned nin)
{
	struct conn *c = &d->conns[ci];
	struct pinreg *slot;
	struct stat st;
	void *map;
	size_t bytes;
	int err = 0;

	if (q->a[0] > PVIO_DOMID_MAX_GUEST)
		return -EINVAL;
	for (unsigned k = 0; k < c->nr_pins; k++)
		if (c->pins[k].used && c->pins[k].granter == q->a[0])
			pinreg_drop(&c->pins[k]);
	if (nin == 0)
		return 0;     /* forget it: the process released its pins */
	if (c->domid != PVIO_DOMID_DOM0 || !pvio_world_domain_exists(d->w, (uint16_t)q->a[0]))
		return -EPERM;
	if (q->a[1] == 0 || q->a[1] > (1u << 24))
		return -EINVAL;
	bytes = pvio_gnttab_pins_bytes((uint32_t)q->a[1]);
	if (fstat(in[0], &st) < 0 || (size_t)st.st_size < bytes)
		return -EINVAL;
	slot = pinreg_slot(d, c, &err);
	if (!slot) {
		bool note;

		/* The limit goes back to the caller, which names it. */
		p->v[0] = d->max_pins;
		if (err == -EUSERS && pvio_ratelimit_allow(&d->pins_rl, 10, &note))
			logmsg("dom%u's connection: pin registrations exhausted (limit %u, "
			       "--max-pins): refusing dom%u's grants", c->domid, d->max_pins,
			       (unsigned)q->a[0]);
		return err;
	}
	map = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, in[0], 0);
	if (map == MAP_FAILED)
		return -errno;
	*slot = (struct pinreg){ .used = true, .granter = (uint16_t)q->a[0],
				 .nr = (uint32_t)q->a[1], .map = map, .bytes = bytes };
	return 0;
}

static int handle(struct pviod *d, unsigned ci, const struct pvio_hvmsg_req *q,
		  struct pvio_hvmsg_rsp *p, int *fds, unsigned *nfds, int *in, unsigned nin)
{
	uint16_t me = d->conns[ci].domid;
	struct pvio_world_dom_fds df;
	struct pvio_world_port_fds pf;
	struct pvio_hv_domain_info info;
	char name[sizeof(q->name) + 1];
	int sv[2];
	int r;

	memcpy(name, q->name, sizeof(q->name));
	name[sizeof(q->name)] = 0;
	switch (q->op) {
	case PVIO_HVMSG_HELLO:
		r = pvio_world_self_fds(d->w, me, &df);
		if (r < 0)
			return r;
		p->v[0] = me;
		p->v[1] = df.mem_bytes;
		p->v[2] = df.gt_entries;
		/* dom0 has no guest memory: hand a placeholder so the reply
		 * shape is fixed; the client ignores it when mem_bytes is 0. */
		fds[0] = df.mem_fd >= 0 ? df.mem_fd : dup(df.gt_fd);
		fds[1] = df.gt_fd;
		*nfds = 2;
		return 0;
	case PVIO_HVMSG_DOMAIN_CREATE: {
		uint16_t domid;

		r = pvio_world_domain_create(d->w, me, name, q->a[0], &domid);
		if (r < 0)
			return r;
		if (d->xsd) {
			r = pvio_xsd_introduce(d->xsd, domid);
			if (r < 0) {
				pvio_world_domain_destroy(d->w, me, domid);
				return r;
			}
		}
		p->v[0] = domid;
		if (d->verbose)
			logmsg("created domain %u (%s, %llu bytes)", domid, name,
			       (unsigned long long)q->a[0]);
		return 0;
	}
	case PVIO_HVMSG_DOMAIN_DESTROY:
		if (q->a[0] > PVIO_DOMID_MAX_GUEST)
			return -EINVAL;
		r = pvio_world_domain_destroy(d->w, me, (uint16_t)q->a[0]);
		if (r == 0 && d->verbose)
			logmsg("destroyed domain %u", (unsigned)q->a[0]);
		return r;
	case PVIO_HVMSG_DOMAIN_LOOKUP:
		r = pvio_world_domain_lookup(d->w, me, name, &info);
		if (r == 0)
			info_rsp(p, &info);
		return r;
	case PVIO_HVMSG_DOMAIN_AT:
		if (q->a[0] > PVIO_DOMID_MAX_GUEST + 1)
			return -ENOENT;
		r = pvio_world_domain_at(d->w, me, (unsigned)q->a[0], &info);
		if (r == 0)
			info_rsp(p, &info);
		return r;
	case PVIO_HVMSG_DOMAIN_CONNECT:
		if (me != 0)
			return -EPERM;
		if (q->a[0] > PVIO_DOMID_MAX_GUEST || q->a[0] == 0 ||
		    !pvio_world_domain_exists(d->w, (uint16_t)q->a[0]))
			return -ESRCH;
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
			return -errno;
		fcntl(sv[0], F_SETFL, O_NONBLOCK);
		r = conn_add(d, sv[0], (uint16_t)q->a[0]);
		if (r < 0) {
			close(sv[0]);
			close(sv[1]);
			return r;
		}
		fds[0] = sv[1];
		*nfds = 1;
		return 0;
	case PVIO_HVMSG_FOREIGN:
		if (q->a[0] > PVIO_DOMID_MAX_GUEST)
			return -EINVAL;
		r = pvio_world_foreign_fds(d->w, me, (uint16_t)q->a[0], &df);
		if (r < 0)
			return r;
		p->v[0] = df.mem_bytes;
		p->v[1] = df.gt_entries;
		fds[0] = df.mem_fd >= 0 ? df.mem_fd : dup(df.gt_fd);
		fds[1] = df.gt_fd;
		*nfds = 2;
		return 0;
	case PVIO_HVMSG_EVTCHN_ALLOC:
	case PVIO_HVMSG_EVTCHN_BIND:
		if (q->a[0] > PVIO_DOMID_MAX_GUEST || q->a[1] > UINT32_MAX)
			return -EINVAL;
		if (q->op == PVIO_HVMSG_EVTCHN_ALLOC)
			r = pvio_world_evtchn_alloc_unbound(d->w, me, d->conns[ci].id,
							    (uint16_t)q->a[0], &pf);
		else
			r = pvio_world_evtchn_bind(d->w, me, d->conns[ci].id, (uint16_t)q->a[0],
						   (pvio_evtchn_port_t)q->a[1], &pf);
		if (r < 0)
			return r;
		p->v[0] = pf.port;
		p->v[1] = pf.side;
		fds[0] = pf.shm_fd;
		fds[1] = pf.self_efd;
		fds[2] = pf.peer_efd;
		*nfds = 3;
		return 0;
	case PVIO_HVMSG_EVTCHN_CLOSE:
		if (q->a[0] > UINT32_MAX)
			return -EINVAL;
		return pvio_world_evtchn_close(d->w, me, (pvio_evtchn_port_t)q->a[0]);
	case PVIO_HVMSG_PINS:
		return handle_pins(d, ci, q, p, in, nin);
	case PVIO_HVMSG_XS_CONNECT:
		if (!d->xsd)
			return -EOPNOTSUPP;
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
			return -errno;
		r = pvio_xsd_add_conn(d->xsd, sv[0], me);
		if (r < 0) {
			close(sv[1]);
			return r;
		}
		fds[0] = sv[1];
		*nfds = 1;
		return 0;
	default:
		return -EINVAL;
	}
}

static void conn_event(struct pviod *d, unsigned ci)
{
	struct pvio_hvmsg_req q;
	struct pvio_hvmsg_rsp p;
	int in[PVIO_HVMSG_MAX_FDS], out[PVIO_HVMSG_MAX_FDS] = { -1, -1, -1 };
	unsigned nin = 0, nout = 0;
	int r;

	r = pvio__hvmsg_recv(d->conns[ci].fd, &q, sizeof(q), in, PVIO_HVMSG_MAX_FDS, &nin);
	if (r == -EAGAIN)
		return;
	if (r < 0) {
		if (r != -ECONNRESET && d->verbose)
			logmsg("dom%u: bad message (%s), closing its connection",
			       d->conns[ci].domid, strerror(-r));
		close_fds(in, nin);
		conn_close(d, ci);
		return;
	}
	/* Only PVIO_HVMSG_PINS carries an fd (one). */
	if (q.op != PVIO_HVMSG_PINS || nin > 1) {
		close_fds(in, nin);
		nin = 0;
	}
	memset(&p, 0, sizeof(p));
	p.seq = q.seq;
	p.ret = handle(d, ci, &q, &p, out, &nout, in, nin);
	close_fds(in, nin);
	if (p.ret < 0) {
		close_fds(out, nout);
		nout = 0;
	}
	/* The connection may have been closed by its own request (a domain
	 * destroying itself is refused, but dom0 destroying... dom0's
	 * connection is never closed by destroy). */
	if (d->conns[ci].used) {
		r = pvio__hvmsg_send(d->conns[ci].fd, &p, sizeof(p), out, nout);
		if (r < 0)
			conn_close(d, ci);
	}
	close_fds(out, nout);
}

static void accept_event(struct pviod *d)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd = accept4(d->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd < 0)
		return;
	/* The socket's mode already limits who can connect; check the peer
	 * too (root or pviod's own user). */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
	    (cred.uid != 0 && cred.uid != geteuid())) {
		logmsg("refusing control connection from uid %u", (unsigned)cred.uid);
		close(fd);
		return;
	}
	if (conn_add(d, fd, PVIO_DOMID_DOM0) < 0)
		close(fd);
}

static int listen_on(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	mode_t old;
	int fd, r;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	old = umask(0177);   /* socket created 0600 */
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0 || chmod(path, 0600) < 0 || listen(fd, 64) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pviod [options]\n"
		"  pvio's broker daemon: creates domains, hands out their memory, grant\n"
		"  tables and event channels, and serves the xenstore.\n\n"
		"  --socket PATH      dom0 control socket (default /run/pvio/pviod.sock;\n"
		"                     created mode 0600)\n"
		"  --xs-socket PATH   xenstore socket for Xen's tools (XENSTORED_PATH=PATH)\n"
		"  --ready-fd N       write \"ready\\n\" to fd N once serving, then close it\n"
		"  --max-pins N       pin registrations per connection: how many guests one\n"
		"                     backend process may map (default 0: no limit but the\n"
		"                     number of domains)\n"
		"  --verbose          log domain life cycle\n"
		"  --help\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "xs-socket", required_argument, NULL, 'x' },
		{ "ready-fd", required_argument, NULL, 'r' },
		{ "max-pins", required_argument, NULL, 'p' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct pviod *d = calloc(1, sizeof(*d));
	const char *xs_path = NULL;
	struct pvio_xsd_opts xo;
	struct epoll_event ev;
	sigset_t mask;
	int ready_fd = -1, c, r, rc = 1;

	if (!d)
		return 1;
	d->sock_path = "/run/pvio/pviod.sock";
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's': d->sock_path = optarg; break;
		case 'x': xs_path = optarg; break;
		case 'r': ready_fd = atoi(optarg); break;
		case 'p': {
			char *end;
			unsigned long v;

			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || optarg[0] == '-' ||
			    v > PVIO_DOMID_MAX_GUEST + 1) {
				fprintf(stderr, "pviod: --max-pins: '%s' is not a number in 0..%u\n",
					optarg, PVIO_DOMID_MAX_GUEST + 1);
				return 2;
			}
			d->max_pins = (unsigned)v;
			break;
		}
		case 'v': d->verbose = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "pviod: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	/* Every domain, channel and connection is fds here. */
	pvio_hv_raise_nofile("pviod", PVIO_HV_NOFILE_WANT, 24);
	if (strcmp(d->sock_path, "/run/pvio/pviod.sock") == 0)
		mkdir("/run/pvio", 0700);

	r = pvio_world_create(&d->w);
	if (r < 0) {
		logmsg("cannot create the world: %s", strerror(-r));
		return 1;
	}
	pvio_world_on_destroy(d->w, on_destroy, d);
	d->ep = epoll_create1(EPOLL_CLOEXEC);

	pvio_xsd_opts_default(&xo);
	r = pvio_xsd_create(&xo, &d->xsd);
	if (r < 0) {
		logmsg("cannot create the xenstore: %s", strerror(-r));
		goto out;
	}
	if (xs_path && (r = pvio_xsd_listen(d->xsd, xs_path)) < 0) {
		logmsg("cannot listen on xenstore socket %s: %s", xs_path, strerror(-r));
		goto out;
	}
	ev = (struct epoll_event){ .events = EPOLLIN, .data.u64 = TAG_XSD };
	epoll_ctl(d->ep, EPOLL_CTL_ADD, pvio_xsd_fd(d->xsd), &ev);

	d->listen_fd = listen_on(d->sock_path);
	if (d->listen_fd < 0) {
		logmsg("cannot listen on %s: %s", d->sock_path, strerror(-d->listen_fd));
		goto out;
	}
	ev = (struct epoll_event){ .events = EPOLLIN, .data.u64 = TAG_LISTEN };
	epoll_ctl(d->ep, EPOLL_CTL_ADD, d->listen_fd, &ev);

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	d->sig_fd = signalfd(-1, &mask, SFD_CLOEXEC);
	ev = (struct epoll_event){ .events = EPOLLIN, .data.u64 = TAG_SIGNAL };
	epoll_ctl(d->ep, EPOLL_CTL_ADD, d->sig_fd, &ev);

	if (ready_fd >= 0) {
		if (write(ready_fd, "ready\n", 6) != 6)
			logmsg("cannot write to --ready-fd %d", ready_fd);
		close(ready_fd);
	}
	while (!d->quit) {
		struct epoll_event evs[64];
		int n = epoll_wait(d->ep, evs, 64, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			logmsg("epoll_wait: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			uint64_t tag = evs[i].data.u64;

			if (tag == TAG_LISTEN)
				accept_event(d);
			else if (tag == TAG_XSD)
				pvio_xsd_dispatch(d->xsd, 0);
			else if (tag == TAG_SIGNAL)
				d->quit = true;
			else if (tag < d->nr_conns && d->conns[tag].used)
				conn_event(d, (unsigned)tag);
		}
	}
	rc = 0;
out:
	for (unsigned i = 0; i < d->nr_conns; i++)
		conn_close(d, i);
	free(d->conns);
	if (d->listen_fd > 0) {
		close(d->listen_fd);
		unlink(d->sock_path);
	}
	pvio_xsd_destroy(d->xsd);
	pvio_world_destroy(d->w);
	free(d);
	return rc;
}
