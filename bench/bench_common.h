/* SPDX-License-Identifier: MIT */
/*
 * Shared pieces of pvio-bench: the subcommand interface, common options,
 * timing, statistics, CPU pinning and CPU-time accounting, a tiny JSON
 * writer, the machine description and the progress line.
 *
 * Adding a benchmark `foo`: write bench/bench_foo.c defining
 *     const struct bench_cmd bench_cmd_foo = { "foo", "one-line summary",
 *                                              usage_fn_or_NULL, run_fn };
 * then add `X(foo)` to BENCH_CMDS in bench/pvio-bench.c and the file to
 * SRCS_pvio-bench in bench/module.mk.
 */
#ifndef PVIO_BENCH_COMMON_H
#define PVIO_BENCH_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* ------------------------------------------------------------ subcommands */

/* Options every subcommand understands (parsed by pvio-bench.c). */
struct bench_opts {
	int         reps;      /* --reps N (default 5) */
	bool        reps_given; /* --reps was on the command line */
	bool        quick;     /* --quick: short runs for demos and CI smoke */
	const char *out;       /* --out FILE, or NULL for the default path */
	const char *repo;      /* repository root (for default paths), never NULL */
};

struct bench_cmd {
	const char *name;
	const char *summary;
	/* Print the subcommand's own options (may be NULL). */
	void (*usage)(FILE *f);
	/* argv[0] is the subcommand name; argv holds the options pvio-bench did
	 * not consume. Returns a process exit status. */
	int (*run)(const struct bench_opts *o, int argc, char **argv);
};

/* The JSON path for benchmark `name`: o->out, or
 * <repo>/bench/results/<name>.json. Creates the parent folders. Returns 0 or
 * -errno; `buf` receives the path. */
int bench_out_path(const struct bench_opts *o, const char *name, const char *ext,
		   char *buf, size_t len);

/* The build folder: $BUILD (absolute, or under repo), else repo/build.
 * Returns buf. */
const char *bench_find_build(const char *repo, char *buf, size_t len);
/* Create every folder of `path` up to its last '/'. 0 or -errno. */
int bench_mkdirs_for(const char *path);

/* ----------------------------------------------------------------- timing */

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t bench_now_ns(void);
/* CPU time of the calling thread (CLOCK_THREAD_CPUTIME_ID), ns. */
uint64_t bench_thread_cpu_ns(void);
/* CPU time (user + system) of process `pid` from /proc/PID/stat, ns;
 * pid 0 means this process. Returns 0 on failure. */
uint64_t bench_proc_cpu_ns(pid_t pid);

/* ------------------------------------------------------------- statistics */

/* Median of v[0..n) (v is not modified). 0 for n == 0. */
double bench_median(const double *v, size_t n);
/* p-th percentile (0..100), linear interpolation between closest ranks. */
double bench_percentile(const double *v, size_t n, double p);

/* ---------------------------------------------------------------- pinning */

/* Pin the calling thread to `cpu`. 0 or -errno. */
int bench_pin_self(int cpu);
/* Pin process/thread `pid` (0 = caller) to `cpu`. 0 or -errno. */
int bench_pin_pid(pid_t pid, int cpu);
/* Number of online CPUs. */
int bench_ncpus(void);
/* Wait, up to max_ms, until the machine has been >= min_idle idle (0..1,
 * from /proc/stat) over a 250 ms window: other people's builds and tests
 * on a small machine spoil a measurement. Returns the last idle fraction
 * seen (negative if /proc/stat is unreadable). */
double bench_wait_idle(double min_idle, unsigned max_ms);
/* Cache-line round trip between CPUs a and b in ns (median of a few short
 * ping-pong bursts), a probe of the machine's state: on a VM it moves when
 * the host moves the vCPUs (same or other core complex). The calling thread
 * takes part (pinned to a for the probe, then restored). Negative on
 * failure. */
double bench_c2c_rtt_ns(int cpu_a, int cpu_b);

/* ------------------------------------------------------------------- JSON */

#define BENCH_JSON_DEPTH 16

