/* SPDX-License-Identifier: MIT */
/*
 * Control-plane faults against pvio-blkback, while a well-behaved guest
 * runs a verified workload on its own disk (this program in --good mode,
 * blkfront underneath). Processes: pviod, pvio-blkback, the good guest,
 * and hostile guests that are children of this test speaking raw blkif
 * and raw xenbus.
 *
 *  1. Connect/disconnect cycles of one hostile frontend on four disks
 *     (io_uring, libaio, psync, and io_uring with every completion held
 *     back 20 ms by the fault engine): ring orders 0..2, one or two queues,
 *     persistent grants on or off, keys rewritten mid-handshake (a bad
 *     value first, the good one after), requests left in flight at the
 *     disconnect, then an orderly Closing/Closed, a Closed without
 *     Closing, a reset to Initialising without closing, grants and
 *     ports torn down under a connected ring, the frontend's state node
 *     removed, or the guest process SIGKILLed (a new one takes over).
 *     After every disconnect each grant must revoke at once (the backend
 *     unmapped everything). pvio-blkback's fds, shared mappings and
 *     threads must be back to what they were after a warm-up of 20
 *     cycles, its RSS within 2 MiB. 1000 cycles (about 20 s), 5000 with
 *     PVIO_LONG_TESTS=1; PVIO_CTRLFAULTS_CYCLES=N and
 *     PVIO_CTRLFAULTS_SEED=S for others.
 *  2. Guests that never answer: the toolstack detaches a disk whose
 *     frontend never wrote anything (backend in InitWait), one whose
 *     frontend stopped at Initialised, one whose frontend is Connected
 *     and ignores Closing. The backend drops each device at once, with
 *     nothing left behind, and the guest can revoke its grants.
 *  3. The backend directory removed (xenstore rm) under a connected
 *     device with I/O in flight, and the frontend directory removed under
 *     another: torn down, nothing left behind, the good guest unaffected.
 *  4. The store cut under the backend: pviod SIGKILLed. pvio-blkback
 *     keeps serving the established ring (the data path needs no store),
 *     does not spin, and exits with a message naming the cause once its
 *     last connected frontend is gone. A new pviod and pvio-blkback then
 *     serve a new guest (README.md, "Failure model").
 */
#include <poll.h>
#include <sys/stat.h>

#include "frontend/blkfront.h"
#include "hv/hv.h"
#include "ring/blkif.h"
#include "tests/common/testutil.h"
#include "tools/toolstack.h"
#include "xenstore/xenbus.h"
#include "xenstore/xs.h"

#define DISK_BYTES   (16u << 20)
#define NR_HDEVS     4               /* the hostile guest's disks */
#define MAX_ORDER    2               /* ring pages per queue: up to 4 */
#define MAX_Q        2
#define WAIT_MS      10000

static pid_t pviod = -1, blkback = -1, good = -1;
static char dir[256], sock[300], xs_path[300];
static char bb_log[400];

static bool finished;
static void dump_log(void);

static void cleanup(void)
{
	if (!finished || tu_failures)
		dump_log();
	unlink(bb_log);
	if (good > 0)
		tu_stop(good);
	if (blkback > 0)
		tu_stop(blkback);
	if (pviod > 0)
		tu_stop(pviod);
	tu_rmdir(dir);
}

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

/* ------------------------------------------------------------ raw guests */

struct gq {
	uint64_t ring_gfn;                 /* 1 << MAX_ORDER pages reserved */
	int refs[1 << MAX_ORDER];          /* -1: not granted */
	pvio_evtchn_port_t port;           /* 0: none */
	struct pvio_sring *sring;
	struct pvio_ring_front ring;
	unsigned sent, got;
};

struct gdev {
	uint32_t devid;
	char fe[128], be[160];
	struct gq q[MAX_Q];
	unsigned nq, order;
	int data_ref;                      /* rw grant on the data page; -1 none */
};

struct guest {
	struct pvio_hv *hv;
	struct pvio_xs *xs;
	uint16_t domid;
	uint64_t data_gfn;                 /* the page every request reads or writes */
	uint64_t next_id;
	struct gdev dev[NR_HDEVS];
	unsigned ndev;
};

static const uint32_t hdev_ids[NR_HDEVS] = { 51712, 51728, 51744, 51760 };   /* xvda..d */

static void g_open(struct guest *g, unsigned ndev)
{
	int fd;

	REQUIRE(pvio_hv_open_env(&g->hv) == 0);
	g->domid = pvio_hv_domid(g->hv);
	REQUIRE(pvio_hv_xs_connect(g->hv, &fd) == 0 && pvio_xs_open_fd(fd, &g->xs) == 0);
	REQUIRE(pvio_hv_page_alloc(g->hv, 1, &g->data_gfn) == 0);
	g->ndev = ndev;
	for (unsigned i = 0; i < ndev; i++) {
		struct gdev *d = &g->dev[i];
		char path[200];

		d->devid = hdev_ids[i];
		d->data_ref = -1;
		snprintf(d->fe, sizeof(d->fe), "/local/domain/%u/device/vbd/%u", g->domid,
			 d->devid);
		snprintf(path, sizeof(path), "%s/backend", d->fe);
		REQUIRE(pvio_xs_read_buf(g->xs, 0, path, d->be, sizeof(d->be), NULL) == 0);
		for (unsigned k = 0; k < MAX_Q; k++) {
			REQUIRE(pvio_hv_page_alloc(g->hv, 1u << MAX_ORDER, &d->q[k].ring_gfn) == 0);
			for (unsigned p = 0; p < (1u << MAX_ORDER); p++)
				d->q[k].refs[p] = -1;
		}
	}
}

static int fe_write(struct guest *g, struct gdev *d, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fe_write(struct guest *g, struct gdev *d, const char *key, const char *fmt, ...)
{
	char path[256], val[64];
	va_list ap;

	snprintf(path, sizeof(path), "%s/%s", d->fe, key);
	va_start(ap, fmt);
	vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	return pvio_xs_write(g->xs, 0, path, val, strlen(val));
}

static void fe_rm(struct guest *g, struct gdev *d, const char *key)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", d->fe, key);
	pvio_xs_rm(g->xs, 0, path);
}

static int fe_state(struct guest *g, struct gdev *d, enum pvio_xenbus_state st)
{
	return pvio_xenbus_switch_state(g->xs, 0, d->fe, st);
}

