/* SPDX-License-Identifier: MIT */
/*
 * pvio-bench restart: what a pvio-blkback restart costs a guest doing I/O.
 *
 * One guest runs pvio-blkio verify (QD16, 512 B..1 MiB writes and reads
 * over 32 MiB, 2 queues, 5 s) on a file-backed disk. Two seconds in, the
 * backend is restarted:
 *   crash    SIGKILL, then a new pvio-blkback (a crash and its supervisor)
 *   planned  SIGTERM, wait for it to exit, then a new pvio-blkback
 *            (`systemctl restart`: stop, then start)
 *   none     no restart: the same workload's own longest gap, the floor
 * blkfront reconnects and re-issues what was in flight. The figure is the
 * guest-visible stall: the longest time a queue went without a completed
 * I/O (pvio-blkio verify's "stall:" line), median and range over --reps;
 * every run must also verify every block (0 mismatches). The modes are
 * interleaved (none, crash, planned, none, ...), each with a fresh pviod,
 * backend and disk. JSON: bench/results/restart.json.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench_common.h"

enum { M_NONE, M_CRASH, M_PLANNED, NR_MODES };
static const char *mode_name[NR_MODES] = { "none", "crash", "planned" };

#define MAX_REPS 64

struct one {
	double stall_ms;
	unsigned reconnects;
	bool ok;
};

static void usage(FILE *f)
{
	fprintf(f, "  restart: no options (--reps N: runs per mode, default 5)\n");
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static pid_t start_blkback(struct bench_pv_env *e)
{
	char bin[600];
	char *av[] = { bin, "--socket", e->sock, NULL };

	snprintf(bin, sizeof(bin), "%s/blkback/pvio-blkback", e->build);
	return bench_start_daemon(av, -1);
}

/* One run in mode m. */
static int one_run(const char *build, int m, unsigned secs, struct one *out)
{
	struct bench_pv_env e = { .pviod = -1, .blkback = -1 };
	char pvio[600], blkio[600], img[600], spec[700], outp[600], buf[8192], ss[16];
	const char *p;
	pid_t g;
	int fd, st, rc = -1;
	ssize_t n;

	memset(out, 0, sizeof(*out));
	if (bench_pv_start(&e, build, NULL) < 0)
		goto out;
	snprintf(pvio, sizeof(pvio), "%s/tools/pvio", build);
	snprintf(blkio, sizeof(blkio), "%s/tools/pvio-blkio", build);
	snprintf(img, sizeof(img), "%s/disk.img", e.dir);
	snprintf(outp, sizeof(outp), "%s/guest.out", e.dir);
	snprintf(spec, sizeof(spec), "vdev=xvda, access=rw, target=%s", img);
	snprintf(ss, sizeof(ss), "%u", secs);
	fd = open(img, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, 64 << 20) < 0) {
		if (fd >= 0)
			close(fd);
		goto out;
	}
	close(fd);
	{
		char *c[] = { pvio, "create", "g1", "memory=128M", NULL };
		char *a[] = { pvio, "block-attach", "g1", spec, NULL };

		if (bench_run_cmd(c, NULL, 0) != 0 || bench_run_cmd(a, NULL, 0) != 0) {
			fprintf(stderr, "bench restart: cannot create the guest\n");
			goto out;
		}
	}
	g = fork();
	if (g == 0) {
		char *av[] = { pvio, "run", "--domain", "g1", "--", blkio, "--queues", "2",
			       "--timeout-ms", "30000", "verify", "xvda", "--seconds", ss,
			       "--qd", "16", "--region-mb", "32", "--discard-pct", "0", NULL };
		int o = open(outp, O_CREAT | O_WRONLY | O_TRUNC, 0600), dn = open("/dev/null", O_WRONLY);

		if (o < 0 || dn < 0)
			_exit(127);
		dup2(o, 1);
		dup2(dn, 2);
		execv(pvio, av);
		_exit(127);
	}
	if (g < 0)
		goto out;
	/* The workload is under way well before this (connect takes ms). */
	sleep_ms(2000);
	if (m != M_NONE) {
		kill(e.blkback, m == M_CRASH ? SIGKILL : SIGTERM);
		waitpid(e.blkback, NULL, 0);
		e.blkback = start_blkback(&e);
	}
	waitpid(g, &st, 0);
	fd = open(outp, O_RDONLY);
	n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	if (fd >= 0)
		close(fd);
	if (n <= 0)
		goto out;
	buf[n] = 0;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || !strstr(buf, "mismatches 0, final pass bad blocks 0 ")) {
		fprintf(stderr, "bench restart: %s: the workload failed:\n%s", mode_name[m], buf);
		goto out;
	}
	p = strstr(buf, "stall: longest gap between completions ");
	if (!p || sscanf(p, "stall: longest gap between completions %lf", &out->stall_ms) != 1)
		goto out;
	p = strstr(buf, " reconnects");
	if (p) {
		while (p > buf && p[-1] >= '0' && p[-1] <= '9')
			p--;
		out->reconnects = (unsigned)strtoul(p, NULL, 10);
	}
	out->ok = true;
	rc = 0;
