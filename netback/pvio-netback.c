/* SPDX-License-Identifier: MIT */
/*
 * pvio-netback: the network backend daemon. Connects to pviod as dom0,
 * initialises DPDK (its own EAL arguments after "--"), makes every DPDK
 * port an uplink of a bridge, watches the store for vif devices and plugs
 * each into the L2 learning switch of its bridge.
 *
 *   pvio-netback [options] [-- EAL arguments]
 *
 * Without EAL arguments it runs without hugepages:
 *   --no-huge -m 1024 --no-pci --file-prefix=pvio-netback-<pid> --no-telemetry
 * plus one --vdev per --uplink/--vdev option.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>

#include "netback/common.h"

extern const char *nb_default_bridge;

static struct pvio_hv *g_hv;
static const char *g_stats_file;
static struct pvio_stats *g_stats;
static int g_stop_efd = -1;
static pthread_t g_sig_thr;

#define MAX_UPLINKS NB_MAX_UPLINKS
#define MAX_EAL_ARGS 128

static void domain_idle(struct pvio_backend *be, uint16_t domid)
{
	(void)be;
	/* No device of that guest left: drop our view of its memory. */
	pvio_hv_foreign_release(g_hv, domid);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pvio-netback [options] [-- EAL arguments]\n"
		"  Serves the vif devices the toolstack creates: each vif is a port of the\n"
		"  L2 learning switch of its bridge (backend key 'bridge'); DPDK ports are\n"
		"  the bridges' uplinks.\n\n"
		"  --hv xen|socket         hypervisor: a real Xen (libxengnttab/libxenevtchn,\n"
		"                          xenstored), or pviod (default; also PVIO_HV=xen)\n"
		"  --socket PATH           pviod's control socket (default $PVIO_SOCKET or\n"
		"                          /run/pvio/pviod.sock)\n"
		"  --uplink [BRIDGE=]VDEV  a DPDK vdev (e.g. net_tap0,iface=pv0 or\n"
		"                          net_memif0,role=server) as an uplink of BRIDGE; or\n"
		"                          BRIDGE=NAME for a port the EAL arguments create\n"
		"                          A generator for benchmarks instead of a port:\n"
		"                          pvio_genN[,size=B][,dst=MAC][,src=MAC] makes\n"
		"                          B-byte frames (60..4096, default 64; dst default\n"
		"                          broadcast) as fast as it runs, as testpmd's txonly;\n"
		"                          what the switch sends it is freed\n"
		"  --vdev VDEV             same as --uplink VDEV\n"
		"                          Ports not named by --uplink join the default bridge.\n"
		"  --uplink-mtu [NAME=]N   the MTU of uplink NAME (a port --uplink names), or\n"
		"                          of every uplink; set on the port (net_tap: on its\n"
		"                          TAP). Frames larger than an uplink's MTU (default:\n"
		"                          the port's, 1500 for vdevs) are dropped before it\n"
		"                          and counted (uplink.NAME.tx_too_big)\n"
		"  --default-bridge NAME   bridge of vifs without a 'bridge' key and of\n"
		"                          unassigned uplinks (default br0)\n"
		"  --max-queues N          multi-queue-max-queues (default: CPUs, max %d)\n"
		"  --max-ports N           switch ports, vifs + uplinks (default %d, max %d)\n"
		"  --workers N             poller threads serving all vif queues and\n"
		"                          uplinks (default: half the CPUs, at least 1;\n"
		"                          max %d)\n"
		"  --poll-us N             adaptive polling window (default %d, 0 when one\n"
		"                          CPU is online; 0: always sleep)\n"
		"  --backlog-pkts N        per-queue backlog toward a guest, packets (default %d)\n"
		"  --backlog-bytes N       ... and bytes (default %u)\n"
		"  --rx-drain-ms N         drop a guest's backlog after N ms without rx\n"
		"                          buffers (default %d)\n"
		"  --mac-age S             MAC table aging, seconds (default %d)\n"
		"  --mac-entries N         MAC table size per bridge (default %d)\n"
		"  --mbufs N               mbuf pool size (default %d)\n"
		"  --no-sg --no-gso --no-ipv6-csum --no-multicast --no-split-evtchn\n"
		"  --no-ctrl-ring --no-persistent\n"
		"                          do not offer that feature\n"
		"  --stats-file PATH       write the statistics there every second, on\n"
		"                          SIGUSR1 and at exit (without it, SIGUSR1 prints\n"
		"                          them on stderr; they are printed at exit anyway)\n"
		"  --stats-dir DIR         where pvio top finds our counters (default\n"
		"                          $PVIO_STATS_DIR, else stats/ beside pviod's socket)\n"
		"  --ready-fd N            write \"ready\\n\" to fd N once serving\n"
		"  --verbose               log state changes\n"
		"  --help\n"
		"Default EAL arguments: --no-huge -m 1024 --no-pci\n"
		"  --file-prefix=pvio-netback-<pid> --no-telemetry\n",
		NB_MAX_QUEUES, NB_DEFAULT_MAX_PORTS, NB_PORTS_LIMIT, NB_MAX_WORKERS, NB_DEFAULT_POLL_US, NB_DEFAULT_BACKLOG_PKTS,
		NB_DEFAULT_BACKLOG_BYTES, NB_DEFAULT_RX_DRAIN_MS, NB_DEFAULT_MAC_AGE_S,
		NB_DEFAULT_MAC_ENTRIES, NB_DEFAULT_MBUFS);
}