static int be_wait(struct guest *g, struct gdev *d, unsigned mask, const char *what)
{
	enum pvio_xenbus_state st = PVIO_XENBUS_STATE_UNKNOWN;
	int r = pvio_xenbus_wait_state(g->xs, d->be, mask, WAIT_MS, &st);

	if (r < 0) {
		pvio_xenbus_read_state(g->xs, 0, d->be, &st);
		fprintf(stderr, "guest: dev %u: backend never reached %s (state %s): %s\n",
			d->devid, what, pvio_xenbus_state_name(st), strerror(-r));
	}
	return r;
}

/* The keys of one connection: none left from an earlier one. */
static void fe_clear_keys(struct guest *g, struct gdev *d)
{
	static const char *const keys[] = {
		"ring-ref", "ring-ref0", "ring-ref1", "ring-ref2", "ring-ref3", "event-channel",
		"queue-0", "queue-1", "ring-page-order", "multi-queue-num-queues",
		"feature-persistent", "protocol", NULL,
	};

	for (unsigned i = 0; keys[i]; i++)
		fe_rm(g, d, keys[i]);
}

/* Rings, grants and ports of a new connection (not published yet). */
static void g_setup(struct guest *g, struct gdev *d, unsigned order, unsigned nq)
{
	d->order = order;
	d->nq = nq;
	for (unsigned k = 0; k < nq; k++) {
		struct gq *q = &d->q[k];

		q->sring = pvio_hv_gfn_ptr(g->hv, q->ring_gfn);
		memset(q->sring, 0, (size_t)4096 << order);
		pvio_sring_init(q->sring);
		REQUIRE(pvio_blkif_front_attach(&q->ring, q->sring, (size_t)4096 << order) == 0);
		for (unsigned p = 0; p < (1u << order); p++) {
			q->refs[p] = pvio_hv_grant(g->hv, 0, q->ring_gfn + p, false);
			REQUIRE(q->refs[p] >= 0);
		}
		REQUIRE(pvio_hv_evtchn_alloc_unbound(g->hv, 0, &q->port) == 0);
		q->sent = q->got = 0;
	}
	d->data_ref = pvio_hv_grant(g->hv, 0, g->data_gfn, false);
	REQUIRE(d->data_ref >= 0);
}

/* The keys of the current connection. bad: 1..5 corrupts one of them. */
static void g_publish(struct guest *g, struct gdev *d, bool persistent, unsigned bad)
{
	char key[64], pfx[24] = "";

	if (d->order)
		fe_write(g, d, "ring-page-order", "%u", bad == 4 ? 7 : d->order);
	if (d->nq > 1 || bad == 5)
		fe_write(g, d, "multi-queue-num-queues", "%u", bad == 5 ? 0 : d->nq);
	for (unsigned k = 0; k < d->nq; k++) {
		struct gq *q = &d->q[k];

		if (d->nq > 1)
			snprintf(pfx, sizeof(pfx), "queue-%u/", k);
		for (unsigned p = 0; p < (1u << d->order); p++) {
			if (d->order)
				snprintf(key, sizeof(key), "%sring-ref%u", pfx, p);
			else
				snprintf(key, sizeof(key), "%sring-ref", pfx);
			/* bad 1: the last queue's, after the others are good */
			fe_write(g, d, key, "%d",
				 bad == 1 && k == d->nq - 1 && p == 0 ? 1000000 : q->refs[p]);
		}
		snprintf(key, sizeof(key), "%sevent-channel", pfx);
		fe_write(g, d, key, "%u", bad == 2 ? 0 : q->port);
	}
	fe_write(g, d, "protocol", "%s", bad == 3 ? "sparc-abi" : "x86_64-abi");
	fe_write(g, d, "feature-persistent", "%d", persistent);
}

/* Queue n requests on queue k (reads and writes on the data page). */
static void g_send(struct guest *g, struct gdev *d, unsigned k, unsigned n, uint64_t rnd)
{
	struct gq *q = &d->q[k];

	for (unsigned i = 0; i < n && pvio_ring_free_requests(&q->ring) > 0; i++) {
		struct pvio_blkif_request *r = pvio_blkif_req_slot(&q->ring, 0);
		uint64_t x = mix64(rnd + i);
		unsigned nseg = 1 + (unsigned)(x % 11);

		memset(r, 0, sizeof(*r));
		r->operation = (x >> 8) & 1 ? PVIO_BLKIF_OP_WRITE : PVIO_BLKIF_OP_READ;
		r->nr_segments = (uint8_t)nseg;
		r->handle = (uint16_t)d->devid;
		r->id = ++g->next_id;
		r->sector_number = ((x >> 16) % (DISK_BYTES / 4096 - 16)) * 8;
		for (unsigned s = 0; s < nseg; s++) {
			r->seg[s].gref = (uint32_t)d->data_ref;
			r->seg[s].first_sect = 0;
			r->seg[s].last_sect = 7;
		}
		pvio_ring_produce_requests(&q->ring, 1);
		q->sent++;
	}
	if (pvio_ring_push_requests(&q->ring))
		pvio_hv_evtchn_notify(g->hv, q->port);
}

/* Collect every answer outstanding on queue k; each must be OKAY. */
static int g_collect(struct guest *g, struct gdev *d, unsigned k)
{
	struct gq *q = &d->q[k];
	int fd = pvio_hv_evtchn_fd(g->hv, q->port);

	while (q->got < q->sent) {
		int n = pvio_ring_front_final_check(&q->ring);

		if (n < 0)
			return -1;
		if (n > 0) {
			while (n-- > 0) {
				struct pvio_blkif_response rsp;

				pvio_blkif_copy_response(&q->ring, &rsp);
				q->got++;
				if (rsp.status != PVIO_BLKIF_RSP_OKAY) {
					fprintf(stderr, "guest: dev %u q%u: id %llu status %d\n",
						d->devid, k, (unsigned long long)rsp.id,
						rsp.status);
					return -1;
				}
			}
			continue;
		}
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 5000) <= 0) {
			fprintf(stderr, "guest: dev %u q%u: no answer in 5 s (%u of %u)\n",
				d->devid, k, q->got, q->sent);
			return -1;
		}
		pvio_hv_evtchn_pending(g->hv, q->port);
		pvio_hv_evtchn_unmask(g->hv, q->port);
	}
	return 0;
}

static void g_close_ports(struct guest *g, struct gdev *d)
{
	for (unsigned k = 0; k < MAX_Q; k++) {
		if (d->q[k].port)
			pvio_hv_evtchn_close(g->hv, d->q[k].port);
		d->q[k].port = 0;
	}
}

