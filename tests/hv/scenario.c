/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tests/hv/scenario.h"

#define FAILIF(cond) do { if (cond) { fprintf(stderr, "%s %s:%d: %s\n", who, \
	__FILE__, __LINE__, #cond); fails++; } } while (0)

struct scn_msg {
	uint32_t kind;
	uint32_t ref0, ref1, port;
	uint64_t gfn0;
};

static int send_msg(struct scn_chan c, const struct scn_msg *m)
{
	return write(c.wr, m, sizeof(*m)) == (ssize_t)sizeof(*m) ? 0 : -1;
}

static int recv_msg(struct scn_chan c, struct scn_msg *m)
{
	return read(c.rd, m, sizeof(*m)) == (ssize_t)sizeof(*m) ? 0 : -1;
}

/* Wait for an event on port: poll its fd, take the event; a 10 s silence is
 * a lost wake-up. Returns 1 on event, 0 on timeout, -1 on error. */
static int wait_event(struct pvio_hv *hv, pvio_evtchn_port_t port)
{
	int fd = pvio_hv_evtchn_fd(hv, port);
	struct pollfd p = { .fd = fd, .events = POLLIN };

	for (;;) {
		int r = poll(&p, 1, 10000);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r;
		if (pvio_hv_evtchn_pending(hv, port) == 1)
			return 1;
		/* Spurious: re-arm and wait again. */
		pvio_hv_evtchn_unmask(hv, port);
	}
}

int scn_frontend(struct pvio_hv *hv, struct scn_chan c, unsigned pingpongs)
{
	const char *who = "frontend";
	struct scn_msg m = { 0 };
	uint64_t gfn;
	uint8_t *p0, *p1;
	pvio_evtchn_port_t port;
	int fails = 0, r0, r1;

	if (pvio_hv_page_alloc(hv, 2, &gfn) < 0) {
		fprintf(stderr, "frontend: page_alloc failed\n");
		return 1;
	}
	p0 = pvio_hv_gfn_ptr(hv, gfn);
	p1 = pvio_hv_gfn_ptr(hv, gfn + 1);
	FAILIF(!p0 || !p1);
	if (!p0 || !p1)
		return fails;
	FAILIF(pvio_hv_ptr_gfn(hv, p1 + 100) != (int64_t)(gfn + 1));
	memset(p0, 0xA0, 4096);
	memset(p1, 0xB1, 4096);
	r0 = pvio_hv_grant(hv, PVIO_DOMID_DOM0, gfn, false);
	r1 = pvio_hv_grant(hv, PVIO_DOMID_DOM0, gfn + 1, true);
	FAILIF(r0 < 0 || r1 < 0);
	FAILIF(pvio_hv_grant(hv, PVIO_DOMID_DOM0, 1ull << 40, false) != -EINVAL);
	FAILIF(pvio_hv_evtchn_alloc_unbound(hv, PVIO_DOMID_DOM0, &port) < 0);
	m = (struct scn_msg){ .kind = 1, .ref0 = (uint32_t)r0, .ref1 = (uint32_t)r1,
			      .port = port, .gfn0 = gfn };
	FAILIF(send_msg(c, &m) < 0);

	/* The backend mapped ref0 and wrote 0xC2 into it. */
	FAILIF(recv_msg(c, &m) < 0 || m.kind != 2);
	FAILIF(pvio_hv_revoke(hv, (uint32_t)r0) != -EBUSY);
	FAILIF(pvio_hv_revoke(hv, (uint32_t)r1) != -EBUSY);
	for (int i = 0; i < 4096; i++)
		if (p0[i] != 0xC2) {
			FAILIF(p0[i] != 0xC2);
			break;
		}
	m.kind = 3;
	FAILIF(send_msg(c, &m) < 0);

	/* The backend unmapped and did its copies: revocation now works. */
	FAILIF(recv_msg(c, &m) < 0 || m.kind != 4);
	FAILIF(memcmp(p0, "copied-in", 9) != 0);
	FAILIF(pvio_hv_revoke(hv, (uint32_t)r0) != 0);
	FAILIF(pvio_hv_revoke(hv, (uint32_t)r1) != 0);
	FAILIF(pvio_hv_revoke(hv, (uint32_t)r1) != -EINVAL);

	/* Ping-pong: we notify, the backend answers each one. */
	for (unsigned i = 0; i < pingpongs; i++) {
		FAILIF(pvio_hv_evtchn_notify(hv, port) < 0);
		if (wait_event(hv, port) != 1) {
			fprintf(stderr, "frontend: lost wake-up at ping %u\n", i);
			return fails + 1;
		}
		pvio_hv_evtchn_unmask(hv, port);
	}
	FAILIF(pvio_hv_evtchn_peer_closed(hv, port) != 0);
	/* Close: the backend must see it. */
	FAILIF(pvio_hv_evtchn_close(hv, port) != 0);
	FAILIF(pvio_hv_evtchn_notify(hv, port) != -EINVAL);
	FAILIF(recv_msg(c, &m) < 0 || m.kind != 5);
	pvio_hv_page_free(hv, gfn, 2);
	return fails;
}

