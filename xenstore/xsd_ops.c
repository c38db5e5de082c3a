/* SPDX-License-Identifier: MIT */
/*
 * The store's request handlers: one function per xs_wire message type, with
 * xenstored's semantics (tools/xenstore/xenstored_core.c, _watch.c,
 * _transaction.c, _domain.c): which permission each operation needs, what
 * error a client may learn about a node it can't see, which watches fire.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xenstore/xsd_internal.h"

#define PATH_BUF (PVIO_XENSTORE_ABS_PATH_MAX + 1)

struct req {
	struct pvio_xsd *xsd;
	struct xsd_conn *c;
	uint32_t type, req_id, tx_id, len;
	char    *p;                /* payload, NUL-terminated at p[len] */
	struct xsd_view v;
	char     path[PATH_BUF];   /* the canonical path of the request */
	uint32_t plen;
	char     tmp[PVIO_XENSTORE_PAYLOAD_MAX + 8];  /* rm's walk, reply building */
};

bool xsd_quota_applies(const struct pvio_xsd *xsd, uint16_t domid)
{
	return domid != 0 || xsd->opts.quota_dom0;
}

/* ---------------------------------------------------------------- replies */

static void reply2(struct req *r, const void *a, uint32_t la, const void *b, uint32_t lb)
{
	xsd_conn_send(r->xsd, r->c, r->type, r->req_id, r->tx_id, a, la, b, lb);
}

static void reply(struct req *r, const void *a, uint32_t la)
{
	reply2(r, a, la, NULL, 0);
}

static void reply_ok(struct req *r)
{
	reply(r, "OK", 3);
}

static void reply_err(struct req *r, int err)
{
	const char *name = pvio__xs_errname(err);

	r->xsd->st.errors++;
	if (r->xsd->opts.verbose >= 2)
		xsd_log(r->xsd, false, "dom%u: request %u -> %s", r->c->domid, r->type, name);
	xsd_conn_send(r->xsd, r->c, PVIO_XS_ERROR, r->req_id, r->tx_id, name,
		      (uint32_t)strlen(name) + 1, NULL, 0);
}

/* ------------------------------------------------------------ permissions */

static unsigned perm_for(const struct xsd_conn *c, const struct xsd_perm *p, unsigned np)
{
	bool tgt = c->dom && c->dom->has_target;
	uint16_t t = tgt ? c->dom->target : 0;

	/* Owners and dom0 get it all. */
	if (c->domid == 0 || p[0].id == c->domid || (tgt && p[0].id == t))
		return XS_P_READ | XS_P_WRITE | XS_P_OWNER;
	for (unsigned i = 1; i < np; i++)
		if (p[i].id == c->domid || (tgt && p[i].id == t))
			return p[i].perms & (XS_P_READ | XS_P_WRITE);
	return p[0].perms & (XS_P_READ | XS_P_WRITE);
}

static unsigned node_perm(const struct xsd_conn *c, const struct xsd_node *n)
{
	return perm_for(c, n->perms, n->nperms);
}

/* Length of the parent's path ("/a/b" -> 2, "/a" -> 1). */
static uint32_t parent_len(const char *path, uint32_t len)
{
	while (len > 1 && path[len - 1] != '/')
		len--;
	return len > 1 ? len - 1 : 1;
}

/* The request's first argument (a NUL-terminated string inside the payload)
 * as a canonical absolute path in r->path. */
static int canon(struct req *r, const char *s, bool special)
{
	size_t sl = strlen(s), len;
	uint32_t off = 0;

	if (!pvio__xs_valid_chars(s, sl))
		return EINVAL;
	if (s[0] == '@') {
		if (!special || sl > PVIO_XENSTORE_REL_PATH_MAX)
			return EINVAL;
		memcpy(r->path, s, sl + 1);
		r->plen = (uint32_t)sl;
		return 0;
	}
	if (s[0] == '/') {
		if (sl > PVIO_XENSTORE_ABS_PATH_MAX)
			return EINVAL;
		memcpy(r->path, s, sl + 1);
		len = sl;
	} else {
		len = r->c->homelen + 1 + sl;
		if (len > PVIO_XENSTORE_ABS_PATH_MAX)
			return EINVAL;
		memcpy(r->path, r->c->home, r->c->homelen);
		r->path[r->c->homelen] = '/';
		memcpy(r->path + r->c->homelen + 1, s, sl + 1);
	}
	if ((len > 1 && r->path[len - 1] == '/') || strstr(r->path, "//"))
		return EINVAL;
	if (xsd_quota_applies(r->xsd, r->c->domid)) {
		/* Like xenstored: what counts is the part below a domain's home. */
		unsigned domid, n = 0;
		if (sscanf(r->path, "/local/domain/%5u/%n", &domid, &n) == 1 && n)
			off = n;
		if (len - off > r->xsd->opts.quota_path_len)
			return EINVAL;
	}
	r->plen = (uint32_t)len;
	return 0;
}

