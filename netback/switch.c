/* SPDX-License-Identifier: MIT */
/*
 * pvio-netback's L2 learning switch: ports (vifs and DPDK uplinks), bridges
 * with their MAC tables, the forwarding of a burst of packets (learning,
 * source-MAC filter, flooding, multicast filter, per-destination checksum
 * completion and TCP segmentation, queue choice, bounded backlogs), the
 * uplink threads, and the statistics.
 */
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "netback/common.h"
#include "ring/pvio_atomic.h"

struct nb_switch nb_sw = { .lock = PTHREAD_MUTEX_INITIALIZER };

#define TX_FLAGS (RTE_MBUF_F_TX_L4_MASK | RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_IPV4 | \
		  RTE_MBUF_F_TX_IPV6 | RTE_MBUF_F_TX_IP_CKSUM)

uint64_t nb_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint32_t now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint32_t)ts.tv_sec;
}

/* ------------------------------------------------------------ set-up */

/* Workers call DPDK (mempools, rings, ethdevs): they register with EAL. */
static __thread bool worker_registered;

static void worker_thread_init(void)
{
	worker_registered = rte_thread_register() == 0;
	pvio_stats_thread_init();   /* pvio top shows its CPU time */
}

static void worker_thread_fini(void)
{
	pvio_stats_thread_fini();
	if (worker_registered)
		rte_thread_unregister();
}

static void switch_tables_free(void)
{
	for (unsigned i = 0; i < NB_MAX_BRIDGES; i++) {
		free(nb_sw.bridges[i].members);
		nb_sw.bridges[i].members = NULL;
	}
	free(nb_sw.ports);
	free(nb_sw.vifs);
	nb_sw.ports = NULL;
	nb_sw.vifs = NULL;
	nb_sw.max_ports = 0;
}

int nb_switch_init(const struct nb_cfg *cfg)
{
	int r;

	nb_sw.cfg = *cfg;
	nb_sw.max_ports = cfg->max_ports ? cfg->max_ports : NB_DEFAULT_MAX_PORTS;
	if (nb_sw.max_ports > NB_PORTS_LIMIT)
		nb_sw.max_ports = NB_PORTS_LIMIT;
	/* calloc: pages of slots never used stay untouched. */
	nb_sw.ports = calloc(nb_sw.max_ports, sizeof(*nb_sw.ports));
	nb_sw.vifs = calloc(nb_sw.max_ports, sizeof(*nb_sw.vifs));
	for (unsigned i = 0; i < NB_MAX_BRIDGES; i++) {
		nb_sw.bridges[i].members = calloc((nb_sw.max_ports + 63) / 64, sizeof(uint64_t));
		if (!nb_sw.bridges[i].members)
			goto nomem;
	}
	if (!nb_sw.ports || !nb_sw.vifs)
		goto nomem;
	for (unsigned i = 0; i < nb_sw.max_ports; i++)
		nb_sw.ports[i].idx = (uint16_t)i;
	nb_sw.pool_size = cfg->nb_mbufs;
	nb_sw.held = nb_sw.held_refused = 0;
	nb_sw.held_hard = cfg->nb_mbufs / 2;
	nb_sw.held_soft = cfg->nb_mbufs / 4;
	nb_sw.pool = rte_pktmbuf_pool_create("nb_mbufs", cfg->nb_mbufs, 256, 0,
					     NB_MBUF_DATA + RTE_PKTMBUF_HEADROOM,
					     (int)rte_socket_id());
	if (!nb_sw.pool) {
		fprintf(stderr, "netback: cannot create the mbuf pool (%u mbufs): %s\n",
			cfg->nb_mbufs, rte_strerror(rte_errno));
		r = -ENOMEM;
		goto err;
	}
	r = pvio_workers_create(&(struct pvio_workers_cfg){
					.n = cfg->workers, .poll_us = cfg->poll_us,
					.name = "nb-worker", .thread_init = worker_thread_init,
					.thread_fini = worker_thread_fini },
				&nb_sw.workers);
	if (r < 0) {
		fprintf(stderr, "netback: cannot start %u worker(s): %s\n", cfg->workers,
			strerror(-r));
		rte_mempool_free(nb_sw.pool);
		nb_sw.pool = NULL;
		goto err;
	}
	return 0;
nomem:
	fprintf(stderr, "netback: cannot allocate the switch tables (%u ports)\n", nb_sw.max_ports);
	r = -ENOMEM;
err:
	switch_tables_free();
	return r;
}

void nb_switch_fini(void)
{
	pvio_workers_destroy(nb_sw.workers);
	nb_sw.workers = NULL;
	for (unsigned i = 0; i < NB_MAX_BRIDGES; i++)
		if (nb_sw.bridges[i].used) {
			nb_mt_fini(&nb_sw.bridges[i].mt);
			nb_sw.bridges[i].used = false;
		}
	if (nb_sw.pool) {
		rte_mempool_free(nb_sw.pool);
		nb_sw.pool = NULL;
	}
	switch_tables_free();
}

int nb_bridge_get(const char *name)
{
	int free_slot = -1, r;

	if (!name[0] || strlen(name) >= NB_BRIDGE_NAME_MAX)
		return -EINVAL;
	for (const char *c = name; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '-' || *c == '_' || *c == '.'))
			return -EINVAL;
	pthread_mutex_lock(&nb_sw.lock);
	for (int i = 0; i < NB_MAX_BRIDGES; i++) {
		if (nb_sw.bridges[i].used && strcmp(nb_sw.bridges[i].name, name) == 0) {
			pthread_mutex_unlock(&nb_sw.lock);
			return i;
		}
		if (!nb_sw.bridges[i].used && free_slot < 0)
			free_slot = i;
	}
	r = -ENOSPC;
	if (free_slot >= 0) {
		struct nb_bridge *b = &nb_sw.bridges[free_slot];
		uint64_t *members = b->members;   /* allocated at init, kept */

		memset(b, 0, sizeof(*b));
		b->members = members;
		memset(members, 0, (nb_sw.max_ports + 63) / 64 * sizeof(*members));
		r = nb_mt_init(&b->mt, nb_sw.cfg.mac_entries, nb_sw.cfg.mac_age_s);
		if (r == 0) {
			snprintf(b->name, sizeof(b->name), "%s", name);
			b->used = true;
			r = free_slot;
		}
	}
	pthread_mutex_unlock(&nb_sw.lock);
	return r;
}

/* ------------------------------------------------------------ ports */

struct nb_port *nb_port_alloc(uint8_t kind, int br, const char *name)
{
	struct nb_port *p = NULL;

	pthread_mutex_lock(&nb_sw.lock);
	for (unsigned i = 0; i < nb_sw.max_ports; i++) {
		struct nb_port *c = &nb_sw.ports[i];

		if (pvio_load_acquire(&c->state) != NB_PORT_FREE)
			continue;
		/* Forwarders still failing to hold the slot's previous
		 * incarnation may touch refs: leave it alone. */
		if (pvio_load_acquire(&c->refs) != 0)
			continue;
		memset((char *)c + offsetof(struct nb_port, kind), 0,
		       sizeof(*c) - offsetof(struct nb_port, kind));
		c->kind = kind;
		c->bridge = (uint16_t)br;
		snprintf(c->name, sizeof(c->name), "%s", name);
		for (unsigned q = 0; q < NB_MAX_QUEUES; q++)
			c->outq[q].kick_fd = -1;
		pvio_store_release(&c->state, NB_PORT_DOWN);
		p = c;
		break;
	}
	pthread_mutex_unlock(&nb_sw.lock);
	return p;
}

int nb_port_outq_init(struct nb_port *p, unsigned nq)
{
	unsigned count = nb_sw.cfg.backlog_pkts;

	if (nq == 0 || nq > NB_MAX_QUEUES)
		return -EINVAL;
	for (unsigned i = 0; i < nq; i++) {
		struct nb_outq *q = &p->outq[i];
		char name[RTE_RING_NAMESIZE];
		ssize_t sz = rte_ring_get_memsize(count);

		if (sz < 0)
			return -EINVAL;
		q->ring_mem = aligned_alloc(RTE_CACHE_LINE_SIZE,
					    ((size_t)sz + RTE_CACHE_LINE_SIZE - 1) &
					    ~(size_t)(RTE_CACHE_LINE_SIZE - 1));
		if (!q->ring_mem)
			return -ENOMEM;
		snprintf(name, sizeof(name), "nb%u.%u", p->idx, i);
		if (rte_ring_init(q->ring_mem, name, count, RING_F_SC_DEQ) < 0)
			return -EINVAL;
		q->ring = q->ring_mem;
		q->bytes = 0;
		q->segs = 0;
		q->max_bytes = nb_sw.cfg.backlog_bytes;
		q->sleeping = 0;
		q->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (q->kick_fd < 0)
			return -errno;
		p->nr_outq = i + 1;
	}
	return 0;
}

