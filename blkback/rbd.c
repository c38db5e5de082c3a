/* SPDX-License-Identifier: MIT */
/*
 * rbd: targets (rbd.h): the parser, always built (the toolstack checks a
 * disk spec with it), and the entry points to the librbd side
 * (engine_rbd.c), which only programs that link librbd contain: they are
 * reached through weak references, so every other program of pvio stays
 * free of librbd and librados.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "blkback/engine_internal.h"
#include "blkback/rbd.h"
#include "ring/errbuf.h"
#include "ring/pvio_export.h"

#pragma weak pvio__blk_rbd_image_open
#pragma weak pvio__blk_rbd_image_close
#pragma weak pvio__blk_rbd_image_info
#pragma weak pvio__blk_rbd_engine_open

PVIO_EXPORT bool pvio_blk_target_is_rbd(const char *target)
{
	return target && !strncmp(target, PVIO_BLK_RBD_PREFIX, strlen(PVIO_BLK_RBD_PREFIX));
}

PVIO_EXPORT bool pvio_blk_rbd_built(void)
{
#ifdef PVIO_HAVE_RBD
	return true;
#else
	return false;
#endif
}

/*
 * Copy one field of the target from *pp into out (unescaping '\x'), up to
 * an unescaped character of stops or the end. -EINVAL (err says so) when
 * it is longer than len - 1, holds a control character, or ends in a lone
 * '\'.
 */
static int field(const char **pp, const char *stops, char *out, size_t len, const char *what,
		 char *err, size_t el)
{
	const char *p = *pp;
	size_t n = 0;

	while (*p && !strchr(stops, *p)) {
		char c = *p++;

		if (c == '\\') {
			if (!*p) {
				pvio_errbuf(err, el, "rbd target: %s ends in a lone '\\'", what);
				return -EINVAL;
			}
			c = *p++;
		}
		if ((unsigned char)c < 0x20 || c == 0x7f) {
			pvio_errbuf(err, el, "rbd target: %s holds a control character", what);
			return -EINVAL;
		}
		if (n + 1 >= len) {
			pvio_errbuf(err, el, "rbd target: %s is too long (at most %zu characters)", what,
			       len - 1);
			return -EINVAL;
		}
		out[n++] = c;
	}
	out[n] = 0;
	*pp = p;
	return 0;
}

/* Ceph's option names treat ' ', '-' and '_' alike. */
static void norm_key(const char *k, char *out, size_t len)
{
	size_t i;

	for (i = 0; k[i] && i + 1 < len; i++)
		out[i] = k[i] == ' ' || k[i] == '-' ? '_' : k[i];
	out[i] = 0;
}

static bool is_false(const char *v)
{
	return !strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "off") ||
	       !strcmp(v, "no");
}

