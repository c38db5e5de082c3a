/* SPDX-License-Identifier: MIT */
/*
 * Watches: the initial event, events for a node and its descendants, rm's
 * events, relative watches, tokens, unwatch/reset, the special watches,
 * and the client's threading model (a watch thread blocked in read_watch
 * while another thread makes requests; the poll-able fd; callbacks that
 * make requests).
 */
#include <poll.h>

#include "tests/xenstore/xs_test.h"

static void test_events(struct srv *s, struct pvio_xs *d0)
{
	struct pvio_xs *w = srv_conn(s, 0);

	CHECK0(pvio_xs_write(d0, 0, "/w/a", "1", 1));
	CHECK0(pvio_xs_watch(w, "/w", "T1"));
	CHECK_EVENT(w, NULL, "/w", "T1");           /* the initial event */
	CHECK_NO_EVENT(w, NULL);

	CHECK0(pvio_xs_write(d0, 0, "/w/a", "2", 1));
	CHECK_EVENT(w, NULL, "/w/a", "T1");
	CHECK0(pvio_xs_write(d0, 0, "/w/b/c/d", "", 0));
	CHECK_EVENT(w, NULL, "/w/b/c/d", "T1");
	CHECK0(pvio_xs_write(d0, 0, "/w", "self", 4));
	CHECK_EVENT(w, NULL, "/w", "T1");
	CHECK0(pvio_xs_mkdir(d0, 0, "/w/new"));
	CHECK_EVENT(w, NULL, "/w/new", "T1");
	CHECK0(pvio_xs_mkdir(d0, 0, "/w/new"));     /* exists: no change */
	CHECK0(pvio_xs_write(d0, 0, "/wx", "", 0));  /* not below /w */
	CHECK0(pvio_xs_write(d0, 0, "/other/w", "", 0));
	CHECK_NO_EVENT(w, NULL);
	{
		struct pvio_xs_perm p = { 0, PVIO_XS_PERM_READ };
		CHECK0(pvio_xs_set_perms(d0, 0, "/w/a", &p, 1));
		CHECK_EVENT(w, NULL, "/w/a", "T1");
	}

	/* Same path, another token: a second watch. Duplicates: EEXIST. */
	CHECK0(pvio_xs_watch(w, "/w", "T2"));
	CHECK_EVENT(w, NULL, "/w", "T2");
	CHECK_RET(pvio_xs_watch(w, "/w", "T2"), -EEXIST);
	CHECK0(pvio_xs_write(d0, 0, "/w/a", "3", 1));
	CHECK_EVENT(w, "T2", "/w/a", "T2");         /* token filter */
	CHECK_EVENT(w, "T1", "/w/a", "T1");
	CHECK0(pvio_xs_unwatch(w, "/w", "T2"));
	CHECK_RET(pvio_xs_unwatch(w, "/w", "T2"), -ENOENT);
	CHECK_RET(pvio_xs_unwatch(w, "/w", "nope"), -ENOENT);

	/* rm: watchers of the node or above get the node; a watch exactly on
	 * a removed descendant gets that descendant; others nothing. */
	CHECK0(pvio_xs_write(d0, 0, "/w/b/c/e", "", 0));
	CHECK_EVENT(w, NULL, "/w/b/c/e", "T1");
	CHECK0(pvio_xs_watch(w, "/w/b/c/d", "D"));
	CHECK_EVENT(w, NULL, "/w/b/c/d", "D");
	CHECK0(pvio_xs_watch(w, "/w/b/zz", "Z"));   /* doesn't exist */
	CHECK_EVENT(w, NULL, "/w/b/zz", "Z");
	CHECK0(pvio_xs_watch(w, "/", "ROOT"));
	CHECK_EVENT(w, NULL, "/", "ROOT");
	CHECK0(pvio_xs_rm(d0, 0, "/w/b"));
	CHECK_EVENT(w, "D", "/w/b/c/d", "D");
	CHECK_EVENT(w, "T1", "/w/b", "T1");
	CHECK_EVENT(w, "ROOT", "/w/b", "ROOT");
	CHECK_NO_EVENT(w, NULL);
	CHECK0(pvio_xs_rm(d0, 0, "/w/b"));          /* gone already: no event */
	CHECK_NO_EVENT(w, NULL);

	/* reset: all watches gone */
	CHECK0(pvio_xs_reset_watches(w));
	CHECK0(pvio_xs_write(d0, 0, "/w/a", "4", 1));
	CHECK_NO_EVENT(w, NULL);
	CHECK0(pvio_xs_watch(w, "/w", "T1"));       /* and can be set again */
	CHECK_EVENT(w, NULL, "/w", "T1");

	/* events queued in the handle go with unwatch */
	CHECK0(pvio_xs_write(d0, 0, "/w/q1", "", 0));
	CHECK0(pvio_xs_write(d0, 0, "/w/q2", "", 0));
	CHECK0(pvio_xs_unwatch(w, "/w", "T1"));
	CHECK_NO_EVENT(w, NULL);

	/* identical pending events are coalesced; different ones are not */
	CHECK0(pvio_xs_watch(w, "/w", "T1"));
	CHECK_EVENT(w, NULL, "/w", "T1");
	for (int i = 0; i < 10; i++)
		CHECK0(pvio_xs_write(d0, 0, "/w/same", "x", 1));
	CHECK0(pvio_xs_write(d0, 0, "/w/other", "x", 1));
	CHECK_EVENT(w, NULL, "/w/same", "T1");
	CHECK_EVENT(w, NULL, "/w/other", "T1");
	CHECK_NO_EVENT(w, NULL);
	pvio_xs_close(w);
}

