/* SPDX-License-Identifier: MIT */
/*
 * pvio: the toolstack CLI (xl-like). Talks to pviod as dom0.
 *
 *   pvio create NAME [memory=SIZE]     create a domain (default 256M)
 *   pvio create [-f] FILE [KEY=VALUE]  create one from xl's domain config file
 *   pvio destroy NAME                  destroy it
 *   pvio list                          list domains
 *   pvio run --domain NAME -- PROG...  run PROG as domain NAME (it inherits
 *                                      an already-bound connection: PVIO_HV_FD)
 *   pvio block-attach/-detach/-list    disks (xl syntax)
 *   pvio block-set-throttle            a disk's limits, live (QEMU's names)
 *   pvio network-attach/-detach/-list  vifs (xl syntax)
 *   pvio network-set-rate              a vif's tx rate, live (xl's rate=)
 *   pvio top [--batch] [--json] ...    xentop: the backends' counters
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "blkback/rbd.h"
#include "ring/xenbus_abi.h"

#include "hv/hv.h"
#include "tools/cli.h"
#include "tools/toolstack.h"
#include "xenstore/xs.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pvio [--socket PATH] COMMAND [ARGS]\n"
		"  create NAME [memory=SIZE]      create a domain (SIZE: bytes or K/M/G; default 256M)\n"
		"  create [-f] FILE [KEY=VALUE..] create a domain from xl's domain config file\n"
		"                                 (name, memory in MiB, disk = [ DISKSPEC, ... ],\n"
		"                                 vif = [ VIFSPEC, ... ]; KEY=VALUE lines override\n"
		"                                 it); FILE: -f, a '/', a .cfg name or a file\n"
		"  destroy NAME                   destroy a domain\n"
		"  list                           list domains\n"
		"  run --domain NAME -- PROG ...  run PROG as domain NAME\n"
		"  block-attach NAME DISKSPEC     attach a disk, xl syntax: 'format=raw, vdev=xvda,\n"
		"                                 access=rw, target=/path/img' or '/path/img,raw,xvda,rw'\n"
		"                                 or target=rbd:POOL/IMAGE[@SNAP][:id=USER][:conf=PATH]\n"
		"                                 [:CEPH_OPTION=VALUE]... (a Ceph RBD image, librbd)\n"
		"                                 (pvio keys: engine=io_uring|libaio|psync|rbd, direct=0|1,\n"
		"                                 sector-size=512|4096, discard, no-discard,\n"
		"                                 fault-inject=SPEC (a failing disk, for tests:\n"
		"                                 'eio:op=write:after=20:count=3;delay:ms=500'); QEMU's limits\n"
		"                                 throttling.iops-total=N, throttling.bps-read-max=N, ...,\n"
		"                                 throttling.group=NAME, before target=)\n"
		"  block-set-throttle NAME VDEV LIMITS|none\n"
		"                                 replace the disk's limits while it runs: QEMU's\n"
		"                                 throttling.{bps,iops}-{total,read,write}[-max[-length]],\n"
		"                                 throttling.iops-size, throttling.group (disks in a group\n"
		"                                 share one budget); none lifts them\n"
		"  block-detach NAME VDEV         detach it (xvda or a device number)\n"
		"  block-list NAME                list the domain's disks\n"
		"  network-attach NAME VIFSPEC    attach a vif, xl syntax: 'mac=00:16:3e:01:02:03,\n"
		"                                 bridge=br0' (also ip=, type=vif, model=, vifname=,\n"
		"                                 script=, devid=, mtu=, rate=10Mb/s@50ms; no mac: a\n"
		"                                 random 00:16:3e one)\n"
		"  network-set-rate NAME DEVID|MAC RATE|none\n"
		"                                 change the vif's tx rate while it runs (xl's rate:\n"
		"                                 10Mb/s, 500KB/s@20ms; b bits, B bytes, K/M/G 1000s)\n"
		"  network-detach NAME DEVID|MAC  detach it\n"
		"  network-list NAME              list the domain's vifs\n"
		"  top [-b] [-i N] [-d S] [--json] the backends' counters per domain and their\n"
		"                                 workers' CPU time, every second (xentop)\n"
		"The control socket is $PVIO_SOCKET, else /run/pvio/pviod.sock.\n");
}

static int pvio_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	uint64_t mul = 1;

	/* digits first: strtoull would also take " -5" (as 2^64 - 5) and "+5" */
	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	switch (*end) {
	case 0: break;
	case 'k': case 'K': mul = 1ull << 10; end++; break;
	case 'm': case 'M': mul = 1ull << 20; end++; break;
	case 'g': case 'G': mul = 1ull << 30; end++; break;
	default: return -EINVAL;
	}
	if (*end == 'i' || *end == 'B' || *end == 'b')
		end++;
	if (*end || v > UINT64_MAX / mul)
		return -EINVAL;
	*out = v * mul;
	return 0;
}

