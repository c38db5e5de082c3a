/* SPDX-License-Identifier: MIT */
/*
 * pvio-bench rbd: a disk on a Ceph RBD image through pvio against librbd
 * used directly, on the same image, in one invocation, judged by fio.
 *
 *   direct  fio --ioengine=rbd: fio's own librbd engine (Debian's fio; the
 *           fio that scripts/fetch-fio builds for the pvio engine was
 *           configured without librbd)
 *   pvio    fio --ioengine=external:fio-pvio.so as a guest (pvio run):
 *           fio -> blkfront -> ring -> pvio-blkback (rbd engine) -> librbd
 *           -> the same image
 *
 * The cluster is the tests' (tests/rbd/ceph-cluster.sh: one mon, one
 * bluestore OSD on a sparse file, no mgr), started in a folder of its own
 * and stopped at the end; rbd_cache=false for both sides. The image
 * (--size-mb, default 512) is filled first with 4 MiB sequential writes
 * (rbd bench), so that reads reach real objects. Cases: 4k randread QD32,
 * 4k randwrite QD32, 64k sequential read QD8; one job each (one blkfront
 * queue). Each repetition runs both sides back to back, the order
 * alternating, and every figure is the median over repetitions of the
 * pairs' pvio/direct ratio, with its range.
 *
 * The pvio disk is attached only for its own runs: pvio-blkback holds the
 * image's exclusive lock while the disk is attached (blkback/rbd.h), and
 * fio's rbd engine needs that lock to write. Both sides' figures include
 * their setup inside fio's runtime window only as fio counts it (fio
 * starts its clock after the engine's setup: the rados connection, the
 * blkfront handshake).
 *
 * --osd-cpu N stands for a storage host of its own: the cluster's daemons
 * run on CPU N only, the bench and everything else it starts on the other
 * CPUs (by default all share all CPUs, and the client side's CPU is taken
 * from the OSD's).
 *
 * CPU per I/O: user + system time of the fio process over its whole run
 * (wait4), plus, for pvio, pvio-blkback's over the same time (/proc); the
 * OSD's and the mon's are not counted on either side.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench_common.h"

struct rbd_case {
	const char *name;
	const char *rw;            /* fio's rw= */
	const char *dir;           /* fio's JSON object with the figures */
	unsigned bs, qd;
};

static const struct rbd_case cases[] = {
	{ "4k-randread-qd32", "randread", "read", 4096, 32 },
	{ "4k-randwrite-qd32", "randwrite", "write", 4096, 32 },
	{ "64k-read-qd8", "read", "read", 65536, 8 },
};
#define NR_CASES (sizeof(cases) / sizeof(cases[0]))
enum { DIRECT, PV, NR_SIDES };
static const char *const side_names[NR_SIDES] = { "direct", "pvio" };

struct meas {
	bool ok;
	double iops, mibps, p50, p99, lat_mean;   /* latencies in µs (clat, lat) */
	double ios, cpu_s, be_cpu_s, secs;
};

struct rep {
	struct meas m[NR_SIDES];
	bool pv_first;
	double idle;
};

struct rbd_ctx {
	struct bench_pv_env env;
	char build[512];
	char repo[512];
	char ceph[64];             /* the cluster's folder */
	char conf[128];
	char fio[1024];            /* fetched fio, loads fio-pvio.so */
	char fio_rbd[1024];        /* a fio with the rbd engine */
	char engine[1100];
	char fio_ver[64], fio_rbd_ver[64];
	char out[600], log[600];
	uint64_t size;
	double secs;
	bool cluster_up;
	char popt[1024];           /* --pvio-opt words, each after an S */
	bool want[NR_CASES];       /* --case */
	char bbopt[512];           /* --blkback-opt, for the record */
	int  osd_cpu;              /* --osd-cpu: the cluster's CPU, the rest ours; -1 */
};

