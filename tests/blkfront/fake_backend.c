/* SPDX-License-Identifier: MIT */
/* In-process blkif backend for blkfront's tests (see fake_backend.h). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "ring/blkif.h"
#include "ring/pvio_atomic.h"
#include "ring/xenbus_abi.h"
#include "tests/blkfront/fake_backend.h"
#include "xenstore/xenbus.h"

#define PAGE PVIO_PAGE_SIZE
#define MASK(s) PVIO_XENBUS_MASK(PVIO_XENBUS_STATE_##s)

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void changed(struct fake_be *b)
{
	pthread_mutex_lock(&b->mu);
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
}

static bool stopping(struct fake_be *b)
{
	return __atomic_load_n(&b->stop, __ATOMIC_ACQUIRE) != 0;
}

static int put(struct fake_be *b, const char *key, unsigned long long v)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", b->vbd.be_dir, key);
	return pvio_xs_printf(b->xs, PVIO_XS_NO_TX, path, "%llu", v);
}

static int fe_uint(struct fake_be *b, const char *dir, const char *key, unsigned long long *v)
{
	return pvio_xenbus_read_uint(b->xs, PVIO_XS_NO_TX, dir, key, v);
}

/* Wait (cancellably) for the frontend's state to be one of mask. */
static int wait_fe(struct fake_be *b, unsigned mask, enum pvio_xenbus_state *st)
{
	long long deadline = now_ms() + 20000;

	while (!stopping(b)) {
		int r = pvio_xenbus_wait_state(b->xs, b->vbd.fe_dir, mask, 50, st);

		if (r != -ETIMEDOUT)
			return r;
		if (now_ms() > deadline)
			return -ETIMEDOUT;
	}
	return -ECANCELED;
}

static void disconnect(struct fake_be *b, bool keep_maps)
{
	for (unsigned i = 0; i < b->nq; i++) {
		struct fb_queue *q = &b->q[i];

		if (q->port) {
			pvio_hv_evtchn_close(b->hv, q->port);
			q->port = 0;
			q->ch = NULL;
		}
		if (keep_maps) {
			pvio_hv_unmap_ring(b->hv, &b->kept[i]);
			b->kept[i] = q->map;
			memset(&q->map, 0, sizeof(q->map));
		} else {
			pvio_hv_unmap_ring(b->hv, &q->map);
		}
	}
}

/* ------------------------------------------------------------ handshake */

