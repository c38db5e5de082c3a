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
 *   rx   pvio: pvio-netback generates (a net_pcap uplink replaying a
 *              file of 64 frames without end, infinite_rx=1) -> its switch
 *              -> the guest's rx ring (CPU 1) -> pvio-netio recv (guest,
 *              CPU 0): the backend generates, as vhost-user's does
 *              (net_null/net_ring frames carry no valid source MAC). A
 *              pvio side of its own (pviod, pvio-netback, one guest) is
 *              started for each run, so nothing spins in the other cases.
 *        vhost-user: vhost txonly -> virtio-user rxonly; memif: server
 *              txonly -> client rxonly
 *   rx-peer  pvio only: dpdk-testpmd memif client txonly (CPU 0, shared
 *              with the guest) -> pvio-netback's memif uplink (CPU 1) ->
 *              pvio-netio recv (guest, CPU 0): traffic from another DPDK
 *              process; three processes on two CPUs (baseline_value is
 *              the vhost-user rx figure for reference)
 *   g2g  pvio only: pvio-netio send (guest A) -> pvio-netback's switch ->
 *              pvio-netio recv (guest B); three processes, no DPDK peer
 *              (baseline_value is the vhost-user tx figure for reference)
 *
 * at 64 and 1500-byte frames (L2, no FCS), one queue. Rates come from the
 * receiving end: pvio-netio recv's window, pvio-netback's uplink counters,
 * or testpmd's port counters through its telemetry socket
 * (/var/run/dpdk/<prefix>/dpdk_telemetry.v2, /ethdev/stats,0). CPU per
 * packet is the CPU time of every process of the pipeline over the
 * measured window divided by the frames received. Every process is started
 * here, pinned, and killed by PID; DPDK runtime folders are removed.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
static const unsigned base_dir[NR_DIR] = { D_TX, D_RX, D_RX, D_TX };

static bool pvio_only(unsigned d)
{
	return d == D_RXPEER || d == D_G2G;
}
static const unsigned sizes[] = { 64, 1500 };
#define NR_SIZES 2

struct res {
	double mpps, gbps, cpu_ns_pkt, cpu_util;   /* cpu_util: CPUs busy, all procs */
	bool ok;
};

struct env {
	char dir[256], sock[320], xs[320], memif[320], stats[320];
	char build[512], pvio[600], netio[600];
	const char *testpmd;
	pid_t pviod, netback;
	double warm, secs;
	int seq;                   /* for unique DPDK prefixes */
	const char *nb_poll_us;    /* pvio-netback --poll-us, NULL: its default */
	const char *only;          /* --case NAME: run only that case ("rx-64B") */
	int only_impl;             /* --impl NAME: only that implementation, or -1 */
};

static pid_t g_pids[MAX_PIDS];  /* everything we started and not yet reaped */

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

		if (fd < 0)
			return -1;
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

static int pmd_start(struct env *e, struct pmd *p, int cpu, const char *vdev, const char *mode,
		     unsigned size, const char *peer)
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
	char *av[] = { (char *)e->testpmd, "--lcores", lc, "--no-huge", "-m", "1024", "--no-pci",
		       pf, "--vdev", (char *)vdev, "--", fm, "--nb-cores=1", txp, ep, NULL };
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