static void test_relative_and_special(struct srv *s, struct pvio_xs *d0)
{
	struct pvio_xs *g = srv_conn(s, 4), *w = srv_conn(s, 0);

	make_domain(s, d0, 4);
	CHECK0(pvio_xs_watch(g, "data", "rel"));
	CHECK_EVENT(g, NULL, "data", "rel");
	CHECK0(pvio_xs_write(g, 0, "data/k", "1", 1));
	CHECK_EVENT(g, NULL, "data/k", "rel");
	CHECK0(pvio_xs_write(d0, 0, "/local/domain/4/data/k2", "1", 1));
	CHECK_EVENT(g, NULL, "data/k2", "rel");
	CHECK0(pvio_xs_watch(g, "/local/domain/4/data", "abs"));
	CHECK_EVENT(g, NULL, "/local/domain/4/data", "abs");
	CHECK0(pvio_xs_write(g, 0, "data/k3", "1", 1));
	CHECK_EVENT(g, "abs", "/local/domain/4/data/k3", "abs");
	CHECK_EVENT(g, "rel", "data/k3", "rel");
	CHECK0(pvio_xs_unwatch(g, "data", "rel"));

	/* special watches: dom0 sees introduce and release */
	CHECK0(pvio_xs_watch(w, "@introduceDomain", "I"));
	CHECK_EVENT(w, NULL, "@introduceDomain", "I");
	CHECK0(pvio_xs_watch(w, "@releaseDomain", "R"));
	CHECK_EVENT(w, NULL, "@releaseDomain", "R");
	/* a guest may set them, but gets nothing it has no permission for */
	CHECK0(pvio_xs_watch(g, "@releaseDomain", "gR"));
	CHECK_EVENT(g, NULL, "@releaseDomain", "gR");
	CHECK0(pvio_xsd_introduce(s->xsd, 11));
	CHECK_EVENT(w, NULL, "@introduceDomain", "I");
	CHECK0(pvio_xsd_introduce(s->xsd, 11));     /* once */
	CHECK_NO_EVENT(w, NULL);
	CHECK0(pvio_xsd_release_domain(s->xsd, 11));
	CHECK_EVENT(w, NULL, "@releaseDomain", "R");
	CHECK_NO_EVENT(g, NULL);
	{
		struct pvio_xs_perm p[2] = { { 0, PVIO_XS_PERM_NONE }, { 4, PVIO_XS_PERM_READ } };
		CHECK0(pvio_xs_set_perms(d0, 0, "@releaseDomain", p, 2));
		CHECK_EVENT(w, NULL, "@releaseDomain", "R");
		CHECK_EVENT(g, NULL, "@releaseDomain", "gR");
	}
	CHECK0(pvio_xs_introduce_domain(d0, 12, 0, 0));
	CHECK_EVENT(w, NULL, "@introduceDomain", "I");
	CHECK0(pvio_xs_release_domain(d0, 12));
	CHECK_EVENT(w, NULL, "@releaseDomain", "R");
	CHECK_EVENT(g, NULL, "@releaseDomain", "gR");
	pvio_xs_close(w);
	pvio_xs_close(g);
}

/* ---------------------------------------------------- threading model */

struct waiter {
	struct pvio_xs *xs;
	int got;
	int requests_ok;
};

