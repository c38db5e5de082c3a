/* SPDX-License-Identifier: MIT */
/*
 * pvio-netback's poller threads (worker.h).
 *
 * A worker holds its lock whenever it runs a task's op and drops it only
 * to sleep in poll() or when a control thread asks for it (`want`), so a
 * control thread that holds the lock knows the worker is not inside any
 * task: that is what makes detaching safe.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <rte_lcore.h>

#include "netback/common.h"
#include "netback/worker.h"
#include "ring/pvio_atomic.h"

struct nb_worker {
	pthread_t thr;
	unsigned idx;
	pthread_mutex_t lock;                      /* tasks[], n */
	struct nb_task *tasks[NB_WORKER_MAX_TASKS];
	unsigned n;
	int want;                                  /* atomic: control threads waiting */
	int stop;                                  /* atomic */
	int ctl_fd;                                /* eventfd: wakes the worker */
	uint64_t poll_ns;
	bool running;
	struct pollfd *pf;                         /* 1 + tasks x NB_TASK_MAX_FDS */
};

static struct nb_worker g_workers[NB_MAX_WORKERS];
static unsigned g_nworkers;
static pthread_mutex_t g_attach_lock = PTHREAD_MUTEX_INITIALIZER;

static void ctl_kick(struct nb_worker *w)
{
	uint64_t one = 1;

	if (write(w->ctl_fd, &one, sizeof(one)) < 0) {
		/* EAGAIN: already kicked enough */
	}
}

/* Sleep on every task's fds (called and returns with the lock held). */
static void worker_sleep(struct nb_worker *w)
{
	struct pollfd *pf = w->pf;
	unsigned npf = 1, i;
	int timeout = -1;
	bool abandon = false, slept = false;

	pf[0] = (struct pollfd){ .fd = w->ctl_fd, .events = POLLIN };
	for (i = 0; i < w->n; i++) {
		struct nb_task *t = w->tasks[i];
		unsigned k = 0;
		int to = -1;

		if (t->ops->sleep(t, &pf[npf], &k, &to)) {
			abandon = true;
			break;
		}
		for (unsigned j = 0; j < k; j++)
			pf[npf + j].revents = 0;
		t->prepared = true;
		t->pf_first = npf;
		t->pf_n = k;
		npf += k;
		if (to >= 0 && (timeout < 0 || to < timeout))
			timeout = to;
	}
	if (!abandon) {
		pthread_mutex_unlock(&w->lock);
		if (poll(pf, npf, timeout) < 0 && errno != EINTR)
			for (unsigned j = 0; j < npf; j++)
				pf[j].revents = 0;
		pthread_mutex_lock(&w->lock);
		slept = true;
		if (pf[0].revents) {
			uint64_t v;

			if (read(w->ctl_fd, &v, sizeof(v)) < 0) {
				/* nothing to drain */
			}
		}
	}
	/* Tasks detached meanwhile are no longer in tasks[]; tasks attached
	 * meanwhile were not prepared. */
	for (i = 0; i < w->n; i++) {
		struct nb_task *t = w->tasks[i];

		if (!t->prepared)
			continue;
		t->prepared = false;
		t->ops->wake(t, &pf[t->pf_first], t->pf_n, slept);
	}
}

static void *worker_main(void *arg)
{
	struct nb_worker *w = arg;
	bool registered = rte_thread_register() == 0;
	uint64_t last = nb_now_ns();

	pthread_mutex_lock(&w->lock);
	while (!pvio_load_acquire(&w->stop)) {
		unsigned work = 0;

		if (pvio_load_acquire(&w->want)) {
			/* A control thread attaches or detaches a task. */
			pthread_mutex_unlock(&w->lock);
			while (pvio_load_acquire(&w->want) && !pvio_load_acquire(&w->stop))
				sched_yield();
			pthread_mutex_lock(&w->lock);
			continue;
		}
		for (unsigned i = 0; i < w->n; i++)
			work += w->tasks[i]->ops->run(w->tasks[i]);
		if (work) {
			last = nb_now_ns();
			continue;
		}
		/* Adaptive polling: spin for a while after work (the event
		 * channels stay masked meanwhile: kicks cost the peer nothing). */
		if (w->poll_ns && nb_now_ns() - last < w->poll_ns) {
			/* Read the clock every few dozen pauses only. */
			for (int i = 0; i < 32; i++)
				pvio_cpu_relax();
			continue;
		}
		/* No spinning after a wake-up that brings no work (the 1 ms
		 * timer of ports without an rx interrupt): the window opens
		 * at the next work found. */
		worker_sleep(w);
	}
	pthread_mutex_unlock(&w->lock);
	if (registered)
		rte_thread_unregister();
	return NULL;
}

