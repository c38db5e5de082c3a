/* SPDX-License-Identifier: MIT */
/*
 * The store's data: nodes in a hash table keyed by absolute path, and
 * transactions.
 *
 * A transaction keeps private copies of every node it touches (read or
 * written), each remembering the global generation it was copied at. Reads
 * in the transaction see the copies (so they see their own writes and a
 * stable view of what they read); commit checks that no copied node changed
 * in the global store since (xenstored's "accessed nodes" check, which only
 * conflicts on nodes the transaction actually used), then moves the changed
 * copies in. Commit either applies everything or nothing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xenstore/xsd_internal.h"

/* ------------------------------------------------------------ hash table */

static uint32_t hash_name(const char *s, size_t len)
{
	uint32_t h = 2166136261u;           /* FNV-1a */

	for (size_t i = 0; i < len; i++) {
		h ^= (uint8_t)s[i];
		h *= 16777619u;
	}
	return h;
}

int xsd_htab_init(struct xsd_htab *t, uint32_t size_pow2)
{
	t->b = calloc(size_pow2, sizeof(*t->b));
	if (!t->b)
		return -ENOMEM;
	t->mask = size_pow2 - 1;
	t->n = 0;
	return 0;
}

void xsd_htab_fini(struct xsd_htab *t)
{
	if (!t->b)
		return;
	for (uint32_t i = 0; i <= t->mask; i++) {
		struct xsd_node *n = t->b[i], *next;
		for (; n; n = next) {
			next = n->hnext;
			xsd_node_free(n);
		}
	}
	free(t->b);
	t->b = NULL;
	t->n = 0;
}

struct xsd_node *xsd_htab_get(const struct xsd_htab *t, const char *name, size_t len)
{
	uint32_t h = hash_name(name, len);

	for (struct xsd_node *n = t->b[h & t->mask]; n; n = n->hnext)
		if (n->hash == h && n->namelen == len && !memcmp(n->name, name, len))
			return n;
	return NULL;
}

/* Grow at load factor 1; if the bigger array can't be had, chains just get
 * longer, so adding never fails. */
static void htab_grow(struct xsd_htab *t)
{
	uint32_t nsize = (t->mask + 1) * 2;
	struct xsd_node **nb = calloc(nsize, sizeof(*nb));

	if (!nb)
		return;
	for (uint32_t i = 0; i <= t->mask; i++) {
		struct xsd_node *n = t->b[i], *next;
		for (; n; n = next) {
			next = n->hnext;
			n->hnext = nb[n->hash & (nsize - 1)];
			nb[n->hash & (nsize - 1)] = n;
		}
	}
	free(t->b);
	t->b = nb;
	t->mask = nsize - 1;
}

int xsd_htab_add(struct xsd_htab *t, struct xsd_node *n)
{
	if (t->n >= t->mask + 1 && t->mask < (1u << 30))
		htab_grow(t);
	n->hnext = t->b[n->hash & t->mask];
	t->b[n->hash & t->mask] = n;
	t->n++;
	return 0;
}

void xsd_htab_del(struct xsd_htab *t, struct xsd_node *n)
{
	struct xsd_node **pp = &t->b[n->hash & t->mask];

	for (; *pp; pp = &(*pp)->hnext) {
		if (*pp == n) {
			*pp = n->hnext;
			n->hnext = NULL;
			t->n--;
			return;
		}
	}
}

/* ----------------------------------------------------------------- nodes */

struct xsd_node *xsd_node_new(const char *name, size_t len)
{
	struct xsd_node *n = calloc(1, sizeof(*n) + len + 1);

	if (!n)
		return NULL;
	n->name = (char *)(n + 1);
	memcpy(n->name, name, len);
	n->name[len] = '\0';
	n->namelen = (uint32_t)len;
	n->hash = hash_name(name, len);
	return n;
}

static void node_clear(struct xsd_node *n)
{
	free(n->value);
	free(n->children);
	free(n->perms);
	n->value = n->children = NULL;
	n->perms = NULL;
	n->vlen = n->childlen = 0;
	n->nperms = 0;
}

void xsd_node_free(struct xsd_node *n)
{
	if (!n)
		return;
	node_clear(n);
	free(n);
}

int xsd_node_set_value(struct xsd_node *n, const void *v, size_t len)
{
	char *nv = NULL;

	if (len) {
		nv = malloc(len);
		if (!nv)
			return -ENOMEM;
		memcpy(nv, v, len);
	}
	free(n->value);
	n->value = nv;
	n->vlen = (uint32_t)len;
	return 0;
}

int xsd_node_set_perms(struct xsd_node *n, const struct xsd_perm *p, unsigned np)
{
	struct xsd_perm *npp = malloc(np * sizeof(*p));

	if (!npp)
		return -ENOMEM;
	memcpy(npp, p, np * sizeof(*p));
	free(n->perms);
	n->perms = npp;
	n->nperms = (uint16_t)np;
	return 0;
}

