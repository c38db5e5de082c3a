/* SPDX-License-Identifier: MIT */
/*
 * pvio-bench: pvio's benchmarks, one subcommand each, every one compared with
 * a peer implementation in the same invocation (STYLE.md, Benchmarks).
 *
 *   pvio-bench [common options] <benchmark> [benchmark options]
 *
 * Each benchmark prints a fixed table on stdout and writes JSON (default
 * bench/results/<benchmark>.json in the repository).
 */
#include "bench/bench_common.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The benchmarks. To add one: X(name) here, and its file in bench/module.mk. */
#define BENCH_CMDS(X) \
	X(ring) \
	X(hv) \
	X(xs) \
	X(blk) \
	X(net) \
	X(scale) \
	X(restart) \
	X(rbd) \
	X(xensave)

#define X(n) extern const struct bench_cmd bench_cmd_##n;
BENCH_CMDS(X)
#undef X

static const struct bench_cmd *const cmds[] = {
#define X(n) &bench_cmd_##n,
	BENCH_CMDS(X)
#undef X
};
#define NR_CMDS (sizeof(cmds) / sizeof(cmds[0]))

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pvio-bench [options] <benchmark> [benchmark options]\n"
		"       pvio-bench --list\n"
		"       pvio-bench <benchmark> --help\n"
		"\n"
		"Runs one of pvio's benchmarks against its peer (baseline), interleaving\n"
		"the two, prints a table on stdout and writes JSON.\n"
		"\n"
		"Common options:\n"
		"  --reps N      repetitions of each case (default 5); medians are reported\n"
		"  --quick       short runs (demo / CI smoke); numbers are only indicative\n"
		"  --out FILE    JSON output (default <repo>/bench/results/<benchmark>.json);\n"
		"                a text copy of the table goes next to it as .txt\n"
		"  --list        print the benchmark names, one per line\n"
		"  -h, --help    this help\n"
		"\n"
		"Benchmarks:\n");
	for (size_t i = 0; i < NR_CMDS; i++)
		fprintf(f, "  %-8s %s\n", cmds[i]->name, cmds[i]->summary);
	fprintf(f, "\nProgress goes to stderr (one updating line on a terminal).\n");
}

/* The repository root: the nearest ancestor of the executable holding
 * bench/bench_common.h (build/bench/pvio-bench -> .), else the current
 * folder. */
static void find_repo(char *buf, size_t len)
{
	char exe[PATH_MAX], probe[PATH_MAX + 32];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n > 0) {
		exe[n] = '\0';
		for (char *slash = strrchr(exe, '/'); slash; slash = strrchr(exe, '/')) {
			*slash = '\0';
			snprintf(probe, sizeof(probe), "%s/bench/bench_common.h",
				 exe[0] ? exe : "");
			if (access(probe, F_OK) == 0) {
				snprintf(buf, len, "%s", exe[0] ? exe : "/");
				return;
			}
		}
	}
	if (!getcwd(buf, len))
		snprintf(buf, len, ".");
}

static int parse_int(const char *s, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < 1 || v > 1000)
		return -EINVAL;
	*out = (int)v;
	return 0;
}

int main(int argc, char **argv)
{
	static char repo[PATH_MAX];
	struct bench_opts o = { .reps = 5 };
	const struct bench_cmd *cmd = NULL;
	char **rest;
	int nrest = 0;
	bool help = false;

	find_repo(repo, sizeof(repo));
	o.repo = repo;
	rest = calloc((size_t)argc + 1, sizeof(*rest));
	if (!rest)
		return 1;

	/* Common options may come before or after the benchmark name; anything
	 * else after the name belongs to the benchmark. */
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *val = NULL;

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			help = true;
		} else if (strcmp(a, "--list") == 0) {
			for (size_t k = 0; k < NR_CMDS; k++)
				printf("%s\n", cmds[k]->name);
			free(rest);
			return 0;
		} else if (strcmp(a, "--quick") == 0) {
			o.quick = true;
		} else if (strcmp(a, "--reps") == 0 || strncmp(a, "--reps=", 7) == 0) {
			val = a[6] == '=' ? a + 7 : (i + 1 < argc ? argv[++i] : NULL);
			if (!val || parse_int(val, &o.reps) < 0) {
				fprintf(stderr, "pvio-bench: --reps needs a number 1..1000\n");
				goto bad;
			}
			o.reps_given = true;
		} else if (strcmp(a, "--out") == 0 || strncmp(a, "--out=", 6) == 0) {
			val = a[5] == '=' ? a + 6 : (i + 1 < argc ? argv[++i] : NULL);
			if (!val || !*val) {
				fprintf(stderr, "pvio-bench: --out needs a file name\n");
				goto bad;
			}
			o.out = val;
		} else if (!cmd && a[0] != '-') {
			for (size_t k = 0; k < NR_CMDS; k++)
				if (strcmp(a, cmds[k]->name) == 0)
					cmd = cmds[k];
			if (!cmd) {
				fprintf(stderr, "pvio-bench: no benchmark '%s' (try --list)\n", a);
				goto bad;
			}
			rest[nrest++] = argv[i];
		} else if (cmd) {
			rest[nrest++] = argv[i];
		} else {
			fprintf(stderr, "pvio-bench: unknown option '%s'\n", a);
			goto bad;
		}
	}

	if (help) {
		if (cmd) {
			printf("usage: pvio-bench [common options] %s [options]\n%s\n\n",
			       cmd->name, cmd->summary);
			if (cmd->usage)
				cmd->usage(stdout);
			printf("\nCommon options: --reps N, --quick, --out FILE "
			       "(pvio-bench --help).\n");
		} else
			usage(stdout);
		free(rest);
		return 0;
	}
	if (!cmd) {
		usage(stderr);
		free(rest);
		return 2;
	}
	{
		/* One benchmark at a time on this machine: two would measure
		 * each other. PVIO_BENCH_LOCK=FILE names the lock. */
		const char *lp = getenv("PVIO_BENCH_LOCK");
		int lock = open(lp && *lp ? lp : "/tmp/pvio-bench.lock",
				O_RDWR | O_CREAT | O_CLOEXEC, 0666), rc;

		if (lock >= 0 && flock(lock, LOCK_EX | LOCK_NB) < 0) {
			fprintf(stderr, "pvio-bench: another pvio-bench is running; waiting for it\n");
			if (flock(lock, LOCK_EX) < 0)
				perror("pvio-bench: flock");
		}
		rc = cmd->run(&o, nrest, rest);
		if (lock >= 0)
			close(lock);
		free(rest);
		return rc;
	}
bad:
	free(rest);
	return 2;
}
