/* SPDX-License-Identifier: MIT */
/*
 * pvio-blkback: the block backend daemon. Connects to pviod as dom0, watches
 * the store for vbd devices and serves each from its file or block device.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "blkback/blkback.h"
#include "blkback/common.h"

static struct pvio_hv *g_hv;

static void domain_idle(struct pvio_backend *be, uint16_t domid)
{
	(void)be;
	/* No device of that guest left: drop our view of its memory. */
	pvio_hv_foreign_release(g_hv, domid);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pvio-blkback [options]\n"
		"  Serves the vbd devices the toolstack creates (pvio block-attach).\n\n"
		"  --hv xen|socket     hypervisor: a real Xen (libxengnttab/libxenevtchn,\n"
		"                      xenstored), or pviod (default; also PVIO_HV=xen)\n"
		"  --socket PATH       pviod's control socket (default $PVIO_SOCKET or\n"
		"                      /run/pvio/pviod.sock)\n"
		"  --engine NAME       io_uring (default), libaio, psync; per device: engine=\n"
		"                      (a target=rbd:POOL/IMAGE disk uses the rbd engine)\n"
		"  --poll-us N         adaptive polling window in microseconds (default %d,\n"
		"                      0 when one CPU is online; 0 = always sleep on the\n"
		"                      event channel)\n"
		"  --io-poll-us N      adaptive polling window while O_DIRECT I/O is in\n"
		"                      flight at the device, in microseconds (default %d;\n"
		"                      0 = sleep on the engine's fd; off with --poll-us 0)\n"
		"  --workers N         poller threads serving every queue of every device\n"
		"                      (default: one per online CPU)\n"
		"  --max-queues N      multi-queue-max-queues (default: number of CPUs)\n"
		"  --max-ring-order N  max-ring-page-order, 0..4 (default 4)\n"
		"  --max-indirect N    feature-max-indirect-segments, 0 = off (default 256)\n"
		"  --no-persistent     do not offer persistent grants\n"
		"  --no-discard        do not offer discard\n"
		"  --stats-dir DIR     where pvio top finds our counters (default\n"
		"                      $PVIO_STATS_DIR, else stats/ beside pviod's socket)\n"
		"  --ready-fd N        write \"ready\\n\" to fd N once serving (the device\n"
		"                      watch is set), then close it\n"
		"  --verbose           log state changes\n"
		"  --help\n", BLKBACK_DEFAULT_POLL_US, BLKBACK_DEFAULT_IO_POLL_US);
}

