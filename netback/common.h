/* SPDX-License-Identifier: MIT */
/*
 * pvio-netback private structures, shared by the switch (switch.c: ports,
 * bridges, forwarding, uplinks, statistics), the vif data path (netback.c)
 * and the vif control plane (xenbus.c), as Linux splits xen-netback into
 * netback.c / interface.c / xenbus.c / common.h.
 *
 * Threads:
 *   control      the backend core's loop (xenbus.c): probe/connect/...
 *   workers      --workers poller threads (backend/worker.h), each running a set of
 *                tasks to completion in one loop: vif queues (netback.c:
 *                take the guest's tx requests and forward them, deliver the
 *                queue's backlog into the guest's rx ring; queue 0 also
 *                serves the ctrl ring) and uplinks (switch.c: rx_burst ->
 *                forward, backlog -> tx_burst). Tasks go to the worker with
 *                the fewest.
 *   signals      SIGUSR1 statistics, SIGTERM/SIGINT stop (pvio-netback.c)
 *
 * Packets cross tasks only through backlogs (struct nb_outq): a DPDK
 * ring of mbuf pointers per destination queue, multi-producer single-
 * consumer, bounded in packets and bytes (XSA-392). A forwarder holds a
 * reference on each destination port for the duration of a burst
 * (nb_port.refs); taking a port down waits for those to drop, so nothing
 * is queued to a port being torn down.
 *
 * Packet metadata in an mbuf (set by the vif tx path, read by receivers):
 *   RTE_MBUF_F_TX_TCP_CKSUM/UDP_CKSUM   L4 checksum to fill (the field holds
 *                                       the pseudo-header sum); l2_len,
 *                                       l3_len, l4_len; TX_IPV4 / TX_IPV6
 *   RTE_MBUF_F_TX_TCP_SEG + tso_segsz   a GSO packet (always partial)
 *   RTE_MBUF_F_RX_L4_CKSUM_GOOD         data validated
 * Packets handed to an uplink never carry TX flags: they are segmented and
 * checksummed in software first.
 */
#ifndef PVIO_NETBACK_COMMON_H
#define PVIO_NETBACK_COMMON_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "backend/backend.h"
#include "backend/throttle.h"
#include "backend/worker.h"
#include "grant-tables/pgrant.h"
#include "hv/hv.h"
#include "netback/nb_hash.h"
#include "netback/nb_mactable.h"
#include "netback/nb_pkt.h"
#include "netback/nb_tx.h"
#include "ring/netif.h"
#include "ring/ratelimit.h"
#include "ring/ring.h"

/* Switch ports (vifs + uplinks): --max-ports, the tables sized at start. */
#define NB_DEFAULT_MAX_PORTS  4096
#define NB_PORTS_LIMIT        65535   /* port indices are 16-bit */
#define NB_MAX_BRIDGES        16
#define NB_MAX_UPLINKS        16
#define NB_MAX_QUEUES         8       /* per vif */
#define NB_NAME_MAX           64
#define NB_BRIDGE_NAME_MAX    16
#define NB_MAX_WORKERS        PVIO_WORKERS_MAX
#define NB_BURST              32
#define NB_MBUF_DATA          4096    /* data bytes per mbuf segment: one page */
#define NB_MCAST_MAX          64      /* multicast addresses per vif (Linux's) */
/* xdp-headroom (Linux netfront's XDP): at most what leaves a VLAN-tagged
 * 1500-byte-MTU frame (1518 bytes) room in the first rx page. Linux only
 * clamps to netif.h's 0x7FFF, more than a page: its netback then copies
 * past the page and the grant copy fails. */
#define NB_XDP_HEADROOM_MAX   (PVIO_PAGE_SIZE - 1518)
#define NB_TX_OPS_MAX         1024    /* grant-copy ops per tx round */
#define NB_RX_OPS_MAX         1024    /* grant-copy ops per rx round */
#define NB_UPLINK_DESC        512

