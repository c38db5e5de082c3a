/* SPDX-License-Identifier: MIT */
/*
 * pvio-bench net: the PV network path against DPDK's own virtual NICs, on
 * the machine's 2 CPUs, in one invocation, interleaved (pvio, vhost-user,
 * memif, pvio, ...); medians reported.
 *
 *   tx   pvio: pvio-netio send (guest, CPU 0) -> pvio-netback (CPU 1) ->
 *              a net_null uplink (no-rx=1); counted at the uplink
 *              (pvio-netback's stats, SIGUSR1 snapshots)
 *        vhost-user: dpdk-testpmd virtio-user txonly (CPU 0) -> vhost-user
 *              rxonly (CPU 1); memif: client txonly -> server rxonly
 *   rx   pvio: pvio-netback generates (a pvio_gen uplink: each frame's
 *              header written into a fresh mbuf, the payload only where the
 *              mbuf lacks it, as testpmd's txonly builds frames; --rx-gen
 *              pcap: a net_pcap uplink replaying a file of 64 frames
 *              without end, which copies every frame whole) -> its switch
 *              -> the guest's rx ring (CPU 1) -> pvio-netio recv (guest,
 *              CPU 0): the backend generates, as vhost-user's does. A
 *              pvio side of its own (pviod, pvio-netback, one guest) is
 *              started for each run, so nothing spins in the other cases.
 *        vhost-user: vhost txonly -> virtio-user rxonly; memif: server
 *              txonly -> client rxonly
 *   rx-peer  pvio only: dpdk-testpmd memif client txonly (CPU 0, shared
 *              with the guest) -> pvio-netback's memif uplink (CPU 1) ->
 *              pvio-netio recv (guest, CPU 0): traffic from another DPDK
 *              process; three processes on two CPUs (baseline_value is
 *              the vhost-user rx figure for reference)
 *   g2g  pvio: pvio-netio send (guest A, CPU 0) -> pvio-netback's switch
 *              (CPU 1) -> pvio-netio recv (guest B, CPU 0)
 *        vhost-user: the same three processes on the same CPUs, DPDK's
 *              way: dpdk-testpmd virtio-user txonly (CPU 0) -> a testpmd
 *              switch with two vhost-user ports, io forwarding, ports
 *              paired 0<->1 (CPU 1) -> testpmd virtio-user rxonly (CPU 0)
 *
 * at 64 and 1500-byte frames (L2, no FCS), one queue. Rates come from the
 * receiving end: pvio-netio recv's window, pvio-netback's uplink counters,
 * or testpmd's port counters through its telemetry socket
 * (/var/run/dpdk/<prefix>/dpdk_telemetry.v2, /ethdev/stats,0). CPU per
 * packet is the CPU time of every process of the pipeline over the
 * measured window divided by the frames received. Every process is started
 * here, pinned, and killed by PID; DPDK runtime folders are removed.
 *
 *   tcp-1stream, tcp-4streams: a kernel workload. Two network namespaces
 *        made here (pvio-bench-a/b-PID), 10.9.0.1 and 10.9.0.2 on pv0 in
 *        each; iperf3 TCP, server in b, client in a (-P 1 or 4, -J);
 *        pvio: each namespace's pv0 is the TAP of a pvio-netfront-tap
 *              (guests gt1, gt2 on one pvio-netback bridge, a pvio side
 *              of its own per run); veth: pv0 is one end of a veth pair.
 *        Nothing pinned (the scheduler places the iperf3s, and for pvio
 *        the two bridges and pvio-netback). Gbit/s at the receiver; the
 *        ratio is taken per interleaved pair (pvio run, veth run) and
 *        reported as median and range. Needs root, /dev/net/tun, ip(8),
 *        iperf3 and network namespaces: skipped, with the reason, without.
 *        The namespaces (and the veth with them) are deleted at the end.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench_common.h"

#define MAX_PIDS 16

enum impl { I_PVIO, I_VHOST, I_MEMIF, NR_IMPL };
enum dir { D_TX, D_RX, D_RXPEER, D_G2G, NR_DIR };
static const char *impl_name[NR_IMPL] = { "pvio", "dpdk-vhost-user", "dpdk-memif" };
static const char *dir_name[NR_DIR] = { "tx", "rx", "rx-peer", "g2g" };
/* The DPDK figure a pvio-only case is shown against. */
static const unsigned base_dir[NR_DIR] = { D_TX, D_RX, D_RX, D_G2G };

/* Cases without a DPDK peer of their own (only rx-peer now). */
static bool pvio_only(unsigned d)
{
	return d == D_RXPEER;
}

/* Is implementation im measured in direction d? (g2g: pvio and the
 * vhost-user switch; no memif switch.) */
static bool has_impl(unsigned d, unsigned im)
{
	if (im == I_PVIO)
		return true;
	if (pvio_only(d))
		return false;
	return !(d == D_G2G && im == I_MEMIF);
}

/* The kernel TCP cases: iperf3 with 1 and 4 streams, pvio vs veth. */
/* tap-fwd: the floor of any user-space backend behind TAPs -- the same
 * namespaces, each with a TAP (vnet header, TSO and checksum offload, as
 * pvio-netfront-tap makes it), joined by one process that reads a frame
 * from one TAP and writes it to the other, nothing else. */
enum timpl { T_PVIO, T_VETH, T_TAPFWD, NR_TIMPL };
static const char *timpl_name[NR_TIMPL] = { "pvio", "veth", "tap-fwd" };
static const int tcp_streams[] = { 1, 4 };
static const char *tcp_case[] = { "tcp-1stream", "tcp-4streams" };
#define NR_TCP 2

struct tres {
	double gbps, retrans, cpu_local, cpu_remote;   /* iperf3's figures */
	bool ok;
};
static const unsigned sizes[] = { 64, 1500 };
#define NR_SIZES 2

struct res {
	double mpps, gbps, cpu_ns_pkt, cpu_util;   /* cpu_util: CPUs busy, all procs */
	bool ok;
};

struct env {
	char dir[256], sock[320], xs[320], memif[320], stats[320];
	char build[512], pvio[600], netio[600], tap[600];
	const char *testpmd;
	pid_t pviod, netback;
	double warm, secs;
	int seq;                   /* for unique DPDK prefixes */
	const char *nb_poll_us;    /* pvio-netback --poll-us, NULL: its default */
	bool rx_pcap;              /* --rx-gen pcap: net_pcap generates the rx case */
	const char *only;          /* --case NAME: run only that case ("rx-64B") */
	int only_impl;             /* --impl NAME: only that implementation, or -1 */
	const char *only_name;     /* --impl NAME as given (tcp: pvio or veth) */
	/* kernel TCP cases */
	const char *ip, *iperf3;   /* paths */
	char ns[2][48];            /* the namespaces we made ("" once deleted) */
};

static pid_t g_pids[MAX_PIDS];  /* everything we started and not yet reaped */
static volatile sig_atomic_t g_sig;  /* SIGINT/SIGTERM/SIGHUP seen: stop early */

static void track(pid_t p)
{
	for (int i = 0; i < MAX_PIDS; i++)
		if (g_pids[i] <= 0) {
			g_pids[i] = p;
			return;
		}
}

static void untrack(pid_t p)
{
	for (int i = 0; i < MAX_PIDS; i++)
		if (g_pids[i] == p)
			g_pids[i] = 0;
}

/* Stop pid: SIGTERM (or sig), up to 5 s, then SIGKILL; reap. */
static void stop_pid(pid_t p, int sig)
{
	uint64_t t0 = bench_now_ns();

	if (p <= 0)
		return;
	kill(p, sig);
	while (waitpid(p, NULL, WNOHANG) == 0) {
		if (bench_now_ns() - t0 > 5000000000ull) {
			kill(p, SIGKILL);
			waitpid(p, NULL, 0);
			break;
		}
		usleep(10000);
	}
	untrack(p);
}

static void kill_all(void)
{
	for (int i = MAX_PIDS - 1; i >= 0; i--)
		if (g_pids[i] > 0)
			stop_pid(g_pids[i], SIGTERM);
}

/* fork + pin + exec. stdin_fd/stdout_fd/ready_wfd: -1 for /dev/null / none. */
static pid_t spawn(char *const argv[], int cpu, int stdin_fd, int stdout_fd, const char *errlog)
{
	pid_t pid = fork();

	if (pid == 0) {
		int nul = open("/dev/null", O_RDWR);

		if (cpu >= 0)
			bench_pin_self(cpu);
		dup2(stdin_fd >= 0 ? stdin_fd : nul, 0);
		dup2(stdout_fd >= 0 ? stdout_fd : nul, 1);
		if (errlog) {
			int e = open(errlog, O_WRONLY | O_CREAT | O_APPEND, 0644);
			dup2(e >= 0 ? e : nul, 2);
		} else
			dup2(nul, 2);
		setpgid(0, 0);
		execv(argv[0], argv);
		_exit(127);
	}
	if (pid > 0)
		track(pid);
	return pid;
}

