/* SPDX-License-Identifier: MIT */
/*
 * The broker protocol between pviod and a domain's process (socket
 * implementation): one request, one reply, over a SOCK_SEQPACKET Unix socket;
 * resources travel as fds in SCM_RIGHTS. Every request is checked against
 * the domain the connection is bound to (fixed when pviod created it), never
 * against anything the client claims.
 */
#ifndef PVIO_HV_PROTO_H
#define PVIO_HV_PROTO_H

#include <stdint.h>

#define PVIO_HVMSG_MAX_FDS 3

enum pvio_hvmsg_op {
	PVIO_HVMSG_HELLO = 1,          /* -> domid; fds: own mem, own gnttab */
	PVIO_HVMSG_DOMAIN_CREATE,      /* name, a0=mem -> v0=domid */
	PVIO_HVMSG_DOMAIN_DESTROY,     /* a0=domid */
	PVIO_HVMSG_DOMAIN_LOOKUP,      /* name -> info */
	PVIO_HVMSG_DOMAIN_AT,          /* a0=idx -> info */
	PVIO_HVMSG_DOMAIN_CONNECT,     /* a0=domid -> fd: a connection bound to it */
	PVIO_HVMSG_FOREIGN,            /* a0=domid -> fds: mem, gnttab */
	PVIO_HVMSG_EVTCHN_ALLOC,       /* a0=remote -> port; fds: shm, self, peer */
	PVIO_HVMSG_EVTCHN_BIND,        /* a0=remote a1=rport -> port; fds */
	PVIO_HVMSG_EVTCHN_CLOSE,       /* a0=port */
	PVIO_HVMSG_XS_CONNECT,         /* -> fd: a store connection as this domain */
	PVIO_HVMSG_PINS,               /* a0=granter a1=nr_entries; fd: our pin table for
					* its grants (no fd: forget it). pviod releases
					* the pins if we die (gntdev's release on exit) */
	PVIO_HVMSG_OP_MAX,
};

struct pvio_hvmsg_req {
	uint32_t op;
	uint32_t seq;
	uint64_t a[3];
	char     name[64];
};

struct pvio_hvmsg_rsp {
	int32_t  ret;                  /* 0 or -errno */
	uint32_t seq;
	uint64_t v[4];                 /* op-specific results */
	char     name[64];
};

/* Send a message with up to PVIO_HVMSG_MAX_FDS fds. Returns 0 or -errno. */
int pvio__hvmsg_send(int sock, const void *msg, size_t len, const int *fds, unsigned nfds);
/* Receive one message of exactly len bytes (shorter/longer: -EPROTO); fds
 * received are stored in fds[] (-1 for none), *nfds set. Any fd beyond
 * max_fds is closed. Returns 0, -ECONNRESET at EOF, or -errno. */
int pvio__hvmsg_recv(int sock, void *msg, size_t len, int *fds, unsigned max_fds,
		     unsigned *nfds);

#endif