void nb_port_up(struct nb_port *p)
{
	struct nb_bridge *b = &nb_sw.bridges[p->bridge];

	/* Release: the port's fields before forwarders can hold it; pairs
	 * with the acquire in hold(). */
	unsigned w = p->idx / 64 + 1, cur = pvio_load_relaxed(&b->words);

	pvio_store_release(&p->state, NB_PORT_UP);
	/* The word first, then the count that makes forwarders look at it. */
	pvio_fetch_or(&b->members[p->idx / 64], 1ull << (p->idx % 64));
	while (cur < w && !__atomic_compare_exchange_n(&b->words, &cur, w, false,
						       __ATOMIC_RELEASE, __ATOMIC_RELAXED))
		;
}

void nb_port_down(struct nb_port *p)
{
	struct nb_bridge *b = &nb_sw.bridges[p->bridge];

	if (pvio_load_acquire(&p->state) != NB_PORT_UP)
		return;
	pvio_fetch_and(&b->members[p->idx / 64], ~(1ull << (p->idx % 64)));
	pvio_store_release(&p->state, NB_PORT_DOWN);
	/* Store-load: DOWN is visible before we read refs; pairs with the
	 * fence in hold() between its refs increment and its state read.
	 * Either it sees DOWN or we see its reference and wait. */
	pvio_mb();
	while (pvio_load_acquire(&p->refs) != 0)
		sched_yield();
}

void nb_port_drain(struct nb_port *p)
{
	for (unsigned i = 0; i < p->nr_outq; i++) {
		struct nb_outq *q = &p->outq[i];
		struct rte_mbuf *m[NB_BURST];
		unsigned n;

		if (!q->ring)
			continue;
		while ((n = rte_ring_sc_dequeue_burst(q->ring, (void **)m, NB_BURST, NULL)) > 0) {
			nb_outq_taken(q, m, n);
			rte_pktmbuf_free_bulk(m, n);
		}
		pvio_store_relaxed(&q->bytes, 0);
	}
}

void nb_port_free(struct nb_port *p)
{
	struct nb_bridge *b = &nb_sw.bridges[p->bridge];

	nb_port_down(p);
	/* The port's own ingress threads have stopped: nothing relearns. */
	if (b->used)
		nb_mt_flush_port(&b->mt, p->idx);
	nb_port_drain(p);
	pthread_mutex_lock(&nb_sw.lock);
	for (unsigned i = 0; i < NB_MAX_QUEUES; i++) {
		struct nb_outq *q = &p->outq[i];

		if (q->kick_fd >= 0)
			close(q->kick_fd);
		q->kick_fd = -1;
		free(q->ring_mem);
		q->ring_mem = NULL;
		q->ring = NULL;
	}
	p->nr_outq = 0;
	p->vif = NULL;
	p->up = NULL;
	pvio_store_release(&p->state, NB_PORT_FREE);
	pthread_mutex_unlock(&nb_sw.lock);
}

/* ------------------------------------------------------------ forwarding */

void nb_fwd_free(struct nb_fwd *f)
{
	if (!f)
		return;
	free(f->hold);
	free(f->held);
	free(f->kick);
	free(f->dst);
	free(f->asis);
	free(f->plain);
	free(f->flood);
	free(f);
}

struct nb_fwd *nb_fwd_new(struct nb_port *src, struct nb_fwd_stats *st)
{
	struct nb_fwd *f = aligned_alloc(64, (sizeof(*f) + 63) & ~(size_t)63);
	unsigned n = nb_sw.max_ports;

	if (!f)
		return NULL;
	memset(f, 0, sizeof(*f));
	f->src = src;
	f->st = st;
	/* Sized by the switch, zeroed lazily (calloc): a forwarder touches
	 * only the entries of the ports it reaches. */
	f->kick_max = n * 2;
	f->hold = calloc(n, sizeof(*f->hold));
	f->held = calloc(n, sizeof(*f->held));
	f->kick = calloc(f->kick_max, sizeof(*f->kick));
	f->dst = calloc(n, sizeof(*f->dst));
	f->asis = calloc(n, sizeof(*f->asis));
	f->plain = calloc(n, sizeof(*f->plain));
	f->flood = calloc(n, sizeof(*f->flood));
	if (!f->hold || !f->held || !f->kick || !f->dst || !f->asis || !f->plain || !f->flood) {
		nb_fwd_free(f);
		return NULL;
	}
	return f;
}

static struct nb_port *hold(struct nb_fwd *f, unsigned idx)
{
	struct nb_port *p = &nb_sw.ports[idx];

	if (f->hold[idx] == 1)
		return p;
	if (f->hold[idx] == 2)
		return NULL;
	pvio_fetch_add(&p->refs, 1);
	/* Store-load: our reference is visible before we read the state;
	 * pairs with the fence in nb_port_down(). */
	pvio_mb();
	f->held[f->nheld++] = (uint16_t)idx;
	if (pvio_load_acquire(&p->state) != NB_PORT_UP) {
		pvio_fetch_add(&p->refs, -1);
		f->hold[idx] = 2;
		return NULL;
	}
	f->hold[idx] = 1;
	return p;
}

static void release_all(struct nb_fwd *f)
{
	for (unsigned i = 0; i < f->nheld; i++) {
		unsigned idx = f->held[i];

		if (f->hold[idx] == 1)
			pvio_fetch_add(&nb_sw.ports[idx].refs, -1);
		f->hold[idx] = 0;
	}
	f->nheld = 0;
}

static void kick(struct nb_outq *q)
{
	int one = 1;
	uint64_t v = 1;

	/* Only the producer that clears `sleeping` writes the eventfd. */
	if (pvio_load_relaxed(&q->sleeping) && pvio_cmpxchg(&q->sleeping, &one, 0)) {
		if (write(q->kick_fd, &v, sizeof(v)) < 0) {
			/* counter saturated: the consumer wakes anyway */
		}
	}
}

static void mark_kick(struct nb_fwd *f, struct nb_outq *q)
{
	for (unsigned i = 0; i < f->nkick; i++)
		if (f->kick[i] == q)
			return;
	if (f->nkick == f->kick_max) {
		pvio_mb();
		kick(q);
		return;
	}
	f->kick[f->nkick++] = q;
}

static void kick_all(struct nb_fwd *f)
{
	if (!f->nkick)
		return;
	/* Store-load: our enqueues are visible before we read `sleeping`;
	 * pairs with the fence in the consumer between setting `sleeping`
	 * and its last look at the ring. */
	pvio_mb();
	for (unsigned i = 0; i < f->nkick; i++)
		kick(f->kick[i]);
	f->nkick = 0;
}

/* Headers of the current packet, parsed once (for queue choice). */
static bool pkt_headers(struct nb_fwd *f, struct rte_mbuf *m)
{
	if (f->hdr_state < 0) {
		uint32_t n = m->pkt_len < NB_MAX_HDR_LEN ? m->pkt_len : NB_MAX_HDR_LEN;

		f->hdr = rte_pktmbuf_read(m, 0, n, f->hdrbuf);
		f->hdr_state = f->hdr && nb_pkt_parse(f->hdr, n, m->pkt_len, &f->h) == 0;
	}
	return f->hdr_state == 1;
}

static unsigned pick_queue(struct nb_fwd *f, struct nb_port *d, struct rte_mbuf *m)
{
	struct nb_hash_result res;

	if (d->nr_outq <= 1 || !d->hash || !pkt_headers(f, m))
		return 0;
	nb_hash_select(d->hash, d->nr_outq, f->hdr, &f->h, &res);
	return res.queue < d->nr_outq ? res.queue : 0;
}

/* Queue one packet on q now (the slow path: a backlog near its bounds).
 * On failure the reference is freed. */