/* The payload must be exactly one string (xenstored's onearg()). */
static const char *onearg(struct req *r)
{
	if (!r->len || memchr(r->p, 0, r->len) != r->p + r->len - 1)
		return NULL;
	return r->p;
}

/*
 * A node the connection may not know about must look like any other
 * missing node: the error for a missing node is ENOENT only if the closest
 * existing ancestor would grant the access asked for, EACCES otherwise.
 */
static int errno_from_parents(struct req *r, const char *path, uint32_t len, unsigned perm)
{
	struct xsd_node *n = NULL;
	int err = 0;

	if (path[0] == '@')
		return ENOENT;
	while (!n) {
		len = parent_len(path, len);
		n = xsd_view_get(&r->v, path, len, &err);
		if (err)
			return err;
		if (!n && len == 1)
			return EACCES;      /* no root: can't happen */
	}
	return (node_perm(r->c, n) & perm) ? ENOENT : EACCES;
}

static struct xsd_node *get_node(struct req *r, unsigned perm, int *err)
{
	struct xsd_node *n = xsd_view_get(&r->v, r->path, r->plen, err);

	if (*err)
		return NULL;
	if (n) {
		if ((node_perm(r->c, n) & perm) == perm)
			return n;
		*err = EACCES;
		return NULL;
	}
	*err = errno_from_parents(r, r->path, r->plen, perm);
	return NULL;
}

/* ---------------------------------------------------------------- watches */

static bool watch_permitted(struct pvio_xsd *xsd, struct xsd_conn *c, const char *name,
			    uint32_t len, const struct xsd_perm *old, unsigned nold)
{
	struct xsd_node *n;

	if (c->domid == 0)
		return true;
	if (name[0] == '@') {
		n = xsd_htab_get(&xsd->nodes, name, len);
		return n && (node_perm(c, n) & XS_P_READ);
	}
	/* Losing access to a node still tells about the change. */
	if (old && (perm_for(c, old, nold) & XS_P_READ))
		return true;
	n = xsd_htab_get(&xsd->nodes, name, len);
	if (!n)
		return false;
	if (node_perm(c, n) & XS_P_READ)
		return true;
	n = xsd_htab_get(&xsd->nodes, name, parent_len(name, len));
	return n && (node_perm(c, n) & XS_P_READ);
}

static void send_event(struct pvio_xsd *xsd, struct xsd_conn *c, const struct xsd_watch *w,
		       const char *name, uint32_t len)
{
	const char *p = name;

	if (w->relative && len >= c->homelen && !memcmp(name, c->home, c->homelen)) {
		p += c->homelen;
		if (*p == '/')
			p++;
	}
	xsd_conn_send(xsd, c, PVIO_XS_WATCH_EVENT, 0, 0, p, (uint32_t)(len - (p - name)) + 1,
		      w->token, (uint32_t)strlen(w->token) + 1);
}

void xsd_fire_watches(struct pvio_xsd *xsd, const char *name, size_t len, bool exact,
		      const struct xsd_perm *old, unsigned nold)
{
	struct xsd_conn *c, *next;

	for (c = xsd->conns; c; c = next) {
		int permitted = -1;
		next = c->next;
		for (struct xsd_watch *w = c->watches; w && !c->dead; w = w->next) {
			bool match = exact ? (w->pathlen == len && !memcmp(w->path, name, len))
					   : pvio__xs_is_child(name, len, w->path, w->pathlen);
			if (!match)
				continue;
			if (permitted < 0)
				permitted = watch_permitted(xsd, c, name, (uint32_t)len, old, nold);
			if (!permitted)
				break;
			send_event(xsd, c, w, name, (uint32_t)len);
			/* Sending may have killed the connection and freed its
			 * watches: don't step to w->next then. */
			if (c->dead)
				break;
		}
	}
}

