/* SPDX-License-Identifier: MIT */
/*
 * pvio-bench hv: the hypervisor services' costs.
 *
 *   map+unmap, batch 1 and 32   grant map and unmap of 4 KiB pages by dom0
 *                               (ops/s; no baseline: nothing else does it)
 *   copy 4 KiB                  grant copy of a page into dom0 (ops/s),
 *                               against a plain 4 KiB memcpy
 *   evtchn round trip           notify -> peer wakes -> notify back, between
 *                               two processes through pviod's event channels,
 *                               receivers sleeping in epoll or busy-polling;
 *                               against a plain eventfd ping-pong done the
 *                               same way (median and p99, microseconds)
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench_common.h"
#include "hv/hv.h"

struct hv_case {
	char name[48];
	const char *unit;
	const char *baseline;
	double pv[64], base[64];
	bool has_base;
	double pv_p99, base_p99;
};

/* ------------------------------------------------------------ grants */

static double map_rate(struct pvio_hv *dom0, uint16_t g, const uint32_t *refs, unsigned nrefs,
		       unsigned batch, double secs)
{
	struct pvio_gnt_map_op ops[32];
	uint64_t t0 = bench_now_ns(), end = t0 + (uint64_t)(secs * 1e9), n = 0;
	unsigned k = 0;

	while (bench_now_ns() < end) {
		for (unsigned rep = 0; rep < 64; rep++) {
			for (unsigned i = 0; i < batch; i++) {
				memset(&ops[i], 0, sizeof(ops[i]));
				ops[i].ref = refs[k++ % nrefs];
			}
			if (pvio_hv_map(dom0, g, ops, batch) != (int)batch)
				return -1;
			if (pvio_hv_unmap(dom0, g, ops, batch) != (int)batch)
				return -1;
			n += batch;
		}
	}
	return (double)n / ((double)(bench_now_ns() - t0) / 1e9);
}

static double copy_rate(struct pvio_hv *dom0, uint16_t g, const uint32_t *refs, unsigned nrefs,
			double secs, bool plain, uint8_t *src_plain)
{
	static uint8_t dst[32][4096] __attribute__((aligned(64)));
	struct pvio_gnt_copy_op ops[32];
	uint64_t t0 = bench_now_ns(), end = t0 + (uint64_t)(secs * 1e9), n = 0;
	unsigned k = 0;

	while (bench_now_ns() < end) {
		for (unsigned rep = 0; rep < 64; rep++) {
			if (plain) {
				for (unsigned i = 0; i < 32; i++)
					memcpy(dst[i], src_plain + (size_t)(k++ % nrefs) * 4096, 4096);
			} else {
				for (unsigned i = 0; i < 32; i++) {
					memset(&ops[i], 0, sizeof(ops[i]));
					ops[i].source.foreign.ref = refs[k++ % nrefs];
					ops[i].source.foreign.domid = g;
					ops[i].dest.virt = dst[i];
					ops[i].len = 4096;
					ops[i].flags = PVIO_GNTCOPY_source_gref;
				}
				if (pvio_hv_copy(dom0, ops, 32) != 32)
					return -1;
			}
			n += 32;
		}
	}
	return (double)n / ((double)(bench_now_ns() - t0) / 1e9);
}

/* ------------------------------------------------------------ event channels */

/* One side of a ping-pong on (wait_fd, kick): wait for an event, answer. */
struct pp_side {
	/* pvio */
	struct pvio_evtchn *ch;
	/* plain */
	int efd_in, efd_out;
	bool spin;
};

static int wait_event(struct pp_side *s, int ep)
{
	if (s->ch) {
		if (s->spin) {
			while (!pvio_evtchn_is_pending(s->ch))
				;
			pvio_evtchn_consume(s->ch);
			return 0;
		}
		for (;;) {
			struct epoll_event ev;
			pvio_evtchn_unmask(s->ch);
			if (epoll_wait(ep, &ev, 1, 5000) <= 0)
				return -1;
			if (pvio_evtchn_consume(s->ch))
				return 0;
		}
	}
	uint64_t v;
	if (s->spin) {
		while (read(s->efd_in, &v, 8) != 8)
			;
		return 0;
	}
	struct epoll_event ev;
	if (epoll_wait(ep, &ev, 1, 5000) <= 0)
		return -1;
	return read(s->efd_in, &v, 8) == 8 ? 0 : -1;
}

static void kick(struct pp_side *s)
{
	uint64_t one = 1;

	if (s->ch) {
		pvio_evtchn_notify(s->ch);
		return;
	}
	if (write(s->efd_out, &one, 8) != 8)
		abort();
}

static int make_ep(struct pp_side *s)
{
	/* Polling: keep the port masked so a notify is a flag write, no
	 * system call (what a polling backend does). */
	if (s->ch && s->spin)
		pvio_evtchn_mask(s->ch);
	int ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN };

	epoll_ctl(ep, EPOLL_CTL_ADD, s->ch ? s->ch->self_fd : s->efd_in, &ev);
	return ep;
}

