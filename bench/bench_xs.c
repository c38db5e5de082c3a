/* SPDX-License-Identifier: MIT */
/*
 * pvio-bench xs: the store, over pviod's dom0 socket.
 *
 *   read / write ops/s with 1 and 16 concurrent clients (each client a
 *   thread with its own connection), pvio's client (xenstore/xs.h) against
 *   Xen's own libxenstore on the same store
 *   watch latency: a write by one client until the event reaches another's
 *   watch (median, p99)
 */
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench_common.h"
#include "xenstore/xs.h"

#if __has_include(<xenstore.h>)
#include <xenstore.h>
#define HAVE_LIBXS 1
#endif

struct worker {
	const char *sock;
	bool write;
	bool libxs;
	double secs;
	int idx;
	uint64_t ops;
	int err;
	pthread_barrier_t *bar;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	char path[64], buf[64];
	uint64_t end;
	struct pvio_xs *xs = NULL;
#ifdef HAVE_LIBXS
	struct xs_handle *xh = NULL;
#endif

	snprintf(path, sizeof(path), "/bench/k%d", w->idx);
	if (w->libxs) {
#ifdef HAVE_LIBXS
		setenv("XENSTORED_PATH", w->sock, 1);
		xh = xs_open(0);
		if (!xh || !xs_write(xh, XBT_NULL, path, "value", 5)) {
			w->err = 1;
		}
#endif
	} else if (pvio_xs_open(w->sock, &xs) < 0 || pvio_xs_write(xs, 0, path, "value", 5) < 0) {
		w->err = 1;
	}
	pthread_barrier_wait(w->bar);
	end = bench_now_ns() + (uint64_t)(w->secs * 1e9);
	while (!w->err && bench_now_ns() < end) {
		for (int i = 0; i < 32; i++) {
			if (w->libxs) {
#ifdef HAVE_LIBXS
				unsigned len;
				if (w->write) {
					if (!xs_write(xh, XBT_NULL, path, "value", 5))
						w->err = 1;
				} else {
					void *v = xs_read(xh, XBT_NULL, path, &len);
					if (!v)
						w->err = 1;
					free(v);
				}
#endif
			} else if (w->write) {
				if (pvio_xs_write(xs, 0, path, "value", 5) < 0)
					w->err = 1;
			} else if (pvio_xs_read_buf(xs, 0, path, buf, sizeof(buf), NULL) < 0) {
				w->err = 1;
			}
			w->ops++;
		}
	}
	if (xs)
		pvio_xs_close(xs);
#ifdef HAVE_LIBXS
	if (xh)
		xs_close(xh);
#endif
	return NULL;
}

static double run_clients(const char *sock, int n, bool write, bool libxs, double secs)
{
	pthread_t t[16];
	struct worker w[16];
	pthread_barrier_t bar;
	uint64_t total = 0, t0;

	pthread_barrier_init(&bar, NULL, (unsigned)n + 1);
	for (int i = 0; i < n; i++) {
		w[i] = (struct worker){ .sock = sock, .write = write, .libxs = libxs, .secs = secs,
					.idx = i, .bar = &bar };
		pthread_create(&t[i], NULL, work, &w[i]);
	}
	pthread_barrier_wait(&bar);
	t0 = bench_now_ns();
	for (int i = 0; i < n; i++) {
		pthread_join(t[i], NULL);
		total += w[i].ops;
		if (w[i].err)
			return -1;
	}
	pthread_barrier_destroy(&bar);
	return (double)total / ((double)(bench_now_ns() - t0) / 1e9);
}

