/* SPDX-License-Identifier: MIT */
/*
 * pvio-bench scale: many guests on one pvio-blkback.
 *
 * For each N (default 8, 32, 128): N guests, one disk each (a page-cached
 * 16 MiB file of its own), all connected, then started together (each
 * pvio-blkio says ready once connected and waits for end of file on a
 * shared pipe), each running 4k randread at QD8 for S seconds. Reported:
 * total IOPS, per-guest min / median / max, Jain's fairness index
 * (sum x)^2 / (n sum x^2), and total IOPS against one guest of the same
 * backend at the same total depth (QD 8N, at most 256: pvio-blkio's
 * bench limit; said in the output when capped). Repetitions alternate the
 * many-guest run and the one-guest run; medians are reported.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench_common.h"

#define SCALE_MAX_GUESTS 1024
#define SCALE_FILE_MB    16
#define SCALE_QD         8
#define SCALE_MAX_QD     256

struct scale_run {
	double total, min, median, max, jain, single;
	unsigned single_qd;
	bool ok;
};

static void usage(FILE *f)
{
	fprintf(f, "  scale options: --guests N[,N...] (default 8,32,128; --quick: 8,32)\n"
		   "                 --seconds S (per run, default 5; --quick: 2)\n"
		   "                 --workers N, --poll-us N (passed to pvio-blkback)\n"
		   "                 --guest-poll-us N (the guests' blkfront spin, default 50)\n");
}

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double json_iops(const char *s)
{
	const char *p = strstr(s, "\"iops\"");

	if (!p)
		return -1;
	p += 6;
	while (*p == ' ' || *p == ':')
		p++;
	return strtod(p, NULL);
}

static int make_files(const char *dir, unsigned n)
{
	static char buf[1 << 20];

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (char)(i * 131 + 7);
	for (unsigned g = 0; g < n; g++) {
		char path[600];
		int fd;

		snprintf(path, sizeof(path), "%s/disk%u.img", dir, g);
		if (access(path, F_OK) == 0)
			continue;
		fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0)
			return -errno;
		for (unsigned m = 0; m < SCALE_FILE_MB; m++) {
			buf[0] = (char)m;
			if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf)) {
				close(fd);
				return -EIO;
			}
		}
		close(fd);
	}
	return 0;
}

/* The guests' blkfront polling window (pvio-blkio --poll-us). */
static const char *g_guest_poll = "50";

struct guest {
	pid_t pid;
	int ready_fd, out_fd;
	double iops;
};

/* Start pvio-blkio bench in guest `dom`; its fd 3 says ready, fd 4 is the
 * start pipe. */
