/* SPDX-License-Identifier: MIT */
/*
 * Transactions: a transaction sees its own writes and a stable view of what
 * it read; nobody else sees them before commit; a commit that conflicts
 * with a change to anything the transaction used fails with EAGAIN (and
 * applies nothing); abort discards; watch events fire at commit only;
 * pvio_xs_transaction_run() retries; ids, nesting and limits.
 */
#include "tests/xenstore/xs_test.h"

static void test_visibility(struct pvio_xs *a, struct pvio_xs *b)
{
	uint32_t tx;
	char *v, **names;
	unsigned n;

	CHECK0(pvio_xs_mkdir(a, 0, "/t"));
	CHECK0(pvio_xs_transaction_start(a, &tx));
	CHECK0(pvio_xs_write(a, tx, "/t/a", "1", 1));
	CHECK0(pvio_xs_write(a, tx, "/t/sub/b", "2", 1));
	CHECK_READ(a, tx, "/t/a", "1");                       /* own writes */
	CHECK_READ(a, tx, "/t/sub/b", "2");
	CHECK0(pvio_xs_directory(a, tx, "/t", &names, &n));
	CHECK(n == 2);
	free(names);
	CHECK_RET(pvio_xs_read(a, 0, "/t/a", &v, NULL), -ENOENT); /* not outside */
	CHECK_RET(pvio_xs_read(b, 0, "/t/a", &v, NULL), -ENOENT);
	CHECK0(pvio_xs_directory(b, 0, "/t", &names, &n));
	CHECK(n == 0);
	free(names);
	CHECK0(pvio_xs_transaction_end(a, tx, true));
	CHECK_READ(b, 0, "/t/a", "1");
	CHECK_READ(b, 0, "/t/sub/b", "2");
	/* the id is gone */
	CHECK_RET(pvio_xs_read(a, tx, "/t/a", &v, NULL), -ENOENT);
	CHECK_RET(pvio_xs_transaction_end(a, tx, true), -ENOENT);

	/* abort discards */
	CHECK0(pvio_xs_transaction_start(a, &tx));
	CHECK0(pvio_xs_write(a, tx, "/t/a", "changed", 7));
	CHECK0(pvio_xs_write(a, tx, "/t/new", "n", 1));
	CHECK0(pvio_xs_rm(a, tx, "/t/sub"));
	CHECK_RET(pvio_xs_read(a, tx, "/t/sub/b", &v, NULL), -ENOENT);
	CHECK_READ(b, 0, "/t/sub/b", "2");
	CHECK0(pvio_xs_transaction_end(a, tx, false));
	CHECK_READ(b, 0, "/t/a", "1");
	CHECK_RET(pvio_xs_read(b, 0, "/t/new", &v, NULL), -ENOENT);
	CHECK_READ(b, 0, "/t/sub/b", "2");

	/* rm in a transaction, committed */
	CHECK0(pvio_xs_transaction_start(a, &tx));
	CHECK0(pvio_xs_rm(a, tx, "/t/sub"));
	CHECK_READ(b, 0, "/t/sub/b", "2");
	CHECK0(pvio_xs_transaction_end(a, tx, true));
	CHECK_RET(pvio_xs_read(b, 0, "/t/sub/b", &v, NULL), -ENOENT);
	CHECK_RET(pvio_xs_read(b, 0, "/t/sub", &v, NULL), -ENOENT);
	CHECK0(pvio_xs_directory(b, 0, "/t", &names, &n));
	CHECK(n == 1);
	CHECK_STR(names[0], "a");
	free(names);

	/* create, rm, create again in one transaction */
	CHECK0(pvio_xs_transaction_start(a, &tx));
	CHECK0(pvio_xs_write(a, tx, "/t/x/y", "1", 1));
	CHECK0(pvio_xs_rm(a, tx, "/t/x"));
	CHECK0(pvio_xs_write(a, tx, "/t/x/z", "2", 1));
	CHECK0(pvio_xs_transaction_end(a, tx, true));
	CHECK_READ(b, 0, "/t/x/z", "2");
	CHECK_RET(pvio_xs_read(b, 0, "/t/x/y", &v, NULL), -ENOENT);
}

