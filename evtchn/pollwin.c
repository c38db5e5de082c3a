/* SPDX-License-Identifier: MIT */
/*
 * The timer of hybrid polling (pollwin.h): one timerfd per thread that
 * sleeps, created on its first sleep and closed when the thread exits (or,
 * in a child of fork(), when it forks).
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "evtchn/pollwin.h"

static pthread_key_t tfd_key;
static pthread_once_t tfd_once = PTHREAD_ONCE_INIT;
static int tfd_key_ok;
static __thread int tfd = -1;

static void tfd_close(void *v)
{
	close((int)(intptr_t)v - 1);
}

/* A child of fork() has the forking thread's timerfd, shared with the
 * parent: a sleep in one would take the other's expiry and leave the other
 * blocked. The child makes its own. */
static void tfd_atfork_child(void)
{
	if (tfd >= 0) {
		close(tfd);
		tfd = -1;
		if (tfd_key_ok)
			pthread_setspecific(tfd_key, NULL);
	}
}

static void tfd_key_init(void)
{
	tfd_key_ok = pthread_key_create(&tfd_key, tfd_close) == 0 &&
		     pthread_atfork(NULL, NULL, tfd_atfork_child) == 0;
}

int pvio_hybrid_sleep(uint64_t ns)
{
	struct itimerspec it = { .it_value = { .tv_sec = (time_t)(ns / 1000000000u),
					       .tv_nsec = (long)(ns % 1000000000u) } };
	uint64_t n;

	if (ns == 0)
		return 0;
	if (tfd < 0) {
		pthread_once(&tfd_once, tfd_key_init);
		if (!tfd_key_ok)
			return -ENOMEM;
		tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
		if (tfd < 0)
			return -errno;
		if (pthread_setspecific(tfd_key, (void *)(intptr_t)(tfd + 1)) != 0) {
			close(tfd);
			tfd = -1;
			return -ENOMEM;
		}
	}
	if (timerfd_settime(tfd, 0, &it, NULL) < 0)
		return -errno;
	/* EINTR: a signal ends the sleep early, which is harmless. */
	if (read(tfd, &n, sizeof(n)) < 0 && errno != EINTR)
		return -errno;
	return 0;
}