PVIO_EXPORT int pvio_blk_rbd_parse(const char *target, struct pvio_blk_rbd_spec *s, char *err,
				   size_t el)
{
	char part[3][128];     /* the sizes of spec's pool, ns, image */
	const char *p;
	unsigned nparts = 0;

	if (!s)
		return -EINVAL;
	memset(s, 0, sizeof(*s));
	if (!pvio_blk_target_is_rbd(target)) {
		pvio_errbuf(err, el, "rbd target: '%.60s' does not start with 'rbd:'",
		       target ? target : "");
		return -EINVAL;
	}
	p = target + strlen(PVIO_BLK_RBD_PREFIX);
	/* POOL[/NAMESPACE]/IMAGE */
	for (;;) {
		static const char *const what[3] = { "pool", "image", "image" };

		if (nparts == 3) {
			pvio_errbuf(err, el, "rbd target: too many '/' (POOL[/NAMESPACE]/IMAGE)");
			return -EINVAL;
		}
		if (field(&p, "/@:", part[nparts], sizeof(part[0]), what[nparts], err, el))
			return -EINVAL;
		if (!part[nparts][0]) {
			pvio_errbuf(err, el, "rbd target: empty %s name (expected "
			       "rbd:POOL/IMAGE[@SNAP][:KEY=VALUE]...)", nparts ? "image" : "pool");
			return -EINVAL;
		}
		nparts++;
		if (*p != '/')
			break;
		p++;
	}
	if (nparts < 2) {
		pvio_errbuf(err, el, "rbd target: no image name (expected rbd:POOL/IMAGE, got "
		       "'%.60s')", target);
		return -EINVAL;
	}
	/* Each part fits: field() bounded it by sizeof(part[0]). */
	memcpy(s->pool, part[0], sizeof(s->pool));
	if (nparts == 3)
		memcpy(s->ns, part[1], sizeof(s->ns));
	memcpy(s->image, part[nparts - 1], sizeof(s->image));
	if (*p == '@') {
		p++;
		if (field(&p, "@:", s->snap, sizeof(s->snap), "snapshot", err, el))
			return -EINVAL;
		if (!s->snap[0]) {
			pvio_errbuf(err, el, "rbd target: empty snapshot name after '@'");
			return -EINVAL;
		}
		if (*p == '@') {
			pvio_errbuf(err, el, "rbd target: a second '@' in the snapshot name");
			return -EINVAL;
		}
	}
	/* :KEY=VALUE... */
	while (*p == ':') {
		char key[64], val[256], nk[64];

		p++;
		if (field(&p, "=:", key, sizeof(key), "an option name", err, el))
			return -EINVAL;
		if (*p != '=' || !key[0]) {
			pvio_errbuf(err, el, "rbd target: option '%s' is not KEY=VALUE", key);
			return -EINVAL;
		}
		p++;
		if (field(&p, ":", val, sizeof(val), "an option value", err, el))
			return -EINVAL;
		if (!val[0]) {
			pvio_errbuf(err, el, "rbd target: option '%s' has an empty value", key);
			return -EINVAL;
		}
		for (const char *k = key; *k; k++)
			if (!((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') ||
			      (*k >= '0' && *k <= '9') || *k == '_' || *k == '-' || *k == ' ')) {
				pvio_errbuf(err, el, "rbd target: option name '%s' (letters, digits, "
				       "'_' and '-' only)", key);
				return -EINVAL;
			}
		norm_key(key, nk, sizeof(nk));
		if (!strcmp(nk, "id")) {
			if (s->id[0] || strlen(val) >= sizeof(s->id)) {
				pvio_errbuf(err, el, s->id[0] ? "rbd target: id given twice" :
				       "rbd target: id is too long");
				return -EINVAL;
			}
			memcpy(s->id, val, strlen(val) + 1);   /* fits: checked above */
			continue;
		}
		if (!strcmp(nk, "conf")) {
			if (s->conf[0]) {
				pvio_errbuf(err, el, "rbd target: conf given twice");
				return -EINVAL;
			}
			if (val[0] != '/') {
				pvio_errbuf(err, el, "rbd target: conf '%s' is not an absolute path", val);
				return -EINVAL;
			}
			snprintf(s->conf, sizeof(s->conf), "%s", val);
			continue;
		}
		if (!strcmp(nk, "rbd_disable_zero_copy_writes") && is_false(val)) {
			pvio_errbuf(err, el, "rbd target: rbd_disable_zero_copy_writes=%s is refused: "
			       "a guest may change its pages while a write is in flight", val);
			return -EINVAL;
		}
		for (unsigned i = 0; i < s->nopts; i++) {
			char other[64];

			norm_key(s->opt[i].key, other, sizeof(other));
			if (!strcmp(other, nk)) {
				pvio_errbuf(err, el, "rbd target: option '%s' given twice", key);
				return -EINVAL;
			}
		}
		if (s->nopts == PVIO_BLK_RBD_MAX_OPTS) {
			pvio_errbuf(err, el, "rbd target: more than %d options",
			       PVIO_BLK_RBD_MAX_OPTS);
			return -EINVAL;
		}
		snprintf(s->opt[s->nopts].key, sizeof(s->opt[0].key), "%s", key);
		snprintf(s->opt[s->nopts].val, sizeof(s->opt[0].val), "%s", val);
		s->nopts++;
	}
	if (*p) {
		pvio_errbuf(err, el, "rbd target: unexpected '%c' at '%.40s' (expected "
		       "rbd:POOL/IMAGE[@SNAP][:KEY=VALUE]...)", *p, p);
		return -EINVAL;
	}
	return 0;
}

/* ------------------------------------------------------------ librbd side */

#define NOT_HERE "pvio was built without librbd (install librbd-dev and rebuild)"

PVIO_EXPORT int pvio_blk_rbd_open(const char *target, bool readonly, struct pvio_blk_rbd **out,
				  char *err, size_t el)
{
	struct pvio_blk_rbd_spec spec;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (pvio_blk_rbd_parse(target, &spec, err, el) < 0)
		return -EINVAL;
	if (!pvio_blk_rbd_built()) {
		pvio_errbuf(err, el, NOT_HERE);
		return -ENOTSUP;
	}
	if (!pvio__blk_rbd_image_open) {
		pvio_errbuf(err, el, "this program has no rbd engine (only pvio-blkback links librbd)");
		return -ENOTSUP;
	}
	return pvio__blk_rbd_image_open(&spec, readonly, out, err, el);
}

PVIO_EXPORT void pvio_blk_rbd_close(struct pvio_blk_rbd *r)
{
	if (r && pvio__blk_rbd_image_close)
		pvio__blk_rbd_image_close(r);
}

PVIO_EXPORT void pvio_blk_rbd_get_info(const struct pvio_blk_rbd *r,
				       struct pvio_blk_rbd_info *info)
{
	memset(info, 0, sizeof(*info));
	if (r && pvio__blk_rbd_image_info)
		pvio__blk_rbd_image_info(r, info);
}

int pvio__blk_rbd_open(const struct pvio_blk_engine_cfg *cfg, struct pvio_blk_engine **out)
{
	if (!pvio_blk_rbd_built() || !pvio__blk_rbd_engine_open) {
		PVIO_BLK_LOG_ONCE("rbd: %s", pvio_blk_rbd_built() ? "this program has no rbd "
				  "engine (only pvio-blkback links librbd)" : NOT_HERE);
		return -ENOTSUP;
	}
	if (!cfg->rbd)
		return -EINVAL;
	return pvio__blk_rbd_engine_open(cfg, out);
}