struct bench_json {
	FILE *f;
	int   depth;
	bool  first[BENCH_JSON_DEPTH];  /* no member written yet at this depth */
	bool  after_key;                /* a key was just written */
};

void bench_json_init(struct bench_json *j, FILE *f);
/* Containers; key may be NULL inside arrays or at top level. */
void bench_json_obj_begin(struct bench_json *j, const char *key);
void bench_json_obj_end(struct bench_json *j);
void bench_json_arr_begin(struct bench_json *j, const char *key);
void bench_json_arr_end(struct bench_json *j);
/* Values; key may be NULL inside arrays. NaN and infinities become null. */
void bench_json_str(struct bench_json *j, const char *key, const char *v);
void bench_json_num(struct bench_json *j, const char *key, double v);
void bench_json_int(struct bench_json *j, const char *key, long long v);
void bench_json_bool(struct bench_json *j, const char *key, bool v);
void bench_json_null(struct bench_json *j, const char *key);
/* An array of n numbers. */
void bench_json_nums(struct bench_json *j, const char *key, const double *v, size_t n);

/* The "machine" object: cpu model, nproc, kernel, memory, date, git commit. */
void bench_json_machine(struct bench_json *j, const char *repo);
/* One-line machine summary for text output. */
void bench_machine_line(char *buf, size_t len, const char *repo);

/* --------------------------------------------------------------- progress */

/* Progress on stderr: one updating line on a tty, plain lines otherwise. */
void bench_progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Finish the progress display (clears the line on a tty). */
void bench_progress_done(void);

/* A benchmark's outputs: the JSON (an object begun, with "benchmark" and
 * "machine" written) and the text copy of its table, at bench_out_path's
 * places; line is the machine line for the table's head. */
struct bench_outputs {
	char path[600], txt[600], line[256];
	FILE *jf, *tf;
	struct bench_json j;
};
/* 0, or -1 with nothing left open. */
int  bench_outputs_open(struct bench_outputs *out, const struct bench_opts *o, const char *name);
/* End the JSON object, close both files and say where the JSON went. */
void bench_outputs_close(struct bench_outputs *out);

/* ------------------------------------------------------------ processes */

/* Run argv[0] (a path) and wait: its exit status, or -1. Its stdout goes
 * to outbuf (NUL-terminated) when given, else to /dev/null. */
int bench_run_cmd(char *const argv[], char *outbuf, size_t outlen);
/* Run argv (argv[0] a path, or a name looked up in PATH) in folder dir
 * (NULL: ours) with stdout and stderr into log, and wait for it at most
 * timeout_s seconds (then SIGKILL, noted at the end of log). Returns its
 * exit status, or -1 when it could not run, died of a signal or timed out.
 * *cpu_s (if not NULL): user + system time of the process, all its threads
 * and the children it waited for; *child (if not NULL): its pid. */
int bench_run_logged(char *const argv[], const char *dir, const char *log, double timeout_s,
		     double *cpu_s, pid_t *child);
/* The whole of a text file (at most about max bytes), NUL-terminated, to
 * free(); NULL if it cannot be read. */
char *bench_read_text(const char *path, size_t max);
/* The last non-empty line of a file into buf, "(no output)" if none. */
void bench_last_line(const char *path, char *buf, size_t len);
/* Start a daemon (stderr to /dev/null); its pid. */
pid_t bench_start_daemon(char *const argv[], int ready_fd);

/* pviod and pvio-blkback in a fresh /tmp/pvio-bench-* folder, PVIO_SOCKET
 * set for the toolstack. */
struct bench_pv_env {
	char dir[256];
	char sock[300], xs[300];
	char build[512];
	pid_t pviod, blkback;
	char dom[32];
};
/* bb_args: extra pvio-blkback options (NULL-terminated, may be NULL). */
int  bench_pv_start(struct bench_pv_env *e, const char *build, const char *const *bb_args);
void bench_pv_stop(struct bench_pv_env *e);

#endif /* PVIO_BENCH_COMMON_H */
