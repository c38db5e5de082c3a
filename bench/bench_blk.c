/* SPDX-License-Identifier: MIT */
/*
 * pvio-bench blk: the full PV block path against native io_uring, on the
 * same file, in one invocation.
 *
 *   native  one thread, liburing, queue depth D, the same file and open
 *           flags (buffered, or O_DIRECT)
 *   pvio    a guest process (pvio-blkio bench, one queue) -> pviod's shared
 *           memory -> a pvio-blkback process (io_uring engine) -> the file
 *
 * Cases: 4k randread QD1 and QD32, 4k randwrite QD32, 128k sequential read
 * QD16, 1M sequential write QD8, on (a) a page-cached file and (b) an
 * O_DIRECT file, both on the root filesystem. Repetitions alternate native
 * and pvio; medians are reported. The native numbers are cross-checked with
 * fio --ioengine=io_uring on the same file.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <liburing.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench_common.h"

struct blk_case {
	const char *name;
	const char *rw;        /* randread randwrite read write */
	unsigned bs;
	unsigned qd;
};

static const struct blk_case cases[] = {
	{ "4k-randread-qd1", "randread", 4096, 1 },
	{ "4k-randread-qd32", "randread", 4096, 32 },
	{ "4k-randwrite-qd32", "randwrite", 4096, 32 },
	{ "128k-read-qd16", "read", 131072, 16 },
	{ "1m-write-qd8", "write", 1048576, 8 },
};
#define NR_CASES (sizeof(cases) / sizeof(cases[0]))

struct result {
	double iops, mibps, p50, p99, cpu_fe, cpu_be;   /* cpu: seconds per million I/Os */
	bool ok;
};

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

/* ------------------------------------------------------------ native */

static int native_run(const char *path, bool direct, const struct blk_case *c, double secs,
		      uint64_t size, struct result *out)
{
	struct io_uring ring;
	bool wr = !strcmp(c->rw, "randwrite") || !strcmp(c->rw, "write");
	bool rnd = !strncmp(c->rw, "rand", 4);
	int fd = open(path, (wr ? O_RDWR : O_RDONLY) | (direct ? O_DIRECT : 0));
	void *bufs[64];
	uint64_t *start = calloc(c->qd, sizeof(uint64_t)), ios = 0, seq = 0, rng = 7;
	size_t cap = 1 << 22, nlat = 0;
	double *lat = malloc(cap * sizeof(double));
	uint64_t nblk = size / c->bs;
	int r = -1;

	memset(out, 0, sizeof(*out));
	if (fd < 0 || !start || !lat || io_uring_queue_init(c->qd * 2, &ring, 0) < 0) {
		fprintf(stderr, "bench blk: native setup: %s\n", strerror(errno));
		goto out;
	}
	for (unsigned i = 0; i < c->qd; i++) {
		if (posix_memalign(&bufs[i], 4096, c->bs))
			goto out_ring;
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
				goto out_ring;
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
	double cpu = (double)(bench_proc_cpu_ns(0) - c0) / 1e9;
	qsort(lat, nlat, sizeof(double), cmpd);
	out->iops = ios / el;
	out->mibps = ios * (double)c->bs / el / 1048576.0;
	out->p50 = bench_percentile(lat, nlat, 50);
	out->p99 = bench_percentile(lat, nlat, 99);
	out->cpu_fe = ios ? cpu / ((double)ios / 1e6) : 0;
	out->cpu_be = 0;
	out->ok = true;
	r = 0;
out_ring:
	io_uring_queue_exit(&ring);
out:
	if (fd >= 0)
		close(fd);
	free(start);
	free(lat);
	return r;
}

/* ------------------------------------------------------------ pvio */

static int pv_attach(struct bench_pv_env *e, const char *dom, const char *img, bool direct)
{
	char pvio[600], spec[700];

	snprintf(pvio, sizeof(pvio), "%s/tools/pvio", e->build);
	snprintf(e->dom, sizeof(e->dom), "%s", dom);
	{
		char *av[] = { pvio, "create", (char *)dom, "memory=512M", NULL };
		if (bench_run_cmd(av, NULL, 0) != 0)
			return -1;
	}
	snprintf(spec, sizeof(spec), "direct=%d, vdev=xvda, access=rw, target=%s", direct, img);
	{
		char *av[] = { pvio, "block-attach", (char *)dom, spec, NULL };
		return bench_run_cmd(av, NULL, 0) == 0 ? 0 : -1;
	}
}

static void pv_detach(struct bench_pv_env *e)
{
	char pvio[600];

	snprintf(pvio, sizeof(pvio), "%s/tools/pvio", e->build);
	char *av[] = { pvio, "destroy", e->dom, NULL };
	bench_run_cmd(av, NULL, 0);
}

/* The number after "key" (and a colon, spaces allowed: fio writes
 * "iops" : 123), or -1. */
static double json_num(const char *s, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\"", key);
	p = strstr(s, pat);
	if (!p)
		return -1;
	p += strlen(pat);
	while (*p == ' ' || *p == ':')
		p++;
	return strtod(p, NULL);
}

