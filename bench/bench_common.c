/* SPDX-License-Identifier: MIT */
/* Shared helpers of pvio-bench; see bench_common.h. */
#include "bench/bench_common.h"
#include "ring/pvio_atomic.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ paths */

int bench_mkdirs_for(const char *path)
{
	char buf[4096];
	size_t n = strlen(path);

	if (n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0777) != 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return 0;
}

int bench_out_path(const struct bench_opts *o, const char *name, const char *ext,
		   char *buf, size_t len)
{
	int n;

	if (o->out && strcmp(ext, "json") == 0)
		n = snprintf(buf, len, "%s", o->out);
	else if (o->out) {
		/* A sibling of --out: same stem, other extension. */
		const char *dot = strrchr(o->out, '.');
		const char *slash = strrchr(o->out, '/');
		int stem = (dot && (!slash || dot > slash)) ? (int)(dot - o->out)
							    : (int)strlen(o->out);
		n = snprintf(buf, len, "%.*s.%s", stem, o->out, ext);
	} else
		n = snprintf(buf, len, "%s/bench/results/%s.%s", o->repo, name, ext);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return bench_mkdirs_for(buf);
}

/* ----------------------------------------------------------------- timing */

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t bench_now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

uint64_t bench_thread_cpu_ns(void)
{
	return clock_ns(CLOCK_THREAD_CPUTIME_ID);
}

uint64_t bench_proc_cpu_ns(pid_t pid)
{
	char path[64], buf[1024];
	unsigned long long utime, stime;
	const char *p;
	FILE *f;
	size_t n;
	long hz = sysconf(_SC_CLK_TCK);

	if (pid == 0)
		snprintf(path, sizeof(path), "/proc/self/stat");
	else
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* comm (field 2) may hold spaces and parentheses: skip past the last ')'.
	 * Then: state(3) ppid pgrp session tty_nr tpgid flags minflt cminflt
	 * majflt cmajflt utime(14) stime(15). */
	p = strrchr(buf, ')');
	if (!p || hz <= 0)
		return 0;
	if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
		   &utime, &stime) != 2)
		return 0;
	return (utime + stime) * (1000000000ull / (unsigned long long)hz);
}

/* ------------------------------------------------------------- statistics */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double bench_percentile(const double *v, size_t n, double p)
{
	double *s, r, pos;
	size_t lo;

	if (n == 0)
		return 0;
	s = malloc(n * sizeof(*s));
	if (!s)
		return NAN;
	memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_double);
	if (p <= 0)
		p = 0;
	if (p >= 100)
		p = 100;
	pos = p / 100.0 * (double)(n - 1);
	lo = (size_t)pos;
	r = lo + 1 < n ? s[lo] + (s[lo + 1] - s[lo]) * (pos - (double)lo) : s[lo];
	free(s);
	return r;
}

double bench_median(const double *v, size_t n)
{
	return bench_percentile(v, n, 50);
}

/* ---------------------------------------------------------------- pinning */

int bench_pin_pid(pid_t pid, int cpu)
{
	cpu_set_t set;

	if (cpu < 0 || cpu >= CPU_SETSIZE)
		return -EINVAL;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(pid, sizeof(set), &set) != 0)
		return -errno;
	return 0;
}

int bench_pin_self(int cpu)
{
	return bench_pin_pid(0, cpu);
}

int bench_ncpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (int)n : 1;
}

/* Total and idle jiffies from the "cpu" line of /proc/stat. */
static int cpu_jiffies(unsigned long long *total, unsigned long long *idle)
{
	unsigned long long v[8] = { 0 };
	FILE *f = fopen("/proc/stat", "r");
	int n;

	if (!f)
		return -errno;
	n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
		   &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
	fclose(f);
	if (n < 5)
		return -EIO;
	*total = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
	*idle = v[3] + v[4];  /* idle + iowait */
	return 0;
}

double bench_wait_idle(double min_idle, unsigned max_ms)
{
	uint64_t deadline = bench_now_ns() + (uint64_t)max_ms * 1000000ull;
	double frac = -1;

	do {
		unsigned long long t0, i0, t1, i1;
		struct timespec ts = { 0, 250 * 1000 * 1000 };

		if (cpu_jiffies(&t0, &i0) < 0)
			return -1;
		nanosleep(&ts, NULL);
		if (cpu_jiffies(&t1, &i1) < 0)
			return -1;
		frac = t1 > t0 ? (double)(i1 - i0) / (double)(t1 - t0) : 1;
		if (frac >= min_idle)
			break;
	} while (bench_now_ns() < deadline);
	return frac;
}

