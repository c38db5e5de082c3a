/* SPDX-License-Identifier: MIT */
/*
 * pvio-bench ring: single-producer / single-consumer throughput of pvio's
 * shared ring (ring/ring.h) against DPDK's rte_ring in SP/SC mode.
 *
 * Two threads, producer pinned to CPU 0 and consumer to CPU 1, both
 * busy-polling (no notifications). Cases: batch 1 and 32 x message size
 * 64 and 112 bytes (a blkif request is 112).
 *
 * What a "message" is on each side:
 *  - rte_ring: one element of esize bytes copied in by the producer
 *    (rte_ring_sp_enqueue_burst_elem) and copied out by the consumer
 *    (rte_ring_sc_dequeue_burst_elem).
 *  - pvio: Xen's protocol frees a slot only when the backend has answered
 *    the request in that slot and the frontend has consumed the answer. So a
 *    pvio message is a round trip: the frontend (producer thread) copies a
 *    request into a slot and pushes it; the backend (consumer thread) copies
 *    it out (pvio_ring_back_pending + copy_request), writes a 16-byte
 *    response into the same slot and pushes it; the frontend copies the
 *    response out, which recycles the slot. Both sides busy-poll, so they
 *    publish with pvio_ring_publish_requests/_responses (store-release, no
 *    notify decision, no full fence), as a polling driver does.
 * Both consumers check a sequence number in every message (and the pvio
 * frontend the id in every response), so nothing is optimised away.
 *
 * Capacity: the pvio ring has 2^order pages (default order 4, 16 pages,
 * Xen's largest blkif ring); both message sizes give 512 slots there
 * (a power of two: 65472/64 = 1023 -> 512, 65472/112 = 584 -> 512). The
 * rte_ring gets count = nr_ents (512), i.e. 511 usable elements.
 *
 * rte_ring runs without the EAL: rte_ring_get_memsize_elem + rte_ring_init
 * on our own memory (what rte_ring_create_elem does after its memzone
 * reserve), and the elem burst calls are inline.
 */
#include "bench/bench_common.h"
#include "ring/ring.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#ifdef PVIO_HAVE_DPDK
#include <rte_ring.h>
#include <rte_ring_elem.h>
#endif

/* ------------------------------------------------------------- messages */

struct msg64  { uint64_t seq; uint8_t payload[56]; };
struct msg112 { uint64_t seq; uint8_t payload[104]; };
/* blkif_response-sized answer: id, operation, status. */
struct rsp16  { uint64_t id; uint8_t op; uint8_t pad; int16_t status; uint32_t pad2; };
_Static_assert(sizeof(struct msg64) == 64, "msg64");
_Static_assert(sizeof(struct msg112) == 112, "msg112");
_Static_assert(sizeof(struct rsp16) == 16, "rsp16");

PVIO_RING_DEFINE(b64, struct msg64, struct rsp16);
PVIO_RING_DEFINE(b112, struct msg112, struct rsp16);

/* ---------------------------------------------------------------- a run */

enum side { SIDE_RTE, SIDE_PVIO };
static const char *const side_name[] = { "rte_ring", "pvio" };

struct run {
	/* parameters */
	enum side side;
	unsigned  msize;          /* 64 or 112 */
	unsigned  batch;
	uint64_t  duration_ns;
	void     *mem;            /* ring memory */
	size_t    mem_bytes;
	uint32_t  slots;
	int       cpu_prod, cpu_cons;

	/* shared between the two threads */
	pthread_barrier_t bar;
	uint64_t  t_start;                     /* written by the producer */
	uint64_t  total __attribute__((aligned(64)));  /* messages produced */
	uint32_t  done;                        /* producer finished: total valid */
	uint32_t  abort;                       /* someone saw an error */

	/* results */
	uint64_t  consumed;
	uint64_t  t_end;
	uint64_t  cpu_ns[2];                   /* producer, consumer */
	uint64_t  wall_ns[2];
	const char *error;
};

static void run_fail(struct run *r, const char *why)
{
	if (!r->error)
		r->error = why;
	/* Pairs with the relaxed polls of abort in both loops (a flag). */
	pvio_store_release(&r->abort, 1);
}

/* The producer decides when to stop: it reads the clock every STOP_EVERY
 * loop iterations, then publishes how many messages it produced. */
#define STOP_EVERY 256