void xsd_fire_special(struct pvio_xsd *xsd, const char *name)
{
	xsd_fire_watches(xsd, name, strlen(name), true, NULL, 0);
}

/* Fire now, or when the request's transaction commits. */
static void fire(struct req *r, const char *name, uint32_t len, bool exact,
		 const struct xsd_perm *old, unsigned nold)
{
	struct xsd_tx *tx = r->v.tx;
	struct xsd_tx_event *e;

	if (!tx) {
		xsd_fire_watches(r->xsd, name, len, exact, old, nold);
		return;
	}
	e = malloc(sizeof(*e) + len + 1);
	if (!e || (old && !(e->perms = malloc(nold * sizeof(*old))))) {
		free(e);
		tx->failed = true;
		return;
	}
	e->next = NULL;
	e->exact = exact;
	e->namelen = len;
	memcpy(e->name, name, len);
	e->name[len] = '\0';
	e->nperms = old ? (uint16_t)nold : 0;
	if (old)
		memcpy(e->perms, old, nold * sizeof(*old));
	else
		e->perms = NULL;
	if (tx->ev_tail)
		tx->ev_tail->next = e;
	else
		tx->ev_head = e;
	tx->ev_tail = e;
}

/* --------------------------------------------------------------- handlers */

static int op_read(struct req *r)
{
	const char *a = onearg(r);
	struct xsd_node *n;
	int err;

	if (!a || (err = canon(r, a, false)))
		return EINVAL;
	n = get_node(r, XS_P_READ, &err);
	if (!n)
		return err;
	reply(r, n->value, n->vlen);
	return 0;
}

/* Create r->path (and missing parents) with the given value. */
static int create_node(struct req *r, const void *val, uint32_t vlen)
{
	struct xsd_view *v = &r->v;
	struct xsd_node *parent = NULL, *n;
	uint32_t plen = r->plen, missing = 1;
	int err = 0;

	while (!parent) {
		plen = parent_len(r->path, plen);
		parent = xsd_view_get(v, r->path, plen, &err);
		if (err)
			return err;
		if (!parent)
			missing++;
	}
	if (xsd_quota_applies(r->xsd, r->c->domid) &&
	    xsd_view_nodes_of(v, r->c->domid) + missing > r->xsd->opts.quota_nodes)
		return ENOSPC;

	for (;;) {
		uint32_t start = parent->namelen == 1 ? 1 : parent->namelen + 1, end = start;
		while (end < r->plen && r->path[end] != '/')
			end++;
		n = xsd_view_create(v, r->path, end);
		if (!n)
			return ENOMEM;
		/* Inherit the parent's permissions; guests own what they create. */
		if (xsd_node_set_perms(n, parent->perms, parent->nperms) ||
		    xsd_node_add_child(parent, r->path + start, end - start)) {
			xsd_view_delete(v, n);
			return ENOMEM;
		}
		if (r->c->domid != 0)
			n->perms[0].id = r->c->domid;
		xsd_view_changed(v, parent);
		if (!v->tx)
			xsd_acct_nodes(r->xsd, xsd_node_owner(n), +1);
		if (end == r->plen)
			break;
		parent = n;
	}
	if (vlen && xsd_node_set_value(n, val, vlen))
		return ENOMEM;
	return 0;
}

static int op_write(struct req *r)
{
	struct xsd_node *n;
	uint32_t off, vlen;
	int err;

	if (!memchr(r->p, 0, r->len))
		return EINVAL;
	off = (uint32_t)strlen(r->p) + 1;
	vlen = r->len - off;
	if ((err = canon(r, r->p, false)))
		return err;
	if (xsd_quota_applies(r->xsd, r->c->domid) && vlen > r->xsd->opts.quota_node_size)
		return ENOSPC;
	n = get_node(r, XS_P_WRITE, &err);
	if (n) {
		if (xsd_node_set_value(n, r->p + off, vlen))
			return ENOMEM;
		xsd_view_changed(&r->v, n);
	} else if (err == ENOENT) {
		if ((err = create_node(r, r->p + off, vlen)))
			return err;
	} else {
		return err;
	}
	/* As xenstored: events (to this connection too) before the reply. */
	fire(r, r->path, r->plen, false, NULL, 0);
	reply_ok(r);
	return 0;
}

