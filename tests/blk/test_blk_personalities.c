/* SPDX-License-Identifier: MIT */
/*
 * Frontend personalities against pvio-blkback: raw frontends (children of
 * this test, writing store keys and ring requests themselves) that do, key
 * for key and state for state, what four real blkfronts do, against the
 * real pviod and pvio-blkback processes.
 *
 * personality  source                           what is reproduced
 * -----------  -------------------------------  ------------------------------
 * windows      win-xenvbd src/xenvbd/           Every start (and every resume:
 *              frontend.c FrontendClose,        the state is forced Closed and
 *              FrontendPrepare, FrontendConnect back) begins with Close: wait
 *              (and ring.c for the requests);   for the backend to leave
 *              PV-FRONTENDS-NOTES.md 2.1, 2.2   Initialising; Closing until it
 *                                               is Closing/Closed; Closed until
 *              it is Closed. Prepare: data/scsi/target/N/{frontend,device};
 *              Initialising; the backend must come to InitWait (Closed and
 *              Initialising are waited through, anything else fails); reads
 *              removable, feature-barrier, feature-flush-cache,
 *              feature-discard, discard-enable, max-ring-page-order (capped at
 *              4), multi-queue-max-queues, feature-max-indirect-segments,
 *              feature-persistent (logged only). Connect, in one transaction:
 *              ring-ref / ring-ref%u flat for one queue (queue-%u/ for more),
 *              event-channel, ring-page-order only when > 0, protocol,
 *              multi-queue-num-queues always (even 1), target-id,
 *              feature-surprise-remove=1, feature-online-resize=1,
 *              feature-large-sector-size=1; Initialised; waits for Connected;
 *              reads sector-size, sectors, info, physical-sector-size (0: the
 *              sector size) and the features again; Connected. Requests:
 *              sectors, sector_number, first/last_sect, DISCARD's nr_sectors
 *              in sector-size units; INDIRECT past 11 segments;
 *              FLUSH_DISKCACHE when feature-flush-cache=1, else
 *              WRITE_BARRIER; never persistent grants (a grant per request,
 *              read-only for a WRITE). Reopened by Close + Prepare + Connect.
 * linux        drivers/block/xen-blkfront.c     Waits for InitWait (its
 *              talk_to_blkback, blkfront_       frontend node starts at
 *              connect, blkif_queue_rw_req,     Initialising); reads
 *              blkfront_closing; drivers/xen/   max-ring-page-order (its own
 *              xenbus/xenbus_probe.c            max_ring_page_order default 0:
 *              xenbus_dev_shutdown              one page) and
 *              multi-queue-max-queues; one transaction: ring-page-order only
 *              past one page, flat keys for one queue or
 *              multi-queue-num-queues + queue-%u/, protocol,
 *              feature-persistent=1; Initialised. On Connected reads sectors,
 *              info, sector-size, physical-sector-size, feature-flush-cache,
 *              feature-barrier, feature-discard (+ discard-granularity,
 *              -alignment, -secure), feature-persistent,
 *              feature-max-indirect-segments; Connected. 512-byte units for
 *              everything whatever sector-size says; persistent grants (the
 *              same grants for every request) and indirect when offered;
 *              buffers only 512-aligned (queue dma_alignment 511), so a
 *              logical block may straddle two pages. Shutdown: Closing; the
 *              backend's Closing -> Closed; the backend's Closed.
 * freebsd      sys/dev/xen/blkfront/blkfront.c  xbd_attach writes Initialising;
 *              (FreeBSD 10) xbd_attach,         on InitWait reads
 *              xbd_initialize, xbd_connect,     max-ring-page-order,
 *              xbd_closing, xbd_queue_request   max-ring-pages, max-requests,
 *                                               max-request-segments,
 *              max-request-size and writes, key by key (no transaction):
 *              ring-ref%u (ring-ref for one page), num-ring-pages and
 *              ring-page-order past one page, max-requests,
 *              max-request-segments, max-request-size, event-channel,
 *              protocol; Initialised. On Connected reads sectors, info,
 *              sector-size, feature-barrier, feature-flush-cache; Connected.
 *              sectors and sector_number in sector-size units,
 *              first/last_sect in 512; no indirect, no persistent grants;
 *              FLUSH_DISKCACHE if offered, else WRITE_BARRIER. Closes only on
 *              the backend's Closing (a toolstack detach): Closing, then
 *              Closed at once.
 * minios       mini-os blkfront.c init_         Never waits for InitWait: one
 *              blkfront, blkfront_aio,          transaction ring-ref,
 *              blkfront_sync, shutdown_         event-channel, protocol and
 *              blkfront                         state=Connected (no
 *                                               Initialised); waits for the
 *              backend's Connected; reads mode, info, sectors, sector-size,
 *              feature-barrier, feature-flush-cache. sector_number and
 *              first/last_sect in 512, sectors in sector-size units; one-page
 *              ring; a grant per request (read-only for a WRITE); sync:
 *              WRITE_BARRIER if feature-barrier, then FLUSH_DISKCACHE if
 *              feature-flush-cache. Shutdown: sync; Closing, wait >= Closing;
 *              Closed, wait >= Closed; Initialising, wait for InitWait; rm
 *              ring-ref and event-channel.
 * badlarge     (hostile)                        Windows' keys with
 *              feature-large-sector-size=2 on a 4096-byte disk: its units
 *              cannot be told. Then =1 and Initialised again.
 *
 * The scenario (units: README.md "Disks and their frontends", the rule in
 * blkback/xenbus.c):
 *  A. A 512-byte-sector disk (xvda): windows on the fresh backend
 *     (InitWait -> Closing -> Closed -> InitWait -> Connected), then ten
 *     reopens (Close, Prepare, Connect), pvio-blkback's fds, shared
 *     mappings and threads back to their start values at each InitWait;
 *     linux; minios; the frontend's state node removed while the backend
 *     waits in InitWait (Unknown is Closed, as QEMU: Closed, then InitWait
 *     again on Initialising); freebsd, closed by the toolstack's detach
 *     (online=0, backend Closing): FreeBSD's Closing/Closed, and the
 *     backend lets go of the image at once; freebsd again, dying at the
 *     detach (event channel closed, no Closed): the image is let go
 *     before the backend says Closed.
 *  B. A 512-byte disk (xvdc): linux closes; the device is kept (image still
 *     open) while online=1; the toolstack writes online=0 and the guest
 *     comes back with Initialising: the backend stays Closed and releases
 *     the image (QEMU's xen-bus rule).
 *  C. A 4096-byte-sector disk (xvdd): windows in 4096-byte units, linux in
 *     512-byte units reads windows' blocks and writes its own (a 2 KiB
 *     write is refused, a block straddling two pages is fine), windows again
 *     reads linux's: the same bytes at the same image offsets. badlarge is
 *     refused at connect, the backend's log naming the key, and served once
 *     it writes 1.
 * Each personality writes stamped blocks in its own region (and the disk's
 * last block), reads them back through the ring, checks the image file at
 * the byte offsets its units imply, re-reads the earlier personalities'
 * regions, checks `sectors` x its unit is the disk's size, and gets
 * BLKIF_RSP_ERROR one block past the end. Every grant of a request must
 * revoke as soon as its response is in (nothing left mapped).
 */
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <sys/stat.h>

#include "hv/hv.h"
#include "ring/blkif.h"
#include "tests/common/testutil.h"
#include "tools/toolstack.h"
#include "xenstore/xenbus.h"
#include "xenstore/xs.h"
#include "tests/common/keyspec.h"

#define DISK_BYTES   (16u << 20)
#define REGION_BYTES (1u << 20)      /* region r at (1 + r) MiB */
#define MAX_ORDER    4
#define MAX_Q        2
#define DATA_PAGES   32
#define WAIT_MS      10000
#define WIN_CYCLES   10

#define M(s) PVIO_XENBUS_MASK(PVIO_XENBUS_STATE_##s)

static pid_t pviod = -1, blkback = -1, guest_pid = -1;
static char dir[256], sock[300], xs_path[300], bb_log[400];
static struct pvio_hv *dom0;
static struct pvio_xs *xs;
static bool finished;

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

/* The content of image byte range [off, off+len) as written with tag (0:
 * zeros): depends only on the byte offset, so any frontend, whatever its
 * units, can check what another wrote. */
static void stamp(uint8_t *buf, uint64_t off, size_t len, uint64_t tag)
{
	for (size_t i = 0; i + 8 <= len; i += 8) {
		uint64_t w = tag ? mix64(tag * 0x9e3779b97f4a7c15ull ^ (off + i)) : 0;

		memcpy(buf + i, &w, 8);
	}
}

static bool stamped(const uint8_t *buf, uint64_t off, size_t len, uint64_t tag)
{
	for (size_t i = 0; i + 8 <= len; i += 8) {
		uint64_t w = tag ? mix64(tag * 0x9e3779b97f4a7c15ull ^ (off + i)) : 0, g;

		memcpy(&g, buf + i, 8);
		if (g != w)
			return false;
	}
	return true;
}

