/* SPDX-License-Identifier: MIT */
/*
 * The backends' poller threads (worker.h).
 *
 * Locking: a worker holds its mutex whenever it runs a task's op and drops
 * it only to sleep in epoll_wait() or when a control thread asks for it
 * (`want`), so a control thread that holds the mutex knows the worker is
 * inside no task: that is what makes attaching and detaching safe. The
 * epoll set names a task by slot and generation, never by pointer: an
 * event that comes back for a task detached while the worker slept finds
 * the slot's generation moved on and is ignored.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "backend/stats.h"
#include "backend/worker.h"
#include "ring/pvio_export.h"
#include "ring/pvio_atomic.h"

enum { TASK_ACTIVE = 1, TASK_ARMED = 2 };

#define EV_CTL        UINT64_MAX
#define EV_FD_BITS    3
#define EV_SLOT_MAX   (1u << (32 - EV_FD_BITS))
#define EV_BATCH      64

_Static_assert(PVIO_TASK_MAX_FDS <= (1 << EV_FD_BITS), "fd index must fit the event data");

struct wslot {
	struct pvio_task *t;        /* NULL: free */
	uint32_t gen;
	uint32_t next_free;
};

struct pvio_worker {
	struct pvio_workers *ws;
	pthread_t thr;
	pid_t    tid;                  /* atomic */
	unsigned idx;
	pthread_mutex_t lock;          /* everything below */
	int      want;                 /* atomic: control threads waiting */
	int      stop;                 /* atomic */
	int      epfd, ctl_fd;
	uint64_t poll_ns;
	uint64_t now;                  /* clock at the start of the round */
	struct pvio_task active;       /* list heads (sentinels) */
	struct pvio_task armed;
	unsigned ntimed;               /* armed tasks with a deadline */
	unsigned ntasks;               /* atomic for readers without the lock */
	struct wslot *slots;
	uint32_t nslots, free_slot;
	bool     running;
	struct epoll_event ev[EV_BATCH];
};

struct pvio_workers {
	unsigned n;
	struct pvio_workers_cfg cfg;
	pthread_mutex_t attach_lock;
	struct pvio_worker *w;         /* n of them */
};

PVIO_EXPORT uint64_t pvio_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------ lists */

static void list_init(struct pvio_task *h)
{
	h->next = h->prev = h;
}

static bool list_empty(const struct pvio_task *h)
{
	return h->next == h;
}

static void list_del(struct pvio_task *t)
{
	t->prev->next = t->next;
	t->next->prev = t->prev;
	t->next = t->prev = NULL;
}

static void list_add_tail(struct pvio_task *h, struct pvio_task *t)
{
	t->prev = h->prev;
	t->next = h;
	h->prev->next = t;
	h->prev = t;
}

/* ------------------------------------------------------------ the loop */

static void ctl_kick(struct pvio_worker *w)
{
	uint64_t one = 1;

	if (write(w->ctl_fd, &one, sizeof(one)) < 0) {
		/* EAGAIN: already kicked enough */
	}
}

static void activate(struct pvio_worker *w, struct pvio_task *t, bool event)
{
	/* An event ended the wait: had the spin been long enough to catch
	 * it? (A timeout says nothing about that.) */
	if (event)
		pvio_pollwin_update(&t->pollwin, false, pvio_now_ns() - t->armed_ns);
	list_del(t);
	if (t->deadline_ns) {
		t->deadline_ns = 0;
		w->ntimed--;
	}
	t->state = TASK_ACTIVE;
	/* No polling window until the task finds work: a wake-up that
	 * brings none (a timer, a spurious kick) goes straight back to
	 * sleep. */
	t->last_work_ns = 0;
	t->st_wakeups++;
	list_add_tail(&w->active, t);
}

static void dispatch(struct pvio_worker *w, int n)
{
	for (int i = 0; i < n; i++) {
		uint64_t d = w->ev[i].data.u64;
		uint32_t slot = (uint32_t)d >> EV_FD_BITS;
		struct pvio_task *t;
		unsigned idx;

		if (d == EV_CTL) {
			uint64_t v;

			if (read(w->ctl_fd, &v, sizeof(v)) < 0) {
				/* nothing to drain */
			}
			continue;
		}
		if (slot >= w->nslots || w->slots[slot].gen != (uint32_t)(d >> 32) ||
		    !(t = w->slots[slot].t))
			continue;             /* detached meanwhile */
		idx = (unsigned)(d & ((1u << EV_FD_BITS) - 1));
		if (t->state == TASK_ARMED)
			activate(w, t, true);
		t->ops->woken(t, 1u << idx);
		if ((w->ev[i].events & (EPOLLERR | EPOLLHUP)) && idx < t->nfds &&
		    w->slots[slot].t == t) {
			/* A hung-up or failed fd (a peer gone, a TAP deleted)
			 * stays ready for ever: stop watching it, or the task
			 * would be woken in a loop. It had this last wake-up to
			 * take what was left; its timeouts still wake it. */
			epoll_ctl(w->epfd, EPOLL_CTL_DEL, t->fds[idx], NULL);
			t->st_deadfds++;
			fprintf(stderr, "worker: fd %d of a task %s: no longer watched\n",
				t->fds[idx], w->ev[i].events & EPOLLERR ? "failed" : "hung up");
		}
	}
}