static int connect_fe(struct fake_be *b)
{
	const struct fb_cfg *c = &b->cfg;
	unsigned long long nq = 1, order = 0, large = 0;
	char proto[32] = "", path[256], dir[200];
	enum pvio_xenbus_state st;
	int r;

	/* A restarted backend rewrites its features: what it no longer
	 * offers must not linger from the previous incarnation. */
	if (c->max_queues) {
		put(b, "multi-queue-max-queues", c->max_queues);
	} else {
		snprintf(path, sizeof(path), "%s/multi-queue-max-queues", b->vbd.be_dir);
		pvio_xs_rm(b->xs, PVIO_XS_NO_TX, path);
	}
	if (!c->max_indirect) {
		snprintf(path, sizeof(path), "%s/feature-max-indirect-segments", b->vbd.be_dir);
		pvio_xs_rm(b->xs, PVIO_XS_NO_TX, path);
	}
	if (c->max_order_key) {
		snprintf(path, sizeof(path), "%s/max-ring-page-order", b->vbd.be_dir);
		pvio_xs_write(b->xs, PVIO_XS_NO_TX, path, c->max_order_key,
			      strlen(c->max_order_key));
	} else {
		put(b, "max-ring-page-order", c->max_order);
	}
	put(b, "feature-persistent", c->persistent);
	if (c->max_indirect)
		put(b, "feature-max-indirect-segments", c->max_indirect);
	pvio_xenbus_switch_state(b->xs, PVIO_XS_NO_TX, b->vbd.be_dir, PVIO_XENBUS_STATE_INITWAIT);

	r = wait_fe(b, MASK(INITIALISED), &st);
	if (r < 0)
		return r;
	if (c->max_queues)
		fe_uint(b, b->vbd.fe_dir, "multi-queue-num-queues", &nq);
	fe_uint(b, b->vbd.fe_dir, "ring-page-order", &order);
	fe_uint(b, b->vbd.fe_dir, "feature-large-sector-size", &large);
	snprintf(path, sizeof(path), "%s/protocol", b->vbd.fe_dir);
	pvio_xs_read_buf(b->xs, PVIO_XS_NO_TX, path, proto, sizeof(proto), NULL);
	if (nq < 1 || nq > 16 || order > 4) {
		fprintf(stderr, "fake backend: bad frontend keys: queues %llu order %llu\n", nq, order);
		return -EPROTO;
	}
	b->x86_32 = pvio_blkif_abi_from_protocol(proto[0] ? proto : NULL) == PVIO_BLKIF_ABI_X86_32;
	b->unit = large ? c->sector_size : 512;
	b->nq = (unsigned)nq;
	for (unsigned i = 0; i < b->nq; i++) {
		struct fb_queue *q = &b->q[i];
		uint32_t refs[16];
		unsigned long long v, port;
		unsigned n = 1u << order;

		memset(q, 0, sizeof(*q));
		if (nq > 1)
			snprintf(dir, sizeof(dir), "%s/queue-%u", b->vbd.fe_dir, i);
		else
			snprintf(dir, sizeof(dir), "%s", b->vbd.fe_dir);
		for (unsigned k = 0; k < n; k++) {
			char key[24];

			snprintf(key, sizeof(key), order ? "ring-ref%u" : "ring-ref", k);
			r = fe_uint(b, dir, key, &v);
			if (r < 0)
				return r;
			refs[k] = (uint32_t)v;
		}
		r = fe_uint(b, dir, "event-channel", &port);
		if (r < 0)
			return r;
		r = pvio_hv_map_ring(b->hv, b->vbd.fe_domid, refs, n, &q->map);
		if (r < 0)
			return r;
		r = b->x86_32 ? pvio_blkif_x86_32_back_attach(&q->ring, q->map.addr, (size_t)n * PAGE)
			      : pvio_blkif_back_attach(&q->ring, q->map.addr, (size_t)n * PAGE);
		if (r < 0)
			return r;
		r = pvio_hv_evtchn_bind(b->hv, b->vbd.fe_domid, (pvio_evtchn_port_t)port, &q->port);
		if (r < 0) {
			q->port = 0;
			return r;
		}
		q->ch = pvio_hv_evtchn_handle(b->hv, q->port);
	}
	put(b, "sectors", b->disk_bytes / c->sector_size);
	put(b, "sector-size", c->sector_size);
	put(b, "info", c->readonly ? PVIO_VDISK_READONLY : 0);
	put(b, "feature-flush-cache", c->flush);
	put(b, "feature-barrier", c->barrier);
	put(b, "feature-discard", c->discard);
	if (c->discard) {
		put(b, "discard-granularity", c->sector_size);
		put(b, "discard-alignment", 0);
	}
	pvio_xenbus_switch_state(b->xs, PVIO_XS_NO_TX, b->vbd.be_dir, PVIO_XENBUS_STATE_CONNECTED);
	__atomic_store_n(&b->connected, 1, __ATOMIC_RELEASE);
	changed(b);
	return 0;
}

/* ------------------------------------------------------------ serving */

struct req {
	uint8_t  op, iop;
	uint16_t nseg;
	uint64_t id, sector, nr_sectors;
	uint32_t igrefs[8];
	struct pvio_blkif_request_segment seg[11];
};