/* Defaults (pvio-netback options). */
#define NB_DEFAULT_POLL_US        50
#define NB_DEFAULT_BACKLOG_PKTS   1024
#define NB_DEFAULT_BACKLOG_BYTES  (4u << 20)
#define NB_DEFAULT_RX_DRAIN_MS    2000
#define NB_DEFAULT_MAC_AGE_S      300
#define NB_DEFAULT_MAC_ENTRIES    4096
#define NB_DEFAULT_MBUFS          32767

struct nb_cfg {
	unsigned poll_us;          /* adaptive polling window; 0: always sleep */
	unsigned max_queues;       /* multi-queue-max-queues */
	unsigned workers;          /* poller threads (worker.c) */
	unsigned backlog_pkts;     /* per destination queue (power of two) */
	uint32_t backlog_bytes;
	unsigned rx_drain_ms;      /* a guest that posts no rx buffers for this
				    * long loses its backlog */
	unsigned mac_age_s;
	unsigned mac_entries;
	unsigned nb_mbufs;
	unsigned max_ports;        /* switch ports (0: NB_DEFAULT_MAX_PORTS) */
	unsigned uplink_mtu;       /* --uplink-mtu N: every uplink's (0: the port's) */
	bool     feat_sg, feat_gso, feat_csum6, feat_mcast, feat_split, feat_ctrl;
	bool     feat_persistent;  /* offer feature-persistent (netback.c: nb_copy) */
	bool     verbose;
};

/* A backlog toward one destination queue. */
struct nb_outq {
	struct rte_ring *ring;     /* mbuf pointers: MP enqueue, SC dequeue */
	void    *ring_mem;
	uint64_t bytes;            /* atomic: bytes queued (incl. staged by consumer) */
	uint64_t max_bytes;
	int      sleeping;         /* atomic: consumer is (about to be) asleep */
	int      kick_fd;          /* eventfd: wakes the consumer */
	uint64_t drops;            /* atomic: refused by the bounds */
	uint64_t too_big;          /* atomic: could not be delivered (size) */
	uint64_t segs;             /* atomic: mbufs charged to it (nb_pool_admit) */
};

enum nb_port_state { NB_PORT_FREE = 0, NB_PORT_DOWN = 1, NB_PORT_UP = 2 };
enum nb_port_kind { NB_PORT_VIF = 1, NB_PORT_UPLINK = 2 };

struct nb_vif;
struct nb_uplink;

/* A switch port. Slots are never freed (only reused), so a forwarder may
 * look at any slot; it uses one only after nb_port_hold() succeeded. */
struct nb_port {
	int      state;            /* atomic: enum nb_port_state */
	int      refs;             /* atomic: forwarders holding it */
	uint16_t idx;
	uint16_t bridge;
	uint8_t  kind;
	char     name[NB_NAME_MAX];
	/* ingress policy */
	bool     mac_filter;       /* source MAC must be mac */
	uint8_t  mac[NB_ETH_ALEN];
	/* what the destination accepts */
	bool     rx_sg, rx_gso4, rx_gso6, rx_csum4, rx_csum6;
	bool     mcast_ctrl;       /* atomic: filter multicast (the frontend's
				    * request-multicast-control, watched) */
	unsigned nr_outq;
	struct nb_outq outq[NB_MAX_QUEUES];
	struct nb_vif *vif;
	struct nb_uplink *up;
	const struct nb_hash_cfg *hash;     /* vif: queue choice */
	const uint64_t *mcast;              /* vif: NB_MCAST_MAX filter words */
};

struct nb_bridge {
	char     name[NB_BRIDGE_NAME_MAX];
	bool     used;
	struct nb_mactable mt;
	uint64_t *members;                     /* atomic bitmap of ports (max_ports) */
	unsigned words;                        /* atomic: members words ever used */
};

/* Per-thread forwarding counters (single writer). */
struct nb_fwd_stats {
	uint64_t in_pkts, in_bytes;
	uint64_t spoofed, bad_src, runt, hairpin, no_dest;
	uint64_t unicast, flooded;
	uint64_t csum_sw, gso_sw, gso_segs, seg_nomem;
};

