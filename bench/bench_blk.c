/* SPDX-License-Identifier: MIT */
/*
 * pvio-bench blk: the full PV block path against native io_uring, on the
 * same file, in one invocation, judged by fio.
 *
 *   native  fio --ioengine=io_uring (registered buffers and file) on the
 *           file, buffered or O_DIRECT
 *   pvio    fio --ioengine=external:fio-pvio.so as a guest (pvio run):
 *           fio -> blkfront -> ring -> pvio-blkback (io_uring engine) ->
 *           the same file
 *
 * Both sides run the same job (rw, bs, iodepth, numjobs, runtime, direct,
 * the same random sequence). Cases: 4k randread QD1 and QD32, 4k randwrite
 * QD32, 4k randrw 70/30 QD32, 4k randread 2 jobs x QD16 (one blkfront
 * queue per job), 128k sequential read QD16, 1M sequential write QD8; on
 * (a) a page-cached file and (b) an O_DIRECT file, both on the root
 * filesystem. Each repetition runs native and pvio back to back (the order
 * alternates: ABBA), and every figure is reported as the median of the
 * pairs' pvio/native ratios with their range, so a reader sees how steady
 * it is.
 *
 * CPU per I/O: user + system time of the whole I/O process (fio with all
 * its threads: io_uring's io-wq workers, blkfront's threads) plus, for
 * pvio, pvio-blkback's, per million I/Os, over fio's I/O phase: fio's
 * exec_prerun/exec_postrun hooks (run right after the engine and files are
 * set up, and right after the I/O loop) read both processes' CPU times
 * from /proc, so start-up and teardown are not counted. When the hooks'
 * output is missing, the whole run (wait4, /proc) is used instead. fio's
 * own usr_cpu/sys_cpu (its job threads only, no io-wq) is in the JSON too.
 *
 * Without the fio that scripts/fetch-fio builds, or without the engine
 * (make fio), or when a short probe job fails, the bench says why and falls
 * back to its earlier method: a native liburing loop against pvio-blkio's
 * own generator in a guest (cases it cannot run are marked n/a). That
 * second method can also run alongside fio (--also-blkio): it shows what
 * the path costs without fio's per-I/O overhead on either side.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <liburing.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench_common.h"

struct blk_case {
	const char *name;
	const char *rw;        /* fio's rw=: randread randwrite randrw read write */
	unsigned bs;
	unsigned qd;           /* per job */
	unsigned jobs;         /* fio numjobs; pvio: one blkfront queue each */
	unsigned rwmixread;    /* randrw: percentage of reads */
	bool loop_ok;          /* the fallback loop can run it (one job, read or write) */
};

static const struct blk_case cases[] = {
	{ "4k-randread-qd1", "randread", 4096, 1, 1, 0, true },
	{ "4k-randread-qd32", "randread", 4096, 32, 1, 0, true },
	{ "4k-randwrite-qd32", "randwrite", 4096, 32, 1, 0, true },
	{ "4k-randrw70-qd32", "randrw", 4096, 32, 1, 70, false },
	{ "4k-randread-2jx16", "randread", 4096, 16, 2, 0, false },
	{ "128k-read-qd16", "read", 131072, 16, 1, 0, true },
	{ "1m-write-qd8", "write", 1048576, 8, 1, 0, true },
};
#define NR_CASES (sizeof(cases) / sizeof(cases[0]))
#define NR_TARGETS 2
static const char *const target_names[NR_TARGETS] = { "cached", "direct" };

/* The fio job options both sides share, beyond the case's own. */
#define FIO_COMMON "--thread --time_based --invalidate=0 --norandommap --group_reporting " \
	"--unified_rw_reporting=both --lat_percentiles=1"
/* The native side: io_uring with registered buffers and a registered file,
 * what one uses for a best native figure. No sqthread_poll (a kernel thread
 * spinning on a CPU of its own, which a 2-CPU machine does not have spare;
 * --native-opt=--sqthread_poll=1 tries it), no hipri (polled completions
 * need a block device with poll queues; the target is a file). */
#define FIO_NATIVE "--ioengine=io_uring --fixedbufs=1 --registerfiles=1"

/* The two methods: fio on both sides (the judge), and the fallback loop
 * (native liburing loop vs pvio-blkio bench). Each has a native and a pvio
 * side. */
enum { M_FIO, M_LOOP, NR_METHODS };
enum { NAT, PV };

/* One run of one side. */
struct meas {
	bool ok;
	double iops, mibps;
	double p50, p99;            /* µs; fio: total latency (lat = slat + clat) */
	double clat_p50, clat_p99;  /* µs; fio only, else NaN */
	double ios;                 /* completed I/Os */
	double secs;                /* wall time of the run */
	double cpu_s;               /* the I/O process (fio: all threads) over the I/O phase */
	double be_cpu_s;            /* pvio: pvio-blkback over the I/O phase */
	bool cpu_window;            /* the two above are over fio's I/O phase (hooks), not
				     * the whole run */
	double cpu_run_s;           /* the I/O process over its whole life (wait4) */
	double be_run_s;            /* pvio: pvio-blkback over the whole run */
	double fio_cpu_s;           /* fio's usr_cpu + sys_cpu (its job threads), or NaN */
	double pviod_cpu_s;         /* pvio: pviod over the run (control plane only) */
	unsigned queues;            /* pvio with fio: queues the disk negotiated, 0: unknown */
	/* The block device under the file over fio's I/O phase (NaN: none, as
	 * for a file on tmpfs): requests in it on average (time_in_queue over
	 * wall time, Little's law), requests it completed per fio I/O, and
	 * their mean size. On a device-bound case, IOPS follow the first: a
	 * side that keeps fewer of its iodepth in the device gets less. */
	double dev_qd, dev_reqs_per_io, dev_kib_per_req;
	double dev_ios_phase;       /* the device's completed requests in the phase */
};

/* One repetition of one case: both methods, both sides. */
struct rep {
	struct meas m[NR_METHODS][2];
	bool pv_first;              /* the pair ran pvio first */
	double idle;                /* idle fraction of the machine just before */
};

static double cpu_per_mio(const struct meas *m)
{
	return m->ok && m->ios > 0 ? (m->cpu_s + m->be_cpu_s) / (m->ios / 1e6) : NAN;
}

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return x;
}

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median, min and max of the finite values among v[0..n). */
struct spread {
	int n;
	double med, min, max;
};

static struct spread spread_of(const double *v, int n)
{
	struct spread s = { 0, NAN, NAN, NAN };
	double *w = malloc((size_t)(n > 0 ? n : 1) * sizeof(*w));

	if (!w)
		return s;
	for (int i = 0; i < n; i++)
		if (isfinite(v[i]))
			w[s.n++] = v[i];
	if (s.n) {
		qsort(w, (size_t)s.n, sizeof(*w), cmpd);
		s.med = bench_median(w, (size_t)s.n);
		s.min = w[0];
		s.max = w[s.n - 1];
	}
	free(w);
	return s;
}

/* ------------------------------------------------------------ JSON reader */

/* Just enough of a JSON reader for fio's output: walk to a member by key,
 * to an array element, read a number. Every function takes a pointer to a
 * value (leading white space allowed) and returns NULL on anything it does
 * not expect, so a truncated or odd file reads as "missing". */