static int open_dom0(const char *sock, struct pvio_hv **hv)
{
	int r = pvio_hv_socket_connect(sock ? sock : getenv("PVIO_SOCKET"), hv);

	if (r < 0)
		fprintf(stderr, "pvio: cannot reach pviod at %s: %s\n",
			sock ? sock : getenv("PVIO_SOCKET") ? getenv("PVIO_SOCKET")
							     : "/run/pvio/pviod.sock",
			strerror(-r));
	return r;
}

static int cmd_create(struct pvio_hv *hv, struct pvio_xs *xs, int argc, char **argv)
{
	uint64_t mem = 256ull << 20;
	uint16_t domid;
	int r;

	if (argc < 1) {
		fprintf(stderr, "pvio create: missing NAME or config FILE\n");
		return 2;
	}
	if (pvio_create_is_cfg(argv[0]))
		return pvio_cmd_create_cfg(hv, xs, argc, argv);
	for (int i = 1; i < argc; i++) {
		if (strncmp(argv[i], "memory=", 7) == 0) {
			if (pvio_parse_size(argv[i] + 7, &mem) < 0 || mem % 4096 || mem == 0) {
				fprintf(stderr, "pvio create: bad memory size '%s' "
					"(a multiple of 4K, e.g. memory=256M)\n", argv[i] + 7);
				return 2;
			}
		} else {
			fprintf(stderr, "pvio create: unknown option '%s'\n", argv[i]);
			return 2;
		}
	}
	r = pvio_ts_domain_create(hv, xs, argv[0], mem, &domid);
	if (r < 0) {
		fprintf(stderr, "pvio create: %s: %s\n", argv[0],
			r == -EEXIST ? "a domain of that name exists" :
			r == -EINVAL ? "invalid name or memory size" : strerror(-r));
		return 1;
	}
	printf("%u\n", domid);
	return 0;
}

static int lookup(struct pvio_hv *hv, const char *name, uint16_t *domid)
{
	struct pvio_hv_domain_info info;
	int r = pvio_hv_domain_lookup(hv, name, &info);

	if (r < 0) {
		fprintf(stderr, "pvio: no domain named '%s'\n", name);
		return r;
	}
	*domid = info.domid;
	return 0;
}

static int cmd_destroy(struct pvio_hv *hv, struct pvio_xs *xs, int argc, char **argv)
{
	uint16_t domid;
	int r;

	if (argc != 1) {
		fprintf(stderr, "pvio destroy: expected NAME\n");
		return 2;
	}
	if (lookup(hv, argv[0], &domid) < 0)
		return 1;
	r = pvio_ts_domain_destroy(hv, xs, domid);
	if (r < 0) {
		fprintf(stderr, "pvio destroy: %s: %s\n", argv[0], strerror(-r));
		return 1;
	}
	return 0;
}

static int cmd_list(struct pvio_hv *hv)
{
	struct pvio_hv_domain_info *v;
	int n = pvio_hv_domain_list(hv, NULL, 0);

	if (n < 0) {
		fprintf(stderr, "pvio list: %s\n", strerror(-n));
		return 1;
	}
	v = calloc((size_t)n + 1, sizeof(*v));
	if (!v)
		return 1;
	n = pvio_hv_domain_list(hv, v, (unsigned)n + 1);
	printf("%-24s %5s %10s\n", "Name", "ID", "Mem(MiB)");
	for (int i = 0; i < n; i++)
		printf("%-24s %5u %10" PRIu64 "\n", v[i].name, v[i].domid,
		       v[i].mem_bytes >> 20);
	free(v);
	return 0;
}

static const char *state_name(int st)
{
	return st < 0 ? "-" : pvio_xenbus_state_name((enum pvio_xenbus_state)st);
}

