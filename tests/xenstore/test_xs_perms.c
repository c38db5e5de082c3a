/* SPDX-License-Identifier: MIT */
/*
 * The permission matrix, with xenstored's rules: guest A (dom1) and guest B
 * (dom2) with homes as libxl lays them out, dom0's backend directory for A.
 * A guest reads/writes/lists/watches only what the ACLs grant; a missing
 * node it may not know about looks forbidden, not missing; dom0 may do
 * anything; guests own what they create and can't give it away; losing
 * access still tells a watcher; release takes a domain out of every ACL.
 */
#include "tests/xenstore/xs_test.h"

#define A 1
#define B 2
#define AHOME "/local/domain/1"
#define BE    "/local/domain/0/backend/vbd/1/51712"

static struct pvio_xs_perm P(uint16_t d, uint8_t p)
{
	return (struct pvio_xs_perm){ d, p };
}

static void check_perms(struct pvio_xs *xs, const char *path, const char *want)
{
	char buf[128], got[128] = "";
	size_t len, o = 0;

	CHECK0(pvio_xs_request(xs, PVIO_XS_GET_PERMS, 0, path, strlen(path) + 1, buf,
			       sizeof(buf), &len));
	for (size_t i = 0; i < len; i += strlen(buf + i) + 1)
		o += (size_t)snprintf(got + o, sizeof(got) - o, "%s%s", o ? "," : "", buf + i);
	if (strcmp(got, want))
		FAIL("perms of %s: %s, want %s", path, got, want);
}

/* Everything a guest may try on a node, and what it must get. */
static void expect(struct pvio_xs *g, const char *path, int rd, int wr)
{
	char *v, **names;
	unsigned n;
	struct pvio_xs_perm *p;

	if (pvio_xs_read(g, 0, path, &v, NULL) != rd)
		FAIL("read %s: want %d", path, rd);
	if (!rd)
		free(v);
	if (pvio_xs_directory(g, 0, path, &names, &n) != rd)
		FAIL("directory %s: want %d", path, rd);
	if (!rd)
		free(names);
	if (pvio_xs_get_perms(g, 0, path, &p, &n) != rd)
		FAIL("get_perms %s: want %d", path, rd);
	if (!rd)
		free(p);
	if (pvio_xs_write(g, 0, path, "w", 1) != wr)
		FAIL("write %s: want %d", path, wr);
	if (pvio_xs_mkdir(g, 0, path) != wr)
		FAIL("mkdir %s: want %d", path, wr);
}

