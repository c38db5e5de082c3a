/* SPDX-License-Identifier: MIT */
/*
 * pvio-bench xensave: what `xl save` + `xl restore` of a PV, a PVH and an HVM
 * domU (Linux with its PV drivers), and two live `xl migrate` of a PVH domU to
 * the same host, cost the domU's disk I/O and its vif, with pvio-blkback --hv xen and with Linux's xen-blkback
 * as the referee, in the nested Xen of tests/xen (QEMU TCG: seconds, not
 * milliseconds; compare the two, not the absolute figures).
 *
 * Each run is tests/xen/test_xen_save.sh (PVIO_XEN_BACKEND=pvio|kernel):
 * a PV domU, then a PVH one, writes O_DIRECT blocks without pause and
 * checks them all afterwards; dom0 saves and restores it 3 s in; then a
 * third (PVH) domU is migrated twice, and an HVM one saved and restored (pvh-mig: the longest gap covers both,
 * and each migration's time and first write after it are reported). The figures come from its
 * SAVE-FIGURES line: the domU's longest gap between two acknowledged writes
 * (the downtime its disk sees), the time from `xl restore` returning to the
 * first write completed after it, how long xl save and xl restore took, and
 * the longest gap between replies to dom0's pings (every 20 ms) to the
 * domU's vif, which pvio-netback (or Linux's xen-netback) serves.
 * The backends alternate (pvio, kernel, pvio, ...); medians over --reps
 * (default 3) and the ratio pvio / kernel. A run that fails its checks is
 * not counted. JSON: bench/results/xensave.json.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/bench_common.h"

#define MAX_REPS 32
#define MAX_F    7
enum { B_PVIO, B_KERNEL, NR_B };
static const char *bname[NR_B] = { "pvio", "kernel" };

/* The steps, each a domU type of test_xen_save.sh, and the figures of its
 * SAVE-FIGURES line (type=name). */
static const struct step {
	const char *name;          /* SAVE-FIGURES type= */
	unsigned nf;
	const char *key[MAX_F], *desc[MAX_F];
} steps[] = {
	{ "pv", 5, { "longest_write_gap_ms", "longest_ping_gap_ms", "first_io_ms", "save_ms",
		     "restore_ms" },
	  { "domU's longest gap between acknowledged writes",
	    "longest gap between replies to dom0's pings (every 20 ms)",
	    "first write completed after xl restore returned", "xl save", "xl restore" } },
	{ "pvh", 5, { "longest_write_gap_ms", "longest_ping_gap_ms", "first_io_ms", "save_ms",
		      "restore_ms" },
	  { "domU's longest gap between acknowledged writes",
	    "longest gap between replies to dom0's pings (every 20 ms)",
	    "first write completed after xl restore returned", "xl save", "xl restore" } },
	{ "hvm", 5, { "longest_write_gap_ms", "longest_ping_gap_ms", "first_io_ms", "save_ms",
		      "restore_ms" },
	  { "domU's longest gap between acknowledged writes",
	    "longest gap between replies to dom0's pings (every 20 ms)",
	    "first write completed after xl restore returned", "xl save", "xl restore" } },
	{ "pvh-mig", 7,
	  { "longest_write_gap_ms", "ping_gap1_ms", "ping_gap2_ms", "first_io1_ms",
	    "first_io2_ms", "migrate1_ms", "migrate2_ms" },
	  { "domU's longest gap between acknowledged writes (2 migrations)",
	    "longest gap between ping replies across the 1st migration",
	    "longest gap between ping replies across the 2nd migration",
	    "first write seen after the 1st xl migrate returned",
	    "first write seen after the 2nd xl migrate returned",
	    "1st xl migrate (localhost, live)", "2nd xl migrate" } },
};
#define NR_T (sizeof(steps) / sizeof(steps[0]))

static void usage(FILE *f)
{
	fprintf(f, "  xensave: no options (--reps N: runs per backend, default 3).\n"
		"  Needs what tests/xen/test_xen_save.sh needs (qemu-system-x86_64, the\n"
		"  Debian Xen packages it fetches, qemu-system-xen for HVM); about 14 minutes\n"
		"  per run.\n");
}

/* One run: 0 and the figures, 77 skipped (why in skip), -1 failed. */
static int one_run(const struct bench_opts *o, const char *build, int b, double f[NR_T][MAX_F],
		   char *skip, size_t skiplen)
{
	char script[600], log[64], *text, *p;
	char *av[] = { script, NULL };
	int st;

	snprintf(script, sizeof(script), "%s/tests/xen/test_xen_save.sh", o->repo);
	snprintf(log, sizeof(log), "/tmp/pvio-bench-xensave-%d.log", (int)getpid());
	setenv("PVIO_XEN_BACKEND", bname[b], 1);
	setenv("BUILD", build, 1);
	setenv("PVIO_XEN_SAVE_TYPES", "pv:pvh:hvm:pvhmig", 1);
	st = bench_run_logged(av, o->repo, log, 1800, NULL, NULL);
	if (st == 77) {
		bench_last_line(log, skip, skiplen);
		unlink(log);
		return 77;
	}
	text = bench_read_text(log, 1 << 22);
	p = text;
	for (unsigned t = 0; p && t < NR_T; t++) {
		char head[64], *eol;

		snprintf(head, sizeof(head), "\nSAVE-FIGURES type=%s ", steps[t].name);
		p = strstr(text, head);
		eol = p ? strchr(p + 1, '\n') : NULL;
		for (unsigned k = 0; p && k < steps[t].nf; k++) {
			char key[64], *q;

			snprintf(key, sizeof(key), " %s=", steps[t].key[k]);
			q = strstr(p, key);
			if (!q || (eol && q > eol) || sscanf(q + strlen(key), "%lf", &f[t][k]) != 1)
				p = NULL;
		}
	}
	if (st != 0 || !p) {
		fprintf(stderr, "bench xensave: %s run failed (exit %d); log kept in %s\n", bname[b], st,
			log);
		free(text);
		return -1;
	}
	free(text);
	unlink(log);
	return 0;
}

