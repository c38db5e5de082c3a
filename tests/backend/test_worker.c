/* SPDX-License-Identifier: MIT */
/*
 * The shared workers (backend/worker.h), driven as the backends drive them:
 * tasks with a doorbell eventfd and a pending count, the producer ringing
 * only when the task armed itself (the event-channel protocol).
 *
 *   many      600 tasks on 2 workers, 200k work units sent at random: every
 *             unit done by its own task, none lost, wake-ups through epoll
 *   detach    tasks detached (and freed) while their doorbells ring: no op
 *             runs after detach returns (ASan would see a use after free)
 *   timeout   an armed task asking for a timeout is woken with no fd
 *   fair      one task always busy, a quiet one on the same worker still
 *             gets every unit it is sent
 *   threads   the process has exactly the workers' threads more
 *   badfd     attaching a task with a bad fd fails cleanly
 *   hup       an fd that hangs up (its pipe's writer closed) wakes the task
 *             once, not in a loop; the task's other fd still works
 */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "backend/worker.h"
#include "ring/pvio_atomic.h"
#include "tests/common/testutil.h"

struct ttask {
	struct pvio_task task;
	int      efd;
	uint64_t pending;          /* atomic: units sent, not yet taken */
	int      armed;            /* atomic: the producer must ring */
	uint64_t sent, done;       /* done: atomic (read by the test thread) */
	int      detached;         /* atomic: set right after detach returned */
	uint64_t after_detach;     /* atomic: ops run after detach (must stay 0) */
	uint64_t timeouts;         /* atomic: woken with no fd */
	uint64_t fd1_wakes;        /* atomic: woken by fds[1] */
	int      timeout_ms;       /* asked for in arm(), -1: none */
	bool     always_busy;
};

#define TT(t) ((struct ttask *)((char *)(t) - offsetof(struct ttask, task)))

static void check_detached(struct ttask *x)
{
	if (pvio_load_acquire(&x->detached))
		pvio_fetch_add(&x->after_detach, 1);
}

static unsigned t_run(struct pvio_task *t)
{
	struct ttask *x = TT(t);
	uint64_t n;

	check_detached(x);
	if (x->always_busy)
		return 1;
	n = __atomic_exchange_n(&x->pending, 0, __ATOMIC_ACQ_REL);
	if (n)
		pvio_fetch_add(&x->done, n);
	return (unsigned)n;
}

static bool t_arm(struct pvio_task *t, int *timeout_ms)
{
	struct ttask *x = TT(t);

	check_detached(x);
	pvio_store_relaxed(&x->armed, 1);
	/* Store-load: armed before the last look; pairs with the producer's
	 * fence between its add and its look at armed. */
	pvio_mb();
	if (pvio_load_acquire(&x->pending)) {
		pvio_store_relaxed(&x->armed, 0);
		return true;
	}
	*timeout_ms = x->timeout_ms;
	return false;
}

static void t_woken(struct pvio_task *t, unsigned fd_mask)
{
	struct ttask *x = TT(t);
	uint64_t v;

	check_detached(x);
	pvio_store_relaxed(&x->armed, 0);
	if (fd_mask & 1) {
		if (read(x->efd, &v, sizeof(v)) < 0) {
			/* spurious */
		}
	} else if (fd_mask & 2) {
		pvio_fetch_add(&x->fd1_wakes, 1);
	} else {
		pvio_fetch_add(&x->timeouts, 1);
	}
}

static const struct pvio_task_ops t_ops = { .run = t_run, .arm = t_arm, .woken = t_woken };

static void tt_init(struct ttask *x)
{
	memset(x, 0, sizeof(*x));
	x->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	REQUIRE(x->efd >= 0);
	x->timeout_ms = -1;
	x->task.ops = &t_ops;
	x->task.fds[0] = x->efd;
	x->task.nfds = 1;
}

static void send_units(struct ttask *x, uint64_t n)
{
	uint64_t one = 1;

	x->sent += n;
	pvio_fetch_add(&x->pending, n);
	pvio_mb();
	if (pvio_load_relaxed(&x->armed) && write(x->efd, &one, sizeof(one)) < 0) {
		/* saturated: readable anyway */
	}
}

