/* SPDX-License-Identifier: MIT */
/*
 * An in-process blkif backend for blkfront's unit tests: a thread of "dom0"
 * (hv local implementation) that walks the backend side of the handshake
 * like a backend would (features + InitWait, read the frontend's keys, map
 * its rings, bind its ports, properties + Connected) and serves a RAM disk
 * through grant copy -- or, in a hostile mode, answers nonsense.
 *
 * It can crash (ports closed, maps dropped or kept pinned, store untouched)
 * and start again on the same RAM disk, or shut down gracefully
 * (Closing/Closed), to exercise blkfront's reconnection.
 */
#ifndef PVIO_TEST_FAKE_BACKEND_H
#define PVIO_TEST_FAKE_BACKEND_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "hv/hv.h"
#include "ring/ring.h"
#include "tests/blkfront/fake_toolstack.h"
#include "xenstore/xs.h"

enum fb_mode {
	FB_GOOD = 0,       /* serve the RAM disk */
	FB_SWALLOW,        /* take requests, never answer */
	FB_HALF,           /* serve every other request, swallow the others */
	FB_UNKNOWN_ID,     /* answer with an id whose slot does not exist */
	FB_STALE_ID,       /* right slot, wrong generation */
	FB_DUP_ID,         /* with two requests pending, answer the first twice */
	FB_WRONG_OP,       /* right id, another operation */
	FB_OVERFLOW,       /* rsp_prod far beyond the requests outstanding */
	FB_BAD_STATUS,     /* right id and op, status 0x1234 (an error, not nonsense) */
	FB_GARBAGE,        /* random responses (ids, ops, statuses) within bounds */
};

struct fb_cfg {
	unsigned max_queues;       /* 0: no multi-queue-max-queues key */
	unsigned max_order;
	const char *max_order_key;  /* written instead of max_order if set */
	bool     persistent;
	unsigned max_indirect;     /* 0: no feature-max-indirect-segments */
	uint32_t sector_size;
	bool     flush, barrier, discard, readonly;
};

struct fb_queue {
	struct pvio_hv_ring_map map;
	struct pvio_ring_back ring;
	pvio_evtchn_port_t port;
	struct pvio_evtchn *ch;
};

struct fake_be {
	/* set by the test */
	struct pvio_hv *hv;              /* dom0 */
	struct ft_vbd vbd;
	struct fb_cfg cfg;
	uint8_t *disk;                   /* the RAM disk, kept across restarts */
	uint64_t disk_bytes;
	int      mode;                   /* enum fb_mode, atomic: may change while serving */
	unsigned seed;

	/* run state */
	pthread_t thr;
	bool     running;
	int      stop_fd;
	int      stop;                   /* atomic */
	struct pvio_xs *xs;
	char     wpath[256], wtoken[64];   /* our watch on the frontend's state */
	bool     watching;
	unsigned nq;
	bool     x86_32;
	uint32_t unit;
	struct fb_queue q[16];
	struct pvio_hv_ring_map kept[16];   /* pins of a crash with keep_maps */
	int      connected;              /* atomic: 1 once Connected */
	int      closed;                 /* atomic: 1 after the frontend closed */
	uint64_t served, swallowed;      /* atomic */
	uint64_t taken;                  /* requests seen (FB_HALF alternates on it) */
	uint64_t max_segs_seen, indirect_seen;   /* atomic */
	int      err;
	bool     inited;
	pthread_mutex_t mu;              /* with cv: connected/swallowed/err changes */
	pthread_cond_t cv;
};

/* Start (or restart) the backend thread: features, InitWait, ... */
int  fb_start(struct fake_be *b);
/* Wait until Connected (1), -ETIMEDOUT. */
int  fb_wait_connected(struct fake_be *b, int timeout_ms);
/* Wait until at least n requests were swallowed. */
int  fb_wait_swallowed(struct fake_be *b, uint64_t n, int timeout_ms);
/* Die: the thread stops, its ports close (the frontend sees its peer go),
 * the store is left as it was. keep_maps: the ring mappings stay pinned
 * (a dead backend whose pins Xen keeps) until fb_release(). */
void fb_crash(struct fake_be *b, bool keep_maps);
/* Drop pins kept by fb_crash(b, true): all, or those of one queue. */
void fb_release(struct fake_be *b);
void fb_release_queue(struct fake_be *b, unsigned q);
/* Graceful: Closing, wait for the frontend to let go, unmap, Closed. */
void fb_shutdown(struct fake_be *b);
/* After the frontend closed (or at the end): join the thread, free. */
void fb_join(struct fake_be *b);

#endif