int xsd_node_add_child(struct xsd_node *n, const char *base, size_t len)
{
	char *nc = realloc(n->children, n->childlen + len + 1);

	if (!nc)
		return -ENOMEM;
	memcpy(nc + n->childlen, base, len);
	nc[n->childlen + len] = '\0';
	n->children = nc;
	n->childlen += (uint32_t)len + 1;
	return 0;
}

int xsd_node_del_child(struct xsd_node *n, const char *base, size_t len)
{
	uint32_t off = 0;

	while (off < n->childlen) {
		size_t clen = strlen(n->children + off);
		if (clen == len && !memcmp(n->children + off, base, len)) {
			memmove(n->children + off, n->children + off + clen + 1,
				n->childlen - off - clen - 1);
			n->childlen -= (uint32_t)clen + 1;
			return 0;
		}
		off += (uint32_t)clen + 1;
	}
	return -ENOENT;
}

int xsd_node_copy_content(struct xsd_node *dst, const struct xsd_node *src)
{
	struct xsd_node tmp = { 0 };

	if ((src->vlen && !(tmp.value = malloc(src->vlen))) ||
	    (src->childlen && !(tmp.children = malloc(src->childlen))) ||
	    !(tmp.perms = malloc((src->nperms ? src->nperms : 1) * sizeof(*src->perms)))) {
		node_clear(&tmp);
		return -ENOMEM;
	}
	if (src->vlen)
		memcpy(tmp.value, src->value, src->vlen);
	if (src->childlen)
		memcpy(tmp.children, src->children, src->childlen);
	memcpy(tmp.perms, src->perms, src->nperms * sizeof(*src->perms));
	node_clear(dst);
	dst->value = tmp.value;
	dst->vlen = src->vlen;
	dst->children = tmp.children;
	dst->childlen = src->childlen;
	dst->perms = tmp.perms;
	dst->nperms = src->nperms;
	return 0;
}

static void node_swap_content(struct xsd_node *a, struct xsd_node *b)
{
	struct xsd_node t = *a;

	a->value = b->value;       a->vlen = b->vlen;
	a->children = b->children; a->childlen = b->childlen;
	a->perms = b->perms;       a->nperms = b->nperms;
	b->value = t.value;        b->vlen = t.vlen;
	b->children = t.children;  b->childlen = t.childlen;
	b->perms = t.perms;        b->nperms = t.nperms;
}

/* ----------------------------------------------------------------- views */

/* The transaction's copy of name, made on first access. */
static struct xsd_node *tx_entry(struct xsd_view *v, const char *name, size_t len, int *err)
{
	struct xsd_tx *tx = v->tx;
	struct xsd_node *t = xsd_htab_get(&tx->nodes, name, len), *g;

	if (t)
		return t;
	g = xsd_htab_get(&v->xsd->nodes, name, len);
	t = xsd_node_new(name, len);
	if (!t)
		goto nomem;
	if (g) {
		if (xsd_node_copy_content(t, g)) {
			xsd_node_free(t);
			goto nomem;
		}
		t->gen = t->base_gen = g->gen;
		t->exists = true;
	}
	xsd_htab_add(&tx->nodes, t);
	return t;
nomem:
	*err = ENOMEM;
	tx->failed = true;
	return NULL;
}

struct xsd_node *xsd_view_get(struct xsd_view *v, const char *name, size_t len, int *err)
{
	struct xsd_node *t;

	*err = 0;
	if (!v->tx)
		return xsd_htab_get(&v->xsd->nodes, name, len);
	t = tx_entry(v, name, len, err);
	return t && t->exists ? t : NULL;
}

struct xsd_node *xsd_view_create(struct xsd_view *v, const char *name, size_t len)
{
	struct xsd_node *n;
	int err;

	if (!v->tx) {
		n = xsd_node_new(name, len);
		if (!n)
			return NULL;
		n->exists = true;
		n->gen = ++v->xsd->gen;
		xsd_htab_add(&v->xsd->nodes, n);
		return n;
	}
	n = tx_entry(v, name, len, &err);
	if (!n)
		return NULL;
	node_clear(n);
	n->exists = true;
	n->dirty = true;
	n->gen = ++v->xsd->gen;
	return n;
}

void xsd_view_changed(struct xsd_view *v, struct xsd_node *n)
{
	n->gen = ++v->xsd->gen;
	if (v->tx)
		n->dirty = true;
}

void xsd_view_delete(struct xsd_view *v, struct xsd_node *n)
{
	if (!v->tx) {
		xsd_htab_del(&v->xsd->nodes, n);
		xsd_node_free(n);
		return;
	}
	node_clear(n);
	n->exists = false;
	n->dirty = true;
	n->gen = ++v->xsd->gen;
}

