/* SPDX-License-Identifier: MIT */
/*
 * netfront: the guest side of a Xen PV network device (netif), as a library.
 *
 * A struct pvio_netfront is one virtual NIC (device/vif/<devid> of the
 * calling domain), connected to its backend over xenstore (ring/netif.h
 * documents the keys, ring/xenbus_abi.h the handshake; like Linux netfront
 * it writes its keys when the backend is InitWait and goes straight to
 * Connected). Packets move in bursts, DPDK style: send_burst() queues up to
 * n Ethernet frames on a queue's tx ring, recv_burst() takes up to n frames
 * off its rx ring; neither blocks. Each queue has an fd that polls readable
 * when the queue may have work (received frames, tx room, a connection
 * change).
 *
 * Memory: frames are copied. On tx, into pages of guest memory dedicated to
 * the tx ring and granted read-only, which hold nothing but frames for the
 * backend (XSA-403) -- or built there in place by the caller
 * (send_fill: no copy); on rx, out of a pool of dedicated pages
 * posted to the backend (rx-copy), into the caller's buffer, after the
 * grant of the page was revoked (the backend can no longer change what we
 * read). The caller's buffers may live anywhere.
 *
 * Wire: a frame larger than a page, or given scattered, goes out as a
 * NETTXF_more_data chain of up to 18 slots (XEN_NETIF_NR_SLOTS_MIN) when
 * the backend offers feature-sg; a GSO frame carries a GSO extra-info slot;
 * checksum offload is NETTXF_csum_blank. On rx, multi-slot frames are
 * reassembled and their checksum and GSO metadata reported.
 *
 * Threads: each queue has a tx lock and an rx lock: one thread may send
 * while another receives on the same queue; different queues never
 * contend. A small control thread per device follows the backend's state.
 * close() must not race with any other call on the device.
 *
 * Backend failures: when the backend leaves Connected (or closes its event
 * channel), the rings are torn down (frames in flight are lost, as on a
 * wire) and the handshake is walked again once a backend is back; the
 * queues accept nothing meanwhile (send_burst returns 0). If none comes back
 * within opts.timeout_ms, or the device is unplugged, the device is
 * disabled. A backend that breaks the protocol -- a tx response id that is
 * not outstanding, an rx response in a slot whose request had another id,
 * data that would run past its page, more slots than a frame may have,
 * rsp_prod running past what we posted -- disables the device at once
 * (XSA-396/403 class): every call then fails with -ENODEV and nothing is
 * written outside our own buffers. Grants last as long as the connection;
 * one the backend still holds at teardown is never reused (its page is
 * leaked).
 *
 * Every function returns 0, a count, or -errno.
 */
#ifndef PVIO_NETFRONT_H
#define PVIO_NETFRONT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "ring/pvio_export.h"

struct pvio_hv;
struct pvio_netfront;

#define PVIO_NETFRONT_MAX_QUEUES  16
/* Ring slots one frame may use (data slots), as XEN_NETIF_NR_SLOTS_MIN. */
#define PVIO_NETFRONT_MAX_SLOTS   18
/* Largest frame: tx_request.size is 16 bits. */
#define PVIO_NETFRONT_MAX_FRAME   0xFFFFu
/* Smallest frame a backend accepts (an Ethernet header). */
#define PVIO_NETFRONT_MIN_FRAME   14u

struct pvio_netfront_opts {
	unsigned max_queues;        /* 0: 1; capped by the backend's
				     * multi-queue-max-queues and 16 */
	bool     no_sg;             /* don't write feature-sg=1 (no multi-slot rx)
				     * and never send multi-slot frames */
	bool     gso_tcpv4;         /* accept GSO TCPv4 frames on rx
				     * (feature-gso-tcpv4=1); default off */
	bool     gso_tcpv6;         /* likewise for TCPv6 */
	bool     no_csum_offload;   /* feature-no-csum-offload=1: the backend must
				     * deliver frames with complete checksums */
	bool     no_ipv6_csum_offload; /* don't write feature-ipv6-csum-offload=1 */
	bool     no_split_evtchn;   /* one event channel per queue even if the
				     * backend offers split ones */
	unsigned timeout_ms;        /* handshake (and reconnect) timeout, default 10000 */
};