static void enqueue_one(struct nb_outq *q, struct rte_mbuf *m)
{
	uint64_t len = m->pkt_len;

	if (pvio_fetch_add(&q->bytes, len) + len > q->max_bytes) {
		pvio_fetch_add(&q->bytes, (uint64_t)0 - len);
		goto drop;
	}
	if (!nb_pool_admit(q, m->nb_segs)) {
		pvio_fetch_add(&q->bytes, (uint64_t)0 - len);
		goto drop;
	}
	if (rte_ring_mp_enqueue(q->ring, m) != 0) {
		pvio_fetch_add(&q->bytes, (uint64_t)0 - len);
		nb_pool_release(q, m->nb_segs);
		goto drop;
	}
	return;
drop:
	pvio_fetch_add(&q->drops, 1);
	rte_pktmbuf_free(m);
}

/* Enqueue what the burst staged, backlog by backlog in first-use order
 * (each backlog's packets keep their order): one byte reservation and one
 * enqueue per backlog instead of one each per packet. */
static void stage_flush(struct nb_fwd *f)
{
	for (unsigned i = 0; i < f->nstage; i++) {
		struct nb_stage *sg = &f->stage[i];
		struct nb_outq *q = sg->q;
		unsigned k;

		if (pvio_fetch_add(&q->bytes, sg->bytes) + sg->bytes > q->max_bytes) {
			/* Near the bound: packet by packet, as many as fit. */
			pvio_fetch_add(&q->bytes, (uint64_t)0 - sg->bytes);
			for (k = 0; k < sg->n; k++)
				enqueue_one(q, sg->m[k]);
		} else if (!nb_pool_admit(q, sg->segs)) {
			/* Near the pool's budget: the same, packet by packet. */
			pvio_fetch_add(&q->bytes, (uint64_t)0 - sg->bytes);
			for (k = 0; k < sg->n; k++)
				enqueue_one(q, sg->m[k]);
		} else {
			k = rte_ring_mp_enqueue_burst(q->ring, (void **)sg->m, sg->n, NULL);
			for (unsigned j = k; j < sg->n; j++) {
				pvio_fetch_add(&q->bytes, (uint64_t)0 - sg->m[j]->pkt_len);
				nb_pool_release(q, sg->m[j]->nb_segs);
				pvio_fetch_add(&q->drops, 1);
				rte_pktmbuf_free(sg->m[j]);
			}
		}
		mark_kick(f, q);
		sg->n = 0;
		sg->bytes = 0;
		sg->segs = 0;
	}
	f->nstage = 0;
}

/* Queue one reference of m toward d (staged: stage_flush() enqueues). On
 * failure the reference is freed. */
static bool enqueue(struct nb_fwd *f, struct nb_port *d, struct rte_mbuf *m)
{
	struct nb_outq *q;
	struct nb_stage *sg = NULL;

	if (d->kind == NB_PORT_VIF && !d->rx_sg && m->pkt_len > NB_MBUF_DATA) {
		pvio_fetch_add(&d->outq[0].too_big, 1);
		rte_pktmbuf_free(m);
		return false;
	}
	q = &d->outq[pick_queue(f, d, m)];
	for (unsigned i = 0; i < f->nstage; i++)
		if (f->stage[i].q == q) {
			sg = &f->stage[i];
			break;
		}
	/* Clearly over the bound already: drop now (a segmenting caller
	 * stops building); stage_flush() makes the exact check. */
	if (pvio_load_relaxed(&q->bytes) + (sg ? sg->bytes : 0) + m->pkt_len > q->max_bytes) {
		pvio_fetch_add(&q->drops, 1);
		rte_pktmbuf_free(m);
		return false;
	}
	if (sg && sg->n == NB_STAGE_PKTS) {
		stage_flush(f);          /* everything, so order is kept */
		sg = NULL;
	}
	if (!sg) {
		if (f->nstage == NB_STAGE_QUEUES)
			stage_flush(f);
		sg = &f->stage[f->nstage++];
		sg->q = q;
	}
	sg->m[sg->n++] = m;
	sg->bytes += m->pkt_len;
	sg->segs += m->nb_segs;
	return true;
}

/* ---- mbuf chains */

static struct rte_mbuf *chain_alloc(uint32_t len)
{
	struct rte_mbuf *segs[(65536 + NB_MAX_HDR_LEN) / NB_MBUF_DATA + 2];
	unsigned n = (len + NB_MBUF_DATA - 1) / NB_MBUF_DATA;

	if (n == 0 || n > sizeof(segs) / sizeof(segs[0]))
		return NULL;
	if (rte_pktmbuf_alloc_bulk(nb_sw.pool, segs, n) != 0)
		return NULL;
	for (unsigned i = 0; i < n; i++) {
		uint32_t l = len - i * NB_MBUF_DATA;

		segs[i]->data_len = (uint16_t)(l > NB_MBUF_DATA ? NB_MBUF_DATA : l);
		segs[i]->next = i + 1 < n ? segs[i + 1] : NULL;
	}
	segs[0]->nb_segs = (uint16_t)n;
	segs[0]->pkt_len = len;
	return segs[0];
}

/* Find the segment holding byte off of m; *soff = offset inside it. */
static struct rte_mbuf *seg_at(struct rte_mbuf *m, uint32_t off, uint32_t *soff)
{
	while (m && off >= m->data_len) {
		off -= m->data_len;
		m = m->next;
	}
	*soff = off;
	return m;
}

static void chain_copy(struct rte_mbuf *dst, uint32_t doff, struct rte_mbuf *src,
		       uint32_t soff, uint32_t len)
{
	uint32_t di, si;

	dst = seg_at(dst, doff, &di);
	src = seg_at(src, soff, &si);
	while (len && dst && src) {
		uint32_t n = len;

		if (n > dst->data_len - di)
			n = dst->data_len - di;
		if (n > src->data_len - si)
			n = src->data_len - si;
		memcpy(rte_pktmbuf_mtod_offset(dst, uint8_t *, di),
		       rte_pktmbuf_mtod_offset(src, uint8_t *, si), n);
		len -= n;
		di += n;
		si += n;
		if (di == dst->data_len) {
			dst = dst->next;
			di = 0;
		}
		if (si == src->data_len) {
			src = src->next;
			si = 0;
		}
	}
}

static void csum_chain(struct nb_csum *c, struct rte_mbuf *m, uint32_t off, uint32_t len)
{
	uint32_t si;

	m = seg_at(m, off, &si);
	while (len && m) {
		uint32_t n = m->data_len - si;

		if (n > len)
			n = len;
		nb_csum_update(c, rte_pktmbuf_mtod_offset(m, uint8_t *, si), n);
		len -= n;
		m = m->next;
		si = 0;
	}
}

/* Fill in the L4 checksum of a partial-checksum packet (headers are in the
 * first segment: the vif tx path put them there). */
static int complete_csum(struct rte_mbuf *m)
{
	uint8_t *p = rte_pktmbuf_mtod(m, uint8_t *);
	struct nb_csum c;
	struct nb_hdr h;
	uint32_t l4off;
	uint16_t v;
	int co;

	if (nb_pkt_parse(p, m->data_len, m->pkt_len, &h) < 0 || h.l3 == NB_L3_NONE ||
	    h.fragment || (co = nb_l4_csum_offset(h.l4proto)) < 0 || !h.l4_len)
		return -EINVAL;
	l4off = (uint32_t)h.l2_len + h.l3_len;
	p[l4off + co] = p[l4off + co + 1] = 0;
	nb_csum_init(&c);
	nb_csum_pseudo(&c, p + h.l2_len, &h, h.l4_bytes);
	csum_chain(&c, m, l4off, h.l4_bytes);
	v = nb_csum_final(&c);
	if (h.l4proto == NB_IPPROTO_UDP && v == 0)
		v = 0xffff;
	memcpy(p + l4off + co, &v, 2);
	m->ol_flags &= ~TX_FLAGS;
	m->ol_flags |= RTE_MBUF_F_RX_L4_CKSUM_GOOD;
	return 0;
}

/* Segment a GSO packet in software for the destinations that cannot take
 * it whole; m itself is left untouched. */
