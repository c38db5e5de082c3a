/* SPDX-License-Identifier: MIT */
/*
 * fio-pvio: a fio ioengine that drives a pvio PV disk through blkfront,
 * from inside a guest:
 *
 *   pvio run --domain G -- fio --thread --ioengine=external:PATH/fio-pvio.so \
 *        --filename=xvda --rw=randread --bs=4k --iodepth=32 ...
 *
 * Mapping onto blkfront's asynchronous API (frontend/blkfront.h):
 *   queue      fills the io_u's pvio_blkfront_req and keeps it on the job's
 *              pending list (no system call)
 *   commit     pvio_blkfront_submit of the whole pending batch: one ring
 *              push, one notification (what the ring has no room for stays
 *              pending and goes with the next commit or reap)
 *   getevents  pvio_blkfront_reap on the job's queue (blkfront's adaptive
 *              polling, then the event channel)
 *   event      the io_u of the i-th reaped request
 * READ/WRITE -> blkif READ/WRITE (zero copy: fio's buffers are allocated in
 * guest memory through the iomem hooks); trim -> DISCARD; fsync, fdatasync
 * and sync_file_range -> FLUSH (a no-op when the backend has no write cache
 * to flush: it advertises neither flush nor barrier). direct=0/1 behave
 * alike: a guest has no page cache in between; whether the backend caches
 * is the backend's setting.
 *
 * Jobs and queues: fio's jobs must be threads (thread=1): every job of the
 * guest shares this process's one hypervisor connection and one blkfront
 * per disk. Each job takes the least used of the disk's queues, so numjobs
 * up to the number of queues gives one queue per job. Jobs sharing a queue
 * reap one at a time and hand each other's completions over (a mailbox
 * per job, a condition variable per queue).
 *
 * Errors: a bad filename, a disk that does not exist or does not connect
 * fail the job at setup with a message naming the disk; a write or trim
 * on a read-only disk completes with EPERM (as Linux's block layer
 * answers), a request past the end of the disk with EINVAL, a device that
 * died (no backend within pvio_timeout_ms) with ENODEV. Nothing waits
 * forever: every wait is bounded and every accepted request completes.
 *
 * Built against the headers of the fio that loads it (scripts/fetch-fio),
 * as fio's structures depend on its configure results.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fio.h"
#include "optgroup.h"

#include "frontend/blkfront.h"
#include "hv/hv.h"
#include "tools/toolstack.h"

#define PV "fio-pvio"
/* A blocking reap is cut into slices this long (ms): the job re-checks its
 * mailbox, its pending requests and fio's deadline between slices. */
#define PV_WAIT_SLICE_MS 1000
/* While requests wait for the ring (a reconnection), retry this often. */
#define PV_RETRY_MS      10

/* ------------------------------------------------------------ options */

struct pv_opts {
	void *pad;                   /* fio: an option's offset must not be 0 */
	unsigned int queues;
	unsigned int timeout_ms;
	unsigned int poll_us;
	unsigned int verbose;
};

static struct fio_option options[] = {
	{
		.name     = "pvio_queues",
		.lname    = "pvio queues",
		.type     = FIO_OPT_INT,
		.off1     = offsetof(struct pv_opts, queues),
		.help     = "Queues to negotiate per disk (0: min(backend, CPUs); "
			    "the first job to open the disk decides)",
		.def      = "0",
		.minval   = 0,
		.maxval   = PVIO_BLKFRONT_MAX_QUEUES,
		.category = FIO_OPT_C_ENGINE,
		.group    = FIO_OPT_G_INVALID,
	},
	{
		.name     = "pvio_timeout_ms",
		.lname    = "pvio timeout",
		.type     = FIO_OPT_INT,
		.off1     = offsetof(struct pv_opts, timeout_ms),
		.help     = "Handshake and reconnection timeout in ms",
		.def      = "10000",
		.minval   = 1,
		.maxval   = 3600000,
		.category = FIO_OPT_C_ENGINE,
		.group    = FIO_OPT_G_INVALID,
	},
	{
		.name     = "pvio_poll_us",
		.lname    = "pvio poll",
		.type     = FIO_OPT_INT,
		.off1     = offsetof(struct pv_opts, poll_us),
		.help     = "Spin this long for a response before sleeping (0: always sleep)",
		.def      = "50",
		.minval   = 0,
		.maxval   = 1000000,
		.category = FIO_OPT_C_ENGINE,
		.group    = FIO_OPT_G_INVALID,
	},
	{
		.name     = "pvio_verbose",
		.lname    = "pvio verbose",
		.type     = FIO_OPT_BOOL,
		.off1     = offsetof(struct pv_opts, verbose),
		.help     = "Print each job's queue and the disk's counters at close",
		.def      = "0",
		.category = FIO_OPT_C_ENGINE,
		.group    = FIO_OPT_G_INVALID,
	},
	{
		.name = NULL,
	},
};

