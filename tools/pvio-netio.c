/* SPDX-License-Identifier: MIT */
/*
 * pvio-netio: a packet generator and sink on a guest's vif (a netfront),
 * for benchmarks and quick checks of the network path.
 *
 *   pvio run --domain NAME -- pvio-netio send VIF --size 64 --seconds 5
 *   pvio run --domain NAME -- pvio-netio recv VIF --seconds 5 --warmup 1
 *   pvio run --domain NAME -- pvio-netio reflect VIF
 *   pvio run --domain NAME -- pvio-netio echo VIF --count 1000 --dst MAC
 *
 * Frames (ethertype 0x88b5, IEEE local experimental):
 *   dst(6) src(6) type(2) | magic(4) seq(8, LE) sum(4, LE) | payload
 * The payload is a fixed pattern; sum = csum(payload) ^ hash(seq), so the
 * receiver detects both a damaged payload and a frame whose header and
 * payload do not belong together. seq counts from 0 on each sender; the
 * receiver counts the gaps (lost frames) and the frames that came back in
 * time (reordered or duplicated). Other frames are counted as "other".
 *
 * recv announces its MAC with one broadcast frame first (the switch learns
 * it, so unicast toward it is not flooded), polls (pvio_netfront_poll: ports masked) for
 * --poll-us after the last frame, then arms and sleeps on the queue's fd.
 * send spins the same way when the tx ring is full.
 *
 * The result is one JSON line on stdout at the end (a human summary goes
 * to stderr). Rates count L2 frame bytes (no FCS, preamble or gap). With
 * --warmup W, the rates are those of the window that starts W seconds
 * after the first frame (recv) or after the start (send); totals are
 * reported too. SIGINT/SIGTERM stop a run early and still print results.
 *
 * Exit status: 0, 1 on errors (including checksum errors and, with
 * --expect, missing frames), 2 bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "frontend/netfront.h"
#include "hv/hv.h"

#define ETYPE      0x88b5
#define MAGIC      0x504e5631u   /* "PNV1" */
#define MAGIC_ANN  0x504e5641u   /* "PNVA": recv's announcement */
#define HDR        30u           /* eth 14 + magic 4 + seq 8 + sum 4 */
#define MAX_BATCH  256
#define RXCAP      65536

enum mode { M_SEND, M_RECV, M_REFLECT, M_ECHO };

struct opts {
	enum mode mode;
	uint32_t  vif;
	unsigned  size, batch, poll_us;
	double    seconds, warmup, idle_s, timeout_s;
	uint64_t  count, expect;
	uint8_t   dst[6];
	bool      verify, announce, quiet, copy;
	int       ready_fd;
	int       start_fd;
};

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline void put_le32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);   /* x86-64: little endian */
}

static inline uint32_t get_le32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static inline uint64_t get_le64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static inline uint32_t seq_hash(uint64_t seq)
{
	return (uint32_t)(seq * 0x9e3779b97f4a7c15ull >> 32);
}

/* A sum of the payload in 64-bit words, each weighted by an odd factor
 * from its position (independent multiplies: cheap, and moved data shows). */