/* A forwarding context: one per thread that injects packets. */
/* Packets staged toward one backlog during a burst: enqueued together (one
 * byte reservation, one multi-producer enqueue) at the burst's end. */
#define NB_STAGE_QUEUES   8
#define NB_STAGE_PKTS     (NB_BURST * 2)
struct nb_stage {
	struct nb_outq *q;
	uint64_t bytes;
	uint64_t segs;
	unsigned n;
	struct rte_mbuf *m[NB_STAGE_PKTS];
};

struct nb_fwd {
	struct nb_port *src;
	uint32_t now;                            /* seconds, for MAC aging */
	/* arrays of nb_sw.max_ports entries (kick: twice that), zero pages
	 * until a port of that index is used */
	uint8_t  *hold;                          /* 0 untried, 1 held, 2 refused */
	uint16_t *held;
	unsigned nheld;
	struct nb_outq **kick;
	unsigned nkick, kick_max;
	/* scratch for one packet */
	struct nb_port **dst;
	struct nb_port **asis;
	struct nb_port **plain;
	/* the bridge's ports but src, held: a burst floods from this list,
	 * made on its first flooded frame */
	struct nb_port **flood;
	unsigned nflood;
	bool     flood_ok;
	uint8_t  hdrbuf[NB_MAX_HDR_LEN];
	const uint8_t *hdr;                      /* parsed headers of the packet */
	struct nb_hdr h;
	int      hdr_state;                      /* -1 not parsed, 0 unparseable, 1 ok */
	struct nb_fwd_stats *st;                 /* the owner's, outlives f */
	struct nb_stage stage[NB_STAGE_QUEUES];  /* in first-use order */
	unsigned nstage;
};

/* ------------------------------------------------------------------ vifs */

struct nb_queue_stats {
	uint64_t tx_pkts, tx_bytes;      /* from the guest, forwarded */
	uint64_t tx_errors;              /* requests answered with an error */
	uint64_t tx_nomem;               /* rounds cut short: no mbufs */
	uint64_t tx_zero_slots;          /* zero-length fragments (XSA-448) */
	uint64_t tx_mcast_ops;
	uint64_t tx_rate_waits;          /* rounds stopped: a packet waits for credit */
	uint64_t rx_pkts, rx_bytes;      /* delivered into the guest */
	uint64_t rx_errors;              /* copy into a guest buffer failed */
	uint64_t rx_stall_drops;         /* backlog dropped: no rx buffers */
	uint64_t rx_too_big;             /* does not fit what the guest accepts */
	uint64_t rx_stalls;
	uint64_t ctrl_reqs;
	uint64_t wakeups, spurious, notifies;
	uint64_t pgrant_maps;            /* persistent grants mapped (feature-persistent) */
};

struct nb_queue {
	struct nb_vif *vif;
	unsigned idx;
	char     name[NB_NAME_MAX + 8];            /* "vif3.0-q1" for logs */

	/* rings and ports */
	struct pvio_hv_ring_map txmap, rxmap;
	struct pvio_ring_back tx, rx;
	uint32_t tx_ref, rx_ref;
	pvio_evtchn_port_t fe_port_tx, fe_port_rx;   /* the frontend's */
	pvio_evtchn_port_t port_tx, port_rx;         /* ours (equal if shared) */
	struct pvio_evtchn *ch_tx, *ch_rx;

	/* tx: private copies of requests not answered yet */
	struct pvio_netif_tx_request *txwin;     /* nr_ents slots */
	uint32_t win_head, win_count;
	struct nb_txpkt *pk;                     /* NB_BURST */
	struct rte_mbuf **pkm;                   /* NB_BURST: packet of pk[i] */
	uint16_t *pkops;                         /* NB_BURST + 1: first op of pk[i] */
	struct pvio_gnt_copy_op *ops;            /* NB_TX_OPS_MAX */
	struct rte_mbuf **fwdm;                  /* NB_BURST */

	uint64_t credit_until;                   /* ns: a packet waits for credit until
						  * then (0: none waits) */