/* ------------------------------------------------------------ a raw frontend */

enum persona { P_WINDOWS, P_LINUX, P_FREEBSD, P_MINIOS, P_BADLARGE };

struct fq {
	uint64_t ring_gfn;               /* 1 << MAX_ORDER pages */
	int refs[1 << MAX_ORDER];        /* -1: not granted */
	pvio_evtchn_port_t port;         /* 0: none */
	struct pvio_sring *sring;
	struct pvio_ring_front ring;
};

struct fe {
	enum persona p;
	const char *name;
	struct pvio_hv *hv;
	struct pvio_xs *xs;
	uint16_t domid;
	uint32_t devid;
	char fe[128], be[160];
	struct fq q[MAX_Q];
	unsigned nq, order, next_q;
	uint64_t data_gfn, ind_gfn;
	uint8_t *data;                   /* DATA_PAGES pages of guest memory */
	int data_ref[DATA_PAGES];        /* persistent grants (-1: none) */
	int ind_ref;
	bool persistent;                 /* the same grants for every request */
	unsigned max_ind;                /* 0: no INDIRECT */
	bool flush, barrier, discard;
	uint32_t sector_size, phys;
	uint64_t sectors, info;
	uint32_t sec_unit;               /* bytes per sector_number (and nr_sectors) */
	uint32_t seg_unit;               /* bytes per first_sect/last_sect */
	uint32_t size_unit;              /* bytes per `sectors` */
	uint64_t next_id;
	int img_fd;
	uint8_t scratch[64 << 10];
};

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static void fe_open(struct fe *f, enum persona p, const char *name, uint32_t devid,
		    const char *img)
{
	char path[200];
	int fd;

	memset(f, 0, sizeof(*f));
	f->p = p;
	f->name = name;
	f->devid = devid;
	f->ind_ref = -1;
	REQUIRE(pvio_hv_open_env(&f->hv) == 0);
	f->domid = pvio_hv_domid(f->hv);
	REQUIRE(pvio_hv_xs_connect(f->hv, &fd) == 0 && pvio_xs_open_fd(fd, &f->xs) == 0);
	snprintf(f->fe, sizeof(f->fe), "/local/domain/%u/device/vbd/%u", f->domid, devid);
	snprintf(path, sizeof(path), "%s/backend", f->fe);
	REQUIRE(pvio_xs_read_buf(f->xs, 0, path, f->be, sizeof(f->be), NULL) == 0);
	for (unsigned k = 0; k < MAX_Q; k++) {
		REQUIRE(pvio_hv_page_alloc(f->hv, 1u << MAX_ORDER, &f->q[k].ring_gfn) == 0);
		for (unsigned i = 0; i < (1u << MAX_ORDER); i++)
			f->q[k].refs[i] = -1;
	}
	REQUIRE(pvio_hv_page_alloc(f->hv, DATA_PAGES, &f->data_gfn) == 0);
	f->data = pvio_hv_gfn_ptr(f->hv, f->data_gfn);
	REQUIRE(f->data);
	for (unsigned i = 0; i < DATA_PAGES; i++)
		f->data_ref[i] = -1;
	REQUIRE(pvio_hv_page_alloc(f->hv, 1, &f->ind_gfn) == 0);
	f->img_fd = img ? open(img, O_RDONLY | O_CLOEXEC) : -1;
	REQUIRE(!img || f->img_fd >= 0);
}

static int fe_write(struct fe *f, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fe_write(struct fe *f, const char *key, const char *fmt, ...)
{
	char path[256], val[128];
	va_list ap;

	snprintf(path, sizeof(path), "%s/%s", f->fe, key);
	va_start(ap, fmt);
	vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	return pvio_xs_write(f->xs, 0, path, val, strlen(val));
}

static void fe_rm(struct fe *f, const char *key)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", f->fe, key);
	pvio_xs_rm(f->xs, 0, path);
}

static void set_state(struct fe *f, enum pvio_xenbus_state st)
{
	REQUIRE(pvio_xenbus_switch_state(f->xs, 0, f->fe, st) == 0);
}

static enum pvio_xenbus_state be_state(struct fe *f)
{
	enum pvio_xenbus_state st = PVIO_XENBUS_STATE_UNKNOWN;

	pvio_xenbus_read_state(f->xs, 0, f->be, &st);
	return st;
}

/* Wait for the backend to reach one of mask; fatal after WAIT_MS. */
static enum pvio_xenbus_state wait_be(struct fe *f, unsigned mask, const char *what)
{
	enum pvio_xenbus_state st = PVIO_XENBUS_STATE_UNKNOWN;

	if (pvio_xenbus_wait_state(f->xs, f->be, mask, WAIT_MS, &st) < 0) {
		fprintf(stderr, "%s: the backend never reached %s (it is %s)\n", f->name, what,
			pvio_xenbus_state_name(be_state(f)));
		exit(1);
	}
	return st;
}

/* xenvbd's __WaitState: until the backend's state differs from *st. */
static void wait_change(struct fe *f, enum pvio_xenbus_state *st)
{
	*st = wait_be(f, 0x1ffu & ~PVIO_XENBUS_MASK(*st), "a new state");
}

/* A backend key as an unsigned number (dflt if absent or not a number). */
static unsigned long long be_uint(struct fe *f, const char *key, unsigned long long dflt,
				  bool *present)
{
	unsigned long long v;
	bool ok = pvio_xenbus_read_uint(f->xs, 0, f->be, key, &v) == 0;

	if (present)
		*present = ok;
	return ok ? v : dflt;
}

/* Rings and ports of a connection (not published yet). */
static void rings_setup(struct fe *f, unsigned order, unsigned nq)
{
	f->order = order;
	f->nq = nq;
	f->next_q = 0;
	for (unsigned k = 0; k < nq; k++) {
		struct fq *q = &f->q[k];

		q->sring = pvio_hv_gfn_ptr(f->hv, q->ring_gfn);
		memset(q->sring, 0, (size_t)PVIO_PAGE_SIZE << order);
		pvio_sring_init(q->sring);
		REQUIRE(pvio_blkif_front_attach(&q->ring, q->sring,
						(size_t)PVIO_PAGE_SIZE << order) == 0);
		for (unsigned i = 0; i < (1u << order); i++) {
			q->refs[i] = pvio_hv_grant(f->hv, 0, q->ring_gfn + i, false);
			REQUIRE(q->refs[i] >= 0);
		}
		REQUIRE(pvio_hv_evtchn_alloc_unbound(f->hv, 0, &q->port) == 0);
	}
}

/* After the backend let go (Closed, or InitWait after it): every grant of
 * the connection must end at once, every port is closed. */
static void rings_release(struct fe *f)
{
	for (unsigned k = 0; k < MAX_Q; k++) {
		struct fq *q = &f->q[k];

		for (unsigned i = 0; i < (1u << MAX_ORDER); i++) {
			if (q->refs[i] < 0)
				continue;
			if (pvio_hv_revoke(f->hv, (uint32_t)q->refs[i]) < 0) {
				fprintf(stderr, "%s: ring grant %d still mapped after the backend "
					"let go\n", f->name, q->refs[i]);
				tu_failures++;
			}
			q->refs[i] = -1;
		}
		if (q->port)
			pvio_hv_evtchn_close(f->hv, q->port);
		q->port = 0;
	}
	for (unsigned i = 0; i < DATA_PAGES; i++) {
		if (f->data_ref[i] >= 0 && pvio_hv_revoke(f->hv, (uint32_t)f->data_ref[i]) < 0) {
			fprintf(stderr, "%s: persistent grant %d still mapped after the backend "
				"let go\n", f->name, f->data_ref[i]);
			tu_failures++;
		}
		f->data_ref[i] = -1;
	}
	if (f->ind_ref >= 0 && pvio_hv_revoke(f->hv, (uint32_t)f->ind_ref) < 0) {
		fprintf(stderr, "%s: indirect page grant still mapped\n", f->name);
		tu_failures++;
	}
	f->ind_ref = -1;
}

/* Where queue k's keys go: flat for one queue, queue-<k>/ for more. */
static const char *queue_pfx(unsigned nq, unsigned k)
{
	static const char *const pfx[MAX_Q] = { "queue-0/", "queue-1/" };

	return nq > 1 ? pfx[k] : "";
}

/* Ring keys of queue k under pfx: ring-ref (one page) or ring-ref%u, and
 * event-channel, appended to kv[n..] (values in val[]). */
static unsigned ring_keys(struct fe *f, unsigned k, const char *pfx,
			  struct pvio_xenbus_kv *kv, char (*val)[64], unsigned n)
{
	static char keys[MAX_Q][(1 << MAX_ORDER) + 1][48];

