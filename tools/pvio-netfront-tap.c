/* SPDX-License-Identifier: MIT */
/*
 * pvio-netfront-tap: join a guest's vif (a netfront) to a Linux TAP
 * interface, so that the kernel stack (of a network namespace) sends and
 * receives through the PV path -- ping, iperf3, anything.
 *
 *   pvio run --domain NAME -- pvio-netfront-tap --vif 0 --tap pv0 [--netns NS]
 *
 * It opens the vif (netfront), optionally enters /var/run/netns/NS, creates
 * the TAP there (IFF_TAP | IFF_NO_PI, with IFF_VNET_HDR unless
 * --no-vnet-hdr: then checksum offload and TSO travel both ways as netif
 * csum_blank / GSO extra info), gives it the vif's mac and mtu, brings it
 * up, and forwards frames both ways from one epoll loop:
 *
 *   TAP -> read (virtio_net_hdr + frame) -> send_burst on a queue chosen by
 *          flow hash; when the ring is full, stop reading the TAP until the
 *          queue's fd says there is room (backpressure, nothing dropped).
 *          With one queue and sg, the frame is read straight into the
 *          queue's tx pages (pvio_netfront_send_fill: readv, no copy of
 *          ours); --copy reads into a buffer and copies, as with several
 *          queues.
 *   vif -> recv_burst on every queue -> write to the TAP (csum_blank frames
 *          become NEEDS_CSUM, or get their checksum filled without vnet hdr)
 *
 * SIGTERM/SIGINT stop it cleanly: the vif is closed (Closing/Closed, grants
 * revoked) and the TAP goes away with its fd. Exit status: 0 after a
 * signal, 1 on errors (including the vif being unplugged), 2 bad usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "frontend/netfront.h"
#include "hv/hv.h"
#include "ring/netif.h"

#define BATCH   32
#define FRAMESZ 65536
#define VHDR    ((int)sizeof(struct virtio_net_hdr))

struct opts {
	long     vif;
	const char *tap, *netns;
	unsigned queues;
	bool     vnet, offload, verbose, copy;
	int      ready_fd;
};

struct txq {                       /* frames read from the TAP, not yet sent */
	uint8_t *buf[BATCH];           /* VHDR + frame */
	struct pvio_nf_pkt pk[BATCH];
	unsigned qi[BATCH];            /* queue of each frame */
	unsigned head, n;
};

struct st {
	uint64_t tap_in, tap_out, tx_dropped, rx_dropped;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pvio-netfront-tap --vif DEVID --tap NAME [options]\n"
		"  (run as a guest: pvio run --domain NAME -- pvio-netfront-tap ...)\n"
		"  --vif DEVID      the vif to use (device/vif/DEVID)\n"
		"  --tap NAME       the TAP interface to create\n"
		"  --netns NS       create it in /var/run/netns/NS (ip netns add NS)\n"
		"  --queues N       netfront queues to ask for (default 1)\n"
		"  --no-vnet-hdr    plain frames: no checksum offload, no TSO\n"
		"  --no-offload     vnet header, but no checksum offload or TSO\n"
		"  --ready-fd N     write \"ready\\n\" to fd N once the TAP is up\n"
		"  --copy           read TAP frames into a buffer and copy them to the vif\n"
		"                   (default with one queue: read them into its tx pages)\n"
		"  --verbose        log counters at exit\n"
		"  --help\n");
}