static int run_quiet(char *const argv[])
{
	int st;
	pid_t p = spawn(argv, -1, -1, -1, NULL);

	if (p < 0 || waitpid(p, &st, 0) < 0)
		return -1;
	untrack(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Read up to len-1 bytes from fd until EOF or timeout_ms; returns bytes. */
static size_t read_all(int fd, char *buf, size_t len)
{
	size_t n = 0;

	while (n + 1 < len) {
		ssize_t r = read(fd, buf + n, len - n - 1);

		if (r <= 0)
			break;
		n += (size_t)r;
	}
	buf[n] = 0;
	return n;
}

static double jnum(const char *s, const char *key)
{
	char pat[80];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(s, pat);
	return p ? strtod(p + strlen(pat), NULL) : -1;
}

static void sleep_s(double s)
{
	struct timespec ts = { .tv_sec = (time_t)s, .tv_nsec = (long)((s - (time_t)s) * 1e9) };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* --------------------------------------------------- pvio-netback stats */

/* Snapshot pvio-netback's counters: SIGUSR1, then wait for the stats file's
 * seq to move. Returns the value of `key` (e.g. uplink.net_null0.tx_pkts). */
static int nb_snapshot(struct env *e, const char *k1, double *v1, const char *k2, double *v2)
{
	static long long last_seq;
	char buf[16384], line[256];
	uint64_t t0 = bench_now_ns();

	kill(e->netback, SIGUSR1);
	while (bench_now_ns() - t0 < 2000000000ull) {
		FILE *f = fopen(e->stats, "r");
		long long seq = -1;

		*v1 = *v2 = -1;
		if (f) {
			size_t n = fread(buf, 1, sizeof(buf) - 1, f);

			buf[n] = 0;
			fclose(f);
			sscanf(buf, "seq %lld", &seq);
			if (seq > last_seq) {
				char *p = buf, *nl;

				last_seq = seq;
				for (; (nl = strchr(p, '\n')); p = nl + 1) {
					size_t l = (size_t)(nl - p);
					char key[200];
					double v;

					if (l >= sizeof(line))
						continue;
					memcpy(line, p, l);
					line[l] = 0;
					if (sscanf(line, "%199s %lf", key, &v) != 2)
						continue;
					if (!strcmp(key, k1))
						*v1 = v;
					if (!strcmp(key, k2))
						*v2 = v;
				}
				return *v1 >= 0 ? 0 : -1;
			}
		}
		usleep(2000);
	}
	return -1;
}

/* ------------------------------------------------------- DPDK telemetry */

static int tel_connect(const char *prefix, double timeout_s)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint64_t t0 = bench_now_ns();
	char buf[4096];

	snprintf(sa.sun_path, sizeof(sa.sun_path), "/var/run/dpdk/%s/dpdk_telemetry.v2", prefix);
	while ((double)(bench_now_ns() - t0) / 1e9 < timeout_s) {
		int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

		/* A testpmd that accepts and never answers (its control
		 * thread starved by the lcore on the same CPU) must not hang
		 * the bench: every read on the socket gives up after 5 s. */
		struct timeval tv = { .tv_sec = 5 };

		if (fd < 0)
			return -1;
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			if (read(fd, buf, sizeof(buf)) > 0)   /* the greeting */
				return fd;
		}
		close(fd);
		usleep(50000);
	}
	return -1;
}

static int tel_stats(int fd, double *ipk, double *ib)
{
	char buf[8192];
	ssize_t n;

	if (write(fd, "/ethdev/stats,0", 15) != 15)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	*ipk = jnum(buf, "ipackets");
	*ib = jnum(buf, "ibytes");
	return *ipk >= 0 ? 0 : -1;
}

/* testpmd: one vdev, pinned to one CPU (both lcores), stdin a pipe (closing
 * it makes testpmd exit cleanly). */
struct pmd {
	pid_t pid;
	int in;                 /* write end of its stdin */
	char prefix[64];
};

static int pmd_start(struct env *e, struct pmd *p, int cpu, const char *vdev, const char *vdev2,
		     const char *mode, unsigned size, const char *peer)
{
	char lc[32], pf[96], txp[32], fm[48], ep[64], log[400];
	int pp[2];

	snprintf(p->prefix, sizeof(p->prefix), "pvio-bench-net-%d-%d", (int)getpid(), e->seq++);
	snprintf(lc, sizeof(lc), "0@%d,1@%d", cpu, cpu);
	snprintf(pf, sizeof(pf), "--file-prefix=%s", p->prefix);
	snprintf(txp, sizeof(txp), "--txpkts=%u", size);
	snprintf(fm, sizeof(fm), "--forward-mode=%s", mode);
	snprintf(ep, sizeof(ep), "--eth-peer=0,%s", peer ? peer : "02:00:00:00:00:01");
	snprintf(log, sizeof(log), "%s/testpmd.log", e->dir);
	char *av[20] = { (char *)e->testpmd, "--lcores", lc, "--no-huge", "-m", "1024", "--no-pci",
			 pf, "--vdev", (char *)vdev };
	int k = 10;

	if (vdev2) {
		av[k++] = "--vdev";
		av[k++] = (char *)vdev2;
	}
	av[k++] = "--";
	if (vdev2)
		av[k++] = "--port-topology=paired";   /* forwards 0->1 and 1->0 */
	av[k++] = fm;
	av[k++] = "--nb-cores=1";
	av[k++] = txp;
	av[k++] = ep;
	av[k] = NULL;
	if (pipe2(pp, O_CLOEXEC) < 0)
		return -1;
	p->pid = spawn(av, -1, pp[0], -1, log);
	close(pp[0]);
	p->in = pp[1];
	return p->pid > 0 ? 0 : -1;
}

static void pmd_stop(struct pmd *p)
{
	char cmd[200];

	if (p->pid <= 0)
		return;
	close(p->in);            /* "Press enter to exit": EOF does it */
	stop_pid(p->pid, SIGCONT);
	p->pid = 0;
	snprintf(cmd, sizeof(cmd), "rm -rf '/var/run/dpdk/%s'", p->prefix);
	if (system(cmd) != 0)
		fprintf(stderr, "bench net: could not remove /var/run/dpdk/%s\n", p->prefix);
}

/* ------------------------------------------------------------ CPU */

struct cpus {
	pid_t pid[4];
	int n;
	uint64_t c[4];
	uint64_t t;
};

static void cpus_take(struct cpus *s)
{
	s->t = bench_now_ns();
	for (int i = 0; i < s->n; i++)
		s->c[i] = bench_proc_cpu_ns(s->pid[i]);
}

static double cpus_delta(const struct cpus *a, const struct cpus *b)
{
	double d = 0;

	for (int i = 0; i < a->n; i++)
		d += (double)(b->c[i] - a->c[i]);
	return d;   /* ns */
}

/* ------------------------------------------------------------ DPDK pairs */

/* Wait for a socket file (vhost-user creates it when it is ready). */
static void wait_sock(const char *path)
{
	for (int i = 0; i < 200 && access(path, F_OK) != 0 && !g_sig; i++)
		usleep(25000);
}

/* tx/rx: a pair of testpmds, server on CPU 1, client on CPU 0. g2g: three,
 * as pvio's g2g: the switch (two vhost-user ports, io forwarding, ports
 * paired) on CPU 1, the receiving and the sending virtio-user guests on
 * CPU 0. Rates at the receiver's port counters (telemetry). */
static int dpdk_run(struct env *e, enum impl im, enum dir d, unsigned size, struct res *out)
{
	struct pmd srv = { 0 }, cli = { 0 }, sw = { 0 };
	char vs[400], vc[400], vs2[400], sock[340], sock2[340] = "";
	const char *rx_prefix;
	int tfd = -1, r = -1;
	double p0, b0, p1, b1;
	struct cpus c0, c1;

	memset(out, 0, sizeof(*out));
	if (d == D_G2G) {
		if (im != I_VHOST)
			return -1;
		/* sock: port 0, the sender's; sock2: port 1, the receiver's */
		snprintf(sock, sizeof(sock), "%s/vhost-%d-a.sock", e->dir, e->seq);
		snprintf(sock2, sizeof(sock2), "%s/vhost-%d-b.sock", e->dir, e->seq);
		snprintf(vs, sizeof(vs), "net_vhost0,iface=%s,queues=1", sock);
		snprintf(vs2, sizeof(vs2), "net_vhost1,iface=%s,queues=1", sock2);
		if (pmd_start(e, &sw, 1, vs, vs2, "io", size, NULL) < 0)
			goto out;
		wait_sock(sock);
		wait_sock(sock2);
		/* The receiver, then the sender (they start up side by side;
		 * the window opens once frames reach the receiver, after the
		 * warm-up). */
		snprintf(vc, sizeof(vc), "net_virtio_user0,path=%s,queues=1", sock2);
		if (pmd_start(e, &srv, 0, vc, NULL, "rxonly", size, NULL) < 0)
			goto out;
		snprintf(vc, sizeof(vc), "net_virtio_user0,path=%s,queues=1", sock);
		if (pmd_start(e, &cli, 0, vc, NULL, "txonly", size, NULL) < 0)
			goto out;
		rx_prefix = srv.prefix;
	} else {
		if (im == I_VHOST) {
			snprintf(sock, sizeof(sock), "%s/vhost-%d.sock", e->dir, e->seq);
			snprintf(vs, sizeof(vs), "net_vhost0,iface=%s,queues=1", sock);
			snprintf(vc, sizeof(vc), "net_virtio_user0,path=%s,queues=1", sock);
		} else {
			snprintf(sock, sizeof(sock), "%s/memif-%d.sock", e->dir, e->seq);
			snprintf(vs, sizeof(vs),
				 "net_memif0,role=server,socket=%s,socket-abstract=no", sock);
			snprintf(vc, sizeof(vc),
				 "net_memif0,role=client,socket=%s,socket-abstract=no", sock);
		}
		/* Server on CPU 1, client on CPU 0 (DPDK-NOTES §3); tx: the client
		 * sends, the server receives; rx the other way. */
		if (pmd_start(e, &srv, 1, vs, NULL, d == D_TX ? "rxonly" : "txonly", size,
			      NULL) < 0)
			goto out;
		/* vhost must have created its socket before virtio-user connects */
		wait_sock(sock);
		if (pmd_start(e, &cli, 0, vc, NULL, d == D_TX ? "txonly" : "rxonly", size,
			      NULL) < 0)
			goto out;
		rx_prefix = d == D_TX ? srv.prefix : cli.prefix;
	}
	tfd = tel_connect(rx_prefix, 20);
	if (tfd < 0) {
		fprintf(stderr, "bench net: no telemetry from testpmd (see %s/testpmd.log)\n",
			e->dir);
		goto out;
	}
	/* Wait for traffic, then warm-up, then the window. */
	{
		uint64_t t0 = bench_now_ns();

		while (tel_stats(tfd, &p0, &b0) == 0 && p0 <= 0 && !g_sig &&
		       bench_now_ns() - t0 < 20000000000ull)
			usleep(20000);
		if (p0 <= 0) {
			fprintf(stderr, "bench net: %s %s: no traffic\n", impl_name[im], dir_name[d]);
			goto out;
		}
	}
	sleep_s(e->warm);
	c0.n = 2;
	c0.pid[0] = srv.pid;
	c0.pid[1] = cli.pid;
	if (sw.pid > 0)
		c0.pid[c0.n++] = sw.pid;
	c1 = c0;
	if (tel_stats(tfd, &p0, &b0) < 0)
		goto out;
	cpus_take(&c0);
	sleep_s(e->secs);
	if (tel_stats(tfd, &p1, &b1) < 0)
		goto out;
	cpus_take(&c1);
	{
		double dt = (double)(c1.t - c0.t) / 1e9, pk = p1 - p0, cpu = cpus_delta(&c0, &c1);

		out->mpps = pk / dt / 1e6;
		out->gbps = (b1 - b0) * 8 / dt / 1e9;
		out->cpu_ns_pkt = pk > 0 ? cpu / pk : 0;
		out->cpu_util = cpu / 1e9 / dt;
		out->ok = pk > 0;
		r = out->ok ? 0 : -1;
	}
out:
	if (tfd >= 0)
		close(tfd);
	pmd_stop(&cli);
	pmd_stop(&srv);
	pmd_stop(&sw);
	unlink(sock);
	if (sock2[0])
		unlink(sock2);
	return r;
}

/* ------------------------------------------------------------ pvio */

#define MAC_TX  "00:16:3e:00:00:10"
#define MAC_RX  "00:16:3e:00:00:20"
#define MAC_GA  "00:16:3e:00:00:31"
#define MAC_GB  "00:16:3e:00:00:32"
#define MAC_T1  "00:16:3e:00:00:41"
#define MAC_T2  "00:16:3e:00:00:42"

static int wait_ready(int rfd, double timeout_s)
{
	char b[8];
	int r;

	(void)timeout_s;
	r = (int)read(rfd, b, sizeof(b));
	close(rfd);
	return r > 0 ? 0 : -1;
}

/* Start `pvio run --domain dom -- PROG ARGS` on cpu (-1: not pinned),
 * stdout to a pipe (*outfd); with ready, wait for its --ready-fd. PROG is
 * pvio-netio or pvio-netfront-tap (logs in netio.log / tap.log). */
static pid_t guest_start(struct env *e, const char *dom, int cpu, const char *prog, char **args,
			 int nargs, bool ready, int *outfd)
{
	char *av[40], rfd[16], log[400];
	int op[2], rp[2] = { -1, -1 }, k = 0;
	pid_t p;

	if (pipe2(op, O_CLOEXEC) < 0)
		return -1;
	if (ready && pipe(rp) < 0)
		return -1;
	snprintf(log, sizeof(log), "%s/%s.log", e->dir, prog == e->netio ? "netio" : "tap");
	av[k++] = e->pvio;
	av[k++] = "run";
	av[k++] = "--domain";
	av[k++] = (char *)dom;
	av[k++] = "--";
	av[k++] = (char *)prog;
	for (int i = 0; i < nargs && k < 34; i++)
		av[k++] = args[i];
	if (ready) {
		snprintf(rfd, sizeof(rfd), "%d", rp[1]);
		av[k++] = "--ready-fd";
		av[k++] = rfd;
	}
	av[k] = NULL;
	p = spawn(av, cpu, -1, op[1], log);
	close(op[1]);
	*outfd = op[0];
	if (ready) {
		close(rp[1]);
		if (p < 0 || wait_ready(rp[0], 30) < 0) {
			fprintf(stderr, "bench net: %s on %s did not start (see %s)\n",
				strrchr(prog, '/') ? strrchr(prog, '/') + 1 : prog, dom, log);
			if (p > 0)
				stop_pid(p, SIGKILL);
			close(op[0]);
			return -1;
		}
	}
	return p;
}

static pid_t netio_start(struct env *e, const char *dom, int cpu, char **args, int nargs,
			 bool ready, int *outfd)
{
	return guest_start(e, dom, cpu, e->netio, args, nargs, ready, outfd);
}

/* Wait for a receiver (pvio-netio recv) to exit while sampling the CPU of
 * the pipeline every 20 ms; window CPU = cpu(end) - cpu(end - S). */
#define NSAMP 4096
static int recv_wait(struct env *e, pid_t rp, int rfd, struct cpus *tmpl, struct res *out,
		     char *json, size_t jl)
{
	static struct cpus s[NSAMP];
	int n = 0, st = -1;

	for (;;) {
		pid_t w = waitpid(rp, &st, WNOHANG);

		if (w == rp)
			break;
		s[n % NSAMP] = *tmpl;
		cpus_take(&s[n % NSAMP]);
		n++;
		usleep(20000);
	}
	untrack(rp);
	read_all(rfd, json, jl);
	close(rfd);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || n == 0) {
		fprintf(stderr, "bench net: pvio-netio recv failed: %s\n", json);
		return -1;
	}
	double secs = jnum(json, "seconds"), frames = jnum(json, "frames");
	double bytes = jnum(json, "bytes");
	const struct cpus *last = &s[(n - 1) % NSAMP], *first = last;
	for (int i = n - 1; i >= 0 && i > n - NSAMP; i--) {
		first = &s[i % NSAMP];
		if ((double)(last->t - first->t) / 1e9 >= secs)
			break;
	}
	double dt = (double)(last->t - first->t) / 1e9;
	double cpu = cpus_delta(first, last);
	out->mpps = secs > 0 ? frames / secs / 1e6 : 0;
	out->gbps = secs > 0 ? bytes * 8 / secs / 1e9 : 0;
	/* pipeline CPU per frame, at the receiver's rate over the sampled window */
	out->cpu_util = dt > 0 ? cpu / 1e9 / dt : 0;
	out->cpu_ns_pkt = out->mpps > 0 ? out->cpu_util / (out->mpps * 1e6) * 1e9 : 0;
	out->ok = frames > 0;
	(void)e;
	return out->ok ? 0 : -1;
}