static void test_conflicts(struct pvio_xs *a, struct pvio_xs *b)
{
	uint32_t ta, tb;
	char *v;

	/* both read-modify-write the same node: the second commit loses */
	CHECK0(pvio_xs_write(a, 0, "/c/n", "0", 1));
	CHECK0(pvio_xs_transaction_start(a, &ta));
	CHECK0(pvio_xs_transaction_start(b, &tb));
	CHECK_READ(a, ta, "/c/n", "0");
	CHECK_READ(b, tb, "/c/n", "0");
	CHECK0(pvio_xs_write(a, ta, "/c/n", "A", 1));
	CHECK0(pvio_xs_write(b, tb, "/c/n", "B", 1));
	CHECK0(pvio_xs_transaction_end(a, ta, true));
	CHECK_RET(pvio_xs_transaction_end(b, tb, true), -EAGAIN);
	CHECK_READ(a, 0, "/c/n", "A");

	/* a stable view: what it read doesn't change under it; commit fails */
	CHECK0(pvio_xs_transaction_start(a, &ta));
	CHECK_READ(a, ta, "/c/n", "A");
	CHECK0(pvio_xs_write(b, 0, "/c/n", "outside", 7));
	CHECK_READ(a, ta, "/c/n", "A");
	CHECK0(pvio_xs_write(a, ta, "/c/other", "x", 1));
	CHECK_RET(pvio_xs_transaction_end(a, ta, true), -EAGAIN);
	CHECK_RET(pvio_xs_read(a, 0, "/c/other", &v, NULL), -ENOENT);   /* nothing applied */

	/* a node the transaction found missing, created meanwhile: conflict */
	CHECK0(pvio_xs_transaction_start(a, &ta));
	CHECK_RET(pvio_xs_read(a, ta, "/c/late", &v, NULL), -ENOENT);
	CHECK0(pvio_xs_write(b, 0, "/c/late", "b", 1));
	CHECK0(pvio_xs_write(a, ta, "/c/x", "1", 1));
	CHECK_RET(pvio_xs_transaction_end(a, ta, true), -EAGAIN);

	/* disjoint existing nodes: both commit */
	CHECK0(pvio_xs_write(a, 0, "/c/p", "0", 1));
	CHECK0(pvio_xs_write(a, 0, "/c/q", "0", 1));
	CHECK0(pvio_xs_transaction_start(a, &ta));
	CHECK0(pvio_xs_transaction_start(b, &tb));
	CHECK0(pvio_xs_write(a, ta, "/c/p", "a", 1));
	CHECK0(pvio_xs_write(b, tb, "/c/q", "b", 1));
	CHECK0(pvio_xs_transaction_end(b, tb, true));
	CHECK0(pvio_xs_transaction_end(a, ta, true));
	CHECK_READ(a, 0, "/c/p", "a");
	CHECK_READ(a, 0, "/c/q", "b");

	/* a read-only transaction that saw a change still fails, like xenstored */
	CHECK0(pvio_xs_transaction_start(a, &ta));
	CHECK_READ(a, ta, "/c/p", "a");
	CHECK0(pvio_xs_write(b, 0, "/c/p", "z", 1));
	CHECK_RET(pvio_xs_transaction_end(a, ta, true), -EAGAIN);
}

static void test_watch_at_commit(struct srv *s, struct pvio_xs *a)
{
	struct pvio_xs *w = srv_conn(s, 0);
	uint32_t tx;

	CHECK0(pvio_xs_mkdir(a, 0, "/e"));
	CHECK0(pvio_xs_watch(w, "/e", "E"));
	CHECK_EVENT(w, NULL, "/e", "E");
	CHECK0(pvio_xs_transaction_start(a, &tx));
	CHECK0(pvio_xs_write(a, tx, "/e/k", "1", 1));
	CHECK_NO_EVENT(w, NULL);
	CHECK0(pvio_xs_transaction_end(a, tx, true));
	CHECK_EVENT(w, NULL, "/e/k", "E");
	CHECK_NO_EVENT(w, NULL);

	CHECK0(pvio_xs_transaction_start(a, &tx));
	CHECK0(pvio_xs_write(a, tx, "/e/k", "2", 1));
	CHECK0(pvio_xs_transaction_end(a, tx, false));
	CHECK_NO_EVENT(w, NULL);

	CHECK0(pvio_xs_transaction_start(a, &tx));
	CHECK0(pvio_xs_rm(a, tx, "/e/k"));
	CHECK0(pvio_xs_transaction_end(a, tx, true));
	CHECK_EVENT(w, NULL, "/e/k", "E");
	pvio_xs_close(w);
}

/* Many writers bump one counter through transaction_run: none is lost. */
struct bump {
	struct srv *s;
	int n;
};

static int bump_tx(struct pvio_xs *xs, uint32_t tx, void *arg)
{
	unsigned long long v;
	int ret;

	(void)arg;
	ret = pvio_xs_read_uint(xs, tx, "/cnt", &v);
	if (ret)
		return ret;
	return pvio_xs_printf(xs, tx, "/cnt", "%llu", v + 1);
}

static void *bumper(void *arg)
{
	struct bump *b = arg;
	struct pvio_xs *xs = srv_conn(b->s, 0);

	for (int i = 0; i < b->n; i++)
		CHECK0(pvio_xs_transaction_run(xs, bump_tx, NULL));
	pvio_xs_close(xs);
	return NULL;
}

