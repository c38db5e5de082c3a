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
 * bench limit; said in the output when capped) over the same amount of
 * data (its disk holds N x 16 MiB: a 16 MiB region would sit in the CPU's
 * cache where the N guests' data cannot). Repetitions alternate the
 * many-guest run and the one-guest run; medians are reported.
 *
 * Each repetition also measures the wake-up floor of N guests: N sleeping
 * processes (poll + read of an eventfd, as a guest that found nothing in
 * its ring) served by one polling thread that answers each with an
 * eventfd write (as the backend's notify), and nothing else: no ring, no
 * grant, no I/O. Its rounds per second times QD8 is what N sleeping
 * guests could reach if their I/O cost nothing; against the one-guest
 * figure it bounds the ratio this machine allows ("floor" columns).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench_common.h"

#define SCALE_MAX_GUESTS 1024
#define SCALE_FILE_MB    16
#define SCALE_QD         8
#define SCALE_MAX_QD     256

struct scale_run {
	double total, min, median, max, jain, single, floor, wake_us;
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

static int write_file(const char *path, unsigned mb, char *buf, size_t len)
{
	int fd;

	if (access(path, F_OK) == 0)
		return 0;
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	for (unsigned m = 0; m < mb; m++) {
		buf[0] = (char)m;
		if (write(fd, buf, len) != (ssize_t)len) {
			close(fd);
			return -EIO;
		}
	}
	close(fd);
	return 0;
}

/* disk0..disk{n-1} of SCALE_FILE_MB each, and single.img of n times that
 * (the one guest's disk: the same data as the n guests together). */
static int make_files(const char *dir, unsigned n)
{
	static char buf[1 << 20];
	char path[600];

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (char)(i * 131 + 7);
	for (unsigned g = 0; g < n; g++) {
		int rc;

		snprintf(path, sizeof(path), "%s/disk%u.img", dir, g);
		rc = write_file(path, SCALE_FILE_MB, buf, sizeof(buf));
		if (rc < 0)
			return rc;
	}
	snprintf(path, sizeof(path), "%s/single.img", dir);
	return write_file(path, n * SCALE_FILE_MB, buf, sizeof(buf));
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
		       unsigned size_mb, unsigned secs, int go_rd, struct guest *g)
{
	char pvio[600], blkio[600], qds[16], ss[16], szs[16];
	int rp[2], op[2];

	snprintf(pvio, sizeof(pvio), "%s/tools/pvio", e->build);
	snprintf(blkio, sizeof(blkio), "%s/tools/pvio-blkio", e->build);
	snprintf(qds, sizeof(qds), "%u", qd);
	snprintf(ss, sizeof(ss), "%u", secs);
	snprintf(szs, sizeof(szs), "%u", size_mb);
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

/* Run n guests (domains g0..g{n-1}, already attached) together at qd each,
 * over size_mb of their disks; n == 0: the one guest "gs" alone. Per-guest
 * IOPS into iops[]. 0 or -1. */
static int run_together(const struct bench_pv_env *e, unsigned n, unsigned qd, unsigned size_mb,
			unsigned secs, double *iops)
{
	bool single = n == 0;

	struct guest *g;
	int go[2], rc = 0;
	unsigned started = 0;

	if (single)
		n = 1;
	g = calloc(n, sizeof(*g));
	if (!g || pipe2(go, O_CLOEXEC) < 0) {
		free(g);
		return -1;
	}
	for (unsigned i = 0; i < n; i++) {
		char dom[32];

		if (single)
			snprintf(dom, sizeof(dom), "gs");
		else
			snprintf(dom, sizeof(dom), "g%u", i);
		if (guest_spawn(e, dom, qd, size_mb, secs, go[0], &g[i]) < 0) {
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

/* ------------------------------------------------------- wake-up floor */

#define FLOOR_LINE 64
#define FLOOR_NOTE "floor: N sleeping processes woken in turn by one poller (eventfd, no I/O), " \
		   "rounds/s x QD8: the\nIOPS ceiling of N sleeping guests on this machine; " \
		   "fl/1g: that ceiling / the one-guest figure;\nus/rnd: CPU per guest round " \
		   "(QD8 I/Os) with N guests: all CPUs / total IOPS x 8; wake us: the CPU of\n" \
		   "one round of the floor alone (sleeper + waker, no ring, no I/O)\n"

static double mono_s(void)
{
	return (double)bench_now_ns() * 1e-9;
}

/* Sleeper i's request flag, alone on its cache line. */
static uint32_t *floor_flag(char *shm, unsigned i)
{
	return (uint32_t *)(shm + (size_t)i * FLOOR_LINE);
}

/* n sleepers, one polling answerer, secs seconds: rounds per second, or
 * -1; *cpu_us: the CPU one round costs (the sleepers' user + system time
 * and the answerer's time inside write(), its spinning left out). Every
 * child is waited for by PID before returning. */
static double wake_floor(unsigned n, double secs, double *cpu_us)
{
	size_t len = ((size_t)n + 1) * FLOOR_LINE;
	char *shm = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int *efd = calloc(n, sizeof(int));
	pid_t *pid = calloc(n, sizeof(pid_t));
	uint32_t *stop;
	unsigned made = 0;
	uint64_t rounds = 0, one = 1;
	double t0, el = -1, wr = 0, kids = 0;

	if (shm == MAP_FAILED || !efd || !pid)
		goto out;
	stop = floor_flag(shm, n);
	for (; made < n; made++) {
		uint32_t *flag = floor_flag(shm, made);

		efd[made] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (efd[made] < 0)
			break;
		pid[made] = fork();
		if (pid[made] < 0) {
			close(efd[made]);
			break;
		}
		if (pid[made] == 0) {
			struct pollfd pf = { .fd = efd[made], .events = POLLIN };
			uint64_t v;

			for (;;) {
				if (poll(&pf, 1, -1) < 0 && errno != EINTR)
					_exit(1);
				if (read(efd[made], &v, sizeof(v)) != (ssize_t)sizeof(v))
					continue;
				if (__atomic_load_n(stop, __ATOMIC_ACQUIRE))
					_exit(0);
				__atomic_store_n(flag, 1, __ATOMIC_RELEASE);
			}
		}
	}
	if (made == n) {
		for (unsigned i = 0; i < n; i++)
			if (write(efd[i], &one, sizeof(one)) < 0)
				break;
		t0 = mono_s();
		do {
			for (unsigned i = 0; i < n; i++) {
				uint32_t *flag = floor_flag(shm, i);
				double w0;

				if (!__atomic_load_n(flag, __ATOMIC_ACQUIRE))
					continue;
				w0 = mono_s();
				__atomic_store_n(flag, 0, __ATOMIC_RELAXED);
				rounds++;
				if (write(efd[i], &one, sizeof(one)) < 0)
					break;
				wr += mono_s() - w0;
			}
		} while ((el = mono_s() - t0) < secs);
	}
	__atomic_store_n(stop, 1, __ATOMIC_RELEASE);
	for (unsigned i = 0; i < made; i++) {
		if (write(efd[i], &one, sizeof(one)) < 0)
			kill(pid[i], SIGKILL);
	}
	for (unsigned i = 0; i < made; i++) {
		struct rusage ru;

		if (wait4(pid[i], NULL, 0, &ru) == pid[i])
			kids += (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
				(double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
		close(efd[i]);
	}
	*cpu_us = rounds ? (kids + wr) * 1e6 / (double)rounds : 0;
	if (made < n)
		el = -1;
out:
	if (shm != MAP_FAILED)
		munmap(shm, len);
	free(efd);
	free(pid);
	return el > 0 ? (double)rounds / el : -1;
}

/* g0..g{n-1} with a disk each, and gs: the one guest, whose disk holds as
 * much as theirs together (single.img; it reads the first n x 16 MiB). */
static int attach_all(const struct bench_pv_env *e, const char *files, unsigned n)
{
	char pvio[600];

	snprintf(pvio, sizeof(pvio), "%s/tools/pvio", e->build);
	for (unsigned i = 0; i <= n; i++) {
		char dom[32], spec[700];
		char *c[] = { pvio, "create", dom, "memory=32M", NULL };
		char *a[] = { pvio, "block-attach", dom, spec, NULL };

		if (i == n) {
			snprintf(dom, sizeof(dom), "gs");
			snprintf(spec, sizeof(spec), "vdev=xvda, access=rw, target=%s/single.img",
				 files);
		} else {
			snprintf(dom, sizeof(dom), "g%u", i);
			snprintf(spec, sizeof(spec), "vdev=xvda, access=rw, target=%s/disk%u.img",
				 files, i);
		}
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
	for (unsigned i = 0; i <= n; i++) {
		char dom[32];
		char *d[] = { pvio, "destroy", dom, NULL };

		if (i == n)
			snprintf(dom, sizeof(dom), "gs");
		else
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
	if (run_together(&env, n, SCALE_QD, SCALE_FILE_MB, secs, iops) < 0)
		goto out_env;
	out->single_qd = n * SCALE_QD > SCALE_MAX_QD ? SCALE_MAX_QD : n * SCALE_QD;
	bench_progress("scale: 1 guest x QD%u", out->single_qd);
	if (run_together(&env, 0, out->single_qd, n * SCALE_FILE_MB, secs, &single) < 0)
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
	rc = 0;
out_env:
	destroy_all(&env, n);
	bench_pv_stop(&env);
	if (rc == 0) {
		/* With everything else stopped: the wake-up floor. */
		double fr;

		bench_progress("scale: wake-up floor, %u sleepers", n);
		fr = wake_floor(n, secs > 2 ? 2.0 : secs, &out->wake_us);
		out->floor = fr > 0 ? fr * SCALE_QD : 0;
		out->ok = true;
	}
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
	bench_progress("scale: writing %u files of %d MiB and one of %u MiB", maxn, SCALE_FILE_MB,
		       maxn * SCALE_FILE_MB);
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
		fprintf(f, "pvio-bench scale: %s\n%-7s %11s %9s %9s %9s %6s %10s %5s %7s %10s %7s %7s %7s\n",
			line, "guests", "total IOPS", "min", "median", "max", "jain", "1 guest", "qd",
			"ratio", "floor", "fl/1g", "us/rnd", "wake us");
	for (unsigned k = 0; k < nn; k++) {
		struct scale_run runs[16];
		double tot[16], mn[16], md[16], mx[16], ja[16], si[16], ra[16], fl[16], fr[16];
		double wu[16];
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
			fl[ok] = runs[r].floor;
			wu[ok] = runs[r].wake_us;
			fr[ok] = runs[r].single > 0 ? runs[r].floor / runs[r].single : 0;
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
			bench_json_num(&j, "wake_floor_iops", bench_median(fl, ok));
			bench_json_num(&j, "wake_floor_ratio", bench_median(fr, ok));
			bench_json_num(&j, "wake_cpu_us_per_round", bench_median(wu, ok));
			bench_json_num(&j, "cpu_us_per_round", bench_median(tot, ok) > 0 ?
				       (double)bench_ncpus() * 1e6 * SCALE_QD / bench_median(tot, ok) : 0);
			bench_json_arr_begin(&j, "reps");
			for (unsigned r = 0; r < ok; r++) {
				bench_json_obj_begin(&j, NULL);
				bench_json_num(&j, "total_iops", tot[r]);
				bench_json_num(&j, "jain", ja[r]);
				bench_json_num(&j, "single_iops", si[r]);
				bench_json_num(&j, "ratio", ra[r]);
				bench_json_num(&j, "wake_floor_iops", fl[r]);
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
			fprintf(f, "%-7u %11.0f %9.0f %9.0f %9.0f %6.3f %10.0f %4u%s %7.3f %10.0f %7.3f "
				"%7.2f %7.2f\n",
				ns[k], bench_median(tot, ok), bench_median(mn, ok), bench_median(md, ok),
				bench_median(mx, ok), bench_median(ja, ok), bench_median(si, ok), qd1,
				qd1 < ns[k] * SCALE_QD ? "*" : " ", bench_median(ra, ok),
				bench_median(fl, ok), bench_median(fr, ok),
				(double)bench_ncpus() * 1e6 * SCALE_QD / bench_median(tot, ok),
				bench_median(wu, ok));
			fflush(f);
		}
	}
	bench_json_arr_end(&j);
	bench_json_obj_end(&j);
	fputc('\n', jf);
	fclose(jf);
	fprintf(tf, "(* the single guest's depth is capped at %d)\n%s", SCALE_MAX_QD, FLOOR_NOTE);
	fclose(tf);
	snprintf(line, sizeof(line), "rm -rf '%s'", files);
	if (system(line) != 0)
		fprintf(stderr, "bench scale: could not remove %s\n", files);
	printf("(* the single guest's depth is capped at %d)\n%sJSON: %s\n", SCALE_MAX_QD, FLOOR_NOTE,
	       path);
	return 0;
}

const struct bench_cmd bench_cmd_scale = {
	"scale", "many guests on one pvio-blkback: total IOPS, per-guest spread, Jain's index",
	usage, scale_run,
};