	for (unsigned i = 0; i < (1u << f->order); i++) {
		if (f->order)
			snprintf(keys[k][i], sizeof(keys[k][i]), "%sring-ref%u", pfx, i);
		else
			snprintf(keys[k][i], sizeof(keys[k][i]), "%sring-ref", pfx);
		snprintf(val[n], 64, "%d", f->q[k].refs[i]);
		kv[n].key = keys[k][i];
		kv[n].value = val[n];
		n++;
	}
	snprintf(keys[k][1u << MAX_ORDER], sizeof(keys[k][0]), "%sevent-channel", pfx);
	snprintf(val[n], 64, "%u", f->q[k].port);
	kv[n].key = keys[k][1u << MAX_ORDER];
	kv[n].value = val[n];
	return n + 1;
}

/* Push, kick, wait for the one response of queue q; its status. */
static int16_t wait_rsp(struct fe *f, struct fq *q, uint64_t id)
{
	int fd = pvio_hv_evtchn_fd(f->hv, q->port);
	struct pvio_blkif_response rsp;

	if (pvio_ring_push_requests(&q->ring))
		pvio_hv_evtchn_notify(f->hv, q->port);
	for (;;) {
		int k = pvio_ring_front_final_check(&q->ring);
		struct pollfd p = { .fd = fd, .events = POLLIN };

		REQUIRE(k >= 0);
		if (k > 0)
			break;
		if (poll(&p, 1, WAIT_MS) <= 0) {
			fprintf(stderr, "%s: no response in %d ms\n", f->name, WAIT_MS);
			exit(1);
		}
		pvio_hv_evtchn_pending(f->hv, q->port);
		pvio_hv_evtchn_unmask(f->hv, q->port);
	}
	pvio_blkif_copy_response(&q->ring, &rsp);
	if (rsp.id != id) {
		fprintf(stderr, "%s: response for id %llu, expected %llu\n", f->name,
			(unsigned long long)rsp.id, (unsigned long long)id);
		exit(1);
	}
	return rsp.status;
}

static struct fq *next_queue(struct fe *f)
{
	struct fq *q = &f->q[f->next_q];

	f->next_q = (f->next_q + 1) % f->nq;
	return q;
}

/* A grant on data page i for this request (persistent: the one kept). */
static int data_grant(struct fe *f, unsigned i, bool device_writes)
{
	if (f->persistent) {
		if (f->data_ref[i] < 0)
			f->data_ref[i] = pvio_hv_grant(f->hv, 0, f->data_gfn + i, false);
		REQUIRE(f->data_ref[i] >= 0);
		return f->data_ref[i];
	}
	int ref = pvio_hv_grant(f->hv, 0, f->data_gfn + i, !device_writes);

	REQUIRE(ref >= 0);
	return ref;
}

/*
 * One READ or WRITE of the data area's bytes [buf_off, buf_off + len) at
 * disk byte disk_off, in this personality's units: sector_number =
 * disk_off / sec_unit, first/last_sect in seg_unit. INDIRECT past 11
 * segments (if the personality uses it). Returns the response's status.
 */
static int16_t fe_rw(struct fe *f, uint8_t op, uint64_t disk_off, size_t buf_off, size_t len)
{
	struct pvio_blkif_request_segment segs[DATA_PAGES];
	unsigned first = (unsigned)(buf_off / PVIO_PAGE_SIZE);
	unsigned last = (unsigned)((buf_off + len - 1) / PVIO_PAGE_SIZE), n = last - first + 1;
	int refs[DATA_PAGES];
	struct fq *q = next_queue(f);
	uint64_t id = ++f->next_id;
	int16_t st;

	REQUIRE(len > 0 && last < DATA_PAGES && disk_off % f->sec_unit == 0);
	for (unsigned i = 0; i < n; i++) {
		size_t pg = (size_t)(first + i) * PVIO_PAGE_SIZE;
		size_t s = buf_off > pg ? buf_off - pg : 0;
		size_t e = buf_off + len < pg + PVIO_PAGE_SIZE ? buf_off + len - pg : PVIO_PAGE_SIZE;

		REQUIRE(s % f->seg_unit == 0 && e % f->seg_unit == 0);
		refs[i] = data_grant(f, first + i, op == PVIO_BLKIF_OP_READ);
		segs[i].gref = (uint32_t)refs[i];
		segs[i].first_sect = (uint8_t)(s / f->seg_unit);
		segs[i].last_sect = (uint8_t)((e - 1) / f->seg_unit);
		memset(segs[i].pad0, 0, sizeof(segs[i].pad0));
	}
	if (n <= PVIO_BLKIF_MAX_SEGMENTS_PER_REQUEST) {
		struct pvio_blkif_request *r = pvio_blkif_req_slot(&q->ring, 0);

		memset(r, 0, sizeof(*r));
		r->operation = op;
		r->nr_segments = (uint8_t)n;
		r->handle = (uint16_t)f->devid;
		r->id = id;
		r->sector_number = disk_off / f->sec_unit;
		memcpy(r->seg, segs, n * sizeof(segs[0]));
	} else {
		struct pvio_blkif_request_indirect *r = (void *)pvio_blkif_req_slot(&q->ring, 0);

		REQUIRE(f->max_ind >= n);
		memcpy(pvio_hv_gfn_ptr(f->hv, f->ind_gfn), segs, n * sizeof(segs[0]));
		if (f->ind_ref < 0)
			f->ind_ref = pvio_hv_grant(f->hv, 0, f->ind_gfn, true);
		REQUIRE(f->ind_ref >= 0);
		memset(r, 0, sizeof(*r));
		r->operation = PVIO_BLKIF_OP_INDIRECT;
		r->indirect_op = op;
		r->nr_segments = (uint16_t)n;
		r->handle = (uint16_t)f->devid;
		r->id = id;
		r->sector_number = disk_off / f->sec_unit;
		r->indirect_grefs[0] = (uint32_t)f->ind_ref;
	}
	pvio_ring_produce_requests(&q->ring, 1);
	st = wait_rsp(f, q, id);
	if (!f->persistent)
		for (unsigned i = 0; i < n; i++)
			if (pvio_hv_revoke(f->hv, (uint32_t)refs[i]) < 0) {
				fprintf(stderr, "%s: grant %d still mapped after its response\n",
					f->name, refs[i]);
				tu_failures++;
			}
	return st;
}

/* A request without data: FLUSH_DISKCACHE or WRITE_BARRIER. */
static int16_t fe_op0(struct fe *f, uint8_t op)
{
	struct fq *q = next_queue(f);
	struct pvio_blkif_request *r = pvio_blkif_req_slot(&q->ring, 0);
	uint64_t id = ++f->next_id;

	memset(r, 0, sizeof(*r));
	r->operation = op;
	r->handle = (uint16_t)f->devid;
	r->id = id;
	pvio_ring_produce_requests(&q->ring, 1);
	return wait_rsp(f, q, id);
}

static int16_t fe_discard(struct fe *f, uint64_t disk_off, uint64_t len)
{
	struct fq *q = next_queue(f);
	struct pvio_blkif_request_discard *r = (void *)pvio_blkif_req_slot(&q->ring, 0);
	uint64_t id = ++f->next_id;

	memset(r, 0, sizeof(struct pvio_blkif_request));
	r->operation = PVIO_BLKIF_OP_DISCARD;
	r->handle = (uint16_t)f->devid;
	r->id = id;
	r->sector_number = disk_off / f->sec_unit;
	r->nr_sectors = len / f->sec_unit;
	pvio_ring_produce_requests(&q->ring, 1);
	return wait_rsp(f, q, id);
}

/* The image file at [off, off+len) holds tag's stamp. */
static bool image_has(struct fe *f, uint64_t off, size_t len, uint64_t tag)
{
	REQUIRE(len <= sizeof(f->scratch));
	if (pread(f->img_fd, f->scratch, len, (off_t)off) != (ssize_t)len)
		return false;
	return stamped(f->scratch, off, len, tag);
}

/* Write tag's stamp at disk offset off (len bytes, from data offset
 * buf_off), read it back through the ring, check the image file. */
static void put_check(struct fe *f, uint64_t off, size_t buf_off, size_t len, uint64_t tag,
		      const char *what)
{
	int16_t st;

	stamp(f->data + buf_off, off, len, tag);
	st = fe_rw(f, PVIO_BLKIF_OP_WRITE, off, buf_off, len);
	if (st != PVIO_BLKIF_RSP_OKAY) {
		fprintf(stderr, "%s: %s: write of %zu bytes at %llu: status %d\n", f->name, what,
			len, (unsigned long long)off, st);
		tu_failures++;
		return;
	}
	memset(f->data + buf_off, 0xa5, len);
	st = fe_rw(f, PVIO_BLKIF_OP_READ, off, buf_off, len);
	if (st != PVIO_BLKIF_RSP_OKAY || !stamped(f->data + buf_off, off, len, tag)) {
		fprintf(stderr, "%s: %s: read back at %llu: status %d, %s\n", f->name, what,
			(unsigned long long)off, st, st ? "" : "wrong bytes");
		tu_failures++;
	}
	if (!image_has(f, off, len, tag)) {
		fprintf(stderr, "%s: %s: the image does not hold the %zu bytes at offset %llu\n",
			f->name, what, len, (unsigned long long)off);
		tu_failures++;
	}
}