static int cmd_block(struct pvio_hv *hv, struct pvio_xs *xs, const char *cmd, int argc,
		     char **argv)
{
	uint16_t domid;
	char err[256] = "";
	int r;

	if (argc < 1) {
		fprintf(stderr, "pvio %s: missing NAME\n", cmd);
		return 2;
	}
	if (lookup(hv, argv[0], &domid) < 0)
		return 1;
	if (strcmp(cmd, "block-attach") == 0) {
		struct pvio_diskspec ds;
		char spec[2048] = "";

		if (argc < 2) {
			fprintf(stderr, "pvio block-attach: missing DISKSPEC\n");
			return 2;
		}
		/* The spec may arrive as one word or several. */
		for (int i = 1; i < argc; i++) {
			if (strlen(spec) + strlen(argv[i]) + 2 >= sizeof(spec)) {
				fprintf(stderr, "pvio block-attach: DISKSPEC too long\n");
				return 2;
			}
			if (i > 1)
				strcat(spec, ",");
			strcat(spec, argv[i]);
		}
		if (pvio_diskspec_parse(spec, &ds, err, sizeof(err)) < 0) {
			fprintf(stderr, "pvio block-attach: bad DISKSPEC: %s\n", err);
			return 2;
		}
		if (!pvio_blk_target_is_rbd(ds.target) &&
		    access(ds.target, ds.readonly ? R_OK : R_OK | W_OK) < 0) {
			fprintf(stderr, "pvio block-attach: %s: %s\n", ds.target, strerror(errno));
			return 1;
		}
		r = pvio_ts_block_attach(xs, domid, &ds);
		if (r < 0) {
			fprintf(stderr, "pvio block-attach: %s: %s\n", ds.vdev,
				r == -EEXIST ? "already attached" : strerror(-r));
			return 1;
		}
		return 0;
	}
	if (strcmp(cmd, "block-set-throttle") == 0) {
		struct pvio_throttle_cfg cfg;
		uint32_t devid;
		char fmt[1024];

		if (argc < 3 || pvio_vdev_to_devid(argv[1], &devid) < 0) {
			fprintf(stderr, "pvio block-set-throttle: expected NAME VDEV LIMITS|none "
				"(e.g. xvda throttling.iops-total=2000)\n");
			return 2;
		}
		pvio_throttle_cfg_init(&cfg);
		if (!(argc == 3 && !strcmp(argv[2], "none"))) {
			for (int i = 2; i < argc; i++)
				if (pvio_throttle_cfg_parse(&cfg, argv[i], err, sizeof(err)) < 0) {
					fprintf(stderr, "pvio block-set-throttle: %s (the disk "
						"keeps its limits)\n", err);
					return 2;
				}
		}
		if (pvio_throttle_cfg_validate(&cfg, err, sizeof(err)) < 0) {
			fprintf(stderr, "pvio block-set-throttle: %s (the disk keeps its limits)\n",
				err);
			return 2;
		}
		r = pvio_ts_block_set_throttle(xs, domid, devid, &cfg);
		if (r < 0) {
			fprintf(stderr, "pvio block-set-throttle: %s: %s\n", argv[1],
				r == -ENOENT ? "no such disk" : strerror(-r));
			return 1;
		}
		pvio_throttle_cfg_format(&cfg, fmt, sizeof(fmt));
		printf("%s: %s\n", argv[1], fmt[0] ? fmt : "no limits");
		return 0;
	}
	if (strcmp(cmd, "block-detach") == 0) {
		uint32_t devid;

		if (argc != 2 || pvio_vdev_to_devid(argv[1], &devid) < 0) {
			fprintf(stderr, "pvio block-detach: expected NAME VDEV (e.g. xvda)\n");
			return 2;
		}
		r = pvio_ts_block_detach(xs, domid, devid, 10000);
		if (r < 0) {
			fprintf(stderr, "pvio block-detach: %s: %s\n", argv[1],
				r == -ENOENT ? "no such disk" : strerror(-r));
			return 1;
		}
		return 0;
	}
	/* block-list */
	struct pvio_ts_vbd v[64];
	r = pvio_ts_block_list(xs, domid, v, 64);
	if (r < 0) {
		fprintf(stderr, "pvio block-list: %s\n", strerror(-r));
		return 1;
	}
	printf("%-6s %-8s %-4s %-12s %-12s %s\n", "Vdev", "DevId", "Mode", "BE-state",
	       "FE-state", "Target");
	for (int i = 0; i < r && i < 64; i++)
		printf("%-6s %-8u %-4s %-12s %-12s %s\n", v[i].vdev, v[i].devid,
		       v[i].readonly ? "r" : "w", state_name(v[i].be_state),
		       state_name(v[i].fe_state), v[i].target);
	return 0;
}