struct c2c {
	uint64_t flag __attribute__((aligned(64)));
	int cpu;
	unsigned iters;
	pthread_barrier_t bar;
};

/* The echo side: answers each odd value with the next even one. */
static void *c2c_echo(void *arg)
{
	struct c2c *c = arg;

	(void)bench_pin_self(c->cpu);
	pthread_barrier_wait(&c->bar);
	for (uint64_t i = 0; i < c->iters; i++) {
		/* Acquire pairs with the initiator's release store of 2i+1. */
		while (pvio_load_acquire(&c->flag) != 2 * i + 1)
			;
		/* Release: pairs with the initiator's acquire poll for 2i+2. */
		pvio_store_release(&c->flag, 2 * i + 2);
	}
	return NULL;
}

double bench_c2c_rtt_ns(int cpu_a, int cpu_b)
{
	enum { BURSTS = 5 };
	static struct c2c c;
	double rtt[BURSTS], r = -1;
	cpu_set_t saved;
	pthread_t t;

	if (sched_getaffinity(0, sizeof(saved), &saved) != 0)
		return -1;
	if (bench_pin_self(cpu_a) < 0)
		return -1;
	for (int k = 0; k < BURSTS; k++) {
		uint64_t t0;

		c.flag = 0;
		c.cpu = cpu_b;
		c.iters = 2000;
		if (pthread_barrier_init(&c.bar, NULL, 2) != 0)
			goto out;
		if (pthread_create(&t, NULL, c2c_echo, &c) != 0) {
			pthread_barrier_destroy(&c.bar);
			goto out;
		}
		pthread_barrier_wait(&c.bar);
		t0 = bench_now_ns();
		for (uint64_t i = 0; i < c.iters; i++) {
			/* Release/acquire pair with c2c_echo()'s poll and store. */
			pvio_store_release(&c.flag, 2 * i + 1);
			while (pvio_load_acquire(&c.flag) != 2 * i + 2)
				;
		}
		rtt[k] = (double)(bench_now_ns() - t0) / c.iters;
		pthread_join(t, NULL);
		pthread_barrier_destroy(&c.bar);
	}
	r = bench_median(rtt, BURSTS);
out:
	sched_setaffinity(0, sizeof(saved), &saved);
	return r;
}

/* ------------------------------------------------------------------- JSON */

void bench_json_init(struct bench_json *j, FILE *f)
{
	memset(j, 0, sizeof(*j));
	j->f = f;
	j->first[0] = true;
}

static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		switch (c) {
		case '"':  fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\n': fputs("\\n", f); break;
		case '\t': fputs("\\t", f); break;
		case '\r': fputs("\\r", f); break;
		default:
			if (c < 0x20)
				fprintf(f, "\\u%04x", c);
			else
				fputc(c, f);
		}
	}
	fputc('"', f);
}

/* Separator, indentation and key before a value or container. */
static void json_prefix(struct bench_json *j, const char *key)
{
	if (!j->first[j->depth])
		fputc(',', j->f);
	j->first[j->depth] = false;
	if (j->depth > 0)
		fprintf(j->f, "\n%*s", 2 * j->depth, "");
	if (key) {
		json_string(j->f, key);
		fputs(": ", j->f);
	}
}

static void json_open(struct bench_json *j, const char *key, char c)
{
	json_prefix(j, key);
	fputc(c, j->f);
	if (j->depth + 1 < BENCH_JSON_DEPTH)
		j->depth++;
	j->first[j->depth] = true;
}

static void json_close(struct bench_json *j, char c)
{
	bool empty = j->first[j->depth];

	if (j->depth > 0)
		j->depth--;
	if (!empty)
		fprintf(j->f, "\n%*s", 2 * j->depth, "");
	fputc(c, j->f);
	if (j->depth == 0)
		fputc('\n', j->f);
}

