/* SPDX-License-Identifier: MIT */
/*
 * Private structures of the store daemon, shared by
 *   xsd_store.c  nodes, the hash table, views (global or transaction), commit
 *   xsd_ops.c    the request handlers, permissions, watches
 *   xsd.c        the server object, connections, I/O, domains, public API
 */
#ifndef PVIO_XSD_INTERNAL_H
#define PVIO_XSD_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ring/xs_wire.h"
#include "xenstore/xs_internal.h"
#include "xenstore/xsd.h"

#define XSD_HDR        ((uint32_t)sizeof(struct pvio_xsd_sockmsg))
#define XSD_MSG_MAX    (XSD_HDR + PVIO_XENSTORE_PAYLOAD_MAX)
#define XSD_INBUF      (4 * XSD_MSG_MAX)

/* ------------------------------------------------------------------ nodes */

struct xsd_perm {
	uint16_t id;
	uint8_t  perms;            /* XS_P_READ | XS_P_WRITE */
};

/*
 * A node. In the global table `gen` is the generation of its last change.
 * In a transaction's table the node is the transaction's private copy:
 * `base_gen` is the global generation it was copied at (0: did not exist),
 * `exists` says whether it exists in the transaction's view, `dirty` whether
 * the transaction changed it.
 */
struct xsd_node {
	struct xsd_node *hnext;
	uint32_t hash;
	uint32_t namelen;
	char    *name;             /* absolute path, NUL-terminated */
	uint64_t gen;
	uint64_t base_gen;
	char    *value;
	uint32_t vlen;
	char    *children;         /* "a\0b\0" in creation order, like xenstored */
	uint32_t childlen;
	struct xsd_perm *perms;    /* perms[0] = owner + everyone else's access */
	uint16_t nperms;
	bool     exists;
	bool     dirty;
	struct xsd_node *twin;     /* commit: the global node to be */
};

struct xsd_htab {
	struct xsd_node **b;
	uint32_t mask;
	uint32_t n;
};

int  xsd_htab_init(struct xsd_htab *t, uint32_t size_pow2);
void xsd_htab_fini(struct xsd_htab *t);          /* frees the nodes too */
struct xsd_node *xsd_htab_get(const struct xsd_htab *t, const char *name, size_t len);
int  xsd_htab_add(struct xsd_htab *t, struct xsd_node *n);
void xsd_htab_del(struct xsd_htab *t, struct xsd_node *n);

struct xsd_node *xsd_node_new(const char *name, size_t len);
void xsd_node_free(struct xsd_node *n);
int  xsd_node_set_value(struct xsd_node *n, const void *v, size_t len);
int  xsd_node_set_perms(struct xsd_node *n, const struct xsd_perm *p, unsigned np);
int  xsd_node_add_child(struct xsd_node *n, const char *base, size_t len);
int  xsd_node_del_child(struct xsd_node *n, const char *base, size_t len);
int  xsd_node_copy_content(struct xsd_node *dst, const struct xsd_node *src);
static inline uint16_t xsd_node_owner(const struct xsd_node *n) { return n->perms[0].id; }

/* ------------------------------------------------------------ transactions */

/* A watch event a transaction will fire when it commits. */
struct xsd_tx_event {
	struct xsd_tx_event *next;
	bool     exact;
	uint16_t nperms;
	struct xsd_perm *perms;    /* the node's permissions before (for removals) */
	uint32_t namelen;
	char     name[];
};

struct xsd_tx {
	struct xsd_tx *next;
	uint32_t id;
	uint16_t domid;
	bool     failed;           /* an allocation failed midway: commit says ENOMEM */
	struct xsd_htab nodes;     /* every node the transaction touched */
	struct xsd_tx_event *ev_head, *ev_tail;
};

/* ------------------------------------------------------------- domains */

struct xsd_domain {
	struct xsd_domain *next;
	uint16_t domid;
	bool     introduced;
	bool     has_target;
	uint16_t target;           /* SET_TARGET: acts with target's rights */
	unsigned nodes, watches, txs, conns;
};

/* ------------------------------------------------------------ connections */

struct xsd_watch {
	struct xsd_watch *next;
	bool     relative;         /* registered relative: events are, too */
	uint32_t pathlen;
	char    *path;             /* absolute (or "@special") */
	char    *token;
};

struct xsd_msg {
	struct xsd_msg *next;
	uint32_t len;              /* header + payload */
	bool     is_event;
	uint8_t  data[];
};

enum xsd_conn_kind { XSD_CONN, XSD_LISTENER };

struct xsd_conn {
	struct xsd_conn *next, *prev;  /* xsd->conns (connections only) */
	struct xsd_conn *hnext;        /* id hash */
	uint64_t id;                   /* epoll cookie */
	enum xsd_conn_kind kind;
	int      fd;                   /* -1: none (the fuzzing seam's) */
	uint16_t domid;
	bool     dead;
	uint32_t ep_events;            /* currently registered with epoll */
	struct xsd_domain *dom;
	char     home[24];             /* "/local/domain/<id>" */
	uint32_t homelen;
	/* listener */
	char    *sock_path;
	/* input: raw bytes, at most XSD_INBUF */
	uint8_t *in;
	uint32_t in_len;
	/* output queue */
	struct xsd_msg *out_head, *out_tail;
	uint32_t out_off;              /* bytes of out_head already written */
	uint32_t out_bytes;            /* queued reply bytes (events not counted) */
	uint32_t out_events;           /* queued watch events */
	struct xsd_watch *watches;
	struct xsd_tx *txs;
	uint32_t next_tx_id;
};

/* ---------------------------------------------------------------- server */

#define XSD_ID_BUCKETS   256u
#define XSD_DOM_BUCKETS  64u