static void gso_deliver(struct nb_fwd *f, struct rte_mbuf *m, struct nb_port **dst, unsigned nd)
{
	uint8_t *p = rte_pktmbuf_mtod(m, uint8_t *);
	uint32_t hdrlen, payload, mss, nseg, i, off = 0;
	struct nb_hdr h;

	if (nb_pkt_parse(p, m->data_len, m->pkt_len, &h) < 0 || h.l4proto != NB_IPPROTO_TCP ||
	    !h.l4_len || m->tso_segsz == 0)
		return;
	hdrlen = (uint32_t)h.l2_len + h.l3_len + h.l4_len;
	payload = h.l4_bytes - h.l4_len;
	mss = m->tso_segsz;
	nseg = payload ? (payload + mss - 1) / mss : 1;
	/* A guest without sg takes one page per frame: if a full segment does
	 * not fit, the packet is dropped for it (not just its big segments). */
	for (unsigned k = 0; k < nd; k++) {
		struct nb_port *d = dst[k];

		if (d->kind == NB_PORT_VIF && !d->rx_sg &&
		    hdrlen + (payload < mss ? payload : mss) > NB_MBUF_DATA) {
			pvio_fetch_add(&d->outq[0].too_big, 1);
			dst[k--] = dst[--nd];
		}
	}
	if (nd == 0)
		return;
	for (i = 0; i < nseg; i++) {
		uint32_t seglen = payload - off < mss ? payload - off : mss;
		struct rte_mbuf *s = chain_alloc(hdrlen + seglen);
		uint8_t *sp;
		struct nb_csum c;
		unsigned ok = 0;
		uint16_t v;

		if (!s) {
			nb_st_add(&f->st->seg_nomem, 1);
			break;
		}
		sp = rte_pktmbuf_mtod(s, uint8_t *);
		memcpy(sp, p, hdrlen);
		nb_gso_fix_headers(sp, &h, i, (uint16_t)mss, seglen, i + 1 == nseg);
		chain_copy(s, hdrlen, m, hdrlen + off, seglen);
		nb_csum_init(&c);
		nb_csum_pseudo(&c, sp + h.l2_len, &h, h.l4_len + seglen);
		csum_chain(&c, s, (uint32_t)h.l2_len + h.l3_len, h.l4_len + seglen);
		v = nb_csum_final(&c);
		memcpy(sp + h.l2_len + h.l3_len + 16, &v, 2);
		s->ol_flags = RTE_MBUF_F_RX_L4_CKSUM_GOOD;
		s->l2_len = h.l2_len;
		s->l3_len = h.l3_len;
		s->l4_len = h.l4_len;
		if (nd > 1)
			rte_pktmbuf_refcnt_update(s, (int16_t)(nd - 1));
		for (unsigned k = 0; k < nd; k++)
			ok += enqueue(f, dst[k], s);
		off += seglen;
		if (!ok)
			break;   /* every destination is full: stop building */
	}
	nb_st_add(&f->st->gso_sw, 1);
	nb_st_add(&f->st->gso_segs, i);
}

/* Hand m to the ndst destinations in f->dst: each gets it as is if it
 * accepts its offloads, else a checksummed or segmented version. */
static void deliver(struct nb_fwd *f, struct rte_mbuf *m, unsigned ndst)
{
	bool gso = m->ol_flags & RTE_MBUF_F_TX_TCP_SEG;
	bool partial = (m->ol_flags & RTE_MBUF_F_TX_L4_MASK) != 0;
	bool v6 = m->ol_flags & RTE_MBUF_F_TX_IPV6;
	unsigned na = 0, np = 0;

	for (unsigned i = 0; i < ndst; i++) {
		struct nb_port *d = f->dst[i];
		bool asis;

		if (d->kind != NB_PORT_VIF)
			asis = !gso && !partial;
		else if (gso)
			asis = v6 ? d->rx_gso6 : d->rx_gso4;
		else if (partial)
			asis = v6 ? d->rx_csum6 : d->rx_csum4;
		else
			asis = true;
		if (asis)
			f->asis[na++] = d;
		else
			f->plain[np++] = d;
	}
	if (np && !gso) {
		/* Filling in the checksum suits every destination. */
		if (complete_csum(m) == 0) {
			nb_st_add(&f->st->csum_sw, 1);
			for (unsigned i = 0; i < np; i++)
				f->asis[na++] = f->plain[i];
		}
		np = 0;
	}
	if (np)
		gso_deliver(f, m, f->plain, np);
	if (na == 0) {
		rte_pktmbuf_free(m);
		return;
	}
	if (na > 1)
		rte_pktmbuf_refcnt_update(m, (int16_t)(na - 1));
	for (unsigned i = 0; i < na; i++)
		enqueue(f, f->asis[i], m);
}

/* A MAC address as a 48-bit number (never UINT64_MAX). Two loads straight
 * from the frame: a 6-byte copy into a zeroed 8-byte local read back whole
 * makes the CPU wait for store forwarding, which failed on every packet
 * (60% of nb_fwd_input in rx-64B). */
static inline uint64_t mac48(const uint8_t *a)
{
	uint32_t lo;
	uint16_t hi;

	memcpy(&lo, a, 4);
	memcpy(&hi, a + 4, 2);
	return (uint64_t)le32toh(lo) | (uint64_t)le16toh(hi) << 32;
}

static bool mcast_wanted(const struct nb_port *d, const uint8_t *mac)
{
	uint64_t want = nb_mac_to_u64(mac) | 1ull << 63;

	for (unsigned i = 0; i < NB_MCAST_MAX; i++)
		if (pvio_load_relaxed(&d->mcast[i]) == want)
			return true;
	return false;
}

/* Every port of the bridge but the source, held for this burst: the
 * destinations of an unknown unicast or broadcast frame (multicast filters
 * are applied per frame). Only the words ever used are looked at. */
static void flood_list(struct nb_fwd *f, struct nb_bridge *br)
{
	unsigned words = pvio_load_acquire(&br->words);

	f->nflood = 0;
	for (unsigned w = 0; w < words; w++) {
		uint64_t bits = pvio_load_relaxed(&br->members[w]);

		while (bits) {
			unsigned idx = w * 64 + (unsigned)__builtin_ctzll(bits);
			struct nb_port *d;

			bits &= bits - 1;
			if (idx == f->src->idx || !(d = hold(f, idx)) ||
			    d->bridge != f->src->bridge)
				continue;
			f->flood[f->nflood++] = d;
		}
	}
	f->flood_ok = true;
}

void nb_fwd_input(struct nb_fwd *f, struct rte_mbuf **pkts, unsigned n)
{
	struct nb_port *src = f->src;
	struct nb_bridge *br = &nb_sw.bridges[src->bridge];
	struct nb_fwd_stats *st = f->st;
	uint64_t last_sa = UINT64_MAX, last_da = UINT64_MAX, sa64;
	int last_to = NB_MT_NO_PORT;

	f->now = now_s();
	f->flood_ok = false;
	for (unsigned i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		const uint8_t *eth = rte_pktmbuf_mtod(m, const uint8_t *);
		const uint8_t *da = eth, *sa = eth + NB_ETH_ALEN;
		unsigned ndst = 0;
		int to;

		f->hdr_state = -1;
		nb_st_add(&st->in_pkts, 1);
		nb_st_add(&st->in_bytes, m->pkt_len);
		if (m->data_len < NB_ETH_HLEN) {
			nb_st_add(&st->runt, 1);
			rte_pktmbuf_free(m);
			continue;
		}
		if (src->mac_filter && memcmp(sa, src->mac, NB_ETH_ALEN) != 0) {
			nb_st_add(&st->spoofed, 1);
			rte_pktmbuf_free(m);
			continue;
		}
		if (nb_mac_is_multicast(sa) || nb_mac_is_zero(sa)) {
			nb_st_add(&st->bad_src, 1);
			rte_pktmbuf_free(m);
			continue;
		}
		/* Learn and look up once per burst for a run of packets with
		 * the same addresses (the common case: one flow). */
		sa64 = mac48(sa);
		if (sa64 != last_sa) {
			nb_mt_learn(&br->mt, sa, src->idx, f->now);
			last_sa = sa64;
			if (sa64 == last_da)
				last_da = UINT64_MAX;
		}
		if (nb_mac_is_multicast(da)) {
			to = NB_MT_NO_PORT;
		} else if (mac48(da) == last_da) {
			to = last_to;
		} else {
			to = nb_mt_lookup(&br->mt, da, f->now);
			last_da = mac48(da);
			last_to = to;
		}
		if (to == (int)src->idx) {
			nb_st_add(&st->hairpin, 1);
			rte_pktmbuf_free(m);
			continue;
		}
		if (to >= 0) {
			struct nb_port *d = hold(f, (unsigned)to);

			/* A port of another bridge cannot be learned here,
			 * but check: tables and ports are separate objects. */
			if (d && d->bridge == src->bridge)
				f->dst[ndst++] = d;
			nb_st_add(&st->unicast, 1);
		} else {
			bool mc = nb_mac_is_multicast(da) && !nb_mac_is_broadcast(da);

			if (!f->flood_ok)
				flood_list(f, br);
			for (unsigned k = 0; k < f->nflood; k++) {
				struct nb_port *d = f->flood[k];

				/* The frontend may turn its filter on and off
				 * at any time (xenbus.c). */
				if (mc && pvio_load_relaxed(&d->mcast_ctrl) && !mcast_wanted(d, da))
					continue;
				f->dst[ndst++] = d;
			}
			nb_st_add(&st->flooded, 1);
		}
		if (ndst == 0) {
			nb_st_add(&st->no_dest, 1);
			rte_pktmbuf_free(m);
			continue;
		}
		deliver(f, m, ndst);
	}
	stage_flush(f);
	kick_all(f);
	release_all(f);
}