static inline bool prod_should_stop(struct run *r, unsigned *iter, uint64_t t_end)
{
	if (++*iter % STOP_EVERY)
		return false;
	return bench_now_ns() >= t_end || pvio_load_relaxed(&r->abort);
}

static void prod_finish(struct run *r, uint64_t total)
{
	r->total = total;
	/* Release: total is visible before done. Pairs with the acquire of done
	 * in the consumer loops. */
	pvio_store_release(&r->done, 1);
}

/* The consumer stops once it has consumed everything the producer made. */
static inline bool cons_should_stop(struct run *r, uint64_t consumed)
{
	/* Acquire: pairs with the release in prod_finish(). */
	if (pvio_load_acquire(&r->done) && consumed == r->total)
		return true;
	return pvio_load_relaxed(&r->abort) != 0;
}

/* ------------------------------------------------------------ pvio loops */

/*
 * Frontend: reap every response that is there (checking its id), then fill
 * up to `batch` free slots with requests and push them.
 * Backend: take up to `batch` pending requests, copy each out, check it,
 * answer it in place, then push the answers.
 */
#define PVIO_LOOPS(tag, req_t)                                                   \
static void pvio_prod_##tag(struct run *r)                                      \
{                                                                               \
	struct pvio_ring_front f;                                               \
	req_t msg;                                                              \
	struct rsp16 rsp;                                                       \
	uint64_t next = 0, rsp_expect = 0, t_end;                               \
	unsigned iter = 0, batch = r->batch;                                    \
                                                                                \
	memset(&msg, 0xa5, sizeof(msg));                                        \
	pthread_barrier_wait(&r->bar);                                          \
	if (tag##_front_attach(&f, r->mem, r->mem_bytes) < 0) {                 \
		run_fail(r, "front attach");                                    \
		goto out;                                                       \
	}                                                                       \
	r->t_start = bench_now_ns();                                            \
	t_end = r->t_start + r->duration_ns;                                    \
	while (!prod_should_stop(r, &iter, t_end)) {                            \
		int n = pvio_ring_front_pending(&f);                            \
		uint32_t k, free_;                                              \
                                                                                \
		if (n < 0) {                                                    \
			run_fail(r, "front: protocol error");                   \
			break;                                                  \
		}                                                               \
		for (int i = 0; i < n; i++) {                                   \
			tag##_copy_response(&f, &rsp);                          \
			if (rsp.id != rsp_expect++) {                           \
				run_fail(r, "front: response out of order");    \
				goto out;                                       \
			}                                                       \
		}                                                               \
		free_ = pvio_ring_free_requests(&f);                            \
		k = free_ < batch ? free_ : batch;                              \
		if (k == 0) {                                                   \
			pvio_cpu_relax();                                       \
			continue;                                               \
		}                                                               \
		for (uint32_t i = 0; i < k; i++) {                              \
			msg.seq = next + i;                                     \
			*tag##_req_slot(&f, i) = msg;                           \
		}                                                               \
		pvio_ring_produce_requests(&f, k);                              \
		pvio_ring_publish_requests(&f); /* polling: no notify */        \
		next += k;                                                      \
	}                                                                       \
out:                                                                            \
	prod_finish(r, next);                                                   \
}                                                                               \
                                                                                \
static void pvio_cons_##tag(struct run *r)                                      \
{                                                                               \
	struct pvio_ring_back b;                                                \
	req_t req;                                                              \
	struct rsp16 rsp;                                                       \
	uint64_t expect = 0;                                                    \
	unsigned batch = r->batch;                                              \
                                                                                \
	memset(&rsp, 0, sizeof(rsp));                                           \
	pthread_barrier_wait(&r->bar);                                          \
	if (tag##_back_attach(&b, r->mem, r->mem_bytes) < 0) {                  \
		run_fail(r, "back attach");                                     \
		goto out;                                                       \
	}                                                                       \
	for (;;) {                                                              \
		int n = pvio_ring_back_pending(&b);                             \
		unsigned k;                                                     \
                                                                                \
		if (n < 0) {                                                    \
			run_fail(r, "back: protocol error");                    \
			break;                                                  \
		}                                                               \
		if (n == 0) {                                                   \
			if (cons_should_stop(r, expect))                        \
				break;                                          \
			pvio_cpu_relax();                                       \
			continue;                                               \
		}                                                               \
		k = (unsigned)n < batch ? (unsigned)n : batch;                  \
		for (unsigned i = 0; i < k; i++) {                              \
			tag##_copy_request(&b, &req);                           \
			if (req.seq != expect) {                                \
				run_fail(r, "back: request out of order");      \
				goto out;                                       \
			}                                                       \
			expect++;                                               \
			rsp.id = req.seq;                                       \
			tag##_put_response(&b, &rsp);                           \
		}                                                               \
		pvio_ring_publish_responses(&b); /* polling: no notify */       \
	}                                                                       \
out:                                                                            \
	r->t_end = bench_now_ns();                                              \
	r->consumed = expect;                                                   \
}