static uint32_t payload_sum(const uint8_t *p, size_t n)
{
	uint64_t s = n, w;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		memcpy(&w, p + i, 8);
		s += w * (2 * i + 1);
	}
	for (; i < n; i++)
		s = s * 31 + p[i];
	return (uint32_t)(s ^ (s >> 32));
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pvio-netio MODE VIF [options]\n"
		"  (run as a guest: pvio run --domain NAME -- pvio-netio ...)\n"
		"Modes:\n"
		"  send VIF     send numbered, checksummed frames as fast as possible\n"
		"  recv VIF     count and check frames; report rate, gaps, errors\n"
		"  reflect VIF  send every frame back to its source (for echo)\n"
		"  echo VIF     ping-pong with a reflector: round-trip times\n"
		"Options:\n"
		"  --size B       frame size in bytes, %u..65535 (send, echo; default 64)\n"
		"  --seconds S    run for S seconds (recv: from the first frame, after\n"
		"                 the warm-up)\n"
		"  --count N      stop after N frames (send/recv/echo)\n"
		"  --warmup W     rates over a window starting W s in (default 0)\n"
		"  --dst MAC      destination (send, echo; default ff:ff:ff:ff:ff:ff)\n"
		"  --batch N      frames per burst, 1..%d (default 32)\n"
		"  --expect N     recv: N frames are due (missing ones are errors)\n"
		"  --idle S       recv: stop S seconds after the last frame (default 2)\n"
		"  --timeout S    recv/reflect/echo: give up if nothing came for S s;\n"
		"                 every mode: if the tx ring had no room for S s (default 30)\n"
		"  --poll-us N    spin N us on an idle queue before sleeping (default 50)\n"
		"  --no-verify    recv: don't check payload checksums (sequence only)\n"
		"  --copy         send: copy each frame into the tx pages (send_burst)\n"
		"                 instead of building it there (send_fill: the header of\n"
		"                 each frame, the payload only where the page lacks it)\n"
		"  --no-announce  recv: don't broadcast our MAC first\n"
		"  --ready-fd N   write \"ready\\n\" to fd N once the vif is connected\n"
		"  --start-fd N   then wait until fd N reaches end of file (or a byte\n"
		"                 comes) before starting: many guests start together\n"
		"  --quiet        no human summary on stderr\n"
		"  --help\n"
		"Output: one JSON line on stdout (frames, bytes, seconds, pps, gbps, cpu_s,\n"
		"cpu_ns_per_pkt, and for recv gaps/reordered/bad_csum/other/missing).\n",
		HDR, MAX_BATCH);
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		if (v[i] > 255)
			return -EINVAL;
		mac[i] = (uint8_t)v[i];
	}
	return 0;
}

static int parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "size", required_argument, NULL, 's' },
		{ "seconds", required_argument, NULL, 't' },
		{ "count", required_argument, NULL, 'n' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "dst", required_argument, NULL, 'd' },
		{ "batch", required_argument, NULL, 'b' },
		{ "expect", required_argument, NULL, 'e' },
		{ "idle", required_argument, NULL, 'i' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "poll-us", required_argument, NULL, 'p' },
		{ "no-verify", no_argument, NULL, 'V' },
		{ "copy", no_argument, NULL, 'C' },
		{ "no-announce", no_argument, NULL, 'A' },
		{ "ready-fd", required_argument, NULL, 'r' },
		{ "start-fd", required_argument, NULL, 'S' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	int c;

	memset(o, 0, sizeof(*o));
	o->size = 64;
	o->batch = 32;
	o->poll_us = 50;
	o->idle_s = 2;
	o->timeout_s = 30;
	o->verify = o->announce = true;
	o->ready_fd = -1;
	o->start_fd = -1;
	memset(o->dst, 0xff, 6);
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 's':
			o->size = (unsigned)strtoul(optarg, &end, 10);
			if (*end || o->size < HDR || o->size > PVIO_NETFRONT_MAX_FRAME)
				return -EINVAL;
			break;
		case 't': o->seconds = strtod(optarg, &end); if (*end || o->seconds <= 0) return -EINVAL; break;
		case 'n': o->count = strtoull(optarg, &end, 10); if (*end || !o->count) return -EINVAL; break;
		case 'w': o->warmup = strtod(optarg, &end); if (*end || o->warmup < 0) return -EINVAL; break;
		case 'd': if (parse_mac(optarg, o->dst) < 0) return -EINVAL; break;
		case 'b':
			o->batch = (unsigned)strtoul(optarg, &end, 10);
			if (*end || o->batch < 1 || o->batch > MAX_BATCH)
				return -EINVAL;
			break;
		case 'e': o->expect = strtoull(optarg, &end, 10); if (*end) return -EINVAL; break;
		case 'i': o->idle_s = strtod(optarg, &end); if (*end || o->idle_s <= 0) return -EINVAL; break;
		case 'T': o->timeout_s = strtod(optarg, &end); if (*end || o->timeout_s <= 0) return -EINVAL; break;
		case 'p': o->poll_us = (unsigned)strtoul(optarg, &end, 10); if (*end) return -EINVAL; break;
		case 'V': o->verify = false; break;
		case 'C': o->copy = true; break;
		case 'A': o->announce = false; break;
		case 'r': o->ready_fd = (int)strtol(optarg, &end, 10); if (*end || o->ready_fd < 0) return -EINVAL; break;
		case 'S': o->start_fd = (int)strtol(optarg, &end, 10); if (*end || o->start_fd < 0) return -EINVAL; break;
		case 'q': o->quiet = true; break;
		case 'h': usage(stdout); exit(0);
		default: return -EINVAL;
		}
	}
	if (optind + 2 != argc)
		return -EINVAL;
	if (!strcmp(argv[optind], "send"))
		o->mode = M_SEND;
	else if (!strcmp(argv[optind], "recv"))
		o->mode = M_RECV;
	else if (!strcmp(argv[optind], "reflect"))
		o->mode = M_REFLECT;
	else if (!strcmp(argv[optind], "echo"))
		o->mode = M_ECHO;
	else
		return -EINVAL;
	o->vif = (uint32_t)strtoul(argv[optind + 1], &end, 10);
	if (*end || !*argv[optind + 1])
		return -EINVAL;
	if (o->expect && !o->count)
		o->count = o->expect;
	return 0;
}