static void take(struct fake_be *b, struct fb_queue *q, struct req *p)
{
	memset(p, 0, sizeof(*p));
	if (b->x86_32) {
		union pvio_blkif_x86_32_slot u;

		pvio_blkif_x86_32_copy_request(&q->ring, &u.req);
		p->op = u.req.operation;
		if (p->op == PVIO_BLKIF_OP_INDIRECT) {
			struct pvio_blkif_x86_32_request_indirect *in = (void *)&u.req;
			p->iop = in->indirect_op;
			p->nseg = in->nr_segments;
			p->id = in->id;
			p->sector = in->sector_number;
			memcpy(p->igrefs, in->indirect_grefs, sizeof(p->igrefs));
		} else if (p->op == PVIO_BLKIF_OP_DISCARD) {
			struct pvio_blkif_x86_32_request_discard *d = (void *)&u.req;
			p->id = d->id;
			p->sector = d->sector_number;
			p->nr_sectors = d->nr_sectors;
		} else {
			p->nseg = u.req.nr_segments;
			p->id = u.req.id;
			p->sector = u.req.sector_number;
			memcpy(p->seg, u.req.seg, sizeof(p->seg));
		}
	} else {
		union pvio_blkif_slot u;

		pvio_blkif_copy_request(&q->ring, &u.req);
		p->op = u.req.operation;
		if (p->op == PVIO_BLKIF_OP_INDIRECT) {
			struct pvio_blkif_request_indirect *in = (void *)&u.req;
			p->iop = in->indirect_op;
			p->nseg = in->nr_segments;
			p->id = in->id;
			p->sector = in->sector_number;
			memcpy(p->igrefs, in->indirect_grefs, sizeof(p->igrefs));
		} else if (p->op == PVIO_BLKIF_OP_DISCARD) {
			struct pvio_blkif_request_discard *d = (void *)&u.req;
			p->id = d->id;
			p->sector = d->sector_number;
			p->nr_sectors = d->nr_sectors;
		} else {
			p->nseg = u.req.nr_segments;
			p->id = u.req.id;
			p->sector = u.req.sector_number;
			memcpy(p->seg, u.req.seg, sizeof(p->seg));
		}
	}
}

static void respond(struct fake_be *b, struct fb_queue *q, uint64_t id, uint8_t op, int16_t st)
{
	if (b->x86_32) {
		struct pvio_blkif_x86_32_response r;

		memset(&r, 0, sizeof(r));
		r.id = id;
		r.operation = op;
		r.status = st;
		pvio_blkif_x86_32_put_response(&q->ring, &r);
	} else {
		struct pvio_blkif_response r;

		memset(&r, 0, sizeof(r));
		r.id = id;
		r.operation = op;
		r.status = st;
		pvio_blkif_put_response(&q->ring, &r);
	}
}