static const char *js_ws(const char *p)
{
	while (p && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++;
	return p;
}

/* Past the value at p, or NULL. */
static const char *js_skip(const char *p, int depth)
{
	p = js_ws(p);
	if (!p || depth > 64)
		return NULL;
	if (*p == '"') {
		for (p++; *p && *p != '"'; p++)
			if (*p == '\\' && p[1])
				p++;
		return *p ? p + 1 : NULL;
	}
	if (*p == '{' || *p == '[') {
		char close = *p == '{' ? '}' : ']';

		p = js_ws(p + 1);
		if (*p == close)
			return p + 1;
		for (;;) {
			if (close == '}') {
				if (*p != '"' || !(p = js_skip(p, depth + 1)))
					return NULL;
				p = js_ws(p);
				if (*p != ':')
					return NULL;
				p++;
			}
			if (!(p = js_skip(p, depth + 1)))
				return NULL;
			p = js_ws(p);
			if (*p == close)
				return p + 1;
			if (*p != ',')
				return NULL;
			p = js_ws(p + 1);
		}
	}
	/* number, true, false, null (and fio's "nan"/"-nan") */
	const char *s = p;
	while (*p && strchr("+-.0123456789eEaflnrstu", *p))
		p++;
	return p > s ? p : NULL;
}

/* The value of member `key` of the object at p, or NULL. */
static const char *js_get(const char *p, const char *key)
{
	size_t kl = strlen(key);

	p = js_ws(p);
	if (!p || *p != '{')
		return NULL;
	p = js_ws(p + 1);
	while (*p == '"') {
		const char *k = p + 1, *e = js_skip(p, 0);
		bool match;

		if (!e)
			return NULL;
		match = (size_t)(e - 1 - k) == kl && memcmp(k, key, kl) == 0;
		p = js_ws(e);
		if (*p != ':')
			return NULL;
		p = js_ws(p + 1);
		if (match)
			return p;
		if (!(p = js_skip(p, 0)))
			return NULL;
		p = js_ws(p);
		if (*p != ',')
			return NULL;
		p = js_ws(p + 1);
	}
	return NULL;
}

/* js_get along a path of keys (NULL-terminated). */
static __attribute__((sentinel)) const char *js_path(const char *p, ...)
{
	va_list ap;
	const char *k;

	va_start(ap, p);
	while (p && (k = va_arg(ap, const char *)) != NULL)
		p = js_get(p, k);
	va_end(ap);
	return p;
}

/* Element i of the array at p, or NULL. */
static const char *js_at(const char *p, unsigned i)
{
	p = js_ws(p);
	if (!p || *p != '[')
		return NULL;
	p = js_ws(p + 1);
	if (*p == ']')
		return NULL;
	for (unsigned k = 0; k < i; k++) {
		if (!(p = js_skip(p, 0)))
			return NULL;
		p = js_ws(p);
		if (*p != ',')
			return NULL;
		p = js_ws(p + 1);
	}
	return p;
}

/* The number at p (NaN if there is none). */
static double js_num(const char *p)
{
	char *e;
	double v;

	p = js_ws(p);
	if (!p)
		return NAN;
	v = strtod(p, &e);
	return e == p ? NAN : v;
}

/* The stat file (/sys/dev/block/MAJ:MIN/stat) of the block device that
 * holds `path` (a partition's own counters when it is one), or "" when
 * there is none (tmpfs). */
static void file_devstat(const char *path, char *out, size_t len)
{
	struct stat sb;

	out[0] = 0;
	if (stat(path, &sb) < 0 || major(sb.st_dev) == 0)
		return;
	snprintf(out, len, "/sys/dev/block/%u:%u/stat", major(sb.st_dev), minor(sb.st_dev));
	if (access(out, R_OK) < 0)
		out[0] = 0;
}

/* A "devstat UPTIME <the disk's /sys/.../stat fields>" line of a hook file:
 * the earliest (first) or the latest (!first). -1 if there is none. */
struct devstat {
	double up;          /* s since boot */
	double ios, sect;   /* requests completed, 512-byte sectors (reads + writes) */
	double queue_ms;    /* time_in_queue: the sum of every request's time in it */
};

static int devstat_line(const char *txt, bool first, struct devstat *out)
{
	int found = -1;

	for (const char *l = txt; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		/* reads: ios merges sectors ticks; writes: the same; in_flight
		 * io_ticks time_in_queue (Documentation/block/stat.rst) */
		unsigned long long f[11];
		double up;

		if (strncmp(l, "devstat ", 8) ||
		    sscanf(l + 8, "%lf %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &up,
			   &f[0], &f[1], &f[2], &f[3], &f[4], &f[5], &f[6], &f[7], &f[8], &f[9],
			   &f[10]) != 12)
			continue;
		if (found == 0 && (first ? up >= out->up : up <= out->up))
			continue;
		out->up = up;
		out->ios = (double)(f[0] + f[4]);
		out->sect = (double)(f[2] + f[6]);
		out->queue_ms = (double)f[10];
		found = 0;
	}
	return found;
}

/* user + system time (seconds) of process `pid` from the /proc/PID/stat
 * lines among the lines of `txt`: the smallest of them (first) or the
 * largest (!first); -1 if there is none. */
static double stat_cpu_s(const char *txt, pid_t pid, bool first)
{
	long hz = sysconf(_SC_CLK_TCK);
	double best = -1;

	for (const char *l = txt; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		unsigned long long ut, st;
		const char *p;
		char *e;

		if (strtol(l, &e, 10) != pid || e == l || *e != ' ')
			continue;
		/* comm (field 2) may hold anything: fields go on after the
		 * last ')' of the line. */
		p = NULL;
		for (const char *q = l; *q && *q != '\n'; q++)
			if (*q == ')')
				p = q;
		if (p && hz > 0 &&
		    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
			   &ut, &st) == 2) {
			double v = (double)(ut + st) / (double)hz;

			if (best < 0 || (first ? v < best : v > best))
				best = v;
		}
	}
	return best;
}

/* An argv built piece by piece in one buffer. */
struct args {
	char *v[128];
	int n;
	bool overflow;
	size_t used;
	char buf[16384];
};

static __attribute__((format(printf, 2, 3))) void arg(struct args *a, const char *fmt, ...)
{
	size_t room = sizeof(a->buf) - a->used;
	va_list ap;
	int len;

	if (a->n + 2 > (int)(sizeof(a->v) / sizeof(a->v[0]))) {
		a->overflow = true;
		return;
	}
	va_start(ap, fmt);
	len = vsnprintf(a->buf + a->used, room, fmt, ap);
	va_end(ap);
	if (len < 0 || (size_t)len >= room) {
		a->overflow = true;
		return;
	}
	a->v[a->n++] = a->buf + a->used;
	a->v[a->n] = NULL;
	a->used += (size_t)len + 1;
}

/* Each word of a space-separated option string. */
static void arg_words(struct args *a, const char *s)
{
	char w[512];

	while (*s) {
		size_t n = strcspn(s, " ");

		if (n && n < sizeof(w)) {
			memcpy(w, s, n);
			w[n] = '\0';
			arg(a, "%s", w);
		} else if (n)
			a->overflow = true;
		s += n;
		s += strspn(s, " ");
	}
}

/* ------------------------------------------------------------ context */

#define MAX_XOPT 16

struct blk_ctx {
	struct bench_pv_env env;
	char build[512];
	char img[NR_TARGETS][300];
	char devstat[NR_TARGETS][64];   /* the stat file of the disk under img, or "" */
	char dom[NR_TARGETS][16];
	uint64_t size;
	/* fio */
	char fio[1024];            /* the binary */
	char engine[1024];         /* fio-pvio.so */
	char fio_version[64];
	char fio_out[600];         /* --output=, in the bench's folder */
	char fio_log[600];         /* the process's stdout + stderr */
	const char *xopt[MAX_XOPT], *nopt[MAX_XOPT], *popt[MAX_XOPT];
	int nxopt, nnopt, npopt;
};

/* The fio scripts/fetch-fio built (without running it: building takes
 * minutes): $PVIO_FIO if set, else the source tree recorded in the cache.
 * Returns 0, or -1 with the reason in why. */
static int find_fio(struct blk_ctx *x, char *why, size_t wl)
{
	const char *env = getenv("PVIO_FIO");
	char cache[600], rec[700], *src;
	struct stat st;

	if (env && *env) {
		snprintf(x->fio, sizeof(x->fio), "%s", env);
	} else {
		const char *c = getenv("PVIO_FIO_CACHE"), *xdg = getenv("XDG_CACHE_HOME"),
			   *home = getenv("HOME");

		if (c && *c)
			snprintf(cache, sizeof(cache), "%s", c);
		else if (xdg && *xdg)
			snprintf(cache, sizeof(cache), "%s/pvio-fio", xdg);
		else
			snprintf(cache, sizeof(cache), "%s/.cache/pvio-fio", home ? home : "");
		snprintf(rec, sizeof(rec), "%s/.complete", cache);
		src = bench_read_text(rec, 4096);
		if (!src || !*src) {
			snprintf(why, wl, "no fio build in %.300s (scripts/fetch-fio, or make fio)", cache);
			free(src);
			return -1;
		}
		src[strcspn(src, "\n")] = '\0';
		snprintf(x->fio, sizeof(x->fio), "%s/fio", src);
		free(src);
	}
	if (access(x->fio, X_OK) != 0) {
		snprintf(why, wl, "%.300s: not an executable", x->fio);
		return -1;
	}
	snprintf(x->engine, sizeof(x->engine), "%s/tools/fio/fio-pvio.so", x->build);
	if (stat(x->engine, &st) != 0) {
		snprintf(why, wl, "no %.300s (make fio builds it)", x->engine);
		return -1;
	}
	{
		char *av[] = { x->fio, "--version", NULL }, out[64] = "";

		if (bench_run_cmd(av, out, sizeof(out)) != 0) {
			snprintf(why, wl, "%.300s --version failed", x->fio);
			return -1;
		}
		out[strcspn(out, "\n")] = '\0';
		snprintf(x->fio_version, sizeof(x->fio_version), "%s", out);
	}
	return 0;
}