static int guest_spawn(const struct bench_pv_env *e, const char *dom, unsigned qd,
		       unsigned secs, int go_rd, struct guest *g)
{
	char pvio[600], blkio[600], qds[16], ss[16], szs[16];
	int rp[2], op[2];

	snprintf(pvio, sizeof(pvio), "%s/tools/pvio", e->build);
	snprintf(blkio, sizeof(blkio), "%s/tools/pvio-blkio", e->build);
	snprintf(qds, sizeof(qds), "%u", qd);
	snprintf(ss, sizeof(ss), "%u", secs);
	snprintf(szs, sizeof(szs), "%u", SCALE_FILE_MB);
	if (pipe2(rp, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(op, O_CLOEXEC) < 0) {
		close(rp[0]);
		close(rp[1]);
		return -errno;
	}
	g->pid = fork();
	if (g->pid == 0) {
		char *av[] = { pvio, "run", "--domain", (char *)dom, "--", blkio, "--queues", "1",
			       "--poll-us", (char *)g_guest_poll, "bench", "xvda", "--rw", "randread", "--bs", "4096", "--qd", qds,
			       "--seconds", ss, "--size-mb", szs, "--ready-fd", "3",
			       "--start-fd", "4", NULL };
		int nul = open("/dev/null", O_WRONLY);

		dup2(op[1], 1);
		if (nul >= 0)
			dup2(nul, 2);
		dup2(rp[1], 3);
		dup2(go_rd, 4);
		execv(pvio, av);
		_exit(127);
	}
	close(rp[1]);
	close(op[1]);
	if (g->pid < 0) {
		close(rp[0]);
		close(op[0]);
		return -errno;
	}
	g->ready_fd = rp[0];
	g->out_fd = op[0];
	return 0;
}

/* Run n guests (domains g0..g{n-1}, already attached) together at qd each:
 * per-guest IOPS into iops[]. 0 or -1. */
static int run_together(const struct bench_pv_env *e, unsigned n, unsigned qd, unsigned secs,
			double *iops)
{
	struct guest *g = calloc(n, sizeof(*g));
	int go[2], rc = 0;
	unsigned started = 0;

	if (!g || pipe2(go, O_CLOEXEC) < 0) {
		free(g);
		return -1;
	}
	for (unsigned i = 0; i < n; i++) {
		char dom[32];

		snprintf(dom, sizeof(dom), "g%u", i);
		if (guest_spawn(e, dom, qd, secs, go[0], &g[i]) < 0) {
			rc = -1;
			break;
		}
		started++;
	}
	close(go[0]);
	/* All connected: then all start. */
	for (unsigned i = 0; i < started; i++) {
		char b[8];

		if (read(g[i].ready_fd, b, sizeof(b)) <= 0) {
			fprintf(stderr, "bench scale: guest g%u did not connect\n", i);
			rc = -1;
		}
		close(g[i].ready_fd);
	}
	close(go[1]);
	for (unsigned i = 0; i < started; i++) {
		char out[1024];
		size_t len = 0;
		ssize_t r;
		int st;

		while (len + 1 < sizeof(out) && (r = read(g[i].out_fd, out + len,
							  sizeof(out) - len - 1)) > 0)
			len += (size_t)r;
		out[len] = 0;
		close(g[i].out_fd);
		waitpid(g[i].pid, &st, 0);
		iops[i] = json_iops(out);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || iops[i] < 0) {
			fprintf(stderr, "bench scale: guest g%u failed (%s)\n", i, out);
			rc = -1;
		}
	}
	free(g);
	return rc;
}

static int attach_all(const struct bench_pv_env *e, const char *files, unsigned n)
{
	char pvio[600];

	snprintf(pvio, sizeof(pvio), "%s/tools/pvio", e->build);
	for (unsigned i = 0; i < n; i++) {
		char dom[32], spec[700];
		char *c[] = { pvio, "create", dom, "memory=32M", NULL };
		char *a[] = { pvio, "block-attach", dom, spec, NULL };

		snprintf(dom, sizeof(dom), "g%u", i);
		snprintf(spec, sizeof(spec), "vdev=xvda, access=rw, target=%s/disk%u.img", files, i);
		if (bench_run_cmd(c, NULL, 0) != 0 || bench_run_cmd(a, NULL, 0) != 0) {
			fprintf(stderr, "bench scale: cannot create guest %s\n", dom);
			return -1;
		}
	}
	return 0;
}

static void destroy_all(const struct bench_pv_env *e, unsigned n)
{
	char pvio[600];

	snprintf(pvio, sizeof(pvio), "%s/tools/pvio", e->build);
	for (unsigned i = 0; i < n; i++) {
		char dom[32];
		char *d[] = { pvio, "destroy", dom, NULL };

		snprintf(dom, sizeof(dom), "g%u", i);
		bench_run_cmd(d, NULL, 0);
	}
}

static int one_rep(const char *build, const char *files, const char *const *bb_args,
		   unsigned n, unsigned secs, struct scale_run *out)
{
	struct bench_pv_env env = { .pviod = -1, .blkback = -1 };
	double *iops = calloc(n, sizeof(double)), *sorted = calloc(n, sizeof(double));
	double s = 0, s2 = 0, single;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (!iops || !sorted)
		goto out;
	if (bench_pv_start(&env, build, bb_args) < 0 || attach_all(&env, files, n) < 0)
		goto out_env;
	bench_progress("scale: %u guests x QD%u", n, SCALE_QD);
	if (run_together(&env, n, SCALE_QD, secs, iops) < 0)
		goto out_env;
	out->single_qd = n * SCALE_QD > SCALE_MAX_QD ? SCALE_MAX_QD : n * SCALE_QD;
	bench_progress("scale: 1 guest x QD%u", out->single_qd);
	if (run_together(&env, 1, out->single_qd, secs, &single) < 0)
		goto out_env;
	for (unsigned i = 0; i < n; i++) {
		s += iops[i];
		s2 += iops[i] * iops[i];
		sorted[i] = iops[i];
	}
	qsort(sorted, n, sizeof(double), cmpd);
	out->total = s;
	out->min = sorted[0];
	out->max = sorted[n - 1];
	out->median = bench_median(sorted, n);
	out->jain = s2 > 0 ? s * s / ((double)n * s2) : 0;
	out->single = single;
	out->ok = true;
	rc = 0;
out_env:
	destroy_all(&env, n);
	bench_pv_stop(&env);
out:
	free(iops);
	free(sorted);
	return rc;
}