/* ------------------------------------------------------------ uplinks */

static void uplink_flush_pending(struct nb_uplink *u)
{
	struct nb_outq *q = &u->port->outq[0];
	uint64_t bytes = 0;

	for (unsigned i = u->pend_head; i < u->npend; i++) {
		bytes += u->pend[i]->pkt_len;
		rte_pktmbuf_free(u->pend[i]);
	}
	nb_st_add(&u->tx_drops, u->npend - u->pend_head);
	nb_outq_done(q, bytes);
	u->npend = u->pend_head = 0;
	u->pend_tries = 0;
}

/* Drop (and count in tx_too_big) the frames of pend[0..n) that the
 * uplink's MTU cannot carry; returns how many are left, in order. Left to
 * the port, such a frame is refused at the head of the burst (net_tap
 * stops there, so it would block the frames behind it until the burst is
 * flushed) or goes on to be dropped silently further on (a kernel bridge
 * toward a VXLAN device of a smaller MTU counts nothing). A frame with an
 * 802.1Q/802.1ad tag may be 4 bytes longer. */
static unsigned uplink_fit(struct nb_uplink *u, unsigned n)
{
	uint64_t bytes = 0, drops = 0;
	unsigned k = 0;

	for (unsigned i = 0; i < n; i++) {
		struct rte_mbuf *m = u->pend[i];

		if (m->pkt_len > u->max_frame) {
			uint8_t buf[2];
			const uint8_t *t = rte_pktmbuf_read(m, 12, 2, buf);
			uint16_t tpid = t ? (uint16_t)(t[0] << 8 | t[1]) : 0;

			if (m->pkt_len > u->max_frame + 4 ||
			    (tpid != RTE_ETHER_TYPE_VLAN && tpid != RTE_ETHER_TYPE_QINQ)) {
				bytes += m->pkt_len;
				drops++;
				rte_pktmbuf_free(m);
				continue;
			}
		}
		u->pend[k++] = m;
	}
	if (drops) {
		nb_st_add(&u->tx_too_big, drops);
		nb_outq_done(&u->port->outq[0], bytes);
	}
	return k;
}

/* A generator's receive side: up to n frames from its template, in fresh
 * mbufs. The header (addresses, type, a sequence number) is written into
 * each; the rest only into an mbuf that does not hold it already (mbufs
 * come back from the pool with what they last carried, and the switch
 * only reads what the generator made). */
static unsigned gen_rx(struct nb_uplink *u, struct rte_mbuf **pkts, unsigned n)
{
	const unsigned hl = NB_ETH_HLEN + 8, sz = u->gen_size;

	if (rte_pktmbuf_alloc_bulk(nb_sw.pool, pkts, n) != 0)
		return 0;
	for (unsigned i = 0; i < n; i++) {
		uint8_t *d = rte_pktmbuf_mtod(pkts[i], uint8_t *);
		uint64_t seq = u->gen_seq++;

		if (sz <= 128 || memcmp(d + hl, u->gen_tmpl + hl, 8) ||
		    memcmp(d + sz - 8, u->gen_tmpl + sz - 8, 8))
			memcpy(d + hl, u->gen_tmpl + hl, sz - hl);
		memcpy(d, u->gen_tmpl, NB_ETH_HLEN);
		memcpy(d + NB_ETH_HLEN, &seq, 8);
		pkts[i]->data_len = (uint16_t)sz;
		pkts[i]->pkt_len = sz;
	}
	return n;
}

/* A generator's transmit side: a sink. */
static unsigned gen_tx(struct nb_uplink *u, struct rte_mbuf **pkts, unsigned n)
{
	(void)u;
	rte_pktmbuf_free_bulk(pkts, n);
	return n;
}

int nb_gen_parse(const char *arg, struct nb_uplink_spec *s, char *err, size_t errlen)
{
	static const uint8_t src[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x99 };
	const char *p = strchr(arg, ',');
	size_t nl = p ? (size_t)(p - arg) : strlen(arg);

	if (nl >= sizeof(s->name) || strncmp(arg, "pvio_gen", 8) != 0 || nl == 8 ||
	    strspn(arg + 8, "0123456789") != nl - 8) {
		snprintf(err, errlen, "'%.*s': a generator is named pvio_genN", (int)nl, arg);
		return -EINVAL;
	}
	memcpy(s->name, arg, nl);
	s->name[nl] = 0;
	s->gen = true;
	s->gen_size = 64;
	memset(s->gen_dst, 0xff, 6);
	memcpy(s->gen_src, src, 6);
	while (p && *p) {
		const char *k = p + 1, *e = strchr(k, ','), *eq;
		size_t l = e ? (size_t)(e - k) : strlen(k);

		eq = memchr(k, '=', l);
		if (!eq) {
			snprintf(err, errlen, "'%.*s': KEY=VALUE expected", (int)l, k);
			return -EINVAL;
		}
		if (eq - k == 4 && !strncmp(k, "size", 4)) {
			char b[16], *end;
			unsigned long v;
			size_t vl = l - 5;

			if (vl == 0 || vl >= sizeof(b)) {
				snprintf(err, errlen, "size: a number of bytes, 60..%u", NB_MBUF_DATA);
				return -EINVAL;
			}
			memcpy(b, eq + 1, vl);
			b[vl] = 0;
			v = strtoul(b, &end, 10);
			if (*end || v < 60 || v > NB_MBUF_DATA) {
				snprintf(err, errlen, "size=%s: 60..%u bytes", b, NB_MBUF_DATA);
				return -EINVAL;
			}
			s->gen_size = (unsigned)v;
		} else if (eq - k == 3 && (!strncmp(k, "dst", 3) || !strncmp(k, "src", 3))) {
			uint8_t *m = k[0] == 'd' ? s->gen_dst : s->gen_src;
			char b[18] = "";

			if (l - 4 < sizeof(b))
				memcpy(b, eq + 1, l - 4);
			if (l - 4 >= sizeof(b) || nb_mac_parse(b, m) < 0) {
				snprintf(err, errlen, "%.*s: a MAC address xx:xx:xx:xx:xx:xx",
					 (int)l, k);
				return -EINVAL;
			}
		} else {
			snprintf(err, errlen, "'%.*s': no such option (size, dst, src)", (int)l, k);
			return -EINVAL;
		}
		p = e;
	}
	if ((s->gen_src[0] & 1) || !(s->gen_src[0] | s->gen_src[1] | s->gen_src[2] |
				     s->gen_src[3] | s->gen_src[4] | s->gen_src[5])) {
		snprintf(err, errlen, "src: a unicast address, not zero (the switch drops others)");
		return -EINVAL;
	}
	return 0;
}

/* Send what is queued toward the uplink. Returns packets sent. */
static unsigned uplink_tx(struct nb_uplink *u)
{
	struct nb_outq *q = &u->port->outq[0];
	unsigned sent;
	uint64_t bytes = 0;

	if (u->pend_head == u->npend) {
		u->npend = rte_ring_sc_dequeue_burst(q->ring, (void **)u->pend, NB_BURST, NULL);
		nb_outq_taken(q, u->pend, u->npend);
		u->npend = uplink_fit(u, u->npend);
		u->pend_head = 0;
		u->pend_tries = 0;
		if (!u->npend)
			return 0;
	}
	for (unsigned i = u->pend_head; i < u->npend; i++)
		bytes += u->pend[i]->pkt_len;
	sent = u->gen ? gen_tx(u, u->pend + u->pend_head, u->npend - u->pend_head) :
		rte_eth_tx_burst(u->port_id, 0, u->pend + u->pend_head,
				 (uint16_t)(u->npend - u->pend_head));
	for (unsigned i = u->pend_head + sent; i < u->npend; i++)
		bytes -= u->pend[i]->pkt_len;
	u->pend_head += sent;
	nb_outq_done(q, bytes);
	nb_st_add(&u->tx_pkts, sent);
	nb_st_add(&u->tx_bytes, bytes);
	/* A port that does not drain (link down, peer gone) must not hold
	 * our mbufs forever. */
	if (u->pend_head < u->npend && ++u->pend_tries > 1000)
		uplink_flush_pending(u);
	return sent;
}

