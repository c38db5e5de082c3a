/* SPDX-License-Identifier: MIT */
/*
 * The fault engine: wraps a real engine (io_uring, libaio, psync) and makes
 * chosen I/Os fail, come back short or late, or makes submit refuse, as a
 * failing disk would (QEMU's blkdebug, Linux's dm-flakey/dm-delay in the
 * same role). Selected per device by the backend key fault-inject
 * (blkback/xenbus.c); grammar in engine.h.
 *
 * Where each fault happens:
 *   error    decided at queue; the I/O never reaches the disk (a write that
 *            fails did not happen), completes with -errno at submit
 *   short    a READ reaches the disk, then completes with half its bytes
 *   delay    the I/O runs; its completion is held back (ms= or us=) by a
 *            timer thread, then handed out (the engine fd signalled)
 *   submit   submit returns -EAGAIN/-EBUSY and keeps what was queued; the
 *            queued I/Os stay pending (arm reports them, like io_uring's
 *            unsubmitted SQEs) and go at the next submit or poll
 *
 * The wrapper shares the inner engine's eventfd: the inner engine, the base
 * FIFOs and the timer thread all signal it. Poll and reap collect from the
 * inner engine first and from the timer's ready list after, so an I/O the
 * thread hands over after an inner arm cleared the fd is either seen by
 * that collection or signals the fd again.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "blkback/engine_internal.h"
#include "ring/pvio_export.h"

#define FAULT_LOG_HITS 8u          /* injections logged per rule */

enum fault_kind { F_ERROR, F_SHORT, F_DELAY, F_SUBMIT };

struct fault_rule {
	uint8_t  kind;
	int      err;                /* F_ERROR, F_SUBMIT: positive errno */
	unsigned ops;                /* 1 << enum pvio_blk_io_op */
	uint64_t lo, hi;             /* byte range the I/O must overlap; hi 0: any */
	uint64_t after, count;       /* skip `after` matches, then hit `count` */
	uint64_t delay_us;           /* F_DELAY: ms=N or us=N */
	uint64_t seen, hits;
};

struct pvio_blk_faults {
	unsigned n;
	struct fault_rule r[PVIO_BLK_FAULT_MAX_RULES];
};

/* An I/O the wrapper owes something at completion (short, delay). */
struct fault_mark {
	struct pvio_blk_io *io;
	uint8_t  kind;
	uint64_t delay_us;
};

struct fault_timed {
	struct pvio_blk_io *io;
	uint64_t due;                /* CLOCK_MONOTONIC ns */
};

struct fault_engine {
	struct pvio_blk_engine base;     /* first */
	struct pvio_blk_engine *inner;
	struct pvio_blk_faults f;
	/* queued, not yet given to the inner engine (issuer only) */
	struct pvio_blk_io **pend;
	int     *pend_err;               /* per pend slot: 0, or the errno to fail with */
	unsigned npend;
	struct fault_mark *marks;
	unsigned nmarks;
	/* delayed completions: the issuer adds, the timer thread moves them
	 * to ready when due, the issuer takes them from ready */
	pthread_mutex_t lock;
	pthread_cond_t  cond;
	pthread_t       timer;
	bool            timer_on, stop;
	struct fault_timed *delayed;
	unsigned ndelayed;
	struct pvio_blk_io **ready;
	unsigned nready;
};

static struct fault_engine *to_fe(struct pvio_blk_engine *e)
{
	return (struct fault_engine *)e;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------ grammar */

static const struct {
	const char *name;
	uint8_t kind;
	int err;
	unsigned ops;                /* default op mask */
} kinds[] = {
	{ "eio",           F_ERROR,  EIO,        0xf },
	{ "enospc",        F_ERROR,  ENOSPC,     1u << PVIO_BLK_IO_WRITE },
	{ "ebadf",         F_ERROR,  EBADF,      0xf },
	{ "enxio",         F_ERROR,  ENXIO,      0xf },
	{ "eopnotsupp",    F_ERROR,  EOPNOTSUPP, 1u << PVIO_BLK_IO_DISCARD },
	{ "short",         F_SHORT,  0,          1u << PVIO_BLK_IO_READ },
	{ "delay",         F_DELAY,  0,          0xf },
	{ "submit-eagain", F_SUBMIT, EAGAIN,     0xf },
	{ "submit-ebusy",  F_SUBMIT, EBUSY,      0xf },
};

static const char *const op_names[] = { "read", "write", "flush", "discard" };

/* A decimal number with an optional k/m/g (binary) suffix. */
static int parse_num(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0, mul = 1;

	if (len && (s[len - 1] == 'k' || s[len - 1] == 'K'))
		mul = 1ull << 10, len--;
	else if (len && (s[len - 1] == 'm' || s[len - 1] == 'M'))
		mul = 1ull << 20, len--;
	else if (len && (s[len - 1] == 'g' || s[len - 1] == 'G'))
		mul = 1ull << 30, len--;
	if (len == 0 || len > 19)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > UINT64_MAX / mul)
		return -EINVAL;
	*out = v * mul;
	return 0;
}