void bench_json_obj_begin(struct bench_json *j, const char *key) { json_open(j, key, '{'); }
void bench_json_obj_end(struct bench_json *j) { json_close(j, '}'); }
void bench_json_arr_begin(struct bench_json *j, const char *key) { json_open(j, key, '['); }
void bench_json_arr_end(struct bench_json *j) { json_close(j, ']'); }

void bench_json_str(struct bench_json *j, const char *key, const char *v)
{
	json_prefix(j, key);
	if (v)
		json_string(j->f, v);
	else
		fputs("null", j->f);
}

void bench_json_num(struct bench_json *j, const char *key, double v)
{
	json_prefix(j, key);
	if (isfinite(v))
		fprintf(j->f, "%.10g", v);
	else
		fputs("null", j->f);
}

void bench_json_int(struct bench_json *j, const char *key, long long v)
{
	json_prefix(j, key);
	fprintf(j->f, "%lld", v);
}

void bench_json_bool(struct bench_json *j, const char *key, bool v)
{
	json_prefix(j, key);
	fputs(v ? "true" : "false", j->f);
}

void bench_json_null(struct bench_json *j, const char *key)
{
	json_prefix(j, key);
	fputs("null", j->f);
}

/* ---------------------------------------------------------------- machine */

static void chomp(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
		s[--n] = '\0';
}

static void cpu_model(char *buf, size_t len)
{
	char line[512];
	FILE *f = fopen("/proc/cpuinfo", "r");

	snprintf(buf, len, "unknown");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *colon;

		if (strncmp(line, "model name", 10) != 0)
			continue;
		colon = strchr(line, ':');
		if (!colon)
			continue;
		colon++;
		while (*colon == ' ' || *colon == '\t')
			colon++;
		chomp(colon);
		snprintf(buf, len, "%s", colon);
		break;
	}
	fclose(f);
}

static long long mem_total_kb(void)
{
	char line[256];
	long long kb = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemTotal: %lld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* `git describe`-like commit of the repository, "-dirty" if it has changes. */
static void git_commit(char *buf, size_t len, const char *repo)
{
	char cmd[4200];
	FILE *p;

	snprintf(buf, len, "unknown");
	snprintf(cmd, sizeof(cmd),
		 "git -C '%s' rev-parse HEAD 2>/dev/null && "
		 "{ git -C '%s' diff --quiet HEAD 2>/dev/null || echo dirty; }",
		 repo, repo);
	p = popen(cmd, "r");
	if (!p)
		return;
	if (fgets(buf, (int)len, p)) {
		char extra[32];

		chomp(buf);
		if (fgets(extra, sizeof(extra), p) && strncmp(extra, "dirty", 5) == 0) {
			size_t n = strlen(buf);

			snprintf(buf + n, len - n, "-dirty");
		}
	} else
		snprintf(buf, len, "unknown");
	pclose(p);
}

static void iso_date(char *buf, size_t len)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void bench_json_machine(struct bench_json *j, const char *repo)
{
	char model[256], commit[128], date[64], kernel[512];
	struct utsname u;

	cpu_model(model, sizeof(model));
	git_commit(commit, sizeof(commit), repo);
	iso_date(date, sizeof(date));
	if (uname(&u) == 0)
		snprintf(kernel, sizeof(kernel), "%s %s %s", u.sysname, u.release,
			 u.machine);
	else
		snprintf(kernel, sizeof(kernel), "unknown");

	bench_json_obj_begin(j, "machine");
	bench_json_str(j, "cpu_model", model);
	bench_json_int(j, "nproc", bench_ncpus());
	bench_json_str(j, "kernel", kernel);
	if (uname(&u) == 0)
		bench_json_str(j, "kernel_version", u.version);
	bench_json_int(j, "mem_total_kb", mem_total_kb());
	bench_json_str(j, "date", date);
	bench_json_str(j, "git_commit", commit);
	bench_json_obj_end(j);
}

void bench_machine_line(char *buf, size_t len, const char *repo)
{
	char model[256], commit[128], date[64];
	struct utsname u;

	cpu_model(model, sizeof(model));
	git_commit(commit, sizeof(commit), repo);
	iso_date(date, sizeof(date));
	if (uname(&u) != 0)
		snprintf(u.release, sizeof(u.release), "?");
	snprintf(buf, len, "%s, %d CPUs, Linux %s, %lld MB, %s, commit %.12s%s",
		 model, bench_ncpus(), u.release, mem_total_kb() / 1024, date, commit,
		 strstr(commit, "-dirty") ? "-dirty" : "");
}

/* --------------------------------------------------------------- progress */

static int progress_tty = -1;   /* -1: not yet known */
static bool progress_open;      /* an unfinished line is on the tty */

void bench_progress(const char *fmt, ...)
{
	va_list ap;

	if (progress_tty < 0)
		progress_tty = isatty(STDERR_FILENO);
	va_start(ap, fmt);
	if (progress_tty) {
		fputs("\r\033[K", stderr);
		vfprintf(stderr, fmt, ap);
		progress_open = true;
	} else {
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	}
	va_end(ap);
	fflush(stderr);
}

void bench_progress_done(void)
{
	if (progress_open) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
	}
	progress_open = false;
}