static int op_mkdir(struct req *r)
{
	const char *a = onearg(r);
	struct xsd_node *n;
	int err;

	if (!a || (err = canon(r, a, false)))
		return EINVAL;
	n = get_node(r, XS_P_WRITE, &err);
	if (!n) {
		if (err != ENOENT)
			return err;
		if ((err = create_node(r, NULL, 0)))
			return err;
		fire(r, r->path, r->plen, false, NULL, 0);
	}
	reply_ok(r);
	return 0;
}

/* Remove n and everything below; r->tmp[0..len) holds n's path. Fires like
 * xenstored's rm: the removed node itself for watches on it or above
 * (root), every removed descendant for watches exactly on it. */
static int rm_tree(struct req *r, struct xsd_node *n, uint32_t len, bool root)
{
	uint32_t off = 0;
	int err = 0;

	while (off < n->childlen) {
		const char *cn = n->children + off;
		uint32_t cl = (uint32_t)strlen(cn), clen;
		struct xsd_node *child;
		off += cl + 1;
		clen = len == 1 ? 1 + cl : len + 1 + cl;
		if (clen > PVIO_XENSTORE_ABS_PATH_MAX)
			continue;           /* can't exist */
		if (len != 1)
			r->tmp[len] = '/';
		memcpy(r->tmp + clen - cl, cn, cl + 1);
		child = xsd_view_get(&r->v, r->tmp, clen, &err);
		if (err)
			return err;
		if (child && (err = rm_tree(r, child, clen, false)))
			return err;
		r->tmp[len] = '\0';
	}
	fire(r, n->name, n->namelen, !root, n->perms, n->nperms);
	if (!r->v.tx)
		xsd_acct_nodes(r->xsd, xsd_node_owner(n), -1);
	xsd_view_delete(&r->v, n);
	return 0;
}

static int op_rm(struct req *r)
{
	const char *a = onearg(r);
	struct xsd_node *n, *parent;
	uint32_t pl;
	int err;

	if (!a || (err = canon(r, a, false)))
		return EINVAL;
	n = get_node(r, XS_P_WRITE, &err);
	pl = parent_len(r->path, r->plen);
	if (!n) {
		if (err != ENOENT)
			return err;
		/* Gone already: fine, if the parent exists. */
		parent = xsd_view_get(&r->v, r->path, pl, &err);
		if (!parent)
			return err ? err : ENOENT;
		reply_ok(r);
		return 0;
	}
	if (r->plen == 1)
		return EINVAL;
	parent = xsd_view_get(&r->v, r->path, pl, &err);
	if (!parent)
		return err ? err : EIO;
	memcpy(r->tmp, r->path, r->plen + 1);
	if ((err = rm_tree(r, n, r->plen, true)))
		return err;
	xsd_node_del_child(parent, r->path + (pl == 1 ? 1 : pl + 1), r->plen - (pl == 1 ? 1 : pl + 1));
	xsd_view_changed(&r->v, parent);
	reply_ok(r);
	return 0;
}

static int op_directory(struct req *r)
{
	const char *a = onearg(r);
	struct xsd_node *n;
	int err;

	if (!a || (err = canon(r, a, false)))
		return EINVAL;
	n = get_node(r, XS_P_READ, &err);
	if (!n)
		return err;
	if (n->childlen > PVIO_XENSTORE_PAYLOAD_MAX)
		return E2BIG;
	reply(r, n->children, n->childlen);
	return 0;
}

/* "<gencnt>\0" then as many children (from byte offset off) as fit, and an
 * extra NUL when the list ends (xenstored's send_directory_part()). */