static int parse_ops(const char *s, size_t len, unsigned *ops)
{
	*ops = 0;
	while (len) {
		size_t l = 0;
		unsigned i;

		while (l < len && s[l] != '+')
			l++;
		if (l == 3 && !strncmp(s, "any", 3)) {
			*ops |= 0xf;
		} else {
			for (i = 0; i < 4; i++)
				if (strlen(op_names[i]) == l && !strncmp(s, op_names[i], l))
					break;
			if (i == 4)
				return -EINVAL;
			*ops |= 1u << i;
		}
		s += l;
		len -= l;
		if (len) {              /* the '+' */
			s++;
			if (--len == 0)
				return -EINVAL;
		}
	}
	return *ops ? 0 : -EINVAL;
}

#define BAD(...) do { snprintf(err, errlen, __VA_ARGS__); return -EINVAL; } while (0)

/* One rule: KIND[:key=value[:key=value]...] in s[0..len). */
static int parse_rule(const char *s, size_t len, struct fault_rule *r, char *err, size_t errlen)
{
	size_t kl = 0;
	unsigned k;

	while (kl < len && s[kl] != ':')
		kl++;
	for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
		if (strlen(kinds[k].name) == kl && !strncmp(s, kinds[k].name, kl))
			break;
	if (k == sizeof(kinds) / sizeof(kinds[0]))
		BAD("unknown fault '%.*s' (eio, enospc, ebadf, enxio, eopnotsupp, short, "
		    "delay, submit-eagain, submit-ebusy)", (int)kl, s);
	memset(r, 0, sizeof(*r));
	r->kind = kinds[k].kind;
	r->err = kinds[k].err;
	r->ops = kinds[k].ops;
	r->count = UINT64_MAX;
	s += kl;
	len -= kl;
	if (len) {
		s++;                    /* ':' */
		len--;
		if (!len)
			BAD("nothing after ':' in fault '%s'", kinds[k].name);
	}
	while (len) {
		size_t l = 0, eq;
		const char *v;

		while (l < len && s[l] != ':')
			l++;
		for (eq = 0; eq < l && s[eq] != '='; eq++)
			;
		if (eq == l || eq == 0 || eq + 1 == l)
			BAD("'%.*s' in fault '%s' is not key=value", (int)l, s, kinds[k].name);
		v = s + eq + 1;
		if (eq == 2 && !strncmp(s, "op", 2)) {
			if (parse_ops(v, l - eq - 1, &r->ops))
				BAD("op=%.*s: read, write, flush, discard or any, joined with '+'",
				    (int)(l - eq - 1), v);
		} else if (eq == 3 && !strncmp(s, "off", 3)) {
			size_t dash = 0, vl = l - eq - 1;

			while (dash < vl && v[dash] != '-')
				dash++;
			if (dash == vl || parse_num(v, dash, &r->lo) ||
			    parse_num(v + dash + 1, vl - dash - 1, &r->hi) || r->hi <= r->lo)
				BAD("off=%.*s: a byte range START-END with START < END", (int)vl, v);
		} else if (eq == 5 && !strncmp(s, "after", 5)) {
			if (parse_num(v, l - eq - 1, &r->after))
				BAD("after=%.*s: a number", (int)(l - eq - 1), v);
		} else if (eq == 5 && !strncmp(s, "count", 5)) {
			if (parse_num(v, l - eq - 1, &r->count) || r->count == 0)
				BAD("count=%.*s: a number >= 1", (int)(l - eq - 1), v);
		} else if (eq == 2 && !strncmp(s, "ms", 2) && r->kind == F_DELAY) {
			if (parse_num(v, l - eq - 1, &r->delay_us) || r->delay_us > 3600000)
				BAD("ms=%.*s: 0 to 3600000", (int)(l - eq - 1), v);
			r->delay_us *= 1000;
		} else if (eq == 2 && !strncmp(s, "us", 2) && r->kind == F_DELAY) {
			if (parse_num(v, l - eq - 1, &r->delay_us) || r->delay_us > 3600000000ull)
				BAD("us=%.*s: 0 to 3600000000", (int)(l - eq - 1), v);
		} else {
			BAD("unknown key '%.*s' in fault '%s' (op, off, after, count%s)", (int)eq, s,
			    kinds[k].name, r->kind == F_DELAY ? ", ms, us" : "");
		}
		s += l;
		len -= l;
		if (len) {
			s++;
			if (--len == 0)
				BAD("trailing ':' in fault '%s'", kinds[k].name);
		}
	}
	if (r->kind == F_SHORT && (r->ops & ~(1u << PVIO_BLK_IO_READ)))
		BAD("short applies to reads only (op=read)");
	if (r->kind == F_DELAY && r->delay_us == 0)
		BAD("delay needs ms=N or us=N (N >= 1)");
	return 0;
}