/* ------------------------------------------------------------ fio */

/* The "N queue(s)" fio-pvio's verbose open line gave, or 0. */
static unsigned fio_queues(const char *txt, const char *end)
{
	const char *p = strstr(txt, " queue(s)");

	if (!p || p >= end)
		return 0;
	while (p > txt && p[-1] >= '0' && p[-1] <= '9')
		p--;
	return (unsigned)strtoul(p, NULL, 10);
}

/* Read fio's JSON report (after any lines the engine logged) into m. */
static int fio_parse(const char *path, struct meas *m, char *why, size_t wl)
{
	char *txt = bench_read_text(path, 64u << 20);
	const char *js, *job, *mx;
	double err, usr, sys, runt;

	if (!txt) {
		snprintf(why, wl, "no fio output in %s", path);
		return -1;
	}
	js = txt[0] == '{' ? txt : strstr(txt, "\n{");
	job = js_at(js_get(js, "jobs"), 0);
	mx = js_get(job, "mixed");
	if (!job || !mx) {
		snprintf(why, wl, "fio's JSON output has no jobs[0].mixed");
		free(txt);
		return -1;
	}
	err = js_num(js_get(job, "error"));
	if (err != 0) {
		snprintf(why, wl, "fio reports error %g", err);
		free(txt);
		return -1;
	}
	m->queues = fio_queues(txt, js);
	m->iops = js_num(js_get(mx, "iops"));
	m->mibps = js_num(js_get(mx, "bw_bytes")) / 1048576.0;
	m->ios = js_num(js_get(mx, "total_ios"));
	m->p50 = js_num(js_path(mx, "lat_ns", "percentile", "50.000000", NULL)) / 1e3;
	m->p99 = js_num(js_path(mx, "lat_ns", "percentile", "99.000000", NULL)) / 1e3;
	m->clat_p50 = js_num(js_path(mx, "clat_ns", "percentile", "50.000000", NULL)) / 1e3;
	m->clat_p99 = js_num(js_path(mx, "clat_ns", "percentile", "99.000000", NULL)) / 1e3;
	/* usr_cpu/sys_cpu: percent of job_runtime (ms), summed over the
	 * group's jobs. */
	usr = js_num(js_get(job, "usr_cpu"));
	sys = js_num(js_get(job, "sys_cpu"));
	runt = js_num(js_get(job, "job_runtime"));
	m->fio_cpu_s = (usr + sys) / 100.0 * runt / 1e3;
	free(txt);
	if (!(m->ios > 0) || !isfinite(m->iops)) {
		snprintf(why, wl, "fio's JSON output has no I/O count");
		return -1;
	}
	return 0;
}

/* One fio run: the native side on the file, or the pvio side as a guest of
 * domain x->dom[t] on its xvda. */
static int fio_run(struct blk_ctx *x, int t, const struct blk_case *c, bool pv, double secs,
		   struct meas *m)
{
	struct args *a = calloc(1, sizeof(*a));
	uint64_t be0 = 0, pd0 = 0, t0;
	char why[300], hook[2][700];
	int st, r = -1;
	pid_t pid = -1;

	memset(m, 0, sizeof(*m));
	m->clat_p50 = m->clat_p99 = m->fio_cpu_s = NAN;
	m->dev_qd = m->dev_reqs_per_io = m->dev_kib_per_req = NAN;
	if (!a)
		return -1;
	if (pv) {
		arg(a, "%s/tools/pvio", x->build);
		arg(a, "run");
		arg(a, "--domain");
		arg(a, "%s", x->dom[t]);
		arg(a, "--");
	}
	arg(a, "%s", x->fio);
	arg(a, "--name=pvio-bench");
	arg(a, "--filename=%s", pv ? "xvda" : x->img[t]);
	arg(a, "--size=%llu", (unsigned long long)x->size);
	arg(a, "--rw=%s", c->rw);
	if (c->rwmixread)
		arg(a, "--rwmixread=%u", c->rwmixread);
	arg(a, "--bs=%u", c->bs);
	arg(a, "--iodepth=%u", c->qd);
	arg(a, "--numjobs=%u", c->jobs);
	arg(a, "--runtime=%llums", (unsigned long long)(secs * 1000 + 0.5));
	arg(a, "--direct=%d", t == 1);
	arg_words(a, FIO_COMMON);
	arg(a, "--output-format=json");
	arg(a, "--output=%s", x->fio_out);
	/* The I/O phase's CPU: each job runs these through sh (fio's child:
	 * $PPID is fio) right before and right after its I/O loop; they append
	 * (one whole write each) so that jobs do not overwrite each other: the
	 * earliest "pre" and the latest "post" line bound the phase. fio
	 * itself saves their (empty) output in its working folder, the
	 * bench's. */
	for (int i = 0; i < 2; i++) {
		char dev[1600] = "";

		snprintf(hook[i], sizeof(hook[i]), "%s/cpu.%s", x->env.dir, i ? "post" : "pre");
		unlink(hook[i]);
		/* and a line "devstat UPTIME FIELDS..." of the disk's counters */
		if (x->devstat[t][0])
			snprintf(dev, sizeof(dev), "; echo devstat $(cut -d' ' -f1 /proc/uptime) "
				 "$(cat %s) >>%s", x->devstat[t], hook[i]);
		if (pv)
			arg(a, "--exec_%s=(cat /proc/$PPID/stat /proc/%d/stat >>%s%s || true)",
			    i ? "postrun" : "prerun", (int)x->env.blkback, hook[i], dev);
		else
			arg(a, "--exec_%s=(cat /proc/$PPID/stat >>%s%s || true)",
			    i ? "postrun" : "prerun", hook[i], dev);
	}
	if (pv) {
		arg(a, "--ioengine=external:%s", x->engine);
		arg(a, "--pvio_queues=%u", c->jobs);
		arg(a, "--pvio_verbose=1");
	} else
		arg_words(a, FIO_NATIVE);
	for (int i = 0; i < x->nxopt; i++)
		arg(a, "%s", x->xopt[i]);
	for (int i = 0; i < (pv ? x->npopt : x->nnopt); i++)
		arg(a, "%s", pv ? x->popt[i] : x->nopt[i]);
	if (a->overflow) {
		fprintf(stderr, "bench blk: fio command line too long\n");
		goto out;
	}
	unlink(x->fio_out);
	if (pv) {
		be0 = bench_proc_cpu_ns(x->env.blkback);
		pd0 = bench_proc_cpu_ns(x->env.pviod);
	}
	t0 = bench_now_ns();
	st = bench_run_logged(a->v, x->env.dir, x->fio_log, secs + 60, &m->cpu_run_s, &pid);
	m->secs = (double)(bench_now_ns() - t0) / 1e9;
	if (pv) {
		m->be_run_s = (double)(bench_proc_cpu_ns(x->env.blkback) - be0) / 1e9;
		m->pviod_cpu_s = (double)(bench_proc_cpu_ns(x->env.pviod) - pd0) / 1e9;
	}
	m->cpu_s = m->cpu_run_s;
	m->be_cpu_s = m->be_run_s;
	{
		char *pre = bench_read_text(hook[0], 1 << 16), *post = bench_read_text(hook[1], 1 << 16);
		double f0 = pre ? stat_cpu_s(pre, pid, true) : -1;
		double f1 = post ? stat_cpu_s(post, pid, false) : -1;
		double b0 = pre ? stat_cpu_s(pre, x->env.blkback, true) : -1;
		double b1 = post ? stat_cpu_s(post, x->env.blkback, false) : -1;

		if (f0 >= 0 && f1 >= f0 && (!pv || (b0 >= 0 && b1 >= b0))) {
			m->cpu_s = f1 - f0;
			m->be_cpu_s = pv ? b1 - b0 : 0;
			m->cpu_window = true;
		}
		{
			struct devstat d0, d1;

			if (devstat_line(pre, true, &d0) == 0 && devstat_line(post, false, &d1) == 0 &&
			    d1.up > d0.up && d1.ios >= d0.ios && d1.queue_ms >= d0.queue_ms) {
				double n = d1.ios - d0.ios;

				m->dev_qd = (d1.queue_ms - d0.queue_ms) / 1e3 / (d1.up - d0.up);
				m->dev_kib_per_req = n > 0 ? (d1.sect - d0.sect) / 2.0 / n : NAN;
				m->dev_ios_phase = n;
			}
		}
		free(pre);
		free(post);
	}
	if (st != 0) {
		bench_last_line(x->fio_log, why, sizeof(why));
		bench_progress_done();
		fprintf(stderr, "bench blk: %s fio (%s %s) exit %d: %s\n", pv ? "pvio" : "native",
			target_names[t], c->name, st, why);
		goto out;
	}
	if (fio_parse(x->fio_out, m, why, sizeof(why)) < 0) {
		bench_progress_done();
		fprintf(stderr, "bench blk: %s fio (%s %s): %s\n", pv ? "pvio" : "native",
			target_names[t], c->name, why);
		goto out;
	}
	if (m->dev_ios_phase > 0 && m->ios > 0)
		m->dev_reqs_per_io = m->dev_ios_phase / m->ios;
	m->ok = true;
	r = 0;
out:
	free(a);
	return r;
}