static int watch_latency(const char *sock, unsigned n, double *lat)
{
	struct pvio_xs *a, *b;
	struct pvio_xs_event *ev = malloc(sizeof(*ev));

	if (!ev || pvio_xs_open(sock, &a) < 0 || pvio_xs_open(sock, &b) < 0)
		return -1;
	if (pvio_xs_watch(b, "/bench/w", "tok") < 0 || pvio_xs_read_watch(b, "tok", ev, 1000) < 0)
		return -1;   /* the initial event */
	for (unsigned i = 0; i < n; i++) {
		uint64_t t0 = bench_now_ns();
		if (pvio_xs_printf(a, 0, "/bench/w", "%u", i) < 0 ||
		    pvio_xs_read_watch(b, "tok", ev, 1000) < 0)
			return -1;
		lat[i] = (double)(bench_now_ns() - t0) / 1e3;
	}
	pvio_xs_close(a);
	pvio_xs_close(b);
	free(ev);
	return 0;
}

static void xs_usage(FILE *f)
{
	fprintf(f, "  xs options: --seconds S (per run, default 1)\n");
}

static int xs_run(const struct bench_opts *o, int argc, char **argv)
{
	int reps = o->quick ? 1 : (o->reps < 1 ? 1 : o->reps > 32 ? 32 : o->reps);
	double secs = o->quick ? 0.3 : 1.0;
	char tmpl[] = "/tmp/pvio-bench-xs-XXXXXX", sock[128], csock[128], bin[600], rfd[16], b[8];
	char build[512], path[600], tpath[600], mline[256];
	const char *bd = getenv("BUILD");
	int p[2];
	pid_t pviod;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			secs = atof(argv[++i]);
		else
			return 2;
	}
	if (bd && bd[0] == '/')
		snprintf(build, sizeof(build), "%s", bd);
	else
		snprintf(build, sizeof(build), "%s/%s", o->repo, bd && *bd ? bd : "build");
	if (!mkdtemp(tmpl) || pipe(p) < 0)
		return 1;
	snprintf(sock, sizeof(sock), "%s/xs.sock", tmpl);
	snprintf(csock, sizeof(csock), "%s/pviod.sock", tmpl);
	snprintf(bin, sizeof(bin), "%s/hv/pviod", build);
	snprintf(rfd, sizeof(rfd), "%d", p[1]);
	pviod = fork();
	if (pviod == 0) {
		execl(bin, bin, "--socket", csock, "--xs-socket", sock, "--ready-fd", rfd, NULL);
		_exit(127);
	}
	close(p[1]);
	if (read(p[0], b, sizeof(b)) <= 0) {
		fprintf(stderr, "bench xs: pviod did not start (%s)\n", bin);
		return 1;
	}
	close(p[0]);

	struct { const char *name; int n; bool write; double pv[32], base[32]; } cs[4] = {
		{ "read-1-client", 1, false, {0}, {0} }, { "read-16-clients", 16, false, {0}, {0} },
		{ "write-1-client", 1, true, {0}, {0} }, { "write-16-clients", 16, true, {0}, {0} },
	};
	unsigned trips = o->quick ? 500 : 5000;
	double *lat = calloc(trips, sizeof(double)), wl[32], wl99[32];
	int rc = 0;
	bool libxs = false;
#ifdef HAVE_LIBXS
	libxs = true;