	/* rx: our backlog and what we took out of it */
	struct nb_outq *outq;
	struct rte_mbuf *stage[NB_BURST];
	struct rte_mbuf *rx_done[NB_BURST];      /* delivered in this rx round */
	unsigned nstage, stage_head;
	uint64_t stall_since;                    /* ns, 0: not stalled */
	struct pvio_gnt_copy_op *rops;           /* NB_RX_OPS_MAX */
	struct pvio_netif_rx_request *rreq;      /* nr_ents */

	/* feature-persistent: the frontend's tx and rx pages stay mapped for
	 * the connection and copies go through them (nb_copy) */
	struct pvio_pgrant_cache pg;
	bool     pg_on;
	uint64_t pg_inserts;                     /* pg.stats.inserts already counted */

	/* run by a worker */
	struct pvio_task task;
	bool     running;                        /* attached to a worker */
	bool     broken;                         /* protocol violation: only sleeps */
	bool     ctrl;                           /* serves the ctrl ring too */
	struct pvio_evtchn *chans[3];
	unsigned nch;
	struct nb_fwd *fwd;
	struct pvio_ratelimit log_rl;            /* guest-triggered log lines */
};

struct nb_vif_stats {
	struct nb_queue_stats q[NB_MAX_QUEUES];
	struct nb_fwd_stats f[NB_MAX_QUEUES];
	uint64_t fatal;                          /* disconnected for a protocol error */
	uint64_t connects;
	uint64_t backlog_drops, too_big;         /* of past connections */
};

struct nb_vif {
	struct pvio_hv *hv;
	uint16_t fe_domid;
	uint32_t devid;
	char     name[NB_NAME_MAX];              /* "vif3.0" */
	const struct nb_cfg *cfg;

	/* toolstack keys */
	char     bridge[NB_BRIDGE_NAME_MAX];
	uint8_t  mac[NB_ETH_ALEN];
	bool     has_mac, mac_filter;

	/* tx rate limit: the backend key "rate" (xenbus.c, live), one credit
	 * for all the vif's queues (Linux gives each queue the whole rate;
	 * xl documents it as the vif's), taken under rate_lock by the queues'
	 * tx paths (netback.c) and only while rate_on */
	pthread_spinlock_t rate_lock;
	struct pvio_credit credit;               /* under rate_lock */
	int      rate_on;                        /* atomic */
	uint64_t rate_bytes, rate_usec;          /* atomic: in force, for statistics */

	/* negotiated */
	unsigned nr_queues;
	bool     split, rx_notify, sg, gso4, gso6, csum4, csum6, mcast_ctrl;
	bool     persistent;                     /* both offered feature-persistent */
	/* the frontend's xdp-headroom (xenbus.c: at connect, at Reconfiguring
	 * and when the key changes): rx data of a packet's first slot starts
	 * there, and each packet says so in an XDP extra (netback.c) */
	uint16_t xdp_headroom;                   /* atomic */
	char     xdp_refused[32];                /* control thread: the value last
						  * refused (said once) */

	struct nb_queue q[NB_MAX_QUEUES];

	/* ctrl ring (served by queue 0's thread) */
	bool     has_ctrl;
	struct pvio_hv_ring_map ctrlmap;
	struct pvio_ring_back ctrl;
	pvio_evtchn_port_t fe_port_ctrl, port_ctrl;
	struct pvio_evtchn *ch_ctrl;
	struct nb_hash_cfg hash;
	uint64_t mcast[NB_MCAST_MAX];            /* atomic: MAC | 1 << 63, 0 free */

	struct nb_port *port;
	int      broken;                         /* atomic */
	int      broken_efd;
	struct nb_vif_stats st;
	bool     registered;                     /* in the statistics list */
	/* pvio top's record (nb_sw.lock), set at the first connect: st is
	 * mirrored into it every second by nb_stats_publish(), on top of
	 * what the record held then (pst_base: the totals of an earlier
	 * nb_vif of the same device, before a frontend reset). */
	struct pvio_stats_dev *pst;
	struct pvio_stats_queue pst_base[NB_MAX_QUEUES];
};

