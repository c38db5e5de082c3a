/* SPDX-License-Identifier: MIT */
/*
 * Workers: the poller threads every pvio backend shares (DESIGN.md §7), as
 * SPDK's reactors or DPDK's lcores. A few threads (default: one per online
 * CPU) each run many tasks to completion: a blkback queue, a netback vif
 * queue, an uplink. A task is either
 *
 *   active   run() is called once per round, in turn with the worker's
 *            other active tasks (round-robin; each run() does a bounded
 *            amount of work, so one busy guest cannot starve a quiet one);
 *   armed    it found no work for its polling window (at most poll_us,
 *            adapted per task as KVM's halt polling: evtchn/pollwin.h),
 *            arm() did its final checks and
 *            unmasked its event channels (late EOI, XSA-332): the worker
 *            no longer touches it until one of its fds becomes readable
 *            (epoll) or the timeout arm() asked for passes; then woken()
 *            consumes what fired and the task is active again.
 *
 * The fds a task sleeps on are registered once, when it is attached, in
 * the worker's epoll set: a sleep costs the armed tasks nothing, and a
 * wake-up runs only the tasks that have something to do, however many
 * are attached. While some tasks are active the worker looks at its epoll
 * set without blocking every PVIO_WORKER_CHECK_US; when none is, it
 * sleeps in epoll_wait.
 *
 * A task stays on the worker it was attached to for its life (an io_uring
 * engine's single issuer is that thread). Tasks are attached and detached
 * by control threads at any time; pvio_task_detach() returns once the
 * worker no longer touches the task.
 */
#ifndef PVIO_BACKEND_WORKER_H
#define PVIO_BACKEND_WORKER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "evtchn/pollwin.h"

#define PVIO_WORKERS_MAX      256
#define PVIO_TASK_MAX_FDS     6
#define PVIO_WORKER_CHECK_US  20   /* epoll looked at this often while busy */

struct pvio_task;
struct pvio_worker;
struct pvio_workers;

struct pvio_task_ops {
	/* One bounded round of work: the amount done (0: nothing to do). */
	unsigned (*run)(struct pvio_task *t);
	/* No work for poll_us: final checks, unmask. Returns true if work
	 * appeared (the task stays active). May set *timeout_ms (>= 0) to be
	 * woken after that long even if no fd fires. */
	bool (*arm)(struct pvio_task *t, int *timeout_ms);
	/* After an armed task woke (and for a stale readiness of an active
	 * one): bit i of fd_mask says fds[i] is readable; 0 = its timeout
	 * passed. Consume what fired, mask the rest. An fd that hung up or
	 * failed (EPOLLHUP/EPOLLERR) is reported once this way, then no
	 * longer watched (st_deadfds counts it). */
	void (*woken)(struct pvio_task *t, unsigned fd_mask);
};

struct pvio_task {
	/* set by the owner before pvio_task_attach() */
	const struct pvio_task_ops *ops;
	int      fds[PVIO_TASK_MAX_FDS];
	unsigned nfds;

	/* the worker's */
	struct pvio_worker *w;
	uint32_t slot;
	uint8_t  state;
	struct pvio_task *next, *prev;      /* active or armed list */
	uint64_t last_work_ns;
	uint64_t deadline_ns;               /* armed with a timeout; 0: none */
	uint64_t armed_ns;                  /* the wait began (its last work) */
	struct pvio_pollwin pollwin;        /* its spin, adapted (evtchn/pollwin.h) */

	/* statistics (written by the worker) */
	uint64_t st_runs, st_wakeups;
	uint64_t st_deadfds;                /* fds dropped after EPOLLHUP/EPOLLERR */
};

struct pvio_workers_cfg {
	unsigned n;                 /* threads; 0: one per online CPU */
	unsigned poll_us;           /* a task spins at most this long after its last work */
	const char *name;           /* thread name prefix ("blk-w"), <= 10 chars */
	/* Run on each worker thread at start and before it ends (DPDK's
	 * rte_thread_register, say). */
	void (*thread_init)(void);
	void (*thread_fini)(void);
};

/* Start the workers. 0 or -errno (-EINVAL: n > PVIO_WORKERS_MAX). */
int  pvio_workers_create(const struct pvio_workers_cfg *cfg, struct pvio_workers **out);
/* Stop and free them; every task must have been detached. NULL is a no-op. */
void pvio_workers_destroy(struct pvio_workers *ws);
unsigned pvio_workers_count(const struct pvio_workers *ws);
/* Thread id of worker i (for CPU accounting), or -1. */
pid_t pvio_workers_tid(const struct pvio_workers *ws, unsigned i);
/* Tasks attached to worker i. */
unsigned pvio_workers_ntasks(struct pvio_workers *ws, unsigned i);

/* Give the task to the worker with the fewest tasks; it starts active.
 * -ENODEV (no worker), -ENOMEM, or epoll_ctl's -errno for a bad fd. */
int  pvio_task_attach(struct pvio_workers *ws, struct pvio_task *t);
/* Take it back: returns when its worker no longer runs any of its ops. */
void pvio_task_detach(struct pvio_task *t);
/* The worker's clock at the start of the current round (for run()). */
uint64_t pvio_task_now_ns(const struct pvio_task *t);
/* Index of the task's worker. */
unsigned pvio_task_worker(const struct pvio_task *t);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t pvio_now_ns(void);

#endif /* PVIO_BACKEND_WORKER_H */
