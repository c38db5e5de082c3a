/* SPDX-License-Identifier: MIT */
/*
 * Backend statistics in shared memory, for `pvio top` (xentop's role).
 *
 * Each backend process publishes one file, <dir>/<type>-<pid>.stats (dir:
 * pvio_stats_default_dir()), mapped MAP_SHARED: a header, an array of device
 * records and an array of worker records. Tools map it read-only and read
 * it without taking anything the backend takes: the data path never waits
 * for a reader, and a reader never sees half a device.
 *
 * Who writes what:
 *   [CTL] the control thread (under the handle's private mutex): device and
 *         worker records' identity, allocated and freed with a generation
 *         counter (a seqlock on identity: odd while changing). A reader
 *         keeps a record only if it read the same even generation before
 *         and after copying it, so it never mixes two devices.
 *   [Q]   the one thread serving a queue: its struct pvio_stats_queue
 *         slot, each counter a single store of its new value
 *         (pvio_stats_add: no read-modify-write, no lock, no fence). A
 *         reader sums a device's slots inside the generation check, so the
 *         counters it shows are that device's.
 *   [W]   a worker thread: its own worker record's counters.
 * The data path's whole API is PVIO_STATS_ADD(slot, field, n) on the slot
 * pvio_stats_queue(dev, i) returned; the control plane frees a device's
 * record only after that device's queues stopped.
 *
 * Without a file (pvio_stats_open() not called, or the file full) records
 * still exist, in private memory: the data path never tests for NULL.
 */
#ifndef PVIO_BACKEND_STATS_H
#define PVIO_BACKEND_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ring/pvio_atomic.h"

#define PVIO_STATS_MAGIC      0x544154534f495650ull   /* "PVIOSTAT" */
#define PVIO_STATS_VERSION    1
#define PVIO_STATS_DEFAULT_DEVS    4096
#define PVIO_STATS_DEFAULT_WORKERS 256
#define PVIO_STATS_MAX_QUEUES      64

enum pvio_stats_type {
	PVIO_STATS_VBD = 1,
	PVIO_STATS_VIF = 2,
};

/* What a backend's counters cover (header caps): a column a backend does
 * not count is shown as "-", not as 0. */
#define PVIO_STATS_CAP_VBD_IO  (1u << 0)   /* rd/wr/flush/discard/oo/sectors/errors */
#define PVIO_STATS_CAP_VIF_IO  (1u << 1)   /* tx/rx bytes, packets, drops */
#define PVIO_STATS_CAP_VBD_SUBMITS (1u << 2) /* submits */

/* One queue's counters: [Q], single writer. 128 bytes: a queue never
 * shares a cache line with another queue's writer. */
struct pvio_stats_queue {
	/* vbd: requests by kind, oo = delayed (a limit or a full engine) */
	uint64_t rd_req, wr_req, flush_req, discard_req, oo_req;
	uint64_t rd_sect, wr_sect;          /* 512-byte sectors */
	uint64_t errors;                    /* requests answered with an error */
	/* vif: tx = from the guest, rx = to the guest */
	uint64_t tx_pkts, tx_bytes, rx_pkts, rx_bytes;
	uint64_t tx_drops, rx_drops;
	/* vbd: times queued I/O was handed to the engine (io_uring_enter,
	 * io_submit): requests per submit is the backend's batching */
	uint64_t submits;
	uint64_t rsvd[1];
} __attribute__((aligned(64)));
_Static_assert(sizeof(struct pvio_stats_queue) == 128, "queue slot size");

/* A device record: identity [CTL], then hdr.max_queues queue slots. */
struct pvio_stats_dev {
	uint64_t gen;                       /* [CTL] seqlock: odd while changing */
	uint32_t live;                      /* [CTL] 1: a device */
	uint16_t domid;                     /* [CTL] the frontend's */
	uint16_t type;                      /* [CTL] enum pvio_stats_type */
	uint32_t devid;                     /* [CTL] */
	uint32_t nr_queues;                 /* [CTL] queues in use now */
	char     label[32];                 /* [CTL] "dom3/51712", "vif3.0" */
	uint32_t cap_queues;                /* [CTL] slots it has */
	uint8_t  pad[4];
	struct pvio_stats_queue q[];        /* hdr.max_queues */
} __attribute__((aligned(64)));
_Static_assert(sizeof(struct pvio_stats_dev) == 64, "device record header size");