/* ------------------------------------------------------------ devices */

/* One open disk, shared by the jobs that use it. */
struct pv_dev {
	struct pv_dev *next;
	uint32_t vdev;
	char name[64];
	struct pvio_blkfront *f;
	struct pvio_blkfront_info info;
	unsigned refs;
	struct pv_qs {
		pthread_mutex_t lock;    /* reaping, the mailboxes of its jobs */
		pthread_cond_t  cond;    /* a reap finished: mailboxes changed */
		bool     reaping;        /* a job is in pvio_blkfront_reap */
		unsigned users;          /* jobs on the queue (reg_lock) */
	} qs[PVIO_BLKFRONT_MAX_QUEUES];
	bool verbose;
	bool warned_ro;
};

struct pv_job;

/* The engine data of an io_u: its blkfront request and its job. */
struct pv_req {
	struct pvio_blkfront_req r;  /* first: reap hands back &r */
	struct pv_job *job;
};

struct pv_job {
	struct pv_dev *dev;
	unsigned q;
	bool has_queue;
	unsigned depth;

	struct pvio_blkfront_req **pend;   /* queued, not accepted by blkfront yet */
	unsigned npend;
	struct pvio_blkfront_req **reaped; /* reap's output */
	struct io_u **ev;                  /* this getevents' events */
	struct pvio_blkfront_req **failed; /* refused at submit: reported as events */
	unsigned nfailed;

	/* Completions of ours that another job on the queue reaped (under
	 * the queue's qs.lock). */
	struct io_u **mbox;
	unsigned nmbox;

	bool warned;                       /* refused() said why once */

	void *mem;                         /* fio's I/O buffers, in guest memory */
	size_t mem_len;
};

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pvio_hv *reg_hv;
static unsigned reg_hv_refs;
static struct pv_dev *reg_devs;

static int hv_get(void)
{
	int r;

	if (reg_hv) {
		reg_hv_refs++;
		return 0;
	}
	r = pvio_hv_open_env(&reg_hv);
	if (r < 0) {
		log_err(PV ": no hypervisor connection (%s): run fio as a guest: "
			"pvio run --domain NAME -- fio --ioengine=external:.../fio-pvio.so ...\n",
			strerror(-r));
		reg_hv = NULL;
		return r;
	}
	reg_hv_refs = 1;
	return 0;
}

static void hv_put(void)
{
	if (reg_hv_refs && --reg_hv_refs == 0) {
		pvio_hv_close(reg_hv);
		reg_hv = NULL;
	}
}