static int op_directory_part(struct req *r)
{
	char gen[24];
	uint32_t genlen, off, len = 0, maxlen;
	struct xsd_node *n;
	int err;

	if (pvio__xs_count_strings(r->p, r->len) != 2)
		return EINVAL;
	if ((err = canon(r, r->p, false)))
		return err;
	n = get_node(r, XS_P_READ, &err);
	if (!n)
		return err;
	off = (uint32_t)strtoul(r->p + strlen(r->p) + 1, NULL, 10);
	genlen = (uint32_t)snprintf(gen, sizeof(gen), "%" PRIu64, n->gen) + 1;
	if (off >= n->childlen) {
		reply2(r, gen, genlen, "", 1);
		return 0;
	}
	maxlen = PVIO_XENSTORE_PAYLOAD_MAX - genlen - 1;
	for (const char *child = n->children + off;;) {
		uint32_t cl = (uint32_t)strlen(child);
		if (len + cl >= maxlen)
			break;
		len += cl + 1;
		child += cl + 1;
		if (off + len >= n->childlen)
			break;
	}
	if (off + len >= n->childlen) {
		/* the children end with a NUL already; add the empty one */
		memcpy(r->tmp, n->children + off, len);
		r->tmp[len] = '\0';
		reply2(r, gen, genlen, r->tmp, len + 1);
	} else {
		reply2(r, gen, genlen, n->children + off, len);
	}
	return 0;
}

static int op_get_perms(struct req *r)
{
	const char *a = onearg(r);
	struct xsd_node *n;
	uint32_t len = 0;
	int err;

	if (!a || (err = canon(r, a, true)))
		return EINVAL;
	n = get_node(r, XS_P_READ, &err);
	if (!n)
		return err;
	for (unsigned i = 0; i < n->nperms && len + 8 < sizeof(r->tmp); i++)
		len += (uint32_t)pvio__xs_perm_format(r->tmp + len, n->perms[i].perms,
						       n->perms[i].id) + 1;
	if (len > PVIO_XENSTORE_PAYLOAD_MAX)
		return E2BIG;
	reply(r, r->tmp, len);
	return 0;
}

static int op_set_perms(struct req *r)
{
	unsigned np = pvio__xs_count_strings(r->p, r->len);
	struct xsd_perm *perms, *old = NULL;
	struct xsd_node *n;
	unsigned nold;
	const char *s;
	int err;

	if (np < 2)
		return EINVAL;
	np--;
	if (xsd_quota_applies(r->xsd, r->c->domid) && np > r->xsd->opts.quota_perms)
		return ENOSPC;
	perms = malloc(np * sizeof(*perms));
	if (!perms)
		return ENOMEM;
	s = r->p + strlen(r->p) + 1;
	for (unsigned i = 0; i < np; i++, s += strlen(s) + 1) {
		if (pvio__xs_perm_parse(s, &perms[i].perms, &perms[i].id)) {
			err = EINVAL;
			goto out;
		}
	}
	if ((err = canon(r, r->p, true)))
		goto out;
	/* Only the owner (or dom0) may do this. */
	n = get_node(r, XS_P_WRITE | XS_P_OWNER, &err);
	if (!n)
		goto out;
	/* Guests may not give their nodes away. */
	if (r->c->domid != 0 && perms[0].id != xsd_node_owner(n)) {
		err = EPERM;
		goto out;
	}
	old = n->perms;
	nold = n->nperms;
	n->perms = perms;
	n->nperms = (uint16_t)np;
	perms = NULL;
	if (!r->v.tx) {
		xsd_acct_nodes(r->xsd, old[0].id, -1);
		xsd_acct_nodes(r->xsd, xsd_node_owner(n), +1);
	}
	xsd_view_changed(&r->v, n);
	fire(r, r->path, r->plen, false, old, nold);
	reply_ok(r);
	err = 0;
out:
	free(perms);
	free(old);
	return err;
}