/* ------------------------------------------------------------ fallback: native loop */

static int loop_native(const char *path, bool direct, const struct blk_case *c, double secs,
		       uint64_t size, struct meas *out)
{
	struct io_uring ring;
	bool wr = !strcmp(c->rw, "randwrite") || !strcmp(c->rw, "write");
	bool rnd = !strncmp(c->rw, "rand", 4);
	int fd = open(path, (wr ? O_RDWR : O_RDONLY) | (direct ? O_DIRECT : 0));
	void *bufs[64] = { 0 };
	uint64_t *start = calloc(c->qd, sizeof(uint64_t)), ios = 0, seq = 0, rng = 7;
	size_t cap = 1 << 22, nlat = 0;
	double *lat = malloc(cap * sizeof(double));
	uint64_t nblk = size / c->bs;
	int r = -1;
	bool ring_up = false;

	memset(out, 0, sizeof(*out));
	out->clat_p50 = out->clat_p99 = out->fio_cpu_s = NAN;
	if (c->qd > 64 || c->jobs != 1 || !c->loop_ok) {
		fprintf(stderr, "bench blk: the native loop cannot run %s\n", c->name);
		goto out;
	}
	if (fd < 0 || !start || !lat || io_uring_queue_init(c->qd * 2, &ring, 0) < 0) {
		fprintf(stderr, "bench blk: native setup: %s\n", strerror(errno));
		goto out;
	}
	ring_up = true;
	for (unsigned i = 0; i < c->qd; i++) {
		if (posix_memalign(&bufs[i], 4096, c->bs))
			goto out;
		memset(bufs[i], 0x6b, c->bs);
	}
	/* Process CPU, not thread CPU: io_uring's io-wq workers (buffered
	 * writes, tmpfs) are threads of this process and do the work. */
	uint64_t c0 = bench_proc_cpu_ns(0), t0 = bench_now_ns();
	uint64_t end = t0 + (uint64_t)(secs * 1e9);
	unsigned inflight = 0;
	for (unsigned i = 0; i < c->qd; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
		uint64_t blk = rnd ? (rng = mix(rng + 1)) % nblk : seq++ % nblk;
		if (wr)
			io_uring_prep_write(sqe, fd, bufs[i], c->bs, blk * c->bs);
		else
			io_uring_prep_read(sqe, fd, bufs[i], c->bs, blk * c->bs);
		io_uring_sqe_set_data64(sqe, i);
		start[i] = bench_now_ns();
		inflight++;
	}
	io_uring_submit(&ring);
	while (inflight) {
		struct io_uring_cqe *cqe;
		unsigned head, n = 0, resub = 0;

		if (io_uring_wait_cqe(&ring, &cqe) < 0)
			break;
		uint64_t now = bench_now_ns();
		io_uring_for_each_cqe(&ring, head, cqe) {
			unsigned i = (unsigned)io_uring_cqe_get_data64(cqe);
			n++;
			if (cqe->res != (int)c->bs) {
				fprintf(stderr, "bench blk: native I/O: %s\n",
					cqe->res < 0 ? strerror(-cqe->res) : "short");
				goto out;
			}
			ios++;
			if (nlat < cap)
				lat[nlat++] = (double)(now - start[i]) / 1e3;
			inflight--;
			if (now < end) {
				struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
				uint64_t blk = rnd ? (rng = mix(rng + 1)) % nblk : seq++ % nblk;
				if (wr)
					io_uring_prep_write(sqe, fd, bufs[i], c->bs, blk * c->bs);
				else
					io_uring_prep_read(sqe, fd, bufs[i], c->bs, blk * c->bs);
				io_uring_sqe_set_data64(sqe, i);
				start[i] = now;
				inflight++;
				resub++;
			}
		}
		io_uring_cq_advance(&ring, n);
		if (resub)
			io_uring_submit(&ring);
	}
	double el = (double)(bench_now_ns() - t0) / 1e9;
	qsort(lat, nlat, sizeof(double), cmpd);
	out->secs = el;
	out->ios = (double)ios;
	out->cpu_s = out->cpu_run_s = (double)(bench_proc_cpu_ns(0) - c0) / 1e9;
	out->iops = ios / el;
	out->mibps = ios * (double)c->bs / el / 1048576.0;
	out->p50 = bench_percentile(lat, nlat, 50);
	out->p99 = bench_percentile(lat, nlat, 99);
	out->ok = ios > 0;
	r = out->ok ? 0 : -1;
out:
	if (ring_up)
		io_uring_queue_exit(&ring);
	for (unsigned i = 0; i < 64; i++)
		free(bufs[i]);
	if (fd >= 0)
		close(fd);
	free(start);
	free(lat);
	return r;
}

/* ------------------------------------------------------------ fallback: pvio-blkio */

/* The number after "key" in pvio-blkio's one-line JSON, or NaN. */
static double line_num(const char *s, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\"", key);
	p = strstr(s, pat);
	if (!p)
		return NAN;
	p += strlen(pat);
	while (*p == ' ' || *p == ':')
		p++;
	return strtod(p, NULL);
}

static int loop_pvio(struct blk_ctx *x, int t, const struct blk_case *c, double secs,
		     struct meas *out)
{
	char pvio[600], blkio[600], bs[32], qd[16], sec[32], sz[32], buf[1024];
	uint64_t be0, be1, pd0;
	int r;

	memset(out, 0, sizeof(*out));
	out->clat_p50 = out->clat_p99 = out->fio_cpu_s = NAN;
	if (c->jobs != 1 || !c->loop_ok) {
		fprintf(stderr, "bench blk: pvio-blkio bench cannot run %s\n", c->name);
		return -1;
	}
	snprintf(pvio, sizeof(pvio), "%s/tools/pvio", x->build);
	snprintf(blkio, sizeof(blkio), "%s/tools/pvio-blkio", x->build);
	snprintf(bs, sizeof(bs), "%u", c->bs);
	snprintf(qd, sizeof(qd), "%u", c->qd);
	snprintf(sec, sizeof(sec), "%.0f", secs < 1 ? 1 : secs);
	snprintf(sz, sizeof(sz), "%llu", (unsigned long long)(x->size >> 20));
	char *av[] = { pvio, "run", "--domain", x->dom[t], "--", blkio, "--queues", "1", "bench",
		       "xvda", "--rw", (char *)c->rw, "--bs", bs, "--qd", qd, "--seconds", sec,
		       "--size-mb", sz, NULL };
	be0 = bench_proc_cpu_ns(x->env.blkback);
	pd0 = bench_proc_cpu_ns(x->env.pviod);
	r = bench_run_cmd(av, buf, sizeof(buf));
	be1 = bench_proc_cpu_ns(x->env.blkback);
	out->pviod_cpu_s = (double)(bench_proc_cpu_ns(x->env.pviod) - pd0) / 1e9;
	if (r != 0) {
		bench_progress_done();
		fprintf(stderr, "bench blk: pvio-blkio run failed (%d): %s\n", r, buf);
		return -1;
	}
	out->ios = line_num(buf, "ios");
	out->secs = line_num(buf, "seconds");
	out->iops = line_num(buf, "iops");
	out->mibps = line_num(buf, "mibps");
	out->p50 = line_num(buf, "p50_us");
	out->p99 = line_num(buf, "p99_us");
	out->cpu_s = out->cpu_run_s = line_num(buf, "cpu_s");
	out->be_cpu_s = out->be_run_s = (double)(be1 - be0) / 1e9;
	out->ok = out->ios > 0 && isfinite(out->cpu_s);
	return out->ok ? 0 : -1;
}

/* ------------------------------------------------------------ set-up */