/* How the transaction changes domid's node count. */
static int tx_nodes_delta(struct pvio_xsd *xsd, struct xsd_tx *tx, uint16_t domid)
{
	int delta = 0;

	for (uint32_t i = 0; i <= tx->nodes.mask; i++) {
		for (struct xsd_node *t = tx->nodes.b[i]; t; t = t->hnext) {
			struct xsd_node *g;
			if (!t->dirty)
				continue;
			g = xsd_htab_get(&xsd->nodes, t->name, t->namelen);
			if (g && xsd_node_owner(g) == domid)
				delta--;
			if (t->exists && xsd_node_owner(t) == domid)
				delta++;
		}
	}
	return delta;
}

unsigned xsd_view_nodes_of(struct xsd_view *v, uint16_t domid)
{
	struct xsd_domain *d = xsd_domain_get(v->xsd, domid, false);
	long n = d ? (long)d->nodes : 0;

	if (v->tx)
		n += tx_nodes_delta(v->xsd, v->tx, domid);
	return n < 0 ? 0 : (unsigned)n;
}

/* ---------------------------------------------------------- transactions */

struct xsd_tx *xsd_tx_new(uint16_t domid, uint32_t id)
{
	struct xsd_tx *tx = calloc(1, sizeof(*tx));

	if (!tx)
		return NULL;
	if (xsd_htab_init(&tx->nodes, 16)) {
		free(tx);
		return NULL;
	}
	tx->domid = domid;
	tx->id = id;
	return tx;
}

void xsd_tx_free(struct xsd_tx *tx)
{
	struct xsd_tx_event *e, *next;

	if (!tx)
		return;
	xsd_htab_fini(&tx->nodes);
	for (e = tx->ev_head; e; e = next) {
		next = e->next;
		free(e->perms);
		free(e);
	}
	free(tx);
}

static void tx_free_twins(struct xsd_htab *tn)
{
	for (uint32_t i = 0; i <= tn->mask; i++)
		for (struct xsd_node *t = tn->b[i]; t; t = t->hnext) {
			xsd_node_free(t->twin);
			t->twin = NULL;
		}
}

int xsd_tx_commit(struct pvio_xsd *xsd, struct xsd_tx *tx, bool quota)
{
	struct xsd_htab *tn = &tx->nodes;

	if (tx->failed)
		return ENOMEM;

	/* 1. Anything we used changed meanwhile? */
	for (uint32_t i = 0; i <= tn->mask; i++) {
		for (struct xsd_node *t = tn->b[i]; t; t = t->hnext) {
			struct xsd_node *g = xsd_htab_get(&xsd->nodes, t->name, t->namelen);
			if ((g ? g->gen : 0) != t->base_gen)
				return EAGAIN;
		}
	}

	/* 2. Node quota of the committing domain, if the commit adds nodes. */
	if (quota) {
		int delta = tx_nodes_delta(xsd, tx, tx->domid);
		struct xsd_domain *d = xsd_domain_get(xsd, tx->domid, false);
		long now = d ? (long)d->nodes : 0;
		if (delta > 0 && now + delta > (long)xsd->opts.quota_nodes)
			return ENOSPC;
	}

	/* 3. Allocate what applying needs: a global twin for each new node. */
	for (uint32_t i = 0; i <= tn->mask; i++) {
		for (struct xsd_node *t = tn->b[i]; t; t = t->hnext) {
			if (!t->dirty || !t->exists || t->base_gen)
				continue;
			t->twin = xsd_node_new(t->name, t->namelen);
			if (!t->twin) {
				tx_free_twins(tn);
				return ENOMEM;
			}
		}
	}

	/* 4. Apply: nothing can fail from here on. (base_gen == global gen was
	 * checked above, so base_gen == 0 <=> no global node.) */
	for (uint32_t i = 0; i <= tn->mask; i++) {
		for (struct xsd_node *t = tn->b[i]; t; t = t->hnext) {
			struct xsd_node *g;
			if (!t->dirty)
				continue;
			g = t->base_gen ? xsd_htab_get(&xsd->nodes, t->name, t->namelen) : NULL;
			if (g)
				xsd_acct_nodes(xsd, xsd_node_owner(g), -1);
			if (!t->exists) {
				if (g) {
					xsd_htab_del(&xsd->nodes, g);
					xsd_node_free(g);
				}
				continue;
			}
			if (!g) {
				g = t->twin;
				t->twin = NULL;
				g->exists = true;
				xsd_htab_add(&xsd->nodes, g);
			}
			node_swap_content(g, t);
			g->gen = ++xsd->gen;
			xsd_acct_nodes(xsd, xsd_node_owner(g), +1);
		}
	}
	return 0;
}
