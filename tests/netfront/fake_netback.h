/* SPDX-License-Identifier: MIT */
/*
 * An in-process netif backend for netfront's tests: a thread of "dom0" (hv
 * local implementation) that walks the backend side of the handshake the
 * way Linux netback does (features + InitWait; on the frontend's Connected:
 * read its keys, map its rings, bind its ports, Connected; on its Closing:
 * unmap, Closing; on its Closed: Closed) and then, in the default mode,
 * echoes every tx frame back as an rx frame through grant copy (tx: copy
 * from the frontend's granted pages; rx: copy into its posted pages, one
 * response per request slot, in that slot), with the frame's checksum
 * flags and GSO metadata carried over. Hostile modes answer nonsense.
 */
#ifndef PVIO_TEST_FAKE_NETBACK_H
#define PVIO_TEST_FAKE_NETBACK_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "hv/hv.h"
#include "ring/netif.h"
#include "ring/ring.h"
#include "xenstore/xs.h"

enum fn_mode {
	FN_ECHO = 0,          /* tx frames come back on rx */
	FN_SINK,              /* tx answered, nothing delivered */
	FN_TX_BAD_ID,         /* a tx response with an id never sent */
	FN_TX_DUP_ID,         /* two frames pending: the first id answered twice */
	FN_TX_BAD_STATUS,     /* tx status 7 */
	FN_TX_NULL_DATA,      /* every tx slot answered NULL */
	FN_TX_OVERFLOW,       /* tx rsp_prod far past the requests */
	FN_RX_BAD_ID,         /* rx response id is not the id posted in that slot */
	FN_RX_OVERSIZE,       /* rx status 5000 */
	FN_RX_BAD_OFFSET,     /* rx offset 4000, status 200 */
	FN_RX_OVERFLOW,       /* rx rsp_prod far past the requests */
	FN_RX_TOO_MANY_SLOTS, /* more_data over 20 slots */
	FN_RX_HOLD_GRANT,     /* answer, but keep the rx page mapped */
	FN_RX_BAD_STATUS,     /* rx status -7 (no NETIF_RSP_* code) */
	FN_RX_ERR_STATUS,     /* once: rx status ERROR (frame dropped), then echo */
	FN_RX_BAD_EXTRA,      /* once: an extra info of type 9 (dropped), then echo */
	FN_RX_HALF_FRAME,     /* once: publish a frame's first slot, the rest later */
	FN_GARBAGE,           /* random rx responses (within the ring) */
	FN_NR_MODES
};

struct fn_cfg {
	unsigned max_queues;       /* 0: no multi-queue-max-queues key */
	bool     split;            /* feature-split-event-channels */
	bool     sg, gso4, gso6, ipv6_csum;
	bool     no_rx_copy;       /* feature-rx-copy=0 */
	unsigned rx_chunk;         /* bytes per rx slot (default: a page - rx_offset) */
	unsigned rx_offset;        /* data offset in rx pages (default 0) */
};

struct fn_frame {
	uint8_t *data;
	uint32_t len;
	uint16_t txflags;
	uint8_t  gso_type;
	uint16_t gso_size;
};

#define FN_BACKLOG 1024

struct fn_queue {
	struct pvio_hv_ring_map txmap, rxmap;
	struct pvio_ring_back tx, rx;
	pvio_evtchn_port_t port[2];
	struct pvio_evtchn *ch[2];
	unsigned nports;
	struct fn_frame bl[FN_BACKLOG];
	unsigned bl_head, bl_n;
	struct pvio_gnt_map_op held[4];   /* FN_RX_HOLD_GRANT */
	unsigned nheld;
};

struct fake_nb {
	/* set by the test */
	struct pvio_hv *hv;              /* dom0 */
	uint16_t fe_domid;
	uint32_t devid;
	struct fn_cfg cfg;
	int      mode;                   /* enum fn_mode, atomic */
	unsigned seed;

	/* run state */
	char     fe_dir[128], be_dir[128];
	pthread_t thr;
	bool     running;
	int      stop_fd;
	int      stop;
	struct pvio_xs *xs;
	unsigned nq;
	bool     fe_sg;
	struct fn_queue *q;              /* nq entries */
	int      connected;              /* atomic */
	int      mute;                   /* atomic: stop touching the rings */
	int      closed;                 /* atomic: the frontend closed, we are Closed */
	int      err;
	bool     inited;
	pthread_mutex_t mu;
	pthread_cond_t cv;

	/* what the frontend wrote (read at connect) */
	unsigned long long fe_rx_copy, fe_rx_notify, fe_feat_sg, fe_gso4, fe_gso6,
			   fe_no_csum, fe_ipv6_csum, fe_nq;
	bool     fe_split;

	/* counters (atomic) */
	uint64_t tx_frames, tx_gso, tx_csum_blank, tx_max_slots, rx_frames, hostile_done;
};

/* Start the backend thread on the vif's nodes (written by the toolstack). */
int  fn_start(struct fake_nb *b);
/* Wait until Connected (0), -ETIMEDOUT, or the handshake's error. */
int  fn_wait_connected(struct fake_nb *b, int timeout_ms);
/* Wait until the hostile action was taken (hostile_done > 0). */
int  fn_wait_hostile(struct fake_nb *b, int timeout_ms);
/* Stop the thread (if still running), unmap everything, free. */
void fn_stop(struct fake_nb *b);

#endif