static int faults_parse(const char *spec, struct pvio_blk_faults *f, char *err, size_t errlen)
{
	const char *s = spec;

	f->n = 0;
	if (strlen(spec) > PVIO_BLK_FAULT_MAX_SPEC)
		BAD("fault spec longer than %u bytes", PVIO_BLK_FAULT_MAX_SPEC);
	while (*s) {
		size_t l = strcspn(s, ";");
		int r;

		if (l == 0)
			BAD("empty rule in fault spec");
		if (f->n == PVIO_BLK_FAULT_MAX_RULES)
			BAD("more than %u fault rules", PVIO_BLK_FAULT_MAX_RULES);
		r = parse_rule(s, l, &f->r[f->n], err, errlen);
		if (r)
			return r;
		f->n++;
		s += l;
		if (*s && !*++s)
			BAD("trailing ';' in fault spec");
	}
	if (!f->n)
		BAD("empty fault spec");
	return 0;
}

PVIO_EXPORT int pvio_blk_faults_check(const char *spec, char *err, size_t errlen)
{
	struct pvio_blk_faults f;
	char dummy[1];

	if (!spec)
		return -EINVAL;
	if (!err || !errlen) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	err[0] = '\0';
	return faults_parse(spec, &f, err, errlen);
}

#undef BAD

/* ------------------------------------------------------------ matching */

/* The first rule of kind that io matches and that is due to fire; counts
 * the match on every rule of that kind it passes. */
static struct fault_rule *match(struct fault_engine *fe, uint8_t kind, const struct pvio_blk_io *io)
{
	for (unsigned i = 0; i < fe->f.n; i++) {
		struct fault_rule *r = &fe->f.r[i];

		if (r->kind != kind)
			continue;
		if (io) {
			uint64_t end = io->offset + (io->len ? io->len : 1);

			if (!(r->ops & (1u << io->op)))
				continue;
			/* FLUSH has no range: an off= rule does not select it. */
			if (r->hi && (io->op == PVIO_BLK_IO_FLUSH || end <= r->lo || io->offset >= r->hi))
				continue;
		}
		if (r->seen++ < r->after || r->hits >= r->count)
			continue;
		r->hits++;
		if (r->hits > FAULT_LOG_HITS)
			return r;
		if (!io)
			PVIO_BLK_LOG("fault: submit refused with %s (rule %u, hit %" PRIu64 ")",
				     strerror(r->err), i + 1, r->hits);
		else
			PVIO_BLK_LOG("fault: %s on %s at offset %" PRIu64 " (rule %u, hit %" PRIu64 ")",
				     r->kind == F_SHORT ? "short read" :
				     r->kind == F_DELAY ? "delay" : strerror(r->err),
				     op_names[io->op], io->offset, i + 1, r->hits);
		return r;
	}
	return NULL;
}

static struct fault_mark *mark_find(struct fault_engine *fe, const struct pvio_blk_io *io)
{
	for (unsigned i = 0; i < fe->nmarks; i++)
		if (fe->marks[i].io == io)
			return &fe->marks[i];
	return NULL;
}

/* ------------------------------------------------------------ timer */

static void *timer_main(void *arg)
{
	struct fault_engine *fe = arg;

	pthread_mutex_lock(&fe->lock);
	while (!fe->stop) {
		uint64_t now = now_ns(), next = UINT64_MAX;
		bool moved = false;

		for (unsigned i = 0; i < fe->ndelayed;) {
			if (fe->delayed[i].due <= now) {
				fe->ready[fe->nready++] = fe->delayed[i].io;
				fe->delayed[i] = fe->delayed[--fe->ndelayed];
				moved = true;
				continue;
			}
			if (fe->delayed[i].due < next)
				next = fe->delayed[i].due;
			i++;
		}
		if (moved)
			pvio__blk_efd_signal(fe->base.efd);
		if (next == UINT64_MAX) {
			pthread_cond_wait(&fe->cond, &fe->lock);
		} else {
			struct timespec ts = {
				.tv_sec = (time_t)(next / 1000000000ull),
				.tv_nsec = (long)(next % 1000000000ull),
			};
			pthread_cond_timedwait(&fe->cond, &fe->lock, &ts);
		}
	}
	pthread_mutex_unlock(&fe->lock);
	return NULL;
}