/* A worker (a poller thread). CPU time is the kernel's
 * (/proc/<pid>/task/<tid>/stat), read by the tool. */
struct pvio_stats_worker {
	uint64_t gen;                       /* [CTL] seqlock */
	uint32_t live;                      /* [CTL] */
	uint32_t tid;                       /* [CTL] */
	char     name[16];                  /* [CTL] */
	uint64_t wakeups;                   /* [W] sleeps ended by an event */
	uint64_t rounds;                    /* [W] polling rounds that found work */
	uint64_t rsvd[2];
} __attribute__((aligned(64)));
_Static_assert(sizeof(struct pvio_stats_worker) == 64, "worker record size");

struct pvio_stats_hdr {
	uint64_t magic;                     /* written last, with release */
	uint32_t version;
	uint32_t hdr_size;
	uint32_t pid;
	uint32_t type;                      /* enum pvio_stats_type */
	uint32_t caps;                      /* PVIO_STATS_CAP_* (may change) */
	uint32_t max_devs, max_queues, max_workers;
	uint32_t dev_size, worker_size;     /* bytes per record */
	uint64_t dev_off, worker_off;       /* from the file's start */
	uint64_t file_size;
	char     prog[32];                  /* "pvio-blkback" */
	uint8_t  pad[24];
};
_Static_assert(sizeof(struct pvio_stats_hdr) == 128, "stats header size");

/* Single-writer counter update ([Q], [W]): a plain load of our own value
 * and a store-release, which on x86 is the same plain store as a relaxed
 * one (no fence, no locked instruction). The release is what lets a reader
 * that sees a counter of a record's next device also see its new
 * generation, and so drop what it read (pairs with the reader's acquire
 * fence in pvio_stats_snap_read()). */
static inline void pvio_stats_add(uint64_t *c, uint64_t n)
{
	pvio_store_release(c, *c + n);
}
#define PVIO_STATS_ADD(slot, field, n) pvio_stats_add(&(slot)->field, (n))

/* ------------------------------------------------------------ writer */

struct pvio_stats;

struct pvio_stats_opts {
	const char *dir;          /* NULL: pvio_stats_default_dir(sock) */
	const char *sock;         /* pviod's socket, for the default dir */
	const char *prog;         /* "pvio-blkback" */
	enum pvio_stats_type type;
	unsigned max_devs;        /* 0: PVIO_STATS_DEFAULT_DEVS */
	unsigned max_queues;      /* per device, 1..PVIO_STATS_MAX_QUEUES */
	unsigned max_workers;     /* 0: PVIO_STATS_DEFAULT_WORKERS */
	uint32_t caps;
};

/* Where stats files live: $PVIO_STATS_DIR, else "stats" beside pviod's
 * socket (sock, else $PVIO_SOCKET, else /run/pvio/pviod.sock): each pviod
 * and its backends have their own. 0 or -ENAMETOOLONG. */
int pvio_stats_default_dir(const char *sock, char *buf, size_t len);

/* Create (mkdir -p, mode 0700) the directory and this process's file, and
 * remove the files of processes that are gone. 0 or -errno; *out NULL on
 * error (the backend then runs with private records). */
int pvio_stats_open(const struct pvio_stats_opts *o, struct pvio_stats **out);
/* Unlink the file and unmap it. Records still held become invalid. */
void pvio_stats_close(struct pvio_stats *s);
const char *pvio_stats_path(const struct pvio_stats *s);
void pvio_stats_set_caps(struct pvio_stats *s, uint32_t caps);