/* Run n round trips from the initiator; lat[] gets each in microseconds. */
static int pingpong(struct pp_side *a, struct pp_side *b, unsigned n, double *lat)
{
	pid_t pid = fork();

	if (pid == 0) {
		int ep = make_ep(b);
		bench_pin_self(1);
		for (unsigned i = 0; i < n + 100; i++) {
			if (wait_event(b, ep) < 0)
				_exit(1);
			kick(b);
		}
		_exit(0);
	}
	int ep = make_ep(a), st;
	bench_pin_self(0);
	for (unsigned i = 0; i < n + 100; i++) {
		uint64_t t0 = bench_now_ns();
		kick(a);
		if (wait_event(a, ep) < 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			close(ep);
			return -1;
		}
		if (i >= 100)
			lat[i - 100] = (double)(bench_now_ns() - t0) / 1e3;
	}
	close(ep);
	waitpid(pid, &st, 0);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static int evtchn_pair(struct pvio_hv *dom0, struct pvio_hv *g, struct pp_side *a,
		       struct pp_side *b)
{
	pvio_evtchn_port_t p, lp;

	if (pvio_hv_evtchn_alloc_unbound(g, 0, &p) < 0 ||
	    pvio_hv_evtchn_bind(dom0, pvio_hv_domid(g), p, &lp) < 0)
		return -1;
	a->ch = pvio_hv_evtchn_handle(g, p);
	b->ch = pvio_hv_evtchn_handle(dom0, lp);
	return 0;
}

/* ------------------------------------------------------------ driver */

static void hv_usage(FILE *f)
{
	fprintf(f, "  hv options: --seconds S (per grant run, default 1)  --trips N (default 20000)\n");
}

static int hv_run(const struct bench_opts *o, int argc, char **argv)
{
	int reps = o->quick ? 1 : (o->reps < 1 ? 1 : o->reps > 64 ? 64 : o->reps);
	double secs = o->quick ? 0.2 : 1.0;
	unsigned trips = o->quick ? 2000 : 20000;
	struct pvio_hv_world *w;
	struct pvio_hv *dom0, *g;
	uint16_t gd;
	uint32_t refs[256];
	uint64_t gfn;
	struct hv_case cs[6];
	unsigned nc = 0;
	char path[600], tpath[600], mline[256];

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			secs = atof(argv[++i]);
		else if (!strcmp(argv[i], "--trips") && i + 1 < argc)
			trips = (unsigned)atoi(argv[++i]);
		else
			return 2;
	}
	memset(cs, 0, sizeof(cs));
	if (pvio_hv_world_create(&w) < 0 || pvio_hv_local_open(w, 0, &dom0) < 0 ||
	    pvio_hv_domain_create(dom0, "bench", 64 << 20, &gd) < 0 ||
	    pvio_hv_local_open(w, gd, &g) < 0 || pvio_hv_page_alloc(g, 256, &gfn) < 0) {
		fprintf(stderr, "bench hv: cannot set up the local world\n");
		return 1;
	}
	for (unsigned i = 0; i < 256; i++) {
		int r = pvio_hv_grant(g, 0, gfn + i, false);
		if (r < 0)
			return 1;
		refs[i] = (uint32_t)r;
	}
	uint8_t *plain = pvio_hv_gfn_ptr(g, gfn);
	memset(plain, 0x3c, 256 * 4096);

	/* grants */
	snprintf(cs[0].name, sizeof(cs[0].name), "grant-map-unmap-batch1");
	snprintf(cs[1].name, sizeof(cs[1].name), "grant-map-unmap-batch32");
	snprintf(cs[2].name, sizeof(cs[2].name), "grant-copy-4k-batch32");
	cs[0].unit = cs[1].unit = cs[2].unit = "ops/s";
	cs[0].baseline = cs[1].baseline = "none";
	cs[2].baseline = "memcpy-4k";
	cs[2].has_base = true;
	for (int r = 0; r < reps; r++) {
		bench_progress("hv: grants rep %d/%d", r + 1, reps);
		cs[0].pv[r] = map_rate(dom0, gd, refs, 256, 1, secs);
		cs[1].pv[r] = map_rate(dom0, gd, refs, 256, 32, secs);
		cs[2].pv[r] = copy_rate(dom0, gd, refs, 256, secs, false, NULL);
		cs[2].base[r] = copy_rate(dom0, gd, refs, 256, secs, true, plain);
	}
	nc = 3;

	/* event channels between two processes (the local world's fds are
	 * inherited across fork: the same memfd + eventfds as with pviod) */
	const char *modes[2] = { "sleep", "poll" };
	double *lp = calloc(trips, sizeof(double)), *lb = calloc(trips, sizeof(double));
	for (int m = 0; m < 2; m++) {
		struct hv_case *c = &cs[nc++];
		snprintf(c->name, sizeof(c->name), "evtchn-roundtrip-%s", modes[m]);
		c->unit = "us";
		c->baseline = m ? "eventfd-busy-poll" : "eventfd-epoll";
		c->has_base = true;
		for (int r = 0; r < reps; r++) {
			struct pp_side a = { .spin = m == 1 }, b = { .spin = m == 1 };
			struct pp_side pa = { .spin = m == 1 }, pb = { .spin = m == 1 };
			bench_progress("hv: event channel round trips (%s) rep %d/%d", modes[m],
				       r + 1, reps);
			if (evtchn_pair(dom0, g, &a, &b) < 0 || pingpong(&a, &b, trips, lp) < 0) {
				fprintf(stderr, "bench hv: event channel ping-pong failed\n");
				return 1;
			}
			int e1 = eventfd(0, EFD_NONBLOCK), e2 = eventfd(0, EFD_NONBLOCK);
			pa.efd_in = e1; pa.efd_out = e2; pb.efd_in = e2; pb.efd_out = e1;
			if (pingpong(&pa, &pb, trips, lb) < 0)
				return 1;
			close(e1);
			close(e2);
			c->pv[r] = bench_median(lp, trips);
			c->base[r] = bench_median(lb, trips);
			c->pv_p99 = bench_percentile(lp, trips, 99);
			c->base_p99 = bench_percentile(lb, trips, 99);
		}
	}
	free(lp);
	free(lb);
	bench_progress_done();
	pvio_hv_close(g);
	pvio_hv_close(dom0);
	pvio_hv_world_destroy(w);

	if (bench_out_path(o, "hv", "json", path, sizeof(path)) < 0 ||
	    bench_out_path(o, "hv", "txt", tpath, sizeof(tpath)) < 0)
		return 1;
	FILE *jf = fopen(path, "w"), *tf = fopen(tpath, "w");
	struct bench_json j;
	if (!jf || !tf)
		return 1;
	bench_machine_line(mline, sizeof(mline), o->repo);
	bench_json_init(&j, jf);
	bench_json_obj_begin(&j, NULL);
	bench_json_str(&j, "benchmark", "hv");
	bench_json_machine(&j, o->repo);
	bench_json_arr_begin(&j, "cases");
	FILE *outs[2] = { stdout, tf };
	for (int w2 = 0; w2 < 2; w2++) {
		fprintf(outs[w2], "pvio-bench hv: %s\n", mline);
		fprintf(outs[w2], "%-28s %-18s %14s %14s %7s %10s %10s\n", "case", "baseline",
			"baseline", "pvio", "ratio", "base p99", "pvio p99");
	}
	for (unsigned i = 0; i < nc; i++) {
		struct hv_case *c = &cs[i];
		double pv = bench_median(c->pv, (size_t)reps);
		double b = c->has_base ? bench_median(c->base, (size_t)reps) : 0;
		double ratio = c->has_base && b > 0 ? pv / b : 0;
		for (int w2 = 0; w2 < 2; w2++) {
			fprintf(outs[w2], "%-28s %-18s %14.2f %14.2f %7.3f", c->name, c->baseline,
				b, pv, ratio);
			if (!strcmp(c->unit, "us"))
				fprintf(outs[w2], " %10.2f %10.2f", c->base_p99, c->pv_p99);
			fprintf(outs[w2], "  %s\n", c->unit);
		}
		bench_json_obj_begin(&j, NULL);
		bench_json_str(&j, "name", c->name);
		bench_json_str(&j, "baseline", c->baseline);
		if (c->has_base)
			bench_json_num(&j, "baseline_value", b);
		else
			bench_json_null(&j, "baseline_value");
		bench_json_num(&j, "pvio_value", pv);
		bench_json_str(&j, "unit", c->unit);
		if (c->has_base)
			bench_json_num(&j, "ratio", ratio);
		else
			bench_json_null(&j, "ratio");
		if (!strcmp(c->unit, "us")) {
			bench_json_num(&j, "pvio_p99", c->pv_p99);
			bench_json_num(&j, "baseline_p99", c->base_p99);
		}
		bench_json_arr_begin(&j, "reps");
		for (int r = 0; r < reps; r++) {
			bench_json_obj_begin(&j, NULL);
			bench_json_num(&j, "pvio", c->pv[r]);
			if (c->has_base)
				bench_json_num(&j, "baseline", c->base[r]);
			bench_json_obj_end(&j);
		}
		bench_json_arr_end(&j);
		bench_json_obj_end(&j);
	}
	bench_json_arr_end(&j);
	bench_json_obj_end(&j);
	fputc('\n', jf);
	fclose(jf);
	fclose(tf);
	printf("(latency ratio: pvio/baseline, lower is better; rates: higher is better)\nJSON: %s\n",
	       path);
	return 0;
}

const struct bench_cmd bench_cmd_hv = {
	.name = "hv",
	.summary = "grant map/unmap and copy rates; event-channel round trip vs eventfd",
	.usage = hv_usage,
	.run = hv_run,
};