/* Fill *o with the defaults above. */
PVIO_EXPORT void pvio_netfront_opts_default(struct pvio_netfront_opts *o);

/*
 * Open and connect the vif devid of the calling domain: finds
 * /local/domain/<self>/device/vif/<devid>, reads backend, backend-id and
 * mac, and walks the handshake (netif.h, xenbus_abi.h). opts may be NULL.
 * Returns 0 and *out, or -ENOENT (no such device), -ETIMEDOUT (the backend
 * did not answer within opts.timeout_ms), -EOPNOTSUPP (the backend offers
 * no feature-rx-copy), -EPROTO (backend or toolstack published nonsense,
 * e.g. no valid mac), -ENOMEM, -errno.
 */
PVIO_EXPORT int pvio_netfront_open(struct pvio_hv *hv, uint32_t devid,
				   const struct pvio_netfront_opts *opts,
				   struct pvio_netfront **out);

/*
 * Disconnect (Closing, wait up to opts.timeout_ms for the backend to let
 * go, Closed) and free everything. Frames in flight are dropped (call
 * pvio_netfront_tx_flush() first to let them go out). Grants the backend
 * still holds are never reused: their pages are leaked (XSA-396).
 * NULL is fine.
 */
PVIO_EXPORT void pvio_netfront_close(struct pvio_netfront *nf);

/*
 * Wait, up to timeout_ms, until the backend has taken every frame sent on
 * queue (each tx request answered). From the thread that drives the queue
 * (it arms and polls the queue as that thread would). 0; -ETIMEDOUT;
 * -ENODEV (disabled); -EINVAL. Frames in flight when the device reconnects
 * are dropped, as by a close: 0 then too.
 */
PVIO_EXPORT int pvio_netfront_tx_flush(struct pvio_netfront *nf, unsigned queue,
				       int timeout_ms);

struct pvio_netfront_info {
	uint32_t devid;
	uint16_t backend_id;
	uint8_t  mac[6];             /* the toolstack's mac (FE dir) */
	unsigned mtu;                /* FE dir "mtu", default 1500 */
	unsigned nr_queues;
	bool     connected;          /* queues are up now */
	/* what the backend accepts from us (tx) */
	bool     sg;                 /* multi-slot frames (both sides agreed) */
	bool     gso_tcpv4, gso_tcpv6;
	bool     ipv6_csum;          /* csum_blank on IPv6 frames */
	/* what we asked to receive (rx) */
	bool     rx_gso_tcpv4, rx_gso_tcpv6, rx_csum_offload;
	bool     split_evtchn;
	unsigned max_tx_slots;       /* data slots per frame: 18, or 1 without sg */
};

/* The parameters of the current (or last) connection. */
PVIO_EXPORT int pvio_netfront_get_info(struct pvio_netfront *nf,
				       struct pvio_netfront_info *info);

struct pvio_netfront_stats {
	uint64_t tx_packets, tx_bytes;   /* frames accepted by send_burst */
	uint64_t tx_slots;               /* data slots used */
	uint64_t tx_gso;                 /* frames sent with a GSO extra */
	uint64_t tx_errors;              /* tx responses ERROR/DROPPED */
	uint64_t tx_bad;                 /* frames send_fill's callback built
					  * wrong (dropped) */
	uint64_t rx_packets, rx_bytes;   /* frames returned by recv_burst */
	uint64_t rx_multislot;           /* of which spanned several slots */
	uint64_t rx_gso;                 /* of which carried GSO info */
	uint64_t rx_errors;              /* frames dropped: error status, bad extra */
	uint64_t rx_truncated;           /* frames larger than the caller's buffer */
	uint64_t notifies;               /* event channel kicks sent */
	uint64_t leaked_pages;           /* pages kept because the backend held
					  * their grant (never reused) */
	uint64_t reconnects;
	uint64_t state_unreadable;       /* the backend's state could not be read
					  * and was ignored (see blkfront.h) */
	bool     disabled;
};

/* Counters summed over the queues. */
PVIO_EXPORT int pvio_netfront_get_stats(struct pvio_netfront *nf,
					struct pvio_netfront_stats *s);

/* pvio_nf_pkt.flags */
#define PVIO_NF_CSUM_BLANK      0x1  /* the L4 checksum is partial (holds the
				      * pseudo-header sum): tx: the backend or
				      * the receiver completes it; rx: complete
				      * it (pvio_netfront_csum_fill) or pass it
				      * on as partial (virtio NEEDS_CSUM) */