/* A vif by devid or mac: 0, or the command's exit code (message said). */
static int vif_devid(struct pvio_xs *xs, uint16_t domid, const char *cmd, const char *arg,
		     uint32_t *devid)
{
	uint8_t mac[6];
	unsigned long v;
	char *end;

	if (pvio_mac_parse(arg, mac) == 0) {
		if (pvio_ts_net_find_mac(xs, domid, mac, devid) < 0) {
			fprintf(stderr, "pvio %s: %s: no vif with that mac\n", cmd, arg);
			return 1;
		}
		return 0;
	}
	errno = 0;
	v = strtoul(arg, &end, 10);
	if (!*arg || *end || errno || v > 65535 || !isdigit((unsigned char)*arg)) {
		fprintf(stderr, "pvio %s: '%s' is neither a devid nor a mac\n", cmd, arg);
		return 2;
	}
	*devid = (uint32_t)v;
	return 0;
}

static int cmd_network(struct pvio_hv *hv, struct pvio_xs *xs, const char *cmd, int argc,
		       char **argv)
{
	uint16_t domid;
	char err[256] = "";
	int r;

	if (argc < 1) {
		fprintf(stderr, "pvio %s: missing NAME\n", cmd);
		return 2;
	}
	if (lookup(hv, argv[0], &domid) < 0)
		return 1;
	if (strcmp(cmd, "network-attach") == 0) {
		struct pvio_vifspec vs;
		char spec[2048] = "";
		uint32_t devid;

		/* The spec may arrive as one word or several (or none: all
		 * defaults, as `xl network-attach NAME`). */
		for (int i = 1; i < argc; i++) {
			if (strlen(spec) + strlen(argv[i]) + 2 >= sizeof(spec)) {
				fprintf(stderr, "pvio network-attach: VIFSPEC too long\n");
				return 2;
			}
			if (i > 1)
				strcat(spec, ",");
			strcat(spec, argv[i]);
		}
		if (pvio_vifspec_parse(spec, &vs, err, sizeof(err)) < 0) {
			fprintf(stderr, "pvio network-attach: bad VIFSPEC: %s\n", err);
			return 2;
		}
		r = pvio_ts_net_attach(xs, domid, &vs, &devid);
		if (r < 0) {
			char mac[18];

			pvio_mac_format(vs.mac, mac);
			if (r == -EEXIST)
				fprintf(stderr, "pvio network-attach: devid %d: already attached\n",
					vs.devid);
			else if (r == -EADDRINUSE)
				fprintf(stderr, "pvio network-attach: mac %s: already used by "
					"another vif of %s\n", mac, argv[0]);
			else
				fprintf(stderr, "pvio network-attach: %s\n", strerror(-r));
			return 1;
		}
		return 0;
	}
	if (strcmp(cmd, "network-set-rate") == 0) {
		uint64_t bytes = 0;
		uint32_t usec = 0, devid;
		char desc[96];

		if (argc != 3) {
			fprintf(stderr, "pvio network-set-rate: expected NAME DEVID|MAC RATE|none\n");
			return 2;
		}
		if (strcmp(argv[2], "none") &&
		    pvio_rate_parse(argv[2], &bytes, &usec, err, sizeof(err)) < 0) {
			fprintf(stderr, "pvio network-set-rate: %s (the vif keeps its rate)\n", err);
			return 2;
		}
		r = vif_devid(xs, domid, cmd, argv[1], &devid);
		if (r)
			return r;
		r = pvio_ts_net_set_rate(xs, domid, devid, bytes, usec);
		if (r < 0) {
			fprintf(stderr, "pvio network-set-rate: %s: %s\n", argv[1],
				r == -ENOENT ? "no such vif" : strerror(-r));
			return 1;
		}
		pvio_rate_describe(bytes, usec, desc, sizeof(desc));
		printf("vif %u: tx rate %s\n", devid, desc);
		return 0;
	}
	if (strcmp(cmd, "network-detach") == 0) {
		uint32_t devid;

		if (argc != 2) {
			fprintf(stderr, "pvio network-detach: expected NAME DEVID|MAC\n");
			return 2;
		}
		r = vif_devid(xs, domid, cmd, argv[1], &devid);
		if (r)
			return r;
		r = pvio_ts_net_detach(xs, domid, devid, 10000);
		if (r < 0) {
			fprintf(stderr, "pvio network-detach: %s: %s\n", argv[1],
				r == -ENOENT ? "no such vif" : strerror(-r));
			return 1;
		}
		return 0;
	}
	/* network-list */
	if (argc != 1) {
		fprintf(stderr, "pvio network-list: expected NAME\n");
		return 2;
	}
	struct pvio_ts_vif v[64];
	r = pvio_ts_net_list(xs, domid, v, 64);
	if (r < 0) {
		fprintf(stderr, "pvio network-list: %s\n", strerror(-r));
		return 1;
	}
	printf("%-5s %-17s %-12s %-12s %-12s %s\n", "Idx", "Mac", "Bridge", "BE-state",
	       "FE-state", "IP");
	for (int i = 0; i < r && i < 64; i++)
		printf("%-5u %-17s %-12s %-12s %-12s %s\n", v[i].devid, v[i].mac, v[i].bridge,
		       state_name(v[i].be_state), state_name(v[i].fe_state),
		       v[i].ip[0] ? v[i].ip : "-");
	return 0;
}