static int op_watch(struct req *r)
{
	struct xsd_conn *c = r->c;
	const char *path = r->p, *token;
	struct xsd_watch *w;
	bool relative;
	int err;

	if (pvio__xs_count_strings(r->p, r->len) != 2)
		return EINVAL;
	token = path + strlen(path) + 1;
	relative = path[0] != '/' && path[0] != '@';
	if ((err = canon(r, path, true)))
		return err;
	for (w = c->watches; w; w = w->next)
		if (w->pathlen == r->plen && !memcmp(w->path, r->path, r->plen) &&
		    !strcmp(w->token, token))
			return EEXIST;
	if (xsd_quota_applies(r->xsd, c->domid) && c->dom->watches >= r->xsd->opts.quota_watches)
		return E2BIG;
	w = calloc(1, sizeof(*w));
	if (!w || !(w->path = strdup(r->path)) || !(w->token = strdup(token))) {
		if (w)
			free(w->path);
		free(w);
		return ENOMEM;
	}
	w->pathlen = r->plen;
	w->relative = relative;
	w->next = c->watches;
	c->watches = w;
	c->dom->watches++;
	r->xsd->st.watches++;
	reply_ok(r);
	/* Fired once up front, after the reply (xenstored's do_watch()). A
	 * reply the socket refused with an error closed c and freed w. */
	if (!c->dead)
		send_event(r->xsd, c, w, w->path, w->pathlen);
	return 0;
}

static void watch_free(struct pvio_xsd *xsd, struct xsd_conn *c, struct xsd_watch *w)
{
	c->dom->watches--;
	xsd->st.watches--;
	free(w->path);
	free(w->token);
	free(w);
}

void xsd_conn_drop_watches(struct pvio_xsd *xsd, struct xsd_conn *c)
{
	while (c->watches) {
		struct xsd_watch *w = c->watches;
		c->watches = w->next;
		watch_free(xsd, c, w);
	}
}

void xsd_conn_drop_txs(struct pvio_xsd *xsd, struct xsd_conn *c)
{
	while (c->txs) {
		struct xsd_tx *tx = c->txs;
		c->txs = tx->next;
		c->dom->txs--;
		xsd->st.transactions--;
		xsd_tx_free(tx);
	}
}

static int op_unwatch(struct req *r)
{
	struct xsd_watch **pp, *w;
	const char *token;
	int err;

	if (pvio__xs_count_strings(r->p, r->len) != 2)
		return EINVAL;
	token = r->p + strlen(r->p) + 1;
	if ((err = canon(r, r->p, true)))
		return err;
	for (pp = &r->c->watches; (w = *pp); pp = &w->next) {
		if (w->pathlen == r->plen && !memcmp(w->path, r->path, r->plen) &&
		    !strcmp(w->token, token)) {
			*pp = w->next;
			watch_free(r->xsd, r->c, w);
			reply_ok(r);
			return 0;
		}
	}
	return ENOENT;
}

static int op_reset_watches(struct req *r)
{
	xsd_conn_drop_watches(r->xsd, r->c);
	xsd_conn_drop_txs(r->xsd, r->c);
	r->v.tx = NULL;
	reply_ok(r);
	return 0;
}

static int op_transaction_start(struct req *r)
{
	struct xsd_conn *c = r->c;
	struct xsd_tx *tx;
	char buf[16];
	uint32_t id;

	if (r->v.tx)
		return EBUSY;       /* no nesting */
	if (xsd_quota_applies(r->xsd, c->domid) && c->dom->txs >= r->xsd->opts.quota_transactions)
		return ENOSPC;
	for (;;) {
		struct xsd_tx *t;
		id = c->next_tx_id++;
		if (!id)
			continue;
		for (t = c->txs; t && t->id != id; t = t->next)
			;
		if (!t)
			break;
	}
	tx = xsd_tx_new(c->domid, id);
	if (!tx)
		return ENOMEM;
	tx->next = c->txs;
	c->txs = tx;
	c->dom->txs++;
	r->xsd->st.transactions++;
	reply(r, buf, (uint32_t)snprintf(buf, sizeof(buf), "%u", id) + 1);
	return 0;
}

static int op_transaction_end(struct req *r)
{
	const char *a = onearg(r);
	struct xsd_tx *tx = r->v.tx, **pp;
	int err = 0;

	if (!a || (strcmp(a, "T") && strcmp(a, "F")))
		return EINVAL;
	if (!tx)
		return ENOENT;
	for (pp = &r->c->txs; *pp != tx; pp = &(*pp)->next)
		;
	*pp = tx->next;
	r->c->dom->txs--;
	r->xsd->st.transactions--;
	r->v.tx = NULL;
	if (a[0] == 'T') {
		err = xsd_tx_commit(r->xsd, tx, xsd_quota_applies(r->xsd, tx->domid));
		if (!err) {
			r->xsd->st.tx_committed++;
			for (struct xsd_tx_event *e = tx->ev_head; e; e = e->next)
				xsd_fire_watches(r->xsd, e->name, e->namelen, e->exact,
						 e->perms, e->nperms);
		} else if (err == EAGAIN) {
			r->xsd->st.tx_conflicts++;
		}
	}
	xsd_tx_free(tx);
	if (!err)
		reply_ok(r);
	return err;
}

