/* SPDX-License-Identifier: MIT */
/*
 * The store's operations, through the client library and on the raw wire:
 * read/write/mkdir/rm/directory(+_part)/perms/domain path, path checks,
 * the exact reply formats, domains (introduce/release).
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "tests/xenstore/xs_test.h"

static void test_basic(struct pvio_xs *d0)
{
	char *v, **names;
	size_t len;
	unsigned n;

	/* write creates missing parents, empty */
	CHECK0(pvio_xs_write(d0, 0, "/a/b/c", "v1", 2));
	CHECK_READ(d0, 0, "/a/b/c", "v1");
	CHECK_READ(d0, 0, "/a/b", "");
	CHECK_READ(d0, 0, "/a", "");
	CHECK0(pvio_xs_write(d0, 0, "/a/b/c", "longer value", 12));
	CHECK_READ(d0, 0, "/a/b/c", "longer value");
	CHECK0(pvio_xs_write(d0, 0, "/a/b/c", "", 0));
	CHECK_READ(d0, 0, "/a/b/c", "");

	/* binary values, NULs included, come back as written */
	CHECK0(pvio_xs_write(d0, 0, "/bin", "x\0y", 3));
	CHECK0(pvio_xs_read(d0, 0, "/bin", &v, &len));
	CHECK(len == 3 && !memcmp(v, "x\0y", 4));
	free(v);

	CHECK_RET(pvio_xs_read(d0, 0, "/nope", &v, &len), -ENOENT);
	CHECK_RET(pvio_xs_read(d0, 0, "/a/nope/deeper", &v, &len), -ENOENT);
	{
		char small[3];
		CHECK_RET(pvio_xs_read_buf(d0, 0, "/a/b/c", small, sizeof(small), &len), 0);
		CHECK0(pvio_xs_write(d0, 0, "/a/b/c", "abc", 3));
		CHECK_RET(pvio_xs_read_buf(d0, 0, "/a/b/c", small, sizeof(small), &len), -ERANGE);
		CHECK(len == 3);
	}
	{
		unsigned long long u;
		CHECK0(pvio_xs_printf(d0, 0, "/num", "%d", 4096));
		CHECK0(pvio_xs_read_uint(d0, 0, "/num", &u));
		CHECK(u == 4096);
		CHECK_RET(pvio_xs_read_uint(d0, 0, "/a/b/c", &u), -EINVAL);
	}

	/* mkdir: creates, keeps an existing value */
	CHECK0(pvio_xs_mkdir(d0, 0, "/m/n"));
	CHECK_READ(d0, 0, "/m/n", "");
	CHECK0(pvio_xs_write(d0, 0, "/m/n", "keep", 4));
	CHECK0(pvio_xs_mkdir(d0, 0, "/m/n"));
	CHECK_READ(d0, 0, "/m/n", "keep");

	/* directory: children in creation order */
	CHECK0(pvio_xs_write(d0, 0, "/d/z", "", 0));
	CHECK0(pvio_xs_write(d0, 0, "/d/a", "", 0));
	CHECK0(pvio_xs_mkdir(d0, 0, "/d/m"));
	CHECK0(pvio_xs_directory(d0, 0, "/d", &names, &n));
	CHECK(n == 3);
	CHECK_STR(names[0], "z");
	CHECK_STR(names[1], "a");
	CHECK_STR(names[2], "m");
	CHECK(names[3] == NULL);
	free(names);
	CHECK0(pvio_xs_directory(d0, 0, "/d/z", &names, &n));
	CHECK(n == 0);
	free(names);
	CHECK_RET(pvio_xs_directory(d0, 0, "/d/q", &names, &n), -ENOENT);
	CHECK0(pvio_xs_directory(d0, 0, "/", &names, &n));
	CHECK(n >= 1);
	CHECK_STR(names[0], "tool");
	free(names);

	/* rm: the subtree; gone already is fine if the parent exists */
	CHECK0(pvio_xs_write(d0, 0, "/r/x/y/z", "1", 1));
	CHECK0(pvio_xs_write(d0, 0, "/r/keep", "1", 1));
	CHECK0(pvio_xs_rm(d0, 0, "/r/x"));
	CHECK_RET(pvio_xs_read(d0, 0, "/r/x/y/z", &v, NULL), -ENOENT);
	CHECK_RET(pvio_xs_read(d0, 0, "/r/x", &v, NULL), -ENOENT);
	CHECK_READ(d0, 0, "/r/keep", "1");
	CHECK0(pvio_xs_directory(d0, 0, "/r", &names, &n));
	CHECK(n == 1);
	CHECK_STR(names[0], "keep");
	free(names);
	CHECK0(pvio_xs_rm(d0, 0, "/r/x"));
	CHECK_RET(pvio_xs_rm(d0, 0, "/r/x/y"), -ENOENT);
	CHECK_RET(pvio_xs_rm(d0, 0, "/"), -EINVAL);
	/* a node can be created again after rm */
	CHECK0(pvio_xs_write(d0, 0, "/r/x", "again", 5));
	CHECK_READ(d0, 0, "/r/x", "again");
}

