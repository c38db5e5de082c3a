/* SPDX-License-Identifier: MIT */
/*
 * Workers: the poller threads of pvio-netback. Each serves a set of tasks
 * (vif queues, uplinks) in one run-to-completion loop, as a DPDK lcore
 * does: every task gets a bounded round in turn, so a vif queue and the
 * uplink it forwards to interleave burst by burst on one CPU instead of
 * two spinning threads sharing it a scheduler slice at a time. After
 * poll_us without work the worker asks each task to prepare for sleep
 * (final checks, unmask) and sleeps on the union of their fds.
 *
 * Tasks are attached and detached by the control thread at any time;
 * nb_task_detach() returns once the worker no longer touches the task.
 */
#ifndef PVIO_NETBACK_WORKER_H
#define PVIO_NETBACK_WORKER_H

#include <poll.h>
#include <stdbool.h>

#define NB_MAX_WORKERS        16
#define NB_TASK_MAX_FDS       6
#define NB_WORKER_MAX_TASKS   2048    /* NB_MAX_PORTS x 8 queues */

struct nb_task;

struct nb_task_ops {
	/* One bounded round of work: the amount done (0: nothing to do). */
	unsigned (*run)(struct nb_task *t);
	/* About to sleep: final checks. Returns true if work appeared (the
	 * worker does not sleep; wake() follows with nothing ready). Else
	 * fills pf[0..*nfd) (at most NB_TASK_MAX_FDS) and may lower
	 * *timeout_ms (-1: none). */
	bool (*sleep)(struct nb_task *t, struct pollfd *pf, unsigned *nfd, int *timeout_ms);
	/* After the sleep (slept: poll() ran) or after an abandoned one
	 * (slept false, no revents): undo what sleep() set up. */
	void (*wake)(struct nb_task *t, const struct pollfd *pf, unsigned nfd, bool slept);
};

struct nb_task {
	const struct nb_task_ops *ops;
	struct nb_worker *w;         /* while attached */
	/* the worker's, during a sleep */
	unsigned pf_first, pf_n;
	bool     prepared;
};

/* Start n workers (1..NB_MAX_WORKERS); they spin poll_us after work. */
int  nb_workers_start(unsigned n, unsigned poll_us);
/* Stop them; every task must have been detached. */
void nb_workers_stop(void);
unsigned nb_workers_count(void);

/* Give the task to the worker with the fewest tasks. -ENOSPC if full. */
int  nb_task_attach(struct nb_task *t);
/* Take it back: returns when its worker no longer runs any of its ops. */
void nb_task_detach(struct nb_task *t);

#endif /* PVIO_NETBACK_WORKER_H */