/* ------------------------------------------------------------ counters */

struct snap {
	uint64_t t, cpu, frames, bytes;
};

struct run {
	struct snap start, w0, end;   /* run start (first frame for recv),
				       * window start, end */
	bool in_window;
	uint64_t frames, bytes;
	uint64_t gaps, reordered, bad_csum, other, truncated;
	uint64_t next_seq;
	bool seen_seq;
	/* echo */
	double *rtt;
	uint64_t nrtt;
};

static void take(struct snap *s, const struct run *r)
{
	s->t = now_ns();
	s->cpu = cpu_ns();
	s->frames = r->frames;
	s->bytes = r->bytes;
}

static void report(const struct opts *o, const char *mode, struct run *r,
		   const struct pvio_netfront_stats *nst)
{
	const struct snap *a = r->in_window ? &r->w0 : &r->start;
	double secs = (double)(r->end.t - a->t) / 1e9;
	double frames = (double)(r->end.frames - a->frames);
	double bytes = (double)(r->end.bytes - a->bytes);
	double cpu = (double)(r->end.cpu - a->cpu) / 1e9;
	double pps = secs > 0 ? frames / secs : 0, gbps = secs > 0 ? bytes * 8 / secs / 1e9 : 0;
	uint64_t missing = o->expect > r->frames ? o->expect - r->frames : 0;

	if (!o->quiet) {
		fprintf(stderr, "pvio-netio %s: %llu frames in %.3f s%s: %.3f Mpps, %.3f Gbit/s, "
			"CPU %.2f (%.0f ns/frame)", mode, (unsigned long long)frames, secs,
			r->in_window ? " (window)" : "", pps / 1e6, gbps, secs > 0 ? cpu / secs : 0,
			frames > 0 ? cpu * 1e9 / frames : 0);
		if (o->mode == M_RECV)
			fprintf(stderr, "; gaps %llu, reordered %llu, bad csum %llu, other %llu",
				(unsigned long long)r->gaps, (unsigned long long)r->reordered,
				(unsigned long long)r->bad_csum, (unsigned long long)r->other);
		if (o->expect)
			fprintf(stderr, ", missing %llu", (unsigned long long)missing);
		fputc('\n', stderr);
	}
	printf("{\"mode\": \"%s\", \"size\": %u, \"frames\": %.0f, \"bytes\": %.0f, "
	       "\"seconds\": %.6f, \"pps\": %.1f, \"gbps\": %.4f, \"cpu_s\": %.6f, "
	       "\"cpu_ns_per_pkt\": %.1f, \"total_frames\": %llu, \"total_bytes\": %llu, "
	       "\"total_seconds\": %.6f, \"total_cpu_s\": %.6f",
	       mode, o->size, frames, bytes, secs, pps, gbps, cpu, frames > 0 ? cpu * 1e9 / frames : 0,
	       (unsigned long long)r->frames, (unsigned long long)r->bytes,
	       (double)(r->end.t - r->start.t) / 1e9, (double)(r->end.cpu - r->start.cpu) / 1e9);
	if (o->mode == M_RECV || o->mode == M_REFLECT)
		printf(", \"gaps\": %llu, \"reordered\": %llu, \"bad_csum\": %llu, \"other\": %llu, "
		       "\"truncated\": %llu, \"missing\": %llu", (unsigned long long)r->gaps,
		       (unsigned long long)r->reordered, (unsigned long long)r->bad_csum,
		       (unsigned long long)r->other, (unsigned long long)r->truncated,
		       (unsigned long long)missing);
	if (nst)
		printf(", \"nf_tx_errors\": %llu, \"nf_rx_errors\": %llu, \"nf_notifies\": %llu",
		       (unsigned long long)nst->tx_errors, (unsigned long long)nst->rx_errors,
		       (unsigned long long)nst->notifies);
	printf("}\n");
	fflush(stdout);
}