int main(void)
{
	struct srv s;
	struct pvio_xs *d0, *a, *b, *w;
	struct pvio_xs_perm p[3];
	char *v;

	srv_start(&s, NULL);
	d0 = srv_conn(&s, 0);
	a = srv_conn(&s, A);
	b = srv_conn(&s, B);
	make_domain(&s, d0, A);
	make_domain(&s, d0, B);

	/* A's own nodes: owned by A (inherited ACL "n1"), others see nothing */
	CHECK0(pvio_xs_write(a, 0, "data/secret", "s3cr3t", 6));
	check_perms(d0, AHOME "/data/secret", "n1");
	expect(a, AHOME "/data/secret", 0, 0);
	expect(b, AHOME "/data/secret", -EACCES, -EACCES);
	CHECK_RET(pvio_xs_rm(b, 0, AHOME "/data/secret"), -EACCES);
	/* a missing node under a forbidden one must not look missing */
	CHECK_RET(pvio_xs_read(b, 0, AHOME "/data/nothere", &v, NULL), -EACCES);
	CHECK_RET(pvio_xs_read(b, 0, AHOME "/data/no/where", &v, NULL), -EACCES);
	CHECK_RET(pvio_xs_read(a, 0, AHOME "/data/nothere", &v, NULL), -ENOENT);
	CHECK_RET(pvio_xs_rm(a, 0, AHOME "/data/nothere"), 0);
	CHECK_RET(pvio_xs_rm(b, 0, AHOME "/data/nothere"), -EACCES);
	/* A's home is dom0's, readable by A only */
	expect(a, AHOME, 0, -EACCES);
	expect(b, AHOME, -EACCES, -EACCES);
	CHECK_RET(pvio_xs_write(a, 0, AHOME "/newkey", "x", 1), -EACCES);
	/* nothing outside: root is n0 */
	CHECK_RET(pvio_xs_write(a, 0, "/top", "x", 1), -EACCES);
	CHECK_RET(pvio_xs_read(a, 0, "/tool", &v, NULL), -EACCES);
	CHECK_RET(pvio_xs_read(a, 0, "/nonexistent", &v, NULL), -EACCES);
	/* dom0 can do anything */
	expect(d0, AHOME "/data/secret", 0, 0);
	CHECK0(pvio_xs_write(d0, 0, AHOME "/data/secret", "s3cr3t", 6));
	/* dom0 creating in A's directory: the node is A's (inherited) */
	CHECK0(pvio_xs_write(d0, 0, AHOME "/data/from0", "x", 1));
	check_perms(d0, AHOME "/data/from0", "n1");

	/* dom0's backend directory for A: readable by A (the frontend), not B */
	CHECK0(pvio_xs_write(d0, 0, BE "/state", "1", 1));
	p[0] = P(0, PVIO_XS_PERM_NONE);
	p[1] = P(A, PVIO_XS_PERM_READ);
	CHECK0(pvio_xs_set_perms(d0, 0, "/local/domain/0/backend/vbd/1", p, 2));
	CHECK0(pvio_xs_set_perms(d0, 0, BE, p, 2));
	CHECK0(pvio_xs_set_perms(d0, 0, BE "/state", p, 2));
	expect(a, BE "/state", 0, -EACCES);
	expect(b, BE "/state", -EACCES, -EACCES);
	CHECK_RET(pvio_xs_rm(a, 0, BE "/state"), -EACCES);
	CHECK_RET(pvio_xs_write(a, 0, BE "/evil", "x", 1), -EACCES);
	CHECK_RET(pvio_xs_read(a, 0, BE "/nothere", &v, NULL), -ENOENT);  /* may know */
	CHECK_RET(pvio_xs_read(b, 0, BE "/nothere", &v, NULL), -EACCES);
	expect(d0, BE "/state", 0, 0);

	/* granting: r2, then b2; only the owner may change ACLs, and a guest
	 * may not give its node away */
	p[0] = P(A, PVIO_XS_PERM_NONE);
	p[1] = P(B, PVIO_XS_PERM_READ);
	CHECK0(pvio_xs_set_perms(a, 0, "data/secret", p, 2));
	expect(b, AHOME "/data/secret", 0, -EACCES);
	CHECK_RET(pvio_xs_set_perms(b, 0, AHOME "/data/secret", p, 2), -EACCES);
	p[1] = P(B, PVIO_XS_PERM_BOTH);
	CHECK0(pvio_xs_set_perms(a, 0, "data/secret", p, 2));
	expect(b, AHOME "/data/secret", 0, 0);
	CHECK_RET(pvio_xs_set_perms(b, 0, AHOME "/data/secret", p, 2), -EACCES);  /* b != owner */
	p[0] = P(B, PVIO_XS_PERM_NONE);
	CHECK_RET(pvio_xs_set_perms(a, 0, "data/secret", p, 1), -EPERM);
	CHECK0(pvio_xs_set_perms(d0, 0, AHOME "/data/secret", p, 1));  /* dom0 may */
	check_perms(d0, AHOME "/data/secret", "n2");
	expect(b, AHOME "/data/secret", 0, 0);
	expect(a, AHOME "/data/secret", -EACCES, -EACCES);
	/* "everyone else" is the owner entry's permission; listed domains first */
	p[0] = P(B, PVIO_XS_PERM_READ);
	p[1] = P(A, PVIO_XS_PERM_NONE);
	CHECK0(pvio_xs_set_perms(b, 0, AHOME "/data/secret", p, 2));
	expect(a, AHOME "/data/secret", -EACCES, -EACCES);
	{
		struct pvio_xs *other = srv_conn(&s, 9);
		CHECK0(pvio_xs_read(other, 0, AHOME "/data/secret", &v, NULL));
		free(v);
		pvio_xs_close(other);
	}

	/* B creates below a node A shares with it: B owns the new node,
	 * which keeps the rest of the ACL */
	CHECK0(pvio_xs_mkdir(a, 0, "data/shared"));
	p[0] = P(A, PVIO_XS_PERM_NONE);
	p[1] = P(B, PVIO_XS_PERM_BOTH);
	CHECK0(pvio_xs_set_perms(a, 0, "data/shared", p, 2));
	CHECK0(pvio_xs_write(b, 0, AHOME "/data/shared/fromB/x", "1", 1));
	check_perms(d0, AHOME "/data/shared/fromB", "n2,b2");
	check_perms(d0, AHOME "/data/shared/fromB/x", "n2,b2");
	CHECK_RET(pvio_xs_read(a, 0, AHOME "/data/shared/fromB/x", &v, NULL), -EACCES);

	/* privileged operations */
	CHECK_RET(pvio_xs_introduce_domain(a, 5, 0, 0), -EACCES);
	CHECK_RET(pvio_xs_release_domain(a, B), -EACCES);
	CHECK_RET(pvio_xs_is_domain_introduced(a, B), -EACCES);
	CHECK_RET(pvio_xs_request(a, PVIO_XS_CONTROL, 0, "check", 6, NULL, 0, NULL), -EACCES);
	CHECK_RET(pvio_xs_request(a, PVIO_XS_SET_TARGET, 0, "1\0" "2", 4, NULL, 0, NULL), -EACCES);

	/* watches: B may watch A's directory but hears nothing of it ... */
	w = srv_conn(&s, 0);
	CHECK0(pvio_xs_watch(b, AHOME "/data", "bw"));
	CHECK_EVENT(b, NULL, AHOME "/data", "bw");    /* the initial one always comes */
	CHECK0(pvio_xs_watch(w, AHOME "/data", "d0"));
	CHECK_EVENT(w, NULL, AHOME "/data", "d0");
	CHECK0(pvio_xs_write(a, 0, "data/k", "1", 1));
	CHECK_EVENT(w, NULL, AHOME "/data/k", "d0");
	CHECK_NO_EVENT(b, NULL);
	/* ... except of what it may read (or whose parent it may read) */
	CHECK0(pvio_xs_write(a, 0, "data/shared/k", "1", 1));
	CHECK_EVENT(b, NULL, AHOME "/data/shared/k", "bw");
	CHECK_EVENT(w, NULL, AHOME "/data/shared/k", "d0");
	p[0] = P(A, PVIO_XS_PERM_NONE);
	CHECK0(pvio_xs_set_perms(a, 0, "data/shared/k", p, 1));   /* parent still readable */
	CHECK_EVENT(b, NULL, AHOME "/data/shared/k", "bw");
	CHECK_EVENT(w, NULL, AHOME "/data/shared/k", "d0");
	/* losing access tells once, then silence */
	CHECK0(pvio_xs_set_perms(a, 0, "data/shared", p, 1));
	CHECK_EVENT(b, NULL, AHOME "/data/shared", "bw");
	CHECK_EVENT(w, NULL, AHOME "/data/shared", "d0");
	CHECK0(pvio_xs_write(a, 0, "data/shared", "2", 1));
	CHECK_EVENT(w, NULL, AHOME "/data/shared", "d0");
	CHECK_NO_EVENT(b, NULL);
	/* removal of a node B could read is told */
	p[0] = P(A, PVIO_XS_PERM_NONE);
	p[1] = P(B, PVIO_XS_PERM_READ);
	CHECK0(pvio_xs_write(a, 0, "data/pub", "1", 1));
	CHECK0(pvio_xs_set_perms(a, 0, "data/pub", p, 2));
	CHECK_EVENT(b, NULL, AHOME "/data/pub", "bw");
	CHECK0(pvio_xs_rm(a, 0, "data/pub"));
	CHECK_EVENT(b, NULL, AHOME "/data/pub", "bw");
	CHECK_NO_EVENT(b, NULL);

	/* SET_TARGET: dom 3 acts with A's rights (a device model) */
	{
		struct pvio_xs *dm = srv_conn(&s, 3);
		CHECK_RET(pvio_xs_read(dm, 0, AHOME "/data/k", &v, NULL), -EACCES);
		CHECK0(pvio_xs_request(d0, PVIO_XS_SET_TARGET, 0, "3\0" "1", 4, NULL, 0, NULL));
		CHECK0(pvio_xs_read(dm, 0, AHOME "/data/k", &v, NULL));
		free(v);
		pvio_xs_close(dm);
	}

	/* release A: its nodes become dom0's, it leaves every ACL; a new
	 * domain 1 inherits nothing */
	p[0] = P(B, PVIO_XS_PERM_NONE);
	p[1] = P(A, PVIO_XS_PERM_READ);
	CHECK0(pvio_xs_write(b, 0, "data/forA", "1", 1));
	CHECK0(pvio_xs_set_perms(b, 0, "data/forA", p, 2));
	CHECK0(pvio_xsd_release_domain(s.xsd, A));
	check_perms(d0, AHOME "/data/k", "n0");
	check_perms(d0, "/local/domain/2/data/forA", "n2");
	check_perms(d0, AHOME "/data/shared/fromB", "n2,b2");
	pvio_xs_close(a);
	a = srv_conn(&s, A);
	CHECK_RET(pvio_xs_read(a, 0, AHOME "/data/k", &v, NULL), -EACCES);
	CHECK_RET(pvio_xs_read(a, 0, "/local/domain/2/data/forA", &v, NULL), -EACCES);

	pvio_xs_close(a);
	pvio_xs_close(b);
	pvio_xs_close(w);
	pvio_xs_close(d0);
	srv_stop(&s);
	printf("test_xs_perms: ok\n");
	return 0;
}
