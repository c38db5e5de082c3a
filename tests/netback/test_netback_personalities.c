/* SPDX-License-Identifier: MIT */
/*
 * Frontend personalities against pvio-netback: raw frontends (nbfront.c's
 * rings and data path, the handshake written here) that do, key for key
 * and state for state, what four real netfronts do, against the real
 * pviod and pvio-netback processes (netback --max-queues 2, which offers
 * split event channels, the control ring and dynamic multicast control).
 *
 * personality  source                            what is reproduced
 * -----------  --------------------------------  -----------------------------
 * xenvif       win-xenvif src/xenvif/frontend.c  FrontendSetState's walks:
 *              FrontendSetState, FrontendPrepare, PDO start (FrontendResume)
 *              FrontendClose, FrontendConnect,   = Prepare + Close; D0 =
 *              FrontendWaitForBackendXenbus-     Prepare + Connect; Enable
 *              StateChange, FrontendIsBackend-   fills the rx rings; stop =
 *              Online, FrontendSetXenbusState,   Disable, Close, then
 *              FrontendSetNumQueues/SetSplit,    Disconnect (rings released
 *              __FrontendUpdateHash; receiver.c  only after the backend is
 *              ReceiverStoreWrite; transmit-     Closed). Each wait is "until
 *              ter.c TransmitterStoreWrite,      the backend's state differs
 *              TransmitterConnect; controller.c  from the last one read",
 *              ControllerConnect/StoreWrite;     starting from Unknown.
 *              pdo.c __PdoD3ToD0; vif.c VifEnable;
 *              FrontendEject, FrontendNotifyMulticastAddresses;
 *              transmitter.c __TransmitterRingPrepareMulticastControl
 *   Prepare: backend Closed -> Initialising if `online` (strtol base 2; absent
 *   is offline) else give up; Connected -> Closing; Closing -> Closed;
 *   Initialising/InitWait -> wait; until InitWait. Close: Connected or
 *   InitWait -> Closing; Closing -> Closed; until Closed. Connect: queues =
 *   min(FrontendMaxQueues, multi-queue-max-queues (base 10, absent 1));
 *   split if feature-split-event-channels, multicast control if
 *   feature-dynamic-multicast-control, control ring if feature-ctrl-ring (all
 *   strtol base 2, as are feature-gso-tcpv4/6, feature-(no-|ipv6-)csum-
 *   offload: pvio-netback must write exactly "0"/"1"); feature-rx-copy is
 *   never read. One transaction: request-rx-copy=1, feature-sg=1,
 *   feature-rx-notify=1, rm feature-gso-tcpv4-prefix, feature-gso-tcpv4=1,
 *   rm feature-gso-tcpv6-prefix, feature-gso-tcpv6=1,
 *   feature-no-csum-offload=0, feature-ipv6-csum-offload=1, per queue (flat
 *   for one, queue-%u/ for more) rx-ring-ref + event-channel-rx (or
 *   event-channel), request-multicast-control=1, per queue tx-ring-ref
 *   (+ event-channel-tx), ctrl-ring-ref + event-channel-ctrl,
 *   multi-queue-num-queues (always, even 1). Keys of an earlier connection
 *   are never removed. Then InitWait/Initialised -> Connected; Closing ->
 *   Closed; until Connected (no Initialised). FrontendEnable fills the rx
 *   rings, queues an MCAST_ADD for each of its multicast groups on ring 0 (a
 *   request without a buffer: gref 0, offset 0, size 0, NETTXF_extra_info,
 *   then a zeroed extra; each must be answered OKAY; FrontendDisable sends
 *   the MCAST_DELs) and sends its hash state (__FrontendUpdateHash: SET_HASH_ALGORITHM,
 *   and for Toeplitz SET_HASH_MAPPING_SIZE, SET_HASH_MAPPING, SET_HASH_KEY,
 *   SET_HASH_FLAGS, each expected to succeed); after a restart that is
 *   NONE. On 2 queues xennet (win-xennet src/xennet/adapter.c) then asks for
 *   Toeplitz and GET_HASH_FLAGS (the mapping still of size 0, the key zero),
 *   and NDIS sets types, key and a 128-entry table, each a whole update;
 *   on 1 queue xenvif refuses Toeplitz itself. Eject: a thread woken by a
 *   watch on the backend's online reads online (base 2) and state in one
 *   transaction and ejects the device if online=0 and state Closing; in
 *   Close, writing Closed with online=0 takes it offline (no more waiting).
 * linux        drivers/net/xen-netfront.c        Initialising (only if its
 *              xennet_create_dev, netback_       own state differs, as
 *              changed, xennet_connect, talk_    xenbus_switch_state), wait
 *              to_netback, talk_to_netback_xdp,  for the backend to leave
 *              write_queue_xenstore_keys, setup_ Closed/Unknown; at InitWait
 *              netfront, xennet_bus_close,       while Initialising: needs
 *              xennet_remove, netif_init         feature-rx-copy; queues =
 *   min(multi-queue-max-queues (absent 1), min(8, vCPUs = 2)); split if
 *   offered; xdp-headroom=0 (outside the transaction) if
 *   feature-xdp-headroom; one transaction: multi-queue-num-queues if the
 *   backend has multi-queue-max-queues, flat keys for one queue or
 *   queue-%u/ (event-channel or -tx/-rx), request-rx-copy=1,
 *   feature-rx-notify=1, feature-sg=1, feature-gso-tcpv4=1,
 *   feature-gso-tcpv6=1, feature-ipv6-csum-offload=1; carrier on and a tx
 *   kick (frames the stack queued meanwhile go on the ring now, their kick
 *   to a port the backend has not bound yet), rx buffers; Connected.
 *   Remove: unless the backend is Closed, Closing and wait for
 *   Closing/Closed/Unknown, then (unless Closed) Closed and wait for
 *   Closed/Unknown; rings released after.
 * freebsd      sys/dev/xen/netfront/netfront.c   At InitWait while its own
 *              (11 and later)   netfront_backend_ state is Initialising:
 *              changed, xn_connect, talk_to_     needs feature-rx-copy;
 *              backend, write_queue_xenstore_    queues = min(hw.xn.num_
 *              keys, setup_device, xn_query_     queues = 4,
 *              features, xn_ioctl SIOCSIFCAP,    multi-queue-max-queues
 *              netif_disconnect_backend          (absent 1)), never split;
 *   one transaction: flat tx-ring-ref, rx-ring-ref, event-channel for one
 *   queue, else multi-queue-num-queues + queue-%u/ with the same three;
 *   request-rx-copy=1, feature-rx-notify=1, feature-sg=1,
 *   feature-gso-tcpv4=1 (LRO on), feature-no-csum-offload=1 only with
 *   RXCSUM off; reads feature-sg, feature-gso-tcpv4, feature-no-csum-offload;
 *   Connected. Backend Closing -> Closed (never Closing itself); backend
 *   Closed during a reset -> rings released, Initialising. A feature change
 *   (SIOCSIFCAP: RXCSUM off) resets: rm feature-gso-tcpv4 and
 *   feature-no-csum-offload, Closing.
 * minios       mini-os netfront.c _init_netfront,  Never waits for InitWait:
 *              init_rx_buffers, _shutdown_       all 256 rx buffers posted,
 *              netfront, netfront_xmit,          then one transaction
 *              network_rx                        tx-ring-ref, rx-ring-ref,
 *   event-channel, request-rx-copy=1 and state=Connected (no feature-sg, no
 *   feature-rx-notify: one slot per frame, no extras); waits while the
 *   backend is below Connected, which it must then be; reads ip. Shutdown:
 *   Closing, wait >= Closing; Closed, wait >= Closed; Initialising, wait for
 *   InitWait..Closing; rm tx-ring-ref, rx-ring-ref, event-channel,
 *   request-rx-copy; rings released. suspend_netfront/resume_netfront are
 *   the same shutdown and init. It ignores rx flags (a partial checksum
 *   would reach its stack as is), so the peer sends it whole ones only.
 *
 * The scenario (one bridge; guest 0 is the peer, a plain nbf_connect()
 * frontend, connected throughout):
 *  1. xenvif (vif 0 of its guest) starts on the fresh backend (PDO start:
 *     Prepare finds InitWait, Close takes it Closing -> Closed; D0: Prepare
 *     Initialising -> InitWait, Connect with 2 queues), moves data, then
 *     restarts ten times, alternating 1 and 2 queues (FrontendMaxQueues
 *     re-read at each driver restart): stop (Disable, Close, Disconnect),
 *     PDO start (Prepare, Close), D0 (Prepare, Connect), Enable, data.
 *     Restart 5 is a driver instance that went away without closing (its
 *     Close gave up): the new Prepare finds the backend Connected and takes
 *     it Closing -> Closed -> Initialising -> InitWait; the old rings are
 *     released after that. After every restart pvio-netback's fd count,
 *     memfd/anon_inode mapping count (/proc/PID/maps) and thread count are
 *     back to their start values at the InitWait before Connect, and the vif
 *     is still registered (online=1: the device is kept while closed).
 *     The start values are taken after the first connection, not before:
 *     at a guest's first connection the backend's hv layer maps that
 *     guest's memory, grant table and pin table (three memfd mappings, one
 *     fd more) and keeps them while the guest has devices (released by
 *     netback's domain_idle -> pvio_hv_foreign_release), so a reconnection
 *     finds them there; what a connection itself takes (ring mappings,
 *     bound ports, poller tasks, switch port) must all come back.
 *     Then libxl detaches it (online=0 and backend Closing in one
 *     transaction, as libxl__initiate_device_generic_remove): xenvif's
 *     eject thread sees it, Disable, Close ([Closing] -> Closed, offline),
 *     Disconnect; the backend releases the vif at that Closed, libxl removes
 *     the nodes, the guest has no device left: netback's fds, mappings and
 *     threads are back to their values before the first connection, less
 *     the eventfd the probed device itself held.
 *  2. linux connects (2 queues, split), data, removes: the backend is Closed
 *     and keeps the vif (online=1); the driver comes back (Initialising): it
 *     reconnects with frames already on its tx ring when it says Connected
 *     (the interface up, as on a resume: they must go out without another
 *     kick), data, removes. The toolstack writes online=0, the driver
 *     comes back: the backend releases the vif and stays Closed (QEMU's
 *     xen-bus rule).
 *  3. freebsd connects (2 queues), data; a feature change (RXCSUM off)
 *     resets it through Closing/Closed/Initialising, data again (now with
 *     feature-no-csum-offload=1); the toolstack detaches it (online=0,
 *     backend Closing): FreeBSD's Closed makes the backend release the vif
 *     at once; the nodes go.
 *  4. minios connects, data, suspends (shutdown: the backend waits in
 *     InitWait), resumes (Initialising -> Connected at once), data, shuts
 *     down.
 * Data: each personality sends numbered frames on every flow (flow k on tx
 * queue k; two flows on one queue), IPv4/UDP with right IP and UDP
 * checksums and a payload carrying its sender, flow, number and an FNV-1a
 * checksum of the rest; sg personalities send every third frame over
 * several slots. The peer receives them from the bridge, checks each (in
 * order per flow, checksums right) and sends an answer frame back that the
 * personality checks the same way. Every other answer leaves its UDP
 * checksum to the receiver (NETTXF_csum_blank, pseudo-header sum only, as a
 * CHECKSUM_PARTIAL sender): a frontend that accepts offload gets it flagged
 * NETRXF_csum_blank and completes it; FreeBSD after its reset
 * (feature-no-csum-offload=1) must get it completed by netback. Every grant
 * of a connection must revoke as soon as the backend let go of it.
 */