/* Revoke what is still granted; busy counts the refs the backend holds. */
static void g_revoke(struct guest *g, struct gdev *d, unsigned *busy, bool ring_only)
{
	for (unsigned k = 0; k < MAX_Q; k++)
		for (unsigned p = 0; p < (1u << MAX_ORDER); p++) {
			int *ref = &d->q[k].refs[p];

			if (*ref < 0)
				continue;
			if (pvio_hv_revoke(g->hv, (uint32_t)*ref) == 0)
				*ref = -1;
			else
				++*busy;
		}
	if (ring_only || d->data_ref < 0)
		return;
	if (pvio_hv_revoke(g->hv, (uint32_t)d->data_ref) == 0)
		d->data_ref = -1;
	else
		++*busy;
}

/* After the backend let go (Closed, or InitWait after a reset): every
 * grant must end at once. */
static int g_release(struct guest *g, struct gdev *d, unsigned cycle, const char *how)
{
	unsigned busy = 0;

	g_close_ports(g, d);
	g_revoke(g, d, &busy, false);
	if (busy) {
		fprintf(stderr, "guest: cycle %u (%s): dev %u: %u grant(s) still in use by the "
			"backend after it let go\n", cycle, how, d->devid, busy);
		return -1;
	}
	return 0;
}

/* A new start: whatever a previous guest left, the backend ends in InitWait. */
static int g_reset(struct guest *g, struct gdev *d)
{
	fe_clear_keys(g, d);
	fe_state(g, d, PVIO_XENBUS_STATE_INITIALISING);
	return be_wait(g, d, PVIO_XENBUS_MASK(PVIO_XENBUS_STATE_INITWAIT), "InitWait");
}

/* Connect (backend in InitWait on entry). 0 or -1. */
static int g_connect(struct guest *g, struct gdev *d, uint64_t r, unsigned *rewrites)
{
	unsigned order = (unsigned)((r & 3) % (MAX_ORDER + 1));
	unsigned nq = 1 + (unsigned)((r >> 2) % MAX_Q);
	bool persistent = (r >> 4) & 1;
	unsigned bad = (r >> 5) % 16;      /* 1..5: one bad key first */

	g_setup(g, d, order, nq);
	if (bad == 4 && !order)
		bad = 0;                   /* no ring-page-order key to spoil */
	if (bad >= 1 && bad <= 5) {
		g_publish(g, d, persistent, bad);
		fe_state(g, d, PVIO_XENBUS_STATE_INITIALISED);
		if ((r >> 9) & 1)
			usleep((useconds_t)((r >> 10) % 2000));
		/* The good keys, and Initialised again (a watch fires on
		 * every write): the backend either failed on the bad one
		 * and waits, or read the good ones already. */
		if (bad == 5)
			fe_rm(g, d, "multi-queue-num-queues");
		++*rewrites;
	}
	g_publish(g, d, persistent, 0);
	fe_state(g, d, PVIO_XENBUS_STATE_INITIALISED);
	if (be_wait(g, d, PVIO_XENBUS_MASK(PVIO_XENBUS_STATE_CONNECTED), "Connected") < 0)
		return -1;
	/* Most go Connected; some stop at Initialised. */
	if ((r >> 13) % 4)
		fe_state(g, d, PVIO_XENBUS_STATE_CONNECTED);
	/* Keys rewritten after the connection: ignored. */
	if ((r >> 15) % 8 == 0) {
		fe_write(g, d, d->nq > 1 ? "queue-0/event-channel" : "event-channel", "%u", 77777);
		fe_write(g, d, "protocol", "%s", "bogus");
		fe_state(g, d, PVIO_XENBUS_STATE_CONNECTED);
	}
	return 0;
}

/* g_connect()'s r for one queue, order 0, no persistent grants, good keys,
 * Connected. */
#define CONNECT_PLAIN ((1ull << 13) | (1ull << 15))

static const char *const how_names[] = {
	"Closing/Closed", "Closing/Closed", "Closing/Closed", "Closed without Closing",
	"reset without closing", "grants and ports torn down", "frontend state removed",
	"vanished",
};

/* What cycle c does: bits of its r select the variants. */
static uint64_t cycle_r(uint64_t seed, unsigned c)
{
	return mix64(seed ^ ((uint64_t)c * 0x9e3779b97f4a7c15ull));
}

static unsigned cycle_how(uint64_t r)
{
	return (unsigned)((r >> 20) % 8);
}

/* One cycle on dev. 0, -1 (failed), or 1 (the caller must vanish). */
static int g_cycle(struct guest *g, struct gdev *d, unsigned cycle, uint64_t seed,
		   unsigned *rewrites)
{
	uint64_t r = cycle_r(seed, cycle);
	unsigned how = cycle_how(r);
	unsigned busy = 0;

	if (g_connect(g, d, r, rewrites) < 0)
		return -1;
	/* Requests: answered, or left in flight at the disconnect. */
	for (unsigned k = 0; k < d->nq; k++) {
		g_send(g, d, k, (unsigned)((r >> (24 + 4 * k)) % 12), r >> 32);
		if ((r >> (32 + k)) & 1 && g_collect(g, d, k) < 0) {
			fprintf(stderr, "guest: cycle %u: requests not served\n", cycle);
			return -1;
		}
		if ((r >> (34 + k)) & 1)
			g_send(g, d, k, 8, r >> 40);
	}
	switch (how) {
	default:
		fe_state(g, d, PVIO_XENBUS_STATE_CLOSING);
		if (be_wait(g, d, PVIO_XENBUS_MASK(PVIO_XENBUS_STATE_CLOSING) |
			    PVIO_XENBUS_MASK(PVIO_XENBUS_STATE_CLOSED), "Closing") < 0)
			return -1;
		/* fall through */
	case 3:
		fe_state(g, d, PVIO_XENBUS_STATE_CLOSED);
		if (be_wait(g, d, PVIO_XENBUS_MASK(PVIO_XENBUS_STATE_CLOSED), "Closed") < 0)
			return -1;
		break;
	case 4:
		/* A guest rebooted under the backend: ports gone, back to
		 * Initialising, no Closing. */
		g_close_ports(g, d);
		fe_clear_keys(g, d);
		fe_state(g, d, PVIO_XENBUS_STATE_INITIALISING);
		if (be_wait(g, d, PVIO_XENBUS_MASK(PVIO_XENBUS_STATE_INITWAIT), "InitWait") < 0)
			return -1;
		break;
	case 5:
		/* Grants ended under the backend: the ring's must refuse. */
		g_revoke(g, d, &busy, true);
		if (busy < d->nq * (1u << d->order)) {
			fprintf(stderr, "guest: cycle %u: %u of %u ring grants revoked while "
				"the backend had them mapped\n", cycle,
				d->nq * (1u << d->order) - busy, d->nq * (1u << d->order));
			return -1;
		}
		g_revoke(g, d, &busy, false);
		g_close_ports(g, d);
		if (be_wait(g, d, PVIO_XENBUS_MASK(PVIO_XENBUS_STATE_CLOSED), "Closed") < 0)
			return -1;
		break;
	case 6:
		fe_rm(g, d, "state");
		if (be_wait(g, d, PVIO_XENBUS_MASK(PVIO_XENBUS_STATE_CLOSED), "Closed") < 0)
			return -1;
		break;
	case 7:
		return 1;
	}
	if (g_release(g, d, cycle, how_names[how]) < 0)
		return -1;
	return g_reset(g, d);
}