/* ------------------------------------------------------------ waiting */

/* Sleep on the queue's fd for at most ms (the caller already spun). */
static void wait_fd(int ep, int ms)
{
	struct epoll_event ev;

	if (epoll_wait(ep, &ev, 1, ms) < 0 && errno != EINTR)
		g_stop = 1;
}

/* A poller's sleep: unmask first (arm), and sleep only if nothing came
 * meanwhile. */
static void wait_queue(struct pvio_netfront *nf, int ep, int ms)
{
	if (pvio_netfront_arm(nf, 0) == 0)
		wait_fd(ep, ms);
}

/* A sender's wait for tx room, in two steps, each followed by another try
 * at sending (*drained says which is next; a send that goes resets it):
 * first take the events that are in (a poll with no frames: it drains the
 * fd, which would otherwise stay readable, and reclaims completions, which
 * may be the room); then, if that send found no room either, arm and
 * sleep: the send that just failed asked for an event at the next
 * completion, and arm() finds any that came since. (Polling between that
 * failed send and the sleep took completions nobody looked at: the sender
 * slept its whole timeout with the ring empty, and the backend idled.) */
static void wait_tx_room(struct pvio_netfront *nf, int ep, int ms, bool *drained)
{
	if (!*drained) {
		*drained = pvio_netfront_poll(nf, 0, NULL, 0) >= 0;
		return;
	}
	*drained = false;
	wait_queue(nf, ep, ms);
}

/* A sender that has found no room on the tx ring since `since` (ns), for
 * longer than --timeout: the backend is not taking frames. Says so. */
static bool tx_stuck(const struct opts *o, uint64_t since, uint64_t now, const char *what)
{
	if (now - since <= (uint64_t)(o->timeout_s * 1e9))
		return false;
	fprintf(stderr, "pvio-netio: %s: no room on the tx ring for %.0f s: the backend is "
		"not taking frames\n", what, o->timeout_s);
	return true;
}

/* ------------------------------------------------------------ frames */

static void build(uint8_t *f, unsigned size, const uint8_t dst[6], const uint8_t src[6],
		  uint32_t magic)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = ETYPE >> 8;
	f[13] = ETYPE & 0xff;
	put_le32(f + 14, magic);
	memset(f + 18, 0, 12);
	for (unsigned j = HDR; j < size; j++)
		f[j] = (uint8_t)(j * 131u + size);
}

static inline void stamp(uint8_t *f, uint64_t seq, uint32_t psum)
{
	memcpy(f + 18, &seq, 8);
	put_le32(f + 26, psum ^ seq_hash(seq));
}

/* Frames built in place (pvio_netfront_send_fill), as a hardware
 * generator or testpmd's txonly builds them: each frame's header and
 * stamp are written; the payload, a fixed pattern, only into a page that
 * does not hold it already (a tx page holds the last frame sent from it,
 * and every frame of a run has the same size and payload). */
struct gen {
	const uint8_t *tmpl;         /* a whole frame */
	unsigned size;
	uint32_t psum;
	uint64_t seq;
};

static int gen_fill(void *arg, const struct iovec *pages, unsigned npages,
		    struct pvio_nf_pkt *out)
{
	struct gen *g = arg;

	for (unsigned j = 0, off = 0; off < g->size && j < npages; j++) {
		uint8_t *p = pages[j].iov_base;
		unsigned l = g->size - off < pages[j].iov_len ? g->size - off :
			     (unsigned)pages[j].iov_len;
		unsigned from = j ? 0 : HDR;

		if (l <= 128 || memcmp(p + from, g->tmpl + off + from, 8) ||
		    memcmp(p + l - 8, g->tmpl + off + l - 8, 8))
			memcpy(p + from, g->tmpl + off + from, l - from);
		if (j == 0) {
			memcpy(p, g->tmpl, HDR);
			stamp(p, g->seq, g->psum);
		}
		off += l;
	}
	g->seq++;
	out->len = g->size;
	return 1;
}