static int write_pcap(const char *path, unsigned size);
/* The pvio sides: the main one (4 guests, uplinks), the generating one of
 * the rx case (a net_pcap uplink), the TCP one (two guests on one bridge, no
 * uplink, nothing pinned). */
enum pv_mode { PV_MAIN, PV_GEN, PV_TCP };
static int pv_start(struct env *e, enum pv_mode m, const char *gen_pcap, unsigned gen_size);
static void pv_stop(struct env *e);

static int pvio_run(struct env *e, enum dir d, unsigned size, struct res *out)
{
	char sz[16], wsec[32], ssec[32], tsec[32], json[2048];
	int ofd = -1, sfd = -1, r = -1;
	pid_t rp = -1, sp = -1;
	struct cpus tmpl = { .n = 0 };
	struct pmd gen = { 0 };

	memset(out, 0, sizeof(*out));
	snprintf(sz, sizeof(sz), "%u", size);
	snprintf(wsec, sizeof(wsec), "%.2f", e->warm);
	snprintf(ssec, sizeof(ssec), "%.2f", e->secs);
	snprintf(tsec, sizeof(tsec), "%.2f", e->warm + e->secs + 20);
	if (d == D_TX) {
		double p0, b0, p1, b1;
		struct cpus c0, c1;
		char *args[] = { "send", "0", "--size", sz, "--seconds", tsec, "--dst",
				 "02:00:00:00:00:09", "--quiet" };

		sp = netio_start(e, "gtx", 0, args, 9, false, &sfd);
		if (sp < 0)
			goto out;
		sleep_s(e->warm + 0.3);   /* + the guest's start-up */
		c0.n = c1.n = 2;
		c0.pid[0] = c1.pid[0] = e->netback;
		c0.pid[1] = c1.pid[1] = sp;
		if (nb_snapshot(e, "uplink.net_null0.tx_pkts", &p0, "uplink.net_null0.tx_bytes",
				&b0) < 0)
			goto out;
		cpus_take(&c0);
		sleep_s(e->secs);
		if (nb_snapshot(e, "uplink.net_null0.tx_pkts", &p1, "uplink.net_null0.tx_bytes",
				&b1) < 0)
			goto out;
		cpus_take(&c1);
		double dt = (double)(c1.t - c0.t) / 1e9, pk = p1 - p0, cpu = cpus_delta(&c0, &c1);
		out->mpps = pk / dt / 1e6;
		out->gbps = (b1 - b0) * 8 / dt / 1e9;
		out->cpu_ns_pkt = pk > 0 ? cpu / pk : 0;
		out->cpu_util = cpu / 1e9 / dt;
		out->ok = pk > 0;
		r = out->ok ? 0 : -1;
		goto out;
	}
	if (d == D_RX) {
		struct env g = *e;
		char pcap[400];
		char *args[] = { "recv", "0", "--warmup", wsec, "--seconds", ssec, "--no-verify",
				 "--quiet", "--timeout", "30" };

		snprintf(pcap, sizeof(pcap), "%s/gen-%u.pcap", e->dir, size);
		g.pviod = g.netback = -1;
		g.dir[0] = 0;   /* pv_stop must never remove the main side's folder */
		if ((e->rx_pcap && write_pcap(pcap, size) < 0) ||
		    pv_start(&g, PV_GEN, e->rx_pcap ? pcap : NULL, size) < 0) {
			fprintf(stderr, "bench net: cannot start the generating pvio side\n");
		} else {
			rp = netio_start(&g, "grx", 0, args, 10, true, &ofd);
			if (rp > 0) {
				tmpl.n = 2;
				tmpl.pid[0] = g.netback;
				tmpl.pid[1] = rp;
				r = recv_wait(&g, rp, ofd, &tmpl, out, json, sizeof(json));
				rp = -1;
				ofd = -1;
			}
		}
		if (rp > 0)
			stop_pid(rp, SIGTERM);
		pv_stop(&g);
		/* Back to the main pvio side's store. */
		setenv("PVIO_SOCKET", e->sock, 1);
		setenv("XENSTORED_PATH", e->xs, 1);
		goto out;
	}
	if (d == D_RXPEER) {
		char *args[] = { "recv", "0", "--warmup", wsec, "--seconds", ssec, "--no-verify",
				 "--quiet", "--timeout", "30" };
		char vc[400];

		rp = netio_start(e, "grx", 0, args, 10, true, &ofd);
		if (rp < 0)
			goto out;
		snprintf(vc, sizeof(vc), "net_memif0,role=client,socket=%s,socket-abstract=no",
			 e->memif);
		if (pmd_start(e, &gen, 0, vc, NULL, "txonly", size, MAC_RX) < 0)
			goto out;
		tmpl.n = 3;
		tmpl.pid[0] = e->netback;
		tmpl.pid[1] = rp;
		tmpl.pid[2] = gen.pid;
	} else {
		char *rargs[] = { "recv", "0", "--warmup", wsec, "--seconds", ssec, "--no-verify",
				  "--quiet", "--timeout", "30" };
		char *sargs[] = { "send", "0", "--size", sz, "--seconds", tsec, "--dst", MAC_GB,
				  "--quiet" };

		rp = netio_start(e, "gb", 0, rargs, 10, true, &ofd);
		if (rp < 0)
			goto out;
		sp = netio_start(e, "ga", 0, sargs, 9, false, &sfd);
		if (sp < 0)
			goto out;
		tmpl.n = 3;
		tmpl.pid[0] = e->netback;
		tmpl.pid[1] = rp;
		tmpl.pid[2] = sp;
	}
	r = recv_wait(e, rp, ofd, &tmpl, out, json, sizeof(json));
	rp = -1;
	ofd = -1;
out:
	if (rp > 0)
		stop_pid(rp, SIGTERM);
	if (sp > 0)
		stop_pid(sp, SIGTERM);
	pmd_stop(&gen);
	if (ofd >= 0)
		close(ofd);
	if (sfd >= 0)
		close(sfd);
	return r;
}