int scn_backend(struct pvio_hv *hv, uint16_t guest, struct scn_chan c, unsigned pingpongs)
{
	const char *who = "backend";
	struct scn_msg m;
	struct pvio_gnt_map_op ops[4];
	struct pvio_gnt_copy_op cp[3];
	char local[64];
	pvio_evtchn_port_t lport, dummy;
	int fails = 0;

	if (recv_msg(c, &m) < 0 || m.kind != 1) {
		fprintf(stderr, "backend: no setup message\n");
		return 1;
	}
	memset(ops, 0, sizeof(ops));
	ops[0].ref = m.ref0;                                  /* rw: ok */
	ops[1].ref = m.ref1;                                  /* ro grant, rw map: denied */
	ops[2].ref = m.ref1; ops[2].flags = PVIO_GNTMAP_readonly;   /* ok */
	ops[3].ref = 1u << 30;                                /* past the table */
	FAILIF(pvio_hv_map(hv, guest, ops, 4) != 2);
	FAILIF(ops[0].status != PVIO_GNTST_okay || !ops[0].addr);
	FAILIF(ops[1].status != PVIO_GNTST_permission_denied || ops[1].addr);
	FAILIF(ops[2].status != PVIO_GNTST_okay || !ops[2].addr);
	FAILIF(ops[3].status != PVIO_GNTST_bad_gntref);
	if (ops[0].addr && ops[2].addr) {
		FAILIF(((uint8_t *)ops[0].addr)[17] != 0xA0);
		FAILIF(((uint8_t *)ops[2].addr)[4095] != 0xB1);
		FAILIF(ops[0].frame != m.gfn0);
		memset(ops[0].addr, 0xC2, 4096);
	}
	/* Binding: not offered to a third party, only once, only ours. */
	FAILIF(pvio_hv_evtchn_bind(hv, guest, m.port + 1000, &dummy) != -EINVAL);
	FAILIF(pvio_hv_evtchn_bind(hv, guest, m.port, &lport) != 0);
	FAILIF(pvio_hv_evtchn_bind(hv, guest, m.port, &dummy) != -EINVAL);
	m.kind = 2;
	FAILIF(send_msg(c, &m) < 0);
	FAILIF(recv_msg(c, &m) < 0 || m.kind != 3);

	ops[1] = ops[2];
	FAILIF(pvio_hv_unmap(hv, guest, ops, 2) != 2);
	FAILIF(pvio_hv_unmap(hv, guest, ops, 1) != 0);      /* double unmap */
	FAILIF(ops[0].status == PVIO_GNTST_okay);

	/* Copies: into ref0, out of ref1, and into read-only ref1 (refused). */
	memset(cp, 0, sizeof(cp));
	memset(local, 0, sizeof(local));
	strcpy(local, "copied-in");
	cp[0].source.virt = local;
	cp[0].dest.foreign.ref = m.ref0;
	cp[0].dest.foreign.domid = guest;
	cp[0].len = 10;
	cp[0].flags = PVIO_GNTCOPY_dest_gref;
	static char out[32];
	cp[1].source.foreign.ref = m.ref1;
	cp[1].source.foreign.domid = guest;
	cp[1].source.foreign.offset = 4000;
	cp[1].dest.virt = out;
	cp[1].len = 32;
	cp[1].flags = PVIO_GNTCOPY_source_gref;
	cp[2] = cp[0];
	cp[2].dest.foreign.ref = m.ref1;
	FAILIF(pvio_hv_copy(hv, cp, 3) != 2);
	FAILIF(cp[0].status != PVIO_GNTST_okay);
	FAILIF(cp[1].status != PVIO_GNTST_okay || (uint8_t)out[31] != 0xB1);
	FAILIF(cp[2].status != PVIO_GNTST_permission_denied);
	m.kind = 4;
	FAILIF(send_msg(c, &m) < 0);

	for (unsigned i = 0; i < pingpongs; i++) {
		if (wait_event(hv, lport) != 1) {
			fprintf(stderr, "backend: lost wake-up at pong %u\n", i);
			return fails + 1;
		}
		pvio_hv_evtchn_unmask(hv, lport);
		FAILIF(pvio_hv_evtchn_notify(hv, lport) < 0);
	}
	/* The frontend closes its end: we are woken and see it. */
	FAILIF(wait_event(hv, lport) != 1);
	FAILIF(pvio_hv_evtchn_peer_closed(hv, lport) != 1);
	FAILIF(pvio_hv_evtchn_close(hv, lport) != 0);
	pvio_hv_foreign_release(hv, guest);
	m.kind = 5;
	FAILIF(send_msg(c, &m) < 0);
	return fails;
}