#define PVIO_NF_DATA_VALIDATED  0x2  /* the checksum is known good */
#define PVIO_NF_GSO             0x4  /* gso_type / gso_size are valid */
#define PVIO_NF_TRUNCATED       0x8  /* rx: the frame was larger than cap; len
				      * is its real size, cap bytes were kept */

/*
 * One frame. For send_burst: data/len, or iov/iovcnt (scattered; empty
 * pieces are skipped), plus flags and GSO metadata; a GSO frame implies
 * CSUM_BLANK. For recv_burst: the caller sets data/cap; the library fills
 * len, flags, gso_type, gso_size and slots.
 */
struct pvio_nf_pkt {
	void     *data;
	uint32_t  len;
	uint32_t  cap;               /* rx: bytes available at data */
	const struct iovec *iov;     /* tx: used when iovcnt > 0; rx zero-copy: the pieces */
	uint32_t  iovcnt;
	uint16_t  flags;             /* PVIO_NF_* */
	uint8_t   gso_type;          /* PVIO_XEN_NETIF_GSO_TYPE_TCPV4 / _TCPV6 */
	uint16_t  gso_size;          /* MSS, > 0 */
	uint16_t  slots;             /* rx: ring slots the frame took (data + extra) */
};

/*
 * Queue up to n frames on queue (0..nr_queues-1): each is copied into
 * dedicated pages, granted read-only, and put on the tx ring (one slot per
 * page-sized piece, each scattered piece starting a new slot; if that takes
 * more slots than allowed the frame is packed); the ring is pushed and the
 * backend notified once for the burst. Completions are reclaimed here and
 * in recv_burst. Returns how many frames were taken (from the front):
 * fewer than n when the ring is full (wait for the fd, then send the rest),
 * 0 while the device is reconnecting. If the first frame is bad: -EINVAL
 * (shorter than 14 bytes, longer than 65535, bad GSO metadata),
 * -EMSGSIZE (needs more slots than allowed: larger than a page without
 * sg), -EOPNOTSUPP (GSO type the backend does not accept); -ENODEV once
 * the device is disabled. A bad frame after the first stops the burst
 * there (the next call reports it).
 */
PVIO_EXPORT int pvio_netfront_send_burst(struct pvio_netfront *nf, unsigned queue,
					 const struct pvio_nf_pkt *pkts, unsigned n);

/*
 * Zero-copy send: frames built in place, in the queue's tx pages, instead
 * of copied there. Up to n times, while the ring has room for a frame of
 * max_len bytes (14..65535; more than a page needs sg), fill(arg, pages,
 * npages, out) is called, under the queue's tx lock, with the pages of the
 * next frame: pages[0..npages-1], PVIO_PAGE_SIZE bytes each, enough for max_len
 * bytes. It writes one frame into them, in order (a frame of L bytes fills
 * the first ceil(L / PVIO_PAGE_SIZE) pages, all but the last one whole), sets
 * out->len and, as for send_burst, out->flags, gso_type and gso_size
 * (out->data/iov are ignored; out was zeroed), and returns 1; or 0 to
 * stop (nothing is sent for that call); or -errno to stop with that error.
 * The pages it did not use go back. The pages hold whatever the queue sent
 * last from them (frames of this caller or of send_burst; zeroes at
 * first), never anything else: a fill that rewrites only what changes
 * (a header) sends the rest again. The backend can read them, never write
 * them. fill must not call into this queue's tx side.
 *
 * The frame is checked as send_burst checks it; a bad one (len outside
 * 14..65535 or past the pages, GSO metadata the backend does not accept)
 * is dropped, counted (tx_bad) and stops the call. Returns the number of
 * frames sent: fewer than n when the ring is full (wait for the fd) or
 * fill stopped; 0 while the device is reconnecting (fill is not called).
 * If the first frame fails: fill's error, -EINVAL or -EOPNOTSUPP for a bad
 * frame, -ENOMEM; -EMSGSIZE if max_len needs more slots than the backend
 * takes; -ENODEV once the device is disabled; -EINVAL (bad arguments).
 */
typedef int (*pvio_nf_fill_fn)(void *arg, const struct iovec *pages, unsigned npages,
			       struct pvio_nf_pkt *out);