/* A device's record ([CTL]) with nr_queues slots (0: the file's
 * max_queues, or PVIO_STATS_MAX_QUEUES without a file): in the file when it
 * has room and enough slots per device, else in private memory (not shown,
 * said once on stderr). NULL only when out of memory or nr_queues is above
 * PVIO_STATS_MAX_QUEUES. */
struct pvio_stats_dev *pvio_stats_dev_add(struct pvio_stats *s, enum pvio_stats_type type,
					  uint16_t domid, uint32_t devid, unsigned nr_queues,
					  const char *label);
/* Free it (after the device's queues stopped). s: the one it came from. */
void pvio_stats_dev_remove(struct pvio_stats *s, struct pvio_stats_dev *d);
/* Update nr_queues, the queues this connection uses (at most the record's
 * cap_queues; informational: a reader sums every slot, and a slot keeps
 * its totals across connections): [CTL]. */
void pvio_stats_dev_set_queues(struct pvio_stats_dev *d, unsigned nr_queues);
/* Queue i's slot, i < the nr_queues the record was added with. */
static inline struct pvio_stats_queue *pvio_stats_queue(struct pvio_stats_dev *d, unsigned i)
{
	return &d->q[i];
}

/* The calling thread as a worker named name (NULL or "": the tool reads
 * the thread's name) ([CTL]; any thread may call it). NULL if s is NULL or
 * full: then count nothing. */
struct pvio_stats_worker *pvio_stats_worker_add(struct pvio_stats *s, const char *name);
void pvio_stats_worker_remove(struct pvio_stats *s, struct pvio_stats_worker *w);

/* The process's file, for the hooks below (a backend has one). */
void pvio_stats_set_process(struct pvio_stats *s);
/* For pvio_workers_cfg.thread_init/thread_fini: the calling thread as a
 * worker record of the process's file (named by the thread's own name,
 * which the tool reads from /proc); fini removes it. No-ops without a
 * file. */
void pvio_stats_thread_init(void);
void pvio_stats_thread_fini(void);
/* The calling thread's record from pvio_stats_thread_init(), or NULL: its
 * [W] counters (a poller counts its wake-ups and its rounds with work). */
struct pvio_stats_worker *pvio_stats_thread_worker(void);

/* ------------------------------------------------------------ reader */

struct pvio_stats_counters {
	uint64_t rd_req, wr_req, flush_req, discard_req, oo_req;
	uint64_t rd_sect, wr_sect, errors;
	uint64_t tx_pkts, tx_bytes, rx_pkts, rx_bytes, tx_drops, rx_drops;
	uint64_t submits;
};

struct pvio_stats_devinfo {
	uint16_t domid;
	uint16_t type;
	uint32_t devid;
	uint32_t nr_queues;
	char     label[32];
	struct pvio_stats_counters c;       /* summed over all its slots */
};

struct pvio_stats_workerinfo {
	uint32_t tid;
	char     name[16];
	uint64_t cpu_ns;                    /* user + system; 0 if gone */
	uint64_t wakeups, rounds;
};

struct pvio_stats_snap {
	uint32_t pid, type, caps;
	char     prog[32];
	unsigned ndevs, nworkers;
	struct pvio_stats_devinfo *devs;
	/* The file's worker records; if it has none, every thread of the
	 * process (name from /proc, no counters). */
	struct pvio_stats_workerinfo *workers;
};

/* Copy one file's live records. -ENOENT, -ESRCH (its process is gone),
 * -EINVAL (not a stats file or inconsistent: a reader trusts nothing in it),
 * -ENOMEM. */
int pvio_stats_snap_read(const char *path, struct pvio_stats_snap *out);
void pvio_stats_snap_free(struct pvio_stats_snap *s);
/* Every live backend's file in dir (sorted by path). *n may be 0. */
int pvio_stats_scan(const char *dir, struct pvio_stats_snap **out, unsigned *n);
void pvio_stats_scan_free(struct pvio_stats_snap *v, unsigned n);
/* CPU time (user + system) of a thread: 0 or -errno. */
int pvio_stats_thread_cpu(uint32_t pid, uint32_t tid, uint64_t *ns);

#endif /* PVIO_BACKEND_STATS_H */