static int parse(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "vif", required_argument, NULL, 'v' },
		{ "tap", required_argument, NULL, 't' },
		{ "netns", required_argument, NULL, 'n' },
		{ "queues", required_argument, NULL, 'q' },
		{ "no-vnet-hdr", no_argument, NULL, 'H' },
		{ "no-offload", no_argument, NULL, 'O' },
		{ "ready-fd", required_argument, NULL, 'r' },
		{ "copy", no_argument, NULL, 'C' },
		{ "verbose", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	int c;

	memset(o, 0, sizeof(*o));
	o->vif = -1;
	o->queues = 1;
	o->vnet = o->offload = true;
	o->ready_fd = -1;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'v':
			o->vif = strtol(optarg, &end, 10);
			if (*end || o->vif < 0 || o->vif > 65535) {
				fprintf(stderr, "pvio-netfront-tap: --vif: not a devid: %s\n", optarg);
				return -1;
			}
			break;
		case 't':
			if (!*optarg || strlen(optarg) >= IFNAMSIZ) {
				fprintf(stderr, "pvio-netfront-tap: --tap: 1..%d characters\n",
					IFNAMSIZ - 1);
				return -1;
			}
			o->tap = optarg;
			break;
		case 'n':
			if (!*optarg || strchr(optarg, '/')) {
				fprintf(stderr, "pvio-netfront-tap: --netns: a name, not a path\n");
				return -1;
			}
			o->netns = optarg;
			break;
		case 'q':
			o->queues = (unsigned)strtoul(optarg, &end, 10);
			if (*end || o->queues < 1 || o->queues > PVIO_NETFRONT_MAX_QUEUES) {
				fprintf(stderr, "pvio-netfront-tap: --queues: 1..%d\n",
					PVIO_NETFRONT_MAX_QUEUES);
				return -1;
			}
			break;
		case 'H':
			o->vnet = false;
			o->offload = false;
			break;
		case 'O':
			o->offload = false;
			break;
		case 'r':
			o->ready_fd = (int)strtol(optarg, &end, 10);
			if (*end || o->ready_fd < 0) {
				fprintf(stderr, "pvio-netfront-tap: --ready-fd: not an fd\n");
				return -1;
			}
			break;
		case 'C':
			o->copy = true;
			break;
		case 'V':
			o->verbose = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return -1;
		}
	}
	if (optind < argc || o->vif < 0 || !o->tap) {
		if (optind < argc)
			fprintf(stderr, "pvio-netfront-tap: unexpected argument '%s'\n", argv[optind]);
		else
			fprintf(stderr, "pvio-netfront-tap: --vif and --tap are required\n");
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ the TAP */

static int enter_netns(const char *ns)
{
	char path[300];
	int fd;

	snprintf(path, sizeof(path), "/var/run/netns/%s", ns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "pvio-netfront-tap: %s: %s (create it with: ip netns add %s)\n",
			path, strerror(errno), ns);
		return -1;
	}
	if (setns(fd, CLONE_NEWNET) < 0) {
		fprintf(stderr, "pvio-netfront-tap: setns %s: %s\n", path, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int tap_open(const struct opts *o, const struct pvio_netfront_info *info)
{
	struct ifreq ifr;
	int fd, s = -1;
	unsigned off = 0;

	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "pvio-netfront-tap: /dev/net/tun: %s\n", strerror(errno));
		return -1;
	}
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (o->vnet ? IFF_VNET_HDR : 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", o->tap);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		fprintf(stderr, "pvio-netfront-tap: TUNSETIFF %s: %s\n", o->tap, strerror(errno));
		goto err;
	}
	if (o->vnet) {
		int sz = VHDR;

		if (ioctl(fd, TUNSETVNETHDRSZ, &sz) < 0) {
			fprintf(stderr, "pvio-netfront-tap: TUNSETVNETHDRSZ: %s\n", strerror(errno));
			goto err;
		}
		/* What the kernel may hand us: partial checksums (the library
		 * completes IPv6 ones itself if the backend cannot), and TSO
		 * where the backend takes GSO frames. */
		if (o->offload) {
			off = TUN_F_CSUM;
			if (info->gso_tcpv4)
				off |= TUN_F_TSO4;
			if (info->gso_tcpv6)
				off |= TUN_F_TSO6;
		}
		if (ioctl(fd, TUNSETOFFLOAD, off) < 0) {
			fprintf(stderr, "pvio-netfront-tap: TUNSETOFFLOAD: %s\n", strerror(errno));
			goto err;
		}
	}
	/* The vif's mac and mtu, then up. */
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0) {
		fprintf(stderr, "pvio-netfront-tap: socket: %s\n", strerror(errno));
		goto err;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", o->tap);
	ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
	memcpy(ifr.ifr_hwaddr.sa_data, info->mac, 6);
	if (ioctl(s, SIOCSIFHWADDR, &ifr) < 0) {
		fprintf(stderr, "pvio-netfront-tap: %s: set mac: %s\n", o->tap, strerror(errno));
		goto err;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", o->tap);
	ifr.ifr_mtu = (int)info->mtu;
	if (ioctl(s, SIOCSIFMTU, &ifr) < 0)
		fprintf(stderr, "pvio-netfront-tap: %s: mtu %u: %s (kept the default)\n", o->tap,
			info->mtu, strerror(errno));
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", o->tap);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
		fprintf(stderr, "pvio-netfront-tap: %s: get flags: %s\n", o->tap, strerror(errno));
		goto err;
	}
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) {
		fprintf(stderr, "pvio-netfront-tap: %s: up: %s\n", o->tap, strerror(errno));
		goto err;
	}
	close(s);
	return fd;
err:
	if (s >= 0)
		close(s);
	close(fd);
	return -1;
}