static int do_send(struct pvio_netfront *nf, int ep, const struct opts *o, const uint8_t mac[6],
		   struct run *r)
{
	uint8_t *bufs[MAX_BATCH];
	struct pvio_nf_pkt pk[MAX_BATCH];
	uint32_t psum;
	uint64_t seq = 0, deadline, last_ok, poll_ns = (uint64_t)o->poll_us * 1000;
	unsigned head = 0, n = 0;
	bool sent = false, drained = false;
	int rc = 0;

	for (unsigned i = 0; i < o->batch; i++) {
		bufs[i] = malloc(o->size);
		if (!bufs[i]) {
			for (unsigned k = 0; k < i; k++)
				free(bufs[k]);
			return -ENOMEM;
		}
		build(bufs[i], o->size, o->dst, mac, MAGIC);
		memset(&pk[i], 0, sizeof(pk[i]));
		pk[i].data = bufs[i];
		pk[i].len = o->size;
	}
	psum = payload_sum(bufs[0] + HDR, o->size - HDR);
	take(&r->start, r);
	deadline = o->seconds > 0 ? r->start.t + (uint64_t)((o->warmup + o->seconds) * 1e9) : 0;
	last_ok = r->start.t;
	for (uint64_t it = 0; !g_stop; it++) {
		int k = 0;

		if (!o->copy) {
			struct gen g = { .tmpl = bufs[0], .size = o->size, .psum = psum, .seq = seq };
			unsigned want = o->batch;

			if (o->count && o->count - seq < want)
				want = (unsigned)(o->count - seq);
			if (want == 0)
				break;
			k = pvio_netfront_send_fill(nf, 0, want, o->size, gen_fill, &g);
			seq = g.seq;
			head = n = 0;
		} else if (n == 0) {
			/* Refill the whole batch: new sequence numbers. */
			unsigned want = o->batch;

			if (o->count && o->count - seq < want)
				want = (unsigned)(o->count - seq);
			if (want == 0)
				break;
			for (unsigned i = 0; i < want; i++)
				stamp(bufs[i], seq++, psum);
			head = 0;
			n = want;
		}
		if (o->copy)
			k = pvio_netfront_send_burst(nf, 0, pk + head, n);
		if (k < 0) {
			fprintf(stderr, "pvio-netio: send: %s\n", strerror(-k));
			rc = k;
			break;
		}
		if (k > 0) {
			head += (unsigned)k;
			n -= (unsigned)k;
			r->frames += (uint64_t)k;
			r->bytes += (uint64_t)k * o->size;
			sent = true;
			drained = false;
		}
		if ((it & 63) == 0 || k == 0) {
			uint64_t t = now_ns();

			/* Frames went since the last look at the clock. */
			if (sent)
				last_ok = t;
			sent = false;
			if (!r->in_window && o->warmup > 0 &&
			    t - r->start.t >= (uint64_t)(o->warmup * 1e9)) {
				take(&r->w0, r);
				r->in_window = true;
			}
			if (deadline && t >= deadline)
				break;
			/* Ring full for longer than the spin window: sleep on
			 * the fd (tx room wakes it). */
			if (k == 0 && tx_stuck(o, last_ok, t, "send")) {
				rc = -ETIMEDOUT;
				break;
			}
			if (k == 0 && t - last_ok > poll_ns)
				wait_tx_room(nf, ep, 1, &drained);
		}
	}
	take(&r->end, r);
	for (unsigned i = 0; i < o->batch; i++)
		free(bufs[i]);
	return rc;
}

/* Check one received frame; false if it is not one of ours. */
static void check(const struct opts *o, struct run *r, const uint8_t *f, uint32_t len)
{
	uint64_t seq;

	if (len < HDR || f[12] != (ETYPE >> 8) || f[13] != (ETYPE & 0xff) ||
	    get_le32(f + 14) != MAGIC) {
		r->other++;
		return;
	}
	seq = get_le64(f + 18);
	if (o->verify) {
		uint32_t want = payload_sum(f + HDR, len - HDR) ^ seq_hash(seq);

		if (get_le32(f + 26) != want)
			r->bad_csum++;
	}
	if (!r->seen_seq || seq == r->next_seq) {
		r->next_seq = seq + 1;
	} else if (seq > r->next_seq) {
		r->gaps += seq - r->next_seq;
		r->next_seq = seq + 1;
	} else {
		r->reordered++;
	}
	r->seen_seq = true;
}

