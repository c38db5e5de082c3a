/* SPDX-License-Identifier: MIT */
/* I/O limits: xl rates and netback's credit, QEMU's throttling (throttle.h). */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/throttle.h"
#include "ring/errbuf.h"
#include "ring/pvio_export.h"

#define NS_PER_S 1000000000.0

static int seterr(char *err, size_t len, int r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int seterr(char *err, size_t len, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pvio_verrbuf(err, len, fmt, ap);
	va_end(ap);
	return r;
}

/* Leading decimal digits of s into *v: the count of digits, or -ERANGE. */
static int digits(const char *s, uint64_t *v)
{
	uint64_t x = 0;
	int n = 0;

	for (; isdigit((unsigned char)s[n]); n++) {
		unsigned d = (unsigned)(s[n] - '0');

		if (x > (UINT64_MAX - d) / 10)
			return -ERANGE;
		x = x * 10 + d;
	}
	*v = x;
	return n;
}

/* ------------------------------------------------------------ vif rate */

static const char rate_help[] =
	"RATE[@INTERVAL], RATE as 10Mb/s or 500KB/s (b: bits, B: bytes; K, M, G: "
	"thousands), INTERVAL as 50ms, 20000us or 1s";

PVIO_EXPORT int pvio_rate_parse(const char *s, uint64_t *bytes, uint32_t *usec, char *err,
				size_t el)
{
	uint64_t v, mul = 1, bps, iv = PVIO_RATE_DEFAULT_INTERVAL_US;
	const char *p, *at;
	bool bits;
	int n;

	if (!s || !*s || *s == '@')
		return seterr(err, el, -EINVAL, "rate: no rate given (%s)", rate_help);
	at = strchr(s, '@');
	n = digits(s, &v);
	if (n < 0 || (n > 0 && v > UINT32_MAX))
		return seterr(err, el, -ERANGE, "rate: '%s': rate overflow (at most 4294967295 "
			      "before the unit)", s);
	if (n == 0)
		return seterr(err, el, -EINVAL, "rate: '%s' is not %s", s, rate_help);
	p = s + n;
	if (*p == 'G')
		mul = 1000000000ull, p++;
	else if (*p == 'M')
		mul = 1000000ull, p++;
	else if (*p == 'K')
		mul = 1000ull, p++;
	if ((*p != 'b' && *p != 'B') || strncmp(p + 1, "/s", 2) != 0 ||
	    (p[3] != 0 && p + 3 != at))
		return seterr(err, el, -EINVAL, "rate: '%s': unknown unit (%s)", s, rate_help);
	bits = *p == 'b';
	if (v == 0)
		return seterr(err, el, -EINVAL, "rate: '%s': the rate must be above 0", s);
	bps = v * mul;              /* <= 2^32 * 10^9: no overflow */
	if (bits)
		bps /= 8;
	if (at) {
		const char *q = at + 1;

		n = digits(q, &iv);
		if (n < 0 || (n > 0 && iv > UINT32_MAX))
			return seterr(err, el, -ERANGE, "rate: '%s': replenishment interval "
				      "overflow", s);
		if (n == 0)
			return seterr(err, el, -EINVAL, "rate: '%s': invalid replenishment "
				      "interval (%s)", s, rate_help);
		q += n;
		if (!strcmp(q, "") || !strcmp(q, "s"))
			mul = 1000000;
		else if (!strcmp(q, "m") || !strcmp(q, "ms"))
			mul = 1000;
		else if (!strcmp(q, "u") || !strcmp(q, "us"))
			mul = 1;
		else
			return seterr(err, el, -EINVAL, "rate: '%s': unknown interval unit "
				      "'%s' (s, ms or us)", s, q);
		if (iv == 0)
			return seterr(err, el, -EINVAL, "rate: '%s': the interval must be "
				      "above 0", s);
		iv *= mul;
		if (iv > UINT32_MAX)
			return seterr(err, el, -ERANGE, "rate: '%s': replenishment interval "
				      "overflow (at most 4294967295 us)", s);
	}
	if (bps > UINT64_MAX / iv)
		return seterr(err, el, -ERANGE, "rate: '%s': rate overflow", s);
	if (bps * iv / 1000000 == 0)
		return seterr(err, el, -EINVAL, "rate: '%s' is less than one byte per "
			      "interval", s);
	*bytes = bps * iv / 1000000;
	*usec = (uint32_t)iv;
	return 0;
}

PVIO_EXPORT int pvio_rate_key_parse(const char *s, uint64_t *bytes, uint64_t *usec, char *err,
				    size_t el)
{
	uint64_t b, u;
	int n, m;

	if (!s)
		return seterr(err, el, -EINVAL, "no value");
	n = digits(s, &b);
	if (n <= 0 || s[n] != ',')
		goto bad;
	m = digits(s + n + 1, &u);
	if (m <= 0 || s[n + 1 + m] != 0)
		goto bad;
	if (u > UINT32_MAX)
		return seterr(err, el, -EINVAL, "'%s': interval above 4294967295 us", s);
	if (u && b == 0)
		return seterr(err, el, -EINVAL, "'%s': 0 bytes per interval would stop all "
			      "traffic", s);
	*bytes = b;
	*usec = u;
	return 0;
bad:
	return seterr(err, el, -EINVAL, "'%s' is not <bytes>,<usec> (two decimal numbers)", s);
}

PVIO_EXPORT void pvio_rate_describe(uint64_t bytes, uint64_t usec, char *buf, size_t len)
{
	double bits_s;

	if (!usec) {
		snprintf(buf, len, "unlimited");
		return;
	}
	bits_s = (double)bytes * 8.0 * 1e6 / (double)usec;
	if (bits_s >= 1e9)
		snprintf(buf, len, "%.4g Gbit/s", bits_s / 1e9);
	else if (bits_s >= 1e6)
		snprintf(buf, len, "%.4g Mbit/s", bits_s / 1e6);
	else
		snprintf(buf, len, "%.4g kbit/s", bits_s / 1e3);
	snprintf(buf + strlen(buf), len - strlen(buf), " (%llu bytes every %llu us)",
		 (unsigned long long)bytes, (unsigned long long)usec);
}

/* ------------------------------------------------------------ vif credit */

/* One interval's credit. What remains is capped at bytes + max_frame:
 * never below the largest frame (so a maximum-size packet always passes in
 * the end), and never wasting credit a saturating sender has not had the
 * chance to use (a leftover below one frame plus a whole interval). Linux's
 * tx_add_credit caps at max(bytes, 128 KiB), which with frames near 64 KiB
 * throws part of each interval away. */
static void credit_add(struct pvio_credit *c)
{
	uint64_t cap = c->bytes + c->max_frame;
	uint64_t r = c->remaining + c->bytes;

	if (cap < c->bytes)
		cap = UINT64_MAX;
	if (r < c->remaining)
		r = UINT64_MAX;
	c->remaining = r < cap ? r : cap;
	c->replenishes++;
}

PVIO_EXPORT void pvio_credit_init(struct pvio_credit *c, uint64_t max_frame)
{
	memset(c, 0, sizeof(*c));
	c->max_frame = max_frame;
	c->remaining = UINT64_MAX;
}

PVIO_EXPORT void pvio_credit_set(struct pvio_credit *c, uint64_t bytes, uint64_t usec,
				 uint64_t now_ns)
{
	bool was_limited = c->usec != 0;

	c->bytes = bytes;
	c->usec = usec;
	if (!usec) {
		c->waiting = false;
		c->remaining = UINT64_MAX;
		return;
	}
	if (!was_limited) {
		/* As at Linux's connect: one interval's credit to start. */
		c->waiting = false;
		c->window_start = now_ns;
		c->remaining = bytes;
		return;
	}
	if (c->waiting) {
		/* Linux fires the pending credit timer at once. */
		c->waiting = false;
		c->window_start = now_ns;
		credit_add(c);
	} else if (c->remaining > bytes) {
		c->remaining = bytes;
	}
}

PVIO_EXPORT bool pvio_credit_take(struct pvio_credit *c, uint64_t size, uint64_t now_ns,
				  uint64_t *wait_ns)
{
	uint64_t next;

	if (!c->usec)
		return true;
	/* Linux checks the clock only when a packet does not fit. */
	if (size <= c->remaining) {
		c->remaining -= size;
		return true;
	}
	if (c->waiting) {
		if (now_ns < c->window_start)
			goto wait;
		/* The credit timer's expiry: its replenish. */
		c->waiting = false;
		credit_add(c);
	}
	next = c->window_start + c->usec * 1000;
	if (now_ns >= next) {
		/* A whole interval since the last replenish. */
		c->window_start = now_ns;
		credit_add(c);
		next = now_ns + c->usec * 1000;
	}
	if (size <= c->remaining) {
		c->remaining -= size;
		return true;
	}
	/* Wait for the next interval (Linux arms its credit timer). */
	c->window_start = next;
	c->waiting = true;
wait:
	c->refusals++;
	*wait_ns = c->window_start - now_ns;
	return false;
}

PVIO_EXPORT void pvio_credit_refund(struct pvio_credit *c, uint64_t size)
{
	uint64_t cap = c->bytes + c->max_frame;

	if (!c->usec)
		return;
	if (cap < c->bytes)
		cap = UINT64_MAX;
	c->remaining = c->remaining + size < c->remaining ? UINT64_MAX : c->remaining + size;
	if (c->remaining > cap)
		c->remaining = cap;
}

/* ------------------------------------------------------------ throttling options */

static const char *const bucket_names[PVIO_THROTTLE_BUCKETS] = {
	"bps-total", "bps-read", "bps-write", "iops-total", "iops-read", "iops-write",
};

#define OPT_BUCKET_OPTS (PVIO_THROTTLE_BUCKETS * 3)
#define OPT_IOPS_SIZE   OPT_BUCKET_OPTS
#define OPT_GROUP       (OPT_BUCKET_OPTS + 1)
#define OPT_COUNT       (OPT_BUCKET_OPTS + 2)

static char opt_names[OPT_COUNT][32];
static pthread_once_t opt_once = PTHREAD_ONCE_INIT;

static void opt_names_init(void)
{
	static const char *const suffix[3] = { "", "-max", "-max-length" };

	for (unsigned i = 0; i < OPT_BUCKET_OPTS; i++)
		snprintf(opt_names[i], sizeof(opt_names[i]), "%s%s", bucket_names[i / 3],
			 suffix[i % 3]);
	snprintf(opt_names[OPT_IOPS_SIZE], sizeof(opt_names[0]), "iops-size");
	snprintf(opt_names[OPT_GROUP], sizeof(opt_names[0]), "group");
}

PVIO_EXPORT unsigned pvio_throttle_opt_count(void)
{
	return OPT_COUNT;
}

PVIO_EXPORT const char *pvio_throttle_opt_name(unsigned i)
{
	pthread_once(&opt_once, opt_names_init);
	return i < OPT_COUNT ? opt_names[i] : NULL;
}

static uint64_t *opt_field(struct pvio_throttle_cfg *cfg, unsigned i)
{
	if (i == OPT_IOPS_SIZE)
		return &cfg->op_size;
	switch (i % 3) {
	case 0: return &cfg->b[i / 3].avg;
	case 1: return &cfg->b[i / 3].max;
	default: return &cfg->b[i / 3].burst_length;
	}
}

PVIO_EXPORT void pvio_throttle_cfg_init(struct pvio_throttle_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	for (unsigned i = 0; i < PVIO_THROTTLE_BUCKETS; i++)
		cfg->b[i].burst_length = 1;
}

static bool valid_group(const char *v)
{
	size_t n = strlen(v);

	if (n == 0 || n >= PVIO_THROTTLE_GROUP_MAX)
		return false;
	for (; *v; v++)
		if (!isgraph((unsigned char)*v) || *v == '/' || *v == ',' || *v == '=')
			return false;
	return true;
}

PVIO_EXPORT int pvio_throttle_cfg_set(struct pvio_throttle_cfg *cfg, const char *name,
				      const char *value, char *err, size_t el)
{
	size_t pl = strlen(PVIO_THROTTLE_PREFIX);
	const char *n = name;
	uint64_t v;
	unsigned i;
	int d;

	if (!strncmp(n, PVIO_THROTTLE_PREFIX, pl))
		n += pl;
	for (i = 0; i < OPT_COUNT; i++)
		if (!strcmp(n, pvio_throttle_opt_name(i)))
			break;
	if (i == OPT_COUNT)
		return seterr(err, el, -EINVAL, "unknown throttling option '%s'", name);
	if (i == OPT_GROUP) {
		if (!valid_group(value))
			return seterr(err, el, -EINVAL, "%s%s: '%s' is not a group name (1 to %d "
				      "printable characters, no '/', ',' or '=')",
				      PVIO_THROTTLE_PREFIX, n, value, PVIO_THROTTLE_GROUP_MAX - 1);
		snprintf(cfg->group, sizeof(cfg->group), "%s", value);
		return 0;
	}
	if (value[0] == '-')
		return seterr(err, el, -EINVAL, "%s%s: '%s' is negative", PVIO_THROTTLE_PREFIX, n,
			      value);
	d = digits(value, &v);
	if (d < 0)
		return seterr(err, el, -ERANGE, "%s%s: '%s' is too large", PVIO_THROTTLE_PREFIX,
			      n, value);
	if (d == 0 || value[d] != 0)
		return seterr(err, el, -EINVAL, "%s%s: '%s' is not a whole number (decimal, "
			      "no unit)", PVIO_THROTTLE_PREFIX, n, value);
	*opt_field(cfg, i) = v;
	return 0;
}

PVIO_EXPORT int pvio_throttle_cfg_parse(struct pvio_throttle_cfg *cfg, const char *opts,
					char *err, size_t el)
{
	char *buf, *tok, *save = NULL;
	int r = 0;

	if (!opts)
		return 0;
	buf = strdup(opts);
	if (!buf)
		return seterr(err, el, -ENOMEM, "out of memory");
	for (tok = strtok_r(buf, ",", &save); tok && r == 0; tok = strtok_r(NULL, ",", &save)) {
		char *eq, *k, *v, *e;

		while (isspace((unsigned char)*tok))
			tok++;
		e = tok + strlen(tok);
		while (e > tok && isspace((unsigned char)e[-1]))
			*--e = 0;
		if (!*tok)
			continue;
		eq = strchr(tok, '=');
		if (!eq) {
			r = seterr(err, el, -EINVAL, "'%s' is not name=value", tok);
			break;
		}
		*eq = 0;
		k = tok;
		v = eq + 1;
		for (e = eq; e > k && isspace((unsigned char)e[-1]);)
			*--e = 0;
		while (isspace((unsigned char)*v))
			v++;
		r = pvio_throttle_cfg_set(cfg, k, v, err, el);
	}
	free(buf);
	return r;
}

PVIO_EXPORT int pvio_throttle_cfg_validate(const struct pvio_throttle_cfg *cfg, char *err,
					   size_t el)
{
	const uint64_t vmax = PVIO_THROTTLE_VALUE_MAX;
#define B(x) cfg->b[PVIO_THROTTLE_##x]
	bool bps = B(BPS_TOTAL).avg && (B(BPS_READ).avg || B(BPS_WRITE).avg);
	bool ops = B(OPS_TOTAL).avg && (B(OPS_READ).avg || B(OPS_WRITE).avg);
	bool bps_max = B(BPS_TOTAL).max && (B(BPS_READ).max || B(BPS_WRITE).max);
	bool ops_max = B(OPS_TOTAL).max && (B(OPS_READ).max || B(OPS_WRITE).max);

	if (bps || ops || bps_max || ops_max)
		return seterr(err, el, -EINVAL, "bps/iops/max total values and read/write "
			      "values cannot be used at the same time");
	if (cfg->op_size && !B(OPS_TOTAL).avg && !B(OPS_READ).avg && !B(OPS_WRITE).avg)
		return seterr(err, el, -EINVAL, "iops size requires an iops value to be set");
#undef B
	for (unsigned i = 0; i < PVIO_THROTTLE_BUCKETS; i++) {
		uint64_t avg = cfg->b[i].avg, max = cfg->b[i].max, len = cfg->b[i].burst_length;

		if (avg > vmax || max > vmax)
			return seterr(err, el, -EINVAL, "bps/iops/max values must be within "
				      "[0, %llu]", (unsigned long long)vmax);
		if (!len)
			return seterr(err, el, -EINVAL, "the burst length cannot be 0");
		if (len > 1 && !max)
			return seterr(err, el, -EINVAL, "burst length set without burst rate");
		if (max && len > vmax / max)
			return seterr(err, el, -EINVAL, "burst length too high for this burst "
				      "rate");
		if (max && !avg)
			return seterr(err, el, -EINVAL, "bps_max/iops_max require corresponding "
				      "bps/iops values");
		if (max && max < avg)
			return seterr(err, el, -EINVAL, "bps_max/iops_max cannot be lower than "
				      "bps/iops");
	}
	return 0;
}

PVIO_EXPORT bool pvio_throttle_cfg_enabled(const struct pvio_throttle_cfg *cfg)
{
	for (unsigned i = 0; i < PVIO_THROTTLE_BUCKETS; i++)
		if (cfg->b[i].avg)
			return true;
	return false;
}

PVIO_EXPORT bool pvio_throttle_cfg_equal(const struct pvio_throttle_cfg *a,
					 const struct pvio_throttle_cfg *b)
{
	for (unsigned i = 0; i < PVIO_THROTTLE_BUCKETS; i++)
		if (a->b[i].avg != b->b[i].avg || a->b[i].max != b->b[i].max ||
		    a->b[i].burst_length != b->b[i].burst_length)
			return false;
	return a->op_size == b->op_size && !strcmp(a->group, b->group);
}

PVIO_EXPORT int pvio_throttle_opt_get(const struct pvio_throttle_cfg *cfg, unsigned i, char *buf,
				      size_t len)
{
	uint64_t v;

	if (i >= OPT_COUNT)
		return 0;
	if (i == OPT_GROUP) {
		if (!cfg->group[0])
			return 0;
		snprintf(buf, len, "%s", cfg->group);
		return 1;
	}
	v = *opt_field((struct pvio_throttle_cfg *)cfg, i);
	if (v == (i < OPT_BUCKET_OPTS && i % 3 == 2 ? 1u : 0u))
		return 0;
	snprintf(buf, len, "%llu", (unsigned long long)v);
	return 1;
}

PVIO_EXPORT int pvio_throttle_cfg_format(const struct pvio_throttle_cfg *cfg, char *buf,
					 size_t len)
{
	size_t used = 0;

	if (!len)
		return -ENOSPC;
	buf[0] = 0;
	for (unsigned i = 0; i < OPT_COUNT; i++) {
		char v[PVIO_THROTTLE_GROUP_MAX + 24];
		int n;

		if (!pvio_throttle_opt_get(cfg, i, v, sizeof(v)))
			continue;
		n = snprintf(buf + used, len - used, "%s%s%s=%s", used ? "," : "",
			     PVIO_THROTTLE_PREFIX, pvio_throttle_opt_name(i), v);
		if (n < 0 || (size_t)n >= len - used)
			return -ENOSPC;
		used += (size_t)n;
	}
	return 0;
}

/* ------------------------------------------------------------ leaky buckets */

PVIO_EXPORT void pvio_throttle_state_config(struct pvio_throttle_state *s,
					    const struct pvio_throttle_cfg *cfg, uint64_t now_ns)
{
	memset(s, 0, sizeof(*s));
	s->cfg = *cfg;
	s->previous_leak = now_ns;
}

static void leak(struct pvio_throttle_state *s, uint64_t now_ns)
{
	double delta;

	/* Callers on several threads read the clock before taking the
	 * group's lock, so `now` may run a little behind the last leak:
	 * then there is nothing to leak (and the last leak stays, unlike
	 * QEMU's, whose single thread never goes back). */
	if (now_ns <= s->previous_leak)
		return;
	delta = (double)(now_ns - s->previous_leak);
	s->previous_leak = now_ns;
	for (unsigned i = 0; i < PVIO_THROTTLE_BUCKETS; i++) {
		double l = (double)s->cfg.b[i].avg * delta / NS_PER_S;

		s->level[i] = s->level[i] > l ? s->level[i] - l : 0;
		/* Bursts longer than a second: the burst level keeps the
		 * rate at max on average over each second. */
		if (s->cfg.b[i].burst_length > 1) {
			l = (double)s->cfg.b[i].max * delta / NS_PER_S;
			s->burst_level[i] = s->burst_level[i] > l ? s->burst_level[i] - l : 0;
		}
	}
}

/* QEMU's throttle_compute_wait for bucket i. */
static uint64_t bucket_wait(const struct pvio_throttle_state *s, unsigned i)
{
	double avg = (double)s->cfg.b[i].avg, max = (double)s->cfg.b[i].max;
	double size, burst_size, extra;

	if (!s->cfg.b[i].avg)
		return 0;
	if (!s->cfg.b[i].max) {
		/* Without a burst rate, still let a tenth of a second's worth
		 * through at once, or every other request would wait. */
		size = avg / 10;
		burst_size = 0;
	} else {
		/* Everything at the burst rate first, then the average. */
		size = max * (double)s->cfg.b[i].burst_length;
		burst_size = max / 10;
	}
	extra = s->level[i] - size;
	if (extra > 0)
		return (uint64_t)(extra * NS_PER_S / avg);
	if (s->cfg.b[i].burst_length > 1) {
		extra = s->burst_level[i] - burst_size;
		if (extra > 0)
			return (uint64_t)(extra * NS_PER_S / max);
	}
	return 0;
}

PVIO_EXPORT uint64_t pvio_throttle_state_wait(struct pvio_throttle_state *s, bool write,
					      uint64_t now_ns)
{
	static const unsigned check[2][4] = {
		{ PVIO_THROTTLE_BPS_TOTAL, PVIO_THROTTLE_OPS_TOTAL, PVIO_THROTTLE_BPS_READ,
		  PVIO_THROTTLE_OPS_READ },
		{ PVIO_THROTTLE_BPS_TOTAL, PVIO_THROTTLE_OPS_TOTAL, PVIO_THROTTLE_BPS_WRITE,
		  PVIO_THROTTLE_OPS_WRITE },
	};
	uint64_t w = 0;

	leak(s, now_ns);
	for (unsigned k = 0; k < 4; k++) {
		uint64_t x = bucket_wait(s, check[write][k]);

		if (x > w)
			w = x;
	}
	return w;
}

PVIO_EXPORT void pvio_throttle_state_account(struct pvio_throttle_state *s, bool write,
					     uint64_t bytes)
{
	unsigned bps[2] = { PVIO_THROTTLE_BPS_TOTAL,
			    write ? PVIO_THROTTLE_BPS_WRITE : PVIO_THROTTLE_BPS_READ };
	unsigned ops[2] = { PVIO_THROTTLE_OPS_TOTAL,
			    write ? PVIO_THROTTLE_OPS_WRITE : PVIO_THROTTLE_OPS_READ };
	double units = 1.0;

	/* iops-size: a request larger than it counts as several. */
	if (s->cfg.op_size && bytes > s->cfg.op_size)
		units = (double)bytes / (double)s->cfg.op_size;
	for (unsigned k = 0; k < 2; k++) {
		s->level[bps[k]] += (double)bytes;
		if (s->cfg.b[bps[k]].burst_length > 1)
			s->burst_level[bps[k]] += (double)bytes;
		s->level[ops[k]] += units;
		if (s->cfg.b[ops[k]].burst_length > 1)
			s->burst_level[ops[k]] += units;
	}
}

/* ------------------------------------------------------------ groups */

#define KEY_MAX (PVIO_THROTTLE_GROUP_MAX + 256)

struct pvio_throttle_group {
	pthread_spinlock_t lock;            /* st, and switching members away */
	struct pvio_throttle_state st;
	/* the registry's (under its mutex) */
	char     key[KEY_MAX];              /* "g:<group>" or "d:<disk>" */
	unsigned refs;                      /* members; 0: free for reuse */
	uint64_t released;                  /* when refs last dropped to 0 (a count) */
	struct pvio_throttle_group *next;
};

struct pvio_throttle_registry {
	pthread_mutex_t lock;
	struct pvio_throttle_group *all;    /* used and free; never freed before the registry */
	uint64_t releases;
};

PVIO_EXPORT int pvio_throttle_registry_new(struct pvio_throttle_registry **out)
{
	struct pvio_throttle_registry *reg = calloc(1, sizeof(*reg));

	if (!reg)
		return -ENOMEM;
	pthread_mutex_init(&reg->lock, NULL);
	*out = reg;
	return 0;
}

PVIO_EXPORT void pvio_throttle_registry_free(struct pvio_throttle_registry *reg)
{
	struct pvio_throttle_group *g, *n;

	if (!reg)
		return;
	for (g = reg->all; g; g = n) {
		n = g->next;
		pthread_spin_destroy(&g->lock);
		free(g);
	}
	pthread_mutex_destroy(&reg->lock);
	free(reg);
}

/* The group with that key, in use or kept since its last member left. */
static struct pvio_throttle_group *group_find(struct pvio_throttle_registry *reg,
					      const char *key)
{
	for (struct pvio_throttle_group *g = reg->all; g; g = g->next)
		if (!strcmp(g->key, key))
			return g;
	return NULL;
}

/* A group for a new key: the free one left longest ago (so a disk that
 * reconnects finds its own, buckets and all), or a new one. */
static struct pvio_throttle_group *group_new(struct pvio_throttle_registry *reg,
					     const char *key)
{
	struct pvio_throttle_group *g, *best = NULL;

	for (g = reg->all; g; g = g->next)
		if (!g->refs && (!best || g->released < best->released))
			best = g;
	g = best;
	if (!g) {
		g = calloc(1, sizeof(*g));
		if (!g)
			return NULL;
		if (pthread_spin_init(&g->lock, PTHREAD_PROCESS_PRIVATE) != 0) {
			free(g);
			return NULL;
		}
		g->next = reg->all;
		reg->all = g;
	}
	snprintf(g->key, sizeof(g->key), "%s", key);
	return g;
}

/* Point t at g (or NULL), away from its current group, which loses a
 * member. Registry locked. */
static void member_move(struct pvio_throttle_registry *reg, struct pvio_throttle *t,
			struct pvio_throttle_group *g)
{
	struct pvio_throttle_group *cur = t->g;

	if (cur == g)
		return;
	if (g)
		g->refs++;
	if (cur) {
		/* Under the old group's lock: a data path that locked it
		 * re-checks t->g afterwards (pvio_throttle_admit). */
		pthread_spin_lock(&cur->lock);
		pvio_store_release(&t->g, g);
		pthread_spin_unlock(&cur->lock);
		if (--cur->refs == 0)
			cur->released = ++reg->releases;
	} else {
		pvio_store_release(&t->g, g);
	}
}

static bool same_limits(const struct pvio_throttle_cfg *a, const struct pvio_throttle_cfg *b)
{
	struct pvio_throttle_cfg x = *a, y = *b;

	x.group[0] = y.group[0] = 0;
	return pvio_throttle_cfg_equal(&x, &y);
}

PVIO_EXPORT int pvio_throttle_apply(struct pvio_throttle_registry *reg, struct pvio_throttle *t,
				    const char *self, const struct pvio_throttle_cfg *cfg,
				    uint64_t now_ns)
{
	struct pvio_throttle_group *g;
	char key[KEY_MAX];
	bool fresh = false;

	if (cfg->group[0])
		snprintf(key, sizeof(key), "g:%s", cfg->group);
	else
		snprintf(key, sizeof(key), "d:%s", self ? self : "");
	pthread_mutex_lock(&reg->lock);
	if (!pvio_throttle_cfg_enabled(cfg)) {
		member_move(reg, t, NULL);
		pthread_mutex_unlock(&reg->lock);
		return 0;
	}
	g = group_find(reg, key);
	if (!g) {
		g = group_new(reg, key);
		if (!g) {
			pthread_mutex_unlock(&reg->lock);
			return -ENOMEM;
		}
		fresh = true;
	}
	/* New limits start from empty buckets (QEMU's throttle_config); the
	 * same limits again (a disk reconnecting, or joining a group that
	 * has them) keep what the buckets hold, so reconnecting buys no
	 * burst. */
	if (fresh || !same_limits(&g->st.cfg, cfg)) {
		pthread_spin_lock(&g->lock);
		pvio_throttle_state_config(&g->st, cfg, now_ns);
		pthread_spin_unlock(&g->lock);
	}
	member_move(reg, t, g);
	pthread_mutex_unlock(&reg->lock);
	return 0;
}

PVIO_EXPORT void pvio_throttle_release(struct pvio_throttle_registry *reg, struct pvio_throttle *t)
{
	if (!reg || !t->g)
		return;
	pthread_mutex_lock(&reg->lock);
	member_move(reg, t, NULL);
	pthread_mutex_unlock(&reg->lock);
}

PVIO_EXPORT unsigned pvio_throttle_group_members(struct pvio_throttle_registry *reg,
						 const char *name)
{
	struct pvio_throttle_group *g;
	unsigned n;

	char key[KEY_MAX];

	snprintf(key, sizeof(key), "g:%s", name);
	pthread_mutex_lock(&reg->lock);
	g = group_find(reg, key);
	n = g ? g->refs : 0;
	pthread_mutex_unlock(&reg->lock);
	return n;
}

PVIO_EXPORT bool pvio_throttle_admit(struct pvio_throttle *t, bool write, uint64_t bytes,
				     uint64_t now_ns, uint64_t *wait_ns)
{
	struct pvio_throttle_group *g;
	uint64_t w;

	for (;;) {
		/* Pairs with the store-release in member_move(). */
		g = pvio_load_acquire(&t->g);
		if (!g)
			return true;
		pthread_spin_lock(&g->lock);
		if (pvio_load_relaxed(&t->g) == g)
			break;
		/* Moved to another group meanwhile: follow it. */
		pthread_spin_unlock(&g->lock);
	}
	w = pvio_throttle_state_wait(&g->st, write, now_ns);
	if (w == 0)
		pvio_throttle_state_account(&g->st, write, bytes);
	pthread_spin_unlock(&g->lock);
	if (w) {
		*wait_ns = w;
		return false;
	}
	return true;
}
