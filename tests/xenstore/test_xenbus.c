/* SPDX-License-Identifier: MIT */
/*
 * The xenbus handshake through the store with the xenbus helpers: a fake
 * backend (dom0) and a fake frontend (dom1), no data path, walk
 * Initialising -> InitWait -> Initialised -> Connected -> Closing -> Closed.
 * The backend finds the device with the discovery watch and sees it go when
 * the toolstack removes it. Three variants, each its own device:
 *   normal        every state, each side waiting for the exact peer state
 *   be-skips      the backend skips InitWait, the frontend doesn't wait for
 *                 it (goes to Initialised with defaults)
 *   fe-skips      netfront: the frontend skips Initialised (keys, then
 *                 Connected), the backend connects on the frontend's Connected
 * Frontend and backend run as two processes, as in the real system; then
 * once more as two threads of this process.
 */
#include <sys/wait.h>
#include <time.h>

#include "tests/xenstore/xs_test.h"
#include "xenstore/xenbus.h"

#define FE 1
#define TMO 10000
#define M(s) PVIO_XENBUS_MASK(PVIO_XENBUS_STATE_##s)

enum mode { NORMAL, BE_SKIPS, FE_SKIPS };
static const char *const mode_name[] = { "normal", "be-skips-initwait", "fe-skips-initialised" };

struct dev {
	enum mode mode;
	uint32_t devid;
	char fe[64], be[96];
};

static void dev_init(struct dev *d, enum mode m, uint32_t devid)
{
	d->mode = m;
	d->devid = devid;
	snprintf(d->fe, sizeof(d->fe), "/local/domain/%u/device/vbd/%u", FE, devid);
	snprintf(d->be, sizeof(d->be), "/local/domain/0/backend/vbd/%u/%u", FE, devid);
}

/* What the toolstack does to plug a device: both directories, state 1. */
static void toolstack_plug(struct pvio_xs *d0, const struct dev *d)
{
	char id[16];
	struct pvio_xenbus_kv be[] = {
		{ "frontend", d->fe }, { "frontend-id", "1" }, { "online", "1" }, { "state", "1" },
	};
	struct pvio_xenbus_kv fe[] = {
		{ "backend", d->be }, { "backend-id", "0" }, { "virtual-device", id },
		{ "state", "1" },
	};

	snprintf(id, sizeof(id), "%u", d->devid);
	CHECK0(pvio_xenbus_write_keys(d0, d->be, be, 4));
	CHECK0(pvio_xenbus_write_keys(d0, d->fe, fe, 4));
}

static void wait_for(struct pvio_xs *xs, const char *dir, unsigned mask,
		     enum pvio_xenbus_state *st, const char *who)
{
	enum pvio_xenbus_state got;
	int ret = pvio_xenbus_wait_state(xs, dir, mask, TMO, &got);

	if (ret)
		FAIL("%s: waiting for %s/state (mask %#x): %s", who, dir, mask, strerror(-ret));
	if (st)
		*st = got;
}

static void check_key(struct pvio_xs *xs, const char *dir, const char *key, const char *want)
{
	char path[160], buf[64];

	snprintf(path, sizeof(path), "%s/%s", dir, key);
	CHECK0(pvio_xs_read_buf(xs, 0, path, buf, sizeof(buf), NULL));
	if (strcmp(buf, want))
		FAIL("%s = \"%s\", want \"%s\"", path, buf, want);
}

/* --------------------------------------------------------------- backend */

struct found {
	uint32_t devid;
	int added, removed;
	char path[128];
};

static void on_dev(void *arg, bool added, uint16_t fe, uint32_t devid, const char *path)
{
	struct found *f = arg;

	if (devid != f->devid)
		return;
	CHECK(fe == FE);
	if (added) {
		f->added++;
		snprintf(f->path, sizeof(f->path), "%s", path);
	} else {
		f->removed++;
	}
}

/* Poll discovery until *flag is set (a poll may handle events that report
 * nothing, e.g. other devices' keys changing). */
static void poll_until(struct pvio_xenbus_devwatch *dw, int *flag, const char *what,
		       uint32_t devid)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!*flag) {
		CHECK(pvio_xenbus_devwatch_poll(dw, TMO) >= 0);
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (!*flag && t.tv_sec - t0.tv_sec > TMO / 1000)
			FAIL("backend %u: %s", devid, what);
	}
}