/* A pcap file of 64 frames of `size` bytes (L2, no FCS) from a unicast
 * MAC toward the rx guest's (MAC_RX), each with its index in the payload. */
static int write_pcap(const char *path, unsigned size)
{
	static const uint8_t dst[6] = { 0x00, 0x16, 0x3e, 0x00, 0x00, 0x20 };
	static const uint8_t src[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x99 };
	uint32_t gh[6] = { 0xa1b2c3d4u, 2u | (4u << 16), 0, 0, 65535, 1 };  /* LINKTYPE_ETHERNET */
	uint8_t f[2048];
	FILE *fp;

	if (size < 60 || size > sizeof(f))
		return -1;
	fp = fopen(path, "wb");
	if (!fp)
		return -1;
	fwrite(gh, sizeof(gh), 1, fp);
	for (uint32_t i = 0; i < 64; i++) {
		uint32_t rh[4] = { 0, i, size, size };   /* ts_sec, ts_usec, incl, orig */

		memset(f, (int)i, size);
		memcpy(f, dst, 6);
		memcpy(f + 6, src, 6);
		f[12] = 0x88;   /* local experimental ethertype */
		f[13] = 0xb6;
		fwrite(rh, sizeof(rh), 1, fp);
		fwrite(f, size, 1, fp);
	}
	return fclose(fp) == 0 ? 0 : -1;
}

/* Start pviod, pvio-netback (CPU 1) and the guests. PV_MAIN: the main side
 * (uplinks net_null, memif; guests gtx, grx, ga, gb); PV_GEN: the
 * generating side of the rx case: one net_pcap uplink replaying gen_pcap
 * without end, and the guest grx on its bridge; PV_TCP: guests gt1, gt2 on
 * bridge brt, no uplink, pvio-netback not pinned. */
static int pv_start(struct env *e, enum pv_mode m, const char *gen_pcap, unsigned gen_size)
{
	char tmpl[] = "/tmp/pvio-bench-net-XXXXXX", rfd[16], bin[600], b[8], log[400];
	char up1[512], up2[400];
	int p[2];

	if (!mkdtemp(tmpl))
		return -1;
	snprintf(e->dir, sizeof(e->dir), "%s", tmpl);
	snprintf(e->sock, sizeof(e->sock), "%s/pviod.sock", tmpl);
	snprintf(e->xs, sizeof(e->xs), "%s/xs.sock", tmpl);
	snprintf(e->memif, sizeof(e->memif), "%s/nb-memif.sock", tmpl);
	snprintf(e->stats, sizeof(e->stats), "%s/nb.stats", tmpl);
	snprintf(e->pvio, sizeof(e->pvio), "%s/tools/pvio", e->build);
	snprintf(e->netio, sizeof(e->netio), "%s/tools/pvio-netio", e->build);
	snprintf(e->tap, sizeof(e->tap), "%s/tools/pvio-netfront-tap", e->build);
	setenv("PVIO_SOCKET", e->sock, 1);
	setenv("XENSTORED_PATH", e->xs, 1);
	if (pipe(p) < 0)
		return -1;
	snprintf(rfd, sizeof(rfd), "%d", p[1]);
	snprintf(bin, sizeof(bin), "%s/hv/pviod", e->build);
	snprintf(log, sizeof(log), "%s/pviod.log", e->dir);
	{
		char *av[] = { bin, "--socket", e->sock, "--xs-socket", e->xs, "--ready-fd", rfd,
			       NULL };
		e->pviod = spawn(av, -1, -1, -1, log);
	}
	close(p[1]);
	if (read(p[0], b, sizeof(b)) <= 0) {
		close(p[0]);
		return -1;
	}
	close(p[0]);
	if (pipe(p) < 0)
		return -1;
	snprintf(rfd, sizeof(rfd), "%d", p[1]);
	snprintf(bin, sizeof(bin), "%s/netback/pvio-netback", e->build);
	snprintf(log, sizeof(log), "%s/netback.log", e->dir);
	if (m == PV_GEN) {
		/* to the rx guest's MAC (write_pcap's dst) */
		if (gen_pcap ? snprintf(up1, sizeof(up1), "brgen=net_pcap0,rx_pcap=%s,"
					"infinite_rx=1", gen_pcap) >= (int)sizeof(up1) :
			       snprintf(up1, sizeof(up1), "brgen=pvio_gen0,size=%u,"
					"dst=00:16:3e:00:00:20", gen_size) >= (int)sizeof(up1))
			return -1;
	} else if (m == PV_MAIN) {
		snprintf(up1, sizeof(up1), "brnull=net_null0,no-rx=1");
		snprintf(up2, sizeof(up2),
			 "brmem=net_memif0,role=server,socket=%s,socket-abstract=no", e->memif);
	}
	{
		char *av[20] = { bin, "--socket", e->sock, "--ready-fd", rfd, "--stats-file",
				 e->stats, "--max-queues", "1" };
		int k = 9;

		if (m != PV_TCP) {
			av[k++] = "--uplink";
			av[k++] = up1;
		}
		if (m == PV_MAIN) {
			av[k++] = "--uplink";
			av[k++] = up2;
		}
		if (e->nb_poll_us) {
			av[k++] = "--poll-us";
			av[k++] = (char *)e->nb_poll_us;
		}
		av[k] = NULL;
		/* All of pvio-netback's threads on CPU 1 (they inherit it); the
		 * TCP case pins nothing. */
		e->netback = spawn(av, m == PV_TCP ? -1 : 1, -1, -1, log);
	}
	close(p[1]);
	if (read(p[0], b, sizeof(b)) <= 0) {
		close(p[0]);
		fprintf(stderr, "bench net: pvio-netback did not start (see %s)\n", log);
		return -1;
	}
	close(p[0]);
	static const char *doms[][3] = { { "gtx", MAC_TX, "brnull" }, { "grx", MAC_RX, "brmem" },
					 { "ga", MAC_GA, "brg" }, { "gb", MAC_GB, "brg" } };
	static const char *gdoms[][3] = { { "grx", MAC_RX, "brgen" } };
	static const char *tdoms[][3] = { { "gt1", MAC_T1, "brt" }, { "gt2", MAC_T2, "brt" } };
	const char *(*dl)[3] = m == PV_MAIN ? doms : m == PV_GEN ? gdoms : tdoms;
	unsigned nd = m == PV_MAIN ? 4 : m == PV_GEN ? 1 : 2;

	for (unsigned i = 0; i < nd; i++) {
		char spec[128];
		char *c[] = { e->pvio, "create", (char *)dl[i][0], "memory=64M", NULL };
		snprintf(spec, sizeof(spec), "mac=%s,bridge=%s", dl[i][1], dl[i][2]);
		char *a[] = { e->pvio, "network-attach", (char *)dl[i][0], spec, NULL };
		if (run_quiet(c) != 0 || run_quiet(a) != 0) {
			fprintf(stderr, "bench net: cannot create guest %s\n", dl[i][0]);
			return -1;
		}
	}
	return 0;
}

static void pv_stop(struct env *e)
{
	char cmd[400];

	if (e->netback > 0) {
		stop_pid(e->netback, SIGTERM);
		snprintf(cmd, sizeof(cmd), "rm -rf /var/run/dpdk/pvio-netback-%d", (int)e->netback);
		if (system(cmd) != 0) {
			/* nothing more to do */
		}
	}
	if (e->pviod > 0)
		stop_pid(e->pviod, SIGTERM);
	e->netback = e->pviod = -1;
	if (!getenv("PVIO_BENCH_KEEP") && strncmp(e->dir, "/tmp/pvio-bench-net-", 20) == 0) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "bench net: could not remove %s\n", e->dir);
	} else if (e->dir[0])
		fprintf(stderr, "bench net: logs kept in %s\n", e->dir);
}

/* ------------------------------------------------------------ kernel TCP */

/* Run `ip ARGS...` (NULL-terminated), output discarded; its exit status. */
static int ipc(struct env *e, ...)
{
	char *av[24];
	int k = 0;
	va_list ap;

	av[k++] = (char *)e->ip;
	va_start(ap, e);
	for (char *a; k < 23 && (a = va_arg(ap, char *)); )
		av[k++] = a;
	va_end(ap);
	av[k] = NULL;
	return run_quiet(av);
}

/* Read fd into buf (NUL-terminated) until EOF, or until `until` appears
 * (when given), for at most timeout_s or until a signal. What does not fit
 * is read and dropped. 0: EOF or `until` seen; -1: timeout, signal, error. */
static int read_until(int fd, char *buf, size_t len, const char *until, double timeout_s)
{
	uint64_t end = bench_now_ns() + (uint64_t)(timeout_s * 1e9);
	size_t n = 0;

	buf[0] = 0;
	for (;;) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		uint64_t now = bench_now_ns();
		char drop[4096];
		ssize_t r;

		if (g_sig || now >= end)
			return -1;
		r = poll(&pf, 1, (int)((end - now) / 1000000) + 1);
		if (r < 0 && errno != EINTR)
			return -1;
		if (r <= 0)
			continue;
		if (n + 1 < len)
			r = read(fd, buf + n, len - n - 1);
		else
			r = read(fd, drop, sizeof(drop));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r == 0 ? 0 : -1;
		if (n + 1 < len) {
			n += (size_t)r;
			buf[n] = 0;
		}
		if (until && strstr(buf, until))
			return 0;
	}
}

