/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for the store (xenstore/xsd*.c) and the xenbus helpers
 * that parse what a guest wrote (xenstore/xenbus.c, xs.c). The first input
 * byte picks the target:
 *
 *   0  the store: a fresh store per input with four connections (dom0, two
 *      of dom1, dom2; closed and reopened as other domains by the input),
 *      driven through the fuzzing seam of xsd_internal.h, i.e. the real
 *      framing code without sockets. The input is a program: well-formed
 *      requests of every type built from a small vocabulary of paths,
 *      values, tokens, ACLs and transaction ids, raw bytes (bad headers,
 *      partial messages, one message split over several reads), end of
 *      file, "sockets" that take only part of a reply, are full or broken,
 *      introduce/release of domains. Checked: every request gets exactly
 *      one well-formed reply, in order, with its req_id/tx_id; events are
 *      well-formed and belong to a watch of that connection; a guest reads
 *      or changes only what the ACLs grant it, never gives a node away and
 *      owns what it creates; failed requests change nothing; quotas and
 *      the per-domain accounting hold; the tree is consistent; a
 *      connection is closed only for a payload over 4096 bytes (or its
 *      peer or domain going away); nothing leaks (the store is destroyed
 *      after each input).
 *   1  the xenbus helpers: guest-controlled values (ring refs, queue
 *      counts, event channels, feature flags, state, protocol, directory
 *      listings of device ids) fed as the store's replies to
 *      pvio_xenbus_read_uint/_read_state, pvio_xs_read_buf and
 *      pvio_xs_directory/devwatch, which must accept exactly the valid
 *      values and parse them right; and broken replies, after which the
 *      client fails cleanly.
 *
 * FUZZ_XS_TRACE=1 in the environment prints every step and every message
 * the store sends, to read what a crashing input does.
 *
 * Speed: inputs are at most 512 bytes (LLVMFuzzerInitialize below), dom0's
 * layout is fed as one read of bytes made once, a request's snapshot holds
 * only what its check compares, and module.mk builds this file without
 * comparison tracing (-fno-sanitize-coverage=trace-cmp: the harness's own
 * comparisons guide no mutation; the store's are still traced).
 */
#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ring/blkif.h"
#include "xenstore/xenbus.h"
#include "xenstore/xs.h"
#include "xenstore/xs_internal.h"
#include "xenstore/xsd_internal.h"

#define ASSERT(c) do { if (!(c)) __builtin_trap(); } while (0)

/* ------------------------------------------------------------ input reader */

struct in {
	const uint8_t *d;
	size_t n;
};

static uint8_t get8(struct in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->d++;
}

static uint32_t get32(struct in *in)
{
	uint32_t v = get8(in);

	v |= (uint32_t)get8(in) << 8;
	v |= (uint32_t)get8(in) << 16;
	return v | (uint32_t)get8(in) << 24;
}

/* Up to max raw bytes: a length byte, then that many. */
static size_t getraw(struct in *in, const uint8_t **p, size_t max)
{
	size_t l = get8(in);

	if (l > max)
		l = max;
	if (l > in->n)
		l = in->n;
	*p = in->d;
	in->d += l;
	in->n -= l;
	return l;
}

/* A message under construction. */
struct msgbuf {
	uint8_t b[XSD_HDR + 2 * PVIO_XENSTORE_PAYLOAD_MAX];
	uint32_t len;                  /* payload bytes */
};

static void put(struct msgbuf *m, const void *p, size_t l)
{
	if (l > sizeof(m->b) - XSD_HDR - m->len)
		l = sizeof(m->b) - XSD_HDR - m->len;
	memcpy(m->b + XSD_HDR + m->len, p, l);
	m->len += (uint32_t)l;
}

static void puts0(struct msgbuf *m, const char *s)
{
	put(m, s, strlen(s) + 1);
}

/* ====================================================== target 0: the store */

#define NSLOT     4
#define FIFO_CAP  2048
#define NHIST     48
#define OBUF      (XSD_MSG_MAX + 16)

struct pend {
	uint32_t type, req_id, tx_id;
	bool check;                    /* the request under inspection */
};

struct hist {
	char *path, *token;            /* malloc'd, freed with the slot */
	bool relative;
};

struct slot {
	uint64_t id;                   /* 0: closed */
	uint16_t domid;
	bool expect_kill;              /* fed a header with len > 4096 */
	bool broken;                   /* its writes fail (peer gone) */
	bool budgeted;                 /* takes only `budget` more bytes */
	uint32_t budget;
	/* what the store will see: framing of the bytes fed */
	uint8_t ih[XSD_HDR];
	uint32_t ih_have, ip_left;
	bool ip_in;
	uint32_t ipay_len;
	/* requests waiting for their reply */
	struct pend fifo[FIFO_CAP];
	uint32_t head, tail;
	bool untracked;
	/* what it wrote, reassembled */
	uint8_t ob[OBUF];
	uint32_t ob_len;
	uint32_t txid;                 /* last transaction started */
	struct hist hist[NHIST];       /* every watch it registered */
	unsigned nhist;
	bool hist_full;
	uint8_t ipay[PVIO_XENSTORE_PAYLOAD_MAX];   /* the request coming in */
};

/* The request under inspection (one at a time) and its reply. */
struct check {
	bool active, got;
	uint32_t type;                 /* of the reply */
	uint32_t len;
	uint8_t p[PVIO_XENSTORE_PAYLOAD_MAX];
};

static struct {
	struct pvio_xsd *xsd;
	int trace;                     /* $FUZZ_XS_TRACE: print what the store sends */
	struct slot s[NSLOT];
	struct check chk;
	uint32_t seq;
	unsigned expect_kills;
} F;

/* The slot's connection, if still open (the store's id hash holds the
 * open ones). */
static struct xsd_conn *conn_of(const struct slot *s)
{
	if (!s->id)
		return NULL;
	for (struct xsd_conn *c = F.xsd->ids[s->id % XSD_ID_BUCKETS]; c; c = c->hnext)
		if (c->id == s->id)
			return c;
	return NULL;
}

static struct slot *slot_of(uint64_t id)
{
	for (unsigned i = 0; i < NSLOT; i++)
		if (F.s[i].id == id)
			return &F.s[i];
	return NULL;
}

static bool quota_on(uint16_t domid)
{
	return domid || F.xsd->opts.quota_dom0;
}

/* The access c has to a node with these perms (the README's rules). */
static unsigned ref_perm(const struct xsd_conn *c, const struct xsd_perm *p, unsigned np)
{
	const struct xsd_domain *d = xsd_domain_get(F.xsd, c->domid, false);
	bool tgt = d && d->has_target;

	if (c->domid == 0 || p[0].id == c->domid || (tgt && p[0].id == d->target))
		return XS_P_READ | XS_P_WRITE | XS_P_OWNER;
	for (unsigned i = 1; i < np; i++)
		if (p[i].id == c->domid || (tgt && p[i].id == d->target))
			return p[i].perms & (XS_P_READ | XS_P_WRITE);
	return p[0].perms & (XS_P_READ | XS_P_WRITE);
}

static bool valid_err(const uint8_t *p, uint32_t len)
{
	const char *name;

	if (!len || p[len - 1] || memchr(p, 0, len) != p + len - 1)
		return false;
	name = pvio__xs_errname(pvio__xs_errno((const char *)p, len));
	return !strcmp(name, (const char *)p);
}

static bool is_ok(const uint8_t *p, uint32_t len)
{
	return len == 3 && !memcmp(p, "OK", 3);
}

static bool is_priv(uint32_t type)
{
	return type == PVIO_XS_CONTROL || type == PVIO_XS_INTRODUCE ||
	       type == PVIO_XS_RELEASE || type == PVIO_XS_IS_DOMAIN_INTRODUCED ||
	       type == PVIO_XS_RESUME || type == PVIO_XS_SET_TARGET;
}

/* Remember a WATCH request the slot sent (whether it succeeds or not):
 * events must belong to one. */
static void hist_add(struct slot *s, const char *p, uint32_t len)
{
	const char *token;
	char abs[PVIO_XENSTORE_ABS_PATH_MAX + 64];
	bool relative;

	if (pvio__xs_count_strings(p, len) < 2)
		return;
	token = p + strlen(p) + 1;
	relative = p[0] != '/' && p[0] != '@';
	if (relative)
		snprintf(abs, sizeof(abs), "/local/domain/%u/%s", s->domid, p);
	else
		snprintf(abs, sizeof(abs), "%s", p);
	for (unsigned i = 0; i < s->nhist; i++)
		if (!strcmp(s->hist[i].path, abs) && !strcmp(s->hist[i].token, token) &&
		    s->hist[i].relative == relative)
			return;
	if (s->nhist == NHIST) {
		s->hist_full = true;
		return;
	}
	s->hist[s->nhist].path = strdup(abs);
	s->hist[s->nhist].token = strdup(token);
	ASSERT(s->hist[s->nhist].path && s->hist[s->nhist].token);
	s->hist[s->nhist].relative = relative;
	s->nhist++;
}

/* A watch event: "path\0token\0", for a watch the connection registered. */
static void check_event(struct slot *s, const uint8_t *p, uint32_t len)
{
	const char *path = (const char *)p, *token;
	char abs[PVIO_XENSTORE_ABS_PATH_MAX + 64];

	ASSERT(len >= 2 && !p[len - 1] && pvio__xs_count_strings(path, len) == 2);
	ASSERT(path[0]);
	token = path + strlen(path) + 1;
	if (s->hist_full)
		return;
	for (unsigned i = 0; i < s->nhist; i++) {
		const struct hist *h = &s->hist[i];
		size_t al;
		if (strcmp(h->token, token))
			continue;
		if (h->relative && path[0] != '/' && path[0] != '@')
			snprintf(abs, sizeof(abs), "/local/domain/%u/%s", s->domid, path);
		else
			snprintf(abs, sizeof(abs), "%s", path);
		al = strlen(abs);
		if (h->path[0] == '@' ? !strcmp(abs, h->path)
				      : pvio__xs_is_child(abs, al, h->path, strlen(h->path)))
			return;
	}
	ASSERT(!"event for no watch of this connection");
}

static void check_reply(struct slot *s, const struct pvio_xsd_sockmsg *h, const uint8_t *p)
{
	struct pend q;
	uint32_t v;

	if (s->untracked)
		return;
	ASSERT(s->head != s->tail);             /* a reply nobody asked for */
	q = s->fifo[s->head % FIFO_CAP];
	s->head++;
	ASSERT(h->req_id == q.req_id && h->tx_id == q.tx_id);
	if (q.check) {
		F.chk.got = true;
		F.chk.type = h->type;
		F.chk.len = h->len;
		memcpy(F.chk.p, p, h->len);
	}
	if (h->type == PVIO_XS_ERROR) {
		ASSERT(valid_err(p, h->len));
		if (s->domid && is_priv(q.type))
			ASSERT(!strcmp((const char *)p, "EACCES"));
		return;
	}
	ASSERT(h->type == q.type && q.type < PVIO_XS_TYPE_COUNT);
	ASSERT(!s->domid || !is_priv(q.type));
	switch (q.type) {
	case PVIO_XS_READ:
		break;
	case PVIO_XS_DIRECTORY:
		ASSERT(!h->len || !p[h->len - 1]);
		for (uint32_t o = 0; o < h->len; o += (uint32_t)strlen((const char *)p + o) + 1)
			ASSERT(p[o] && pvio__xs_valid_chars((const char *)p + o,
							     strlen((const char *)p + o)));
		break;
	case PVIO_XS_DIRECTORY_PART:
		/* "<generation>\0" then names, the last piece ending in "\0\0" */
		ASSERT(h->len >= 2 && !p[h->len - 1]);
		ASSERT(strlen((const char *)p) < 21 && strspn((const char *)p, "0123456789") ==
		       strlen((const char *)p) && p[0]);
		break;
	case PVIO_XS_GET_PERMS: {
		unsigned n = pvio__xs_count_strings((const char *)p, h->len);
		const char *e = (const char *)p;
		uint8_t pb;
		uint16_t id;
		ASSERT(n >= 1 && !p[h->len - 1]);
		for (unsigned i = 0; i < n; i++, e += strlen(e) + 1)
			ASSERT(!pvio__xs_perm_parse(e, &pb, &id));
		break;
	}
	case PVIO_XS_TRANSACTION_START:
		ASSERT(h->len >= 2 && !p[h->len - 1] && strlen((const char *)p) == h->len - 1);
		ASSERT(!pvio__xs_parse_u32((const char *)p, &v) && v);
		s->txid = v;
		break;
	case PVIO_XS_GET_DOMAIN_PATH:
		ASSERT(h->len > 14 && !memcmp(p, "/local/domain/", 14) && !p[h->len - 1]);
		break;
	case PVIO_XS_IS_DOMAIN_INTRODUCED:
		ASSERT(h->len == 2 && (p[0] == 'T' || p[0] == 'F') && !p[1]);
		break;
	case PVIO_XS_CONTROL:
		ASSERT(h->len && !p[h->len - 1]);
		break;
	default:
		ASSERT(is_ok(p, h->len));
		break;
	}
}

static void trace_msg(const struct slot *s, const struct pvio_xsd_sockmsg *h, const uint8_t *p)
{
	fprintf(stderr, "  slot %d dom%u <- type %u req %u tx %u len %u \"", (int)(s - F.s), s->domid,
		h->type, h->req_id, h->tx_id, h->len);
	for (uint32_t i = 0; i < h->len && i < 60; i++)
		fputc(p[i] >= 32 && p[i] < 127 ? p[i] : '.', stderr);
	fputs(h->len > 60 ? "...\"\n" : "\"\n", stderr);
}

/* The connection's "socket": takes what the slot's mode allows and checks
 * every message that completes. */
static ssize_t fz_write(uint64_t id, const struct iovec *iov, int cnt)
{
	struct slot *s = slot_of(id);
	size_t total = 0, take;

	ASSERT(s);
	if (s->broken) {
		errno = EPIPE;
		return -1;
	}
	for (int i = 0; i < cnt; i++)
		total += iov[i].iov_len;
	take = total;
	if (s->budgeted && take > s->budget)
		take = s->budget;
	if (!take && total) {
		errno = EAGAIN;
		return -1;
	}
	if (s->budgeted)
		s->budget -= (uint32_t)take;
	for (int i = 0, left = (int)take; i < cnt && left > 0; i++) {
		const uint8_t *b = iov[i].iov_base;
		size_t l = iov[i].iov_len < (size_t)left ? iov[i].iov_len : (size_t)left;
		left -= (int)l;
		while (l) {
			struct pvio_xsd_sockmsg h;
			size_t c = OBUF - s->ob_len;
			if (c > l)
				c = l;
			memcpy(s->ob + s->ob_len, b, c);
			s->ob_len += (uint32_t)c;
			b += c;
			l -= c;
			for (;;) {
				uint32_t mlen;
				if (s->ob_len < XSD_HDR)
					break;
				memcpy(&h, s->ob, XSD_HDR);
				h.type = le32toh(h.type);
				h.req_id = le32toh(h.req_id);
				h.tx_id = le32toh(h.tx_id);
				h.len = le32toh(h.len);
				ASSERT(h.len <= PVIO_XENSTORE_PAYLOAD_MAX);
				mlen = XSD_HDR + h.len;
				if (s->ob_len < mlen)
					break;
				if (F.trace)
					trace_msg(s, &h, s->ob + XSD_HDR);
				if (h.type == PVIO_XS_WATCH_EVENT) {
					ASSERT(!h.req_id && !h.tx_id);
					check_event(s, s->ob + XSD_HDR, h.len);
				} else {
					check_reply(s, &h, s->ob + XSD_HDR);
				}
				memmove(s->ob, s->ob + mlen, s->ob_len - mlen);
				s->ob_len -= mlen;
			}
		}
	}
	return (ssize_t)take;
}

/* Mirror the store's framing of the bytes fed: requests completed go on
 * the FIFO. */
static void mirror(struct slot *s, const uint8_t *b, size_t n, bool check)
{
	while (n && !s->expect_kill) {
		if (!s->ip_in) {
			size_t c = XSD_HDR - s->ih_have;
			if (c > n)
				c = n;
			memcpy(s->ih + s->ih_have, b, c);
			s->ih_have += (uint32_t)c;
			b += c;
			n -= c;
			if (s->ih_have < XSD_HDR)
				break;
			memcpy(&s->ip_left, s->ih + 12, 4);
			s->ip_left = le32toh(s->ip_left);
			if (s->ip_left > PVIO_XENSTORE_PAYLOAD_MAX) {
				s->expect_kill = true;
				F.expect_kills++;
				break;
			}
			s->ip_in = true;
		} else {
			size_t c = s->ip_left < n ? s->ip_left : n;
			memcpy(s->ipay + s->ipay_len, b, c);
			s->ipay_len += (uint32_t)c;
			s->ip_left -= (uint32_t)c;
			b += c;
			n -= c;
		}
		if (s->ip_in && !s->ip_left) {
			struct pend *q = &s->fifo[s->tail % FIFO_CAP];
			if (s->tail - s->head == FIFO_CAP) {
				s->untracked = true;
				s->hist_full = true;    /* watches unknown from now on */
			} else {
				struct pvio_xsd_sockmsg h;
				memcpy(&h, s->ih, XSD_HDR);
				q->type = le32toh(h.type);
				q->req_id = le32toh(h.req_id);
				q->tx_id = le32toh(h.tx_id);
				q->check = check;
				s->tail++;
				if (q->type == PVIO_XS_WATCH)
					hist_add(s, (const char *)s->ipay, s->ipay_len);
			}
			s->ip_in = false;
			s->ih_have = 0;
			s->ipay_len = 0;
		}
	}
}

/* Feed bytes to slot s as one read() returning them; returns how many the
 * store took (its input buffer may be full while replies hold it back). */
static size_t feed(struct slot *s, const uint8_t *b, size_t n, bool check)
{
	struct xsd_conn *c = conn_of(s);
	size_t take;
	long r;

	if (!c || !n)
		return 0;
	take = XSD_INBUF - c->in_len;
	if (take > n)
		take = n;
	mirror(s, b, take, check);
	r = xsd_fuzz_conn_input(F.xsd, s->id, b, n);
	ASSERT(r == (long)take);
	return take;
}

static void slot_reset(struct slot *s)
{
	for (unsigned i = 0; i < s->nhist; i++) {
		free(s->hist[i].path);
		free(s->hist[i].token);
	}
	/* everything but the arrays (big, and only read up to their counts) */
	memset(s, 0, offsetof(struct slot, fifo));
	s->head = s->tail = 0;
	s->untracked = false;
	s->ob_len = 0;
	s->txid = 0;
	s->nhist = 0;
	s->hist_full = false;
}

static void slot_open(unsigned i, uint16_t domid)
{
	struct slot *s = &F.s[i];

	slot_reset(s);
	s->domid = domid;
	s->id = xsd_fuzz_conn_new(F.xsd, domid);
	ASSERT(s->id);
}

/* ----------------------------------------------------- building requests */

static const char *const base_paths[] = {
	"/", "/local", "/local/domain", "/local/domain/1", "/local/domain/2",
	"/local/domain/0/backend/vbd/1/51712", "/local/domain/1/device/vbd/51712",
	"/local/domain/1/device/vif/0", "@introduceDomain", "@releaseDomain",
	"/tool/xenstored", "data", "device/vbd/51712", "", "/local/domain/3", "/vm",
};
static const char *const names[] = {
	"a", "b", "c", "state", "ring-ref", "event-channel", "protocol", "queue-0",
	"feature-persistent", "0", "1", "x_y-Z@", "..", "", "a//b", "bad char!",
};
static const char *const tokens[] = { "t0", "t1", "tok", "" };

#define PATH_BUF (PVIO_XENSTORE_ABS_PATH_MAX + 300)

/* "zyx...a" over and over: from index 25 - k on, the letters k, k-1, ...
 * (mod 26) that a run of a path counts down through. */
static char run_letters[26 + PATH_BUF];

static void put_path(struct msgbuf *m, struct in *in, bool nul)
{
	uint8_t a = get8(in), b = get8(in);
	static char path[PATH_BUF];
	size_t l = strlen(base_paths[a % 16]);

	memcpy(path, base_paths[a % 16], l);
	for (unsigned k = 0; k < (a >> 4) % 4; k++) {
		const char *nm = names[get8(in) % 16];
		size_t nl = strlen(nm);

		if (!l || path[l - 1] != '/')
			path[l++] = '/';
		memcpy(path + l, nm, nl);
		l += nl;
	}
	path[l] = '\0';
	if (b & 1) {
		/* raw characters, or a long run of them */
		const uint8_t *r;
		size_t rl = getraw(in, &r, 255);
		if ((b & 2) && rl) {
			/* r[0] * 16 letters counting down to 'a' (as many as fit) */
			size_t rep = (size_t)r[0] * 16, k = rep < sizeof(path) - 1 - l ? rep
										  : sizeof(path) - 1 - l;

			if (!run_letters[0])
				for (size_t j = 0; j < sizeof(run_letters); j++)
					run_letters[j] = (char)('a' + 25 - j % 26);
			if (k)
				memcpy(path + l, run_letters + 25 - (rep - 1) % 26, k);
			l += k;
		} else {
			memcpy(path + l, r, rl < sizeof(path) - 1 - l ? rl : sizeof(path) - 1 - l);
			l += rl < sizeof(path) - 1 - l ? rl : sizeof(path) - 1 - l;
		}
		path[l] = '\0';
	}
	put(m, path, nul ? strlen(path) + 1 : strlen(path));
}

static void put_domid(struct msgbuf *m, struct in *in)
{
	static const char *const ids[] = { "0", "1", "2", "3", "65535", "65536", "x", "" };
	uint8_t a = get8(in);
	char buf[16];

	if (a < 0xf0)
		snprintf(buf, sizeof(buf), "%s", ids[a % 8]);
	else
		snprintf(buf, sizeof(buf), "%u", a);
	puts0(m, buf);
}

/* The payload of a request of type t. */
static void build_payload(struct msgbuf *m, struct in *in, uint32_t t)
{
	const uint8_t *r;
	size_t rl;
	uint8_t a;

	switch (t) {
	case PVIO_XS_WRITE:
		put_path(m, in, true);
		a = get8(in);
		if (a & 0x80) {
			/* a big value */
			static uint8_t v[PVIO_XENSTORE_PAYLOAD_MAX];
			size_t n = ((size_t)(a & 0x7f) << 5) | (a & 31);
			if (!v[0])
				memset(v, 'v', sizeof(v));
			put(m, v, n > sizeof(v) ? sizeof(v) : n);
		} else {
			rl = getraw(in, &r, 255);
			put(m, r, rl);
		}
		break;
	case PVIO_XS_WATCH:
	case PVIO_XS_UNWATCH:
		put_path(m, in, true);
		a = get8(in);
		if (a < 0xf0) {
			puts0(m, tokens[a % 4]);
		} else if (a < 0xff) {
			rl = getraw(in, &r, 64);
			put(m, r, rl);
			put(m, "", 1);
		} else {
			/* a long one: events with it may not fit in a message */
			static char t[PVIO_XENSTORE_PAYLOAD_MAX];
			size_t n = get8(in) * 16u;
			memset(t, 'T', n);
			put(m, t, n);
			put(m, "", 1);
		}
		break;
	case PVIO_XS_SET_PERMS: {
		static const char letters[] = "nrwbx";
		unsigned n;
		put_path(m, in, true);
		n = get8(in) % 8;
		for (unsigned i = 0; i < n; i++) {
			char p[16];
			a = get8(in);
			snprintf(p, sizeof(p), "%c%u", letters[a % 5], a < 200 ? a / 5 % 4 : a);
			puts0(m, p);
		}
		break;
	}
	case PVIO_XS_TRANSACTION_START:
		put(m, "", 1);
		break;
	case PVIO_XS_TRANSACTION_END:
		a = get8(in);
		puts0(m, a % 3 == 0 ? "T" : a % 3 == 1 ? "F" : "TF");
		break;
	case PVIO_XS_INTRODUCE:
		put_domid(m, in);
		puts0(m, "12345");
		puts0(m, "7");
		break;
	case PVIO_XS_SET_TARGET:
		put_domid(m, in);
		put_domid(m, in);
		break;
	case PVIO_XS_RELEASE:
	case PVIO_XS_IS_DOMAIN_INTRODUCED:
	case PVIO_XS_RESUME:
	case PVIO_XS_GET_DOMAIN_PATH:
		put_domid(m, in);
		break;
	case PVIO_XS_DIRECTORY_PART: {
		char off[16];
		put_path(m, in, true);
		snprintf(off, sizeof(off), "%u", get8(in) * 3u);
		puts0(m, off);
		break;
	}
	case PVIO_XS_CONTROL: {
		static const char *const cmds[] = { "check", "help", "quota", "print", "x" };
		a = get8(in);
		puts0(m, cmds[a % 5]);
		if (a & 8)
			puts0(m, "arg");
		break;
	}
	case PVIO_XS_RESET_WATCHES:
		break;
	default:
		/* READ, DIRECTORY, GET_PERMS, MKDIR, RM; others get one path too */
		put_path(m, in, true);
		break;
	}
}

/* What the store's view of a path looked like before a request. */
struct snap {
	bool valid;                    /* the path the harness computed is the store's */
	bool exists, parent_exists;
	unsigned acc;                  /* access to the node, or to its closest ancestor */
	uint16_t owner;
	uint32_t vlen, clen, plen;
	uint8_t val[PVIO_XENSTORE_PAYLOAD_MAX];
	char children[PVIO_XENSTORE_PAYLOAD_MAX + 1];
	char perms[PVIO_XENSTORE_PAYLOAD_MAX + 16];   /* as GET_PERMS shows them */
	char abs[PVIO_XENSTORE_ABS_PATH_MAX + 64];
	size_t alen;
};
static struct snap snap;

static uint32_t plen_up(const char *p, uint32_t l)
{
	while (l > 1 && p[l - 1] != '/')
		l--;
	return l > 1 ? l - 1 : 1;
}

/* "<letter><id>\0" as GET_PERMS shows a permission; its length with the
 * NUL. */
static uint32_t fmt_perm(char *d, const struct xsd_perm *p)
{
	char digits[8];
	unsigned nd = 0, id = p->id;

	do {
		digits[nd++] = (char)('0' + id % 10);
		id /= 10;
	} while (id);
	d[0] = "nrwb"[p->perms & 3];
	for (unsigned i = 0; i < nd; i++)
		d[1 + i] = digits[nd - 1 - i];
	d[1 + nd] = '\0';
	return nd + 2;
}

/* What check_path_request() will compare a request of type t with. */
static void take_snap(const struct xsd_conn *c, uint32_t t, const char *path, size_t plen)
{
	struct xsd_node *n;
	uint32_t l;

	snap.valid = false;
	if (!plen || plen > PVIO_XENSTORE_ABS_PATH_MAX || memchr(path, 0, plen))
		return;
	snap.alen = 0;
	if (path[0] != '/' && path[0] != '@') {
		memcpy(snap.abs, c->home, c->homelen);
		snap.abs[c->homelen] = '/';
		snap.alen = c->homelen + 1;
	}
	memcpy(snap.abs + snap.alen, path, plen);
	snap.alen += plen;
	snap.abs[snap.alen] = '\0';
	snap.valid = true;
	n = xsd_htab_get(&F.xsd->nodes, snap.abs, snap.alen);
	snap.exists = n != NULL;
	if (n) {
		snap.acc = ref_perm(c, n->perms, n->nperms);
		snap.owner = xsd_node_owner(n);
		snap.vlen = n->vlen;
		if (n->vlen && t == PVIO_XS_READ)
			memcpy(snap.val, n->value, n->vlen);
		snap.clen = n->childlen <= PVIO_XENSTORE_PAYLOAD_MAX ? n->childlen : 0;
		if (snap.clen && t == PVIO_XS_DIRECTORY)
			memcpy(snap.children, n->children, snap.clen);
		snap.plen = 0;
		for (unsigned i = 0; t == PVIO_XS_GET_PERMS && i < n->nperms &&
				     snap.plen < PVIO_XENSTORE_PAYLOAD_MAX; i++)
			snap.plen += fmt_perm(snap.perms + snap.plen, &n->perms[i]);
	}
	if (snap.abs[0] != '/' || snap.alen == 1) {
		snap.parent_exists = false;
		if (!n)
			snap.acc = XS_P_READ | XS_P_WRITE;   /* missing '@' nodes: ENOENT */
		return;
	}
	l = plen_up(snap.abs, (uint32_t)snap.alen);
	if (n) {
		/* only RM looks at the parent of a node that exists */
		snap.parent_exists = t == PVIO_XS_RM && xsd_htab_get(&F.xsd->nodes, snap.abs, l);
		return;
	}
	/* the access to the closest ancestor */
	for (bool parent = true; ; parent = false, l = plen_up(snap.abs, l)) {
		n = xsd_htab_get(&F.xsd->nodes, snap.abs, l);
		if (parent)
			snap.parent_exists = n != NULL;
		if (n) {
			snap.acc = ref_perm(c, n->perms, n->nperms);
			break;
		}
		if (l == 1)
			break;
	}
}

static unsigned dom_nodes(uint16_t domid)
{
	const struct xsd_domain *d = xsd_domain_get(F.xsd, domid, false);

	return d ? d->nodes : 0;
}

/* Cheap invariants after every step. */
static void check_quick(void)
{
	const struct pvio_xsd_opts *o = &F.xsd->opts;

	for (const struct xsd_conn *c = F.xsd->conns; c; c = c->next) {
		bool q = c->domid || o->quota_dom0;
		ASSERT(c->in_len <= XSD_INBUF);
		ASSERT(c->out_bytes <= PVIO_XSD_OUTPUT_MAX + XSD_MSG_MAX);
		ASSERT(c->out_events <= (q ? o->quota_watch_events : PVIO_XSD_DOM0_WATCH_EVENTS_MAX));
		if (q) {
			ASSERT(c->dom->watches <= o->quota_watches);
			ASSERT(c->dom->txs <= o->quota_transactions);
		}
	}
}

/* What a request of type t asks for on its path (0: not a path request). */
static unsigned need_of(uint32_t t)
{
	switch (t) {
	case PVIO_XS_READ:
	case PVIO_XS_DIRECTORY:
	case PVIO_XS_DIRECTORY_PART:
	case PVIO_XS_GET_PERMS:
		return XS_P_READ;
	case PVIO_XS_WRITE:
	case PVIO_XS_MKDIR:
	case PVIO_XS_RM:
		return XS_P_WRITE;
	case PVIO_XS_SET_PERMS:
		return XS_P_WRITE | XS_P_OWNER;
	}
	return 0;
}

/* Checks on a request the store handled at once, outside a transaction,
 * against the global store as it was before (snap) and is now. */
static void check_path_request(struct slot *s, uint32_t t, const struct msgbuf *m)
{
	unsigned need = need_of(t);
	bool granted = snap.exists ? (snap.acc & need) == need : (snap.acc & need) != 0;
	struct xsd_node *n = NULL;
	const char *err = (const char *)F.chk.p;

	if (!need || !snap.valid)
		return;
	if (F.chk.type == PVIO_XS_ERROR) {
		/* "missing" only for who may see the closest ancestor; "denied"
		 * only for who is */
		if (!strcmp(err, "ENOENT"))
			ASSERT(!snap.exists && granted);
		if (!strcmp(err, "EACCES"))
			ASSERT(!granted);
		return;
	}
	ASSERT(granted);
	if (t == PVIO_XS_WRITE || t == PVIO_XS_MKDIR || t == PVIO_XS_RM || t == PVIO_XS_SET_PERMS)
		n = xsd_htab_get(&F.xsd->nodes, snap.abs, snap.alen);   /* now */
	switch (t) {
	case PVIO_XS_READ:
		ASSERT(snap.exists);
		ASSERT(F.chk.len == snap.vlen && !memcmp(F.chk.p, snap.val, snap.vlen));
		break;
	case PVIO_XS_DIRECTORY:
		ASSERT(snap.exists);
		ASSERT(F.chk.len == snap.clen && !memcmp(F.chk.p, snap.children, snap.clen));
		break;
	case PVIO_XS_GET_PERMS:
		ASSERT(snap.exists);
		ASSERT(F.chk.len == snap.plen && !memcmp(F.chk.p, snap.perms, snap.plen));
		break;
	case PVIO_XS_DIRECTORY_PART:
		ASSERT(snap.exists);
		break;
	case PVIO_XS_WRITE:
	case PVIO_XS_MKDIR:
		ASSERT(n);
		if (snap.exists)
			ASSERT(xsd_node_owner(n) == snap.owner);
		else if (s->domid)
			ASSERT(xsd_node_owner(n) == s->domid);   /* guests own what they make */
		if (t == PVIO_XS_WRITE && quota_on(s->domid)) {
			size_t pl = strnlen((const char *)m->b + XSD_HDR, m->len);
			ASSERT(m->len - pl - 1 <= F.xsd->opts.quota_node_size);
			ASSERT(n->vlen == m->len - pl - 1);
		}
		break;
	case PVIO_XS_RM:
		ASSERT(snap.exists || snap.parent_exists);
		ASSERT(!n);
		break;
	case PVIO_XS_SET_PERMS:
		ASSERT(snap.exists && n);
		if (s->domid)
			ASSERT(xsd_node_owner(n) == snap.owner);   /* never given away */
		break;
	}
}

/* One well-formed request (well, mostly: the input may break it). */
static void do_request(struct slot *s, struct in *in)
{
	static struct msgbuf m;
	static const uint32_t odd[] = { 20, 23, 24, 255, 0xffff, 0x10000, 0x7fffffff, 0xffffffff };
	struct xsd_conn *c = conn_of(s);
	uint8_t tb = get8(in), fl = get8(in);
	uint32_t t = tb < 0xf0 ? tb % PVIO_XS_TYPE_COUNT : odd[tb % 8];
	struct pvio_xsd_sockmsg h;
	uint32_t tx = 0, split;
	uint64_t gen0;
	unsigned nodes0;
	bool inspect;

	if (!c)
		return;
	switch (fl & 3) {
	case 1: tx = s->txid; break;
	case 2: tx = F.s[(fl >> 2) % NSLOT].txid; break;
	case 3: tx = get8(in); break;
	}
	m.len = 0;
	build_payload(&m, in, t);
	if (fl & 0x10 && m.len)
		m.len--;                /* drop the last NUL */
	if (fl & 0x20)
		put(&m, "\0junk", 5);
	if (m.len > PVIO_XENSTORE_PAYLOAD_MAX && !(fl & 0x40))
		m.len = PVIO_XENSTORE_PAYLOAD_MAX;
	h.type = htole32(t);
	h.req_id = htole32(++F.seq);
	h.tx_id = htole32(tx);
	h.len = htole32(m.len);
	memcpy(m.b, &h, XSD_HDR);

	/* Inspect it if the store handles it right now (nothing held back,
	 * one read), so the store it sees is the one we see now, and its reply
	 * is written at once. */
	inspect = !c->in_len && !s->ip_in && !s->ih_have && !s->expect_kill && !c->out_head &&
		  !s->broken && !s->budgeted && m.len <= PVIO_XENSTORE_PAYLOAD_MAX && !(fl & 0x80);
	if (inspect) {
		snap.valid = false;
		if (!tx && need_of(t))
			take_snap(c, t, (const char *)m.b + XSD_HDR,
				  strnlen((const char *)m.b + XSD_HDR, m.len));
		F.chk.active = true;
		F.chk.got = false;
	}
	gen0 = F.xsd->gen;
	nodes0 = dom_nodes(s->domid);

	if (fl & 0x80) {
		/* split over two reads at an offset of the input's choice */
		split = get8(in) * 17u % (XSD_HDR + m.len + 1);
		split = (uint32_t)feed(s, m.b, split, false);
		feed(s, m.b + split, XSD_HDR + m.len - split, false);
	} else {
		feed(s, m.b, XSD_HDR + m.len, inspect);
	}
	if (!inspect)
		return;
	F.chk.active = false;
	if (!conn_of(s))
		return;         /* a release of our own domain, say */
	ASSERT(F.chk.got);     /* exactly one reply, at once */
	/* A guest never goes over its node quota by its own doing (dom0, even
	 * under quota, may take nodes over: RELEASE, SET_PERMS). */
	if (s->domid)
		ASSERT(dom_nodes(s->domid) <= nodes0 ||
		       dom_nodes(s->domid) <= F.xsd->opts.quota_nodes);
	/* Failed requests change nothing, nor do those that only look. */
	if (F.chk.type == PVIO_XS_ERROR) {
		ASSERT(F.xsd->gen == gen0);
	} else {
		switch (t) {
		case PVIO_XS_READ:
		case PVIO_XS_DIRECTORY:
		case PVIO_XS_GET_PERMS:
		case PVIO_XS_DIRECTORY_PART:
		case PVIO_XS_GET_DOMAIN_PATH:
		case PVIO_XS_WATCH:
		case PVIO_XS_UNWATCH:
		case PVIO_XS_IS_DOMAIN_INTRODUCED:
		case PVIO_XS_RESUME:
		case PVIO_XS_CONTROL:
		case PVIO_XS_TRANSACTION_START:
			ASSERT(F.xsd->gen == gen0);
			break;
		}
	}
	check_path_request(s, t, &m);
}

/* The whole store is consistent: tree, accounting, counters. */
static void check_store(void)
{
	static unsigned owned[65536];
	static struct { const struct xsd_node *n; uint32_t off, plen; } st[PVIO_XENSTORE_ABS_PATH_MAX];
	static char path[PVIO_XENSTORE_ABS_PATH_MAX + 1];
	static const char *const special[] = { "@introduceDomain", "@releaseDomain" };
	struct pvio_xsd *x = F.xsd;
	unsigned conns = 0, watches = 0, txs = 0, sp = 0, nodes = 0, accounted = 0;
	const struct xsd_node *n;

	/* Walk the tree from "/": every child listed exists, and every node
	 * in the table is reached (once: the count would be off). */
	n = xsd_htab_get(&x->nodes, "/", 1);
	ASSERT(n);
	path[0] = '/';
	st[sp++] = (typeof(st[0])){ n, 0, 1 };
	owned[xsd_node_owner(n)]++;
	nodes++;
	while (sp) {
		typeof(st[0]) *top = &st[sp - 1];
		const char *cn;
		uint32_t cl, l;
		if (top->off >= top->n->childlen) {
			sp--;
			continue;
		}
		cn = top->n->children + top->off;
		cl = (uint32_t)strlen(cn);
		ASSERT(cl && top->off + cl < top->n->childlen);
		top->off += cl + 1;
		l = top->plen == 1 ? 1 : top->plen + 1;
		ASSERT(l + cl <= PVIO_XENSTORE_ABS_PATH_MAX && sp < PVIO_XENSTORE_ABS_PATH_MAX);
		path[l - 1] = '/';
		memcpy(path + l, cn, cl);
		n = xsd_htab_get(&x->nodes, path, l + cl);
		ASSERT(n && n->nperms >= 1 && n->exists);
		owned[xsd_node_owner(n)]++;
		nodes++;
		st[sp++] = (typeof(st[0])){ n, 0, l + cl };
	}
	for (unsigned i = 0; i < 2; i++) {
		n = xsd_htab_get(&x->nodes, special[i], strlen(special[i]));
		ASSERT(n && !n->childlen);
		owned[xsd_node_owner(n)]++;
		nodes++;
	}
	ASSERT(nodes == x->nodes.n);

	for (unsigned b = 0; b < XSD_DOM_BUCKETS; b++) {
		for (struct xsd_domain *d = x->doms[b]; d; d = d->next) {
			unsigned w = 0, t = 0, cn = 0;
			for (struct xsd_conn *c = x->conns; c; c = c->next) {
				if (c->domid != d->domid)
					continue;
				ASSERT(c->dom == d);
				cn++;
				for (struct xsd_watch *wa = c->watches; wa; wa = wa->next)
					w++;
				for (struct xsd_tx *tx = c->txs; tx; tx = tx->next)
					t++;
			}
			ASSERT(owned[d->domid] == d->nodes && w == d->watches && t == d->txs &&
			       cn == d->conns);
			accounted += owned[d->domid];
			owned[d->domid] = 0;
			watches += w;
			txs += t;
			conns += cn;
		}
	}
	/* no node has an owner the store does not account for */
	ASSERT(accounted == nodes);
	ASSERT(conns == x->st.conns && watches == x->st.watches && txs == x->st.transactions);
	ASSERT(x->st.conns_killed <= F.expect_kills);
}

/*
 * dom0's layout for domains 1 and 2 and a vbd, as the wire bytes of its
 * requests.
 */
static uint8_t layout_wire[1024];
static size_t layout_len;
static unsigned layout_nmsg;

static void layout_build(void)
{
	static const uint8_t layout[] = {
		/* dom0: the toolstack's layout for domains 1 and 2 and a vbd */
		PVIO_XS_MKDIR, 0, 0x03, 0,                      /* /local/domain/1 */
		PVIO_XS_SET_PERMS, 0, 0x03, 0, 1, 5,            /* n1 */
		PVIO_XS_MKDIR, 0, 0x04, 0,                      /* /local/domain/2 */
		PVIO_XS_SET_PERMS, 0, 0x04, 0, 1, 10,           /* n2 */
		PVIO_XS_WRITE, 0, 0x15, 0, 3, 1, 1, '1',        /* backend .../state = 1 */
		PVIO_XS_SET_PERMS, 0, 0x05, 0, 2, 0, 6,         /* n0 r1 */
		PVIO_XS_WRITE, 0, 0x06, 0, 0, 1, '/',           /* frontend dir, owner 0 */
		PVIO_XS_SET_PERMS, 0, 0x06, 0, 2, 5, 1,         /* n1 r0 */
	};
	struct in setup = { layout, sizeof(layout) };
	static struct msgbuf m;

	while (setup.n) {
		uint32_t t = get8(&setup);
		struct pvio_xsd_sockmsg h;

		ASSERT(get8(&setup) == 0);   /* no flags: outside transactions */
		m.len = 0;
		build_payload(&m, &setup, t);
		h.type = htole32(t);
		h.req_id = htole32(++layout_nmsg);
		h.tx_id = 0;
		h.len = htole32(m.len);
		memcpy(m.b, &h, XSD_HDR);
		ASSERT(layout_len + XSD_HDR + m.len <= sizeof(layout_wire));
		memcpy(layout_wire + layout_len, m.b, XSD_HDR + m.len);
		layout_len += XSD_HDR + m.len;
	}
}

/*
 * The store after the layout is the same for every input of a quota
 * configuration (cfg & 3: dom0 under the small quota cannot make all of
 * it). It is made once, the real way: dom0's requests on a connection, the
 * domains introduced, the connection closed. Each input then starts from a
 * copy of it (half the time of an input went into making it again): the
 * node table (chains in the same order: a release walks it, giving nodes
 * new generations in that order), the domains, the generation and
 * connection counters and the statistics -- everything of a store that has
 * no connection. layout_copy() is checked against the original once.
 */
static struct pvio_xsd *layout_base[4];

static void layout_copy(struct pvio_xsd *x, const struct pvio_xsd *b)
{
	xsd_htab_fini(&x->nodes);
	ASSERT(xsd_htab_init(&x->nodes, b->nodes.mask + 1) == 0);
	for (uint32_t i = 0; i <= b->nodes.mask; i++) {
		struct xsd_node **tail = &x->nodes.b[i];

		for (const struct xsd_node *n = b->nodes.b[i]; n; n = n->hnext) {
			struct xsd_node *c = xsd_node_new(n->name, n->namelen);

			ASSERT(c && !n->base_gen && !n->dirty && !n->twin);
			ASSERT(xsd_node_copy_content(c, n) == 0);
			c->gen = n->gen;
			c->exists = n->exists;
			*tail = c;
			tail = &c->hnext;
			x->nodes.n++;
		}
	}
	for (unsigned i = 0; i < XSD_DOM_BUCKETS; i++) {
		struct xsd_domain **tail;

		while (x->doms[i]) {
			struct xsd_domain *dd = x->doms[i];

			x->doms[i] = dd->next;
			free(dd);
		}
		tail = &x->doms[i];
		for (const struct xsd_domain *dd = b->doms[i]; dd; dd = dd->next) {
			struct xsd_domain *c = malloc(sizeof(*c));

			ASSERT(c && !dd->conns && !dd->watches && !dd->txs);
			*c = *dd;
			c->next = NULL;
			*tail = c;
			tail = &c->next;
		}
	}
	ASSERT(!b->conns && !b->zombies);
	x->gen = b->gen;
	x->next_id = b->next_id;
	x->st = b->st;
}

/* Are a and b the same store (nodes and their chains, domains, counters)? */
static void layout_same(const struct pvio_xsd *a, const struct pvio_xsd *b)
{
	ASSERT(a->nodes.mask == b->nodes.mask && a->nodes.n == b->nodes.n);
	for (uint32_t i = 0; i <= a->nodes.mask; i++) {
		const struct xsd_node *m = a->nodes.b[i], *n = b->nodes.b[i];

		for (; m && n; m = m->hnext, n = n->hnext) {
			ASSERT(m->namelen == n->namelen && !memcmp(m->name, n->name, m->namelen));
			ASSERT(m->hash == n->hash && m->gen == n->gen && m->exists == n->exists);
			ASSERT(m->vlen == n->vlen &&
			       (!m->vlen || !memcmp(m->value, n->value, m->vlen)));
			ASSERT(m->childlen == n->childlen &&
			       (!m->childlen || !memcmp(m->children, n->children, m->childlen)));
			ASSERT(m->nperms == n->nperms && m->nperms &&
			       !memcmp(m->perms, n->perms, m->nperms * sizeof(*m->perms)));
		}
		ASSERT(!m && !n);
	}
	for (unsigned i = 0; i < XSD_DOM_BUCKETS; i++) {
		const struct xsd_domain *m = a->doms[i], *n = b->doms[i];

		for (; m && n; m = m->next, n = n->next)
			ASSERT(m->domid == n->domid && m->introduced == n->introduced &&
			       m->has_target == n->has_target && m->target == n->target &&
			       m->nodes == n->nodes && m->watches == n->watches &&
			       m->txs == n->txs && m->conns == n->conns);
		ASSERT(!m && !n);
	}
	ASSERT(a->gen == b->gen && a->next_id == b->next_id &&
	       !memcmp(&a->st, &b->st, sizeof(a->st)));
}

/* F.xsd: a new store of options o, with the layout if asked. */
static void store_new(const struct pvio_xsd_opts *o, unsigned cfg)
{
	struct pvio_xsd **base = &layout_base[cfg & 3];

	ASSERT(pvio_xsd_create(o, &F.xsd) == 0);
	if (cfg & 4)
		return;
	if (!*base) {
		if (!layout_len)
			layout_build();
		/* In one read: each answered at once, in order (checked as they
		 * come). */
		slot_open(0, 0);
		ASSERT(feed(&F.s[0], layout_wire, layout_len, false) == layout_len);
		ASSERT(F.s[0].head == F.s[0].tail && F.s[0].tail == layout_nmsg);
		pvio_xsd_introduce(F.xsd, 1);
		pvio_xsd_introduce(F.xsd, 2);
		ASSERT(xsd_fuzz_conn_input(F.xsd, F.s[0].id, NULL, 0) == 0);
		slot_reset(&F.s[0]);
		*base = F.xsd;
		check_store();
		ASSERT(pvio_xsd_create(o, &F.xsd) == 0);
		layout_copy(F.xsd, *base);
		layout_same(F.xsd, *base);
		pvio_xsd_destroy(F.xsd);
		ASSERT(pvio_xsd_create(o, &F.xsd) == 0);
	}
	layout_copy(F.xsd, *base);
	F.seq = layout_nmsg;
}

static void fuzz_store(const uint8_t *d, size_t n)
{
	struct in in = { d, n };
	struct pvio_xsd_opts o;
	uint8_t cfg = get8(&in);
	uint64_t closed;

	xsd_fuzz_write = fz_write;
	F.trace = getenv("FUZZ_XS_TRACE") != NULL;
	pvio_xsd_opts_default(&o);
	if (cfg & 1) {
		o.quota_nodes = 12;
		o.quota_watches = 4;
		o.quota_watch_events = 8;
		o.quota_transactions = 2;
		o.quota_node_size = 32;
		o.quota_path_len = 40;
		o.quota_perms = 3;
	}
	o.quota_dom0 = cfg & 2;
	F.chk.active = false;
	F.seq = 0;
	F.expect_kills = 0;
	store_new(&o, cfg);
	slot_open(0, 0);
	slot_open(1, 1);
	slot_open(2, 2);
	slot_open(3, 1);
	closed = F.xsd->st.conns_closed;

	while (in.n) {
		uint8_t op = get8(&in);
		struct slot *s = &F.s[op & 3];
		const uint8_t *r;
		size_t rl;

		if (F.trace)
			fprintf(stderr, "slot %u: op %u\n", op & 3, op >> 2);

		switch (op >> 2) {
		default:                /* most of the time: a request */
			do_request(s, &in);
			break;
		case 40: case 41: case 42: case 43:
			/* raw bytes, as one read or byte by byte */
			rl = getraw(&in, &r, 255);
			if (op >> 2 == 40) {
				for (size_t i = 0; i < rl; i++)
					feed(s, r + i, 1, false);
			} else {
				feed(s, r, rl, false);
			}
			break;
		case 44:                /* a bare header */
		{
			uint8_t hb[XSD_HDR];
			struct pvio_xsd_sockmsg h;
			h.type = htole32(get8(&in) % 24);
			h.req_id = htole32(++F.seq);
			h.tx_id = 0;
			h.len = htole32(get32(&in));
			memcpy(hb, &h, XSD_HDR);
			feed(s, hb, XSD_HDR, false);
			break;
		}
		case 45:                /* the peer closes */
			if (conn_of(s)) {
				ASSERT(xsd_fuzz_conn_input(F.xsd, s->id, NULL, 0) == 0);
				ASSERT(!conn_of(s));
			}
			s->id = 0;
			break;
		case 46:                /* a new connection in this slot */
			if (conn_of(s))
				xsd_fuzz_conn_input(F.xsd, s->id, NULL, 0);
			slot_open(op & 3, (uint16_t)(get8(&in) % 5));
			break;
		case 47:                /* its socket: takes everything, or k bytes more */
		{
			uint8_t a = get8(&in);
			s->budgeted = a != 0;
			s->budget = (uint32_t)a * a;
			break;
		}
		case 48:                /* its peer is gone: writes fail */
			s->broken = true;
			break;
		case 49:                /* writable again */
			if (conn_of(s))
				xsd_fuzz_conn_writable(F.xsd, s->id);
			break;
		case 50:
			pvio_xsd_introduce(F.xsd, get8(&in) % 5);
			break;
		case 51:
			pvio_xsd_release_domain(F.xsd, get8(&in) % 5);
			break;
		}
		/* Slots whose connection went away (only if one did). */
		if (F.xsd->st.conns_closed != closed) {
			closed = F.xsd->st.conns_closed;
			for (unsigned i = 0; i < NSLOT; i++)
				if (F.s[i].id && !conn_of(&F.s[i]))
					F.s[i].id = 0;
		}
		check_quick();
	}

	/* Drain: every socket takes everything now; whatever was held back
	 * gets processed and answered. */
	for (unsigned i = 0; i < NSLOT; i++) {
		struct slot *s = &F.s[i];
		struct xsd_conn *c;
		s->budgeted = false;
		for (int k = 0; k < 64 && (c = conn_of(s)) && c->out_head; k++)
			xsd_fuzz_conn_writable(F.xsd, s->id);
		c = conn_of(s);
		if (!c)
			continue;
		/* every complete request got exactly one reply */
		ASSERT(!c->out_head && (s->untracked || s->head == s->tail));
		ASSERT(!s->expect_kill);
	}
	check_quick();
	check_store();
	pvio_xsd_destroy(F.xsd);
	F.xsd = NULL;
	for (unsigned i = 0; i < NSLOT; i++)
		slot_reset(&F.s[i]);
}

/* ============================================ target 1: the xenbus helpers */

/* The client talks to the harness over a socketpair. The harness writes a
 * reply before each call; the client reads only after it sent a request,
 * so that reply answers the call's (first) request. A call that sends
 * nothing leaves it for the next call, and the harness writes no other
 * until it was taken: the reply that answered is always known. */
struct xb_msg {
	uint32_t type, len;
	uint8_t p[PVIO_XENSTORE_PAYLOAD_MAX + 1];
};

static struct {
	struct pvio_xs *xs;
	int peer;
	bool pending;                  /* a reply waits in the client's socket */
	struct xb_msg pend, ans;       /* the one waiting; the one that answered */
	char token[80];                /* devwatch's, from its WATCH request */
} X;

static void xb_open(void)
{
	int sv[2];

	ASSERT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	ASSERT(pvio_xs_open_fd(sv[0], &X.xs) == 0);
	X.peer = sv[1];
	X.pending = false;
}

static void xb_close(void)
{
	pvio_xs_close(X.xs);
	close(X.peer);
	X.xs = NULL;
}

static void xb_send(uint32_t type, const void *p, uint32_t len)
{
	static uint8_t b[XSD_HDR + PVIO_XENSTORE_PAYLOAD_MAX];
	struct pvio_xsd_sockmsg h = { htole32(type), 0, 0, htole32(len) };

	memcpy(b, &h, XSD_HDR);
	memcpy(b + XSD_HDR, p, len);
	ASSERT(write(X.peer, b, XSD_HDR + len) == (ssize_t)(XSD_HDR + len));
}

/* Before a call: the reply it will get (unless one is waiting already),
 * perhaps after a watch event. */
static void xb_reply(uint32_t type, const void *p, uint32_t len, bool event_first)
{
	if (X.pending)
		return;
	if (event_first)
		xb_send(PVIO_XS_WATCH_EVENT, "/some/path\0tok", 15);
	xb_send(type, p, len);
	X.pend.type = type;
	X.pend.len = len;
	memcpy(X.pend.p, p, len);
	X.pend.p[len] = 0;
	X.pending = true;
}

/* After a call: did it send a request (it can send at most one: a second
 * would wait forever)? Its payload goes to req (NUL-terminated), the reply
 * that answered it to X.ans. */
static bool xb_request(uint32_t type, char *req)
{
	static uint8_t b[2 * (XSD_HDR + PVIO_XENSTORE_PAYLOAD_MAX)];
	struct pvio_xsd_sockmsg h;
	ssize_t n = recv(X.peer, b, sizeof(b), MSG_DONTWAIT);

	if (n <= 0)
		return false;
	ASSERT((size_t)n >= XSD_HDR);
	memcpy(&h, b, XSD_HDR);
	h.type = le32toh(h.type);
	h.tx_id = le32toh(h.tx_id);
	h.len = le32toh(h.len);
	ASSERT(h.len <= PVIO_XENSTORE_PAYLOAD_MAX && (size_t)n == XSD_HDR + h.len);
	ASSERT(h.type == type && h.tx_id == 0);
	memcpy(req, b + XSD_HDR, h.len);
	req[h.len] = '\0';
	ASSERT(X.pending);
	X.ans = X.pend;
	X.pending = false;
	return true;
}

/* What talk() makes of the reply that answered a request of type t. */
static int xb_talk_ret(uint32_t t)
{
	if (X.ans.type == PVIO_XS_ERROR)
		return -pvio__xs_errno((const char *)X.ans.p, X.ans.len);
	return X.ans.type == t ? 0 : -EPROTO;
}

/* The reference: 1..maxlen decimal digits, nothing else, at most max. */
static bool ref_uint(const uint8_t *v, size_t len, size_t maxlen, unsigned long long max,
		     unsigned long long *out)
{
	unsigned long long x = 0;

	if (!len || len > maxlen)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return false;
		if (x > (~0ull - (unsigned)(v[i] - '0')) / 10)
			return false;
		x = x * 10 + (unsigned)(v[i] - '0');
	}
	if (x > max)
		return false;
	*out = x;
	return true;
}

