/* SPDX-License-Identifier: MIT */
/*
 * What blkfront and netfront have in common, as Linux keeps it in struct
 * xenbus_device and xenbus_client.c: the device's name and store paths, the
 * store connection and the watch on the backend's state, the control
 * thread's fds, logging, and the handshake steps both drivers take the same
 * way. Each driver embeds a struct fe_dev as its first member `fe`; its
 * data path (blkfront.c, netfront.c) uses the loggers and the wake-up
 * helpers, its control plane (*_xenbus.c) the rest.
 *
 * Locking: fe->log_lock guards the rate limit of messages a backend can
 * trigger. The control-plane state (marked below) is touched only by open,
 * close and the control thread, never at the same time. Atomics: fe->dead,
 * fe->stop (flags read without locks).
 */
#ifndef PVIO_FE_COMMON_H
#define PVIO_FE_COMMON_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv/hv.h"
#include "ring/ratelimit.h"
#include "ring/xenbus_abi.h"
#include "xenstore/xs.h"

struct fe_dev {
	const char *drv;             /* "blkfront": the message prefix */
	char     name[32];           /* "dom3/51712" for logs */
	struct pvio_xs *xs;
	char     fe_path[256];
	char     be_path[256];
	char     token[64];
	/* The device's nodes may vanish under us (netfront: unplug): a backend
	 * key that became unreadable (-EACCES) is then no backend mistake. */
	bool     unpluggable;

	int      dead;               /* atomic: disabled for good */
	int      stop;               /* atomic: close() in progress */
	int      store_lost;         /* atomic: the store connection failed */
	uint64_t be_state_unreadable; /* atomic: fe_be_state_known() said false */

	/* control thread */
	pthread_t thr;
	bool     thr_running;
	int      kick_fd;            /* eventfd: data path -> control thread */
	int      stop_fd;

	/* control-plane state */
	struct pvio_xs_event ev;
	int      watch_fd;
	int      fe_state;           /* what we last wrote (-1: unknown) */
	bool     be_mq;              /* the backend wrote multi-queue-max-queues */
	bool     watching;           /* the backend's state is watched */
	bool     watching_own;       /* unpluggable: our own backend link too */
	char     state_path[300];
	char     own_path[300];

	pthread_mutex_t log_lock;
	struct pvio_ratelimit log_rl;
};

/* ------------------------------------------------------------ logging */