/* Armed tasks whose timeout passed become active; returns the time to the
 * next deadline in ms (-1: none). */
static int expire(struct pvio_worker *w, uint64_t now)
{
	uint64_t next = UINT64_MAX;
	struct pvio_task *t, *nx;

	if (!w->ntimed)
		return -1;
	for (t = w->armed.next; t != &w->armed; t = nx) {
		nx = t->next;
		if (!t->deadline_ns)
			continue;
		if (t->deadline_ns <= now) {
			activate(w, t, false);
			t->ops->woken(t, 0);
		} else if (t->deadline_ns < next) {
			next = t->deadline_ns;
		}
	}
	if (next == UINT64_MAX)
		return -1;
	return (int)((next - now + 999999) / 1000000);
}

/* Nothing active: sleep until an fd fires or a deadline passes (called and
 * returns with the lock held). Returns how many events ended the sleep. */
static int worker_sleep(struct pvio_worker *w)
{
	int timeout = expire(w, pvio_now_ns()), n;

	if (!list_empty(&w->active))
		return 0;
	pthread_mutex_unlock(&w->lock);
	n = epoll_wait(w->epfd, w->ev, EV_BATCH, timeout);
	pthread_mutex_lock(&w->lock);
	if (n > 0)
		dispatch(w, n);
	expire(w, pvio_now_ns());
	return n;
}

static void *worker_main(void *arg)
{
	struct pvio_worker *w = arg;
	const struct pvio_workers_cfg *cfg = &w->ws->cfg;
	uint64_t last_check = 0, idle_ns = 0, spin_ns = 0;
	long nivcsw = -1;               /* pvio_pollwin_lost_cpu's */
	struct pvio_stats_worker *rec;
	bool lost;

	pvio_store_release(&w->tid, gettid());
	if (cfg->thread_init)
		cfg->thread_init();
	rec = pvio_stats_thread_worker();   /* NULL: not counted */
	pthread_mutex_lock(&w->lock);
	while (!pvio_load_acquire(&w->stop)) {
		struct pvio_task *t, *nx;
		uint64_t now;
		unsigned work = 0;

		if (pvio_load_acquire(&w->want)) {
			/* A control thread attaches or detaches a task. */
			pthread_mutex_unlock(&w->lock);
			while (pvio_load_acquire(&w->want) && !pvio_load_acquire(&w->stop))
				sched_yield();
			pthread_mutex_lock(&w->lock);
			continue;
		}
		now = w->now = pvio_now_ns();
		/* An idle spin that lost the CPU: another thread was runnable
		 * here (a guest, the other backend's worker) and ran instead
		 * of us. The idle tasks stop polling (evtchn/pollwin.h). */
		lost = idle_ns && pvio_pollwin_lost_cpu(&nivcsw, idle_ns, now);
		idle_ns = 0;
		for (t = w->active.next; t != &w->active; t = nx) {
			unsigned n;
			int to = -1;

			nx = t->next;
			t->st_runs++;
			n = t->ops->run(t);
			if (n) {
				t->last_work_ns = now;
				work += n;
				continue;
			}
			if (lost)
				pvio_pollwin_lost(&t->pollwin);
			/* Adaptive polling, per task: its event channels stay
			 * masked while it spins, so kicks cost the peer nothing. */
			if (now - t->last_work_ns < t->pollwin.cur_ns)
				continue;
			if (t->ops->arm(t, &to)) {
				t->last_work_ns = now;
				continue;
			}
			list_del(t);
			list_add_tail(&w->armed, t);
			t->state = TASK_ARMED;
			t->armed_ns = t->last_work_ns ? t->last_work_ns : now;
			if (to >= 0) {
				t->deadline_ns = now + (uint64_t)to * 1000000 + 1;
				w->ntimed++;
			}
		}
		if (work && rec)
			PVIO_STATS_ADD(rec, rounds, 1);
		if (list_empty(&w->active)) {
			if (worker_sleep(w) > 0 && rec)
				PVIO_STATS_ADD(rec, wakeups, 1);
			last_check = w->now;
			spin_ns = 0;
			continue;
		}
		/* Busy: armed tasks' wake-ups are picked up every few dozen
		 * microseconds without blocking. With none armed there is
		 * nothing to pick up (a control kick is for a sleeping
		 * worker; `want` is read every round): no system call. */
		if (w->armed.next != &w->armed &&
		    now - last_check >= PVIO_WORKER_CHECK_US * 1000ull) {
			int n = epoll_wait(w->epfd, w->ev, EV_BATCH, 0);

			if (n > 0)
				dispatch(w, n);
			expire(w, now);
			last_check = now;
		}
		if (!work) {
			/* Spinning: after a short while, between two looks,
			 * let whoever is runnable on this CPU go first. */
			if (!spin_ns)
				spin_ns = now;
			pvio_pollwin_pause(now - spin_ns);
			idle_ns = pvio_now_ns();
		} else {
			spin_ns = 0;
		}
	}
	pthread_mutex_unlock(&w->lock);
	if (cfg->thread_fini)
		cfg->thread_fini();
	return NULL;
}