static void test_paths(struct pvio_xs *d0)
{
	char buf[4000], *v;
	static const char *bad[] = {
		"/a b", "/a/", "/a//b", "", "/a\\b", "/a.b", "/ü", "@foo",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (pvio_xs_read(d0, 0, bad[i], &v, NULL) != -EINVAL)
			FAIL("path \"%s\" accepted", bad[i]);
	CHECK_RET(pvio_xs_write(d0, 0, "/x/", "1", 1), -EINVAL);
	CHECK_READ(d0, 0, "/", "");
	CHECK0(pvio_xs_write(d0, 0, "/ok-_@9/A", "1", 1));

	/* 3072 characters is the longest absolute path */
	memset(buf, 'p', sizeof(buf));
	buf[0] = '/';
	buf[3072] = '\0';
	CHECK0(pvio_xs_write(d0, 0, buf, "1", 1));
	CHECK_READ(d0, 0, buf, "1");
	buf[3072] = 'p';
	buf[3073] = '\0';
	CHECK_RET(pvio_xs_write(d0, 0, buf, "1", 1), -EINVAL);

	/* dom0's relative paths are below /local/domain/0 */
	CHECK0(pvio_xs_write(d0, 0, "rel/k", "r", 1));
	CHECK_READ(d0, 0, "/local/domain/0/rel/k", "r");
}

static void test_big_directory(struct pvio_xs *d0)
{
	char path[64], **names;
	unsigned n;
	size_t rlen;
	char reply[4200];

	/* 300 children of 24 characters: 7500 bytes of names */
	for (int i = 0; i < 300; i++) {
		snprintf(path, sizeof(path), "/big/child-%018d", i);
		CHECK0(pvio_xs_write(d0, 0, path, "", 0));
	}
	CHECK_RET(pvio_xs_request(d0, PVIO_XS_DIRECTORY, 0, "/big", 5, reply, sizeof(reply), &rlen),
		  -E2BIG);
	CHECK0(pvio_xs_directory(d0, 0, "/big", &names, &n));
	CHECK(n == 300);
	for (int i = 0; i < 300; i++) {
		snprintf(path, sizeof(path), "child-%018d", i);
		CHECK_STR(names[i], path);
	}
	free(names);

	/* DIRECTORY_PART: "<gen>\0" + children from the offset; past the end
	 * just "<gen>\0\0" */
	CHECK0(pvio_xs_request(d0, PVIO_XS_DIRECTORY_PART, 0, "/d\0" "0", 5, reply, sizeof(reply),
			       &rlen));
	{
		size_t gl = strlen(reply);
		CHECK(gl > 0 && gl < 20);
		CHECK(rlen == gl + 1 + 6 + 1);
		CHECK(!memcmp(reply + gl + 1, "z\0a\0m\0\0", 7));
	}
	CHECK0(pvio_xs_request(d0, PVIO_XS_DIRECTORY_PART, 0, "/d\0" "99", 6, reply, sizeof(reply),
			       &rlen));
	CHECK(rlen == strlen(reply) + 2 && reply[rlen - 1] == '\0');
	/* the generation changes with the children */
	{
		char g1[24], g2[24];
		CHECK0(pvio_xs_request(d0, PVIO_XS_DIRECTORY_PART, 0, "/d\0" "0", 5, g1,
				       sizeof(g1), NULL));
		CHECK0(pvio_xs_request(d0, PVIO_XS_DIRECTORY_PART, 0, "/d\0" "0", 5, g2,
				       sizeof(g2), NULL));
		CHECK_STR(g1, g2);
		CHECK0(pvio_xs_write(d0, 0, "/d/new", "", 0));
		CHECK0(pvio_xs_request(d0, PVIO_XS_DIRECTORY_PART, 0, "/d\0" "0", 5, g2,
				       sizeof(g2), NULL));
		CHECK(strcmp(g1, g2));
	}
}

static void test_perms_and_domains(struct srv *s, struct pvio_xs *d0)
{
	struct pvio_xs_perm p[3] = { { 0, PVIO_XS_PERM_READ }, { 5, PVIO_XS_PERM_BOTH },
				     { 7, PVIO_XS_PERM_WRITE } }, *got;
	struct pvio_xsd_domain_info di;
	unsigned n;
	char buf[64];
	size_t rlen;

	CHECK0(pvio_xs_write(d0, 0, "/p", "", 0));
	CHECK0(pvio_xs_get_perms(d0, 0, "/p", &got, &n));
	CHECK(n == 1 && got[0].domid == 0 && got[0].perm == PVIO_XS_PERM_NONE);
	free(got);
	CHECK0(pvio_xs_set_perms(d0, 0, "/p", p, 3));
	CHECK0(pvio_xs_request(d0, PVIO_XS_GET_PERMS, 0, "/p", 3, buf, sizeof(buf), &rlen));
	CHECK(rlen == 9 && !memcmp(buf, "r0\0b5\0w7\0", 9));
	/* children inherit */
	CHECK0(pvio_xs_write(d0, 0, "/p/c", "", 0));
	CHECK0(pvio_xs_get_perms(d0, 0, "/p/c", &got, &n));
	CHECK(n == 3 && got[1].domid == 5 && got[1].perm == PVIO_XS_PERM_BOTH);
	free(got);
	CHECK_RET(pvio_xs_request(d0, PVIO_XS_SET_PERMS, 0, "/p\0x0", 6, NULL, 0, NULL), -EINVAL);
	CHECK_RET(pvio_xs_request(d0, PVIO_XS_SET_PERMS, 0, "/p\0r", 5, NULL, 0, NULL), -EINVAL);
	CHECK_RET(pvio_xs_request(d0, PVIO_XS_SET_PERMS, 0, "/p\0r70000", 10, NULL, 0, NULL),
		  -EINVAL);
	CHECK_RET(pvio_xs_request(d0, PVIO_XS_SET_PERMS, 0, "/p", 3, NULL, 0, NULL), -EINVAL);
	CHECK_RET(pvio_xs_set_perms(d0, 0, "/nope", p, 1), -ENOENT);
	/* the special nodes have permissions too */
	CHECK0(pvio_xs_get_perms(d0, 0, "@releaseDomain", &got, &n));
	CHECK(n == 1 && got[0].domid == 0);
	free(got);

	CHECK0(pvio_xs_get_domain_path(d0, 7, buf, sizeof(buf)));
	CHECK_STR(buf, "/local/domain/7");
	CHECK0(pvio_xs_get_domain_path(d0, 0, buf, sizeof(buf)));
	CHECK_STR(buf, "/local/domain/0");

	/* introduce / release */
	CHECK_RET(pvio_xs_is_domain_introduced(d0, 0), 1);
	CHECK_RET(pvio_xs_is_domain_introduced(d0, 9), 0);
	CHECK0(pvio_xs_introduce_domain(d0, 9, 1234, 5));
	CHECK_RET(pvio_xs_is_domain_introduced(d0, 9), 1);
	CHECK0(pvio_xsd_domain_info(s->xsd, 9, &di));
	CHECK(di.introduced && di.conns == 0);
	CHECK_RET(pvio_xs_introduce_domain(d0, 0, 1, 1), -EINVAL);
	CHECK0(pvio_xs_release_domain(d0, 9));
	CHECK_RET(pvio_xs_is_domain_introduced(d0, 9), 0);
	CHECK_RET(pvio_xs_release_domain(d0, 9), -ENOENT);
	CHECK_RET(pvio_xs_release_domain(d0, 0), -EINVAL);
	CHECK_RET(pvio_xsd_release_domain(s->xsd, 0), -EINVAL);
	CHECK_RET(pvio_xsd_release_domain(s->xsd, 99), -ENOENT);

	/* CONTROL, cheaply */
	CHECK0(pvio_xs_request(d0, PVIO_XS_CONTROL, 0, "check", 6, buf, sizeof(buf), NULL));
	CHECK_STR(buf, "OK");
	CHECK_RET(pvio_xs_request(d0, PVIO_XS_CONTROL, 0, "bogus", 6, buf, sizeof(buf), NULL),
		  -EINVAL);
}

/* Guests: relative paths, release closes the connection. */
static void test_guest(struct srv *s, struct pvio_xs *d0)
{
	struct pvio_xs *g = srv_conn(s, 3);
	struct pvio_xsd_domain_info di;
	char *v;

	make_domain(s, d0, 3);
	CHECK0(pvio_xs_write(g, 0, "data/x", "hi", 2));
	CHECK_READ(d0, 0, "/local/domain/3/data/x", "hi");
	CHECK_READ(g, 0, "data/x", "hi");
	CHECK_READ(g, 0, "/local/domain/3/data/x", "hi");
	CHECK0(pvio_xsd_domain_info(s->xsd, 3, &di));
	CHECK(di.conns == 1 && di.nodes == 3);  /* device, data, data/x */

	CHECK0(pvio_xsd_release_domain(s->xsd, 3));
	CHECK_RET(pvio_xs_read(g, 0, "data/x", &v, NULL), -ECONNRESET);
	CHECK_RET(pvio_xs_read(g, 0, "data/x", &v, NULL), -ECONNRESET);
	CHECK0(pvio_xsd_domain_info(s->xsd, 3, &di));
	CHECK(!di.introduced && di.conns == 0 && di.nodes == 0);
	pvio_xs_close(g);
	/* its nodes are dom0's now */
	{
		struct pvio_xs_perm *p;
		unsigned n;
		CHECK0(pvio_xs_get_perms(d0, 0, "/local/domain/3/data/x", &p, &n));
		CHECK(n == 1 && p[0].domid == 0);
		free(p);
	}
}

/* The exact bytes: replies echo req_id and tx_id, READ has no NUL, errors
 * are "ENOENT\0", unknown types get ENOSYS, a watch's first event comes
 * right after the OK, a write's events before its OK. */
static void test_wire(struct srv *s)
{
	int fd = srv_raw(s, 0);
	struct pvio_xsd_sockmsg h;
	char buf[4200];

	raw_send(fd, PVIO_XS_WRITE, 77, 0, "/w/k\0val", 8);
	raw_recv(fd, &h, buf);
	CHECK(h.type == PVIO_XS_WRITE && h.req_id == 77 && h.tx_id == 0 && h.len == 3);
	CHECK(!memcmp(buf, "OK", 3));

	raw_send(fd, PVIO_XS_READ, 78, 0, "/w/k", 5);
	raw_recv(fd, &h, buf);
	CHECK(h.type == PVIO_XS_READ && h.req_id == 78 && h.len == 3 && !memcmp(buf, "val", 3));

	raw_send(fd, PVIO_XS_READ, 79, 0, "/w/none", 8);
	raw_recv(fd, &h, buf);
	CHECK(h.type == PVIO_XS_ERROR && h.req_id == 79 && h.len == 7);
	CHECK(!memcmp(buf, "ENOENT", 7));

	raw_send(fd, 99, 80, 0, "", 0);
	raw_recv(fd, &h, buf);
	CHECK(h.type == PVIO_XS_ERROR && h.req_id == 80 && !strcmp(buf, "ENOSYS"));
	raw_send(fd, PVIO_XS_WATCH_EVENT, 81, 0, "", 0);
	raw_recv(fd, &h, buf);
	CHECK(h.type == PVIO_XS_ERROR && !strcmp(buf, "ENOSYS"));

	raw_send(fd, PVIO_XS_WATCH, 82, 0, "/w\0tok", 7);
	raw_recv(fd, &h, buf);
	CHECK(h.type == PVIO_XS_WATCH && h.req_id == 82 && !strcmp(buf, "OK"));
	raw_recv(fd, &h, buf);
	CHECK(h.type == PVIO_XS_WATCH_EVENT && h.req_id == 0 && h.tx_id == 0 && h.len == 7);
	CHECK(!memcmp(buf, "/w\0tok", 7));

	raw_send(fd, PVIO_XS_WRITE, 83, 0, "/w/k2\0", 6);
	raw_recv(fd, &h, buf);
	CHECK(h.type == PVIO_XS_WATCH_EVENT && !memcmp(buf, "/w/k2\0tok", 10));
	raw_recv(fd, &h, buf);
	CHECK(h.type == PVIO_XS_WRITE && h.req_id == 83);

	/* transactions: the id as a decimal string; replies carry it */
	raw_send(fd, PVIO_XS_TRANSACTION_START, 84, 0, "", 1);
	raw_recv(fd, &h, buf);
	CHECK(h.type == PVIO_XS_TRANSACTION_START && h.len == strlen(buf) + 1);
	{
		uint32_t tx = (uint32_t)strtoul(buf, NULL, 10);
		CHECK(tx != 0);
		raw_send(fd, PVIO_XS_READ, 85, tx, "/w/k", 5);
		raw_recv(fd, &h, buf);
		CHECK(h.type == PVIO_XS_READ && h.req_id == 85 && h.tx_id == tx);
		raw_send(fd, PVIO_XS_TRANSACTION_END, 86, tx, "T", 2);
		raw_recv(fd, &h, buf);
		CHECK(h.type == PVIO_XS_TRANSACTION_END && h.tx_id == tx && !strcmp(buf, "OK"));
	}
	raw_send(fd, PVIO_XS_GET_DOMAIN_PATH, 87, 0, "12", 3);
	raw_recv(fd, &h, buf);
	CHECK(h.len == 17 && !strcmp(buf, "/local/domain/12"));
	raw_send(fd, PVIO_XS_IS_DOMAIN_INTRODUCED, 88, 0, "0", 2);
	raw_recv(fd, &h, buf);
	CHECK(h.len == 2 && !strcmp(buf, "T"));
	close(fd);
}

/* Listening sockets: mode 0600, a live one is not stolen, a stale one is
 * replaced, other files are left alone, destroy removes ours. */
static void test_listen(void)
{
	char dir[] = "/tmp/pvio-xs-listen-XXXXXX", path[64], file[64];
	struct pvio_xsd *x1, *x2;
	struct pvio_xs *c;
	struct stat stb;
	int fd;

	CHECK(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sock", dir);
	snprintf(file, sizeof(file), "%s/file", dir);
	CHECK0(pvio_xsd_create(NULL, &x1));
	CHECK0(pvio_xsd_create(NULL, &x2));
	CHECK0(pvio_xsd_listen(x1, path));
	CHECK0(stat(path, &stb));
	CHECK(S_ISSOCK(stb.st_mode) && (stb.st_mode & 0777) == 0600);
	CHECK_RET(pvio_xsd_listen(x2, path), -EADDRINUSE);
	/* a connection is accepted as dom0 */
	CHECK0(pvio_xs_open(path, &c));
	CHECK0(pvio_xsd_dispatch(x1, 1000) >= 0 ? 0 : -1);
	{
		struct pvio_xsd_domain_info di;
		CHECK0(pvio_xsd_domain_info(x1, 0, &di));
		CHECK(di.conns >= 1);   /* (x2's probe connected too) */
	}
	pvio_xs_close(c);
	pvio_xsd_destroy(x1);
	CHECK(stat(path, &stb) && errno == ENOENT);
	/* stale: bound, nobody listening */
	{
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		strcpy(sa.sun_path, path);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		CHECK0(bind(fd, (struct sockaddr *)&sa, sizeof(sa)));
		close(fd);
	}
	CHECK0(pvio_xsd_listen(x2, path));
	fd = open(file, O_CREAT | O_WRONLY, 0600);
	CHECK(fd >= 0);
	close(fd);
	CHECK_RET(pvio_xsd_listen(x2, file), -EEXIST);
	CHECK0(unlink(file));
	pvio_xsd_destroy(x2);
	CHECK0(rmdir(dir));
}

int main(void)
{
	struct srv s;
	struct pvio_xs *d0;
	struct pvio_xsd_stats st;

	srv_start(&s, NULL);
	d0 = srv_conn(&s, 0);
	test_basic(d0);
	test_paths(d0);
	test_big_directory(d0);
	test_perms_and_domains(&s, d0);
	test_guest(&s, d0);
	test_wire(&s);
	test_listen();
	pvio_xs_close(d0);

	pvio_xsd_get_stats(s.xsd, &st);
	CHECK(st.requests > 100 && st.conns_killed == 0 && st.transactions == 0);
	srv_stop(&s);
	printf("test_xs_ops: ok\n");
	return 0;
}