/* Read [off, off+len) through the ring: tag's stamp? */
static void get_check(struct fe *f, uint64_t off, size_t len, uint64_t tag, const char *what)
{
	int16_t st;

	memset(f->data, 0xa5, len);
	st = fe_rw(f, PVIO_BLKIF_OP_READ, off, 0, len);
	if (st != PVIO_BLKIF_RSP_OKAY || !stamped(f->data, off, len, tag)) {
		fprintf(stderr, "%s: %s: %zu bytes at %llu: status %d, %s\n", f->name, what, len,
			(unsigned long long)off, st, st ? "" : "not what was written");
		tu_failures++;
	}
}

static uint64_t region(unsigned r)
{
	return (uint64_t)(1 + r) * REGION_BYTES;
}

/* The personality's flush: FLUSH_DISKCACHE if offered, else WRITE_BARRIER
 * (MiniOS: a barrier if offered, then a flush if offered). */
static void fe_sync(struct fe *f)
{
	if (f->p == P_MINIOS) {
		if (f->barrier)
			CHECK_EQ(fe_op0(f, PVIO_BLKIF_OP_WRITE_BARRIER), PVIO_BLKIF_RSP_OKAY);
		if (f->flush)
			CHECK_EQ(fe_op0(f, PVIO_BLKIF_OP_FLUSH_DISKCACHE), PVIO_BLKIF_RSP_OKAY);
		return;
	}
	CHECK(f->flush || f->barrier);
	CHECK_EQ(fe_op0(f, f->flush ? PVIO_BLKIF_OP_FLUSH_DISKCACHE : PVIO_BLKIF_OP_WRITE_BARRIER),
		 PVIO_BLKIF_RSP_OKAY);
}

/* The data every personality moves (checks: "TAG:REGION,..." written
 * earlier by others, re-read here). */
static void workload(struct fe *f, uint64_t tag, unsigned reg, const char *checks)
{
	uint64_t base = region(reg);
	size_t big = f->max_ind >= 16 ? 64 << 10 : 44 << 10;   /* 16 pages, or 11 */
	const char *c = checks;

	printf("%s: disk of %llu %u-byte sectors (sector-size %u, physical %u, info %llu), "
	       "sector_number in %u-byte units, first/last_sect in %u; %u queue(s), ring "
	       "order %u, %s grants%s\n", f->name, (unsigned long long)f->sectors, f->size_unit,
	       f->sector_size, f->phys, (unsigned long long)f->info, f->sec_unit, f->seg_unit,
	       f->nq, f->order, f->persistent ? "persistent" : "one-off",
	       f->max_ind >= 16 ? ", indirect" : "");
	fflush(stdout);
	CHECK_EQ(f->sectors * f->size_unit, DISK_BYTES);
	put_check(f, base, 0, 4096, tag, "first block of its region");
	put_check(f, base + 65536, 0, big, tag, big == 65536 ? "16 pages (indirect)" :
		  "11 pages");
	put_check(f, DISK_BYTES - 4096, 0, 4096, tag, "the disk's last block");
	fe_sync(f);
	get_check(f, base, 4096, tag, "first block again, after the flush");
	/* One block past the end. */
	CHECK_EQ(fe_rw(f, PVIO_BLKIF_OP_READ, DISK_BYTES, 0, f->sector_size),
		 PVIO_BLKIF_RSP_ERROR);
	/* What the others wrote, at the same byte offsets. */
	while (c && *c && strcmp(c, "-")) {
		unsigned long long t = strtoull(c, (char **)&c, 10);
		unsigned r = *c == ':' ? (unsigned)strtoul(c + 1, (char **)&c, 10) : 0;

		get_check(f, region(r), 4096, t, "another frontend's block");
		get_check(f, region(r) + 65536, 45056, t, "another frontend's pages");
		printf("%s: read tag %llu's blocks at %llu: %s\n", f->name, t,
		       (unsigned long long)region(r), tu_failures ? "FAILED" : "same bytes");
		if (*c == ',')
			c++;
	}
	fflush(stdout);
}

/* Device properties the backend published before Connected. */
static void read_props(struct fe *f)
{
	bool present;

	f->sector_size = (uint32_t)be_uint(f, "sector-size", 512, NULL);
	f->sectors = be_uint(f, "sectors", 0, &present);
	CHECK(present);
	f->info = be_uint(f, "info", 0, &present);
	CHECK(present);
	f->phys = (uint32_t)be_uint(f, "physical-sector-size", 0, NULL);
	if (f->phys == 0)
		f->phys = f->sector_size;      /* xenvbd: 0 means the sector size */
	CHECK(f->phys >= f->sector_size && f->phys % f->sector_size == 0);
	f->flush = be_uint(f, "feature-flush-cache", 0, NULL) == 1;
	f->barrier = be_uint(f, "feature-barrier", 0, NULL) == 1;
	CHECK(f->flush);                   /* offered: xenvbd uses FLUSH, not BARRIER */
}

/* ------------------------------------------------------------ windows */

/* FrontendClose. */
static void win_close(struct fe *f)
{
	enum pvio_xenbus_state be = PVIO_XENBUS_STATE_UNKNOWN;

	do
		wait_change(f, &be);
	while (be == PVIO_XENBUS_STATE_INITIALISING);
	while (be != PVIO_XENBUS_STATE_CLOSING && be != PVIO_XENBUS_STATE_CLOSED) {
		set_state(f, PVIO_XENBUS_STATE_CLOSING);
		wait_change(f, &be);
	}
	while (be != PVIO_XENBUS_STATE_CLOSED) {
		set_state(f, PVIO_XENBUS_STATE_CLOSED);
		wait_change(f, &be);
	}
}

/* xenvbd's target: the xvd disk index (xvda 0, xvdb 1, ...). */
static unsigned target_id(const struct fe *f)
{
	return (f->devid >> 4) & 0xf;
}

/* FrontendPrepare. */
static void win_prepare(struct fe *f)
{
	enum pvio_xenbus_state be = PVIO_XENBUS_STATE_UNKNOWN;
	char path[200], val[16];

	snprintf(path, sizeof(path), "/local/domain/%u/data/scsi/target/%u/frontend", f->domid,
		 target_id(f));
	CHECK_EQ(pvio_xs_write(f->xs, 0, path, f->fe, strlen(f->fe)), 0);
	snprintf(path, sizeof(path), "/local/domain/%u/data/scsi/target/%u/device", f->domid,
		 target_id(f));
	CHECK_EQ(pvio_xs_printf(f->xs, 0, path, "%u", f->devid), 0);
	set_state(f, PVIO_XENBUS_STATE_INITIALISING);
	do
		wait_change(f, &be);
	while (be == PVIO_XENBUS_STATE_CLOSED || be == PVIO_XENBUS_STATE_INITIALISING);
	if (be != PVIO_XENBUS_STATE_INITWAIT) {
		fprintf(stderr, "%s: Prepare: the backend went %s, not InitWait\n", f->name,
			pvio_xenbus_state_name(be));
		exit(1);
	}
	/* Caps and features, read at InitWait. */
	snprintf(path, sizeof(path), "%s/removable", f->be);
	CHECK(pvio_xs_read_buf(f->xs, 0, path, val, sizeof(val), NULL) == 0 && !strcmp(val, "0"));
	f->barrier = be_uint(f, "feature-barrier", 0, NULL) == 1;
	f->flush = be_uint(f, "feature-flush-cache", 0, NULL) == 1;
	CHECK(f->flush);                   /* published before InitWait too */
	f->discard = be_uint(f, "feature-discard", 0, NULL) == 1 &&
		     be_uint(f, "discard-enable", 1, NULL) != 0;
	f->order = (unsigned)be_uint(f, "max-ring-page-order", 0, NULL);
	if (f->order > 4)
		f->order = 4;                  /* XENVBD_MAX_RING_PAGE_ORDER */
	f->max_ind = (unsigned)be_uint(f, "feature-max-indirect-segments", 0, NULL);
	if (f->max_ind <= PVIO_BLKIF_MAX_SEGMENTS_PER_REQUEST)
		f->max_ind = 0;
	(void)be_uint(f, "feature-persistent", 0, NULL);   /* logged, never used */
}

/* FrontendConnect, with nq queues (1: flat keys, multi-queue-num-queues=1).
 * large: the value written as feature-large-sector-size. */
static void win_connect_keys(struct fe *f, unsigned nq, const char *large)
{
	struct pvio_xenbus_kv kv[64];
	char val[64][64];
	unsigned n = 0;

	rings_setup(f, f->order, nq);
	for (unsigned k = 0; k < nq; k++)
		n = ring_keys(f, k, queue_pfx(nq, k), kv, val, n);
#define KV(k, ...) do { snprintf(val[n], 64, __VA_ARGS__); kv[n].key = (k); \
			kv[n].value = val[n]; n++; } while (0)
	if (f->order > 0)
		KV("ring-page-order", "%u", f->order);
	KV("protocol", "%s", PVIO_XEN_IO_PROTO_ABI_X86_64);
	KV("multi-queue-num-queues", "%u", nq);
	KV("target-id", "%u", target_id(f));
	KV("feature-surprise-remove", "1");
	KV("feature-online-resize", "1");
	KV("feature-large-sector-size", "%s", large);