/* ------------------------------------------------------------ processes */



int bench_run_cmd(char *const argv[], char *outbuf, size_t outlen)
{
	int p[2], st;
	pid_t pid;
	size_t n = 0;

	if (pipe(p) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		if (outbuf) {
			dup2(p[1], 1);
		} else {
			int nul = open("/dev/null", O_WRONLY);
			if (nul >= 0)
				dup2(nul, 1);
		}
		close(p[0]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	while (outbuf && n + 1 < outlen) {
		ssize_t r = read(p[0], outbuf + n, outlen - n - 1);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	if (outbuf)
		outbuf[n] = 0;
	close(p[0]);
	if (waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

pid_t bench_start_daemon(char *const argv[], int ready_fd)
{
	pid_t pid = fork();

	if (pid == 0) {
		int nul = open("/dev/null", O_WRONLY);
		if (nul >= 0)
			dup2(nul, 2);
		(void)ready_fd;
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

int bench_pv_start(struct bench_pv_env *e, const char *build, const char *const *bb_args)
{
	char tmpl[] = "/tmp/pvio-bench-XXXXXX", rfd[16], bin[600], buf[8];
	int p[2];

	if (!mkdtemp(tmpl))
		return -1;
	snprintf(e->dir, sizeof(e->dir), "%s", tmpl);
	snprintf(e->sock, sizeof(e->sock), "%s/pviod.sock", tmpl);
	snprintf(e->xs, sizeof(e->xs), "%s/xs.sock", tmpl);
	snprintf(e->build, sizeof(e->build), "%s", build);
	if (pipe(p) < 0)
		return -1;
	snprintf(rfd, sizeof(rfd), "%d", p[1]);
	snprintf(bin, sizeof(bin), "%s/hv/pviod", build);
	{
		char *av[] = { bin, "--socket", e->sock, "--xs-socket", e->xs, "--ready-fd", rfd,
			       NULL };
		e->pviod = bench_start_daemon(av, p[1]);
	}
	close(p[1]);
	if (read(p[0], buf, sizeof(buf)) <= 0) {
		close(p[0]);
		return -1;
	}
	close(p[0]);
	snprintf(bin, sizeof(bin), "%s/blkback/pvio-blkback", build);
	{
		char *av[16] = { bin, "--socket", e->sock };
		unsigned n = 3;

		for (unsigned i = 0; bb_args && bb_args[i] && n < 15; i++)
			av[n++] = (char *)bb_args[i];
		av[n] = NULL;
		e->blkback = bench_start_daemon(av, -1);
	}
	setenv("PVIO_SOCKET", e->sock, 1);
	return 0;
}

void bench_pv_stop(struct bench_pv_env *e)
{
	if (e->blkback > 0) {
		kill(e->blkback, SIGTERM);
		waitpid(e->blkback, NULL, 0);
	}
	if (e->pviod > 0) {
		kill(e->pviod, SIGTERM);
		waitpid(e->pviod, NULL, 0);
	}
	if (strncmp(e->dir, "/tmp/pvio-bench-", 16) == 0) {
		char cmd[300];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "bench blk: could not remove %s\n", e->dir);
	}
}

/* ------------------------------------------------------------ timed runs */

static void run_on_alarm(int sig)
{
	(void)sig;
}

int bench_run_logged(char *const argv[], const char *dir, const char *log, double timeout_s,
		     double *cpu_s, pid_t *child)
{
	struct sigaction sa, old;
	struct rusage ru;
	int st = 0, fd;
	pid_t pid, w;
	bool timed_out = false;

	if (cpu_s)
		*cpu_s = 0;
	fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	pid = fork();
	if (pid < 0) {
		close(fd);
		return -1;
	}
	if (pid == 0) {
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (dir && chdir(dir) != 0)
			_exit(126);
		execvp(argv[0], argv);
		fprintf(stderr, "cannot execute %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(fd);
	if (child)
		*child = pid;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = run_on_alarm;      /* no SA_RESTART: wait4 returns EINTR */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, &old);
	alarm((unsigned)timeout_s + 1);
	w = wait4(pid, &st, 0, &ru);
	if (w < 0 && errno == EINTR) {
		timed_out = true;
		kill(pid, SIGKILL);
	}
	alarm(0);
	while (w < 0 && errno == EINTR)
		w = wait4(pid, &st, 0, &ru);
	sigaction(SIGALRM, &old, NULL);
	if (w < 0)
		return -1;
	if (cpu_s)
		*cpu_s = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
			 (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	if (timed_out) {
		FILE *f = fopen(log, "a");
		if (f) {
			fprintf(f, "killed: still running after %.0f s\n", timeout_s);
			fclose(f);
		}
		return -1;
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* ------------------------------------------------------------ text files */

char *bench_read_text(const char *path, size_t max)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t n = 0, cap = 65536;
	char *b = NULL;

	if (fd < 0)
		return NULL;
	b = malloc(cap + 1);
	while (b) {
		ssize_t r;

		if (n == cap) {
			char *nb = cap < max ? realloc(b, cap * 2 + 1) : NULL;
			if (!nb)
				break;
			b = nb;
			cap *= 2;
		}
		r = read(fd, b + n, cap - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (b)
		b[n] = '\0';
	return b;
}

/* The last non-empty line of the file (at most len-1 bytes), for error
 * messages. */
void bench_last_line(const char *path, char *buf, size_t len)
{
	char *t = bench_read_text(path, 1 << 20);
	char *e, *s;

	snprintf(buf, len, "(no output)");
	if (!t)
		return;
	e = t + strlen(t);
	while (e > t && (e[-1] == '\n' || e[-1] == ' '))
		*--e = '\0';
	s = strrchr(t, '\n');
	s = s ? s + 1 : t;
	if (*s)
		snprintf(buf, len, "%s", s);
	free(t);
}

const char *bench_find_build(const char *repo, char *buf, size_t len)
{
	const char *b = getenv("BUILD");

	if (b && *b && b[0] == '/')
		snprintf(buf, len, "%s", b);
	else
		snprintf(buf, len, "%s/%s", repo, b && *b ? b : "build");
	return buf;
}

int bench_outputs_open(struct bench_outputs *out, const struct bench_opts *o, const char *name)
{
	if (bench_out_path(o, name, "json", out->path, sizeof(out->path)) < 0 ||
	    bench_out_path(o, name, "txt", out->txt, sizeof(out->txt)) < 0)
		return -1;
	out->jf = fopen(out->path, "w");
	out->tf = fopen(out->txt, "w");
	if (!out->jf || !out->tf) {
		fprintf(stderr, "pvio-bench %s: cannot write %s or %s: %s\n", name, out->path,
			out->txt, strerror(errno));
		if (out->jf)
			fclose(out->jf);
		if (out->tf)
			fclose(out->tf);
		return -1;
	}
	bench_machine_line(out->line, sizeof(out->line), o->repo);
	bench_json_init(&out->j, out->jf);
	bench_json_obj_begin(&out->j, NULL);
	bench_json_str(&out->j, "benchmark", name);
	bench_json_machine(&out->j, o->repo);
	return 0;
}

void bench_outputs_close(struct bench_outputs *out)
{
	bench_json_obj_end(&out->j);
	fputc('\n', out->jf);
	fclose(out->jf);
	fclose(out->tf);
	printf("JSON: %s\n", out->path);
}

void bench_json_nums(struct bench_json *j, const char *key, const double *v, size_t n)
{
	bench_json_arr_begin(j, key);
	for (size_t i = 0; i < n; i++)
		bench_json_num(j, NULL, v[i]);
	bench_json_arr_end(j);
}