PVIO_LOOPS(b64, struct msg64)
PVIO_LOOPS(b112, struct msg112)

/* --------------------------------------------------------- rte_ring loops */

#ifdef PVIO_HAVE_DPDK
#define MAX_BATCH 64

/* esize is a compile-time constant in each caller, as in real code. */
static inline __attribute__((always_inline)) void
rte_prod(struct run *r, unsigned esize)
{
	struct rte_ring *ring = r->mem;
	uint8_t buf[MAX_BATCH * 112] __attribute__((aligned(64)));
	uint64_t next = 0, t_end;
	unsigned iter = 0, batch = r->batch;

	memset(buf, 0xa5, sizeof(buf));
	pthread_barrier_wait(&r->bar);
	r->t_start = bench_now_ns();
	t_end = r->t_start + r->duration_ns;
	while (!prod_should_stop(r, &iter, t_end)) {
		unsigned n;

		for (unsigned i = 0; i < batch; i++) {
			uint64_t seq = next + i;

			memcpy(buf + (size_t)i * esize, &seq, sizeof(seq));
		}
		n = rte_ring_sp_enqueue_burst_elem(ring, buf, esize, batch, NULL);
		if (n == 0)
			rte_pause();
		next += n;
	}
	prod_finish(r, next);
}

static inline __attribute__((always_inline)) void
rte_cons(struct run *r, unsigned esize)
{
	struct rte_ring *ring = r->mem;
	uint8_t buf[MAX_BATCH * 112] __attribute__((aligned(64)));
	uint64_t expect = 0;
	unsigned batch = r->batch;

	pthread_barrier_wait(&r->bar);
	for (;;) {
		unsigned n = rte_ring_sc_dequeue_burst_elem(ring, buf, esize, batch, NULL);

		if (n == 0) {
			if (cons_should_stop(r, expect))
				break;
			rte_pause();
			continue;
		}
		for (unsigned i = 0; i < n; i++) {
			uint64_t seq;

			memcpy(&seq, buf + (size_t)i * esize, sizeof(seq));
			if (seq != expect) {
				run_fail(r, "rte_ring consumer: out of order");
				goto out;
			}
			expect++;
		}
	}
out:
	r->t_end = bench_now_ns();
	r->consumed = expect;
}

static void rte_prod_64(struct run *r)  { rte_prod(r, 64); }
static void rte_prod_112(struct run *r) { rte_prod(r, 112); }
static void rte_cons_64(struct run *r)  { rte_cons(r, 64); }
static void rte_cons_112(struct run *r) { rte_cons(r, 112); }
#endif

/* --------------------------------------------------------------- threads */

struct role {
	struct run *r;
	int idx;                  /* 0 producer, 1 consumer */
	void (*fn)(struct run *);
};

static void *role_main(void *arg)
{
	struct role *ro = arg;
	struct run *r = ro->r;
	uint64_t c0, w0;

	/* Pinning failure is reported by the CPU-time check, not fatal. */
	(void)bench_pin_self(ro->idx == 0 ? r->cpu_prod : r->cpu_cons);
	c0 = bench_thread_cpu_ns();
	w0 = bench_now_ns();
	ro->fn(r);
	r->cpu_ns[ro->idx] = bench_thread_cpu_ns() - c0;
	r->wall_ns[ro->idx] = bench_now_ns() - w0;
	return NULL;
}