struct pvio_xsd {
	pthread_mutex_t lock;
	struct pvio_xsd_opts opts;
	int      epfd;
	int      stop_efd;
	bool     stopping;

	struct xsd_htab nodes;
	uint64_t gen;                  /* last generation handed out */

	struct xsd_conn *conns;        /* connections (not listeners) */
	struct xsd_conn *zombies;      /* killed, freed at the end of the call */
	struct xsd_conn *ids[XSD_ID_BUCKETS];
	uint64_t next_id;
	struct xsd_domain *doms[XSD_DOM_BUCKETS];

	struct pvio_xsd_stats st;

	/* rate limit for messages a guest can trigger */
	uint64_t log_window;
	unsigned log_count;

	void    *req_scratch;          /* xsd_ops.c's request state */
	char     reqbuf[PVIO_XENSTORE_PAYLOAD_MAX + 1];  /* payload + NUL */
	/* scratch for building one message */
	uint8_t  out[XSD_MSG_MAX + 64];
};

/* The view a request sees: the global store or a transaction's. */
struct xsd_view {
	struct pvio_xsd *xsd;
	struct xsd_tx   *tx;
};

/* Look a node up; NULL if it does not exist (*err = 0) or on ENOMEM
 * (*err = ENOMEM). In a transaction, the node is copied in (and its
 * generation remembered for the commit check) on first access. */
struct xsd_node *xsd_view_get(struct xsd_view *v, const char *name, size_t len, int *err);
/* Create a node that does not exist yet, empty, perms to be set by the
 * caller. NULL on ENOMEM. */
struct xsd_node *xsd_view_create(struct xsd_view *v, const char *name, size_t len);
/* The caller changed n (value, children or perms). */
void xsd_view_changed(struct xsd_view *v, struct xsd_node *n);
/* Delete n (its children must be gone already). */
void xsd_view_delete(struct xsd_view *v, struct xsd_node *n);
/* Nodes owned by domid, transaction's changes included. */
unsigned xsd_view_nodes_of(struct xsd_view *v, uint16_t domid);

struct xsd_tx *xsd_tx_new(uint16_t domid, uint32_t id);
void xsd_tx_free(struct xsd_tx *tx);
/* Check and apply. 0, EAGAIN (conflict), ENOSPC (node quota), ENOMEM. On
 * success the queued watch events are left for the caller to fire. */
int  xsd_tx_commit(struct pvio_xsd *xsd, struct xsd_tx *tx, bool quota);

/* ------------------------------------------------------------- glue */

struct xsd_domain *xsd_domain_get(struct pvio_xsd *xsd, uint16_t domid, bool create);
void xsd_acct_nodes(struct pvio_xsd *xsd, uint16_t domid, int delta);

/* Queue (or write) a message to c. Events count against the pending-event
 * quota and may be dropped. */
void xsd_conn_send(struct pvio_xsd *xsd, struct xsd_conn *c, uint32_t type,
		   uint32_t req_id, uint32_t tx_id, const void *p1, uint32_t l1,
		   const void *p2, uint32_t l2);
void xsd_conn_kill(struct pvio_xsd *xsd, struct xsd_conn *c, bool violation);
void xsd_conn_drop_watches(struct pvio_xsd *xsd, struct xsd_conn *c);
void xsd_conn_drop_txs(struct pvio_xsd *xsd, struct xsd_conn *c);

/* Handle one complete message from c (hdr in host order, payload p of len
 * bytes followed by a NUL the caller provides). */
void xsd_handle_msg(struct pvio_xsd *xsd, struct xsd_conn *c,
		    const struct pvio_xsd_sockmsg *hdr, char *p);

/* Fire watches for a change of name. old: permissions before the change
 * (NULL if none/irrelevant). exact: only watches on name itself. */
void xsd_fire_watches(struct pvio_xsd *xsd, const char *name, size_t len, bool exact,
		      const struct xsd_perm *old, unsigned nold);
void xsd_fire_special(struct pvio_xsd *xsd, const char *name);
int  xsd_do_introduce(struct pvio_xsd *xsd, uint16_t domid);
int  xsd_do_release(struct pvio_xsd *xsd, uint16_t domid, bool need_introduced);

bool xsd_quota_applies(const struct pvio_xsd *xsd, uint16_t domid);

void xsd_log(struct pvio_xsd *xsd, bool guest, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#ifdef PVIO_FUZZ
/*
 * Fuzzing seam (tests/fuzz/fuzz_xenstore.c), only in the fuzzing build of
 * the library: connections without a socket, driven in-process without a
 * system call. What the store writes to one goes to xsd_fuzz_write(), which
 * returns the bytes it took, or -1 with errno EAGAIN (the "socket" is full)
 * or any other errno (the peer is gone).
 */
#include <sys/types.h>
#include <sys/uio.h>
extern ssize_t (*xsd_fuzz_write)(uint64_t conn, const struct iovec *iov, int cnt);
/* A new connection of domid: its id, 0 on ENOMEM. */
uint64_t xsd_fuzz_conn_new(struct pvio_xsd *xsd, uint16_t domid);
/* As if read() had returned len bytes of buf on conn (len 0: end of file):
 * the number of bytes taken (fewer while replies hold input back), or
 * -ENOENT if conn is closed. */
long xsd_fuzz_conn_input(struct pvio_xsd *xsd, uint64_t conn, const void *buf, size_t len);
/* As if conn's socket had become writable. 0, or -ENOENT if conn is closed. */
int  xsd_fuzz_conn_writable(struct pvio_xsd *xsd, uint64_t conn);
#endif

#endif /* PVIO_XSD_INTERNAL_H */