/* ------------------------------------------------------------ frames */

/* Flow hash: keeps a flow's frames on one queue (in order). */
static unsigned pick_queue(const uint8_t *f, uint32_t len, unsigned nq)
{
	uint32_t h = 2166136261u;
	unsigned from = 14 + 12, to = 14 + 40;   /* IPv4 addresses + ports, most of IPv6's */

	if (nq == 1)
		return 0;
	if (to > len)
		to = len;
	for (unsigned i = from; i < to; i++)
		h = (h ^ f[i]) * 16777619u;
	return h % nq;
}

/* virtio_net_hdr (from the kernel) -> netif metadata. false: drop it. */
static bool hdr_to_pkt(const struct virtio_net_hdr *h, struct pvio_nf_pkt *p)
{
	p->flags = 0;
	if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
		p->flags |= PVIO_NF_CSUM_BLANK;
	else if (h->flags & VIRTIO_NET_HDR_F_DATA_VALID)
		p->flags |= PVIO_NF_DATA_VALIDATED;
	switch (h->gso_type & ~VIRTIO_NET_HDR_GSO_ECN) {
	case VIRTIO_NET_HDR_GSO_NONE:
		return true;
	case VIRTIO_NET_HDR_GSO_TCPV4:
		p->gso_type = PVIO_XEN_NETIF_GSO_TYPE_TCPV4;
		break;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		p->gso_type = PVIO_XEN_NETIF_GSO_TYPE_TCPV6;
		break;
	default:
		return false;   /* UFO etc.: never enabled */
	}
	if (!h->gso_size)
		return false;
	p->flags |= PVIO_NF_GSO;
	p->gso_size = h->gso_size;
	return true;
}

/* netif metadata -> virtio_net_hdr (to the kernel). false: drop it. */
static bool pkt_to_hdr(const struct pvio_nf_pkt *p, uint8_t *frame, struct virtio_net_hdr *h)
{
	unsigned start, off;

	memset(h, 0, sizeof(*h));
	if (p->flags & PVIO_NF_CSUM_BLANK) {
		if (pvio_netfront_csum_locate(frame, p->len, &start, &off) < 0)
			return !(p->flags & PVIO_NF_GSO);   /* not TCP/UDP over IP: as is */
		h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		h->csum_start = (uint16_t)start;
		h->csum_offset = (uint16_t)off;
		if (p->flags & PVIO_NF_GSO) {
			unsigned thl = start + 12 < p->len ? (frame[start + 12] >> 4) * 4u : 0;

			if (off != 16 || thl < 20 || start + thl > p->len)
				return false;
			h->gso_type = p->gso_type == PVIO_XEN_NETIF_GSO_TYPE_TCPV6
				? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
			h->gso_size = p->gso_size;
			h->hdr_len = (uint16_t)(start + thl);
		}
	} else if (p->flags & PVIO_NF_GSO) {
		return false;   /* GSO without a partial checksum: not valid */
	} else if (p->flags & PVIO_NF_DATA_VALIDATED) {
		h->flags = VIRTIO_NET_HDR_F_DATA_VALID;
	}
	return true;
}

/* ------------------------------------------------------------ loop */

/* Send what waits; true if everything went. -ENODEV in *err if the vif died. */
static bool flush_tx(struct pvio_netfront *nf, struct txq *t, struct st *st, int *err)
{
	while (t->n) {
		unsigned qi = t->qi[t->head], k = 0;
		int r;

		/* the longest run of frames for the same queue */
		while (k < t->n && t->qi[t->head + k] == qi)
			k++;
		r = pvio_netfront_send_burst(nf, qi, &t->pk[t->head], k);
		if (r == -ENODEV) {
			*err = r;
			return false;
		}
		if (r < 0) {
			/* this frame is unusable (too big for the backend,
			 * bad GSO): drop it, keep going */
			st->tx_dropped++;
			t->head++;
			t->n--;
			continue;
		}
		if (r == 0)
			return false;   /* ring full: wait for the queue's fd */
		st->tap_in += (unsigned)r;
		t->head += (unsigned)r;
		t->n -= (unsigned)r;
	}
	t->head = 0;
	return true;
}