/* The disk named by fio's filename, opened on first use. Under reg_lock. */
static int dev_get(const char *name, const struct pv_opts *o, struct pv_dev **out)
{
	struct pvio_blkfront_opts fo;
	struct pv_dev *d;
	uint32_t vdev;
	int r;

	if (pvio_vdev_to_devid(name, &vdev) < 0) {
		log_err(PV ": filename '%s' is not a PV disk name (xvda, xvdb, ..., or a "
			"device number)\n", name);
		return -EINVAL;
	}
	for (d = reg_devs; d; d = d->next) {
		if (d->vdev == vdev) {
			d->refs++;
			*out = d;
			return 0;
		}
	}
	r = hv_get();
	if (r < 0)
		return r;
	d = calloc(1, sizeof(*d));
	if (!d) {
		hv_put();
		return -ENOMEM;
	}
	snprintf(d->name, sizeof(d->name), "%s", name);
	d->vdev = vdev;
	pvio_blkfront_opts_default(&fo);
	fo.max_queues = o->queues;
	fo.timeout_ms = o->timeout_ms;
	fo.poll_us = o->poll_us;
	r = pvio_blkfront_open(reg_hv, vdev, &fo, &d->f);
	if (r < 0) {
		if (r == -ENOENT)
			log_err(PV ": %s: no such disk in this domain (attach it with "
				"pvio block-attach)\n", name);
		else if (r == -ETIMEDOUT)
			log_err(PV ": %s: the backend did not connect within %u ms (is "
				"pvio-blkback running?)\n", name, o->timeout_ms);
		else
			log_err(PV ": %s: cannot open the disk: %s\n", name, strerror(-r));
		free(d);
		hv_put();
		return r;
	}
	pvio_blkfront_get_info(d->f, &d->info);
	for (unsigned i = 0; i < PVIO_BLKFRONT_MAX_QUEUES; i++) {
		pthread_condattr_t ca;

		pthread_mutex_init(&d->qs[i].lock, NULL);
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&d->qs[i].cond, &ca);
		pthread_condattr_destroy(&ca);
	}
	d->verbose = o->verbose;
	d->refs = 1;
	d->next = reg_devs;
	reg_devs = d;
	if (d->verbose)
		log_info(PV ": %s: %" PRIu64 " bytes, %u-byte sectors, %u queue(s), ring order %u, "
			 "%u segments per request%s%s%s%s\n", name, d->info.size_bytes,
			 d->info.sector_size, d->info.nr_queues, d->info.ring_order,
			 d->info.max_segs, d->info.readonly ? ", read-only" : "",
			 d->info.persistent ? ", persistent grants" : "",
			 d->info.flush || d->info.barrier ? ", flush" : "",
			 d->info.discard ? ", discard" : "");
	*out = d;
	return 0;
}

/* Under reg_lock. */
static void dev_put(struct pv_dev *d)
{
	struct pv_dev **pp;

	if (!d || --d->refs)
		return;
	for (pp = &reg_devs; *pp; pp = &(*pp)->next) {
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	}
	if (d->verbose) {
		struct pvio_blkfront_stats st;

		if (pvio_blkfront_get_stats(d->f, &st) == 0)
			log_info(PV ": %s: %" PRIu64 " ring requests (%" PRIu64 " indirect), "
				 "%" PRIu64 " errors, %" PRIu64 " reconnects, %" PRIu64
				 " reissued, %" PRIu64 " notifies, %" PRIu64 " event sleeps, %"
				 PRIu64 " timer sleeps%s\n", d->name, st.requests, st.indirect,
				 st.errors, st.reconnects, st.reissued, st.notifies,
				 st.event_sleeps, st.timer_sleeps, st.disabled ? ", disabled" : "");
	}
	pvio_blkfront_close(d->f);
	for (unsigned i = 0; i < PVIO_BLKFRONT_MAX_QUEUES; i++) {
		pthread_mutex_destroy(&d->qs[i].lock);
		pthread_cond_destroy(&d->qs[i].cond);
	}
	free(d);
	hv_put();
}

/* ------------------------------------------------------------ jobs */

static struct pv_job *job_of(struct thread_data *td)
{
	struct pv_job *j = td->io_ops_data;

	if (j)
		return j;
	j = calloc(1, sizeof(*j));
	if (!j)
		return NULL;
	td->io_ops_data = j;
	return j;
}

/* Open the job's disk and give fio its size (setup or init, whichever
 * comes first: setup runs in fio's main thread before the jobs start,
 * unless create_serialize=0). */
static int job_attach_dev(struct thread_data *td, struct pv_job *j)
{
	struct pv_opts *o = td->eo;
	struct fio_file *f;
	uint32_t ss;
	int r;

	if (j->dev)
		return 0;
	if (!td->o.use_thread) {
		log_err(PV ": needs thread=1 (--thread): the jobs of a guest share its one "
			"hypervisor connection\n");
		td_verror(td, EINVAL, "pvio thread");
		return 1;
	}
	if (td->files_index != 1) {
		log_err(PV ": one disk per job, named by filename= (got %u files)\n",
			td->files_index);
		td_verror(td, EINVAL, "pvio filename");
		return 1;
	}
	f = td->files[0];
	pthread_mutex_lock(&reg_lock);
	r = dev_get(f->file_name, o, &j->dev);
	pthread_mutex_unlock(&reg_lock);
	if (r < 0) {
		td_verror(td, -r, "pvio open");
		return 1;
	}
	ss = j->dev->info.sector_size;
	for (int d = DDIR_READ; d < DDIR_RWDIR_CNT; d++) {
		if (td->o.min_bs[d] % ss || td->o.max_bs[d] % ss || td->o.bs_unaligned) {
			log_err(PV ": %s has %u-byte sectors: block sizes must be multiples "
				"of it\n", f->file_name, ss);
			td_verror(td, EINVAL, "pvio bs");
			pthread_mutex_lock(&reg_lock);
			dev_put(j->dev);
			pthread_mutex_unlock(&reg_lock);
			j->dev = NULL;
			return 1;
		}
	}
	f->real_file_size = j->dev->info.size_bytes;
	return 0;
}