static int parse_uint(const char *opt, const char *s, unsigned long min, unsigned long max,
		      unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "pvio-netback: %s: '%s' is not a number in %lu..%lu\n", opt, s,
			min, max);
		return -1;
	}
	*out = (unsigned)v;
	return 0;
}

static void write_stats_file(void)
{
	char tmp[4096];
	FILE *f;

	if (!g_stats_file)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", g_stats_file);
	f = fopen(tmp, "w");
	if (!f)
		return;
	nb_stats_write(f);
	if (fclose(f) == 0)
		rename(tmp, g_stats_file);
}

/* SIGUSR1: statistics; SIGTERM/SIGINT: stop; SIGUSR2: leave (from main). */
static void *signal_thread(void *arg)
{
	sigset_t set;
	struct timespec ts = { .tv_sec = 1 };

	(void)arg;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	for (;;) {
		int sig = sigtimedwait(&set, NULL, &ts);
		uint64_t one = 1;

		if (sig == SIGUSR1) {
			/* To the statistics file if there is one (tests poll
			 * it), else to stderr. */
			if (g_stats_file)
				write_stats_file();
			else
				nb_stats_write(stderr);
		} else if (sig == SIGTERM || sig == SIGINT) {
			if (write(g_stop_efd, &one, sizeof(one)) < 0) {
				/* cannot fail */
			}
		} else if (sig == SIGUSR2) {
			break;
		} else {
			write_stats_file();
		}
		/* pvio top's view, at least every second. */
		nb_stats_publish();
	}
	return NULL;
}

/* The vdev's port name: its spec up to the first comma. */
static void vdev_name(const char *spec, char *name, size_t size)
{
	size_t n = strcspn(spec, ",");

	if (n >= size)
		n = size - 1;
	memcpy(name, spec, n);
	name[n] = '\0';
}

