/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for pvio-blkback's request path: a batch of ring
 * requests and their indirect pages as a hostile guest wrote them (x86_64
 * or x86_32 layout), through take_request / start_request / map_segments /
 * fetch_indirect / range_ok / an engine / completion / put_response,
 * against the guest's real grant table (hv_local: one process, the guest's
 * memory and table in memfds, dom0 mapping them through gnttab_be.c and the
 * persistent-grant cache of pgrant.c).
 *
 * blkback.c is included (its static data path is what is under test; the
 * library's blkback.o and xenbus.o stay unlinked), and the queue is driven
 * on this thread as a worker would drive it (queue_run / queue_arm /
 * queue_woken) instead of being attached to one.
 *
 * Fixture (made once): a world with dom0 and one guest of GUEST_PAGES
 * pages, a 4-page ring granted and mapped, a bound event channel, a disk
 * in a memfd, three engines (inline: engine.c's front and synchronous path
 * with this file's fault injection, no threads; io_uring; psync), two
 * persistent-grant caches (16 entries, so that it fills up, and the
 * default). Guest memory:
 *   gfn 0..3    the ring (refs RING_REF..+3, read-write)
 *   gfn 4       the final check's page (FINAL_REF)
 *   gfn 5..7    indirect pages
 *   gfn 8..23   data pages
 *   gfn 24..31  never granted but through hostile frames (read-only)
 * Grant refs WIN_REF..WIN_REF+63 are the input's window; only data pages
 * are granted writable through it. Per input the queue, ring, window,
 * guest pages and disk start afresh.
 *
 * Input (missing bytes read as 0), a 9-byte header h[], then the grant
 * descriptors, the rewritten ones, the indirect pages, the requests:
 *   h[0]  bit0 x86_32 ABI, bit1 persistent grants, bit2 large sectors
 *         (unit = sector size), bit3 4096-byte sectors, bit4 read-only
 *         disk, bit5 4-page ring (else 1), bits6-7 engine: 0-1 inline,
 *         2 io_uring, 3 psync
 *   h[1]  bit0 flush, bit1 barrier, bit2 discard, bit3 indirect offered;
 *         bits4-5 max indirect segments (256, 11, 32, 1); bit6 the small
 *         persistent-grant cache; bit7 stop the queue after one round
 *   h[2]  req_prod: bits0-1 0 honest, 1 overflow, 2 backwards, 3 overflow
 *         after the first round; bits2-7 by how much more
 *   h[3]  ring start index (near 0 or near 2^32)
 *   h[4]  grant descriptors: 4 bytes each (ref, flags, domid, frame)
 *   h[5]  indirect page descriptors: page, count, count segments of 4
 *         bytes (gref, first, last, pad) or, with page bit7, of 8 raw
 *         bytes; repeated to fill the page
 *   h[6]  requests: 41 bytes each (build_request), or bit7 of the first
 *         byte and one raw slot of the ABI's size
 *   h[7]  bits0-1 zeroed slots past the last request inside req_prod;
 *         bits2-4 inline engine faults (none, EIO, EOPNOTSUPP, short
 *         transfer, refused, ENOSPC, EIO on flushes, EOPNOTSUPP on flushes
 *         and discards), bits5-7 on one I/O in how many (1 2 3 4 5 7 8 16)
 *   h[8]  bit0 the guest rewrites its grants after the first round
 *         (bits3-7 descriptors over them); bits1-2 how the backend learns
 *         of the requests: 0 it sleeps, the guest notifies; 1 it goes to
 *         sleep without a notification (its final check); 2 the guest
 *         closes its event channel; 3 it just runs
 *
 * Checked per input (trap on failure):
 *   - every response answers a request taken (id and operation, as a
 *     multiset), with OKAY / ERROR / EOPNOTSUPP and zeroed padding
 *     (XSA-216), as many as requests taken (but a flush still held when
 *     the queue stopped or broke); ring indices stay within the ring;
 *   - the status is the one a reference model computes from the request,
 *     the configuration and the grant table (unless the backend may write
 *     into the ring itself or the grants change under it);
 *   - with the inline engine and no faults, a replay of the successful
 *     requests on shadows of the disk and guest memory matches both byte
 *     for byte; with any engine, no page the guest did not grant writable
 *     changed;
 *   - no grant stays pinned: maps == unmaps once the cache is released,
 *     no GTF_reading / GTF_writing left that the guest had not set;
 *   - an armed queue wakes on a notification, and its final check sees
 *     requests pushed without one;
 *   - a producer index overflow or a closed event channel marks the queue
 *     broken, and a broken queue takes nothing more; otherwise a final
 *     valid READ still gets OKAY with the disk's data.
 */
#include <fcntl.h>
#include <limits.h>
#include <linux/falloc.h>
#include <poll.h>
#include <sys/mman.h>

#include "blkback/blkback.c"
#include "blkback/engine_internal.h"
#include "hv/hv_internal.h"

/* Built only with liburing. */
#pragma weak pvio__blk_uring_open

#define ASSERT(c) do {                                                        \
	if (!(c)) {                                                           \
		fprintf(stderr, "fuzz_blkback: %s:%d: %s\n", __FILE__, __LINE__, #c); \
		__builtin_trap();                                             \
	}                                                                     \
} while (0)

/* The harness's own code feeds no coverage back: only the backend's
 * branches guide the fuzzer (and the checks stay cheap). */
#define HARNESS __attribute__((no_sanitize("coverage")))

#define PAGE            4096u
#define GUEST_PAGES     32u
#define RING_GFN        0u
#define RING_PAGES      4u
#define FINAL_GFN       4u
#define IND_GFN         5u
#define IND_PAGES       3u
#define DATA_GFN        8u
#define DATA_PAGES      16u
#define SPARE_GFN       24u
#define WIN_REF         32u
#define WIN_N           64u
#define RING_REF        20000u
#define FINAL_REF       (RING_REF + RING_PAGES)
#define DISK_BYTES      (64u * 1024)
#define MAX_ENTS        128u
#define REC_SIZE        41u
#define FINAL_ID        0x0123456789abcdefull
#define RUN_LIMIT       100000u

enum { ENG_INLINE, ENG_URING, ENG_PSYNC, ENG_N };

static struct {
	bool ready;
	struct pvio_hv_world *w;
	struct pvio_hv *be, *fe;
	uint16_t domid;
	uint8_t *gmem;                       /* the guest's own view */
	struct pvio_grant_entry_v1 *gt;      /* the guest's table */
	uint32_t nr_entries;
	struct blkback_dev *d;
	struct blkback_queue *q;
	struct pvio_blk_engine *eng[ENG_N];
	struct pvio_pgrant_cache pg[2];
	struct pvio_stats_queue st;
	uint64_t ring_pins;                  /* maps held by the ring itself */
	pvio_evtchn_port_t feport;           /* the guest's end of the channel */
	struct pvio_evtchn *fe_ch;
} F;

static struct blkback_dev fz_dev;
static struct pvio_throttle fz_thr;     /* never limited */

/* Expected contents of every page but the ring's. */
static uint8_t ref_mem[GUEST_PAGES][PAGE];

/* The data path asks for the disk's limits (xenbus.c's, not linked). */
struct pvio_throttle *blkback_throttle(struct blkback_dev *d)
{
	(void)d;
	return &fz_thr;
}

/* ------------------------------------------------------------ inline engine */

/* engine.c's common front with every I/O deferred to its synchronous path
 * (pvio__blk_exec_sync at submit): real preadv/pwritev/fdatasync/fallocate
 * on the disk, no threads, completions in order. An input may make it fail
 * one I/O in `period` (of one kind of operation), as a failing disk would:
 * an error, a short transfer, or a refusal to queue. */
enum { FT_NONE, FT_EIO, FT_EOPNOTSUPP, FT_SHORT, FT_REFUSE, FT_ENOSPC, FT_FLUSH_EIO,
       FT_NOTSUP_FD };

static struct {
	unsigned kind, period, count;
	struct pvio_blk_io *fail[MAX_ENTS];
	unsigned nfail;
} FT;

HARNESS static bool ft_hits(const struct pvio_blk_io *io)
{
	if (FT.kind == FT_FLUSH_EIO && io->op != PVIO_BLK_IO_FLUSH)
		return false;
	if (FT.kind == FT_NOTSUP_FD && io->op != PVIO_BLK_IO_FLUSH && io->op != PVIO_BLK_IO_DISCARD)
		return false;
	return FT.kind != FT_NONE && ++FT.count % FT.period == 0;
}

HARNESS static int64_t ft_result(const struct pvio_blk_io *io)
{
	switch (FT.kind) {
	case FT_EOPNOTSUPP: case FT_NOTSUP_FD: return -EOPNOTSUPP;
	case FT_ENOSPC: return -ENOSPC;
	case FT_SHORT:
		if (io->op == PVIO_BLK_IO_READ || io->op == PVIO_BLK_IO_WRITE)
			return (int64_t)io->len - 1;
		return -EIO;
	default: return -EIO;
	}
}

/* The failed I/Os complete at the next submit or reap. */
HARNESS static void ft_complete(struct pvio_blk_engine *e)
{
	for (unsigned i = 0; i < FT.nfail; i++) {
		FT.fail[i]->result = ft_result(FT.fail[i]);
		pvio__blk_complete_now(e, FT.fail[i]);
	}
	FT.nfail = 0;
}

HARNESS static int il_queue(struct pvio_blk_engine *e, struct pvio_blk_io *io)
{
	if (ft_hits(io)) {
		if (FT.kind == FT_REFUSE)
			return -EIO;
		FT.fail[FT.nfail++] = io;
		return 0;
	}
	pvio__blk_sync_defer(e, io);
	return 0;
}

HARNESS static int il_submit(struct pvio_blk_engine *e)
{
	ft_complete(e);
	return 0;
}

HARNESS static int il_reap(struct pvio_blk_engine *e, struct pvio_blk_io **done, unsigned max,
			   bool wait)
{
	(void)done; (void)max; (void)wait;
	ft_complete(e);
	return 0;
}

HARNESS static void il_close(struct pvio_blk_engine *e)
{
	pvio__blk_engine_base_fini(e);
	free(e);
}

static const struct pvio_blk_engine_ops il_ops = {
	.name = "inline", .queue = il_queue, .submit = il_submit, .reap = il_reap,
	.close = il_close,
};

HARNESS static struct pvio_blk_engine *il_open(int fd)
{
	struct pvio_blk_engine_cfg cfg = { .depth = MAX_ENTS };
	struct pvio_blk_engine *e = calloc(1, sizeof(*e));

	if (!e || pvio__blk_engine_base_init(e, &il_ops, fd, &cfg) < 0)
		abort();
	return e;
}

/* ------------------------------------------------------------ fixture */

HARNESS static void put_entry(uint32_t ref, uint16_t flags, uint16_t domid, uint32_t frame)
{
	F.gt[ref].frame = frame;
	F.gt[ref].domid = domid;
	F.gt[ref].flags = flags;
}

/* The queue's event channel (again after the guest closed it). */
HARNESS static void channel_open(void)
{
	struct blkback_queue *q = &fz_dev.queues[0];

	if (q->port)
		pvio_hv_evtchn_close(F.be, q->port);
	if (pvio_hv_evtchn_alloc_unbound(F.fe, 0, &F.feport) < 0 ||
	    pvio_hv_evtchn_bind(F.be, F.domid, F.feport, &q->port) < 0 ||
	    !(q->ch = pvio_hv_evtchn_handle(F.be, q->port)) ||
	    !(F.fe_ch = pvio_hv_evtchn_handle(F.fe, F.feport)))
		abort();
	q->task.fds[0] = q->ch->self_fd;
}

HARNESS static void fixture_init(void)
{
	struct blkback_dev *d = &fz_dev;
	struct blkback_queue *q = &d->queues[0];
	struct pvio_blk_engine_cfg ecfg = { .depth = MAX_ENTS, .psync_threads = 2 };
	uint32_t refs[RING_PAGES];
	struct pvio_gnttab_stats s;
	size_t bytes;

	if (pvio_hv_world_create(&F.w) < 0 || pvio_hv_local_open(F.w, 0, &F.be) < 0 ||
	    pvio_hv_domain_create(F.be, "fuzz", GUEST_PAGES * PAGE, &F.domid) < 0 ||
	    pvio_hv_local_open(F.w, F.domid, &F.fe) < 0)
		abort();
	F.gmem = pvio_hv_mem(F.fe, &bytes);
	F.gt = F.fe->gt;
	F.nr_entries = F.fe->fe.nr_entries;
	if (!F.gmem || bytes != GUEST_PAGES * PAGE || !F.gt || F.nr_entries <= FINAL_REF)
		abort();
	for (unsigned i = 0; i < RING_PAGES; i++) {
		refs[i] = RING_REF + i;
		put_entry(refs[i], PVIO_GTF_permit_access, 0, RING_GFN + i);
	}
	put_entry(FINAL_REF, PVIO_GTF_permit_access, 0, FINAL_GFN);
	for (unsigned g = 0; g < GUEST_PAGES; g++)
		for (unsigned i = 0; i < PAGE; i++)
			ref_mem[g][i] = (uint8_t)(g * 37 + i * 7 + (i >> 8));
	memcpy(F.gmem + (size_t)FINAL_GFN * PAGE, ref_mem[FINAL_GFN],
	       (size_t)(GUEST_PAGES - FINAL_GFN) * PAGE);

	d->hv = F.be;
	d->fe_domid = F.domid;
	snprintf(d->name, sizeof(d->name), "dom%u/51712", F.domid);
	d->fd = memfd_create("fuzz-disk", MFD_CLOEXEC);
	if (d->fd < 0 || ftruncate(d->fd, DISK_BYTES) < 0)
		abort();
	d->size_bytes = DISK_BYTES;
	d->sector_size = d->phys_block = 512;
	d->unit = 512;
	d->nr_queues = 1;
	d->broken_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	q->dev = d;
	snprintf(q->name, sizeof(q->name), "%s/q0", d->name);
	if (pvio_hv_map_ring(F.be, F.domid, refs, RING_PAGES, &q->ringmap) < 0)
		abort();
	channel_open();
	q->st = &F.st;
	/* As blkback_queue_start(), without attaching to a worker. */
	q->nr_reqs = MAX_ENTS;
	q->reqs = calloc(MAX_ENTS, sizeof(*q->reqs));
	if (!q->reqs)
		abort();
	for (unsigned i = 0; i < MAX_ENTS; i++) {
		q->reqs[i].iov = calloc(BLKBACK_MAX_INDIRECT_SEGS, sizeof(*q->reqs[i].iov));
		q->reqs[i].maps = calloc(BLKBACK_MAX_INDIRECT_SEGS, sizeof(*q->reqs[i].maps));
		q->reqs[i].pg_refs = calloc(BLKBACK_MAX_INDIRECT_SEGS,
					    sizeof(*q->reqs[i].pg_refs));
		if (!q->reqs[i].iov || !q->reqs[i].maps || !q->reqs[i].pg_refs)
			abort();
	}
	pvio_pollwin_init(&q->io_pw, 0);
	q->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	q->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->broken_efd < 0 || q->kick_fd < 0 || q->done_fd < 0)
		abort();
	q->task.ops = &queue_task_ops;
	q->task.fds[2] = q->kick_fd;
	q->task.nfds = 3;

	F.eng[ENG_INLINE] = il_open(d->fd);
	if (pvio_hv_foreign_mem(F.be, F.domid, &ecfg.fixed_base, &ecfg.fixed_len) < 0)
		abort();
	/* engine.c was built without PVIO_HAVE_URING here (no per-file
	 * flags): open io_uring directly, if the library has it. */
	if (!pvio__blk_uring_open || pvio__blk_uring_open(d->fd, &ecfg, &F.eng[ENG_URING]) < 0)
		F.eng[ENG_URING] = NULL;
	if (pvio_blk_engine_open("psync", d->fd, &ecfg, &F.eng[ENG_PSYNC]) < 0)
		F.eng[ENG_PSYNC] = NULL;
	if (pvio_hv_pgrant_init(F.be, F.domid, &F.pg[0], 16) < 0 ||
	    pvio_hv_pgrant_init(F.be, F.domid, &F.pg[1], 0) < 0 || !F.pg[0].view)
		abort();
	pvio_gnttab_view_stats(F.pg[0].view, &s);
	F.ring_pins = s.maps - s.unmaps;
	if (F.ring_pins != RING_PAGES)
		abort();
	F.d = d;
	F.q = q;
	F.ready = true;
}

/* ------------------------------------------------------------ input */

struct in {
	const uint8_t *p;
	size_t n;
};

HARNESS static uint8_t in_u8(struct in *in)
{
	uint8_t v = 0;

	if (in->n) {
		v = *in->p++;
		in->n--;
	}
	return v;
}

HARNESS static void in_bytes(struct in *in, uint8_t *dst, size_t len)
{
	for (size_t i = 0; i < len; i++)
		dst[i] = in_u8(in);
}

/* Per input. */
static struct {
	bool x32, pers, ro, stop;
	unsigned slot_size, nr_ents, unit, spp, ring_bytes;
	uint64_t units;                      /* disk size in units */
	uint32_t base;                       /* ring start index */
	unsigned nslots;                     /* slots written, from base */
	bool ring_hazard;                    /* requests may write the ring */
	struct pvio_grant_entry_v1 gt0[WIN_N];   /* the window as written */
	bool rewrite;                        /* ... and rewritten after a round */
	struct pvio_grant_entry_v1 gt1[WIN_N];   /* the window after that */
	unsigned mode;                       /* h[2]'s req_prod mode */
	unsigned flow;                       /* how the backend learns of them */
	uint8_t slots[MAX_ENTS][112];        /* the requests as written */
} I;

/* Selector bytes: mostly what a guest would write, the top of the range
 * hostile values. A grant ref: one of the window, or another. */
HARNESS static uint32_t gref_of(uint8_t s)
{
	static const uint32_t hostile[] = {
		0, 1, 7, RING_REF, RING_REF + 1, RING_REF + 3, FINAL_REF, WIN_REF - 1,
		WIN_REF + WIN_N, 32767, 32768, 0xffffffffu, 0x80000000u, 0x10000u,
		0x7fffffffu, 65535, 8, 31, 100, 1000, RING_REF + 2, FINAL_REF + 1,
		0x8000u, 12345, 0xfffffffeu, 3, 2, 4, 5, 6, 16, 255,
	};

	if (s < 0xe0)
		return WIN_REF + s % WIN_N;
	return hostile[s - 0xe0];
}

/* A first_sect / last_sect: inside the page, or (bit7) anything. */
HARNESS static uint8_t sect_of(uint8_t b)
{
	return b & 0x80 ? (uint8_t)(b & 0x7f) : (uint8_t)(b % I.spp);
}

/* A sector number or count: around the disk's size, or past all bounds. */
HARNESS static uint64_t sector_of(uint8_t b)
{
	const uint64_t hostile[] = {
		I.units - 1, I.units, UINT64_MAX, UINT64_MAX / I.unit, UINT64_MAX / I.unit + 1,
		1ull << 63, UINT64_MAX / 512 + 1, 0x100000000ull, I.units - 8, I.units + 1,
		UINT64_MAX / 4096 + 1, 1ull << 55, 0x7fffffffffffffffull, I.units / 2, 8, 1,
	};

	if (b < 0xf0)
		return b % (I.units + 3);
	return hostile[b - 0xf0];
}

HARNESS static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
HARNESS static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
HARNESS static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
HARNESS static uint16_t get16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
HARNESS static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
HARNESS static uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/* Field offsets of Xen's io/blkif.h, per ABI (independent of the structs
 * the backend uses). */
#define OFF_ID    (I.x32 ? 4u : 8u)
#define OFF_SECT  (I.x32 ? 12u : 16u)
#define OFF_SEG   (I.x32 ? 20u : 24u)      /* READ/WRITE/flush segments */
#define OFF_NRSEC (I.x32 ? 20u : 24u)      /* DISCARD nr_sectors */
#define OFF_IGREF (I.x32 ? 24u : 28u)      /* INDIRECT indirect_grefs */

HARNESS static void write_seg(uint8_t *p, uint32_t gref, uint8_t first, uint8_t last, uint8_t pad)
{
	put32(p, gref);
	p[4] = first;
	p[5] = last;
	p[6] = pad;
	p[7] = 0;
}

/*
 * One request record into slot s (at Xen's offsets for the ABI):
 *   r[0]      bits0-3 operation (READ WRITE BARRIER FLUSH DISCARD INDIRECT
 *             READ WRITE INDIRECT RESERVED_1, then unknown codes); bit4
 *             nr_segments raw; bit5 indirect_op raw; bit7 a raw slot
 *             follows instead
 *   r[1]      nr_segments (% 12 unless raw; INDIRECT: its low byte)
 *   r[2..3]   id (spread over 64 bits)
 *   r[4]      sector_number (sector_of)
 *   r[5]      DISCARD nr_sectors (sector_of); INDIRECT nr_segments' high
 *             byte (bit0 unless raw)
 *   r[6]      DISCARD flag; INDIRECT indirect_op (bit0 unless raw)
 *   r[7]      handle
 *   r[8..40]  11 segments (gref_of, sect_of first, sect_of last);
 *             INDIRECT: r[8..15] its indirect_grefs (gref_of)
 */
HARNESS static void build_request(struct in *in, uint8_t *s)
{
	static const uint8_t unknown[] = { 7, 8, 0x80, 0xff, 0x46, 0x16 };
	uint8_t r[REC_SIZE];
	uint8_t op, sel;

	r[0] = in_u8(in);
	if (r[0] & 0x80) {
		in_bytes(in, s, I.slot_size);
		return;
	}
	in_bytes(in, r + 1, REC_SIZE - 1);
	sel = r[0] & 0x0f;
	switch (sel) {
	case 0: case 6: op = PVIO_BLKIF_OP_READ; break;
	case 1: case 7: op = PVIO_BLKIF_OP_WRITE; break;
	case 2: op = PVIO_BLKIF_OP_WRITE_BARRIER; break;
	case 3: op = PVIO_BLKIF_OP_FLUSH_DISKCACHE; break;
	case 4: op = PVIO_BLKIF_OP_DISCARD; break;
	case 5: case 8: op = PVIO_BLKIF_OP_INDIRECT; break;
	case 9: op = PVIO_BLKIF_OP_RESERVED_1; break;
	default: op = unknown[sel - 10]; break;
	}
	s[0] = op;
	put64(s + OFF_ID, (uint64_t)get16(r + 2) * 0x9e3779b97f4a7c15ull);
	put64(s + OFF_SECT, sector_of(r[4]));
	if (op == PVIO_BLKIF_OP_DISCARD) {
		s[1] = r[6];                                      /* flag */
		put16(s + 2, r[7]);                               /* handle */
		put64(s + OFF_NRSEC, sector_of(r[5]));
	} else if (op == PVIO_BLKIF_OP_INDIRECT) {
		s[1] = r[0] & 0x20 ? r[6] : (uint8_t)(r[6] & 1);  /* indirect_op */
		put16(s + 2, r[0] & 0x10 ? (uint16_t)(r[1] | r[5] << 8)
					  : (uint16_t)(r[1] | (r[5] & 1) << 8));
		put16(s + OFF_SECT + 8, r[7]);                    /* handle */
		for (unsigned j = 0; j < PVIO_BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST; j++)
			put32(s + OFF_IGREF + 4 * j, gref_of(r[8 + j]));
	} else {
		s[1] = r[0] & 0x10 ? r[1] : (uint8_t)(r[1] % 12);
		put16(s + 2, r[7]);
		for (unsigned j = 0; j < PVIO_BLKIF_MAX_SEGMENTS_PER_REQUEST; j++)
			write_seg(s + OFF_SEG + 8 * j, gref_of(r[8 + 3 * j]),
				  sect_of(r[9 + 3 * j]), sect_of(r[10 + 3 * j]), 0);
	}
}

/* One grant descriptor of the input into e. Only data pages are ever
 * granted writable through the window. */
HARNESS static void decode_grant(struct in *in, struct pvio_grant_entry_v1 *win)
{
	static const uint16_t hostile_dom[] = { 1, 2, 0x7ff0, 0xffff, 0x100, 3, 0x7ff4, 0x8000 };
	static const uint32_t hostile_frame[] = {
		RING_GFN, RING_GFN + 1, RING_GFN + 3, FINAL_GFN, SPARE_GFN, SPARE_GFN + 7,
		GUEST_PAGES, GUEST_PAGES + 1, 0xffffffffu, 0x7fffffffu, 0x100000u, 0x80000000u,
		GUEST_PAGES * 2, 0x10000u, 0xfffffu, SPARE_GFN + 3,
	};
	struct pvio_grant_entry_v1 *e;
	uint8_t b[4];

	in_bytes(in, b, 4);
	e = &win[b[0] % WIN_N];
	e->flags = (uint16_t)(b[1] ^ PVIO_GTF_permit_access) |
		   (b[2] & 0x80 ? PVIO_GTF_sub_page : 0);
	e->domid = (b[2] & 0x7f) < 0x60 ? 0
		 : (b[2] & 0x7f) < 0x68 ? hostile_dom[(b[2] & 0x7f) - 0x60] : F.domid;
	if (b[3] < 0xc0)
		e->frame = DATA_GFN + b[3] % DATA_PAGES;
	else if (b[3] < 0xe0)
		e->frame = IND_GFN + b[3] % IND_PAGES;
	else
		e->frame = hostile_frame[b[3] % 16];
	if (e->frame < DATA_GFN || e->frame >= DATA_GFN + DATA_PAGES)
		e->flags |= PVIO_GTF_readonly;
}

HARNESS static void write_window(const struct pvio_grant_entry_v1 *win)
{
	for (unsigned i = 0; i < WIN_N; i++)
		put_entry(WIN_REF + i, win[i].flags, win[i].domid, win[i].frame);
}

/* The window's default grants, then the input's descriptors; with a
 * rewrite, what the guest writes over them after the first round. */
HARNESS static void build_grants(struct in *in, unsigned n, unsigned nrewrite)
{
	for (unsigned i = 0; i < WIN_N; i++) {
		struct pvio_grant_entry_v1 *e = &I.gt0[i];

		e->domid = 0;
		if (i < 48) {
			e->flags = PVIO_GTF_permit_access;
			e->frame = DATA_GFN + i % DATA_PAGES;
		} else if (i < 56) {
			e->flags = PVIO_GTF_permit_access | PVIO_GTF_readonly;
			e->frame = DATA_GFN + i % DATA_PAGES;
		} else if (i < 56 + IND_PAGES) {
			e->flags = PVIO_GTF_permit_access | PVIO_GTF_readonly;
			e->frame = IND_GFN + i - 56;
		} else {
			e->flags = 0;
			e->frame = 0;
		}
	}
	for (unsigned k = 0; k < n; k++)
		decode_grant(in, I.gt0);
	write_window(I.gt0);
	memcpy(I.gt1, I.gt0, sizeof(I.gt1));
	for (unsigned k = 0; k < nrewrite; k++)
		decode_grant(in, I.gt1);
}

HARNESS static bool names_ring(const uint8_t *buf, size_t len);

/* Indirect pages: a default list of valid segments, then the input's. */
HARNESS static void build_indirect(struct in *in, unsigned n)
{
	static uint8_t dflt[2][IND_PAGES][PAGE];   /* 8 and 1 sectors per page */
	unsigned v = I.spp == 1;

	if (!dflt[v][0][0]) {
		for (unsigned p = 0; p < IND_PAGES; p++)
			for (unsigned j = 0; j < PVIO_BLKIF_SEGS_PER_INDIRECT_FRAME; j++)
				write_seg(dflt[v][p] + 8 * j, WIN_REF + (j + p * 5) % 48, 0,
					  (uint8_t)(I.spp - 1), 0);
	}
	memcpy(ref_mem[IND_GFN], dflt[v], sizeof(dflt[v]));
	for (unsigned k = 0; k < n; k++) {
		uint8_t sel = in_u8(in), cnt = in_u8(in);
		uint8_t *pg = ref_mem[IND_GFN + (sel & 0x7f) % IND_PAGES];
		uint8_t segs[255 * 8];

		if (!cnt)
			continue;
		for (unsigned j = 0; j < cnt; j++) {
			if (sel & 0x80) {
				in_bytes(in, segs + 8 * j, 8);
			} else {
				uint8_t b[4];

				in_bytes(in, b, 4);
				write_seg(segs + 8 * j, gref_of(b[0]), sect_of(b[1]), sect_of(b[2]),
					  b[3]);
			}
		}
		for (unsigned j = 0; j < PVIO_BLKIF_SEGS_PER_INDIRECT_FRAME; j++)
			memcpy(pg + 8 * j, segs + 8 * (j % cnt), 8);
		if (names_ring(segs, 8u * cnt))
			I.ring_hazard = true;
	}
	memcpy(F.gmem + (size_t)IND_GFN * PAGE, ref_mem[IND_GFN], (size_t)IND_PAGES * PAGE);
}

/* ------------------------------------------------------------ model */

/* The guest's entry for ref as it was when the batch started. */
HARNESS static bool entry_of(uint32_t ref, struct pvio_grant_entry_v1 *e)
{
	if (ref >= F.nr_entries)
		return false;
	if (ref >= WIN_REF && ref < WIN_REF + WIN_N) {
		*e = I.gt0[ref - WIN_REF];
	} else if (ref >= RING_REF && ref <= FINAL_REF) {
		e->flags = PVIO_GTF_permit_access;
		e->domid = 0;
		e->frame = ref == FINAL_REF ? FINAL_GFN : RING_GFN + ref - RING_REF;
	} else {
		memset(e, 0, sizeof(*e));
	}
	return true;
}

/* May dom0 map (map) or copy from ref, writable if write? */
HARNESS static bool grant_ok(uint32_t ref, bool map, bool write)
{
	struct pvio_grant_entry_v1 e;

	if (!entry_of(ref, &e))
		return false;
	if ((e.flags & PVIO_GTF_type_mask) != PVIO_GTF_permit_access)
		return false;
	if (map && (e.flags & PVIO_GTF_sub_page))
		return false;
	if (e.domid != 0 || (write && (e.flags & PVIO_GTF_readonly)))
		return false;
	return e.frame < GUEST_PAGES;
}

HARNESS static bool range_fine(uint64_t sector, uint64_t len)
{
	uint64_t off;

	if (sector > UINT64_MAX / I.unit)
		return false;
	off = sector * I.unit;
	if (off > DISK_BYTES || len > DISK_BYTES - off)
		return false;
	return ((off | len) & (F.d->sector_size - 1)) == 0;
}

HARNESS static int segs_status(const uint8_t *segs, unsigned n, bool dev_writes, uint64_t sector)
{
	uint64_t len = 0;

	for (unsigned i = 0; i < n; i++)
		if (segs[8 * i + 4] > segs[8 * i + 5] || segs[8 * i + 5] >= I.spp)
			return PVIO_BLKIF_RSP_ERROR;
	for (unsigned i = 0; i < n; i++) {
		if (!grant_ok(get32(segs + 8 * i), true, dev_writes))
			return PVIO_BLKIF_RSP_ERROR;
		len += (uint64_t)(segs[8 * i + 5] - segs[8 * i + 4] + 1) * I.unit;
	}
	return range_fine(sector, len) ? PVIO_BLKIF_RSP_OKAY : PVIO_BLKIF_RSP_ERROR;
}

#define UNKNOWN 1

/* The status the backend owes the request in slot s (UNKNOWN: cannot tell). */
HARNESS static int model(const uint8_t *s)
{
	const struct blkback_cfg *c = &F.d->cfg;
	uint8_t op = s[0];
	uint64_t sector = get64(s + OFF_SECT);

	switch (op) {
	case PVIO_BLKIF_OP_READ:
	case PVIO_BLKIF_OP_WRITE:
		if (s[1] == 0 || s[1] > PVIO_BLKIF_MAX_SEGMENTS_PER_REQUEST)
			return PVIO_BLKIF_RSP_ERROR;
		if (op == PVIO_BLKIF_OP_WRITE && I.ro)
			return PVIO_BLKIF_RSP_ERROR;
		return segs_status(s + OFF_SEG, s[1], op == PVIO_BLKIF_OP_READ, sector);
	case PVIO_BLKIF_OP_WRITE_BARRIER:
	case PVIO_BLKIF_OP_FLUSH_DISKCACHE:
		if (op == PVIO_BLKIF_OP_WRITE_BARRIER ? !c->barrier : !c->flush)
			return PVIO_BLKIF_RSP_EOPNOTSUPP;
		if (s[1] > PVIO_BLKIF_MAX_SEGMENTS_PER_REQUEST || (s[1] && I.ro))
			return PVIO_BLKIF_RSP_ERROR;
		if (s[1] == 0)
			return PVIO_BLKIF_RSP_OKAY;
		return segs_status(s + OFF_SEG, s[1], false, sector);
	case PVIO_BLKIF_OP_DISCARD: {
		uint64_t nr = get64(s + OFF_NRSEC);

		if (!c->discard || I.ro)
			return PVIO_BLKIF_RSP_EOPNOTSUPP;
		if (nr > UINT64_MAX / I.unit || !range_fine(sector, nr * I.unit))
			return PVIO_BLKIF_RSP_ERROR;
		return PVIO_BLKIF_RSP_OKAY;
	}
	case PVIO_BLKIF_OP_INDIRECT: {
		uint16_t nr = get16(s + 2);
		uint32_t g0 = get32(s + OFF_IGREF);
		struct pvio_grant_entry_v1 e;
		unsigned npages;

		if (!c->max_indirect)
			return PVIO_BLKIF_RSP_EOPNOTSUPP;
		if (s[1] != PVIO_BLKIF_OP_READ && s[1] != PVIO_BLKIF_OP_WRITE)
			return PVIO_BLKIF_RSP_ERROR;
		if (nr == 0 || nr > c->max_indirect)
			return PVIO_BLKIF_RSP_ERROR;
		npages = (nr + PVIO_BLKIF_SEGS_PER_INDIRECT_FRAME - 1) /
			 PVIO_BLKIF_SEGS_PER_INDIRECT_FRAME;
		for (unsigned j = 0; j < npages; j++)
			if (!grant_ok(get32(s + OFF_IGREF + 4 * j), false, false))
				return PVIO_BLKIF_RSP_ERROR;
		/* Its segments: known if it sits in a page nothing writes. */
		if (npages != 1 || !entry_of(g0, &e) || e.frame < IND_GFN ||
		    e.frame >= IND_GFN + IND_PAGES)
			return UNKNOWN;
		if (s[1] == PVIO_BLKIF_OP_WRITE && I.ro)
			return PVIO_BLKIF_RSP_ERROR;
		return segs_status(ref_mem[e.frame], nr, s[1] == PVIO_BLKIF_OP_READ, sector);
	}
	default:
		return PVIO_BLKIF_RSP_EOPNOTSUPP;
	}
}

/* Does any 32-bit word of buf name a ring page's grant? A guest may use its
 * ring's grants for data (the backend must survive it; the model cannot
 * follow the ring being rewritten under it). Words are where every gref
 * of both layouts sits. */
HARNESS static bool names_ring(const uint8_t *buf, size_t len)
{
	for (size_t i = 0; i + 4 <= len; i += 4) {
		uint32_t g = get32(buf + i);

		if (g >= RING_REF && g < RING_REF + RING_PAGES)
			return true;
	}
	return false;
}

/* ------------------------------------------------------------ driving */

HARNESS static uint8_t *slot_ptr(uint32_t idx)
{
	return F.gmem + (size_t)RING_GFN * PAGE + PVIO_SRING_HDR_SIZE +
	       (size_t)(idx & (I.nr_ents - 1)) * I.slot_size;
}

HARNESS static struct pvio_sring *sring(void)
{
	return (struct pvio_sring *)(F.gmem + (size_t)RING_GFN * PAGE);
}

HARNESS static bool queue_idle(void)
{
	struct blkback_queue *q = F.q;

	if (pvio_blk_engine_inflight(q->eng) || q->inflight)
		return false;
	if (pvio_load_acquire(&q->stopping))
		return q->stopped;
	if (q->broken)
		return true;
	return !q->held && !q->thr_held && !q->draining &&
	       pvio_load_acquire(&sring()->req_prod) == q->ring.req_cons;
}

static void stop_now(void);
static void midrun(void);

/* As the worker sleeps on the task's fds: woken() with what fired. */
HARNESS static unsigned wait_fds(int timeout_ms)
{
	struct blkback_queue *q = F.q;
	struct pollfd pf[PVIO_TASK_MAX_FDS];
	unsigned mask = 0;

	for (unsigned i = 0; i < q->task.nfds; i++)
		pf[i] = (struct pollfd){ .fd = q->task.fds[i], .events = POLLIN };
	if (poll(pf, q->task.nfds, timeout_ms) > 0)
		for (unsigned i = 0; i < q->task.nfds; i++)
			if (pf[i].revents & POLLIN)
				mask |= 1u << i;
	queue_woken(&q->task, mask);
	return mask;
}

/* Run the queue as its worker would until it has nothing left to do;
 * with first_round, what the input does after the first round. With the
 * ring exposed to the backend's own writes the guest may feed it for ever:
 * stop it then. */
HARNESS static void drive(bool first_round)
{
	struct blkback_queue *q = F.q;

	for (unsigned i = 0;; i++) {
		unsigned work;
		int timeout = 0;

		ASSERT(i < RUN_LIMIT);
		work = queue_run(&q->task);
		if (i == 0 && first_round) {
			midrun();
			continue;
		}
		if (queue_idle())
			return;
		if (I.ring_hazard && i == 256 && !pvio_load_acquire(&q->stopping)) {
			stop_now();
			I.stop = true;
		}
		if (work || queue_arm(&q->task, &timeout))
			continue;
		/* Asleep (the guest is us: only the engine wakes it). */
		ASSERT(pvio_blk_engine_inflight(q->eng) || q->held || q->draining);
		wait_fds(timeout > 0 ? timeout : 0);
	}
}

static uint32_t overflow_by;

/* Past what the ring can hold whatever is answered meanwhile. */
HARNESS static void overflow_now(void)
{
	pvio_store_release(&sring()->req_prod,
			   F.q->ring.req_cons + I.nr_ents + 1 + overflow_by);
}

HARNESS static void stop_now(void)
{
	pvio_store_release(&F.q->stopping, 1);
}

/* After the first round: the guest rewrites its grants (some may be in use
 * or cached), overflows its producer index, or the control plane stops
 * the queue. */
HARNESS static void midrun(void)
{
	if (I.rewrite)
		write_window(I.gt1);
	if (I.mode == 3)
		overflow_now();
	else if (I.stop)
		stop_now();
}

/* Reset the queue to a freshly connected state on a clean ring. */
HARNESS static void queue_reset(uint32_t base)
{
	struct blkback_queue *q = F.q;
	struct pvio_sring *s = sring();
	int r;

	memset(F.gmem + (size_t)RING_GFN * PAGE, 0, (size_t)RING_PAGES * PAGE);
	s->req_prod = s->rsp_prod = base;
	s->req_event = s->rsp_event = base + 1;
	r = I.x32 ? pvio_blkif_x86_32_back_attach(&q->ring, q->ringmap.addr, I.ring_bytes)
		  : pvio_blkif_back_attach(&q->ring, q->ringmap.addr, I.ring_bytes);
	ASSERT(r == 0 && q->ring.nr_ents == I.nr_ents);
	q->nr_reqs = I.nr_ents;
	for (uint32_t i = 0; i < I.nr_ents; i++)
		q->reqs[i].next_free = i + 1 < I.nr_ents ? i + 1 : NO_REQ;
	q->free_head = 0;
	q->inflight = 0;
	q->held = q->draining = q->broken = q->stopped = false;
	q->stopping = 0;
	q->thr_held = NULL;
	q->rsp_pending = 0;
	q->io_last_ns = q->io_armed_ns = 0;
	F.d->broken = 0;
}

struct expect {
	uint64_t id;
	uint8_t op;
	int status;         /* the model's, or UNKNOWN */
	bool answered;
};

HARNESS static void check_response(const uint8_t *rsp, struct expect *ex, unsigned nex)
{
	uint64_t id = get64(rsp);
	uint8_t op = rsp[8];
	int16_t st = (int16_t)get16(rsp + 10);
	unsigned i;

	ASSERT(rsp[9] == 0);                                 /* XSA-216 */
	if (!I.x32)
		ASSERT(get32(rsp + 12) == 0);
	ASSERT(st == PVIO_BLKIF_RSP_OKAY || st == PVIO_BLKIF_RSP_ERROR ||
	       st == PVIO_BLKIF_RSP_EOPNOTSUPP);
	/* Some request taken with that id and operation, not yet answered,
	 * whose status is the model's (ids may repeat: a multiset). One the
	 * model knows first: one it cannot tell about may be any. */
	for (i = 0; i < nex; i++)
		if (!ex[i].answered && ex[i].id == id && ex[i].op == op && ex[i].status == st)
			break;
	for (unsigned j = 0; i == nex && j < nex; j++)
		if (!ex[j].answered && ex[j].id == id && ex[j].op == op && ex[j].status == UNKNOWN)
			i = j;
	if (i == nex) {
		for (i = 0; i < nex; i++)
			if (!ex[i].answered && ex[i].id == id && ex[i].op == op)
				fprintf(stderr, "fuzz_blkback: request %u (op %u) answered %d, "
					"model says %d\n", i, op, st, ex[i].status);
	}
	ASSERT(i < nex);
	ex[i].answered = true;
}

/* A valid READ of the disk's first page into the final page: OKAY. */
HARNESS static void final_check(void)
{
	struct blkback_queue *q = F.q;
	uint32_t idx = q->ring.req_cons, rsp0 = q->ring.rsp_prod_pvt;
	uint8_t *s = slot_ptr(idx), disk[PAGE];
	const uint8_t *rsp;

	memset(s, 0, I.slot_size);
	s[0] = PVIO_BLKIF_OP_READ;
	s[1] = 1;
	put64(s + OFF_ID, FINAL_ID);
	put64(s + OFF_SECT, 0);
	write_seg(s + OFF_SEG, FINAL_REF, 0, (uint8_t)(I.spp - 1), 0);
	pvio_store_release(&sring()->req_prod, idx + 1);
	drive(false);
	ASSERT(!q->broken && q->ring.rsp_prod_pvt == rsp0 + 1 && q->ring.req_cons == idx + 1);
	rsp = slot_ptr(rsp0);
	ASSERT(get64(rsp) == FINAL_ID && rsp[8] == PVIO_BLKIF_OP_READ &&
	       get16(rsp + 10) == PVIO_BLKIF_RSP_OKAY);
	ASSERT(pread(F.d->fd, disk, PAGE, 0) == PAGE);
	ASSERT(memcmp(disk, F.gmem + (size_t)FINAL_GFN * PAGE, PAGE) == 0);
}

/* No grant left pinned but the ring's (and the cache's, until released). */
HARNESS static void check_pins(void)
{
	struct blkback_queue *q = F.q;
	struct pvio_gnttab_stats s;

	pvio_gnttab_view_stats(q->pg.view, &s);
	ASSERT(s.maps - s.unmaps == F.ring_pins + (q->pg_on ? q->pg.nr : 0));
	/* Every entry is idle now: reclaim takes them all (release_all, which
	 * walks the whole cache, only on the small one). */
	if (q->pg.max <= 16)
		ASSERT(pvio_pgrant_release_all(&q->pg) == 0);
	else
		pvio_pgrant_reclaim(&q->pg, UINT_MAX);
	ASSERT(q->pg.nr == 0);
	pvio_gnttab_view_stats(q->pg.view, &s);
	ASSERT(s.maps - s.unmaps == F.ring_pins);
	for (unsigned i = 0; i < WIN_N; i++) {
		uint16_t bits = PVIO_GTF_reading | PVIO_GTF_writing;

		uint16_t guest = (I.rewrite ? I.gt1[i].flags : I.gt0[i].flags) & bits;

		ASSERT((F.gt[WIN_REF + i].flags & bits & ~guest) == 0);
	}
	ASSERT((F.gt[FINAL_REF].flags & (PVIO_GTF_reading | PVIO_GTF_writing)) == 0);
}

/*
 * Where the inline engine runs every I/O in the order the requests were
 * taken (no faults, the model knows every status, the grants stay put),
 * replay the requests the model says succeed on a shadow of the disk and
 * of guest memory: afterwards both must be byte for byte the same. So
 * data goes exactly where the grants and sectors say, and a request that
 * failed touched neither disk nor memory.
 */
static uint8_t shadow_disk[DISK_BYTES];
static uint8_t shadow_mem[GUEST_PAGES][PAGE];

/* false: a segment is on a ring page (read-only: a WRITE of it is fine),
 * whose contents the backend itself changes: no shadow then. */
HARNESS static bool shadow_segs(const uint8_t *segs, unsigned n, bool read, uint64_t sector)
{
	uint64_t off = sector * I.unit;

	for (unsigned i = 0; i < n; i++) {
		struct pvio_grant_entry_v1 e;
		size_t at = (size_t)segs[8 * i + 4] * I.unit;
		size_t len = (size_t)(segs[8 * i + 5] - segs[8 * i + 4] + 1) * I.unit;

		ASSERT(entry_of(get32(segs + 8 * i), &e) && e.frame < GUEST_PAGES &&
		       off + len <= DISK_BYTES);
		if (e.frame < FINAL_GFN)
			return false;
		if (read)
			memcpy(shadow_mem[e.frame] + at, shadow_disk + off, len);
		else
			memcpy(shadow_disk + off, shadow_mem[e.frame] + at, len);
		off += len;
	}
	return true;
}

HARNESS static void check_data(const struct expect *ex, unsigned nrun)
{
	static uint8_t disk[DISK_BYTES];

	memset(shadow_disk, 0, sizeof(shadow_disk));
	memcpy(shadow_mem[FINAL_GFN], ref_mem[FINAL_GFN], (size_t)(GUEST_PAGES - FINAL_GFN) * PAGE);
	for (unsigned i = 0; i < nrun; i++) {
		const uint8_t *s = I.slots[i];
		uint64_t sector = get64(s + OFF_SECT);
		struct pvio_grant_entry_v1 e;
		bool ok = true;

		if (ex[i].status != PVIO_BLKIF_RSP_OKAY)
			continue;
		switch (s[0]) {
		case PVIO_BLKIF_OP_READ:
		case PVIO_BLKIF_OP_WRITE:
		case PVIO_BLKIF_OP_WRITE_BARRIER:
		case PVIO_BLKIF_OP_FLUSH_DISKCACHE:
			ok = shadow_segs(s + OFF_SEG, s[1], s[0] == PVIO_BLKIF_OP_READ, sector);
			break;
		case PVIO_BLKIF_OP_DISCARD:
			memset(shadow_disk + sector * I.unit, 0, get64(s + OFF_NRSEC) * I.unit);
			break;
		case PVIO_BLKIF_OP_INDIRECT:
			ASSERT(entry_of(get32(s + OFF_IGREF), &e));
			ok = shadow_segs(ref_mem[e.frame], get16(s + 2), s[1] == PVIO_BLKIF_OP_READ,
					 sector);
			break;
		}
		if (!ok)
			return;
	}
	ASSERT(pread(F.d->fd, disk, DISK_BYTES, 0) == DISK_BYTES);
	ASSERT(memcmp(disk, shadow_disk, DISK_BYTES) == 0);
	ASSERT(memcmp(F.gmem + (size_t)FINAL_GFN * PAGE, shadow_mem[FINAL_GFN],
		      (size_t)(GUEST_PAGES - FINAL_GFN) * PAGE) == 0);
}

/* Pages the backend had no writable grant of are as they were. */
HARNESS static void check_pages(void)
{
	bool writable[GUEST_PAGES] = { false };

	writable[FINAL_GFN] = true;
	for (unsigned i = 0; i < 2 * WIN_N; i++) {
		const struct pvio_grant_entry_v1 *e = i < WIN_N ? &I.gt0[i] : &I.gt1[i - WIN_N];

		if ((e->flags & PVIO_GTF_type_mask) == PVIO_GTF_permit_access &&
		    !(e->flags & (PVIO_GTF_readonly | PVIO_GTF_sub_page)) && e->domid == 0 &&
		    e->frame < GUEST_PAGES)
			writable[e->frame] = true;
	}
	for (unsigned g = RING_GFN + RING_PAGES; g < GUEST_PAGES; g++)
		if (!writable[g])
			ASSERT(memcmp(F.gmem + (size_t)g * PAGE, ref_mem[g], PAGE) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
HARNESS int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct expect ex[MAX_ENTS];
	struct in in = { data, size };
	struct blkback_dev *d;
	struct blkback_queue *q;
	uint8_t h[9];
	unsigned pgsel, engsel, nreq, nex = 0;
	uint32_t prod, taken, nrsp;
	bool use_model, expect_broken;
	static const unsigned max_ind[] = { 256, 11, 32, 1 };

	if (!F.ready)
		fixture_init();
	d = F.d;
	q = F.q;
	in_bytes(&in, h, sizeof(h));

	/* Device and queue configuration (what the frontend negotiated). */
	I.x32 = h[0] & 1;
	I.pers = h[0] & 2;
	d->sector_size = h[0] & 8 ? 4096 : 512;
	d->phys_block = d->sector_size;
	d->unit = h[0] & 4 ? d->sector_size : 512;
	I.ro = d->readonly = h[0] & 0x10;
	I.ring_bytes = h[0] & 0x20 ? RING_PAGES * PAGE : PAGE;
	engsel = h[0] >> 6 < 2 ? ENG_INLINE : h[0] >> 6 == 2 ? ENG_URING : ENG_PSYNC;
	if (!F.eng[engsel])
		engsel = ENG_INLINE;
	d->x86_32 = I.x32;
	d->cfg.flush = h[1] & 1;
	d->cfg.barrier = h[1] & 2;
	d->cfg.discard = h[1] & 4;
	d->cfg.max_indirect = h[1] & 8 ? max_ind[(h[1] >> 4) & 3] : 0;
	pgsel = h[1] & 0x40 ? 0 : 1;
	I.stop = h[1] & 0x80;
	d->persistent = I.pers;
	I.slot_size = I.x32 ? sizeof(union pvio_blkif_x86_32_slot) : sizeof(union pvio_blkif_slot);
	I.nr_ents = pvio_ring_nr_ents(I.ring_bytes, I.slot_size);
	I.unit = d->unit;
	I.spp = PAGE / I.unit;
	I.units = DISK_BYTES / I.unit;
	I.base = h[3] < 128 ? h[3] : 0xffffffffu - (h[3] - 128u) * 3;

	FT.kind = engsel == ENG_INLINE ? (h[7] >> 2) & 7 : FT_NONE;
	FT.period = (const unsigned[]){ 1, 2, 3, 4, 5, 7, 8, 16 }[h[7] >> 5];
	FT.count = FT.nfail = 0;
	q->eng = F.eng[engsel];
	q->task.fds[1] = pvio_blk_engine_fd(q->eng);
	q->pg = F.pg[pgsel];
	q->pg_on = I.pers;

	/* Guest memory, grant table, disk. */
	memcpy(F.gmem + (size_t)FINAL_GFN * PAGE, ref_mem[FINAL_GFN], PAGE);
	memcpy(F.gmem + (size_t)DATA_GFN * PAGE, ref_mem[DATA_GFN], (size_t)DATA_PAGES * PAGE);
	ASSERT(fallocate(d->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, DISK_BYTES) == 0);
	I.ring_hazard = false;
	I.rewrite = h[8] & 1;
	I.flow = (h[8] >> 1) & 3;
	build_grants(&in, h[4], I.rewrite ? h[8] >> 3 : 0);
	build_indirect(&in, h[5]);
	queue_reset(I.base);
	pvio_evtchn_consume(q->ch);   /* nothing left pending from before */
	if (I.flow <= 1) {
		int timeout;

		/* Idle: the final check sets req_event, the channel is unmasked. */
		ASSERT(!queue_arm(&q->task, &timeout));
	}

	/* The requests. */
	nreq = h[6] < I.nr_ents ? h[6] : I.nr_ents;
	I.nslots = nreq + (h[7] & 3) < I.nr_ents ? nreq + (h[7] & 3) : I.nr_ents;
	for (unsigned i = 0; i < I.nslots; i++) {
		memset(I.slots[i], 0, sizeof(I.slots[i]));
		if (i < nreq)
			build_request(&in, I.slots[i]);
		memcpy(slot_ptr(I.base + i), I.slots[i], I.slot_size);
		if (names_ring(I.slots[i], I.slot_size))
			I.ring_hazard = true;
	}
	I.mode = h[2] & 3;
	overflow_by = h[2] >> 2;
	switch (I.mode) {
	case 1: prod = I.base + I.nr_ents + 1 + overflow_by; break;
	case 2: prod = I.base - 1 - overflow_by; break;
	default: prod = I.base + I.nslots; break;
	}
	pvio_store_release(&sring()->req_prod, prod);
	switch (I.flow) {
	case 0: {
		/* The guest notifies as RING_PUSH_REQUESTS_AND_CHECK_NOTIFY
		 * says: an armed queue must wake. */
		uint32_t ev = pvio_load_acquire(&sring()->req_event);
		bool kick = (uint32_t)(prod - ev) < (uint32_t)(prod - I.base);

		if (kick)
			pvio_evtchn_notify(F.fe_ch);
		ASSERT(!kick || (wait_fds(0) & 1));
		break;
	}
	case 1: {
		/* It does not: the backend's final check before sleeping must
		 * see the requests (or the overflow). */
		int timeout;
		bool more = queue_arm(&q->task, &timeout);

		ASSERT(!(I.mode == 0 && I.nslots) || more);
		ASSERT(!(I.mode == 1 || I.mode == 2) || q->broken);
		break;
	}
	case 2:
		/* It closes its event channel: the queue disconnects. */
		pvio_hv_evtchn_close(F.fe, F.feport);
		ASSERT((wait_fds(0) & 1) && q->broken);
		break;
	default:
		break;
	}
	expect_broken = I.mode != 0 || I.flow == 2;

	drive(true);

	/* Indices: everything taken was answered, but a flush still held
	 * when the queue broke or stopped. */
	ASSERT(q->inflight == 0 && pvio_blk_engine_inflight(q->eng) == 0);
	taken = q->ring.req_cons - I.base;
	nrsp = q->ring.rsp_prod_pvt - I.base;
	ASSERT(nrsp <= taken);
	ASSERT(q->ring.req_cons - q->ring.rsp_prod_pvt <= 1);
	if (!I.ring_hazard) {
		ASSERT(pvio_load_acquire(&sring()->rsp_prod) == q->ring.rsp_prod_pvt);
		ASSERT(taken <= I.nslots);
		if (expect_broken) {
			ASSERT(q->broken && __atomic_load_n(&d->broken, __ATOMIC_ACQUIRE));
			if (I.mode != 3 || I.flow == 2)
				ASSERT(taken == 0);
		}
		ASSERT(nrsp == taken || ((q->broken || I.stop) && nrsp + 1 == taken));
		if (!q->broken && !I.stop)
			ASSERT(taken == I.nslots);
	}
	ASSERT(!q->broken || __atomic_load_n(&d->broken, __ATOMIC_ACQUIRE));

	/* Every response against the requests taken (unless the ring may
	 * have been overwritten), by the model unless the grants changed. */
	use_model = !I.ring_hazard && !I.rewrite;
	for (uint32_t i = 0; i < taken && !I.ring_hazard; i++) {
		const uint8_t *s = I.slots[i];

		ex[nex].id = get64(s + OFF_ID);
		ex[nex].op = s[0] == PVIO_BLKIF_OP_INDIRECT &&
			     (s[1] == PVIO_BLKIF_OP_READ || s[1] == PVIO_BLKIF_OP_WRITE) ? s[1] : s[0];
		ex[nex].status = use_model ? model(s) : UNKNOWN;
		if (FT.kind && ex[nex].status == PVIO_BLKIF_RSP_OKAY)
			ex[nex].status = UNKNOWN;   /* its I/O may fail */
		ex[nex].answered = false;
		nex++;
	}
	for (uint32_t i = 0; i < nrsp && !I.ring_hazard; i++)
		check_response(slot_ptr(I.base + i), ex, nex);

	if (engsel == ENG_INLINE && !FT.kind && use_model && !I.ring_hazard) {
		bool known = true;

		for (unsigned i = 0; i < nex; i++)
			known = known && ex[i].status != UNKNOWN;
		/* A flush still held when the queue stopped never ran. */
		if (known)
			check_data(ex, nrsp);
	}
	check_pages();
	FT.kind = FT_NONE;
	if (q->broken) {
		/* Broken stays broken: nothing more is taken. */
		uint32_t cons = q->ring.req_cons;

		queue_run(&q->task);
		ASSERT(q->ring.req_cons == cons && q->inflight == 0);
	} else {
		if (I.stop) {
			/* Reconnected: a fresh ring where the old one stopped. */
			pvio_store_release(&q->stopping, 0);
			drain_fd(q->done_fd);
			queue_reset(q->ring.rsp_prod_pvt);
		}
		final_check();
	}
	check_pins();
	if (I.flow == 2)
		channel_open();
	F.pg[pgsel] = q->pg;
	drain_fd(d->broken_efd);
	return 0;
}