static int pv_setup(struct thread_data *td)
{
	struct pv_job *j = job_of(td);

	if (!j) {
		td_verror(td, ENOMEM, "pvio setup");
		return 1;
	}
	return job_attach_dev(td, j);
}

static int pv_init(struct thread_data *td)
{
	struct pv_job *j = job_of(td);
	struct pv_dev *d;
	unsigned best;

	if (!j) {
		td_verror(td, ENOMEM, "pvio init");
		return 1;
	}
	if (job_attach_dev(td, j))
		return 1;
	d = j->dev;
	j->depth = td->o.iodepth ? td->o.iodepth : 1;
	j->pend = calloc(j->depth, sizeof(*j->pend));
	j->reaped = calloc(j->depth, sizeof(*j->reaped));
	j->ev = calloc(j->depth, sizeof(*j->ev));
	j->failed = calloc(j->depth, sizeof(*j->failed));
	j->mbox = calloc(j->depth, sizeof(*j->mbox));
	if (!j->pend || !j->reaped || !j->ev || !j->failed || !j->mbox) {
		td_verror(td, ENOMEM, "pvio init");
		return 1;
	}

	/* The least used queue. */
	pthread_mutex_lock(&reg_lock);
	best = 0;
	for (unsigned i = 1; i < d->info.nr_queues; i++)
		if (d->qs[i].users < d->qs[best].users)
			best = i;
	d->qs[best].users++;
	j->q = best;
	j->has_queue = true;
	pthread_mutex_unlock(&reg_lock);
	if (d->verbose)
		log_info(PV ": %s: job %s uses queue %u of %u\n", d->name, td->o.name,
			 best, d->info.nr_queues);
	return 0;
}

static void pv_cleanup(struct thread_data *td)
{
	struct pv_job *j = td->io_ops_data;

	if (!j)
		return;
	pthread_mutex_lock(&reg_lock);
	if (j->has_queue)
		j->dev->qs[j->q].users--;
	dev_put(j->dev);
	pthread_mutex_unlock(&reg_lock);
	free(j->pend);
	free(j->reaped);
	free(j->ev);
	free(j->failed);
	free(j->mbox);
	free(j);
	td->io_ops_data = NULL;
}

/* ------------------------------------------------------------ memory */

static int pv_iomem_alloc(struct thread_data *td, size_t total)
{
	struct pv_job *j = td->io_ops_data;

	if (!j || !j->dev)
		return 1;
	td->orig_buffer = pvio_blkfront_buf_alloc(j->dev->f, total);
	if (!td->orig_buffer) {
		log_err(PV ": cannot allocate %zu bytes of guest memory for the I/O buffers "
			"(give the domain more memory=, or lower iodepth or bs)\n", total);
		return 1;
	}
	j->mem = td->orig_buffer;
	j->mem_len = total;
	return 0;
}

static void pv_iomem_free(struct thread_data *td)
{
	struct pv_job *j = td->io_ops_data;

	if (j && j->mem) {
		pvio_blkfront_buf_free(j->dev->f, j->mem, j->mem_len);
		j->mem = NULL;
	}
	td->orig_buffer = NULL;
}

static int pv_io_u_init(struct thread_data *td, struct io_u *io_u)
{
	struct pv_req *pr = calloc(1, sizeof(*pr));

	if (!pr)
		return 1;
	pr->job = td->io_ops_data;
	pr->r.user = io_u;
	io_u->engine_data = pr;
	return 0;
}

static void pv_io_u_free(struct thread_data *td, struct io_u *io_u)
{
	(void)td;
	free(io_u->engine_data);
	io_u->engine_data = NULL;
}

/* ------------------------------------------------------------ data path */

static enum fio_q_status pv_queue(struct thread_data *td, struct io_u *io_u)
{
	struct pv_job *j = td->io_ops_data;
	struct pv_dev *d = j->dev;
	struct pv_req *pr = io_u->engine_data;
	struct pvio_blkfront_req *r = &pr->r;

