/* SPDX-License-Identifier: MIT */
/* Small helpers shared by pvio's test programs (header-only). */
#ifndef PVIO_TESTUTIL_H
#define PVIO_TESTUTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int tu_failures;

#define CHECK(cond) do {                                                      \
	if (!(cond)) {                                                        \
		fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); \
		tu_failures++;                                                \
	}                                                                     \
} while (0)

#define CHECK_EQ(a, b) do {                                                   \
	long long a_ = (long long)(a), b_ = (long long)(b);                   \
	if (a_ != b_) {                                                       \
		fprintf(stderr, "FAIL %s:%d: %s == %s (%lld != %lld)\n",       \
			__FILE__, __LINE__, #a, #b, a_, b_);                  \
		tu_failures++;                                                \
	}                                                                     \
} while (0)

/* Fatal: stop the test now (after cleanup handlers registered with atexit). */
#define REQUIRE(cond) do {                                                    \
	if (!(cond)) {                                                        \
		fprintf(stderr, "FATAL %s:%d: %s\n", __FILE__, __LINE__, #cond); \
		exit(1);                                                      \
	}                                                                     \
} while (0)

static inline int tu_result(void)
{
	if (tu_failures)
		fprintf(stderr, "%d check(s) failed\n", tu_failures);
	return tu_failures ? 1 : 0;
}

static inline void tu_skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	exit(77);
}

static inline double tu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Number of open fds of a process (self if pid == 0). */
static inline int tu_count_fds(pid_t pid)
{
	char path[64];
	struct dirent *de;
	DIR *d;
	int n = 0;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/fd");
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return pid ? n : n - 1;   /* minus the opendir fd itself */
}

/* Number of shared-memory mappings of a process: lines of /proc/PID/maps
 * backed by a memfd (guest memory, grant tables, rings, event-channel
 * pages) or an anon inode (io_uring rings). Anonymous mappings are left out: the allocator (and ASan's)
 * grows and shrinks them on its own. */
static inline int tu_count_maps(pid_t pid)
{
	char path[64], line[512];
	FILE *f;
	int n = 0;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/maps");
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "/memfd:") || strstr(line, "anon_inode:"))
			n++;
	fclose(f);
	return n;
}

/* Threads of a process, not counting io_uring's kernel workers (iou-wrk-*,
 * iou-sqp-*): they come and go on the kernel's schedule and are not ours. */
static inline int tu_count_threads(pid_t pid)
{
	char path[64];
	DIR *d;
	int n = 0;
	struct dirent *de;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		char cpath[512], comm[32] = "";
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(cpath, sizeof(cpath), "%s/%s/comm", path, de->d_name);
		f = fopen(cpath, "r");
		if (f) {
			if (!fgets(comm, sizeof(comm), f))
				comm[0] = 0;
			fclose(f);
		}
		if (strncmp(comm, "iou-", 4) != 0)
			n++;
	}
	closedir(d);
	return n;
}

/* A process's fds, mappings and threads, for leak checks. */
struct tu_res {
	int fds, maps, threads;
};

static inline struct tu_res tu_res_of(pid_t pid)
{
	return (struct tu_res){ tu_count_fds(pid), tu_count_maps(pid), tu_count_threads(pid) };
}

/* Bounded wait (3 s) for pid's counts to come back to base; the last. */
static inline struct tu_res tu_res_settle(pid_t pid, const struct tu_res *base)
{
	struct tu_res r = tu_res_of(pid);

	for (int i = 0; i < 300 && (r.fds != base->fds || r.maps != base->maps ||
				    r.threads != base->threads); i++) {
		usleep(10000);
		r = tu_res_of(pid);
	}
	return r;
}

/* Resident set of a process in KiB (VmRSS), or -1. */
static inline long tu_rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* fork + execv argv, handing it hv_fd as its hypervisor connection
 * (PVIO_HV_FD, as `pvio run` does) and in/out/err as its stdio; -1: keep
 * ours. Returns the child's pid (or -1). */
static inline pid_t tu_spawn(char *const argv[], int hv_fd, int in_fd, int out_fd, int err_fd)
{
	pid_t p = fork();

	if (p == 0) {
		if (hv_fd >= 0) {
			char b[16];

			fcntl(hv_fd, F_SETFD, 0);
			snprintf(b, sizeof(b), "%d", hv_fd);
			setenv("PVIO_HV_FD", b, 1);
		}
		if (in_fd >= 0)
			dup2(in_fd, 0);
		if (out_fd >= 0)
			dup2(out_fd, 1);
		if (err_fd >= 0)
			dup2(err_fd, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	return p;
}

/* Build directory of the binaries (BUILD env, default build). */
static inline const char *tu_build_dir(void)
{
	const char *b = getenv("BUILD");

	return b && *b ? b : "build";
}

/*
 * Start pviod on a private socket in a fresh temp dir; waits until it is
 * serving (it writes to --ready-fd), no sleeps. Returns its pid.
 * sock/xs receive the socket paths.
 */
static inline pid_t tu_start_pviod(char *dir, size_t dlen, char *sock, size_t slen,
				   char *xs, size_t xlen)
{
	char bin[512], rfd[16];
	char tmpl[] = "/tmp/pvio-test-XXXXXX";
	int p[2];
	pid_t pid;
	char buf[8];

	if (!mkdtemp(tmpl))
		return -1;
	snprintf(dir, dlen, "%s", tmpl);
	snprintf(sock, slen, "%s/pviod.sock", tmpl);
	snprintf(xs, xlen, "%s/xenstored.sock", tmpl);
	snprintf(bin, sizeof(bin), "%s/hv/pviod", tu_build_dir());
	if (pipe(p) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		snprintf(rfd, sizeof(rfd), "%d", p[1]);
		execl(bin, "pviod", "--socket", sock, "--xs-socket", xs, "--ready-fd", rfd,
		      (char *)NULL);
		fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
		_exit(127);
	}
	close(p[1]);
	if (pid < 0 || read(p[0], buf, sizeof(buf)) <= 0) {
		close(p[0]);
		if (pid > 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
		}
		return -1;
	}
	close(p[0]);
	return pid;
}

/* Stop a process we started and reap it; returns its wait status. */
static inline int tu_stop(pid_t pid)
{
	int st = 0;

	if (pid <= 0)
		return -1;
	kill(pid, SIGTERM);
	if (waitpid(pid, &st, 0) < 0)
		return -1;
	return st;
}

static inline void tu_rmdir(const char *dir)
{
	char cmd[600];

	if (dir && strncmp(dir, "/tmp/pvio-test-", 15) == 0) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "warning: could not remove %s\n", dir);
	}
}

#endif