/* Wait up to s seconds for p to exit by itself, then stop it. */
static void reap_within(pid_t p, double s)
{
	uint64_t end = bench_now_ns() + (uint64_t)(s * 1e9);

	if (p <= 0)
		return;
	while (bench_now_ns() < end) {
		if (waitpid(p, NULL, WNOHANG) == p) {
			untrack(p);
			return;
		}
		usleep(10000);
	}
	stop_pid(p, SIGTERM);
}

#define TCP_A "10.9.0.1"
#define TCP_B "10.9.0.2"

/* iperf3 TCP, server in the second namespace on TCP_B, client in the
 * first, `streams` parallel streams, JSON; the receiver's Gbit/s. */
static int iperf_run(struct env *e, int streams, struct tres *out)
{
	static char cj[262144];
	char so[4096], t[16], om[16], np[16];
	int sfd[2] = { -1, -1 }, cfd[2] = { -1, -1 }, r = -1;
	pid_t sp = -1, cp = -1;
	const char *p;

	memset(out, 0, sizeof(*out));
	snprintf(t, sizeof(t), "%d", e->secs < 1 ? 1 : (int)(e->secs + 0.5));
	snprintf(om, sizeof(om), "%d", (int)(e->warm + 0.5));
	snprintf(np, sizeof(np), "%d", streams);
	if (pipe2(sfd, O_CLOEXEC) < 0 || pipe2(cfd, O_CLOEXEC) < 0)
		goto out;
	{
		char *av[] = { (char *)e->ip, "netns", "exec", e->ns[1], (char *)e->iperf3, "-s",
			       "-1", "-B", TCP_B, "--forceflush", NULL };

		sp = spawn(av, -1, -1, sfd[1], NULL);
	}
	close(sfd[1]);
	sfd[1] = -1;
	/* listening once it says so */
	if (sp < 0 || read_until(sfd[0], so, sizeof(so), "listening", 10) < 0 ||
	    !strstr(so, "listening")) {
		fprintf(stderr, "bench net: iperf3 server did not start: %s\n", so);
		goto out;
	}
	{
		char *av[] = { (char *)e->ip, "netns", "exec", e->ns[0], (char *)e->iperf3, "-c",
			       TCP_B, "-t", t, "-O", om, "-P", np, "-J", NULL };

		cp = spawn(av, -1, -1, cfd[1], NULL);
	}
	close(cfd[1]);
	cfd[1] = -1;
	if (cp < 0 || read_until(cfd[0], cj, sizeof(cj), NULL, e->secs + e->warm + 30) < 0) {
		fprintf(stderr, "bench net: iperf3 client did not finish\n");
		goto out;
	}
	reap_within(cp, 5);
	cp = -1;
	p = strstr(cj, "\"sum_received\"");
	if (!p) {
		p = strstr(cj, "\"error\"");
		fprintf(stderr, "bench net: iperf3 -P %d: no result: %.200s\n", streams,
			p ? p : cj);
		goto out;
	}
	out->gbps = jnum(p, "bits_per_second") / 1e9;
	p = strstr(cj, "\"sum_sent\"");
	out->retrans = p ? jnum(p, "retransmits") : -1;
	p = strstr(cj, "\"cpu_utilization_percent\"");
	out->cpu_local = p ? jnum(p, "host_total") : -1;
	out->cpu_remote = p ? jnum(p, "remote_total") : -1;
	out->ok = out->gbps > 0;
	r = out->ok ? 0 : -1;
out:
	if (cp > 0)
		stop_pid(cp, SIGTERM);
	reap_within(sp, 2);
	for (int i = 0; i < 2; i++) {
		if (sfd[i] >= 0)
			close(sfd[i]);
		if (cfd[i] >= 0)
			close(cfd[i]);
	}
	return r;
}

/* Make the two namespaces (lo up in each). 0, or -1 with the reason why
 * the TCP cases cannot run in `why`. */
static int tcp_setup(struct env *e, char *why, size_t wl)
{
	static const char *ips[] = { "/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip" };
	static const char *ipf[] = { "/usr/bin/iperf3", "/usr/local/bin/iperf3" };

	e->ip = e->iperf3 = NULL;
	for (unsigned i = 0; i < 4 && !e->ip; i++)
		if (access(ips[i], X_OK) == 0)
			e->ip = ips[i];
	for (unsigned i = 0; i < 2 && !e->iperf3; i++)
		if (access(ipf[i], X_OK) == 0)
			e->iperf3 = ipf[i];
	if (geteuid() != 0) {
		snprintf(why, wl, "needs root (network namespaces, TAP)");
		return -1;
	}
	if (access("/dev/net/tun", R_OK | W_OK) != 0) {
		snprintf(why, wl, "no /dev/net/tun");
		return -1;
	}
	if (!e->ip) {
		snprintf(why, wl, "no ip(8) (iproute2)");
		return -1;
	}
	if (!e->iperf3) {
		snprintf(why, wl, "no iperf3 (apt-get install iperf3)");
		return -1;
	}
	for (int i = 0; i < 2; i++) {
		snprintf(e->ns[i], sizeof(e->ns[i]), "pvio-bench-%c-%d", 'a' + i, (int)getpid());
		if (ipc(e, "netns", "add", e->ns[i], NULL) != 0) {
			e->ns[i][0] = 0;
			snprintf(why, wl, "cannot create network namespaces (ip netns add)");
			return -1;
		}
		if (ipc(e, "-n", e->ns[i], "link", "set", "lo", "up", NULL) != 0) {
			snprintf(why, wl, "cannot bring lo up in %s", e->ns[i]);
			return -1;
		}
	}
	return 0;
}

/* Delete the namespaces we made (and what is left in them: a veth). */
static void tcp_teardown(struct env *e)
{
	for (int i = 0; i < 2; i++)
		if (e->ns[i][0]) {
			if (ipc(e, "netns", "del", e->ns[i], NULL) != 0)
				fprintf(stderr, "bench net: could not delete netns %s\n", e->ns[i]);
			e->ns[i][0] = 0;
		}
}

/* pvio: a pvio side of its own (pviod, pvio-netback, guests gt1 and gt2 on
 * bridge brt); pvio-netfront-tap in each guest puts its TAP pv0 in one of
 * the namespaces; iperf3 across; all of it stopped by PID afterwards. */
static int tcp_pvio_run(struct env *e, int streams, struct tres *out)
{
	struct env g = *e;
	pid_t tp[2] = { -1, -1 };
	int of[2] = { -1, -1 }, r = -1;
	static const char *doms[2] = { "gt1", "gt2" };
	static const char *addr[2] = { TCP_A "/24", TCP_B "/24" };

	memset(out, 0, sizeof(*out));
	g.pviod = g.netback = -1;
	g.dir[0] = 0;   /* pv_stop must never remove the main side's folder */
	if (pv_start(&g, PV_TCP, NULL, 0) < 0) {
		fprintf(stderr, "bench net: cannot start the pvio side of the TCP case\n");
		goto out;
	}
	for (int i = 0; i < 2; i++) {
		char *args[] = { "--vif", "0", "--tap", "pv0", "--netns", g.ns[i] };

		tp[i] = guest_start(&g, doms[i], -1, g.tap, args, 6, true, &of[i]);
		if (tp[i] < 0)
			goto out;
		if (ipc(&g, "-n", g.ns[i], "addr", "add", addr[i], "dev", "pv0", NULL) != 0) {
			fprintf(stderr, "bench net: cannot address pv0 in %s\n", g.ns[i]);
			goto out;
		}
	}
	r = iperf_run(&g, streams, out);
out:
	for (int i = 0; i < 2; i++) {
		if (tp[i] > 0)
			stop_pid(tp[i], SIGTERM);   /* the TAP goes with it */
		if (of[i] >= 0)
			close(of[i]);
	}
	pv_stop(&g);
	/* Back to the main pvio side's store, if there is one. */
	if (e->pviod > 0) {
		setenv("PVIO_SOCKET", e->sock, 1);
		setenv("XENSTORED_PATH", e->xs, 1);
	}
	return r;
}

/* veth: the same namespaces joined by a veth pair (pv0 in each). */
static int tcp_veth_run(struct env *e, int streams, struct tres *out)
{
	int r = -1;

	memset(out, 0, sizeof(*out));
	if (ipc(e, "-n", e->ns[0], "link", "add", "pv0", "type", "veth", "peer", "name", "pv0",
		"netns", e->ns[1], NULL) != 0) {
		fprintf(stderr, "bench net: cannot make the veth pair\n");
		return -1;
	}
	if (ipc(e, "-n", e->ns[0], "addr", "add", TCP_A "/24", "dev", "pv0", NULL) != 0 ||
	    ipc(e, "-n", e->ns[1], "addr", "add", TCP_B "/24", "dev", "pv0", NULL) != 0 ||
	    ipc(e, "-n", e->ns[0], "link", "set", "pv0", "up", NULL) != 0 ||
	    ipc(e, "-n", e->ns[1], "link", "set", "pv0", "up", NULL) != 0)
		fprintf(stderr, "bench net: cannot set the veth pair up\n");
	else
		r = iperf_run(e, streams, out);
	if (ipc(e, "-n", e->ns[0], "link", "del", "pv0", NULL) != 0)
		fprintf(stderr, "bench net: could not delete the veth pair\n");
	return r;
}

/* tap-fwd's process: a TAP pv0 in each namespace, frames copied across
 * as they are read (virtio_net_hdr included: both ends are TAPs), until
 * SIGTERM. "ready" on ready_fd once both exist. */