	switch (io_u->ddir) {
	case DDIR_READ:
	case DDIR_WRITE:
		r->op = io_u->ddir == DDIR_READ ? PVIO_BLKFRONT_READ : PVIO_BLKFRONT_WRITE;
		r->buf = io_u->xfer_buf;
		break;
	case DDIR_TRIM:
		r->op = PVIO_BLKFRONT_DISCARD;
		r->buf = NULL;
		break;
	case DDIR_SYNC:
	case DDIR_DATASYNC:
	case DDIR_SYNC_FILE_RANGE:
		if (!d->info.flush && !d->info.barrier) {
			/* No write cache to flush: writes are durable when
			 * they complete (blkif.h: no feature-flush-cache and no
			 * feature-barrier). */
			io_u->error = 0;
			return FIO_Q_COMPLETED;
		}
		r->op = PVIO_BLKFRONT_FLUSH;
		r->buf = NULL;
		r->offset = 0;
		r->len = 0;
		goto queue;
	default:
		io_u->error = EINVAL;
		return FIO_Q_COMPLETED;
	}
	if (r->op != PVIO_BLKFRONT_READ && d->info.readonly) {
		if (!__atomic_exchange_n(&d->warned_ro, true, __ATOMIC_RELAXED))
			log_err(PV ": %s is read-only: writes and trims fail with EPERM\n",
				d->name);
		io_u->error = EPERM;
		return FIO_Q_COMPLETED;
	}
	r->offset = io_u->offset;
	r->len = io_u->xfer_buflen;
queue:
	if (j->npend == j->depth)
		return FIO_Q_BUSY;
	j->pend[j->npend++] = r;
	return FIO_Q_QUEUED;
}

/* Say once per job why blkfront refused a request (fio then reports the
 * io_u's errno with its offset). */
static void refused(struct pv_job *j, const struct pvio_blkfront_req *r, int err)
{
	static const char *const ops[] = { "read", "write", "flush", "trim" };
	struct pvio_blkfront_info info;
	const char *op = r->op < 4 ? ops[r->op] : "request";

	if (j->warned)
		return;
	j->warned = true;
	if (err == -EINVAL && pvio_blkfront_get_info(j->dev->f, &info) == 0 &&
	    r->op != PVIO_BLKFRONT_FLUSH &&
	    (r->offset > info.size_bytes || r->len > info.size_bytes - r->offset)) {
		log_err(PV ": %s: %s of %" PRIu64 " bytes at offset %" PRIu64 " is past the end "
			"of the disk (%" PRIu64 " bytes)\n", j->dev->name, op, r->len, r->offset,
			info.size_bytes);
		return;
	}
	log_err(PV ": %s: %s of %" PRIu64 " bytes at offset %" PRIu64 " refused: %s\n",
		j->dev->name, op, r->len, r->offset, strerror(-err));
}

/* Hand the pending requests to blkfront; what the ring cannot take now
 * stays pending, what it refuses becomes a failed event. */
static void submit_pending(struct pv_job *j)
{
	unsigned k = 0;

	while (k < j->npend) {
		int n = pvio_blkfront_submit(j->dev->f, j->q, j->pend + k, j->npend - k);

		if (n < 0) {
			refused(j, j->pend[k], n);
			j->pend[k]->result = n;
			j->failed[j->nfailed++] = j->pend[k];
			k++;
			continue;
		}
		if (n == 0)
			break;
		k += (unsigned)n;
	}
	if (k && k < j->npend)
		memmove(j->pend, j->pend + k, (j->npend - k) * sizeof(*j->pend));
	j->npend -= k;
}

static int pv_commit(struct thread_data *td)
{
	struct pv_job *j = td->io_ops_data;

	if (j->npend)
		submit_pending(j);
	return 0;
}

/* The io_u of a completed request, with fio's view of the result. */
static struct io_u *finish(struct pvio_blkfront_req *r)
{
	struct io_u *io_u = r->user;
	int e = r->result < 0 ? -r->result : 0;

