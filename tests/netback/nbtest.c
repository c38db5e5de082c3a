/* SPDX-License-Identifier: MIT */
/* End-to-end harness for pvio-netback: see nbtest.h. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "netback/nb_pkt.h"
#include "tests/common/testutil.h"
#include "tests/netback/nbtest.h"
#include "xenstore/xenbus.h"

struct nbt_world nbt_worlds[NBT_WORLDS] = {
	{ .pviod = -1, .netback = -1 }, { .pviod = -1, .netback = -1 },
};
struct nbt_world *nbt_cur = &nbt_worlds[0];
static bool cleanup_registered;

void nbt_select(unsigned i)
{
	nbt_cur = &nbt_worlds[i % NBT_WORLDS];
}

static void rm_runtime_dir(pid_t pid)
{
	char cmd[200];

	/* netback's default --file-prefix is pvio-netback-<pid>. */
	snprintf(cmd, sizeof(cmd), "rm -rf /var/run/dpdk/pvio-netback-%d", (int)pid);
	if (system(cmd) != 0) {
		/* nothing there */
	}
}

static void cleanup_world(void)
{
	if (getenv("NBT_LOG"))
		nbt_dump_log();
	if (nbt.netback > 0) {
		pid_t p = nbt.netback;

		kill(p, SIGTERM);
		for (int i = 0; i < 500; i++) {
			if (waitpid(p, NULL, WNOHANG) == p) {
				p = -1;
				break;
			}
			usleep(10000);
		}
		if (p > 0) {
			kill(p, SIGKILL);
			waitpid(p, NULL, 0);
		}
		rm_runtime_dir(nbt.netback);
		nbt.netback = -1;
	}
	if (nbt.xs)
		pvio_xs_close(nbt.xs);
	nbt.xs = NULL;
	if (nbt.pviod > 0)
		tu_stop(nbt.pviod);
	nbt.pviod = -1;
	tu_rmdir(nbt.dir);
}

static void cleanup(void)
{
	for (unsigned i = 0; i < NBT_WORLDS; i++) {
		nbt_select(i);
		cleanup_world();
	}
}

void nbt_require_netback(void)
{
	char bin[512];

	snprintf(bin, sizeof(bin), "%s/netback/pvio-netback", tu_build_dir());
	if (access(bin, X_OK) != 0)
		tu_skip("pvio-netback was not built (libdpdk missing)");
	if (access("/var/run", W_OK) != 0)
		tu_skip("DPDK needs a writable /var/run");
}

void nbt_start(void)
{
	int fd;

	nbt.pviod = tu_start_pviod(nbt.dir, sizeof(nbt.dir), nbt.sock, sizeof(nbt.sock),
				   nbt.xs_path, sizeof(nbt.xs_path));
	REQUIRE(nbt.pviod > 0);
	if (!cleanup_registered)
		atexit(cleanup);
	cleanup_registered = true;
	snprintf(nbt.stats, sizeof(nbt.stats), "%s/netback.stats", nbt.dir);
	snprintf(nbt.log, sizeof(nbt.log), "%s/netback.log", nbt.dir);
	REQUIRE(pvio_hv_socket_connect(nbt.sock, &nbt.dom0) == 0);
	REQUIRE(pvio_hv_xs_connect(nbt.dom0, &fd) == 0);
	REQUIRE(pvio_xs_open_fd(fd, &nbt.xs) == 0);
}

void nbt_dump_log(void)
{
	char line[1024];
	FILE *f = fopen(nbt.log, "r");

	if (!f)
		return;
	fprintf(stderr, "---- pvio-netback log (world %d)\n", (int)(nbt_cur - nbt_worlds));
	while (fgets(line, sizeof(line), f))
		fprintf(stderr, "| %s", line);
	fclose(f);
}

