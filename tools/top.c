/* SPDX-License-Identifier: MIT */
/*
 * pvio top: xentop for pvio. One line per domain, refreshed every --delay
 * seconds: its vbds' requests (rd, wr, flush, discard, oo = delayed by a
 * limit or a full engine) and sectors, its vifs' bytes, packets and drops;
 * then each backend worker's CPU time. The counters come from the
 * backends' stats files (backend/stats.h: shared memory, read without
 * disturbing the data path), the names from the store. A counter a backend
 * does not keep is shown as "-" (JSON: null).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backend/stats.h"
#include "tools/cli.h"
#include "xenstore/xs.h"

struct dom {
	uint16_t domid;
	char name[PVIO_DOMAIN_NAME_MAX + 1];
	unsigned vbds, vifs;
	bool vbd_counted, vif_counted;    /* some backend counts them */
	struct pvio_stats_counters c;
};

struct prev_cpu {
	uint32_t pid, tid;
	uint64_t cpu_ns;
};

struct top {
	const char *dir;
	struct pvio_xs *xs;
	bool json, batch, clear;
	unsigned iteration;
	double delay;
	struct timespec last;
	struct prev_cpu *prev;
	unsigned nprev;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pvio [--socket PATH] top [options]\n"
		"  One line per domain with its disks' and vifs' counters, then the CPU\n"
		"  time of each backend worker; refreshed every second.\n"
		"  -b, --batch           plain output, no screen clearing (for scripts)\n"
		"  -i, --iterations N    stop after N refreshes (default: until interrupted)\n"
		"  -d, --delay S         seconds between refreshes (default 1; fractions ok)\n"
		"      --json            one JSON object per refresh, one per line\n"
		"      --stats-dir DIR   the backends' stats files (default $PVIO_STATS_DIR,\n"
		"                        else stats/ beside pviod's socket)\n"
		"Columns: VBD_RD/WR/FL/DC requests read/write/flush/discard, VBD_OO requests\n"
		"delayed (a limit or a full engine), RSECT/WSECT 512-byte sectors, NETTX/NETRX\n"
		"kilobytes from/to the guest, TXPKT/RXPKT packets, DROPS packets dropped.\n");
}