#undef KV
	REQUIRE(pvio_xenbus_write_keys(f->xs, f->fe, kv, n) == 0);
	set_state(f, PVIO_XENBUS_STATE_INITIALISED);
}

static void win_connected(struct fe *f)
{
	enum pvio_xenbus_state be = PVIO_XENBUS_STATE_INITWAIT;

	while (be == PVIO_XENBUS_STATE_INITWAIT || be == PVIO_XENBUS_STATE_INITIALISED)
		wait_change(f, &be);
	if (be != PVIO_XENBUS_STATE_CONNECTED) {
		fprintf(stderr, "%s: Connect: the backend went %s\n", f->name,
			pvio_xenbus_state_name(be));
		exit(1);
	}
	read_props(f);
	f->discard = be_uint(f, "feature-discard", 0, NULL) == 1 &&
		     be_uint(f, "discard-enable", 1, NULL) != 0;
	f->sec_unit = f->seg_unit = f->size_unit = f->sector_size;
	f->persistent = false;
	set_state(f, PVIO_XENBUS_STATE_CONNECTED);
}

static unsigned be_queues(struct fe *f)
{
	unsigned mq = (unsigned)be_uint(f, "multi-queue-max-queues", 1, NULL);

	return mq < 1 ? 1 : mq > MAX_Q ? MAX_Q : mq;
}

static int windows_main(struct fe *f, uint64_t tag, unsigned reg, unsigned cycles,
			const char *checks)
{
	char cmd[32];

	unsigned conns = cycles ? cycles + 1 : 1;

	/* Start (or resume): Close on the fresh backend, then Prepare. */
	win_close(f);
	rings_release(f);
	win_prepare(f);
	say("ready 0");
	if (cycles && (!fgets(cmd, sizeof(cmd), stdin) || strncmp(cmd, "next", 4)))
		return 1;
	/* The first connection, then cycles reopens; each ends with Close
	 * and Prepare (the backend in InitWait again: "ready N"). */
	for (unsigned c = 0; c < conns; c++) {
		/* One queue (flat keys) first, then as many as offered. */
		win_connect_keys(f, c % 2 ? be_queues(f) : 1, "1");
		win_connected(f);
		if (c == 0) {
			workload(f, tag, reg, checks);
			if (f->discard) {
				/* DISCARD in sector-size units: the block reads
				 * zeros, in the image too. */
				uint64_t off = region(reg) + 3 * 65536;

				put_check(f, off, 0, 8192, tag, "block to discard");
				CHECK_EQ(fe_discard(f, off, 4096), PVIO_BLKIF_RSP_OKAY);
				get_check(f, off, 4096, 0, "discarded block");
				get_check(f, off + 4096, 4096, tag, "block next to the discard");
				CHECK(image_has(f, off, 4096, 0));
			}
		} else {
			put_check(f, region(reg) + REGION_BYTES / 2 + c * 4096ull, 0, 4096, tag + c,
				  "reopened");
			fe_sync(f);
		}
		win_close(f);
		rings_release(f);
		if (!cycles)
			break;
		win_prepare(f);
		say("ready %u", c + 1);
		if (!fgets(cmd, sizeof(cmd), stdin) || strncmp(cmd, "next", 4))
			return 1;
	}
	if (cycles) {
		win_close(f);
		rings_release(f);
	}
	say("done");
	return tu_result();
}

/* A frontend whose units cannot be told (feature-large-sector-size=2),
 * then fixed. */
static int badlarge_main(struct fe *f, uint64_t tag, unsigned reg)
{
	enum pvio_xenbus_state be;
	char cmd[32];

	/* The device comes to it Closed (the previous guest closed it). */
	set_state(f, PVIO_XENBUS_STATE_INITIALISING);
	wait_be(f, M(INITWAIT), "InitWait");
	win_prepare(f);
	win_connect_keys(f, 1, "2");
	say("initialised");
	if (!fgets(cmd, sizeof(cmd), stdin) || strncmp(cmd, "check", 5))
		return 1;
	/* The backend refused (it said so in its log before we were asked):
	 * still InitWait, nothing mapped. */
	be = be_state(f);
	CHECK_EQ(be, PVIO_XENBUS_STATE_INITWAIT);
	say("refused: backend %s", pvio_xenbus_state_name(be));
	for (unsigned i = 0; i < (1u << f->order); i++)
		CHECK_EQ(pvio_hv_revoke(f->hv, (uint32_t)f->q[0].refs[i]), 0);
	for (unsigned i = 0; i < (1u << f->order); i++)
		f->q[0].refs[i] = pvio_hv_grant(f->hv, 0, f->q[0].ring_gfn + i, false);
	/* Fixed: the same rings, =1, Initialised again. */
	{
		struct pvio_xenbus_kv kv[20];
		char val[20][64];
		unsigned n = ring_keys(f, 0, "", kv, val, 0);

		kv[n].key = "feature-large-sector-size";
		kv[n++].value = "1";
		REQUIRE(pvio_xenbus_write_keys(f->xs, f->fe, kv, n) == 0);
	}
	set_state(f, PVIO_XENBUS_STATE_INITIALISED);
	win_connected(f);
	CHECK_EQ(f->sectors * f->size_unit, DISK_BYTES);
	put_check(f, region(reg), 0, 4096, tag, "after the fix");
	win_close(f);
	rings_release(f);
	say("done");
	return tu_result();
}

/* ------------------------------------------------------------ linux */

static void linux_close(struct fe *f)
{
	/* xenbus_dev_shutdown: Closing; blkfront_closing on the backend's
	 * Closing: Closed (xenbus_frontend_closed). */
	set_state(f, PVIO_XENBUS_STATE_CLOSING);
	wait_be(f, M(CLOSING) | M(CLOSED), "Closing");
	set_state(f, PVIO_XENBUS_STATE_CLOSED);
	wait_be(f, M(CLOSED), "Closed");
	rings_release(f);
}

#define LINUX_KEYS "tests/blk/linux-blkfront.keys"

static void linux_connect(struct fe *f)
{
	struct pvio_xenbus_kv kv[64];
	char val[64][64];
	unsigned n = 0, nq;
	bool bp;

	/* The guest boots on this device: its node starts at Initialising
	 * (the previous user left it Closed), blkfront waits for InitWait. */
	set_state(f, PVIO_XENBUS_STATE_INITIALISING);
	wait_be(f, M(INITWAIT), "InitWait");
	/* Pages: min(max-ring-page-order, its max_ring_page_order parameter,
	 * 0 by default); queues: min(multi-queue-max-queues, its CPUs). */
	(void)be_uint(f, "max-ring-page-order", 0, NULL);
	nq = be_queues(f);
	rings_setup(f, 0, nq);
	for (unsigned k = 0; k < nq; k++)
		n = ring_keys(f, k, queue_pfx(nq, k), kv, val, n);
	if (nq > 1) {
		snprintf(val[n], 64, "%u", nq);
		kv[n].key = "multi-queue-num-queues";
		kv[n].value = val[n];
		n++;
	}
	kv[n].key = "protocol";
	kv[n++].value = PVIO_XEN_IO_PROTO_ABI_X86_64;
	kv[n].key = "feature-persistent";
	kv[n++].value = "1";
	REQUIRE(pvio_xenbus_write_keys(f->xs, f->fe, kv, n) == 0);
	set_state(f, PVIO_XENBUS_STATE_INITIALISED);
	wait_be(f, M(CONNECTED), "Connected");
	read_props(f);
	f->discard = be_uint(f, "feature-discard", 0, NULL) == 1;
	if (f->discard) {
		(void)be_uint(f, "discard-granularity", 0, &bp);
		CHECK(bp);
		(void)be_uint(f, "discard-alignment", 0, &bp);
		CHECK(bp);
		(void)be_uint(f, "discard-secure", 0, NULL);
	}
	f->persistent = be_uint(f, "feature-persistent", 0, NULL) == 1;
	f->max_ind = (unsigned)be_uint(f, "feature-max-indirect-segments", 0, NULL);
	if (f->max_ind <= PVIO_BLKIF_MAX_SEGMENTS_PER_REQUEST)
		f->max_ind = 0;
	f->sec_unit = f->seg_unit = f->size_unit = 512;
	set_state(f, PVIO_XENBUS_STATE_CONNECTED);
}