static void test_run(struct srv *s, struct pvio_xs *a)
{
	pthread_t th[3];
	struct bump b = { s, 200 };
	unsigned long long v;
	struct pvio_xsd_stats st;

	CHECK0(pvio_xs_write(a, 0, "/cnt", "0", 1));
	for (int i = 0; i < 3; i++)
		CHECK0(pthread_create(&th[i], NULL, bumper, &b));
	for (int i = 0; i < 3; i++)
		CHECK0(pthread_join(th[i], NULL));
	CHECK0(pvio_xs_read_uint(a, 0, "/cnt", &v));
	CHECK(v == 600);
	pvio_xsd_get_stats(s->xsd, &st);
	printf("600 increments, %llu conflicts retried\n", (unsigned long long)st.tx_conflicts);
}

static int fail_tx(struct pvio_xs *xs, uint32_t tx, void *arg)
{
	(void)arg;
	CHECK0(pvio_xs_write(xs, tx, "/failed", "1", 1));
	return -EIO;
}

static void test_limits(struct srv *s, struct pvio_xs *d0)
{
	struct pvio_xs *g = srv_conn(s, 6);
	uint32_t tx[12], t;
	char *v;

	/* fn's error aborts */
	CHECK_RET(pvio_xs_transaction_run(d0, fail_tx, NULL), -EIO);
	CHECK_RET(pvio_xs_read(d0, 0, "/failed", &v, NULL), -ENOENT);

	/* guests: 10 open transactions (default quota); dom0 is exempt */
	make_domain(s, d0, 6);
	for (int i = 0; i < 10; i++)
		CHECK0(pvio_xs_transaction_start(g, &tx[i]));
	CHECK_RET(pvio_xs_transaction_start(g, &t), -ENOSPC);
	CHECK0(pvio_xs_transaction_end(g, tx[3], false));
	CHECK0(pvio_xs_transaction_start(g, &tx[3]));
	for (int i = 0; i < 10; i++)
		for (int j = 0; j < i; j++)
			CHECK(tx[i] != tx[j]);
	for (int i = 0; i < 10; i++)
		CHECK0(pvio_xs_transaction_end(g, tx[i], false));
	for (int i = 0; i < 12; i++)
		CHECK0(pvio_xs_transaction_start(d0, &tx[i]));
	for (int i = 0; i < 12; i++)
		CHECK0(pvio_xs_transaction_end(d0, tx[i], false));

	/* nesting: EBUSY; bad end argument: EINVAL; unknown id: ENOENT */
	CHECK0(pvio_xs_transaction_start(d0, &t));
	CHECK_RET(pvio_xs_request(d0, PVIO_XS_TRANSACTION_START, t, "", 1, NULL, 0, NULL), -EBUSY);
	CHECK_RET(pvio_xs_request(d0, PVIO_XS_TRANSACTION_END, t, "X", 2, NULL, 0, NULL), -EINVAL);
	CHECK0(pvio_xs_transaction_end(d0, t, false));
	CHECK_RET(pvio_xs_read(d0, 12345, "/", &v, NULL), -ENOENT);

	/* a guest's node count follows its committed transactions */
	{
		struct pvio_xsd_domain_info di, di2;
		CHECK0(pvio_xsd_domain_info(s->xsd, 6, &di));
		CHECK0(pvio_xs_transaction_start(g, &t));
		CHECK0(pvio_xs_write(g, t, "data/a/b", "1", 1));
		CHECK0(pvio_xsd_domain_info(s->xsd, 6, &di2));
		CHECK(di2.nodes == di.nodes && di2.transactions == 1);
		CHECK0(pvio_xs_transaction_end(g, t, true));
		CHECK0(pvio_xsd_domain_info(s->xsd, 6, &di2));
		CHECK(di2.nodes == di.nodes + 2 && di2.transactions == 0);
		CHECK0(pvio_xs_transaction_start(g, &t));
		CHECK0(pvio_xs_rm(g, t, "data/a"));
		CHECK0(pvio_xs_transaction_end(g, t, true));
		CHECK0(pvio_xsd_domain_info(s->xsd, 6, &di2));
		CHECK(di2.nodes == di.nodes);
	}

	/* transactions die with the connection */
	CHECK0(pvio_xs_transaction_start(g, &t));
	pvio_xs_close(g);
	{
		struct pvio_xsd_stats st;
		/* a round trip on another connection: the close is handled */
		CHECK0(pvio_xs_get_domain_path(d0, 0, (char[32]){ 0 }, 32));
		pvio_xsd_get_stats(s->xsd, &st);
		CHECK(st.transactions == 0);
	}
}

int main(void)
{
	struct srv s;
	struct pvio_xs *a, *b;

	srv_start(&s, NULL);
	a = srv_conn(&s, 0);
	b = srv_conn(&s, 0);
	test_visibility(a, b);
	test_conflicts(a, b);
	test_watch_at_commit(&s, a);
	test_run(&s, a);
	test_limits(&s, a);
	pvio_xs_close(a);
	pvio_xs_close(b);
	srv_stop(&s);
	printf("test_xs_txn: ok\n");
	return 0;
}