static void backend(struct pvio_xs *xs, const struct dev *d)
{
	struct pvio_xenbus_devwatch *dw;
	struct found f = { .devid = d->devid };
	enum pvio_xenbus_state st;
	char fe[64];
	struct pvio_xenbus_kv feat[] = {
		{ "feature-persistent", "1" }, { "max-ring-page-order", "4" },
		{ "multi-queue-max-queues", "4" },
	};
	struct pvio_xenbus_kv props[] = {
		{ "sectors", "2048" }, { "sector-size", "512" }, { "info", "0" },
	};

	/* discovery */
	CHECK0(pvio_xenbus_devwatch_start(xs, 0, "vbd", on_dev, &f, &dw));
	poll_until(dw, &f.added, "device never showed up", d->devid);
	CHECK(f.added == 1);
	CHECK_STR(f.path, d->be);
	wait_for(xs, d->be, M(INITIALISING), NULL, "backend");
	{
		char path[128];
		snprintf(path, sizeof(path), "%s/frontend", d->be);
		CHECK0(pvio_xs_read_buf(xs, 0, path, fe, sizeof(fe), NULL));
		CHECK_STR(fe, d->fe);
	}

	/* features, InitWait (unless skipped) */
	CHECK0(pvio_xenbus_write_keys(xs, d->be, feat, 3));
	if (d->mode != BE_SKIPS)
		CHECK0(pvio_xenbus_switch_state(xs, 0, d->be, PVIO_XENBUS_STATE_INITWAIT));

	/* the frontend's keys */
	wait_for(xs, fe, d->mode == NORMAL ? M(INITIALISED) : M(INITIALISED) | M(CONNECTED), &st,
		 "backend");
	CHECK(st == (d->mode == FE_SKIPS ? PVIO_XENBUS_STATE_CONNECTED
					  : PVIO_XENBUS_STATE_INITIALISED));
	check_key(xs, fe, "ring-ref", "8");
	check_key(xs, fe, "event-channel", "3");
	check_key(xs, fe, "protocol", "x86_64-abi");

	/* device properties, Connected */
	CHECK0(pvio_xenbus_write_keys(xs, d->be, props, 3));
	CHECK0(pvio_xenbus_switch_state(xs, 0, d->be, PVIO_XENBUS_STATE_CONNECTED));

	/* teardown, started by the frontend */
	wait_for(xs, fe, M(CLOSING), NULL, "backend");
	CHECK0(pvio_xenbus_switch_state(xs, 0, d->be, PVIO_XENBUS_STATE_CLOSING));
	CHECK0(pvio_xenbus_switch_state(xs, 0, d->be, PVIO_XENBUS_STATE_CLOSED));
	/* Closed, or gone already: the toolstack may unplug at once */
	wait_for(xs, fe, M(CLOSED) | M(UNKNOWN), NULL, "backend");

	/* the toolstack unplugs: discovery reports it */
	poll_until(dw, &f.removed, "removal never reported", d->devid);
	CHECK(f.removed == 1 && f.added == 1);
	pvio_xenbus_devwatch_stop(dw);
}

/* -------------------------------------------------------------- frontend */

static void frontend(struct pvio_xs *xs, const struct dev *d)
{
	enum pvio_xenbus_state st;
	char be[96], path[160];
	struct pvio_xenbus_kv keys[] = {
		{ "ring-ref", "8" }, { "event-channel", "3" }, { "protocol", "x86_64-abi" },
	};

	/* relative paths work for the guest: device/vbd/<id> */
	snprintf(path, sizeof(path), "device/vbd/%u", d->devid);
	wait_for(xs, path, M(INITIALISING), NULL, "frontend");
	snprintf(path, sizeof(path), "device/vbd/%u/backend", d->devid);
	CHECK0(pvio_xs_read_buf(xs, 0, path, be, sizeof(be), NULL));
	CHECK_STR(be, d->be);

	if (d->mode != BE_SKIPS) {
		wait_for(xs, be, M(INITWAIT), NULL, "frontend");
		check_key(xs, be, "feature-persistent", "1");
		check_key(xs, be, "max-ring-page-order", "4");
	}
	CHECK0(pvio_xenbus_write_keys(xs, d->fe, keys, 3));
	if (d->mode == FE_SKIPS) {
		CHECK0(pvio_xenbus_switch_state(xs, 0, d->fe, PVIO_XENBUS_STATE_CONNECTED));
		wait_for(xs, be, M(CONNECTED), NULL, "frontend");
	} else {
		CHECK0(pvio_xenbus_switch_state(xs, 0, d->fe, PVIO_XENBUS_STATE_INITIALISED));
		wait_for(xs, be, M(CONNECTED), NULL, "frontend");
		check_key(xs, be, "sectors", "2048");
		CHECK0(pvio_xenbus_switch_state(xs, 0, d->fe, PVIO_XENBUS_STATE_CONNECTED));
	}
	check_key(xs, be, "sector-size", "512");

	CHECK0(pvio_xenbus_switch_state(xs, 0, d->fe, PVIO_XENBUS_STATE_CLOSING));
	wait_for(xs, be, M(CLOSING) | M(CLOSED), &st, "frontend");
	wait_for(xs, be, M(CLOSED), NULL, "frontend");
	CHECK0(pvio_xenbus_switch_state(xs, 0, d->fe, PVIO_XENBUS_STATE_CLOSED));
}