int nb_workers_start(unsigned n, unsigned poll_us)
{
	if (n < 1 || n > NB_MAX_WORKERS)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		struct nb_worker *w = &g_workers[i];
		char name[16];
		int r;

		memset(w, 0, sizeof(*w));
		w->idx = i;
		w->poll_ns = (uint64_t)poll_us * 1000;
		pthread_mutex_init(&w->lock, NULL);
		g_nworkers = i + 1;
		w->pf = calloc(1 + NB_WORKER_MAX_TASKS * NB_TASK_MAX_FDS, sizeof(*w->pf));
		w->ctl_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (!w->pf || w->ctl_fd < 0) {
			r = w->pf ? -errno : -ENOMEM;
			nb_workers_stop();
			return r;
		}
		r = -pthread_create(&w->thr, NULL, worker_main, w);
		if (r < 0) {
			nb_workers_stop();
			return r;
		}
		w->running = true;
		snprintf(name, sizeof(name), "nb-worker%u", i);
		pthread_setname_np(w->thr, name);
	}
	return 0;
}

void nb_workers_stop(void)
{
	for (unsigned i = 0; i < g_nworkers; i++) {
		struct nb_worker *w = &g_workers[i];

		if (w->running) {
			pvio_store_release(&w->stop, 1);
			ctl_kick(w);
			pthread_join(w->thr, NULL);
			w->running = false;
		}
		if (w->n)
			fprintf(stderr, "netback: worker %u stopped with %u task(s)\n", i, w->n);
		if (w->ctl_fd >= 0)
			close(w->ctl_fd);
		w->ctl_fd = -1;
		free(w->pf);
		w->pf = NULL;
		pthread_mutex_destroy(&w->lock);
	}
	g_nworkers = 0;
}

unsigned nb_workers_count(void)
{
	return g_nworkers;
}

/* Take the worker's lock from a control thread: `want` makes a spinning
 * worker let go at its next round; a sleeping one does not hold it. */
static void worker_lock(struct nb_worker *w)
{
	pvio_fetch_add(&w->want, 1);
	pthread_mutex_lock(&w->lock);
}

/* ... and give it back; the kick makes a sleeping worker rebuild its set
 * of fds. */
static void worker_unlock(struct nb_worker *w)
{
	pthread_mutex_unlock(&w->lock);
	pvio_fetch_add(&w->want, -1);
	ctl_kick(w);
}

int nb_task_attach(struct nb_task *t)
{
	struct nb_worker *w = NULL;
	int r = 0;

	pthread_mutex_lock(&g_attach_lock);
	for (unsigned i = 0; i < g_nworkers; i++)
		if (!w || g_workers[i].n < w->n)
			w = &g_workers[i];
	if (!w) {
		pthread_mutex_unlock(&g_attach_lock);
		return -ENODEV;
	}
	worker_lock(w);
	if (w->n == NB_WORKER_MAX_TASKS) {
		r = -ENOSPC;
	} else {
		t->w = w;
		t->prepared = false;
		w->tasks[w->n++] = t;
	}
	worker_unlock(w);
	pthread_mutex_unlock(&g_attach_lock);
	return r;
}

void nb_task_detach(struct nb_task *t)
{
	struct nb_worker *w = t->w;

	if (!w)
		return;
	pthread_mutex_lock(&g_attach_lock);
	worker_lock(w);
	for (unsigned i = 0; i < w->n; i++)
		if (w->tasks[i] == t) {
			memmove(&w->tasks[i], &w->tasks[i + 1], (w->n - i - 1) * sizeof(t));
			w->n--;
			break;
		}
	t->w = NULL;
	t->prepared = false;
	worker_unlock(w);
	pthread_mutex_unlock(&g_attach_lock);
}