/* Sets up the ring for one run and runs both threads. 0 or -errno. */
static int run_once(struct run *r)
{
	void (*prod)(struct run *) = NULL, (*cons)(struct run *) = NULL;
	struct role roles[2];
	pthread_t th[2];
	int rc = 0;

	r->t_start = r->t_end = r->total = r->consumed = 0;
	r->done = r->abort = 0;
	r->error = NULL;

	r->mem = mmap(NULL, r->mem_bytes, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (r->mem == MAP_FAILED)
		return -errno;

	if (r->side == SIDE_PVIO) {
		pvio_sring_init(r->mem);
		prod = r->msize == 64 ? pvio_prod_b64 : pvio_prod_b112;
		cons = r->msize == 64 ? pvio_cons_b64 : pvio_cons_b112;
	} else {
#ifdef PVIO_HAVE_DPDK
		if (rte_ring_init(r->mem, "pvio-bench", r->slots,
				  RING_F_SP_ENQ | RING_F_SC_DEQ) < 0) {
			rc = -EINVAL;
			goto out;
		}
		prod = r->msize == 64 ? rte_prod_64 : rte_prod_112;
		cons = r->msize == 64 ? rte_cons_64 : rte_cons_112;
#else
		rc = -ENOTSUP;
		goto out;
#endif
	}

	pthread_barrier_init(&r->bar, NULL, 2);
	roles[0] = (struct role){ r, 0, prod };
	roles[1] = (struct role){ r, 1, cons };
	if ((rc = pthread_create(&th[1], NULL, role_main, &roles[1])) != 0) {
		rc = -rc;
		goto out_bar;
	}
	if ((rc = pthread_create(&th[0], NULL, role_main, &roles[0])) != 0) {
		/* The consumer waits at the barrier: run a dummy producer. */
		rc = -rc;
		run_fail(r, "pthread_create");
		prod_finish(r, 0);
		pthread_barrier_wait(&r->bar);
		pthread_join(th[1], NULL);
		goto out_bar;
	}
	pthread_join(th[0], NULL);
	pthread_join(th[1], NULL);
out_bar:
	pthread_barrier_destroy(&r->bar);
out:
	munmap(r->mem, r->mem_bytes);
	r->mem = NULL;
	return rc;
}

/* ----------------------------------------------------------------- cases */

struct rep {
	double rate[2];            /* msg/s per side */
	double cpu[2][2];          /* [side][producer, consumer] CPU fraction */
	double c2c_ns;             /* cache-line round trip just before the pair */
	bool cpu_ok;               /* every thread got >= CPU_OK of a CPU */
	double idle_before;        /* machine idle fraction before the pair */
};

struct rcase {
	unsigned batch, msize;
	char name[32];
	struct rep *reps;
	int nreps;
	int discarded;             /* repetitions rerun for lack of CPU */
	int kept_low;              /* repetitions kept although short of CPU */
	double median[2];
	double p10[2], p90[2];
	double ratio_of_reps;      /* median of the per-repetition ratios */
	double c2c_median;
};

#define CPU_OK 0.95            /* DPDK-NOTES: discard runs below this */

struct cfg {
	unsigned order;
	int cpu_prod, cpu_cons;
	uint64_t duration_ns;
	bool have_rte;
	uint32_t slots;            /* pvio nr_ents, also the rte_ring count */
	size_t pvio_bytes, rte_bytes[2];   /* rte for 64, 112 */
};

static int one_side(const struct cfg *c, struct rcase *k, enum side s,
		    uint64_t duration, double *rate, double cpu[2])
{
	struct run r;
	int rc;

	memset(&r, 0, sizeof(r));
	r.side = s;
	r.msize = k->msize;
	r.batch = k->batch;
	r.duration_ns = duration;
	r.slots = c->slots;
	r.cpu_prod = c->cpu_prod;
	r.cpu_cons = c->cpu_cons;
	r.mem_bytes = s == SIDE_PVIO ? c->pvio_bytes : c->rte_bytes[k->msize == 112];
	rc = run_once(&r);
	if (rc < 0) {
		fprintf(stderr, "pvio-bench ring: %s %s: %s\n", side_name[s], k->name,
			strerror(-rc));
		return rc;
	}
	if (r.error) {
		fprintf(stderr, "pvio-bench ring: %s %s: %s\n", side_name[s], k->name,
			r.error);
		return -EPROTO;
	}
	*rate = r.t_end > r.t_start ? (double)r.consumed * 1e9 / (double)(r.t_end - r.t_start)
				    : 0;
	for (int i = 0; i < 2; i++)
		cpu[i] = r.wall_ns[i] ? (double)r.cpu_ns[i] / (double)r.wall_ns[i] : 0;
	return 0;
}

static void ring_usage(FILE *f)
{
	fprintf(f,
		"SPSC throughput of a pvio ring (request + response round trip per\n"
		"message, since Xen's protocol recycles a slot only through its response)\n"
		"against DPDK rte_ring SP/SC carrying the same messages; batch 1 and 32,\n"
		"64- and 112-byte messages, busy polling, producer and consumer pinned.\n"
		"\n"
		"Options:\n"
		"  --order N       pvio ring of 2^N pages (0..%d, default 4: 512 slots);\n"
		"                  rte_ring gets the same number of slots\n"
		"  --cpus P,C      producer and consumer CPUs (default 0,1)\n"
		"  --seconds S     length of each run (default 1, 0.2 with --quick)\n",
		PVIO_RING_MAX_ORDER);
}

static void write_table(FILE *f, const struct cfg *c, struct rcase *cs, int n,
			const char *machine, int reps, bool quick)
{
	fprintf(f, "pvio-bench ring: SPSC throughput, producer CPU %d, consumer CPU %d, "
		   "busy polling%s\n", c->cpu_prod, c->cpu_cons, quick ? " (--quick)" : "");
	fprintf(f, "machine: %s\n", machine);
	fprintf(f, "pvio ring order %u (%u slots); rte_ring count %u (%u usable); "
		   "%.2g s per run, median of %d\n\n",
		c->order, c->slots, c->slots, c->slots - 1,
		(double)c->duration_ns / 1e9, reps);
	fprintf(f, "%-16s | %15s | %11s | %5s\n", "case", "rte_ring Mmsg/s",
		"pvio Mmsg/s", "ratio");
	fprintf(f, "-----------------+-----------------+-------------+------\n");
	for (int i = 0; i < n; i++) {
		const struct rcase *k = &cs[i];
		char base[32], ratio[16];

		if (c->have_rte) {
			snprintf(base, sizeof(base), "%.2f", k->median[SIDE_RTE] / 1e6);
			snprintf(ratio, sizeof(ratio), "%.2f",
				 k->median[SIDE_PVIO] / k->median[SIDE_RTE]);
		} else {
			snprintf(base, sizeof(base), "n/a");
			snprintf(ratio, sizeof(ratio), "n/a");
		}
		fprintf(f, "%-16s | %15s | %11.2f | %5s\n", k->name, base,
			k->median[SIDE_PVIO] / 1e6, ratio);
	}
	fprintf(f, "\nratio = pvio / rte_ring. A pvio message is a request delivered and "
		   "its slot recycled\n(backend copies the request out and writes a "
		   "16-byte response; the frontend reads it);\nan rte_ring message is "
		   "one element enqueued and dequeued.\n");
	/* On a VM the host moves the vCPUs between runs, and the cache-line
	 * round trip (hence every rate) moves with it; a pair ran back to back,
	 * so its ratio is the steadier figure. */
	fprintf(f, "\nper repetition: pvio/rte_ring of each back-to-back pair, and the "
		   "core-to-core round trip before it\n");
	for (int i = 0; i < n; i++) {
		const struct rcase *k = &cs[i];

		fprintf(f, "%-16s", k->name);
		for (int r = 0; r < k->nreps && c->have_rte; r++)
			fprintf(f, " %4.2f", k->reps[r].rate[SIDE_PVIO] / k->reps[r].rate[SIDE_RTE]);
		if (c->have_rte)
			fprintf(f, " (median %.2f)", k->ratio_of_reps);
		fprintf(f, "  c2c ns:");
		for (int r = 0; r < k->nreps; r++)
			fprintf(f, " %.0f", k->reps[r].c2c_ns);
		fprintf(f, "\n");
	}
	for (int i = 0; i < n; i++) {
		if (cs[i].discarded)
			fprintf(f, "%s: %d repetition(s) rerun because a thread got < %.2f CPU\n",
				cs[i].name, cs[i].discarded, CPU_OK);
		if (cs[i].kept_low)
			fprintf(f, "%s: WARNING: %d repetition(s) kept with a thread < %.2f CPU "
				   "(machine busy): unreliable\n",
				cs[i].name, cs[i].kept_low, CPU_OK);
	}
}

static void write_json(FILE *f, const struct cfg *c, struct rcase *cs, int n,
		       const struct bench_opts *o)
{
	struct bench_json j;

	bench_json_init(&j, f);
	bench_json_obj_begin(&j, NULL);
	bench_json_str(&j, "benchmark", "ring");
	bench_json_machine(&j, o->repo);
	bench_json_obj_begin(&j, "params");
	bench_json_int(&j, "pvio_ring_order", c->order);
	bench_json_int(&j, "pvio_ring_slots", c->slots);
	bench_json_int(&j, "rte_ring_count", c->slots);
	bench_json_int(&j, "rte_ring_usable", c->slots - 1);
	bench_json_int(&j, "cpu_producer", c->cpu_prod);
	bench_json_int(&j, "cpu_consumer", c->cpu_cons);
	bench_json_num(&j, "seconds_per_run", (double)c->duration_ns / 1e9);
	bench_json_int(&j, "reps", o->reps);
	bench_json_bool(&j, "quick", o->quick);
	bench_json_num(&j, "cpu_min_fraction", CPU_OK);
	bench_json_str(&j, "reruns",
		       o->quick ? "none (--quick)"
				: "a repetition where a thread got < cpu_min_fraction of a CPU "
				  "is rerun, up to 5 times; before each attempt the benchmark "
				  "waits up to 30 s for the machine to be >= 95% idle");
	bench_json_str(&j, "c2c_rtt_ns",
		       "cache-line ping-pong round trip between the two CPUs, measured "
		       "before each repetition: on a VM it shows where the host put the "
		       "vCPUs, which moves every number");
	bench_json_str(&j, "interleaving", "per repetition: rte_ring then pvio");
	bench_json_str(&j, "pvio_message",
		       "request copied into a slot by the frontend, copied out by the "
		       "backend (pvio_ring_back_pending + copy_request), answered with a "
		       "16-byte response in the same slot, response copied out by the "
		       "frontend: one round trip recycles the slot");
	bench_json_str(&j, "rte_ring_message",
		       "one element enqueued (sp_enqueue_burst_elem) and dequeued "
		       "(sc_dequeue_burst_elem)");
	bench_json_str(&j, "notifications", "none: both sides busy-poll");
	bench_json_obj_end(&j);
	bench_json_arr_begin(&j, "cases");
	for (int i = 0; i < n; i++) {
		const struct rcase *k = &cs[i];

		bench_json_obj_begin(&j, NULL);
		bench_json_str(&j, "name", k->name);
		bench_json_str(&j, "baseline", "rte_ring");
		if (c->have_rte)
			bench_json_num(&j, "baseline_value", k->median[SIDE_RTE]);
		else
			bench_json_null(&j, "baseline_value");
		bench_json_num(&j, "pvio_value", k->median[SIDE_PVIO]);
		bench_json_str(&j, "unit", "msg/s");
		if (c->have_rte)
			bench_json_num(&j, "ratio", k->median[SIDE_PVIO] / k->median[SIDE_RTE]);
		else
			bench_json_null(&j, "ratio");
		bench_json_int(&j, "batch", k->batch);
		bench_json_int(&j, "msg_bytes", k->msize);
		bench_json_num(&j, "pvio_p10", k->p10[SIDE_PVIO]);
		bench_json_num(&j, "pvio_p90", k->p90[SIDE_PVIO]);
		if (c->have_rte) {
			bench_json_num(&j, "baseline_p10", k->p10[SIDE_RTE]);
			bench_json_num(&j, "baseline_p90", k->p90[SIDE_RTE]);
		}
		if (c->have_rte)
			bench_json_num(&j, "ratio_median_of_reps", k->ratio_of_reps);
		bench_json_num(&j, "c2c_rtt_ns_median", k->c2c_median);
		bench_json_int(&j, "reruns_for_cpu", k->discarded);
		bench_json_int(&j, "reps_short_of_cpu", k->kept_low);
		bench_json_arr_begin(&j, "reps");
		for (int r = 0; r < k->nreps; r++) {
			const struct rep *p = &k->reps[r];

			bench_json_obj_begin(&j, NULL);
			bench_json_num(&j, "pvio", p->rate[SIDE_PVIO]);
			if (c->have_rte)
				bench_json_num(&j, "baseline", p->rate[SIDE_RTE]);
			else
				bench_json_null(&j, "baseline");
			bench_json_num(&j, "c2c_rtt_ns", p->c2c_ns);
			bench_json_bool(&j, "cpu_ok", p->cpu_ok);
			if (p->idle_before >= 0)
				bench_json_num(&j, "idle_before", p->idle_before);
			bench_json_arr_begin(&j, "pvio_cpu");
			bench_json_num(&j, NULL, p->cpu[SIDE_PVIO][0]);
			bench_json_num(&j, NULL, p->cpu[SIDE_PVIO][1]);
			bench_json_arr_end(&j);
			if (c->have_rte) {
				bench_json_arr_begin(&j, "baseline_cpu");
				bench_json_num(&j, NULL, p->cpu[SIDE_RTE][0]);
				bench_json_num(&j, NULL, p->cpu[SIDE_RTE][1]);
				bench_json_arr_end(&j);
			}
			bench_json_obj_end(&j);
		}
		bench_json_arr_end(&j);
		bench_json_obj_end(&j);
	}
	bench_json_arr_end(&j);
	bench_json_obj_end(&j);
}

static int parse_args(struct cfg *c, const struct bench_opts *o, int argc, char **argv)
{
	double secs = o->quick ? 0.2 : 1.0;

	c->order = 4;
	c->cpu_prod = 0;
	c->cpu_cons = 1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		char *end;

		if (strcmp(a, "--order") == 0 && v) {
			unsigned long x = strtoul(v, &end, 10);

			if (*end || x > PVIO_RING_MAX_ORDER)
				goto bad;
			c->order = (unsigned)x;
			i++;
		} else if (strcmp(a, "--cpus") == 0 && v) {
			if (sscanf(v, "%d,%d", &c->cpu_prod, &c->cpu_cons) != 2 ||
			    c->cpu_prod < 0 || c->cpu_cons < 0)
				goto bad;
			i++;
		} else if (strcmp(a, "--seconds") == 0 && v) {
			secs = strtod(v, &end);
			if (*end || !(secs > 0 && secs <= 60))
				goto bad;
			i++;
		} else {
			fprintf(stderr, "pvio-bench ring: bad option '%s'%s\n", a,
				v ? "" : " (missing value?)");
			return -EINVAL;
		}
		continue;
bad:
		fprintf(stderr, "pvio-bench ring: bad value for %s: '%s'\n", a, v);
		return -EINVAL;
	}
	c->duration_ns = (uint64_t)(secs * 1e9);
	return 0;
}