/* --cycles FROM TO SEED: cycles FROM..TO-1, dev = cycle % NR_HDEVS. Says
 * "vanish N" and waits for SIGKILL when cycle N is one that vanishes. */
static int cycles_main(unsigned from, unsigned to, uint64_t seed)
{
	struct guest g = { 0 };
	unsigned rewrites = 0;

	g_open(&g, NR_HDEVS);
	for (unsigned i = 0; i < NR_HDEVS; i++)
		if (g_reset(&g, &g.dev[i]) < 0)
			return 1;
	for (unsigned c = from; c < to; c++) {
		int r = g_cycle(&g, &g.dev[c % NR_HDEVS], c, seed, &rewrites);

		if (r < 0) {
			fprintf(stderr, "guest: cycle %u failed\n", c);
			return 1;
		}
		if (r > 0) {
			/* Requests in flight, grants and ports held: killed. */
			printf("vanish %u %u\n", c, rewrites);
			fflush(stdout);
			for (;;)
				pause();
		}
	}
	printf("done %u\n", rewrites);
	fflush(stdout);
	pvio_xs_close(g.xs);
	pvio_hv_close(g.hv);
	return 0;
}

static bool read_cmd(char *buf, size_t len)
{
	if (!fgets(buf, (int)len, stdin))
		return false;
	buf[strcspn(buf, "\n")] = 0;
	return true;
}

/*
 * --mute initialised|connected: connect, then never answer anything.
 * Commands on stdin: "revoke" (every grant must end: the backend let go)
 * answers "revoke ok" or "revoke busy N"; EOF ends.
 */
static int mute_main(const char *mode)
{
	struct guest g = { 0 };
	struct gdev *d = &g.dev[0];
	char cmd[64];

	g_open(&g, 1);
	if (be_wait(&g, d, PVIO_XENBUS_MASK(PVIO_XENBUS_STATE_INITWAIT), "InitWait") < 0)
		return 1;
	g_setup(&g, d, 0, 1);
	g_publish(&g, d, false, 0);
	fe_state(&g, d, PVIO_XENBUS_STATE_INITIALISED);
	if (be_wait(&g, d, PVIO_XENBUS_MASK(PVIO_XENBUS_STATE_CONNECTED), "Connected") < 0)
		return 1;
	if (!strcmp(mode, "connected"))
		fe_state(&g, d, PVIO_XENBUS_STATE_CONNECTED);
	g_send(&g, d, 0, 4, 12345);
	if (g_collect(&g, d, 0) < 0)
		return 1;
	printf("connected\n");
	fflush(stdout);
	while (read_cmd(cmd, sizeof(cmd))) {
		if (!strcmp(cmd, "revoke")) {
			unsigned busy = 0;
			g_revoke(&g, d, &busy, false);
			if (busy)
				printf("revoke busy %u\n", busy);
			else
				printf("revoke ok\n");
			fflush(stdout);
		}
	}
	pvio_xs_close(g.xs);
	pvio_hv_close(g.hv);
	return 0;
}

/* --flood: connect, keep the ring full of requests until killed. */
__attribute__((noreturn)) static int flood_main(void)
{
	struct guest g = { 0 };
	struct gdev *d = &g.dev[0];
	unsigned rw = 0;
	bool told = false;

	g_open(&g, 1);
	if (be_wait(&g, d, PVIO_XENBUS_MASK(PVIO_XENBUS_STATE_INITWAIT), "InitWait") < 0)
		exit(1);
	if (g_connect(&g, d, CONNECT_PLAIN, &rw) < 0)
		exit(1);
	for (uint64_t n = 0;; n++) {
		struct gq *q = &d->q[0];
		int k;

		g_send(&g, d, 0, 32, n);
		k = pvio_ring_front_pending(&q->ring);
		if (k > 0) {
			pvio_ring_consume_responses(&q->ring, (uint32_t)k);
			if (!told) {
				/* I/O is going: requests are in flight from now on. */
				printf("flooding\n");
				fflush(stdout);
				told = true;
			}
		} else {
			usleep(50);
		}
	}
}

/*
 * --serve: connect; commands on stdin: "io" (64 reads and writes, each
 * answered OKAY within 5 s: "io ok" / "io fail"),
 * "close" (close the event channel: the backend sees the frontend go).
 */
static int serve_main(void)
{
	struct guest g = { 0 };
	struct gdev *d = &g.dev[0];
	unsigned rw = 0;
	char cmd[64];

	g_open(&g, 1);
	if (be_wait(&g, d, PVIO_XENBUS_MASK(PVIO_XENBUS_STATE_INITWAIT), "InitWait") < 0)
		return 1;
	if (g_connect(&g, d, CONNECT_PLAIN, &rw) < 0)
		return 1;
	fe_state(&g, d, PVIO_XENBUS_STATE_CONNECTED);
	printf("connected\n");
	fflush(stdout);
	while (read_cmd(cmd, sizeof(cmd))) {
		if (!strcmp(cmd, "io")) {
			int bad = 0;
			for (unsigned i = 0; i < 16 && !bad; i++) {
				g_send(&g, d, 0, 4, i * 7919);
				bad = g_collect(&g, d, 0) < 0;
			}
			printf("io %s\n", bad ? "fail" : "ok");
			fflush(stdout);
		} else if (!strcmp(cmd, "close")) {
			g_close_ports(&g, d);
			printf("closed\n");
			fflush(stdout);
		}
	}
	pvio_xs_close(g.xs);
	pvio_hv_close(g.hv);
	return 0;
}

/* ------------------------------------------------------------ the good guest */

