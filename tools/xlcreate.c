/* SPDX-License-Identifier: MIT */
/*
 * pvio create FILE: a domain from xl's domain config file (xl.cfg(5)), as
 * `xl create` does: name, memory (MiB), disk = [ DISKSPEC, ... ] and
 * vif = [ VIFSPEC, ... ] in xl's syntaxes. Every spec is checked before the
 * domain is made; a device that then fails to attach takes the new domain
 * down with it (xl's rule: all or nothing). Options xl knows that pvio has
 * no use for (vcpus, kernel, on_crash...) are warned about once and ignored.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "blkback/rbd.h"
#include "tools/cli.h"
#include "tools/toolstack.h"
#include "tools/xlcfg.h"

#define MAX_DISKS 256
#define MAX_VIFS  256
#define MAX_MEMORY_MIB (1ull << 24)     /* 16 TiB */

bool pvio_create_is_cfg(const char *arg)
{
	size_t n = strlen(arg);
	struct stat st;

	if (!strcmp(arg, "-f") || strchr(arg, '/'))
		return true;
	if (n > 4 && !strcmp(arg + n - 4, ".cfg"))
		return true;
	return stat(arg, &st) == 0 && S_ISREG(st.st_mode);
}

struct where {
	const char *file;
	unsigned nfile;      /* settings [0, nfile) come from the file */
};

static const char *src(const struct where *w, const struct pvio_xlcfg *cfg,
		       const struct pvio_xlcfg_setting *s)
{
	return (unsigned)(s - cfg->set) < w->nfile ? w->file : "command line";
}

/* A list of quoted strings (disk, vif). A single string is taken as a list
 * of one. Returns the count, or -EINVAL after printing why. */
static int string_list(const struct where *w, const struct pvio_xlcfg *cfg,
		       const struct pvio_xlcfg_setting *s, unsigned max,
		       const struct pvio_xlcfg_value ***items)
{
	const struct pvio_xlcfg_value *v = s->val;

	if (v->type != PVIO_XLCFG_LIST) {
		fprintf(stderr, "pvio create: %s:%u: %s must be a list: %s = [ '...', ... ]\n",
			src(w, cfg, s), v->line, s->key, s->key);
		return -EINVAL;
	}
	if (v->n > max) {
		fprintf(stderr, "pvio create: %s:%u: %s: more than %u entries\n",
			src(w, cfg, s), v->line, s->key, max);
		return -EINVAL;
	}
	for (unsigned i = 0; i < v->n; i++) {
		if (v->items[i]->type != PVIO_XLCFG_STRING || !v->items[i]->quoted) {
			fprintf(stderr, "pvio create: %s:%u: %s[%u]: expected a quoted string "
				"('...')\n", src(w, cfg, s), v->items[i]->line, s->key, i);
			return -EINVAL;
		}
	}
	*items = (const struct pvio_xlcfg_value **)v->items;
	return (int)v->n;
}

/* Warn once per key about what pvio does not use. */
static void warn_unused(const struct where *w, const struct pvio_xlcfg *cfg)
{
	static const char *const used[] = { "name", "memory", "disk", "vif" };

	for (unsigned i = 0; i < cfg->n; i++) {
		const struct pvio_xlcfg_setting *s = &cfg->set[i];
		bool seen = false;

		for (unsigned k = 0; k < sizeof(used) / sizeof(used[0]); k++)
			if (!strcmp(s->key, used[k]))
				seen = true;
		for (unsigned j = 0; j < i && !seen; j++)
			if (!strcmp(cfg->set[j].key, s->key))
				seen = true;
		if (seen)
			continue;
		if (pvio_xlcfg_xl_knows(s->key))
			fprintf(stderr, "pvio create: %s:%u: warning: '%s' (an xl option) is not "
				"used by pvio: ignored\n", src(w, cfg, s), s->line, s->key);
		else
			fprintf(stderr, "pvio create: %s:%u: warning: '%s' is not an xl.cfg "
				"option: ignored\n", src(w, cfg, s), s->line, s->key);
	}
}