/* Read up to BATCH frames from the TAP into t. */
static int read_tap(int tap, const struct opts *o, struct txq *t, unsigned nq, struct st *st)
{
	unsigned n = 0;

	while (n < BATCH) {
		uint8_t *b = t->buf[n];
		ssize_t r = read(tap, b, o->vnet ? VHDR + FRAMESZ - 1 : FRAMESZ - 1);
		struct pvio_nf_pkt *p = &t->pk[n];
		unsigned h = o->vnet ? VHDR : 0;

		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			return -errno;
		}
		if (r <= (ssize_t)h)
			continue;
		memset(p, 0, sizeof(*p));
		p->data = b + h;
		p->len = (uint32_t)(r - h);
		if (o->vnet && !hdr_to_pkt((const struct virtio_net_hdr *)b, p)) {
			st->tx_dropped++;
			continue;
		}
		t->qi[n] = pick_queue(p->data, p->len, nq);
		n++;
	}
	t->head = 0;
	t->n = n;
	return (int)n;
}

/* TAP -> vif without a copy of ours: each frame is read straight into the
 * tx pages of queue 0 (its virtio_net_hdr into hdr). */
struct tap_fill {
	int tap;
	const struct opts *o;
	struct st *st;
	bool empty;                  /* the TAP had nothing more */
	int err;                     /* a read failed: -errno */
};

static int tap_fill(void *arg, const struct iovec *pages, unsigned npages, struct pvio_nf_pkt *out)
{
	struct tap_fill *f = arg;
	struct iovec iov[1 + 17];
	struct virtio_net_hdr h;
	unsigned hl = f->o->vnet ? VHDR : 0, n = 0;

	if (npages > 17)
		npages = 17;
	if (hl)
		iov[n++] = (struct iovec){ .iov_base = &h, .iov_len = VHDR };
	for (unsigned j = 0; j < npages; j++)
		iov[n++] = pages[j];
	for (;;) {
		ssize_t r = readv(f->tap, iov, (int)n);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				f->empty = true;
				return 0;
			}
			f->err = -errno;
			return f->err;
		}
		if (r <= (ssize_t)hl)
			continue;
		out->len = (uint32_t)(r - hl);
		if (hl && !hdr_to_pkt(&h, out)) {
			f->st->tx_dropped++;
			memset(out, 0, sizeof(*out));
			continue;
		}
		return 1;
	}
}

/* Move TAP frames to queue 0 until the TAP is empty or the ring is full
 * (true: empty). -errno in *err on a read error or if the vif died. */
static bool fill_tx(struct pvio_netfront *nf, int tap, const struct opts *o, struct st *st,
		    int *err)
{
	for (;;) {
		struct tap_fill f = { .tap = tap, .o = o, .st = st };
		int r = pvio_netfront_send_fill(nf, 0, BATCH, PVIO_NETFRONT_MAX_FRAME, tap_fill, &f);

		if (f.err) {
			fprintf(stderr, "pvio-netfront-tap: read %s: %s\n", o->tap, strerror(-f.err));
			*err = f.err;
			return false;
		}
		if (r == -ENODEV || r == -EMSGSIZE) {
			*err = r;   /* dead; or no sg now (EMSGSIZE: copy instead) */
			return false;
		}
		if (r < 0) {
			/* the frame is unusable (too big, bad GSO): dropped,
			 * keep going */
			st->tx_dropped++;
			continue;
		}
		st->tap_in += (unsigned)r;
		if (f.empty)
			return true;
		if (r < BATCH)
			return false;   /* ring full: wait for the queue's fd */
	}
}

