/* SPDX-License-Identifier: MIT */
/*
 * pvio-xenstored: the pvio store on its own (what pviod embeds), for tests
 * and for running Xen's xenstore tools against:
 *
 *   pvio-xenstored --socket /tmp/xs.sock &
 *   XENSTORED_PATH=/tmp/xs.sock xenstore-write /a/b hello
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "xenstore/xsd.h"

static void usage(FILE *f)
{
	fprintf(f,
"Usage: pvio-xenstored [OPTIONS]\n"
"Serve a xenstore (Xen's xs_wire protocol and semantics) on a Unix socket.\n"
"Xen's xenstore-* tools and libxenstore use it with XENSTORED_PATH=<socket>.\n"
"\n"
"  -s, --socket PATH          dom0 socket (mode 0600; default\n"
"                             /var/run/xenstored/socket)\n"
"  -g, --guest-socket ID:PATH also listen on PATH, every connection being\n"
"                             domain ID (introduced at start); for tests and\n"
"                             development, e.g. to run the tools as a guest\n"
"      --quota-nodes N        nodes a domain may own (default 1000)\n"
"      --quota-watches N      watches per domain (default 128)\n"
"      --quota-watch-events N pending watch events per connection, beyond\n"
"                             which events are dropped (default 1024)\n"
"      --quota-transactions N open transactions per domain (default 10)\n"
"      --quota-node-size N    bytes of value per node (default 4096)\n"
"      --quota-path-max N     path length below /local/domain/<id>/ (2048)\n"
"      --quota-perms N        ACL entries per node (default 5)\n"
"      --quota-dom0           apply the quotas to dom0 too\n"
"      --ready-fd FD          write \"ready\\n\" to FD and close it once\n"
"                             listening\n"
"  -v, --verbose              log connections (twice: every request)\n"
"  -h, --help                 this help\n"
"\n"
"Over a quota a request fails with ENOSPC (E2BIG for watches), as with\n"
"xenstored. SIGTERM/SIGINT stop it and remove the sockets.\n");
}

static unsigned parse_uint(const char *opt, const char *s)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || !*s || *end || v == 0 || v > UINT_MAX) {
		fprintf(stderr, "pvio-xenstored: %s: bad number '%s'\n", opt, s);
		exit(2);
	}
	return (unsigned)v;
}

enum {
	O_NODES = 256, O_WATCHES, O_EVENTS, O_TXS, O_NODESIZE, O_PATHMAX, O_PERMS, O_DOM0,
	O_READY,
};

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "guest-socket", required_argument, NULL, 'g' },
		{ "quota-nodes", required_argument, NULL, O_NODES },
		{ "quota-watches", required_argument, NULL, O_WATCHES },
		{ "quota-watch-events", required_argument, NULL, O_EVENTS },
		{ "quota-transactions", required_argument, NULL, O_TXS },
		{ "quota-node-size", required_argument, NULL, O_NODESIZE },
		{ "quota-path-max", required_argument, NULL, O_PATHMAX },
		{ "quota-perms", required_argument, NULL, O_PERMS },
		{ "quota-dom0", no_argument, NULL, O_DOM0 },
		{ "ready-fd", required_argument, NULL, O_READY },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct pvio_xsd_opts opts;
	const char *sock = "/var/run/xenstored/socket";
	char *guests[16];
	unsigned nguests = 0;
	int ready_fd = -1, c, ret, sfd, status = 0;
	struct pvio_xsd *xsd;
	sigset_t ss;

	pvio_xsd_opts_default(&opts);
	while ((c = getopt_long(argc, argv, "s:g:vh", lopts, NULL)) != -1) {
		switch (c) {
		case 's': sock = optarg; break;
		case 'g':
			if (nguests == sizeof(guests) / sizeof(guests[0])) {
				fprintf(stderr, "pvio-xenstored: too many --guest-socket\n");
				return 2;
			}
			guests[nguests++] = optarg;
			break;
		case O_NODES: opts.quota_nodes = parse_uint("--quota-nodes", optarg); break;
		case O_WATCHES: opts.quota_watches = parse_uint("--quota-watches", optarg); break;
		case O_EVENTS:
			opts.quota_watch_events = parse_uint("--quota-watch-events", optarg);
			break;
		case O_TXS:
			opts.quota_transactions = parse_uint("--quota-transactions", optarg);
			break;
		case O_NODESIZE:
			opts.quota_node_size = parse_uint("--quota-node-size", optarg);
			break;
		case O_PATHMAX: opts.quota_path_len = parse_uint("--quota-path-max", optarg); break;
		case O_PERMS: opts.quota_perms = parse_uint("--quota-perms", optarg); break;
		case O_DOM0: opts.quota_dom0 = true; break;
		case O_READY: ready_fd = (int)parse_uint("--ready-fd", optarg); break;
		case 'v': opts.verbose++; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}

	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	sigaddset(&ss, SIGHUP);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &ss, SFD_CLOEXEC);
	if (sfd < 0) {
		perror("pvio-xenstored: signalfd");
		return 1;
	}

	ret = pvio_xsd_create(&opts, &xsd);
	if (ret) {
		fprintf(stderr, "pvio-xenstored: %s\n", strerror(-ret));
		return 1;
	}
	ret = pvio_xsd_listen(xsd, sock);
	if (ret) {
		fprintf(stderr, "pvio-xenstored: %s: %s\n", sock, strerror(-ret));
		pvio_xsd_destroy(xsd);
		return 1;
	}
	for (unsigned i = 0; i < nguests; i++) {
		char *colon = strchr(guests[i], ':');
		unsigned id;
		if (!colon || colon == guests[i] || !colon[1]) {
			fprintf(stderr, "pvio-xenstored: --guest-socket wants ID:PATH\n");
			pvio_xsd_destroy(xsd);
			return 2;
		}
		*colon = '\0';
		id = parse_uint("--guest-socket", guests[i]);
		if (id >= 0x7ff0) {
			fprintf(stderr, "pvio-xenstored: domid %u out of range\n", id);
			pvio_xsd_destroy(xsd);
			return 2;
		}
		ret = pvio_xsd_listen_domain(xsd, colon + 1, (uint16_t)id);
		if (!ret)
			ret = pvio_xsd_introduce(xsd, (uint16_t)id);
		if (ret) {
			fprintf(stderr, "pvio-xenstored: %s: %s\n", colon + 1, strerror(-ret));
			pvio_xsd_destroy(xsd);
			return 1;
		}
	}
	if (ready_fd >= 0) {
		if (write(ready_fd, "ready\n", 6) != 6)
			perror("pvio-xenstored: ready-fd");
		close(ready_fd);
	}

	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = pvio_xsd_fd(xsd), .events = POLLIN },
			{ .fd = sfd, .events = POLLIN },
		};
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			perror("pvio-xenstored: poll");
			status = 1;
			break;
		}
		if (pfd[1].revents) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) == sizeof(si) && opts.verbose)
				fprintf(stderr, "pvio-xenstored: signal %u, exiting\n", si.ssi_signo);
			break;
		}
		ret = pvio_xsd_dispatch(xsd, 0);
		if (ret < 0 && ret != -EINTR) {
			fprintf(stderr, "pvio-xenstored: %s\n", strerror(-ret));
			status = 1;
			break;
		}
	}
	pvio_xsd_destroy(xsd);
	close(sfd);
	return status;
}