static int tapfwd_main(const char *ns0, const char *ns1, int ready_fd)
{
	static uint8_t buf[sizeof(struct virtio_net_hdr) + 65536];
	const char *ns[2] = { ns0, ns1 };
	int fd[2], ep;

	for (int i = 0; i < 2; i++) {
		char path[128];
		struct ifreq ifr;
		int nfd;

		snprintf(path, sizeof(path), "/var/run/netns/%s", ns[i]);
		nfd = open(path, O_RDONLY | O_CLOEXEC);
		if (nfd < 0 || setns(nfd, CLONE_NEWNET) < 0) {
			fprintf(stderr, "tap-fwd: netns %s: %s\n", ns[i], strerror(errno));
			return 1;
		}
		close(nfd);
		fd[i] = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
		memset(&ifr, 0, sizeof(ifr));
		ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "pv0");
		if (fd[i] < 0 || ioctl(fd[i], TUNSETIFF, &ifr) < 0 ||
		    ioctl(fd[i], TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) < 0) {
			fprintf(stderr, "tap-fwd: TAP in %s: %s\n", ns[i], strerror(errno));
			return 1;
		}
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	for (int i = 0; i < 2; i++) {
		struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)i };

		if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd[i], &ev) < 0) {
			fprintf(stderr, "tap-fwd: epoll: %s\n", strerror(errno));
			return 1;
		}
	}
	if (write(ready_fd, "ready\n", 6) != 6)
		return 1;
	close(ready_fd);
	for (;;) {
		struct epoll_event evs[2];
		int n = epoll_wait(ep, evs, 2, -1);

		for (int k = 0; k < n; k++) {
			int from = (int)evs[k].data.u32;
			ssize_t r;

			while ((r = read(fd[from], buf, sizeof(buf))) > 0)
				if (write(fd[!from], buf, (size_t)r) < 0 && errno != EAGAIN)
					return 1;
		}
	}
}

/* tap-fwd: its process, the addresses, iperf3 across; stopped by PID. */
static int tcp_tapfwd_run(struct env *e, int streams, struct tres *out)
{
	int pfd[2], r = -1;
	char line[64] = "";
	pid_t p;

	memset(out, 0, sizeof(*out));
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -1;
	p = fork();
	if (p == 0) {
		/* SIGTERM ends it (not the bench's handler, which only notes it) */
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		close(pfd[0]);
		_exit(tapfwd_main(e->ns[0], e->ns[1], pfd[1]));
	}
	close(pfd[1]);
	if (p < 0) {
		close(pfd[0]);
		return -1;
	}
	track(p);
	if (read_until(pfd[0], line, sizeof(line), "ready", 10) < 0 || !strstr(line, "ready")) {
		fprintf(stderr, "bench net: tap-fwd did not start\n");
		goto out;
	}
	if (ipc(e, "-n", e->ns[0], "addr", "add", TCP_A "/24", "dev", "pv0", NULL) != 0 ||
	    ipc(e, "-n", e->ns[1], "addr", "add", TCP_B "/24", "dev", "pv0", NULL) != 0 ||
	    ipc(e, "-n", e->ns[0], "link", "set", "pv0", "up", NULL) != 0 ||
	    ipc(e, "-n", e->ns[1], "link", "set", "pv0", "up", NULL) != 0)
		fprintf(stderr, "bench net: cannot set the tap-fwd TAPs up\n");
	else
		r = iperf_run(e, streams, out);
out:
	close(pfd[0]);
	stop_pid(p, SIGTERM);   /* the TAPs go with it */
	return r;
}

/* ------------------------------------------------------------ driver */

static void on_sig(int s)
{
	g_sig = s;
}

static void loadavg(char *buf, size_t len)
{
	FILE *f = fopen("/proc/loadavg", "r");

	snprintf(buf, len, "?");
	if (f) {
		if (fgets(buf, (int)len, f)) {
			char *nl = strchr(buf, '\n');
			if (nl)
				*nl = 0;
		}
		fclose(f);
	}
}

static void net_usage(FILE *f)
{
	fprintf(f, "  net options: --seconds S   measured window per run (default 4; --quick: 1)\n"
		   "               --warmup S    warm-up before the window (default 2; --quick: 1)\n"
		   "               --nb-poll-us N  pvio-netback's --poll-us (default: its own, 50)\n"
		   "               --rx-gen pvio|pcap  the rx case's generator in pvio-netback:\n"
		   "                             pvio_gen (default; headers only, as txonly)\n"
		   "                             or net_pcap infinite_rx (copies each frame)\n"
		   "               --case NAME   only that case (tx-64B, rx-1500B, g2g-64B, ...,\n"
		   "                             tcp-1stream, tcp-4streams; with --out, to keep\n"
		   "                             the full results)\n"
		   "               --impl NAME   only pvio, dpdk-vhost-user, dpdk-memif, veth or\n"
		   "                             tap-fwd (TAPs joined by a bare copy loop)\n"
		   "                             (profiling)\n"
		   "               --testpmd PATH (default dpdk-testpmd from PATH, package dpdk-dev)\n"
		   "  Needs root (DPDK runtime folders), pvio-netback (libdpdk) and dpdk-testpmd;\n"
		   "  the tcp cases need root, network namespaces, /dev/net/tun and iperf3\n"
		   "  (skipped, with the reason, without).\n");
}

static const char *find_testpmd(void)
{
	static const char *c[] = { "/usr/bin/dpdk-testpmd", "/usr/local/bin/dpdk-testpmd" };

	for (unsigned i = 0; i < 2; i++)
		if (access(c[i], X_OK) == 0)
			return c[i];
	return NULL;
}

struct cell {
	struct res r[NR_IMPL];
};

struct tcell {
	struct tres r[NR_TIMPL];
};

/* Is `name` the case of direction d, size index s ("rx-64B")? */
static bool case_is(const char *name, unsigned d, unsigned s)
{
	char n[32];

	snprintf(n, sizeof(n), "%s-%uB", dir_name[d], sizes[s]);
	return strcmp(name, n) == 0;
}

/* How the processes of case d sit on the CPUs (for the JSON). */
static const char *pinning(unsigned d)
{
	switch (d) {
	case D_TX:
	case D_RX:
		return "pvio: the guest (pvio-netio) on CPU 0, pvio-netback on CPU 1; DPDK: the "
		       "client testpmd (virtio-user, memif client) --lcores 0@0,1@0, the server "
		       "(vhost-user, memif server) --lcores 0@1,1@1";
	case D_RXPEER:
		return "the guest (pvio-netio recv) and the memif txonly testpmd (--lcores "
		       "0@0,1@0) on CPU 0, pvio-netback on CPU 1";
	default:
		return "pvio: guest A (pvio-netio send) and guest B (pvio-netio recv) on CPU 0, "
		       "pvio-netback on CPU 1; vhost-user: the virtio-user txonly and rxonly "
		       "testpmds on CPU 0 (--lcores 0@0,1@0 each), the switch testpmd (two "
		       "vhost-user ports, io forwarding, ports paired) on CPU 1 (--lcores "
		       "0@1,1@1)";
	}
}

/* Median, min and max of the ok runs' v (n of them at most). */
static void stat3(const double *v, size_t n, double *med, double *lo, double *hi)
{
	*med = *lo = *hi = NAN;
	if (n == 0)
		return;
	*med = bench_median(v, n);
	*lo = *hi = v[0];
	for (size_t i = 1; i < n; i++) {
		if (v[i] < *lo)
			*lo = v[i];
		if (v[i] > *hi)
			*hi = v[i];
	}
}

/* A kernel-TCP case's median [min, max] over the reps: implementation a's
 * Gbit/s (b < 0), or a/b per rep where both ran. v: reps doubles of
 * scratch. Returns how many reps counted. */
static size_t tcp_stat(struct tcell (*tres)[NR_TCP], int reps, unsigned k, int a, int b,
		       double *v, double out[3])
{
	size_t n = 0;

	for (int r = 0; r < reps; r++) {
		const struct tres *x = &tres[r][k].r[a], *y = b >= 0 ? &tres[r][k].r[b] : NULL;

		if (x->ok && (!y || y->ok))
			v[n++] = y ? x->gbps / y->gbps : x->gbps;
	}
	stat3(v, n, &out[0], &out[1], &out[2]);
	return n;
}