static void stamp(uint64_t *w, uint64_t blk, uint64_t gen)
{
	for (unsigned i = 0; i < 4096 / 8; i++)
		w[i] = i == 0 ? blk : i == 1 ? gen : mix64(blk * 1000003u + gen * 7 + i);
}

static bool stamped(const uint64_t *w, uint64_t blk, uint64_t gen)
{
	for (unsigned i = 0; i < 4096 / 8; i++) {
		uint64_t want = gen == 0 ? 0 : i == 0 ? blk : i == 1 ? gen :
				mix64(blk * 1000003u + gen * 7 + i);
		if (w[i] != want)
			return false;
	}
	return true;
}

/* One request, waited for at most 10 s. 0 or -errno (-ETIMEDOUT: stall). */
static int good_io(struct pvio_blkfront *f, uint8_t op, uint64_t off, uint64_t len, void *buf,
		   double *worst)
{
	struct pvio_blkfront_req rq = { .op = op, .offset = off, .len = len, .buf = buf };
	struct pvio_blkfront_req *rp = &rq, *done;
	double t0 = tu_now();
	int r;

	r = pvio_blkfront_submit(f, 0, &rp, 1);
	while (r == 0) {        /* reconnecting: not accepted yet */
		if (tu_now() - t0 > 10)
			return -ETIMEDOUT;
		usleep(1000);
		r = pvio_blkfront_submit(f, 0, &rp, 1);
	}
	if (r < 0)
		return r;
	r = pvio_blkfront_reap(f, 0, &done, 1, 10000);
	if (r == 0)
		return -ETIMEDOUT;
	if (tu_now() - t0 > *worst)
		*worst = tu_now() - t0;
	return r < 0 ? r : rq.result;
}

/* --good: random stamped writes and verifying reads on the first 16 MiB
 * until stdin reaches EOF, then a full verification pass. */
static int good_main(void)
{
	struct pvio_blkfront_opts o;
	struct pvio_blkfront *f;
	struct pvio_hv *hv;
	const unsigned nblk = 4096, maxn = 16;
	uint64_t *gen = calloc(nblk, sizeof(*gen)), rng = 42, ops = 0, bad = 0;
	uint64_t *buf;
	double worst = 0;
	int r;

	REQUIRE(gen && pvio_hv_open_env(&hv) == 0);
	pvio_blkfront_opts_default(&o);
	o.poll_us = 0;
	REQUIRE(pvio_blkfront_open(hv, 51712, &o, &f) == 0);
	buf = pvio_blkfront_buf_alloc(f, maxn * 4096);
	REQUIRE(buf);
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		struct pollfd p = { .fd = 0, .events = POLLIN };
		uint64_t b, n;
		char c;

		if (poll(&p, 1, 0) > 0 && read(0, &c, 1) <= 0)
			break;
		rng = mix64(rng + 1);
		b = rng % nblk;
		n = 1 + (rng >> 20) % maxn;
		if (b + n > nblk)
			n = nblk - b;
		if ((rng >> 40) % 3) {
			for (uint64_t k = 0; k < n; k++)
				stamp(buf + k * 512, b + k, gen[b + k] + 1);
			r = good_io(f, PVIO_BLKFRONT_WRITE, b * 4096, n * 4096, buf, &worst);
			if (r < 0) {
				fprintf(stderr, "good: write %llu+%llu: %s\n", (unsigned long long)b,
					(unsigned long long)n, strerror(-r));
				return 1;
			}
			for (uint64_t k = 0; k < n; k++)
				gen[b + k]++;
		} else {
			r = good_io(f, PVIO_BLKFRONT_READ, b * 4096, n * 4096, buf, &worst);
			if (r < 0) {
				fprintf(stderr, "good: read %llu+%llu: %s\n", (unsigned long long)b,
					(unsigned long long)n, strerror(-r));
				return 1;
			}
			for (uint64_t k = 0; k < n; k++)
				bad += !stamped(buf + k * 512, b + k, gen[b + k]);
		}
		if (++ops % 64 == 0 &&
		    (r = good_io(f, PVIO_BLKFRONT_FLUSH, 0, 0, NULL, &worst)) < 0) {
			fprintf(stderr, "good: flush: %s\n", strerror(-r));
			return 1;
		}
	}
	/* The final pass: every block as last written. */
	for (uint64_t b = 0; b < nblk; b += maxn) {
		r = good_io(f, PVIO_BLKFRONT_READ, b * 4096, maxn * 4096, buf, &worst);
		if (r < 0) {
			fprintf(stderr, "good: final read at %llu: %s\n", (unsigned long long)b,
				strerror(-r));
			return 1;
		}
		for (uint64_t k = 0; k < maxn; k++)
			bad += !stamped(buf + k * 512, b + k, gen[b + k]);
	}
	printf("good: %llu ops, %llu bad blocks, slowest request %.3f s\n",
	       (unsigned long long)ops, (unsigned long long)bad, worst);
	fflush(stdout);
	pvio_blkfront_close(f);
	pvio_hv_close(hv);
	free(gen);
	return bad ? 1 : 0;
}

/* ------------------------------------------------------------ the test */

struct child {
	pid_t pid;
	FILE *in;     /* its stdin */
	FILE *out;    /* its stdout */
};

static struct pvio_hv *dom0;
static struct pvio_xs *xs;
static const char *self;

/* This program as a guest of domid: argv0 mode [args]. */
static struct child guest(uint16_t domid, const char *mode, const char *a1, const char *a2,
			  const char *a3)
{
	char *av[] = { (char *)self, (char *)mode, (char *)a1, (char *)a2, (char *)a3, NULL };
	struct child c;
	int in[2], out[2], fd;

	REQUIRE(pvio_hv_domain_connect(dom0, domid, &fd) == 0);
	REQUIRE(pipe2(in, O_CLOEXEC) == 0 && pipe2(out, O_CLOEXEC) == 0);
	c.pid = tu_spawn(av, fd, in[0], out[1], -1);
	REQUIRE(c.pid > 0);
	close(fd);
	close(in[0]);
	close(out[1]);
	c.in = fdopen(in[1], "w");
	c.out = fdopen(out[0], "r");
	REQUIRE(c.in && c.out);
	setvbuf(c.in, NULL, _IONBF, 0);
	return c;
}

static bool expect_line(struct child *c, const char *prefix, char *line, size_t len)
{
	while (fgets(line, (int)len, c->out)) {
		line[strcspn(line, "\n")] = 0;
		if (!strncmp(line, prefix, strlen(prefix)))
			return true;
	}
	line[0] = 0;
	return false;
}