/* The uplink as a worker task (backend/worker.h). */

static unsigned uplink_run(struct pvio_task *t)
{
	struct nb_uplink *u = (struct nb_uplink *)((char *)t - offsetof(struct nb_uplink, task));
	struct rte_mbuf *pkts[NB_BURST];
	unsigned work = 0;
	uint16_t n = u->gen ? (uint16_t)gen_rx(u, pkts, NB_BURST) :
		     rte_eth_rx_burst(u->port_id, 0, pkts, NB_BURST);

	if (n) {
		for (unsigned i = 0; i < n; i++) {
			/* Nothing a port says about a packet is metadata for
			 * the guests. */
			pkts[i]->ol_flags = 0;
			nb_st_add(&u->rx_bytes, pkts[i]->pkt_len);
		}
		nb_st_add(&u->rx_pkts, n);
		nb_fwd_input(u->fwd, pkts, n);
		work += n;
	}
	return work + uplink_tx(u);
}

/* Sleep until a forwarder kicks our backlog (fds[0]), the port has a
 * packet (rx interrupt, fds[1]), or 1 ms passed (ports without one). */
static bool uplink_arm(struct pvio_task *t, int *timeout)
{
	struct nb_uplink *u = (struct nb_uplink *)((char *)t - offsetof(struct nb_uplink, task));
	struct nb_outq *q = &u->port->outq[0];

	pvio_store_relaxed(&q->sleeping, 1);
	/* Store-load: `sleeping` before the last look at the ring; pairs
	 * with the fence in kick_all(). */
	pvio_mb();
	if (rte_ring_count(q->ring) || u->pend_head < u->npend) {
		pvio_store_relaxed(&q->sleeping, 0);
		return true;
	}
	*timeout = u->intr_fd >= 0 ? 1000 : 1;
	return false;
}

static void uplink_woken(struct pvio_task *t, unsigned fd_mask)
{
	struct nb_uplink *u = (struct nb_uplink *)((char *)t - offsetof(struct nb_uplink, task));
	struct nb_outq *q = &u->port->outq[0];
	uint64_t v;

	pvio_store_relaxed(&q->sleeping, 0);
	if ((fd_mask & 1) && read(q->kick_fd, &v, sizeof(v)) < 0) {
		/* nothing to drain */
	}
	nb_st_add(&u->wakeups, 1);
}

static const struct pvio_task_ops uplink_task_ops = {
	.run = uplink_run,
	.arm = uplink_arm,
	.woken = uplink_woken,
};

static bool is_driver(uint16_t pid, const char *drv)
{
	struct rte_eth_dev_info info;

	return rte_eth_dev_info_get(pid, &info) == 0 && info.driver_name &&
	       strcmp(info.driver_name, drv) == 0;
}

static int uplink_attach(struct nb_uplink *u);

static int uplink_setup(struct nb_uplink *u)
{
	struct rte_eth_conf conf;
	struct rte_eth_dev_info info;
	uint16_t nrx = NB_UPLINK_DESC, ntx = NB_UPLINK_DESC;
	bool intr = is_driver(u->port_id, "net_tap");
	int r;

	r = rte_eth_dev_info_get(u->port_id, &info);
	if (r < 0)
		return r;
	for (int attempt = 0; attempt < 2; attempt++) {
		memset(&conf, 0, sizeof(conf));
		if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS)
			conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
		conf.intr_conf.rxq = intr;
		r = rte_eth_dev_configure(u->port_id, 1, 1, &conf);
		if (r == 0 || !intr)
			break;
		intr = false;   /* try again without rx interrupts */
	}
	if (r < 0) {
		fprintf(stderr, "netback: uplink %s: configure: %s\n", u->name, rte_strerror(-r));
		return r;
	}
	/* The MTU: --uplink-mtu's, given to the port (net_tap sets its TAP's
	 * too), else the port's own. A port that cannot change it still has
	 * frames above it dropped here. */
	if (u->mtu_req) {
		r = rte_eth_dev_set_mtu(u->port_id, (uint16_t)u->mtu_req);
		if (r == -ENOTSUP) {
			fprintf(stderr, "netback: uplink %s: the port cannot set its MTU; frames "
				"above mtu %u are dropped before it\n", u->name, u->mtu_req);
		} else if (r < 0) {
			fprintf(stderr, "netback: uplink %s: --uplink-mtu %u: %s (the port takes "
				"%u..%u)\n", u->name, u->mtu_req, rte_strerror(-r), info.min_mtu,
				info.max_mtu);
			return r;
		}
		u->mtu = u->mtu_req;
	} else {
		uint16_t mtu;

		u->mtu = rte_eth_dev_get_mtu(u->port_id, &mtu) == 0 && mtu ? mtu : RTE_ETHER_MTU;
	}
	u->max_frame = u->mtu + RTE_ETHER_HDR_LEN;
	rte_eth_dev_adjust_nb_rx_tx_desc(u->port_id, &nrx, &ntx);
	r = rte_eth_rx_queue_setup(u->port_id, 0, nrx, (unsigned)rte_eth_dev_socket_id(u->port_id),
				   NULL, nb_sw.pool);
	if (r == 0)
		r = rte_eth_tx_queue_setup(u->port_id, 0, ntx,
					   (unsigned)rte_eth_dev_socket_id(u->port_id), NULL);
	if (r == 0)
		r = rte_eth_dev_start(u->port_id);
	if (r < 0) {
		fprintf(stderr, "netback: uplink %s: set-up: %s\n", u->name, rte_strerror(-r));
		return r;
	}
	rte_eth_promiscuous_enable(u->port_id);
	rte_eth_allmulticast_enable(u->port_id);
	u->intr_fd = -1;
	if (intr) {
		/* net_tap's rx interrupt fd is the queue's tap fd itself: it
		 * polls readable while a frame waits, nothing to enable or
		 * acknowledge (and net_tap has no rx_queue_intr_enable). */
		int e = rte_eth_dev_rx_intr_enable(u->port_id, 0);
		int fd = rte_eth_dev_rx_intr_ctl_q_get_fd(u->port_id, 0);

		(void)e;
		if (fd >= 0)
			u->intr_fd = fd;
	}
	r = uplink_attach(u);
	if (r < 0)
		return r;
	fprintf(stderr, "netback: uplink %s (port %u, %s) on bridge %s, mtu %u%s\n", u->name,
		u->port_id, info.driver_name, u->bridge, u->mtu,
		u->intr_fd >= 0 ? ", rx interrupts" : "");
	return 0;
}

/* Make the uplink a port of its bridge and give it to a worker. */
static int uplink_attach(struct nb_uplink *u)
{
	int br, r;

	br = nb_bridge_get(u->bridge);
	if (br < 0) {
		fprintf(stderr, "netback: uplink %s: bridge '%s': %s\n", u->name, u->bridge,
			strerror(-br));
		return br;
	}
	u->port = nb_port_alloc(NB_PORT_UPLINK, br, u->name);
	if (!u->port)
		return -ENOSPC;
	u->port->up = u;
	r = nb_port_outq_init(u->port, 1);
	if (r < 0)
		return r;
	u->fwd = nb_fwd_new(u->port, &u->fst);
	if (!u->fwd)
		return -ENOMEM;
	nb_port_up(u->port);
	u->task.ops = &uplink_task_ops;
	u->task.fds[0] = u->port->outq[0].kick_fd;
	u->task.nfds = 1;
	if (u->intr_fd >= 0)
		u->task.fds[u->task.nfds++] = u->intr_fd;
	r = pvio_task_attach(nb_sw.workers, &u->task);
	if (r < 0)
		return r;
	u->running = true;
	return 0;
}

