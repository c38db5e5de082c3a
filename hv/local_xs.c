/* SPDX-License-Identifier: MIT */
/*
 * The local implementation's xenstore: the same store pviod embeds
 * (xenstore/xsd.h), served by one thread of this process. Every domain's
 * connection is a socketpair whose server end is registered with the
 * domain's id, so permissions work exactly as with pviod.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hv/local_xs.h"
#include "xenstore/xsd.h"

struct pvio_local_xs {
	struct pvio_xsd *xsd;
	pthread_t thr;
	pthread_mutex_t lock;      /* held while the store runs */
	int stop_fd;
};

static void *serve(void *arg)
{
	struct pvio_local_xs *x = arg;
	struct pollfd p[2] = {
		{ .fd = pvio_xsd_fd(x->xsd), .events = POLLIN },
		{ .fd = x->stop_fd, .events = POLLIN },
	};

	for (;;) {
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		if (p[0].revents) {
			pthread_mutex_lock(&x->lock);
			pvio_xsd_dispatch(x->xsd, 0);
			pthread_mutex_unlock(&x->lock);
		}
	}
	return NULL;
}

int pvio_local_xs_start(struct pvio_local_xs **out)
{
	struct pvio_local_xs *x = calloc(1, sizeof(*x));
	struct pvio_xsd_opts o;
	int r;

	if (!x)
		return -ENOMEM;
	pthread_mutex_init(&x->lock, NULL);
	pvio_xsd_opts_default(&o);
	r = pvio_xsd_create(&o, &x->xsd);
	if (r < 0)
		goto err;
	x->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (x->stop_fd < 0) {
		r = -errno;
		goto err;
	}
	r = -pthread_create(&x->thr, NULL, serve, x);
	if (r < 0)
		goto err;
	*out = x;
	return 0;
err:
	if (x->stop_fd > 0)
		close(x->stop_fd);
	if (x->xsd)
		pvio_xsd_destroy(x->xsd);
	free(x);
	return r;
}

void pvio_local_xs_stop(struct pvio_local_xs *x)
{
	uint64_t one = 1;

	if (!x)
		return;
	if (write(x->stop_fd, &one, sizeof(one)) != sizeof(one))
		return;   /* cannot stop the thread: leave it (never happens) */
	pthread_join(x->thr, NULL);
	close(x->stop_fd);
	pvio_xsd_destroy(x->xsd);
	pthread_mutex_destroy(&x->lock);
	free(x);
}

int pvio_local_xs_connect(struct pvio_local_xs *x, uint16_t domid, int *fd)
{
	int sv[2], r;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pthread_mutex_lock(&x->lock);
	r = pvio_xsd_add_conn(x->xsd, sv[0], domid);
	pthread_mutex_unlock(&x->lock);
	if (r < 0) {
		close(sv[1]);
		return r;
	}
	*fd = sv[1];
	return 0;
}

int pvio_local_xs_introduce(struct pvio_local_xs *x, uint16_t domid)
{
	int r;

	pthread_mutex_lock(&x->lock);
	r = pvio_xsd_introduce(x->xsd, domid);
	pthread_mutex_unlock(&x->lock);
	return r;
}

void pvio_local_xs_release(struct pvio_local_xs *x, uint16_t domid)
{
	pthread_mutex_lock(&x->lock);
	pvio_xsd_release_domain(x->xsd, domid);
	pthread_mutex_unlock(&x->lock);
}
