/* SPDX-License-Identifier: MIT */
/*
 * xl's config file syntax (tools/xlcfg.c): strings in both quotes with
 * escapes, numbers, lists over several lines with comments and a trailing
 * comma, ';' separators, '+=', last-one-wins; syntax errors naming the line;
 * hostile input (NULs, deep nesting, unterminated strings). And xl's
 * DISKSPEC forms as a config file carries them (empty positionals,
 * deprecated prefixes, flags).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/common/testutil.h"
#include "tools/toolstack.h"
#include "tools/xlcfg.h"

static int parse(struct pvio_xlcfg *c, const char *text, char *err, size_t el)
{
	memset(c, 0, sizeof(*c));
	return pvio_xlcfg_parse(c, text, strlen(text), "t.cfg", err, el);
}

static const char *str(const struct pvio_xlcfg *c, const char *key)
{
	const struct pvio_xlcfg_setting *s = pvio_xlcfg_get(c, key);

	return s && s->val->type == PVIO_XLCFG_STRING ? s->val->str : NULL;
}

static void bad(const char *text, const char *want)
{
	struct pvio_xlcfg c;
	char err[256] = "";
	int r = parse(&c, text, err, sizeof(err));

	if (r != -EINVAL || !strstr(err, want)) {
		fprintf(stderr, "FAIL: <<%s>>: r=%d err='%s' (want -EINVAL and '%s')\n", text, r,
			err, want);
		tu_failures++;
	} else {
		printf("ok: %s\n", err);
	}
	pvio_xlcfg_free(&c);
}

static void good_disk(const char *spec, const char *target, const char *vdev, bool ro)
{
	struct pvio_diskspec ds;
	char err[256] = "";

	if (pvio_diskspec_parse(spec, &ds, err, sizeof(err)) < 0) {
		fprintf(stderr, "FAIL: '%s' rejected: %s\n", spec, err);
		tu_failures++;
		return;
	}
	if (strcmp(ds.target, target) || strcmp(ds.vdev, vdev) || ds.readonly != ro) {
		fprintf(stderr, "FAIL: '%s' -> target '%s' vdev '%s' ro %d\n", spec, ds.target,
			ds.vdev, ds.readonly);
		tu_failures++;
	}
}

static void bad_disk(const char *spec, const char *want)
{
	struct pvio_diskspec ds;
	char err[256] = "";

	if (pvio_diskspec_parse(spec, &ds, err, sizeof(err)) != -EINVAL || !strstr(err, want)) {
		fprintf(stderr, "FAIL: '%s': err='%s' (want '%s')\n", spec, err, want);
		tu_failures++;
	}
}

int main(void)
{
	struct pvio_xlcfg c;
	const struct pvio_xlcfg_setting *s;
	char err[256] = "";

	/* A config as people write them. */
	const char *text =
		"# a guest\n"
		"name = \"web1\"   # trailing comment\n"
		"memory = 512\n"
		"vcpus=2; maxmem = 0x400\n"
		"kernel = '/boot/vmlinuz'\n"
		"extra = \"console=hvc0 \\\"quoted\\\" tab\\there \\x41\\101\"\n"
		"disk = [\n"
		"    'format=raw, vdev=xvda, access=rw, target=/img/a,b.img',  # commas in target\n"
		"    # a comment inside the list\n"
		"    '/img/b.img,,xvdb,r',\n"
		"]\n"
		"vif = [ 'mac=00:16:3e:00:00:01,bridge=br0', '' ]\n"
		"cpus = [ \"2\", [ \"3-8\", 4 ] ]\n"
		"\n"
		"memory = 1024\n"
		"extra += \" more\"\n"
		"vif += [ 'bridge=br1' ]\n";
	REQUIRE(parse(&c, text, err, sizeof(err)) == 0);
	CHECK(str(&c, "name") && !strcmp(str(&c, "name"), "web1"));
	CHECK(str(&c, "memory") && !strcmp(str(&c, "memory"), "1024"));   /* last wins */
	s = pvio_xlcfg_get(&c, "memory");
	CHECK(s && s->line == 15 && !s->val->quoted);
	CHECK(str(&c, "maxmem") && !strcmp(str(&c, "maxmem"), "0x400"));
	CHECK(str(&c, "vcpus") && !strcmp(str(&c, "vcpus"), "2"));
	CHECK(str(&c, "extra") &&
	      !strcmp(str(&c, "extra"), "console=hvc0 \"quoted\" tab\there AA more"));
	s = pvio_xlcfg_get(&c, "disk");
	REQUIRE(s && s->val->type == PVIO_XLCFG_LIST && s->val->n == 2);
	CHECK(s->line == 7);
	CHECK(!strcmp(s->val->items[0]->str, "format=raw, vdev=xvda, access=rw, target=/img/a,b.img"));
	CHECK(s->val->items[0]->line == 8 && s->val->items[1]->line == 10);
	CHECK(s->val->items[0]->quoted);
	s = pvio_xlcfg_get(&c, "vif");
	REQUIRE(s && s->val->type == PVIO_XLCFG_LIST && s->val->n == 3);
	CHECK(!strcmp(s->val->items[1]->str, "") && !strcmp(s->val->items[2]->str, "bridge=br1"));
	s = pvio_xlcfg_get(&c, "cpus");
	REQUIRE(s && s->val->n == 2 && s->val->items[1]->type == PVIO_XLCFG_LIST);
	CHECK(s->val->items[1]->n == 2 && !strcmp(s->val->items[1]->items[1]->str, "4"));
	CHECK(!pvio_xlcfg_get(&c, "nothere"));
	pvio_xlcfg_free(&c);

	/* Empty, comments only, no final newline, empty list. */
	CHECK(parse(&c, "", err, sizeof(err)) == 0 && c.n == 0);
	pvio_xlcfg_free(&c);
	CHECK(parse(&c, "# nothing\n\n;;\n", err, sizeof(err)) == 0 && c.n == 0);
	pvio_xlcfg_free(&c);
	CHECK(parse(&c, "disk=[]", err, sizeof(err)) == 0 && c.n == 1 &&
	      c.set[0].val->type == PVIO_XLCFG_LIST && c.set[0].val->n == 0);
	pvio_xlcfg_free(&c);

	/* Errors name the line. */
	bad("name = \"a\"\nmemory 512\n", "t.cfg:2: expected '=' after 'memory'");
	bad("name = web1\n", "t.cfg:1: 'web1' is neither a number nor a quoted string");
	bad("a = 1\nname = \"web1\n", "t.cfg:2: unterminated string");
	bad("disk = [ 'a',\n 'b'\n", "t.cfg:1: the list opened here has no closing ']'");
	bad("disk = [ 'a' 'b' ]\n", "t.cfg:1: expected ',' or ']'");
	bad("name = \"a\" \"b\"\n", "t.cfg:1: expected the end of the line");
	bad("\n\n= 3\n", "t.cfg:3: expected a setting");
	bad("x = [[[[[[[[[ 1 ]]]]]]]]]\n", "nested deeper than");
	bad("x = 'a\\qb'\n", "bad escape");
	bad("x = 'a\\x4'\n", "bad escape");
	bad("x = 1\ny = $\n", "t.cfg:2: unexpected character '$'");
	bad("x = 1\ny = \x01\n", "t.cfg:2: unexpected byte 0x01");
	bad("x = 'a'\nx += [ 'b' ]\n", "t.cfg:2: '+=' cannot add a list to the string set on line 1");
	bad("x = '\\0'\n", "NUL character");
	{
		const char nul[] = "a = 1\nb = 2\0\n";
		memset(&c, 0, sizeof(c));
		CHECK(pvio_xlcfg_parse(&c, nul, sizeof(nul) - 1, "n.cfg", err, sizeof(err)) ==
		      -EINVAL && strstr(err, "n.cfg:2: a NUL byte"));
		pvio_xlcfg_free(&c);
	}
	{
		/* Too many items in one list. */
		size_t n = 3 + (PVIO_XLCFG_MAX_ITEMS + 1) * 2 + 1, k = 0;
		char *big = calloc(1, n + 1);
		REQUIRE(big);
		memcpy(big, "x=[", 3);
		k = 3;
		for (int i = 0; i <= PVIO_XLCFG_MAX_ITEMS; i++, k += 2)
			memcpy(big + k, "1,", 2);
		big[k] = ']';
		memset(&c, 0, sizeof(c));
		CHECK(pvio_xlcfg_parse(&c, big, strlen(big), "b.cfg", err, sizeof(err)) == -EINVAL &&
		      strstr(err, "more than"));
		pvio_xlcfg_free(&c);
		free(big);
	}
	/* Settings are capped too; and 10,000 appends to one string stay
	 * linear (each += moves the value on instead of copying it). */
	{
		size_t cap = (PVIO_XLCFG_MAX_SETTINGS + 2) * 16, k = 0;
		char *big = malloc(cap);

		REQUIRE(big);
		for (int i = 0; i <= PVIO_XLCFG_MAX_SETTINGS; i++)
			k += (size_t)snprintf(big + k, cap - k, "k%d=1\n", i);
		memset(&c, 0, sizeof(c));
		CHECK(pvio_xlcfg_parse(&c, big, k, "s.cfg", err, sizeof(err)) == -EINVAL &&
		      strstr(err, "more than 4096 settings"));
		pvio_xlcfg_free(&c);
		k = (size_t)snprintf(big, cap, "s=\"\"\n");
		for (int i = 0; i < 4000 && k + 16 < cap; i++)
			k += (size_t)snprintf(big + k, cap - k, "s+=\"ab\"\n");
		memset(&c, 0, sizeof(c));
		CHECK_EQ(pvio_xlcfg_parse(&c, big, k, "a.cfg", err, sizeof(err)), 0);
		{
			const struct pvio_xlcfg_setting *st = pvio_xlcfg_get(&c, "s");

			CHECK(st && st->val->type == PVIO_XLCFG_STRING &&
			      strlen(st->val->str) == 8000);
		}
		pvio_xlcfg_free(&c);
		free(big);
	}

	/* Hostile input: mutations of the good config and random specs never
	 * crash (run under SANITIZE=address,undefined to see it) and either
	 * parse or fail with a message naming a line. */
	{
		size_t len = strlen(text);
		char *m = malloc(len + 1);
		unsigned seed = 12345, ok = 0, refused = 0;

		REQUIRE(m);
		for (int it = 0; it < 20000; it++) {
			static const char alphabet[] = "[]=,;#'\"\\\n x0+-";
			int r;

			memcpy(m, text, len + 1);
			for (int k = 0; k < 1 + it % 4; k++) {
				seed = seed * 1103515245u + 12345u;
				size_t at = (seed >> 8) % len;
				seed = seed * 1103515245u + 12345u;
				m[at] = alphabet[(seed >> 8) % (sizeof(alphabet) - 1)];
			}
			err[0] = 0;
			memset(&c, 0, sizeof(c));
			r = pvio_xlcfg_parse(&c, m, len, "m.cfg", err, sizeof(err));
			if (r == 0) {
				ok++;
			} else if (r == -EINVAL && !strncmp(err, "m.cfg:", 6)) {
				refused++;
			} else {
				fprintf(stderr, "FAIL: mutation %d: r=%d err='%s'\n", it, r, err);
				tu_failures++;
			}
			for (unsigned i = 0; i < c.n; i++) {
				const struct pvio_xlcfg_value *v = c.set[i].val;
				struct pvio_diskspec ds;

				for (unsigned j = 0; v->type == PVIO_XLCFG_LIST && j < v->n; j++)
					if (v->items[j]->type == PVIO_XLCFG_STRING)
						pvio_diskspec_parse(v->items[j]->str, &ds, err,
								    sizeof(err));
			}
			pvio_xlcfg_free(&c);
		}
		printf("mutations: %u parsed, %u refused with a line\n", ok, refused);
		free(m);
	}

	/* The xl key table. */
	CHECK(pvio_xlcfg_xl_knows("vcpus") && pvio_xlcfg_xl_knows("kernel") &&
	      pvio_xlcfg_xl_knows("on_crash") && pvio_xlcfg_xl_knows("name"));
	CHECK(!pvio_xlcfg_xl_knows("memroy") && !pvio_xlcfg_xl_knows(""));

	/* DISKSPEC forms of xl-disk-configuration(5). */
	good_disk("/img/a.img,raw,xvda,rw", "/img/a.img", "xvda", false);
	good_disk("/img/a.img,,xvda", "/img/a.img", "xvda", false);
	good_disk("/img/a.img,,xvda,", "/img/a.img", "xvda", false);
	good_disk("/img/a.img,,hdc,r", "/img/a.img", "hdc", true);
	good_disk("format=raw, vdev=xvdb, access=ro, target=/img/x, y.img", "/img/x, y.img", "xvdb",
		  true);
	good_disk("format=, vdev=xvdb, access=, target=/img/b", "/img/b", "xvdb", false);
	good_disk("phy:/dev/vg/lv,xvda,w", "/dev/vg/lv", "xvda", false);
	good_disk("file:/img/c.img,xvdc,r", "/img/c.img", "xvdc", true);
	good_disk("tap:aio:/img/d.img,xvdd,w", "/img/d.img", "xvdd", false);
	good_disk("raw:/img/e.img,xvde:disk,w", "/img/e.img", "xvde", false);
	good_disk("/img/f.img,raw,xvdf,w,discard,direct-io-safe,untrusted", "/img/f.img", "xvdf",
		  false);
	good_disk("devtype=disk, backend=0, specification=xen, vdev=xvdg, target=/img/g", "/img/g",
		  "xvdg", false);
	bad_disk("/img/a.img,qcow2,xvda", "format: 'qcow2' is not supported");
	bad_disk("qcow2:/img/a.img,xvda,w", "format: 'qcow2' is not supported");
	bad_disk("nbd:host:1234,xvda,w", "block-nbd script");
	bad_disk("foo:/img/a.img,xvda,w", "unknown deprecated disk prefix 'foo:'");
	bad_disk("/img/a.img,,hdc:cdrom,r", "cdroms are not supported");
	bad_disk("/img/a.img,,hdc,r,cdrom", "cdrom: not supported");
	bad_disk("devtype=cdrom, vdev=hdc, target=/img/a", "devtype: 'cdrom'");
	bad_disk("backend=dd1, vdev=xvda, target=/img/a", "only dom0");
	bad_disk("specification=virtio, vdev=xvda, target=/img/a", "xen only");
	bad_disk("/img/a.img,raw,xvda,rw,extra", "unexpected positional field 'extra'");
	bad_disk(",,xvda", "no target");
	return tu_result();
}