int pvio_cmd_create_cfg(struct pvio_hv *hv, struct pvio_xs *xs, int argc, char **argv)
{
	struct pvio_xlcfg cfg = { 0 };
	struct where w = { 0 };
	const struct pvio_xlcfg_setting *s, *sdisk, *svif;
	const struct pvio_xlcfg_value **dv = NULL, **vv = NULL;
	struct pvio_diskspec *disks = NULL;
	struct pvio_vifspec *vifs = NULL;
	char err[512] = "", name[PVIO_DOMAIN_NAME_MAX + 1];
	uint64_t mem = 256ull << 20;
	int nd = 0, nv = 0, rc = 2, r, i = 0;
	uint16_t domid;
	bool created = false;

	if (i < argc && !strcmp(argv[i], "-f"))
		i++;
	if (i >= argc) {
		fprintf(stderr, "pvio create: -f needs a config FILE\n");
		return 2;
	}
	w.file = argv[i++];
	if (pvio_xlcfg_load(&cfg, w.file, err, sizeof(err)) < 0) {
		fprintf(stderr, "pvio create: %s\n", err);
		goto out;
	}
	w.nfile = cfg.n;
	/* xl create FILE KEY=VALUE...: each argument is one more config line. */
	for (; i < argc; i++) {
		if (pvio_xlcfg_parse(&cfg, argv[i], strlen(argv[i]), "command line", err,
				     sizeof(err)) < 0) {
			fprintf(stderr, "pvio create: %s ('%s')\n", err, argv[i]);
			goto out;
		}
	}
	warn_unused(&w, &cfg);

	s = pvio_xlcfg_get(&cfg, "name");
	if (!s) {
		fprintf(stderr, "pvio create: %s: no name = \"...\" (xl's mandatory option)\n",
			w.file);
		goto out;
	}
	if (s->val->type != PVIO_XLCFG_STRING || !s->val->str[0] ||
	    strlen(s->val->str) > PVIO_DOMAIN_NAME_MAX) {
		fprintf(stderr, "pvio create: %s:%u: name must be a string of 1..%d characters\n",
			src(&w, &cfg, s), s->line, PVIO_DOMAIN_NAME_MAX);
		goto out;
	}
	snprintf(name, sizeof(name), "%s", s->val->str);

	s = pvio_xlcfg_get(&cfg, "memory");
	if (s) {
		unsigned long long mib;
		char *end;

		errno = 0;
		mib = s->val->type == PVIO_XLCFG_STRING && s->val->str[0] != '-' ?
		      strtoull(s->val->str, &end, 0) : 0;
		if (s->val->type != PVIO_XLCFG_STRING || errno || !s->val->str[0] || *end ||
		    mib == 0 || mib > MAX_MEMORY_MIB) {
			fprintf(stderr, "pvio create: %s:%u: memory: '%s' is not a number of "
				"MiB (1..%llu), e.g. memory = 512\n", src(&w, &cfg, s), s->line,
				s->val->type == PVIO_XLCFG_STRING ? s->val->str : "[...]",
				MAX_MEMORY_MIB);
			goto out;
		}
		mem = (uint64_t)mib << 20;
	}

	sdisk = pvio_xlcfg_get(&cfg, "disk");
	if (sdisk) {
		nd = string_list(&w, &cfg, sdisk, MAX_DISKS, &dv);
		if (nd < 0)
			goto out;
		disks = calloc((size_t)nd + 1, sizeof(*disks));
		if (!disks) {
			rc = 1;
			goto out;
		}
	}
	for (int k = 0; k < nd; k++) {
		if (pvio_diskspec_parse(dv[k]->str, &disks[k], err, sizeof(err)) < 0) {
			fprintf(stderr, "pvio create: %s:%u: disk[%d]: bad DISKSPEC '%s': %s\n",
				src(&w, &cfg, sdisk), dv[k]->line, k, dv[k]->str, err);
			goto out;
		}
		for (int j = 0; j < k; j++)
			if (disks[j].devid == disks[k].devid) {
				fprintf(stderr, "pvio create: %s:%u: disk[%d]: vdev %s is also "
					"disk[%d]'s\n", src(&w, &cfg, sdisk), dv[k]->line, k,
					disks[k].vdev, j);
				goto out;
			}
		if (!pvio_blk_target_is_rbd(disks[k].target) &&
		    access(disks[k].target, disks[k].readonly ? R_OK : R_OK | W_OK) < 0) {
			fprintf(stderr, "pvio create: %s:%u: disk[%d]: %s: %s\n",
				src(&w, &cfg, sdisk), dv[k]->line, k, disks[k].target,
				strerror(errno));
			rc = 1;
			goto out;
		}
	}

	svif = pvio_xlcfg_get(&cfg, "vif");
	if (svif) {
		nv = string_list(&w, &cfg, svif, MAX_VIFS, &vv);
		if (nv < 0)
			goto out;
		vifs = calloc((size_t)nv + 1, sizeof(*vifs));
		if (!vifs) {
			rc = 1;
			goto out;
		}
	}
	for (int k = 0; k < nv; k++) {
		if (pvio_vifspec_parse(vv[k]->str, &vifs[k], err, sizeof(err)) < 0) {
			fprintf(stderr, "pvio create: %s:%u: vif[%d]: bad VIFSPEC '%s': %s\n",
				src(&w, &cfg, svif), vv[k]->line, k, vv[k]->str, err);
			goto out;
		}
	}

	/* Everything checked: make it. */
	rc = 1;
	r = pvio_ts_domain_create(hv, xs, name, mem, &domid);
	if (r < 0) {
		fprintf(stderr, "pvio create: %s: %s\n", name,
			r == -EEXIST ? "a domain of that name exists" :
			r == -EINVAL ? "invalid name or memory size" : strerror(-r));
		goto out;
	}
	created = true;
	for (int k = 0; k < nd; k++) {
		r = pvio_ts_block_attach(xs, domid, &disks[k]);
		if (r < 0) {
			fprintf(stderr, "pvio create: %s:%u: disk[%d]: %s: %s\n",
				src(&w, &cfg, sdisk), dv[k]->line, k, disks[k].vdev,
				r == -EEXIST ? "already attached" : strerror(-r));
			goto out;
		}
	}
	for (int k = 0; k < nv; k++) {
		uint32_t devid;

		r = pvio_ts_net_attach(xs, domid, &vifs[k], &devid);
		if (r < 0) {
			fprintf(stderr, "pvio create: %s:%u: vif[%d]: %s\n", src(&w, &cfg, svif),
				vv[k]->line, k,
				r == -EEXIST ? "that devid is taken by an earlier vif" :
				r == -EADDRINUSE ? "that mac is used by an earlier vif" :
				strerror(-r));
			goto out;
		}
	}
	printf("%u\n", domid);
	created = false;
	rc = 0;
out:
	if (created) {
		/* all or nothing, as xl create */
		pvio_ts_domain_destroy(hv, xs, domid);
		fprintf(stderr, "pvio create: %s: not created\n", name);
	}
	free(disks);
	free(vifs);
	pvio_xlcfg_free(&cfg);
	return rc;
}