/* Drain every queue's rx into the TAP. -ENODEV if the vif died. */
static int drain_rx(struct pvio_netfront *nf, unsigned nq, int tap, const struct opts *o,
		    uint8_t **rxb, struct st *st)
{
	struct pvio_nf_pkt pk[BATCH];
	struct iovec flat[BATCH];

	for (unsigned q = 0; q < nq; q++) {
		int r;

		do {
			/* Zero-copy: frames are written to the TAP from the rx
			 * pages (the kernel copies them into its skb). */
			memset(pk, 0, sizeof(pk));
			r = pvio_netfront_recv_burst_zc(nf, q, pk, BATCH);
			if (r < 0)
				return r;
			for (int i = 0; i < r; i++) {
				struct virtio_net_hdr h;
				struct iovec iov[1 + 2 * PVIO_XEN_NETIF_NR_SLOTS_MIN];
				const struct iovec *pv = pk[i].iov;
				unsigned pn = pk[i].iovcnt;
				uint8_t *f = pk[i].data;
				bool fill = pk[i].flags & PVIO_NF_CSUM_BLANK &&
					    (!o->vnet || !o->offload);
				unsigned hdr_need = pk[i].len < 256 ? pk[i].len : 256;

				if (pk[i].len > FRAMESZ) {
					/* what the old copy truncated: no TAP takes it */
					st->rx_dropped++;
					continue;
				}

				/* Gather into our buffer when the headers are not all
				 * in the first piece, or a checksum must be written
				 * over the whole frame. */
				if (pn > 1 && (pv[0].iov_len < hdr_need || fill ||
					       pn > 2 * PVIO_XEN_NETIF_NR_SLOTS_MIN)) {
					uint32_t off = 0;

					for (unsigned k = 0; k < pn; k++) {
						memcpy(rxb[i] + VHDR + off, pv[k].iov_base,
						       pv[k].iov_len);
						off += (uint32_t)pv[k].iov_len;
					}
					f = rxb[i] + VHDR;
					flat[i] = (struct iovec){ f, pk[i].len };
					pv = &flat[i];
					pn = 1;
				}
				if (o->vnet) {
					if (fill)
						pvio_netfront_csum_fill(f, pk[i].len);
					if (!pkt_to_hdr(&pk[i], f, &h)) {
						st->rx_dropped++;
						continue;
					}
					iov[0] = (struct iovec){ &h, VHDR };
				} else {
					if (pk[i].flags & PVIO_NF_GSO) {
						st->rx_dropped++;
						continue;
					}
					if (fill)
						pvio_netfront_csum_fill(f, pk[i].len);
				}
				memcpy(&iov[o->vnet ? 1 : 0], pv, pn * sizeof(*pv));
				if (writev(tap, iov, (int)pn + (o->vnet ? 1 : 0)) < 0)
					st->rx_dropped++;
				else
					st->tap_out++;
			}
		} while (r == BATCH);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct pvio_netfront_opts no;
	struct pvio_netfront_info info;
	struct pvio_netfront *nf = NULL;
	struct pvio_hv *hv = NULL;
	struct opts o;
	struct txq t;
	struct st st;
	uint8_t *rxb[BATCH];
	sigset_t sigs;
	int tap = -1, ep = -1, sfd = -1, rc = 1, r, err = 0;
	bool tap_on = true, zc;

	if (parse(argc, argv, &o) < 0) {
		usage(stderr);
		return 2;
	}
	memset(&t, 0, sizeof(t));
	memset(&st, 0, sizeof(st));
	for (unsigned i = 0; i < BATCH; i++) {
		t.buf[i] = malloc(VHDR + FRAMESZ);
		rxb[i] = malloc(VHDR + FRAMESZ);
		if (!t.buf[i] || !rxb[i]) {
			fprintf(stderr, "pvio-netfront-tap: out of memory\n");
			return 1;
		}
	}
	/* Signals through the loop: stop cleanly. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		perror("pvio-netfront-tap: signalfd");
		goto out;
	}

	r = pvio_hv_open_env(&hv);
	if (r < 0) {
		fprintf(stderr, "pvio-netfront-tap: not running as a guest (%s); use "
			"pvio run --domain NAME -- %s ...\n", strerror(-r), argv[0]);
		goto out;
	}
	pvio_netfront_opts_default(&no);
	no.max_queues = o.queues;
	no.gso_tcpv4 = no.gso_tcpv6 = o.vnet && o.offload;
	no.no_csum_offload = !(o.vnet && o.offload);
	r = pvio_netfront_open(hv, (uint32_t)o.vif, &no, &nf);
	if (r < 0) {
		fprintf(stderr, "pvio-netfront-tap: vif %ld: %s\n", o.vif, strerror(-r));
		goto out;
	}
	pvio_netfront_get_info(nf, &info);
	if (o.netns && enter_netns(o.netns) < 0)
		goto out;
	/* TAP frames straight into the tx pages: one queue (no flow to pick
	 * before the read), multi-slot frames (a 64 KiB GSO frame spans pages). */
	zc = !o.copy && info.nr_queues == 1 && info.sg;
	tap = tap_open(&o, &info);
	if (tap < 0)
		goto out;

	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0) {
		perror("pvio-netfront-tap: epoll");
		goto out;
	}
	{
		struct epoll_event ev = { .events = EPOLLIN };

		ev.data.u32 = 1000;
		r = epoll_ctl(ep, EPOLL_CTL_ADD, tap, &ev);
		ev.data.u32 = 1001;
		if (r == 0)
			r = epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev);
		for (unsigned q = 0; r == 0 && q < info.nr_queues; q++) {
			ev.data.u32 = q;
			r = epoll_ctl(ep, EPOLL_CTL_ADD, pvio_netfront_fd(nf, q), &ev);
		}
		if (r < 0) {
			perror("pvio-netfront-tap: epoll_ctl");
			goto out;
		}
	}
	if (o.verbose)
		fprintf(stderr, "pvio-netfront-tap: vif %ld (%02x:%02x:%02x:%02x:%02x:%02x, %u "
			"queue(s), sg %d, tso %d/%d) <-> %s%s%s\n", o.vif, info.mac[0], info.mac[1],
			info.mac[2], info.mac[3], info.mac[4], info.mac[5], info.nr_queues, info.sg,
			info.gso_tcpv4, info.gso_tcpv6, o.tap, o.netns ? " in netns " : "",
			o.netns ? o.netns : "");
	if (o.ready_fd >= 0) {
		if (write(o.ready_fd, "ready\n", 6) < 0) {
			/* the waiter went away: nothing to tell */
		}
		close(o.ready_fd);
	}

	for (;;) {
		struct epoll_event evs[20];
		bool stop = false;
		int n = epoll_wait(ep, evs, 20, -1);

		if (n < 0 && errno != EINTR) {
			perror("pvio-netfront-tap: epoll_wait");
			goto out;
		}
		for (int i = 0; i < n; i++)
			if (evs[i].data.u32 == 1001)
				stop = true;
		if (stop)
			break;
		/* vif -> TAP (also takes the events and reclaims tx slots) */
		r = drain_rx(nf, info.nr_queues, tap, &o, rxb, &st);
		if (r < 0) {
			err = r;
			break;
		}
		/* TAP -> vif, with backpressure */
		if (zc) {
			bool empty = fill_tx(nf, tap, &o, &st, &err);

			if (err == -EMSGSIZE) {
				/* the backend came back without sg: copy */
				zc = false;
				err = 0;
			} else if (err) {
				break;
			} else {
				/* Read the TAP while the ring has room; when
				 * it had none, the queue's fd says when. */
				if (empty != tap_on) {
					struct epoll_event ev = { .events = empty ? EPOLLIN : 0,
								  .data.u32 = 1000 };

					epoll_ctl(ep, EPOLL_CTL_MOD, tap, &ev);
					tap_on = empty;
				}
				continue;
			}
		}
		for (;;) {
			if (t.n && !flush_tx(nf, &t, &st, &err))
				break;
			if (!tap_on)
				break;
			r = read_tap(tap, &o, &t, info.nr_queues, &st);
			if (r < 0) {
				fprintf(stderr, "pvio-netfront-tap: read %s: %s\n", o.tap, strerror(-r));
				err = r;
				break;
			}
			if (r == 0)
				break;
		}
		if (err)
			break;
		{
			/* Read the TAP only when the previous frames went out. */
			bool want = t.n == 0;

			if (want != tap_on) {
				struct epoll_event ev = { .events = want ? EPOLLIN : 0,
							  .data.u32 = 1000 };

				epoll_ctl(ep, EPOLL_CTL_MOD, tap, &ev);
				tap_on = want;
				if (want)
					continue;
			}
		}
	}
	if (err == -ENODEV)
		fprintf(stderr, "pvio-netfront-tap: vif %ld is gone (unplugged or disabled)\n",
			o.vif);
	else if (!err)
		rc = 0;
out:
	if (o.verbose)
		fprintf(stderr, "pvio-netfront-tap: %llu frames tap->vif, %llu vif->tap, dropped "
			"%llu tx / %llu rx\n", (unsigned long long)st.tap_in,
			(unsigned long long)st.tap_out, (unsigned long long)st.tx_dropped,
			(unsigned long long)st.rx_dropped);
	pvio_netfront_close(nf);
	if (tap >= 0)
		close(tap);
	if (ep >= 0)
		close(ep);
	if (sfd >= 0)
		close(sfd);
	if (hv)
		pvio_hv_close(hv);
	for (unsigned i = 0; i < BATCH; i++) {
		free(t.buf[i]);
		free(rxb[i]);
	}
	return rc;
}