static int pv_attach(struct blk_ctx *x, int t)
{
	char pvio[600], spec[700];

	snprintf(pvio, sizeof(pvio), "%s/tools/pvio", x->build);
	{
		char *av[] = { pvio, "create", x->dom[t], "memory=512M", NULL };
		if (bench_run_cmd(av, NULL, 0) != 0)
			return -1;
	}
	snprintf(spec, sizeof(spec), "direct=%d, vdev=xvda, access=rw, target=%s", t == 1,
		 x->img[t]);
	{
		char *av[] = { pvio, "block-attach", x->dom[t], spec, NULL };
		return bench_run_cmd(av, NULL, 0) == 0 ? 0 : -1;
	}
}

static void pv_detach(struct blk_ctx *x, int t)
{
	char pvio[600];

	snprintf(pvio, sizeof(pvio), "%s/tools/pvio", x->build);
	char *av[] = { pvio, "destroy", x->dom[t], NULL };
	bench_run_cmd(av, NULL, 0);
}

static int fill_file(const char *path, uint64_t size)
{
	int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
	char *b = malloc(1 << 20);
	int r = 0;

	if (fd < 0 || !b) {
		free(b);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	for (uint64_t off = 0; off < size; off += 1 << 20) {
		for (int i = 0; i < (1 << 20); i += 8)
			*(uint64_t *)(b + i) = mix(off + (uint64_t)i);
		if (pwrite(fd, b, 1 << 20, (off_t)off) != 1 << 20) {
			r = -1;
			break;
		}
	}
	fsync(fd);
	close(fd);
	free(b);
	return r;
}

static void warm_cache(const char *path)
{
	int fd = open(path, O_RDONLY);
	char *b = malloc(1 << 20);

	while (fd >= 0 && b && read(fd, b, 1 << 20) > 0)
		;
	free(b);
	if (fd >= 0)
		close(fd);
}

/* ------------------------------------------------------------ summaries */

/* One case under one method, over the repetitions. */
struct summary {
	int pairs;                    /* repetitions where both sides ran */
	int runs[2];                  /* runs that succeeded, per side */
	struct spread iops[2], mibps[2], p50[2], p99[2], cpu[2];   /* medians per side */
	struct spread dev_qd[2], dev_rpi[2], dev_kib[2];           /* the disk's, per side */
	struct spread ratio;          /* pvio/native IOPS, per pair */
	struct spread cpu_ratio;      /* pvio/native CPU per I/O, per pair */
	struct spread added_p50;      /* pvio p50 - native p50, per pair */
};

static void summarize(const struct rep *reps, int nreps, int meth, struct summary *s)
{
	double *v = calloc((size_t)nreps * 3 + 3, sizeof(double));
	double *w = v + nreps + 1, *u = w + nreps + 1;

	memset(s, 0, sizeof(*s));
	if (!v)
		return;
	for (int side = 0; side < 2; side++) {
#define SIDE_MED(field, dst) do { \
		for (int r = 0; r < nreps; r++) { \
			const struct meas *m = &reps[r].m[meth][side]; \
			v[r] = m->ok ? (field) : NAN; \
		} \
		dst = spread_of(v, nreps); \
	} while (0)
		SIDE_MED(m->iops, s->iops[side]);
		SIDE_MED(m->mibps, s->mibps[side]);
		SIDE_MED(m->p50, s->p50[side]);
		SIDE_MED(m->p99, s->p99[side]);
		SIDE_MED(cpu_per_mio(m), s->cpu[side]);
		SIDE_MED(m->dev_qd, s->dev_qd[side]);
		SIDE_MED(m->dev_reqs_per_io, s->dev_rpi[side]);
		SIDE_MED(m->dev_kib_per_req, s->dev_kib[side]);
#undef SIDE_MED
		s->runs[side] = s->iops[side].n;
	}
	for (int r = 0; r < nreps; r++) {
		const struct meas *n = &reps[r].m[meth][NAT], *p = &reps[r].m[meth][PV];
		bool both = n->ok && p->ok && n->iops > 0;

		v[r] = both ? p->iops / n->iops : NAN;
		w[r] = both ? cpu_per_mio(p) / cpu_per_mio(n) : NAN;
		u[r] = both ? p->p50 - n->p50 : NAN;
		s->pairs += both;
	}
	s->ratio = spread_of(v, nreps);
	s->cpu_ratio = spread_of(w, nreps);
	s->added_p50 = spread_of(u, nreps);
	free(v);
}

static void json_meas(struct bench_json *j, const char *key, const struct meas *m)
{
	bench_json_obj_begin(j, key);
	bench_json_bool(j, "ok", m->ok);
	if (m->ok) {
		bench_json_num(j, "iops", m->iops);
		bench_json_num(j, "mibps", m->mibps);
		bench_json_num(j, "lat_p50_us", m->p50);
		bench_json_num(j, "lat_p99_us", m->p99);
		bench_json_num(j, "clat_p50_us", m->clat_p50);
		bench_json_num(j, "clat_p99_us", m->clat_p99);
		bench_json_num(j, "ios", m->ios);
		bench_json_num(j, "wall_s", m->secs);
		bench_json_bool(j, "cpu_over_io_phase", m->cpu_window);
		bench_json_num(j, "process_cpu_s", m->cpu_s);
		bench_json_num(j, "blkback_cpu_s", m->be_cpu_s);
		bench_json_num(j, "process_cpu_whole_run_s", m->cpu_run_s);
		bench_json_num(j, "blkback_cpu_whole_run_s", m->be_run_s);
		bench_json_num(j, "fio_job_cpu_s", m->fio_cpu_s);
		bench_json_num(j, "pviod_cpu_s", m->pviod_cpu_s);
		bench_json_num(j, "cpu_s_per_mio", cpu_per_mio(m));
		if (m->queues)
			bench_json_int(j, "queues", m->queues);
		bench_json_num(j, "dev_qd", m->dev_qd);
		bench_json_num(j, "dev_reqs_per_io", m->dev_reqs_per_io);
		bench_json_num(j, "dev_kib_per_req", m->dev_kib_per_req);
	}
	bench_json_obj_end(j);
}

static void json_spread(struct bench_json *j, const char *key, const struct spread *s)
{
	bench_json_obj_begin(j, key);
	bench_json_int(j, "n", s->n);
	bench_json_num(j, "median", s->med);
	bench_json_num(j, "min", s->min);
	bench_json_num(j, "max", s->max);
	bench_json_obj_end(j);
}

/* The per-side medians and per-pair spreads of one method. */
static void json_summary(struct bench_json *j, const struct summary *s)
{
	static const char *const side[2] = { "native", "pvio" };

	bench_json_int(j, "pairs", s->pairs);
	for (int k = 0; k < 2; k++) {
		bench_json_obj_begin(j, side[k]);
		bench_json_int(j, "runs", s->runs[k]);
		bench_json_num(j, "iops", s->iops[k].med);
		bench_json_num(j, "mibps", s->mibps[k].med);
		bench_json_num(j, "lat_p50_us", s->p50[k].med);
		bench_json_num(j, "lat_p99_us", s->p99[k].med);
		bench_json_num(j, "cpu_s_per_mio", s->cpu[k].med);
		bench_json_num(j, "dev_qd", s->dev_qd[k].med);
		bench_json_num(j, "dev_reqs_per_io", s->dev_rpi[k].med);
		bench_json_num(j, "dev_kib_per_req", s->dev_kib[k].med);
		bench_json_obj_end(j);
	}
	json_spread(j, "iops_ratio", &s->ratio);
	json_spread(j, "cpu_ratio", &s->cpu_ratio);
	json_spread(j, "added_lat_p50_us", &s->added_p50);
}

static const char *const method_title[NR_METHODS] = {
	"fio on both sides: native fio io_uring vs fio-pvio through blkfront -> pvio-blkback",
	"native liburing loop vs pvio-blkio's generator in a guest (no fio)",
};

static void table_head(FILE *f, int meth)
{
	fprintf(f, "%s\n", method_title[meth]);
	fprintf(f, "%-6s %-18s %9s %9s %-22s %-15s %-15s %-15s %-19s %6s  %s\n", "target", "case",
		"nat IOPS", "pv IOPS", "pv/nat [min..max]", "p50us nat/pv", "p99us nat/pv",
		"CPU/Mio nat/pv", "CPU pv/nat [range]", "+p50us", "devQD nat/pv");
}