static int timer_start(struct fault_engine *fe)
{
	int r;

	if (fe->timer_on)
		return 0;
	r = pthread_create(&fe->timer, NULL, timer_main, fe);
	if (r)
		return -r;
	fe->timer_on = true;
	return 0;
}

/* ------------------------------------------------------------ engine ops */

static int fault_queue(struct pvio_blk_engine *e, struct pvio_blk_io *io)
{
	struct fault_engine *fe = to_fe(e);
	struct fault_rule *r;
	int err = 0;

	if ((r = match(fe, F_ERROR, io)))
		err = r->err;
	else if ((r = match(fe, F_SHORT, io)) || (r = match(fe, F_DELAY, io)))
		fe->marks[fe->nmarks++] = (struct fault_mark){ io, r->kind, r->delay_us };
	fe->pend_err[fe->npend] = err;
	fe->pend[fe->npend++] = io;
	return 0;
}

/* Hand what is pending to the inner engine, unless a submit fault says
 * no. Returns how many were handed over (or completed with an error), or
 * the injected -errno. */
static int flush_pending(struct fault_engine *fe)
{
	struct fault_rule *r;
	unsigned n = fe->npend;
	int ret;

	if (!n)
		return 0;
	if ((r = match(fe, F_SUBMIT, NULL)))
		return -r->err;
	fe->npend = 0;
	for (unsigned i = 0; i < n; i++) {
		struct pvio_blk_io *io = fe->pend[i];

		if (fe->pend_err[i]) {
			io->result = -fe->pend_err[i];
			pvio__blk_complete_now(&fe->base, io);
			continue;
		}
		ret = pvio_blk_engine_queue(fe->inner, io);
		if (ret < 0) {
			struct fault_mark *m = mark_find(fe, io);

			if (m)
				*m = fe->marks[--fe->nmarks];
			io->result = ret;
			pvio__blk_complete_now(&fe->base, io);
		}
	}
	ret = pvio_blk_engine_submit(fe->inner);
	return ret < 0 ? ret : (int)n;
}

static int fault_submit(struct pvio_blk_engine *e)
{
	return flush_pending(to_fe(e));
}

/* Completions from the inner engine, after the marks are applied: short
 * ones cut, delayed ones handed to the timer. Then the timer's ready ones. */
static int collect(struct fault_engine *fe, struct pvio_blk_io **done, unsigned max, bool poll)
{
	unsigned n = 0, kept = 0;
	bool wake = false;
	int r;

	flush_pending(fe);
	r = poll ? pvio_blk_engine_poll(fe->inner, done, max) :
		   pvio_blk_engine_reap(fe->inner, done, max, false);
	if (r > 0)
		n = (unsigned)r;
	for (unsigned i = 0; i < n; i++) {
		struct pvio_blk_io *io = done[i];
		struct fault_mark *m = fe->nmarks ? mark_find(fe, io) : NULL;

		if (m) {
			struct fault_mark mk = *m;

			*m = fe->marks[--fe->nmarks];
			if (mk.kind == F_SHORT && io->result > 0) {
				io->result = (io->result / 2) & ~(int64_t)511;
			} else if (mk.kind == F_DELAY) {
				if (timer_start(fe) == 0) {
					pthread_mutex_lock(&fe->lock);
					fe->delayed[fe->ndelayed++] = (struct fault_timed){
						io, now_ns() + mk.delay_us * 1000ull };
					pthread_mutex_unlock(&fe->lock);
					wake = true;
					continue;
				}
			}
		}
		done[kept++] = io;
	}
	pthread_mutex_lock(&fe->lock);
	if (wake)
		pthread_cond_signal(&fe->cond);
	while (kept < max && fe->nready)
		done[kept++] = fe->ready[--fe->nready];
	pthread_mutex_unlock(&fe->lock);
	return (int)kept;
}

static bool fault_arm(struct pvio_blk_engine *e);

