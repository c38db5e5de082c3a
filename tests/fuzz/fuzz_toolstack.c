/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for the toolstack's parsers of user input (tools/): what
 * a user types or writes in a file, which the toolstack turns into store
 * nodes a backend trusts. The first input byte picks the target (its low
 * six bits, modulo 5) and the error buffer (bit 7: 8 bytes instead of 256,
 * to see messages truncated cleanly; bit 6: also parse once more with no
 * error buffer at all, which must give the same result):
 *   0  pvio_diskspec_parse: xl's DISKSPEC (xl-disk-configuration(5)) with
 *      pvio's keys (fault-inject= through pvio_blk_faults_check) and QEMU's
 *      throttling.* limits
 *   1  pvio_vifspec_parse: xl's VIFSPEC (xl-network-configuration(5))
 *   2  pvio_xlcfg_parse: an xl.cfg(5) file, exactly the input bytes in a
 *      buffer of that size (no terminating NUL to lean on)
 *   3  what `pvio create FILE KEY=VALUE...` parses: the file (the input up
 *      to its first NUL), then each further NUL-separated piece as one
 *      command-line override into the same config, then every disk = [...]
 *      and vif = [...] entry through the spec parsers (xlcreate.c's pure
 *      part; the rest of it needs a store and the file system)
 *   4  the pieces on their own: pvio_vdev_to_devid, pvio_mac_parse,
 *      pvio_rate_parse, pvio_rate_key_parse, pvio_throttle_cfg_parse
 * Invariants: success gives every field within its documented range
 * (strings NUL-terminated in their buffers and never silently cut short,
 * numbers within their limits) and leaves the error buffer untouched;
 * failure gives the documented -errno and a non-empty NUL-terminated
 * message within the buffer, and nothing written past it. Round trips where
 * a format exists: a spec or config written back out parses to the same
 * thing; throttling limits through pvio_throttle_cfg_format; a rate through
 * the backend key netback reads; a MAC through pvio_mac_format. String
 * inputs are malloc'ed NUL-terminated copies of exactly the input, so ASan
 * sees any read past their end.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/throttle.h"
#include "tools/toolstack.h"
#include "tools/xlcfg.h"

#define ASSERT(c) do { \
	if (!(c)) { \
		fprintf(stderr, "fuzz_toolstack.c:%d: %s\n", __LINE__, #c); \
		__builtin_trap(); \
	} \
} while (0)

/* ------------------------------------------------------------ helpers */

/* The harness's own checks and formatters: no coverage feedback (it would
 * reward inputs for exercising the harness, not the parsers, and cost time).
 * Not inlined, or the caller's instrumentation would cover them anyway. */
#define NOCOV __attribute__((no_sanitize("coverage"), noinline))

#define ERR_CAP 512
#define CANARY  0xa5

static bool noerr_too;   /* bit 6 of the selector */

/* An error buffer of el bytes (zeroed) followed by a canary. */
static NOCOV size_t err_prepare(char *e, bool small)
{
	size_t el = small ? 8 : 256;

	memset(e, 0, el);
	memset(e + el, CANARY, ERR_CAP - el);
	return el;
}

/* (memcmp against patterns: a byte loop here would be most of the time
 * spent, every compare being traced for coverage) */
static NOCOV void err_check(const char *e, size_t el, bool failed)
{
	static char zeros[ERR_CAP], canary[ERR_CAP];

	if (!canary[0])
		memset(canary, CANARY, sizeof(canary));
	ASSERT(!memcmp(e + el, canary, ERR_CAP - el));
	ASSERT(memchr(e, 0, el) != NULL);
	if (failed)
		ASSERT(e[0] != 0);
	else
		ASSERT(!memcmp(e, zeros, el));
}

/* A malloc'ed NUL-terminated copy of exactly d[0..n). */
static NOCOV char *dupz(const uint8_t *d, size_t n)
{
	char *s = malloc(n + 1);

	ASSERT(s);
	memcpy(s, d, n);
	s[n] = 0;
	return s;
}