static double ts_diff(const struct timespec *a, const struct timespec *b)
{
	return (double)(a->tv_sec - b->tv_sec) + (double)(a->tv_nsec - b->tv_nsec) / 1e9;
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void add_counters(struct pvio_stats_counters *a, const struct pvio_stats_counters *b)
{
	uint64_t *x = (uint64_t *)a;
	const uint64_t *y = (const uint64_t *)b;

	for (size_t i = 0; i < sizeof(*a) / sizeof(uint64_t); i++)
		x[i] += y[i];
}

static struct dom *dom_get(struct dom **v, unsigned *n, unsigned *cap, uint16_t domid)
{
	for (unsigned i = 0; i < *n; i++)
		if ((*v)[i].domid == domid)
			return &(*v)[i];
	if (*n == *cap) {
		unsigned nc = *cap ? *cap * 2 : 16;
		struct dom *nv = realloc(*v, nc * sizeof(*nv));
		if (!nv)
			return NULL;
		*v = nv;
		*cap = nc;
	}
	memset(&(*v)[*n], 0, sizeof(**v));
	(*v)[*n].domid = domid;
	return &(*v)[(*n)++];
}

static int cmp_dom(const void *a, const void *b)
{
	const struct dom *x = a, *y = b;

	return (x->domid > y->domid) - (x->domid < y->domid);
}

/* Every guest the store knows (dom0 aside), with its name. */
static int store_domains(struct top *t, struct dom **v, unsigned *n, unsigned *cap)
{
	char **names = NULL;
	unsigned cnt = 0;
	int r;

	if (!t->xs)
		return 0;
	r = pvio_xs_directory(t->xs, PVIO_XS_NO_TX, "/local/domain", &names, &cnt);
	if (r < 0)
		return r == -ENOENT ? 0 : r;
	for (unsigned i = 0; i < cnt; i++) {
		char *end, path[64];
		unsigned long id = strtoul(names[i], &end, 10);
		struct dom *d;

		if (*end || id == 0 || id > 0x7ff0)
			continue;
		if (!(d = dom_get(v, n, cap, (uint16_t)id)))
			break;
		snprintf(path, sizeof(path), "/local/domain/%lu/name", id);
		if (pvio_xs_read_buf(t->xs, PVIO_XS_NO_TX, path, d->name, sizeof(d->name), NULL) < 0)
			d->name[0] = 0;
	}
	free(names);
	return 0;
}

static uint64_t prev_cpu(const struct top *t, uint32_t pid, uint32_t tid, bool *found)
{
	for (unsigned i = 0; i < t->nprev; i++)
		if (t->prev[i].pid == pid && t->prev[i].tid == tid) {
			*found = true;
			return t->prev[i].cpu_ns;
		}
	*found = false;
	return 0;
}

/* "-" for what no backend counts. */
static void col(bool counted, int width, uint64_t v)
{
	if (counted)
		printf(" %*" PRIu64, width, v);
	else
		printf(" %*s", width, "-");
}

static void jnum(const char *key, bool counted, uint64_t v, bool comma)
{
	printf("\"%s\": ", key);
	if (counted)
		printf("%" PRIu64, v);
	else
		printf("null");
	if (comma)
		printf(", ");
}

static void print_dev_json(const struct pvio_stats_snap *b, const struct pvio_stats_devinfo *d)
{
	bool vbd = d->type == PVIO_STATS_VBD;
	bool counted = b->caps & (vbd ? PVIO_STATS_CAP_VBD_IO : PVIO_STATS_CAP_VIF_IO);

	printf("{\"type\": \"%s\", \"devid\": %u, \"label\": ", vbd ? "vbd" : "vif", d->devid);
	json_str(d->label);
	printf(", \"queues\": %u, \"backend_pid\": %u, ", d->nr_queues, b->pid);
	if (vbd) {
		jnum("rd", counted, d->c.rd_req, true);
		jnum("wr", counted, d->c.wr_req, true);
		jnum("flush", counted, d->c.flush_req, true);
		jnum("discard", counted, d->c.discard_req, true);
		jnum("oo", counted, d->c.oo_req, true);
		jnum("rsect", counted, d->c.rd_sect, true);
		jnum("wsect", counted, d->c.wr_sect, true);
		jnum("errors", counted, d->c.errors, true);
		jnum("submits", b->caps & PVIO_STATS_CAP_VBD_SUBMITS, d->c.submits, false);
	} else {
		jnum("tx_bytes", counted, d->c.tx_bytes, true);
		jnum("tx_pkts", counted, d->c.tx_pkts, true);
		jnum("rx_bytes", counted, d->c.rx_bytes, true);
		jnum("rx_pkts", counted, d->c.rx_pkts, true);
		jnum("tx_drops", counted, d->c.tx_drops, true);
		jnum("rx_drops", counted, d->c.rx_drops, true);
		jnum("errors", counted, d->c.errors, false);
	}
	printf("}");
}

static int refresh(struct top *t)
{
	struct pvio_stats_snap *b = NULL;
	struct dom *doms = NULL;
	struct prev_cpu *cur = NULL;
	unsigned nb = 0, nd = 0, dcap = 0, ncur = 0, ndev = 0;
	struct timespec now, wall;
	double dt;
	int r;

	clock_gettime(CLOCK_MONOTONIC, &now);
	clock_gettime(CLOCK_REALTIME, &wall);
	dt = t->iteration ? ts_diff(&now, &t->last) : 0;
	r = pvio_stats_scan(t->dir, &b, &nb);
	if (r < 0) {
		fprintf(stderr, "pvio top: %s: %s\n", t->dir, strerror(-r));
		return r;
	}
	if (store_domains(t, &doms, &nd, &dcap) < 0) {
		fprintf(stderr, "pvio top: the store stopped answering: names not shown\n");
		pvio_xs_close(t->xs);
		t->xs = NULL;
	}
	for (unsigned i = 0; i < nb; i++) {
		for (unsigned k = 0; k < b[i].ndevs; k++) {
			const struct pvio_stats_devinfo *dv = &b[i].devs[k];
			struct dom *d = dom_get(&doms, &nd, &dcap, dv->domid);

			if (!d) {
				r = -ENOMEM;
				goto out;
			}
			ndev++;
			if (dv->type == PVIO_STATS_VBD) {
				d->vbds++;
				d->vbd_counted |= !!(b[i].caps & PVIO_STATS_CAP_VBD_IO);
			} else {
				d->vifs++;
				d->vif_counted |= !!(b[i].caps & PVIO_STATS_CAP_VIF_IO);
			}
			add_counters(&d->c, &dv->c);
		}
		ncur += b[i].nworkers;
	}
	if (nd > 1)
		qsort(doms, nd, sizeof(*doms), cmp_dom);
	cur = calloc(ncur + 1, sizeof(*cur));
	if (!cur) {
		r = -ENOMEM;
		goto out;
	}
	ncur = 0;
	t->iteration++;

	if (t->json) {
		printf("{\"time\": %.3f, \"iteration\": %u, \"interval_s\": %.3f, \"domains\": [",
		       (double)wall.tv_sec + wall.tv_nsec / 1e9, t->iteration, dt);
		for (unsigned i = 0; i < nd; i++) {
			const struct dom *d = &doms[i];
			bool first = true;

			printf("%s{\"domid\": %u, \"name\": ", i ? ", " : "", d->domid);
			json_str(d->name);
			printf(", \"vbds\": %u, \"vifs\": %u, ", d->vbds, d->vifs);
			jnum("vbd_rd", d->vbd_counted, d->c.rd_req, true);
			jnum("vbd_wr", d->vbd_counted, d->c.wr_req, true);
			jnum("vbd_flush", d->vbd_counted, d->c.flush_req, true);
			jnum("vbd_discard", d->vbd_counted, d->c.discard_req, true);
			jnum("vbd_oo", d->vbd_counted, d->c.oo_req, true);
			jnum("vbd_rsect", d->vbd_counted, d->c.rd_sect, true);
			jnum("vbd_wsect", d->vbd_counted, d->c.wr_sect, true);
			jnum("net_tx_bytes", d->vif_counted, d->c.tx_bytes, true);
			jnum("net_tx_pkts", d->vif_counted, d->c.tx_pkts, true);
			jnum("net_rx_bytes", d->vif_counted, d->c.rx_bytes, true);
			jnum("net_rx_pkts", d->vif_counted, d->c.rx_pkts, true);
			jnum("net_drops", d->vif_counted, d->c.tx_drops + d->c.rx_drops, true);
			printf("\"devices\": [");
			for (unsigned k = 0; k < nb; k++)
				for (unsigned j = 0; j < b[k].ndevs; j++) {
					if (b[k].devs[j].domid != d->domid)
						continue;
					if (!first)
						printf(", ");
					first = false;
					print_dev_json(&b[k], &b[k].devs[j]);
				}
			printf("]}");
		}
		printf("], \"backends\": [");
	} else {
		char tbuf[16];
		struct tm tm;

		localtime_r(&wall.tv_sec, &tm);
		strftime(tbuf, sizeof(tbuf), "%H:%M:%S", &tm);
		if (t->clear)
			printf("\033[H\033[2J");
		printf("pvio top - %s   %u backend(s), %u domain(s), %u device(s)\n", tbuf, nb, nd,
		       ndev);
		printf("%16s %5s %4s %9s %9s %7s %7s %7s %11s %11s %4s %10s %10s %9s %9s %7s\n",
		       "NAME", "DOMID", "VBDS", "VBD_RD", "VBD_WR", "VBD_FL", "VBD_DC", "VBD_OO",
		       "VBD_RSECT", "VBD_WSECT", "NETS", "NETTX(k)", "NETRX(k)", "TXPKT", "RXPKT",
		       "DROPS");
		for (unsigned i = 0; i < nd; i++) {
			const struct dom *d = &doms[i];

			printf("%16.16s %5u %4u", d->name[0] ? d->name : "-", d->domid, d->vbds);
			col(d->vbd_counted, 9, d->c.rd_req);
			col(d->vbd_counted, 9, d->c.wr_req);
			col(d->vbd_counted, 7, d->c.flush_req);
			col(d->vbd_counted, 7, d->c.discard_req);
			col(d->vbd_counted, 7, d->c.oo_req);
			col(d->vbd_counted, 11, d->c.rd_sect);
			col(d->vbd_counted, 11, d->c.wr_sect);
			printf(" %4u", d->vifs);
			col(d->vif_counted, 10, d->c.tx_bytes >> 10);
			col(d->vif_counted, 10, d->c.rx_bytes >> 10);
			col(d->vif_counted, 9, d->c.tx_pkts);
			col(d->vif_counted, 9, d->c.rx_pkts);
			col(d->vif_counted, 7, d->c.tx_drops + d->c.rx_drops);
			printf("\n");
		}
		printf("\n%-14s %7s %7s %-16s %10s %6s\n", "BACKEND", "PID", "TID", "WORKER",
		       "CPU(s)", "CPU(%)");
	}
	for (unsigned i = 0; i < nb; i++) {
		if (t->json) {
			printf("%s{\"prog\": ", i ? ", " : "");
			json_str(b[i].prog);
			printf(", \"pid\": %u, \"type\": \"%s\", \"counts_io\": %s, \"devices\": %u, "
			       "\"workers\": [", b[i].pid,
			       b[i].type == PVIO_STATS_VBD ? "vbd" : "vif",
			       b[i].caps ? "true" : "false", b[i].ndevs);
		}
		for (unsigned k = 0; k < b[i].nworkers; k++) {
			const struct pvio_stats_workerinfo *w = &b[i].workers[k];
			bool had;
			uint64_t before = prev_cpu(t, b[i].pid, w->tid, &had);
			double pct = had && dt > 0 && w->cpu_ns >= before ?
				     (double)(w->cpu_ns - before) / 1e9 / dt * 100.0 : 0;

			cur[ncur].pid = b[i].pid;
			cur[ncur].tid = w->tid;
			cur[ncur++].cpu_ns = w->cpu_ns;
			if (t->json) {
				printf("%s{\"tid\": %u, \"name\": ", k ? ", " : "", w->tid);
				json_str(w->name);
				printf(", \"wakeups\": %llu, \"rounds\": %llu",
				       (unsigned long long)w->wakeups, (unsigned long long)w->rounds);
				printf(", \"cpu_s\": %.3f, \"cpu_pct\": ", w->cpu_ns / 1e9);
				if (had && dt > 0)
					printf("%.1f}", pct);
				else
					printf("null}");
			} else {
				printf("%-14.14s %7u %7u %-16.16s %10.2f ", b[i].prog, b[i].pid, w->tid,
				       w->name[0] ? w->name : "-", w->cpu_ns / 1e9);
				if (had && dt > 0)
					printf("%6.1f\n", pct);
				else
					printf("%6s\n", "-");
			}
		}
		if (t->json)
			printf("]}");
	}
	if (t->json)
		printf("]}\n");
	fflush(stdout);
	free(t->prev);
	t->prev = cur;
	t->nprev = ncur;
	cur = NULL;
	t->last = now;
	r = 0;
out:
	free(cur);
	free(doms);
	pvio_stats_scan_free(b, nb);
	return r;
}

int pvio_cmd_top(const char *sock, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "batch", no_argument, NULL, 'b' },
		{ "iterations", required_argument, NULL, 'i' },
		{ "delay", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "stats-dir", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct top t = { .delay = 1.0 };
	struct pvio_hv *hv = NULL;
	char dir[PATH_MAX];
	unsigned long iterations = 0;
	char *end;
	int c, rc = 0;

	/* argv[0] is the first argument after "top": getopt wants a name. */
	char **av = calloc((size_t)argc + 2, sizeof(*av));
	if (!av)
		return 1;
	av[0] = "pvio top";
	for (int i = 0; i < argc; i++)
		av[i + 1] = argv[i];
	optind = 1;
	while ((c = getopt_long(argc + 1, av, "bi:d:h", opts, NULL)) != -1) {
		switch (c) {
		case 'b': t.batch = true; break;
		case 'j': t.json = true; break;
		case 'S': t.dir = optarg; break;
		case 'i':
			errno = 0;
			iterations = strtoul(optarg, &end, 10);
			if (errno || *end || !*optarg || *optarg == '-' || iterations == 0 ||
			    iterations > 100000000) {
				fprintf(stderr, "pvio top: --iterations: '%s' is not a number "
					"1..100000000\n", optarg);
				free(av);
				return 2;
			}
			break;
		case 'd':
			errno = 0;
			t.delay = strtod(optarg, &end);
			if (errno || *end || !*optarg || !isfinite(t.delay) || t.delay < 0.01 ||
			    t.delay > 3600) {
				fprintf(stderr, "pvio top: --delay: '%s' is not a number of seconds "
					"0.01..3600\n", optarg);
				free(av);
				return 2;
			}
			break;
		case 'h': usage(stdout); free(av); return 0;
		default: usage(stderr); free(av); return 2;
		}
	}
	if (optind < argc + 1) {
		fprintf(stderr, "pvio top: unexpected argument '%s'\n", av[optind]);
		free(av);
		return 2;
	}
	free(av);
	if (!t.dir) {
		if (pvio_stats_default_dir(sock, dir, sizeof(dir)) < 0) {
			fprintf(stderr, "pvio top: the stats directory's path is too long\n");
			return 2;
		}
		t.dir = dir;
	}
	/* Names from the store; without it, domids only. */
	if (pvio_hv_socket_connect(sock ? sock : getenv("PVIO_SOCKET"), &hv) == 0) {
		int fd;

		if (pvio_hv_xs_connect(hv, &fd) < 0 || pvio_xs_open_fd(fd, &t.xs) < 0)
			t.xs = NULL;
	} else if (getenv("XENSTORED_PATH") &&
		   pvio_xs_open(getenv("XENSTORED_PATH"), &t.xs) < 0) {
		t.xs = NULL;
	}
	if (!t.xs)
		fprintf(stderr, "pvio top: the store is not reachable: domain names not shown\n");
	t.clear = !t.batch && !t.json && isatty(STDOUT_FILENO);
	for (unsigned long i = 0; !iterations || i < iterations; i++) {
		if (i) {
			struct timespec ts = { .tv_sec = (time_t)t.delay,
					       .tv_nsec = (long)((t.delay - (double)(time_t)t.delay) *
								 1e9) };
			while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
				;
			if (!t.json && !t.clear)
				printf("\n");
		}
		if (refresh(&t) < 0) {
			rc = 1;
			break;
		}
	}
	free(t.prev);
	if (t.xs)
		pvio_xs_close(t.xs);
	if (hv)
		pvio_hv_close(hv);
	return rc;
}