#include <pthread.h>
#include <stdlib.h>

#include "netback/nb_pkt.h"
#include "tests/common/testutil.h"
#include "tests/common/keyspec.h"
#include "tests/netback/nbtest.h"
#include "tests/netback/pktgen.h"
#include "tools/toolstack.h"
#include "xenstore/xenbus.h"

#define T          8000      /* ms: any one wait */
#define REOPENS    10
#define STALE_AT   5         /* the restart whose predecessor did not close */
#define BURST      24        /* frames per flow and round */
#define ROUNDS     2
#define MAXFLOWS   4
#define LINUX_VCPUS 2
#define FREEBSD_NUM_QUEUES 4 /* hw.xn.num_queues default */

#define M(s)  PVIO_XENBUS_MASK(PVIO_XENBUS_STATE_##s)
#define ST(s) PVIO_XENBUS_STATE_##s
#define ALL_STATES 0x1ffu

typedef enum pvio_xenbus_state xst;

enum { P_XENVIF, P_LINUX, P_FREEBSD, P_MINIOS, NP };

struct vm {
	const char *name;
	unsigned id;               /* in frames and addresses */
	struct pvio_hv *hv;
	struct pvio_xs *xs;        /* the guest's own store connection */
	uint16_t domid;
	uint8_t mac[6];
	struct nbf f;              /* this connection's rings (nbfront) */
	bool sg;                   /* sends frames over several slots */
	bool one_slot;             /* takes only one-slot frames, no extras */
	bool no_csum;              /* wrote feature-no-csum-offload=1 */
	bool plain_rx;             /* ignores rx flags (no partial checksums) */
	unsigned sent_partial;     /* answers the peer left the checksum of */
	unsigned got_partial;      /* ... that arrived still partial */
	unsigned nflows;
	uint32_t tx_seq[MAXFLOWS], rx_seq[MAXFLOWS];
	xst own;                   /* linux: dev->state */
	bool offline;              /* xenvif: !Frontend->Online */
	struct pvio_xs *xs_eject;  /* xenvif: its eject thread's watch */
	char trace[512];           /* xenvif: backend states seen, ours written */
};

static struct vm vms[NP];
static struct nbf peer;
static uint8_t peer_mac[6];
static uint32_t peer_seq[NP][MAXFLOWS];
static uint8_t frame[4096], rbuf[70000];

/* ------------------------------------------------------------ store helpers */

static int be_read(struct vm *v, const char *key, char *buf, size_t size)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", v->f.be, key);
	return pvio_xs_read_buf(v->xs, PVIO_XS_NO_TX, path, buf, size, NULL);
}

/* A backend key read the way C's strtoul/strtol(base) would (dflt if absent). */
static unsigned long be_num(struct vm *v, const char *key, int base, unsigned long dflt,
			    bool *present)
{
	char b[64];
	bool ok = be_read(v, key, b, sizeof(b)) == 0;

	if (present)
		*present = ok;
	return ok ? strtoul(b, NULL, base) : dflt;
}

static int fe_put(struct vm *v, uint32_t tx, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fe_put(struct vm *v, uint32_t tx, const char *key, const char *fmt, ...)
{
	char path[256], val[64];
	va_list ap;

	snprintf(path, sizeof(path), "%s/%s", v->f.fe, key);
	va_start(ap, fmt);
	vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	return pvio_xs_write(v->xs, tx, path, val, strlen(val));
}

static void fe_rm(struct vm *v, uint32_t tx, const char *key)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", v->f.fe, key);
	pvio_xs_rm(v->xs, tx, path);
}

static xst be_state(struct vm *v)
{
	xst st = ST(UNKNOWN);

	pvio_xenbus_read_state(v->xs, PVIO_XS_NO_TX, v->f.be, &st);
	return st;
}

/* Wait for the backend to reach mask; fatal after T. */
static xst wait_be(struct vm *v, unsigned mask, const char *what)
{
	xst st = ST(UNKNOWN);

	if (pvio_xenbus_wait_state(v->xs, v->f.be, mask, T, &st) < 0) {
		fprintf(stderr, "%s: the backend never reached %s (it is %s)\n", v->name, what,
			pvio_xenbus_state_name(be_state(v)));
		nbt_dump_log();
		exit(1);
	}
	return st;
}

static void set_state(struct vm *v, uint32_t tx, xst st)
{
	REQUIRE(pvio_xenbus_switch_state(v->xs, tx, v->f.fe, st) == 0);
}

/* A vif statistic of v's device (-1: the vif is not registered). */
static long long vif_stat(struct vm *v, const char *what)
{
	char key[64];

	snprintf(key, sizeof(key), "vif.%u.0.%s", v->domid, what);
	return nbt_stat(key);
}

/* ------------------------------------------------------------ rings */

/* Rings, buffers and ports of a new connection. */
static void rings_setup(struct vm *v, const struct nbf_opts *o)
{
	v->f.o = *o;
	v->f.nq = o->nq ? o->nq : 1;
	REQUIRE(nbf_setup_rings(&v->f) == 0);
	v->nflows = v->f.nq > 1 ? v->f.nq : 2;
}

static unsigned revoke1(struct nbf *f, uint32_t ref)
{
	return pvio_hv_revoke(f->hv, ref) < 0;
}

/* After the backend let go: every grant ends at once (nothing still
 * mapped), every port closes, the pages are given back. */
static void rings_release(struct vm *v, struct nbf *f)
{
	unsigned busy = 0;

	for (unsigned i = 0; i < f->nq; i++) {
		struct nbf_q *q = &f->q[i];
		unsigned b0 = busy;

		busy += revoke1(f, q->tx_ref) + revoke1(f, q->rx_ref);
		for (unsigned k = 0; k < NBF_RING; k++)
			busy += revoke1(f, q->txbuf_ref[k]) + revoke1(f, q->rxbuf_ref[k]);
		if (q->port_rx != q->port_tx)
			pvio_hv_evtchn_close(f->hv, q->port_rx);
		pvio_hv_evtchn_close(f->hv, q->port_tx);
		if (busy == b0) {
			pvio_hv_page_free(f->hv, q->tx_gfn, 1);
			pvio_hv_page_free(f->hv, q->rx_gfn, 1);
			pvio_hv_page_free(f->hv, q->txbuf_gfn, NBF_RING);
			pvio_hv_page_free(f->hv, q->rxbuf_gfn, NBF_RING);
		}
	}
	if (f->o.ctrl) {
		unsigned b0 = busy;

		busy += revoke1(f, f->ctrl_ref) + revoke1(f, f->ctrl_page_ref);
		pvio_hv_evtchn_close(f->hv, f->port_ctrl);
		if (busy == b0) {
			pvio_hv_page_free(f->hv, f->ctrl_gfn, 1);
			pvio_hv_page_free(f->hv, f->ctrl_page_gfn, 1);
		}
	}
	if (busy) {
		fprintf(stderr, "%s: %u grant(s) still in use after the backend let go\n", v->name,
			busy);
		tu_failures++;
	}
}

/* ------------------------------------------------------------ frames */

#define FR_MAGIC 0x504e5650u
#define FR_HDR   (14 + 20 + 8)
#define FR_PHDR  20