static NOCOV bool strin(const char *s, size_t cap)
{
	return memchr(s, 0, cap) != NULL;
}

/*
 * s occurs in text followed by the end, whitespace or one of delims: a value
 * the parser took from text whole, not cut short to fit its buffer.
 */
static NOCOV bool occurs_whole(const char *text, const char *s, const char *delims)
{
	size_t n = strlen(s);

	if (!n)
		return true;
	for (const char *p = strstr(text, s); p; p = strstr(p + 1, s)) {
		char c = p[n];

		if (!c || isspace((unsigned char)c) || strchr(delims, c))
			return true;
	}
	return false;
}

struct sb {
	char *p;
	size_t n, cap;
};

static NOCOV void sb_add(struct sb *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static NOCOV void sb_add(struct sb *b, const char *fmt, ...)
{
	va_list ap;
	int k;

	for (;;) {
		va_start(ap, fmt);
		k = vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
		va_end(ap);
		ASSERT(k >= 0);
		if (b->p && (size_t)k < b->cap - b->n) {
			b->n += (size_t)k;
			return;
		}
		b->cap = (b->cap + (size_t)k + 1) * 2;
		b->p = realloc(b->p, b->cap);
		ASSERT(b->p);
	}
}

/* ------------------------------------------------------------ throttling, rate */

static NOCOV void check_throttle(const struct pvio_throttle_cfg *c, bool validated)
{
	struct pvio_throttle_cfg back;
	char buf[2048], err[256];

	ASSERT(strin(c->group, sizeof(c->group)));
	if (validated)
		ASSERT(pvio_throttle_cfg_validate(c, NULL, 0) == 0);
	/* Written out (as the store keeps it) and read back: the same limits. */
	ASSERT(pvio_throttle_cfg_format(c, buf, sizeof(buf)) == 0);
	pvio_throttle_cfg_init(&back);
	ASSERT(pvio_throttle_cfg_parse(&back, buf, err, sizeof(err)) == 0);
	ASSERT(pvio_throttle_cfg_equal(c, &back));
	/* One option at a time, as put_throttle() writes the store keys. */
	pvio_throttle_cfg_init(&back);
	for (unsigned i = 0; i < pvio_throttle_opt_count(); i++) {
		char v[PVIO_THROTTLE_GROUP_MAX + 24];

		if (pvio_throttle_opt_get(c, i, v, sizeof(v)))
			ASSERT(pvio_throttle_cfg_set(&back, pvio_throttle_opt_name(i), v, NULL, 0) ==
			       0);
	}
	ASSERT(pvio_throttle_cfg_equal(c, &back));
}

static NOCOV void check_rate(uint64_t bytes, uint32_t usec)
{
	char key[64], desc[128];
	uint64_t b, u;

	if (!usec) {
		ASSERT(bytes == 0);
		return;
	}
	ASSERT(bytes > 0);
	/* The backend key libxl writes and netback reads. */
	snprintf(key, sizeof(key), "%llu,%u", (unsigned long long)bytes, usec);
	ASSERT(pvio_rate_key_parse(key, &b, &u, NULL, 0) == 0 && b == bytes && u == usec);
	pvio_rate_describe(bytes, usec, desc, sizeof(desc));
	ASSERT(strin(desc, sizeof(desc)));
}

/* ------------------------------------------------------------ disk */

static NOCOV bool disk_equal(const struct pvio_diskspec *a, const struct pvio_diskspec *b)
{
	return !strcmp(a->target, b->target) && !strcmp(a->vdev, b->vdev) &&
	       a->devid == b->devid && a->readonly == b->readonly &&
	       !strcmp(a->format, b->format) && !strcmp(a->engine, b->engine) &&
	       a->direct == b->direct && a->sector_size == b->sector_size &&
	       a->discard == b->discard && !strcmp(a->fault_inject, b->fault_inject) &&
	       pvio_throttle_cfg_equal(&a->throttle, &b->throttle);
}

/* Checks a disk spec that parsed; spec is the text it came from. */
static NOCOV void check_disk(const char *spec, const struct pvio_diskspec *ds)
{
	struct pvio_diskspec back;
	char thr[2048], err[256] = "";
	struct sb out = { 0 };
	uint32_t devid;

	memset(&back, 0xa5, sizeof(back));
	ASSERT(strin(ds->target, sizeof(ds->target)) && ds->target[0]);
	ASSERT(strin(ds->vdev, sizeof(ds->vdev)) && ds->vdev[0]);
	ASSERT(occurs_whole(spec, ds->target, ","));
	ASSERT(occurs_whole(spec, ds->vdev, ",:"));
	ASSERT(pvio_vdev_to_devid(ds->vdev, &devid) == 0 && devid == ds->devid);
	ASSERT(!strcmp(ds->format, "raw"));
	ASSERT(!ds->engine[0] || !strcmp(ds->engine, "io_uring") ||
	       !strcmp(ds->engine, "libaio") || !strcmp(ds->engine, "psync"));
	ASSERT(ds->direct >= -1 && ds->direct <= 1);
	ASSERT(ds->discard >= -1 && ds->discard <= 1);
	ASSERT(ds->sector_size == 512 || ds->sector_size == 4096);
	ASSERT(strin(ds->fault_inject, sizeof(ds->fault_inject)) &&
	       occurs_whole(spec, ds->fault_inject, ","));
	check_throttle(&ds->throttle, true);

	/* Written back in the keyed form (target= last: it takes the rest). */
	ASSERT(pvio_throttle_cfg_format(&ds->throttle, thr, sizeof(thr)) == 0);
	sb_add(&out, "vdev=%s, access=%s, format=%s", ds->vdev, ds->readonly ? "ro" : "rw",
	       ds->format);
	if (ds->engine[0])
		sb_add(&out, ", engine=%s", ds->engine);
	if (ds->direct >= 0)
		sb_add(&out, ", direct=%d", ds->direct);
	if (ds->fault_inject[0])
		sb_add(&out, ", fault-inject=%s", ds->fault_inject);
	if (ds->discard >= 0)
		sb_add(&out, ", %s", ds->discard ? "discard" : "no-discard");
	sb_add(&out, ", sector-size=%u", ds->sector_size);
	if (thr[0])
		sb_add(&out, ", %s", thr);
	sb_add(&out, ", target=%s", ds->target);
	ASSERT(pvio_diskspec_parse(out.p, &back, err, sizeof(err)) == 0);
	ASSERT(disk_equal(ds, &back));
	free(out.p);
}

static void disk_one(const char *spec, bool small)
{
	struct pvio_diskspec ds;
	char err[ERR_CAP];
	size_t el = err_prepare(err, small);
	int r;

	memset(&ds, 0x5a, sizeof(ds));   /* a field it forgets shows */
	r = pvio_diskspec_parse(spec, &ds, err, el);

	if (r == 0) {
		err_check(err, el, false);
		check_disk(spec, &ds);
	} else {
		ASSERT(r == -EINVAL);
		err_check(err, el, true);
	}
	if (noerr_too)
		ASSERT(pvio_diskspec_parse(spec, &ds, NULL, 0) == r);
}

static void fuzz_disk(const uint8_t *d, size_t n, bool small)
{
	char *spec = dupz(d, n);

	disk_one(spec, small);
	free(spec);
}

/* ------------------------------------------------------------ vif */

static NOCOV bool name_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	for (; *s; s++)
		if (!isgraph((unsigned char)*s) || *s == '/')
			return false;
	return true;
}