/* The toolstack's side: both Closed, then unplug. */
static void toolstack_unplug(struct pvio_xs *d0, const struct dev *d)
{
	wait_for(d0, d->be, M(CLOSED), NULL, "toolstack");
	wait_for(d0, d->fe, M(CLOSED), NULL, "toolstack");
	CHECK0(pvio_xs_rm(d0, 0, d->be));
	CHECK0(pvio_xs_rm(d0, 0, d->fe));
}

/* ----------------------------------------------------------- processes */

static pid_t spawn(int keep_fd, void (*fn)(struct pvio_xs *, const struct dev *),
		   const struct dev *d)
{
	pid_t pid = fork();
	struct pvio_xs *xs;

	CHECK(pid >= 0);
	if (pid)
		return pid;
	/* the child keeps only its own connection (and stdio) */
	for (int fd = 3; fd < 1024; fd++)
		if (fd != keep_fd)
			close(fd);
	CHECK0(pvio_xs_open_fd(keep_fd, &xs));
	fn(xs, d);
	pvio_xs_close(xs);
	exit(0);
}

struct th_arg {
	struct pvio_xs *xs;
	const struct dev *d;
	void (*fn)(struct pvio_xs *, const struct dev *);
};

static void *th_main(void *a)
{
	struct th_arg *t = a;

	t->fn(t->xs, t->d);
	return NULL;
}

static void test_helpers(struct pvio_xs *d0)
{
	enum pvio_xenbus_state st;
	unsigned long long v;
	struct pvio_xenbus_kv kv[] = { { "a", "1" }, { "b/c", "2" } };

	CHECK0(pvio_xenbus_read_state(d0, 0, "/xb/none", &st));
	CHECK(st == PVIO_XENBUS_STATE_UNKNOWN);
	CHECK0(pvio_xs_write(d0, 0, "/xb/bad/state", "99", 2));
	CHECK_RET(pvio_xenbus_read_state(d0, 0, "/xb/bad", &st), -EPROTO);
	CHECK0(pvio_xs_write(d0, 0, "/xb/bad/state", "x", 1));
	CHECK_RET(pvio_xenbus_read_state(d0, 0, "/xb/bad", &st), -EPROTO);
	CHECK_RET(pvio_xenbus_wait_state(d0, "/xb/bad", M(CONNECTED), TMO, &st), -EPROTO);
	CHECK0(pvio_xenbus_switch_state(d0, 0, "/xb/ok", PVIO_XENBUS_STATE_INITWAIT));
	CHECK_READ(d0, 0, "/xb/ok/state", "2");
	CHECK_RET(pvio_xenbus_wait_state(d0, "/xb/ok", M(CONNECTED), 50, &st), -ETIMEDOUT);
	CHECK0(pvio_xenbus_wait_state(d0, "/xb/ok", M(INITWAIT) | M(CONNECTED), 0, &st));
	CHECK(st == PVIO_XENBUS_STATE_INITWAIT);
	CHECK0(pvio_xenbus_write_keys(d0, "/xb/keys", kv, 2));
	CHECK0(pvio_xenbus_read_uint(d0, 0, "/xb/keys", "b/c", &v));
	CHECK(v == 2);
	CHECK_RET(pvio_xenbus_read_uint(d0, 0, "/xb/keys", "none", &v), -ENOENT);
	CHECK_STR(pvio_xenbus_state_name(PVIO_XENBUS_STATE_INITIALISED), "Initialised");
	/* the helpers' watches are gone and left nothing queued */
	CHECK_NO_EVENT(d0, NULL);
}

/* A device forgotten is reported again at the next change under it (a
 * backend that could not take it yet: its "frontend" key comes later). */