static void table_row(FILE *f, int t, const struct blk_case *c, const struct summary *s,
		      bool na)
{
	char ratio[40], cpur[40], added[16], dqd[32] = "-";

	if (na) {
		fprintf(f, "%-6s %-18s n/a (fio only)\n", target_names[t], c->name);
		return;
	}
	if (!s->pairs) {
		fprintf(f, "%-6s %-18s failed (native %d, pvio %d good runs)\n", target_names[t],
			c->name, s->runs[NAT], s->runs[PV]);
		return;
	}
	snprintf(ratio, sizeof(ratio), "%.3f [%.3f..%.3f]", s->ratio.med, s->ratio.min,
		 s->ratio.max);
	snprintf(cpur, sizeof(cpur), "%.2f [%.2f..%.2f]", s->cpu_ratio.med, s->cpu_ratio.min,
		 s->cpu_ratio.max);
	if (c->qd == 1 && c->jobs == 1)
		snprintf(added, sizeof(added), "%.2f", s->added_p50.med);
	else
		snprintf(added, sizeof(added), "-");
	/* Only where the I/O reaches the disk: a cached read's is noise. */
	if (s->dev_qd[NAT].n && s->dev_qd[PV].n && s->dev_qd[NAT].med >= 0.5)
		snprintf(dqd, sizeof(dqd), "%.1f/%.1f", s->dev_qd[NAT].med, s->dev_qd[PV].med);
	fprintf(f, "%-6s %-18s %9.0f %9.0f %-22s %7.1f/%-7.1f %7.1f/%-7.1f %7.2f/%-7.2f %-19s %6s  %s\n",
		target_names[t], c->name, s->iops[NAT].med, s->iops[PV].med, ratio,
		s->p50[NAT].med, s->p50[PV].med, s->p99[NAT].med, s->p99[PV].med,
		s->cpu[NAT].med, s->cpu[PV].med, cpur, added, dqd);
}

/* ------------------------------------------------------------ driver */

static void blk_usage(FILE *f)
{
	fprintf(f,
		"  blk options: --seconds S      per run (default 3; --quick: 1)\n"
		"               --size-mb M      file size (default 512; --quick: 128)\n"
		"               (--quick also means one repetition unless --reps is given)\n"
		"               --case NAME      only this case (repeatable): a full name\n"
		"                                (cached-4k-randread-qd32), a case of both targets\n"
		"                                (4k-randread-qd32) or a target (cached, direct)\n"
		"               --also-blkio     also run the native liburing loop against\n"
		"                                pvio-blkio's own generator (no fio on either side)\n"
		"               --no-fio         only that loop (the fallback when fio is missing)\n"
		"               --fio-opt OPT    an extra fio option for both sides (repeatable)\n"
		"               --native-opt OPT an extra fio option for the native side only\n"
		"               --pvio-opt OPT   an extra fio option for the pvio side only\n"
		"                                (e.g. --pvio-opt=--pvio_poll_us=0)\n"
		"               --blkback-opt O  an extra pvio-blkback option (repeatable)\n"
		"  Cases:");
	for (unsigned k = 0; k < NR_CASES; k++)
		fprintf(f, " %s", cases[k].name);
	fprintf(f, "\n  fio: $PVIO_FIO, else the one scripts/fetch-fio built (its cache);\n"
		   "  the engine: $BUILD/tools/fio/fio-pvio.so (make fio).\n");
}

/* Does `sel` name case k of target t? */
static bool case_selected(const char *const *sel, int nsel, int t, unsigned k)
{
	char full[64];

	if (!nsel)
		return true;
	snprintf(full, sizeof(full), "%s-%s", target_names[t], cases[k].name);
	for (int i = 0; i < nsel; i++)
		if (!strcmp(sel[i], full) || !strcmp(sel[i], cases[k].name) ||
		    !strcmp(sel[i], target_names[t]))
			return true;
	return false;
}

/* Run one side of one method. */
static void run_side(struct blk_ctx *x, int meth, int side, int t, const struct blk_case *c,
		     double secs, int rep, int reps, struct meas *m)
{
	bench_progress("blk: %s %s rep %d/%d: %s %s", target_names[t], c->name, rep + 1, reps,
		       meth == M_FIO ? "fio" : "loop", side == PV ? "pvio" : "native");
	if (meth == M_FIO)
		fio_run(x, t, c, side == PV, secs, m);
	else if (side == NAT)
		loop_native(x->img[t], t == 1, c, secs, x->size, m);
	else
		loop_pvio(x, t, c, secs, m);
}