static NOCOV void check_vif(const char *spec, const struct pvio_vifspec *vs)
{
	static const uint8_t zero[6];
	struct pvio_vifspec back;
	char err[256] = "", mac[18];
	struct sb out = { 0 };

	if (vs->mac_set) {
		uint8_t m[6];

		ASSERT(!(vs->mac[0] & 1) && memcmp(vs->mac, zero, 6));
		pvio_mac_format(vs->mac, mac);
		ASSERT(pvio_mac_parse(mac, m) == 0 && !memcmp(m, vs->mac, 6));
	} else {
		ASSERT(!memcmp(vs->mac, zero, 6));
	}
	ASSERT(strin(vs->bridge, sizeof(vs->bridge)) && name_ok(vs->bridge, sizeof(vs->bridge) - 1));
	ASSERT(strin(vs->ip, sizeof(vs->ip)) && occurs_whole(spec, vs->ip, ","));
	for (const char *p = vs->ip; *p; p++)
		ASSERT(isxdigit((unsigned char)*p) || *p == '.' || *p == ':' || *p == ' ');
	ASSERT(strin(vs->script, sizeof(vs->script)) && occurs_whole(spec, vs->script, ","));
	ASSERT(strin(vs->vifname, sizeof(vs->vifname)) &&
	       (!vs->vifname[0] || name_ok(vs->vifname, 15)));
	ASSERT(strin(vs->model, sizeof(vs->model)) && occurs_whole(spec, vs->model, ","));
	ASSERT(vs->devid >= -1 && vs->devid <= 65535);
	ASSERT(vs->mtu == 0 || (vs->mtu >= 68 && vs->mtu <= 65521));
	ASSERT(vs->trusted >= -1 && vs->trusted <= 1);
	check_rate(vs->rate_bytes, vs->rate_usec);

	/* Written back (the rate as its backend key, checked above). */
	sb_add(&out, "bridge=%s, type=vif", vs->bridge);
	if (vs->mac_set)
		sb_add(&out, ", mac=%s", mac);
	if (vs->ip[0])
		sb_add(&out, ", ip=%s", vs->ip);
	if (vs->script[0])
		sb_add(&out, ", script=%s", vs->script);
	if (vs->vifname[0])
		sb_add(&out, ", vifname=%s", vs->vifname);
	if (vs->model[0])
		sb_add(&out, ", model=%s", vs->model);
	if (vs->devid >= 0)
		sb_add(&out, ", devid=%d", vs->devid);
	if (vs->mtu)
		sb_add(&out, ", mtu=%u", vs->mtu);
	if (vs->trusted >= 0)
		sb_add(&out, ", %s", vs->trusted ? "trusted" : "untrusted");
	ASSERT(pvio_vifspec_parse(out.p, &back, err, sizeof(err)) == 0);
	back.rate_bytes = vs->rate_bytes;
	back.rate_usec = vs->rate_usec;
	ASSERT(back.mac_set == vs->mac_set && !memcmp(back.mac, vs->mac, 6) &&
	       !strcmp(back.bridge, vs->bridge) && !strcmp(back.ip, vs->ip) &&
	       !strcmp(back.script, vs->script) && !strcmp(back.vifname, vs->vifname) &&
	       !strcmp(back.model, vs->model) && back.devid == vs->devid &&
	       back.mtu == vs->mtu && back.trusted == vs->trusted);
	free(out.p);
}