int nbt_start_netback(const char *const *args)
{
	char bin[512], rfd[16], buf[8];
	const char *argv[64];
	int p[2], n = 0;
	pid_t pid;

	snprintf(bin, sizeof(bin), "%s/netback/pvio-netback", tu_build_dir());
	REQUIRE(pipe(p) == 0);
	snprintf(rfd, sizeof(rfd), "%d", p[1]);
	argv[n++] = "pvio-netback";
	argv[n++] = "--socket";
	argv[n++] = nbt.sock;
	argv[n++] = "--stats-file";
	argv[n++] = nbt.stats;
	argv[n++] = "--ready-fd";
	argv[n++] = rfd;
	for (int i = 0; args && args[i] && n < 62; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		int lf = open(nbt.log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		close(p[0]);
		if (lf >= 0) {
			dup2(lf, 2);
			dup2(lf, 1);
			close(lf);
		}
		execv(bin, (char *const *)argv);
		fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
		_exit(127);
	}
	close(p[1]);
	nbt.netback = pid;
	n = (int)read(p[0], buf, sizeof(buf));
	close(p[0]);
	if (n <= 0) {
		fprintf(stderr, "pvio-netback did not start\n");
		nbt_dump_log();
		waitpid(pid, NULL, 0);
		rm_runtime_dir(pid);
		nbt.netback = -1;
		return -1;
	}
	return 0;
}

int nbt_stop_netback(void)
{
	int st = -1;

	if (nbt.netback <= 0)
		return -1;
	kill(nbt.netback, SIGTERM);
	waitpid(nbt.netback, &st, 0);
	rm_runtime_dir(nbt.netback);
	nbt.netback = -1;
	return st;
}

/* ------------------------------------------------------------ toolstack */

struct dom_args {
	uint16_t domid;
};

static int mkdir_perms(struct pvio_xs *xs, uint32_t tx, const char *path,
		       const struct pvio_xs_perm *perms, unsigned n)
{
	int r = pvio_xs_mkdir(xs, tx, path);

	return r < 0 ? r : pvio_xs_set_perms(xs, tx, path, perms, n);
}

static int dom_nodes(struct pvio_xs *xs, uint32_t tx, void *arg)
{
	struct dom_args *a = arg;
	struct pvio_xs_perm dp[2] = { { 0, PVIO_XS_PERM_NONE }, { a->domid, PVIO_XS_PERM_READ } };
	struct pvio_xs_perm gp[1] = { { a->domid, PVIO_XS_PERM_NONE } };
	char path[128];
	int r;

	snprintf(path, sizeof(path), "/local/domain/%u", a->domid);
	if ((r = mkdir_perms(xs, tx, path, dp, 2)) < 0)
		return r;
	snprintf(path, sizeof(path), "/local/domain/%u/device", a->domid);
	return mkdir_perms(xs, tx, path, gp, 1);
}

struct pvio_hv *nbt_guest(const char *name, unsigned mem_mb, uint16_t *domid)
{
	struct pvio_hv *g;
	struct dom_args a;
	int fd;

	REQUIRE(pvio_hv_domain_create(nbt.dom0, name, (uint64_t)mem_mb << 20, domid) == 0);
	a.domid = *domid;
	REQUIRE(pvio_xs_transaction_run(nbt.xs, dom_nodes, &a) >= 0);
	REQUIRE(pvio_hv_domain_connect(nbt.dom0, *domid, &fd) == 0);
	REQUIRE(pvio_hv_socket_from_fd(fd, &g) == 0);
	return g;
}

struct pvio_hv *nbt_guest_vif(unsigned i, unsigned tag, unsigned mem_mb, uint16_t *domid,
			      uint8_t mac[6])
{
	char name[16], m[20];
	struct nbt_vif v = { .mac = m };
	struct pvio_hv *g;

	snprintf(name, sizeof(name), "guest%u", i);
	snprintf(m, sizeof(m), "02:00:00:00:%02x:%02x", tag & 0xff, i & 0xff);
	REQUIRE(nb_mac_parse(m, mac) == 0);
	g = nbt_guest(name, mem_mb, domid);
	REQUIRE(nbt_vif_add(*domid, 0, &v) == 0);
	return g;
}

struct vif_args {
	uint16_t domid;
	uint32_t devid;
	const struct nbt_vif *v;
};

static int put(struct pvio_xs *xs, uint32_t tx, const char *dir, const char *key,
	       const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int put(struct pvio_xs *xs, uint32_t tx, const char *dir, const char *key,
	       const char *fmt, ...)
{
	char path[256], val[256];
	va_list ap;
	int n;

	snprintf(path, sizeof(path), "%s/%s", dir, key);
	va_start(ap, fmt);
	n = vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	return pvio_xs_write(xs, tx, path, val, (size_t)n);
}

static int vif_nodes(struct pvio_xs *xs, uint32_t tx, void *arg)
{
	struct vif_args *a = arg;
	/* As libxl: the backend dir is dom0's, readable by the guest; the
	 * frontend dir the guest's, readable by dom0. */
	struct pvio_xs_perm bp[2] = { { 0, PVIO_XS_PERM_NONE }, { a->domid, PVIO_XS_PERM_READ } };
	struct pvio_xs_perm fp[2] = { { a->domid, PVIO_XS_PERM_NONE }, { 0, PVIO_XS_PERM_READ } };
	char be[160], fe[160];
	int r;

	snprintf(be, sizeof(be), "/local/domain/0/backend/vif/%u/%u", a->domid, a->devid);
	snprintf(fe, sizeof(fe), "/local/domain/%u/device/vif/%u", a->domid, a->devid);
	if ((r = mkdir_perms(xs, tx, fe, fp, 2)) < 0 || (r = mkdir_perms(xs, tx, be, bp, 2)) < 0)
		return r;
	if ((r = put(xs, tx, fe, "backend", "%s", be)) < 0 ||
	    (r = put(xs, tx, fe, "backend-id", "0")) < 0 ||
	    (r = put(xs, tx, fe, "handle", "%u", a->devid)) < 0 ||
	    (r = put(xs, tx, fe, "state", "1")) < 0)
		return r;
	if (a->v->mac && (r = put(xs, tx, fe, "mac", "%s", a->v->mac)) < 0)
		return r;
	if ((r = put(xs, tx, be, "frontend", "%s", fe)) < 0 ||
	    (r = put(xs, tx, be, "frontend-id", "%u", a->domid)) < 0 ||
	    (r = put(xs, tx, be, "handle", "%u", a->devid)) < 0 ||
	    (r = put(xs, tx, be, "online", "1")) < 0 ||
	    (r = put(xs, tx, be, "state", "1")) < 0)
		return r;
	if (a->v->mac && (r = put(xs, tx, be, "mac", "%s", a->v->mac)) < 0)
		return r;
	if (a->v->bridge && (r = put(xs, tx, be, "bridge", "%s", a->v->bridge)) < 0)
		return r;
	if (a->v->no_mac_filter && (r = put(xs, tx, be, "mac-filter", "0")) < 0)
		return r;
	return 0;
}

int nbt_vif_add(uint16_t domid, uint32_t devid, const struct nbt_vif *v)
{
	struct vif_args a = { .domid = domid, .devid = devid, .v = v };
	int r = pvio_xs_transaction_run(nbt.xs, vif_nodes, &a);

	return r < 0 ? r : 0;
}

void nbt_vif_del(uint16_t domid, uint32_t devid)
{
	char path[160];

	snprintf(path, sizeof(path), "/local/domain/0/backend/vif/%u/%u", domid, devid);
	pvio_xs_rm(nbt.xs, PVIO_XS_NO_TX, path);
	snprintf(path, sizeof(path), "/local/domain/%u/device/vif/%u", domid, devid);
	pvio_xs_rm(nbt.xs, PVIO_XS_NO_TX, path);
}

int nbt_be_wait(uint16_t domid, uint32_t devid, unsigned mask, int timeout_ms)
{
	char be[160];
	enum pvio_xenbus_state st = PVIO_XENBUS_STATE_UNKNOWN;
	int r;

	snprintf(be, sizeof(be), "/local/domain/0/backend/vif/%u/%u", domid, devid);
	r = pvio_xenbus_wait_state(nbt.xs, be, mask, timeout_ms, &st);
	return r < 0 ? r : (int)st;
}

/* ------------------------------------------------------------ statistics */

static long long file_value(const char *key)
{
	char line[512];
	size_t kl = strlen(key);
	long long v = -1;
	FILE *f = fopen(nbt.stats, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, kl) == 0 && line[kl] == ' ') {
			v = strtoll(line + kl + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

long long nbt_stat(const char *key)
{
	long long seq = file_value("seq");

	if (nbt.netback <= 0)
		return file_value(key);
	kill(nbt.netback, SIGUSR1);
	for (int i = 0; i < 400 && file_value("seq") == seq; i++)
		usleep(5000);
	return file_value(key);
}

long long nbt_stat_wait(const char *key, long long want, bool exact, int timeout_ms)
{
	double end = tu_now() + timeout_ms / 1000.0;
	long long v;

	for (;;) {
		v = nbt_stat(key);
		if (exact ? v == want : v >= want)
			return v;
		if (tu_now() >= end)
			return v;
		usleep(10000);
	}
}