static int scale_run(const struct bench_opts *o, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "guests", required_argument, NULL, 'g' },
		{ "seconds", required_argument, NULL, 's' },
		{ "workers", required_argument, NULL, 'w' },
		{ "poll-us", required_argument, NULL, 'p' },
		{ "guest-poll-us", required_argument, NULL, 'G' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned ns[16], nn = 0, secs = o->quick ? 2 : 5, maxn = 0;
	char build[512], files[] = "/tmp/pvio-bench-scale-XXXXXX", path[600], txt[600], line[256];
	const char *bb_args[5] = { NULL };
	unsigned nbb = 0;
	char workers[16], pollus[16];
	struct bench_json j;
	FILE *jf, *tf;
	int c, reps = o->reps;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		char *end, *p;

		switch (c) {
		case 'g':
			for (p = optarg; *p && nn < 16; p = *end ? end + 1 : end) {
				unsigned long v = strtoul(p, &end, 10);

				if (end == p || (*end && *end != ',') || v < 1 || v > SCALE_MAX_GUESTS) {
					fprintf(stderr, "bench scale: --guests: '%s' is not a list of "
						"1..%d\n", optarg, SCALE_MAX_GUESTS);
					return 2;
				}
				ns[nn++] = (unsigned)v;
			}
			break;
		case 's':
			secs = (unsigned)strtoul(optarg, NULL, 10);
			if (secs < 1 || secs > 3600) {
				fprintf(stderr, "bench scale: --seconds: 1..3600\n");
				return 2;
			}
			break;
		case 'w':
			snprintf(workers, sizeof(workers), "%s", optarg);
			bb_args[nbb++] = "--workers";
			bb_args[nbb++] = workers;
			break;
		case 'p':
			snprintf(pollus, sizeof(pollus), "%s", optarg);
			bb_args[nbb++] = "--poll-us";
			bb_args[nbb++] = pollus;
			break;
		case 'G':
			g_guest_poll = optarg;
			if (strspn(optarg, "0123456789") != strlen(optarg) || !*optarg) {
				fprintf(stderr, "bench scale: --guest-poll-us: a number of us\n");
				return 2;
			}
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!nn) {
		ns[nn++] = 8;
		ns[nn++] = 32;
		if (!o->quick)
			ns[nn++] = 128;
	}
	for (unsigned i = 0; i < nn; i++)
		if (ns[i] > maxn)
			maxn = ns[i];
	if (reps > 3 && o->reps == 5)
		reps = o->quick ? 1 : 3;       /* each rep is minutes at 128 guests */
	snprintf(build, sizeof(build), "%s/build", o->repo);
	if (!mkdtemp(files)) {
		perror("bench scale: mkdtemp");
		return 1;
	}
	bench_progress("scale: writing %u files of %d MiB", maxn, SCALE_FILE_MB);
	if (make_files(files, maxn) < 0) {
		fprintf(stderr, "bench scale: cannot write the disk files in %s\n", files);
		return 1;
	}
	if (bench_out_path(o, "scale", "json", path, sizeof(path)) < 0 ||
	    bench_out_path(o, "scale", "txt", txt, sizeof(txt)) < 0)
		return 1;
	jf = fopen(path, "w");
	tf = fopen(txt, "w");
	if (!jf || !tf) {
		perror("bench scale: output");
		return 1;
	}
	bench_machine_line(line, sizeof(line), o->repo);
	bench_json_init(&j, jf);
	bench_json_obj_begin(&j, NULL);
	bench_json_str(&j, "benchmark", "scale");
	bench_json_machine(&j, o->repo);
	bench_json_int(&j, "seconds", secs);
	bench_json_int(&j, "qd_per_guest", SCALE_QD);
	bench_json_str(&j, "guest_poll_us", g_guest_poll);
	bench_json_str(&j, "blkback_args", nbb == 0 ? "" : nbb == 2 ? bb_args[1] : "custom");
	bench_json_arr_begin(&j, "cases");
	for (FILE *f = stdout; f; f = f == stdout ? tf : NULL)
		fprintf(f, "pvio-bench scale: %s\n%-7s %11s %9s %9s %9s %6s %10s %5s %7s\n", line,
			"guests", "total IOPS", "min", "median", "max", "jain", "1 guest", "qd",
			"ratio");
	for (unsigned k = 0; k < nn; k++) {
		struct scale_run runs[16];
		double tot[16], mn[16], md[16], mx[16], ja[16], si[16], ra[16];
		unsigned ok = 0, qd1 = 0;

		for (int r = 0; r < reps && r < 16; r++) {
			if (one_rep(build, files, bb_args, ns[k], secs, &runs[r]) < 0 || !runs[r].ok)
				continue;
			tot[ok] = runs[r].total;
			mn[ok] = runs[r].min;
			md[ok] = runs[r].median;
			mx[ok] = runs[r].max;
			ja[ok] = runs[r].jain;
			si[ok] = runs[r].single;
			ra[ok] = runs[r].single > 0 ? runs[r].total / runs[r].single : 0;
			qd1 = runs[r].single_qd;
			ok++;
		}
		bench_json_obj_begin(&j, NULL);
		bench_json_int(&j, "guests", ns[k]);
		bench_json_int(&j, "reps_ok", ok);
		if (ok) {
			bench_json_num(&j, "total_iops", bench_median(tot, ok));
			bench_json_num(&j, "min_iops", bench_median(mn, ok));
			bench_json_num(&j, "median_iops", bench_median(md, ok));
			bench_json_num(&j, "max_iops", bench_median(mx, ok));
			bench_json_num(&j, "jain", bench_median(ja, ok));
			bench_json_num(&j, "single_iops", bench_median(si, ok));
			bench_json_int(&j, "single_qd", qd1);
			bench_json_bool(&j, "single_qd_capped", qd1 < ns[k] * SCALE_QD);
			bench_json_num(&j, "ratio", bench_median(ra, ok));
			bench_json_arr_begin(&j, "reps");
			for (unsigned r = 0; r < ok; r++) {
				bench_json_obj_begin(&j, NULL);
				bench_json_num(&j, "total_iops", tot[r]);
				bench_json_num(&j, "jain", ja[r]);
				bench_json_num(&j, "single_iops", si[r]);
				bench_json_num(&j, "ratio", ra[r]);
				bench_json_obj_end(&j);
			}
			bench_json_arr_end(&j);
		}
		bench_json_obj_end(&j);
		for (FILE *f = stdout; f; f = f == stdout ? tf : NULL) {
			if (!ok) {
				fprintf(f, "%-7u failed\n", ns[k]);
				continue;
			}
			fprintf(f, "%-7u %11.0f %9.0f %9.0f %9.0f %6.3f %10.0f %4u%s %7.3f\n", ns[k],
				bench_median(tot, ok), bench_median(mn, ok), bench_median(md, ok),
				bench_median(mx, ok), bench_median(ja, ok), bench_median(si, ok), qd1,
				qd1 < ns[k] * SCALE_QD ? "*" : " ", bench_median(ra, ok));
			fflush(f);
		}
	}
	bench_json_arr_end(&j);
	bench_json_obj_end(&j);
	fputc('\n', jf);
	fclose(jf);
	fprintf(tf, "(* the single guest's depth is capped at %d)\n", SCALE_MAX_QD);
	fclose(tf);
	snprintf(line, sizeof(line), "rm -rf '%s'", files);
	if (system(line) != 0)
		fprintf(stderr, "bench scale: could not remove %s\n", files);
	printf("(* the single guest's depth is capped at %d)\nJSON: %s\n", SCALE_MAX_QD, path);
	return 0;
}

const struct bench_cmd bench_cmd_scale = {
	"scale", "many guests on one pvio-blkback: total IOPS, per-guest spread, Jain's index",
	usage, scale_run,
};