static const char *const fe_keys[] = {
	"ring-ref", "ring-ref0", "ring-page-order", "multi-queue-num-queues",
	"event-channel", "event-channel-tx", "feature-persistent", "queue-0/ring-ref",
	"feature-large-sector-size", "tx-ring-ref", "request-rx-copy", "mtu",
};

#define XB_BASE   "/local/domain/0/backend/vbd"
#define XB_NDEV   1024

/* devwatch: our model of the devices it knows, and what it reported. */
static struct {
	struct { uint16_t fe; uint32_t devid; } dev[XB_NDEV];
	unsigned n;
	struct { uint16_t fe; uint32_t devid; bool added; } rep[XB_NDEV];
	unsigned nrep;
} M;

static void dev_cb(void *arg, bool added, uint16_t fe, uint32_t devid, const char *path)
{
	char want[128];

	(void)arg;
	snprintf(want, sizeof(want), XB_BASE "/%u/%u", fe, devid);
	ASSERT(!strcmp(path, want));
	ASSERT(M.nrep < XB_NDEV);
	M.rep[M.nrep].fe = fe;
	M.rep[M.nrep].devid = devid;
	M.rep[M.nrep].added = added;
	M.nrep++;
}

static bool m_known(uint16_t fe, uint32_t devid)
{
	for (unsigned i = 0; i < M.n; i++)
		if (M.dev[i].fe == fe && M.dev[i].devid == devid)
			return true;
	return false;
}