static int net_run(const struct bench_opts *o, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "seconds", required_argument, NULL, 's' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "testpmd", required_argument, NULL, 'p' },
		{ "nb-poll-us", required_argument, NULL, 'P' },
		{ "rx-gen", required_argument, NULL, 'G' },
		{ "case", required_argument, NULL, 'c' },
		{ "impl", required_argument, NULL, 'i' },
		{ NULL, 0, NULL, 0 },
	};
	struct env e = { .pviod = -1, .netback = -1, .only_impl = -1 };
	int reps = o->quick ? 1 : o->reps, c, rc = 0;
	struct cell (*res)[NR_DIR][NR_SIZES];
	struct tcell (*tres)[NR_TCP];
	bool want_pkt = false, want_tcp[NR_TCP] = { false }, any_tcp = false;
	char load0[128], load1[128], tcp_skip[160] = "";

	e.warm = o->quick ? 1 : 2;
	e.secs = o->quick ? 1 : 4;
	e.testpmd = find_testpmd();
	optind = 1;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 's': e.secs = atof(optarg); if (e.secs <= 0) return 2; break;
		case 'w': e.warm = atof(optarg); if (e.warm < 0) return 2; break;
		case 'p': e.testpmd = optarg; break;
		case 'P': e.nb_poll_us = optarg; break;
		case 'G':
			if (strcmp(optarg, "pcap") && strcmp(optarg, "pvio")) {
				fprintf(stderr, "bench net: --rx-gen: pvio or pcap\n");
				return 2;
			}
			e.rx_pcap = !strcmp(optarg, "pcap");
			break;
		case 'c': e.only = optarg; break;
		case 'i':
			e.only_name = optarg;
			for (e.only_impl = NR_IMPL - 1; e.only_impl >= 0; e.only_impl--)
				if (strcmp(optarg, impl_name[e.only_impl]) == 0)
					break;
			if (e.only_impl < 0 && strcmp(optarg, "veth") != 0 &&
			    strcmp(optarg, "tap-fwd") != 0) {
				fprintf(stderr, "bench net: --impl: no '%s' (pvio, dpdk-vhost-user, "
					"dpdk-memif, veth, tap-fwd)\n", optarg);
				return 2;
			}
			break;
		default: return 2;
		}
	}
	for (unsigned s = 0; s < NR_SIZES; s++)
		for (unsigned d = 0; d < NR_DIR; d++)
			want_pkt |= !e.only || case_is(e.only, d, s);
	/* --impl veth/tap-fwd: only the tcp cases; a DPDK one: only the packet cases */
	if (e.only_name && (!strcmp(e.only_name, "veth") || !strcmp(e.only_name, "tap-fwd")))
		want_pkt = false;
	for (unsigned k = 0; k < NR_TCP; k++) {
		want_tcp[k] = (!e.only || !strcmp(e.only, tcp_case[k])) &&
			      (!e.only_name || !strcmp(e.only_name, "pvio") ||
			       !strcmp(e.only_name, "veth") || !strcmp(e.only_name, "tap-fwd"));
		any_tcp |= want_tcp[k];
	}
	if (e.only && !want_pkt && !any_tcp) {
		fprintf(stderr, "bench net: --case: no case '%s' (tx|rx|rx-peer|g2g-64B|1500B, "
			"tcp-1stream, tcp-4streams)%s\n", e.only,
			e.only_name ? " with that --impl" : "");
		return 2;
	}
	if (want_pkt && !e.testpmd) {
		fprintf(stderr, "bench net: dpdk-testpmd not found (apt-get install dpdk-dev)\n");
		return 1;
	}
	{
		const char *b = getenv("BUILD");

		if (b && *b && b[0] == '/')
			snprintf(e.build, sizeof(e.build), "%s", b);
		else
			snprintf(e.build, sizeof(e.build), "%s/%s", o->repo, b && *b ? b : "build");
	}
	res = calloc((size_t)reps, sizeof(*res));
	tres = calloc((size_t)reps, sizeof(*tres));
	if (!res || !tres) {
		free(res);
		free(tres);
		return 1;
	}
	{
		struct sigaction sa = { .sa_handler = on_sig };

		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGHUP, &sa, NULL);
	}
	loadavg(load0, sizeof(load0));
	if (want_pkt) {
		bench_progress("net: starting pviod, pvio-netback and 4 guests");
		if (pv_start(&e, PV_MAIN, NULL, 0) < 0) {
			fprintf(stderr, "bench net: cannot start the pvio side from %s\n", e.build);
			rc = 1;
			goto out;
		}
	}
	if (any_tcp && tcp_setup(&e, tcp_skip, sizeof(tcp_skip)) < 0) {
		fprintf(stderr, "bench net: tcp cases skipped: %s\n", tcp_skip);
		any_tcp = false;
	}
	/* Interleaved: for each rep, each case: pvio, vhost-user, memif; then
	 * each tcp case: pvio, veth. */
	for (int r = 0; r < reps && !rc && !g_sig; r++) {
		for (unsigned s = 0; s < NR_SIZES && want_pkt && !g_sig; s++)
			for (unsigned d = 0; d < NR_DIR && !g_sig; d++)
				for (unsigned im = 0; im < NR_IMPL && !g_sig; im++) {
					struct res *x = &res[r][d][s].r[im];

					if (!has_impl(d, im))
						continue;
					if ((e.only && !case_is(e.only, d, s)) ||
					    (e.only_impl >= 0 && (int)im != e.only_impl))
						continue;
					bench_progress("net: rep %d/%d %s %uB: %s", r + 1, reps,
						       dir_name[d], sizes[s], impl_name[im]);
					if (im == I_PVIO)
						pvio_run(&e, d, sizes[s], x);
					else
						dpdk_run(&e, im, d, sizes[s], x);
					if (!x->ok)
						fprintf(stderr, "\nbench net: rep %d %s %uB %s failed\n",
							r + 1, dir_name[d], sizes[s], impl_name[im]);
				}
		for (unsigned k = 0; k < NR_TCP && any_tcp && !g_sig; k++)
			for (unsigned ti = 0; ti < NR_TIMPL && want_tcp[k] && !g_sig; ti++) {
				struct tres *x = &tres[r][k].r[ti];

				if (e.only_name && strcmp(e.only_name, timpl_name[ti]))
					continue;
				bench_progress("net: rep %d/%d %s: %s", r + 1, reps, tcp_case[k],
					       timpl_name[ti]);
				if (ti == T_PVIO)
					tcp_pvio_run(&e, tcp_streams[k], x);
				else if (ti == T_VETH)
					tcp_veth_run(&e, tcp_streams[k], x);
				else
					tcp_tapfwd_run(&e, tcp_streams[k], x);
				if (!x->ok)
					fprintf(stderr, "\nbench net: rep %d %s %s failed\n", r + 1,
						tcp_case[k], timpl_name[ti]);
			}
	}
	if (g_sig)
		rc = 1;
