/* SPDX-License-Identifier: MIT */
/*
 * rbd: targets (blkback/rbd.h), without a cluster: the parser's fields,
 * escapes, namespaces, snapshots, options, and the message for each kind
 * of malformed target; the disk spec's handling of them (engine, snapshot
 * read-only, positional form); and what a program without the rbd engine
 * (only pvio-blkback links librbd) answers when asked for it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "blkback/engine.h"
#include "blkback/rbd.h"
#include "tests/common/testutil.h"
#include "tools/toolstack.h"

static struct pvio_blk_rbd_spec s;
static char err[512];

static int parse(const char *t)
{
	err[0] = 0;
	return pvio_blk_rbd_parse(t, &s, err, sizeof(err));
}

/* t is refused with a message containing want */
static void bad(const char *t, const char *want)
{
	int r = parse(t);

	CHECK_EQ(r, -EINVAL);
	if (!strstr(err, want)) {
		fprintf(stderr, "FAIL: '%s': message '%s' lacks '%s'\n", t, err, want);
		tu_failures++;
	} else {
		printf("refused %-44s %s\n", t, err);
	}
}

int main(void)
{
	struct pvio_diskspec ds;
	struct pvio_blk_engine_cfg cfg = { .depth = 8 };
	struct pvio_blk_engine *e = NULL;
	struct pvio_blk_rbd *img = (struct pvio_blk_rbd *)&s;   /* never dereferenced */

	CHECK(pvio_blk_target_is_rbd("rbd:p/i"));
	CHECK(!pvio_blk_target_is_rbd("/tmp/rbd:p/i"));
	CHECK(!pvio_blk_target_is_rbd(NULL));

	CHECK_EQ(parse("rbd:pool/img"), 0);
	CHECK(!strcmp(s.pool, "pool") && !strcmp(s.image, "img") && !s.ns[0] && !s.snap[0]);
	CHECK(!s.id[0] && !s.conf[0] && s.nopts == 0);

	CHECK_EQ(parse("rbd:pool/ns/img@snap1:id=alice:conf=/etc/ceph/x.conf:"
		       "rados_osd_op_timeout=5:rbd cache=true"), 0);
	CHECK(!strcmp(s.pool, "pool") && !strcmp(s.ns, "ns") && !strcmp(s.image, "img"));
	CHECK(!strcmp(s.snap, "snap1") && !strcmp(s.id, "alice"));
	CHECK(!strcmp(s.conf, "/etc/ceph/x.conf"));
	CHECK_EQ(s.nopts, 2);
	CHECK(!strcmp(s.opt[0].key, "rados_osd_op_timeout") && !strcmp(s.opt[0].val, "5"));
	CHECK(!strcmp(s.opt[1].key, "rbd cache") && !strcmp(s.opt[1].val, "true"));

	/* '\' takes the next character: a ':' in a value, an '@' in a name */
	CHECK_EQ(parse("rbd:p/we\\@ird:mon_host=v2\\:127.0.0.1\\:3300"), 0);
	CHECK(!strcmp(s.image, "we@ird"));
	CHECK(!strcmp(s.opt[0].key, "mon_host") && !strcmp(s.opt[0].val, "v2:127.0.0.1:3300"));

	bad("/tmp/x", "does not start with 'rbd:'");
	bad("rbd:", "empty pool name");
	bad("rbd:pool", "no image name");
	bad("rbd:/img", "empty pool name");
	bad("rbd:pool/", "empty image name");
	bad("rbd:a/b/c/d", "too many '/'");
	bad("rbd:p/i@", "empty snapshot name");
	bad("rbd:p/i@s@t", "a second '@'");
	bad("rbd:p/i:", "option '' is not KEY=VALUE");
	bad("rbd:p/i:noequals", "option 'noequals' is not KEY=VALUE");
	bad("rbd:p/i:key=", "option 'key' has an empty value");
	bad("rbd:p/i:b@d=1", "option name 'b@d'");
	bad("rbd:p/i:id=a:id=b", "id given twice");
	bad("rbd:p/i:conf=x.conf", "not an absolute path");
	bad("rbd:p/i:rbd_cache=1:rbd-cache=0", "given twice");
	bad("rbd:p/i:rbd_disable_zero_copy_writes=false", "is refused");
	bad("rbd:p/i\\", "lone '\\'");
	bad("rbd:p/i\x01", "control character");
	{
		char longname[300];

		memset(longname, 'x', sizeof(longname));
		memcpy(longname, "rbd:p/", 6);
		longname[sizeof(longname) - 1] = 0;
		bad(longname, "image is too long");
	}

	/* The disk spec. */
	if (!pvio_blk_rbd_built()) {
		CHECK_EQ(pvio_diskspec_parse("vdev=xvda, target=rbd:rbd/img", &ds, err,
					     sizeof(err)), -EINVAL);
		CHECK(strstr(err, "built without librbd"));
		printf("built without librbd: %s\n", err);
		goto engine;
	}
	CHECK_EQ(pvio_diskspec_parse("vdev=xvda, target=rbd:rbd/img@s:conf=/c", &ds, err,
				     sizeof(err)), 0);
	CHECK(ds.readonly);                     /* a snapshot: read-only */
	CHECK(!strcmp(ds.target, "rbd:rbd/img@s:conf=/c"));
	CHECK_EQ(pvio_diskspec_parse("rbd:rbd/img,raw,xvdb,rw", &ds, err, sizeof(err)), 0);
	CHECK(!strcmp(ds.target, "rbd:rbd/img") && !strcmp(ds.vdev, "xvdb") && !ds.readonly);
	CHECK_EQ(pvio_diskspec_parse("vdev=xvda, engine=rbd, target=rbd:rbd/img", &ds, err,
				     sizeof(err)), 0);
	CHECK_EQ(pvio_diskspec_parse("vdev=xvda, engine=psync, target=rbd:rbd/img", &ds, err,
				     sizeof(err)), -EINVAL);
	CHECK(strstr(err, "cannot serve an rbd: target"));
	CHECK_EQ(pvio_diskspec_parse("vdev=xvda, engine=rbd, target=/tmp/x.img", &ds, err,
				     sizeof(err)), -EINVAL);
	CHECK(strstr(err, "engine=rbd needs target=rbd:"));
	CHECK_EQ(pvio_diskspec_parse("vdev=xvda, target=rbd:rbd", &ds, err, sizeof(err)),
		 -EINVAL);
	CHECK(strstr(err, "no image name"));

engine:
	/* This program does not link librbd: the engine and the image say so. */
	CHECK_EQ(pvio_blk_rbd_open("rbd:p/i", false, &img, err, sizeof(err)), -ENOTSUP);
	CHECK(img == NULL);
	printf("open without the engine: %s\n", err);
	cfg.rbd = (struct pvio_blk_rbd *)&s;
	CHECK_EQ(pvio_blk_engine_open("rbd", -1, &cfg, &e), -ENOTSUP);
	CHECK(e == NULL);
	cfg.rbd = NULL;
	CHECK_EQ(pvio_blk_engine_open("psync", -1, &cfg, &e), -EINVAL);   /* files need an fd */
	printf("rbd targets: parser, disk spec and the engine's absence checked (librbd %s)\n",
	       pvio_blk_rbd_built() ? "built" : "not built");
	return tu_result();
}