/* A generator uplink (nb_gen_parse's spec): its template, then a port. */
static int gen_setup(struct nb_uplink *u, const struct nb_uplink_spec *s)
{
	uint8_t *t = malloc(s->gen_size);
	int r;

	if (!t)
		return -ENOMEM;
	memcpy(t, s->gen_dst, 6);
	memcpy(t + 6, s->gen_src, 6);
	t[12] = 0x88;   /* IEEE local experimental ethertype */
	t[13] = 0xb6;
	memset(t + NB_ETH_HLEN, 0, 8);
	for (unsigned j = NB_ETH_HLEN + 8; j < s->gen_size; j++)
		t[j] = (uint8_t)(j * 131u + s->gen_size);
	u->gen = true;
	u->gen_tmpl = t;
	u->gen_size = s->gen_size;
	u->intr_fd = -1;
	u->mtu = u->mtu_req ? u->mtu_req : RTE_ETHER_MTU;
	u->max_frame = u->mtu + RTE_ETHER_HDR_LEN;
	r = uplink_attach(u);
	if (r < 0)
		return r;
	fprintf(stderr, "netback: uplink %s (a generator: %u-byte frames to "
		"%02x:%02x:%02x:%02x:%02x:%02x) on bridge %s, mtu %u\n", u->name, u->gen_size,
		s->gen_dst[0], s->gen_dst[1], s->gen_dst[2], s->gen_dst[3], s->gen_dst[4],
		s->gen_dst[5], u->bridge, u->mtu);
	return 0;
}

int nb_uplinks_start(const struct nb_uplink_spec *spec, unsigned n)
{
	uint16_t pid;
	int r;

	RTE_ETH_FOREACH_DEV(pid) {
		struct nb_uplink *u;
		char name[RTE_ETH_NAME_MAX_LEN];

		if (nb_sw.nr_uplinks == NB_MAX_UPLINKS) {
			fprintf(stderr, "netback: more than %d ports; ignoring the rest\n",
				NB_MAX_UPLINKS);
			break;
		}
		u = &nb_sw.uplinks[nb_sw.nr_uplinks];
		memset(u, 0, sizeof(*u));
		u->port_id = pid;
		u->intr_fd = -1;
		if (rte_eth_dev_get_name_by_port(pid, name) != 0)
			snprintf(name, sizeof(name), "port%u", pid);
		snprintf(u->name, sizeof(u->name), "%s", name);
		snprintf(u->bridge, sizeof(u->bridge), "br0");
		u->mtu_req = nb_sw.cfg.uplink_mtu;
		for (unsigned i = 0; i < n; i++)
			if (strcmp(spec[i].name, u->name) == 0) {
				snprintf(u->bridge, sizeof(u->bridge), "%s", spec[i].bridge);
				if (spec[i].mtu)
					u->mtu_req = spec[i].mtu;
			}
		nb_sw.nr_uplinks++;
		r = uplink_setup(u);
		if (r < 0)
			return r;
	}
	for (unsigned i = 0; i < n; i++) {
		struct nb_uplink *u;

		if (!spec[i].gen)
			continue;
		if (nb_sw.nr_uplinks == NB_MAX_UPLINKS) {
			fprintf(stderr, "netback: more than %d ports; no generator %s\n",
				NB_MAX_UPLINKS, spec[i].name);
			return -ENOSPC;
		}
		u = &nb_sw.uplinks[nb_sw.nr_uplinks++];
		memset(u, 0, sizeof(*u));
		snprintf(u->name, sizeof(u->name), "%s", spec[i].name);
		snprintf(u->bridge, sizeof(u->bridge), "%s",
			 spec[i].bridge[0] ? spec[i].bridge : "br0");
		u->mtu_req = spec[i].mtu ? spec[i].mtu : nb_sw.cfg.uplink_mtu;
		r = gen_setup(u, &spec[i]);
		if (r < 0)
			return r;
	}
	for (unsigned i = 0; i < n; i++) {
		bool found = false;

		for (unsigned k = 0; k < nb_sw.nr_uplinks; k++)
			found |= strcmp(nb_sw.uplinks[k].name, spec[i].name) == 0;
		if (!found) {
			fprintf(stderr, "netback: --uplink %s=%s: no such DPDK port\n",
				spec[i].bridge, spec[i].name);
			return -ENODEV;
		}
	}
	nb_sw.pool_baseline = rte_mempool_in_use_count(nb_sw.pool);
	return 0;
}

void nb_uplinks_stop(void)
{
	for (unsigned i = 0; i < nb_sw.nr_uplinks; i++) {
		struct nb_uplink *u = &nb_sw.uplinks[i];

		if (u->port)
			nb_port_down(u->port);
		if (u->running) {
			pvio_task_detach(&u->task);
			u->running = false;
		}
		if (u->port) {
			uplink_flush_pending(u);
			nb_port_free(u->port);
			u->port = NULL;
		}
		if (u->gen) {
			free(u->gen_tmpl);
			u->gen_tmpl = NULL;
		} else {
			rte_eth_dev_stop(u->port_id);
			rte_eth_dev_close(u->port_id);
		}
		nb_fwd_free(u->fwd);
		u->fwd = NULL;
	}
	nb_sw.nr_uplinks = 0;
}

/* ------------------------------------------------------------ statistics */

void nb_vif_register(struct nb_vif *v)
{
	pthread_mutex_lock(&nb_sw.lock);
	for (unsigned i = 0; i < nb_sw.max_ports; i++)
		if (!nb_sw.vifs[i]) {
			nb_sw.vifs[i] = v;
			v->registered = true;
			break;
		}
	pthread_mutex_unlock(&nb_sw.lock);
}

void nb_vif_unregister(struct nb_vif *v)
{
	pthread_mutex_lock(&nb_sw.lock);
	for (unsigned i = 0; i < nb_sw.max_ports; i++)
		if (nb_sw.vifs[i] == v)
			nb_sw.vifs[i] = NULL;
	v->registered = false;
	pthread_mutex_unlock(&nb_sw.lock);
}

#define LD(x) pvio_load_relaxed(&(x))

static void fwd_stats_add(struct nb_fwd_stats *sum, const struct nb_fwd_stats *s)
{
	const uint64_t *a = (const uint64_t *)s;
	uint64_t *b = (uint64_t *)sum;

	for (size_t i = 0; i < sizeof(*s) / sizeof(uint64_t); i++)
		b[i] += pvio_load_relaxed(&a[i]);
}

static void fwd_stats_print(FILE *f, const char *pfx, const struct nb_fwd_stats *s)
{
	fprintf(f, "%s.in_pkts %llu\n%s.in_bytes %llu\n%s.spoofed %llu\n%s.bad_src %llu\n"
		"%s.runt %llu\n%s.hairpin %llu\n%s.no_dest %llu\n%s.unicast %llu\n"
		"%s.flooded %llu\n%s.csum_sw %llu\n%s.gso_sw %llu\n%s.gso_segs %llu\n"
		"%s.seg_nomem %llu\n",
		pfx, (unsigned long long)s->in_pkts, pfx, (unsigned long long)s->in_bytes,
		pfx, (unsigned long long)s->spoofed, pfx, (unsigned long long)s->bad_src,
		pfx, (unsigned long long)s->runt, pfx, (unsigned long long)s->hairpin,
		pfx, (unsigned long long)s->no_dest, pfx, (unsigned long long)s->unicast,
		pfx, (unsigned long long)s->flooded, pfx, (unsigned long long)s->csum_sw,
		pfx, (unsigned long long)s->gso_sw, pfx, (unsigned long long)s->gso_segs,
		pfx, (unsigned long long)s->seg_nomem);
}