static int xensave_run(const struct bench_opts *o, int argc, char **argv)
{
	char build[512], skip[256] = "";
	unsigned reps = o->reps_given ? (o->reps > MAX_REPS ? MAX_REPS : (unsigned)o->reps) : 3;
	double v[NR_B][NR_T][MAX_F][MAX_REPS];
	unsigned nv[NR_B] = { 0 }, bad = 0;
	struct bench_outputs out;
	struct bench_json *j = &out.j;
	FILE *tf;

	(void)argv;
	if (argc > 1) {
		fprintf(stderr, "bench xensave: no options\n");
		return 2;
	}
	bench_find_build(o->repo, build, sizeof(build));
	for (unsigned r = 0; r < reps && !*skip; r++)
		for (int b = 0; b < NR_B && !*skip; b++) {
			double f[NR_T][MAX_F];
			int rc;

			bench_progress("xensave: %s, run %u of %u", bname[b], r + 1, reps);
			rc = one_run(o, build, b, f, skip, sizeof(skip));
			if (rc < 0)
				bad++;
			for (unsigned t = 0; rc == 0 && t < NR_T; t++)
				for (unsigned k = 0; k < steps[t].nf; k++)
					v[b][t][k][nv[b]] = f[t][k];
			nv[b] += rc == 0;
		}
	bench_progress_done();
	if (*skip) {
		printf("pvio-bench xensave: skipped: %s\n", skip);
		return 0;
	}
	if (bench_outputs_open(&out, o, "xensave") < 0)
		return 1;
	bench_json_str(j, "what", "xl save + xl restore of a PV and a PVH domU, and two localhost "
		       "xl migrate of a PVH domU, each writing O_DIRECT blocks, nested Xen 4.17 "
		       "under QEMU TCG");
	bench_json_int(j, "failed_runs", bad);
	bench_json_arr_begin(j, "figures");
	tf = out.tf;
	FILE *outs[2] = { tf, stdout };

	for (unsigned k = 0; k < 2; k++) {
		FILE *f = outs[k];

		fprintf(f, "pvio-bench xensave: %s\n", out.line);
		fprintf(f, "xl save + restore of a PV and a PVH domU, xl migrate x2 of a PVH domU, "
			"each writing without pause (nested Xen, TCG); medians of %u/%u runs\n"
			"%-72s %10s %10s %8s\n", nv[B_PVIO], nv[B_KERNEL], "figure, ms", "pvio",
			"kernel", "ratio");
		for (unsigned t = 0; t < NR_T; t++)
		for (unsigned x = 0; x < steps[t].nf; x++) {
			double m[NR_B];
			char what[112];

			for (int b = 0; b < NR_B; b++)
				m[b] = nv[b] ? bench_median(v[b][t][x], nv[b]) : 0;
			snprintf(what, sizeof(what), "%s: %s", steps[t].name, steps[t].desc[x]);
			fprintf(f, "%-72s %10.0f %10.0f %8.2f\n", what, m[B_PVIO], m[B_KERNEL],
				m[B_KERNEL] > 0 ? m[B_PVIO] / m[B_KERNEL] : 0);
			if (f != tf)
				continue;
			bench_json_obj_begin(j, NULL);
			bench_json_str(j, "domu", steps[t].name);
			bench_json_str(j, "figure", steps[t].key[x]);
			bench_json_str(j, "what", steps[t].desc[x]);
			for (int b = 0; b < NR_B; b++) {
				char key[32];

				snprintf(key, sizeof(key), "%s_median_ms", bname[b]);
				bench_json_num(j, key, m[b]);
				snprintf(key, sizeof(key), "%s_runs_ms", bname[b]);
				bench_json_nums(j, key, v[b][t][x], nv[b]);
			}
			if (m[B_KERNEL] > 0)
				bench_json_num(j, "ratio_pvio_kernel", m[B_PVIO] / m[B_KERNEL]);
			else
				bench_json_null(j, "ratio_pvio_kernel");
			bench_json_obj_end(j);
		}
		if (bad)
			fprintf(f, "%u run(s) failed (see above)\n", bad);
	}
	bench_json_arr_end(j);
	bench_outputs_close(&out);
	return bad ? 1 : 0;
}

const struct bench_cmd bench_cmd_xensave = {
	"xensave", "xl save + restore of PV/PVH domUs under disk load: pvio vs Linux's blkback downtime",
	usage, xensave_run,
};