static int pv_run(struct bench_pv_env *e, const struct blk_case *c, double secs, uint64_t size,
		  struct result *out)
{
	char pvio[600], blkio[600], bs[32], qd[16], sec[32], sz[32], buf[1024];
	uint64_t be0, be1;
	int r;

	memset(out, 0, sizeof(*out));
	snprintf(pvio, sizeof(pvio), "%s/tools/pvio", e->build);
	snprintf(blkio, sizeof(blkio), "%s/tools/pvio-blkio", e->build);
	snprintf(bs, sizeof(bs), "%u", c->bs);
	snprintf(qd, sizeof(qd), "%u", c->qd);
	snprintf(sec, sizeof(sec), "%.0f", secs < 1 ? 1 : secs);
	snprintf(sz, sizeof(sz), "%llu", (unsigned long long)(size >> 20));
	char *av[] = { pvio, "run", "--domain", e->dom, "--", blkio, "--queues", "1", "bench",
		       "xvda", "--rw", (char *)c->rw, "--bs", bs, "--qd", qd, "--seconds", sec,
		       "--size-mb", sz, NULL };
	be0 = bench_proc_cpu_ns(e->blkback);
	r = bench_run_cmd(av, buf, sizeof(buf));
	be1 = bench_proc_cpu_ns(e->blkback);
	if (r != 0) {
		fprintf(stderr, "bench blk: pvio run failed (%d): %s\n", r, buf);
		return -1;
	}
	double ios = json_num(buf, "ios");
	out->iops = json_num(buf, "iops");
	out->mibps = json_num(buf, "mibps");
	out->p50 = json_num(buf, "p50_us");
	out->p99 = json_num(buf, "p99_us");
	out->cpu_fe = ios > 0 ? json_num(buf, "cpu_s") / (ios / 1e6) : 0;
	out->cpu_be = ios > 0 ? (double)(be1 - be0) / 1e9 / (ios / 1e6) : 0;
	out->ok = ios > 0;
	return out->ok ? 0 : -1;
}

/* ------------------------------------------------------------ fio */

static double fio_iops(const char *path, bool direct, const struct blk_case *c, double secs,
		       uint64_t size)
{
	char cmd[1024], buf[65536];
	FILE *f;
	size_t n;

	snprintf(cmd, sizeof(cmd),
		 "fio --name=x --filename=%s --size=%llu --ioengine=io_uring --rw=%s --bs=%u "
		 "--iodepth=%u --numjobs=1 --runtime=%.0f --time_based --direct=%d "
		 "--invalidate=0 --output-format=json 2>/dev/null",
		 path, (unsigned long long)size, c->rw, c->bs, c->qd, secs < 1 ? 1 : secs, direct);
	f = popen(cmd, "r");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	pclose(f);
	const char *key = strstr(c->rw, "write") ? "\"write\"" : "\"read\"";
	const char *p = strstr(buf, key);
	return p ? json_num(p, "iops") : -1;
}