out:
	pv_stop(&e);
	kill_all();
	if (e.ip)
		tcp_teardown(&e);
	bench_progress_done();
	loadavg(load1, sizeof(load1));
	if (rc) {
		free(res);
		free(tres);
		return rc;
	}

	/* Medians, table, JSON, chart. */
	char path[600], tpath[600], mline[256];
	FILE *jf, *tf;
	struct bench_json j;
	double *v = calloc((size_t)reps, sizeof(double));

	if (!v || bench_out_path(o, "net", "json", path, sizeof(path)) < 0 ||
	    bench_out_path(o, "net", "txt", tpath, sizeof(tpath)) < 0)
		return 1;
	jf = fopen(path, "w");
	tf = fopen(tpath, "w");
	if (!jf || !tf)
		return 1;
	bench_machine_line(mline, sizeof(mline), o->repo);
	bench_json_init(&j, jf);
	bench_json_obj_begin(&j, NULL);
	bench_json_str(&j, "benchmark", "net");
	bench_json_machine(&j, o->repo);
	bench_json_str(&j, "loadavg_before", load0);
	bench_json_str(&j, "loadavg_after", load1);
	bench_json_num(&j, "seconds_per_run", e.secs);
	bench_json_num(&j, "warmup_seconds", e.warm);
	bench_json_int(&j, "reps", reps);
	bench_json_str(&j, "netback_poll_us", e.nb_poll_us ? e.nb_poll_us : "default (50)");
	bench_json_str(&j, "rx_generator", e.rx_pcap ? "net_pcap infinite_rx" : "pvio_gen");
	bench_json_str(&j, "note", "rates at the receiver, L2 frame bytes; cpu_ns_per_pkt: CPU "
		       "of every process of the pipeline over the window / frames; rx: "
		       "pvio-netback generates (pvio_gen: a header per frame, as vhost's txonly; "
		       "net_pcap infinite_rx with --rx-gen pcap), as vhost txonly does; "
		       "g2g: pvio guest -> pvio-netback -> guest against virtio-user txonly -> "
		       "testpmd vhost-user switch (io forwarding) -> virtio-user rxonly; "
		       "rx-peer (memif generator sharing the guest's CPU) has no DPDK peer "
		       "(baseline_value = vhost-user rx, same size); tcp-*: iperf3 TCP between "
		       "two network namespaces, each behind pvio-netfront-tap on one "
		       "pvio-netback bridge, against the same namespaces joined by a veth "
		       "pair, Gbit/s at the receiver, ratio per interleaved pair (median, "
		       "min, max)");
	bench_json_arr_begin(&j, "cases");
	FILE *outs[2] = { stdout, tf };
	for (int w = 0; w < 2 && want_pkt; w++) {
		fprintf(outs[w], "pvio-bench net: %s\nload average: before %s; after %s\n", mline,
			load0, load1);
		fprintf(outs[w], "%-10s %8s %8s %8s %6s %8s %8s %8s %8s %8s %8s %6s %6s\n", "case",
			"pv Mpps", "vh Mpps", "mf Mpps", "ratio", "pv Gb/s", "vh Gb/s", "mf Gb/s",
			"pv ns/p", "vh ns/p", "mf ns/p", "pv cpu", "vh cpu");
	}
	double chart[NR_DIR][NR_SIZES] = { { 0 } }, tchart[NR_TCP] = { 0 };
	for (unsigned s = 0; s < NR_SIZES && want_pkt; s++)
		for (unsigned d = 0; d < NR_DIR; d++) {
			struct res m[NR_IMPL];
			char name[32];

			for (unsigned im = 0; im < NR_IMPL; im++) {
				unsigned src = has_impl(d, im) ? d : base_dir[d];
#define MED(field) (({ for (int r = 0; r < reps; r++) v[r] = res[r][src][s].r[im].field; }), \
		    bench_median(v, (size_t)reps))
				m[im].mpps = MED(mpps);
				m[im].gbps = MED(gbps);
				m[im].cpu_ns_pkt = MED(cpu_ns_pkt);
				m[im].cpu_util = MED(cpu_util);
#undef MED
			}
			if (e.only && !case_is(e.only, d, s))
				continue;
			if (!has_impl(d, I_MEMIF))
				m[I_MEMIF] = (struct res){ 0 };
			snprintf(name, sizeof(name), "%s-%uB", dir_name[d], sizes[s]);
			double ratio = m[I_VHOST].mpps > 0 ? m[I_PVIO].mpps / m[I_VHOST].mpps : 0;
			chart[d][s] = ratio;
			for (int w = 0; w < 2; w++)
				fprintf(outs[w], "%-10s %8.3f %8.3f %8.3f %6.3f %8.2f %8.2f %8.2f %8.0f "
					"%8.0f %8.0f %6.2f %6.2f\n", name, m[I_PVIO].mpps,
					m[I_VHOST].mpps, m[I_MEMIF].mpps, ratio, m[I_PVIO].gbps,
					m[I_VHOST].gbps, m[I_MEMIF].gbps, m[I_PVIO].cpu_ns_pkt,
					m[I_VHOST].cpu_ns_pkt, m[I_MEMIF].cpu_ns_pkt,
					m[I_PVIO].cpu_util, m[I_VHOST].cpu_util);
			bench_json_obj_begin(&j, NULL);
			bench_json_str(&j, "name", name);
			bench_json_str(&j, "baseline", d == D_G2G ? "dpdk-vhost-user-switch"
						       : "dpdk-vhost-user");
			bench_json_num(&j, "baseline_value", m[I_VHOST].mpps);
			bench_json_num(&j, "pvio_value", m[I_PVIO].mpps);
			bench_json_str(&j, "unit", "Mpps");
			bench_json_num(&j, "ratio", ratio);
			bench_json_int(&j, "frame_bytes", sizes[s]);
			bench_json_str(&j, "direction", dir_name[d]);
			bench_json_str(&j, "pinning", pinning(d));
			bench_json_num(&j, "pvio_gbps", m[I_PVIO].gbps);
			bench_json_num(&j, "baseline_gbps", m[I_VHOST].gbps);
			bench_json_num(&j, "pvio_cpu_ns_per_pkt", m[I_PVIO].cpu_ns_pkt);
			bench_json_num(&j, "baseline_cpu_ns_per_pkt", m[I_VHOST].cpu_ns_pkt);
			bench_json_num(&j, "pvio_cpus_busy", m[I_PVIO].cpu_util);
			bench_json_num(&j, "baseline_cpus_busy", m[I_VHOST].cpu_util);
			if (has_impl(d, I_MEMIF)) {
				bench_json_num(&j, "memif_value", m[I_MEMIF].mpps);
				bench_json_num(&j, "memif_gbps", m[I_MEMIF].gbps);
				bench_json_num(&j, "memif_cpu_ns_per_pkt", m[I_MEMIF].cpu_ns_pkt);
			}
			if (pvio_only(d))
				bench_json_str(&j, "baseline_note", "no 3-process DPDK peer: "
					       "vhost-user rx figure for reference");
			if (d == D_G2G)
				bench_json_str(&j, "baseline_note", "testpmd polls without end: "
					       "its two guests on CPU 0 share it in scheduler "
					       "slices, so the switch drops what the receiver, "
					       "descheduled, has no room for");
			bench_json_arr_begin(&j, "reps");
			for (int r = 0; r < reps; r++) {
				unsigned src = base_dir[d];

				bench_json_obj_begin(&j, NULL);
				bench_json_num(&j, "pvio", res[r][d][s].r[I_PVIO].mpps);
				bench_json_num(&j, "baseline", res[r][src][s].r[I_VHOST].mpps);
				if (has_impl(d, I_MEMIF))
					bench_json_num(&j, "memif", res[r][d][s].r[I_MEMIF].mpps);
				bench_json_num(&j, "pvio_cpus_busy", res[r][d][s].r[I_PVIO].cpu_util);
				bench_json_num(&j, "baseline_cpus_busy",
					       res[r][src][s].r[I_VHOST].cpu_util);
				bench_json_obj_end(&j);
			}
			bench_json_arr_end(&j);
			bench_json_obj_end(&j);
		}
	/* The kernel TCP cases. */
	bool tcp_shown = false;
	for (unsigned k = 0; k < NR_TCP; k++) {
		double pv[3], ve[3], ra[3], tf[3], rf[3], fv[3];
		size_t n;

		if (!want_tcp[k])
			continue;
		if (!tcp_shown) {
			for (int w = 0; w < 2; w++) {
				if (!want_pkt)
					fprintf(outs[w], "pvio-bench net: %s\nload average: before %s; "
						"after %s\n", mline, load0, load1);
				fprintf(outs[w], "%-12s %-22s %-22s %-34s %-22s %s\n",
					"kernel TCP", "pvio Gb/s [min-max]", "veth Gb/s [min-max]",
					"pvio/veth per pair [min-max]", "tap-fwd Gb/s [min-max]",
					"pvio/tap-fwd  tap-fwd/veth");
			}
			tcp_shown = true;
		}
		bench_json_obj_begin(&j, NULL);
		bench_json_str(&j, "name", tcp_case[k]);
		bench_json_str(&j, "baseline", "veth");
		bench_json_str(&j, "unit", "Gbit/s");
		bench_json_str(&j, "direction", "tcp");
		bench_json_int(&j, "streams", tcp_streams[k]);
		if (tcp_skip[0]) {
			for (int w = 0; w < 2; w++)
				fprintf(outs[w], "%-12s skipped: %s\n", tcp_case[k], tcp_skip);
			bench_json_str(&j, "skipped", tcp_skip);
			bench_json_obj_end(&j);
			continue;
		}
		bench_json_str(&j, "pinning", "none: the scheduler places the two iperf3 (and "
			       "for pvio both pvio-netfront-tap and pvio-netback) on the 2 CPUs");
		tcp_stat(tres, reps, k, T_PVIO, -1, v, pv);
		tcp_stat(tres, reps, k, T_VETH, -1, v, ve);
		n = tcp_stat(tres, reps, k, T_PVIO, T_VETH, v, ra);
		tchart[k] = isnan(ra[0]) ? 0 : ra[0];
		/* the TAP floor: what any backend behind TAPs can reach */
		tcp_stat(tres, reps, k, T_TAPFWD, -1, v, tf);
		tcp_stat(tres, reps, k, T_PVIO, T_TAPFWD, v, rf);
		tcp_stat(tres, reps, k, T_TAPFWD, T_VETH, v, fv);
		for (int w = 0; w < 2; w++)
			fprintf(outs[w], "%-12s %7.2f [%5.2f-%5.2f]   %7.2f [%5.2f-%5.2f]   "
				"%6.3f [%5.3f-%5.3f] (%zu pairs)   %7.2f [%5.2f-%5.2f]   %6.3f"
				"        %6.3f\n", tcp_case[k], pv[0], pv[1], pv[2], ve[0], ve[1],
				ve[2], ra[0], ra[1], ra[2], n, tf[0], tf[1], tf[2], rf[0], fv[0]);
		bench_json_num(&j, "tapfwd_value", tf[0]);
		bench_json_num(&j, "tapfwd_min", tf[1]);
		bench_json_num(&j, "tapfwd_max", tf[2]);
		bench_json_num(&j, "pvio_per_tapfwd", rf[0]);
		bench_json_num(&j, "tapfwd_per_veth", fv[0]);
		bench_json_num(&j, "baseline_value", ve[0]);
		bench_json_num(&j, "pvio_value", pv[0]);
		bench_json_num(&j, "ratio", ra[0]);
		bench_json_num(&j, "ratio_min", ra[1]);
		bench_json_num(&j, "ratio_max", ra[2]);
		bench_json_int(&j, "pairs", (long long)n);
		bench_json_num(&j, "pvio_min", pv[1]);
		bench_json_num(&j, "pvio_max", pv[2]);
		bench_json_num(&j, "baseline_min", ve[1]);
		bench_json_num(&j, "baseline_max", ve[2]);
		bench_json_arr_begin(&j, "reps");
		for (int r = 0; r < reps; r++) {
			const struct tres *a = &tres[r][k].r[T_PVIO], *b = &tres[r][k].r[T_VETH];

			bench_json_obj_begin(&j, NULL);
#define TNUM(key, x, f) ((x)->ok ? bench_json_num(&j, key, (x)->f) : bench_json_null(&j, key))
			TNUM("pvio", a, gbps);
			TNUM("baseline", b, gbps);
			TNUM("tapfwd", &tres[r][k].r[T_TAPFWD], gbps);
			if (a->ok && b->ok)
				bench_json_num(&j, "ratio", a->gbps / b->gbps);
			else
				bench_json_null(&j, "ratio");
			TNUM("pvio_retransmits", a, retrans);
			TNUM("baseline_retransmits", b, retrans);
			TNUM("pvio_cpu_sender_pct", a, cpu_local);
			TNUM("pvio_cpu_receiver_pct", a, cpu_remote);
			TNUM("baseline_cpu_sender_pct", b, cpu_local);
			TNUM("baseline_cpu_receiver_pct", b, cpu_remote);
#undef TNUM
			bench_json_obj_end(&j);
		}
		bench_json_arr_end(&j);
		bench_json_obj_end(&j);
	}
	bench_json_arr_end(&j);
	bench_json_obj_end(&j);
	fclose(jf);
	for (int w = 0; w < 2; w++) {
		if (want_pkt)
			fprintf(outs[w], "pv/vh/mf: pvio / dpdk vhost-user / dpdk memif; ratio = "
				"pvio/vhost Mpps; ns/p: CPU ns per frame, all processes; cpu: CPUs "
				"busy (of 2)\nrx: pvio-netback generates (pvio_gen, headers only) -> "
				"guest, as vhost txonly -> virtio-user\nrx-peer: testpmd memif txonly "
				"(on the guest's CPU) -> pvio-netback -> guest (no DPDK peer; vh = "
				"vhost rx)\ng2g: guest -> pvio-netback -> guest; vh: virtio-user "
				"txonly -> testpmd vhost-user switch (io fwd) -> virtio-user rxonly\n");
		if (tcp_shown)
			fprintf(outs[w], "kernel TCP: iperf3 between two network namespaces, each "
				"behind pvio-netfront-tap on one pvio-netback bridge, vs a veth "
				"pair; Gbit/s at the receiver, median [min-max] over reps; tap-fwd: "
				"the same namespaces behind TAPs joined by one process that only "
				"copies frames across (the floor of any backend behind TAPs)\n");
	}
	fclose(tf);
	printf("JSON: %s\n", path);

	char dat[640], png[640], cmd[2048];
	snprintf(dat, sizeof(dat), "%s.dat", tpath);
	bench_out_path(o, "net", "png", png, sizeof(png));
	FILE *df = fopen(dat, "w");
	if (df) {
		int nbar = 0;

		for (unsigned s = 0; s < NR_SIZES && want_pkt; s++)
			for (unsigned d = 0; d < NR_DIR; d++, nbar++)
				fprintf(df, "\"%s-%uB\" %.3f\n", dir_name[d], sizes[s], chart[d][s]);
		for (unsigned k = 0; k < NR_TCP; k++)
			if (want_tcp[k]) {
				fprintf(df, "\"%s\" %.3f\n", tcp_case[k], tchart[k]);
				nbar++;
			}
		fclose(df);
		snprintf(cmd, sizeof(cmd),
			 "gnuplot -e \"set terminal png size 1000,450; set output '%s'; "
			 "set title 'pvio / peer (DPDK vhost-user: Mpps ratio; tcp: veth, Gbit/s "
			 "ratio; median)'; set style fill solid; set boxwidth 0.7; "
			 "set xrange [-0.6:%d.6]; set yrange [0:*]; set grid y; "
			 "set xtics rotate by -30; "
			 "plot '%s' using 2:xtic(1) with boxes title 'pvio/peer', 1 with "
			 "lines title 'peer'\" 2>/dev/null", png, nbar - 1, dat);
		if (system(cmd) == 0)
			printf("chart: %s\n", png);
		unlink(dat);
	}
	free(v);
	free(res);
	free(tres);
	return 0;
}

const struct bench_cmd bench_cmd_net = {
	.name = "net",
	.summary = "network path: pvio (guest <-> pvio-netback) vs DPDK vhost-user and memif "
		   "(Mpps); kernel TCP over pvio-netfront-tap vs veth (Gbit/s)",
	.usage = net_usage,
	.run = net_run,
};