static bool m_reported(uint16_t fe, uint32_t devid)
{
	for (unsigned i = 0; i < M.nrep; i++)
		if (M.rep[i].fe == fe && M.rep[i].devid == devid)
			return true;
	return false;
}

/* devwatch rescanned fe and found the listing in X.ans (or nothing). */
static void m_rescan(uint16_t fe, int r, int t)
{
	static uint32_t now[XB_NDEV];
	unsigned nnow = 0, want = 0;

	if (t && t != -ENOENT) {
		ASSERT(r == t && !M.nrep);
		return;
	}
	for (uint32_t o = 0; !t && o < X.ans.len;) {
		const char *nm = (const char *)X.ans.p + o;
		size_t l = strnlen(nm, X.ans.len - o);
		unsigned long long id;
		bool dup = false;
		if (o + l == X.ans.len)
			break;          /* no NUL: not a name */
		o += (uint32_t)l + 1;
		if (!ref_uint((const uint8_t *)nm, l, SIZE_MAX, UINT32_MAX, &id))
			continue;
		for (unsigned i = 0; i < nnow; i++)
			dup |= now[i] == id;
		if (!dup && nnow < XB_NDEV)
			now[nnow++] = (uint32_t)id;
	}
	/* added: listed and not known; removed: known and not listed */
	for (unsigned i = 0; i < nnow; i++) {
		if (!m_known(fe, now[i])) {
			ASSERT(m_reported(fe, now[i]));
			want++;
		}
	}
	for (unsigned i = 0; i < M.n; i++) {
		bool listed = false;
		if (M.dev[i].fe != fe)
			continue;
		for (unsigned k = 0; k < nnow; k++)
			listed |= now[k] == M.dev[i].devid;
		if (!listed) {
			ASSERT(m_reported(fe, M.dev[i].devid));
			want++;
		}
	}
	ASSERT(r == (int)want && M.nrep == want);
	for (unsigned i = 0; i < M.nrep; i++) {
		ASSERT(M.rep[i].fe == fe);
		ASSERT(M.rep[i].added == !m_known(fe, M.rep[i].devid));
	}
	/* the model becomes the listing */
	for (unsigned i = 0; i < M.n;)
		if (M.dev[i].fe == fe)
			M.dev[i] = M.dev[--M.n];
		else
			i++;
	for (unsigned i = 0; i < nnow && M.n < XB_NDEV; i++) {
		M.dev[M.n].fe = fe;
		M.dev[M.n].devid = now[i];
		M.n++;
	}
}