PVIO_EXPORT int pvio_netfront_send_fill(struct pvio_netfront *nf, unsigned queue, unsigned n,
					uint32_t max_len, pvio_nf_fill_fn fill, void *arg);

/*
 * Take up to n received frames of queue into pkts[i].data (cap bytes
 * each), reassembling multi-slot frames; reposts the rx pages. Frames the
 * backend marked as errors are dropped and counted. Returns the number of
 * frames (0: none now), or -ENODEV (disabled), -EINVAL.
 */
PVIO_EXPORT int pvio_netfront_recv_burst(struct pvio_netfront *nf, unsigned queue,
					 struct pvio_nf_pkt *pkts, unsigned n);

/*
 * Zero-copy receive: as recv_burst() / poll(), but the frames are not
 * copied. Each pkts[i] describes its frame in place: iov[0..iovcnt-1] are
 * its pieces in the queue's rx pages (data = the first piece, len the
 * whole frame, cap 0, never TRUNCATED), which the caller may read and
 * write. They stay the caller's until its next receive call of any kind on
 * this queue (which puts their pages back in the ring), or until the device
 * reconnects, is disabled or closes; their pages are out of the ring
 * meanwhile. (After a reconnection or a disable -- which may come in the
 * very call that returned them -- the pieces stay readable memory until
 * the next receive call or close, but their pages may be reused.) The
 * backend keeps access to those pages while connected (netfront grants
 * them once): a caller that must look at a frame twice copies it first.
 * pkts[i].data/cap are ignored on entry.
 */
PVIO_EXPORT int pvio_netfront_recv_burst_zc(struct pvio_netfront *nf, unsigned queue,
					    struct pvio_nf_pkt *pkts, unsigned n);
PVIO_EXPORT int pvio_netfront_poll_zc(struct pvio_netfront *nf, unsigned queue,
				      struct pvio_nf_pkt *pkts, unsigned n);

/*
 * Polling without notifications, as Linux's NAPI: a caller that will call
 * again soon uses poll() instead of recv_burst(). It does the same work
 * (frames in, tx completions reclaimed, rx pages reposted) but leaves the
 * queue's event channels masked, so the backend's kicks cost neither side
 * a system call, and makes none itself when there is nothing to do.
 * Before sleeping on pvio_netfront_fd(), call arm(): it unmasks the
 * channels and checks the rings once more; 1 means work came meanwhile
 * (poll again rather than sleep), 0 that the fd fires on new work. A
 * recv_burst() is a poll() and an arm() in one call. Returns as
 * recv_burst; arm: 0, 1 (also when the connection changed: poll reports
 * it), -EINVAL.
 */
PVIO_EXPORT int pvio_netfront_poll(struct pvio_netfront *nf, unsigned queue,
				   struct pvio_nf_pkt *pkts, unsigned n);
PVIO_EXPORT int pvio_netfront_arm(struct pvio_netfront *nf, unsigned queue);

/*
 * An fd that polls readable when queue may have work: frames received, tx
 * room freed, or a connection change. Stable across reconnections (an epoll
 * fd), so it can stay in the caller's epoll set. When it fires, call
 * recv_burst (and send_burst if frames wait for room); it stays readable
 * while a returned-full recv_burst left frames behind.
 */
PVIO_EXPORT int pvio_netfront_fd(struct pvio_netfront *nf, unsigned queue);

/*
 * Checksum helpers for frames (Ethernet, optional 802.1Q tag, IPv4 without
 * fragments or IPv6 without extension headers, TCP or UDP).
 * csum_locate: offset of the L4 header (csum_start) and of its checksum
 *   field from there (csum_offset: 16 TCP, 6 UDP); -EPROTONOSUPPORT.
 * csum_fill: compute and store the full L4 checksum (pseudo-header from
 *   the IP addresses; the field's current content is ignored); the frame
 *   then no longer needs PVIO_NF_CSUM_BLANK. 0 or -EPROTONOSUPPORT.
 */
PVIO_EXPORT int pvio_netfront_csum_locate(const void *frame, size_t len, unsigned *csum_start,
					  unsigned *csum_offset);
PVIO_EXPORT int pvio_netfront_csum_fill(void *frame, size_t len);

#endif /* PVIO_NETFRONT_H */