static int dpdk_run(struct env *e, enum impl im, enum dir d, unsigned size, struct res *out)
{
	struct pmd srv = { 0 }, cli = { 0 };
	char vs[400], vc[400], sock[340];
	int tfd = -1, r = -1;
	double p0, b0, p1, b1;
	struct cpus c0, c1;

	memset(out, 0, sizeof(*out));
	if (im == I_VHOST) {
		snprintf(sock, sizeof(sock), "%s/vhost-%d.sock", e->dir, e->seq);
		snprintf(vs, sizeof(vs), "net_vhost0,iface=%s,queues=1", sock);
		snprintf(vc, sizeof(vc), "net_virtio_user0,path=%s,queues=1", sock);
	} else {
		snprintf(sock, sizeof(sock), "%s/memif-%d.sock", e->dir, e->seq);
		snprintf(vs, sizeof(vs), "net_memif0,role=server,socket=%s,socket-abstract=no", sock);
		snprintf(vc, sizeof(vc), "net_memif0,role=client,socket=%s,socket-abstract=no", sock);
	}
	/* Server on CPU 1, client on CPU 0 (DPDK-NOTES §3); tx: the client
	 * sends, the server receives; rx the other way. */
	if (pmd_start(e, &srv, 1, vs, d == D_TX ? "rxonly" : "txonly", size, NULL) < 0)
		goto out;
	/* vhost must have created its socket before virtio-user connects */
	for (int i = 0; i < 200 && access(sock, F_OK) != 0; i++)
		usleep(25000);
	if (pmd_start(e, &cli, 0, vc, d == D_TX ? "txonly" : "rxonly", size, NULL) < 0)
		goto out;
	tfd = tel_connect(d == D_TX ? srv.prefix : cli.prefix, 20);
	if (tfd < 0) {
		fprintf(stderr, "bench net: no telemetry from testpmd (see %s/testpmd.log)\n",
			e->dir);
		goto out;
	}
	/* Wait for traffic, then warm-up, then the window. */
	{
		uint64_t t0 = bench_now_ns();

		while (tel_stats(tfd, &p0, &b0) == 0 && p0 <= 0 &&
		       bench_now_ns() - t0 < 20000000000ull)
			usleep(20000);
		if (p0 <= 0) {
			fprintf(stderr, "bench net: %s %s: no traffic\n", impl_name[im], dir_name[d]);
			goto out;
		}
	}
	sleep_s(e->warm);
	c0.n = c1.n = 2;
	c0.pid[0] = c1.pid[0] = srv.pid;
	c0.pid[1] = c1.pid[1] = cli.pid;
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
	unlink(sock);
	return r;
}

/* ------------------------------------------------------------ pvio */

#define MAC_TX  "00:16:3e:00:00:10"
#define MAC_RX  "00:16:3e:00:00:20"
#define MAC_GA  "00:16:3e:00:00:31"
#define MAC_GB  "00:16:3e:00:00:32"

static int wait_ready(int rfd, double timeout_s)
{
	char b[8];
	int r;

	(void)timeout_s;
	r = (int)read(rfd, b, sizeof(b));
	close(rfd);
	return r > 0 ? 0 : -1;
}

/* Start `pvio run --domain dom -- pvio-netio ARGS` on cpu, stdout to a pipe
 * (*outfd); with ready, wait for its --ready-fd. */