static int parse_uint(const char *opt, const char *s, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > max) {
		fprintf(stderr, "pvio-blkback: %s: '%s' is not a number in 0..%u\n", opt, s, max);
		return -1;
	}
	*out = (unsigned)v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "hv", required_argument, NULL, 'H' },
		{ "engine", required_argument, NULL, 'e' },
		{ "poll-us", required_argument, NULL, 'p' },
		{ "io-poll-us", required_argument, NULL, 'I' },
		{ "max-queues", required_argument, NULL, 'q' },
		{ "workers", required_argument, NULL, 'w' },
		{ "max-ring-order", required_argument, NULL, 'o' },
		{ "max-indirect", required_argument, NULL, 'i' },
		{ "no-persistent", no_argument, NULL, 'P' },
		{ "no-discard", no_argument, NULL, 'D' },
		{ "ready-fd", required_argument, NULL, 'R' },
		{ "stats-dir", required_argument, NULL, 'S' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct blkback_cfg cfg;
	struct pvio_backend_opts bo = { .ops = &pvio_blkback_ops, .domain_idle = domain_idle };
	const char *sock = NULL, *hv = NULL, *stats_dir = NULL;
	struct pvio_stats *stats = NULL;
	int ready_fd = -1;
	bool poll_given = false;
	unsigned v;
	sigset_t mask;
	int c, r;

	pvio_blkback_cfg_default(&cfg);
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's': sock = optarg; break;
		case 'S': stats_dir = optarg; break;
		case 'H':
			if (strcmp(optarg, "xen") && strcmp(optarg, "socket")) {
				fprintf(stderr, "pvio-blkback: --hv: unknown '%s' (socket, xen)\n",
					optarg);
				return 2;
			}
			hv = optarg;
			break;
		case 'R':
			if (parse_uint("--ready-fd", optarg, 1u << 20, &v))
				return 2;
			ready_fd = (int)v;
			break;
		case 'e':
			if (strcmp(optarg, "io_uring") && strcmp(optarg, "libaio") &&
			    strcmp(optarg, "psync")) {
				fprintf(stderr, "pvio-blkback: --engine: unknown engine '%s' "
					"(io_uring, libaio, psync)\n", optarg);
				return 2;
			}
			snprintf(cfg.engine, sizeof(cfg.engine), "%s", optarg);
			break;
		case 'I':
			if (parse_uint("--io-poll-us", optarg, 1000000, &cfg.io_poll_us))
				return 2;
			break;
		case 'p':
			if (parse_uint("--poll-us", optarg, 1000000, &cfg.poll_us))
				return 2;
			poll_given = true;
			break;
		case 'w':
			if (parse_uint("--workers", optarg, PVIO_WORKERS_MAX, &cfg.nr_workers) ||
			    cfg.nr_workers == 0) {
				fprintf(stderr, "pvio-blkback: --workers must be 1..%d\n",
					PVIO_WORKERS_MAX);
				return 2;
			}
			break;
		case 'q':
			if (parse_uint("--max-queues", optarg, BLKBACK_MAX_QUEUES, &cfg.max_queues) ||
			    cfg.max_queues == 0) {
				fprintf(stderr, "pvio-blkback: --max-queues must be 1..%d\n",
					BLKBACK_MAX_QUEUES);
				return 2;
			}
			break;
		case 'o':
			if (parse_uint("--max-ring-order", optarg, BLKBACK_MAX_RING_ORDER,
				       &cfg.max_ring_order))
				return 2;
			break;
		case 'i':
			if (parse_uint("--max-indirect", optarg, BLKBACK_MAX_INDIRECT_SEGS,
				       &cfg.max_indirect))
				return 2;
			if (cfg.max_indirect && cfg.max_indirect <= PVIO_BLKIF_MAX_SEGMENTS_PER_REQUEST) {
				fprintf(stderr, "pvio-blkback: --max-indirect must be 0 or more "
					"than %d\n", PVIO_BLKIF_MAX_SEGMENTS_PER_REQUEST);
				return 2;
			}
			break;
		case 'P': cfg.persistent = false; break;
		case 'D': cfg.discard = false; break;
		case 'v': bo.verbose = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "pvio-blkback: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (!pvio_blk_engine_built(cfg.engine)) {
		fprintf(stderr, "pvio-blkback: engine %s is not built into this program (its "
			"library was missing when it was built: scripts/install-deps, then "
			"rebuild), choose another with --engine\n", cfg.engine);
		return 2;
	}
	cfg.poll_us = pvio_backend_poll_us("pvio-blkback", cfg.poll_us, poll_given);
	/* Each guest costs fds (its memory, ports, engines): as many as we
	 * may have. */
	pvio_hv_raise_nofile("pvio-blkback", PVIO_HV_NOFILE_WANT, 12);
	/* Before any thread starts: every thread inherits the mask, and a
	 * stop signal must reach only the signalfd. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (pvio_hv_open_backend("pvio-blkback", hv, sock, &g_hv) < 0)
		return 1;
	{
		/* Device and worker records for pvio top; the data path
		 * counts requests, sectors, errors and delays. */
		struct pvio_stats_opts so = {
			.dir = stats_dir, .sock = sock, .prog = "pvio-blkback",
			.type = PVIO_STATS_VBD, .max_queues = BLKBACK_MAX_QUEUES,
			.caps = PVIO_STATS_CAP_VBD_IO | PVIO_STATS_CAP_VBD_SUBMITS,
		};

		r = pvio_stats_open(&so, &stats);
		if (r < 0)
			fprintf(stderr, "pvio-blkback: no statistics for pvio top: %s\n",
				strerror(-r));
		pvio_stats_set_process(stats);
		bo.stats = stats;
	}
	r = pvio_workers_create(&(struct pvio_workers_cfg){ .n = cfg.nr_workers,
							    .poll_us = cfg.poll_us,
							    .name = "blk-worker",
							    .thread_init = pvio_stats_thread_init,
							    .thread_fini = pvio_stats_thread_fini },
				&cfg.workers);
	if (r < 0) {
		fprintf(stderr, "pvio-blkback: cannot start the workers: %s\n", strerror(-r));
		pvio_stats_set_process(NULL);
		pvio_stats_close(stats);
		pvio_hv_close(g_hv);
		return 1;
	}
	if (ready_fd >= 0)
		bo.ready_fd = &ready_fd;
	bo.stop_fd = signalfd(-1, &mask, SFD_CLOEXEC);
	bo.ctx = &cfg;
	r = pvio_backend_run(g_hv, &bo);
	if (r < 0)
		fprintf(stderr, "pvio-blkback: %s\n", strerror(-r));
	pvio_workers_destroy(cfg.workers);   /* their records go first */
	pvio_stats_set_process(NULL);
	pvio_stats_close(stats);
	pvio_hv_close(g_hv);
	return r < 0 ? 1 : 0;
}