static bool wait_done(struct ttask *x, uint64_t want, int ms)
{
	for (int i = 0; i < ms; i++) {
		if (pvio_load_acquire(&x->done) >= want)
			return true;
		poll(NULL, 0, 1);
	}
	return pvio_load_acquire(&x->done) >= want;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int count_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void test_many(void)
{
	enum { NT = 600, UNITS = 200000 };
	struct pvio_workers *ws;
	struct ttask *t = calloc(NT, sizeof(*t));
	uint64_t wakeups = 0;
	int before = count_threads();

	REQUIRE(t);
	REQUIRE(pvio_workers_create(&(struct pvio_workers_cfg){ .n = 2, .poll_us = 0,
								.name = "tw" }, &ws) == 0);
	CHECK_EQ(pvio_workers_count(ws), 2);
	CHECK_EQ(count_threads(), before + 2);
	for (int i = 0; i < NT; i++) {
		tt_init(&t[i]);
		REQUIRE(pvio_task_attach(ws, &t[i].task) == 0);
	}
	/* Evenly spread. */
	CHECK_EQ(pvio_workers_ntasks(ws, 0), NT / 2);
	CHECK_EQ(pvio_workers_ntasks(ws, 1), NT / 2);
	CHECK(pvio_workers_tid(ws, 0) > 0 || pvio_workers_tid(ws, 0) == -1);
	for (int u = 0; u < UNITS; u++) {
		struct ttask *x = &t[rnd() % NT];

		send_units(x, 1 + rnd() % 3);
		if (u % 1000 == 0)
			sched_yield();
	}
	for (int i = 0; i < NT; i++) {
		CHECK(wait_done(&t[i], t[i].sent, 10000));
		CHECK_EQ(pvio_load_acquire(&t[i].done), t[i].sent);
	}
	/* Everything done: a second wave to tasks that are now all asleep. */
	for (int i = 0; i < NT; i++)
		send_units(&t[i], 1);
	for (int i = 0; i < NT; i++) {
		CHECK(wait_done(&t[i], t[i].sent, 10000));
		CHECK_EQ(pvio_load_acquire(&t[i].done), t[i].sent);
		wakeups += t[i].task.st_wakeups;
	}
	CHECK(wakeups >= NT);        /* the second wave came through epoll */
	CHECK(pvio_workers_tid(ws, 0) > 0);
	CHECK(pvio_workers_tid(ws, 1) > 0);
	for (int i = 0; i < NT; i++) {
		pvio_task_detach(&t[i].task);
		close(t[i].efd);
	}
	CHECK_EQ(pvio_workers_ntasks(ws, 0) + pvio_workers_ntasks(ws, 1), 0);
	pvio_workers_destroy(ws);
	CHECK_EQ(count_threads(), before);
	free(t);
}

static void test_detach(void)
{
	enum { NT = 64, ROUNDS = 200 };
	struct pvio_workers *ws;

	REQUIRE(pvio_workers_create(&(struct pvio_workers_cfg){ .n = 2, .poll_us = 20 },
				    &ws) == 0);
	for (int r = 0; r < ROUNDS; r++) {
		struct ttask *t[NT];

		for (int i = 0; i < NT; i++) {
			t[i] = malloc(sizeof(*t[i]));
			REQUIRE(t[i]);
			tt_init(t[i]);
			REQUIRE(pvio_task_attach(ws, &t[i]->task) == 0);
		}
		for (int i = 0; i < NT; i++) {
			send_units(t[i], 1);
			/* Ring it again whatever its state: a readiness that
			 * may come back after the detach below. */
			uint64_t one = 1;
			if (write(t[i]->efd, &one, sizeof(one)) < 0) {
				/* saturated */
			}
			if (i % 2) {
				pvio_task_detach(&t[i]->task);
				pvio_store_release(&t[i]->detached, 1);
			}
		}
		for (int i = 0; i < NT; i++) {
			if (!(i % 2)) {
				CHECK(wait_done(t[i], t[i]->sent, 10000));
				pvio_task_detach(&t[i]->task);
				pvio_store_release(&t[i]->detached, 1);
			}
			CHECK_EQ(pvio_load_acquire(&t[i]->after_detach), 0);
			close(t[i]->efd);
			free(t[i]);      /* ASan: any later touch is a use after free */
		}
	}
	pvio_workers_destroy(ws);
}

static void test_timeout(void)
{
	struct pvio_workers *ws;
	struct ttask x;

	REQUIRE(pvio_workers_create(&(struct pvio_workers_cfg){ .n = 1, .poll_us = 0 },
				    &ws) == 0);
	tt_init(&x);
	x.timeout_ms = 2;
	REQUIRE(pvio_task_attach(ws, &x.task) == 0);
	for (int i = 0; i < 10000 && pvio_load_acquire(&x.timeouts) < 3; i++)
		poll(NULL, 0, 1);
	CHECK(pvio_load_acquire(&x.timeouts) >= 3);
	/* Work still gets through while it cycles on its timer. */
	send_units(&x, 5);
	CHECK(wait_done(&x, 5, 10000));
	pvio_task_detach(&x.task);
	close(x.efd);
	pvio_workers_destroy(ws);
}

static void test_fair(void)
{
	struct pvio_workers *ws;
	struct ttask busy, quiet;

	REQUIRE(pvio_workers_create(&(struct pvio_workers_cfg){ .n = 1, .poll_us = 50 },
				    &ws) == 0);
	tt_init(&busy);
	busy.always_busy = true;
	tt_init(&quiet);
	REQUIRE(pvio_task_attach(ws, &busy.task) == 0);
	REQUIRE(pvio_task_attach(ws, &quiet.task) == 0);
	for (int i = 0; i < 2000; i++) {
		send_units(&quiet, 1);
		if (!wait_done(&quiet, quiet.sent, 10000)) {
			CHECK(!"the quiet task was starved");
			break;
		}
	}
	CHECK_EQ(pvio_load_acquire(&quiet.done), quiet.sent);
	pvio_task_detach(&busy.task);
	pvio_task_detach(&quiet.task);
	close(busy.efd);
	close(quiet.efd);
	pvio_workers_destroy(ws);
}

static void test_badfd(void)
{
	struct pvio_workers *ws;
	struct ttask x, y;

	REQUIRE(pvio_workers_create(&(struct pvio_workers_cfg){ .n = 1 }, &ws) == 0);
	tt_init(&x);
	tt_init(&y);
	x.task.fds[1] = 1 << 20;        /* not an open fd */
	x.task.nfds = 2;
	CHECK_EQ(pvio_task_attach(ws, &x.task), -EBADF);
	CHECK_EQ(pvio_workers_ntasks(ws, 0), 0);
	/* The first fd was taken back: it can be attached again. */
	x.task.nfds = 1;
	CHECK_EQ(pvio_task_attach(ws, &x.task), 0);
	y.task.nfds = PVIO_TASK_MAX_FDS + 1;
	CHECK_EQ(pvio_task_attach(ws, &y.task), -EINVAL);
	send_units(&x, 1);
	CHECK(wait_done(&x, 1, 10000));
	pvio_task_detach(&x.task);
	pvio_task_detach(&x.task);     /* idempotent */
	close(x.efd);
	close(y.efd);
	pvio_workers_destroy(ws);
	pvio_workers_destroy(NULL);
	CHECK_EQ(pvio_workers_create(&(struct pvio_workers_cfg){ .n = PVIO_WORKERS_MAX + 1 },
				     &ws), -EINVAL);
}

static void test_hup(void)
{
	struct pvio_workers *ws;
	struct ttask x;
	int p[2];

	REQUIRE(pvio_workers_create(&(struct pvio_workers_cfg){ .n = 1, .poll_us = 0 },
				    &ws) == 0);
	tt_init(&x);
	REQUIRE(pipe(p) == 0);
	x.task.fds[1] = p[0];
	x.task.nfds = 2;
	REQUIRE(pvio_task_attach(ws, &x.task) == 0);
	send_units(&x, 1);
	CHECK(wait_done(&x, 1, 10000));
	close(p[1]);                    /* p[0]: EPOLLHUP from now on */
	for (int i = 0; i < 10000 && !pvio_load_acquire(&x.fd1_wakes); i++)
		poll(NULL, 0, 1);
	CHECK_EQ(pvio_load_acquire(&x.fd1_wakes), 1);
	/* The worker goes on sleeping and waking for the doorbell; the dead
	 * fd never wakes the task again. */
	for (int i = 0; i < 200; i++) {
		send_units(&x, 1);
		if (!wait_done(&x, x.sent, 10000)) {
			CHECK(!"the doorbell still works");
			break;
		}
	}
	CHECK_EQ(pvio_load_acquire(&x.fd1_wakes), 1);
	CHECK_EQ(x.task.st_deadfds, 1);
	pvio_task_detach(&x.task);
	close(p[0]);
	close(x.efd);
	pvio_workers_destroy(ws);
}

int main(void)
{
	test_many();
	test_detach();
	test_timeout();
	test_fair();
	test_badfd();
	test_hup();
	return tu_result();
}