/* ------------------------------------------------------------------ uplinks */

struct nb_uplink {
	uint16_t port_id;                        /* DPDK ethdev (not for a generator) */
	/* A generator (pvio_genN): no port. Its receive side makes frames of
	 * gen_size bytes from gen_tmpl as fast as it is run, as testpmd's
	 * txonly does -- each frame's header written, the payload only into
	 * an mbuf that lacks it -- and its transmit side frees what the
	 * switch sends it. */
	bool     gen;
	unsigned gen_size;
	uint64_t gen_seq;
	uint8_t  *gen_tmpl;
	char     name[NB_NAME_MAX];
	char     bridge[NB_BRIDGE_NAME_MAX];
	struct nb_port *port;
	int      intr_fd;                        /* rx interrupt fd, or -1 */
	struct pvio_task task;                   /* run by a worker */
	bool     running;
	struct nb_fwd *fwd;
	struct rte_mbuf *pend[NB_BURST];
	unsigned npend, pend_head, pend_tries;
	unsigned mtu_req;                        /* --uplink-mtu (0: the port's) */
	unsigned mtu;                            /* in force */
	uint32_t max_frame;                      /* mtu + Ethernet header */
	uint64_t rx_pkts, rx_bytes, tx_pkts, tx_bytes, tx_drops, wakeups;
	uint64_t tx_too_big;                     /* dropped: larger than max_frame */
	struct nb_fwd_stats fst;
};

/* ------------------------------------------------------------------ switch */

struct nb_switch {
	struct nb_cfg cfg;
	struct rte_mempool *pool;
	unsigned pool_size;
	unsigned pool_baseline;                  /* in use once the uplinks started */
	pthread_mutex_t lock;                    /* ports, bridges, vif list */
	struct nb_port *ports;                   /* max_ports; slots never freed */
	unsigned max_ports;
	struct nb_bridge bridges[NB_MAX_BRIDGES];
	struct nb_uplink uplinks[NB_MAX_UPLINKS];
	unsigned nr_uplinks;
	struct nb_vif **vifs;                    /* max_ports probed vifs, for statistics */
	uint64_t stats_seq;
	struct pvio_workers *workers;            /* the poller threads */
	/* The backlogs' share of the pool (XSA-392's lesson: what waits
	 * for a guest must not starve the others). Every backlog is charged
	 * its packets' mbufs while they wait; all together may hold at most
	 * held_hard (half the pool), and once they hold held_soft (a
	 * quarter), a backlog already holding NB_BACKLOG_FAIR mbufs takes
	 * no more. So guests that post no rx buffers (or a dead uplink)
	 * cannot take the mbufs every other guest's tx needs. */
	uint64_t held __attribute__((aligned(64)));  /* atomic */
	uint64_t held_refused;                   /* atomic: packets refused so */
	uint64_t held_soft, held_hard;
};

#define NB_BACKLOG_FAIR 64u

extern struct nb_switch nb_sw;

/* Charge segs mbufs to q, if the pool's backlog budget allows. */
static inline bool nb_pool_admit(struct nb_outq *q, uint64_t segs)
{
	uint64_t h = pvio_fetch_add(&nb_sw.held, segs) + segs;

	if (h > nb_sw.held_hard ||
	    (h > nb_sw.held_soft && pvio_load_relaxed(&q->segs) + segs > NB_BACKLOG_FAIR)) {
		pvio_fetch_add(&nb_sw.held, (uint64_t)0 - segs);
		pvio_fetch_add(&nb_sw.held_refused, 1);
		return false;
	}
	pvio_fetch_add(&q->segs, segs);
	return true;
}

/* Give back what nb_pool_admit charged (segs mbufs). */
static inline void nb_pool_release(struct nb_outq *q, uint64_t segs)
{
	if (!segs)
		return;
	pvio_fetch_add(&q->segs, (uint64_t)0 - segs);
	pvio_fetch_add(&nb_sw.held, (uint64_t)0 - segs);
}