	if (e == EROFS)
		e = EPERM;
	io_u->error = e;
	io_u->resid = e ? io_u->xfer_buflen : 0;
	return io_u;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sleep on qs->cond until ms from now at most. Under qs->lock. */
static void qs_wait(struct pv_qs *qs, long long ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_cond_timedwait(&qs->cond, &qs->lock, &ts);
}

/*
 * Reap, one job of the queue at a time: the job that reaps hands the
 * others' completions to their mailboxes and wakes them; the others wait
 * for it (or take its place when it is done). A queue with one job pays
 * an uncontended lock per call and nothing else; its reap is blkfront's
 * (adaptive polling, then the event channel).
 */
static int pv_getevents(struct thread_data *td, unsigned int min, unsigned int max,
			const struct timespec *t)
{
	struct pv_job *j = td->io_ops_data;
	struct pv_dev *d = j->dev;
	struct pv_qs *qs = &d->qs[j->q];
	long long deadline = -1;
	unsigned nev = 0;
	bool polled = false;
	int err = 0;

	if (max > j->depth)
		max = j->depth;
	if (min > max)
		min = max;
	if (t)
		deadline = now_ms() + (long long)t->tv_sec * 1000 + t->tv_nsec / 1000000;
	if (j->npend)
		submit_pending(j);
	while (j->nfailed && nev < max)
		j->ev[nev++] = finish(j->failed[--j->nfailed]);
	pthread_mutex_lock(&qs->lock);
	for (;;) {
		long long left = deadline < 0 ? PV_WAIT_SLICE_MS : deadline - now_ms();
		long long slice = left < 0 ? 0 : left > PV_WAIT_SLICE_MS ? PV_WAIT_SLICE_MS : left;
		int n, wait;

		while (j->nmbox && nev < max)
			j->ev[nev++] = j->mbox[--j->nmbox];
		if (nev == max || (nev >= min && polled) || (polled && left <= 0))
			break;
		if (qs->reaping) {
			if (nev >= min || left <= 0)
				break;
			qs_wait(qs, slice);
			continue;
		}
		qs->reaping = true;
		pthread_mutex_unlock(&qs->lock);
		if (j->npend)
			submit_pending(j);
		wait = nev >= min ? 0 : (int)slice;
		if (j->npend && wait > PV_RETRY_MS)
			wait = PV_RETRY_MS;   /* the ring is full or reconnecting */
		n = pvio_blkfront_reap(d->f, j->q, j->reaped, max - nev, wait);
		pthread_mutex_lock(&qs->lock);
		qs->reaping = false;
		polled = true;
		for (int i = 0; i < n; i++) {
			struct pv_req *pr = (struct pv_req *)j->reaped[i];
			struct io_u *io_u = finish(&pr->r);

			if (pr->job == j)
				j->ev[nev++] = io_u;
			else
				pr->job->mbox[pr->job->nmbox++] = io_u;
		}
		/* Without waiters this is a few atomics, no system call. */
		pthread_cond_broadcast(&qs->cond);
		if (n < 0) {
			err = n;
			break;
		}
	}
	pthread_mutex_unlock(&qs->lock);
	if (err && !nev) {
		td_verror(td, -err, "pvio_blkfront_reap");
		return err;
	}
	return (int)nev;
}

static struct io_u *pv_event(struct thread_data *td, int event)
{
	struct pv_job *j = td->io_ops_data;

	return j->ev[event];
}

/* ------------------------------------------------------------ files */

static int pv_open_file(struct thread_data *td, struct fio_file *f)
{
	(void)td;
	f->fd = -1;
	return 0;
}

static int pv_close_file(struct thread_data *td, struct fio_file *f)
{
	(void)td;
	(void)f;
	return 0;
}

static int pv_invalidate(struct thread_data *td, struct fio_file *f)
{
	(void)td;
	(void)f;
	return 0;   /* no guest page cache */
}

__attribute__((visibility("default"))) struct ioengine_ops ioengine = {
	.name               = "pvio",
	.version            = FIO_IOOPS_VERSION,
	.flags              = FIO_DISKLESSIO | FIO_NOEXTEND | FIO_NODISKUTIL | FIO_NO_OFFLOAD,
	.setup              = pv_setup,
	.init               = pv_init,
	.cleanup            = pv_cleanup,
	.queue              = pv_queue,
	.commit             = pv_commit,
	.getevents          = pv_getevents,
	.event              = pv_event,
	.open_file          = pv_open_file,
	.close_file         = pv_close_file,
	.invalidate         = pv_invalidate,
	.iomem_alloc        = pv_iomem_alloc,
	.iomem_free         = pv_iomem_free,
	.io_u_init          = pv_io_u_init,
	.io_u_free          = pv_io_u_free,
	.options            = options,
	.option_struct_size = sizeof(struct pv_opts),
};