static uint32_t fnv1a(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static unsigned frame_len(unsigned id, unsigned flow, uint32_t seq)
{
	return 64 + (seq * 331u + flow * 97u + id * 13u) % 1451u;   /* 64..1514 */
}

/* Frame `seq` of flow `flow` of personality `id`, towards the peer (dir 0)
 * or back (dir 1). */
static unsigned build(uint8_t *b, const struct vm *v, unsigned flow, uint32_t seq, unsigned dir)
{
	unsigned len = frame_len(v->id, flow, seq), blen = len - FR_HDR - FR_PHDR;
	uint8_t gip[4] = { 10, 1, (uint8_t)v->id, (uint8_t)(flow + 1) }, pip[4] = { 10, 2, 0, 1 };
	uint8_t *ip = b + 14, *udp = ip + 20, *pl = udp + 8, *body = pl + FR_PHDR;
	uint32_t tag = seq * 2654435761u ^ v->id << 24 ^ flow << 16 ^ dir << 28;
	uint16_t c;

	memcpy(b, dir ? v->mac : peer_mac, 6);
	memcpy(b + 6, dir ? peer_mac : v->mac, 6);
	pg_put16(b + 12, 0x0800);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	pg_put16(ip + 2, (uint16_t)(len - 14));
	pg_put16(ip + 4, (uint16_t)seq);
	ip[8] = 64;
	ip[9] = PG_UDP;
	memcpy(ip + 12, dir ? pip : gip, 4);
	memcpy(ip + 16, dir ? gip : pip, 4);
	pg_put16(ip + 10, (uint16_t)~pg_fold(pg_sum(0, ip, 20)));
	pg_put16(udp, (uint16_t)(dir ? 7 : 40000 + flow));
	pg_put16(udp + 2, (uint16_t)(dir ? 40000 + flow : 7));
	pg_put16(udp + 4, (uint16_t)(len - 14 - 20));
	pg_put16(udp + 6, 0);
	for (unsigned i = 0; i < blen; i++)
		body[i] = pg_byte(tag, i);
	pg_put32(pl, FR_MAGIC);
	pl[4] = (uint8_t)v->id;
	pl[5] = (uint8_t)flow;
	pl[6] = (uint8_t)dir;
	pl[7] = 0;
	pg_put32(pl + 8, seq);
	pg_put16(pl + 12, (uint16_t)blen);
	pg_put16(pl + 14, 0);
	pg_put32(pl + 16, fnv1a(body, blen));
	c = (uint16_t)~pg_fold(pg_sum(pg_pseudo(ip, false, PG_UDP, len - 34), udp, len - 34));
	pg_put16(udp + 6, c ? c : 0xffff);
	return len;
}

struct fr_info {
	unsigned id, flow, dir;
	uint32_t seq;
};

/* Is b (len bytes) a whole, undamaged frame of ours for dst? */
static const char *check_frame(const uint8_t *b, int len, const uint8_t *dst, struct fr_info *fi)
{
	static const struct pg_flow udp4 = { .proto = PG_UDP };
	const uint8_t *pl = b + FR_HDR;
	unsigned blen;

	if (len < FR_HDR + FR_PHDR)
		return "too short";
	if (memcmp(b, dst, 6) != 0)
		return "not for this guest";
	if (pg_get16(b + 12) != 0x0800 || !pg_csum_ok(b, (unsigned)len, &udp4))
		return "IP or UDP checksum wrong";
	if (pg_get32(pl) != FR_MAGIC)
		return "not one of ours";
	fi->id = pl[4];
	fi->flow = pl[5];
	fi->dir = pl[6];
	fi->seq = pg_get32(pl + 8);
	blen = pg_get16(pl + 12);
	if (blen != (unsigned)len - FR_HDR - FR_PHDR)
		return "length does not match the payload's";
	if (fnv1a(pl + FR_PHDR, blen) != pg_get32(pl + 16))
		return "payload checksum wrong";
	if (fi->id >= NP || fi->flow >= MAXFLOWS)
		return "bad sender or flow";
	return NULL;
}

/* What a guest stack does with NETRXF_csum_blank: the UDP checksum field
 * holds the pseudo-header sum; fold in the rest. */
static void csum_complete(uint8_t *b, int len)
{
	uint8_t *udp = b + 14 + 20;
	uint16_t c;

	if (len < FR_HDR || pg_get16(b + 12) != 0x0800 || b[14 + 9] != PG_UDP)
		return;
	c = (uint16_t)~pg_fold(pg_sum(0, udp, pg_get16(udp + 4)));
	pg_put16(udp + 6, c ? c : 0xffff);
}

static int send_retry(struct nbf *f, unsigned q, const uint8_t *b, unsigned len,
		      const struct nbf_txinfo *ti)
{
	double end = tu_now() + T / 1000.0;
	int r;

	while ((r = nbf_send(f, q, b, len, ti)) == -EAGAIN && tu_now() < end)
		nbf_wait(f, q, 2);
	return r;
}

/* One frame from any of f's queues within timeout_ms: its length, 0, < 0. */
static int recv_any(struct nbf *f, uint8_t *buf, unsigned size, struct nbf_rxinfo *ri,
		    int timeout_ms)
{
	double end = tu_now() + timeout_ms / 1000.0;
	unsigned rr = 0;

	for (;;) {
		for (unsigned k = 0; k < f->nq; k++) {
			int r = nbf_recv(f, k, buf, size, ri, 0);

			if (r != 0)
				return r;
		}
		if (tu_now() >= end)
			return 0;
		nbf_wait(f, rr++ % f->nq, 1);
	}
}

/* Numbered frames both ways through the bridge, checked at each end.
 * Returns the frames moved each way (0 after a failure). */
static unsigned exchange(struct vm *v)
{
	unsigned nq = v->f.nq, nf = v->nflows, n = 0;
	struct nbf_txinfo ti;

	v->sent_partial = v->got_partial = 0;
	memset(v->tx_seq, 0, sizeof(v->tx_seq));
	memset(v->rx_seq, 0, sizeof(v->rx_seq));
	memset(peer_seq[v->id], 0, sizeof(peer_seq[v->id]));
	for (unsigned round = 0; round < ROUNDS; round++) {
		for (unsigned i = 0; i < BURST; i++)
			for (unsigned fl = 0; fl < nf; fl++) {
				uint32_t seq = v->tx_seq[fl]++;
				unsigned len = build(frame, v, fl, seq, 0);
				struct nbf_txinfo ti = { 0 };

				if (v->sg && seq % 3 == 1) {
					ti.slot_bytes = 512;
					ti.first_offset = (uint16_t)(100 + 64 * fl);
				}
				if (send_retry(&v->f, fl % nq, frame, len, &ti) <= 0) {
					fprintf(stderr, "%s: cannot send frame %u of flow %u\n",
						v->name, seq, fl);
					tu_failures++;
					return 0;
				}
			}
		/* The peer: every frame, in order per flow; an answer for each. */
		for (unsigned k = 0; k < BURST * nf; k++) {
			int r = recv_any(&peer, rbuf, sizeof(rbuf), NULL, T);
			struct fr_info fi = { 0 };
			const char *why = r > 0 ? check_frame(rbuf, r, peer_mac, &fi) : "nothing";

			if (!why && (fi.id != v->id || fi.dir != 0 || fi.flow >= nf))
				why = "from someone else";
			if (!why && fi.seq != peer_seq[v->id][fi.flow])
				why = "out of order";
			if (why) {
				fprintf(stderr, "%s -> peer: frame %u of %u: %s (r %d, flow %u, seq %u, "
					"expected %u)\n", v->name, k, BURST * nf, why, r, fi.flow,
					fi.seq, peer_seq[v->id][fi.flow % MAXFLOWS]);
				tu_failures++;
				return 0;
			}
			peer_seq[v->id][fi.flow]++;
			r = (int)build(frame, v, fi.flow, fi.seq, 1);
			/* Every other answer with its UDP checksum left to the
			 * receiver (CHECKSUM_PARTIAL): netback completes it for
			 * a frontend that said feature-no-csum-offload=1. */
			memset(&ti, 0, sizeof(ti));
			if (!v->plain_rx && fi.seq % 2 == 0) {
				uint8_t *ip = frame + 14;

				ti.flags = PVIO_NETTXF_csum_blank | PVIO_NETTXF_data_validated;
				v->sent_partial++;
				pg_put16(ip + 20 + 6, pg_fold(pg_pseudo(ip, false, PG_UDP,
									(unsigned)r - 34)));
			}
			if (send_retry(&peer, 0, frame, (unsigned)r, &ti) <= 0) {
				fprintf(stderr, "peer: cannot answer %s\n", v->name);
				tu_failures++;
				return 0;
			}
		}
		/* The personality: every answer, in order per flow. */
		for (unsigned k = 0; k < BURST * nf; k++) {
			struct nbf_rxinfo ri;
			int r = recv_any(&v->f, rbuf, sizeof(rbuf), &ri, T);
			struct fr_info fi = { 0 };
			const char *why = NULL;

			if (r > 0 && (ri.flags & PVIO_NETRXF_csum_blank)) {
				v->got_partial++;
				if (v->no_csum)
					why = "a partial checksum for a frontend that said "
					      "feature-no-csum-offload=1";
				else
					csum_complete(rbuf, r);   /* the guest's stack */
			}
			if (!why)
				why = r > 0 ? check_frame(rbuf, r, v->mac, &fi) : "nothing";

			if (!why && (fi.id != v->id || fi.dir != 1 || fi.flow >= nf))
				why = "not an answer to us";
			if (!why && fi.seq != v->rx_seq[fi.flow])
				why = "out of order";
			if (!why && v->one_slot &&
			    (ri.slots != 1 || (ri.flags & (PVIO_NETRXF_extra_info |
							   PVIO_NETRXF_more_data))))
				why = "more than one slot, or extras (it takes neither)";
			if (why) {
				fprintf(stderr, "peer -> %s: frame %u of %u: %s (r %d, flow %u, seq %u, "
					"expected %u)\n", v->name, k, BURST * nf, why, r, fi.flow,
					fi.seq, v->rx_seq[fi.flow % MAXFLOWS]);
				tu_failures++;
				return 0;
			}
			v->rx_seq[fi.flow]++;
			n++;
		}
	}
	for (unsigned k = 0; k < nq; k++) {
		CHECK_EQ(nbf_tx_drain(&v->f, k, T), 0);
		CHECK_EQ(v->f.q[k].tx_err + v->f.q[k].tx_dropped + v->f.q[k].tx_bad_id, 0);
		CHECK_EQ(v->f.q[k].rx_err_pkts + v->f.q[k].rx_protocol_errors, 0);
	}
	CHECK_EQ(nbf_tx_drain(&peer, 0, T), 0);
	return n;
}

static void data(struct vm *v, const char *when)
{
	unsigned n = exchange(v);

	if (n)
		printf("%s %s: %u frames each way over %u flow(s) on %u queue(s), in order, "
		       "checksums right%s", v->name, when, n, v->nflows, v->f.nq,
		       v->sent_partial ? "; " : "\n");
	if (n && v->sent_partial)
		printf("of %u answers sent with a partial checksum %u arrived partial%s\n",
		       v->sent_partial, v->got_partial, v->no_csum ?
		       " (feature-no-csum-offload=1: netback completed them)" : "");
}

/* ------------------------------------------------------------ xenvif */

static void xv_trace(struct vm *v, const char *fmt, const char *s)
{
	size_t n = strlen(v->trace);

	snprintf(v->trace + n, sizeof(v->trace) - n, fmt, s);
}

/* FrontendIsBackendOnline: strtol(online, 2); unreadable is offline. */
static bool xv_backend_online(struct vm *v)
{
	char b[32];

	return be_read(v, "online", b, sizeof(b)) == 0 && strtol(b, NULL, 2) != 0;
}

/* FrontendSetXenbusState. */
static void xv_set(struct vm *v, xst st)
{
	bool online = xv_backend_online(v);

	set_state(v, PVIO_XS_NO_TX, st);
	xv_trace(v, "->%s ", pvio_xenbus_state_name(st));
	if (st == ST(CLOSED) && !online)
		v->offline = true;
}

/* FrontendWaitForBackendXenbusStateChange: until the state differs from
 * *st (a vanished node reads Unknown). xenvif gives up after 120 s. */
static void xv_wait_change(struct vm *v, xst *st)
{
	xst old = *st;

	if (pvio_xenbus_wait_state(v->xs, v->f.be, ALL_STATES & ~PVIO_XENBUS_MASK(old), T,
				   st) < 0) {
		fprintf(stderr, "xenvif: the backend stayed %s\n", pvio_xenbus_state_name(old));
		tu_failures++;
		v->offline = true;
		*st = old;
		return;
	}
	xv_trace(v, "[%s]", pvio_xenbus_state_name(*st));
}

static void xv_unexpected(struct vm *v, xst st, const char *in)
{
	/* ASSERT(FALSE) in xenvif. */
	fprintf(stderr, "xenvif %s: backend state %s is one xenvif does not expect\n", in,
		pvio_xenbus_state_name(st));
	tu_failures++;
	v->offline = true;
}

/* FrontendPrepare: 0 once the backend is in InitWait. */
static int xv_prepare(struct vm *v)
{
	xst st = ST(UNKNOWN);

	v->offline = false;   /* FrontendSetOnline */
	while (st != ST(INITWAIT)) {
		if (v->offline)
			break;
		xv_wait_change(v, &st);
		switch (st) {
		case ST(UNKNOWN):
			v->offline = true;
			break;
		case ST(CLOSED):
			if (xv_backend_online(v))
				xv_set(v, ST(INITIALISING));
			else
				v->offline = true;
			break;
		case ST(CONNECTED):
			xv_set(v, ST(CLOSING));
			break;
		case ST(CLOSING):
			xv_set(v, ST(CLOSED));
			break;
		case ST(INITIALISING):
		case ST(INITWAIT):
			break;
		default:
			xv_unexpected(v, st, "Prepare");
			break;
		}
	}
	xv_trace(v, "%s", "| ");
	return st == ST(INITWAIT) ? 0 : -1;
}

/* FrontendClose. */
static void xv_close(struct vm *v)
{
	xst st = ST(UNKNOWN);

	while (st != ST(CLOSED)) {
		if (v->offline)
			break;
		xv_wait_change(v, &st);
		switch (st) {
		case ST(UNKNOWN):
			v->offline = true;
			break;
		case ST(CONNECTED):
		case ST(INITWAIT):
			xv_set(v, ST(CLOSING));
			break;
		case ST(CLOSING):
			xv_set(v, ST(CLOSED));
			break;
		case ST(CLOSED):
			break;
		default:
			xv_unexpected(v, st, "Close");
			break;
		}
	}
	xv_trace(v, "%s", "| ");
	if (!v->offline)
		CHECK_EQ(st, ST(CLOSED));
}

/* The backend keys xenvif parses with strtol(..., 2): "0" or "1" exactly. */
static void xv_check_bits(struct vm *v)
{
	static const char *const keys[] = {
		"online", "feature-split-event-channels", "feature-ctrl-ring",
		"feature-dynamic-multicast-control", "feature-gso-tcpv4", "feature-gso-tcpv6",
		"feature-no-csum-offload", "feature-ipv6-csum-offload",
	};
	char b[64];

	for (unsigned i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (be_read(v, keys[i], b, sizeof(b)) == 0 && strcmp(b, "0") && strcmp(b, "1")) {
			fprintf(stderr, "xenvif: backend %s = '%s', not 0 or 1 (strtol base 2)\n",
				keys[i], b);
			tu_failures++;
		}
}

struct xv_conn {
	struct vm *v;
	bool split, mcast, ctrl;
};

/* ReceiverStoreWrite, TransmitterStoreWrite, ControllerStoreWrite and
 * multi-queue-num-queues, in FrontendConnect's one transaction. */
static int xv_keys(struct pvio_xs *xs, uint32_t tx, void *arg)
{
	struct xv_conn *c = arg;
	struct vm *v = c->v;
	struct nbf *f = &v->f;
	char key[64];
	int r = 0;

	(void)xs;
	r |= fe_put(v, tx, "request-rx-copy", "%u", 1);
	r |= fe_put(v, tx, "feature-sg", "%u", 1);
	r |= fe_put(v, tx, "feature-rx-notify", "%u", 1);
	fe_rm(v, tx, "feature-gso-tcpv4-prefix");
	r |= fe_put(v, tx, "feature-gso-tcpv4", "%u", 1);
	fe_rm(v, tx, "feature-gso-tcpv6-prefix");
	r |= fe_put(v, tx, "feature-gso-tcpv6", "%u", 1);
	r |= fe_put(v, tx, "feature-no-csum-offload", "%u", 0);
	r |= fe_put(v, tx, "feature-ipv6-csum-offload", "%u", 1);
	for (unsigned i = 0; i < f->nq; i++) {
		char pfx[24] = "";

		if (f->nq > 1)
			snprintf(pfx, sizeof(pfx), "queue-%u/", i);
		snprintf(key, sizeof(key), "%srx-ring-ref", pfx);
		r |= fe_put(v, tx, key, "%u", f->q[i].rx_ref);
		snprintf(key, sizeof(key), "%s%s", pfx, c->split ? "event-channel-rx" :
			 "event-channel");
		r |= fe_put(v, tx, key, "%u", f->q[i].port_rx);
	}
	if (c->mcast)
		r |= fe_put(v, tx, "request-multicast-control", "%u", 1);
	for (unsigned i = 0; i < f->nq; i++) {
		char pfx[24] = "";

		if (f->nq > 1)
			snprintf(pfx, sizeof(pfx), "queue-%u/", i);
		snprintf(key, sizeof(key), "%stx-ring-ref", pfx);
		r |= fe_put(v, tx, key, "%u", f->q[i].tx_ref);
		if (c->split) {
			snprintf(key, sizeof(key), "%sevent-channel-tx", pfx);
			r |= fe_put(v, tx, key, "%u", f->q[i].port_tx);
		}
	}
	if (c->ctrl) {
		r |= fe_put(v, tx, "ctrl-ring-ref", "%u", f->ctrl_ref);
		r |= fe_put(v, tx, "event-channel-ctrl", "%u", f->port_ctrl);
	}
	r |= fe_put(v, tx, "multi-queue-num-queues", "%u", f->nq);
	return r ? -EIO : 0;
}

/* xenvif's Frontend->Hash (reset at each FrontendInitialize). */
struct xv_hash {
	bool toeplitz;             /* else UNSPECIFIED/NONE */
	uint32_t size, flags;
	uint32_t mapping[128];
	uint8_t key[40];
};

static struct xv_hash xv_hash;

static void xv_ctrl(struct vm *v, uint16_t type, uint32_t d0, uint32_t d1, const char *what)
{
	int r = nbf_ctrl(&v->f, type, d0, d1, 0, NULL, T);

	if (r != PVIO_XEN_NETIF_CTRL_STATUS_SUCCESS) {
		fprintf(stderr, "xenvif: %s (%u, %u) answered %d\n", what, d0, d1, r);
		tu_failures++;
	}
}

/* __FrontendUpdateHash: the whole state, request by request. */
static void xv_update_hash(struct vm *v, const struct xv_hash *h)
{
	xv_ctrl(v, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM,
		h->toeplitz ? PVIO_XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ :
			      PVIO_XEN_NETIF_CTRL_HASH_ALGORITHM_NONE, 0, "SET_HASH_ALGORITHM");
	if (!h->toeplitz)
		return;
	xv_ctrl(v, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE, h->size, 0,
		"SET_HASH_MAPPING_SIZE");
	memcpy(v->f.ctrl_page, h->mapping, h->size * sizeof(uint32_t));
	xv_ctrl(v, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, v->f.ctrl_page_ref, h->size,
		"SET_HASH_MAPPING");
	memcpy(v->f.ctrl_page, h->key, sizeof(h->key));
	xv_ctrl(v, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, v->f.ctrl_page_ref, sizeof(h->key),
		"SET_HASH_KEY");
	xv_ctrl(v, PVIO_XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS, h->flags, 0, "SET_HASH_FLAGS");
}

/* xennet's RSS on top (adapter.c): at initialisation
 * ReceiverSetHashAlgorithm(Toeplitz) then ReceiverQueryHashCapabilities;
 * then NDIS's parameters: the algorithm again, UpdateHashParameters (types,
 * then key) and UpdateHashMapping, each a whole __FrontendUpdateHash.
 * xenvif refuses Toeplitz on one queue (FrontendSetHashAlgorithm) without
 * asking the backend. */
static void xv_rss(struct vm *v)
{
	uint32_t flags = 0;

	if (v->f.nq == 1)
		return;
	xv_hash.toeplitz = true;
	xv_update_hash(v, &xv_hash);
	CHECK_EQ(nbf_ctrl(&v->f, PVIO_XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS, 0, 0, 0, &flags, T),
		 PVIO_XEN_NETIF_CTRL_STATUS_SUCCESS);
	CHECK_EQ(flags, PVIO_XEN_NETIF_CTRL_HASH_TYPE_IPV4 |
			PVIO_XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP |
			PVIO_XEN_NETIF_CTRL_HASH_TYPE_IPV6 |
			PVIO_XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP);
	xv_update_hash(v, &xv_hash);
	xv_hash.flags = flags;
	xv_update_hash(v, &xv_hash);
	for (unsigned i = 0; i < sizeof(xv_hash.key); i++)
		xv_hash.key[i] = (uint8_t)(0x6d + 0x5a * i);
	xv_update_hash(v, &xv_hash);
	xv_hash.size = 128;
	for (unsigned i = 0; i < 128; i++)
		xv_hash.mapping[i] = i % v->f.nq;
	xv_update_hash(v, &xv_hash);
}

/* The multicast list Windows hands xenvif (OID_802_3_MULTICAST_LIST of an
 * IPv4+IPv6 interface). */
static const uint8_t xv_groups[][6] = {
	{ 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 }, { 0x01, 0x00, 0x5e, 0x00, 0x00, 0xfc },
	{ 0x01, 0x00, 0x5e, 0x7f, 0xff, 0xfa }, { 0x33, 0x33, 0x00, 0x00, 0x00, 0x01 },
	{ 0x33, 0x33, 0x00, 0x01, 0x00, 0x03 }, { 0x33, 0x33, 0xff, 0x00, 0x51, 0x01 },
};
#define XV_NGROUPS (sizeof(xv_groups) / sizeof(xv_groups[0]))

/* FrontendNotifyMulticastAddresses: one MCAST_ADD/DEL per group on ring
 * 0, as TransmitterQueueMulticastControl builds it: a request with no
 * buffer (gref 0, offset 0, size 0, NETTXF_extra_info) and a zeroed extra.
 * Each must be answered OKAY. */
static void xv_notify_mcast(struct vm *v, bool add)
{
	struct nbf_q *q = &v->f.q[0];
	uint64_t ok0, err0;
	unsigned s = 0;

	REQUIRE(nbf_tx_drain(&v->f, 0, T) == 0);
	REQUIRE(pvio_ring_free_requests(&q->tx) >= 2 * XV_NGROUPS);
	ok0 = q->tx_ok;
	err0 = q->tx_err + q->tx_dropped;
	for (unsigned i = 0; i < XV_NGROUPS; i++) {
		struct pvio_netif_tx_request *r = pvio_netif_tx_req_slot(&q->tx, s++);
		void *slot = pvio_netif_tx_req_slot(&q->tx, s++);
		struct pvio_netif_extra_info x;
		int id = nbf_tx_id(&v->f, 0);

		REQUIRE(id >= 0);
		memset(r, 0, sizeof(*r));
		r->flags = PVIO_NETTXF_extra_info;
		r->id = (uint16_t)id;
		memset(&x, 0, sizeof(x));
		x.type = add ? PVIO_XEN_NETIF_EXTRA_TYPE_MCAST_ADD : PVIO_XEN_NETIF_EXTRA_TYPE_MCAST_DEL;
		memcpy(x.u.mcast.addr, xv_groups[i], 6);
		memset(slot, 0, sizeof(union pvio_netif_tx_slot));
		memcpy(slot, &x, sizeof(x));
	}
	pvio_ring_produce_requests(&q->tx, s);
	if (pvio_ring_push_requests(&q->tx))
		pvio_hv_evtchn_notify(v->hv, q->port_tx);
	CHECK_EQ(nbf_tx_drain(&v->f, 0, T), 0);
	CHECK_EQ(q->tx_ok - ok0, XV_NGROUPS);
	CHECK_EQ(q->tx_err + q->tx_dropped - err0, 0);
}

/* FrontendConnect, then ControllerEnable and FrontendEnable. */
static int xv_connect(struct vm *v, unsigned max_queues)
{
	struct xv_conn c = { .v = v };
	struct nbf_opts o = { 0 };
	unsigned long be_max;
	xst st = ST(UNKNOWN);

	xv_check_bits(v);
	be_max = be_num(v, "multi-queue-max-queues", 10, 1, NULL);
	if (be_max == 0)
		return -1;
	o.nq = (unsigned)(max_queues < be_max ? max_queues : be_max);
	c.split = be_num(v, "feature-split-event-channels", 2, 0, NULL) != 0;
	c.mcast = be_num(v, "feature-dynamic-multicast-control", 2, 0, NULL) != 0;
	c.ctrl = be_num(v, "feature-ctrl-ring", 2, 0, NULL) != 0;
	o.split = c.split;
	o.ctrl = c.ctrl;
	o.sg = o.gso4 = o.gso6 = o.csum6 = true;
	o.mcast = c.mcast;
	rings_setup(v, &o);
	REQUIRE(pvio_xs_transaction_run(v->xs, xv_keys, &c) >= 0);
	while (st != ST(CONNECTED)) {
		if (v->offline)
			break;
		xv_wait_change(v, &st);
		switch (st) {
		case ST(UNKNOWN):
			v->offline = true;
			break;
		case ST(INITWAIT):
		case ST(INITIALISED):
			xv_set(v, ST(CONNECTED));
			break;
		case ST(CLOSING):
			xv_set(v, ST(CLOSED));
			break;
		case ST(CONNECTED):
		case ST(CLOSED):
			break;
		default:
			xv_unexpected(v, st, "Connect");
			break;
		}
	}
	if (st != ST(CONNECTED))
		return -1;
	/* FrontendEnable: the receiver's rings filled, the hash state sent. */
	for (unsigned i = 0; i < v->f.nq; i++)
		nbf_post_rx(&v->f, i, 0);
	if (c.ctrl)
		xv_update_hash(v, &xv_hash);
	if (c.mcast)
		xv_notify_mcast(v, true);
	if (c.ctrl)
		xv_rss(v);
	return 0;
}

struct detach {
	struct pvio_xs *xs;
	uint16_t domid;
	int r;
};

static int libxl_remove_tx(struct pvio_xs *xs, uint32_t tx, void *arg)
{
	struct detach *d = arg;
	char path[200];
	xst st;
	int r;

	snprintf(path, sizeof(path), "/local/domain/0/backend/vif/%u/0", d->domid);
	if ((r = pvio_xenbus_read_state(xs, tx, path, &st)) < 0)
		return r;
	snprintf(path, sizeof(path), "/local/domain/0/backend/vif/%u/0/online", d->domid);
	if ((r = pvio_xs_write(xs, tx, path, "0", 1)) < 0)
		return r;
	snprintf(path, sizeof(path), "/local/domain/0/backend/vif/%u/0", d->domid);
	return st == ST(CLOSED) ? 0 : pvio_xenbus_switch_state(xs, tx, path, ST(CLOSING));
}

/* libxl__initiate_device_generic_remove: online=0 and backend Closing in
 * one transaction, wait for the backend's Closed, then
 * libxl__device_destroy removes both directories. */
static void *libxl_detach_thread(void *arg)
{
	struct detach *d = arg;
	char be[160], fe[160];

	snprintf(be, sizeof(be), "/local/domain/0/backend/vif/%u/0", d->domid);
	snprintf(fe, sizeof(fe), "/local/domain/%u/device/vif/0", d->domid);
	d->r = pvio_xs_transaction_run(d->xs, libxl_remove_tx, d);
	if (d->r >= 0)
		d->r = pvio_xenbus_wait_state(d->xs, be, M(CLOSED), T, NULL);
	pvio_xs_rm(d->xs, PVIO_XS_NO_TX, be);
	pvio_xs_rm(d->xs, PVIO_XS_NO_TX, fe);
	return NULL;
}

struct eject_read {
	struct vm *v;
	bool online;
	xst state;
};

static int eject_tx(struct pvio_xs *xs, uint32_t tx, void *arg)
{
	struct eject_read *e = arg;
	char path[256], b[32];
	int r;

	snprintf(path, sizeof(path), "%s/online", e->v->f.be);
	if ((r = pvio_xs_read_buf(xs, tx, path, b, sizeof(b), NULL)) < 0)
		return r;
	e->online = strtol(b, NULL, 2) != 0;
	return pvio_xenbus_read_state(xs, tx, e->v->f.be, &e->state);
}

/* The detach seen from xenvif (FrontendEject, then the PnP eject's
 * D0 -> D3: Disable, Close, Disconnect). */
static void xv_detach(struct vm *v)
{
	struct detach d = { .domid = v->domid };
	struct eject_read e = { .v = v };
	char online[256];
	struct pvio_xs_event *ev = malloc(sizeof(*ev));
	double end;
	pthread_t t;
	int fd;

	REQUIRE(ev);
	snprintf(online, sizeof(online), "%s/online", v->f.be);
	REQUIRE(pvio_xs_watch(v->xs_eject, online, "eject") == 0);
	REQUIRE(pvio_hv_xs_connect(nbt.dom0, &fd) == 0 && pvio_xs_open_fd(fd, &d.xs) == 0);
	REQUIRE(pthread_create(&t, NULL, libxl_detach_thread, &d) == 0);
	end = tu_now() + T / 1000.0;
	for (;;) {
		if (tu_now() >= end || pvio_xs_read_watch(v->xs_eject, "eject", ev, T) < 0) {
			fprintf(stderr, "xenvif: its eject thread never saw online=0 with the "
				"backend Closing\n");
			tu_failures++;
			break;
		}
		if (pvio_xs_transaction_run(v->xs_eject, eject_tx, &e) < 0)
			continue;
		if (!e.online && e.state == ST(CLOSING)) {
			xv_trace(v, "%s", "eject: ");
			break;
		}
	}
	pvio_xs_unwatch(v->xs_eject, online, "eject");
	free(ev);
	xv_notify_mcast(v, false);
	xv_close(v);
	CHECK(v->offline);   /* FrontendSetXenbusState(Closed) with online=0 */
	pthread_join(t, NULL);
	pvio_xs_close(d.xs);
	CHECK_EQ(d.r, 0);
	rings_release(v, &v->f);
	CHECK_EQ(pvio_xs_read_buf(nbt.xs, PVIO_XS_NO_TX, online, online, sizeof(online), NULL),
		 -ENOENT);
}

static void scenario_xenvif(void)
{
	struct vm *v = &vms[P_XENVIF];
	struct tu_res base = { 0 }, pre, now;
	struct nbf old;

	/* PDO start on the fresh backend (FrontendResume: Prepare, Close),
	 * D0 (Prepare, Connect), Enable. */
	v->trace[0] = 0;
	memset(&xv_hash, 0, sizeof(xv_hash));   /* FrontendInitialize */
	REQUIRE(xv_prepare(v) == 0);
	xv_close(v);
	REQUIRE(xv_prepare(v) == 0);
	pre = tu_res_of(nbt.netback);
	REQUIRE(xv_connect(v, 2) == 0);
	printf("xenvif start (2 queues): %s\n", v->trace);
	printf("xenvif: before its first connection pvio-netback has fds %d, maps %d, "
	       "threads %d\n", pre.fds, pre.maps, pre.threads);
	CHECK_EQ(vif_stat(v, "queues"), 2);
	data(v, "start");

	for (unsigned k = 1; k <= REOPENS; k++) {
		unsigned maxq = k % 2 ? 1 : 2;
		bool stale = k == STALE_AT;

		v->trace[0] = 0;
		if (stale) {
			/* The old instance goes without its Close: its rings
			 * stay with the backend until the new one's Prepare. */
			old = v->f;
		} else {
			/* Stop: Disable (MCAST_DELs), Close, Disconnect. */
			xv_notify_mcast(v, false);
			xv_close(v);
			rings_release(v, &v->f);
			CHECK_EQ(vif_stat(v, "connected"), 0);   /* kept: online=1 */
		}
		/* The new instance: FrontendInitialize, PDO start (Prepare,
		 * Close), D0. */
		memset(&xv_hash, 0, sizeof(xv_hash));
		REQUIRE(xv_prepare(v) == 0);
		if (stale)
			rings_release(v, &old);
		xv_close(v);
		REQUIRE(xv_prepare(v) == 0);
		if (k == 1) {
			base = tu_res_of(nbt.netback);
			now = base;
		} else {
			now = tu_res_settle(nbt.netback, &base);
		}
		REQUIRE(xv_connect(v, maxq) == 0);
		printf("xenvif restart %u (%u queue(s)%s): %s\n", k, maxq,
		       stale ? ", the old instance did not close" : "", v->trace);
		if (k == 1) {
			printf("xenvif: InitWait after its first connection: fds %d, maps %d, "
			       "threads %d: the start values\n", base.fds, base.maps, base.threads);
		} else {
			printf("xenvif restart %u at InitWait: fds %d->%d, maps %d->%d, "
			       "threads %d->%d\n", k, base.fds, now.fds, base.maps, now.maps,
			       base.threads, now.threads);
			CHECK_EQ(now.fds, base.fds);
			CHECK_EQ(now.maps, base.maps);
			CHECK_EQ(now.threads, base.threads);
		}
		CHECK_EQ(vif_stat(v, "queues"), maxq);
		{
			char when[32];

			snprintf(when, sizeof(when), "restart %u", k);
			data(v, when);
		}
	}
	/* libxl detaches the vif (online=0 and backend Closing in one
	 * transaction); xenvif's eject thread, woken by its watch on online,
	 * reads online and state in one transaction and ejects the device:
	 * Disable (MCAST_DELs), Close (the backend is Closing: Closed, and
	 * with online=0 xenvif goes offline without waiting), Disconnect.
	 * The backend releases the vif at the frontend's Closed; libxl
	 * removes the nodes once the backend is Closed; the guest has no
	 * device left, so netback lets go of its memory too. */
	v->trace[0] = 0;
	xv_detach(v);
	printf("xenvif ejected by the toolstack's detach: %s\n", v->trace);
	CHECK_EQ(vif_stat(v, "connected"), -1);
	/* Back to before its first connection, less the eventfd the probed
	 * device itself held (vif_probe's broken-path eventfd). */
	pre.fds--;
	now = tu_res_settle(nbt.netback, &pre);
	printf("xenvif removed: fds %d, maps %d, threads %d (before its first connection, "
	       "less the removed device's own eventfd: %d, %d, %d)\n", now.fds, now.maps,
	       now.threads, pre.fds, pre.maps, pre.threads);
	CHECK_EQ(now.fds, pre.fds);
	CHECK_EQ(now.maps, pre.maps);
	CHECK_EQ(now.threads, pre.threads);
}

/* ------------------------------------------------------------ linux */

/* xenbus_switch_state: nothing if the driver's state is that already. */
static void lx_switch(struct vm *v, uint32_t tx, xst st)
{
	if (v->own == st)
		return;
	set_state(v, tx, st);
	v->own = st;
}

struct lx_conn {
	struct vm *v;
	bool mq_key;
};

static int lx_keys(struct pvio_xs *xs, uint32_t tx, void *arg)
{
	struct lx_conn *c = arg;
	struct vm *v = c->v;
	struct nbf *f = &v->f;
	char key[64];
	int r = 0;

	(void)xs;
	if (c->mq_key)
		r |= fe_put(v, tx, "multi-queue-num-queues", "%u", f->nq);
	for (unsigned i = 0; i < f->nq; i++) {
		char pfx[24] = "";

		if (f->nq > 1)
			snprintf(pfx, sizeof(pfx), "queue-%u/", i);
		snprintf(key, sizeof(key), "%stx-ring-ref", pfx);
		r |= fe_put(v, tx, key, "%u", f->q[i].tx_ref);
		snprintf(key, sizeof(key), "%srx-ring-ref", pfx);
		r |= fe_put(v, tx, key, "%u", f->q[i].rx_ref);
		if (f->q[i].port_tx == f->q[i].port_rx) {
			snprintf(key, sizeof(key), "%sevent-channel", pfx);
			r |= fe_put(v, tx, key, "%u", f->q[i].port_tx);
		} else {
			snprintf(key, sizeof(key), "%sevent-channel-tx", pfx);
			r |= fe_put(v, tx, key, "%u", f->q[i].port_tx);
			snprintf(key, sizeof(key), "%sevent-channel-rx", pfx);
			r |= fe_put(v, tx, key, "%u", f->q[i].port_rx);
		}
	}
	r |= fe_put(v, tx, "request-rx-copy", "%u", 1);
	r |= fe_put(v, tx, "feature-rx-notify", "%d", 1);
	r |= fe_put(v, tx, "feature-sg", "%d", 1);
	r |= fe_put(v, tx, "feature-gso-tcpv4", "%d", 1);
	r |= fe_put(v, tx, "feature-gso-tcpv6", "%s", "1");
	r |= fe_put(v, tx, "feature-ipv6-csum-offload", "%s", "1");
	return r ? -EIO : 0;
}

#define EARLY 4

/* Frames the stack had queued while the carrier was off: xennet_connect
 * turns the carrier on and kicks the tx ring before netback_changed
 * switches to Connected, so they are on the ring (their notification to a
 * port the backend has not bound yet) before the backend connects. */
static void lx_early_tx(struct vm *v)
{
	for (uint32_t seq = 0; seq < EARLY; seq++) {
		unsigned len = build(frame, v, 0, seq, 0);

		REQUIRE(send_retry(&v->f, 0, frame, len, NULL) > 0);
	}
}

/* ... and the backend must find them at connect, not wait for a kick. */
static void lx_early_check(struct vm *v)
{
	for (uint32_t k = 0; k < EARLY; k++) {
		int r = recv_any(&peer, rbuf, sizeof(rbuf), NULL, T);
		struct fr_info fi = { 0 };
		const char *why = r > 0 ? check_frame(rbuf, r, peer_mac, &fi) : "nothing";

		if (!why && (fi.id != v->id || fi.flow != 0 || fi.seq != k))
			why = "not the frame expected";
		if (why) {
			fprintf(stderr, "linux: frame %u it sent before Connected: %s\n", k, why);
			tu_failures++;
			return;
		}
	}
	CHECK_EQ(nbf_tx_drain(&v->f, 0, T), 0);
	printf("linux: the %u frames it queued before Connected went out once the backend "
	       "connected\n", EARLY);
}

/* The driver binds (xennet_create_dev), then netback_changed(InitWait):
 * xennet_connect (talk_to_netback), Connected. With early_tx the interface
 * was up (as on a resume): the stack's queued frames go on the ring in
 * xennet_connect. */
static void lx_probe(struct vm *v, bool early_tx)
{
	struct lx_conn c = { .v = v };
	struct nbf_opts o = { 0 };
	unsigned long maxq, nq;
	char mac[32];
	bool mq;
	xst st;

	lx_switch(v, PVIO_XS_NO_TX, ST(INITIALISING));
	wait_be(v, ALL_STATES & ~M(CLOSED) & ~M(UNKNOWN), "a state other than Closed");
	st = wait_be(v, M(INITWAIT) | M(CONNECTED) | M(CLOSING) | M(CLOSED), "InitWait");
	REQUIRE(st == ST(INITWAIT) && v->own == ST(INITIALISING));
	/* xennet_connect: only a copying backend. */
	REQUIRE(be_num(v, "feature-rx-copy", 10, 0, NULL) != 0);
	/* talk_to_netback */
	{
		unsigned long long trusted = 1;   /* absent: trusted, no bouncing */

		pvio_xenbus_read_uint(v->xs, PVIO_XS_NO_TX, v->f.fe, "trusted", &trusted);
		CHECK(trusted != 0);
	}
	maxq = be_num(v, "multi-queue-max-queues", 10, 1, &mq);
	nq = maxq < LINUX_VCPUS ? maxq : LINUX_VCPUS;   /* xennet_max_queues */
	o.nq = (unsigned)nq;
	o.split = be_num(v, "feature-split-event-channels", 10, 0, NULL) != 0;
	{
		char path[256];

		snprintf(path, sizeof(path), "%s/mac", v->f.fe);
		REQUIRE(pvio_xs_read_buf(v->xs, PVIO_XS_NO_TX, path, mac, sizeof(mac), NULL) == 0);
	}
	if (be_num(v, "feature-xdp-headroom", 10, 0, NULL))
		REQUIRE(fe_put(v, PVIO_XS_NO_TX, "xdp-headroom", "%hu", (unsigned short)0) == 0);
	o.sg = o.gso4 = o.gso6 = o.csum6 = true;
	rings_setup(v, &o);
	c.mq_key = mq;
	REQUIRE(pvio_xs_transaction_run(v->xs, lx_keys, &c) >= 0);
	/* netif_carrier_on, notify, xennet_alloc_rx_buffers */
	if (early_tx)
		lx_early_tx(v);
	for (unsigned i = 0; i < v->f.nq; i++)
		nbf_post_rx(&v->f, i, 0);
	lx_switch(v, PVIO_XS_NO_TX, ST(CONNECTED));
	/* netback_changed(Connected): netdev_notify_peers, its first frames. */
	wait_be(v, M(CONNECTED), "Connected");
}

/* xennet_remove: xennet_bus_close, then xennet_disconnect_backend. */
static void lx_remove(struct vm *v)
{
	xst st = be_state(v);

	if (st != ST(CLOSED)) {
		lx_switch(v, PVIO_XS_NO_TX, ST(CLOSING));
		st = wait_be(v, M(CLOSING) | M(CLOSED) | M(UNKNOWN), "Closing");
		if (st != ST(CLOSED)) {
			lx_switch(v, PVIO_XS_NO_TX, ST(CLOSED));
			wait_be(v, M(CLOSED) | M(UNKNOWN), "Closed");
		}
	}
	rings_release(v, &v->f);
}

static void scenario_linux(void)
{
	struct vm *v = &vms[P_LINUX];
	char path[200];

	v->own = ST(INITIALISING);   /* xenbus_probe_node */
	lx_probe(v, false);
	/* What it wrote and read is what the real xen-netfront writes and what
	 * real backends offer (tests/xen/test_xen_net.sh, same file). */
	CHECK_EQ(tu_keys_check(v->xs, "tests/netback/linux-netfront.keys", v->f.fe, v->f.be,
			       "linux"), 0);
	CHECK_EQ(vif_stat(v, "queues"), v->f.nq);
	data(v, "probe");
	lx_remove(v);
	CHECK_EQ(be_state(v), ST(CLOSED));
	CHECK_EQ(vif_stat(v, "connected"), 0);
	printf("linux removed with online=1: backend Closed, vif kept\n");
	/* The driver binds again: Initialising; the kept device reconnects. */
	lx_probe(v, true);
	lx_early_check(v);
	CHECK_EQ(vif_stat(v, "connected"), 1);
	data(v, "rebound");
	lx_remove(v);
	/* The toolstack takes the device away; the driver binds once more. */
	snprintf(path, sizeof(path), "%s/online", v->f.be);
	REQUIRE(pvio_xs_write(nbt.xs, PVIO_XS_NO_TX, path, "0", 1) == 0);
	lx_switch(v, PVIO_XS_NO_TX, ST(INITIALISING));
	{
		char key[64];

		snprintf(key, sizeof(key), "vif.%u.0.connected", v->domid);
		CHECK_EQ(nbt_stat_wait(key, -1, true, T), -1);
	}
	CHECK_EQ(be_state(v), ST(CLOSED));
	printf("linux back with online=0: the backend released the vif and stays Closed "
	       "(the driver keeps waiting for it to leave Closed)\n");
	CHECK_EQ(pvio_ts_net_detach(nbt.xs, v->domid, 0, T), 0);
}

/* ------------------------------------------------------------ freebsd */

struct fb_conn {
	struct vm *v;
	bool rxcsum;
};

static int fb_keys(struct pvio_xs *xs, uint32_t tx, void *arg)
{
	struct fb_conn *c = arg;
	struct vm *v = c->v;
	struct nbf *f = &v->f;
	char key[64];
	int r = 0;

	(void)xs;
	if (f->nq > 1)
		r |= fe_put(v, tx, "multi-queue-num-queues", "%u", f->nq);
	for (unsigned i = 0; i < f->nq; i++) {
		char pfx[24] = "";

		if (f->nq > 1)
			snprintf(pfx, sizeof(pfx), "queue-%u/", i);
		snprintf(key, sizeof(key), "%stx-ring-ref", pfx);
		r |= fe_put(v, tx, key, "%u", f->q[i].tx_ref);
		snprintf(key, sizeof(key), "%srx-ring-ref", pfx);
		r |= fe_put(v, tx, key, "%u", f->q[i].rx_ref);
		snprintf(key, sizeof(key), "%sevent-channel", pfx);
		r |= fe_put(v, tx, key, "%u", f->q[i].port_rx);
	}
	r |= fe_put(v, tx, "request-rx-copy", "%u", 1);
	r |= fe_put(v, tx, "feature-rx-notify", "%d", 1);
	r |= fe_put(v, tx, "feature-sg", "%d", 1);
	r |= fe_put(v, tx, "feature-gso-tcpv4", "%d", 1);   /* IFCAP_LRO */
	if (!c->rxcsum)
		r |= fe_put(v, tx, "feature-no-csum-offload", "%d", 1);
	return r ? -EIO : 0;
}

/* netfront_backend_changed(InitWait) with its own state Initialising:
 * xn_connect, Connected, xn_kick_rings. */
static void fb_connect(struct vm *v, bool rxcsum)
{
	struct fb_conn c = { .v = v, .rxcsum = rxcsum };
	struct nbf_opts o = { 0 };
	unsigned long maxq;
	bool present;

	wait_be(v, M(INITWAIT), "InitWait");
	REQUIRE(be_num(v, "feature-rx-copy", 10, 0, NULL) != 0);   /* else EPROTONOSUPPORT */
	maxq = be_num(v, "multi-queue-max-queues", 10, 1, NULL);
	o.nq = (unsigned)(maxq < FREEBSD_NUM_QUEUES ? maxq : FREEBSD_NUM_QUEUES);
	o.sg = o.gso4 = true;
	o.no_csum = !rxcsum;
	rings_setup(v, &o);
	REQUIRE(pvio_xs_transaction_run(v->xs, fb_keys, &c) >= 0);
	/* xn_query_features */
	CHECK(be_num(v, "feature-sg", 10, 0, NULL) == 1);
	CHECK(be_num(v, "feature-gso-tcpv4", 10, 0, NULL) == 1);
	CHECK(be_num(v, "feature-no-csum-offload", 10, 0, &present) == 0);
	set_state(v, PVIO_XS_NO_TX, ST(CONNECTED));
	for (unsigned i = 0; i < v->f.nq; i++)
		nbf_post_rx(&v->f, i, 0);
	/* netfront_backend_changed(Connected): the fake ARP, its first frame. */
	wait_be(v, M(CONNECTED), "Connected");
}

static void *detach_thread(void *arg)
{
	struct detach *d = arg;

	d->r = pvio_ts_net_detach(d->xs, d->domid, 0, T);
	return NULL;
}

static void scenario_freebsd(void)
{
	struct vm *v = &vms[P_FREEBSD];
	struct detach d = { 0 };
	pthread_t t;
	char key[64], path[200];
	int fd;
	xst st;

	/* xenbusb_front: the node is Initialising. */
	set_state(v, PVIO_XS_NO_TX, ST(INITIALISING));
	fb_connect(v, true);
	CHECK_EQ(vif_stat(v, "queues"), v->f.nq);
	data(v, "attach");

	/* SIOCSIFCAP (RXCSUM off): the interface reset. */
	fe_rm(v, PVIO_XS_NO_TX, "feature-gso-tcpv4");
	fe_rm(v, PVIO_XS_NO_TX, "feature-no-csum-offload");
	set_state(v, PVIO_XS_NO_TX, ST(CLOSING));
	st = wait_be(v, M(CLOSING) | M(CLOSED), "Closing");
	if (st == ST(CLOSING)) {
		set_state(v, PVIO_XS_NO_TX, ST(CLOSED));
		wait_be(v, M(CLOSED), "Closed");
	}
	/* Closed with xn_reset: netif_disconnect_backend, Initialising. */
	CHECK_EQ(vif_stat(v, "connected"), 0);
	rings_release(v, &v->f);
	set_state(v, PVIO_XS_NO_TX, ST(INITIALISING));
	fb_connect(v, false);
	v->no_csum = true;
	data(v, "after its feature reset");

	/* The toolstack detaches it (online=0, backend Closing). */
	REQUIRE(pvio_hv_xs_connect(nbt.dom0, &fd) == 0 && pvio_xs_open_fd(fd, &d.xs) == 0);
	d.domid = v->domid;
	REQUIRE(pthread_create(&t, NULL, detach_thread, &d) == 0);
	wait_be(v, M(CLOSING) | M(CLOSED) | M(UNKNOWN), "Closing");
	set_state(v, PVIO_XS_NO_TX, ST(CLOSED));   /* netfront_backend_changed(Closing) */
	pthread_join(t, NULL);
	pvio_xs_close(d.xs);
	CHECK_EQ(d.r, 0);
	snprintf(key, sizeof(key), "vif.%u.0.connected", v->domid);
	CHECK_EQ(nbt_stat_wait(key, -1, true, T), -1);
	snprintf(path, sizeof(path), "%s/state", v->f.be);
	CHECK_EQ(pvio_xs_read_buf(nbt.xs, PVIO_XS_NO_TX, path, key, sizeof(key), NULL), -ENOENT);
	/* The device is gone: netfront_detach, netif_free. */
	rings_release(v, &v->f);
	printf("freebsd detached by the toolstack (online=0): its Closed released the vif, "
	       "the nodes are gone\n");
}

/* ------------------------------------------------------------ minios */

static int mo_keys(struct pvio_xs *xs, uint32_t tx, void *arg)
{
	struct vm *v = arg;
	int r = 0;

	(void)xs;
	r |= fe_put(v, tx, "tx-ring-ref", "%u", v->f.q[0].tx_ref);
	r |= fe_put(v, tx, "rx-ring-ref", "%u", v->f.q[0].rx_ref);
	r |= fe_put(v, tx, "event-channel", "%u", v->f.q[0].port_tx);
	r |= fe_put(v, tx, "request-rx-copy", "%u", 1);
	if (!r)
		r = pvio_xenbus_switch_state(v->xs, tx, v->f.fe, ST(CONNECTED));
	return r ? -EIO : 0;
}

/* _init_netfront (also resume_netfront's). */
static void mo_init(struct vm *v)
{
	struct nbf_opts o = { .nq = 1, .no_rx_notify = true };
	char b[64], path[256];
	xst st;

	rings_setup(v, &o);
	nbf_post_rx(&v->f, 0, 0);                  /* init_rx_buffers: all of them */
	REQUIRE(pvio_xs_transaction_run(v->xs, mo_keys, v) >= 0);
	snprintf(path, sizeof(path), "%s/mac", v->f.fe);
	REQUIRE(pvio_xs_read_buf(v->xs, PVIO_XS_NO_TX, path, b, sizeof(b), NULL) == 0);
	st = be_state(v);
	if (st < ST(CONNECTED))
		st = wait_be(v, ALL_STATES & ~(M(UNKNOWN) | M(INITIALISING) | M(INITWAIT) |
					       M(INITIALISED)), "Connected");
	REQUIRE(st == ST(CONNECTED));
	be_read(v, "ip", b, sizeof(b));
}

/* _shutdown_netfront (also suspend_netfront's), then free_netfront. */
static void mo_shutdown(struct vm *v)
{
	xst st;

	set_state(v, PVIO_XS_NO_TX, ST(CLOSING));
	if (be_state(v) < ST(CLOSING))
		wait_be(v, M(CLOSING) | M(CLOSED) | M(RECONFIGURING) | M(RECONFIGURED), ">= Closing");
	set_state(v, PVIO_XS_NO_TX, ST(CLOSED));
	if (be_state(v) < ST(CLOSED))
		wait_be(v, M(CLOSED) | M(RECONFIGURING) | M(RECONFIGURED), ">= Closed");
	set_state(v, PVIO_XS_NO_TX, ST(INITIALISING));
	st = be_state(v);
	if (st < ST(INITWAIT) || st >= ST(CLOSED))
		wait_be(v, M(INITWAIT) | M(INITIALISED) | M(CONNECTED) | M(CLOSING), "InitWait");
	fe_rm(v, PVIO_XS_NO_TX, "tx-ring-ref");
	fe_rm(v, PVIO_XS_NO_TX, "rx-ring-ref");
	fe_rm(v, PVIO_XS_NO_TX, "event-channel");
	fe_rm(v, PVIO_XS_NO_TX, "request-rx-copy");
	rings_release(v, &v->f);
	CHECK_EQ(be_state(v), ST(INITWAIT));
}

static void scenario_minios(void)
{
	struct vm *v = &vms[P_MINIOS];

	mo_init(v);
	CHECK_EQ(vif_stat(v, "queues"), 1);
	data(v, "init");
	mo_shutdown(v);
	printf("minios suspended: Closing, Closed, Initialising; the backend waits in "
	       "InitWait\n");
	/* resume_netfront: straight from Initialising to Connected. */
	mo_init(v);
	CHECK_EQ(vif_stat(v, "connected"), 1);
	data(v, "resumed");
	mo_shutdown(v);
	printf("minios shut down; the backend waits in InitWait\n");
}

/* ------------------------------------------------------------ main */

static void vm_open(unsigned p, const char *name)
{
	struct vm *v = &vms[p];
	unsigned long long id;
	char path[200];
	int fd;

	v->name = name;
	v->id = p;
	v->hv = nbt_guest_vif(p + 1, 0x51, 32, &v->domid, v->mac);
	REQUIRE(pvio_hv_xs_connect(v->hv, &fd) == 0 && pvio_xs_open_fd(fd, &v->xs) == 0);
	if (p == P_XENVIF)
		REQUIRE(pvio_hv_xs_connect(v->hv, &fd) == 0 &&
			pvio_xs_open_fd(fd, &v->xs_eject) == 0);
	v->f.hv = v->hv;
	v->f.xs = v->xs;
	v->f.domid = v->domid;
	v->f.devid = 0;
	snprintf(v->f.fe, sizeof(v->f.fe), "/local/domain/%u/device/vif/0", v->domid);
	snprintf(path, sizeof(path), "%s/backend", v->f.fe);
	REQUIRE(pvio_xs_read_buf(v->xs, PVIO_XS_NO_TX, path, v->f.be, sizeof(v->f.be), NULL) == 0);
	REQUIRE(pvio_xenbus_read_uint(v->xs, PVIO_XS_NO_TX, v->f.fe, "backend-id", &id) == 0);
	v->f.be_domid = (uint16_t)id;
	REQUIRE(nbt_be_wait(v->domid, 0, M(INITWAIT), T) == ST(INITWAIT));
}

int main(void)
{
	static const char *const args[] = { "--max-queues", "2", NULL };
	struct nbf_opts po = { .sg = true };
	struct pvio_hv *ph;
	uint16_t pdom;
	unsigned len;
	long long base;
	double t0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	nbt_require_netback();
	nbt_start();
	if (nbt_start_netback(args) < 0)
		return 1;
	t0 = tu_now();
	ph = nbt_guest_vif(0, 0x51, 32, &pdom, peer_mac);
	if (nbf_connect(&peer, ph, 0, &po, T) != 0) {
		nbt_dump_log();
		REQUIRE(!"the peer connects");
	}
	vm_open(P_XENVIF, "xenvif");
	vm_open(P_LINUX, "linux");
	vm_open(P_FREEBSD, "freebsd");
	vm_open(P_MINIOS, "minios");
	vms[P_XENVIF].sg = vms[P_LINUX].sg = vms[P_FREEBSD].sg = true;
	vms[P_MINIOS].one_slot = vms[P_MINIOS].plain_rx = true;
	/* The bridge learns the peer. */
	memset(frame, 0xff, 6);
	memcpy(frame + 6, peer_mac, 6);
	pg_put16(frame + 12, 0x88b5);
	memset(frame + 14, 0, 46);
	len = 60;
	REQUIRE(send_retry(&peer, 0, frame, len, NULL) > 0);

	printf("1. xenvif: start, ten restarts alternating 1 and 2 queues\n");
	scenario_xenvif();
	printf("2. linux: remove with online=1 (kept), rebind, online=0 (released)\n");
	scenario_linux();
	printf("3. freebsd: attach, feature reset, toolstack detach\n");
	scenario_freebsd();
	printf("4. minios: init, shutdown\n");
	scenario_minios();

	CHECK_EQ(peer.q[0].rx_protocol_errors + peer.q[0].rx_err_pkts, 0);
	nbf_close(&peer, T);
	base = nbt_stat("mempool.baseline");
	CHECK_EQ(nbt_stat_wait("mempool.in_use", base, true, T), base);
	CHECK_EQ(nbt_stop_netback(), 0);
	printf("total %.1f s\n", tu_now() - t0);
	if (tu_failures)
		nbt_dump_log();
	return tu_result();
}