static void remove_runtime_dir(const char *dir)
{
	char path[4096];
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

int main(int argc, char **argv)
{
	enum { O_SOCKET = 256, O_UPLINK, O_VDEV, O_DEFBR, O_MAXQ, O_POLL, O_BPKTS, O_BBYTES,
	       O_DRAIN, O_AGE, O_MACN, O_MBUFS, O_NOSG, O_NOGSO, O_NOCSUM6, O_NOMCAST,
	       O_NOSPLIT, O_NOCTRL, O_STATS, O_STATSDIR, O_READY, O_VERBOSE, O_HELP, O_HV, O_WORKERS,
	       O_MAXPORTS, O_UPMTU, O_NOPERSIST };
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, O_SOCKET },
		{ "hv", required_argument, NULL, O_HV },
		{ "workers", required_argument, NULL, O_WORKERS },
		{ "uplink", required_argument, NULL, O_UPLINK },
		{ "vdev", required_argument, NULL, O_VDEV },
		{ "uplink-mtu", required_argument, NULL, O_UPMTU },
		{ "default-bridge", required_argument, NULL, O_DEFBR },
		{ "max-queues", required_argument, NULL, O_MAXQ },
		{ "max-ports", required_argument, NULL, O_MAXPORTS },
		{ "poll-us", required_argument, NULL, O_POLL },
		{ "backlog-pkts", required_argument, NULL, O_BPKTS },
		{ "backlog-bytes", required_argument, NULL, O_BBYTES },
		{ "rx-drain-ms", required_argument, NULL, O_DRAIN },
		{ "mac-age", required_argument, NULL, O_AGE },
		{ "mac-entries", required_argument, NULL, O_MACN },
		{ "mbufs", required_argument, NULL, O_MBUFS },
		{ "no-sg", no_argument, NULL, O_NOSG },
		{ "no-gso", no_argument, NULL, O_NOGSO },
		{ "no-ipv6-csum", no_argument, NULL, O_NOCSUM6 },
		{ "no-multicast", no_argument, NULL, O_NOMCAST },
		{ "no-split-evtchn", no_argument, NULL, O_NOSPLIT },
		{ "no-ctrl-ring", no_argument, NULL, O_NOCTRL },
		{ "no-persistent", no_argument, NULL, O_NOPERSIST },
		{ "stats-file", required_argument, NULL, O_STATS },
		{ "stats-dir", required_argument, NULL, O_STATSDIR },
		{ "ready-fd", required_argument, NULL, O_READY },
		{ "verbose", no_argument, NULL, O_VERBOSE },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	struct nb_cfg cfg = {
		.poll_us = NB_DEFAULT_POLL_US,
		.backlog_pkts = NB_DEFAULT_BACKLOG_PKTS,
		.backlog_bytes = NB_DEFAULT_BACKLOG_BYTES,
		.rx_drain_ms = NB_DEFAULT_RX_DRAIN_MS,
		.mac_age_s = NB_DEFAULT_MAC_AGE_S,
		.mac_entries = NB_DEFAULT_MAC_ENTRIES,
		.nb_mbufs = NB_DEFAULT_MBUFS,
		.feat_sg = true, .feat_gso = true, .feat_csum6 = true, .feat_mcast = true,
		.feat_split = true, .feat_ctrl = true, .feat_persistent = true,
	};
	struct pvio_backend_opts bo = { .ops = &nb_vif_ops, .domain_idle = domain_idle };
	struct nb_uplink_spec spec[MAX_UPLINKS];
	const char *vdevs[MAX_UPLINKS];
	struct nb_uplink_spec mtus[MAX_UPLINKS];   /* --uplink-mtu NAME=N */
	unsigned nmtu = 0;
	char *eal_argv[MAX_EAL_ARGS + 2 * MAX_UPLINKS + 8];
	char prefix[64], runtime_dir[4096] = "";
	const char *sock = NULL, *hv = NULL, *stats_dir = NULL;
	unsigned nspec = 0, nvdev = 0, v;
	int eal_argc = 0, user_eal = -1, c, r, rc = 1, ready_fd = -1;
	bool poll_given = false;
	bool auto_prefix = false;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	cpu_set_t cpus;
	sigset_t mask;

	cfg.max_queues = ncpu > 0 ? (unsigned)(ncpu > NB_MAX_QUEUES ? NB_MAX_QUEUES : ncpu) : 1;
	/* Half the CPUs poll for the guests, the other half run them. */
	cfg.workers = ncpu > 3 ? (unsigned)(ncpu / 2) : 1;
	if (cfg.workers > NB_MAX_WORKERS)
		cfg.workers = NB_MAX_WORKERS;
	/* Split our arguments from EAL's at "--". */
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0) {
			user_eal = i + 1;
			argc = i;
			break;
		}
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case O_SOCKET: sock = optarg; break;
		case O_UPLINK:
		case O_VDEV: {
			const char *eq = c == O_UPLINK ? strchr(optarg, '=') : NULL;
			const char *comma = strchr(optarg, ',');
			struct nb_uplink_spec *s;

			/* "=" inside the vdev's own arguments is not a bridge. */
			if (eq && comma && comma < eq)
				eq = NULL;
			if (nspec == MAX_UPLINKS) {
				fprintf(stderr, "pvio-netback: at most %d uplinks\n", MAX_UPLINKS);
				return 2;
			}
			s = &spec[nspec++];
			memset(s, 0, sizeof(*s));
			if (eq) {
				if ((size_t)(eq - optarg) >= sizeof(s->bridge) || eq == optarg) {
					fprintf(stderr, "pvio-netback: --uplink %s: bad bridge name\n",
						optarg);
					return 2;
				}
				memcpy(s->bridge, optarg, (size_t)(eq - optarg));
			}
			if (strncmp(eq ? eq + 1 : optarg, "pvio_gen", 8) == 0) {
				/* Ours, not a DPDK vdev: no EAL argument. */
				char err[160];

				if (nb_gen_parse(eq ? eq + 1 : optarg, s, err, sizeof(err)) < 0) {
					fprintf(stderr, "pvio-netback: --uplink %s: %s\n", optarg,
						err);
					return 2;
				}
				break;
			}
			vdevs[nvdev++] = eq ? eq + 1 : optarg;
			vdev_name(vdevs[nvdev - 1], s->name, sizeof(s->name));
			break;
		}
		case O_UPMTU: {
			const char *eq = strchr(optarg, '=');

			if (!eq) {
				if (parse_uint("--uplink-mtu", optarg, 68, 65535, &cfg.uplink_mtu))
					return 2;
				break;
			}
			if (nmtu == MAX_UPLINKS) {
				fprintf(stderr, "pvio-netback: at most %d --uplink-mtu NAME=N\n",
					MAX_UPLINKS);
				return 2;
			}
			if (eq == optarg || (size_t)(eq - optarg) >= sizeof(mtus[0].name)) {
				fprintf(stderr, "pvio-netback: --uplink-mtu %s: bad port name\n",
					optarg);
				return 2;
			}
			memset(&mtus[nmtu], 0, sizeof(mtus[nmtu]));
			memcpy(mtus[nmtu].name, optarg, (size_t)(eq - optarg));
			if (parse_uint("--uplink-mtu", eq + 1, 68, 65535, &mtus[nmtu].mtu))
				return 2;
			nmtu++;
			break;
		}
		case O_DEFBR:
			if (!optarg[0] || strlen(optarg) >= NB_BRIDGE_NAME_MAX) {
				fprintf(stderr, "pvio-netback: --default-bridge: 1..%d characters\n",
					NB_BRIDGE_NAME_MAX - 1);
				return 2;
			}
			nb_default_bridge = optarg;
			break;
		case O_MAXPORTS:
			if (parse_uint("--max-ports", optarg, 2, NB_PORTS_LIMIT, &cfg.max_ports))
				return 2;
			break;
		case O_MAXQ:
			if (parse_uint("--max-queues", optarg, 1, NB_MAX_QUEUES, &cfg.max_queues))
				return 2;
			break;
		case O_POLL:
			if (parse_uint("--poll-us", optarg, 0, 1000000, &cfg.poll_us))
				return 2;
			poll_given = true;
			break;
		case O_BPKTS:
			if (parse_uint("--backlog-pkts", optarg, 2, 1u << 20, &v))
				return 2;
			cfg.backlog_pkts = 1;
			while (cfg.backlog_pkts < v)
				cfg.backlog_pkts <<= 1;
			break;
		case O_BBYTES:
			if (parse_uint("--backlog-bytes", optarg, 65536, 1u << 30, &cfg.backlog_bytes))
				return 2;
			break;
		case O_DRAIN:
			if (parse_uint("--rx-drain-ms", optarg, 1, 3600000, &cfg.rx_drain_ms))
				return 2;
			break;
		case O_AGE:
			if (parse_uint("--mac-age", optarg, 1, 86400, &cfg.mac_age_s))
				return 2;
			break;
		case O_MACN:
			if (parse_uint("--mac-entries", optarg, 8, 1u << 24, &cfg.mac_entries))
				return 2;
			break;
		case O_MBUFS:
			if (parse_uint("--mbufs", optarg, 1024, 1u << 22, &cfg.nb_mbufs))
				return 2;
			break;
		case O_NOSG: cfg.feat_sg = false; break;
		case O_NOGSO: cfg.feat_gso = false; break;
		case O_NOCSUM6: cfg.feat_csum6 = false; break;
		case O_NOMCAST: cfg.feat_mcast = false; break;
		case O_NOSPLIT: cfg.feat_split = false; break;
		case O_NOCTRL: cfg.feat_ctrl = false; break;
		case O_NOPERSIST: cfg.feat_persistent = false; break;
		case O_STATS: g_stats_file = optarg; break;
		case O_STATSDIR: stats_dir = optarg; break;
		case O_READY:
			if (parse_uint("--ready-fd", optarg, 0, 1u << 20, &v))
				return 2;
			ready_fd = (int)v;
			break;
		case O_WORKERS:
			if (parse_uint("--workers", optarg, 1, NB_MAX_WORKERS, &cfg.workers))
				return 2;
			break;
		case O_HV:
			if (strcmp(optarg, "xen") && strcmp(optarg, "socket")) {
				fprintf(stderr, "pvio-netback: --hv: unknown '%s' (socket, xen)\n",
					optarg);
				return 2;
			}
			hv = optarg;
			break;
		case O_VERBOSE: cfg.verbose = bo.verbose = true; break;
		case O_HELP: case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "pvio-netback: unexpected argument '%s' (EAL arguments go after "
			"\"--\")\n", argv[optind]);
		return 2;
	}
	cfg.poll_us = pvio_backend_poll_us("pvio-netback", cfg.poll_us, poll_given);
	for (unsigned i = 0; i < nspec; i++)
		if (!spec[i].bridge[0])
			snprintf(spec[i].bridge, sizeof(spec[i].bridge), "%s", nb_default_bridge);
	for (unsigned i = 0; i < nmtu; i++) {
		bool found = false;

		for (unsigned k = 0; k < nspec; k++)
			if (strcmp(spec[k].name, mtus[i].name) == 0) {
				spec[k].mtu = mtus[i].mtu;
				found = true;
			}
		if (!found) {
			fprintf(stderr, "pvio-netback: --uplink-mtu %s=%u: no --uplink names port "
				"'%s' (NAME is the vdev's first part, e.g. net_tap0)\n",
				mtus[i].name, mtus[i].mtu, mtus[i].name);
			return 2;
		}
	}

	/* EAL's command line. */
	eal_argv[eal_argc++] = argv[0];
	if (user_eal > 0) {
		/* argc was cut at "--": the EAL arguments follow it. */
		for (int i = user_eal; argv[i]; i++) {
			if (eal_argc >= MAX_EAL_ARGS) {
				fprintf(stderr, "pvio-netback: too many EAL arguments\n");
				return 2;
			}
			eal_argv[eal_argc++] = argv[i];
		}
	}
	if (eal_argc == 1) {
		snprintf(prefix, sizeof(prefix), "--file-prefix=pvio-netback-%d", (int)getpid());
		eal_argv[eal_argc++] = "--no-huge";
		eal_argv[eal_argc++] = "-m";
		eal_argv[eal_argc++] = "1024";
		eal_argv[eal_argc++] = "--no-pci";
		eal_argv[eal_argc++] = prefix;
		eal_argv[eal_argc++] = "--no-telemetry";
		auto_prefix = true;
	}
	for (unsigned i = 0; i < nvdev; i++) {
		bool given = false;
		char name[NB_NAME_MAX], mine[NB_NAME_MAX];

		/* --uplink BR=NAME naming a port the EAL arguments create. */
		for (int k = 1; k < eal_argc; k++) {
			const char *a = NULL;

			if (strcmp(eal_argv[k], "--vdev") == 0 && k + 1 < eal_argc)
				a = eal_argv[k + 1];
			else if (strncmp(eal_argv[k], "--vdev=", 7) == 0)
				a = eal_argv[k] + 7;
			if (a) {
				vdev_name(a, name, sizeof(name));
				vdev_name(vdevs[i], mine, sizeof(mine));
				given |= strcmp(name, mine) == 0;
			}
		}
		if (!given) {
			eal_argv[eal_argc++] = "--vdev";
			eal_argv[eal_argc++] = (char *)vdevs[i];
		}
	}
	eal_argv[eal_argc] = NULL;

	/* Signals are taken by one thread (below); block them everywhere,
	 * EAL's threads included. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* Each guest costs fds (its memory, ports, engines): as many as we
	 * may have. */
	pvio_hv_raise_nofile("pvio-netback", PVIO_HV_NOFILE_WANT, 10);
	if (pvio_hv_open_backend("pvio-netback", hv, sock, &g_hv) < 0)
		return 1;

	sched_getaffinity(0, sizeof(cpus), &cpus);
	r = rte_eal_init(eal_argc, eal_argv);
	if (r < 0) {
		fprintf(stderr, "pvio-netback: EAL initialisation failed: %s\n",
			rte_strerror(rte_errno));
		goto out_hv;
	}
	snprintf(runtime_dir, sizeof(runtime_dir), "%s", rte_eal_get_runtime_dir());
	/* EAL pinned this thread to its main lcore; our pollers are created
	 * from it and must be free to run anywhere. */
	sched_setaffinity(0, sizeof(cpus), &cpus);

	{
		/* Before the workers: they add their records when they start. */
		struct pvio_stats_opts so = {
			.dir = stats_dir, .sock = sock, .prog = "pvio-netback",
			.type = PVIO_STATS_VIF, .max_queues = NB_MAX_QUEUES,
			.caps = PVIO_STATS_CAP_VIF_IO,
		};

		r = pvio_stats_open(&so, &g_stats);
		if (r < 0)
			fprintf(stderr, "pvio-netback: no statistics for pvio top: %s\n",
				strerror(-r));
		pvio_stats_set_process(g_stats);
	}
	if (nb_switch_init(&cfg) < 0)
		goto out_eal;
	if (nb_bridge_get(nb_default_bridge) < 0) {
		fprintf(stderr, "pvio-netback: bad bridge name '%s'\n", nb_default_bridge);
		goto out_switch;
	}
	r = nb_uplinks_start(spec, nspec);
	if (r < 0)
		goto out_uplinks;
	fprintf(stderr, "pvio-netback: serving vifs (%u uplink(s), %u mbufs, max %u queues, "
		"%u worker(s))\n", nb_sw.nr_uplinks, nb_sw.pool_size, cfg.max_queues,
		cfg.workers);

	g_stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (g_stop_efd < 0 || pthread_create(&g_sig_thr, NULL, signal_thread, NULL) != 0)
		goto out_uplinks;
	bo.stop_fd = g_stop_efd;
	bo.ctx = &nb_sw.cfg;
	bo.stats = g_stats;
	write_stats_file();
	if (ready_fd >= 0)
		bo.ready_fd = &ready_fd;
	r = pvio_backend_run(g_hv, &bo);
	if (r < 0)
		fprintf(stderr, "pvio-netback: %s\n", strerror(-r));
	else
		rc = 0;
	pthread_kill(g_sig_thr, SIGUSR2);
	pthread_join(g_sig_thr, NULL);
	fprintf(stderr, "pvio-netback: statistics at exit:\n");
	nb_stats_write(stderr);
	write_stats_file();
out_uplinks:
	nb_uplinks_stop();
	if (nb_sw.pool && rte_mempool_in_use_count(nb_sw.pool) != 0) {
		fprintf(stderr, "pvio-netback: %u mbufs still in use at exit\n",
			rte_mempool_in_use_count(nb_sw.pool));
		rc = 1;
	}
out_switch:
	nb_switch_fini();
out_eal:
	/* After nb_switch_fini(): the workers removed their records. */
	pvio_stats_set_process(NULL);
	pvio_stats_close(g_stats);
	g_stats = NULL;
	rte_eal_cleanup();
	if (auto_prefix && runtime_dir[0])
		remove_runtime_dir(runtime_dir);
out_hv:
	pvio_hv_close(g_hv);
	if (g_stop_efd >= 0)
		close(g_stop_efd);
	return rc;
}