static int blk_run(const struct bench_opts *o, int argc, char **argv)
{
	enum { O_CASE = 256, O_ALSO, O_FIOOPT, O_NATOPT, O_PVOPT, O_BBOPT };
	static const struct option lo[] = {
		{ "seconds", required_argument, NULL, 's' },
		{ "size-mb", required_argument, NULL, 'z' },
		{ "no-fio", no_argument, NULL, 'F' },
		{ "case", required_argument, NULL, O_CASE },
		{ "also-blkio", no_argument, NULL, O_ALSO },
		{ "fio-opt", required_argument, NULL, O_FIOOPT },
		{ "native-opt", required_argument, NULL, O_NATOPT },
		{ "pvio-opt", required_argument, NULL, O_PVOPT },
		{ "blkback-opt", required_argument, NULL, O_BBOPT },
		{ NULL, 0, NULL, 0 },
	};
	static struct blk_ctx x;
	const char *sel[32], *bb_args[MAX_XOPT + 3];
	int nsel = 0, nbb = 0, c, reps, rc = 0;
	double secs = o->quick ? 1 : 3;
	bool no_fio = false, also_blkio = false, meth_on[NR_METHODS];
	bool want[NR_TARGETS][NR_CASES], any[NR_TARGETS] = { false, false };
	char why[600] = "", path[600], tpath[600], mline[256];
	struct rep *res[NR_TARGETS][NR_CASES] = { { NULL } };
	int judge;
	bool measured = false;

	memset(&x, 0, sizeof(x));
	x.env.pviod = x.env.blkback = -1;
	x.size = (o->quick ? 128ull : 512ull) << 20;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 's':
			secs = atof(optarg);
			if (!(secs >= 0.1 && secs <= 3600)) {
				fprintf(stderr, "bench blk: --seconds must be 0.1..3600\n");
				return 2;
			}
			break;
		case 'z': {
			unsigned long long mb = strtoull(optarg, NULL, 10);
			if (mb < 16 || mb > (1ull << 20)) {
				fprintf(stderr, "bench blk: --size-mb must be 16..1048576\n");
				return 2;
			}
			x.size = mb << 20;
			break;
		}
		case 'F': no_fio = true; break;
		case O_ALSO: also_blkio = true; break;
		case O_CASE:
			if (nsel == (int)(sizeof(sel) / sizeof(sel[0]))) {
				fprintf(stderr, "bench blk: too many --case\n");
				return 2;
			}
			sel[nsel++] = optarg;
			break;
		case O_FIOOPT: case O_NATOPT: case O_PVOPT: case O_BBOPT: {
			const char **v = c == O_FIOOPT ? x.xopt : c == O_NATOPT ? x.nopt :
					 c == O_PVOPT ? x.popt : bb_args + 2;
			int *n = c == O_FIOOPT ? &x.nxopt : c == O_NATOPT ? &x.nnopt :
				 c == O_PVOPT ? &x.npopt : &nbb;
			if (*n == MAX_XOPT || strlen(optarg) > 400) {
				fprintf(stderr, "bench blk: too many (or too long) extra options\n");
				return 2;
			}
			v[(*n)++] = optarg;
			break;
		}
		default:
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "bench blk: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	for (int i = 0; i < nsel; i++) {
		bool hit = false;
		for (int t = 0; t < NR_TARGETS; t++)
			for (unsigned k = 0; k < NR_CASES; k++)
				hit |= case_selected(&sel[i], 1, t, k);
		if (!hit) {
			fprintf(stderr, "bench blk: no case '%s'; cases:", sel[i]);
			for (unsigned k = 0; k < NR_CASES; k++)
				fprintf(stderr, " %s", cases[k].name);
			fprintf(stderr, " (each under cached- and direct-), or cached, direct\n");
			return 2;
		}
	}
	for (int t = 0; t < NR_TARGETS; t++)
		for (unsigned k = 0; k < NR_CASES; k++)
			any[t] |= want[t][k] = case_selected(sel, nsel, t, k);
	reps = o->reps_given ? o->reps : o->quick ? 1 : o->reps;
	if (reps < 1)
		reps = 1;
	bench_find_build(o->repo, x.build, sizeof(x.build));

	/* The judge: fio when the built fio and the engine are there. */
	judge = M_FIO;
	if (no_fio) {
		judge = M_LOOP;
		snprintf(why, sizeof(why), "--no-fio");
	} else if (find_fio(&x, why, sizeof(why)) < 0) {
		judge = M_LOOP;
	}
	if (judge == M_LOOP && !no_fio)
		fprintf(stderr, "bench blk: fio unavailable (%s): falling back to the native "
				"liburing loop vs pvio-blkio bench\n", why);

	for (int t = 0; t < NR_TARGETS; t++)
		for (unsigned k = 0; k < NR_CASES; k++)
			if (want[t][k] && !(res[t][k] = calloc((size_t)reps, sizeof(struct rep))))
				return 1;
	/* Both targets on the root filesystem (ext4 here): /var/tmp. */
	for (int t = 0; t < NR_TARGETS; t++) {
		snprintf(x.img[t], sizeof(x.img[t]), "/var/tmp/pvio-bench-%s-%d.img",
			 target_names[t], (int)getpid());
		snprintf(x.dom[t], sizeof(x.dom[t]), "bench%d", t);
	}
	bench_progress("blk: preparing the %llu MiB files", (unsigned long long)(x.size >> 20));
	for (int t = 0; t < NR_TARGETS; t++)
		if (any[t] && fill_file(x.img[t], x.size)) {
			bench_progress_done();
			fprintf(stderr, "bench blk: cannot write %s\n", x.img[t]);
			rc = 1;
			goto out_files;
		}
	for (int t = 0; t < NR_TARGETS; t++)
		file_devstat(x.img[t], x.devstat[t], sizeof(x.devstat[t]));
	/* The 2-job case wants a blkfront queue per job: blkback's default
	 * (one per CPU) unless the machine has a single CPU. */
	if (bench_ncpus() < 2) {
		bb_args[0] = "--max-queues";
		bb_args[1] = "2";
	} else {
		bb_args[0] = bb_args[1] = NULL;
	}
	{
		const char *bb[MAX_XOPT + 3];
		int n = 0;

		for (int i = 0; i < 2; i++)
			if (bb_args[i])
				bb[n++] = bb_args[i];
		for (int i = 0; i < nbb; i++)
			bb[n++] = bb_args[2 + i];
		bb[n] = NULL;
		if (bench_pv_start(&x.env, x.build, bb) < 0) {
			bench_progress_done();
			fprintf(stderr, "bench blk: cannot start pviod/pvio-blkback from %s\n", x.build);
			rc = 1;
			goto out_env;
		}
	}
	snprintf(x.fio_out, sizeof(x.fio_out), "%s/fio.json", x.env.dir);
	snprintf(x.fio_log, sizeof(x.fio_log), "%s/fio.log", x.env.dir);

	bool probed = judge != M_FIO;
	measured = true;
	for (int t = 0; t < NR_TARGETS && !rc; t++) {
		if (!any[t])
			continue;
		if (pv_attach(&x, t) < 0) {
			bench_progress_done();
			fprintf(stderr, "bench blk: cannot attach %s to a guest\n", x.img[t]);
			rc = 1;
			break;
		}
		if (t == 0)
			warm_cache(x.img[0]);
		if (!probed) {
			/* A short job on each side: the engine loads, the disk
			 * connects, fio's JSON reads back. */
			struct meas pm;

			probed = true;
			bench_progress("blk: probing fio on both sides");
			for (int side = 0; side < 2 && judge == M_FIO; side++)
				if (fio_run(&x, t, &cases[1], side == PV, 0.3, &pm) < 0) {
					char l[300];
					bench_last_line(x.fio_log, l, sizeof(l));
					snprintf(why, sizeof(why), "the %s probe job failed: %s",
						 side == PV ? "pvio" : "native", l);
					judge = M_LOOP;
				}
			if (judge == M_LOOP) {
				bench_progress_done();
				fprintf(stderr, "bench blk: fio unusable (%s): falling back to the "
						"native liburing loop vs pvio-blkio bench\n", why);
			}
		}
		meth_on[M_FIO] = judge == M_FIO;
		meth_on[M_LOOP] = judge == M_LOOP || also_blkio;
		for (unsigned k = 0; k < NR_CASES; k++) {
			if (!want[t][k])
				continue;
			for (int r = 0; r < reps; r++) {
				struct rep *p = &res[t][k][r];

				/* Back to back, the order alternating (ABBA) so a
				 * drift does not favour one side. */
				p->pv_first = r & 1;
				p->idle = bench_wait_idle(0.9, o->quick ? 0 : 1500);
				for (int meth = 0; meth < NR_METHODS; meth++) {
					if (!meth_on[meth] || (meth == M_LOOP && !cases[k].loop_ok))
						continue;
					for (int i = 0; i < 2; i++) {
						int side = p->pv_first ? !i : i;
						run_side(&x, meth, side, t, &cases[k], secs, r, reps,
							 &p->m[meth][side]);
						if (!p->m[meth][side].ok)
							rc = 1;
					}
				}
			}
		}
		pv_detach(&x, t);
	}
	bench_progress_done();
out_env:
	bench_pv_stop(&x.env);