static int parse_domid(const char *s, uint16_t *domid)
{
	uint32_t v;

	if (pvio__xs_parse_u32(s, &v) || v > 0xffff)
		return EINVAL;
	*domid = (uint16_t)v;
	return 0;
}

static int op_get_domain_path(struct req *r)
{
	const char *a = onearg(r);
	char buf[32];
	uint16_t domid;

	if (!a || parse_domid(a, &domid))
		return EINVAL;
	reply(r, buf, (uint32_t)snprintf(buf, sizeof(buf), "/local/domain/%u", domid) + 1);
	return 0;
}

int xsd_do_introduce(struct pvio_xsd *xsd, uint16_t domid)
{
	struct xsd_domain *d = xsd_domain_get(xsd, domid, true);

	if (!d)
		return ENOMEM;
	if (!d->introduced) {
		d->introduced = true;
		xsd_fire_special(xsd, "@introduceDomain");
	}
	return 0;
}

static int op_introduce(struct req *r)
{
	uint16_t domid;

	/* <domid>|<mfn>|<evtchn>|: the page and channel mean nothing here. */
	if (pvio__xs_count_strings(r->p, r->len) < 3 || parse_domid(r->p, &domid) ||
	    domid == 0 || domid >= 0x7ff0)
		return EINVAL;
	if (xsd_do_introduce(r->xsd, domid))
		return ENOMEM;
	reply_ok(r);
	return 0;
}

static int op_release(struct req *r)
{
	const char *a = onearg(r);
	uint16_t domid;
	int err;

	if (!a || parse_domid(a, &domid) || domid == 0)
		return EINVAL;
	if ((err = xsd_do_release(r->xsd, domid, true)))
		return err;
	reply_ok(r);
	return 0;
}

static int op_is_domain_introduced(struct req *r)
{
	const char *a = onearg(r);
	struct xsd_domain *d;
	uint16_t domid;

	if (!a || parse_domid(a, &domid))
		return EINVAL;
	d = xsd_domain_get(r->xsd, domid, false);
	reply(r, domid == 0 || (d && d->introduced) ? "T" : "F", 2);
	return 0;
}

static int op_resume(struct req *r)
{
	const char *a = onearg(r);
	struct xsd_domain *d;
	uint16_t domid;

	if (!a || parse_domid(a, &domid))
		return EINVAL;
	d = xsd_domain_get(r->xsd, domid, false);
	if (!d || !d->introduced)
		return ENOENT;
	reply_ok(r);
	return 0;
}

static int op_set_target(struct req *r)
{
	uint16_t domid, target;
	struct xsd_domain *d;

	if (pvio__xs_count_strings(r->p, r->len) < 2 || parse_domid(r->p, &domid) ||
	    parse_domid(r->p + strlen(r->p) + 1, &target))
		return EINVAL;
	d = xsd_domain_get(r->xsd, domid, true);
	if (!d)
		return ENOMEM;
	d->has_target = true;
	d->target = target;
	reply_ok(r);
	return 0;
}

static int op_control(struct req *r)
{
	const struct pvio_xsd_opts *o = &r->xsd->opts;
	const char *cmd = r->p, *arg;
	int n;

	if (!memchr(r->p, 0, r->len))
		return EINVAL;
	arg = cmd + strlen(cmd) + 1 < r->p + r->len ? cmd + strlen(cmd) + 1 : "";
	if (!strcmp(cmd, "help")) {
		static const char help[] = "check\nhelp\nprint\nquota\n";
		reply(r, help, sizeof(help));
	} else if (!strcmp(cmd, "check")) {
		reply_ok(r);
	} else if (!strcmp(cmd, "print")) {
		xsd_log(r->xsd, false, "%s", arg);
		reply_ok(r);
	} else if (!strcmp(cmd, "quota")) {
		n = snprintf(r->tmp, sizeof(r->tmp),
			     "nodes %u\nwatches %u\nwatch-events %u\ntransactions %u\n"
			     "node-size %u\npath-max %u\npermissions %u\n",
			     o->quota_nodes, o->quota_watches, o->quota_watch_events,
			     o->quota_transactions, o->quota_node_size, o->quota_path_len,
			     o->quota_perms);
		reply(r, r->tmp, (uint32_t)n + 1);
	} else {
		return EINVAL;
	}
	return 0;
}