/* ------------------------------------------------------------ driver */

static int fill_file(const char *path, uint64_t size)
{
	int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
	char *b = malloc(1 << 20);
	int r = 0;

	if (fd < 0 || !b) {
		free(b);
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

static void blk_usage(FILE *f)
{
	fprintf(f, "  blk options: --seconds S (per run, default 3; --quick: 1)\n"
		   "               --size-mb M (file size, default 512)\n"
		   "               --no-fio (skip the fio cross-check)\n");
}

static const char *find_build(const char *repo, char *buf, size_t len)
{
	const char *b = getenv("BUILD");

	if (b && *b && b[0] == '/')
		snprintf(buf, len, "%s", b);
	else
		snprintf(buf, len, "%s/%s", repo, b && *b ? b : "build");
	return buf;
}

static int blk_run(const struct bench_opts *o, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "seconds", required_argument, NULL, 's' },
		{ "size-mb", required_argument, NULL, 'z' },
		{ "no-fio", no_argument, NULL, 'F' },
		{ NULL, 0, NULL, 0 },
	};
	double secs = o->quick ? 1 : 3;
	uint64_t size = (o->quick ? 128ull : 512ull) << 20;
	bool use_fio = !o->quick;
	int reps = o->quick ? 1 : o->reps, c;
	char build[512], path[600], img[2][300];
	struct result (*nat)[2][NR_CASES], (*pv)[2][NR_CASES];
	double fio[2][NR_CASES];
	struct bench_pv_env env = { .pviod = -1, .blkback = -1 };

	optind = 1;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 's': secs = atof(optarg); if (secs <= 0) return 2; break;
		case 'z': size = strtoull(optarg, NULL, 10) << 20; if (!size) return 2; break;
		case 'F': use_fio = false; break;
		default: return 2;
		}
	}
	if (reps < 1)
		reps = 1;
	find_build(o->repo, build, sizeof(build));
	nat = calloc((size_t)reps, sizeof(*nat));
	pv = calloc((size_t)reps, sizeof(*pv));
	if (!nat || !pv)
		return 1;
	/* Both targets on the root filesystem (ext4 here): /var/tmp. */
	snprintf(img[0], sizeof(img[0]), "/var/tmp/pvio-bench-cached-%d.img", (int)getpid());
	snprintf(img[1], sizeof(img[1]), "/var/tmp/pvio-bench-direct-%d.img", (int)getpid());
	bench_progress("blk: preparing two %llu MiB files", (unsigned long long)(size >> 20));
	if (fill_file(img[0], size) || fill_file(img[1], size)) {
		fprintf(stderr, "bench blk: cannot write the test files in /var/tmp\n");
		return 1;
	}
	if (bench_pv_start(&env, build, NULL) < 0) {
		fprintf(stderr, "bench blk: cannot start pviod/pvio-blkback from %s\n", build);
		bench_pv_stop(&env);
		return 1;
	}
	int rc = 0;
	for (int t = 0; t < 2 && !rc; t++) {
		char dom[16];
		snprintf(dom, sizeof(dom), "bench%d", t);
		if (pv_attach(&env, dom, img[t], t == 1) < 0) {
			fprintf(stderr, "bench blk: cannot attach %s\n", img[t]);
			rc = 1;
			break;
		}
		/* Warm the page cache for the buffered target. */
		if (t == 0) {
			int fd = open(img[0], O_RDONLY);
			char *b = malloc(1 << 20);
			while (fd >= 0 && b && read(fd, b, 1 << 20) > 0)
				;
			free(b);
			if (fd >= 0)
				close(fd);
		}
		for (unsigned k = 0; k < NR_CASES && !rc; k++) {
			for (int r = 0; r < reps; r++) {
				bench_progress("blk: %s %s rep %d/%d: native", t ? "direct" : "cached",
					       cases[k].name, r + 1, reps);
				if (native_run(img[t], t == 1, &cases[k], secs, size, &nat[r][t][k]))
					rc = 1;
				bench_progress("blk: %s %s rep %d/%d: pvio", t ? "direct" : "cached",
					       cases[k].name, r + 1, reps);
				if (pv_run(&env, &cases[k], secs, size, &pv[r][t][k]))
					rc = 1;
			}
			fio[t][k] = -1;
			if (use_fio && !rc) {
				bench_progress("blk: %s %s: fio cross-check", t ? "direct" : "cached",
					       cases[k].name);
				fio[t][k] = fio_iops(img[t], t == 1, &cases[k], secs, size);
			}
		}
		pv_detach(&env);
	}
	bench_pv_stop(&env);
	unlink(img[0]);
	unlink(img[1]);
	bench_progress_done();
	if (rc)
		return rc;

	/* Medians, table, JSON. */
	FILE *jf, *tf;
	struct bench_json j;
	char tpath[600], mline[256];
	double *v = calloc((size_t)reps, sizeof(double));

	if (bench_out_path(o, "blk", "json", path, sizeof(path)) < 0 ||
	    bench_out_path(o, "blk", "txt", tpath, sizeof(tpath)) < 0 || !v)
		return 1;
	jf = fopen(path, "w");
	tf = fopen(tpath, "w");
	if (!jf || !tf)
		return 1;
	bench_machine_line(mline, sizeof(mline), o->repo);
	bench_json_init(&j, jf);
	bench_json_obj_begin(&j, NULL);
	bench_json_str(&j, "benchmark", "blk");
	bench_json_machine(&j, o->repo);
	bench_json_num(&j, "seconds_per_run", secs);
	bench_json_int(&j, "file_bytes", (long long)size);
	bench_json_arr_begin(&j, "cases");
	FILE *outs[2] = { stdout, tf };
	for (int w = 0; w < 2; w++) {
		fprintf(outs[w], "pvio-bench blk: %s\n", mline);
		fprintf(outs[w], "%-8s %-18s %10s %10s %6s %9s %9s %8s %8s %8s %8s %9s %9s %10s\n",
			"target", "case", "native", "pvio", "ratio", "nat MiB/s", "pv MiB/s",
			"nat p50", "pv p50", "nat p99", "pv p99", "cpu nat", "cpu pv", "fio");
	}
	for (int t = 0; t < 2; t++) {
		for (unsigned k = 0; k < NR_CASES; k++) {
			struct result mn, mp;
#define MED(arr, field, dst) do { for (int r = 0; r < reps; r++) v[r] = arr[r][t][k].field; \
				  dst = bench_median(v, (size_t)reps); } while (0)
			MED(nat, iops, mn.iops); MED(nat, mibps, mn.mibps); MED(nat, p50, mn.p50);
			MED(nat, p99, mn.p99); MED(nat, cpu_fe, mn.cpu_fe);
			MED(pv, iops, mp.iops); MED(pv, mibps, mp.mibps); MED(pv, p50, mp.p50);
			MED(pv, p99, mp.p99); MED(pv, cpu_fe, mp.cpu_fe); MED(pv, cpu_be, mp.cpu_be);
			char name[64];
			snprintf(name, sizeof(name), "%s-%s", t ? "direct" : "cached", cases[k].name);
			double ratio = mn.iops > 0 ? mp.iops / mn.iops : 0;
			for (int w = 0; w < 2; w++)
				fprintf(outs[w], "%-8s %-18s %10.0f %10.0f %6.3f %9.1f %9.1f %8.1f "
					"%8.1f %8.1f %8.1f %9.3f %9.3f %10.0f\n",
					t ? "direct" : "cached", cases[k].name, mn.iops, mp.iops,
					ratio, mn.mibps, mp.mibps, mn.p50, mp.p50, mn.p99, mp.p99,
					mn.cpu_fe, mp.cpu_fe + mp.cpu_be, fio[t][k]);
			bench_json_obj_begin(&j, NULL);
			bench_json_str(&j, "name", name);
			bench_json_str(&j, "baseline", "native-io_uring");
			bench_json_num(&j, "baseline_value", mn.iops);
			bench_json_num(&j, "pvio_value", mp.iops);
			bench_json_str(&j, "unit", "IOPS");
			bench_json_num(&j, "ratio", ratio);
			bench_json_num(&j, "native_mibps", mn.mibps);
			bench_json_num(&j, "pvio_mibps", mp.mibps);
			bench_json_num(&j, "native_p50_us", mn.p50);
			bench_json_num(&j, "pvio_p50_us", mp.p50);
			bench_json_num(&j, "native_p99_us", mn.p99);
			bench_json_num(&j, "pvio_p99_us", mp.p99);
			bench_json_num(&j, "native_cpu_s_per_mio", mn.cpu_fe);
			bench_json_num(&j, "pvio_guest_cpu_s_per_mio", mp.cpu_fe);
			bench_json_num(&j, "pvio_backend_cpu_s_per_mio", mp.cpu_be);
			if (fio[t][k] >= 0)
				bench_json_num(&j, "fio_iops", fio[t][k]);
			else
				bench_json_null(&j, "fio_iops");
			bench_json_arr_begin(&j, "reps");
			for (int r = 0; r < reps; r++) {
				bench_json_obj_begin(&j, NULL);
				bench_json_num(&j, "pvio", pv[r][t][k].iops);
				bench_json_num(&j, "baseline", nat[r][t][k].iops);
				bench_json_obj_end(&j);
			}
			bench_json_arr_end(&j);
			bench_json_obj_end(&j);
		}
	}
	bench_json_arr_end(&j);
	bench_json_obj_end(&j);
	fputc('\n', jf);
	fclose(jf);
	fclose(tf);
	printf("cpu: seconds of CPU per million I/Os (pvio: guest + backend); fio: fio io_uring IOPS\n");
	printf("JSON: %s\n", path);

	/* The chart (gnuplot), when available. */
	char dat[640], png[640], cmd[2048];
	snprintf(dat, sizeof(dat), "%s.dat", tpath);
	bench_out_path(o, "blk", "png", png, sizeof(png));
	FILE *df = fopen(dat, "w");
	if (df) {
		for (int t = 0; t < 2; t++)
			for (unsigned k = 0; k < NR_CASES; k++) {
				for (int r = 0; r < reps; r++) v[r] = nat[r][t][k].iops;
				double a = bench_median(v, (size_t)reps);
				for (int r = 0; r < reps; r++) v[r] = pv[r][t][k].iops;
				double b = bench_median(v, (size_t)reps);
				fprintf(df, "\"%s\\n%s\" %.3f\n", t ? "direct" : "cached", cases[k].name,
					a > 0 ? b / a : 0);
			}
		fclose(df);
		snprintf(cmd, sizeof(cmd),
			 "gnuplot -e \"set terminal png size 1100,500; set output '%s'; "
			 "set title 'pvio / native io_uring (IOPS ratio, median)'; set style fill solid; "
			 "set yrange [0:1.3]; set xtics rotate by -30 font ',8'; set grid y; "
			 "plot '%s' using 2:xtic(1) with boxes title 'pvio/native', 1 with lines "
			 "title 'native'\" 2>/dev/null", png, dat);
		if (system(cmd) == 0)
			printf("chart: %s\n", png);
		unlink(dat);
	}
	free(v);
	free(nat);
	free(pv);
	return 0;
}

const struct bench_cmd bench_cmd_blk = {
	.name = "blk",
	.summary = "block path: pvio (guest -> pvio-blkback) vs native io_uring (IOPS, MiB/s, latency)",
	.usage = blk_usage,
	.run = blk_run,
};