/* A driver's watch thread: waits for events, reacts with requests. */
static void *watch_thread(void *arg)
{
	struct waiter *wt = arg;
	struct pvio_xs_event ev;

	for (;;) {
		char buf[32];
		if (pvio_xs_read_watch(wt->xs, "thr", &ev, 10000))
			return NULL;
		if (!strcmp(ev.path, "/thr"))
			continue;   /* initial */
		/* a request from the watch thread, while others make theirs */
		if (!pvio_xs_read_buf(wt->xs, 0, ev.path, buf, sizeof(buf), NULL))
			wt->requests_ok++;
		if (!strcmp(ev.path, "/thr/stop"))
			return NULL;
		wt->got++;
	}
}

static void cb_count(void *arg, const char *path, const char *token)
{
	struct pvio_xs *xs = ((void **)arg)[0];
	int *n = ((void **)arg)[1];
	char buf[8];

	(void)token;
	if (!strcmp(path, "/cb/x"))
		CHECK0(pvio_xs_read_buf(xs, 0, path, buf, sizeof(buf), NULL));
	(*n)++;
}

static void test_threads(struct srv *s, struct pvio_xs *d0)
{
	struct pvio_xs *xs = srv_conn(s, 0);
	struct waiter wt = { xs, 0, 0 };
	pthread_t th;
	char path[32], val[16];

	CHECK0(pvio_xs_watch(xs, "/thr", "thr"));
	CHECK0(pthread_create(&th, NULL, watch_thread, &wt));
	/* this thread makes requests on the same handle meanwhile */
	for (int i = 0; i < 2000; i++) {
		snprintf(path, sizeof(path), "/thr/k%d", i % 50);
		CHECK0(pvio_xs_printf(xs, 0, path, "%d", i));
		snprintf(val, sizeof(val), "%d", i);
		CHECK_READ(xs, 0, path, val);
	}
	CHECK0(pvio_xs_write(d0, 0, "/thr/stop", "1", 1));
	CHECK0(pthread_join(th, NULL));
	CHECK(wt.got > 0 && wt.requests_ok == wt.got + 1);

	/* no thread: poll the watch fd, then take what is there */
	{
		int fd = pvio_xs_watch_fd(xs), n = 0;
		void *arg[2] = { xs, &n };
		struct pollfd pfd = { fd, POLLIN, 0 };
		CHECK(fd >= 0);
		CHECK0(pvio_xs_watch(xs, "/cb", "cb"));
		CHECK(poll(&pfd, 1, 5000) == 1);
		while (n < 1)
			CHECK(pvio_xs_dispatch_watches(xs, cb_count, arg) >= 0);
		CHECK(n == 1);                          /* the initial event */
		CHECK0(pvio_xs_write(d0, 0, "/cb/x", "1", 1));
		CHECK(poll(&pfd, 1, 5000) == 1);
		while (n < 2) {
			CHECK(poll(&pfd, 1, 5000) == 1);
			CHECK(pvio_xs_dispatch_watches(xs, cb_count, arg) >= 0);
		}
		CHECK(n == 2);
		CHECK(pvio_xs_dispatch_watches(xs, cb_count, arg) == 0);
	}
	CHECK(pvio_xs_events_dropped(xs) == 0);
	pvio_xs_close(xs);
}

/* A guest that sends WATCH and closes its socket at once: the store's
 * reply fails, the connection goes, and its first event must not be sent
 * through the watch that went with it (a use after free, seen under ASan
 * in the sanitizer pass). The store keeps serving. */
static void test_watch_then_close(struct srv *s, struct pvio_xs *d0)
{
	static const char body[] = "/local/domain/7\0tok\0";
	char buf[64];
	size_t len;

	make_domain(s, d0, 7);
	for (int i = 0; i < 200; i++) {
		int fd = srv_raw(s, 7);

		raw_send(fd, PVIO_XS_WATCH, 1, 0, body, sizeof(body) - 1);
		close(fd);
	}
	CHECK0(pvio_xs_write(d0, 0, "/local/domain/7/x", "1", 1));
	CHECK0(pvio_xs_read_buf(d0, 0, "/local/domain/7/x", buf, sizeof(buf), &len));
	CHECK(len == 1 && buf[0] == '1');
}

int main(void)
{
	struct srv s;
	struct pvio_xs *d0;

	srv_start(&s, NULL);
	d0 = srv_conn(&s, 0);
	test_events(&s, d0);
	test_relative_and_special(&s, d0);
	test_threads(&s, d0);
	test_watch_then_close(&s, d0);
	pvio_xs_close(d0);
	srv_stop(&s);
	printf("test_xs_watch: ok\n");
	return 0;
}