/* ------------------------------------------------------------ control */

PVIO_EXPORT void pvio_workers_destroy(struct pvio_workers *ws)
{
	if (!ws)
		return;
	for (unsigned i = 0; i < ws->n; i++) {
		struct pvio_worker *w = &ws->w[i];

		if (w->running) {
			pvio_store_release(&w->stop, 1);
			ctl_kick(w);
			pthread_join(w->thr, NULL);
			w->running = false;
		}
		if (w->ntasks)
			fprintf(stderr, "worker %u stopped with %u task(s) attached\n", i, w->ntasks);
		if (w->ctl_fd >= 0)
			close(w->ctl_fd);
		if (w->epfd >= 0)
			close(w->epfd);
		free(w->slots);
		pthread_mutex_destroy(&w->lock);
	}
	pthread_mutex_destroy(&ws->attach_lock);
	free(ws->w);
	free(ws);
}

PVIO_EXPORT int pvio_workers_create(const struct pvio_workers_cfg *cfg, struct pvio_workers **out)
{
	struct pvio_workers *ws;
	unsigned n = cfg->n;
	int r;

	*out = NULL;
	if (!n) {
		long c = sysconf(_SC_NPROCESSORS_ONLN);

		n = c > 0 ? (unsigned)c : 1;
		if (n > PVIO_WORKERS_MAX)
			n = PVIO_WORKERS_MAX;
	}
	if (n > PVIO_WORKERS_MAX)
		return -EINVAL;
	ws = calloc(1, sizeof(*ws));
	if (!ws)
		return -ENOMEM;
	ws->cfg = *cfg;
	ws->cfg.n = n;
	pthread_mutex_init(&ws->attach_lock, NULL);
	ws->w = calloc(n, sizeof(*ws->w));
	if (!ws->w) {
		free(ws);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < n; i++) {
		struct pvio_worker *w = &ws->w[i];
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = EV_CTL };
		char name[16];

		w->ws = ws;
		w->idx = i;
		w->tid = -1;
		w->poll_ns = (uint64_t)cfg->poll_us * 1000;
		w->epfd = w->ctl_fd = -1;
		pthread_mutex_init(&w->lock, NULL);
		list_init(&w->active);
		list_init(&w->armed);
		w->free_slot = UINT32_MAX;
		ws->n = i + 1;
		w->epfd = epoll_create1(EPOLL_CLOEXEC);
		w->ctl_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (w->epfd < 0 || w->ctl_fd < 0 ||
		    epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->ctl_fd, &ev) < 0) {
			r = -errno;
			goto err;
		}
		{
			/* Workers take no process signals: they go to the
			 * thread that waits for them (a signalfd, say). */
			sigset_t all, old;

			sigfillset(&all);
			pthread_sigmask(SIG_SETMASK, &all, &old);
			r = -pthread_create(&w->thr, NULL, worker_main, w);
			pthread_sigmask(SIG_SETMASK, &old, NULL);
		}
		if (r < 0)
			goto err;
		w->running = true;
		snprintf(name, sizeof(name), "%.10s%u", cfg->name ? cfg->name : "worker", i);
		pthread_setname_np(w->thr, name);
	}
	*out = ws;
	return 0;
err:
	pvio_workers_destroy(ws);
	return r;
}

PVIO_EXPORT unsigned pvio_workers_count(const struct pvio_workers *ws)
{
	return ws ? ws->n : 0;
}

PVIO_EXPORT pid_t pvio_workers_tid(const struct pvio_workers *ws, unsigned i)
{
	if (!ws || i >= ws->n)
		return -1;
	return pvio_load_acquire(&ws->w[i].tid);
}