static void bench_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void bench_log(const char *fmt, ...)
{
	va_list ap;

	bench_progress_done();
	fprintf(stderr, "bench rbd: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ------------------------------------------------------------ processes */

/* bench_run_logged with a printf-built argv: words separated by '\x1f' (no
 * quoting issues with paths). */
static int runf(struct rbd_ctx *x, double timeout_s, double *cpu_s, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int runf(struct rbd_ctx *x, double timeout_s, double *cpu_s, const char *fmt, ...)
{
	char buf[8192], *av[96];
	int n = 0;
	va_list ap;

	va_start(ap, fmt);
	if (vsnprintf(buf, sizeof(buf), fmt, ap) >= (int)sizeof(buf)) {
		va_end(ap);
		return -1;
	}
	va_end(ap);
	for (char *p = buf; p && n < 95;) {
		av[n++] = p;
		p = strchr(p, '\x1f');
		if (p)
			*p++ = 0;
	}
	av[n] = NULL;
	return bench_run_logged(av, NULL, x->log, timeout_s, cpu_s, NULL);
}
#define S "\x1f"

/* ------------------------------------------------------------ fio's JSON */

/* The number after "key" : within [p, end), or NaN. */
static double num_after(const char *p, const char *end, const char *key)
{
	char k[80];
	const char *q;

	snprintf(k, sizeof(k), "\"%s\"", key);
	q = p ? strstr(p, k) : NULL;
	if (!q || (end && q >= end))
		return NAN;
	q += strlen(k);
	while (*q == ' ' || *q == ':' || *q == '\t')
		q++;
	return strtod(q, NULL);
}

/* The object that follows "key" : { from p: its start, *end past it. */
static const char *obj_after(const char *p, const char *key, const char **end)
{
	char k[80];
	const char *q;
	int depth = 0;

	snprintf(k, sizeof(k), "\"%s\"", key);
	q = p ? strstr(p, k) : NULL;
	if (!q || !(q = strchr(q, '{')))
		return NULL;
	for (const char *r = q; *r; r++) {
		if (*r == '{')
			depth++;
		else if (*r == '}' && --depth == 0) {
			*end = r + 1;
			return q;
		}
	}
	return NULL;
}

static int fio_parse(const char *path, const char *dir, struct meas *m, char *why, size_t wl)
{
	char *t = bench_read_text(path, 64u << 20);
	const char *jobs, *je, *o, *oe, *c, *ce, *l, *le;

	if (!t) {
		snprintf(why, wl, "no fio output");
		return -1;
	}
	jobs = obj_after(strstr(t, "\"jobs\""), "jobs", &je);
	o = jobs ? obj_after(jobs, dir, &oe) : NULL;
	if (!o) {
		snprintf(why, wl, "fio's JSON has no jobs[0].%s", dir);
		free(t);
		return -1;
	}
	if (num_after(jobs, o, "error") != 0) {
		snprintf(why, wl, "fio reports error %g", num_after(jobs, o, "error"));
		free(t);
		return -1;
	}
	m->iops = num_after(o, oe, "iops");
	m->mibps = num_after(o, oe, "bw_bytes") / 1048576.0;
	m->ios = num_after(o, oe, "total_ios");
	c = obj_after(o, "clat_ns", &ce);
	m->p50 = c && ce <= oe ? num_after(c, ce, "50.000000") / 1e3 : NAN;
	m->p99 = c && ce <= oe ? num_after(c, ce, "99.000000") / 1e3 : NAN;
	l = obj_after(o, "lat_ns", &le);
	m->lat_mean = l && le <= oe ? num_after(l, le, "mean") / 1e3 : NAN;
	free(t);
	if (!(m->ios > 0) || !isfinite(m->iops)) {
		snprintf(why, wl, "fio's JSON has no I/O count");
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ set-up */

static int find_tools(struct rbd_ctx *x, char *why, size_t wl)
{
	const char *env = getenv("PVIO_FIO"), *renv = getenv("PVIO_FIO_RBD");
	struct stat st;
	char *av[4], out[64];

	if (env && *env) {
		snprintf(x->fio, sizeof(x->fio), "%s", env);
	} else {
		const char *c = getenv("PVIO_FIO_CACHE"), *xdg = getenv("XDG_CACHE_HOME"),
			   *home = getenv("HOME");
		char rec[700], *src;

		if (c && *c)
			snprintf(rec, sizeof(rec), "%s/.complete", c);
		else if (xdg && *xdg)
			snprintf(rec, sizeof(rec), "%s/pvio-fio/.complete", xdg);
		else
			snprintf(rec, sizeof(rec), "%s/.cache/pvio-fio/.complete", home ? home : "");
		src = bench_read_text(rec, 64u << 20);
		if (!src || !*src) {
			snprintf(why, wl, "no fio build for the pvio engine (scripts/fetch-fio, "
				 "or make fio)");
			free(src);
			return -1;
		}
		src[strcspn(src, "\n")] = 0;
		snprintf(x->fio, sizeof(x->fio), "%s/fio", src);
		free(src);
	}
	snprintf(x->engine, sizeof(x->engine), "%s/tools/fio/fio-pvio.so", x->build);
	if (access(x->fio, X_OK) || stat(x->engine, &st)) {
		snprintf(why, wl, "no %.250s or no %.250s (make fio)", x->fio, x->engine);
		return -1;
	}
	snprintf(x->fio_rbd, sizeof(x->fio_rbd), "%s", renv && *renv ? renv : "/usr/bin/fio");
	av[0] = x->fio_rbd;
	av[1] = "--enghelp=rbd";
	av[2] = NULL;
	if (access(x->fio_rbd, X_OK) || bench_run_cmd(av, NULL, 0) != 0) {
		snprintf(why, wl, "%.300s has no rbd engine (Debian's fio has; or set PVIO_FIO_RBD)",
			 x->fio_rbd);
		return -1;
	}
	for (int i = 0; i < 2; i++) {
		av[0] = i ? x->fio_rbd : x->fio;
		av[1] = "--version";
		av[2] = NULL;
		out[0] = 0;
		bench_run_cmd(av, out, sizeof(out));
		out[strcspn(out, "\n")] = 0;
		snprintf(i ? x->fio_rbd_ver : x->fio_ver, sizeof(x->fio_ver), "%s", out);
	}
	{
		char cmd[700], res[16] = "";
		char *sh[] = { "/bin/sh", "-c", cmd, NULL };

		snprintf(cmd, sizeof(cmd), "ldd '%s/blkback/pvio-blkback' | grep -c librbd", x->build);
		bench_run_cmd(sh, res, sizeof(res));
		if (atoi(res) < 1) {
			snprintf(why, wl, "pvio-blkback was built without librbd (install "
				 "librbd-dev: scripts/install-deps, and rebuild)");
			return -1;
		}
	}
	return 0;
}

/* --osd-cpu: every thread of the cluster's daemons (their pid files, from
 * ceph-cluster.sh) to CPU x->osd_cpu; threads they start later inherit
 * it. The number of daemons pinned, or -1. */
static int pin_cluster(struct rbd_ctx *x)
{
	static const char *const daemons[] = { "mon.a", "osd.0" };
	cpu_set_t set;
	int n = 0;

	CPU_ZERO(&set);
	CPU_SET(x->osd_cpu, &set);
	for (unsigned i = 0; i < sizeof(daemons) / sizeof(daemons[0]); i++) {
		char path[700];
		struct dirent *te;
		long pid = 0;
		DIR *td;
		FILE *f;

		snprintf(path, sizeof(path), "%s/run/%s.pid", x->ceph, daemons[i]);
		if (!(f = fopen(path, "r")))
			return -1;
		if (fscanf(f, "%ld", &pid) != 1)
			pid = 0;
		fclose(f);
		snprintf(path, sizeof(path), "/proc/%ld/task", pid);
		if (pid <= 0 || !(td = opendir(path)))
			return -1;
		while ((te = readdir(td)))
			if (te->d_name[0] >= '1' && te->d_name[0] <= '9' &&
			    sched_setaffinity(atoi(te->d_name), sizeof(set), &set) < 0 &&
			    errno != ESRCH) {
				closedir(td);
				return -1;
			}
		closedir(td);
		n++;
	}
	return n;
}

static int cluster(struct rbd_ctx *x, const char *verb)
{
	return runf(x, 120, NULL, "%s/tests/rbd/ceph-cluster.sh" S "%s" S "%s", x->repo, verb,
		    x->ceph);
}

/* Attach (or detach) the pvio disk. */
static int pv_disk(struct rbd_ctx *x, bool attach)
{
	if (attach)
		return runf(x, 120, NULL, "%s/tools/pvio" S "block-attach" S "%s" S
			    "vdev=xvda, access=rw, target=rbd:rbd/bench:conf=%s", x->build,
			    x->env.dom, x->conf);
	return runf(x, 120, NULL, "%s/tools/pvio" S "block-detach" S "%s" S "xvda", x->build,
		    x->env.dom);
}

/* ------------------------------------------------------------ one run */

static int fio_run(struct rbd_ctx *x, const struct rbd_case *c, int side, struct meas *m)
{
	char common[1400], why[300];
	uint64_t be0 = 0, t0;
	int st;

	memset(m, 0, sizeof(*m));
	m->p50 = m->p99 = m->lat_mean = NAN;
	snprintf(common, sizeof(common),
		 "--name=rbd-bench" S "--thread" S "--rw=%s" S "--bs=%u" S "--iodepth=%u" S
		 "--numjobs=1" S "--size=%llu" S "--runtime=%.0fms" S "--time_based" S
		 "--norandommap" S "--randrepeat=1" S "--group_reporting" S
		 "--output-format=json" S "--output=%s", c->rw, c->bs, c->qd,
		 (unsigned long long)x->size, x->secs * 1000, x->out);
	unlink(x->out);
	if (side == PV) {
		if (pv_disk(x, true) != 0) {
			bench_last_line(x->log, why, sizeof(why));
			bench_log("pvio: block-attach failed: %s", why);
			return -1;
		}
		be0 = bench_proc_cpu_ns(x->env.blkback);
		t0 = bench_now_ns();
		st = runf(x, x->secs + 90, &m->cpu_s,
			  "%s/tools/pvio" S "run" S "--domain" S "%s" S "--" S "%s" S "%s" S
			  "--filename=xvda" S "--ioengine=external:%s" S "--pvio_queues=1%s",
			  x->build, x->env.dom, x->fio, common, x->engine, x->popt);
		m->secs = (double)(bench_now_ns() - t0) / 1e9;
		m->be_cpu_s = (double)(bench_proc_cpu_ns(x->env.blkback) - be0) / 1e9;
		if (st != 0)
			bench_last_line(x->log, why, sizeof(why));
		if (pv_disk(x, false) != 0)
			bench_log("pvio: block-detach failed");
	} else {
		t0 = bench_now_ns();
		st = runf(x, x->secs + 90, &m->cpu_s,
			  "%s" S "%s" S "--ioengine=rbd" S "--clientname=admin" S "--pool=rbd" S
			  "--rbdname=bench", x->fio_rbd, common);
		m->secs = (double)(bench_now_ns() - t0) / 1e9;
		if (st != 0)
			bench_last_line(x->log, why, sizeof(why));
	}
	if (st != 0) {
		bench_log("%s fio (%s) exit %d: %s", side_names[side], c->name, st, why);
		return -1;
	}
	if (fio_parse(x->out, c->dir, m, why, sizeof(why)) < 0) {
		bench_log("%s fio (%s): %s", side_names[side], c->name, why);
		return -1;
	}
	m->ok = true;
	return 0;
}

/* ------------------------------------------------------------ summaries */

struct spread {
	int n;
	double med, min, max;
};

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static struct spread spread_of(const double *v, int n)
{
	struct spread s = { 0, NAN, NAN, NAN };
	double w[64];

	for (int i = 0; i < n && s.n < 64; i++)
		if (isfinite(v[i]))
			w[s.n++] = v[i];
	if (s.n) {
		qsort(w, (size_t)s.n, sizeof(w[0]), cmpd);
		s.med = bench_median(w, (size_t)s.n);
		s.min = w[0];
		s.max = w[s.n - 1];
	}
	return s;
}

enum { F_IOPS, F_MIBPS, F_P50, F_P99, F_CPU, F_RATIO, NR_F };

static double field_of(const struct rep *r, int side, int f)
{
	const struct meas *m = &r->m[side];

	if (!m->ok)
		return NAN;
	switch (f) {
	case F_IOPS: return m->iops;
	case F_MIBPS: return m->mibps;
	case F_P50: return m->p50;
	case F_P99: return m->p99;
	case F_CPU: return m->ios > 0 ? (m->cpu_s + m->be_cpu_s) / m->ios * 1e6 : NAN;
	default:
		return r->m[DIRECT].ok && r->m[DIRECT].iops > 0 ?
		       r->m[PV].iops / r->m[DIRECT].iops : NAN;
	}
}

static struct spread summarise(const struct rep *r, int reps, int side, int f)
{
	double v[64];
	int n = reps < 64 ? reps : 64;

	for (int i = 0; i < n; i++)
		v[i] = field_of(&r[i], side, f);
	return spread_of(v, n);
}

static void table(FILE *f, struct rbd_ctx *x, struct rep *res[NR_CASES], int reps)
{
	char mline[256];

	bench_machine_line(mline, sizeof(mline), x->repo);
	fprintf(f, "pvio-bench rbd: fio's rbd engine (librbd directly) vs fio-pvio in a guest ->"
		" pvio-blkback (rbd engine) -> librbd\n"
		"same image rbd/bench, %llu MiB, filled; 1 mon + 1 bluestore OSD on this machine%s; "
		"rbd_cache=false; %.0f s per run, %d rep(s), median (range)\n%s\n\n",
		(unsigned long long)(x->size >> 20), x->osd_cpu >= 0 ?
		" (on a CPU of their own: --osd-cpu)" : "", x->secs, reps, mline);
	fprintf(f, "%-18s %10s %10s %-22s %17s %17s %15s\n", "case", "direct", "pvio",
		"pvio/direct IOPS", "direct p50/p99", "pvio p50/p99", "CPU us/IO d/pv");
	fprintf(f, "%-18s %10s %10s %-22s %17s %17s %15s\n", "", "IOPS", "IOPS", "", "(clat us)",
		"(clat us)", "");
	for (unsigned k = 0; k < NR_CASES; k++) {
		struct spread r = summarise(res[k], reps, PV, F_RATIO);
		char rs[40];

		if (!x->want[k])
			continue;
		if (r.n)
			snprintf(rs, sizeof(rs), "%.3f (%.3f-%.3f)", r.med, r.min, r.max);
		else
			snprintf(rs, sizeof(rs), "n/a");
		fprintf(f, "%-18s %10.0f %10.0f %-22s %8.0f/%-8.0f %8.0f/%-8.0f %7.1f/%-7.1f\n",
			cases[k].name, summarise(res[k], reps, DIRECT, F_IOPS).med,
			summarise(res[k], reps, PV, F_IOPS).med, rs,
			summarise(res[k], reps, DIRECT, F_P50).med,
			summarise(res[k], reps, DIRECT, F_P99).med,
			summarise(res[k], reps, PV, F_P50).med,
			summarise(res[k], reps, PV, F_P99).med,
			summarise(res[k], reps, DIRECT, F_CPU).med,
			summarise(res[k], reps, PV, F_CPU).med);
	}
	fprintf(f, "\nCPU per I/O: the fio process over its whole run; pvio adds pvio-blkback's "
		"(the OSD's and mon's are on neither side).\n");
}

static void write_json(FILE *f, struct rbd_ctx *x, struct rep *res[NR_CASES], int reps)
{
	static const char *const fname[NR_F] = { "iops", "mibps", "clat_p50_us", "clat_p99_us",
						 "cpu_us_per_io", "pvio_over_direct_iops" };
	struct bench_json j;

	bench_json_init(&j, f);
	bench_json_obj_begin(&j, NULL);
	bench_json_str(&j, "benchmark", "rbd");
	bench_json_machine(&j, x->repo);
	bench_json_obj_begin(&j, "config");
	bench_json_str(&j, "cluster", "tests/rbd/ceph-cluster.sh: 1 mon, 1 bluestore OSD on a "
		       "sparse file on this machine, no mgr, pool size 1");
	bench_json_int(&j, "image_bytes", (long long)x->size);
	bench_json_str(&j, "image_fill", "rbd bench --io-type write --io-size 4M "
		       "--io-pattern seq over the whole image");
	bench_json_num(&j, "runtime_s", x->secs);
	bench_json_int(&j, "reps", reps);
	bench_json_str(&j, "direct", "fio --ioengine=rbd --clientname=admin --pool=rbd "
		       "--rbdname=bench");
	bench_json_str(&j, "direct_fio", x->fio_rbd_ver);
	bench_json_str(&j, "pvio", "pvio run --domain G -- fio --ioengine=external:fio-pvio.so "
		       "--pvio_queues=1 --filename=xvda; target=rbd:rbd/bench:conf=...");
	bench_json_str(&j, "pvio_fio", x->fio_ver);
	{
		char po[sizeof(x->popt)];

		snprintf(po, sizeof(po), "%s", x->popt[0] ? x->popt + 1 : "");
		for (char *q = po; *q; q++)
			if (*q == '\x1f')
				*q = ' ';
		bench_json_str(&j, "pvio_extra_fio_options", po);
		bench_json_str(&j, "blkback_extra_options", x->bbopt);
		bench_json_num(&j, "osd_cpu", x->osd_cpu);
	}
	bench_json_str(&j, "common", "--thread --numjobs=1 --time_based --norandommap "
		       "--randrepeat=1; rbd_cache=false on both sides");
	bench_json_str(&j, "order", "both sides back to back per repetition, alternating "
		       "which goes first");
	bench_json_obj_end(&j);
	bench_json_arr_begin(&j, "cases");
	for (unsigned k = 0; k < NR_CASES; k++) {
		if (!x->want[k])
			continue;
		bench_json_obj_begin(&j, NULL);
		bench_json_str(&j, "name", cases[k].name);
		bench_json_str(&j, "rw", cases[k].rw);
		bench_json_int(&j, "bs", cases[k].bs);
		bench_json_int(&j, "iodepth", cases[k].qd);
		bench_json_arr_begin(&j, "reps");
		for (int i = 0; i < reps; i++) {
			const struct rep *r = &res[k][i];

			bench_json_obj_begin(&j, NULL);
			bench_json_bool(&j, "pvio_first", r->pv_first);
			bench_json_num(&j, "idle_before", r->idle);
			for (int s = 0; s < NR_SIDES; s++) {
				const struct meas *m = &r->m[s];

				bench_json_obj_begin(&j, side_names[s]);
				bench_json_bool(&j, "ok", m->ok);
				bench_json_num(&j, "iops", m->ok ? m->iops : NAN);
				bench_json_num(&j, "mibps", m->ok ? m->mibps : NAN);
				bench_json_num(&j, "clat_p50_us", m->ok ? m->p50 : NAN);
				bench_json_num(&j, "clat_p99_us", m->ok ? m->p99 : NAN);
				bench_json_num(&j, "lat_mean_us", m->ok ? m->lat_mean : NAN);
				bench_json_num(&j, "ios", m->ok ? m->ios : NAN);
				bench_json_num(&j, "fio_cpu_s", m->cpu_s);
				if (s == PV)
					bench_json_num(&j, "blkback_cpu_s", m->be_cpu_s);
				bench_json_num(&j, "wall_s", m->secs);
				bench_json_obj_end(&j);
			}
			bench_json_num(&j, "pvio_over_direct_iops", field_of(r, PV, F_RATIO));
			bench_json_obj_end(&j);
		}
		bench_json_arr_end(&j);
		bench_json_obj_begin(&j, "median");
		for (int s = 0; s < NR_SIDES; s++) {
			bench_json_obj_begin(&j, side_names[s]);
			for (int f2 = 0; f2 < F_RATIO; f2++)
				bench_json_num(&j, fname[f2], summarise(res[k], reps, s, f2).med);
			bench_json_obj_end(&j);
		}
		{
			struct spread r = summarise(res[k], reps, PV, F_RATIO);

			bench_json_num(&j, fname[F_RATIO], r.med);
			bench_json_num(&j, "ratio_min", r.min);
			bench_json_num(&j, "ratio_max", r.max);
			bench_json_int(&j, "pairs", r.n);
		}
		bench_json_obj_end(&j);
		bench_json_obj_end(&j);
	}
	bench_json_arr_end(&j);
	bench_json_obj_end(&j);
	fputc('\n', f);
}

/* The chart, when gnuplot is there: median ratio per case, range as bars. */
static void chart(const struct bench_opts *o, struct rbd_ctx *x, struct rep *res[NR_CASES],
		  int reps)
{
	char png[640], dat[700], cmd[2048];
	FILE *f;

	if (bench_out_path(o, "rbd", "png", png, sizeof(png)) < 0)
		return;
	snprintf(dat, sizeof(dat), "%s/chart.dat", x->env.dir);
	f = fopen(dat, "w");
	if (!f)
		return;
	for (unsigned k = 0; k < NR_CASES; k++) {
		struct spread r = summarise(res[k], reps, PV, F_RATIO);

		if (!x->want[k])
			continue;
		fprintf(f, "%u \"%s\" %g %g %g\n", k, cases[k].name, r.n ? r.med : 0,
			r.n ? r.min : 0, r.n ? r.max : 0);
	}
	fclose(f);
	snprintf(cmd, sizeof(cmd),
		 "command -v gnuplot >/dev/null && gnuplot -e \"set terminal png noenhanced "
		 "size 900,480; set output '%s'; set title 'pvio (guest -> pvio-blkback rbd "
		 "engine) / librbd direct (fio rbd engine), IOPS, median and range'; "
		 "set yrange [0:*]; set style fill solid 0.5; set boxwidth 0.5; "
		 "set grid ytics; set arrow from -0.5,1 to %u.5,1 nohead dt 2; "
		 "plot '%s' using 1:3:xtic(2) with boxes notitle, '' using 1:3:4:5 with "
		 "yerrorbars notitle\" 2>/dev/null", png, (unsigned)NR_CASES - 1, dat);
	if (system(cmd) == 0)
		printf("chart: %s\n", png);
}

/* ------------------------------------------------------------ main */

static void rbd_usage(FILE *f)
{
	fprintf(f,
		"  --seconds S     each fio run (default 10; --quick 3)\n"
		"  --size-mb N     the image (default 512; --quick 256), filled first\n"
		"  --case NAME     only this case (repeatable): 4k-randread-qd32,\n"
		"                  4k-randwrite-qd32, 64k-read-qd8\n"
		"  --pvio-opt OPT  an extra fio option for the pvio side (--pvio_poll_us=0)\n"
		"  --blkback-opt OPT  an extra pvio-blkback option (--poll-us=0)\n"
		"  --osd-cpu N     the cluster's daemons on CPU N only, everything else on\n"
		"                  the other CPUs (a storage host of its own; default:\n"
		"                  all share all CPUs)\n"
		"Needs: Ceph (ceph-mon, ceph-osd, ceph-common), pvio-blkback built with\n"
		"librbd, Debian's fio (rbd engine; or $PVIO_FIO_RBD), and the fio\n"
		"scripts/fetch-fio builds with fio-pvio.so (make fio; or $PVIO_FIO).\n");
}

static int rbd_run(const struct bench_opts *o, int argc, char **argv)
{
	enum { O_CASE = 256, O_PVOPT, O_BBOPT, O_OSDCPU };
	static const struct option lo[] = {
		{ "seconds", required_argument, NULL, 's' },
		{ "size-mb", required_argument, NULL, 'z' },
		{ "case", required_argument, NULL, O_CASE },
		{ "pvio-opt", required_argument, NULL, O_PVOPT },
		{ "blkback-opt", required_argument, NULL, O_BBOPT },
		{ "osd-cpu", required_argument, NULL, O_OSDCPU },
		{ NULL, 0, NULL, 0 },
	};
	static struct rbd_ctx x;
	struct rep *res[NR_CASES] = { NULL };
	char why[600] = "", path[640], tpath[640];
	const char *bb[9] = { NULL };
	bool *want = x.want, any_sel = false;
	int c, reps, rc = 1, nbb = 0;
	FILE *f;

	memset(&x, 0, sizeof(x));
	x.env.pviod = x.env.blkback = -1;
	x.osd_cpu = -1;
	x.secs = o->quick ? 3 : 10;
	x.size = (o->quick ? 256ull : 512ull) << 20;
	optind = 1;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 's':
			x.secs = atof(optarg);
			if (!(x.secs >= 1 && x.secs <= 3600)) {
				fprintf(stderr, "bench rbd: --seconds must be 1..3600\n");
				return 2;
			}
			break;
		case 'z': {
			unsigned long long mb = strtoull(optarg, NULL, 10);

			if (mb < 16 || mb > 65536) {
				fprintf(stderr, "bench rbd: --size-mb must be 16..65536\n");
				return 2;
			}
			x.size = mb << 20;
			break;
		}
		case O_CASE: {
			bool hit = false;

			for (unsigned k = 0; k < NR_CASES; k++)
				if (!strcmp(optarg, cases[k].name)) {
					if (!any_sel)
						memset(x.want, 0, sizeof(x.want));
					want[k] = hit = any_sel = true;
				}
			if (!hit) {
				fprintf(stderr, "bench rbd: no case '%s' (", optarg);
				for (unsigned k = 0; k < NR_CASES; k++)
					fprintf(stderr, "%s%s", k ? ", " : "", cases[k].name);
				fprintf(stderr, ")\n");
				return 2;
			}
			break;
		}
		case O_PVOPT:
			if (strlen(x.popt) + strlen(optarg) + 2 > sizeof(x.popt)) {
				fprintf(stderr, "bench rbd: too many --pvio-opt\n");
				return 2;
			}
			strcat(x.popt, S);
			strcat(x.popt, optarg);
			break;
		case O_BBOPT:
			if (nbb == 8) {
				fprintf(stderr, "bench rbd: too many --blkback-opt\n");
				return 2;
			}
			bb[nbb++] = optarg;
			if (strlen(x.bbopt) + strlen(optarg) + 2 < sizeof(x.bbopt)) {
				strcat(x.bbopt, x.bbopt[0] ? " " : "");
				strcat(x.bbopt, optarg);
			}
			break;
		case O_OSDCPU: {
			long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
			char *end;
			long v = strtol(optarg, &end, 10);

			if (*optarg == 0 || *end || v < 0 || v >= ncpu || ncpu < 2) {
				fprintf(stderr, "bench rbd: --osd-cpu must be a CPU 0..%ld, and "
					"another must be left for the rest (%ld online)\n",
					ncpu - 1, ncpu);
				return 2;
			}
			x.osd_cpu = (int)v;
			break;
		}
		default:
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "bench rbd: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (!any_sel)
		for (unsigned k = 0; k < NR_CASES; k++)
			want[k] = true;
	reps = o->reps_given ? o->reps : o->quick ? 1 : o->reps;
	if (reps < 1)
		reps = 1;
	if (reps > 64)
		reps = 64;
	snprintf(x.repo, sizeof(x.repo), "%s", o->repo);
	bench_find_build(o->repo, x.build, sizeof(x.build));
	if (find_tools(&x, why, sizeof(why)) < 0) {
		fprintf(stderr, "bench rbd: cannot run: %s\n", why);
		return 1;
	}
	for (unsigned k = 0; k < NR_CASES; k++)
		if (!(res[k] = calloc((size_t)reps, sizeof(struct rep))))
			return 1;

	if (x.osd_cpu >= 0) {
		/* Ours, and so every child's: all CPUs but the cluster's. */
		cpu_set_t set;

		if (sched_getaffinity(0, sizeof(set), &set) < 0)
			CPU_ZERO(&set);
		CPU_CLR(x.osd_cpu, &set);
		if (CPU_COUNT(&set) == 0 || sched_setaffinity(0, sizeof(set), &set) < 0) {
			fprintf(stderr, "bench rbd: --osd-cpu %d: no other CPU to run on (%s)\n",
				x.osd_cpu, strerror(errno));
			goto out;
		}
	}
	/* pviod and pvio-blkback (their folder), the cluster (its own). */
	if (bench_pv_start(&x.env, x.build, bb) < 0) {
		fprintf(stderr, "bench rbd: cannot start pviod/pvio-blkback from %s\n", x.build);
		goto out;
	}
	snprintf(x.env.dom, sizeof(x.env.dom), "rbdbench");
	snprintf(x.log, sizeof(x.log), "%s/run.log", x.env.dir);
	snprintf(x.out, sizeof(x.out), "%s/fio.json", x.env.dir);
	snprintf(x.ceph, sizeof(x.ceph), "/tmp/pvio-bench-ceph-%d", (int)getpid());
	snprintf(x.conf, sizeof(x.conf), "%s/ceph.conf", x.ceph);
	bench_progress("rbd: starting the Ceph cluster");
	if (cluster(&x, "start") != 0) {
		bench_last_line(x.log, why, sizeof(why));
		bench_log("the Ceph cluster did not start: %s", why);
		goto out;
	}
	x.cluster_up = true;
	if (x.osd_cpu >= 0) {
		int n = pin_cluster(&x);

		if (n < 2) {
			bench_log("--osd-cpu: could not pin the cluster's daemons (%d pinned: %s)",
				  n, n < 0 ? strerror(errno) : "fewer than mon + OSD");
			goto out;
		}
		bench_progress("rbd: %d Ceph daemons on CPU %d, the rest on the others", n,
			       x.osd_cpu);
	}
	setenv("CEPH_CONF", x.conf, 1);
	/* Both sides without librbd's cache (pvio's default; fio's rbd engine
	 * takes ceph.conf's): appended to the [client] section, last in it. */
	f = fopen(x.conf, "a");
	if (!f || fprintf(f, "rbd cache = false\n") < 0 || fclose(f) != 0) {
		bench_log("cannot append to %s", x.conf);
		goto out;
	}
	bench_progress("rbd: creating and filling the %llu MiB image",
		       (unsigned long long)(x.size >> 20));
	if (runf(&x, 60, NULL, "timeout" S "60" S "rbd" S "-c" S "%s" S "create" S
		 "--size" S "%llu" S "rbd/bench", x.conf, (unsigned long long)(x.size >> 20)) ||
	    runf(&x, 900, NULL, "timeout" S "900" S "rbd" S "-c" S "%s" S "bench" S
		 "--io-type" S "write" S "--io-size" S "4M" S "--io-pattern" S "seq" S
		 "--io-total" S "%llu" S "rbd/bench", x.conf, (unsigned long long)x.size)) {
		bench_last_line(x.log, why, sizeof(why));
		bench_log("cannot create/fill the image: %s", why);
		goto out;
	}
	if (runf(&x, 60, NULL, "%s/tools/pvio" S "create" S "%s" S "memory=256M", x.build,
		 x.env.dom)) {
		bench_last_line(x.log, why, sizeof(why));
		bench_log("pvio create: %s", why);
		goto out;
	}

	for (int r = 0; r < reps; r++) {
		for (unsigned k = 0; k < NR_CASES; k++) {
			struct rep *p = &res[k][r];

			if (!want[k])
				continue;
			p->pv_first = (r + (int)k) % 2 == 1;
			p->idle = bench_wait_idle(0.9, o->quick ? 0 : 1500);
			for (int i = 0; i < 2; i++) {
				int side = (i == 0) == p->pv_first ? PV : DIRECT;

				bench_progress("rbd: %s rep %d/%d: %s", cases[k].name, r + 1, reps,
					       side_names[side]);
				fio_run(&x, &cases[k], side, &p->m[side]);
			}
		}
	}
	bench_progress_done();

	table(stdout, &x, res, reps);
	if (bench_out_path(o, "rbd", "json", path, sizeof(path)) < 0 ||
	    bench_out_path(o, "rbd", "txt", tpath, sizeof(tpath)) < 0) {
		fprintf(stderr, "bench rbd: cannot make the output folder\n");
		goto out;
	}
	f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "bench rbd: %s: %s\n", path, strerror(errno));
		goto out;
	}
	write_json(f, &x, res, reps);
	fclose(f);
	f = fopen(tpath, "w");
	if (f) {
		table(f, &x, res, reps);
		fclose(f);
	}
	printf("json: %s\n", path);
	chart(o, &x, res, reps);
	rc = 0;
	for (unsigned k = 0; k < NR_CASES; k++)
		if (want[k] && !summarise(res[k], reps, PV, F_RATIO).n)
			rc = 1;
out:
	bench_progress_done();
	/* pvio-blkback first, while the cluster still answers (it closes
	 * its images); then the cluster. */
	if (x.env.pviod > 0 || x.env.blkback > 0) {
		bench_pv_stop(&x.env);             /* removes its folder, our logs */
		snprintf(x.log, sizeof(x.log), "/dev/null");
	}
	if (x.cluster_up && cluster(&x, "stop") != 0)
		bench_log("could not stop the cluster in %s", x.ceph);
	for (unsigned k = 0; k < NR_CASES; k++)
		free(res[k]);
	return rc;
}

const struct bench_cmd bench_cmd_rbd = {
	.name = "rbd",
	.summary = "Ceph RBD disk: fio-pvio (guest -> pvio-blkback rbd engine -> librbd) vs "
		   "fio's rbd engine (librbd directly), same image",
	.usage = rbd_usage,
	.run = rbd_run,
};