void fe_log(struct fe_dev *fe, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Rate-limited: for events a backend can cause. */
void fe_log_peer(struct fe_dev *fe, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ------------------------------------------------------------ wake-ups */

/* Add one to an eventfd (fd < 0: nothing); a saturated counter is fine. */
void fe_efd_write(int fd);
/* Reset an eventfd's counter (fd < 0: nothing). */
void fe_efd_drain(int fd);
/* A queue's control eventfd with a flag beside it, so that a poller reads
 * the fd only when it was written: kick sets the flag before the write;
 * drain reads the fd if the flag was set (or always). */
void fe_ctl_kick(int *pending, int fd);
void fe_ctl_drain(int *pending, int fd, bool always);

/* Wake the control thread. */
static inline void fe_kick(struct fe_dev *fe)
{
	fe_efd_write(fe->kick_fd);
}

static inline bool fe_dead(struct fe_dev *fe)
{
	return __atomic_load_n(&fe->dead, __ATOMIC_ACQUIRE) != 0;
}

/* Mark the device dead (said once, with why) and wake the control thread;
 * the driver then wakes its queues. */
void fe_disable(struct fe_dev *fe, const char *why);

/* A queue's wake-up fds, stable across connections: an epoll fd watching an
 * eventfd (ctl_fd) whose events carry tag. 0 or -errno (both fds -1). */
int  fe_queue_fds_init(int *epfd, int *ctl_fd, uint32_t tag);
void fe_queue_fds_fini(int *epfd, int *ctl_fd);

long long fe_now_ms(void);

/* ------------------------------------------------------------ lifetime */

/* Before anything else: no fds, no store; drv is the message prefix.
 * Opens the kick and stop eventfds: 0 or -errno. */
int  fe_init(struct fe_dev *fe, const char *drv);
/* Unwatch, close the store and the fds. Any state fe_init left is fine. */
void fe_fini(struct fe_dev *fe);

/*
 * Connect to the store as domid, name the device <domain path>/device/
 * <type>/<devid> and read its backend and backend-id keys (be_domid).
 * 0, -EPROTO (bad keys, reported), -errno.
 */
int  fe_attach(struct fe_dev *fe, struct pvio_hv *hv, uint16_t domid, const char *type,
	       uint32_t devid, uint16_t *be_domid);
/* Watch <backend>/state and read what we last wrote to ours. 0 or -errno. */
int  fe_watch_backend(struct fe_dev *fe, uint32_t devid);

/* Set stop, wake and join the control thread (if it runs). */
void fe_stop_thread(struct fe_dev *fe);

/* ------------------------------------------------------------ store */

/* The backend's state; Unknown if it cannot be read. */
enum pvio_xenbus_state fe_be_state(struct fe_dev *fe);
/* For a connected device's control thread: true and *st (a missing node
 * reads as Unknown; an unreadable one while unpluggable too), or false when
 * the state could not be read for a reason that says nothing about the
 * backend -- a value that is not a state, a store error. Linux's frontends
 * read those as XenbusStateUnknown and ignore them; the caller keeps its
 * rings (the event channels still say whether the backend is there).
 * Counted in be_state_unreadable, logged rate-limited. */
bool fe_be_state_known(struct fe_dev *fe, enum pvio_xenbus_state *st);
/* Backend key as an unsigned number; def if absent. A value that is no
 * number is the backend's mistake: reported, and treated as absent. */
unsigned long long fe_be_uint(struct fe_dev *fe, const char *key, unsigned long long def,
			      bool *present);
/* The store connection failed (noted by the waits below, logged once): no
 * state change can be read or written any more; the rings stay up. */
bool fe_store_lost(struct fe_dev *fe);
/* Sleep until the store says something (a watch event) or deadline (ms).
 * cancellable: also return -ECANCELED once close() began. 0, -ETIMEDOUT,
 * -ECANCELED, -ENOTCONN (the store is gone), -errno. */
int  fe_wait_change(struct fe_dev *fe, long long deadline, bool cancellable);
/* Wait for the backend to reach one of mask; 0 (its state in *st),
 * -ETIMEDOUT, -ECANCELED, -errno. */
int  fe_wait_be(struct fe_dev *fe, unsigned mask, long long deadline, bool cancellable,
		enum pvio_xenbus_state *st);

/* The control thread's sleep: until the backend's state changes, the data
 * path kicks, or close() begins; drains what woke it. false: stop. */
bool fe_ctl_sleep(struct fe_dev *fe);

/* ------------------------------------------------------------ handshake */

/* What we write while we wait for the backend's InitWait, seeing be: a
 * backend still busy with an earlier connection is asked to let go
 * (Closed), a Closed one to reconnect (Initialising). */
enum pvio_xenbus_state fe_answer_state(enum pvio_xenbus_state be);

/* Queues of a first connection: the backend's multi-queue-max-queues (mq,
 * if fe->be_mq) capped by want and max; at least 1. */
unsigned fe_nr_queues(const struct fe_dev *fe, unsigned long long mq, unsigned want,
		      unsigned max);
/* A reconnection keeps nq queues: -EPROTO (reported) if the backend now
 * offers fewer, else 0. */
int  fe_check_queues(struct fe_dev *fe, unsigned long long mq, unsigned nq);

/* In a transaction: remove the entries of dir that stale() names (the
 * keys of an earlier connection). 0 or -errno (-ENOENT: no dir). */
int  fe_rm_stale_keys(struct pvio_xs *xs, uint32_t tx, const char *dir,
		      bool (*stale)(const char *key));
/* <dir>/<key> = v in decimal. 0 or -errno. */
int  fe_write_uint(struct pvio_xs *xs, uint32_t tx, const char *dir, const char *key,
		   unsigned long long v);
/* The directory of queue qi's keys: ours for one queue, queue-<qi>/ of it
 * for more. */
void fe_queue_dir(struct fe_dev *fe, unsigned nr_queues, unsigned qi, char *dir, size_t size);

/* Wait for the backend's Connected: 0; -ECONNRESET (reported) if it went
 * Closing, Closed, away or back to Initialising instead; -ETIMEDOUT,
 * -ECANCELED, -errno. */
int  fe_wait_connected(struct fe_dev *fe, long long deadline, bool cancellable);

/* Why the device is given up after reconnecting failed with r. */
void fe_give_up_why(int r, unsigned timeout_ms, char *why, size_t size);

#endif /* PVIO_FE_COMMON_H */