static void vif_one(const char *spec, bool small)
{
	struct pvio_vifspec vs;
	char err[ERR_CAP];
	size_t el = err_prepare(err, small);
	int r;

	memset(&vs, 0x5a, sizeof(vs));
	r = pvio_vifspec_parse(spec, &vs, err, el);

	if (r == 0) {
		err_check(err, el, false);
		check_vif(spec, &vs);
	} else {
		ASSERT(r == -EINVAL);
		err_check(err, el, true);
	}
	if (noerr_too)
		ASSERT(pvio_vifspec_parse(spec, &vs, NULL, 0) == r);
}

static void fuzz_vif(const uint8_t *d, size_t n, bool small)
{
	char *spec = dupz(d, n);

	vif_one(spec, small);
	free(spec);
}

/* ------------------------------------------------------------ xl.cfg */

static bool is_id0(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_id(int c)
{
	return is_id0(c) || (c >= '0' && c <= '9') || c == '.';
}

/* A value and what it holds. Lines only from 1: a list that '+=' extended
 * holds items of earlier settings, maybe from another text. */
static NOCOV void check_value(const struct pvio_xlcfg_value *v, int depth)
{
	ASSERT(v && v->line >= 1);
	if (v->type == PVIO_XLCFG_STRING) {
		ASSERT(v->str && !v->items);
		if (!v->quoted) {
			/* a NUMBER: digits or '-' first, then xl's atom characters */
			ASSERT(v->str[0] == '-' || (v->str[0] >= '0' && v->str[0] <= '9'));
			for (const char *p = v->str; *p; p++)
				ASSERT(is_id((unsigned char)*p) || *p == '-' || *p == '+');
		}
		return;
	}
	ASSERT(v->type == PVIO_XLCFG_LIST && !v->str);
	ASSERT(depth < PVIO_XLCFG_MAX_DEPTH && v->n <= PVIO_XLCFG_MAX_ITEMS);
	ASSERT(v->n == 0 || v->items);
	for (unsigned i = 0; i < v->n; i++)
		check_value(v->items[i], depth + 1);
}

/* The settings [first, cfg->n) came from text of nlines lines. */
static NOCOV void check_cfg(const struct pvio_xlcfg *cfg, unsigned first, unsigned nlines)
{
	ASSERT(cfg->n <= cfg->cap && (cfg->n == 0 || cfg->set));
	for (unsigned i = first; i < cfg->n; i++) {
		const struct pvio_xlcfg_setting *s = &cfg->set[i];

		ASSERT(s->key && is_id0((unsigned char)s->key[0]));
		for (const char *p = s->key; *p; p++)
			ASSERT(is_id((unsigned char)*p));
		ASSERT(s->line >= 1 && s->line <= nlines);
		ASSERT(s->val && s->val->line == s->line);
		check_value(s->val, 0);
		(void)pvio_xlcfg_xl_knows(s->key);
	}
	/* The setting in force for a key is its last one. */
	for (unsigned i = 0; i < cfg->n; i++) {
		const struct pvio_xlcfg_setting *g = pvio_xlcfg_get(cfg, cfg->set[i].key);

		ASSERT(g && g >= &cfg->set[i] && !strcmp(g->key, cfg->set[i].key));
		for (const struct pvio_xlcfg_setting *s = g + 1; s < cfg->set + cfg->n; s++)
			ASSERT(strcmp(s->key, g->key));
	}
}

static NOCOV void fmt_value(struct sb *o, const struct pvio_xlcfg_value *v)
{
	if (v->type == PVIO_XLCFG_LIST) {
		sb_add(o, "[");
		for (unsigned i = 0; i < v->n; i++) {
			fmt_value(o, v->items[i]);
			sb_add(o, i % 3 == 2 ? ",\n  " : ", ");
		}
		sb_add(o, "]");
	} else if (!v->quoted) {
		sb_add(o, "%s", v->str);
	} else {
		sb_add(o, "\"");
		for (const unsigned char *p = (const unsigned char *)v->str; *p; p++) {
			if (*p == '"' || *p == '\\')
				sb_add(o, "\\%c", *p);
			else if (*p == '\n')
				sb_add(o, "\\n");
			else if (*p < 0x20 || *p >= 0x7f)
				sb_add(o, *p & 1 ? "\\x%02x" : "\\%03o", *p);
			else
				sb_add(o, "%c", *p);
		}
		sb_add(o, "\"");
	}
}

static NOCOV bool value_equal(const struct pvio_xlcfg_value *a, const struct pvio_xlcfg_value *b)
{
	if (a->type != b->type)
		return false;
	if (a->type == PVIO_XLCFG_STRING)
		return a->quoted == b->quoted && !strcmp(a->str, b->str);
	if (a->n != b->n)
		return false;
	for (unsigned i = 0; i < a->n; i++)
		if (!value_equal(a->items[i], b->items[i]))
			return false;
	return true;
}

/* Every setting written back out (plain '=': a '+=' already holds the sum)
 * parses to the same settings. */
static NOCOV void roundtrip_cfg(const struct pvio_xlcfg *cfg)
{
	struct pvio_xlcfg back = { 0 };
	struct sb out = { 0 };
	char err[256] = "", *text;

	sb_add(&out, "# written back\n");
	for (unsigned i = 0; i < cfg->n; i++) {
		sb_add(&out, "%s = ", cfg->set[i].key);
		fmt_value(&out, cfg->set[i].val);
		if (i & 1)
			sb_add(&out, "; ");
		else
			sb_add(&out, "   # %u\n", i);
	}
	/* exactly its bytes, no NUL after them */
	text = malloc(out.n ? out.n : 1);
	ASSERT(text);
	memcpy(text, out.p, out.n);
	if (out.n <= PVIO_XLCFG_MAX_BYTES) {
		ASSERT(pvio_xlcfg_parse(&back, text, out.n, "back", err, sizeof(err)) == 0);
		ASSERT(back.n == cfg->n);
		for (unsigned i = 0; i < cfg->n; i++)
			ASSERT(!strcmp(back.set[i].key, cfg->set[i].key) &&
			       value_equal(back.set[i].val, cfg->set[i].val));
	}
	pvio_xlcfg_free(&back);
	free(text);
	free(out.p);
}

static NOCOV unsigned count_lines(const char *t, size_t n)
{
	unsigned l = 1;

	for (size_t i = 0; i < n; i++)
		l += t[i] == '\n';
	return l;
}

/* Parse text[0..n) into cfg as source; checks the outcome. */
static int cfg_one(struct pvio_xlcfg *cfg, const char *text, size_t n, const char *source,
		   bool small)
{
	char err[ERR_CAP];
	size_t el = err_prepare(err, small);
	unsigned first = cfg->n, nlines = count_lines(text, n);
	int r = pvio_xlcfg_parse(cfg, text, n, source, err, el);

	if (r == 0) {
		err_check(err, el, false);
		check_cfg(cfg, first, nlines);
	} else {
		ASSERT(r == -EINVAL || r == -EFBIG);
		err_check(err, el, true);
		if (!small && r == -EINVAL) {
			/* "source:line: what", the line within the text */
			size_t sl = strlen(source);
			char *end;
			unsigned long line;

			ASSERT(!strncmp(err, source, sl) && err[sl] == ':');
			line = strtoul(err + sl + 1, &end, 10);
			ASSERT(*end == ':' && line >= 1 && line <= nlines);
		}
		/* What it added before the error is well-formed (the caller frees it). */
		check_cfg(cfg, first, nlines);
	}
	return r;
}

static void fuzz_cfg(const uint8_t *d, size_t n, bool small)
{
	struct pvio_xlcfg cfg = { 0 };
	char *text = malloc(n ? n : 1);

	ASSERT(text);
	memcpy(text, d, n);
	if (cfg_one(&cfg, text, n, "fuzz.cfg", small) == 0)
		roundtrip_cfg(&cfg);
	pvio_xlcfg_free(&cfg);
	ASSERT(cfg.n == 0 && cfg.set == NULL);
	free(text);
}

/* The entries of a disk = [...] or vif = [...] through their spec parser,
 * as pvio create does before it makes anything. */
static void specs_of(const struct pvio_xlcfg *cfg, const char *key, bool disk, bool small)
{
	const struct pvio_xlcfg_setting *s = pvio_xlcfg_get(cfg, key);

	if (!s || s->val->type != PVIO_XLCFG_LIST)
		return;
	for (unsigned i = 0; i < s->val->n && i < 256; i++) {
		const struct pvio_xlcfg_value *v = s->val->items[i];

		if (v->type != PVIO_XLCFG_STRING || !v->quoted)
			continue;
		if (disk)
			disk_one(v->str, small);
		else
			vif_one(v->str, small);
	}
}

static void fuzz_create(const uint8_t *d, size_t n, bool small)
{
	struct pvio_xlcfg cfg = { 0 };
	const uint8_t *nul = memchr(d, 0, n);
	size_t fl = nul ? (size_t)(nul - d) : n;
	char *text = malloc(fl ? fl : 1);
	int r;

	ASSERT(text);
	memcpy(text, d, fl);
	r = cfg_one(&cfg, text, fl, "guest.cfg", small);
	free(text);
	/* KEY=VALUE arguments: C strings, each parsed on top of the file. */
	while (r == 0 && nul) {
		const uint8_t *p = nul + 1;
		char *arg;

		nul = memchr(p, 0, n - (size_t)(p - d));
		arg = dupz(p, nul ? (size_t)(nul - p) : n - (size_t)(p - d));
		r = cfg_one(&cfg, arg, strlen(arg), "command line", small);
		free(arg);
	}
	if (r == 0) {
		specs_of(&cfg, "disk", true, small);
		specs_of(&cfg, "vif", false, small);
	}
	pvio_xlcfg_free(&cfg);
}

/* ------------------------------------------------------------ pieces */

static void fuzz_pieces(const uint8_t *d, size_t n, bool small)
{
	char *s = dupz(d, n);
	char err[ERR_CAP];
	size_t el;
	uint32_t devid, usec;
	uint64_t bytes;
	uint8_t mac[6];
	struct pvio_throttle_cfg tc;
	int r;

	if (pvio_vdev_to_devid(s, &devid) == 0) {
		ASSERT(devid != 0 && devid <= 0x7fffffff);
		/* a disk name or a plain number, nothing else */
		if (isdigit((unsigned char)s[0])) {
			for (const char *p = s; *p; p++)
				ASSERT(isdigit((unsigned char)*p));
		} else {
			const char *p = s;

			while (islower((unsigned char)*p))
				p++;
			while (isdigit((unsigned char)*p))
				p++;
			ASSERT(!*p);
		}
	}

	if (pvio_mac_parse(s, mac) == 0) {
		char back[18];
		uint8_t m2[6];

		ASSERT(strlen(s) == 17);
		pvio_mac_format(mac, back);
		ASSERT(!strcasecmp(back, s) || strchr(s, '-'));
		ASSERT(pvio_mac_parse(back, m2) == 0 && !memcmp(mac, m2, 6));
	}

	el = err_prepare(err, small);
	r = pvio_rate_parse(s, &bytes, &usec, err, el);
	if (r == 0) {
		err_check(err, el, false);
		ASSERT(usec > 0);
		check_rate(bytes, usec);
	} else {
		ASSERT(r == -EINVAL || r == -ERANGE);
		err_check(err, el, true);
		ASSERT(small || !strncmp(err, "rate: ", 6));
	}

	/* the backend key netback reads (the store is writable by dom0 only,
	 * but a key is a string from outside the process all the same) */
	{
		uint64_t kb, ku;

		el = err_prepare(err, small);
		r = pvio_rate_key_parse(s, &kb, &ku, err, el);
		if (r == 0) {
			err_check(err, el, false);
			ASSERT(ku <= UINT32_MAX && (ku == 0 || kb > 0));
			if (ku)
				check_rate(kb, (uint32_t)ku);
		} else {
			ASSERT(r == -EINVAL);
			err_check(err, el, true);
		}
	}

	el = err_prepare(err, small);
	pvio_throttle_cfg_init(&tc);
	r = pvio_throttle_cfg_parse(&tc, s, err, el);
	if (r == 0) {
		err_check(err, el, false);
		check_throttle(&tc, false);
		el = err_prepare(err, small);
		r = pvio_throttle_cfg_validate(&tc, err, el);
		ASSERT(r == 0 || r == -EINVAL);
		err_check(err, el, r != 0);
	} else {
		ASSERT(r == -EINVAL || r == -ERANGE);
		err_check(err, el, true);
	}
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bool small;

	if (size < 1)
		return 0;
	small = data[0] & 0x80;
	noerr_too = data[0] & 0x40;
	switch ((data[0] & 0x3f) % 5) {
	case 0: fuzz_disk(data + 1, size - 1, small); break;
	case 1: fuzz_vif(data + 1, size - 1, small); break;
	case 2: fuzz_cfg(data + 1, size - 1, small); break;
	case 3: fuzz_create(data + 1, size - 1, small); break;
	default: fuzz_pieces(data + 1, size - 1, small); break;
	}
	return 0;
}