out:
	bench_pv_stop(&e);
	return rc;
}

static int restart_run(const struct bench_opts *o, int argc, char **argv)
{
	char build[512];
	unsigned reps = o->reps > MAX_REPS ? MAX_REPS : (unsigned)o->reps;
	unsigned secs = o->quick ? 3 : 5;
	double v[NR_MODES][MAX_REPS];
	unsigned nv[NR_MODES] = { 0 }, bad = 0;
	struct bench_outputs out;
	struct bench_json *j = &out.j;
	FILE *tf;

	(void)argv;
	if (argc > 1) {
		fprintf(stderr, "bench restart: no options\n");
		return 2;
	}
	bench_find_build(o->repo, build, sizeof(build));
	for (unsigned r = 0; r < reps; r++)
		for (int m = 0; m < NR_MODES; m++) {
			struct one x;

			bench_progress("restart: %s, run %u of %u", mode_name[m], r + 1, reps);
			if (one_run(build, m, secs, &x) < 0 || (m != M_NONE && x.reconnects != 1)) {
				bad++;
				continue;
			}
			v[m][nv[m]++] = x.stall_ms;
		}
	bench_progress_done();
	if (bench_outputs_open(&out, o, "restart") < 0)
		return 1;
	bench_json_str(j, "metric", "guest's longest gap between completed I/Os, ms");
	bench_json_int(j, "failed_runs", bad);
	bench_json_arr_begin(j, "modes");
	tf = out.tf;
	FILE *outs[2] = { tf, stdout };

	for (unsigned k = 0; k < 2; k++) {
		FILE *f = outs[k];

		fprintf(f, "pvio-bench restart: %s\n", out.line);
		fprintf(f, "guest: pvio-blkio verify, 2 queues x QD16, 512 B-1 MiB; pvio-blkback "
			"restarted 2 s in\n%-8s %10s %10s %10s %5s\n", "mode", "median ms", "min ms",
			"max ms", "runs");
		for (int m = 0; m < NR_MODES; m++) {
			double mn = 0, mx = 0;

			for (unsigned i = 0; i < nv[m]; i++) {
				if (i == 0 || v[m][i] < mn)
					mn = v[m][i];
				if (v[m][i] > mx)
					mx = v[m][i];
			}
			fprintf(f, "%-8s %10.1f %10.1f %10.1f %5u\n", mode_name[m],
				nv[m] ? bench_median(v[m], nv[m]) : 0, mn, mx, nv[m]);
			if (f == tf) {
				bench_json_obj_begin(j, NULL);
				bench_json_str(j, "mode", mode_name[m]);
				bench_json_num(j, "median_ms", nv[m] ? bench_median(v[m], nv[m]) : 0);
				bench_json_num(j, "min_ms", mn);
				bench_json_num(j, "max_ms", mx);
				bench_json_nums(j, "runs_ms", v[m], nv[m]);
				bench_json_obj_end(j);
			}
		}
		if (bad)
			fprintf(f, "%u run(s) failed (see above)\n", bad);
	}
	bench_json_arr_end(j);
	bench_outputs_close(&out);
	return bad ? 1 : 0;
}

const struct bench_cmd bench_cmd_restart = {
	"restart", "a pvio-blkback restart (crash, planned) under load: the guest's longest stall",
	usage, restart_run,
};