static void fuzz_xenbus(const uint8_t *d, size_t n)
{
	static char req[PVIO_XENSTORE_PAYLOAD_MAX + 1];
	struct in in = { d, n };
	struct pvio_xenbus_devwatch *dw = NULL;

	xb_open();
	M.n = 0;
	while (in.n) {
		uint8_t op = get8(&in), f = get8(&in);
		const uint8_t *v;
		size_t vl = getraw(&in, &v, 255);
		bool missing = f & 1, ev = f & 2;
		unsigned long long want = 0;
		int r, t;

		switch (op % 5) {
		case 0: {               /* a number a frontend wrote */
			const char *key = fe_keys[(op >> 3) % 12];
			unsigned long long val = 0;
			if (missing)
				xb_reply(PVIO_XS_ERROR, "ENOENT", 7, ev);
			else
				xb_reply(PVIO_XS_READ, v, (uint32_t)vl, ev);
			r = pvio_xenbus_read_uint(X.xs, PVIO_XS_NO_TX, "/local/domain/1/device/vbd/51712",
						  key, &val);
			ASSERT(xb_request(PVIO_XS_READ, req));
			ASSERT(!strncmp(req, "/local/domain/1/device/vbd/51712/", 33) &&
			       !strcmp(req + 33, key));
			if ((t = xb_talk_ret(PVIO_XS_READ)))
				ASSERT(r == t);
			else if (ref_uint(X.ans.p, X.ans.len, 31, ~0ull, &want))
				ASSERT(r == 0 && val == want);
			else
				ASSERT(r == -EINVAL);
			break;
		}
		case 1: {               /* the peer's state */
			enum pvio_xenbus_state st = PVIO_XENBUS_STATE_MAX + 1;
			if (missing)
				xb_reply(PVIO_XS_ERROR, "ENOENT", 7, ev);
			else
				xb_reply(PVIO_XS_READ, v, (uint32_t)vl, ev);
			r = pvio_xenbus_read_state(X.xs, PVIO_XS_NO_TX, "/local/domain/1/device/vif/0", &st);
			ASSERT(xb_request(PVIO_XS_READ, req));
			ASSERT(!strcmp(req, "/local/domain/1/device/vif/0/state"));
			t = xb_talk_ret(PVIO_XS_READ);
			if (t == -ENOENT || (!t && !X.ans.len))
				ASSERT(r == 0 && st == PVIO_XENBUS_STATE_UNKNOWN);
			else if (t)
				ASSERT(r == t);
			else if (ref_uint(X.ans.p, X.ans.len, 15, PVIO_XENBUS_STATE_MAX, &want))
				ASSERT(r == 0 && st == want);
			else
				ASSERT(r == -EPROTO);
			break;
		}
		case 2: {               /* protocol */
			char proto[32];
			size_t len = 0;
			xb_reply(PVIO_XS_READ, v, (uint32_t)vl, ev);
			r = pvio_xs_read_buf(X.xs, PVIO_XS_NO_TX, "/local/domain/1/device/vbd/51712/protocol",
					     proto, sizeof(proto), &len);
			ASSERT(xb_request(PVIO_XS_READ, req));
			if ((t = xb_talk_ret(PVIO_XS_READ))) {
				ASSERT(r == t);
				break;
			}
			ASSERT(len == X.ans.len);
			if (len >= sizeof(proto)) {
				ASSERT(r == -ERANGE);
				break;
			}
			ASSERT(r == 0 && !memcmp(proto, X.ans.p, len) && !proto[len]);
			if (memchr(proto, 0, len))
				break;          /* what the backend then does is its business */
			r = pvio_blkif_abi_from_protocol(proto);
			if (!strcmp(proto, "x86_64-abi") || !strcmp(proto, "arm-abi"))
				ASSERT(r == PVIO_BLKIF_ABI_NATIVE);
			else if (!strcmp(proto, "x86_32-abi"))
				ASSERT(r == PVIO_BLKIF_ABI_X86_32);
			else
				ASSERT(r == -EINVAL);
			break;
		}
		case 3: {               /* device discovery: the device ids under a frontend */
			static const char *const comps[] = { "007", "65535", "65536", "", "a",
							     "1234567890123456", "-1", "4294967296" };
			static struct pvio_xs_event e;
			uint16_t fe = (f >> 4) % 8;
			unsigned kind = (f >> 2) & 3;
			char comp[24];
			bool valid = true, below = false, sent;

			if (X.pending && X.pend.type == PVIO_XS_ERROR &&
			    !strcmp((const char *)X.pend.p, "E2BIG"))
				break;  /* pvio_xs_directory would go on with DIRECTORY_PART */
			if (!dw) {
				xb_reply(PVIO_XS_WATCH, "OK", 3, ev);
				r = pvio_xenbus_devwatch_start(X.xs, 0, "vbd", dev_cb, NULL, &dw);
				ASSERT(xb_request(PVIO_XS_WATCH, req));
				ASSERT(!strcmp(req, XB_BASE));
				ASSERT(r == xb_talk_ret(PVIO_XS_WATCH));
				if (r) {
					dw = NULL;
				} else {
					snprintf(X.token, sizeof(X.token), "%s", req + strlen(req) + 1);
					M.n = 0;
				}
				break;
			}
			xb_reply(PVIO_XS_DIRECTORY, v, (uint32_t)vl, ev);
			if (kind == 2) {
				snprintf(comp, sizeof(comp), "%s", comps[fe]);
				valid = fe < 2;
				fe = fe ? 65535 : 7;
			} else {
				snprintf(comp, sizeof(comp), "%u", fe);
			}
			if (kind == 1) {
				/* a key below a device, known or not */
				uint32_t devid = vl ? v[0] : 0;
				for (unsigned i = 0; i < M.n; i++)
					if (M.dev[i].fe == fe && (vl & 1)) {
						devid = M.dev[i].devid;
						break;
					}
				snprintf(e.buf, sizeof(e.buf), XB_BASE "/%s/%u/state%c%s", comp, devid, 0,
					 X.token);
				below = m_known(fe, devid);
			} else {
				snprintf(e.buf, sizeof(e.buf), XB_BASE "/%s%c%s", comp, 0,
					 kind == 3 ? "not-ours" : X.token);
			}
			e.path = e.buf;
			e.token = e.buf + strlen(e.buf) + 1;
			M.nrep = 0;
			r = pvio_xenbus_devwatch_handle(dw, &e);
			sent = xb_request(PVIO_XS_DIRECTORY, req);
			if (kind == 3) {
				ASSERT(r == -ENOENT && !sent && !M.nrep);
				break;
			}
			if (!valid || below) {
				ASSERT(r == 0 && !sent && !M.nrep);
				break;
			}
			ASSERT(sent);
			snprintf(comp, sizeof(comp), "/%u", fe);
			ASSERT(!strncmp(req, XB_BASE, strlen(XB_BASE)) &&
			       !strcmp(req + strlen(XB_BASE), comp));
			m_rescan(fe, r, xb_talk_ret(PVIO_XS_DIRECTORY));
			break;
		}
		default: {              /* a broken reply: the client stops, cleanly */
			char *val = NULL;
			uint32_t hv[4] = { 0, 0, 0, 0 }, hle[4];
			hv[0] = get8(&in);
			hv[3] = get32(&in);
			if (X.pending)
				break;
			if (hv[3] <= PVIO_XENSTORE_PAYLOAD_MAX && hv[3] > vl)
				hv[3] = (uint32_t)vl;   /* never half a message: the client would wait */
			if (hv[0] == PVIO_XS_WATCH_EVENT)
				hv[0] = PVIO_XS_READ;   /* ... or for the reply after the event */
			for (int i = 0; i < 4; i++)
				hle[i] = htole32(hv[i]);
			ASSERT(write(X.peer, hle, XSD_HDR) == XSD_HDR);
			if (hv[3] <= PVIO_XENSTORE_PAYLOAD_MAX && hv[3])
				ASSERT(write(X.peer, v, hv[3]) == (ssize_t)hv[3]);
			X.pending = true;
			X.pend.type = hv[0];
			X.pend.len = hv[3] <= PVIO_XENSTORE_PAYLOAD_MAX ? hv[3] : 0;
			memcpy(X.pend.p, v, X.pend.len);
			X.pend.p[X.pend.len] = 0;
			r = pvio_xs_read(X.xs, PVIO_XS_NO_TX, "/x", &val, NULL);
			ASSERT(xb_request(PVIO_XS_READ, req));
			if (hv[3] > PVIO_XENSTORE_PAYLOAD_MAX) {
				ASSERT(r == -EPROTO);
			} else {
				ASSERT(r == xb_talk_ret(PVIO_XS_READ));
				if (!r)
					ASSERT(!memcmp(val, v, hv[3]) && !val[hv[3]]);
			}
			free(val);
			if (hv[3] > PVIO_XENSTORE_PAYLOAD_MAX) {
				/* that sticks: start over with a new connection */
				pvio_xenbus_devwatch_stop(dw);
				dw = NULL;
				xb_close();
				xb_open();
			}
			break;
		}
		}
	}
	if (dw) {
		xb_reply(PVIO_XS_UNWATCH, "OK", 3, false);
		pvio_xenbus_devwatch_stop(dw);
	}
	xb_close();
}