static int ring_run(const struct bench_opts *o, int argc, char **argv)
{
	static const unsigned batches[] = { 1, 32 }, sizes[] = { 64, 112 };
	struct rcase cs[4];
	struct cfg c;
	char path[4200], tpath[4200], machine[512];
	int ncase = 0, rc = 1, max_retry = o->quick ? 0 : 5;
	uint64_t warm;
	FILE *f;

	memset(&c, 0, sizeof(c));
	memset(cs, 0, sizeof(cs));
	if (parse_args(&c, o, argc, argv) < 0)
		return 2;
	warm = c.duration_ns / 5;
#ifdef PVIO_HAVE_DPDK
	c.have_rte = true;
#else
	fprintf(stderr, "pvio-bench ring: built without DPDK: no rte_ring baseline\n");
#endif
	if (bench_ncpus() < 2 && c.cpu_cons != c.cpu_prod) {
		fprintf(stderr, "pvio-bench ring: one CPU only: both threads on CPU 0 "
				"(numbers are meaningless for throughput)\n");
		c.cpu_prod = c.cpu_cons = 0;
	}
	c.pvio_bytes = (size_t)PVIO_PAGE_SIZE << c.order;
	c.slots = b112_ring_nr_ents(c.pvio_bytes);
	if (b64_ring_nr_ents(c.pvio_bytes) != c.slots) {
		/* Equal capacity in messages across both sizes keeps the table
		 * simple; orders 0..4 give it (32..512 slots). */
		fprintf(stderr, "pvio-bench ring: order %u gives unequal slot counts\n",
			c.order);
		return 2;
	}
#ifdef PVIO_HAVE_DPDK
	for (int i = 0; i < 2; i++) {
		ssize_t sz = rte_ring_get_memsize_elem(sizes[i], c.slots);

		if (sz < 0) {
			fprintf(stderr, "pvio-bench ring: rte_ring_get_memsize_elem failed\n");
			return 1;
		}
		c.rte_bytes[i] = (size_t)sz;
	}
#endif
	if (bench_out_path(o, "ring", "json", path, sizeof(path)) < 0 ||
	    bench_out_path(o, "ring", "txt", tpath, sizeof(tpath)) < 0) {
		fprintf(stderr, "pvio-bench ring: cannot create the output folder\n");
		return 1;
	}

	for (unsigned bi = 0; bi < 2; bi++)
		for (unsigned si = 0; si < 2; si++) {
			struct rcase *k = &cs[ncase++];

			k->batch = batches[bi];
			k->msize = sizes[si];
			snprintf(k->name, sizeof(k->name), "batch%u_%uB", k->batch, k->msize);
			k->reps = calloc((size_t)o->reps, sizeof(*k->reps));
			if (!k->reps)
				goto out;
		}

	for (int i = 0; i < ncase; i++) {
		struct rcase *k = &cs[i];
		double rate, cpu[2];
		double v[2][1000];

		/* Warm-up (caches, page tables, CPU frequency): not recorded. */
		bench_progress("ring %d/%d %s: warm-up", i + 1, ncase, k->name);
		for (int s = c.have_rte ? 0 : 1; s < 2; s++)
			if (one_side(&c, k, (enum side)s, warm, &rate, cpu) < 0)
				goto out;

		for (int r = 0; r < o->reps; r++) {
			struct rep *p = &k->reps[r];
			int tries = 0;
again:
			/* Not in --quick: wait (up to 30 s) for the machine to be idle. */
			if (!o->quick) {
				bench_progress("ring %d/%d %s: rep %d/%d: waiting for idle CPUs",
					       i + 1, ncase, k->name, r + 1, o->reps);
				p->idle_before = bench_wait_idle(0.95, 30000);
			} else
				p->idle_before = -1;
			p->c2c_ns = bench_c2c_rtt_ns(c.cpu_prod, c.cpu_cons);
			/* A/B interleaved: rte_ring, then pvio, in every repetition. */
			for (int s = c.have_rte ? 0 : 1; s < 2; s++) {
				bench_progress("ring %d/%d %s: rep %d/%d %s", i + 1, ncase,
					       k->name, r + 1, o->reps, side_name[s]);
				if (one_side(&c, k, (enum side)s, c.duration_ns, &p->rate[s],
					     p->cpu[s]) < 0)
					goto out;
			}
			{
				bool ok = true;

				for (int s = c.have_rte ? 0 : 1; s < 2; s++)
					ok = ok && p->cpu[s][0] >= CPU_OK && p->cpu[s][1] >= CPU_OK;
				if (!ok && tries++ < max_retry) {
					k->discarded++;
					goto again;
				}
				p->cpu_ok = ok;
				k->kept_low += !ok;
			}
			k->nreps++;
		}
		for (int r = 0; r < k->nreps; r++) {
			v[0][r] = k->reps[r].rate[SIDE_PVIO] / k->reps[r].rate[SIDE_RTE];
			v[1][r] = k->reps[r].c2c_ns;
		}
		k->ratio_of_reps = bench_median(v[0], (size_t)k->nreps);
		k->c2c_median = bench_median(v[1], (size_t)k->nreps);
		for (int s = 0; s < 2; s++) {
			for (int r = 0; r < k->nreps; r++)
				v[s][r] = k->reps[r].rate[s];
			k->median[s] = bench_median(v[s], (size_t)k->nreps);
			k->p10[s] = bench_percentile(v[s], (size_t)k->nreps, 10);
			k->p90[s] = bench_percentile(v[s], (size_t)k->nreps, 90);
		}
	}
	bench_progress_done();

	bench_machine_line(machine, sizeof(machine), o->repo);
	write_table(stdout, &c, cs, ncase, machine, o->reps, o->quick);
	fflush(stdout);

	f = fopen(tpath, "w");
	if (!f) {
		fprintf(stderr, "pvio-bench ring: %s: %s\n", tpath, strerror(errno));
		goto out;
	}
	write_table(f, &c, cs, ncase, machine, o->reps, o->quick);
	fclose(f);

	f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "pvio-bench ring: %s: %s\n", path, strerror(errno));
		goto out;
	}
	write_json(f, &c, cs, ncase, o);
	if (fclose(f) != 0) {
		fprintf(stderr, "pvio-bench ring: %s: write failed\n", path);
		goto out;
	}
	fprintf(stderr, "pvio-bench ring: wrote %s and %s\n", path, tpath);
	rc = 0;
out:
	bench_progress_done();
	for (int i = 0; i < ncase; i++)
		free(cs[i].reps);
	return rc;
}

const struct bench_cmd bench_cmd_ring = {
	.name = "ring",
	.summary = "SPSC ring throughput: pvio shared ring vs DPDK rte_ring (msg/s)",
	.usage = ring_usage,
	.run = ring_run,
};