void nb_stats_write(FILE *f)
{
	uint32_t now = now_s();

	pthread_mutex_lock(&nb_sw.lock);
	fprintf(f, "seq %llu\n", (unsigned long long)++nb_sw.stats_seq);
	if (nb_sw.pool) {
		fprintf(f, "mempool.size %u\nmempool.avail %u\nmempool.in_use %u\n"
			"mempool.baseline %u\n", nb_sw.pool_size,
			rte_mempool_avail_count(nb_sw.pool), rte_mempool_in_use_count(nb_sw.pool),
			nb_sw.pool_baseline);
		fprintf(f, "mempool.backlog_held %llu\nmempool.backlog_refused %llu\n",
			(unsigned long long)LD(nb_sw.held), (unsigned long long)LD(nb_sw.held_refused));
	}
	for (unsigned i = 0; i < NB_MAX_BRIDGES; i++) {
		struct nb_bridge *b = &nb_sw.bridges[i];

		if (!b->used)
			continue;
		fprintf(f, "bridge.%s.macs %u\nbridge.%s.learned %llu\nbridge.%s.moved %llu\n"
			"bridge.%s.evicted %llu\n", b->name, nb_mt_count(&b->mt, now), b->name,
			(unsigned long long)LD(b->mt.learned), b->name,
			(unsigned long long)LD(b->mt.moved), b->name,
			(unsigned long long)LD(b->mt.evicted));
	}
	for (unsigned i = 0; i < nb_sw.nr_uplinks; i++) {
		struct nb_uplink *u = &nb_sw.uplinks[i];
		char pfx[64];
		uint64_t drops = u->port ? LD(u->port->outq[0].drops) : 0;

		snprintf(pfx, sizeof(pfx), "uplink.%s", u->name);
		fprintf(f, "%s.bridge %s\n%s.rx_pkts %llu\n%s.rx_bytes %llu\n%s.tx_pkts %llu\n"
			"%s.tx_bytes %llu\n%s.tx_drops %llu\n%s.backlog_drops %llu\n"
			"%s.wakeups %llu\n", pfx, u->bridge,
			pfx, (unsigned long long)LD(u->rx_pkts), pfx,
			(unsigned long long)LD(u->rx_bytes), pfx, (unsigned long long)LD(u->tx_pkts),
			pfx, (unsigned long long)LD(u->tx_bytes), pfx,
			(unsigned long long)LD(u->tx_drops), pfx, (unsigned long long)drops,
			pfx, (unsigned long long)LD(u->wakeups));
		fprintf(f, "%s.mtu %u\n%s.tx_too_big %llu\n", pfx, u->mtu, pfx,
			(unsigned long long)LD(u->tx_too_big));
		fwd_stats_print(f, pfx, &u->fst);
	}
	for (unsigned i = 0; i < nb_sw.max_ports; i++) {
		struct nb_vif *v = nb_sw.vifs[i];
		struct nb_queue_stats qs;
		struct nb_fwd_stats fs;
		uint64_t backlog = v ? v->st.backlog_drops : 0, too_big = v ? v->st.too_big : 0;
		char pfx[64];

		if (!v)
			continue;
		memset(&qs, 0, sizeof(qs));
		memset(&fs, 0, sizeof(fs));
		for (unsigned k = 0; k < NB_MAX_QUEUES; k++) {
			const uint64_t *a = (const uint64_t *)&v->st.q[k];
			uint64_t *b = (uint64_t *)&qs;

			for (size_t j = 0; j < sizeof(qs) / sizeof(uint64_t); j++)
				b[j] += pvio_load_relaxed(&a[j]);
			fwd_stats_add(&fs, &v->st.f[k]);
		}
		if (v->port)
			for (unsigned k = 0; k < v->port->nr_outq; k++) {
				backlog += LD(v->port->outq[k].drops);
				too_big += LD(v->port->outq[k].too_big);
			}
		snprintf(pfx, sizeof(pfx), "vif.%u.%u", v->fe_domid, v->devid);
		fprintf(f, "%s.bridge %s\n%s.connected %d\n%s.queues %u\n%s.connects %llu\n"
			"%s.fatal %llu\n", pfx, v->bridge, pfx, v->port != NULL, pfx,
			v->port ? v->nr_queues : 0, pfx, (unsigned long long)LD(v->st.connects),
			pfx, (unsigned long long)LD(v->st.fatal));
		fprintf(f, "%s.tx_pkts %llu\n%s.tx_bytes %llu\n%s.tx_errors %llu\n%s.tx_nomem %llu\n"
			"%s.tx_zero_slots %llu\n%s.tx_mcast_ops %llu\n%s.rx_pkts %llu\n"
			"%s.rx_bytes %llu\n%s.rx_errors %llu\n%s.rx_stall_drops %llu\n"
			"%s.rx_too_big %llu\n%s.rx_stalls %llu\n%s.ctrl_reqs %llu\n"
			"%s.wakeups %llu\n%s.spurious %llu\n%s.notifies %llu\n"
			"%s.backlog_drops %llu\n%s.persistent %d\n%s.pgrant_maps %llu\n",
			pfx, (unsigned long long)qs.tx_pkts, pfx, (unsigned long long)qs.tx_bytes,
			pfx, (unsigned long long)qs.tx_errors, pfx, (unsigned long long)qs.tx_nomem,
			pfx, (unsigned long long)qs.tx_zero_slots,
			pfx, (unsigned long long)qs.tx_mcast_ops,
			pfx, (unsigned long long)qs.rx_pkts, pfx, (unsigned long long)qs.rx_bytes,
			pfx, (unsigned long long)qs.rx_errors,
			pfx, (unsigned long long)qs.rx_stall_drops,
			pfx, (unsigned long long)(qs.rx_too_big + too_big),
			pfx, (unsigned long long)qs.rx_stalls, pfx, (unsigned long long)qs.ctrl_reqs,
			pfx, (unsigned long long)qs.wakeups, pfx, (unsigned long long)qs.spurious,
			pfx, (unsigned long long)qs.notifies, pfx, (unsigned long long)backlog,
			pfx, v->port && v->persistent, pfx, (unsigned long long)qs.pgrant_maps);
		{
			uint64_t reps, refs;

			pthread_spin_lock(&v->rate_lock);
			reps = v->credit.replenishes;
			refs = v->credit.refusals;
			pthread_spin_unlock(&v->rate_lock);
			fprintf(f, "%s.rate_bytes %llu\n%s.rate_usec %llu\n%s.rate_replenishes %llu\n"
				"%s.rate_refusals %llu\n%s.tx_rate_waits %llu\n", pfx,
				(unsigned long long)LD(v->rate_bytes), pfx,
				(unsigned long long)LD(v->rate_usec), pfx, (unsigned long long)reps,
				pfx, (unsigned long long)refs, pfx,
				(unsigned long long)qs.tx_rate_waits);
		}
		fwd_stats_print(f, pfx, &fs);
	}
	pthread_mutex_unlock(&nb_sw.lock);
}

/* pvio top's view of a vif (backend/stats.h), one slot per queue: tx from
 * the guest, rx into it; tx drops are requests answered with an error and
 * frames the switch refused (spoofed, bad source, runt); rx drops are
 * packets the guest could not take (no buffers, too big) and backlog
 * overflows (queue 0's slot, with those of past connections). */
void nb_stats_publish(void)
{
	pthread_mutex_lock(&nb_sw.lock);
	for (unsigned i = 0; i < nb_sw.max_ports; i++) {
		struct nb_vif *v = nb_sw.vifs[i];
		unsigned nq;

		if (!v || !v->pst)
			continue;
		/* Every queue's totals, not only this connection's queues. */
		nq = LD(v->pst->cap_queues);
		if (nq > NB_MAX_QUEUES)
			nq = NB_MAX_QUEUES;
		for (unsigned k = 0; k < nq; k++) {
			const struct nb_queue_stats *q = &v->st.q[k];
			const struct nb_fwd_stats *f = &v->st.f[k];
			struct pvio_stats_queue *slot = pvio_stats_queue(v->pst, k);
			uint64_t rx_drops = LD(q->rx_stall_drops) + LD(q->rx_too_big);

			if (k == 0) {
				rx_drops += LD(v->st.backlog_drops) + LD(v->st.too_big);
				if (v->port)
					for (unsigned j = 0; j < v->port->nr_outq; j++)
						rx_drops += LD(v->port->outq[j].drops) +
							    LD(v->port->outq[j].too_big);
			}
			/* Whole values, not increments: store-release as
			 * pvio_stats_add() does, for the reader's
			 * generation check. */
			const struct pvio_stats_queue *b = &v->pst_base[k];

			pvio_store_release(&slot->tx_pkts, b->tx_pkts + LD(q->tx_pkts));
			pvio_store_release(&slot->tx_bytes, b->tx_bytes + LD(q->tx_bytes));
			pvio_store_release(&slot->rx_pkts, b->rx_pkts + LD(q->rx_pkts));
			pvio_store_release(&slot->rx_bytes, b->rx_bytes + LD(q->rx_bytes));
			pvio_store_release(&slot->tx_drops, b->tx_drops + LD(q->tx_errors) +
					   LD(f->spoofed) + LD(f->bad_src) + LD(f->runt));
			pvio_store_release(&slot->rx_drops, b->rx_drops + rx_drops);
			pvio_store_release(&slot->errors, b->errors + LD(q->tx_errors) +
					   LD(q->rx_errors));
		}
	}
	pthread_mutex_unlock(&nb_sw.lock);
}