/* Execute a request on the RAM disk; returns a BLKIF status. */
static int16_t execute(struct fake_be *b, struct req *p)
{
	static __thread struct pvio_blkif_request_segment iseg[4096];
	static __thread struct pvio_gnt_copy_op ops[4096];
	const struct pvio_blkif_request_segment *segs = p->seg;
	uint8_t op = p->op;
	uint64_t off, total = 0;
	unsigned spp = PAGE / b->unit, n = p->nseg;

	switch (op) {
	case PVIO_BLKIF_OP_FLUSH_DISKCACHE:
	case PVIO_BLKIF_OP_WRITE_BARRIER:
		if ((op == PVIO_BLKIF_OP_FLUSH_DISKCACHE && !b->cfg.flush) ||
		    (op == PVIO_BLKIF_OP_WRITE_BARRIER && !b->cfg.barrier))
			return PVIO_BLKIF_RSP_EOPNOTSUPP;
		if (n == 0)
			return PVIO_BLKIF_RSP_OKAY;
		op = PVIO_BLKIF_OP_WRITE;
		break;
	case PVIO_BLKIF_OP_DISCARD:
		if (!b->cfg.discard)
			return PVIO_BLKIF_RSP_EOPNOTSUPP;
		if (p->sector > b->disk_bytes / b->unit ||
		    p->nr_sectors > b->disk_bytes / b->unit - p->sector)
			return PVIO_BLKIF_RSP_ERROR;
		memset(b->disk + p->sector * b->unit, 0, p->nr_sectors * b->unit);
		return PVIO_BLKIF_RSP_OKAY;
	case PVIO_BLKIF_OP_INDIRECT: {
		struct pvio_gnt_copy_op iops[8];
		unsigned np = (n + 511) / 512;

		if (!b->cfg.max_indirect || n == 0 || n > b->cfg.max_indirect ||
		    (p->iop != PVIO_BLKIF_OP_READ && p->iop != PVIO_BLKIF_OP_WRITE))
			return PVIO_BLKIF_RSP_ERROR;
		memset(iops, 0, sizeof(iops));
		for (unsigned i = 0; i < np; i++) {
			unsigned cnt = n - i * 512 > 512 ? 512 : n - i * 512;

			iops[i].source.foreign.ref = p->igrefs[i];
			iops[i].source.foreign.domid = b->vbd.fe_domid;
			iops[i].dest.virt = &iseg[i * 512];
			iops[i].len = (uint16_t)(cnt * sizeof(iseg[0]));
			iops[i].flags = PVIO_GNTCOPY_source_gref;
		}
		if (pvio_hv_copy(b->hv, iops, np) != (int)np)
			return PVIO_BLKIF_RSP_ERROR;
		segs = iseg;
		op = p->iop;
		if (n > __atomic_load_n(&b->max_segs_seen, __ATOMIC_RELAXED))
			__atomic_store_n(&b->max_segs_seen, n, __ATOMIC_RELAXED);
		__atomic_add_fetch(&b->indirect_seen, 1, __ATOMIC_RELAXED);
		break;
	}
	case PVIO_BLKIF_OP_READ:
	case PVIO_BLKIF_OP_WRITE:
		if (n == 0 || n > 11)
			return PVIO_BLKIF_RSP_ERROR;
		break;
	default:
		return PVIO_BLKIF_RSP_EOPNOTSUPP;
	}
	if (op == PVIO_BLKIF_OP_WRITE && b->cfg.readonly)
		return PVIO_BLKIF_RSP_ERROR;
	off = p->sector * b->unit;
	for (unsigned i = 0; i < n; i++) {
		if (segs[i].first_sect > segs[i].last_sect || segs[i].last_sect >= spp)
			return PVIO_BLKIF_RSP_ERROR;
		total += (uint64_t)(segs[i].last_sect - segs[i].first_sect + 1) * b->unit;
	}
	if (p->sector > b->disk_bytes / b->unit || off > b->disk_bytes ||
	    total > b->disk_bytes - off || ((off | total) & (b->cfg.sector_size - 1)))
		return PVIO_BLKIF_RSP_ERROR;
	memset(ops, 0, sizeof(ops[0]) * n);
	for (unsigned i = 0; i < n; i++) {
		uint16_t po = (uint16_t)(segs[i].first_sect * b->unit);
		uint16_t len = (uint16_t)((segs[i].last_sect - segs[i].first_sect + 1) * b->unit);

		if (op == PVIO_BLKIF_OP_WRITE) {
			ops[i].source.foreign.ref = segs[i].gref;
			ops[i].source.foreign.offset = po;
			ops[i].source.foreign.domid = b->vbd.fe_domid;
			ops[i].dest.virt = b->disk + off;
			ops[i].flags = PVIO_GNTCOPY_source_gref;
		} else {
			ops[i].source.virt = b->disk + off;
			ops[i].dest.foreign.ref = segs[i].gref;
			ops[i].dest.foreign.offset = po;
			ops[i].dest.foreign.domid = b->vbd.fe_domid;
			ops[i].flags = PVIO_GNTCOPY_dest_gref;
		}
		ops[i].len = len;
		off += len;
	}
	if (pvio_hv_copy(b->hv, ops, n) != (int)n)
		return PVIO_BLKIF_RSP_ERROR;
	return PVIO_BLKIF_RSP_OKAY;
}