/* Each input makes and frees a store and its buffers (some 60 KiB): with
 * ASan's default 256 MiB quarantine every one lands on fresh pages, and
 * page faults cost more than the store's work. 32 MiB still holds a few
 * hundred inputs' worth of freed memory. An input also makes some 70
 * allocations (the store, its connections, the layout's nodes), each
 * recording the stack it came from: 10 frames (of 30) reach from the
 * allocation to the request that made it, at a seventh less of the time of
 * an input. ASAN_OPTIONS overrides these. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "quarantine_size_mb=32:malloc_context_size=10";
}

/*
 * libFuzzer's options for this harness, unless the command line sets them
 * (libFuzzer reads the arguments after this): inputs of at most 512 bytes.
 * Some 150 requests reach everything the store does (quotas, transactions,
 * watches, back pressure: the seeds that do are shorter); the longer inputs
 * libFuzzer made otherwise (up to the 4.6 KB of the longest seed) only did
 * more of the same, at a third of the speed. Longer seeds run truncated.
 */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static char max_len[] = "-max_len=512";
	static char *args[256];
	int n = *argc;

	for (int i = 1; i < n; i++)
		if (!strncmp((*argv)[i], "-max_len=", 9))
			return 0;
	if (n + 2 > (int)(sizeof(args) / sizeof(args[0])))
		return 0;
	memcpy(args, *argv, (size_t)n * sizeof(args[0]));
	args[n++] = max_len;
	args[n] = NULL;
	*argc = n;
	*argv = args;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 2) {
	case 0: fuzz_store(data + 1, size - 1); break;
	default: fuzz_xenbus(data + 1, size - 1); break;
	}
	return 0;
}
