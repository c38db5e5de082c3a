/* SPDX-License-Identifier: MIT */
/*
 * A frontend personality's store keys, held to a spec file that the
 * nested-Xen tests also hold the real Linux frontend and backend to
 * (tests/xen/lib.sh xen_keys_check, same rules): so the personality is
 * checked against what real drivers write, not only against pvio.
 * Header-only; include after testutil.h.
 *
 * Key names are normalised: "queue-N/" dropped, the number of a numbered
 * key turned into %u (ring-ref3 -> ring-ref%u, queue-0 -> queue-%u). Spec lines
 * (# comments):
 *   fe  K[|K2]   the frontend writes K (or K2)     fe? K...  it may
 *   ts  K...     the toolstack writes these        be  K...  the personality
 *   reads K: the backend must have it              be? K...  read, with a default
 */
#ifndef PVIO_KEYSPEC_H
#define PVIO_KEYSPEC_H

#include <ctype.h>
#include <stdbool.h>

#include "xenstore/xs.h"

#define KS_MAX 128

struct ks_set {
	char k[KS_MAX][64];
	unsigned n;
};

static void ks_add(struct ks_set *s, const char *name)
{
	char b[64];
	size_t l;

	if (!strncmp(name, "queue-", 6) && strchr(name, '/'))
		name = strchr(name, '/') + 1;
	snprintf(b, sizeof(b), "%.63s", name);
	l = strlen(b);
	while (l && isdigit((unsigned char)b[l - 1]))
		l--;
	/* numbered keys: ring-ref%u, queue-%u (not feature-gso-tcpv4) */
	if (l < strlen(b) && ((l >= 3 && !strncmp(b + l - 3, "ref", 3)) ||
			      (l == 6 && !strncmp(b, "queue-", 6))))
		snprintf(b + l, sizeof(b) - l, "%%u");
	for (unsigned i = 0; i < s->n; i++)
		if (!strcmp(s->k[i], b))
			return;
	if (s->n < KS_MAX)
		memcpy(s->k[s->n++], b, sizeof(b));
}

static bool ks_has(const struct ks_set *s, const char *k)
{
	for (unsigned i = 0; i < s->n; i++)
		if (!strcmp(s->k[i], k))
			return true;
	return false;
}

/* Every node under dir, two levels deep (queue-N/ and its keys). */
static int ks_list(struct pvio_xs *xs, const char *dir, const char *pfx, struct ks_set *s)
{
	char **names, path[256], rel[128];
	unsigned n;
	int r = pvio_xs_directory(xs, 0, dir, &names, &n);

	if (r < 0)
		return r;
	for (unsigned i = 0; i < n; i++) {
		snprintf(rel, sizeof(rel), "%.63s%.63s", pfx, names[i]);
		ks_add(s, rel);
		if (!*pfx && !strncmp(names[i], "queue-", 6)) {
			snprintf(path, sizeof(path), "%.190s/%.63s", dir, names[i]);
			snprintf(rel, sizeof(rel), "%.63s/", names[i]);
			ks_list(xs, path, rel, s);
		}
	}
	free(names);
	return 0;
}

/* Whether word w is in the space-separated list of spec line l's fields
 * after the first, with '|' separating alternatives too. */
static bool ks_line_has(const char *l, const char *w)
{
	char b[512], *save, *t;

	snprintf(b, sizeof(b), "%.511s", l);
	t = strtok_r(b, " \t|", &save);             /* the kind */
	while ((t = strtok_r(NULL, " \t|", &save)))
		if (!strcmp(t, w))
			return true;
	return false;
}

/*
 * Check the frontend directory fe and the backend directory be against
 * spec: every fe key written (one of its alternatives), nothing written
 * that the spec does not name, every be key present. Returns the number of
 * failures (each printed, with who).
 */
static int tu_keys_check(struct pvio_xs *xs, const char *spec, const char *fe, const char *be,
			 const char *who)
{
	struct ks_set f = { .n = 0 }, b = { .n = 0 };
	char lines[64][512], l[512];
	unsigned nl = 0;
	int bad = 0;
	FILE *sp = fopen(spec, "r");

	if (!sp) {
		fprintf(stderr, "FAIL %s: cannot open the key spec %s: %s\n", who, spec,
			strerror(errno));
		return 1;
	}
	while (nl < 64 && fgets(l, sizeof(l), sp)) {
		char *h = strchr(l, '#');

		if (h)
			*h = 0;
		l[strcspn(l, "\n")] = 0;
		if (strspn(l, " \t") < strlen(l))
			snprintf(lines[nl++], sizeof(lines[0]), "%.511s", l + strspn(l, " \t"));
	}
	fclose(sp);
	if (ks_list(xs, fe, "", &f) < 0 || ks_list(xs, be, "", &b) < 0) {
		fprintf(stderr, "FAIL %s: cannot list %s or %s\n", who, fe, be);
		return 1;
	}
	for (unsigned i = 0; i < nl; i++) {
		char kind[8] = "", b2[512], *save, *t;
		bool any = false;

		sscanf(lines[i], "%7s", kind);
		snprintf(b2, sizeof(b2), "%.511s", lines[i]);
		strtok_r(b2, " \t|", &save);
		if (!strcmp(kind, "fe")) {
			while ((t = strtok_r(NULL, " \t|", &save)))
				any |= ks_has(&f, t);
			if (!any) {
				fprintf(stderr, "FAIL %s: the frontend did not write %s\n", who,
					lines[i] + 3);
				bad++;
			}
		} else if (!strcmp(kind, "be")) {
			while ((t = strtok_r(NULL, " \t|", &save)))
				if (!ks_has(&b, t)) {
					fprintf(stderr, "FAIL %s: the backend has no %s\n", who, t);
					bad++;
				}
		}
	}
	for (unsigned j = 0; j < f.n; j++) {
		bool named = false;

		for (unsigned i = 0; i < nl && !named; i++)
			if (!strncmp(lines[i], "fe", 2) || !strncmp(lines[i], "ts", 2))
				named = ks_line_has(lines[i], f.k[j]);
		if (!named) {
			fprintf(stderr, "FAIL %s: the frontend wrote %s, which %s does not name\n",
				who, f.k[j], spec);
			bad++;
		}
	}
	return bad;
}

#endif