static void test_forget(struct pvio_xs *d0)
{
	struct pvio_xenbus_devwatch *dw;
	struct found f = { .devid = 7 };
	const char *dev = "/local/domain/0/backend/vfz/1/7";
	char key[128];

	CHECK0(pvio_xenbus_devwatch_start(d0, 0, "vfz", on_dev, &f, &dw));
	snprintf(key, sizeof(key), "%s/params", dev);
	CHECK0(pvio_xs_write(d0, 0, key, "x", 1));
	poll_until(dw, &f.added, "device never showed up", 7);
	CHECK_RET(pvio_xenbus_devwatch_forget(dw, FE, 8), -ENOENT);
	CHECK0(pvio_xenbus_devwatch_forget(dw, FE, 7));
	snprintf(key, sizeof(key), "%s/frontend", dev);
	CHECK0(pvio_xs_write(d0, 0, key, "/local/domain/1/device/vfz/7", 28));
	for (int i = 0; i < 1000 && f.added < 2; i++)
		CHECK(pvio_xenbus_devwatch_poll(dw, 10) >= 0);
	CHECK(f.added == 2 && f.removed == 0);
	CHECK_STR(f.path, dev);
	CHECK0(pvio_xs_rm(d0, 0, "/local/domain/0/backend/vfz"));
	poll_until(dw, &f.removed, "removal never reported", 7);
	pvio_xenbus_devwatch_stop(dw);
}

int main(void)
{
	struct srv s;
	struct pvio_xs *d0;
	struct dev devs[4];
	int fe_fd[3], be_fd[3];
	pid_t pids[6];
	int status;

	/* The domain exists before its frontends start (as with a real
	 * toolstack); then the store thread pauses while the children are
	 * forked, so no thread is running at fork(). */
	srv_start(&s, NULL);
	d0 = srv_conn(&s, 0);
	make_domain(&s, d0, FE);
	{
		struct pvio_xs_perm p[2] = { { 0, PVIO_XS_PERM_NONE }, { FE, PVIO_XS_PERM_READ } };
		CHECK0(pvio_xs_mkdir(d0, 0, "/local/domain/0/backend/vbd/1"));
		CHECK0(pvio_xs_set_perms(d0, 0, "/local/domain/0/backend/vbd/1", p, 2));
	}
	pvio_xsd_stop(s.xsd);
	CHECK0(pthread_join(s.th, NULL));
	for (int m = 0; m < 3; m++) {
		dev_init(&devs[m], (enum mode)m, 51712 + 16 * (uint32_t)m);
		CHECK0(pvio_xsd_socketpair(s.xsd, 0, &be_fd[m]));
		CHECK0(pvio_xsd_socketpair(s.xsd, FE, &fe_fd[m]));
	}
	for (int m = 0; m < 3; m++) {
		pids[2 * m] = spawn(be_fd[m], backend, &devs[m]);
		pids[2 * m + 1] = spawn(fe_fd[m], frontend, &devs[m]);
		close(be_fd[m]);
		close(fe_fd[m]);
	}
	CHECK0(pthread_create(&s.th, NULL, srv_thread, &s));

	test_helpers(d0);
	test_forget(d0);
	for (int m = 0; m < 3; m++)
		toolstack_plug(d0, &devs[m]);
	for (int m = 0; m < 3; m++)
		toolstack_unplug(d0, &devs[m]);
	for (int i = 0; i < 6; i++) {
		CHECK(waitpid(pids[i], &status, 0) == pids[i]);
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			FAIL("%s %s failed (status %#x)", i % 2 ? "frontend" : "backend",
			     mode_name[i / 2], status);
		if (i % 2)
			printf("%s, two processes: ok\n", mode_name[i / 2]);
	}

	/* In-process: backend and frontend threads, the device plugged before
	 * the backend starts looking (discovery reports what exists). */
	{
		struct pvio_xs *bx = srv_conn(&s, 0), *fx = srv_conn(&s, FE);
		struct th_arg ta = { bx, &devs[3], backend }, tb = { fx, &devs[3], frontend };
		pthread_t t1, t2;

		dev_init(&devs[3], NORMAL, 268441344);   /* xvdb-style extended id */
		toolstack_plug(d0, &devs[3]);
		CHECK0(pthread_create(&t1, NULL, th_main, &ta));
		CHECK0(pthread_create(&t2, NULL, th_main, &tb));
		toolstack_unplug(d0, &devs[3]);
		CHECK0(pthread_join(t1, NULL));
		CHECK0(pthread_join(t2, NULL));
		pvio_xs_close(bx);
		pvio_xs_close(fx);
		printf("normal, two threads: ok\n");
	}

	pvio_xs_close(d0);
	srv_stop(&s);
	printf("test_xenbus: ok\n");
	return 0;
}