PVIO_EXPORT unsigned pvio_workers_ntasks(struct pvio_workers *ws, unsigned i)
{
	if (!ws || i >= ws->n)
		return 0;
	return pvio_load_relaxed(&ws->w[i].ntasks);
}

/* Take the worker's lock from a control thread: `want` makes a busy worker
 * let go at its next round; a sleeping one does not hold it. */
static void worker_lock(struct pvio_worker *w)
{
	pvio_fetch_add(&w->want, 1);
	pthread_mutex_lock(&w->lock);
}

/* ... and give it back; the kick makes a sleeping worker look again. */
static void worker_unlock(struct pvio_worker *w)
{
	pthread_mutex_unlock(&w->lock);
	pvio_fetch_add(&w->want, -1);
	ctl_kick(w);
}

static int slot_alloc(struct pvio_worker *w, uint32_t *out)
{
	if (w->free_slot == UINT32_MAX) {
		uint32_t n = w->nslots ? w->nslots * 2 : 64;
		struct wslot *s;

		if (n > EV_SLOT_MAX)
			n = EV_SLOT_MAX;
		if (n <= w->nslots)
			return -ENOSPC;
		s = realloc(w->slots, n * sizeof(*s));
		if (!s)
			return -ENOMEM;
		for (uint32_t i = w->nslots; i < n; i++) {
			s[i].t = NULL;
			s[i].gen = 0;
			s[i].next_free = i + 1 < n ? i + 1 : w->free_slot;
		}
		w->free_slot = w->nslots;
		w->slots = s;
		w->nslots = n;
	}
	*out = w->free_slot;
	w->free_slot = w->slots[*out].next_free;
	return 0;
}

static void slot_free(struct pvio_worker *w, uint32_t slot)
{
	w->slots[slot].t = NULL;
	w->slots[slot].gen++;
	w->slots[slot].next_free = w->free_slot;
	w->free_slot = slot;
}

static void fds_del(struct pvio_worker *w, struct pvio_task *t, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		epoll_ctl(w->epfd, EPOLL_CTL_DEL, t->fds[i], NULL);
}

PVIO_EXPORT int pvio_task_attach(struct pvio_workers *ws, struct pvio_task *t)
{
	struct pvio_worker *w;
	uint32_t slot;
	unsigned i;
	int r;

	if (!ws || !ws->n)
		return -ENODEV;
	if (!t->ops || t->nfds > PVIO_TASK_MAX_FDS)
		return -EINVAL;
	pthread_mutex_lock(&ws->attach_lock);
	w = &ws->w[0];
	for (i = 1; i < ws->n; i++)
		if (pvio_load_relaxed(&ws->w[i].ntasks) < pvio_load_relaxed(&w->ntasks))
			w = &ws->w[i];
	worker_lock(w);
	r = slot_alloc(w, &slot);
	if (r < 0)
		goto out;
	for (i = 0; i < t->nfds; i++) {
		struct epoll_event ev = {
			.events = EPOLLIN,
			.data.u64 = (uint64_t)w->slots[slot].gen << 32 | slot << EV_FD_BITS | i,
		};

		if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, t->fds[i], &ev) < 0) {
			r = -errno;
			fds_del(w, t, i);
			slot_free(w, slot);
			goto out;
		}
	}
	w->slots[slot].t = t;
	t->w = w;
	t->slot = slot;
	t->state = TASK_ACTIVE;
	t->deadline_ns = 0;
	t->last_work_ns = pvio_now_ns();
	pvio_pollwin_init(&t->pollwin, (uint32_t)(w->poll_ns > UINT32_MAX ? UINT32_MAX : w->poll_ns));
	list_add_tail(&w->active, t);
	pvio_store_relaxed(&w->ntasks, w->ntasks + 1);
out:
	worker_unlock(w);
	pthread_mutex_unlock(&ws->attach_lock);
	return r;
}

PVIO_EXPORT void pvio_task_detach(struct pvio_task *t)
{
	struct pvio_worker *w = t->w;

	if (!w)
		return;
	worker_lock(w);
	fds_del(w, t, t->nfds);
	list_del(t);
	if (t->deadline_ns) {
		t->deadline_ns = 0;
		w->ntimed--;
	}
	slot_free(w, t->slot);
	t->state = 0;
	t->w = NULL;
	pvio_store_relaxed(&w->ntasks, w->ntasks - 1);
	worker_unlock(w);
}

PVIO_EXPORT uint64_t pvio_task_now_ns(const struct pvio_task *t)
{
	return t->w ? t->w->now : pvio_now_ns();
}

PVIO_EXPORT unsigned pvio_task_worker(const struct pvio_task *t)
{
	return t->w ? t->w->idx : 0;
}