/* Exit status of c after closing its stdin (or -1). */
static int child_end(struct child *c, bool kill_it)
{
	int st;

	if (kill_it)
		kill(c->pid, SIGKILL);
	if (c->in)
		fclose(c->in);
	c->in = NULL;
	if (waitpid(c->pid, &st, 0) != c->pid)
		return -1;
	if (c->out)
		fclose(c->out);
	c->out = NULL;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static long cpu_ticks(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
			 &ut, &st) != 2)
		return -1;
	return (long)(ut + st);
}

struct res {
	int fds, maps, threads;
	long rss;
};

static struct res res_now(void)
{
	return (struct res){ tu_count_fds(blkback), tu_count_maps(blkback), tu_count_threads(blkback),
			     tu_rss_kb(blkback) };
}

/* The backend tears devices down on its own time: wait (bounded) until
 * its fds, mappings and threads are back to base. */
static struct res res_settle(const struct res *base)
{
	struct res r = res_now();

	for (int i = 0; i < 500; i++) {
		if (r.fds == base->fds && r.maps == base->maps && r.threads == base->threads)
			break;
		usleep(10000);
		r = res_now();
	}
	if (r.fds != base->fds || r.maps != base->maps) {
		char cmd[256];
		snprintf(cmd, sizeof(cmd), "ls -l /proc/%d/fd >&2; grep -E 'memfd|anon_inode' "
			 "/proc/%d/maps >&2", (int)blkback, (int)blkback);
		if (system(cmd) != 0)
			fprintf(stderr, "(could not list the backend's fds)\n");
	}
	return r;
}

static void check_res(const char *what, const struct res *base, const struct res *now)
{
	printf("%s: fds %d->%d, maps %d->%d, threads %d->%d, RSS %ld->%ld KiB\n", what,
	       base->fds, now->fds, base->maps, now->maps, base->threads, now->threads,
	       base->rss, now->rss);
	fflush(stdout);
	CHECK_EQ(now->fds, base->fds);
	CHECK_EQ(now->maps, base->maps);
	CHECK_EQ(now->threads, base->threads);
}

static void make_image(const char *name, char *path, size_t len)
{
	int fd;

	snprintf(path, len, "%s/%s", dir, name);
	fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
	REQUIRE(fd >= 0 && ftruncate(fd, DISK_BYTES) == 0);
	close(fd);
}

static void attach(uint16_t domid, const char *vdev, const char *extra, const char *img)
{
	struct pvio_diskspec ds;
	char spec[700], err[128], path[400];

	make_image(img, path, sizeof(path));
	snprintf(spec, sizeof(spec), "%svdev=%s, access=rw, target=%s", extra, vdev, path);
	REQUIRE(pvio_diskspec_parse(spec, &ds, err, sizeof(err)) == 0);
	REQUIRE(pvio_ts_block_attach(xs, domid, &ds) == 0);
}

static int be_state(uint16_t domid, uint32_t devid)
{
	char be[128];
	enum pvio_xenbus_state st;

	snprintf(be, sizeof(be), "/local/domain/0/backend/vbd/%u/%u", domid, devid);
	if (pvio_xenbus_read_state(xs, 0, be, &st) < 0)
		return -1;
	return (int)st;
}

static bool be_wait_state(uint16_t domid, uint32_t devid, enum pvio_xenbus_state want)
{
	for (int i = 0; i < 1000; i++) {
		if (be_state(domid, devid) == (int)want)
			return true;
		usleep(10000);
	}
	return false;
}

static bool be_gone(uint16_t domid, uint32_t devid)
{
	char be[128], val[16];

	snprintf(be, sizeof(be), "/local/domain/0/backend/vbd/%u/%u/state", domid, devid);
	return pvio_xs_read_buf(xs, 0, be, val, sizeof(val), NULL) == -ENOENT;
}

/* Run cycles [from, to) with as many guest processes as vanish. */
static int run_cycles(uint16_t dh, unsigned from, unsigned to, uint64_t seed,
		      unsigned *vanished, unsigned *rewrites)
{
	unsigned c = from;
	char a1[16], a2[16], a3[32], line[128];

	while (c < to) {
		struct child g;
		unsigned n = 0, rw = 0;
		int st;

		snprintf(a1, sizeof(a1), "%u", c);
		snprintf(a2, sizeof(a2), "%u", to);
		snprintf(a3, sizeof(a3), "%llu", (unsigned long long)seed);
		g = guest(dh, "--cycles", a1, a2, a3);
		if (!fgets(line, sizeof(line), g.out))
			line[0] = 0;
		if (sscanf(line, "vanish %u %u", &n, &rw) == 2) {
			child_end(&g, true);
			++*vanished;
			*rewrites += rw;
			c = n + 1;
			continue;
		}
		st = child_end(&g, false);
		if (st != 0 || sscanf(line, "done %u", &rw) != 1) {
			fprintf(stderr, "cycles from %u: guest exit %d, said '%s'\n", c, st, line);
			return -1;
		}
		*rewrites += rw;
		c = to;
	}
	return 0;
}

static pid_t start_blkback(void)
{
	char bin[512];
	int lfd, rp[2];
	char rfd[16], b[8];
	pid_t p;

	snprintf(bin, sizeof(bin), "%s/blkback/pvio-blkback", tu_build_dir());
	lfd = open(bb_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	REQUIRE(lfd >= 0 && pipe(rp) == 0);
	snprintf(rfd, sizeof(rfd), "%d", rp[1]);
	{
		char *avr[] = { bin, "--socket", sock, "--ready-fd", rfd, NULL };
		fcntl(rp[0], F_SETFD, FD_CLOEXEC);
		p = tu_spawn(avr, -1, -1, -1, lfd);
	}
	close(rp[1]);
	close(lfd);
	REQUIRE(p > 0 && read(rp[0], b, sizeof(b)) > 0);
	close(rp[0]);
	return p;
}

static void dump_log(void)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "echo '--- pvio-blkback (last 60 lines):' >&2; "
		 "tail -n 60 '%s' >&2", bb_log);
	if (system(cmd) != 0)
		fprintf(stderr, "(no backend log)\n");
}

static bool log_has(const char *needle)
{
	char line[512];
	bool found = false;
	FILE *f = fopen(bb_log, "r");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, needle) != NULL;
	fclose(f);
	return found;
}

static void show_log(const char *needle)
{
	char line[512];
	FILE *f = fopen(bb_log, "r");

	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, needle))
			printf("  pvio-blkback said: %s", line);
	if (f)
		fclose(f);
}