static int cmd_run(struct pvio_hv *hv, int argc, char **argv)
{
	const char *name = NULL;
	uint16_t domid;
	char buf[16];
	int i, fd, r;

	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--domain") == 0 && i + 1 < argc)
			name = argv[++i];
		else if (strncmp(argv[i], "--domain=", 9) == 0)
			name = argv[i] + 9;
		else if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		} else
			break;
	}
	if (!name || i >= argc) {
		fprintf(stderr, "pvio run: usage: pvio run --domain NAME -- PROGRAM [ARGS]\n");
		return 2;
	}
	if (lookup(hv, name, &domid) < 0)
		return 1;
	r = pvio_hv_domain_connect(hv, domid, &fd);
	if (r < 0) {
		fprintf(stderr, "pvio run: cannot connect domain %s: %s\n", name, strerror(-r));
		return 1;
	}
	/* The child keeps exactly this connection: clear CLOEXEC on it, drop
	 * our own dom0 connection (CLOEXEC) at exec. */
	if (fcntl(fd, F_SETFD, 0) < 0) {
		perror("pvio run: fcntl");
		return 1;
	}
	snprintf(buf, sizeof(buf), "%d", fd);
	setenv("PVIO_HV_FD", buf, 1);
	unsetenv("PVIO_SOCKET");
	execvp(argv[i], &argv[i]);
	fprintf(stderr, "pvio run: cannot execute %s: %s\n", argv[i], strerror(errno));
	return 127;
}

int main(int argc, char **argv)
{
	const char *sock = NULL;
	struct pvio_hv *hv = NULL;
	struct pvio_xs *xs = NULL;
	int i = 1, rc;

	while (i < argc && argv[i][0] == '-') {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc) {
			sock = argv[i + 1];
			i += 2;
			continue;
		}
		fprintf(stderr, "pvio: unknown option '%s'\n", argv[i]);
		usage(stderr);
		return 2;
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[i++];
	if (strcmp(cmd, "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(cmd, "top") == 0)
		return pvio_cmd_top(sock, argc - i, argv + i);
	bool block = !strcmp(cmd, "block-attach") || !strcmp(cmd, "block-detach") ||
		     !strcmp(cmd, "block-list") || !strcmp(cmd, "block-set-throttle");
	bool network = !strcmp(cmd, "network-attach") || !strcmp(cmd, "network-detach") ||
		       !strcmp(cmd, "network-list") || !strcmp(cmd, "network-set-rate");
	if (strcmp(cmd, "create") && strcmp(cmd, "destroy") && strcmp(cmd, "list") &&
	    strcmp(cmd, "run") && !block && !network) {
		fprintf(stderr, "pvio: unknown command '%s'\n", cmd);
		usage(stderr);
		return 2;
	}
	if (open_dom0(sock, &hv) < 0)
		return 1;
	if (strcmp(cmd, "list") && strcmp(cmd, "run")) {
		int fd, r = pvio_hv_xs_connect(hv, &fd);
		if (r == 0)
			r = pvio_xs_open_fd(fd, &xs);
		if (r < 0) {
			fprintf(stderr, "pvio: cannot reach the xenstore: %s\n", strerror(-r));
			pvio_hv_close(hv);
			return 1;
		}
	}
	if (strcmp(cmd, "create") == 0)
		rc = cmd_create(hv, xs, argc - i, argv + i);
	else if (strcmp(cmd, "destroy") == 0)
		rc = cmd_destroy(hv, xs, argc - i, argv + i);
	else if (block)
		rc = cmd_block(hv, xs, cmd, argc - i, argv + i);
	else if (network)
		rc = cmd_network(hv, xs, cmd, argc - i, argv + i);
	else if (strcmp(cmd, "list") == 0)
		rc = cmd_list(hv);
	else
		rc = cmd_run(hv, argc - i, argv + i);
	if (xs)
		pvio_xs_close(xs);
	pvio_hv_close(hv);
	return rc;
}