static pid_t netio_start(struct env *e, const char *dom, int cpu, char **args, int nargs,
			 bool ready, int *outfd)
{
	char *av[40], rfd[16], log[400];
	int op[2], rp[2] = { -1, -1 }, k = 0;
	pid_t p;

	if (pipe2(op, O_CLOEXEC) < 0)
		return -1;
	if (ready && pipe(rp) < 0)
		return -1;
	snprintf(log, sizeof(log), "%s/netio.log", e->dir);
	av[k++] = e->pvio;
	av[k++] = "run";
	av[k++] = "--domain";
	av[k++] = (char *)dom;
	av[k++] = "--";
	av[k++] = e->netio;
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
			fprintf(stderr, "bench net: pvio-netio on %s did not start (see %s)\n", dom, log);
			if (p > 0)
				stop_pid(p, SIGKILL);
			close(op[0]);
			return -1;
		}
	}
	return p;
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
static int pv_start(struct env *e, const char *gen_pcap);
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
		if (write_pcap(pcap, size) < 0 || pv_start(&g, pcap) < 0) {
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
		if (pmd_start(e, &gen, 0, vc, "txonly", size, MAC_RX) < 0)
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

/* Start pviod, pvio-netback (CPU 1) and the guests. gen_pcap NULL: the
 * main side (uplinks net_null, memif; guests gtx, grx, ga, gb); else the
 * generating side of the rx case: one net_pcap uplink replaying gen_pcap
 * without end, and the guest grx on its bridge. */
static int pv_start(struct env *e, const char *gen_pcap)
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
	if (gen_pcap) {
		if (snprintf(up1, sizeof(up1), "brgen=net_pcap0,rx_pcap=%s,infinite_rx=1",
			     gen_pcap) >= (int)sizeof(up1))
			return -1;
	} else {
		snprintf(up1, sizeof(up1), "brnull=net_null0,no-rx=1");
		snprintf(up2, sizeof(up2),
			 "brmem=net_memif0,role=server,socket=%s,socket-abstract=no", e->memif);
	}
	{
		char *av[20] = { bin, "--socket", e->sock, "--ready-fd", rfd, "--stats-file",
				 e->stats, "--max-queues", "1", "--uplink", up1 };
		int k = 11;

		if (!gen_pcap) {
			av[k++] = "--uplink";
			av[k++] = up2;
		}
		if (e->nb_poll_us) {
			av[k++] = "--poll-us";
			av[k++] = (char *)e->nb_poll_us;
		}
		av[k] = NULL;
		/* All of pvio-netback's threads on CPU 1 (they inherit it). */
		e->netback = spawn(av, 1, -1, -1, log);
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
	const char *(*dl)[3] = gen_pcap ? gdoms : doms;
	unsigned nd = gen_pcap ? 1 : 4;

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

/* ------------------------------------------------------------ driver */

static volatile sig_atomic_t g_sig;

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
		   "               --case NAME   only that case (tx-64B, rx-1500B, g2g-64B, ...;\n"
		   "                             with --out, to keep the full results)\n"
		   "               --impl NAME   only pvio, dpdk-vhost-user or dpdk-memif (profiling)\n"
		   "               --testpmd PATH (default dpdk-testpmd from PATH, package dpdk-dev)\n"
		   "  Needs root (DPDK runtime folders), pvio-netback (libdpdk) and dpdk-testpmd.\n");
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

/* Is `name` the case of direction d, size index s ("rx-64B")? */
static bool case_is(const char *name, unsigned d, unsigned s)
{
	char n[32];

	snprintf(n, sizeof(n), "%s-%uB", dir_name[d], sizes[s]);
	return strcmp(name, n) == 0;
}

static int net_run(const struct bench_opts *o, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "seconds", required_argument, NULL, 's' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "testpmd", required_argument, NULL, 'p' },
		{ "nb-poll-us", required_argument, NULL, 'P' },
		{ "case", required_argument, NULL, 'c' },
		{ "impl", required_argument, NULL, 'i' },
		{ NULL, 0, NULL, 0 },
	};
	struct env e = { .pviod = -1, .netback = -1, .only_impl = -1 };
	int reps = o->quick ? 1 : o->reps, c, rc = 0;
	struct cell (*res)[NR_DIR][NR_SIZES];
	char load0[128], load1[128];

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
		case 'c': e.only = optarg; break;
		case 'i':
			for (e.only_impl = NR_IMPL - 1; e.only_impl >= 0; e.only_impl--)
				if (strcmp(optarg, impl_name[e.only_impl]) == 0)
					break;
			if (e.only_impl < 0) {
				fprintf(stderr, "bench net: --impl: no '%s' (pvio, dpdk-vhost-user, "
					"dpdk-memif)\n", optarg);
				return 2;
			}
			break;
		default: return 2;
		}
	}
	if (e.only) {
		bool known = false;

		for (unsigned s = 0; s < NR_SIZES; s++)
			for (unsigned d = 0; d < NR_DIR; d++)
				known |= case_is(e.only, d, s);
		if (!known) {
			fprintf(stderr, "bench net: --case: no case '%s' (tx|rx|g2g-64B|1500B)\n",
				e.only);
			return 2;
		}
	}
	if (!e.testpmd) {
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
	if (!res)
		return 1;
	{
		struct sigaction sa = { .sa_handler = on_sig };

		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		sigaction(SIGHUP, &sa, NULL);
	}
	loadavg(load0, sizeof(load0));
	bench_progress("net: starting pviod, pvio-netback and 4 guests");
	if (pv_start(&e, NULL) < 0) {
		fprintf(stderr, "bench net: cannot start the pvio side from %s\n", e.build);
		rc = 1;
		goto out;
	}
	/* Interleaved: for each rep, each case: pvio, vhost-user, memif. */
	for (int r = 0; r < reps && !rc && !g_sig; r++)
		for (unsigned s = 0; s < NR_SIZES && !rc && !g_sig; s++)
			for (unsigned d = 0; d < NR_DIR && !rc && !g_sig; d++)
				for (unsigned im = 0; im < NR_IMPL && !g_sig; im++) {
					struct res *x = &res[r][d][s].r[im];

					if (pvio_only(d) && im != I_PVIO)
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
	if (g_sig)
		rc = 1;
out:
	pv_stop(&e);
	kill_all();
	bench_progress_done();
	loadavg(load1, sizeof(load1));
	if (rc) {
		free(res);
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
	bench_json_str(&j, "note", "rates at the receiver, L2 frame bytes; cpu_ns_per_pkt: CPU "
		       "of every process of the pipeline over the window / frames; rx: "
		       "pvio-netback generates (net_pcap infinite_rx), as vhost txonly does; "
		       "rx-peer (memif generator sharing the guest's CPU) and g2g have no "
		       "DPDK peer (baseline_value = vhost-user rx / tx, same size)");
	bench_json_arr_begin(&j, "cases");
	FILE *outs[2] = { stdout, tf };
	for (int w = 0; w < 2; w++) {
		fprintf(outs[w], "pvio-bench net: %s\nload average: before %s; after %s\n", mline,
			load0, load1);
		fprintf(outs[w], "%-10s %8s %8s %8s %6s %8s %8s %8s %8s %8s %8s %6s %6s\n", "case",
			"pv Mpps", "vh Mpps", "mf Mpps", "ratio", "pv Gb/s", "vh Gb/s", "mf Gb/s",
			"pv ns/p", "vh ns/p", "mf ns/p", "pv cpu", "vh cpu");
	}
	double chart[NR_DIR][NR_SIZES] = { { 0 } };
	for (unsigned s = 0; s < NR_SIZES; s++)
		for (unsigned d = 0; d < NR_DIR; d++) {
			struct res m[NR_IMPL];
			char name[32];

			for (unsigned im = 0; im < NR_IMPL; im++) {
				unsigned src = (pvio_only(d) && im != I_PVIO) ? base_dir[d] : d;
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
			if (pvio_only(d))
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
			bench_json_str(&j, "baseline", "dpdk-vhost-user");
			bench_json_num(&j, "baseline_value", m[I_VHOST].mpps);
			bench_json_num(&j, "pvio_value", m[I_PVIO].mpps);
			bench_json_str(&j, "unit", "Mpps");
			bench_json_num(&j, "ratio", ratio);
			bench_json_int(&j, "frame_bytes", sizes[s]);
			bench_json_str(&j, "direction", dir_name[d]);
			bench_json_num(&j, "pvio_gbps", m[I_PVIO].gbps);
			bench_json_num(&j, "baseline_gbps", m[I_VHOST].gbps);
			bench_json_num(&j, "pvio_cpu_ns_per_pkt", m[I_PVIO].cpu_ns_pkt);
			bench_json_num(&j, "baseline_cpu_ns_per_pkt", m[I_VHOST].cpu_ns_pkt);
			bench_json_num(&j, "pvio_cpus_busy", m[I_PVIO].cpu_util);
			bench_json_num(&j, "baseline_cpus_busy", m[I_VHOST].cpu_util);
			if (!pvio_only(d)) {
				bench_json_num(&j, "memif_value", m[I_MEMIF].mpps);
				bench_json_num(&j, "memif_gbps", m[I_MEMIF].gbps);
				bench_json_num(&j, "memif_cpu_ns_per_pkt", m[I_MEMIF].cpu_ns_pkt);
			} else
				bench_json_str(&j, "baseline_note", d == D_G2G ?
					       "no 3-process DPDK peer: vhost-user tx figure for "
					       "reference" : "no 3-process DPDK peer: vhost-user rx "
					       "figure for reference");
			bench_json_arr_begin(&j, "reps");
			for (int r = 0; r < reps; r++) {
				unsigned src = base_dir[d];

				bench_json_obj_begin(&j, NULL);
				bench_json_num(&j, "pvio", res[r][d][s].r[I_PVIO].mpps);
				bench_json_num(&j, "baseline", res[r][src][s].r[I_VHOST].mpps);
				if (!pvio_only(d))
					bench_json_num(&j, "memif", res[r][d][s].r[I_MEMIF].mpps);
				bench_json_num(&j, "pvio_cpus_busy", res[r][d][s].r[I_PVIO].cpu_util);
				bench_json_num(&j, "baseline_cpus_busy",
					       res[r][src][s].r[I_VHOST].cpu_util);
				bench_json_obj_end(&j);
			}
			bench_json_arr_end(&j);
			bench_json_obj_end(&j);
		}
	bench_json_arr_end(&j);
	bench_json_obj_end(&j);
	fclose(jf);
	for (int w = 0; w < 2; w++)
		fprintf(outs[w], "pv/vh/mf: pvio / dpdk vhost-user / dpdk memif; ratio = pvio/vhost "
			"Mpps; ns/p: CPU ns per frame, all processes; cpu: CPUs busy (of 2)\n"
			"rx: pvio-netback generates (net_pcap, infinite_rx) -> guest, as vhost txonly "
			"-> virtio-user\nrx-peer: testpmd memif txonly (on the guest's CPU) -> "
			"pvio-netback -> guest (no DPDK peer; vh = vhost rx)\n"
			"g2g: guest -> pvio-netback -> guest (no DPDK peer; vh = vhost tx)\n");
	fclose(tf);
	printf("JSON: %s\n", path);

	char dat[640], png[640], cmd[2048];
	snprintf(dat, sizeof(dat), "%s.dat", tpath);
	bench_out_path(o, "net", "png", png, sizeof(png));
	FILE *df = fopen(dat, "w");
	if (df) {
		for (unsigned s = 0; s < NR_SIZES; s++)
			for (unsigned d = 0; d < NR_DIR; d++)
				fprintf(df, "\"%s-%uB\" %.3f\n", dir_name[d], sizes[s], chart[d][s]);
		fclose(df);
		snprintf(cmd, sizeof(cmd),
			 "gnuplot -e \"set terminal png size 900,450; set output '%s'; "
			 "set title 'pvio / DPDK vhost-user (Mpps ratio, median)'; "
			 "set style fill solid; set yrange [0:*]; set grid y; "
			 "plot '%s' using 2:xtic(1) with boxes title 'pvio/vhost-user', 1 with "
			 "lines title 'vhost-user'\" 2>/dev/null", png, dat);
		if (system(cmd) == 0)
			printf("chart: %s\n", png);
		unlink(dat);
	}
	free(v);
	free(res);
	return 0;
}

const struct bench_cmd bench_cmd_net = {
	.name = "net",
	.summary = "network path: pvio (guest <-> pvio-netback) vs DPDK vhost-user and memif (Mpps)",
	.usage = net_usage,
	.run = net_run,
};