static int linux_main(struct fe *f, uint64_t tag, unsigned reg, const char *checks)
{
	linux_connect(f);
	/* What it wrote and read is what the real xen-blkfront writes and what
	 * real backends offer (tests/xen/test_xen_blk.sh, same file). */
	CHECK_EQ(tu_keys_check(f->xs, LINUX_KEYS, f->fe, f->be, "linux"), 0);
	workload(f, tag, reg, checks);
	if (f->sector_size > 512) {
		uint64_t off = region(reg) + 2 * 65536;

		/* Its logical block is sector-size: a request of less is
		 * refused, the image untouched. */
		put_check(f, off, 0, 8192, tag, "8 KiB before the short write");
		stamp(f->data, off, 2048, tag + 100);
		CHECK_EQ(fe_rw(f, PVIO_BLKIF_OP_WRITE, off, 0, 2048), PVIO_BLKIF_RSP_ERROR);
		CHECK(image_has(f, off, 8192, tag));
		CHECK_EQ(fe_rw(f, PVIO_BLKIF_OP_WRITE, off + 512, 0, f->sector_size),
			 PVIO_BLKIF_RSP_ERROR);
		CHECK(image_has(f, off, 8192, tag));
		/* A block straddling two pages (buffer at page offset 512:
		 * first/last_sect 1..7 and 0..0) is a legal Linux request. */
		put_check(f, off + 8192, 512, f->sector_size, tag + 1, "block across two pages");
		printf("%s: %u-byte requests refused, a block across two pages served\n", f->name,
		       2048);
	}
	linux_close(f);
	say("done");
	return tu_result();
}

/* ------------------------------------------------------------ freebsd */

static int freebsd_main(struct fe *f, uint64_t tag, unsigned reg, bool dies,
			const char *checks)
{
	unsigned pages;
	enum pvio_xenbus_state be;

	/* xbd_attach. */
	set_state(f, PVIO_XENBUS_STATE_INITIALISING);
	wait_be(f, M(INITWAIT), "InitWait");
	/* xbd_initialize. */
	pages = 1u << be_uint(f, "max-ring-page-order", 0, NULL);
	pages = (unsigned)be_uint(f, "max-ring-pages", pages, NULL);
	(void)be_uint(f, "max-requests", 0, NULL);
	(void)be_uint(f, "max-request-segments", 0, NULL);
	(void)be_uint(f, "max-request-size", 0, NULL);
	if (pages > (1u << MAX_ORDER))
		pages = 1u << MAX_ORDER;
	rings_setup(f, (unsigned)(__builtin_ctz(pages)), 1);
	for (unsigned i = 0; i < pages; i++) {
		char key[32];

		if (pages == 1)
			snprintf(key, sizeof(key), "ring-ref");
		else
			snprintf(key, sizeof(key), "ring-ref%u", i);
		CHECK_EQ(fe_write(f, key, "%d", f->q[0].refs[i]), 0);
	}
	if (pages > 1) {
		CHECK_EQ(fe_write(f, "num-ring-pages", "%u", pages), 0);
		CHECK_EQ(fe_write(f, "ring-page-order", "%u", f->order), 0);
	}
	CHECK_EQ(fe_write(f, "max-requests", "%u", 32u << f->order), 0);
	CHECK_EQ(fe_write(f, "max-request-segments", "%u", PVIO_BLKIF_MAX_SEGMENTS_PER_REQUEST), 0);
	CHECK_EQ(fe_write(f, "max-request-size", "%u", 40960u), 0);
	CHECK_EQ(fe_write(f, "event-channel", "%u", f->q[0].port), 0);
	CHECK_EQ(fe_write(f, "protocol", "%s", PVIO_XEN_IO_PROTO_ABI_X86_64), 0);
	set_state(f, PVIO_XENBUS_STATE_INITIALISED);
	/* xbd_connect. */
	wait_be(f, M(CONNECTED), "Connected");
	read_props(f);
	f->persistent = false;
	f->max_ind = 0;
	f->size_unit = f->sec_unit = f->sector_size;
	f->seg_unit = 512;
	set_state(f, PVIO_XENBUS_STATE_CONNECTED);
	workload(f, tag, reg, checks);
	say("connected");
	/* Closed only by the backend: the toolstack's detach. */
	be = wait_be(f, M(CLOSING) | M(CLOSED), "Closing");
	if (dies) {
		/* A guest that dies there: its event channel goes before
		 * it says anything (and it never will). */
		pvio_hv_evtchn_close(f->hv, f->q[0].port);
		f->q[0].port = 0;
		say("unbound");
		return tu_result();
	}
	printf("%s: the backend went %s: xbd_closing\n", f->name, pvio_xenbus_state_name(be));
	set_state(f, PVIO_XENBUS_STATE_CLOSING);
	set_state(f, PVIO_XENBUS_STATE_CLOSED);
	say("closed");
	return tu_result();
}

/* ------------------------------------------------------------ minios */

static int minios_main(struct fe *f, uint64_t tag, unsigned reg, const char *checks)
{
	struct pvio_xenbus_kv kv[4];
	char ref[16], port[16], path[200], mode[8];
	enum pvio_xenbus_state be;

	/* The guest boots on this device (the previous user left it Closed):
	 * its node starts at Initialising. MiniOS itself never waits for
	 * InitWait; the toolstack's fresh node and the backend's answer come
	 * first here. */
	set_state(f, PVIO_XENBUS_STATE_INITIALISING);
	wait_be(f, M(INITWAIT), "InitWait");
	/* init_blkfront. */
	rings_setup(f, 0, 1);
	snprintf(ref, sizeof(ref), "%d", f->q[0].refs[0]);
	snprintf(port, sizeof(port), "%u", f->q[0].port);
	kv[0] = (struct pvio_xenbus_kv){ "ring-ref", ref };
	kv[1] = (struct pvio_xenbus_kv){ "event-channel", port };
	kv[2] = (struct pvio_xenbus_kv){ "protocol", PVIO_XEN_IO_PROTO_ABI_X86_64 };
	kv[3] = (struct pvio_xenbus_kv){ "state", "4" };
	REQUIRE(pvio_xenbus_write_keys(f->xs, f->fe, kv, 4) == 0);
	snprintf(path, sizeof(path), "%s/mode", f->be);
	CHECK(pvio_xs_read_buf(f->xs, 0, path, mode, sizeof(mode), NULL) == 0 && mode[0] == 'w');
	be = wait_be(f, M(CONNECTED) | M(CLOSING) | M(CLOSED) | M(RECONFIGURING) |
		     M(RECONFIGURED), ">= Connected");
	CHECK_EQ(be, PVIO_XENBUS_STATE_CONNECTED);
	f->info = be_uint(f, "info", 0, NULL);
	f->sectors = be_uint(f, "sectors", 0, NULL);
	f->sector_size = (uint32_t)be_uint(f, "sector-size", 0, NULL);
	f->phys = f->sector_size;
	f->barrier = be_uint(f, "feature-barrier", 0, NULL) == 1;
	f->flush = be_uint(f, "feature-flush-cache", 0, NULL) == 1;
	f->persistent = false;
	f->max_ind = 0;
	f->size_unit = f->sector_size;
	f->sec_unit = f->seg_unit = 512;
	workload(f, tag, reg, checks);
	/* shutdown_blkfront. */
	fe_sync(f);
	set_state(f, PVIO_XENBUS_STATE_CLOSING);
	wait_be(f, M(CLOSING) | M(CLOSED) | M(RECONFIGURING) | M(RECONFIGURED), ">= Closing");
	set_state(f, PVIO_XENBUS_STATE_CLOSED);
	wait_be(f, M(CLOSED) | M(RECONFIGURING) | M(RECONFIGURED), ">= Closed");
	set_state(f, PVIO_XENBUS_STATE_INITIALISING);
	wait_be(f, M(INITWAIT) | M(INITIALISED) | M(CONNECTED) | M(CLOSING), "InitWait");
	fe_rm(f, "ring-ref");
	fe_rm(f, "event-channel");
	rings_release(f);
	say("done");
	return tu_result();
}

/* ------------------------------------------------------------ other guests */

/* The frontend's state node removed while the backend waits in InitWait:
 * Unknown is Closed (QEMU); Initialising brings it back to InitWait. */
static int unknown_main(struct fe *f)
{
	wait_be(f, M(INITWAIT), "InitWait");
	fe_rm(f, "state");
	wait_be(f, M(CLOSED), "Closed after the frontend's state node went");
	set_state(f, PVIO_XENBUS_STATE_INITIALISING);
	wait_be(f, M(INITWAIT), "InitWait again");
	say("done");
	return tu_result();
}

/* The guest boots on the device: as on a node the toolstack made afresh,
 * none of a previous system's transport keys are there (they would be
 * read: a stale ring-page-order, a stale feature-persistent=1). */
static void fe_fresh(struct fe *f)
{
	static const char *const keys[] = {
		"ring-ref", "event-channel", "queue-0", "queue-1", "ring-page-order",
		"num-ring-pages", "multi-queue-num-queues", "protocol", "feature-persistent",
		"feature-large-sector-size", "feature-surprise-remove", "feature-online-resize",
		"target-id", "max-requests", "max-request-segments", "max-request-size", NULL,
	};
	char key[32];

	for (unsigned i = 0; keys[i]; i++)
		fe_rm(f, keys[i]);
	for (unsigned i = 0; i < (1u << MAX_ORDER); i++) {
		snprintf(key, sizeof(key), "ring-ref%u", i);
		fe_rm(f, key);
	}
}