/* Case 2: guests that never answer; the toolstack detaches under them. */
static void case_mute(void)
{
	struct res base = res_now(), now;
	uint16_t dm;
	struct child c;
	char line[64];
	double t0;

	REQUIRE(pvio_ts_domain_create(dom0, xs, "mute", 16 << 20, &dm) == 0);

	/* a. Nobody ever answers InitWait. */
	attach(dm, "xvda", "", "mute.img");
	CHECK(be_wait_state(dm, 51712, PVIO_XENBUS_STATE_INITWAIT));
	t0 = tu_now();
	CHECK_EQ(pvio_ts_block_detach(xs, dm, 51712, 2000), 0);
	CHECK(tu_now() - t0 < 2.0);
	usleep(200000);
	CHECK(be_gone(dm, 51712));
	now = res_settle(&base);
	check_res("silent frontend, detached in InitWait", &base, &now);

	/* b. The frontend stops at Initialised: the backend connects, the
	 * frontend never goes Connected, the toolstack detaches. */
	attach(dm, "xvda", "", "mute.img");
	c = guest(dm, "--mute", "initialised", NULL, NULL);
	CHECK(expect_line(&c, "connected", line, sizeof(line)));
	CHECK_EQ(pvio_ts_block_detach(xs, dm, 51712, 2000), 0);
	now = res_settle(&base);
	fprintf(c.in, "revoke\n");
	CHECK(expect_line(&c, "revoke", line, sizeof(line)) && !strcmp(line, "revoke ok"));
	CHECK(be_gone(dm, 51712));
	check_res("frontend stopped at Initialised, detached", &base, &now);
	CHECK_EQ(child_end(&c, false), 0);

	/* c. Connected, then deaf to the toolstack's Closing: the detach
	 * waits its timeout, removes the nodes, the backend lets go. */
	attach(dm, "xvda", "", "mute.img");
	c = guest(dm, "--mute", "connected", NULL, NULL);
	CHECK(expect_line(&c, "connected", line, sizeof(line)));
	t0 = tu_now();
	CHECK_EQ(pvio_ts_block_detach(xs, dm, 51712, 500), 0);
	CHECK(tu_now() - t0 < 3.0);
	now = res_settle(&base);
	fprintf(c.in, "revoke\n");
	CHECK(expect_line(&c, "revoke", line, sizeof(line)) && !strcmp(line, "revoke ok"));
	CHECK(be_gone(dm, 51712));
	check_res("frontend deaf to Closing, detached", &base, &now);
	CHECK_EQ(child_end(&c, false), 0);

	CHECK_EQ(pvio_ts_domain_destroy(dom0, xs, dm), 0);
	now = res_settle(&base);
	check_res("mute domain destroyed", &base, &now);
}

/* Case 3: directories removed under connected devices with I/O going. */
static void case_rmdir(void)
{
	struct res base = res_now(), now;
	uint16_t dr;
	struct child c;
	char line[64], path[128];

	REQUIRE(pvio_ts_domain_create(dom0, xs, "rmdir", 16 << 20, &dr) == 0);

	/* The backend directory. */
	attach(dr, "xvda", "", "rmdir.img");
	c = guest(dr, "--flood", NULL, NULL, NULL);
	CHECK(expect_line(&c, "flooding", line, sizeof(line)));
	snprintf(path, sizeof(path), "/local/domain/0/backend/vbd/%u/51712", dr);
	CHECK_EQ(pvio_xs_rm(xs, 0, path), 0);
	now = res_settle(&base);
	check_res("backend directory removed under I/O", &base, &now);
	usleep(200000);
	CHECK(be_gone(dr, 51712));       /* not re-created by a late write */
	CHECK(kill(blkback, 0) == 0);
	child_end(&c, true);
	snprintf(path, sizeof(path), "/local/domain/%u/device/vbd/51712", dr);
	pvio_xs_rm(xs, 0, path);

	/* The frontend directory: the backend disconnects (Closed). */
	attach(dr, "xvda", "", "rmdir.img");
	c = guest(dr, "--flood", NULL, NULL, NULL);
	CHECK(expect_line(&c, "flooding", line, sizeof(line)));
	CHECK_EQ(pvio_xs_rm(xs, 0, path), 0);
	CHECK(be_wait_state(dr, 51712, PVIO_XENBUS_STATE_CLOSED));
	child_end(&c, true);
	CHECK_EQ(pvio_ts_domain_destroy(dom0, xs, dr), 0);
	now = res_settle(&base);
	check_res("frontend directory removed under I/O, domain destroyed", &base, &now);
	CHECK(kill(blkback, 0) == 0);
}

/* Case 4: the store (pviod) killed under the backend. */
static void case_store_lost(void)
{
	uint16_t ds;
	struct child c, g2;
	char line[128];
	long t0, t1;
	int st = -1;

	REQUIRE(pvio_ts_domain_create(dom0, xs, "survivor", 16 << 20, &ds) == 0);
	attach(ds, "xvda", "", "survivor.img");
	c = guest(ds, "--serve", NULL, NULL, NULL);
	CHECK(expect_line(&c, "connected", line, sizeof(line)));
	fprintf(c.in, "io\n");
	CHECK(expect_line(&c, "io", line, sizeof(line)) && !strcmp(line, "io ok"));

	pvio_xs_close(xs);
	xs = NULL;
	pvio_hv_close(dom0);
	dom0 = NULL;
	kill(pviod, SIGKILL);
	waitpid(pviod, NULL, 0);
	pviod = -1;
	usleep(300000);

	/* The backend lives on, idle, and still serves the ring. */
	CHECK(kill(blkback, 0) == 0);
	t0 = cpu_ticks(blkback);
	usleep(1000000);
	t1 = cpu_ticks(blkback);
	printf("store lost: pvio-blkback used %ld CPU ticks in 1 s\n", t1 - t0);
	CHECK(t0 >= 0 && t1 - t0 < 20);
	fprintf(c.in, "io\n");
	CHECK(expect_line(&c, "io", line, sizeof(line)) && !strcmp(line, "io ok"));
	CHECK(log_has("store connection"));

	/* Its last frontend goes: it exits, saying why. */
	fprintf(c.in, "close\n");
	CHECK(expect_line(&c, "closed", line, sizeof(line)));
	for (int i = 0; i < 500; i++) {
		if (waitpid(blkback, &st, WNOHANG) == blkback) {
			blkback = -1;
			break;
		}
		usleep(10000);
	}
	CHECK(blkback == -1);
	if (blkback > 0) {
		tu_stop(blkback);
		blkback = -1;
	} else {
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	}
	CHECK(log_has("exiting"));
	show_log("store");
	CHECK_EQ(child_end(&c, false), 0);

	/* A new pviod, a new pvio-blkback: a new guest is served. */
	tu_rmdir(dir);
	pviod = tu_start_pviod(dir, sizeof(dir), sock, sizeof(sock), xs_path, sizeof(xs_path));
	REQUIRE(pviod > 0);
	blkback = start_blkback();
	{
		int fd;
		REQUIRE(pvio_hv_socket_connect(sock, &dom0) == 0);
		REQUIRE(pvio_hv_xs_connect(dom0, &fd) == 0 && pvio_xs_open_fd(fd, &xs) == 0);
	}
	REQUIRE(pvio_ts_domain_create(dom0, xs, "again", 64 << 20, &ds) == 0);
	attach(ds, "xvda", "", "again.img");
	g2 = guest(ds, "--good", NULL, NULL, NULL);
	CHECK(expect_line(&g2, "ready", line, sizeof(line)));
	usleep(300000);
	fclose(g2.in);
	g2.in = NULL;
	CHECK(expect_line(&g2, "good:", line, sizeof(line)));
	printf("after the restart: %s\n", line);
	CHECK_EQ(child_end(&g2, false), 0);
}