/* Serve one queue; returns how many requests were taken. */
static int serve_queue(struct fake_be *b, struct fb_queue *q)
{
	int mode = __atomic_load_n(&b->mode, __ATOMIC_ACQUIRE);
	int n = pvio_ring_back_pending(&q->ring), taken = 0, produced = 0;

	if (n <= 0)
		return 0;
	if (mode == FB_DUP_ID && n < 2)
		return 0;   /* wait for a second request */
	if (mode == FB_OVERFLOW) {
		/* Claim far more responses than requests outstanding. */
		pvio_store_release(&q->ring.sring->rsp_prod,
				   q->ring.rsp_prod_pvt + q->ring.nr_ents + 3);
		pvio_evtchn_notify(q->ch);
		__atomic_store_n(&b->mode, FB_SWALLOW, __ATOMIC_RELEASE);
		return n;
	}
	while (n-- > 0) {
		struct req p;
		uint8_t rop;

		take(b, q, &p);
		taken++;
		rop = p.op;
		produced++;
		switch (mode) {
		case FB_HALF:
			if (b->taken++ % 2) {
				respond(b, q, p.id, rop, execute(b, &p));
				__atomic_add_fetch(&b->served, 1, __ATOMIC_RELEASE);
				break;
			}
			/* fall through */
		case FB_SWALLOW:
			produced--;
			__atomic_add_fetch(&b->swallowed, 1, __ATOMIC_RELEASE);
			changed(b);
			continue;
		case FB_UNKNOWN_ID:
			respond(b, q, 0xffffffffull, rop, 0);
			break;
		case FB_STALE_ID:
			respond(b, q, p.id ^ (1ull << 40), rop, 0);
			break;
		case FB_DUP_ID: {
			struct req p2;

			take(b, q, &p2);
			taken++;
			n--;
			respond(b, q, p.id, rop, 0);
			respond(b, q, p.id, rop, 0);
			produced++;
			/* once: then behave */
			__atomic_store_n(&b->mode, FB_SWALLOW, __ATOMIC_RELEASE);
			mode = FB_SWALLOW;
			break;
		}
		case FB_WRONG_OP:
			respond(b, q, p.id, rop == PVIO_BLKIF_OP_READ ? PVIO_BLKIF_OP_WRITE
								 : PVIO_BLKIF_OP_READ, 0);
			break;
		case FB_BAD_STATUS:
			respond(b, q, p.id, rop, 0x1234);
			break;
		case FB_GARBAGE: {
			uint64_t id = p.id;
			unsigned r = (unsigned)rand_r(&b->seed);

			if (r & 1)
				id ^= (uint64_t)rand_r(&b->seed) << (r & 32 ? 32 : 0);
			if (r & 2)
				rop = (uint8_t)rand_r(&b->seed);
			respond(b, q, id, rop, (int16_t)rand_r(&b->seed));
			break;
		}
		default:
			respond(b, q, p.id, rop, execute(b, &p));
			__atomic_add_fetch(&b->served, 1, __ATOMIC_RELEASE);
			break;
		}
	}
	/* Only publish what was produced: a swallowing backend leaves
	 * rsp_prod alone (an overflowed one included). */
	if (produced && pvio_ring_push_responses(&q->ring))
		pvio_evtchn_notify(q->ch);
	return taken;
}

static void *fb_main(void *arg)
{
	struct fake_be *b = arg;
	struct pollfd pf[18];
	int r, wfd;

	r = connect_fe(b);
	if (r < 0) {
		if (r != -ECANCELED)
			fprintf(stderr, "fake backend: handshake: %s\n", strerror(-r));
		b->err = r;
		changed(b);
		return NULL;
	}
	/* Watch the frontend's state: it closes at the end. */
	snprintf(b->wtoken, sizeof(b->wtoken), "fake-be/%p", (void *)b);
	snprintf(b->wpath, sizeof(b->wpath), "%s/state", b->vbd.fe_dir);
	b->watching = pvio_xs_watch(b->xs, b->wpath, b->wtoken) == 0;
	wfd = pvio_xs_watch_fd(b->xs);
	while (!stopping(b)) {
		unsigned np = 0;
		int work = 0;

		for (unsigned i = 0; i < b->nq; i++) {
			struct fb_queue *q = &b->q[i];

			pvio_evtchn_consume(q->ch);
			work += serve_queue(b, q);
			if (pvio_ring_back_final_check(&q->ring) > 0)
				work++;
			pvio_evtchn_unmask(q->ch);
			pf[np].fd = q->ch->self_fd;
			pf[np++].events = POLLIN;
		}
		if (work)
			continue;
		pf[np].fd = b->stop_fd;
		pf[np++].events = POLLIN;
		pf[np].fd = wfd;
		pf[np++].events = POLLIN;
		if (poll(pf, np, 1000) < 0 && errno != EINTR)
			break;
		if (pf[np - 1].revents) {
			struct pvio_xs_event ev;
			enum pvio_xenbus_state st;

			while (pvio_xs_read_watch(b->xs, NULL, &ev, 0) == 0)
				;
			if (pvio_xenbus_read_state(b->xs, PVIO_XS_NO_TX, b->vbd.fe_dir, &st) == 0 &&
			    (st == PVIO_XENBUS_STATE_CLOSING || st == PVIO_XENBUS_STATE_CLOSED)) {
				/* The frontend lets go: unmap, close, Closed. */
				disconnect(b, false);
				__atomic_store_n(&b->closed, 1, __ATOMIC_RELEASE);
				pvio_xenbus_switch_state(b->xs, PVIO_XS_NO_TX, b->vbd.be_dir,
							 PVIO_XENBUS_STATE_CLOSED);
				break;
			}
		}
	}
	return NULL;
}