static int child_main(char **argv)
{
	static struct fe f;
	const char *name = argv[0];
	uint32_t devid = (uint32_t)strtoul(argv[1], NULL, 10);
	const char *img = strcmp(argv[2], "-") ? argv[2] : NULL;
	uint64_t tag = strtoull(argv[3], NULL, 10);
	unsigned reg = (unsigned)atoi(argv[4]), cycles = (unsigned)atoi(argv[5]);
	const char *checks = argv[6];

	if (!strcmp(name, "windows")) {
		fe_open(&f, P_WINDOWS, name, devid, img);
		fe_fresh(&f);
		return windows_main(&f, tag, reg, cycles, checks);
	}
	if (!strcmp(name, "linux")) {
		fe_open(&f, P_LINUX, name, devid, img);
		fe_fresh(&f);
		return linux_main(&f, tag, reg, checks);
	}
	if (!strcmp(name, "freebsd")) {
		fe_open(&f, P_FREEBSD, name, devid, img);
		fe_fresh(&f);
		return freebsd_main(&f, tag, reg, cycles != 0, checks);
	}
	if (!strcmp(name, "minios")) {
		fe_open(&f, P_MINIOS, name, devid, img);
		fe_fresh(&f);
		return minios_main(&f, tag, reg, checks);
	}
	if (!strcmp(name, "badlarge")) {
		fe_open(&f, P_BADLARGE, name, devid, img);
		fe_fresh(&f);
		return badlarge_main(&f, tag, reg);
	}
	if (!strcmp(name, "unknown")) {
		fe_open(&f, P_LINUX, name, devid, NULL);
		return unknown_main(&f);
	}
	if (!strcmp(name, "boot")) {
		/* A guest booting on the device: Initialising, nothing more. */
		fe_open(&f, P_LINUX, name, devid, NULL);
		set_state(&f, PVIO_XENBUS_STATE_INITIALISING);
		say("done");
		return 0;
	}
	fprintf(stderr, "unknown personality %s\n", name);
	return 2;
}

/* ------------------------------------------------------------ the toolstack side */

struct child {
	pid_t pid;
	FILE *in, *out;
	const char *name;
};

static const char *self;
static uint16_t domid;

static void dump_log(void)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "echo '--- pvio-blkback (last 40 lines):' >&2; "
		 "tail -n 40 '%s' >&2", bb_log);
	if (system(cmd) != 0)
		fprintf(stderr, "(no backend log)\n");
}

static void cleanup(void)
{
	if (!finished || tu_failures)
		dump_log();
	unlink(bb_log);
	if (guest_pid > 0) {
		kill(guest_pid, SIGKILL);
		waitpid(guest_pid, NULL, 0);
	}
	if (blkback > 0)
		tu_stop(blkback);
	if (pviod > 0)
		tu_stop(pviod);
	tu_rmdir(dir);
}

static struct child run(const char *name, uint32_t devid, const char *img, unsigned tag,
			unsigned reg, unsigned cycles, const char *checks)
{
	char a_dev[16], a_tag[16], a_reg[16], a_cyc[16];
	char *av[] = { (char *)self, "--persona", (char *)name, a_dev, (char *)img, a_tag, a_reg,
		       a_cyc, (char *)checks, NULL };
	struct child c = { .name = name };
	int fd, in[2], out[2];

	snprintf(a_dev, sizeof(a_dev), "%u", devid);
	snprintf(a_tag, sizeof(a_tag), "%u", tag);
	snprintf(a_reg, sizeof(a_reg), "%u", reg);
	snprintf(a_cyc, sizeof(a_cyc), "%u", cycles);
	REQUIRE(pvio_hv_domain_connect(dom0, domid, &fd) == 0);
	REQUIRE(pipe2(in, O_CLOEXEC) == 0 && pipe2(out, O_CLOEXEC) == 0);
	c.pid = tu_spawn(av, fd, in[0], out[1], -1);
	REQUIRE(c.pid > 0);
	guest_pid = c.pid;
	close(fd);
	close(in[0]);
	close(out[1]);
	c.in = fdopen(in[1], "w");
	c.out = fdopen(out[0], "r");
	REQUIRE(c.in && c.out);
	setvbuf(c.in, NULL, _IONBF, 0);
	return c;
}

/* The child's lines until one starting with prefix (echoed); false at EOF. */
static bool expect_line(struct child *c, const char *prefix, char *line, size_t len)
{
	while (fgets(line, (int)len, c->out)) {
		printf("  [%s] %s", c->name, line);
		line[strcspn(line, "\n")] = 0;
		if (!strncmp(line, prefix, strlen(prefix)))
			return true;
	}
	line[0] = 0;
	return false;
}

static int finish(struct child *c)
{
	char line[512];
	int st;

	fclose(c->in);
	while (fgets(line, sizeof(line), c->out))
		printf("  [%s] %s", c->name, line);
	fclose(c->out);
	REQUIRE(waitpid(c->pid, &st, 0) == c->pid);
	guest_pid = -1;
	fflush(stdout);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* A personality that needs nothing from us: run it to its end. */
static void run_plain(const char *name, uint32_t devid, const char *img, unsigned tag,
		      unsigned reg, const char *checks)
{
	struct child c = run(name, devid, img, tag, reg, 0, checks);
	int st = finish(&c);

	if (st != 0)
		fprintf(stderr, "FAIL: %s on %u exited %d\n", name, devid, st);
	CHECK_EQ(st, 0);
}

static bool log_has(const char *needle)
{
	char line[1024];
	bool found = false;
	FILE *f = fopen(bb_log, "r");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, needle) != NULL;
	fclose(f);
	return found;
}

/* How many lines of the backend's log hold needle. */
static unsigned log_count(const char *needle)
{
	char line[1024];
	unsigned n = 0;
	FILE *f = fopen(bb_log, "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

/* Bounded wait for a line of the backend's log. */
static bool log_wait(const char *needle)
{
	for (int i = 0; i < 1000; i++) {
		if (log_has(needle))
			return true;
		usleep(10000);
	}
	return false;
}

static void show_log(const char *needle)
{
	char line[1024];
	FILE *f = fopen(bb_log, "r");

	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, needle))
			printf("  pvio-blkback said: %s", line);
	if (f)
		fclose(f);
}

/* Does pvio-blkback hold path open? */
static bool backend_has_open(const char *path)
{
	char d[64], link[600], target[600];
	struct dirent *de;
	bool found = false;
	DIR *dp;

	snprintf(d, sizeof(d), "/proc/%d/fd", (int)blkback);
	dp = opendir(d);
	if (!dp)
		return false;
	while (!found && (de = readdir(dp))) {
		ssize_t n;

		if (de->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "%s/%s", d, de->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n > 0) {
			target[n] = 0;
			found = !strcmp(target, path);
		}
	}
	closedir(dp);
	return found;
}

/* The backend's state; -1 once its node is gone. */
static int be_state_of(uint32_t devid)
{
	char path[128];
	unsigned long long st;

	snprintf(path, sizeof(path), "/local/domain/0/backend/vbd/%u/%u/state", domid, devid);
	if (pvio_xs_read_uint(xs, 0, path, &st) < 0)
		return -1;
	return (int)st;
}

static void make_image(const char *name, char *path, size_t len)
{
	int fd;

	snprintf(path, len, "%s/%s", dir, name);
	fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
	REQUIRE(fd >= 0 && ftruncate(fd, DISK_BYTES) == 0);
	close(fd);
}

static void attach(const char *vdev, const char *extra, const char *img)
{
	struct pvio_diskspec ds;
	char spec[700], err[128];

	snprintf(spec, sizeof(spec), "%svdev=%s, access=rw, target=%s", extra, vdev, img);
	REQUIRE(pvio_diskspec_parse(spec, &ds, err, sizeof(err)) == 0);
	REQUIRE(pvio_ts_block_attach(xs, domid, &ds) == 0);
}