static int fault_reap(struct pvio_blk_engine *e, struct pvio_blk_io **done, unsigned max,
		      bool wait)
{
	struct fault_engine *fe = to_fe(e);

	for (;;) {
		int n = collect(fe, done, max, false);
		bool owed;

		if (n != 0 || !wait)
			return n;
		pthread_mutex_lock(&fe->lock);
		owed = fe->ndelayed || fe->nready;
		pthread_mutex_unlock(&fe->lock);
		if (!owed && !pvio_blk_engine_inflight(fe->inner) && !fe->npend)
			return 0;
		if (!fault_arm(e)) {
			struct pollfd p = { .fd = e->efd, .events = POLLIN };

			poll(&p, 1, 100);
		}
	}
}

static int fault_poll(struct pvio_blk_engine *e, struct pvio_blk_io **done, unsigned max)
{
	return collect(to_fe(e), done, max, true);
}

static bool fault_arm(struct pvio_blk_engine *e)
{
	struct fault_engine *fe = to_fe(e);
	bool busy;

	/* Unsubmitted I/O: the caller must come back (io_uring's SQ). */
	if (fe->npend)
		return true;
	busy = pvio_blk_engine_arm(fe->inner);
	pthread_mutex_lock(&fe->lock);
	busy = busy || fe->nready;
	pthread_mutex_unlock(&fe->lock);
	return busy;
}

static int fault_hold_ms(struct pvio_blk_engine *e)
{
	return pvio_blk_engine_hold_ms(to_fe(e)->inner);
}

static void fault_close(struct pvio_blk_engine *e)
{
	struct fault_engine *fe = to_fe(e);

	if (fe->timer_on) {
		pthread_mutex_lock(&fe->lock);
		fe->stop = true;
		pthread_cond_signal(&fe->cond);
		pthread_mutex_unlock(&fe->lock);
		pthread_join(fe->timer, NULL);
	}
	pvio_blk_engine_close(fe->inner);
	e->efd = -1;                     /* the inner engine's, closed with it */
	pthread_cond_destroy(&fe->cond);
	pthread_mutex_destroy(&fe->lock);
	free(fe->pend);
	free(fe->pend_err);
	free(fe->marks);
	free(fe->delayed);
	free(fe->ready);
	pvio__blk_engine_base_fini(e);
	free(fe);
}

static const struct pvio_blk_engine_ops fault_ops = {
	.name  = "fault",
	.queue = fault_queue,
	.submit = fault_submit,
	.reap  = fault_reap,
	.poll  = fault_poll,
	.arm   = fault_arm,
	.hold_ms = fault_hold_ms,
	.close = fault_close,
};

int pvio__blk_fault_open(const char *inner_name, int fd, const struct pvio_blk_engine_cfg *cfg,
			 struct pvio_blk_engine **out)
{
	struct pvio_blk_engine_cfg icfg = *cfg;
	struct fault_engine *fe;
	pthread_condattr_t ca;
	char err[160];
	int r;

	fe = calloc(1, sizeof(*fe));
	if (!fe)
		return -ENOMEM;
	r = faults_parse(cfg->faults, &fe->f, err, sizeof(err));
	if (r) {
		PVIO_BLK_LOG("fault-inject: %s", err);
		free(fe);
		return r;
	}
	icfg.faults = NULL;
	r = pvio_blk_engine_open(inner_name, fd, &icfg, &fe->inner);
	if (r) {
		free(fe);
		return r;
	}
	r = pvio__blk_engine_base_init(&fe->base, &fault_ops, fd, cfg);
	if (r) {
		pvio_blk_engine_close(fe->inner);
		free(fe);
		return r;
	}
	/* One fd for both: see the top of this file. */
	close(fe->base.efd);
	fe->base.efd = pvio_blk_engine_fd(fe->inner);
	fe->pend = calloc(cfg->depth, sizeof(*fe->pend));
	fe->pend_err = calloc(cfg->depth, sizeof(*fe->pend_err));
	fe->marks = calloc(cfg->depth, sizeof(*fe->marks));
	fe->delayed = calloc(cfg->depth, sizeof(*fe->delayed));
	fe->ready = calloc(cfg->depth, sizeof(*fe->ready));
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&fe->cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&fe->lock, NULL);
	if (!fe->pend || !fe->pend_err || !fe->marks || !fe->delayed || !fe->ready) {
		fault_close(&fe->base);
		return -ENOMEM;
	}
	snprintf(fe->base.info, sizeof(fe->base.info), "fault(%s): %.120s",
		 pvio__blk_engine_info(fe->inner), cfg->faults);
	*out = &fe->base;
	return 0;
}