/* The consumer took n packets off q's ring: their mbufs are no longer
 * the backlog's. */
static inline void nb_outq_taken(struct nb_outq *q, struct rte_mbuf *const *m, unsigned n)
{
	uint64_t segs = 0;

	for (unsigned i = 0; i < n; i++)
		segs += m[i]->nb_segs;
	nb_pool_release(q, segs);
}

/* switch.c */
int  nb_switch_init(const struct nb_cfg *cfg);
void nb_switch_fini(void);
/* Find or create a bridge; -ENOSPC, -EINVAL (bad name). */
int  nb_bridge_get(const char *name);
/* Allocate a port (DOWN, no backlogs yet) on bridge `br`. NULL if full. */
struct nb_port *nb_port_alloc(uint8_t kind, int br, const char *name);
/* Create nq backlogs (each with an eventfd). 0 or -errno. */
int  nb_port_outq_init(struct nb_port *p, unsigned nq);
/* Start / stop forwarding to and from p. nb_port_down() waits until no
 * forwarder holds p, and makes the bridge forget its addresses. */
void nb_port_up(struct nb_port *p);
void nb_port_down(struct nb_port *p);
/* Free every packet still queued toward p (after nb_port_down and after
 * its consumers stopped). */
void nb_port_drain(struct nb_port *p);
/* Release p's backlogs and its slot. */
void nb_port_free(struct nb_port *p);

struct nb_fwd *nb_fwd_new(struct nb_port *src, struct nb_fwd_stats *st);
void nb_fwd_free(struct nb_fwd *f);
/* Forward n packets received on f->src (consumes them). */
void nb_fwd_input(struct nb_fwd *f, struct rte_mbuf **pkts, unsigned n);

/* Release bytes of packets taken out of a backlog. */
static inline void nb_outq_done(struct nb_outq *q, uint64_t bytes)
{
	if (bytes)
		pvio_fetch_add(&q->bytes, (uint64_t)0 - bytes);
}

/* Single-writer counter update, read by the statistics thread. */
static inline void nb_st_add(uint64_t *c, uint64_t v)
{
	pvio_store_relaxed(c, *c + v);
}

/* An uplink's bridge, from --uplink BRIDGE=NAME (NAME: the ethdev's name,
 * the vdev's driver-and-number part such as net_tap0). */
struct nb_uplink_spec {
	char name[NB_NAME_MAX];
	char bridge[NB_BRIDGE_NAME_MAX];
	unsigned mtu;              /* --uplink-mtu NAME=N (0: cfg.uplink_mtu) */
	/* pvio_genN: a generator, no DPDK port (nb_gen_parse) */
	bool     gen;
	unsigned gen_size;
	uint8_t  gen_dst[6], gen_src[6];
};

/* "pvio_genN[,size=B][,dst=MAC][,src=MAC]": a generator uplink for
 * benchmarks (switch.c). Fills s->gen*, s->name; 0, or -EINVAL with a
 * message naming what was wrong in err. */
int nb_gen_parse(const char *arg, struct nb_uplink_spec *s, char *err, size_t errlen);
/* Set up every DPDK port as an uplink (those not in spec go to br0) and
 * start their threads. 0 or -errno. */
int  nb_uplinks_start(const struct nb_uplink_spec *spec, unsigned n);
void nb_uplinks_stop(void);
void nb_vif_register(struct nb_vif *v);
void nb_vif_unregister(struct nb_vif *v);
/* Write the statistics (one "key value" per line) to f. */
void nb_stats_write(FILE *f);
/* Copy each connected vif's counters into its pvio top record (the
 * statistics thread is the one writer of those slots). */
void nb_stats_publish(void);

uint64_t nb_now_ns(void);

/* netback.c */
int  nb_queue_start(struct nb_queue *q);
void nb_queue_stop(struct nb_queue *q);
void nb_queue_log(struct nb_queue *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* xenbus.c */
extern const struct pvio_backend_ops nb_vif_ops;

#endif /* PVIO_NETBACK_COMMON_H */