int main(int argc, char **argv)
{
	uint16_t dg, dh;
	unsigned cycles = 1000, warm = 20, vanished = 0, rewrites = 0;
	uint64_t seed = 0x5eed;
	struct child gg;
	char line[256];
	const char *e;
	int fd;

	if (argc > 4 && !strcmp(argv[1], "--cycles"))
		return cycles_main((unsigned)atoi(argv[2]), (unsigned)atoi(argv[3]),
				   strtoull(argv[4], NULL, 0));
	if (argc > 2 && !strcmp(argv[1], "--mute"))
		return mute_main(argv[2]);
	if (argc > 1 && !strcmp(argv[1], "--flood"))
		flood_main();
	if (argc > 1 && !strcmp(argv[1], "--serve"))
		return serve_main();
	if (argc > 1 && !strcmp(argv[1], "--good"))
		return good_main();

	self = argv[0];
	e = getenv("PVIO_LONG_TESTS");
	if (e && !strcmp(e, "1"))
		cycles = 5000;
	e = getenv("PVIO_CTRLFAULTS_CYCLES");
	if (e && atoi(e) > 0)
		cycles = (unsigned)atoi(e);
	e = getenv("PVIO_CTRLFAULTS_SEED");
	if (e && *e)
		seed = strtoull(e, NULL, 0);
	if (warm > cycles / 2)
		warm = cycles / 2;
	signal(SIGPIPE, SIG_IGN);

	/* Outside dir: case 4 makes a new one. */
	snprintf(bb_log, sizeof(bb_log), "/tmp/pvio-ctrlfaults-%d.log", (int)getpid());
	unlink(bb_log);
	pviod = tu_start_pviod(dir, sizeof(dir), sock, sizeof(sock), xs_path, sizeof(xs_path));
	REQUIRE(pviod > 0);
	atexit(cleanup);
	blkback = start_blkback();
	REQUIRE(pvio_hv_socket_connect(sock, &dom0) == 0);
	REQUIRE(pvio_hv_xs_connect(dom0, &fd) == 0 && pvio_xs_open_fd(fd, &xs) == 0);
	REQUIRE(pvio_ts_domain_create(dom0, xs, "good", 64 << 20, &dg) == 0);
	REQUIRE(pvio_ts_domain_create(dom0, xs, "hostile", 16 << 20, &dh) == 0);
	attach(dg, "xvda", "", "good.img");
	attach(dh, "xvda", "", "h0.img");
	attach(dh, "xvdb", "engine=libaio, ", "h1.img");
	attach(dh, "xvdc", "engine=psync, ", "h2.img");
	/* Completions held back 20 ms: requests are surely in flight at the
	 * disconnect. */
	attach(dh, "xvdd", "fault-inject=delay:ms=20, ", "h3.img");

	gg = guest(dg, "--good", NULL, NULL, NULL);
	good = gg.pid;
	REQUIRE(expect_line(&gg, "ready", line, sizeof(line)));

	/* 1. Cycles. */
	{
		struct res base, now;
		double t0 = tu_now();

		printf("cycles: %u (seed %#llx), warm-up %u\n", cycles, (unsigned long long)seed,
		       warm);
		fflush(stdout);
		REQUIRE(run_cycles(dh, 0, warm, seed, &vanished, &rewrites) == 0);
		usleep(100000);
		base = res_now();
		if (run_cycles(dh, warm, cycles, seed, &vanished, &rewrites) < 0) {
			CHECK(!"the cycles went through");
		} else {
			now = res_settle(&base);
			unsigned how[8] = { 0 };

			for (unsigned c = 0; c < cycles; c++)
				how[cycle_how(cycle_r(seed, c))]++;
			printf("cycles %u in %.1f s: %u with keys rewritten mid-handshake; ended by "
			       "Closing/Closed %u, Closed %u, reset %u, grants and ports torn "
			       "down %u, state node removed %u, SIGKILL %u\n", cycles,
			       tu_now() - t0, rewrites, how[0] + how[1] + how[2], how[3], how[4],
			       how[5], how[6], vanished);
			printf("cycles %u: fds %d->%d, maps %d->%d, threads %d->%d, RSS %ld->%ld "
			       "KiB\n", cycles, base.fds, now.fds, base.maps, now.maps,
			       base.threads, now.threads, base.rss, now.rss);
			fflush(stdout);
			CHECK_EQ(now.fds, base.fds);
			CHECK_EQ(now.maps, base.maps);
			CHECK_EQ(now.threads, base.threads);
#ifndef __SANITIZE_ADDRESS__
			CHECK(now.rss - base.rss <= 2048);
#else
			printf("(RSS not checked: ASan's quarantine holds freed memory)\n");
#endif
		}
		CHECK(kill(blkback, 0) == 0);
	}

	/* 2, 3. */
	case_mute();
	case_rmdir();

	/* The good guest ran throughout: its final pass must be clean. */
	fclose(gg.in);
	gg.in = NULL;
	CHECK(expect_line(&gg, "good:", line, sizeof(line)));
	printf("%s\n", line);
	CHECK_EQ(child_end(&gg, false), 0);
	good = -1;

	/* 4. */
	case_store_lost();

	pvio_xs_close(xs);
	pvio_hv_close(dom0);
	finished = true;
	return tu_result();
}