#define F_PRIV  1u   /* dom0 only */
#define F_NOTX  2u   /* tx_id ignored */

static const struct {
	int (*fn)(struct req *r);
	unsigned flags;
} ops[PVIO_XS_TYPE_COUNT] = {
	[PVIO_XS_CONTROL]              = { op_control, F_PRIV },
	[PVIO_XS_DIRECTORY]            = { op_directory, 0 },
	[PVIO_XS_READ]                 = { op_read, 0 },
	[PVIO_XS_GET_PERMS]            = { op_get_perms, 0 },
	[PVIO_XS_WATCH]                = { op_watch, F_NOTX },
	[PVIO_XS_UNWATCH]              = { op_unwatch, F_NOTX },
	[PVIO_XS_TRANSACTION_START]    = { op_transaction_start, 0 },
	[PVIO_XS_TRANSACTION_END]      = { op_transaction_end, 0 },
	[PVIO_XS_INTRODUCE]            = { op_introduce, F_PRIV },
	[PVIO_XS_RELEASE]              = { op_release, F_PRIV },
	[PVIO_XS_GET_DOMAIN_PATH]      = { op_get_domain_path, 0 },
	[PVIO_XS_WRITE]                = { op_write, 0 },
	[PVIO_XS_MKDIR]                = { op_mkdir, 0 },
	[PVIO_XS_RM]                   = { op_rm, 0 },
	[PVIO_XS_SET_PERMS]            = { op_set_perms, 0 },
	[PVIO_XS_IS_DOMAIN_INTRODUCED] = { op_is_domain_introduced, F_PRIV },
	[PVIO_XS_RESUME]               = { op_resume, F_PRIV },
	[PVIO_XS_SET_TARGET]           = { op_set_target, F_PRIV },
	[PVIO_XS_RESET_WATCHES]        = { op_reset_watches, 0 },
	[PVIO_XS_DIRECTORY_PART]       = { op_directory_part, 0 },
};

void xsd_handle_msg(struct pvio_xsd *xsd, struct xsd_conn *c,
		    const struct pvio_xsd_sockmsg *hdr, char *p)
{
	struct req *r = xsd->req_scratch;   /* ~7 KiB: not on the stack */
	int err;

	if (!r) {
		r = xsd->req_scratch = malloc(sizeof(*r));
		if (!r) {
			xsd_conn_kill(xsd, c, false);
			return;
		}
	}
	r->xsd = xsd;
	r->c = c;
	r->type = hdr->type;
	r->req_id = hdr->req_id;
	r->tx_id = hdr->tx_id;
	r->len = hdr->len;
	r->p = p;
	r->v.xsd = xsd;
	r->v.tx = NULL;
	xsd->st.requests++;

	if (xsd->opts.verbose >= 2)
		xsd_log(xsd, false, "dom%u: request type %u req_id %u tx %u len %u", c->domid,
			hdr->type, hdr->req_id, hdr->tx_id, hdr->len);
	if (hdr->type >= PVIO_XS_TYPE_COUNT || !ops[hdr->type].fn) {
		if (c->domid != 0 || xsd->opts.verbose)
			xsd_log(xsd, true, "dom%u: unknown request type %u", c->domid, hdr->type);
		reply_err(r, ENOSYS);
		return;
	}
	if ((ops[hdr->type].flags & F_PRIV) && c->domid != 0) {
		reply_err(r, EACCES);
		return;
	}
	if (!(ops[hdr->type].flags & F_NOTX) && hdr->tx_id) {
		for (r->v.tx = c->txs; r->v.tx && r->v.tx->id != hdr->tx_id; r->v.tx = r->v.tx->next)
			;
		if (!r->v.tx) {
			reply_err(r, ENOENT);
			return;
		}
	}
	err = ops[hdr->type].fn(r);
	if (err)
		reply_err(r, err);
}