int fb_start(struct fake_be *b)
{
	int fd, r;

	if (!b->inited) {
		pthread_mutex_init(&b->mu, NULL);
		pthread_cond_init(&b->cv, NULL);
		b->inited = true;
	}
	b->stop = 0;
	b->connected = 0;
	b->closed = 0;
	b->err = 0;
	b->nq = 0;
	memset(b->q, 0, sizeof(b->q));
	b->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (b->stop_fd < 0)
		return -errno;
	r = pvio_hv_xs_connect(b->hv, &fd);
	if (r < 0)
		return r;
	r = pvio_xs_open_fd(fd, &b->xs);
	if (r < 0)
		return r;
	r = -pthread_create(&b->thr, NULL, fb_main, b);
	if (r < 0)
		return r;
	b->running = true;
	return 0;
}

/* Wait for cond(b) under b->mu, up to timeout_ms. */
static int wait_for(struct fake_be *b, bool (*cond)(struct fake_be *, uint64_t), uint64_t arg,
		    int timeout_ms)
{
	struct timespec ts;
	int r = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&b->mu);
	while (!cond(b, arg) && r == 0)
		r = pthread_cond_timedwait(&b->cv, &b->mu, &ts);
	r = cond(b, arg) ? 0 : -ETIMEDOUT;
	pthread_mutex_unlock(&b->mu);
	return r;
}

static bool is_connected(struct fake_be *b, uint64_t arg)
{
	(void)arg;
	return __atomic_load_n(&b->connected, __ATOMIC_ACQUIRE) || b->err;
}

static bool has_swallowed(struct fake_be *b, uint64_t n)
{
	return __atomic_load_n(&b->swallowed, __ATOMIC_ACQUIRE) >= n;
}

int fb_wait_connected(struct fake_be *b, int timeout_ms)
{
	int r = wait_for(b, is_connected, 0, timeout_ms);

	return r ? r : b->err;
}

int fb_wait_swallowed(struct fake_be *b, uint64_t n, int timeout_ms)
{
	return wait_for(b, has_swallowed, n, timeout_ms);
}

static void stop_thread(struct fake_be *b)
{
	uint64_t one = 1;

	if (!b->running)
		return;
	__atomic_store_n(&b->stop, 1, __ATOMIC_RELEASE);
	if (write(b->stop_fd, &one, sizeof(one)) < 0) {
		/* eventfd: cannot fail */
	}
	pthread_join(b->thr, NULL);
	b->running = false;
}

static void cleanup(struct fake_be *b)
{
	if (b->xs && b->watching)
		pvio_xs_unwatch(b->xs, b->wpath, b->wtoken);
	b->watching = false;
	if (b->xs) {
		pvio_xs_close(b->xs);
		b->xs = NULL;
	}
	if (b->stop_fd >= 0) {
		close(b->stop_fd);
		b->stop_fd = -1;
	}
}

void fb_crash(struct fake_be *b, bool keep_maps)
{
	stop_thread(b);
	disconnect(b, keep_maps);
	cleanup(b);
}

void fb_release(struct fake_be *b)
{
	for (unsigned i = 0; i < 16; i++)
		pvio_hv_unmap_ring(b->hv, &b->kept[i]);
}

void fb_release_queue(struct fake_be *b, unsigned q)
{
	if (q < 16)
		pvio_hv_unmap_ring(b->hv, &b->kept[q]);
}

void fb_shutdown(struct fake_be *b)
{
	enum pvio_xenbus_state st;

	stop_thread(b);
	b->stop = 0;
	pvio_xenbus_switch_state(b->xs, PVIO_XS_NO_TX, b->vbd.be_dir, PVIO_XENBUS_STATE_CLOSING);
	wait_fe(b, MASK(CLOSING) | MASK(CLOSED) | MASK(INITIALISING), &st);
	disconnect(b, false);
	pvio_xenbus_switch_state(b->xs, PVIO_XS_NO_TX, b->vbd.be_dir, PVIO_XENBUS_STATE_CLOSED);
	cleanup(b);
}

void fb_join(struct fake_be *b)
{
	stop_thread(b);
	disconnect(b, false);
	cleanup(b);
}
