/* SPDX-License-Identifier: MIT */
/*
 * Xen's own libxenstore (xs_open with XENSTORED_PATH) against the pvio
 * store: reads/writes, directory listings (a long one goes through
 * DIRECTORY_PART), permissions, watches with tokens, conflicting
 * transactions (one gets EAGAIN and succeeds on retry), domain requests,
 * and a libxenstore client acting as a guest.
 */
#include <signal.h>
#include <stdbool.h>
#include <xenstore.h>

#include "tests/xenstore/xs_test.h"

/* Next event from libxenstore (blocking; alarm() bounds the test). */
static void lx_event(struct xs_handle *x, const char *path, const char *token)
{
	unsigned int num;
	char **vec = xs_read_watch(x, &num);

	CHECK(vec && num >= 2);
	if (strcmp(vec[XS_WATCH_PATH], path) || strcmp(vec[XS_WATCH_TOKEN], token))
		FAIL("event %s %s, want %s %s", vec[XS_WATCH_PATH], vec[XS_WATCH_TOKEN], path,
		     token);
	free(vec);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(void)
{
	char dir[] = "/tmp/pvio-xs-lx-XXXXXX", sock[64], gsock[64], path[64];
	struct srv s;
	struct xs_handle *h1, *h2, *g;
	struct pvio_xs *d0;
	unsigned int len, num;
	char *v, **names;
	int tries;

	alarm(60);
	CHECK(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/socket", dir);
	snprintf(gsock, sizeof(gsock), "%s/guest5", dir);
	srv_start(&s, NULL);
	CHECK0(pvio_xsd_listen(s.xsd, sock));
	CHECK0(pvio_xsd_listen_domain(s.xsd, gsock, 5));
	CHECK0(setenv("XENSTORED_PATH", sock, 1));
	h1 = xs_open(0);
	h2 = xs_open(0);
	CHECK(h1 && h2);

	/* read / write / mkdir / rm */
	CHECK(xs_write(h1, XBT_NULL, "/lx/a", "hello", 5));
	v = xs_read(h1, XBT_NULL, "/lx/a", &len);
	CHECK(v && len == 5 && !strcmp(v, "hello"));
	free(v);
	errno = 0;
	CHECK(!xs_read(h1, XBT_NULL, "/lx/none", &len) && errno == ENOENT);
	CHECK(xs_mkdir(h1, XBT_NULL, "/lx/m/n"));
	CHECK(xs_rm(h1, XBT_NULL, "/lx/m"));
	errno = 0;
	CHECK(!xs_read(h1, XBT_NULL, "/lx/m/n", &len) && errno == ENOENT);

	/* directory listings, short and long (> 4096 bytes: DIRECTORY_PART) */
	CHECK(xs_write(h1, XBT_NULL, "/lx/d/x", "", 0));
	CHECK(xs_write(h1, XBT_NULL, "/lx/d/y", "", 0));
	names = xs_directory(h1, XBT_NULL, "/lx/d", &num);
	CHECK(names && num == 2 && !strcmp(names[0], "x") && !strcmp(names[1], "y"));
	free(names);
	for (int i = 0; i < 300; i++) {
		snprintf(path, sizeof(path), "/lx/big/entry-number-%06d", i);
		CHECK(xs_write(h1, XBT_NULL, path, "", 0));
	}
	names = xs_directory(h1, XBT_NULL, "/lx/big", &num);
	CHECK(names && num == 300);
	qsort(names, num, sizeof(*names), cmp_str);
	for (int i = 0; i < 300; i++) {
		snprintf(path, sizeof(path), "entry-number-%06d", i);
		CHECK_STR(names[i], path);
	}
	free(names);

	/* permissions */
	{
		struct xs_permissions p[2] = { { .id = 0, .perms = XS_PERM_NONE },
					       { .id = 3, .perms = XS_PERM_READ } }, *got;
		CHECK(xs_set_permissions(h1, XBT_NULL, "/lx/a", p, 2));
		got = xs_get_permissions(h1, XBT_NULL, "/lx/a", &num);
		CHECK(got && num == 2 && got[1].id == 3 && got[1].perms == XS_PERM_READ);
		free(got);
	}

	/* watches with tokens */
	CHECK(xs_watch(h1, "/lx/w", "tokA"));
	lx_event(h1, "/lx/w", "tokA");
	CHECK(xs_watch(h1, "/lx/w/sub", "tokB"));
	lx_event(h1, "/lx/w/sub", "tokB");
	CHECK(xs_write(h2, XBT_NULL, "/lx/w/sub/x", "1", 1));
	{
		unsigned int n1, n2;
		char **e1 = xs_read_watch(h1, &n1), **e2 = xs_read_watch(h1, &n2);
		CHECK(e1 && e2);
		CHECK_STR(e1[XS_WATCH_PATH], "/lx/w/sub/x");
		CHECK_STR(e2[XS_WATCH_PATH], "/lx/w/sub/x");
		CHECK(strcmp(e1[XS_WATCH_TOKEN], e2[XS_WATCH_TOKEN]));
		free(e1);
		free(e2);
	}
	CHECK(xs_unwatch(h1, "/lx/w/sub", "tokB"));
	CHECK(xs_write(h2, XBT_NULL, "/lx/w/sub/y", "1", 1));
	lx_event(h1, "/lx/w/sub/y", "tokA");
	CHECK(xs_write(h2, XBT_NULL, "/lx/w/z", "1", 1));
	lx_event(h1, "/lx/w/z", "tokA");   /* nothing for tokB came in between */

	/* conflicting transactions: one commits, the other gets EAGAIN */
	CHECK(xs_write(h1, XBT_NULL, "/lx/cnt", "0", 1));
	{
		xs_transaction_t t1 = xs_transaction_start(h1), t2 = xs_transaction_start(h2);
		CHECK(t1 != XBT_NULL && t2 != XBT_NULL);
		v = xs_read(h1, t1, "/lx/cnt", &len);
		CHECK(v && !strcmp(v, "0"));
		free(v);
		v = xs_read(h2, t2, "/lx/cnt", &len);
		CHECK(v && !strcmp(v, "0"));
		free(v);
		CHECK(xs_write(h1, t1, "/lx/cnt", "1", 1));
		CHECK(xs_write(h2, t2, "/lx/cnt", "1", 1));
		CHECK(xs_transaction_end(h1, t1, false));
		errno = 0;
		CHECK(!xs_transaction_end(h2, t2, false) && errno == EAGAIN);
	}
	for (tries = 1;; tries++) {
		xs_transaction_t t = xs_transaction_start(h2);
		char nv[16];
		v = xs_read(h2, t, "/lx/cnt", &len);
		CHECK(v);
		snprintf(nv, sizeof(nv), "%d", atoi(v) + 1);
		free(v);
		CHECK(xs_write(h2, t, "/lx/cnt", nv, strlen(nv)));
		if (xs_transaction_end(h2, t, false))
			break;
		CHECK(errno == EAGAIN && tries < 5);
	}
	v = xs_read(h1, XBT_NULL, "/lx/cnt", &len);
	CHECK(v && !strcmp(v, "2"));
	free(v);
	/* an aborted one leaves nothing */
	{
		xs_transaction_t t = xs_transaction_start(h1);
		CHECK(xs_write(h1, t, "/lx/aborted", "1", 1));
		CHECK(xs_transaction_end(h1, t, true));
		errno = 0;
		CHECK(!xs_read(h1, XBT_NULL, "/lx/aborted", &len) && errno == ENOENT);
	}

	/* domains */
	v = xs_get_domain_path(h1, 5);
	CHECK(v && !strcmp(v, "/local/domain/5"));
	free(v);
	CHECK(xs_introduce_domain(h1, 7, 0x1234, 9));
	CHECK(xs_is_domain_introduced(h1, 7));
	CHECK(xs_release_domain(h1, 7));
	CHECK(!xs_is_domain_introduced(h1, 7));

	/* libxenstore as guest 5 (through the guest socket) */
	d0 = srv_conn(&s, 0);
	make_domain(&s, d0, 5);
	CHECK0(setenv("XENSTORED_PATH", gsock, 1));
	g = xs_open(0);
	CHECK(g);
	CHECK(xs_write(g, XBT_NULL, "data/x", "g", 1));
	CHECK_READ(d0, 0, "/local/domain/5/data/x", "g");
	errno = 0;
	CHECK(!xs_read(g, XBT_NULL, "/lx/cnt", &len) && errno == EACCES);
	errno = 0;
	CHECK(!xs_write(g, XBT_NULL, "/lx/cnt", "9", 1) && errno == EACCES);
	v = xs_read(g, XBT_NULL, "/lx/a", &len);     /* r3 only: not for 5 */
	CHECK(!v && errno == EACCES);
	errno = 0;
	CHECK(!xs_introduce_domain(g, 8, 1, 1) && errno == EACCES);
	xs_close(g);
	pvio_xs_close(d0);

	xs_close(h1);
	xs_close(h2);
	srv_stop(&s);       /* removes the sockets */
	CHECK0(rmdir(dir));
	printf("test_xs_libxenstore: ok\n");
	return 0;
}