#endif
	for (int r = 0; r < reps && !rc; r++) {
		for (int k = 0; k < 4; k++) {
			bench_progress("xs: %s rep %d/%d", cs[k].name, r + 1, reps);
			cs[k].pv[r] = run_clients(sock, cs[k].n, cs[k].write, false, secs);
			cs[k].base[r] = libxs ? run_clients(sock, cs[k].n, cs[k].write, true, secs) : 0;
			if (cs[k].pv[r] < 0 || cs[k].base[r] < 0)
				rc = 1;
		}
		bench_progress("xs: watch latency rep %d/%d", r + 1, reps);
		if (watch_latency(sock, trips, lat) < 0)
			rc = 1;
		wl[r] = bench_median(lat, trips);
		wl99[r] = bench_percentile(lat, trips, 99);
	}
	bench_progress_done();
	kill(pviod, SIGTERM);
	waitpid(pviod, NULL, 0);
	snprintf(path, sizeof(path), "rm -rf %s", tmpl);
	if (system(path) != 0)
		fprintf(stderr, "bench xs: could not remove %s\n", tmpl);
	free(lat);
	if (rc) {
		fprintf(stderr, "bench xs: a client failed\n");
		return 1;
	}

	if (bench_out_path(o, "xs", "json", path, sizeof(path)) < 0 ||
	    bench_out_path(o, "xs", "txt", tpath, sizeof(tpath)) < 0)
		return 1;
	FILE *jf = fopen(path, "w"), *tf = fopen(tpath, "w");
	struct bench_json j;
	if (!jf || !tf)
		return 1;
	bench_machine_line(mline, sizeof(mline), o->repo);
	bench_json_init(&j, jf);
	bench_json_obj_begin(&j, NULL);
	bench_json_str(&j, "benchmark", "xs");
	bench_json_machine(&j, o->repo);
	bench_json_arr_begin(&j, "cases");
	FILE *outs[2] = { stdout, tf };
	for (int w = 0; w < 2; w++) {
		fprintf(outs[w], "pvio-bench xs: %s\n", mline);
		fprintf(outs[w], "%-20s %16s %14s %7s\n", "case", "libxenstore op/s", "pvio_xs op/s",
			"ratio");
	}
	for (int k = 0; k < 4; k++) {
		double pv = bench_median(cs[k].pv, (size_t)reps);
		double bs = bench_median(cs[k].base, (size_t)reps);
		for (int w = 0; w < 2; w++)
			fprintf(outs[w], "%-20s %16.0f %14.0f %7.3f\n", cs[k].name, bs, pv,
				bs > 0 ? pv / bs : 0);
		bench_json_obj_begin(&j, NULL);
		bench_json_str(&j, "name", cs[k].name);
		bench_json_str(&j, "baseline", "libxenstore");
		bench_json_num(&j, "baseline_value", bs);
		bench_json_num(&j, "pvio_value", pv);
		bench_json_str(&j, "unit", "ops/s");
		bench_json_num(&j, "ratio", bs > 0 ? pv / bs : 0);
		bench_json_arr_begin(&j, "reps");
		for (int r = 0; r < reps; r++) {
			bench_json_obj_begin(&j, NULL);
			bench_json_num(&j, "pvio", cs[k].pv[r]);
			bench_json_num(&j, "baseline", cs[k].base[r]);
			bench_json_obj_end(&j);
		}
		bench_json_arr_end(&j);
		bench_json_obj_end(&j);
	}
	double m = bench_median(wl, (size_t)reps), m99 = bench_median(wl99, (size_t)reps);
	for (int w = 0; w < 2; w++)
		fprintf(outs[w], "watch latency (write -> event): median %.1f us, p99 %.1f us\n", m, m99);
	bench_json_obj_begin(&j, NULL);
	bench_json_str(&j, "name", "watch-latency");
	bench_json_str(&j, "baseline", "none");
	bench_json_null(&j, "baseline_value");
	bench_json_num(&j, "pvio_value", m);
	bench_json_str(&j, "unit", "us");
	bench_json_null(&j, "ratio");
	bench_json_num(&j, "pvio_p99", m99);
	bench_json_arr_begin(&j, "reps");
	for (int r = 0; r < reps; r++) {
		bench_json_obj_begin(&j, NULL);
		bench_json_num(&j, "pvio", wl[r]);
		bench_json_obj_end(&j);
	}
	bench_json_arr_end(&j);
	bench_json_obj_end(&j);
	bench_json_arr_end(&j);
	bench_json_obj_end(&j);
	fputc('\n', jf);
	fclose(jf);
	fclose(tf);
	printf("JSON: %s\n", path);
	return 0;
}

const struct bench_cmd bench_cmd_xs = {
	.name = "xs",
	.summary = "xenstore: read/write ops/s (pvio_xs vs libxenstore), watch latency",
	.usage = xs_usage,
	.run = xs_run,
};