static bool is_announce(const uint8_t *f, uint32_t len)
{
	return len >= HDR && f[12] == (ETYPE >> 8) && f[13] == (ETYPE & 0xff) &&
	       get_le32(f + 14) == MAGIC_ANN;
}

static int do_recv(struct pvio_netfront *nf, int ep, const struct opts *o, const uint8_t mac[6],
		   struct run *r)
{
	struct pvio_nf_pkt pk[MAX_BATCH], tx[MAX_BATCH];
	uint8_t *bufs[MAX_BATCH];
	uint64_t t0 = now_ns(), last = t0, poll_ns = (uint64_t)o->poll_us * 1000;
	uint64_t warm_ns = (uint64_t)(o->warmup * 1e9), win_ns = (uint64_t)(o->seconds * 1e9);
	uint64_t spin_t = t0;   /* spin from here (last frame or wake-up) before sleeping */
	bool started = false, reflect = o->mode == M_REFLECT;
	int rc = 0;

	for (unsigned i = 0; i < o->batch; i++) {
		bufs[i] = malloc(RXCAP);
		if (!bufs[i]) {
			for (unsigned k = 0; k < i; k++)
				free(bufs[k]);
			return -ENOMEM;
		}
	}
	take(&r->start, r);
	while (!g_stop) {
		int n;

		/* Zero-copy: frames are read in the rx pages; a frame in
		 * several pieces is gathered into bufs[i] first. */
		n = pvio_netfront_poll_zc(nf, 0, pk, o->batch);
		if (n < 0) {
			fprintf(stderr, "pvio-netio: recv: %s\n", strerror(-n));
			rc = n;
			break;
		}
		if (n > 0) {
			unsigned nt = 0;

			spin_t = now_ns();
			for (int i = 0; i < n; i++) {
				uint8_t *f = pk[i].data;

				if (pk[i].iovcnt > 1) {
					uint32_t off = 0;

					for (unsigned k = 0; k < pk[i].iovcnt; k++) {
						size_t l = pk[i].iov[k].iov_len;

						if (l > RXCAP - off)
							l = RXCAP - off;
						memcpy(bufs[i] + off, pk[i].iov[k].iov_base, l);
						off += (uint32_t)l;
					}
					f = bufs[i];
					if (pk[i].len > RXCAP)
						pk[i].flags |= PVIO_NF_TRUNCATED;
				}
				if (is_announce(f, pk[i].len))
					continue;
				/* The idle time counts from the first real frame: the
				 * announcements of guests that connect later would
				 * otherwise start it, and a reflector would stop
				 * --idle seconds after the last one, before any
				 * traffic came. */
				if (!started) {
					started = true;
					take(&r->start, r);
				}
				last = spin_t;
				if (pk[i].flags & PVIO_NF_TRUNCATED) {
					r->truncated++;
					continue;
				}
				r->frames++;
				r->bytes += pk[i].len;
				if (reflect) {
					memcpy(f, f + 6, 6);
					memcpy(f + 6, mac, 6);
					memset(&tx[nt], 0, sizeof(tx[nt]));
					tx[nt].data = f;
					tx[nt].len = pk[i].len;
					nt++;
				} else {
					check(o, r, f, pk[i].len);
				}
			}
			for (unsigned s = 0; s < nt && !g_stop;) {
				int k = pvio_netfront_send_burst(nf, 0, tx + s, nt - s);

				if (k < 0) {
					rc = k;
					break;
				}
				s += (unsigned)k;
				if (k > 0) {
					last = now_ns();
				} else if (tx_stuck(o, last, now_ns(), "reflect")) {
					rc = -ETIMEDOUT;
					break;
				} else {
					wait_queue(nf, ep, 1);
				}
			}
			if (rc < 0)
				break;
			if (started && !r->in_window && warm_ns && last - r->start.t >= warm_ns) {
				take(&r->w0, r);
				r->in_window = true;
				last = r->w0.t;
			}
			if (o->count && r->frames >= o->count)
				break;
			if (win_ns && last - (r->in_window ? r->w0.t : r->start.t) >= win_ns &&
			    (r->in_window || !warm_ns))
				break;
			continue;
		}
		{
			uint64_t t = now_ns();

			if (started && t - last > (uint64_t)(o->idle_s * 1e9))
				break;
			if (!started && t - t0 > (uint64_t)(o->timeout_s * 1e9)) {
				fprintf(stderr, "pvio-netio: nothing received in %.0f s\n",
					o->timeout_s);
				rc = -ETIMEDOUT;
				break;
			}
			if (t - spin_t < poll_ns)
				continue;
			wait_queue(nf, ep, 10);
			/* Woke up: spin again before sleeping. The idle stop
			 * still counts from the last frame (it did not while
			 * this reset `last`: a recv --count that lost a frame
			 * waited forever). */
			spin_t = now_ns();
		}
	}
	take(&r->end, r);
	for (unsigned i = 0; i < o->batch; i++)
		free(bufs[i]);
	return rc;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Ping-pong: one frame out, wait for it to come back (a reflector swaps
 * the MACs), --count times. */
static int do_echo(struct pvio_netfront *nf, int ep, const struct opts *o, const uint8_t mac[6],
		   struct run *r)
{
	uint64_t n = o->count ? o->count : 1000, poll_ns = (uint64_t)o->poll_us * 1000;
	uint8_t *f = malloc(o->size), *rb = malloc(RXCAP);
	uint32_t psum;
	int rc = 0;