out_files:
	for (int t = 0; t < NR_TARGETS; t++)
		unlink(x.img[t]);
	if (!measured)
		goto out;          /* the set-up failed: leave the last results be */

	/* Table, JSON, chart. */
	FILE *jf, *tf;
	struct bench_json j;
	FILE *outs[2];

	if (bench_out_path(o, "blk", "json", path, sizeof(path)) < 0 ||
	    bench_out_path(o, "blk", "txt", tpath, sizeof(tpath)) < 0)
		goto out;
	jf = fopen(path, "w");
	tf = fopen(tpath, "w");
	if (!jf || !tf) {
		fprintf(stderr, "bench blk: cannot write %s / %s\n", path, tpath);
		if (jf)
			fclose(jf);
		if (tf)
			fclose(tf);
		rc = 1;
		goto out;
	}
	outs[0] = stdout;
	outs[1] = tf;
	bench_machine_line(mline, sizeof(mline), o->repo);
	for (int w = 0; w < 2; w++) {
		fprintf(outs[w], "pvio-bench blk: %s\n", mline);
		fprintf(outs[w], "%.0f s per run, %d rep(s), %llu MiB files%s\n", secs, reps,
			(unsigned long long)(x.size >> 20), o->quick ? " (--quick: indicative only)" : "");
		if (judge == M_FIO)
			fprintf(outs[w], "judge: %s (%s); native: %s\n", x.fio_version, x.fio, FIO_NATIVE);
		else
			fprintf(outs[w], "judge: the fallback loop; fio not used (%s)\n", why);
	}
	bench_json_init(&j, jf);
	bench_json_obj_begin(&j, NULL);
	bench_json_str(&j, "benchmark", "blk");
	bench_json_machine(&j, o->repo);
	bench_json_str(&j, "judge", judge == M_FIO ? "fio" : "loop");
	bench_json_obj_begin(&j, "fio");
	bench_json_bool(&j, "used", judge == M_FIO);
	if (judge != M_FIO)
		bench_json_str(&j, "why_not", why);
	if (x.fio[0])
		bench_json_str(&j, "binary", x.fio);
	if (x.fio_version[0])
		bench_json_str(&j, "version", x.fio_version);
	if (x.engine[0])
		bench_json_str(&j, "engine", x.engine);
	bench_json_str(&j, "common_options", FIO_COMMON " --output-format=json");
	bench_json_str(&j, "native_options", FIO_NATIVE);
	bench_json_str(&j, "native_note", "registered buffers and file for a best native figure; "
		       "no sqthread_poll (a kernel thread spinning on a CPU of its own), no hipri "
		       "(needs a block device with poll queues; the target is a file)");
	bench_json_str(&j, "pvio_options", "--ioengine=external:fio-pvio.so --pvio_queues=<numjobs> "
		       "(engine defaults otherwise), fio run as a guest: pvio run --domain G -- fio");
	bench_json_arr_begin(&j, "extra_options_both");
	for (int i = 0; i < x.nxopt; i++)
		bench_json_str(&j, NULL, x.xopt[i]);
	bench_json_arr_end(&j);
	bench_json_arr_begin(&j, "extra_options_native");
	for (int i = 0; i < x.nnopt; i++)
		bench_json_str(&j, NULL, x.nopt[i]);
	bench_json_arr_end(&j);
	bench_json_arr_begin(&j, "extra_options_pvio");
	for (int i = 0; i < x.npopt; i++)
		bench_json_str(&j, NULL, x.popt[i]);
	bench_json_arr_end(&j);
	bench_json_obj_end(&j);
	bench_json_arr_begin(&j, "blkback_options");
	for (int i = 0; i < 2 + nbb; i++)
		if (bb_args[i])
			bench_json_str(&j, NULL, bb_args[i]);
	bench_json_arr_end(&j);
	bench_json_str(&j, "latency", "fio: total latency (lat = slat + clat) percentiles, us: "
		       "io_uring stamps its issue time at commit and fio-pvio does not, so clat "
		       "starts at different points on the two sides (clat is recorded too); "
		       "loop: submit to reap");
	bench_json_str(&j, "cpu", "CPU seconds per million I/Os: user + system time of the I/O "
		       "process (fio with all its threads, io-wq workers included) plus, for pvio, "
		       "pvio-blkback's; fio: over the I/O phase (/proc read by fio's exec_prerun and "
		       "exec_postrun hooks; cpu_over_io_phase false: the whole run instead); loop: "
		       "the generator's process and blkback over the run");
	bench_json_str(&j, "order", "each repetition runs native and pvio back to back; odd "
		       "repetitions run pvio first");
	bench_json_num(&j, "seconds_per_run", secs);
	bench_json_int(&j, "file_bytes", (long long)x.size);
	bench_json_int(&j, "reps", reps);
	bench_json_bool(&j, "quick", o->quick);
	bench_json_arr_begin(&j, "cases");

	FILE *df = NULL;
	char dat[640], png[640], cmd[2048];
	snprintf(dat, sizeof(dat), "%s.dat", tpath);
	if (bench_out_path(o, "blk", "png", png, sizeof(png)) == 0)
		df = fopen(dat, "w");
	int rows = 0;
	for (int meth = 0; meth < NR_METHODS; meth++) {
		bool shown = meth == judge || (meth == M_LOOP && also_blkio);
		if (!shown)
			continue;
		for (int w = 0; w < 2; w++) {
			fputc('\n', outs[w]);
			table_head(outs[w], meth);
		}
		for (int t = 0; t < NR_TARGETS; t++)
			for (unsigned k = 0; k < NR_CASES; k++) {
				struct summary s;
				bool na = meth == M_LOOP && !cases[k].loop_ok;

				if (!want[t][k] || !res[t][k])
					continue;
				summarize(res[t][k], reps, meth, &s);
				for (int w = 0; w < 2; w++)
					table_row(outs[w], t, &cases[k], &s, na);
				if (meth == judge && df && s.pairs) {
					fprintf(df, "\"%s\\n%s\" %.4f %.4f %.4f\n", target_names[t],
						cases[k].name, s.ratio.med, s.ratio.min, s.ratio.max);
					rows++;
				}
			}
	}
	if (df)
		fclose(df);
	for (int t = 0; t < NR_TARGETS; t++)
		for (unsigned k = 0; k < NR_CASES; k++) {
			struct summary s;
			char name[64];

			if (!want[t][k] || !res[t][k])
				continue;
			snprintf(name, sizeof(name), "%s-%s", target_names[t], cases[k].name);
			bench_json_obj_begin(&j, NULL);
			bench_json_str(&j, "name", name);
			bench_json_str(&j, "target", target_names[t]);
			bench_json_str(&j, "rw", cases[k].rw);
			if (cases[k].rwmixread)
				bench_json_int(&j, "rwmixread", cases[k].rwmixread);
			bench_json_int(&j, "bs", cases[k].bs);
			bench_json_int(&j, "iodepth", cases[k].qd);
			bench_json_int(&j, "numjobs", cases[k].jobs);
			bench_json_bool(&j, "direct", t == 1);
			for (int meth = 0; meth < NR_METHODS; meth++) {
				bool na = meth == M_LOOP && !cases[k].loop_ok;
				bool ran = meth == judge || (meth == M_LOOP && also_blkio);

				if (!ran || (na && meth != judge))
					continue;
				summarize(res[t][k], reps, meth, &s);
				if (meth == judge) {
					/* The judged figures, flat (as every pvio-bench
					 * JSON has them), then the detail. */
					bench_json_str(&j, "method", meth == M_FIO ? "fio" : "loop");
					bench_json_str(&j, "baseline", meth == M_FIO
						       ? "native io_uring (fio)" : "native io_uring (liburing loop)");
					bench_json_num(&j, "baseline_value", s.iops[NAT].med);
					bench_json_num(&j, "pvio_value", s.iops[PV].med);
					bench_json_str(&j, "unit", "IOPS");
					bench_json_num(&j, "ratio", s.ratio.med);
					bench_json_num(&j, "ratio_min", s.ratio.min);
					bench_json_num(&j, "ratio_max", s.ratio.max);
					if (na)
						bench_json_str(&j, "skipped", "the loop runs one job of "
							       "pure reads or writes; needs fio");
					json_summary(&j, &s);
				} else {
					bench_json_obj_begin(&j, "blkio");
					bench_json_str(&j, "method", "loop");
					json_summary(&j, &s);
					bench_json_obj_end(&j);
				}
			}
			bench_json_arr_begin(&j, "reps");
			for (int r = 0; r < reps; r++) {
				const struct rep *p = &res[t][k][r];
				const struct meas *jn = &p->m[judge][NAT], *jp = &p->m[judge][PV];

				bench_json_obj_begin(&j, NULL);
				bench_json_num(&j, "pvio", jp->ok ? jp->iops : NAN);
				bench_json_num(&j, "baseline", jn->ok ? jn->iops : NAN);
				bench_json_num(&j, "ratio", jn->ok && jp->ok && jn->iops > 0
					       ? jp->iops / jn->iops : NAN);
				bench_json_num(&j, "cpu_ratio", jn->ok && jp->ok
					       ? cpu_per_mio(jp) / cpu_per_mio(jn) : NAN);
				bench_json_bool(&j, "pvio_first", p->pv_first);
				bench_json_num(&j, "idle_before", p->idle);
				json_meas(&j, "native", jn);
				json_meas(&j, "pvio", jp);
				if (judge != M_LOOP && also_blkio && cases[k].loop_ok) {
					json_meas(&j, "loop_native", &p->m[M_LOOP][NAT]);
					json_meas(&j, "blkio_pvio", &p->m[M_LOOP][PV]);
				}
				bench_json_obj_end(&j);
			}
			bench_json_arr_end(&j);
			bench_json_obj_end(&j);
		}
	bench_json_arr_end(&j);
	bench_json_obj_end(&j);
	fclose(jf);
	for (int w = 0; w < 2; w++)
		fprintf(outs[w], "\npv/nat: median of the back-to-back pairs' IOPS ratios [min..max]; "
			"p50/p99: %s (us);\n"
			"CPU/Mio: CPU seconds per million I/Os of the whole I/O process (+ pvio-blkback "
			"for pvio)%s;\n+p50us: pvio p50 - native p50 at QD1 (median of pairs);\n"
			"devQD: requests in the disk under the file on average over the I/O phase "
			"(its time_in_queue / wall time; JSON: dev_qd,\n"
			"dev_reqs_per_io, dev_kib_per_req): when the disk bounds a case, IOPS follow it\n",
			judge == M_FIO ? (also_blkio ? "fio: total latency (slat + clat); loop: "
					  "submit to reap" : "fio's total latency (slat + clat)")
				       : "submit to reap",
			judge == M_FIO ? ", fio: over its I/O phase" : "");
	fclose(tf);
	printf("JSON: %s\n", path);

	/* The chart (gnuplot), when available: median ratio, range as bars. */
	if (rows) {
		snprintf(cmd, sizeof(cmd),
			 "gnuplot -e \"set terminal png noenhanced size 1200,520; set output '%s'; "
			 "set title 'pvio / native io_uring (%s): IOPS ratio, median of pairs, "
			 "min..max'; set style fill solid 0.5; set boxwidth 0.7; "
			 "set yrange [0:*]; set xtics rotate by -30 font ',8'; set grid y; "
			 "plot '%s' using 0:2:xtic(1) with boxes title 'pvio/native', "
			 "'' using 0:2:3:4 with yerrorbars lc rgb 'black' pt 0 title 'range', "
			 "1 with lines title 'native'\" 2>/dev/null",
			 png, judge == M_FIO ? "fio" : "loop", dat);
		if (system(cmd) == 0)
			printf("chart: %s\n", png);
	}
	unlink(dat);
out:
	for (int t = 0; t < NR_TARGETS; t++)
		for (unsigned k = 0; k < NR_CASES; k++)
			free(res[t][k]);
	return rc;
}

const struct bench_cmd bench_cmd_blk = {
	.name = "blk",
	.summary = "block path judged by fio: fio-pvio (guest -> pvio-blkback) vs fio io_uring "
		   "(IOPS, latency, CPU per I/O)",
	.usage = blk_usage,
	.run = blk_run,
};