static pid_t start_blkback(void)
{
	char bin[512], rfd[16], b[8];
	int lfd, rp[2];
	pid_t p;

	snprintf(bin, sizeof(bin), "%s/blkback/pvio-blkback", tu_build_dir());
	lfd = open(bb_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	REQUIRE(lfd >= 0 && pipe(rp) == 0);
	snprintf(rfd, sizeof(rfd), "%d", rp[1]);
	{
		char *av[] = { bin, "--socket", sock, "--ready-fd", rfd, "--verbose", NULL };

		fcntl(rp[0], F_SETFD, FD_CLOEXEC);
		p = tu_spawn(av, -1, -1, -1, lfd);
	}
	close(rp[1]);
	close(lfd);
	REQUIRE(p > 0 && read(rp[0], b, sizeof(b)) > 0);
	close(rp[0]);
	return p;
}

/* A. The 512-byte disk: every personality in turn. */
static void scenario_512(const char *img)
{
	const uint32_t xvda = 51712;
	struct child c;
	char line[256];
	struct tu_res base = { 0 }, now;
	int st;

	/* windows on a fresh backend, then reopened ten times. */
	c = run("windows", xvda, img, 1, 0, WIN_CYCLES, "-");
	for (unsigned k = 0; k <= WIN_CYCLES + 1; k++) {
		char want[16];

		snprintf(want, sizeof(want), "ready %u", k);
		if (!expect_line(&c, want, line, sizeof(line))) {
			CHECK(!"windows reached InitWait again");
			break;
		}
		CHECK_EQ(be_state_of(xvda), PVIO_XENBUS_STATE_INITWAIT);
		if (k == 0) {
			now = tu_res_of(blkback);
			printf("windows: InitWait before the guest's first connection: fds %d, "
			       "maps %d, threads %d (its memory is mapped at its first "
			       "connection, kept while it has devices)\n", now.fds, now.maps,
			       now.threads);
		} else if (k == 1) {
			base = tu_res_of(blkback);
			printf("windows: InitWait after its first connection: fds %d, maps %d, "
			       "threads %d: the start values\n", base.fds, base.maps, base.threads);
		} else {
			now = tu_res_settle(blkback, &base);
			printf("windows reopen %u: fds %d->%d, maps %d->%d, threads %d->%d\n", k - 1,
			       base.fds, now.fds, base.maps, now.maps, base.threads, now.threads);
			CHECK_EQ(now.fds, base.fds);
			CHECK_EQ(now.maps, base.maps);
			CHECK_EQ(now.threads, base.threads);
		}
		fprintf(c.in, "next\n");
	}
	st = finish(&c);
	CHECK_EQ(st, 0);
	CHECK_EQ(be_state_of(xvda), PVIO_XENBUS_STATE_CLOSED);
	/* It connected with one queue (flat keys, multi-queue-num-queues=1)
	 * and, every other time, with as many as offered. */
	snprintf(line, sizeof(line), "dom%u/%u: connected: 1 queue(s), ring order 4,", domid, xvda);
	CHECK(log_has(line));
	snprintf(line, sizeof(line), "/local/domain/0/backend/vbd/%u/%u/multi-queue-max-queues",
		 domid, xvda);
	{
		unsigned long long mq = 1;

		if (pvio_xs_read_uint(xs, 0, line, &mq) == 0 && mq >= 2) {
			snprintf(line, sizeof(line), "dom%u/%u: connected: 2 queue(s), ring order 4,",
				 domid, xvda);
			CHECK(log_has(line));
		}
	}
	/* Closed, online=1: the device is kept. */
	CHECK(backend_has_open(img));

	run_plain("linux", xvda, img, 2, 1, "1:0");
	run_plain("minios", xvda, img, 3, 2, "1:0,2:1");
	CHECK_EQ(be_state_of(xvda), PVIO_XENBUS_STATE_INITWAIT);   /* MiniOS leaves it so */
	run_plain("unknown", xvda, "-", 0, 0, "-");

	/* freebsd, closed by the toolstack. */
	c = run("freebsd", xvda, img, 4, 3, 0, "1:0,2:1,3:2");
	if (expect_line(&c, "connected", line, sizeof(line))) {
		double t0 = tu_now();

		CHECK_EQ(pvio_ts_block_detach(xs, domid, xvda, 5000), 0);
		printf("toolstack detach with FreeBSD's Closing/Closed: %.0f ms\n",
		       (tu_now() - t0) * 1000);
		CHECK(tu_now() - t0 < 4.0);
		CHECK(expect_line(&c, "closed", line, sizeof(line)));
	} else {
		CHECK(!"freebsd connected");
	}
	CHECK_EQ(finish(&c), 0);
	CHECK(log_wait("online=0: device released"));
	CHECK(!backend_has_open(img));
	CHECK_EQ(be_state_of(xvda), -1);   /* the nodes are gone */

	/* freebsd again, dying at the detach: its event channel goes while
	 * the backend is Closing, and it never says Closed. The backend
	 * lets go of the image before it says Closed, as at a frontend's
	 * Closed: when the detach has seen Closed, the image is closed. */
	attach("xvda", "", img);
	c = run("freebsd", xvda, img, 5, 4, 1, "1:0,2:1,3:2");
	if (expect_line(&c, "connected", line, sizeof(line))) {
		unsigned released = log_count("its data path closed and online=0: device released");

		CHECK_EQ(pvio_ts_block_detach(xs, domid, xvda, 10000), 0);
		CHECK_EQ(log_count("its data path closed and online=0: device released"),
			 released + 1);
		CHECK(!backend_has_open(img));
		CHECK(expect_line(&c, "unbound", line, sizeof(line)));
		printf("freebsd died at the detach: image closed before the backend said "
		       "Closed\n");
	} else {
		CHECK(!"freebsd connected again");
	}
	CHECK_EQ(finish(&c), 0);
	CHECK_EQ(be_state_of(xvda), -1);
}

/* B. online=1 keeps a closed device; online=0 and a guest coming back:
 * stays Closed, released. */
static void scenario_online(const char *img)
{
	const uint32_t xvdc = 51744;
	char path[200];
	int st;

	run_plain("linux", xvdc, img, 21, 0, "-");
	CHECK_EQ(be_state_of(xvdc), PVIO_XENBUS_STATE_CLOSED);
	CHECK(backend_has_open(img));
	snprintf(path, sizeof(path), "/local/domain/0/backend/vbd/%u/%u/online", domid, xvdc);
	CHECK_EQ(pvio_xs_write(xs, 0, path, "0", 1), 0);
	{
		struct child c = run("boot", xvdc, "-", 0, 0, 0, "-");

		st = finish(&c);
		CHECK_EQ(st, 0);
	}
	CHECK(log_wait("frontend Initialising and online=0: device released"));
	CHECK_EQ(be_state_of(xvdc), PVIO_XENBUS_STATE_CLOSED);
	CHECK(!backend_has_open(img));
	printf("online=0, frontend Initialising: backend stays Closed, image closed\n");
	CHECK_EQ(pvio_ts_block_detach(xs, domid, xvdc, 1000), 0);
}

/* C. The 4096-byte disk: windows in 4096-byte units, linux in 512. */
static void scenario_4k(const char *img)
{
	const uint32_t xvdd = 51760;
	struct child c;
	char line[256];

	run_plain("windows", xvdd, img, 11, 0, "-");
	run_plain("linux", xvdd, img, 12, 1, "11:0");
	run_plain("windows", xvdd, img, 13, 2, "11:0,12:1");
	CHECK(log_has("4096-byte sectors counted in 4096-byte units"));
	CHECK(log_has("4096-byte sectors counted in 512-byte units"));

	c = run("badlarge", xvdd, img, 14, 3, 0, "-");
	if (expect_line(&c, "initialised", line, sizeof(line))) {
		CHECK(log_wait("feature-large-sector-size='2'"));
		fprintf(c.in, "check\n");
		CHECK(expect_line(&c, "refused", line, sizeof(line)));
		show_log("feature-large-sector-size");
	} else {
		CHECK(!"badlarge wrote its keys");
	}
	CHECK_EQ(finish(&c), 0);
}

int main(int argc, char **argv)
{
	char img512[400], imgon[400], img4k[400];
	int fd;

	if (argc > 8 && !strcmp(argv[1], "--persona"))
		return child_main(argv + 2);
	self = argv[0];
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);

	snprintf(bb_log, sizeof(bb_log), "/tmp/pvio-personalities-%d.log", (int)getpid());
	unlink(bb_log);
	pviod = tu_start_pviod(dir, sizeof(dir), sock, sizeof(sock), xs_path, sizeof(xs_path));
	REQUIRE(pviod > 0);
	atexit(cleanup);
	blkback = start_blkback();
	REQUIRE(pvio_hv_socket_connect(sock, &dom0) == 0);
	REQUIRE(pvio_hv_xs_connect(dom0, &fd) == 0 && pvio_xs_open_fd(fd, &xs) == 0);
	REQUIRE(pvio_ts_domain_create(dom0, xs, "guest", 64 << 20, &domid) == 0);
	make_image("d512.img", img512, sizeof(img512));
	make_image("online.img", imgon, sizeof(imgon));
	make_image("d4k.img", img4k, sizeof(img4k));
	attach("xvda", "", img512);
	attach("xvdc", "", imgon);
	attach("xvdd", "sector-size=4096, ", img4k);

	printf("A. 512-byte sectors: windows (10 reopens), linux, minios, freebsd\n");
	scenario_512(img512);
	printf("B. online=1 keeps a closed device, online=0 releases it\n");
	scenario_online(imgon);
	printf("C. 4096-byte sectors: windows and linux, each in its own units\n");
	scenario_4k(img4k);

	CHECK(kill(blkback, 0) == 0);
	pvio_xs_close(xs);
	pvio_hv_close(dom0);
	finished = true;
	return tu_result();
}