	r->rtt = calloc(n, sizeof(double));
	if (!f || !rb || !r->rtt) {
		free(f);
		free(rb);
		return -ENOMEM;
	}
	build(f, o->size, o->dst, mac, MAGIC);
	psum = payload_sum(f + HDR, o->size - HDR);
	take(&r->start, r);
	for (uint64_t seq = 0; seq < n && !g_stop && !rc; seq++) {
		struct pvio_nf_pkt p = { .data = f, .len = o->size };
		uint64_t t = now_ns(), last = t;
		bool back = false, drained = false;
		int k;

		stamp(f, seq, psum);
		while ((k = pvio_netfront_send_burst(nf, 0, &p, 1)) == 0 && !g_stop) {
			if (tx_stuck(o, t, now_ns(), "echo")) {
				k = -ETIMEDOUT;
				break;
			}
			wait_tx_room(nf, ep, 1, &drained);
		}
		if (k < 0) {
			rc = k;
			break;
		}
		while (!back && !g_stop && !rc) {
			struct pvio_nf_pkt q = { .data = rb, .cap = RXCAP };
			uint64_t u;

			k = pvio_netfront_poll(nf, 0, &q, 1);
			if (k < 0) {
				rc = k;
				break;
			}
			u = now_ns();
			/* Only an answer from the one we sent to counts: a frame
			 * flooded to every port (its destination unknown to the
			 * bridge) must not pass for the reflector's answer. */
			if (k == 1 && q.len >= HDR && (memcmp(rb, mac, 6) ||
			    (!(o->dst[0] & 1) && memcmp(rb + 6, o->dst, 6)))) {
				r->other++;
				last = u;
				continue;
			}
			if (k == 1 && q.len >= HDR && get_le32(rb + 14) == MAGIC &&
			    get_le64(rb + 18) == seq &&
			    (q.len != o->size || memcmp(rb + HDR, f + HDR, o->size - HDR))) {
				/* Our frame, changed on the way. */
				fprintf(stderr, "pvio-netio: echo %llu: the frame came back "
					"altered (%u bytes)\n", (unsigned long long)seq, q.len);
				rc = -EBADMSG;
			} else if (k == 1 && q.len >= HDR && get_le32(rb + 14) == MAGIC &&
			    get_le64(rb + 18) == seq) {
				r->rtt[r->nrtt++] = (double)(u - t) / 1e3;
				r->frames++;
				r->bytes += o->size;
				back = true;
			} else if (k == 1) {
				r->other++;
				last = u;
			} else if (u - t > (uint64_t)(o->timeout_s * 1e9)) {
				fprintf(stderr, "pvio-netio: echo %llu: no answer\n",
					(unsigned long long)seq);
				rc = -ETIMEDOUT;
			} else if (u - last > poll_ns) {
				wait_queue(nf, ep, 1);
			}
		}
	}
	take(&r->end, r);
	if (r->nrtt) {
		qsort(r->rtt, r->nrtt, sizeof(double), cmp_d);
		fprintf(stderr, "pvio-netio echo: %llu round trips, rtt min %.1f p50 %.1f p99 %.1f "
			"max %.1f us\n", (unsigned long long)r->nrtt, r->rtt[0],
			r->rtt[r->nrtt / 2], r->rtt[(size_t)((double)r->nrtt * 0.99)],
			r->rtt[r->nrtt - 1]);
	}
	free(f);
	free(rb);
	return rc;
}

int main(int argc, char **argv)
{
	static const char *names[] = { "send", "recv", "reflect", "echo" };
	struct pvio_netfront_opts no;
	struct pvio_netfront_info info;
	struct pvio_netfront_stats nst;
	struct pvio_netfront *nf = NULL;
	struct pvio_hv *hv = NULL;
	struct opts o;
	struct run run;
	int ep = -1, rc = 1, r;

	if (parse(argc, argv, &o) < 0) {
		usage(stderr);
		return 2;
	}
	memset(&run, 0, sizeof(run));
	{
		struct sigaction sa = { .sa_handler = on_signal };

		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		signal(SIGPIPE, SIG_IGN);
	}
	r = pvio_hv_open_env(&hv);
	if (r < 0) {
		fprintf(stderr, "pvio-netio: not running as a guest (%s); use "
			"pvio run --domain NAME -- %s ...\n", strerror(-r), argv[0]);
		goto out;
	}
	pvio_netfront_opts_default(&no);
	no.no_csum_offload = true;
	r = pvio_netfront_open(hv, o.vif, &no, &nf);
	if (r < 0) {
		fprintf(stderr, "pvio-netio: vif %u: %s\n", o.vif, strerror(-r));
		goto out;
	}
	pvio_netfront_get_info(nf, &info);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0) {
		perror("pvio-netio: epoll");
		goto out;
	}
	{
		struct epoll_event ev = { .events = EPOLLIN };

		if (epoll_ctl(ep, EPOLL_CTL_ADD, pvio_netfront_fd(nf, 0), &ev) < 0) {
			perror("pvio-netio: epoll_ctl");
			goto out;
		}
	}
	if ((o.mode == M_RECV || o.mode == M_REFLECT) && o.announce) {
		uint8_t f[64], bc[6];
		struct pvio_nf_pkt p = { .data = f, .len = sizeof(f) };

		memset(bc, 0xff, 6);
		build(f, sizeof(f), bc, info.mac, MAGIC_ANN);
		for (int tries = 0; (r = pvio_netfront_send_burst(nf, 0, &p, 1)) == 0 && tries < 1000;
		     tries++)
			wait_fd(ep, 1);
	}
	if (o.ready_fd >= 0) {
		if (write(o.ready_fd, "ready\n", 6) < 0) {
			/* the waiter went away */
		}
		close(o.ready_fd);
	}
	if (o.start_fd >= 0) {
		char c;

		while (read(o.start_fd, &c, 1) < 0 && errno == EINTR && !g_stop)
			;
		close(o.start_fd);
	}
	switch (o.mode) {
	case M_SEND: r = do_send(nf, ep, &o, info.mac, &run); break;
	case M_RECV:
	case M_REFLECT: r = do_recv(nf, ep, &o, info.mac, &run); break;
	case M_ECHO: r = do_echo(nf, ep, &o, info.mac, &run); break;
	}
	/* What was sent goes out before the close (which drops frames in flight). */
	if (pvio_netfront_tx_flush(nf, 0, 2000) == -ETIMEDOUT)
		fprintf(stderr, "pvio-netio: frames still in flight after 2 s: dropped\n");
	pvio_netfront_get_stats(nf, &nst);
	report(&o, names[o.mode], &run, &nst);
	rc = r < 0 || run.bad_csum || (o.expect && run.frames < o.expect) ? 1 : 0;
out:
	free(run.rtt);
	pvio_netfront_close(nf);
	if (ep >= 0)
		close(ep);
	if (hv)
		pvio_hv_close(hv);
	return rc;
}
